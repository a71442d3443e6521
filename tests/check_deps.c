/*
 * check_deps: dependencies between jobs, the settings of a queue and
 * listing by time, end to end through a real jobd.  Jobs that must not start
 * yet sit in a paused queue, so every ordering below is decided by the test,
 * not by time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "harness.h"

static struct harness H;
static struct client C;

static void
setup(void)
{
	static const char *const extra[] = {"--max-running", "4", NULL};

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&C, H.sock), 0);
}

static void
teardown(void)
{
	client_close(&C);
	ck_assert_int_eq(harness_stop(&H), 0);
}

/* Submit one job; its id. */
static json_int_t
submit(const char *spec)
{
	char req[4096];
	json_t *r;
	json_int_t id;

	snprintf(req, sizeof req, "{\"op\":\"submit\",\"job\":%s}", spec);
	r = call_ok(&C, req);
	id = num(json_object_get(r, "job"), "id");
	ck_assert_int_gt(id, 0);
	json_decref(r);
	return id;
}

/* The job as `get` shows it (the caller frees). */
static json_t *
get(json_int_t id)
{
	json_t *r =
	    call_okf(&C, "{\"op\":\"get\",\"job\":%lld}", (long long)id);
	json_t *job = json_incref(json_object_get(r, "job"));

	json_decref(r);
	return job;
}

static void
assert_state(json_int_t id, const char *want)
{
	json_t *job = get(id);

	ck_assert_msg(strcmp(str(job, "state"), want) == 0,
	    "job %lld is %s, not %s", (long long)id, str(job, "state"), want);
	json_decref(job);
}

/* Wait for the job to finish; its final state must be want. */
static json_t *
wait_state(json_int_t id, const char *want)
{
	json_t *r =
	    call_okf(&C, "{\"op\":\"wait\",\"job\":%lld}", (long long)id);
	json_t *job = json_incref(json_object_get(r, "job"));

	json_decref(r);
	ck_assert_msg(strcmp(str(job, "state"), want) == 0,
	    "job %lld ended %s, not %s", (long long)id, str(job, "state"),
	    want);
	return job;
}

static void
queue_action(const char *action, const char *name)
{
	json_decref(
	    call_okf(&C, "{\"op\":\"queue\",\"action\":\"%s\",\"name\":\"%s\"}",
	        action, name));
}

/* A job waits in state waiting until its dependency succeeded. */
START_TEST(test_waits_for_success)
{
	json_int_t a, b;
	json_t *job;

	queue_action("pause", "hold");
	a = submit("{\"kind\":\"echo\",\"queue\":\"hold\"}");
	b = submit("{\"kind\":\"echo\",\"args\":{\"n\":2},\"depends_on\":[1]}");
	ck_assert_int_eq(a, 1);
	job = get(b);
	ck_assert_str_eq(str(job, "state"), "waiting");
	ck_assert_int_eq(num(job, "waiting_for"), 1);
	ck_assert_str_eq(str(job, "after"), "ok");
	ck_assert_int_eq(json_integer_value(json_array_get(
	                     json_object_get(job, "depends_on"), 0)),
	    1);
	json_decref(job);
	ck_assert_int_eq(counter_of(&C, "jobs_waiting"), 1);

	queue_action("resume", "hold");
	job = wait_state(b, "succeeded");
	ck_assert_int_eq(num(json_object_get(job, "result"), "n"), 2);
	json_decref(job);
	ck_assert_int_eq(counter_of(&C, "jobs_waiting"), 0);
}
END_TEST

