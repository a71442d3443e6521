/*
 * check_ident: who runs jobs, who sees them (the real daemon).
 *
 * As root, jobd runs an exec job as the user who submitted it over the
 * unix socket (or as its queue's run_as user, or for TCP clients as the
 * --run-as user, nobody by default), with that user's groups and
 * environment; a user sees and acts on their own jobs only, admins on
 * all.  Per-job resource limits apply to the process and cannot pass
 * jobd's own --limit-*.  The tests that switch users need root (CI runs
 * as root); elsewhere they return early.  The other users are the
 * system's "daemon" (uid 1) and "nobody" (uid 65534).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

#define NOBODY 65534
#define DAEMON 1

static struct harness H;

/* Options that let the two other users in. */
#define OPEN_SOCKET "--socket-mode", "0666", "--allow-users", "1,65534"

/* Start jobd with extra options, reachable by the other users. */
static void
start(const char *const *extra)
{
	ck_assert_int_eq(harness_start(&H, extra), 0);
	/* The test directory must be searchable by the other users. */
	ck_assert_int_eq(chmod(H.dir, 0711), 0);
}

/* As root: jobd open to the other users; false (skip) otherwise. */
static bool
start_shared(void)
{
	static const char *const extra[] = {OPEN_SOCKET, NULL};

	if (geteuid() != 0)
		return false;
	start(extra);
	return true;
}

/* One request as uid; the reply (the caller frees it). */
static json_t *
call_as(uid_t uid, gid_t gid, const char *req)
{
	const char *const reqs[] = {req, NULL};
	json_t *replies = harness_calls_as(H.sock, uid, gid, reqs), *r;

	ck_assert_ptr_nonnull(replies);
	ck_assert_uint_eq(json_array_size(replies), 1);
	r = json_incref(json_array_get(replies, 0));
	json_decref(replies);
	ck_assert(json_is_object(r));
	return r;
}

static json_t *
ok_as(uid_t uid, gid_t gid, const char *req)
{
	json_t *r = call_as(uid, gid, req);

	if (reply_error_code(r) != NULL)
		ck_abort_msg(
		    "%s as uid %u: %s", req, (unsigned)uid, json_dumps(r, 0));
	return r;
}

static void
err_as(uid_t uid, gid_t gid, const char *req, const char *code)
{
	json_t *r = call_as(uid, gid, req);
	const json_t *e = json_object_get(r, "error");

	ck_assert_ptr_nonnull(reply_error_code(r));
	if (strcmp(reply_error_code(r), code) != 0)
		ck_abort_msg("%s as uid %u: %s, not %s", req, (unsigned)uid,
		    reply_error_code(r), code);
	ck_assert_ptr_nonnull(str(e, "message"));
	json_decref(r);
}

/* The stdout of a submit-and-wait reply's job. */
static char *
out_of(json_t *reply)
{
	const json_t *job = json_object_get(reply, "job");
	char *out;

	ck_assert_str_eq(str(job, "state"), "succeeded");
	out = strdup(str(job, "stdout"));
	json_decref(reply);
	return out;
}

#define WHO_AM_I                                                       \
	"{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\"," \
	"\"argv\":[\"sh\",\"-c\",\"id -u; id -g; id -G; echo $USER "   \
	"$LOGNAME $HOME\"]}}"

