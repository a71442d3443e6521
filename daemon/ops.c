/*
 * ops: request handlers, waiters and watchers (see ops.h).
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"
#include "counters.h"
#include "exec.h"
#include "follow.h"
#include "ident.h"
#include "jobd.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "pool.h"
#include "proto.h"
#include "queue.h"
#include "recur.h"
#include "persist.h"
#include "sched.h"
#include "store.h"
#include "xmalloc.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 10000
#define WAIT_IDS_MAX 100000
#define REPLY_OUTPUT_MAX (64 * 1024 * 1024)

/* A request being answered: what every handler needs. */
struct req {
	struct conn *conn;
	const json_t *body;
	const json_t *id;
	const char *op;
};

struct waiter;

/* One job a waiter waits for; linked into job->waiters until it ends. */
struct waitref {
	LIST_ENTRY(waitref) link;
	struct waiter *waiter;
	struct job *job; /* valid while linked */
	uint64_t id;
	bool linked;
};

struct waiter {
	struct conn *conn;
	json_t *req_id;
	bool single; /* reply "job" rather than "jobs" */
	bool output; /* include stdout/stderr */
	size_t n, remaining;
	struct waitref *refs;
	struct event *timer;
	LIST_ENTRY(waiter) link;
};

struct watcher {
	struct conn *conn;
	json_t *req_id;
	uint64_t *ids; /* NULL: every job */
	size_t nids;
	char *queue; /* NULL: every queue */
	LIST_ENTRY(watcher) link;
};

static LIST_HEAD(, waiter) waiters = LIST_HEAD_INITIALIZER(waiters);
static LIST_HEAD(, watcher) watchers = LIST_HEAD_INITIALIZER(watchers);

/* --- Replies -----------------------------------------------------------------
 */

static json_t *fail(const struct req *r, enum proto_err code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static json_t *
fail(const struct req *r, enum proto_err code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return proto_error_reply(r->id, code, "%s", msg);
}

static json_t *
ok(const struct req *r)
{
	return proto_ok_reply(r->id);
}

/* Refuse fields the op does not know: a typo should not pass silently. */
static json_t *
check_fields(const struct req *r, const char *const *allowed)
{
	const char *key;
	json_t *value;
	size_t i;

	json_object_foreach((json_t *)(uintptr_t)r->body, key, value)
	{
		if (strcmp(key, "op") == 0 || strcmp(key, "id") == 0)
			continue;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0)
				break;
		}
		if (allowed[i] == NULL)
			return fail(r, PROTO_E_BAD_REQUEST,
			    "%s: unknown field \"%.64s\"", r->op, key);
	}
	return NULL;
}

/* An optional boolean; *out keeps its default when absent. */
static json_t *
get_bool(const struct req *r, const char *key, bool *out)
{
	const json_t *v = json_object_get(r->body, key);

	if (v == NULL)
		return NULL;
	if (!json_is_boolean(v))
		return fail(
		    r, PROTO_E_BAD_REQUEST, "%s must be true or false", key);
	*out = json_is_true(v);
	return NULL;
}

static json_t *
get_uint(const struct req *r, const char *key, uint64_t lo, uint64_t hi,
    uint64_t *out)
{
	const json_t *v = json_object_get(r->body, key);
	json_int_t n;

	if (v == NULL)
		return NULL;
	if (!json_is_integer(v))
		return fail(
		    r, PROTO_E_BAD_REQUEST, "%s must be an integer", key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < lo || (uint64_t)n > hi)
		return fail(r, PROTO_E_OUT_OF_RANGE,
		    "%s must be from %" PRIu64 " to %" PRIu64, key, lo, hi);
	*out = (uint64_t)n;
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Refuse a list that names a job twice: it would only make the reply (and
 * the daemon's memory) grow with nothing new in it.
 */
static json_t *
check_unique(const struct req *r, uint64_t **ids, size_t n)
{
	uint64_t *sorted;
	json_t *reply = NULL;
	size_t i;

	if (n < 2)
		return NULL;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, *ids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	for (i = 1; i < n && reply == NULL; i++) {
		if (sorted[i] == sorted[i - 1])
			reply = fail(r, PROTO_E_BAD_REQUEST,
			    "jobs lists job %" PRIu64 " more than once",
			    sorted[i]);
	}
	free(sorted);
	if (reply != NULL) {
		free(*ids);
		*ids = NULL;
	}
	return reply;
}

/*
 * The job ids of a request: "job": ID or "jobs": [ID, ...].  *single tells
 * which was used (the reply mirrors it).
 */
static json_t *
get_ids(const struct req *r, uint64_t **ids, size_t *n, bool *single)
{
	const json_t *one = json_object_get(r->body, "job");
	const json_t *many = json_object_get(r->body, "jobs");
	const json_t *v;
	size_t i;

	*ids = NULL;
	if ((one == NULL) == (many == NULL))
		return fail(r, PROTO_E_BAD_REQUEST,
		    "%s needs \"job\": ID or \"jobs\": [ID, ...]", r->op);
	if (one != NULL) {
		*single = true;
		*n = 1;
	} else {
		*single = false;
		if (!json_is_array(many) || json_array_size(many) == 0 ||
		    json_array_size(many) > WAIT_IDS_MAX)
			return fail(r, PROTO_E_BAD_REQUEST,
			    "jobs must be an array of 1 to %d job ids",
			    WAIT_IDS_MAX);
		*n = json_array_size(many);
	}
	*ids = xcalloc(*n, sizeof(**ids));
	for (i = 0; i < *n; i++) {
		v = one != NULL ? one : json_array_get(many, i);
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			free(*ids);
			*ids = NULL;
			return fail(r, PROTO_E_BAD_REQUEST,
			    "%s must be a positive integer job id",
			    one != NULL ? "job" : "jobs[]");
		}
		(*ids)[i] = (uint64_t)json_integer_value(v);
	}
	return check_unique(r, ids, *n);
}

/* Look every id up; not_found names the first unknown one. */
static json_t *
find_jobs(
    const struct req *r, const uint64_t *ids, size_t n, struct job ***jobs)
{
	size_t i;

	const struct conn_cred *who = conn_who(r->conn);

	*jobs = xcalloc(n, sizeof(**jobs));
	for (i = 0; i < n; i++) {
		if (((*jobs)[i] = sched_find(ids[i])) == NULL) {
			free(*jobs);
			*jobs = NULL;
			return fail(r, PROTO_E_NOT_FOUND,
			    "no job %" PRIu64 " (never submitted, or "
			    "dropped by retention)",
			    ids[i]);
		}
		if (!ident_may(who, (*jobs)[i]->owner)) {
			free(*jobs);
			*jobs = NULL;
			return fail(r, PROTO_E_FORBIDDEN,
			    "job %" PRIu64 " belongs to another user", ids[i]);
		}
	}
	return NULL;
}

/* get_ids, then find_jobs: the jobs a request names, all of them known. */
static json_t *
get_jobs(const struct req *r, struct job ***jobs, size_t *n, bool *single)
{
	uint64_t *ids;
	json_t *reply;

	*jobs = NULL;
	if ((reply = get_ids(r, &ids, n, single)) != NULL)
		return reply;
	reply = find_jobs(r, ids, *n, jobs);
	free(ids);
	return reply;
}

/* What add_jobs renders: a summary, or job_to_json with JOB_JSON_* flags. */
#define AS_SUMMARY 0x80000000u

static json_t *
render(const struct job *job, unsigned flags)
{
	return flags == AS_SUMMARY ? job_summary_json(job)
	                           : job_to_json(job, flags);
}

/*
 * Output is left out of a reply whose jobs' output adds up to more than
 * REPLY_OUTPUT_MAX ("output_omitted": true); `logs` gets it job by job.
 */
static unsigned
output_budget(json_t *reply, struct job **jobs, size_t n, unsigned flags)
{
	size_t i, total = 0;

	if (!(flags & JOB_JSON_OUTPUT))
		return flags;
	for (i = 0; i < n; i++) {
		if (jobs[i] != NULL)
			total += jobs[i]->run->out.len + jobs[i]->run->err.len;
	}
	if (total <= REPLY_OUTPUT_MAX)
		return flags;
	json_object_set_new(reply, "output_omitted", json_true());
	return flags & ~JOB_JSON_OUTPUT;
}

/* Add "job": {...} or "jobs": [...] to a reply. */
static void
add_jobs(
    json_t *reply, struct job **jobs, size_t n, bool single, unsigned flags)
{
	json_t *arr;
	size_t i;

	if (flags != AS_SUMMARY)
		flags = output_budget(reply, jobs, n, flags);

	if (single) {
		json_object_set_new(reply, "job", render(jobs[0], flags));
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, render(jobs[i], flags));
	json_object_set_new(reply, "jobs", arr);
}

/* --- Waiters -----------------------------------------------------------------
 */

static void
waiter_free(struct waiter *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		if (w->refs[i].linked)
			LIST_REMOVE(&w->refs[i], link);
	}
	if (w->timer != NULL)
		event_free(w->timer);
	LIST_REMOVE(w, link);
	json_decref(w->req_id);
	free(w->refs);
	free(w);
}

