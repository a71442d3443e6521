/*
 * queues: the scheduler benchmark.  Runs the daemon's own queue and
 * scheduler code in this process (linked against daemon/libjobdaemon.la
 * like the tests) and prints figures; asserts nothing.  Each figure is the
 * median of five runs after one unmeasured warm-up run.
 *
 *   Q  daemon/queue.c alone.  N jobs (10k, 100k, 1M) spread at random over
 *      100 queues, priorities drawn from a mix (80% the default 100, the
 *      rest uniform 0..1000); then a steady state in which each step
 *      dequeues one job the way sched_pump() does (queue_next_runnable(),
 *      queue_pop()) and enqueues one (queue_push(), with a fresh priority
 *      and queue from the same mix), so N stays put.  The jobs are zeroed
 *      struct jobs, each its own calloc like the daemon's, allocated
 *      before the clock starts; a step allocates nothing.  The scan of
 *      the 100 queue heads alone (timed on the same queues), and the same
 *      N in one queue, show what the scan and what the heaps cost; and
 *      queue_get() by name, which sched_submit() does for each job.
 *   S  through the scheduler: echo jobs parsed by job_parse() before the
 *      clock starts, then per step sched_submit() of 1000 of them and an
 *      event-loop pass (event_base_loop(EVLOOP_NONBLOCK), no sockets) in
 *      which kinds.c runs 1000 queued jobs one after the other
 *      (--max-running 1): each is popped, started, finished, and with
 *      retention 0 freed.  The queues are paused between steps, so the
 *      depth moves between N and N+1000.  Submitting and running are
 *      timed apart.  No client, no JSON replies.
 *   B  where the bytes of one queued echo job go: the job struct, its
 *      strings and jansson's tree for args (jansson's allocations are
 *      counted through json_set_alloc_funcs), each with glibc's usable
 *      size and chunk header (parsed first, on a fresh heap); and the
 *      heap in use per job (mallinfo2: chunks in use and mmapped blocks)
 *      after S's fill of its largest N.
 *
 * Usage: queues [-q] [-v] [--only QSB]
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchio.h"
#include "counters.h"
#include "jobd.h"
#include "kinds.h"
#include "queue.h"
#include "sched.h"
#include "xmalloc.h"

#define RUNS 5
#define NQUEUES 100
#define STEP_JOBS 1000  /* S: jobs submitted, then run, per step */
#define MALLOC_HEADER 8 /* glibc's size field before each small chunk */
/* The 64-byte payload: args {"d":"<56 characters>"} serialises to 64. */
#define PAYLOAD_CHARS 56

static struct {
	size_t scale; /* 10 with -q */
	bool verbose;
	const char *only;
} opt = {1, false, "QSB"};

static const size_t sizes[] = {10000, 100000, 1000000};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
random64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The mix: 80% the default priority, the rest uniform 0..1000. */
static int
mixed_priority(void)
{
	uint64_t r = random64();

	if (r % 100 < 80)
		return JOB_PRIORITY_DEFAULT;
	return (int)((r >> 32) % (JOB_PRIORITY_MAX + 1));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const double *v)
{
	double sorted[RUNS];

	memcpy(sorted, v, sizeof sorted);
	qsort(sorted, RUNS, sizeof sorted[0], cmp_double);
	return sorted[RUNS / 2];
}

static void
print_runs(const double *v)
{
	int i;

	if (!opt.verbose)
		return;
	printf("  (ns");
	for (i = 0; i < RUNS; i++)
		printf(" %.0f", v[i]);
	printf(")");
}

/* --- Q: queue.c alone --------------------------------------------------- */

static void
queues_create(struct queue **qs, size_t nq, const char *prefix)
{
	char name[QUEUE_NAME_MAX + 1];
	size_t i;

	for (i = 0; i < nq; i++) {
		snprintf(name, sizeof name, "%s%02zu", prefix, i);
		qs[i] = queue_get(name);
	}
}

/* One step: dequeue as sched_pump() does, enqueue one. */
static void
queue_step(struct queue **qs, size_t nq)
{
	struct queue *q = queue_next_runnable();
	struct job *job;

	if (q == NULL || (job = queue_pop(q)) == NULL)
		errx(1, "queue: nothing runnable with jobs queued");
	job->priority = mixed_priority();
	job->queue = qs[random64() % nq];
	queue_push(job->queue, job);
}

