/*
 * check_pool: the work-stealing pool.  Every test accounts for every task:
 * it ran exactly once, or it was dropped and its free callback ran once.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "common.h"
#include "pool.h"

#define DEADLINE_NS (30ULL * 1000000000ULL)

static atomic_long ran;
static atomic_long dropped;

static void
count_run(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
}

static void
count_drop(void *arg)
{
	(void)arg;
	atomic_fetch_add(&dropped, 1);
}

static void
reset_counts(void)
{
	atomic_store(&ran, 0);
	atomic_store(&dropped, 0);
}

/* A gate a task can block on until the test opens it. */
struct gate {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	bool entered;
	bool open;
};

static void
gate_init(struct gate *g)
{
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->entered = g->open = false;
}

static void
gate_destroy(struct gate *g)
{
	pthread_mutex_destroy(&g->mtx);
	pthread_cond_destroy(&g->cond);
}

static void
gate_task(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->mtx);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
	atomic_fetch_add(&ran, 1);
}

static void
gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mtx);
}

/* Wait (bounded) until every worker of p is parked. */
static bool
wait_all_parked(struct pool *p)
{
	uint64_t end = test_now_ns() + DEADLINE_NS;

	while (pool_parked(p) != pool_size(p)) {
		if (test_now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* Wait (bounded) until *counter reaches n. */
static bool
wait_count(atomic_long *counter, long n)
{
	uint64_t end = test_now_ns() + DEADLINE_NS;

	while (atomic_load(counter) < n) {
		if (test_now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

START_TEST(test_create_sizes)
{
	static const unsigned sizes[] = {1, 2, 3, 8};
	struct pool *p;
	size_t i;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		p = pool_create(sizes[i]);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(pool_size(p), sizes[i]);
		ck_assert_int_eq(pool_worker_index(p), -1);
		pool_free(p);
	}
	p = pool_create(0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(pool_size(p), 1);
	pool_free(p);
	errno = 0;
	ck_assert_ptr_null(pool_create(100000));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_runs_every_task)
{
	struct pool *p = pool_create(4);
	long i, n = 10000;

	reset_counts();
	for (i = 0; i < n; i++)
		ck_assert_int_eq(
		    pool_submit(p, count_run, count_drop, NULL), 0);
	pool_shutdown(p, POOL_DRAIN);
	ck_assert_int_eq(atomic_load(&ran), n);
	ck_assert_int_eq(atomic_load(&dropped), 0);
	pool_free(p);
}
END_TEST

START_TEST(test_idle_workers_park)
{
	struct pool *p = pool_create(2);
	long i;

	reset_counts();
	ck_assert(wait_all_parked(p));
	for (i = 0; i < 1000; i++)
		pool_submit(p, count_run, NULL, NULL);
	ck_assert(wait_count(&ran, 1000));
	/* Once the work is gone, both workers park again. */
	ck_assert(wait_all_parked(p));
	ck_assert_int_eq(atomic_load(&ran), 1000);
	pool_free(p);
}
END_TEST

START_TEST(test_shutdown_idle)
{
	struct pool *p;

	p = pool_create(3);
	pool_shutdown(p, POOL_DRAIN);
	pool_shutdown(p, POOL_DRAIN); /* idempotent */
	pool_free(p);
	p = pool_create(3);
	pool_shutdown(p, POOL_CANCEL);
	pool_free(p);
	/* pool_free alone drains. */
	p = pool_create(1);
	pool_free(p);
}
END_TEST

START_TEST(test_submit_after_shutdown)
{
	struct pool *p = pool_create(2);

	reset_counts();
	pool_shutdown(p, POOL_DRAIN);
	errno = 0;
	ck_assert_int_eq(pool_submit(p, count_run, count_drop, NULL), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_eq(atomic_load(&ran), 0);
	/* The caller still owns arg: the free callback did not run. */
	ck_assert_int_eq(atomic_load(&dropped), 0);
	pool_free(p);
}
END_TEST

struct shutdown_arg {
	struct pool *pool;
	enum pool_shutdown_mode mode;
};

static void *
shutdown_thread(void *arg)
{
	struct shutdown_arg *sa = arg;

	pool_shutdown(sa->pool, sa->mode);
	return NULL;
}

/* Submit until the pool refuses, proving shutdown has begun. */
static long
submit_until_refused(struct pool *p)
{
	long accepted = 0;

	while (pool_submit(p, count_run, count_drop, NULL) == 0)
		accepted++;
	ck_assert_int_eq(errno, ECANCELED);
	return accepted;
}

/*
 * One worker is held inside a task while 100 more wait in the queue and
 * shutdown starts; then the gate opens.
 */
static void
shutdown_with_queued(enum pool_shutdown_mode mode)
{
	struct pool *p = pool_create(1);
	struct shutdown_arg sa = {p, mode};
	struct gate g;
	pthread_t th;
	long i, extra;

	reset_counts();
	gate_init(&g);
	ck_assert_int_eq(pool_submit(p, gate_task, NULL, &g), 0);
	gate_wait_entered(&g);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(
		    pool_submit(p, count_run, count_drop, NULL), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, shutdown_thread, &sa), 0);
	extra = submit_until_refused(p);
	gate_open(&g);
	pthread_join(th, NULL);
	if (mode == POOL_DRAIN) {
		ck_assert_int_eq(atomic_load(&ran), 1 + 100 + extra);
		ck_assert_int_eq(atomic_load(&dropped), 0);
	} else {
		/* Only the task that had started ran. */
		ck_assert_int_eq(atomic_load(&ran), 1);
		ck_assert_int_eq(atomic_load(&dropped), 100 + extra);
	}
	pool_free(p);
	gate_destroy(&g);
}

START_TEST(test_drain_with_queued)
{
	shutdown_with_queued(POOL_DRAIN);
}
END_TEST

START_TEST(test_cancel_with_queued)
{
	shutdown_with_queued(POOL_CANCEL);
}
END_TEST

struct nest_arg {
	struct pool *pool;
	int depth;
	atomic_int *bad_index;
};

static void nest_task(void *arg);

static void
nest_free(void *arg)
{
	free(arg);
	atomic_fetch_add(&dropped, 1);
}

/* Each task below depth 0 submits two children (a binary tree). */
static void
nest_task(void *arg)
{
	struct nest_arg *na = arg, *child;
	int i;

	atomic_fetch_add(&ran, 1);
	if (pool_worker_index(na->pool) < 0)
		atomic_fetch_add(na->bad_index, 1);
	for (i = 0; i < 2 && na->depth > 0; i++) {
		child = malloc(sizeof(*child));
		*child = *na;
		child->depth--;
		if (pool_submit(na->pool, nest_task, nest_free, child) != 0)
			atomic_fetch_add(na->bad_index, 1);
	}
	free(na);
}

START_TEST(test_nested_submission)
{
	struct pool *p = pool_create(2);
	struct nest_arg *root = malloc(sizeof(*root));
	atomic_int bad = 0;

	reset_counts();
	*root = (struct nest_arg){p, 12, &bad};
	ck_assert_int_eq(pool_submit(p, nest_task, nest_free, root), 0);
	pool_shutdown(p, POOL_DRAIN);
	/* A full binary tree of depth 12 has 2^13 - 1 nodes. */
	ck_assert_int_eq(atomic_load(&ran), (1L << 13) - 1);
	ck_assert_int_eq(atomic_load(&dropped), 0);
	ck_assert_int_eq(atomic_load(&bad), 0);
	pool_free(p);
}
END_TEST

struct fib_arg {
	struct pool *pool;
	int n;
	long result;
};

/* Fork-join Fibonacci: groups nest as deep as n. */
static void
fib_task(void *arg)
{
	struct fib_arg *fa = arg, left, right;
	struct pool_group g;

	if (fa->n < 2) {
		fa->result = fa->n;
		return;
	}
	left = (struct fib_arg){fa->pool, fa->n - 1, 0};
	right = (struct fib_arg){fa->pool, fa->n - 2, 0};
	pool_group_init(&g);
	pool_group_submit(fa->pool, &g, fib_task, NULL, &left);
	fib_task(&right);
	pool_group_wait(fa->pool, &g);
	fa->result = left.result + right.result;
}

START_TEST(test_group_fork_join)
{
	static const unsigned sizes[] = {1, 2, 4};
	struct fib_arg fa;
	struct pool_group g;
	struct pool *p;
	size_t i;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		p = pool_create(sizes[i]);
		/* From outside the pool: the caller blocks. */
		fa = (struct fib_arg){p, 22, 0};
		pool_group_init(&g);
		ck_assert_int_eq(
		    pool_group_submit(p, &g, fib_task, NULL, &fa), 0);
		pool_group_wait(p, &g);
		ck_assert_int_eq(fa.result, 17711);
		pool_free(p);
	}
}
END_TEST

START_TEST(test_group_empty_and_outside)
{
	struct pool *p = pool_create(2);
	struct pool_group g;
	long i;

	reset_counts();
	pool_group_init(&g);
	pool_group_wait(p, &g); /* empty group: returns at once */
	for (i = 0; i < 5000; i++)
		pool_group_submit(p, &g, count_run, NULL, NULL);
	pool_group_wait(p, &g);
	ck_assert_int_eq(atomic_load(&ran), 5000);
	pool_free(p);
}
END_TEST

struct cancel_join_arg {
	struct pool *pool;
	struct gate *gate;
	long children;
};

/* Waits at the gate, then forks children and joins them. */
static void
cancel_join_task(void *arg)
{
	struct cancel_join_arg *ca = arg;
	struct pool_group g;
	long i;

	gate_task(ca->gate);
	pool_group_init(&g);
	for (i = 0; i < ca->children; i++)
		pool_group_submit(ca->pool, &g, count_run, count_drop, NULL);
	pool_group_wait(ca->pool, &g);
}

START_TEST(test_cancel_running_join)
{
	struct pool *p = pool_create(2);
	struct shutdown_arg sa = {p, POOL_CANCEL};
	struct cancel_join_arg ca;
	struct gate g;
	pthread_t th;
	long extra;

	reset_counts();
	gate_init(&g);
	ca = (struct cancel_join_arg){p, &g, 300};
	ck_assert_int_eq(pool_submit(p, cancel_join_task, NULL, &ca), 0);
	gate_wait_entered(&g);
	ck_assert_int_eq(pthread_create(&th, NULL, shutdown_thread, &sa), 0);
	extra = submit_until_refused(p);
	gate_open(&g);
	/* The children are dropped, the join still returns: no hang.  The
	 * other worker may have run some of the extra tasks before the
	 * cancel, but never a child. */
	pthread_join(th, NULL);
	ck_assert_int_ge(atomic_load(&dropped), 300);
	ck_assert_int_eq(
	    atomic_load(&ran) + atomic_load(&dropped), 1 + 300 + extra);
	pool_free(p);
	gate_destroy(&g);
}
END_TEST

struct producer_arg {
	struct pool *pool;
	long n;
};

static void *
producer(void *arg)
{
	struct producer_arg *pa = arg;
	long i;

	for (i = 0; i < pa->n; i++) {
		if (pool_submit(pa->pool, count_run, count_drop, NULL) != 0)
			abort();
	}
	return NULL;
}

/* 1M tasks from two outside threads: executed == submitted. */
START_TEST(test_stress_million)
{
	struct pool *p = pool_create(2);
	struct producer_arg pa = {p, 500000};
	pthread_t th[2];
	int i;

	reset_counts();
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, producer, &pa), 0);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pool_shutdown(p, POOL_DRAIN);
	ck_assert_int_eq(atomic_load(&ran), 1000000);
	ck_assert_int_eq(atomic_load(&dropped), 0);
	pool_free(p);
}
END_TEST

/* Cancel while producers are still submitting: every task is accounted. */
static void *
producer_until_refused(void *arg)
{
	struct producer_arg *pa = arg;

	pa->n = 0;
	while (pool_submit(pa->pool, count_run, count_drop, NULL) == 0)
		pa->n++;
	return NULL;
}

START_TEST(test_stress_cancel_under_load)
{
	struct pool *p = pool_create(2);
	struct producer_arg pa[2] = {{p, 0}, {p, 0}};
	pthread_t th[2];
	int i;

	reset_counts();
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL,
		                     producer_until_refused, &pa[i]),
		    0);
	/* Let some work through (a count, not a time), then cancel. */
	ck_assert(wait_count(&ran, 20000));
	pool_shutdown(p, POOL_CANCEL);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_ge(atomic_load(&ran), 20000);
	ck_assert_int_eq(
	    atomic_load(&ran) + atomic_load(&dropped), pa[0].n + pa[1].n);
	pool_free(p);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("basic");
	TCase *stress = tcase_create("stress");

	tcase_add_test(tc, test_create_sizes);
	tcase_add_test(tc, test_runs_every_task);
	tcase_add_test(tc, test_idle_workers_park);
	tcase_add_test(tc, test_shutdown_idle);
	tcase_add_test(tc, test_submit_after_shutdown);
	tcase_add_test(tc, test_drain_with_queued);
	tcase_add_test(tc, test_cancel_with_queued);
	tcase_add_test(tc, test_nested_submission);
	tcase_add_test(tc, test_group_fork_join);
	tcase_add_test(tc, test_group_empty_and_outside);
	tcase_add_test(tc, test_cancel_running_join);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tcase_add_test(stress, test_stress_million);
	tcase_add_test(stress, test_stress_cancel_under_load);
	tcase_set_timeout(stress, 600);
	suite_add_tcase(s, stress);
	return s;
}

int
main(void)
{
	return test_run_suite(pool_suite());
}
