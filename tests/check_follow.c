/*
 * check_follow: following a job's output live ({"op":"logs","follow":true}
 * and `jobctl logs --follow`) against a real jobd.
 *
 * Jobs that must pause mid-output wait on a gate: a fifo in the test's
 * directory that the job reads from.  The job blocks until the test opens
 * the fifo and writes to it, so a test can see one line arrive while the
 * job provably cannot have written the next yet: streaming is shown by
 * order, never by time.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common.h"
#include "harness.h"

#define T HARNESS_DEADLINE_MS
/* Output the slow reader's job writes: well past jobd's 8 MiB limit. */
#define SPEW_BYTES (32 * 1024 * 1024)

extern char **environ;

static struct harness H;

static void
start(const char *const *extra)
{
	ck_assert_int_eq(harness_start(&H, extra), 0);
}

static void
stop(void)
{
	ck_assert_int_eq(harness_stop(&H), 0);
}

static void
connect_unix(struct client *c)
{
	ck_assert_int_eq(client_unix(c, H.sock), 0);
}

static void
send_text(struct client *c, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof line);
	ck_assert_int_eq(client_send(c, line, (size_t)n), 0);
}

/* Submit a job spec (JSON text, without wait); its id. */
static json_int_t
submit(struct client *c, const char *spec)
{
	char req[4096];
	json_t *r;
	json_int_t id;

	snprintf(req, sizeof req, "{\"op\":\"submit\",\"job\":%s}", spec);
	r = call_ok(c, req);
	id = num(json_object_get(r, "job"), "id");
	ck_assert_int_gt(id, 0);
	json_decref(r);
	return id;
}

/* Wait for a job to finish; its final state. */
static char *
wait_job(struct client *c, json_int_t id)
{
	char req[128];
	json_t *r;
	char *state;

	snprintf(req, sizeof req,
	    "{\"op\":\"wait\",\"job\":%lld,\"output\":false}", (long long)id);
	r = call_ok(c, req);
	state = strdup(str(json_object_get(r, "job"), "state"));
	json_decref(r);
	return state;
}

static void
ping(struct client *c)
{
	json_t *r = call_ok(c, "{\"op\":\"ping\",\"id\":\"p\"}");

	ck_assert_str_eq(str(r, "id"), "p");
	json_decref(r);
}

/*
 * Poll the plain logs op until jobd has read len bytes of the job's stdout
 * (a condition with a deadline; each round is one request).
 */
static void
wait_stdout_bytes(struct client *c, json_int_t id, size_t len)
{
	uint64_t deadline = test_now_ns() + (uint64_t)T * 1000000;
	char req[128];
	json_t *r;
	size_t have;

	snprintf(
	    req, sizeof req, "{\"op\":\"logs\",\"job\":%lld}", (long long)id);
	do {
		ck_assert_msg(test_now_ns() < deadline,
		    "job %lld never wrote %zu bytes", (long long)id, len);
		r = call_ok(c, req);
		/* Either encoding: 4 base64 characters per 3 bytes. */
		have = json_string_length(json_object_get(r, "stdout"));
		if (str(r, "stdout_encoding") != NULL)
			have = have / 4 * 3;
		json_decref(r);
	} while (have < len);
}

/* --- Gates -------------------------------------------------------------------
 */

/* Make a fifo NAME in the test directory; its path in path. */
static void
gate_make(char *path, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(path, len, "%s/%s", H.dir, name), (int)len);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
}

/* Open a gate for writing: returns once the job has opened it to read. */
static int
gate_reach(const char *path)
{
	int fd;

	while ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR)
		;
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Let the job past its `read`. */
static void
gate_release(int fd)
{
	ck_assert_int_eq(write(fd, "go\n", 3), 3);
	close(fd);
}

static void
gate_open(const char *path)
{
	gate_release(gate_reach(path));
}

/* --- Reading a follow --------------------------------------------------------
 */

static int
b64_value(int ch)
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

/* Decode base64 text into out (room for len bytes); the length. */
static size_t
b64_decode(const char *text, char *out)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0, v;

	for (; *text != '\0' && *text != '='; text++) {
		v = b64_value((unsigned char)*text);
		ck_assert_int_ge(v, 0);
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	return o;
}

