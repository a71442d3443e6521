/*
 * recur: recurring jobs (see recur.h).
 *
 * Each entry has its own timer, armed for its next firing.  A timer runs
 * on the monotonic clock while a schedule is wall-clock time, so a firing
 * checks the wall clock: if it is still early (the clock was set back),
 * the timer is armed again for the rest.  The next firing is computed from
 * the later of now and the firing being handled, so a late timer never
 * fires twice for the same minute.
 *
 * The entries are saved to the state directory whenever one is added,
 * removed or fires: a small JSON file replaced atomically.  Losing a save
 * (disk full) is logged, not fatal: the entries still run from memory.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "counters.h"
#include "cron.h"
#include "jobd.h"
#include "log.h"
#include "proto.h"
#include "ident.h"
#include "queue.h"
#include "recur.h"
#include "sched.h"
#include "statedir.h"
#include "tz.h"
#include "xmalloc.h"

#define RECUR_FILE "cron.json"
#define RECUR_FILE_VERSION 1

struct recur {
	char *name;
	struct cron_expr *expr;
	char *tz_name; /* NULL: jobd's local zone */
	struct tz *tz; /* its own, or R.local */
	json_t *spec;
	uid_t owner; /* its jobs are this user's, and run as them */
	bool allow_overlap;
	bool catch_up;
	uint64_t created_ms;
	uint64_t next_ms; /* next firing */
	uint64_t last_ms; /* last firing handled (run or skipped) */
	uint64_t last_job;
	uint64_t runs, skipped, failed;
	char *last_error;
	struct event *timer;
	TAILQ_ENTRY(recur) link;
};

static struct {
	TAILQ_HEAD(, recur) entries;
	size_t n;
	struct tz *local;
} R = {TAILQ_HEAD_INITIALIZER(R.entries), 0, NULL};

static void arm(struct recur *e);

