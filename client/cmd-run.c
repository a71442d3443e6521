/*
 * cmd-run: `run` and `submit`, the commands that build a job spec.
 *
 * `submit` queues the job and prints its id.  `run` queues it, follows
 * it and behaves like the command itself: its stdout on stdout and its
 * stderr on stderr as they come (a `logs` follow), and its exit status as
 * jobctl's (timeout(1)'s 124 for a timeout, 128+N for signal N, 127/126
 * when the program cannot be started).  With --json, and for built-in
 * kinds, it waits and prints the job, or its result.  `run` submits and then
 * waits as two requests, rather than one submit with "wait": true, because only
 * then does it know the job's id while the job runs: an interrupt (^C, SIGTERM,
 * SIGHUP) cancels the job, and a second one leaves without waiting.
 *
 * A job may wait before it runs (--delay, --run-at) and give up if it has
 * not started by a time (--expires); see times.c for what a TIME is.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jobd.h>

#include "jobctl.h"
#include "proto.h"
#include "retry.h"
#include "xmalloc.h"

enum {
	OPT_TIMEOUT = CMD_OPT_COMMAND_FIRST,
	OPT_RETRIES,
	OPT_BACKOFF,
	OPT_ENV,
	OPT_CWD,
	OPT_STDIN,
	OPT_KILL_GRACE,
	OPT_KIND,
	OPT_ARGS,
	OPT_META,
	OPT_QUEUE,
	OPT_PRIORITY,
	OPT_DELAY,
	OPT_RUN_AT,
	OPT_EXPIRES,
	OPT_KEY,
	OPT_KEY_ANY,
	OPT_AFTER,
	OPT_AFTER_ANY,
	OPT_LIMIT,
	OPT_OUTPUT_CAP,
};

/* A job's priority: lower runs first (jobd's default is 100). */
#define SPEC_PRIORITY_MAX 1000
/* jobd's limit on delay_ms: 30 days. */
#define SPEC_DELAY_MAX_MS 2592000000ULL

/* JSON strings are UTF-8: anything else would be dropped, not sent. */
static bool
utf8(const char *s)
{
	return proto_utf8_valid(s, strlen(s));
}

static const struct option spec_options[] = {
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"backoff", required_argument, NULL, OPT_BACKOFF},
    {"env", required_argument, NULL, OPT_ENV},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"stdin", required_argument, NULL, OPT_STDIN},
    {"kill-grace", required_argument, NULL, OPT_KILL_GRACE},
    {"kind", required_argument, NULL, OPT_KIND},
    {"args", required_argument, NULL, OPT_ARGS},
    {"meta", required_argument, NULL, OPT_META},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"priority", required_argument, NULL, OPT_PRIORITY},
    {"key", required_argument, NULL, OPT_KEY},
    {"key-any", no_argument, NULL, OPT_KEY_ANY},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"run-at", required_argument, NULL, OPT_RUN_AT},
    {"expires", required_argument, NULL, OPT_EXPIRES},
    {"after", required_argument, NULL, OPT_AFTER},
    {"after-any", no_argument, NULL, OPT_AFTER_ANY},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"output-cap", required_argument, NULL, OPT_OUTPUT_CAP},
    CMD_COMMON_OPTIONS,
};

#define SPEC_USAGE                                                           \
	"[--timeout DUR] [--retries N] [--backoff SPEC] [--kill-grace DUR] " \
	"[--env K[=V]]... [--cwd DIR] [--stdin FILE|-] "                     \
	"[--limit as|cpu|nofile|nproc=N]... [--output-cap SIZE] "            \
	"[--meta JSON] "                                                     \
	"[--queue NAME] [--priority N] [--delay DUR | --run-at TIME] "       \
	"[--expires TIME] [--key KEY [--key-any]] [--after ID]... "          \
	"[--after-any] "                                                     \
	"{[--] CMD [ARG]... | --kind KIND [--args JSON]}"

