/*
 * check_recur: recurring jobs (the cron op) end to end through a real jobd:
 * adding, listing, removing and firing entries, overlap, persistence across
 * restarts (clean and SIGKILL), firings missed while jobd was down, a
 * damaged state file, the state directory's lock, and one firing on the
 * schedule itself.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

static struct harness H;
static struct client C;

static void
setup(void)
{
	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&C, H.sock), 0);
}

static void
teardown(void)
{
	client_close(&C);
	ck_assert_int_eq(harness_stop(&H), 0);
}

static void
reconnect(void)
{
	client_close(&C);
	ck_assert_int_eq(client_unix(&C, H.sock), 0);
}

/* The entry called name from `cron list` (the caller frees), or NULL. */
static json_t *
entry(const char *name)
{
	json_t *r = call_ok(&C, "{\"op\":\"cron\",\"action\":\"list\"}");
	json_t *e, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(r, "cron"), i, e)
	{
		if (strcmp(str(e, "name"), name) == 0)
			found = json_incref(e);
	}
	json_decref(r);
	return found;
}

static void
add_echo_name(const char *name, const char *schedule, const char *extra)
{
	json_decref(call_okf(&C,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"%s\","
	    "\"schedule\":\"%s\"%s,\"job\":{\"kind\":\"exec\","
	    "\"argv\":[\"sh\",\"-c\",\"echo $JOBD_CRON\"]}}",
	    name, schedule, extra));
}

/* Wait for job id to finish; its stdout. */
static char *
job_stdout(json_int_t id)
{
	json_t *r =
	    call_okf(&C, "{\"op\":\"wait\",\"job\":%lld}", (long long)id);
	char *out;

	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	out = strdup(str(json_object_get(r, "job"), "stdout"));
	json_decref(r);
	return out;
}

START_TEST(test_add_list_run_remove)
{
	json_t *r, *e;
	char *out;
	time_t now = time(NULL);
	char when[32];

	add_echo_name("nightly", "0 3 * * *", ",\"tz\":\"UTC\"");
	e = entry("nightly");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(str(e, "schedule"), "0 3 * * *");
	ck_assert_str_eq(str(e, "tz"), "UTC");
	ck_assert_str_eq(str(e, "overlap"), "skip");
	ck_assert(json_is_false(json_object_get(e, "catch_up")));
	ck_assert_int_eq(num(e, "runs"), 0);
	/* The next 03:00 UTC: within a day, in the future, at 03:00:00. */
	snprintf(when, sizeof when, "%s", str(e, "next_run_at"));
	ck_assert_ptr_nonnull(strstr(when, "T03:00:00"));
	{
		struct tm tm = {0};

		ck_assert_ptr_nonnull(strptime(when, "%Y-%m-%dT%H:%M:%S", &tm));
		ck_assert_int_gt(timegm(&tm), now);
		ck_assert_int_le(timegm(&tm), now + 86400);
	}
	json_decref(e);

	r = call_okf(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"nightly\"}");
	out = job_stdout(num(json_object_get(r, "job"), "id"));
	ck_assert_str_eq(out, "nightly\n");
	free(out);
	ck_assert_int_eq(num(json_object_get(r, "cron"), "runs"), 1);
	json_decref(r);
	ck_assert_int_eq(counter_of(&C, "cron_fired"), 1);

	/* Shorthands and names come back canonical; the local zone. */
	add_echo_name("weekdays", "0 9 * * MON-FRI", "");
	add_echo_name("hourly", "@hourly", "");
	e = entry("weekdays");
	ck_assert_str_eq(str(e, "schedule"), "0 9 * * mon-fri");
	ck_assert_ptr_nonnull(str(e, "tz"));
	json_decref(e);
	r = call_ok(&C, "{\"op\":\"cron\",\"action\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "cron")), 3);
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "cron"), 0), "name"),
	    "hourly");
	json_decref(r);

	r = call_okf(
	    &C, "{\"op\":\"cron\",\"action\":\"remove\",\"name\":\"hourly\"}");
	ck_assert_str_eq(str(json_object_get(r, "cron"), "name"), "hourly");
	json_decref(r);
	ck_assert_ptr_null(entry("hourly"));
	call_err(&C,
	    "{\"op\":\"cron\",\"action\":\"remove\",\"name\":\"hourly\"}",
	    "not_found");
	call_err(&C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"hourly\"}",
	    "not_found");

	/* replace: a new schedule, the history kept. */
	add_echo_name(
	    "nightly", "30 4 * * *", ",\"tz\":\"UTC\",\"replace\":true");
	e = entry("nightly");
	ck_assert_str_eq(str(e, "schedule"), "30 4 * * *");
	ck_assert_int_eq(num(e, "runs"), 1);
	json_decref(e);
}
END_TEST