/* A unix client's job runs as the client, with its groups and names. */
START_TEST(test_runs_as_submitter)
{
	struct client c;
	json_t *r;
	char *out;

	if (!start_shared())
		return;
	out = out_of(ok_as(NOBODY, NOBODY, WHO_AM_I));
	ck_assert_str_eq(
	    out, "65534\n65534\n65534\nnobody nobody /nonexistent\n");
	free(out);
	out = out_of(ok_as(DAEMON, DAEMON, WHO_AM_I));
	ck_assert_str_eq(out, "1\n1\n1\ndaemon daemon /usr/sbin\n");
	free(out);
	/* root's own job runs as root; the job's env wins over the names. */
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\","
	    "\"env\":{\"HOME\":\"/x\"},\"argv\":[\"sh\",\"-c\",\"id -u; echo "
	    "$HOME\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), "0\n/x\n");
	ck_assert_int_eq(num(json_object_get(r, "job"), "uid"), 0);
	json_decref(r);
	/* A directory the user may not enter: the attempt fails, clearly. */
	r = ok_as(NOBODY, NOBODY,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\","
	    "\"cwd\":\"/root\",\"argv\":[\"true\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "failed");
	ck_assert_str_eq(str(json_object_get(r, "job"), "error"),
	    "cwd /root: Permission denied");
	ck_assert_int_eq(num(json_object_get(r, "job"), "uid"), NOBODY);
	json_decref(r);
	/* Where the user may not look, a file that exists and one that does
	 * not look the same. */
	r = ok_as(NOBODY, NOBODY,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\","
	    "\"argv\":[\"/root/.bashrc\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "error"),
	    "/root/.bashrc: Permission denied");
	json_decref(r);
	r = ok_as(NOBODY, NOBODY,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\","
	    "\"argv\":[\"/root/no-such-file\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "error"),
	    "/root/no-such-file: Permission denied");
	json_decref(r);
	r = ok_as(NOBODY, NOBODY,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":\"exec\","
	    "\"argv\":[\"no-such-program\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "error"),
	    "program not found: no-such-program");
	ck_assert_int_eq(num(json_object_get(r, "job"), "exit_code"), 127);
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"list\",\"state\":\"failed\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 4);
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

#define SLEEPER                                                              \
	"{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"argv\":[\"sleep\"," \
	"\"60\"],\"key\":\"k\"}}"

/* Users see and touch only their own jobs; root sees all. */
START_TEST(test_visibility)
{
	char req[256];
	struct client c;
	json_t *r;
	json_int_t a, b, again;

	if (!start_shared())
		return;
	r = ok_as(NOBODY, NOBODY, SLEEPER);
	a = num(json_object_get(r, "job"), "id");
	ck_assert_int_eq(num(json_object_get(r, "job"), "uid"), NOBODY);
	json_decref(r);
	/* The same key is another user's own. */
	r = ok_as(DAEMON, DAEMON, SLEEPER);
	b = num(json_object_get(r, "job"), "id");
	ck_assert_int_ne(a, b);
	json_decref(r);
	r = ok_as(NOBODY, NOBODY, SLEEPER);
	again = num(json_object_get(r, "job"), "id");
	ck_assert_int_eq(again, a);
	ck_assert(json_is_true(
	    json_object_get(json_object_get(r, "job"), "duplicate")));
	json_decref(r);

	snprintf(
	    req, sizeof req, "{\"op\":\"get\",\"job\":%lld}", (long long)b);
	err_as(NOBODY, NOBODY, req, "forbidden");
	snprintf(
	    req, sizeof req, "{\"op\":\"cancel\",\"job\":%lld}", (long long)b);
	err_as(NOBODY, NOBODY, req, "forbidden");
	snprintf(req, sizeof req,
	    "{\"op\":\"wait\",\"jobs\":[%lld,%lld],\"timeout_ms\":1}",
	    (long long)a, (long long)b);
	err_as(NOBODY, NOBODY, req, "forbidden");
	snprintf(
	    req, sizeof req, "{\"op\":\"logs\",\"job\":%lld}", (long long)b);
	err_as(NOBODY, NOBODY, req, "forbidden");
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"depends_on\":"
	    "[%lld]}}",
	    (long long)b);
	err_as(NOBODY, NOBODY, req, "forbidden");
	err_as(NOBODY, NOBODY, "{\"op\":\"discard\",\"job\":999}", "not_found");

	r = ok_as(NOBODY, NOBODY, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	ck_assert_int_eq(
	    num(json_array_get(json_object_get(r, "jobs"), 0), "id"), a);
	json_decref(r);
	r = ok_as(NOBODY, NOBODY, "{\"op\":\"list\",\"key\":\"k\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	json_decref(r);
	/* ping and stats are for everyone. */
	json_decref(ok_as(NOBODY, NOBODY, "{\"op\":\"ping\"}"));
	json_decref(ok_as(NOBODY, NOBODY, "{\"op\":\"stats\"}"));

	/* root sees both and may cancel both. */
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 2);
	json_decref(r);
	r = call_okf(&c, "{\"op\":\"get\",\"job\":%lld}", (long long)b);
	ck_assert_str_eq(str(json_object_get(r, "job"), "user"), "daemon");
	json_decref(r);
	/* A user cancels their own. */
	snprintf(
	    req, sizeof req, "{\"op\":\"cancel\",\"job\":%lld}", (long long)a);
	r = ok_as(NOBODY, NOBODY, req);
	ck_assert(json_is_true(
	    json_object_get(json_object_get(r, "job"), "cancelled")));
	json_decref(r);
	json_decref(
	    call_okf(&c, "{\"op\":\"cancel\",\"job\":%lld}", (long long)b));
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* Queue control needs an admin; --admin-groups makes one. */
START_TEST(test_admin)
{
	static const char *const plain[] = {OPEN_SOCKET, NULL};
	static const char *const admins[] = {
	    OPEN_SOCKET, "--admin-groups", "nogroup", NULL};
	struct client c;
	json_t *r;

	if (geteuid() != 0)
		return;
	start(plain);
	err_as(NOBODY, NOBODY,
	    "{\"op\":\"queue\",\"action\":\"pause\",\"name\":"
	    "\"q\"}",
	    "forbidden");
	err_as(NOBODY, NOBODY,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"concurrency\":1}",
	    "forbidden");
	r = ok_as(NOBODY, NOBODY, "{\"op\":\"queue\",\"action\":\"list\"}");
	json_decref(r);
	json_decref(ok_as(DAEMON, DAEMON, SLEEPER));
	ck_assert_int_eq(harness_stop(&H), 0);

	start(admins);
	json_decref(ok_as(NOBODY, NOBODY,
	    "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"q\"}"));
	/* An admin group is not root: nothing it sets runs as root. */
	err_as(NOBODY, NOBODY,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"run_as\":\"root\"}",
	    "forbidden");
	err_as(NOBODY, NOBODY,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"q\","
	    "\"run_as\":0}",
	    "forbidden");
	err_as(NOBODY, NOBODY,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"r\","
	    "\"user\":0,\"schedule\":\"@daily\",\"job\":{\"kind\":"
	    "\"echo\"}}",
	    "forbidden");
	json_decref(ok_as(NOBODY, NOBODY,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"d\","
	    "\"user\":\"daemon\",\"schedule\":\"@daily\",\"job\":{"
	    "\"kind\":\"echo\"}}"));
	json_decref(ok_as(DAEMON, DAEMON, SLEEPER));
	/* An admin sees the other user's job; daemon, not an admin,
	 * does not see nobody's. */
	r = ok_as(NOBODY, NOBODY, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	json_decref(r);
	json_decref(ok_as(NOBODY, NOBODY, SLEEPER));
	r = ok_as(DAEMON, DAEMON, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
	json_decref(r);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	json_decref(call_ok(&c, "{\"op\":\"cancel\",\"jobs\":[1,2]}"));
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* TCP clients' jobs run as --run-as (nobody by default), never as root.
 */
START_TEST(test_tcp_run_as)
{
	static const char *const as_daemon[] = {"--run-as", "daemon", NULL};
	static const char *const unknown[] = {"--run-as", "no-such-user", NULL};
	struct client t, u;
	json_t *r;
	json_int_t root_job;

	if (geteuid() != 0)
		return;
	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&u, H.sock), 0);
	r = call_ok(&u, SLEEPER);
	root_job = num(json_object_get(r, "job"), "id");
	json_decref(r);
	ck_assert_int_eq(client_tcp(&t, H.port), 0);
	r = call_ok(&t, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"id\",\"-u\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), "65534\n");
	json_decref(r);
	{
		char req[128];

		snprintf(req, sizeof req, "{\"op\":\"get\",\"job\":%lld}",
		    (long long)root_job);
		call_err(&t, req, "forbidden");
	}
	call_err(&t, "{\"op\":\"queue\",\"action\":\"drain\",\"name\":\"q\"}",
	    "forbidden");
	client_close(&t);
	json_decref(call_okf(
	    &u, "{\"op\":\"cancel\",\"job\":%lld}", (long long)root_job));
	client_close(&u);
	ck_assert_int_eq(harness_stop(&H), 0);

	ck_assert_int_eq(harness_start(&H, as_daemon), 0);
	ck_assert_int_eq(client_tcp(&t, H.port), 0);
	r = call_ok(&t, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"id\",\"-u\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), "1\n");
	json_decref(r);
	client_close(&t);
	ck_assert_int_eq(harness_stop(&H), 0);

	ck_assert_int_ne(harness_start(&H, unknown), 0);
	ck_assert(harness_log_contains(&H, "--run-as no-such-user"));
	harness_stop(&H);
}
END_TEST

/* A queue's run_as overrides the owner; only admins set it. */
START_TEST(test_queue_run_as)
{
	struct client c;
	json_t *r;
	char *out;

	if (!start_shared())
		return;
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"svc\","
	                "\"run_as\":\"daemon\"}");
	ck_assert_str_eq(str(json_object_get(r, "queue"), "run_as"), "daemon");
	json_decref(r);
	r = call_ok(&c,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"exec\",\"queue\":\"svc\",\"argv\":[\"id\",\"-u\"]}}");
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), "1\n");
	json_decref(r);
	/* A unix user's own job runs as that user, queue or not; a TCP
	 * client's takes the queue's user. */
	out = out_of(ok_as(NOBODY, NOBODY,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"exec\","
	    "\"queue\":\"svc\",\"argv\":[\"id\",\"-u\"]}}"));
	ck_assert_str_eq(out, "65534\n");
	free(out);
	{
		struct client t;

		ck_assert_int_eq(client_tcp(&t, H.port), 0);
		r = call_ok(&t, "{\"op\":\"submit\",\"wait\":true,\"job\":{"
		                "\"kind\":\"exec\",\"queue\":\"svc\",\"argv\":"
		                "[\"id\",\"-u\"]}}");
		ck_assert_str_eq(
		    str(json_object_get(r, "job"), "stdout"), "1\n");
		json_decref(r);
		client_close(&t);
	}
	call_err(&c,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"svc\","
	    "\"run_as\":3999999999}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"svc\","
	    "\"run_as\":\"no-such-user\"}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"svc\","
	    "\"run_as\":[1]}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"svc\","
	    "\"run_as\":\"daemon\"}",
	    "bad_request");
	r = call_ok(&c, "{\"op\":\"queue\",\"action\":\"set\",\"name\":\"svc\","
	                "\"run_as\":null}");
	ck_assert_ptr_null(
	    json_object_get(json_object_get(r, "queue"), "run_as"));
	json_decref(r);
	out = out_of(ok_as(NOBODY, NOBODY,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"exec\","
	    "\"queue\":\"svc\",\"argv\":[\"id\",\"-u\"]}}"));
	ck_assert_str_eq(out, "65534\n");
	free(out);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* `sh -c SCRIPT` with the job's limits; its stdout. */
static char *
limited(struct client *c, const char *limits, const char *script)
{
	json_t *r = call_okf(c,
	    "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	    "\"exec\","
	    "%s%s%s\"argv\":[\"sh\",\"-c\",\"%s\"]}}",
	    limits != NULL ? "\"limits\":" : "", limits != NULL ? limits : "",
	    limits != NULL ? "," : "", script);
	const json_t *job = json_object_get(r, "job");
	char *out;

	ck_assert_str_eq(str(job, "state"), "succeeded");
	out = strdup(str(job, "stdout"));
	json_decref(r);
	return out;
}

/* Per-job rlimits reach the process; jobd's --limit-* cap them. */
START_TEST(test_limits)
{
	static const char *const capped[] = {
	    "--limit-nofile", "100", "--limit-cpu", "1m", NULL};
	struct rlimit rl;
	struct client c;
	char *out, expect[64];
	json_int_t id;
	json_t *r;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	out = limited(&c,
	    "{\"nofile\":64,\"as\":1073741824,\"cpu\":30,\"nproc\":"
	    "5000}",
	    "ulimit -n; ulimit -v; ulimit -t; ulimit -Hn; "
	    "awk '/Max processes/ {print $3}' /proc/self/limits");
	ck_assert_str_eq(out, "64\n1048576\n30\n64\n5000\n");
	free(out);
	/* Without a limit: the open file limit jobd started with, not
	 * the one it raised for its connections. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	out = limited(&c, NULL, "ulimit -n");
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(expect, sizeof expect, "unlimited\n");
	else
		snprintf(expect, sizeof expect, "%llu\n",
		    (unsigned long long)rl.rlim_cur);
	ck_assert_str_eq(out, expect);
	free(out);
	r = call_okf(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\","
	                 "\"limits\":{\"nofile\":64},\"argv\":[\"true\"]}}");
	id = num(json_object_get(r, "job"), "id");
	json_decref(r);
	r = call_okf(&c, "{\"op\":\"get\",\"job\":%lld}", (long long)id);
	ck_assert_int_eq(
	    num(json_object_get(json_object_get(r, "job"), "limits"), "nofile"),
	    64);
	json_decref(r);
	/* A job's own output cap, below jobd's. */
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"output_cap\":10,\"argv\":[\"seq\","
	                "\"100\"]}}");
	ck_assert_str_eq(
	    str(json_object_get(r, "job"), "stdout"), "1\n2\n3\n4\n5\n");
	ck_assert(json_is_true(
	    json_object_get(json_object_get(r, "job"), "stdout_truncated")));
	json_decref(r);
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"output_cap\":"
	    "1073741824,\"argv\":[\"true\"]}}",
	    "out_of_range");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"output_cap\":"
	    "10}}",
	    "bad_request");
	/* Bad limits: refused with the reason. */
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"limits\":"
	    "{\"stack\":1},\"argv\":[\"true\"]}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"limits\":"
	    "{\"nofile\":\"many\"},\"argv\":[\"true\"]}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"limits\":"
	    "{\"nofile\":2},\"argv\":[\"true\"]}}",
	    "out_of_range");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"limits\":["
	    "],"
	    "\"argv\":[\"true\"]}}",
	    "bad_request");
	call_err(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"limits\":"
	    "{\"cpu\":1}}}",
	    "bad_request");
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);

	/* jobd's limits are the default and the most a job may ask. */
	ck_assert_int_eq(harness_start(&H, capped), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	out = limited(&c, NULL, "ulimit -n; ulimit -t");
	ck_assert_str_eq(out, "100\n60\n");
	free(out);
	out = limited(&c, "{\"nofile\":50}", "ulimit -n");
	ck_assert_str_eq(out, "50\n");
	free(out);
	r = client_call(&c,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\",\"limits\":"
	    "{\"nofile\":101},\"argv\":[\"true\"]}}");
	ck_assert_str_eq(reply_error_code(r), "out_of_range");
	ck_assert_ptr_nonnull(
	    strstr(str(json_object_get(r, "error"), "message"), "own limit"));
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* A CPU limit ends a spinning job. */
START_TEST(test_cpu_limit_kills)
{
	struct client c;
	const json_t *job;
	json_t *r;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"limits\":{\"cpu\":1},\"argv\":[\"sh\","
	                "\"-c\",\"while :; do :; done\"]}}");
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "failed");
	/* SIGXCPU at the soft limit (equal to the hard one: SIGKILL).
	 */
	ck_assert(
	    num(job, "signal") == SIGXCPU || num(job, "signal") == SIGKILL);
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* Recurring jobs belong to, and run as, their creators. */
START_TEST(test_cron_owner)
{
	static const char *const add[] = {
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"mine\","
	    "\"schedule\":\"@yearly\",\"job\":{\"kind\":\"exec\","
	    "\"argv\":"
	    "[\"id\",\"-u\"]}}",
	    "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"mine\"}", NULL};
	struct client c;
	json_t *replies, *r;
	char req[128];

	if (!start_shared())
		return;
	replies = harness_calls_as(H.sock, NOBODY, NOBODY, add);
	ck_assert_ptr_nonnull(replies);
	ck_assert_ptr_null(reply_error_code(json_array_get(replies, 0)));
	ck_assert_int_eq(
	    num(json_object_get(json_array_get(replies, 0), "cron"), "uid"),
	    NOBODY);
	r = json_array_get(replies, 1);
	ck_assert_ptr_null(reply_error_code(r));
	snprintf(req, sizeof req,
	    "{\"op\":\"wait\",\"job\":%lld,\"timeout_ms\":30000}",
	    (long long)num(json_object_get(r, "job"), "id"));
	json_decref(replies);
	r = ok_as(NOBODY, NOBODY, req);
	ck_assert_str_eq(str(json_object_get(r, "job"), "stdout"), "65534\n");
	ck_assert_int_eq(num(json_object_get(r, "job"), "uid"), NOBODY);
	json_decref(r);

	/* Another user neither sees nor touches it. */
	r = ok_as(DAEMON, DAEMON, "{\"op\":\"cron\",\"action\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "cron")), 0);
	json_decref(r);
	err_as(DAEMON, DAEMON,
	    "{\"op\":\"cron\",\"action\":\"remove\",\"name\":\"mine\"}",
	    "forbidden");
	err_as(DAEMON, DAEMON,
	    "{\"op\":\"cron\",\"action\":\"run\",\"name\":\"mine\"}",
	    "forbidden");
	err_as(DAEMON, DAEMON,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"mine\","
	    "\"replace\":true,\"schedule\":\"@daily\",\"job\":{"
	    "\"kind\":"
	    "\"echo\"}}",
	    "forbidden");
	/* Nobody may not make one that runs as someone else. */
	err_as(NOBODY, NOBODY,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"theirs\","
	    "\"user\":\"root\",\"schedule\":\"@daily\",\"job\":{"
	    "\"kind\":"
	    "\"echo\"}}",
	    "forbidden");
	/* root sees it, and may make one for daemon. */
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"cron\",\"action\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "cron")), 1);
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "cron"), 0), "user"),
	    "nobody");
	json_decref(r);
	/* root replacing it keeps its owner. */
	r = call_ok(&c, "{\"op\":\"cron\",\"action\":\"add\",\"name\":"
	                "\"mine\",\"replace\":true,\"schedule\":\"@daily\","
	                "\"job\":{\"kind\":\"echo\"}}");
	ck_assert_int_eq(num(json_object_get(r, "cron"), "uid"), NOBODY);
	json_decref(r);
	json_decref(call_ok(&c, "{\"op\":\"cron\",\"action\":\"remove\","
	                        "\"name\":\"mine\"}"));
	r = call_ok(&c, "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"d\","
	                "\"user\":\"daemon\",\"schedule\":\"@daily\",\"job\":"
	                "{\"kind\":\"echo\"}}");
	ck_assert_int_eq(num(json_object_get(r, "cron"), "uid"), DAEMON);
	json_decref(r);
	call_err(&c,
	    "{\"op\":\"cron\",\"action\":\"add\",\"name\":\"e\","
	    "\"user\":"
	    "\"no-such-user\",\"schedule\":\"@daily\",\"job\":{"
	    "\"kind\":"
	    "\"echo\"}}",
	    "bad_request");
	client_close(&c);
	/* Owners survive a restart. */
	{
		static const char *const extra[] = {OPEN_SOCKET, NULL};

		ck_assert_int_eq(harness_restart(&H, SIGTERM, extra), 0);
	}
	ck_assert_int_eq(chmod(H.dir, 0711), 0);
	r = ok_as(DAEMON, DAEMON, "{\"op\":\"cron\",\"action\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "cron")), 1);
	ck_assert_str_eq(
	    str(json_array_get(json_object_get(r, "cron"), 0), "name"), "d");
	json_decref(r);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/*
 * As uid: watch every job; once told (a byte on go), submit an echo job
 * and read the stream until that job's "finished" event.  Writes every
 * line it read to out.
 */
static void
watcher_as(uid_t uid, int go, int out)
{
	static const char watch[] = "{\"op\":\"watch\",\"id\":1001}\n";
	static const char submit[] = "{\"op\":\"submit\",\"id\":1002,"
	                             "\"job\":{\"kind\":\"echo\"}}\n";
	struct client c;
	char *line, byte;
	json_t *msg;
	json_int_t mine = -1;

	if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0 ||
	    client_unix(&c, H.sock) != 0)
		_exit(3);
	client_send(&c, watch, strlen(watch));
	if ((line = client_line(&c, 30000)) == NULL)
		_exit(4);
	dprintf(out, "%s\n", line);
	free(line);
	if (read(go, &byte, 1) != 1)
		_exit(5);
	client_send(&c, submit, strlen(submit));
	while ((line = client_line(&c, 30000)) != NULL) {
		dprintf(out, "%s\n", line);
		msg = json_loads(line, 0, NULL);
		free(line);
		if (num(msg, "id") == 1002)
			mine = num(json_object_get(msg, "job"), "id");
		if (mine > 0 && str(msg, "event") != NULL &&
		    strcmp(str(msg, "event"), "finished") == 0 &&
		    num(json_object_get(msg, "job"), "id") == mine) {
			json_decref(msg);
			_exit(0);
		}
		json_decref(msg);
	}
	_exit(6);
}

