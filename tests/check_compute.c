/*
 * check_compute: the compute kinds.  Small known inputs against exact JSON;
 * 100000 random values against a sequential reference written here; every
 * class of bad args with its message; overflow, empty input and
 * cancellation; each without a pool and on a 2-worker pool, with the
 * default grain and with small grains that split small inputs too.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common.h"
#include "compute.h"
#include "par.h"
#include "pool.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 256
#define NRANDOM 100000

#define MAX_S "9223372036854775807"
#define MIN_S "-9223372036854775808"
/* 63 twos: their product is 2^63, one more than INT64_MAX. */
#define TWO8 "2,2,2,2,2,2,2,2,"
#define TWO63 TWO8 TWO8 TWO8 TWO8 TWO8 TWO8 TWO8 "2,2,2,2,2,2,2"

/* Pool sizes and grains the tests run with; workers 0 means no pool. */
struct config {
	unsigned workers;
	size_t grain;
};

static const struct config configs[] = {
    {0, 0},
    {0, 1},
    {2, 0},
    {2, 1},
    {2, 3},
};

/* For the 100000-value tests: splitting into single elements is too slow. */
static const struct config big_configs[] = {
    {0, 0},
    {2, 0},
    {2, 1000},
};

struct env {
	struct pool *pool;
	struct par_ctx ctx;
	atomic_int cancel;
};

static void
env_init(struct env *env, const struct config *cfg)
{
	memset(env, 0, sizeof *env);
	atomic_init(&env->cancel, 0);
	if (cfg->workers > 0) {
		env->pool = pool_create(cfg->workers);
		ck_assert_ptr_nonnull(env->pool);
	}
	env->ctx.pool = env->pool;
	env->ctx.grain = cfg->grain;
	env->ctx.cancel = &env->cancel;
}

static void
env_fini(struct env *env)
{
	if (env->pool != NULL)
		pool_free(env->pool);
}

static json_t *
load(const char *text)
{
	json_error_t error;
	json_t *json;

	json = json_loads(text, JSON_DECODE_ANY, &error);
	ck_assert_msg(json != NULL, "bad test JSON %s: %s", text, error.text);
	return json;
}

/* Parse kind/args (args freed before the run), run, return the result. */
static json_t *
run_text(const char *kind, const char *args_text, const struct par_ctx *ctx,
    char *err)
{
	struct compute *c;
	json_t *args, *result;

	args = load(args_text);
	c = compute_parse(kind, args, err, ERRLEN);
	ck_assert_msg(c != NULL, "%s %s: %s", kind, args_text, err);
	/* compute must not keep any reference into args. */
	json_decref(args);
	result = compute_run(c, ctx, err, ERRLEN);
	compute_free(c);
	return result;
}

static void
assert_result(const char *kind, const char *args_text, const char *expected,
    const struct par_ctx *ctx)
{
	char err[ERRLEN] = "", *got_text;
	json_t *result, *want;

	result = run_text(kind, args_text, ctx, err);
	ck_assert_msg(result != NULL, "%s %s: %s", kind, args_text, err);
	want = load(expected);
	got_text = json_dumps(result, JSON_COMPACT);
	ck_assert_msg(json_equal(result, want), "%s %s: got %s, want %s", kind,
	    args_text, got_text, expected);
	free(got_text);
	json_decref(want);
	json_decref(result);
}

static void
assert_run_error(const char *kind, const char *args_text, int want_errno,
    const char *want_msg, const struct par_ctx *ctx)
{
	char err[ERRLEN] = "";
	json_t *result;

	errno = 0;
	result = run_text(kind, args_text, ctx, err);
	ck_assert_msg(
	    result == NULL, "%s %s: expected an error", kind, args_text);
	ck_assert_msg(errno == want_errno, "%s %s: errno %d, want %d", kind,
	    args_text, errno, want_errno);
	ck_assert_str_eq(err, want_msg);
}

struct known {
	const char *kind;
	const char *args;
	const char *expected;
};