START_TEST(test_bad_input)
{
	static const struct {
		const char *req, *code, *text;
	} bad[] = {
	    {"{\"op\":\"cron\"}", "bad_request", "action"},
	    {"{\"op\":\"cron\",\"action\":\"edit\"}", "bad_request", "unknown"},
	    {"{\"op\":\"cron\",\"action\":\"list\",\"name\":\"x\"}",
	        "bad_request", "name"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"0 24 * * *\",\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "hour"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"* * * *\",\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "5 fields"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"0 0 30 2 *\",\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "schedule"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@fortnightly\",\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "schedule"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":5,\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "schedule"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"tz\":\"Mars/Olympus\","
	     "\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "tz"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"tz\":\"../../etc/passwd\","
	     "\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "tz"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\"}",
	        "bad_request", "job"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"job\":{\"kind\":\"teleport\"}}",
	        "unknown_kind", "teleport"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"job\":{\"kind\":\"echo\","
	     "\"run_at\":\"2030-01-01T00:00:00Z\"}}",
	        "bad_request", "run_at"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"job\":{\"kind\":\"echo\","
	     "\"depends_on\":[1]}}",
	        "bad_request", "depends_on"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"a b\","
	     "\"schedule\":\"@daily\",\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "name"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"overlap\":\"sometimes\","
	     "\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "overlap"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"catch_up\":1,"
	     "\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "catch_up"},
	    {"{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	     "\"schedule\":\"@daily\",\"colour\":1,"
	     "\"job\":{\"kind\":\"echo\"}}",
	        "bad_request", "colour"},
	};
	json_t *r;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = client_call(&C, bad[i].req);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(reply_error_code(r) != NULL &&
		                  strcmp(reply_error_code(r), bad[i].code) == 0,
		    "%s -> %s", bad[i].req, json_dumps(r, 0));
		ck_assert_msg(
		    strstr(str(json_object_get(r, "error"), "message"),
		        bad[i].text) != NULL,
		    "%s -> %s", bad[i].req, json_dumps(r, 0));
		json_decref(r);
	}
	ck_assert_ptr_null(entry("x"));
	/* A name taken: refused unless replace. */
	add_echo_name("x", "@daily", "");
	call_err(&C,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"x\","
	    "\"schedule\":\"@hourly\",\"job\":{\"kind\":\"echo\"}}",
	    "bad_request");
	/* jobd still serves. */
	json_decref(call_ok(&C, "{\"op\":\"ping\"}"));
}
END_TEST

/* overlap "skip": no firing while the last job runs; "allow": both. */
START_TEST(test_overlap)
{
	json_t *r;
	json_int_t first;

	json_decref(
	    call_ok(&C, "{\"op\":\"cron\",\"action\":\"add\",\"name\":"
	                "\"slow\",\"schedule\":\"@daily\",\"job\":{"
	                "\"kind\":\"sleep\",\"args\":{\"ms\":60000}}}"));
	r = call_ok(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"slow\"}");
	first = num(json_object_get(r, "job"), "id");
	json_decref(r);
	r = call_ok(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"slow\"}");
	ck_assert(json_is_true(json_object_get(r, "skipped")));
	ck_assert_int_eq(num(json_object_get(r, "job"), "id"), first);
	ck_assert_int_eq(num(json_object_get(r, "cron"), "skipped"), 1);
	ck_assert_int_eq(num(json_object_get(r, "cron"), "runs"), 1);
	json_decref(r);
	ck_assert_int_eq(counter_of(&C, "cron_skipped"), 1);
	/* Once it ended, the next firing runs. */
	json_decref(
	    call_okf(&C, "{\"op\":\"cancel\",\"job\":%lld}", (long long)first));
	r = call_ok(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"slow\"}");
	ck_assert_ptr_null(json_object_get(r, "skipped"));
	ck_assert_int_gt(num(json_object_get(r, "job"), "id"), first);
	json_decref(r);

	json_decref(call_ok(&C, "{\"op\":\"cron\",\"action\":\"add\",\"name\":"
	                        "\"fast\",\"schedule\":\"@daily\",\"overlap\":"
	                        "\"allow\",\"job\":{\"kind\":\"sleep\","
	                        "\"args\":{\"ms\":60000}}}"));
	json_decref(call_ok(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"fast\"}"));
	r = call_ok(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"fast\"}");
	ck_assert_ptr_null(json_object_get(r, "skipped"));
	ck_assert_int_eq(num(json_object_get(r, "cron"), "runs"), 2);
	json_decref(r);
	/* A firing whose submit fails is counted, and says why. */
	json_decref(call_ok(&C, "{\"op\":\"queue\",\"action\":\"drain\","
	                        "\"name\":\"default\"}"));
	call_err(&C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"fast\"}",
	    "queue_draining");
	r = call_ok(&C, "{\"op\":\"cron\",\"action\":\"list\"}");
	ck_assert_ptr_nonnull(strstr(
	    str(json_array_get(json_object_get(r, "cron"), 0), "last_error"),
	    "draining"));
	json_decref(r);
	ck_assert_int_eq(counter_of(&C, "cron_failed"), 1);
}
END_TEST

