/*
 * conn: one client connection: framing, flow control, replies.
 *
 * Requests are lines of JSON, answered in any order (clients match replies
 * by the request's "id").  A line longer than max_line gets line_too_long
 * and the connection closes after the reply; every other bad line gets its
 * error and the connection stays usable.  When a client lets more than
 * conn_out_high bytes of replies pile up, jobd stops reading its requests
 * until it catches up: a client that never reads cannot grow the daemon's
 * memory by pipelining.  At end of input, replies still owed (a pending
 * wait) are delivered before the connection closes.
 */
#ifndef JOBD_CONN_H
#define JOBD_CONN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

struct conn;

/*
 * Who a client is: a unix peer's credentials (SO_PEERCRED), or for a TCP
 * client the identity its token grants (ident.h).
 */
struct conn_cred {
	pid_t pid; /* 0 for TCP */
	uid_t uid;
	gid_t gid;
	bool admin; /* may act on every job and control queues */
	bool tcp;   /* a TCP client (the --run-as identity) */
};

/* After a bad token, the reply waits this long (guessing costs time). */
#define AUTH_FAIL_DELAY_MS 1000

/*
 * Take over an accepted socket.  cred: a unix peer the listener let in;
 * NULL: a TCP peer, which must authenticate (auth.h) before anything else
 * and within auth_timeout_ms; with TLS configured (tls.h) it speaks TLS,
 * and its handshake must end within the same time.  Returns the connection,
 * which lives until it closes (conn_count() tells whether any does), or NULL if
 * it was refused or could not be set up (the socket is closed).
 */
struct conn *conn_accept(
    int fd, const char *peer, const struct conn_cred *cred);
/* Who the client is. */
const struct conn_cred *conn_who(const struct conn *c);
/* Queue msg (a reference is taken) as one line to the client. */
void conn_send(struct conn *c, const json_t *msg);
/*
 * The next reply to c (conn_send()) waits until the store has committed
 * batch seq (store.h), and so does every reply after it, in order: a
 * submit is acknowledged only once its jobs are durable.
 */
void conn_hold(struct conn *c, uint64_t seq);
/* The store committed batches up to committed: send what waited. */
void conn_release(uint64_t committed);
/*
 * A deferred reply is now owed (+1, waiting on `ids` jobs) or was delivered
 * (-1, -ids).  Pending waits count toward backpressure.
 */
void conn_owe(struct conn *c, int replies, long ids);
/* Bytes of replies the client has not read yet. */
size_t conn_backlog(struct conn *c);
/* Drop the connection now (a client that does not read its stream). */
void conn_drop(struct conn *c);
/*
 * Close every connection once its pending output is written (now: at
 * once); the event loop is told to end when the last one is gone.
 */
void conn_close_all(bool now);
size_t conn_count(void);
uint64_t conn_id(const struct conn *c);
const char *conn_peer(const struct conn *c);

#endif
