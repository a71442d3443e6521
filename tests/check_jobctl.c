/*
 * check_jobctl: jobctl against a real jobd.
 *
 * Each test gets a fresh jobd (harness.h: a temp unix socket and
 * 127.0.0.1:0) from a checked fixture, runs the jobctl binary ($JOBCTL,
 * set by `make check`) with run_capture() and asserts on its stdout,
 * stderr and exit status, and on what jobd says about the jobs.  Where a
 * test must act while jobctl waits (watch, ^C on run), it waits for a
 * condition jobd reports (an event, a request count), never for time.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common.h"
#include "harness.h"

extern char **environ;

static struct harness h;
static char addr[PATH_MAX + 8];

struct result {
	int rc;
	char *out, *err;
};

static const char *
jobctl_path(void)
{
	const char *p = getenv("JOBCTL");

	return p != NULL ? p : "../client/jobctl";
}

static void
start(const char *const *extra)
{
	ck_assert_int_eq(harness_start(&h, extra), 0);
	snprintf(addr, sizeof addr, "unix:%s", h.sock);
	/* jobctl over TCP presents the daemon's token. */
	setenv("JOBD_TOKEN_FILE", h.token_file, 1);
}

static void
setup(void)
{
	static const char *const extra[] = {"--shutdown-grace", "100ms", NULL};

	start(extra);
}

/* One job at a time and small output buffers: queueing and truncation. */
static void
setup_narrow(void)
{
	static const char *const extra[] = {"--max-running", "1",
	    "--output-cap", "1k", "--shutdown-grace", "100ms", NULL};

	start(extra);
}

static void
teardown(void)
{
	ck_assert_int_eq(harness_stop(&h), 0);
}

/*
 * Run `jobctl --addr ADDR ARG...` (the list ends with NULL) with stdin_text
 * (NULL: none) on its stdin.
 */
static struct result
run_jobctl(const char *stdin_text, const char *arg, ...)
{
	const char *argv[64];
	struct result r;
	va_list ap;
	int n = 0;

	argv[n++] = jobctl_path();
	argv[n++] = "--addr";
	argv[n++] = addr;
	argv[n] = arg;
	va_start(ap, arg);
	while (argv[n] != NULL && n < 62)
		argv[++n] = va_arg(ap, const char *);
	va_end(ap);
	argv[n] = NULL;
	r.rc = run_capture(argv, stdin_text, &r.out, &r.err);
	ck_assert_int_ge(r.rc, 0);
	return r;
}

static void
result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

#define JOBCTL(...) run_jobctl(NULL, __VA_ARGS__, (const char *)NULL)
#define JOBCTL_IN(in, ...) run_jobctl(in, __VA_ARGS__, (const char *)NULL)

/* `jobctl submit ARGS`: the new job's id. */
static long long
submit(const char *arg, ...)
{
	const char *argv[32];
	struct result r;
	long long id;
	char *end;
	va_list ap;
	int n = 0;

	argv[n++] = jobctl_path();
	argv[n++] = "--addr";
	argv[n++] = addr;
	argv[n++] = "submit";
	argv[n++] = arg;
	va_start(ap, arg);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_msg(r.rc == 0, "submit failed: %s", r.err);
	id = strtoll(r.out, &end, 10);
	ck_assert_int_gt(id, 0);
	ck_assert_str_eq(end, "\n");
	result_free(&r);
	return id;
}

/* `jobctl get --json ID`, parsed. */
static json_t *
get_job(long long id)
{
	char text[32];
	struct result r;
	json_t *job;

	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("get", "--json", text);
	ck_assert_int_eq(r.rc, 0);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	result_free(&r);
	return job;
}

static const char *
jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "(missing)";
}

static long long
jnum(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return (long long)json_integer_value(v);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* --- run ------------------------------------------------------------------ */

START_TEST(test_run_outputs)
{
	struct result r =
	    JOBCTL("run", "--", "sh", "-c", "printf out; printf err >&2");

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "out");
	ck_assert_str_eq(r.err, "err");
	result_free(&r);
}
END_TEST

START_TEST(test_run_exit_code)
{
	struct result r = JOBCTL("run", "sh", "-c", "echo partial; exit 3");

	ck_assert_int_eq(r.rc, 3);
	ck_assert_str_eq(r.out, "partial\n");
	ck_assert_str_eq(r.err, "");
	result_free(&r);
}
END_TEST

START_TEST(test_run_timeout)
{
	struct result r = JOBCTL("run", "--timeout", "200ms", "--kill-grace",
	    "100ms", "--", "sleep", "30");

	ck_assert_int_eq(r.rc, 124);
	ck_assert_ptr_nonnull(strstr(r.err, "timed out"));
	result_free(&r);
}
END_TEST

START_TEST(test_run_signal)
{
	struct result r = JOBCTL("run", "--", "sh", "-c", "kill -9 $$");

	ck_assert_int_eq(r.rc, 128 + 9);
	ck_assert_ptr_nonnull(strstr(r.err, "signal 9"));
	result_free(&r);
}
END_TEST

START_TEST(test_run_not_found)
{
	char path[PATH_MAX + 16];
	struct result r = JOBCTL("run", "--", "no-such-program-jobctl-test");
	int fd;

	ck_assert_int_eq(r.rc, 127);
	ck_assert_ptr_nonnull(strstr(r.err, "not found"));
	result_free(&r);

	/* A file without the execute bit: 126. */
	snprintf(path, sizeof path, "%s/not-executable", h.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	r = JOBCTL("run", "--", path);
	ck_assert_int_eq(r.rc, 126);
	result_free(&r);
}
END_TEST

START_TEST(test_run_kind)
{
	struct result r =
	    JOBCTL("run", "--kind", "echo", "--args", "{\"x\":[1,2]}");

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "{\"x\":[1,2]}\n");
	result_free(&r);
	r = JOBCTL("run", "--kind", "sum", "--args", "{\"values\":[40,2]}");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "{\"sum\":42}\n");
	result_free(&r);
	r = JOBCTL("run", "--kind", "sum", "--args",
	    "{\"values\":[9223372036854775807,1]}");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "overflows"));
	result_free(&r);
	r = JOBCTL("run", "--kind", "no_such_kind");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "jobctl: unknown_kind: "));
	result_free(&r);
}
END_TEST

START_TEST(test_run_retries)
{
	struct result r = JOBCTL("run", "--json", "--retries", "2", "--backoff",
	    "fixed:10ms", "--", "sh", "-c", "exit 5");
	json_t *job, *retry;
	char id[32];

	ck_assert_int_eq(r.rc, 5);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 3);
	/* The policy is part of the spec, which `get` shows. */
	snprintf(id, sizeof id, "%lld", (long long)jnum(job, "id"));
	json_decref(job);
	result_free(&r);
	r = JOBCTL("get", "--json", id);
	ck_assert_int_eq(r.rc, 0);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	retry = json_object_get(job, "retry");
	ck_assert_str_eq(jstr(retry, "backoff"), "fixed");
	ck_assert_int_eq(jnum(retry, "base_ms"), 10);
	ck_assert_int_eq(jnum(retry, "max_attempts"), 3);
	json_decref(job);
	result_free(&r);
}
END_TEST

START_TEST(test_run_env)
{
	struct result r;

	setenv("JOBCTL_TEST_SECRET", "from-jobctl", 1);
	r = JOBCTL("run", "--env", "FOO=bar baz", "--", "sh", "-c",
	    "echo \"$FOO|${JOBCTL_TEST_SECRET-unset}\"");
	ck_assert_int_eq(r.rc, 0);
	/* Only --env goes to the job: jobctl's own variables do not. */
	ck_assert_str_eq(r.out, "bar baz|unset\n");
	result_free(&r);
	r = JOBCTL("run", "--env", "JOBCTL_TEST_SECRET", "--", "sh", "-c",
	    "echo \"$JOBCTL_TEST_SECRET\"");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "from-jobctl\n");
	result_free(&r);
	r = JOBCTL("run", "--env", "=x", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	result_free(&r);
}
END_TEST

START_TEST(test_run_cwd)
{
	char cwd[PATH_MAX], want[PATH_MAX + 2];
	struct result r = JOBCTL("run", "--cwd", h.dir, "--", "pwd");

	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "%s\n", h.dir);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	/* By default the job runs where jobctl runs. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	r = JOBCTL("run", "pwd");
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "%s\n", cwd);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	r = JOBCTL("run", "--cwd", "/no/such/dir/jobctl", "--", "pwd");
	ck_assert_int_eq(r.rc, 127);
	ck_assert_ptr_nonnull(strstr(r.err, "/no/such/dir/jobctl"));
	result_free(&r);
}
END_TEST

START_TEST(test_run_stdin)
{
	char path[PATH_MAX + 16];
	struct result r;
	FILE *fp;

	snprintf(path, sizeof path, "%s/input.txt", h.dir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("one\ntwo\nthree\n", fp);
	fclose(fp);
	r = JOBCTL("run", "--stdin", path, "--", "wc", "-l");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(atoi(r.out), 3);
	result_free(&r);
	r = JOBCTL_IN("piped text", "run", "--stdin", "-", "--", "cat");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "piped text");
	result_free(&r);
	r = JOBCTL_IN("\xff\xfe binary", "run", "--stdin", "-", "--", "cat");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not UTF-8"));
	ck_assert_str_eq(r.out, "");
	result_free(&r);
	r = JOBCTL("run", "--stdin", "/no/such/file", "--", "cat");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "No such file"));
	result_free(&r);
}
END_TEST

START_TEST(test_run_binary_output)
{
	struct result r = JOBCTL("run", "--", "printf", "A\\377\\376B");

	/* Not UTF-8: jobd sends base64, jobctl writes the bytes back. */
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "A\xff\xfe"
	                        "B");
	result_free(&r);
}
END_TEST

/* --- usage and connection errors ------------------------------------------ */

