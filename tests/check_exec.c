/*
 * check_exec: tests for the child processes of exec jobs (daemon/exec.c).
 *
 * Every test runs real programs (sh, cat, sleep...) on its own event base
 * and dispatches until each done callback has fired; a 30 s safety timer
 * fails the test instead of hanging it.  Each loop also checks that no file
 * descriptor was leaked.  Tests about process groups make the test process a
 * child subreaper, so the orphaned grandchildren they create are reparented
 * to it and can be reaped and inspected here.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common.h"
#include "exec.h"
#include "xmalloc.h"

#define MiB (1024 * 1024)
#define SAFETY_SEC 30

/* What one process did, as seen by the callbacks. */
struct run {
	struct exec_proc *p;
	pid_t pid; /* exec_pid() at the start */
	char errmsg[256];
	bool done;
	struct exec_result res; /* out and err point to the copies below */
	char *out, *err;
	uint64_t seen[3]; /* bytes the output callback saw per stream */
	char head[256];   /* the start of stdout, NUL-terminated */
	size_t head_len;
	const char *kill_on; /* exec_kill() once stdout contains this */
	enum exec_outcome kill_reason;
	bool killed;
	size_t peek_len; /* exec_output() length at the kill */
};

static struct event_base *base;
static struct event *safety;
static int pending;
static int fds_before;
/* Set around exec_start() and exec_kill(): done must not run inside them. */
static bool in_call;

/*
 * exec_spec wants char *const arrays; string literals are const here
 * (-Wwrite-strings), so argv and envp are built on the heap, remembered, and
 * freed after each test.
 */
static char **argv_list[64];
static size_t argv_count;

static char **
argv_new(const char *first, ...)
{
	va_list ap;
	const char *arg;
	char **argv;
	size_t n = 0, i;

	va_start(ap, first);
	for (arg = first; arg != NULL; arg = va_arg(ap, const char *))
		n++;
	va_end(ap);
	argv = xcalloc(n + 1, sizeof *argv);
	va_start(ap, first);
	for (arg = first, i = 0; arg != NULL;
	     arg = va_arg(ap, const char *), i++)
		argv[i] = xstrdup(arg);
	va_end(ap);
	ck_assert_uint_lt(argv_count, sizeof argv_list / sizeof argv_list[0]);
	argv_list[argv_count++] = argv;
	return argv;
}

#define ARGV(...) argv_new(__VA_ARGS__, (const char *)NULL)

static void
argv_free_all(void)
{
	size_t i, j;

	for (i = 0; i < argv_count; i++) {
		for (j = 0; argv_list[i][j] != NULL; j++)
			free(argv_list[i][j]);
		free(argv_list[i]);
	}
	argv_count = 0;
}

static int
count_fds(void)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	ck_abort_msg("processes not finished after %d s", SAFETY_SEC);
}

static void
loop_begin(void)
{
	struct timeval tv = {SAFETY_SEC, 0};

	fds_before = count_fds();
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	safety = evtimer_new(base, safety_cb, NULL);
	evtimer_add(safety, &tv);
	pending = 0;
}

/* Dispatch until every started process is done, then check for fd leaks. */
static void
loop_run(void)
{
	if (pending > 0)
		event_base_dispatch(base);
	ck_assert_int_eq(pending, 0);
	event_free(safety);
	event_base_free(base);
	base = NULL;
	ck_assert_int_eq(count_fds(), fds_before);
}

