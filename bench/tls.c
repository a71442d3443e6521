/*
 * tls: what TLS costs jobd's TCP clients.  Drives two running jobds, one
 * plain and one with --tls-cert, the same way, and prints figures; asserts
 * nothing.  Each figure is the median of three runs after a warm-up.
 *
 *   connections  one client connecting over and over: connect, (TLS
 *                handshake, verifying jobd's certificate), hello with the
 *                token, its reply, close: connections/s, and the CPU
 *                time of jobd's loop per connection when its pid is given
 *   pipelined    echo jobs submitted with "wait":true on one connection,
 *                100 in flight (written together, then their replies
 *                read): jobs/s
 *   round trip   one submit-and-wait at a time: p50 and p99
 *
 * Both sides use blocking sockets and the same code; only the stream
 * differs (recv/send or SSL_read/SSL_write).  TLS is what OpenSSL and
 * jobd agree on by default (TLS 1.3 with an EC P-256 certificate here);
 * no session is resumed, as jobctl resumes none.
 *
 * Usage: tls [-q] --plain HOST:PORT --tls HOST:PORT --ca FILE
 *            [--plain-pid PID] [--tls-pid PID]
 *        tls --make-certs DIR   (ca.pem, server.pem and server.key for
 *                               IP:127.0.0.1 and DNS:localhost)
 * The token comes from $JOBD_TOKEN_FILE.  bench/run-tls does it all.
 */
#include "config.h"

#include <err.h>
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchio.h"
#include "tlscert.h"

#define RUNS 3
#define WINDOW 100 /* pipelined jobs in flight */
#define ECHO_REQ                                                               \
	"{\"op\":\"submit\",\"wait\":true,\"output\":false,\"job\":{\"kind\":" \
	"\"echo\",\"args\":{\"x\":1}}}\n"

static struct {
	size_t scale; /* 10 with -q */
	const char *plain, *tls, *ca;
	pid_t plain_pid, tls_pid;
} opt = {1, NULL, NULL, NULL, 0, 0};

static SSL_CTX *ctx;
static char hello[1200];
static size_t hello_len;

/* A connection: a socket, maybe TLS over it, and a line buffer. */
struct stream {
	int fd;
	SSL *ssl;
	char buf[65536];
	size_t start, end;
};

static void
stream_write(struct stream *s, const char *data, size_t len)
{
	if (s->ssl == NULL) {
		write_all(s->fd, data, len);
		return;
	}
	if (SSL_write(s->ssl, data, (int)len) != (int)len)
		errx(1, "SSL_write failed");
}

/* Skip n lines of replies (each must be ok). */
static void
stream_lines(struct stream *s, size_t n)
{
	char *nl;
	ssize_t got;

	while (n > 0) {
		nl = memchr(s->buf + s->start, '\n', s->end - s->start);
		if (nl != NULL) {
			if (memmem(s->buf + s->start,
			        (size_t)(nl - (s->buf + s->start)),
			        "\"ok\":true", 9) == NULL)
				errx(1, "jobd: %.*s",
				    (int)(nl - (s->buf + s->start)),
				    s->buf + s->start);
			s->start = (size_t)(nl - s->buf) + 1;
			n--;
			continue;
		}
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
		if (s->end == sizeof s->buf)
			errx(1, "a reply longer than %zu bytes", sizeof s->buf);
		got = s->ssl != NULL ? SSL_read(s->ssl, s->buf + s->end,
		                           (int)(sizeof s->buf - s->end))
		                     : read(s->fd, s->buf + s->end,
		                           sizeof s->buf - s->end);
		if (got <= 0)
			errx(1, "jobd closed the connection");
		s->end += (size_t)got;
	}
}

