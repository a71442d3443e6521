/*
 * listener: unix and TCP listeners (see listener.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "counters.h"
#include "ident.h"
#include "jobd.h"
#include "listener.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define BACKLOG 512
#define MAX_LISTENERS 8
/* Where passed sockets start (the service manager's protocol). */
#define SD_LISTEN_FDS_START 3

static struct {
	struct evconnlistener *lev;
	char *unix_path; /* removed on close */
} listeners[MAX_LISTENERS];
static int nlisteners;

/*
 * May this unix peer talk to jobd?  root and jobd's own user may; so may
 * the users of --allow-users and the members of --allow-groups (and of
 * --socket-group), by their primary or supplementary groups
 * (SO_PEERGROUPS).
 */
static bool
peer_allowed(int fd, const struct ucred *uc)
{
	size_t i;

	if (uc->uid == 0 || uc->uid == geteuid())
		return true;
	for (i = 0; i < jobd.cfg.nallow_uids; i++) {
		if (jobd.cfg.allow_uids[i] == uc->uid)
			return true;
	}
	return ident_peer_in_groups(
	    fd, uc->gid, jobd.cfg.allow_gids, jobd.cfg.nallow_gids);
}

/* A unix peer: let it in by its credentials, or tell it why not. */
static void
accept_unix(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof uc;
	struct conn_cred cred;
	char peer[64], line[256];
	int n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) {
		log_warn("unix peer: SO_PEERCRED: %s", strerror(errno));
		evutil_closesocket(fd);
		return;
	}
	snprintf(peer, sizeof peer, "unix uid %u pid %ld", (unsigned)uc.uid,
	    (long)uc.pid);
	if (!peer_allowed(fd, &uc)) {
		counter_add(jobd.stats, COUNTER_conns_refused, 1);
		log_notice("%s: refused (not an allowed user or group)", peer);
		n = snprintf(line, sizeof line,
		    "{\"id\":null,\"ok\":false,\"error\":{\"code\":"
		    "\"forbidden\",\"message\":\"uid %u may not use this "
		    "jobd (see --allow-users, --allow-groups)\"}}\n",
		    (unsigned)uc.uid);
		/* A fresh socket's buffer takes one short line. */
		(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		evutil_closesocket(fd);
		return;
	}
	cred = (struct conn_cred){.pid = uc.pid,
	    .uid = uc.uid,
	    .gid = uc.gid,
	    .admin = ident_unix_admin(fd, uc.uid, uc.gid)};
	conn_accept(fd, peer, &cred);
}

void
listener_address(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "unix");
}

int
listener_bind(const char *option, const char *hostport,
    const struct addrinfo *ai, struct sockaddr_storage *bound, char *err,
    size_t errlen)
{
	socklen_t blen = sizeof *bound;
	int fd, one = 1, saved;

	fd = socket(
	    ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    getsockname(fd, (struct sockaddr *)bound, &blen) != 0) {
		saved = errno;
		snprintf(err, errlen, "%s %s: %s", option, hostport,
		    strerror(saved));
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void
accepted(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	char peer[80];

	listener_address(sa, peer, sizeof peer);
	if (sa->sa_family != AF_UNIX) {
		/* Replies are small and latency matters: no Nagle. */
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_accept(fd, peer, NULL);
		return;
	}
	accept_unix(fd);
}

static void
accept_failed(struct evconnlistener *lev, void *arg)
{
	/* EMFILE and friends: log and keep going; libevent retries. */
	log_warn("accept: %s", strerror(errno));
}

static int
add_listener(int fd, const char *unix_path, char *err, size_t errlen)
{
	struct evconnlistener *lev;

	if (nlisteners == MAX_LISTENERS) {
		snprintf(err, errlen, "too many listeners");
		close(fd);
		return -1;
	}
	lev = evconnlistener_new(jobd.base, accepted, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, BACKLOG, fd);
	if (lev == NULL) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(lev, accept_failed);
	listeners[nlisteners].lev = lev;
	listeners[nlisteners].unix_path =
	    unix_path != NULL ? xstrdup(unix_path) : NULL;
	nlisteners++;
	return 0;
}

/* Create the socket's directory if missing (mode 0755 for root, else 0700). */
static int
make_parent(const char *path, char *err, size_t errlen)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int r = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, geteuid() == 0 ? 0755 : 0700) != 0 &&
		    errno != EEXIST) {
			snprintf(
			    err, errlen, "mkdir %s: %s", dir, strerror(errno));
			r = -1;
		}
	}
	free(dir);
	return r;
}

int
listener_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	mode_t old_umask;
	int fd, probe, r;

	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (make_parent(path, err, errlen) != 0)
		return -1;
	/* A socket file left by a jobd that died is removed; a live jobd
	 * answering on it is a conflict. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 &&
	    connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
		close(probe);
		snprintf(
		    err, errlen, "%s: another jobd is listening there", path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	if ((fd = socket(
	         AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Owner-only from the first moment, then the configured group and
	 * mode, all before listen(): no window in which others connect. */
	old_umask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_umask);
	if (r != 0) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((jobd.cfg.socket_group >= 0 &&
	        chown(path, (uid_t)-1, (gid_t)jobd.cfg.socket_group) != 0) ||
	    chmod(path, (mode_t)jobd.cfg.socket_mode) != 0) {
		snprintf(err, errlen, "%s: setting group and mode: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (add_listener(fd, path, err, errlen) != 0)
		return -1;
	log_notice("listening on unix %s", path);
	return 0;
}

bool
listener_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)
		                  ->sin_addr.s_addr) >>
		           24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)(const void *)sa)
		         ->sin6_addr);
	return false;
}

