/*
 * check_jobd: the daemon end to end, through its sockets.  Every test starts
 * a real jobd (tests/harness.c) and asserts on its replies.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

#define T 20000 /* ms: deadline for a reply */

static struct harness H;

static void
start(const char *const *extra)
{
	ck_assert_int_eq(harness_start(&H, extra), 0);
}

static void
stop(void)
{
	ck_assert_int_eq(harness_stop(&H), 0);
}

static void
connect_unix(struct client *c)
{
	ck_assert_int_eq(client_unix(c, H.sock), 0);
}

/* Send a request text as is (the caller includes the newline). */
static void
send_line(struct client *c, const char *text)
{
	ck_assert_int_eq(client_send(c, text, strlen(text)), 0);
}

/* Submit one job spec with wait; return the finished job object. */
static json_t *
run_job(struct client *c, const char *spec)
{
	char req[8192];
	json_t *r, *job;

	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"id\":1,\"wait\":true,\"job\":%s}", spec);
	r = call_ok(c, req);
	job = json_incref(json_object_get(r, "job"));
	ck_assert_ptr_nonnull(job);
	json_decref(r);
	return job;
}

static const json_t *
last_attempt(const json_t *job)
{
	const json_t *a = json_object_get(job, "attempts");

	return json_array_get(a, json_array_size(a) - 1);
}

START_TEST(test_hello_ping_both_transports)
{
	struct client u, t;
	json_t *r;

	start(NULL);
	connect_unix(&u);
	ck_assert_int_eq(client_tcp(&t, H.port), 0);
	r = call_ok(&u, "{\"op\":\"hello\",\"id\":\"a\"}");
	ck_assert_str_eq(str(r, "id"), "a");
	ck_assert_str_eq(str(r, "server"), "jobd");
	ck_assert_int_eq(num(r, "protocol"), 1);
	ck_assert_int_eq(num(r, "pid"), H.pid);
	json_decref(r);
	r = call_ok(&t, "{\"op\":\"ping\",\"id\":7}");
	ck_assert_int_eq(num(r, "id"), 7);
	json_decref(r);
	client_close(&u);
	client_close(&t);
	stop();
}
END_TEST

START_TEST(test_echo_and_compute)
{
	struct client c;
	json_t *job, *expect;

	start(NULL);
	connect_unix(&c);
	job = run_job(&c, "{\"kind\":\"echo\",\"args\":{\"x\":[1,2]}}");
	ck_assert_str_eq(str(job, "state"), "succeeded");
	ck_assert_int_eq(
	    json_integer_value(json_array_get(
	        json_object_get(json_object_get(job, "result"), "x"), 1)),
	    2);
	json_decref(job);
	job = run_job(&c, "{\"kind\":\"sort\",\"args\":{\"values\":[3,1,2]}}");
	ck_assert_str_eq(str(job, "state"), "succeeded");
	expect = json_pack("[iii]", 1, 2, 3);
	ck_assert(json_equal(
	    json_object_get(json_object_get(job, "result"), "values"), expect));
	json_decref(expect);
	json_decref(job);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_exec_outcomes)
{
	struct client c;
	json_t *job;

	start(NULL);
	connect_unix(&c);
	job = run_job(&c,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"echo out; echo err "
	    ">&2\"]}");
	ck_assert_str_eq(str(job, "state"), "succeeded");
	ck_assert_int_eq(num(job, "exit_code"), 0);
	ck_assert_str_eq(str(job, "stdout"), "out\n");
	ck_assert_str_eq(str(job, "stderr"), "err\n");
	ck_assert(json_is_array(json_object_get(job, "attempts")));
	json_decref(job);

	job = run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"exit "
	                  "3\"]}");
	ck_assert_str_eq(str(job, "state"), "failed");
	ck_assert_int_eq(num(job, "exit_code"), 3);
	ck_assert_str_eq(str(last_attempt(job), "outcome"), "failed");
	json_decref(job);

	job = run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"kill "
	                  "-9 $$\"]}");
	ck_assert_str_eq(str(job, "state"), "failed");
	ck_assert_int_eq(num(job, "signal"), 9);
	ck_assert_str_eq(str(last_attempt(job), "outcome"), "signaled");
	json_decref(job);

	job = run_job(
	    &c, "{\"kind\":\"exec\",\"argv\":[\"no-such-program-xyz\"]}");
	ck_assert_str_eq(str(job, "state"), "failed");
	ck_assert_str_eq(str(last_attempt(job), "outcome"), "spawn_failed");
	ck_assert_int_eq(num(last_attempt(job), "exit_code"), 127);
	ck_assert_ptr_nonnull(strstr(str(job, "error"), "no-such-program-xyz"));
	json_decref(job);

	/* env, cwd and stdin reach the process; JOBD_JOB_ID is set, and
	 * jobd's, whatever the spec says. */
	job = run_job(&c,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"echo $FOO $PWD; "
	    "cat; echo $JOBD_JOB_ID $JOBD_ATTEMPT\"],\"env\":{\"FOO\":\"bar\","
	    "\"JOBD_JOB_ID\":\"77\",\"JOBD_ATTEMPT\":\"9\"},\"cwd\":\"/"
	    "tmp\",\"stdin\":\"in\\n\"}");
	ck_assert_str_eq(str(job, "stdout"), "bar /tmp\nin\n5 1\n");
	json_decref(job);
	client_close(&c);
	stop();
}
END_TEST

