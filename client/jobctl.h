/*
 * jobctl: the command-line client of jobd.
 *
 * Each command family lives in one cmd-*.c file and exports one
 * `const struct cmd_entry` per command; main.c lists them in its table,
 * parses the global options and dispatches.  A command gets a cmd_ctx with
 * the global settings and a lazily opened connection, parses its own
 * options with cmd_getopt() (which also takes the global ones, so
 * `jobctl list --json` and `jobctl --json list` mean the same), and
 * returns the process's exit status.
 *
 * Exit statuses are part of the interface (see jobctl(1)): a job's own
 * exit code for `run`, else the JOBCTL_EXIT_* values below.
 */
#ifndef JOBCTL_H
#define JOBCTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JOBCTL_EXIT_OK 0
#define JOBCTL_EXIT_FAILED 1     /* a job did not succeed */
#define JOBCTL_EXIT_TIMEOUT 124  /* a job or a wait timed out */
#define JOBCTL_EXIT_ERROR 125    /* usage, connection or jobd error */
#define JOBCTL_EXIT_NOEXEC 126   /* the program is not executable */
#define JOBCTL_EXIT_NOTFOUND 127 /* the program was not found */
#define JOBCTL_EXIT_SIGNAL 128   /* + N: the job was killed by signal N */
#define JOBCTL_EXIT_CANCELLED 130

struct jobd;
struct cmd_entry;

/* What every command is given. */
struct cmd_ctx {
	const struct cmd_entry *entry;
	const char *addr;       /* --addr, $JOBD_ADDR or the default */
	const char *token_file; /* --token-file or $JOBD_TOKEN_FILE: TCP */
	const char *tls_ca;     /* --tls-ca or $JOBD_TLS_CA: TCP is TLS */
	const char *tls_cert;   /* --tls-cert or $JOBD_TLS_CERT */
	const char *tls_key;    /* --tls-key or $JOBD_TLS_KEY */
	bool json;              /* --json: machine output */
	struct jobd *conn;      /* NULL until cmd_connect() */
};

struct cmd_entry {
	const char *name;
	const char *usage;   /* the arguments, after "jobctl NAME " */
	const char *summary; /* one line for `jobctl help` */
	const char
	    *options; /* `jobctl help NAME`: a line per option, or NULL */
	/* argv[0] is the command's name; returns the exit status. */
	int (*exec)(struct cmd_ctx *ctx, int argc, char **argv);
};

extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_submit_entry;
extern const struct cmd_entry cmd_get_entry;
extern const struct cmd_entry cmd_wait_entry;
extern const struct cmd_entry cmd_cancel_entry;
extern const struct cmd_entry cmd_logs_entry;
extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_watch_entry;
extern const struct cmd_entry cmd_stats_entry;
extern const struct cmd_entry cmd_ping_entry;
extern const struct cmd_entry cmd_batch_entry;
extern const struct cmd_entry cmd_queues_entry;
extern const struct cmd_entry cmd_queue_entry;
extern const struct cmd_entry cmd_cron_entry;
extern const struct cmd_entry cmd_dead_entry;
extern const struct cmd_entry cmd_kick_entry;
extern const struct cmd_entry cmd_discard_entry;

/* --- Options (main.c) ---------------------------------------------------- */

/* Option values for long-only options; commands number theirs from here. */
enum {
	CMD_OPT_JSON = 0x100,
	CMD_OPT_ADDR,
	CMD_OPT_TOKEN_FILE,
	CMD_OPT_TLS_CA,
	CMD_OPT_TLS_CERT,
	CMD_OPT_TLS_KEY,
	CMD_OPT_COMMAND_FIRST = 0x200,
};

/* The options every command takes; put it last in a command's table. */
/* clang-format off */
#define CMD_COMMON_OPTIONS						     \
	{"json", no_argument, NULL, CMD_OPT_JSON},			     \
	{"addr", required_argument, NULL, CMD_OPT_ADDR},		     \
	{"token-file", required_argument, NULL, CMD_OPT_TOKEN_FILE},	     \
	{"tls-ca", required_argument, NULL, CMD_OPT_TLS_CA},		     \
	{"tls-cert", required_argument, NULL, CMD_OPT_TLS_CERT},	     \
	{"tls-key", required_argument, NULL, CMD_OPT_TLS_KEY},		     \
	{"help", no_argument, NULL, 'h'},				     \
	{NULL, 0, NULL, 0}
/* clang-format on */

/* cmd_getopt() returns this when the command should end with *status. */
#define CMD_GETOPT_EXIT (-2)

/*
 * getopt_long() over a command's arguments, handling the common options.
 * Returns the next command option (its argument in optarg), -1 after the
 * last (operands start at optind), or CMD_GETOPT_EXIT with *status set
 * (after --help, or a usage error already printed).  With stop_at_operand,
 * the first operand ends the options (for `run -- CMD ARGS`).
 */
int cmd_getopt(struct cmd_ctx *ctx, int argc, char **argv,
    const char *shortopts, const struct option *longopts, bool stop_at_operand,
    int *status);

/* Print "jobctl: REASON" and the command's usage on stderr; returns 125. */
int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse a duration option (500ms, 30s, 5m); usage error text on failure. */
int cmd_parse_duration(
    struct cmd_ctx *ctx, const char *option, const char *arg, uint64_t *ms);