static const struct known known[] = {
    /* sum */
    {"sum", "{\"values\":[1,2,3,-4]}", "{\"sum\":2}"},
    {"sum", "{\"values\":[]}", "{\"sum\":0}"},
    {"sum", "{\"values\":[-5]}", "{\"sum\":-5}"},
    {"sum", "{\"values\":[" MAX_S ",1,-1]}", "{\"sum\":" MAX_S "}"},
    {"sum", "{\"values\":[" MIN_S ",-1,1]}", "{\"sum\":" MIN_S "}"},
    {"sum", "{\"values\":[" MAX_S "," MAX_S "," MIN_S "," MIN_S ",2]}",
        "{\"sum\":0}"},
    {"sum", "{\"values\":[" MAX_S "," MAX_S ",1,1," MIN_S "," MIN_S ",-1]}",
        "{\"sum\":-1}"},
    /* sort */
    {"sort", "{\"values\":[3,-1,2,-1,0]}", "{\"values\":[-1,-1,0,2,3]}"},
    {"sort", "{\"values\":[3,-1,2,-1,0],\"order\":\"asc\"}",
        "{\"values\":[-1,-1,0,2,3]}"},
    {"sort", "{\"values\":[3,-1,2,-1,0],\"order\":\"desc\"}",
        "{\"values\":[3,2,0,-1,-1]}"},
    {"sort", "{\"values\":[" MAX_S "," MIN_S ",0]}",
        "{\"values\":[" MIN_S ",0," MAX_S "]}"},
    {"sort", "{\"values\":[]}", "{\"values\":[]}"},
    {"sort", "{\"values\":[],\"order\":\"desc\"}", "{\"values\":[]}"},
    {"sort", "{\"values\":[7],\"order\":\"desc\"}", "{\"values\":[7]}"},
    /* map */
    {"map", "{\"values\":[1,-2],\"op\":\"add\",\"operand\":10}",
        "{\"values\":[11,8]}"},
    {"map", "{\"values\":[1,-2],\"op\":\"sub\",\"operand\":10}",
        "{\"values\":[-9,-12]}"},
    {"map", "{\"values\":[1,-2,0],\"op\":\"mul\",\"operand\":-3}",
        "{\"values\":[-3,6,0]}"},
    {"map", "{\"values\":[7,-7,6],\"op\":\"div\",\"operand\":2}",
        "{\"values\":[3,-3,3]}"},
    {"map", "{\"values\":[7,-7],\"op\":\"div\",\"operand\":-2}",
        "{\"values\":[-3,3]}"},
    {"map", "{\"values\":[5," MAX_S "],\"op\":\"div\",\"operand\":-1}",
        "{\"values\":[-5,-" MAX_S "]}"},
    {"map", "{\"values\":[" MIN_S "],\"op\":\"div\",\"operand\":1}",
        "{\"values\":[" MIN_S "]}"},
    {"map", "{\"values\":[7,-7,6],\"op\":\"mod\",\"operand\":2}",
        "{\"values\":[1,-1,0]}"},
    {"map", "{\"values\":[7,-7],\"op\":\"mod\",\"operand\":-2}",
        "{\"values\":[1,-1]}"},
    {"map", "{\"values\":[" MIN_S ",5],\"op\":\"mod\",\"operand\":-1}",
        "{\"values\":[0,0]}"},
    {"map", "{\"values\":[" MIN_S "],\"op\":\"mod\",\"operand\":" MIN_S "}",
        "{\"values\":[0]}"},
    {"map", "{\"values\":[1,-2,0," MAX_S "],\"op\":\"neg\"}",
        "{\"values\":[-1,2,0,-" MAX_S "]}"},
    {"map", "{\"values\":[-5,5,0,-" MAX_S "],\"op\":\"abs\"}",
        "{\"values\":[5,5,0," MAX_S "]}"},
    {"map", "{\"values\":[3,-4,3037000499],\"op\":\"square\"}",
        "{\"values\":[9,16,9223372030926249001]}"},
    {"map", "{\"values\":[],\"op\":\"add\",\"operand\":1}", "{\"values\":[]}"},
    {"map", "{\"values\":[],\"op\":\"neg\"}", "{\"values\":[]}"},
    /* filter */
    {"filter", "{\"values\":[1,2,3,2],\"op\":\"eq\",\"operand\":2}",
        "{\"values\":[2,2]}"},
    {"filter", "{\"values\":[1,2,3,2],\"op\":\"ne\",\"operand\":2}",
        "{\"values\":[1,3]}"},
    {"filter", "{\"values\":[3,1,2,0],\"op\":\"lt\",\"operand\":2}",
        "{\"values\":[1,0]}"},
    {"filter", "{\"values\":[3,1,2,0],\"op\":\"le\",\"operand\":2}",
        "{\"values\":[1,2,0]}"},
    {"filter", "{\"values\":[3,1,2,0],\"op\":\"gt\",\"operand\":1}",
        "{\"values\":[3,2]}"},
    {"filter", "{\"values\":[3,1,2,0],\"op\":\"ge\",\"operand\":1}",
        "{\"values\":[3,1,2]}"},
    {"filter", "{\"values\":[0,-1,5],\"op\":\"eq\",\"operand\":0}",
        "{\"values\":[0]}"},
    {"filter", "{\"values\":[-3,-2,0,1,4," MIN_S "],\"op\":\"even\"}",
        "{\"values\":[-2,0,4," MIN_S "]}"},
    {"filter", "{\"values\":[-3,-2,0,1,4," MAX_S "],\"op\":\"odd\"}",
        "{\"values\":[-3,1," MAX_S "]}"},
    {"filter", "{\"values\":[1,2],\"op\":\"gt\",\"operand\":5}",
        "{\"values\":[]}"},
    {"filter", "{\"values\":[],\"op\":\"odd\"}", "{\"values\":[]}"},
    {"filter", "{\"values\":[],\"op\":\"lt\",\"operand\":3}",
        "{\"values\":[]}"},
    /* reduce */
    {"reduce", "{\"values\":[1,2,3,-4],\"op\":\"sum\"}", "{\"result\":2}"},
    {"reduce", "{\"values\":[" MAX_S ",1,-1],\"op\":\"sum\"}",
        "{\"result\":" MAX_S "}"},
    {"reduce", "{\"values\":[2,-3,4],\"op\":\"product\"}", "{\"result\":-24}"},
    {"reduce", "{\"values\":[4611686018427387904,2,-1],\"op\":\"product\"}",
        "{\"result\":" MIN_S "}"},
    {"reduce", "{\"values\":[-4611686018427387904,2],\"op\":\"product\"}",
        "{\"result\":" MIN_S "}"},
    {"reduce", "{\"values\":[" MAX_S ",2,0],\"op\":\"product\"}",
        "{\"result\":0}"},
    {"reduce", "{\"values\":[" MIN_S ",-1,-1],\"op\":\"product\"}",
        "{\"result\":" MIN_S "}"},
    {"reduce", "{\"values\":[" TWO63 ",-1],\"op\":\"product\"}",
        "{\"result\":" MIN_S "}"},
    {"reduce", "{\"values\":[-1," TWO63 "],\"op\":\"product\"}",
        "{\"result\":" MIN_S "}"},
    {"reduce", "{\"values\":[" TWO63 ",-1,0],\"op\":\"product\"}",
        "{\"result\":0}"},
    {"reduce", "{\"values\":[3,-1,2],\"op\":\"min\"}", "{\"result\":-1}"},
    {"reduce", "{\"values\":[" MAX_S "],\"op\":\"min\"}",
        "{\"result\":" MAX_S "}"},
    {"reduce", "{\"values\":[3,-1,2],\"op\":\"max\"}", "{\"result\":3}"},
    {"reduce", "{\"values\":[" MIN_S "],\"op\":\"max\"}",
        "{\"result\":" MIN_S "}"},
    {"reduce", "{\"values\":[12,10],\"op\":\"and\"}", "{\"result\":8}"},
    {"reduce", "{\"values\":[12,10],\"op\":\"or\"}", "{\"result\":14}"},
    {"reduce", "{\"values\":[12,10,1],\"op\":\"xor\"}", "{\"result\":7}"},
    {"reduce", "{\"values\":[-1,-2],\"op\":\"and\"}", "{\"result\":-2}"},
    {"reduce", "{\"values\":[],\"op\":\"sum\"}", "{\"result\":0}"},
    {"reduce", "{\"values\":[],\"op\":\"product\"}", "{\"result\":1}"},
    {"reduce", "{\"values\":[],\"op\":\"and\"}", "{\"result\":-1}"},
    {"reduce", "{\"values\":[],\"op\":\"or\"}", "{\"result\":0}"},
    {"reduce", "{\"values\":[],\"op\":\"xor\"}", "{\"result\":0}"},
    /* group_by */
    {"group_by", "{\"values\":[5,-4,3,7,-3,0,1],\"op\":\"mod\",\"operand\":3}",
        "{\"groups\":[{\"key\":-1,\"values\":[-4]},"
        "{\"key\":0,\"values\":[3,-3,0]},{\"key\":1,\"values\":[7,1]},"
        "{\"key\":2,\"values\":[5]}]}"},
    {"group_by", "{\"values\":[5,-5],\"op\":\"mod\",\"operand\":-3}",
        "{\"groups\":[{\"key\":-2,\"values\":[-5]},"
        "{\"key\":2,\"values\":[5]}]}"},
    {"group_by", "{\"values\":[15,-15,5,-5,25],\"op\":\"div\",\"operand\":10}",
        "{\"groups\":[{\"key\":-1,\"values\":[-15]},"
        "{\"key\":0,\"values\":[5,-5]},{\"key\":1,\"values\":[15]},"
        "{\"key\":2,\"values\":[25]}]}"},
    {"group_by", "{\"values\":[" MIN_S ",3],\"op\":\"mod\",\"operand\":-1}",
        "{\"groups\":[{\"key\":0,\"values\":[" MIN_S ",3]}]}"},
    {"group_by", "{\"values\":[4,4,4],\"op\":\"div\",\"operand\":-2}",
        "{\"groups\":[{\"key\":-2,\"values\":[4,4,4]}]}"},
    {"group_by", "{\"values\":[],\"op\":\"mod\",\"operand\":3}",
        "{\"groups\":[]}"},
    {"group_by", "{\"values\":[],\"op\":\"div\",\"operand\":3}",
        "{\"groups\":[]}"},
};

