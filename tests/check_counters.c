/*
 * check_counters: unit tests for lib/counters.c: names, per-thread slots and
 * their lookup cache, bucket arithmetic, percentiles, the JSON snapshot, a
 * multi-threaded stress run with a concurrent reader, and the abort when
 * more threads record than the instance was sized for.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common.h"
#include "counters.h"
#include "log.h"

/* Written out by hand, so a broken X-macro expansion shows up here. */
static const char *const want_counters[][2] = {
    {"jobs_submitted", "jobs accepted by submit"},
    {"jobs_started", "job attempts started"},
    {"jobs_succeeded", "jobs finished succeeded"},
    {"jobs_failed", "jobs finished failed after their last attempt"},
    {"jobs_timed_out", "jobs finished timed out after their last attempt"},
    {"jobs_retried", "attempts scheduled again after a failure"},
    {"jobs_cancelled", "jobs cancelled"},
    {"jobs_expired", "jobs that expired before they started"},
    {"jobs_kicked", "dead jobs requeued by kick"},
    {"jobs_deduplicated", "submits answered with an existing job by key"},
    {"jobs_dependency_failed", "jobs ended as a dependency did not succeed"},
    {"cron_fired", "recurring job firings that submitted a job"},
    {"cron_skipped", "recurring job firings skipped: the last job ran on"},
    {"cron_failed", "recurring job firings whose submit failed"},
    {"store_refusals", "requests refused: the store could not write"},
    {"conns_total", "connections accepted"},
    {"requests", "requests handled"},
    {"requests_hello", "hello requests"},
    {"requests_ping", "ping requests"},
    {"requests_submit", "submit requests"},
    {"requests_get", "get requests"},
    {"requests_wait", "wait requests"},
    {"requests_cancel", "cancel requests"},
    {"requests_list", "list requests"},
    {"requests_logs", "logs requests"},
    {"requests_watch", "watch requests"},
    {"requests_stats", "stats requests"},
    {"requests_queue", "queue requests"},
    {"requests_dead", "dead requests"},
    {"requests_kick", "kick requests"},
    {"requests_discard", "discard requests"},
    {"requests_cron", "cron requests"},
    {"auth_failures", "TCP clients refused: bad, late or no token"},
    {"conns_refused", "unix clients refused by their credentials"},
    {"tls_conns", "TLS connections accepted: handshake completed"},
    {"tls_handshake_failures", "TLS handshakes failed or not finished"},
    {"conns_over_limit", "connections refused: --max-conns reached"},
    {"conns_timed_out", "connections closed: idle or a line too slow"},
    {"conns_dropped", "connections dropped: replies unread past the cap"},
    {"requests_over_limit", "requests refused by a size or depth limit"},
    {"protocol_errors", "requests answered with an error"},
    {"backpressure_pauses",
        "times a client went unread until it read its replies"},
    {"bytes_in", "bytes read from clients"},
    {"bytes_out", "bytes written to clients"},
    {"config_reloads", "configuration files read again (SIGHUP)"},
};
static const char *const want_gauges[][2] = {
    {"jobs_queued", "jobs waiting to run"},
    {"jobs_running", "jobs running"},
    {"jobs_waiting", "jobs waiting for their dependencies"},
    {"conns_current", "open connections"},
};
static const char *const want_hists[][2] = {
    {"queue_wait_us", "time from queued to started"},
    {"run_time_us", "attempt run time"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Run fn(arg) on a new thread and wait for it. */
static void
run_in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}

/* Silence the fatalx() line in tests that expect an abort. */
static void
quiet_log(void)
{
	int fd;

	if ((fd = open("/dev/null", O_WRONLY)) != -1)
		log_set_fd(fd);
}

START_TEST(test_names)
{
	unsigned i;

	ck_assert_uint_eq(COUNTER_MAX, NELEM(want_counters));
	ck_assert_uint_eq(GAUGE_MAX, NELEM(want_gauges));
	ck_assert_uint_eq(HIST_MAX, NELEM(want_hists));
	for (i = 0; i < COUNTER_MAX; i++) {
		ck_assert_str_eq(counter_name(i), want_counters[i][0]);
		ck_assert_str_eq(counter_help(i), want_counters[i][1]);
	}
	for (i = 0; i < GAUGE_MAX; i++) {
		ck_assert_str_eq(gauge_name(i), want_gauges[i][0]);
		ck_assert_str_eq(gauge_help(i), want_gauges[i][1]);
	}
	for (i = 0; i < HIST_MAX; i++) {
		ck_assert_str_eq(hist_name(i), want_hists[i][0]);
		ck_assert_str_eq(hist_help(i), want_hists[i][1]);
	}
	ck_assert_str_eq(
	    counter_name(COUNTER_jobs_timed_out), "jobs_timed_out");
	ck_assert_str_eq(gauge_name(GAUGE_conns_current), "conns_current");
	ck_assert_str_eq(hist_name(HIST_run_time_us), "run_time_us");

	/* Out of range: NULL, not a neighbour's name. */
	ck_assert_ptr_null(counter_name(COUNTER_MAX));
	ck_assert_ptr_null(counter_help(COUNTER_MAX));
	ck_assert_ptr_null(gauge_name(GAUGE_MAX));
	ck_assert_ptr_null(gauge_help(GAUGE_MAX));
	ck_assert_ptr_null(hist_name(HIST_MAX));
	ck_assert_ptr_null(hist_help(HIST_MAX));
	ck_assert_ptr_null(counter_name((enum counter_id) - 1));
	ck_assert_ptr_null(gauge_name((enum gauge_id) - 1));
	ck_assert_ptr_null(hist_help((enum hist_id) - 1));
}
END_TEST

START_TEST(test_create_bad)
{
	struct counters *c;

	errno = 0;
	ck_assert_ptr_null(counters_create(0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(counters_create(UINT32_MAX));
	ck_assert_int_eq(errno, EINVAL);
	counters_free(NULL);

	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	counters_free(c);
}
END_TEST

START_TEST(test_fresh_is_zero)
{
	struct hist_summary hs;
	struct counters *c;
	unsigned i;

	c = counters_create(8);
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < COUNTER_MAX; i++)
		ck_assert_uint_eq(counters_get(c, i), 0);
	for (i = 0; i < GAUGE_MAX; i++)
		ck_assert_int_eq(gauges_get(c, i), 0);
	for (i = 0; i < HIST_MAX; i++) {
		memset(&hs, 0xff, sizeof hs);
		hists_get(c, i, &hs);
		ck_assert_uint_eq(hs.count, 0);
		ck_assert_uint_eq(hs.sum, 0);
		ck_assert_uint_eq(hs.p50, 0);
		ck_assert_uint_eq(hs.p90, 0);
		ck_assert_uint_eq(hs.p99, 0);
		ck_assert_uint_eq(hs.max, 0);
	}
	counters_free(c);
}
END_TEST

START_TEST(test_counter_gauge_add)
{
	struct counters_slot *s;
	struct counters *c;
	unsigned i;

	c = counters_create(2);
	ck_assert_ptr_nonnull(c);
	s = counters_slot(c);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_eq(counters_slot(c), s);

	for (i = 0; i < COUNTER_MAX; i++)
		counter_add(s, i, 100 + i);
	counter_add(s, COUNTER_requests, 5);
	counter_add(s, COUNTER_requests, 0);
	counter_add(s, COUNTER_bytes_out, (uint64_t)1 << 40);
	for (i = 0; i < COUNTER_MAX; i++) {
		uint64_t want = 100 + i;

		if (i == COUNTER_requests)
			want += 5;
		if (i == COUNTER_bytes_out)
			want += (uint64_t)1 << 40;
		ck_assert_uint_eq(counters_get(c, i), want);
	}

	gauge_add(s, GAUGE_jobs_queued, 7);
	gauge_add(s, GAUGE_jobs_queued, -3);
	ck_assert_int_eq(gauges_get(c, GAUGE_jobs_queued), 4);
	gauge_add(s, GAUGE_jobs_queued, -10);
	ck_assert_int_eq(gauges_get(c, GAUGE_jobs_queued), -6);
	gauge_add(s, GAUGE_jobs_running, INT64_MIN);
	ck_assert_int_eq(gauges_get(c, GAUGE_jobs_running), INT64_MIN);
	gauge_add(s, GAUGE_jobs_running, INT64_MAX);
	ck_assert_int_eq(gauges_get(c, GAUGE_jobs_running), -1);
	gauge_add(s, GAUGE_jobs_running, 1);
	ck_assert_int_eq(gauges_get(c, GAUGE_jobs_running), 0);
	ck_assert_int_eq(gauges_get(c, GAUGE_conns_current), 0);
	counters_free(c);
}
END_TEST

static void *
gauge_down_thread(void *arg)
{
	struct counters *c = arg;

	/* Takes off more than this thread ever added: its slot goes < 0. */
	gauge_add(counters_slot(c), GAUGE_jobs_queued, -5);
	counter_add(counters_slot(c), COUNTER_jobs_started, 2);
	return NULL;
}

START_TEST(test_gauge_across_threads)
{
	struct counters *c;

	c = counters_create(2);
	ck_assert_ptr_nonnull(c);
	gauge_add(counters_slot(c), GAUGE_jobs_queued, 3);
	counter_add(counters_slot(c), COUNTER_jobs_started, 1);
	run_in_thread(gauge_down_thread, c);
	ck_assert_int_eq(gauges_get(c, GAUGE_jobs_queued), -2);
	ck_assert_uint_eq(counters_get(c, COUNTER_jobs_started), 3);
	counters_free(c);
}
END_TEST

START_TEST(test_two_instances)
{
	struct counters *a, *b;
	struct counters_slot *sa, *sb;

	/* One slot each: a second registration in either would abort. */
	a = counters_create(1);
	b = counters_create(1);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	sa = counters_slot(a);
	sb = counters_slot(b);
	ck_assert_ptr_ne(sa, sb);
	counter_add(sa, COUNTER_requests, 3);
	counter_add(sb, COUNTER_requests, 40);
	gauge_add(sb, GAUGE_conns_current, -1);
	ck_assert_ptr_eq(counters_slot(a), sa);
	ck_assert_ptr_eq(counters_slot(b), sb);
	counter_add(counters_slot(a), COUNTER_requests, 1);
	ck_assert_uint_eq(counters_get(a, COUNTER_requests), 4);
	ck_assert_uint_eq(counters_get(b, COUNTER_requests), 40);
	ck_assert_int_eq(gauges_get(a, GAUGE_conns_current), 0);
	ck_assert_int_eq(gauges_get(b, GAUGE_conns_current), -1);
	counters_free(a);
	counters_free(b);
}
END_TEST

/*
 * More instances than the thread-local cache holds, visited round-robin:
 * each lookup misses the cache, and must find the thread's existing slot
 * rather than claim another (max_threads 1 would abort).
 */
START_TEST(test_many_instances_cycle)
{
	enum { NINST = 9, ROUNDS = 20 };
	struct counters *c[NINST];
	struct counters_slot *first[NINST];
	unsigned i, r;

	for (i = 0; i < NINST; i++) {
		c[i] = counters_create(1);
		ck_assert_ptr_nonnull(c[i]);
		first[i] = counters_slot(c[i]);
	}
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < NINST; i++) {
			struct counters_slot *s = counters_slot(c[i]);

			ck_assert_ptr_eq(s, first[i]);
			counter_add(s, COUNTER_bytes_in, i + 1);
		}
	}
	for (i = 0; i < NINST; i++) {
		ck_assert_uint_eq(
		    counters_get(c[i], COUNTER_bytes_in), (i + 1) * ROUNDS);
		counters_free(c[i]);
	}
}
END_TEST