/* Wait until pid (our child by the subreaper rule) exits; its status. */
static int
reap(pid_t pid)
{
	struct pollfd pfd = {pidfd_open(pid, 0), POLLIN, 0};
	int status = -1;

	ck_assert_int_ge(pfd.fd, 0);
	ck_assert_int_eq(poll(&pfd, 1, T), 1);
	close(pfd.fd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

START_TEST(test_timeout_kills_process_group)
{
	struct client c;
	json_t *job;
	int status;
	pid_t grandchild;

	/* Orphans of jobd's jobs become our children: we can reap them. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	start(NULL);
	connect_unix(&c);
	job = run_job(&c,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"sleep 300 & echo "
	    "$!; wait\"],\"timeout_ms\":300,\"kill_grace_ms\":2000}");
	ck_assert_str_eq(str(job, "state"), "timed_out");
	ck_assert_str_eq(str(last_attempt(job), "outcome"), "timed_out");
	grandchild = (pid_t)atoi(str(job, "stdout"));
	ck_assert_int_gt(grandchild, 1);
	status = reap(grandchild);
	ck_assert(WIFSIGNALED(status));
	ck_assert(WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL);
	json_decref(job);

	/* A process that ignores SIGTERM gets SIGKILL after the grace. */
	job = run_job(&c,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"trap '' TERM; "
	    "echo ready; while :; do :; done\"],\"timeout_ms\":200,"
	    "\"kill_grace_ms\":200}");
	ck_assert_str_eq(str(job, "state"), "timed_out");
	ck_assert_int_eq(num(last_attempt(job), "signal"), SIGKILL);
	json_decref(job);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_retries_follow_policy)
{
	const json_t *attempts, *a, *b;
	struct client c;
	json_t *job, *ended, *started;
	size_t i;

	start(NULL);
	connect_unix(&c);
	job =
	    run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"false\"],\"retries\":2,"
	                "\"retry\":{\"backoff\":\"fixed\",\"base_ms\":150,"
	                "\"jitter\":false}}");
	ck_assert_str_eq(str(job, "state"), "failed");
	attempts = json_object_get(job, "attempts");
	ck_assert_uint_eq(json_array_size(attempts), 3);
	for (i = 0; i + 1 < 3; i++) {
		a = json_array_get(attempts, i);
		b = json_array_get(attempts, i + 1);
		ck_assert_str_eq(str(a, "outcome"), "failed");
		/* Times are RFC 3339 with ms: compare as text-parsed ms. */
		ended = json_object_get(a, "ended_at");
		started = json_object_get(b, "started_at");
		int eh, em, es, ems, sh, sm, ss, sms;
		sscanf(json_string_value(ended) + 11, "%d:%d:%d.%d", &eh, &em,
		    &es, &ems);
		sscanf(json_string_value(started) + 11, "%d:%d:%d.%d", &sh, &sm,
		    &ss, &sms);
		long gap = ((sh * 60 + sm) * 60 + ss) * 1000L + sms -
		           (((eh * 60 + em) * 60 + es) * 1000L + ems);
		if (gap < 0)
			gap += 24L * 3600 * 1000; /* midnight */
		ck_assert_int_ge(gap, 150);
	}
	json_decref(job);

	/* A success stops the retries: one attempt. */
	job = run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"true\"],"
	                  "\"retries\":5}");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	/* "on" restricts what is retried: a timeout only. */
	job =
	    run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"false\"],\"retries\":3,"
	                "\"retry\":{\"on\":[\"timed_out\"],\"base_ms\":1}}");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_cancel_queued_and_running)
{
	static const char *const extra[] = {"--max-running", "1", NULL};
	struct client c, w;
	json_t *r, *job;

	start(extra);
	connect_unix(&c);
	connect_unix(&w);
	r = call_ok(&c, "{\"op\":\"submit\",\"id\":1,\"jobs\":["
	                "{\"kind\":\"exec\",\"argv\":[\"sleep\",\"30\"]},"
	                "{\"kind\":\"echo\"}]}");
	json_decref(r);
	/* Job 2 waits behind job 1: cancel it at once. */
	r = call_ok(&c, "{\"op\":\"cancel\",\"id\":2,\"job\":2}");
	ck_assert(json_is_true(
	    json_object_get(json_object_get(r, "job"), "cancelled")));
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "cancelled");
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"get\",\"id\":3,\"job\":2}");
	ck_assert_uint_eq(json_array_size(json_object_get(
	                      json_object_get(r, "job"), "attempts")),
	    0);
	json_decref(r);
	/* Job 1 runs: cancel stops it; a waiter sees the end. */
	send_line(&w, "{\"op\":\"wait\",\"id\":9,\"job\":1}\n");
	r = call_ok(&c, "{\"op\":\"cancel\",\"id\":4,\"job\":1}");
	json_decref(r);
	r = client_reply(&w, T);
	ck_assert_ptr_nonnull(r);
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "cancelled");
	ck_assert_str_eq(str(last_attempt(job), "outcome"), "cancelled");
	json_decref(r);
	/* Cancelling a finished job changes nothing. */
	r = call_ok(&c, "{\"op\":\"cancel\",\"id\":5,\"job\":1}");
	ck_assert(json_is_false(
	    json_object_get(json_object_get(r, "job"), "cancelled")));
	json_decref(r);
	client_close(&c);
	client_close(&w);
	stop();
}
END_TEST

