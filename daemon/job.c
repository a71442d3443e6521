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
#include "counters.h"
#include "job.h"
#include "ident.h"
#include "jobd.h"
#include "log.h"
#include "proto.h"
#include "queue.h"
#include "xmalloc.h"

#define SUMMARY_ARGV_MAX 1024 /* bytes of argv in a summary */
#define ARGS_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

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
    "limits", "output_cap", "args", "meta", "timeout_ms", "kill_grace_ms",
    "retries", "retry", "queue", "priority", "delay_ms", "run_at", "expires_at",
    "key", "unique", "depends_on", "after", "ref", NULL};

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
	/* A spec from the store: accepted once, so jobd's size limits are
	 * not applied again, and its resource limits are lowered to today's
	 * rather than refused. */
	bool stored;
};

/* A job being parsed: its fixed part, and blocks made as they are needed. */
struct draft {
	struct job *job; /* without the args text yet */
	struct job_exec *exec;
	struct job_opts *opts;
	const json_t *args;     /* the spec's */
	const char *kind_name;  /* static */
	const char *queue_name; /* the spec's */
};

/* The blocks of jobs that have none of their own: never written. */
static const struct job_opts opts_none;
static const struct job_run run_none;

static struct job_opts *opts(struct draft *d);
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

/* A field a job does not have; "timeout" may have meant "timeout_ms". */
static void
unknown_field(struct parse *ps, const char *key)
{
	size_t i;

	for (i = 0; spec_fields[i] != NULL; i++) {
		if (key[0] != '\0' &&
		    strncmp(spec_fields[i], key, strlen(key)) == 0)
			break;
	}
	snprintf(ps->err, ps->errlen, "%s: unknown field \"%.64s\"%s%s%s",
	    ps->where, key, spec_fields[i] != NULL ? " (did you mean \"" : "",
	    spec_fields[i] != NULL ? spec_fields[i] : "",
	    spec_fields[i] != NULL ? "\"?)" : "");
	ps->code = PROTO_E_BAD_REQUEST;
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

/* Bytes of a NULL-terminated string vector, a NUL each. */
static size_t
strv_size(char **v)
{
	size_t n = 0;

	for (; *v != NULL; v++)
		n += strlen(*v) + 1;
	return n;
}

/* A part of the spec within its limit (0: none), or out_of_range. */
static int
check_size(struct parse *ps, const char *what, size_t size, size_t max,
    const char *option)
{
	if (max == 0 || size <= max || ps->stored)
		return 0;
	counter_add(jobd.stats, COUNTER_requests_over_limit, 1);
	return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
	    "%s is %zu bytes; the limit is %zu (jobd %s)", what, size, max,
	    option);
}

static int
parse_argv(struct parse *ps, struct draft *d, const json_t *spec)
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
	d->exec->argv = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "argv[%zu]", i);
		if (parse_cstring(ps, json_array_get(argv, i), name,
		        &d->exec->argv[i]) != 0)
			return -1;
	}
	if (d->exec->argv[0][0] == '\0')
		return parse_fail(
		    ps, PROTO_E_BAD_REQUEST, "argv[0] must not be empty");
	return check_size(ps, "argv", strv_size(d->exec->argv),
	    jobd.cfg.max_argv, "--max-argv");
}

static int
parse_env(struct parse *ps, struct draft *d, const json_t *spec)
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
	d->exec->envp = xcalloc(json_object_size(env) + 2, sizeof(char *));
	json_object_foreach((json_t *)(uintptr_t)env, key, value)
	{
		if (key[0] == '\0' || strchr(key, '=') != NULL)
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "env key \"%.64s\" is not a variable name", key);
		if (parse_cstring(ps, value, "env value", &v) != 0)
			return -1;
		xasprintf(&d->exec->envp[n++], "%s=%s", key, v);
		free(v);
		if (strcmp(key, "PATH") == 0)
			has_path = true;
	}
	if (!has_path)
		d->exec->envp[n++] = xstrdup("PATH=" JOB_DEFAULT_PATH);
	return check_size(
	    ps, "env", strv_size(d->exec->envp), jobd.cfg.max_env, "--max-env");
}

