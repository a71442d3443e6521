/*
 * kinds: echo, sleep and the compute kinds (see kinds.h).
 *
 * A compute job lends the pool task two things: its `compute` (which the
 * loop does not touch while the task runs) and its cancel flag (an atomic
 * the loop sets and the task polls, relaxed: it only asks the task to stop
 * early, and the result travels back through the channel, whose lock orders
 * everything the task wrote before the loop reads it).  The job stays in
 * state running until its completion is drained, so it cannot be freed
 * under the task.
 *
 * echo completes through a zero timer rather than inline, so that every
 * attempt ends from the loop, never from inside sched_pump().
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "compute.h"
#include "jobd.h"
#include "kinds.h"
#include "log.h"
#include "par.h"
#include "pool.h"
#include "sched.h"
#include "xmalloc.h"

#define DONE_CAPACITY 65536 /* completions in flight, >= pool backlog */
#define DRAIN_BATCH 256
#define READY_BATCH 4096 /* echo completions per loop pass */

struct completion {
	struct job *job;
	json_t *result;
	char error[256];
	int errnum;
};

static struct {
	struct chan *done;
	struct event *done_ev;
	size_t inflight;
	/* echo jobs that have started: they finish at the next loop pass,
	 * all together, through one event (no timer per job). */
	TAILQ_HEAD(, job) ready;
	struct event *ready_ev;
} K;

/* The attempt's own timers: sleep/echo's wake-up and the timeout. */
static void
job_timers_free(struct job *job)
{
	if (job_run_mut(job)->timer != NULL) {
		event_free(job_run_mut(job)->timer);
		job_run_mut(job)->timer = NULL;
	}
	if (job_run_mut(job)->kill_timer != NULL) {
		event_free(job_run_mut(job)->kill_timer);
		job_run_mut(job)->kill_timer = NULL;
	}
}

/* --- compute on the pool ----------------------------------------------------
 */

static void
compute_task(void *arg)
{
	struct completion *c = arg;
	struct par_ctx ctx = {jobd.pool, 0, &job_run_mut(c->job)->cancel};

	c->result =
	    compute_run(c->job->spec.compute, &ctx, c->error, sizeof c->error);
	c->errnum = c->result == NULL ? errno : 0;
	/* Blocks only if the loop is DONE_CAPACITY completions behind. */
	if (chan_send(K.done, c) != 0)
		fatalx("compute completion channel closed");
}

/* The pool dropped the task (shutdown): report it as interrupted. */
static void
compute_dropped(void *arg)
{
	struct completion *c = arg;

	c->result = NULL;
	snprintf(c->error, sizeof c->error, "jobd stopped");
	c->errnum = ECANCELED;
	if (chan_send(K.done, c) != 0)
		fatalx("compute completion channel closed");
}

static void
compute_complete(struct completion *c)
{
	struct job *job = c->job;
	enum attempt_outcome outcome;

	K.inflight--;
	job_timers_free(job);
	if (job_run_mut(job)->stopping)
		outcome = job_run_mut(job)->stop_reason;
	else if (c->result != NULL)
		outcome = OUTCOME_SUCCEEDED;
	else
		outcome = OUTCOME_FAILED;
	json_decref(job_run_mut(job)->result);
	job_run_mut(job)->result =
	    outcome == OUTCOME_SUCCEEDED ? c->result : NULL;
	if (outcome != OUTCOME_SUCCEEDED)
		json_decref(c->result);
	sched_attempt_end(
	    job, outcome, -1, 0, outcome == OUTCOME_FAILED ? c->error : NULL);
	free(c);
}

static void
done_readable(evutil_socket_t fd, short what, void *arg)
{
	void *items[DRAIN_BATCH];
	size_t i, n;

	do {
		n = chan_drain(K.done, items, DRAIN_BATCH);
		for (i = 0; i < n; i++)
			compute_complete(items[i]);
	} while (n == DRAIN_BATCH);
}

/* --- timers ------------------------------------------------------------------
 */

static void
arm(struct event **ev, uint64_t ms, event_callback_fn fn, struct job *job)
{
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	*ev = evtimer_new(jobd.base, fn, job);
	event_base_update_cache_time(jobd.base); /* see sched.c hold() */
	evtimer_add(*ev, &tv);
}

