/*
 * check_store: the SQLite store on its own, driven by a libevent loop as
 * jobd drives it.  Records come back after a reopen exactly as written
 * (puts, replacements, deletes, in every table); a round of the loop is
 * one batch and the commit hook reports it; a database that cannot be
 * written (capped as a full disk would be) refuses nothing, says why,
 * and commits everything once it can again, in fewer transactions than
 * batches; a file that is not a database, or one from a newer jobd, is an
 * error that names it.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "store.h"

#define DEADLINE_MS 20000

static struct event_base *base;
static struct event *tick;
static char dir[PATH_MAX], path[PATH_MAX + 16];
static uint64_t reported; /* what the commit hook said last */
static int hook_calls;

static int64_t
mono_ms(void)
{
	return (int64_t)(test_now_ns() / 1000000);
}

static void
on_commit(uint64_t seq, void *arg)
{
	ck_assert_ptr_eq(arg, &reported);
	ck_assert_uint_gt(seq, reported);
	reported = seq;
	hook_calls++;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
setup(void)
{
	struct timeval tv = {0, 20000};

	snprintf(dir, sizeof dir, "%s/check_store.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	reported = 0;
	hook_calls = 0;
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	store_close();
	event_free(tick);
	event_base_free(base);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
open_ok(enum store_durability d)
{
	char err[512] = "";

	ck_assert_msg(store_open(path, d, base, on_commit, &reported, err,
	                  sizeof err) == 0,
	    "%s", err);
	ck_assert(store_enabled());
}

static void
start_ok(void)
{
	char err[256];

	ck_assert_int_eq(store_start(err, sizeof err), 0);
}

/* Run the loop until the hook has reported seq (deadline: fail). */
static void
run_until_committed(uint64_t seq)
{
	int64_t deadline = mono_ms() + DEADLINE_MS;

	while (reported < seq) {
		ck_assert_msg(mono_ms() < deadline,
		    "batch %llu not committed (at %llu)",
		    (unsigned long long)seq, (unsigned long long)reported);
		event_base_loop(base, EVLOOP_ONCE);
	}
	ck_assert_uint_ge(store_committed(), seq);
}

/* What store_load() gives back, as "key=value\n" lines. */
struct dump {
	char *text;
	size_t len, n;
};

static int
dump_rec(uint64_t id, const char *name, const char *data, size_t len, void *arg)
{
	struct dump *d = arg;
	char key[64];
	size_t klen;

	if (name != NULL)
		snprintf(key, sizeof key, "%s=", name);
	else
		snprintf(key, sizeof key, "%llu=", (unsigned long long)id);
	klen = strlen(key);
	d->text = realloc(d->text, d->len + klen + len + 2);
	memcpy(d->text + d->len, key, klen);
	memcpy(d->text + d->len + klen, data, len);
	d->len += klen + len;
	d->text[d->len++] = '\n';
	d->text[d->len] = '\0';
	d->n++;
	return 0;
}

static char *
load_text(enum store_table t, size_t *n)
{
	struct dump d = {calloc(1, 1), 0, 0};
	char err[256];

	ck_assert_msg(
	    store_load(t, dump_rec, &d, err, sizeof err) == 0, "%s", err);
	if (n != NULL)
		*n = d.n;
	return d.text;
}

static void
put_str(enum store_table t, uint64_t id, const char *name, const char *v)
{
	store_put(t, id, name, v, strlen(v));
}

START_TEST(test_round_trip)
{
	char value[64], *text;
	uint64_t seq;
	size_t n;
	int i;

	open_ok(STORE_FULL);
	start_ok();
	for (i = 1; i <= 1000; i++) {
		snprintf(value, sizeof value, "{\"job\":%d}", i);
		put_str(STORE_JOBS, (uint64_t)i, NULL, value);
	}
	put_str(STORE_OUTPUT, 7, NULL, "out\0put");
	store_put(STORE_OUTPUT, 8, NULL, "a\0b", 3); /* bytes, NULs too */
	put_str(STORE_QUEUES, 0, "nightly", "{\"limit\":2}");
	put_str(STORE_QUEUES, 0, "default", "{}");
	put_str(STORE_META, 0, "next_id", "1001");
	seq = store_seq();
	ck_assert_uint_eq(seq, 1); /* one round: one batch */
	run_until_committed(seq);
	ck_assert_int_eq(hook_calls, 1);

	/* The next round: replace, delete. */
	put_str(STORE_JOBS, 5, NULL, "{\"job\":5,\"state\":\"done\"}");
	store_delete(STORE_JOBS, 6, NULL);
	store_delete(STORE_QUEUES, 0, "nightly");
	put_str(STORE_META, 0, "next_id", "1002");
	ck_assert_uint_eq(store_seq(), 2);
	run_until_committed(2);
	store_close();
	ck_assert(!store_enabled());

	open_ok(STORE_NORMAL);
	text = load_text(STORE_JOBS, &n);
	ck_assert_uint_eq(n, 999);
	ck_assert_ptr_nonnull(
	    strstr(text, "\n5={\"job\":5,\"state\":\"done\"}\n"));
	ck_assert_ptr_null(strstr(text, "\n6="));
	ck_assert_ptr_nonnull(strstr(text, "\n1000={\"job\":1000}\n"));
	ck_assert(strncmp(text, "1={\"job\":1}\n2=", 14) == 0); /* id order */
	free(text);
	text = load_text(STORE_OUTPUT, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(memcmp(text, "7=out\n8=a\0b\n", 12), 0);
	free(text);
	text = load_text(STORE_QUEUES, &n);
	ck_assert_str_eq(text, "default={}\n");
	free(text);
	text = load_text(STORE_META, NULL);
	ck_assert_str_eq(text, "next_id=1002\n");
	free(text);
}
END_TEST

/* Several rounds of the loop, each a batch, reported in order. */
static int rounds_left;

static void
round_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;
	struct timeval now = {0, 0};
	char v[32];
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < 10; i++) {
		snprintf(v, sizeof v, "r%d.%d", rounds_left, i);
		put_str(STORE_JOBS, (uint64_t)(rounds_left * 10 + i), NULL, v);
	}
	if (--rounds_left > 0)
		event_add(self, &now);
}

START_TEST(test_rounds_and_stats)
{
	struct store_stats st;
	struct event *ev;
	struct timeval now = {0, 0};
	size_t n;

	open_ok(STORE_FULL);
	start_ok();
	rounds_left = 100;
	ev = event_new(base, -1, 0, round_cb, event_self_cbarg());
	event_add(ev, &now);
	while (rounds_left > 0)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_uint_eq(store_seq(), 100);
	run_until_committed(100);
	event_free(ev);
	store_get_stats(&st);
	ck_assert_uint_eq(st.records, 1000);
	ck_assert_uint_eq(st.batches, 100);
	ck_assert_uint_ge(st.commits, 1);
	ck_assert_uint_le(st.commits, 100);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_uint_gt(st.commit_us_p50, 0);
	ck_assert_uint_le(st.commit_us_p50, st.commit_us_p99);
	ck_assert_uint_le(st.commit_us_p99, st.commit_us_max);
	ck_assert_uint_gt(st.db_bytes, 0);
	store_close();
	open_ok(STORE_FULL);
	free(load_text(STORE_JOBS, &n));
	ck_assert_uint_eq(n, 1000);
}
END_TEST

START_TEST(test_full_disk)
{
	char big[8192], err[256];
	struct store_stats st;
	uint64_t seq;
	size_t n;
	int i, round;

	open_ok(STORE_FULL);
	start_ok();
	memset(big, 'x', sizeof big);
	put_str(STORE_META, 0, "first", "1");
	run_until_committed(1);
	ck_assert(store_available());

	/* Capped near its size: the next commits cannot fit. */
	store_set_max_size(8 * 4096);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 20; i++)
			store_put(STORE_OUTPUT, (uint64_t)(round * 20 + i),
			    NULL, big, sizeof big);
		store_flush(); /* a batch per round, without running the loop */
	}
	seq = store_seq();
	ck_assert_uint_eq(seq, 6);
	{
		int64_t deadline = mono_ms() + DEADLINE_MS;

		while (store_available()) {
			ck_assert(mono_ms() < deadline);
			event_base_loop(base, EVLOOP_ONCE);
		}
	}
	store_error(err, sizeof err);
	ck_assert_msg(strstr(err, "full") != NULL, "%s", err);
	ck_assert_uint_lt(store_committed(), seq);
	store_get_stats(&st);
	ck_assert_uint_gt(st.failures, 0);
	ck_assert_uint_eq(st.pending, 100);

	/* Room again: everything goes in, in fewer commits than batches. */
	store_set_max_size(0);
	run_until_committed(seq);
	ck_assert(store_available());
	store_error(err, sizeof err);
	ck_assert_str_eq(err, "");
	store_get_stats(&st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.batches, 6);
	ck_assert_uint_lt(st.commits, st.batches);
	store_close();
	open_ok(STORE_FULL);
	free(load_text(STORE_OUTPUT, &n));
	ck_assert_uint_eq(n, 100);
}
END_TEST

