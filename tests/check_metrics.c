/*
 * check_metrics: the Prometheus exposition (daemon/metrics.c) and where
 * it is served.
 *
 * Unit tests of the renderer's pieces: label and help escaping, exact
 * microseconds-to-seconds text, and the histogram conversion (cumulative
 * buckets at jobd's own bucket edges, +Inf, _sum, _count).
 *
 * Integration tests against a real jobd with --metrics-listen 127.0.0.1:0:
 * jobs that succeed, fail and time out in two queues, then the exposition
 * through the stats op, through `jobctl stats --prometheus` and through
 * HTTP GET /metrics, each checked line by line (HELP and TYPE before the
 * samples, families together, names, labels and escapes, values), with
 * exact counts, per-queue figures, histograms (bucket order, _count equal
 * to the attempts, _sum equal to the JSON stats' sum) and every family
 * documented in jobd-protocol(7).  Bad input: an unknown format, extra
 * fields, other methods and paths, HTTP garbage, long targets and bodies,
 * non-loopback addresses; jobd keeps serving after each.
 * promtool's own check is in check_promtool.
 */
#include "config.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "counters.h"
#include "harness.h"
#include "metrics.h"

static struct harness H;

/* --- Reading an exposition ------------------------------------------------ */

static bool
name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || (!first && c >= '0' && c <= '9');
}

/* Past a metric (colon) or label name at p; NULL if there is none. */
static const char *
skip_name(const char *p, bool label)
{
	if (!name_char(*p, true) || (label && *p == ':'))
		return NULL;
	for (p++; name_char(*p, false) && !(label && *p == ':'); p++)
		;
	return p;
}

static bool
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * The whole text must be the format 0.0.4 as jobd writes it: each family a
 * "# HELP" then a "# TYPE" line (counter, gauge or histogram), then its
 * samples, never split; counters end in _total; histogram samples are
 * _bucket (with le), _sum and _count; labels quoted with only \\, \" and
 * \n escapes; values numbers; no series twice; a newline after each line.
 * Returns the number of samples.
 */
static int
check_exposition(const char *text)
{
	char family[128] = "", help[128] = "", type[16] = "", line[4096];
	json_t *families = json_object(), *series = json_object();
	const char *p = text, *nl, *q, *name, *v;
	size_t n, len;
	int nsamples = 0;
	char *end;
	double d;

	ck_assert_msg(text[0] != '\0', "empty exposition");
	ck_assert_msg(text[strlen(text) - 1] == '\n', "no final newline");
	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		len = (size_t)(nl - p);
		ck_assert_msg(len > 0 && len < sizeof line, "bad line length");
		memcpy(line, p, len);
		line[len] = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			q = skip_name(line + 7, false);
			ck_assert_msg(
			    q != NULL && *q == ' ', "bad HELP: %s", line);
			snprintf(help, sizeof help, "%.*s", (int)(q - line - 7),
			    line + 7);
			ck_assert_msg(json_object_get(families, help) == NULL,
			    "family %s twice", help);
			for (q++; *q != '\0'; q++) {
				if (*q == '\\')
					ck_assert_msg(
					    q[1] == '\\' || q[1] == 'n',
					    "bad escape in %s", line);
				if (*q == '\\')
					q++;
			}
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			q = skip_name(line + 7, false);
			ck_assert_msg(
			    q != NULL && *q == ' ', "bad TYPE: %s", line);
			snprintf(family, sizeof family, "%.*s",
			    (int)(q - line - 7), line + 7);
			ck_assert_msg(strcmp(family, help) == 0,
			    "TYPE %s without its HELP first", family);
			snprintf(type, sizeof type, "%s", q + 1);
			ck_assert_msg(strcmp(type, "counter") == 0 ||
			                  strcmp(type, "gauge") == 0 ||
			                  strcmp(type, "histogram") == 0 ||
			                  strcmp(type, "summary") == 0,
			    "bad type: %s", line);
			ck_assert_msg(
			    strcmp(type, "counter") != 0 ||
			        ends_with(family, strlen(family), "_total"),
			    "counter %s does not end in _total", family);
			ck_assert_msg(strncmp(family, "jobd_", 5) == 0,
			    "%s lacks the jobd_ prefix", family);
			json_object_set_new(families, family, json_true());
			help[0] = '\0';
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment: %s", line);
		/* A sample of the current family. */
		ck_assert_msg(
		    family[0] != '\0', "sample before TYPE: %s", line);
		name = line;
		q = skip_name(name, false);
		ck_assert_msg(q != NULL, "bad name: %s", line);
		n = (size_t)(q - name);
		if (strcmp(type, "histogram") == 0) {
			ck_assert_msg(
			    strncmp(name, family, strlen(family)) == 0 &&
			        (ends_with(name, n, "_bucket") ||
			            ends_with(name, n, "_sum") ||
			            ends_with(name, n, "_count")) &&
			        n - strlen(family) <= 7,
			    "%s is not a sample of histogram %s", line, family);
		} else if (strcmp(type, "summary") == 0) {
			/* Quantiles, then _sum and _count. */
			ck_assert_msg(
			    strncmp(name, family, strlen(family)) == 0 &&
			        ((n == strlen(family) &&
			             strncmp(q, "{quantile=\"", 11) == 0) ||
			            (n == strlen(family) + 4 &&
			                ends_with(name, n, "_sum")) ||
			            (n == strlen(family) + 6 &&
			                ends_with(name, n, "_count"))),
			    "%s is not a sample of summary %s", line, family);
		} else
			ck_assert_msg(n == strlen(family) &&
			                  strncmp(name, family, n) == 0,
			    "%s is not in family %s (split family?)", line,
			    family);
		if (*q == '{') {
			do {
				q = skip_name(q + 1, true);
				ck_assert_msg(
				    q != NULL && q[0] == '=' && q[1] == '"',
				    "bad label in %s", line);
				for (q += 2; *q != '"'; q++) {
					ck_assert_msg(*q != '\0',
					    "unterminated "
					    "label: %s",
					    line);
					if (*q == '\\') {
						ck_assert_msg(q[1] == '\\' ||
						                  q[1] == '"' ||
						                  q[1] == 'n',
						    "bad escape in %s", line);
						q++;
					}
				}
				q++;
			} while (*q == ',');
			ck_assert_msg(*q == '}', "bad labels: %s", line);
			q++;
		}
		if (ends_with(name, n, "_bucket"))
			ck_assert_msg(strstr(line, "le=\"") != NULL,
			    "bucket without le: %s", line);
		ck_assert_msg(*q == ' ', "no value: %s", line);
		{
			char key[4096];

			snprintf(
			    key, sizeof key, "%.*s", (int)(q - line), line);
			ck_assert_msg(json_object_get(series, key) == NULL,
			    "series twice: %s", key);
			json_object_set_new(series, key, json_true());
		}
		v = q + 1;
		if (strcmp(v, "+Inf") != 0 && strcmp(v, "-Inf") != 0 &&
		    strcmp(v, "NaN") != 0) {
			d = strtod(v, &end);
			ck_assert_msg(end != v && *end == '\0',
			    "bad value (or a timestamp): %s", line);
			if (strcmp(type, "gauge") != 0)
				ck_assert_msg(d >= 0, "negative: %s", line);
		}
		nsamples++;
	}
	json_decref(families);
	json_decref(series);
	return nsamples;
}

