/*
 * compute: the built-in compute kinds (see compute.h).
 *
 * compute_parse() runs on the loop thread: it validates the JSON args and
 * copies the values into a plain int64_t array, so compute_run() never
 * touches the args (jansson's reference counts are not thread-safe, and the
 * loop may still hold the job's spec).  compute_run() reads the struct
 * compute without modifying it, so it may run on any thread, concurrently
 * with another compute_run() of the same struct, and again for a retry; the
 * only JSON it touches is the new result it builds.
 *
 * The work is done by lib/par.  Checked arithmetic cannot stop a par
 * operation, so an overflow only raises a flag (an atomic in struct
 * compute_job) and the operation finishes; the flag is looked at once par
 * returned.  The first offending element is then found by a sequential
 * pass, so the error message is the same whatever the pool and grain.
 *
 * Sums and products are exact: par_reduce() with a checked operation gives
 * the exact result whenever no partial result overflowed, and when one did
 * (which depends on how the values were split into chunks) a sequential
 * pass decides from the exact value.  So [INT64_MAX, 1, -1] sums to
 * INT64_MAX on every pool and grain; only a total outside int64 is an error.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute.h"
#include "log.h"
#include "par.h"
#include "xmalloc.h"

/* Poll the cancellation flag this often in the sequential passes. */
#define COMPUTE_POLL_EVERY 65536
/* Longest user-supplied name (a key, a kind) quoted in a message. */
#define COMPUTE_NAME_MAX 48
/* Room for the list of a kind's op names in a message. */
#define COMPUTE_OPS_MAX 128

enum compute_kind {
	KIND_SUM,
	KIND_SORT,
	KIND_MAP,
	KIND_FILTER,
	KIND_REDUCE,
	KIND_GROUP_BY,
};

/* One enum for the ops of every kind; each kind's table lists its own. */
enum compute_opcode {
	OP_NONE,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_MOD,
	OP_NEG,
	OP_ABS,
	OP_SQUARE,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_EVEN,
	OP_ODD,
	OP_SUM,
	OP_PRODUCT,
	OP_MIN,
	OP_MAX,
	OP_AND,
	OP_OR,
	OP_XOR,
};

struct compute_op {
	const char *name;
	enum compute_opcode code;
	bool binary;  /* takes "operand" */
	bool nonzero; /* the operand is a divisor */
};

struct compute_kind_def {
	const char *name;
	enum compute_kind kind;
	const char *const *fields;    /* the keys allowed in args */
	const struct compute_op *ops; /* NULL: no "op" */
};

struct compute {
	enum compute_kind kind;
	const struct compute_op *op; /* NULL for sum and sort */
	int64_t operand;
	bool desc;
	int64_t *values; /* NULL when nvalues is 0 */
	size_t nvalues;
};

/* What the par callbacks get as their argument: one per compute_run(). */
struct compute_job {
	const struct compute *c;
	/*
	 * Set by any thread that saw an overflow.  Relaxed: it publishes no
	 * data, and it is read only after the par call returned, which joins
	 * every task that could have set it.
	 */
	atomic_int overflow;
};

static const char *const fields_sum[] = {"values", NULL};
static const char *const fields_sort[] = {"values", "order", NULL};
static const char *const fields_op[] = {"values", "op", "operand", NULL};
static const char *const fields_reduce[] = {"values", "op", NULL};

static const struct compute_op ops_map[] = {
    {"add", OP_ADD, true, false},
    {"sub", OP_SUB, true, false},
    {"mul", OP_MUL, true, false},
    {"div", OP_DIV, true, true},
    {"mod", OP_MOD, true, true},
    {"neg", OP_NEG, false, false},
    {"abs", OP_ABS, false, false},
    {"square", OP_SQUARE, false, false},
    {NULL, OP_NONE, false, false},
};

static const struct compute_op ops_filter[] = {
    {"eq", OP_EQ, true, false},
    {"ne", OP_NE, true, false},
    {"lt", OP_LT, true, false},
    {"le", OP_LE, true, false},
    {"gt", OP_GT, true, false},
    {"ge", OP_GE, true, false},
    {"even", OP_EVEN, false, false},
    {"odd", OP_ODD, false, false},
    {NULL, OP_NONE, false, false},
};

static const struct compute_op ops_reduce[] = {
    {"sum", OP_SUM, false, false},
    {"product", OP_PRODUCT, false, false},
    {"min", OP_MIN, false, false},
    {"max", OP_MAX, false, false},
    {"and", OP_AND, false, false},
    {"or", OP_OR, false, false},
    {"xor", OP_XOR, false, false},
    {NULL, OP_NONE, false, false},
};