START_TEST(test_usage_errors)
{
	static const char *const cases[][4] = {
	    {"no-such-command", NULL, NULL, "unknown command"},
	    {"run", NULL, NULL, "usage: jobctl run"},
	    {"run", "--timeout", "5parsecs", "bad duration"},
	    {"run", "--timeout", "100", "\"100\" needs a unit (100ms, 100s"},
	    {"run", "--retries", "5000", "--retries"},
	    {"run", "--backoff", "cubic:1s", "backoff"},
	    {"get", "abc", NULL, "bad job id"},
	    {"wait", NULL, NULL, "a job id is required"},
	    {"wait", "--timeout", "soon", "bad duration"},
	    {"list", "--bogus", NULL, "unknown option --bogus"},
	    {"list", "--limit", NULL, "needs a value"},
	    {"logs", "1", "2", "one job id"},
	    {"batch", "--inflight", "0", "--inflight"},
	};
	static const char *const more[][5] = {
	    {"run", "--kind", "echo", "true", "a command is only for"},
	    {"run", "--args", "{", "true", "--args: not JSON"},
	    {"run", "--cwd", "/tmp", "--kind=sum", "--cwd is only for"},
	    /* Not UTF-8: refused, never silently dropped from argv. */
	    {"run", "--", "printf", "\xff", "not valid UTF-8"},
	    {"run", "--env", "X=\xff", "true", "not valid UTF-8"},
	    {"watch", "--queue", "no spaces", "1", "bad queue name"},
	    {"submit", "--key", "", "true", "--key"},
	    {"submit", "--key-any", "--", "true", "unique needs a key"},
	};
	struct result r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = JOBCTL(cases[i][0], cases[i][1], cases[i][2]);
		ck_assert_msg(r.rc == 125, "%s %s: exit %d", cases[i][0],
		    cases[i][1] != NULL ? cases[i][1] : "", r.rc);
		ck_assert_msg(strstr(r.err, cases[i][3]) != NULL,
		    "%s: stderr \"%s\" lacks \"%s\"", cases[i][0], r.err,
		    cases[i][3]);
		ck_assert_ptr_nonnull(strstr(r.err, "usage: jobctl"));
		ck_assert_str_eq(r.out, "");
		result_free(&r);
	}
	for (i = 0; i < sizeof more / sizeof more[0]; i++) {
		r = JOBCTL(more[i][0], more[i][1], more[i][2], more[i][3]);
		ck_assert_int_eq(r.rc, 125);
		ck_assert_msg(strstr(r.err, more[i][4]) != NULL,
		    "stderr \"%s\" lacks \"%s\"", r.err, more[i][4]);
		result_free(&r);
	}
	/* The reason and the usage: two lines, nothing else. */
	r = JOBCTL("wait", "--timeout", "5x", "1");
	ck_assert_int_eq(count_lines(r.err), 2);
	result_free(&r);
}
END_TEST

START_TEST(test_help)
{
	static const char *const names[] = {"run", "submit", "get", "wait",
	    "cancel", "logs", "list", "watch", "dead", "kick", "discard",
	    "batch", "queues", "queue", "stats", "ping"};
	struct result r = JOBCTL("help");
	size_t i;

	ck_assert_int_eq(r.rc, 0);
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		ck_assert_msg(
		    strstr(r.out, names[i]) != NULL, "no %s", names[i]);
	result_free(&r);
	r = JOBCTL("run", "--help");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: jobctl run "));
	result_free(&r);
	r = JOBCTL("--version");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "jobctl " PACKAGE_VERSION " (protocol 1)\n");
	result_free(&r);
}
END_TEST

START_TEST(test_not_running)
{
	char where[PATH_MAX + 32], want[PATH_MAX + 128];
	struct result r;

	const char *argv[] = {jobctl_path(), "--addr", where, "ping", NULL};

	snprintf(where, sizeof where, "unix:%s/nobody-home.sock", h.dir);
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 125);
	snprintf(want, sizeof want,
	    "jobctl: cannot connect to %s: No such file or directory (is jobd "
	    "running?)\n",
	    where);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
}
END_TEST

/* --- submit, get, wait, cancel, logs, list -------------------------------- */

START_TEST(test_submit_get)
{
	long long id = submit("--", "sh", "-c", "echo hi; exit 0", NULL);
	char text[32];
	struct result r;
	json_t *job, *attempts;

	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, strcat(text, " succeeded\n"));
	result_free(&r);
	job = get_job(id);
	ck_assert_int_eq(jnum(job, "id"), id);
	ck_assert_str_eq(jstr(job, "state"), "succeeded");
	ck_assert_int_eq(jnum(job, "exit_code"), 0);
	attempts = json_object_get(job, "attempts");
	ck_assert(json_is_array(attempts));
	ck_assert_int_eq(json_array_size(attempts), 1);
	ck_assert_str_eq(
	    jstr(json_array_get(attempts, 0), "outcome"), "succeeded");
	ck_assert_str_eq(jstr(job, "stdout"), "hi\n");
	json_decref(job);
	/* The human form. */
	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("get", text);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "state:      succeeded\n"));
	ck_assert_ptr_nonnull(
	    strstr(r.out, "command:    sh -c 'echo hi; exit 0'\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "attempt 1:  succeeded, exit 0"));
	result_free(&r);
	r = JOBCTL("get", "999999");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "jobctl: not_found: "));
	result_free(&r);
	/* One unknown among known ones: those are shown, it is said. */
	r = JOBCTL("get", "--json", text, "999999", text);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(
	    strstr(r.err, "jobctl: not_found: no job 999999"));
	ck_assert_int_eq(count_lines(r.err), 1);
	result_free(&r);
}
END_TEST

START_TEST(test_submit_json)
{
	struct result r = JOBCTL(
	    "submit", "--json", "--meta", "{\"owner\":\"test\"}", "--", "true");
	json_t *job, *full;

	ck_assert_int_eq(r.rc, 0);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_gt(jnum(job, "id"), 0);
	ck_assert_str_eq(jstr(job, "kind"), "exec");
	full = get_job(jnum(job, "id"));
	ck_assert_str_eq(jstr(json_object_get(full, "meta"), "owner"), "test");
	json_decref(full);
	json_decref(job);
	result_free(&r);
}
END_TEST

START_TEST(test_wait_codes)
{
	long long ok = submit("--", "true", NULL);
	long long bad = submit("--", "sh", "-c", "exit 4", NULL);
	long long slow = submit("--", "sleep", "30", NULL);
	char a[32], b[32], c[32], want[128];
	struct result r;

	snprintf(a, sizeof a, "%lld", ok);
	snprintf(b, sizeof b, "%lld", bad);
	snprintf(c, sizeof c, "%lld", slow);
	r = JOBCTL("wait", a, b);
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof want, "%s succeeded\n%s failed\n", a, b);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	r = JOBCTL("wait", "--timeout", "100ms", c, a);
	ck_assert_int_eq(r.rc, 124);
	snprintf(want, sizeof want, "%s running\n%s succeeded\n", c, a);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	r = JOBCTL("cancel", c);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("wait", c);
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof want, "%s cancelled\n", c);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
}
END_TEST

START_TEST(test_cancel_queued)
{
	long long blocker = submit("--", "sleep", "30", NULL);
	long long queued = submit("--", "true", NULL);
	char a[32], b[32], want[128];
	struct result r;
	json_t *job;

	/* --max-running 1: the blocker runs, the other waits its turn. */
	job = get_job(queued);
	ck_assert_str_eq(jstr(job, "state"), "queued");
	json_decref(job);
	snprintf(a, sizeof a, "%lld", blocker);
	snprintf(b, sizeof b, "%lld", queued);
	r = JOBCTL("cancel", b, "424242");
	ck_assert_int_eq(r.rc, 125);
	snprintf(want, sizeof want, "%s cancelled\n", b);
	ck_assert_str_eq(r.out, want);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	result_free(&r);
	job = get_job(queued);
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 0);
	json_decref(job);
	r = JOBCTL("cancel", b, a);
	ck_assert_int_eq(r.rc, 0);
	snprintf(
	    want, sizeof want, "%s already cancelled\n%s cancelled\n", b, a);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	r = JOBCTL("wait", a);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
}
END_TEST

START_TEST(test_logs)
{
	long long id =
	    submit("--", "sh", "-c", "echo to-out; echo to-err >&2", NULL);
	char text[32];
	struct result r;
	json_t *logs;

	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("logs", text);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "to-out\n");
	ck_assert_str_eq(r.err, "to-err\n");
	result_free(&r);
	r = JOBCTL("logs", "--json", text);
	ck_assert_int_eq(r.rc, 0);
	logs = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(logs);
	ck_assert_str_eq(jstr(logs, "stderr"), "to-err\n");
	ck_assert_ptr_null(json_object_get(logs, "ok"));
	json_decref(logs);
	result_free(&r);
}
END_TEST

START_TEST(test_truncated)
{
	struct result r = JOBCTL("run", "--", "sh", "-c", "yes | head -c 5000");
	char id[32];

	/* jobd runs with --output-cap 1k.  run streams the output: all of it
	 * if it followed the job from its start; if it joined late, the
	 * kept part, a word on the bytes past the cap it missed, and the
	 * rest. */
	ck_assert_int_eq(r.rc, 0);
	if (strlen(r.out) == 5000)
		ck_assert_str_eq(r.err, "");
	else {
		ck_assert_int_ge(strlen(r.out), 1024);
		snprintf(id, sizeof id, "%zu bytes of output dropped",
		    5000 - strlen(r.out));
		ck_assert_msg(strstr(r.err, id), "%s", r.err);
	}
	result_free(&r);
	/* What jobd keeps is capped. */
	snprintf(id, sizeof id, "%lld",
	    submit("--", "sh", "-c", "yes | head -c 5000", NULL));
	r = JOBCTL("wait", id);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("logs", id);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(strlen(r.out), 1024);
	ck_assert_ptr_nonnull(
	    strstr(r.err, "stdout truncated (1024 of 5000 bytes kept)"));
	result_free(&r);
}
END_TEST

START_TEST(test_list)
{
	long long ids[3];
	char text[3][32], want[64];
	struct result r;
	json_t *job;
	char *line, *save;
	int n = 0;

	ids[0] = submit("--", "true", NULL);
	ids[1] = submit("--", "sh", "-c", "exit 7", NULL);
	ids[2] = submit("--", "echo", "it's", NULL);
	for (n = 0; n < 3; n++)
		snprintf(text[n], sizeof text[n], "%lld", ids[n]);
	n = 0;
	r = JOBCTL("wait", text[0], text[1], text[2]);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	r = JOBCTL("list");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 4);
	ck_assert_ptr_nonnull(strstr(r.out, "ID "));
	ck_assert_ptr_nonnull(strstr(r.out, " COMMAND\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "sh -c 'exit 7'\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "echo 'it'\\''s'\n"));
	result_free(&r);
	r = JOBCTL("list", "--json", "--state", "failed,cancelled");
	ck_assert_int_eq(r.rc, 0);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(jnum(job, "id"), ids[1]);
	ck_assert_int_eq(jnum(job, "exit_code"), 7);
	ck_assert_int_eq(count_lines(r.out), 1);
	json_decref(job);
	result_free(&r);
	/* A page is the newest jobs, in id order; older ones are said. */
	r = JOBCTL("list", "--limit", "2");
	ck_assert_int_eq(count_lines(r.out), 3);
	ck_assert_ptr_null(strstr(r.out, "true\n"));
	ck_assert_ptr_nonnull(line = strstr(r.out, "sh -c 'exit 7'\n"));
	ck_assert_ptr_nonnull(strstr(line, "echo 'it'\\''s'\n"));
	snprintf(want, sizeof want,
	    "jobctl: older jobs before %lld: "
	    "use --all\n",
	    ids[1]);
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	/* --all follows the cursor a page of one at a time. */
	r = JOBCTL("list", "--all", "--limit", "1", "--json");
	ck_assert_int_eq(r.rc, 0);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		job = json_loads(line, 0, NULL);
		ck_assert_ptr_nonnull(job);
		ck_assert_int_eq(jnum(job, "id"), ids[n++]);
		json_decref(job);
	}
	ck_assert_int_eq(n, 3);
	result_free(&r);
}
END_TEST