/* Entries outlive a restart, clean or not. */
START_TEST(test_persist)
{
	json_t *e;

	add_echo_name("keep", "15 2 * * *", ",\"tz\":\"Europe/Berlin\"");
	json_decref(call_ok(
	    &C, "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"keep\"}"));
	ck_assert_int_eq(harness_restart(&H, SIGTERM, NULL), 0);
	reconnect();
	e = entry("keep");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(str(e, "schedule"), "15 2 * * *");
	ck_assert_str_eq(str(e, "tz"), "Europe/Berlin");
	ck_assert_int_eq(num(e, "runs"), 1);
	json_decref(e);

	add_echo_name("more", "@weekly", ",\"catch_up\":true");
	ck_assert_int_eq(harness_restart(&H, SIGKILL, NULL), 0);
	reconnect();
	e = entry("more");
	ck_assert_ptr_nonnull(e);
	ck_assert(json_is_true(json_object_get(e, "catch_up")));
	json_decref(e);
	e = entry("keep");
	ck_assert_ptr_nonnull(e);
	json_decref(e);
	json_decref(call_okf(
	    &C, "{\"op\":\"cron\",\"action\":\"remove\",\"name\":\"keep\"}"));
	ck_assert_int_eq(harness_restart(&H, SIGTERM, NULL), 0);
	reconnect();
	ck_assert_ptr_null(entry("keep"));
}
END_TEST

/* Write the state file as a jobd down for three hours would have left. */
static void
write_state(const char *text)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof path, "%s/cron.json", H.state);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* Firings missed while jobd was down: skipped, or one run (catch_up). */
START_TEST(test_missed_firings)
{
	long long then = ((long long)time(NULL) - 3 * 3600) * 1000;
	char text[2048];
	json_t *e;
	char *out;

	ck_assert_int_eq(harness_halt(&H, SIGTERM), 0);
	snprintf(text, sizeof text,
	    "{\"version\":1,\"entries\":["
	    "{\"name\":\"catchup\",\"schedule\":\"@hourly\",\"job\":{\"kind\":"
	    "\"exec\",\"argv\":[\"sh\",\"-c\",\"echo $JOBD_CRON\"]},"
	    "\"allow_overlap\":false,\"catch_up\":true,\"created_ms\":%lld,"
	    "\"last_ms\":%lld,\"last_job\":0,\"runs\":4,\"skipped\":0,"
	    "\"failed\":0},"
	    "{\"name\":\"plain\",\"schedule\":\"@hourly\",\"job\":{\"kind\":"
	    "\"echo\"},\"allow_overlap\":false,\"catch_up\":false,"
	    "\"created_ms\":%lld,\"last_ms\":0,\"last_job\":0,\"runs\":0,"
	    "\"skipped\":0,\"failed\":0}]}",
	    then, then, then);
	write_state(text);
	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
	reconnect();
	e = entry("catchup");
	ck_assert_int_eq(num(e, "runs"), 5);
	ck_assert_int_gt(num(e, "last_job"), 0);
	out = job_stdout(num(e, "last_job"));
	ck_assert_str_eq(out, "catchup\n");
	free(out);
	json_decref(e);
	e = entry("plain");
	ck_assert_int_eq(num(e, "runs"), 0);
	ck_assert_int_eq(num(e, "skipped"), 1);
	ck_assert_ptr_null(json_object_get(e, "last_job"));
	json_decref(e);
	ck_assert(harness_log_contains(&H, "skipping firings missed"));
}
END_TEST