/*
 * The batch a reply reporting jobs must wait for: the last their changes
 * went into (0, or one committed long ago, for jobs that have not
 * changed since: such a reply goes out at once, even while the store
 * cannot write).
 */
static uint64_t
jobs_store_seq(struct job *const *jobs, size_t n)
{
	uint64_t seq = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (jobs[i] != NULL && jobs[i]->store_seq > seq)
			seq = jobs[i]->store_seq;
	}
	return seq;
}

/* Send the waiter's reply and free it. */
static void
waiter_reply(struct waiter *w, bool timed_out)
{
	struct req r = {w->conn, NULL, w->req_id, "wait"};
	struct job **jobs = xcalloc(w->n, sizeof(*jobs));
	json_t *reply = ok(&r), *arr;
	unsigned flags;
	size_t i;

	/* Look the jobs up again: a finished one may have been dropped by
	 * retention while others ran. */
	for (i = 0; i < w->n; i++)
		jobs[i] = sched_find(w->refs[i].id);
	flags = output_budget(
	    reply, jobs, w->n, w->output && !timed_out ? JOB_JSON_OUTPUT : 0);
	arr = json_array();
	for (i = 0; i < w->n; i++) {
		json_array_append_new(arr,
		    jobs[i] == NULL
		        ? json_pack("{s:I, s:s}", "id",
		              (json_int_t)w->refs[i].id, "state", "dropped")
		        : job_to_json(jobs[i], flags));
	}
	if (w->single) {
		json_object_set(reply, "job", json_array_get(arr, 0));
		json_decref(arr);
	} else
		json_object_set_new(reply, "jobs", arr);
	json_object_set_new(reply, "timed_out", json_boolean(timed_out));
	conn_owe(w->conn, -1, -(long)w->n);
	/* Jobs reported finished are finished on disk too. */
	conn_hold(w->conn, jobs_store_seq(jobs, w->n));
	conn_send(w->conn, reply);
	json_decref(reply);
	free(jobs);
	waiter_free(w);
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	waiter_reply(arg, true);
}

/*
 * Reply now if every job has finished, else register a waiter (the jobs
 * cannot be dropped by retention while unfinished).
 */
static json_t *
wait_for(const struct req *r, struct job **jobs, size_t n, bool single,
    bool output, uint64_t timeout_ms, bool has_timeout)
{
	struct waiter *w;
	struct timeval tv;
	json_t *reply;
	size_t i, remaining = 0;

	for (i = 0; i < n; i++)
		remaining += !job_finished(jobs[i]);
	if (remaining == 0 || (has_timeout && timeout_ms == 0)) {
		reply = ok(r);
		add_jobs(reply, jobs, n, single,
		    output && remaining == 0 ? JOB_JSON_OUTPUT : 0);
		json_object_set_new(
		    reply, "timed_out", json_boolean(remaining != 0));
		conn_hold(r->conn, jobs_store_seq(jobs, n));
		return reply;
	}
	w = xcalloc(1, sizeof(*w));
	w->conn = r->conn;
	w->req_id = r->id != NULL ? json_deep_copy(r->id) : NULL;
	w->single = single;
	w->output = output;
	w->n = n;
	w->remaining = remaining;
	w->refs = xcalloc(n, sizeof(*w->refs));
	for (i = 0; i < n; i++) {
		w->refs[i].waiter = w;
		w->refs[i].job = jobs[i];
		w->refs[i].id = jobs[i]->id;
		if (!job_finished(jobs[i])) {
			LIST_INSERT_HEAD(&jobs[i]->waiters, &w->refs[i], link);
			w->refs[i].linked = true;
		}
	}
	if (has_timeout) {
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		w->timer = evtimer_new(jobd.base, waiter_timeout, w);
		evtimer_add(w->timer, &tv);
	}
	LIST_INSERT_HEAD(&waiters, w, link);
	conn_owe(r->conn, 1, (long)n);
	return NULL;
}

