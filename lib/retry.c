/*
 * retry: backoff policies for failed job attempts (see retry.h).
 *
 * Everything here is a pure function of its arguments.  The delay arithmetic
 * saturates at every step instead of overflowing, so any attempt number and
 * any base give the cap rather than a wrapped-around small delay; the jitter
 * draw maps a 64-bit random value onto [0, d] with one 128-bit multiply, which
 * is exact at both ends and free of modulo bias.
 *
 * The JSON and spec parsers work on a copy of the policy and store it only
 * when everything parsed, so a caller's policy is never half-updated.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "retry.h"

static const struct {
	unsigned bit;
	const char *name;
} retry_outcomes[] = {
    {RETRY_ON_FAILED, "failed"},
    {RETRY_ON_SIGNALED, "signaled"},
    {RETRY_ON_TIMED_OUT, "timed_out"},
    {RETRY_ON_LOST, "lost"},
    {RETRY_ON_SPAWN_FAILED, "spawn_failed"},
};
#define RETRY_NOUTCOMES (sizeof retry_outcomes / sizeof retry_outcomes[0])

static const char *const retry_backoff_names[] = {
    [RETRY_FIXED] = "fixed",
    [RETRY_LINEAR] = "linear",
    [RETRY_EXPONENTIAL] = "exponential",
};

/* The keys retry_policy_from_json() knows, to spot unknown ones. */
static const char *const retry_json_keys[] = {
    "max_attempts",
    "backoff",
    "base_ms",
    "max_ms",
    "jitter",
    "on",
};
#define RETRY_NJSON_KEYS (sizeof retry_json_keys / sizeof retry_json_keys[0])

static void retry_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Store a message in a caller's buffer (which may be absent) and set errno. */
static void
retry_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
}

void
retry_policy_default(struct retry_policy *p)
{
	p->backoff = RETRY_EXPONENTIAL;
	p->max_attempts = 1;
	p->base_ms = 1000;
	p->max_ms = 300000;
	p->jitter = true;
	p->on = RETRY_ON_DEFAULT;
}

static uint64_t
retry_mul_sat(uint64_t a, uint64_t b)
{
	if (a != 0 && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

uint64_t
retry_delay_ms(const struct retry_policy *p, uint32_t attempt, uint64_t rnd)
{
	uint64_t d;
	uint32_t shift;

	if (attempt == 0)
		attempt = 1;
	switch (p->backoff) {
	case RETRY_FIXED:
		d = p->base_ms;
		break;
	case RETRY_LINEAR:
		d = retry_mul_sat(p->base_ms, attempt);
		break;
	case RETRY_EXPONENTIAL:
		shift = attempt - 1;
		if (p->base_ms == 0)
			d = 0;
		else if (shift >= 64 || p->base_ms > (UINT64_MAX >> shift))
			d = UINT64_MAX;
		else
			d = p->base_ms << shift;
		break;
	default:
		fatalx("retry_delay_ms: bad backoff %d", (int)p->backoff);
	}
	if (d > p->max_ms)
		d = p->max_ms;
	if (p->jitter) {
		/* (d + 1) * rnd / 2^64 lies in [0, d]; d + 1 may be 2^64. */
		d = (uint64_t)((((unsigned __int128)d + 1) * rnd) >> 64);
	}
	return d;
}

bool
retry_should_retry(
    const struct retry_policy *p, uint32_t attempt, unsigned outcome)
{
	return attempt < p->max_attempts && (outcome & p->on) != 0;
}

unsigned
retry_outcome_parse(const char *name)
{
	size_t i;

	for (i = 0; i < RETRY_NOUTCOMES; i++) {
		if (strcmp(name, retry_outcomes[i].name) == 0)
			return retry_outcomes[i].bit;
	}
	return 0;
}

const char *
retry_outcome_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < RETRY_NOUTCOMES; i++) {
		if (bit == retry_outcomes[i].bit)
			return retry_outcomes[i].name;
	}
	return NULL;
}

