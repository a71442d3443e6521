/*
 * cmd-jobs: the commands about jobs already submitted: get, wait, cancel,
 * logs, list and watch (the commands about queues are in cmd-queue.c).  Each
 * is one request (cancel pipelines one per job, so an unknown id does not
 * hide the others' results; watch and logs --follow keep reading events).
 * States are printed as jobd names them, so a state jobctl has never heard
 * of shows as it is.  The paged job table of `list` is cmd_list_pages(),
 * which `dead` shares.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jobd.h>

#include "jobctl.h"
#include "xmalloc.h"

enum {
	OPT_TIMEOUT = CMD_OPT_COMMAND_FIRST,
	OPT_STATE,
	OPT_LIMIT,
	OPT_ALL,
	OPT_QUEUE,
	OPT_KEY,
	OPT_SINCE,
	OPT_UNTIL,
};

static const struct option common_options[] = {CMD_COMMON_OPTIONS};

/* Options and job id operands for commands that take nothing else. */
static json_t *
parse_id_operands(struct cmd_ctx *ctx, int argc, char **argv, int *status)
{
	int c;

	*status = -1;
	while ((c = cmd_getopt(ctx, argc, argv, "", common_options, false,
	            status)) != -1) {
		if (c == CMD_GETOPT_EXIT)
			return NULL;
	}
	return cmd_parse_ids(ctx, argc, argv, optind);
}

static const char *
state_of(const json_t *job)
{
	const char *s = json_string_value(json_object_get(job, "state"));

	return s != NULL ? s : "unknown";
}

/* --- get ------------------------------------------------------------------ */

static void
print_field(const char *key, const char *value)
{
	printf("%-11s %s\n", key, value != NULL ? value : "-");
}

/* "attempt 2:  failed, exit 3, started 2026-11-26 14:44:30, took 4.0ms" */
static void
print_attempt(const json_t *a)
{
	const char *outcome = json_string_value(json_object_get(a, "outcome"));
	const char *start = json_string_value(json_object_get(a, "started_at"));
	const json_t *code = json_object_get(a, "exit_code");
	const json_t *sig = json_object_get(a, "signal");
	int64_t t0 = out_time_ms(start);
	int64_t t1 =
	    out_time_ms(json_string_value(json_object_get(a, "ended_at")));
	char key[32], started[32], took[48] = "", codes[64] = "", line[256];

	snprintf(key, sizeof key, "attempt %lld:",
	    (long long)json_integer_value(json_object_get(a, "attempt")));
	out_time(started, sizeof started, start);
	if (json_is_integer(code))
		snprintf(codes, sizeof codes, ", exit %lld",
		    (long long)json_integer_value(code));
	else if (json_is_integer(sig))
		snprintf(codes, sizeof codes, ", signal %lld",
		    (long long)json_integer_value(sig));
	if (t0 >= 0 && t1 >= t0) {
		memcpy(took, ", took ", 7);
		out_duration_us(
		    took + 7, sizeof took - 7, (double)(t1 - t0) * 1000);
	}
	snprintf(line, sizeof line, "%s%s, started %s%s",
	    outcome != NULL ? outcome : "running", codes, started, took);
	print_field(key, line);
}

/* "3 attempts, exponential backoff from 1.00s to 5m00s", if it retries. */
static void
print_retry(const json_t *retry)
{
	const char *backoff =
	    json_string_value(json_object_get(retry, "backoff"));
	json_int_t attempts =
	    json_integer_value(json_object_get(retry, "max_attempts"));
	char base[24], max[24], line[128];

	if (attempts < 2 || backoff == NULL)
		return;
	out_duration_us(base, sizeof base,
	    (double)json_integer_value(json_object_get(retry, "base_ms")) *
	        1000);
	out_duration_us(max, sizeof max,
	    (double)json_integer_value(json_object_get(retry, "max_ms")) *
	        1000);
	if (strcmp(backoff, "fixed") == 0)
		snprintf(line, sizeof line, "%lld attempts, %s apart",
		    (long long)attempts, base);
	else
		snprintf(line, sizeof line,
		    "%lld attempts, %s backoff from %s to %s",
		    (long long)attempts, backoff, base, max);
	print_field("retry:", line);
}

