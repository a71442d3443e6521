/*
 * job: a job, its spec, its attempts and its result.
 *
 * A job is created from a JSON spec (job_parse validates every field and
 * names the bad one), moves through the states below under the scheduler's
 * control, and is rendered back to JSON for replies.  Jobs live on the event
 * loop's thread only; a running compute job lends its `compute` and its
 * cancel flag to one pool task until that task's completion comes back.
 *
 *   waiting (for dependencies) -> delayed (until run_at) -> queued
 *   queued -> running -> succeeded | failed | timed_out | cancelled
 *                  \-> delayed (waiting to retry) -> queued
 *   queued, delayed or waiting -> expired | cancelled | dependency_failed
 */
#ifndef JOBD_JOB_H
#define JOBD_JOB_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "exec.h"
#include "retry.h"

#define JOB_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define JOB_DEFAULT_KILL_GRACE_MS 5000
#define JOB_DEFAULT_OUTPUT_CAP (1024 * 1024)
#define JOB_MAX_TIMEOUT_MS (30ULL * 24 * 3600 * 1000) /* fits 32 bits */
#define JOB_PRIORITY_DEFAULT 100
#define JOB_PRIORITY_MAX 1000
#define JOB_KEY_MAX 256
#define JOB_DEPS_MAX 1024 /* entries in depends_on */
#define JOB_REF_MAX 64    /* bytes in a ref */
/* In opts->deps during a submit: the index of a job of the batch. */
#define DEP_REF ((uint64_t)1 << 63)

enum job_state {
	JOB_QUEUED,
	JOB_DELAYED,
	JOB_WAITING, /* for its dependencies */
	JOB_RUNNING,
	JOB_SUCCEEDED,
	JOB_FAILED,
	JOB_TIMED_OUT,
	JOB_CANCELLED,
	JOB_EXPIRED,           /* not started before its expires_at */
	JOB_DEPENDENCY_FAILED, /* a dependency did not succeed */
};

enum job_kind {
	KIND_EXEC,
	KIND_ECHO,
	KIND_SLEEP,
	KIND_COMPUTE,
};

enum attempt_outcome {
	OUTCOME_SUCCEEDED,
	OUTCOME_FAILED,
	OUTCOME_SIGNALED,
	OUTCOME_TIMED_OUT,
	OUTCOME_SPAWN_FAILED,
	OUTCOME_LOST,
	OUTCOME_INTERRUPTED,
	OUTCOME_CANCELLED,
};

struct attempt {
	uint64_t started_ms; /* wall clock, ms since the epoch */
	uint64_t ended_ms;   /* 0 while running */
	enum attempt_outcome outcome;
	int exit_code; /* -1 if none */
	int signal;    /* 0 if none */
	char *error;   /* spawn or compute error, or NULL */
};

struct buf {
	char *data;
	size_t len;
	uint64_t total; /* bytes produced, kept or not */
	bool truncated;
};

struct waitref;
struct compute;
struct exec_proc;
struct event;
struct follow_job;

/*
 * A job is one small record (struct job, with the args text of in-process
 * kinds stored inline after it) and up to three blocks that only some jobs
 * need: the command of an exec job, the options few jobs set, and what
 * running leaves behind (attempts, output, result).  A job without one of
 * them points at a shared, read-only empty block, so reading a field needs
 * no test and writing one goes through job_opts_mut() or job_run_mut(),
 * which give the job its own block first.  This keeps a queued 64-byte
 * echo job near 200 bytes.
 */
struct job_exec {
	char **argv;
	char **envp; /* the child's whole environment */
	char *cwd;
	char *stdin_data;
	size_t stdin_len;
	uint64_t kill_grace_ms;
	uint64_t limit[EXEC_RLIMIT_N]; /* asked for; 0: jobd's default */
	uint64_t output_cap;           /* bytes kept per stream; 0: jobd's */
};

struct job_opts {
	json_t *meta;        /* the client's, returned as given */
	char *key;           /* unique key, or NULL */
	uint64_t delay_ms;   /* run no earlier than this after submit */
	uint64_t run_at_ms;  /* not before (delay_ms / run_at); 0: now */
	uint64_t expires_ms; /* expires if not started by then; 0: never */
	struct event *expire_timer;
	struct retry_policy retry; /* if retry_given */

	/*
	 * Dependencies.  deps[i] is a job id, or DEP_REF | index while a
	 * submit resolves dep_refs[i], the `ref` of another job in the same
	 * submit.  A job waits until deps_pending reaches 0; a job others
	 * wait for keeps their ids in dependents until it finishes.
	 */
	uint64_t *deps;
	char **dep_refs; /* submit only */
	char *ref;       /* submit only */
	uint64_t *dependents;
	uint32_t ndeps, deps_pending;
	uint32_t ndependents, dependents_cap;
	bool key_any;   /* a finished job with the key counts too */
	bool after_any; /* any end of a dependency will do, not just success */
	bool retry_given;
};

struct job_run {
	/* Attempts; the last one is current while running. */
	struct attempt *attempts;
	uint32_t nattempts;
	uint32_t attempt_base; /* attempts that do not count toward the
	                          retry budget: before the last kick, or
	                          interrupted by a stop of jobd */
	/* Result of the last attempt. */
	struct buf out, err;
	json_t *result; /* in-process kinds */
	/* Running, or waiting on a timer. */
	struct exec_proc *proc;
	struct event *timer; /* delay, retry delay, sleep, in-process timeout */
	struct event *kill_timer;
	uint64_t started_us; /* monotonic: start of the current attempt */
	uint64_t due_ms;     /* while delayed: when it is queued again */
	atomic_int cancel;   /* read by the compute task */
	enum attempt_outcome stop_reason; /* why it is being stopped */
	bool stopping;
	struct follow_job *follow; /* clients following its output */
};

