/*
 * queue: named queues, each a heap of jobs by (priority, sequence).
 *
 * The heap keeps each job's index in job->u.q.heap_index, so a cancelled
 * job leaves its queue in O(log n).  The queues that may start a job now
 * (not empty, not paused, under their limit) form a second heap ordered by
 * their first jobs, so picking the next job to run is O(1) and keeping
 * that heap right costs O(log queues) per change: priorities are global
 * across queues, limits and pauses are per queue.  Queues are found by
 * name through a small hash table.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "ident.h"
#include "queue.h"
#include "xmalloc.h"

struct queue {
	char *name;
	struct job **heap;
	size_t len, cap;
	unsigned concurrency; /* 0: no limit of its own */
	size_t running;
	size_t delayed;
	size_t waiting;
	size_t incoming; /* jobs of a submit being checked */
	bool paused;
	bool draining;
	/* Settings: 0 for none; a policy for jobs that give none. */
	size_t max_length;
	uint64_t timeout_ms;
	struct retry_policy *retry;
	long run_as; /* exec jobs' user, or -1: their owner */
	uint64_t submitted, succeeded, failed, timed_out, cancelled, expired,
	    dependency_failed;
	size_t rindex; /* in the runnable heap, or NOT_RUNNABLE */
	LIST_ENTRY(queue) link;
};

#define NOT_RUNNABLE SIZE_MAX

static LIST_HEAD(, queue) queues = LIST_HEAD_INITIALIZER(queues);
static uint64_t next_seq = 1;

/* The queues that may start a job, by their first job. */
static struct {
	struct queue **heap;
	size_t len, cap;
} R;

/* Name -> queue: open addressing, linear probing, never shrinks. */
static struct {
	struct queue **slot;
	size_t mask, n;
} N;

static void runnable_update(struct queue *q);

bool
queue_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > QUEUE_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		        (name[i] >= 'A' && name[i] <= 'Z') ||
		        (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		        name[i] == '.' || name[i] == '-'))
			return false;
	}
	return true;
}

static size_t
name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

static void
names_insert(struct queue *q)
{
	struct queue **old = N.slot;
	size_t i, oldsize = N.mask + 1;

	if ((N.n + 1) * 2 > N.mask + 1) {
		N.mask = oldsize * 2 - 1;
		N.slot = xcalloc(N.mask + 1, sizeof(*N.slot));
		N.n = 0;
		for (i = 0; i < oldsize; i++) {
			if (old[i] != NULL)
				names_insert(old[i]);
		}
		free(old);
	}
	for (i = name_hash(q->name) & N.mask; N.slot[i] != NULL;
	     i = (i + 1) & N.mask)
		;
	N.slot[i] = q;
	N.n++;
}

struct queue *
queue_get(const char *name)
{
	struct queue *q;

	size_t i;

	if (N.slot == NULL) {
		N.mask = 63;
		N.slot = xcalloc(N.mask + 1, sizeof(*N.slot));
	}
	for (i = name_hash(name) & N.mask; N.slot[i] != NULL;
	     i = (i + 1) & N.mask) {
		if (strcmp(N.slot[i]->name, name) == 0)
			return N.slot[i];
	}
	q = xcalloc(1, sizeof(*q));
	q->name = xstrdup(name);
	q->rindex = NOT_RUNNABLE;
	q->run_as = -1;
	LIST_INSERT_HEAD(&queues, q, link);
	names_insert(q);
	return q;
}

const char *
queue_name(const struct queue *q)
{
	return q->name;
}

/* --- heap ------------------------------------------------------------------
 */

static bool
before(const struct job *a, const struct job *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	return a->u.q.seq < b->u.q.seq;
}

static void
heap_set(struct queue *q, size_t i, struct job *job)
{
	q->heap[i] = job;
	job->u.q.heap_index = i;
}

static void
sift_up(struct queue *q, size_t i)
{
	struct job *job = q->heap[i];
	size_t parent;

	while (i > 0 && before(job, q->heap[parent = (i - 1) / 2])) {
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, job);
}

static void
sift_down(struct queue *q, size_t i)
{
	struct job *job = q->heap[i];
	size_t child;

	while ((child = 2 * i + 1) < q->len) {
		if (child + 1 < q->len &&
		    before(q->heap[child + 1], q->heap[child]))
			child++;
		if (!before(q->heap[child], job))
			break;
		heap_set(q, i, q->heap[child]);
		i = child;
	}
	heap_set(q, i, job);
}

void
queue_push(struct queue *q, struct job *job)
{
	if (q->len == q->cap) {
		q->cap = q->cap == 0 ? 64 : q->cap * 2;
		q->heap = xreallocarray(q->heap, q->cap, sizeof(*q->heap));
	}
	/* FIFO within a priority: the order of entering the queue. */
	job->u.q.seq = next_seq++;
	heap_set(q, q->len++, job);
	sift_up(q, q->len - 1);
	runnable_update(q);
}