/* "after: 12, 13 (any end), waiting for 1" */
static void
print_deps(const json_t *job)
{
	const json_t *deps = json_object_get(job, "depends_on"), *v;
	char buf[512];
	size_t i, used = 0;

	if (json_array_size(deps) == 0)
		return;
	buf[0] = '\0';
	json_array_foreach(deps, i, v)
	{
		if (used + 32 > sizeof buf) {
			snprintf(buf + used, sizeof buf - used, ", ...");
			used = strlen(buf);
			break;
		}
		used +=
		    (size_t)snprintf(buf + used, sizeof buf - used, "%s%lld",
		        i > 0 ? ", " : "", (long long)json_integer_value(v));
	}
	snprintf(buf + used, sizeof buf - used, " (%s)",
	    strcmp(json_string_value(json_object_get(job, "after")) != NULL
	               ? json_string_value(json_object_get(job, "after"))
	               : "ok",
	        "any") == 0
	        ? "any end"
	        : "success");
	used = strlen(buf);
	if ((v = json_object_get(job, "waiting_for")) != NULL)
		snprintf(buf + used, sizeof buf - used, ", waiting for %lld",
		    (long long)json_integer_value(v));
	print_field("after:", buf);
}

/* "limits: as 1.0 GiB, cpu 60s, nofile 64, nproc 100" */
static void
print_limits(const json_t *limits)
{
	const char *key;
	json_t *v;
	char buf[160];
	size_t used = 0;
	long long n;

	if (!json_is_object(limits) || json_object_size(limits) == 0)
		return;
	buf[0] = '\0';
	json_object_foreach((json_t *)(uintptr_t)limits, key, v)
	{
		n = (long long)json_integer_value(v);
		if (strcmp(key, "as") == 0 && n >= 1 << 20)
			snprintf(buf + used, sizeof buf - used, "%sas %lldM",
			    used > 0 ? ", " : "", n >> 20);
		else
			snprintf(buf + used, sizeof buf - used, "%s%s %lld%s",
			    used > 0 ? ", " : "", key, n,
			    strcmp(key, "cpu") == 0 ? "s" : "");
		used = strlen(buf);
	}
	print_field("limits:", buf);
}

static void
print_job(const json_t *job)
{
	const json_t *attempts = json_object_get(job, "attempts"), *a, *v;
	char buf[64], queue[CMD_QUEUE_NAME_MAX + 32], *text;
	size_t i;

	snprintf(buf, sizeof buf, "%lld",
	    (long long)json_integer_value(json_object_get(job, "id")));
	print_field("id:", buf);
	v = json_object_get(job, "kind");
	print_field("kind:", json_is_string(v) ? json_string_value(v) : "-");
	print_field("state:", state_of(job));
	if ((v = json_object_get(job, "queue")) != NULL) {
		snprintf(queue, sizeof queue, "%.*s", CMD_QUEUE_NAME_MAX,
		    json_is_string(v) ? json_string_value(v) : "-");
		if (json_is_integer(v = json_object_get(job, "priority")))
			snprintf(queue + strlen(queue),
			    sizeof queue - strlen(queue), ", priority %lld",
			    (long long)json_integer_value(v));
		print_field("queue:", queue);
	}
	if ((v = json_object_get(job, "key")) != NULL)
		print_field("key:", json_string_value(v));
	if ((v = json_object_get(job, "user")) != NULL)
		print_field("user:", json_string_value(v));
	else if ((v = json_object_get(job, "uid")) != NULL) {
		snprintf(buf, sizeof buf, "uid %lld",
		    (long long)json_integer_value(v));
		print_field("user:", buf);
	}
	print_deps(job);
	text = out_command(job);
	print_field(
	    json_object_get(job, "argv") != NULL ? "command:" : "args:", text);
	free(text);
	if ((v = json_object_get(job, "cwd")) != NULL)
		print_field("cwd:", json_string_value(v));
	print_limits(json_object_get(job, "limits"));
	if ((v = json_object_get(job, "timeout_ms")) != NULL) {
		out_duration_us(
		    buf, sizeof buf, (double)json_integer_value(v) * 1000);
		print_field("timeout:", buf);
	}
	print_retry(json_object_get(job, "retry"));
	out_time(buf, sizeof buf,
	    json_string_value(json_object_get(job, "submitted_at")));
	print_field("submitted:", buf);
	/* run_at: while the job waits (a delay, or a retry's backoff). */
	if ((v = json_object_get(job, "run_at")) != NULL) {
		out_time(buf, sizeof buf, json_string_value(v));
		print_field("run at:", buf);
	}
	if ((v = json_object_get(job, "expires_at")) != NULL) {
		out_time(buf, sizeof buf, json_string_value(v));
		print_field("expires:", buf);
	}
	if ((v = json_object_get(job, "finished_at")) != NULL) {
		out_time(buf, sizeof buf, json_string_value(v));
		print_field("finished:", buf);
	}
	if (json_array_size(attempts) == 0)
		print_field("attempts:",
		    json_object_get(job, "finished_at") != NULL ? "none"
		                                                : "none yet");
	json_array_foreach(attempts, i, a)
	{
		print_attempt(a);
	}
	if ((v = json_object_get(job, "exit_code")) != NULL ||
	    json_object_get(job, "signal") != NULL) {
		out_exit(buf, sizeof buf, job);
		/* out_exit() says "sig 9"; the key already says signal. */
		print_field(v != NULL ? "exit code:" : "signal:",
		    v == NULL && strncmp(buf, "sig ", 4) == 0 ? buf + 4 : buf);
	}
	if ((v = json_object_get(job, "error")) != NULL)
		print_field("error:", json_string_value(v));
	if ((v = json_object_get(job, "result")) != NULL) {
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		print_field("result:", text != NULL ? text : "?");
		free(text);
	}
}

