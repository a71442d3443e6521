/*
 * counters: named counters, gauges and latency histograms for jobd.
 *
 * COUNTERS_LIST below is the one list of every figure jobd reports; it is
 * expanded into the enums here, the per-thread slot layout and the names in
 * the JSON snapshot; daemon/metrics.c derives the Prometheus names from it
 * (jobd_NAME_total, jobd_NAME, a "_us" histogram in seconds), so adding a
 * figure is one line.
 *
 * Hot path: every thread that records gets its own cache-line-aligned slot
 * (counters_slot()), and only that thread writes it, with relaxed atomic
 * load+store (no lock prefix, no shared cache line).  Readers sum all slots
 * with relaxed loads; a snapshot is therefore not an atomic cut across
 * figures, which is fine for monitoring.
 *
 * Histograms are log-linear: each power of two is split into
 * COUNTERS_HIST_SUB linear sub-buckets, so a reported percentile is within
 * 1/COUNTERS_HIST_SUB (12.5%) of the true value; max is exact.
 */
#ifndef JOBD_COUNTERS_H
#define JOBD_COUNTERS_H

#include <jansson.h>
#include <stdint.h>

/*
 * C(name, help): monotonic counter.  G(name, help): gauge (up and down).
 * H(name, help): histogram of values (unit in the name).
 */
#define COUNTERS_LIST(C, G, H)                                                \
	C(jobs_submitted, "jobs accepted by submit")                          \
	C(jobs_started, "job attempts started")                               \
	C(jobs_succeeded, "jobs finished succeeded")                          \
	C(jobs_failed, "jobs finished failed after their last attempt")       \
	C(jobs_timed_out, "jobs finished timed out after their last attempt") \
	C(jobs_retried, "attempts scheduled again after a failure")           \
	C(jobs_cancelled, "jobs cancelled")                                   \
	C(jobs_expired, "jobs that expired before they started")              \
	C(jobs_kicked, "dead jobs requeued by kick")                          \
	C(jobs_deduplicated, "submits answered with an existing job by key")  \
	C(jobs_dependency_failed,                                             \
	    "jobs ended as a dependency did not succeed")                     \
	C(cron_fired, "recurring job firings that submitted a job")           \
	C(cron_skipped, "recurring job firings skipped: the last job ran on") \
	C(cron_failed, "recurring job firings whose submit failed")           \
	C(store_refusals, "requests refused: the store could not write")      \
	C(conns_total, "connections accepted")                                \
	C(requests, "requests handled")                                       \
	C(requests_hello, "hello requests")                                   \
	C(requests_ping, "ping requests")                                     \
	C(requests_submit, "submit requests")                                 \
	C(requests_get, "get requests")                                       \
	C(requests_wait, "wait requests")                                     \
	C(requests_cancel, "cancel requests")                                 \
	C(requests_list, "list requests")                                     \
	C(requests_logs, "logs requests")                                     \
	C(requests_watch, "watch requests")                                   \
	C(requests_stats, "stats requests")                                   \
	C(requests_queue, "queue requests")                                   \
	C(requests_dead, "dead requests")                                     \
	C(requests_kick, "kick requests")                                     \
	C(requests_discard, "discard requests")                               \
	C(requests_cron, "cron requests")                                     \
	C(auth_failures, "TCP clients refused: bad, late or no token")        \
	C(conns_refused, "unix clients refused by their credentials")         \
	C(tls_conns, "TLS connections accepted: handshake completed")         \
	C(tls_handshake_failures, "TLS handshakes failed or not finished")    \
	C(conns_over_limit, "connections refused: --max-conns reached")       \
	C(conns_timed_out, "connections closed: idle or a line too slow")     \
	C(conns_dropped, "connections dropped: replies unread past the cap")  \
	C(requests_over_limit, "requests refused by a size or depth limit")   \
	C(protocol_errors, "requests answered with an error")                 \
	C(backpressure_pauses,                                                \
	    "times a client went unread until it read its replies")           \
	C(bytes_in, "bytes read from clients")                                \
	C(bytes_out, "bytes written to clients")                              \
	C(config_reloads, "configuration files read again (SIGHUP)")          \
	G(jobs_queued, "jobs waiting to run")                                 \
	G(jobs_running, "jobs running")                                       \
	G(jobs_waiting, "jobs waiting for their dependencies")                \
	G(conns_current, "open connections")                                  \
	H(queue_wait_us, "time from queued to started")                       \
	H(run_time_us, "attempt run time")