/*
 * Create, use, free and create again in one thread: the new instance may get
 * the old address, and the cache must not hand back the freed slot.  Without
 * ASan, malloc hands the same blocks back and a cache keyed only by pointer
 * returns a stale slot, so the sum reads 0; ASan's quarantine avoids reuse.
 */
START_TEST(test_create_free_create)
{
	struct counters *c;
	struct counters_slot *s;
	unsigned i;

	for (i = 0; i < 16; i++) {
		c = counters_create(1);
		ck_assert_ptr_nonnull(c);
		ck_assert_uint_eq(counters_get(c, COUNTER_jobs_failed), 0);
		s = counters_slot(c);
		counter_add(s, COUNTER_jobs_failed, i + 1);
		hist_record(s, HIST_queue_wait_us, i);
		ck_assert_ptr_eq(counters_slot(c), s);
		ck_assert_uint_eq(counters_get(c, COUNTER_jobs_failed), i + 1);
		counters_free(c);
	}
}
END_TEST

START_TEST(test_bucket_small_exact)
{
	uint64_t v;

	for (v = 0; v < COUNTERS_HIST_SUB; v++) {
		ck_assert_uint_eq(hist_bucket_of(v), v);
		ck_assert_uint_eq(hist_bucket_upper((unsigned)v), v);
	}
	ck_assert_uint_eq(hist_bucket_of(8), 8);
	ck_assert_uint_eq(hist_bucket_of(15), 15);
	ck_assert_uint_eq(hist_bucket_of(16), 16);
	ck_assert_uint_eq(hist_bucket_of(17), 16);
	ck_assert_uint_eq(hist_bucket_of(18), 17);
	ck_assert_uint_eq(hist_bucket_upper(16), 17);
	ck_assert_uint_eq(
	    hist_bucket_of(UINT64_MAX), COUNTERS_HIST_BUCKETS - 1);
	ck_assert_uint_eq(
	    hist_bucket_upper(COUNTERS_HIST_BUCKETS - 1), UINT64_MAX);
	ck_assert_uint_eq(hist_bucket_upper(COUNTERS_HIST_BUCKETS), UINT64_MAX);
	ck_assert_uint_eq(hist_bucket_upper(UINT32_MAX), UINT64_MAX);
}
END_TEST