/* --- stats, ping, addresses ----------------------------------------------- */

START_TEST(test_stats)
{
	struct result r;
	json_t *stats;

	submit("--", "true", NULL);
	submit("--kind", "echo", "--args", "1", NULL);
	r = JOBCTL("stats", "--json");
	ck_assert_int_eq(r.rc, 0);
	stats = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(stats);
	ck_assert_int_eq(
	    jnum(json_object_get(stats, "counters"), "jobs_submitted"), 2);
	ck_assert(json_is_object(json_object_get(stats, "histograms")));
	json_decref(stats);
	result_free(&r);
	r = JOBCTL("stats");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\ncounters\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "  jobs_submitted "));
	ck_assert_ptr_nonnull(strstr(r.out, "p99"));
	result_free(&r);
}
END_TEST

START_TEST(test_ping)
{
	struct result r = JOBCTL("ping");
	char want[128];

	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "pong from jobd %s (pid %d) in ",
	    PACKAGE_VERSION, (int)h.pid);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "got %s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, " ms\n"));
	result_free(&r);
}
END_TEST

START_TEST(test_addr_forms)
{
	char tcp[64], bad_v6[64];
	const char *argv[8];
	struct result r;

	snprintf(tcp, sizeof tcp, "127.0.0.1:%d", h.port);
	argv[0] = jobctl_path();
	argv[1] = "--addr";
	argv[2] = tcp;
	argv[3] = "ping";
	argv[4] = NULL;
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "pong from jobd"));
	result_free(&r);
	/* Over TCP without the token: refused; with a wrong one too. */
	{
		char bad[PATH_MAX + 16];
		FILE *f;

		unsetenv("JOBD_TOKEN_FILE");
		r.rc = run_capture(argv, NULL, &r.out, &r.err);
		ck_assert_int_eq(r.rc, 125);
		ck_assert_ptr_nonnull(strstr(r.err, "auth_required"));
		ck_assert_ptr_nonnull(strstr(r.err, "give --token-file FILE"));
		result_free(&r);
		snprintf(bad, sizeof bad, "%s/bad-token", h.dir);
		ck_assert_ptr_nonnull(f = fopen(bad, "w"));
		fprintf(f, "%064d\n", 0);
		fclose(f);
		chmod(bad, 0600);
		setenv("JOBD_TOKEN_FILE", bad, 1);
		r.rc = run_capture(argv, NULL, &r.out, &r.err);
		ck_assert_int_eq(r.rc, 125);
		ck_assert_ptr_nonnull(strstr(r.err, "forbidden"));
		ck_assert_ptr_nonnull(strstr(r.err, "the token was refused"));
		result_free(&r);
		setenv("JOBD_TOKEN_FILE", h.token_file, 1);
	}
	/* A bare path is a unix socket too; the option may follow. */
	argv[1] = "ping";
	argv[2] = "--addr";
	argv[3] = h.sock;
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	/* jobd listens on IPv4 only: [::1] is parsed, then refused. */
	snprintf(bad_v6, sizeof bad_v6, "[::1]:%d", h.port);
	argv[3] = bad_v6;
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot connect to [::1]:"));
	result_free(&r);
	argv[3] = "localhost";
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "bad address \"localhost\""));
	result_free(&r);
}
END_TEST

START_TEST(test_addr_env)
{
	char env[PATH_MAX + 64], xdg[PATH_MAX + 8], link[PATH_MAX + 32];
	const char *argv[8] = {
	    "/usr/bin/env", env, jobctl_path(), "ping", NULL};
	struct result r;

	snprintf(env, sizeof env, "JOBD_ADDR=unix:%s", h.sock);
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "pong from jobd"));
	result_free(&r);
	/* --addr wins over JOBD_ADDR. */
	snprintf(env, sizeof env, "JOBD_ADDR=unix:%s/absent.sock", h.dir);
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "absent.sock"));
	result_free(&r);
	/* A bad one is said to be the variable's. */
	snprintf(env, sizeof env, "JOBD_ADDR=garbage");
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "bad address \"garbage\""));
	ck_assert_ptr_nonnull(strstr(r.err, "that address is $JOBD_ADDR's"));
	result_free(&r);
	argv[3] = "--addr";
	argv[4] = addr;
	argv[5] = "ping";
	argv[6] = NULL;
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	/* No JOBD_ADDR: $XDG_RUNTIME_DIR/jobd/jobd.sock when it exists. */
	snprintf(xdg, sizeof xdg, "%s/xdg", h.dir);
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	snprintf(link, sizeof link, "%s/xdg/jobd", h.dir);
	ck_assert_int_eq(mkdir(link, 0700), 0);
	snprintf(link, sizeof link, "%s/xdg/jobd/jobd.sock", h.dir);
	ck_assert_int_eq(symlink(h.sock, link), 0);
	snprintf(env, sizeof env, "XDG_RUNTIME_DIR=%s", xdg);
	argv[0] = "/usr/bin/env";
	argv[1] = "-u";
	argv[2] = "JOBD_ADDR";
	argv[3] = env;
	argv[4] = jobctl_path();
	argv[5] = "ping";
	argv[6] = NULL;
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "pong from jobd"));
	result_free(&r);
	/* ...else /run/jobd/jobd.sock. */
	ck_assert_int_eq(unlink(link), 0);
	if (access("/run/jobd/jobd.sock", F_OK) != 0) {
		r.rc = run_capture(argv, NULL, &r.out, &r.err);
		ck_assert_int_eq(r.rc, 125);
		ck_assert_ptr_nonnull(strstr(
		    r.err, "cannot connect to unix:/run/jobd/jobd.sock"));
		result_free(&r);
	}
}
END_TEST

/* --- batch ---------------------------------------------------------------- */

START_TEST(test_batch)
{
	char *input = NULL, *line, *save;
	size_t len = 0, n = 0, ok = 0, failed = 0, errors = 0;
	bool seen[200] = {false};
	struct result r;
	json_t *obj;
	FILE *fp;
	int i;

	fp = open_memstream(&input, &len);
	for (i = 1; i <= 200; i++) {
		if (i == 50)
			fputs("{\"kind\": \"echo\", oops}\n", fp);
		else if (i == 120)
			fputs("{\"kind\":\"exec\",\"argv\":[\"false\"]}\n", fp);
		else
			fprintf(
			    fp, "{\"kind\":\"echo\",\"args\":{\"n\":%d}}\n", i);
		if (i == 10)
			fputs("\n", fp); /* blank: skipped, still counted */
	}
	fclose(fp);
	r = JOBCTL_IN(input, "batch", "--inflight", "16");
	ck_assert_int_eq(r.rc, 1);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), n++) {
		obj = json_loads(line, 0, NULL);
		ck_assert_msg(obj != NULL, "not JSON: %s", line);
		if (json_object_get(obj, "ok") != NULL) {
			/* Line 50 is the 51st line, after the blank one. */
			ck_assert_int_eq(jnum(obj, "line"), 51);
			ck_assert(json_is_false(json_object_get(obj, "ok")));
			ck_assert_str_eq(
			    jstr(json_object_get(obj, "error"), "code"),
			    "bad_json");
			errors++;
		} else if (strcmp(jstr(obj, "state"), "succeeded") == 0) {
			i = (int)jnum(json_object_get(obj, "result"), "n");
			ck_assert(i >= 1 && i <= 200 && !seen[i - 1]);
			seen[i - 1] = true;
			/* Its input line: one more past the blank line. */
			ck_assert_int_eq(jnum(obj, "line"), i + (i > 10));
			ok++;
		} else {
			ck_assert_str_eq(jstr(obj, "state"), "failed");
			ck_assert_int_eq(jnum(obj, "exit_code"), 1);
			ck_assert_int_eq(jnum(obj, "line"), 121);
			failed++;
		}
		json_decref(obj);
	}
	ck_assert_int_eq(n, 200);
	ck_assert_int_eq(ok, 198);
	ck_assert_int_eq(failed, 1);
	ck_assert_int_eq(errors, 1);
	ck_assert_str_eq(r.err, ""); /* not a terminal: no progress bar */
	result_free(&r);
	free(input);
}
END_TEST

START_TEST(test_batch_all_ok)
{
	struct result r =
	    JOBCTL_IN("{\"kind\":\"sum\",\"args\":{\"values\":[1,2,3]}}\n"
	              "{\"kind\":\"exec\",\"argv\":[\"true\"]}",
	        "batch");

	/* The last line needs no newline. */
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(strstr(r.out, "\"result\":{\"sum\":6}"));
	result_free(&r);
	r = JOBCTL_IN("", "batch");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
}
END_TEST

/* --- watch and interrupts ------------------------------------------------- */

/* jobd's request counter, read on c (the read counts itself). */
static long long
requests_served(struct client *c)
{
	json_t *reply = client_call(c, "{\"op\":\"stats\"}");
	long long n;

	ck_assert_ptr_nonnull(reply);
	n = jnum(json_object_get(json_object_get(reply, "stats"), "counters"),
	    "requests");
	json_decref(reply);
	return n;
}

struct bg {
	pthread_t thread;
	const char *argv[8];
	struct result r;
};

static void *
bg_run(void *arg)
{
	struct bg *b = arg;

	b->r.rc = run_capture(b->argv, NULL, &b->r.out, &b->r.err);
	return NULL;
}

START_TEST(test_watch)
{
	long long blocker = submit("--", "sleep", "30", NULL);
	long long queued = submit("--", "true", NULL);
	long long before, now, polls = 0;
	char a[32], b[32], want[128];
	struct client c;
	struct bg w;
	struct result r;
	const char *p;

	snprintf(a, sizeof a, "%lld", blocker);
	snprintf(b, sizeof b, "%lld", queued);
	ck_assert_int_eq(client_unix(&c, h.sock), 0);
	before = requests_served(&c);
	w.argv[0] = jobctl_path();
	w.argv[1] = "--addr";
	w.argv[2] = addr;
	w.argv[3] = "watch";
	w.argv[4] = b;
	w.argv[5] = NULL;
	pthread_create(&w.thread, NULL, bg_run, &w);
	/* Until jobd has served the watch: requests beyond our own polls. */
	do {
		now = requests_served(&c);
		polls++;
		ck_assert_int_lt(polls, 1000000);
	} while (now - before - polls < 1);
	client_close(&c);
	r = JOBCTL("cancel", a);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.r.rc, 0);
	ck_assert_int_eq(count_lines(w.r.out), 2);
	snprintf(want, sizeof want, " started %s running\n", b);
	ck_assert_ptr_nonnull(p = strstr(w.r.out, want));
	snprintf(want, sizeof want, " finished %s succeeded exit 0\n", b);
	ck_assert_ptr_nonnull(strstr(p, want));
	result_free(&w.r);
}
END_TEST

