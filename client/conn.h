/*
 * conn: jobctl's connection to jobd.
 *
 * One socket (unix or TCP), an output buffer of encoded requests and an
 * input buffer of reply lines.  Requests get increasing integer ids, so
 * several can be in flight; conn_reply() waits for one id and keeps the
 * replies to other ids for later.  The socket is non-blocking and every
 * wait is a poll(), so a caller can interleave its own descriptors
 * (batch reads stdin in the same loop) and a signal can interrupt a wait
 * (conn_set_sigmask()).
 *
 * With TLS options, a TCP connection is TLS: conn_open() completes the
 * handshake, verifying jobd's certificate against a CA and the host name
 * or address of the address given; the rest is the same, except that a
 * caller with its own poll() loop must use conn_poll_events(),
 * conn_buffered() and conn_poll_done() (a TLS read may need the socket to
 * be writable, and decrypted input may wait in OpenSSL, unseen by poll).
 *
 * Errors: NULL or -1 with errno; EPIPE means jobd closed the connection,
 * EPROTO that it sent a line that is not a JSON object, ECONNABORTED that
 * TLS failed (conn_error() says why).
 */
#ifndef JOBCTL_CONN_H
#define JOBCTL_CONN_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

/* TLS settings for TCP addresses (PEM files). */
struct conn_tls {
	const char *ca_file;   /* verify jobd's certificate; NULL: no TLS */
	const char *cert_file; /* present this certificate, or NULL */
	const char *key_file;  /* ...with this key */
};

/*
 * Connect to "unix:PATH", "HOST:PORT" or "[V6ADDR]:PORT" (a bare path with
 * a "/" in it counts as unix:PATH); over TLS if tls (may be NULL) has a
 * CA file and the address is TCP.  NULL with errno and a message in err
 * ("cannot connect to unix:/x: No such file or directory", "cannot connect
 * to 127.0.0.1:7411: TLS: certificate verify failed: ...").
 */
struct conn *conn_open(
    const char *addr, const struct conn_tls *tls, char *err, size_t errlen);
void conn_close(struct conn *c);
int conn_fd(const struct conn *c);

/*
 * Poll with this signal mask (ppoll), so signals blocked elsewhere are
 * taken only while waiting and interrupt the wait with EINTR.
 */
void conn_set_sigmask(struct conn *c, const sigset_t *mask);

/* Give req (not stolen) a fresh "id", queue it and return the id. */
json_int_t conn_queue(struct conn *c, json_t *req);
/* Bytes queued and not yet written. */
size_t conn_pending(const struct conn *c);
/*
 * Write what the socket takes now; 0.  A failed write drops the output:
 * jobd may have closed after an error reply, which is still to be read,
 * and the end of the stream follows it.
 */
int conn_write_some(struct conn *c);
/* Read what the socket has now; 0, or -1 with errno (EPIPE at EOF). */
int conn_read_some(struct conn *c);
/* The poll() events to wait for: POLLIN, and POLLOUT when needed. */
short conn_poll_events(const struct conn *c);
/* Is input waiting in the TLS layer?  Then poll() must not block. */
bool conn_buffered(const struct conn *c);
/* Read and write as poll()'s revents allow; 0, or -1 with errno. */
int conn_poll_done(struct conn *c, short revents);
/* Why TLS failed ("certificate verify failed: ..."), or NULL. */
const char *conn_error(const struct conn *c);
/* The next buffered reply: 1 (*reply set), 0 if none yet, -1 (EPROTO). */
int conn_next(struct conn *c, json_t **reply);

/*
 * Flush and wait for the reply to id (timeout_ms < 0: no limit).  A reply
 * without an id (jobd could not read a request) is returned too, since it
 * answers the request being waited for.  NULL with errno (ETIMEDOUT,
 * EINTR, EPIPE, EPROTO, ...).
 */
json_t *conn_reply(struct conn *c, json_int_t id, int timeout_ms);
/* Flush and wait for the next reply to any request (kept ones first). */
json_t *conn_reply_any(struct conn *c, int timeout_ms);
/* conn_queue() and conn_reply(). */
json_t *conn_call(struct conn *c, json_t *req);

/* Milliseconds on the monotonic clock: what deadlines are measured in. */
int64_t conn_now_ms(void);
/* A reply's "id" as an integer, or -1. */
json_int_t conn_reply_id(const json_t *reply);

#endif
