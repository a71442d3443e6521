/*
 * memory: the bytes a queued job costs its daemon.  Given a freshly
 * started jobd (its unix socket and pid) and a fresh beanstalkd (its
 * address and pid), it fills each with jobs that nothing takes and prints
 * the growth of the daemon's resident set (VmRSS in /proc/PID/status) per
 * job queued, at 100k and then at 1M; asserts nothing.
 *
 *   jobd: the queue "default" is paused first (op queue), then echo jobs
 *     {"kind":"echo","args":{"d":"<56 digits>"}} (args: 64 bytes of JSON
 *     text; the whole spec: 87) are submitted 1000 to a request, pipelined
 *     on one connection, every reply checked; "stats" must then count them
 *     all in gauges.jobs_queued.
 *   beanstalkd: "put 100 0 60 64" with the same 64 bytes as the body,
 *     pipelined on one connection into tube "mem", every reply checked;
 *     nobody reserves; "stats-tube mem" must then show them all in
 *     current-jobs-ready.
 *
 * The 56 digits are the job's number, so no two payloads are alike.  The
 * baseline is read once connected (and, for jobd, once the queue is
 * paused), so the connection's own buffers are not charged to the jobs.
 * The 1M figure counts all 1M jobs against that same baseline.
 *
 * Usage: memory [-q] [--jobd-unix PATH --jobd-pid PID]
 *               [--beanstalkd HOST:PORT --beanstalkd-pid PID]
 * bench/run-queues starts the daemons and passes these.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "benchio.h"
#include "xmalloc.h"

#define JOBS_PER_SUBMIT 1000
#define PAYLOAD_BYTES 64 /* {"d":"<56 digits>"} */
#define TUBE "mem"
#define QUEUED "\"state\":\"queued\""

static struct {
	size_t scale; /* 10 with -q */
	const char *jobd, *beanstalkd;
	pid_t jobd_pid, bs_pid;
} opt = {1, NULL, NULL, 0, 0};

/* Cumulative fill targets. */
static const size_t targets[] = {100000, 1000000};
#define NTARGETS (sizeof targets / sizeof targets[0])

struct figures {
	size_t empty_kb;
	size_t rss_kb[NTARGETS], hwm_kb[NTARGETS];
	double fill_s[NTARGETS];
};

/* A field of /proc/PID/status ("VmRSS", "VmHWM") in kB. */
static size_t
status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t kb = 0, flen = strlen(field);
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		err(1, "%s", path);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtoull(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	if (kb == 0)
		errx(1, "%s: no %s", path, field);
	return kb;
}

/* Job i's payload: exactly PAYLOAD_BYTES of JSON text. */
static void
payload(char *buf, size_t size, size_t i)
{
	if (snprintf(buf, size, "{\"d\":\"%056zu\"}", i) != PAYLOAD_BYTES)
		errx(1, "payload is not %d bytes", PAYLOAD_BYTES);
}

/* --- jobd ----------------------------------------------------------------- */

/* One request and its reply, which must say ok. */
static json_t *
jobd_call(int fd, struct rbuf *rb, const char *req)
{
	json_t *reply;
	json_error_t jerr;
	size_t len;
	char *line;

	write_all(fd, req, strlen(req));
	if ((line = rbuf_line(rb, &len)) == NULL)
		errx(1, "jobd closed the connection");
	if ((reply = json_loadb(line, len, 0, &jerr)) == NULL ||
	    !json_is_true(json_object_get(reply, "ok")))
		errx(1, "jobd: %s: %.300s", req, line);
	return reply;
}

static size_t
jobd_queued(int fd, struct rbuf *rb)
{
	json_t *reply = jobd_call(fd, rb, "{\"op\":\"stats\",\"id\":\"s\"}\n");
	json_t *gauges =
	    json_object_get(json_object_get(reply, "stats"), "gauges");
	json_int_t n =
	    json_integer_value(json_object_get(gauges, "jobs_queued"));

	json_decref(reply);
	return (size_t)n;
}

/* Occurrences of what in line[0, len). */
static size_t
count_in(const char *line, size_t len, const char *what)
{
	size_t n = 0, wlen = strlen(what);
	const char *p = line, *end = line + len;

	while ((p = memmem(p, (size_t)(end - p), what, wlen)) != NULL) {
		n++;
		p += wlen;
	}
	return n;
}

