/*
 * primitives: throughput of lib/'s building blocks, each against what it
 * replaces.  Prints figures; asserts nothing.  Each figure is the median of
 * three runs.
 *
 *   pool      1M empty tasks from one outside thread, against a classic pool
 *             (one mutex + condition variable queue shared by all workers);
 *             1M tasks that each fork two children and join them
 *   chan      messages/s, 1 producer/1 consumer and 2/2
 *   par       par_sum over 100M int64 and par_sort over 10M int64, against
 *             the same code on one thread and against a plain loop / qsort
 *   counters  increments/s from 2 threads: per-thread slots vs one atomic
 *
 * Usage: primitives [-q] (-q: a tenth of the sizes, for a quick look)
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "counters.h"
#include "par.h"
#include "pool.h"
#include "xmalloc.h"

#define RUNS 3

static size_t scale = 1;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of RUNS calls of fn, each returning seconds. */
static double
median_s(double (*fn)(void *), void *arg)
{
	double t[RUNS];
	int i;

	for (i = 0; i < RUNS; i++)
		t[i] = fn(arg);
	qsort(t, RUNS, sizeof t[0], cmp_double);
	return t[RUNS / 2];
}

/* --- A classic pool: one locked queue shared by every worker ------------- */

struct classic_task {
	struct classic_task *next;
	void (*fn)(void *);
	void *arg;
};

struct classic_pool {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct classic_task *head, *tail;
	bool stop;
	unsigned nthreads;
	pthread_t threads[64];
};

static void *
classic_worker(void *arg)
{
	struct classic_pool *cp = arg;
	struct classic_task *t;

	for (;;) {
		pthread_mutex_lock(&cp->mtx);
		while (cp->head == NULL && !cp->stop)
			pthread_cond_wait(&cp->cond, &cp->mtx);
		if ((t = cp->head) == NULL) {
			pthread_mutex_unlock(&cp->mtx);
			return NULL;
		}
		if ((cp->head = t->next) == NULL)
			cp->tail = NULL;
		pthread_mutex_unlock(&cp->mtx);
		t->fn(t->arg);
		free(t);
	}
}

static struct classic_pool *
classic_create(unsigned n)
{
	struct classic_pool *cp = xcalloc(1, sizeof(*cp));
	unsigned i;

	pthread_mutex_init(&cp->mtx, NULL);
	pthread_cond_init(&cp->cond, NULL);
	cp->nthreads = n;
	for (i = 0; i < n; i++)
		pthread_create(&cp->threads[i], NULL, classic_worker, cp);
	return cp;
}

static void
classic_submit(struct classic_pool *cp, void (*fn)(void *), void *arg)
{
	struct classic_task *t = xmalloc(sizeof(*t));

	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&cp->mtx);
	if (cp->tail != NULL)
		cp->tail->next = t;
	else
		cp->head = t;
	cp->tail = t;
	pthread_cond_signal(&cp->cond);
	pthread_mutex_unlock(&cp->mtx);
}

/* Runs everything queued, then stops. */
static void
classic_free(struct classic_pool *cp)
{
	unsigned i;

	pthread_mutex_lock(&cp->mtx);
	cp->stop = true;
	pthread_cond_broadcast(&cp->cond);
	pthread_mutex_unlock(&cp->mtx);
	for (i = 0; i < cp->nthreads; i++)
		pthread_join(cp->threads[i], NULL);
	pthread_mutex_destroy(&cp->mtx);
	pthread_cond_destroy(&cp->cond);
	free(cp);
}

/* --- pool ------------------------------------------------------------------
 */

static atomic_long sink;

static void
empty_task(void *arg)
{
	(void)arg;
}

static size_t
pool_tasks(void)
{
	return 1000000 / scale;
}

static double
run_pool_empty(void *arg)
{
	struct pool *p = pool_create(2);
	size_t i, n = pool_tasks();
	double t0;

	(void)arg;
	t0 = now_s();
	for (i = 0; i < n; i++)
		pool_submit(p, empty_task, NULL, NULL);
	pool_shutdown(p, POOL_DRAIN);
	t0 = now_s() - t0;
	pool_free(p);
	return t0;
}

static double
run_classic_empty(void *arg)
{
	struct classic_pool *cp = classic_create(2);
	size_t i, n = pool_tasks();
	double t0;

	(void)arg;
	t0 = now_s();
	for (i = 0; i < n; i++)
		classic_submit(cp, empty_task, NULL);
	classic_free(cp);
	return now_s() - t0;
}

static struct pool *forkjoin_pool;

static void
child_task(void *arg)
{
	atomic_fetch_add_explicit((atomic_long *)arg, 1, memory_order_relaxed);
}

