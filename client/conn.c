/*
 * conn: jobctl's connection to jobd (see conn.h).
 *
 * Both buffers grow as needed: a reply is as long as the job output it
 * carries (jobd caps that), and requests are only queued as fast as the
 * caller decides.  Input is consumed from in_off and compacted before a
 * read; `scanned` remembers how far a newline was already looked for, so a
 * multi-megabyte reply arriving in pieces is scanned once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "proto.h"
#include "xmalloc.h"

#define CONN_READ_CHUNK 65536
#define CONN_CONNECT_TIMEOUT_MS 10000

struct conn {
	int fd;
	char *in;
	size_t in_off, in_len, in_cap, scanned;
	char *out;
	size_t out_off, out_len, out_cap;
	json_int_t next_id;
	json_t *kept; /* replies read while waiting for another id */
	bool has_mask;
	sigset_t mask;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is writable, i.e. a non-blocking connect() has ended. */
static int
connect_wait(int fd)
{
	struct pollfd pfd = {fd, POLLOUT, 0};
	socklen_t len = sizeof(int);
	int r, error = 0;

	while ((r = poll(&pfd, 1, CONN_CONNECT_TIMEOUT_MS)) == -1 &&
	       errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		return -1;
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}

static int
connect_addr(const struct sockaddr *sa, socklen_t salen)
{
	int fd, saved, one = 1;

	fd = socket(
	    sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, salen) == -1 &&
	    (errno != EINPROGRESS || connect_wait(fd) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int
connect_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (path[0] == '\0' || strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "cannot connect to unix:%s: %s", path,
		    path[0] == '\0' ? "empty socket path"
		                    : "socket path too long");
		errno = EINVAL;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = connect_addr((struct sockaddr *)&sun, sizeof sun)) == -1) {
		snprintf(err, errlen, "cannot connect to unix:%s: %s%s", path,
		    strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED
		        ? " (is jobd running?)"
		        : "");
	}
	return fd;
}

/* HOST:PORT or [V6]:PORT. */
static int
connect_tcp(const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res, *ai;
	const char *shown = addr, *colon, *port;
	char host[256];
	size_t n;
	int fd = -1, r, saved = 0;

	if (addr[0] == '[') {
		colon = strchr(addr, ']');
		if (colon == NULL || colon[1] != ':')
			goto bad;
		n = (size_t)(colon - addr - 1);
		port = colon + 2;
		addr++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			goto bad;
		n = (size_t)(colon - addr);
		port = colon + 1;
	}
	if (n == 0 || n >= sizeof host || port[0] == '\0')
		goto bad;
	memcpy(host, addr, n);
	host[n] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s port %s: %s", host,
		    port, gai_strerror(r));
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = connect_addr(ai->ai_addr, ai->ai_addrlen)) == -1)
			saved = errno;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		snprintf(err, errlen, "cannot connect to %s: %s%s", shown,
		    strerror(saved),
		    saved == ECONNREFUSED ? " (is jobd running?)" : "");
		errno = saved;
	}
	return fd;
bad:
	snprintf(err, errlen,
	    "bad address \"%s\" (expected unix:PATH, HOST:PORT or "
	    "[IPV6]:PORT)",
	    shown);
	errno = EINVAL;
	return -1;
}

struct conn *
conn_open(const char *addr, char *err, size_t errlen)
{
	struct conn *c;
	int fd;

	if (strncmp(addr, "unix:", 5) == 0)
		fd = connect_unix(addr + 5, err, errlen);
	else if (strchr(addr, '/') != NULL)
		fd = connect_unix(addr, err, errlen);
	else
		fd = connect_tcp(addr, err, errlen);
	if (fd == -1)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->next_id = 1;
	c->kept = json_array();
	return c;
}

void
conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->in);
	free(c->out);
	json_decref(c->kept);
	free(c);
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

void
conn_set_sigmask(struct conn *c, const sigset_t *mask)
{
	c->mask = *mask;
	c->has_mask = true;
}