/* after "ok": a failed dependency fails its dependents, down the chain. */
START_TEST(test_failure_cascades)
{
	json_int_t a, b, c, d;
	json_t *job;

	queue_action("pause", "hold");
	a = submit("{\"kind\":\"echo\",\"queue\":\"hold\"}");
	b = submit("{\"kind\":\"echo\",\"depends_on\":[1]}");
	c = submit("{\"kind\":\"echo\",\"depends_on\":[2]}");
	d = submit("{\"kind\":\"echo\",\"depends_on\":[3],\"after\":\"any\"}");
	assert_state(c, "waiting");
	json_decref(
	    call_okf(&C, "{\"op\":\"cancel\",\"job\":%lld}", (long long)a));
	job = wait_state(b, "dependency_failed");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 0);
	json_decref(job);
	json_decref(wait_state(c, "dependency_failed"));
	/* after "any": it runs whatever its dependency's end. */
	json_decref(wait_state(d, "succeeded"));
	ck_assert_int_eq(counter_of(&C, "jobs_dependency_failed"), 2);
	ck_assert_int_eq(counter_of(&C, "jobs_waiting"), 0);
}
END_TEST

/* A dependency that ended before the submit counts at once. */
START_TEST(test_dependency_already_finished)
{
	json_int_t ok, bad, j;
	json_t *r;

	ok = submit("{\"kind\":\"echo\"}");
	bad = submit("{\"kind\":\"exec\",\"argv\":[\"false\"]}");
	json_decref(wait_state(ok, "succeeded"));
	json_decref(wait_state(bad, "failed"));

	/* Already failed: ends at submit, without running. */
	r = call_okf(&C,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	    "\"depends_on\":[%lld,%lld]}}",
	    (long long)ok, (long long)bad);
	ck_assert_str_eq(
	    str(json_object_get(r, "job"), "state"), "dependency_failed");
	json_decref(r);
	/* Already succeeded: runs. */
	j = submit("{\"kind\":\"echo\",\"depends_on\":[1]}");
	json_decref(wait_state(j, "succeeded"));
	/* after any: a failed one will do. */
	j = submit("{\"kind\":\"echo\",\"depends_on\":[2],\"after\":\"any\"}");
	json_decref(wait_state(j, "succeeded"));
}
END_TEST

/* One submit can carry a whole graph: refs name jobs of the same batch. */
START_TEST(test_refs_in_one_submit)
{
	json_t *r, *jobs, *job, *last;
	json_int_t build, test, deploy;
	const json_t *a;

	queue_action("pause", "hold");
	r = call_ok(&C,
	    "{\"op\":\"submit\",\"jobs\":["
	    "{\"kind\":\"echo\",\"ref\":\"deploy\",\"depends_on\":[\"test\"]},"
	    "{\"kind\":\"echo\",\"ref\":\"build\",\"queue\":\"hold\"},"
	    "{\"kind\":\"echo\",\"ref\":\"test\",\"depends_on\":[\"build\"]}]"
	    "}");
	jobs = json_object_get(r, "jobs");
	deploy = num(json_array_get(jobs, 0), "id");
	build = num(json_array_get(jobs, 1), "id");
	test = num(json_array_get(jobs, 2), "id");
	json_decref(r);
	job = get(deploy);
	ck_assert_int_eq(json_integer_value(json_array_get(
	                     json_object_get(job, "depends_on"), 0)),
	    test);
	ck_assert_ptr_null(json_object_get(job, "ref"));
	json_decref(job);
	assert_state(test, "waiting");
	assert_state(build, "queued");

	queue_action("resume", "hold");
	last = wait_state(deploy, "succeeded");
	job = wait_state(test, "succeeded");
	/* In order: deploy started no earlier than test ended. */
	a = json_array_get(json_object_get(job, "attempts"), 0);
	ck_assert_str_le(str(a, "ended_at"),
	    str(json_array_get(json_object_get(last, "attempts"), 0),
	        "started_at"));
	json_decref(job);
	json_decref(last);
}
END_TEST

