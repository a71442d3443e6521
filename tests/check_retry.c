/*
 * check_retry: unit tests for the backoff policy (lib/retry.c).
 *
 * The policy is a pure function, so every delay is asserted exactly: the
 * random value is an argument, no clock or seed is involved.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "retry.h"

static const unsigned all_outcomes[] = {
    RETRY_ON_FAILED,
    RETRY_ON_SIGNALED,
    RETRY_ON_TIMED_OUT,
    RETRY_ON_LOST,
    RETRY_ON_SPAWN_FAILED,
};
#define NOUTCOMES (sizeof all_outcomes / sizeof all_outcomes[0])

static void
policy(
    struct retry_policy *p, enum retry_backoff b, uint64_t base, uint64_t max)
{
	retry_policy_default(p);
	p->backoff = b;
	p->base_ms = base;
	p->max_ms = max;
	p->jitter = false;
}

static int
policy_eq(const struct retry_policy *a, const struct retry_policy *b)
{
	return a->backoff == b->backoff && a->max_attempts == b->max_attempts &&
	       a->base_ms == b->base_ms && a->max_ms == b->max_ms &&
	       a->jitter == b->jitter && a->on == b->on;
}

START_TEST(test_default)
{
	struct retry_policy p;

	memset(&p, 0xa5, sizeof p);
	retry_policy_default(&p);
	ck_assert_int_eq(p.backoff, RETRY_EXPONENTIAL);
	ck_assert_uint_eq(p.max_attempts, 1);
	ck_assert_uint_eq(p.base_ms, 1000);
	ck_assert_uint_eq(p.max_ms, 300000);
	ck_assert(p.jitter);
	ck_assert_uint_eq(p.on, RETRY_ON_DEFAULT);
	ck_assert_uint_eq(p.on & RETRY_ON_SPAWN_FAILED, 0);
	/* One attempt: nothing is ever retried. */
	ck_assert(!retry_should_retry(&p, 1, RETRY_ON_FAILED));
}
END_TEST

START_TEST(test_delay_fixed)
{
	struct retry_policy p;
	uint32_t a;

	policy(&p, RETRY_FIXED, 750, 300000);
	for (a = 1; a <= 10; a++)
		ck_assert_uint_eq(retry_delay_ms(&p, a, 12345), 750);
	ck_assert_uint_eq(retry_delay_ms(&p, 0, 0), 750);
	ck_assert_uint_eq(retry_delay_ms(&p, UINT32_MAX, 0), 750);
}
END_TEST

START_TEST(test_delay_linear)
{
	static const uint64_t want[] = {
	    250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250, 2500};
	struct retry_policy p;
	uint32_t a;

	policy(&p, RETRY_LINEAR, 250, 300000);
	for (a = 1; a <= 10; a++)
		ck_assert_uint_eq(retry_delay_ms(&p, a, 0), want[a - 1]);
	ck_assert_uint_eq(retry_delay_ms(&p, 0, 0), 250);
}
END_TEST

START_TEST(test_delay_exponential)
{
	static const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000,
	    64000, 128000, 256000, 300000};
	struct retry_policy p;
	uint32_t a;

	policy(&p, RETRY_EXPONENTIAL, 1000, 300000);
	for (a = 1; a <= 10; a++)
		ck_assert_uint_eq(retry_delay_ms(&p, a, 0), want[a - 1]);
	ck_assert_uint_eq(retry_delay_ms(&p, 0, 0), 1000);
}
END_TEST

START_TEST(test_delay_cap)
{
	struct retry_policy p;
	uint32_t a;

	policy(&p, RETRY_LINEAR, 1000, 3500);
	ck_assert_uint_eq(retry_delay_ms(&p, 3, 0), 3000);
	ck_assert_uint_eq(retry_delay_ms(&p, 4, 0), 3500);
	ck_assert_uint_eq(retry_delay_ms(&p, 100, 0), 3500);

	policy(&p, RETRY_EXPONENTIAL, 100, 1000);
	for (a = 1; a <= 200; a++)
		ck_assert_uint_le(retry_delay_ms(&p, a, 0), 1000);
	ck_assert_uint_eq(retry_delay_ms(&p, 4, 0), 800);
	ck_assert_uint_eq(retry_delay_ms(&p, 5, 0), 1000);

	/* A zero base stays zero at any attempt. */
	policy(&p, RETRY_EXPONENTIAL, 0, 1000);
	ck_assert_uint_eq(retry_delay_ms(&p, UINT32_MAX, 0), 0);
}
END_TEST

