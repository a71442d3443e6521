/*
 * pool: worker threads with work stealing (see pool.h for the contract).
 *
 * DESIGN
 *
 * Queues.  Every worker owns a Chase-Lev deque: the owner pushes and takes at
 * the bottom without a lock (one seq_cst access in take), thieves take from
 * the top with a CAS.  A task submitted from inside a task goes to the
 * submitting worker's deque.  Tasks from other threads go to the injection
 * queue, an intrusive multi-producer queue (one atomic exchange per push, no
 * lock); its consumer side is serialised by a mutex that workers take only
 * to move a batch of tasks into their own deque, where the others can steal
 * them.
 *
 * Parking.  A worker that finds no work spins for a bounded number of scans,
 * then parks on park_cond.  The lost-wake-up race is closed Dekker-style:
 * the parking worker increments `sleepers` (seq_cst) and then scans every
 * queue once more; a submitter publishes its task with a seq_cst access and
 * then reads `sleepers`.  In the single total order of seq_cst operations
 * either the scan sees the task or the submitter sees the sleeper (and
 * signals under park_mtx, which the sleeper holds from its scan until it
 * waits).
 *
 * Shutdown.  The state moves from RUNNING to DRAIN or CANCEL under
 * submit_mtx, which every external submit holds while it checks the state
 * and pushes, so no external task arrives after the change; shutdown then
 * sets `quiesced`.  Workers keep running (DRAIN) or dropping (CANCEL:
 * free_fn instead of fn) tasks until the pool is quiesced, every worker is
 * parked and a scan under park_mtx finds no work: then nothing can create
 * work any more, the last worker sets `done`, and all exit.  Tasks running
 * during a CANCEL finish; what they submit is dropped.  Groups complete in
 * every case, because a dropped task counts as done.
 *
 * Task memory.  Task structs come from slabs the pool owns and are never
 * freed one by one: a worker keeps the ones it ran in a private list, and
 * hands the list to the shared `recycled` stack when it grows long; whoever
 * runs out takes the whole stack with one exchange.  Pushes are lock-free
 * (CAS); taking all at once cannot suffer ABA.  So submitting costs no
 * malloc, and no task struct crosses threads through the allocator.
 *
 * Groups.  pool_group_wait() on a worker runs tasks from its own deque and
 * steals while it waits, and blocks on group_cond only when it finds none;
 * off the pool it blocks at once.  The last task of a group decrements
 * `pending` and then, if anyone is blocked, broadcasts under group_mtx; it
 * never touches the group after the decrement, so a waiter may free the
 * group (usually its stack frame) as soon as it sees zero.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "xmalloc.h"

#define CACHE_LINE 64
#define DEQUE_INITIAL 256  /* slots; grows by doubling */
#define INJECT_BATCH 32    /* tasks moved from the injection queue at once */
#define SPIN_SCANS 64      /* empty scans before a worker parks */
#define HELP_SCANS 256     /* empty scans before a group waiter blocks */
#define TASK_CACHE_MAX 256 /* free task structs a worker keeps */
#define SLAB_TASKS 256     /* task structs per slab */

enum pool_state {
	STATE_RUNNING,
	STATE_DRAIN,
	STATE_CANCEL,
};

struct pool_task {
	/* Link in the injection queue, or in a list of free task structs. */
	_Atomic(struct pool_task *) next;
	pool_fn fn;
	pool_fn free_fn;
	void *arg;
	struct pool_group *group;
};

struct pool_slab {
	struct pool_slab *next;
	struct pool_task task[SLAB_TASKS];
};

/* A deque's circular buffer; replaced arrays are kept until pool_free. */
struct deque_array {
	struct deque_array *retired_next;
	long mask;
	_Atomic(struct pool_task *) slot[];
};

enum found {
	FOUND,
	EMPTY,
	RETRY, /* a queue is mid-update or contended: look again, do not park */
};

struct worker {
	/* Thieves write top; the owner writes bottom: separate lines. */
	_Alignas(CACHE_LINE) atomic_long top;
	_Alignas(CACHE_LINE) atomic_long bottom;
	_Atomic(struct deque_array *) array;
	/* Owner-only fields below. */
	struct deque_array *retired;
	struct pool_task *freed; /* task structs this worker ran, LIFO */
	struct pool_task *freed_tail;
	unsigned nfreed;
	struct pool_task *spare; /* a chain taken from the pool */
	uint64_t rng;            /* victim choice */
	struct pool *pool;
	unsigned index;
	pthread_t thread;
};

