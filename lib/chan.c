/*
 * chan: a bounded MPMC FIFO channel of pointers (see chan.h).
 *
 * DESIGN
 *
 * The items live in a ring buffer guarded by one mutex.  Two condition
 * variables carry the waits: not_empty for receivers and not_full for
 * senders.  Both use CLOCK_MONOTONIC so timed operations are immune to
 * wall-clock steps.  Each side keeps a count of its blocked threads under the
 * mutex, so the common uncontended send or receive makes no futex call: a
 * condition variable is signalled only when somebody may be waiting on it.
 *
 * Close sets a flag under the mutex and broadcasts both condition variables.
 * Every wait loop re-tests the flag under the mutex before it sleeps, so a
 * close can never slip in between a thread's test and its wait.
 *
 * With CHAN_EVENTFD the channel also owns an eventfd, written (made readable)
 * when a send turns the channel from empty to non-empty, and on close.  Only
 * that transition writes, which keeps the syscall off the hot path of a busy
 * channel.  The consumer protocol for an event loop is:
 *
 *	on chan_fd() readable:
 *		n = chan_drain(ch, items, max);
 *		handle items[0 .. n-1];
 *		if (n == 0 && chan_is_closed(ch)) stop watching the fd;
 *
 * chan_drain() clears the eventfd *before* it takes items under the lock, and
 * writes it again if it leaves items behind.  So after every drain either the
 * channel is empty (and the next send into it writes the eventfd) or the
 * eventfd is readable: no item is ever stranded.  The price is an occasional
 * spurious wake-up in which chan_drain() returns 0, which the loop must
 * tolerate.  Items taken by chan_recv() on an eventfd channel can also leave
 * the fd readable with nothing to drain.  Like end-of-file on a pipe, a closed
 * channel stays readable: chan_drain() re-arms the eventfd after a close, so
 * the loop keeps waking until it sees n == 0 with the channel closed and
 * stops watching the fd.
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "xmalloc.h"

struct chan {
	/*
	 * lock guards everything below it except capacity and efd, which
	 * never change after chan_create() and so are read without it.
	 */
	pthread_mutex_t lock;
	pthread_cond_t not_empty; /* receivers wait here */
	pthread_cond_t not_full;  /* senders wait here */
	void **ring;
	size_t head; /* index of the oldest item */
	size_t len;  /* items queued */
	/* Threads blocked in a wait: decides whether to signal at all. */
	unsigned int recv_waiters;
	unsigned int send_waiters;
	int closed;

	size_t capacity;
	int efd; /* eventfd, or -1 without CHAN_EVENTFD */
};

static void
chan_lock(struct chan *ch)
{
	int error;

	if ((error = pthread_mutex_lock(&ch->lock)) != 0)
		fatalx("chan: pthread_mutex_lock: %s", strerror(error));
}

static void
chan_unlock(struct chan *ch)
{
	int error;

	if ((error = pthread_mutex_unlock(&ch->lock)) != 0)
		fatalx("chan: pthread_mutex_unlock: %s", strerror(error));
}

/* Make the eventfd readable; a full counter (EAGAIN) is readable already. */
static void
chan_efd_arm(struct chan *ch)
{
	uint64_t one = 1;

	while (write(ch->efd, &one, sizeof one) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		fatal("chan: eventfd write");
	}
}

/* Reset the eventfd to unreadable; EAGAIN means it was not readable. */
static void
chan_efd_clear(struct chan *ch)
{
	uint64_t count;

	while (read(ch->efd, &count, sizeof count) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		fatal("chan: eventfd read");
	}
}

