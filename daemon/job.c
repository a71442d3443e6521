/*
 * job: parsing a job spec, the job's states and attempts, and its JSON form.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute.h"
#include "job.h"
#include "proto.h"
#include "queue.h"
#include "xmalloc.h"

#define SUMMARY_ARGV_MAX 1024 /* bytes of argv in a summary */

static const char *const state_names[] = {
    [JOB_QUEUED] = "queued",
    [JOB_DELAYED] = "delayed",
    [JOB_WAITING] = "waiting",
    [JOB_RUNNING] = "running",
    [JOB_SUCCEEDED] = "succeeded",
    [JOB_FAILED] = "failed",
    [JOB_TIMED_OUT] = "timed_out",
    [JOB_CANCELLED] = "cancelled",
    [JOB_EXPIRED] = "expired",
    [JOB_DEPENDENCY_FAILED] = "dependency_failed",
};

static const char *const outcome_names[] = {
    [OUTCOME_SUCCEEDED] = "succeeded",
    [OUTCOME_FAILED] = "failed",
    [OUTCOME_SIGNALED] = "signaled",
    [OUTCOME_TIMED_OUT] = "timed_out",
    [OUTCOME_SPAWN_FAILED] = "spawn_failed",
    [OUTCOME_LOST] = "lost",
    [OUTCOME_INTERRUPTED] = "interrupted",
    [OUTCOME_CANCELLED] = "cancelled",
};

static const char *const builtin_kinds[] = {
    [KIND_EXEC] = "exec",
    [KIND_ECHO] = "echo",
    [KIND_SLEEP] = "sleep",
};

/* The fields a spec may have; anything else is a mistake worth naming. */
static const char *const spec_fields[] = {"kind", "argv", "env", "cwd", "stdin",
    "args", "meta", "timeout_ms", "kill_grace_ms", "retries", "retry", "queue",
    "priority", "delay_ms", "run_at", "expires_at", "key", "unique",
    "depends_on", "after", "ref", NULL};

const char *
job_state_name(enum job_state s)
{
	return state_names[s];
}

int
job_state_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof state_names / sizeof state_names[0]; i++) {
		if (strcmp(name, state_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

const char *
attempt_outcome_name(enum attempt_outcome o)
{
	return outcome_names[o];
}

unsigned
attempt_outcome_retry_bit(enum attempt_outcome o)
{
	switch (o) {
	case OUTCOME_FAILED:
		return RETRY_ON_FAILED;
	case OUTCOME_SIGNALED:
		return RETRY_ON_SIGNALED;
	case OUTCOME_TIMED_OUT:
		return RETRY_ON_TIMED_OUT;
	case OUTCOME_SPAWN_FAILED:
		return RETRY_ON_SPAWN_FAILED;
	case OUTCOME_LOST:
		return RETRY_ON_LOST;
	default:
		return 0;
	}
}

bool
job_finished(const struct job *job)
{
	return job->state >= JOB_SUCCEEDED;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Formatting a time is a hot path (several per reply), so the date and time
 * of the last second seen are kept.  Loop thread only.
 */
json_t *
json_time(uint64_t ms)
{
	static char prefix[96] = ""; /* room for any int, to please gcc */
	static time_t prefix_secs = -1;
	time_t secs = (time_t)(ms / 1000);
	char text[112];
	struct tm tm;

	if (secs != prefix_secs) {
		gmtime_r(&secs, &tm);
		snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		prefix_secs = secs;
	}
	snprintf(text, sizeof text, "%s.%03uZ", prefix, (unsigned)(ms % 1000));
	return json_string_nocheck(text);
}

/* --- Parsing ------------------------------------------------------------- */

struct parse {
	const char *where;
	int code;
	char *err;
	size_t errlen;
};

static int parse_fail(struct parse *ps, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
parse_fail(struct parse *ps, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s%s%s", ps->where,
	    ps->where[0] != '\0' ? "." : "", msg);
	ps->code = code;
	return -1;
}

/* An optional integer field in [lo, hi]; 1 if present, 0 if absent. */
static int
parse_uint(struct parse *ps, const json_t *spec, const char *key, uint64_t lo,
    uint64_t hi, uint64_t *out)
{
	const json_t *v = json_object_get(spec, key);
	json_int_t n;

	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "%s must be an integer", key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < lo || (uint64_t)n > hi)
		return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
		    "%s must be from %" PRIu64 " to %" PRIu64, key, lo, hi);
	*out = (uint64_t)n;
	return 1;
}

/* A JSON string without NUL bytes, copied. */
static int
parse_cstring(struct parse *ps, const json_t *v, const char *name, char **out)
{
	if (!json_is_string(v))
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "%s must be a string", name);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "%s must not contain NUL bytes", name);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static void
free_strv(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int
parse_argv(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *argv = json_object_get(spec, "argv");
	char name[32];
	size_t i, n;

	if (argv == NULL)
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "argv is required for kind exec");
	if (!json_is_array(argv))
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "argv must be an array of strings");
	if ((n = json_array_size(argv)) == 0)
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "argv must not be empty");
	job->argv = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "argv[%zu]", i);
		if (parse_cstring(
		        ps, json_array_get(argv, i), name, &job->argv[i]) != 0)
			return -1;
	}
	if (job->argv[0][0] == '\0')
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "argv[0] must not be empty");
	return 0;
}

