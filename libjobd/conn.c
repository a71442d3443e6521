/*
 * conn: libjobd's connection to jobd (see jobd.h and conn.h).
 *
 * Both buffers grow as needed: a reply is as long as the job output it
 * carries (jobd caps that), and requests are only queued as fast as the
 * caller decides.  Input is consumed from in_off and compacted before a
 * read; `scanned` remembers how far a newline was already looked for, so a
 * multi-megabyte reply arriving in pieces is scanned once.
 *
 * TLS (tls.h): the handshake runs in conn_open() with the same deadline
 * as connect(), so a verification failure is a connection failure.  After
 * it, SSL_read() and SSL_write() stand in for recv() and send() on the
 * non-blocking socket.  Either may need the other direction (a TLS 1.3
 * key update, a post-handshake message): read_wants_write and
 * write_wants_read remember that, and jobd_poll_events() asks poll() for
 * it.  A record is decrypted whole, so input may sit in OpenSSL after a
 * read where poll() cannot see it: jobd_buffered() says so and the wait
 * loops do not block then.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "tls.h"

#define CONN_READ_CHUNK 65536

int
conn_fail(struct jobd *c)
{
	int saved = errno;

	c->code[0] = '\0';
	if (saved == EPIPE)
		snprintf(
		    c->error, sizeof c->error, "jobd closed the connection");
	else if (saved == EPROTO)
		snprintf(c->error, sizeof c->error,
		    "jobd sent a line that is not a JSON object");
	else if (saved == ECONNABORTED && c->tls_error[0] != '\0')
		snprintf(c->error, sizeof c->error, "TLS: %s", c->tls_error);
	else if (saved == ETIMEDOUT)
		snprintf(
		    c->error, sizeof c->error, "no reply from jobd in time");
	else
		snprintf(c->error, sizeof c->error, "%s", strerror(saved));
	errno = saved;
	return -1;
}

int64_t
conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is writable, i.e. a non-blocking connect() has ended. */
static int
connect_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = {fd, POLLOUT, 0};
	socklen_t len = sizeof(int);
	int r, error = 0;

	while ((r = poll(&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
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
connect_addr(const struct sockaddr *sa, socklen_t salen, int timeout_ms)
{
	int fd, saved, one = 1;

	fd = socket(
	    sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, salen) == -1 &&
	    (errno != EINPROGRESS || connect_wait(fd, timeout_ms) == -1)) {
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
connect_unix(const char *path, int timeout_ms, char *err, size_t errlen)
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
	if ((fd = connect_addr(
	         (struct sockaddr *)&sun, sizeof sun, timeout_ms)) == -1) {
		snprintf(err, errlen, "cannot connect to unix:%s: %s%s", path,
		    strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED
		        ? " (is jobd running?)"
		        : "");
	}
	return fd;
}

#define CONN_HOST_MAX 256

/* HOST:PORT or [V6]:PORT; the host part is left in host. */
static int
connect_tcp(const char *addr, char host[CONN_HOST_MAX], int timeout_ms,
    char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res, *ai;
	const char *shown = addr, *colon, *port;
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
	if (n == 0 || n >= CONN_HOST_MAX || port[0] == '\0')
		goto bad;
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) < 1 || atoi(port) > 65535) {
		snprintf(err, errlen,
		    "bad port \"%s\" in \"%s\" (expected 1 to 65535)", port,
		    shown);
		errno = EINVAL;
		return -1;
	}
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
		if ((fd = connect_addr(
		         ai->ai_addr, ai->ai_addrlen, timeout_ms)) == -1)
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

bool
conn_is_tcp(const char *addr)
{
	return strncmp(addr, "unix:", 5) != 0 && strchr(addr, '/') == NULL;
}

struct jobd *
conn_open(
    const char *addr, const struct jobd_options *opt, char *err, size_t errlen)
{
	int timeout_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms
	                                             : CONN_TIMEOUT_DEFAULT_MS;
	char host[CONN_HOST_MAX];
	struct jobd *c;
	SSL_CTX *ssl_ctx = NULL;
	int fd, saved;

	/* The files first: a bad one is the caller's mistake, not jobd's. */
	if (opt->tls_ca != NULL && conn_is_tcp(addr) &&
	    (ssl_ctx = tls_client_context(opt, err, errlen)) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (strncmp(addr, "unix:", 5) == 0)
		fd = connect_unix(addr + 5, timeout_ms, err, errlen);
	else if (strchr(addr, '/') != NULL)
		fd = connect_unix(addr, timeout_ms, err, errlen);
	else
		fd = connect_tcp(addr, host, timeout_ms, err, errlen);
	if (fd == -1) {
		SSL_CTX_free(ssl_ctx);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->kept = json_array()) == NULL) {
		free(c);
		SSL_CTX_free(ssl_ctx);
		close(fd);
		snprintf(err, errlen, "cannot connect to %s: %s", addr,
		    strerror(ENOMEM));
		errno = ENOMEM;
		return NULL;
	}
	c->fd = fd;
	c->next_id = 1;
	if ((c->ssl_ctx = ssl_ctx) != NULL &&
	    (c->ssl = tls_client_start(
	         ssl_ctx, fd, addr, host, timeout_ms, err, errlen)) == NULL) {
		saved = errno;
		jobd_close(c);
		errno = saved;
		return NULL;
	}
	return c;
}

void
jobd_close(struct jobd *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		/* close_notify if the socket takes it now: never waits. */
		if (c->tls_error[0] == '\0' && SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	SSL_CTX_free(c->ssl_ctx);
	close(c->fd);
	free(c->in);
	free(c->out);
	json_decref(c->kept);
	free(c);
}

int
jobd_fd(const struct jobd *c)
{
	return c->fd;
}

void
jobd_set_sigmask(struct jobd *c, const sigset_t *mask)
{
	c->mask = *mask;
	c->has_mask = true;
}

int64_t
jobd_send(struct jobd *c, json_t *req)
{
	int64_t id = c->next_id;
	size_t len, need;
	char *line, *out;

	if (json_object_set_new(req, "id", json_integer(id)) != 0 ||
	    (line = json_dumps(req, JSON_COMPACT)) == NULL) {
		errno = ENOMEM;
		return conn_fail(c);
	}
	len = strlen(line);
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if ((need = c->out_len + len + 1) > c->out_cap) {
		need = need > 2 * c->out_cap ? need : 2 * c->out_cap;
		if ((out = realloc(c->out, need)) == NULL) {
			free(line);
			errno = ENOMEM;
			return conn_fail(c);
		}
		c->out = out;
		c->out_cap = need;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(line);
	c->next_id++;
	return id;
}

size_t
jobd_pending(const struct jobd *c)
{
	return c->out_len - c->out_off;
}

/* jobd_write_some() over TLS. */
static int
tls_write_some(struct jobd *c)
{
	size_t len;
	int n, e;

	c->write_wants_read = false;
	while (c->out_off < c->out_len) {
		len = c->out_len - c->out_off;
		ERR_clear_error();
		errno = 0;
		n = SSL_write(c->ssl, c->out + c->out_off,
		    len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE)
			return 0;
		if (e == SSL_ERROR_WANT_READ) {
			c->write_wants_read = true;
			return 0;
		}
		/* As on the plain path: drop the output, keep reading. */
		ERR_clear_error();
		c->out_off = c->out_len = 0;
		return 0;
	}
	return 0;
}

int
jobd_write_some(struct jobd *c)
{
	ssize_t n;

	if (c->ssl != NULL)
		return tls_write_some(c);
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

/* One SSL_read() into the input buffer, which has room. */
static int
tls_read_some(struct jobd *c)
{
	size_t room = c->in_cap - c->in_len;
	int n, e;

	c->read_wants_write = false;
	ERR_clear_error();
	errno = 0;
	n = SSL_read(
	    c->ssl, c->in + c->in_len, room > INT_MAX ? INT_MAX : (int)room);
	if (n > 0) {
		c->in_len += (size_t)n;
		return 0;
	}
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		c->read_wants_write = true;
		return 0;
	}
	errno =
	    tls_client_failure(c->ssl, e, c->tls_error, sizeof c->tls_error);
	return -1;
}

static int
read_some(struct jobd *c)
{
	ssize_t n;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->scanned -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < CONN_READ_CHUNK) {
		size_t cap = c->in_cap * 2 > c->in_len + CONN_READ_CHUNK
		                 ? c->in_cap * 2
		                 : c->in_len + CONN_READ_CHUNK;
		char *in = realloc(c->in, cap);

		if (in == NULL) {
			errno = ENOMEM;
			return -1;
		}
		c->in = in;
		c->in_cap = cap;
	}
	if (c->ssl != NULL)
		return tls_read_some(c);
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
jobd_read_some(struct jobd *c)
{
	return read_some(c) == -1 ? conn_fail(c) : 0;
}

/* The next line of input as a JSON object; see jobd_next(). */
static int
next_reply(struct jobd *c, json_t **reply)
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

int
jobd_next(struct jobd *c, json_t **reply)
{
	int r = next_reply(c, reply);

	return r == -1 ? conn_fail(c) : r;
}

short
jobd_poll_events(const struct jobd *c)
{
	short events = POLLIN;

	/* A TLS write waiting for input must not spin on POLLOUT. */
	if ((jobd_pending(c) > 0 && !c->write_wants_read) ||
	    c->read_wants_write)
		events |= POLLOUT;
	return events;
}

bool
jobd_buffered(const struct jobd *c)
{
	return c->ssl != NULL && SSL_pending(c->ssl) > 0;
}

/* jobd_poll_done() without recording a failure. */
static int
poll_done(struct jobd *c, short revents)
{
	bool readable =
	    (revents & (POLLIN | POLLHUP | POLLERR)) != 0 || jobd_buffered(c);
	bool writable = (revents & POLLOUT) != 0;

	/* A TLS operation that waited for the other direction goes on. */
	if (c->read_wants_write && writable)
		readable = true;
	if (c->write_wants_read && readable)
		writable = true;
	if (readable && read_some(c) == -1)
		return -1;
	if (writable)
		(void)jobd_write_some(c);
	return 0;
}

int
jobd_poll_done(struct jobd *c, short revents)
{
	return poll_done(c, revents) == -1 ? conn_fail(c) : 0;
}

/* One poll() round: write if there is output, read if there is input. */
static int
conn_wait_io(struct jobd *c, int64_t deadline)
{
	struct pollfd pfd = {c->fd, jobd_poll_events(c), 0};
	struct timespec ts, *tsp = NULL;
	int64_t left;
	int r;

	/* Input decrypted already: read it without waiting. */
	if (jobd_buffered(c))
		return poll_done(c, 0);
	if (deadline >= 0) {
		left = deadline - conn_now_ms();
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
	return poll_done(c, pfd.revents);
}

int64_t
jobd_reply_id(const json_t *reply)
{
	const json_t *id = json_object_get(reply, "id");

	return json_is_integer(id) ? json_integer_value(id) : -1;
}

/* Wait for a reply to id, or to anything when id is 0. */
static json_t *
conn_wait(struct jobd *c, int64_t id, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : conn_now_ms() + timeout_ms;
	json_t *reply;
	size_t i;
	int r;

	for (i = 0; i < json_array_size(c->kept); i++) {
		reply = json_array_get(c->kept, i);
		if (id == 0 || jobd_reply_id(reply) == id) {
			json_incref(reply);
			json_array_remove(c->kept, i);
			return reply;
		}
	}
	(void)jobd_write_some(c);
	for (;;) {
		while ((r = next_reply(c, &reply)) == 1) {
			if (id == 0 || jobd_reply_id(reply) == id ||
			    json_object_get(reply, "id") == NULL)
				return reply;
			json_array_append_new(c->kept, reply);
		}
		if (r == -1 || conn_wait_io(c, deadline) == -1) {
			conn_fail(c);
			return NULL;
		}
	}
}

json_t *
jobd_reply(struct jobd *c, int64_t id, int timeout_ms)
{
	return conn_wait(c, id, timeout_ms);
}

json_t *
jobd_reply_any(struct jobd *c, int timeout_ms)
{
	return conn_wait(c, 0, timeout_ms);
}
