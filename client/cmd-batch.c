/*
 * cmd-batch: submit many jobs from NDJSON on stdin, pipelined.
 *
 * One poll() loop reads stdin, writes submit requests ("wait": true, so
 * each reply comes when its job has finished) and reads replies, keeping
 * at most --inflight requests outstanding.  Replies come back in
 * completion order; the request id (conn assigns 1, 2, 3, ...) indexes
 * the input line number it came from.  Each finished job is printed as
 * one JSON line, with "line" added; a line that is not a JSON object, or
 * that jobd refuses,
 * becomes {"line":N,"ok":false,"error":{...}} and the batch goes on.
 * Only a lost connection stops it (exit 125).
 *
 * Input lines are checked here with proto_decode() (UTF-8, JSON, depth
 * with room for the request around the job) and against jobd's default
 * line limit, so jobd never has to answer a line it cannot read: such
 * answers carry no id, and one too long closes the connection.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jobd.h>

#include "jobctl.h"
#include "proto.h"
#include "xmalloc.h"

#define BATCH_INFLIGHT_DEFAULT 256
#define BATCH_INFLIGHT_MAX 65536
#define BATCH_READ_CHUNK 65536
#define BATCH_BAR_WIDTH 30
#define BATCH_BAR_EVERY_MS 100
/* {"op":"submit","wait":true,"job":...,"id":N} and the newline */
#define BATCH_REQUEST_OVERHEAD 64

enum { OPT_INFLIGHT = CMD_OPT_COMMAND_FIRST };

struct batch {
	struct cmd_ctx *ctx;
	struct jobd *conn;
	size_t inflight_max, inflight;
	/* stdin, and the line number (from 1) of each request id */
	char *in;
	size_t in_off, in_len, in_cap;
	bool in_eof;
	uint64_t line_no;
	uint64_t *lines;
	size_t lines_cap;
	/* progress */
	uint64_t total, done, failed;
	int64_t expected; /* jobs in a regular-file stdin; -1: unknown */
	bool bar;
	int64_t bar_drawn_ms;
};

static bool
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	}
	return true;
}

/* Non-blank lines left in a regular-file stdin, for the bar; -1 if not. */
static int64_t
count_jobs(int fd)
{
	char chunk[BATCH_READ_CHUNK];
	struct stat st;
	off_t off;
	ssize_t n, i;
	int64_t jobs = 0;
	bool blank = true;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (off = lseek(fd, 0, SEEK_CUR)) == -1)
		return -1;
	while ((n = pread(fd, chunk, sizeof chunk, off)) > 0) {
		for (i = 0; i < n; i++) {
			if (chunk[i] == '\n') {
				jobs += !blank;
				blank = true;
			} else if (!is_blank(&chunk[i], 1))
				blank = false;
		}
		off += n;
	}
	return n < 0 ? -1 : jobs + !blank;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
draw_bar(struct batch *b, bool last)
{
	char bar[BATCH_BAR_WIDTH + 1];
	uint64_t total = b->expected >= 0 && (uint64_t)b->expected > b->total
	                     ? (uint64_t)b->expected
	                     : b->total;
	size_t fill, i;
	int64_t now = mono_ms();

	if (!b->bar || (!last && now - b->bar_drawn_ms < BATCH_BAR_EVERY_MS))
		return;
	b->bar_drawn_ms = now;
	fill = total > 0 ? (size_t)(b->done * BATCH_BAR_WIDTH / total) : 0;
	for (i = 0; i < BATCH_BAR_WIDTH; i++)
		bar[i] = i < fill ? '=' : ' ';
	if (fill > 0 && fill < BATCH_BAR_WIDTH)
		bar[fill - 1] = '>';
	bar[BATCH_BAR_WIDTH] = '\0';
	fprintf(stderr, "\r[%s] %llu/%llu%s done, %llu failed%s", bar,
	    (unsigned long long)b->done, (unsigned long long)total,
	    b->in_eof || b->expected >= 0 ? "" : "+",
	    (unsigned long long)b->failed, last ? "\n" : "");
	fflush(stderr);
}

/* One output line, buffered; stdout is flushed before each wait. */
static void
emit(const json_t *obj)
{
	size_t len;
	char *text;

	if (obj == NULL)
		obj = json_null();
	text = proto_encode(obj, &len);
	fwrite(text, 1, len, stdout);
	free(text);
}

