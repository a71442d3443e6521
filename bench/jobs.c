/*
 * jobs: the daemon benchmark.  Drives a running jobd (and, for comparison,
 * beanstalkd and xargs) and prints figures; asserts nothing.  Each figure
 * is the median of three runs, after one unmeasured warm-up run.
 *
 *   A  N echo jobs submitted pipelined on one connection, every result
 *      collected: jobd jobs/s ("submit" with "wait":true, one reply per
 *      finished job; also in batches of 100 jobs per request), against
 *      beanstalkd's put -> reserve -> delete cycle (one producer
 *      pipelining put, two workers each looping reserve/delete).
 *   B  submit-and-wait round trips over TCP, one at a time: jobd (submit
 *      echo with "wait":true), beanstalkd (put into tube "req", a worker
 *      reserves it and puts the answer into "rep", the client reserves
 *      that), and a bare TCP echo of the same request by a thread of this
 *      program with blocking sockets: the floor.  p50 and p99.
 *   C  exec jobs of /bin/true two at a time, one pipelined batch, every
 *      result collected, against `xargs -P2 -n1 /bin/true` (the jobd
 *      instance must run with --max-running 2).
 *
 * Every connection sets TCP_NODELAY.  Each side uses its protocol as well
 * as it can: requests are prepared before the clock starts, a writer
 * thread pipelines them while the main thread reads the replies, and the
 * beanstalkd workers send "delete" and the next "reserve" in one write.
 * Every reply is checked (ids, states); a lost or failed job is reported
 * on stderr.  Given jobd's pid, it also prints the CPU time jobd's event
 * loop spent per job: the machine's other load moves the wall-clock
 * figures, much less that one.
 *
 * Usage: jobs [-q] [-v] [--jobd HOST:PORT] [--jobd-unix PATH]
 *             [--jobd-exec ADDR] [--beanstalkd HOST:PORT] [--no-beanstalkd]
 *             [--no-xargs] [--only ABC] [--jobd-pid PID]
 *             [--jobd-exec-pid PID]
 * bench/run-jobs starts the peers and passes their addresses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchio.h"
#include "proto.h"
#include "xmalloc.h"

#define RUNS 3
#define BATCH_JOBS 100 /* jobs per request in A's batched variant */
#define WARMUP_RTT 200 /* unmeasured round trips before each B run */
#define ECHO_ARGS "{\"x\":1}"
#define SUCCEEDED "\"state\":\"succeeded\""

extern char **environ;

static struct {
	size_t scale; /* 10 with -q */
	bool verbose; /* print every run's figure */
	const char *jobd_tcp, *jobd_unix, *jobd_exec, *beanstalkd;
	pid_t jobd_pid, jobd_exec_pid; /* 0: unknown */
	bool xargs;
	const char *only;
} opt = {1, false, NULL, NULL, NULL, NULL, 0, 0, true, "ABC"};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The middle one of v[RUNS] (left in run order, for -v). */
static double
median(const double *v)
{
	double sorted[RUNS];

	memcpy(sorted, v, sizeof sorted);
	qsort(sorted, RUNS, sizeof sorted[0], cmp_double);
	return sorted[RUNS / 2];
}

/* "  (runs a b c)" after a figure, with -v. */
static void
print_runs(const char *label, const double *v)
{
	int i;

	if (!opt.verbose)
		return;
	printf("  (%s", label);
	for (i = 0; i < RUNS; i++)
		printf(" %.1f", v[i]);
	printf(")");
}

/* A throughput line: label, jobs/s, note, the loop's CPU per job, runs. */
static void
print_rate(const char *label, double rate, const char *note, const double *runs,
    double cpu_us)
{
	printf("   %-20s %9.0f jobs/s%s", label, rate, note);
	if (cpu_us > 0)
		printf("  loop %.1f µs/job", cpu_us);
	print_runs("runs", runs);
	printf("\n");
}

/*
 * CPU time used so far by jobd's event-loop thread (its main thread), in
 * ns; 0 if the pid is unknown.  Unlike wall time it is hardly moved by other
 * work on the machine, and it bounds what one loop can do.
 */