struct follow {
	struct client *c;
	json_int_t id; /* the request's */
	json_int_t job;
	char *out[2]; /* bytes received per stream, NUL-terminated */
	size_t len[2];
	uint64_t dropped; /* bytes reported as output_dropped */
	int ndropped;     /* output_dropped lines */
	int attempts[16]; /* attempt markers, in order */
	int nattempts;
	int noutput;      /* output lines */
	bool base64;      /* some line was base64 */
	json_t *finished; /* the last line, once seen */
};

static void
follow_append(struct follow *f, int s, const char *data, size_t len)
{
	f->out[s] = realloc(f->out[s], f->len[s] + len + 1);
	ck_assert_ptr_nonnull(f->out[s]);
	memcpy(f->out[s] + f->len[s], data, len);
	f->len[s] += len;
	f->out[s][f->len[s]] = '\0';
}

static void
follow_init(
    struct follow *f, struct client *c, json_int_t req_id, json_int_t job)
{
	memset(f, 0, sizeof *f);
	f->c = c;
	f->id = req_id;
	f->job = job;
	follow_append(f, 0, "", 0);
	follow_append(f, 1, "", 0);
}

/* Read and check the opening line of a follow; the job's state then. */
static const char *
follow_opened(struct follow *f)
{
	static char state[32];
	json_t *r;

	r = client_reply(f->c, T);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(reply_error_code(r) == NULL, "%s", json_dumps(r, 0));
	ck_assert_int_eq(num(r, "id"), f->id);
	ck_assert(json_is_true(json_object_get(r, "following")));
	ck_assert_int_eq(num(r, "job"), f->job);
	snprintf(state, sizeof state, "%s", str(r, "state"));
	json_decref(r);
	return state;
}

/* Send the follow request on c and check the opening line; its state. */
static const char *
follow_begin(
    struct follow *f, struct client *c, json_int_t req_id, json_int_t job)
{
	follow_init(f, c, req_id, job);
	send_text(c,
	    "{\"op\":\"logs\",\"id\":%lld,\"job\":%lld,\"follow\":true}\n",
	    (long long)req_id, (long long)job);
	return follow_opened(f);
}

/* Read and account for the next line of the follow; its event name. */
static const char *
follow_next(struct follow *f)
{
	static char event[32];
	const char *stream, *data;
	json_t *r;
	char *bytes;
	size_t n;
	int s;

	ck_assert_msg(f->finished == NULL, "read past the finished line");
	r = client_reply(f->c, T);
	ck_assert_msg(
	    r != NULL, "no follow line for job %lld", (long long)f->job);
	ck_assert_msg(reply_error_code(r) == NULL, "%s", json_dumps(r, 0));
	ck_assert_int_eq(num(r, "id"), f->id);
	ck_assert_int_eq(num(r, "job"), f->job);
	ck_assert_ptr_nonnull(str(r, "event"));
	snprintf(event, sizeof event, "%s", str(r, "event"));
	if (strcmp(event, "attempt") == 0) {
		ck_assert_int_lt(f->nattempts, 16);
		f->attempts[f->nattempts++] = (int)num(r, "attempt");
	} else if (strcmp(event, "output") == 0) {
		/* Output belongs to the attempt last announced. */
		ck_assert_int_gt(f->nattempts, 0);
		ck_assert_int_eq(
		    num(r, "attempt"), f->attempts[f->nattempts - 1]);
		stream = str(r, "stream");
		ck_assert_ptr_nonnull(stream);
		s = strcmp(stream, "stderr") == 0;
		ck_assert(s || strcmp(stream, "stdout") == 0);
		data = str(r, "data");
		ck_assert_ptr_nonnull(data);
		ck_assert_uint_gt(strlen(data), 0);
		if (str(r, "data_encoding") != NULL) {
			ck_assert_str_eq(str(r, "data_encoding"), "base64");
			bytes = malloc(strlen(data) + 1);
			n = b64_decode(data, bytes);
			follow_append(f, s, bytes, n);
			free(bytes);
			f->base64 = true;
		} else
			follow_append(f, s, data,
			    json_string_length(json_object_get(r, "data")));
		f->noutput++;
	} else if (strcmp(event, "output_dropped") == 0) {
		ck_assert_int_gt(num(r, "bytes"), 0);
		f->dropped += (uint64_t)num(r, "bytes");
		f->ndropped++;
	} else {
		ck_assert_str_eq(event, "finished");
		ck_assert_ptr_nonnull(str(r, "state"));
		f->finished = json_incref(r);
	}
	json_decref(r);
	return event;
}

