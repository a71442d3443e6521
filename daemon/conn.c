/*
 * conn: client connections (see conn.h).
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "auth.h"
#include "conn.h"
#include "counters.h"
#include "job.h"
#include "jobd.h"
#include "log.h"
#include "ident.h"
#include "ops.h"
#include "proto.h"
#include "store.h"
#include "tls.h"
#include "xmalloc.h"

/* A reply held until the store has committed batch seq (conn_hold()). */
struct held {
	STAILQ_ENTRY(held) link;
	uint64_t seq;
	size_t len;
	char data[];
};

struct conn {
	uint64_t id;
	struct bufferevent *bev;
	char peer[64];
	size_t scanned;  /* input bytes known to hold no newline */
	int owed;        /* deferred replies not yet sent */
	bool eof;        /* the client closed its side */
	bool discarding; /* after a fatal framing error: drop input */
	bool shut;       /* our side is shut down for writing */
	size_t discarded;
	bool input_done; /* no more requests will be read */
	bool paused;     /* reading stopped for backpressure */
	bool dead;       /* retired: freed by the reaper, ignore it */
	size_t waiting;  /* job ids its pending waits wait for */
	bool authed;     /* unix: by its credentials; TCP: by a token */
	bool tls;        /* a TLS session: bev is an OpenSSL bufferevent */
	bool tls_up;     /* ...whose handshake has completed */
	bool tls_broken; /* ...and failed since: no close_notify */
	struct conn_cred cred;    /* who it is (TCP: once authed) */
	struct event *auth_timer; /* handshake deadline, or failure delay */
	json_t *auth_id;          /* the failed hello's id, for the reply */
	uint64_t active_us;       /* monotonic: last read or write */
	uint64_t partial_us;      /* since when a line is unfinished, or 0 */
	LIST_ENTRY(conn) link;
	/* Replies waiting for a commit, in order, and what they hold back. */
	STAILQ_HEAD(, held) held;
	size_t held_bytes;
	uint64_t hold_seq; /* for the next reply: conn_hold() */
	bool holding;      /* on the holders list */
	LIST_ENTRY(conn) holders_link;
};

/* How often the deadlines are checked. */
#define SWEEP_MS 250

/* Input dropped after line_too_long before we give up on a clean close. */
#define DISCARD_MAX (64 * 1024 * 1024)
/* Job ids a client may have waits pending on before it stops being read. */
#define WAITING_MAX 1000000

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
/* Connections with replies held for a commit. */
static LIST_HEAD(, conn) holders = LIST_HEAD_INITIALIZER(holders);
static size_t nconns;
static bool closing_all; /* the daemon is stopping: end the loop at zero */
static char *encode_buf; /* replies are encoded here (see conn_send) */
static size_t encode_cap;
static uint64_t next_conn_id = 1;
/*
 * Connections are never freed where they are closed: a request being
 * handled, or a loop over waiters, may still hold the pointer.  Closing
 * retires the connection (no more events, no more replies) onto the
 * graveyard, and the reaper frees it from a fresh loop callback.
 */
static LIST_HEAD(, conn) graveyard = LIST_HEAD_INITIALIZER(graveyard);
static struct event *reaper;
static struct event *sweeper;

static void conn_free(struct conn *c);
static void conn_read(struct bufferevent *bev, void *arg);

uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

const struct conn_cred *
conn_who(const struct conn *c)
{
	return &c->cred;
}

size_t
conn_count(void)
{
	return nconns;
}

/* Replies not yet read by the client, held ones included. */
static size_t
out_backlog(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	       c->held_bytes;
}

size_t
conn_backlog(struct conn *c)
{
	return out_backlog(c);
}

void
conn_drop(struct conn *c)
{
	log_notice("connection %llu (%s): dropped, %zu bytes unread",
	    (unsigned long long)c->id, c->peer, out_backlog(c));
	conn_free(c);
}