START_TEST(test_bad_files)
{
	char err[512], garbage[4096];
	int fd;

	/* Not a database. */
	memset(garbage, 'g', sizeof garbage);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, garbage, sizeof garbage), sizeof garbage);
	close(fd);
	ck_assert_int_eq(store_open(path, STORE_FULL, base, on_commit,
	                     &reported, err, sizeof err),
	    -1);
	ck_assert_msg(strstr(err, path) != NULL &&
	                  strstr(err, "not a jobd database") != NULL,
	    "%s", err);
	ck_assert(!store_enabled());
	/* The file is left as it was, for its owner to look at. */
	{
		struct stat st;

		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_size, sizeof garbage);
	}
	ck_assert_int_eq(unlink(path), 0);

	/* A newer jobd's. */
	open_ok(STORE_FULL);
	store_close();
	{
		sqlite3 *db;

		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99",
		                     NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}
	ck_assert_int_eq(store_open(path, STORE_FULL, base, on_commit,
	                     &reported, err, sizeof err),
	    -1);
	ck_assert_msg(strstr(err, "newer jobd") != NULL, "%s", err);

	/* A directory that is not there. */
	snprintf(path, sizeof path, "%s/nothere/%s", dir, STORE_FILE);
	ck_assert_int_eq(store_open(path, STORE_FULL, base, on_commit,
	                     &reported, err, sizeof err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(test_off_and_names)
{
	struct store_stats st;

	ck_assert(!store_enabled());
	put_str(STORE_JOBS, 1, NULL, "ignored");
	store_delete(STORE_JOBS, 1, NULL);
	ck_assert_uint_eq(store_committed(), 0);
	ck_assert(store_available());
	store_get_stats(&st);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_int_eq(store_durability_parse("full"), STORE_FULL);
	ck_assert_int_eq(store_durability_parse("normal"), STORE_NORMAL);
	ck_assert_int_eq(store_durability_parse("off"), STORE_OFF);
	ck_assert_int_eq(store_durability_parse("FULL"), -1);
	ck_assert_int_eq(store_durability_parse(""), -1);
	ck_assert_str_eq(store_durability_name(STORE_NORMAL), "normal");
	store_close(); /* nothing open: fine */
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_rounds_and_stats);
	tcase_add_test(tc, test_full_disk);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_off_and_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(store_suite());
}