START_TEST(test_bucket_monotonic)
{
	uint64_t v, prev, next;
	unsigned b, pb;

	/* Every value up to 2^16, then steps of about 1/37 to the top. */
	pb = hist_bucket_of(0);
	for (v = 1; v <= 1u << 16; v++) {
		b = hist_bucket_of(v);
		ck_assert_uint_ge(b, pb);
		ck_assert_uint_le(b, pb + 1);
		pb = b;
	}
	prev = v;
	for (;;) {
		b = hist_bucket_of(prev);
		ck_assert_uint_ge(b, pb);
		ck_assert_uint_lt(b, COUNTERS_HIST_BUCKETS);
		pb = b;
		next = prev + prev / 37 + 1;
		if (next < prev)
			break;
		prev = next;
	}
	ck_assert_uint_le(pb, hist_bucket_of(UINT64_MAX));

	/* Each bucket's upper bound is in it, and the next value is not. */
	for (b = 0; b < COUNTERS_HIST_BUCKETS; b++) {
		ck_assert_uint_eq(hist_bucket_of(hist_bucket_upper(b)), b);
		if (b + 1 < COUNTERS_HIST_BUCKETS) {
			ck_assert_uint_eq(
			    hist_bucket_of(hist_bucket_upper(b) + 1), b + 1);
			ck_assert_uint_lt(
			    hist_bucket_upper(b), hist_bucket_upper(b + 1));
		}
	}
}
END_TEST