/* echo's immediate completion and sleep's wake-up. */
static void
builtin_done(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	job_timers_free(job);
	json_decref(job_run_mut(job)->result);
	job_run_mut(job)->result = job->kind == KIND_ECHO
	                               ? job_args(job)
	                               : json_pack("{s:I}", "slept_ms",
	                                     (json_int_t)job->spec.sleep_ms);
	sched_attempt_end(job, OUTCOME_SUCCEEDED, -1, 0, NULL);
}

static void
ready_run(evutil_socket_t fd, short what, void *arg)
{
	struct job *job;
	int n;

	/* Finishing one starts the next queued job, which may be an echo
	 * too: take a batch here, then let other events have a turn. */
	for (n = 0; n < READY_BATCH && (job = TAILQ_FIRST(&K.ready)) != NULL;
	     n++) {
		TAILQ_REMOVE(&K.ready, job, u.ready_link);
		builtin_done(-1, 0, job);
	}
	if (!TAILQ_EMPTY(&K.ready))
		event_active(K.ready_ev, 0, 0);
}

static void
timed_out(evutil_socket_t fd, short what, void *arg)
{
	kinds_stop(arg, OUTCOME_TIMED_OUT);
}

void
kinds_start(struct job *job)
{
	struct completion *c;

	switch (job->kind) {
	case KIND_ECHO:
		/* The job is out of the run queue, so u.ready_link is free. */
		if (TAILQ_EMPTY(&K.ready))
			event_active(K.ready_ev, 0, 0);
		TAILQ_INSERT_TAIL(&K.ready, job, u.ready_link);
		return;
	case KIND_SLEEP:
		arm(&job_run_mut(job)->timer, job->spec.sleep_ms, builtin_done,
		    job);
		break;
	case KIND_COMPUTE:
		c = xcalloc(1, sizeof(*c));
		c->job = job;
		if (pool_submit(jobd.pool, compute_task, compute_dropped, c) !=
		    0) {
			free(c);
			sched_attempt_end(job, OUTCOME_INTERRUPTED, -1, 0,
			    "jobd is stopping");
			return;
		}
		K.inflight++;
		break;
	default:
		fatalx("kinds_start: kind %d", job->kind);
	}
	if (job->timeout_ms != 0)
		arm(&job_run_mut(job)->kill_timer, job->timeout_ms, timed_out,
		    job);
}

void
kinds_stop(struct job *job, enum attempt_outcome reason)
{
	if (job->state != JOB_RUNNING)
		return;
	/* A cancel during a stop's interrupt: it ends cancelled. */
	if (job_run_mut(job)->stopping) {
		if (reason == OUTCOME_CANCELLED)
			job_run_mut(job)->stop_reason = reason;
		return;
	}
	job_run_mut(job)->stopping = true;
	job_run_mut(job)->stop_reason = reason;
	switch (job->kind) {
	case KIND_ECHO:
		/* Still on the ready list: it ends now, as asked. */
		TAILQ_REMOVE(&K.ready, job, u.ready_link);
		sched_attempt_end(job, reason, -1, 0, NULL);
		break;
	case KIND_SLEEP:
		job_timers_free(job);
		sched_attempt_end(job, reason, -1, 0, NULL);
		break;
	case KIND_COMPUTE:
		/* The task sees it at its next chunk; the attempt ends when
		 * its completion arrives. */
		atomic_store_explicit(
		    &job_run_mut(job)->cancel, 1, memory_order_relaxed);
		break;
	default:
		break;
	}
}

size_t
kinds_inflight(void)
{
	return K.inflight;
}

int
kinds_init(void)
{
	if ((K.done = chan_create(DONE_CAPACITY, CHAN_EVENTFD)) == NULL)
		return -1;
	K.done_ev = event_new(jobd.base, chan_fd(K.done), EV_READ | EV_PERSIST,
	    done_readable, NULL);
	event_add(K.done_ev, NULL);
	TAILQ_INIT(&K.ready);
	K.ready_ev = event_new(jobd.base, -1, 0, ready_run, NULL);
	return 0;
}

void
kinds_free(void)
{
	if (K.done_ev != NULL)
		event_free(K.done_ev);
	if (K.ready_ev != NULL)
		event_free(K.ready_ev);
	if (K.done != NULL)
		chan_free(K.done);
	memset(&K, 0, sizeof K);
}