struct pool {
	struct worker *workers;
	unsigned nworkers;

	/* Injection queue: producers exchange `tail`; consumers hold inject_mtx
	 * and own `head`. */
	_Alignas(CACHE_LINE) _Atomic(struct pool_task *) tail;
	_Alignas(CACHE_LINE) pthread_mutex_t inject_mtx;
	struct pool_task *head;
	struct pool_task stub;

	/* Parking: see DESIGN above.  `done` is protected by park_mtx. */
	_Alignas(CACHE_LINE) pthread_mutex_t park_mtx;
	pthread_cond_t park_cond;
	atomic_uint sleepers;
	atomic_uint spinning; /* workers searching before they park */
	bool quiesced; /* shut down, and no external submit is in flight */
	bool done;
	bool gate_open;  /* workers wait for every thread to be created */
	bool gate_abort; /* ... and exit at once if that failed */

	/* Group waiters that block (see DESIGN). */
	pthread_mutex_t group_mtx;
	pthread_cond_t group_cond;
	atomic_uint group_waiters;

	/* External submits: the state check and the push happen under it. */
	_Alignas(CACHE_LINE) pthread_mutex_t submit_mtx;
	struct pool_task
	    *submit_cache; /* free task structs, under submit_mtx */
	atomic_int state;

	/* Task memory (see DESIGN). */
	_Alignas(CACHE_LINE) _Atomic(struct pool_task *) recycled;
	pthread_mutex_t slab_mtx;
	struct pool_slab *slabs;

	bool joined; /* set by the thread that shuts the pool down */
};

/* The worker this thread is, if any (used to route nested submissions). */
static _Thread_local struct worker *current_worker;

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* --- Chase-Lev deque ------------------------------------------------------
 *
 * top and bottom are accessed seq_cst where the algorithm needs the order
 * between a store to one and a load of the other (take vs steal on the last
 * element); slots are written with release and read with acquire, which is
 * what hands the task's contents from owner to thief. */

static struct deque_array *
deque_array_new(long size)
{
	struct deque_array *a;

	a = xmalloc(sizeof(*a) + (size_t)size * sizeof(a->slot[0]));
	a->retired_next = NULL;
	a->mask = size - 1;
	return a;
}

static struct deque_array *
deque_grow(struct worker *w, struct deque_array *old, long top, long bottom)
{
	struct deque_array *a;
	long i;

	a = deque_array_new((old->mask + 1) * 2);
	for (i = top; i < bottom; i++) {
		atomic_store_explicit(&a->slot[i & a->mask],
		    atomic_load_explicit(
		        &old->slot[i & old->mask], memory_order_relaxed),
		    memory_order_relaxed);
	}
	/* Thieves may still read the old array: keep it until pool_free. */
	old->retired_next = w->retired;
	w->retired = old;
	atomic_store_explicit(&w->array, a, memory_order_release);
	return a;
}

static void
deque_push(struct worker *w, struct pool_task *t)
{
	struct deque_array *a;
	long b, top;

	b = atomic_load_explicit(&w->bottom, memory_order_relaxed);
	top = atomic_load_explicit(&w->top, memory_order_acquire);
	a = atomic_load_explicit(&w->array, memory_order_relaxed);
	if (b - top > a->mask)
		a = deque_grow(w, a, top, b);
	atomic_store_explicit(&a->slot[b & a->mask], t, memory_order_release);
	atomic_store_explicit(&w->bottom, b + 1, memory_order_seq_cst);
}

static struct pool_task *
deque_take(struct worker *w)
{
	struct deque_array *a;
	struct pool_task *t;
	long b, top;

	b = atomic_load_explicit(&w->bottom, memory_order_relaxed) - 1;
	a = atomic_load_explicit(&w->array, memory_order_relaxed);
	atomic_store_explicit(&w->bottom, b, memory_order_seq_cst);
	top = atomic_load_explicit(&w->top, memory_order_seq_cst);
	if (top > b) {
		/* Empty. */
		atomic_store_explicit(&w->bottom, b + 1, memory_order_relaxed);
		return NULL;
	}
	t = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
	if (top == b) {
		/* The last element: race the thieves for it. */
		if (!atomic_compare_exchange_strong_explicit(&w->top, &top,
		        top + 1, memory_order_seq_cst, memory_order_relaxed))
			t = NULL;
		atomic_store_explicit(&w->bottom, b + 1, memory_order_relaxed);
	}
	return t;
}

