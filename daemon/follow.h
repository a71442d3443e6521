/*
 * follow: clients following a job's output live ({"op":"logs",
 * "follow":true}).
 *
 * A follow is a stream of lines that all carry the request's id and
 * "ok": true.  It opens with {"following": true, "job": N, "state": S};
 * for an exec job each attempt then gets {"event": "attempt"} followed by
 * {"event": "output", "stream": "stdout"|"stderr", "data": ...} lines
 * ("data_encoding": "base64" when the bytes are not UTF-8).  A follower
 * that joins late first gets the attempt's output still held.  Bytes a
 * follower misses (not kept by the output cap, or dropped because it did
 * not read) are reported by one {"event": "output_dropped", "bytes": N}.
 * The stream ends with {"event": "finished", "state": ...} once the job
 * has finished, or with a shutting_down error if jobd stops first.
 *
 * A job nobody follows pays nothing: the exec output callback is installed
 * only while the job has followers.  A follower's memory is bounded by the
 * connection's unread-output limit: past it, chunks are counted instead of
 * queued, and output_dropped is sent once the client has caught up.
 *
 * Everything here runs on the event loop's thread.
 */
#ifndef JOBD_FOLLOW_H
#define JOBD_FOLLOW_H

#include <jansson.h>
#include <stddef.h>

struct conn;
struct job;

/*
 * Follow job for the request req_id (may be NULL) on c: send what is due
 * now, and register the follower unless the job has finished.
 */
void follow_start(struct conn *c, const json_t *req_id, struct job *job);
/* The exec output callback (an exec_output_fn); arg is the job. */
void follow_output(int stream, const char *data, size_t len, void *arg);
/* The scheduler announced event for a job that has followers. */
void follow_job_event(struct job *job, const char *event);
/* The connection is going away: forget its followers. */
void follow_conn_closed(struct conn *c);
/* The connection's unread output was all written. */
void follow_conn_drained(struct conn *c);
/* jobd is stopping: end every follow with shutting_down. */
void follow_stop(void);
/* Free every follower without a word. */
void follow_free(void);

#endif
