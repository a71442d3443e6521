/*
 * check_config: jobd.conf and the signals that act on it (the real
 * daemon).  The file's settings apply unless the command line gives them;
 * a bad file stops jobd with the file and line named; SIGHUP reads it
 * again while clients keep submitting (nothing is lost, the new limits
 * and queue settings apply, a bad file changes nothing); SIGUSR1 drains:
 * no new jobs, the queued ones finish, jobd exits 0.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

static struct harness H;
static char conf_path[PATH_MAX];

/* Write the test's jobd.conf (beside the harness's directories). */
static void
write_conf(const char *text)
{
	FILE *f;

	if (conf_path[0] == '\0')
		snprintf(conf_path, sizeof conf_path, "/tmp/jobd-conf-%ld.conf",
		    (long)getpid());
	f = fopen(conf_path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static json_int_t
hello_limit(struct client *c, const char *key)
{
	json_t *r = call_ok(c, "{\"op\":\"hello\"}");
	json_int_t v = num(json_object_get(r, "limits"), key);

	json_decref(r);
	return v;
}

/* The queue object of name from queue list. */
static json_t *
queue_of(struct client *c, const char *name)
{
	json_t *r = call_ok(c, "{\"op\":\"queue\",\"action\":\"list\"}"), *q;
	size_t i;

	for (i = 0; i < json_array_size(json_object_get(r, "queues")); i++) {
		q = json_array_get(json_object_get(r, "queues"), i);
		if (strcmp(str(q, "name"), name) == 0) {
			json_incref(q);
			json_decref(r);
			return q;
		}
	}
	json_decref(r);
	return NULL;
}

START_TEST(test_file_and_command_line)
{
	const char *extra[] = {"--config", NULL, "--max-batch", "9", NULL};
	struct client c;
	json_t *q;

	write_conf("# jobd.conf for a test\n"
	           "max-batch = 7\n"
	           "max-line = 2M\n"
	           "  log-level   =   \"debug\"  \n"
	           "\n"
	           "[queue nightly]\n"
	           "limit = 2\n"
	           "timeout = 1h\n"
	           "retries = 3\n"
	           "backoff = exp:1s:1m\n");
	extra[1] = conf_path;
	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	ck_assert_int_eq(hello_limit(&c, "max_line"), 2 * 1024 * 1024);
	/* The command line wins. */
	ck_assert_int_eq(hello_limit(&c, "max_batch"), 9);
	q = queue_of(&c, "nightly");
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(num(q, "concurrency"), 2);
	ck_assert_int_eq(num(q, "timeout_ms"), 3600000);
	ck_assert_int_eq(num(json_object_get(q, "retry"), "max_attempts"), 4);
	ck_assert_str_eq(
	    str(json_object_get(q, "retry"), "backoff"), "exponential");
	json_decref(q);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
	unlink(conf_path);
}
END_TEST

/* Each bad file: jobd refuses to start and names the file and line. */
START_TEST(test_bad_files)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
	    {"max-batch = 7\nbogus = 1\n", ":2: unknown key \"bogus\""},
	    {"max-batch = lots\n", ":1: bad value for max-batch"},
	    {"max-batch\n", ":1: expected key = value"},
	    {"[queue nightly\n", ":1: expected a section header"},
	    {"[queue ni/ghtly]\n", ":1: a queue name is"},
	    {"max-batch = 1\nmax-batch = 2\n", ":2: max-batch is already set "
	                                       "on line 1"},
	    {"max-batch = \"7\n", ":1: unterminated quote"},
	    {"config = /x\n", ":1: unknown key \"config\""},
	    {"gen-token = /x\n", ":1: unknown key \"gen-token\""},
	    {"Max-Batch = 1\n", ":1: \"Max-Batch\" is not a key"},
	    {"[queue q]\nlimit = many\n",
	        ":2: bad value \"many\" for limit (a number of jobs"},
	    {"[queue q]\ncolour = red\n",
	        ":2: unknown queue setting \"colour\" (limit, max-length"},
	    {"[queue q]\nrun-as = no-such-user\n",
	        ":2: bad value \"no-such-user\" for run-as"},
	    {"[queue q]\nbackoff = sideways\n",
	        ":2: bad value \"sideways\" for backoff"},
	    {"[queue q]\ntimeout = 30\n",
	        ":2: bad value \"30\" for timeout (a duration with its unit"},
	    {"auth-timeout = 30\n", ":1: bad value for auth-timeout"},
	};
	const char *extra[] = {"--config", NULL, NULL};
	char want[PATH_MAX + 256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_conf(cases[i].text);
		extra[1] = conf_path;
		ck_assert_int_ne(harness_start(&H, extra), 0);
		snprintf(want, sizeof want, "%s%s", conf_path, cases[i].says);
		if (!harness_log_contains(&H, want))
			ck_abort_msg("case %zu: log lacks \"%s\"", i, want);
		harness_stop(&H);
	}
	/* A bad value is an error even where the command line wins. */
	write_conf("shutdown-grace = 5\n");
	{
		const char *over[] = {
		    "--config", conf_path, "--shutdown-grace", "1s", NULL};

		ck_assert_int_ne(harness_start(&H, over), 0);
		snprintf(want, sizeof want,
		    "%s:1: bad value for shutdown-grace", conf_path);
		ck_assert(harness_log_contains(&H, want));
		harness_stop(&H);
	}
	/* A file named and missing is an error; "none" is no file. */
	extra[1] = "/nonexistent/jobd.conf";
	ck_assert_int_ne(harness_start(&H, extra), 0);
	ck_assert(harness_log_contains(
	    &H, "/nonexistent/jobd.conf: No such file or directory"));
	harness_stop(&H);
	unlink(conf_path);
}
END_TEST