#define COUNTERS_ENUM_C(name, help) COUNTER_##name,
#define COUNTERS_ENUM_G(name, help) GAUGE_##name,
#define COUNTERS_ENUM_H(name, help) HIST_##name,
#define COUNTERS_SKIP(name, help)

enum counter_id {
	COUNTERS_LIST(COUNTERS_ENUM_C, COUNTERS_SKIP, COUNTERS_SKIP) COUNTER_MAX
};
enum gauge_id {
	COUNTERS_LIST(COUNTERS_SKIP, COUNTERS_ENUM_G, COUNTERS_SKIP) GAUGE_MAX
};
enum hist_id {
	COUNTERS_LIST(COUNTERS_SKIP, COUNTERS_SKIP, COUNTERS_ENUM_H) HIST_MAX
};

#define COUNTERS_HIST_SUB_BITS 3
#define COUNTERS_HIST_SUB (1 << COUNTERS_HIST_SUB_BITS)
/* Buckets cover every uint64_t value. */
#define COUNTERS_HIST_BUCKETS \
	((64 - COUNTERS_HIST_SUB_BITS + 1) * COUNTERS_HIST_SUB)

struct counters;
struct counters_slot;

struct hist_summary {
	uint64_t count;
	uint64_t sum;
	uint64_t p50, p90, p99; /* upper bound of the bucket holding it */
	uint64_t max;
};

/* Room for up to max_threads recording threads.  NULL on error (errno). */
struct counters *counters_create(unsigned max_threads);
void counters_free(struct counters *c);

/*
 * The calling thread's slot, registering the thread on first use (cached in
 * thread-local storage, so later calls are cheap).  Aborts if more than
 * max_threads threads record: that is a sizing bug, not an input error.
 */
struct counters_slot *counters_slot(struct counters *c);

void counter_add(struct counters_slot *s, enum counter_id id, uint64_t n);
void gauge_add(struct counters_slot *s, enum gauge_id id, int64_t delta);
void hist_record(struct counters_slot *s, enum hist_id id, uint64_t value);

/* Sums over all slots. */
uint64_t counters_get(struct counters *c, enum counter_id id);
int64_t gauges_get(struct counters *c, enum gauge_id id);
void hists_get(struct counters *c, enum hist_id id, struct hist_summary *out);
/*
 * The raw sums: buckets[COUNTERS_HIST_BUCKETS] gets the count of each
 * bucket, out its count, sum and max (no percentiles).  A reader racing
 * with writers may see count and the buckets' total disagree; only the
 * buckets agree with themselves.
 */
void hists_get_buckets(struct counters *c, enum hist_id id, uint64_t *buckets,
    struct hist_summary *out);

const char *counter_name(enum counter_id id);
const char *gauge_name(enum gauge_id id);
const char *hist_name(enum hist_id id);
const char *counter_help(enum counter_id id);
const char *gauge_help(enum gauge_id id);
const char *hist_help(enum hist_id id);

/* Bucket arithmetic, exposed for tests: value -> bucket, bucket -> bounds. */
unsigned hist_bucket_of(uint64_t value);
uint64_t hist_bucket_upper(unsigned bucket);

/*
 * {"counters":{name:n,...},"gauges":{name:n,...},
 *  "histograms":{name:{"count","sum","p50","p90","p99","max"},...}}
 */
json_t *counters_snapshot_json(struct counters *c);

#endif