/* --- Watchers
 * ------------------------------------------------------------------ */

static bool
watcher_wants(const struct watcher *w, const struct job *job)
{
	size_t i;

	if (w->queue != NULL && strcmp(w->queue, queue_name(job->queue)) != 0)
		return false;
	if (!ident_may(conn_who(w->conn), job->owner))
		return false;
	if (w->ids == NULL)
		return true;
	for (i = 0; i < w->nids; i++) {
		if (w->ids[i] == job->id)
			return true;
	}
	return false;
}

static void
watcher_free(struct watcher *w)
{
	LIST_REMOVE(w, link);
	json_decref(w->req_id);
	free(w->queue);
	free(w->ids);
	free(w);
}

/* The scheduler's hook: wake waiters, tell watchers. */
static void
job_event(struct job *job, const char *event)
{
	struct waitref *ref, *next_ref;
	struct watcher *w, *next_w;
	json_t *msg = NULL;

	if (job->run->follow != NULL)
		follow_job_event(job, event);
	for (w = LIST_FIRST(&watchers); w != NULL; w = next_w) {
		next_w = LIST_NEXT(w, link);
		if (!watcher_wants(w, job))
			continue;
		if (conn_backlog(w->conn) > 4 * jobd.cfg.conn_out_high) {
			/* It does not read its stream: drop it. */
			conn_drop(w->conn);
			continue;
		}
		if (msg == NULL)
			msg = json_pack("{s:s, s:o, s:o}", "event", event,
			    "time", json_time(now_ms()), "job",
			    job_summary_json(job));
		json_object_set(
		    msg, "id", w->req_id != NULL ? w->req_id : json_null());
		conn_send(w->conn, msg);
	}
	json_decref(msg);
	if (!job_finished(job))
		return;
	for (ref = LIST_FIRST(&job->waiters); ref != NULL; ref = next_ref) {
		next_ref = LIST_NEXT(ref, link);
		LIST_REMOVE(ref, link);
		ref->linked = false;
		if (--ref->waiter->remaining == 0)
			waiter_reply(ref->waiter, false);
	}
}

bool
ops_conn_watching(const struct conn *c)
{
	const struct watcher *v;

	LIST_FOREACH(v, &watchers, link)
	{
		if (v->conn == c)
			return true;
	}
	return false;
}

void
ops_conn_closed(struct conn *c)
{
	struct waiter *w, *next_w;
	struct watcher *v, *next_v;

	for (w = LIST_FIRST(&waiters); w != NULL; w = next_w) {
		next_w = LIST_NEXT(w, link);
		if (w->conn == c)
			waiter_free(w);
	}
	for (v = LIST_FIRST(&watchers); v != NULL; v = next_v) {
		next_v = LIST_NEXT(v, link);
		if (v->conn == c)
			watcher_free(v);
	}
	follow_conn_closed(c);
}

void
ops_conn_drained(struct conn *c)
{
	follow_conn_drained(c);
}

/* --- Handlers
 * ----------------------------------------------------------------- */

static json_t *
op_hello(const struct req *r)
{
	/* The token was checked before (conn.c); it is not echoed. */
	static const char *const fields[] = {
	    "client", "protocol", "token", NULL};
	json_t *reply;

	if ((reply = check_fields(r, fields)) != NULL)
		return reply;
	reply = ok(r);
	json_object_set_new(reply, "server", json_string("jobd"));
	json_object_set_new(reply, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(reply, "protocol", json_integer(PROTO_VERSION));
	json_object_set_new(reply, "pid", json_integer(getpid()));
	json_object_set_new(reply, "limits",
	    json_pack("{s:I, s:I, s:I, s:I}", "max_line",
	        (json_int_t)jobd.cfg.max_line, "max_depth",
	        (json_int_t)jobd.cfg.max_depth, "max_batch",
	        (json_int_t)jobd.cfg.max_batch, "max_queued",
	        (json_int_t)jobd.cfg.max_queued));
	return reply;
}

static json_t *
op_ping(const struct req *r)
{
	static const char *const fields[] = {NULL};
	json_t *reply;

	if ((reply = check_fields(r, fields)) != NULL)
		return reply;
	return ok(r);
}

/* "duplicate": true on the jobs a unique key matched to an existing job. */
static void
mark_duplicates(json_t *reply, const bool *duplicate, size_t n, bool single)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (duplicate[i])
			json_object_set_new(
			    single ? json_object_get(reply, "job")
			           : json_array_get(
			                 json_object_get(reply, "jobs"), i),
			    "duplicate", json_true());
	}
}

