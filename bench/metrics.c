/*
 * metrics: how long jobd takes to render its Prometheus exposition.
 *
 * Runs daemon/metrics.c in this process (linked against
 * daemon/libjobdaemon.la like the tests) on counters and queues made up
 * here: every counter and gauge non-zero, both histograms filled with
 * values spread over their range, and 1, 100 or 1000 queues, each with
 * every per-queue figure non-zero.  For each size it renders the text
 * into one evbuffer (drained between renders, as a scrape would free
 * it) and prints the median time of five runs of a fixed number of
 * renders, the size of the text and its lines.  Asserts nothing.
 *
 * Usage: metrics
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchio.h"
#include "counters.h"
#include "job.h"
#include "jobd.h"
#include "metrics.h"
#include "pool.h"
#include "queue.h"

#define RUNS 5

static const size_t sizes[] = {1, 100, 1000};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Figures that look like a jobd that has worked a while. */
static void
fill_counters(void)
{
	uint64_t v = 1;
	unsigned i, n;

	for (i = 0; i < COUNTER_MAX; i++)
		counter_add(jobd.stats, (enum counter_id)i, 1000 + 37 * i);
	for (i = 0; i < GAUGE_MAX; i++)
		gauge_add(jobd.stats, (enum gauge_id)i, 3 + i);
	for (n = 0; n < 100000; n++) {
		v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		for (i = 0; i < HIST_MAX; i++)
			hist_record(
			    jobd.stats, (enum hist_id)i, (v >> 40) % 60000000);
	}
}

static void
make_queues(size_t n)
{
	char name[QUEUE_NAME_MAX + 1];
	struct queue *q;
	size_t i;

	queues_free();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "queue-%04zu", i);
		q = queue_get(name);
		queue_note_submit(q);
		queue_note_delayed(q, 2);
		queue_note_waiting(q, 1);
		queue_note_finish(q, JOB_SUCCEEDED);
		queue_note_finish(q, JOB_FAILED);
		queue_note_finish(q, JOB_TIMED_OUT);
		queue_note_finish(q, JOB_CANCELLED);
		queue_note_finish(q, JOB_EXPIRED);
		queue_note_finish(q, JOB_DEPENDENCY_FAILED);
	}
}

static void
bench(size_t nqueues)
{
	struct evbuffer *b = evbuffer_new();
	uint64_t ns[RUNS], t0;
	size_t bytes = 0, lines = 0, i, renders;
	unsigned char *text;
	int run;

	make_queues(nqueues);
	/* Fewer renders of the larger texts: each run takes ~0.1 s. */
	renders = nqueues >= 1000 ? 20 : nqueues >= 100 ? 200 : 2000;
	metrics_render(b);
	bytes = evbuffer_get_length(b);
	text = evbuffer_pullup(b, -1);
	for (i = 0; i < bytes; i++)
		lines += text[i] == '\n';
	evbuffer_drain(b, bytes);
	for (run = 0; run < RUNS; run++) {
		t0 = now_ns();
		for (i = 0; i < renders; i++) {
			metrics_render(b);
			evbuffer_drain(b, evbuffer_get_length(b));
		}
		ns[run] = (now_ns() - t0) / renders;
	}
	qsort(ns, RUNS, sizeof ns[0], cmp_u64);
	printf("%6zu queues: %8.1f us per render, %7zu bytes, %5zu lines\n",
	    nqueues, (double)ns[RUNS / 2] / 1000, bytes, lines);
	evbuffer_free(b);
}

int
main(void)
{
	char load[32];
	size_t i;

	jobd.cfg.max_running = 8;
	jobd.cfg.max_queued = 1000000;
	jobd.counters = counters_create(4);
	jobd.stats = counters_slot(jobd.counters);
	jobd.pool = pool_create(1);
	jobd.started_ms = now_ms();
	if (jobd.counters == NULL || jobd.pool == NULL) {
		fprintf(stderr, "metrics: cannot set up\n");
		return 1;
	}
	fill_counters();
	printf("metrics: Prometheus exposition, median of %d runs (load %s)\n",
	    RUNS, load_average(load, sizeof load));
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		bench(sizes[i]);
	queues_free();
	pool_free(jobd.pool);
	counters_free(jobd.counters);
	return 0;
}