/* A damaged state file stops jobd with a clear error, not silently. */
START_TEST(test_damaged_state)
{
	ck_assert_int_eq(harness_halt(&H, SIGTERM), 0);
	write_state("{\"version\":1,\"entries\":[{\"name\":\"x\"");
	ck_assert_int_ne(harness_respawn(&H, NULL), 0);
	ck_assert(harness_log_contains(&H, "cron.json is damaged"));
	ck_assert_int_eq(harness_halt(&H, 0), 1);
	write_state("{\"version\":1,\"entries\":[{\"name\":\"x\",\"schedule\":"
	            "\"61 * * * *\",\"job\":{\"kind\":\"echo\"}}]}");
	ck_assert_int_ne(harness_respawn(&H, NULL), 0);
	ck_assert(harness_log_contains(&H, "entry x: schedule: minute"));
	ck_assert_int_eq(harness_halt(&H, 0), 1);
	write_state("{\"version\":1,\"entries\":[]}");
	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
	reconnect();
}
END_TEST

/* A second jobd on the same state directory refuses to start. */
START_TEST(test_state_dir_locked)
{
	char sock[PATH_MAX + 16], *out, *err;
	const char *argv[] = {
	    getenv("JOBD"), "--socket", sock, "--state-dir", H.state, NULL};
	int rc;

	snprintf(sock, sizeof sock, "%s/second.sock", H.dir);
	rc = run_capture(argv, NULL, &out, &err);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(
	    strstr(err, "in use by another jobd (pid ") != NULL, "%s", err);
	free(out);
	free(err);
	json_decref(call_ok(&C, "{\"op\":\"ping\"}"));
}
END_TEST

/* The schedule itself: an every-minute entry fires at the next minute. */
START_TEST(test_fires_on_schedule)
{
	struct timespec now;
	json_t *ev, *e;
	time_t start;
	char *out;

	clock_gettime(CLOCK_REALTIME, &now);
	start = now.tv_sec;

	json_decref(call_ok(&C, "{\"op\":\"watch\"}"));
	{
		struct client c2;

		ck_assert_int_eq(client_unix(&c2, H.sock), 0);
		json_decref(call_ok(&c2,
		    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"tick\","
		    "\"schedule\":\"* * * * *\",\"job\":{\"kind\":\"exec\","
		    "\"argv\":[\"sh\",\"-c\",\"echo $JOBD_CRON\"]}}"));
		client_close(&c2);
	}
	/* The first event is the job's; a minute boundary is <= 60 s off. */
	ev = client_reply(&C, 75000);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str(ev, "event"), "queued");
	/* Not time(): its coarse clock can lag a few ms behind jobd's. */
	clock_gettime(CLOCK_REALTIME, &now);
	ck_assert_msg(now.tv_sec / 60 >= start / 60 + 1,
	    "fired in the minute it was added (%lld s): %s", (long long)start,
	    json_dumps(ev, 0));
	json_decref(ev);
	reconnect();
	e = entry("tick");
	ck_assert_int_eq(num(e, "runs"), 1);
	ck_assert_ptr_nonnull(str(e, "last_run_at"));
	ck_assert_ptr_nonnull(strstr(str(e, "last_run_at"), ":00.000Z"));
	out = job_stdout(num(e, "last_job"));
	ck_assert_str_eq(out, "tick\n");
	free(out);
	json_decref(e);
}
END_TEST

static Suite *
recur_suite(void)
{
	Suite *s = suite_create("recur");
	TCase *tc = tcase_create("recur");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_add_list_run_remove);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_overlap);
	tcase_add_test(tc, test_persist);
	tcase_add_test(tc, test_missed_firings);
	tcase_add_test(tc, test_damaged_state);
	tcase_add_test(tc, test_state_dir_locked);
	tcase_add_test(tc, test_fires_on_schedule);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(recur_suite());
}