/* The value text of a series (name with labels, exactly as written). */
static const char *
value_text(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return p + n + 1;
		p += n;
	}
	ck_abort_msg("no series %s", series);
	return NULL;
}

static uint64_t
value_u64(const char *text, const char *series)
{
	const char *v = value_text(text, series);
	char *end;
	uint64_t n;

	n = strtoull(v, &end, 10);
	ck_assert_msg(end != v && *end == '\n', "%s is not an integer", series);
	return n;
}

/* A seconds value, read exactly, in microseconds. */
static uint64_t
value_us(const char *text, const char *series)
{
	const char *v = value_text(text, series);
	uint64_t whole = 0, frac = 0;
	int digits = 0;

	for (; *v >= '0' && *v <= '9'; v++)
		whole = whole * 10 + (uint64_t)(*v - '0');
	if (*v == '.') {
		for (v++; *v >= '0' && *v <= '9'; v++, digits++) {
			ck_assert_msg(
			    digits < 6, "%s: finer than 1 us", series);
			frac = frac * 10 + (uint64_t)(*v - '0');
		}
		ck_assert_int_gt(digits, 0);
	}
	ck_assert_msg(*v == '\n', "%s is not seconds", series);
	for (; digits < 6; digits++)
		frac *= 10;
	return whole * 1000000 + frac;
}

/*
 * Histogram name: its buckets in order of le, le increasing to +Inf,
 * counts never decreasing, the edges jobd promises, and _count equal to
 * the +Inf bucket.  Returns _count.
 */
