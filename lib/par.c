/*
 * par: data-parallel operations over int64_t arrays (see par.h).
 *
 * DESIGN
 *
 * Every operation is a fork-join recursion built on par_fork(): the left
 * half is queued as a task of a pool_group, the right half runs on the
 * current thread, then the group is waited for (a waiting worker runs other
 * tasks meanwhile, so a call from inside a pool task cannot deadlock).  The
 * task arguments live on the forking frame's stack, which is safe because
 * that frame returns only once the group completed.  With no pool, both
 * halves run here, left first: the same tree, the same chunks, the same
 * results.  If the pool refuses a task (it is shutting down) the left half
 * runs here too, so an operation always completes.
 *
 * map, sum, reduce, filter and the passes of group-by walk a fixed list of
 * chunks, chunk c being [c * grain, min((c + 1) * grain, n)), by halving the
 * range of chunk indices down to single chunks.  Per-chunk results (sums,
 * reductions, match counts) go into arrays indexed by chunk, which the
 * caller then combines in chunk order: that is what makes reduce correct for
 * associative but non-commutative operations.  Filter and group-by need two
 * passes over the same chunks (count, then write at the prefix-summed
 * offset of the chunk); filter keeps the predicate's answers in one byte per
 * element between its passes, so the predicate runs exactly once per
 * element, at the price of n bytes of memory.
 *
 * Sorting is a stable merge sort generic over the element size: int64_t for
 * par_sort, (key, index) pairs compared by key for par_group_by.  It uses
 * one n-element scratch buffer: a node sorts its halves in parallel into the
 * other buffer (ping-pong, so no copying back), then merges them with a
 * parallel merge that splits the longer run at its midpoint, binary-searches
 * the matching split in the other run and recurses on both sides.  Runs of
 * at most grain elements are sorted sequentially: insertion sort on small
 * blocks, then a bottom-up merge.  The element-level loops are written once
 * and forced inline into one wrapper per element type, so the compiler
 * specialises the size and the comparison (memcpy of a constant size becomes
 * a plain load or store, the comparison a single instruction).
 *
 * Cancellation is polled at every fork and before every chunk and every
 * sequential sort or merge.  A task dropped by pool_shutdown(POOL_CANCEL)
 * never sets its `ran` flag.  Either way the operation fails with
 * ECANCELED.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "pool.h"
#include "xmalloc.h"

/* Leaf sorts insertion-sort blocks of this many elements, then merge. */
#define SORT_BLOCK 16
/* Independent accumulators in a sum leaf. */
#define SUM_LANES 8
/* The largest element the sort handles (struct par_pair). */
#define SORT_ELEM_MAX 16

/* Force inlining, so the generic sort loops get specialised per type. */
#define SORT_INLINE static inline __attribute__((always_inline))

typedef int (*par_task_fn)(void *arg);

/* The left half of a fork: run as a pool task, or inline. */
struct par_task {
	par_task_fn fn;
	void *arg;
	int rc;
	/*
	 * Set once fn ran; stays 0 if the pool dropped the task.  Plain ints:
	 * the forking thread reads rc and ran only after pool_group_wait(),
	 * which orders them after the task's writes.
	 */
	int ran;
};

/* A loop over the chunks of [0, n): body runs once per chunk. */
struct par_loop {
	const struct par_ctx *ctx;
	size_t n;
	size_t grain;
	void (*body)(void *op, size_t chunk, size_t lo, size_t hi);
	void *op;
};

/* The chunks [first, last) of a loop. */
struct par_span {
	const struct par_loop *loop;
	size_t first;
	size_t last;
};

/* What the merge sort needs to know about an element type. */
struct sort_kind {
	size_t size;
	int (*less)(const void *x, const void *y);
	/* Sort a[0..n); returns a or scratch, whichever holds the result. */
	void *(*leaf)(void *a, void *scratch, size_t n);
	/* Merge the sorted runs a and b into dst, ties from a first. */
	void (*merge)(
	    void *dst, const void *a, size_t na, const void *b, size_t nb);
};

struct sort_job {
	const struct par_ctx *ctx;
	const struct sort_kind *kind;
	size_t grain;
};

/* Sort a[0..n), leaving the result in scratch if into_scratch, else in a. */
struct sort_node {
	const struct sort_job *job;
	char *a;
	char *scratch;
	size_t n;
	int into_scratch;
};