static const char *const limit_names[EXEC_RLIMIT_N] = {
    "as", "cpu", "nofile", "nproc"};

/*
 * "limits": {"as": bytes, "cpu": seconds, "nofile": n, "nproc": n}, each
 * at most jobd's own --limit-* (a job may tighten them, not loosen).
 */
static int
parse_limits(struct parse *ps, struct draft *d, const json_t *spec)
{
	static const uint64_t lo[EXEC_RLIMIT_N] = {1 << 20, 1, 8, 1};
	static const uint64_t hi[EXEC_RLIMIT_N] = {
	    UINT64_C(1) << 50, 1u << 30, 1 << 20, 1 << 22};
	const json_t *limits = json_object_get(spec, "limits");
	const char *key;
	json_t *value;
	char name[32];
	uint64_t max;
	int i;

	if (limits == NULL)
		return 0;
	if (!json_is_object(limits))
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "limits must be an object with any of as, cpu, nofile, "
		    "nproc");
	json_object_foreach((json_t *)(uintptr_t)limits, key, value)
	{
		for (i = 0; i < EXEC_RLIMIT_N; i++) {
			if (strcmp(key, limit_names[i]) == 0)
				break;
		}
		if (i == EXEC_RLIMIT_N)
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "limits: unknown limit \"%.32s\" (as, cpu, "
			    "nofile, nproc)",
			    key);
		max =
		    jobd.cfg.job_limit[i] != 0 ? jobd.cfg.job_limit[i] : hi[i];
		if (jobd.cfg.job_hard[i] != 0 && jobd.cfg.job_hard[i] < max)
			max = jobd.cfg.job_hard[i];
		snprintf(name, sizeof name, "limits.%s", key);
		if (!json_is_integer(value))
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "%s must be an integer", name);
		if (ps->stored &&
		    json_integer_value(value) >= (json_int_t)lo[i] &&
		    (uint64_t)json_integer_value(value) > max) {
			d->exec->limit[i] = max;
			continue;
		}
		if (json_integer_value(value) < (json_int_t)lo[i] ||
		    (uint64_t)json_integer_value(value) > max)
			return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
			    "%s must be from %" PRIu64 " to %" PRIu64 "%s",
			    name, lo[i], max,
			    max < hi[i] ? " (jobd's own limit)" : "");
		d->exec->limit[i] = (uint64_t)json_integer_value(value);
	}
	return 0;
}

static int
parse_exec(struct parse *ps, struct draft *d, const json_t *spec)
{
	const json_t *v;

	if (parse_argv(ps, d, spec) != 0 || parse_env(ps, d, spec) != 0 ||
	    parse_limits(ps, d, spec) != 0 ||
	    parse_uint(ps, spec, "output_cap", 1,
	        ps->stored ? UINT64_MAX : jobd.cfg.output_cap,
	        &d->exec->output_cap) < 0)
		return -1;
	if (d->exec->output_cap > jobd.cfg.output_cap)
		d->exec->output_cap = jobd.cfg.output_cap; /* stored */
	if ((v = json_object_get(spec, "cwd")) != NULL) {
		if (parse_cstring(ps, v, "cwd", &d->exec->cwd) != 0)
			return -1;
		if (d->exec->cwd[0] != '/')
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "cwd must be an absolute path");
	}
	if ((v = json_object_get(spec, "stdin")) != NULL) {
		if (!json_is_string(v))
			return parse_fail(
			    ps, PROTO_E_BAD_REQUEST, "stdin must be a string");
		if (check_size(ps, "stdin", json_string_length(v),
		        jobd.cfg.max_stdin, "--max-stdin") != 0)
			return -1;
		d->exec->stdin_len = json_string_length(v);
		d->exec->stdin_data = xmalloc(d->exec->stdin_len + 1);
		memcpy(d->exec->stdin_data, json_string_value(v),
		    d->exec->stdin_len + 1);
	}
	if (json_object_get(spec, "args") != NULL)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "args is not used by kind exec (use argv)");
	return 0;
}

