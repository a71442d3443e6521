/*
 * tz: time zones without the process-global TZ (see tz.h).
 *
 * A zone is a sorted array of transition instants, each naming a local time
 * type (UTC offset, DST flag, abbreviation), plus an optional POSIX rule that
 * governs every instant from the last transition on.  A lookup is a binary
 * search in the array, or for the rule the latest of the rule's transitions
 * in the years around the instant: start and end of DST are computed for
 * five consecutive years and the last one not after the instant wins.  This
 * needs no special case for the southern hemisphere, for DST all year
 * ("EST5EDT,0/0,J365/25") or for transition times outside 0-24 h, and it
 * reads the rule in local time as RFC 8536 says.  (glibc reads it by UTC
 * year and ignores DST rules before 1971; files hold explicit transitions
 * for those years, so real zones agree.)
 *
 * Before the first transition the zone is in time type 0 (RFC 8536).  Files
 * with leap-second records ("right/" zones) are refused: their transition
 * times are not UTC seconds.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tz.h"
#include "xmalloc.h"

#define TZ_FILE_MAX (1024 * 1024)
#define TZ_NAME_MAX 255
#define TZ_ABBR_MAX 32
#define TZ_HEADER_LEN 44
#define TZ_DAY 86400
#define TZ_HOUR 3600
#define TZ_LOCALTIME "/etc/localtime"

struct tz_type {
	int32_t utoff; /* seconds east of UTC */
	bool isdst;
	uint32_t abbr; /* index into tz->abbrs */
};

enum tz_date_kind {
	TZ_DATE_JULIAN, /* Jn: 1-365, February 29 never counted */
	TZ_DATE_ZERO,   /* n: 0-365, February 29 counted */
	TZ_DATE_MWD,    /* Mm.w.d: day d of week w (5: last) of month m */
};

struct tz_date {
	enum tz_date_kind kind;
	int day; /* n, or the weekday d (0 = Sunday) */
	int week;
	int month;
	int32_t secs; /* local time of day of the change, -167 h to 167 h */
};

struct tz_rule {
	char std_abbr[TZ_ABBR_MAX];
	char dst_abbr[TZ_ABBR_MAX];
	int32_t std_off; /* seconds east of UTC */
	int32_t dst_off;
	bool has_dst;
	struct tz_date start; /* standard -> DST, in standard time */
	struct tz_date end;   /* DST -> standard, in DST */
};

struct tz {
	char *name;
	int64_t *trans; /* ascending */
	uint8_t *trans_type;
	size_t ntrans;
	struct tz_type *types;
	size_t ntypes;
	char *abbrs; /* charcnt bytes plus a NUL */
	bool has_rule;
	struct tz_rule rule;
};

/* What holds at one instant. */
struct tz_state {
	int32_t utoff;
	bool isdst;
	const char *abbr;
};

static void tz_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tz_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
}

/* Copy at most 64 bytes of s for a message, non-printables as '?'. */
static void
tz_quote(char *dst, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 4 < len && i < 64; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i] != '\0' && i + 4 <= len) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* --- calendar ------------------------------------------------------------ */

