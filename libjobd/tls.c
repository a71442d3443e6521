/*
 * tls: libjobd's side of TLS (see tls.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "tls.h"

/* TLS 1.2 suites: ECDHE with an AEAD cipher, as jobd takes them. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

/* Never prompt for a passphrase: an encrypted key fails to load. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return 0;
}

/* OpenSSL's reason for its first queued error ("no start line"), and an
 * empty queue; the error. */
static unsigned long
openssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();
	const char *reason = ERR_reason_error_string(e);

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else if (reason != NULL)
		snprintf(buf, len, "%s", reason);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return e;
}

/* Load one of the PEM files of opt; -1 with "--OPT FILE: why" in err. */
static int
tls_load(
    SSL_CTX *ctx, const char *opt, const char *path, char *err, size_t errlen)
{
	char reason[256];
	unsigned long e;
	int fd, ok;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s %s: %s", opt, path, strerror(errno));
		return -1;
	}
	close(fd);
	if (strcmp(opt, "TLS CA file") == 0)
		ok = SSL_CTX_load_verify_locations(ctx, path, NULL);
	else if (strcmp(opt, "TLS certificate") == 0)
		ok = SSL_CTX_use_certificate_chain_file(ctx, path);
	else
		ok = SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM);
	if (ok == 1)
		return 0;
	e = openssl_reason(reason, sizeof reason);
	/* A key is compared with the certificate as it is loaded. */
	if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
	    (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
	        ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH)) {
		snprintf(err, errlen,
		    "%s %s does not match the certificate "
		    "(OpenSSL: %s)",
		    opt, path, reason);
		return -1;
	}
	snprintf(err, errlen, "%s %s: not a usable PEM %s (OpenSSL: %s)", opt,
	    path,
	    strcmp(opt, "TLS CA file") == 0 ? "CA certificate"
	    : strcmp(opt, "TLS certificate") == 0
	        ? "certificate"
	        : "private key (not encrypted)",
	    reason);
	return -1;
}