static int recur_fail(int *code, char *err, size_t errlen, int c,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
recur_fail(int *code, char *err, size_t errlen, int c, const char *fmt, ...)
{
	va_list ap;

	*code = c;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static struct recur *
find(const char *name)
{
	struct recur *e;

	TAILQ_FOREACH(e, &R.entries, link)
	{
		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

static void
entry_free(struct recur *e)
{
	if (e == NULL)
		return;
	if (e->timer != NULL)
		event_free(e->timer);
	free(e->name);
	cron_free(e->expr);
	free(e->tz_name);
	if (e->tz != R.local)
		tz_free(e->tz);
	json_decref(e->spec);
	free(e->last_error);
	free(e);
}

/* --- Entries as JSON ------------------------------------------------------ */

static json_t *
entry_json(const struct recur *e)
{
	const char *user;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:b, s:o, s:I, s:I, s:I}",
	    "name", e->name, "schedule", cron_text(e->expr), "tz",
	    tz_name(e->tz), "job", e->spec, "overlap",
	    e->allow_overlap ? "allow" : "skip", "catch_up", e->catch_up,
	    "created_at", json_time(e->created_ms), "runs", (json_int_t)e->runs,
	    "skipped", (json_int_t)e->skipped, "failed", (json_int_t)e->failed);
	if (e->next_ms != 0)
		json_object_set_new(o, "next_run_at", json_time(e->next_ms));
	if (e->last_ms != 0)
		json_object_set_new(o, "last_run_at", json_time(e->last_ms));
	if (e->last_job != 0)
		json_object_set_new(
		    o, "last_job", json_integer((json_int_t)e->last_job));
	if (e->last_error != NULL)
		json_object_set_new(
		    o, "last_error", json_string(e->last_error));
	json_object_set_new(o, "uid", json_integer((json_int_t)e->owner));
	if ((user = ident_user_name(e->owner)) != NULL)
		json_object_set_new(o, "user", json_string(user));
	return o;
}

/* The saved form: what entry_json shows, with times as numbers. */
static void
save(void)
{
	json_t *root, *arr = json_array();
	struct recur *e;
	char *text;

	if (statedir_path() == NULL)
		return;
	TAILQ_FOREACH(e, &R.entries, link)
	{
		json_t *o =
		    json_pack("{s:s, s:s, s:O, s:b, s:b, s:I, s:I, s:I, "
		              "s:I, s:I, s:I}",
		        "name", e->name, "schedule", cron_text(e->expr), "job",
		        e->spec, "allow_overlap", e->allow_overlap, "catch_up",
		        e->catch_up, "created_ms", (json_int_t)e->created_ms,
		        "last_ms", (json_int_t)e->last_ms, "last_job",
		        (json_int_t)e->last_job, "runs", (json_int_t)e->runs,
		        "skipped", (json_int_t)e->skipped, "failed",
		        (json_int_t)e->failed);

		if (e->tz_name != NULL)
			json_object_set_new(o, "tz", json_string(e->tz_name));
		json_object_set_new(
		    o, "uid", json_integer((json_int_t)e->owner));
		json_array_append_new(arr, o);
	}
	root = json_pack(
	    "{s:i, s:o}", "version", RECUR_FILE_VERSION, "entries", arr);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL || statedir_write(RECUR_FILE, text, strlen(text)) != 0)
		log_warn("cannot save recurring jobs to %s/%s: %s",
		    statedir_path(), RECUR_FILE,
		    text == NULL ? "out of memory" : strerror(errno));
	free(text);
}

/* --- Firing --------------------------------------------------------------- */

/* The spec a firing submits: the entry's, with JOBD_CRON in exec's env. */
static json_t *
firing_spec(const struct recur *e)
{
	json_t *spec = json_deep_copy(e->spec), *env;
	const char *kind = json_string_value(json_object_get(spec, "kind"));

	if (kind != NULL && strcmp(kind, "exec") == 0) {
		if ((env = json_object_get(spec, "env")) == NULL) {
			env = json_object();
			json_object_set_new(spec, "env", env);
		}
		json_object_set_new(env, "JOBD_CRON", json_string(e->name));
	}
	return spec;
}

static void
set_error(struct recur *e, const char *msg)
{
	free(e->last_error);
	e->last_error = msg != NULL ? xstrdup(msg) : NULL;
}

/*
 * Submit the entry's job; the job, or NULL (counted and logged).  With
 * check_overlap, a firing while the last job runs is skipped instead.
 */
static struct job *
fire(struct recur *e, bool check_overlap, int *codep)
{
	/* The owner's rights, as if they had submitted it. */
	struct conn_cred who = {
	    .uid = e->owner, .admin = ident_uid_admin(e->owner)};
	struct submit_error serr = {.single = true, .who = &who};
	struct job *job, *last;
	char err[512];
	json_t *spec;
	bool dup;
	int code;

	if (jobd.draining) {
		e->skipped++;
		counter_add(jobd.stats, COUNTER_cron_skipped, 1);
		log_info("cron %s: skipped: jobd is draining", e->name);
		return NULL;
	}
	if (check_overlap && !e->allow_overlap && e->last_job != 0 &&
	    (last = sched_find(e->last_job)) != NULL && !job_finished(last)) {
		e->skipped++;
		counter_add(jobd.stats, COUNTER_cron_skipped, 1);
		log_info("cron %s: skipped: job %llu still %s", e->name,
		    (unsigned long long)last->id, job_state_name(last->state));
		return NULL;
	}
	spec = firing_spec(e);
	job = job_parse(spec, "job", &code, err, sizeof err);
	if (job != NULL) {
		job->owner = e->owner;
		job->queue_user_ok = who.admin;
	}
	if (job == NULL || sched_submit(&job, (const json_t *const *)&spec, 1,
	                       &dup, &serr) != 0) {
		if (job != NULL) {
			snprintf(err, sizeof err, "%s", serr.msg);
			code = serr.code;
			job_free(job);
		}
		if (codep != NULL)
			*codep = code;
		json_decref(spec);
		e->failed++;
		set_error(e, err);
		counter_add(jobd.stats, COUNTER_cron_failed, 1);
		log_warn("cron %s: not submitted: %s", e->name, err);
		return NULL;
	}
	json_decref(spec);
	e->runs++;
	e->last_job = job->id;
	set_error(e, NULL);
	counter_add(jobd.stats, COUNTER_cron_fired, 1);
	log_info("cron %s: submitted job %llu", e->name,
	    (unsigned long long)job->id);
	return job;
}

/* The next firing after `after` (ms), or 0 if there is none. */
static uint64_t
next_after(const struct recur *e, uint64_t after)
{
	int64_t t = cron_next(e->expr, e->tz, (int64_t)(after / 1000));

	return t < 0 ? 0 : (uint64_t)t * 1000;
}

static void
due(evutil_socket_t fd, short what, void *arg)
{
	struct recur *e = arg;
	uint64_t now = now_ms();

	if (now < e->next_ms) {
		arm(e); /* early: the wall clock was set back */
		return;
	}
	if (!jobd.stopping)
		fire(e, true, NULL);
	e->last_ms = e->next_ms;
	e->next_ms = next_after(e, now > e->next_ms ? now : e->next_ms);
	arm(e);
	save();
}

static void
arm(struct recur *e)
{
	uint64_t now = now_ms(), ms;
	struct timeval tv;

	if (e->timer == NULL)
		e->timer = evtimer_new(jobd.base, due, e);
	evtimer_del(e->timer);
	if (e->next_ms == 0)
		return; /* never again */
	ms = e->next_ms > now ? e->next_ms - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_base_update_cache_time(jobd.base);
	evtimer_add(e->timer, &tv);
}

/* --- Building entries ----------------------------------------------------- */

/* Spec fields that make no sense for a job submitted again and again. */
static const char *const one_off_fields[] = {
    "run_at", "expires_at", "depends_on", "after", "ref", NULL};

/*
 * An entry from its parts, every one checked (the spec by parsing it as a
 * job would be); NULL with *code and err set.
 */
static struct recur *
entry_new(const char *name, const char *schedule, const char *tz_text,
    const json_t *spec, int *code, char *err, size_t errlen)
{
	struct recur *e = xcalloc(1, sizeof(*e));
	char msg[256];
	struct job *job;
	size_t i;

	e->name = xstrdup(name);
	if ((e->expr = cron_parse(schedule, msg, sizeof msg)) == NULL) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "schedule: %s", msg);
		goto fail;
	}
	if (tz_text != NULL) {
		if ((e->tz = tz_load(tz_text, msg, sizeof msg)) == NULL) {
			recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
			    "tz: %s", msg);
			goto fail;
		}
		e->tz_name = xstrdup(tz_text);
	} else
		e->tz = R.local;
	if (!json_is_object(spec)) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "job must be a job spec object");
		goto fail;
	}
	for (i = 0; one_off_fields[i] != NULL; i++) {
		if (json_object_get(spec, one_off_fields[i]) != NULL) {
			recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
			    "job.%s: not for a recurring job (each firing "
			    "submits the job anew)",
			    one_off_fields[i]);
			goto fail;
		}
	}
	if ((job = job_parse(spec, "job", code, err, errlen)) == NULL)
		goto fail;
	job_free(job);
	e->spec = json_deep_copy(spec);
	return e;