/* upper(bucket(v)) >= v and (upper - v) / v <= 1/8. */
static void
check_bound(uint64_t v)
{
	uint64_t up;

	up = hist_bucket_upper(hist_bucket_of(v));
	ck_assert_msg(
	    up >= v, "upper %ju < value %ju", (uintmax_t)up, (uintmax_t)v);
	ck_assert_msg(up - v <= v / COUNTERS_HIST_SUB,
	    "upper %ju too far above %ju", (uintmax_t)up, (uintmax_t)v);
}

START_TEST(test_bucket_upper_error)
{
	uint64_t v, p;
	unsigned e;

	for (v = 0; v < 5000; v++)
		check_bound(v);
	for (e = 0; e < 64; e++) {
		p = (uint64_t)1 << e;
		check_bound(p);
		check_bound(p - 1);
		check_bound(p + 1);
		check_bound(p + p / 2);
		if (e > 0)
			check_bound(p + (p - 1)); /* all ones below bit e */
		/* Exact powers of two are the lower edge of their bucket. */
		if (e >= COUNTERS_HIST_SUB_BITS)
			ck_assert_uint_eq(
			    hist_bucket_of(p), hist_bucket_of(p - 1) + 1);
	}
	for (v = 1; v < UINT64_MAX / 3; v = v * 3 + 1)
		check_bound(v);
	check_bound(UINT64_MAX);
	check_bound(UINT64_MAX - 1);
	check_bound(INT64_MAX);
	check_bound((uint64_t)INT64_MAX + 1);
}
END_TEST

START_TEST(test_percentiles_uniform)
{
	struct hist_summary hs;
	struct counters_slot *s;
	struct counters *c;
	uint64_t v;

	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	s = counters_slot(c);
	/* 1..1000 once each, in an order that is not sorted. */
	for (v = 0; v < 1000; v++)
		hist_record(s, HIST_run_time_us, (v * 367) % 1000 + 1);
	hists_get(c, HIST_run_time_us, &hs);
	ck_assert_uint_eq(hs.count, 1000);
	ck_assert_uint_eq(hs.sum, 500500);
	ck_assert_uint_eq(hs.max, 1000);
	ck_assert_uint_ge(hs.p50, 500);
	ck_assert_uint_le(hs.p50 * 8, 500 * 9);
	ck_assert_uint_ge(hs.p90, 900);
	ck_assert_uint_le(hs.p90 * 8, 900 * 9);
	ck_assert_uint_ge(hs.p99, 990);
	ck_assert_uint_le(hs.p99 * 8, 990 * 9);
	/* Exactly: buckets [480,511], [896,959], and [960,1023] capped. */
	ck_assert_uint_eq(hs.p50, 511);
	ck_assert_uint_eq(hs.p90, 959);
	ck_assert_uint_eq(hs.p99, 1000);

	/* The other histogram is untouched. */
	hists_get(c, HIST_queue_wait_us, &hs);
	ck_assert_uint_eq(hs.count, 0);
	ck_assert_uint_eq(hs.max, 0);
	counters_free(c);
}
END_TEST