static enum found
deque_steal(struct worker *victim, struct pool_task **out)
{
	struct deque_array *a;
	struct pool_task *t;
	long top, b;

	top = atomic_load_explicit(&victim->top, memory_order_seq_cst);
	b = atomic_load_explicit(&victim->bottom, memory_order_seq_cst);
	if (top >= b)
		return EMPTY;
	a = atomic_load_explicit(&victim->array, memory_order_acquire);
	t = atomic_load_explicit(&a->slot[top & a->mask], memory_order_acquire);
	if (!atomic_compare_exchange_strong_explicit(&victim->top, &top,
	        top + 1, memory_order_seq_cst, memory_order_relaxed))
		return RETRY;
	*out = t;
	return FOUND;
}

/* --- Injection queue ------------------------------------------------------
 *
 * An intrusive queue in which a push is one exchange of `tail` followed by
 * linking the previous tail to the new node.  Between the two, the queue
 * looks empty from the head although tail has moved: inject_pop() reports
 * RETRY then, never EMPTY, so no worker parks on a task being pushed. */

/*
 * Returns whether the queue looked empty (only the stub was in it): only
 * then must the pusher consider waking a worker.  If other tasks were
 * queued, the push that made the queue non-empty did that check, and
 * whoever it woke or was awake drains the queue before parking, or sees
 * our task in its last scan.
 */
static bool
inject_push(struct pool *p, struct pool_task *t)
{
	struct pool_task *prev;

	atomic_store_explicit(&t->next, NULL, memory_order_relaxed);
	prev = atomic_exchange_explicit(&p->tail, t, memory_order_seq_cst);
	atomic_store_explicit(&prev->next, t, memory_order_release);
	return prev == &p->stub;
}

/* Pop one task; the caller holds inject_mtx. */
static enum found
inject_pop(struct pool *p, struct pool_task **out)
{
	struct pool_task *head = p->head, *next;

	next = atomic_load_explicit(&head->next, memory_order_acquire);
	if (head == &p->stub) {
		if (next == NULL) {
			if (atomic_load_explicit(
			        &p->tail, memory_order_seq_cst) != head)
				return RETRY;
			return EMPTY;
		}
		p->head = head = next;
		next = atomic_load_explicit(&head->next, memory_order_acquire);
	}
	if (next == NULL) {
		/* head is the last node: put the stub behind it first. */
		if (atomic_load_explicit(&p->tail, memory_order_seq_cst) !=
		    head)
			return RETRY;
		inject_push(p, &p->stub);
		next = atomic_load_explicit(&head->next, memory_order_acquire);
		if (next == NULL)
			return RETRY;
	}
	p->head = next;
	*out = head;
	return FOUND;
}

/*
 * Take a batch from the injection queue: return the first task, push the
 * rest onto w's deque (in reverse, so w takes them in submission order).
 */
static enum found
inject_take(
    struct worker *w, bool wait_for_lock, struct pool_task **out, bool *surplus)
{
	struct pool *p = w->pool;
	struct pool_task *batch[INJECT_BATCH];
	enum found r = EMPTY;
	int n = 0;

	if (wait_for_lock)
		pthread_mutex_lock(&p->inject_mtx);
	else if (pthread_mutex_trylock(&p->inject_mtx) != 0)
		return RETRY;
	while (n < INJECT_BATCH && (r = inject_pop(p, &batch[n])) == FOUND)
		n++;
	pthread_mutex_unlock(&p->inject_mtx);
	if (n == 0)
		return r;
	*surplus = n > 1;
	while (n > 1)
		deque_push(w, batch[--n]);
	*out = batch[0];
	return FOUND;
}

/* --- Finding work ----------------------------------------------------------
 */

