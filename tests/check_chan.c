/*
 * check_chan: unit and stress tests for lib/chan.c.
 *
 * Threads never call ck_assert (a failure must unwind the test's own thread):
 * they record results in their argument struct and the test thread asserts
 * after joining them.  Threads that are meant to block announce it through an
 * atomic counter which the test waits on, with a deadline; nothing sleeps to
 * synchronise.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "chan.h"
#include "common.h"
#include "xmalloc.h"

#define WAIT_NS (30ull * 1000000000ull)

#define ITEM(i) ((void *)(uintptr_t)(i))
#define VALUE(p) ((uintptr_t)(p))

/* Wait until *counter reaches want; false after WAIT_NS. */
static int
wait_for_count(atomic_int *counter, int want)
{
	uint64_t deadline = test_now_ns() + WAIT_NS;

	while (atomic_load(counter) < want) {
		if (test_now_ns() > deadline)
			return 0;
		sched_yield();
	}
	return 1;
}

/*
 * Wait until Linux reports thread tid asleep ('S' in its stat), so a test
 * knows the thread really blocked rather than merely being about to.  A
 * thread briefly asleep on the channel mutex passes too, which only makes
 * the check weaker, never wrong.  False after WAIT_NS or without /proc.
 */
static int
wait_for_sleep(pid_t tid)
{
	uint64_t deadline = test_now_ns() + WAIT_NS;
	char path[64], buf[256], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	for (;;) {
		if ((f = fopen(path, "r")) == NULL)
			return 0;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* "tid (comm) S ...": comm may hold spaces, so find the ')'. */
		paren = strrchr(buf, ')');
		if (paren != NULL && paren[1] == ' ' && paren[2] == 'S')
			return 1;
		if (test_now_ns() > deadline)
			return 0;
		sched_yield();
	}
}