/* Cancelling or expiring a waiting job; its own dependents follow. */
START_TEST(test_waiting_job_cancelled_or_expired)
{
	json_int_t a, b, c, e;
	char spec[256];
	/* Whole seconds: 2 s ahead is at least 1 s after the submit. */
	time_t soon = time(NULL) + 2;
	struct tm tm;

	queue_action("pause", "hold");
	a = submit("{\"kind\":\"echo\",\"queue\":\"hold\"}");
	b = submit("{\"kind\":\"echo\",\"depends_on\":[1]}");
	c = submit("{\"kind\":\"echo\",\"depends_on\":[2]}");
	json_decref(
	    call_okf(&C, "{\"op\":\"cancel\",\"job\":%lld}", (long long)b));
	json_decref(wait_state(b, "cancelled"));
	json_decref(wait_state(c, "dependency_failed"));

	gmtime_r(&soon, &tm);
	strftime(spec, sizeof spec,
	    "{\"kind\":\"echo\",\"depends_on\":[1],"
	    "\"expires_at\":\"%Y-%m-%dT%H:%M:%SZ\"}",
	    &tm);
	e = submit(spec);
	json_decref(wait_state(e, "expired"));
	/* The dependency itself is unaffected. */
	queue_action("resume", "hold");
	json_decref(wait_state(a, "succeeded"));
}
END_TEST

/* Bad dependencies: a clear error, and nothing of the submit accepted. */
START_TEST(test_bad_dependencies)
{
	static const struct {
		const char *req, *code;
	} bad[] = {
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[999]}}",
	        "not_found"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":1}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[0]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[-3]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[1.5]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[\"nope\"]}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"after\":\"any\"}"
	     "}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[1],\"after\":\"maybe\"}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"ref\":\"\"}}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"ref\":7}}",
	        "bad_request"},
	    /* A cycle, a self-reference, a ref used twice. */
	    {"{\"op\":\"submit\",\"jobs\":["
	     "{\"kind\":\"echo\",\"ref\":\"a\",\"depends_on\":[\"b\"]},"
	     "{\"kind\":\"echo\",\"ref\":\"b\",\"depends_on\":[\"c\"]},"
	     "{\"kind\":\"echo\",\"ref\":\"c\",\"depends_on\":[\"a\"]}]}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"jobs\":["
	     "{\"kind\":\"echo\",\"ref\":\"a\",\"depends_on\":[\"a\"]}]}",
	        "bad_request"},
	    {"{\"op\":\"submit\",\"jobs\":[{\"kind\":\"echo\",\"ref\":\"a\"},"
	     "{\"kind\":\"echo\",\"ref\":\"a\"}]}",
	        "bad_request"},
	    /* A good job and a bad one: neither is taken. */
	    {"{\"op\":\"submit\",\"jobs\":[{\"kind\":\"echo\"},"
	     "{\"kind\":\"echo\",\"depends_on\":[12345]}]}",
	        "not_found"},
	};
	json_t *r;
	size_t i;

	submit("{\"kind\":\"echo\"}"); /* job 1, for the references */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		call_err(&C, bad[i].req, bad[i].code);
	r = call_ok(&C, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	json_decref(r);
	ck_assert_int_eq(counter_of(&C, "jobs_submitted"), 1);
}
END_TEST

/* The messages say what is wrong. */
START_TEST(test_dependency_messages)
{
	static const struct {
		const char *req, *text;
	} cases[] = {
	    {"{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[999]}}",
	        "job.depends_on[0]: no such job 999"},
	    {"{\"op\":\"submit\",\"jobs\":["
	     "{\"kind\":\"echo\",\"ref\":\"a\",\"depends_on\":[\"b\"]},"
	     "{\"kind\":\"echo\",\"ref\":\"b\",\"depends_on\":[\"a\"]}]}",
	        "dependency cycle"},
	    {"{\"op\":\"submit\",\"jobs\":[{\"kind\":\"echo\","
	     "\"depends_on\":[\"x\"]}]}",
	        "jobs[0].depends_on[0]: no job of this submit has ref \"x\""},
	};
	json_t *r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = client_call(&C, cases[i].req);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(
		    strstr(str(json_object_get(r, "error"), "message"),
		        cases[i].text) != NULL,
		    "%s: %s", cases[i].text, json_dumps(r, 0));
		json_decref(r);
	}
	r = call_ok(&C, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 0);
	json_decref(r);
	ck_assert_int_eq(counter_of(&C, "jobs_submitted"), 0);
}
END_TEST