struct job {
	uint64_t id;
	struct queue *queue;
	union {
		struct {
			uint64_t seq;        /* order of entering the queue */
			size_t heap_index;   /* position in its queue's heap */
		} q;                         /* while queued */
		TAILQ_ENTRY(job) ready_link; /* running echo: kinds' list */
		TAILQ_ENTRY(job) finished_link; /* finished, oldest first */
	} u;
	LIST_HEAD(, waitref) waiters;
	union {
		const struct job_exec *exec; /* exec */
		struct compute *compute;     /* compute kinds */
		uint64_t sleep_ms;           /* sleep */
	} spec;
	const struct job_opts *opts; /* never NULL */
	const struct job_run *run;   /* never NULL */

	/* Times. */
	uint64_t submitted_ms; /* ms since the epoch */
	uint64_t finished_ms;
	uint64_t queued_us; /* monotonic: last time it entered the queue */

	uint32_t timeout_ms; /* 0: none; at most JOB_MAX_TIMEOUT_MS */
	uint16_t priority;   /* 0 (most urgent) .. 1000 */
	uint8_t state;       /* enum job_state */
	uint8_t kind;        /* enum job_kind */
	uint32_t args_len;   /* bytes of args, or 0 for none */
	uint32_t owner;      /* uid of the submitter (ident.h) */
	bool timeout_given;  /* else the queue's default applies */
	bool queue_user_ok;  /* an admin's or TCP client's: its queue's
	                        run_as applies (ident.h) */
	bool dirty;          /* changed since its state was last stored */
	bool out_dirty;      /* ...and so has its output */
	uint64_t store_seq;  /* the store batch its last change is in */
	char args[];         /* echo, sleep, compute: the JSON text */
};

/* The exec block of an exec job (NULL for other kinds). */
static inline const struct job_exec *
job_exec(const struct job *job)
{
	return job->kind == KIND_EXEC ? job->spec.exec : NULL;
}

/* The job's own options or run block, made first if it had none. */
struct job_opts *job_opts_mut(struct job *job);
struct job_run *job_run_mut(struct job *job);
/* The retry policy in force: the job's, else jobd's default. */
const struct retry_policy *job_retry(const struct job *job);
const char *job_kind_name(const struct job *job);
/* The args as a new JSON value (null if none). */
json_t *job_args(const struct job *job);

/*
 * Build a job from its JSON spec; NULL with a message (naming the field,
 * prefixed by `where`, e.g. "jobs[2]") on error, *code set to the protocol
 * error (bad_request, unknown_kind, out_of_range).
 */
struct job *job_parse(
    const json_t *spec, const char *where, int *code, char *err, size_t errlen);
/*
 * The same for a spec read back from the store: it was accepted once, so
 * today's size limits (--max-argv, --max-env, --max-stdin) do not refuse
 * it, and resource limits and output_cap above today's are lowered to
 * them.
 */
struct job *job_parse_stored(const json_t *spec, char *err, size_t errlen);
void job_free(struct job *job);
/* Drop what only a submit needs (ref, dep_refs). */
void job_forget_refs(struct job *job);

bool job_finished(const struct job *job);
const char *job_state_name(enum job_state s);
int job_state_parse(const char *name);
const char *attempt_outcome_name(enum attempt_outcome o);
/* RETRY_ON_* bit for an outcome (0 for success and non-retryable ones). */
unsigned attempt_outcome_retry_bit(enum attempt_outcome o);

/* Open a new attempt (started now). */
struct attempt *job_attempt_begin(struct job *job, uint64_t now_ms);
/* The attempt in progress or last ended; NULL if none. */
struct attempt *job_attempt_last(struct job *job);

/* Replace a stream's buffer with a copy of data. */
void buf_set(struct buf *b, const char *data, size_t len, uint64_t total,
    bool truncated);
void buf_clear(struct buf *b);

#define JOB_JSON_OUTPUT 0x1 /* stdout and stderr */
#define JOB_JSON_SPEC 0x2   /* env, cwd, args, timeout_ms, retry */

/*
 * The job as JSON: the summary, meta, attempts and result, plus what flags
 * ask for.  Output is a string, or base64 with "stdout_encoding":"base64"
 * when the bytes are not UTF-8.  `get` shows the spec; replies to waits
 * leave it out, since the client sent it and the hot path pays for it.
 */
json_t *job_to_json(const struct job *job, unsigned flags);
/* A short form for lists and events: id, kind, state, times, exit code. */
json_t *job_summary_json(const struct job *job);
/* Add "NAME" (and "NAME_encoding") for a buffer to obj. */
void job_output_json(json_t *obj, const char *name, const struct buf *b);

/* RFC 3339 text ("2026-11-26T18:00:00Z", "...T19:00:00.5+01:00") -> ms. */
int parse_rfc3339(const char *text, uint64_t *ms);

/* Wall clock in ms since the epoch, and RFC 3339 UTC text for it. */
uint64_t now_ms(void);
/* Monotonic clock in µs, for durations. */
uint64_t mono_us(void);
json_t *json_time(uint64_t ms);

#endif
