/*
 * check_abuse: load and abuse, bounded and on loopback or a unix socket.
 * 10,000 idle connections are held (jobd's RSS per connection is
 * printed); 200 clients pipelining 1,000 submits each get every job; a
 * client sending 100 MB without a newline is closed and jobd's memory
 * stays bounded; random bytes get an error and a close, and jobd lives on.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

static struct harness H;

/* jobd's resident memory, kB. */
static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

START_TEST(test_ten_thousand_idle)
{
	enum { N = 10000 };
	static const char *const extra[] = {"--max-conns", "12000", NULL};
	struct client *c = calloc(N, sizeof(*c)), probe;
	struct rlimit rl;
	long before, after;
	int i;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < N + 512) {
		fprintf(stderr,
		    "check_abuse: hard fd limit %llu < %d; "
		    "skipping the 10k test\n",
		    (unsigned long long)rl.rlim_max, N + 512);
		free(c);
		return;
	}
	rl.rlim_cur = N + 512;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(harness_start(&H, extra), 0);
	before = rss_kb(H.pid);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(client_unix(&c[i], H.sock), 0);
	/* Every one is held: the last and a sample answer. */
	for (i = N - 1; i >= 0; i -= 997)
		json_decref(call_ok(&c[i], "{\"op\":\"ping\"}"));
	ck_assert_int_eq(client_unix(&probe, H.sock), 0);
	ck_assert_int_eq(counter_of(&probe, "conns_current"), N + 1);
	after = rss_kb(H.pid);
	fprintf(stderr,
	    "check_abuse: %d idle connections: jobd RSS %ld kB -> %ld kB, "
	    "%.0f bytes per connection\n",
	    N, before, after, (double)(after - before) * 1024 / N);
	client_close(&probe);
	for (i = 0; i < N; i++)
		client_close(&c[i]);
	free(c);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

enum { CLIENTS = 200, PER_CLIENT = 1000 };

struct flood {
	int id;
	int got, bad;
	char first_bad[256]; /* the first reply that was not a job */
	json_int_t ids[PER_CLIENT];
};

/* Pipeline PER_CLIENT submits, then read every reply. */
static void *
flooder(void *arg)
{
	struct flood *f = arg;
	struct client c;
	char *buf, *line;
	size_t len = 0, cap = (size_t)PER_CLIENT * 96;
	json_t *r;
	int i;

	if (client_unix(&c, H.sock) != 0) {
		f->bad = PER_CLIENT;
		return NULL;
	}
	buf = malloc(cap);
	for (i = 0; i < PER_CLIENT; i++)
		len += (size_t)snprintf(buf + len, cap - len,
		    "{\"op\":\"submit\",\"id\":%d,\"job\":{\"kind\":\"echo\","
		    "\"args\":{\"c\":%d}}}\n",
		    i, f->id);
	/* A writer thread is not needed: replies are small and jobd stops
	 * reading us only past 8 MiB of them. */
	if (client_send(&c, buf, len) != 0)
		f->bad = PER_CLIENT;
	for (i = 0; i < PER_CLIENT && f->bad == 0; i++) {
		if ((line = client_line(&c, 60000)) == NULL) {
			f->bad = PER_CLIENT - i;
			break;
		}
		r = json_loads(line, 0, NULL);
		if (r == NULL || reply_error_code(r) != NULL ||
		    !json_is_integer(json_object_get(r, "id"))) {
			if (f->bad++ == 0)
				snprintf(f->first_bad, sizeof f->first_bad,
				    "%s", line);
		} else {
			json_int_t k =
			    json_integer_value(json_object_get(r, "id"));

			if (k >= 0 && k < PER_CLIENT && f->ids[k] == 0) {
				f->ids[k] =
				    num(json_object_get(r, "job"), "id");
				f->got++;
			} else
				f->bad++;
		}
		json_decref(r);
		free(line);
	}
	free(buf);
	client_close(&c);
	return NULL;
}

static int
cmp_int(const void *a, const void *b)
{
	json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;

	return (x > y) - (x < y);
}

