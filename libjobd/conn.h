/*
 * conn: the inside of libjobd, shared by conn.c (the connection: sockets,
 * TLS, buffers, waits) and ops.c (hello and the one-call operations).
 * Nothing here is exported: the library's symbols are jobd.h's.
 */
#ifndef LIBJOBD_CONN_H
#define LIBJOBD_CONN_H

#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobd.h"

#define CONN_TIMEOUT_DEFAULT_MS 10000
#define CONN_ERROR_MAX 768

struct jobd {
	int fd;
	SSL *ssl; /* NULL: plain */
	SSL_CTX *ssl_ctx;
	bool read_wants_write;      /* the last SSL_read() waits for POLLOUT */
	bool write_wants_read;      /* the last SSL_write() waits for POLLIN */
	char tls_error[256];        /* why TLS failed, or "" */
	char error[CONN_ERROR_MAX]; /* jobd_error() */
	char code[64];              /* jobd_error_code(), or "" */
	char *in;
	size_t in_off, in_len, in_cap, scanned;
	char *out;
	size_t out_off, out_len, out_cap;
	int64_t next_id;
	json_t *kept; /* replies read while waiting for another id */
	bool has_mask;
	sigset_t mask;
};

/* Milliseconds on the monotonic clock. */
int64_t conn_now_ms(void);
/* Describe errno's failure in c->error (errno kept); -1. */
int conn_fail(struct jobd *c);
/* Open the socket (and TLS) to addr, before any request; see
 * jobd_connect().  NULL with errno and err. */
struct jobd *conn_open(
    const char *addr, const struct jobd_options *opt, char *err, size_t errlen);
bool conn_is_tcp(const char *addr);

#endif