/* Start jobctl (argv) in the background, its stderr to errpath and its
 * stdout to out_fd (if not -1). */
static pid_t
spawn_jobctl(const char *const *argv, int out_fd, const char *errpath)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (out_fd != -1)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_addopen(
	    &fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL,
	                     (char *const *)(uintptr_t)argv, environ),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Wait for pid to exit with code; then the start of path into buf. */
static void
exited_with(pid_t pid, int code, const char *path, char *buf, size_t size)
{
	int status;
	FILE *fp;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), code);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_gt(fread(buf, 1, size - 1, fp), 0);
	fclose(fp);
}

START_TEST(test_run_interrupt)
{
	const char *argv[] = {
	    jobctl_path(), "--addr", addr, "run", "--", "sleep", "30", NULL};
	char errpath[PATH_MAX + 16], want[64], text[256] = "";
	struct client c;
	json_t *event, *job;
	long long id = 0;
	pid_t pid;

	/* Watch everything, start `jobctl run`, ^C it once it has started. */
	ck_assert_int_eq(client_unix(&c, h.sock), 0);
	event = client_call(&c, "{\"op\":\"watch\",\"id\":1}");
	ck_assert_ptr_nonnull(event);
	json_decref(event);
	snprintf(errpath, sizeof errpath, "%s/run.err", h.dir);
	pid = spawn_jobctl(argv, -1, errpath);
	while (id == 0) {
		event = client_reply(&c, HARNESS_DEADLINE_MS);
		ck_assert_ptr_nonnull(event);
		if (strcmp(jstr(event, "event"), "started") == 0)
			id = jnum(json_object_get(event, "job"), "id");
		json_decref(event);
	}
	client_close(&c);
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	exited_with(pid, 130, errpath, text, sizeof text);
	snprintf(want, sizeof want, "interrupted: cancelling job %lld\n", id);
	ck_assert_msg(strstr(text, want) != NULL, "stderr: %s", text);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	json_decref(job);
}
END_TEST

/* `jobctl run ... | head -1`: once its stdout is gone, the job is
 * cancelled and run ends as the command would, by SIGPIPE. */
START_TEST(test_run_pipe_closed)
{
	const char *argv[] = {jobctl_path(), "--addr", addr, "run", "--", "sh",
	    "-c", "while :; do echo line; sleep 0.05; done", NULL};
	char errpath[PATH_MAX + 16], line[8] = "";
	struct result r;
	int fds[2], status;
	pid_t pid;

	snprintf(errpath, sizeof errpath, "%s/pipe.err", h.dir);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = spawn_jobctl(argv, fds[1], errpath);
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], line, 5), 5);
	ck_assert_str_eq(line, "line\n");
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 128 + SIGPIPE);
	r = JOBCTL("list", "--json", "--state", "cancelled");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 1);
	ck_assert_ptr_nonnull(strstr(r.out, "echo line"));
	result_free(&r);
}
END_TEST

/* A unique key already taken: the job that has it, and a word on stderr. */
START_TEST(test_key_duplicate)
{
	char want[128], text[32];
	long long id =
	    submit("--key", "kd", "--", "sh", "-c", "echo first", NULL);
	struct result r;

	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	/* With --key-any a finished job keeps its key. */
	r = JOBCTL("submit", "--key", "kd", "--key-any", "--", "echo", "other");
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "%lld\n", id);
	ck_assert_str_eq(r.out, want);
	snprintf(want, sizeof want,
	    "jobctl: job %lld has that key already (succeeded): not submitted "
	    "again\n",
	    id);
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	/* run follows that job: its output, not the command's. */
	r = JOBCTL("run", "--key", "kd", "--key-any", "--", "echo", "other");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "first\n");
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	/* For a script, the reply says it. */
	r = JOBCTL(
	    "--json", "submit", "--key", "kd", "--key-any", "--", "true");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"duplicate\":true"));
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	r = JOBCTL("--json", "run", "--key", "kd", "--key-any", "--", "true");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"duplicate\":true"));
	ck_assert_ptr_nonnull(strstr(r.out, "\"stdout\":\"first\\n\""));
	result_free(&r);
}
END_TEST

/* run streams: a job's first line is out while the job still runs. */
START_TEST(test_run_live)
{
	char go[PATH_MAX + 16], script[PATH_MAX + 128], errpath[PATH_MAX + 16];
	const char *argv[] = {jobctl_path(), "--addr", addr, "run", "--", "sh",
	    "-c", script, NULL};
	char out[256] = "", err[256] = "";
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	int fds[2];
	pid_t pid;
	FILE *fp;

	snprintf(go, sizeof go, "%s/go", h.dir);
	snprintf(errpath, sizeof errpath, "%s/streams.err", h.dir);
	snprintf(script, sizeof script,
	    "echo first; while [ ! -e %s ]; do sleep 0.01; done; "
	    "echo second >&2; exit 3",
	    go);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = spawn_jobctl(argv, fds[1], errpath);
	close(fds[1]);
	/* "first" comes before the job may go on. */
	pfd = (struct pollfd){.fd = fds[0], .events = POLLIN};
	while (strchr(out, '\n') == NULL) {
		ck_assert_msg(poll(&pfd, 1, HARNESS_DEADLINE_MS) == 1,
		    "no output from a running job");
		n = read(fds[0], out + len, sizeof out - 1 - len);
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
	}
	ck_assert_str_eq(out, "first\n");
	fp = fopen(go, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	while ((n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	ck_assert_str_eq(out, "first\n");
	exited_with(pid, 3, errpath, err, sizeof err);
	ck_assert_str_eq(err, "second\n");
}
END_TEST

/* --- queues ----------------------------------------------------------------
 */

/*
 * jobctl's own checks of queue names, priorities and limits: usage errors
 * before anything is sent, so these pass against any jobd.
 */
START_TEST(test_queue_usage)
{
	static const char *const cases[][6] = {
	    {"submit", "--queue", "bad/name", "true", NULL, "bad queue name"},
	    {"submit", "--queue", "", "true", NULL, "bad queue name"},
	    {"submit", "--queue", "sp ace", "true", NULL, "bad queue name"},
	    {"run", "--queue", "x\xc3\xa9", "true", NULL, "bad queue name"},
	    {"run", "--priority", "1001", "true", NULL, "--priority"},
	    {"run", "--priority", "-1", "true", NULL, "--priority"},
	    {"submit", "--priority", "high", "true", NULL, "--priority"},
	    {"submit", "--priority", "", "true", NULL, "--priority"},
	    {"list", "--queue", "a,b", NULL, NULL, "bad queue name"},
	    {"queue", NULL, NULL, NULL, NULL, "an action is required"},
	    {"queue", "frob", "q", NULL, NULL, "unknown action \"frob\""},
	    {"queue", "pause", NULL, NULL, NULL, "needs a queue name"},
	    {"queue", "clear", "no*pe", NULL, NULL, "bad queue name"},
	    {"queue", "resume", "q", "extra", NULL, "unexpected argument"},
	    {"queue", "limit", "q", NULL, NULL, "limit needs a number"},
	    {"queue", "limit", "q", "65537", NULL, "not from 0"},
	    {"queue", "limit", "q", "-1", NULL, "unknown option -1"},
	    {"queue", "limit", "q", "1", "2", "unexpected argument \"2\""},
	    {"queues", "nightly", NULL, NULL, NULL, "unexpected argument"},
	    {"queue", "set", "q", NULL, NULL, "set needs one or more"},
	    {"queue", "pause", "q", "--limit", "2", "are for queue set"},
	    {"queue", "set", "q", "--max-length", "lots", "--max-length"},
	    {"queue", "set", "q", "--timeout", "soon", "bad duration"},
	    {"queue", "set", "q", "--backoff", "sideways", "--backoff"},
	    {"submit", "--after", "abc", "true", NULL, "not a job id"},
	    {"submit", "--after", "0", "true", NULL, "not a job id"},
	    {"submit", "--after-any", "true", NULL, NULL, "--after-any needs"},
	    {"cron", NULL, NULL, NULL, NULL, "an action is required"},
	    {"cron", "frob", NULL, NULL, NULL, "unknown action \"frob\""},
	    {"cron", "add", NULL, NULL, NULL, "NAME and SCHEDULE first"},
	    {"cron", "add", "x", NULL, NULL, "NAME and SCHEDULE first"},
	    {"cron", "add", "--tz", "UTC", "x", "NAME and SCHEDULE first"},
	    {"cron", "add", "a b", "@daily", "true",
	        "cron add: bad cron entry name \"a b\""},
	    {"cron", "add", "x", "@daily", NULL, "a command to run"},
	    {"cron", "add", "x", "@daily", "--bogus", "unknown option"},
	    {"cron", "remove", NULL, NULL, NULL, "needs one NAME"},
	    {"cron", "remove", "no/pe", NULL, NULL, "bad cron entry name"},
	    {"cron", "run", "a", "b", NULL, "needs one NAME"},
	    {"cron", "list", "extra", NULL, NULL, "unexpected argument"},
	};
	char name[80];
	struct result r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = JOBCTL(cases[i][0], cases[i][1], cases[i][2], cases[i][3],
		    cases[i][4]);
		ck_assert_msg(r.rc == 125, "case %zu: exit %d", i, r.rc);
		ck_assert_msg(strstr(r.err, cases[i][5]) != NULL,
		    "case %zu: stderr \"%s\" lacks \"%s\"", i, r.err,
		    cases[i][5]);
		ck_assert_ptr_nonnull(strstr(r.err, "usage: jobctl"));
		ck_assert_str_eq(r.out, "");
		result_free(&r);
	}
	/* 65 characters is one too many, 64 is allowed. */
	memset(name, 'q', 65);
	name[65] = '\0';
	r = JOBCTL("submit", "--queue", name, "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "bad queue name"));
	result_free(&r);
	r = JOBCTL("queue", "pause", name);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "bad queue name"));
	result_free(&r);
	/* Not refused by jobctl (jobd, with or without queues, decides). */
	name[64] = '\0';
	r = JOBCTL("submit", "--queue", name, "--priority", "1000", "true");
	ck_assert_ptr_null(strstr(r.err, "bad queue name"));
	ck_assert_ptr_null(strstr(r.err, "usage: jobctl"));
	result_free(&r);
	r = JOBCTL("list", "--queue", "A-z_0.9");
	ck_assert_ptr_null(strstr(r.err, "usage: jobctl"));
	result_free(&r);
}
END_TEST

/* Poll `get` until job id is in state; fails at the deadline. */
static void
await_state(long long id, const char *state)
{
	uint64_t deadline =
	    test_now_ns() + (uint64_t)HARNESS_DEADLINE_MS * 1000000;
	json_t *job;
	bool there;

	for (;;) {
		job = get_job(id);
		there = strcmp(jstr(job, "state"), state) == 0;
		json_decref(job);
		if (there)
			return;
		ck_assert_msg(
		    test_now_ns() < deadline, "job %lld never %s", id, state);
	}
}

/* `jobctl queues --json`: the object of the named queue (NULL: none). */
static json_t *
find_queue(const char *name)
{
	struct result r = JOBCTL("queues", "--json");
	json_t *q, *found = NULL;
	char *line, *save;

	ck_assert_msg(r.rc == 0, "queues: %s", r.err);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		q = json_loads(line, 0, NULL);
		ck_assert_msg(q != NULL, "not JSON: %s", line);
		if (found == NULL && strcmp(jstr(q, "name"), name) == 0)
			found = q;
		else
			json_decref(q);
	}
	result_free(&r);
	return found;
}

