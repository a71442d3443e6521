/*
 * cmd-queue: the commands about jobd's named queues: `queues` lists them
 * as a table, `queue ACTION NAME` pauses, resumes, drains or clears one,
 * `queue limit NAME N` sets how many of its jobs may run at once, and
 * `queue set NAME OPTIONS` sets that and the rest of its settings: the
 * most jobs it may hold and the timeout and retry policy of jobs that
 * give none.
 *
 * Every action is one {"op":"queue"} request; jobd answers with the
 * queue's state after it, which is what the one-line summary (or the
 * --json object) shows.  Naming a queue jobd has not seen creates it,
 * so the name is checked here only for its form.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobctl.h"
#include "retry.h"

/* jobd's bound on a queue's concurrency; 0 means no limit. */
#define QUEUE_LIMIT_MAX 65536

static const struct option common_options[] = {CMD_COMMON_OPTIONS};

enum {
	OPT_LIMIT = CMD_OPT_COMMAND_FIRST,
	OPT_MAX_LENGTH,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_BACKOFF,
	OPT_NO_RETRY,
	OPT_RUN_AS,
	OPT_NO_RUN_AS,
};

static const struct option queue_options[] = {
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"max-length", required_argument, NULL, OPT_MAX_LENGTH},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"backoff", required_argument, NULL, OPT_BACKOFF},
    {"no-retry", no_argument, NULL, OPT_NO_RETRY},
    {"run-as", required_argument, NULL, OPT_RUN_AS},
    {"no-run-as", no_argument, NULL, OPT_NO_RUN_AS},
    CMD_COMMON_OPTIONS,
};

/* A queue action: its name on the command line and in the summary. */
struct queue_action {
	const char *name;
	const char *done; /* "queue NAME DONE (...)" */
};

static const struct queue_action queue_actions[] = {
    {"pause", "paused"},
    {"resume", "resumed"},
    {"drain", "draining"},
    {"clear", NULL}, /* says how many it cancelled instead */
    {"limit", NULL}, /* says the new limit instead */
    {"set", "set"},
};

/*
 * The settings `queue set` was given, as the request's fields: -1 to go
 * on, or the exit status of a usage error.
 */
static int
queue_setting(struct cmd_ctx *ctx, json_t *set, int opt, const char *arg)
{
	json_t *retry, *backoff;
	int status;
	uint64_t n;

	switch (opt) {
	case OPT_LIMIT:
		if (cmd_parse_uint(arg, 0, QUEUE_LIMIT_MAX, &n) != 0)
			return cmd_usage_error(ctx,
			    "--limit: \"%s\" is not from 0 (no limit) to %d",
			    arg, QUEUE_LIMIT_MAX);
		json_object_set_new(
		    set, "concurrency", json_integer((json_int_t)n));
		return -1;
	case OPT_MAX_LENGTH:
		if (cmd_parse_uint(arg, 0, INT64_MAX, &n) != 0)
			return cmd_usage_error(ctx,
			    "--max-length: \"%s\" is not a number of jobs (0: "
			    "no limit)",
			    arg);
		json_object_set_new(
		    set, "max_length", json_integer((json_int_t)n));
		return -1;
	case OPT_TIMEOUT:
		if (cmd_parse_duration(ctx, "--timeout", arg, &n) != 0)
			return JOBCTL_EXIT_ERROR;
		json_object_set_new(
		    set, "timeout_ms", json_integer((json_int_t)n));
		return -1;
	case OPT_NO_RETRY:
		if (json_is_object(json_object_get(set, "retry")))
			return cmd_usage_error(ctx,
			    "--no-retry goes with neither --retries nor "
			    "--backoff");
		json_object_set_new(set, "retry", json_null());
		return -1;
	case OPT_RUN_AS:
		if (json_is_null(json_object_get(set, "run_as")))
			return cmd_usage_error(
			    ctx, "--run-as or --no-run-as, not both");
		/* A user name or uid: jobd looks it up. */
		if (cmd_parse_uint(arg, 0, UINT32_MAX - 1, &n) == 0)
			json_object_set_new(
			    set, "run_as", json_integer((json_int_t)n));
		else
			json_object_set_new(set, "run_as", json_string(arg));
		return -1;
	case OPT_NO_RUN_AS:
		if (json_object_get(set, "run_as") != NULL)
			return cmd_usage_error(
			    ctx, "--run-as or --no-run-as, not both");
		json_object_set_new(set, "run_as", json_null());
		return -1;
	default:
		break;
	}
	retry = json_object_get(set, "retry");
	if (json_is_null(retry))
		return cmd_usage_error(ctx,
		    "--no-retry goes with neither --retries nor --backoff");
	if (!json_is_object(retry)) {
		retry = json_object();
		json_object_set_new(set, "retry", retry);
	}
	if (opt == OPT_RETRIES) {
		if (cmd_parse_uint(arg, 0, RETRY_MAX_ATTEMPTS - 1, &n) != 0)
			return cmd_usage_error(ctx,
			    "--retries: \"%s\" is not from 0 to %d", arg,
			    RETRY_MAX_ATTEMPTS - 1);
		json_object_set_new(
		    retry, "max_attempts", json_integer((json_int_t)n + 1));
		return -1;
	}
	if ((backoff = cmd_parse_backoff(ctx, arg, &status)) == NULL)
		return status;
	json_object_update_new(retry, backoff);
	return -1;
}