START_TEST(test_delay_saturation)
{
	static const enum retry_backoff kinds[] = {
	    RETRY_FIXED, RETRY_LINEAR, RETRY_EXPONENTIAL};
	static const uint32_t attempts[] = {
	    63, 64, 65, RETRY_MAX_ATTEMPTS, UINT32_MAX - 1, UINT32_MAX};
	struct retry_policy p;
	size_t k, i;

	for (k = 0; k < 3; k++) {
		for (i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
			policy(&p, kinds[k], RETRY_MAX_DELAY_MS,
			    RETRY_MAX_DELAY_MS);
			ck_assert_uint_eq(retry_delay_ms(&p, attempts[i], 0),
			    RETRY_MAX_DELAY_MS);
			/* Base and cap at the type's limit: no wrap. */
			policy(&p, kinds[k], UINT64_MAX, UINT64_MAX);
			ck_assert_uint_eq(
			    retry_delay_ms(&p, attempts[i], 0), UINT64_MAX);
			policy(&p, kinds[k], UINT64_MAX / 3 + 1, 12345);
			ck_assert_uint_eq(
			    retry_delay_ms(&p, attempts[i], 0), 12345);
		}
	}
	/* Just below and above the 64-bit boundary of the shift. */
	policy(&p, RETRY_EXPONENTIAL, 1, UINT64_MAX);
	ck_assert_uint_eq(retry_delay_ms(&p, 64, 0), UINT64_C(1) << 63);
	ck_assert_uint_eq(retry_delay_ms(&p, 65, 0), UINT64_MAX);
	policy(&p, RETRY_EXPONENTIAL, 3, UINT64_MAX);
	ck_assert_uint_eq(retry_delay_ms(&p, 63, 0), UINT64_C(3) << 62);
	ck_assert_uint_eq(retry_delay_ms(&p, 64, 0), UINT64_MAX);
	policy(&p, RETRY_LINEAR, UINT64_MAX / 2, UINT64_MAX);
	ck_assert_uint_eq(retry_delay_ms(&p, 2, 0), UINT64_MAX - 1);
	ck_assert_uint_eq(retry_delay_ms(&p, 3, 0), UINT64_MAX);
}
END_TEST

START_TEST(test_delay_jitter)
{
	struct retry_policy p;
	uint64_t d;

	policy(&p, RETRY_EXPONENTIAL, 1000, 300000);
	p.jitter = true;
	/* attempt 3: d = 4000 */
	ck_assert_uint_eq(retry_delay_ms(&p, 3, 0), 0);
	ck_assert_uint_eq(retry_delay_ms(&p, 3, UINT64_MAX), 4000);
	d = retry_delay_ms(&p, 3, UINT64_MAX / 2);
	ck_assert_uint_ge(d, 1999);
	ck_assert_uint_le(d, 2001);
	/* At the cap. */
	ck_assert_uint_eq(retry_delay_ms(&p, 30, UINT64_MAX), 300000);
	ck_assert_uint_eq(retry_delay_ms(&p, 30, 0), 0);
	/* d = 0 gives 0 whatever the draw. */
	p.base_ms = 0;
	ck_assert_uint_eq(retry_delay_ms(&p, 3, UINT64_MAX), 0);
	/* d = UINT64_MAX: d + 1 does not wrap. */
	policy(&p, RETRY_FIXED, UINT64_MAX, UINT64_MAX);
	p.jitter = true;
	ck_assert_uint_eq(retry_delay_ms(&p, 1, UINT64_MAX), UINT64_MAX);
	ck_assert_uint_eq(retry_delay_ms(&p, 1, 0), 0);
	ck_assert_uint_eq(
	    retry_delay_ms(&p, 1, UINT64_C(1) << 63), UINT64_C(1) << 63);
}
END_TEST

