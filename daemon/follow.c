/*
 * follow: live output of jobs to the clients following them (see follow.h).
 *
 * DESIGN
 *
 * A job with followers has a struct follow_job (job_run_mut(job)->follow)
 * listing them; every follower is also on one global list, which the connection
 * hooks scan.  While the job's process runs, exec calls follow_output() for
 * each chunk it reads; the callback is installed when the first follower comes
 * (or by the scheduler when an attempt starts with followers waiting) and
 * removed with the last one, so a job nobody follows costs exec a pointer
 * test per chunk and nothing else.
 *
 * A chunk is encoded once and the same line goes to every follower.  A
 * chunk may end inside a UTF-8 character; those trailing bytes (at most
 * three) are carried over to the next chunk of the stream, so text does
 * not turn into base64 just because a read split a character.  The carry
 * belongs to the job, not to a follower: a follower that joins late is sent
 * the kept output up to the carry and gets the carried bytes with the next
 * chunk, like everyone else.  What is still carried when an attempt ends
 * goes out then (as base64: it is not UTF-8 on its own).
 *
 * Flow control: a follower whose connection has more than conn_out_high
 * bytes unread gets no more chunks; their bytes are counted.  Once the
 * connection has caught up (everything written, or less than half the
 * limit unread when the next chunk comes), one output_dropped line says how
 * many bytes were missed, and chunks flow again.  Markers, output_dropped
 * and the final line are always sent: they are small and one per attempt.
 * The job and other clients never wait for a follower.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conn.h"
#include "exec.h"
#include "follow.h"
#include "job.h"
#include "jobd.h"
#include "proto.h"
#include "xmalloc.h"

struct follow_job;

struct follower {
	struct conn *conn;
	json_t *req_id;        /* the request's id, or NULL */
	struct follow_job *fj; /* NULL until registered */
	bool dropping;         /* over the limit: chunks are counted */
	uint64_t dropped;      /* bytes missed, not yet reported */
	uint32_t drop_attempt; /* the attempt they belong to */
	LIST_ENTRY(follower) job_link;
	LIST_ENTRY(follower) all_link;
};

struct follow_job {
	struct job *job;
	LIST_HEAD(, follower) followers;
	/* Per stream: the end of an incomplete UTF-8 character. */
	char carry[2][4];
	size_t carry_len[2];
};

static LIST_HEAD(, follower) all = LIST_HEAD_INITIALIZER(all);
/* Followers in dropping state: most drained connections have none. */
static size_t ndropping;

static const char *const stream_names[] = {"stdout", "stderr"};

/* --- UTF-8 ------------------------------------------------------------------
 */

/*
 * How many bytes at the end of s (0 to 3) begin a UTF-8 character that a
 * later byte could still complete.
 */