/* Close once all is said: input over, nothing owed, output written. */
static bool
maybe_close(struct conn *c)
{
	if (!c->input_done || c->owed > 0 || out_backlog(c) > 0)
		return false;
	if (c->discarding && !c->eof) {
		/* Let the client read our reply and close first: closing
		 * with its input unread would reset the connection. */
		if (!c->shut) {
			/* Over TLS, close_notify is the half-close. */
			if (c->tls)
				tls_close_notify(c->bev);
			else
				shutdown(bufferevent_getfd(c->bev), SHUT_WR);
			c->shut = true;
		}
		return false;
	}
	conn_free(c);
	return true;
}

/*
 * Stop reading a client while it owes us reading its replies, or while it
 * has too many waits pending (each costs memory until its jobs end).
 */
static void maybe_resume(struct conn *c);

static void
apply_backpressure(struct conn *c)
{
	if (!c->paused && (out_backlog(c) > jobd.cfg.conn_out_high ||
	                      c->waiting > WAITING_MAX)) {
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
		counter_add(jobd.stats, COUNTER_backpressure_pauses, 1);
	}
}

/*
 * A client waiting for exactly this reply (nothing else owed, nothing
 * queued either way) gets it written at once, saving the event loop a pass
 * and the epoll changes of arming the write event.  Pipelining clients go
 * through the buffer, where many replies share one write.  Returns the
 * bytes written.
 */
static size_t
try_send_now(struct conn *c, const char *data, size_t len)
{
	ssize_t n;

	/* After end of input the buffered path runs, whose write callback
	 * closes the connection.  TLS writes go through OpenSSL. */
	if (c->tls || c->owed != 0 || c->input_done || out_backlog(c) != 0 ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) != 0)
		return 0;
	n = send(
	    bufferevent_getfd(c->bev), data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	/* On any error the buffered write meets it again and reports it. */
	return n > 0 ? (size_t)n : 0;
}

void
conn_hold(struct conn *c, uint64_t seq)
{
	c->hold_seq = seq;
}

/* Keep the reply in encode_buf until batch seq is committed. */
static void
hold(struct conn *c, uint64_t seq, size_t len)
{
	struct held *h = xmalloc(sizeof(*h) + len);

	h->seq = seq;
	h->len = len;
	memcpy(h->data, encode_buf, len);
	STAILQ_INSERT_TAIL(&c->held, h, link);
	c->held_bytes += len;
	if (!c->holding) {
		LIST_INSERT_HEAD(&holders, c, holders_link);
		c->holding = true;
	}
}

static void
held_free(struct conn *c)
{
	struct held *h;

	while ((h = STAILQ_FIRST(&c->held)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->held, link);
		free(h);
	}
	c->held_bytes = 0;
	if (c->holding) {
		LIST_REMOVE(c, holders_link);
		c->holding = false;
	}
}

void
conn_release(uint64_t committed)
{
	struct conn *c, *next;
	struct held *h;

	for (c = LIST_FIRST(&holders); c != NULL; c = next) {
		next = LIST_NEXT(c, holders_link);
		while ((h = STAILQ_FIRST(&c->held)) != NULL &&
		       h->seq <= committed) {
			STAILQ_REMOVE_HEAD(&c->held, link);
			c->held_bytes -= h->len;
			bufferevent_write(c->bev, h->data, h->len);
			free(h);
		}
		if (STAILQ_EMPTY(&c->held)) {
			LIST_REMOVE(c, holders_link);
			c->holding = false;
		}
		maybe_resume(c);
	}
}

void
conn_send(struct conn *c, const json_t *msg)
{
	uint64_t seq = c->hold_seq;
	size_t len, sent;

	c->hold_seq = 0;
	if (c->dead)
		return;
	/* One buffer for every reply: the loop thread is the only writer. */
	len = proto_encode_buf(msg, &encode_buf, &encode_cap);
	counter_add(jobd.stats, COUNTER_bytes_out, len);
	/* Behind a held reply, or itself waiting for a commit: held. */
	if (!STAILQ_EMPTY(&c->held) || seq > store_committed()) {
		hold(c, seq, len);
		apply_backpressure(c);
		return;
	}
	sent = try_send_now(c, encode_buf, len);
	if (sent < len)
		bufferevent_write(c->bev, encode_buf + sent, len - sent);
	/* Deferred replies count too: a client pipelining waits that it
	 * never reads must stop being read as well. */
	apply_backpressure(c);
}