SSL_CTX *
tls_client_context(const struct jobd_options *tls, char *err, size_t errlen)
{
	char reason[256];
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		openssl_reason(reason, sizeof reason);
		snprintf(err, errlen, "TLS: cannot set up: %s", reason);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (tls_load(ctx, "TLS CA file", tls->tls_ca, err, errlen) != 0 ||
	    (tls->tls_cert != NULL && (tls_load(ctx, "TLS certificate",
	                                   tls->tls_cert, err, errlen) != 0 ||
	                                  tls_load(ctx, "TLS key", tls->tls_key,
	                                      err, errlen) != 0))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls->tls_cert != NULL && SSL_CTX_check_private_key(ctx) != 1) {
		openssl_reason(reason, sizeof reason);
		snprintf(err, errlen,
		    "TLS key %s does not match certificate %s (OpenSSL: %s)",
		    tls->tls_key, tls->tls_cert, reason);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A socket BIO whose writes cannot raise SIGPIPE (send(MSG_NOSIGNAL)). */
static int
bio_send(BIO *b, const char *data, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send((int)BIO_get_fd(b, NULL), data, (size_t)len, MSG_NOSIGNAL);
	if (n == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static BIO *
bio_nosigpipe(int fd)
{
	static BIO_METHOD *method;
	const BIO_METHOD *sock = BIO_s_socket();
	BIO *b;

	if (method == NULL) {
		if ((method = BIO_meth_new(BIO_get_new_index() |
		                               BIO_TYPE_SOURCE_SINK |
		                               BIO_TYPE_DESCRIPTOR,
		         "socket, MSG_NOSIGNAL")) == NULL)
			return NULL;
		BIO_meth_set_write(method, bio_send);
		BIO_meth_set_read(method, BIO_meth_get_read(sock));
		BIO_meth_set_ctrl(method, BIO_meth_get_ctrl(sock));
		BIO_meth_set_create(method, BIO_meth_get_create(sock));
		BIO_meth_set_destroy(method, BIO_meth_get_destroy(sock));
	}
	if ((b = BIO_new(method)) != NULL)
		BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}

int
tls_client_failure(SSL *ssl, int ssl_err, char *why, size_t len)
{
	unsigned long e = ERR_peek_error();
	const char *hint = "";
	int saved = errno, reason = ERR_GET_REASON(e);
	long verify;
	size_t used;

	if (ssl_err == SSL_ERROR_ZERO_RETURN ||
	    (ssl_err == SSL_ERROR_SYSCALL && e == 0 && saved == 0) ||
	    (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	        reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		ERR_clear_error();
		return EPIPE;
	}
	if (ssl_err == SSL_ERROR_SYSCALL && e == 0)
		return saved;
	openssl_reason(why, len);
	used = strlen(why);
	if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
		switch (reason) {
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
			verify = SSL_get_verify_result(ssl);
			if (verify != X509_V_OK && used < len)
				snprintf(why + used, len - used, ": %s",
				    X509_verify_cert_error_string(verify));
			break;
		case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
			hint = " (jobd wants a client certificate)";
			break;
		case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
			hint = " (jobd refused the client certificate)";
			break;
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_PACKET_LENGTH_TOO_LONG:
		case SSL_R_RECORD_LENGTH_MISMATCH:
			hint = " (does jobd speak TLS on this port?)";
			break;
		}
	}
	used = strlen(why);
	if (used < len)
		snprintf(why + used, len - used, "%s", hint);
	return ECONNABORTED;
}

/* Wait for events on fd until deadline; 0 when they came. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {fd, events, 0};
	int64_t left;
	int r;

	do {
		left = deadline - conn_now_ms();
		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

SSL *
tls_client_start(SSL_CTX *ctx, int fd, const char *addr, const char *host,
    int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = conn_now_ms() + timeout_ms;
	unsigned char ip[sizeof(struct in6_addr)];
	char sni[256], why[256]; /* the SNI macro takes a char * */
	BIO *bio;
	SSL *ssl;
	int r, e, saved;

	if ((ssl = SSL_new(ctx)) == NULL || (bio = bio_nosigpipe(fd)) == NULL) {
		ERR_clear_error();
		SSL_free(ssl);
		snprintf(err, errlen,
		    "cannot connect to %s: TLS: out of memory", addr);
		errno = ENOMEM;
		return NULL;
	}
	SSL_set_bio(ssl, bio, bio);
	if (inet_pton(AF_INET, host, ip) == 1 ||
	    inet_pton(AF_INET6, host, ip) == 1) {
		r = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		snprintf(sni, sizeof sni, "%s", host);
		r = SSL_set1_host(ssl, host) == 1 &&
		    SSL_set_tlsext_host_name(ssl, sni) == 1;
	}
	if (r != 1) {
		snprintf(err, errlen,
		    "cannot connect to %s: TLS: cannot check the name %s", addr,
		    host);
		saved = EINVAL;
		goto fail;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_connect(ssl)) == 1)
			return ssl;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			why[0] = '\0';
			saved = tls_client_failure(ssl, e, why, sizeof why);
			snprintf(err, errlen, "cannot connect to %s: TLS: %s",
			    addr,
			    why[0] != '\0'   ? why
			    : saved == EPIPE ? "jobd closed the connection in "
			                       "the handshake"
			                     : strerror(saved));
			goto fail;
		}
		if (wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		        deadline) != 0) {
			snprintf(err, errlen,
			    "cannot connect to %s: TLS: no handshake within "
			    "%d s (does jobd speak TLS on this port?)",
			    addr, timeout_ms / 1000);
			saved = ETIMEDOUT;
			goto fail;
		}
	}
fail:
	/* Not a session to close: no close_notify. */
	SSL_free(ssl);
	ERR_clear_error();
	errno = saved;
	return NULL;
}