static void
done_cb(const struct exec_result *res, void *arg)
{
	struct run *r = arg;

	ck_assert_msg(!in_call, "done called from exec_start or exec_kill");
	ck_assert_msg(!r->done, "done called twice");
	r->done = true;
	r->res = *res;
	ck_assert_int_eq(res->pid, r->pid);
	ck_assert_int_eq(res->out[res->out_len], '\0');
	ck_assert_int_eq(res->err[res->err_len], '\0');
	r->out = xmalloc(res->out_len + 1);
	memcpy(r->out, res->out, res->out_len + 1);
	r->err = xmalloc(res->err_len + 1);
	memcpy(r->err, res->err, res->err_len + 1);
	r->res.out = r->out;
	r->res.err = r->err;
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void
output_cb(int stream, const char *data, size_t len, void *arg)
{
	struct run *r = arg;
	size_t n, kept;
	bool truncated;

	ck_assert(stream == 1 || stream == 2);
	ck_assert_uint_gt(len, 0);
	ck_assert(!r->done);
	r->seen[stream] += len;
	if (stream != 1)
		return;
	n = sizeof r->head - 1 - r->head_len;
	if (n > len)
		n = len;
	memcpy(r->head + r->head_len, data, n);
	r->head_len += n;
	r->head[r->head_len] = '\0';
	if (r->kill_on != NULL && !r->killed &&
	    strstr(r->head, r->kill_on) != NULL) {
		r->killed = true;
		r->peek_len = 0;
		(void)exec_output(r->p, 1, &r->peek_len, &truncated);
		in_call = true;
		exec_kill(r->p, r->kill_reason);
		in_call = false;
		kept = r->peek_len;
		ck_assert_uint_eq(kept, r->seen[1]);
		ck_assert(!truncated);
	}
}

static void
spec_init(struct exec_spec *spec, char *const *argv)
{
	memset(spec, 0, sizeof *spec);
	spec->argv = argv;
	spec->envp = ARGV("PATH=/usr/bin:/bin");
	spec->output_cap = MiB;
	spec->kill_grace_ms = 1000;
}

static struct exec_proc *
start(struct run *r, const struct exec_spec *spec)
{
	in_call = true;
	r->p = exec_start(
	    base, spec, done_cb, output_cb, r, r->errmsg, sizeof r->errmsg);
	in_call = false;
	if (r->p != NULL) {
		pending++;
		r->pid = exec_pid(r->p);
		ck_assert_int_gt(r->pid, 0);
	}
	return r->p;
}

/* Start one process and wait for it; it must start. */
static void
run_one(struct run *r, const struct exec_spec *spec)
{
	memset(r, 0, sizeof *r);
	loop_begin();
	ck_assert_msg(start(r, spec) != NULL, "exec_start: %s", r->errmsg);
	loop_run();
	ck_assert(r->done);
}

/* Start one process that must fail to start; returns its errno. */
static int
start_fails(struct run *r, const struct exec_spec *spec)
{
	int error;

	memset(r, 0, sizeof *r);
	loop_begin();
	errno = 0;
	ck_assert_ptr_null(start(r, spec));
	error = errno;
	loop_run();
	ck_assert(r->errmsg[0] != '\0');
	return error;
}

static void
run_clear(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static char *
make_tmpdir(void)
{
	char *dir = xstrdup("/tmp/check_exec.XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static char *
path_in(const char *dir, const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", dir, name);
	return p;
}

/*
 * Reap pid (an orphan reparented to us, the subreaper) and return its
 * status; fail if it is still alive after 10 s instead of hanging.
 */
static int
reap(pid_t pid)
{
	struct pollfd pfd;
	int fd, status;

	fd = pidfd_open(pid, 0);
	ck_assert_msg(fd != -1, "pidfd_open %d: %s", (int)pid, strerror(errno));
	pfd.fd = fd;
	pfd.events = POLLIN;
	ck_assert_msg(
	    poll(&pfd, 1, 10000) == 1, "pid %d still alive", (int)pid);
	close(fd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	return status;
}

static void
become_subreaper(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
}

START_TEST(test_echo)
{
	char **argv = ARGV("/bin/echo", "hello");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_int_eq(r.res.signal, 0);
	ck_assert_int_gt(r.res.pid, 0);
	ck_assert_str_eq(r.out, "hello\n");
	ck_assert_uint_eq(r.res.out_len, 6);
	ck_assert_uint_eq(r.res.out_total, 6);
	ck_assert(!r.res.out_truncated);
	ck_assert_uint_eq(r.res.err_len, 0);
	ck_assert_uint_eq(r.res.err_total, 0);
	ck_assert_uint_eq(r.seen[1], 6);
	ck_assert_uint_eq(r.seen[2], 0);
	run_clear(&r);
}
END_TEST

START_TEST(test_exit_code)
{
	char **argv = ARGV("sh", "-c", "echo out; echo err >&2; exit 3");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 3);
	ck_assert_int_eq(r.res.signal, 0);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_str_eq(r.err, "err\n");
	ck_assert_uint_eq(r.res.err_total, 4);
	ck_assert_uint_eq(r.seen[2], 4);
	run_clear(&r);
}
END_TEST

START_TEST(test_not_found)
{
	char **argv = ARGV("jobd-no-such-program");
	char **argv_slash = ARGV("/nonexistent/jobd-prog", "x");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	ck_assert_int_eq(start_fails(&r, &spec), ENOENT);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "jobd-no-such-program"));
	ck_assert_ptr_nonnull(strstr(r.errmsg, "not found"));

	spec_init(&spec, argv_slash);
	ck_assert_int_eq(start_fails(&r, &spec), ENOENT);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "/nonexistent/jobd-prog"));

	/* No PATH at all in the job's environment: the default one. */
	spec_init(&spec, argv);
	spec.envp = NULL;
	ck_assert_int_eq(start_fails(&r, &spec), ENOENT);
}
END_TEST