static json_t *
op_submit(const struct req *r)
{
	static const char *const fields[] = {
	    "job", "jobs", "wait", "output", "timeout_ms", NULL};
	const json_t *one = json_object_get(r->body, "job");
	const json_t *many = json_object_get(r->body, "jobs");
	bool wait = false, output = true, single = one != NULL;
	uint64_t timeout_ms = 0;
	struct submit_error serr;
	bool *duplicate;
	const json_t **specs;
	struct job **jobs;
	json_t *reply;
	size_t i, n;
	char err[512], where[32];
	int code;

	if ((reply = check_fields(r, fields)) != NULL ||
	    (reply = get_bool(r, "wait", &wait)) != NULL ||
	    (reply = get_bool(r, "output", &output)) != NULL ||
	    (reply = get_uint(
	         r, "timeout_ms", 0, JOB_MAX_TIMEOUT_MS, &timeout_ms)) != NULL)
		return reply;
	if ((one == NULL) == (many == NULL))
		return fail(r, PROTO_E_BAD_REQUEST,
		    "submit needs \"job\": {...} or \"jobs\": [{...}, ...]");
	if (many != NULL &&
	    (!json_is_array(many) || json_array_size(many) == 0 ||
	        json_array_size(many) > jobd.cfg.max_batch)) {
		if (json_array_size(many) > jobd.cfg.max_batch)
			counter_add(jobd.stats, COUNTER_requests_over_limit, 1);
		return fail(r, PROTO_E_BAD_REQUEST,
		    "jobs must be an array of 1 to %zu job objects",
		    jobd.cfg.max_batch);
	}
	if (json_object_get(r->body, "timeout_ms") != NULL && !wait)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "timeout_ms applies only with \"wait\": true");
	n = single ? 1 : json_array_size(many);
	jobs = xcalloc(n, sizeof(*jobs));
	for (i = 0; i < n; i++) {
		if (single)
			snprintf(where, sizeof where, "job");
		else
			snprintf(where, sizeof where, "jobs[%zu]", i);
		jobs[i] = job_parse(single ? one : json_array_get(many, i),
		    where, &code, err, sizeof err);
		if (jobs[i] == NULL) {
			while (i-- > 0)
				job_free(jobs[i]);
			free(jobs);
			return fail(r, (enum proto_err)code, "%s", err);
		}
	}
	for (i = 0; i < n; i++) {
		jobs[i]->owner = conn_who(r->conn)->uid;
		jobs[i]->queue_user_ok =
		    conn_who(r->conn)->admin || conn_who(r->conn)->tcp;
	}
	duplicate = xcalloc(n, sizeof(*duplicate));
	specs = xcalloc(n, sizeof(*specs));
	for (i = 0; i < n; i++)
		specs[i] = single ? one : json_array_get(many, i);
	serr.single = single;
	serr.who = conn_who(r->conn);
	if (sched_submit(jobs, specs, n, duplicate, &serr) != 0) {
		for (i = 0; i < n; i++)
			job_free(jobs[i]);
		free(jobs);
		free(duplicate);
		free(specs);
		return fail(r, (enum proto_err)serr.code, "%s", serr.msg);
	}
	free(specs);
	if (wait)
		reply = wait_for(r, jobs, n, single, output, timeout_ms,
		    json_object_get(r->body, "timeout_ms") != NULL);
	else {
		reply = ok(r);
		add_jobs(reply, jobs, n, single, AS_SUMMARY);
		mark_duplicates(reply, duplicate, n, single);
	}
	free(jobs);
	free(duplicate);
	return reply;
}

/*
 * {"op":"queue","action":"set","name":Q, and any of "concurrency",
 * "max_length", "timeout_ms" (0: none) and "retry" (a policy, or null for
 * none)}: every value is checked before any is applied.
 */
static json_t *
queue_set(const struct req *r, const char *name)
{
	static const char *const settings[] = {
	    "concurrency", "max_length", "timeout_ms", "retry", "run_as", NULL};
	uint64_t concurrency = 0, max_length = 0, timeout_ms = 0;
	const json_t *retry = json_object_get(r->body, "retry");
	const json_t *run_as = json_object_get(r->body, "run_as");
	long uid = -1;
	struct retry_policy policy;
	struct queue *q;
	json_t *reply;
	char msg[200];
	size_t i;

	for (i = 0; settings[i] != NULL; i++) {
		if (json_object_get(r->body, settings[i]) != NULL)
			break;
	}
	if (settings[i] == NULL)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "queue set needs one or more of concurrency, max_length, "
		    "timeout_ms, retry, run_as");
	if ((reply = get_uint(r, "concurrency", 0, 65536, &concurrency)) !=
	        NULL ||
	    (reply = get_uint(r, "max_length", 0, jobd.cfg.max_queued,
	         &max_length)) != NULL ||
	    (reply = get_uint(
	         r, "timeout_ms", 0, JOB_MAX_TIMEOUT_MS, &timeout_ms)) != NULL)
		return reply;
	if (retry != NULL && !json_is_null(retry)) {
		retry_policy_default(&policy);
		if (retry_policy_from_json(&policy, retry, msg, sizeof msg) !=
		    0)
			return fail(r, PROTO_E_BAD_REQUEST, "%s", msg);
	}
	if (run_as != NULL && !json_is_null(run_as)) {
		if ((!json_is_string(run_as) && !json_is_integer(run_as)) ||
		    (uid = json_is_string(run_as)
		               ? ident_parse_user(json_string_value(run_as))
		           : json_integer_value(run_as) >= 0 &&
		                   ident_known_uid((
		                       unsigned long)json_integer_value(run_as))
		               ? (long)json_integer_value(run_as)
		               : -1) < 0)
			return fail(r, PROTO_E_BAD_REQUEST,
			    "run_as must be a user name or uid known to the "
			    "system, or null (jobs run as their owners)");
		if (!ident_can_switch() && (uid_t)uid != geteuid())
			return fail(r, PROTO_E_BAD_REQUEST,
			    "run_as: jobd does not run as root, so its jobs "
			    "run as its own user");
		if (uid == 0 && conn_who(r->conn)->uid != 0)
			return fail(r, PROTO_E_FORBIDDEN,
			    "run_as: only root may make jobs run as root");
	}
	q = queue_get(name);
	if (run_as != NULL)
		queue_set_run_as(q, uid);
	if (json_object_get(r->body, "concurrency") != NULL)
		queue_set_concurrency(q, (unsigned)concurrency);
	if (json_object_get(r->body, "max_length") != NULL)
		queue_set_max_length(q, (size_t)max_length);
	if (json_object_get(r->body, "timeout_ms") != NULL)
		queue_set_timeout(q, timeout_ms);
	if (retry != NULL)
		queue_set_retry(q, json_is_null(retry) ? NULL : &policy);
	if (store_enabled())
		persist_put_queue(q);
	sched_queues_changed();
	reply = ok(r);
	json_object_set_new(reply, "queue", queue_json(q));
	return reply;
}

/* {"op":"cron","action":"add"|"list"|"remove"|"run", ...}: see recur.h. */
static json_t *
op_cron(const struct req *r)
{
	static const char *const add_fields[] = {"action", "name", "schedule",
	    "tz", "job", "overlap", "catch_up", "replace", "user", NULL};
	static const char *const list_fields[] = {"action", NULL};
	static const char *const name_fields[] = {"action", "name", NULL};
	const char *action =
	    json_string_value(json_object_get(r->body, "action"));
	const struct conn_cred *who = conn_who(r->conn);
	json_t *reply, *out;
	char err[512];
	int code = PROTO_E_BAD_REQUEST;

	if (action == NULL)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "cron needs \"action\": add, list, remove or run");
	if (strcmp(action, "add") == 0) {
		if ((reply = check_fields(r, add_fields)) != NULL)
			return reply;
		out = recur_add(r->body, who, &code, err, sizeof err);
	} else if (strcmp(action, "list") == 0) {
		if ((reply = check_fields(r, list_fields)) != NULL)
			return reply;
		out = recur_list(who);
	} else if (strcmp(action, "remove") == 0 ||
	           strcmp(action, "run") == 0) {
		if ((reply = check_fields(r, name_fields)) != NULL)
			return reply;
		out = action[1] == 'e'
		          ? recur_remove(r->body, who, &code, err, sizeof err)
		          : recur_run(r->body, who, &code, err, sizeof err);
	} else
		return fail(r, PROTO_E_BAD_REQUEST,
		    "cron action \"%.32s\" is unknown (add, list, remove, "
		    "run)",
		    action);
	if (out == NULL)
		return fail(r, (enum proto_err)code, "%s", err);
	reply = ok(r);
	json_object_update_new(reply, out);
	return reply;
}

