/*
 * sdnotify: service manager notifications (see sdnotify.h).
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

static struct {
	int fd;
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_usec;
	struct event *watchdog;
} N = {.fd = -1};

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sdnotify_send("WATCHDOG=1");
}

/* $WATCHDOG_USEC, if it is meant for this process. */
static uint64_t
watchdog_from_env(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || end == usec || v == 0) {
		log_warn("ignoring WATCHDOG_USEC=%s: not a number of µs", usec);
		return 0;
	}
	return v;
}

void
sdnotify_init(struct event_base *base)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	N.watchdog_usec = watchdog_from_env();
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (path == NULL || path[0] == '\0') {
		N.watchdog_usec = 0;
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof N.addr.sun_path) {
		log_warn("ignoring NOTIFY_SOCKET=%s: not a socket path", path);
		N.watchdog_usec = 0;
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&N.addr, 0, sizeof N.addr);
	N.addr.sun_family = AF_UNIX;
	memcpy(N.addr.sun_path, path, len);
	if (path[0] == '@')
		N.addr.sun_path[0] = '\0'; /* abstract namespace */
	N.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
	N.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (N.fd < 0) {
		log_warn("notify socket: %s", strerror(errno));
		N.watchdog_usec = 0;
		return;
	}
	if (N.watchdog_usec > 0) {
		struct timeval tv = {(time_t)(N.watchdog_usec / 2 / 1000000),
		    (suseconds_t)(N.watchdog_usec / 2 % 1000000)};

		N.watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, NULL);
		event_add(N.watchdog, &tv);
		log_info("watchdog: a heartbeat every %llu ms",
		    (unsigned long long)(N.watchdog_usec / 2000));
	}
}

void
sdnotify_free(void)
{
	if (N.watchdog != NULL)
		event_free(N.watchdog);
	N.watchdog = NULL;
	if (N.fd >= 0)
		close(N.fd);
	N.fd = -1;
}

bool
sdnotify_enabled(void)
{
	return N.fd >= 0;
}

uint64_t
sdnotify_watchdog_usec(void)
{
	return N.watchdog_usec;
}

int
sdnotify_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (N.fd < 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof msg)
		n = (int)sizeof msg - 1;
	/* A datagram is sent whole or not at all; the manager may be slow,
	 * never block the loop for it. */
	if (sendto(N.fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
	        (struct sockaddr *)&N.addr, N.addrlen) != n) {
		log_debug("notify: %s", strerror(errno));
		return -1;
	}
	return 0;
}