START_TEST(test_not_executable)
{
	char *dir = make_tmpdir();
	char *file = path_in(dir, "prog");
	char *env_path;
	char **argv = ARGV(file);
	char **argv_name = ARGV("prog");
	struct exec_spec spec;
	struct run r;

	write_file(file, "#!/bin/sh\necho no\n", 0644);
	spec_init(&spec, argv);
	ck_assert_int_eq(start_fails(&r, &spec), EACCES);
	ck_assert_ptr_nonnull(strstr(r.errmsg, file));

	/* Found on PATH but not executable: EACCES, not "not found". */
	xasprintf(&env_path, "PATH=%s", dir);
	spec_init(&spec, argv_name);
	spec.envp = ARGV(env_path);
	ck_assert_int_eq(start_fails(&r, &spec), EACCES);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "prog"));

	/* A directory is not a program. */
	spec_init(&spec, ARGV(dir));
	ck_assert_int_eq(start_fails(&r, &spec), EACCES);

	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(env_path);
	free(file);
	free(dir);
}
END_TEST

START_TEST(test_exec_format)
{
	char *dir = make_tmpdir();
	char *file = path_in(dir, "prog");
	char **argv = ARGV(file);
	struct exec_spec spec;
	struct run r;

	/* Executable, but neither ELF nor "#!": execve() fails in the child. */
	write_file(file, "\177\001\002 not a program\n", 0755);
	spec_init(&spec, argv);
	ck_assert_int_eq(start_fails(&r, &spec), ENOEXEC);
	ck_assert_ptr_nonnull(strstr(r.errmsg, file));
	ck_assert_ptr_nonnull(strstr(r.errmsg, strerror(ENOEXEC)));

	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(file);
	free(dir);
}
END_TEST

START_TEST(test_empty_argv)
{
	char **argv = argv_new(NULL);
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	ck_assert_int_eq(start_fails(&r, &spec), EINVAL);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "argv"));
	spec.argv = NULL;
	ck_assert_int_eq(start_fails(&r, &spec), EINVAL);
}
END_TEST

START_TEST(test_bad_cwd)
{
	char *dir = make_tmpdir();
	char *file = path_in(dir, "file");
	char **argv = ARGV("pwd");
	struct exec_spec spec;
	struct run r;
	char want[PATH_MAX + 64];

	spec_init(&spec, argv);
	spec.cwd = "/nonexistent/jobd-dir";
	ck_assert_int_eq(start_fails(&r, &spec), ENOENT);
	ck_assert_str_eq(
	    r.errmsg, "cwd /nonexistent/jobd-dir: No such file or directory");

	write_file(file, "", 0644);
	spec.cwd = file;
	ck_assert_int_eq(start_fails(&r, &spec), ENOTDIR);
	snprintf(want, sizeof want, "cwd %s: %s", file, strerror(ENOTDIR));
	ck_assert_str_eq(r.errmsg, want);

	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(file);
	free(dir);
}
END_TEST

START_TEST(test_cwd)
{
	char *dir = make_tmpdir();
	char real[PATH_MAX], *want;
	char **argv = ARGV("pwd");
	struct exec_spec spec;
	struct run r;

	ck_assert_ptr_nonnull(realpath(dir, real));
	spec_init(&spec, argv);
	spec.cwd = dir;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	xasprintf(&want, "%s\n", real);
	ck_assert_str_eq(r.out, want);
	run_clear(&r);

	ck_assert_int_eq(rmdir(dir), 0);
	free(want);
	free(dir);
}
END_TEST

