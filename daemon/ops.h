/*
 * ops: the protocol operations, one handler each (jobd-protocol(7)).
 *
 * ops_dispatch() validates a request's envelope (op, id), calls the op's
 * handler and returns the reply, or NULL when the reply is deferred (a wait
 * or a submit with "wait": it is sent when the jobs finish or the wait times
 * out; a followed job's output, which streams until the job ends).  Waiters,
 * watchers and followers hang off the connection that asked and are
 * dropped with it.
 */
#ifndef JOBD_OPS_H
#define JOBD_OPS_H

#include <jansson.h>

struct conn;

void ops_init(void);
void ops_free(void);
json_t *ops_dispatch(struct conn *c, const json_t *req);
/* The connection is going away: forget its waiters and watchers. */
void ops_conn_closed(struct conn *c);
/* Is c watching events (so not idle, though it owes no reply)? */
bool ops_conn_watching(const struct conn *c);
/* The connection has written all its replies (a slow reader caught up). */
void ops_conn_drained(struct conn *c);
/* jobd is stopping: answer every pending wait with shutting_down. */
void ops_stop(void);

#endif