/*
 * --limit NAME=VALUE into the spec's "limits": as=SIZE (k, M, G), cpu=DUR
 * (whole seconds), nofile=N, nproc=N.  jobd checks the ranges.
 */
static int
spec_limit(struct cmd_ctx *ctx, json_t *spec, const char *arg)
{
	static const char *const names[] = {"as", "cpu", "nofile", "nproc"};
	const char *eq = strchr(arg, '=');
	json_t *limits = json_object_get(spec, "limits");
	uint64_t v, ms;
	size_t i, len;

	len = eq != NULL ? (size_t)(eq - arg) : 0;
	for (i = 0; i < 4; i++) {
		if (strlen(names[i]) == len && strncmp(arg, names[i], len) == 0)
			break;
	}
	if (eq == NULL || i == 4)
		return cmd_usage_error(ctx,
		    "--limit: \"%s\" is not as=SIZE, cpu=DUR, nofile=N or "
		    "nproc=N",
		    arg);
	if (i == 1) {
		if (cmd_parse_duration(ctx, "--limit cpu", eq + 1, &ms) != 0)
			return JOBCTL_EXIT_ERROR;
		v = (ms + 999) / 1000;
	} else if ((i == 0 ? cmd_parse_size(eq + 1, &v)
	                   : cmd_parse_uint(eq + 1, 0, UINT64_MAX, &v)) != 0)
		return cmd_usage_error(ctx,
		    "--limit %s: \"%s\" is not a number%s", names[i], eq + 1,
		    i == 0 ? " of bytes (k, M, G)" : "");
	if (limits == NULL) {
		limits = json_object();
		json_object_set_new(spec, "limits", limits);
	}
	json_object_set_new(limits, names[i], json_integer((json_int_t)v));
	return -1;
}

/* Read all of fd; NULL with errno. */
static char *
read_all(int fd, size_t *len)
{
	size_t cap = 65536;
	char *data = xmalloc(cap);
	ssize_t n;

	*len = 0;
	for (;;) {
		if (*len == cap)
			data = xreallocarray(data, cap *= 2, 1);
		n = read(fd, data + *len, cap - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(data);
			return NULL;
		}
		if (n == 0)
			return data;
		*len += (size_t)n;
	}
}

/* The "stdin" field from a file or jobctl's stdin. */
static int
spec_stdin(struct cmd_ctx *ctx, json_t *spec, const char *path)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO
	                                : open(path, O_RDONLY | O_CLOEXEC);
	const char *name = fd == STDIN_FILENO ? "standard input" : path;
	size_t len;
	char *data;

	if (fd == -1 || (data = read_all(fd, &len)) == NULL) {
		out_warn("--stdin %s: %s", name, strerror(errno));
		if (fd > STDIN_FILENO)
			close(fd);
		return JOBCTL_EXIT_ERROR;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (!proto_utf8_valid(data, len) || memchr(data, '\0', len) != NULL) {
		out_warn("--stdin %s: not UTF-8 text (jobd takes a job's "
		         "input as a JSON string, so binary input, NUL bytes "
		         "included, cannot be sent)",
		    name);
		free(data);
		return JOBCTL_EXIT_ERROR;
	}
	json_object_set_new(spec, "stdin", json_stringn(data, len));
	free(data);
	return -1;
}

/* K=V, or K alone to pass jobctl's own value on. */
static int
spec_env(struct cmd_ctx *ctx, json_t *env, const char *arg)
{
	const char *eq = strchr(arg, '='), *value;
	char *key;

	if (eq == arg || arg[0] == '\0')
		return cmd_usage_error(ctx, "--env %s: no variable name", arg);
	key = eq != NULL ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
	value = eq != NULL ? eq + 1 : getenv(key);
	if (value == NULL) {
		cmd_usage_error(
		    ctx, "--env %s: not set in jobctl's environment", key);
		free(key);
		return JOBCTL_EXIT_ERROR;
	}
	if (!utf8(key) || !utf8(value)) {
		cmd_usage_error(ctx, "--env %s: not valid UTF-8", key);
		free(key);
		return JOBCTL_EXIT_ERROR;
	}
	json_object_set_new(env, key, json_string(value));
	free(key);
	return -1;
}