/* Whether fd is readable within timeout_ms. */
static int
fd_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	while ((n = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	ck_assert_int_ge(n, 0);
	return n == 1 && (pfd.revents & POLLIN);
}

/* One thread doing one blocking operation on a channel. */
struct op_arg {
	struct chan *ch;
	atomic_int *entered; /* incremented just before the call */
	pid_t tid;           /* the thread's id, set before entered */
	int timed;           /* use the timed form with a long timeout */
	void *item;          /* to send, or received */
	int rc;
	int error;
};

static void *
recv_thread(void *arg)
{
	struct op_arg *op = arg;

	op->tid = gettid();
	atomic_fetch_add(op->entered, 1);
	if (op->timed)
		op->rc = chan_timed_recv(op->ch, &op->item, 60000);
	else
		op->rc = chan_recv(op->ch, &op->item);
	op->error = op->rc == 0 ? 0 : errno;
	return NULL;
}

static void *
send_thread(void *arg)
{
	struct op_arg *op = arg;

	op->tid = gettid();
	atomic_fetch_add(op->entered, 1);
	if (op->timed)
		op->rc = chan_timed_send(op->ch, op->item, 60000);
	else
		op->rc = chan_send(op->ch, op->item);
	op->error = op->rc == 0 ? 0 : errno;
	return NULL;
}

START_TEST(test_create_bad)
{
	errno = 0;
	ck_assert_ptr_null(chan_create(0, 0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(chan_create(0, CHAN_EVENTFD));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(chan_create(4, 0x2));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(chan_create(4, -1));
	ck_assert_int_eq(errno, EINVAL);
	chan_free(NULL);
}
END_TEST

START_TEST(test_fifo)
{
	struct chan *ch;
	void *item;
	uintptr_t i, next_in = 1, next_out = 1;

	ch = chan_create(8, 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(chan_capacity(ch), 8);
	ck_assert_uint_eq(chan_len(ch), 0);
	ck_assert_int_eq(chan_fd(ch), -1);
	ck_assert_int_eq(chan_is_closed(ch), 0);

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(chan_send(ch, ITEM(next_in++)), 0);
	ck_assert_uint_eq(chan_len(ch), 8);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(chan_recv(ch, &item), 0);
		ck_assert_uint_eq(VALUE(item), next_out++);
	}
	ck_assert_uint_eq(chan_len(ch), 0);

	/* Uneven batches so head and tail wrap around the ring many times. */
	for (i = 0; i < 100; i++) {
		size_t k, batch = 1 + i % 7;

		for (k = 0; k < batch; k++)
			ck_assert_int_eq(chan_try_send(ch, ITEM(next_in++)), 0);
		ck_assert_uint_eq(chan_len(ch), batch);
		for (k = 0; k < batch; k++) {
			ck_assert_int_eq(chan_try_recv(ch, &item), 0);
			ck_assert_uint_eq(VALUE(item), next_out++);
		}
	}
	/* NULL is an item like any other. */
	ck_assert_int_eq(chan_send(ch, NULL), 0);
	item = ITEM(1);
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_ptr_null(item);
	chan_free(ch);
}
END_TEST

START_TEST(test_capacity_one)
{
	struct chan *ch;
	void *item;
	int i;

	ch = chan_create(1, 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(chan_capacity(ch), 1);
	for (i = 1; i <= 5; i++) {
		ck_assert_int_eq(chan_send(ch, ITEM(i)), 0);
		errno = 0;
		ck_assert_int_eq(chan_try_send(ch, ITEM(99)), -1);
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_uint_eq(chan_len(ch), 1);
		ck_assert_int_eq(chan_recv(ch, &item), 0);
		ck_assert_uint_eq(VALUE(item), (uintptr_t)i);
	}
	chan_free(ch);
}
END_TEST

START_TEST(test_try_full_empty)
{
	struct chan *ch;
	void *item = ITEM(7);

	ch = chan_create(2, 0);
	ck_assert_ptr_nonnull(ch);
	errno = 0;
	ck_assert_int_eq(chan_try_recv(ch, &item), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(VALUE(item), 7); /* untouched on failure */

	ck_assert_int_eq(chan_try_send(ch, ITEM(1)), 0);
	ck_assert_int_eq(chan_try_send(ch, ITEM(2)), 0);
	errno = 0;
	ck_assert_int_eq(chan_try_send(ch, ITEM(3)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(chan_len(ch), 2);

	ck_assert_int_eq(chan_try_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 1);
	ck_assert_int_eq(chan_try_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 2);
	errno = 0;
	ck_assert_int_eq(chan_try_recv(ch, &item), -1);
	ck_assert_int_eq(errno, EAGAIN);
	chan_free(ch);
}
END_TEST

START_TEST(test_timed_recv_timeout)
{
	struct chan *ch;
	void *item = ITEM(7);
	uint64_t start, elapsed;

	ch = chan_create(4, 0);
	ck_assert_ptr_nonnull(ch);
	start = test_now_ns();
	errno = 0;
	ck_assert_int_eq(chan_timed_recv(ch, &item, 50), -1);
	elapsed = test_now_ns() - start;
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_uint_ge(elapsed, 50ull * 1000000ull);
	ck_assert_uint_eq(VALUE(item), 7);

	/* An item already there is returned at once. */
	ck_assert_int_eq(chan_send(ch, ITEM(3)), 0);
	ck_assert_int_eq(chan_timed_recv(ch, &item, 50), 0);
	ck_assert_uint_eq(VALUE(item), 3);
	chan_free(ch);
}
END_TEST

START_TEST(test_timed_send_timeout)
{
	struct chan *ch;
	void *item;
	uint64_t start, elapsed;

	ch = chan_create(2, 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(chan_timed_send(ch, ITEM(1), 50), 0);
	ck_assert_int_eq(chan_timed_send(ch, ITEM(2), 50), 0);
	start = test_now_ns();
	errno = 0;
	ck_assert_int_eq(chan_timed_send(ch, ITEM(3), 50), -1);
	elapsed = test_now_ns() - start;
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_uint_ge(elapsed, 50ull * 1000000ull);
	ck_assert_uint_eq(chan_len(ch), 2);
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 1);
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 2);
	chan_free(ch);
}
END_TEST

START_TEST(test_timed_zero_and_negative)
{
	struct chan *ch;
	void *item = ITEM(7);

	ch = chan_create(1, 0);
	ck_assert_ptr_nonnull(ch);
	errno = 0;
	ck_assert_int_eq(chan_timed_recv(ch, &item, 0), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	errno = 0;
	ck_assert_int_eq(chan_timed_recv(ch, &item, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(chan_timed_send(ch, ITEM(1), -5), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(chan_len(ch), 0);

	ck_assert_int_eq(chan_timed_send(ch, ITEM(1), 0), 0);
	errno = 0;
	ck_assert_int_eq(chan_timed_send(ch, ITEM(2), 0), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_eq(chan_timed_recv(ch, &item, 0), 0);
	ck_assert_uint_eq(VALUE(item), 1);
	chan_free(ch);
}
END_TEST

/* A blocked timed receiver gets an item sent by another thread. */
START_TEST(test_timed_recv_wakes_on_send)
{
	struct chan *ch;
	atomic_int entered = 0;
	struct op_arg op = {.entered = &entered, .timed = 1};
	pthread_t t;

	ch = chan_create(1, 0);
	ck_assert_ptr_nonnull(ch);
	op.ch = ch;
	ck_assert_int_eq(pthread_create(&t, NULL, recv_thread, &op), 0);
	ck_assert(wait_for_count(&entered, 1));
	ck_assert(wait_for_sleep(op.tid));
	ck_assert_int_eq(chan_send(ch, ITEM(42)), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(op.rc, 0);
	ck_assert_uint_eq(VALUE(op.item), 42);
	chan_free(ch);
}
END_TEST

/* A sender blocked on a full channel completes once a receiver makes room. */
START_TEST(test_blocked_send_completes)
{
	struct chan *ch;
	atomic_int entered = 0;
	struct op_arg op = {.entered = &entered, .item = ITEM(2)};
	pthread_t t;
	void *item;

	ch = chan_create(1, 0);
	ck_assert_ptr_nonnull(ch);
	op.ch = ch;
	ck_assert_int_eq(chan_send(ch, ITEM(1)), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, send_thread, &op), 0);
	ck_assert(wait_for_count(&entered, 1));
	ck_assert(wait_for_sleep(op.tid));
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 1);
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 2);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(op.rc, 0);
	chan_free(ch);
}
END_TEST

#define NBLOCKED 4

/* Close wakes every blocked receiver, plain and timed, with EPIPE. */
START_TEST(test_close_wakes_receivers)
{
	struct chan *ch;
	atomic_int entered = 0;
	struct op_arg ops[NBLOCKED];
	pthread_t t[NBLOCKED];
	int i;

	ch = chan_create(4, 0);
	ck_assert_ptr_nonnull(ch);
	for (i = 0; i < NBLOCKED; i++) {
		ops[i] = (struct op_arg){
		    .ch = ch, .entered = &entered, .timed = i % 2};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, recv_thread, &ops[i]), 0);
	}
	ck_assert(wait_for_count(&entered, NBLOCKED));
	for (i = 0; i < NBLOCKED; i++)
		ck_assert(wait_for_sleep(ops[i].tid));
	chan_close(ch);
	for (i = 0; i < NBLOCKED; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(ops[i].rc, -1);
		ck_assert_int_eq(ops[i].error, EPIPE);
	}
	ck_assert_int_eq(chan_is_closed(ch), 1);
	chan_free(ch);
}
END_TEST

/* Close wakes every sender blocked on a full channel with EPIPE. */
START_TEST(test_close_wakes_senders)
{
	struct chan *ch;
	atomic_int entered = 0;
	struct op_arg ops[NBLOCKED];
	pthread_t t[NBLOCKED];
	void *item;
	int i;

	ch = chan_create(1, 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(chan_send(ch, ITEM(1)), 0);
	for (i = 0; i < NBLOCKED; i++) {
		ops[i] = (struct op_arg){.ch = ch,
		    .entered = &entered,
		    .timed = i % 2,
		    .item = ITEM(100 + i)};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, send_thread, &ops[i]), 0);
	}
	ck_assert(wait_for_count(&entered, NBLOCKED));
	for (i = 0; i < NBLOCKED; i++)
		ck_assert(wait_for_sleep(ops[i].tid));
	chan_close(ch);
	for (i = 0; i < NBLOCKED; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(ops[i].rc, -1);
		ck_assert_int_eq(ops[i].error, EPIPE);
	}
	/* The item queued before close is still there, and nothing else. */
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 1);
	errno = 0;
	ck_assert_int_eq(chan_try_recv(ch, &item), -1);
	ck_assert_int_eq(errno, EPIPE);
	chan_free(ch);
}
END_TEST

START_TEST(test_close_drains_in_order)
{
	struct chan *ch;
	void *item = ITEM(7);
	uintptr_t i;

	ch = chan_create(8, 0);
	ck_assert_ptr_nonnull(ch);
	for (i = 1; i <= 5; i++)
		ck_assert_int_eq(chan_send(ch, ITEM(i)), 0);
	chan_close(ch);
	chan_close(ch); /* twice is harmless */
	ck_assert_int_eq(chan_is_closed(ch), 1);
	ck_assert_uint_eq(chan_len(ch), 5);

	/* Every receive form still hands out what was queued. */
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 1);
	ck_assert_int_eq(chan_try_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 2);
	ck_assert_int_eq(chan_timed_recv(ch, &item, 0), 0);
	ck_assert_uint_eq(VALUE(item), 3);
	ck_assert_int_eq(chan_timed_recv(ch, &item, 1000), 0);
	ck_assert_uint_eq(VALUE(item), 4);
	ck_assert_int_eq(chan_recv(ch, &item), 0);
	ck_assert_uint_eq(VALUE(item), 5);

	/* Then EPIPE from all of them, without blocking. */
	item = ITEM(7);
	errno = 0;
	ck_assert_int_eq(chan_recv(ch, &item), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(chan_try_recv(ch, &item), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(chan_timed_recv(ch, &item, 60000), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(VALUE(item), 7);
	chan_free(ch);
}
END_TEST

START_TEST(test_send_after_close)
{
	struct chan *ch;

	ch = chan_create(4, 0);
	ck_assert_ptr_nonnull(ch);
	chan_close(ch);
	/* EPIPE although there is room. */
	errno = 0;
	ck_assert_int_eq(chan_send(ch, ITEM(1)), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(chan_try_send(ch, ITEM(1)), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(chan_timed_send(ch, ITEM(1), 0), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(chan_timed_send(ch, ITEM(1), 60000), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
}
END_TEST

START_TEST(test_drain_plain)
{
	struct chan *ch;
	void *items[8];
	uintptr_t i;

	ch = chan_create(8, 0);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(chan_fd(ch), -1);
	ck_assert_uint_eq(chan_drain(ch, items, 8), 0);
	for (i = 1; i <= 6; i++)
		ck_assert_int_eq(chan_send(ch, ITEM(i)), 0);
	ck_assert_uint_eq(chan_drain(ch, items, 0), 0);
	ck_assert_uint_eq(chan_drain(ch, items, 4), 4);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(VALUE(items[i]), i + 1);
	ck_assert_uint_eq(chan_drain(ch, items, 8), 2);
	ck_assert_uint_eq(VALUE(items[0]), 5);
	ck_assert_uint_eq(VALUE(items[1]), 6);
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
}
END_TEST

/* Draining a full channel wakes all the senders blocked on it. */
START_TEST(test_drain_wakes_senders)
{
	struct chan *ch;
	atomic_int entered = 0;
	struct op_arg ops[NBLOCKED];
	pthread_t t[NBLOCKED];
	void *items[NBLOCKED];
	int seen[NBLOCKED] = {0};
	size_t n, k;
	int i;

	ch = chan_create(NBLOCKED, 0);
	ck_assert_ptr_nonnull(ch);
	for (i = 0; i < NBLOCKED; i++)
		ck_assert_int_eq(chan_send(ch, ITEM(1)), 0);
	for (i = 0; i < NBLOCKED; i++) {
		ops[i] = (struct op_arg){
		    .ch = ch, .entered = &entered, .item = ITEM(100 + i)};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, send_thread, &ops[i]), 0);
	}
	ck_assert(wait_for_count(&entered, NBLOCKED));
	for (i = 0; i < NBLOCKED; i++)
		ck_assert(wait_for_sleep(ops[i].tid));
	ck_assert_uint_eq(chan_drain(ch, items, NBLOCKED), NBLOCKED);
	for (k = 0; k < NBLOCKED; k++)
		ck_assert_uint_eq(VALUE(items[k]), 1);
	for (i = 0; i < NBLOCKED; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(ops[i].rc, 0);
	}
	n = chan_drain(ch, items, NBLOCKED);
	ck_assert_uint_eq(n, NBLOCKED);
	for (k = 0; k < n; k++) {
		uintptr_t v = VALUE(items[k]);

		ck_assert_uint_ge(v, 100);
		ck_assert_uint_lt(v, 100 + NBLOCKED);
		seen[v - 100]++;
	}
	for (i = 0; i < NBLOCKED; i++)
		ck_assert_int_eq(seen[i], 1);
	chan_free(ch);
}
END_TEST

START_TEST(test_eventfd_basic)
{
	struct chan *ch;
	void *items[8];
	uintptr_t i;
	int fd;

	ch = chan_create(8, CHAN_EVENTFD);
	ck_assert_ptr_nonnull(ch);
	fd = chan_fd(ch);
	ck_assert_int_ge(fd, 0);
	ck_assert(!fd_readable(fd, 0));

	ck_assert_int_eq(chan_send(ch, ITEM(1)), 0);
	ck_assert(fd_readable(fd, 1000));
	for (i = 2; i <= 3; i++)
		ck_assert_int_eq(chan_send(ch, ITEM(i)), 0);
	ck_assert(fd_readable(fd, 1000));

	ck_assert_uint_eq(chan_drain(ch, items, 8), 3);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(VALUE(items[i]), i + 1);
	ck_assert(!fd_readable(fd, 0));
	ck_assert_uint_eq(chan_len(ch), 0);

	/* The next send into the now empty channel signals again. */
	ck_assert_int_eq(chan_try_send(ch, ITEM(9)), 0);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 8), 1);
	ck_assert_uint_eq(VALUE(items[0]), 9);
	ck_assert(!fd_readable(fd, 0));

	/* A spurious wake-up drains nothing and leaves the fd clear. */
	ck_assert_uint_eq(chan_drain(ch, items, 8), 0);
	ck_assert(!fd_readable(fd, 0));
	chan_free(ch);
}
END_TEST

START_TEST(test_eventfd_partial_drain)
{
	struct chan *ch;
	void *items[8];
	uintptr_t i;
	int fd;

	ch = chan_create(8, CHAN_EVENTFD);
	ck_assert_ptr_nonnull(ch);
	fd = chan_fd(ch);
	for (i = 1; i <= 5; i++)
		ck_assert_int_eq(chan_send(ch, ITEM(i)), 0);

	ck_assert_uint_eq(chan_drain(ch, items, 0), 0);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 2), 2);
	ck_assert_uint_eq(VALUE(items[0]), 1);
	ck_assert_uint_eq(VALUE(items[1]), 2);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 2), 2);
	ck_assert_uint_eq(VALUE(items[0]), 3);
	ck_assert_uint_eq(VALUE(items[1]), 4);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 2), 1);
	ck_assert_uint_eq(VALUE(items[0]), 5);
	ck_assert(!fd_readable(fd, 0));
	chan_free(ch);
}
END_TEST

START_TEST(test_eventfd_close)
{
	struct chan *ch;
	void *items[8];
	int fd;

	ch = chan_create(4, CHAN_EVENTFD);
	ck_assert_ptr_nonnull(ch);
	fd = chan_fd(ch);
	ck_assert(!fd_readable(fd, 0));
	chan_close(ch);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 8), 0);
	ck_assert_int_eq(chan_is_closed(ch), 1);
	/* A closed channel stays readable, like end-of-file. */
	ck_assert(fd_readable(fd, 1000));
	chan_free(ch);

	/* Items queued before close are drained first. */
	ch = chan_create(4, CHAN_EVENTFD);
	ck_assert_ptr_nonnull(ch);
	fd = chan_fd(ch);
	ck_assert_int_eq(chan_send(ch, ITEM(1)), 0);
	ck_assert_int_eq(chan_send(ch, ITEM(2)), 0);
	ck_assert_uint_eq(chan_drain(ch, items, 8), 2);
	ck_assert(!fd_readable(fd, 0));
	ck_assert_int_eq(chan_send(ch, ITEM(3)), 0);
	chan_close(ch);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 8), 1);
	ck_assert_uint_eq(VALUE(items[0]), 3);
	ck_assert(fd_readable(fd, 1000));
	ck_assert_uint_eq(chan_drain(ch, items, 8), 0);
	chan_free(ch);
}
END_TEST

