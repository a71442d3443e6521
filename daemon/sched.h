/*
 * sched: the job table, the run queue, and every state change of a job.
 *
 * Owned by the event loop's thread.  Jobs enter with sched_submit(), wait in
 * a FIFO queue until fewer than max_running jobs run, run as a child process
 * (exec), on the pool (compute kinds) or on a timer (sleep, echo), and end
 * each attempt through one function that records it, retries it on a timer
 * when the policy says so, or finishes the job.  Finished jobs are kept for
 * `get` until the retention bounds (count, age) drop the oldest.
 *
 * Every transition is announced through the event hook (queued, started,
 * retrying, finished), which is how waiters and watchers hear of it.
 */
#ifndef JOBD_SCHED_H
#define JOBD_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"

struct conn_cred;

typedef void (*sched_event_fn)(struct job *job, const char *event);

int sched_init(void);
void sched_free(void);
void sched_set_event_hook(sched_event_fn fn);

struct queue;

struct submit_error {
	bool single; /* in: the jobs came as "job", not "jobs" */
	const struct conn_cred *who; /* in: the submitter */
	int code;                    /* PROTO_E_* */
	char msg[256];
};

/*
 * Accept n parsed jobs (ids assigned; queued, delayed or waiting for their
 * dependencies).  A job whose unique key matches a job already known is
 * freed and replaced in jobs[] by that job, with duplicate[i] set.  The
 * jobs' refs are resolved among the batch.  Nothing is accepted on error:
 * -1 with *e filled (queue_full past max_queued or a queue's max_length,
 * queue_draining, not_found for an unknown dependency, bad_request for an
 * unknown ref or a dependency cycle).
 */
int sched_submit(struct job **jobs, const json_t *const *specs, size_t n,
    bool *duplicate, struct submit_error *e);

/* A queue was paused, resumed or given a new limit: start what may. */
void sched_queues_changed(void);
/* Cancel every queued job of q (delayed ones wait on); how many. */
size_t sched_queue_clear(struct queue *q);
struct job *sched_find(uint64_t id);

/*
 * Cancel a job: a queued or delayed one ends at once, a running one is
 * stopped (it ends when its process or task does).  Returns false if the
 * job had already finished.
 */
bool sched_cancel(struct job *job);

/*
 * The dead set: jobs that ended failed or timed out after their last
 * attempt.  kick requeues one with a fresh attempt budget (its history
 * stays); discard deletes it.  Both return false for a job not dead.
 */
bool sched_is_dead(const struct job *job);
bool sched_kick(struct job *job);
bool sched_discard(struct job *job);

/* Jobs in the table with id > after, in id order; fn returns false to stop. */
void sched_foreach(
    uint64_t after, bool (*fn)(struct job *job, void *arg), void *arg);
/* The same for ids in (after, before) (before 0: no bound), in either
 * order. */
void sched_foreach_between(uint64_t after, uint64_t before, bool newest_first,
    bool (*fn)(struct job *job, void *arg), void *arg);

size_t sched_count_queued(void); /* queued + delayed */
size_t sched_count_running(void);
/*
 * What a drain waits for: jobs running, queued in queues that are not
 * paused, and (once there is nothing else) retries due within a minute;
 * *left is the other unfinished jobs, which it leaves behind (delayed
 * until later, in paused queues, waiting on dependencies).
 */
size_t sched_count_drainable(size_t *left);
size_t sched_count_jobs(void);

/*
 * Stop: start nothing new, let running jobs finish for grace_ms, then stop
 * them (outcome interrupted); call done() once nothing runs.
 */
void sched_stop(uint64_t grace_ms, void (*done)(void));
/* A second stop request: running jobs are killed now (SIGKILL). */
void sched_stop_now(void (*done)(void));

/*
 * End the running attempt of job: called by the runners (exec, kinds) once
 * the process or task is over.  error may be NULL.
 */
/*
 * The store (store.h).  sched_store_flush() writes what changed this round
 * (the store's flush hook); sched_store_committed() starts the exec jobs
 * whose attempts were in batches up to seq (from the commit hook).
 * sched_restore() brings the stored jobs back at start, before anything
 * else runs: finished ones as they were, queued, delayed and waiting ones
 * to their places, and running ones with an attempt ended lost (their
 * left-over processes killed), then retried or failed.
 */
void sched_store_flush(void);
void sched_store_committed(uint64_t seq);
int sched_restore(char *err, size_t errlen);

void sched_attempt_end(struct job *job, enum attempt_outcome outcome,
    int exit_code, int signal, const char *error);

#endif