static int64_t
tz_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool
tz_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
tz_month_days(int64_t y, int month)
{
	static const int days[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return month == 2 && tz_is_leap(y) ? 29 : days[month - 1];
}

/*
 * Count in 400-year eras of 146097 days, each starting on March 1, so that
 * the leap day is the last day of its year and month lengths from March on
 * follow the pattern 31 30 31 30 31 (153 days every five months).
 */
int64_t
tz_days_from_civil(int64_t year, int month, int day)
{
	int64_t y, era, yoe, doy, doe;
	int m;

	y = month <= 2 ? year - 1 : year;
	m = month <= 2 ? month + 9 : month - 3; /* March = 0 */
	era = tz_floordiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * m + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to 1970 */
}

void
tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
	int64_t z, era, doe, yoe, doy, mp;

	z = days + 719468;
	era = tz_floordiv(z, 146097);
	doe = z - era * 146097;
	/* Years of 365 days, minus the leap days before doe. */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = era * 400 + yoe + (*month <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int
tz_weekday(int64_t days)
{
	return (int)(days - tz_floordiv(days + 4, 7) * 7 + 4);
}

static int64_t
tz_clamp(int64_t t)
{
	if (t < TZ_TIME_MIN)
		return TZ_TIME_MIN;
	if (t > TZ_TIME_MAX)
		return TZ_TIME_MAX;
	return t;
}

/* --- POSIX TZ rule strings ----------------------------------------------- */

/* Read 1 to maxdigits digits into *v; -1 if there are none or too many. */
static int
tz_parse_num(const char **pp, int maxdigits, int *v)
{
	const char *p = *pp;
	int n = 0, i;

	for (i = 0; isdigit((unsigned char)p[i]); i++) {
		if (i == maxdigits)
			return -1;
		n = n * 10 + (p[i] - '0');
	}
	if (i == 0)
		return -1;
	*v = n;
	*pp = p + i;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh, into seconds. */
static int
tz_parse_hms(const char **pp, int maxh, int32_t *secs)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (tz_parse_num(&p, 3, &h) == -1 || h > maxh)
		return -1;
	if (*p == ':') {
		p++;
		if (tz_parse_num(&p, 2, &m) == -1 || m > 59)
			return -1;
		if (*p == ':') {
			p++;
			if (tz_parse_num(&p, 2, &s) == -1 || s > 59)
				return -1;
		}
	}
	*secs = sign * (h * TZ_HOUR + m * 60 + s);
	*pp = p;
	return 0;
}

/* An abbreviation: three or more letters, or <...> of [A-Za-z0-9+-]. */
static int
tz_parse_abbr(const char **pp, char *abbr)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '<') {
		p++;
		while (
		    isalnum((unsigned char)p[n]) || p[n] == '+' || p[n] == '-')
			n++;
		if (p[n] != '>')
			return -1;
	} else {
		while (isalpha((unsigned char)p[n]))
			n++;
	}
	if (n < 3 || n >= TZ_ABBR_MAX)
		return -1;
	memcpy(abbr, p, n);
	abbr[n] = '\0';
	*pp = p + n + (**pp == '<'); /* past the '>' */
	return 0;
}

static int
tz_parse_date(const char **pp, struct tz_date *d)
{
	const char *p = *pp;

	if (*p == 'J') {
		p++;
		d->kind = TZ_DATE_JULIAN;
		if (tz_parse_num(&p, 3, &d->day) == -1 || d->day < 1 ||
		    d->day > 365)
			return -1;
	} else if (*p == 'M') {
		p++;
		d->kind = TZ_DATE_MWD;
		if (tz_parse_num(&p, 2, &d->month) == -1 || d->month < 1 ||
		    d->month > 12 || *p++ != '.' ||
		    tz_parse_num(&p, 1, &d->week) == -1 || d->week < 1 ||
		    d->week > 5 || *p++ != '.' ||
		    tz_parse_num(&p, 1, &d->day) == -1 || d->day > 6)
			return -1;
	} else {
		d->kind = TZ_DATE_ZERO;
		if (tz_parse_num(&p, 3, &d->day) == -1 || d->day > 365)
			return -1;
	}
	d->secs = 2 * TZ_HOUR;
	if (*p == '/') {
		p++;
		/* RFC 8536 extends POSIX's 0-24 h to -167 h - 167 h. */
		if (tz_parse_hms(&p, 167, &d->secs) == -1)
			return -1;
	}
	*pp = p;
	return 0;
}

