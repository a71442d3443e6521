/*
 * cmd-cron: recurring jobs.  `cron add NAME SCHEDULE [OPTIONS] -- CMD`
 * stores a job spec (built by the same options as `run`) that jobd submits
 * on a cron schedule; `cron list` shows the entries as a table, `cron
 * remove NAME` deletes one, and `cron run NAME` fires one now.
 *
 * NAME and SCHEDULE come first so that the schedule, which has spaces and
 * stars, is one quoted operand and every option after it is the job's or
 * the entry's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobctl.h"

enum {
	OPT_TZ = CMD_OPT_SPEC_EXTRA,
	OPT_CATCH_UP,
	OPT_ALLOW_OVERLAP,
	OPT_REPLACE,
	OPT_USER,
};

static const struct option cron_options[] = {
    {"tz", required_argument, NULL, OPT_TZ},
    {"catch-up", no_argument, NULL, OPT_CATCH_UP},
    {"allow-overlap", no_argument, NULL, OPT_ALLOW_OVERLAP},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"user", required_argument, NULL, OPT_USER},
    {NULL, 0, NULL, 0},
};

static const struct option common_options[] = {CMD_COMMON_OPTIONS};

/* The entry options of `cron add`, into the request. */
static int
cron_option(struct cmd_ctx *ctx, int opt, const char *arg, void *data)
{
	json_t *req = data;

	switch (opt) {
	case OPT_TZ:
		if (arg[0] == '\0' ||
		    json_object_set_new(req, "tz", json_string(arg)) != 0)
			return cmd_usage_error(
			    ctx, "--tz: a zone name such as Europe/Berlin");
		break;
	case OPT_CATCH_UP:
		json_object_set_new(req, "catch_up", json_true());
		break;
	case OPT_ALLOW_OVERLAP:
		json_object_set_new(req, "overlap", json_string("allow"));
		break;
	case OPT_REPLACE:
		json_object_set_new(req, "replace", json_true());
		break;
	case OPT_USER:
		/* Who its jobs run as (an admin's choice): a name or uid. */
		if (arg[0] == '\0')
			return cmd_usage_error(
			    ctx, "--user: a user name or uid");
		if (strspn(arg, "0123456789") == strlen(arg) &&
		    strlen(arg) < 10)
			json_object_set_new(
			    req, "user", json_integer(atoll(arg)));
		else
			json_object_set_new(req, "user", json_string(arg));
		break;
	default:
		return cmd_usage_error(ctx, "unexpected option");
	}
	return -1;
}

static const char *
field_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

static void
print_entry_line(const char *what, const json_t *e)
{
	const char *at = json_string_value(json_object_get(e, "next_run_at"));
	time_t t = (time_t)(out_time_ms(at) / 1000);
	char next[32], zone[16] = "";
	struct tm tm;

	out_time(next, sizeof next, at);
	/* The time is this machine's, which need not be the schedule's
	 * zone: name it. */
	if (out_time_ms(at) >= 0 && localtime_r(&t, &tm) != NULL)
		strftime(zone, sizeof zone, " %Z", &tm);
	printf("cron %s %s: %s (%s), next at %s%s\n", field_str(e, "name"),
	    what, field_str(e, "schedule"), field_str(e, "tz"), next, zone);
}

static int
cron_add(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_spec_extra extra = {cron_options, cron_option, NULL};
	json_t *req, *spec = NULL, *reply;
	int status;

	if (argc < 4 || argv[2][0] == '-' || argv[3][0] == '\0')
		return cmd_usage_error(ctx,
		    "cron add needs NAME and SCHEDULE first, then the job: "
		    "cron add NAME 'SCHEDULE' [OPTION]... [--] CMD [ARG]...");
	if (cmd_parse_name(ctx, "cron add", "cron entry", argv[2]) != 0)
		return JOBCTL_EXIT_ERROR;
	req = json_pack("{s:s, s:s, s:s, s:s}", "op", "cron", "action", "add",
	    "name", argv[2], "schedule", argv[3]);
	extra.data = req;
	/* The job's options and command follow; getopt starts over. */
	argv[3] = argv[0];
	optind = 0;
	if ((status = cmd_spec_parse(ctx, argc - 3, argv + 3, &extra, &spec)) !=
	    -1) {
		json_decref(req);
		return status;
	}
	json_object_set_new(req, "job", spec);
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	if (ctx->json)
		out_json(json_object_get(reply, "cron"));
	else
		print_entry_line("added", json_object_get(reply, "cron"));
	json_decref(reply);
	return JOBCTL_EXIT_OK;
}