static json_int_t
field(const json_t *q, const char *key)
{
	return json_integer_value(json_object_get(q, key));
}

/* "active", "paused", "draining" or "paused,draining". */
static const char *
queue_state(const json_t *q)
{
	bool paused = json_is_true(json_object_get(q, "paused"));
	bool draining = json_is_true(json_object_get(q, "draining"));

	if (paused && draining)
		return "paused,draining";
	if (paused)
		return "paused";
	return draining ? "draining" : "active";
}

static const char *
queue_name(const json_t *q, const char *fallback)
{
	const char *name = json_string_value(json_object_get(q, "name"));

	return name != NULL ? name : fallback;
}

/* --- queues --------------------------------------------------------------- */

#define QUEUES_ROW "%-16s %7s %7s %6s %-15s %9s %9s %9s\n"

static void
print_queue_row(const json_t *q)
{
	char depth[24], running[24], limit[24], counts[3][24];

	snprintf(depth, sizeof depth, "%lld", (long long)field(q, "depth"));
	snprintf(
	    running, sizeof running, "%lld", (long long)field(q, "running"));
	if (field(q, "concurrency") > 0)
		snprintf(limit, sizeof limit, "%lld",
		    (long long)field(q, "concurrency"));
	else
		snprintf(limit, sizeof limit, "-");
	snprintf(counts[0], sizeof counts[0], "%lld",
	    (long long)field(q, "submitted"));
	snprintf(counts[1], sizeof counts[1], "%lld",
	    (long long)field(q, "succeeded"));
	snprintf(
	    counts[2], sizeof counts[2], "%lld", (long long)field(q, "failed"));
	printf(QUEUES_ROW, queue_name(q, "?"), depth, running, limit,
	    queue_state(q), counts[0], counts[1], counts[2]);
}

static int
cmd_queues_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *req, *reply, *queues, *q;
	int c, status;
	size_t i;

	while ((c = cmd_getopt(ctx, argc, argv, "", common_options, false,
	            &status)) != -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
	}
	if (optind < argc)
		return cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", argv[optind]);
	req = json_pack("{s:s, s:s}", "op", "queue", "action", "list");
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	queues = json_object_get(reply, "queues");
	if (!json_is_array(queues)) {
		out_warn("jobd's reply lacked the list of queues");
		json_decref(reply);
		return JOBCTL_EXIT_ERROR;
	}
	if (!ctx->json)
		printf(QUEUES_ROW, "NAME", "DEPTH", "RUNNING", "LIMIT", "STATE",
		    "SUBMITTED", "SUCCEEDED", "FAILED");
	json_array_foreach(queues, i, q)
	{
		if (ctx->json)
			out_json(q);
		else
			print_queue_row(q);
	}
	json_decref(reply);
	return JOBCTL_EXIT_OK;
}

/* --- queue ---------------------------------------------------------------- */

/* The one line that says what an action did. */
/* "queue q: limit 4, max length -, timeout 1h00m, retries 3, run as -";
 * "-" where there is none, as in the queues table. */
static void
print_settings(const char *name, const json_t *q)
{
	const json_t *retry = json_object_get(q, "retry");
	const json_t *run_as = json_object_get(q, "run_as");
	char limit[24] = "-", length[24] = "-", timeout[24] = "-";
	char user[64] = "-";

	if (field(q, "concurrency") > 0)
		snprintf(limit, sizeof limit, "%lld",
		    (long long)field(q, "concurrency"));
	if (field(q, "max_length") > 0)
		snprintf(length, sizeof length, "%lld",
		    (long long)field(q, "max_length"));
	if (field(q, "timeout_ms") > 0)
		out_duration_us(timeout, sizeof timeout,
		    1e3 * (double)field(q, "timeout_ms"));
	if (json_is_string(run_as))
		snprintf(user, sizeof user, "%s", json_string_value(run_as));
	else if (json_is_integer(run_as))
		snprintf(user, sizeof user, "uid %lld",
		    (long long)json_integer_value(run_as));
	printf("queue %s: limit %s, max length %s, timeout %s, retries %lld, "
	       "run as %s\n",
	    name, limit, length, timeout,
	    retry != NULL ? (long long)field(retry, "max_attempts") - 1 : 0LL,
	    user);
}