static int
cmd_get_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *ids, *req, *reply, *id;
	int64_t *req_ids;
	int status;
	size_t i, shown = 0;

	if ((ids = parse_id_operands(ctx, argc, argv, &status)) == NULL)
		return status != -1 ? status : JOBCTL_EXIT_ERROR;
	if (cmd_connect(ctx) == NULL) {
		json_decref(ids);
		return JOBCTL_EXIT_ERROR;
	}
	/* One request per job, pipelined: a job jobd does not know is said,
	 * and the others are shown all the same. */
	status = JOBCTL_EXIT_OK;
	req_ids = xcalloc(json_array_size(ids), sizeof(*req_ids));
	json_array_foreach(ids, i, id)
	{
		req = json_pack("{s:s, s:O, s:b}", "op", "get", "job", id,
		    "output", ctx->json);
		req_ids[i] = jobd_send(ctx->conn, req);
		json_decref(req);
	}
	for (i = 0; i < json_array_size(ids); i++) {
		if ((reply = jobd_reply(ctx->conn, req_ids[i], -1)) == NULL) {
			cmd_conn_error(ctx);
			status = JOBCTL_EXIT_ERROR;
			break;
		}
		if (!json_is_true(json_object_get(reply, "ok"))) {
			cmd_reply_error(reply);
			status = JOBCTL_EXIT_ERROR;
		} else if (ctx->json)
			out_json(json_object_get(reply, "job"));
		else {
			if (shown++ > 0)
				putchar('\n');
			print_job(json_object_get(reply, "job"));
		}
		json_decref(reply);
	}
	free(req_ids);
	json_decref(ids);
	return status;
}

/* --- wait ----------------------------------------------------------------- */

static int
cmd_wait_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    CMD_COMMON_OPTIONS,
	};
	json_t *ids, *req, *reply, *job;
	uint64_t timeout_ms = 0;
	bool has_timeout = false;
	int c, status = JOBCTL_EXIT_OK;
	size_t i;

	while ((c = cmd_getopt(ctx, argc, argv, "", options, false, &status)) !=
	       -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
		if (cmd_parse_duration(ctx, "--timeout", optarg, &timeout_ms))
			return JOBCTL_EXIT_ERROR;
		has_timeout = true;
	}
	if ((ids = cmd_parse_ids(ctx, argc, argv, optind)) == NULL)
		return JOBCTL_EXIT_ERROR;
	req = json_pack(
	    "{s:s, s:o, s:b}", "op", "wait", "jobs", ids, "output", false);
	if (has_timeout)
		json_object_set_new(
		    req, "timeout_ms", json_integer((json_int_t)timeout_ms));
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	json_array_foreach(json_object_get(reply, "jobs"), i, job)
	{
		if (ctx->json)
			out_json(job);
		else
			printf("%lld %s\n",
			    (long long)json_integer_value(
			        json_object_get(job, "id")),
			    state_of(job));
		if (strcmp(state_of(job), "succeeded") != 0)
			status = JOBCTL_EXIT_FAILED;
	}
	if (json_is_true(json_object_get(reply, "timed_out")))
		status = JOBCTL_EXIT_TIMEOUT;
	json_decref(reply);
	return status;
}

