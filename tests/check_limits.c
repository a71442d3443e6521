/*
 * check_limits: what a connection may hold.  A line begun must be finished
 * in time (slowloris), a connection with nothing pending is closed when
 * idle (one waiting or watching is not), connections past --max-conns are
 * refused with an error line, and a client that never reads its replies is
 * dropped past --max-unread; every other client keeps being served.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

static struct harness H;

#define WAIT_REQ "{\"op\":\"wait\",\"id\":\"w\",\"job\":1}\n"

static void
assert_closed(struct client *c)
{
	char *line = client_line(c, 10000);

	ck_assert_msg(line == NULL, "expected EOF, got %s", line);
}

/* The next line is an error with code; then the connection closes. */
static void
expect_refused(struct client *c, const char *code)
{
	json_t *r = client_reply(c, 10000);

	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(reply_error_code(r), code);
	json_decref(r);
	assert_closed(c);
}

START_TEST(test_slow_line)
{
	static const char *const extra[] = {"--line-timeout", "300ms", NULL};
	struct client slow, tcp, ok;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&slow, H.sock), 0);
	ck_assert_int_eq(client_tcp(&tcp, H.port), 0);
	ck_assert_int_eq(client_unix(&ok, H.sock), 0);
	/* Half a request, then nothing: closed at the line deadline. */
	ck_assert_int_eq(client_send(&slow, "{\"op\":\"pi", 9), 0);
	ck_assert_int_eq(client_send(&tcp, "{\"op\":", 6), 0);
	expect_refused(&slow, "timeout");
	expect_refused(&tcp, "timeout");
	/* Everyone else is served. */
	json_decref(call_ok(&ok, "{\"op\":\"ping\"}"));
	ck_assert_int_eq(counter_of(&ok, "conns_timed_out"), 2);
	client_close(&slow);
	client_close(&tcp);
	client_close(&ok);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A client that always has half a line in flight (each write finishes
 * the last request and begins the next) for four line deadlines: every
 * line is finished in time, so it is never cut off.
 */
START_TEST(test_pipelining_not_slow)
{
	static const char *const extra[] = {"--line-timeout", "300ms", NULL};
	char buf[128];
	struct client c;
	double end;
	json_t *r;
	int n = 0;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	snprintf(buf, sizeof buf, "{\"op\":\"ping\",");
	ck_assert_int_eq(client_send(&c, buf, strlen(buf)), 0);
	for (end = mono_s() + 1.2; mono_s() < end; n++) {
		snprintf(buf, sizeof buf, "\"id\":%d}\n{\"op\":\"ping\",", n);
		ck_assert_int_eq(client_send(&c, buf, strlen(buf)), 0);
		/* Its reply: the line was taken and the next one begun. */
		r = client_reply(&c, 10000);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(reply_error_code(r) == NULL, "after %d: %s", n,
		    json_dumps(r, 0));
		ck_assert_int_eq(num(r, "id"), n);
		json_decref(r);
	}
	ck_assert_int_gt(n, 1);
	/* Finish the last line begun. */
	snprintf(buf, sizeof buf, "\"id\":%d}\n", n);
	ck_assert_int_eq(client_send(&c, buf, strlen(buf)), 0);
	r = client_reply(&c, 10000);
	ck_assert_int_eq(num(r, "id"), n);
	json_decref(r);
	ck_assert_int_eq(counter_of(&c, "conns_timed_out"), 0);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_idle)
{
	static const char *const extra[] = {"--idle-timeout", "300ms", NULL};
	struct client idle, waiting, watching;
	json_t *r;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&waiting, H.sock), 0);
	ck_assert_int_eq(client_unix(&watching, H.sock), 0);
	r = call_ok(&waiting, "{\"op\":\"submit\",\"job\":{\"kind\":\"sleep\","
	                      "\"args\":{\"ms\":60000}}}");
	json_decref(r);
	ck_assert_int_eq(client_send(&waiting, WAIT_REQ, strlen(WAIT_REQ)), 0);
	json_decref(call_ok(&watching, "{\"op\":\"watch\"}"));
	/* Opened last, idle like the others since: closed first. */
	ck_assert_int_eq(client_unix(&idle, H.sock), 0);
	expect_refused(&idle, "timeout");
	/* The waiting and the watching ones outlived it. */
	r = call_ok(&waiting, "{\"op\":\"ping\",\"id\":\"p\"}");
	ck_assert_str_eq(str(r, "id"), "p");
	json_decref(r);
	r = call_ok(&watching, "{\"op\":\"ping\",\"id\":\"q\"}");
	ck_assert_str_eq(str(r, "id"), "q");
	json_decref(r);
	client_close(&idle);
	client_close(&waiting);
	client_close(&watching);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_max_conns)
{
	static const char *const extra[] = {"--max-conns", "3", NULL};
	struct client c[4];
	int i;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(client_unix(&c[i], H.sock), 0);
		json_decref(call_ok(&c[i], "{\"op\":\"ping\"}"));
	}
	ck_assert_int_eq(client_unix(&c[3], H.sock), 0);
	expect_refused(&c[3], "too_many_connections");
	client_close(&c[3]);
	/* One leaves: room again. */
	client_close(&c[2]);
	for (i = 0;; i++) {
		json_t *r;

		ck_assert_int_lt(i, 1000);
		ck_assert_int_eq(client_unix(&c[2], H.sock), 0);
		r = client_call(&c[2], "{\"op\":\"ping\"}");
		if (r != NULL && reply_error_code(r) == NULL) {
			json_decref(r);
			break;
		}
		/* Refused while jobd had not yet seen the close. */
		json_decref(r);
		client_close(&c[2]);
	}
	ck_assert_int_ge(counter_of(&c[0], "conns_over_limit"), 1);
	for (i = 0; i < 3; i++)
		client_close(&c[i]);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* A client that pipelines waits and never reads is dropped. */
