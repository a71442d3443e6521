/*
 * statedir: jobd's state directory (--state-dir).
 *
 * Opened once at start: created if missing (mode 0700), and locked, so a
 * second jobd on the same directory refuses to start instead of the two
 * overwriting each other's state.  Files in it are replaced atomically.
 */
#ifndef JOBD_STATEDIR_H
#define JOBD_STATEDIR_H

#include <stddef.h>

/* Create, open and lock dir; -1 with a message naming the problem. */
int statedir_open(const char *dir, char *err, size_t errlen);
void statedir_close(void);
/* The directory, or NULL if none is open (--state-dir none). */
const char *statedir_path(void);

/* Replace file name with data, durably (tmp file, fsync, rename); -1/errno. */
int statedir_write(const char *name, const char *data, size_t len);
/* The whole of file name, NUL-terminated, malloc'd; NULL/errno (ENOENT). */
char *statedir_read(const char *name, size_t *len);

#endif