static uint64_t
loop_cpu_ns(pid_t pid)
{
	unsigned long long ns = 0;
	char path[64];
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

/* --- jobd ----------------------------------------------------------------- */

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

/* The request id a reply starts with ({"id":N,...}); 0 if none. */
static uint64_t
reply_id(const char *line)
{
	if (strncmp(line, "{\"id\":", 6) != 0)
		return 0;
	return strtoull(line + 6, NULL, 10);
}

/*
 * Decode one reply fully and check it: ok, the job finished as
 * succeeded, and for echo the result is the args sent.  The other replies
 * are only scanned (ids, states), to keep the client's share of the CPU
 * small.
 */
static bool
reply_valid(const char *line, size_t len, bool echo)
{
	enum proto_err code;
	json_t *reply, *job, *want;
	char msg[256];
	bool good;

	if (proto_decode(line, len, PROTO_MAX_DEPTH_DEFAULT, &reply, &code, msg,
	        sizeof msg) != 0)
		return false;
	job = json_object_get(reply, "job");
	want = json_loads(ECHO_ARGS, 0, NULL);
	good = json_is_true(json_object_get(reply, "ok")) &&
	       json_is_string(json_object_get(job, "state")) &&
	       strcmp(json_string_value(json_object_get(job, "state")),
	           "succeeded") == 0 &&
	       (!echo || json_equal(json_object_get(job, "result"), want));
	json_decref(want);
	json_decref(reply);
	return good;
}

/* One pipelined run: nreq requests in req, njobs jobs in all. */
struct pipelined {
	const char *addr;
	struct sbuf req;
	size_t nreq, njobs;
	bool echo;
	const char *what; /* for messages */
	pid_t pid;        /* jobd's, for its loop's CPU time */
};

static double
run_pipelined(struct pipelined *pl)
{
	struct writer w;
	struct rbuf rb;
	uint8_t *seen = xcalloc(pl->nreq + 1, 1);
	size_t got = 0, ok = 0, len, bad = 0;
	uint64_t id, t0;
	char *line;
	int fd;

	fd = jobd_connect(pl->addr);
	rbuf_init(&rb, fd);
	t0 = now_ns();
	writer_start(&w, fd, pl->req.p, pl->req.len);
	while (got < pl->nreq && (line = rbuf_line(&rb, &len)) != NULL) {
		id = reply_id(line);
		if (id == 0 || id > pl->nreq || seen[id]++ != 0) {
			if (bad++ == 0)
				fprintf(stderr,
				    "%s: unexpected reply: %.200s\n", pl->what,
				    line);
			continue;
		}
		if (got++ == 0 && pl->nreq == pl->njobs &&
		    !reply_valid(line, len, pl->echo))
			fprintf(
			    stderr, "%s: bad reply: %.300s\n", pl->what, line);
		ok += count_in(line, len, SUCCEEDED);
	}
	t0 = now_ns() - t0;
	writer_join(&w);
	if (got != pl->nreq || ok != pl->njobs)
		fprintf(stderr,
		    "%s: %zu of %zu replies, %zu of %zu jobs succeeded!\n",
		    pl->what, got, pl->nreq, ok, pl->njobs);
	close(fd);
	rbuf_free(&rb);
	free(seen);
	return (double)t0 / 1e9;
}

/* The requests for njobs jobs of spec, per_req jobs to a request. */
static void
prepare(struct pipelined *pl, const char *addr, pid_t pid, const char *spec,
    size_t njobs, size_t per_req, const char *what)
{
	size_t i, j;

	memset(pl, 0, sizeof *pl);
	pl->addr = addr;
	pl->pid = pid;
	pl->njobs = njobs;
	pl->nreq = (njobs + per_req - 1) / per_req;
	pl->echo = strstr(spec, "echo") != NULL;
	pl->what = what;
	for (i = 0; i < pl->nreq; i++) {
		if (per_req == 1) {
			sbuf_printf(&pl->req,
			    "{\"op\":\"submit\",\"id\":%zu,\"wait\":true,"
			    "\"job\":%s}\n",
			    i + 1, spec);
			continue;
		}
		sbuf_printf(&pl->req,
		    "{\"op\":\"submit\",\"id\":%zu,\"wait\":true,\"jobs\":[",
		    i + 1);
		for (j = 0; j < per_req && i * per_req + j < njobs; j++)
			sbuf_printf(&pl->req, "%s%s", j > 0 ? "," : "", spec);
		sbuf_printf(&pl->req, "]}\n");
	}
}

/*
 * Jobs per second, median of RUNS after a warm-up; *cpu_us: the loop's CPU
 * time per job over those runs (0 if unknown).
 */
static double
pipelined_rate(struct pipelined *pl, double *runs, double *cpu_us)
{
	uint64_t cpu;
	int i;

	(void)run_pipelined(pl);
	cpu = loop_cpu_ns(pl->pid);
	for (i = 0; i < RUNS; i++)
		runs[i] = (double)pl->njobs / run_pipelined(pl);
	*cpu_us = cpu == 0 ? 0
	                   : (double)(loop_cpu_ns(pl->pid) - cpu) / 1e3 /
	                         (double)(RUNS * pl->njobs);
	return median(runs);
}

/* --- beanstalkd ----------------------------------------------------------- */

struct bs {
	int fd;
	struct rbuf rb;
};

static unsigned tube_seq; /* a fresh tube per run: nothing left over */

static void
bs_expect(struct bs *b, const char *prefix)
{
	size_t len;
	char *line = rbuf_line(&b->rb, &len);

	if (line == NULL)
		errx(1, "beanstalkd closed the connection");
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		errx(1, "beanstalkd: expected %s, got %.100s", prefix, line);
}

/* Connect; use tube `use` and watch only `watch` (each may be NULL). */
static void
bs_open(struct bs *b, const char *addr, const char *use, const char *watch)
{
	char cmd[256];
	int n;

	b->fd = connect_to(addr);
	rbuf_init(&b->rb, b->fd);
	if (use != NULL) {
		n = snprintf(cmd, sizeof cmd, "use %s\r\n", use);
		write_all(b->fd, cmd, (size_t)n);
		bs_expect(b, "USING");
	}
	if (watch != NULL) {
		n = snprintf(
		    cmd, sizeof cmd, "watch %s\r\nignore default\r\n", watch);
		write_all(b->fd, cmd, (size_t)n);
		bs_expect(b, "WATCHING");
		bs_expect(b, "WATCHING");
	}
}

static void
bs_close(struct bs *b)
{
	close(b->fd);
	rbuf_free(&b->rb);
}

/* Read a "RESERVED <id> <bytes>" reply and its body; returns the id. */
static uint64_t
bs_reserved(struct bs *b, bool *stop)
{
	uint64_t id;
	size_t len, bytes;
	char *line, *body;

	if ((line = rbuf_line(&b->rb, &len)) == NULL)
		errx(1, "beanstalkd closed the connection");
	if (sscanf(line, "RESERVED %" SCNu64 " %zu", &id, &bytes) != 2)
		errx(1, "beanstalkd: expected RESERVED, got %.100s", line);
	body = rbuf_take(&b->rb, bytes + 2);
	*stop = bytes == 4 && memcmp(body, "stop", 4) == 0;
	return id;
}

static void
bs_put(struct sbuf *sb, unsigned pri, const char *body)
{
	sbuf_printf(sb, "put %u 0 60 %zu\r\n%s\r\n", pri, strlen(body), body);
}

/* A worker: reserve, delete (with the next reserve in the same write). */
struct bs_worker {
	pthread_t thread;
	const char *addr;
	char tube[64];
	const char *reply_tube; /* B: answer each job into this tube */
	pthread_barrier_t *ready;
	size_t done;
};

static void *
bs_worker_main(void *arg)
{
	struct bs_worker *wk = arg;
	struct sbuf cmd = {0};
	struct bs b;
	uint64_t id;
	bool stop;

	bs_open(&b, wk->addr, wk->reply_tube, wk->tube);
	pthread_barrier_wait(wk->ready);
	write_all(b.fd, "reserve\r\n", 9);
	for (;;) {
		id = bs_reserved(&b, &stop);
		cmd.len = 0;
		if (!stop && wk->reply_tube != NULL)
			bs_put(&cmd, 0, ECHO_ARGS);
		sbuf_printf(&cmd, "delete %" PRIu64 "\r\n%s", id,
		    stop ? "" : "reserve\r\n");
		write_all(b.fd, cmd.p, cmd.len);
		if (!stop && wk->reply_tube != NULL)
			bs_expect(&b, "INSERTED");
		bs_expect(&b, "DELETED");
		if (stop)
			break;
		wk->done++;
	}
	bs_close(&b);
	free(cmd.p);
	return NULL;
}

/* A: the producer pipelines N puts and 2 stops; 2 workers drain. */
static double
run_bs_cycle(size_t n)
{
	size_t i, got = 0, done = 0;
	struct bs_worker wk[2];
	pthread_barrier_t ready;
	struct sbuf req = {0};
	struct writer w;
	struct bs prod;
	char tube[64];
	uint64_t t0;
	int k;

	snprintf(tube, sizeof tube, "bench-a-%d-%u", (int)getpid(), ++tube_seq);
	for (i = 0; i < n; i++)
		bs_put(&req, 0, ECHO_ARGS);
	/* Less urgent than every job: each worker's last reservation. */
	bs_put(&req, 1, "stop");
	bs_put(&req, 1, "stop");
	pthread_barrier_init(&ready, NULL, 3);
	for (k = 0; k < 2; k++) {
		memset(&wk[k], 0, sizeof wk[k]);
		wk[k].addr = opt.beanstalkd;
		snprintf(wk[k].tube, sizeof wk[k].tube, "%s", tube);
		wk[k].ready = &ready;
		thread_start(&wk[k].thread, bs_worker_main, &wk[k]);
	}
	bs_open(&prod, opt.beanstalkd, tube, NULL);
	pthread_barrier_wait(&ready);
	t0 = now_ns();
	writer_start(&w, prod.fd, req.p, req.len);
	for (got = 0; got < n + 2; got++)
		bs_expect(&prod, "INSERTED");
	for (k = 0; k < 2; k++) {
		pthread_join(wk[k].thread, NULL);
		done += wk[k].done;
	}
	t0 = now_ns() - t0;
	writer_join(&w);
	if (done != n)
		fprintf(
		    stderr, "beanstalkd: %zu of %zu jobs deleted!\n", done, n);
	bs_close(&prod);
	pthread_barrier_destroy(&ready);
	free(req.p);
	return (double)t0 / 1e9;
}

/* --- A -------------------------------------------------------------------- */

static void
bench_a(void)
{
	size_t n = 100000 / opt.scale;
	struct pipelined pl;
	double tcp = 0, bs = 0, v[RUNS], cpu, rate;
	char spec[128], label[32];
	int i;

	snprintf(
	    spec, sizeof spec, "{\"kind\":\"echo\",\"args\":%s}", ECHO_ARGS);
	printf("A. %zu echo jobs pipelined on one connection\n", n);
	if (opt.jobd_tcp != NULL) {
		prepare(&pl, opt.jobd_tcp, opt.jobd_pid, spec, n, 1, "jobd A");
		tcp = pipelined_rate(&pl, v, &cpu);
		print_rate(
		    "jobd", tcp, "  (tcp, submit \"wait\":true)", v, cpu);
		free(pl.req.p);
	}
	if (opt.jobd_unix != NULL) {
		prepare(&pl, opt.jobd_unix, opt.jobd_pid, spec, n, 1,
		    "jobd A unix");
		rate = pipelined_rate(&pl, v, &cpu);
		print_rate("jobd, unix socket", rate, "", v, cpu);
		free(pl.req.p);
	}
	if (opt.jobd_tcp != NULL) {
		prepare(&pl, opt.jobd_tcp, opt.jobd_pid, spec, n, BATCH_JOBS,
		    "jobd A batched");
		snprintf(
		    label, sizeof label, "jobd, %d per submit", BATCH_JOBS);
		rate = pipelined_rate(&pl, v, &cpu);
		print_rate(label, rate, "  (tcp)", v, cpu);
		free(pl.req.p);
	}
	if (opt.beanstalkd != NULL) {
		(void)run_bs_cycle(n);
		for (i = 0; i < RUNS; i++)
			v[i] = (double)n / run_bs_cycle(n);
		bs = median(v);
		print_rate("beanstalkd", bs,
		    "  (put/reserve/delete, 2 workers)", v, 0);
	}
	if (tcp > 0 && bs > 0)
		printf("   ratio                %9.1fx  (target >= 10x)\n",
		    tcp / bs);
}

/* --- B -------------------------------------------------------------------- */

struct rtt {
	double p50[RUNS], p99[RUNS]; /* microseconds */
	double m50, m99;
};

/* Sort the samples of run `run` and keep its p50 and p99. */
static void
rtt_record(struct rtt *r, int run, uint64_t *ns, size_t n)
{
	qsort(ns, n, sizeof ns[0], cmp_u64);
	r->p50[run] = (double)ns[n / 2] / 1e3;
	r->p99[run] = (double)ns[(n * 99) / 100] / 1e3;
}

static void
rtt_finish(struct rtt *r)
{
	r->m50 = median(r->p50);
	r->m99 = median(r->p99);
}

static void
rtt_print(const char *name, const struct rtt *r, const char *note)
{
	printf("   %-16s p50 %7.1f µs  p99 %7.1f µs%s", name, r->m50, r->m99,
	    note);
	print_runs("p50 runs", r->p50);
	print_runs("p99 runs", r->p99);
	printf("\n");
}

static int
rtt_request(char *buf, size_t size, size_t id)
{
	return snprintf(buf, size,
	    "{\"op\":\"submit\",\"id\":%zu,\"wait\":true,"
	    "\"job\":{\"kind\":\"echo\",\"args\":%s}}\n",
	    id, ECHO_ARGS);
}

/* jobd: submit with "wait":true, read the reply; n times. */
static void
run_jobd_rtt(uint64_t *ns, size_t n)
{
	struct rbuf rb;
	size_t i, len;
	char req[256], *line;
	uint64_t t0;
	int fd = jobd_connect(opt.jobd_tcp), rl;

	rbuf_init(&rb, fd);
	for (i = 0; i < WARMUP_RTT + n; i++) {
		rl = rtt_request(req, sizeof req, i + 1);
		t0 = now_ns();
		write_all(fd, req, (size_t)rl);
		if ((line = rbuf_line(&rb, &len)) == NULL)
			errx(1, "jobd closed the connection");
		if (i >= WARMUP_RTT)
			ns[i - WARMUP_RTT] = now_ns() - t0;
		if (reply_id(line) != i + 1 || strstr(line, SUCCEEDED) == NULL)
			errx(1, "jobd B: unexpected reply %.200s", line);
	}
	close(fd);
	rbuf_free(&rb);
}

/* The floor: a thread echoing lines back, blocking sockets. */
static void *
echo_server(void *arg)
{
	int lfd = *(int *)arg, fd;
	struct rbuf rb;
	size_t len;
	char *line;

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		err(1, "accept");
	set_nodelay(fd);
	rbuf_init(&rb, fd);
	while ((line = rbuf_line(&rb, &len)) != NULL) {
		line[len] = '\n';
		write_all(fd, line, len + 1);
	}
	close(fd);
	rbuf_free(&rb);
	return NULL;
}

static void
run_floor_rtt(uint64_t *ns, size_t n)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t slen = sizeof sin;
	pthread_t server;
	struct rbuf rb;
	size_t i, len;
	char req[256], addr[64];
	uint64_t t0;
	int lfd, fd, rl;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0)
		err(1, "echo server");
	thread_start(&server, echo_server, &lfd);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sin.sin_port));
	fd = connect_to(addr);
	rbuf_init(&rb, fd);
	for (i = 0; i < WARMUP_RTT + n; i++) {
		rl = rtt_request(req, sizeof req, i + 1);
		t0 = now_ns();
		write_all(fd, req, (size_t)rl);
		if (rbuf_line(&rb, &len) == NULL || len != (size_t)rl - 1)
			errx(1, "echo: short reply");
		if (i >= WARMUP_RTT)
			ns[i - WARMUP_RTT] = now_ns() - t0;
	}
	close(fd);
	pthread_join(server, NULL);
	close(lfd);
	rbuf_free(&rb);
}

