/*
 * par: data-parallel operations over int64_t arrays on a pool.
 *
 * map, filter, reduce, sum, sort and group-by split their input into chunks
 * of at least `grain` elements and run the chunks as fork-join tasks on the
 * pool (recursively halving, so stealing balances uneven work).  Every result
 * is identical to the sequential computation, for every size including 0
 * and 1: filter and group-by keep input order, sort is a stable merge sort,
 * reduce requires an associative operation and combines chunks in order,
 * and sums wrap modulo 2^64 exactly as a sequential loop in unsigned
 * arithmetic would.
 *
 * The functions may be called from outside the pool or from one of its
 * tasks (the waiting worker helps).  With ctx->pool NULL they run the same
 * algorithm on the calling thread.  A non-NULL ctx->cancel is polled between
 * chunks: once it reads non-zero the operation stops early and returns -1
 * with errno ECANCELED (outputs are then unspecified).
 */
#ifndef JOBD_PAR_H
#define JOBD_PAR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

struct par_ctx {
	struct pool *pool;        /* NULL: sequential */
	size_t grain;             /* minimum elements per task; 0: default */
	const atomic_int *cancel; /* NULL: not cancellable */
};

#define PAR_GRAIN_DEFAULT 4096

typedef int64_t (*par_map_fn)(int64_t value, void *arg);
typedef int (*par_pred_fn)(int64_t value, void *arg);
typedef int64_t (*par_combine_fn)(int64_t a, int64_t b, void *arg);

/* out[i] = fn(in[i]); in and out may be the same array. */
int par_map(const struct par_ctx *ctx, const int64_t *in, int64_t *out,
    size_t n, par_map_fn fn, void *arg);
/* Copy the elements for which pred is true to out (room for n), in order. */
int par_filter(const struct par_ctx *ctx, const int64_t *in, size_t n,
    int64_t *out, size_t *nout, par_pred_fn pred, void *arg);
/* ((identity op in[0]) op in[1]) ... for an associative op with identity. */
int par_reduce(const struct par_ctx *ctx, const int64_t *in, size_t n,
    int64_t identity, par_combine_fn op, void *arg, int64_t *result);
/* Sum modulo 2^64 (as int64_t, two's complement). */
int par_sum(
    const struct par_ctx *ctx, const int64_t *in, size_t n, int64_t *result);
/* Sort ascending, in place. */
int par_sort(const struct par_ctx *ctx, int64_t *a, size_t n);

/*
 * Group values by key(value): groups sorted by key ascending; the values of
 * group g are values[offsets[g] .. offsets[g + 1]) in input order.
 */
struct par_groups {
	size_t ngroups;
	int64_t *keys;   /* ngroups */
	size_t *offsets; /* ngroups + 1 */
	int64_t *values; /* n */
};
int par_group_by(const struct par_ctx *ctx, const int64_t *in, size_t n,
    par_map_fn key, void *arg, struct par_groups *out);
void par_groups_free(struct par_groups *g);

#endif