/* The line of `jobctl queues` for name, copied; NULL if absent. */
static char *
queue_row(const char *name)
{
	struct result r = JOBCTL("queues");
	char *line, *save, *row = NULL;
	size_t len = strlen(name);

	ck_assert_msg(r.rc == 0, "queues: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "NAME "));
	ck_assert_ptr_nonnull(strstr(r.out, " FAILED\n"));
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, name, len) == 0 && line[len] == ' ')
			row = strdup(line);
	}
	result_free(&r);
	return row;
}

/* Does a table row have this word as a column? */
static bool
has_column(const char *row, const char *word)
{
	size_t len = strlen(word);
	const char *p;

	for (p = strstr(row, word); p != NULL; p = strstr(p + 1, word)) {
		if ((p == row || p[-1] == ' ') &&
		    (p[len] == ' ' || p[len] == '\0'))
			return true;
	}
	return false;
}

START_TEST(test_queue_submit_list)
{
	long long a =
	    submit("--queue", "nightly", "--priority", "7", "--", "true", NULL);
	long long b = submit("--", "true", NULL);
	char ta[32], tb[32], *row;
	struct result r;
	json_t *job, *q;

	snprintf(ta, sizeof ta, "%lld", a);
	snprintf(tb, sizeof tb, "%lld", b);
	r = JOBCTL("wait", ta, tb);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	job = get_job(a);
	ck_assert_str_eq(jstr(job, "queue"), "nightly");
	ck_assert_int_eq(jnum(job, "priority"), 7);
	json_decref(job);
	job = get_job(b);
	ck_assert_str_eq(jstr(job, "queue"), "default");
	ck_assert_int_eq(jnum(job, "priority"), 100);
	json_decref(job);
	/* The filter, and the QUEUE column. */
	r = JOBCTL("list", "--json", "--queue", "nightly");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 1);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(jnum(job, "id"), a);
	ck_assert_str_eq(jstr(job, "queue"), "nightly");
	json_decref(job);
	result_free(&r);
	r = JOBCTL("list", "--queue", "nightly");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(strstr(r.out, " QUEUE "));
	ck_assert_ptr_nonnull(strstr(r.out, " nightly "));
	result_free(&r);
	r = JOBCTL("list", "--queue", "nobody-uses-this");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 1); /* the header */
	result_free(&r);
	r = JOBCTL("get", ta);
	ck_assert_ptr_nonnull(
	    strstr(r.out, "queue:      nightly, priority 7\n"));
	result_free(&r);
	/* The queue's counts. */
	q = find_queue("nightly");
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(jnum(q, "submitted"), 1);
	ck_assert_int_eq(jnum(q, "succeeded"), 1);
	ck_assert_int_eq(jnum(q, "depth"), 0);
	ck_assert(json_is_false(json_object_get(q, "paused")));
	json_decref(q);
	row = queue_row("nightly");
	ck_assert_ptr_nonnull(row);
	ck_assert(has_column(row, "active"));
	free(row);
}
END_TEST

START_TEST(test_queue_pause_resume)
{
	struct result r = JOBCTL("queue", "pause", "q1");
	long long id;
	json_t *job, *q;
	char *row;

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q1 paused (0 queued, 0 running)\n");
	result_free(&r);
	/* Paused: nothing starts, so the job is surely still queued. */
	id = submit("--queue", "q1", "--", "true", NULL);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "queued");
	json_decref(job);
	q = find_queue("q1");
	ck_assert_ptr_nonnull(q);
	ck_assert(json_is_true(json_object_get(q, "paused")));
	ck_assert(json_is_false(json_object_get(q, "draining")));
	ck_assert_int_eq(jnum(q, "depth"), 1);
	ck_assert_int_eq(jnum(q, "running"), 0);
	json_decref(q);
	row = queue_row("q1");
	ck_assert_ptr_nonnull(row);
	ck_assert(has_column(row, "paused"));
	free(row);
	r = JOBCTL("queue", "pause", "q1");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q1 paused (1 queued, 0 running)\n");
	result_free(&r);
	r = JOBCTL("queue", "resume", "--json", "q1");
	ck_assert_int_eq(r.rc, 0);
	q = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(jstr(q, "name"), "q1");
	ck_assert(json_is_false(json_object_get(q, "paused")));
	ck_assert_ptr_null(json_object_get(q, "cleared"));
	json_decref(q);
	result_free(&r);
	await_state(id, "succeeded");
}
END_TEST

START_TEST(test_queue_drain)
{
	struct result r = JOBCTL("queue", "drain", "q2");
	char *row;

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q2 draining (0 queued, 0 running)\n");
	result_free(&r);
	r = JOBCTL("submit", "--queue", "q2", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "jobctl: queue_draining: "));
	ck_assert_str_eq(r.out, "");
	result_free(&r);
	row = queue_row("q2");
	ck_assert_ptr_nonnull(row);
	ck_assert(has_column(row, "draining"));
	free(row);
	r = JOBCTL("queue", "pause", "q2");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	row = queue_row("q2");
	ck_assert_ptr_nonnull(row);
	ck_assert(has_column(row, "paused,draining"));
	free(row);
	/* Other queues still take jobs. */
	submit("--queue", "q3", "--", "true", NULL);
	/* Resume undoes both. */
	r = JOBCTL("queue", "resume", "q2");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q2 resumed (0 queued, 0 running)\n");
	result_free(&r);
	row = queue_row("q2");
	ck_assert_ptr_nonnull(row);
	ck_assert(has_column(row, "active"));
	free(row);
	submit("--queue", "q2", "--", "true", NULL);
}
END_TEST

START_TEST(test_queue_clear)
{
	long long ids[3];
	struct result r = JOBCTL("queue", "pause", "q4");
	json_t *q, *job;
	int i;

	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	for (i = 0; i < 3; i++)
		ids[i] = submit("--queue", "q4", "--", "true", NULL);
	r = JOBCTL("queue", "clear", "q4");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q4 cleared: 3 jobs cancelled\n");
	result_free(&r);
	for (i = 0; i < 3; i++) {
		job = get_job(ids[i]);
		ck_assert_str_eq(jstr(job, "state"), "cancelled");
		ck_assert_int_eq(
		    json_array_size(json_object_get(job, "attempts")), 0);
		json_decref(job);
	}
	submit("--queue", "q4", "--", "true", NULL);
	r = JOBCTL("queue", "clear", "q4");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q4 cleared: 1 job cancelled\n");
	result_free(&r);
	r = JOBCTL("queue", "--json", "clear", "q4");
	ck_assert_int_eq(r.rc, 0);
	q = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(jstr(q, "name"), "q4");
	ck_assert_int_eq(jnum(q, "cleared"), 0);
	ck_assert_int_eq(jnum(q, "depth"), 0);
	ck_assert_int_eq(jnum(q, "cancelled"), 4);
	json_decref(q);
	result_free(&r);
}
END_TEST

START_TEST(test_queue_limit)
{
	struct result r = JOBCTL("queue", "limit", "q5", "1");
	long long first, second;
	char a[32], b[32], *row;
	json_t *q;

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(
	    r.out, "queue q5 limited to 1 running (0 queued, 0 running)\n");
	result_free(&r);
	row = queue_row("q5");
	ck_assert_ptr_nonnull(row);
	ck_assert(has_column(row, "1"));
	free(row);
	first = submit("--queue", "q5", "--", "sleep", "30", NULL);
	second = submit("--queue", "q5", "--", "sleep", "30", NULL);
	await_state(first, "running");
	q = find_queue("q5");
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(jnum(q, "concurrency"), 1);
	ck_assert_int_eq(jnum(q, "running"), 1);
	ck_assert_int_eq(jnum(q, "depth"), 1);
	json_decref(q);
	/* No limit: the second starts. */
	r = JOBCTL("queue", "limit", "q5", "0");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "queue q5 unlimited ("));
	result_free(&r);
	await_state(second, "running");
	r = JOBCTL("queue", "limit", "--json", "q5", "65536");
	ck_assert_int_eq(r.rc, 0);
	q = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(jnum(q, "concurrency"), 65536);
	json_decref(q);
	result_free(&r);
	snprintf(a, sizeof a, "%lld", first);
	snprintf(b, sizeof b, "%lld", second);
	r = JOBCTL("cancel", a, b);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
}
END_TEST

/* list --since/--until/--key pick jobs by submit time and key. */
START_TEST(test_list_filters)
{
	struct result r;

	submit("--key", "k-list", "--", "true", NULL);
	r = JOBCTL("list", "--since", "-1h", "--key", "k-list", "--json");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(count_lines(r.out), 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"k-list\""));
	result_free(&r);
	r = JOBCTL("list", "--until", "-1h", "--json");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
	r = JOBCTL("list", "--since", "2000-01-01T00:00:00Z", "--until", "+1h",
	    "--key", "k-list");
	ck_assert_int_eq(r.rc, 125); /* --until takes the past: -DUR */
	ck_assert_ptr_nonnull(strstr(r.err, "--until: bad time"));
	result_free(&r);
	r = JOBCTL("list", "--since", "soon");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "--since: bad time"));
	result_free(&r);
}
END_TEST

/* cron add/list/run/remove, as a person and a script see them. */
START_TEST(test_cron)
{
	struct result r;
	json_t *e;
	long long id;
	char text[32];

	r = JOBCTL("cron", "add", "nightly", "0 3 * * *", "--tz", "UTC",
	    "--timeout", "1m", "--", "echo", "hi");
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_ptr_nonnull(
	    strstr(r.out, "cron nightly added: 0 3 * * * (UTC), next at "));
	result_free(&r);
	r = JOBCTL("cron", "list");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(strstr(r.out, "NAME "));
	ck_assert_ptr_nonnull(strstr(r.out, "nightly "));
	ck_assert_ptr_nonnull(strstr(r.out, " 03:00:00 "));
	ck_assert_ptr_nonnull(strstr(r.out, "echo hi\n"));
	result_free(&r);
	r = JOBCTL("cron", "list", "--json");
	ck_assert_int_eq(r.rc, 0);
	e = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(jstr(e, "name"), "nightly");
	ck_assert_int_eq(jnum(json_object_get(e, "job"), "timeout_ms"), 60000);
	json_decref(e);
	result_free(&r);

	r = JOBCTL("cron", "run", "nightly");
	ck_assert_int_eq(r.rc, 0);
	id = strtoll(r.out, NULL, 10);
	ck_assert_int_gt(id, 0);
	result_free(&r);
	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("logs", text);
	ck_assert_str_eq(r.out, "hi\n");
	result_free(&r);

	r = JOBCTL("cron", "remove", "nightly");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "cron nightly removed\n");
	result_free(&r);
	r = JOBCTL("cron", "remove", "nightly");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	result_free(&r);
	r = JOBCTL("cron", "add", "bad", "0 25 * * *", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "hour"));
	result_free(&r);
	r = JOBCTL("cron", "list");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
}
END_TEST