/* A list request's ids ("1 2") and its "older" cursor (NULL: none). */
static void
list_is(struct client *c, const char *req, const char *ids, const char *older)
{
	json_t *r = call_ok(c, req), *job, *cursor;
	char got[256] = "", num_text[32];
	size_t i;

	json_array_foreach(json_object_get(r, "jobs"), i, job)
	{
		snprintf(num_text, sizeof num_text, "%s%lld", i > 0 ? " " : "",
		    (long long)num(job, "id"));
		strncat(got, num_text, sizeof got - strlen(got) - 1);
	}
	ck_assert_str_eq(got, ids);
	cursor = json_object_get(r, "older");
	if (older == NULL)
		ck_assert(cursor == NULL || json_is_null(cursor));
	else
		ck_assert_int_eq(json_integer_value(cursor), atoll(older));
	json_decref(r);
}

START_TEST(test_wait_get_list_logs_stats)
{
	static const char *const extra[] = {"--max-running", "1", NULL};
	struct client c;
	json_t *r, *jobs;

	start(extra);
	connect_unix(&c);
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"jobs\":["
	                        "{\"kind\":\"sleep\",\"args\":{\"ms\":60000}},"
	                        "{\"kind\":\"exec\",\"argv\":[\"echo\",\"hi\"]}"
	                        "]}"));
	/* A wait that times out replies ok with the current states. */
	r = call_ok(&c, "{\"op\":\"wait\",\"jobs\":[1,2],\"timeout_ms\":50}");
	ck_assert(json_is_true(json_object_get(r, "timed_out")));
	jobs = json_object_get(r, "jobs");
	ck_assert_str_eq(str(json_array_get(jobs, 0), "state"), "running");
	ck_assert_str_eq(str(json_array_get(jobs, 1), "state"), "queued");
	json_decref(r);
	list_is(&c, "{\"op\":\"list\",\"state\":\"queued\"}", "2", NULL);
	json_decref(call_ok(&c, "{\"op\":\"cancel\",\"job\":1}"));
	r = call_ok(&c, "{\"op\":\"wait\",\"job\":2}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), "hi\n");
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"logs\",\"job\":2}");
	ck_assert_str_eq(str(r, "stdout"), "hi\n");
	ck_assert_str_eq(str(r, "stderr"), "");
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"list\",\"limit\":1}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	ck_assert_int_eq(num(r, "next"), 1);
	json_decref(r);
	/* From the newest end: job 2, then job 1 before it, then none. */
	list_is(&c, "{\"op\":\"list\",\"limit\":1,\"newest\":true}", "2", "2");
	list_is(&c,
	    "{\"op\":\"list\",\"limit\":5,\"newest\":true,\"before\":2}", "1",
	    NULL);
	list_is(&c, "{\"op\":\"list\",\"newest\":true}", "1 2", NULL);
	call_err(&c, "{\"op\":\"list\",\"newest\":\"yes\"}", "bad_request");
	call_err(&c, "{\"op\":\"list\",\"before\":-1}", "out_of_range");
	r = call_ok(&c, "{\"op\":\"stats\"}");
	ck_assert_int_eq(
	    num(json_object_get(json_object_get(r, "stats"), "counters"),
	        "jobs_submitted"),
	    2);
	ck_assert_int_eq(
	    num(json_object_get(json_object_get(r, "stats"), "counters"),
	        "jobs_cancelled"),
	    1);
	ck_assert_int_eq(
	    num(json_object_get(json_object_get(r, "stats"), "gauges"),
	        "conns_current"),
	    1);
	json_decref(r);
	call_err(&c, "{\"op\":\"get\",\"job\":99}", "not_found");
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_watch_events)
{
	struct client c, w;
	json_t *ev;
	const char *want[] = {"queued", "started", "finished"};
	int i;

	start(NULL);
	connect_unix(&c);
	connect_unix(&w);
	json_decref(call_ok(
	    &w, "{\"op\":\"watch\",\"id\":\"w\",\"queue\":\"default\"}"));
	/* A job of another queue is not this watcher's business. */
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{"
	                        "\"kind\":\"echo\",\"queue\":\"other\"}}"));
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":"
	                        "\"echo\"}}"));
	for (i = 0; i < 3; i++) {
		ev = client_reply(&w, T);
		ck_assert_ptr_nonnull(ev);
		ck_assert_str_eq(str(ev, "id"), "w");
		ck_assert_str_eq(str(ev, "event"), want[i]);
		ck_assert_int_eq(num(json_object_get(ev, "job"), "id"), 2);
		ck_assert(json_is_string(json_object_get(ev, "time")));
		json_decref(ev);
	}
	client_close(&c);
	client_close(&w);
	stop();
}
END_TEST

