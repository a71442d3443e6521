/*
 * jobctl: the command table, global options, dispatch, and the helpers the
 * commands share (option parsing, talking to jobd, output).
 *
 *   jobctl [--addr ADDR] [--json] [--token-file FILE]
 *          [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] COMMAND [ARG]...
 *
 * The address comes from --addr, else $JOBD_ADDR, else the socket jobd
 * itself defaults to: $XDG_RUNTIME_DIR/jobd/jobd.sock if it exists, else
 * /run/jobd/jobd.sock.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jobd.h>

#include "jobctl.h"
#include "log.h"
#include "proto.h"
#include "retry.h"
#include "xmalloc.h"

static int cmd_help_exec(struct cmd_ctx *ctx, int argc, char **argv);

static const struct cmd_entry cmd_help_entry = {
    .name = "help",
    .usage = "[COMMAND]",
    .summary = "list the commands, or show one command's usage",
    .exec = cmd_help_exec,
};

static const struct cmd_entry *const cmd_table[] = {
    &cmd_run_entry,
    &cmd_submit_entry,
    &cmd_get_entry,
    &cmd_wait_entry,
    &cmd_cancel_entry,
    &cmd_logs_entry,
    &cmd_list_entry,
    &cmd_watch_entry,
    &cmd_dead_entry,
    &cmd_kick_entry,
    &cmd_discard_entry,
    &cmd_batch_entry,
    &cmd_queues_entry,
    &cmd_queue_entry,
    &cmd_cron_entry,
    &cmd_stats_entry,
    &cmd_ping_entry,
    &cmd_help_entry,
    NULL,
};

static const char main_usage[] =
    "usage: jobctl [--addr ADDR] [--json] [--token-file FILE] [--tls-ca FILE]\n"
    "              [--tls-cert FILE --tls-key FILE] COMMAND [ARG]...\n";

static void
print_command_list(FILE *fp)
{
	size_t i;

	fprintf(fp, "%s\ncommands:\n", main_usage);
	for (i = 0; cmd_table[i] != NULL; i++)
		fprintf(fp, "  %-8s %s\n", cmd_table[i]->name,
		    cmd_table[i]->summary);
	fprintf(fp,
	    "\noptions (before or after the command):\n"
	    "  --addr ADDR        unix:PATH, HOST:PORT or [IPV6]:PORT "
	    "(default: $JOBD_ADDR,\n"
	    "                     else $XDG_RUNTIME_DIR/jobd/jobd.sock, else\n"
	    "                     /run/jobd/jobd.sock)\n"
	    "  --json             machine output: JSON objects, one per line\n"
	    "  --token-file FILE  the token for a TCP address (default: "
	    "$JOBD_TOKEN_FILE)\n"
	    "  --tls-ca FILE      TLS to a TCP address; jobd's certificate "
	    "must be signed by\n"
	    "                     this CA and name the address's host "
	    "(default: $JOBD_TLS_CA)\n"
	    "  --tls-cert FILE    a client certificate for TLS (default: "
	    "$JOBD_TLS_CERT)\n"
	    "  --tls-key FILE     ...and its key (default: $JOBD_TLS_KEY)\n"
	    "\n`jobctl help COMMAND` shows a command's usage; jobctl(1) has "
	    "the details.\n");
}

static void
print_command_help(const struct cmd_entry *e, FILE *fp)
{
	fprintf(fp, "usage: jobctl %s%s%s\n%s.\n", e->name,
	    e->usage[0] != '\0' ? " " : "", e->usage, e->summary);
	if (e->options != NULL)
		fprintf(fp, "\n%s\n", e->options);
	fprintf(fp, "Also: --addr ADDR, --json, --token-file FILE, --tls-ca "
	            "FILE,\n--tls-cert FILE, --tls-key FILE, --help.  See "
	            "jobctl(1).\n");
}

static const struct cmd_entry *
find_command(const char *name)
{
	size_t i;

	for (i = 0; cmd_table[i] != NULL; i++) {
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	}
	return NULL;
}

static int
cmd_help_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {CMD_COMMON_OPTIONS};
	const struct cmd_entry *e;
	int c, status;

	while ((c = cmd_getopt(ctx, argc, argv, "", options, false, &status)) !=
	       -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
	}
	if (optind == argc) {
		print_command_list(stdout);
		return JOBCTL_EXIT_OK;
	}
	if (optind + 1 < argc)
		return cmd_usage_error(ctx, "help takes one command");
	if ((e = find_command(argv[optind])) == NULL)
		return cmd_usage_error(
		    ctx, "unknown command \"%s\"", argv[optind]);
	print_command_help(e, stdout);
	return JOBCTL_EXIT_OK;
}

/* --- Options -------------------------------------------------------------- */

