/*
 * check_libjobd: the C client library against the real daemon.
 *
 * The one-call operations (submit, wait, get, stats, call) and their
 * errors: jobd's refusals keep its code with errno 0, local failures have
 * errno and no code, and the connection stays usable after a refusal.
 * Then connecting: unix and TCP with the token (right, wrong, missing,
 * from a file), bad addresses, the default address; pipelining with
 * replies taken out of order; a poll() loop of the caller's own; a jobd
 * that dies mid-wait (EPIPE); and a fake jobd that sends garbage (EPROTO).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jobd.h>

#include "common.h"
#include "harness.h"

static struct harness H;
static char addr[PATH_MAX + 8];

static void
setup(void)
{
	ck_assert_int_eq(harness_start(&H, NULL), 0);
	snprintf(addr, sizeof addr, "unix:%s", H.sock);
}

static void
teardown(void)
{
	harness_stop(&H);
}

static struct jobd *
connect_ok(const char *a, const struct jobd_options *opt)
{
	char err[512];
	struct jobd *c = jobd_connect(a, opt, err, sizeof err);

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(jobd_error(c), "");
	ck_assert_ptr_null(jobd_error_code(c));
	return c;
}

static const char *
jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	ck_assert_msg(s != NULL, "no string %s", key);
	return s;
}

START_TEST(test_submit_wait_get_stats)
{
	struct jobd *c = connect_ok(addr, NULL);
	json_t *spec, *job, *stats;
	int64_t id = -1, id2 = -1;

	spec = json_pack("{s:s, s:[s,s], s:s}", "kind", "exec", "argv", "echo",
	    "hello from libjobd", "queue", "lib");
	ck_assert_int_eq(jobd_submit(c, spec, &id), 0);
	ck_assert_int_gt(id, 0);
	/* The spec is the caller's still, and gets no "id". */
	ck_assert_int_eq(json_object_size(spec), 3);
	job = jobd_wait(c, id, -1);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(json_integer_value(json_object_get(job, "id")), id);
	ck_assert_str_eq(jstr(job, "state"), "succeeded");
	ck_assert_str_eq(jstr(job, "stdout"), "hello from libjobd\n");
	json_decref(job);

	job = jobd_get(c, id);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(jstr(job, "queue"), "lib");
	ck_assert_str_eq(
	    json_string_value(json_array_get(json_object_get(job, "argv"), 1)),
	    "hello from libjobd");
	json_decref(job);

	/* In-process kinds give a result. */
	json_decref(spec);
	spec = json_pack(
	    "{s:s, s:{s:[i,i,i]}}", "kind", "sum", "args", "values", 1, 2, 39);
	ck_assert_int_eq(jobd_submit(c, spec, &id2), 0);
	ck_assert_int_gt(id2, id);
	job = jobd_wait(c, id2, 20000);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_object_get(job, "result"), "sum")),
	    42);
	json_decref(job);
	json_decref(spec);

	stats = jobd_stats(c);
	ck_assert_ptr_nonnull(stats);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(
	        json_object_get(stats, "counters"), "jobs_submitted")),
	    2);
	ck_assert_ptr_nonnull(json_object_get(stats, "histograms"));
	json_decref(stats);
	jobd_close(c);
}
END_TEST

