/*
 * check_systemd: the service manager's notification protocol, against a
 * fake manager: a unix datagram socket the test binds and names in
 * $NOTIFY_SOCKET before starting the real daemon.  jobd must say READY=1
 * (with a STATUS=) only once it serves, send WATCHDOG=1 at half of
 * $WATCHDOG_USEC, say STOPPING=1 when it begins to stop, and keep these
 * variables from its jobs.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

static struct harness H;

/* The fake manager's socket: a path, or "@name" (abstract). */
static int
manager_open(const char *name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd;

	ck_assert_uint_lt(len, sizeof sun.sun_path);
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(
	    bind(fd, (struct sockaddr *)&sun,
	        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
	    0);
	return fd;
}

/* The next datagram within 10 s, malloc'd; NULL at the deadline. */
static char *
manager_recv(int fd)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	char buf[1024];
	ssize_t n;

	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	n = recv(fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* Datagrams until one contains text (others are STATUS= or WATCHDOG=1). */
static char *
manager_until(int fd, const char *text)
{
	char *msg;
	int i;

	for (i = 0; i < 1000; i++) {
		if ((msg = manager_recv(fd)) == NULL)
			return NULL;
		if (strstr(msg, text) != NULL)
			return msg;
		free(msg);
	}
	return NULL;
}

static void
notify_round(const char *name)
{
	struct client c;
	char *msg;
	json_t *r;
	int fd = manager_open(name);

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "200000", 1), 0);
	ck_assert_int_eq(harness_start(&H, NULL), 0);
	/* The first message: ready, with a status, after the listeners. */
	msg = manager_recv(fd);
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg, "READY=1\n"));
	ck_assert_ptr_nonnull(strstr(msg, "STATUS=0 running, 0 queued"));
	free(msg);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	/* Heartbeats every 100 ms. */
	msg = manager_until(fd, "WATCHDOG=1");
	ck_assert_ptr_nonnull(msg);
	free(msg);
	msg = manager_until(fd, "WATCHDOG=1");
	ck_assert_ptr_nonnull(msg);
	free(msg);
	ck_assert(harness_log_contains(&H, "watchdog: a heartbeat every 100"));
	/* Jobs never see the manager's variables. */
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"env\"]}}");
	ck_assert_ptr_null(
	    strstr(str(json_object_get(r, "job"), "stdout"), "NOTIFY_SOCKET"));
	ck_assert_ptr_null(
	    strstr(str(json_object_get(r, "job"), "stdout"), "WATCHDOG"));
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	msg = manager_until(fd, "STOPPING=1");
	ck_assert_ptr_nonnull(msg);
	free(msg);
	ck_assert_int_eq(harness_wait(&H), 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	close(fd);
}

START_TEST(test_notify_path)
{
	char name[PATH_MAX];

	snprintf(name, sizeof name, "/tmp/jobd-notify-%ld", (long)getpid());
	unlink(name);
	notify_round(name);
	unlink(name);
}
END_TEST

START_TEST(test_notify_abstract)
{
	char name[64];

	snprintf(name, sizeof name, "@jobd-notify-%ld-%ld", (long)getpid(),
	    (long)time(NULL));
	notify_round(name);
}
END_TEST

/* A watchdog meant for another process, and a bad socket: ignored. */
START_TEST(test_notify_ignored)
{
	char name[PATH_MAX], *msg;
	int fd;

	snprintf(name, sizeof name, "/tmp/jobd-notify-%ld", (long)getpid());
	unlink(name);
	fd = manager_open(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	ck_assert_int_eq(harness_start(&H, NULL), 0);
	msg = manager_recv(fd);
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg, "READY=1"));
	free(msg);
	ck_assert(!harness_log_contains(&H, "watchdog:"));
	ck_assert_int_eq(harness_stop(&H), 0);
	close(fd);
	unlink(name);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	setenv("WATCHDOG_USEC", "lots", 1);
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert(harness_log_contains(&H, "ignoring NOTIFY_SOCKET"));
	ck_assert(harness_log_contains(&H, "ignoring WATCHDOG_USEC=lots"));
	ck_assert_int_eq(harness_stop(&H), 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}
END_TEST

static Suite *
systemd_suite(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_notify_path);
	tcase_add_test(tc, test_notify_abstract);
	tcase_add_test(tc, test_notify_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(systemd_suite());
}
