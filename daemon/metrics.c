/*
 * metrics: the Prometheus exposition of jobd's figures (see metrics.h).
 *
 * NAMES
 *
 * Every figure of COUNTERS_LIST is exposed without a line here: a counter
 * NAME as jobd_NAME_total, a gauge as jobd_NAME, a histogram NAME_us as
 * jobd_NAME_seconds.  The tables below only rename a figure (to put the
 * unit or the right noun in its name) or make it one member of a family
 * with a label: the final states of jobs (outcome), the requests of each
 * op (op) and the results of cron firings (result).  The "requests"
 * counter counts every request line; in jobd_requests_total it is the
 * op="none" member, what is left after the ops' own counts (lines that
 * reached no op: not JSON, no or an unknown op, refused before
 * authentication), so that the family sums to every request.  Those
 * counters are all written by the loop thread, which is also the one
 * rendering, so the difference is never negative.
 *
 * The samples of one family must be together in the text, so the
 * renderer walks families, not figures: a family is written where its
 * first member comes in COUNTERS_LIST, with all its members.
 */
#include "config.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "counters.h"
#include "job.h"
#include "jobd.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "queue.h"
#include "sched.h"
#include "store.h"
#include "xmalloc.h"

/* Longest family name, with its NUL ("jobd_" + 64 + "_seconds_bucket"). */
#define METRICS_NAME_MAX 96

/* How a counter or gauge is exposed; all NULL: by its own name. */
struct metric_name {
	const char *family;        /* the full metric name */
	const char *label, *value; /* its label in the family, or NULL */
	bool remainder;            /* the family's total less the others */
};

#define FINISHED "jobd_jobs_finished_total"
#define REQUESTS "jobd_requests_total"
#define CRON "jobd_cron_firings_total"
#define JOBS "jobd_jobs"

#define OUTCOME(o) [COUNTER_jobs_##o] = {FINISHED, "outcome", #o, false}
#define OP(o) [COUNTER_requests_##o] = {REQUESTS, "op", #o, false}

static const struct metric_name counter_names[COUNTER_MAX] = {
    [COUNTER_jobs_started] = {"jobd_attempts_started_total", NULL, NULL, false},
    [COUNTER_jobs_retried] = {"jobd_attempts_retried_total", NULL, NULL, false},
    OUTCOME(succeeded),
    OUTCOME(failed),
    OUTCOME(timed_out),
    OUTCOME(cancelled),
    OUTCOME(expired),
    OUTCOME(dependency_failed),
    [COUNTER_cron_fired] = {CRON, "result", "submitted", false},
    [COUNTER_cron_skipped] = {CRON, "result", "skipped", false},
    [COUNTER_cron_failed] = {CRON, "result", "failed", false},
    [COUNTER_conns_total] = {"jobd_connections_accepted_total", NULL, NULL,
        false},
    [COUNTER_requests] = {REQUESTS, "op", "none", true},
    OP(hello),
    OP(ping),
    OP(submit),
    OP(get),
    OP(wait),
    OP(cancel),
    OP(list),
    OP(logs),
    OP(watch),
    OP(stats),
    OP(queue),
    OP(dead),
    OP(kick),
    OP(discard),
    OP(cron),
    [COUNTER_conns_refused] = {"jobd_connections_refused_total", NULL, NULL,
        false},
    [COUNTER_tls_conns] = {"jobd_tls_connections_total", NULL, NULL, false},
    [COUNTER_conns_over_limit] = {"jobd_connections_over_limit_total", NULL,
        NULL, false},
    [COUNTER_conns_timed_out] = {"jobd_connections_timed_out_total", NULL, NULL,
        false},
    [COUNTER_conns_dropped] = {"jobd_connections_dropped_total", NULL, NULL,
        false},
    [COUNTER_bytes_in] = {"jobd_received_bytes_total", NULL, NULL, false},
    [COUNTER_bytes_out] = {"jobd_sent_bytes_total", NULL, NULL, false},
};

static const struct metric_name gauge_names[GAUGE_MAX] = {
    [GAUGE_jobs_queued] = {JOBS, "state", "queued", false},
    [GAUGE_jobs_running] = {JOBS, "state", "running", false},
    [GAUGE_jobs_waiting] = {JOBS, "state", "waiting", false},
    [GAUGE_conns_current] = {"jobd_connections_open", NULL, NULL, false},
};