/* {"op":"queue","action":"list"|"pause"|"resume"|"drain"|"clear"|"set"} */
static json_t *
op_queue(const struct req *r)
{
	static const char *const set_fields[] = {"action", "name",
	    "concurrency", "max_length", "timeout_ms", "retry", "run_as", NULL};
	static const char *const fields[] = {"action", "name", NULL};
	const char *action =
	    json_string_value(json_object_get(r->body, "action"));
	const char *name = json_string_value(json_object_get(r->body, "name"));
	size_t cleared = 0;
	struct queue *q;
	json_t *reply;

	/* Settings go with set only: elsewhere they would be ignored. */
	if ((reply = check_fields(
	         r, action != NULL && strcmp(action, "set") == 0 ? set_fields
	                                                         : fields)) !=
	    NULL)
		return reply;
	if (action == NULL)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "queue needs \"action\": list, pause, resume, drain, "
		    "clear or set");
	if (strcmp(action, "list") == 0) {
		reply = ok(r);
		json_object_set_new(reply, "queues", queues_json());
		return reply;
	}
	if (name == NULL || !queue_name_valid(name))
		return fail(r, PROTO_E_BAD_REQUEST,
		    "queue %s needs \"name\": 1 to %d letters, digits, '_', "
		    "'.' or '-'",
		    action, QUEUE_NAME_MAX);
	if (strcmp(action, "pause") != 0 && strcmp(action, "resume") != 0 &&
	    strcmp(action, "drain") != 0 && strcmp(action, "clear") != 0 &&
	    strcmp(action, "set") != 0)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "queue action \"%.32s\" is unknown (list, pause, resume, "
		    "drain, clear, set)",
		    action);
	if (!conn_who(r->conn)->admin)
		return fail(r, PROTO_E_FORBIDDEN,
		    "queue %s needs root, jobd's user or a member of "
		    "--admin-groups",
		    action);
	if (strcmp(action, "set") == 0)
		return queue_set(r, name);
	q = queue_get(name);
	if (strcmp(action, "pause") == 0)
		queue_set_paused(q, true);
	else if (strcmp(action, "resume") == 0) {
		queue_set_paused(q, false);
		queue_set_draining(q, false);
	} else if (strcmp(action, "drain") == 0)
		queue_set_draining(q, true);
	else if (strcmp(action, "clear") == 0)
		cleared = sched_queue_clear(q);
	if (store_enabled())
		persist_put_queue(q);
	sched_queues_changed();
	reply = ok(r);
	json_object_set_new(reply, "queue", queue_json(q));
	if (strcmp(action, "clear") == 0)
		json_object_set_new(
		    reply, "cleared", json_integer((json_int_t)cleared));
	return reply;
}

static json_t *
op_get(const struct req *r)
{
	static const char *const fields[] = {"job", "jobs", "output", NULL};
	struct job **jobs;
	bool single, output = true;
	json_t *reply;
	size_t n;

	if ((reply = check_fields(r, fields)) != NULL ||
	    (reply = get_bool(r, "output", &output)) != NULL ||
	    (reply = get_jobs(r, &jobs, &n, &single)) != NULL)
		return reply;
	reply = ok(r);
	add_jobs(reply, jobs, n, single,
	    JOB_JSON_SPEC | (output ? JOB_JSON_OUTPUT : 0));
	free(jobs);
	return reply;
}

static json_t *
op_wait(const struct req *r)
{
	static const char *const fields[] = {
	    "job", "jobs", "output", "timeout_ms", NULL};
	uint64_t timeout_ms = 0;
	bool single, output = true;
	struct job **jobs;
	json_t *reply;
	size_t n;

	if ((reply = check_fields(r, fields)) != NULL ||
	    (reply = get_bool(r, "output", &output)) != NULL ||
	    (reply = get_uint(r, "timeout_ms", 0, JOB_MAX_TIMEOUT_MS,
	         &timeout_ms)) != NULL ||
	    (reply = get_jobs(r, &jobs, &n, &single)) != NULL)
		return reply;
	reply = wait_for(r, jobs, n, single, output, timeout_ms,
	    json_object_get(r->body, "timeout_ms") != NULL);
	free(jobs);
	return reply;
}

static json_t *
op_cancel(const struct req *r)
{
	static const char *const fields[] = {"job", "jobs", NULL};
	struct job **jobs;
	json_t *reply, *arr, *entry;
	bool single, changed;
	size_t i, n;

	if ((reply = check_fields(r, fields)) != NULL ||
	    (reply = get_jobs(r, &jobs, &n, &single)) != NULL)
		return reply;
	arr = json_array();
	for (i = 0; i < n; i++) {
		changed = sched_cancel(jobs[i]);
		entry = job_summary_json(jobs[i]);
		json_object_set_new(entry, "cancelled", json_boolean(changed));
		json_array_append_new(arr, entry);
	}
	reply = ok(r);
	if (single) {
		json_object_set(reply, "job", json_array_get(arr, 0));
		json_decref(arr);
	} else
		json_object_set_new(reply, "jobs", arr);
	free(jobs);
	return reply;
}

/* An optional RFC 3339 time field; *ms stays 0 when absent. */
static json_t *
get_time(const struct req *r, const char *key, uint64_t *ms)
{
	const json_t *v = json_object_get(r->body, key);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || parse_rfc3339(json_string_value(v), ms) != 0)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "%s must be an RFC 3339 time such as "
		    "2026-11-26T18:00:00Z",
		    key);
	return NULL;
}

struct list_ctx {
	const struct conn_cred *who;
	unsigned states;       /* bit per job_state; 0: all */
	const char *queue;     /* NULL: all */
	const char *key;       /* NULL: all */
	uint64_t since, until; /* submitted in [since, until); 0: open */
	uint64_t limit;
	json_t *out;
	uint64_t last;
	bool more;
};