static int
parse_env(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *env = json_object_get(spec, "env");
	const char *key;
	json_t *value;
	size_t n = 0;
	bool has_path = false;
	char *v;

	if (env != NULL && !json_is_object(env))
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "env must be an object of strings");
	job->envp = xcalloc(json_object_size(env) + 2, sizeof(char *));
	json_object_foreach((json_t *)(uintptr_t)env, key, value)
	{
		if (key[0] == '\0' || strchr(key, '=') != NULL)
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "env key \"%.64s\" is not a variable name", key);
		if (parse_cstring(ps, value, "env value", &v) != 0)
			return -1;
		xasprintf(&job->envp[n++], "%s=%s", key, v);
		free(v);
		if (strcmp(key, "PATH") == 0)
			has_path = true;
	}
	if (!has_path)
		job->envp[n++] = xstrdup("PATH=" JOB_DEFAULT_PATH);
	return 0;
}

static int
parse_exec(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *v;

	if (parse_argv(ps, job, spec) != 0 || parse_env(ps, job, spec) != 0)
		return -1;
	if ((v = json_object_get(spec, "cwd")) != NULL) {
		if (parse_cstring(ps, v, "cwd", &job->cwd) != 0)
			return -1;
		if (job->cwd[0] != '/')
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "cwd must be an absolute path");
	}
	if ((v = json_object_get(spec, "stdin")) != NULL) {
		if (!json_is_string(v))
			return parse_fail(
			    ps, PROTO_E_BAD_REQUEST, "stdin must be a string");
		job->stdin_len = json_string_length(v);
		job->stdin_data = xmalloc(job->stdin_len + 1);
		memcpy(
		    job->stdin_data, json_string_value(v), job->stdin_len + 1);
	}
	if (json_object_get(spec, "args") != NULL)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "args is not used by kind exec (use argv)");
	return 0;
}

static int
parse_builtin(struct parse *ps, struct job *job, const json_t *spec)
{
	static const char *const exec_only[] = {
	    "argv", "env", "cwd", "stdin", NULL};
	const json_t *args = json_object_get(spec, "args");
	uint64_t ms;
	size_t i;

	for (i = 0; exec_only[i] != NULL; i++) {
		if (json_object_get(spec, exec_only[i]) != NULL)
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "%s is only for kind exec", exec_only[i]);
	}
	job->args = args != NULL ? json_deep_copy(args) : json_null();
	switch (job->kind) {
	case KIND_ECHO:
		return 0;
	case KIND_SLEEP:
		if (!json_is_object(args) ||
		    parse_uint(ps, args, "ms", 0, JOB_MAX_TIMEOUT_MS, &ms) != 1)
			return ps->code != 0
			           ? -1
			           : parse_fail(ps, PROTO_E_BAD_REQUEST,
			                 "args must be {\"ms\": N}");
		job->sleep_ms = ms;
		return 0;
	case KIND_COMPUTE:
		job->compute =
		    compute_parse(job->kind_name, args, ps->err, ps->errlen);
		if (job->compute == NULL) {
			char msg[256];

			snprintf(msg, sizeof msg, "%s", ps->err);
			return parse_fail(ps, PROTO_E_BAD_REQUEST, "%s", msg);
		}
		return 0;
	default:
		return parse_fail(ps, PROTO_E_INTERNAL, "kind");
	}
}