static void
parent_task(void *arg)
{
	struct pool_group g;
	atomic_long local = 0;

	(void)arg;
	pool_group_init(&g);
	pool_group_submit(forkjoin_pool, &g, child_task, NULL, &local);
	pool_group_submit(forkjoin_pool, &g, child_task, NULL, &local);
	pool_group_wait(forkjoin_pool, &g);
	atomic_fetch_add_explicit(
	    &sink, atomic_load(&local), memory_order_relaxed);
}

static double
run_pool_forkjoin(void *arg)
{
	size_t i, n = pool_tasks();
	double t0;

	(void)arg;
	forkjoin_pool = pool_create(2);
	atomic_store(&sink, 0);
	t0 = now_s();
	for (i = 0; i < n; i++)
		pool_submit(forkjoin_pool, parent_task, NULL, NULL);
	pool_shutdown(forkjoin_pool, POOL_DRAIN);
	t0 = now_s() - t0;
	if ((size_t)atomic_load(&sink) != 2 * n)
		fprintf(stderr, "fork-join: lost children!\n");
	pool_free(forkjoin_pool);
	return t0;
}

static void
bench_pool(void)
{
	double ours, classic, fj;
	size_t n = pool_tasks();

	ours = median_s(run_pool_empty, NULL);
	classic = median_s(run_classic_empty, NULL);
	fj = median_s(run_pool_forkjoin, NULL);
	printf("pool: %zu empty tasks, 2 workers\n", n);
	printf("  work-stealing pool      %12.0f tasks/s\n", n / ours);
	printf("  mutex+condvar pool      %12.0f tasks/s\n", n / classic);
	printf("  ratio                   %12.2fx\n", classic / ours);
	printf("pool: %zu tasks each forking 2 children and joining them\n", n);
	printf("  fork-join               %12.0f tasks/s (%.0f parents/s)\n",
	    3 * n / fj, n / fj);
}

/* --- chan ------------------------------------------------------------------
 */

struct chan_bench {
	struct chan *ch;
	size_t per_thread;
	int producers;
};

static void *
chan_producer(void *arg)
{
	struct chan_bench *cb = arg;
	size_t i;

	for (i = 0; i < cb->per_thread; i++)
		chan_send(cb->ch, (void *)(uintptr_t)(i + 1));
	return NULL;
}

static void *
chan_consumer(void *arg)
{
	struct chan_bench *cb = arg;
	void *item;
	long n = 0;

	while (chan_recv(cb->ch, &item) == 0)
		n++;
	atomic_fetch_add(&sink, n);
	return NULL;
}

static double
run_chan(void *arg)
{
	struct chan_bench cb = *(struct chan_bench *)arg;
	pthread_t prod[8], cons[8];
	double t0;
	int i;

	cb.ch = chan_create(1024, 0);
	atomic_store(&sink, 0);
	t0 = now_s();
	for (i = 0; i < cb.producers; i++) {
		pthread_create(&cons[i], NULL, chan_consumer, &cb);
		pthread_create(&prod[i], NULL, chan_producer, &cb);
	}
	for (i = 0; i < cb.producers; i++)
		pthread_join(prod[i], NULL);
	chan_close(cb.ch);
	for (i = 0; i < cb.producers; i++)
		pthread_join(cons[i], NULL);
	t0 = now_s() - t0;
	if ((size_t)atomic_load(&sink) != cb.per_thread * cb.producers)
		fprintf(stderr, "chan: lost messages!\n");
	chan_free(cb.ch);
	return t0;
}

static void
bench_chan(void)
{
	size_t total = 2000000 / scale;
	struct chan_bench cb;
	int np;

	printf("chan: %zu messages, capacity 1024\n", total);
	for (np = 1; np <= 2; np++) {
		cb = (struct chan_bench){NULL, total / np, np};
		printf("  %d producer(s)/%d consumer(s) %10.0f msgs/s\n", np,
		    np, total / median_s(run_chan, &cb));
	}
}

/* --- par -------------------------------------------------------------------
 */

struct par_bench {
	struct pool *pool;
	int64_t *data;
	int64_t *work;
	size_t n;
	int64_t result;
};

static double
run_par_sum(void *arg)
{
	struct par_bench *pb = arg;
	struct par_ctx ctx = {pb->pool, 1 << 20, NULL};
	double t0 = now_s();

	par_sum(&ctx, pb->data, pb->n, &pb->result);
	return now_s() - t0;
}

