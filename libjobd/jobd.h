/*
 * libjobd: the C client library of jobd.
 *
 *     #include <jobd.h>
 *     cc prog.c $(pkg-config --cflags --libs libjobd)
 *
 * A struct jobd is one connection to jobd, over its unix socket or TCP
 * (with the token, and TLS if asked).  Requests and replies are jansson
 * objects, as jobd-protocol(7) describes them; the library adds the
 * request ids, frames the lines and matches replies to requests.
 *
 * Two levels:
 *
 * - One call per operation, each a round trip: jobd_submit(), jobd_wait(),
 *   jobd_get(), jobd_stats(), and jobd_call() for any other request.
 *   They return -1 or NULL when the request failed, and jobd_error() says
 *   why: jobd's own refusal (jobd_error_code() is then its code, such as
 *   "not_found", and errno is 0), or a local failure (jobd_error_code()
 *   is NULL, errno says what: EPIPE when jobd closed the connection,
 *   EPROTO when it sent something that is not a JSON object, ETIMEDOUT,
 *   ECONNABORTED when TLS failed, EINTR, ENOMEM).
 *
 * - Pipelining and event loops: jobd_send() queues a request and returns
 *   its id, at once; jobd_reply() waits for the reply to one id (keeping
 *   replies to others for later), jobd_reply_any() for the next reply.
 *   A program with its own poll() loop watches jobd_fd() for
 *   jobd_poll_events(), hands the revents to jobd_poll_done() and takes
 *   the replies with jobd_next(); the socket is non-blocking.
 *
 * A struct jobd is not thread-safe: use one per thread, or a lock.  The
 * library never writes to stdout or stderr, never raises SIGPIPE and
 * needs no initialisation.  The header needs POSIX (sigset_t): with a
 * strict -std=c11, define _POSIX_C_SOURCE to 200809L first.
 */
#ifndef JOBD_H
#define JOBD_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct jobd;

/*
 * How to connect.  Zero every member you do not set ({0} or memset):
 * later versions add members at the end only.
 */
struct jobd_options {
	/* TCP: authenticate with this token, or with the first line of
	 * token_file (jobd --gen-token).  Ignored on the unix socket. */
	const char *token;
	const char *token_file;
	/* TCP: speak TLS, verifying jobd's certificate against this CA (PEM)
	 * and the host name or IP address of the address. */
	const char *tls_ca;
	/* ...and present this client certificate and key (PEM). */
	const char *tls_cert;
	const char *tls_key;
	/* For connect(), the TLS handshake and hello; 0: 10 seconds. */
	int connect_timeout_ms;
};

/* The library's version, such as "0.1.0". */
const char *jobd_version(void);

/*
 * Where jobd is by default: $JOBD_ADDR if set, else the socket of a jobd
 * of this user ($XDG_RUNTIME_DIR/jobd/jobd.sock) if it exists, else the
 * system one (unix:/run/jobd/jobd.sock).
 */
const char *jobd_default_address(void);

/*
 * Connect to addr: "unix:PATH", a path with a "/" in it, "HOST:PORT" or
 * "[IPV6]:PORT"; NULL means jobd_default_address().  opt may be NULL.
 * NULL on failure, with errno and a sentence in err (at most errlen bytes,
 * NUL included; err may be NULL): "cannot connect to unix:/run/jobd/
 * jobd.sock: No such file or directory (is jobd running?)".
 */
struct jobd *jobd_connect(
    const char *addr, const struct jobd_options *opt, char *err, size_t errlen);
/* Close the connection and free c (NULL is fine). */
void jobd_close(struct jobd *c);

/* Why the last call that failed failed: a sentence, or "" if none did. */
const char *jobd_error(const struct jobd *c);
/* jobd's error code if jobd refused the last request that failed. */
const char *jobd_error_code(const struct jobd *c);

/* --- One call per operation ---------------------------------------------- */

/*
 * Submit one job: spec is a job spec (jobd-protocol(7), JOB SPEC), such
 * as {"kind":"exec","argv":["make","-C","/src"]}; it is not stolen.  0
 * and the job's id in *id (id may be NULL), or -1.  A spec with a "key"
 * that an unfinished job already has gives that job's id.
 */
int jobd_submit(struct jobd *c, json_t *spec, int64_t *id);
/*
 * Wait until job id has finished (timeout_ms < 0: without a time limit)
 * and return it in full, output included, as a new reference.  NULL on
 * failure; ETIMEDOUT if the job was still going at the deadline (it goes
 * on).
 */
json_t *jobd_wait(struct jobd *c, int64_t id, int timeout_ms);
/* Job id in full, spec and output included, as it stands; or NULL. */
json_t *jobd_get(struct jobd *c, int64_t id);
/* jobd's counters, gauges and histograms (COUNTERS in jobd-protocol(7)). */
json_t *jobd_stats(struct jobd *c);
/*
 * Send req (given an "id"; not stolen) and return jobd's reply, as a new
 * reference, whether "ok" is true or false; NULL only if there was no
 * reply (errno).  req must have an "op".
 */
json_t *jobd_call(struct jobd *c, json_t *req);

/* --- Pipelining and event loops ------------------------------------------ */

/*
 * Give req (not stolen) the next id, queue it for sending and return the
 * id (1, 2, ...), or -1 with ENOMEM.  Nothing is written until a wait or
 * jobd_write_some().
 */
int64_t jobd_send(struct jobd *c, json_t *req);
/*
 * Write what is queued and wait for the reply to request id, keeping
 * replies to others for later (timeout_ms < 0: no limit).  A reply
 * without an id (to a line jobd could not read) is returned too.  A new
 * reference, or NULL with errno.
 */
json_t *jobd_reply(struct jobd *c, int64_t id, int timeout_ms);
/* The same for the next reply to any request, kept ones first. */
json_t *jobd_reply_any(struct jobd *c, int timeout_ms);
/* A reply's "id", or -1 if it has none. */
int64_t jobd_reply_id(const json_t *reply);

/* The socket, to poll() (do not read or write it). */
int jobd_fd(const struct jobd *c);
/* The events to poll() it for: POLLIN, and POLLOUT when needed. */
short jobd_poll_events(const struct jobd *c);
/*
 * Input is waiting inside the library (TLS), which poll() cannot see:
 * poll with a zero timeout and call jobd_poll_done() anyway.
 */
bool jobd_buffered(const struct jobd *c);
/* Read and write as poll()'s revents allow; 0, or -1 with errno. */
int jobd_poll_done(struct jobd *c, short revents);
/* The next reply read: 1 and *reply (a new reference), 0 if none yet,
 * or -1 (EPROTO: not a JSON object). */
int jobd_next(struct jobd *c, json_t **reply);
/* Bytes queued and not yet written. */
size_t jobd_pending(const struct jobd *c);
/* Write what the socket takes now, without waiting; 0, or -1. */
int jobd_write_some(struct jobd *c);
/* Read what the socket has now, without waiting; 0, or -1 (EPIPE: jobd
 * closed the connection). */
int jobd_read_some(struct jobd *c);
/*
 * Wait with this signal mask (ppoll()), so that signals blocked otherwise
 * are taken during waits, which they end with EINTR.
 */
void jobd_set_sigmask(struct jobd *c, const sigset_t *mask);

#ifdef __cplusplus
}
#endif

#endif