static int
parse_builtin(struct parse *ps, struct draft *d, const json_t *spec)
{
	static const char *const exec_only[] = {
	    "argv", "env", "cwd", "stdin", "limits", "output_cap", NULL};
	const json_t *args = json_object_get(spec, "args");
	uint64_t ms;
	size_t i;

	for (i = 0; exec_only[i] != NULL; i++) {
		if (json_object_get(spec, exec_only[i]) != NULL)
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "%s is only for kind exec", exec_only[i]);
	}
	d->args = args;
	switch (d->job->kind) {
	case KIND_ECHO:
		return 0;
	case KIND_SLEEP:
		if (!json_is_object(args) ||
		    parse_uint(ps, args, "ms", 0, JOB_MAX_TIMEOUT_MS, &ms) != 1)
			return ps->code != 0
			           ? -1
			           : parse_fail(ps, PROTO_E_BAD_REQUEST,
			                 "args must be {\"ms\": N}");
		d->job->spec.sleep_ms = ms;
		return 0;
	case KIND_COMPUTE:
		d->job->spec.compute =
		    compute_parse(d->kind_name, args, ps->err, ps->errlen);
		if (d->job->spec.compute == NULL) {
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
parse_retry(struct parse *ps, struct draft *d, const json_t *spec)
{
	const json_t *r = json_object_get(spec, "retry");
	uint64_t retries;
	int has_retries;
	char msg[200];

	struct retry_policy policy;

	retry_policy_default(&policy);
	has_retries = parse_uint(
	    ps, spec, "retries", 0, RETRY_MAX_ATTEMPTS - 1, &retries);
	if (has_retries < 0)
		return -1;
	if (has_retries)
		policy.max_attempts = (uint32_t)retries + 1;
	if (!has_retries && r == NULL)
		return 0;
	if (has_retries && json_is_object(r) &&
	    json_object_get(r, "max_attempts") != NULL)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "give retries or retry.max_attempts, not both");
	if (r != NULL &&
	    retry_policy_from_json(&policy, r, msg, sizeof msg) != 0)
		return parse_fail(ps, PROTO_E_BAD_REQUEST, "%s", msg);
	opts(d)->retry = policy;
	opts(d)->retry_given = true;
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
parse_times(struct parse *ps, struct draft *d, const json_t *spec)
{
	uint64_t now = now_ms(), delay = 0, run_at = 0, expires = 0;
	int has_delay, has_run_at, has_expiry;

	if ((has_delay = parse_uint(
	         ps, spec, "delay_ms", 0, JOB_MAX_TIMEOUT_MS, &delay)) < 0 ||
	    (has_run_at = parse_time(ps, spec, "run_at", &run_at)) < 0 ||
	    (has_expiry = parse_time(ps, spec, "expires_at", &expires)) < 0)
		return -1;
	if (has_delay && has_run_at)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "give delay_ms or run_at, not both");
	/* The scheduler counts a delay from the submit time. */
	if (has_delay)
		run_at = now + delay;
	/* A second of slack for clocks and round trips. */
	if (has_run_at && run_at + 1000 < now)
		return parse_fail(
		    ps, PROTO_E_OUT_OF_RANGE, "run_at is in the past");
	if (has_run_at && run_at > now + JOB_MAX_TIMEOUT_MS)
		return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
		    "run_at is more than 30 days ahead");
	if (has_expiry && (expires <= now || expires <= run_at))
		return parse_fail(ps, PROTO_E_OUT_OF_RANGE,
		    "expires_at must be later than now and than the run time");
	if (has_delay || has_run_at || has_expiry) {
		opts(d)->delay_ms = delay;
		opts(d)->run_at_ms = run_at;
		opts(d)->expires_ms = expires;
	}
	return 0;
}

