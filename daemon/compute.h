/*
 * compute: the built-in compute kinds, run in-process on the pool.
 *
 * Each kind takes JSON args with an array of integers and returns a JSON
 * result; the work is done by lib/par on the pool, and a cancellation flag
 * (set by the loop on timeout or cancel) stops it early.
 *
 *   sum       {"values":[..]}                          -> {"sum":N}
 *   sort      {"values":[..], "order":"asc"|"desc"}    -> {"values":[..]}
 *   map       {"values":[..], "op":OP, "operand":N}    -> {"values":[..]}
 *             OP: add sub mul div mod neg abs square
 *   filter    {"values":[..], "op":OP, "operand":N}    -> {"values":[..]}
 *             OP: eq ne lt le gt ge even odd
 *   reduce    {"values":[..], "op":OP}                 -> {"result":N}
 *             OP: sum product min max and or xor
 *   group_by  {"values":[..], "op":"mod"|"div", "operand":N}
 *             -> {"groups":[{"key":K,"values":[..]},..]} (keys ascending)
 *
 * Arithmetic that overflows int64 is an error, not a wrap-around; so is a
 * division or modulo by zero (caught at parse time when it is the operand).
 * A sum or product is an error only if its exact value does not fit: the
 * order of evaluation never matters ([INT64_MAX, 1, -1] sums to INT64_MAX).
 * div truncates toward zero and mod takes the sign of the dividend, as in C
 * (-7 mod 2 is -1, 7 mod -2 is 1); group_by keys likewise.  INT64_MIN div -1
 * overflows; INT64_MIN mod -1 is 0.  even/odd test the lowest bit.
 *
 * Every field is checked: an unknown key, a value that is not a JSON
 * integer, a missing or unknown op, a missing operand for a binary op and
 * an operand for a unary op are all errors.  Empty values are fine:
 * sum 0, reduce sum 0, product 1, and -1, or 0, xor 0; reduce min or max
 * of no values is an error (errno EDOM).  group_by lists each group's
 * values in input order.
 */
#ifndef JOBD_COMPUTE_H
#define JOBD_COMPUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct compute;
struct par_ctx;

/* Is kind one of the compute kinds? */
bool compute_kind_known(const char *kind);
/* The kind's name as a static string, or NULL if unknown. */
const char *compute_kind_name(const char *kind);
/* The name of a parsed job's kind. */
const char *compute_name(const struct compute *c);
/* The names of the compute kinds, NULL-terminated. */
extern const char *const compute_kinds[];

/*
 * Validate args for kind and prepare the work (the values are copied: args
 * is not kept).  NULL on error, errno EINVAL, with a message naming the
 * field ("args.values[3] must be an integer") in err.
 */
struct compute *compute_parse(
    const char *kind, const json_t *args, char *err, size_t errlen);

/*
 * Do the work (on any thread; with ctx->pool set, from a pool task or not;
 * ctx NULL: sequential, not cancellable).  c is not modified, so it may run
 * again, or on several threads at once.  Returns the result object, or NULL
 * with a message in err: cancelled ("cancelled"; errno ECANCELED) or an
 * arithmetic error (errno ERANGE: "map mul overflows int64 at
 * args.values[3]"; EDOM: "reduce min of no values").
 */
json_t *compute_run(
    struct compute *c, const struct par_ctx *ctx, char *err, size_t errlen);

void compute_free(struct compute *c);

#endif