/* A long chain resolves (and fails) without deep recursion. */
START_TEST(test_long_chain)
{
	enum { N = 5000 };
	json_int_t first, last = 0;
	char spec[128];
	int i;

	queue_action("pause", "hold");
	first = submit("{\"kind\":\"echo\",\"queue\":\"hold\"}");
	for (i = 0; i < N; i++) {
		snprintf(spec, sizeof spec,
		    "{\"kind\":\"echo\",\"depends_on\":[%lld]}",
		    (long long)(i == 0 ? first : last));
		last = submit(spec);
	}
	assert_state(last, "waiting");
	ck_assert_int_eq(counter_of(&C, "jobs_waiting"), N);
	json_decref(
	    call_okf(&C, "{\"op\":\"cancel\",\"job\":%lld}", (long long)first));
	json_decref(wait_state(last, "dependency_failed"));
	ck_assert_int_eq(counter_of(&C, "jobs_dependency_failed"), N);
	ck_assert_int_eq(counter_of(&C, "jobs_waiting"), 0);
}
END_TEST

/* max_length: a full queue refuses the submit, whole. */
START_TEST(test_queue_max_length)
{
	json_t *r, *q;

	queue_action("pause", "small");
	r = call_okf(&C,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"small\","
	    "\"max_length\":2}");
	ck_assert_int_eq(num(json_object_get(r, "queue"), "max_length"), 2);
	json_decref(r);
	call_err(&C,
	    "{\"op\":\"submit\",\"jobs\":["
	    "{\"kind\":\"echo\",\"queue\":\"small\"},"
	    "{\"kind\":\"echo\",\"queue\":\"small\"},"
	    "{\"kind\":\"echo\",\"queue\":\"small\"}]}",
	    "queue_full");
	submit("{\"kind\":\"echo\",\"queue\":\"small\"}");
	submit("{\"kind\":\"echo\",\"queue\":\"small\"}");
	call_err(&C,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"queue\":"
	    "\"small\"}}",
	    "queue_full");
	/* Other queues are not affected. */
	submit("{\"kind\":\"echo\"}");
	r = call_okf(&C, "{\"op\":\"queue\",\"action\":\"list\"}");
	q = NULL;
	for (size_t i = 0; i < json_array_size(json_object_get(r, "queues"));
	     i++) {
		json_t *e = json_array_get(json_object_get(r, "queues"), i);

		if (strcmp(str(e, "name"), "small") == 0)
			q = e;
	}
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(num(q, "depth"), 2);
	ck_assert_int_eq(num(q, "queued"), 2);
	json_decref(r);
	/* Raised: room again. */
	json_decref(
	    call_okf(&C, "{\"op\":\"queue\",\"action\":\"set\",\"name\":"
	                 "\"small\",\"max_length\":0}"));
	submit("{\"kind\":\"echo\",\"queue\":\"small\"}");
}
END_TEST

/* A queue's default timeout and retry policy apply to jobs giving none. */
START_TEST(test_queue_defaults)
{
	json_int_t a, b, c;
	json_t *job;

	json_decref(
	    call_okf(&C, "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	                 "\"timeout_ms\":100,\"retry\":{\"max_attempts\":3,"
	                 "\"backoff\":\"fixed\",\"base_ms\":1,\"max_ms\":1}}"));
	a = submit("{\"kind\":\"exec\",\"argv\":[\"sleep\",\"60\"],"
	           "\"queue\":\"q\",\"retries\":0}");
	b = submit("{\"kind\":\"exec\",\"argv\":[\"false\"],\"queue\":\"q\"}");
	c = submit("{\"kind\":\"exec\",\"argv\":[\"true\"],\"queue\":\"q\","
	           "\"timeout_ms\":0}");
	job = wait_state(a, "timed_out");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	job = wait_state(b, "failed");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 3);
	json_decref(job);
	job = get(c);
	ck_assert_ptr_null(json_object_get(job, "timeout_ms"));
	json_decref(job);
	json_decref(wait_state(c, "succeeded"));
	/* Cleared: jobs fall back to jobd's defaults. */
	json_decref(
	    call_okf(&C, "{\"op\":\"queue\",\"action\":\"set\",\"name\":"
	                 "\"q\",\"timeout_ms\":0,\"retry\":null}"));
	b = submit("{\"kind\":\"exec\",\"argv\":[\"false\"],\"queue\":\"q\"}");
	job = wait_state(b, "failed");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
}
END_TEST