/* Connect, handshake if tls, say hello with the token. */
static void
stream_open(struct stream *s, const char *addr, bool tls)
{
	s->start = s->end = 0;
	s->ssl = NULL;
	s->fd = connect_to(addr);
	if (tls) {
		if ((s->ssl = SSL_new(ctx)) == NULL ||
		    X509_VERIFY_PARAM_set1_ip_asc(
		        SSL_get0_param(s->ssl), "127.0.0.1") != 1 ||
		    SSL_set_fd(s->ssl, s->fd) != 1 ||
		    SSL_connect(s->ssl) != 1) {
			ERR_print_errors_fp(stderr);
			errx(1, "TLS to %s failed", addr);
		}
	}
	stream_write(s, hello, hello_len);
	stream_lines(s, 1);
}

static void
stream_close(struct stream *s)
{
	if (s->ssl != NULL) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	close(s->fd);
}

/*
 * CPU time of jobd's event loop (its main thread: where TLS runs) in
 * microseconds, from the scheduler's nanosecond count; 0 if unknown.
 */
static double
cpu_us(pid_t pid)
{
	unsigned long long ns;
	char path[64];
	FILE *f;
	int n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fscanf(f, "%llu", &ns);
	fclose(f);
	return n == 1 ? (double)ns / 1e3 : 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v)
{
	qsort(v, RUNS, sizeof v[0], cmp_double);
	return v[RUNS / 2];
}

/* n connections one after another: connections/s; *cpu: jobd's µs each. */
static double
run_connections(const char *addr, bool tls, pid_t pid, size_t n, double *cpu)
{
	struct stream *s = malloc(sizeof(*s));
	double c0 = cpu_us(pid);
	uint64_t t0 = now_ns();
	size_t i;

	for (i = 0; i < n; i++) {
		stream_open(s, addr, tls);
		stream_close(s);
	}
	*cpu = (cpu_us(pid) - c0) / (double)n;
	free(s);
	return (double)n / ((double)(now_ns() - t0) / 1e9);
}

/* n echo jobs, WINDOW at a time, on one connection: jobs/s. */
static double
run_pipelined(const char *addr, bool tls, size_t n)
{
	struct stream *s = malloc(sizeof(*s));
	struct sbuf window = {0};
	uint64_t t0;
	size_t i, done;

	for (i = 0; i < WINDOW; i++)
		sbuf_printf(&window, "%s", ECHO_REQ);
	stream_open(s, addr, tls);
	t0 = now_ns();
	for (done = 0; done < n; done += WINDOW) {
		stream_write(s, window.p, window.len);
		stream_lines(s, WINDOW);
	}
	t0 = now_ns() - t0;
	stream_close(s);
	free(window.p);
	free(s);
	return (double)done / ((double)t0 / 1e9);
}

/* n submit-and-wait round trips: p50 and p99 in µs. */
static void
run_round_trips(const char *addr, bool tls, size_t n, double *p50, double *p99)
{
	struct stream *s = malloc(sizeof(*s));
	double *us = malloc(n * sizeof(*us));
	uint64_t t0;
	size_t i;

	stream_open(s, addr, tls);
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		stream_write(s, ECHO_REQ, strlen(ECHO_REQ));
		stream_lines(s, 1);
		us[i] = (double)(now_ns() - t0) / 1e3;
	}
	stream_close(s);
	qsort(us, n, sizeof us[0], cmp_double);
	*p50 = us[n / 2];
	*p99 = us[n * 99 / 100];
	free(us);
	free(s);
}

