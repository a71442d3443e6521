/*
 * chan: a bounded multi-producer, multi-consumer FIFO channel of pointers.
 *
 * Send and receive come in blocking, try (never blocks) and timed forms.
 * chan_close() stops new sends at once; items already queued can still be
 * received, after which receivers get EPIPE.  Every thread blocked in a send
 * or receive wakes on close: senders with EPIPE, receivers once the channel
 * is empty.
 *
 * With CHAN_EVENTFD the channel also owns an eventfd that becomes readable
 * when an item arrives in an empty channel, so a libevent loop can wait on
 * chan_fd() and collect items from worker threads with chan_drain().
 */
#ifndef JOBD_CHAN_H
#define JOBD_CHAN_H

#include <stddef.h>

struct chan;

#define CHAN_EVENTFD 0x1

/* A channel holding up to capacity (>= 1) items.  NULL on error (errno). */
struct chan *chan_create(size_t capacity, int flags);
/* Free the channel; no thread may be using it.  Queued items are not freed. */
void chan_free(struct chan *ch);

/* 0, or -1 with errno EPIPE (closed). Blocks while full. */
int chan_send(struct chan *ch, void *item);
/* 0, or -1 with errno EAGAIN (full) or EPIPE (closed). */
int chan_try_send(struct chan *ch, void *item);
/* As chan_send, but -1/ETIMEDOUT after timeout_ms (>= 0) milliseconds. */
int chan_timed_send(struct chan *ch, void *item, long timeout_ms);

/* 0 and *item set, or -1 with errno EPIPE (closed and empty). */
int chan_recv(struct chan *ch, void **item);
/* 0, or -1 with errno EAGAIN (empty, open) or EPIPE (closed and empty). */
int chan_try_recv(struct chan *ch, void **item);
/* As chan_recv, but -1/ETIMEDOUT after timeout_ms (>= 0) milliseconds. */
int chan_timed_recv(struct chan *ch, void **item, long timeout_ms);

/*
 * Receive up to max queued items without blocking; returns how many.  For
 * CHAN_EVENTFD channels it first clears the eventfd, and re-arms it if items
 * are left behind, so a loop that calls it once per readable event never
 * misses an item.  A closed channel's fd stays readable (like end of file
 * on a pipe): a loop stops when chan_drain() returns 0 and the channel is
 * closed.
 */
size_t chan_drain(struct chan *ch, void **items, size_t max);

void chan_close(struct chan *ch);
int chan_is_closed(struct chan *ch);
size_t chan_len(struct chan *ch);
size_t chan_capacity(const struct chan *ch);
/* The eventfd of a CHAN_EVENTFD channel, else -1. */
int chan_fd(const struct chan *ch);

#endif