/* Parse a whole rule string; -1 with a message naming the problem. */
static int
tz_parse_rule(const char *s, struct tz_rule *r, char *err, size_t errlen)
{
	const char *p = s;
	const char *what;
	int32_t off;

	memset(r, 0, sizeof *r);
	what = "a standard time abbreviation";
	if (tz_parse_abbr(&p, r->std_abbr) == -1)
		goto bad;
	what = "a UTC offset";
	if (tz_parse_hms(&p, 24, &off) == -1)
		goto bad;
	r->std_off = -off; /* POSIX offsets count west */
	r->dst_off = r->std_off;
	if (*p == '\0')
		return 0;
	what = "a DST abbreviation";
	if (tz_parse_abbr(&p, r->dst_abbr) == -1)
		goto bad;
	r->has_dst = true;
	r->dst_off = r->std_off + TZ_HOUR;
	if (*p != ',' && *p != '\0') {
		what = "a DST offset";
		if (tz_parse_hms(&p, 24, &off) == -1)
			goto bad;
		r->dst_off = -off;
	}
	if (*p == '\0') {
		/* No rule: what glibc assumes, the US rule since 2007. */
		r->start = (struct tz_date){TZ_DATE_MWD, 0, 2, 3, 2 * TZ_HOUR};
		r->end = (struct tz_date){TZ_DATE_MWD, 0, 1, 11, 2 * TZ_HOUR};
		return 0;
	}
	what = "a DST start rule";
	if (*p != ',')
		goto bad;
	p++;
	if (tz_parse_date(&p, &r->start) == -1)
		goto bad;
	what = "a DST end rule";
	if (*p != ',')
		goto bad;
	p++;
	if (tz_parse_date(&p, &r->end) == -1)
		goto bad;
	what = "the end of the string";
	if (*p != '\0')
		goto bad;
	return 0;
bad : {
	char q[80];

	tz_quote(q, sizeof q, s);
	tz_error(err, errlen,
	    "bad TZ rule string \"%s\": expected %s at "
	    "offset %zu",
	    q, what, (size_t)(p - s));
	return -1;
}
}

/* The instant (UTC) a rule date falls on in year y, at local offset off. */
static int64_t
tz_rule_instant(const struct tz_date *d, int64_t y, int32_t off)
{
	int64_t days, first;
	int wd, mday;

	switch (d->kind) {
	case TZ_DATE_JULIAN:
		days = tz_days_from_civil(y, 1, 1) + d->day - 1;
		if (tz_is_leap(y) && d->day >= 60)
			days++;
		break;
	case TZ_DATE_ZERO:
		days = tz_days_from_civil(y, 1, 1) + d->day;
		break;
	case TZ_DATE_MWD:
	default:
		first = tz_days_from_civil(y, d->month, 1);
		wd = tz_weekday(first);
		mday = 1 + (d->day - wd + 7) % 7 + 7 * (d->week - 1);
		if (mday > tz_month_days(y, d->month))
			mday -= 7;
		days = first + mday - 1;
		break;
	}
	return days * TZ_DAY + d->secs - off;
}

/*
 * The rule's transitions in the five years around t, ascending; on a tie
 * the later year's wins, which keeps DST-all-year rules in DST.
 */
struct tz_rule_event {
	int64_t at;
	bool dst; /* the state from at on */
};

static void
tz_rule_events(const struct tz_rule *r, int64_t t, struct tz_rule_event *ev)
{
	int64_t y, y0;
	int day, n = 0, i, j;
	int month;
	struct tz_rule_event e;

	tz_civil_from_days(tz_floordiv(t, TZ_DAY), &y0, &month, &day);
	for (y = y0 - 2; y <= y0 + 2; y++) {
		ev[n++] = (struct tz_rule_event){
		    tz_rule_instant(&r->start, y, r->std_off), true};
		ev[n++] = (struct tz_rule_event){
		    tz_rule_instant(&r->end, y, r->dst_off), false};
	}
	/* Insertion sort, stable: equal instants keep year order. */
	for (i = 1; i < n; i++) {
		e = ev[i];
		for (j = i; j > 0 && ev[j - 1].at > e.at; j--)
			ev[j] = ev[j - 1];
		ev[j] = e;
	}
}

#define TZ_RULE_EVENTS 10

static void
tz_rule_state(const struct tz_rule *r, int64_t t, struct tz_state *st)
{
	struct tz_rule_event ev[TZ_RULE_EVENTS];
	bool dst = false;
	int i;

	if (r->has_dst) {
		tz_rule_events(r, t, ev);
		/* Before all ten (impossible for sane rules): standard. */
		for (i = 0; i < TZ_RULE_EVENTS && ev[i].at <= t; i++)
			dst = ev[i].dst;
	}
	st->utoff = dst ? r->dst_off : r->std_off;
	st->isdst = dst;
	st->abbr = dst ? r->dst_abbr : r->std_abbr;
}

/* --- lookups ------------------------------------------------------------- */

static bool
tz_in_rule(const struct tz *tz, int64_t t)
{
	return tz->has_rule &&
	       (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]);
}