START_TEST(test_percentiles_bimodal)
{
	struct hist_summary hs;
	struct counters_slot *s;
	struct counters *c;
	unsigned i;

	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	s = counters_slot(c);
	for (i = 0; i < 90; i++)
		hist_record(s, HIST_queue_wait_us, 10);
	for (i = 0; i < 10; i++)
		hist_record(s, HIST_queue_wait_us, 1000000);
	hists_get(c, HIST_queue_wait_us, &hs);
	ck_assert_uint_eq(hs.count, 100);
	ck_assert_uint_eq(hs.sum, 90 * 10 + 10 * 1000000);
	ck_assert_uint_eq(hs.p50, 10);
	ck_assert_uint_eq(hs.p90, 10); /* 90th of 100 is still a 10 */
	/* Bucket [983040, 1048575], capped at the exact max. */
	ck_assert_uint_eq(hs.p99, 1000000);
	ck_assert_uint_eq(hs.max, 1000000);

	/* One more slow value moves p90 into the slow mode. */
	hist_record(s, HIST_queue_wait_us, 1000);
	hists_get(c, HIST_queue_wait_us, &hs);
	ck_assert_uint_eq(hs.count, 101);
	ck_assert_uint_eq(hs.p90, 1023);
	counters_free(c);
}
END_TEST

START_TEST(test_single_value)
{
	struct hist_summary hs;
	struct counters *c;

	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	hist_record(counters_slot(c), HIST_run_time_us, 12345);
	hists_get(c, HIST_run_time_us, &hs);
	ck_assert_uint_eq(hs.count, 1);
	ck_assert_uint_eq(hs.sum, 12345);
	ck_assert_uint_eq(hs.max, 12345);
	/* The bucket reaches 13311, but no percentile can exceed max. */
	ck_assert_uint_eq(hs.p50, 12345);
	ck_assert_uint_eq(hs.p90, 12345);
	ck_assert_uint_eq(hs.p99, 12345);
	counters_free(c);

	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	hist_record(counters_slot(c), HIST_run_time_us, 0);
	hists_get(c, HIST_run_time_us, &hs);
	ck_assert_uint_eq(hs.count, 1);
	ck_assert_uint_eq(hs.sum, 0);
	ck_assert_uint_eq(hs.max, 0);
	ck_assert_uint_eq(hs.p50, 0);
	ck_assert_uint_eq(hs.p99, 0);
	counters_free(c);
}
END_TEST

START_TEST(test_huge_values)
{
	struct hist_summary hs;
	struct counters_slot *s;
	struct counters *c;
	json_t *snap, *h;

	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	s = counters_slot(c);
	hist_record(s, HIST_run_time_us, UINT64_MAX);
	hist_record(s, HIST_run_time_us, 1);
	hists_get(c, HIST_run_time_us, &hs);
	ck_assert_uint_eq(hs.count, 2);
	ck_assert_uint_eq(hs.sum, 0); /* wraps modulo 2^64 */
	ck_assert_uint_eq(hs.max, UINT64_MAX);
	ck_assert_uint_eq(hs.p50, 1);
	ck_assert_uint_eq(hs.p99, UINT64_MAX);

	/* JSON integers are signed: clamped, not wrapped to -1. */
	counter_add(s, COUNTER_bytes_in, UINT64_MAX);
	snap = counters_snapshot_json(c);
	ck_assert_ptr_nonnull(snap);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_object_get(snap, "counters"), "bytes_in")),
	    INT64_MAX);
	h = json_object_get(json_object_get(snap, "histograms"), "run_time_us");
	ck_assert_int_eq(
	    json_integer_value(json_object_get(h, "max")), INT64_MAX);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(h, "p99")), INT64_MAX);
	ck_assert_int_eq(json_integer_value(json_object_get(h, "p50")), 1);
	json_decref(snap);
	counters_free(c);
}
END_TEST

struct half_arg {
	struct counters *c;
	uint64_t from, to;
};

static void *
record_range_thread(void *arg)
{
	struct half_arg *ha = arg;
	struct counters_slot *s = counters_slot(ha->c);
	uint64_t v;

	for (v = ha->from; v <= ha->to; v++)
		hist_record(s, HIST_run_time_us, v);
	return NULL;
}