/* Histograms renamed; the others are NAME_us -> jobd_NAME_seconds. */
static const char *const hist_names[HIST_MAX] = {
    [HIST_run_time_us] = "jobd_attempt_duration_seconds",
};

/* The help of each family with labels. */
static const struct {
	const char *family, *help;
} family_helps[] = {
    {FINISHED, "jobs that reached a final state, by that state"},
    {REQUESTS, "requests handled, by op; \"none\": lines that reached no "
               "op (not JSON, no or an unknown op, or refused before "
               "authentication)"},
    {CRON, "recurring job firings, by result: submitted a job, skipped "
           "(the last job ran on), failed (its submit failed)"},
    {JOBS, "jobs by state: queued (ready to run), running, waiting (for "
           "their dependencies)"},
};

/* One counter or gauge, named and read. */
struct row {
	char family[METRICS_NAME_MAX];
	const char *help;
	const char *label, *value;
	bool remainder;
	bool is_signed;
	uint64_t u; /* a counter's value */
	int64_t s;  /* a gauge's */
};

void
metrics_escape(struct evbuffer *out, const char *s, bool quote)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		if (*s != '\\' && *s != '\n' && !(quote && *s == '"'))
			continue;
		evbuffer_add(out, run, (size_t)(s - run));
		evbuffer_add(out,
		    *s == '\\'   ? "\\\\"
		    : *s == '\n' ? "\\n"
		                 : "\\\"",
		    2);
		run = s + 1;
	}
	evbuffer_add(out, run, (size_t)(s - run));
}

void
metrics_seconds(char buf[METRICS_SECONDS_LEN], uint64_t us)
{
	size_t n;

	n = (size_t)snprintf(buf, METRICS_SECONDS_LEN, "%" PRIu64 ".%06" PRIu64,
	    us / 1000000, us % 1000000);
	/* Exact as it stands; trailing zeros (and a bare point) go. */
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
}