START_TEST(test_should_retry)
{
	struct retry_policy p;
	size_t i;

	retry_policy_default(&p);
	p.max_attempts = 3;
	for (i = 0; i < NOUTCOMES; i++) {
		int want = (all_outcomes[i] & RETRY_ON_DEFAULT) != 0;

		ck_assert_int_eq(
		    retry_should_retry(&p, 1, all_outcomes[i]), want);
		ck_assert_int_eq(
		    retry_should_retry(&p, 2, all_outcomes[i]), want);
		/* The attempt limit wins over any outcome. */
		ck_assert(!retry_should_retry(&p, 3, all_outcomes[i]));
		ck_assert(!retry_should_retry(&p, 4, all_outcomes[i]));
	}
	ck_assert(!retry_should_retry(&p, 1, RETRY_ON_SPAWN_FAILED));
	ck_assert(!retry_should_retry(&p, 1, 0));

	/* One bit at a time. */
	for (i = 0; i < NOUTCOMES; i++) {
		size_t j;

		p.on = all_outcomes[i];
		for (j = 0; j < NOUTCOMES; j++)
			ck_assert_int_eq(
			    retry_should_retry(&p, 1, all_outcomes[j]), i == j);
	}
	p.on = 0;
	for (i = 0; i < NOUTCOMES; i++)
		ck_assert(!retry_should_retry(&p, 1, all_outcomes[i]));
	p.max_attempts = RETRY_MAX_ATTEMPTS;
	p.on = RETRY_ON_LOST;
	ck_assert(
	    retry_should_retry(&p, RETRY_MAX_ATTEMPTS - 1, RETRY_ON_LOST));
	ck_assert(!retry_should_retry(&p, RETRY_MAX_ATTEMPTS, RETRY_ON_LOST));
}
END_TEST

START_TEST(test_names)
{
	size_t i;

	for (i = 0; i < NOUTCOMES; i++) {
		const char *name = retry_outcome_name(all_outcomes[i]);

		ck_assert_ptr_nonnull(name);
		ck_assert_uint_eq(retry_outcome_parse(name), all_outcomes[i]);
	}
	ck_assert_str_eq(retry_outcome_name(RETRY_ON_TIMED_OUT), "timed_out");
	ck_assert_str_eq(
	    retry_outcome_name(RETRY_ON_SPAWN_FAILED), "spawn_failed");
	ck_assert_ptr_null(retry_outcome_name(0));
	ck_assert_ptr_null(retry_outcome_name(0x20));
	ck_assert_ptr_null(retry_outcome_name(RETRY_ON_FAILED | RETRY_ON_LOST));
	ck_assert_uint_eq(retry_outcome_parse("bogus"), 0);
	ck_assert_uint_eq(retry_outcome_parse(""), 0);
	ck_assert_uint_eq(retry_outcome_parse("Failed"), 0);
	ck_assert_str_eq(retry_backoff_name(RETRY_FIXED), "fixed");
	ck_assert_str_eq(retry_backoff_name(RETRY_LINEAR), "linear");
	ck_assert_str_eq(retry_backoff_name(RETRY_EXPONENTIAL), "exponential");
}
END_TEST

static json_t *
load(const char *text)
{
	json_error_t jerr;
	json_t *j;

	j = json_loads(text, JSON_DECODE_ANY, &jerr);
	ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
	return j;
}