void
queue_remove(struct queue *q, struct job *job)
{
	size_t i = job->u.q.heap_index;

	if (i >= q->len || q->heap[i] != job)
		return;
	if (i != --q->len) {
		struct job *moved = q->heap[q->len];

		heap_set(q, i, moved);
		sift_down(q, i);
		sift_up(q, moved->u.q.heap_index);
	}
	runnable_update(q);
}

struct job *
queue_pop(struct queue *q)
{
	struct job *job;

	if (q->len == 0)
		return NULL;
	job = q->heap[0];
	queue_remove(q, job);
	return job;
}

size_t
queue_depth(const struct queue *q)
{
	return q->len;
}

/* --- the runnable heap ----------------------------------------------------
 */

static bool
runnable(const struct queue *q)
{
	return q->len > 0 && !q->paused &&
	       (q->concurrency == 0 || q->running < q->concurrency);
}

static bool
q_before(const struct queue *a, const struct queue *b)
{
	return before(a->heap[0], b->heap[0]);
}

static void
r_set(size_t i, struct queue *q)
{
	R.heap[i] = q;
	q->rindex = i;
}

static void
r_sift_up(size_t i)
{
	struct queue *q = R.heap[i];
	size_t parent;

	while (i > 0 && q_before(q, R.heap[parent = (i - 1) / 2])) {
		r_set(i, R.heap[parent]);
		i = parent;
	}
	r_set(i, q);
}

static void
r_sift_down(size_t i)
{
	struct queue *q = R.heap[i];
	size_t child;

	while ((child = 2 * i + 1) < R.len) {
		if (child + 1 < R.len &&
		    q_before(R.heap[child + 1], R.heap[child]))
			child++;
		if (!q_before(R.heap[child], q))
			break;
		r_set(i, R.heap[child]);
		i = child;
	}
	r_set(i, q);
}

/* q's runnability or first job may have changed: put the heap right. */
static void
runnable_update(struct queue *q)
{
	size_t i = q->rindex;
	struct queue *moved;

	if (runnable(q)) {
		if (i == NOT_RUNNABLE) {
			if (R.len == R.cap) {
				R.cap = R.cap == 0 ? 16 : R.cap * 2;
				R.heap = xreallocarray(
				    R.heap, R.cap, sizeof(*R.heap));
			}
			r_set(R.len++, q);
			r_sift_up(R.len - 1);
		} else {
			r_sift_down(i);
			r_sift_up(q->rindex);
		}
		return;
	}
	if (i == NOT_RUNNABLE)
		return;
	q->rindex = NOT_RUNNABLE;
	if (i != --R.len) {
		moved = R.heap[R.len];
		r_set(i, moved);
		r_sift_down(i);
		r_sift_up(moved->rindex);
	}
}

struct queue *
queue_next_runnable(void)
{
	return R.len > 0 ? R.heap[0] : NULL;
}

/* --- state and counts ---------------------------------------------------- */

void
queue_note_submit(struct queue *q)
{
	q->submitted++;
}

void
queue_note_delayed(struct queue *q, int delta)
{
	q->delayed = (size_t)((long)q->delayed + delta);
}

void
queue_note_waiting(struct queue *q, int delta)
{
	q->waiting = (size_t)((long)q->waiting + delta);
}

void
queue_note_running(struct queue *q, int delta)
{
	q->running = (size_t)((long)q->running + delta);
	runnable_update(q);
}

void
queue_note_finish(struct queue *q, enum job_state state)
{
	switch (state) {
	case JOB_SUCCEEDED:
		q->succeeded++;
		break;
	case JOB_FAILED:
		q->failed++;
		break;
	case JOB_TIMED_OUT:
		q->timed_out++;
		break;
	case JOB_CANCELLED:
		q->cancelled++;
		break;
	case JOB_EXPIRED:
		q->expired++;
		break;
	case JOB_DEPENDENCY_FAILED:
		q->dependency_failed++;
		break;
	default:
		break;
	}
}

bool
queue_paused(const struct queue *q)
{
	return q->paused;
}

bool
queue_draining(const struct queue *q)
{
	return q->draining;
}

void
queue_set_paused(struct queue *q, bool paused)
{
	q->paused = paused;
	runnable_update(q);
}

void
queue_set_draining(struct queue *q, bool draining)
{
	q->draining = draining;
}

void
queue_set_concurrency(struct queue *q, unsigned n)
{
	q->concurrency = n;
	runnable_update(q);
}

size_t
queue_size(const struct queue *q)
{
	return q->len + q->delayed + q->waiting;
}

void
queue_reserve(struct queue *q, int delta)
{
	q->incoming = (size_t)((long)q->incoming + delta);
}

bool
queue_over_length(const struct queue *q)
{
	return q->max_length != 0 &&
	       queue_size(q) + q->incoming > q->max_length;
}

size_t
queue_max_length(const struct queue *q)
{
	return q->max_length;
}

void
queue_set_max_length(struct queue *q, size_t n)
{
	q->max_length = n;
}

void
queue_set_timeout(struct queue *q, uint64_t ms)
{
	q->timeout_ms = ms;
}

void
queue_set_run_as(struct queue *q, long uid)
{
	q->run_as = uid;
}

long
queue_run_as(const struct queue *q)
{
	return q->run_as;
}