/* Read until stream s (0 stdout, 1 stderr) ends with text. */
static void
follow_until(struct follow *f, int s, const char *text)
{
	size_t n = strlen(text);

	while (f->len[s] < n || strcmp(f->out[s] + f->len[s] - n, text) != 0)
		follow_next(f);
}

/* Read up to the finished line; the job's final state. */
static const char *
follow_end(struct follow *f)
{
	while (f->finished == NULL)
		follow_next(f);
	return str(f->finished, "state");
}

static void
follow_free(struct follow *f)
{
	free(f->out[0]);
	free(f->out[1]);
	json_decref(f->finished);
}

/* A job spec: sh -c SCRIPT with the gate's path as $1. */
static void
gated_spec(char *spec, size_t len, const char *script, const char *gate,
    const char *extra)
{
	ck_assert_int_lt(snprintf(spec, len,
	                     "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\","
	                     "\"%s\",\"sh\",\"%s\"]%s%s}",
	                     script, gate, extra != NULL ? "," : "",
	                     extra != NULL ? extra : ""),
	    (int)len);
}

/* --- Protocol ----------------------------------------------------------------
 */

START_TEST(test_follow_streams)
{
	char gate[512], spec[2048];
	struct client c;
	struct follow f;
	json_int_t id;

	start(NULL);
	connect_unix(&c);
	gate_make(gate, sizeof gate, "g1");
	gated_spec(spec, sizeof spec,
	    "echo one; echo warn >&2; read g < \\\"$1\\\"; echo two; exit 0",
	    gate, NULL);
	id = submit(&c, spec);
	follow_begin(&f, &c, 7, id);
	follow_until(&f, 0, "one\n");
	follow_until(&f, 1, "warn\n");
	/* Line one is here and the job is held before line two. */
	ck_assert_str_eq(f.out[0], "one\n");
	gate_open(gate);
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_str_eq(f.out[0], "one\ntwo\n");
	ck_assert_str_eq(f.out[1], "warn\n");
	ck_assert_int_eq(f.nattempts, 1);
	ck_assert_int_eq(f.attempts[0], 1);
	ck_assert_int_eq(num(f.finished, "exit_code"), 0);
	ck_assert_int_eq(num(f.finished, "attempt"), 1);
	ck_assert_str_eq(str(f.finished, "outcome"), "succeeded");
	ck_assert(!f.base64);
	ck_assert_int_eq(f.ndropped, 0);
	follow_free(&f);
	/* The connection goes on serving requests after the stream. */
	ping(&c);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_follow_join_midrun)
{
	char gate[512], spec[2048];
	struct client a, b;
	struct follow fa, fb;
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	gate_make(gate, sizeof gate, "g");
	gated_spec(spec, sizeof spec,
	    "echo early; echo err1 >&2; read g < \\\"$1\\\"; echo late; "
	    "echo err2 >&2",
	    gate, NULL);
	id = submit(&a, spec);
	follow_begin(&fa, &a, 1, id);
	follow_until(&fa, 0, "early\n");
	follow_until(&fa, 1, "err1\n");
	/* b joins now: it gets what the attempt has written so far. */
	ck_assert_str_eq(follow_begin(&fb, &b, 2, id), "running");
	follow_until(&fb, 0, "early\n");
	follow_until(&fb, 1, "err1\n");
	ck_assert_int_eq(fb.nattempts, 1);
	gate_open(gate);
	ck_assert_str_eq(follow_end(&fa), "succeeded");
	ck_assert_str_eq(follow_end(&fb), "succeeded");
	ck_assert_str_eq(fa.out[0], "early\nlate\n");
	ck_assert_str_eq(fb.out[0], "early\nlate\n");
	ck_assert_str_eq(fa.out[1], "err1\nerr2\n");
	ck_assert_str_eq(fb.out[1], "err1\nerr2\n");
	follow_free(&fa);
	follow_free(&fb);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

/*
 * A character split across two writes stays text: for a follower that was
 * there before the job started (the split arrives in live chunks), one
 * that joins a job already followed, and the first one to join mid-run.
 */
START_TEST(test_follow_utf8_split)
{
	char gate1[512], gate2[512], spec[2048];
	struct client a, b, c;
	struct follow fa, fb, fc;
	json_int_t id1, id2;
	const char *script = "printf 'caf\\\\303'; read g < \\\"$1\\\"; "
	                     "printf '\\\\251\\\\n'";

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	connect_unix(&c);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	/* "café\n", the é (C3 A9) cut in two by the gate. */
	gate_make(gate1, sizeof gate1, "g1");
	gate_make(gate2, sizeof gate2, "g2");
	gated_spec(spec, sizeof spec, script, gate1, "\"queue\":\"held\"");
	id1 = submit(&a, spec);
	gated_spec(spec, sizeof spec, script, gate2, NULL);
	id2 = submit(&a, spec);
	ck_assert_str_eq(follow_begin(&fa, &a, 1, id1), "queued");
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"resume\",\"name\":\"held\"}"));
	follow_until(&fa, 0, "caf");
	follow_begin(&fb, &b, 2, id1);
	follow_until(&fb, 0, "caf");
	/* Job 2's output so far ends inside the é when fc, its first
	 * follower, joins. */
	wait_stdout_bytes(&c, id2, 4);
	follow_begin(&fc, &c, 3, id2);
	follow_until(&fc, 0, "caf");
	gate_open(gate1);
	gate_open(gate2);
	ck_assert_str_eq(follow_end(&fa), "succeeded");
	ck_assert_str_eq(follow_end(&fb), "succeeded");
	ck_assert_str_eq(follow_end(&fc), "succeeded");
	ck_assert_str_eq(fa.out[0], "caf\xc3\xa9\n");
	ck_assert_str_eq(fb.out[0], "caf\xc3\xa9\n");
	ck_assert_str_eq(fc.out[0], "caf\xc3\xa9\n");
	ck_assert(!fa.base64);
	ck_assert(!fb.base64);
	ck_assert(!fc.base64);
	follow_free(&fa);
	follow_free(&fb);
	follow_free(&fc);
	client_close(&a);
	client_close(&b);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_follow_finished)
{
	struct client c;
	struct follow f;
	json_t *r;
	json_int_t id;

	start(NULL);
	connect_unix(&c);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"sh\",\"-c\",\"echo out; echo "
	                "err >&2; exit 3\"]}}");
	id = num(json_object_get(r, "job"), "id");
	json_decref(r);
	ck_assert_str_eq(follow_begin(&f, &c, 5, id), "failed");
	ck_assert_str_eq(follow_end(&f), "failed");
	ck_assert_str_eq(f.out[0], "out\n");
	ck_assert_str_eq(f.out[1], "err\n");
	ck_assert_int_eq(f.nattempts, 1);
	ck_assert_int_eq(num(f.finished, "exit_code"), 3);
	ck_assert_str_eq(str(f.finished, "outcome"), "failed");
	follow_free(&f);
	client_close(&c);
	stop();
}
END_TEST

