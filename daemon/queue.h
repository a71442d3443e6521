/*
 * queue: named queues of jobs waiting to run.
 *
 * Each queue is a binary heap ordered by (priority, sequence): lower
 * priority values run first, and jobs of equal priority run in the order
 * they were queued.  A queue has its own concurrency limit, can be paused
 * (nothing new starts) or drained (nothing new is accepted), and counts
 * what went through it.  Queues are created on first use and live as long
 * as the daemon.  Loop thread only.
 */
#ifndef JOBD_QUEUE_H
#define JOBD_QUEUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "job.h"

#define QUEUE_DEFAULT "default"
#define QUEUE_NAME_MAX 64

struct queue;

/* The queue called name, created if missing (name must be valid). */
struct queue *queue_get(const char *name);
/* Is name 1..QUEUE_NAME_MAX characters of [A-Za-z0-9_.-]? */
bool queue_name_valid(const char *name);
const char *queue_name(const struct queue *q);

/* Add a queued job (job->priority set); remove one; take the first. */
void queue_push(struct queue *q, struct job *job);
void queue_remove(struct queue *q, struct job *job);
struct job *queue_pop(struct queue *q);
size_t queue_depth(const struct queue *q); /* queued, not delayed */

/*
 * The queue whose first job should start next: not paused, under its
 * concurrency limit, and holding the best (priority, sequence) head of
 * all such queues.  NULL if none.
 */
struct queue *queue_next_runnable(void);

/* Bookkeeping the scheduler reports. */
void queue_note_submit(struct queue *q);
void queue_note_delayed(struct queue *q, int delta);
void queue_note_running(struct queue *q, int delta);
void queue_note_waiting(struct queue *q, int delta);

/* Jobs in q: queued, delayed and waiting. */
size_t queue_size(const struct queue *q);
/*
 * Admission: a submit reserves room for its jobs in their queues, asks
 * whether any queue would pass its max_length, and gives the room back.
 */
void queue_reserve(struct queue *q, int delta);
bool queue_over_length(const struct queue *q);
size_t queue_max_length(const struct queue *q);

/* Settings (0 or NULL: none).  Defaults apply to jobs that give none. */
void queue_set_max_length(struct queue *q, size_t n);
void queue_set_timeout(struct queue *q, uint64_t ms);
void queue_set_retry(struct queue *q, const struct retry_policy *p);
/* Exec jobs of q run as this uid (jobd as root), or -1: as their owner. */
void queue_set_run_as(struct queue *q, long uid);
long queue_run_as(const struct queue *q);
void queue_apply_defaults(const struct queue *q, struct job *job);
void queue_note_finish(struct queue *q, enum job_state state);

bool queue_paused(const struct queue *q);
bool queue_draining(const struct queue *q);
void queue_set_paused(struct queue *q, bool paused);
void queue_set_draining(struct queue *q, bool draining);
void queue_set_concurrency(struct queue *q, unsigned n);

json_t *queue_json(const struct queue *q);
/*
 * What a restart keeps of a queue (the store's record): paused, draining,
 * concurrency, max_length, timeout_ms, retry, run_as; and back.
 */
json_t *queue_settings_json(const struct queue *q);
int queue_apply_settings(
    struct queue *q, const json_t *settings, char *err, size_t errlen);
/* Every queue, by name. */
json_t *queues_json(void);
/* Every queue sorted by name, in an array to free(); *n: how many. */
struct queue **queues_sorted(size_t *n);

/* What a queue holds now, and what went through it (its counters). */
struct queue_figures {
	size_t queued, delayed, waiting, running;
	uint64_t submitted, succeeded, failed, timed_out, cancelled, expired,
	    dependency_failed;
};
void queue_figures(const struct queue *q, struct queue_figures *out);
void queues_free(void);

#endif
