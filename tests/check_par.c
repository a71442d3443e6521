/*
 * check_par: every par operation against a plain sequential reference
 * written here, for many sizes and grains, without a pool and on pools of
 * 1, 2 and 4 workers; plus cancellation, dropped tasks, nested and
 * concurrent use, and bad arguments.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "par.h"
#include "pool.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL INT64_MIN

static const size_t sizes[] = {
    0, 1, 2, 3, 7, 100, 1001, 4095, 4096, 4097, 100003};
/* 0 is the default grain; SIZE_MAX makes a single chunk. */
static const size_t grains[] = {1, 2, 3, 64, 0, SIZE_MAX};
/* The loop tests run once per entry; 0 means no pool. */
static const unsigned pool_sizes[] = {0, 1, 2, 4};

static uint64_t rng_state;

static void
rng_seed(uint64_t seed)
{
	rng_state = seed;
}

/* xorshift64: deterministic data for every run. */
static uint64_t
rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int64_t *
alloc_i64(size_t n)
{
	int64_t *a;

	a = malloc((n + 1) * sizeof *a);
	ck_assert_ptr_nonnull(a);
	return a;
}

static struct pool *
test_pool(int i)
{
	struct pool *pool;

	if (pool_sizes[i] == 0)
		return NULL;
	pool = pool_create(pool_sizes[i]);
	ck_assert_ptr_nonnull(pool);
	return pool;
}

enum pattern {
	PAT_RANDOM,
	PAT_FEW,      /* many duplicates */
	PAT_SORTED,   /* ascending */
	PAT_REVERSE,  /* descending */
	PAT_EQUAL,    /* all the same */
	PAT_EXTREMES, /* INT64_MIN, INT64_MAX, 0, -1 */
	PAT_NEAR_MAX, /* large values whose sum wraps */
	PAT_COUNT,
};

static void
fill(int64_t *a, size_t n, enum pattern pat)
{
	static const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, 1};
	size_t i;

	for (i = 0; i < n; i++) {
		switch (pat) {
		case PAT_RANDOM:
			a[i] = (int64_t)rng_next();
			break;
		case PAT_FEW:
			a[i] = (int64_t)(rng_next() % 5) - 2;
			break;
		case PAT_SORTED:
			a[i] = (int64_t)i * 3 - 1000;
			break;
		case PAT_REVERSE:
			a[i] = 1000 - (int64_t)i * 3;
			break;
		case PAT_EQUAL:
			a[i] = 42;
			break;
		case PAT_EXTREMES:
			a[i] = extremes[rng_next() % NELEM(extremes)];
			break;
		default:
			a[i] = INT64_MAX - (int64_t)(rng_next() % 1000);
			break;
		}
	}
}

static int
cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

/* Wrapping arithmetic without signed overflow. */
static int64_t
wrap(uint64_t v)
{
	int64_t r;

	memcpy(&r, &v, sizeof r);
	return r;
}

struct counted {
	atomic_long calls;
	/* Cancel flag to raise on the first call, or NULL. */
	atomic_int *cancel;
};

static void
counted_call(void *arg)
{
	struct counted *c = arg;

	atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
	if (c->cancel != NULL)
		atomic_store(c->cancel, 1);
}

static int64_t
map_fn(int64_t v, void *arg)
{
	counted_call(arg);
	return wrap((uint64_t)v * 3 + 1);
}

static int
pred_fn(int64_t v, void *arg)
{
	counted_call(arg);
	return (v & 3) == 0;
}

static int
pred_all(int64_t v, void *arg)
{
	return 1;
}

static int
pred_none(int64_t v, void *arg)
{
	return 0;
}

static int64_t
key_mod7(int64_t v, void *arg)
{
	counted_call(arg);
	return (v % 7 + 7) % 7;
}

static int64_t
key_self(int64_t v, void *arg)
{
	counted_call(arg);
	return v;
}

static int64_t
op_max(int64_t a, int64_t b, void *arg)
{
	return a > b ? a : b;
}

static int64_t
op_or(int64_t a, int64_t b, void *arg)
{
	return a | b;
}

/* Associative, not commutative: the last value that is not SENTINEL. */
static int64_t
op_last(int64_t a, int64_t b, void *arg)
{
	return b == SENTINEL ? a : b;
}

static int64_t
op_first(int64_t a, int64_t b, void *arg)
{
	return a == SENTINEL ? b : a;
}

