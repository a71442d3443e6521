/*
 * cmd-dead: the commands about jobd's dead set, the jobs that ended failed
 * or timed_out after their last attempt: `dead` lists them (the table and
 * paging of `list`), `kick` requeues them with a fresh attempt budget (their
 * attempt history is kept) and `discard` deletes them for good.
 *
 * kick and discard take the same selectors: job ids, or --all (of one queue
 * with --queue).  Each is one request.  Naming a job that is not dead is not
 * an error to jobd: the job is just left alone, so the count in the reply
 * says what happened, and the exit status is 1 when it is 0.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobctl.h"

enum {
	OPT_LIMIT = CMD_OPT_COMMAND_FIRST,
	OPT_ALL,
	OPT_QUEUE,
	OPT_SINCE,
	OPT_UNTIL,
};

/* --- dead ----------------------------------------------------------------- */

static int
cmd_dead_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"queue", required_argument, NULL, OPT_QUEUE},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"all", no_argument, NULL, OPT_ALL},
	    CMD_COMMON_OPTIONS,
	};
	json_t *req = json_pack("{s:s}", "op", "dead");
	struct timespec now;
	uint64_t limit = 0;
	bool all = false;
	int c, status = -1;

	/* One "now" for both ends, as for list. */
	clock_gettime(CLOCK_REALTIME, &now);
	while (status == -1 && (c = cmd_getopt(ctx, argc, argv, "", options,
	                            false, &status)) != -1) {
		switch (c) {
		case CMD_GETOPT_EXIT:
			break;
		case OPT_QUEUE:
			if (cmd_parse_queue(ctx, "--queue", optarg) != 0)
				status = JOBCTL_EXIT_ERROR;
			else
				json_object_set_new(
				    req, "queue", json_string(optarg));
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			status = cmd_list_window(
			    ctx, c == OPT_SINCE, optarg, &now, req);
			break;
		case OPT_LIMIT:
			status = cmd_list_limit(ctx, optarg, &limit);
			break;
		case OPT_ALL:
			all = true;
			break;
		}
	}
	if (status == -1 && optind < argc)
		status = cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", argv[optind]);
	if (status == -1)
		status = cmd_list_pages(ctx, req, limit, all);
	json_decref(req);
	return status;
}

/* --- kick, discard -------------------------------------------------------- */

/*
 * Parse the selectors of kick and discard into a request for op: ids
 * ({"jobs":[...]}) or --all ({"all":true}, and "queue" with --queue).
 * NULL with *status set after --help or a usage error.
 */
static json_t *
parse_selectors(
    struct cmd_ctx *ctx, int argc, char **argv, const char *op, int *status)
{
	static const struct option options[] = {
	    {"all", no_argument, NULL, OPT_ALL},
	    {"queue", required_argument, NULL, OPT_QUEUE},
	    CMD_COMMON_OPTIONS,
	};
	const char *queue = NULL;
	bool all = false;
	json_t *req, *ids;
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "", options, false, status)) !=
	       -1) {
		switch (c) {
		case CMD_GETOPT_EXIT:
			return NULL;
		case OPT_ALL:
			all = true;
			break;
		case OPT_QUEUE:
			if (cmd_parse_queue(ctx, "--queue", optarg) != 0) {
				*status = JOBCTL_EXIT_ERROR;
				return NULL;
			}
			queue = optarg;
			break;
		}
	}
	*status = JOBCTL_EXIT_ERROR;
	if (all && optind < argc) {
		cmd_usage_error(ctx, "job ids or --all, not both");
		return NULL;
	}
	if (!all && optind == argc) {
		cmd_usage_error(ctx, "a job id or --all is required");
		return NULL;
	}
	if (!all && queue != NULL) {
		cmd_usage_error(ctx, "--queue goes with --all");
		return NULL;
	}
	req = json_pack("{s:s}", "op", op);
	if (all) {
		json_object_set_new(req, "all", json_true());
		if (queue != NULL)
			json_object_set_new(req, "queue", json_string(queue));
		return req;
	}
	if ((ids = cmd_parse_ids(ctx, argc, argv, optind)) == NULL) {
		json_decref(req);
		return NULL;
	}
	json_object_set_new(req, "jobs", ids);
	return req;
}

