/*
 * tls: TLS on jobd's TCP listener (see tls.h).
 *
 * Policy, set once on the SSL_CTX:
 * - TLS 1.2 at least.  TLS 1.3 uses OpenSSL's default suites (all AEAD);
 *   TLS 1.2 only ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, so
 *   every session has forward secrecy and an AEAD cipher.
 * - No compression (CRIME), no renegotiation of any kind.
 * - No session resumption: no tickets (neither TLS 1.2 tickets nor TLS
 *   1.3 NewSessionTicket messages) and no session cache.  jobctl makes a
 *   connection per run and never resumes, so tickets would cost a message
 *   per connection and a long-lived ticket key for nothing.
 * - Idle connections give their record buffers back
 *   (SSL_MODE_RELEASE_BUFFERS): ten thousand idle TLS clients cost their
 *   SSL objects, not 34 KB of buffers each.
 * - An encrypted key is refused at start-up rather than prompting on a
 *   terminal jobd may not have.
 *
 * The key file must not be readable by others (group-readable is fine,
 * as with Debian's ssl-cert group), for the reason the token file must be
 * private.
 *
 * OpenSSL keeps its errors in a per-thread queue; every function here
 * leaves the loop thread's queue empty, so one connection's failure is
 * never reported as another's.
 */
#include "config.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

/* TLS 1.2 suites: ECDHE with an AEAD cipher, ECDSA or RSA certificates. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

static SSL_CTX *ctx; /* NULL: TLS is off */

/* OpenSSL's reason for error e ("no start line"). */
static void
describe_error(unsigned long e, char *buf, size_t len)
{
	const char *reason = ERR_reason_error_string(e);

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else if (reason != NULL)
		snprintf(buf, len, "%s", reason);
	else
		ERR_error_string_n(e, buf, len);
}

/* The first error in the queue (the cause; later ones are consequences)
 * described, and an empty queue; the error. */
static unsigned long
queued_reason(char *buf, size_t len)
{
	unsigned long e, first = 0;

	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
	}
	describe_error(first, buf, len);
	return first;
}

/* Does e say that a key is not the certificate's? */
static bool
is_mismatch(unsigned long e)
{
	return ERR_GET_LIB(e) == ERR_LIB_X509 &&
	       (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
	           ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

/* A file we can open for reading, else a message with strerror. */
static int
check_readable(const char *opt, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		snprintf(err, errlen, "%s %s: %s", opt, path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* Never prompt: an encrypted key fails to load. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return 0;
}

static int
load_key(const char *key, const char *cert, char *err, size_t errlen)
{
	char reason[256];
	struct stat st;
	unsigned long e;

	if (check_readable("--tls-key", key, err, errlen) != 0)
		return -1;
	if (stat(key, &st) == 0 && (st.st_mode & 007) != 0) {
		snprintf(err, errlen,
		    "--tls-key %s: others may read or write it (chmod o-rwx "
		    "it)",
		    key);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL compares it with the certificate already. */
		if (is_mismatch(e = queued_reason(reason, sizeof reason)))
			snprintf(err, errlen,
			    "--tls-key %s does not match the certificate of "
			    "--tls-cert %s (OpenSSL: %s)",
			    key, cert, reason);
		else
			snprintf(err, errlen,
			    "--tls-key %s: not a usable PEM private key "
			    "(OpenSSL: "
			    "%s; encrypted keys are not supported)",
			    key, reason);
		return -1;
	}
	return 0;
}

static int
load_cert(const char *cert, char *err, size_t errlen)
{
	char reason[256];
	X509 *x;

	if (check_readable("--tls-cert", cert, err, errlen) != 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		queued_reason(reason, sizeof reason);
		snprintf(err, errlen,
		    "--tls-cert %s: not a PEM certificate chain (OpenSSL: "
		    "%s)",
		    cert, reason);
		return -1;
	}
	/* Serving an expired certificate is allowed, but worth a line. */
	if ((x = SSL_CTX_get0_certificate(ctx)) != NULL &&
	    (X509_cmp_current_time(X509_get0_notAfter(x)) < 0 ||
	        X509_cmp_current_time(X509_get0_notBefore(x)) > 0))
		log_warn("--tls-cert %s: the certificate is not valid now "
		         "(expired or not yet valid); clients will refuse it",
		    cert);
	return 0;
}

static int
load_client_ca(const char *client_ca, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) * names;
	char reason[256];

	if (check_readable("--tls-client-ca", client_ca, err, errlen) != 0)
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(client_ca)) == NULL) {
		queued_reason(reason, sizeof reason);
		snprintf(err, errlen,
		    "--tls-client-ca %s: no PEM CA certificate in it "
		    "(OpenSSL: %s)",
		    client_ca, reason);
		return -1;
	}
	/* The CA names go in the certificate request, so a client with
	 * several certificates can pick the right one. */
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

int
tls_init(const char *cert, const char *key, const char *client_ca, char *err,
    size_t errlen)
{
	char reason[256];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		queued_reason(reason, sizeof reason);
		snprintf(err, errlen, "TLS: cannot set up: %s", reason);
		return -1;
	}
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		queued_reason(reason, sizeof reason);
		snprintf(err, errlen, "TLS: cannot set the policy: %s", reason);
		goto fail;
	}
	SSL_CTX_set_options(
	    ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	             SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (load_cert(cert, err, errlen) != 0 ||
	    load_key(key, cert, err, errlen) != 0)
		goto fail;
	if (SSL_CTX_check_private_key(ctx) != 1) {
		queued_reason(reason, sizeof reason);
		snprintf(err, errlen,
		    "--tls-key %s does not match the certificate of "
		    "--tls-cert %s (OpenSSL: %s)",
		    key, cert, reason);
		goto fail;
	}
	if (client_ca != NULL && load_client_ca(client_ca, err, errlen) != 0)
		goto fail;
	ERR_clear_error();
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	ctx = NULL;
	return -1;
}