static int
parse_retry(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *r = json_object_get(spec, "retry");
	uint64_t retries;
	int has_retries;
	char msg[200];

	retry_policy_default(&job->retry);
	has_retries = parse_uint(
	    ps, spec, "retries", 0, RETRY_MAX_ATTEMPTS - 1, &retries);
	if (has_retries < 0)
		return -1;
	if (has_retries)
		job->retry.max_attempts = (uint32_t)retries + 1;
	job->retry_given = has_retries || r != NULL;
	if (r == NULL)
		return 0;
	if (has_retries && json_is_object(r) &&
	    json_object_get(r, "max_attempts") != NULL)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "give retries or retry.max_attempts, not both");
	if (retry_policy_from_json(&job->retry, r, msg, sizeof msg) != 0)
		return parse_fail(ps, PROTO_E_BAD_REQUEST, "%s", msg);
	return 0;
}

int
parse_rfc3339(const char *text, uint64_t *ms)
{
	int y, mo, d, h, mi, s, n = 0, off_h, off_m;
	unsigned frac = 0, scale = 1000;
	struct tm tm = {0};
	const char *p;
	int64_t secs;
	char sep;

	if (sscanf(text, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h,
	        &mi, &s, &n) != 7 ||
	    n != 19 || (sep != 'T' && sep != 't' && sep != ' ') || mo < 1 ||
	    mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	p = text + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (unsigned)(*p - '0') * scale;
			}
		}
		if (p[-1] == '.')
			return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	secs = (int64_t)timegm(&tm);
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') &&
	         sscanf(p + 1, "%2d:%2d", &off_h, &off_m) == 2 &&
	         strlen(p) == 6 && off_h <= 23 && off_m <= 59) {
		secs -=
		    (*p == '+' ? 1 : -1) * (int64_t)(off_h * 3600 + off_m * 60);
		p += 6;
	} else
		return -1;
	if (*p != '\0' || secs < 0)
		return -1;
	*ms = (uint64_t)secs * 1000 + frac;
	return 0;
}

/* A time field: an RFC 3339 string; 1 if present, 0 if absent. */
static int
parse_time(struct parse *ps, const json_t *spec, const char *key, uint64_t *ms)
{
	const json_t *v = json_object_get(spec, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || parse_rfc3339(json_string_value(v), ms) != 0)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "%s must be an RFC 3339 time such as "
		    "\"2026-11-26T18:00:00Z\"",
		    key);
	return 1;
}

/* delay_ms or run_at, and expires_at. */
static int
parse_times(struct parse *ps, struct job *job, const json_t *spec)
{
	uint64_t now = now_ms(), delay = 0;
	int has_delay, has_run_at, has_expiry;

	if ((has_delay = parse_uint(
	         ps, spec, "delay_ms", 0, JOB_MAX_TIMEOUT_MS, &delay)) < 0 ||
	    (has_run_at = parse_time(ps, spec, "run_at", &job->run_at_ms)) <
	        0 ||
	    (has_expiry =
	            parse_time(ps, spec, "expires_at", &job->expires_ms)) < 0)
		return -1;
	if (has_delay && has_run_at)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "give delay_ms or run_at, not both");
	if (has_delay) {
		/* The scheduler counts it from the submit time. */
		job->delay_ms = delay;
		job->run_at_ms = now + delay;
	}
	/* A second of slack for clocks and round trips. */
	if (has_run_at && job->run_at_ms + 1000 < now)
		return parse_fail(
		    ps, PROTO_E_OUT_OF_RANGE, "run_at is in the past");
	if (has_run_at && job->run_at_ms > now + JOB_MAX_TIMEOUT_MS)
		return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
		    "run_at is more than 30 days ahead");
	if (has_expiry &&
	    (job->expires_ms <= now || job->expires_ms <= job->run_at_ms))
		return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
		    "expires_at must be later than now and than the run time");
	return 0;
}