static const struct compute_op ops_group_by[] = {
    {"mod", OP_MOD, true, true},
    {"div", OP_DIV, true, true},
    {NULL, OP_NONE, false, false},
};

static const struct compute_kind_def kind_defs[] = {
    {"sum", KIND_SUM, fields_sum, NULL},
    {"sort", KIND_SORT, fields_sort, NULL},
    {"map", KIND_MAP, fields_op, ops_map},
    {"filter", KIND_FILTER, fields_op, ops_filter},
    {"reduce", KIND_REDUCE, fields_reduce, ops_reduce},
    {"group_by", KIND_GROUP_BY, fields_op, ops_group_by},
};

const char *const compute_kinds[] = {
    "sum", "sort", "map", "filter", "reduce", "group_by", NULL};

static void compute_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
compute_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = saved;
}

/*
 * A user-supplied name made safe to quote: printable ASCII only (so a
 * message cut short by errlen is still valid UTF-8), and not too long.
 */
static const char *
compute_quote(const char *name, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 4 < buflen; i++) {
		buf[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"'
		             ? name[i]
		             : '?';
	}
	if (name[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static const struct compute_kind_def *
compute_kind_find(const char *kind)
{
	size_t i;

	if (kind == NULL)
		return NULL;
	for (i = 0; i < sizeof kind_defs / sizeof kind_defs[0]; i++) {
		if (strcmp(kind_defs[i].name, kind) == 0)
			return &kind_defs[i];
	}
	return NULL;
}

bool
compute_kind_known(const char *kind)
{
	return compute_kind_find(kind) != NULL;
}

const char *
compute_kind_name(const char *kind)
{
	const struct compute_kind_def *def = compute_kind_find(kind);

	return def != NULL ? def->name : NULL;
}

const char *
compute_name(const struct compute *c)
{
	size_t i;

	for (i = 0; i < sizeof kind_defs / sizeof kind_defs[0]; i++) {
		if (kind_defs[i].kind == c->kind)
			return kind_defs[i].name;
	}
	return "?";
}

/*
 * jansson's object iterators take a non-const object although iterating
 * changes nothing; this is the one place that drops the qualifier.
 */
static json_t *
compute_unconst(const json_t *json)
{
	return (json_t *)(uintptr_t)json;
}

static int
compute_check_fields(const struct compute_kind_def *def, const json_t *args,
    char *err, size_t errlen)
{
	char quoted[COMPUTE_NAME_MAX];
	const char *key;
	json_t *value;
	size_t i;

	json_object_foreach(compute_unconst(args), key, value)
	{
		for (i = 0; def->fields[i] != NULL; i++) {
			if (strcmp(def->fields[i], key) == 0)
				break;
		}
		if (def->fields[i] == NULL) {
			compute_err(err, errlen, "args: unknown field \"%s\"",
			    compute_quote(key, quoted, sizeof quoted));
			return -1;
		}
	}
	return 0;
}

static int
compute_parse_values(
    struct compute *c, const json_t *args, char *err, size_t errlen)
{
	const json_t *values, *elem;
	size_t i, n;

	if ((values = json_object_get(args, "values")) == NULL) {
		compute_err(err, errlen, "args.values is required");
		return -1;
	}
	if (!json_is_array(values)) {
		compute_err(err, errlen, "args.values must be an array");
		return -1;
	}
	n = json_array_size(values);
	if (n == 0)
		return 0;
	c->values = xreallocarray(NULL, n, sizeof *c->values);
	for (i = 0; i < n; i++) {
		elem = json_array_get(values, i);
		if (!json_is_integer(elem)) {
			compute_err(err, errlen,
			    "args.values[%zu] must be an integer", i);
			return -1;
		}
		c->values[i] = (int64_t)json_integer_value(elem);
	}
	c->nvalues = n;
	return 0;
}

static int
compute_parse_op(const struct compute_kind_def *def, struct compute *c,
    const json_t *args, char *err, size_t errlen)
{
	const json_t *op, *operand;
	char names[COMPUTE_OPS_MAX];
	const char *name;
	size_t i, len;

	if ((op = json_object_get(args, "op")) == NULL) {
		compute_err(err, errlen, "args.op is required");
		return -1;
	}
	name = json_string_value(op);
	for (i = 0; name != NULL && def->ops[i].name != NULL; i++) {
		if (strcmp(def->ops[i].name, name) == 0) {
			c->op = &def->ops[i];
			break;
		}
	}
	if (c->op == NULL) {
		names[0] = '\0';
		for (i = 0, len = 0; def->ops[i].name != NULL; i++) {
			len += strlen(def->ops[i].name) + 2;
			if (len >= sizeof names)
				fatalx("compute: COMPUTE_OPS_MAX too small");
			if (i > 0)
				strcat(names, ", ");
			strcat(names, def->ops[i].name);
		}
		compute_err(err, errlen, "args.op must be one of %s", names);
		return -1;
	}

	operand = json_object_get(args, "operand");
	if (!c->op->binary) {
		if (operand != NULL) {
			compute_err(err, errlen,
			    "args.operand is not allowed for %s", c->op->name);
			return -1;
		}
		return 0;
	}
	if (operand == NULL) {
		compute_err(err, errlen, "args.operand is required for %s",
		    c->op->name);
		return -1;
	}
	if (!json_is_integer(operand)) {
		compute_err(err, errlen, "args.operand must be an integer");
		return -1;
	}
	c->operand = (int64_t)json_integer_value(operand);
	if (c->op->nonzero && c->operand == 0) {
		compute_err(err, errlen, "args.operand must not be 0 for %s",
		    c->op->name);
		return -1;
	}
	return 0;
}

static int
compute_parse_order(
    struct compute *c, const json_t *args, char *err, size_t errlen)
{
	const json_t *order;
	const char *name;

	if ((order = json_object_get(args, "order")) == NULL)
		return 0;
	name = json_string_value(order);
	if (name != NULL && strcmp(name, "asc") == 0)
		c->desc = false;
	else if (name != NULL && strcmp(name, "desc") == 0)
		c->desc = true;
	else {
		compute_err(
		    err, errlen, "args.order must be \"asc\" or \"desc\"");
		return -1;
	}
	return 0;
}

struct compute *
compute_parse(const char *kind, const json_t *args, char *err, size_t errlen)
{
	const struct compute_kind_def *def;
	char quoted[COMPUTE_NAME_MAX];
	struct compute *c;

	if ((def = compute_kind_find(kind)) == NULL) {
		compute_err(err, errlen, "unknown kind \"%s\"",
		    kind == NULL ? "(null)"
		                 : compute_quote(kind, quoted, sizeof quoted));
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(args)) {
		compute_err(err, errlen, "args must be an object");
		errno = EINVAL;
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->kind = def->kind;
	if (compute_check_fields(def, args, err, errlen) == -1 ||
	    compute_parse_values(c, args, err, errlen) == -1 ||
	    (def->ops != NULL &&
	        compute_parse_op(def, c, args, err, errlen) == -1) ||
	    (def->kind == KIND_SORT &&
	        compute_parse_order(c, args, err, errlen) == -1)) {
		compute_free(c);
		errno = EINVAL;
		return NULL;
	}
	return c;
}

void
compute_free(struct compute *c)
{
	if (c == NULL)
		return;
	free(c->values);
	free(c);
}

/*
 * Arithmetic.  Division truncates toward zero and the remainder takes the
 * sign of the dividend, as in C; INT64_MIN % -1 is 0 (C leaves it
 * undefined: it traps on x86).  False on overflow.
 */
static bool
compute_arith(enum compute_opcode op, int64_t operand, int64_t v, int64_t *out)
{
	switch (op) {
	case OP_ADD:
		return !__builtin_add_overflow(v, operand, out);
	case OP_SUB:
		return !__builtin_sub_overflow(v, operand, out);
	case OP_MUL:
		return !__builtin_mul_overflow(v, operand, out);
	case OP_DIV:
		if (operand == -1)
			return !__builtin_sub_overflow((int64_t)0, v, out);
		*out = v / operand;
		return true;
	case OP_MOD:
		*out = operand == -1 ? 0 : v % operand;
		return true;
	case OP_NEG:
		return !__builtin_sub_overflow((int64_t)0, v, out);
	case OP_ABS:
		if (v >= 0) {
			*out = v;
			return true;
		}
		return !__builtin_sub_overflow((int64_t)0, v, out);
	case OP_SQUARE:
		return !__builtin_mul_overflow(v, v, out);
	default:
		fatalx("compute: op %d is not arithmetic", (int)op);
	}
}

static void
compute_job_overflowed(struct compute_job *job)
{
	atomic_store_explicit(&job->overflow, 1, memory_order_relaxed);
}

static bool
compute_job_overflow(struct compute_job *job)
{
	return atomic_load_explicit(&job->overflow, memory_order_relaxed) != 0;
}

/* par_map_fn for map and the group_by key. */
static int64_t
compute_map_fn(int64_t v, void *arg)
{
	struct compute_job *job = arg;
	int64_t r;

	if (!compute_arith(job->c->op->code, job->c->operand, v, &r)) {
		compute_job_overflowed(job);
		return 0;
	}
	return r;
}

static int
compute_filter_fn(int64_t v, void *arg)
{
	const struct compute_job *job = arg;
	int64_t x = job->c->operand;

	switch (job->c->op->code) {
	case OP_EQ:
		return v == x;
	case OP_NE:
		return v != x;
	case OP_LT:
		return v < x;
	case OP_LE:
		return v <= x;
	case OP_GT:
		return v > x;
	case OP_GE:
		return v >= x;
	case OP_EVEN:
		return (v & 1) == 0;
	case OP_ODD:
		return (v & 1) != 0;
	default:
		fatalx(
		    "compute: op %d is not a predicate", (int)job->c->op->code);
	}
}

static int64_t
compute_add_fn(int64_t a, int64_t b, void *arg)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		compute_job_overflowed(arg);
	return r;
}

static int64_t
compute_mul_fn(int64_t a, int64_t b, void *arg)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		compute_job_overflowed(arg);
	return r;
}

static int64_t
compute_min_fn(int64_t a, int64_t b, void *arg)
{
	return b < a ? b : a;
}

static int64_t
compute_max_fn(int64_t a, int64_t b, void *arg)
{
	return b > a ? b : a;
}

static int64_t
compute_and_fn(int64_t a, int64_t b, void *arg)
{
	return a & b;
}

static int64_t
compute_or_fn(int64_t a, int64_t b, void *arg)
{
	return a | b;
}

static int64_t
compute_xor_fn(int64_t a, int64_t b, void *arg)
{
	return a ^ b;
}

static bool
compute_cancelled(const struct par_ctx *ctx, size_t i)
{
	/* Relaxed: the flag only asks us to stop; it publishes nothing. */
	return i % COMPUTE_POLL_EVERY == 0 && ctx->cancel != NULL &&
	       atomic_load_explicit(ctx->cancel, memory_order_relaxed) != 0;
}

/*
 * The exact sum, after a partial sum overflowed: count the wrap-arounds of
 * a running sum.  The total fits in int64 iff they cancel out.  0, or -1
 * with errno ERANGE or ECANCELED.
 */
static int
compute_sum_exact(
    const struct par_ctx *ctx, const int64_t *v, size_t n, int64_t *result)
{
	int64_t acc = 0, wraps = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (compute_cancelled(ctx, i)) {
			errno = ECANCELED;
			return -1;
		}
		if (__builtin_add_overflow(acc, v[i], &acc))
			wraps += v[i] > 0 ? 1 : -1;
	}
	if (wraps != 0) {
		errno = ERANGE;
		return -1;
	}
	*result = acc;
	return 0;
}

/*
 * The exact product, after a partial product overflowed: 0 if a factor is
 * 0, else the magnitude (which can only grow) and the sign.  -2^63 fits,
 * 2^63 does not.  0, or -1 with errno ERANGE or ECANCELED.
 */
static int
compute_product_exact(
    const struct par_ctx *ctx, const int64_t *v, size_t n, int64_t *result)
{
	const uint64_t limit = (uint64_t)1 << 63;
	uint64_t mag = 1, factor;
	bool negative = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (compute_cancelled(ctx, i)) {
			errno = ECANCELED;
			return -1;
		}
		if (v[i] == 0) {
			*result = 0;
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (compute_cancelled(ctx, i)) {
			errno = ECANCELED;
			return -1;
		}
		factor = v[i] < 0 ? -(uint64_t)v[i] : (uint64_t)v[i];
		if (__builtin_mul_overflow(mag, factor, &mag) || mag > limit) {
			errno = ERANGE;
			return -1;
		}
		negative ^= v[i] < 0;
	}
	if (mag == limit && !negative) {
		errno = ERANGE;
		return -1;
	}
	/* -mag in unsigned, then back: GCC converts modulo 2^64. */
	*result = negative ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* Report a failed par call: cancelled is the only failure it can have. */
static void
compute_par_failed(char *err, size_t errlen)
{
	if (errno != ECANCELED)
		fatalx("compute: par failed: %s", strerror(errno));
	compute_err(err, errlen, "cancelled");
}

/* The sequential pass that finds the first element a map or key overflows. */
static void
compute_overflow_at(
    const struct compute *c, const char *kind, char *err, size_t errlen)
{
	int64_t r;
	size_t i;

	for (i = 0; i < c->nvalues; i++) {
		if (!compute_arith(c->op->code, c->operand, c->values[i], &r))
			break;
	}
	if (i == c->nvalues)
		fatalx("compute: overflow flagged but not found");
	compute_err(err, errlen, "%s %s overflows int64 at args.values[%zu]",
	    kind, c->op->name, i);
	errno = ERANGE;
}

static json_t *
compute_json_check(json_t *json)
{
	if (json == NULL)
		fatalx("compute: out of memory building the result");
	return json;
}

static json_t *
compute_json_integer(int64_t v)
{
	return compute_json_check(json_integer((json_int_t)v));
}

static json_t *
compute_json_array(const int64_t *v, size_t n)
{
	json_t *array;
	size_t i;

	array = compute_json_check(json_array());
	for (i = 0; i < n; i++) {
		if (json_array_append_new(array, compute_json_integer(v[i])) ==
		    -1)
			fatalx("compute: out of memory building the result");
	}
	return array;
}

/* {name: value}, taking the reference to value. */
static json_t *
compute_json_object1(const char *name, json_t *value)
{
	json_t *obj;

	obj = compute_json_check(json_object());
	if (json_object_set_new(obj, name, value) == -1)
		fatalx("compute: out of memory building the result");
	return obj;
}

static json_t *
compute_run_sum(struct compute_job *job, const struct par_ctx *ctx,
    const char *what, const char *name, char *err, size_t errlen)
{
	const struct compute *c = job->c;
	bool product = c->op != NULL && c->op->code == OP_PRODUCT;
	int64_t result;

	if (par_reduce(ctx, c->values, c->nvalues, product ? 1 : 0,
	        product ? compute_mul_fn : compute_add_fn, job,
	        &result) == -1) {
		compute_par_failed(err, errlen);
		return NULL;
	}
	if (compute_job_overflow(job) &&
	    (product
	            ? compute_product_exact(ctx, c->values, c->nvalues, &result)
	            : compute_sum_exact(ctx, c->values, c->nvalues, &result)) ==
	        -1) {
		if (errno == ECANCELED)
			compute_err(err, errlen, "cancelled");
		else
			compute_err(err, errlen, "%s overflows int64", what);
		return NULL;
	}
	return compute_json_object1(name, compute_json_integer(result));
}

static json_t *
compute_run_sort(struct compute_job *job, const struct par_ctx *ctx, char *err,
    size_t errlen)
{
	const struct compute *c = job->c;
	int64_t *sorted = NULL, tmp;
	size_t i, n = c->nvalues;
	json_t *result;

	if (n > 0) {
		sorted = xreallocarray(NULL, n, sizeof *sorted);
		memcpy(sorted, c->values, n * sizeof *sorted);
	}
	if (par_sort(ctx, sorted, n) == -1) {
		compute_par_failed(err, errlen);
		free(sorted);
		return NULL;
	}
	for (i = 0; c->desc && i < n / 2; i++) {
		tmp = sorted[i];
		sorted[i] = sorted[n - 1 - i];
		sorted[n - 1 - i] = tmp;
	}
	result = compute_json_object1("values", compute_json_array(sorted, n));
	free(sorted);
	return result;
}

static json_t *
compute_run_map(struct compute_job *job, const struct par_ctx *ctx, char *err,
    size_t errlen)
{
	const struct compute *c = job->c;
	int64_t *out = NULL;
	json_t *result = NULL;

	if (c->nvalues > 0)
		out = xreallocarray(NULL, c->nvalues, sizeof *out);
	if (par_map(ctx, c->values, out, c->nvalues, compute_map_fn, job) == -1)
		compute_par_failed(err, errlen);
	else if (compute_job_overflow(job))
		compute_overflow_at(c, "map", err, errlen);
	else
		result = compute_json_object1(
		    "values", compute_json_array(out, c->nvalues));
	free(out);
	return result;
}

static json_t *
compute_run_filter(struct compute_job *job, const struct par_ctx *ctx,
    char *err, size_t errlen)
{
	const struct compute *c = job->c;
	int64_t *out = NULL;
	json_t *result = NULL;
	size_t nout;

	if (c->nvalues > 0)
		out = xreallocarray(NULL, c->nvalues, sizeof *out);
	if (par_filter(ctx, c->values, c->nvalues, out, &nout,
	        compute_filter_fn, job) == -1)
		compute_par_failed(err, errlen);
	else
		result = compute_json_object1(
		    "values", compute_json_array(out, nout));
	free(out);
	return result;
}

static json_t *
compute_run_reduce(struct compute_job *job, const struct par_ctx *ctx,
    char *err, size_t errlen)
{
	const struct compute *c = job->c;
	par_combine_fn fn;
	int64_t identity, result;

	switch (c->op->code) {
	case OP_SUM:
		return compute_run_sum(
		    job, ctx, "reduce sum", "result", err, errlen);
	case OP_PRODUCT:
		return compute_run_sum(
		    job, ctx, "reduce product", "result", err, errlen);
	case OP_MIN:
		fn = compute_min_fn;
		identity = INT64_MAX;
		break;
	case OP_MAX:
		fn = compute_max_fn;
		identity = INT64_MIN;
		break;
	case OP_AND:
		fn = compute_and_fn;
		identity = -1;
		break;
	case OP_OR:
		fn = compute_or_fn;
		identity = 0;
		break;
	case OP_XOR:
		fn = compute_xor_fn;
		identity = 0;
		break;
	default:
		fatalx("compute: op %d is not a reduction", (int)c->op->code);
	}
	if (c->nvalues == 0 &&
	    (c->op->code == OP_MIN || c->op->code == OP_MAX)) {
		compute_err(err, errlen, "reduce %s of no values", c->op->name);
		errno = EDOM;
		return NULL;
	}
	if (par_reduce(
	        ctx, c->values, c->nvalues, identity, fn, job, &result) == -1) {
		compute_par_failed(err, errlen);
		return NULL;
	}
	return compute_json_object1("result", compute_json_integer(result));
}

static json_t *
compute_run_group_by(struct compute_job *job, const struct par_ctx *ctx,
    char *err, size_t errlen)
{
	const struct compute *c = job->c;
	struct par_groups groups;
	json_t *list, *group;
	size_t g;

	if (par_group_by(ctx, c->values, c->nvalues, compute_map_fn, job,
	        &groups) == -1) {
		compute_par_failed(err, errlen);
		return NULL;
	}
	if (compute_job_overflow(job)) {
		par_groups_free(&groups);
		compute_overflow_at(c, "group_by", err, errlen);
		return NULL;
	}
	list = compute_json_check(json_array());
	for (g = 0; g < groups.ngroups; g++) {
		group = compute_json_object1(
		    "key", compute_json_integer(groups.keys[g]));
		if (json_object_set_new(group, "values",
		        compute_json_array(groups.values + groups.offsets[g],
		            groups.offsets[g + 1] - groups.offsets[g])) == -1 ||
		    json_array_append_new(list, group) == -1)
			fatalx("compute: out of memory building the result");
	}
	par_groups_free(&groups);
	return compute_json_object1("groups", list);
}

json_t *
compute_run(
    struct compute *c, const struct par_ctx *ctx, char *err, size_t errlen)
{
	static const struct par_ctx sequential = {NULL, 0, NULL};
	struct compute_job job;
	json_t *result = NULL;

	if (ctx == NULL)
		ctx = &sequential;
	/* Relaxed: see compute_cancelled(). */
	if (ctx->cancel != NULL &&
	    atomic_load_explicit(ctx->cancel, memory_order_relaxed) != 0) {
		compute_err(err, errlen, "cancelled");
		errno = ECANCELED;
		return NULL;
	}
	job.c = c;
	atomic_init(&job.overflow, 0);
	switch (c->kind) {
	case KIND_SUM:
		result = compute_run_sum(&job, ctx, "sum", "sum", err, errlen);
		break;
	case KIND_SORT:
		result = compute_run_sort(&job, ctx, err, errlen);
		break;
	case KIND_MAP:
		result = compute_run_map(&job, ctx, err, errlen);
		break;
	case KIND_FILTER:
		result = compute_run_filter(&job, ctx, err, errlen);
		break;
	case KIND_REDUCE:
		result = compute_run_reduce(&job, ctx, err, errlen);
		break;
	case KIND_GROUP_BY:
		result = compute_run_group_by(&job, ctx, err, errlen);
		break;
	}
	return result;
}