/* Read again once the backlog and the pending waits are down by half. */
static void
maybe_resume(struct conn *c)
{
	if (!c->paused || c->dead ||
	    out_backlog(c) > jobd.cfg.conn_out_high / 2 ||
	    c->waiting > WAITING_MAX / 2)
		return;
	c->paused = false;
	/* Time jobd spent not reading is not the client's: a line begun
	 * before the pause gets its whole deadline again. */
	if (c->partial_us != 0)
		c->partial_us = mono_us();
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	/* Handle what is already buffered from a fresh callback, not from
	 * inside whatever made us resume. */
	bufferevent_trigger(c->bev, EV_READ,
	    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void
conn_owe(struct conn *c, int replies, long ids)
{
	c->owed += replies;
	c->waiting = (size_t)((long)c->waiting + ids);
	if (ids > 0)
		apply_backpressure(c);
	else
		maybe_resume(c);
}

static void
reply_error(struct conn *c, enum proto_err code, const char *msg)
{
	json_t *reply = proto_error_reply(NULL, code, "%s", msg);

	counter_add(jobd.stats, COUNTER_protocol_errors, 1);
	conn_send(c, reply);
	json_decref(reply);
}

/* Say why, read no more, close once the reply is flushed. */
static void
refuse(struct conn *c, const json_t *id, enum proto_err code, const char *msg)
{
	json_t *reply = proto_error_reply(id, code, "%s", msg);

	counter_add(jobd.stats, COUNTER_protocol_errors, 1);
	conn_send(c, reply);
	json_decref(reply);
	c->input_done = true;
	c->discarding = true;
}

static void
auth_timer_free(struct conn *c)
{
	if (c->auth_timer != NULL) {
		event_free(c->auth_timer);
		c->auth_timer = NULL;
	}
}

/* A TLS handshake that failed costs the client its connection, nothing
 * more: no reply (there is no channel for one but OpenSSL's alert), no
 * delay. */
static void
tls_failed(struct conn *c, const char *reason)
{
	counter_add(jobd.stats, COUNTER_tls_handshake_failures, 1);
	log_info("connection %llu (%s): TLS handshake failed: %s",
	    (unsigned long long)c->id, c->peer, reason);
	c->tls_broken = true;
	tls_discard_input(c->bev);
	conn_free(c);
}

static void
handshake_over(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char msg[128];

	auth_timer_free(c);
	if (c->dead || c->authed)
		return;
	if (c->tls && !c->tls_up) {
		snprintf(msg, sizeof msg, "not finished within %llu ms",
		    (unsigned long long)jobd.cfg.auth_timeout_ms);
		tls_failed(c, msg);
		return;
	}
	counter_add(jobd.stats, COUNTER_auth_failures, 1);
	snprintf(msg, sizeof msg,
	    "no hello with a token within %llu ms; closing",
	    (unsigned long long)jobd.cfg.auth_timeout_ms);
	log_info("connection %llu (%s): %s", (unsigned long long)c->id, c->peer,
	    msg);
	refuse(c, NULL, PROTO_E_AUTH_REQUIRED, msg);
	if (!c->dead)
		maybe_close(c);
}

/* The delay after a bad token is over: say so and close. */
static void
auth_failed(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	auth_timer_free(c);
	if (c->dead)
		return;
	if (c->owed > 0)
		c->owed--;
	refuse(c, c->auth_id, PROTO_E_FORBIDDEN, "bad token; closing");
	json_decref(c->auth_id);
	c->auth_id = NULL;
	if (!c->dead)
		maybe_close(c);
}

static void
arm(struct conn *c, uint64_t ms, event_callback_fn fn)
{
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	auth_timer_free(c);
	c->auth_timer = evtimer_new(jobd.base, fn, c);
	evtimer_add(c->auth_timer, &tv);
}

/*
 * A request from a client not yet authenticated: a hello with the right
 * token lets it in (and is answered as usual), a hello without one is
 * answered (it says what is needed), a wrong token is refused after a
 * fixed delay, anything else at once.  Returns true if the request was
 * dealt with here.
 */
static bool
auth_gate(struct conn *c, const json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const json_t *token = json_object_get(req, "token");
	const json_t *id = json_object_get(req, "id");

	if (op != NULL && strcmp(op, "hello") == 0) {
		if (token == NULL)
			return false;
		if (json_is_string(token) &&
		    auth_check(
		        json_string_value(token), json_string_length(token))) {
			c->authed = true;
			auth_timer_free(c);
			log_debug("connection %llu (%s): authenticated",
			    (unsigned long long)c->id, c->peer);
			return false;
		}
		counter_add(jobd.stats, COUNTER_auth_failures, 1);
		log_notice("connection %llu (%s): bad token",
		    (unsigned long long)c->id, c->peer);
		/* Read no more; answer after the delay, then close. */
		c->input_done = true;
		c->discarding = true;
		c->owed++;
		c->auth_id =
		    id != NULL ? json_incref((json_t *)(uintptr_t)id) : NULL;
		arm(c, AUTH_FAIL_DELAY_MS, auth_failed);
		return true;
	}
	refuse(c, id, PROTO_E_AUTH_REQUIRED,
	    "authenticate first: {\"op\":\"hello\",\"token\":\"...\"} "
	    "with the token of jobd's --token-file; closing");
	return true;
}

static void
handle_line(struct conn *c, const char *line, size_t len)
{
	enum proto_err code;
	json_t *req, *reply;
	char msg[256];

	counter_add(jobd.stats, COUNTER_requests, 1);
	if (proto_decode(line, len, jobd.cfg.max_depth, &req, &code, msg,
	        sizeof msg) != 0) {
		if (code == PROTO_E_TOO_DEEP)
			counter_add(jobd.stats, COUNTER_requests_over_limit, 1);
		reply_error(c, code, msg);
		return;
	}
	if (!c->authed && auth_gate(c, req)) {
		json_decref(req);
		return;
	}
	reply = ops_dispatch(c, req);
	if (reply != NULL) {
		if (json_is_false(json_object_get(reply, "ok")))
			counter_add(jobd.stats, COUNTER_protocol_errors, 1);
		conn_send(c, reply);
		json_decref(reply);
	}
	json_decref(req);
}

/* The line was too long: say so, read no more, close once flushed. */
static void
refuse_line(struct conn *c)
{
	char msg[128];

	snprintf(msg, sizeof msg, "request line exceeds %zu bytes; closing",
	    jobd.cfg.max_line);
	counter_add(jobd.stats, COUNTER_requests_over_limit, 1);
	reply_error(c, PROTO_E_LINE_TOO_LONG, msg);
	c->input_done = true;
	c->discarding = true;
}

/*
 * Handle every complete line buffered (and at end of input, a last line
 * without its newline).  Returns true if the connection was freed.
 */
static bool
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr pos;
	size_t len, eol_len, line_len, content_len;
	const char *line;

	if (c->dead)
		return true;
	if (c->discarding) {
		c->discarded += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->eof || c->discarded > DISCARD_MAX) {
			conn_free(c);
			return true;
		}
		return maybe_close(c);
	}

	while (!c->input_done && !c->paused &&
	       (len = evbuffer_get_length(in)) > 0) {
		evbuffer_ptr_set(in, &pos, c->scanned, EVBUFFER_PTR_SET);
		pos = evbuffer_search_eol(in, &pos, &eol_len, EVBUFFER_EOL_LF);
		if (pos.pos < 0) {
			/* Room for max_line bytes and a "\r" awaiting "\n". */
			if (len > jobd.cfg.max_line + 1)
				refuse_line(c);
			else
				c->scanned = len;
			break;
		}
		line_len = (size_t)pos.pos;
		if (line_len > jobd.cfg.max_line + 1) {
			refuse_line(c);
			break;
		}
		line = (const char *)evbuffer_pullup(in, (ssize_t)line_len + 1);
		content_len = line_len > 0 && line[line_len - 1] == '\r'
		                  ? line_len - 1
		                  : line_len;
		if (content_len > jobd.cfg.max_line) {
			refuse_line(c);
			break;
		}
		counter_add(jobd.stats, COUNTER_bytes_in, line_len + 1);
		handle_line(c, line, content_len);
		if (c->dead)
			return true;
		evbuffer_drain(in, line_len + 1);
		c->scanned = 0;
	}
	if (c->eof && !c->paused && !c->input_done) {
		len = evbuffer_get_length(in);
		if (len > 0) {
			line = (const char *)evbuffer_pullup(in, (ssize_t)len);
			handle_line(c, line, len);
			if (c->dead)
				return true;
			evbuffer_drain(in, len);
		}
		c->input_done = true;
	}
	return maybe_close(c);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t before, after;

	c->active_us = mono_us();
	before = evbuffer_get_length(bufferevent_get_input(c->bev));
	if (conn_process(c))
		return;
	/*
	 * A line begun and not finished starts the line deadline; once a
	 * line is taken, what is left is a new line with a deadline of its
	 * own (a client pipelining fast always has one line half-read).
	 */
	after = evbuffer_get_length(bufferevent_get_input(c->bev));
	if (after == 0)
		c->partial_us = 0;
	else if (c->partial_us == 0 || after < before)
		c->partial_us = c->active_us;
}