struct q_result {
	double fill_ns;    /* per push, growing from empty to N */
	double step_ns;    /* per step (one dequeue + one enqueue), median */
	double scan_ns;    /* queue_next_runnable() alone, median */
	double runs[RUNS]; /* step_ns of each run */
};

/* Median ns per call of queue_next_runnable() on the queues as they are. */
static double
q_scan(size_t calls)
{
	volatile uintptr_t sink = 0;
	double runs[RUNS];
	uint64_t t0;
	size_t i;
	int r;

	for (r = -1; r < RUNS; r++) {
		t0 = now_ns();
		for (i = 0; i < calls; i++)
			sink += (uintptr_t)queue_next_runnable();
		if (r >= 0)
			runs[r] = (double)(now_ns() - t0) / (double)calls;
	}
	(void)sink;
	return median(runs);
}

static void
q_measure(size_t n, size_t nq, size_t steps, struct q_result *res)
{
	struct queue *qs[NQUEUES];
	struct job **jobs = xcalloc(n, sizeof(*jobs));
	uint64_t t0;
	size_t i, total = 0;
	int r;

	queues_create(qs, nq, "q");
	for (i = 0; i < n; i++) {
		jobs[i] = xcalloc(1, sizeof(struct job));
		jobs[i]->priority = mixed_priority();
		jobs[i]->queue = qs[random64() % nq];
		jobs[i]->state = JOB_QUEUED;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		queue_push(jobs[i]->queue, jobs[i]);
	res->fill_ns = (double)(now_ns() - t0) / (double)n;
	for (r = -1; r < RUNS; r++) {
		t0 = now_ns();
		for (i = 0; i < steps; i++)
			queue_step(qs, nq);
		if (r >= 0)
			res->runs[r] = (double)(now_ns() - t0) / (double)steps;
	}
	res->step_ns = median(res->runs);
	res->scan_ns = q_scan(steps);
	for (i = 0; i < nq; i++)
		total += queue_depth(qs[i]);
	if (total != n)
		errx(1, "queue: %zu jobs queued, expected %zu", total, n);
	queues_free();
	for (i = 0; i < n; i++)
		free(jobs[i]);
	free(jobs);
}

static void
q_line(size_t n, size_t nq, const struct q_result *res)
{
	double heap = res->step_ns - res->scan_ns;

	printf("   %8zu %6zu %9zu %9.0f %7.0f %8.1f %7.0f %7.0f %11.1f %6.0f",
	    n, nq, n / nq, 1e9 / res->step_ns, res->step_ns,
	    res->step_ns / log2((double)n), res->scan_ns, heap,
	    heap / log2((double)(n / nq)), res->fill_ns);
	print_runs(res->runs);
	printf("\n");
}

/* queue_get() by name among NQUEUES queues (sched_submit's lookup). */
static double
q_lookup(size_t calls)
{
	char names[NQUEUES][8];
	struct queue *qs[NQUEUES];
	volatile uintptr_t sink = 0;
	double runs[RUNS];
	uint64_t t0;
	size_t i;
	int r;

	queues_create(qs, NQUEUES, "q");
	for (i = 0; i < NQUEUES; i++)
		snprintf(names[i], sizeof names[i], "q%02zu", i);
	for (r = -1; r < RUNS; r++) {
		t0 = now_ns();
		for (i = 0; i < calls; i++)
			sink += (uintptr_t)queue_get(names[i % NQUEUES]);
		if (r >= 0)
			runs[r] = (double)(now_ns() - t0) / (double)calls;
	}
	(void)sink;
	queues_free();
	return median(runs);
}

static void
bench_q(void)
{
	size_t steps = 200000 / opt.scale, k,
	       nsizes = sizeof sizes / sizeof sizes[0];
	struct q_result res;

	if (opt.scale > 1)
		nsizes--; /* -q: not 1M */
	printf("Q. queue.c: steady state, each step one dequeue "
	       "(queue_next_runnable + queue_pop)\n"
	       "   and one enqueue (queue_push); priorities 80%% %d, 20%% "
	       "uniform 0..%d; %zu steps a run\n"
	       "   scan: queue_next_runnable alone; heap: the rest of a step "
	       "(pop + push)\n",
	    JOB_PRIORITY_DEFAULT, JOB_PRIORITY_MAX, steps);
	printf("     queued queues per-queue   steps/s ns/step /log2(N)    "
	       "scan    heap /log2(N/qs)   fill\n");
	for (k = 0; k < nsizes; k++) {
		q_measure(sizes[k], NQUEUES, steps, &res);
		q_line(sizes[k], NQUEUES, &res);
		fflush(stdout);
	}
	q_measure(sizes[nsizes - 1], 1, steps, &res);
	q_line(sizes[nsizes - 1], 1, &res);
	printf("   (ns; fill: ns per queue_push from empty to N)\n");
	printf("   queue_get by name among %d queues (sched_submit, per job): "
	       "%.0f ns\n",
	    NQUEUES, q_lookup(steps));
}

/* --- S: through sched_submit() and an event loop ------------------------ */

static struct {
	struct queue *qs[NQUEUES];
	size_t started, target; /* in the current step */
} SB;

static void
pause_all(bool paused)
{
	size_t i;

	for (i = 0; i < NQUEUES; i++)
		queue_set_paused(SB.qs[i], paused);
}

/* The event hook: after a step's quota of starts, start nothing more. */
static void
on_event(struct job *job, const char *event)
{
	(void)job;
	if (strcmp(event, "started") == 0 && ++SB.started == SB.target)
		pause_all(true);
}

static void
daemon_setup(void)
{
	memset(&jobd, 0, sizeof jobd);
	jobd.cfg.max_running = 1;
	jobd.cfg.max_queued = SIZE_MAX / 2;
	jobd.cfg.max_batch = STEP_JOBS;
	jobd.cfg.retain_count = 0; /* free each job as it finishes */
	jobd.cfg.retain_age_ms = UINT64_MAX / 2;
	jobd.cfg.output_cap = JOB_DEFAULT_OUTPUT_CAP;
	if ((jobd.base = event_base_new()) == NULL ||
	    (jobd.counters = counters_create(4)) == NULL)
		errx(1, "cannot set up the event loop");
	jobd.stats = counters_slot(jobd.counters);
	sched_init();
	if (kinds_init() != 0)
		err(1, "kinds_init");
	sched_set_event_hook(on_event);
	queues_create(SB.qs, NQUEUES, "q");
	pause_all(true);
}

static void
daemon_teardown(void)
{
	sched_free();
	kinds_free();
	counters_free(jobd.counters);
	event_base_free(jobd.base);
	memset(&jobd, 0, sizeof jobd);
}

/* n echo jobs with a 64-byte payload, mixed priorities and queues. */
static struct job **
parse_jobs(size_t n)
{
	struct job **jobs = xcalloc(n, sizeof(*jobs));
	char payload[PAYLOAD_CHARS + 1], name[16], msg[256];
	json_t *spec;
	size_t i;
	int code;

	memset(payload, 'x', PAYLOAD_CHARS);
	payload[PAYLOAD_CHARS] = '\0';
	spec =
	    json_pack("{s:s, s:{s:s}}", "kind", "echo", "args", "d", payload);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "q%02u",
		    (unsigned)(random64() % NQUEUES));
		json_object_set_new(spec, "queue", json_string(name));
		json_object_set_new(
		    spec, "priority", json_integer(mixed_priority()));
		if ((jobs[i] = job_parse(spec, "", &code, msg, sizeof msg)) ==
		    NULL)
			errx(1, "job_parse: %s", msg);
	}
	json_decref(spec);
	return jobs;
}