/*
 * Stress.  Item values encode producer and sequence number, so every
 * consumer can check that it sees each producer's items in send order.
 */
#define STRESS_PRODUCERS 4
#define STRESS_CONSUMERS 4
#define STRESS_ITEMS 1000000u
#define STRESS_PER_PRODUCER (STRESS_ITEMS / STRESS_PRODUCERS)

struct producer {
	struct chan *ch;
	unsigned int id;
	unsigned int count;
	int timed;
	int failures;
};

struct consumer {
	struct chan *ch;
	int timed;
	unsigned char *seen; /* per item value - 1: times received */
	uint64_t received;
	uint64_t order_errors;
	uint64_t range_errors;
	int last_error;
};

static void *
producer_thread(void *arg)
{
	struct producer *p = arg;
	unsigned int i;
	uintptr_t v;
	int rc;

	for (i = 0; i < p->count; i++) {
		v = (uintptr_t)p->id * p->count + i + 1;
		if (p->timed)
			rc = chan_timed_send(p->ch, ITEM(v), 60000);
		else
			rc = chan_send(p->ch, ITEM(v));
		if (rc != 0)
			p->failures++;
	}
	return NULL;
}

/* Record one received value; per-producer order is checked with last[]. */
static void
consumer_note(struct consumer *c, uintptr_t v, long *last, unsigned int per)
{
	unsigned int prod, seq;

	if (v == 0 || v > (uintptr_t)per * STRESS_PRODUCERS) {
		c->range_errors++;
		return;
	}
	prod = (unsigned int)((v - 1) / per);
	seq = (unsigned int)((v - 1) % per);
	if ((long)seq <= last[prod])
		c->order_errors++;
	last[prod] = seq;
	if (c->seen[v - 1] < UCHAR_MAX)
		c->seen[v - 1]++;
	c->received++;
}