START_TEST(test_bad_input)
{
	static const char *const extra[] = {"--max-line", "4096", NULL};
	static const struct {
		const char *line;
		const char *code;
	} cases[] = {
	    {"this is not json", "bad_json"},
	    {"{\"op\":\"ping\"", "bad_json"},
	    {"[1,2]", "bad_request"},
	    {"{\"id\":1}", "bad_request"},
	    {"{\"op\":5}", "bad_request"},
	    {"{\"op\":\"frobnicate\"}", "unknown_op"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"teleport\"}}",
	        "unknown_kind"},
	    {"{\"op\":\"submit\",\"job\":{}}", "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"exec\"}}", "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[1]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"timeout_ms\":\"soon\"}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"timeout_ms\":-5}}",
	        "out_of_range"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"retries\":100000}}",
	        "out_of_range"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"colour\":1}}",
	        "bad_request"},
	    {"{\"op\":\"get\",\"job\":\"x\"}", "bad_request"},
	    {"{\"op\":\"wait\",\"job\":1,\"timeout_ms\":true}", "bad_request"},
	    {"{\"op\":\"list\",\"state\":\"sleepy\"}", "bad_request"},
	    {"{\"op\":\"ping\",\"x\":\"\xff\"}", "bad_utf8"},
	    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]"
	     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	        "too_deep"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"sum\",\"args\":"
	     "{\"values\":[1,\"two\"]}}}",
	        "bad_request"},
	};
	struct client c, other;
	json_t *job;
	char *big;
	size_t i;

	start(extra);
	connect_unix(&c);
	connect_unix(&other);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		call_err(&c, cases[i].line, cases[i].code);
		/* The connection stays usable after every error. */
		json_decref(call_ok(&c, "{\"op\":\"ping\"}"));
	}
	/* An unknown field is named, with a guess at what was meant. */
	job = client_call(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":"
	                      "\"echo\"},{\"kind\":\"echo\",\"timeout\":5}]}");
	ck_assert_str_eq(str(json_object_get(job, "error"), "message"),
	    "jobs[1]: unknown field \"timeout\" (did you mean "
	    "\"timeout_ms\"?)");
	json_decref(job);
	job = client_call(&c, "{\"op\":\"submit\",\"job\":{\"kind\":"
	                      "\"echo\",\"colour\":1}}");
	ck_assert_str_eq(str(json_object_get(job, "error"), "message"),
	    "job: unknown field \"colour\"");
	json_decref(job);
	/* A program that does not exist is a failed job, not a bad request. */
	job = run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"/nonexistent\"]}");
	ck_assert_str_eq(str(last_attempt(job), "outcome"), "spawn_failed");
	json_decref(job);
	/* An oversized line: an error, then the connection closes. */
	big = malloc(10000);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	call_err(&c, big, "line_too_long");
	ck_assert_ptr_null(client_line(&c, T));
	free(big);
	/* Nobody else noticed. */
	json_decref(call_ok(&other, "{\"op\":\"ping\"}"));
	client_close(&c);
	client_close(&other);
	stop();
}
END_TEST

struct concurrent_arg {
	const char *sock;
	int index;
	int ok;
};

static void *
concurrent_client(void *arg)
{
	struct concurrent_arg *ca = arg;
	struct client c;
	char req[256];
	json_t *r;

	if (client_unix(&c, ca->sock) != 0)
		return NULL;
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"id\":%d,\"wait\":true,\"job\":{\"kind\":"
	    "\"echo\",\"args\":%d}}",
	    ca->index, ca->index);
	r = client_call(&c, req);
	ca->ok = r != NULL &&
	         json_integer_value(json_object_get(r, "id")) == ca->index &&
	         json_integer_value(json_object_get(
	             json_object_get(r, "job"), "result")) == ca->index;
	json_decref(r);
	client_close(&c);
	return NULL;
}

START_TEST(test_hundred_clients)
{
	struct concurrent_arg args[100];
	pthread_t th[100];
	int i;

	start(NULL);
	for (i = 0; i < 100; i++) {
		args[i] = (struct concurrent_arg){H.sock, i + 1, 0};
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, concurrent_client, &args[i]),
		    0);
	}
	for (i = 0; i < 100; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(args[i].ok, "client %d", i + 1);
	}
	stop();
}
END_TEST

struct writer_arg {
	struct client *c;
	int n;
};

static void *
pipeline_writer(void *arg)
{
	struct writer_arg *wa = arg;
	char req[160];
	int i, len;

	for (i = 1; i <= wa->n; i++) {
		len = snprintf(req, sizeof req,
		    "{\"op\":\"submit\",\"id\":%d,\"wait\":true,\"job\":{"
		    "\"kind\":\"echo\",\"args\":%d}}\n",
		    i, i);
		if (client_send(wa->c, req, (size_t)len) != 0)
			break;
	}
	return NULL;
}

START_TEST(test_pipelined_10k)
{
	struct client c;
	struct writer_arg wa;
	pthread_t th;
	char *seen;
	json_t *r;
	int i, id;

	start(NULL);
	connect_unix(&c);
	wa = (struct writer_arg){&c, 10000};
	seen = calloc(10001, 1);
	ck_assert_int_eq(pthread_create(&th, NULL, pipeline_writer, &wa), 0);
	for (i = 0; i < 10000; i++) {
		r = client_reply(&c, T);
		ck_assert_ptr_nonnull(r);
		id = (int)num(r, "id");
		ck_assert(id >= 1 && id <= 10000 && !seen[id]);
		ck_assert_int_eq(json_integer_value(json_object_get(
		                     json_object_get(r, "job"), "result")),
		    id);
		seen[id] = 1;
		json_decref(r);
	}
	pthread_join(th, NULL);
	free(seen);
	client_close(&c);
	stop();
}
END_TEST

/* Stats counter `name` of a running jobd, asked through client c. */
/*
 * A client that pipelines without reading its replies stops being read
 * (its backlog is capped); everyone else is served meanwhile; once it
 * reads, it gets every reply.
 */
START_TEST(test_backpressure)
{
	struct client slow, other;
	struct writer_arg wa;
	pthread_t th;
	json_t *r;
	int i, tries = 0;

	start(NULL);
	connect_unix(&slow);
	connect_unix(&other);
	wa = (struct writer_arg){&slow, 60000};
	ck_assert_int_eq(pthread_create(&th, NULL, pipeline_writer, &wa), 0);
	while (counter_of(&other, "backpressure_pauses") == 0) {
		ck_assert_msg(++tries < 100000, "jobd never paused the client");
		json_decref(call_ok(&other, "{\"op\":\"ping\"}"));
	}
	json_decref(call_ok(&other, "{\"op\":\"submit\",\"wait\":true,"
	                            "\"job\":{\"kind\":\"echo\"}}"));
	for (i = 0; i < 60000; i++) {
		r = client_reply(&slow, T);
		ck_assert_msg(r != NULL, "reply %d missing", i);
		json_decref(r);
	}
	pthread_join(th, NULL);
	client_close(&slow);
	client_close(&other);
	stop();
}
END_TEST