/* "key": a unique key; "unique": "active" (default) or "any". */
static int
parse_key(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *key = json_object_get(spec, "key");
	const json_t *unique = json_object_get(spec, "unique");

	if (key == NULL) {
		if (unique != NULL)
			return parse_fail(
			    ps, PROTO_E_BAD_REQUEST, "unique needs a key");
		return 0;
	}
	if (!json_is_string(key) || json_string_length(key) == 0 ||
	    json_string_length(key) > JOB_KEY_MAX)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "key must be a string of 1 to %d bytes", JOB_KEY_MAX);
	if (parse_cstring(ps, key, "key", &job->key) != 0)
		return -1;
	if (unique != NULL) {
		if (!json_is_string(unique) ||
		    (strcmp(json_string_value(unique), "active") != 0 &&
		        strcmp(json_string_value(unique), "any") != 0))
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "unique must be \"active\" (a job with the key "
			    "that has not finished) or \"any\" (also a "
			    "finished one still kept)");
		job->key_any = strcmp(json_string_value(unique), "any") == 0;
	}
	return 0;
}

/*
 * "depends_on": [ID or REF, ...], "after": "ok" (default) or "any", and
 * "ref": a name other jobs of the same submit may depend on.  Refs are
 * resolved, and checked for cycles, by the scheduler.
 */
static int
parse_deps(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *deps = json_object_get(spec, "depends_on");
	const json_t *after = json_object_get(spec, "after");
	const json_t *ref = json_object_get(spec, "ref");
	const json_t *v;
	size_t i, n;

	if (ref != NULL) {
		if (!json_is_string(ref) || json_string_length(ref) == 0 ||
		    json_string_length(ref) > JOB_REF_MAX)
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "ref must be a string of 1 to %d bytes",
			    JOB_REF_MAX);
		if (parse_cstring(ps, ref, "ref", &job->ref) != 0)
			return -1;
	}
	if (deps == NULL) {
		if (after != NULL)
			return parse_fail(
			    ps, PROTO_E_BAD_REQUEST, "after needs depends_on");
		return 0;
	}
	if (after != NULL) {
		if (!json_is_string(after) ||
		    (strcmp(json_string_value(after), "ok") != 0 &&
		        strcmp(json_string_value(after), "any") != 0))
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "after must be \"ok\" (run when every dependency "
			    "succeeded) or \"any\" (when every one ended)");
		job->after_any = strcmp(json_string_value(after), "any") == 0;
	}
	n = json_is_array(deps) ? json_array_size(deps) : 0;
	if (n == 0 || n > JOB_DEPS_MAX)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "depends_on must be an array of 1 to %d job ids (or refs "
		    "of jobs in the same submit)",
		    JOB_DEPS_MAX);
	job->deps = xcalloc(n, sizeof(*job->deps));
	job->ndeps = (uint32_t)n;
	json_array_foreach(deps, i, v)
	{
		if (json_is_integer(v) && json_integer_value(v) > 0) {
			job->deps[i] = (uint64_t)json_integer_value(v);
			continue;
		}
		if (!json_is_string(v))
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "depends_on[%zu] must be a job id (an integer from "
			    "1) or the ref of a job in the same submit",
			    i);
		if (job->dep_refs == NULL)
			job->dep_refs = xcalloc(n, sizeof(*job->dep_refs));
		if (parse_cstring(ps, v, "depends_on[]", &job->dep_refs[i]) !=
		    0)
			return -1;
	}
	return 0;
}