START_TEST(test_from_json_full)
{
	struct retry_policy p;
	char err[256];
	json_t *j;

	retry_policy_default(&p);
	j = load("{\"max_attempts\": 5, \"backoff\": \"linear\", "
	         "\"base_ms\": 200, \"max_ms\": 900, \"jitter\": false, "
	         "\"on\": [\"failed\", \"spawn_failed\", \"failed\"]}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert_int_eq(p.backoff, RETRY_LINEAR);
	ck_assert_uint_eq(p.max_attempts, 5);
	ck_assert_uint_eq(p.base_ms, 200);
	ck_assert_uint_eq(p.max_ms, 900);
	ck_assert(!p.jitter);
	ck_assert_uint_eq(p.on, RETRY_ON_FAILED | RETRY_ON_SPAWN_FAILED);

	/* "exp" is a synonym; an empty "on" means never retry. */
	j = load("{\"backoff\": \"exp\", \"on\": [], \"max_attempts\": 1000,"
	         " \"max_ms\": 604800000}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert_int_eq(p.backoff, RETRY_EXPONENTIAL);
	ck_assert_uint_eq(p.on, 0);
	ck_assert_uint_eq(p.max_attempts, RETRY_MAX_ATTEMPTS);
	ck_assert_uint_eq(p.max_ms, RETRY_MAX_DELAY_MS);
	ck_assert(!retry_should_retry(&p, 1, RETRY_ON_FAILED));

	/* "fixed" means fixed: no jitter unless asked for with it. */
	retry_policy_default(&p);
	ck_assert(p.jitter);
	j = load("{\"backoff\": \"fixed\", \"base_ms\": 1000}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert(!p.jitter);
	ck_assert_uint_eq(retry_delay_ms(&p, 1, 12345), 1000);
	ck_assert_uint_eq(retry_delay_ms(&p, 2, 999), 1000);
	retry_policy_default(&p);
	j = load("{\"backoff\": \"fixed\", \"jitter\": true}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert(p.jitter);
	/* A policy that was fixed and jittered stays so when only the
	 * attempts change. */
	j = load("{\"max_attempts\": 4}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert(p.jitter);
}
END_TEST

START_TEST(test_from_json_partial)
{
	struct retry_policy p, want;
	char err[256];
	json_t *j;

	retry_policy_default(&p);
	want = p;
	j = load("{}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert(policy_eq(&p, &want));

	j = load("{\"max_attempts\": 4}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	want.max_attempts = 4;
	ck_assert(policy_eq(&p, &want));

	/* A second layer keeps the first one's fields. */
	j = load("{\"jitter\": false, \"base_ms\": 0}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	want.jitter = false;
	want.base_ms = 0;
	ck_assert(policy_eq(&p, &want));

	/* base_ms == max_ms is fine. */
	j = load("{\"base_ms\": 300000}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), 0);
	json_decref(j);
	ck_assert_uint_eq(p.base_ms, p.max_ms);
}
END_TEST

static const struct {
	const char *json; /* NULL: not an object, see below */
	const char *field;
} bad_json[] = {
    {"{\"max_attempts\": \"3\"}", "retry.max_attempts"},
    {"{\"max_attempts\": 2.0}", "retry.max_attempts"},
    {"{\"max_attempts\": 0}", "retry.max_attempts"},
    {"{\"max_attempts\": -1}", "retry.max_attempts"},
    {"{\"max_attempts\": 1001}", "retry.max_attempts"},
    {"{\"max_attempts\": 4294967297}", "retry.max_attempts"},
    {"{\"max_attempts\": null}", "retry.max_attempts"},
    {"{\"backoff\": \"quadratic\"}", "retry.backoff"},
    {"{\"backoff\": \"\"}", "retry.backoff"},
    {"{\"backoff\": 1}", "retry.backoff"},
    {"{\"backoff\": \"Fixed\"}", "retry.backoff"},
    {"{\"base_ms\": -1}", "retry.base_ms"},
    {"{\"base_ms\": 604800001}", "retry.base_ms"},
    {"{\"base_ms\": true}", "retry.base_ms"},
    {"{\"base_ms\": 1.5}", "retry.base_ms"},
    {"{\"max_ms\": -5}", "retry.max_ms"},
    {"{\"max_ms\": 604800001}", "retry.max_ms"},
    {"{\"max_ms\": 9223372036854775807}", "retry.max_ms"},
    {"{\"max_ms\": \"1s\"}", "retry.max_ms"},
    {"{\"jitter\": 1}", "retry.jitter"},
    {"{\"jitter\": \"true\"}", "retry.jitter"},
    {"{\"on\": \"failed\"}", "retry.on"},
    {"{\"on\": [\"failed\", \"exploded\"]}", "retry.on"},
    {"{\"on\": [1]}", "retry.on"},
    {"{\"on\": [[\"failed\"]]}", "retry.on"},
    {"{\"on\": {}}", "retry.on"},
    {"{\"max_attempts\": 2, \"foo\": 1}", "unknown field \"foo\""},
    {"{\"Max_attempts\": 2}", "unknown field \"Max_attempts\""},
    {"{\"base_ms\": 5000, \"max_ms\": 4999}", "retry.max_ms"},
    {"{\"base_ms\": 300001}", "retry.max_ms"}, /* default max 300000 */
    {"[]", "retry"},
    {"3", "retry"},
    {"\"x\"", "retry"},
    {"null", "retry"},
};

START_TEST(test_from_json_bad)
{
	struct retry_policy p, before;
	char err[256];
	json_t *j;

	retry_policy_default(&p);
	p.max_attempts = 7;
	p.backoff = RETRY_FIXED;
	before = p;
	j = load(bad_json[_i].json);
	strcpy(err, "untouched");
	errno = 0;
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), -1);
	ck_assert_int_eq(errno, EINVAL);
	json_decref(j);
	ck_assert_msg(strstr(err, bad_json[_i].field) != NULL,
	    "%s: message \"%s\" lacks \"%s\"", bad_json[_i].json, err,
	    bad_json[_i].field);
	ck_assert(policy_eq(&p, &before));
}
END_TEST

START_TEST(test_from_json_messages)
{
	struct retry_policy p;
	char err[256], tiny[8];
	json_t *j;

	retry_policy_default(&p);
	j = load("{\"max_attempts\": 0}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), -1);
	ck_assert_str_eq(
	    err, "retry.max_attempts must be an integer from 1 to 1000");
	/* A short buffer is cut and terminated; none at all is fine. */
	memset(tiny, 'x', sizeof tiny);
	ck_assert_int_eq(retry_policy_from_json(&p, j, tiny, sizeof tiny), -1);
	ck_assert_str_eq(tiny, "retry.m");
	ck_assert_int_eq(retry_policy_from_json(&p, j, NULL, 0), -1);
	json_decref(j);

	j = load("{\"zzz\": 0}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), -1);
	ck_assert_str_eq(err, "retry: unknown field \"zzz\"");
	json_decref(j);

	j = load("{\"base_ms\": 10, \"max_ms\": 9}");
	ck_assert_int_eq(retry_policy_from_json(&p, j, err, sizeof err), -1);
	ck_assert_str_eq(err, "retry.max_ms must be >= retry.base_ms");
	json_decref(j);
}
END_TEST

START_TEST(test_json_round_trip)
{
	struct retry_policy p, q;
	char err[256];
	json_t *j;
	unsigned on;

	for (on = 0; on < 0x20; on++) {
		retry_policy_default(&p);
		p.backoff = (enum retry_backoff)(on % 3);
		p.max_attempts = 1 + on * 31;
		p.base_ms = on * 1000;
		p.max_ms = RETRY_MAX_DELAY_MS - on;
		p.jitter = (on & 1) != 0;
		p.on = on;
		j = retry_policy_to_json(&p);
		ck_assert_ptr_nonnull(j);
		ck_assert_str_eq(
		    json_string_value(json_object_get(j, "backoff")),
		    retry_backoff_name(p.backoff));
		ck_assert_uint_eq(json_array_size(json_object_get(j, "on")),
		    (size_t)__builtin_popcount(on));
		memset(&q, 0, sizeof q);
		q.max_attempts = 1;
		ck_assert_msg(
		    retry_policy_from_json(&q, j, err, sizeof err) == 0, "%s",
		    err);
		json_decref(j);
		ck_assert(policy_eq(&p, &q));
	}

	/* Names in bit order. */
	retry_policy_default(&p);
	p.on = RETRY_ON_SPAWN_FAILED | RETRY_ON_FAILED | RETRY_ON_LOST;
	j = retry_policy_to_json(&p);
	{
		char *s = json_dumps(json_object_get(j, "on"), JSON_COMPACT);

		ck_assert_str_eq(s, "[\"failed\",\"lost\",\"spawn_failed\"]");
		free(s);
	}
	ck_assert_int_eq(
	    json_integer_value(json_object_get(j, "base_ms")), 1000);
	ck_assert(json_is_true(json_object_get(j, "jitter")));
	ck_assert_uint_eq(json_object_size(j), 6);
	json_decref(j);
}
END_TEST

static const struct {
	const char *s;
	int ok;
	uint64_t ms;
	int errnum;
} durations[] = {
    {"0", 1, 0, 0},
    {"1h30m", 1, 5400000, 0},
    {"1m30s", 1, 90000, 0},
    {"2d12h", 1, 216000000, 0},
    {"1s500ms", 1, 1500, 0},
    {"1.5h30m", 1, 7200000, 0},
    {"250", 0, 0, EINVAL},
    {"30", 0, 0, EINVAL},
    {"00", 0, 0, EINVAL},
    {"1h30", 0, 0, EINVAL},
    {"1h 30m", 0, 0, EINVAL},
    {"1hm", 0, 0, EINVAL},
    {"250ms", 1, 250, 0},
    {"0ms", 1, 0, 0},
    {"30s", 1, 30000, 0},
    {"5m", 1, 300000, 0},
    {"1h", 1, 3600000, 0},
    {"2d", 1, 172800000, 0},
    {"1.5s", 1, 1500, 0},
    {"0.001s", 1, 1, 0},
    {"1.25m", 1, 75000, 0},
    {"0.5h", 1, 1800000, 0},
    {"1.125d", 1, 97200000, 0},
    {"007s", 1, 7000, 0},
    {"18446744073709551615ms", 1, UINT64_MAX, 0},
    {"18446744073709551614ms1ms", 1, UINT64_MAX, 0},
    {"18446744073709551615ms1ms", 0, 0, ERANGE},
    {"", 0, 0, EINVAL},
    {"s", 0, 0, EINVAL},
    {"ms", 0, 0, EINVAL},
    {"-1", 0, 0, EINVAL},
    {"-1s", 0, 0, EINVAL},
    {"+1s", 0, 0, EINVAL},
    {" 1s", 0, 0, EINVAL},
    {"1 s", 0, 0, EINVAL},
    {"1s ", 0, 0, EINVAL},
    {"1sec", 0, 0, EINVAL},
    {"1S", 0, 0, EINVAL},
    {"1w", 0, 0, EINVAL},
    {"1x", 0, 0, EINVAL},
    {"10s5", 0, 0, EINVAL},
    {"1.5", 0, 0, EINVAL},
    {"1.5ms", 0, 0, EINVAL},
    {"1.0001s", 0, 0, EINVAL},
    {"1.s", 0, 0, EINVAL},
    {".5s", 0, 0, EINVAL},
    {"1..5s", 0, 0, EINVAL},
    {"0x10", 0, 0, EINVAL},
    {"18446744073709551616ms", 0, 0, ERANGE},
    {"99999999999999999999999ms", 0, 0, ERANGE},
    {"18446744073709552s", 0, 0, ERANGE},
    {"213503982335d", 0, 0, ERANGE},
    {"18446744073709551.999s", 0, 0, ERANGE},
};

START_TEST(test_duration)
{
	uint64_t ms = 424242;
	int rc;

	errno = 0;
	rc = retry_parse_duration_ms(durations[_i].s, &ms);
	if (durations[_i].ok) {
		ck_assert_msg(rc == 0, "\"%s\" rejected", durations[_i].s);
		ck_assert_uint_eq(ms, durations[_i].ms);
	} else {
		ck_assert_msg(rc == -1, "\"%s\" accepted", durations[_i].s);
		ck_assert_int_eq(errno, durations[_i].errnum);
		ck_assert_uint_eq(ms, 424242);
	}
}
END_TEST

static const struct {
	const char *spec;
	int ok;
	enum retry_backoff backoff;
	uint64_t base_ms, max_ms; /* starting from base 1000, max 300000 */
} specs[] = {
    {"fixed:500ms", 1, RETRY_FIXED, 500, 300000},
    {"linear:2s", 1, RETRY_LINEAR, 2000, 300000},
    {"exp:1s", 1, RETRY_EXPONENTIAL, 1000, 300000},
    {"exp:1s:1m", 1, RETRY_EXPONENTIAL, 1000, 60000},
    {"exp:250ms:250ms", 1, RETRY_EXPONENTIAL, 250, 250},
    {"exp:250:250", 0, 0, 0, 0}, /* units, please */
    {"exponential:1.5s:1h", 1, RETRY_EXPONENTIAL, 1500, 3600000},
    {"exp:10m", 1, RETRY_EXPONENTIAL, 600000, 600000}, /* max raised */
    {"fixed:1h", 1, RETRY_FIXED, 3600000, 3600000},
    {"fixed:0", 1, RETRY_FIXED, 0, 300000},
    {"exp:7d:7d", 1, RETRY_EXPONENTIAL, RETRY_MAX_DELAY_MS, RETRY_MAX_DELAY_MS},
    {"", 0, 0, 0, 0},
    {"exp", 0, 0, 0, 0},
    {"exp:", 0, 0, 0, 0},
    {":1s", 0, 0, 0, 0},
    {"quad:1s", 0, 0, 0, 0},
    {"Exp:1s", 0, 0, 0, 0},
    {"fixed:1s:2s", 0, 0, 0, 0},
    {"linear:1s:2s", 0, 0, 0, 0},
    {"exp:1s:", 0, 0, 0, 0},
    {"exp:1m:1s", 0, 0, 0, 0},
    {"exp:1s:1m:1h", 0, 0, 0, 0},
    {"exp:abc", 0, 0, 0, 0},
    {"exp:-1s", 0, 0, 0, 0},
    {"exp:8d", 0, 0, 0, 0},
    {"exp:1s:8d", 0, 0, 0, 0},
    {"exp:99999999999999999999999", 0, 0, 0, 0},
    {"exp:1111111111111111111111111111111111111111", 0, 0, 0, 0},
    {"exponentialexponential:1s", 0, 0, 0, 0},
};

START_TEST(test_backoff_spec)
{
	struct retry_policy p, before;
	char err[256];
	int rc;

	retry_policy_default(&p);
	p.max_attempts = 9;
	p.jitter = true;
	before = p;
	err[0] = '\0';
	rc = retry_backoff_parse_spec(&p, specs[_i].spec, err, sizeof err);
	if (specs[_i].ok) {
		ck_assert_msg(rc == 0, "\"%s\": %s", specs[_i].spec, err);
		ck_assert_int_eq(p.backoff, specs[_i].backoff);
		ck_assert_uint_eq(p.base_ms, specs[_i].base_ms);
		ck_assert_uint_eq(p.max_ms, specs[_i].max_ms);
		/* The rest is untouched, but for jitter: none when fixed. */
		ck_assert_uint_eq(p.max_attempts, 9);
		ck_assert(p.jitter == (p.backoff != RETRY_FIXED));
		ck_assert_uint_eq(p.on, before.on);
	} else {
		ck_assert_msg(rc == -1, "\"%s\" accepted", specs[_i].spec);
		ck_assert_msg(
		    strstr(err, "backoff") != NULL, "message \"%s\"", err);
		ck_assert(policy_eq(&p, &before));
	}
}
END_TEST

static Suite *
retry_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("retry");
	tc = tcase_create("delay");
	tcase_add_test(tc, test_default);
	tcase_add_test(tc, test_delay_fixed);
	tcase_add_test(tc, test_delay_linear);
	tcase_add_test(tc, test_delay_exponential);
	tcase_add_test(tc, test_delay_cap);
	tcase_add_test(tc, test_delay_saturation);
	tcase_add_test(tc, test_delay_jitter);
	tcase_add_test(tc, test_should_retry);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_from_json_full);
	tcase_add_test(tc, test_from_json_partial);
	tcase_add_loop_test(
	    tc, test_from_json_bad, 0, sizeof bad_json / sizeof bad_json[0]);
	tcase_add_test(tc, test_from_json_messages);
	tcase_add_test(tc, test_json_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(
	    tc, test_duration, 0, sizeof durations / sizeof durations[0]);
	tcase_add_loop_test(
	    tc, test_backoff_spec, 0, sizeof specs / sizeof specs[0]);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(retry_suite());
}