START_TEST(test_queue_full)
{
	static const char *const extra[] = {
	    "--max-running", "1", "--max-queued", "2", NULL};
	struct client c;

	start(extra);
	connect_unix(&c);
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":"
	                        "\"sleep\",\"args\":{\"ms\":60000}}}"));
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":"
	                        "\"echo\"},{\"kind\":\"echo\"}]}"));
	call_err(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\"}}",
	    "queue_full");
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_sigterm_interrupts_running)
{
	static const char *const extra[] = {"--shutdown-grace", "100ms", NULL};
	struct client c, w;
	json_t *r, *ev;

	start(extra);
	connect_unix(&c);
	connect_unix(&w);
	json_decref(call_ok(&w, "{\"op\":\"watch\"}"));
	send_line(&c,
	    "{\"op\":\"submit\",\"id\":1,\"wait\":true,\"job\":{\"kind\":"
	    "\"exec\",\"argv\":[\"sleep\",\"30\"]}}\n");
	/* Wait for "started" before stopping jobd. */
	do {
		ev = client_reply(&w, T);
		ck_assert_ptr_nonnull(ev);
	} while (
	    strcmp(str(ev, "event"), "started") != 0 && (json_decref(ev), 1));
	json_decref(ev);
	kill(H.pid, SIGTERM);
	/* The job did not fail: it is back in its queue, for the next jobd
	 * (check_durability), and the wait says it did not finish. */
	r = client_reply(&c, T);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(reply_error_code(r), "shutting_down");
	ck_assert_ptr_nonnull(
	    strstr(str(json_object_get(r, "error"), "message"),
	        "1 of the 1 job(s) waited for did not finish"));
	json_decref(r);
	/* Back in its queue, and so announced. */
	do {
		ev = client_reply(&w, T);
		ck_assert_ptr_nonnull(ev);
	} while (
	    strcmp(str(ev, "event"), "queued") != 0 && (json_decref(ev), 1));
	ck_assert_str_eq(str(json_object_get(ev, "job"), "state"), "queued");
	json_decref(ev);
	client_close(&c);
	client_close(&w);
	ck_assert_int_eq(harness_wait(&H), 0);
}
END_TEST

/* Retention never frees a job a request is still working on. */
START_TEST(test_retention_during_requests)
{
	static const char *const extra[] = {
	    "--retain-count", "1", "--max-running", "1", NULL};
	struct client c;
	json_t *r;

	start(extra);
	connect_unix(&c);
	json_decref(run_job(&c, "{\"kind\":\"echo\"}"));
	json_decref(run_job(&c, "{\"kind\":\"echo\"}"));
	/* Three spawn failures in one submit: each finishes (and would
	 * prune) while the submit still renders them all. */
	r = call_ok(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":\"exec\","
	                "\"argv\":[\"/nonexistent/a\"]},{\"kind\":\"exec\","
	                "\"argv\":[\"/nonexistent/b\"]},{\"kind\":\"exec\","
	                "\"argv\":[\"/nonexistent/c\"]}]}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 3);
	json_decref(r);
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":"
	                        "\"sleep\",\"args\":{\"ms\":60000}},{\"kind\":"
	                        "\"sleep\",\"args\":{\"ms\":60000}}]}"));
	/* Cancelling job 7 (queued) finishes it while 5 is in the same
	 * request; 5 may be pruned, but only after the reply. */
	r = call_ok(&c, "{\"op\":\"cancel\",\"jobs\":[7,5]}");
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "jobs"), 0), "state"),
	    "cancelled");
	json_decref(r);
	json_decref(call_ok(&c, "{\"op\":\"ping\"}"));
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_duplicate_ids_refused)
{
	struct client c;

	start(NULL);
	connect_unix(&c);
	json_decref(run_job(&c, "{\"kind\":\"echo\"}"));
	call_err(&c, "{\"op\":\"get\",\"jobs\":[1,1]}", "bad_request");
	call_err(&c, "{\"op\":\"wait\",\"jobs\":[1,2,1]}", "bad_request");
	client_close(&c);
	stop();
}
END_TEST

/* Wait (bounded) until jobd counts n open connections. */
static bool
wait_conns(struct client *c, json_int_t n)
{
	json_t *r;
	json_int_t now;
	int tries;

	for (tries = 0; tries < 100000; tries++) {
		r = call_ok(c, "{\"op\":\"stats\"}");
		now =
		    num(json_object_get(json_object_get(r, "stats"), "gauges"),
		        "conns_current");
		json_decref(r);
		if (now == n)
			return true;
	}
	return false;
}