START_TEST(test_refusals)
{
	struct jobd *c = connect_ok(addr, NULL);
	json_t *spec, *req, *reply;
	int64_t id = 77;

	errno = EINVAL;
	ck_assert_ptr_null(jobd_get(c, 999999));
	ck_assert_int_eq(errno, 0);
	ck_assert_str_eq(jobd_error_code(c), "not_found");
	ck_assert_msg(strncmp(jobd_error(c), "not_found: ", 11) == 0, "%s",
	    jobd_error(c));
	ck_assert_ptr_null(jobd_wait(c, 999999, 1000));
	ck_assert_str_eq(jobd_error_code(c), "not_found");

	spec = json_pack("{s:s}", "kind", "no-such-kind");
	ck_assert_int_eq(jobd_submit(c, spec, &id), -1);
	ck_assert_int_eq(id, 77);
	ck_assert_str_eq(jobd_error_code(c), "unknown_kind");
	json_decref(spec);
	spec = json_pack("{s:s, s:[]}", "kind", "exec", "argv");
	ck_assert_int_eq(jobd_submit(c, spec, NULL), -1);
	ck_assert_str_eq(jobd_error_code(c), "bad_request");
	ck_assert_ptr_nonnull(strstr(jobd_error(c), "argv"));
	json_decref(spec);

	/* jobd_call returns refusals as they are. */
	req = json_pack("{s:s}", "op", "no-such-op");
	reply = jobd_call(c, req);
	ck_assert_ptr_nonnull(reply);
	ck_assert(json_is_false(json_object_get(reply, "ok")));
	ck_assert_str_eq(reply_error_code(reply), "unknown_op");
	ck_assert_int_eq(jobd_reply_id(reply),
	    json_integer_value(json_object_get(req, "id")));
	json_decref(reply);
	json_decref(req);

	/* The connection goes on, and a success clears nothing it need not:
	 * the last failure is still described. */
	spec = json_pack("{s:s}", "kind", "echo");
	ck_assert_int_eq(jobd_submit(c, spec, &id), 0);
	ck_assert_int_ne(id, 77);
	json_decref(spec);
	jobd_close(c);
}
END_TEST