static uint64_t
worker_rand(struct worker *w)
{
	/* xorshift64: victim choice needs spread, not quality. */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static enum found
steal_any(struct worker *w, struct pool_task **out)
{
	struct pool *p = w->pool;
	enum found r, seen = EMPTY;
	unsigned i, start, v;

	if (p->nworkers < 2)
		return EMPTY;
	start = (unsigned)(worker_rand(w) % p->nworkers);
	for (i = 0; i < p->nworkers; i++) {
		v = (start + i) % p->nworkers;
		if (v == w->index)
			continue;
		r = deque_steal(&p->workers[v], out);
		if (r == FOUND)
			return FOUND;
		if (r == RETRY)
			seen = RETRY;
	}
	return seen;
}

/*
 * Look everywhere: own deque, injection queue, other deques.  exact: wait
 * for the injection lock rather than skip it (the last scan before parking
 * must not miss anything).  *surplus: a batch was moved to our deque, so
 * another worker could help.
 */
static enum found
find_work(struct worker *w, bool exact, struct pool_task **out, bool *surplus)
{
	enum found ri, rs;

	*surplus = false;
	if ((*out = deque_take(w)) != NULL)
		return FOUND;
	if ((ri = inject_take(w, exact, out, surplus)) == FOUND)
		return FOUND;
	if ((rs = steal_any(w, out)) == FOUND)
		return FOUND;
	return ri == RETRY || rs == RETRY ? RETRY : EMPTY;
}

/* --- Tasks -----------------------------------------------------------------
 */

static struct pool_task *
task_next(struct pool_task *t)
{
	return atomic_load_explicit(&t->next, memory_order_relaxed);
}

static void
task_set_next(struct pool_task *t, struct pool_task *next)
{
	atomic_store_explicit(&t->next, next, memory_order_relaxed);
}

/* A chain of free task structs: all of `recycled`, or a new slab. */
static struct pool_task *
task_chain(struct pool *p)
{
	struct pool_slab *slab;
	struct pool_task *chain;
	int i;

	/* Acquire: the structs were written by the workers that pushed them. */
	chain =
	    atomic_exchange_explicit(&p->recycled, NULL, memory_order_acquire);
	if (chain != NULL)
		return chain;
	slab = xmalloc(sizeof(*slab));
	for (i = 0; i < SLAB_TASKS; i++)
		task_set_next(&slab->task[i],
		    i + 1 < SLAB_TASKS ? &slab->task[i + 1] : NULL);
	pthread_mutex_lock(&p->slab_mtx);
	slab->next = p->slabs;
	p->slabs = slab;
	pthread_mutex_unlock(&p->slab_mtx);
	return &slab->task[0];
}

/* Take a struct from *list, refilling it first if empty. */
static struct pool_task *
task_take(struct pool *p, struct pool_task **list)
{
	struct pool_task *t;

	if (*list == NULL)
		*list = task_chain(p);
	t = *list;
	*list = task_next(t);
	return t;
}

/* A struct for a nested submit: the most recently freed one first. */
static struct pool_task *
task_new_nested(struct worker *w)
{
	struct pool_task *t;

	if ((t = w->freed) == NULL)
		return task_take(w->pool, &w->spare);
	w->freed = task_next(t);
	w->nfreed--;
	return t;
}

/* Return t to w's list; a long list goes to `recycled` whole. */
static void
task_release(struct worker *w, struct pool_task *t)
{
	struct pool *p = w->pool;
	struct pool_task *top;

	task_set_next(t, w->freed);
	if (w->freed == NULL)
		w->freed_tail = t;
	w->freed = t;
	if (++w->nfreed < TASK_CACHE_MAX)
		return;
	top = atomic_load_explicit(&p->recycled, memory_order_relaxed);
	do
		task_set_next(w->freed_tail, top);
	while (!atomic_compare_exchange_weak_explicit(&p->recycled, &top,
	    w->freed, memory_order_release, memory_order_relaxed));
	w->freed = w->freed_tail = NULL;
	w->nfreed = 0;
}

static void
group_done(struct pool *p, struct pool_group *g)
{
	if (atomic_fetch_sub_explicit(&g->pending, 1, memory_order_seq_cst) !=
	    1)
		return;
	/* g may be gone from here on: only the pool is touched. */
	if (atomic_load_explicit(&p->group_waiters, memory_order_seq_cst) > 0) {
		pthread_mutex_lock(&p->group_mtx);
		pthread_cond_broadcast(&p->group_cond);
		pthread_mutex_unlock(&p->group_mtx);
	}
}

/* Run t, or drop it if the pool is being cancelled. */
static void
task_run(struct worker *w, struct pool_task *t)
{
	struct pool *p = w->pool;
	struct pool_group *g = t->group;

	if (atomic_load_explicit(&p->state, memory_order_relaxed) ==
	    STATE_CANCEL) {
		if (t->free_fn != NULL)
			t->free_fn(t->arg);
	} else
		t->fn(t->arg);
	task_release(w, t);
	if (g != NULL)
		group_done(p, g);
}

/*
 * Wake one parked worker if there is one and no worker is spinning (a
 * spinner will find the work; see DESIGN for the ordering).
 */
static void
wake_one(struct pool *p)
{
	if (atomic_load_explicit(&p->sleepers, memory_order_seq_cst) == 0 ||
	    atomic_load_explicit(&p->spinning, memory_order_seq_cst) != 0)
		return;
	pthread_mutex_lock(&p->park_mtx);
	pthread_cond_signal(&p->park_cond);
	pthread_mutex_unlock(&p->park_mtx);
}

/* --- Workers ---------------------------------------------------------------
 */

/*
 * Park until there is work (FOUND, *out set), a queue needs another look
 * (RETRY), or the pool is finished (EMPTY).
 */
static enum found
worker_park(struct worker *w, struct pool_task **out)
{
	struct pool *p = w->pool;
	bool surplus;
	enum found r;

	pthread_mutex_lock(&p->park_mtx);
	atomic_fetch_add_explicit(&p->sleepers, 1, memory_order_seq_cst);
	for (;;) {
		if (p->done) {
			r = EMPTY;
			break;
		}
		if ((r = find_work(w, true, out, &surplus)) != EMPTY)
			break;
		if (p->quiesced && atomic_load_explicit(&p->sleepers,
		                       memory_order_seq_cst) == p->nworkers) {
			/* Everyone is parked and nothing is queued: finished.
			 */
			p->done = true;
			pthread_cond_broadcast(&p->park_cond);
			break;
		}
		pthread_cond_wait(&p->park_cond, &p->park_mtx);
	}
	atomic_fetch_sub_explicit(&p->sleepers, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&p->park_mtx);
	if (r == FOUND && surplus)
		wake_one(p);
	return r;
}

/*
 * Find work without parking: one scan, then, unless enough workers spin
 * already, SPIN_SCANS more.  Spinners are few because on a busy machine they
 * take CPU from the threads that produce work; a producer wakes a parked
 * worker only when nobody spins.
 */
static enum found
worker_search(struct worker *w, struct pool_task **out)
{
	struct pool *p = w->pool;
	unsigned max_spinning = (p->nworkers + 1) / 2;
	bool surplus;
	enum found r;
	int scans;

	if ((r = find_work(w, false, out, &surplus)) != FOUND) {
		if (atomic_load_explicit(&p->spinning, memory_order_relaxed) >=
		    max_spinning)
			return r;
		atomic_fetch_add_explicit(
		    &p->spinning, 1, memory_order_seq_cst);
		for (scans = 0; scans < SPIN_SCANS; scans++) {
			cpu_relax();
			if ((r = find_work(w, false, out, &surplus)) == FOUND)
				break;
		}
		/* Before parking re-scans (Dekker with wake_one's load). */
		atomic_fetch_sub_explicit(
		    &p->spinning, 1, memory_order_seq_cst);
	}
	if (r == FOUND && surplus)
		wake_one(p);
	return r;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	struct pool_task *t;
	enum found r;
	bool aborted;

	pthread_mutex_lock(&p->park_mtx);
	while (!p->gate_open)
		pthread_cond_wait(&p->park_cond, &p->park_mtx);
	aborted = p->gate_abort;
	pthread_mutex_unlock(&p->park_mtx);
	if (aborted)
		return NULL;

	current_worker = w;
	for (;;) {
		if ((r = worker_search(w, &t)) != FOUND &&
		    (r = worker_park(w, &t)) == EMPTY)
			break;
		if (r == FOUND)
			task_run(w, t);
	}
	current_worker = NULL;
	return NULL;
}

/* --- API -------------------------------------------------------------------
 */

struct pool *
pool_create(unsigned nthreads)
{
	struct pool *p;
	struct worker *w;
	long ncpu;
	unsigned i;
	sigset_t all, old;
	int error;

	if (nthreads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (nthreads > 4096) {
		errno = EINVAL;
		return NULL;
	}
	p = xaligned_alloc(CACHE_LINE, sizeof(*p));
	*p = (struct pool){.nworkers = nthreads};
	atomic_init(&p->tail, &p->stub);
	atomic_init(&p->stub.next, NULL);
	p->head = &p->stub;
	pthread_mutex_init(&p->inject_mtx, NULL);
	pthread_mutex_init(&p->submit_mtx, NULL);
	pthread_mutex_init(&p->slab_mtx, NULL);
	pthread_mutex_init(&p->park_mtx, NULL);
	pthread_cond_init(&p->park_cond, NULL);
	pthread_mutex_init(&p->group_mtx, NULL);
	pthread_cond_init(&p->group_cond, NULL);
	atomic_init(&p->state, STATE_RUNNING);

	p->workers = xaligned_alloc(CACHE_LINE, nthreads * sizeof(*w));
	for (i = 0; i < nthreads; i++) {
		w = &p->workers[i];
		*w = (struct worker){.pool = p, .index = i};
		atomic_init(&w->top, 0);
		atomic_init(&w->bottom, 0);
		atomic_init(&w->array, deque_array_new(DEQUE_INITIAL));
		w->rng = 0x9e3779b97f4a7c15ULL * (i + 1);
	}
	/*
	 * Signals are for the threads that expect them, not for workers:
	 * they start with every signal blocked (a new thread takes its
	 * creator's mask), so none can land on one before it runs.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		w = &p->workers[i];
		if ((error = pthread_create(
		         &w->thread, NULL, worker_main, w)) != 0)
			break;
#ifdef HAVE_PTHREAD_SETNAME_NP
		char name[16];
		snprintf(name, sizeof name, "jobd-pool-%u", i % 10000u);
		pthread_setname_np(w->thread, name);
#endif
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&p->park_mtx);
	p->gate_open = true;
	p->gate_abort = i < nthreads;
	pthread_cond_broadcast(&p->park_cond);
	pthread_mutex_unlock(&p->park_mtx);
	if (i < nthreads) {
		/* The started workers exit at the gate; nothing ran. */
		p->nworkers = i;
		for (; i < nthreads; i++)
			free(atomic_load_explicit(
			    &p->workers[i].array, memory_order_relaxed));
		pool_free(p);
		errno = error;
		return NULL;
	}
	return p;
}

static int
submit(struct pool *p, struct pool_group *g, pool_fn fn, pool_fn free_fn,
    void *arg)
{
	struct worker *w = current_worker;
	struct pool_task *t;
	bool was_empty;

	if (w != NULL && w->pool == p) {
		/* Nested: always accepted, even during shutdown. */
		t = task_new_nested(w);
		*t = (struct pool_task){
		    .fn = fn, .free_fn = free_fn, .arg = arg, .group = g};
		if (g != NULL)
			atomic_fetch_add_explicit(
			    &g->pending, 1, memory_order_relaxed);
		deque_push(w, t);
		wake_one(p);
		return 0;
	}

	pthread_mutex_lock(&p->submit_mtx);
	if (atomic_load_explicit(&p->state, memory_order_relaxed) !=
	    STATE_RUNNING) {
		pthread_mutex_unlock(&p->submit_mtx);
		errno = ECANCELED;
		return -1;
	}
	t = task_take(p, &p->submit_cache);
	*t = (struct pool_task){
	    .fn = fn, .free_fn = free_fn, .arg = arg, .group = g};
	if (g != NULL)
		atomic_fetch_add_explicit(&g->pending, 1, memory_order_relaxed);
	was_empty = inject_push(p, t);
	pthread_mutex_unlock(&p->submit_mtx);
	if (was_empty)
		wake_one(p);
	return 0;
}

int
pool_submit(struct pool *p, pool_fn fn, pool_fn free_fn, void *arg)
{
	return submit(p, NULL, fn, free_fn, arg);
}

void
pool_group_init(struct pool_group *g)
{
	atomic_init(&g->pending, 0);
}

int
pool_group_submit(struct pool *p, struct pool_group *g, pool_fn fn,
    pool_fn free_fn, void *arg)
{
	return submit(p, g, fn, free_fn, arg);
}

static bool
group_finished(struct pool_group *g)
{
	return atomic_load_explicit(&g->pending, memory_order_acquire) == 0;
}

static void
group_block(struct pool *p, struct pool_group *g)
{
	atomic_fetch_add_explicit(&p->group_waiters, 1, memory_order_seq_cst);
	pthread_mutex_lock(&p->group_mtx);
	while (atomic_load_explicit(&g->pending, memory_order_seq_cst) != 0)
		pthread_cond_wait(&p->group_cond, &p->group_mtx);
	pthread_mutex_unlock(&p->group_mtx);
	atomic_fetch_sub_explicit(&p->group_waiters, 1, memory_order_relaxed);
}

void
pool_group_wait(struct pool *p, struct pool_group *g)
{
	struct worker *w = current_worker;
	struct pool_task *t;
	int scans = 0;

	if (w == NULL || w->pool != p) {
		group_block(p, g);
		return;
	}
	/* Help: the group's tasks are most likely at the bottom of our own
	 * deque.  The injection queue is left alone, so a wait is not
	 * stretched by unrelated work. */
	while (!group_finished(g)) {
		if ((t = deque_take(w)) != NULL || steal_any(w, &t) == FOUND) {
			task_run(w, t);
			scans = 0;
		} else if (++scans < HELP_SCANS)
			cpu_relax();
		else {
			/* What is left runs elsewhere. */
			group_block(p, g);
			break;
		}
	}
	/* Pairs with the release in group_done's decrement. */
	atomic_thread_fence(memory_order_acquire);
}

void
pool_shutdown(struct pool *p, enum pool_shutdown_mode mode)
{
	unsigned i;
	int expected = STATE_RUNNING;

	if (current_worker != NULL && current_worker->pool == p)
		fatalx("pool_shutdown called from one of the pool's tasks");
	if (p->joined)
		return;
	/* No external submit is mid-push once we hold submit_mtx. */
	pthread_mutex_lock(&p->submit_mtx);
	atomic_compare_exchange_strong_explicit(&p->state, &expected,
	    mode == POOL_CANCEL ? STATE_CANCEL : STATE_DRAIN,
	    memory_order_seq_cst, memory_order_seq_cst);
	pthread_mutex_unlock(&p->submit_mtx);
	pthread_mutex_lock(&p->park_mtx);
	p->quiesced = true;
	pthread_cond_broadcast(&p->park_cond);
	pthread_mutex_unlock(&p->park_mtx);
	for (i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i].thread, NULL);
	p->joined = true;
}