/* A client that submits echo jobs until told to stop; counts them. */
struct loader {
	int port;
	atomic_bool stop;
	long submitted, failed;
};

static void *
load(void *arg)
{
	struct loader *l = arg;
	struct client c;
	json_t *r;

	if (client_unix(&c, H.sock) != 0)
		return NULL;
	while (!atomic_load(&l->stop)) {
		r = client_call(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":"
		                    "\"echo\",\"queue\":\"q\"},{\"kind\":"
		                    "\"echo\",\"queue\":\"q\"}]}");
		if (r != NULL && reply_error_code(r) == NULL)
			l->submitted += 2;
		else
			l->failed++;
		json_decref(r);
	}
	client_close(&c);
	return NULL;
}

/* SIGHUP under load: new settings apply, no request is lost. */
START_TEST(test_reload_under_load)
{
	const char *extra[] = {"--config", NULL, NULL};
	struct loader l = {0};
	struct client c;
	pthread_t t;
	char want[PATH_MAX + 64];
	json_t *q;
	json_int_t before, at_reload;
	int i;

	write_conf("max-batch = 100\n[queue q]\nlimit = 1\n");
	extra[1] = conf_path;
	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	ck_assert_int_eq(hello_limit(&c, "max_batch"), 100);
	ck_assert_int_eq(pthread_create(&t, NULL, load, &l), 0);
	/* Wait (30 s at most) until the load is on. */
	for (i = 0; i < 30000 && counter_of(&c, "jobs_submitted") < 1000; i++)
		poll(NULL, 0, 1);
	ck_assert_int_ge(counter_of(&c, "jobs_submitted"), 1000);
	write_conf("max-batch = 50\nlog-level = notice\n[queue q]\nlimit = "
	           "4\ntimeout = 5s\n");
	before = counter_of(&c, "config_reloads");
	at_reload = counter_of(&c, "jobs_submitted");
	ck_assert_int_eq(kill(H.pid, SIGHUP), 0);
	ck_assert(harness_log_wait(&H, "configuration reloaded"));
	ck_assert_int_eq(counter_of(&c, "config_reloads"), before + 1);
	ck_assert_int_eq(hello_limit(&c, "max_batch"), 50);
	q = queue_of(&c, "q");
	ck_assert_int_eq(num(q, "concurrency"), 4);
	ck_assert_int_eq(num(q, "timeout_ms"), 5000);
	json_decref(q);
	/* A bad file: an error, and the settings stay. */
	write_conf("max-batch = 10\nnot a setting\n");
	ck_assert_int_eq(kill(H.pid, SIGHUP), 0);
	ck_assert(harness_log_wait(&H, "the old configuration stays"));
	/* Logged with its priority, like every other line. */
	snprintf(want, sizeof want, "<3>jobd: %s:2: expected key = value",
	    conf_path);
	ck_assert(harness_log_contains(&H, want));
	write_conf("max-batch = lots\n");
	ck_assert_int_eq(kill(H.pid, SIGHUP), 0);
	ck_assert(harness_log_wait(&H, "<3>jobd: --max-batch: 'lots'"));
	ck_assert_int_eq(hello_limit(&c, "max_batch"), 50);
	ck_assert_int_eq(counter_of(&c, "config_reloads"), before + 1);
	/* The load goes on after the reloads (30 s at most). */
	for (i = 0;
	     i < 30000 && counter_of(&c, "jobs_submitted") < at_reload + 1000;
	     i++)
		poll(NULL, 0, 1);
	ck_assert_int_ge(counter_of(&c, "jobs_submitted"), at_reload + 1000);
	atomic_store(&l.stop, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/* Every submit was answered and every job is known. */
	ck_assert_int_eq(l.failed, 0);
	ck_assert_int_ge(l.submitted, at_reload + 1000);
	ck_assert_int_eq(counter_of(&c, "jobs_submitted"), l.submitted);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
	unlink(conf_path);
}
END_TEST

/* SIGUSR1: no new jobs; what was queued finishes; jobd exits 0. */
START_TEST(test_drain)
{
	static const char *const extra[] = {"--max-running", "1", NULL};
	struct client c, w;
	json_t *r;
	int i;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	ck_assert_int_eq(client_unix(&w, H.sock), 0);
	for (i = 0; i < 3; i++)
		json_decref(call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":"
		                        "\"sleep\",\"args\":{\"ms\":200}}}"));
	/* A wait for all three, answered before jobd leaves. */
	client_send(&w,
	    "{\"op\":\"wait\",\"id\":7,\"jobs\":[1,2,3],\"output\":false}\n",
	    strlen("{\"op\":\"wait\",\"id\":7,\"jobs\":[1,2,3],\"output\":"
	           "false}\n"));
	ck_assert_int_eq(kill(H.pid, SIGUSR1), 0);
	ck_assert(harness_log_wait(&H, "SIGUSR1: draining"));
	call_err(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\"}}",
	    "shutting_down");
	r = client_reply(&w, 30000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_null(reply_error_code(r));
	for (i = 0; i < 3; i++)
		ck_assert_str_eq(
		    str(json_array_get(json_object_get(r, "jobs"), (size_t)i),
		        "state"),
		    "succeeded");
	json_decref(r);
	client_close(&c);
	client_close(&w);
	ck_assert(harness_log_wait(&H, "drained: every job has ended"));
	ck_assert_int_eq(harness_wait(&H), 0);
}
END_TEST

/*
 * SIGUSR1 does not wait for jobs that cannot run now: a job in a paused
 * queue and one delayed for an hour stay in the store for the next start,
 * while a job retrying after a failure is seen through.
 */
START_TEST(test_drain_leaves_later)
{
	struct client c;
	json_int_t paused, later, retried;
	json_t *r;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	json_decref(call_ok(
	    &c, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"pz\"}"));
	r = call_ok(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":\"echo\","
	                "\"queue\":\"pz\"},{\"kind\":\"echo\",\"delay_ms\":"
	                "3600000}]}");
	paused = num(json_array_get(json_object_get(r, "jobs"), 0), "id");
	later = num(json_array_get(json_object_get(r, "jobs"), 1), "id");
	json_decref(r);
	/* Fails once, then succeeds 300 ms later. */
	r = call_ok(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[\"sh\","
	    "\"-c\",\"[ $JOBD_ATTEMPT -ge 2 ]\"],\"retry\":{\"max_attempts\":"
	    "2,\"backoff\":\"fixed\",\"base_ms\":300,\"jitter\":false}}}");
	retried = num(json_object_get(r, "job"), "id");
	json_decref(r);
	json_decref(
	    call_okf(&c, "{\"op\":\"wait\",\"job\":%lld,\"timeout_ms\":0}",
	        (long long)retried));
	client_close(&c);
	ck_assert_int_eq(kill(H.pid, SIGUSR1), 0);
	ck_assert(harness_log_wait(&H, "2 job(s) delayed, in paused queues or "
	                               "waiting on others stay for the next "
	                               "start"));
	ck_assert_int_eq(harness_halt(&H, 0), 0); /* it stops by itself */
	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_okf(&c, "{\"op\":\"get\",\"jobs\":[%lld,%lld,%lld]}",
	    (long long)paused, (long long)later, (long long)retried);
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "jobs"), 0), "state"),
	    "queued");
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "jobs"), 1), "state"),
	    "delayed");
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "jobs"), 2), "state"),
	    "succeeded");
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* --log-jobs yes: a line per job event, at info. */
START_TEST(test_log_jobs)
{
	static const char *const extra[] = {"--log-jobs", "yes", NULL};
	static const char *const bad[] = {"--log-jobs", "maybe", NULL};
	struct client c;
	char want[128];
	json_t *r;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{"
	                "\"kind\":\"echo\",\"queue\":\"logged\"}}");
	snprintf(want, sizeof want,
	    "<6>jobd: job %lld (echo, queue logged, uid %u): finished, now "
	    "succeeded",
	    (long long)num(json_object_get(r, "job"), "id"),
	    (unsigned)geteuid());
	json_decref(r);
	ck_assert(harness_log_wait(&H, want));
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
	ck_assert_int_ne(harness_start(&H, bad), 0);
	ck_assert(harness_log_contains(&H, "--log-jobs: 'maybe'"));
	harness_stop(&H);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_file_and_command_line);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_reload_under_load);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_drain_leaves_later);
	tcase_add_test(tc, test_log_jobs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(config_suite());
}
