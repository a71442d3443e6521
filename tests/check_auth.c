/*
 * check_auth: who may talk to jobd.  TCP clients must say hello with the
 * token first (a wrong one is refused after a delay, a silent client at
 * the handshake deadline, anything else at once); the token file must be
 * private; the unix socket has the mode and group it was given and lets in
 * only allowed users (checked by switching to another uid, when run as
 * root).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"

static struct harness H;

static const char *
jobd_path(void)
{
	const char *p = getenv("JOBD");

	return p != NULL ? p : "daemon/jobd";
}

/* After a refusal the server closes: the next read is EOF. */
static void
assert_closed(struct client *c)
{
	char *line = client_line(c, 10000);

	ck_assert_msg(line == NULL, "expected EOF, got %s", line);
}

START_TEST(test_tcp_needs_token)
{
	struct client c, u;
	char token[128], req[256];
	json_t *r;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	snprintf(token, sizeof token, "%s", harness_token_value());
	ck_assert_uint_eq(strlen(token), 64);

	/* Anything before hello: auth_required, then closed. */
	ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
	r = client_call(&c, "{\"op\":\"submit\",\"id\":1,\"job\":"
	                    "{\"kind\":\"exec\",\"argv\":[\"true\"]}}");
	ck_assert_str_eq(reply_error_code(r), "auth_required");
	ck_assert_int_eq(num(r, "id"), 1);
	json_decref(r);
	assert_closed(&c);
	client_close(&c);

	/* hello without a token is answered; the next request is not. */
	ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
	r = call_ok(&c, "{\"op\":\"hello\"}");
	ck_assert_str_eq(str(r, "server"), "jobd");
	json_decref(r);
	r = client_call(&c, "{\"op\":\"ping\"}");
	ck_assert_str_eq(reply_error_code(r), "auth_required");
	json_decref(r);
	assert_closed(&c);
	client_close(&c);

	/* The right token: in. */
	ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
	snprintf(req, sizeof req,
	    "{\"op\":\"hello\",\"id\":\"h\",\"token\":\"%s\"}", token);
	r = call_ok(&c, req);
	ck_assert_str_eq(str(r, "id"), "h");
	ck_assert_ptr_null(json_object_get(r, "token"));
	json_decref(r);
	json_decref(call_ok(&c, "{\"op\":\"ping\"}"));
	client_close(&c);

	/* Nothing was submitted by the refused clients. */
	ck_assert_int_eq(client_unix(&u, H.sock), 0);
	ck_assert_int_eq(counter_of(&u, "jobs_submitted"), 0);
	ck_assert_int_eq(counter_of(&u, "auth_failures"), 0);
	client_close(&u);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* Wrong tokens (a prefix, one longer, one digit off): refused, late. */
START_TEST(test_bad_tokens)
{
	char token[128], bad[3][160], req[512];
	struct timespec t0, t1;
	struct client c, u;
	json_t *r;
	int i;
	double secs;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	snprintf(token, sizeof token, "%s", harness_token_value());
	snprintf(bad[0], sizeof bad[0], "%.63s", token);
	snprintf(bad[1], sizeof bad[1], "%s0", token);
	snprintf(bad[2], sizeof bad[2], "%s", token);
	bad[2][10] = bad[2][10] == 'a' ? 'b' : 'a';
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
		snprintf(req, sizeof req,
		    "{\"op\":\"hello\",\"id\":%d,\"token\":\"%s\"}", i, bad[i]);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = client_call(&c, req);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(reply_error_code(r), "forbidden");
		ck_assert_int_eq(num(r, "id"), i);
		json_decref(r);
		/* Not earlier than the fixed delay. */
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		ck_assert_msg(secs >= 0.99, "refused after %.3f s", secs);
		assert_closed(&c);
		client_close(&c);
	}
	/* A token that is not a string. */
	ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
	r = client_call(&c, "{\"op\":\"hello\",\"token\":42}");
	ck_assert_str_eq(reply_error_code(r), "forbidden");
	json_decref(r);
	client_close(&c);
	ck_assert_int_eq(client_unix(&u, H.sock), 0);
	ck_assert_int_eq(counter_of(&u, "auth_failures"), 4);
	client_close(&u);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* A client that says nothing is closed at the handshake deadline. */
START_TEST(test_handshake_deadline)
{
	static const char *const extra[] = {"--auth-timeout", "300ms", NULL};
	struct client c, ok;
	json_t *r;

	ck_assert_int_eq(harness_start(&H, extra), 0);
	ck_assert_int_eq(client_tcp(&ok, H.port), 0); /* authenticated */
	ck_assert_int_eq(client_tcp_raw(&c, H.port), 0);
	r = client_reply(&c, 10000);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(reply_error_code(r), "auth_required");
	json_decref(r);
	assert_closed(&c);
	client_close(&c);
	/* The authenticated client is not affected by the deadline. */
	json_decref(call_ok(&ok, "{\"op\":\"ping\"}"));
	client_close(&ok);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

/* Run jobd with args; its exit status and stderr. */
static int
run_jobd(const char *const *args, char **err)
{
	const char *argv[16];
	char *out;
	int n = 0, rc;

	argv[n++] = jobd_path();
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	rc = run_capture(argv, NULL, &out, err);
	free(out);
	return rc;
}

START_TEST(test_token_files)
{
	char dir[] = "/tmp/jobd-auth.XXXXXX", path[128], sock[128], *err;
	char text[128];
	struct stat st;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/token", dir);
	snprintf(sock, sizeof sock, "%s/s", dir);
	{
		const char *const gen[] = {"--gen-token", path, NULL};

		ck_assert_int_eq(run_jobd(gen, &err), 0);
		free(err);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_eq(st.st_mode & 0777, 0600);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
		fclose(f);
		ck_assert_uint_eq(strlen(text), 65);
		ck_assert_uint_eq(strspn(text, "0123456789abcdef"), 64);
		/* Never over an existing file. */
		ck_assert_int_eq(run_jobd(gen, &err), 1);
		ck_assert_ptr_nonnull(strstr(err, "File exists"));
		free(err);
	}
	{
		const char *const no_token[] = {"--socket", sock, "--state-dir",
		    "none", "--listen", "127.0.0.1:0", NULL};

		/* A usage error, found before anything is bound. */
		ck_assert_int_eq(run_jobd(no_token, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, "needs --token-file"));
		free(err);
	}
	{
		const char *const open_file[] = {"--socket", sock,
		    "--state-dir", "none", "--listen", "127.0.0.1:0",
		    "--token-file", path, NULL};

		ck_assert_int_eq(chmod(path, 0644), 0);
		ck_assert_int_eq(run_jobd(open_file, &err), 1);
		ck_assert_ptr_nonnull(strstr(err, "lets others read it"));
		free(err);
		ck_assert_int_eq(chmod(path, 0600), 0);
		f = fopen(path, "w");
		fputs("short\n", f);
		fclose(f);
		ck_assert_int_eq(run_jobd(open_file, &err), 1);
		ck_assert_ptr_nonnull(strstr(err, "the token must be"));
		free(err);
	}
	{
		const char *const gen[] = {"--gen-token", path, NULL};

		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(run_jobd(gen, &err), 0);
		free(err);
	}
	{
		const char *const wide[] = {"--socket", sock, "--state-dir",
		    "none", "--listen", "0.0.0.0:0", "--token-file", path,
		    NULL};

		ck_assert_int_eq(run_jobd(wide, &err), 1);
		ck_assert_ptr_nonnull(strstr(err, "only loopback"));
		free(err);
	}
	{
		const char *const bad_mode[] = {"--socket-mode", "0644x", NULL};
		const char *const no_group[] = {
		    "--socket-group", "no-such-group-here", NULL};

		ck_assert_int_eq(run_jobd(bad_mode, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, "--socket-mode"));
		free(err);
		ck_assert_int_eq(run_jobd(no_group, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, "no group"));
		free(err);
	}
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Connect to path as uid; the first line jobd sends (or NULL). */
static char *
line_as(const char *path, uid_t uid, const char *req)
{
	int pfd[2], status;
	char *line = NULL;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		struct client c;
		char *l;

		close(pfd[0]);
		if (setgid(65534) != 0 || setuid(uid) != 0)
			_exit(3);
		if (client_unix(&c, path) != 0) {
			dprintf(pfd[1], "connect: %s", strerror(errno));
			_exit(0);
		}
		client_send(&c, req, strlen(req));
		if ((l = client_line(&c, 10000)) != NULL)
			dprintf(pfd[1], "%s", l);
		_exit(0);
	}
	close(pfd[1]);
	{
		char buf[1024];
		ssize_t n = read(pfd[0], buf, sizeof buf - 1);

		if (n > 0) {
			buf[n] = '\0';
			line = strdup(buf);
		}
	}
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	return line;
}

/* The socket's mode and group; other users refused unless allowed. */
START_TEST(test_unix_peers)
{
	static const char *const open_mode[] = {"--socket-mode", "0666", NULL};
	static const char *const allowed[] = {
	    "--socket-mode", "0666", "--allow-users", "65534", NULL};
	struct client u;
	struct stat st;
	char *line;

	ck_assert_int_eq(harness_start(&H, NULL), 0);
	ck_assert_int_eq(stat(H.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(harness_stop(&H), 0);
	if (geteuid() != 0)
		return; /* switching users needs root */

	ck_assert_int_eq(harness_start(&H, open_mode), 0);
	ck_assert_int_eq(stat(H.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0666);
	/* jobd's test directory must be searchable by the other user. */
	ck_assert_int_eq(chmod(H.dir, 0711), 0);
	line = line_as(H.sock, 65534, "{\"op\":\"ping\"}\n");
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "\"forbidden\""));
	ck_assert_ptr_nonnull(strstr(line, "uid 65534"));
	free(line);
	ck_assert_int_eq(client_unix(&u, H.sock), 0);
	ck_assert_int_eq(counter_of(&u, "conns_refused"), 1);
	client_close(&u);
	ck_assert_int_eq(harness_stop(&H), 0);

	ck_assert_int_eq(harness_start(&H, allowed), 0);
	ck_assert_int_eq(chmod(H.dir, 0711), 0);
	line = line_as(H.sock, 65534, "{\"op\":\"ping\"}\n");
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "\"ok\":true"));
	free(line);
	ck_assert_int_eq(harness_stop(&H), 0);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tcp_needs_token);
	tcase_add_test(tc, test_bad_tokens);
	tcase_add_test(tc, test_handshake_deadline);
	tcase_add_test(tc, test_token_files);
	tcase_add_test(tc, test_unix_peers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(auth_suite());
}