/* Output past --output-cap was not kept: a late follower is told. */
START_TEST(test_follow_finished_truncated)
{
	static const char *const extra[] = {"--output-cap", "1k", NULL};
	struct client c;
	struct follow f;
	json_t *r;
	json_int_t id;
	size_t i;

	start(extra);
	connect_unix(&c);
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"sh\",\"-c\",\"head -c 3000 "
	                "/dev/zero | tr '\\\\0' y\"]}}");
	id = num(json_object_get(r, "job"), "id");
	json_decref(r);
	follow_begin(&f, &c, 5, id);
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_uint_eq(f.len[0], 1024);
	for (i = 0; i < f.len[0]; i++)
		ck_assert_int_eq(f.out[0][i], 'y');
	ck_assert_int_eq(f.ndropped, 1);
	ck_assert_uint_eq(f.dropped, 3000 - 1024);
	follow_free(&f);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_follow_queued)
{
	struct client a, b;
	struct follow f;
	json_t *r;
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	id = submit(&b, "{\"kind\":\"exec\",\"argv\":[\"echo\",\"hi\"],"
	                "\"queue\":\"held\"}");
	ck_assert_str_eq(follow_begin(&f, &a, 3, id), "queued");
	/* Nothing comes before the job starts: the ping's reply is next. */
	r = call_ok(&a, "{\"op\":\"ping\",\"id\":\"p\"}");
	ck_assert_str_eq(str(r, "id"), "p");
	json_decref(r);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"resume\",\"name\":\"held\"}"));
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_str_eq(f.out[0], "hi\n");
	ck_assert_int_eq(f.nattempts, 1);
	follow_free(&f);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