json_int_t
conn_queue(struct conn *c, json_t *req)
{
	json_int_t id = c->next_id++;
	size_t len;
	char *line;

	json_object_set_new(req, "id", json_integer(id));
	line = proto_encode(req, &len);
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		c->out_cap = c->out_len + len > 2 * c->out_cap
		                 ? c->out_len + len
		                 : 2 * c->out_cap;
		c->out = xreallocarray(c->out, c->out_cap, 1);
	}
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	free(line);
	return id;
}

size_t
conn_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

int
conn_write_some(struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == -1) {
			/*
			 * jobd may have closed after an error reply (a line
			 * too long): drop the output and keep reading, so
			 * the reply is seen before the end of the stream.
			 */
			c->out_off = c->out_len = 0;
			return 0;
		}
		c->out_off += (size_t)n;
	}
	return 0;
}

int
conn_read_some(struct conn *c)
{
	ssize_t n;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->scanned -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < CONN_READ_CHUNK) {
		c->in_cap = c->in_cap * 2 > c->in_len + CONN_READ_CHUNK
		                ? c->in_cap * 2
		                : c->in_len + CONN_READ_CHUNK;
		c->in = xreallocarray(c->in, c->in_cap, 1);
	}
	for (;;) {
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		c->in_len += (size_t)n;
		return 0;
	}
}

int
conn_next(struct conn *c, json_t **reply)
{
	char *nl;
	size_t len;

	*reply = NULL;
	if (c->scanned < c->in_off)
		c->scanned = c->in_off;
	if (c->scanned == c->in_len)
		return 0;
	nl = memchr(c->in + c->scanned, '\n', c->in_len - c->scanned);
	if (nl == NULL) {
		c->scanned = c->in_len;
		return 0;
	}
	len = (size_t)(nl - (c->in + c->in_off));
	/* Job output may hold NUL bytes: valid UTF-8, sent as \u0000. */
	*reply = json_loadb(c->in + c->in_off, len, JSON_ALLOW_NUL, NULL);
	c->in_off += len + 1;
	c->scanned = c->in_off;
	if (*reply == NULL || !json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		errno = EPROTO;
		return -1;
	}
	return 1;
}

/* One poll() round: write if there is output, read if there is input. */
static int
conn_wait_io(struct conn *c, int64_t deadline)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	struct timespec ts, *tsp = NULL;
	int64_t left;
	int r;

	if (conn_pending(c) > 0)
		pfd.events |= POLLOUT;
	if (deadline >= 0) {
		left = deadline - mono_ms();
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		tsp = &ts;
	}
	r = ppoll(&pfd, 1, tsp, c->has_mask ? &c->mask : NULL);
	if (r == -1)
		return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
	    conn_read_some(c) == -1)
		return -1;
	if ((pfd.revents & POLLOUT) && conn_write_some(c) == -1)
		return -1;
	return 0;
}

json_int_t
conn_reply_id(const json_t *reply)
{
	const json_t *id = json_object_get(reply, "id");

	return json_is_integer(id) ? json_integer_value(id) : -1;
}

/* Wait for a reply to id, or to anything when id is 0. */
static json_t *
conn_wait(struct conn *c, json_int_t id, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	json_t *reply;
	size_t i;
	int r;

	for (i = 0; i < json_array_size(c->kept); i++) {
		reply = json_array_get(c->kept, i);
		if (id == 0 || conn_reply_id(reply) == id) {
			json_incref(reply);
			json_array_remove(c->kept, i);
			return reply;
		}
	}
	if (conn_write_some(c) == -1)
		return NULL;
	for (;;) {
		while ((r = conn_next(c, &reply)) == 1) {
			if (id == 0 || conn_reply_id(reply) == id ||
			    json_object_get(reply, "id") == NULL)
				return reply;
			json_array_append_new(c->kept, reply);
		}
		if (r == -1 || conn_wait_io(c, deadline) == -1)
			return NULL;
	}
}

json_t *
conn_reply(struct conn *c, json_int_t id, int timeout_ms)
{
	return conn_wait(c, id, timeout_ms);
}

json_t *
conn_reply_any(struct conn *c, int timeout_ms)
{
	return conn_wait(c, 0, timeout_ms);
}

json_t *
conn_call(struct conn *c, json_t *req)
{
	return conn_reply(c, conn_queue(c, req), -1);
}