static void
tz_state(const struct tz *tz, int64_t t, struct tz_state *st)
{
	const struct tz_type *ty;
	size_t lo, hi, mid;

	if (tz_in_rule(tz, t)) {
		tz_rule_state(&tz->rule, t, st);
		return;
	}
	if (tz->ntrans == 0 || t < tz->trans[0]) {
		ty = &tz->types[0];
	} else {
		/* The last transition at or before t. */
		lo = 0;
		hi = tz->ntrans;
		while (hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if (tz->trans[mid] <= t)
				lo = mid;
			else
				hi = mid;
		}
		ty = &tz->types[tz->trans_type[lo]];
	}
	st->utoff = ty->utoff;
	st->isdst = ty->isdst;
	st->abbr = tz->abbrs + ty->abbr;
}

int32_t
tz_offset(const struct tz *tz, int64_t t)
{
	struct tz_state st;

	tz_state(tz, tz_clamp(t), &st);
	return st.utoff;
}

void
tz_localtime(const struct tz *tz, int64_t t, struct tm *out)
{
	struct tz_state st;
	int64_t local, days, secs, year;
	int month, day;

	t = tz_clamp(t);
	tz_state(tz, t, &st);
	local = t + st.utoff;
	days = tz_floordiv(local, TZ_DAY);
	secs = local - days * TZ_DAY;
	tz_civil_from_days(days, &year, &month, &day);
	memset(out, 0, sizeof *out);
	out->tm_sec = (int)(secs % 60);
	out->tm_min = (int)(secs / 60 % 60);
	out->tm_hour = (int)(secs / TZ_HOUR);
	out->tm_mday = day;
	out->tm_mon = month - 1;
	out->tm_year = (int)(year - 1900);
	out->tm_wday = tz_weekday(days);
	out->tm_yday = (int)(days - tz_days_from_civil(year, 1, 1));
	out->tm_isdst = st.isdst;
	out->tm_gmtoff = st.utoff;
	out->tm_zone = st.abbr;
}

/* The next instant after t at which anything may change; INT64_MAX: none. */
static int64_t
tz_next_event(const struct tz *tz, int64_t t)
{
	struct tz_rule_event ev[TZ_RULE_EVENTS];
	size_t lo, hi, mid;
	int i;

	if (tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1]) {
		/* The first transition after t. */
		lo = 0;
		hi = tz->ntrans - 1;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (tz->trans[mid] > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		return tz->trans[lo];
	}
	if (!tz->has_rule || !tz->rule.has_dst)
		return INT64_MAX;
	tz_rule_events(&tz->rule, t, ev);
	for (i = 0; i < TZ_RULE_EVENTS; i++) {
		if (ev[i].at > t)
			return ev[i].at;
	}
	/* Rule times can shift an event by a week at most: look a year on. */
	return t + 366 * TZ_DAY;
}

int64_t
tz_next_transition(const struct tz *tz, int64_t t)
{
	int64_t cur, next, rule_from;
	int32_t off;

	t = tz_clamp(t);
	off = tz_offset(tz, t);
	rule_from = tz->ntrans > 0 && tz->trans[tz->ntrans - 1] > t
	                ? tz->trans[tz->ntrans - 1]
	                : t;
	for (cur = t;; cur = next) {
		next = tz_next_event(tz, cur);
		if (next == INT64_MAX || next > TZ_TIME_MAX)
			return INT64_MAX;
		if (tz_offset(tz, next) != off)
			return next;
		/* A rule whose events keep the offset for years never will
		 * change it (DST all year, or DST of no length). */
		if (next >= rule_from && next - rule_from > 3 * 366 * TZ_DAY)
			return INT64_MAX;
	}
}

/* --- TZif files ---------------------------------------------------------- */

struct tz_reader {
	const uint8_t *p;
	size_t left;
};

static const uint8_t *
tz_take(struct tz_reader *rd, size_t n)
{
	const uint8_t *p;

	if (rd->left < n)
		return NULL;
	p = rd->p;
	rd->p += n;
	rd->left -= n;
	return p;
}

static uint32_t
tz_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t
tz_be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)tz_be32(p) << 32 | tz_be32(p + 4));
}