/*
 * Composition of affine maps x -> m * x + c modulo 2^32, encoded as
 * m << 32 | c: associative, not commutative, identity 1 << 32, and every
 * element and the order of all of them show in the result.
 */
static int64_t
op_affine(int64_t a, int64_t b, void *arg)
{
	uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
	uint32_t ma = (uint32_t)(ua >> 32), ca = (uint32_t)ua;
	uint32_t mb = (uint32_t)(ub >> 32), cb = (uint32_t)ub;
	uint32_t m = mb * ma, c = mb * ca + cb;

	return wrap((uint64_t)m << 32 | c);
}

START_TEST(test_sum)
{
	struct pool *pool = test_pool(_i);
	static const enum pattern pats[] = {
	    PAT_RANDOM, PAT_NEAR_MAX, PAT_EXTREMES};
	size_t si, gi, pi, i, n;
	uint64_t want;
	int64_t *a, got;

	rng_seed(1);
	for (si = 0; si < NELEM(sizes); si++) {
		n = sizes[si];
		a = alloc_i64(n);
		for (pi = 0; pi < NELEM(pats); pi++) {
			fill(a, n, pats[pi]);
			for (want = 0, i = 0; i < n; i++)
				want += (uint64_t)a[i];
			for (gi = 0; gi < NELEM(grains); gi++) {
				struct par_ctx ctx = {pool, grains[gi], NULL};

				got = 12345;
				ck_assert_int_eq(par_sum(&ctx, a, n, &got), 0);
				ck_assert_int_eq(got, wrap(want));
			}
		}
		free(a);
	}
	pool_free(pool);
}
END_TEST

START_TEST(test_sum_wraps)
{
	struct par_ctx ctx = {NULL, 1, NULL};
	int64_t a[] = {INT64_MAX, 1, INT64_MAX, INT64_MAX};
	int64_t got;

	ck_assert_int_eq(par_sum(&ctx, a, 2, &got), 0);
	ck_assert_int_eq(got, INT64_MIN);
	/* 3 * (2^63 - 1) + 1 = 2^64 + 2^63 - 2, which is 2^63 - 2 mod 2^64. */
	ck_assert_int_eq(par_sum(&ctx, a, 4, &got), 0);
	ck_assert_int_eq(got, INT64_MAX - 1);
}
END_TEST

START_TEST(test_map)
{
	struct pool *pool = test_pool(_i);
	size_t si, gi, i, n;
	int64_t *in, *out, *want;
	struct counted c = {0, NULL};

	rng_seed(2);
	for (si = 0; si < NELEM(sizes); si++) {
		n = sizes[si];
		in = alloc_i64(n);
		out = alloc_i64(n);
		want = alloc_i64(n);
		fill(in, n, PAT_RANDOM);
		for (i = 0; i < n; i++)
			want[i] = wrap((uint64_t)in[i] * 3 + 1);
		for (gi = 0; gi < NELEM(grains); gi++) {
			struct par_ctx ctx = {pool, grains[gi], NULL};

			atomic_store(&c.calls, 0);
			memset(out, 0, n * sizeof *out);
			ck_assert_int_eq(
			    par_map(&ctx, in, out, n, map_fn, &c), 0);
			ck_assert_int_eq(atomic_load(&c.calls), (long)n);
			ck_assert_mem_eq(out, want, n * sizeof *out);

			/* In place. */
			memcpy(out, in, n * sizeof *out);
			ck_assert_int_eq(
			    par_map(&ctx, out, out, n, map_fn, &c), 0);
			ck_assert_mem_eq(out, want, n * sizeof *out);
		}
		free(in);
		free(out);
		free(want);
	}
	pool_free(pool);
}
END_TEST

static void
check_filter(const struct par_ctx *ctx, const int64_t *in, size_t n,
    par_pred_fn pred, struct counted *c)
{
	int64_t *out, *want, *copy;
	size_t i, nwant = 0, nout = 12345;

	out = alloc_i64(n);
	want = alloc_i64(n);
	copy = alloc_i64(n);
	memcpy(copy, in, n * sizeof *in);
	for (i = 0; i < n; i++) {
		if (pred(in[i], c))
			want[nwant++] = in[i];
	}
	for (i = 0; i < n; i++)
		out[i] = SENTINEL;
	atomic_store(&c->calls, 0);
	ck_assert_int_eq(par_filter(ctx, in, n, out, &nout, pred, c), 0);
	ck_assert_uint_eq(nout, nwant);
	ck_assert_mem_eq(out, want, nout * sizeof *out);
	/* Nothing written past the result, input untouched. */
	for (i = nout; i < n && out[i] == SENTINEL; i++)
		;
	ck_assert_uint_eq(i, n);
	ck_assert_mem_eq(copy, in, n * sizeof *in);
	free(out);
	free(want);
	free(copy);
}

