/*
 * harness: a real jobd for integration tests (see harness.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <grp.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

extern char **environ;

static const char *
jobd_path(void)
{
	const char *p = getenv("JOBD");

	return p != NULL ? p : "../daemon/jobd";
}

static void *
log_reader(void *arg)
{
	struct harness *h = arg;
	char chunk[4096];
	ssize_t n;

	while ((n = read(h->log_fd, chunk, sizeof chunk)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		pthread_mutex_lock(&h->mtx);
		h->log = realloc(h->log, h->log_len + (size_t)n + 1);
		memcpy(h->log + h->log_len, chunk, (size_t)n);
		h->log_len += (size_t)n;
		h->log[h->log_len] = '\0';
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->mtx);
		/* Echo to our stderr so a failing test shows jobd's side. */
		if (getenv("HARNESS_VERBOSE") != NULL)
			fwrite(chunk, 1, (size_t)n, stderr);
	}
	pthread_mutex_lock(&h->mtx);
	h->log_eof = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mtx);
	return NULL;
}

bool
harness_log_contains(struct harness *h, const char *text)
{
	bool found;

	pthread_mutex_lock(&h->mtx);
	found = h->log != NULL && strstr(h->log, text) != NULL;
	pthread_mutex_unlock(&h->mtx);
	return found;
}

/* How many times text is in the log so far (h->mtx held). */
static int
log_count(struct harness *h, const char *text)
{
	const char *p = h->log;
	int n = 0;

	while (p != NULL && (p = strstr(p, text)) != NULL) {
		n++;
		p += strlen(text);
	}
	return n;
}

bool
harness_log_wait(struct harness *h, const char *text)
{
	return harness_log_wait_n(h, text, 1);
}

