/*
 * times: the TIME arguments of jobctl's options.
 *
 * jobd takes times as RFC 3339 text.  jobctl also takes a duration from
 * now ("+30m" ahead, or "-2h" back for options about the past) and a local
 * "HH:MM" (the next one, or the last one for the past), and turns them into
 * UTC RFC 3339 itself, so that jobd never needs to know jobctl's time zone.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jobctl.h"
#include "retry.h"

/* Durations from now: far enough for anyone, near enough for any time_t. */
#define TIME_AHEAD_MAX_MS (100ULL * 366 * 86400 * 1000)

/* Exactly n decimal digits at s, as a number; -1 if they are not there. */
static int
time_digits(const char *s, int n)
{
	int v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/*
 * Is s an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.FRAC] then Z or
 * +HH:MM / -HH:MM?  ('t', 'z' and a space for the T are allowed, as the
 * RFC and jobd allow them.)  A second of 60 is a leap second.
 */
static bool
time_rfc3339_valid(const char *s)
{
	int year, month, day;

	/* Long enough for every index below up to the seconds' end. */
	if (strlen(s) < 20)
		return false;
	year = time_digits(s, 4);
	month = time_digits(s + 5, 2);
	day = time_digits(s + 8, 2);
	if (year < 0 || s[4] != '-' || month < 1 || month > 12 || s[7] != '-' ||
	    day < 1 || day > days_in_month(year, month) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    time_digits(s + 11, 2) < 0 || time_digits(s + 11, 2) > 23 ||
	    s[13] != ':' || time_digits(s + 14, 2) < 0 ||
	    time_digits(s + 14, 2) > 59 || s[16] != ':' ||
	    time_digits(s + 17, 2) < 0 || time_digits(s + 17, 2) > 60)
		return false;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return false;
		for (s++; *s >= '0' && *s <= '9'; s++)
			continue;
	}
	if (*s == 'Z' || *s == 'z')
		return s[1] == '\0';
	return (*s == '+' || *s == '-') && time_digits(s + 1, 2) >= 0 &&
	       time_digits(s + 1, 2) <= 23 && s[3] == ':' &&
	       time_digits(s + 4, 2) >= 0 && time_digits(s + 4, 2) <= 59 &&
	       s[6] == '\0';
}

/* ms since the epoch as RFC 3339 UTC with milliseconds, like jobd's. */
static void
time_format_utc(char *buf, size_t len, int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(ms % 1000));
}

/*
 * The local HH:MM nearest now on one side: the next one strictly after now
 * (today's, else tomorrow's), or with past the last one at or before now
 * (today's, else yesterday's), in seconds since the epoch; -1 if arg is
 * not H:MM or HH:MM.  mktime() moves a time that a daylight-saving change
 * skips forward by the change.
 */
static time_t
time_local(const char *arg, time_t now, bool past)
{
	size_t hlen = strcspn(arg, ":");
	int hour = hlen == 1 || hlen == 2 ? time_digits(arg, (int)hlen) : -1;
	int minute;
	struct tm tm;
	time_t t;
	int day;

	if (hour < 0 || hour > 23 || arg[hlen] != ':')
		return -1;
	minute = time_digits(arg + hlen + 1, 2);
	if (minute < 0 || minute > 59 || arg[hlen + 3] != '\0')
		return -1;
	for (day = 0; day < 2; day++) {
		if (localtime_r(&now, &tm) == NULL)
			return -1;
		tm.tm_mday += past ? -day : day;
		tm.tm_hour = hour;
		tm.tm_min = minute;
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1)
			return -1;
		if (past ? t <= now : t > now)
			return t;
	}
	return -1;
}

int
cmd_parse_time(struct cmd_ctx *ctx, const char *option, const char *arg,
    const struct timespec *now, bool past, json_t *obj, const char *key)
{
	int64_t now_ms = (int64_t)now->tv_sec * 1000 + now->tv_nsec / 1000000;
	char sign = past ? '-' : '+';
	char text[64];
	uint64_t dur;
	time_t t;

	if (arg[0] == sign) {
		if (retry_parse_duration_ms(arg + 1, &dur) != 0 ||
		    dur > TIME_AHEAD_MAX_MS)
			return cmd_usage_error(ctx,
			    "%s: bad time \"%.64s\" (after %c, a duration such "
			    "as 90s, 30m or 2h)",
			    option, arg, sign);
		time_format_utc(text, sizeof text,
		    past ? now_ms - (int64_t)dur : now_ms + (int64_t)dur);
	} else if (strchr(arg, ':') != NULL && strlen(arg) <= 5) {
		if ((t = time_local(arg, now->tv_sec, past)) == (time_t)-1)
			return cmd_usage_error(ctx,
			    "%s: bad time \"%.64s\" (a local time is HH:MM, "
			    "00:00 to 23:59)",
			    option, arg);
		time_format_utc(text, sizeof text, (int64_t)t * 1000);
	} else if (time_rfc3339_valid(arg)) {
		json_object_set_new(obj, key, json_string(arg));
		return -1;
	} else
		return cmd_usage_error(ctx,
		    "%s: bad time \"%.64s\" (expected RFC 3339 such as "
		    "2026-11-26T18:00:00Z or ...T19:00:00+01:00, %cDUR such as "
		    "%c30m, or a local HH:MM)",
		    option, arg, sign, sign);
	json_object_set_new(obj, key, json_string(text));
	return -1;
}
