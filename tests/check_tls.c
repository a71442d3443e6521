/*
 * check_tls: TLS on jobd's TCP listener, and in jobctl.
 *
 * main() makes throwaway certificates (tlscert.h) in a temporary
 * directory before the tests run: a CA, a server certificate for
 * IP:127.0.0.1 and DNS:localhost, one for DNS:localhost only, a client
 * certificate from the CA, and a second, unrelated CA with a client
 * certificate of its own.  Each test starts its own jobd with them
 * (harness.h) and talks to it with the harness's TLS client, the jobctl
 * binary ($JOBCTL), or raw sockets that do not speak TLS.  Waits are on
 * conditions jobd reports (a log line, an end of stream), with deadlines.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"
#include "tlscert.h"

#define FAILED "TLS handshake failed: "

/* The certificate files (see above). */
static struct {
	char dir[64];
	char ca[128], other_ca[128];
	char server[128], server_key[128];
	char dnsonly[128], dnsonly_key[128];
	char client[128], client_key[128];
	char stranger[128], stranger_key[128]; /* from the other CA */
	char garbage[128], garbage_key[128];
	char open_key[128];      /* the server's key, mode 0644 */
	char encrypted_key[128]; /* the server's key, with a passphrase */
	char token[128];
} F;

static struct harness h;

static const char *
jobd_path(void)
{
	const char *p = getenv("JOBD");

	return p != NULL ? p : "../daemon/jobd";
}

static const char *
jobctl_path(void)
{
	const char *p = getenv("JOBCTL");

	return p != NULL ? p : "../client/jobctl";
}

/* Start jobd with the server certificate (cert, key) and more arguments. */
static void
start_with(const char *cert, const char *key, const char *const *more)
{
	const char *extra[24];
	int n = 0;

	extra[n++] = "--tls-cert";
	extra[n++] = cert;
	extra[n++] = "--tls-key";
	extra[n++] = key;
	while (more != NULL && *more != NULL && n < 23)
		extra[n++] = *more++;
	extra[n] = NULL;
	ck_assert_int_eq(harness_start(&h, extra), 0);
	/* jobctl presents the token of this jobd. */
	setenv("JOBD_TOKEN_FILE", h.token_file, 1);
}

static void
start_tls(const char *const *more)
{
	start_with(F.server, F.server_key, more);
}

/* Run jobctl with the arguments (NULL-terminated); its exit status. */
static int
jobctl(const char *stdin_text, char **out, char **err, const char *arg, ...)
{
	const char *argv[32];
	va_list ap;
	int n = 0, rc;

	argv[n++] = jobctl_path();
	argv[n++] = arg;
	va_start(ap, arg);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run_capture(argv, stdin_text, out, err);
	ck_assert_int_ge(rc, 0);
	return rc;
}

/* Run jobd with args (NULL-terminated); its exit status and stderr. */
static int
run_jobd(char **err, const char *arg, ...)
{
	const char *argv[32];
	char *out;
	va_list ap;
	int n = 0, rc;

	argv[n++] = jobd_path();
	argv[n++] = arg;
	va_start(ap, arg);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run_capture(argv, NULL, &out, err);
	free(out);
	return rc;
}

/* Wait until jobd ends the raw connection (EOF or reset). */
static bool
wait_closed(struct client *c, int timeout_ms)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	char buf[4096];
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		n = recv(c->fd, buf, sizeof buf, 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

static void
connect_tls(struct client *c, const struct client_tls_opts *o)
{
	ck_assert_msg(client_tls(c, h.port, o) == 0, "TLS client: %s",
	    client_tls_error());
}

/* A job over an open connection: submit, wait, the finished job. */
static void
echo_round_trip(struct client *c, int x)
{
	json_t *r, *job;
	json_int_t id;

	r = call_okf(c,
	    "{\"op\":\"submit\",\"id\":1,\"wait\":true,\"job\":"
	    "{\"kind\":\"echo\",\"args\":{\"x\":%d}}}",
	    x);
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "succeeded");
	ck_assert_int_eq(num(json_object_get(job, "result"), "x"), x);
	id = num(job, "id");
	json_decref(r);
	r = call_okf(c, "{\"op\":\"get\",\"job\":%lld}", (long long)id);
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	json_decref(r);
}

