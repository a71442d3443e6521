/*
 * tz: time zones without the process-global TZ.
 *
 * localtime(3) reads the zone from the environment and keeps it in global
 * state, which a threaded daemon cannot switch per call.  A struct tz is an
 * immutable, self-contained zone read from a TZif file (RFC 8536, versions 1
 * to 4, as shipped in /usr/share/zoneinfo) or from a POSIX TZ rule string
 * ("CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30").  Instants after a file's
 * last transition follow the rule string of its footer.  Once loaded, a zone
 * may be used from any number of threads at once.
 *
 * Time is int64_t seconds since 1970-01-01 00:00:00 UTC, leap seconds not
 * counted.  Instants are clamped to [TZ_TIME_MIN, TZ_TIME_MAX].
 */
#ifndef JOBD_TZ_H
#define JOBD_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tz;

/* The directory IANA zone names are looked up in. */
#define TZ_ZONEINFO_DIR "/usr/share/zoneinfo"

/* About -300,000 and +300,000 years. */
#define TZ_TIME_MIN (-INT64_C(10000000000000))
#define TZ_TIME_MAX INT64_C(10000000000000)

/*
 * Load a zone by name.  name is an IANA name ("Europe/Berlin", "UTC") looked
 * up under TZ_ZONEINFO_DIR, an absolute path inside that directory, or a
 * POSIX TZ rule string ("EST5EDT,M3.2.0,M11.1.0").  NULL or "" means the
 * local zone: $TZ if set (":NAME", NAME, ":/path", or a rule string), else
 * /etc/localtime, else UTC.  Names with "..", paths outside the zoneinfo
 * directory, unknown zones and malformed files are refused: NULL, errno set
 * and a message naming the problem in err.  The local zone reads $TZ: load
 * it where no thread changes the environment (at start-up).
 */
struct tz *tz_load(const char *name, char *err, size_t errlen);
/* Load the TZif file at path, trusted by the caller; name is tz_name(). */
struct tz *tz_load_file(
    const char *path, const char *name, char *err, size_t errlen);
/* Parse a TZif image in memory (what tz_load_file reads). */
struct tz *tz_load_tzif(
    const void *buf, size_t len, const char *name, char *err, size_t errlen);
void tz_free(struct tz *tz);

/*
 * The name the zone was loaded by: the IANA name, the rule string, or for
 * the local zone the name /etc/localtime links to ("localtime" if none).
 */
const char *tz_name(const struct tz *tz);

/*
 * UTC seconds -> local broken-down time, with tm_wday, tm_yday, tm_isdst,
 * tm_gmtoff and tm_zone (an abbreviation owned by tz) filled.
 */
void tz_localtime(const struct tz *tz, int64_t t, struct tm *out);
/* The UTC offset (seconds east) in effect at t. */
int32_t tz_offset(const struct tz *tz, int64_t t);
/*
 * The first instant after t at which the UTC offset changes (changes of
 * abbreviation or of the DST flag alone do not count); INT64_MAX if none.
 */
int64_t tz_next_transition(const struct tz *tz, int64_t t);

/* Days since 1970-01-01 <-> proleptic Gregorian date (month 1-12). */
int64_t tz_days_from_civil(int64_t year, int month, int day);
void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

#endif