static void
family(
    struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s ", name);
	metrics_escape(out, help, false);
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* A line being built in a stack buffer, added to the output at once. */
struct line {
	char buf[512];
	size_t len;
	bool overflow; /* it did not fit: written piece by piece instead */
};

static void
line_add(struct line *l, const char *s, size_t n)
{
	if (l->overflow || n > sizeof l->buf - l->len) {
		l->overflow = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
line_str(struct line *l, const char *s)
{
	line_add(l, s, strlen(s));
}

/* A label value, escaped; overflows the line if escapes are needed. */
static void
line_label_value(struct line *l, const char *s)
{
	if (strpbrk(s, "\\\"\n") != NULL)
		l->overflow = true;
	else
		line_str(l, s);
}

/*
 * The usual line is built
 * in a buffer and added in one piece (a render writes thousands of them);
 * one that is too long or needs escapes is written a piece at a time.
 */
void
metrics_sample(struct evbuffer *out, const char *name,
    const char *const *labels, const char *value)
{
	struct line l = {.len = 0, .overflow = false};
	size_t i;

	line_str(&l, name);
	for (i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		line_str(&l, i == 0 ? "{" : ",");
		line_str(&l, labels[i]);
		line_add(&l, "=\"", 2);
		line_label_value(&l, labels[i + 1]);
		line_add(&l, "\"", 1);
	}
	if (i > 0)
		line_add(&l, "}", 1);
	line_add(&l, " ", 1);
	line_str(&l, value);
	line_add(&l, "\n", 1);
	if (!l.overflow) {
		evbuffer_add(out, l.buf, l.len);
		return;
	}
	evbuffer_add(out, name, strlen(name));
	for (i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		evbuffer_add_printf(
		    out, "%s%s=\"", i == 0 ? "{" : ",", labels[i]);
		metrics_escape(out, labels[i + 1], true);
		evbuffer_add(out, "\"", 1);
	}
	evbuffer_add_printf(out, "%s %s\n", i > 0 ? "}" : "", value);
}

static void
sample_u64(struct evbuffer *out, const char *name, const char *const *labels,
    uint64_t v)
{
	char text[24];

	snprintf(text, sizeof text, "%" PRIu64, v);
	metrics_sample(out, name, labels, text);
}

static void
sample_i64(struct evbuffer *out, const char *name, const char *const *labels,
    int64_t v)
{
	char text[24];

	snprintf(text, sizeof text, "%" PRId64, v);
	metrics_sample(out, name, labels, text);
}

static void
sample_seconds(struct evbuffer *out, const char *name,
    const char *const *labels, uint64_t us)
{
	char text[METRICS_SECONDS_LEN];

	metrics_seconds(text, us);
	metrics_sample(out, name, labels, text);
}

void
metrics_histogram(struct evbuffer *out, const char *name, const char *help,
    const uint64_t *buckets, uint64_t sum_us)
{
	char series[METRICS_NAME_MAX], le[METRICS_SECONDS_LEN];
	const char *labels[] = {"le", le, NULL};
	uint64_t cum = 0, bound;
	unsigned b = 0, k;

	family(out, name, "histogram", help);
	snprintf(series, sizeof series, "%s_bucket", name);
	for (k = METRICS_LE_MIN_EXP; k <= METRICS_LE_MAX_EXP; k++) {
		bound = ((uint64_t)1 << k) - 1;
		while (
		    b < COUNTERS_HIST_BUCKETS && hist_bucket_upper(b) <= bound)
			cum += buckets[b++];
		metrics_seconds(le, bound);
		sample_u64(out, series, labels, cum);
	}
	while (b < COUNTERS_HIST_BUCKETS)
		cum += buckets[b++];
	labels[1] = "+Inf";
	sample_u64(out, series, labels, cum);
	snprintf(series, sizeof series, "%s_sum", name);
	sample_seconds(out, series, NULL, sum_us);
	snprintf(series, sizeof series, "%s_count", name);
	sample_u64(out, series, NULL, cum);
}

static const char *
family_help(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof family_helps / sizeof family_helps[0]; i++) {
		if (strcmp(family_helps[i].family, name) == 0)
			return family_helps[i].help;
	}
	fatalx("metrics: no help for family %s", name);
}

/* Name a figure: from its table entry, else by the default rule. */
static void
row_name(struct row *r, const struct metric_name *m, const char *name,
    const char *suffix, const char *help)
{
	if (m->family != NULL)
		snprintf(r->family, sizeof r->family, "%s", m->family);
	else
		snprintf(
		    r->family, sizeof r->family, "jobd_%s%s", name, suffix);
	r->label = m->label;
	r->value = m->value;
	r->remainder = m->remainder;
	r->help = m->label != NULL ? family_help(r->family) : help;
}

/* Write rows[0..n) family by family, each where it first comes. */
static void
render_rows(struct evbuffer *out, struct row *rows, size_t n, const char *type)
{
	const char *labels[3] = {NULL, NULL, NULL};
	bool *done = xcalloc(n, sizeof *done);
	uint64_t others;
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		family(out, rows[i].family, type, rows[i].help);
		others = 0;
		for (j = i; j < n; j++) {
			if (!rows[j].remainder &&
			    strcmp(rows[j].family, rows[i].family) == 0)
				others += rows[j].u;
		}
		for (j = i; j < n; j++) {
			if (done[j] ||
			    strcmp(rows[j].family, rows[i].family) != 0)
				continue;
			done[j] = true;
			labels[0] = rows[j].label;
			labels[1] = rows[j].value;
			if (rows[j].is_signed)
				sample_i64(
				    out, rows[j].family, labels, rows[j].s);
			else if (rows[j].remainder)
				sample_u64(out, rows[j].family, labels,
				    rows[j].u > others ? rows[j].u - others
				                       : 0);
			else
				sample_u64(
				    out, rows[j].family, labels, rows[j].u);
		}
	}
	free(done);
}

static void
render_counters(struct evbuffer *out)
{
	struct row rows[COUNTER_MAX];
	unsigned i;

	memset(rows, 0, sizeof rows);
	for (i = 0; i < COUNTER_MAX; i++) {
		row_name(&rows[i], &counter_names[i],
		    counter_name((enum counter_id)i), "_total",
		    counter_help((enum counter_id)i));
		rows[i].u = counters_get(jobd.counters, (enum counter_id)i);
	}
	render_rows(out, rows, COUNTER_MAX, "counter");
}

static void
render_gauges(struct evbuffer *out)
{
	struct row rows[GAUGE_MAX];
	unsigned i;

	memset(rows, 0, sizeof rows);
	for (i = 0; i < GAUGE_MAX; i++) {
		row_name(&rows[i], &gauge_names[i],
		    gauge_name((enum gauge_id)i), "",
		    gauge_help((enum gauge_id)i));
		rows[i].is_signed = true;
		rows[i].s = gauges_get(jobd.counters, (enum gauge_id)i);
	}
	render_rows(out, rows, GAUGE_MAX, "gauge");
}

static void
render_histograms(struct evbuffer *out)
{
	uint64_t buckets[COUNTERS_HIST_BUCKETS];
	char name[METRICS_NAME_MAX];
	struct hist_summary hs;
	const char *raw;
	size_t len;
	unsigned i;

	for (i = 0; i < HIST_MAX; i++) {
		raw = hist_name((enum hist_id)i);
		len = strlen(raw);
		if (hist_names[i] != NULL)
			snprintf(name, sizeof name, "%s", hist_names[i]);
		else if (len > 3 && strcmp(raw + len - 3, "_us") == 0)
			snprintf(name, sizeof name, "jobd_%.*s_seconds",
			    (int)(len - 3), raw);
		else
			fatalx("metrics: histogram %s is not in microseconds",
			    raw);
		hists_get_buckets(jobd.counters, (enum hist_id)i, buckets, &hs);
		metrics_histogram(
		    out, name, hist_help((enum hist_id)i), buckets, hs.sum);
	}
}

static uint64_t
tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* A gauge family of one unlabelled sample. */
static void
gauge_u64(struct evbuffer *out, const char *name, const char *help, uint64_t v)
{
	family(out, name, "gauge", help);
	sample_u64(out, name, NULL, v);
}

static void
render_process(struct evbuffer *out)
{
	static const char *const version[] = {"version", PACKAGE_VERSION, NULL};
	static const char *const user[] = {"mode", "user", NULL};
	static const char *const sys[] = {"mode", "system", NULL};
	struct rusage ru;
	uint64_t now = now_ms();

	family(out, "jobd_build_info", "gauge",
	    "jobd's version, as a label; the value is 1");
	metrics_sample(out, "jobd_build_info", version, "1");
	family(out, "jobd_start_time_seconds", "gauge",
	    "when jobd started, seconds since the Unix epoch");
	sample_seconds(
	    out, "jobd_start_time_seconds", NULL, jobd.started_ms * 1000);
	family(
	    out, "jobd_uptime_seconds", "gauge", "seconds since jobd started");
	sample_seconds(out, "jobd_uptime_seconds", NULL,
	    now > jobd.started_ms ? (now - jobd.started_ms) * 1000 : 0);
	getrusage(RUSAGE_SELF, &ru);
	family(out, "jobd_cpu_seconds_total", "counter",
	    "CPU time jobd used, by mode (its jobs' processes not included)");
	sample_seconds(out, "jobd_cpu_seconds_total", user, tv_us(ru.ru_utime));
	sample_seconds(out, "jobd_cpu_seconds_total", sys, tv_us(ru.ru_stime));
	gauge_u64(out, "jobd_jobs_kept",
	    "jobs in jobd's table, finished ones included", sched_count_jobs());
	gauge_u64(out, "jobd_workers", "pool threads for in-process kinds",
	    (uint64_t)pool_size(jobd.pool));
	gauge_u64(out, "jobd_max_running",
	    "jobs that may run at once (--max-running)", jobd.cfg.max_running);
	gauge_u64(out, "jobd_max_queued",
	    "jobs that may wait to run (--max-queued)", jobd.cfg.max_queued);
}

static void
render_queues(struct evbuffer *out)
{
	static const char *const states[4] = {
	    "queued", "delayed", "waiting", "running"};
	static const char *const outcomes[6] = {"succeeded", "failed",
	    "timed_out", "cancelled", "expired", "dependency_failed"};
	struct queue_figures *f;
	struct queue **v;
	const char *labels[5] = {"queue", NULL, NULL, NULL, NULL};
	size_t i, n, k;

	v = queues_sorted(&n);
	f = xcalloc(n > 0 ? n : 1, sizeof *f);
	for (i = 0; i < n; i++)
		queue_figures(v[i], &f[i]);

	family(out, "jobd_queue_jobs", "gauge",
	    "jobs in each queue by state: queued (ready to run), delayed (a "
	    "delay or a retry's backoff), waiting (for dependencies), "
	    "running");
	labels[2] = "state";
	for (i = 0; i < n; i++) {
		const size_t counts[4] = {
		    f[i].queued, f[i].delayed, f[i].waiting, f[i].running};

		labels[1] = queue_name(v[i]);
		for (k = 0; k < sizeof states / sizeof states[0]; k++) {
			labels[3] = states[k];
			sample_u64(out, "jobd_queue_jobs", labels, counts[k]);
		}
	}

	family(out, "jobd_queue_jobs_submitted_total", "counter",
	    "jobs submitted to each queue");
	labels[2] = NULL;
	for (i = 0; i < n; i++) {
		labels[1] = queue_name(v[i]);
		sample_u64(out, "jobd_queue_jobs_submitted_total", labels,
		    f[i].submitted);
	}

	family(out, "jobd_queue_jobs_finished_total", "counter",
	    "jobs of each queue that reached a final state, by that state");
	labels[2] = "outcome";
	for (i = 0; i < n; i++) {
		const uint64_t counts[6] = {f[i].succeeded, f[i].failed,
		    f[i].timed_out, f[i].cancelled, f[i].expired,
		    f[i].dependency_failed};

		labels[1] = queue_name(v[i]);
		for (k = 0; k < sizeof outcomes / sizeof outcomes[0]; k++) {
			labels[3] = outcomes[k];
			sample_u64(out, "jobd_queue_jobs_finished_total",
			    labels, counts[k]);
		}
	}
	free(f);
	free(v);
}

static void
render_store(struct evbuffer *out)
{
	static const char *const p50[] = {"quantile", "0.5", NULL};
	static const char *const p99[] = {"quantile", "0.99", NULL};
	static const struct {
		const char *name, *help;
		size_t offset;
	} counts[] = {
	    {"jobd_store_commits_total", "transactions the store committed",
	        offsetof(struct store_stats, commits)},
	    {"jobd_store_batches_total",
	        "batches of changes committed (one per round of the event "
	        "loop; a commit takes all that wait)",
	        offsetof(struct store_stats, batches)},
	    {"jobd_store_records_total", "records written to the store",
	        offsetof(struct store_stats, records)},
	    {"jobd_store_commit_failures_total",
	        "commits that failed and were retried",
	        offsetof(struct store_stats, failures)},
	};
	struct store_stats st;
	size_t i;

	if (!store_enabled())
		return;
	store_get_stats(&st);
	for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		family(out, counts[i].name, "counter", counts[i].help);
		sample_u64(out, counts[i].name, NULL,
		    *(const uint64_t *)((const char *)&st + counts[i].offset));
	}
	family(out, "jobd_store_commit_seconds", "summary",
	    "time to commit a transaction, fsync included");
	sample_seconds(out, "jobd_store_commit_seconds", p50, st.commit_us_p50);
	sample_seconds(out, "jobd_store_commit_seconds", p99, st.commit_us_p99);
	sample_seconds(
	    out, "jobd_store_commit_seconds_sum", NULL, st.commit_us_sum);
	sample_u64(out, "jobd_store_commit_seconds_count", NULL, st.commits);
	gauge_u64(out, "jobd_store_pending_records",
	    "changes waiting to be committed", st.pending);
	gauge_u64(out, "jobd_store_size_bytes",
	    "the database file and its write-ahead log", st.db_bytes);
	gauge_u64(out, "jobd_store_up",
	    "1 if the store can write, 0 while its commits fail",
	    store_available() ? 1 : 0);
}

void
metrics_render(struct evbuffer *out)
{
	render_process(out);
	render_counters(out);
	render_gauges(out);
	render_histograms(out);
	render_queues(out);
	render_store(out);
}
