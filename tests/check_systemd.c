/*
 * check_systemd: the service manager's notification protocol, against a
 * fake manager: a unix datagram socket the test binds and names in
 * $NOTIFY_SOCKET before starting the real daemon.  jobd must say READY=1
 * (with a STATUS=) only once it serves, send WATCHDOG=1 at half of
 * $WATCHDOG_USEC, say STOPPING=1 when it begins to stop, and keep these
 * variables from its jobs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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

/*
 * Run jobd as a service manager would for socket activation: fds[] become
 * 3, 4, ... with LISTEN_PID and LISTEN_FDS set.  Returns its pid; *log_fd
 * reads its stderr.
 */
static pid_t
spawn_activated(const int *fds, int n, const char *const *args, int *log_fd)
{
	int logp[2], moved[8], i;
	const char *argv[32];
	char count[16];
	pid_t pid;

	ck_assert_int_eq(pipe(logp), 0);
	if ((pid = fork()) == 0) {
		/* Out of the way first, so no dup2 overwrites another. */
		for (i = 0; i < n; i++)
			moved[i] = fcntl(fds[i], F_DUPFD, 100);
		for (i = 0; i < n; i++)
			dup2(moved[i], 3 + i);
		dup2(logp[1], 2);
		snprintf(count, sizeof count, "%d", n);
		setenv("LISTEN_FDS", count, 1);
		snprintf(count, sizeof count, "%ld", (long)getpid());
		setenv("LISTEN_PID", count, 1);
		argv[0] = getenv("JOBD");
		for (i = 0; args[i] != NULL && i < 30; i++)
			argv[i + 1] = args[i];
		argv[i + 1] = NULL;
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(logp[1]);
	*log_fd = logp[0];
	return pid;
}

/* Read fd until text appears (10 s at most); what was read, malloc'd. */
static char *
read_until(int fd, const char *text)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	size_t len = 0, cap = 65536;
	char *buf = calloc(1, cap);
	ssize_t n;

	while (strstr(buf, text) == NULL && len < cap - 1 &&
	       poll(&pfd, 1, 10000) == 1 &&
	       (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	return buf;
}

static int
listening_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

static int
listening_tcp(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Sockets passed by a service manager: served, checked, left in place. */
START_TEST(test_socket_activation)
{
	char dir[] = "/tmp/jobd-activation.XXXXXX", sock[PATH_MAX];
	char token_file[PATH_MAX], token[128], hello[256], *log;
	const char *gen[] = {getenv("JOBD"), "--gen-token", token_file, NULL};
	const char *args[] = {"--config", "none", "--state-dir", "none",
	    "--socket", "none", "--token-file", token_file, NULL};
	int fds[2], port, log_fd, status;
	struct client u, t;
	struct stat st;
	json_t *r;
	FILE *f;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/jobd.sock", dir);
	snprintf(token_file, sizeof token_file, "%s/token", dir);
	ck_assert_int_eq(run_capture(gen, NULL, NULL, NULL), 0);
	f = fopen(token_file, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(token, sizeof token, f));
	fclose(f);
	token[strcspn(token, "\n")] = '\0';
	fds[0] = listening_unix(sock);
	fds[1] = listening_tcp(&port);
	pid = spawn_activated(fds, 2, args, &log_fd);
	close(fds[0]);
	close(fds[1]);
	log = read_until(log_fd, " ready:");
	ck_assert_ptr_nonnull(strstr(log, " ready:"));
	ck_assert_ptr_nonnull(strstr(log, "listening on unix "));
	ck_assert_ptr_nonnull(strstr(log, "(from the service manager)"));
	free(log);
	ck_assert_int_eq(client_unix(&u, sock), 0);
	json_decref(call_ok(&u, "{\"op\":\"ping\"}"));
	client_close(&u);
	/* TCP still needs the token. */
	ck_assert_int_eq(client_tcp_raw(&t, port), 0);
	call_err(&t, "{\"op\":\"ping\"}", "auth_required");
	client_close(&t);
	ck_assert_int_eq(client_tcp_raw(&t, port), 0);
	snprintf(
	    hello, sizeof hello, "{\"op\":\"hello\",\"token\":\"%s\"}", token);
	r = call_ok(&t, hello);
	json_decref(r);
	json_decref(call_ok(&t, "{\"op\":\"ping\"}"));
	client_close(&t);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The manager's socket file stays for the next start. */
	ck_assert_int_eq(stat(sock, &st), 0);
	close(log_fd);
	unlink(sock);
	unlink(token_file);
	rmdir(dir);
}
END_TEST

/* A passed fd that is not a listening socket: a clear refusal. */
START_TEST(test_socket_activation_bad)
{
	const char *args[] = {"--config", "none", "--state-dir", "none", NULL};
	int p[2], log_fd, status;
	char *log;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = spawn_activated(&p[0], 1, args, &log_fd);
	close(p[0]);
	close(p[1]);
	log = read_until(log_fd, "not a listening stream socket");
	ck_assert_ptr_nonnull(
	    strstr(log, "passed fd 3: not a listening stream socket"));
	free(log);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	close(log_fd);
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
	tcase_add_test(tc, test_socket_activation);
	tcase_add_test(tc, test_socket_activation_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(systemd_suite());
}
