/*
 * check_durability: jobs survive jobd, with the real daemon and its store
 * (--durability full, the default, in the harness's state directory).
 *
 * - After a SIGKILL, finished jobs come back with their attempts, results
 *   and output; delayed and waiting ones wait on; a job that was running
 *   gets a lost attempt and, as its policy allows, fails (its dependents
 *   then fail too) or runs again; unique keys and ids carry on.
 * - A jobd restarted with lower limits takes its jobs back, lowering
 *   their resource limits to its own.
 * - The processes of an exec job outlive the SIGKILL; the next jobd kills
 *   them before it retries the job, also when jobd died before their
 *   process group was recorded (found by JOBD_INSTANCE and JOBD_JOB_ID),
 *   and not those of another jobd.
 * - A database that is not one stops jobd with a message naming it.
 * - A store that cannot write (--store-max-size) refuses writes with
 *   store_unavailable, serves reads, holds what it acknowledged, and takes
 *   everything once a reload gives it room.
 * - The crash test: rounds of clients submitting while jobd is killed at
 *   a random moment; every acknowledged job is found after the restart
 *   and ends, no id is given twice, no command runs more often than its
 *   attempts allow.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

#define CRASH_ROUNDS 20
#define CRASH_CLIENTS 3

static struct harness H;

static json_t *
get_job(struct client *c, json_int_t id)
{
	json_t *r = call_okf(c, "{\"op\":\"get\",\"job\":%lld}", (long long)id);
	json_t *job = json_incref(json_object_get(r, "job"));

	json_decref(r);
	return job;
}

static json_int_t
submit_id(struct client *c, const char *job)
{
	json_t *r = call_okf(c, "{\"op\":\"submit\",\"job\":%s}", job);
	json_int_t id = num(json_object_get(r, "job"), "id");

	json_decref(r);
	return id;
}

/* Wait until job id is in state (deadline: fail). */
static json_t *
wait_state(struct client *c, json_int_t id, const char *state)
{
	int64_t deadline = (int64_t)(test_now_ns() / 1000000) + 20000;
	json_t *job;

	for (;;) {
		job = get_job(c, id);
		if (strcmp(str(job, "state"), state) == 0)
			return job;
		ck_assert_msg((int64_t)(test_now_ns() / 1000000) < deadline,
		    "job %lld is %s, not %s", (long long)id, str(job, "state"),
		    state);
		json_decref(job);
		json_decref(call_okf(c,
		    "{\"op\":\"wait\",\"job\":%lld,\"timeout_ms\":50}",
		    (long long)id));
	}
}

static const char *
attempt_outcome(const json_t *job, size_t i)
{
	return str(
	    json_array_get(json_object_get(job, "attempts"), i), "outcome");
}