START_TEST(test_known)
{
	struct env env;
	size_t i;

	env_init(&env, &configs[_i]);
	for (i = 0; i < NELEM(known); i++) {
		assert_result(
		    known[i].kind, known[i].args, known[i].expected, &env.ctx);
	}
	env_fini(&env);
}
END_TEST

/* ctx NULL: sequential and not cancellable. */
START_TEST(test_null_ctx)
{
	assert_result("sum", "{\"values\":[1,2,3]}", "{\"sum\":6}", NULL);
	assert_result("sort", "{\"values\":[2,1],\"order\":\"desc\"}",
	    "{\"values\":[2,1]}", NULL);
	assert_run_error("sum", "{\"values\":[" MAX_S ",1]}", ERANGE,
	    "sum overflows int64", NULL);
}
END_TEST

struct bad {
	const char *kind;
	const char *args; /* NULL: no args at all */
	const char *msg;
};

static const struct bad bad[] = {
    /* args not an object */
    {"sum", NULL, "args must be an object"},
    {"sum", "[1,2]", "args must be an object"},
    {"map", "\"values\"", "args must be an object"},
    {"sort", "null", "args must be an object"},
    /* values */
    {"sum", "{}", "args.values is required"},
    {"map", "{\"op\":\"neg\"}", "args.values is required"},
    {"sum", "{\"values\":5}", "args.values must be an array"},
    {"sum", "{\"values\":{\"a\":1}}", "args.values must be an array"},
    {"sort", "{\"values\":\"1,2\"}", "args.values must be an array"},
    {"sum", "{\"values\":null}", "args.values must be an array"},
    {"sum", "{\"values\":[1,2,3,1.5]}", "args.values[3] must be an integer"},
    {"sum", "{\"values\":[1.0]}", "args.values[0] must be an integer"},
    {"sum", "{\"values\":[1,\"2\"]}", "args.values[1] must be an integer"},
    {"sort", "{\"values\":[null]}", "args.values[0] must be an integer"},
    {"map", "{\"values\":[0,true],\"op\":\"neg\"}",
        "args.values[1] must be an integer"},
    {"filter", "{\"values\":[false],\"op\":\"odd\"}",
        "args.values[0] must be an integer"},
    {"reduce", "{\"values\":[1,[2]],\"op\":\"sum\"}",
        "args.values[1] must be an integer"},
    {"group_by", "{\"values\":[{}],\"op\":\"mod\",\"operand\":2}",
        "args.values[0] must be an integer"},
    /* unknown fields */
    {"sum", "{\"values\":[1],\"x\":1}", "args: unknown field \"x\""},
    {"sum", "{\"values\":[1],\"op\":\"add\"}", "args: unknown field \"op\""},
    {"sort", "{\"values\":[],\"operand\":1}",
        "args: unknown field \"operand\""},
    {"sort", "{\"values\":[],\"op\":\"sum\"}", "args: unknown field \"op\""},
    {"reduce", "{\"values\":[],\"op\":\"sum\",\"operand\":1}",
        "args: unknown field \"operand\""},
    {"map", "{\"values\":[],\"op\":\"neg\",\"order\":\"asc\"}",
        "args: unknown field \"order\""},
    {"group_by", "{\"Values\":[],\"op\":\"mod\",\"operand\":2}",
        "args: unknown field \"Values\""},
    /* an unknown field is reported before anything else */
    {"sum", "{\"values\":\"x\",\"y\":1}", "args: unknown field \"y\""},
    /* non-ASCII and quotes in a key are not copied into the message */
    {"sum", "{\"values\":[],\"k\\u00e9\\\"\\n\":1}",
        "args: unknown field \"k????\""},
    /* op */
    {"map", "{\"values\":[1]}", "args.op is required"},
    {"filter", "{\"values\":[1]}", "args.op is required"},
    {"reduce", "{\"values\":[1]}", "args.op is required"},
    {"group_by", "{\"values\":[1],\"operand\":2}", "args.op is required"},
    {"map", "{\"values\":[1],\"op\":\"pow\"}",
        "args.op must be one of add, sub, mul, div, mod, neg, abs, square"},
    {"map", "{\"values\":[1],\"op\":5}",
        "args.op must be one of add, sub, mul, div, mod, neg, abs, square"},
    {"map", "{\"values\":[1],\"op\":\"ADD\",\"operand\":1}",
        "args.op must be one of add, sub, mul, div, mod, neg, abs, square"},
    {"map", "{\"values\":[1],\"op\":\"eq\",\"operand\":1}",
        "args.op must be one of add, sub, mul, div, mod, neg, abs, square"},
    {"filter", "{\"values\":[1],\"op\":\"add\",\"operand\":1}",
        "args.op must be one of eq, ne, lt, le, gt, ge, even, odd"},
    {"reduce", "{\"values\":[1],\"op\":null}",
        "args.op must be one of sum, product, min, max, and, or, xor"},
    {"group_by", "{\"values\":[1],\"op\":\"add\",\"operand\":2}",
        "args.op must be one of mod, div"},
    /* operand */
    {"map", "{\"values\":[1],\"op\":\"add\"}",
        "args.operand is required for add"},
    {"map", "{\"values\":[1],\"op\":\"div\"}",
        "args.operand is required for div"},
    {"filter", "{\"values\":[1],\"op\":\"eq\"}",
        "args.operand is required for eq"},
    {"group_by", "{\"values\":[1],\"op\":\"mod\"}",
        "args.operand is required for mod"},
    {"map", "{\"values\":[1],\"op\":\"neg\",\"operand\":1}",
        "args.operand is not allowed for neg"},
    {"map", "{\"values\":[1],\"op\":\"square\",\"operand\":null}",
        "args.operand is not allowed for square"},
    {"filter", "{\"values\":[1],\"op\":\"even\",\"operand\":2}",
        "args.operand is not allowed for even"},
    {"map", "{\"values\":[1],\"op\":\"add\",\"operand\":1.5}",
        "args.operand must be an integer"},
    {"map", "{\"values\":[1],\"op\":\"add\",\"operand\":\"1\"}",
        "args.operand must be an integer"},
    {"filter", "{\"values\":[1],\"op\":\"lt\",\"operand\":null}",
        "args.operand must be an integer"},
    {"group_by", "{\"values\":[1],\"op\":\"div\",\"operand\":true}",
        "args.operand must be an integer"},
    /* division by zero */
    {"map", "{\"values\":[1],\"op\":\"div\",\"operand\":0}",
        "args.operand must not be 0 for div"},
    {"map", "{\"values\":[1],\"op\":\"mod\",\"operand\":0}",
        "args.operand must not be 0 for mod"},
    {"group_by", "{\"values\":[1],\"op\":\"div\",\"operand\":0}",
        "args.operand must not be 0 for div"},
    {"group_by", "{\"values\":[],\"op\":\"mod\",\"operand\":0}",
        "args.operand must not be 0 for mod"},
    /* order */
    {"sort", "{\"values\":[],\"order\":\"up\"}",
        "args.order must be \"asc\" or \"desc\""},
    {"sort", "{\"values\":[],\"order\":\"DESC\"}",
        "args.order must be \"asc\" or \"desc\""},
    {"sort", "{\"values\":[],\"order\":1}",
        "args.order must be \"asc\" or \"desc\""},
    {"sort", "{\"values\":[],\"order\":null}",
        "args.order must be \"asc\" or \"desc\""},
    /* kind */
    {"nope", "{\"values\":[]}", "unknown kind \"nope\""},
    {"SUM", "{\"values\":[]}", "unknown kind \"SUM\""},
    {"", "{\"values\":[]}", "unknown kind \"\""},
    {"exec", "{\"values\":[]}", "unknown kind \"exec\""},
    {NULL, "{\"values\":[]}", "unknown kind \"(null)\""},
};