fail:
	entry_free(e);
	return NULL;
}

static const char *
req_string(const json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

static int
req_bool(const json_t *req, const char *key, bool *out, int *code, char *err,
    size_t errlen)
{
	const json_t *v = json_object_get(req, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "%s must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* The "name" of a request: an existing entry's if must_exist. */
static int
req_name(
    const json_t *req, const char **name, int *code, char *err, size_t errlen)
{
	*name = req_string(req, "name");
	if (*name == NULL || !queue_name_valid(*name))
		return recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "name must be 1 to %d letters, digits, '_', '.' or '-'",
		    QUEUE_NAME_MAX);
	return 0;
}

json_t *
recur_add(const json_t *req, const struct conn_cred *who, int *code, char *err,
    size_t errlen)
{
	const json_t *user = json_object_get(req, "user");
	long owner = (long)who->uid;
	const json_t *overlap = json_object_get(req, "overlap");
	const json_t *tz = json_object_get(req, "tz");
	bool catch_up = false, replace = false;
	struct recur *e, *old;
	const char *name, *schedule = req_string(req, "schedule");
	uint64_t now = now_ms();

	if (req_name(req, &name, code, err, errlen) != 0 ||
	    req_bool(req, "catch_up", &catch_up, code, err, errlen) != 0 ||
	    req_bool(req, "replace", &replace, code, err, errlen) != 0)
		return NULL;
	if (schedule == NULL) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "schedule must be a cron expression such as \"0 3 * * *\" "
		    "or \"@hourly\"");
		return NULL;
	}
	if (tz != NULL && !json_is_string(tz)) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "tz must be a time zone name such as \"Europe/Berlin\"");
		return NULL;
	}
	if (overlap != NULL &&
	    (!json_is_string(overlap) ||
	        (strcmp(json_string_value(overlap), "skip") != 0 &&
	            strcmp(json_string_value(overlap), "allow") != 0))) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "overlap must be \"skip\" (no firing while the last job "
		    "runs) or \"allow\"");
		return NULL;
	}
	if (user != NULL &&
	    ((!json_is_string(user) && !json_is_integer(user)) ||
	        (owner = json_is_string(user)
	                     ? ident_parse_user(json_string_value(user))
	                 : json_integer_value(user) >= 0 &&
	                         ident_known_uid(
	                             (unsigned long)json_integer_value(user))
	                     ? (long)json_integer_value(user)
	                     : -1) < 0)) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "user must be a user name or uid known to the system");
		return NULL;
	}
	old = find(name);
	if (old != NULL && !ident_may(who, old->owner)) {
		recur_fail(code, err, errlen, PROTO_E_FORBIDDEN,
		    "cron %s belongs to another user", name);
		return NULL;
	}
	/* A replaced entry stays its owner's unless user says otherwise. */
	if (user == NULL && old != NULL)
		owner = (long)old->owner;
	if (!ident_may(who, (uid_t)owner)) {
		recur_fail(code, err, errlen, PROTO_E_FORBIDDEN,
		    "only root, jobd's user or a member of --admin-groups "
		    "may add a recurring job that runs as another user");
		return NULL;
	}
	if (owner == 0 && who->uid != 0) {
		recur_fail(code, err, errlen, PROTO_E_FORBIDDEN,
		    "only root may add a recurring job that runs as root");
		return NULL;
	}
	if (old != NULL && !replace) {
		recur_fail(code, err, errlen, PROTO_E_BAD_REQUEST,
		    "cron %s exists (remove it, or add with \"replace\": true)",
		    name);
		return NULL;
	}
	if (old == NULL && R.n >= RECUR_MAX) {
		recur_fail(code, err, errlen, PROTO_E_OUT_OF_RANGE,
		    "%d recurring jobs already; remove some first", RECUR_MAX);
		return NULL;
	}
	if ((e = entry_new(name, schedule, json_string_value(tz),
	         json_object_get(req, "job"), code, err, errlen)) == NULL)
		return NULL;
	e->allow_overlap =
	    overlap != NULL && strcmp(json_string_value(overlap), "allow") == 0;
	e->catch_up = catch_up;
	e->owner = (uid_t)owner;
	e->created_ms = now;
	e->next_ms = next_after(e, now);
	if (old != NULL) {
		/* A replaced entry keeps its history. */
		e->created_ms = old->created_ms;
		e->last_ms = old->last_ms;
		e->last_job = old->last_job;
		e->runs = old->runs;
		e->skipped = old->skipped;
		e->failed = old->failed;
		TAILQ_INSERT_BEFORE(old, e, link);
		TAILQ_REMOVE(&R.entries, old, link);
		entry_free(old);
	} else {
		TAILQ_INSERT_TAIL(&R.entries, e, link);
		R.n++;
	}
	arm(e);
	save();
	log_info("cron %s: %s (%s), next at %llu", e->name, cron_text(e->expr),
	    tz_name(e->tz), (unsigned long long)e->next_ms / 1000);
	return json_pack("{s:o}", "cron", entry_json(e));
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp((*(struct recur *const *)a)->name,
	    (*(struct recur *const *)b)->name);
}