static uint64_t
check_histogram(const char *text, const char *name)
{
	char prefix[128], series[160];
	const char *p = text, *le;
	uint64_t count, last = 0, inf = UINT64_MAX;
	double bound, prev = -1;
	int nbuckets = 0;
	char *end;

	snprintf(prefix, sizeof prefix, "\n%s_bucket{le=\"", name);
	while ((p = strstr(p, prefix)) != NULL) {
		le = p + strlen(prefix);
		ck_assert_msg(
		    inf == UINT64_MAX, "%s: a bucket after +Inf", name);
		if (strncmp(le, "+Inf\"", 5) == 0) {
			end = (char *)(uintptr_t)le + 4;
			bound = -1;
		} else {
			bound = strtod(le, &end);
			ck_assert_msg(
			    bound > prev, "%s: le not increasing", name);
			/* 2^k - 1 microseconds, k from the first edge on. */
			ck_assert_msg(
			    (uint64_t)(bound * 1e6 + 0.5) + 1 ==
			        (uint64_t)1 << (METRICS_LE_MIN_EXP + nbuckets),
			    "%s: bucket %d has le %.6f", name, nbuckets, bound);
			prev = bound;
		}
		ck_assert_msg(
		    strncmp(end, "\"} ", 3) == 0, "%s: bad bucket", name);
		count = strtoull(end + 3, &end, 10);
		ck_assert_msg(
		    count >= last, "%s: buckets not cumulative", name);
		last = count;
		if (bound < 0)
			inf = count;
		nbuckets++;
		p = end;
	}
	ck_assert_int_eq(
	    nbuckets, METRICS_LE_MAX_EXP - METRICS_LE_MIN_EXP + 1 + 1);
	ck_assert_msg(inf != UINT64_MAX, "%s: no +Inf bucket", name);
	snprintf(series, sizeof series, "%s_count", name);
	ck_assert_uint_eq(value_u64(text, series), inf);
	snprintf(series, sizeof series, "%s_sum", name);
	(void)value_us(text, series);
	return inf;
}

/* The body of an HTTP response (after the blank line). */
static const char *
http_body(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	ck_assert_ptr_nonnull(p);
	return p + 4;
}

static int
http_status(const char *resp)
{
	ck_assert_msg(
	    strncmp(resp, "HTTP/1.", 7) == 0, "not HTTP: %.80s", resp);
	return atoi(resp + 9);
}

/* A header's value, copied into buf ("" if absent). */
static const char *
http_header(const char *resp, const char *name, char *buf, size_t len)
{
	const char *p = resp, *end = strstr(resp, "\r\n\r\n");
	size_t n = strlen(name), vlen;

	buf[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL && p < end) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			vlen = strcspn(p, "\r");
			snprintf(buf, len, "%.*s", (int)vlen, p);
			break;
		}
	}
	return buf;
}

static char *
http(const char *request)
{
	char *resp = harness_http(H.metrics_port, request, strlen(request));

	ck_assert_msg(resp != NULL, "no HTTP response to %.60s", request);
	return resp;
}

/* The exposition through the stats op; free() it. */
static char *
stats_text(struct client *c)
{
	json_t *r = call_ok(c, "{\"op\":\"stats\",\"format\":\"prometheus\"}");
	char *text;

	ck_assert_ptr_nonnull(str(r, "text"));
	ck_assert_ptr_null(json_object_get(r, "stats"));
	text = strdup(str(r, "text"));
	json_decref(r);
	return text;
}

/* --- Unit tests ----------------------------------------------------------- */

static char *
buffer_text(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_escape)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	metrics_escape(b, "a\\b\"c\nd", true);
	s = buffer_text(b);
	ck_assert_str_eq(s, "a\\\\b\\\"c\\nd");
	free(s);
	/* HELP text: the quote stays. */
	metrics_escape(b, "a\\b\"c\nd", false);
	s = buffer_text(b);
	ck_assert_str_eq(s, "a\\\\b\"c\\nd");
	free(s);
	metrics_escape(b, "", true);
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	metrics_escape(b, "\n\n\\", true);
	s = buffer_text(b);
	ck_assert_str_eq(s, "\\n\\n\\\\");
	free(s);
	metrics_escape(b, "plain-name_1.2", true);
	s = buffer_text(b);
	ck_assert_str_eq(s, "plain-name_1.2");
	free(s);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_sample)
{
	static const char *const plain[] = {
	    "queue", "nightly-1.x", "state", "queued", NULL};
	static const char *const quoted[] = {"queue", "a\\b\"c\nd", NULL};
	/* One escape each: each must be seen on its own. */
	static const char *const quote[] = {"a", "say \"hi\"", NULL};
	static const char *const backslash[] = {"b", "C:\\", NULL};
	static const char *const newline[] = {"c", "x\n", NULL};
	const char *labels[] = {"queue", NULL, NULL};
	struct evbuffer *b = evbuffer_new();
	char *s, *want, longname[700];

	metrics_sample(b, "jobd_x", NULL, "1");
	metrics_sample(b, "jobd_y", plain, "0");
	metrics_sample(b, "jobd_z", quoted, "2.5");
	metrics_sample(b, "jobd_w", quote, "3");
	metrics_sample(b, "jobd_w", backslash, "4");
	metrics_sample(b, "jobd_w", newline, "5");
	s = buffer_text(b);
	ck_assert_str_eq(s, "jobd_x 1\n"
	                    "jobd_y{queue=\"nightly-1.x\",state=\"queued\"} 0\n"
	                    "jobd_z{queue=\"a\\\\b\\\"c\\nd\"} 2.5\n"
	                    "jobd_w{a=\"say \\\"hi\\\"\"} 3\n"
	                    "jobd_w{b=\"C:\\\\\"} 4\n"
	                    "jobd_w{c=\"x\\n\"} 5\n");
	free(s);
	/* Longer than a line's buffer: the same text, piece by piece. */
	memset(longname, 'q', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	labels[1] = longname;
	metrics_sample(b, "jobd_long", labels, "7");
	s = buffer_text(b);
	ck_assert_int_ne(
	    asprintf(&want, "jobd_long{queue=\"%s\"} 7\n", longname), -1);
	ck_assert_str_eq(s, want);
	free(want);
	free(s);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_seconds)
{
	static const struct {
		uint64_t us;
		const char *text;
	} cases[] = {
	    {0, "0"},
	    {1, "0.000001"},
	    {7, "0.000007"},
	    {15, "0.000015"},
	    {1023, "0.001023"},
	    {100000, "0.1"},
	    {1500000, "1.5"},
	    {2000000, "2"},
	    {1310558, "1.310558"},
	    {34359738367ULL, "34359.738367"},
	    {UINT64_MAX, "18446744073709.551615"},
	};
	char buf[METRICS_SECONDS_LEN];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		metrics_seconds(buf, cases[i].us);
		ck_assert_str_eq(buf, cases[i].text);
	}
}
END_TEST