int
cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("jobctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* A long usage is `help`'s to show. */
	if (strlen(ctx->entry->usage) <= 60)
		fprintf(stderr, "\nusage: jobctl %s%s%s\n", ctx->entry->name,
		    ctx->entry->usage[0] != '\0' ? " " : "", ctx->entry->usage);
	else
		fprintf(stderr,
		    "\nusage: jobctl %s [OPTION]... (all of them: jobctl help "
		    "%s)\n",
		    ctx->entry->name, ctx->entry->name);
	return JOBCTL_EXIT_ERROR;
}

int
cmd_getopt(struct cmd_ctx *ctx, int argc, char **argv, const char *shortopts,
    const struct option *longopts, bool stop_at_operand, int *status)
{
	char spec[64];
	const char *bad;
	int c;

	snprintf(
	    spec, sizeof spec, "%s:%sh", stop_at_operand ? "+" : "", shortopts);
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, spec, longopts, NULL);
		switch (c) {
		case CMD_OPT_JSON:
			ctx->json = true;
			continue;
		case CMD_OPT_ADDR:
			ctx->addr = optarg;
			continue;
		case CMD_OPT_TOKEN_FILE:
			ctx->token_file = optarg;
			continue;
		case CMD_OPT_TLS_CA:
			ctx->tls_ca = optarg;
			continue;
		case CMD_OPT_TLS_CERT:
			ctx->tls_cert = optarg;
			continue;
		case CMD_OPT_TLS_KEY:
			ctx->tls_key = optarg;
			continue;
		case 'h':
			print_command_help(ctx->entry, stdout);
			*status = JOBCTL_EXIT_OK;
			return CMD_GETOPT_EXIT;
		case '?':
		case ':':
			bad = argv[optind - 1];
			if (optopt > 0 && optopt < 0x80 && bad[0] == '-' &&
			    bad[1] != '-') {
				*status = cmd_usage_error(ctx,
				    c == '?' ? "unknown option -%c"
				             : "option -%c needs a value",
				    optopt);
			} else {
				*status = cmd_usage_error(ctx,
				    c == '?' ? "unknown option %s"
				             : "option %s needs a value",
				    bad);
			}
			return CMD_GETOPT_EXIT;
		default:
			return c;
		}
	}
}