static int
parse_queue(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *v = json_object_get(spec, "queue");
	uint64_t priority = JOB_PRIORITY_DEFAULT;

	if (parse_uint(ps, spec, "priority", 0, JOB_PRIORITY_MAX, &priority) <
	    0)
		return -1;
	job->priority = (int)priority;
	if (v == NULL) {
		job->queue_name = xstrdup(QUEUE_DEFAULT);
		return 0;
	}
	if (!json_is_string(v) || !queue_name_valid(json_string_value(v)))
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "queue must be a name of 1 to %d letters, digits, '_', "
		    "'.' or '-'",
		    QUEUE_NAME_MAX);
	job->queue_name = xstrdup(json_string_value(v));
	return 0;
}

static int
parse_kind(struct parse *ps, struct job *job, const json_t *spec)
{
	const json_t *kind = json_object_get(spec, "kind");
	const char *name;
	size_t i;

	if (kind == NULL)
		return parse_fail(ps, PROTO_E_BAD_REQUEST, "kind is required");
	if (!json_is_string(kind))
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "kind must be a string");
	name = json_string_value(kind);
	for (i = 0; i < sizeof builtin_kinds / sizeof builtin_kinds[0]; i++) {
		if (strcmp(name, builtin_kinds[i]) == 0) {
			job->kind = (enum job_kind)i;
			job->kind_name = xstrdup(name);
			return 0;
		}
	}
	if (compute_kind_known(name)) {
		job->kind = KIND_COMPUTE;
		job->kind_name = xstrdup(name);
		return 0;
	}
	return parse_fail(ps, PROTO_E_UNKNOWN_KIND,
	    "kind \"%.64s\" is unknown (exec, echo, sleep, sum, sort, map, "
	    "filter, reduce, group_by)",
	    name);
}

struct job *
job_parse(
    const json_t *spec, const char *where, int *code, char *err, size_t errlen)
{
	struct parse ps = {where, 0, err, errlen};
	struct job *job;
	const char *key;
	json_t *value;
	size_t i;
	int r;

	if (!json_is_object(spec)) {
		parse_fail(&ps, PROTO_E_BAD_REQUEST, "job must be an object");
		*code = ps.code;
		return NULL;
	}
	job = xcalloc(1, sizeof(*job));
	job->kill_grace_ms = JOB_DEFAULT_KILL_GRACE_MS;
	LIST_INIT(&job->waiters);
	atomic_init(&job->cancel, 0);
	json_object_foreach((json_t *)(uintptr_t)spec, key, value)
	{
		for (i = 0; spec_fields[i] != NULL; i++) {
			if (strcmp(key, spec_fields[i]) == 0)
				break;
		}
		if (spec_fields[i] == NULL) {
			parse_fail(&ps, PROTO_E_BAD_REQUEST,
			    "unknown field \"%.64s\"", key);
			goto fail;
		}
	}
	if (parse_kind(&ps, job, spec) != 0)
		goto fail;
	r = job->kind == KIND_EXEC ? parse_exec(&ps, job, spec)
	                           : parse_builtin(&ps, job, spec);
	if (r != 0)
		goto fail;
	if ((r = parse_uint(&ps, spec, "timeout_ms", 0, JOB_MAX_TIMEOUT_MS,
	         &job->timeout_ms)) < 0)
		goto fail;
	job->timeout_given = r > 0;
	if (parse_uint(&ps, spec, "kill_grace_ms", 0, 3600 * 1000,
	        &job->kill_grace_ms) < 0 ||
	    parse_retry(&ps, job, spec) != 0)
		goto fail;
	if ((value = json_object_get(spec, "meta")) != NULL)
		job->meta = json_deep_copy(value);
	if (parse_queue(&ps, job, spec) != 0 ||
	    parse_times(&ps, job, spec) != 0 ||
	    parse_key(&ps, job, spec) != 0 || parse_deps(&ps, job, spec) != 0)
		goto fail;
	return job;
fail:
	*code = ps.code;
	job_free(job);
	return NULL;
}

void
job_forget_refs(struct job *job)
{
	uint32_t i;

	if (job->dep_refs != NULL) {
		for (i = 0; i < job->ndeps; i++)
			free(job->dep_refs[i]);
		free(job->dep_refs);
		job->dep_refs = NULL;
	}
	free(job->ref);
	job->ref = NULL;
}