/* A client that sends its follow and half-closes still gets the end. */
START_TEST(test_follow_half_close)
{
	struct client a, b;
	struct follow f;
	json_t *r;
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	id = submit(&b, "{\"kind\":\"exec\",\"argv\":[\"echo\",\"bye\"],"
	                "\"queue\":\"held\"}");
	send_text(&a,
	    "{\"op\":\"logs\",\"id\":1,\"job\":%lld,"
	    "\"follow\":true}\n{\"op\":\"ping\",\"id\":2}\n",
	    (long long)id);
	ck_assert_int_eq(shutdown(a.fd, SHUT_WR), 0);
	follow_init(&f, &a, 1, id);
	ck_assert_str_eq(follow_opened(&f), "queued");
	/* The ping's reply shows both requests were read. */
	r = client_reply(&a, T);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(num(r, "id"), 2);
	ck_assert(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"resume\",\"name\":\"held\"}"));
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_str_eq(f.out[0], "bye\n");
	/* Then jobd closes the connection. */
	ck_assert_ptr_null(client_line(&a, T));
	follow_free(&f);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

START_TEST(test_follow_retries)
{
	struct client a, b;
	struct follow f;
	json_int_t id;
	int i;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	id = submit(&b,
	    "{\"kind\":\"exec\",\"queue\":\"held\",\"argv\":[\"sh\",\"-c\","
	    "\"echo try $JOBD_ATTEMPT; echo e$JOBD_ATTEMPT >&2; "
	    "[ $JOBD_ATTEMPT -ge 3 ]\"],\"retry\":{\"max_attempts\":3,"
	    "\"backoff\":\"fixed\",\"base_ms\":1}}");
	follow_begin(&f, &a, 3, id);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"resume\",\"name\":\"held\"}"));
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_int_eq(f.nattempts, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(f.attempts[i], i + 1);
	ck_assert_str_eq(f.out[0], "try 1\ntry 2\ntry 3\n");
	ck_assert_str_eq(f.out[1], "e1\ne2\ne3\n");
	ck_assert_int_eq(num(f.finished, "attempt"), 3);
	follow_free(&f);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

START_TEST(test_follow_binary)
{
	char gate[512], spec[2048];
	struct client c;
	struct follow f;
	json_int_t id;

	start(NULL);
	connect_unix(&c);
	gate_make(gate, sizeof gate, "g");
	gated_spec(spec, sizeof spec,
	    "printf 'a\\\\377\\\\000b'; read g < \\\"$1\\\"; "
	    "printf '\\\\001\\\\376' >&2",
	    gate, NULL);
	id = submit(&c, spec);
	follow_begin(&f, &c, 1, id);
	while (f.len[0] < 4)
		follow_next(&f);
	gate_open(gate);
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert(f.base64);
	ck_assert_uint_eq(f.len[0], 4);
	ck_assert_int_eq(memcmp(f.out[0], "a\377\000b", 4), 0);
	ck_assert_uint_eq(f.len[1], 2);
	ck_assert_int_eq(memcmp(f.out[1], "\001\376", 2), 0);
	follow_free(&f);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_follow_bad_input)
{
	struct client c;
	json_t *r;
	json_int_t id;

	start(NULL);
	connect_unix(&c);
	call_err(
	    &c, "{\"op\":\"logs\",\"job\":999,\"follow\":true}", "not_found");
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"echo\",\"x\"]}}");
	id = num(json_object_get(r, "job"), "id");
	json_decref(r);
	call_err(&c, "{\"op\":\"logs\",\"job\":1,\"follow\":\"yes\"}",
	    "bad_request");
	call_err(&c, "{\"op\":\"logs\",\"job\":1,\"follow\":1}", "bad_request");
	call_err(
	    &c, "{\"op\":\"logs\",\"job\":1,\"follow\":null}", "bad_request");
	call_err(&c, "{\"op\":\"logs\",\"jobs\":[1],\"follow\":true}",
	    "bad_request");
	call_err(
	    &c, "{\"op\":\"logs\",\"job\":1,\"folow\":true}", "bad_request");
	call_err(
	    &c, "{\"op\":\"logs\",\"job\":0,\"follow\":true}", "bad_request");
	call_err(&c, "{\"op\":\"logs\",\"follow\":true}", "bad_request");
	/* "follow": false is the plain logs reply. */
	r = call_ok(
	    &c, "{\"op\":\"logs\",\"id\":4,\"job\":1,\"follow\":false}");
	ck_assert_int_eq(num(r, "job"), id);
	ck_assert_str_eq(str(r, "stdout"), "x\n");
	ck_assert_ptr_null(json_object_get(r, "following"));
	json_decref(r);
	/* The connection is still usable. */
	ping(&c);
	client_close(&c);
	stop();
}
END_TEST

