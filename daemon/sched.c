/*
 * sched: job table, run queue, attempts, retries, retention (see sched.h).
 *
 * The job table is an open-addressing hash from id to job with linear
 * probing and backward-shift deletion (no tombstones, so lookups stay short
 * however many jobs come and go).  The run queue is FIFO.  `pumping` keeps
 * sched_pump() from recursing: an attempt that ends while jobs are being
 * started (a spawn failure, say) only asks for another round.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "counters.h"
#include "exec.h"
#include "follow.h"
#include "ident.h"
#include "jobd.h"
#include "kinds.h"
#include "log.h"
#include "persist.h"
#include "proto.h"
#include "queue.h"
#include "sched.h"
#include "store.h"
#include "xmalloc.h"

#define PRUNE_INTERVAL_MS 60000
/* Finished jobs dropped per pass; more wait for the next pass. */
#define PRUNE_BATCH 1000
/* A drain sees retries due within this through; later ones stay. */
#define DRAIN_RETRY_HORIZON_MS 60000
/* In job->opts->deps during a submit: the index of a job of the batch. */
#define DEP_REF ((uint64_t)1 << 63)

static struct {
	struct job **table; /* open addressing, NULL = empty */
	size_t mask;
	size_t njobs;
	uint64_t next_id;

	TAILQ_HEAD(, job) finished; /* oldest first */
	size_t nqueued;             /* queued + delayed */
	size_t nfinished;
	size_t nrunning;

	bool pumping, pump_again;
	bool stopping;
	void (*stopped)(void);
	struct event *grace_timer;
	struct event *prune_timer;
	json_t *keys; /* unique key -> id of its latest job */
	struct event
	    *prune_now; /* retention by count, after the current event */
	sched_event_fn event_hook;
	uint64_t rng;
	uint64_t prune_min_ms; /* a pass by age left some for later */

	struct job **resolve; /* finished jobs whose dependents to tell */
	size_t resolve_len, resolve_cap;
	bool resolving;

	/* The store (durability not off). */
	uint64_t *dirty; /* ids of jobs changed this round */
	size_t ndirty, dirty_cap;
	uint64_t stored_next_id; /* next_id as the store has it */
	/* Names this jobd's jobs (JOBD_INSTANCE): random, kept in the store. */
	char instance[33];
	struct spawn {
		uint64_t id;
		uint64_t seq;     /* spawned once this batch is committed */
		uint32_t attempt; /* ...if still on this attempt */
	} * spawns;               /* FIFO, seq ascending */
	size_t spawn_head, spawn_len, spawn_cap;
} S;

/* --- Job table ------------------------------------------------------------ */

static size_t
slot_of(uint64_t id)
{
	/* Fibonacci hashing spreads sequential ids. */
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 20) & S.mask;
}

static void table_insert(struct job *job);
static void key_forget(struct job *job);

static void
table_grow(void)
{
	struct job **old = S.table;
	size_t i, oldsize = S.mask + 1;

	S.mask = oldsize * 2 - 1;
	S.table = xcalloc(S.mask + 1, sizeof(*S.table));
	S.njobs = 0;
	for (i = 0; i < oldsize; i++) {
		if (old[i] != NULL)
			table_insert(old[i]);
	}
	free(old);
}

static void
table_insert(struct job *job)
{
	size_t i;

	if ((S.njobs + 1) * 2 > S.mask + 1)
		table_grow();
	for (i = slot_of(job->id); S.table[i] != NULL; i = (i + 1) & S.mask)
		;
	S.table[i] = job;
	S.njobs++;
}

struct job *
sched_find(uint64_t id)
{
	size_t i;

	for (i = slot_of(id); S.table[i] != NULL; i = (i + 1) & S.mask) {
		if (S.table[i]->id == id)
			return S.table[i];
	}
	return NULL;
}

static void
table_remove(struct job *job)
{
	size_t i, j, home;

	for (i = slot_of(job->id); S.table[i] != job; i = (i + 1) & S.mask)
		;
	/* Backward shift: move later entries of the run into the hole when
	 * their home slot is not between the hole and their position. */
	for (j = (i + 1) & S.mask; S.table[j] != NULL; j = (j + 1) & S.mask) {
		home = slot_of(S.table[j]->id);
		if (((j - home) & S.mask) >= ((j - i) & S.mask)) {
			S.table[i] = S.table[j];
			i = j;
		}
	}
	S.table[i] = NULL;
	S.njobs--;
	key_forget(job);
	if (store_enabled())
		persist_delete(job->id);
}

/* --- Events and counters -------------------------------------------------- */

/* job changed: its state goes to the store at the end of this round. */
static void
mark_dirty(struct job *job)
{
	if (!store_enabled() || job->dirty)
		return;
	job->dirty = true;
	if (S.ndirty == S.dirty_cap) {
		S.dirty_cap = S.dirty_cap != 0 ? 2 * S.dirty_cap : 256;
		S.dirty = xreallocarray(S.dirty, S.dirty_cap, sizeof(*S.dirty));
	}
	S.dirty[S.ndirty++] = job->id;
	/* A batch to write it in, and a flush. */
	job->store_seq = store_barrier();
}

static void
announce(struct job *job, const char *event)
{
	mark_dirty(job);
	/* A line per event only when asked: under load they would flood. */
	log_msg(jobd.cfg.log_jobs ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
	    "job %llu (%s, queue %s, uid %u): %s, now %s",
	    (unsigned long long)job->id, job_kind_name(job),
	    queue_name(job->queue), (unsigned)job->owner, event,
	    job_state_name(job->state));
	if (S.event_hook != NULL)
		S.event_hook(job, event);
}

static uint64_t
random64(void)
{
	S.rng ^= S.rng << 13;
	S.rng ^= S.rng >> 7;
	S.rng ^= S.rng << 17;
	return S.rng;
}

static void
timer_free(struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
}

/* --- Queue and start -------------------------------------------------------
 */

static void sched_pump(void);
static void finish(struct job *job, enum job_state state);
static void hold(struct job *job, uint64_t delay_ms);
static void hold_until(struct job *job, uint64_t due_ms, uint64_t now);
static void expire(struct job *job);
static void expiry_due(evutil_socket_t fd, short what, void *arg);
static void expiry_disarm(struct job *job);

/* A waiting job leaves the waiting state (released or ended). */
static void
unwait(struct job *job)
{
	queue_note_waiting(job->queue, -1);
	gauge_add(jobd.stats, GAUGE_jobs_waiting, -1);
}

static void
enqueue(struct job *job)
{
	job->state = JOB_QUEUED;
	job->queued_us = mono_us();
	queue_push(job->queue, job);
	gauge_add(jobd.stats, GAUGE_jobs_queued, 1);
	announce(job, "queued");
}

