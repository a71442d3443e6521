/*
 * cron: cron expressions and their next firing time (see cron.h).
 *
 * A parsed expression is one bit set per field.  Finding the next match is
 * done on the local calendar, field by field: a month outside the set jumps
 * to the next month in it, a day to the next matching day (a bit mask per
 * month that combines day of month and day of week), then hour and minute
 * likewise, so a yearly expression costs a few dozen steps, not a scan.
 *
 * DESIGN: local wall time W is "local seconds", the instant's UTC seconds
 * plus its offset; L(t) is the wall time at instant t.  L rises with t and
 * jumps at offset changes.
 *
 * Wall-clock schedules fire matching wall time W at f(W), the first instant
 * at which L(t) >= W: for an ordinary time the instant showing it, for one
 * in an overlap its first occurrence, for one in a gap the gap's end.  f
 * never decreases, so the next firing after `after` is f(W*) for the first
 * matching W* above M, the highest wall time shown up to `after` (in an
 * overlap, M is the time shown just before the clock went back).
 *
 * Elapsed-time schedules fire at every instant t where L(t) matches: within
 * each span of constant offset, the first matching wall time maps straight
 * back to an instant, and a span without one passes to the next.
 *
 * The elapsed-time walk crosses the offset changes between `after` and the
 * answer, a couple per year.  The wall-clock walk starts three days before
 * W* instead, as no clock is more than 26 hours off UTC.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "xmalloc.h"

#define CRON_NFIELDS 5
#define CRON_DAY 86400
/* Years 1 to 9999. */
#define CRON_TIME_MIN INT64_C(-62135596800)
#define CRON_TIME_MAX INT64_C(253402300799)
/* The longest wait between offset changes that matters for M: offsets
 * stay within +-26 h, so a clock set back is caught up within 52 h. */
#define CRON_LOOKBACK (3 * CRON_DAY)

struct cron_expr {
	uint64_t minutes; /* bits 0-59 */
	uint32_t hours;   /* bits 0-23 */
	uint32_t mdays;   /* bits 1-31 */
	uint32_t months;  /* bits 1-12 */
	uint32_t wdays;   /* bits 0-6, 0 = Sunday */
	bool mday_star;   /* the field starts with '*' */
	bool wday_star;
	char *text;
};

enum cron_field {
	CRON_MINUTE,
	CRON_HOUR,
	CRON_MDAY,
	CRON_MONTH,
	CRON_WDAY,
};

static const char *const cron_month_names[] = {"jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_day_names[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct cron_field_info {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is the value min + i */
} cron_fields[CRON_NFIELDS] = {
    [CRON_MINUTE] = {"minute", 0, 59, NULL},
    [CRON_HOUR] = {"hour", 0, 23, NULL},
    [CRON_MDAY] = {"day of month", 1, 31, NULL},
    [CRON_MONTH] = {"month", 1, 12, cron_month_names},
    [CRON_WDAY] = {"day of week", 0, 7, cron_day_names},
};

static const struct {
	const char *name;
	const char *expansion;
} cron_shorthands[] = {
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};
#define CRON_NSHORTHANDS (sizeof cron_shorthands / sizeof cron_shorthands[0])

static void cron_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cron_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
}