/*
 * The deadlines, checked for every connection a few times a second: a
 * line begun must be finished within line_timeout (a client trickling a
 * byte at a time holds no connection for long), and a connection with
 * nothing pending (no reply owed, no watch) is closed after idle_timeout.
 */
static void
sweep(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = mono_us();
	struct conn *c, *next;
	char msg[128];

	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		/* Not reading at all while its waits keep answering: let it
		 * go before its backlog costs more.  (Here, not in
		 * conn_send(), whose callers may be walking the waiters.) */
		if (out_backlog(c) > jobd.cfg.conn_out_max) {
			counter_add(jobd.stats, COUNTER_conns_dropped, 1);
			conn_drop(c);
			continue;
		}
		if (c->input_done || !c->authed)
			continue;
		if (c->partial_us != 0 && !c->paused &&
		    now - c->partial_us > jobd.cfg.line_timeout_ms * 1000) {
			snprintf(msg, sizeof msg,
			    "a request line unfinished after %llu ms; closing",
			    (unsigned long long)jobd.cfg.line_timeout_ms);
		} else if (c->owed == 0 && c->partial_us == 0 &&
		           now - c->active_us >
		               jobd.cfg.idle_timeout_ms * 1000 &&
		           !ops_conn_watching(c)) {
			snprintf(msg, sizeof msg, "idle for %llu ms; closing",
			    (unsigned long long)jobd.cfg.idle_timeout_ms);
		} else
			continue;
		counter_add(jobd.stats, COUNTER_conns_timed_out, 1);
		log_info("connection %llu (%s): %s", (unsigned long long)c->id,
		    c->peer, msg);
		refuse(c, NULL, PROTO_E_TIMEOUT, msg);
		evbuffer_drain(bufferevent_get_input(c->bev),
		    evbuffer_get_length(bufferevent_get_input(c->bev)));
		if (!c->dead)
			maybe_close(c);
	}
}