static double
run_loop_sum(void *arg)
{
	struct par_bench *pb = arg;
	uint64_t s = 0;
	size_t i;
	double t0 = now_s();

	for (i = 0; i < pb->n; i++)
		s += (uint64_t)pb->data[i];
	pb->result = (int64_t)s;
	return now_s() - t0;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
fill_random(int64_t *a, size_t n)
{
	uint64_t s = 88172645463325252ULL;
	size_t i;

	for (i = 0; i < n; i++)
		a[i] = (int64_t)xorshift(&s);
}

static double
run_par_sort(void *arg)
{
	struct par_bench *pb = arg;
	struct par_ctx ctx = {pb->pool, 0, NULL};
	double t0;

	memcpy(pb->work, pb->data, pb->n * sizeof(int64_t));
	t0 = now_s();
	par_sort(&ctx, pb->work, pb->n);
	return now_s() - t0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double
run_qsort(void *arg)
{
	struct par_bench *pb = arg;
	double t0;

	memcpy(pb->work, pb->data, pb->n * sizeof(int64_t));
	t0 = now_s();
	qsort(pb->work, pb->n, sizeof(int64_t), cmp_i64);
	return now_s() - t0;
}

static void
bench_par(void)
{
	struct pool *pool = pool_create(2);
	struct par_bench pb = {0};
	double par2, par1, loop, bytes;
	int64_t r2, r1, rl;

	pb.n = 100000000 / scale;
	pb.data = xmalloc(pb.n * sizeof(int64_t));
	fill_random(pb.data, pb.n);
	bytes = (double)pb.n * sizeof(int64_t);

	pb.pool = pool;
	par2 = median_s(run_par_sum, &pb);
	r2 = pb.result;
	pb.pool = NULL;
	par1 = median_s(run_par_sum, &pb);
	r1 = pb.result;
	loop = median_s(run_loop_sum, &pb);
	rl = pb.result;
	printf("par_sum: %zu int64 (%.0f MB)%s\n", pb.n, bytes / 1e6,
	    r1 == r2 && r2 == rl ? "" : "  RESULTS DIFFER!");
	printf("  2 workers               %12.2f GB/s\n", bytes / par2 / 1e9);
	printf("  same code, 1 thread     %12.2f GB/s  speed-up %.2fx\n",
	    bytes / par1 / 1e9, par1 / par2);
	printf("  plain loop              %12.2f GB/s  ratio %.2fx\n",
	    bytes / loop / 1e9, loop / par2);

	pb.n = 10000000 / scale;
	pb.work = xmalloc(pb.n * sizeof(int64_t));
	pb.pool = pool;
	par2 = median_s(run_par_sort, &pb);
	pb.pool = NULL;
	par1 = median_s(run_par_sort, &pb);
	loop = median_s(run_qsort, &pb);
	printf("par_sort: %zu int64\n", pb.n);
	printf("  2 workers               %12.0f ms\n", par2 * 1e3);
	printf("  same code, 1 thread     %12.0f ms  speed-up %.2fx\n",
	    par1 * 1e3, par1 / par2);
	printf("  qsort                   %12.0f ms  ratio %.2fx\n", loop * 1e3,
	    loop / par2);
	free(pb.work);
	free(pb.data);
	pool_free(pool);
}

/* --- counters --------------------------------------------------------------
 */

struct counters_bench {
	struct counters *c;
	atomic_ulong *shared;
	size_t n;
};

static void *
slot_incrementer(void *arg)
{
	struct counters_bench *cb = arg;
	struct counters_slot *s = counters_slot(cb->c);
	size_t i;

	for (i = 0; i < cb->n; i++)
		counter_add(s, COUNTER_requests, 1);
	return NULL;
}

static void *
shared_incrementer(void *arg)
{
	struct counters_bench *cb = arg;
	size_t i;

	for (i = 0; i < cb->n; i++)
		atomic_fetch_add_explicit(cb->shared, 1, memory_order_relaxed);
	return NULL;
}

static double
run_two(void *(*fn)(void *), struct counters_bench *cb)
{
	pthread_t th[2];
	double t0 = now_s();
	int i;

	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, fn, cb);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return now_s() - t0;
}

static double
run_slots(void *arg)
{
	struct counters_bench *cb = arg;
	double t;

	cb->c = counters_create(4);
	t = run_two(slot_incrementer, cb);
	if (counters_get(cb->c, COUNTER_requests) != 2 * cb->n)
		fprintf(stderr, "counters: lost increments!\n");
	counters_free(cb->c);
	return t;
}

static double
run_shared(void *arg)
{
	return run_two(shared_incrementer, arg);
}

static void
bench_counters(void)
{
	atomic_ulong shared = 0;
	struct counters_bench cb = {NULL, &shared, 50000000 / scale};
	double slots, one;

	slots = median_s(run_slots, &cb);
	one = median_s(run_shared, &cb);
	printf("counters: 2 threads x %zu increments\n", cb.n);
	printf("  per-thread slots        %12.0f incr/s\n", 2 * cb.n / slots);
	printf("  one shared atomic       %12.0f incr/s\n", 2 * cb.n / one);
	printf("  ratio                   %12.2fx\n", one / slots);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-q") == 0)
		scale = 10;
	printf("bench/primitives: %ld online CPUs, median of %d runs\n",
	    sysconf(_SC_NPROCESSORS_ONLN), RUNS);
	bench_pool();
	bench_chan();
	bench_par();
	bench_counters();
	return 0;
}