/* A counter, read over the unix socket. */
static json_int_t
unix_counter(const char *name)
{
	struct client u;
	json_int_t n;

	ck_assert_int_eq(client_unix(&u, h.sock), 0);
	n = counter_of(&u, name);
	client_close(&u);
	return n;
}

/* --- jobd ----------------------------------------------------------------- */

/* A job's round trip over TLS; replies of many records; close_notify. */
START_TEST(test_round_trip)
{
	static const char *const more[] = {"--max-line", "1k", NULL};
	const struct client_tls_opts o = {.ca = F.ca};
	const char sleeper[] = "{\"op\":\"submit\",\"id\":9,\"wait\":true,"
	                       "\"job\":{\"kind\":\"sleep\",\"args\":{\"ms\":"
	                       "50}}}\n";
	char line[2048];
	struct client c, d, u;
	json_t *r, *job;

	start_tls(more);
	ck_assert(harness_log_contains(&h, "listening on tcp 127.0.0.1:"));
	ck_assert(harness_log_contains(&h, " (TLS)\n"));
	connect_tls(&c, &o);
	echo_round_trip(&c, 42);
	/* 100,000 bytes of output: a reply of seven TLS records. */
	r = call_ok(&c, "{\"op\":\"submit\",\"wait\":true,\"job\":{\"kind\":"
	                "\"exec\",\"argv\":[\"sh\",\"-c\",\"head -c 100000 "
	                "/dev/zero | tr '\\\\0' x\"]}}");
	job = json_object_get(r, "job");
	ck_assert_str_eq(str(job, "state"), "succeeded");
	ck_assert_uint_eq(strlen(str(job, "stdout")), 100000);
	ck_assert_uint_eq(strspn(str(job, "stdout"), "x"), 100000);
	json_decref(r);
	ck_assert_int_eq(counter_of(&c, "tls_conns"), 1);
	ck_assert_int_eq(counter_of(&c, "tls_handshake_failures"), 0);
	/* A request, then close_notify (a half-close): the owed reply
	 * still comes, then jobd's close_notify. */
	connect_tls(&d, &o);
	ck_assert_int_eq(client_send(&d, sleeper, strlen(sleeper)), 0);
	ck_assert_int_eq(client_shutdown_write(&d), 0);
	r = client_reply(&d, HARNESS_DEADLINE_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(num(r, "id"), 9);
	ck_assert_str_eq(str(json_object_get(r, "job"), "state"), "succeeded");
	json_decref(r);
	ck_assert_ptr_null(client_line(&d, HARNESS_DEADLINE_MS));
	ck_assert(d.eof);
	ck_assert_str_eq(client_tls_error(), "");
	client_close(&d);
	/* A line too long: the error, then close_notify (a clean end). */
	memset(line, 'a', sizeof line);
	ck_assert_int_eq(client_send(&c, line, sizeof line), 0);
	r = client_reply(&c, HARNESS_DEADLINE_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(reply_error_code(r), "line_too_long");
	json_decref(r);
	ck_assert_ptr_null(client_line(&c, HARNESS_DEADLINE_MS));
	ck_assert(c.eof);
	ck_assert_str_eq(client_tls_error(), "");
	client_close(&c);
	/* The unix socket is not TLS. */
	ck_assert_int_eq(client_unix(&u, h.sock), 0);
	json_decref(call_ok(&u, "{\"op\":\"ping\"}"));
	ck_assert_int_eq(counter_of(&u, "tls_conns"), 2);
	client_close(&u);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* A plain-text client on the TLS port: ended, counted, nobody else hurt. */
START_TEST(test_plaintext_client)
{
	const struct client_tls_opts o = {.ca = F.ca};
	const char hello[] = "{\"op\":\"ping\"}\n";
	struct client raw, c;

	start_tls(NULL);
	ck_assert_int_eq(client_tcp_raw(&raw, h.port), 0);
	ck_assert_int_eq(client_send(&raw, hello, strlen(hello)), 0);
	ck_assert(wait_closed(&raw, HARNESS_DEADLINE_MS));
	client_close(&raw);
	ck_assert(harness_log_wait(&h, FAILED));
	ck_assert(harness_log_contains(&h, "(127.0.0.1:"));
	connect_tls(&c, &o);
	echo_round_trip(&c, 7);
	ck_assert_int_eq(counter_of(&c, "tls_handshake_failures"), 1);
	ck_assert_int_eq(counter_of(&c, "tls_conns"), 1);
	ck_assert_int_eq(counter_of(&c, "auth_failures"), 0);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* Random bytes, with and without a plausible record header. */
START_TEST(test_random_bytes)
{
	static const char *const more[] = {"--auth-timeout", "1s", NULL};
	const struct client_tls_opts o = {.ca = F.ca};
	static unsigned char junk[1 << 20];
	struct client raw, c;
	int i;

	start_tls(more);
	for (i = 0; i < 16; i++) {
		ck_assert_int_eq(getrandom(junk, 4096, 0), 4096);
		if (i % 2 == 1) {
			/* A handshake record of 200 bytes: noise inside. */
			memcpy(junk, "\x16\x03\x01\x00\xc8", 5);
		}
		ck_assert_int_eq(client_tcp_raw(&raw, h.port), 0);
		ck_assert_int_eq(client_send(&raw, (char *)junk, 4096), 0);
		ck_assert_msg(wait_closed(&raw, HARNESS_DEADLINE_MS),
		    "connection %d not closed", i);
		client_close(&raw);
	}
	/* A megabyte: jobd stops reading at the first bad record. */
	ck_assert_int_eq(getrandom(junk, sizeof junk, 0), (ssize_t)sizeof junk);
	ck_assert_int_eq(client_tcp_raw(&raw, h.port), 0);
	(void)client_send(&raw, (char *)junk, sizeof junk); /* may be cut */
	ck_assert(wait_closed(&raw, HARNESS_DEADLINE_MS));
	client_close(&raw);
	ck_assert(harness_log_wait_n(&h, FAILED, 17));
	connect_tls(&c, &o);
	echo_round_trip(&c, 1);
	ck_assert_int_eq(counter_of(&c, "tls_handshake_failures"), 17);
	ck_assert_int_eq(counter_of(&c, "conns_current"), 1);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* Handshakes never finished end at --auth-timeout; so does a silent
 * client after its handshake. */
START_TEST(test_handshake_timeout)
{
	static const char *const more[] = {"--auth-timeout", "300ms", NULL};
	const struct client_tls_opts o = {.ca = F.ca, .no_auth = true};
	struct client silent, partial, cut, idle, ok;
	json_t *r;

	start_tls(more);
	ck_assert_int_eq(client_tcp_raw(&silent, h.port), 0);
	ck_assert_int_eq(client_tcp_raw(&partial, h.port), 0);
	ck_assert_int_eq(client_send(&partial, "\x16\x03\x01\x02", 4), 0);
	/* A record that promises 512 bytes and brings 10. */
	ck_assert_int_eq(client_tcp_raw(&cut, h.port), 0);
	ck_assert_int_eq(
	    client_send(&cut, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", 10),
	    0);
	connect_tls(&idle, &o);
	ck_assert(wait_closed(&silent, HARNESS_DEADLINE_MS));
	ck_assert(wait_closed(&partial, HARNESS_DEADLINE_MS));
	ck_assert(wait_closed(&cut, HARNESS_DEADLINE_MS));
	ck_assert(
	    harness_log_wait_n(&h, FAILED "not finished within 300 ms", 3));
	/* Over TLS, the token deadline answers as on plain TCP. */
	r = client_reply(&idle, HARNESS_DEADLINE_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(reply_error_code(r), "auth_required");
	json_decref(r);
	ck_assert_ptr_null(client_line(&idle, HARNESS_DEADLINE_MS));
	ck_assert(idle.eof);
	client_close(&silent);
	client_close(&partial);
	client_close(&cut);
	client_close(&idle);
	/* An authenticated TLS client is untouched by the deadline. */
	connect_tls(&ok, &(struct client_tls_opts){.ca = F.ca});
	echo_round_trip(&ok, 3);
	ck_assert_int_eq(counter_of(&ok, "tls_handshake_failures"), 3);
	ck_assert_int_eq(counter_of(&ok, "auth_failures"), 1);
	ck_assert_int_eq(counter_of(&ok, "tls_conns"), 2);
	client_close(&ok);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* --tls-client-ca: no certificate or another CA's is refused. */
START_TEST(test_client_ca)
{
	const char *more[] = {"--tls-client-ca", F.ca, NULL};
	struct client c;
	char addr[64], *out, *err;

	start_tls(more);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", h.port);
	/* No certificate (TLS 1.3: the client learns it at its first read). */
	ck_assert_int_eq(
	    client_tls(&c, h.port, &(struct client_tls_opts){.ca = F.ca}), -1);
	ck_assert_msg(strstr(client_tls_error(), "certificate required"), "%s",
	    client_tls_error());
	ck_assert(harness_log_wait_n(&h, FAILED, 1));
	/* Signed by another CA. */
	ck_assert_int_eq(
	    client_tls(&c, h.port,
	        &(struct client_tls_opts){
	            .ca = F.ca, .cert = F.stranger, .key = F.stranger_key}),
	    -1);
	ck_assert(harness_log_wait_n(&h, FAILED, 2));
	ck_assert(harness_log_contains(&h, FAILED "certificate verify failed"));
	/* The right one: served. */
	connect_tls(&c, &(struct client_tls_opts){
	                    .ca = F.ca, .cert = F.client, .key = F.client_key});
	echo_round_trip(&c, 5);
	client_close(&c);

	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "--tls-cert", F.client, "--tls-key",
	                     F.client_key, "ping", NULL),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "pong"));
	free(out);
	free(err);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "ping", NULL),
	    125);
	ck_assert_msg(
	    strstr(err, "jobd wants a client certificate"), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "--tls-cert", F.stranger, "--tls-key",
	                     F.stranger_key, "ping", NULL),
	    125);
	ck_assert_msg(
	    strstr(err, "jobd refused the client certificate"), "%s", err);
	free(out);
	free(err);
	/* Half of a client certificate is a usage error. */
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "--tls-cert", F.client, "ping", NULL),
	    125);
	ck_assert_ptr_nonnull(
	    strstr(err, "--tls-cert and --tls-key go together"));
	free(out);
	free(err);
	ck_assert(harness_log_wait_n(&h, FAILED, 4));
	ck_assert_int_eq(unix_counter("tls_handshake_failures"), 4);
	ck_assert_int_eq(unix_counter("tls_conns"), 2);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* Bad options and files stop jobd at start-up, naming the file. */
START_TEST(test_startup_errors)
{
	static const struct {
		const char *cert, *key, *ca; /* NULL: option not given */
		int rc;
		const char *want, *want2;
	} cases[] = {
	    {F.server, NULL, NULL, 2, "--tls-cert and --tls-key go together",
	        NULL},
	    {NULL, F.server_key, NULL, 2,
	        "--tls-cert and --tls-key go together", NULL},
	    {NULL, NULL, F.ca, 2, "--tls-client-ca needs --tls-cert", NULL},
	    {"NOPE", F.server_key, NULL, 1,
	        "/nope.pem: No such file or directory", "--tls-cert "},
	    {F.server, "NOPE", NULL, 1, "/nope.pem: No such file or directory",
	        "--tls-key "},
	    {F.garbage, F.server_key, NULL, 1, F.garbage,
	        "not a PEM certificate chain (OpenSSL: "},
	    {F.server, F.garbage_key, NULL, 1, F.garbage_key,
	        "not a usable PEM private key (OpenSSL: "},
	    {F.server, F.client_key, NULL, 1, "does not match the certificate",
	        "key values mismatch"},
	    {F.server, F.open_key, NULL, 1, F.open_key,
	        "others may read or write it"},
	    {F.server, F.encrypted_key, NULL, 1, F.encrypted_key,
	        "encrypted keys are not supported"},
	    {F.server, F.server_key, F.garbage, 1, F.garbage,
	        "no PEM CA certificate in it"},
	};
	char nope[160], *err, *out;
	const char *cert, *key;
	size_t i;
	int rc;

	snprintf(nope, sizeof nope, "%s/nope.pem", F.dir);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cert =
		    cases[i].cert != NULL && strcmp(cases[i].cert, "NOPE") == 0
		        ? nope
		        : cases[i].cert;
		key = cases[i].key != NULL && strcmp(cases[i].key, "NOPE") == 0
		          ? nope
		          : cases[i].key;
		rc = run_jobd(&err, "--socket", "none", "--state-dir", "none",
		    "--listen", "127.0.0.1:0", "--token-file", F.token,
		    cert != NULL ? "--tls-cert" : "--log-level",
		    cert != NULL ? cert : "info",
		    key != NULL ? "--tls-key" : "--log-level",
		    key != NULL ? key : "info",
		    cases[i].ca != NULL ? "--tls-client-ca" : "--log-level",
		    cases[i].ca != NULL ? cases[i].ca : "info", NULL);
		ck_assert_msg(rc == cases[i].rc,
		    "case %zu: exit %d, not %d: %s", i, rc, cases[i].rc, err);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		    "case %zu: no \"%s\" in: %s", i, cases[i].want, err);
		ck_assert_msg(cases[i].want2 == NULL ||
		                  strstr(err, cases[i].want2) != NULL,
		    "case %zu: no \"%s\" in: %s", i, cases[i].want2, err);
		ck_assert_ptr_null(strstr(err, " ready: "));
		free(err);
	}
	/* TLS is for the TCP listener. */
	rc = run_jobd(&err, "--socket", "none", "--state-dir", "none",
	    "--tls-cert", F.server, "--tls-key", F.server_key, NULL);
	ck_assert_int_eq(rc, 2);
	ck_assert_ptr_nonnull(strstr(err, "give --listen"));
	free(err);
	/* All addresses: not without TLS. */
	rc = run_jobd(&err, "--socket", "none", "--state-dir", "none",
	    "--listen", "0.0.0.0:0", "--token-file", F.token, NULL);
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(err, "only loopback addresses are allowed "
	                                  "without TLS"));
	ck_assert_ptr_nonnull(strstr(err, "--tls-cert"));
	free(err);
	/* --help tells of the options. */
	{
		const char *argv[] = {jobd_path(), "--help", NULL};

		ck_assert_int_eq(run_capture(argv, NULL, &out, NULL), 0);
		ck_assert_ptr_nonnull(strstr(out, "--tls-cert FILE"));
		ck_assert_ptr_nonnull(strstr(out, "--tls-client-ca FILE"));
		free(out);
	}
}
END_TEST