static int
spec_json(struct cmd_ctx *ctx, json_t *spec, const char *option,
    const char *key, const char *text)
{
	json_error_t jerr;
	json_t *v;

	if ((v = json_loads(text, JSON_DECODE_ANY, &jerr)) == NULL)
		return cmd_usage_error(
		    ctx, "--%s: not JSON: %s", option, jerr.text);
	json_object_set_new(spec, key, v);
	return -1;
}

static int
spec_cwd(json_t *spec, const char *dir)
{
	char *cwd, *abs;

	if (dir != NULL && dir[0] == '/') {
		json_object_set_new(spec, "cwd", json_string(dir));
		return -1;
	}
	/* jobd wants an absolute path: relative ones are jobctl's. */
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		out_warn("cannot tell the working directory (%s); give "
		         "--cwd /ABSOLUTE/PATH",
		    strerror(errno));
		return JOBCTL_EXIT_ERROR;
	}
	if (dir == NULL || strcmp(dir, ".") == 0)
		abs = xstrdup(cwd);
	else
		xasprintf(&abs, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, dir);
	if (!utf8(abs)) {
		fprintf(stderr, "jobctl: the working directory is not valid "
		                "UTF-8; give --cwd\n");
		free(abs);
		free(cwd);
		return JOBCTL_EXIT_ERROR;
	}
	json_object_set_new(spec, "cwd", json_string(abs));
	free(abs);
	free(cwd);
	return -1;
}

/* --- Job specs ------------------------------------------------------------ */

/*
 * Build the job spec from the options and operands.  Returns -1 with
 * *out set, or the exit status to end with (usage error, --help).
 */