START_TEST(test_restart_keeps_jobs)
{
	struct client c;
	json_t *r, *job, *out;
	json_int_t echo, failing, delayed, running, waiting, keyed, next, held;
	size_t i;
	char run_at[64];

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"echo\",\"args\":{\"x\":[1,\"two\"]}}}");
	echo = num(json_object_get(r, "job"), "id");
	json_decref(r);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"sh\",\"-c\",\"printf 'o\\tx'; "
	                "echo err >&2; exit 3\"]}}");
	failing = num(json_object_get(r, "job"), "id");
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "failed");
	json_decref(r);
	delayed = submit_id(&c, "{\"kind\":\"echo\",\"delay_ms\":3600000}");
	job = get_job(&c, delayed);
	snprintf(run_at, sizeof run_at, "%s", str(job, "run_at"));
	json_decref(job);
	keyed = submit_id(
	    &c, "{\"kind\":\"echo\",\"key\":\"k1\",\"delay_ms\":3600000}");
	/* A paused queue with a limit of its own, and a job in it. */
	json_decref(call_ok(
	    &c, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	json_decref(call_ok(&c, "{\"op\":\"queue\",\"action\":\"set\","
	                        "\"name\":\"held\",\"concurrency\":3}"));
	held = submit_id(&c, "{\"kind\":\"echo\",\"queue\":\"held\"}");
	r = call_ok(&c, "{\"op\":\"submit\",\"jobs\":[{\"kind\":\"sleep\","
	                "\"args\":{\"ms\":600000},\"ref\":\"a\"},{\"kind\":"
	                "\"echo\",\"depends_on\":[\"a\"]}]}");
	running = num(json_array_get(json_object_get(r, "jobs"), 0), "id");
	waiting = num(json_array_get(json_object_get(r, "jobs"), 1), "id");
	json_decref(r);
	json_decref(wait_state(&c, running, "running"));
	client_close(&c);

	/* A crash. */
	ck_assert_int_eq(harness_restart(&H, SIGKILL, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);

	job = get_job(&c, echo);
	ck_assert_str_eq(str(job, "state"), "succeeded");
	ck_assert_int_eq(
	    json_integer_value(json_array_get(
	        json_object_get(json_object_get(job, "result"), "x"), 0)),
	    1);
	ck_assert_str_eq(attempt_outcome(job, 0), "succeeded");
	json_decref(job);

	job = get_job(&c, failing);
	ck_assert_str_eq(str(job, "state"), "failed");
	ck_assert_int_eq(num(job, "exit_code"), 3);
	out = json_object_get(job, "stdout");
	ck_assert_uint_eq(json_string_length(out), 3);
	ck_assert_int_eq(memcmp(json_string_value(out), "o\tx", 3), 0);
	ck_assert_str_eq(str(job, "stderr"), "err\n");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	ck_assert_str_eq(str(job, "kind"), "exec");
	json_decref(job);

	job = get_job(&c, delayed);
	ck_assert_str_eq(str(job, "state"), "delayed");
	ck_assert_str_eq(str(job, "run_at"), run_at);
	json_decref(job);

	job = get_job(&c, held);
	ck_assert_str_eq(str(job, "state"), "queued");
	json_decref(job);
	r = call_ok(&c, "{\"op\":\"queue\",\"action\":\"list\"}");
	for (i = 0; i < json_array_size(json_object_get(r, "queues")); i++) {
		job = json_array_get(json_object_get(r, "queues"), i);
		if (strcmp(str(job, "name"), "held") == 0)
			break;
	}
	ck_assert_uint_lt(i, json_array_size(json_object_get(r, "queues")));
	ck_assert(json_is_true(json_object_get(job, "paused")));
	ck_assert_int_eq(num(job, "concurrency"), 3);
	ck_assert_int_eq(num(job, "queued"), 1);
	json_decref(r);

	/* Running when jobd died: lost, and with one attempt allowed, failed;
	 * its dependent cannot run. */
	job = wait_state(&c, running, "failed");
	ck_assert_str_eq(attempt_outcome(job, 0), "lost");
	json_decref(job);
	json_decref(wait_state(&c, waiting, "dependency_failed"));

	/* Keys and ids carry on. */
	r = call_ok(&c, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
	                "\"key\":\"k1\"}}");
	ck_assert_int_eq(num(json_object_get(r, "job"), "id"), keyed);
	ck_assert(json_is_true(
	    json_object_get(json_object_get(r, "job"), "duplicate")));
	json_decref(r);
	next = submit_id(&c, "{\"kind\":\"echo\"}");
	ck_assert_int_gt(next, waiting);

	/* A graceful restart keeps them too. */
	client_close(&c);
	ck_assert_int_eq(harness_restart(&H, SIGTERM, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = get_job(&c, next);
	ck_assert_str_eq(str(job, "state"), "succeeded");
	json_decref(job);
	ck_assert_int_gt(submit_id(&c, "{\"kind\":\"echo\"}"), next);
	r = call_ok(&c, "{\"op\":\"stats\"}");
	job = json_object_get(json_object_get(r, "stats"), "store");
	ck_assert_str_eq(str(job, "durability"), "full");
	ck_assert(json_is_true(json_object_get(job, "available")));
	ck_assert_int_gt(num(job, "commits"), 0);
	ck_assert_int_gt(num(job, "db_bytes"), 0);
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/*
 * A job accepted under one set of limits is not lost when jobd comes
 * back with lower ones: sizes are not checked again, resource limits and
 * output_cap are lowered to today's.  New submits get today's limits.
 */
START_TEST(test_restart_lower_limits)
{
	static const char *const lower[] = {"--max-argv", "1k", "--max-env",
	    "1k", "--limit-as", "1G", "--output-cap", "64k", NULL};
	char big[3001], *text;
	struct client c;
	json_t *spec, *req, *r, *job;
	json_int_t id;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	spec = json_pack("{s:s, s:s, s:[s,s,s,s], s:{s:s}, s:{s:I}, s:I}",
	    "kind", "exec", "queue", "held", "argv", "sh", "-c",
	    "ulimit -v; echo ${#BIG}", big, "env", "BIG", big, "limits", "as",
	    (json_int_t)4 << 30, "output_cap", (json_int_t)1 << 20);
	req = json_pack("{s:s, s:O}", "op", "submit", "job", spec);
	text = json_dumps(req, JSON_COMPACT);

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	json_decref(call_ok(
	    &c, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	r = call_ok(&c, text);
	id = num(json_object_get(r, "job"), "id");
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(harness_restart(&H, SIGTERM, lower), 0);

	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = get_job(&c, id);
	ck_assert_str_eq(str(job, "state"), "queued");
	ck_assert_int_eq(num(json_object_get(job, "limits"), "as"), 1 << 30);
	ck_assert_int_eq(num(job, "output_cap"), 64 << 10);
	json_decref(job);
	/* Today's limits for a new job. */
	call_err(&c, text, "out_of_range");
	json_decref(call_ok(
	    &c, "{\"op\":\"queue\",\"action\":\"resume\",\"name\":\"held\"}"));
	job = wait_state(&c, id, "succeeded");
	ck_assert_str_eq(str(job, "stdout"), "1048576\n3000\n");
	json_decref(job);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
	free(text);
	json_decref(req);
	json_decref(spec);
}
END_TEST

/* Until the store has committed everything jobd has changed so far. */
static void
store_settled(struct client *c)
{
	int64_t deadline = (int64_t)(test_now_ns() / 1000000) + 20000;
	json_t *r;
	json_int_t pending;

	for (;;) {
		r = call_ok(c, "{\"op\":\"stats\"}");
		pending =
		    num(json_object_get(json_object_get(r, "stats"), "store"),
		        "pending");
		json_decref(r);
		if (pending == 0)
			return;
		ck_assert((int64_t)(test_now_ns() / 1000000) < deadline);
		usleep(1000); /* polling stats: nothing to wait on */
	}
}

/* The pid a job's shell wrote to path, once it has (deadline: fail). */
static pid_t
read_pid(const char *path)
{
	int64_t deadline = (int64_t)(test_now_ns() / 1000000) + 20000;
	char buf[32] = "";
	FILE *f;

	for (;;) {
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(buf, sizeof buf, f) != NULL &&
			    strchr(buf, '\n') != NULL) {
				fclose(f);
				return (pid_t)atoi(buf);
			}
			fclose(f);
		}
		ck_assert_msg((int64_t)(test_now_ns() / 1000000) < deadline,
		    "%s not written", path);
		usleep(10000); /* polling a file: nothing to wait on */
	}
}

/*
 * Submit an exec job (a shell running first, then leaving a sleep
 * behind, whose pid goes to pidfile), wait for its process group to be
 * committed, and SIGKILL jobd; the job's processes live on.  Returns the
 * job's id; *pid is the sleep's.
 */
static json_int_t
crash_with_exec_job(const char *first, const char *pidfile, pid_t *pid)
{
	char req[2 * PATH_MAX + 256];
	struct client c;
	json_int_t id;

	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	snprintf(req, sizeof req,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"%s sleep 600 & "
	    "echo $! >> %s; wait\"],\"retry\":{\"max_attempts\":2,"
	    "\"base_ms\":1,\"jitter\":false}}",
	    first, pidfile);
	id = submit_id(&c, req);
	*pid = read_pid(pidfile);
	/* Its process group is recorded with the next commit after the
	 * spawn: wait for it (a crash before it leaves the group alone). */
	store_settled(&c);
	client_close(&c);
	ck_assert_int_eq(harness_halt(&H, SIGKILL), 0);
	/* jobd is gone; its job's processes are not. */
	ck_assert_int_eq(kill(*pid, 0), 0);
	ck_assert_int_eq(unlink(pidfile), 0);
	return id;
}

/* Until process pid is gone (deadline: fail). */
static void
wait_gone(pid_t pid)
{
	int64_t deadline = (int64_t)(test_now_ns() / 1000000) + 20000;

	while (kill(pid, 0) == 0) {
		ck_assert((int64_t)(test_now_ns() / 1000000) < deadline);
		usleep(10000); /* init reaps it: nothing to wait on */
	}
}

START_TEST(test_exec_outlives_crash)
{
	char pidfile[PATH_MAX + 16];
	struct client c;
	json_int_t id;
	json_t *job;
	pid_t pid, pid2;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	snprintf(pidfile, sizeof pidfile, "%s/pid", H.dir);
	/* A group of two: the shell, and a sleep it leaves behind. */
	id = crash_with_exec_job("", pidfile, &pid);
	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
	ck_assert(harness_log_wait(&H, "killed what was left"));
	wait_gone(pid);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	/* The second attempt runs: its own sleep. */
	job = wait_state(&c, id, "running");
	ck_assert_str_eq(attempt_outcome(job, 0), "lost");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 2);
	json_decref(job);
	pid2 = read_pid(pidfile);
	ck_assert_int_ne(pid2, pid);
	/* An acknowledged cancel holds through a crash: the job ends
	 * cancelled, not lost (which, its attempts spent, would be failed). */
	store_settled(&c);
	json_decref(
	    call_okf(&c, "{\"op\":\"cancel\",\"job\":%lld}", (long long)id));
	client_close(&c);
	ck_assert_int_eq(harness_restart(&H, SIGKILL, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = wait_state(&c, id, "cancelled");
	ck_assert_str_eq(attempt_outcome(job, 1), "cancelled");
	json_decref(job);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* Start jobd with extra options, connect c, and name its pid file. */
static void
start_traced(
    const char *const *extra, struct client *c, char *pidfile, size_t len)
{
	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(c, H.sock), 0);
	snprintf(pidfile, len, "%s/pid", H.dir);
}

/*
 * Submit {"kind":"exec",OPTS"argv":["sh","-c","BEFORE echo $$ >> PIDFILE;
 * AFTER"]} and wait for its shell to write its pid; *pid gets it (may be
 * NULL), and the file is removed for the next one.
 */
static json_int_t
submit_traced(struct client *c, const char *opts, const char *before,
    const char *after, const char *pidfile, pid_t *pid)
{
	char req[PATH_MAX + 512];
	json_int_t id;
	pid_t got;

	snprintf(req, sizeof req,
	    "{\"kind\":\"exec\",%s\"argv\":[\"sh\",\"-c\",\"%s echo $$ >> "
	    "%s; %s\"]}",
	    opts, before, pidfile, after);
	id = submit_id(c, req);
	got = read_pid(pidfile);
	if (pid != NULL)
		*pid = got;
	ck_assert_int_eq(unlink(pidfile), 0);
	return id;
}

/*
 * A stop of jobd is not the job's failure: a running job's attempt is
 * interrupted, not counted, and the job runs again after the restart,
 * even with no retries allowed.
 */
START_TEST(test_stop_requeues_running)
{
	static const char *const extra[] = {"--shutdown-grace", "100ms", NULL};
	char pidfile[PATH_MAX + 16];
	struct client c;
	json_int_t id;
	json_t *job;
	pid_t pid;

	start_traced(extra, &c, pidfile, sizeof pidfile);
	id = submit_traced(&c, "", "", "exec sleep 600", pidfile, &pid);
	client_close(&c);
	ck_assert_int_eq(harness_restart(&H, SIGTERM, extra), 0);
	/* Its process did not outlive the stop. */
	wait_gone(pid);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = wait_state(&c, id, "running");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 2);
	ck_assert_str_eq(attempt_outcome(job, 0), "interrupted");
	json_decref(job);
	ck_assert_int_ne(read_pid(pidfile), pid);
	json_decref(
	    call_okf(&c, "{\"op\":\"cancel\",\"job\":%lld}", (long long)id));
	json_decref(wait_state(&c, id, "cancelled"));
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/*
 * What a stop's interrupt does not override: a job that finishes its work
 * on the SIGTERM (exit 0) succeeded; a job cancelled while the stop is
 * killing it stays cancelled.  Neither runs again after the start.
 */
START_TEST(test_stop_edges)
{
	static const char *const extra[] = {"--shutdown-grace", "100ms", NULL};
	char pidfile[PATH_MAX + 16];
	struct client c;
	json_int_t done, cancelled;
	json_t *job;

	start_traced(extra, &c, pidfile, sizeof pidfile);
	done = submit_traced(&c, "", "trap 'exit 0' TERM;",
	    "while :; do sleep 0.05; done", pidfile, NULL);
	/* Deaf to SIGTERM; SIGKILL only after 5 s. */
	cancelled = submit_traced(&c, "\"kill_grace_ms\":5000,",
	    "trap '' TERM;", "while :; do sleep 0.05; done", pidfile, NULL);
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	ck_assert(harness_log_wait(&H, "shutdown grace over"));
	job = call_okf(
	    &c, "{\"op\":\"cancel\",\"job\":%lld}", (long long)cancelled);
	ck_assert(json_is_true(
	    json_object_get(json_object_get(job, "job"), "cancelled")));
	json_decref(job);
	client_close(&c);
	ck_assert_int_eq(harness_halt(&H, 0), 0);

	ck_assert_int_eq(harness_respawn(&H, extra), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = get_job(&c, done);
	ck_assert_str_eq(str(job, "state"), "succeeded");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	job = get_job(&c, cancelled);
	ck_assert_str_eq(str(job, "state"), "cancelled");
	ck_assert_str_eq(attempt_outcome(job, 0), "cancelled");
	ck_assert_uint_eq(json_array_size(json_object_get(job, "attempts")), 1);
	json_decref(job);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* A second stop request ends running jobs at once: no grace, no kill
 * grace (here 30 s and 60 s, past the harness's deadline). */
START_TEST(test_second_stop)
{
	static const char *const extra[] = {"--shutdown-grace", "30s", NULL};
	char pidfile[PATH_MAX + 16];
	struct client c;
	json_int_t id;
	json_t *job;
	pid_t pid;

	start_traced(extra, &c, pidfile, sizeof pidfile);
	id = submit_traced(&c, "\"kill_grace_ms\":60000,", "trap '' TERM;",
	    "while :; do sleep 0.05; done", pidfile, &pid);
	client_close(&c);
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	ck_assert(harness_log_wait(&H, "waiting up to 30000 ms"));
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	ck_assert_int_eq(harness_halt(&H, 0), 0);
	wait_gone(pid);
	/* Interrupted, so queued again for the next start. */
	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = wait_state(&c, id, "running");
	ck_assert_str_eq(attempt_outcome(job, 0), "interrupted");
	json_decref(job);
	client_close(&c);
	/* Still deaf: two stop requests again. */
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	ck_assert(harness_log_wait(&H, "waiting up to"));
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	ck_assert_int_eq(harness_wait(&H), 0);
}
END_TEST

/* Take the process group out of job id's state record, as if jobd had
 * died before the commit that follows a spawn. */
static void
forget_process_group(const char *dir, json_int_t id)
{
	char path[PATH_MAX + 16], *text;
	sqlite3 *db;
	sqlite3_stmt *st;
	json_t *rec;

	snprintf(path, sizeof path, "%s/jobd.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(
	        db, "SELECT data FROM jobs WHERE id = ?", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	rec = json_loadb(sqlite3_column_blob(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
	sqlite3_finalize(st);
	ck_assert_ptr_nonnull(rec);
	/* The record had one: the spawn's commit was waited for. */
	ck_assert_int_eq(json_object_del(rec, "pid"), 0);
	json_object_del(rec, "pst");
	json_object_del(rec, "boot");
	text = json_dumps(rec, JSON_COMPACT);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(
	        db, "UPDATE jobs SET data = ? WHERE id = ?", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_blob(st, 1, text, (int)strlen(text), SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	ck_assert_int_eq(sqlite3_changes(db), 1);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	free(text);
	json_decref(rec);
}

START_TEST(test_exec_unrecorded_crash)
{
	char pidfile[PATH_MAX + 16], instfile[PATH_MAX + 16];
	char first[PATH_MAX + 64], inst[64] = "", inst2[64] = "";
	char prog[] = "sleep", secs[] = "600", idvar[64];
	char ivar[] = "JOBD_INSTANCE=0123456789abcdef0123456789abcdef";
	char avar[] = "JOBD_ATTEMPT=1";
	char *argv[] = {prog, secs, NULL}, *envp[] = {ivar, idvar, avar, NULL};
	struct client c;
	json_int_t id;
	json_t *job;
	pid_t pid, other;
	FILE *f;
	int status;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	snprintf(pidfile, sizeof pidfile, "%s/pid", H.dir);
	snprintf(instfile, sizeof instfile, "%s/instance", H.dir);
	snprintf(first, sizeof first, "echo $JOBD_INSTANCE >> %s;", instfile);
	id = crash_with_exec_job(first, pidfile, &pid);
	forget_process_group(H.state, id);
	/* Another jobd's attempt with the same job id and number. */
	snprintf(idvar, sizeof idvar, "JOBD_JOB_ID=%lld", (long long)id);
	ck_assert_int_eq(
	    posix_spawnp(&other, "sleep", NULL, NULL, argv, envp), 0);

	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
	ck_assert(harness_log_wait(&H, "killed processes of attempts"));
	wait_gone(pid);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	job = wait_state(&c, id, "running");
	ck_assert_str_eq(attempt_outcome(job, 0), "lost");
	json_decref(job);
	ck_assert_int_ne(read_pid(pidfile), pid);
	/* The other jobd's process was left alone. */
	ck_assert_int_eq(waitpid(other, &status, WNOHANG), 0);
	ck_assert_int_eq(kill(other, SIGKILL), 0);
	ck_assert_int_eq(waitpid(other, &status, 0), other);
	/* Both attempts saw the same instance: the store keeps it. */
	ck_assert_ptr_nonnull(f = fopen(instfile, "r"));
	ck_assert_ptr_nonnull(fgets(inst, sizeof inst, f));
	ck_assert_ptr_nonnull(fgets(inst2, sizeof inst2, f));
	fclose(f);
	ck_assert_uint_eq(strlen(inst), 33); /* 32 hex digits and \n */
	ck_assert_str_eq(inst, inst2);
	ck_assert_str_ne(inst, "0123456789abcdef0123456789abcdef\n");
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_bad_database)
{
	char db[PATH_MAX + 16], *out = NULL, *err = NULL, sock[PATH_MAX + 16];
	char cmd[PATH_MAX + 16];
	const char *argv[] = {
	    getenv("JOBD") != NULL ? getenv("JOBD") : "daemon/jobd", "--config",
	    "none", "--state-dir", H.state, "--socket", sock, NULL};
	int fd, st;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(harness_halt(&H, SIGTERM), 0);
	snprintf(db, sizeof db, "%s/jobd.db", H.state);
	snprintf(sock, sizeof sock, "%s/other.sock", H.dir);
	/* Damaged beyond recognition: not started over. */
	fd = open(db, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(
	    write(fd, "this is not a database, not at all\n", 35), 35);
	close(fd);
	snprintf(db, sizeof db, "%s/jobd.db-wal", H.state);
	unlink(db);
	st = run_capture(argv, NULL, &out, &err);
	ck_assert_int_eq(st, 1);
	ck_assert_msg(strstr(err, "jobd.db") != NULL &&
	                  strstr(err, "not a jobd database") != NULL,
	    "%s", err);
	free(out);
	free(err);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", H.dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* stats' store object, from a fresh reply (decref the reply). */
static bool
store_up(struct client *c)
{
	json_t *r = call_ok(c, "{\"op\":\"stats\"}");
	bool up = json_is_true(json_object_get(
	    json_object_get(json_object_get(r, "stats"), "store"),
	    "available"));

	json_decref(r);
	return up;
}

#define FILL_JOBS 40

START_TEST(test_store_full)
{
	char conf[PATH_MAX + 16], big[12000], req[13000], go[PATH_MAX + 16];
	const char *extra[] = {"--config", conf, NULL};
	struct client filler, other, follower;
	int64_t deadline;
	json_int_t done, held;
	json_t *r;
	int i, acked = 0;
	FILE *fp;

	snprintf(
	    conf, sizeof conf, "/tmp/check_durability.%d.conf", (int)getpid());
	write_file(conf, "store-max-size = 96K\n");
	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_unix(&filler, H.sock), 0);
	ck_assert_int_eq(client_unix(&other, H.sock), 0);
	r = call_ok(&other, "{\"op\":\"submit\",\"wait\":true,\"job\":{"
	                    "\"kind\":\"echo\"}}");
	done = num(json_object_get(r, "job"), "id");
	json_decref(r);
	/* A job that ends while the store cannot write, and a client
	 * following it. */
	snprintf(go, sizeof go, "%s/go", H.dir);
	snprintf(req, sizeof req,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"while [ ! -e %s ]; "
	    "do sleep 0.01; done\"]}",
	    go);
	held = submit_id(&other, req);
	json_decref(wait_state(&other, held, "running"));
	ck_assert_int_eq(client_unix(&follower, H.sock), 0);
	json_decref(call_okf(&follower,
	    "{\"op\":\"logs\",\"job\":%lld,\"follow\":true}", (long long)held));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	/* More than fits: 40 jobs of 12 KB, pipelined. */
	snprintf(req, sizeof req,
	    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\",\"delay_ms\":"
	    "3600000,\"args\":{\"pad\":\"%s\"}}}\n",
	    big);
	for (i = 0; i < FILL_JOBS; i++)
		ck_assert_int_eq(client_send(&filler, req, strlen(req)), 0);
	deadline = (int64_t)(test_now_ns() / 1000000) + 20000;
	while (store_up(&other)) {
		ck_assert_msg((int64_t)(test_now_ns() / 1000000) < deadline,
		    "the store never filled up");
		usleep(10000); /* polling stats: nothing to wait on */
	}
	/* Writes are refused, reads go on. */
	call_err(&other, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\"}}",
	    "store_unavailable");
	call_err(&other, "{\"op\":\"cancel\",\"job\":1}", "store_unavailable");
	json_decref(call_ok(&other, "{\"op\":\"get\",\"job\":1}"));
	json_decref(call_ok(&other, "{\"op\":\"queue\",\"action\":\"list\"}"));
	/* A wait for a job whose end is on disk needs no commit. */
	r = call_okf(&other, "{\"op\":\"wait\",\"job\":%lld}", (long long)done);
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	json_decref(r);
	ck_assert_int_ge(counter_of(&other, "store_refusals"), 2);
	ck_assert(harness_log_wait(&H, "store: cannot write"));
	/* The followed job ends: jobd says so (reads), but not to its
	 * follower until the end is on disk. */
	ck_assert_ptr_nonnull(fp = fopen(go, "w"));
	fclose(fp);
	deadline = (int64_t)(test_now_ns() / 1000000) + 20000;
	for (;;) {
		/* By get: a wait on it would be held too. */
		r = get_job(&other, held);
		i = strcmp(str(r, "state"), "succeeded") == 0;
		json_decref(r);
		if (i)
			break;
		ck_assert((int64_t)(test_now_ns() / 1000000) < deadline);
		usleep(10000); /* polling a state: nothing to wait on */
	}
	while ((r = client_reply(&follower, 300)) != NULL) {
		ck_assert_str_ne(str(r, "event"), "finished");
		json_decref(r);
	}

	/* Room: everything acknowledged so far is committed and answered. */
	write_file(conf, "store-max-size = 0\n");
	kill(H.pid, SIGHUP);
	/* What came after the store failed was refused. */
	for (i = 0; i < FILL_JOBS; i++) {
		r = client_reply(&filler, 20000);
		ck_assert_ptr_nonnull(r);
		if (json_is_true(json_object_get(r, "ok")))
			acked++;
		else
			ck_assert_str_eq(
			    reply_error_code(r), "store_unavailable");
		json_decref(r);
	}
	ck_assert_int_gt(acked, 0);
	ck_assert_int_lt(acked, FILL_JOBS);
	for (;;) {
		r = client_reply(&follower, 20000);
		ck_assert_ptr_nonnull(r);
		i = strcmp(str(r, "event"), "finished") == 0;
		json_decref(r);
		if (i)
			break;
	}
	client_close(&follower);
	ck_assert(store_up(&other));
	json_decref(
	    call_ok(&other, "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\"}}"));
	ck_assert(harness_log_wait(&H, "is written again"));
	client_close(&filler);
	client_close(&other);
	/* And they were written. */
	ck_assert_int_eq(harness_restart(&H, SIGKILL, extra), 0);
	ck_assert_int_eq(client_unix(&other, H.sock), 0);
	r = call_ok(&other, "{\"op\":\"list\",\"state\":[\"delayed\"],"
	                    "\"limit\":1000}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), acked);
	json_decref(r);
	client_close(&other);
	unlink(conf);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* --- The crash test ---------------------------------------------------------
 */

struct crasher {
	pthread_t thread;
	int n;                  /* which client */
	json_int_t acked[4096]; /* ids acknowledged */
	size_t nacked;
	const char *runs; /* file exec jobs append their id to */
};

static volatile int crash_round;

static void *
crash_client(void *arg)
{
	struct crasher *cr = arg;
	struct client c;
	char req[PATH_MAX + 256];
	json_t *r;
	int i;

	if (client_unix(&c, H.sock) != 0)
		return NULL;
	for (i = 0; cr->nacked < sizeof cr->acked / sizeof cr->acked[0]; i++) {
		/* Every third job runs a command, the others are echoes. */
		if (i % 3 == 0)
			snprintf(req, sizeof req,
			    "{\"op\":\"submit\",\"job\":{\"kind\":\"exec\","
			    "\"argv\":[\"sh\",\"-c\",\"echo $JOBD_JOB_ID >> "
			    "%s\"],\"retry\":{\"max_attempts\":2,\"base_ms\":"
			    "1,\"jitter\":false}}}\n",
			    cr->runs);
		else
			snprintf(req, sizeof req,
			    "{\"op\":\"submit\",\"job\":{\"kind\":\"echo\","
			    "\"args\":{\"c\":%d,\"i\":%d}}}\n",
			    cr->n, i);
		if (client_send(&c, req, strlen(req)) != 0)
			break;
		if ((r = client_reply(&c, 20000)) == NULL)
			break; /* jobd was killed */
		if (json_is_true(json_object_get(r, "ok")))
			cr->acked[cr->nacked++] =
			    num(json_object_get(r, "job"), "id");
		json_decref(r);
	}
	client_close(&c);
	return NULL;
}

/* How often each id appears in the runs file. */
static int
runs_of(const char *path, json_int_t id)
{
	char line[64];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (atoll(line) == id)
			n++;
	}
	fclose(f);
	return n;
}

START_TEST(test_crash_rounds)
{
	static struct crasher cr[CRASH_CLIENTS];
	char runs[PATH_MAX + 16], req[64];
	json_int_t max_id = 0, first;
	struct timespec ts;
	struct client c;
	json_t *job;
	size_t total = 0, i;
	int round, k;
	unsigned seed = (unsigned)getpid();

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	snprintf(runs, sizeof runs, "%s/runs", H.dir);
	for (round = 0; round < CRASH_ROUNDS; round++) {
		for (k = 0; k < CRASH_CLIENTS; k++) {
			cr[k].n = k;
			cr[k].nacked = 0;
			cr[k].runs = runs;
			ck_assert_int_eq(pthread_create(&cr[k].thread, NULL,
			                     crash_client, &cr[k]),
			    0);
		}
		/* Kill it at a random moment: 20 to 220 ms in. */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(20 + rand_r(&seed) % 200) * 1000000L;
		nanosleep(&ts, NULL);
		ck_assert_int_eq(harness_halt(&H, SIGKILL), 0);
		for (k = 0; k < CRASH_CLIENTS; k++)
			pthread_join(cr[k].thread, NULL);
		ck_assert_int_eq(harness_respawn(&H, NULL), 0);
		ck_assert_int_eq(client_unix(&c, H.sock), 0);
		/* Every acknowledged job is there and ends, within its
		 * attempts; ids are new. */
		first = 0;
		for (k = 0; k < CRASH_CLIENTS; k++) {
			for (i = 0; i < cr[k].nacked; i++) {
				json_int_t id = cr[k].acked[i];

				ck_assert_int_gt(id, max_id);
				if (first == 0 || id < first)
					first = id;
				snprintf(req, sizeof req,
				    "{\"op\":\"wait\",\"job\":%lld}",
				    (long long)id);
				job = client_call(&c, req);
				ck_assert_msg(
				    json_is_true(json_object_get(job, "ok")),
				    "round %d: job %lld: %s", round,
				    (long long)id, reply_error_code(job));
				ck_assert_int_le(runs_of(runs, id), 2);
				json_decref(job);
				total++;
			}
		}
		for (k = 0; k < CRASH_CLIENTS; k++) {
			for (i = 0; i < cr[k].nacked; i++) {
				if (cr[k].acked[i] > max_id)
					max_id = cr[k].acked[i];
			}
		}
		client_close(&c);
	}
	/* Ids after the last round are new too. */
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	ck_assert_int_gt(submit_id(&c, "{\"kind\":\"echo\"}"), max_id);
	client_close(&c);
	ck_assert_uint_gt(total, 0);
	printf("crash test: %d rounds, %zu acknowledged jobs, all found and "
	       "finished\n",
	    CRASH_ROUNDS, total);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

static Suite *
durability_suite(void)
{
	Suite *s = suite_create("durability");
	TCase *tc = tcase_create("durability");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_restart_keeps_jobs);
	tcase_add_test(tc, test_restart_lower_limits);
	tcase_add_test(tc, test_stop_requeues_running);
	tcase_add_test(tc, test_stop_edges);
	tcase_add_test(tc, test_second_stop);
	tcase_add_test(tc, test_exec_outlives_crash);
	tcase_add_test(tc, test_exec_unrecorded_crash);
	tcase_add_test(tc, test_bad_database);
	tcase_add_test(tc, test_store_full);
	tcase_add_test(tc, test_crash_rounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(durability_suite());
}
