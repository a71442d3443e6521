/*
 * persist: a job as records of the store (store.h), and back.
 *
 * A job is three records under its id:
 * - spec: the spec as the client sent it, with what the submit decided
 *   (owner, submit time, run and expiry times, the ids its dependencies
 *   resolved to); written once, at submit.
 * - state: its state, attempts (outcomes, exit codes, times), result,
 *   retry due time, and for a running exec job the process group it runs
 *   as (pid and start time, to find it again after a crash); rewritten
 *   whenever the job changes, once per round of the event loop.
 * - output: what its last attempt printed; written when an attempt ends.
 *
 * Restoring parses the spec again (so a restored job is built by the same
 * code as a submitted one), then lays the state over it.
 */
#ifndef JOBD_PERSIST_H
#define JOBD_PERSIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "job.h"

/* Where a running exec job's processes were, from its state record. */
struct persist_proc {
	pid_t pid;           /* its process group; 0: none recorded */
	uint64_t start_time; /* of the leader, in clock ticks since boot */
	bool same_boot;      /* recorded since the machine last booted */
	bool cancelled;      /* a cancel was asked for (and acknowledged) */
	uint32_t attempt;    /* the number of the attempt that was running */
};

void persist_put_spec(const struct job *job, const json_t *spec);
void persist_put_state(const struct job *job);
void persist_put_output(const struct job *job);
void persist_delete(uint64_t id);
/* A queue's settings, under its name. */
struct queue;
void persist_put_queue(const struct queue *q);

/* The next id, written when it moves past what is stored. */
void persist_put_next_id(uint64_t next_id);
int persist_parse_next_id(const char *data, size_t len, uint64_t *next_id);

/*
 * A job from its spec record: parsed as at submit, with its id, owner,
 * times and resolved dependencies; NULL with a message in err.
 */
struct job *persist_job_from_spec(
    uint64_t id, const char *data, size_t len, char *err, size_t errlen);
/* Lay a state record over job; -1 with err if it cannot be read. */
int persist_apply_state(struct job *job, const char *data, size_t len,
    struct persist_proc *proc, char *err, size_t errlen);
/* The output record of job; -1 with err. */
int persist_apply_output(
    struct job *job, const char *data, size_t len, char *err, size_t errlen);

/* The start time of process pid (field 22 of /proc/PID/stat), or 0. */
uint64_t persist_proc_start_time(pid_t pid);
/*
 * Kill what is left of a recorded process group: the leader if it is
 * still the same process, else the members that started after it.
 * Returns how many processes were signalled.
 */
int persist_kill_group(const struct persist_proc *proc);
/*
 * Kill the processes of the running attempts in procs (ids[i] is the job
 * of procs[i]) that have no process group recorded: jobd died between
 * the spawn and the commit after it.  They are found by the environment
 * every attempt starts with (JOBD_INSTANCE, JOBD_JOB_ID, JOBD_ATTEMPT).
 * Returns how many processes were signalled.
 */
int persist_kill_unrecorded(const char *instance, const uint64_t *ids,
    const struct persist_proc *procs, size_t n);

#endif
