/*
 * httpd: the HTTP listener Prometheus scrapes (--metrics-listen).
 *
 * GET (or HEAD) /metrics answers the exposition of metrics.c; any other
 * path is 404, any other method on /metrics 405.  It is plain HTTP with no
 * authentication, so it binds loopback addresses only.  The bound address
 * is logged ("metrics on http 127.0.0.1:40124"), so a caller that asked for
 * port 0 learns the port.  Loop thread only.
 */
#ifndef JOBD_HTTPD_H
#define JOBD_HTTPD_H

#include <stddef.h>

/* Bind HOST:PORT and serve; -1 with a message in err. */
int httpd_listen(const char *hostport, char *err, size_t errlen);
/* Stop serving: close the listener and its connections (idempotent). */
void httpd_close(void);

#endif