int
cmd_spec_parse(struct cmd_ctx *ctx, int argc, char **argv,
    const struct cmd_spec_extra *extra, json_t **out)
{
	const struct option *options = spec_options;
	struct option *merged = NULL;
	json_t *spec = json_object(), *env = json_object();
	const char *kind = "exec", *cwd = NULL, *in = NULL;
	const char *exec_only = NULL;
	struct timespec now;
	json_t *backoff;
	uint64_t n;
	int c, status = -1, i;

	/* One "now" for every relative time: +1m and +2h are 1h59m apart. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (extra != NULL) {
		size_t ne = 0,
		       ns = sizeof spec_options / sizeof spec_options[0];

		while (extra->options[ne].name != NULL)
			ne++;
		merged = xcalloc(ne + ns, sizeof(*merged));
		memcpy(merged, extra->options, ne * sizeof(*merged));
		memcpy(merged + ne, spec_options, ns * sizeof(*merged));
		options = merged;
	}
	while (status == -1 && (c = cmd_getopt(ctx, argc, argv, "", options,
	                            true, &status)) != -1) {
		switch (c) {
		case CMD_GETOPT_EXIT:
			break;
		case OPT_TIMEOUT:
		case OPT_KILL_GRACE:
			if (cmd_parse_duration(ctx,
			        c == OPT_TIMEOUT ? "--timeout" : "--kill-grace",
			        optarg, &n) != 0) {
				status = JOBCTL_EXIT_ERROR;
				break;
			}
			json_object_set_new(spec,
			    c == OPT_TIMEOUT ? "timeout_ms" : "kill_grace_ms",
			    json_integer((json_int_t)n));
			break;
		case OPT_RETRIES:
			if (cmd_parse_uint(
			        optarg, 0, RETRY_MAX_ATTEMPTS - 1, &n) != 0) {
				status = cmd_usage_error(ctx,
				    "--retries: \"%s\" is not from 0 to %d",
				    optarg, RETRY_MAX_ATTEMPTS - 1);
				break;
			}
			json_object_set_new(
			    spec, "retries", json_integer((json_int_t)n));
			break;
		case OPT_BACKOFF:
			if ((backoff = cmd_parse_backoff(
			         ctx, optarg, &status)) != NULL)
				json_object_set_new(spec, "retry", backoff);
			break;
		case OPT_ENV:
			status = spec_env(ctx, env, optarg);
			exec_only = "--env";
			break;
		case OPT_CWD:
			cwd = optarg;
			exec_only = "--cwd";
			break;
		case OPT_LIMIT:
			status = spec_limit(ctx, spec, optarg);
			exec_only = "--limit";
			break;
		case OPT_OUTPUT_CAP:
			if (cmd_parse_size(optarg, &n) != 0 || n == 0) {
				status = cmd_usage_error(ctx,
				    "--output-cap: \"%s\" is not a number of "
				    "bytes (k, M, G)",
				    optarg);
				break;
			}
			json_object_set_new(
			    spec, "output_cap", json_integer((json_int_t)n));
			exec_only = "--output-cap";
			break;
		case OPT_STDIN:
			in = optarg;
			exec_only = "--stdin";
			break;
		case OPT_KIND:
			kind = optarg;
			break;
		case OPT_ARGS:
			status = spec_json(ctx, spec, "args", "args", optarg);
			break;
		case OPT_META:
			status = spec_json(ctx, spec, "meta", "meta", optarg);
			break;
		case OPT_QUEUE:
			if (cmd_parse_queue(ctx, "--queue", optarg) != 0) {
				status = JOBCTL_EXIT_ERROR;
				break;
			}
			json_object_set_new(spec, "queue", json_string(optarg));
			break;
		case OPT_KEY:
			if (optarg[0] == '\0' || strlen(optarg) > 256 ||
			    !utf8(optarg)) {
				status = cmd_usage_error(
				    ctx, "--key: 1 to 256 bytes of UTF-8");
				break;
			}
			json_object_set_new(spec, "key", json_string(optarg));
			break;
		case OPT_KEY_ANY:
			json_object_set_new(spec, "unique", json_string("any"));
			break;
		case OPT_PRIORITY:
			if (cmd_parse_uint(optarg, 0, SPEC_PRIORITY_MAX, &n) !=
			    0) {
				status = cmd_usage_error(ctx,
				    "--priority: \"%s\" is not from 0 to %d",
				    optarg, SPEC_PRIORITY_MAX);
				break;
			}
			json_object_set_new(
			    spec, "priority", json_integer((json_int_t)n));
			break;
		case OPT_DELAY:
			if (cmd_parse_duration(ctx, "--delay", optarg, &n) !=
			    0) {
				status = JOBCTL_EXIT_ERROR;
				break;
			}
			if (n > SPEC_DELAY_MAX_MS) {
				status = cmd_usage_error(ctx,
				    "--delay: \"%s\" is more than 30d", optarg);
				break;
			}
			json_object_set_new(
			    spec, "delay_ms", json_integer((json_int_t)n));
			break;
		case OPT_RUN_AT:
			status = cmd_parse_time(ctx, "--run-at", optarg, &now,
			    false, spec, "run_at");
			break;
		case OPT_EXPIRES:
			status = cmd_parse_time(ctx, "--expires", optarg, &now,
			    false, spec, "expires_at");
			break;
		case OPT_AFTER:
			if (cmd_parse_uint(optarg, 1, INT64_MAX, &n) != 0) {
				status = cmd_usage_error(ctx,
				    "--after: \"%s\" is not a job id", optarg);
				break;
			}
			if (json_object_get(spec, "depends_on") == NULL)
				json_object_set_new(
				    spec, "depends_on", json_array());
			json_array_append_new(
			    json_object_get(spec, "depends_on"),
			    json_integer((json_int_t)n));
			break;
		case OPT_AFTER_ANY:
			json_object_set_new(spec, "after", json_string("any"));
			break;
		default:
			if (extra != NULL && c >= CMD_OPT_SPEC_EXTRA)
				status =
				    extra->handle(ctx, c, optarg, extra->data);
			else
				status =
				    cmd_usage_error(ctx, "unexpected option");
			break;
		}
	}
	free(merged);
	if (status != -1)
		goto done;
	if (json_object_get(spec, "after") != NULL &&
	    json_object_get(spec, "depends_on") == NULL) {
		status = cmd_usage_error(
		    ctx, "--after-any needs one or more --after ID");
		goto done;
	}
	if (json_object_get(spec, "delay_ms") != NULL &&
	    json_object_get(spec, "run_at") != NULL) {
		status =
		    cmd_usage_error(ctx, "give --delay or --run-at, not both");
		goto done;
	}
	if (!utf8(kind)) {
		status = cmd_usage_error(ctx, "--kind: not valid UTF-8");
		goto done;
	}
	json_object_set_new(spec, "kind", json_string(kind));
	if (strcmp(kind, "exec") != 0) {
		if (optind < argc)
			status = cmd_usage_error(ctx,
			    "a command is only for --kind exec; kind %s takes "
			    "--args JSON",
			    kind);
		else if (exec_only != NULL)
			status = cmd_usage_error(ctx,
			    "%s is only for commands (kind exec)", exec_only);
		goto done;
	}
	if (optind == argc) {
		status = cmd_usage_error(ctx, "a command to run is required");
		goto done;
	}
	if (json_object_get(spec, "args") != NULL) {
		status = cmd_usage_error(
		    ctx, "--args is for built-in kinds; a command takes ARGs");
		goto done;
	}
	/* JSON carries UTF-8 only: refuse rather than drop an argument. */
	for (i = optind; i < argc; i++) {
		if (!utf8(argv[i])) {
			status = cmd_usage_error(ctx,
			    "argument %d of the command is not valid UTF-8",
			    i - optind);
			goto done;
		}
	}
	json_object_set_new(spec, "argv", json_array());
	for (i = optind; i < argc; i++)
		json_array_append_new(
		    json_object_get(spec, "argv"), json_string(argv[i]));
	if (json_object_size(env) > 0)
		json_object_set(spec, "env", env);
	if ((status = spec_cwd(spec, cwd)) == -1 && in != NULL)
		status = spec_stdin(ctx, spec, in);
done:
	json_decref(env);
	if (status != -1)
		json_decref(spec);
	else
		*out = spec;
	return status;
}