static void *
consumer_thread(void *arg)
{
	struct consumer *c = arg;
	long last[STRESS_PRODUCERS];
	void *item;
	int i, rc;

	for (i = 0; i < STRESS_PRODUCERS; i++)
		last[i] = -1;
	for (;;) {
		if (c->timed)
			rc = chan_timed_recv(c->ch, &item, 60000);
		else
			rc = chan_recv(c->ch, &item);
		if (rc != 0)
			break;
		consumer_note(c, VALUE(item), last, STRESS_PER_PRODUCER);
	}
	c->last_error = errno;
	return NULL;
}

START_TEST(test_stress_mpmc)
{
	struct chan *ch;
	struct producer prod[STRESS_PRODUCERS];
	struct consumer cons[STRESS_CONSUMERS];
	pthread_t pt[STRESS_PRODUCERS], ct[STRESS_CONSUMERS];
	uint64_t total = 0;
	unsigned int i, k, missing = 0, duplicated = 0;

	ch = chan_create(64, 0);
	ck_assert_ptr_nonnull(ch);
	for (k = 0; k < STRESS_CONSUMERS; k++) {
		cons[k] = (struct consumer){.ch = ch, .timed = k % 2};
		cons[k].seen = xcalloc(STRESS_ITEMS, 1);
		ck_assert_int_eq(
		    pthread_create(&ct[k], NULL, consumer_thread, &cons[k]), 0);
	}
	for (i = 0; i < STRESS_PRODUCERS; i++) {
		prod[i] = (struct producer){.ch = ch,
		    .id = i,
		    .count = STRESS_PER_PRODUCER,
		    .timed = i % 2};
		ck_assert_int_eq(
		    pthread_create(&pt[i], NULL, producer_thread, &prod[i]), 0);
	}
	for (i = 0; i < STRESS_PRODUCERS; i++) {
		ck_assert_int_eq(pthread_join(pt[i], NULL), 0);
		ck_assert_int_eq(prod[i].failures, 0);
	}
	chan_close(ch);
	for (k = 0; k < STRESS_CONSUMERS; k++) {
		ck_assert_int_eq(pthread_join(ct[k], NULL), 0);
		ck_assert_int_eq(cons[k].last_error, EPIPE);
		ck_assert_uint_eq(cons[k].order_errors, 0);
		ck_assert_uint_eq(cons[k].range_errors, 0);
		total += cons[k].received;
	}
	ck_assert_uint_eq(total, STRESS_ITEMS);
	for (i = 0; i < STRESS_ITEMS; i++) {
		unsigned int times = 0;

		for (k = 0; k < STRESS_CONSUMERS; k++)
			times += cons[k].seen[i];
		if (times == 0)
			missing++;
		else if (times > 1)
			duplicated++;
	}
	ck_assert_uint_eq(missing, 0);
	ck_assert_uint_eq(duplicated, 0);
	for (k = 0; k < STRESS_CONSUMERS; k++)
		free(cons[k].seen);
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
}
END_TEST