/* queue set: max length, default timeout and retries, shown in queues. */
START_TEST(test_queue_set)
{
	static const char *const clashes[][4] = {
	    {"--retries", "3", "--no-retry", "--no-retry goes with neither"},
	    {"--no-retry", "--backoff", "exp:1s", "--no-retry goes with"},
	    {"--no-run-as", "--run-as", "nobody", "--run-as or --no-run-as"},
	};
	struct result r = JOBCTL("queue", "set", "q6", "--max-length", "1",
	    "--timeout", "200ms", "--retries", "2", "--backoff", "fixed:1ms");
	long long id;
	json_t *q, *job;
	size_t i;

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "queue q6: limit -, max length 1, timeout "
	                        "200ms, retries 2, run as -\n");
	result_free(&r);
	/* Settings that contradict each other are refused. */
	for (i = 0; i < sizeof clashes / sizeof clashes[0]; i++) {
		r = JOBCTL("queue", "set", "q6", clashes[i][0], clashes[i][1],
		    clashes[i][2]);
		ck_assert_int_eq(r.rc, 125);
		ck_assert_msg(
		    strstr(r.err, clashes[i][3]) != NULL, "%s", r.err);
		result_free(&r);
	}
	q = find_queue("q6");
	ck_assert_int_eq(jnum(q, "max_length"), 1);
	ck_assert_int_eq(jnum(q, "timeout_ms"), 200);
	ck_assert_int_eq(jnum(json_object_get(q, "retry"), "max_attempts"), 3);
	json_decref(q);
	/* The queue's timeout and retries apply: 3 attempts, timed out. */
	r = JOBCTL("queue", "pause", "q6");
	result_free(&r);
	id = submit("--queue", "q6", "--", "sleep", "60", NULL);
	r = JOBCTL("submit", "--queue", "q6", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "max_length is 1"));
	result_free(&r);
	r = JOBCTL("queue", "resume", "q6");
	result_free(&r);
	await_state(id, "timed_out");
	job = get_job(id);
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 3);
	json_decref(job);
	r = JOBCTL(
	    "queue", "set", "--json", "q6", "--no-retry", "--timeout", "0");
	ck_assert_int_eq(r.rc, 0);
	q = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_null(json_object_get(q, "retry"));
	ck_assert_int_eq(jnum(q, "timeout_ms"), 0);
	json_decref(q);
	result_free(&r);
}
END_TEST

/* --after: a job runs after others; a failed one fails it (exit 1). */
START_TEST(test_after)
{
	long long first, second;
	char a[32], b[32];
	struct result r;
	json_t *job;

	r = JOBCTL("queue", "pause", "q7");
	result_free(&r);
	first = submit("--queue", "q7", "--", "true", NULL);
	snprintf(a, sizeof a, "%lld", first);
	second = submit("--after", a, "--", "echo", "second", NULL);
	job = get_job(second);
	ck_assert_str_eq(jstr(job, "state"), "waiting");
	ck_assert_str_eq(jstr(job, "after"), "ok");
	json_decref(job);
	r = JOBCTL("queue", "resume", "q7");
	result_free(&r);
	await_state(second, "succeeded");

	r = JOBCTL("run", "--", "false");
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	snprintf(b, sizeof b, "%lld", second + 1);
	r = JOBCTL("run", "--after", b, "--", "echo", "never");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_ptr_nonnull(strstr(r.err, "did not succeed"));
	result_free(&r);
	/* --after-any: runs all the same. */
	r = JOBCTL("run", "--after", b, "--after", a, "--after-any", "--",
	    "echo", "anyway");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "anyway\n");
	result_free(&r);
	/* An unknown job: jobd's error, nothing queued. */
	r = JOBCTL("submit", "--after", "999999", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "no such job 999999"));
	result_free(&r);
}
END_TEST

/* One at a time: lower priority first, FIFO within a priority. */
START_TEST(test_queue_priority)
{
	static const char *const prio[] = {"500", "10", "10", "0", "100"};
	static const char *const want = "3\n1\n2\n4\n0\n";
	char path[PATH_MAX + 16], script[PATH_MAX + 64], text[64] = "";
	char ids[5][32];
	struct result r;
	size_t n;
	FILE *fp;
	int i;

	snprintf(path, sizeof path, "%s/order.txt", h.dir);
	r = JOBCTL("queue", "pause", "q6");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("queue", "limit", "q6", "1");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	for (i = 0; i < 5; i++) {
		snprintf(script, sizeof script, "echo %d >> '%s'", i, path);
		snprintf(ids[i], sizeof ids[i], "%lld",
		    submit("--queue", "q6", "--priority", prio[i], "--", "sh",
		        "-c", script, NULL));
	}
	r = JOBCTL("queue", "resume", "q6");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("wait", ids[0], ids[1], ids[2], ids[3], ids[4]);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(text, 1, sizeof text - 1, fp);
	fclose(fp);
	text[n] = '\0';
	ck_assert_str_eq(text, want);
}
END_TEST

/* --- delayed and expiring jobs ---------------------------------------------
 */

/*
 * jobctl's own checks of --delay, --run-at and --expires: usage errors
 * before anything is sent, so these pass against any jobd.
 */
START_TEST(test_time_usage)
{
	static const struct {
		const char *argv[6];
		const char *want;
	} cases[] = {
	    {{"submit", "--delay", "1s", "--run-at", "+1s", "true"},
	        "give --delay or --run-at, not both"},
	    {{"run", "--run-at", "12:00", "--delay", "0", "true"},
	        "give --delay or --run-at, not both"},
	    {{"submit", "--delay", "soon", "true"}, "--delay: bad duration"},
	    {{"submit", "--delay", "31d", "true"}, "more than 30d"},
	    {{"submit", "--delay", "-1s", "true"}, "--delay: bad duration"},
	    {{"submit", "--delay", "999999999999999d", "true"},
	        "--delay: \"999999999999999d\" is far too long"},
	    {{"submit", "--run-at", "tomorrow", "true"}, "--run-at: bad time"},
	    {{"submit", "--run-at", "", "true"}, "--run-at: bad time"},
	    {{"submit", "--run-at", "24:00", "true"}, "--run-at: bad time"},
	    {{"submit", "--run-at", "7:60", "true"}, "--run-at: bad time"},
	    {{"submit", "--run-at", "7:5", "true"}, "--run-at: bad time"},
	    {{"submit", "--run-at", ":30", "true"}, "--run-at: bad time"},
	    {{"submit", "--run-at", "123:00", "true"}, "--run-at: bad time"},
	    {{"submit", "--expires", "+", "true"}, "--expires: bad time"},
	    {{"submit", "--expires", "+5parsecs", "true"},
	        "--expires: bad time"},
	    {{"submit", "--expires", "-5m", "true"}, "--expires: bad time"},
	    {{"submit", "--expires", "5m", "true"}, "--expires: bad time"},
	    /* Not RFC 3339: no zone, a bad zone, no fraction, no such day. */
	    {{"run", "--run-at", "2026-11-26T18:00:00", "true"}, "bad time"},
	    {{"run", "--run-at", "2026-11-26T18:00:00+0100", "true"},
	        "bad time"},
	    {{"run", "--run-at", "2026-11-26T18:00:00+1:00", "true"},
	        "bad time"},
	    {{"run", "--run-at", "2026-11-26T18:00:00.Z", "true"}, "bad time"},
	    {{"run", "--run-at", "2026-11-26T18:00Z", "true"}, "bad time"},
	    {{"run", "--run-at", "2026-11-26T24:00:00Z", "true"}, "bad time"},
	    {{"run", "--run-at", "2026-02-29T12:00:00Z", "true"}, "bad time"},
	    {{"run", "--run-at", "2026-04-31T12:00:00Z", "true"}, "bad time"},
	    {{"run", "--run-at", "2026-11-26T18:00:00Zjunk", "true"},
	        "bad time"},
	    {{"run", "--expires", "2026-13-01T00:00:00Z", "true"}, "bad time"},
	    {{"run", "--expires"}, "needs a value"},
	};
	struct result r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = JOBCTL(cases[i].argv[0], cases[i].argv[1], cases[i].argv[2],
		    cases[i].argv[3], cases[i].argv[4], cases[i].argv[5]);
		ck_assert_msg(r.rc == 125, "case %zu: exit %d", i, r.rc);
		ck_assert_msg(strstr(r.err, cases[i].want) != NULL,
		    "case %zu: stderr \"%s\" lacks \"%s\"", i, r.err,
		    cases[i].want);
		ck_assert_ptr_nonnull(strstr(r.err, "usage: jobctl"));
		ck_assert_str_eq(r.out, "");
		result_free(&r);
	}
	/* Well-formed times are jobd's to judge (this one is in the past). */
	r = JOBCTL("submit", "--run-at", "2024-02-29t00:00:00.123456z", "true");
	ck_assert_ptr_null(strstr(r.err, "bad time"));
	ck_assert_ptr_null(strstr(r.err, "usage: jobctl"));
	result_free(&r);
	r = JOBCTL("submit", "--expires", "2024-02-29 00:00:00-23:59", "true");
	ck_assert_ptr_null(strstr(r.err, "bad time"));
	ck_assert_ptr_null(strstr(r.err, "usage: jobctl"));
	result_free(&r);
}
END_TEST

/* jobd's RFC 3339 UTC text ("...T18:00:00.250Z") as ms; fails if not. */
static int64_t
time_ms(const json_t *obj, const char *key)
{
	const char *text = jstr(obj, key);
	struct tm tm = {0};
	int ms, n = 0;
	time_t t;

	ck_assert_msg(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n",
	                  &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	                  &tm.tm_min, &tm.tm_sec, &ms, &n) == 7 &&
	                  n == 24 && text[n] == '\0',
	    "%s \"%s\" is not RFC 3339 UTC with ms", key, text);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	ck_assert(t != (time_t)-1);
	return (int64_t)t * 1000 + ms;
}