static bool
list_one(struct job *job, void *arg)
{
	struct list_ctx *lc = arg;

	if (lc->states != 0 && !(lc->states & (1u << job->state)))
		return true;
	if (!ident_may(lc->who, job->owner))
		return true;
	if (lc->queue != NULL && strcmp(lc->queue, queue_name(job->queue)) != 0)
		return true;
	if (lc->key != NULL &&
	    (job->opts->key == NULL || strcmp(lc->key, job->opts->key) != 0))
		return true;
	if (job->submitted_ms < lc->since ||
	    (lc->until != 0 && job->submitted_ms >= lc->until))
		return true;
	if (json_array_size(lc->out) == lc->limit) {
		lc->more = true;
		return false;
	}
	json_array_append_new(lc->out, job_summary_json(job));
	lc->last = job->id;
	return true;
}

/* list, and dead (list restricted to failed and timed out jobs). */
static json_t *
list_jobs(const struct req *r, unsigned forced_states)
{
	static const char *const list_fields[] = {"state", "after", "before",
	    "newest", "limit", "queue", "key", "since", "until", NULL};
	static const char *const dead_fields[] = {"after", "before", "newest",
	    "limit", "queue", "since", "until", NULL};
	struct list_ctx lc = {.who = conn_who(r->conn),
	    .states = forced_states,
	    .limit = LIST_LIMIT_DEFAULT};
	const json_t *state = json_object_get(r->body, "state"), *v;
	uint64_t after = 0, before = 0;
	bool newest = false;
	json_t *reply, *page;
	size_t i;
	int s;

	if ((reply = check_fields(
	         r, forced_states != 0 ? dead_fields : list_fields)) != NULL ||
	    (reply = get_uint(r, "after", 0, UINT64_MAX >> 1, &after)) !=
	        NULL ||
	    (reply = get_uint(r, "before", 0, UINT64_MAX >> 1, &before)) !=
	        NULL ||
	    (reply = get_bool(r, "newest", &newest)) != NULL ||
	    (reply = get_uint(r, "limit", 1, LIST_LIMIT_MAX, &lc.limit)) !=
	        NULL)
		return reply;
	if (state != NULL) {
		for (i = 0;
		     i < (json_is_array(state) ? json_array_size(state) : 1);
		     i++) {
			v = json_is_array(state) ? json_array_get(state, i)
			                         : state;
			if (!json_is_string(v) ||
			    (s = job_state_parse(json_string_value(v))) < 0)
				return fail(r, PROTO_E_BAD_REQUEST,
				    "state must be a job state or a list of "
				    "them (queued, delayed, waiting, running, "
				    "succeeded, failed, timed_out, "
				    "cancelled, expired, dependency_failed)");
			lc.states |= 1u << s;
		}
	}
	lc.queue = json_string_value(json_object_get(r->body, "queue"));
	lc.key = json_string_value(json_object_get(r->body, "key"));
	if (json_object_get(r->body, "key") != NULL && lc.key == NULL)
		return fail(r, PROTO_E_BAD_REQUEST, "key must be a string");
	if (json_object_get(r->body, "queue") != NULL && lc.queue == NULL)
		return fail(r, PROTO_E_BAD_REQUEST, "queue must be a name");
	if ((reply = get_time(r, "since", &lc.since)) != NULL ||
	    (reply = get_time(r, "until", &lc.until)) != NULL)
		return reply;
	lc.out = json_array();
	sched_foreach_between(after, before, newest, list_one, &lc);
	reply = ok(r);
	if (newest) {
		/* Taken newest first; shown in id order all the same, with
		 * the cursor for the page before. */
		page = json_array();
		for (i = json_array_size(lc.out); i > 0; i--)
			json_array_append(page, json_array_get(lc.out, i - 1));
		json_decref(lc.out);
		json_object_set_new(reply, "jobs", page);
		json_object_set_new(reply, "next", json_null());
		json_object_set_new(reply, "older",
		    lc.more ? json_integer((json_int_t)lc.last) : json_null());
		return reply;
	}
	json_object_set_new(reply, "jobs", lc.out);
	json_object_set_new(reply, "next",
	    lc.more ? json_integer((json_int_t)lc.last) : json_null());
	return reply;
}

static json_t *
op_list(const struct req *r)
{
	return list_jobs(r, 0);
}

static json_t *
op_dead(const struct req *r)
{
	return list_jobs(r, 1u << JOB_FAILED | 1u << JOB_TIMED_OUT);
}

struct dead_ctx {
	const struct conn_cred *who;
	const char *queue;
	struct job **jobs;
	size_t n, cap;
};

static bool
collect_dead(struct job *job, void *arg)
{
	struct dead_ctx *dc = arg;

	if (!sched_is_dead(job) || !ident_may(dc->who, job->owner) ||
	    (dc->queue != NULL &&
	        strcmp(dc->queue, queue_name(job->queue)) != 0))
		return true;
	if (dc->n == dc->cap) {
		dc->cap = dc->cap == 0 ? 64 : dc->cap * 2;
		dc->jobs = xreallocarray(dc->jobs, dc->cap, sizeof(*dc->jobs));
	}
	dc->jobs[dc->n++] = job;
	return true;
}

/* The jobs kick and discard act on: ids, or "all" (of a queue). */
static json_t *
select_dead(const struct req *r, struct job ***jobs, size_t *n)
{
	static const char *const fields[] = {
	    "job", "jobs", "all", "queue", NULL};
	const json_t *queue = json_object_get(r->body, "queue");
	struct dead_ctx dc = {conn_who(r->conn), NULL, NULL, 0, 0};
	bool all = false, single;
	json_t *reply;

	if ((reply = check_fields(r, fields)) != NULL ||
	    (reply = get_bool(r, "all", &all)) != NULL)
		return reply;
	if (!all) {
		if (queue != NULL)
			return fail(r, PROTO_E_BAD_REQUEST,
			    "queue goes with \"all\": true");
		return get_jobs(r, jobs, n, &single);
	}
	if (json_object_get(r->body, "job") != NULL ||
	    json_object_get(r->body, "jobs") != NULL)
		return fail(r, PROTO_E_BAD_REQUEST,
		    "give job ids or \"all\": true, not both");
	if (queue != NULL && !json_is_string(queue))
		return fail(r, PROTO_E_BAD_REQUEST, "queue must be a name");
	dc.queue = json_string_value(queue);
	sched_foreach(0, collect_dead, &dc);
	*jobs = dc.jobs;
	*n = dc.n;
	return NULL;
}