static void
print_summary(const struct queue_action *action, const json_t *reply,
    const char *fallback)
{
	const json_t *q = json_object_get(reply, "queue");
	const char *name = queue_name(q, fallback);
	json_int_t n;

	if (strcmp(action->name, "clear") == 0) {
		n = field(reply, "cleared");
		printf("queue %s cleared: %lld job%s cancelled\n", name,
		    (long long)n, n == 1 ? "" : "s");
		return;
	}
	if (strcmp(action->name, "set") == 0) {
		print_settings(name, q);
		return;
	}
	printf("queue %s ", name);
	if (action->done != NULL)
		printf("%s", action->done);
	else if ((n = field(q, "concurrency")) > 0)
		printf("limited to %lld running", (long long)n);
	else
		printf("unlimited");
	printf(" (%lld queued, %lld running)\n", (long long)field(q, "depth"),
	    (long long)field(q, "running"));
}

static int queue_exec(struct cmd_ctx *ctx, int argc, char **argv, json_t *set);

static int
cmd_queue_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *set = json_object();
	int c, status = -1;

	while (status == -1 && (c = cmd_getopt(ctx, argc, argv, "",
	                            queue_options, false, &status)) != -1) {
		if (c != CMD_GETOPT_EXIT)
			status = queue_setting(ctx, set, c, optarg);
	}
	if (status != -1) {
		json_decref(set);
		return status;
	}
	status = queue_exec(ctx, argc, argv, set);
	json_decref(set);
	return status;
}

static int
queue_exec(struct cmd_ctx *ctx, int argc, char **argv, json_t *set)
{
	const struct queue_action *action = NULL;
	json_t *req, *reply, *q;
	uint64_t limit = 0;
	const char *name;
	int want;
	size_t i;

	if (optind == argc)
		return cmd_usage_error(ctx, "an action is required");
	for (i = 0; i < sizeof queue_actions / sizeof queue_actions[0]; i++) {
		if (strcmp(argv[optind], queue_actions[i].name) == 0)
			action = &queue_actions[i];
	}
	if (action == NULL)
		return cmd_usage_error(
		    ctx, "unknown action \"%s\"", argv[optind]);
	want = strcmp(action->name, "limit") == 0 ? 3 : 2;
	if (argc - optind < 2)
		return cmd_usage_error(ctx, "%s needs a queue name%s",
		    action->name, want == 3 ? " and a number" : "");
	name = argv[optind + 1];
	if (cmd_parse_queue(ctx, "queue", name) != 0)
		return JOBCTL_EXIT_ERROR;
	if (want == 3 && argc - optind < 3)
		return cmd_usage_error(ctx, "limit needs a number");
	if (want == 3 &&
	    cmd_parse_uint(argv[optind + 2], 0, QUEUE_LIMIT_MAX, &limit) != 0)
		return cmd_usage_error(ctx,
		    "limit: \"%s\" is not from 0 (no limit) to %d",
		    argv[optind + 2], QUEUE_LIMIT_MAX);
	if (argc - optind > want)
		return cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", argv[optind + want]);
	if (json_object_size(set) > 0 && strcmp(action->name, "set") != 0)
		return cmd_usage_error(ctx,
		    "--limit, --max-length, --timeout, --retries, --backoff, "
		    "--no-retry, --run-as and --no-run-as are for queue set");
	if (json_object_size(set) == 0 && strcmp(action->name, "set") == 0)
		return cmd_usage_error(ctx,
		    "set needs one or more of --limit, --max-length, "
		    "--timeout, --retries, --backoff, --no-retry, --run-as, "
		    "--no-run-as");

	req = json_pack("{s:s, s:s, s:s}", "op", "queue", "action",
	    want == 3 ? "set" : action->name, "name", name);
	if (want == 3)
		json_object_set_new(
		    req, "concurrency", json_integer((json_int_t)limit));
	json_object_update(req, set);
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	q = json_object_get(reply, "queue");
	if (!json_is_object(q)) {
		out_warn("jobd's reply lacked the queue");
		json_decref(reply);
		return JOBCTL_EXIT_ERROR;
	}
	if (!ctx->json)
		print_summary(action, reply, name);
	else {
		if (json_object_get(reply, "cleared") != NULL)
			json_object_set(
			    q, "cleared", json_object_get(reply, "cleared"));
		out_json(q);
	}
	json_decref(reply);
	return JOBCTL_EXIT_OK;
}

const struct cmd_entry cmd_queues_entry = {
    .name = "queues",
    .usage = "",
    .summary = "list the queues: depth, running, limit, state, counts",
    .exec = cmd_queues_exec,
};

const struct cmd_entry cmd_queue_entry = {
    .name = "queue",
    .usage = "{pause|resume|drain|clear} NAME | limit NAME N | set NAME "
             "[--limit N] [--max-length N] [--timeout DUR] [--retries N] "
             "[--backoff SPEC] [--no-retry] [--run-as USER | --no-run-as]",
    .summary = "pause, resume, drain or clear a queue, or set its limit, "
               "max length, default timeout, retries and user",
    .exec = cmd_queue_exec,
};