START_TEST(test_many_pipelining_clients)
{
	static const char *const extra[] = {
	    "--max-queued", "1000000", "--retain-count", "1000000", NULL};
	struct flood *f = calloc(CLIENTS, sizeof(*f));
	pthread_t t[CLIENTS];
	json_int_t *all = malloc(sizeof(json_int_t) * CLIENTS * PER_CLIENT);
	struct client c;
	size_t n = 0;
	int i, k;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	for (i = 0; i < CLIENTS; i++) {
		f[i].id = i;
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, flooder, &f[i]), 0);
	}
	for (i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < CLIENTS; i++) {
		ck_assert_msg(f[i].bad == 0,
		    "client %d: %d bad replies, the first: %s", i, f[i].bad,
		    f[i].first_bad);
		ck_assert_int_eq(f[i].got, PER_CLIENT);
		for (k = 0; k < PER_CLIENT; k++)
			all[n++] = f[i].ids[k];
	}
	/* Every job accounted for: as many distinct ids as submits. */
	qsort(all, n, sizeof(*all), cmp_int);
	for (i = 1; i < (int)n; i++)
		ck_assert_int_lt(all[i - 1], all[i]);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	ck_assert_int_eq(
	    counter_of(&c, "jobs_submitted"), CLIENTS * PER_CLIENT);
	client_close(&c);
	free(all);
	free(f);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_no_newline_flood)
{
	enum { CHUNK = 1 << 20, TOTAL = 100 };
	char *chunk = malloc(CHUNK);
	struct client c, ok;
	long before, peak = 0, kb;
	int i;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	before = rss_kb(H.pid);
	memset(chunk, 'a', CHUNK);
	ck_assert_int_eq(client_unix(&c, H.sock), 0);
	for (i = 0; i < TOTAL; i++) {
		if (client_send(&c, chunk, CHUNK) != 0)
			break; /* jobd hung up, having discarded enough */
		if ((kb = rss_kb(H.pid)) > peak)
			peak = kb;
		if (i == 1) {
			/* Past --max-line (1M): the error came at once. */
			char *line = client_line(&c, 20000);

			ck_assert_ptr_nonnull(line);
			ck_assert_ptr_nonnull(strstr(line, "line_too_long"));
			free(line);
		}
	}
	ck_assert_int_ge(i, 2);
	client_close(&c);
	fprintf(stderr,
	    "check_abuse: 100 MB without a newline: jobd RSS %ld kB, peak "
	    "%ld kB\n",
	    before, peak);
	/* Bounded: far under the 100 MB sent.  Not in the sanitizer
	 * builds, whose allocators keep freed memory in quarantine. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	ck_assert_int_lt(peak - before, 16 * 1024);
#endif
	ck_assert_int_eq(client_unix(&ok, H.sock), 0);
	json_decref(call_ok(&ok, "{\"op\":\"ping\"}"));
	client_close(&ok);
	free(chunk);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

START_TEST(test_random_bytes)
{
	unsigned char junk[4096];
	struct client c, ok;
	char *line;
	int round;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	for (round = 0; round < 50; round++) {
		ck_assert_int_eq(
		    getrandom(junk, sizeof junk, 0), (ssize_t)sizeof junk);
		junk[sizeof junk - 1] = '\n';
		ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
		ck_assert_int_eq(client_send(&c, (char *)junk, sizeof junk), 0);
		shutdown(c.fd, SHUT_WR);
		/* An error (bad JSON, or auth_required), then the close. */
		line = client_line(&c, 10000);
		if (line != NULL) {
			ck_assert_ptr_nonnull(strstr(line, "\"ok\":false"));
			free(line);
		}
		client_close(&c);
		ck_assert_int_eq(client_unix(&c, H.sock), 0);
		ck_assert_int_eq(client_send(&c, (char *)junk, sizeof junk), 0);
		shutdown(c.fd, SHUT_WR);
		while ((line = client_line(&c, 10000)) != NULL) {
			ck_assert_ptr_nonnull(strstr(line, "\"ok\":false"));
			free(line);
		}
		client_close(&c);
	}
	ck_assert_int_eq(client_unix(&ok, H.sock), 0);
	json_decref(call_ok(&ok, "{\"op\":\"ping\"}"));
	client_close(&ok);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

static Suite *
abuse_suite(void)
{
	Suite *s = suite_create("abuse");
	TCase *tc = tcase_create("abuse");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_ten_thousand_idle);
	tcase_add_test(tc, test_many_pipelining_clients);
	tcase_add_test(tc, test_no_newline_flood);
	tcase_add_test(tc, test_random_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(abuse_suite());
}