/* A client that half-closes gets its owed reply, then jobd closes. */
START_TEST(test_half_close_after_wait)
{
	struct client c, other;
	json_t *r;

	start(NULL);
	connect_unix(&c);
	connect_unix(&other);
	send_line(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{"
	              "\"kind\":\"sleep\",\"args\":{\"ms\":200}}}\n");
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	r = client_reply(&c, T);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	json_decref(r);
	ck_assert(wait_conns(&other, 1));
	client_close(&c);
	client_close(&other);
	stop();
}
END_TEST

/* Stopping: pending waits are answered; many running jobs all stop. */
START_TEST(test_stop_answers_waits)
{
	static const char *const extra[] = {"--max-running", "50",
	    "--retain-count", "0", "--shutdown-grace", "200ms", NULL};
	char spec[4096];
	struct client c, w;
	json_t *r;
	size_t len = 0;
	int i;

	start(extra);
	connect_unix(&c);
	connect_unix(&w);
	len += (size_t)snprintf(
	    spec, sizeof spec, "{\"op\":\"submit\",\"jobs\":[");
	for (i = 0; i < 51; i++)
		len += (size_t)snprintf(spec + len, sizeof spec - len,
		    "%s{\"kind\":\"sleep\",\"args\":{\"ms\":60000}}",
		    i > 0 ? "," : "");
	snprintf(spec + len, sizeof spec - len, "]}");
	json_decref(call_ok(&c, spec));
	/* Job 51 is queued behind the 50 running ones. */
	send_line(&w, "{\"op\":\"wait\",\"id\":3,\"job\":51}\n");
	json_decref(call_ok(&c, "{\"op\":\"ping\"}"));
	kill(H.pid, SIGTERM);
	r = client_reply(&w, T);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(num(r, "id"), 3);
	ck_assert_pstr_eq(reply_error_code(r), "shutting_down");
	json_decref(r);
	client_close(&c);
	client_close(&w);
	/* All 50 sleeps were stopped within the deadline: a clean exit. */
	ck_assert_int_eq(harness_wait(&H), 0);
}
END_TEST

/* A cancel during the shutdown grace is answered, and a second SIGTERM
 * ends the grace at once. */
START_TEST(test_cancel_and_signal_during_grace)
{
	static const char *const extra[] = {"--shutdown-grace", "30s", NULL};
	struct client c;
	json_t *r;

	start(extra);
	connect_unix(&c);
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":"
	                        "\"sleep\",\"args\":{\"ms\":60000}},{\"kind\":"
	                        "\"sleep\",\"args\":{\"ms\":60000}}]}"));
	kill(H.pid, SIGTERM);
	ck_assert(harness_log_wait(&H, "waiting up to"));
	r = call_ok(&c, "{\"op\":\"cancel\",\"job\":1}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "cancelled");
	json_decref(r);
	kill(H.pid, SIGTERM);
	ck_assert(harness_log_wait(&H, "stopped"));
	client_close(&c);
	ck_assert_int_eq(harness_wait(&H), 0);
}
END_TEST

/* Priorities: lower first, FIFO within one, across queues. */
START_TEST(test_queue_priorities)
{
	static const char *const extra[] = {"--max-running", "1", NULL};
	static const json_int_t order[] = {3, 5, 4, 2};
	struct client c, w;
	json_t *ev;
	int i;

	start(extra);
	connect_unix(&c);
	connect_unix(&w);
	json_decref(call_ok(&w, "{\"op\":\"watch\"}"));
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"jobs\":["
	                        "{\"kind\":\"sleep\",\"args\":{\"ms\":60000}},"
	                        "{\"kind\":\"echo\",\"priority\":500},"
	                        "{\"kind\":\"echo\",\"priority\":10,"
	                        "\"queue\":\"other\"},"
	                        "{\"kind\":\"echo\"},"
	                        "{\"kind\":\"echo\",\"priority\":10}]}"));
	json_decref(call_ok(&c, "{\"op\":\"cancel\",\"job\":1}"));
	for (i = 0; i < 4;) {
		ev = client_reply(&w, T);
		ck_assert_ptr_nonnull(ev);
		if (strcmp(str(ev, "event"), "started") == 0 &&
		    num(json_object_get(ev, "job"), "id") != 1) {
			ck_assert_int_eq(
			    num(json_object_get(ev, "job"), "id"), order[i]);
			i++;
		}
		json_decref(ev);
	}
	client_close(&c);
	client_close(&w);
	stop();
}
END_TEST

static json_t *
find_queue(json_t *reply, const char *name)
{
	json_t *q;
	size_t i;

	json_array_foreach(json_object_get(reply, "queues"), i, q)
	{
		if (strcmp(str(q, "name"), name) == 0)
			return q;
	}
	return NULL;
}