static void
submit_all(struct job **jobs, size_t n)
{
	bool duplicate[STEP_JOBS];
	struct submit_error e = {.single = false};
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < STEP_JOBS ? n - i : STEP_JOBS;
		if (sched_submit(jobs + i, k, duplicate, &e) != 0)
			errx(1, "sched_submit: %s", e.msg);
	}
}

/* Let the loop run k of the queued jobs. */
static void
run_queued(size_t k)
{
	SB.started = 0;
	SB.target = k;
	pause_all(false);
	sched_queues_changed();
	while (SB.started < SB.target || sched_count_running() > 0)
		event_base_loop(jobd.base, EVLOOP_NONBLOCK);
}

/* Bytes malloc has handed out: small chunks plus mmapped blocks. */
static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

struct s_result {
	double job_ns;       /* per job, submit and run, median */
	double submit_ns;    /* sched_submit's share, median */
	double run_ns;       /* the loop's share, median */
	double heap_per_job; /* heap in use after the fill, per job */
	double runs[RUNS];   /* job_ns of each run */
};

static void
s_measure(size_t n, size_t per_run, struct s_result *res)
{
	double submit[RUNS], run[RUNS];
	uint64_t t0, t1, in_submit, in_run;
	struct job **jobs;
	size_t before, i, k;
	int r;

	daemon_setup();
	before = heap_in_use();
	jobs = parse_jobs(n);
	submit_all(jobs, n);
	free(jobs);
	res->heap_per_job =
	    ((double)heap_in_use() - (double)before) / (double)n;
	if (sched_count_queued() != n)
		errx(1, "sched: %zu queued, expected %zu", sched_count_queued(),
		    n);
	for (r = -1; r < RUNS; r++) {
		jobs = parse_jobs(per_run);
		in_submit = in_run = 0;
		for (i = 0; i < per_run; i += k) {
			k = per_run - i < STEP_JOBS ? per_run - i : STEP_JOBS;
			t0 = now_ns();
			submit_all(jobs + i, k);
			t1 = now_ns();
			run_queued(k);
			in_submit += t1 - t0;
			in_run += now_ns() - t1;
		}
		free(jobs);
		if (sched_count_queued() != n || sched_count_running() != 0)
			errx(1, "sched: %zu queued, %zu running after a run",
			    sched_count_queued(), sched_count_running());
		if (r < 0)
			continue;
		submit[r] = (double)in_submit / (double)per_run;
		run[r] = (double)in_run / (double)per_run;
		res->runs[r] = submit[r] + run[r];
	}
	daemon_teardown();
	res->job_ns = median(res->runs);
	res->submit_ns = median(submit);
	res->run_ns = median(run);
}