/* Copy n bytes of s (at most 40) for a message, non-printables as '?'. */
static void
cron_quote(char *dst, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 40; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (i < n) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* --- parsing ------------------------------------------------------------- */

struct cron_parser {
	const struct cron_field_info *f;
	const char *item; /* the item being parsed, for messages */
	size_t itemlen;
	char *err;
	size_t errlen;
};

static int cron_perror(struct cron_parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "FIELD: message"; always -1. */
static int
cron_perror(struct cron_parser *ps, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cron_error(ps->err, ps->errlen, "%s: %s", ps->f->name, msg);
	return -1;
}

/* A value: a number or, where the field has them, a name. */
static int
cron_parse_value(
    struct cron_parser *ps, const char **pp, const char *end, int *v)
{
	const char *p = *pp;
	char q[48];
	size_t n = 0;
	int i;

	while (p + n < end && isalnum((unsigned char)p[n]))
		n++;
	cron_quote(q, p, n);
	if (n == 0) {
		cron_quote(q, ps->item, ps->itemlen);
		return cron_perror(ps, "bad item \"%s\"", q);
	}
	if (isdigit((unsigned char)p[0])) {
		for (i = 0, *v = 0; (size_t)i < n; i++) {
			if (!isdigit((unsigned char)p[i]))
				return cron_perror(
				    ps, "\"%s\" is not a number", q);
			if (*v < 100000)
				*v = *v * 10 + (p[i] - '0');
		}
		if (*v < ps->f->min || *v > ps->f->max)
			return cron_perror(ps, "%s is out of range %d-%d", q,
			    ps->f->min, ps->f->max);
	} else {
		if (ps->f->names == NULL)
			return cron_perror(ps, "\"%s\" is not a number", q);
		for (i = 0; ps->f->names[i] != NULL; i++) {
			if (n == 3 && strncasecmp(p, ps->f->names[i], 3) == 0)
				break;
		}
		if (ps->f->names[i] == NULL)
			return cron_perror(ps, "unknown name \"%s\"", q);
		*v = ps->f->min + i;
	}
	*pp = p + n;
	return 0;
}

/* One item of a list, [p, end), into *bits. */
static int
cron_parse_item(
    struct cron_parser *ps, const char *p, const char *end, uint64_t *bits)
{
	const struct cron_field_info *f = ps->f;
	char q[48];
	int lo, hi, step = 1, v;
	bool star = false, range = false;

	ps->item = p;
	ps->itemlen = (size_t)(end - p);
	cron_quote(q, p, ps->itemlen);
	if (p == end)
		return cron_perror(ps, "empty list item");
	if (*p == '*') {
		star = true;
		p++;
		lo = f->min;
		/* 7 is Sunday again: "*" is 0-6. */
		hi = f == &cron_fields[CRON_WDAY] ? 6 : f->max;
	} else {
		if (cron_parse_value(ps, &p, end, &lo) == -1)
			return -1;
		hi = lo;
		if (p < end && *p == '-') {
			p++;
			if (cron_parse_value(ps, &p, end, &hi) == -1)
				return -1;
			range = true;
			if (hi < lo)
				return cron_perror(
				    ps, "range \"%s\" runs backwards", q);
		}
	}
	if (p < end && *p == '/') {
		p++;
		if (p == end || !isdigit((unsigned char)*p))
			return cron_perror(ps, "bad step in \"%s\"", q);
		for (step = 0; p < end && isdigit((unsigned char)*p); p++) {
			if (step < 100000)
				step = step * 10 + (*p - '0');
		}
		if (step < 1 || step > f->max)
			return cron_perror(ps,
			    "step in \"%s\" is out of range 1-%d", q, f->max);
		if (!star && !range)
			hi = f->max; /* "a/n": from a to the end */
	}
	if (p != end)
		return cron_perror(ps, "bad item \"%s\"", q);
	for (v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1)
		         << (f == &cron_fields[CRON_WDAY] ? v % 7 : v);
	return 0;
}

/* One field: items separated by commas. */
static int
cron_parse_field(enum cron_field which, const char *p, size_t len,
    uint64_t *bits, char *err, size_t errlen)
{
	struct cron_parser ps = {&cron_fields[which], p, len, err, errlen};
	const char *end = p + len, *comma;

	*bits = 0;
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (cron_parse_item(
		        &ps, p, comma != NULL ? comma : end, bits) == -1)
			return -1;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int
cron_month_max_days(int month)
{
	static const int days[] = {
	    31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return days[month - 1];
}

/*
 * When day of month and day of week must both match, some month in the
 * set must have a day in the set: every such date then falls on every
 * weekday in some year.  (When either may match, any weekday will do.)
 */
static bool
cron_can_fire(const struct cron_expr *e)
{
	int m;

	if (!e->mday_star && !e->wday_star)
		return true;
	for (m = 1; m <= 12; m++) {
		if ((e->months & (1u << m)) != 0 &&
		    (e->mdays & ((2u << cron_month_max_days(m)) - 2)) != 0)
			return true;
	}
	return false;
}

struct cron_expr *
cron_parse(const char *text, char *err, size_t errlen)
{
	struct cron_expr *e;
	const char *p, *start[CRON_NFIELDS + 1], *src = text;
	size_t len[CRON_NFIELDS + 1], i, n;
	char canon[CRON_TEXT_MAX + 1], q[48];
	uint64_t bits[CRON_NFIELDS];
	char *c;

	if (strlen(text) > CRON_TEXT_MAX) {
		cron_error(err, errlen, "expression is longer than %d bytes",
		    CRON_TEXT_MAX);
		return NULL;
	}
	while (*src == ' ' || *src == '\t')
		src++;
	if (*src == '@') {
		for (n = 0; src[n] != '\0' && src[n] != ' ' && src[n] != '\t';
		     n++)
			;
		for (p = src + n; *p == ' ' || *p == '\t'; p++)
			;
		cron_quote(q, src, n);
		if (*p != '\0') {
			cron_error(err, errlen, "%s takes no fields", q);
			return NULL;
		}
		for (i = 0; i < CRON_NSHORTHANDS; i++) {
			if (strlen(cron_shorthands[i].name) == n &&
			    strncasecmp(src, cron_shorthands[i].name, n) == 0)
				break;
		}
		if (i == CRON_NSHORTHANDS) {
			cron_error(err, errlen,
			    strncasecmp(src, "@reboot", n) == 0 && n == 7
			        ? "%s is not supported"
			        : "unknown shorthand \"%s\"",
			    q);
			return NULL;
		}
		e = cron_parse(cron_shorthands[i].expansion, err, errlen);
		free(e->text);
		e->text = xstrdup(cron_shorthands[i].name);
		return e;
	}

	/* Split into fields. */
	for (n = 0, p = src; *p != '\0';) {
		if (n < CRON_NFIELDS + 1)
			start[n] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (n < CRON_NFIELDS + 1)
			len[n] = (size_t)(p - start[n]);
		n++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (n != CRON_NFIELDS) {
		cron_error(err, errlen, "expected %d fields, got %zu",
		    CRON_NFIELDS, n);
		return NULL;
	}
	for (i = 0; i < CRON_NFIELDS; i++) {
		if (cron_parse_field((enum cron_field)i, start[i], len[i],
		        &bits[i], err, errlen) == -1)
			return NULL;
	}

	e = xcalloc(1, sizeof *e);
	e->minutes = bits[CRON_MINUTE];
	e->hours = (uint32_t)bits[CRON_HOUR];
	e->mdays = (uint32_t)bits[CRON_MDAY];
	e->months = (uint32_t)bits[CRON_MONTH];
	e->wdays = (uint32_t)bits[CRON_WDAY];
	e->mday_star = start[CRON_MDAY][0] == '*';
	e->wday_star = start[CRON_WDAY][0] == '*';
	if (!cron_can_fire(e)) {
		char dq[48], mq[48];

		cron_quote(dq, start[CRON_MDAY], len[CRON_MDAY]);
		cron_quote(mq, start[CRON_MONTH], len[CRON_MONTH]);
		cron_error(err, errlen,
		    "never fires: day of month \"%s\" does not occur in "
		    "month \"%s\"",
		    dq, mq);
		free(e);
		return NULL;
	}
	for (i = 0, c = canon; i < CRON_NFIELDS; i++) {
		if (i > 0)
			*c++ = ' ';
		for (n = 0; n < len[i]; n++)
			*c++ = (char)tolower((unsigned char)start[i][n]);
	}
	*c = '\0';
	e->text = xstrdup(canon);
	return e;
}

void
cron_free(struct cron_expr *e)
{
	if (e == NULL)
		return;
	free(e->text);
	free(e);
}

const char *
cron_text(const struct cron_expr *e)
{
	return e->text;
}

bool
cron_is_elapsed(const struct cron_expr *e)
{
	return e->hours == (UINT32_C(1) << 24) - 1;
}

/* --- matching ------------------------------------------------------------ */

static int64_t
cron_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The lowest set bit of mask at or above from; -1 if none. */
static int
cron_next_bit(uint64_t mask, int from)
{
	if (from > 63)
		return -1;
	mask >>= from;
	return mask == 0 ? -1 : from + __builtin_ctzll(mask);
}

static int
cron_month_days(int64_t y, int month)
{
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return month == 2 && !leap ? 28 : cron_month_max_days(month);
}

/* The days of month m of year y that match, as bits 1-31. */
static uint32_t
cron_day_mask(const struct cron_expr *e, int64_t y, int m)
{
	uint32_t wmask = 0, mask;
	int64_t first;
	int wd, d, ndays;

	ndays = cron_month_days(y, m);
	first = tz_days_from_civil(y, m, 1);
	wd = (int)(first - cron_floordiv(first + 4, 7) * 7 + 4);
	for (d = 1; d <= ndays; d++) {
		if ((e->wdays & (1u << ((wd + d - 1) % 7))) != 0)
			wmask |= 1u << d;
	}
	if (e->mday_star || e->wday_star)
		mask = e->mdays & wmask;
	else
		mask = e->mdays | wmask;
	return mask & ((2u << ndays) - 2);
}

/*
 * The first matching wall time at or after local seconds w, rounded up to
 * a minute; -1 if there is none before the year 10000.
 */
static int64_t
cron_next_wall(const struct cron_expr *e, int64_t w)
{
	int64_t days, rem, y;
	int m, d, h, mi, next;

	w = cron_floordiv(w + 59, 60) * 60;
	days = cron_floordiv(w, CRON_DAY);
	rem = w - days * CRON_DAY;
	tz_civil_from_days(days, &y, &m, &d);
	h = (int)(rem / 3600);
	mi = (int)(rem % 3600 / 60);
	while (y < 10000) {
		if ((e->months & (1u << m)) == 0) {
			next = cron_next_bit(e->months, m + 1);
			if (next == -1) {
				y++;
				next = cron_next_bit(e->months, 1);
			}
			m = next;
			d = 1;
			h = mi = 0;
			continue;
		}
		next = cron_next_bit(cron_day_mask(e, y, m), d);
		if (next == -1) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			h = mi = 0;
			continue;
		}
		if (next != d) {
			d = next;
			h = mi = 0;
		}
		next = cron_next_bit(e->hours, h);
		if (next == -1) {
			d++; /* past the month's end: no day matches */
			h = mi = 0;
			continue;
		}
		if (next != h) {
			h = next;
			mi = 0;
		}
		next = cron_next_bit(e->minutes, mi);
		if (next == -1) {
			h++; /* 24: no hour matches */
			mi = 0;
			continue;
		}
		return tz_days_from_civil(y, m, d) * CRON_DAY + h * 3600 +
		       next * 60;
	}
	return -1;
}

/* Elapsed time: the first instant after `after` showing a match. */
static int64_t
cron_next_elapsed(const struct cron_expr *e, const struct tz *tz, int64_t after)
{
	int64_t cur = after, change, w, t;
	int32_t off;
	int strict = 1;

	for (;;) {
		off = tz_offset(tz, cur);
		change = tz_next_transition(tz, cur);
		if ((w = cron_next_wall(e, cur + off + strict)) == -1)
			return -1;
		t = w - off;
		if (t < change)
			return t;
		cur = change; /* from here on, the new offset */
		strict = 0;
	}
}

/* Wall clock: f(W*), the first instant showing W* or later. */
static int64_t
cron_next_wallclock(
    const struct cron_expr *e, const struct tz *tz, int64_t after)
{
	int64_t high, cur, change, w, t;
	int32_t off;

	/* The highest wall time shown up to `after`. */
	high = after + tz_offset(tz, after);
	for (cur = after - CRON_LOOKBACK;; cur = change) {
		change = tz_next_transition(tz, cur);
		if (change > after)
			break;
		w = change - 1 + tz_offset(tz, change - 1);
		if (w > high)
			high = w;
	}
	if ((w = cron_next_wall(e, high + 1)) == -1)
		return -1;
	/* Until w - CRON_LOOKBACK the clock shows less than w (and up to
	 * after, at most high): start there, not at after, and the walk
	 * crosses a few changes, not those of the years between. */
	cur = w - CRON_LOOKBACK > after ? w - CRON_LOOKBACK : after;
	for (;; cur = change) {
		off = tz_offset(tz, cur);
		change = tz_next_transition(tz, cur);
		t = w - off;
		if (t < change)
			return t;
		/* The clock jumped to w or past it at change. */
		if (change + tz_offset(tz, change) >= w)
			return change;
	}
}

int64_t
cron_next(const struct cron_expr *e, const struct tz *tz, int64_t after)
{
	int64_t t;

	if (after < CRON_TIME_MIN || after > CRON_TIME_MAX) {
		errno = ERANGE;
		return -1;
	}
	if (cron_is_elapsed(e))
		t = cron_next_elapsed(e, tz, after);
	else
		t = cron_next_wallclock(e, tz, after);
	if (t == -1 || t > CRON_TIME_MAX) {
		errno = ERANGE;
		return -1;
	}
	return t;
}