/* A submit with a unique key answered with the job that has it: say so. */
static void
warn_duplicate(const json_t *job)
{
	if (json_is_true(json_object_get(job, "duplicate")))
		out_warn("job %lld has that key already (%s): not submitted "
		         "again",
		    (long long)json_integer_value(json_object_get(job, "id")),
		    json_string_value(json_object_get(job, "state")) != NULL
		        ? json_string_value(json_object_get(job, "state"))
		        : "?");
}

static int
cmd_submit_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	json_t *spec, *req, *reply, *job;
	int status;

	if ((status = cmd_spec_parse(ctx, argc, argv, NULL, &spec)) != -1)
		return status;
	req = json_pack("{s:s, s:o}", "op", "submit", "job", spec);
	reply = cmd_call(ctx, req);
	json_decref(req);
	if (reply == NULL)
		return JOBCTL_EXIT_ERROR;
	job = json_object_get(reply, "job");
	if (ctx->json)
		out_json(job);
	else {
		printf("%lld\n",
		    (long long)json_integer_value(json_object_get(job, "id")));
		warn_duplicate(job);
	}
	json_decref(reply);
	return JOBCTL_EXIT_OK;
}

/* --- run ------------------------------------------------------------------ */

/* Interrupts seen; written by the handler, read between waits. */
static volatile sig_atomic_t run_interrupts;