/* The same producer count, so consumer_note() decodes values alike. */
#define EFD_PRODUCERS STRESS_PRODUCERS
#define EFD_PER_PRODUCER 100000u
#define EFD_ITEMS (EFD_PRODUCERS * EFD_PER_PRODUCER)
#define EFD_BATCH 16

struct closer {
	pthread_t *producers;
	struct producer *args;
	struct chan *ch;
	int failures;
};

/* Close the channel once every producer is done, as a daemon would. */
static void *
closer_thread(void *arg)
{
	struct closer *cl = arg;
	int i;

	for (i = 0; i < EFD_PRODUCERS; i++) {
		if (pthread_join(cl->producers[i], NULL) != 0)
			cl->failures++;
		cl->failures += cl->args[i].failures;
	}
	chan_close(cl->ch);
	return NULL;
}

/*
 * Producers send into an eventfd channel while this thread runs the
 * consumer protocol of an event loop: wait for the fd, drain, repeat until
 * a drain comes back empty on a closed channel.  A lost wake-up shows as a
 * poll that times out.
 */
START_TEST(test_stress_eventfd)
{
	struct chan *ch;
	struct producer prod[EFD_PRODUCERS];
	pthread_t pt[EFD_PRODUCERS], closer_tid;
	struct closer cl;
	struct consumer c;
	long last[EFD_PRODUCERS];
	void *items[EFD_BATCH];
	unsigned int i, missing = 0;
	size_t n, k;
	int fd, lost_wakeups = 0;

	ch = chan_create(64, CHAN_EVENTFD);
	ck_assert_ptr_nonnull(ch);
	fd = chan_fd(ch);
	c = (struct consumer){.ch = ch};
	c.seen = xcalloc(EFD_ITEMS, 1);
	for (i = 0; i < EFD_PRODUCERS; i++) {
		last[i] = -1;
		prod[i] = (struct producer){
		    .ch = ch, .id = i, .count = EFD_PER_PRODUCER};
		ck_assert_int_eq(
		    pthread_create(&pt[i], NULL, producer_thread, &prod[i]), 0);
	}
	cl = (struct closer){.producers = pt, .args = prod, .ch = ch};
	ck_assert_int_eq(
	    pthread_create(&closer_tid, NULL, closer_thread, &cl), 0);

	for (;;) {
		if (!fd_readable(fd, 30000)) {
			/* Fail instead of hanging: unblock the producers. */
			lost_wakeups++;
			chan_close(ch);
			break;
		}
		n = chan_drain(ch, items, EFD_BATCH);
		for (k = 0; k < n; k++)
			consumer_note(
			    &c, VALUE(items[k]), last, EFD_PER_PRODUCER);
		if (n == 0 && chan_is_closed(ch))
			break;
	}
	ck_assert_int_eq(pthread_join(closer_tid, NULL), 0);
	ck_assert_int_eq(lost_wakeups, 0);
	ck_assert_int_eq(cl.failures, 0);
	ck_assert_uint_eq(c.order_errors, 0);
	ck_assert_uint_eq(c.range_errors, 0);
	ck_assert_uint_eq(c.received, EFD_ITEMS);
	for (i = 0; i < EFD_ITEMS; i++) {
		if (c.seen[i] != 1)
			missing++;
	}
	ck_assert_uint_eq(missing, 0);
	free(c.seen);
	chan_free(ch);
}
END_TEST