/* Merge the sorted runs a[0..na) and b[0..nb) into dst. */
struct merge_node {
	const struct sort_job *job;
	const char *a;
	size_t na;
	const char *b;
	size_t nb;
	char *dst;
};

/* A group-by element: its key and its position in the input. */
struct par_pair {
	int64_t key;
	size_t index;
};

_Static_assert(
    sizeof(struct par_pair) <= SORT_ELEM_MAX, "SORT_ELEM_MAX too small");

struct map_op {
	const int64_t *in;
	int64_t *out;
	par_map_fn fn;
	void *arg;
};

struct sum_op {
	const int64_t *in;
	uint64_t *partial;
};

struct reduce_op {
	const int64_t *in;
	int64_t identity;
	par_combine_fn fn;
	void *arg;
	int64_t *partial;
};

struct filter_op {
	const int64_t *in;
	int64_t *out;
	par_pred_fn pred;
	void *arg;
	unsigned char *keep;
	size_t *count; /* matches per chunk, then each chunk's offset */
};

struct group_op {
	const int64_t *in;
	par_map_fn key;
	void *arg;
	struct par_pair *pairs;
	size_t *count; /* groups starting per chunk, then first group index */
	struct par_groups *out;
};

static int
par_cancelled(const struct par_ctx *ctx)
{
	/* Relaxed: the flag only asks us to stop; it publishes no data. */
	return ctx->cancel != NULL &&
	       atomic_load_explicit(ctx->cancel, memory_order_relaxed) != 0;
}