/* With TLS, jobd may listen on every address (reached here by 127.0.0.1). */
START_TEST(test_all_addresses)
{
	static const char *const more[] = {"--listen", "0.0.0.0:0", NULL};
	struct client c;

	start_tls(more);
	ck_assert(harness_log_contains(&h, "listening on tcp 0.0.0.0:"));
	ck_assert(harness_log_contains(&h, " (TLS)\n"));
	ck_assert_int_gt(h.port, 0);
	connect_tls(&c, &(struct client_tls_opts){.ca = F.ca});
	echo_round_trip(&c, 9);
	client_close(&c);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* --- jobctl --------------------------------------------------------------- */

/* run, submit/wait/get and batch over TLS; by address and by name. */
START_TEST(test_jobctl_round_trip)
{
	char addr[64], name[64], id[32], *out, *err, *text, *p;
	json_t *job;
	int i;

	start_tls(NULL);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", h.port);
	snprintf(name, sizeof name, "localhost:%d", h.port);
	ck_assert_int_eq(
	    jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca", F.ca, "run",
	        "--", "sh", "-c", "echo over-tls; exit 3", NULL),
	    3);
	ck_assert_str_eq(out, "over-tls\n");
	free(out);
	free(err);
	/* The DNS name of the certificate. */
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", name, "--tls-ca",
	                     F.ca, "ping", NULL),
	    0);
	free(out);
	free(err);
	/* The CA from the environment. */
	setenv("JOBD_TLS_CA", F.ca, 1);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "submit",
	                     "--kind", "echo", "--args", "{\"k\":1}", NULL),
	    0);
	snprintf(id, sizeof id, "%lld", strtoll(out, NULL, 10));
	free(out);
	free(err);
	ck_assert_int_eq(
	    jobctl(NULL, &out, &err, "--addr", addr, "wait", id, NULL), 0);
	free(out);
	free(err);
	ck_assert_int_eq(
	    jobctl(NULL, &out, &err, "--addr", addr, "get", "--json", id, NULL),
	    0);
	job = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(str(job, "state"), "succeeded");
	json_decref(job);
	free(out);
	free(err);
	/* batch: its own poll() loop. */
	text = malloc(200 * 40);
	for (i = 0, p = text; i < 200; i++)
		p += sprintf(p, "{\"kind\":\"echo\",\"args\":{\"i\":%d}}\n", i);
	ck_assert_int_eq(
	    jobctl(text, &out, &err, "--addr", addr, "batch", NULL), 0);
	for (i = 0, p = out; (p = strchr(p, '\n')) != NULL; p++)
		i++;
	ck_assert_int_eq(i, 200);
	ck_assert_ptr_null(strstr(out, "\"failed\""));
	free(text);
	free(out);
	free(err);
	unsetenv("JOBD_TLS_CA");
	ck_assert_int_eq(unix_counter("tls_conns"), 6);
	ck_assert_int_eq(unix_counter("tls_handshake_failures"), 0);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* jobd's certificate from another CA, or for another name: refused. */
