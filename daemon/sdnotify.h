/*
 * sdnotify: the service manager's notification protocol, without
 * libsystemd.
 *
 * When $NOTIFY_SOCKET names a unix datagram socket (a path, or "@name"
 * for the abstract namespace), sdnotify_send() sends it one datagram of
 * "KEY=VALUE" lines: READY=1 once jobd serves, STATUS=... with a short
 * summary, STOPPING=1 when it begins to stop, WATCHDOG=1 as a heartbeat.
 * With $WATCHDOG_USEC set (and $WATCHDOG_PID, if set, naming this
 * process) a loop timer sends WATCHDOG=1 at half that interval, so a
 * stuck event loop gets jobd restarted.  Without $NOTIFY_SOCKET every call
 * does nothing.  Runs on the event loop's thread.
 */
#ifndef JOBD_SDNOTIFY_H
#define JOBD_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

/*
 * Read the environment; arm the watchdog timer on base.  The variables
 * are removed from the environment so that jobs never see them.
 */
void sdnotify_init(struct event_base *base);
void sdnotify_free(void);
/* Send a printf-made message; 0, or -1 (no socket, or it failed). */
int sdnotify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Is a service manager listening? */
bool sdnotify_enabled(void);
/* The watchdog interval in µs, or 0. */
uint64_t sdnotify_watchdog_usec(void);

#endif
