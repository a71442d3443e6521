/*
 * persist: jobs as store records and back (see persist.h).
 *
 * Records are compact JSON, but for output, which is a one-line JSON
 * header ({"o":[LEN,TOTAL,TRUNCATED],"e":[...]}) followed by the bytes of
 * stdout and stderr as they are: output need not be UTF-8, and this keeps
 * it out of JSON escaping both ways.
 *
 * The time fields of a spec (delay_ms, run_at, expires_at) are taken out
 * before it is parsed again: they were checked against the clock of the
 * submit, and the times they gave are in the record.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "persist.h"
#include "proto.h"
#include "queue.h"
#include "store.h"
#include "xmalloc.h"

static char boot_id[40]; /* this boot's, read once */

static const char *
this_boot(void)
{
	int fd;
	ssize_t n;

	if (boot_id[0] != '\0')
		return boot_id;
	if ((fd = open("/proc/sys/kernel/random/boot_id",
	         O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, boot_id, sizeof boot_id - 1);
		close(fd);
		if (n > 0) {
			boot_id[n] = '\0';
			boot_id[strcspn(boot_id, "\n")] = '\0';
		}
	}
	if (boot_id[0] == '\0')
		snprintf(boot_id, sizeof boot_id, "unknown");
	return boot_id;
}

/*
 * Records are written straight into a growing buffer that the store then
 * owns (store_put_take): no JSON tree to build and free per change, and
 * jansson streams the client's parts (spec, result) into it.
 */
struct rec {
	char *p;
	size_t len, cap;
};

static void
rec_add(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->cap =
		    r->len + n + 1 > 2 * r->cap ? r->len + n + 1 : 2 * r->cap;
		r->p = xreallocarray(r->p, r->cap, 1);
	}
	memcpy(r->p + r->len, s, n);
	r->len += n;
	r->p[r->len] = '\0';
}

static void
rec_str(struct rec *r, const char *s)
{
	rec_add(r, s, strlen(s));
}

/* ,"key":N (or {"key":N when first). */
static void
rec_u64(struct rec *r, const char *key, uint64_t v)
{
	char buf[48], *e = buf + sizeof buf, *p = e;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	rec_str(r, r->len == 0 ? "{\"" : ",\"");
	rec_str(r, key);
	rec_str(r, "\":");
	rec_add(r, p, (size_t)(e - p));
}

static int
rec_dump_cb(const char *buffer, size_t size, void *data)
{
	rec_add(data, buffer, size);
	return 0;
}