START_TEST(test_histogram)
{
	/* Values on both sides of edges, past the last edge, and zero. */
	static const uint64_t values[] = {0, 15, 16, 1000, 1023, 1024, 5000000,
	    34359738367ULL, 34359738368ULL, UINT64_MAX / 2};
	uint64_t buckets[COUNTERS_HIST_BUCKETS] = {0};
	struct evbuffer *b = evbuffer_new();
	char *text;
	size_t i;
	unsigned k;

	for (i = 0; i < sizeof values / sizeof values[0]; i++)
		buckets[hist_bucket_of(values[i])]++;
	/* Every le is the upper edge of one of jobd's buckets: exact. */
	for (k = METRICS_LE_MIN_EXP; k <= METRICS_LE_MAX_EXP; k++) {
		uint64_t edge = ((uint64_t)1 << k) - 1;

		ck_assert_uint_eq(
		    hist_bucket_upper(hist_bucket_of(edge)), edge);
		ck_assert_uint_ne(
		    hist_bucket_of(edge), hist_bucket_of(edge + 1));
	}
	metrics_histogram(
	    b, "jobd_test_seconds", "a \"test\"\nhistogram", buckets, 1500000);
	text = buffer_text(b);
	evbuffer_free(b);
	ck_assert_int_eq(check_exposition(text),
	    METRICS_LE_MAX_EXP - METRICS_LE_MIN_EXP + 1 + 3);
	ck_assert_ptr_nonnull(
	    strstr(text, "# HELP jobd_test_seconds a \"test\"\\nhistogram\n"
	                 "# TYPE jobd_test_seconds histogram\n"));
	ck_assert_uint_eq(check_histogram(text, "jobd_test_seconds"), 10);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"0.000015\"}"), 2);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"0.000031\"}"), 3);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"0.000511\"}"), 3);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"0.001023\"}"), 5);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"0.002047\"}"), 6);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"4.194303\"}"), 6);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"8.388607\"}"), 7);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"34359.738367\"}"),
	    8);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_test_seconds_bucket{le=\"+Inf\"}"), 10);
	ck_assert_uint_eq(value_us(text, "jobd_test_seconds_sum"), 1500000);
	ck_assert_int_eq(
	    strncmp(value_text(text, "jobd_test_seconds_sum"), "1.5\n", 4), 0);
	free(text);
}
END_TEST

START_TEST(test_histogram_empty)
{
	uint64_t buckets[COUNTERS_HIST_BUCKETS] = {0};
	struct evbuffer *b = evbuffer_new();
	char *text;

	metrics_histogram(b, "jobd_empty_seconds", "none", buckets, 0);
	text = buffer_text(b);
	evbuffer_free(b);
	check_exposition(text);
	ck_assert_uint_eq(check_histogram(text, "jobd_empty_seconds"), 0);
	ck_assert_int_eq(
	    strncmp(value_text(text, "jobd_empty_seconds_sum"), "0\n", 2), 0);
	free(text);
}
END_TEST

/* --- Integration ---------------------------------------------------------- */

static const char *const with_metrics[] = {
    "--metrics-listen", "127.0.0.1:0", NULL};