/* An absolute CLOCK_MONOTONIC time timeout_ms from now. */
static void
chan_deadline(struct timespec *ts, long timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * Wait on cond, either for ever (deadline NULL) or until deadline.  Returns 0
 * or ETIMEDOUT; the caller re-tests its condition either way.
 */
static int
chan_wait(
    struct chan *ch, pthread_cond_t *cond, const struct timespec *deadline)
{
	int error;

	if (deadline == NULL)
		error = pthread_cond_wait(cond, &ch->lock);
	else
		error = pthread_cond_timedwait(cond, &ch->lock, deadline);
	if (error != 0 && error != ETIMEDOUT)
		fatalx("chan: pthread_cond_wait: %s", strerror(error));
	return error;
}

/* Both condition variables, timed against CLOCK_MONOTONIC.  0 or an errno. */
static int
chan_cond_init(struct chan *ch)
{
	pthread_condattr_t cattr;
	int error;

	if ((error = pthread_condattr_init(&cattr)) != 0)
		return error;
	error = pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	if (error == 0)
		error = pthread_cond_init(&ch->not_empty, &cattr);
	if (error == 0) {
		error = pthread_cond_init(&ch->not_full, &cattr);
		if (error != 0)
			pthread_cond_destroy(&ch->not_empty);
	}
	pthread_condattr_destroy(&cattr);
	return error;
}

struct chan *
chan_create(size_t capacity, int flags)
{
	struct chan *ch;
	int error;

	if (capacity == 0 || (flags & ~CHAN_EVENTFD) != 0) {
		errno = EINVAL;
		return NULL;
	}

	ch = xcalloc(1, sizeof *ch);
	ch->ring = xreallocarray(NULL, capacity, sizeof *ch->ring);
	ch->capacity = capacity;
	ch->efd = -1;

	if ((error = pthread_mutex_init(&ch->lock, NULL)) != 0)
		goto fail;
	if ((error = chan_cond_init(ch)) != 0) {
		pthread_mutex_destroy(&ch->lock);
		goto fail;
	}
	if (flags & CHAN_EVENTFD) {
		ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (ch->efd == -1) {
			error = errno;
			chan_free(ch);
			errno = error;
			return NULL;
		}
	}
	return ch;

fail:
	free(ch->ring);
	free(ch);
	errno = error;
	return NULL;
}

void
chan_free(struct chan *ch)
{
	if (ch == NULL)
		return;
	if (ch->efd != -1)
		close(ch->efd);
	pthread_cond_destroy(&ch->not_full);
	pthread_cond_destroy(&ch->not_empty);
	pthread_mutex_destroy(&ch->lock);
	free(ch->ring);
	free(ch);
}

/*
 * Append item; called with the lock held and room in the ring.  Returns
 * whether the channel was empty before, i.e. whether the eventfd needs a
 * write once the lock is dropped.
 */
static int
chan_put_locked(struct chan *ch, void *item)
{
	int was_empty = ch->len == 0;

	ch->ring[(ch->head + ch->len) % ch->capacity] = item;
	ch->len++;
	if (ch->recv_waiters > 0)
		pthread_cond_signal(&ch->not_empty);
	return was_empty && ch->efd != -1;
}

/* Remove the oldest item; called with the lock held and len > 0. */
static void *
chan_take_locked(struct chan *ch)
{
	void *item;

	item = ch->ring[ch->head];
	ch->head = (ch->head + 1) % ch->capacity;
	ch->len--;
	return item;
}

/*
 * The body of every send.  deadline: NULL blocks for ever; nonblock makes a
 * full channel fail at once with fail_errno (EAGAIN or ETIMEDOUT).
 */
static int
chan_send_common(struct chan *ch, void *item, int nonblock,
    const struct timespec *deadline, int fail_errno)
{
	int arm, timed_out = 0;

	chan_lock(ch);
	while (
	    !ch->closed && ch->len == ch->capacity && !nonblock && !timed_out) {
		ch->send_waiters++;
		timed_out = chan_wait(ch, &ch->not_full, deadline) != 0;
		ch->send_waiters--;
	}
	if (ch->closed) {
		chan_unlock(ch);
		errno = EPIPE;
		return -1;
	}
	if (ch->len == ch->capacity) {
		chan_unlock(ch);
		errno = fail_errno;
		return -1;
	}
	arm = chan_put_locked(ch, item);
	chan_unlock(ch);
	/*
	 * Outside the lock: a drain that runs in between at worst finds the
	 * fd readable with nothing left, a tolerated spurious wake-up.
	 */
	if (arm)
		chan_efd_arm(ch);
	return 0;
}

int
chan_send(struct chan *ch, void *item)
{
	return chan_send_common(ch, item, 0, NULL, 0);
}

int
chan_try_send(struct chan *ch, void *item)
{
	return chan_send_common(ch, item, 1, NULL, EAGAIN);
}

/* timeout_ms 0 sends only if there is room now, else -1/ETIMEDOUT. */
int
chan_timed_send(struct chan *ch, void *item, long timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms < 0) {
		errno = EINVAL;
		return -1;
	}
	if (timeout_ms == 0)
		return chan_send_common(ch, item, 1, NULL, ETIMEDOUT);
	chan_deadline(&deadline, timeout_ms);
	return chan_send_common(ch, item, 0, &deadline, ETIMEDOUT);
}