static void
bench(const char *label, const char *addr, bool tls, pid_t pid)
{
	double conns[RUNS], cpu[RUNS], jobs[RUNS], p50[RUNS], p99[RUNS], c;
	size_t nconn = (tls ? 1500 : 5000) / opt.scale;
	size_t njobs = 50000 / opt.scale, nrtt = 5000 / opt.scale;
	int r;

	run_connections(addr, tls, pid, nconn / 10, &c); /* warm-up */
	for (r = 0; r < RUNS; r++)
		conns[r] = run_connections(addr, tls, pid, nconn, &cpu[r]);
	run_pipelined(addr, tls, njobs / 10);
	for (r = 0; r < RUNS; r++)
		jobs[r] = run_pipelined(addr, tls, njobs);
	for (r = 0; r < RUNS; r++)
		run_round_trips(addr, tls, nrtt, &p50[r], &p99[r]);
	if (tls) {
		struct stream *s = malloc(sizeof(*s));

		stream_open(s, addr, true);
		printf("%s (%s, %s)\n", label, SSL_get_version(s->ssl),
		    SSL_get_cipher_name(s->ssl));
		stream_close(s);
		free(s);
	} else
		printf("%s\n", label);
	printf("  %-40s %9.0f /s",
	    tls ? "connect, handshake, hello, close" : "connect, hello, close",
	    median(conns));
	if (pid > 0)
		printf("  (jobd loop CPU %.0f us each)", median(cpu));
	printf("\n  %-40s %9.0f jobs/s\n", "echo jobs, 100 in flight",
	    median(jobs));
	printf("  %-40s p50 %.1f us, p99 %.1f us\n",
	    "submit-and-wait round trip", median(p50), median(p99));
	fflush(stdout);
}

static void
make_certs(const char *dir)
{
	struct tlscert *ca = tlscert_ca("bench CA"), *server;
	char cert[4096], key[4096], ca_path[4096];

	snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
	snprintf(cert, sizeof cert, "%s/server.pem", dir);
	snprintf(key, sizeof key, "%s/server.key", dir);
	if (ca == NULL ||
	    (server = tlscert_leaf(
	         ca, "jobd", "IP:127.0.0.1,DNS:localhost", false)) == NULL ||
	    tlscert_write(ca, ca_path, NULL, NULL) != 0 ||
	    tlscert_write(server, cert, key, NULL) != 0)
		errx(1, "cannot make certificates in %s", dir);
	tlscert_free(server);
	tlscert_free(ca);
}

static void
read_token(void)
{
	const char *path = getenv("JOBD_TOKEN_FILE");
	char token[1100];
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL ||
	    fgets(token, sizeof token, f) == NULL)
		errx(1, "set JOBD_TOKEN_FILE to jobd's token file");
	fclose(f);
	token[strcspn(token, "\r\n")] = '\0';
	hello_len = (size_t)snprintf(hello, sizeof hello,
	    "{\"op\":\"hello\",\"token\":\"%s\"}\n", token);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"plain", required_argument, NULL, 'p'},
	    {"tls", required_argument, NULL, 't'},
	    {"ca", required_argument, NULL, 'c'},
	    {"plain-pid", required_argument, NULL, 'P'},
	    {"tls-pid", required_argument, NULL, 'T'},
	    {"make-certs", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	char load[32];
	int ch;

	while ((ch = getopt_long(argc, argv, "q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			opt.scale = 10;
			break;
		case 'p':
			opt.plain = optarg;
			break;
		case 't':
			opt.tls = optarg;
			break;
		case 'c':
			opt.ca = optarg;
			break;
		case 'P':
			opt.plain_pid = (pid_t)atoi(optarg);
			break;
		case 'T':
			opt.tls_pid = (pid_t)atoi(optarg);
			break;
		case 'm':
			make_certs(optarg);
			return 0;
		default:
			return 2;
		}
	}
	if (opt.plain == NULL || opt.tls == NULL || opt.ca == NULL)
		errx(2, "usage: tls [-q] --plain HOST:PORT --tls HOST:PORT "
		        "--ca FILE [--plain-pid PID] [--tls-pid PID]");
	signal(SIGPIPE, SIG_IGN);
	read_token();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
		errx(1, "TLS: cannot load %s", opt.ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	printf("bench/tls: one client, median of %d runs, load %s\n", RUNS,
	    load_average(load, sizeof load));
	bench("plain TCP", opt.plain, false, opt.plain_pid);
	bench("TLS", opt.tls, true, opt.tls_pid);
	SSL_CTX_free(ctx);
	return 0;
}