const char *
retry_backoff_name(enum retry_backoff b)
{
	if ((unsigned)b >=
	    sizeof retry_backoff_names / sizeof retry_backoff_names[0])
		return NULL;
	return retry_backoff_names[b];
}

/* "fixed", "linear", "exponential" or "exp"; -1 if none of them. */
static int
retry_backoff_parse(const char *name, enum retry_backoff *b)
{
	if (strcmp(name, "fixed") == 0)
		*b = RETRY_FIXED;
	else if (strcmp(name, "linear") == 0)
		*b = RETRY_LINEAR;
	else if (strcmp(name, "exponential") == 0 || strcmp(name, "exp") == 0)
		*b = RETRY_EXPONENTIAL;
	else
		return -1;
	return 0;
}

/* An integer JSON value in [lo, hi] into *v; -1 and a message if not. */
static int
retry_json_uint(const json_t *obj, const char *key, uint64_t lo, uint64_t hi,
    uint64_t *v, char *err, size_t errlen)
{
	const json_t *j;
	json_int_t i;

	if ((j = json_object_get(obj, key)) == NULL)
		return 0;
	if (json_is_integer(j)) {
		i = json_integer_value(j);
		if (i >= 0 && (uint64_t)i >= lo && (uint64_t)i <= hi) {
			*v = (uint64_t)i;
			return 0;
		}
	}
	retry_error(err, errlen,
	    "retry.%s must be an integer from %llu to %llu", key,
	    (unsigned long long)lo, (unsigned long long)hi);
	return -1;
}

/* The first key of obj that retry_policy_from_json() does not know. */
static void
retry_unknown_key(const json_t *obj, char *err, size_t errlen)
{
	json_t *copy, *value;
	const char *key;
	size_t i;

	/* json_object_iter() wants a mutable object; this is the error path. */
	if ((copy = json_deep_copy(obj)) == NULL)
		fatalx("retry: json_deep_copy failed");
	json_object_foreach(copy, key, value)
	{
		for (i = 0; i < RETRY_NJSON_KEYS; i++) {
			if (strcmp(key, retry_json_keys[i]) == 0)
				break;
		}
		if (i == RETRY_NJSON_KEYS) {
			retry_error(
			    err, errlen, "retry: unknown field \"%s\"", key);
			break;
		}
	}
	json_decref(copy);
}

static int
retry_json_on(const json_t *arr, unsigned *on, char *err, size_t errlen)
{
	const json_t *j;
	unsigned bits, bit;
	size_t i;

	if (!json_is_array(arr)) {
		retry_error(
		    err, errlen, "retry.on must be an array of outcome names");
		return -1;
	}
	bits = 0;
	for (i = 0; i < json_array_size(arr); i++) {
		j = json_array_get(arr, i);
		if (!json_is_string(j)) {
			retry_error(err, errlen,
			    "retry.on must be an array of outcome names");
			return -1;
		}
		if ((bit = retry_outcome_parse(json_string_value(j))) == 0) {
			retry_error(err, errlen,
			    "retry.on: unknown outcome \"%s\" (expected "
			    "failed, "
			    "signaled, timed_out, lost or spawn_failed)",
			    json_string_value(j));
			return -1;
		}
		bits |= bit;
	}
	*on = bits;
	return 0;
}

int
retry_policy_from_json(
    struct retry_policy *p, const json_t *obj, char *err, size_t errlen)
{
	struct retry_policy np = *p;
	const json_t *j;
	uint64_t v;
	size_t i, known;

	if (!json_is_object(obj)) {
		retry_error(err, errlen, "retry must be a JSON object");
		return -1;
	}
	known = 0;
	for (i = 0; i < RETRY_NJSON_KEYS; i++) {
		if (json_object_get(obj, retry_json_keys[i]) != NULL)
			known++;
	}
	if (known != json_object_size(obj)) {
		retry_unknown_key(obj, err, errlen);
		return -1;
	}