START_TEST(test_jobctl_verify)
{
	char addr[64], name[64], want[128], *out, *err;

	start_tls(NULL);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", h.port);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.other_ca, "ping", NULL),
	    125);
	snprintf(want, sizeof want,
	    "jobctl: cannot connect to %s: TLS: certificate verify failed: ",
	    addr);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	/* jobctl's alert tells jobd why. */
	ck_assert(harness_log_wait_n(&h, FAILED, 1));
	/* No --tls-ca: plain text to a TLS port. */
	ck_assert_int_eq(
	    jobctl(NULL, &out, &err, "--addr", addr, "ping", NULL), 125);
	ck_assert_str_ne(err, "");
	free(out);
	free(err);
	ck_assert(harness_log_wait_n(&h, FAILED, 2));
	ck_assert_int_eq(unix_counter("tls_handshake_failures"), 2);
	ck_assert_int_eq(harness_stop(&h), 0);

	/* A certificate for localhost only. */
	start_with(F.dnsonly, F.dnsonly_key, NULL);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", h.port);
	snprintf(name, sizeof name, "localhost:%d", h.port);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "ping", NULL),
	    125);
	ck_assert_msg(strstr(err, "IP address mismatch") != NULL, "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", name, "--tls-ca",
	                     F.ca, "ping", NULL),
	    0);
	free(out);
	free(err);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* jobctl with TLS against a jobd without it; bad files given to jobctl. */