static void
exec_finished(const struct exec_result *res, void *arg)
{
	static const enum attempt_outcome outcome_of[] = {
	    [EXEC_EXITED] = OUTCOME_FAILED,
	    [EXEC_SIGNALED] = OUTCOME_SIGNALED,
	    [EXEC_TIMED_OUT] = OUTCOME_TIMED_OUT,
	    [EXEC_CANCELLED] = OUTCOME_CANCELLED,
	    [EXEC_INTERRUPTED] = OUTCOME_INTERRUPTED,
	    [EXEC_SPAWN_FAILED] = OUTCOME_SPAWN_FAILED,
	};
	struct job *job = arg;
	enum attempt_outcome outcome = outcome_of[res->outcome];

	if (res->outcome == EXEC_SPAWN_FAILED) {
		/* A forked child that could not become the job. */
		job_run_mut(job)->proc = NULL;
		log_info(
		    "job %llu: %s", (unsigned long long)job->id, res->error);
		sched_attempt_end(job, OUTCOME_SPAWN_FAILED,
		    res->spawn_errno == ENOENT ? 127 : 126, 0, res->error);
		return;
	}
	if (res->outcome == EXEC_EXITED && res->exit_code == 0)
		outcome = OUTCOME_SUCCEEDED;
	job_run_mut(job)->proc = NULL;
	buf_set(&job_run_mut(job)->out, res->out, res->out_len, res->out_total,
	    res->out_truncated);
	buf_set(&job_run_mut(job)->err, res->err, res->err_len, res->err_total,
	    res->err_truncated);
	job->out_dirty = true;
	sched_attempt_end(job, outcome,
	    res->outcome == EXEC_EXITED ? res->exit_code : -1, res->signal,
	    NULL);
}

/* Does the environment set name? */
static bool
env_has(char *const *envp, const char *name)
{
	size_t len = strlen(name), i;

	for (i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			return true;
	}
	return false;
}

static void
start_exec(struct job *job)
{
	const struct job_exec *ex = job->spec.exec;
	struct exec_spec spec;
	struct exec_creds creds;
	const char *user, *home;
	char err[512], **envp;
	size_t n = 0, i, extra;

	if (ident_job_user(job->owner,
	        job->queue_user_ok ? queue_run_as(job->queue) : -1, &creds,
	        &user, &home, err, sizeof err) != 0) {
		log_info("job %llu: %s", (unsigned long long)job->id, err);
		sched_attempt_end(job, OUTCOME_SPAWN_FAILED, 126, 0, err);
		return;
	}
	while (ex->envp[n] != NULL)
		n++;
	envp = xcalloc(n + 7, sizeof(char *));
	/* jobd's own names are jobd's to give: a spec's are left out (they
	 * would hide these from the job, and from recovery's search). */
	for (i = 0, extra = 0; i < n; i++) {
		if (strncmp(ex->envp[i], "JOBD_JOB_ID=", 12) != 0 &&
		    strncmp(ex->envp[i], "JOBD_ATTEMPT=", 13) != 0 &&
		    strncmp(ex->envp[i], "JOBD_INSTANCE=", 14) != 0)
			envp[extra++] = ex->envp[i];
	}
	n = extra; /* the spec's, borrowed; jobd's own follow */
	xasprintf(&envp[extra++], "JOBD_INSTANCE=%s", S.instance);
	xasprintf(
	    &envp[extra++], "JOBD_JOB_ID=%llu", (unsigned long long)job->id);
	xasprintf(
	    &envp[extra++], "JOBD_ATTEMPT=%u", job_run_mut(job)->nattempts);
	/* Who the job runs as, unless it says otherwise. */
	if (user != NULL && !env_has(ex->envp, "USER"))
		xasprintf(&envp[extra++], "USER=%s", user);
	if (user != NULL && !env_has(ex->envp, "LOGNAME"))
		xasprintf(&envp[extra++], "LOGNAME=%s", user);
	if (home != NULL && !env_has(ex->envp, "HOME"))
		xasprintf(&envp[extra++], "HOME=%s", home);
	spec = (struct exec_spec){
	    .argv = job->spec.exec->argv,
	    .envp = envp,
	    .cwd = job->spec.exec->cwd,
	    .stdin_data = job->spec.exec->stdin_data,
	    .stdin_len = job->spec.exec->stdin_len,
	    .output_cap =
	        ex->output_cap != 0 ? ex->output_cap : jobd.cfg.output_cap,
	    .timeout_ms = job->timeout_ms,
	    .kill_grace_ms = job->spec.exec->kill_grace_ms,
	    .creds = creds,
	    .nofile_soft = jobd.cfg.nofile_soft,
	};
	for (i = 0; i < EXEC_RLIMIT_N; i++)
		spec.rlimit[i] =
		    ex->limit[i] != 0 ? ex->limit[i] : jobd.cfg.job_limit[i];
	buf_clear(&job_run_mut(job)->out);
	buf_clear(&job_run_mut(job)->err);
	/* Output is tapped only for a job that has followers. */
	job_run_mut(job)->proc = exec_start(jobd.base, &spec, exec_finished,
	    job_run_mut(job)->follow != NULL ? follow_output : NULL, job, err,
	    sizeof err);
	for (i = n; i < extra; i++)
		free(envp[i]);
	free(envp);
	if (job_run_mut(job)->proc == NULL) {
		log_info("job %llu: %s", (unsigned long long)job->id, err);
		sched_attempt_end(job, OUTCOME_SPAWN_FAILED,
		    errno == ENOENT ? 127 : 126, 0, err);
	} else
		mark_dirty(job); /* its process group, to find after a crash */
}

/*
 * With a store, an exec attempt is committed before its process exists:
 * jobd may die at any moment after the spawn, and the attempt must be
 * on disk by then.  The spawn waits for the batch that records it.
 */
static void
spawn_after_commit(struct job *job)
{
	struct spawn *sp;

	if (S.spawn_len == S.spawn_cap && S.spawn_head > 0) {
		/* Compact first: the head part has been consumed. */
		memmove(S.spawns, S.spawns + S.spawn_head,
		    (S.spawn_len - S.spawn_head) * sizeof(*S.spawns));
		S.spawn_len -= S.spawn_head;
		S.spawn_head = 0;
	}
	if (S.spawn_len == S.spawn_cap) {
		S.spawn_cap = S.spawn_cap != 0 ? 2 * S.spawn_cap : 64;
		S.spawns =
		    xreallocarray(S.spawns, S.spawn_cap, sizeof(*S.spawns));
	}
	sp = &S.spawns[S.spawn_len++];
	sp->id = job->id;
	sp->seq = store_barrier();
	sp->attempt = job->run->nattempts;
}

static void
start(struct job *job)
{
	uint64_t now = now_ms();

	S.nqueued--;
	expiry_disarm(job); /* started: it can no longer expire */
	queue_note_running(job->queue, 1);
	gauge_add(jobd.stats, GAUGE_jobs_queued, -1);
	job->state = JOB_RUNNING;
	job_run_mut(job)->stopping = false;
	atomic_store(&job_run_mut(job)->cancel, 0);
	S.nrunning++;
	gauge_add(jobd.stats, GAUGE_jobs_running, 1);
	counter_add(jobd.stats, COUNTER_jobs_started, 1);
	job_run_mut(job)->started_us = mono_us();
	hist_record(jobd.stats, HIST_queue_wait_us,
	    job_run_mut(job)->started_us - job->queued_us);
	job_attempt_begin(job, now);
	announce(job, "started");
	if (job->kind == KIND_EXEC && store_enabled())
		spawn_after_commit(job);
	else if (job->kind == KIND_EXEC)
		start_exec(job);
	else
		kinds_start(job);
}