static json_t *
op_kick(const struct req *r)
{
	json_t *reply, *arr;
	struct job **jobs;
	size_t i, n, kicked = 0;

	if ((reply = select_dead(r, &jobs, &n)) != NULL)
		return reply;
	arr = json_array();
	for (i = 0; i < n; i++) {
		if (sched_kick(jobs[i])) {
			kicked++;
			json_array_append_new(arr, job_summary_json(jobs[i]));
		}
	}
	free(jobs);
	reply = ok(r);
	json_object_set_new(reply, "kicked", json_integer((json_int_t)kicked));
	json_object_set_new(reply, "jobs", arr);
	return reply;
}

static json_t *
op_discard(const struct req *r)
{
	struct job **jobs;
	json_t *reply;
	size_t i, n, discarded = 0;

	if ((reply = select_dead(r, &jobs, &n)) != NULL)
		return reply;
	/* Each id appears once (get_ids refuses repeats), so no job is
	 * touched after it is freed. */
	for (i = 0; i < n; i++)
		discarded += sched_discard(jobs[i]);
	free(jobs);
	reply = ok(r);
	json_object_set_new(
	    reply, "discarded", json_integer((json_int_t)discarded));
	return reply;
}

/*
 * logs: a job's output so far; with "follow": true, a stream of its output
 * as it comes, until the job finishes (follow.h).
 */
static json_t *
op_logs(const struct req *r)
{
	static const char *const fields[] = {"job", "follow", NULL};
	struct job **jobs;
	struct buf live;
	bool single, follow = false;
	json_t *reply;
	size_t n;

	if ((reply = check_fields(r, fields)) != NULL ||
	    (reply = get_bool(r, "follow", &follow)) != NULL)
		return reply;
	if (json_object_get(r->body, "jobs") != NULL)
		return fail(r, PROTO_E_BAD_REQUEST, "logs takes one \"job\"");
	if ((reply = get_jobs(r, &jobs, &n, &single)) != NULL)
		return reply;
	if (follow) {
		follow_start(r->conn, r->id, jobs[0]);
		free(jobs);
		return NULL;
	}
	reply = ok(r);
	json_object_set_new(
	    reply, "job", json_integer((json_int_t)jobs[0]->id));
	json_object_set_new(
	    reply, "state", json_string(job_state_name(jobs[0]->state)));
	if (jobs[0]->run->proc != NULL) {
		memset(&live, 0, sizeof live);
		live.data = (char *)(uintptr_t)exec_output(
		    jobs[0]->run->proc, 1, &live.len, &live.truncated);
		live.total = exec_output_total(jobs[0]->run->proc, 1);
		job_output_json(reply, "stdout", &live);
		live.data = (char *)(uintptr_t)exec_output(
		    jobs[0]->run->proc, 2, &live.len, &live.truncated);
		live.total = exec_output_total(jobs[0]->run->proc, 2);
		job_output_json(reply, "stderr", &live);
	} else {
		job_output_json(reply, "stdout", &jobs[0]->run->out);
		job_output_json(reply, "stderr", &jobs[0]->run->err);
	}
	free(jobs);
	return reply;
}

static json_t *
op_watch(const struct req *r)
{
	static const char *const fields[] = {"job", "jobs", "queue", NULL};
	const json_t *queue = json_object_get(r->body, "queue");
	struct watcher *w, *old;
	uint64_t *ids = NULL;
	bool single;
	size_t n = 0;
	json_t *reply;

	if ((reply = check_fields(r, fields)) != NULL)
		return reply;
	if (queue != NULL && (!json_is_string(queue) ||
	                         !queue_name_valid(json_string_value(queue))))
		return fail(
		    r, PROTO_E_BAD_REQUEST, "queue must be a queue name");
	if ((json_object_get(r->body, "job") != NULL ||
	        json_object_get(r->body, "jobs") != NULL) &&
	    (reply = get_ids(r, &ids, &n, &single)) != NULL)
		return reply;
	/* One watch per connection: a new one replaces it. */
	LIST_FOREACH(old, &watchers, link)
	{
		if (old->conn == r->conn) {
			watcher_free(old);
			break;
		}
	}
	w = xcalloc(1, sizeof(*w));
	w->conn = r->conn;
	w->req_id = r->id != NULL ? json_deep_copy(r->id) : NULL;
	w->ids = ids;
	w->nids = n;
	w->queue = queue != NULL ? xstrdup(json_string_value(queue)) : NULL;
	LIST_INSERT_HEAD(&watchers, w, link);
	reply = ok(r);
	json_object_set_new(reply, "watching", json_true());
	return reply;
}