int
cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
cmd_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0' && end[1] == '\0' && strchr("kMG", *end) != NULL) {
		shift = *end == 'k' ? 10 : *end == 'M' ? 20 : 30;
		end++;
	}
	if (errno != 0 || *end != '\0' || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int
cmd_parse_duration(
    struct cmd_ctx *ctx, const char *option, const char *arg, uint64_t *ms)
{
	if (retry_parse_duration_ms(arg, ms) == 0)
		return 0;
	if (errno == ERANGE)
		return cmd_usage_error(
		    ctx, "%s: \"%.64s\" is far too long", option, arg);
	if (retry_duration_lacks_unit(arg))
		return cmd_usage_error(ctx,
		    "%s: \"%s\" needs a unit (%sms, %ss, %sm, %sh or %sd)",
		    option, arg, arg, arg, arg, arg, arg);
	return cmd_usage_error(ctx,
	    "%s: bad duration \"%s\" (expected e.g. 500ms, 30s, 5m or 1h)",
	    option, arg);
}

json_t *
cmd_parse_backoff(struct cmd_ctx *ctx, const char *arg, int *status)
{
	struct retry_policy policy;
	char err[256];

	retry_policy_default(&policy);
	if (retry_backoff_parse_spec(&policy, arg, err, sizeof err) != 0) {
		*status = cmd_usage_error(ctx, "--%s", err);
		return NULL;
	}
	return json_pack("{s:s, s:I, s:I}", "backoff",
	    retry_backoff_name(policy.backoff), "base_ms",
	    (json_int_t)policy.base_ms, "max_ms", (json_int_t)policy.max_ms);
}

int
cmd_parse_queue(struct cmd_ctx *ctx, const char *option, const char *name)
{
	return cmd_parse_name(ctx, option, "queue", name);
}

int
cmd_parse_name(
    struct cmd_ctx *ctx, const char *option, const char *what, const char *name)
{
	size_t len = strlen(name), i;
	bool printable = len <= 2 * CMD_QUEUE_NAME_MAX;

	if (len >= 1 && len <= CMD_QUEUE_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789_.-") == len)
		return 0;
	/* Echo the name only when that cannot garble the terminal. */
	for (i = 0; i < len && printable; i++)
		printable = name[i] >= 0x20 && name[i] < 0x7f;
	return cmd_usage_error(ctx,
	    "%s: bad %s name%s%s%s (1 to %d of A-Z a-z 0-9 _ . -)", option,
	    what, printable ? " \"" : "", printable ? name : "",
	    printable ? "\"" : "", CMD_QUEUE_NAME_MAX);
}

json_t *
cmd_parse_ids(struct cmd_ctx *ctx, int argc, char **argv, int first)
{
	json_t *ids = json_array();
	uint64_t id;
	int i;

	if (first >= argc) {
		cmd_usage_error(ctx, "a job id is required");
		json_decref(ids);
		return NULL;
	}
	for (i = first; i < argc; i++) {
		if (cmd_parse_uint(argv[i], 1, INT64_MAX, &id) != 0) {
			cmd_usage_error(ctx, "bad job id \"%s\"", argv[i]);
			json_decref(ids);
			return NULL;
		}
		json_array_append_new(ids, json_integer((json_int_t)id));
	}
	return ids;
}

/* --- Talking to jobd ------------------------------------------------------ */

/* The token of the token file: its first line, or NULL (said why). */
static char *
read_token(const char *path)
{
	char buf[1100];
	struct stat st;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		out_warn("token file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		out_warn(
		    "token file %s: readable by others (chmod 600 it)", path);
	if (fgets(buf, sizeof buf, f) == NULL) {
		out_warn("token file %s: empty", path);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

struct jobd *
cmd_connect(struct cmd_ctx *ctx)
{
	struct jobd_options opt = {
	    .tls_ca = ctx->tls_ca,
	    .tls_cert = ctx->tls_cert,
	    .tls_key = ctx->tls_key,
	};
	char err[768], *token = NULL;

	if (ctx->conn != NULL)
		return ctx->conn;
	if ((ctx->tls_cert == NULL) != (ctx->tls_key == NULL)) {
		out_warn("--tls-cert and --tls-key go together");
		return NULL;
	}
	if (ctx->tls_cert != NULL && ctx->tls_ca == NULL) {
		out_warn("--tls-cert needs --tls-ca: jobd's certificate is "
		         "checked too");
		return NULL;
	}
	/* A TCP connection says hello with the token before anything else. */
	if (strncmp(ctx->addr, "unix:", 5) != 0 &&
	    strchr(ctx->addr, '/') == NULL && ctx->token_file != NULL &&
	    (opt.token = token = read_token(ctx->token_file)) == NULL)
		return NULL;
	ctx->conn = jobd_connect(ctx->addr, &opt, err, sizeof err);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (ctx->conn == NULL) {
		out_warn("%s", err);
		/* What to do about it, where that is not obvious. */
		if (strstr(err, "forbidden") != NULL &&
		    strstr(err, "token") != NULL)
			out_warn("the token was refused: is --token-file (or "
			         "JOBD_TOKEN_FILE) this jobd's?");
		else if (strstr(err, "bad address") != NULL &&
		         getenv("JOBD_ADDR") != NULL &&
		         strcmp(getenv("JOBD_ADDR"), ctx->addr) == 0)
			out_warn("(that address is $JOBD_ADDR's)");
	}
	return ctx->conn;
}

void
cmd_conn_error(struct cmd_ctx *ctx)
{
	out_warn("%s: %s", ctx->addr,
	    ctx->conn != NULL ? jobd_error(ctx->conn) : strerror(errno));
}

void
cmd_reply_error(const json_t *reply)
{
	const json_t *error = json_object_get(reply, "error");
	const char *code, *message;

	code = json_string_value(json_object_get(error, "code"));
	message = json_string_value(json_object_get(error, "message"));
	out_warn("%s: %s", code != NULL ? code : "internal",
	    message != NULL ? message : "(no message)");
	/* The protocol's words are for programs; say what to do. */
	if (code != NULL && strcmp(code, "auth_required") == 0)
		out_warn("this jobd wants a token over TCP: give --token-file "
		         "FILE (or set JOBD_TOKEN_FILE)");
}

json_t *
cmd_call(struct cmd_ctx *ctx, json_t *req)
{
	json_t *reply;

	if (cmd_connect(ctx) == NULL)
		return NULL;
	if ((reply = jobd_call(ctx->conn, req)) == NULL) {
		cmd_conn_error(ctx);
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		cmd_reply_error(reply);
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* --- Output --------------------------------------------------------------- */

void
out_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("jobctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
out_json(const json_t *obj)
{
	/* Any value: a built-in kind's result may be a number or null. */
	char *text;

	if (obj == NULL) {
		/* A reply without the field we print: say so, don't abort. */
		puts("null");
		out_warn("jobd's reply lacked the expected field");
		return;
	}
	if ((text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		fatalx("out_json: cannot encode a JSON value");
	puts(text);
	fflush(stdout);
	free(text);
}

static int
base64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode base64 in place; the decoded length, or -1 if it is not base64. */
static ssize_t
base64_decode(char *s, size_t len)
{
	size_t i, o = 0, pad = 0;
	uint32_t acc = 0;
	int v, bits = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = base64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			s[o++] = (char)(acc >> bits & 0xff);
		}
	}
	return pad > 2 ? -1 : (ssize_t)o;
}

int
out_stream(const json_t *obj, const char *name, FILE *fp, json_int_t id)
{
	const json_t *text = json_object_get(obj, name);
	char key[64], *data;
	ssize_t len;
	int r = 0;

	if (!json_is_string(text))
		return 0;
	len = (ssize_t)json_string_length(text);
	data = xmalloc((size_t)len + 1);
	memcpy(data, json_string_value(text), (size_t)len);
	snprintf(key, sizeof key, "%s_encoding", name);
	if (json_is_string(json_object_get(obj, key)) &&
	    (len = base64_decode(data, (size_t)len)) < 0) {
		out_warn(
		    "job %lld: %s is not valid base64", (long long)id, name);
		free(data);
		return -1;
	}
	if (len > 0 && (fwrite(data, 1, (size_t)len, fp) != (size_t)len ||
	                   fflush(fp) != 0))
		r = -1;
	free(data);
	snprintf(key, sizeof key, "%s_truncated", name);
	if (json_is_true(json_object_get(obj, key))) {
		snprintf(key, sizeof key, "%s_bytes", name);
		out_warn("job %lld: %s truncated (%zd of %lld bytes kept)",
		    (long long)id, name, len,
		    (long long)json_integer_value(json_object_get(obj, key)));
	}
	return r;
}

/* Does an argument need quoting for a POSIX shell? */
static bool
needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	return s[strspn(s,
	           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	           "0123456789_@%+=:,./-")] != '\0';
}

char *
out_command(const json_t *job)
{
	const json_t *argv = json_object_get(job, "argv"), *arg;
	const char *s, *q;
	char *out, *o;
	size_t i, size = 1;

	if (!json_is_array(argv) || json_array_size(argv) == 0) {
		arg = json_object_get(job, "args");
		out = arg != NULL
		          ? json_dumps(arg, JSON_COMPACT | JSON_ENCODE_ANY)
		          : NULL;
		return out != NULL ? out : xstrdup("-");
	}
	/* Worst case: every byte a quote (4 bytes), two quotes and a space. */
	json_array_foreach(argv, i, arg) size +=
	    4 * json_string_length(arg) + 3;
	out = o = xmalloc(size);
	json_array_foreach(argv, i, arg)
	{
		s = json_is_string(arg) ? json_string_value(arg) : "";
		if (i > 0)
			*o++ = ' ';
		if (!needs_quotes(s)) {
			memcpy(o, s, strlen(s));
			o += strlen(s);
			continue;
		}
		/* it's -> 'it'\''s': close, escaped quote, reopen. */
		*o++ = '\'';
		for (q = s; *q != '\0'; q++) {
			if (*q == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else
				*o++ = *q;
		}
		*o++ = '\'';
	}
	*o = '\0';
	return out;
}

int64_t
out_time_ms(const char *rfc3339)
{
	struct tm tm = {0};
	unsigned ms = 0;
	time_t t;

	if (rfc3339 == NULL ||
	    sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d.%3uZ", &tm.tm_year,
	        &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	        &ms) < 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t * 1000 + ms;
}

void
out_time(char *buf, size_t len, const char *rfc3339)
{
	int64_t ms = out_time_ms(rfc3339);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
}

void
out_duration_us(char *buf, size_t len, double us)
{
	double s = us / 1e6;

	if (us < 1000)
		snprintf(buf, len, "%.0fus", us);
	else if (us < 100e3)
		snprintf(buf, len, "%.1fms", us / 1e3);
	else if (us < 1e6)
		snprintf(buf, len, "%.0fms", us / 1e3);
	else if (s < 60)
		snprintf(buf, len, "%.2fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else if (s < 86400)
		snprintf(
		    buf, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	else
		snprintf(buf, len, "%dd%02dh", (int)(s / 86400),
		    (int)(s / 3600) % 24);
}

void
out_exit(char *buf, size_t len, const json_t *job)
{
	const json_t *code = json_object_get(job, "exit_code");
	const json_t *sig = json_object_get(job, "signal");

	if (json_is_integer(code))
		snprintf(buf, len, "%lld", (long long)json_integer_value(code));
	else if (json_is_integer(sig))
		snprintf(
		    buf, len, "sig %lld", (long long)json_integer_value(sig));
	else
		snprintf(buf, len, "-");
}

/* --- Main ----------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"addr", required_argument, NULL, CMD_OPT_ADDR},
	    {"token-file", required_argument, NULL, CMD_OPT_TOKEN_FILE},
	    {"tls-ca", required_argument, NULL, CMD_OPT_TLS_CA},
	    {"tls-cert", required_argument, NULL, CMD_OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, CMD_OPT_TLS_KEY},
	    {"json", no_argument, NULL, CMD_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct cmd_ctx ctx = {0};
	const char *env;
	int c, status;

	setlocale(LC_CTYPE, "");
	ctx.addr = jobd_default_address();
	env = getenv("JOBD_TOKEN_FILE");
	ctx.token_file = env != NULL && env[0] != '\0' ? env : NULL;
	env = getenv("JOBD_TLS_CA");
	ctx.tls_ca = env != NULL && env[0] != '\0' ? env : NULL;
	env = getenv("JOBD_TLS_CERT");
	ctx.tls_cert = env != NULL && env[0] != '\0' ? env : NULL;
	env = getenv("JOBD_TLS_KEY");
	ctx.tls_key = env != NULL && env[0] != '\0' ? env : NULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
		switch (c) {
		case CMD_OPT_ADDR:
			ctx.addr = optarg;
			break;
		case CMD_OPT_TOKEN_FILE:
			ctx.token_file = optarg;
			break;
		case CMD_OPT_TLS_CA:
			ctx.tls_ca = optarg;
			break;
		case CMD_OPT_TLS_CERT:
			ctx.tls_cert = optarg;
			break;
		case CMD_OPT_TLS_KEY:
			ctx.tls_key = optarg;
			break;
		case CMD_OPT_JSON:
			ctx.json = true;
			break;
		case 'h':
			print_command_list(stdout);
			return JOBCTL_EXIT_OK;
		case 'V':
			printf("jobctl %s (protocol %d)\n", PACKAGE_VERSION,
			    PROTO_VERSION);
			return JOBCTL_EXIT_OK;
		default:
			fprintf(stderr, "jobctl: %s %s\n%s",
			    c == ':' ? "missing value for" : "unknown option",
			    argv[optind - 1], main_usage);
			return JOBCTL_EXIT_ERROR;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "jobctl: a command is required\n");
		print_command_list(stderr);
		return JOBCTL_EXIT_ERROR;
	}
	if ((ctx.entry = find_command(argv[optind])) == NULL) {
		fprintf(stderr,
		    "jobctl: unknown command \"%s\" (see `jobctl help`)\n%s",
		    argv[optind], main_usage);
		return JOBCTL_EXIT_ERROR;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* GNU getopt: start over for the command's options */
	status = ctx.entry->exec(&ctx, argc, argv);
	jobd_close(ctx.conn);
	/* A command that failed has said why already (run's SIGPIPE). */
	if ((fflush(stdout) != 0 || ferror(stdout)) &&
	    status == JOBCTL_EXIT_OK) {
		if (errno != EPIPE && errno != 0)
			out_warn("stdout: %s", strerror(errno));
		status = JOBCTL_EXIT_ERROR;
	}
	return status;
}