/* jobd's start time must fall after this (ms since the epoch). */
static uint64_t before_start_ms;

static void
start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	before_start_ms =
	    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	ck_assert_int_eq(harness_start(&H, with_metrics), 0);
	ck_assert_int_gt(H.metrics_port, 0);
	ck_assert(harness_log_contains(&H, "metrics on http 127.0.0.1:"));
}

/* Submit a job and wait for its end; its final state. */
static void
run_job(struct client *c, const char *job, const char *want_state)
{
	json_t *r =
	    call_okf(c, "{\"op\":\"submit\",\"wait\":true,\"job\":%s}", job);

	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), want_state);
	json_decref(r);
}

/*
 * The fixture's work: in queue alpha two echo jobs succeed and `false`
 * fails; in beta an echo job succeeds and a sleep times out; then a sleep
 * in beta is left running.  Its id goes to *running.
 */
static void
run_jobs(struct client *c, json_int_t *running)
{
	json_t *r;
	int i;

	run_job(c, "{\"kind\":\"echo\",\"args\":{\"n\":1},\"queue\":\"alpha\"}",
	    "succeeded");
	run_job(c, "{\"kind\":\"echo\",\"args\":{\"n\":2},\"queue\":\"alpha\"}",
	    "succeeded");
	run_job(c,
	    "{\"kind\":\"exec\",\"argv\":[\"false\"],\"queue\":\"alpha\"}",
	    "failed");
	run_job(c, "{\"kind\":\"echo\",\"args\":{},\"queue\":\"beta\"}",
	    "succeeded");
	run_job(c,
	    "{\"kind\":\"sleep\",\"args\":{\"ms\":60000},\"timeout_ms\":50,"
	    "\"queue\":\"beta\"}",
	    "timed_out");
	r = call_ok(c, "{\"op\":\"submit\",\"job\":{\"kind\":\"sleep\","
	               "\"args\":{\"ms\":600000},\"queue\":\"beta\"}}");
	*running = num(json_object_get(r, "job"), "id");
	json_decref(r);
	/* Started at once (nothing else runs); each look is a round trip. */
	for (i = 0;; i++) {
		ck_assert_int_lt(i, 100000);
		r = call_okf(
		    c, "{\"op\":\"get\",\"job\":%lld}", (long long)*running);
		if (strcmp(str(json_object_get(r, "job"), "state"),
		        "running") == 0) {
			json_decref(r);
			break;
		}
		json_decref(r);
	}
}