static size_t
utf8_incomplete_tail(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lead, next;
	size_t i, need;

	for (i = 1; i <= 3 && i <= len; i++) {
		lead = u[len - i];
		if ((lead & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (lead >= 0xc2 && lead <= 0xdf)
			need = 2;
		else if (lead >= 0xe0 && lead <= 0xef)
			need = 3;
		else if (lead >= 0xf0 && lead <= 0xf4)
			need = 4;
		else
			return 0;
		if (i >= need)
			return 0;
		if (i >= 2) {
			/* The second byte's range depends on the lead. */
			next = u[len - i + 1];
			if ((lead == 0xe0 && next < 0xa0) ||
			    (lead == 0xed && next > 0x9f) ||
			    (lead == 0xf0 && next < 0x90) ||
			    (lead == 0xf4 && next > 0x8f))
				return 0;
		}
		return i;
	}
	return 0;
}

/* --- Lines ------------------------------------------------------------------
 */

/*
 * {"id":null,"ok":true,"event":EVENT,"job":N,"attempt":K}; the id is set
 * per follower (null for a request without one, as watch events have).
 */
static json_t *
event_line(const struct job *job, const char *event, uint32_t attempt)
{
	json_t *msg = proto_ok_reply(json_null());

	json_object_set_new(msg, "event", json_string(event));
	json_object_set_new(msg, "job", json_integer((json_int_t)job->id));
	json_object_set_new(msg, "attempt", json_integer((json_int_t)attempt));
	return msg;
}

static json_t *
output_line(const struct job *job, int stream, const char *data, size_t len)
{
	json_t *msg = event_line(job, "output", job->run->nattempts);
	struct buf b = {(char *)(uintptr_t)data, len, len, false};

	json_object_set_new(
	    msg, "stream", json_string(stream_names[stream - 1]));
	job_output_json(msg, "data", &b);
	return msg;
}

/* The last line: the job's final state and its last attempt's end. */
static json_t *
finished_line(struct job *job)
{
	const struct attempt *a = job_attempt_last(job);
	json_t *msg = event_line(job, "finished", job_run_mut(job)->nattempts);

	json_object_set_new(
	    msg, "state", json_string(job_state_name(job->state)));
	if (a == NULL || a->ended_ms == 0)
		return msg;
	json_object_set_new(
	    msg, "outcome", json_string(attempt_outcome_name(a->outcome)));
	if (a->exit_code >= 0)
		json_object_set_new(
		    msg, "exit_code", json_integer(a->exit_code));
	if (a->signal != 0)
		json_object_set_new(msg, "signal", json_integer(a->signal));
	if (a->error != NULL)
		json_object_set_new(msg, "error", json_string(a->error));
	return msg;
}

static void
send_to(struct follower *f, json_t *msg)
{
	json_object_set(msg, "id", f->req_id != NULL ? f->req_id : json_null());
	conn_send(f->conn, msg);
}

/* Report the bytes f missed, if any. */
static void
flush_dropped(struct follower *f, const struct job *job)
{
	json_t *msg;

	if (f->dropping) {
		f->dropping = false;
		ndropping--;
	}
	if (f->dropped == 0)
		return;
	msg = event_line(job, "output_dropped", f->drop_attempt);
	json_object_set_new(msg, "bytes", json_integer((json_int_t)f->dropped));
	send_to(f, msg);
	json_decref(msg);
	f->dropped = 0;
}

/* Count len bytes of attempt as missed by f. */
static void
note_dropped(struct follower *f, const struct job *job, uint64_t len)
{
	if (f->dropped == 0)
		f->drop_attempt = job->run->nattempts;
	f->dropped += len;
}

/*
 * May a chunk go to f now?  Past the connection's limit f starts dropping;
 * it stops once less than half the limit is unread.
 */
static bool
may_send(struct follower *f, const struct job *job)
{
	size_t backlog = conn_backlog(f->conn);

	if (f->dropping) {
		if (backlog > jobd.cfg.conn_out_high / 2)
			return false;
		flush_dropped(f, job);
	}
	if (backlog > jobd.cfg.conn_out_high) {
		f->dropping = true;
		ndropping++;
		return false;
	}
	return true;
}

/* One piece of output to one follower, or counted as dropped. */
static void
send_output(struct follower *f, const struct job *job, int stream,
    const char *data, size_t len)
{
	json_t *msg;

	if (len == 0)
		return;
	if (!may_send(f, job)) {
		note_dropped(f, job, len);
		return;
	}
	msg = output_line(job, stream, data, len);
	send_to(f, msg);
	json_decref(msg);
}

/* Output every follower of fj should get (or count as dropped). */
static void
fan_out(struct follow_job *fj, int stream, const char *data, size_t len)
{
	struct follower *f;
	json_t *msg = NULL;

	if (len == 0)
		return;
	LIST_FOREACH(f, &fj->followers, job_link)
	{
		if (!may_send(f, fj->job)) {
			note_dropped(f, fj->job, len);
			continue;
		}
		if (msg == NULL)
			msg = output_line(fj->job, stream, data, len);
		send_to(f, msg);
	}
	json_decref(msg);
}

/* --- Registry ---------------------------------------------------------------
 */

static struct follow_job *
follow_job_get(struct job *job)
{
	struct follow_job *fj = job_run_mut(job)->follow;
	const char *kept;
	size_t len;
	bool truncated;
	int s;

	if (fj != NULL)
		return fj;
	fj = xcalloc(1, sizeof(*fj));
	fj->job = job;
	LIST_INIT(&fj->followers);
	job_run_mut(job)->follow = fj;
	if (job_run_mut(job)->proc == NULL)
		return fj;
	/* The process already runs: carry the end of a character it has not
	 * finished writing, as the callback would have. */
	for (s = 1; s <= 2; s++) {
		kept = exec_output(job_run_mut(job)->proc, s, &len, &truncated);
		if (truncated)
			continue;
		fj->carry_len[s - 1] = utf8_incomplete_tail(kept, len);
		memcpy(fj->carry[s - 1], kept + len - fj->carry_len[s - 1],
		    fj->carry_len[s - 1]);
	}
	exec_set_output(job_run_mut(job)->proc, follow_output);
	return fj;
}

static void
follower_free(struct follower *f)
{
	struct follow_job *fj = f->fj;

	if (f->dropping)
		ndropping--;
	if (fj != NULL) {
		LIST_REMOVE(f, job_link);
		LIST_REMOVE(f, all_link);
		conn_owe(f->conn, -1, -1);
		if (LIST_EMPTY(&fj->followers)) {
			/* The last one: the job goes back to costing nothing.
			 */
			if (job_run_mut(fj->job)->proc != NULL)
				exec_set_output(
				    job_run_mut(fj->job)->proc, NULL);
			job_run_mut(fj->job)->follow = NULL;
			free(fj);
		}
	}
	json_decref(f->req_id);
	free(f);
}

/* --- Starting a follow -------------------------------------------------------
 */

/*
 * The held output of a stream for a new follower: kept bytes up to what
 * the job still carries, then how many were not kept.  total counts the
 * carried bytes too.
 */
static void
send_kept(struct follower *f, const struct job *job, int stream,
    const char *kept, size_t len, uint64_t total, size_t carried)
{
	uint64_t upto = total - carried;
	size_t n = len < upto ? len : (size_t)upto;

	/* A cut at the output cap may split a character: count it as
	 * missed rather than turning the rest into base64. */
	if (n < upto)
		n -= utf8_incomplete_tail(kept, n);
	send_output(f, job, stream, kept, n);
	if (upto > n) {
		note_dropped(f, job, upto - n);
		if (!f->dropping)
			flush_dropped(f, job);
	}
}

static void
send_held_output(struct follower *f, struct job *job)
{
	const char *kept;
	size_t len;
	bool truncated;
	int s;

	for (s = 1; s <= 2; s++) {
		if (job_run_mut(job)->proc != NULL) {
			kept = exec_output(
			    job_run_mut(job)->proc, s, &len, &truncated);
			send_kept(f, job, s, kept, len,
			    exec_output_total(job_run_mut(job)->proc, s),
			    job_run_mut(job)->follow->carry_len[s - 1]);
		} else {
			const struct buf *b = s == 1 ? &job_run_mut(job)->out
			                             : &job_run_mut(job)->err;

			send_kept(f, job, s, b->data != NULL ? b->data : "",
			    b->len, b->total > b->len ? b->total : b->len, 0);
		}
	}
}

void
follow_start(struct conn *c, const json_t *req_id, struct job *job)
{
	struct follower *f = xcalloc(1, sizeof(*f));
	json_t *msg;

	f->conn = c;
	f->req_id = req_id != NULL ? json_deep_copy(req_id) : NULL;
	msg = proto_ok_reply(req_id != NULL ? req_id : json_null());
	json_object_set_new(msg, "job", json_integer((json_int_t)job->id));
	json_object_set_new(
	    msg, "state", json_string(job_state_name(job->state)));
	json_object_set_new(msg, "following", json_true());
	conn_send(c, msg);
	json_decref(msg);

	/* A running process is tapped before its held output is read, so
	 * nothing falls between the two. */
	if (job_run_mut(job)->proc != NULL)
		follow_job_get(job);
	if (job->kind == KIND_EXEC && job_run_mut(job)->nattempts > 0) {
		msg = event_line(job, "attempt", job_run_mut(job)->nattempts);
		send_to(f, msg);
		json_decref(msg);
		send_held_output(f, job);
	}
	if (job_finished(job)) {
		flush_dropped(f, job);
		msg = finished_line(job);
		/* Reported finished means finished on disk, as for wait. */
		conn_hold(f->conn, job->store_seq);
		send_to(f, msg);
		json_decref(msg);
		follower_free(f);
		return;
	}
	f->fj = follow_job_get(job);
	LIST_INSERT_HEAD(&f->fj->followers, f, job_link);
	LIST_INSERT_HEAD(&all, f, all_link);
	/* Like a wait: owed a final line, and counted against the client. */
	conn_owe(c, 1, 1);
}

/* --- While the job runs ------------------------------------------------------
 */

void
follow_output(int stream, const char *data, size_t len, void *arg)
{
	struct job *job = arg;
	struct follow_job *fj = job_run_mut(job)->follow;
	size_t carried, total, hold;
	char *joined = NULL;
	const char *text = data;

	if (fj == NULL)
		return;
	carried = fj->carry_len[stream - 1];
	total = carried + len;
	if (carried > 0) {
		joined = xmalloc(total);
		memcpy(joined, fj->carry[stream - 1], carried);
		memcpy(joined + carried, data, len);
		text = joined;
	}
	hold = utf8_incomplete_tail(text, total);
	fan_out(fj, stream, text, total - hold);
	memcpy(fj->carry[stream - 1], text + total - hold, hold);
	fj->carry_len[stream - 1] = hold;
	free(joined);
}

/* An attempt is over: what is still carried will never be completed. */
static void
flush_carry(struct follow_job *fj)
{
	int s;

	for (s = 1; s <= 2; s++) {
		fan_out(fj, s, fj->carry[s - 1], fj->carry_len[s - 1]);
		fj->carry_len[s - 1] = 0;
	}
}

void
follow_job_event(struct job *job, const char *event)
{
	struct follow_job *fj = job_run_mut(job)->follow;
	struct follower *f;
	json_t *msg;

	if (fj == NULL)
		return;
	if (strcmp(event, "started") == 0) {
		fj->carry_len[0] = fj->carry_len[1] = 0;
		if (job->kind != KIND_EXEC)
			return;
		msg = event_line(job, "attempt", job_run_mut(job)->nattempts);
		LIST_FOREACH(f, &fj->followers, job_link)
		{
			flush_dropped(f, job);
			send_to(f, msg);
		}
		json_decref(msg);
		return;
	}
	if (strcmp(event, "retrying") != 0 && strcmp(event, "finished") != 0)
		return;
	flush_carry(fj);
	if (!job_finished(job))
		return;
	msg = finished_line(job);
	/* Freeing the last follower frees fj and clears
	 * job_run_mut(job)->follow. */
	while (job_run_mut(job)->follow != NULL &&
	       (f = LIST_FIRST(&job_run_mut(job)->follow->followers)) != NULL) {
		flush_dropped(f, job);
		conn_hold(f->conn, job->store_seq);
		send_to(f, msg);
		follower_free(f);
	}
	json_decref(msg);
}

/* --- Connections -------------------------------------------------------------
 */

void
follow_conn_closed(struct conn *c)
{
	struct follower *f, *next;

	for (f = LIST_FIRST(&all); f != NULL; f = next) {
		next = LIST_NEXT(f, all_link);
		if (f->conn == c)
			follower_free(f);
	}
}

void
follow_conn_drained(struct conn *c)
{
	struct follower *f;

	if (ndropping == 0)
		return;
	LIST_FOREACH(f, &all, all_link)
	{
		if (f->conn == c && f->dropping)
			flush_dropped(f, f->fj->job);
	}
}

void
follow_stop(void)
{
	struct follower *f;
	json_t *reply;

	while ((f = LIST_FIRST(&all)) != NULL) {
		reply = proto_error_reply(f->req_id, PROTO_E_SHUTTING_DOWN,
		    "jobd is stopping; job %llu did not finish",
		    (unsigned long long)f->fj->job->id);
		conn_send(f->conn, reply);
		json_decref(reply);
		follower_free(f);
	}
}

void
follow_free(void)
{
	while (!LIST_EMPTY(&all))
		follower_free(LIST_FIRST(&all));
}