static void
sched_pump(void)
{
	if (S.pumping) {
		S.pump_again = true;
		return;
	}
	struct queue *q;
	struct job *job;

	S.pumping = true;
	do {
		S.pump_again = false;
		while (!S.stopping && S.nrunning < jobd.cfg.max_running &&
		       (q = queue_next_runnable()) != NULL) {
			job = queue_pop(q);
			/* Its expiry timer may not have fired yet. */
			if (job->opts->expires_ms != 0 &&
			    job->run->nattempts == 0 &&
			    now_ms() >= job->opts->expires_ms) {
				queue_push(q, job); /* expire() removes it */
				expire(job);
			} else
				start(job);
		}
	} while (S.pump_again);
	S.pumping = false;
}

/* Started or ended: its expiry no longer applies. */
static void
expiry_disarm(struct job *job)
{
	if (job->opts->expire_timer != NULL)
		timer_free(&job_opts_mut(job)->expire_timer);
}

static void
arm_expiry(struct job *job, uint64_t now)
{
	uint64_t ms =
	    job->opts->expires_ms > now ? job->opts->expires_ms - now : 0;
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	job_opts_mut(job)->expire_timer =
	    evtimer_new(jobd.base, expiry_due, job);
	evtimer_add(job->opts->expire_timer, &tv);
}

/*
 * Unique keys: a jansson object serves as the string hash map from a key
 * to the id of the latest job submitted with it.  Each user has keys of
 * their own: the map's key is "UID:KEY".
 */
#define KEY_SLOT_MAX (JOB_KEY_MAX + 16)

static const char *
key_slot(const struct job *job, char *buf)
{
	snprintf(
	    buf, KEY_SLOT_MAX, "%u:%s", (unsigned)job->owner, job->opts->key);
	return buf;
}

static struct job *
key_match(const struct job *job)
{
	char slot[KEY_SLOT_MAX];
	struct job *old;
	json_t *id;

	if ((id = json_object_get(S.keys, key_slot(job, slot))) == NULL ||
	    (old = sched_find((uint64_t)json_integer_value(id))) == NULL)
		return NULL;
	return !job_finished(old) || job->opts->key_any ? old : NULL;
}

static void
key_forget(struct job *job)
{
	char slot[KEY_SLOT_MAX];
	json_t *id;

	if (job->opts->key != NULL &&
	    (id = json_object_get(S.keys, key_slot(job, slot))) != NULL &&
	    (uint64_t)json_integer_value(id) == job->id)
		json_object_del(S.keys, slot);
}