/* Every family of text is described under PROMETHEUS in the man page. */
static void
check_documented(const char *text)
{
	const char *srcdir = getenv("srcdir");
	char path[4096], fam[128], *page = NULL, *sect, *endsect, *p;
	const char *t = text;
	size_t n = 0, cap = 0, r, len;
	FILE *f;

	snprintf(path, sizeof path, "%s/doc/jobd-protocol.7",
	    srcdir != NULL ? srcdir : "..");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	do {
		if (cap - n < 4096)
			page =
			    realloc(page, cap = cap == 0 ? 1 << 16 : cap * 2);
		r = fread(page + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	page[n] = '\0';
	sect = strstr(page, "\n.SH PROMETHEUS\n");
	ck_assert_msg(sect != NULL, "jobd-protocol.7 has no PROMETHEUS");
	if ((endsect = strstr(sect + 1, "\n.SH ")) != NULL)
		*endsect = '\0';
	while ((t = strstr(t, "# TYPE ")) != NULL) {
		t += 7;
		len = strcspn(t, " ");
		snprintf(fam, sizeof fam, "%.*s", (int)len, t);
		for (p = sect; (p = strstr(p, fam)) != NULL; p += len) {
			if (!name_char(p[-1], false) &&
			    !name_char(p[len], false))
				break;
		}
		ck_assert_msg(p != NULL,
		    "%s is not described under PROMETHEUS in "
		    "doc/jobd-protocol.7",
		    fam);
	}
	free(page);
}

START_TEST(test_through_op_jobctl_http)
{
	const char *argv[8];
	char addr[PATH_MAX + 8], hdr[256], series[256];
	char *text, *out = NULL, *err = NULL, *resp;
	json_int_t running;
	struct client c;
	json_t *r, *hist;
	uint64_t start_us;

	start();
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	run_jobs(&c, &running);
	/* Two lines that reach no op. */
	call_err(&c, "this is not json", "bad_json");
	call_err(&c, "{\"op\":\"nope\"}", "unknown_op");

	/* 1. The stats op. */
	text = stats_text(&c);
	ck_assert_int_gt(check_exposition(text), 100);
	check_documented(text);
	ck_assert_uint_eq(value_u64(text, "jobd_jobs_submitted_total"), 6);
	ck_assert_uint_eq(value_u64(text, "jobd_attempts_started_total"), 6);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_jobs_finished_total{outcome=\"succeeded\"}"),
	    3);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_jobs_finished_total{outcome=\"failed\"}"), 1);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_jobs_finished_total{outcome=\"timed_out\"}"),
	    1);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_jobs_finished_total{outcome=\"cancelled\"}"),
	    0);
	ck_assert_uint_eq(value_u64(text, "jobd_jobs{state=\"running\"}"), 1);
	ck_assert_uint_eq(value_u64(text, "jobd_jobs{state=\"queued\"}"), 0);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_requests_total{op=\"submit\"}"), 6);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_requests_total{op=\"stats\"}"), 1);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_requests_total{op=\"none\"}"), 2);
	/* Per queue. */
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs_submitted_total{"
	                                  "queue=\"alpha\"}"),
	    3);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs_submitted_total{"
	                                  "queue=\"beta\"}"),
	    3);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs_finished_total{"
	                                  "queue=\"alpha\",outcome="
	                                  "\"succeeded\"}"),
	    2);
	ck_assert_uint_eq(
	    value_u64(text, "jobd_queue_jobs_finished_total{"
	                    "queue=\"alpha\",outcome=\"failed\"}"),
	    1);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs_finished_total{"
	                                  "queue=\"alpha\",outcome="
	                                  "\"timed_out\"}"),
	    0);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs_finished_total{"
	                                  "queue=\"beta\",outcome="
	                                  "\"succeeded\"}"),
	    1);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs_finished_total{"
	                                  "queue=\"beta\",outcome="
	                                  "\"timed_out\"}"),
	    1);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs{queue=\"beta\","
	                                  "state=\"running\"}"),
	    1);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs{queue=\"alpha\","
	                                  "state=\"running\"}"),
	    0);
	ck_assert_uint_eq(value_u64(text, "jobd_queue_jobs{queue=\"beta\","
	                                  "state=\"queued\"}"),
	    0);
	/* Histograms: one wait per attempt started, one run per ended. */
	ck_assert_uint_eq(check_histogram(text, "jobd_queue_wait_seconds"), 6);
	/* Families in seconds say nothing of other units. */
	ck_assert_ptr_null(strstr(text, "microseconds"));
	ck_assert_uint_eq(
	    check_histogram(text, "jobd_attempt_duration_seconds"), 5);
	/* Process figures. */
	snprintf(series, sizeof series, "jobd_build_info{version=\"%s\"}",
	    PACKAGE_VERSION);
	ck_assert_uint_eq(value_u64(text, series), 1);
	start_us = value_us(text, "jobd_start_time_seconds");
	ck_assert_uint_ge(start_us / 1000, before_start_ms);
	(void)value_us(text, "jobd_uptime_seconds");
	(void)value_us(text, "jobd_cpu_seconds_total{mode=\"user\"}");
	(void)value_us(text, "jobd_cpu_seconds_total{mode=\"system\"}");
	ck_assert_uint_eq(value_u64(text, "jobd_jobs_kept"), 6);

	/*
	 * The same sums as the JSON stats: nothing ran or ended between the
	 * two requests (the sleep still runs), so they must agree exactly.
	 */
	r = call_ok(&c, "{\"op\":\"stats\",\"format\":\"json\"}");
	hist = json_object_get(json_object_get(r, "stats"), "histograms");
	ck_assert_uint_eq(value_us(text, "jobd_attempt_duration_seconds_sum"),
	    (uint64_t)num(json_object_get(hist, "run_time_us"), "sum"));
	ck_assert_uint_eq(value_us(text, "jobd_queue_wait_seconds_sum"),
	    (uint64_t)num(json_object_get(hist, "queue_wait_us"), "sum"));
	ck_assert_uint_eq(
	    value_u64(text, "jobd_attempt_duration_seconds_count"),
	    (uint64_t)num(json_object_get(hist, "run_time_us"), "count"));
	json_decref(r);
	free(text);

	/* 2. jobctl, after a cancel. */
	json_decref(call_okf(
	    &c, "{\"op\":\"cancel\",\"job\":%lld}", (long long)running));
	snprintf(addr, sizeof addr, "unix:%s", H.sock);
	argv[0] =
	    getenv("JOBCTL") != NULL ? getenv("JOBCTL") : "../client/jobctl";
	argv[1] = "--addr";
	argv[2] = addr;
	argv[3] = "stats";
	argv[4] = "--prometheus";
	argv[5] = NULL;
	ck_assert_int_eq(run_capture(argv, NULL, &out, &err), 0);
	ck_assert_str_eq(err, "");
	check_exposition(out);
	ck_assert_uint_eq(
	    value_u64(out, "jobd_jobs_finished_total{outcome=\"cancelled\"}"),
	    1);
	ck_assert_uint_eq(value_u64(out, "jobd_queue_jobs_finished_total{"
	                                 "queue=\"beta\",outcome="
	                                 "\"cancelled\"}"),
	    1);
	ck_assert_uint_eq(value_u64(out, "jobd_jobs{state=\"running\"}"), 0);
	ck_assert_uint_eq(
	    value_u64(out, "jobd_requests_total{op=\"cancel\"}"), 1);
	ck_assert_uint_eq(
	    check_histogram(out, "jobd_attempt_duration_seconds"), 6);
	free(out);
	free(err);
	/* --prometheus and --json: a usage error, and nothing on stdout. */
	argv[5] = "--json";
	argv[6] = NULL;
	ck_assert_int_eq(run_capture(argv, NULL, &out, &err), 125);
	ck_assert_str_eq(out, "");
	ck_assert_ptr_nonnull(strstr(err, "--prometheus and --json"));
	free(out);
	free(err);

	/* 3. HTTP GET /metrics. */
	resp = http("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	            "Connection: close\r\n\r\n");
	ck_assert_int_eq(http_status(resp), 200);
	ck_assert_str_eq(http_header(resp, "Content-Type", hdr, sizeof hdr),
	    "text/plain; version=0.0.4; charset=utf-8");
	check_exposition(http_body(resp));
	ck_assert_uint_eq(
	    value_u64(http_body(resp),
	        "jobd_jobs_finished_total{outcome=\"cancelled\"}"),
	    1);
	ck_assert_uint_eq(value_u64(http_body(resp),
	                      "jobd_queue_jobs_finished_total{queue=\"alpha\","
	                      "outcome=\"failed\"}"),
	    1);
	ck_assert_uint_eq(value_u64(http_body(resp),
	                      "jobd_queue_jobs_finished_total{queue=\"beta\","
	                      "outcome=\"timed_out\"}"),
	    1);
	ck_assert_uint_eq(
	    check_histogram(http_body(resp), "jobd_queue_wait_seconds"), 6);
	free(resp);
	/* HEAD: the headers, a length, no body. */
	resp = http("HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	            "Connection: close\r\n\r\n");
	ck_assert_int_eq(http_status(resp), 200);
	ck_assert_str_eq(http_body(resp), "");
	ck_assert_int_gt(
	    atoi(http_header(resp, "Content-Length", hdr, sizeof hdr)), 1000);
	free(resp);
	/* A query string is not part of the path. */
	resp = http("GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(http_status(resp), 200);
	check_exposition(http_body(resp));
	free(resp);

	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_bad_requests)
{
	static const struct {
		const char *request;
		int status;
		const char *says; /* in the body, or NULL */
	} cases[] = {
	    {"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
	     "Connection: close\r\n\r\nhi",
	        405, "GET or HEAD"},
	    {"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	        405, "GET or HEAD"},
	    {"OPTIONS /metrics HTTP/1.1\r\nHost: x\r\nConnection: "
	     "close\r\n\r\n",
	        405, "GET or HEAD"},
	    {"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404,
	        "/metrics"},
	    {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404,
	        "/metrics"},
	    {"GET /metrics/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	        404, "/metrics"},
	    {"BREW /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	        501, NULL},
	    {"\x16\x03\x01\x02 hello\r\n\r\n", 400, NULL},
	    {"GET\r\n\r\n", 400, NULL},
	};
	char big[40000], hdr[64];
	struct client c;
	char *resp;
	size_t i;
	int len;

	start();
	ck_assert_int_eq(client_unix(&c, H.sock), 0);

	/* The op: an unknown format, a wrong type, an extra field. */
	call_err(&c, "{\"op\":\"stats\",\"format\":\"xml\"}", "bad_request");
	call_err(&c, "{\"op\":\"stats\",\"format\":1}", "bad_request");
	call_err(
	    &c, "{\"op\":\"stats\",\"format\":\"Prometheus\"}", "bad_request");
	call_err(&c, "{\"op\":\"stats\",\"format\":\"prometheus\",\"x\":1}",
	    "bad_request");
	{
		json_t *r = client_call(
		    &c, "{\"op\":\"stats\",\"format\":\"xml\",\"id\":4}");

		ck_assert_ptr_nonnull(r);
		ck_assert_ptr_nonnull(strstr(
		    str(json_object_get(r, "error"), "message"),
		    "format must be \"json\" (the default) or \"prometheus\""));
		ck_assert_int_eq(num(r, "id"), 4);
		json_decref(r);
	}
	json_decref(call_ok(&c, "{\"op\":\"ping\"}"));

	/* HTTP: each gets its own status and jobd goes on. */
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		resp = http(cases[i].request);
		ck_assert_msg(strncmp(resp, "HTTP/1.", 7) == 0,
		    "%.30s: not HTTP: %.40s", cases[i].request, resp);
		ck_assert_msg(http_status(resp) == cases[i].status,
		    "%.30s: got %.40s", cases[i].request, resp);
		if (cases[i].status == 405)
			ck_assert_str_eq(
			    http_header(resp, "Allow", hdr, sizeof hdr),
			    "GET, HEAD");
		if (cases[i].says != NULL)
			ck_assert_ptr_nonnull(
			    strstr(http_body(resp), cases[i].says));
		free(resp);
	}
	/* A long target: 414 from jobd; past the header limit, 400. */
	len = snprintf(big, sizeof big,
	    "GET /metrics?%0*d HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n",
	    2000, 0);
	ck_assert_int_lt(len, (int)sizeof big);
	resp = http(big);
	ck_assert_int_eq(http_status(resp), 414);
	ck_assert_ptr_nonnull(strstr(http_body(resp), "URI too long"));
	free(resp);
	len = snprintf(big, sizeof big,
	    "GET /metrics?%0*d HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n",
	    32000, 0);
	ck_assert_int_lt(len, (int)sizeof big);
	resp = http(big);
	ck_assert_int_eq(http_status(resp), 400);
	free(resp);
	/* A body past the limit. */
	len = snprintf(big, sizeof big,
	    "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n"
	    "Connection: close\r\n\r\n%0*d",
	    30000, 0);
	ck_assert_int_lt(len, (int)sizeof big);
	resp = http(big);
	ck_assert_int_eq(http_status(resp), 413);
	free(resp);

	/* Still serving, both ways. */
	resp = http("GET /metrics HTTP/1.1\r\nHost: x\r\n"
	            "Connection: close\r\n\r\n");
	ck_assert_int_eq(http_status(resp), 200);
	check_exposition(http_body(resp));
	/* None of it was a protocol request. */
	ck_assert_uint_eq(
	    value_u64(http_body(resp), "jobd_requests_total{op=\"stats\"}"), 5);
	free(resp);
	json_decref(call_ok(&c, "{\"op\":\"ping\"}"));
	client_close(&c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* jobd refuses a metrics address it must not serve, and says why: exit
 * 2 for an address that is not one, 1 for one it will not serve. */
static void
expect_refused(const char *addr, const char *says, int status)
{
	char dir[] = "/tmp/jobd-metrics.XXXXXX", sock[128];
	const char *argv[12];
	char *out = NULL, *err = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/jobd.sock", dir);
	argv[0] = getenv("JOBD") != NULL ? getenv("JOBD") : "../daemon/jobd";
	argv[1] = "--config";
	argv[2] = "none";
	argv[3] = "--state-dir";
	argv[4] = "none";
	argv[5] = "--socket";
	argv[6] = sock;
	argv[7] = "--metrics-listen";
	argv[8] = addr;
	argv[9] = NULL;
	ck_assert_int_eq(run_capture(argv, NULL, &out, &err), status);
	ck_assert_msg(strstr(err, says) != NULL, "%s: %s", addr, err);
	ck_assert_ptr_null(strstr(err, " ready: "));
	free(out);
	free(err);
	unlink(sock);
	rmdir(dir);
}

START_TEST(test_refused_addresses)
{
	expect_refused("0.0.0.0:0", "only loopback addresses", 1);
	expect_refused("[::]:0", "only loopback addresses", 1);
	expect_refused("127.0.0.1", "expected HOST:PORT", 2);
	expect_refused("localhost:0", "give a numeric address", 2);
	expect_refused("127.0.0.1:http", "bad port \"http\"", 2);
	/* Not wrapped around to a port of its own choosing. */
	expect_refused("127.0.0.1:99999", "bad port \"99999\"", 2);
	expect_refused("127.0.0.1:65536", "expected 0 to 65535", 2);
	expect_refused("127.0.0.1:-1", "bad port \"-1\"", 2);
	expect_refused("127.0.0.1:", "bad port \"\"", 2);
}
END_TEST

/* metrics-listen is a key of jobd.conf like every long option. */
START_TEST(test_config_key)
{
	char conf[PATH_MAX], dir[] = "/tmp/jobd-metrics.XXXXXX";
	const char *extra[] = {"--config", conf, NULL};
	char *resp;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/jobd.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	fputs("# the metrics endpoint\nmetrics-listen = 127.0.0.1:0\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_gt(H.metrics_port, 0);
	resp = http("GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(http_status(resp), 200);
	check_exposition(http_body(resp));
	free(resp);
	ck_assert_int_eq(harness_stop(&H), 0);
	unlink(conf);
	rmdir(dir);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc;

	tc = tcase_create("render");
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_seconds);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_histogram_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("daemon");
	tcase_add_test(tc, test_through_op_jobctl_http);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_refused_addresses);
	tcase_add_test(tc, test_config_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(metrics_suite());
}