START_TEST(test_jobctl_errors)
{
	static const char *const more[] = {"--auth-timeout", "300ms", NULL};
	char addr[PATH_MAX + 8], want[PATH_MAX + 64], *out, *err;

	ck_assert_int_eq(harness_start(&h, more), 0);
	setenv("JOBD_TOKEN_FILE", h.token_file, 1);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", h.port);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "ping", NULL),
	    125);
	snprintf(want, sizeof want, "cannot connect to %s: TLS: ", addr);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "does jobd speak TLS on this port?") != NULL,
	    "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.garbage, "ping", NULL),
	    125);
	ck_assert_msg(
	    strstr(err, "TLS CA file ") && strstr(err, F.garbage), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "--tls-cert", F.client, "--tls-key",
	                     F.server_key, "ping", NULL),
	    125);
	ck_assert_msg(strstr(err, "does not match"), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-cert",
	                     F.client, "--tls-key", F.client_key, "ping", NULL),
	    125);
	ck_assert_msg(strstr(err, "--tls-cert needs --tls-ca"), "%s", err);
	free(out);
	free(err);
	/* The unix socket ignores the TLS settings. */
	snprintf(addr, sizeof addr, "unix:%s", h.sock);
	ck_assert_int_eq(jobctl(NULL, &out, &err, "--addr", addr, "--tls-ca",
	                     F.ca, "ping", NULL),
	    0);
	free(out);
	free(err);
	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