static int submit_fail(struct submit_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
submit_fail(struct submit_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
where(bool single, size_t i, char *buf, size_t len)
{
	if (single)
		snprintf(buf, len, "job");
	else
		snprintf(buf, len, "jobs[%zu]", i);
	return buf;
}

/*
 * Check every dependency of a batch before accepting any of it: ids must
 * name known jobs, refs jobs of the batch, and the refs must not form a
 * cycle (Kahn's algorithm: whatever cannot be ordered is on a cycle).
 * On success each ref is recorded in deps[] as DEP_REF | index, to be
 * replaced by * the id that job gets.
 */
static int
check_deps(struct job **jobs, size_t n, struct submit_error *e)
{
	size_t i, j, k, head = 0, tail = 0, nedges = 0;
	size_t *indeg, *order, *first, *users;
	json_t *refs = NULL, *v;
	struct job *dep;
	uint32_t d;
	char w[32];
	int rc = 0;

	/* The refs of the batch: name -> index (a jansson object as a map). */
	for (i = 0; i < n; i++) {
		if (jobs[i]->opts->ref == NULL)
			continue;
		if (refs == NULL)
			refs = json_object();
		if (json_object_get(refs, jobs[i]->opts->ref) != NULL) {
			rc = submit_fail(e, PROTO_E_BAD_REQUEST,
			    "%s.ref: \"%.64s\" names another job of this "
			    "submit too",
			    where(e->single, i, w, sizeof w),
			    jobs[i]->opts->ref);
			goto out;
		}
		json_object_set_new(
		    refs, jobs[i]->opts->ref, json_integer((json_int_t)i));
	}
	for (i = 0; i < n; i++) {
		for (d = 0; d < jobs[i]->opts->ndeps; d++) {
			if (jobs[i]->opts->dep_refs != NULL &&
			    jobs[i]->opts->dep_refs[d] != NULL) {
				v = json_object_get(
				    refs, jobs[i]->opts->dep_refs[d]);
				if (v == NULL) {
					rc = submit_fail(e, PROTO_E_BAD_REQUEST,
					    "%s.depends_on[%u]: no job of this "
					    "submit has ref \"%.64s\"",
					    where(e->single, i, w, sizeof w), d,
					    jobs[i]->opts->dep_refs[d]);
					goto out;
				}
				job_opts_mut(jobs[i])->deps[d] =
				    DEP_REF | (uint64_t)json_integer_value(v);
			} else if ((dep = sched_find(jobs[i]->opts->deps[d])) ==
			           NULL) {
				rc = submit_fail(e, PROTO_E_NOT_FOUND,
				    "%s.depends_on[%u]: %s job %llu",
				    where(e->single, i, w, sizeof w), d,
				    jobs[i]->opts->deps[d] < S.next_id
				        ? "no longer kept:"
				        : "no such",
				    (unsigned long long)jobs[i]->opts->deps[d]);
				goto out;
			} else if (!ident_may(e->who, dep->owner)) {
				rc = submit_fail(e, PROTO_E_FORBIDDEN,
				    "%s.depends_on[%u]: job %llu belongs to "
				    "another user",
				    where(e->single, i, w, sizeof w), d,
				    (unsigned long long)dep->id);
				goto out;
			}
		}
	}
	json_decref(refs);
	refs = NULL;
	for (i = 0; i < n; i++) {
		for (d = 0; d < jobs[i]->opts->ndeps; d++)
			nedges += (jobs[i]->opts->deps[d] & DEP_REF) != 0;
	}
	if (nedges == 0)
		return 0; /* no refs: no cycle */
	/*
	 * indeg[i]: refs of job i to jobs of the batch not yet ordered;
	 * users[first[k] .. first[k + 1]): the jobs whose refs name job k.
	 */
	indeg = xcalloc(n, sizeof(*indeg));
	order = xcalloc(n, sizeof(*order));
	first = xcalloc(n + 1, sizeof(*first));
	users = xcalloc(nedges, sizeof(*users));
	for (i = 0; i < n; i++) {
		for (d = 0; d < jobs[i]->opts->ndeps; d++) {
			if (jobs[i]->opts->deps[d] & DEP_REF) {
				indeg[i]++;
				first[(jobs[i]->opts->deps[d] & ~DEP_REF) +
				      1]++;
			}
		}
	}
	for (k = 0; k < n; k++) {
		first[k + 1] += first[k];
		order[k] = first[k]; /* for now: where k's next user goes */
	}
	for (i = 0; i < n; i++) {
		for (d = 0; d < jobs[i]->opts->ndeps; d++) {
			if (jobs[i]->opts->deps[d] & DEP_REF) {
				k = jobs[i]->opts->deps[d] & ~DEP_REF;
				users[order[k]++] = i;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (indeg[i] == 0)
			order[tail++] = i;
	}
	while (head < tail) {
		k = order[head++];
		for (j = first[k]; j < first[k + 1]; j++) {
			if (--indeg[users[j]] == 0)
				order[tail++] = users[j];
		}
	}
	if (tail < n) {
		/* Walk back along unordered refs: after n steps the walk is
		 * on a cycle, whichever unordered job it started from. */
		for (j = 0; indeg[j] == 0; j++)
			;
		for (head = 0; head < n; head++) {
			for (d = 0; d < jobs[j]->opts->ndeps; d++) {
				k = jobs[j]->opts->deps[d] & ~DEP_REF;
				if ((jobs[j]->opts->deps[d] & DEP_REF) &&
				    indeg[k] > 0)
					break;
			}
			j = k;
		}
		rc = submit_fail(e, PROTO_E_BAD_REQUEST,
		    "%s: dependency cycle through ref \"%.64s\"",
		    where(e->single, j, w, sizeof w), jobs[j]->opts->ref);
	}
	free(indeg);
	free(order);
	free(first);
	free(users);
out:
	json_decref(refs);
	return rc;
}

/* Dependencies met (or none): wait out run_at, or join the queue. */
static void
release(struct job *job, uint64_t now)
{
	if (job->opts->run_at_ms > now) {
		hold_until(job, job->opts->run_at_ms, now);
		announce(job, "delayed");
	} else
		enqueue(job);
}

/* job waits for dep: dep tells it when it ends. */
static void
wait_on(struct job *job, struct job *dep)
{
	struct job_opts *dop = job_opts_mut(dep);

	if (dop->ndependents == dop->dependents_cap) {
		dop->dependents_cap = dop->dependents_cap * 2 + 2;
		dop->dependents = xreallocarray(dop->dependents,
		    dop->dependents_cap, sizeof(*dop->dependents));
	}
	dop->dependents[dop->ndependents++] = job->id;
	job_opts_mut(job)->deps_pending++;
}

/*
 * Wire a new job to its dependencies.  A dependency that already ended
 * counts at once; the others learn of the job through their dependents.
 * Returns false if a dependency already failed the job.
 */
static bool
link_deps(struct job *job, struct job **jobs)
{
	struct job *dep;
	uint32_t d;

	/* Every ref becomes an id first, whatever happens below. */
	for (d = 0; d < job->opts->ndeps; d++) {
		if (job->opts->deps[d] & DEP_REF)
			job_opts_mut(job)->deps[d] =
			    jobs[job->opts->deps[d] & ~DEP_REF]->id;
	}
	for (d = 0; d < job->opts->ndeps; d++) {
		dep = sched_find(job->opts->deps[d]);
		if (job_finished(dep)) {
			if (!job->opts->after_any &&
			    dep->state != JOB_SUCCEEDED)
				return false;
			continue;
		}
		wait_on(job, dep);
	}
	return true;
}

int
sched_submit(struct job **jobs, const json_t *const *specs, size_t n,
    bool *duplicate, struct submit_error *e)
{
	struct job *old;
	uint64_t now = now_ms();
	size_t i;
	char w[32];
	char slot[KEY_SLOT_MAX];
	int rc = 0;

	if (S.nqueued + n > jobd.cfg.max_queued)
		return submit_fail(e, PROTO_E_QUEUE_FULL,
		    "%zu job(s) queued already; the limit is %zu", S.nqueued,
		    jobd.cfg.max_queued);
	for (i = 0; i < n; i++) {
		queue_reserve(jobs[i]->queue, 1);
	}
	for (i = 0; i < n && rc == 0; i++) {
		struct queue *q = jobs[i]->queue;

		if (queue_draining(q))
			rc = submit_fail(e, PROTO_E_QUEUE_DRAINING,
			    "queue %s is draining: it takes no new jobs until "
			    "it is resumed",
			    queue_name(q));
		else if (queue_over_length(q))
			rc = submit_fail(e, PROTO_E_QUEUE_FULL,
			    "%s: queue %s holds %zu job(s); its max_length is "
			    "%zu",
			    where(e->single, i, w, sizeof w), queue_name(q),
			    queue_size(q), queue_max_length(q));
	}
	for (i = 0; i < n; i++)
		queue_reserve(jobs[i]->queue, -1);
	if (rc != 0 || check_deps(jobs, n, e) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		duplicate[i] = false;
		if (jobs[i]->opts->key != NULL &&
		    (old = key_match(jobs[i])) != NULL) {
			/* The job with this key stands for this one. */
			job_free(jobs[i]);
			jobs[i] = old;
			duplicate[i] = true;
			counter_add(jobd.stats, COUNTER_jobs_deduplicated, 1);
			continue;
		}
		queue_note_submit(jobs[i]->queue);
		queue_apply_defaults(jobs[i]->queue, jobs[i]);
		jobs[i]->id = S.next_id++;
		if (jobs[i]->opts->key != NULL)
			json_object_set_new(S.keys, key_slot(jobs[i], slot),
			    json_integer((json_int_t)jobs[i]->id));
		jobs[i]->submitted_ms = now;
		jobs[i]->state = JOB_WAITING;
		table_insert(jobs[i]);
		S.nqueued++;
		counter_add(jobd.stats, COUNTER_jobs_submitted, 1);
		if (jobs[i]->opts->expires_ms != 0)
			arm_expiry(jobs[i], now);
		if (jobs[i]->opts->delay_ms != 0)
			job_opts_mut(jobs[i])->run_at_ms =
			    now + jobs[i]->opts->delay_ms;
	}
	/* Ids are known now: resolve refs and place each new job. */
	for (i = 0; i < n; i++) {
		if (duplicate[i])
			continue;
		if (!link_deps(jobs[i], jobs)) {
			S.nqueued--;
			finish(jobs[i], JOB_DEPENDENCY_FAILED);
		} else if (jobs[i]->opts->deps_pending > 0) {
			queue_note_waiting(jobs[i]->queue, 1);
			gauge_add(jobd.stats, GAUGE_jobs_waiting, 1);
			announce(jobs[i], "waiting");
		} else if (jobs[i]->state == JOB_WAITING)
			release(jobs[i], now);
	}
	for (i = 0; i < n; i++) {
		/* The spec goes with the state marked above: same batch. */
		if (!duplicate[i] && store_enabled())
			persist_put_spec(jobs[i], specs[i]);
		job_forget_refs(jobs[i]);
	}
	sched_pump();
	return 0;
}

/* --- Dependents --------------------------------------------------------------
 */

/*
 * Tell the jobs waiting for job that it ended: each is released when its
 * last dependency ends, or ends dependency_failed when it needed this one
 * to succeed.  Failure cascades through a work list, not recursion, so a
 * long chain cannot exhaust the stack.
 */
static void
resolve_dependents(struct job *job)
{
	struct job *dep, *waiter;
	struct job_opts *dop;
	uint64_t now;
	uint32_t i;

	if (job->opts->ndependents == 0)
		return;
	if (S.resolve_len == S.resolve_cap) {
		S.resolve_cap = S.resolve_cap * 2 + 16;
		S.resolve =
		    xreallocarray(S.resolve, S.resolve_cap, sizeof(*S.resolve));
	}
	S.resolve[S.resolve_len++] = job;
	if (S.resolving)
		return;
	S.resolving = true;
	now = now_ms();
	while (S.resolve_len > 0) {
		dep = S.resolve[--S.resolve_len];
		for (i = 0; i < dep->opts->ndependents; i++) {
			waiter = sched_find(dep->opts->dependents[i]);
			/* Gone or ended (cancelled, expired) meanwhile. */
			if (waiter == NULL || waiter->state != JOB_WAITING)
				continue;
			if (!waiter->opts->after_any &&
			    dep->state != JOB_SUCCEEDED) {
				unwait(waiter);
				S.nqueued--;
				finish(waiter, JOB_DEPENDENCY_FAILED);
			} else if (--job_opts_mut(waiter)->deps_pending == 0) {
				unwait(waiter);
				release(waiter, now);
			}
		}
		dop = job_opts_mut(dep);
		free(dop->dependents);
		dop->dependents = NULL;
		dop->ndependents = dop->dependents_cap = 0;
	}
	S.resolving = false;
}

/* --- Ending attempts -------------------------------------------------------
 */

static void prune(size_t max_count, uint64_t min_finished_ms);
static void resolve_dependents(struct job *job);

static void
finish(struct job *job, enum job_state state)
{
	job->state = state;
	job->finished_ms = now_ms();
	expiry_disarm(job);
	queue_note_finish(job->queue, state);
	TAILQ_INSERT_TAIL(&S.finished, job, u.finished_link);
	S.nfinished++;
	switch (state) {
	case JOB_SUCCEEDED:
		counter_add(jobd.stats, COUNTER_jobs_succeeded, 1);
		break;
	case JOB_FAILED:
		counter_add(jobd.stats, COUNTER_jobs_failed, 1);
		break;
	case JOB_TIMED_OUT:
		counter_add(jobd.stats, COUNTER_jobs_timed_out, 1);
		break;
	case JOB_CANCELLED:
		counter_add(jobd.stats, COUNTER_jobs_cancelled, 1);
		break;
	case JOB_EXPIRED:
		counter_add(jobd.stats, COUNTER_jobs_expired, 1);
		break;
	case JOB_DEPENDENCY_FAILED:
		counter_add(jobd.stats, COUNTER_jobs_dependency_failed, 1);
		break;
	default:
		break;
	}
	announce(job, "finished");
	resolve_dependents(job);
	/* Not here: callers up the stack may hold the oldest jobs. */
	if (S.nfinished > jobd.cfg.retain_count)
		event_active(S.prune_now, 0, 0);
}

/* The wait of a delayed job (run_at, or a retry's backoff) is over. */
static void
delay_over(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	timer_free(&job_run_mut(job)->timer);
	queue_note_delayed(job->queue, -1);
	job_run_mut(job)->due_ms = 0;
	enqueue(job);
	sched_pump();
}

/* Keep job out of its queue for delay_ms (state delayed). */
static void
hold(struct job *job, uint64_t delay_ms)
{
	struct timeval tv = {
	    (time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};

	job->state = JOB_DELAYED;
	job_run_mut(job)->due_ms = now_ms() + delay_ms;
	queue_note_delayed(job->queue, 1);
	job_run_mut(job)->timer = evtimer_new(jobd.base, delay_over, job);
	/* libevent measures from the time cached at the start of this loop
	 * pass; refresh it so the job never runs early. */
	event_base_update_cache_time(jobd.base);
	evtimer_add(job_run_mut(job)->timer, &tv);
}

/* The same until due_ms (ms since the epoch; now is the caller's clock),
 * which is what the job shows, to the millisecond. */
static void
hold_until(struct job *job, uint64_t due_ms, uint64_t now)
{
	hold(job, due_ms > now ? due_ms - now : 0);
	job_run_mut(job)->due_ms = due_ms;
}

/* expires_at came before the job started: it ends without running. */
static void
expire(struct job *job)
{
	if (job->state == JOB_QUEUED) {
		queue_remove(job->queue, job);
		gauge_add(jobd.stats, GAUGE_jobs_queued, -1);
	} else if (job->state == JOB_DELAYED) {
		timer_free(&job_run_mut(job)->timer);
		queue_note_delayed(job->queue, -1);
	} else if (job->state == JOB_WAITING)
		unwait(job);
	else
		return;
	S.nqueued--;
	finish(job, JOB_EXPIRED);
}

static void
expiry_due(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	expiry_disarm(job);
	if (job->run->nattempts == 0) {
		expire(job);
		sched_pump(); /* its dependents may run now */
	}
}

static enum job_state
final_state(enum attempt_outcome o)
{
	switch (o) {
	case OUTCOME_SUCCEEDED:
		return JOB_SUCCEEDED;
	case OUTCOME_TIMED_OUT:
		return JOB_TIMED_OUT;
	case OUTCOME_CANCELLED:
		return JOB_CANCELLED;
	default:
		return JOB_FAILED;
	}
}

void
sched_attempt_end(struct job *job, enum attempt_outcome outcome, int exit_code,
    int signal, const char *error)
{
	struct attempt *a = job_attempt_last(job);
	uint64_t delay, now = now_ms();
	unsigned bit;

	a->ended_ms = now;
	a->outcome = outcome;
	a->exit_code = exit_code;
	a->signal = signal;
	a->error = error != NULL ? xstrdup(error) : NULL;
	S.nrunning--;
	queue_note_running(job->queue, -1);
	gauge_add(jobd.stats, GAUGE_jobs_running, -1);
	hist_record(jobd.stats, HIST_run_time_us,
	    mono_us() - job_run_mut(job)->started_us);

	bit = attempt_outcome_retry_bit(outcome);
	if (outcome == OUTCOME_INTERRUPTED) {
		/*
		 * Stopped because jobd is stopping, not for anything of its
		 * own: the job goes back to its queue, this attempt not
		 * counted against its retry budget, to run again after the
		 * next start (with a store; without one it is gone anyway).
		 */
		job_run_mut(job)->attempt_base++;
		S.nqueued++;
		enqueue(job);
	} else if (!S.stopping && bit != 0 &&
	           retry_should_retry(job_retry(job),
	               job_run_mut(job)->nattempts -
	                   job_run_mut(job)->attempt_base,
	               bit)) {
		delay = retry_delay_ms(job_retry(job),
		    job_run_mut(job)->nattempts -
		        job_run_mut(job)->attempt_base,
		    random64());
		S.nqueued++;
		counter_add(jobd.stats, COUNTER_jobs_retried, 1);
		hold(job, delay);
		announce(job, "retrying");
	} else
		finish(job, final_state(outcome));
	if (S.stopping && S.nrunning == 0 && S.stopped != NULL) {
		timer_free(&S.grace_timer);
		S.stopped();
		S.stopped = NULL;
	}
	sched_pump();
}

/* --- Cancel ----------------------------------------------------------------
 */

static void
stop_running(struct job *job, enum attempt_outcome reason)
{
	if (job->kind != KIND_EXEC) {
		kinds_stop(job, reason);
		if (reason == OUTCOME_CANCELLED)
			mark_dirty(job);
		return;
	}
	if (job_run_mut(job)->stopping) {
		/* Being stopped by jobd's stop, and now cancelled: it ends
		 * cancelled (and is not run again after the start). */
		if (reason == OUTCOME_CANCELLED &&
		    job_run_mut(job)->stop_reason != OUTCOME_CANCELLED) {
			job_run_mut(job)->stop_reason = reason;
			mark_dirty(job);
			exec_kill(job_run_mut(job)->proc, EXEC_CANCELLED);
		}
		return;
	}
	if (job_run_mut(job)->proc == NULL) {
		/* Not spawned yet (its attempt is being committed): no
		 * process to stop, it ends now; its spawn is skipped. */
		sched_attempt_end(job,
		    reason == OUTCOME_CANCELLED ? OUTCOME_CANCELLED
		                                : OUTCOME_INTERRUPTED,
		    -1, 0, NULL);
		return;
	}
	job_run_mut(job)->stopping = true;
	job_run_mut(job)->stop_reason = reason;
	/* A cancel is kept: after a crash the job ends cancelled, not lost
	 * (and retried). */
	if (reason == OUTCOME_CANCELLED)
		mark_dirty(job);
	exec_kill(job_run_mut(job)->proc,
	    reason == OUTCOME_CANCELLED ? EXEC_CANCELLED : EXEC_INTERRUPTED);
}

bool
sched_cancel(struct job *job)
{
	switch (job->state) {
	case JOB_QUEUED:
		queue_remove(job->queue, job);
		gauge_add(jobd.stats, GAUGE_jobs_queued, -1);
		S.nqueued--;
		finish(job, JOB_CANCELLED);
		sched_pump();
		return true;
	case JOB_DELAYED:
		timer_free(&job_run_mut(job)->timer);
		queue_note_delayed(job->queue, -1);
		S.nqueued--;
		finish(job, JOB_CANCELLED);
		sched_pump();
		return true;
	case JOB_WAITING:
		unwait(job);
		S.nqueued--;
		finish(job, JOB_CANCELLED);
		sched_pump(); /* dependents with after "any" */
		return true;
	case JOB_RUNNING:
		stop_running(job, OUTCOME_CANCELLED);
		return true;
	default:
		return false;
	}
}

/* --- Retention ---------------------------------------------------------------
 */

/* Drop the oldest finished jobs beyond max_count or finished before min. */
static void
prune(size_t max_count, uint64_t min_finished_ms)
{
	struct job *job;
	size_t n = 0;

	while (
	    (job = TAILQ_FIRST(&S.finished)) != NULL &&
	    (S.nfinished > max_count || job->finished_ms < min_finished_ms)) {
		if (n++ == PRUNE_BATCH) {
			/* The rest in a later pass: the loop goes on. */
			S.prune_min_ms = min_finished_ms;
			event_active(S.prune_now, 0, 0);
			return;
		}
		TAILQ_REMOVE(&S.finished, job, u.finished_link);
		S.nfinished--;
		table_remove(job);
		job_free(job);
	}
	S.prune_min_ms = 0;
}

static void
prune_count(evutil_socket_t fd, short what, void *arg)
{
	prune(jobd.cfg.retain_count, S.prune_min_ms);
}

static void
prune_tick(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = now_ms();

	prune(jobd.cfg.retain_count,
	    now > jobd.cfg.retain_age_ms ? now - jobd.cfg.retain_age_ms : 0);
}

/* --- Life cycle ------------------------------------------------------------
 */

int
sched_init(void)
{
	struct timeval tv = {PRUNE_INTERVAL_MS / 1000, 0};
	unsigned char raw[(sizeof S.instance - 1) / 2];
	size_t i;

	memset(&S, 0, sizeof S);
	S.mask = 1023;
	S.table = xcalloc(S.mask + 1, sizeof(*S.table));
	S.next_id = 1;
	S.keys = json_object();
	TAILQ_INIT(&S.finished);
	if (getrandom(&S.rng, sizeof S.rng, 0) != sizeof S.rng || S.rng == 0)
		S.rng = 0x2545f4914f6cdd1dULL ^ (uint64_t)now_ms();
	if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
		for (i = 0; i < sizeof raw; i++)
			raw[i] = (unsigned char)(random64() >> 24);
	}
	for (i = 0; i < sizeof raw; i++)
		snprintf(&S.instance[2 * i], 3, "%02x", raw[i]);
	S.prune_timer = event_new(jobd.base, -1, EV_PERSIST, prune_tick, NULL);
	S.prune_now = event_new(jobd.base, -1, 0, prune_count, NULL);
	evtimer_add(S.prune_timer, &tv);
	return 0;
}

void
sched_set_event_hook(sched_event_fn fn)
{
	S.event_hook = fn;
}

/* Stop every running job for jobd's stop; at_once: no kill grace. */
static void
stop_all_running(bool at_once)
{
	struct job *job;
	size_t i;

	for (i = 0; i <= S.mask; i++) {
		if ((job = S.table[i]) == NULL || job->state != JOB_RUNNING)
			continue;
		stop_running(job, OUTCOME_INTERRUPTED);
		if (at_once && job->state == JOB_RUNNING &&
		    job->kind == KIND_EXEC && job->run->proc != NULL)
			exec_kill_now(job_run_mut(job)->proc);
	}
}

static void
grace_over(evutil_socket_t fd, short what, void *arg)
{
	timer_free(&S.grace_timer);
	log_notice(
	    "shutdown grace over: stopping %zu running job(s)", S.nrunning);
	stop_all_running(false);
}

void
sched_stop_now(void (*done)(void))
{
	S.stopping = true;
	if (S.nrunning == 0) {
		done();
		return;
	}
	S.stopped = done;
	timer_free(&S.grace_timer);
	stop_all_running(true);
}

void
sched_stop(uint64_t grace_ms, void (*done)(void))
{
	struct timeval tv = {
	    (time_t)(grace_ms / 1000), (suseconds_t)(grace_ms % 1000) * 1000};

	S.stopping = true;
	if (S.nrunning == 0) {
		done();
		return;
	}
	if (S.grace_timer != NULL) {
		/* Asked again: end the grace period now. */
		event_active(S.grace_timer, EV_TIMEOUT, 0);
		return;
	}
	S.stopped = done;
	log_notice("waiting up to %llu ms for %zu running job(s)",
	    (unsigned long long)grace_ms, S.nrunning);
	S.grace_timer = evtimer_new(jobd.base, grace_over, NULL);
	evtimer_add(S.grace_timer, &tv);
}

void
sched_free(void)
{
	struct job *job;
	size_t i;

	timer_free(&S.prune_timer);
	timer_free(&S.prune_now);
	timer_free(&S.grace_timer);
	for (i = 0; i <= S.mask; i++) {
		if ((job = S.table[i]) == NULL)
			continue;
		/* Jobs that never ran have no timers: give them no run
		 * block just to clear it. */
		if (job->run->timer != NULL || job->run->kill_timer != NULL) {
			timer_free(&job_run_mut(job)->timer);
			timer_free(&job_run_mut(job)->kill_timer);
		}
		expiry_disarm(job);
		job_free(job);
	}
	free(S.table);
	free(S.resolve);
	free(S.dirty);
	free(S.spawns);
	json_decref(S.keys);
	queues_free();
	memset(&S, 0, sizeof S);
}

/* --- Queue control ----------------------------------------------------------
 */

void
sched_queues_changed(void)
{
	sched_pump();
}

size_t
sched_queue_clear(struct queue *q)
{
	struct job *job;
	size_t n = 0;

	while ((job = queue_pop(q)) != NULL) {
		gauge_add(jobd.stats, GAUGE_jobs_queued, -1);
		S.nqueued--;
		finish(job, JOB_CANCELLED);
		n++;
	}
	return n;
}

/* --- The dead set ------------------------------------------------------------
 */

bool
sched_is_dead(const struct job *job)
{
	return job->state == JOB_FAILED || job->state == JOB_TIMED_OUT;
}

static void
unfinish(struct job *job)
{
	TAILQ_REMOVE(&S.finished, job, u.finished_link);
	S.nfinished--;
	job->finished_ms = 0;
}

bool
sched_kick(struct job *job)
{
	if (!sched_is_dead(job) || S.stopping)
		return false;
	unfinish(job);
	/* A fresh attempt budget; the history stays. */
	job_run_mut(job)->attempt_base = job_run_mut(job)->nattempts;
	S.nqueued++;
	counter_add(jobd.stats, COUNTER_jobs_kicked, 1);
	enqueue(job);
	sched_pump();
	return true;
}

bool
sched_discard(struct job *job)
{
	if (!sched_is_dead(job))
		return false;
	unfinish(job);
	table_remove(job);
	job_free(job);
	return true;
}

/* --- Queries -----------------------------------------------------------------
 */

static int
cmp_id(const void *a, const void *b)
{
	uint64_t x = (*(struct job *const *)a)->id;
	uint64_t y = (*(struct job *const *)b)->id;

	return (x > y) - (x < y);
}

void
sched_foreach(uint64_t after, bool (*fn)(struct job *job, void *arg), void *arg)
{
	sched_foreach_between(after, 0, false, fn, arg);
}

void
sched_foreach_between(uint64_t after, uint64_t before, bool newest_first,
    bool (*fn)(struct job *job, void *arg), void *arg)
{
	struct job **v;
	size_t i, n = 0;

	v = xcalloc(S.njobs + 1, sizeof(*v));
	for (i = 0; i <= S.mask; i++) {
		if (S.table[i] != NULL && S.table[i]->id > after &&
		    (before == 0 || S.table[i]->id < before))
			v[n++] = S.table[i];
	}
	qsort(v, n, sizeof(*v), cmp_id);
	for (i = 0; i < n; i++) {
		if (!fn(v[newest_first ? n - 1 - i : i], arg))
			break;
	}
	free(v);
}

size_t
sched_count_queued(void)
{
	return S.nqueued;
}

size_t
sched_count_drainable(size_t *left)
{
	uint64_t horizon = now_ms() + DRAIN_RETRY_HORIZON_MS;
	struct queue **qs;
	struct job *job;
	size_t i, nq, n = S.nrunning;

	qs = queues_sorted(&nq);
	for (i = 0; i < nq; i++) {
		if (!queue_paused(qs[i]))
			n += queue_depth(qs[i]);
	}
	free(qs);
	/* Retries due within a minute, in queues that may run them: only
	 * looked for once nothing else is left (a walk of the table).  A
	 * longer backoff is left for the next start, like a delay. */
	for (i = 0; n == 0 && i <= S.mask; i++) {
		job = S.table[i];
		if (job != NULL && job->state == JOB_DELAYED &&
		    job->run->nattempts > job->run->attempt_base &&
		    job->run->due_ms <= horizon && !queue_paused(job->queue))
			n++;
	}
	*left = S.njobs - S.nfinished - n;
	return n;
}

size_t
sched_count_running(void)
{
	return S.nrunning;
}

size_t
sched_count_jobs(void)
{
	return S.njobs;
}

/* --- The store ---------------------------------------------------------------
 */

void
sched_store_flush(void)
{
	struct job *job;
	size_t i;

	for (i = 0; i < S.ndirty; i++) {
		/* Gone meanwhile (discarded, pruned): its records are deleted.
		 */
		if ((job = sched_find(S.dirty[i])) == NULL || !job->dirty)
			continue;
		job->dirty = false;
		persist_put_state(job);
		if (job->out_dirty) {
			job->out_dirty = false;
			persist_put_output(job);
		}
	}
	S.ndirty = 0;
	if (S.next_id != S.stored_next_id) {
		persist_put_next_id(S.next_id);
		S.stored_next_id = S.next_id;
	}
}

void
sched_store_committed(uint64_t seq)
{
	struct spawn sp;
	struct job *job;

	while (
	    S.spawn_head < S.spawn_len && S.spawns[S.spawn_head].seq <= seq) {
		sp = S.spawns[S.spawn_head++];
		job = sched_find(sp.id);
		if (job == NULL || job->state != JOB_RUNNING ||
		    job->run->nattempts != sp.attempt || job->run->proc != NULL)
			continue;
		if (S.stopping)
			sched_attempt_end(
			    job, OUTCOME_INTERRUPTED, -1, 0, NULL);
		else
			start_exec(job);
	}
	if (S.spawn_head == S.spawn_len)
		S.spawn_head = S.spawn_len = 0;
}

/* --- Recovery ----------------------------------------------------------------
 */

struct restore {
	size_t bad;                /* records that could not be used */
	struct persist_proc *proc; /* by job, for running ones */
	uint64_t *running;         /* ids of jobs that were running */
	size_t nrunning, running_cap;
	bool instance; /* the store had one */
};

static bool
is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static int
restore_meta(
    uint64_t id, const char *name, const char *data, size_t len, void *arg)
{
	struct restore *r = arg;
	uint64_t next;

	(void)id;
	if (strcmp(name, "next_id") == 0 &&
	    persist_parse_next_id(data, len, &next) == 0 && next > S.next_id)
		S.next_id = next;
	if (strcmp(name, "instance") == 0 && len == sizeof S.instance - 1 &&
	    is_hex(data, len)) {
		memcpy(S.instance, data, len);
		r->instance = true;
	}
	return 0;
}

static int
restore_queue(
    uint64_t id, const char *name, const char *data, size_t len, void *arg)
{
	struct restore *r = arg;
	char err[256];
	json_t *s;

	(void)id;
	s = json_loadb(data, len, 0, NULL);
	if (!queue_name_valid(name) || !json_is_object(s) ||
	    queue_apply_settings(queue_get(name), s, err, sizeof err) != 0) {
		log_err("store: queue %s: its settings cannot be read; "
		        "dropped",
		    name);
		store_delete(STORE_QUEUES, 0, name);
		r->bad++;
	}
	json_decref(s);
	return 0;
}

static int
restore_spec(
    uint64_t id, const char *name, const char *data, size_t len, void *arg)
{
	struct restore *r = arg;
	char err[512], slot[KEY_SLOT_MAX];
	struct job *job;

	(void)name;
	if (id >= S.next_id)
		S.next_id = id + 1;
	if ((job = persist_job_from_spec(id, data, len, err, sizeof err)) ==
	    NULL) {
		/* Kept in the database (a damaged record, a kind this jobd
		 * lacks): a jobd that can read it brings it back. */
		log_err("store: job %llu: %s; not restored (its records are "
		        "kept)",
		    (unsigned long long)id, err);
		r->bad++;
		return 0;
	}
	queue_apply_defaults(job->queue, job);
	job->state = JOB_QUEUED; /* unless its state record says more */
	table_insert(job);
	if (job->opts->key != NULL)
		json_object_set_new(S.keys, key_slot(job, slot),
		    json_integer((json_int_t)job->id));
	if (id >= S.next_id)
		S.next_id = id + 1;
	return 0;
}

static int
restore_state(
    uint64_t id, const char *name, const char *data, size_t len, void *arg)
{
	struct restore *r = arg;
	struct persist_proc proc;
	struct job *job = sched_find(id);
	char err[256];

	(void)name;
	if (job == NULL)
		return 0; /* its spec was dropped, and said so */
	if (persist_apply_state(job, data, len, &proc, err, sizeof err) != 0) {
		log_err("store: job %llu: state: %s; it starts again",
		    (unsigned long long)id, err);
		job->state = JOB_QUEUED;
		r->bad++;
		return 0;
	}
	if (job->state == JOB_RUNNING) {
		if (r->nrunning == r->running_cap) {
			r->running_cap =
			    r->running_cap != 0 ? 2 * r->running_cap : 64;
			r->running = xreallocarray(
			    r->running, r->running_cap, sizeof(*r->running));
			r->proc = xreallocarray(
			    r->proc, r->running_cap, sizeof(*r->proc));
		}
		r->running[r->nrunning] = id;
		r->proc[r->nrunning++] = proc;
	}
	return 0;
}

static int
restore_output(
    uint64_t id, const char *name, const char *data, size_t len, void *arg)
{
	struct restore *r = arg;
	struct job *job = sched_find(id);
	char err[256];

	(void)name;
	if (job != NULL &&
	    persist_apply_output(job, data, len, err, sizeof err) != 0) {
		log_err(
		    "store: job %llu: output: %s", (unsigned long long)id, err);
		r->bad++;
	}
	return 0;
}

static int
cmp_finished(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a;
	const struct job *y = *(struct job *const *)b;

	if (x->finished_ms != y->finished_ms)
		return x->finished_ms < y->finished_ms ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A waiting job: wire it to its dependencies again. */
static void
restore_waiting(struct job *job, uint64_t now)
{
	struct job_opts *o = job_opts_mut(job);
	struct job *dep;
	bool failed = false;
	uint32_t i;

	o->deps_pending = 0;
	for (i = 0; i < o->ndeps; i++) {
		dep = sched_find(o->deps[i]);
		if (dep != NULL && !job_finished(dep))
			wait_on(job, dep);
		else if (!o->after_any &&
		         (dep == NULL || dep->state != JOB_SUCCEEDED))
			failed = true; /* gone (pruned) counts as not ok */
	}
	if (failed) {
		S.nqueued--;
		finish(job, JOB_DEPENDENCY_FAILED);
	} else if (o->deps_pending > 0) {
		queue_note_waiting(job->queue, 1);
		gauge_add(jobd.stats, GAUGE_jobs_waiting, 1);
	} else
		release(job, now);
}

int
sched_restore(char *err, size_t errlen)
{
	struct restore r = {0};
	struct job **jobs, **fin, *job;
	uint64_t now = now_ms(), due;
	size_t i, n = 0, nfin = 0, counts[4] = {0};
	struct attempt *a;

	if (store_load(STORE_META, restore_meta, &r, err, errlen) != 0 ||
	    store_load(STORE_QUEUES, restore_queue, &r, err, errlen) != 0 ||
	    store_load(STORE_SPECS, restore_spec, &r, err, errlen) != 0 ||
	    store_load(STORE_JOBS, restore_state, &r, err, errlen) != 0 ||
	    store_load(STORE_OUTPUT, restore_output, &r, err, errlen) != 0) {
		free(r.running);
		free(r.proc);
		return -1;
	}
	S.stored_next_id = S.next_id;
	if (!r.instance)
		store_put(
		    STORE_META, 0, "instance", S.instance, strlen(S.instance));
	/* In id order: queues get their jobs back in submit order. */
	jobs = xcalloc(S.njobs + 1, sizeof(*jobs));
	fin = xcalloc(S.njobs + 1, sizeof(*fin));
	for (i = 0; i <= S.mask; i++) {
		if (S.table[i] != NULL)
			jobs[n++] = S.table[i];
	}
	qsort(jobs, n, sizeof(*jobs), cmp_id);
	for (i = 0; i < n; i++) {
		job = jobs[i];
		if (job_finished(job)) {
			fin[nfin++] = job;
			continue;
		}
		if (job->state == JOB_RUNNING)
			continue; /* last: see below */
		S.nqueued++;
		if (job->opts->expires_ms != 0 && job->run->nattempts == 0)
			arm_expiry(job, now);
	}
	qsort(fin, nfin, sizeof(*fin), cmp_finished);
	for (i = 0; i < nfin; i++) {
		TAILQ_INSERT_TAIL(&S.finished, fin[i], u.finished_link);
		S.nfinished++;
	}
	counts[0] = nfin;
	for (i = 0; i < n; i++) {
		job = jobs[i];
		switch (job->state) {
		case JOB_QUEUED:
			enqueue(job);
			counts[1]++;
			break;
		case JOB_DELAYED:
			due = job->run->due_ms != 0 ? job->run->due_ms
			                            : job->opts->run_at_ms;
			hold_until(job, due, now);
			counts[1]++;
			break;
		case JOB_WAITING:
			restore_waiting(job, now);
			counts[1]++;
			break;
		default:
			break;
		}
	}
	/*
	 * Jobs that were running when jobd stopped: what is left of their
	 * processes is killed, and the attempt ends lost, to be retried
	 * if the policy says so.
	 */
	if (persist_kill_unrecorded(S.instance, r.running, r.proc, r.nrunning) >
	    0)
		log_notice("killed processes of attempts that started just "
		           "before jobd stopped");
	for (i = 0; i < r.nrunning; i++) {
		if ((job = sched_find(r.running[i])) == NULL)
			continue;
		if (persist_kill_group(&r.proc[i]) > 0)
			log_notice("job %llu: killed what was left of its "
			           "process group %d",
			    (unsigned long long)job->id, (int)r.proc[i].pid);
		a = job_attempt_last(job);
		if (a == NULL || a->ended_ms != 0)
			job_attempt_begin(job, now);
		S.nrunning++;
		queue_note_running(job->queue, 1);
		gauge_add(jobd.stats, GAUGE_jobs_running, 1);
		job_run_mut(job)->started_us = mono_us();
		if (r.proc[i].cancelled)
			sched_attempt_end(job, OUTCOME_CANCELLED, -1, 0,
			    "jobd stopped while it was being cancelled");
		else
			sched_attempt_end(job, OUTCOME_LOST, -1, 0,
			    "jobd stopped while it ran");
		counts[2]++;
	}
	if (n > 0)
		log_notice("store: %zu job(s) back: %zu finished, %zu to run, "
		           "%zu lost while running%s",
		    n, counts[0], counts[1], counts[2],
		    r.bad > 0 ? " (some records could not be used: see above)"
		              : "");
	free(jobs);
	free(fin);
	free(r.running);
	free(r.proc);
	sched_pump();
	return 0;
}
