/*
 * check_cron: unit tests for time zones (lib/tz.c) and cron expressions
 * (lib/cron.c).
 *
 * Zones are checked against glibc: here, and only here, TZ is set and
 * localtime_r() gives the reference, for instants from 1900 to 2200 and
 * around every offset change.  Cron's next firing times are checked against
 * literal instants, and against a naive reference that walks minute by
 * minute and knows nothing of cron.c: random expressions are generated
 * together with the sets they stand for.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "cron.h"
#include "tz.h"

/*
 * Check's ck_assert_* reports every passing assertion to the parent
 * process (a write each), too slow for loops of millions: those use this.
 */
#define REQUIRE(expr, ...)                         \
	do {                                       \
		if (!(expr))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

#define DAY 86400
#define YEAR_1900 INT64_C(-2208988800)
#define YEAR_2200 INT64_C(7258118400)

/* "2024-03-31T03:00:00+02:00" or "...Z" -> UTC seconds, via timegm(). */
static int64_t
ts(const char *s)
{
	struct tm tm;
	int n = 0, oh = 0, om = 0, sign = 1;
	char z;

	memset(&tm, 0, sizeof tm);
	ck_assert_int_eq(
	    sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon,
	        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n),
	    6);
	z = s[n];
	if (z == '+' || z == '-') {
		ck_assert_int_eq(sscanf(s + n + 1, "%d:%d", &oh, &om), 2);
		sign = z == '-' ? -1 : 1;
	} else {
		ck_assert_msg(z == 'Z' && s[n + 1] == '\0', "bad time %s", s);
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
}

/* UTC seconds -> "2024-03-31T01:00:00Z", for messages. */
static const char *
fmt_utc(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == -1)
		return "-1";
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* splitmix64: a small deterministic generator. */
static uint64_t
rnd_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int64_t
rnd_range(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd_next(s) % (uint64_t)(hi - lo + 1));
}

static struct tz *
load(const char *name)
{
	char err[256];
	struct tz *tz;

	tz = tz_load(name, err, sizeof err);
	ck_assert_msg(
	    tz != NULL, "tz_load(%s): %s", name ? name : "(local)", err);
	return tz;
}

/* --- tz against glibc ----------------------------------------------------- */

static const char *const glibc_zones[] = {
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", /* DST of 30 minutes */
    "Asia/Kolkata",
    "Pacific/Chatham", /* +12:45 */
    "America/Sao_Paulo",
    "Africa/Casablanca", /* DST suspended for Ramadan */
    "Europe/Dublin",     /* negative DST: winter is "DST" */
    "America/Nuuk",      /* v3 footer, transition at -1:00 */
    "Pacific/Apia",      /* skipped 2011-12-30 */
    "Asia/Tehran",
    "America/St_Johns",
    /* Rule strings alone, no file. */
    "CET-1CEST,M3.5.0,M10.5.0/3",
    "<+0330>-3:30",
    "NZST-12NZDT,M9.5.0,M4.1.0/3",
    "XXX3YYY,J60/1:30,J300",
    "AAA-2BBB-3,59/2,300/3",
    "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
    "PST8PDT,M3.2.0/2:30:15,M11.1.0/26",
};
#define NGLIBC_ZONES (sizeof glibc_zones / sizeof glibc_zones[0])

static void
glibc_set_zone(const char *name)
{
	char buf[300];

	/* ":NAME" makes glibc read the file; a rule string is taken as is. */
	if (strchr(name, ',') != NULL || strchr(name, '<') != NULL)
		snprintf(buf, sizeof buf, "%s", name);
	else
		snprintf(buf, sizeof buf, ":%s", name);
	ck_assert_int_eq(setenv("TZ", buf, 1), 0);
	tzset();
}

/* Compare tz_localtime with glibc at t; glibc's offset. */
static long
compare_glibc(const struct tz *tz, int64_t t)
{
	struct tm want, got;
	time_t tt = (time_t)t;
	char buf[40];

	REQUIRE(localtime_r(&tt, &want) != NULL, "localtime_r failed");
	tz_localtime(tz, t, &got);
	REQUIRE(
	    want.tm_gmtoff == got.tm_gmtoff && want.tm_isdst == got.tm_isdst &&
	        want.tm_sec == got.tm_sec && want.tm_min == got.tm_min &&
	        want.tm_hour == got.tm_hour && want.tm_mday == got.tm_mday &&
	        want.tm_mon == got.tm_mon && want.tm_year == got.tm_year &&
	        want.tm_wday == got.tm_wday && want.tm_yday == got.tm_yday &&
	        strcmp(want.tm_zone, got.tm_zone) == 0,
	    "%s at %s (%lld): glibc %04d-%02d-%02d %02d:%02d:%02d off %ld "
	    "dst %d %s wday %d yday %d, tz %04d-%02d-%02d %02d:%02d:%02d "
	    "off %ld dst %d %s wday %d yday %d",
	    tz_name(tz), fmt_utc(t, buf, sizeof buf), (long long)t,
	    want.tm_year + 1900, want.tm_mon + 1, want.tm_mday, want.tm_hour,
	    want.tm_min, want.tm_sec, want.tm_gmtoff, want.tm_isdst,
	    want.tm_zone, want.tm_wday, want.tm_yday, got.tm_year + 1900,
	    got.tm_mon + 1, got.tm_mday, got.tm_hour, got.tm_min, got.tm_sec,
	    got.tm_gmtoff, got.tm_isdst, got.tm_zone, got.tm_wday, got.tm_yday);
	return want.tm_gmtoff;
}

static long
glibc_offset(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	REQUIRE(localtime_r(&tt, &tm) != NULL, "localtime_r failed");
	return tm.tm_gmtoff;
}

START_TEST(test_tz_glibc)
{
	const char *name = glibc_zones[_i];
	struct tz *tz;
	uint64_t seed = 0x1234 + (uint64_t)_i;
	int64_t t, next, off, prev_off, from = YEAR_1900;
	int i, changes = 0;

	tz = load(name);
	ck_assert_str_eq(tz_name(tz), name);
	glibc_set_zone(name);
	/* glibc applies a rule string's DST only from 1971 on. */
	if (strchr(name, ',') != NULL)
		from = ts("1971-01-01T00:00:00Z");

	/* Every 7 hours (so every hour of the day comes up), 1900-2200; no
	 * offset change between two samples may go unnoticed. */
	prev_off = glibc_offset(from);
	for (t = from; t < YEAR_2200; t += 7 * 3600 + 17) {
		off = compare_glibc(tz, t);
		if (off != prev_off) {
			next = tz_next_transition(tz, t - 7 * 3600 - 17);
			REQUIRE(next <= t,
			    "%s: offset change before %lld not found", name,
			    (long long)t);
		}
		prev_off = off;
	}
	/* Random instants. */
	for (i = 0; i < 20000; i++)
		compare_glibc(tz, rnd_range(&seed, from, YEAR_2200));
	/* Around every offset change tz reports: one second either side. */
	for (t = from;; t = next) {
		next = tz_next_transition(tz, t);
		ck_assert_int_gt(next, t);
		if (next >= YEAR_2200)
			break;
		changes++;
		ck_assert_int_ne(tz_offset(tz, next - 1), tz_offset(tz, next));
		ck_assert_int_eq(
		    glibc_offset(next - 1), tz_offset(tz, next - 1));
		compare_glibc(tz, next - 1);
		compare_glibc(tz, next);
		compare_glibc(tz, next + 1);
		compare_glibc(tz, next + 1799);
		compare_glibc(tz, next - 1801);
	}
	if (strcmp(name, "UTC") == 0 || strcmp(name, "<+0330>-3:30") == 0)
		ck_assert_int_eq(changes, 0);
	else
		ck_assert_int_gt(changes, 0);
	tz_free(tz);
}
END_TEST

/*
 * DST all year (RFC 8536 3.3.1): the rule's end and the next start are the
 * same instant.  glibc reads such a rule in UTC years and shows standard
 * time for the first hours of each, so these are checked on their own.
 */