/* Relative program paths and PATH elements are the child's, under cwd. */
START_TEST(test_cwd_relative_program)
{
	char *dir = make_tmpdir();
	char *file = path_in(dir, "jobd-rel-prog");
	char **argv = ARGV("./jobd-rel-prog");
	char **argv_name = ARGV("jobd-rel-prog");
	char **envp = ARGV("PATH=/nonexistent:");
	struct exec_spec spec;
	struct run r;

	write_file(file, "#!/bin/sh\necho rel\n", 0755);
	spec_init(&spec, argv);
	spec.cwd = dir;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "rel\n");
	run_clear(&r);

	/* The empty PATH element is the job's cwd, not the daemon's. */
	spec_init(&spec, argv_name);
	spec.cwd = dir;
	spec.envp = envp;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "rel\n");
	run_clear(&r);

	/* Without the cwd, neither is found. */
	spec_init(&spec, argv);
	ck_assert_int_eq(start_fails(&r, &spec), ENOENT);
	spec_init(&spec, argv_name);
	spec.envp = envp;
	ck_assert_int_eq(start_fails(&r, &spec), ENOENT);

	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(file);
	free(dir);
}
END_TEST

START_TEST(test_env)
{
	char **argv = ARGV("sh", "-c", "echo $FOO");
	char **envp = ARGV("FOO=bar", "PATH=/usr/bin:/bin");
	char **argv_env = ARGV("env");
	char **envp_only = ARGV("A=1");
	struct exec_spec spec;
	struct run r;

	setenv("FOO", "daemon", 1);
	spec_init(&spec, argv);
	spec.envp = envp;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "bar\n");
	run_clear(&r);

	/* The environment is exactly envp (env found on the default PATH). */
	spec_init(&spec, argv_env);
	spec.envp = envp_only;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "A=1\n");
	run_clear(&r);
}
END_TEST

START_TEST(test_job_path)
{
	char *dir = make_tmpdir();
	char *file = path_in(dir, "jobd-path-prog");
	char *env_path, *found;
	char **argv = ARGV("jobd-path-prog", "arg1");
	struct exec_spec spec;
	struct run r;

	write_file(file, "#!/bin/sh\necho \"from job path $1\"\n", 0755);
	/* The daemon's own PATH does not have it. */
	found = exec_lookup("jobd-path-prog", getenv("PATH"));
	ck_assert_ptr_null(found);

	xasprintf(&env_path, "PATH=/nonexistent:%s", dir);
	spec_init(&spec, argv);
	spec.envp = ARGV(env_path);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "from job path arg1\n");
	run_clear(&r);

	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(env_path);
	free(file);
	free(dir);
}
END_TEST