/* beanstalkd: put into "req", a worker answers into "rep", reserve it. */
static void
run_bs_rtt(uint64_t *ns, size_t n)
{
	struct bs_worker wk = {0};
	pthread_barrier_t ready;
	struct sbuf cmd = {0};
	char req[64], rep[64];
	struct bs b;
	uint64_t t0, id;
	size_t i;
	bool stop;

	snprintf(req, sizeof req, "bench-req-%d-%u", (int)getpid(), ++tube_seq);
	snprintf(rep, sizeof rep, "bench-rep-%d-%u", (int)getpid(), tube_seq);
	pthread_barrier_init(&ready, NULL, 2);
	wk.addr = opt.beanstalkd;
	snprintf(wk.tube, sizeof wk.tube, "%s", req);
	wk.reply_tube = rep;
	wk.ready = &ready;
	thread_start(&wk.thread, bs_worker_main, &wk);
	bs_open(&b, opt.beanstalkd, req, rep);
	pthread_barrier_wait(&ready);
	for (i = 0; i < WARMUP_RTT + n; i++) {
		cmd.len = 0;
		bs_put(&cmd, 0, ECHO_ARGS);
		sbuf_printf(&cmd, "reserve\r\n");
		t0 = now_ns();
		write_all(b.fd, cmd.p, cmd.len);
		bs_expect(&b, "INSERTED");
		id = bs_reserved(&b, &stop);
		if (i >= WARMUP_RTT)
			ns[i - WARMUP_RTT] = now_ns() - t0;
		cmd.len = 0;
		sbuf_printf(&cmd, "delete %" PRIu64 "\r\n", id);
		write_all(b.fd, cmd.p, cmd.len);
		bs_expect(&b, "DELETED");
	}
	cmd.len = 0;
	bs_put(&cmd, 0, "stop");
	write_all(b.fd, cmd.p, cmd.len);
	bs_expect(&b, "INSERTED");
	pthread_join(wk.thread, NULL);
	if (wk.done != WARMUP_RTT + n)
		fprintf(stderr, "beanstalkd B: worker answered %zu of %zu!\n",
		    wk.done, WARMUP_RTT + n);
	bs_close(&b);
	pthread_barrier_destroy(&ready);
	free(cmd.p);
}

