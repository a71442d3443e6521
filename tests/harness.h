/*
 * harness: start a real jobd for a test and talk to it.
 *
 * harness_start() runs the jobd binary ($JOBD, set by `make check`) on a
 * unix socket in a fresh temporary directory and on 127.0.0.1:0, reads its
 * log through a pipe until it says "ready", and learns the TCP port from
 * the "listening on tcp" line (and with --metrics-listen in extra, the
 * HTTP port from "metrics on http").  A thread keeps draining the log (so jobd
 * never blocks on it) and keeps it for harness_log_contains().  Every wait
 * has a deadline; nothing sleeps.  harness_stop() ends jobd by its pid.
 * TLS: pass --tls-cert and --tls-key in extra, connect with client_tls().
 */
#ifndef JOBD_TESTS_HARNESS_H
#define JOBD_TESTS_HARNESS_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_DEADLINE_MS 20000

struct harness {
	pid_t pid;
	char dir[PATH_MAX];
	char sock[PATH_MAX];
	char state[PATH_MAX];      /* --state-dir */
	char token_file[PATH_MAX]; /* --token-file */
	int port;
	int metrics_port; /* from "metrics on http", if --metrics-listen */
	int log_fd;
	pthread_t reader;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	char *log; /* everything jobd logged so far */
	size_t log_len;
	bool log_eof;
};

/* Start jobd with extra arguments (NULL-terminated, may be NULL). */
int harness_start(struct harness *h, const char *const *extra);
/*
 * Stop jobd with sig (SIGTERM: gracefully; SIGKILL: a crash) and start it
 * again on the same socket and state directory.  0 when it is ready.
 */
int harness_restart(struct harness *h, int sig, const char *const *extra);
/* The two halves: stop jobd (exit status; 0 for death by sig, if not
 * SIGTERM), leaving its directory; start it again there. */
int harness_halt(struct harness *h, int sig);
int harness_respawn(struct harness *h, const char *const *extra);
/* SIGTERM, then wait for the exit; returns the exit status (or -1). */
int harness_stop(struct harness *h);
/* The same for a jobd the test told to stop itself: no signal. */
int harness_wait(struct harness *h);
/* Wait until jobd has logged text; false at the deadline. */
bool harness_log_wait(struct harness *h, const char *text);
/* Wait until jobd has logged text n times (or more); false at the deadline. */
bool harness_log_wait_n(struct harness *h, const char *text, int n);
bool harness_log_contains(struct harness *h, const char *text);
/* The token of the jobd started last (what its --token-file holds). */
const char *harness_token_value(void);

struct ssl_st;

/* A client connection with a line buffer; over TLS if ssl is set. */
struct client {
	int fd;
	struct ssl_st *ssl;
	char *buf;
	size_t len, cap;
	bool eof; /* jobd ended the stream cleanly (TLS: with close_notify) */
};

/* What client_tls() presents and checks (PEM files). */
struct client_tls_opts {
	const char *ca;   /* jobd's certificate must chain to it, name
	                     127.0.0.1; NULL: not checked */
	const char *cert; /* a client certificate, or NULL */
	const char *key;
	bool no_auth; /* do not say hello with the token */
};

int client_unix(struct client *c, const char *path);
/* TCP clients authenticate with the harness's token (client_tcp_raw: not). */
int client_tcp(struct client *c, int port);
int client_tcp_raw(struct client *c, int port);
/*
 * TLS to 127.0.0.1:port (blocking, every wait bounded), then hello with
 * the token unless o->no_auth.  -1 if the handshake or the hello failed;
 * client_tls_error() says why.
 */
int client_tls(struct client *c, int port, const struct client_tls_opts *o);
/* OpenSSL's reason for this process's last TLS failure, or "". */
const char *client_tls_error(void);
/* Send a hello with token; 0 if jobd took it. */
int client_auth(struct client *c, const char *token);
void client_close(struct client *c);
/* Half-close: shutdown(SHUT_WR), or over TLS a close_notify. */
int client_shutdown_write(struct client *c);
/* Send raw bytes. */
int client_send(struct client *c, const char *data, size_t len);
/* Read one line (without "\n"), malloc'd; NULL at EOF or deadline. */
char *client_line(struct client *c, int timeout_ms);
/* Send a JSON text line, read one reply and parse it (NULL on failure). */
json_t *client_call(struct client *c, const char *request);
/* Read and parse one line. */
json_t *client_reply(struct client *c, int timeout_ms);

/* The error code of a reply, or NULL when it is ok. */
const char *reply_error_code(const json_t *reply);

/* Call and require an ok reply (Check assertions); the reply. */
json_t *call_ok(struct client *c, const char *req);
/* call_ok() of a request made from a printf format. */
json_t *call_okf(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Call and require the error code, with a message. */
void call_err(struct client *c, const char *req, const char *code);
/* A member of a JSON object as a string (NULL) or an integer (0). */
const char *str(const json_t *obj, const char *key);
json_int_t num(const json_t *obj, const char *key);
/* A counter or gauge from stats. */
json_int_t counter_of(struct client *c, const char *name);

/*
 * Connect to the unix socket sock as uid/gid (the test must be root and
 * the socket reachable by that user), send each request line and read one
 * reply to each: a JSON array of the replies (null for a missing one), or
 * NULL if the client could not run.
 */
json_t *harness_calls_as(
    const char *sock, uid_t uid, gid_t gid, const char *const *reqs);

/*
 * One HTTP exchange with 127.0.0.1:port: send request (len bytes, as
 * is), read until jobd closes the connection (send "Connection: close"),
 * within the deadline.  The whole response, malloc'd and NUL-terminated,
 * or NULL (no connection, or no end by the deadline).
 */
char *harness_http(int port, const char *request, size_t len);

/* Run a program, capture stdout/stderr, return the exit status. */
int run_capture(
    const char *const *argv, const char *stdin_text, char **out, char **err);

#endif