/* "key": a unique key; "unique": "active" (default) or "any". */
static int
parse_key(struct parse *ps, struct draft *d, const json_t *spec)
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
	if (parse_cstring(ps, key, "key", &opts(d)->key) != 0)
		return -1;
	if (unique != NULL) {
		if (!json_is_string(unique) ||
		    (strcmp(json_string_value(unique), "active") != 0 &&
		        strcmp(json_string_value(unique), "any") != 0))
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "unique must be \"active\" (a job with the key "
			    "that has not finished) or \"any\" (also a "
			    "finished one still kept)");
		opts(d)->key_any =
		    strcmp(json_string_value(unique), "any") == 0;
	}
	return 0;
}

/*
 * "depends_on": [ID or REF, ...], "after": "ok" (default) or "any", and
 * "ref": a name other jobs of the same submit may depend on.  Refs are
 * resolved, and checked for cycles, by the scheduler.
 */
static int
parse_deps(struct parse *ps, struct draft *d, const json_t *spec)
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
		if (parse_cstring(ps, ref, "ref", &opts(d)->ref) != 0)
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
		opts(d)->after_any =
		    strcmp(json_string_value(after), "any") == 0;
	}
	n = json_is_array(deps) ? json_array_size(deps) : 0;
	if (n == 0 || n > JOB_DEPS_MAX)
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "depends_on must be an array of 1 to %d job ids (or refs "
		    "of jobs in the same submit)",
		    JOB_DEPS_MAX);
	opts(d)->deps = xcalloc(n, sizeof(*opts(d)->deps));
	opts(d)->ndeps = (uint32_t)n;
	json_array_foreach(deps, i, v)
	{
		if (json_is_integer(v) && json_integer_value(v) > 0) {
			opts(d)->deps[i] = (uint64_t)json_integer_value(v);
			continue;
		}
		if (!json_is_string(v))
			return parse_fail(ps, PROTO_E_BAD_REQUEST,
			    "depends_on[%zu] must be a job id (an integer from "
			    "1) or the ref of a job in the same submit",
			    i);
		if (opts(d)->dep_refs == NULL)
			opts(d)->dep_refs =
			    xcalloc(n, sizeof(*opts(d)->dep_refs));
		if (parse_cstring(
		        ps, v, "depends_on[]", &opts(d)->dep_refs[i]) != 0)
			return -1;
	}
	return 0;
}

static int
parse_queue(struct parse *ps, struct draft *d, const json_t *spec)
{
	const json_t *v = json_object_get(spec, "queue");
	uint64_t priority = JOB_PRIORITY_DEFAULT;

	if (parse_uint(ps, spec, "priority", 0, JOB_PRIORITY_MAX, &priority) <
	    0)
		return -1;
	d->job->priority = (uint16_t)priority;
	if (v == NULL) {
		d->queue_name = QUEUE_DEFAULT;
		return 0;
	}
	if (!json_is_string(v) || !queue_name_valid(json_string_value(v)))
		return parse_fail(ps, PROTO_E_BAD_REQUEST,
		    "queue must be a name of 1 to %d letters, digits, '_', "
		    "'.' or '-'",
		    QUEUE_NAME_MAX);
	d->queue_name = json_string_value(v);
	return 0;
}

static int
parse_kind(struct parse *ps, struct draft *d, const json_t *spec)
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
			d->job->kind = (uint8_t)i;
			d->kind_name = builtin_kinds[i];
			return 0;
		}
	}
	if ((d->kind_name = compute_kind_name(name)) != NULL) {
		d->job->kind = KIND_COMPUTE;
		return 0;
	}
	return parse_fail(ps, PROTO_E_UNKNOWN_KIND,
	    "kind \"%.64s\" is unknown (exec, echo, sleep, sum, sort, map, "
	    "filter, reduce, group_by)",
	    name);
}

/* The job's options, made on first use. */
static struct job_opts *
opts(struct draft *d)
{
	if (d->opts == NULL)
		d->opts = xcalloc(1, sizeof(*d->opts));
	return d->opts;
}

