/*
 * cmd-info: the commands about jobd itself: stats and ping.
 *
 * stats prints jobd's snapshot as a table: its settings and uptime, the
 * counters and gauges by name, and each latency histogram (microseconds
 * on the wire, "_us" names) as count and p50/p90/p99/max in human units;
 * with --prometheus, jobd's Prometheus exposition of the same figures.
 * ping says hello (version, pid) and then times one ping round trip.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobctl.h"
#include "proto.h"

static const struct option common_options[] = {CMD_COMMON_OPTIONS};

/* Common options only, no operands. */
static int
parse_no_operands(struct cmd_ctx *ctx, int argc, char **argv)
{
	int c, status;

	while ((c = cmd_getopt(ctx, argc, argv, "", common_options, false,
	            &status)) != -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
	}
	if (optind < argc)
		return cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", argv[optind]);
	return -1;
}

static double
number(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : 0;
}

static void
human_bytes(char *buf, size_t len, double n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%.0f B", n);
		return;
	}
	while (n >= 1024 && u < 3) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", n, units[u]);
}

static size_t
key_width(const json_t *group, size_t width)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)(uintptr_t)group, key, value)
	{
		if (strlen(key) > width)
			width = strlen(key);
	}
	return width;
}

/* A group of named numbers ("counters", "gauges") as aligned lines. */
static void
print_numbers(const char *title, const json_t *group, size_t width)
{
	const char *key;
	json_t *value;
	char extra[48];

	if (!json_is_object(group))
		return;
	printf("\n%s\n", title);
	json_object_foreach((json_t *)(uintptr_t)group, key, value)
	{
		extra[0] = '\0';
		if (strncmp(key, "bytes_", 6) == 0 && number(value) >= 1024) {
			extra[0] = ' ';
			extra[1] = '(';
			human_bytes(extra + 2, sizeof extra - 3, number(value));
			strcat(extra, ")");
		}
		printf(
		    "  %-*s %12.0f%s\n", (int)width, key, number(value), extra);
	}
}

static void
print_histograms(const json_t *group)
{
	static const char *const cols[] = {"p50", "p90", "p99", "max"};
	char name[64], text[32];
	const char *key;
	json_t *h;
	size_t width = key_width(group, 10), n, i;
	bool micros;

	if (!json_is_object(group) || json_object_size(group) == 0)
		return;
	printf("\n%-*s %10s %9s %9s %9s %9s\n", (int)width + 2, "histograms",
	    "count", "p50", "p90", "p99", "max");
	json_object_foreach((json_t *)(uintptr_t)group, key, h)
	{
		/* "_us": microseconds, shown in human units. */
		n = strlen(key);
		micros = n > 3 && strcmp(key + n - 3, "_us") == 0;
		snprintf(
		    name, sizeof name, "%.*s", (int)(micros ? n - 3 : n), key);
		printf("  %-*s %10.0f", (int)width, name,
		    number(json_object_get(h, "count")));
		for (i = 0; i < 4; i++) {
			if (micros)
				out_duration_us(text, sizeof text,
				    number(json_object_get(h, cols[i])));
			else
				snprintf(text, sizeof text, "%.0f",
				    number(json_object_get(h, cols[i])));
			printf(" %9s", text);
		}
		putchar('\n');
	}
}

/* The store's line: durability, health, commits, latency, size. */
static void
print_store(const json_t *st)
{
	char p50[32], p99[32], size[32];
	const char *error = json_string_value(json_object_get(st, "error"));

	if (!json_is_object(st))
		return;
	out_duration_us(
	    p50, sizeof p50, number(json_object_get(st, "commit_us_p50")));
	out_duration_us(
	    p99, sizeof p99, number(json_object_get(st, "commit_us_p99")));
	human_bytes(size, sizeof size, number(json_object_get(st, "db_bytes")));
	printf("%-12s %s, %s; %.0f commits (%.1f batches each), commit p50 %s "
	       "p99 %s, %.0f pending, %s\n",
	    "store", json_string_value(json_object_get(st, "durability")),
	    json_is_true(json_object_get(st, "available")) ? "writing"
	                                                   : "NOT WRITING",
	    number(json_object_get(st, "commits")),
	    number(json_object_get(st, "avg_batch")), p50, p99,
	    number(json_object_get(st, "pending")), size);
	if (error != NULL)
		printf("%-12s %s\n", "store error", error);
}