json_t *
recur_list(const struct conn_cred *who)
{
	struct recur *e, **v = xcalloc(R.n + 1, sizeof(*v));
	json_t *arr = json_array();
	size_t i, n = 0;

	TAILQ_FOREACH(e, &R.entries, link)
	{
		if (ident_may(who, e->owner))
			v[n++] = e;
	}
	qsort(v, n, sizeof(*v), cmp_entry);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, entry_json(v[i]));
	free(v);
	return json_pack("{s:o}", "cron", arr);
}

static struct recur *
req_entry(const json_t *req, const struct conn_cred *who, int *code, char *err,
    size_t errlen)
{
	struct recur *e;
	const char *name;

	if (req_name(req, &name, code, err, errlen) != 0)
		return NULL;
	if ((e = find(name)) == NULL)
		recur_fail(code, err, errlen, PROTO_E_NOT_FOUND,
		    "no recurring job named %s", name);
	else if (!ident_may(who, e->owner)) {
		recur_fail(code, err, errlen, PROTO_E_FORBIDDEN,
		    "cron %s belongs to another user", name);
		e = NULL;
	}
	return e;
}

json_t *
recur_remove(const json_t *req, const struct conn_cred *who, int *code,
    char *err, size_t errlen)
{
	struct recur *e = req_entry(req, who, code, err, errlen);
	json_t *out;

	if (e == NULL)
		return NULL;
	out = json_pack("{s:o}", "cron", entry_json(e));
	TAILQ_REMOVE(&R.entries, e, link);
	R.n--;
	log_info("cron %s: removed", e->name);
	entry_free(e);
	save();
	return out;
}