void
job_free(struct job *job)
{
	uint32_t i;

	if (job == NULL)
		return;
	free(job->kind_name);
	free(job->queue_name);
	free(job->key);
	job_forget_refs(job);
	free(job->deps);
	free(job->dependents);
	free_strv(job->argv);
	free_strv(job->envp);
	free(job->cwd);
	free(job->stdin_data);
	json_decref(job->args);
	json_decref(job->meta);
	json_decref(job->result);
	compute_free(job->compute);
	for (i = 0; i < job->nattempts; i++)
		free(job->attempts[i].error);
	free(job->attempts);
	buf_clear(&job->out);
	buf_clear(&job->err);
	free(job);
}

struct attempt *
job_attempt_begin(struct job *job, uint64_t now)
{
	struct attempt *a;

	job->attempts = xreallocarray(
	    job->attempts, job->nattempts + 1, sizeof(*job->attempts));
	a = &job->attempts[job->nattempts++];
	*a = (struct attempt){.started_ms = now, .exit_code = -1};
	return a;
}

struct attempt *
job_attempt_last(struct job *job)
{
	return job->nattempts > 0 ? &job->attempts[job->nattempts - 1] : NULL;
}

void
buf_set(
    struct buf *b, const char *data, size_t len, uint64_t total, bool truncated)
{
	buf_clear(b);
	if (len > 0) {
		b->data = xmalloc(len);
		memcpy(b->data, data, len);
	}
	b->len = len;
	b->total = total;
	b->truncated = truncated;
}

void
buf_clear(struct buf *b)
{
	free(b->data);
	*b = (struct buf){0};
}

/* --- JSON ---------------------------------------------------------------- */

static char *
base64(const char *data, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = (const unsigned char *)data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

void
job_output_json(json_t *obj, const char *name, const struct buf *b)
{
	char key[64];
	char *text;

	if (proto_utf8_valid(b->data != NULL ? b->data : "", b->len)) {
		json_object_set_new(obj, name,
		    json_stringn(b->data != NULL ? b->data : "", b->len));
	} else {
		text = base64(b->data, b->len);
		json_object_set_new(obj, name, json_string(text));
		free(text);
		snprintf(key, sizeof key, "%s_encoding", name);
		json_object_set_new(obj, key, json_string("base64"));
	}
	if (b->truncated) {
		snprintf(key, sizeof key, "%s_truncated", name);
		json_object_set_new(obj, key, json_true());
		snprintf(key, sizeof key, "%s_bytes", name);
		json_object_set_new(
		    obj, key, json_integer((json_int_t)b->total));
	}
}

/* The environment ("K=V" strings) as an object. */
static json_t *
env_json(char **envp)
{
	json_t *out = json_object();
	const char *eq;
	size_t i;

	for (i = 0; envp[i] != NULL; i++) {
		eq = strchr(envp[i], '=');
		json_object_setn_new(
		    out, envp[i], (size_t)(eq - envp[i]), json_string(eq + 1));
	}
	return out;
}

static json_t *
attempt_json(const struct attempt *a, uint32_t n)
{
	json_t *o = json_pack("{s:I, s:o}", "attempt", (json_int_t)n,
	    "started_at", json_time(a->started_ms));

	if (a->ended_ms == 0)
		return o;
	json_object_set_new(o, "ended_at", json_time(a->ended_ms));
	json_object_set_new(
	    o, "outcome", json_string(attempt_outcome_name(a->outcome)));
	if (a->exit_code >= 0)
		json_object_set_new(o, "exit_code", json_integer(a->exit_code));
	if (a->signal != 0)
		json_object_set_new(o, "signal", json_integer(a->signal));
	if (a->error != NULL)
		json_object_set_new(o, "error", json_string(a->error));
	return o;
}

/*
 * "argv", cut after about max bytes (lists and events carry many
 * summaries; a job's whole argv can be a megabyte), with "argv_truncated"
 * when cut.  max 0: all of it.
 */
static void
add_argv(json_t *o, char **argv, size_t max)
{
	json_t *arr = json_array();
	size_t i, used = 0;

	for (i = 0; argv[i] != NULL; i++) {
		used += strlen(argv[i]);
		if (max != 0 && used > max) {
			json_object_set_new(o, "argv_truncated", json_true());
			break;
		}
		json_array_append_new(arr, json_string(argv[i]));
	}
	json_object_set_new(o, "argv", arr);
}

json_t *
job_summary_json(const struct job *job)
{
	const struct attempt *a =
	    job->nattempts > 0 ? &job->attempts[job->nattempts - 1] : NULL;
	json_t *o;

	o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:o, s:I}", "id",
	    (json_int_t)job->id, "kind", job->kind_name, "state",
	    job_state_name(job->state), "queue", job->queue_name, "priority",
	    job->priority, "submitted_at", json_time(job->submitted_ms),
	    "attempts_made", (json_int_t)job->nattempts);
	if (job->state == JOB_DELAYED && job->due_ms != 0)
		json_object_set_new(o, "run_at", json_time(job->due_ms));
	if (job->expires_ms != 0)
		json_object_set_new(
		    o, "expires_at", json_time(job->expires_ms));
	if (job->key != NULL)
		json_object_set_new(o, "key", json_string(job->key));
	if (job->finished_ms != 0)
		json_object_set_new(
		    o, "finished_at", json_time(job->finished_ms));
	if (job_finished(job) && a != NULL) {
		if (a->exit_code >= 0)
			json_object_set_new(
			    o, "exit_code", json_integer(a->exit_code));
		if (a->signal != 0)
			json_object_set_new(
			    o, "signal", json_integer(a->signal));
	}
	if (job->argv != NULL)
		add_argv(o, job->argv, SUMMARY_ARGV_MAX);
	return o;
}