static void
run_on_signal(int sig)
{
	run_interrupts++;
}

/*
 * Wait for the reply to req_id.  An interrupt cancels job_id (once it is
 * known); a second one gives up: NULL with *status 130.
 */
static json_t *
run_await(struct cmd_ctx *ctx, json_int_t req_id, json_int_t job_id,
    bool *cancel_sent, int *status)
{
	json_t *reply, *req;

	for (;;) {
		if (run_interrupts > 0 && job_id > 0 && !*cancel_sent) {
			out_warn("interrupted: cancelling job %lld",
			    (long long)job_id);
			req = json_pack("{s:s, s:I}", "op", "cancel", "job",
			    (json_int_t)job_id);
			jobd_send(ctx->conn, req);
			json_decref(req);
			*cancel_sent = true;
		}
		if ((reply = jobd_reply(ctx->conn, req_id, -1)) != NULL)
			break;
		if (errno != EINTR) {
			cmd_conn_error(ctx);
			*status = JOBCTL_EXIT_ERROR;
			return NULL;
		}
		if (run_interrupts > 1) {
			if (job_id > 0)
				out_warn("interrupted again: not waiting for "
				         "job %lld to end",
				    (long long)job_id);
			*status = JOBCTL_EXIT_CANCELLED;
			return NULL;
		}
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		cmd_reply_error(reply);
		json_decref(reply);
		*status = JOBCTL_EXIT_ERROR;
		return NULL;
	}
	return reply;
}

/* The exit status for a finished job, with a word on stderr if it failed. */
static int
run_status(const json_t *job, json_int_t id, bool exec)
{
	const char *state = json_string_value(json_object_get(job, "state"));
	const json_t *attempts = json_object_get(job, "attempts");
	const json_t *last = json_array_get(attempts,
	    json_array_size(attempts) > 0 ? json_array_size(attempts) - 1 : 0);
	const char *outcome =
	    json_string_value(json_object_get(last, "outcome"));
	const char *error = json_string_value(json_object_get(job, "error"));
	json_int_t code =
	    json_integer_value(json_object_get(last, "exit_code"));
	json_int_t sig = json_integer_value(json_object_get(last, "signal"));

	if (state == NULL)
		state = "unknown";
	if (outcome == NULL)
		outcome = "none";
	if (strcmp(state, "succeeded") == 0)
		return exec ? (int)code : JOBCTL_EXIT_OK;
	if (strcmp(state, "timed_out") == 0) {
		out_warn("job %lld: timed out", (long long)id);
		return JOBCTL_EXIT_TIMEOUT;
	}
	if (strcmp(state, "cancelled") == 0) {
		out_warn("job %lld: cancelled", (long long)id);
		return JOBCTL_EXIT_CANCELLED;
	}
	if (strcmp(state, "dependency_failed") == 0) {
		out_warn("job %lld: not run: a job it depends on did not "
		         "succeed",
		    (long long)id);
		return JOBCTL_EXIT_FAILED;
	}
	if (strcmp(state, "expired") == 0) {
		out_warn("job %lld expired before it started", (long long)id);
		return JOBCTL_EXIT_ERROR;
	}
	if (strcmp(state, "failed") != 0) {
		out_warn("job %lld: ended %s", (long long)id, state);
		return JOBCTL_EXIT_ERROR;
	}
	if (strcmp(outcome, "spawn_failed") == 0) {
		out_warn("job %lld: %s", (long long)id,
		    error != NULL ? error : "could not start");
		return code > 0 ? (int)code : JOBCTL_EXIT_NOTFOUND;
	}
	if (strcmp(outcome, "signaled") == 0 && sig > 0) {
		out_warn("job %lld: killed by signal %lld (%s)", (long long)id,
		    (long long)sig, strsignal((int)sig));
		return JOBCTL_EXIT_SIGNAL + (int)sig;
	}
	if (exec && strcmp(outcome, "failed") == 0 && code > 0)
		return (int)code;
	if (strcmp(outcome, "failed") == 0) {
		out_warn("job %lld: failed: %s", (long long)id,
		    error != NULL ? error : "no reason given");
		return JOBCTL_EXIT_FAILED;
	}
	/* lost, interrupted: jobd's doing, not the job's. */
	out_warn("job %lld: attempt %s%s%s", (long long)id, outcome,
	    error != NULL ? ": " : "", error != NULL ? error : "");
	return JOBCTL_EXIT_ERROR;
}