static void
emit_error(struct batch *b, uint64_t line, const json_t *error)
{
	json_t *out;

	if (!json_is_object(error))
		error = json_pack("{s:s, s:s}", "code", "internal", "message",
		    "jobd's error reply had no error object");
	else
		json_incref((json_t *)(uintptr_t)error);
	out = json_pack("{s:I, s:b, s:o}", "line", (json_int_t)line, "ok",
	    false, "error", (json_t *)(uintptr_t)error);

	emit(out);
	json_decref(out);
	b->done++;
	b->failed++;
}

static void
submit_line(struct batch *b, const char *text, size_t len)
{
	enum proto_err code;
	json_t *job, *req, *error;
	json_int_t id;
	char msg[256];

	b->line_no++;
	if (is_blank(text, len))
		return;
	b->total++;
	/* Two levels go to the request around the job. */
	if (proto_decode(text, len, PROTO_MAX_DEPTH_DEFAULT - 2, &job, &code,
	        msg, sizeof msg) != 0) {
		if (code == PROTO_E_BAD_REQUEST)
			snprintf(msg, sizeof msg,
			    "a job spec must be a JSON object");
		error = json_pack(
		    "{s:s, s:s}", "code", proto_err_code(code), "message", msg);
		emit_error(b, b->line_no, error);
		json_decref(error);
		return;
	}
	/*
	 * jobd closes the connection after a line over its limit, losing
	 * every request behind it; it does not say its limit, so the default
	 * is assumed (with room for the request around the job).
	 */
	if (json_dumpb(job, NULL, 0, JSON_COMPACT) >
	    PROTO_MAX_LINE_DEFAULT - BATCH_REQUEST_OVERHEAD) {
		snprintf(msg, sizeof msg,
		    "job spec too long for one request line (jobd's limit "
		    "is %d bytes)",
		    PROTO_MAX_LINE_DEFAULT);
		error = json_pack("{s:s, s:s}", "code",
		    proto_err_code(PROTO_E_LINE_TOO_LONG), "message", msg);
		emit_error(b, b->line_no, error);
		json_decref(error);
		json_decref(job);
		return;
	}
	req = json_pack(
	    "{s:s, s:b, s:o}", "op", "submit", "wait", true, "job", job);
	id = jobd_send(b->conn, req);
	json_decref(req);
	while ((size_t)id >= b->lines_cap) {
		b->lines_cap = b->lines_cap == 0 ? 1024 : 2 * b->lines_cap;
		b->lines =
		    xreallocarray(b->lines, b->lines_cap, sizeof(*b->lines));
	}
	b->lines[id] = b->line_no;
	b->inflight++;
}

/* Submit buffered input lines while the window has room. */
static void
submit_lines(struct batch *b)
{
	char *nl;
	size_t len;

	while (b->inflight < b->inflight_max && b->in_off < b->in_len) {
		nl = memchr(b->in + b->in_off, '\n', b->in_len - b->in_off);
		if (nl == NULL && !b->in_eof)
			break;
		len = nl != NULL ? (size_t)(nl - (b->in + b->in_off))
		                 : b->in_len - b->in_off;
		if (len > 0 && b->in[b->in_off + len - 1] == '\r')
			submit_line(b, b->in + b->in_off, len - 1);
		else
			submit_line(b, b->in + b->in_off, len);
		b->in_off += len + (nl != NULL);
	}
}

static int
read_input(struct batch *b)
{
	ssize_t n;

	if (b->in_off > 0) {
		memmove(b->in, b->in + b->in_off, b->in_len - b->in_off);
		b->in_len -= b->in_off;
		b->in_off = 0;
	}
	if (b->in_cap - b->in_len < BATCH_READ_CHUNK) {
		b->in_cap = b->in_len + 2 * BATCH_READ_CHUNK;
		b->in = xreallocarray(b->in, b->in_cap, 1);
	}
	n = read(STDIN_FILENO, b->in + b->in_len, b->in_cap - b->in_len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == -1) {
		out_warn("standard input: %s", strerror(errno));
		return -1;
	}
	if (n == 0)
		b->in_eof = true;
	b->in_len += (size_t)n;
	return 0;
}