/* --- cancel --------------------------------------------------------------- */

static int
cmd_cancel_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *ids, *req, *reply, *job, *id;
	json_int_t *req_ids;
	int status = JOBCTL_EXIT_OK;
	size_t i;

	if ((ids = parse_id_operands(ctx, argc, argv, &status)) == NULL)
		return status != -1 ? status : JOBCTL_EXIT_ERROR;
	if (cmd_connect(ctx) == NULL) {
		json_decref(ids);
		return JOBCTL_EXIT_ERROR;
	}
	/* One request per job, all in flight at once. */
	req_ids = xcalloc(json_array_size(ids), sizeof(*req_ids));
	json_array_foreach(ids, i, id)
	{
		req = json_pack("{s:s, s:O}", "op", "cancel", "job", id);
		req_ids[i] = jobd_send(ctx->conn, req);
		json_decref(req);
	}
	status = JOBCTL_EXIT_OK;
	json_array_foreach(ids, i, id)
	{
		if ((reply = jobd_reply(ctx->conn, req_ids[i], -1)) == NULL) {
			cmd_conn_error(ctx);
			status = JOBCTL_EXIT_ERROR;
			break;
		}
		job = json_object_get(reply, "job");
		if (!json_is_true(json_object_get(reply, "ok"))) {
			cmd_reply_error(reply);
			status = JOBCTL_EXIT_ERROR;
		} else if (ctx->json)
			out_json(job);
		else if (json_is_true(json_object_get(job, "cancelled")))
			printf("%lld cancelled\n",
			    (long long)json_integer_value(id));
		else
			printf("%lld already %s\n",
			    (long long)json_integer_value(id), state_of(job));
		json_decref(reply);
	}
	free(req_ids);
	json_decref(ids);
	return status;
}

/* --- logs ----------------------------------------------------------------- */

int
cmd_follow_print(const json_t *line, json_int_t id)
{
	const char *event = json_string_value(json_object_get(line, "event"));
	const char *stream = json_string_value(json_object_get(line, "stream"));

	if (event != NULL && strcmp(event, "output") == 0)
		return out_stream(line, "data",
		    stream != NULL && strcmp(stream, "stderr") == 0 ? stderr
		                                                    : stdout,
		    id);
	if (event != NULL && strcmp(event, "output_dropped") == 0)
		out_warn("job %lld: %lld bytes of output dropped (not kept, "
		         "or not read in time)",
		    (long long)id,
		    (long long)json_integer_value(
		        json_object_get(line, "bytes")));
	return 0;
}

/*
 * Follow a job's output until it finishes: stdout and stderr bytes as they
 * come (with --json, jobd's event lines).  Exit as `wait` would.
 */
static int
logs_follow(struct cmd_ctx *ctx, json_int_t id)
{
	json_t *req, *reply;
	json_int_t req_id;
	const char *event;
	int status;

	if (cmd_connect(ctx) == NULL)
		return JOBCTL_EXIT_ERROR;
	req = json_pack(
	    "{s:s, s:I, s:b}", "op", "logs", "job", id, "follow", true);
	req_id = jobd_send(ctx->conn, req);
	json_decref(req);
	for (;;) {
		if ((reply = jobd_reply(ctx->conn, req_id, -1)) == NULL) {
			cmd_conn_error(ctx);
			return JOBCTL_EXIT_ERROR;
		}
		if (!json_is_true(json_object_get(reply, "ok"))) {
			cmd_reply_error(reply);
			json_decref(reply);
			return JOBCTL_EXIT_ERROR;
		}
		event = json_string_value(json_object_get(reply, "event"));
		if (event == NULL) {
			/* The opening line: the follow is on. */
			json_decref(reply);
			continue;
		}
		if (ctx->json) {
			json_object_del(reply, "id");
			json_object_del(reply, "ok");
			out_json(reply);
		} else if (cmd_follow_print(reply, id) != 0) {
			json_decref(reply);
			return JOBCTL_EXIT_ERROR;
		}
		if (strcmp(event, "finished") == 0) {
			/* As `wait`: 0 if it succeeded, 1 if not. */
			status = strcmp(state_of(reply), "succeeded") == 0
			             ? JOBCTL_EXIT_OK
			             : JOBCTL_EXIT_FAILED;
			json_decref(reply);
			return status;
		}
		json_decref(reply);
	}
}