/*
 * The job's output cannot be written (a pipe's reader went away, as in
 * `jobctl run ... | head -1`): end it as the command itself would end,
 * by cancelling it, and exit as if killed by SIGPIPE.
 */
static int
run_output_failed(struct cmd_ctx *ctx, json_int_t id)
{
	int saved = errno;
	json_int_t req_id;
	json_t *req, *reply;

	req = json_pack("{s:s, s:I}", "op", "cancel", "job", id);
	req_id = jobd_send(ctx->conn, req);
	json_decref(req);
	reply = jobd_reply(ctx->conn, req_id, 5000);
	json_decref(reply);
	if (saved == EPIPE)
		return JOBCTL_EXIT_SIGNAL + SIGPIPE;
	out_warn("job %lld: cannot write its output (%s): cancelled",
	    (long long)id, strerror(saved));
	return JOBCTL_EXIT_ERROR;
}

/*
 * Follow an exec job to its end: its output as it comes (every attempt's,
 * stdout to stdout and stderr to stderr), then its status.  The follow's
 * last line carries the job's end, which is all run_status() reads.
 */
static int
run_follow(struct cmd_ctx *ctx, json_int_t id, bool *cancel_sent)
{
	json_t *req, *reply, *job;
	json_int_t req_id;
	const char *event;
	int status;

	req = json_pack(
	    "{s:s, s:I, s:b}", "op", "logs", "job", id, "follow", true);
	req_id = jobd_send(ctx->conn, req);
	json_decref(req);
	for (;;) {
		if ((reply = run_await(
		         ctx, req_id, id, cancel_sent, &status)) == NULL) {
			if (status == JOBCTL_EXIT_ERROR)
				out_warn("job %lld: its end was not seen "
				         "(jobctl get %lld tells)",
				    (long long)id, (long long)id);
			return status;
		}
		if (cmd_follow_print(reply, id) != 0) {
			json_decref(reply);
			return run_output_failed(ctx, id);
		}
		event = json_string_value(json_object_get(reply, "event"));
		if (event != NULL && strcmp(event, "finished") == 0)
			break;
		json_decref(reply);
	}
	job = json_pack("{s:O?, s:O?, s:[{s:O?, s:O?, s:O?}]}", "state",
	    json_object_get(reply, "state"), "error",
	    json_object_get(reply, "error"), "attempts", "outcome",
	    json_object_get(reply, "outcome"), "exit_code",
	    json_object_get(reply, "exit_code"), "signal",
	    json_object_get(reply, "signal"));
	status = run_status(job, id, true);
	json_decref(job);
	json_decref(reply);
	return status;
}