/* Take a reply: print the job, or the error with its line. */
static int
take_reply(struct batch *b, json_t *reply)
{
	json_int_t id = jobd_reply_id(reply);
	json_t *job = json_object_get(reply, "job");
	const char *state;

	if (id < 1 || (size_t)id >= b->lines_cap || b->lines[id] == 0) {
		if (b->bar)
			fputc('\n', stderr); /* end the progress line */
		if (!json_is_true(json_object_get(reply, "ok")))
			cmd_reply_error(reply);
		else
			out_warn("jobd answered a request never sent");
		return -1;
	}
	b->inflight--;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		emit_error(b, b->lines[id], json_object_get(reply, "error"));
	} else {
		/* Which input line it came from, as for errors. */
		if (json_is_object(job))
			json_object_set_new(job, "line",
			    json_integer((json_int_t)b->lines[id]));
		emit(job);
		state = json_string_value(json_object_get(job, "state"));
		b->done++;
		if (state == NULL || strcmp(state, "succeeded") != 0)
			b->failed++;
	}
	b->lines[id] = 0;
	return 0;
}

static int
batch_loop(struct batch *b)
{
	struct pollfd pfd[2];
	json_t *reply;
	int r;

	for (;;) {
		submit_lines(b);
		if (b->in_eof && b->in_off == b->in_len && b->inflight == 0)
			return 0;
		draw_bar(b, false);
		fflush(stdout);
		pfd[0] = (struct pollfd){STDIN_FILENO, POLLIN, 0};
		if (b->in_eof || b->inflight >= b->inflight_max)
			pfd[0].fd = -1;
		pfd[1] = (struct pollfd){
		    jobd_fd(b->conn), jobd_poll_events(b->conn), 0};
		/* Replies already decrypted by TLS: do not block. */
		if (poll(pfd, 2, jobd_buffered(b->conn) ? 0 : -1) == -1) {
			if (errno == EINTR)
				continue;
			out_warn("poll: %s", strerror(errno));
			return -1;
		}
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    read_input(b) == -1)
			return -1;
		if (jobd_poll_done(b->conn, pfd[1].revents) == -1)
			goto lost;
		while ((r = jobd_next(b->conn, &reply)) == 1) {
			r = take_reply(b, reply);
			json_decref(reply);
			if (r != 0)
				return -1;
		}
		if (r == -1)
			goto lost;
	}
lost:
	if (b->bar)
		fputc('\n', stderr);
	cmd_conn_error(b->ctx);
	return -1;
}

static int
cmd_batch_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"inflight", required_argument, NULL, OPT_INFLIGHT},
	    CMD_COMMON_OPTIONS,
	};
	struct batch b = {.ctx = ctx, .inflight_max = BATCH_INFLIGHT_DEFAULT};
	uint64_t n;
	int c, status;

	while ((c = cmd_getopt(ctx, argc, argv, "", options, false, &status)) !=
	       -1) {
		if (c == CMD_GETOPT_EXIT)
			return status;
		if (cmd_parse_uint(optarg, 1, BATCH_INFLIGHT_MAX, &n) != 0)
			return cmd_usage_error(ctx,
			    "--inflight: expected a number from 1 to %d",
			    BATCH_INFLIGHT_MAX);
		b.inflight_max = (size_t)n;
	}
	if (optind < argc)
		return cmd_usage_error(ctx,
		    "unexpected argument \"%s\" (job specs come on stdin)",
		    argv[optind]);
	if ((b.conn = cmd_connect(ctx)) == NULL)
		return JOBCTL_EXIT_ERROR;
	b.bar = isatty(STDERR_FILENO);
	b.expected = b.bar ? count_jobs(STDIN_FILENO) : -1;
	if (batch_loop(&b) != 0)
		status = JOBCTL_EXIT_ERROR;
	else {
		draw_bar(&b, true);
		status = b.failed > 0 ? JOBCTL_EXIT_FAILED : JOBCTL_EXIT_OK;
	}
	fflush(stdout);
	free(b.in);
	free(b.lines);
	return status;
}

const struct cmd_entry cmd_batch_entry = {
    .name = "batch",
    .usage = "[--inflight N] < JOBS.ndjson",
    .summary = "submit job specs from stdin (NDJSON) and print the results",
    .exec = cmd_batch_exec,
};
