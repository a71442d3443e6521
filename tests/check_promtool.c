/*
 * check_promtool: Prometheus's own checker agrees with jobd's exposition.
 *
 * jobd runs jobs that succeed, fail and time out in two queues, and the
 * text of the stats op and of HTTP GET /metrics goes through
 * `promtool check metrics` (Debian: the prometheus package), which parses
 * it and lints the names, types and help.  promtool must exit 0 and say
 * nothing: no lint problem is accepted, since none of its rules (counter
 * names end in _total, base units, no abbreviated units, help present, no
 * type in the name) is wrong for jobd.  Should one ever be, list its
 * message here with the reason rather than loosen the check.
 *
 * Without promtool on $PATH the program exits 77, which `make check`
 * reports as SKIP (never as a pass), and says how to get it.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

#define SKIP_STATUS 77

static struct harness H;
static char promtool[PATH_MAX];

/* promtool's path from $PATH into promtool[]; false if it is not there. */
static bool
find_promtool(void)
{
	const char *path = getenv("PATH"), *p, *end;
	size_t len;

	for (p = path; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len == 0)
			continue;
		snprintf(
		    promtool, sizeof promtool, "%.*s/promtool", (int)len, p);
		if (access(promtool, X_OK) == 0)
			return true;
	}
	return false;
}

static void
promtool_accepts(const char *text, const char *what)
{
	const char *argv[] = {promtool, "check", "metrics", NULL};
	char *out = NULL, *err = NULL;
	int rc;

	rc = run_capture(argv, text, &out, &err);
	ck_assert_msg(rc == 0 && out[0] == '\0' && err[0] == '\0',
	    "promtool check metrics on %s: exit %d:\n%s%s", what, rc, out, err);
	free(out);
	free(err);
}

START_TEST(test_promtool)
{
	static const char *const extra[] = {
	    "--metrics-listen", "127.0.0.1:0", NULL};
	static const char *const jobs[] = {
	    "{\"kind\":\"echo\",\"args\":{},\"queue\":\"alpha\"}",
	    "{\"kind\":\"exec\",\"argv\":[\"false\"],\"queue\":\"alpha\"}",
	    "{\"kind\":\"echo\",\"args\":{},\"queue\":\"beta\"}",
	    "{\"kind\":\"sleep\",\"args\":{\"ms\":60000},\"timeout_ms\":50,"
	    "\"queue\":\"beta\"}",
	};
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Connection: close\r\n\r\n";
	struct client c;
	json_t *r;
	char *resp, *body;
	size_t i;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_gt(H.metrics_port, 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	for (i = 0; i < sizeof jobs / sizeof jobs[0]; i++)
		json_decref(call_okf(&c,
		    "{\"op\":\"submit\",\"wait\":true,\"job\":%s}", jobs[i]));
	call_err(&c, "not json", "bad_json");

	r = call_ok(&c, "{\"op\":\"stats\",\"format\":\"prometheus\"}");
	ck_assert_ptr_nonnull(str(r, "text"));
	promtool_accepts(str(r, "text"), "the stats op");
	json_decref(r);

	resp = harness_http(H.metrics_port, get, strlen(get));
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(strncmp(resp, "HTTP/1.1 200 ", 13), 0);
	body = strstr(resp, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	promtool_accepts(body + 4, "GET /metrics");
	free(resp);

	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	if (!find_promtool()) {
		printf("check_promtool: SKIP: promtool is not installed (on "
		       "Debian: apt-get install prometheus, or "
		       "scripts/install-deps); jobd's exposition was not "
		       "checked by Prometheus's own parser\n");
		return SKIP_STATUS;
	}
	printf("check_promtool: using %s\n", promtool);
	s = suite_create("promtool");
	tc = tcase_create("promtool");
	tcase_add_test(tc, test_promtool);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