bool
tls_enabled(void)
{
	return ctx != NULL;
}

struct bufferevent *
tls_bufferevent_new(struct event_base *base, int fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL) {
		ERR_clear_error();
		evutil_closesocket(fd);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(
	    base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	/*
	 * On failure libevent may or may not have freed the SSL and closed
	 * the socket already, depending on where it failed (only when out of
	 * memory): leaking both is safer than closing an fd number that may
	 * be reused by then.
	 */
	ERR_clear_error();
	return bev;
}

void
tls_failure_reason(struct bufferevent *bev, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e, first = 0;
	size_t used;
	long verify;
	int saved = EVUTIL_SOCKET_ERROR();

	/*
	 * libevent keeps the first three errors of the failed operation and
	 * hands them back last first.  It puts SSL_get_error()'s code
	 * (SSL_ERROR_SSL, SSL_ERROR_SYSCALL) among them: those have no
	 * library and say nothing more.
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) != 0)
			first = e;
	}
	ERR_clear_error();
	if (first == 0) {
		/* A system call failed (or the client closed): errno says
		 * which, unless it is left over from a read that would block.
		 */
		snprintf(buf, len, "%s",
		    saved != 0 && saved != EAGAIN && saved != EINTR
		        ? strerror(saved)
		        : "the connection ended in the handshake");
		return;
	}
	describe_error(first, buf, len);
	used = strlen(buf);
	if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
	    ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    ssl != NULL && (verify = SSL_get_verify_result(ssl)) != X509_V_OK &&
	    used < len)
		snprintf(buf + used, len - used, ": %s",
		    X509_verify_cert_error_string(verify));
}

void
tls_describe(struct bufferevent *bev, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL) {
		snprintf(buf, len, "no TLS");
		return;
	}
	snprintf(buf, len, "%s %s%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl),
	    SSL_get0_peer_certificate(ssl) != NULL ? ", client certificate"
	                                           : "");
}

void
tls_discard_input(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (fd >= 0 && total < 65536 &&
	       (n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		total += (size_t)n;
}

void
tls_close_notify(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	/* Only on a session that completed its handshake and has not
	 * failed: OpenSSL forbids a shutdown after a fatal error. */
	if (ssl == NULL || !SSL_is_init_finished(ssl) ||
	    (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) != 0)
		return;
	/* The socket is non-blocking: this writes the alert if there is
	 * room, and does not wait for the client's. */
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

void
tls_free(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}