json_t *
job_to_json(const struct job *job, unsigned flags)
{
	json_t *o = job_summary_json(job), *attempts;
	const struct attempt *a;
	uint32_t i;
	bool with_output = (flags & JOB_JSON_OUTPUT) != 0;

	if (job->meta != NULL)
		json_object_set_new(o, "meta", json_incref(job->meta));
	if (flags & JOB_JSON_SPEC) {
		if (job->argv != NULL) {
			json_object_del(o, "argv_truncated");
			add_argv(o, job->argv, 0);
		}
		if (job->envp != NULL)
			json_object_set_new(o, "env", env_json(job->envp));
		if (job->cwd != NULL)
			json_object_set_new(o, "cwd", json_string(job->cwd));
		if (job->args != NULL && !json_is_null(job->args))
			json_object_set_new(o, "args", json_incref(job->args));
		if (job->timeout_ms != 0)
			json_object_set_new(o, "timeout_ms",
			    json_integer((json_int_t)job->timeout_ms));
		json_object_set_new(
		    o, "retry", retry_policy_to_json(&job->retry));
	}
	if (job->ndeps > 0) {
		json_t *deps = json_array();

		for (i = 0; i < job->ndeps; i++)
			json_array_append_new(
			    deps, json_integer((json_int_t)job->deps[i]));
		json_object_set_new(o, "depends_on", deps);
		json_object_set_new(
		    o, "after", json_string(job->after_any ? "any" : "ok"));
		if (job->state == JOB_WAITING)
			json_object_set_new(
			    o, "waiting_for", json_integer(job->deps_pending));
	}
	attempts = json_array();
	for (i = 0; i < job->nattempts; i++)
		json_array_append_new(
		    attempts, attempt_json(&job->attempts[i], i + 1));
	json_object_set_new(o, "attempts", attempts);
	if (!job_finished(job))
		return o;
	a = job->nattempts > 0 ? &job->attempts[job->nattempts - 1] : NULL;
	if (a != NULL && a->error != NULL)
		json_object_set_new(o, "error", json_string(a->error));
	if (job->result != NULL)
		json_object_set_new(o, "result", json_incref(job->result));
	if (with_output && job->kind == KIND_EXEC) {
		job_output_json(o, "stdout", &job->out);
		job_output_json(o, "stderr", &job->err);
	}
	return o;
}