/* One side of B: how to run it, and its figures. */
struct rtt_peer {
	const char *name, *note;
	void (*run)(uint64_t *ns, size_t n);
	pid_t pid; /* jobd's, for its loop's CPU time */
	struct rtt r;
	uint64_t cpu_ns;
};

/*
 * Run the peers in turn, RUNS rounds: the floor and jobd are measured under
 * the same conditions when the machine's load drifts.
 */
static void
measure_rtt(struct rtt_peer *peers, int npeers, size_t n)
{
	uint64_t *ns = xcalloc(n, sizeof(*ns)), cpu;
	int i, k;

	for (i = 0; i < RUNS; i++) {
		for (k = 0; k < npeers; k++) {
			cpu = loop_cpu_ns(peers[k].pid);
			peers[k].run(ns, n);
			if (cpu != 0)
				peers[k].cpu_ns +=
				    loop_cpu_ns(peers[k].pid) - cpu;
			rtt_record(&peers[k].r, i, ns, n);
		}
	}
	for (k = 0; k < npeers; k++)
		rtt_finish(&peers[k].r);
	free(ns);
}

static void
bench_b(void)
{
	size_t n = 10000 / opt.scale;
	struct rtt_peer peers[3];
	struct rtt *jobd_r = NULL, *bs_r = NULL, *floor_r;
	char req[256];
	int rl = rtt_request(req, sizeof req, n), np = 0, k;

	printf("B. %zu submit-and-wait round trips over TCP, one at a time "
	       "(request %d bytes)\n",
	    n, rl);
	if (opt.jobd_tcp != NULL) {
		jobd_r = &peers[np].r;
		peers[np++] = (struct rtt_peer){.name = "jobd",
		    .note = "  (submit echo, \"wait\":true)",
		    .run = run_jobd_rtt,
		    .pid = opt.jobd_pid};
	}
	if (opt.beanstalkd != NULL) {
		bs_r = &peers[np].r;
		peers[np++] = (struct rtt_peer){.name = "beanstalkd",
		    .note = "  (put req, worker puts rep)",
		    .run = run_bs_rtt};
	}
	floor_r = &peers[np].r;
	peers[np++] = (struct rtt_peer){.name = "bare tcp echo",
	    .note = "  (blocking sockets, a thread)",
	    .run = run_floor_rtt};
	measure_rtt(peers, np, n);
	for (k = 0; k < np; k++)
		rtt_print(peers[k].name, &peers[k].r, peers[k].note);
	if (jobd_r != NULL && peers[0].cpu_ns != 0)
		printf("   jobd loop thread %7.1f µs CPU per round trip\n",
		    (double)peers[0].cpu_ns / 1e3 /
		        (double)(RUNS * (WARMUP_RTT + n)));
	if (jobd_r == NULL)
		return;
	printf("   jobd/floor       p50 %7.2fx     p99 %7.2fx  "
	       "(target <= 1.3x)\n",
	    jobd_r->m50 / floor_r->m50, jobd_r->m99 / floor_r->m99);
	if (bs_r != NULL)
		printf("   jobd/beanstalkd  p50 %7.2fx     p99 %7.2fx\n",
		    jobd_r->m50 / bs_r->m50, jobd_r->m99 / bs_r->m99);
}