static int
cmd_logs_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"follow", no_argument, NULL, 'f'},
	    CMD_COMMON_OPTIONS,
	};
	json_t *ids, *req, *reply;
	json_int_t id;
	bool follow = false;
	int c, status = JOBCTL_EXIT_OK;

	while ((c = cmd_getopt(
	            ctx, argc, argv, "f", options, false, &status)) != -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
		if (c == 'f')
			follow = true;
	}
	if (argc - optind > 1)
		return cmd_usage_error(ctx, "one job id, please");
	if ((ids = cmd_parse_ids(ctx, argc, argv, optind)) == NULL)
		return JOBCTL_EXIT_ERROR;
	id = json_integer_value(json_array_get(ids, 0));
	json_decref(ids);
	if (follow)
		return logs_follow(ctx, id);
	req = json_pack("{s:s, s:I}", "op", "logs", "job", id);
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	status = JOBCTL_EXIT_OK;
	if (ctx->json) {
		json_object_del(reply, "id");
		json_object_del(reply, "ok");
		out_json(reply);
	} else if (out_stream(reply, "stdout", stdout, id) != 0 ||
	           out_stream(reply, "stderr", stderr, id) != 0)
		status = JOBCTL_EXIT_ERROR;
	json_decref(reply);
	return status;
}

/* --- list ----------------------------------------------------------------- */

#define LIST_ROW "%-7s %-17s %-10s %-8s %-6s %-19s %s\n"

static void
print_row(const json_t *job)
{
	char id[32], exit_text[32], submitted[32], *command;
	const char *kind, *queue;

	snprintf(id, sizeof id, "%lld",
	    (long long)json_integer_value(json_object_get(job, "id")));
	out_exit(exit_text, sizeof exit_text, job);
	out_time(submitted, sizeof submitted,
	    json_string_value(json_object_get(job, "submitted_at")));
	command = out_command(job);
	kind = json_string_value(json_object_get(job, "kind"));
	/* A jobd without queues sends none. */
	queue = json_string_value(json_object_get(job, "queue"));
	printf(LIST_ROW, id, state_of(job), queue != NULL ? queue : "-",
	    kind != NULL ? kind : "-", exit_text, submitted, command);
	free(command);
}

static int
cmd_list_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"state", required_argument, NULL, OPT_STATE},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"all", no_argument, NULL, OPT_ALL},
	    {"queue", required_argument, NULL, OPT_QUEUE},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    CMD_COMMON_OPTIONS,
	};
	json_t *req = json_pack("{s:s}", "op", "list"), *states;
	char *copy, *word, *save;
	struct timespec now;
	uint64_t limit = 0;
	bool all = false;
	int c, status = -1;

	/* One "now" for both ends: --since -2h --until -1h is one hour. */
	clock_gettime(CLOCK_REALTIME, &now);
	while (status == -1 && (c = cmd_getopt(ctx, argc, argv, "", options,
	                            false, &status)) != -1) {
		switch (c) {
		case CMD_GETOPT_EXIT:
			break;
		case OPT_STATE:
			if ((states = json_object_get(req, "state")) == NULL) {
				states = json_array();
				json_object_set_new(req, "state", states);
			}
			copy = xstrdup(optarg);
			for (word = strtok_r(copy, ",", &save); word != NULL;
			     word = strtok_r(NULL, ",", &save))
				json_array_append_new(
				    states, json_string(word));
			free(copy);
			break;
		case OPT_LIMIT:
			status = cmd_list_limit(ctx, optarg, &limit);
			break;
		case OPT_ALL:
			all = true;
			break;
		case OPT_QUEUE:
			if (cmd_parse_queue(ctx, "--queue", optarg) != 0)
				status = JOBCTL_EXIT_ERROR;
			else
				json_object_set_new(
				    req, "queue", json_string(optarg));
			break;
		case OPT_KEY:
			json_object_set_new(req, "key", json_string(optarg));
			if (json_object_get(req, "key") == NULL)
				status = cmd_usage_error(
				    ctx, "--key: not valid UTF-8");
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			status = cmd_list_window(
			    ctx, c == OPT_SINCE, optarg, &now, req);
			break;
		}
	}
	if (status == -1 && optind < argc)
		status = cmd_usage_error(
		    ctx, "unexpected argument \"%s\"", argv[optind]);
	/* One page: the newest jobs (in id order); --all: every page. */
	if (status == -1 && !all)
		json_object_set_new(req, "newest", json_true());
	if (status == -1)
		status = cmd_list_pages(ctx, req, limit, all);
	json_decref(req);
	return status;
}