/* Was id among the jobs of the reply? */
static bool
has_job(const json_t *jobs, json_int_t id)
{
	const json_t *job;
	size_t i;

	json_array_foreach(jobs, i, job)
	{
		if (json_integer_value(json_object_get(job, "id")) == id)
			return true;
	}
	return false;
}

/* "kicked 2 jobs: 7 9". */
static void
print_kicked(const json_t *jobs, json_int_t n)
{
	const json_t *job;
	size_t i;

	printf("kicked %lld job%s%s", (long long)n, n == 1 ? "" : "s",
	    n > 0 ? ":" : "");
	json_array_foreach(jobs, i, job)
	{
		printf(" %lld",
		    (long long)json_integer_value(json_object_get(job, "id")));
	}
	putchar('\n');
}

static int
cmd_kick_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *req, *reply, *jobs, *job, *id;
	json_int_t n;
	int status;
	size_t i;

	if ((req = parse_selectors(ctx, argc, argv, "kick", &status)) == NULL)
		return status;
	if ((reply = cmd_call(ctx, req)) == NULL) {
		json_decref(req);
		return JOBCTL_EXIT_ERROR;
	}
	jobs = json_object_get(reply, "jobs");
	if (!json_is_integer(json_object_get(reply, "kicked")) ||
	    !json_is_array(jobs)) {
		out_warn("jobd's reply lacked the kicked jobs");
		json_decref(reply);
		json_decref(req);
		return JOBCTL_EXIT_ERROR;
	}
	n = json_integer_value(json_object_get(reply, "kicked"));
	if (!ctx->json)
		print_kicked(jobs, n);
	else {
		json_array_foreach(jobs, i, job)
		{
			out_json(job);
		}
	}
	/* The named jobs that were not dead, on stderr (--json too). */
	json_array_foreach(json_object_get(req, "jobs"), i, id)
	{
		if (!has_job(jobs, json_integer_value(id)))
			out_warn("job %lld is not dead: not kicked",
			    (long long)json_integer_value(id));
	}
	json_decref(reply);
	json_decref(req);
	return n > 0 ? JOBCTL_EXIT_OK : JOBCTL_EXIT_FAILED;
}

static int
cmd_discard_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *req, *reply, *count;
	json_int_t n;
	size_t named;
	int status;

	if ((req = parse_selectors(ctx, argc, argv, "discard", &status)) ==
	    NULL)
		return status;
	named = json_array_size(json_object_get(req, "jobs"));
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	count = json_object_get(reply, "discarded");
	if (!json_is_integer(count)) {
		out_warn("jobd's reply lacked the count of discarded jobs");
		json_decref(reply);
		return JOBCTL_EXIT_ERROR;
	}
	n = json_integer_value(count);
	if (ctx->json) {
		json_object_del(reply, "id");
		json_object_del(reply, "ok");
		out_json(reply);
	} else
		printf(
		    "discarded %lld job%s\n", (long long)n, n == 1 ? "" : "s");
	if (named > (size_t)n)
		out_warn("%zu of the %zu named job%s not dead (failed or "
		         "timed_out after its last attempt): not discarded",
		    named - (size_t)n, named, named == 1 ? " was" : "s were");
	json_decref(reply);
	return n > 0 ? JOBCTL_EXIT_OK : JOBCTL_EXIT_FAILED;
}

const struct cmd_entry cmd_dead_entry = {
    .name = "dead",
    .usage = "[--queue NAME] [--since TIME] [--until TIME] [--limit N] "
             "[--all]",
    .summary = "list the dead jobs: failed or timed out after their last "
               "attempt",
    .exec = cmd_dead_exec,
};

const struct cmd_entry cmd_kick_entry = {
    .name = "kick",
    .usage = "ID... | --all [--queue NAME]",
    .summary = "requeue dead jobs with a fresh attempt budget",
    .exec = cmd_kick_exec,
};

const struct cmd_entry cmd_discard_entry = {
    .name = "discard",
    .usage = "ID... | --all [--queue NAME]",
    .summary = "delete dead jobs for good",
    .exec = cmd_discard_exec,
};