struct tz_header {
	char version; /* 0, '2', '3' or '4' */
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static const char *
tz_read_header(struct tz_reader *rd, struct tz_header *h)
{
	const uint8_t *p;

	if (rd->left >= 4 && memcmp(rd->p, "TZif", 4) != 0)
		return "not a TZif file (bad magic)";
	if ((p = tz_take(rd, TZ_HEADER_LEN)) == NULL)
		return "truncated TZif header";
	h->version = (char)p[4];
	if (h->version != 0 && h->version != '2' && h->version != '3' &&
	    h->version != '4')
		return "unsupported TZif version";
	h->isutcnt = tz_be32(p + 20);
	h->isstdcnt = tz_be32(p + 24);
	h->leapcnt = tz_be32(p + 28);
	h->timecnt = tz_be32(p + 32);
	h->typecnt = tz_be32(p + 36);
	h->charcnt = tz_be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256)
		return "bad TZif header (type count)";
	if (h->charcnt == 0)
		return "bad TZif header (no abbreviations)";
	if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return "bad TZif header (indicator counts)";
	if (h->timecnt > TZ_FILE_MAX || h->charcnt > TZ_FILE_MAX ||
	    h->leapcnt > TZ_FILE_MAX)
		return "truncated TZif data";
	return NULL;
}