int
cmd_list_window(struct cmd_ctx *ctx, bool since, const char *arg,
    const struct timespec *now, json_t *req)
{
	return cmd_parse_time(ctx, since ? "--since" : "--until", arg, now,
	    true, req, since ? "since" : "until");
}

int
cmd_list_limit(struct cmd_ctx *ctx, const char *arg, uint64_t *limit)
{
	if (cmd_parse_uint(arg, 1, CMD_LIST_PAGE_MAX, limit) == 0)
		return -1;
	return cmd_usage_error(
	    ctx, "--limit: expected a number from 1 to %d", CMD_LIST_PAGE_MAX);
}

int
cmd_list_pages(struct cmd_ctx *ctx, json_t *req, uint64_t limit, bool all)
{
	json_t *reply, *job, *next;
	bool header = false;
	size_t i;

	if (limit > 0 || all)
		json_object_set_new(req, "limit",
		    json_integer(limit > 0 ? (json_int_t)limit : 1000));
	for (;;) {
		if ((reply = cmd_call(ctx, req)) == NULL)
			return JOBCTL_EXIT_ERROR;
		if (!ctx->json && !header) {
			printf(LIST_ROW, "ID", "STATE", "QUEUE", "KIND", "EXIT",
			    "SUBMITTED", "COMMAND");
			header = true;
		}
		json_array_foreach(json_object_get(reply, "jobs"), i, job)
		{
			if (ctx->json)
				out_json(job);
			else
				print_row(job);
		}
		next = json_object_get(reply, "next");
		if (json_is_integer(json_object_get(reply, "older")))
			out_warn("older jobs before %lld: use --all",
			    (long long)json_integer_value(
			        json_object_get(reply, "older")));
		if (!json_is_integer(next)) {
			json_decref(reply);
			return JOBCTL_EXIT_OK;
		}
		if (json_integer_value(next) <=
		        json_integer_value(json_object_get(req, "after")) ||
		    json_array_size(json_object_get(reply, "jobs")) == 0) {
			out_warn("jobd's %s cursor did not advance",
			    json_string_value(json_object_get(req, "op")));
			json_decref(reply);
			return JOBCTL_EXIT_ERROR;
		}
		if (!all) {
			/* On stderr, so --json output stays clean. */
			out_warn("more jobs after %lld: use --all",
			    (long long)json_integer_value(next));
			json_decref(reply);
			return JOBCTL_EXIT_OK;
		}
		json_object_set(req, "after", next);
		json_decref(reply);
	}
}

/* --- watch ---------------------------------------------------------------- */

static void
print_event(const json_t *event)
{
	const json_t *job = json_object_get(event, "job");
	const char *name = json_string_value(json_object_get(event, "event"));
	char when[32], exit_text[32];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	printf("%s.%03ld %s %lld %s", when, (long)(tv.tv_usec / 1000),
	    name != NULL ? name : "?",
	    (long long)json_integer_value(json_object_get(job, "id")),
	    state_of(job));
	if (name != NULL && strcmp(name, "finished") == 0) {
		out_exit(exit_text, sizeof exit_text, job);
		if (strcmp(exit_text, "-") != 0)
			printf(" %s%s", exit_text[0] == 's' ? "" : "exit ",
			    exit_text);
	}
	putchar('\n');
	fflush(stdout);
}