/* Kinds without output: no output lines, just the end. */
START_TEST(test_follow_non_exec)
{
	struct client a, b;
	struct follow f;
	json_t *r;
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	id = submit(&b, "{\"kind\":\"sleep\",\"args\":{\"ms\":1},"
	                "\"queue\":\"held\"}");
	ck_assert_str_eq(follow_begin(&f, &a, 1, id), "queued");
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"resume\",\"name\":\"held\"}"));
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_int_eq(f.nattempts, 0);
	ck_assert_int_eq(f.noutput, 0);
	follow_free(&f);

	/* Already finished: the end at once. */
	r = call_ok(&b, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"echo\",\"args\":{\"x\":1}}}");
	id = num(json_object_get(r, "job"), "id");
	json_decref(r);
	ck_assert_str_eq(follow_begin(&f, &a, 2, id), "succeeded");
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_int_eq(f.noutput, 0);
	follow_free(&f);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

/* A cancelled queued job ends its follow too. */
START_TEST(test_follow_cancelled_queued)
{
	struct client a, b;
	struct follow f;
	char req[128];
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	id = submit(&b, "{\"kind\":\"exec\",\"argv\":[\"true\"],"
	                "\"queue\":\"held\"}");
	follow_begin(&f, &a, 1, id);
	snprintf(
	    req, sizeof req, "{\"op\":\"cancel\",\"job\":%lld}", (long long)id);
	json_decref(call_ok(&b, req));
	ck_assert_str_eq(follow_end(&f), "cancelled");
	ck_assert_int_eq(f.nattempts, 0);
	ck_assert_int_eq(num(f.finished, "attempt"), 0);
	follow_free(&f);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

/*
 * A follower that stops reading while its job writes 32 MiB: jobd drops
 * chunks for it instead of queueing them, serves everyone else, and says
 * how much was dropped once the follower has caught up.  Every byte is
 * either received or counted as dropped.
 */
START_TEST(test_follow_slow_reader)
{
	char gate[512], spec[2048];
	struct client a, b;
	struct follow f;
	json_int_t id;
	size_t i;
	int fd;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	gate_make(gate, sizeof gate, "g");
	snprintf(spec, sizeof spec,
	    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"head -c %d "
	    "/dev/zero | tr '\\\\0' x; read g < \\\"$1\\\"; echo tail\","
	    "\"sh\",\"%s\"]}",
	    SPEW_BYTES, gate);
	id = submit(&b, spec);
	follow_begin(&f, &a, 9, id);
	/* a reads nothing more for now. */
	ping(&b);
	/* The job has written everything once it waits at the gate. */
	fd = gate_reach(gate);
	ping(&b);
	while (f.ndropped == 0)
		follow_next(&f);
	gate_release(fd);
	ck_assert_str_eq(follow_end(&f), "succeeded");
	ck_assert_uint_eq(f.len[0] + f.dropped, SPEW_BYTES + 5);
	ck_assert_uint_gt(f.dropped, 0);
	ck_assert_str_eq(f.out[0] + f.len[0] - 5, "tail\n");
	for (i = 0; i + 5 < f.len[0]; i++)
		ck_assert_int_eq(f.out[0][i], 'x');
	follow_free(&f);
	ping(&a);
	ping(&b);
	client_close(&a);
	client_close(&b);
	stop();
}
END_TEST

/* Followers that go away mid-stream leave jobd and the job unharmed. */
START_TEST(test_follow_disconnect)
{
	char gate[512], spec[2048];
	struct client a, b, c;
	struct follow fa;
	char *state;
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	connect_unix(&c);
	gate_make(gate, sizeof gate, "g");
	gated_spec(spec, sizeof spec,
	    "echo one; read g < \\\"$1\\\"; head -c 1000000 /dev/zero; "
	    "echo two",
	    gate, NULL);
	id = submit(&b, spec);
	follow_begin(&fa, &a, 1, id);
	follow_until(&fa, 0, "one\n");
	/* c follows too and never reads a line. */
	send_text(&c, "{\"op\":\"logs\",\"job\":%lld,\"follow\":true}\n",
	    (long long)id);
	client_close(&a);
	follow_free(&fa);
	ping(&b);
	gate_open(gate);
	client_close(&c);
	state = wait_job(&b, id);
	ck_assert_str_eq(state, "succeeded");
	free(state);
	ping(&b);
	client_close(&b);
	stop();
}
END_TEST

/* jobd stops before a followed queued job could run. */
START_TEST(test_follow_shutdown)
{
	struct client a, b;
	struct follow f;
	json_t *r;
	json_int_t id;

	start(NULL);
	connect_unix(&a);
	connect_unix(&b);
	json_decref(call_ok(
	    &b, "{\"op\":\"queue\",\"action\":\"pause\",\"name\":\"held\"}"));
	id = submit(&b, "{\"kind\":\"exec\",\"argv\":[\"true\"],"
	                "\"queue\":\"held\"}");
	follow_begin(&f, &a, 1, id);
	client_close(&b);
	stop();
	r = client_reply(&a, T);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(num(r, "id"), 1);
	ck_assert_pstr_eq(reply_error_code(r), "shutting_down");
	json_decref(r);
	follow_free(&f);
	client_close(&a);
}
END_TEST

/* --- jobctl ------------------------------------------------------------------
 */

static const char *
jobctl_path(void)
{
	const char *p = getenv("JOBCTL");

	return p != NULL ? p : "../client/jobctl";
}

struct result {
	int rc;
	char *out, *err;
};

/* Run `jobctl --addr unix:SOCK logs [ARGS...]` to its end. */
static struct result
jobctl_logs(const char *a1, const char *a2, const char *a3)
{
	char addr[PATH_MAX + 8];
	const char *argv[] = {
	    jobctl_path(), "--addr", addr, "logs", a1, a2, a3, NULL};
	struct result r;

	snprintf(addr, sizeof addr, "unix:%s", H.sock);
	r.rc = run_capture(argv, NULL, &r.out, &r.err);
	ck_assert_int_ge(r.rc, 0);
	return r;
}

static void
result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Read from fd until what was read ends with text; all of it, malloc'd. */
static char *
read_until(int fd, const char *text)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	size_t len = 0, n = strlen(text);
	char *buf = calloc(1, 65536);
	ssize_t r;

	while (len < n || memcmp(buf + len - n, text, n) != 0) {
		ck_assert_int_eq(poll(&pfd, 1, T), 1);
		r = read(fd, buf + len, 65535 - len);
		ck_assert_int_gt(r, 0);
		len += (size_t)r;
		buf[len] = '\0';
	}
	return buf;
}