/* Histograms recorded by two threads merge as if recorded by one. */
START_TEST(test_hist_merge_threads)
{
	struct half_arg lo, hi;
	struct hist_summary hs;
	struct counters *c;

	c = counters_create(2);
	ck_assert_ptr_nonnull(c);
	lo = (struct half_arg){c, 1, 500};
	hi = (struct half_arg){c, 501, 1000};
	run_in_thread(record_range_thread, &hi);
	run_in_thread(record_range_thread, &lo);
	hists_get(c, HIST_run_time_us, &hs);
	ck_assert_uint_eq(hs.count, 1000);
	ck_assert_uint_eq(hs.sum, 500500);
	ck_assert_uint_eq(hs.max, 1000);
	ck_assert_uint_eq(hs.p50, 511);
	ck_assert_uint_eq(hs.p90, 959);
	ck_assert_uint_eq(hs.p99, 1000);
	counters_free(c);
}
END_TEST

/* Check one section of a parsed snapshot has exactly the expected keys. */
static void
check_section_size(json_t *root, const char *key, size_t n)
{
	json_t *obj;

	obj = json_object_get(root, key);
	ck_assert_msg(json_is_object(obj), "no object \"%s\"", key);
	ck_assert_uint_eq(json_object_size(obj), n);
}

static json_t *
snapshot_roundtrip(struct counters *c)
{
	json_error_t jerr;
	json_t *snap, *parsed;
	char *text;

	snap = counters_snapshot_json(c);
	ck_assert_ptr_nonnull(snap);
	text = json_dumps(snap, JSON_COMPACT);
	ck_assert_ptr_nonnull(text);
	json_decref(snap);
	parsed = json_loads(text, 0, &jerr);
	ck_assert_msg(parsed != NULL, "parse: %s", jerr.text);
	free(text);
	ck_assert(json_is_object(parsed));
	ck_assert_uint_eq(json_object_size(parsed), 3);
	check_section_size(parsed, "counters", COUNTER_MAX);
	check_section_size(parsed, "gauges", GAUGE_MAX);
	check_section_size(parsed, "histograms", HIST_MAX);
	return parsed;
}

static json_int_t
json_int_at(json_t *obj, const char *key)
{
	json_t *v;

	v = json_object_get(obj, key);
	ck_assert_msg(json_is_integer(v), "\"%s\" missing or not integer", key);
	return json_integer_value(v);
}

START_TEST(test_snapshot_zero)
{
	struct counters *c;
	json_t *root, *h;
	unsigned i;

	c = counters_create(3);
	ck_assert_ptr_nonnull(c);
	root = snapshot_roundtrip(c);
	for (i = 0; i < NELEM(want_counters); i++)
		ck_assert_int_eq(json_int_at(json_object_get(root, "counters"),
		                     want_counters[i][0]),
		    0);
	for (i = 0; i < NELEM(want_gauges); i++)
		ck_assert_int_eq(json_int_at(json_object_get(root, "gauges"),
		                     want_gauges[i][0]),
		    0);
	for (i = 0; i < NELEM(want_hists); i++) {
		h = json_object_get(
		    json_object_get(root, "histograms"), want_hists[i][0]);
		ck_assert(json_is_object(h));
		ck_assert_uint_eq(json_object_size(h), 6);
		ck_assert_int_eq(json_int_at(h, "count"), 0);
		ck_assert_int_eq(json_int_at(h, "sum"), 0);
		ck_assert_int_eq(json_int_at(h, "p50"), 0);
		ck_assert_int_eq(json_int_at(h, "p90"), 0);
		ck_assert_int_eq(json_int_at(h, "p99"), 0);
		ck_assert_int_eq(json_int_at(h, "max"), 0);
	}
	json_decref(root);
	counters_free(c);
}
END_TEST

static void *
snapshot_helper_thread(void *arg)
{
	struct counters *c = arg;
	struct counters_slot *s = counters_slot(c);
	unsigned i;

	for (i = 0; i < COUNTER_MAX; i++)
		counter_add(s, i, 1000);
	gauge_add(s, GAUGE_jobs_running, -4);
	hist_record(s, HIST_queue_wait_us, 250);
	return NULL;
}