/* Submit jobs [from, to), pipelined; check every reply. */
static void
jobd_fill(int fd, struct rbuf *rb, size_t from, size_t to)
{
	struct sbuf req = {0};
	char body[PAYLOAD_BYTES + 1];
	size_t i, j, nreq = 0, got, queued = 0, len;
	struct writer w;
	char *line;

	for (i = from; i < to; i += JOBS_PER_SUBMIT) {
		sbuf_printf(
		    &req, "{\"op\":\"submit\",\"id\":%zu,\"jobs\":[", ++nreq);
		for (j = i; j < to && j < i + JOBS_PER_SUBMIT; j++) {
			payload(body, sizeof body, j);
			sbuf_printf(&req, "%s{\"kind\":\"echo\",\"args\":%s}",
			    j > i ? "," : "", body);
		}
		sbuf_printf(&req, "]}\n");
	}
	writer_start(&w, fd, req.p, req.len);
	for (got = 0; got < nreq; got++) {
		if ((line = rbuf_line(rb, &len)) == NULL)
			errx(1, "jobd closed the connection");
		if (strstr(line, "\"ok\":true") == NULL)
			errx(1, "jobd: submit failed: %.300s", line);
		queued += count_in(line, len, QUEUED);
	}
	writer_join(&w);
	if (queued != to - from)
		errx(1, "jobd: %zu of %zu jobs queued", queued, to - from);
	free(req.p);
}

static void
measure_jobd(struct figures *fig)
{
	struct rbuf rb;
	size_t k, done = 0, n;
	uint64_t t0;
	int fd;

	fd = connect_to(opt.jobd);
	rbuf_init(&rb, fd);
	json_decref(jobd_call(fd, &rb,
	    "{\"op\":\"queue\",\"id\":\"p\",\"action\":\"pause\","
	    "\"name\":\"default\"}\n"));
	if (jobd_queued(fd, &rb) != 0)
		errx(1, "jobd: not empty at the start");
	fig->empty_kb = status_kb(opt.jobd_pid, "VmRSS");
	for (k = 0; k < NTARGETS; k++) {
		n = targets[k] / opt.scale;
		t0 = now_ns();
		jobd_fill(fd, &rb, done, n);
		fig->fill_s[k] = (double)(now_ns() - t0) / 1e9;
		done = n;
		if (jobd_queued(fd, &rb) != n)
			errx(1, "jobd: stats shows %zu queued, not %zu",
			    jobd_queued(fd, &rb), n);
		fig->rss_kb[k] = status_kb(opt.jobd_pid, "VmRSS");
		fig->hwm_kb[k] = status_kb(opt.jobd_pid, "VmHWM");
	}
	close(fd);
	rbuf_free(&rb);
}

/* --- beanstalkd ----------------------------------------------------------- */

static void
bs_expect(struct rbuf *rb, const char *prefix)
{
	size_t len;
	char *line = rbuf_line(rb, &len);

	if (line == NULL)
		errx(1, "beanstalkd closed the connection");
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		errx(1, "beanstalkd: expected %s, got %.100s", prefix, line);
}

static size_t
bs_ready(int fd, struct rbuf *rb)
{
	const char *cmd = "stats-tube " TUBE "\r\n";
	size_t len, bytes;
	char *line, *body, *p;

	write_all(fd, cmd, strlen(cmd));
	if ((line = rbuf_line(rb, &len)) == NULL ||
	    sscanf(line, "OK %zu", &bytes) != 1)
		errx(1, "beanstalkd: stats-tube: %.100s",
		    line != NULL ? line : "closed");
	body = rbuf_take(rb, bytes + 2);
	body[bytes] = '\0';
	if ((p = strstr(body, "current-jobs-ready: ")) == NULL)
		errx(1, "beanstalkd: stats-tube has no current-jobs-ready");
	return strtoull(p + strlen("current-jobs-ready: "), NULL, 10);
}

static void
bs_fill(int fd, struct rbuf *rb, size_t from, size_t to)
{
	char body[PAYLOAD_BYTES + 1];
	struct sbuf req = {0};
	struct writer w;
	size_t i;

	for (i = from; i < to; i++) {
		payload(body, sizeof body, i);
		sbuf_printf(
		    &req, "put 100 0 60 %d\r\n%s\r\n", PAYLOAD_BYTES, body);
	}
	writer_start(&w, fd, req.p, req.len);
	for (i = from; i < to; i++)
		bs_expect(rb, "INSERTED ");
	writer_join(&w);
	free(req.p);
}