static int
cmd_run_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = run_on_signal};
	json_t *spec, *req, *reply, *job;
	sigset_t block, old;
	json_int_t req_id, id;
	bool exec, duplicate, cancel_sent = false;
	int status;

	if ((status = cmd_spec_parse(ctx, argc, argv, NULL, &spec)) != -1)
		return status;
	exec = strcmp(json_string_value(json_object_get(spec, "kind")),
	           "exec") == 0;
	if (cmd_connect(ctx) == NULL) {
		json_decref(spec);
		return JOBCTL_EXIT_ERROR;
	}
	/* Signals wait blocked; conn's ppoll() takes them while it waits. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed stdout is an EPIPE to act on (run_output_failed()). */
	signal(SIGPIPE, SIG_IGN);
	jobd_set_sigmask(ctx->conn, &old);

	req = json_pack("{s:s, s:o}", "op", "submit", "job", spec);
	req_id = jobd_send(ctx->conn, req);
	json_decref(req);
	if ((reply = run_await(ctx, req_id, 0, &cancel_sent, &status)) == NULL)
		return status;
	id = json_integer_value(
	    json_object_get(json_object_get(reply, "job"), "id"));
	duplicate = json_is_true(
	    json_object_get(json_object_get(reply, "job"), "duplicate"));
	if (!ctx->json)
		warn_duplicate(json_object_get(reply, "job"));
	json_decref(reply);
	if (exec && !ctx->json)
		return run_follow(ctx, id, &cancel_sent);

	req = json_pack(
	    "{s:s, s:I, s:b}", "op", "wait", "job", id, "output", true);
	req_id = jobd_send(ctx->conn, req);
	json_decref(req);
	if ((reply = run_await(ctx, req_id, id, &cancel_sent, &status)) == NULL)
		return status;
	job = json_object_get(reply, "job");
	/* As the submit said (the job is the one that had the key). */
	if (duplicate)
		json_object_set_new(job, "duplicate", json_true());
	if (ctx->json)
		out_json(job);
	else if (exec) {
		out_stream(job, "stdout", stdout, id);
		out_stream(job, "stderr", stderr, id);
	} else if (json_object_get(job, "result") != NULL)
		out_json(json_object_get(job, "result"));
	status = run_status(job, id, exec);
	json_decref(reply);
	return status;
}

/* What the job options mean, for `jobctl help run` and `help submit`. */
#define SPEC_OPTIONS                                                           \
	"  --timeout DUR      end it after DUR (500ms, 30s, 5m, 1h30m): "      \
	"SIGTERM, then SIGKILL\n"                                              \
	"  --kill-grace DUR   time between the two (default 5s)\n"             \
	"  --retries N        run it up to N more times if it fails\n"         \
	"  --backoff SPEC     fixed:DUR, linear:DUR or exp:DUR[:MAXDUR] "      \
	"between tries\n"                                                      \
	"  --env K[=V]        set K (from jobctl's own environment without "   \
	"=V)\n"                                                                \
	"  --cwd DIR          run it in DIR\n"                                 \
	"  --stdin FILE|-     give it FILE (or jobctl's stdin) on its stdin\n" \
	"  --limit NAME=V     as=SIZE, cpu=DUR, nofile=N or nproc=N\n"         \
	"  --output-cap SIZE  keep this much of stdout and of stderr\n"        \
	"  --meta JSON        an object kept with the job\n"                   \
	"  --queue NAME       its queue (default: default)\n"                  \
	"  --priority N       0 (first) to 1000 (default 100)\n"               \
	"  --delay DUR        start it no sooner than DUR from now\n"          \
	"  --run-at TIME      ...or at TIME (RFC 3339, +DUR or a local "       \
	"HH:MM)\n"                                                             \
	"  --expires TIME     drop it if it has not started by TIME\n"         \
	"  --key KEY          one job per key: a second gets the first "       \
	"(--key-any: finished ones too)\n"                                     \
	"  --after ID         run only after job ID succeeded (--after-any: "  \
	"ended)\n"                                                             \
	"  --kind KIND        a built-in kind instead of a command, with "     \
	"--args JSON\n"

const struct cmd_entry cmd_run_entry = {
    .name = "run",
    .usage = SPEC_USAGE,
    .summary = "run a job, stream its output, and exit with its status",
    .options = SPEC_OPTIONS,
    .exec = cmd_run_exec,
};

const struct cmd_entry cmd_submit_entry = {
    .name = "submit",
    .usage = SPEC_USAGE,
    .summary = "queue a job and print its id",
    .options = SPEC_OPTIONS,
    .exec = cmd_submit_exec,
};
