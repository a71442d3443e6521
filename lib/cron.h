/*
 * cron: cron expressions and their next firing time.
 *
 * An expression has five fields, "minute hour day-of-month month
 * day-of-week", or is one of the shorthands @yearly (@annually), @monthly,
 * @weekly, @daily (@midnight) and @hourly.  A field is a list of items
 * separated by commas; an item is "*", a value, a range "a-b", and either
 * may take a step "/n" ("*" then means the whole range, a lone value "a/n"
 * means a to the field's maximum).  Ranges:
 *
 *	minute 0-59, hour 0-23, day of month 1-31,
 *	month 1-12 or jan-dec, day of week 0-7 or sun-sat (0 and 7: Sunday).
 *
 * Names are case-insensitive.  As in classic cron, when both the day of
 * month and the day of week are restricted (neither field starts with "*"),
 * a day matches if either matches; otherwise both must.  An expression that
 * can never fire ("0 0 30 2 *") is refused.
 *
 * Time zones and daylight saving.  An expression is matched against the
 * wall clock of a zone (lib/tz), and fires when that clock shows a matching
 * minute.  Where the clock jumps or repeats, there are two kinds of
 * schedule:
 *
 *  - Wall-clock schedules (every schedule whose hour field does not cover
 *    all 24 hours: "30 2 * * *", "0 9-17 * * mon-fri", every other hour "0
 *0-22/2 * * *") fire once for every matching local time.  A time skipped by a
 *forward jump fires at the first instant after the jump (02:30 in a 02:00 ->
 *03:00 gap fires at 03:00; several skipped times fire once).  A time the clock
 *shows twice fires only the first time.
 *
 *  - Elapsed-time schedules (the hour field covers all 24 hours, e.g.
 *    every quarter hour "0-59/15 * * * *" or hourly "30 * * * *") fire at every
 *    instant at which the clock shows a matching minute: a skipped local
 *    time does not fire, a repeated one fires both times.  An hourly job
 *    thus still runs once per real hour across both changes.
 *
 * Firing instants are whole minutes of local time, which are whole UTC
 * minutes in every zone whose offset is whole minutes (all, since 1972).
 *
 * A parsed expression is immutable: threads may share it without a lock.
 */
#ifndef JOBD_CRON_H
#define JOBD_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tz.h"

struct cron_expr;

/* The longest expression accepted. */
#define CRON_TEXT_MAX 256

/*
 * Parse text; NULL and a message naming the field and the bad token in err
 * ("hour: 24 is out of range 0-23", "expected 5 fields, got 4").
 */
struct cron_expr *cron_parse(const char *text, char *err, size_t errlen);
void cron_free(struct cron_expr *e);

/*
 * The canonical text: fields separated by one space, names and shorthands
 * in lower case ("0 9 * * MON-FRI" -> "0 9 * * mon-fri").  Parsing it gives
 * the same expression.
 */
const char *cron_text(const struct cron_expr *e);

/* Does the expression follow elapsed time at DST changes (see above)? */
bool cron_is_elapsed(const struct cron_expr *e);

/*
 * The first firing instant (UTC seconds) strictly after `after`, in zone tz.
 * -1 with errno ERANGE if there is none before the year 10000 (or after is
 * not in years 1-9999).
 */
int64_t cron_next(
    const struct cron_expr *e, const struct tz *tz, int64_t after);

#endif