static size_t
tz_block_len(const struct tz_header *h, size_t timesize)
{
	return h->timecnt * (timesize + 1) + h->typecnt * 6 + h->charcnt +
	       h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

/* Read the data block that follows h into tz; NULL or the problem. */
static const char *
tz_read_block(struct tz_reader *rd, const struct tz_header *h, size_t timesize,
    struct tz *tz)
{
	const uint8_t *p;
	uint32_t i;

	if (rd->left < tz_block_len(h, timesize))
		return "truncated TZif data";
	if (h->leapcnt != 0)
		return "leap-second zones (\"right/\") are not supported";
	tz->ntrans = h->timecnt;
	tz->ntypes = h->typecnt;
	if (h->timecnt > 0) {
		tz->trans = xcalloc(h->timecnt, sizeof *tz->trans);
		tz->trans_type = xcalloc(h->timecnt, 1);
	}
	tz->types = xcalloc(h->typecnt, sizeof *tz->types);
	tz->abbrs = xmalloc(h->charcnt + 1);
	p = tz_take(rd, h->timecnt * timesize);
	for (i = 0; i < h->timecnt; i++) {
		tz->trans[i] = timesize == 8 ? tz_be64(p + 8 * i)
		                             : (int32_t)tz_be32(p + 4 * i);
		if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
			return "transition times are not ascending";
	}
	p = tz_take(rd, h->timecnt);
	for (i = 0; i < h->timecnt; i++) {
		if (p[i] >= h->typecnt)
			return "transition type index out of range";
		tz->trans_type[i] = p[i];
	}
	p = tz_take(rd, h->typecnt * 6);
	for (i = 0; i < h->typecnt; i++, p += 6) {
		tz->types[i].utoff = (int32_t)tz_be32(p);
		if (tz->types[i].utoff < -89999 || tz->types[i].utoff > 93599)
			return "UTC offset out of range";
		if (p[4] > 1)
			return "bad DST flag";
		tz->types[i].isdst = p[4];
		if (p[5] >= h->charcnt)
			return "abbreviation index out of range";
		tz->types[i].abbr = p[5];
	}
	p = tz_take(rd, h->charcnt);
	memcpy(tz->abbrs, p, h->charcnt);
	tz->abbrs[h->charcnt] = '\0';
	p = tz_take(rd, h->isstdcnt + h->isutcnt);
	for (i = 0; i < h->isstdcnt + h->isutcnt; i++) {
		if (p[i] > 1)
			return "bad standard/UT indicator";
	}
	return NULL;
}

struct tz *
tz_load_tzif(
    const void *buf, size_t len, const char *name, char *err, size_t errlen)
{
	struct tz_reader rd = {buf, len};
	struct tz_header h;
	struct tz *tz;
	const char *problem, *nl;
	char footer[256], rule_err[200], q[80];
	size_t flen;

	tz = xcalloc(1, sizeof *tz);
	tz->name = xstrdup(name);
	if ((problem = tz_read_header(&rd, &h)) != NULL)
		goto bad;
	if (h.version == 0) {
		if ((problem = tz_read_block(&rd, &h, 4, tz)) != NULL)
			goto bad;
		return tz;
	}
	/* Version 2+: the 32-bit block is only skipped (RFC 8536 3.1); a
	 * second header and block with 64-bit times follow, then a footer
	 * "\nRULE\n". */
	problem = "truncated TZif data";
	if (tz_take(&rd, tz_block_len(&h, 4)) == NULL)
		goto bad;
	if ((problem = tz_read_header(&rd, &h)) != NULL)
		goto bad;
	if ((problem = tz_read_block(&rd, &h, 8, tz)) != NULL)
		goto bad;
	problem = "truncated TZif footer";
	if (rd.left < 2 || rd.p[0] != '\n')
		goto bad;
	nl = memchr(rd.p + 1, '\n', rd.left - 1);
	if (nl == NULL)
		goto bad;
	flen = (size_t)(nl - (const char *)rd.p - 1);
	problem = "TZif footer too long";
	if (flen >= sizeof footer)
		goto bad;
	memcpy(footer, rd.p + 1, flen);
	footer[flen] = '\0';
	problem = "NUL byte in TZif footer";
	if (strlen(footer) != flen)
		goto bad;
	if (flen > 0) {
		if (tz_parse_rule(
		        footer, &tz->rule, rule_err, sizeof rule_err) == -1) {
			tz_quote(q, sizeof q, name);
			tz_error(err, errlen,
			    "time zone \"%s\": TZif footer: %s", q, rule_err);
			tz_free(tz);
			return NULL;
		}
		tz->has_rule = true;
	}
	return tz;
bad:
	tz_quote(q, sizeof q, name);
	tz_error(err, errlen, "time zone \"%s\": %s", q, problem);
	tz_free(tz);
	return NULL;
}

struct tz *
tz_load_file(const char *path, const char *name, char *err, size_t errlen)
{
	struct tz *tz;
	struct stat sb;
	uint8_t *buf;
	size_t got;
	ssize_t n = 0;
	int fd, saved;
	char q[80];

	tz_quote(q, sizeof q, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		saved = errno;
		tz_error(err, errlen, "time zone \"%s\": %s: %s", q, path,
		    strerror(saved));
		errno = saved;
		return NULL;
	}
	if (fstat(fd, &sb) == -1) {
		saved = errno;
		close(fd);
		tz_error(err, errlen, "time zone \"%s\": %s: %s", q, path,
		    strerror(saved));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > TZ_FILE_MAX) {
		close(fd);
		tz_error(err, errlen, "time zone \"%s\": %s: %s", q, path,
		    S_ISDIR(sb.st_mode)   ? "a directory, not a zone"
		    : S_ISREG(sb.st_mode) ? "too large for a TZif file"
		                          : "not a regular file");
		return NULL;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	for (got = 0; got < (size_t)sb.st_size; got += (size_t)n) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	saved = errno;
	close(fd);
	if (got < (size_t)sb.st_size && n == -1) {
		free(buf);
		tz_error(err, errlen, "time zone \"%s\": %s: %s", q, path,
		    strerror(saved));
		return NULL;
	}
	tz = tz_load_tzif(buf, got, name, err, errlen);
	free(buf);
	return tz;
}

/* A zone from a rule string alone. */
static struct tz *
tz_from_rule(const char *rule, const char *name, char *err, size_t errlen)
{
	struct tz *tz;

	tz = xcalloc(1, sizeof *tz);
	if (tz_parse_rule(rule, &tz->rule, err, errlen) == -1) {
		free(tz);
		return NULL;
	}
	tz->name = xstrdup(name);
	tz->has_rule = true;
	return tz;
}

/*
 * Is name a safe zone name: a relative path of [A-Za-z0-9._+-] components,
 * none empty, "." or "..", or such a path under TZ_ZONEINFO_DIR?  Returns
 * the relative part, or NULL with the reason in *why.
 */
static const char *
tz_check_name(const char *name, const char **why)
{
	const char *rel = name, *p, *comp;
	size_t dirlen = strlen(TZ_ZONEINFO_DIR);

	if (strlen(name) > TZ_NAME_MAX) {
		*why = "name too long";
		return NULL;
	}
	if (strstr(name, "..") != NULL) {
		*why = "\"..\" is not allowed in a zone name";
		return NULL;
	}
	if (name[0] == '/') {
		if (strncmp(name, TZ_ZONEINFO_DIR, dirlen) != 0 ||
		    name[dirlen] != '/') {
			*why = "absolute path outside " TZ_ZONEINFO_DIR;
			return NULL;
		}
		rel = name + dirlen + 1;
	}
	for (p = comp = rel;; p++) {
		if (*p == '/' || *p == '\0') {
			if (p == comp || (p - comp == 1 && *comp == '.')) {
				*why = "empty or \".\" path component";
				return NULL;
			}
			if (*p == '\0')
				return rel;
			comp = p + 1;
		} else if (!isalnum((unsigned char)*p) && *p != '_' &&
		           *p != '-' && *p != '+' && *p != '.') {
			*why = "bad character in zone name";
			return NULL;
		}
	}
}

/* Does s look like a rule string rather than a zone name? */
static bool
tz_looks_like_rule(const char *s)
{
	return strpbrk(s, "<,") != NULL ||
	       (strchr(s, '/') == NULL && strpbrk(s, "0123456789") != NULL);
}

static struct tz *
tz_load_named(const char *name, char *err, size_t errlen)
{
	struct tz *tz;
	const char *rel, *why;
	char *path, q[80];
	int saved;

	tz_quote(q, sizeof q, name);
	if ((rel = tz_check_name(name, &why)) == NULL) {
		if (tz_looks_like_rule(name))
			return tz_from_rule(name, name, err, errlen);
		tz_error(err, errlen, "time zone \"%s\": %s", q, why);
		return NULL;
	}
	xasprintf(&path, "%s/%s", TZ_ZONEINFO_DIR, rel);
	tz = tz_load_file(path, name, err, errlen);
	saved = errno;
	if (tz == NULL && (saved == ENOENT || saved == ENOTDIR)) {
		if (tz_looks_like_rule(name))
			tz = tz_from_rule(name, name, err, errlen);
		else
			tz_error(err, errlen,
			    "unknown time zone \"%s\" (no %s)", q, path);
		saved = errno;
	}
	free(path);
	errno = saved;
	return tz;
}

/* The local zone: $TZ, else /etc/localtime, else UTC. */
static struct tz *
tz_load_local(char *err, size_t errlen)
{
	const char *env, *zi;
	char link[512], *name;
	struct tz *tz;
	ssize_t n;

	if ((env = getenv("TZ")) != NULL) {
		if (*env == ':')
			env++;
		if (*env == '\0')
			return tz_from_rule("UTC0", "UTC", err, errlen);
		/* The administrator's own setting: any path is fine. */
		if (*env == '/')
			return tz_load_file(env, env, err, errlen);
		return tz_load_named(env, err, errlen);
	}
	if (access(TZ_LOCALTIME, F_OK) == -1 && errno == ENOENT)
		return tz_from_rule("UTC0", "UTC", err, errlen);
	name = xstrdup("localtime");
	n = readlink(TZ_LOCALTIME, link, sizeof link - 1);
	if (n > 0) {
		link[n] = '\0';
		if ((zi = strstr(link, "/zoneinfo/")) != NULL &&
		    zi[10] != '\0') {
			free(name);
			name = xstrdup(zi + 10);
		}
	}
	tz = tz_load_file(TZ_LOCALTIME, name, err, errlen);
	free(name);
	return tz;
}

struct tz *
tz_load(const char *name, char *err, size_t errlen)
{
	if (name == NULL || *name == '\0')
		return tz_load_local(err, errlen);
	if (strcmp(name, "UTC") == 0 &&
	    access(TZ_ZONEINFO_DIR "/UTC", F_OK) == -1)
		return tz_from_rule("UTC0", "UTC", err, errlen);
	return tz_load_named(name, err, errlen);
}

void
tz_free(struct tz *tz)
{
	if (tz == NULL)
		return;
	free(tz->trans);
	free(tz->trans_type);
	free(tz->types);
	free(tz->abbrs);
	free(tz->name);
	free(tz);
}

const char *
tz_name(const struct tz *tz)
{
	return tz->name;
}