static Suite *
chan_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("chan");

	tc = tcase_create("basic");
	tcase_add_test(tc, test_create_bad);
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_capacity_one);
	tcase_add_test(tc, test_try_full_empty);
	tcase_add_test(tc, test_drain_plain);
	suite_add_tcase(s, tc);

	tc = tcase_create("timed");
	tcase_add_test(tc, test_timed_recv_timeout);
	tcase_add_test(tc, test_timed_send_timeout);
	tcase_add_test(tc, test_timed_zero_and_negative);
	tcase_add_test(tc, test_timed_recv_wakes_on_send);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocking");
	tcase_add_test(tc, test_blocked_send_completes);
	tcase_add_test(tc, test_drain_wakes_senders);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_add_test(tc, test_close_wakes_receivers);
	tcase_add_test(tc, test_close_wakes_senders);
	tcase_add_test(tc, test_close_drains_in_order);
	tcase_add_test(tc, test_send_after_close);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("eventfd");
	tcase_add_test(tc, test_eventfd_basic);
	tcase_add_test(tc, test_eventfd_partial_drain);
	tcase_add_test(tc, test_eventfd_close);
	suite_add_tcase(s, tc);

	tc = tcase_create("stress");
	tcase_add_test(tc, test_stress_mpmc);
	tcase_add_test(tc, test_stress_eventfd);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(chan_suite());
}