/* A size in bytes with an optional k, M or G; -1 if it is not one. */
int cmd_parse_size(const char *s, uint64_t *out);
/* Parse an unsigned number in [lo, hi]; -1 if it is not one. */
int cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/*
 * --backoff SPEC as a retry object {"backoff","base_ms","max_ms"}; NULL
 * after a usage error (*status set).
 */
json_t *cmd_parse_backoff(struct cmd_ctx *ctx, const char *arg, int *status);
/* Queue names: 1 to 64 of [A-Za-z0-9_.-], as jobd takes them. */
#define CMD_QUEUE_NAME_MAX 64
/* Check a queue name given to option (or operand); 0, or usage error. */
int cmd_parse_queue(struct cmd_ctx *ctx, const char *option, const char *name);
/* The same rules for another kind of name (what: "cron entry"). */
int cmd_parse_name(struct cmd_ctx *ctx, const char *option, const char *what,
    const char *name);
/* Parse job ids argv[first..argc) into a new JSON array; NULL (printed). */
json_t *cmd_parse_ids(struct cmd_ctx *ctx, int argc, char **argv, int first);

/*
 * Build a job spec from `run`-style options and operands (cmd-run.c);
 * a command may add options of its own (values from CMD_OPT_SPEC_EXTRA
 * up), handled by extra->handle (-1 to go on, or an exit status).
 * Returns -1 with *out set, or the exit status to end with.
 */
#define CMD_OPT_SPEC_EXTRA 0x400
struct cmd_spec_extra {
	const struct option *options; /* ends with a NULL name */
	int (*handle)(
	    struct cmd_ctx *ctx, int opt, const char *arg, void *data);
	void *data;
};
int cmd_spec_parse(struct cmd_ctx *ctx, int argc, char **argv,
    const struct cmd_spec_extra *extra, json_t **out);

/*
 * A TIME option (times.c): RFC 3339; "+DUR" from now (with past, "-DUR"
 * back from now); or a local HH:MM, the next one (with past, the last).
 * Sets obj's key to RFC 3339 text and returns -1, or returns the usage
 * error's status.
 */
struct timespec;
int cmd_parse_time(struct cmd_ctx *ctx, const char *option, const char *arg,
    const struct timespec *now, bool past, json_t *obj, const char *key);

/* --- Talking to jobd (main.c) -------------------------------------------- */

/* Open ctx->conn if needed; NULL after printing why it could not. */
struct jobd *cmd_connect(struct cmd_ctx *ctx);
/*
 * Send req (not stolen) and wait for its reply.  An ok reply is returned
 * (json_decref() it); on a jobd error or a lost connection, NULL after
 * printing "jobctl: CODE: MESSAGE" or the connection error.
 */
json_t *cmd_call(struct cmd_ctx *ctx, json_t *req);
/* Print a lost connection (errno) as "jobctl: ADDR: REASON". */
void cmd_conn_error(struct cmd_ctx *ctx);
/* Print an error reply as "jobctl: CODE: MESSAGE". */
void cmd_reply_error(const json_t *reply);

/* --- Output (main.c) ----------------------------------------------------- */

/* "jobctl: " and the message on stderr. */
void out_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One compact JSON object and a newline on stdout, flushed. */
void out_json(const json_t *obj);
/*
 * Write a job's captured stream (name "stdout" or "stderr" of obj, base64
 * decoded if "NAME_encoding" says so) to fp; note truncation on stderr.
 */
int out_stream(const json_t *obj, const char *name, FILE *fp, json_int_t id);
/* The command of a job (argv, shell-quoted) or its kind; free() it. */
char *out_command(const json_t *job);
/* An RFC 3339 UTC time as local "YYYY-MM-DD HH:MM:SS" (or "-"). */
void out_time(char *buf, size_t len, const char *rfc3339);
/* Milliseconds since the epoch of an RFC 3339 time; -1 if unreadable. */
int64_t out_time_ms(const char *rfc3339);
/* A duration in microseconds in human units: "812us", "4.1ms", "2m03s". */
void out_duration_us(char *buf, size_t len, double us);
/* A job's exit: "3", "sig 9", or "-". */
void out_exit(char *buf, size_t len, const json_t *job);

/* --- Job tables (cmd-jobs.c) ---------------------------------------------- */

/* The most jobs jobd answers in one page of `list` or `dead`. */
#define CMD_LIST_PAGE_MAX 10000

/*
 * Send a paged request (op "list" or "dead"; req gains "limit" and
 * "after") and print its jobs: a table with a header, or with --json one
 * summary per line.  Follows the cursor to the end with all, else warns on
 * stderr that there is more.  Returns the exit status.
 */
int cmd_list_pages(struct cmd_ctx *ctx, json_t *req, uint64_t limit, bool all);
/*
 * Print a line of a `logs` follow: output bytes to stdout or stderr, a
 * warning for dropped output; other events print nothing.  -1 if the
 * output could not be written.
 */
int cmd_follow_print(const json_t *line, json_int_t id);
/*
 * The options both take: --since (since) or --until TIME into req, and
 * --limit N.  -1 when taken, else the exit status after a usage error.
 */
int cmd_list_window(struct cmd_ctx *ctx, bool since, const char *arg,
    const struct timespec *now, json_t *req);
int cmd_list_limit(struct cmd_ctx *ctx, const char *arg, uint64_t *limit);

#endif
