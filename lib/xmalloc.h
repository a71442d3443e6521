/*
 * xmalloc: allocation that cannot fail.  jobd bounds its memory by limits on
 * what it accepts (line length, queued jobs, output caps), so running out of
 * memory is not an input error but a broken machine: these wrappers log and
 * abort rather than make every caller invent a recovery path.
 */
#ifndef JOBD_XMALLOC_H
#define JOBD_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Cache-line (or stricter power-of-two) aligned allocation; free with free().
 */
void *xaligned_alloc(size_t alignment, size_t size);
/* Free a NULL-terminated array of strings and the strings (NULL: none). */
void strv_free(char **v);
int xasprintf(char **ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int xvasprintf(char **ret, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