/* --- C -------------------------------------------------------------------- */

/* xargs -P2 -n1 /bin/true, fed n words through a pipe. */
static double
run_xargs(size_t n)
{
	size_t i;
	static char a0[] = "xargs", a1[] = "-P2", a2[] = "-n1",
	            a3[] = "/bin/true";
	char *const argv[] = {a0, a1, a2, a3, NULL};
	posix_spawn_file_actions_t fa;
	struct sbuf words = {0};
	int pfd[2], status;
	uint64_t t0;
	pid_t pid;

	for (i = 0; i < n; i++)
		sbuf_printf(&words, "x\n");
	if (pipe2(pfd, O_CLOEXEC) != 0)
		err(1, "pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	t0 = now_ns();
	if ((errno = posix_spawnp(&pid, "xargs", &fa, NULL, argv, environ)) !=
	    0)
		err(1, "spawn xargs");
	close(pfd[0]);
	write_all(pfd[1], words.p, words.len);
	close(pfd[1]);
	if (waitpid(pid, &status, 0) != pid)
		err(1, "waitpid");
	t0 = now_ns() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "xargs: exit status %d!\n", status);
	posix_spawn_file_actions_destroy(&fa);
	free(words.p);
	return (double)t0 / 1e9;
}

static void
bench_c(void)
{
	size_t n = 2000 / opt.scale;
	struct pipelined pl;
	double jobd = 0, xargs = 0, v[RUNS], cpu;
	int i;

	printf("C. %zu exec jobs of /bin/true, 2 at a time\n", n);
	if (opt.jobd_exec != NULL) {
		prepare(&pl, opt.jobd_exec, opt.jobd_exec_pid,
		    "{\"kind\":\"exec\",\"argv\":[\"/bin/true\"]}", n, 1,
		    "jobd C");
		jobd = pipelined_rate(&pl, v, &cpu);
		print_rate("jobd", jobd,
		    "  (--max-running 2, one pipelined batch)", v, cpu);
		free(pl.req.p);
	}
	if (opt.xargs) {
		(void)run_xargs(n);
		for (i = 0; i < RUNS; i++)
			v[i] = (double)n / run_xargs(n);
		xargs = median(v);
		print_rate("xargs -P2", xargs, "", v, 0);
	}
	if (jobd > 0 && xargs > 0)
		printf("   ratio                %9.2fx  (target >= 1.0x)\n",
		    jobd / xargs);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: jobs [-q] [-v] [--jobd HOST:PORT] [--jobd-unix PATH]\n"
	    "            [--jobd-exec ADDR] [--beanstalkd HOST:PORT]\n"
	    "            [--no-beanstalkd] [--no-xargs] [--only ABC]\n"
	    "            [--jobd-pid PID] [--jobd-exec-pid PID]\n"
	    "  -q  a tenth of the counts      -v  every run's figure too\n"
	    "  --jobd        jobd's TCP address (A, B)\n"
	    "  --jobd-unix   jobd's unix socket (A, an extra line)\n"
	    "  --jobd-exec   a jobd run with --max-running 2 (C)\n"
	    "  --jobd-pid, --jobd-exec-pid  their pids: print the CPU time\n"
	    "                their event loops spent per job\n"
	    "A peer that is not given is skipped.\n");
}