/* For B: heap in use per job after S's fill of its largest N. */
static double s_heap;
static size_t s_heap_n;

static void
bench_s(void)
{
	size_t per_run = 100000 / opt.scale, k,
	       nsizes = sizeof sizes / sizeof sizes[0];
	struct s_result res;

	if (opt.scale > 1)
		nsizes--;
	printf("S. through the scheduler: sched_submit of %d parsed echo jobs, "
	       "then a loop pass\n"
	       "   that runs %d queued ones (pop, start, finish, free); "
	       "%d queues, same mix; %zu jobs a run\n",
	    STEP_JOBS, STEP_JOBS, NQUEUES, per_run);
	printf("     queued      jobs/s   ns/job /log2(N)  submit     run   "
	       "heap/job after the fill\n");
	for (k = 0; k < nsizes; k++) {
		s_measure(sizes[k], per_run, &res);
		printf("   %8zu %11.0f %8.0f %8.1f %7.0f %7.0f   %6.0f B",
		    sizes[k], 1e9 / res.job_ns, res.job_ns,
		    res.job_ns / log2((double)sizes[k]), res.submit_ns,
		    res.run_ns, res.heap_per_job);
		print_runs(res.runs);
		printf("\n");
		fflush(stdout);
		s_heap = res.heap_per_job;
		s_heap_n = sizes[k];
	}
}

/* --- B: the bytes of one job -------------------------------------------- */

/* jansson's allocations while `tracing`: those freed again are dropped. */
#define TRACE_MAX 32
static struct {
	bool tracing;
	size_t n;
	struct {
		void *p;
		size_t requested, usable;
	} a[TRACE_MAX];
} JA;

static void *
counting_malloc(size_t size)
{
	void *p = malloc(size);

	if (p != NULL && JA.tracing) {
		if (JA.n == TRACE_MAX)
			errx(1, "more than %d jansson allocations", TRACE_MAX);
		JA.a[JA.n].p = p;
		JA.a[JA.n].requested = size;
		JA.a[JA.n++].usable = malloc_usable_size(p);
	}
	return p;
}

static void
counting_free(void *p)
{
	size_t i;

	for (i = 0; JA.tracing && i < JA.n; i++) {
		if (JA.a[i].p == p) {
			JA.a[i].p = NULL; /* temporary: not the job's */
			break;
		}
	}
	free(p);
}