void
queue_set_retry(struct queue *q, const struct retry_policy *p)
{
	free(q->retry);
	q->retry = NULL;
	if (p != NULL) {
		q->retry = xmalloc(sizeof(*q->retry));
		*q->retry = *p;
	}
}

void
queue_apply_defaults(const struct queue *q, struct job *job)
{
	if (!job->timeout_given)
		job->timeout_ms = (uint32_t)q->timeout_ms;
	if (!job->opts->retry_given && q->retry != NULL) {
		job_opts_mut(job)->retry = *q->retry;
		job_opts_mut(job)->retry_given = true;
	}
}

json_t *
queue_json(const struct queue *q)
{
	json_t *o;

	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:I, "
	              "s:I}",
	    "name", q->name, "depth", (json_int_t)queue_size(q), "queued",
	    (json_int_t)q->len, "delayed", (json_int_t)q->delayed, "waiting",
	    (json_int_t)q->waiting, "running", (json_int_t)q->running, "paused",
	    q->paused, "draining", q->draining, "concurrency",
	    (json_int_t)q->concurrency, "max_length", (json_int_t)q->max_length,
	    "timeout_ms", (json_int_t)q->timeout_ms);
	if (q->retry != NULL)
		json_object_set_new(o, "retry", retry_policy_to_json(q->retry));
	if (q->run_as >= 0) {
		const char *user = ident_user_name((uid_t)q->run_as);

		json_object_set_new(o, "run_as",
		    user != NULL ? json_string(user)
		                 : json_integer((json_int_t)q->run_as));
	}
	json_object_update_new(
	    o, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "submitted",
	           (json_int_t)q->submitted, "succeeded",
	           (json_int_t)q->succeeded, "failed", (json_int_t)q->failed,
	           "timed_out", (json_int_t)q->timed_out, "cancelled",
	           (json_int_t)q->cancelled, "expired", (json_int_t)q->expired,
	           "dependency_failed", (json_int_t)q->dependency_failed));
	return o;
}

json_t *
queue_settings_json(const struct queue *q)
{
	json_t *o = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I}", "paused",
	    q->paused, "draining", q->draining, "concurrency",
	    (json_int_t)q->concurrency, "max_length", (json_int_t)q->max_length,
	    "timeout_ms", (json_int_t)q->timeout_ms, "run_as",
	    (json_int_t)q->run_as);

	if (q->retry != NULL)
		json_object_set_new(o, "retry", retry_policy_to_json(q->retry));
	return o;
}

int
queue_apply_settings(struct queue *q, const json_t *s, char *err, size_t errlen)
{
	const json_t *retry = json_object_get(s, "retry");
	struct retry_policy policy;

	if (retry != NULL &&
	    retry_policy_from_json(&policy, retry, err, errlen) != 0)
		return -1;
	queue_set_retry(q, retry != NULL ? &policy : NULL);
	q->paused = json_is_true(json_object_get(s, "paused"));
	q->draining = json_is_true(json_object_get(s, "draining"));
	queue_set_concurrency(
	    q, (unsigned)json_integer_value(json_object_get(s, "concurrency")));
	q->max_length =
	    (size_t)json_integer_value(json_object_get(s, "max_length"));
	q->timeout_ms =
	    (uint64_t)json_integer_value(json_object_get(s, "timeout_ms"));
	q->run_as = json_is_integer(json_object_get(s, "run_as"))
	                ? (long)json_integer_value(json_object_get(s, "run_as"))
	                : -1;
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp((*(struct queue *const *)a)->name,
	    (*(struct queue *const *)b)->name);
}

struct queue **
queues_sorted(size_t *n)
{
	struct queue *q, **v;
	size_t len = 0;

	LIST_FOREACH(q, &queues, link)
	len++;
	v = xcalloc(len > 0 ? len : 1, sizeof(*v));
	len = 0;
	LIST_FOREACH(q, &queues, link)
	v[len++] = q;
	qsort(v, len, sizeof(*v), cmp_name);
	*n = len;
	return v;
}

json_t *
queues_json(void)
{
	struct queue **v;
	json_t *arr = json_array();
	size_t i, n;

	v = queues_sorted(&n);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, queue_json(v[i]));
	free(v);
	return arr;
}

void
queue_figures(const struct queue *q, struct queue_figures *out)
{
	*out = (struct queue_figures){
	    .queued = q->len,
	    .delayed = q->delayed,
	    .waiting = q->waiting,
	    .running = q->running,
	    .submitted = q->submitted,
	    .succeeded = q->succeeded,
	    .failed = q->failed,
	    .timed_out = q->timed_out,
	    .cancelled = q->cancelled,
	    .expired = q->expired,
	    .dependency_failed = q->dependency_failed,
	};
}

void
queues_free(void)
{
	struct queue *q;

	while ((q = LIST_FIRST(&queues)) != NULL) {
		LIST_REMOVE(q, link);
		free(q->heap);
		free(q->retry);
		free(q->name);
		free(q);
	}
	free(R.heap);
	free(N.slot);
	memset(&R, 0, sizeof R);
	memset(&N, 0, sizeof N);
}