/* What only a submit needs: the refs. */
static void
refs_free(struct job_opts *o)
{
	uint32_t i;

	if (o->dep_refs != NULL) {
		for (i = 0; i < o->ndeps; i++)
			free(o->dep_refs[i]);
		free(o->dep_refs);
		o->dep_refs = NULL;
	}
	free(o->ref);
	o->ref = NULL;
}

static void
opts_free(struct job_opts *o)
{
	if (o == NULL || o == &opts_none)
		return;
	refs_free(o);
	free(o->key);
	free(o->deps);
	free(o->dependents);
	json_decref(o->meta);
	free(o);
}

static void
exec_free(struct job_exec *e)
{
	if (e == NULL)
		return;
	strv_free(e->argv);
	strv_free(e->envp);
	free(e->cwd);
	free(e->stdin_data);
	free(e);
}

static void
run_free(struct job_run *r)
{
	uint32_t i;

	if (r == NULL || r == &run_none)
		return;
	json_decref(r->result);
	for (i = 0; i < r->nattempts; i++)
		free(r->attempts[i].error);
	free(r->attempts);
	buf_clear(&r->out);
	buf_clear(&r->err);
	free(r);
}

/*
 * Parse into a draft, then build the job: its fixed part with the args
 * text after it, and the blocks the spec needs.  The queue is looked up
 * (and so made) only once everything else is known to be valid.
 */
static struct job *
parse_job(const json_t *spec, const char *where, bool stored, int *code,
    char *err, size_t errlen)
{
	struct parse ps = {where, 0, err, errlen, stored};
	struct draft d = {0};
	struct job *job;
	const char *key;
	json_t *value;
	char small[1024];
	size_t i, len = 0;
	uint64_t timeout = 0;
	int r;

	if (!json_is_object(spec)) {
		parse_fail(&ps, PROTO_E_BAD_REQUEST, "job must be an object");
		*code = ps.code;
		return NULL;
	}
	d.job = xcalloc(1, sizeof(*d.job));
	json_object_foreach((json_t *)(uintptr_t)spec, key, value)
	{
		for (i = 0; spec_fields[i] != NULL; i++) {
			if (strcmp(key, spec_fields[i]) == 0)
				break;
		}
		if (spec_fields[i] == NULL) {
			unknown_field(&ps, key);
			goto fail;
		}
	}
	if (parse_kind(&ps, &d, spec) != 0)
		goto fail;
	if (d.job->kind == KIND_EXEC) {
		d.exec = xcalloc(1, sizeof(*d.exec));
		d.exec->kill_grace_ms = JOB_DEFAULT_KILL_GRACE_MS;
		r = parse_exec(&ps, &d, spec);
	} else
		r = parse_builtin(&ps, &d, spec);
	if (r != 0)
		goto fail;
	if ((r = parse_uint(
	         &ps, spec, "timeout_ms", 0, JOB_MAX_TIMEOUT_MS, &timeout)) < 0)
		goto fail;
	d.job->timeout_ms = (uint32_t)timeout;
	d.job->timeout_given = r > 0;
	if (d.exec != NULL && parse_uint(&ps, spec, "kill_grace_ms", 0,
	                          3600 * 1000, &d.exec->kill_grace_ms) < 0)
		goto fail;
	if (d.exec == NULL && json_object_get(spec, "kill_grace_ms") != NULL) {
		parse_fail(&ps, PROTO_E_BAD_REQUEST,
		    "kill_grace_ms is only for kind exec");
		goto fail;
	}
	if (parse_retry(&ps, &d, spec) != 0)
		goto fail;
	if ((value = json_object_get(spec, "meta")) != NULL)
		opts(&d)->meta = json_deep_copy(value);
	if (parse_queue(&ps, &d, spec) != 0 ||
	    parse_times(&ps, &d, spec) != 0 || parse_key(&ps, &d, spec) != 0 ||
	    parse_deps(&ps, &d, spec) != 0)
		goto fail;
	/* The args as text after the job: through a stack buffer if they
	 * fit (one pass), else written in place (a second pass). */
	if (d.args != NULL && !json_is_null(d.args))
		len = json_dumpb(d.args, small, sizeof small, ARGS_FLAGS);
	job = xreallocarray(d.job, 1, sizeof(*job) + len + 1);
	if (len <= sizeof small)
		memcpy(job->args, small, len);
	else if (json_dumpb(d.args, job->args, len, ARGS_FLAGS) != len)
		fatalx("job_parse: args changed size");
	job->args[len] = '\0';
	job->args_len = (uint32_t)len;
	LIST_INIT(&job->waiters);
	job->opts = d.opts != NULL ? d.opts : &opts_none;
	job->run = &run_none;
	if (d.exec != NULL)
		job->spec.exec = d.exec;
	job->queue = queue_get(d.queue_name);
	return job;
fail:
	*code = ps.code;
	if (d.job->kind == KIND_COMPUTE)
		compute_free(d.job->spec.compute);
	exec_free(d.exec);
	opts_free(d.opts);
	free(d.job);
	return NULL;
}

