/*
 * pool: a fixed set of worker threads with work stealing.
 *
 * Each worker owns a deque (Chase-Lev): it pushes and pops at the bottom,
 * idle workers steal from the top.  Tasks submitted from outside the pool go
 * to a shared injection queue; a task submitted from inside a running task
 * goes to its own worker's deque, so fork-join work stays local and cheap.
 * Idle workers spin briefly, then park on a condition variable: an idle pool
 * costs no CPU.
 *
 * Groups give fork-join: submit tasks into a group, then pool_group_wait().
 * A worker that waits helps: it runs tasks from its deque and steals while
 * the group is unfinished, so nested parallelism cannot deadlock the pool.
 *
 * pool_shutdown(POOL_DRAIN) runs every task already submitted (and the tasks
 * they submit); pool_shutdown(POOL_CANCEL) runs none that has not started:
 * each dropped task's free callback runs instead, so nothing leaks, and the
 * groups they belong to still complete.  Neither can hang.
 */
#ifndef JOBD_POOL_H
#define JOBD_POOL_H

#include <stdatomic.h>
#include <stddef.h>

struct pool;

typedef void (*pool_fn)(void *arg);

enum pool_shutdown_mode {
	POOL_DRAIN,  /* run everything submitted, then stop */
	POOL_CANCEL, /* drop everything not yet started, then stop */
};

/*
 * A set of tasks to wait for.  Lives in the caller's memory (usually the
 * stack); initialise with pool_group_init().  The field is private.
 */
struct pool_group {
	atomic_long pending;
};

/* Start nthreads workers (0: one per online CPU).  NULL on error (errno). */
struct pool *pool_create(unsigned nthreads);
/* Shut down with POOL_DRAIN unless already shut down, then free. */
void pool_free(struct pool *pool);

/*
 * Queue fn(arg).  free_fn (may be NULL) runs instead of fn if the task is
 * dropped by POOL_CANCEL; it never runs after fn.  Returns 0, or -1 with
 * errno ECANCELED when the pool is shutting down and the caller is not one
 * of its tasks (free_fn is not called then: the caller still owns arg).
 */
int pool_submit(struct pool *pool, pool_fn fn, pool_fn free_fn, void *arg);

void pool_group_init(struct pool_group *group);
/* As pool_submit, and the task counts in group until it ran or was dropped. */
int pool_group_submit(struct pool *pool, struct pool_group *group, pool_fn fn,
    pool_fn free_fn, void *arg);
/*
 * Return once every task of the group ran or was dropped.  On a worker
 * thread of this pool it runs other tasks meanwhile; elsewhere it blocks.
 */
void pool_group_wait(struct pool *pool, struct pool_group *group);

/* Stop the pool (see above); waits for the workers to exit.  Idempotent. */
void pool_shutdown(struct pool *pool, enum pool_shutdown_mode mode);

unsigned pool_size(const struct pool *pool);
/* Workers parked right now (idle, not spinning): for stats and tests. */
unsigned pool_parked(const struct pool *pool);
/* This thread's worker index in pool, or -1 if it is not one of its workers. */
int pool_worker_index(const struct pool *pool);

#endif