/* Common entry checks: -1 with EINVAL on bad arguments, or ECANCELED. */
static int
par_begin(const struct par_ctx *ctx, int valid)
{
	if (ctx == NULL || !valid) {
		errno = EINVAL;
		return -1;
	}
	if (par_cancelled(ctx)) {
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

/* Turn an internal result (0, or -1: cancelled) into the API's. */
static int
par_end(int rc)
{
	if (rc == -1) {
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

static size_t
par_grain(const struct par_ctx *ctx)
{
	return ctx->grain != 0 ? ctx->grain : PAR_GRAIN_DEFAULT;
}

static size_t
par_nchunks(size_t n, size_t grain)
{
	return n / grain + (n % grain != 0);
}

static void
par_task_run(void *arg)
{
	struct par_task *task = arg;

	task->rc = task->fn(task->arg);
	task->ran = 1;
}

/*
 * Run lfn(larg) and rfn(rarg), in parallel if there is a pool.  0, or -1 if
 * either was cancelled (or dropped by the pool).
 */
static int
par_fork(const struct par_ctx *ctx, par_task_fn lfn, void *larg,
    par_task_fn rfn, void *rarg)
{
	struct pool_group group;
	struct par_task left = {.fn = lfn, .arg = larg, .rc = -1, .ran = 0};
	int rc;

	if (par_cancelled(ctx))
		return -1;
	if (ctx->pool != NULL) {
		pool_group_init(&group);
		if (pool_group_submit(
		        ctx->pool, &group, par_task_run, NULL, &left) == 0) {
			rc = rfn(rarg);
			pool_group_wait(ctx->pool, &group);
			return rc == 0 && left.ran && left.rc == 0 ? 0 : -1;
		}
	}
	par_task_run(&left);
	rc = rfn(rarg);
	return rc == 0 && left.rc == 0 ? 0 : -1;
}

static int
par_loop_span(void *arg)
{
	const struct par_span *span = arg;
	const struct par_loop *loop = span->loop;
	struct par_span left, right;
	size_t lo, hi, mid;

	if (span->last - span->first == 1) {
		if (par_cancelled(loop->ctx))
			return -1;
		lo = span->first * loop->grain;
		hi = loop->n - lo > loop->grain ? lo + loop->grain : loop->n;
		loop->body(loop->op, span->first, lo, hi);
		return 0;
	}
	mid = span->first + (span->last - span->first) / 2;
	left = (struct par_span){loop, span->first, mid};
	right = (struct par_span){loop, mid, span->last};
	return par_fork(loop->ctx, par_loop_span, &left, par_loop_span, &right);
}

/* Run body over every chunk of [0, n).  0, or -1 if cancelled. */
static int
par_loop_run(const struct par_ctx *ctx, size_t n,
    void (*body)(void *, size_t, size_t, size_t), void *op)
{
	struct par_loop loop;
	struct par_span span;

	if (n == 0)
		return 0;
	loop = (struct par_loop){ctx, n, par_grain(ctx), body, op};
	span = (struct par_span){&loop, 0, par_nchunks(n, loop.grain)};
	return par_loop_span(&span);
}

/*
 * Sort internals.  The SORT_INLINE functions are generic over the element
 * size and comparison; each element type instantiates them once below.
 */

SORT_INLINE void
sort_insertion(
    char *a, size_t n, size_t size, int (*less)(const void *, const void *))
{
	unsigned char x[SORT_ELEM_MAX];
	size_t i, j;

	for (i = 1; i < n; i++) {
		memcpy(x, a + i * size, size);
		for (j = i; j > 0 && less(x, a + (j - 1) * size); j--)
			memcpy(a + j * size, a + (j - 1) * size, size);
		memcpy(a + j * size, x, size);
	}
}

SORT_INLINE void
sort_merge_runs(char *restrict dst, const char *a, size_t na, const char *b,
    size_t nb, size_t size, int (*less)(const void *, const void *))
{
	const char *aend = a + na * size, *bend = b + nb * size;
	uintptr_t mask;
	size_t take_b;

	while (a < aend && b < bend) {
		/* Only a strictly smaller b goes first: stability. */
		take_b = (size_t)less(b, a);
		/*
		 * Select with arithmetic, not a branch: on random input the
		 * comparison is a coin flip, and mispredictions would cost
		 * more than the merge itself.
		 */
		mask = -(uintptr_t)take_b;
		memcpy(dst,
		    (const char *)((uintptr_t)a ^
		                   (((uintptr_t)a ^ (uintptr_t)b) & mask)),
		    size);
		dst += size;
		a += (1 - take_b) * size;
		b += take_b * size;
	}
	memcpy(dst, a, (size_t)(aend - a));
	dst += aend - a;
	memcpy(dst, b, (size_t)(bend - b));
}

SORT_INLINE void *
sort_leaf(char *a, char *scratch, size_t n, size_t size,
    int (*less)(const void *, const void *))
{
	char *src = a, *dst = scratch, *swap;
	size_t lo, mid, hi, width;

	for (lo = 0; lo < n; lo += SORT_BLOCK)
		sort_insertion(a + lo * size,
		    n - lo < SORT_BLOCK ? n - lo : SORT_BLOCK, size, less);
	for (width = SORT_BLOCK; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = n - lo > width ? lo + width : n;
			hi = n - mid > width ? mid + width : n;
			sort_merge_runs(dst + lo * size, src + lo * size,
			    mid - lo, src + mid * size, hi - mid, size, less);
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	return src;
}

static int
sort_i64_less(const void *x, const void *y)
{
	int64_t a, b;

	memcpy(&a, x, sizeof a);
	memcpy(&b, y, sizeof b);
	return a < b;
}

static void *
sort_i64_leaf(void *a, void *scratch, size_t n)
{
	return sort_leaf(a, scratch, n, sizeof(int64_t), sort_i64_less);
}

static void
sort_i64_merge(void *dst, const void *a, size_t na, const void *b, size_t nb)
{
	sort_merge_runs(dst, a, na, b, nb, sizeof(int64_t), sort_i64_less);
}

static const struct sort_kind sort_i64 = {
    sizeof(int64_t),
    sort_i64_less,
    sort_i64_leaf,
    sort_i64_merge,
};

/* Pairs compare by key only: the sort is stable, so index order stays. */
static int
sort_pair_less(const void *x, const void *y)
{
	struct par_pair a, b;

	memcpy(&a, x, sizeof a);
	memcpy(&b, y, sizeof b);
	return a.key < b.key;
}

static void *
sort_pair_leaf(void *a, void *scratch, size_t n)
{
	return sort_leaf(
	    a, scratch, n, sizeof(struct par_pair), sort_pair_less);
}

static void
sort_pair_merge(void *dst, const void *a, size_t na, const void *b, size_t nb)
{
	sort_merge_runs(
	    dst, a, na, b, nb, sizeof(struct par_pair), sort_pair_less);
}

static const struct sort_kind sort_pair = {
    sizeof(struct par_pair),
    sort_pair_less,
    sort_pair_leaf,
    sort_pair_merge,
};

/* The index of the first element of a[0..n) that is not less than key. */
static size_t
sort_lower_bound(
    const struct sort_kind *kind, const char *a, size_t n, const void *key)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (kind->less(a + mid * kind->size, key))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The index of the first element of a[0..n) that is greater than key. */
static size_t
sort_upper_bound(
    const struct sort_kind *kind, const char *a, size_t n, const void *key)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (kind->less(key, a + mid * kind->size))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Split the longer run at its midpoint (the pivot), find where the pivot
 * goes in the other run, put it in its final place in dst and merge both
 * sides in parallel.  Ties: elements of a equal to the pivot go before it
 * and those of b after it, so a's elements stay before b's.  Each side is
 * shorter than the whole by at least the pivot, so the recursion ends.
 */
static int
sort_merge_node(void *arg)
{
	const struct merge_node *m = arg;
	const struct sort_kind *kind = m->job->kind;
	size_t size = kind->size, ma, mb;
	struct merge_node left, right;
	const char *pivot;

	if (m->na == 0 || m->nb == 0 || m->na + m->nb <= m->job->grain) {
		if (par_cancelled(m->job->ctx))
			return -1;
		kind->merge(m->dst, m->a, m->na, m->b, m->nb);
		return 0;
	}
	left = right = *m;
	if (m->na >= m->nb) {
		ma = m->na / 2;
		pivot = m->a + ma * size;
		mb = sort_lower_bound(kind, m->b, m->nb, pivot);
		right.a = pivot + size;
		right.na = m->na - ma - 1;
		right.b = m->b + mb * size;
		right.nb = m->nb - mb;
	} else {
		mb = m->nb / 2;
		pivot = m->b + mb * size;
		ma = sort_upper_bound(kind, m->a, m->na, pivot);
		right.a = m->a + ma * size;
		right.na = m->na - ma;
		right.b = pivot + size;
		right.nb = m->nb - mb - 1;
	}
	left.na = ma;
	left.nb = mb;
	memcpy(m->dst + (ma + mb) * size, pivot, size);
	right.dst = m->dst + (ma + mb + 1) * size;
	return par_fork(
	    m->job->ctx, sort_merge_node, &left, sort_merge_node, &right);
}

static int
sort_node(void *arg)
{
	const struct sort_node *s = arg;
	const struct sort_kind *kind = s->job->kind;
	struct sort_node left, right;
	struct merge_node merge;
	size_t half = s->n / 2;
	char *sorted, *want;

	if (s->n <= s->job->grain) {
		if (par_cancelled(s->job->ctx))
			return -1;
		sorted = kind->leaf(s->a, s->scratch, s->n);
		want = s->into_scratch ? s->scratch : s->a;
		if (sorted != want)
			memcpy(want, sorted, s->n * kind->size);
		return 0;
	}
	/* The halves end up in the buffer this node does not merge into. */
	left = (struct sort_node){
	    s->job, s->a, s->scratch, half, !s->into_scratch};
	right = (struct sort_node){s->job, s->a + half * kind->size,
	    s->scratch + half * kind->size, s->n - half, !s->into_scratch};
	if (par_fork(s->job->ctx, sort_node, &left, sort_node, &right) == -1)
		return -1;
	sorted = s->into_scratch ? s->a : s->scratch;
	merge = (struct merge_node){s->job, sorted, half,
	    sorted + half * kind->size, s->n - half,
	    s->into_scratch ? s->scratch : s->a};
	return sort_merge_node(&merge);
}

/* Stable sort of base[0..n).  0, or -1 if cancelled. */
static int
sort_run(const struct par_ctx *ctx, const struct sort_kind *kind, void *base,
    size_t n)
{
	struct sort_job job;
	struct sort_node root;
	void *scratch;
	int rc;

	if (n < 2)
		return 0;
	scratch = xreallocarray(NULL, n, kind->size);
	job = (struct sort_job){ctx, kind, par_grain(ctx)};
	root = (struct sort_node){&job, base, scratch, n, 0};
	rc = sort_node(&root);
	free(scratch);
	return rc;
}

static void
map_chunk(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct map_op *op = arg;
	size_t i;

	for (i = lo; i < hi; i++)
		op->out[i] = op->fn(op->in[i], op->arg);
}

int
par_map(const struct par_ctx *ctx, const int64_t *in, int64_t *out, size_t n,
    par_map_fn fn, void *arg)
{
	struct map_op op = {in, out, fn, arg};

	if (par_begin(ctx,
	        fn != NULL && (n == 0 || (in != NULL && out != NULL))) == -1)
		return -1;
	return par_end(par_loop_run(ctx, n, map_chunk, &op));
}

static void
filter_mark(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct filter_op *op = arg;
	size_t i, count = 0;
	unsigned char keep;

	for (i = lo; i < hi; i++) {
		keep = op->pred(op->in[i], op->arg) != 0;
		op->keep[i] = keep;
		count += keep;
	}
	op->count[chunk] = count;
}

static void
filter_copy(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct filter_op *op = arg;
	size_t i, at = op->count[chunk];

	for (i = lo; i < hi; i++) {
		if (op->keep[i])
			op->out[at++] = op->in[i];
	}
}

int
par_filter(const struct par_ctx *ctx, const int64_t *in, size_t n, int64_t *out,
    size_t *nout, par_pred_fn pred, void *arg)
{
	struct filter_op op = {in, out, pred, arg, NULL, NULL};
	size_t c, nchunks, total, count;
	int rc;

	if (par_begin(ctx, pred != NULL && nout != NULL &&
	                       (n == 0 || (in != NULL && out != NULL))) == -1)
		return -1;
	*nout = 0;
	if (n == 0)
		return 0;
	nchunks = par_nchunks(n, par_grain(ctx));
	op.keep = xmalloc(n);
	op.count = xreallocarray(NULL, nchunks, sizeof *op.count);
	rc = par_loop_run(ctx, n, filter_mark, &op);
	if (rc == 0) {
		/* Exclusive prefix sum: each chunk's first output slot. */
		for (total = 0, c = 0; c < nchunks; c++) {
			count = op.count[c];
			op.count[c] = total;
			total += count;
		}
		rc = par_loop_run(ctx, n, filter_copy, &op);
		if (rc == 0)
			*nout = total;
	}
	free(op.count);
	free(op.keep);
	return par_end(rc);
}

static void
reduce_chunk(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct reduce_op *op = arg;
	int64_t acc = op->identity;
	size_t i;

	for (i = lo; i < hi; i++)
		acc = op->fn(acc, op->in[i], op->arg);
	op->partial[chunk] = acc;
}

int
par_reduce(const struct par_ctx *ctx, const int64_t *in, size_t n,
    int64_t identity, par_combine_fn fn, void *arg, int64_t *result)
{
	struct reduce_op op = {in, identity, fn, arg, NULL};
	size_t c, nchunks;
	int64_t acc;
	int rc;

	if (par_begin(ctx,
	        fn != NULL && result != NULL && (n == 0 || in != NULL)) == -1)
		return -1;
	if (n == 0) {
		*result = identity;
		return 0;
	}
	nchunks = par_nchunks(n, par_grain(ctx));
	op.partial = xreallocarray(NULL, nchunks, sizeof *op.partial);
	rc = par_loop_run(ctx, n, reduce_chunk, &op);
	if (rc == 0) {
		/* Left to right: op need not be commutative. */
		acc = op.partial[0];
		for (c = 1; c < nchunks; c++)
			acc = fn(acc, op.partial[c], arg);
		*result = acc;
	}
	free(op.partial);
	return par_end(rc);
}

/*
 * Eight independent lanes of fixed width: the compiler vectorises the inner
 * loop even at -O2 (the trip count is a constant), and the lanes break the
 * dependency chain of a single accumulator.
 */
static uint64_t
sum_range(const int64_t *restrict v, size_t n)
{
	uint64_t lane[SUM_LANES] = {0}, sum = 0;
	size_t i, j;

	for (i = 0; n - i >= SUM_LANES; i += SUM_LANES) {
		for (j = 0; j < SUM_LANES; j++)
			lane[j] += (uint64_t)v[i + j];
	}
	for (; i < n; i++)
		sum += (uint64_t)v[i];
	for (j = 0; j < SUM_LANES; j++)
		sum += lane[j];
	return sum;
}

static void
sum_chunk(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct sum_op *op = arg;

	op->partial[chunk] = sum_range(op->in + lo, hi - lo);
}

int
par_sum(const struct par_ctx *ctx, const int64_t *in, size_t n, int64_t *result)
{
	struct sum_op op = {in, NULL};
	size_t c, nchunks;
	uint64_t sum;
	int rc;

	if (par_begin(ctx, result != NULL && (n == 0 || in != NULL)) == -1)
		return -1;
	if (n == 0) {
		*result = 0;
		return 0;
	}
	nchunks = par_nchunks(n, par_grain(ctx));
	op.partial = xreallocarray(NULL, nchunks, sizeof *op.partial);
	rc = par_loop_run(ctx, n, sum_chunk, &op);
	if (rc == 0) {
		/* Unsigned: wraps modulo 2^64 without overflow UB. */
		for (sum = 0, c = 0; c < nchunks; c++)
			sum += op.partial[c];
		/* GCC converts out-of-range values modulo 2^64. */
		*result = (int64_t)sum;
	}
	free(op.partial);
	return par_end(rc);
}

int
par_sort(const struct par_ctx *ctx, int64_t *a, size_t n)
{
	if (par_begin(ctx, n == 0 || a != NULL) == -1)
		return -1;
	return par_end(sort_run(ctx, &sort_i64, a, n));
}

static void
group_keys(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct group_op *op = arg;
	size_t i;

	for (i = lo; i < hi; i++) {
		op->pairs[i].key = op->key(op->in[i], op->arg);
		op->pairs[i].index = i;
	}
}

/* Gather the values in group order; count the groups starting here. */
static void
group_values(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct group_op *op = arg;
	const struct par_pair *p = op->pairs;
	size_t i, count = 0;

	for (i = lo; i < hi; i++) {
		op->out->values[i] = op->in[p[i].index];
		count += i == 0 || p[i].key != p[i - 1].key;
	}
	op->count[chunk] = count;
}

static void
group_index(void *arg, size_t chunk, size_t lo, size_t hi)
{
	const struct group_op *op = arg;
	const struct par_pair *p = op->pairs;
	size_t i, g = op->count[chunk];

	for (i = lo; i < hi; i++) {
		if (i == 0 || p[i].key != p[i - 1].key) {
			op->out->keys[g] = p[i].key;
			op->out->offsets[g] = i;
			g++;
		}
	}
}

/*
 * Keys are computed once per element into (key, index) pairs, which are
 * stably sorted by key; then the values are gathered in that order and the
 * group starts (where the key changes) give keys and offsets.
 */
int
par_group_by(const struct par_ctx *ctx, const int64_t *in, size_t n,
    par_map_fn key, void *arg, struct par_groups *out)
{
	struct group_op op = {in, key, arg, NULL, NULL, out};
	size_t c, nchunks, total, count;
	int rc;

	if (par_begin(ctx,
	        key != NULL && out != NULL && (n == 0 || in != NULL)) == -1)
		return -1;
	memset(out, 0, sizeof *out);
	if (n == 0) {
		out->offsets = xmalloc(sizeof *out->offsets);
		out->offsets[0] = 0;
		return 0;
	}
	nchunks = par_nchunks(n, par_grain(ctx));
	op.pairs = xreallocarray(NULL, n, sizeof *op.pairs);
	op.count = xreallocarray(NULL, nchunks, sizeof *op.count);
	out->values = xreallocarray(NULL, n, sizeof *out->values);
	rc = par_loop_run(ctx, n, group_keys, &op);
	if (rc == 0)
		rc = sort_run(ctx, &sort_pair, op.pairs, n);
	if (rc == 0)
		rc = par_loop_run(ctx, n, group_values, &op);
	if (rc == 0) {
		for (total = 0, c = 0; c < nchunks; c++) {
			count = op.count[c];
			op.count[c] = total;
			total += count;
		}
		out->ngroups = total;
		out->keys = xreallocarray(NULL, total, sizeof *out->keys);
		out->offsets =
		    xreallocarray(NULL, total + 1, sizeof *out->offsets);
		out->offsets[total] = n;
		rc = par_loop_run(ctx, n, group_index, &op);
	}
	free(op.count);
	free(op.pairs);
	if (rc == -1)
		par_groups_free(out);
	return par_end(rc);
}

void
par_groups_free(struct par_groups *g)
{
	if (g == NULL)
		return;
	free(g->keys);
	free(g->offsets);
	free(g->values);
	memset(g, 0, sizeof *g);
}