START_TEST(test_bad_queue_settings)
{
	static const char *const bad[] = {
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\"}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"max_length\":-1}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"max_length\":\"5\"}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"timeout_ms\":true}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"retry\":{\"backoff\":\"sideways\"}}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"retry\":5}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"concurrency\":2,\"max_length\":-1}",
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"colour\":1}",
	};
	json_t *r;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = client_call(&C, bad[i]);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(
		    reply_error_code(r) != NULL, "%s accepted", bad[i]);
		json_decref(r);
	}
	/* Nothing half-applied: the valid concurrency of a bad set. */
	r = call_okf(&C, "{\"op\":\"queue\",\"action\":\"list\"}");
	for (i = 0; i < json_array_size(json_object_get(r, "queues")); i++)
		ck_assert_int_eq(
		    num(json_array_get(json_object_get(r, "queues"), i),
		        "concurrency"),
		    0);
	json_decref(r);
}
END_TEST

/* list by submit time: since (inclusive) and until (exclusive). */
START_TEST(test_list_time_range)
{
	char t1[64], t2[64];
	json_int_t first, id;
	json_t *job, *r, *jobs;

	first = submit("{\"kind\":\"echo\"}");
	job = get(first);
	snprintf(t1, sizeof t1, "%s", str(job, "submitted_at"));
	json_decref(job);
	/* Submit until the clock has moved on by a millisecond. */
	do {
		id = submit("{\"kind\":\"echo\"}");
		job = get(id);
		snprintf(t2, sizeof t2, "%s", str(job, "submitted_at"));
		json_decref(job);
	} while (strcmp(t1, t2) == 0);

	r = call_okf(
	    &C, "{\"op\":\"list\",\"since\":\"%s\",\"limit\":1000}", t2);
	jobs = json_object_get(r, "jobs");
	ck_assert_uint_eq(json_array_size(jobs), 1);
	ck_assert_int_eq(num(json_array_get(jobs, 0), "id"), id);
	json_decref(r);
	r = call_okf(
	    &C, "{\"op\":\"list\",\"until\":\"%s\",\"limit\":1000}", t2);
	jobs = json_object_get(r, "jobs");
	ck_assert_uint_eq(json_array_size(jobs), (size_t)(id - 1));
	ck_assert_int_eq(num(json_array_get(jobs, 0), "id"), first);
	json_decref(r);
	r = call_okf(
	    &C, "{\"op\":\"list\",\"since\":\"%s\",\"until\":\"%s\"}", t1, t1);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 0);
	json_decref(r);

	call_err(
	    &C, "{\"op\":\"list\",\"since\":\"yesterday\"}", "bad_request");
	call_err(&C, "{\"op\":\"list\",\"until\":17}", "bad_request");
	call_err(&C, "{\"op\":\"dead\",\"since\":\"2026-13-01T00:00:00Z\"}",
	    "bad_request");
	call_err(&C, "{\"op\":\"list\",\"state\":\"sleeping\"}", "bad_request");
	r = call_okf(&C,
	    "{\"op\":\"list\",\"state\":[\"waiting\",\"dependency_failed\"]}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 0);
	json_decref(r);
}
END_TEST

/* Regressions: refs resolve even when a dependency already failed the
 * job, and a cycle is named by a job on it. */