/* Per-queue limits, pause/resume, drain, clear, listing by queue. */
START_TEST(test_queue_control)
{
	struct client c;
	json_t *r, *q;

	start(NULL);
	connect_unix(&c);
	r = call_ok(&c, "{\"op\":\"queue\",\"action\":\"set\",\"name\":"
	                "\"one\",\"concurrency\":1}");
	ck_assert_int_eq(num(json_object_get(r, "queue"), "concurrency"), 1);
	json_decref(r);
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"jobs\":["
	                        "{\"kind\":\"sleep\",\"queue\":\"one\","
	                        "\"args\":{\"ms\":60000}},"
	                        "{\"kind\":\"sleep\",\"queue\":\"one\","
	                        "\"args\":{\"ms\":60000}},"
	                        "{\"kind\":\"sleep\",\"queue\":\"one\","
	                        "\"args\":{\"ms\":60000}}]}"));
	r = call_ok(&c, "{\"op\":\"queue\",\"action\":\"list\"}");
	q = find_queue(r, "one");
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(num(q, "running"), 1);
	ck_assert_int_eq(num(q, "depth"), 2);
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"list\",\"queue\":\"one\",\"state\":"
	                "\"queued\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 2);
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"queue\",\"action\":\"clear\","
	                "\"name\":\"one\"}");
	ck_assert_int_eq(num(r, "cleared"), 2);
	ck_assert_int_eq(num(json_object_get(r, "queue"), "cancelled"), 2);
	json_decref(r);

	/* Paused: nothing starts until resumed. */
	json_decref(call_ok(&c, "{\"op\":\"queue\",\"action\":\"pause\","
	                        "\"name\":\"p\"}"));
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":"
	                        "\"echo\",\"queue\":\"p\"}}"));
	r = call_ok(&c, "{\"op\":\"wait\",\"job\":4,\"timeout_ms\":50}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "queued");
	json_decref(r);
	json_decref(call_ok(&c, "{\"op\":\"queue\",\"action\":\"resume\","
	                        "\"name\":\"p\"}"));
	r = call_ok(&c, "{\"op\":\"wait\",\"job\":4}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	ck_assert_str_eq(str(json_object_get(r, "job"), "queue"), "p");
	json_decref(r);

	/* Draining: no new jobs until resumed. */
	json_decref(call_ok(&c, "{\"op\":\"queue\",\"action\":\"drain\","
	                        "\"name\":\"d\"}"));
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"queue\":"
	    "\"d\"}}",
	    "queue_draining");
	json_decref(call_ok(&c, "{\"op\":\"queue\",\"action\":\"resume\","
	                        "\"name\":\"d\"}"));
	json_decref(run_job(&c, "{\"kind\":\"echo\",\"queue\":\"d\"}"));

	/* Bad input. */
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"queue\":"
	    "\"no spaces\"}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"priority\":1001}}",
	    "out_of_range");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"priority\":-1}}",
	    "out_of_range");
	call_err(&c, "{\"op\":\"queue\"}", "bad_request");
	call_err(&c,
	    "{\"op\":\"queue\",\"action\":\"explode\",\"name\":"
	    "\"x\"}",
	    "bad_request");
	call_err(&c, "{\"op\":\"queue\",\"action\":\"pause\"}", "bad_request");
	call_err(&c,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":"
	    "\"x\",\"concurrency\":-3}",
	    "out_of_range");
	client_close(&c);
	stop();
}
END_TEST

/* RFC 3339 UTC text for now + ms. */
static void
rfc3339_in(char *buf, size_t len, long ms)
{
	struct timespec ts;
	struct tm tm;
	time_t secs;
	long msec;

	clock_gettime(CLOCK_REALTIME, &ts);
	msec = (long)(ts.tv_nsec / 1000000) + ms;
	secs = ts.tv_sec + msec / 1000;
	msec %= 1000;
	if (msec < 0) {
		msec += 1000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, msec);
}

/* Milliseconds of the day of an RFC 3339 UTC time (for gaps < 1 day). */
static long
ms_of_day(const char *t)
{
	int h, m, s, ms;

	ck_assert_int_eq(sscanf(t + 11, "%d:%d:%d.%d", &h, &m, &s, &ms), 4);
	return ((h * 60L + m) * 60 + s) * 1000 + ms;
}

START_TEST(test_delayed_and_expiring_jobs)
{
	char req[512], at[64];
	struct client c;
	json_t *r, *job;
	long gap;

	start(NULL);
	connect_unix(&c);
	/* delay_ms: delayed, with run_at, then run no earlier. */
	r = call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	                "\"delay_ms\":300}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "delayed");
	ck_assert(json_is_string(
	    json_object_get(json_object_get(r, "job"), "run_at")));
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"wait\",\"job\":1}");
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "succeeded");
	gap = ms_of_day(str(json_array_get(json_object_get(job, "attempts"), 0),
	          "started_at")) -
	      ms_of_day(str(job, "submitted_at"));
	if (gap < 0)
		gap += 24L * 3600 * 1000;
	ck_assert_int_ge(gap, 300);
	json_decref(r);

	/* run_at in the future works like a delay. */
	rfc3339_in(at, sizeof at, 200);
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"echo\",\"run_at\":\"%s\"}}",
	    at);
	r = call_ok(&c, req);
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	json_decref(r);

	/* An expiry before the job may run is a mistake. */
	rfc3339_in(at, sizeof at, 300);
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"echo\",\"delay_ms\":10000,\"expires_at\":\"%s\"}}",
	    at);
	call_err(&c, req, "out_of_range");
	/* Not started by expires_at (its queue is paused): expired. */
	json_decref(call_ok(&c, "{\"op\":\"queue\",\"action\":\"pause\","
	                        "\"name\":\"held\"}"));
	rfc3339_in(at, sizeof at, 300);
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"echo\",\"queue\":\"held\",\"expires_at\":\"%s\"}}",
	    at);
	r = call_ok(&c, req);
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "expired");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 0);
	json_decref(r);
	ck_assert_int_eq(counter_of(&c, "jobs_expired"), 1);

	/* Bad times. */
	rfc3339_in(at, sizeof at, -60000);
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"run_at\":"
	    "\"%s\"}}",
	    at);
	call_err(&c, req, "out_of_range");
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"expires_at\":\"%s\"}}",
	    at);
	call_err(&c, req, "out_of_range");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"run_at\":"
	    "\"tomorrow\"}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"run_at\":"
	    "\"2030-13-01T00:00:00Z\"}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"delay_ms\":5,\"run_at\":\"2030-01-01T00:00:00Z\"}}",
	    "bad_request");
	client_close(&c);
	stop();
}
END_TEST