START_TEST(test_parse_errors)
{
	char err[ERRLEN];
	struct compute *c;
	json_t *args, *msg;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		args = bad[i].args != NULL ? load(bad[i].args) : NULL;
		strcpy(err, "unchanged");
		errno = 0;
		c = compute_parse(bad[i].kind, args, err, sizeof err);
		ck_assert_msg(
		    c == NULL, "%s %s: accepted", bad[i].kind, bad[i].args);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strcmp(err, bad[i].msg) == 0,
		    "%s %s: got \"%s\", want \"%s\"", bad[i].kind, bad[i].args,
		    err, bad[i].msg);
		/* The message must survive being put in a JSON reply. */
		msg = json_string(err);
		ck_assert_ptr_nonnull(msg);
		json_decref(msg);
		json_decref(args);
	}
}
END_TEST

START_TEST(test_parse_long_key)
{
	char err[ERRLEN], key[201], want[64];
	struct compute *c;
	json_t *args;

	memset(key, 'a', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	args = json_pack("{s:[], s:i}", "values", key, 1);
	ck_assert_ptr_nonnull(args);
	c = compute_parse("sum", args, err, sizeof err);
	ck_assert_ptr_null(c);
	/* The key is cut short: the message stays bounded. */
	ck_assert_uint_lt(strlen(err), 80);
	ck_assert_msg(strncmp(err, "args: unknown field \"aaaaaaaaaa", 30) == 0,
	    "got %s", err);
	ck_assert_str_eq(err + strlen(err) - 4, "...\"");
	json_decref(args);

	/* A long unknown kind likewise. */
	c = compute_parse(key, NULL, err, sizeof err);
	ck_assert_ptr_null(c);
	ck_assert_uint_lt(strlen(err), 80);
	snprintf(want, sizeof want, "unknown kind \"%.10s", key);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got %s", err);
}
END_TEST

START_TEST(test_parse_err_buffer)
{
	char err[8];
	struct compute *c;
	json_t *args;

	args = load("{\"values\":[1,2,true]}");
	memset(err, 'x', sizeof err);
	c = compute_parse("sum", args, err, sizeof err);
	ck_assert_ptr_null(c);
	/* Cut to the buffer and terminated. */
	ck_assert_str_eq(err, "args.va");
	/* No buffer at all is allowed. */
	errno = 0;
	ck_assert_ptr_null(compute_parse("sum", args, NULL, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(compute_parse("nope", args, NULL, 0));
	json_decref(args);
}
END_TEST

START_TEST(test_parse_accepts)
{
	char err[ERRLEN] = "";
	struct compute *c;
	json_t *args;
	size_t i;
	static const struct {
		const char *kind, *args;
	} good[] = {
	    {"sum", "{\"values\":[]}"},
	    {"sum", "{\"values\":[" MIN_S "," MAX_S "]}"},
	    {"sort", "{\"values\":[],\"order\":\"asc\"}"},
	    {"filter", "{\"values\":[],\"op\":\"eq\",\"operand\":0}"},
	    {"map", "{\"values\":[],\"op\":\"mul\",\"operand\":0}"},
	    {"map", "{\"values\":[],\"op\":\"div\",\"operand\":-1}"},
	    {"map", "{\"op\":\"abs\",\"values\":[1]}"},
	    {"reduce", "{\"values\":[],\"op\":\"xor\"}"},
	    {"group_by",
	        "{\"values\":[],\"op\":\"div\",\"operand\":" MIN_S "}"},
	};

	for (i = 0; i < NELEM(good); i++) {
		args = load(good[i].args);
		c = compute_parse(good[i].kind, args, err, sizeof err);
		ck_assert_msg(
		    c != NULL, "%s %s: %s", good[i].kind, good[i].args, err);
		compute_free(c);
		json_decref(args);
	}
	compute_free(NULL);
}
END_TEST

START_TEST(test_kinds)
{
	static const char *const want[] = {
	    "sum", "sort", "map", "filter", "reduce", "group_by"};
	size_t i;

	for (i = 0; i < NELEM(want); i++) {
		ck_assert_ptr_nonnull(compute_kinds[i]);
		ck_assert_str_eq(compute_kinds[i], want[i]);
		ck_assert(compute_kind_known(want[i]));
	}
	ck_assert_ptr_null(compute_kinds[NELEM(want)]);
	ck_assert(!compute_kind_known("exec"));
	ck_assert(!compute_kind_known("echo"));
	ck_assert(!compute_kind_known(""));
	ck_assert(!compute_kind_known("sum "));
	ck_assert(!compute_kind_known(NULL));
}
END_TEST

struct run_error {
	const char *kind;
	const char *args;
	int errnum;
	const char *msg;
};

static const struct run_error run_errors[] = {
    {"sum", "{\"values\":[" MAX_S ",1]}", ERANGE, "sum overflows int64"},
    {"sum", "{\"values\":[" MIN_S ",-1]}", ERANGE, "sum overflows int64"},
    {"sum", "{\"values\":[" MAX_S "," MAX_S "," MIN_S ",2]}", ERANGE,
        "sum overflows int64"},
    {"sum", "{\"values\":[-1," MAX_S ",1,1]}", ERANGE, "sum overflows int64"},
    {"map", "{\"values\":[1," MAX_S "],\"op\":\"mul\",\"operand\":2}", ERANGE,
        "map mul overflows int64 at args.values[1]"},
    {"map", "{\"values\":[-1,3," MIN_S "],\"op\":\"mul\",\"operand\":-1}",
        ERANGE, "map mul overflows int64 at args.values[2]"},
    {"map", "{\"values\":[" MAX_S "],\"op\":\"add\",\"operand\":1}", ERANGE,
        "map add overflows int64 at args.values[0]"},
    {"map", "{\"values\":[0," MIN_S "],\"op\":\"sub\",\"operand\":1}", ERANGE,
        "map sub overflows int64 at args.values[1]"},
    {"map", "{\"values\":[0,-1],\"op\":\"sub\",\"operand\":" MIN_S "}", ERANGE,
        "map sub overflows int64 at args.values[0]"},
    {"map", "{\"values\":[0," MIN_S "],\"op\":\"neg\"}", ERANGE,
        "map neg overflows int64 at args.values[1]"},
    {"map", "{\"values\":[" MIN_S "],\"op\":\"abs\"}", ERANGE,
        "map abs overflows int64 at args.values[0]"},
    {"map", "{\"values\":[3037000499,-3037000500],\"op\":\"square\"}", ERANGE,
        "map square overflows int64 at args.values[1]"},
    {"map", "{\"values\":[5," MIN_S "],\"op\":\"div\",\"operand\":-1}", ERANGE,
        "map div overflows int64 at args.values[1]"},
    {"group_by", "{\"values\":[1," MIN_S "],\"op\":\"div\",\"operand\":-1}",
        ERANGE, "group_by div overflows int64 at args.values[1]"},
    {"reduce", "{\"values\":[" MAX_S ",1],\"op\":\"sum\"}", ERANGE,
        "reduce sum overflows int64"},
    {"reduce", "{\"values\":[4611686018427387904,2],\"op\":\"product\"}",
        ERANGE, "reduce product overflows int64"},
    {"reduce", "{\"values\":[" MIN_S ",-1],\"op\":\"product\"}", ERANGE,
        "reduce product overflows int64"},
    {"reduce", "{\"values\":[4294967296,-4294967296,1],\"op\":\"product\"}",
        ERANGE, "reduce product overflows int64"},
    {"reduce", "{\"values\":[" TWO63 "],\"op\":\"product\"}", ERANGE,
        "reduce product overflows int64"},
    {"reduce", "{\"values\":[" TWO63 ",-1,-1],\"op\":\"product\"}", ERANGE,
        "reduce product overflows int64"},
    {"reduce", "{\"values\":[],\"op\":\"min\"}", EDOM,
        "reduce min of no values"},
    {"reduce", "{\"values\":[],\"op\":\"max\"}", EDOM,
        "reduce max of no values"},
};

START_TEST(test_run_errors)
{
	struct env env;
	size_t i;

	env_init(&env, &configs[_i]);
	for (i = 0; i < NELEM(run_errors); i++) {
		assert_run_error(run_errors[i].kind, run_errors[i].args,
		    run_errors[i].errnum, run_errors[i].msg, &env.ctx);
	}
	env_fini(&env);
}
END_TEST

/* The first offending element is reported, however the work was split. */
START_TEST(test_overflow_index_big)
{
	char err[ERRLEN];
	struct compute *c;
	struct env env;
	json_t *args, *values;
	size_t i;

	env_init(&env, &big_configs[_i]);
	values = json_array();
	for (i = 0; i < NRANDOM; i++) {
		json_array_append_new(values,
		    json_integer(
		        i == 50001 || i == 77777 ? INT64_MAX : (json_int_t)i));
	}
	args = json_pack(
	    "{s:o, s:s, s:i}", "values", values, "op", "add", "operand", 1);
	c = compute_parse("map", args, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	json_decref(args);
	errno = 0;
	ck_assert_ptr_null(compute_run(c, &env.ctx, err, sizeof err));
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_str_eq(err, "map add overflows int64 at args.values[50001]");
	/* The same struct runs again with the same answer. */
	errno = 0;
	ck_assert_ptr_null(compute_run(c, &env.ctx, err, sizeof err));
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_str_eq(err, "map add overflows int64 at args.values[50001]");
	compute_free(c);
	env_fini(&env);
}
END_TEST

static const struct known cancel_cases[] = {
    {"sum", "{\"values\":[1,2,3]}", NULL},
    {"sum", "{\"values\":[]}", NULL},
    {"sort", "{\"values\":[3,2,1],\"order\":\"desc\"}", NULL},
    {"sort", "{\"values\":[]}", NULL},
    {"map", "{\"values\":[1,2],\"op\":\"square\"}", NULL},
    {"map", "{\"values\":[" MAX_S "],\"op\":\"add\",\"operand\":1}", NULL},
    {"map", "{\"values\":[],\"op\":\"neg\"}", NULL},
    {"filter", "{\"values\":[1,2],\"op\":\"odd\"}", NULL},
    {"filter", "{\"values\":[],\"op\":\"eq\",\"operand\":1}", NULL},
    {"reduce", "{\"values\":[1,2],\"op\":\"xor\"}", NULL},
    {"reduce", "{\"values\":[],\"op\":\"min\"}", NULL},
    {"reduce", "{\"values\":[" MAX_S ",1],\"op\":\"sum\"}", NULL},
    {"group_by", "{\"values\":[1,2],\"op\":\"mod\",\"operand\":2}", NULL},
    {"group_by", "{\"values\":[],\"op\":\"div\",\"operand\":2}", NULL},
};

START_TEST(test_cancel_before)
{
	struct env env;
	size_t i;

	env_init(&env, &configs[_i]);
	atomic_store(&env.cancel, 1);
	for (i = 0; i < NELEM(cancel_cases); i++) {
		assert_run_error(cancel_cases[i].kind, cancel_cases[i].args,
		    ECANCELED, "cancelled", &env.ctx);
	}
	/* Cleared again, the same work succeeds. */
	atomic_store(&env.cancel, 0);
	assert_result("sum", "{\"values\":[1,2,3]}", "{\"sum\":6}", &env.ctx);
	env_fini(&env);
}
END_TEST

/*
 * The random tests: data sets of NRANDOM values, and a plain sequential
 * reference for every kind and op.
 */
enum dataset {
	DS_SMALL,     /* uniform in [-1000000, 1000000] */
	DS_FEW,       /* uniform in [-3, 3] */
	DS_FULL,      /* any int64 */
	DS_MASKED,    /* any int64 with bits 0x0f0f set */
	DS_UNITS,     /* +1 or -1, with a 2 every 2500 */
	DS_CANCELOUT, /* large values that cancel out, then 12345 */
	DS_COUNT,
};

static int64_t *datasets[DS_COUNT];
static json_t *dataset_json[DS_COUNT];

static uint64_t rng_state;

/* xorshift64: the same data on every run. */
static uint64_t
rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int64_t
rng_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static int64_t
rng_any(void)
{
	uint64_t u = rng_next();
	int64_t v;

	memcpy(&v, &u, sizeof v);
	return v;
}

static void
datasets_make(void)
{
	const int64_t big = (int64_t)1 << 62;
	size_t d, i, half = NRANDOM / 2;
	int64_t *v;

	rng_state = 0x9e3779b97f4a7c15u;
	for (d = 0; d < DS_COUNT; d++) {
		v = malloc(NRANDOM * sizeof *v);
		ck_assert_ptr_nonnull(v);
		for (i = 0; i < NRANDOM; i++) {
			switch (d) {
			case DS_SMALL:
				v[i] = rng_range(-1000000, 1000000);
				break;
			case DS_FEW:
				v[i] = rng_range(-3, 3);
				break;
			case DS_FULL:
				v[i] = rng_any();
				break;
			case DS_MASKED:
				v[i] = rng_any() | 0x0f0f;
				break;
			case DS_UNITS:
				v[i] = i % 2500 == 7
				           ? 2
				           : (rng_next() & 1 ? 1 : -1);
				break;
			default:
				/* Every partial sum of the first half
				 * overflows. */
				v[i] = i < half ? rng_range(big, INT64_MAX)
				                : -v[NRANDOM - 1 - i];
				break;
			}
		}
		if (d == DS_CANCELOUT)
			v[NRANDOM - 1] += 12345;
		datasets[d] = v;
		dataset_json[d] = json_array();
		for (i = 0; i < NRANDOM; i++) {
			json_array_append_new(
			    dataset_json[d], json_integer((json_int_t)v[i]));
		}
	}
}

static void
datasets_free(void)
{
	size_t d;

	for (d = 0; d < DS_COUNT; d++) {
		free(datasets[d]);
		json_decref(dataset_json[d]);
		datasets[d] = NULL;
		dataset_json[d] = NULL;
	}
}

struct spec {
	const char *kind;
	const char *op; /* NULL: none */
	int has_operand;
	int64_t operand;
	const char *order; /* NULL: none */
	enum dataset ds;
};

static const struct spec specs[] = {
    {"sum", NULL, 0, 0, NULL, DS_SMALL},
    {"sum", NULL, 0, 0, NULL, DS_FULL},
    {"sum", NULL, 0, 0, NULL, DS_CANCELOUT},
    {"sort", NULL, 0, 0, NULL, DS_FULL},
    {"sort", NULL, 0, 0, "asc", DS_FEW},
    {"sort", NULL, 0, 0, "desc", DS_SMALL},
    {"sort", NULL, 0, 0, "desc", DS_FULL},
    {"map", "add", 1, 123456789, NULL, DS_SMALL},
    {"map", "sub", 1, -987, NULL, DS_SMALL},
    {"map", "mul", 1, -12345, NULL, DS_SMALL},
    {"map", "mul", 1, 3, NULL, DS_FULL},
    {"map", "div", 1, 7, NULL, DS_SMALL},
    {"map", "div", 1, -7, NULL, DS_FULL},
    {"map", "mod", 1, 7, NULL, DS_SMALL},
    {"map", "mod", 1, -1000, NULL, DS_FULL},
    {"map", "neg", 0, 0, NULL, DS_FULL},
    {"map", "abs", 0, 0, NULL, DS_SMALL},
    {"map", "square", 0, 0, NULL, DS_SMALL},
    {"filter", "eq", 1, 2, NULL, DS_FEW},
    {"filter", "ne", 1, 2, NULL, DS_FEW},
    {"filter", "lt", 1, 0, NULL, DS_SMALL},
    {"filter", "le", 1, 1000, NULL, DS_SMALL},
    {"filter", "gt", 1, -1000, NULL, DS_SMALL},
    {"filter", "ge", 1, 500000, NULL, DS_SMALL},
    {"filter", "even", 0, 0, NULL, DS_FULL},
    {"filter", "odd", 0, 0, NULL, DS_SMALL},
    {"reduce", "sum", 0, 0, NULL, DS_SMALL},
    {"reduce", "sum", 0, 0, NULL, DS_CANCELOUT},
    {"reduce", "sum", 0, 0, NULL, DS_FULL},
    {"reduce", "product", 0, 0, NULL, DS_UNITS},
    {"reduce", "product", 0, 0, NULL, DS_FEW},
    {"reduce", "product", 0, 0, NULL, DS_SMALL},
    {"reduce", "min", 0, 0, NULL, DS_FULL},
    {"reduce", "max", 0, 0, NULL, DS_FULL},
    {"reduce", "and", 0, 0, NULL, DS_MASKED},
    {"reduce", "or", 0, 0, NULL, DS_SMALL},
    {"reduce", "xor", 0, 0, NULL, DS_FULL},
    {"group_by", "mod", 1, 7, NULL, DS_FULL},
    {"group_by", "mod", 1, -7, NULL, DS_SMALL},
    {"group_by", "div", 1, 1000, NULL, DS_SMALL},
    {"group_by", "div", 1, -1000000000000, NULL, DS_FULL},
};

static int
cmp_asc(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

static int
cmp_desc(const void *x, const void *y)
{
	return cmp_asc(y, x);
}

struct keyed {
	int64_t key;
	size_t index;
};

static int
cmp_keyed(const void *x, const void *y)
{
	const struct keyed *a = x, *b = y;

	if (a->key != b->key)
		return (a->key > b->key) - (a->key < b->key);
	return (a->index > b->index) - (a->index < b->index);
}

static json_t *
ref_array(const int64_t *v, size_t n)
{
	json_t *array = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(array, json_integer((json_int_t)v[i]));
	return array;
}

/* C division semantics, written out in 128 bits; 0 if out of range. */
static int
ref_arith(const char *op, int64_t x, int64_t v, int64_t *out)
{
	__int128 r;

	if (strcmp(op, "add") == 0)
		r = (__int128)v + x;
	else if (strcmp(op, "sub") == 0)
		r = (__int128)v - x;
	else if (strcmp(op, "mul") == 0)
		r = (__int128)v * x;
	else if (strcmp(op, "div") == 0)
		r = (__int128)v / x;
	else if (strcmp(op, "mod") == 0)
		r = (__int128)v % x;
	else if (strcmp(op, "neg") == 0)
		r = -(__int128)v;
	else if (strcmp(op, "abs") == 0)
		r = v < 0 ? -(__int128)v : (__int128)v;
	else if (strcmp(op, "square") == 0)
		r = (__int128)v * v;
	else
		ck_abort_msg("no op %s", op);
	if (r < INT64_MIN || r > INT64_MAX)
		return 0;
	*out = (int64_t)r;
	return 1;
}

static int
ref_pred(const char *op, int64_t x, int64_t v)
{
	if (strcmp(op, "eq") == 0)
		return v == x;
	if (strcmp(op, "ne") == 0)
		return v != x;
	if (strcmp(op, "lt") == 0)
		return v < x;
	if (strcmp(op, "le") == 0)
		return v <= x;
	if (strcmp(op, "gt") == 0)
		return v > x;
	if (strcmp(op, "ge") == 0)
		return v >= x;
	if (strcmp(op, "even") == 0)
		return v % 2 == 0;
	return v % 2 != 0;
}

/*
 * The expected result of s on v[0..n), or NULL with the expected message
 * in err (exact sums and products in 128 bits, saturated).
 */
static json_t *
reference(const struct spec *s, const int64_t *v, size_t n, char *err)
{
	const __int128 lim = (__int128)1 << 100;
	int64_t *out, r;
	struct keyed *pairs;
	json_t *result, *groups, *group;
	__int128 acc;
	size_t i, j, nout;

	if (strcmp(s->kind, "sum") == 0 ||
	    (strcmp(s->kind, "reduce") == 0 &&
	        (strcmp(s->op, "sum") == 0 || strcmp(s->op, "product") == 0))) {
		int product = s->op != NULL && strcmp(s->op, "product") == 0;

		for (acc = product, i = 0; i < n; i++) {
			acc = product ? acc * v[i] : acc + v[i];
			if (acc > lim)
				acc = lim;
			if (acc < -lim)
				acc = -lim;
		}
		if (acc < INT64_MIN || acc > INT64_MAX) {
			snprintf(err, ERRLEN, "%s overflows int64",
			    product         ? "reduce product"
			    : s->op != NULL ? "reduce sum"
			                    : "sum");
			return NULL;
		}
		return json_pack("{s:I}",
		    product || s->op != NULL ? "result" : "sum",
		    (json_int_t)acc);
	}
	if (strcmp(s->kind, "reduce") == 0) {
		r = v[0];
		for (i = 1; i < n; i++) {
			if (strcmp(s->op, "min") == 0)
				r = v[i] < r ? v[i] : r;
			else if (strcmp(s->op, "max") == 0)
				r = v[i] > r ? v[i] : r;
			else if (strcmp(s->op, "and") == 0)
				r &= v[i];
			else if (strcmp(s->op, "or") == 0)
				r |= v[i];
			else
				r ^= v[i];
		}
		return json_pack("{s:I}", "result", (json_int_t)r);
	}

	out = malloc(n * sizeof *out);
	ck_assert_ptr_nonnull(out);
	result = NULL;
	if (strcmp(s->kind, "sort") == 0) {
		memcpy(out, v, n * sizeof *out);
		qsort(out, n, sizeof *out,
		    s->order != NULL && strcmp(s->order, "desc") == 0
		        ? cmp_desc
		        : cmp_asc);
		result = json_pack("{s:o}", "values", ref_array(out, n));
	} else if (strcmp(s->kind, "map") == 0) {
		for (i = 0; i < n; i++) {
			if (!ref_arith(s->op, s->operand, v[i], &out[i])) {
				snprintf(err, ERRLEN,
				    "map %s overflows int64 at "
				    "args.values[%zu]",
				    s->op, i);
				break;
			}
		}
		if (i == n)
			result =
			    json_pack("{s:o}", "values", ref_array(out, n));
	} else if (strcmp(s->kind, "filter") == 0) {
		for (nout = 0, i = 0; i < n; i++) {
			if (ref_pred(s->op, s->operand, v[i]))
				out[nout++] = v[i];
		}
		result = json_pack("{s:o}", "values", ref_array(out, nout));
	} else {
		pairs = malloc(n * sizeof *pairs);
		ck_assert_ptr_nonnull(pairs);
		for (i = 0; i < n; i++) {
			ck_assert(
			    ref_arith(s->op, s->operand, v[i], &pairs[i].key));
			pairs[i].index = i;
		}
		qsort(pairs, n, sizeof *pairs, cmp_keyed);
		groups = json_array();
		for (i = 0; i < n; i = j) {
			for (j = i; j < n && pairs[j].key == pairs[i].key; j++)
				out[j - i] = v[pairs[j].index];
			group = json_pack("{s:I, s:o}", "key",
			    (json_int_t)pairs[i].key, "values",
			    ref_array(out, j - i));
			json_array_append_new(groups, group);
		}
		free(pairs);
		result = json_pack("{s:o}", "groups", groups);
	}
	free(out);
	return result;
}

static json_t *
spec_args(const struct spec *s)
{
	json_t *args;

	args = json_pack("{s:O}", "values", dataset_json[s->ds]);
	if (s->op != NULL)
		json_object_set_new(args, "op", json_string(s->op));
	if (s->has_operand)
		json_object_set_new(
		    args, "operand", json_integer((json_int_t)s->operand));
	if (s->order != NULL)
		json_object_set_new(args, "order", json_string(s->order));
	return args;
}

START_TEST(test_random)
{
	char err[ERRLEN], want_err[ERRLEN];
	const struct spec *s;
	struct compute *c;
	struct env env;
	json_t *args, *result, *want;
	size_t i;

	env_init(&env, &big_configs[_i]);
	datasets_make();
	for (i = 0; i < NELEM(specs); i++) {
		s = &specs[i];
		want_err[0] = '\0';
		want = reference(s, datasets[s->ds], NRANDOM, want_err);
		args = spec_args(s);
		c = compute_parse(s->kind, args, err, sizeof err);
		ck_assert_msg(c != NULL, "%s %s: %s", s->kind, s->op, err);
		json_decref(args);
		errno = 0;
		result = compute_run(c, &env.ctx, err, sizeof err);
		if (want == NULL) {
			ck_assert_msg(
			    result == NULL, "spec %zu: want an error", i);
			ck_assert_int_eq(errno, ERANGE);
			ck_assert_str_eq(err, want_err);
		} else {
			ck_assert_msg(result != NULL, "spec %zu: %s", i, err);
			ck_assert_msg(json_equal(result, want),
			    "spec %zu (%s %s): wrong result", i, s->kind,
			    s->op != NULL ? s->op : "");
		}
		json_decref(result);
		json_decref(want);
		compute_free(c);
	}
	datasets_free();
	env_fini(&env);
}
END_TEST

/* The daemon's way: compute_run inside a task of the pool it uses. */
struct task_run {
	struct compute *c;
	const struct par_ctx *ctx;
	json_t *result;
	char err[ERRLEN];
};

static void
task_run(void *arg)
{
	struct task_run *t = arg;

	t->result = compute_run(t->c, t->ctx, t->err, sizeof t->err);
}

START_TEST(test_in_pool_task)
{
	static const struct config cfg = {2, 64};
	struct pool_group wait;
	struct task_run t;
	struct env env;
	json_t *args, *groups, *group, *values;
	size_t i;

	env_init(&env, &cfg);
	args = json_array();
	for (i = 0; i < 10000; i++)
		json_array_append_new(args, json_integer((json_int_t)(i % 10)));
	args = json_pack("{s:o, s:s, s:I}", "values", args, "op", "mod",
	    "operand", (json_int_t)3);
	memset(&t, 0, sizeof t);
	t.c = compute_parse("group_by", args, t.err, sizeof t.err);
	ck_assert_ptr_nonnull(t.c);
	json_decref(args);
	t.ctx = &env.ctx;
	pool_group_init(&wait);
	ck_assert_int_eq(
	    pool_group_submit(env.pool, &wait, task_run, NULL, &t), 0);
	pool_group_wait(env.pool, &wait);
	ck_assert_msg(t.result != NULL, "%s", t.err);
	/* 0..9 repeated: keys 0, 1, 2 with 4, 3 and 3 values per round. */
	groups = json_object_get(t.result, "groups");
	ck_assert_uint_eq(json_array_size(groups), 3);
	for (i = 0; i < 3; i++) {
		group = json_array_get(groups, i);
		values = json_object_get(group, "values");
		ck_assert_int_eq(
		    json_integer_value(json_object_get(group, "key")),
		    (json_int_t)i);
		ck_assert_uint_eq(
		    json_array_size(values), i == 0 ? 4000 : 3000);
		/* In input order: i, i + 3, i + 6 (, 9), then the next round.
		 */
		ck_assert_int_eq(json_integer_value(json_array_get(values, 1)),
		    (json_int_t)i + 3);
		ck_assert_int_eq(json_integer_value(json_array_get(
		                     values, json_array_size(values) - 1)),
		    (json_int_t)(i == 0 ? 9 : i + 6));
	}
	json_decref(t.result);
	compute_free(t.c);
	env_fini(&env);
}
END_TEST

/* Several threads run the same struct compute at once on one pool. */
#define NTHREADS 4
#define NROUNDS 5
#define NSHARED 20000

struct shared_run {
	struct compute *c;
	const struct par_ctx *ctx;
	const json_t *want;
	int mismatches;
	int failures;
};

static void *
shared_run_thread(void *arg)
{
	struct shared_run *r = arg;
	char err[ERRLEN];
	json_t *result;
	int round;

	for (round = 0; round < NROUNDS; round++) {
		result = compute_run(r->c, r->ctx, err, sizeof err);
		if (result == NULL)
			r->failures++;
		else if (!json_equal(result, r->want))
			r->mismatches++;
		json_decref(result);
	}
	return NULL;
}

START_TEST(test_shared_struct)
{
	static const struct config cfg = {2, 256};
	static const char *const kinds[] = {"sort", "map", "group_by"};
	static const char *const argfmt[] = {
	    "{s:o, s:s}", "{s:o, s:s, s:I}", "{s:o, s:s, s:I}"};
	struct shared_run runs[NTHREADS];
	pthread_t threads[NTHREADS];
	struct spec spec;
	struct env env;
	char err[ERRLEN];
	struct compute *c;
	json_t *args, *want;
	int64_t *v;
	size_t i, k;

	env_init(&env, &cfg);
	v = malloc(NSHARED * sizeof *v);
	ck_assert_ptr_nonnull(v);
	rng_state = 12345;
	for (i = 0; i < NSHARED; i++)
		v[i] = rng_range(-100000, 100000);
	for (k = 0; k < NELEM(kinds); k++) {
		memset(&spec, 0, sizeof spec);
		spec.kind = kinds[k];
		spec.op = k == 0 ? NULL : k == 1 ? "mul" : "mod";
		spec.has_operand = k != 0;
		spec.operand = k == 1 ? -3 : 10;
		spec.order = k == 0 ? "desc" : NULL;
		want = reference(&spec, v, NSHARED, err);
		ck_assert_ptr_nonnull(want);
		if (k == 0)
			args = json_pack(argfmt[k], "values",
			    ref_array(v, NSHARED), "order", "desc");
		else
			args = json_pack(argfmt[k], "values",
			    ref_array(v, NSHARED), "op", spec.op, "operand",
			    (json_int_t)spec.operand);
		ck_assert_ptr_nonnull(args);
		c = compute_parse(spec.kind, args, err, sizeof err);
		ck_assert_msg(c != NULL, "%s", err);
		json_decref(args);
		for (i = 0; i < NTHREADS; i++) {
			runs[i] = (struct shared_run){c, &env.ctx, want, 0, 0};
			ck_assert_int_eq(pthread_create(&threads[i], NULL,
			                     shared_run_thread, &runs[i]),
			    0);
		}
		for (i = 0; i < NTHREADS; i++) {
			ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
			ck_assert_int_eq(runs[i].failures, 0);
			ck_assert_int_eq(runs[i].mismatches, 0);
		}
		compute_free(c);
		json_decref(want);
	}
	free(v);
	env_fini(&env);
}
END_TEST

static Suite *
compute_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("compute");

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_long_key);
	tcase_add_test(tc, test_parse_err_buffer);
	tcase_add_test(tc, test_parse_accepts);
	tcase_add_test(tc, test_kinds);
	suite_add_tcase(s, tc);

	tc = tcase_create("run");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_known, 0, NELEM(configs));
	tcase_add_test(tc, test_null_ctx);
	tcase_add_loop_test(tc, test_run_errors, 0, NELEM(configs));
	tcase_add_loop_test(tc, test_cancel_before, 0, NELEM(configs));
	suite_add_tcase(s, tc);

	tc = tcase_create("big");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_random, 0, NELEM(big_configs));
	tcase_add_loop_test(tc, test_overflow_index_big, 0, NELEM(big_configs));
	tcase_add_test(tc, test_in_pool_task);
	tcase_add_test(tc, test_shared_struct);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(compute_suite());
}
