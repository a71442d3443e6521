/*
 * metrics: jobd's figures in the Prometheus text exposition format 0.0.4.
 *
 * metrics_render() writes what the stats op reports: the counters, gauges
 * and histograms of COUNTERS_LIST (lib/counters.h), the process figures,
 * and each queue's jobs by state and by outcome.  Names follow
 * Prometheus's conventions: the "jobd_" prefix, "_total" on counters, base
 * units in the name (seconds, bytes); figures that are one outcome of the
 * same thing (jobs finished, requests per op, cron firings) are one family
 * with a label.  jobd-protocol(7) lists every name.  Loop thread only: it
 * reads the queues and the job table.
 */
#ifndef JOBD_METRICS_H
#define JOBD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* The media type of the exposition, for HTTP. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Histogram buckets: one at 2^k - 1 microseconds for each k from
 * METRICS_LE_MIN_EXP to METRICS_LE_MAX_EXP (15 us to 9.5 h), then +Inf.
 * Each is the upper edge of one of jobd's own buckets, so the counts are
 * exact, not interpolated.
 */
#define METRICS_LE_MIN_EXP 4
#define METRICS_LE_MAX_EXP 35

/* Room for any uint64_t microseconds as seconds, and the NUL. */
#define METRICS_SECONDS_LEN 32

/* Append the whole exposition to out. */
void metrics_render(struct evbuffer *out);

/* The pieces, exposed for tests. */

/*
 * Append s escaped for the exposition: backslash and newline as \\ and
 * \n, and with quote (a label value) the double quote as \".
 */
void metrics_escape(struct evbuffer *out, const char *s, bool quote);
/*
 * One sample line: name{k1="v1",k2="v2"} value.  labels holds key, value
 * pairs and ends with a NULL key (or is NULL); values are escaped.
 */
void metrics_sample(struct evbuffer *out, const char *name,
    const char *const *labels, const char *value);
/* us microseconds as exact decimal seconds: "0.000007", "1.5", "2". */
void metrics_seconds(char buf[METRICS_SECONDS_LEN], uint64_t us);
/*
 * A histogram of microsecond values in jobd's buckets
 * (buckets[COUNTERS_HIST_BUCKETS], see counters.h) as the Prometheus
 * histogram name in seconds: the cumulative _bucket lines, _sum (sum_us
 * in seconds) and _count (the buckets' total, so it always equals the
 * +Inf bucket).
 */
void metrics_histogram(struct evbuffer *out, const char *name, const char *help,
    const uint64_t *buckets, uint64_t sum_us);

#endif