START_TEST(test_snapshot_values)
{
	struct hist_summary hs;
	struct counters_slot *s;
	struct counters *c;
	json_t *root, *sect, *h;
	unsigned i;

	c = counters_create(2);
	ck_assert_ptr_nonnull(c);
	s = counters_slot(c);
	for (i = 0; i < COUNTER_MAX; i++)
		counter_add(s, i, 10 * i + 1);
	gauge_add(s, GAUGE_jobs_queued, 5);
	gauge_add(s, GAUGE_jobs_running, 1);
	gauge_add(s, GAUGE_conns_current, -2);
	for (i = 1; i <= 100; i++)
		hist_record(s, HIST_queue_wait_us, i);
	run_in_thread(snapshot_helper_thread, c);

	root = snapshot_roundtrip(c);
	sect = json_object_get(root, "counters");
	for (i = 0; i < COUNTER_MAX; i++)
		ck_assert_int_eq(
		    json_int_at(sect, want_counters[i][0]), 10 * i + 1 + 1000);
	sect = json_object_get(root, "gauges");
	ck_assert_int_eq(json_int_at(sect, "jobs_queued"), 5);
	ck_assert_int_eq(json_int_at(sect, "jobs_running"), -3);
	ck_assert_int_eq(json_int_at(sect, "conns_current"), -2);
	sect = json_object_get(root, "histograms");
	h = json_object_get(sect, "queue_wait_us");
	hists_get(c, HIST_queue_wait_us, &hs);
	ck_assert_uint_eq(hs.count, 101);
	ck_assert_uint_eq(hs.sum, 5050 + 250);
	ck_assert_int_eq(json_int_at(h, "count"), 101);
	ck_assert_int_eq(json_int_at(h, "sum"), 5300);
	ck_assert_int_eq(json_int_at(h, "p50"), (json_int_t)hs.p50);
	ck_assert_int_eq(json_int_at(h, "p90"), (json_int_t)hs.p90);
	ck_assert_int_eq(json_int_at(h, "p99"), (json_int_t)hs.p99);
	ck_assert_int_eq(json_int_at(h, "max"), 250);
	/* 51st of 101 is 51, bucket [48,51]; 91st is 91, bucket [88,95]. */
	ck_assert_int_eq(json_int_at(h, "p50"), 51);
	ck_assert_int_eq(json_int_at(h, "p90"), 95);
	h = json_object_get(sect, "run_time_us");
	ck_assert_int_eq(json_int_at(h, "count"), 0);
	ck_assert_int_eq(json_int_at(h, "max"), 0);
	json_decref(root);
	counters_free(c);
}
END_TEST

enum {
	STRESS_THREADS = 4,
	STRESS_OPS = 1000000,
	STRESS_HIST = 100000,
};

struct stress {
	struct counters *c;
	atomic_int done;
};

struct stress_arg {
	struct stress *st;
	unsigned index;
};

static void *
stress_thread(void *arg)
{
	struct stress_arg *sa = arg;
	struct counters *c = sa->st->c;
	uint64_t mult = sa->index + 1;
	unsigned i;

	for (i = 0; i < STRESS_OPS; i++) {
		/* Look the slot up every time: the cache is the hot path. */
		struct counters_slot *s = counters_slot(c);

		counter_add(s, COUNTER_requests, 1);
		gauge_add(s, GAUGE_jobs_running, 1);
		gauge_add(s, GAUGE_jobs_running, -1);
		if (i % (STRESS_OPS / STRESS_HIST) == 0)
			hist_record(s, HIST_run_time_us,
			    mult * (i / (STRESS_OPS / STRESS_HIST)));
	}
	atomic_fetch_add_explicit(&sa->st->done, 1, memory_order_release);
	return NULL;
}

START_TEST(test_stress)
{
	struct stress_arg args[STRESS_THREADS];
	pthread_t threads[STRESS_THREADS];
	struct hist_summary hs;
	struct stress st;
	uint64_t prev = 0, cur, sum_i;
	int64_t g;
	unsigned i, polls = 0;
	int bad_order = 0, bad_gauge = 0, bad_hist = 0, bad_json = 0;
	json_t *snap;

	st.c = counters_create(STRESS_THREADS);
	ck_assert_ptr_nonnull(st.c);
	atomic_init(&st.done, 0);
	for (i = 0; i < STRESS_THREADS; i++) {
		args[i] = (struct stress_arg){&st, i};
		ck_assert_int_eq(
		    pthread_create(&threads[i], NULL, stress_thread, &args[i]),
		    0);
	}

	/*
	 * Read while they write.  Each slot only grows, so the sum never goes
	 * down; each slot's gauge is 0 or 1 at any moment.  Failures are
	 * counted and asserted after the join (ck_assert is slow in a loop).
	 */
	while (atomic_load_explicit(&st.done, memory_order_acquire) <
	       STRESS_THREADS) {
		cur = counters_get(st.c, COUNTER_requests);
		if (cur < prev || cur > (uint64_t)STRESS_THREADS * STRESS_OPS)
			bad_order++;
		prev = cur;
		g = gauges_get(st.c, GAUGE_jobs_running);
		if (g < 0 || g > STRESS_THREADS)
			bad_gauge++;
		hists_get(st.c, HIST_run_time_us, &hs);
		if (hs.count > (uint64_t)STRESS_THREADS * STRESS_HIST ||
		    hs.p50 > hs.max)
			bad_hist++;
		if (++polls % 64 == 0) {
			if ((snap = counters_snapshot_json(st.c)) == NULL)
				bad_json++;
			json_decref(snap);
		}
		sched_yield();
	}
	for (i = 0; i < STRESS_THREADS; i++)
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
	ck_assert_int_eq(bad_order, 0);
	ck_assert_int_eq(bad_gauge, 0);
	ck_assert_int_eq(bad_hist, 0);
	ck_assert_int_eq(bad_json, 0);

	ck_assert_uint_eq(counters_get(st.c, COUNTER_requests),
	    (uint64_t)STRESS_THREADS * STRESS_OPS);
	ck_assert_uint_eq(counters_get(st.c, COUNTER_jobs_submitted), 0);
	ck_assert_int_eq(gauges_get(st.c, GAUGE_jobs_running), 0);
	hists_get(st.c, HIST_run_time_us, &hs);
	ck_assert_uint_eq(hs.count, (uint64_t)STRESS_THREADS * STRESS_HIST);
	/* Thread k records (k + 1) * j for j in 0..STRESS_HIST-1. */
	sum_i = (uint64_t)STRESS_HIST * (STRESS_HIST - 1) / 2;
	ck_assert_uint_eq(
	    hs.sum, sum_i * (STRESS_THREADS * (STRESS_THREADS + 1) / 2));
	ck_assert_uint_eq(hs.max, (uint64_t)STRESS_THREADS * (STRESS_HIST - 1));
	counters_free(st.c);
}
END_TEST

