/*
 * tls: TLS on jobd's TCP listener.
 *
 * With --tls-cert and --tls-key, every TCP connection is TLS: the listener
 * hands the accepted socket to tls_bufferevent_new(), and conn.c reads and
 * writes plain text through the bufferevent as before.  --tls-client-ca
 * adds a gate: a client must present a certificate signed by that CA, or
 * its handshake fails.  The token is required over TLS all the same.
 *
 * One SSL_CTX lives from tls_init() to tls_free().  Everything here runs on
 * the event loop's thread.
 */
#ifndef JOBD_TLS_H
#define JOBD_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct bufferevent;
struct event_base;

/*
 * Load the certificate chain, its key and the optional client CA (PEM
 * files).  -1 with a message that names the file and OpenSSL's reason.
 */
int tls_init(const char *cert, const char *key, const char *client_ca,
    char *err, size_t errlen);
bool tls_enabled(void);
/* A server-side TLS bufferevent over fd, handshake pending; NULL on error
 * (fd is then closed). */
struct bufferevent *tls_bufferevent_new(struct event_base *base, int fd);
/* Why the TLS session on bev failed ("certificate verify failed: ..."). */
void tls_failure_reason(struct bufferevent *bev, char *buf, size_t len);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384": what the handshake agreed on. */
void tls_describe(struct bufferevent *bev, char *buf, size_t len);
/*
 * Before closing after a failed handshake: read (and drop) what input is
 * there, up to 64 KiB.  Closing a socket with unread input sends a reset,
 * which can destroy the alert that says why before the client reads it.
 */
void tls_discard_input(struct bufferevent *bev);
/*
 * Send close_notify if the session is established and sound.  Never
 * blocks: if the socket has no room, the alert is dropped.
 */
void tls_close_notify(struct bufferevent *bev);
void tls_free(void);

#endif