START_TEST(test_refs_resolved_and_cycle_named)
{
	json_int_t bad;
	json_t *r, *job, *deps;

	bad = submit("{\"kind\":\"exec\",\"argv\":[\"false\"]}");
	json_decref(wait_state(bad, "failed"));
	r = call_okf(&C,
	    "{\"op\":\"submit\",\"jobs\":[{\"kind\":\"echo\","
	    "\"depends_on\":[%lld,\"r\"]},{\"kind\":\"echo\",\"ref\":\"r\"}]}",
	    (long long)bad);
	job = get(num(json_array_get(json_object_get(r, "jobs"), 0), "id"));
	ck_assert_str_eq(str(job, "state"), "dependency_failed");
	deps = json_object_get(job, "depends_on");
	ck_assert_int_eq(json_integer_value(json_array_get(deps, 0)), bad);
	ck_assert_int_eq(json_integer_value(json_array_get(deps, 1)),
	    num(json_array_get(json_object_get(r, "jobs"), 1), "id"));
	json_decref(job);
	json_decref(r);

	/* x hangs off the cycle a <-> b: the message names a or b. */
	r = client_call(&C,
	    "{\"op\":\"submit\",\"jobs\":["
	    "{\"kind\":\"echo\",\"ref\":\"x\",\"depends_on\":[\"a\"]},"
	    "{\"kind\":\"echo\",\"ref\":\"a\",\"depends_on\":[\"b\"]},"
	    "{\"kind\":\"echo\",\"ref\":\"b\",\"depends_on\":[\"a\"]}]}");
	ck_assert_str_eq(reply_error_code(r), "bad_request");
	ck_assert_msg(strstr(str(json_object_get(r, "error"), "message"),
	                  "cycle through ref \"a\"") != NULL ||
	                  strstr(str(json_object_get(r, "error"), "message"),
	                      "cycle through ref \"b\"") != NULL,
	    "%s", str(json_object_get(r, "error"), "message"));
	json_decref(r);
	/* Settings belong to queue set only. */
	call_err(&C,
	    "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"q\","
	    "\"concurrency\":7}",
	    "bad_request");
}
END_TEST

/* A big batch of jobs with refs is checked in linear time. */
START_TEST(test_big_batch_with_refs)
{
	enum { N = 5000 };
	size_t cap = (size_t)N * 80 + 64, used = 0;
	char *req = malloc(cap);
	json_t *r;
	int i;

	used += (size_t)snprintf(
	    req + used, cap - used, "{\"op\":\"submit\",\"jobs\":[");
	used += (size_t)snprintf(
	    req + used, cap - used, "{\"kind\":\"echo\",\"ref\":\"j0\"}");
	for (i = 1; i < N; i++)
		used += (size_t)snprintf(req + used, cap - used,
		    ",{\"kind\":\"echo\",\"ref\":\"j%d\","
		    "\"depends_on\":[\"j%d\"]}",
		    i, i - 1);
	snprintf(req + used, cap - used, "]}");
	r = call_ok(&C, req);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), N);
	json_decref(wait_state(
	    num(json_array_get(json_object_get(r, "jobs"), N - 1), "id"),
	    "succeeded"));
	json_decref(r);
	free(req);
}
END_TEST

static Suite *
deps_suite(void)
{
	Suite *s = suite_create("deps");
	TCase *tc = tcase_create("deps");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_waits_for_success);
	tcase_add_test(tc, test_failure_cascades);
	tcase_add_test(tc, test_dependency_already_finished);
	tcase_add_test(tc, test_refs_in_one_submit);
	tcase_add_test(tc, test_waiting_job_cancelled_or_expired);
	tcase_add_test(tc, test_bad_dependencies);
	tcase_add_test(tc, test_dependency_messages);
	tcase_add_test(tc, test_long_chain);
	tcase_add_test(tc, test_queue_max_length);
	tcase_add_test(tc, test_queue_defaults);
	tcase_add_test(tc, test_bad_queue_settings);
	tcase_add_test(tc, test_list_time_range);
	tcase_add_test(tc, test_refs_resolved_and_cycle_named);
	tcase_add_test(tc, test_big_batch_with_refs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(deps_suite());
}