void
job_forget_refs(struct job *job)
{
	if (job->opts->dep_refs != NULL || job->opts->ref != NULL)
		refs_free(job_opts_mut(job));
}

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	if (job->kind == KIND_EXEC)
		exec_free((struct job_exec *)(uintptr_t)job->spec.exec);
	else if (job->kind == KIND_COMPUTE)
		compute_free(job->spec.compute);
	opts_free((struct job_opts *)(uintptr_t)job->opts);
	run_free((struct job_run *)(uintptr_t)job->run);
	free(job);
}

struct job_opts *
job_opts_mut(struct job *job)
{
	if (job->opts == &opts_none)
		job->opts = xcalloc(1, sizeof(struct job_opts));
	/* The job's own block: writable (only opts_none is read-only). */
	return (struct job_opts *)(uintptr_t)job->opts;
}

struct job_run *
job_run_mut(struct job *job)
{
	struct job_run *r;

	if (job->run == &run_none) {
		r = xcalloc(1, sizeof(*r));
		atomic_init(&r->cancel, 0);
		job->run = r;
	}
	return (struct job_run *)(uintptr_t)job->run;
}

const struct retry_policy *
job_retry(const struct job *job)
{
	static struct retry_policy def;
	static bool init;

	if (job->opts->retry_given)
		return &job->opts->retry;
	if (!init) {
		retry_policy_default(&def);
		init = true;
	}
	return &def;
}

const char *
job_kind_name(const struct job *job)
{
	if (job->kind == KIND_COMPUTE)
		return compute_name(job->spec.compute);
	return builtin_kinds[job->kind];
}

json_t *
job_args(const struct job *job)
{
	if (job->args_len == 0)
		return json_null();
	return json_loadb(job->args, job->args_len, JSON_DECODE_ANY, NULL);
}

struct attempt *
job_attempt_begin(struct job *job, uint64_t now)
{
	struct job_run *r = job_run_mut(job);
	struct attempt *a;

	r->attempts =
	    xreallocarray(r->attempts, r->nattempts + 1, sizeof(*r->attempts));
	a = &r->attempts[r->nattempts++];
	*a = (struct attempt){.started_ms = now, .exit_code = -1};
	return a;
}

struct attempt *
job_attempt_last(struct job *job)
{
	struct job_run *r = job_run_mut(job);

	return r->nattempts > 0 ? &r->attempts[r->nattempts - 1] : NULL;
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
	    job->run->nattempts > 0
	        ? &job->run->attempts[job->run->nattempts - 1]
	        : NULL;
	json_t *o;

	o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:o, s:I, s:I}", "id",
	    (json_int_t)job->id, "kind", job_kind_name(job), "state",
	    job_state_name(job->state), "queue", queue_name(job->queue),
	    "priority", (int)job->priority, "submitted_at",
	    json_time(job->submitted_ms), "attempts_made",
	    (json_int_t)job->run->nattempts, "uid", (json_int_t)job->owner);
	if (job->state == JOB_DELAYED && job->run->due_ms != 0)
		json_object_set_new(o, "run_at", json_time(job->run->due_ms));
	if (job->opts->expires_ms != 0)
		json_object_set_new(
		    o, "expires_at", json_time(job->opts->expires_ms));
	if (job->opts->key != NULL)
		json_object_set_new(o, "key", json_string(job->opts->key));
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
	if (job_exec(job) != NULL)
		add_argv(o, job_exec(job)->argv, SUMMARY_ARGV_MAX);
	return o;
}

