/*
 * tls: libjobd's side of TLS (OpenSSL), for conn.c.
 *
 * The policy is jobd's: TLS 1.2 at least, for 1.2 only ECDHE with AEAD
 * ciphers, no compression, no renegotiation, no session tickets.  jobd's
 * certificate must chain to the CA of tls_ca and name the host of the
 * address: its IP address (X509_VERIFY_PARAM_set1_ip_asc) or its DNS name
 * (SSL_set1_host; also sent as SNI).  The socket BIO sends with
 * MSG_NOSIGNAL, so a write to a jobd that went away fails with EPIPE, as
 * on the plain path, instead of raising SIGPIPE.  An encrypted key is
 * refused rather than prompted for.
 */
#ifndef LIBJOBD_TLS_H
#define LIBJOBD_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

struct jobd_options;

/* The context for tls's files; NULL with "TLS CA file FILE: why" in err. */
SSL_CTX *tls_client_context(
    const struct jobd_options *tls, char *err, size_t errlen);
/*
 * TLS over the connected non-blocking socket fd: the handshake, finished
 * within timeout_ms, with jobd's certificate checked for host.  NULL with
 * errno and "cannot connect to ADDR: TLS: why" in err.
 */
SSL *tls_client_start(SSL_CTX *ctx, int fd, const char *addr, const char *host,
    int timeout_ms, char *err, size_t errlen);
/*
 * Why an operation on ssl failed (ssl_err: SSL_get_error()'s code), and
 * an empty error queue.  Returns the errno to report: EPIPE when jobd just
 * closed, the system call's error, or ECONNABORTED for a TLS failure,
 * which is then described in why.
 */
int tls_client_failure(SSL *ssl, int ssl_err, char *why, size_t len);

#endif