START_TEST(test_filter)
{
	struct pool *pool = test_pool(_i);
	struct counted c = {0, NULL};
	size_t si, gi, n;
	int64_t *in;

	rng_seed(3);
	for (si = 0; si < NELEM(sizes); si++) {
		n = sizes[si];
		in = alloc_i64(n);
		fill(in, n, PAT_RANDOM);
		for (gi = 0; gi < NELEM(grains); gi++) {
			struct par_ctx ctx = {pool, grains[gi], NULL};

			check_filter(&ctx, in, n, pred_fn, &c);
			/* The predicate runs exactly once per element. */
			ck_assert_int_eq(atomic_load(&c.calls), (long)n);
			check_filter(&ctx, in, n, pred_all, &c);
			check_filter(&ctx, in, n, pred_none, &c);
		}
		free(in);
	}
	pool_free(pool);
}
END_TEST

START_TEST(test_reduce)
{
	static const struct {
		par_combine_fn fn;
		int64_t identity;
		int sparse; /* mostly SENTINEL values */
	} ops[] = {
	    {op_max, INT64_MIN, 0},
	    {op_or, 0, 0},
	    {op_last, SENTINEL, 1},
	    {op_first, SENTINEL, 1},
	    {op_last, SENTINEL, 0},
	    {op_affine, (int64_t)1 << 32, 0},
	};
	struct pool *pool = test_pool(_i);
	size_t si, gi, oi, i, n;
	int64_t *in, want, got;

	rng_seed(4);
	for (si = 0; si < NELEM(sizes); si++) {
		n = sizes[si];
		in = alloc_i64(n);
		for (oi = 0; oi < NELEM(ops); oi++) {
			fill(in, n, PAT_RANDOM);
			for (i = 0; ops[oi].sparse && i < n; i++) {
				if (rng_next() % 64 != 0)
					in[i] = SENTINEL;
			}
			want = ops[oi].identity;
			for (i = 0; i < n; i++)
				want = ops[oi].fn(want, in[i], NULL);
			for (gi = 0; gi < NELEM(grains); gi++) {
				struct par_ctx ctx = {pool, grains[gi], NULL};

				got = 12345;
				ck_assert_int_eq(
				    par_reduce(&ctx, in, n, ops[oi].identity,
				        ops[oi].fn, NULL, &got),
				    0);
				ck_assert_int_eq(got, want);
			}
		}
		free(in);
	}
	pool_free(pool);
}
END_TEST

/*
 * Grains below 64 on the largest size make about a million tasks per sort:
 * there, sort and group-by try only random input, which keeps the
 * ThreadSanitizer run short.
 */
static int
heavy(size_t n, size_t grain)
{
	return n > 10000 && grain != 0 && grain < 64;
}

START_TEST(test_sort)
{
	struct pool *pool = test_pool(_i);
	size_t si, gi, n;
	int64_t *a, *want;
	int pat;

	rng_seed(5);
	for (si = 0; si < NELEM(sizes); si++) {
		n = sizes[si];
		a = alloc_i64(n);
		want = alloc_i64(n);
		for (pat = 0; pat < PAT_COUNT; pat++) {
			rng_seed(100 + si);
			fill(want, n, pat);
			qsort(want, n, sizeof *want, cmp_i64);
			for (gi = 0; gi < NELEM(grains); gi++) {
				struct par_ctx ctx = {pool, grains[gi], NULL};

				if (heavy(n, grains[gi]) && pat != PAT_RANDOM)
					continue;
				rng_seed(100 + si);
				fill(a, n, pat);
				ck_assert_int_eq(par_sort(&ctx, a, n), 0);
				ck_assert_mem_eq(a, want, n * sizeof *a);
			}
		}
		free(a);
		free(want);
	}
	pool_free(pool);
}
END_TEST

static const int64_t *ref_keys;