static double
tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* stats with "format":"prometheus": the exposition as one string. */
static json_t *
stats_prometheus(const struct req *r)
{
	struct evbuffer *buf;
	json_t *reply, *text;

	if ((buf = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	metrics_render(buf);
	text = json_stringn(
	    (const char *)evbuffer_pullup(buf, -1), evbuffer_get_length(buf));
	evbuffer_free(buf);
	if (text == NULL)
		return fail(r, PROTO_E_INTERNAL,
		    "stats: the exposition is not UTF-8 text");
	reply = ok(r);
	json_object_set_new(reply, "text", text);
	return reply;
}

/* The store's figures (see stats in jobd-protocol(7)). */
static json_t *
store_json(void)
{
	struct store_stats st;
	char why[256];

	store_get_stats(&st);
	store_error(why, sizeof why);
	return json_pack("{s:s, s:b, s:s?, s:I, s:I, s:I, s:I, s:f, s:I, "
	                 "s:I, s:I, s:I, s:I}",
	    "durability",
	    store_durability_name((enum store_durability)jobd.cfg.durability),
	    "available", store_available(), "error",
	    why[0] != '\0' ? why : NULL, "commits", (json_int_t)st.commits,
	    "batches", (json_int_t)st.batches, "records",
	    (json_int_t)st.records, "failures", (json_int_t)st.failures,
	    "avg_batch",
	    st.commits > 0 ? (double)st.batches / (double)st.commits : 0.0,
	    "commit_us_p50", (json_int_t)st.commit_us_p50, "commit_us_p99",
	    (json_int_t)st.commit_us_p99, "commit_us_max",
	    (json_int_t)st.commit_us_max, "pending", (json_int_t)st.pending,
	    "db_bytes", (json_int_t)st.db_bytes);
}

static json_t *
op_stats(const struct req *r)
{
	static const char *const fields[] = {"format", NULL};
	const json_t *format = json_object_get(r->body, "format");
	struct rusage ru;
	json_t *reply, *stats;

	if ((reply = check_fields(r, fields)) != NULL)
		return reply;
	if (format != NULL &&
	    (!json_is_string(format) ||
	        (strcmp(json_string_value(format), "json") != 0 &&
	            strcmp(json_string_value(format), "prometheus") != 0)))
		return fail(r, PROTO_E_BAD_REQUEST,
		    "format must be \"json\" (the default) or \"prometheus\"");
	if (format != NULL &&
	    strcmp(json_string_value(format), "prometheus") == 0)
		return stats_prometheus(r);
	stats = counters_snapshot_json(jobd.counters);
	getrusage(RUSAGE_SELF, &ru);
	json_object_set_new(stats, "uptime_s",
	    json_real((double)(now_ms() - jobd.started_ms) / 1000.0));
	json_object_set_new(
	    stats, "cpu_user_s", json_real(tv_seconds(ru.ru_utime)));
	json_object_set_new(
	    stats, "cpu_system_s", json_real(tv_seconds(ru.ru_stime)));
	json_object_set_new(
	    stats, "jobs_kept", json_integer((json_int_t)sched_count_jobs()));
	json_object_set_new(
	    stats, "workers", json_integer(pool_size(jobd.pool)));
	json_object_set_new(
	    stats, "max_running", json_integer(jobd.cfg.max_running));
	json_object_set_new(
	    stats, "max_queued", json_integer((json_int_t)jobd.cfg.max_queued));
	if (store_enabled())
		json_object_set_new(stats, "store", store_json());
	reply = ok(r);
	json_object_set_new(reply, "stats", stats);
	return reply;
}

static const struct {
	const char *name;
	json_t *(*handler)(const struct req *r);
	enum counter_id counter;
	bool writes; /* changes state: refused without a store, replied to
	                once the change is committed */
} ops[] = {
    {"hello", op_hello, COUNTER_requests_hello, false},
    {"ping", op_ping, COUNTER_requests_ping, false},
    {"submit", op_submit, COUNTER_requests_submit, true},
    {"get", op_get, COUNTER_requests_get, false},
    {"wait", op_wait, COUNTER_requests_wait, false},
    {"cancel", op_cancel, COUNTER_requests_cancel, true},
    {"list", op_list, COUNTER_requests_list, false},
    {"logs", op_logs, COUNTER_requests_logs, false},
    {"watch", op_watch, COUNTER_requests_watch, false},
    {"stats", op_stats, COUNTER_requests_stats, false},
    {"queue", op_queue, COUNTER_requests_queue, true},
    {"dead", op_dead, COUNTER_requests_dead, false},
    {"kick", op_kick, COUNTER_requests_kick, true},
    {"discard", op_discard, COUNTER_requests_discard, true},
    {"cron", op_cron, COUNTER_requests_cron, true},
};

/*
 * A request that changes jobs or queues: refused while the store cannot
 * write, and answered once what it changed is committed.
 */
static json_t *
dispatch_write(const struct req *r, json_t *(*handler)(const struct req *r))
{
	char why[256];
	json_t *reply;

	if (!store_available()) {
		store_error(why, sizeof why);
		counter_add(jobd.stats, COUNTER_store_refusals, 1);
		return fail(r, PROTO_E_STORE_UNAVAILABLE,
		    "jobd cannot write its state (%s); try again later", why);
	}
	reply = handler(r);
	if (reply != NULL && store_enabled())
		conn_hold(r->conn, store_barrier());
	return reply;
}

json_t *
ops_dispatch(struct conn *c, const json_t *body)
{
	struct req r = {c, body, NULL, "request"};
	const json_t *op, *id;
	size_t i;

	id = json_object_get(body, "id");
	if (id != NULL && !json_is_integer(id) && !json_is_string(id))
		return fail(&r, PROTO_E_BAD_REQUEST,
		    "id must be an integer or a string");
	r.id = id;
	op = json_object_get(body, "op");
	if (op == NULL)
		return fail(&r, PROTO_E_BAD_REQUEST, "op is required");
	if (!json_is_string(op))
		return fail(&r, PROTO_E_BAD_REQUEST, "op must be a string");
	r.op = json_string_value(op);
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (strcmp(r.op, ops[i].name) == 0) {
			counter_add(jobd.stats, ops[i].counter, 1);
			if ((jobd.stopping || jobd.draining) &&
			    strcmp(r.op, "submit") == 0)
				return fail(&r, PROTO_E_SHUTTING_DOWN,
				    jobd.stopping
				        ? "jobd is stopping; not accepting jobs"
				        : "jobd is draining (it finishes its "
				          "jobs, then exits); not accepting "
				          "jobs");
			/* (queue list and cron list only read.) */
			if (ops[i].writes &&
			    !(json_is_string(json_object_get(body, "action")) &&
			        strcmp(json_string_value(
			                   json_object_get(body, "action")),
			            "list") == 0))
				return dispatch_write(&r, ops[i].handler);
			return ops[i].handler(&r);
		}
	}
	return fail(&r, PROTO_E_UNKNOWN_OP,
	    "unknown op \"%.64s\" (hello, ping, submit, get, wait, cancel, "
	    "list, logs, watch, stats, queue, dead, kick, discard, cron)",
	    r.op);
}

void
ops_init(void)
{
	sched_set_event_hook(job_event);
}

void
ops_stop(void)
{
	struct waiter *w;
	json_t *reply;

	follow_stop();
	while ((w = LIST_FIRST(&waiters)) != NULL) {
		reply = proto_error_reply(w->req_id, PROTO_E_SHUTTING_DOWN,
		    "jobd is stopping; %zu of the %zu job(s) waited for did "
		    "not finish",
		    w->remaining, w->n);
		conn_owe(w->conn, -1, -(long)w->n);
		conn_send(w->conn, reply);
		json_decref(reply);
		waiter_free(w);
	}
}

void
ops_free(void)
{
	follow_free();
	while (!LIST_EMPTY(&waiters))
		waiter_free(LIST_FIRST(&waiters));
	while (!LIST_EMPTY(&watchers))
		watcher_free(LIST_FIRST(&watchers));
}