/* "listening on tcp 127.0.0.1:40123": how a caller learns the port. */
static void
log_tcp_bound(const struct sockaddr_storage *bound, const char *how)
{
	char addr[80];

	listener_address((const struct sockaddr *)bound, addr, sizeof addr);
	log_notice("listening on tcp %s%s%s", addr,
	    tls_enabled() ? " (TLS)" : "", how);
}

int
listener_inherited(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct sockaddr_storage ss;
	socklen_t len;
	int n, fd, type, listening, r = 0;
	char *end;

	if (pid == NULL || fds == NULL)
		return 0;
	/* They were meant for this process only. */
	if (strtol(pid, &end, 10) != (long)getpid() || *end != '\0') {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return 0;
	}
	n = (int)strtol(fds, &end, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end != '\0' || n < 1 || n > MAX_LISTENERS) {
		snprintf(err, errlen, "LISTEN_FDS=%s: expected 1 to %d sockets",
		    fds, MAX_LISTENERS);
		return -1;
	}
	for (fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n && r == 0;
	     fd++) {
		len = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_STREAM ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		        &(socklen_t){sizeof listening}) != 0 ||
		    !listening) {
			snprintf(err, errlen,
			    "passed fd %d: not a listening stream socket", fd);
			return -1;
		}
		len = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
			snprintf(err, errlen, "passed fd %d: %s", fd,
			    strerror(errno));
			return -1;
		}
		if (ss.ss_family != AF_UNIX && ss.ss_family != AF_INET &&
		    ss.ss_family != AF_INET6) {
			snprintf(err, errlen,
			    "passed fd %d: neither unix nor TCP", fd);
			return -1;
		}
		if (ss.ss_family != AF_UNIX &&
		    !listener_is_loopback((struct sockaddr *)&ss) &&
		    !tls_enabled()) {
			snprintf(err, errlen,
			    "passed fd %d: TCP on a non-loopback address "
			    "needs TLS (--tls-cert, --tls-key)",
			    fd);
			return -1;
		}
		if (ss.ss_family != AF_UNIX && !auth_enabled()) {
			snprintf(err, errlen,
			    "passed fd %d: TCP needs --token-file", fd);
			return -1;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			snprintf(err, errlen, "passed fd %d: %s", fd,
			    strerror(errno));
			return -1;
		}
		/* The service manager owns the socket file: not removed. */
		if ((r = add_listener(fd, NULL, err, errlen)) != 0)
			return -1;
		if (ss.ss_family == AF_UNIX)
			log_notice("listening on unix %s (from the service "
			           "manager)",
			    ((struct sockaddr_un *)(void *)&ss)->sun_path);
		else
			log_tcp_bound(&ss, " (from the service manager)");
	}
	return n;
}

int
listener_resolve(const char *option, const char *hostport, struct addrinfo **ai,
    char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	char *host = xstrdup(hostport), *port;
	int gai;

	*ai = NULL;
	if ((port = strrchr(host, ':')) == NULL) {
		snprintf(
		    err, errlen, "%s %s: expected HOST:PORT", option, hostport);
		free(host);
		return -1;
	}
	*port++ = '\0';
	if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || atoi(port) > 65535) {
		snprintf(err, errlen,
		    "%s %s: bad port \"%s\" (expected 0 to 65535; 0: any "
		    "free one)",
		    option, hostport, port);
		free(host);
		return -1;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if ((gai = getaddrinfo(host, port, &hints, ai)) != 0) {
		snprintf(err, errlen,
		    "%s %s: %s (give a numeric "
		    "address and port)",
		    option, hostport, gai_strerror(gai));
		*ai = NULL;
		free(host);
		return -1;
	}
	free(host);
	return 0;
}

int
listener_tcp(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo *ai = NULL;
	struct sockaddr_storage bound;
	int fd = -1;

	if (listener_resolve("--listen", hostport, &ai, err, errlen) != 0)
		goto fail;
	if (!listener_is_loopback(ai->ai_addr) && !tls_enabled()) {
		snprintf(err, errlen,
		    "--listen %s: only loopback addresses are allowed "
		    "without TLS (tokens would cross the network in the "
		    "clear); give --tls-cert and --tls-key",
		    hostport);
		goto fail;
	}
	if (!auth_enabled()) {
		snprintf(err, errlen,
		    "--listen %s needs --token-file: TCP clients must "
		    "authenticate (jobd --gen-token FILE makes a token)",
		    hostport);
		goto fail;
	}
	if ((fd = listener_bind(
	         "--listen", hostport, ai, &bound, err, errlen)) < 0)
		goto fail;
	if (add_listener(fd, NULL, err, errlen) != 0) {
		fd = -1;
		goto fail;
	}
	log_tcp_bound(&bound, "");
	freeaddrinfo(ai);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return -1;
}

void
listener_close_all(void)
{
	int i;

	for (i = 0; i < nlisteners; i++) {
		evconnlistener_free(listeners[i].lev);
		if (listeners[i].unix_path != NULL) {
			unlink(listeners[i].unix_path);
			free(listeners[i].unix_path);
		}
	}
	nlisteners = 0;
}