bool
harness_log_wait_n(struct harness *h, const char *text, int n)
{
	struct timespec deadline;
	bool found;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += HARNESS_DEADLINE_MS / 1000;
	pthread_mutex_lock(&h->mtx);
	while (!(found = log_count(h, text) >= n) && !h->log_eof) {
		if (pthread_cond_timedwait(&h->cond, &h->mtx, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&h->mtx);
	return found;
}

static int spawn(struct harness *h, const char *const *extra);

/* The token of the jobd started last: TCP clients present it. */
static char harness_token[80];

const char *
harness_token_value(void)
{
	return harness_token;
}

/* A fresh token in h->dir/token, mode 0600, as jobd --gen-token makes. */
static int
make_token(struct harness *h)
{
	unsigned char raw[32];
	size_t i;
	FILE *f;
	int fd;

	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		return -1;
	for (i = 0; i < sizeof raw; i++)
		snprintf(harness_token + 2 * i, 3, "%02x", raw[i]);
	snprintf(h->token_file, sizeof h->token_file, "%.200s/token", h->dir);
	if ((fd = open(h->token_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	         0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL)
		return -1;
	fprintf(f, "%s\n", harness_token);
	return fclose(f) == 0 ? 0 : -1;
}
static int end_process(struct harness *h, int sig);

int
harness_start(struct harness *h, const char *const *extra)
{
	memset(h, 0, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "/tmp/jobd-test.XXXXXX");
	if (mkdtemp(h->dir) == NULL)
		return -1;
	if ((size_t)snprintf(h->sock, sizeof h->sock, "%.200s/jobd.sock",
	        h->dir) >= sizeof h->sock ||
	    (size_t)snprintf(h->state, sizeof h->state, "%.200s/state",
	        h->dir) >= sizeof h->state ||
	    make_token(h) != 0)
		return -1;
	return spawn(h, extra);
}

int
harness_halt(struct harness *h, int sig)
{
	return end_process(h, sig);
}

int
harness_respawn(struct harness *h, const char *const *extra)
{
	return spawn(h, extra);
}

int
harness_restart(struct harness *h, int sig, const char *const *extra)
{
	if (harness_halt(h, sig) != 0)
		return -1;
	return spawn(h, extra);
}

/* Start jobd in h->dir and wait until it is ready. */
static int
spawn(struct harness *h, const char *const *extra)
{
	const char *argv[64];
	char port_arg[] = "127.0.0.1:0";
	posix_spawn_file_actions_t fa;
	const char *p;
	int pipefd[2], n = 0, i;

	pthread_mutex_init(&h->mtx, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->log = NULL;
	h->log_len = 0;
	h->log_eof = false;
	h->port = 0;
	h->metrics_port = 0;
	argv[n++] = jobd_path();
	/* Not the system's jobd.conf; a test may name its own. */
	argv[n++] = "--config";
	argv[n++] = "none";
	argv[n++] = "--state-dir";
	argv[n++] = h->state;
	argv[n++] = "--token-file";
	argv[n++] = h->token_file;
	argv[n++] = "--socket";
	argv[n++] = h->sock;
	argv[n++] = "--listen";
	argv[n++] = port_arg;
	/* Tests that stop jobd with jobs running should not wait 10 s. */
	argv[n++] = "--shutdown-grace";
	argv[n++] = "2s";
	for (i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (posix_spawn(&h->pid, argv[0], &fa, NULL,
	        (char *const *)(uintptr_t)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	h->log_fd = pipefd[0];
	pthread_create(&h->reader, NULL, log_reader, h);
	if (!harness_log_wait(h, " ready: ")) {
		fprintf(stderr, "jobd did not start:\n%s\n",
		    h->log != NULL ? h->log : "");
		return -1;
	}
	/* "listening on tcp 127.0.0.1:PORT", or 0.0.0.0 or [::] given in
	 * extra (clients still connect to 127.0.0.1). */
	pthread_mutex_lock(&h->mtx);
	if ((p = strstr(h->log, "listening on tcp ")) != NULL) {
		p += strlen("listening on tcp ");
		p += strcspn(p, " \n");
		while (p > h->log && p[-1] != ':' && p[-1] != ' ')
			p--;
		if (p[-1] == ':')
			h->port = atoi(p);
	}
	/* "metrics on http 127.0.0.1:PORT" (--metrics-listen). */
	if ((p = strstr(h->log, "metrics on http ")) != NULL) {
		p += strlen("metrics on http ");
		p += strcspn(p, " \n");
		while (p > h->log && p[-1] != ':' && p[-1] != ' ')
			p--;
		if (p[-1] == ':')
			h->metrics_port = atoi(p);
	}
	pthread_mutex_unlock(&h->mtx);
	return h->port > 0 ? 0 : -1;
}

/* Wait for pid to exit, with a deadline (a pidfd turns readable). */
static int
wait_exit(pid_t pid, int timeout_ms, int *status)
{
	struct pollfd pfd = {-1, POLLIN, 0};
	int r;

	if ((pfd.fd = pidfd_open(pid, 0)) < 0) {
		/*
		 * A thread group whose leader has exited while its other
		 * threads are still ending refuses a pidfd: poll waitpid
		 * until the deadline instead (nothing else to wait on).
		 */
		uint64_t deadline =
		    test_now_ns() + (uint64_t)timeout_ms * 1000000;

		while ((r = (int)waitpid(pid, status, WNOHANG)) == 0 &&
		       test_now_ns() < deadline)
			usleep(10000);
		return r == pid ? 0 : -1;
	}
	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	close(pfd.fd);
	if (r != 1)
		return -1;
	return waitpid(pid, status, 0) == pid ? 0 : -1;
}

static int finish(struct harness *h, bool signal_it);

int
harness_stop(struct harness *h)
{
	return finish(h, true);
}

int
harness_wait(struct harness *h)
{
	return finish(h, false);
}

/* End jobd (signal: SIGTERM first, else it is stopping already). */
static int
finish(struct harness *h, bool signal_it)
{
	char cmd[PATH_MAX + 16];
	int r = end_process(h, signal_it ? SIGTERM : 0);

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		r = -1;
	return r;
}

/*
 * Send sig (0: none, jobd is stopping by itself) and wait for jobd to
 * exit; its exit status, -1 if it died of a signal other than sig.
 */
static int
end_process(struct harness *h, int sig)
{
	int status = 0, r = -1;

	if (h->pid > 0 && sig != 0)
		kill(h->pid, sig);
	if (h->pid > 0) {
		/*
		 * Under ThreadSanitizer a SIGTERM that arrives just as jobd
		 * starts has been seen to go unhandled (the runtime defers
		 * signals); say so in the log and send it once more.
		 */
		bool gone = false;

		if (sig == SIGTERM) {
			if (wait_exit(
			        h->pid, HARNESS_DEADLINE_MS / 4, &status) == 0)
				gone = true;
			else {
				fprintf(stderr,
				    "harness: jobd %d still running %d ms "
				    "after SIGTERM; sending it again\n",
				    (int)h->pid, HARNESS_DEADLINE_MS / 4);
				kill(h->pid, SIGTERM);
			}
		}
		if (!gone &&
		    wait_exit(h->pid, HARNESS_DEADLINE_MS, &status) != 0) {
			fprintf(stderr, "harness: jobd %d did not exit\n",
			    (int)h->pid);
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			r = -1;
		} else if (WIFEXITED(status))
			r = WEXITSTATUS(status);
		else if (WTERMSIG(status) == sig && sig != SIGTERM)
			r = 0;
		else
			fprintf(stderr, "jobd died of signal %d\n",
			    WTERMSIG(status));
		h->pid = 0;
	}
	pthread_join(h->reader, NULL);
	close(h->log_fd);
	if (r != 0 && h->log != NULL)
		fprintf(stderr, "jobd log:\n%s\n", h->log);
	free(h->log);
	h->log = NULL;
	pthread_mutex_destroy(&h->mtx);
	pthread_cond_destroy(&h->cond);
	return r;
}

/* --- clients ---------------------------------------------------------------
 */

static void
client_init(struct client *c, int fd)
{
	c->fd = fd;
	c->ssl = NULL;
	c->eof = false;
	c->len = 0;
	c->cap = 65536;
	c->buf = malloc(c->cap);
}

int
client_unix(struct client *c, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(fd);
		return -1;
	}
	client_init(c, fd);
	return 0;
}

int
client_tcp(struct client *c, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd, one = 1;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	client_init(c, fd);
	return harness_token[0] != '\0' ? client_auth(c, harness_token) : 0;
}

char *
harness_http(int port, const char *request, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct pollfd pfd = {-1, POLLIN, 0};
	uint64_t deadline = test_now_ns() + HARNESS_DEADLINE_MS * 1000000ULL;
	char *resp = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int left;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((pfd.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return NULL;
	if (connect(pfd.fd, (struct sockaddr *)&sin, sizeof sin) != 0)
		goto fail;
	while (len > 0) {
		if ((r = send(pfd.fd, request, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			/* jobd may refuse early and close: read what it said.
			 */
			break;
		}
		request += r;
		len -= (size_t)r;
	}
	for (;;) {
		if (cap - n < 4096) {
			cap = cap == 0 ? 65536 : cap * 2;
			resp = realloc(resp, cap);
		}
		left = (int)((deadline - test_now_ns()) / 1000000);
		if (test_now_ns() >= deadline || poll(&pfd, 1, left) <= 0)
			goto fail;
		if ((r = recv(pfd.fd, resp + n, cap - n - 1, 0)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET && n > 0)
				break;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(pfd.fd);
	resp[n] = '\0';
	return resp;
fail:
	close(pfd.fd);
	free(resp);
	return NULL;
}

int
client_tcp_raw(struct client *c, int port)
{
	char saved[sizeof harness_token];
	int r;

	memcpy(saved, harness_token, sizeof saved);
	harness_token[0] = '\0';
	r = client_tcp(c, port);
	memcpy(harness_token, saved, sizeof saved);
	return r;
}

/* --- TLS clients ------------------------------------------------------------
 */

static char tls_error[256];

const char *
client_tls_error(void)
{
	return tls_error;
}

/* Keep OpenSSL's reason for the failure (with the verification error),
 * unless it was a plain end of stream. */
static void
note_tls_error(struct ssl_st *ssl)
{
	unsigned long e = ERR_peek_error();
	long verify;

	if (e != 0) {
		snprintf(tls_error, sizeof tls_error, "%s",
		    ERR_reason_error_string(e) != NULL
		        ? ERR_reason_error_string(e)
		        : "unknown error");
		if (ssl != NULL &&
		    ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
		    (verify = SSL_get_verify_result(ssl)) != X509_V_OK)
			snprintf(tls_error + strlen(tls_error),
			    sizeof tls_error - strlen(tls_error), ": %s",
			    X509_verify_cert_error_string(verify));
	}
	ERR_clear_error();
}

static SSL_CTX *
client_tls_context(const struct client_tls_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    (o->ca != NULL &&
	        SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) ||
	    (o->cert != NULL &&
	        (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	            SSL_CTX_use_PrivateKey_file(
	                ctx, o->key, SSL_FILETYPE_PEM) != 1))) {
		note_tls_error(NULL);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (o->ca != NULL)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int
client_tls(struct client *c, int port, const struct client_tls_opts *o)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {HARNESS_DEADLINE_MS / 1000, 0};
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	int fd, one = 1;

	/* A write to a jobd that closed must fail, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	tls_error[0] = '\0';
	if ((ctx = client_tls_context(o)) == NULL)
		return -1;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		snprintf(tls_error, sizeof tls_error, "connect: %s",
		    strerror(errno));
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if ((ssl = SSL_new(ctx)) == NULL ||
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") !=
	        1 ||
	    SSL_set_fd(ssl, fd) != 1) {
		note_tls_error(ssl);
		goto fail;
	}
	ERR_clear_error();
	if (SSL_connect(ssl) != 1) {
		note_tls_error(ssl);
		if (tls_error[0] == '\0')
			snprintf(tls_error, sizeof tls_error,
			    "the connection ended in the handshake");
		goto fail;
	}
	SSL_CTX_free(ctx); /* the SSL keeps a reference */
	client_init(c, fd);
	c->ssl = ssl;
	if (o->no_auth || harness_token[0] == '\0' ||
	    client_auth(c, harness_token) == 0)
		return 0;
	if (tls_error[0] == '\0')
		snprintf(tls_error, sizeof tls_error, "hello refused");
	client_close(c);
	return -1;
fail:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return -1;
}

int
client_auth(struct client *c, const char *token)
{
	char req[256];
	json_t *r;
	int ok;

	snprintf(req, sizeof req, "{\"op\":\"hello\",\"token\":\"%s\"}", token);
	if ((r = client_call(c, req)) == NULL)
		return -1;
	ok = reply_error_code(r) == NULL ? 0 : -1;
	json_decref(r);
	return ok;
}

void
client_close(struct client *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl); /* close_notify; not waiting for jobd's */
		SSL_free(c->ssl);
		ERR_clear_error();
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

int
client_shutdown_write(struct client *c)
{
	if (c->ssl == NULL)
		return shutdown(c->fd, SHUT_WR);
	ERR_clear_error();
	/* 0: sent, jobd's close_notify not yet received. */
	if (SSL_shutdown(c->ssl) < 0) {
		note_tls_error(c->ssl);
		return -1;
	}
	return 0;
}

int
client_send(struct client *c, const char *data, size_t len)
{
	ssize_t n;
	int r;

	if (c->ssl != NULL && len > 0) {
		ERR_clear_error();
		if ((r = SSL_write(c->ssl, data, (int)len)) <= 0) {
			note_tls_error(c->ssl);
			return -1;
		}
		return 0;
	}
	while (len > 0) {
		if ((n = send(c->fd, data, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

char *
client_line(struct client *c, int timeout_ms)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	char *nl, *line;
	size_t n;
	ssize_t r;

	for (;;) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			n = (size_t)(nl - c->buf);
			line = malloc(n + 1);
			memcpy(line, c->buf, n);
			line[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		if (c->len == c->cap) {
			c->cap *= 2;
			c->buf = realloc(c->buf, c->cap);
		}
		/* Decrypted input may wait in OpenSSL, unseen by poll(). */
		if ((c->ssl == NULL || SSL_pending(c->ssl) == 0) &&
		    poll(&pfd, 1, timeout_ms) <= 0)
			return NULL;
		if (c->ssl != NULL) {
			ERR_clear_error();
			r = SSL_read(
			    c->ssl, c->buf + c->len, (int)(c->cap - c->len));
			if (r <= 0) {
				c->eof = SSL_get_error(c->ssl, r) ==
				         SSL_ERROR_ZERO_RETURN;
				note_tls_error(c->ssl);
				return NULL;
			}
			c->len += (size_t)r;
			continue;
		}
		r = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		c->eof = r == 0;
		if (r <= 0)
			return NULL;
		c->len += (size_t)r;
	}
}

json_t *
client_reply(struct client *c, int timeout_ms)
{
	char *line = client_line(c, timeout_ms);
	json_t *j;

	if (line == NULL)
		return NULL;
	j = json_loads(line, 0, NULL);
	free(line);
	return j;
}

json_t *
client_call(struct client *c, const char *request)
{
	size_t len = strlen(request);

	/* A failed send is not the end: what jobd said (an error, a TLS
	 * alert) may be waiting to be read. */
	if (client_send(c, request, len) == 0 && len > 0 &&
	    request[len - 1] != '\n')
		(void)client_send(c, "\n", 1);
	return client_reply(c, HARNESS_DEADLINE_MS);
}

const char *
reply_error_code(const json_t *reply)
{
	if (json_is_true(json_object_get(reply, "ok")))
		return NULL;
	return json_string_value(
	    json_object_get(json_object_get(reply, "error"), "code"));
}

/* --- running programs --------------------------------------------------------
 */

struct sink {
	int fd;
	char *data;
	size_t len;
};

static void *
sink_reader(void *arg)
{
	struct sink *s = arg;
	char chunk[8192];
	ssize_t n;

	while ((n = read(s->fd, chunk, sizeof chunk)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		s->data = realloc(s->data, s->len + (size_t)n + 1);
		memcpy(s->data + s->len, chunk, (size_t)n);
		s->len += (size_t)n;
	}
	if (s->data == NULL)
		s->data = malloc(1);
	s->data[s->len] = '\0';
	return NULL;
}

int
run_capture(
    const char *const *argv, const char *stdin_text, char **out, char **err)
{
	int in_pipe[2], out_pipe[2], err_pipe[2], status;
	posix_spawn_file_actions_t fa;
	struct sink so = {0}, se = {0};
	pthread_t to, te;
	pid_t pid;

	if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) ||
	    pipe2(err_pipe, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL,
	        (char *const *)(uintptr_t)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in_pipe[0]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	so.fd = out_pipe[0];
	se.fd = err_pipe[0];
	pthread_create(&to, NULL, sink_reader, &so);
	pthread_create(&te, NULL, sink_reader, &se);
	if (stdin_text != NULL) {
		signal(SIGPIPE, SIG_IGN);
		if (write(in_pipe[1], stdin_text, strlen(stdin_text)) < 0)
			(void)0; /* the program may not read it */
	}
	close(in_pipe[1]);
	pthread_join(to, NULL);
	pthread_join(te, NULL);
	close(out_pipe[0]);
	close(err_pipe[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (out != NULL)
		*out = so.data;
	else
		free(so.data);
	if (err != NULL)
		*err = se.data;
	else
		free(se.data);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

json_t *
call_ok(struct client *c, const char *req)
{
	json_t *r = client_call(c, req);

	ck_assert_msg(r != NULL, "no reply to %.200s", req);
	if (reply_error_code(r) != NULL)
		ck_abort_msg("%s -> %s", req, json_dumps(r, 0));
	return r;
}

json_t *
call_okf(struct client *c, const char *fmt, ...)
{
	char req[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req, sizeof req, fmt, ap);
	va_end(ap);
	return call_ok(c, req);
}

void
call_err(struct client *c, const char *req, const char *code)
{
	json_t *r = client_call(c, req);

	ck_assert_msg(r != NULL, "no reply to %.200s", req);
	ck_assert_msg(reply_error_code(r) != NULL &&
	                  strcmp(reply_error_code(r), code) == 0,
	    "%s -> %s, not %s", req, json_dumps(r, 0), code);
	ck_assert(json_is_string(
	    json_object_get(json_object_get(r, "error"), "message")));
	json_decref(r);
}

const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

json_int_t
num(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

json_int_t
counter_of(struct client *c, const char *name)
{
	json_t *r = call_ok(c, "{\"op\":\"stats\"}"), *stats, *v;
	json_int_t n;

	stats = json_object_get(r, "stats");
	if ((v = json_object_get(json_object_get(stats, "counters"), name)) ==
	    NULL)
		v = json_object_get(json_object_get(stats, "gauges"), name);
	ck_assert_msg(v != NULL, "no counter %s", name);
	n = json_integer_value(v);
	json_decref(r);
	return n;
}

json_t *
harness_calls_as(
    const char *sock, uid_t uid, gid_t gid, const char *const *reqs)
{
	json_t *replies = json_array(), *reply;
	char *text = NULL, *line, *save;
	size_t len = 0, cap = 0;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd) != 0)
		return NULL;
	if ((pid = fork()) == 0) {
		struct client c;
		char *l;
		size_t i;

		close(pfd[0]);
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0)
			_exit(3);
		if (client_unix(&c, sock) != 0)
			_exit(4);
		for (i = 0; reqs[i] != NULL; i++) {
			if (client_send(&c, reqs[i], strlen(reqs[i])) != 0 ||
			    client_send(&c, "\n", 1) != 0)
				_exit(5);
			l = client_line(&c, 30000);
			dprintf(pfd[1], "%s\n", l != NULL ? l : "null");
			free(l);
		}
		client_close(&c);
		_exit(0);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap * 2 + 8192;
			text = realloc(text, cap);
		}
		if ((n = read(pfd[0], text + len, cap - len - 1)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(pfd[0]);
	text[len] = '\0';
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr,
		    "harness_calls_as: client as uid %u: status %d\n",
		    (unsigned)uid, status);
		free(text);
		json_decref(replies);
		return NULL;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		reply = json_loads(line, 0, NULL);
		json_array_append_new(
		    replies, reply != NULL ? reply : json_null());
	}
	free(text);
	return replies;
}