int
main(int argc, char **argv)
{
	enum {
		OPT_NO_BS = 256,
		OPT_NO_XARGS,
		OPT_ONLY,
		OPT_JOBD_PID,
		OPT_EXEC_PID
	};
	static const struct option longopts[] = {
	    {"jobd", required_argument, NULL, 'j'},
	    {"jobd-unix", required_argument, NULL, 'u'},
	    {"jobd-exec", required_argument, NULL, 'e'},
	    {"jobd-pid", required_argument, NULL, OPT_JOBD_PID},
	    {"jobd-exec-pid", required_argument, NULL, OPT_EXEC_PID},
	    {"beanstalkd", required_argument, NULL, 'b'},
	    {"no-beanstalkd", no_argument, NULL, OPT_NO_BS},
	    {"no-xargs", no_argument, NULL, OPT_NO_XARGS},
	    {"only", required_argument, NULL, OPT_ONLY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool no_bs = false;
	char load[32];
	int ch;

	while ((ch = getopt_long(argc, argv, "qvj:u:e:b:h", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'q':
			opt.scale = 10;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'j':
			opt.jobd_tcp = optarg;
			break;
		case 'u':
			opt.jobd_unix = optarg;
			break;
		case 'e':
			opt.jobd_exec = optarg;
			break;
		case 'b':
			opt.beanstalkd = optarg;
			break;
		case OPT_NO_BS:
			no_bs = true;
			break;
		case OPT_NO_XARGS:
			opt.xargs = false;
			break;
		case OPT_ONLY:
			opt.only = optarg;
			break;
		case OPT_JOBD_PID:
			opt.jobd_pid = (pid_t)atoi(optarg);
			break;
		case OPT_EXEC_PID:
			opt.jobd_exec_pid = (pid_t)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (no_bs)
		opt.beanstalkd = NULL;
	signal(SIGPIPE, SIG_IGN);
	printf("bench/jobs: %ld online CPUs, load %s; jobd%s%s; median of %d "
	       "runs after a warm-up\n",
	    sysconf(_SC_NPROCESSORS_ONLN), load_average(load, sizeof load),
	    opt.beanstalkd != NULL ? " vs beanstalkd" : "",
	    opt.xargs ? (opt.beanstalkd != NULL ? " and xargs" : " vs xargs")
	              : "",
	    RUNS);
	fflush(stdout);
	if (strchr(opt.only, 'A') != NULL) {
		bench_a();
		fflush(stdout);
	}
	if (strchr(opt.only, 'B') != NULL) {
		bench_b();
		fflush(stdout);
	}
	if (strchr(opt.only, 'C') != NULL)
		bench_c();
	return 0;
}