START_TEST(test_unread_cap)
{
	static const char *const extra[] = {"--max-unread", "1M", NULL};
	char req[512], pad[301];
	struct timeval tv = {20, 0};
	struct client flood, ok;
	ssize_t n = 0;
	int i, len;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&flood, H.sock), 0);
	ck_assert_int_eq(client_unix(&ok, H.sock), 0);
	setsockopt(flood.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	memset(pad, 'x', 300);
	pad[300] = '\0';
	len = snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"echo\","
	    "\"args\":{\"p\":\"%s\"}}}\n",
	    pad);
	/* Until jobd hangs up; a send timing out means it never did. */
	for (i = 0; i < 1000000; i++) {
		n = send(flood.fd, req, (size_t)len, MSG_NOSIGNAL);
		if (n < 0)
			break;
	}
	ck_assert_msg(n < 0 && (errno == EPIPE || errno == ECONNRESET),
	    "sends went on: %zd, %s", n, strerror(errno));
	json_decref(call_ok(&ok, "{\"op\":\"ping\"}"));
	ck_assert_int_eq(counter_of(&ok, "conns_dropped"), 1);
	client_close(&flood);
	client_close(&ok);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* Sizes of an exec job's parts and the nesting of a request. */
START_TEST(test_size_limits)
{
	static const char *const extra[] = {"--max-argv", "100", "--max-env",
	    "200", "--max-stdin", "64", "--max-depth", "4", NULL};
	char req[1024], big[300];
	struct client c;
	json_t *r;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	memset(big, 'x', 150);
	big[150] = '\0';
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[\"echo\","
	    "\"%s\"]}}",
	    big);
	r = client_call(&c, req);
	ck_assert_str_eq(reply_error_code(r), "out_of_range");
	ck_assert_ptr_nonnull(
	    strstr(str(json_object_get(r, "error"), "message"),
	        "argv is 156 bytes; the limit is 100"));
	json_decref(r);
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[\"true\"],"
	    "\"env\":{\"A\":\"%s\"}}}",
	    big);
	call_err(&c, req, "out_of_range");
	big[65] = '\0';
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[\"cat\"],"
	    "\"stdin\":\"%s\"}}",
	    big);
	call_err(&c, req, "out_of_range");
	big[64] = '\0';
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\","
	    "\"argv\":[\"cat\"],\"stdin\":\"%s\"}}",
	    big);
	r = call_ok(&c, req);
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), big);
	json_decref(r);
	/* Nesting: 4 levels pass, 5 do not. */
	json_decref(call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	                        "\"args\":{\"a\":[1]}}}"));
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"args\":{\"a\":[[1]"
	    "]}}}",
	    "too_deep");
	ck_assert_int_eq(counter_of(&c, "requests_over_limit"), 4);
	ck_assert_int_eq(counter_of(&c, "jobs_submitted"), 2);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_bad_options)
{
	static const char *const bad[][3] = {
	    {"--max-conns", "0", NULL},
	    {"--idle-timeout", "0", NULL},
	    {"--line-timeout", "soon", NULL},
	    {"--max-unread", "1k", NULL},
	    {"--max-depth", "1", NULL},
	    {"--max-argv", "x", NULL},
	    {"--shutdown-grace", "30", NULL}, /* "30" what? */
	    {"--bogus", NULL, NULL},
	};
	const char *argv[4];
	char *out, *err;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		argv[0] = getenv("JOBD");
		argv[1] = bad[i][0];
		argv[2] = bad[i][1];
		argv[3] = NULL;
		ck_assert_int_eq(run_capture(argv, NULL, &out, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, bad[i][0]) != NULL
		                          ? err
		                          : strstr(err, "timeout"));
		/* A line on what was wrong, not the whole of --help. */
		ck_assert_ptr_null(strstr(err, "usage:"));
		free(out);
		free(err);
	}
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_slow_line);
	tcase_add_test(tc, test_pipelining_not_slow);
	tcase_add_test(tc, test_idle);
	tcase_add_test(tc, test_max_conns);
	tcase_add_test(tc, test_unread_cap);
	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_bad_options);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(limits_suite());
}