	v = np.max_attempts;
	if (retry_json_uint(obj, "max_attempts", 1, RETRY_MAX_ATTEMPTS, &v, err,
	        errlen) == -1)
		return -1;
	np.max_attempts = (uint32_t)v;
	if ((j = json_object_get(obj, "backoff")) != NULL) {
		if (!json_is_string(j) ||
		    retry_backoff_parse(json_string_value(j), &np.backoff) ==
		        -1) {
			retry_error(err, errlen,
			    "retry.backoff must be \"fixed\", \"linear\" or "
			    "\"exponential\"");
			return -1;
		}
	}
	if (retry_json_uint(obj, "base_ms", 0, RETRY_MAX_DELAY_MS, &np.base_ms,
	        err, errlen) == -1)
		return -1;
	if (retry_json_uint(obj, "max_ms", 0, RETRY_MAX_DELAY_MS, &np.max_ms,
	        err, errlen) == -1)
		return -1;
	if ((j = json_object_get(obj, "jitter")) != NULL) {
		if (!json_is_boolean(j)) {
			retry_error(
			    err, errlen, "retry.jitter must be true or false");
			return -1;
		}
		np.jitter = json_is_true(j);
	} else if (json_object_get(obj, "backoff") != NULL &&
	           np.backoff == RETRY_FIXED)
		np.jitter = false; /* "fixed" means fixed, unless told */
	if ((j = json_object_get(obj, "on")) != NULL &&
	    retry_json_on(j, &np.on, err, errlen) == -1)
		return -1;
	if (np.max_ms < np.base_ms) {
		retry_error(
		    err, errlen, "retry.max_ms must be >= retry.base_ms");
		return -1;
	}
	*p = np;
	return 0;
}

json_t *
retry_policy_to_json(const struct retry_policy *p)
{
	json_t *obj, *on;
	size_t i;

	if ((on = json_array()) == NULL)
		fatalx("retry_policy_to_json: out of memory");
	for (i = 0; i < RETRY_NOUTCOMES; i++) {
		if ((p->on & retry_outcomes[i].bit) != 0 &&
		    json_array_append_new(
		        on, json_string(retry_outcomes[i].name)) == -1)
			fatalx("retry_policy_to_json: out of memory");
	}
	obj = json_pack("{s:I, s:s, s:I, s:I, s:b, s:o}", "max_attempts",
	    (json_int_t)p->max_attempts, "backoff",
	    retry_backoff_name(p->backoff), "base_ms", (json_int_t)p->base_ms,
	    "max_ms", (json_int_t)p->max_ms, "jitter", (int)p->jitter, "on",
	    on);
	if (obj == NULL)
		fatalx("retry_policy_to_json: json_pack failed");
	return obj;
}

/* Milliseconds in the unit at *unit (its length in *len); 0 if unknown. */
static uint64_t
retry_unit_ms(const char *unit, size_t *len)
{
	*len = strncmp(unit, "ms", 2) == 0 ? 2 : 1;
	if (*len == 2)
		return 1;
	switch (*unit) {
	case 's':
		return 1000;
	case 'm':
		return 60 * 1000;
	case 'h':
		return 3600 * 1000;
	case 'd':
		return 24 * 3600 * 1000;
	default:
		return 0;
	}
}

/*
 * One term at *c: digits, an optional fraction of at most three digits,
 * and a unit.  A fraction needs a unit of at least a second, so the
 * result is always a whole number of milliseconds.  Adds it to *ms and
 * moves *c past it.
 */