/* The limits a job asked for, if any. */
static void
add_limits(json_t *o, const struct job_exec *ex)
{
	json_t *limits = NULL;
	int i;

	for (i = 0; i < EXEC_RLIMIT_N; i++) {
		if (ex->limit[i] == 0)
			continue;
		if (limits == NULL)
			limits = json_object();
		json_object_set_new(limits, limit_names[i],
		    json_integer((json_int_t)ex->limit[i]));
	}
	if (limits != NULL)
		json_object_set_new(o, "limits", limits);
}

json_t *
job_to_json(const struct job *job, unsigned flags)
{
	json_t *o = job_summary_json(job), *attempts;
	const struct attempt *a;
	const char *user;
	uint32_t i;
	bool with_output = (flags & JOB_JSON_OUTPUT) != 0;

	if (job->opts->meta != NULL)
		json_object_set_new(o, "meta", json_incref(job->opts->meta));
	if (flags & JOB_JSON_SPEC) {
		const struct job_exec *ex = job_exec(job);

		if (ex != NULL) {
			json_object_del(o, "argv_truncated");
			add_argv(o, ex->argv, 0);
			json_object_set_new(o, "env", env_json(ex->envp));
			if (ex->cwd != NULL)
				json_object_set_new(
				    o, "cwd", json_string(ex->cwd));
			add_limits(o, ex);
			if (ex->output_cap != 0)
				json_object_set_new(o, "output_cap",
				    json_integer((json_int_t)ex->output_cap));
		}
		if ((user = ident_user_name(job->owner)) != NULL)
			json_object_set_new(o, "user", json_string(user));
		if (job->args_len > 0)
			json_object_set_new(o, "args", job_args(job));
		if (job->timeout_ms != 0)
			json_object_set_new(o, "timeout_ms",
			    json_integer((json_int_t)job->timeout_ms));
		json_object_set_new(
		    o, "retry", retry_policy_to_json(job_retry(job)));
	}
	if (job->opts->ndeps > 0) {
		json_t *deps = json_array();

		for (i = 0; i < job->opts->ndeps; i++)
			json_array_append_new(
			    deps, json_integer((json_int_t)job->opts->deps[i]));
		json_object_set_new(o, "depends_on", deps);
		json_object_set_new(o, "after",
		    json_string(job->opts->after_any ? "any" : "ok"));
		if (job->state == JOB_WAITING)
			json_object_set_new(o, "waiting_for",
			    json_integer(job->opts->deps_pending));
	}
	attempts = json_array();
	for (i = 0; i < job->run->nattempts; i++)
		json_array_append_new(
		    attempts, attempt_json(&job->run->attempts[i], i + 1));
	json_object_set_new(o, "attempts", attempts);
	if (!job_finished(job))
		return o;
	a = job->run->nattempts > 0
	        ? &job->run->attempts[job->run->nattempts - 1]
	        : NULL;
	if (a != NULL && a->error != NULL)
		json_object_set_new(o, "error", json_string(a->error));
	if (job->run->result != NULL)
		json_object_set_new(o, "result", json_incref(job->run->result));
	if (with_output && job->kind == KIND_EXEC) {
		job_output_json(o, "stdout", &job->run->out);
		job_output_json(o, "stderr", &job->run->err);
	}
	return o;
}

struct job *
job_parse(
    const json_t *spec, const char *where, int *code, char *err, size_t errlen)
{
	return parse_job(spec, where, false, code, err, errlen);
}

struct job *
job_parse_stored(const json_t *spec, char *err, size_t errlen)
{
	int code;

	return parse_job(spec, "job", true, &code, err, errlen);
}