/* The id of `jobctl submit --json ...`'s job. */
static long long
submitted_id(struct result *r)
{
	json_t *job;
	long long id;

	ck_assert_msg(r->rc == 0, "submit failed: %s", r->err);
	job = json_loads(r->out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	id = jnum(job, "id");
	json_decref(job);
	result_free(r);
	return id;
}

START_TEST(test_delay_runs_later)
{
	long long id = submit("--delay", "300ms", "--", "true", NULL);
	char text[32], want[64];
	struct result r;
	json_t *job, *attempts;

	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "%lld succeeded\n", id);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "succeeded");
	ck_assert_ptr_null(json_object_get(job, "run_at"));
	attempts = json_object_get(job, "attempts");
	ck_assert_int_eq(json_array_size(attempts), 1);
	/* Not started before its delay was over (later is fine). */
	ck_assert_int_ge(time_ms(json_array_get(attempts, 0), "started_at") -
	                     time_ms(job, "submitted_at"),
	    300);
	json_decref(job);
}
END_TEST

START_TEST(test_run_at_delayed)
{
	/* A minute ahead: surely still waiting when we look. */
	struct result r = JOBCTL(
	    "submit", "--json", "--run-at", "+1m", "--expires", "+2h", "true");
	long long id = submitted_id(&r);
	int64_t submitted, run_at, expires;
	char text[32], want[64];
	json_t *job;

	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "delayed");
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 0);
	submitted = time_ms(job, "submitted_at");
	run_at = time_ms(job, "run_at");
	expires = time_ms(job, "expires_at");
	/* jobctl took "now" before jobd did, so these are upper bounds. */
	ck_assert_int_gt(run_at, submitted);
	/* (Each clock reading is truncated to the millisecond.) */
	ck_assert_int_le(run_at - submitted, 60001);
	ck_assert_int_gt(expires, run_at);
	ck_assert_int_le(expires - submitted, 2 * 3600 * 1000);
	ck_assert_int_eq(expires - run_at, 2 * 3600 * 1000 - 60000);
	json_decref(job);
	/* The human forms. */
	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("get", text);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "state:      delayed\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nrun at:     20"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nexpires:    20"));
	ck_assert_ptr_nonnull(strstr(r.out, "attempts:   none yet\n"));
	result_free(&r);
	r = JOBCTL("list", "--state", "delayed");
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "\n%-7s delayed ", text);
	ck_assert_msg(
	    strstr(r.out, want) != NULL, "no \"%s\" in \"%s\"", want, r.out);
	result_free(&r);
	/* A delayed job can be cancelled; it never runs. */
	r = JOBCTL("cancel", text);
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "%s cancelled\n", text);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 0);
	json_decref(job);
}
END_TEST

/* The three TIME forms reach jobd as the same instant jobctl meant. */
START_TEST(test_run_at_forms)
{
	time_t now = time(NULL), at = now + 3600, shifted, next;
	char offset_text[64], want[64], hhmm[8];
	struct tm tm, local;
	struct result r;
	long long id;
	json_t *job;

	/* An hour ahead, written as +01:00 time with a fraction. */
	shifted = at + 3600;
	gmtime_r(&shifted, &tm);
	strftime(
	    offset_text, sizeof offset_text, "%Y-%m-%dT%H:%M:%S.25+01:00", &tm);
	gmtime_r(&at, &tm);
	strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.250Z", &tm);
	r = JOBCTL("submit", "--json", "--run-at", offset_text, "true");
	id = submitted_id(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "delayed");
	ck_assert_str_eq(jstr(job, "run_at"), want);
	json_decref(job);

	/* The local minute before this one: tomorrow's, about a day ahead. */
	shifted = now - 60;
	localtime_r(&shifted, &local);
	strftime(hhmm, sizeof hhmm, "%H:%M", &local);
	r = JOBCTL("submit", "--json", "--run-at", hhmm, "true");
	id = submitted_id(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "delayed");
	ck_assert_int_eq(time_ms(job, "run_at") % 60000, 0);
	next = (time_t)(time_ms(job, "run_at") / 1000);
	/* 23 to 24 hours, give or take a daylight-saving change. */
	ck_assert_int_gt(next - now, 22 * 3600);
	ck_assert_int_le(next - now, 25 * 3600);
	localtime_r(&next, &tm);
	ck_assert_int_eq(tm.tm_hour, local.tm_hour);
	ck_assert_int_eq(tm.tm_min, local.tm_min);
	json_decref(job);
}
END_TEST

START_TEST(test_expired)
{
	struct result r = JOBCTL("queue", "pause", "held");
	char text[32], want[96];
	long long id, later;
	json_t *job;

	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	/* An expiry before the run time is refused, not silently expired. */
	r = JOBCTL("submit", "--delay", "5s", "--expires", "+1s", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "jobctl: out_of_range: "));
	ck_assert_str_eq(r.out, "");
	result_free(&r);

	/* Queued in a paused queue: not started by its expiry. */
	id = submit("--queue", "held", "--expires", "+1s", "--", "true", NULL);
	/* Delayed, then queued there: the same. */
	later = submit("--queue", "held", "--delay", "100ms", "--expires",
	    "+1s", "--", "true", NULL);
	snprintf(text, sizeof text, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof want, "%lld expired\n", id);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "expired");
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 0);
	ck_assert_ptr_null(json_object_get(job, "exit_code"));
	ck_assert_ptr_null(json_object_get(job, "run_at"));
	ck_assert_ptr_nonnull(json_object_get(job, "expires_at"));
	json_decref(job);
	r = JOBCTL("get", text);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "state:      expired\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "attempts:   none\n"));
	result_free(&r);
	snprintf(text, sizeof text, "%lld", later);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof want, "%lld expired\n", later);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	r = JOBCTL("list", "--state", "expired");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 3); /* the header and two */
	result_free(&r);

	/* run: no output, 125 and why. */
	r = JOBCTL("run", "--queue", "held", "--expires", "+1s", "--", "echo",
	    "never");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strncmp(r.err, "jobctl: job ", 12) == 0 &&
	                  strstr(r.err, " expired before it started\n") != NULL,
	    "stderr \"%s\"", r.err);
	ck_assert_int_eq(count_lines(r.err), 1);
	result_free(&r);
}
END_TEST

/* --- the dead set: dead, kick, discard ------------------------------------ */

/* jobctl's own checks: usage errors before anything is sent. */
START_TEST(test_dead_usage)
{
	static const char *const cases[][5] = {
	    {"kick", NULL, NULL, NULL, "a job id or --all is required"},
	    {"discard", NULL, NULL, NULL, "a job id or --all is required"},
	    {"kick", "--queue", "q", NULL, "a job id or --all is required"},
	    {"kick", "--all", "7", NULL, "job ids or --all, not both"},
	    {"discard", "7", "--all", NULL, "job ids or --all, not both"},
	    {"kick", "--queue", "q", "7", "--queue goes with --all"},
	    {"discard", "7", "--queue", "q", "--queue goes with --all"},
	    {"kick", "--all", "--queue", "bad/name", "bad queue name"},
	    {"discard", "--all", "--queue", "", "bad queue name"},
	    {"kick", "7", "x", NULL, "bad job id \"x\""},
	    {"discard", "0", NULL, NULL, "bad job id \"0\""},
	    {"kick", "--bogus", NULL, NULL, "unknown option --bogus"},
	    {"dead", "5", NULL, NULL, "unexpected argument \"5\""},
	    {"dead", "--limit", "0", NULL, "--limit"},
	    {"dead", "--limit", "10001", NULL, "--limit"},
	    {"dead", "--queue", "a b", NULL, "bad queue name"},
	    {"dead", "--queue", NULL, NULL, "needs a value"},
	    {"dead", "--since", "soon", NULL, "--since: bad time"},
	    {"dead", "--until", "+1h", NULL, "--until: bad time"},
	};
	struct result r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = JOBCTL(cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
		ck_assert_msg(r.rc == 125, "case %zu: exit %d", i, r.rc);
		ck_assert_msg(strstr(r.err, cases[i][4]) != NULL,
		    "case %zu: stderr \"%s\" lacks \"%s\"", i, r.err,
		    cases[i][4]);
		ck_assert_ptr_nonnull(strstr(r.err, "usage: jobctl"));
		ck_assert_str_eq(r.out, "");
		result_free(&r);
	}
	r = JOBCTL("kick", "--help");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(
	    strstr(r.out, "usage: jobctl kick ID... | --all [--queue NAME]\n"));
	result_free(&r);
}
END_TEST

/* Submit a job that fails (exit 3) and wait for it to end; its id. */
static long long
dead_job(char *text, size_t len, const char *queue)
{
	long long id;
	struct result r;

	if (queue != NULL)
		id = submit("--queue", queue, "--", "sh", "-c", "exit 3", NULL);
	else
		id = submit("--", "sh", "-c", "exit 3", NULL);
	snprintf(text, len, "%lld", id);
	r = JOBCTL("wait", text);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	return id;
}

/* The ids of `jobctl dead --json ARGS`, in order, as "ID ID ..." text. */
static char *
dead_ids(const char *a1, const char *a2)
{
	struct result r = JOBCTL("dead", "--json", "--all", a1, a2);
	char *line, *save, *ids;
	size_t len = 0;
	json_t *job;

	ck_assert_msg(r.rc == 0, "dead: %s", r.err);
	ids = calloc(1, strlen(r.out) + 1);
	ck_assert_ptr_nonnull(ids);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		job = json_loads(line, 0, NULL);
		ck_assert_msg(job != NULL, "not JSON: %s", line);
		len += (size_t)sprintf(
		    ids + len, "%s%lld", len > 0 ? " " : "", jnum(job, "id"));
		json_decref(job);
	}
	result_free(&r);
	return ids;
}

START_TEST(test_dead_kick)
{
	char bad[32], ok[32], want[128], *ids;
	long long id = dead_job(bad, sizeof bad, NULL);
	long long good = submit("--", "true", NULL);
	struct result r;
	json_t *job;

	snprintf(ok, sizeof ok, "%lld", good);
	r = JOBCTL("wait", ok);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	/* The failed job is dead, the one that succeeded is not. */
	r = JOBCTL("dead");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(strstr(r.out, "ID "));
	ck_assert_ptr_nonnull(strstr(r.out, " failed "));
	ck_assert_ptr_nonnull(strstr(r.out, "sh -c 'exit 3'\n"));
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	ids = dead_ids(NULL, NULL);
	ck_assert_str_eq(ids, bad);
	free(ids);
	/* Submitted in the last hour, and not before 2000. */
	ids = dead_ids("--since", "-1h");
	ck_assert_str_eq(ids, bad);
	free(ids);
	ids = dead_ids("--until", "2000-01-01T00:00:00Z");
	ck_assert_str_eq(ids, "");
	free(ids);
	r = JOBCTL("dead", "--json");
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(jnum(job, "id"), id);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	ck_assert_int_eq(jnum(job, "exit_code"), 3);
	json_decref(job);
	result_free(&r);

	/* Kicked: it runs again and fails again, its history kept. */
	r = JOBCTL("kick", bad);
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "kicked 1 job: %s\n", bad);
	ck_assert_str_eq(r.out, want);
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	r = JOBCTL("wait", bad);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 2);
	json_decref(job);
	ids = dead_ids(NULL, NULL);
	ck_assert_str_eq(ids, bad);
	free(ids);

	/* A job that is not dead is left alone: exit 1, and said why. */
	r = JOBCTL("kick", ok);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "kicked 0 jobs\n");
	snprintf(
	    want, sizeof want, "jobctl: job %s is not dead: not kicked\n", ok);
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	r = JOBCTL("--json", "kick", ok);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	job = get_job(good);
	ck_assert_str_eq(jstr(job, "state"), "succeeded");
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	/* --json: the kicked jobs' summaries, one per line. */
	r = JOBCTL("kick", "--json", ok, bad);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 1);
	job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(jnum(job, "id"), id);
	json_decref(job);
	result_free(&r);
	r = JOBCTL("wait", bad);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	job = get_job(id);
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 3);
	json_decref(job);
	/* An id jobd never gave out is an error. */
	r = JOBCTL("kick", "424242");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	ck_assert_str_eq(r.out, "");
	result_free(&r);
	/* ... and then nothing is kicked, not even the dead job. */
	r = JOBCTL("kick", bad, "424242");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	result_free(&r);
	job = get_job(id);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	json_decref(job);
	ids = dead_ids(NULL, NULL);
	ck_assert_str_eq(ids, bad);
	free(ids);
}
END_TEST