START_TEST(test_tz_all_year_dst)
{
	static const char *const rules[] = {
	    "EST5EDT,0/0,J365/25", "WART4WARST,J1/0,J365/25"};
	static const int32_t offsets[] = {-4 * 3600, -3 * 3600};
	struct tz *tz;
	struct tm tm;
	int64_t t;
	size_t i;

	for (i = 0; i < 2; i++) {
		tz = load(rules[i]);
		for (t = YEAR_1900; t < YEAR_2200; t += 3 * 3600 + 1) {
			tz_localtime(tz, t, &tm);
			REQUIRE(tm.tm_gmtoff == offsets[i] && tm.tm_isdst == 1,
			    "%s at %lld: offset %ld dst %d", rules[i],
			    (long long)t, tm.tm_gmtoff, tm.tm_isdst);
		}
		ck_assert_int_eq(tz_next_transition(tz, 0), INT64_MAX);
		tz_free(tz);
	}
}
END_TEST

/* Far outside 1900-2200 only the arithmetic matters: no crash, sane. */
START_TEST(test_tz_extremes)
{
	static const int64_t instants[] = {INT64_MIN, TZ_TIME_MIN - 1,
	    TZ_TIME_MIN, -INT64_C(62135596800), 0, INT64_C(253402300799),
	    TZ_TIME_MAX, INT64_MAX};
	struct tz *tz = load("Europe/Berlin");
	struct tm tm;
	size_t i;

	for (i = 0; i < sizeof instants / sizeof instants[0]; i++) {
		tz_localtime(tz, instants[i], &tm);
		ck_assert_int_ge(tm.tm_mon, 0);
		ck_assert_int_le(tm.tm_mon, 11);
		ck_assert_int_ge(tm.tm_mday, 1);
		ck_assert_int_le(tm.tm_mday, 31);
		ck_assert(
		    tz_next_transition(tz, instants[i]) >
		    (instants[i] > TZ_TIME_MAX ? TZ_TIME_MAX : instants[i]));
	}
	tz_localtime(tz, 0, &tm);
	ck_assert_int_eq(tm.tm_year, 70);
	ck_assert_int_eq(tm.tm_hour, 1);
	ck_assert_str_eq(tm.tm_zone, "CET");
	/* Year 1 and 9999 (0001-01-01 was a Monday). */
	tz_localtime(tz, -INT64_C(62135596800) + 3600, &tm);
	ck_assert_int_eq(tm.tm_year + 1900, 1);
	ck_assert_int_eq(tm.tm_mon, 0);
	ck_assert_int_eq(tm.tm_mday, 1);
	ck_assert_int_eq(tm.tm_wday, 1);
	tz_localtime(tz, INT64_C(253402300799) - 3600, &tm);
	ck_assert_int_eq(tm.tm_year + 1900, 9999);
	ck_assert_int_eq(tm.tm_yday, 364);
	ck_assert_int_eq(tm.tm_hour, 23);
	tz_free(tz);
}
END_TEST