START_TEST(test_lookup)
{
	char *a = make_tmpdir(), *b = make_tmpdir();
	char *a_prog = path_in(a, "prog"), *b_prog = path_in(b, "prog");
	char *a_sub = path_in(a, "sub"), *b_sub = path_in(b, "sub");
	static const char *const cwd_paths[] = {
	    "", ":/nonexistent", "/nonexistent:", "/nonexistent::/x", NULL};
	const char *const *p;
	char *path, *got, cwd[PATH_MAX];

	write_file(a_prog, "x", 0644);
	write_file(b_prog, "#!/bin/sh\n", 0755);
	ck_assert_int_eq(mkdir(a_sub, 0755), 0);
	write_file(b_sub, "#!/bin/sh\n", 0700);

	/* The first executable match wins; a non-executable one is skipped. */
	xasprintf(&path, "%s:%s", a, b);
	got = exec_lookup("prog", path);
	ck_assert_str_eq(got, b_prog);
	free(got);
	free(path);

	xasprintf(&path, "%s:%s", b, a);
	got = exec_lookup("prog", path);
	ck_assert_str_eq(got, b_prog);
	free(got);
	free(path);

	/* Only a non-executable match: EACCES. */
	errno = 0;
	ck_assert_ptr_null(exec_lookup("prog", a));
	ck_assert_int_eq(errno, EACCES);

	/* A directory is passed over like a non-executable file. */
	xasprintf(&path, "%s:%s", a, b);
	got = exec_lookup("sub", path);
	ck_assert_str_eq(got, b_sub);
	free(got);
	free(path);
	errno = 0;
	ck_assert_ptr_null(exec_lookup("sub", a));
	ck_assert_int_eq(errno, EACCES);
	/* So is any other file that is not regular. */
	errno = 0;
	ck_assert_ptr_null(exec_lookup("null", "/dev"));
	ck_assert_int_eq(errno, EACCES);

	/* Nothing: ENOENT. */
	errno = 0;
	ck_assert_ptr_null(exec_lookup("jobd-none", "/nonexistent:/bin"));
	ck_assert_int_eq(errno, ENOENT);
	errno = 0;
	ck_assert_ptr_null(exec_lookup("", "/bin"));
	ck_assert_int_eq(errno, ENOENT);

	/* A name with a slash is used as is, PATH or not. */
	got = exec_lookup(b_prog, "/nonexistent");
	ck_assert_str_eq(got, b_prog);
	free(got);
	errno = 0;
	ck_assert_ptr_null(exec_lookup(a_prog, b));
	ck_assert_int_eq(errno, EACCES);
	errno = 0;
	ck_assert_ptr_null(exec_lookup(a_sub, NULL));
	ck_assert_int_eq(errno, EACCES);
	errno = 0;
	ck_assert_ptr_null(exec_lookup("/nonexistent/prog", NULL));
	ck_assert_int_eq(errno, ENOENT);

	/* NULL: the default PATH. */
	got = exec_lookup("sh", NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert(
	    strcmp(got, "/usr/bin/sh") == 0 || strcmp(got, "/bin/sh") == 0);
	free(got);

	/* Empty elements (leading, trailing, middle, all) are the cwd. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(b), 0);
	for (p = cwd_paths; *p != NULL; p++) {
		got = exec_lookup("prog", *p);
		ck_assert_msg(got != NULL && strcmp(got, "./prog") == 0,
		    "PATH \"%s\": %s", *p, got != NULL ? got : "NULL");
		free(got);
	}
	got = exec_lookup("prog", "/nonexistent");
	ck_assert_ptr_null(got);
	ck_assert_int_eq(chdir(a), 0);
	errno = 0;
	ck_assert_ptr_null(exec_lookup("prog", ""));
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(chdir(cwd), 0);

	ck_assert_int_eq(unlink(a_prog), 0);
	ck_assert_int_eq(unlink(b_prog), 0);
	ck_assert_int_eq(unlink(b_sub), 0);
	ck_assert_int_eq(rmdir(a_sub), 0);
	ck_assert_int_eq(rmdir(a), 0);
	ck_assert_int_eq(rmdir(b), 0);
	free(a_prog);
	free(b_prog);
	free(a_sub);
	free(b_sub);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_stdin)
{
	char **argv = ARGV("cat");
	struct exec_spec spec;
	struct run r;
	size_t i, n = 3 * MiB / 2 + 7;
	char *data;

	data = xmalloc(n);
	for (i = 0; i < n; i++)
		data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	spec_init(&spec, argv);
	spec.stdin_data = data;
	spec.stdin_len = n;
	spec.output_cap = 2 * MiB;
	memset(&r, 0, sizeof r);
	loop_begin();
	ck_assert_ptr_nonnull(start(&r, &spec));
	/* exec_start() copied the data: the caller's buffer is free. */
	memset(data, '!', n);
	free(data);
	loop_run();
	ck_assert(r.done);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_uint_eq(r.res.out_len, n);
	ck_assert_uint_eq(r.res.out_total, n);
	ck_assert(!r.res.out_truncated);
	for (i = 0; i < n; i++) {
		if (r.out[i] != (char)('a' + (i * 7 + i / 4096) % 26))
			ck_abort_msg("stdout differs at byte %zu", i);
	}
	run_clear(&r);
}
END_TEST

START_TEST(test_stdin_null)
{
	char **argv = ARGV("cat");
	struct exec_spec spec;
	struct run r;

	/* /dev/null: cat sees EOF at once. */
	spec_init(&spec, argv);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_uint_eq(r.res.out_len, 0);
	ck_assert_uint_eq(r.res.out_total, 0);
	ck_assert_str_eq(r.out, "");
	run_clear(&r);

	/* Empty data: a pipe closed at once. */
	spec.stdin_data = "";
	spec.stdin_len = 0;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_uint_eq(r.res.out_total, 0);
	run_clear(&r);
}
END_TEST

/* A child that reads part of its stdin, or none, is not an error. */
START_TEST(test_stdin_unread)
{
	char **argv_head = ARGV("head", "-c", "10");
	char **argv_true = ARGV("true");
	struct exec_spec spec;
	struct run r;
	size_t n = 4 * MiB;
	char *data;

	data = xmalloc(n);
	memset(data, 'x', n);
	spec_init(&spec, argv_head);
	spec.stdin_data = data;
	spec.stdin_len = n;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "xxxxxxxxxx");
	run_clear(&r);

	spec.argv = argv_true;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	run_clear(&r);
	free(data);
}
END_TEST