static void
measure_bs(struct figures *fig)
{
	const char *use = "use " TUBE "\r\n";
	struct rbuf rb;
	size_t k, done = 0, n;
	uint64_t t0;
	int fd;

	fd = connect_to(opt.beanstalkd);
	rbuf_init(&rb, fd);
	write_all(fd, use, strlen(use));
	bs_expect(&rb, "USING " TUBE);
	if (bs_ready(fd, &rb) != 0)
		errx(1, "beanstalkd: tube " TUBE " not empty at the start");
	fig->empty_kb = status_kb(opt.bs_pid, "VmRSS");
	for (k = 0; k < NTARGETS; k++) {
		n = targets[k] / opt.scale;
		t0 = now_ns();
		bs_fill(fd, &rb, done, n);
		fig->fill_s[k] = (double)(now_ns() - t0) / 1e9;
		done = n;
		if (bs_ready(fd, &rb) != n)
			errx(1, "beanstalkd: %zu ready, not %zu",
			    bs_ready(fd, &rb), n);
		fig->rss_kb[k] = status_kb(opt.bs_pid, "VmRSS");
		fig->hwm_kb[k] = status_kb(opt.bs_pid, "VmHWM");
	}
	close(fd);
	rbuf_free(&rb);
}

/* --- Report --------------------------------------------------------------- */

static double
per_job(const struct figures *fig, size_t k)
{
	return ((double)fig->rss_kb[k] - (double)fig->empty_kb) * 1024.0 /
	       (double)(targets[k] / opt.scale);
}

static void
print_figures(const char *name, const struct figures *fig)
{
	size_t k;

	for (k = 0; k < NTARGETS; k++)
		printf("   %-11s %8zu %9.1f %9.1f %9.0f %9.1f %7.2f\n", name,
		    targets[k] / opt.scale, (double)fig->empty_kb / 1024.0,
		    (double)fig->rss_kb[k] / 1024.0, per_job(fig, k),
		    (double)fig->hwm_kb[k] / 1024.0, fig->fill_s[k]);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: memory [-q] [--jobd-unix PATH --jobd-pid PID]\n"
	    "              [--beanstalkd HOST:PORT --beanstalkd-pid PID]\n"
	    "  -q  10k and 100k jobs instead of 100k and 1M\n"
	    "Each daemon must be freshly started; jobd with --max-queued of "
	    "at least 1M.\n");
}

int
main(int argc, char **argv)
{
	enum { OPT_JOBD_PID = 256, OPT_BS_PID };
	static const struct option longopts[] = {
	    {"jobd-unix", required_argument, NULL, 'u'},
	    {"jobd-pid", required_argument, NULL, OPT_JOBD_PID},
	    {"beanstalkd", required_argument, NULL, 'b'},
	    {"beanstalkd-pid", required_argument, NULL, OPT_BS_PID},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct figures jf, bf;
	char load[32];
	size_t k;
	int ch;

	while ((ch = getopt_long(argc, argv, "qu:b:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			opt.scale = 10;
			break;
		case 'u':
			opt.jobd = optarg;
			break;
		case 'b':
			opt.beanstalkd = optarg;
			break;
		case OPT_JOBD_PID:
			opt.jobd_pid = (pid_t)atoi(optarg);
			break;
		case OPT_BS_PID:
			opt.bs_pid = (pid_t)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (opt.jobd != NULL) != (opt.jobd_pid > 0) ||
	    (opt.beanstalkd != NULL) != (opt.bs_pid > 0)) {
		usage(stderr);
		return 2;
	}
	printf("bench/memory: load %s\n", load_average(load, sizeof load));
	printf("M. memory per queued job: (VmRSS with the jobs queued - VmRSS "
	       "empty) / jobs\n"
	       "   payload %d bytes, {\"d\":\"<56 digits>\"}; jobd: spec "
	       "{\"kind\":\"echo\",\"args\":<payload>}\n"
	       "   (87 bytes), queue paused, %d per submit; beanstalkd: put "
	       "<payload>, nobody reserving\n",
	    PAYLOAD_BYTES, JOBS_PER_SUBMIT);
	printf("   %-11s %8s %9s %9s %9s %9s %7s\n", "", "queued", "empty MB",
	    "full MB", "B/job", "peak MB", "fill s");
	fflush(stdout);
	if (opt.jobd != NULL) {
		measure_jobd(&jf);
		print_figures("jobd", &jf);
		fflush(stdout);
	}
	if (opt.beanstalkd != NULL) {
		measure_bs(&bf);
		print_figures("beanstalkd", &bf);
	}
	if (opt.jobd != NULL && opt.beanstalkd != NULL) {
		printf("   jobd/beanstalkd bytes per job:");
		for (k = 0; k < NTARGETS; k++)
			printf("  %zu: %.2fx", targets[k] / opt.scale,
			    per_job(&jf, k) / per_job(&bf, k));
		printf("  (target <= 1.0x)\n");
	}
	return 0;
}