static void *
register_thread(void *arg)
{
	struct counters *c = arg;

	counter_add(counters_slot(c), COUNTER_conns_total, 1);
	return NULL;
}

/* Exactly max_threads threads may record. */
START_TEST(test_max_threads_ok)
{
	struct counters *c;
	unsigned i;

	c = counters_create(4);
	ck_assert_ptr_nonnull(c);
	counter_add(counters_slot(c), COUNTER_conns_total, 10);
	for (i = 0; i < 3; i++)
		run_in_thread(register_thread, c);
	/* The first thread still has its own slot; no fifth one claimed. */
	counter_add(counters_slot(c), COUNTER_conns_total, 10);
	ck_assert_uint_eq(counters_get(c, COUNTER_conns_total), 23);
	counters_free(c);
}
END_TEST

/* One thread too many is a sizing bug: fatalx() aborts (SIGABRT). */
START_TEST(test_too_many_threads)
{
	struct counters *c;

	quiet_log();
	c = counters_create(2);
	ck_assert_ptr_nonnull(c);
	counter_add(counters_slot(c), COUNTER_conns_total, 1);
	run_in_thread(register_thread, c);
	ck_assert_uint_eq(counters_get(c, COUNTER_conns_total), 2);
	run_in_thread(register_thread, c);
	ck_abort_msg("third thread registered in a 2-slot instance");
}
END_TEST

START_TEST(test_bad_id_aborts)
{
	struct counters *c;

	quiet_log();
	c = counters_create(1);
	ck_assert_ptr_nonnull(c);
	counter_add(counters_slot(c), COUNTER_MAX, 1);
	ck_abort_msg("counter_add accepted COUNTER_MAX");
}
END_TEST

static Suite *
counters_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("counters");

	tc = tcase_create("names");
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("basic");
	tcase_add_test(tc, test_create_bad);
	tcase_add_test(tc, test_fresh_is_zero);
	tcase_add_test(tc, test_counter_gauge_add);
	tcase_add_test(tc, test_gauge_across_threads);
	tcase_add_test(tc, test_two_instances);
	tcase_add_test(tc, test_many_instances_cycle);
	tcase_add_test(tc, test_create_free_create);
	tcase_add_test(tc, test_max_threads_ok);
	tcase_add_test_raise_signal(tc, test_too_many_threads, SIGABRT);
	tcase_add_test_raise_signal(tc, test_bad_id_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("buckets");
	tcase_add_test(tc, test_bucket_small_exact);
	tcase_add_test(tc, test_bucket_monotonic);
	tcase_add_test(tc, test_bucket_upper_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("histograms");
	tcase_add_test(tc, test_percentiles_uniform);
	tcase_add_test(tc, test_percentiles_bimodal);
	tcase_add_test(tc, test_single_value);
	tcase_add_test(tc, test_huge_values);
	tcase_add_test(tc, test_hist_merge_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("snapshot");
	tcase_add_test(tc, test_snapshot_zero);
	tcase_add_test(tc, test_snapshot_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("stress");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stress);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(counters_suite());
}
