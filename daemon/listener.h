/*
 * listener: the sockets jobd accepts clients on.
 *
 * A unix socket (the default transport) and, when asked, TCP: on a
 * loopback address, or on any address once TLS is configured (tls.h); TCP
 * always needs the token (auth.h).
 * Each bound address is logged ("listening on tcp 127.0.0.1:40123"), so a
 * caller that asked for port 0 learns the port.
 */
#ifndef JOBD_LISTENER_H
#define JOBD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

struct addrinfo;
struct sockaddr;
struct sockaddr_storage;
struct sockaddr;

/* Bind and listen; -1 with a message in err on failure. */
int listener_unix(const char *path, char *err, size_t errlen);
int listener_tcp(const char *hostport, char *err, size_t errlen);
/*
 * Take the listening sockets a service manager passed (socket activation:
 * $LISTEN_PID is this process, $LISTEN_FDS sockets from fd 3), each
 * checked as --socket and --listen would be.  Returns how many (0: none
 * passed), or -1 with a message in err.
 */
int listener_inherited(char *err, size_t errlen);
/* Stop accepting and close every listener (removing the unix socket). */
void listener_close_all(void);

/*
 * HOST:PORT (numeric, IPv6 in brackets) as addresses to freeaddrinfo();
 * -1 with a message in err that starts with option and hostport.
 */
int listener_resolve(const char *option, const char *hostport,
    struct addrinfo **ai, char *err, size_t errlen);
/*
 * A TCP socket bound to ai (SO_REUSEADDR, non-blocking, close-on-exec),
 * not yet listening; *bound is its address (port 0 resolved).  The fd,
 * or -1 with a message in err that starts with option and hostport.
 */
int listener_bind(const char *option, const char *hostport,
    const struct addrinfo *ai, struct sockaddr_storage *bound, char *err,
    size_t errlen);
/* "127.0.0.1:40123", "[::1]:40123", or "unix" for anything else. */
void listener_address(const struct sockaddr *sa, char *buf, size_t len);
/* Is sa in 127.0.0.0/8 or ::1? */
bool listener_is_loopback(const struct sockaddr *sa);

#endif