static int
cmp_ref(const void *x, const void *y)
{
	size_t i = *(const size_t *)x, j = *(const size_t *)y;

	if (ref_keys[i] != ref_keys[j])
		return ref_keys[i] < ref_keys[j] ? -1 : 1;
	return (i > j) - (i < j);
}

static void
check_group_by(
    const struct par_ctx *ctx, const int64_t *in, size_t n, par_map_fn key)
{
	struct counted c = {0, NULL};
	struct par_groups g;
	int64_t *keys, *copy, *want_keys, *want_values;
	size_t *order, *want_offsets, i, ngroups;

	keys = alloc_i64(n);
	copy = alloc_i64(n);
	want_keys = alloc_i64(n);
	want_values = alloc_i64(n);
	order = malloc((n + 1) * sizeof *order);
	want_offsets = malloc((n + 1) * sizeof *want_offsets);
	ck_assert_ptr_nonnull(order);
	ck_assert_ptr_nonnull(want_offsets);
	memcpy(copy, in, n * sizeof *in);
	for (i = 0; i < n; i++) {
		keys[i] = key(in[i], &c);
		order[i] = i;
	}
	ref_keys = keys;
	qsort(order, n, sizeof *order, cmp_ref);
	for (ngroups = 0, i = 0; i < n; i++) {
		if (i == 0 || keys[order[i]] != keys[order[i - 1]]) {
			want_keys[ngroups] = keys[order[i]];
			want_offsets[ngroups++] = i;
		}
		want_values[i] = in[order[i]];
	}
	want_offsets[ngroups] = n;

	atomic_store(&c.calls, 0);
	memset(&g, 0xa5, sizeof g);
	ck_assert_int_eq(par_group_by(ctx, in, n, key, &c, &g), 0);
	ck_assert_int_eq(atomic_load(&c.calls), (long)n);
	ck_assert_uint_eq(g.ngroups, ngroups);
	ck_assert_ptr_nonnull(g.offsets);
	ck_assert_mem_eq(
	    g.offsets, want_offsets, (ngroups + 1) * sizeof *g.offsets);
	if (n > 0) {
		ck_assert_mem_eq(g.keys, want_keys, ngroups * sizeof *g.keys);
		ck_assert_mem_eq(g.values, want_values, n * sizeof *g.values);
	}
	ck_assert_mem_eq(copy, in, n * sizeof *in);
	par_groups_free(&g);
	ck_assert_ptr_null(g.keys);
	ck_assert_ptr_null(g.offsets);
	ck_assert_ptr_null(g.values);
	ck_assert_uint_eq(g.ngroups, 0);
	free(keys);
	free(copy);
	free(want_keys);
	free(want_values);
	free(order);
	free(want_offsets);
}

START_TEST(test_group_by)
{
	struct pool *pool = test_pool(_i);
	size_t si, gi, i, j, n;
	int64_t *in, t;

	rng_seed(6);
	for (si = 0; si < NELEM(sizes); si++) {
		n = sizes[si];
		in = alloc_i64(n);
		for (gi = 0; gi < NELEM(grains); gi++) {
			struct par_ctx ctx = {pool, grains[gi], NULL};

			fill(in, n, PAT_RANDOM);
			check_group_by(&ctx, in, n, key_mod7);
			if (heavy(n, grains[gi]))
				continue;
			fill(in, n, PAT_FEW);
			check_group_by(&ctx, in, n, key_self);
			check_group_by(&ctx, in, n, key_mod7);
			/* Distinct values, shuffled: one group each. */
			for (i = 0; i < n; i++)
				in[i] = (int64_t)i * 7919 - 500000;
			for (i = n; i > 1; i--) {
				j = rng_next() % i;
				t = in[i - 1];
				in[i - 1] = in[j];
				in[j] = t;
			}
			check_group_by(&ctx, in, n, key_self);
		}
		free(in);
	}
	pool_free(pool);
}
END_TEST

START_TEST(test_group_by_empty)
{
	struct par_ctx ctx = {NULL, 0, NULL};
	struct counted c = {0, NULL};
	struct par_groups g;

	ck_assert_int_eq(par_group_by(&ctx, NULL, 0, key_self, &c, &g), 0);
	ck_assert_uint_eq(g.ngroups, 0);
	ck_assert_ptr_nonnull(g.offsets);
	ck_assert_uint_eq(g.offsets[0], 0);
	ck_assert_int_eq(atomic_load(&c.calls), 0);
	par_groups_free(&g);
	ck_assert_ptr_null(g.offsets);
	/* Freeing twice, or NULL, is harmless. */
	par_groups_free(&g);
	par_groups_free(NULL);
}
END_TEST