json_t *
recur_run(const json_t *req, const struct conn_cred *who, int *code, char *err,
    size_t errlen)
{
	struct recur *e = req_entry(req, who, code, err, errlen);
	uint64_t skipped;
	struct job *job;
	json_t *out;

	if (e == NULL)
		return NULL;
	if (jobd.stopping || jobd.draining) {
		recur_fail(code, err, errlen, PROTO_E_SHUTTING_DOWN,
		    "jobd is stopping or draining; not accepting jobs");
		return NULL;
	}
	skipped = e->skipped;
	job = fire(e, true, code);
	save();
	if (job == NULL && e->skipped > skipped) {
		/* As a scheduled firing would be: the last job runs on. */
		out = json_pack(
		    "{s:o, s:b}", "cron", entry_json(e), "skipped", true);
		if ((job = sched_find(e->last_job)) != NULL)
			json_object_set_new(out, "job", job_summary_json(job));
		return out;
	}
	if (job == NULL) {
		recur_fail(code, err, errlen, *code,
		    "cron %s: not submitted: %s", e->name,
		    e->last_error != NULL ? e->last_error : "?");
		return NULL;
	}
	return json_pack(
	    "{s:o, s:o}", "cron", entry_json(e), "job", job_summary_json(job));
}

/* --- Start and stop ------------------------------------------------------- */

