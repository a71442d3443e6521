/*
 * retry: backoff policies for failed job attempts.
 *
 * A policy says how many attempts a job gets, which attempt outcomes are
 * worth another try, and how long to wait before it: fixed, linear or
 * exponential in the attempt number, capped, optionally with full jitter
 * (a uniform draw between 0 and the computed delay).  retry_delay_ms() is a
 * pure function of (policy, attempt, random value): the caller supplies the
 * randomness, so tests need neither clocks nor seeds.
 *
 * The value type is public on purpose: a policy is copied into every job.
 */
#ifndef JOBD_RETRY_H
#define JOBD_RETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum retry_backoff {
	RETRY_FIXED,
	RETRY_LINEAR,
	RETRY_EXPONENTIAL,
};

/* Attempt outcomes a policy may retry (bit flags for retry_policy.on). */
#define RETRY_ON_FAILED 0x01       /* "failed": non-zero exit / error */
#define RETRY_ON_SIGNALED 0x02     /* "signaled": killed by a signal */
#define RETRY_ON_TIMED_OUT 0x04    /* "timed_out" */
#define RETRY_ON_LOST 0x08         /* "lost": jobd died during the attempt */
#define RETRY_ON_SPAWN_FAILED 0x10 /* "spawn_failed": could not start */
#define RETRY_ON_DEFAULT                                            \
	(RETRY_ON_FAILED | RETRY_ON_SIGNALED | RETRY_ON_TIMED_OUT | \
	    RETRY_ON_LOST)

#define RETRY_MAX_ATTEMPTS 1000
#define RETRY_MAX_DELAY_MS (7ULL * 24 * 3600 * 1000) /* one week */

struct retry_policy {
	enum retry_backoff backoff;
	uint32_t max_attempts; /* attempts in all, >= 1 (1: no retry) */
	uint64_t base_ms;      /* first delay / step */
	uint64_t max_ms;       /* cap, >= base_ms */
	bool jitter;           /* full jitter */
	unsigned on;           /* RETRY_ON_* */
};

/* One attempt; on retry: exponential from 1 s, capped at 5 min, jitter. */
void retry_policy_default(struct retry_policy *p);

/*
 * Delay before attempt number attempt + 1, after attempt (>= 1) failed.
 * rnd is a uniform 64-bit random value, used only with jitter.
 */
uint64_t retry_delay_ms(
    const struct retry_policy *p, uint32_t attempt, uint64_t rnd);

/* May another attempt follow attempt number attempt that ended with outcome? */
bool retry_should_retry(
    const struct retry_policy *p, uint32_t attempt, unsigned outcome);

/* Outcome name <-> RETRY_ON_* bit; 0 / NULL if unknown. */
unsigned retry_outcome_parse(const char *name);
const char *retry_outcome_name(unsigned bit);
const char *retry_backoff_name(enum retry_backoff b);

/*
 * Fill *p from a JSON object, starting from what *p already holds (so
 * defaults can be layered): keys "max_attempts", "backoff" ("fixed",
 * "linear", "exponential"), "base_ms", "max_ms", "jitter" (bool), "on"
 * (array of outcome names).  Unknown keys, wrong types and out-of-range
 * values are errors: -1 and a message naming the field in err.
 */
int retry_policy_from_json(
    struct retry_policy *p, const json_t *obj, char *err, size_t errlen);
json_t *retry_policy_to_json(const struct retry_policy *p);

/*
 * Parse a client-side spec "fixed:DUR", "linear:DUR" or "exp:DUR[:MAXDUR]"
 * (DUR as 500ms, 30s, 5m, 1h) into backoff, base_ms and max_ms.
 */
int retry_backoff_parse_spec(
    struct retry_policy *p, const char *spec, char *err, size_t errlen);

/*
 * Parse "500ms", "30s", "5m", "1h", "2d", "1.5h", "1h30m" (terms add up)
 * or "0"; a number without a unit is an error (EINVAL).
 */
int retry_parse_duration_ms(const char *s, uint64_t *ms);
/* Is s a number that only lacks its unit ("30")?  For error messages. */
bool retry_duration_lacks_unit(const char *s);

#endif
