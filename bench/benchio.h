/*
 * benchio: the client side the benchmarks share (see benchio.c).  The
 * structs are open: a benchmark keeps them on its stack.
 */
#ifndef JOBD_BENCHIO_H
#define JOBD_BENCHIO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in ns. */
uint64_t now_ns(void);
/* The 1-minute load average as text ("unknown" if unreadable) in buf. */
const char *load_average(char *buf, size_t size);

/* A growing byte string: the prepared requests of a run. */
struct sbuf {
	char *p;
	size_t len, cap;
};

void sbuf_printf(struct sbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* TCP_NODELAY (a no-op on a unix socket). */
void set_nodelay(int fd);
/* Connect to "HOST:PORT", or to a unix socket if addr contains a '/'. */
int connect_to(const char *addr);
/* connect_to() jobd; over TCP, say hello with $JOBD_TOKEN_FILE's token. */
int jobd_connect(const char *addr);
void write_all(int fd, const char *buf, size_t len);

/* Buffered reading of lines and counted bytes from a socket. */
struct rbuf {
	int fd;
	char *buf;
	size_t cap, start, end;
};

void rbuf_init(struct rbuf *rb, int fd);
void rbuf_free(struct rbuf *rb);
/* Read once more: keeps what is unread, makes room.  -1 at end of input. */
int rbuf_fill(struct rbuf *rb);
/* The next line without its "\n" (NUL-terminated in place); NULL at EOF. */
char *rbuf_line(struct rbuf *rb, size_t *len);
/* The next n bytes; errors out at EOF. */
char *rbuf_take(struct rbuf *rb, size_t n);

void thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Sends a prepared buffer from its own thread while the caller reads. */
struct writer {
	pthread_t thread;
	int fd;
	const char *buf;
	size_t len;
};

void writer_start(struct writer *w, int fd, const char *buf, size_t len);
void writer_join(struct writer *w);

#endif