/* A cancel flag set before the call: nothing runs. */
START_TEST(test_cancel_before)
{
	struct pool *pool = test_pool(_i);
	atomic_int cancel = 1;
	struct par_ctx ctx = {pool, 16, &cancel};
	struct counted c = {0, NULL};
	size_t n = 1000, nout;
	struct par_groups g;
	int64_t *a, *out, result;

	a = alloc_i64(n);
	out = alloc_i64(n);
	rng_seed(7);
	fill(a, n, PAT_RANDOM);
	errno = 0;
	ck_assert_int_eq(par_map(&ctx, a, out, n, map_fn, &c), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(par_filter(&ctx, a, n, out, &nout, pred_fn, &c), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(
	    par_reduce(&ctx, a, n, INT64_MIN, op_max, NULL, &result), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(par_sum(&ctx, a, n, &result), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(par_sort(&ctx, a, n), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(par_group_by(&ctx, a, n, key_self, &c, &g), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_eq(atomic_load(&c.calls), 0);

	/* The same context without the flag works. */
	atomic_store(&cancel, 0);
	ck_assert_int_eq(par_sort(&ctx, a, n), 0);
	free(a);
	free(out);
	pool_free(pool);
}
END_TEST

/*
 * The callback raises the flag on its first call: the operation stops early
 * (only the chunks already started finish) and fails.
 */
START_TEST(test_cancel_during)
{
	struct pool *pool = test_pool(_i);
	atomic_int cancel = 0;
	struct par_ctx ctx = {pool, 1, &cancel};
	struct counted c = {0, &cancel};
	size_t n = 10000, nout;
	struct par_groups g;
	int64_t *a, *out;

	a = alloc_i64(n);
	out = alloc_i64(n);
	rng_seed(8);
	fill(a, n, PAT_RANDOM);

	errno = 0;
	ck_assert_int_eq(par_map(&ctx, a, out, n, map_fn, &c), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_lt(atomic_load(&c.calls), (long)n);
	if (pool == NULL)
		ck_assert_int_eq(atomic_load(&c.calls), 1);

	atomic_store(&cancel, 0);
	atomic_store(&c.calls, 0);
	errno = 0;
	ck_assert_int_eq(par_filter(&ctx, a, n, out, &nout, pred_fn, &c), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_lt(atomic_load(&c.calls), (long)n);

	atomic_store(&cancel, 0);
	atomic_store(&c.calls, 0);
	errno = 0;
	memset(&g, 0xa5, sizeof g);
	ck_assert_int_eq(par_group_by(&ctx, a, n, key_self, &c, &g), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_lt(atomic_load(&c.calls), (long)n);
	/* A failed group-by leaves nothing to free. */
	ck_assert_ptr_null(g.keys);
	ck_assert_ptr_null(g.offsets);
	ck_assert_ptr_null(g.values);
	par_groups_free(&g);
	free(a);
	free(out);
	pool_free(pool);
}
END_TEST

struct sort_task {
	struct par_ctx ctx;
	int64_t *a;
	size_t n;
	int rc;
};

static void
sort_task_run(void *arg)
{
	struct sort_task *t = arg;

	t->rc = par_sort(&t->ctx, t->a, t->n);
}

/*
 * par_sort from inside pool tasks, several at once on the same pool: the
 * waiting workers must help, or the pool deadlocks.
 */
START_TEST(test_nested)
{
	struct pool *pool = test_pool(_i);
	struct sort_task tasks[4];
	struct pool_group group;
	size_t i, n = 100003;
	int64_t *want;

	ck_assert_ptr_nonnull(pool);
	want = alloc_i64(n);
	rng_seed(9);
	fill(want, n, PAT_RANDOM);
	pool_group_init(&group);
	for (i = 0; i < NELEM(tasks); i++) {
		tasks[i] = (struct sort_task){
		    {pool, i == 0 ? 0 : 64, NULL}, alloc_i64(n), n, -1};
		memcpy(tasks[i].a, want, n * sizeof *want);
	}
	for (i = 0; i < NELEM(tasks); i++) {
		ck_assert_int_eq(pool_group_submit(pool, &group, sort_task_run,
		                     NULL, &tasks[i]),
		    0);
	}
	pool_group_wait(pool, &group);
	qsort(want, n, sizeof *want, cmp_i64);
	for (i = 0; i < NELEM(tasks); i++) {
		ck_assert_int_eq(tasks[i].rc, 0);
		ck_assert_mem_eq(tasks[i].a, want, n * sizeof *want);
		free(tasks[i].a);
	}
	free(want);
	pool_free(pool);
}
END_TEST

static void *
sort_thread(void *arg)
{
	sort_task_run(arg);
	return NULL;
}

/* Several threads outside the pool use it at the same time. */
START_TEST(test_concurrent_callers)
{
	struct pool *pool = test_pool(_i);
	struct sort_task tasks[3];
	pthread_t threads[NELEM(tasks)];
	size_t i, n = 50000;
	int64_t *want;

	want = alloc_i64(n);
	rng_seed(10);
	fill(want, n, PAT_FEW);
	for (i = 0; i < NELEM(tasks); i++) {
		tasks[i] =
		    (struct sort_task){{pool, 256, NULL}, alloc_i64(n), n, -1};
		memcpy(tasks[i].a, want, n * sizeof *want);
		ck_assert_int_eq(
		    pthread_create(&threads[i], NULL, sort_thread, &tasks[i]),
		    0);
	}
	qsort(want, n, sizeof *want, cmp_i64);
	for (i = 0; i < NELEM(tasks); i++) {
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
		ck_assert_int_eq(tasks[i].rc, 0);
		ck_assert_mem_eq(tasks[i].a, want, n * sizeof *want);
		free(tasks[i].a);
	}
	free(want);
	pool_free(pool);
}
END_TEST

/* Blocks the pool's only worker until released. */
struct blocker {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	int started;
	int released;
};

static void
blocker_run(void *arg)
{
	struct blocker *b = arg;

	pthread_mutex_lock(&b->mtx);
	b->started = 1;
	pthread_cond_broadcast(&b->cond);
	while (!b->released)
		pthread_cond_wait(&b->cond, &b->mtx);
	pthread_mutex_unlock(&b->mtx);
}

struct map_call {
	struct par_ctx ctx;
	int64_t *a;
	size_t n;
	struct counted counted;
	int rc;
	int error;
};

static void *
map_thread(void *arg)
{
	struct map_call *m = arg;

	m->rc = par_map(&m->ctx, m->a, m->a, m->n, map_fn, &m->counted);
	m->error = errno;
	return NULL;
}

static void *
cancel_thread(void *arg)
{
	pool_shutdown(arg, POOL_CANCEL);
	return NULL;
}

static void
noop(void *arg)
{
}

/*
 * A par operation whose forked half is dropped by pool_shutdown(POOL_CANCEL)
 * still returns, with ECANCELED.  The only worker is kept busy while the
 * caller forks (two chunks: one queued, one run by the caller), and released
 * only once the shutdown has begun, so the queued chunk cannot start.
 */
START_TEST(test_dropped_task)
{
	struct blocker b = {
	    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	struct map_call m;
	pthread_t mapper, canceller;
	struct pool *pool;
	uint64_t deadline;
	size_t half = 1000;

	pool = pool_create(1);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(pool_submit(pool, blocker_run, NULL, &b), 0);
	pthread_mutex_lock(&b.mtx);
	while (!b.started)
		pthread_cond_wait(&b.cond, &b.mtx);
	pthread_mutex_unlock(&b.mtx);

	m = (struct map_call){
	    {pool, half, NULL}, alloc_i64(2 * half), 2 * half, {0, NULL}, 0, 0};
	fill(m.a, 2 * half, PAT_SORTED);
	ck_assert_int_eq(pthread_create(&mapper, NULL, map_thread, &m), 0);
	/* The caller ran its own half: the other one is queued. */
	deadline = test_now_ns() + 60 * 1000000000ull;
	while (atomic_load(&m.counted.calls) < (long)half)
		ck_assert_uint_lt(test_now_ns(), deadline);

	ck_assert_int_eq(
	    pthread_create(&canceller, NULL, cancel_thread, pool), 0);
	/* Once submissions fail, the shutdown has begun. */
	while (pool_submit(pool, noop, NULL, NULL) == 0)
		ck_assert_uint_lt(test_now_ns(), deadline);
	ck_assert_int_eq(errno, ECANCELED);
	pthread_mutex_lock(&b.mtx);
	b.released = 1;
	pthread_cond_broadcast(&b.cond);
	pthread_mutex_unlock(&b.mtx);

	ck_assert_int_eq(pthread_join(mapper, NULL), 0);
	ck_assert_int_eq(pthread_join(canceller, NULL), 0);
	ck_assert_int_eq(m.rc, -1);
	ck_assert_int_eq(m.error, ECANCELED);
	ck_assert_int_eq(atomic_load(&m.counted.calls), (long)half);
	free(m.a);
	pool_free(pool);
}
END_TEST

START_TEST(test_sort_stress)
{
	struct pool *pool;
	size_t n = 2000000;
	int64_t *a, *want;

	pool = pool_create(2);
	ck_assert_ptr_nonnull(pool);
	struct par_ctx ctx = {pool, 0, NULL};
	a = alloc_i64(n);
	want = alloc_i64(n);
	rng_seed(11);
	fill(a, n, PAT_RANDOM);
	memcpy(want, a, n * sizeof *a);
	qsort(want, n, sizeof *want, cmp_i64);
	ck_assert_int_eq(par_sort(&ctx, a, n), 0);
	ck_assert_mem_eq(a, want, n * sizeof *a);
	free(a);
	free(want);
	pool_free(pool);
}
END_TEST

START_TEST(test_bad_args)
{
	struct par_ctx ctx = {NULL, 0, NULL};
	struct counted c = {0, NULL};
	struct par_groups g;
	int64_t a[4] = {3, 1, 2, 0}, out[4], result;
	size_t nout;

	errno = 0;
	ck_assert_int_eq(par_sort(NULL, a, 4), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_sort(&ctx, NULL, 4), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_map(&ctx, a, out, 4, NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_map(&ctx, a, NULL, 4, map_fn, &c), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_filter(&ctx, a, 4, out, NULL, pred_fn, &c), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_filter(&ctx, a, 4, out, &nout, NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_reduce(&ctx, a, 4, 0, op_or, NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_reduce(&ctx, a, 4, 0, NULL, NULL, &result), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_sum(&ctx, NULL, 4, &result), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_sum(&ctx, a, 4, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_group_by(&ctx, a, 4, NULL, NULL, &g), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(par_group_by(&ctx, a, 4, key_self, &c, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(atomic_load(&c.calls), 0);
	ck_assert_int_eq(a[0], 3);

	/* n == 0 needs no arrays. */
	ck_assert_int_eq(par_sort(&ctx, NULL, 0), 0);
	ck_assert_int_eq(par_map(&ctx, NULL, NULL, 0, map_fn, &c), 0);
	nout = 7;
	ck_assert_int_eq(
	    par_filter(&ctx, NULL, 0, NULL, &nout, pred_fn, &c), 0);
	ck_assert_uint_eq(nout, 0);
	result = 7;
	ck_assert_int_eq(
	    par_reduce(&ctx, NULL, 0, -5, op_or, NULL, &result), 0);
	ck_assert_int_eq(result, -5);
	ck_assert_int_eq(par_sum(&ctx, NULL, 0, &result), 0);
	ck_assert_int_eq(result, 0);
	ck_assert_int_eq(atomic_load(&c.calls), 0);
}
END_TEST

static Suite *
par_suite(void)
{
	Suite *s;
	TCase *tc;
	int npools = (int)NELEM(pool_sizes);

	s = suite_create("par");

	tc = tcase_create("ops");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_sum, 0, npools);
	tcase_add_test(tc, test_sum_wraps);
	tcase_add_loop_test(tc, test_map, 0, npools);
	tcase_add_loop_test(tc, test_filter, 0, npools);
	tcase_add_loop_test(tc, test_reduce, 0, npools);
	tcase_add_loop_test(tc, test_sort, 0, npools);
	tcase_add_loop_test(tc, test_group_by, 0, npools);
	tcase_add_test(tc, test_group_by_empty);
	tcase_add_test(tc, test_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_cancel_before, 0, npools);
	tcase_add_loop_test(tc, test_cancel_during, 0, npools);
	tcase_add_test(tc, test_dropped_task);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	/* From 1: these need a real pool. */
	tcase_add_loop_test(tc, test_nested, 1, npools);
	tcase_add_loop_test(tc, test_concurrent_callers, 0, npools);
	tcase_add_test(tc, test_sort_stress);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(par_suite());
}