START_TEST(test_output_cap)
{
	char **argv = ARGV("head", "-c", "3000000", "/dev/zero");
	struct exec_spec spec;
	struct run r;
	size_t i;

	spec_init(&spec, argv);
	spec.output_cap = MiB;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_uint_eq(r.res.out_len, MiB);
	ck_assert_uint_eq(r.res.out_total, 3000000);
	ck_assert(r.res.out_truncated);
	ck_assert_uint_eq(r.seen[1], 3000000);
	for (i = 0; i < MiB; i++) {
		if (r.out[i] != 0)
			ck_abort_msg("stdout byte %zu is %d", i, r.out[i]);
	}
	ck_assert_uint_eq(r.res.err_total, 0);
	ck_assert(!r.res.err_truncated);
	run_clear(&r);
}
END_TEST

START_TEST(test_output_cap_edges)
{
	char **argv = ARGV("sh", "-c", "printf abc; printf defg >&2");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	spec.output_cap = 3; /* exactly stdout's size */
	run_one(&r, &spec);
	ck_assert_str_eq(r.out, "abc");
	ck_assert(!r.res.out_truncated);
	ck_assert_str_eq(r.err, "def");
	ck_assert_uint_eq(r.res.err_total, 4);
	ck_assert(r.res.err_truncated);
	run_clear(&r);

	spec.output_cap = 0; /* keep nothing, count everything */
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_uint_eq(r.res.out_len, 0);
	ck_assert_uint_eq(r.res.out_total, 3);
	ck_assert(r.res.out_truncated);
	ck_assert_uint_eq(r.res.err_len, 0);
	ck_assert_uint_eq(r.res.err_total, 4);
	ck_assert(r.res.err_truncated);
	ck_assert_uint_eq(r.seen[1], 3);
	ck_assert_uint_eq(r.seen[2], 4);
	run_clear(&r);
}
END_TEST

START_TEST(test_signaled)
{
	char **argv = ARGV("sh", "-c", "echo before; kill -9 $$");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_SIGNALED);
	ck_assert_int_eq(r.res.signal, SIGKILL);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "before\n");
	run_clear(&r);
}
END_TEST