static int
retry_parse_term(const char **c, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0, scale = 1000, unit, total, part;
	const char *p = *c;
	size_t len;
	int nfrac = 0;

	if (*p < '0' || *p > '9') {
		errno = EINVAL;
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++nfrac > 3) {
				errno = EINVAL;
				return -1;
			}
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale /= 10;
		}
		if (nfrac == 0) {
			errno = EINVAL;
			return -1;
		}
	}
	if ((unit = retry_unit_ms(p, &len)) == 0 ||
	    (nfrac > 0 && unit < 1000)) {
		errno = EINVAL;
		return -1;
	}
	/* frac * scale is in thousandths of the unit, below 1000. */
	part = frac * scale * (unit / 1000);
	if (whole > UINT64_MAX / unit ||
	    (total = whole * unit) > UINT64_MAX - part ||
	    total + part > UINT64_MAX - *ms) {
		errno = ERANGE;
		return -1;
	}
	*ms += total + part;
	*c = p + len;
	return 0;
}

/*
 * Terms, each with its unit ("90s", "1h30m", "1.5h"); "0" alone needs
 * none.  A bare number is refused: it was too easy to mean seconds and get
 * milliseconds.
 */
int
retry_parse_duration_ms(const char *s, uint64_t *ms)
{
	const char *c = s;
	uint64_t total = 0;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	do {
		if (retry_parse_term(&c, &total) != 0)
			return -1;
	} while (*c != '\0');
	*ms = total;
	return 0;
}

bool
retry_duration_lacks_unit(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789") == strlen(s) &&
	       strcmp(s, "0") != 0;
}

int
retry_backoff_parse_spec(
    struct retry_policy *p, const char *spec, char *err, size_t errlen)
{
	struct retry_policy np = *p;
	const char *colon, *dur, *maxdur;
	char kind[16], base[32];
	size_t n;

	if ((colon = strchr(spec, ':')) == NULL ||
	    (n = (size_t)(colon - spec)) >= sizeof kind)
		goto usage;
	memcpy(kind, spec, n);
	kind[n] = '\0';
	if (retry_backoff_parse(kind, &np.backoff) == -1)
		goto usage;
	dur = colon + 1;
	maxdur = NULL;
	if ((colon = strchr(dur, ':')) != NULL) {
		if (np.backoff != RETRY_EXPONENTIAL)
			goto usage;
		maxdur = colon + 1;
		n = (size_t)(colon - dur);
	} else
		n = strlen(dur);
	if (n >= sizeof base) {
		retry_error(
		    err, errlen, "backoff: bad duration \"%.*s\"", (int)n, dur);
		return -1;
	}
	memcpy(base, dur, n);
	base[n] = '\0';
	if (retry_parse_duration_ms(base, &np.base_ms) == -1 ||
	    np.base_ms > RETRY_MAX_DELAY_MS) {
		retry_error(err, errlen,
		    "backoff: bad duration \"%s\" (expected e.g. 500ms, 30s, "
		    "5m or 1h, at most 7d)",
		    base);
		return -1;
	}
	if (maxdur != NULL) {
		if (retry_parse_duration_ms(maxdur, &np.max_ms) == -1 ||
		    np.max_ms > RETRY_MAX_DELAY_MS) {
			retry_error(err, errlen,
			    "backoff: bad maximum \"%s\" (expected e.g. 500ms, "
			    "30s, 5m or 1h, at most 7d)",
			    maxdur);
			return -1;
		}
		if (np.max_ms < np.base_ms) {
			retry_error(err, errlen,
			    "backoff: maximum \"%s\" is below the base \"%s\"",
			    maxdur, base);
			return -1;
		}
	} else if (np.max_ms < np.base_ms)
		np.max_ms = np.base_ms;
	/* "fixed" means fixed, as in a retry object (jobd.conf has no
	 * jitter key to say otherwise). */
	if (np.backoff == RETRY_FIXED)
		np.jitter = false;
	*p = np;
	return 0;

usage:
	retry_error(err, errlen,
	    "backoff: bad spec \"%s\" (expected fixed:DUR, linear:DUR or "
	    "exp:DUR[:MAXDUR])",
	    spec);
	return -1;
}