/* ,"key":<value as JSON>. */
static void
rec_json(struct rec *r, const char *key, const json_t *v)
{
	rec_str(r, r->len == 0 ? "{\"" : ",\"");
	rec_str(r, key);
	rec_str(r, "\":");
	if (json_dump_callback(
	        v, rec_dump_cb, r, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		fatalx("persist: cannot encode a record");
}

static void
rec_put(struct rec *r, enum store_table t, uint64_t id)
{
	rec_str(r, "}");
	store_put_take(t, id, NULL, r->p, r->len);
}

void
persist_put_spec(const struct job *job, const json_t *spec)
{
	struct rec r = {0};
	uint32_t i;

	rec_json(&r, "spec", spec);
	rec_u64(&r, "owner", job->owner);
	rec_str(&r, job->queue_user_ok ? ",\"quo\":true" : ",\"quo\":false");
	rec_u64(&r, "sub", job->submitted_ms);
	if (job->opts->run_at_ms != 0)
		rec_u64(&r, "run_at", job->opts->run_at_ms);
	if (job->opts->expires_ms != 0)
		rec_u64(&r, "exp", job->opts->expires_ms);
	if (job->opts->ndeps > 0) {
		rec_str(&r, ",\"deps\":[");
		for (i = 0; i < job->opts->ndeps; i++) {
			char n[24];

			snprintf(n, sizeof n, "%s%llu", i > 0 ? "," : "",
			    (unsigned long long)job->opts->deps[i]);
			rec_str(&r, n);
		}
		rec_str(&r, "]");
	}
	rec_put(&r, STORE_SPECS, job->id);
}

void
persist_put_state(const struct job *job)
{
	const struct job_run *run = job->run;
	const struct attempt *a;
	struct rec r = {0};
	json_t *err;
	pid_t pid;
	uint32_t i;

	rec_str(&r, "{\"st\":\"");
	rec_str(&r, job_state_name(job->state));
	rec_str(&r, "\"");
	if (run->nattempts > 0) {
		rec_str(&r, ",\"att\":[");
		for (i = 0; i < run->nattempts; i++) {
			char n[128];

			a = &run->attempts[i];
			snprintf(n, sizeof n, "%s[%llu,%llu,\"%s\",%d,%d,",
			    i > 0 ? "," : "", (unsigned long long)a->started_ms,
			    (unsigned long long)a->ended_ms,
			    attempt_outcome_name(a->outcome), a->exit_code,
			    a->signal);
			rec_str(&r, n);
			if (a->error != NULL) {
				err = json_string(a->error);
				if (err == NULL ||
				    json_dump_callback(err, rec_dump_cb, &r,
				        JSON_ENCODE_ANY) != 0)
					rec_str(&r, "null");
				json_decref(err);
			} else
				rec_str(&r, "null");
			rec_str(&r, "]");
		}
		rec_str(&r, "]");
	}
	if (run->attempt_base != 0)
		rec_u64(&r, "base", run->attempt_base);
	if (job->finished_ms != 0)
		rec_u64(&r, "fin", job->finished_ms);
	if (job->state == JOB_DELAYED && run->due_ms != 0)
		rec_u64(&r, "due", run->due_ms);
	if (run->result != NULL)
		rec_json(&r, "res", run->result);
	if (job->state == JOB_RUNNING && run->stopping &&
	    run->stop_reason == OUTCOME_CANCELLED)
		rec_str(&r, ",\"cancel\":true");
	if (job->state == JOB_RUNNING && run->proc != NULL &&
	    (pid = exec_pid(run->proc)) > 0) {
		rec_u64(&r, "pid", (uint64_t)pid);
		rec_u64(&r, "pst", persist_proc_start_time(pid));
		rec_str(&r, ",\"boot\":\"");
		rec_str(&r, this_boot());
		rec_str(&r, "\"");
	}
	rec_put(&r, STORE_JOBS, job->id);
}

void
persist_put_output(const struct job *job)
{
	const struct buf *o = &job->run->out, *e = &job->run->err;
	char head[160];
	size_t hlen;
	char *data;
	int n;

	n = snprintf(head, sizeof head,
	    "{\"o\":[%zu,%llu,%s],\"e\":[%zu,%llu,%s]}\n", o->len,
	    (unsigned long long)o->total, o->truncated ? "true" : "false",
	    e->len, (unsigned long long)e->total,
	    e->truncated ? "true" : "false");
	hlen = (size_t)n;
	data = xmalloc(hlen + o->len + e->len);
	memcpy(data, head, hlen);
	if (o->len > 0)
		memcpy(data + hlen, o->data, o->len);
	if (e->len > 0)
		memcpy(data + hlen + o->len, e->data, e->len);
	store_put_take(
	    STORE_OUTPUT, job->id, NULL, data, hlen + o->len + e->len);
}

void
persist_delete(uint64_t id)
{
	store_delete(STORE_SPECS, id, NULL);
	store_delete(STORE_JOBS, id, NULL);
	store_delete(STORE_OUTPUT, id, NULL);
}

void
persist_put_queue(const struct queue *q)
{
	json_t *s = queue_settings_json(q);
	char *text = json_dumps(s, JSON_COMPACT);

	if (text == NULL)
		fatalx("persist: cannot encode queue %s", queue_name(q));
	store_put_take(STORE_QUEUES, 0, queue_name(q), text, strlen(text));
	json_decref(s);
}

void
persist_put_next_id(uint64_t next_id)
{
	char text[32];
	int n =
	    snprintf(text, sizeof text, "%llu", (unsigned long long)next_id);

	store_put(STORE_META, 0, "next_id", text, (size_t)n);
}

int
persist_parse_next_id(const char *data, size_t len, uint64_t *next_id)
{
	char text[32], *end;

	if (len == 0 || len >= sizeof text)
		return -1;
	memcpy(text, data, len);
	text[len] = '\0';
	errno = 0;
	*next_id = strtoull(text, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* --- Restoring -------------------------------------------------------------
 */

static json_t *
load_json(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loadb(data, len, JSON_ALLOW_NUL, &je);

	if (v == NULL || !json_is_object(v)) {
		snprintf(err, errlen, "not a JSON object (%s)",
		    v == NULL ? je.text : "another value");
		json_decref(v);
		return NULL;
	}
	return v;
}

static uint64_t
get_u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0
	           ? (uint64_t)json_integer_value(v)
	           : 0;
}

struct job *
persist_job_from_spec(
    uint64_t id, const char *data, size_t len, char *err, size_t errlen)
{
	json_t *rec, *spec, *deps;
	struct job *job;
	char why[384];
	uint32_t i;

	if ((rec = load_json(data, len, err, errlen)) == NULL)
		return NULL;
	spec = json_deep_copy(json_object_get(rec, "spec"));
	deps = json_object_get(rec, "deps");
	if (!json_is_object(spec)) {
		snprintf(err, errlen, "no spec");
		goto fail;
	}
	json_object_del(spec, "delay_ms");
	json_object_del(spec, "run_at");
	json_object_del(spec, "expires_at");
	if ((job = job_parse_stored(spec, why, sizeof why)) == NULL) {
		snprintf(err, errlen, "its spec is not accepted now: %s", why);
		goto fail;
	}
	job->id = id;
	job->owner = (uint32_t)get_u64(rec, "owner");
	job->queue_user_ok = json_is_true(json_object_get(rec, "quo"));
	job->submitted_ms = get_u64(rec, "sub");
	if (get_u64(rec, "run_at") != 0)
		job_opts_mut(job)->run_at_ms = get_u64(rec, "run_at");
	if (get_u64(rec, "exp") != 0)
		job_opts_mut(job)->expires_ms = get_u64(rec, "exp");
	if (job->opts->ndeps > 0) {
		if (json_array_size(deps) != job->opts->ndeps) {
			snprintf(err, errlen, "its dependencies are missing");
			job_free(job);
			goto fail;
		}
		for (i = 0; i < job->opts->ndeps; i++)
			job_opts_mut(job)->deps[i] =
			    (uint64_t)json_integer_value(
			        json_array_get(deps, i));
	}
	job_forget_refs(job);
	json_decref(spec);
	json_decref(rec);
	return job;
fail:
	json_decref(spec);
	json_decref(rec);
	return NULL;
}

static int
outcome_parse(const char *name)
{
	int o;

	for (o = OUTCOME_SUCCEEDED; o <= OUTCOME_CANCELLED; o++) {
		if (name != NULL && strcmp(name, attempt_outcome_name(o)) == 0)
			return o;
	}
	return -1;
}

int
persist_apply_state(struct job *job, const char *data, size_t len,
    struct persist_proc *proc, char *err, size_t errlen)
{
	json_t *rec = load_json(data, len, err, errlen), *a;
	struct job_run *run;
	struct attempt *at;
	const char *boot;
	size_t i;
	int state, outcome;

	if (rec == NULL)
		return -1;
	state = job_state_parse(json_string_value(json_object_get(rec, "st")));
	if (state < 0) {
		snprintf(err, errlen, "no state");
		json_decref(rec);
		return -1;
	}
	job->state = (uint8_t)state;
	job->finished_ms = get_u64(rec, "fin");
	memset(proc, 0, sizeof(*proc));
	json_array_foreach(json_object_get(rec, "att"), i, a)
	{
		outcome =
		    outcome_parse(json_string_value(json_array_get(a, 2)));
		if (!json_is_array(a) || outcome < 0) {
			snprintf(
			    err, errlen, "attempt %zu cannot be read", i + 1);
			json_decref(rec);
			return -1;
		}
		at = job_attempt_begin(
		    job, (uint64_t)json_integer_value(json_array_get(a, 0)));
		at->ended_ms =
		    (uint64_t)json_integer_value(json_array_get(a, 1));
		at->outcome = (enum attempt_outcome)outcome;
		at->exit_code = (int)json_integer_value(json_array_get(a, 3));
		at->signal = (int)json_integer_value(json_array_get(a, 4));
		if (json_is_string(json_array_get(a, 5)))
			at->error =
			    xstrdup(json_string_value(json_array_get(a, 5)));
	}
	run = job_run_mut(job);
	run->attempt_base = (uint32_t)get_u64(rec, "base");
	run->due_ms = get_u64(rec, "due");
	if (json_object_get(rec, "res") != NULL)
		run->result = json_incref(json_object_get(rec, "res"));
	proc->cancelled = json_is_true(json_object_get(rec, "cancel"));
	proc->attempt = run->nattempts;
	proc->pid = (pid_t)get_u64(rec, "pid");
	proc->start_time = get_u64(rec, "pst");
	boot = json_string_value(json_object_get(rec, "boot"));
	proc->same_boot = boot != NULL && strcmp(boot, this_boot()) == 0;
	json_decref(rec);
	return 0;
}

int
persist_apply_output(
    struct job *job, const char *data, size_t len, char *err, size_t errlen)
{
	const char *nl = memchr(data, '\n', len);
	json_t *head, *o, *e;
	size_t hlen, olen, elen;

	if (nl == NULL || (head = load_json(data, (size_t)(nl - data), err,
	                       errlen)) == NULL) {
		if (nl == NULL)
			snprintf(err, errlen, "no output header");
		return -1;
	}
	hlen = (size_t)(nl - data) + 1;
	o = json_object_get(head, "o");
	e = json_object_get(head, "e");
	olen = (size_t)json_integer_value(json_array_get(o, 0));
	elen = (size_t)json_integer_value(json_array_get(e, 0));
	if (olen > len - hlen || elen != len - hlen - olen) {
		snprintf(err, errlen, "output lengths do not add up");
		json_decref(head);
		return -1;
	}
	buf_set(&job_run_mut(job)->out, data + hlen, olen,
	    (uint64_t)json_integer_value(json_array_get(o, 1)),
	    json_is_true(json_array_get(o, 2)));
	buf_set(&job_run_mut(job)->err, data + hlen + olen, elen,
	    (uint64_t)json_integer_value(json_array_get(e, 1)),
	    json_is_true(json_array_get(e, 2)));
	json_decref(head);
	return 0;
}

/* --- Processes left behind -------------------------------------------------
 */

/* Fields 5 (pgrp) and 22 (starttime) of /proc/PID/stat; -1 if gone. */
static int
proc_stat(pid_t pid, pid_t *pgrp, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st;
	int fd, field, pg;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the
	 * last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* Now at field 3 (state). */
	p += 2;
	for (field = 3; field < 5 && p != NULL; field++)
		p = strchr(p, ' ') != NULL ? strchr(p, ' ') + 1 : NULL;
	if (p == NULL || sscanf(p, "%d", &pg) != 1)
		return -1;
	for (; field < 22 && p != NULL; field++)
		p = strchr(p, ' ') != NULL ? strchr(p, ' ') + 1 : NULL;
	if (p == NULL || sscanf(p, "%llu", &st) != 1)
		return -1;
	*pgrp = (pid_t)pg;
	*start = (uint64_t)st;
	return 0;
}

uint64_t
persist_proc_start_time(pid_t pid)
{
	uint64_t start;
	pid_t pgrp;

	return proc_stat(pid, &pgrp, &start) == 0 ? start : 0;
}

int
persist_kill_group(const struct persist_proc *proc)
{
	struct dirent *de;
	uint64_t start;
	pid_t pgrp, pid;
	DIR *d;
	int n = 0;

	if (proc->pid <= 1 || !proc->same_boot || proc->start_time == 0)
		return 0;
	if (proc_stat(proc->pid, &pgrp, &start) == 0) {
		/* The leader lives: the group is its if it is the same. */
		if (start != proc->start_time || pgrp != proc->pid)
			return 0;
		return kill(-proc->pid, SIGKILL) == 0 ? 1 : 0;
	}
	/* The leader is gone: its group's members started after it. */
	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)atoi(de->d_name)) <= 1)
			continue;
		if (proc_stat(pid, &pgrp, &start) == 0 && pgrp == proc->pid &&
		    start >= proc->start_time && kill(pid, SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The whole of /proc/PID/environ, NUL-terminated entries; NULL if gone. */
static char *
proc_environ(pid_t pid, size_t *len)
{
	char path[64], *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap != 0 ? 2 * cap : 4096;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		if ((r = read(fd, buf + n, cap - n)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (r < 0 || n == 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0'; /* the last entry, should it lack its NUL */
	*len = n;
	return buf;
}

/* The value of NAME in an environ block, or NULL. */
static const char *
environ_get(const char *env, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = env, *end = env + len;

	while (p < end) {
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=')
			return p + nlen + 1;
		p += strlen(p) + 1;
	}
	return NULL;
}

int
persist_kill_unrecorded(const char *instance, const uint64_t *ids,
    const struct persist_proc *procs, size_t n)
{
	unsigned long long id;
	const char *v;
	struct dirent *de;
	uint64_t start;
	pid_t pgrp, pid, self = getpid();
	size_t i, len;
	char *env, *end;
	unsigned att;
	DIR *d;
	int killed = 0;

	for (i = 0; i < n && procs[i].pid != 0; i++)
		;
	if (i == n || (d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)atoi(de->d_name)) <= 1 || pid == self)
			continue;
		if ((env = proc_environ(pid, &len)) == NULL)
			continue;
		v = environ_get(env, len, "JOBD_INSTANCE");
		if (v == NULL || strcmp(v, instance) != 0 ||
		    (v = environ_get(env, len, "JOBD_JOB_ID")) == NULL ||
		    (id = strtoull(v, &end, 10), *end != '\0') ||
		    (v = environ_get(env, len, "JOBD_ATTEMPT")) == NULL ||
		    sscanf(v, "%u", &att) != 1) {
			free(env);
			continue;
		}
		free(env);
		for (i = 0; i < n; i++) {
			if (procs[i].pid == 0 && ids[i] == id &&
			    procs[i].attempt == att)
				break;
		}
		if (i == n)
			continue;
		/* A leader takes its group with it; others go alone. */
		if (proc_stat(pid, &pgrp, &start) == 0 && pgrp == pid &&
		    kill(-pid, SIGKILL) == 0)
			killed++;
		else if (kill(pid, SIGKILL) == 0)
			killed++;
	}
	closedir(d);
	return killed;
}
