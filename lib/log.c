/*
 * log: stderr logging with journald priority prefixes (see log.h).
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from different threads never interleave.  Overlong messages are
 * cut and end in "...".
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static const char *log_ident;
/* Relaxed: a level change needs no ordering with anything else. */
static atomic_int log_level = LOG_LEVEL_INFO;
static atomic_int log_fd = STDERR_FILENO;

static const char *const log_names[] = {
    [LOG_LEVEL_ERR] = "err",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_NOTICE] = "notice",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(const char *ident, enum log_level level)
{
	log_ident = ident;
	log_set_level(level);
}

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
log_set_fd(int fd)
{
	atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

int
log_level_parse(const char *name)
{
	int i;

	for (i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcasecmp(name, log_names[i]) == 0)
			return i;
	}
	if (name[0] >= '3' && name[0] <= '7' && name[1] == '\0')
		return name[0] - '0';
	if (strcasecmp(name, "error") == 0)
		return LOG_LEVEL_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_LEVEL_WARNING;
	return -1;
}

static void log_write(enum log_level level, const char *fmt, va_list ap,
    int errnum) __attribute__((format(printf, 2, 0)));

static void
log_write(enum log_level level, const char *fmt, va_list ap, int errnum)
{
	char line[LOG_LINE_MAX];
	size_t len, room;
	int n, fd;

	n = snprintf(line, sizeof line, "<%d>%s%s", (int)level,
	    log_ident != NULL ? log_ident : "", log_ident != NULL ? ": " : "");
	len = (size_t)n;
	n = vsnprintf(line + len, sizeof line - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (errnum != 0 && len < sizeof line) {
		n = snprintf(
		    line + len, sizeof line - len, ": %s", strerror(errnum));
		if (n > 0)
			len += (size_t)n;
	}
	room = sizeof line - 1;
	if (len > room) {
		len = room;
		memcpy(line + len - 3, "...", 3);
	}
	line[len++] = '\n';
	fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
	while (write(fd, line, len) < 0 && errno == EINTR)
		;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	int saved = errno;

	if ((int)level <= (int)log_get_level())
		log_write(level, fmt, ap, 0);
	errno = saved;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int errnum = errno;

	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERR, fmt, ap, errnum);
	va_end(ap);
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERR, fmt, ap, 0);
	va_end(ap);
	abort();
}