START_TEST(test_wait_timeout)
{
	struct jobd *c = connect_ok(addr, NULL);
	json_t *spec =
	    json_pack("{s:s, s:{s:i}}", "kind", "sleep", "args", "ms", 60000);
	json_t *req, *reply, *job;
	int64_t id;

	ck_assert_int_eq(jobd_submit(c, spec, &id), 0);
	ck_assert_ptr_null(jobd_wait(c, id, 50));
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_ptr_null(jobd_error_code(c));
	ck_assert_ptr_nonnull(strstr(jobd_error(c), "has not finished"));
	/* The job goes on; cancel it and wait for the end. */
	req = json_pack("{s:s, s:I}", "op", "cancel", "job", (json_int_t)id);
	reply = jobd_call(c, req);
	ck_assert_ptr_nonnull(reply);
	ck_assert(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	json_decref(req);
	job = jobd_wait(c, id, -1);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	json_decref(job);
	json_decref(spec);
	jobd_close(c);
}
END_TEST

START_TEST(test_tcp_token)
{
	struct jobd_options opt = {0};
	char tcp[64], token[128], err[512];
	struct jobd *c;
	json_t *stats, *req, *reply;

	snprintf(tcp, sizeof tcp, "127.0.0.1:%d", H.port);
	snprintf(token, sizeof token, "%s", harness_token_value());

	opt.token = token;
	c = connect_ok(tcp, &opt);
	stats = jobd_stats(c);
	ck_assert_ptr_nonnull(stats);
	json_decref(stats);
	jobd_close(c);

	opt.token = NULL;
	opt.token_file = H.token_file;
	c = connect_ok(tcp, &opt);
	stats = jobd_stats(c);
	ck_assert_ptr_nonnull(stats);
	json_decref(stats);
	jobd_close(c);

	/* A wrong token: refused, said so. */
	opt.token = "00";
	opt.token_file = NULL;
	ck_assert_ptr_null(jobd_connect(tcp, &opt, err, sizeof err));
	ck_assert_msg(
	    strstr(err, tcp) != NULL && strstr(err, "forbidden"), "%s", err);

	/* No token: connected, but jobd wants the hello first. */
	c = connect_ok(tcp, NULL);
	req = json_pack("{s:s}", "op", "ping");
	reply = jobd_call(c, req);
	ck_assert_ptr_nonnull(reply);
	ck_assert_str_eq(reply_error_code(reply), "auth_required");
	json_decref(reply);
	json_decref(req);
	jobd_close(c);

	/* A token file that is not there. */
	opt.token = NULL;
	opt.token_file = "/nonexistent/token";
	ck_assert_ptr_null(jobd_connect(tcp, &opt, err, sizeof err));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(
	    strstr(err, "token file /nonexistent/token") != NULL, "%s", err);
}
END_TEST

START_TEST(test_connect_errors)
{
	struct jobd_options opt = {0};
	char err[512], path[PATH_MAX + 32];
	struct jobd *c;

	ck_assert_int_lt(
	    snprintf(path, sizeof path, "unix:%s/nothere.sock", H.dir),
	    (int)sizeof path);
	ck_assert_ptr_null(jobd_connect(path, NULL, err, sizeof err));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(err, "(is jobd running?)") != NULL, "%s", err);
	/* err may be NULL. */
	ck_assert_ptr_null(jobd_connect(path, NULL, NULL, 0));
	ck_assert_int_eq(errno, ENOENT);

	ck_assert_ptr_null(jobd_connect("no-port", NULL, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(
	    strstr(err, "bad address \"no-port\"") != NULL, "%s", err);
	ck_assert_ptr_null(jobd_connect("unix:", NULL, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	/* Ports out of range are not wrapped around to another one. */
	ck_assert_ptr_null(
	    jobd_connect("127.0.0.1:99999", NULL, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, "bad port \"99999\"") != NULL, "%s", err);
	ck_assert_ptr_null(
	    jobd_connect("127.0.0.1:65536", NULL, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(jobd_connect("127.0.0.1:0", NULL, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(jobd_connect("[::1]:abc", NULL, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, "bad port \"abc\"") != NULL, "%s", err);
	/* A closed loopback port. */
	ck_assert_ptr_null(jobd_connect("127.0.0.1:1", NULL, err, sizeof err));
	ck_assert_int_eq(errno, ECONNREFUSED);

	opt.tls_cert = "/x.pem";
	ck_assert_ptr_null(jobd_connect(addr, &opt, err, sizeof err));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "go together"));
	opt.tls_key = "/x.key";
	ck_assert_ptr_null(jobd_connect(addr, &opt, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "needs a CA"));
	opt.tls_ca = "/nonexistent/ca.pem";
	ck_assert_ptr_null(jobd_connect("127.0.0.1:1", &opt, err, sizeof err));
	ck_assert_msg(
	    strstr(err, "TLS CA file /nonexistent/ca.pem") != NULL, "%s", err);

	/* The default address: $JOBD_ADDR first. */
	ck_assert_int_eq(setenv("JOBD_ADDR", addr, 1), 0);
	ck_assert_str_eq(jobd_default_address(), addr);
	c = connect_ok(NULL, NULL);
	jobd_close(c);
	ck_assert_int_eq(unsetenv("JOBD_ADDR"), 0);
	ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/nonexistent", 1), 0);
	ck_assert_str_eq(jobd_default_address(), "unix:/run/jobd/jobd.sock");
	jobd_close(NULL);
	ck_assert_str_eq(jobd_version(), PACKAGE_VERSION);
}
END_TEST

#define PIPELINED 200

START_TEST(test_pipelining)
{
	struct jobd *c = connect_ok(addr, NULL);
	int64_t ids[PIPELINED];
	json_t *req, *reply;
	int i, seen = 0;

	for (i = 0; i < PIPELINED; i++) {
		req = json_pack("{s:s, s:{s:s, s:{s:i}}}", "op", "submit",
		    "job", "kind", "echo", "args", "n", i);
		ids[i] = jobd_send(c, req);
		ck_assert_int_eq(ids[i], i + 1);
		json_decref(req);
	}
	ck_assert_uint_gt(jobd_pending(c), 0);
	/* Last first: the others are kept meanwhile. */
	for (i = PIPELINED - 1; i >= PIPELINED / 2; i--) {
		reply = jobd_reply(c, ids[i], 20000);
		ck_assert_ptr_nonnull(reply);
		ck_assert_int_eq(jobd_reply_id(reply), ids[i]);
		ck_assert(json_is_true(json_object_get(reply, "ok")));
		json_decref(reply);
	}
	ck_assert_uint_eq(jobd_pending(c), 0);
	while (seen < PIPELINED / 2) {
		reply = jobd_reply_any(c, 20000);
		ck_assert_ptr_nonnull(reply);
		ck_assert_int_le(jobd_reply_id(reply), PIPELINED / 2);
		json_decref(reply);
		seen++;
	}
	/* Nothing more is coming. */
	ck_assert_ptr_null(jobd_reply_any(c, 100));
	ck_assert_int_eq(errno, ETIMEDOUT);
	jobd_close(c);
}
END_TEST

START_TEST(test_own_poll_loop)
{
	struct jobd *c = connect_ok(addr, NULL);
	json_t *req = json_pack("{s:s}", "op", "ping"), *reply;
	int64_t want[3];
	int got = 0, i;

	for (i = 0; i < 3; i++)
		want[i] = jobd_send(c, req);
	json_decref(req);
	ck_assert_int_eq(jobd_write_some(c), 0);
	while (got < 3) {
		struct pollfd pfd = {jobd_fd(c), jobd_poll_events(c), 0};

		ck_assert_int_ge(
		    poll(&pfd, 1, jobd_buffered(c) ? 0 : HARNESS_DEADLINE_MS),
		    1);
		ck_assert_int_eq(jobd_poll_done(c, pfd.revents), 0);
		while (jobd_next(c, &reply) == 1) {
			ck_assert_int_eq(jobd_reply_id(reply), want[got]);
			json_decref(reply);
			got++;
		}
	}
	ck_assert_int_eq(jobd_read_some(c), 0);
	jobd_close(c);
}
END_TEST

START_TEST(test_jobd_goes_away)
{
	struct jobd *c = connect_ok(addr, NULL);
	json_t *spec =
	    json_pack("{s:s, s:{s:i}}", "kind", "sleep", "args", "ms", 60000);
	int64_t id;

	ck_assert_int_eq(jobd_submit(c, spec, &id), 0);
	json_decref(spec);
	ck_assert_int_eq(harness_halt(&H, SIGKILL), 0);
	ck_assert_ptr_null(jobd_wait(c, id, -1));
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_str_eq(jobd_error(c), "jobd closed the connection");
	ck_assert_ptr_null(jobd_error_code(c));
	jobd_close(c);
	ck_assert_int_eq(harness_respawn(&H, NULL), 0);
}
END_TEST

/* A fake jobd on a socket of its own: answers anything with garbage. */
START_TEST(test_garbage_reply)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[PATH_MAX + 8], buf[256];
	int lfd, fd, status;
	struct jobd *c;
	pid_t pid;

	ck_assert_int_lt(
	    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/fake.sock", H.dir),
	    (int)sizeof sun.sun_path);
	snprintf(path, sizeof path, "unix:%s", sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	if ((pid = fork()) == 0) {
		if ((fd = accept(lfd, NULL, NULL)) < 0 ||
		    read(fd, buf, sizeof buf) <= 0 ||
		    write(fd, "[1,2]\nnot json\n", 15) != 15)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	close(lfd);
	c = connect_ok(path, NULL);
	ck_assert_ptr_null(jobd_stats(c));
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_str_eq(
	    jobd_error(c), "jobd sent a line that is not a JSON object");
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	jobd_close(c);
}
END_TEST

static Suite *
libjobd_suite(void)
{
	Suite *s = suite_create("libjobd");
	TCase *tc = tcase_create("libjobd");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_submit_wait_get_stats);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_tcp_token);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_own_poll_loop);
	tcase_add_test(tc, test_jobd_goes_away);
	tcase_add_test(tc, test_garbage_reply);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(libjobd_suite());
}