static uint64_t
saved_uint(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* One saved entry; its missed firings skipped, or run once (catch_up). */
static int
load_entry(const json_t *o, uint64_t now, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	struct recur *e;
	char msg[512];
	uint64_t since, missed;
	int code;

	if (name == NULL || !queue_name_valid(name) || find(name) != NULL) {
		snprintf(err, errlen, "an entry has a bad or repeated name");
		return -1;
	}
	e = entry_new(name, json_string_value(json_object_get(o, "schedule")),
	    json_string_value(json_object_get(o, "tz")),
	    json_object_get(o, "job"), &code, msg, sizeof msg);
	if (e == NULL) {
		snprintf(err, errlen, "entry %.64s: %.300s", name, msg);
		return -1;
	}
	e->allow_overlap = json_is_true(json_object_get(o, "allow_overlap"));
	e->catch_up = json_is_true(json_object_get(o, "catch_up"));
	/* Entries saved before owners were kept are jobd's user's. */
	e->owner = geteuid();
	if (json_object_get(o, "uid") != NULL) {
		json_int_t uid = json_integer_value(json_object_get(o, "uid"));

		if (!json_is_integer(json_object_get(o, "uid")) || uid < 0 ||
		    uid >= (json_int_t)UINT32_MAX) {
			entry_free(e);
			snprintf(err, errlen, "entry %.64s: a bad uid", name);
			return -1;
		}
		e->owner = (uid_t)uid;
	}
	e->created_ms = saved_uint(o, "created_ms");
	e->last_ms = saved_uint(o, "last_ms");
	e->last_job = saved_uint(o, "last_job");
	e->runs = saved_uint(o, "runs");
	e->skipped = saved_uint(o, "skipped");
	e->failed = saved_uint(o, "failed");
	TAILQ_INSERT_TAIL(&R.entries, e, link);
	R.n++;
	since = e->last_ms > e->created_ms ? e->last_ms : e->created_ms;
	missed = next_after(e, since);
	if (missed != 0 && missed <= now) {
		if (e->catch_up) {
			log_notice("cron %s: missed firings while jobd was "
			           "down: running once now",
			    e->name);
			fire(e, false, NULL);
		} else {
			log_notice("cron %s: skipping firings missed while "
			           "jobd was down",
			    e->name);
			e->skipped++;
		}
		e->last_ms = now;
	}
	e->next_ms = next_after(e, now);
	arm(e);
	return 0;
}

int
recur_init(char *err, size_t errlen)
{
	json_t *root, *entries, *o;
	json_error_t jerr;
	char msg[512], *text;
	uint64_t now = now_ms();
	size_t i, len;

	if ((R.local = tz_load(NULL, msg, sizeof msg)) == NULL) {
		log_warn("local time zone: %s; using UTC", msg);
		if ((R.local = tz_load("UTC", msg, sizeof msg)) == NULL) {
			snprintf(err, errlen, "time zone UTC: %s", msg);
			return -1;
		}
	}
	if (statedir_path() == NULL)
		return 0;
	if ((text = statedir_read(RECUR_FILE, &len)) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s/%s: %s", statedir_path(), RECUR_FILE,
		    strerror(errno));
		return -1;
	}
	root = json_loadb(text, len, 0, &jerr);
	free(text);
	entries = json_object_get(root, "entries");
	if (root == NULL || !json_is_array(entries) ||
	    json_integer_value(json_object_get(root, "version")) !=
	        RECUR_FILE_VERSION) {
		snprintf(err, errlen,
		    "%s/%s is damaged (%s); move it away to start without "
		    "its recurring jobs",
		    statedir_path(), RECUR_FILE,
		    root == NULL ? jerr.text : "not a version 1 file");
		json_decref(root);
		return -1;
	}
	json_array_foreach(entries, i, o)
	{
		if (load_entry(o, now, msg, sizeof msg) != 0) {
			snprintf(err, errlen, "%s/%s: %s", statedir_path(),
			    RECUR_FILE, msg);
			json_decref(root);
			return -1;
		}
	}
	json_decref(root);
	if (R.n > 0) {
		log_info("%zu recurring job(s) loaded", R.n);
		save();
	}
	return 0;
}

void
recur_free(void)
{
	struct recur *e;

	while ((e = TAILQ_FIRST(&R.entries)) != NULL) {
		TAILQ_REMOVE(&R.entries, e, link);
		entry_free(e);
	}
	R.n = 0;
	tz_free(R.local);
	R.local = NULL;
}