void
pool_free(struct pool *p)
{
	struct deque_array *a, *next;
	struct pool_slab *slab;
	struct worker *w;
	unsigned i;

	if (p == NULL)
		return;
	pool_shutdown(p, POOL_DRAIN);
	while ((slab = p->slabs) != NULL) {
		p->slabs = slab->next;
		free(slab);
	}
	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		for (a = w->retired; a != NULL; a = next) {
			next = a->retired_next;
			free(a);
		}
		free(atomic_load_explicit(&w->array, memory_order_relaxed));
	}
	pthread_mutex_destroy(&p->inject_mtx);
	pthread_mutex_destroy(&p->submit_mtx);
	pthread_mutex_destroy(&p->slab_mtx);
	pthread_mutex_destroy(&p->park_mtx);
	pthread_cond_destroy(&p->park_cond);
	pthread_mutex_destroy(&p->group_mtx);
	pthread_cond_destroy(&p->group_cond);
	free(p->workers);
	free(p);
}

unsigned
pool_size(const struct pool *p)
{
	return p->nworkers;
}

unsigned
pool_parked(const struct pool *p)
{
	return atomic_load_explicit(&p->sleepers, memory_order_relaxed);
}

int
pool_worker_index(const struct pool *p)
{
	struct worker *w = current_worker;

	return w != NULL && w->pool == p ? (int)w->index : -1;
}