/* The child gets no blocked or ignored signal and leads its own group. */
START_TEST(test_child_state)
{
	char **argv_grep =
	    ARGV("grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status");
	char **argv_stat = ARGV("cat", "/proc/self/stat");
	struct exec_spec spec;
	struct run r;
	sigset_t set;
	unsigned long long blocked, ignored;
	long pid, pgrp, sid;
	char *close_paren;

	signal(SIGINT, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);

	spec_init(&spec, argv_grep);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_int_eq(
	    sscanf(r.out, "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2);
	ck_assert_uint_eq(blocked, 0);
	/*
	 * glibc's posix_spawn leaves its two internal signals (32 and 33)
	 * ignored in the child; sigfillset() cannot name them.  Every other
	 * signal, including the SIGINT and SIGPIPE ignored here, is default.
	 */
	ck_assert_uint_eq(ignored & ~(3ull << 31), 0);
	run_clear(&r);

	/* "pid (comm) state ppid pgrp session ..." */
	spec_init(&spec, argv_stat);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_int_eq(sscanf(r.out, "%ld", &pid), 1);
	close_paren = strrchr(r.out, ')');
	ck_assert_ptr_nonnull(close_paren);
	ck_assert_int_eq(
	    sscanf(close_paren + 1, " %*c %*d %ld %ld", &pgrp, &sid), 2);
	ck_assert_int_eq(pid, r.res.pid);
	ck_assert_int_eq(pgrp, pid);
	ck_assert_int_eq(sid, getsid(0));
	run_clear(&r);
}
END_TEST

START_TEST(test_timeout)
{
	char **argv = ARGV("sleep", "30");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	spec.timeout_ms = 100;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_TIMED_OUT);
	ck_assert_int_eq(r.res.signal, SIGTERM);
	run_clear(&r);
}
END_TEST

/* SIGTERM is ignored (by sh and, inherited, by sleep): SIGKILL follows. */
START_TEST(test_timeout_term_ignored)
{
	char **argv = ARGV("sh", "-c", "trap '' TERM; sleep 30");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	spec.timeout_ms = 300;
	spec.kill_grace_ms = 200;
	run_one(&r, &spec);
	/* SIGKILL: the grace ran out (no timing is asserted: timers may
	 * fire a little early on a coarse clock). */
	ck_assert_int_eq(r.res.outcome, EXEC_TIMED_OUT);
	ck_assert_int_eq(r.res.signal, SIGKILL);
	run_clear(&r);
}
END_TEST

/* The pid sh prints first, from the start of stdout. */
static pid_t
first_pid(const struct run *r)
{
	long pid;

	ck_assert_msg(sscanf(r->head, "%ld", &pid) == 1,
	    "no pid in stdout \"%s\"", r->head);
	ck_assert_int_gt(pid, 1);
	return (pid_t)pid;
}

START_TEST(test_timeout_kills_group)
{
	char **argv = ARGV("sh", "-c", "sleep 300 & echo $!; wait");
	struct exec_spec spec;
	struct run r;
	int status;
	pid_t bg;

	become_subreaper();
	spec_init(&spec, argv);
	spec.timeout_ms = 300;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_TIMED_OUT);
	bg = first_pid(&r);
	ck_assert_int_ne(bg, r.res.pid);
	status = reap(bg);
	ck_assert(WIFSIGNALED(status));
	ck_assert(WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL);
	run_clear(&r);
}
END_TEST

START_TEST(test_exit_kills_leftovers)
{
	char **argv = ARGV("sh", "-c", "sleep 300 & echo $!");
	struct exec_spec spec;
	struct run r;
	int status;
	pid_t bg;

	become_subreaper();
	spec_init(&spec, argv);
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	bg = first_pid(&r);
	status = reap(bg);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	run_clear(&r);
}
END_TEST

START_TEST(test_cancel)
{
	char **argv = ARGV("sleep", "30");
	struct exec_spec spec;
	struct run r1, r2;

	spec_init(&spec, argv);
	spec.timeout_ms = 60000;
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	loop_begin();
	ck_assert_ptr_nonnull(start(&r1, &spec));
	ck_assert_ptr_nonnull(start(&r2, &spec));
	in_call = true;
	exec_kill(r1.p, EXEC_CANCELLED);
	/* A cancel during a stop's kill wins: the job is not to run again. */
	exec_kill(r2.p, EXEC_INTERRUPTED);
	exec_kill(r2.p, EXEC_CANCELLED);
	in_call = false;
	loop_run();
	ck_assert(r1.done && r2.done);
	ck_assert_int_eq(r1.res.outcome, EXEC_CANCELLED);
	ck_assert_int_eq(r1.res.signal, SIGTERM);
	ck_assert_int_eq(r2.res.outcome, EXEC_CANCELLED);
	ck_assert_int_eq(r2.res.signal, SIGTERM);
	run_clear(&r1);
	run_clear(&r2);
}
END_TEST

/*
 * Killed from the output callback once it printed "ready"; it traps SIGTERM
 * and exits 7, but the outcome is still the kill's reason.
 */