/* The dead set: list, kick (fresh budget, history kept), discard. */
START_TEST(test_dead_kick_discard)
{
	struct client c;
	json_t *r, *job;

	start(NULL);
	connect_unix(&c);
	job = run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"false\"],"
	                  "\"retries\":1,\"retry\":{\"base_ms\":1,"
	                  "\"jitter\":false}}");
	ck_assert_str_eq(str(job, "state"), "failed");
	json_decref(job);
	json_decref(run_job(&c, "{\"kind\":\"echo\"}"));
	json_decref(run_job(&c, "{\"kind\":\"exec\",\"argv\":[\"false\"],"
	                        "\"queue\":\"q\"}"));
	r = call_ok(&c, "{\"op\":\"dead\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 2);
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"dead\",\"queue\":\"q\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	ck_assert_int_eq(
	    num(json_array_get(json_object_get(r, "jobs"), 0), "id"), 3);
	json_decref(r);

	/* Kick job 1: two more attempts (its retries again), four in all. */
	r = call_ok(&c, "{\"op\":\"kick\",\"jobs\":[1,2]}");
	ck_assert_int_eq(num(r, "kicked"), 1); /* 2 succeeded: not dead */
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"wait\",\"job\":1}");
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "failed");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 4);
	json_decref(r);
	ck_assert_int_eq(counter_of(&c, "jobs_kicked"), 1);

	/* Discard every dead job of queue q. */
	r = call_ok(&c, "{\"op\":\"discard\",\"all\":true,\"queue\":\"q\"}");
	ck_assert_int_eq(num(r, "discarded"), 1);
	json_decref(r);
	call_err(&c, "{\"op\":\"get\",\"job\":3}", "not_found");
	r = call_ok(&c, "{\"op\":\"dead\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	json_decref(r);

	/* Bad input. */
	call_err(&c, "{\"op\":\"kick\"}", "bad_request");
	call_err(&c, "{\"op\":\"kick\",\"job\":1,\"all\":true}", "bad_request");
	call_err(&c, "{\"op\":\"discard\",\"job\":99}", "not_found");
	call_err(&c, "{\"op\":\"discard\",\"job\":1,\"queue\":\"q\"}",
	    "bad_request");
	call_err(&c, "{\"op\":\"dead\",\"state\":\"failed\"}", "bad_request");
	client_close(&c);
	stop();
}
END_TEST

/* Unique keys: a submit matching an unfinished job returns that job. */
START_TEST(test_unique_keys)
{
	static const char *const extra[] = {"--max-running", "1", NULL};
	struct client c;
	json_t *r, *jobs;

	start(extra);
	connect_unix(&c);
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":"
	                        "\"sleep\",\"args\":{\"ms\":60000}}}"));
	r = call_ok(&c, "{\"op\":\"submit\",\"jobs\":["
	                "{\"kind\":\"echo\",\"key\":\"nightly\"},"
	                "{\"kind\":\"echo\",\"key\":\"nightly\"},"
	                "{\"kind\":\"echo\",\"key\":\"other\"}]}");
	jobs = json_object_get(r, "jobs");
	ck_assert_int_eq(num(json_array_get(jobs, 0), "id"), 2);
	ck_assert_int_eq(num(json_array_get(jobs, 1), "id"), 2);
	ck_assert(json_is_true(
	    json_object_get(json_array_get(jobs, 1), "duplicate")));
	ck_assert_ptr_null(
	    json_object_get(json_array_get(jobs, 0), "duplicate"));
	ck_assert_int_eq(num(json_array_get(jobs, 2), "id"), 3);
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	                "\"key\":\"nightly\"}}");
	ck_assert_int_eq(num(json_object_get(r, "job"), "id"), 2);
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"list\",\"key\":\"nightly\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	json_decref(r);
	ck_assert_int_eq(counter_of(&c, "jobs_deduplicated"), 2);

	/* Once finished: a new job ("active"), or the old one ("any"). */
	json_decref(call_ok(&c, "{\"op\":\"cancel\",\"job\":1}"));
	json_decref(call_ok(&c, "{\"op\":\"wait\",\"jobs\":[2,3]}"));
	r = call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	                "\"key\":\"nightly\",\"unique\":\"any\"}}");
	ck_assert_int_eq(num(json_object_get(r, "job"), "id"), 2);
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	                "\"key\":\"nightly\"}}");
	ck_assert_int_eq(num(json_object_get(r, "job"), "id"), 4);
	json_decref(r);

	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"key\":\"\"}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"key\":7}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"unique\":\"any\"}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"key\":\"k\",\"unique\":\"sometimes\"}}",
	    "bad_request");
	client_close(&c);
	stop();
}
END_TEST

static Suite *
jobd_suite(void)
{
	Suite *s = suite_create("jobd");
	TCase *tc = tcase_create("daemon");

	tcase_add_test(tc, test_hello_ping_both_transports);
	tcase_add_test(tc, test_echo_and_compute);
	tcase_add_test(tc, test_exec_outcomes);
	tcase_add_test(tc, test_timeout_kills_process_group);
	tcase_add_test(tc, test_retries_follow_policy);
	tcase_add_test(tc, test_cancel_queued_and_running);
	tcase_add_test(tc, test_wait_get_list_logs_stats);
	tcase_add_test(tc, test_watch_events);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_hundred_clients);
	tcase_add_test(tc, test_pipelined_10k);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_retention_during_requests);
	tcase_add_test(tc, test_duplicate_ids_refused);
	tcase_add_test(tc, test_half_close_after_wait);
	tcase_add_test(tc, test_stop_answers_waits);
	tcase_add_test(tc, test_cancel_and_signal_during_grace);
	tcase_add_test(tc, test_queue_priorities);
	tcase_add_test(tc, test_queue_control);
	tcase_add_test(tc, test_delayed_and_expiring_jobs);
	tcase_add_test(tc, test_dead_kick_discard);
	tcase_add_test(tc, test_unique_keys);
	tcase_add_test(tc, test_sigterm_interrupts_running);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(jobd_suite());
}