START_TEST(test_dead_discard)
{
	char bad[32], ok[32];
	struct result r;
	json_t *reply, *job;
	long long good;
	char *ids;

	dead_job(bad, sizeof bad, NULL);
	good = submit("--", "true", NULL);
	snprintf(ok, sizeof ok, "%lld", good);
	r = JOBCTL("wait", ok);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("discard", ok);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "discarded 0 jobs\n");
	ck_assert_str_eq(r.err,
	    "jobctl: 1 of the 1 named job was not dead (failed or timed_out "
	    "after its last attempt): not discarded\n");
	result_free(&r);
	job = get_job(good);
	ck_assert_str_eq(jstr(job, "state"), "succeeded");
	json_decref(job);
	r = JOBCTL("discard", bad);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "discarded 1 job\n");
	result_free(&r);
	/* Gone for good. */
	r = JOBCTL("get", bad);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	result_free(&r);
	ids = dead_ids(NULL, NULL);
	ck_assert_str_eq(ids, "");
	free(ids);
	r = JOBCTL("discard", bad);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	result_free(&r);
	/* --json: the count. */
	dead_job(bad, sizeof bad, NULL);
	r = JOBCTL("discard", "--json", bad);
	ck_assert_int_eq(r.rc, 0);
	reply = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(jnum(reply, "discarded"), 1);
	ck_assert_ptr_null(json_object_get(reply, "ok"));
	json_decref(reply);
	result_free(&r);
	r = JOBCTL("dead");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 1); /* the header */
	result_free(&r);
}
END_TEST

START_TEST(test_dead_all_queue)
{
	char a[32], b[32], c[32], want[128], *ids;
	long long ida = dead_job(a, sizeof a, "q");
	long long idb = dead_job(b, sizeof b, "other");
	struct result r;
	json_t *job;

	dead_job(c, sizeof c, NULL);
	ids = dead_ids("--queue", "q");
	ck_assert_str_eq(ids, a);
	free(ids);
	/* --all --queue q touches q's jobs only. */
	r = JOBCTL("kick", "--all", "--queue", "q");
	ck_assert_int_eq(r.rc, 0);
	snprintf(want, sizeof want, "kicked 1 job: %s\n", a);
	ck_assert_str_eq(r.out, want);
	result_free(&r);
	r = JOBCTL("wait", a);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	job = get_job(ida);
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 2);
	json_decref(job);
	job = get_job(idb);
	ck_assert_int_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	r = JOBCTL("discard", "--all", "--queue", "q");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "discarded 1 job\n");
	result_free(&r);
	r = JOBCTL("get", a);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
	result_free(&r);
	snprintf(want, sizeof want, "%s %s", b, c);
	ids = dead_ids(NULL, NULL);
	ck_assert_str_eq(ids, want);
	free(ids);
	r = JOBCTL("kick", "--all", "--queue", "q");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "kicked 0 jobs\n");
	result_free(&r);
	/* --all alone: every queue. */
	r = JOBCTL("discard", "--all");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "discarded 2 jobs\n");
	result_free(&r);
	ids = dead_ids(NULL, NULL);
	ck_assert_str_eq(ids, "");
	free(ids);
}
END_TEST

/* A timed-out job is dead too; pages of the dead set, oldest first. */
START_TEST(test_dead_pages)
{
	char a[32], b[32], want[128], *ids;
	long long idb;
	struct result r;
	json_t *job;

	dead_job(a, sizeof a, NULL);
	idb = submit("--timeout", "100ms", "--", "sleep", "30", NULL);
	snprintf(b, sizeof b, "%lld", idb);
	r = JOBCTL("wait", b);
	ck_assert_int_eq(r.rc, 1);
	result_free(&r);
	job = get_job(idb);
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	json_decref(job);
	r = JOBCTL("dead", "--limit", "1");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(strstr(r.out, "sh -c 'exit 3'\n"));
	snprintf(
	    want, sizeof want, "jobctl: more jobs after %s: use --all\n", a);
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	r = JOBCTL("dead", "--all", "--limit", "1");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 3);
	ck_assert_ptr_nonnull(strstr(r.out, " timed_out "));
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	/* A script is told too, on stderr. */
	r = JOBCTL("dead", "--json", "--limit", "1");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(count_lines(r.out), 1);
	snprintf(
	    want, sizeof want, "jobctl: more jobs after %s: use --all\n", a);
	ck_assert_str_eq(r.err, want);
	result_free(&r);
	snprintf(want, sizeof want, "%s %s", a, b);
	ids = dead_ids("--limit", "1");
	ck_assert_str_eq(ids, want);
	free(ids);
}
END_TEST

/* --limit reaches the job; bad values are usage errors; get shows them. */
START_TEST(test_run_limits)
{
	struct result r;
	long long id;
	char buf[32];

	r = JOBCTL("run", "--limit", "nofile=64", "--limit", "as=512M",
	    "--limit", "cpu=1m", "--", "sh", "-c",
	    "ulimit -n; ulimit -v; ulimit -t");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "64\n524288\n60\n");
	result_free(&r);
	id = submit("--limit", "nproc=100", "--", "true", NULL);
	snprintf(buf, sizeof buf, "%lld", id);
	r = JOBCTL("get", buf);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "nproc 100"));
	ck_assert_ptr_nonnull(strstr(r.out, "user:"));
	result_free(&r);
	/* What jobd keeps (run streams all of it). */
	snprintf(buf, sizeof buf, "%lld",
	    submit("--output-cap", "4", "--", "echo", "abcdefgh", NULL));
	r = JOBCTL("wait", buf);
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("logs", buf);
	ck_assert_str_eq(r.out, "abcd");
	result_free(&r);
	r = JOBCTL("run", "--output-cap", "4x", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "--output-cap"));
	result_free(&r);
	r = JOBCTL("run", "--limit", "stack=1", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "--limit"));
	result_free(&r);
	r = JOBCTL("run", "--limit", "as=lots", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "not a number of bytes"));
	result_free(&r);
	r = JOBCTL("run", "--limit", "nofile=1", "--", "true");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "limits.nofile"));
	result_free(&r);
	r = JOBCTL("run", "--kind", "echo", "--limit", "cpu=1s");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "--limit is only for commands"));
	result_free(&r);
	if (geteuid() != 0)
		return;
	/* A queue's user (jobd runs as root here). */
	r = JOBCTL("queue", "set", "svc", "--run-as", "daemon");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("run", "--queue", "svc", "--", "id", "-un");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "daemon\n");
	result_free(&r);
	r = JOBCTL("queue", "set", "svc", "--run-as", "no-such-user");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "run_as"));
	result_free(&r);
	r = JOBCTL("queue", "set", "svc", "--no-run-as");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL(
	    "cron", "add", "d", "@daily", "--user", "daemon", "--", "true");
	ck_assert_int_eq(r.rc, 0);
	result_free(&r);
	r = JOBCTL("--json", "cron", "list");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"user\":\"daemon\""));
	result_free(&r);
}
END_TEST

static Suite *
jobctl_suite(void)
{
	Suite *s = suite_create("jobctl");
	TCase *tc;

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_run_outputs);
	tcase_add_test(tc, test_run_exit_code);
	tcase_add_test(tc, test_run_timeout);
	tcase_add_test(tc, test_run_signal);
	tcase_add_test(tc, test_run_not_found);
	tcase_add_test(tc, test_run_kind);
	tcase_add_test(tc, test_run_retries);
	tcase_add_test(tc, test_run_env);
	tcase_add_test(tc, test_run_cwd);
	tcase_add_test(tc, test_run_stdin);
	tcase_add_test(tc, test_run_limits);
	tcase_add_test(tc, test_run_binary_output);
	tcase_add_test(tc, test_run_interrupt);
	tcase_add_test(tc, test_run_live);
	tcase_add_test(tc, test_key_duplicate);
	tcase_add_test(tc, test_run_pipe_closed);
	suite_add_tcase(s, tc);

	tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_usage_errors);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_not_running);
	tcase_add_test(tc, test_addr_forms);
	tcase_add_test(tc, test_addr_env);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_queue_usage);
	tcase_add_test(tc, test_time_usage);
	tcase_add_test(tc, test_dead_usage);
	suite_add_tcase(s, tc);

	/* Needs jobd's named queues. */
	tc = tcase_create("queues");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_queue_submit_list);
	tcase_add_test(tc, test_queue_pause_resume);
	tcase_add_test(tc, test_queue_drain);
	tcase_add_test(tc, test_queue_clear);
	tcase_add_test(tc, test_queue_limit);
	tcase_add_test(tc, test_queue_priority);
	tcase_add_test(tc, test_queue_set);
	tcase_add_test(tc, test_after);
	tcase_add_test(tc, test_list_filters);
	tcase_add_test(tc, test_cron);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_submit_get);
	tcase_add_test(tc, test_submit_json);
	tcase_add_test(tc, test_wait_codes);
	tcase_add_test(tc, test_logs);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_batch_all_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("narrow");
	tcase_add_checked_fixture(tc, setup_narrow, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cancel_queued);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_watch);
	suite_add_tcase(s, tc);

	/* Needs jobd's delayed jobs (delay_ms, run_at, expires_at). */
	tc = tcase_create("delayed");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_delay_runs_later);
	tcase_add_test(tc, test_run_at_delayed);
	tcase_add_test(tc, test_run_at_forms);
	tcase_add_test(tc, test_expired);
	suite_add_tcase(s, tc);

	/* Needs jobd's dead set (dead, kick, discard). */
	tc = tcase_create("dead");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_dead_kick);
	tcase_add_test(tc, test_dead_discard);
	tcase_add_test(tc, test_dead_all_queue);
	tcase_add_test(tc, test_dead_pages);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(jobctl_suite());
}