START_TEST(test_kill_reason_wins)
{
	char **argv = ARGV(
	    "sh", "-c", "trap 'exit 7' TERM; sleep 300 & echo ready; wait");
	struct exec_spec spec;
	struct run r;

	spec_init(&spec, argv);
	memset(&r, 0, sizeof r);
	r.kill_on = "ready\n";
	r.kill_reason = EXEC_INTERRUPTED;
	loop_begin();
	ck_assert_ptr_nonnull(start(&r, &spec));
	loop_run();
	ck_assert(r.killed);
	ck_assert_uint_eq(r.peek_len, 6);
	ck_assert_int_eq(r.res.outcome, EXEC_INTERRUPTED);
	ck_assert_int_eq(r.res.exit_code, 7);
	ck_assert_int_eq(r.res.signal, 0);
	ck_assert_str_eq(r.out, "ready\n");
	run_clear(&r);
}
END_TEST

/*
 * A setsid() escapee keeps stdout open after the leader exits: the job still
 * finishes, after the grace period.  The leader waits (on a fifo) until the
 * escapee has left the group and sends its pid on stderr.
 */
START_TEST(test_setsid_escapee)
{
	char *dir = make_tmpdir();
	char *fifo = path_in(dir, "fifo");
	char **argv = ARGV("sh", "-c",
	    "setsid sh -c 'echo $$ > \"$0\"; exec sleep 300' \"$0\" & "
	    "read pid < \"$0\"; echo \"$pid\" >&2; echo started",
	    fifo);
	struct exec_spec spec;
	struct run r;
	long escapee;
	int status;

	become_subreaper();
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	spec_init(&spec, argv);
	spec.kill_grace_ms = 200;
	run_one(&r, &spec);
	ck_assert_int_eq(r.res.outcome, EXEC_EXITED);
	ck_assert_int_eq(r.res.exit_code, 0);
	ck_assert_str_eq(r.out, "started\n");
	ck_assert_int_eq(sscanf(r.err, "%ld", &escapee), 1);
	ck_assert_int_gt(escapee, 1);
	/* It survived the group's SIGKILL: it is in its own session. */
	ck_assert_int_eq(getsid((pid_t)escapee), escapee);
	ck_assert_int_eq(kill((pid_t)escapee, SIGKILL), 0);
	status = reap((pid_t)escapee);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	run_clear(&r);

	ck_assert_int_eq(unlink(fifo), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(fifo);
	free(dir);
}
END_TEST

#define MANY 200

START_TEST(test_many)
{
	char **argv = ARGV("/bin/true");
	char **argv_bad = ARGV("jobd-no-such-program");
	struct exec_spec spec, bad;
	struct run *runs, r;
	int before, i;

	before = count_fds();
	runs = xcalloc(MANY, sizeof *runs);
	spec_init(&spec, argv);
	spec_init(&bad, argv_bad);
	loop_begin();
	for (i = 0; i < MANY; i++) {
		ck_assert_msg(start(&runs[i], &spec) != NULL, "start %d: %s", i,
		    runs[i].errmsg);
		/* Failures in between leak nothing either. */
		if (i % 50 == 0)
			ck_assert_ptr_null(start(&r, &bad));
	}
	ck_assert_int_eq(pending, MANY);
	loop_run();
	for (i = 0; i < MANY; i++) {
		ck_assert(runs[i].done);
		ck_assert_int_eq(runs[i].res.outcome, EXEC_EXITED);
		ck_assert_int_eq(runs[i].res.exit_code, 0);
		run_clear(&runs[i]);
	}
	free(runs);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

static Suite *
exec_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("exec");
	tc = tcase_create("start");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, argv_free_all);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_exit_code);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_not_executable);
	tcase_add_test(tc, test_exec_format);
	tcase_add_test(tc, test_empty_argv);
	tcase_add_test(tc, test_bad_cwd);
	tcase_add_test(tc, test_cwd);
	tcase_add_test(tc, test_cwd_relative_program);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_job_path);
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_child_state);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, argv_free_all);
	tcase_add_test(tc, test_stdin);
	tcase_add_test(tc, test_stdin_null);
	tcase_add_test(tc, test_stdin_unread);
	tcase_add_test(tc, test_output_cap);
	tcase_add_test(tc, test_output_cap_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("end");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, argv_free_all);
	tcase_add_test(tc, test_signaled);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_term_ignored);
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_exit_kills_leftovers);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_kill_reason_wins);
	tcase_add_test(tc, test_setsid_escapee);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* As the daemon does: a child closing stdin must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(exec_suite());
}