/* A block jansson allocated while parsing that the job still holds. */
static const char *
jansson_block_name(const struct job *job, const void *p)
{
	(void)job;
	(void)p;
	return "kept from parsing (jansson)";
}

static size_t
chunk(size_t usable)
{
	return usable + MALLOC_HEADER;
}

static void
m_piece(const char *what, size_t requested, size_t usable, size_t *total)
{
	printf("   %-34s %5zu %7zu %7zu\n", what, requested, usable,
	    chunk(usable));
	*total += chunk(usable);
}

/*
 * The job B describes, parsed first thing, while the heap is fresh: later,
 * after S, malloc would hand out recycled chunks of other sizes.
 */
static struct {
	struct job *job;
	char *spec_text;
} BJ;

static void
b_parse(void)
{
	char payload[PAYLOAD_CHARS + 1], msg[256];
	json_t *spec;
	int code;

	memset(payload, 'x', PAYLOAD_CHARS);
	payload[PAYLOAD_CHARS] = '\0';
	spec =
	    json_pack("{s:s, s:{s:s}}", "kind", "echo", "args", "d", payload);
	BJ.spec_text = json_dumps(spec, JSON_COMPACT);
	JA.tracing = true;
	BJ.job = job_parse(spec, "", &code, msg, sizeof msg);
	JA.tracing = false;
	if (BJ.job == NULL)
		errx(1, "job_parse: %s", msg);
	json_decref(spec);
}

static void
bench_b(void)
{
	struct job *job = BJ.job;
	const char *text = BJ.spec_text;
	size_t total = 0, i, nblocks = 0;
	char msg[64];

	printf("B. one queued echo job, spec %zu bytes, args %zu bytes:\n"
	       "   %s\n",
	    strlen(text),
	    strlen(text) - strlen("{\"kind\":\"echo\",\"args\":}"), text);
	printf("   %-34s %5s %7s %7s\n", "piece", "asked", "usable", "+header");
	m_piece("struct job + args text",
	    sizeof(struct job) + job->args_len + 1, malloc_usable_size(job),
	    &total);
	if (job->opts != NULL && job->args_len == 0)
		errx(1, "the echo job lost its args");
	for (i = 0; i < JA.n; i++) {
		if (JA.a[i].p == NULL)
			continue;
		nblocks++;
		m_piece(jansson_block_name(job, JA.a[i].p), JA.a[i].requested,
		    JA.a[i].usable, &total);
	}
	printf("   %-34s %21zu B in %zu allocations\n", "per job, malloc",
	    total, 1 + nblocks);
	printf("   %-34s %21s\n", "job table slot (load 1/4..1/2)", "16-32 B");
	printf("   %-34s %21s\n", "queue heap slot (capacity x2)", "8-16 B");
	if (s_heap_n > 0) {
		snprintf(
		    msg, sizeof msg, "measured in S, %zu queued", s_heap_n);
		printf("   %-34s %19.0f B heap in use per job\n", msg, s_heap);
	}
	job_free(BJ.job);
	free(BJ.spec_text);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: queues [-q] [-v] [--only QSB]\n"
	           "  -q  sizes 10k and 100k only, a tenth of the steps\n"
	           "  -v  every run's figure too\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"only", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char load[32];
	int ch;

	/* Before jansson allocates anything: B counts its allocations. */
	json_set_alloc_funcs(counting_malloc, counting_free);
	while ((ch = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			opt.scale = 10;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'o':
			opt.only = optarg;
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
	printf("bench/queues: %ld online CPUs, load %s; sizeof(struct job) "
	       "%zu; median of %d runs after a warm-up\n",
	    sysconf(_SC_NPROCESSORS_ONLN), load_average(load, sizeof load),
	    sizeof(struct job), RUNS);
	fflush(stdout);
	if (strchr(opt.only, 'B') != NULL)
		b_parse();
	if (strchr(opt.only, 'Q') != NULL) {
		bench_q();
		fflush(stdout);
	}
	if (strchr(opt.only, 'S') != NULL) {
		bench_s();
		fflush(stdout);
	}
	if (strchr(opt.only, 'B') != NULL)
		bench_b();
	return 0;
}