/* A user's watch stream carries their own jobs' events only. */
START_TEST(test_watch_filtered)
{
	int go[2], out[2], status;
	char buf[65536], needle[64];
	struct client c;
	json_t *r;
	json_int_t theirs;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (!start_shared())
		return;
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(out), 0);
	if ((pid = fork()) == 0) {
		close(go[1]);
		close(out[0]);
		watcher_as(NOBODY, go[0], out[1]);
	}
	close(go[0]);
	close(out[1]);
	/* The watch is set up once its reply is out. */
	n = read(out[0], buf, sizeof buf - 1);
	ck_assert_int_gt(n, 0);
	len = (size_t)n;
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"echo\"}}");
	theirs = num(json_object_get(r, "job"), "id");
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	while (len < sizeof buf - 1 &&
	       (n = read(out[0], buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* Its own job's events came; root's job's did not. */
	ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"finished\""));
	snprintf(needle, sizeof needle, "\"id\":%lld,", (long long)theirs);
	ck_assert_ptr_null(strstr(buf, needle));
	close(go[1]);
	close(out[0]);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

static Suite *
ident_suite(void)
{
	Suite *s = suite_create("ident");
	TCase *tc = tcase_create("ident");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_runs_as_submitter);
	tcase_add_test(tc, test_visibility);
	tcase_add_test(tc, test_watch_filtered);
	tcase_add_test(tc, test_admin);
	tcase_add_test(tc, test_tcp_run_as);
	tcase_add_test(tc, test_queue_run_as);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_cpu_limit_kills);
	tcase_add_test(tc, test_cron_owner);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(ident_suite());
}
