/*
 * benchio: the client side the benchmarks share: a monotonic clock,
 * growing strings for prepared requests, connecting to HOST:PORT or a unix
 * socket, buffered reading of lines and counted bytes, and a thread that
 * writes a prepared buffer while the caller reads the replies.  Every
 * failure is fatal (err/errx): a benchmark has nothing to recover.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "benchio.h"
#include "xmalloc.h"

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
sbuf_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->p == NULL) {
		sb->cap = 4096;
		sb->p = xmalloc(sb->cap);
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(sb->p + sb->len, sb->cap - sb->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			errx(1, "vsnprintf failed");
		if ((size_t)n < sb->cap - sb->len)
			break;
		sb->cap = sb->cap * 2 + (size_t)n + 1;
		sb->p = xreallocarray(sb->p, sb->cap, 1);
	}
	sb->len += (size_t)n;
}

void
set_nodelay(int fd)
{
	int one = 1;

	/* Fails on a unix socket, where there is no Nagle to turn off. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Connect to "HOST:PORT", or to a unix socket if addr contains a '/'. */
int
connect_to(const char *addr)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct addrinfo *ai;
	char *host, *port;
	int fd, gai;

	if (strchr(addr, '/') != NULL) {
		if (strlen(addr) >= sizeof sun.sun_path)
			errx(1, "%s: path too long", addr);
		memcpy(sun.sun_path, addr, strlen(addr) + 1);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
			err(1, "connect %s", addr);
		return fd;
	}
	host = xstrdup(addr);
	if ((port = strrchr(host, ':')) == NULL)
		errx(1, "%s: expected HOST:PORT or a socket path", addr);
	*port++ = '\0';
	if ((gai = getaddrinfo(host, port, &hints, &ai)) != 0)
		errx(1, "%s: %s", addr, gai_strerror(gai));
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		err(1, "connect %s", addr);
	set_nodelay(fd);
	freeaddrinfo(ai);
	free(host);
	return fd;
}

void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			err(1, "write");
		}
		buf += n;
		len -= (size_t)n;
	}
}

void
rbuf_init(struct rbuf *rb, int fd)
{
	rb->fd = fd;
	rb->cap = 256 * 1024;
	rb->buf = xmalloc(rb->cap);
	rb->start = rb->end = 0;
}

void
rbuf_free(struct rbuf *rb)
{
	free(rb->buf);
	rb->buf = NULL;
}

/* Read once more: keeps what is unread, makes room.  -1 at end of input. */
int
rbuf_fill(struct rbuf *rb)
{
	ssize_t n;

	if (rb->start > 0) {
		memmove(rb->buf, rb->buf + rb->start, rb->end - rb->start);
		rb->end -= rb->start;
		rb->start = 0;
	}
	if (rb->end == rb->cap) {
		rb->cap *= 2;
		rb->buf = xreallocarray(rb->buf, rb->cap, 1);
	}
	do
		n = read(rb->fd, rb->buf + rb->end, rb->cap - rb->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err(1, "read");
	if (n == 0)
		return -1;
	rb->end += (size_t)n;
	return 0;
}

/* The next line without its "\n" (NUL-terminated in place); NULL at EOF. */
char *
rbuf_line(struct rbuf *rb, size_t *len)
{
	size_t scanned = 0;
	char *line, *nl;

	while ((nl = memchr(rb->buf + rb->start + scanned, '\n',
	            rb->end - rb->start - scanned)) == NULL) {
		scanned = rb->end - rb->start;
		if (rbuf_fill(rb) != 0)
			return NULL;
	}
	line = rb->buf + rb->start;
	*nl = '\0';
	*len = (size_t)(nl - line);
	rb->start += *len + 1;
	return line;
}

/* The next n bytes; errors out at EOF. */
char *
rbuf_take(struct rbuf *rb, size_t n)
{
	char *p;

	while (rb->end - rb->start < n) {
		if (rbuf_fill(rb) != 0)
			errx(1, "connection closed mid-message");
	}
	p = rb->buf + rb->start;
	rb->start += n;
	return p;
}

void
thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if ((errno = pthread_create(t, NULL, fn, arg)) != 0)
		err(1, "pthread_create");
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;

	write_all(w->fd, w->buf, w->len);
	return NULL;
}

void
writer_start(struct writer *w, int fd, const char *buf, size_t len)
{
	w->fd = fd;
	w->buf = buf;
	w->len = len;
	thread_start(&w->thread, writer_main, w);
}

void
writer_join(struct writer *w)
{
	pthread_join(w->thread, NULL);
}

/* The 1-minute load average: other work on the machine skews figures. */
const char *
load_average(char *buf, size_t size)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double load;

	if (f == NULL || fscanf(f, "%lf", &load) != 1)
		snprintf(buf, size, "unknown");
	else
		snprintf(buf, size, "%.2f", load);
	if (f != NULL)
		fclose(f);
	return buf;
}

int
jobd_connect(const char *addr)
{
	const char *path = getenv("JOBD_TOKEN_FILE");
	char token[1100], req[1200], reply[4096];
	size_t got = 0;
	ssize_t n;
	FILE *f;
	int fd = connect_to(addr), len;

	if (strchr(addr, '/') != NULL || path == NULL || path[0] == '\0')
		return fd;
	if ((f = fopen(path, "r")) == NULL ||
	    fgets(token, sizeof token, f) == NULL)
		err(1, "token file %s", path);
	fclose(f);
	token[strcspn(token, "\r\n")] = '\0';
	len = snprintf(
	    req, sizeof req, "{\"op\":\"hello\",\"token\":\"%s\"}\n", token);
	write_all(fd, req, (size_t)len);
	/* One reply line, read byte by byte: nothing after it is ours. */
	while (got < sizeof reply - 1 && (n = read(fd, reply + got, 1)) == 1 &&
	       reply[got] != '\n')
		got++;
	reply[got] = '\0';
	if (strstr(reply, "\"ok\":true") == NULL)
		errx(1, "jobd refused the token: %s", reply);
	return fd;
}