static void
print_stats(const json_t *stats)
{
	const json_t *counters = json_object_get(stats, "counters");
	const json_t *gauges = json_object_get(stats, "gauges");
	size_t width = key_width(gauges, key_width(counters, 0));
	char a[32], b[32];

	out_duration_us(
	    a, sizeof a, number(json_object_get(stats, "uptime_s")) * 1e6);
	printf("%-12s %s\n", "uptime", a);
	out_duration_us(
	    a, sizeof a, number(json_object_get(stats, "cpu_user_s")) * 1e6);
	out_duration_us(
	    b, sizeof b, number(json_object_get(stats, "cpu_system_s")) * 1e6);
	printf("%-12s user %s, system %s\n", "cpu", a, b);
	printf("%-12s %.0f\n", "jobs kept",
	    number(json_object_get(stats, "jobs_kept")));
	printf("%-12s %.0f\n", "workers",
	    number(json_object_get(stats, "workers")));
	printf("%-12s %.0f\n", "max running",
	    number(json_object_get(stats, "max_running")));
	printf("%-12s %.0f\n", "max queued",
	    number(json_object_get(stats, "max_queued")));
	print_store(json_object_get(stats, "store"));
	print_numbers("counters", counters, width);
	print_numbers("gauges", gauges, width);
	print_histograms(json_object_get(stats, "histograms"));
}

enum { OPT_PROMETHEUS = CMD_OPT_COMMAND_FIRST };

static int
cmd_stats_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"prometheus", no_argument, NULL, OPT_PROMETHEUS},
	    CMD_COMMON_OPTIONS};
	const char *text;
	json_t *req, *reply;
	bool prometheus = false;
	int c, status;

	while ((c = cmd_getopt(ctx, argc, argv, "", options, false, &status)) !=
	       -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
		if (c == OPT_PROMETHEUS)
			prometheus = true;
	}
	if (optind < argc)
		return cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", argv[optind]);
	if (prometheus && ctx->json)
		return cmd_usage_error(
		    ctx, "--prometheus and --json do not go together");
	req = json_pack("{s:s}", "op", "stats");
	if (prometheus)
		json_object_set_new(req, "format", json_string("prometheus"));
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	if (prometheus) {
		if ((text = json_string_value(
		         json_object_get(reply, "text"))) == NULL) {
			out_warn("jobd sent no exposition text (is it older "
			         "than jobctl?)");
			json_decref(reply);
			return JOBCTL_EXIT_ERROR;
		}
		fputs(text, stdout);
	} else if (ctx->json)
		out_json(json_object_get(reply, "stats"));
	else
		print_stats(json_object_get(reply, "stats"));
	json_decref(reply);
	return JOBCTL_EXIT_OK;
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmd_ping_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *req, *hello, *reply;
	double t0, rtt;
	int status;

	if ((status = parse_no_operands(ctx, argc, argv)) != -1)
		return status;
	req = json_pack("{s:s, s:s, s:i}", "op", "hello", "client",
	    "jobctl " PACKAGE_VERSION, "protocol", PROTO_VERSION);
	hello = cmd_call(ctx, req);
	json_decref(req);
	if (hello == NULL)
		return JOBCTL_EXIT_ERROR;
	req = json_pack("{s:s}", "op", "ping");
	t0 = mono_ms();
	reply = cmd_call(ctx, req);
	rtt = mono_ms() - t0;
	json_decref(req);
	if (reply == NULL) {
		json_decref(hello);
		return JOBCTL_EXIT_ERROR;
	}
	json_decref(reply);
	if (ctx->json) {
		json_object_del(hello, "id");
		json_object_del(hello, "ok");
		json_object_set_new(hello, "rtt_ms", json_real(rtt));
		out_json(hello);
	} else
		printf("pong from %s %s (pid %lld) in %.3f ms\n",
		    json_string_value(json_object_get(hello, "server")) != NULL
		        ? json_string_value(json_object_get(hello, "server"))
		        : "jobd",
		    json_string_value(json_object_get(hello, "version")) != NULL
		        ? json_string_value(json_object_get(hello, "version"))
		        : "?",
		    (long long)json_integer_value(
		        json_object_get(hello, "pid")),
		    rtt);
	json_decref(hello);
	return JOBCTL_EXIT_OK;
}

const struct cmd_entry cmd_stats_entry = {
    .name = "stats",
    .usage = "[--prometheus]",
    .summary = "show jobd's counters, gauges and latency histograms "
               "(--prometheus: in Prometheus's text format)",
    .exec = cmd_stats_exec,
};

const struct cmd_entry cmd_ping_entry = {
    .name = "ping",
    .usage = "",
    .summary = "check that jobd answers, and how fast",
    .exec = cmd_ping_exec,
};