static int
cmd_watch_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"queue", required_argument, NULL, OPT_QUEUE},
	    CMD_COMMON_OPTIONS,
	};
	json_t *req, *reply, *ids = NULL;
	json_int_t watch_id, wait_id = -1, id;
	const char *queue = NULL;
	int c, status;

	while ((c = cmd_getopt(ctx, argc, argv, "", options, false, &status)) !=
	       -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
		if (c == OPT_QUEUE) {
			if (cmd_parse_queue(ctx, "--queue", optarg) != 0)
				return JOBCTL_EXIT_ERROR;
			queue = optarg;
		}
	}
	if (optind < argc &&
	    (ids = cmd_parse_ids(ctx, argc, argv, optind)) == NULL)
		return JOBCTL_EXIT_ERROR;
	req = json_pack("{s:s}", "op", "watch");
	if (ids != NULL)
		json_object_set(req, "jobs", ids);
	if (queue != NULL)
		json_object_set_new(req, "queue", json_string(queue));
	if ((reply = cmd_call(ctx, req)) == NULL) {
		json_decref(req);
		json_decref(ids);
		return JOBCTL_EXIT_ERROR;
	}
	watch_id = jobd_reply_id(reply);
	json_decref(reply);
	json_decref(req);
	/* Named jobs: the wait's reply, after their last event, ends it. */
	if (ids != NULL) {
		req = json_pack("{s:s, s:o, s:b}", "op", "wait", "jobs", ids,
		    "output", false);
		wait_id = jobd_send(ctx->conn, req);
		json_decref(req);
	}
	for (;;) {
		if ((reply = jobd_reply_any(ctx->conn, -1)) == NULL) {
			cmd_conn_error(ctx);
			return JOBCTL_EXIT_ERROR;
		}
		id = jobd_reply_id(reply);
		if (!json_is_true(json_object_get(reply, "ok")) &&
		    json_object_get(reply, "event") == NULL) {
			cmd_reply_error(reply);
			json_decref(reply);
			return JOBCTL_EXIT_ERROR;
		}
		if (id == wait_id) {
			json_decref(reply);
			return JOBCTL_EXIT_OK;
		}
		if (id == watch_id && json_object_get(reply, "event") != NULL) {
			json_object_del(reply, "id");
			if (ctx->json)
				out_json(reply);
			else
				print_event(reply);
		}
		json_decref(reply);
	}
}

const struct cmd_entry cmd_get_entry = {
    .name = "get",
    .usage = "ID...",
    .summary = "show jobs: state, command, attempts, exit code, result",
    .exec = cmd_get_exec,
};

const struct cmd_entry cmd_wait_entry = {
    .name = "wait",
    .usage = "[--timeout DUR] ID...",
    .summary = "wait for jobs to finish; exit 0 if all succeeded",
    .exec = cmd_wait_exec,
};

const struct cmd_entry cmd_cancel_entry = {
    .name = "cancel",
    .usage = "ID...",
    .summary = "cancel queued or running jobs",
    .exec = cmd_cancel_exec,
};

const struct cmd_entry cmd_logs_entry = {
    .name = "logs",
    .usage = "[--follow] ID",
    .summary = "print a job's stdout and stderr (--follow: live, until it "
               "ends)",
    .exec = cmd_logs_exec,
};

const struct cmd_entry cmd_list_entry = {
    .name = "list",
    .usage = "[--state STATE[,STATE]...] [--queue NAME] [--key KEY] "
             "[--since TIME] [--until TIME] [--limit N] [--all]",
    .summary = "list jobs: the newest page, in id order",
    .options = "  --state STATE  only jobs in these states (queued, running, "
               "failed, ...)\n"
               "  --queue NAME   only the jobs of a queue\n"
               "  --key KEY      only jobs with this unique key\n"
               "  --since TIME   only jobs submitted at or after TIME (-1h, "
               "RFC 3339, HH:MM)\n"
               "  --until TIME   ...and before TIME\n"
               "  --limit N      a page of N jobs (default 100)\n"
               "  --all          every page, from the oldest\n",
    .exec = cmd_list_exec,
};

const struct cmd_entry cmd_watch_entry = {
    .name = "watch",
    .usage = "[--queue NAME] [ID...]",
    .summary = "stream job events (of a queue, or of the named jobs until "
               "they end)",
    .exec = cmd_watch_exec,
};