/* --- certificates --------------------------------------------------------- */

static int
write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

#define PATH(field, name) \
	snprintf(F.field, sizeof F.field, "%s/%s", F.dir, name)

/* Make every file of F; 0, or -1 after saying why. */
static int
make_files(void)
{
	struct tlscert *ca, *other, *server, *dnsonly, *client, *stranger;
	const char *gen[] = {jobd_path(), "--gen-token", F.token, NULL};
	int r = -1;

	snprintf(F.dir, sizeof F.dir, "/tmp/jobd-tls.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	PATH(ca, "ca.pem");
	PATH(other_ca, "other-ca.pem");
	PATH(server, "server.pem");
	PATH(server_key, "server.key");
	PATH(dnsonly, "dnsonly.pem");
	PATH(dnsonly_key, "dnsonly.key");
	PATH(client, "client.pem");
	PATH(client_key, "client.key");
	PATH(stranger, "stranger.pem");
	PATH(stranger_key, "stranger.key");
	PATH(garbage, "garbage.pem");
	PATH(garbage_key, "garbage.key");
	PATH(open_key, "open.key");
	PATH(encrypted_key, "encrypted.key");
	PATH(token, "token");
	ca = tlscert_ca("jobd test CA");
	other = tlscert_ca("another CA");
	server = tlscert_leaf(ca, "jobd", "IP:127.0.0.1,DNS:localhost", false);
	dnsonly = tlscert_leaf(ca, "jobd", "DNS:localhost", false);
	client = tlscert_leaf(ca, "a client", NULL, true);
	stranger = tlscert_leaf(other, "a stranger", NULL, true);
	if (ca != NULL && other != NULL && server != NULL && dnsonly != NULL &&
	    client != NULL && stranger != NULL &&
	    tlscert_write(ca, F.ca, NULL, NULL) == 0 &&
	    tlscert_write(other, F.other_ca, NULL, NULL) == 0 &&
	    tlscert_write(server, F.server, F.server_key, NULL) == 0 &&
	    tlscert_write(dnsonly, F.dnsonly, F.dnsonly_key, NULL) == 0 &&
	    tlscert_write(client, F.client, F.client_key, NULL) == 0 &&
	    tlscert_write(stranger, F.stranger, F.stranger_key, NULL) == 0 &&
	    tlscert_write(server, NULL, F.open_key, NULL) == 0 &&
	    chmod(F.open_key, 0644) == 0 &&
	    tlscert_write(server, NULL, F.encrypted_key, "secret") == 0 &&
	    write_text(F.garbage, "this is not PEM\n", 0644) == 0 &&
	    write_text(F.garbage_key,
	        "-----BEGIN PRIVATE KEY-----\nnot base64\n"
	        "-----END PRIVATE KEY-----\n",
	        0600) == 0 &&
	    run_capture(gen, NULL, NULL, NULL) == 0)
		r = 0;
	else
		fprintf(stderr, "check_tls: cannot make the test files\n");
	tlscert_free(ca);
	tlscert_free(other);
	tlscert_free(server);
	tlscert_free(dnsonly);
	tlscert_free(client);
	tlscert_free(stranger);
	return r;
}

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_plaintext_client);
	tcase_add_test(tc, test_random_bytes);
	tcase_add_test(tc, test_handshake_timeout);
	tcase_add_test(tc, test_client_ca);
	tcase_add_test(tc, test_startup_errors);
	tcase_add_test(tc, test_all_addresses);
	tcase_add_test(tc, test_jobctl_round_trip);
	tcase_add_test(tc, test_jobctl_verify);
	tcase_add_test(tc, test_jobctl_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	char cmd[128];
	int status;

	signal(SIGPIPE, SIG_IGN);
	if (make_files() != 0)
		return 99;
	status = test_run_suite(tls_suite());
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
	if (system(cmd) != 0)
		status = EXIT_FAILURE;
	return status;
}