START_TEST(test_tz_civil)
{
	int64_t d, y;
	int m, day;

	/* Every day in 1600-2400 round-trips and matches glibc's timegm. */
	for (d = -135140; d <= 157419; d++) {
		struct tm tm;
		time_t tt = (time_t)(d * DAY);

		tz_civil_from_days(d, &y, &m, &day);
		gmtime_r(&tt, &tm);
		REQUIRE(y == tm.tm_year + 1900 && m == tm.tm_mon + 1 &&
		            day == tm.tm_mday &&
		            tz_days_from_civil(y, m, day) == d,
		    "day %lld: %lld-%d-%d", (long long)d, (long long)y, m, day);
	}
	ck_assert_int_eq(tz_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(tz_days_from_civil(1969, 12, 31), -1);
}
END_TEST

/* --- tz: names, the local zone, bad files ----------------------------------
 */

static const struct {
	const char *name;
	const char *msg; /* a part of the error */
} bad_names[] = {
    {"../etc/passwd", "\"..\" is not allowed"},
    {"Europe/../../etc/passwd", "\"..\" is not allowed"},
    {"/etc/passwd", "absolute path outside /usr/share/zoneinfo"},
    {"/usr/share/zoneinfo/../../../etc/passwd", "\"..\""},
    {"/usr/share/zoneinfoX/UTC", "absolute path outside"},
    {"Nowhere/Atlantis", "unknown time zone \"Nowhere/Atlantis\""},
    {"Europe/Berlln", "unknown time zone \"Europe/Berlln\""},
    {"Europe", "a directory, not a zone"},
    {"Europe//Berlin", "empty or \".\" path component"},
    {"./UTC", "empty or \".\" path component"},
    {"Europe/", "empty or \".\" path component"},
    {"Europe/Ber lin", "bad character in zone name"},
    {"Europe/Ber\nlin", "bad character in zone name"},
    {"zone.tab", "not a TZif file (bad magic)"},
    {"right/Europe/Berlin", "leap-second zones"},
    {"CET-1CEST,M3.5.0", "bad TZ rule string \"CET-1CEST,M3.5.0\": "
                         "expected a DST end rule"},
    {"CET-1CEST,M13.5.0,M10.5.0", "expected a DST start rule"},
    {"<+0330>-3:30x", "expected a DST abbreviation"},
    {"CET-25", "expected a UTC offset"},
    {"AB1", "expected a standard time abbreviation"},
    {"EST5EDT,M3.2.0/168,M11.1.0", "expected a DST start rule"},
    {"EST5EDT,J0,J365", "expected a DST start rule"},
    {"EST5EDT,366,0", "expected a DST start rule"},
    {"EST5EDT,M3.6.0,M11.1.0", "expected a DST start rule"},
    {"EST5EDT,M3.2.7,M11.1.0", "expected a DST start rule"},
    {"EST5EDT,M3.2.0,M11.1.0,", "expected the end of the string"},
};

START_TEST(test_tz_bad_name)
{
	char err[256];
	struct tz *tz;

	err[0] = '\0';
	errno = 0;
	tz = tz_load(bad_names[_i].name, err, sizeof err);
	ck_assert_msg(tz == NULL, "%s loaded", bad_names[_i].name);
	ck_assert_int_ne(errno, 0);
	ck_assert_msg(strstr(err, bad_names[_i].msg) != NULL,
	    "%s: got \"%s\", want \"%s\"", bad_names[_i].name, err,
	    bad_names[_i].msg);
}
END_TEST

START_TEST(test_tz_names)
{
	char err[256], longname[400];
	struct tz *tz;

	/* A path inside the zoneinfo directory is fine. */
	tz = load("/usr/share/zoneinfo/Asia/Kolkata");
	ck_assert_int_eq(tz_offset(tz, ts("2024-01-01T00:00:00Z")), 19800);
	tz_free(tz);
	tz = load("Etc/GMT+5");
	ck_assert_int_eq(tz_offset(tz, 0), -5 * 3600);
	ck_assert_int_eq(tz_next_transition(tz, 0), INT64_MAX);
	tz_free(tz);
	/* A legacy name with digits is a file first. */
	tz = load("EST5EDT");
	ck_assert_int_eq(tz_offset(tz, ts("2024-07-01T00:00:00Z")), -4 * 3600);
	tz_free(tz);
	tz = load("UTC");
	ck_assert_int_eq(tz_offset(tz, 0), 0);
	ck_assert_int_eq(tz_next_transition(tz, 0), INT64_MAX);
	tz_free(tz);

	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_ptr_null(tz_load(longname, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "name too long"));
	/* A NULL buffer is fine. */
	ck_assert_ptr_null(tz_load("../x", NULL, 0));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_tz_local)
{
	struct tz *tz;
	int64_t t = ts("2024-07-01T12:00:00Z");
	char err[256];

	ck_assert_int_eq(setenv("TZ", ":Europe/Berlin", 1), 0);
	tz = load(NULL);
	ck_assert_str_eq(tz_name(tz), "Europe/Berlin");
	ck_assert_int_eq(tz_offset(tz, t), 7200);
	tz_free(tz);

	ck_assert_int_eq(setenv("TZ", "Asia/Kolkata", 1), 0);
	tz = load("");
	ck_assert_str_eq(tz_name(tz), "Asia/Kolkata");
	ck_assert_int_eq(tz_offset(tz, t), 19800);
	tz_free(tz);

	ck_assert_int_eq(setenv("TZ", "<+0330>-3:30", 1), 0);
	tz = load(NULL);
	ck_assert_int_eq(tz_offset(tz, t), 12600);
	tz_free(tz);

	/* $TZ is trusted: a path anywhere is fine. */
	ck_assert_int_eq(
	    setenv("TZ", ":/usr/share/zoneinfo/America/New_York", 1), 0);
	tz = load(NULL);
	ck_assert_int_eq(tz_offset(tz, t), -4 * 3600);
	tz_free(tz);

	ck_assert_int_eq(setenv("TZ", "", 1), 0);
	tz = load(NULL);
	ck_assert_str_eq(tz_name(tz), "UTC");
	ck_assert_int_eq(tz_offset(tz, t), 0);
	tz_free(tz);

	ck_assert_int_eq(setenv("TZ", "Mars/Olympus_Mons", 1), 0);
	ck_assert_ptr_null(tz_load(NULL, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "unknown time zone"));

	/* No $TZ: /etc/localtime (or UTC), as glibc sees it. */
	ck_assert_int_eq(unsetenv("TZ"), 0);
	tzset();
	tz = load(NULL);
	ck_assert(strlen(tz_name(tz)) > 0);
	for (t = YEAR_1900; t < YEAR_2200; t += 7 * DAY + 3607)
		REQUIRE(tz_offset(tz, t) == glibc_offset(t),
		    "local zone at %lld", (long long)t);
	tz_free(tz);
}
END_TEST

/* A TZif image built here; version 0 writes version 1 data only. */
struct syn_type {
	int32_t utoff;
	uint8_t isdst, abbr;
};

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *
syn_block(uint8_t *p, char version, int timesize, const int64_t *trans,
    const uint8_t *idx, uint32_t ntrans, const struct syn_type *types,
    uint32_t ntypes, const char *abbrs, uint32_t nchars, uint32_t leapcnt)
{
	uint32_t i;

	memcpy(p, "TZif", 4);
	p[4] = (uint8_t)version;
	memset(p + 5, 0, 15);
	p += 20;
	p = put32(p, ntypes); /* isutcnt */
	p = put32(p, ntypes); /* isstdcnt */
	p = put32(p, leapcnt);
	p = put32(p, ntrans);
	p = put32(p, ntypes);
	p = put32(p, nchars);
	for (i = 0; i < ntrans; i++) {
		if (timesize == 8)
			p = put32(p, (uint32_t)((uint64_t)trans[i] >> 32));
		p = put32(p, (uint32_t)trans[i]);
	}
	for (i = 0; i < ntrans; i++)
		*p++ = idx[i];
	for (i = 0; i < ntypes; i++) {
		p = put32(p, (uint32_t)types[i].utoff);
		*p++ = types[i].isdst;
		*p++ = types[i].abbr;
	}
	memcpy(p, abbrs, nchars);
	p += nchars;
	for (i = 0; i < leapcnt; i++) {
		if (timesize == 8)
			p = put32(p, 0);
		p = put32(p, 78796800u + i);
		p = put32(p, i + 1);
	}
	memset(p, 0, 2 * ntypes);
	return p + 2 * ntypes;
}

/* EST until 10^6, EDT until 2*10^6, then EST; footer if version >= 2. */
static size_t
syn_tzif(uint8_t *buf, char version, const char *footer, uint32_t leapcnt)
{
	static const int64_t trans[] = {1000000, 2000000};
	static const uint8_t idx[] = {1, 0};
	static const struct syn_type types[] = {{-18000, 0, 0}, {-14400, 1, 4}};
	static const char abbrs[] = "EST\0EDT";
	uint8_t *p;

	p = syn_block(
	    buf, version, 4, trans, idx, 2, types, 2, abbrs, 8, leapcnt);
	if (version == 0)
		return (size_t)(p - buf);
	p = syn_block(
	    p, version, 8, trans, idx, 2, types, 2, abbrs, 8, leapcnt);
	*p++ = '\n';
	memcpy(p, footer, strlen(footer));
	p += strlen(footer);
	*p++ = '\n';
	return (size_t)(p - buf);
}

START_TEST(test_tz_tzif_versions)
{
	uint8_t buf[1024];
	char err[256];
	struct tz *tz;
	struct tm tm;
	size_t len;
	const char versions[] = {'2', '3', '4'};
	int i;

	/* Version 1: after the last transition, its type stays. */
	len = syn_tzif(buf, 0, "", 0);
	tz = tz_load_tzif(buf, len, "v1", err, sizeof err);
	ck_assert_msg(tz != NULL, "%s", err);
	ck_assert_int_eq(tz_offset(tz, -1000000000), -18000);
	ck_assert_int_eq(tz_offset(tz, 999999), -18000);
	tz_localtime(tz, 1000000, &tm);
	ck_assert_int_eq(tm.tm_gmtoff, -14400);
	ck_assert_int_eq(tm.tm_isdst, 1);
	ck_assert_str_eq(tm.tm_zone, "EDT");
	ck_assert_int_eq(tz_offset(tz, 1999999), -14400);
	ck_assert_int_eq(tz_offset(tz, 2000000), -18000);
	ck_assert_int_eq(tz_offset(tz, ts("2024-07-01T00:00:00Z")), -18000);
	ck_assert_int_eq(tz_next_transition(tz, 0), 1000000);
	ck_assert_int_eq(tz_next_transition(tz, 1000000), 2000000);
	ck_assert_int_eq(tz_next_transition(tz, 2000000), INT64_MAX);
	tz_free(tz);

	/* Versions 2-4: the footer governs after the last transition. */
	for (i = 0; i < 3; i++) {
		len = syn_tzif(buf, versions[i], "EST5EDT,M3.2.0,M11.1.0", 0);
		tz = tz_load_tzif(buf, len, "v2+", err, sizeof err);
		ck_assert_msg(tz != NULL, "%s", err);
		ck_assert_int_eq(tz_offset(tz, 1500000), -14400);
		ck_assert_int_eq(tz_offset(tz, 2000000), -18000);
		ck_assert_int_eq(
		    tz_offset(tz, ts("2024-07-01T00:00:00Z")), -14400);
		ck_assert_int_eq(
		    tz_next_transition(tz, ts("2024-07-01T00:00:00Z")),
		    ts("2024-11-03T02:00:00-04:00"));
		tz_free(tz);
	}

	/* A version 3 footer: transition times of -1:00 and over 24 h. */
	len = syn_tzif(buf, '3', "<-02>2<-01>,M3.5.0/-1,M10.5.0/25", 0);
	tz = tz_load_tzif(buf, len, "v3", err, sizeof err);
	ck_assert_msg(tz != NULL, "%s", err);
	/* Last Sunday of March 2030 is the 31st: -1:00 is the 30th 23:00. */
	ck_assert_int_eq(tz_next_transition(tz, ts("2030-01-01T00:00:00Z")),
	    ts("2030-03-30T23:00:00-02:00"));
	/* Last Sunday of October 2030 is the 27th: 25:00 is the 28th 1:00. */
	ck_assert_int_eq(tz_next_transition(tz, ts("2030-06-01T00:00:00Z")),
	    ts("2030-10-28T01:00:00-01:00"));
	tz_localtime(tz, ts("2030-07-01T00:00:00Z"), &tm);
	ck_assert_str_eq(tm.tm_zone, "-01");
	ck_assert_int_eq(tm.tm_isdst, 1);
	tz_free(tz);

	/* An empty footer: the last type stays. */
	len = syn_tzif(buf, '2', "", 0);
	tz = tz_load_tzif(buf, len, "empty footer", err, sizeof err);
	ck_assert_msg(tz != NULL, "%s", err);
	ck_assert_int_eq(tz_offset(tz, ts("2024-07-01T00:00:00Z")), -18000);
	tz_free(tz);
}
END_TEST

START_TEST(test_tz_tzif_bad)
{
	uint8_t buf[1024], copy[1024];
	char err[256], path[64];
	struct tz *tz;
	size_t len, cut;
	FILE *f;
	int fd, v;

	/* Every proper prefix of a good file is refused. */
	len = syn_tzif(buf, '2', "EST5EDT,M3.2.0,M11.1.0", 0);
	for (cut = 0; cut < len; cut++) {
		err[0] = '\0';
		tz = tz_load_tzif(buf, cut, "cut", err, sizeof err);
		ck_assert_msg(tz == NULL, "prefix of %zu bytes loaded", cut);
		ck_assert_msg(strstr(err, "truncated") != NULL,
		    "prefix %zu: %s", cut, err);
	}

#define EXPECT_BAD(what)                                              \
	do {                                                          \
		err[0] = '\0';                                        \
		ck_assert_ptr_null(                                   \
		    tz_load_tzif(copy, len, "bad", err, sizeof err)); \
		ck_assert_msg(strstr(err, what) != NULL,              \
		    "got \"%s\", want "                               \
		    "\"%s\"",                                         \
		    err, what);                                       \
	} while (0)

	/* Broken headers and data blocks, in a version 1 file (one block at
	 * 44) and a version 2 file (its second header at 78, block at 122,
	 * with 8-byte times). */
	for (v = 0; v < 2; v++) {
		static const struct {
			char version;
			size_t hdr, blk, trans2, idx, utoff, isdst, abbr, isstd;
		} lay[] = {
		    {0, 0, 44, 4, 8, 10, 14, 15, 30},
		    {'2', 78, 122, 8, 16, 18, 22, 23, 38},
		};
		size_t h = lay[v].hdr, b = lay[v].blk;

		len = syn_tzif(buf, lay[v].version, "EST5", 0);
		memcpy(copy, buf, len);
		copy[h] = 'X';
		EXPECT_BAD("time zone \"bad\": not a TZif file (bad magic)");
		memcpy(copy, buf, len);
		copy[h + 4] = '5';
		EXPECT_BAD("unsupported TZif version");
		memcpy(copy, buf, len);
		copy[h + 39] = 0; /* typecnt */
		EXPECT_BAD("type count");
		memcpy(copy, buf, len);
		copy[h + 43] = 0; /* charcnt */
		EXPECT_BAD("no abbreviations");
		memcpy(copy, buf, len);
		copy[h + 23] = 1; /* isutcnt */
		EXPECT_BAD("indicator counts");
		memcpy(copy, buf, len);
		copy[b + lay[v].trans2] = 0x80; /* second before the first */
		EXPECT_BAD("transition times are not ascending");
		memcpy(copy, buf, len);
		copy[b + lay[v].idx] = 7;
		EXPECT_BAD("transition type index out of range");
		memcpy(copy, buf, len);
		copy[b + lay[v].utoff] = 0x7f;
		EXPECT_BAD("UTC offset out of range");
		memcpy(copy, buf, len);
		copy[b + lay[v].isdst] = 2;
		EXPECT_BAD("bad DST flag");
		memcpy(copy, buf, len);
		copy[b + lay[v].abbr] = 8;
		EXPECT_BAD("abbreviation index out of range");
		memcpy(copy, buf, len);
		copy[b + lay[v].isstd] = 3;
		EXPECT_BAD("bad standard/UT indicator");
	}
	/* Readers skip the 32-bit block of a version 2+ file (RFC 8536). */
	len = syn_tzif(copy, '2', "EST5", 0);
	copy[44 + 8] = 7;
	tz = tz_load_tzif(copy, len, "v1 block ignored", err, sizeof err);
	ck_assert_msg(tz != NULL, "%s", err);
	tz_free(tz);

	len = syn_tzif(copy, '2', "EST5EDT,M3.2.0", 0);
	EXPECT_BAD("TZif footer: bad TZ rule string \"EST5EDT,M3.2.0\"");
	len = syn_tzif(copy, '2', "not a rule", 0);
	EXPECT_BAD("TZif footer: bad TZ rule string");
	len = syn_tzif(copy, '2', "EST5", 0);
	copy[len - 1] = 'x'; /* no closing newline */
	EXPECT_BAD("truncated TZif footer");
	len = syn_tzif(copy, '2', "EST05", 0);
	copy[len - 3] = '\0';
	EXPECT_BAD("NUL byte in TZif footer");
	len = syn_tzif(copy, '3', "EST5", 1);
	EXPECT_BAD("leap-second zones");
	len = syn_tzif(copy, 0, "", 1);
	EXPECT_BAD("leap-second zones");
	memset(copy, 0, sizeof copy);
	len = sizeof copy;
	EXPECT_BAD("not a TZif file");

	/* The same through a file. */
	snprintf(path, sizeof path, "/tmp/check_cron.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	fputs("garbage, not a zone\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_null(tz_load_file(path, "garbage", err, sizeof err));
	ck_assert_str_eq(
	    err, "time zone \"garbage\": not a TZif file (bad magic)");
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_ptr_null(tz_load_file(path, "empty", err, sizeof err));
	ck_assert_str_eq(err, "time zone \"empty\": truncated TZif header");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_ptr_null(tz_load_file(path, "gone", err, sizeof err));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

/* --- cron: parsing ---------------------------------------------------------
 */

static const struct {
	const char *text;
	const char *msg;
} bad_exprs[] = {
    {"", "expected 5 fields, got 0"},
    {"   ", "expected 5 fields, got 0"},
    {"* * * *", "expected 5 fields, got 4"},
    {"* * * * * *", "expected 5 fields, got 6"},
    {"* * * * * /bin/true", "expected 5 fields, got 6"},
    {"60 * * * *", "minute: 60 is out of range 0-59"},
    {"* 24 * * *", "hour: 24 is out of range 0-23"},
    {"* * 0 * *", "day of month: 0 is out of range 1-31"},
    {"* * 32 * *", "day of month: 32 is out of range 1-31"},
    {"* * * 13 *", "month: 13 is out of range 1-12"},
    {"* * * 0 *", "month: 0 is out of range 1-12"},
    {"* * * * 8", "day of week: 8 is out of range 0-7"},
    {"99999999999999 * * * *", "minute: 99999999999999 is out of range 0-59"},
    {"* * * foo *", "month: unknown name \"foo\""},
    {"* * * january *", "month: unknown name \"january\""},
    {"* * * * mon-funday", "day of week: unknown name \"funday\""},
    {"* * * * jan", "day of week: unknown name \"jan\""},
    {"* * * mon *", "month: unknown name \"mon\""},
    {"x * * * *", "minute: \"x\" is not a number"},
    {"1x * * * *", "minute: \"1x\" is not a number"},
    {"* * jan * *", "day of month: \"jan\" is not a number"},
    {"5-1 * * * *", "minute: range \"5-1\" runs backwards"},
    {"* * * dec-jan *", "month: range \"dec-jan\" runs backwards"},
    {"*/0 * * * *", "minute: step in \"*/0\" is out of range 1-59"},
    {"*/60 * * * *", "minute: step in \"*/60\" is out of range 1-59"},
    {"* */24 * * *", "hour: step in \"*/24\" is out of range 1-23"},
    {"*/ * * * *", "minute: bad step in \"*/\""},
    {"*/x * * * *", "minute: bad step in \"*/x\""},
    {"1-5/2/2 * * * *", "minute: bad item \"1-5/2/2\""},
    {"*-5 * * * *", "minute: bad item \"*-5\""},
    {"1-2-3 * * * *", "minute: bad item \"1-2-3\""},
    {"-5 * * * *", "minute: bad item \"-5\""},
    {"1- * * * *", "minute: bad item \"1-\""},
    {"** * * * *", "minute: bad item \"**\""},
    {"1,,2 * * * *", "minute: empty list item"},
    {"1, * * * *", "minute: empty list item"},
    {",1 * * * *", "minute: empty list item"},
    {"* * * * 1;2", "day of week: bad item \"1;2\""},
    {"@reboot", "@reboot is not supported"},
    {"@often", "unknown shorthand \"@often\""},
    {"@daily 0", "@daily takes no fields"},
    {"0 0 30 2 *", "never fires: day of month \"30\" does not occur in "
                   "month \"2\""},
    {"0 0 31 4,6 *", "never fires: day of month \"31\" does not occur in "
                     "month \"4,6\""},
    {"0 0 30,31 feb *", "never fires"},
    {"0 0 31 apr-jun/2,sep,nov */2", "never fires"},
};

START_TEST(test_cron_bad)
{
	char err[256];
	struct cron_expr *e;

	err[0] = '\0';
	errno = 0;
	e = cron_parse(bad_exprs[_i].text, err, sizeof err);
	ck_assert_msg(e == NULL, "\"%s\" parsed", bad_exprs[_i].text);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strcmp(err, bad_exprs[_i].msg) == 0 ||
	                  (strncmp(bad_exprs[_i].msg, "never fires", 11) == 0 &&
	                      strstr(err, bad_exprs[_i].msg) != NULL),
	    "\"%s\": got \"%s\", want \"%s\"", bad_exprs[_i].text, err,
	    bad_exprs[_i].msg);
}
END_TEST

START_TEST(test_cron_bad_misc)
{
	char err[256], text[400];
	struct cron_expr *e;

	memset(text, '1', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	ck_assert_ptr_null(cron_parse(text, err, sizeof err));
	ck_assert_str_eq(err, "expression is longer than 256 bytes");
	/* Bytes that are not printable come back as '?'. */
	ck_assert_ptr_null(cron_parse("\x01\xff * * * *", err, sizeof err));
	ck_assert_str_eq(err, "minute: bad item \"??\"");
	ck_assert_ptr_null(cron_parse("* * * * *\n*", err, sizeof err));
	errno = 0;
	ck_assert_ptr_null(cron_parse("60 * * * *", NULL, 0));
	ck_assert_int_eq(errno, EINVAL);
	/* Still fine: OR rule, and Feb 29. */
	e = cron_parse("0 0 31 2 mon", err, sizeof err);
	ck_assert_msg(e != NULL, "%s", err);
	cron_free(e);
	e = cron_parse("0 0 29 2 *", err, sizeof err);
	ck_assert_msg(e != NULL, "%s", err);
	cron_free(e);
	cron_free(NULL);
}
END_TEST

static const struct {
	const char *text, *canon;
	bool elapsed;
} canon_exprs[] = {
    {"* * * * *", "* * * * *", true},
    {"  0   9\t* *  MON-FRI ", "0 9 * * mon-fri", false},
    {"0 0 1 JAN,Jul *", "0 0 1 jan,jul *", false},
    {"@DAILY", "@daily", false},
    {"  @Hourly  ", "@hourly", true},
    {"@yearly", "@yearly", false},
    {"@annually", "@annually", false},
    {"@monthly", "@monthly", false},
    {"@weekly", "@weekly", false},
    {"@midnight", "@midnight", false},
    {"*/15 0-23 * * *", "*/15 0-23 * * *", true},
    {"0 0-22,23 * * *", "0 0-22,23 * * *", true},
    {"0 */1 * * *", "0 */1 * * *", true},
    {"0 */2 * * *", "0 */2 * * *", false},
    {"* 0-22 * * *", "* 0-22 * * *", false},
    {"5/10 1/3 2/10 2/5 1/2", "5/10 1/3 2/10 2/5 1/2", false},
};

START_TEST(test_cron_canon)
{
	char err[256];
	struct cron_expr *e, *again;
	struct tz *tz = load("Europe/Berlin");
	int64_t t;
	int i;

	e = cron_parse(canon_exprs[_i].text, err, sizeof err);
	ck_assert_msg(e != NULL, "%s: %s", canon_exprs[_i].text, err);
	ck_assert_str_eq(cron_text(e), canon_exprs[_i].canon);
	ck_assert_int_eq(cron_is_elapsed(e), canon_exprs[_i].elapsed);
	/* The canonical text is the same expression. */
	again = cron_parse(cron_text(e), err, sizeof err);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(cron_text(again), cron_text(e));
	for (i = 0, t = ts("2024-01-01T00:00:00Z"); i < 50; i++) {
		ck_assert_int_eq(cron_next(again, tz, t), cron_next(e, tz, t));
		t = cron_next(e, tz, t);
	}
	cron_free(again);
	cron_free(e);
	tz_free(tz);
}
END_TEST

/* --- cron: next firing -----------------------------------------------------
 */

static const struct {
	const char *expr, *zone, *after, *want;
} next_cases[] = {
    /* Shorthands. */
    {"@yearly", "UTC", "2024-05-10T12:00:00Z", "2025-01-01T00:00:00Z"},
    {"@annually", "UTC", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"},
    {"@yearly", "UTC", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
    {"@monthly", "UTC", "2024-01-31T23:59:59Z", "2024-02-01T00:00:00Z"},
    {"@weekly", "UTC", "2024-05-10T12:00:00Z", "2024-05-12T00:00:00Z"},
    {"@daily", "UTC", "2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z"},
    {"@midnight", "UTC", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"},
    {"@hourly", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T13:00:00Z"},
    {"@hourly", "UTC", "2024-05-10T12:59:59Z", "2024-05-10T13:00:00Z"},
    {"@hourly", "UTC", "2024-05-10T11:59:59Z", "2024-05-10T12:00:00Z"},
    {"* * * * *", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T12:01:00Z"},
    {"* * * * *", "UTC", "2024-05-10T12:00:01Z", "2024-05-10T12:01:00Z"},
    {"* * * * *", "UTC", "2024-05-10T11:59:59Z", "2024-05-10T12:00:00Z"},
    /* Steps, ranges, lists. */
    {"*/15 * * * *", "UTC", "2024-05-10T12:07:30Z", "2024-05-10T12:15:00Z"},
    {"*/15 * * * *", "UTC", "2024-05-10T12:45:00Z", "2024-05-10T13:00:00Z"},
    {"5-20/5 * * * *", "UTC", "2024-05-10T12:20:00Z", "2024-05-10T13:05:00Z"},
    {"50/5 * * * *", "UTC", "2024-05-10T12:56:00Z", "2024-05-10T13:50:00Z"},
    {"7,3,59 * * * *", "UTC", "2024-05-10T12:03:00Z", "2024-05-10T12:07:00Z"},
    {"0 */6 * * *", "UTC", "2024-05-10T18:00:00Z", "2024-05-11T00:00:00Z"},
    {"30 8-10,14 * * *", "UTC", "2024-05-10T10:30:00Z", "2024-05-10T14:30:00Z"},
    {"0 0 1 JAN-MAR/2 *", "UTC", "2024-01-01T00:00:00Z",
        "2024-03-01T00:00:00Z"},
    {"0 0 1 */4 *", "UTC", "2024-09-01T00:00:00Z", "2025-01-01T00:00:00Z"},
    /* Names. */
    {"0 9 * * mon-fri", "UTC", "2024-05-10T09:00:00Z", "2024-05-13T09:00:00Z"},
    {"0 9 * * MON,Wed", "UTC", "2024-05-13T09:00:00Z", "2024-05-15T09:00:00Z"},
    {"0 12 * * 7", "UTC", "2024-05-10T00:00:00Z", "2024-05-12T12:00:00Z"},
    {"0 12 * * 0", "UTC", "2024-05-10T00:00:00Z", "2024-05-12T12:00:00Z"},
    {"0 12 * * 5-7", "UTC", "2024-05-11T12:00:00Z", "2024-05-12T12:00:00Z"},
    {"0 0 * * */2", "UTC", "2024-05-12T00:00:00Z", "2024-05-14T00:00:00Z"},
    /* Day of month OR day of week, when both are restricted. */
    {"0 0 13 * 5", "UTC", "2024-05-10T00:00:00Z", "2024-05-13T00:00:00Z"},
    {"0 0 13 * 5", "UTC", "2024-05-13T00:00:00Z", "2024-05-17T00:00:00Z"},
    {"0 0 13 * *", "UTC", "2024-05-13T00:00:00Z", "2024-06-13T00:00:00Z"},
    {"0 0 * * 5", "UTC", "2024-05-10T00:00:00Z", "2024-05-17T00:00:00Z"},
    {"0 0 31 2 mon", "UTC", "2024-02-26T00:00:00Z", "2025-02-03T00:00:00Z"},
    /* "*" with a step still means both must match. */
    {"0 0 */10 * 1", "UTC", "2024-01-01T00:00:00Z", "2024-03-11T00:00:00Z"},
    {"0 0 1 * */7", "UTC", "2024-01-01T00:00:00Z", "2024-09-01T00:00:00Z"},
    /* Leap days and month ends. */
    {"0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", "1896-01-01T00:00:00Z", "1896-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", "1999-01-01T00:00:00Z", "2000-02-29T00:00:00Z"},
    {"0 0 29 2 mon", "UTC", "2024-02-27T00:00:00Z", "2024-02-29T00:00:00Z"},
    {"0 0 29 2 */7", "UTC", "2004-03-01T00:00:00Z", "2032-02-29T00:00:00Z"},
    {"0 0 29 2 */7", "UTC", "2088-03-01T00:00:00Z", "2128-02-29T00:00:00Z"},
    {"0 0 31 * *", "UTC", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"},
    {"59 23 30 * *", "UTC", "2024-01-30T23:59:00Z", "2024-03-30T23:59:00Z"},
    /* Year rollover. */
    {"30 1 * 1 *", "UTC", "2024-02-01T00:00:00Z", "2025-01-01T01:30:00Z"},
    {"59 23 31 12 *", "UTC", "2024-12-31T23:59:00Z", "2025-12-31T23:59:00Z"},
    {"0 0 1 1 *", "UTC", "9998-06-01T00:00:00Z", "9999-01-01T00:00:00Z"},
    /* Zones without DST. */
    {"0 9 * * *", "Asia/Kolkata", "2024-05-10T00:00:00Z",
        "2024-05-10T09:00:00+05:30"},
    {"0 0 * * *", "Pacific/Chatham", "2024-05-10T00:00:00Z",
        "2024-05-11T00:00:00+12:45"},
    /* Europe/Berlin, 2024-03-31: 02:00 CET -> 03:00 CEST. */
    {"30 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z",
        "2024-03-31T03:00:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00"},
    {"0 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z",
        "2024-03-31T03:00:00+02:00"},
    {"0 3 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z",
        "2024-03-31T03:00:00+02:00"},
    {"0 3 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
        "2024-04-01T03:00:00+02:00"},
    {"*/20 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z",
        "2024-03-31T03:00:00+02:00"},
    {"*/20 2 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:00:00+02:00"},
    {"*/20 2,3 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
        "2024-03-31T03:20:00+02:00"},
    {"30 1 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z",
        "2024-03-31T01:30:00+01:00"},
    {"30 * * * *", "Europe/Berlin", "2024-03-31T01:30:00+01:00",
        "2024-03-31T03:30:00+02:00"},
    {"*/15 * * * *", "Europe/Berlin", "2024-03-31T01:45:00+01:00",
        "2024-03-31T03:00:00+02:00"},
    {"* * * * *", "Europe/Berlin", "2024-03-31T01:59:30+01:00",
        "2024-03-31T03:00:00+02:00"},
    /* Europe/Berlin, 2024-10-27: 03:00 CEST -> 02:00 CET. */
    {"30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00Z",
        "2024-10-27T02:30:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00"},
    {"45 2 * * *", "Europe/Berlin", "2024-10-27T02:10:00+01:00",
        "2024-10-28T02:45:00+01:00"},
    {"5 3 * * *", "Europe/Berlin", "2024-10-27T02:10:00+01:00",
        "2024-10-27T03:05:00+01:00"},
    {"*/30 2 * * *", "Europe/Berlin", "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:30:00+02:00"},
    {"*/30 2 * * *", "Europe/Berlin", "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:00:00+01:00"},
    {"30 * * * *", "Europe/Berlin", "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:30:00+01:00"},
    {"0 * * * *", "Europe/Berlin", "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00"},
    {"0 * * * *", "Europe/Berlin", "2024-10-27T02:00:00+01:00",
        "2024-10-27T03:00:00+01:00"},
    {"59 * * * *", "Europe/Berlin", "2024-10-27T02:59:00+02:00",
        "2024-10-27T02:59:00+01:00"},
    /* America/New_York, 2024-03-10 02:00 EST -> 03:00 EDT and
     * 2024-11-03 02:00 EDT -> 01:00 EST. */
    {"30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z",
        "2024-03-10T03:00:00-04:00"},
    {"30 2 * * *", "America/New_York", "2024-03-10T03:00:00-04:00",
        "2024-03-11T02:30:00-04:00"},
    {"0 12 * * *", "America/New_York", "2024-03-09T12:00:00-05:00",
        "2024-03-10T12:00:00-04:00"},
    {"30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z",
        "2024-11-03T01:30:00-04:00"},
    {"30 1 * * *", "America/New_York", "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00"},
    {"30 1 * * *", "America/New_York", "2024-11-03T01:10:00-05:00",
        "2024-11-04T01:30:00-05:00"},
    {"30 * * * *", "America/New_York", "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:00-05:00"},
    {"*/20 * * * *", "America/New_York", "2024-11-03T01:40:00-04:00",
        "2024-11-03T01:00:00-05:00"},
    {"0 0 * * *", "America/New_York", "2024-11-02T12:00:00Z",
        "2024-11-03T00:00:00-04:00"},
    {"0 0 * * *", "America/New_York", "2024-11-03T00:00:00-04:00",
        "2024-11-04T00:00:00-05:00"},
    /* A 30-minute gap: Australia/Lord_Howe, 2024-10-06 02:00 -> 02:30. */
    {"15 2 * * *", "Australia/Lord_Howe", "2024-10-05T00:00:00Z",
        "2024-10-06T02:30:00+11:00"},
    {"45 2 * * *", "Australia/Lord_Howe", "2024-10-05T00:00:00Z",
        "2024-10-06T02:45:00+11:00"},
    {"15 * * * *", "Australia/Lord_Howe", "2024-10-06T01:15:00+10:30",
        "2024-10-06T03:15:00+11:00"},
    /* A skipped day: Pacific/Apia went from 2011-12-29 24:00 -10 to
     * 2011-12-31 00:00 +14. */
    {"0 9 * * *", "Pacific/Apia", "2011-12-29T09:00:00-10:00",
        "2011-12-31T00:00:00+14:00"},
    {"0 9 * * *", "Pacific/Apia", "2011-12-31T00:00:00+14:00",
        "2011-12-31T09:00:00+14:00"},
    {"0 9 30 12 *", "Pacific/Apia", "2011-12-01T00:00:00Z",
        "2011-12-31T00:00:00+14:00"},
    {"0 9 * * *", "Pacific/Apia", "2011-12-30T00:00:00Z",
        "2011-12-31T00:00:00+14:00"},
    /* Europe/Dublin: negative DST in the data, ordinary to the clock. */
    {"30 1 * * *", "Europe/Dublin", "2024-03-30T12:00:00Z",
        "2024-03-31T02:00:00+01:00"},
    {"30 1 * * *", "Europe/Dublin", "2024-10-26T12:00:00Z",
        "2024-10-27T01:30:00+01:00"},
    {"30 1 * * *", "Europe/Dublin", "2024-10-27T01:30:00+01:00",
        "2024-10-28T01:30:00+00:00"},
    /* After the rule strings take over (fat files end in 2037). */
    {"30 2 * * *", "Europe/Berlin", "2150-03-28T12:00:00Z",
        "2150-03-29T03:00:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2150-10-24T12:00:00Z",
        "2150-10-25T02:30:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2150-10-25T02:30:00+02:00",
        "2150-10-26T02:30:00+01:00"},
};

START_TEST(test_cron_next)
{
	char err[256], b1[40], b2[40];
	struct cron_expr *e;
	struct tz *tz;
	int64_t got, want;

	e = cron_parse(next_cases[_i].expr, err, sizeof err);
	ck_assert_msg(e != NULL, "%s: %s", next_cases[_i].expr, err);
	tz = load(next_cases[_i].zone);
	want = ts(next_cases[_i].want);
	got = cron_next(e, tz, ts(next_cases[_i].after));
	ck_assert_msg(got == want, "\"%s\" in %s after %s: got %s, want %s",
	    next_cases[_i].expr, next_cases[_i].zone, next_cases[_i].after,
	    fmt_utc(got, b1, sizeof b1), fmt_utc(want, b2, sizeof b2));
	cron_free(e);
	tz_free(tz);
}
END_TEST

START_TEST(test_cron_range)
{
	char err[256];
	struct cron_expr *e;
	struct tz *tz = load("UTC");

	e = cron_parse("0 0 29 2 *", err, sizeof err);
	ck_assert_ptr_nonnull(e);
	/* 9996 is the last leap year before 10000. */
	ck_assert_int_eq(cron_next(e, tz, ts("9996-01-01T00:00:00Z")),
	    ts("9996-02-29T00:00:00Z"));
	errno = 0;
	ck_assert_int_eq(cron_next(e, tz, ts("9996-03-01T00:00:00Z")), -1);
	ck_assert_int_eq(errno, ERANGE);
	errno = 0;
	ck_assert_int_eq(cron_next(e, tz, INT64_MAX), -1);
	ck_assert_int_eq(errno, ERANGE);
	errno = 0;
	ck_assert_int_eq(cron_next(e, tz, INT64_MIN), -1);
	ck_assert_int_eq(errno, ERANGE);
	cron_free(e);
	tz_free(tz);
}
END_TEST

/*
 * A fixed walk: consecutive firings of a yearly expression are a year
 * apart, and each costs a handful of steps (no timing is asserted; a
 * minute-by-minute scan would take seconds for this loop).
 */
START_TEST(test_cron_walk)
{
	char err[256];
	struct cron_expr *e;
	struct tz *tz = load("America/New_York");
	int64_t t = ts("1970-01-01T00:00:00Z"), prev;
	struct tm tm;
	int i, n = 0;

	e = cron_parse("0 0 29 2 *", err, sizeof err);
	ck_assert_ptr_nonnull(e);
	for (i = 0; i < 20000; i++) {
		prev = t;
		t = cron_next(e, tz, t);
		if (t == -1)
			break;
		ck_assert_int_gt(t, prev);
		tz_localtime(tz, t, &tm);
		ck_assert_int_eq(tm.tm_mon, 1);
		ck_assert_int_eq(tm.tm_mday, 29);
		ck_assert_int_eq(tm.tm_hour, 0);
		ck_assert_int_eq(tm.tm_min, 0);
		n++;
	}
	/* Leap years 1972-9996: 2007 of them, less 60 century years. */
	ck_assert_int_eq(n, 2007 - 60);
	cron_free(e);
	tz_free(tz);
}
END_TEST

/* --- cron: against a naive reference ----------------------------------------
 */

/* An expression as the generator meant it. */
struct ref_expr {
	char text[400];
	uint64_t minutes;
	uint32_t hours, mdays, months, wdays;
	bool mday_star, wday_star;
};

static const char *const ref_months[] = {"jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const ref_days[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static void
ref_value(uint64_t *s, int field, int v, char *buf, size_t len)
{
	if (field == 3 && rnd_next(s) % 3 == 0)
		snprintf(buf, len, "%s", ref_months[v - 1]);
	else if (field == 4 && v < 7 && rnd_next(s) % 3 == 0)
		snprintf(buf, len, "%s", ref_days[v]);
	else
		snprintf(buf, len, "%d", v);
}

/*
 * One random field: its text, its set and whether it starts with '*'.
 * busy: lean to many values (keeps the naive search short).
 */
static void
ref_field(uint64_t *s, int field, bool busy, char *out, size_t outlen,
    uint64_t *bits, bool *star)
{
	static const int lo_of[] = {0, 0, 1, 1, 0},
	                 hi_of[] = {59, 23, 31, 12, 7};
	int lo = lo_of[field], hi = hi_of[field], starhi, kind, a, b, step, v;
	int items, k;
	char va[16], vb[16], item[64];
	size_t used = 0;

	starhi = field == 4 ? 6 : hi;
	*bits = 0;
	*star = false;
	out[0] = '\0';
	kind = busy ? (int)(rnd_next(s) % 3) : (int)(rnd_next(s) % 7);
	if (kind == 0) {
		snprintf(out, outlen, "*");
		*star = true;
		for (v = lo; v <= starhi; v++)
			*bits |= UINT64_C(1) << v;
		return;
	}
	if (kind == 1) {
		step = (int)rnd_range(s, 1, busy ? 4 : hi);
		snprintf(out, outlen, "*/%d", step);
		*star = true;
		for (v = lo; v <= starhi; v += step)
			*bits |= UINT64_C(1) << v;
		return;
	}
	items = (int)rnd_range(s, 1, 3);
	for (k = 0; k < items; k++) {
		a = (int)rnd_range(s, lo, hi);
		b = (int)rnd_range(s, a, hi);
		ref_value(s, field, a, va, sizeof va);
		ref_value(s, field, b, vb, sizeof vb);
		switch (rnd_next(s) % 4) {
		case 0: /* a */
			snprintf(item, sizeof item, "%s", va);
			b = a;
			step = 1;
			break;
		case 1: /* a-b */
			snprintf(item, sizeof item, "%s-%s", va, vb);
			step = 1;
			break;
		case 2: /* a-b/n */
			step = (int)rnd_range(s, 1, hi);
			snprintf(item, sizeof item, "%s-%s/%d", va, vb, step);
			break;
		default: /* a/n */
			step = (int)rnd_range(s, 1, hi);
			snprintf(item, sizeof item, "%s/%d", va, step);
			b = hi;
			break;
		}
		for (v = a; v <= b; v += step)
			*bits |= UINT64_C(1) << (field == 4 ? v % 7 : v);
		used += (size_t)snprintf(
		    out + used, outlen - used, "%s%s", k > 0 ? "," : "", item);
	}
}

/*
 * A random expression.  hour >= 0: aim at that hour (the one a clock
 * change repeats or skips): half the time the hour field includes it and
 * the day fields are "*".
 */
static void
ref_generate(uint64_t *s, struct ref_expr *r, int hour)
{
	char f[5][64], hours[80];
	uint64_t bits[5];
	bool star[5], busy, aim;
	int i;

	aim = hour >= 0 && rnd_next(s) % 2 == 0;
	for (i = 0; i < 5; i++) {
		/* Days and months are mostly "*", so most expressions fire
		 * within weeks; the rest exercise the calendar. */
		busy = i >= 2 ? rnd_next(s) % 4 != 0 : rnd_next(s) % 2 == 0;
		ref_field(s, i, busy, f[i], sizeof f[i], &bits[i], &star[i]);
		if (aim && i >= 2) {
			snprintf(f[i], sizeof f[i], "*");
			bits[i] = i == 2   ? UINT64_C(0xfffffffe)
			          : i == 3 ? UINT64_C(0x1ffe)
			                   : UINT64_C(0x7f);
			star[i] = true;
		}
	}
	if (aim) {
		snprintf(hours, sizeof hours, "%d,%s", hour, f[1]);
		bits[1] |= UINT64_C(1) << hour;
	} else {
		snprintf(hours, sizeof hours, "%s", f[1]);
	}
	snprintf(r->text, sizeof r->text, "%s %s %s %s %s", f[0], hours, f[2],
	    f[3], f[4]);
	r->minutes = bits[0];
	r->hours = (uint32_t)bits[1];
	r->mdays = (uint32_t)bits[2];
	r->months = (uint32_t)bits[3];
	r->wdays = (uint32_t)bits[4];
	r->mday_star = star[2];
	r->wday_star = star[4];
}

static bool
ref_match_tm(const struct ref_expr *r, const struct tm *tm)
{
	bool mday, wday, day;

	mday = (r->mdays >> tm->tm_mday) & 1;
	wday = (r->wdays >> tm->tm_wday) & 1;
	day = r->mday_star || r->wday_star ? mday && wday : mday || wday;
	return day && ((r->months >> (tm->tm_mon + 1)) & 1) &&
	       ((r->hours >> tm->tm_hour) & 1) &&
	       ((r->minutes >> tm->tm_min) & 1);
}

/* Does wall time w (local seconds) match? gmtime gives its fields. */
static bool
ref_match_wall(const struct ref_expr *r, int64_t w)
{
	struct tm tm;
	time_t tt = (time_t)w;

	gmtime_r(&tt, &tm);
	return ref_match_tm(r, &tm);
}

/*
 * The naive reference: every UTC minute from three days before `after`
 * (to learn the highest wall time shown so far) to `after` + horizon,
 * with the rules of cron.h: elapsed-time schedules fire whenever the clock
 * shows a match; wall-clock schedules fire when the clock first reaches a
 * matching time, or jumps over one.  -1: none within the horizon.
 */
static int64_t
ref_next(const struct ref_expr *r, const struct tz *tz, int64_t after,
    int64_t horizon)
{
	bool elapsed = r->hours == (UINT32_C(1) << 24) - 1, fire;
	int64_t t, w, high = INT64_MIN, x;
	struct tm tm;

	t = (after - 3 * DAY) / 60 * 60;
	for (; t <= after + horizon; t += 60) {
		tz_localtime(tz, t, &tm);
		w = t + tm.tm_gmtoff;
		if (elapsed) {
			fire = ref_match_tm(r, &tm);
		} else if (w <= high) {
			fire = false; /* shown before */
		} else if (high != INT64_MIN && w - high > 60) {
			/* A jump: any matching minute it skipped, or w. */
			for (fire = false, x = high + 60; x <= w && !fire;
			     x += 60)
				fire = ref_match_wall(r, x);
		} else {
			fire = ref_match_tm(r, &tm);
		}
		if (w > high)
			high = w;
		if (fire && t > after)
			return t;
	}
	return -1;
}

static const char *const brute_zones[] = {
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/Dublin",
    "America/Sao_Paulo",
    "Africa/Casablanca",
    "Pacific/Apia",
    "America/Nuuk",
};
#define NBRUTE_ZONES (sizeof brute_zones / sizeof brute_zones[0])
#define BRUTE_CASES 60 /* per zone */

START_TEST(test_cron_brute)
{
	static const int month_max[] = {
	    0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *zone = brute_zones[_i];
	const int64_t horizon = 2 * 366 * DAY;
	uint64_t seed = 0xc0ffee00 + (uint64_t)_i;
	struct ref_expr r;
	struct cron_expr *e;
	struct tz *tz = load(zone);
	char err[256], b1[40], b2[40], b3[40];
	int64_t after, got, want, t;
	int n, step, hour;
	struct tm tm;

	for (n = 0; n < BRUTE_CASES;) {
		/* A third of the start instants anywhere, a third in the two
		 * days before an offset change, a third within three hours
		 * of one (inside a repeated hour, for instance). */
		after = rnd_range(&seed, ts("1975-01-01T00:00:00Z"),
		    ts("2045-01-01T00:00:00Z"));
		t = tz_next_transition(tz, after);
		hour = -1;
		if (n % 3 == 1 && t < after + 2 * 366 * DAY) {
			after = t - rnd_range(&seed, 0, 2 * DAY);
		} else if (n % 3 == 2 && t < after + 2 * 366 * DAY) {
			after = t + rnd_range(&seed, -3 * 3600, 3 * 3600);
			/* The last hour before the change, or the next. */
			tz_localtime(tz, t - 1, &tm);
			hour = (tm.tm_hour + (int)(rnd_next(&seed) % 2)) % 24;
		}
		if (n % 2 == 0)
			after = after / 60 * 60;
		ref_generate(&seed, &r, hour);
		e = cron_parse(r.text, err, sizeof err);
		if (e == NULL) {
			/* Only "never fires" may be refused, and rightly. */
			ck_assert_msg(strncmp(err, "never fires", 11) == 0,
			    "\"%s\": %s", r.text, err);
			ck_assert(r.mday_star || r.wday_star);
			for (t = 1; t <= 12; t++)
				ck_assert(
				    ((r.months >> t) & 1) == 0 ||
				    (r.mdays & ((UINT32_C(2) << month_max[t]) -
				                   2)) == 0);
			continue;
		}
		ck_assert_int_eq(
		    cron_is_elapsed(e), r.hours == (UINT32_C(1) << 24) - 1);
		/* Follow each expression for a few firings. */
		for (step = 0; step < 4; step++) {
			want = ref_next(&r, tz, after, horizon);
			got = cron_next(e, tz, after);
			if (want == -1)
				ck_assert_msg(
				    got == -1 || got > after + horizon,
				    "\"%s\" in %s after %s: got %s, want none "
				    "within the horizon",
				    r.text, zone, fmt_utc(after, b1, sizeof b1),
				    fmt_utc(got, b2, sizeof b2));
			else
				ck_assert_msg(got == want,
				    "\"%s\" in %s after %s: got %s, want %s",
				    r.text, zone, fmt_utc(after, b1, sizeof b1),
				    fmt_utc(got, b2, sizeof b2),
				    fmt_utc(want, b3, sizeof b3));
			if (want == -1)
				break;
			after = want;
		}
		cron_free(e);
		n++;
	}
	tz_free(tz);
}
END_TEST

/*
 * Zones and expressions are immutable once loaded: threads share them
 * without locks (the sanitizer builds check this) and agree with one
 * thread's results.
 */
#define SHARED_THREADS 4
#define SHARED_STEPS 2000

struct shared_run {
	const struct cron_expr *e;
	const struct tz *tz;
	int64_t out[SHARED_STEPS];
};

static void *
shared_worker(void *arg)
{
	struct shared_run *run = arg;
	int64_t t = ts("2020-01-01T00:00:00Z");
	struct tm tm;
	int i;

	for (i = 0; i < SHARED_STEPS; i++) {
		t = cron_next(run->e, run->tz, t);
		tz_localtime(run->tz, t, &tm);
		run->out[i] = t + tm.tm_gmtoff;
	}
	return NULL;
}

START_TEST(test_shared)
{
	static struct shared_run runs[SHARED_THREADS + 1];
	pthread_t th[SHARED_THREADS];
	struct cron_expr *e;
	struct tz *tz = load("Europe/Berlin");
	char err[256];
	int i;

	e = cron_parse("*/7 1-3 * * *", err, sizeof err);
	ck_assert_ptr_nonnull(e);
	for (i = 0; i <= SHARED_THREADS; i++) {
		runs[i].e = e;
		runs[i].tz = tz;
	}
	shared_worker(&runs[SHARED_THREADS]);
	for (i = 0; i < SHARED_THREADS; i++)
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, shared_worker, &runs[i]), 0);
	for (i = 0; i < SHARED_THREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_mem_eq(
		    runs[i].out, runs[SHARED_THREADS].out, sizeof runs[i].out);
	}
	cron_free(e);
	tz_free(tz);
}
END_TEST

static Suite *
cron_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("cron");
	tc = tcase_create("tz");
	tcase_add_loop_test(tc, test_tz_glibc, 0, NGLIBC_ZONES);
	tcase_add_test(tc, test_tz_all_year_dst);
	tcase_add_test(tc, test_tz_extremes);
	tcase_add_test(tc, test_tz_civil);
	tcase_add_loop_test(
	    tc, test_tz_bad_name, 0, sizeof bad_names / sizeof bad_names[0]);
	tcase_add_test(tc, test_tz_names);
	tcase_add_test(tc, test_tz_local);
	tcase_add_test(tc, test_tz_tzif_versions);
	tcase_add_test(tc, test_tz_tzif_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(
	    tc, test_cron_bad, 0, sizeof bad_exprs / sizeof bad_exprs[0]);
	tcase_add_test(tc, test_cron_bad_misc);
	tcase_add_loop_test(
	    tc, test_cron_canon, 0, sizeof canon_exprs / sizeof canon_exprs[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("next");
	tcase_add_loop_test(
	    tc, test_cron_next, 0, sizeof next_cases / sizeof next_cases[0]);
	tcase_add_test(tc, test_cron_range);
	tcase_add_test(tc, test_cron_walk);
	tcase_add_loop_test(tc, test_cron_brute, 0, NBRUTE_ZONES);
	tcase_add_test(tc, test_shared);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(cron_suite());
}