static void
conn_written(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	c->active_us = mono_us();
	if (c->dead || maybe_close(c))
		return;
	ops_conn_drained(c);
	maybe_resume(c);
}

/* A TLS connection's handshake: done, or failed. */
static void
tls_event(struct conn *c, short what)
{
	char text[256];

	if (what & BEV_EVENT_CONNECTED) {
		c->tls_up = true;
		counter_add(jobd.stats, COUNTER_tls_conns, 1);
		if (log_get_level() >= LOG_LEVEL_DEBUG) {
			tls_describe(c->bev, text, sizeof text);
			log_debug("connection %llu (%s): %s",
			    (unsigned long long)c->id, c->peer, text);
		}
		return;
	}
	tls_failure_reason(c->bev, text, sizeof text);
	tls_failed(c, text);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char text[256];

	if (c->dead)
		return;
	if (c->tls && !c->tls_up) {
		tls_event(c, what);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Half-closed: answer what is buffered, deliver what is owed.
		 */
		c->eof = true;
		conn_process(c);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->tls) {
		/* Also a client closing without close_notify. */
		c->tls_broken = true;
		tls_failure_reason(c->bev, text, sizeof text);
		log_debug("connection %llu (%s): TLS: %s",
		    (unsigned long long)c->id, c->peer, text);
	} else if (what & BEV_EVENT_ERROR)
		log_debug("connection %llu (%s): %s", (unsigned long long)c->id,
		    c->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
}

struct conn *
conn_accept(int fd, const char *peer, const struct conn_cred *cred)
{
	struct conn *c;
	char line[192];
	bool tls = cred == NULL && tls_enabled();
	int n;

	if (nconns >= jobd.cfg.max_conns) {
		counter_add(jobd.stats, COUNTER_conns_over_limit, 1);
		/* A TLS client would take the line for a broken record:
		 * it is just closed. */
		if (tls) {
			evutil_closesocket(fd);
			return NULL;
		}
		n = snprintf(line, sizeof line,
		    "{\"id\":null,\"ok\":false,\"error\":{\"code\":"
		    "\"too_many_connections\",\"message\":\"%zu connections "
		    "open, the limit; try again later\"}}\n",
		    nconns);
		(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		evutil_closesocket(fd);
		return NULL;
	}
	if (sweeper == NULL) {
		struct timeval tv = {0, SWEEP_MS * 1000};

		sweeper = event_new(jobd.base, -1, EV_PERSIST, sweep, NULL);
		event_add(sweeper, &tv);
	}
	c = xcalloc(1, sizeof(*c));
	STAILQ_INIT(&c->held);
	c->active_us = mono_us();
	c->id = next_conn_id++;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	if (cred != NULL) {
		c->cred = *cred;
		c->authed = true;
	} else
		c->cred = *ident_tcp();
	c->tls = tls;
	if (tls)
		c->bev = tls_bufferevent_new(jobd.base, fd); /* see there */
	else if ((c->bev = bufferevent_socket_new(
	              jobd.base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		evutil_closesocket(fd);
	if (c->bev == NULL) {
		log_warn("connection from %s: cannot set up", peer);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_read, conn_written, conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&conns, c, link);
	nconns++;
	if (!c->authed)
		arm(c, jobd.cfg.auth_timeout_ms, handshake_over);
	counter_add(jobd.stats, COUNTER_conns_total, 1);
	gauge_add(jobd.stats, GAUGE_conns_current, 1);
	log_debug("connection %llu from %s", (unsigned long long)c->id, peer);
	return c;
}

static void
reap(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c;

	while ((c = LIST_FIRST(&graveyard)) != NULL) {
		LIST_REMOVE(c, link);
		bufferevent_free(c->bev);
		free(c);
	}
	if (closing_all && nconns == 0)
		event_base_loopbreak(jobd.base);
}

/* Retire c (see the graveyard above). */
static void
conn_free(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	/* Say goodbye properly over TLS; never waits. */
	if (c->tls && c->tls_up && !c->tls_broken)
		tls_close_notify(c->bev);
	auth_timer_free(c);
	json_decref(c->auth_id);
	c->auth_id = NULL;
	held_free(c);
	ops_conn_closed(c);
	LIST_REMOVE(c, link);
	nconns--;
	gauge_add(jobd.stats, GAUGE_conns_current, -1);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&graveyard, c, link);
	if (reaper == NULL)
		reaper = event_new(jobd.base, -1, 0, reap, NULL);
	event_active(reaper, 0, 0);
}

void
conn_close_all(bool now)
{
	struct conn *c, *next;

	closing_all = true;
	if (now) {
		free(encode_buf);
		encode_buf = NULL;
		encode_cap = 0;
	}
	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		c->input_done = true;
		c->owed = 0;
		bufferevent_disable(c->bev, EV_READ);
		if (now)
			conn_free(c);
		else
			maybe_close(c);
	}
	if (sweeper != NULL) {
		event_free(sweeper);
		sweeper = NULL;
	}
	if (now) {
		reap(-1, 0, NULL);
		if (reaper != NULL)
			event_free(reaper);
		reaper = NULL;
	}
}