/* The body of every receive; arguments as for chan_send_common(). */
static int
chan_recv_common(struct chan *ch, void **item, int nonblock,
    const struct timespec *deadline, int fail_errno)
{
	int timed_out = 0;

	chan_lock(ch);
	while (ch->len == 0 && !ch->closed && !nonblock && !timed_out) {
		ch->recv_waiters++;
		timed_out = chan_wait(ch, &ch->not_empty, deadline) != 0;
		ch->recv_waiters--;
	}
	/* Queued items are still handed out after close. */
	if (ch->len > 0) {
		*item = chan_take_locked(ch);
		if (ch->send_waiters > 0)
			pthread_cond_signal(&ch->not_full);
		chan_unlock(ch);
		return 0;
	}
	if (ch->closed)
		fail_errno = EPIPE;
	chan_unlock(ch);
	errno = fail_errno;
	return -1;
}

int
chan_recv(struct chan *ch, void **item)
{
	return chan_recv_common(ch, item, 0, NULL, 0);
}

int
chan_try_recv(struct chan *ch, void **item)
{
	return chan_recv_common(ch, item, 1, NULL, EAGAIN);
}

/* timeout_ms 0 receives only if an item is queued now, else -1/ETIMEDOUT. */
int
chan_timed_recv(struct chan *ch, void **item, long timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms < 0) {
		errno = EINVAL;
		return -1;
	}
	if (timeout_ms == 0)
		return chan_recv_common(ch, item, 1, NULL, ETIMEDOUT);
	chan_deadline(&deadline, timeout_ms);
	return chan_recv_common(ch, item, 0, &deadline, ETIMEDOUT);
}

size_t
chan_drain(struct chan *ch, void **items, size_t max)
{
	size_t n;
	int rearm;

	/* Clear first: a send after this point re-arms (see DESIGN above). */
	if (ch->efd != -1)
		chan_efd_clear(ch);

	chan_lock(ch);
	for (n = 0; n < max && ch->len > 0; n++)
		items[n] = chan_take_locked(ch);
	if (n > 0 && ch->send_waiters > 0) {
		if (n == 1)
			pthread_cond_signal(&ch->not_full);
		else
			pthread_cond_broadcast(&ch->not_full);
	}
	/* Closed also re-arms, so the loop sees the close after its drain. */
	rearm = ch->efd != -1 && (ch->len > 0 || ch->closed);
	chan_unlock(ch);

	if (rearm)
		chan_efd_arm(ch);
	return n;
}

void
chan_close(struct chan *ch)
{
	chan_lock(ch);
	ch->closed = 1;
	pthread_cond_broadcast(&ch->not_empty);
	pthread_cond_broadcast(&ch->not_full);
	chan_unlock(ch);
	if (ch->efd != -1)
		chan_efd_arm(ch);
}

int
chan_is_closed(struct chan *ch)
{
	int closed;

	chan_lock(ch);
	closed = ch->closed;
	chan_unlock(ch);
	return closed;
}

size_t
chan_len(struct chan *ch)
{
	size_t len;

	chan_lock(ch);
	len = ch->len;
	chan_unlock(ch);
	return len;
}

size_t
chan_capacity(const struct chan *ch)
{
	return ch->capacity;
}

int
chan_fd(const struct chan *ch)
{
	return ch->efd;
}