#define CRON_ROW "%-16s %-16s %-16s %-19s %-19s %5s %5s  %s\n"

static void
print_row(const json_t *e)
{
	char next[32], last[32], runs[24], skipped[24], *command;

	out_time(next, sizeof next,
	    json_string_value(json_object_get(e, "next_run_at")));
	out_time(last, sizeof last,
	    json_string_value(json_object_get(e, "last_run_at")));
	snprintf(runs, sizeof runs, "%lld",
	    (long long)json_integer_value(json_object_get(e, "runs")));
	snprintf(skipped, sizeof skipped, "%lld",
	    (long long)json_integer_value(json_object_get(e, "skipped")));
	command = out_command(json_object_get(e, "job"));
	printf(CRON_ROW, field_str(e, "name"), field_str(e, "schedule"),
	    field_str(e, "tz"), next, last, runs, skipped, command);
	free(command);
}

/* list, remove NAME, run NAME: nargs operands after the action. */
static int
cron_simple(struct cmd_ctx *ctx, const char *action, int nargs, char **args)
{
	bool list = strcmp(action, "list") == 0;
	json_t *req, *reply, *e;
	int status = JOBCTL_EXIT_OK;
	size_t i;

	if (list && nargs > 0)
		return cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", args[0]);
	if (!list && nargs != 1)
		return cmd_usage_error(ctx, "cron %s needs one NAME", action);
	if (!list && cmd_parse_name(ctx, action, "cron entry", args[0]) != 0)
		return JOBCTL_EXIT_ERROR;
	req = json_pack("{s:s, s:s}", "op", "cron", "action", action);
	if (!list)
		json_object_set_new(req, "name", json_string(args[0]));
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	if (list) {
		if (!ctx->json &&
		    json_array_size(json_object_get(reply, "cron")) > 0)
			printf(CRON_ROW, "NAME", "SCHEDULE", "TZ", "NEXT",
			    "LAST", "RUNS", "SKIP", "COMMAND");
		json_array_foreach(json_object_get(reply, "cron"), i, e)
		{
			if (ctx->json)
				out_json(e);
			else
				print_row(e);
		}
	} else if (ctx->json)
		out_json(strcmp(action, "run") == 0
		             ? json_object_get(reply, "job")
		             : json_object_get(reply, "cron"));
	else if (json_is_true(json_object_get(reply, "skipped"))) {
		out_warn("cron %s: skipped: job %lld has not finished", args[0],
		    (long long)json_integer_value(
		        json_object_get(json_object_get(reply, "job"), "id")));
		status = JOBCTL_EXIT_FAILED;
	} else if (strcmp(action, "run") == 0)
		printf("%lld\n", (long long)json_integer_value(json_object_get(
		                     json_object_get(reply, "job"), "id")));
	else
		printf("cron %s removed\n", args[0]);
	if (ctx->json && json_is_true(json_object_get(reply, "skipped")))
		status = JOBCTL_EXIT_FAILED;
	json_decref(reply);
	return status;
}

static int
cmd_cron_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	int c, status;

	/* Options before the action: --json, --addr, --help. */
	while ((c = cmd_getopt(ctx, argc, argv, "", common_options, true,
	            &status)) != -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 2)
		return cmd_usage_error(
		    ctx, "an action is required: add, list, remove or run");
	if (strcmp(argv[1], "add") == 0)
		return cron_add(ctx, argc, argv);
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "remove") == 0 ||
	    strcmp(argv[1], "run") == 0) {
		/* Options after the action (its word stands for argv[0]). */
		optind = 0;
		while ((c = cmd_getopt(ctx, argc - 1, argv + 1, "",
		            common_options, false, &status)) != -1) {
			if (c == CMD_GETOPT_EXIT)
				return status;
		}
		return cron_simple(
		    ctx, argv[1], argc - 1 - optind, argv + 1 + optind);
	}
	return cmd_usage_error(ctx, "unknown action \"%s\"", argv[1]);
}

const struct cmd_entry cmd_cron_entry = {
    .name = "cron",
    .usage =
        "add NAME 'SCHEDULE' [--tz ZONE] [--catch-up] "
        "[--allow-overlap] [--replace] [--user USER] [RUN OPTION]... [--] CMD "
        "[ARG]... | list | remove NAME | run NAME",
    .summary = "recurring jobs: add, list, remove, or fire one now",
    .exec = cmd_cron_exec,
};
