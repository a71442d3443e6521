/*
 * kinds: running the in-process job kinds.
 *
 * echo completes at once (its result is its args), sleep is a timer, and
 * the compute kinds run on the pool: the task calls compute_run() with the
 * job's cancel flag, and its completion comes back to the loop through an
 * eventfd channel, drained in batches.  No thread blocks for a sleep, and a
 * timed-out or cancelled compute job stops at its next chunk.
 */
#ifndef JOBD_KINDS_H
#define JOBD_KINDS_H

#include "job.h"

int kinds_init(void);
void kinds_free(void);
/* Run the current attempt of an in-process job. */
void kinds_start(struct job *job);
/* Stop it early; reason becomes the attempt's outcome. */
void kinds_stop(struct job *job, enum attempt_outcome reason);
/* Compute tasks queued or running on the pool. */
size_t kinds_inflight(void);

#endif