/* Read fd to its end, appending to buf. */
static char *
read_rest(int fd, char *buf)
{
	size_t len = strlen(buf);
	ssize_t r;

	while ((r = read(fd, buf + len, 65535 - len)) > 0 ||
	       (r < 0 && errno == EINTR)) {
		if (r > 0)
			len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

/*
 * jobctl logs -f of a running job: what the job wrote before jobctl came,
 * then what it writes while jobctl watches, byte for byte on the right
 * streams, and jobctl's stdout shows line one before line two exists.
 */
START_TEST(test_jobctl_follow_live)
{
	char gate[512], spec[2048], addr[PATH_MAX + 8], idtext[32];
	const char *argv[] = {
	    jobctl_path(), "--addr", addr, "logs", idtext, "--follow", NULL};
	posix_spawn_file_actions_t fa;
	int outp[2], errp[2], status;
	struct client c;
	struct follow f;
	char *out, *err;
	json_int_t id;
	pid_t pid;

	start(NULL);
	connect_unix(&c);
	gate_make(gate, sizeof gate, "g");
	gated_spec(spec, sizeof spec,
	    "echo before; printf 'e1\\\\377' >&2; read g < \\\"$1\\\"; "
	    "printf 'after\\\\n\\\\376'; echo e2 >&2",
	    gate, NULL);
	id = submit(&c, spec);
	/* Until the job has written its first part. */
	follow_begin(&f, &c, 1, id);
	follow_until(&f, 0, "before\n");
	while (f.len[1] < 3)
		follow_next(&f);
	snprintf(addr, sizeof addr, "unix:%s", H.sock);
	snprintf(idtext, sizeof idtext, "%lld", (long long)id);
	ck_assert_int_eq(pipe2(outp, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL,
	                     (char *const *)(uintptr_t)argv, environ),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	close(outp[1]);
	close(errp[1]);
	/* jobctl prints the held part while the job waits at the gate. */
	out = read_until(outp[0], "before\n");
	gate_open(gate);
	out = read_rest(outp[0], out);
	err = read_rest(errp[0], calloc(1, 65536));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_str_eq(out, "before\nafter\n\376");
	ck_assert_str_eq(err, "e1\377e2\n");
	free(out);
	free(err);
	close(outp[0]);
	close(errp[0]);
	ck_assert_str_eq(follow_end(&f), "succeeded");
	follow_free(&f);
	client_close(&c);
	stop();
}
END_TEST

START_TEST(test_jobctl_follow_status)
{
	struct client c;
	struct result r;
	char idtext[32];
	json_t *j;

	start(NULL);
	connect_unix(&c);
	j = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"sh\",\"-c\",\"printf 'x\\\\ny'; "
	                "printf '\\\\375z' >&2; exit 3\"]}}");
	snprintf(idtext, sizeof idtext, "%lld",
	    (long long)num(json_object_get(j, "job"), "id"));
	json_decref(j);

	/* As `jobctl wait` would: 1 for a job that did not succeed. */
	r = jobctl_logs(idtext, "-f", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "x\ny");
	ck_assert_str_eq(r.err, "\375z");
	result_free(&r);

	/* --json: jobd's event lines, the finished one last. */
	r = jobctl_logs("--follow", "--json", idtext);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "{\"event\":\"attempt\""));
	ck_assert_ptr_nonnull(strstr(r.out,
	    "\"event\":\"output\",\"job\":1,\"attempt\":1,\"stream\":"
	    "\"stdout\",\"data\":\"x\\ny\""));
	ck_assert_ptr_nonnull(strstr(r.out, "\"data_encoding\":\"base64\""));
	ck_assert_ptr_nonnull(strstr(r.out,
	    "{\"event\":\"finished\",\"job\":1,\"attempt\":1,\"state\":"
	    "\"failed\",\"outcome\":\"failed\",\"exit_code\":3}\n"));
	ck_assert_ptr_null(strstr(r.out, "\"ok\""));
	ck_assert_str_eq(r.err, "");
	result_free(&r);

	/* A job that succeeded: 0. */
	j = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"echo\",\"args\":{}}}");
	snprintf(idtext, sizeof idtext, "%lld",
	    (long long)num(json_object_get(j, "job"), "id"));
	json_decref(j);
	r = jobctl_logs(idtext, "--follow", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	result_free(&r);

	/* Errors: 125 with a word on stderr. */
	r = jobctl_logs("-f", "4242", NULL);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "jobctl: not_found: no job 4242"));
	result_free(&r);
	r = jobctl_logs("-f", NULL, NULL);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "a job id is required"));
	result_free(&r);
	r = jobctl_logs("-f", "1", "2");
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "one job id"));
	result_free(&r);
	r = jobctl_logs("--folow", "1", NULL);
	ck_assert_int_eq(r.rc, 125);
	ck_assert_ptr_nonnull(strstr(r.err, "unknown option --folow"));
	result_free(&r);
	client_close(&c);
	stop();
}
END_TEST

static Suite *
follow_suite(void)
{
	Suite *s = suite_create("follow");
	TCase *tc;

	tc = tcase_create("protocol");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_follow_streams);
	tcase_add_test(tc, test_follow_join_midrun);
	tcase_add_test(tc, test_follow_utf8_split);
	tcase_add_test(tc, test_follow_finished);
	tcase_add_test(tc, test_follow_finished_truncated);
	tcase_add_test(tc, test_follow_queued);
	tcase_add_test(tc, test_follow_half_close);
	tcase_add_test(tc, test_follow_retries);
	tcase_add_test(tc, test_follow_binary);
	tcase_add_test(tc, test_follow_bad_input);
	tcase_add_test(tc, test_follow_non_exec);
	tcase_add_test(tc, test_follow_cancelled_queued);
	tcase_add_test(tc, test_follow_shutdown);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_follow_slow_reader);
	tcase_add_test(tc, test_follow_disconnect);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobctl");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_jobctl_follow_live);
	tcase_add_test(tc, test_jobctl_follow_status);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* A follower test closes sockets jobd may still write to. */
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(follow_suite());
}
