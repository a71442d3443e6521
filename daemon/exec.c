/*
 * exec: the child processes of exec jobs, run on the event loop (see exec.h).
 *
 * DESIGN
 *
 * A job's process is spawned (vfork(), see "Spawning" below) as the leader
 * of its own process group.  The daemon never blocks on it: a pidfd tells the
 * loop when the leader has exited, and the stdout/stderr pipes (non-blocking on
 * the daemon's side) are read as they become readable.  stdin is a pipe fed
 * from a copy of the job's data, again only when it is writable, so a child
 * that reads slowly never stalls the loop.
 *
 * The process group is the unit that is signalled.  While the leader is
 * unreaped (running or a zombie) its pid is also the group's id and cannot be
 * reused, so killpg(pid) reaches only the job's own processes.  When the
 * pidfd turns readable the leader is a zombie: the rest of the group gets
 * SIGKILL, then the leader is reaped, and after that the group is never
 * signalled again.  A process that called setsid() left the group and may
 * hold the pipes open forever; it gets kill_grace_ms to let go of them, then
 * the pipes are closed and the job finishes without it.
 *
 * Lifecycle of a struct exec_proc: exec_start() creates it with every event
 * armed; it is finished when the leader is reaped and both output pipes are
 * closed; finishing calls the done callback once and frees everything.  Both
 * conditions are only ever met inside an event callback, so the done callback
 * never runs from exec_start() or exec_kill().
 */
#include "config.h"

#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "exec.h"
#include "log.h"
#include "xmalloc.h"

#define EXEC_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* Size of one read from an output pipe, and of the loop's stack buffer. */
#define EXEC_READ_SIZE (64 * 1024)
/* First allocation of an output buffer; it doubles up to the cap. */
#define EXEC_BUF_INITIAL 4096
/* Reads of a pipe still open when the drain grace ends, before closing it. */
#define EXEC_DRAIN_READS 16

/* One output pipe and what it has produced. */
struct exec_stream {
	int fd;           /* daemon's read end; -1 once at EOF or closed */
	struct event *ev; /* EV_READ|EV_PERSIST on fd */
	char *buf;        /* the first output_cap bytes, NUL-terminated */
	size_t len;
	size_t alloc;
	uint64_t total;
};

struct exec_proc {
	pid_t pid;
	int pidfd;
	struct event *pid_ev;      /* pidfd readable: the leader exited */
	bool reaped;               /* leader waited for; never signal again */
	int status;                /* from waitpid() once reaped */
	struct exec_stream out[2]; /* stdout, stderr */

	int in_fd; /* write end of stdin; -1 when done */
	struct event *in_ev;
	char *in_data; /* copy of the job's stdin */
	size_t in_len;
	size_t in_off;

	size_t output_cap;
	uint64_t kill_grace_ms;
	struct event *timeout_ev; /* timeout_ms after the start */
	struct event *kill_ev;    /* SIGKILL kill_grace_ms after SIGTERM */
	struct event *drain_ev;   /* give up on the pipes after reaping */
	bool killing;             /* SIGTERM sent; kill_reason is the outcome */
	enum exec_outcome kill_reason;
	int report_fd;  /* forked: its failure report, read at its end */
	int spawn_step; /* what failed before execve(), or 0 */
	int spawn_errno;
	char *name, *cwd; /* forked: for the failure's message */

	exec_done_fn done;
	exec_output_fn output;
	void *arg;
};

static void exec_finish(struct exec_proc *);
static void exec_step_message(int step, int error, const char *name,
    const char *cwd, char *err, size_t errlen);
static int exec_read_report(int fd, int *step, int *error);

static void
exec_ms_to_tv(uint64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/*
 * Is name, relative to dirfd, a regular file we may execute?  0, or -1 with
 * errno: EACCES for a file that is not regular or not executable (execve()
 * would say the same), anything else for one that cannot be found.
 */
static int
exec_check_file(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, 0) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES;
		return -1;
	}
	if (faccessat(dirfd, name, X_OK, AT_EACCESS) == -1)
		return -1;
	return 0;
}

/*
 * exec_lookup() with relative names and PATH elements taken from dirfd, the
 * directory the child will run in, so that the path returned is the one the
 * child's execve() will find.
 */
static char *
exec_lookup_at(int dirfd, const char *name, const char *path)
{
	const char *elem, *end;
	char *full;
	size_t dirlen;
	bool denied = false;

	if (*name == '\0') {
		errno = ENOENT;
		return NULL;
	}
	if (strchr(name, '/') != NULL) {
		if (exec_check_file(dirfd, name) == -1) {
			if (errno != EACCES)
				errno = ENOENT;
			return NULL;
		}
		return xstrdup(name);
	}
	if (path == NULL)
		path = EXEC_DEFAULT_PATH;
	for (elem = path;; elem = end + 1) {
		if ((end = strchr(elem, ':')) == NULL)
			end = elem + strlen(elem);
		dirlen = (size_t)(end - elem);
		/* An empty element is the current directory, as for execvp. */
		if (dirlen == 0)
			xasprintf(&full, "./%s", name);
		else
			xasprintf(&full, "%.*s/%s", (int)dirlen, elem, name);
		if (exec_check_file(dirfd, full) == 0)
			return full;
		if (errno == EACCES)
			denied = true;
		free(full);
		if (*end == '\0')
			break;
	}
	errno = denied ? EACCES : ENOENT;
	return NULL;
}

char *
exec_lookup(const char *name, const char *path)
{
	return exec_lookup_at(AT_FDCWD, name, path);
}

/* The value of PATH in envp, or NULL. */
static const char *
exec_env_path(char *const *envp)
{
	size_t i;

	if (envp == NULL)
		return NULL;
	for (i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	}
	return NULL;
}

/*
 * Move fd to 3 or above (keeping close-on-exec), so that the dup2() file
 * actions onto 0, 1 and 2 never overwrite another pipe end.
 */
static int
exec_fd_above_stdio(int fd)
{
	int nfd;

	if (fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return nfd;
}

static void
exec_close_pair(int fds[2])
{
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

/*
 * A pipe for the child's stdio: both ends close-on-exec (the child's end is
 * dup2()ed onto 0, 1 or 2, which clears the flag), and only the daemon's end
 * non-blocking.  child_reads says which end is the child's.
 */
static int
exec_pipe(int fds[2], bool child_reads)
{
	int daemon_end = child_reads ? 1 : 0;
	int saved;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if ((fds[0] = exec_fd_above_stdio(fds[0])) == -1 ||
	    (fds[1] = exec_fd_above_stdio(fds[1])) == -1 ||
	    fcntl(fds[daemon_end], F_SETFL, O_NONBLOCK) == -1) {
		saved = errno;
		exec_close_pair(fds);
		errno = saved;
		return -1;
	}
	return 0;
}

/* Send sig to the leader's group, while the leader is unreaped. */
static void
exec_signal_group(struct exec_proc *p, int sig)
{
	if (p->reaped)
		return;
	if (killpg(p->pid, sig) == 0)
		return;
	/* The leader moved itself to another group: signal it alone. */
	if (errno == ESRCH && kill(p->pid, sig) == 0)
		return;
	if (errno != ESRCH)
		log_warn("exec: signal %d to process group %ld: %s", sig,
		    (long)p->pid, strerror(errno));
}

/* Keep what fits under the cap, count everything, tell the caller. */
static void
exec_stream_append(struct exec_proc *p, int stream, const char *data, size_t n)
{
	struct exec_stream *s = &p->out[stream - 1];
	size_t keep, want, alloc;

	s->total += n;
	keep = p->output_cap - s->len;
	if (keep > n)
		keep = n;
	if (keep > 0) {
		want = s->len + keep + 1;
		if (want > s->alloc) {
			alloc = s->alloc == 0 ? EXEC_BUF_INITIAL : s->alloc;
			while (alloc < want)
				alloc = alloc > SIZE_MAX / 2 ? want : alloc * 2;
			/* want <= output_cap + 1, so this cannot overflow. */
			if (alloc - 1 > p->output_cap)
				alloc = p->output_cap + 1;
			s->buf = xreallocarray(s->buf, alloc, 1);
			s->alloc = alloc;
		}
		memcpy(s->buf + s->len, data, keep);
		s->len += keep;
		s->buf[s->len] = '\0';
	}
	if (p->output != NULL)
		p->output(stream, data, n, p->arg);
}

static void
exec_stream_close(struct exec_stream *s)
{
	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
}

/*
 * One read from an output pipe.  Returns 1 if data was read, 0 at EOF (or
 * an error, which ends the stream the same way), -1 if nothing is there yet.
 */
static int
exec_stream_read(struct exec_proc *p, int stream)
{
	struct exec_stream *s = &p->out[stream - 1];
	char chunk[EXEC_READ_SIZE];
	ssize_t n;

	n = read(s->fd, chunk, sizeof chunk);
	if (n > 0) {
		exec_stream_append(p, stream, chunk, (size_t)n);
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n == -1)
		log_warn("exec: pid %ld: reading fd %d: %s", (long)p->pid,
		    stream, strerror(errno));
	return 0;
}

static void
exec_maybe_finish(struct exec_proc *p)
{
	if (p->reaped && p->out[0].fd == -1 && p->out[1].fd == -1)
		exec_finish(p);
}

static void
exec_stdout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc *p = arg;

	if (exec_stream_read(p, 1) == 0) {
		exec_stream_close(&p->out[0]);
		exec_maybe_finish(p);
	}
}

static void
exec_stderr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc *p = arg;

	if (exec_stream_read(p, 2) == 0) {
		exec_stream_close(&p->out[1]);
		exec_maybe_finish(p);
	}
}

static void
exec_stdin_close(struct exec_proc *p)
{
	if (p->in_ev != NULL) {
		event_free(p->in_ev);
		p->in_ev = NULL;
	}
	if (p->in_fd != -1) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	free(p->in_data);
	p->in_data = NULL;
}

static void
exec_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc *p = arg;
	ssize_t n;

	n = write(p->in_fd, p->in_data + p->in_off, p->in_len - p->in_off);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* EPIPE: the child closed stdin or exited; not an error. */
		if (errno != EPIPE)
			log_warn("exec: pid %ld: writing stdin: %s",
			    (long)p->pid, strerror(errno));
		exec_stdin_close(p);
		return;
	}
	p->in_off += (size_t)n;
	if (p->in_off == p->in_len)
		exec_stdin_close(p);
}

/* The pipes outlived the leader by kill_grace_ms: an escapee holds them. */
static void
exec_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc *p = arg;
	int i, stream;

	for (stream = 1; stream <= 2; stream++) {
		if (p->out[stream - 1].fd == -1)
			continue;
		/* What is already in the pipe is the job's; then stop. */
		for (i = 0; i < EXEC_DRAIN_READS; i++) {
			if (exec_stream_read(p, stream) != 1)
				break;
		}
		exec_stream_close(&p->out[stream - 1]);
	}
	exec_finish(p);
}

/* The leader is a zombie: kill what is left of its group, then reap it. */
static void
exec_pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc *p = arg;
	struct timeval tv;
	pid_t r;

	exec_signal_group(p, SIGKILL);
	do
		r = waitpid(p->pid, &p->status, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		/* Someone else reaped it (waitpid(-1) elsewhere): unknown. */
		log_warn(
		    "exec: waitpid %ld: %s", (long)p->pid, strerror(errno));
		p->status = 0xff << 8; /* as if exit(255) */
	}
	p->reaped = true;
	if (p->report_fd != -1) {
		exec_read_report(p->report_fd, &p->spawn_step, &p->spawn_errno);
		close(p->report_fd);
		p->report_fd = -1;
	}
	event_free(p->pid_ev);
	p->pid_ev = NULL;
	close(p->pidfd);
	p->pidfd = -1;
	event_del(p->timeout_ev);
	event_del(p->kill_ev);

	if (p->out[0].fd == -1 && p->out[1].fd == -1) {
		exec_finish(p);
		return;
	}
	exec_ms_to_tv(p->kill_grace_ms, &tv);
	evtimer_add(p->drain_ev, &tv);
}

static void
exec_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc *p = arg;

	exec_signal_group(p, SIGKILL);
}

/* SIGTERM now, SIGKILL after the grace period; the first reason sticks. */
static void
exec_terminate(struct exec_proc *p, enum exec_outcome reason)
{
	struct timeval tv;

	if (p->reaped || p->killing)
		return;
	p->killing = true;
	p->kill_reason = reason;
	event_del(p->timeout_ev);
	exec_signal_group(p, SIGTERM);
	exec_ms_to_tv(p->kill_grace_ms, &tv);
	evtimer_add(p->kill_ev, &tv);
}

static void
exec_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	exec_terminate(arg, EXEC_TIMED_OUT);
}

static void
exec_free(struct exec_proc *p)
{
	int i;

	if (p->pid_ev != NULL)
		event_free(p->pid_ev);
	if (p->pidfd != -1)
		close(p->pidfd);
	for (i = 0; i < 2; i++) {
		exec_stream_close(&p->out[i]);
		free(p->out[i].buf);
	}
	exec_stdin_close(p);
	event_free(p->timeout_ev);
	event_free(p->kill_ev);
	event_free(p->drain_ev);
	if (p->report_fd != -1)
		close(p->report_fd);
	free(p->name);
	free(p->cwd);
	free(p);
}

static void
exec_finish(struct exec_proc *p)
{
	struct exec_result res;
	char spawn_error[512];

	/* A child that has not read all its stdin will not read more. */
	exec_stdin_close(p);

	memset(&res, 0, sizeof res);
	res.pid = p->pid;
	if (WIFEXITED(p->status))
		res.exit_code = WEXITSTATUS(p->status);
	else if (WIFSIGNALED(p->status))
		res.signal = WTERMSIG(p->status);
	if (p->spawn_step != 0) {
		/* It never ran its program (a forked child's report). */
		exec_step_message(p->spawn_step, p->spawn_errno, p->name,
		    p->cwd, spawn_error, sizeof spawn_error);
		res.outcome = EXEC_SPAWN_FAILED;
		res.error = spawn_error;
		res.spawn_errno = p->spawn_errno;
	} else if (p->killing && p->kill_reason == EXEC_INTERRUPTED &&
	           WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0)
		/* It finished its work on the stop's SIGTERM: that is a
		 * success, not something to run again. */
		res.outcome = EXEC_EXITED;
	else if (p->killing)
		res.outcome = p->kill_reason;
	else if (WIFSIGNALED(p->status))
		res.outcome = EXEC_SIGNALED;
	else
		res.outcome = EXEC_EXITED;
	res.out = p->out[0].buf != NULL ? p->out[0].buf : "";
	res.err = p->out[1].buf != NULL ? p->out[1].buf : "";
	res.out_len = p->out[0].len;
	res.err_len = p->out[1].len;
	res.out_total = p->out[0].total;
	res.err_total = p->out[1].total;
	res.out_truncated = p->out[0].total > p->output_cap;
	res.err_truncated = p->out[1].total > p->output_cap;

	p->done(&res, p->arg);
	exec_free(p);
}

/*
 * The paths execvp() would try for name on path (NULL: the default), as
 * text only: no file is looked at.  A name with a '/' is itself.
 */
static char **
exec_candidates(const char *name, const char *path)
{
	const char *p, *colon;
	char **v;
	size_t n = 2, i = 0;

	if (path == NULL)
		path = EXEC_DEFAULT_PATH;
	for (p = path; *p != '\0'; p++)
		n += *p == ':';
	v = xcalloc(n, sizeof(*v));
	if (strchr(name, '/') != NULL) {
		v[0] = xstrdup(name);
		return v;
	}
	for (p = path;; p = colon + 1) {
		colon = strchrnul(p, ':');
		/* An empty element is the current directory. */
		if (colon == p)
			v[i++] = xstrdup(name);
		else
			xasprintf(
			    &v[i++], "%.*s/%s", (int)(colon - p), p, name);
		if (*colon == '\0')
			break;
	}
	return v;
}

/*
 * The checks exec_start() makes before spawning: argv, cwd and the program.
 * Returns the path to execute or NULL with errno set and err filled.
 */
static char *
exec_prepare(const struct exec_spec *spec, char *err, size_t errlen)
{
	const char *name;
	char *path;
	int dirfd = AT_FDCWD, saved;

	if (spec->argv == NULL || spec->argv[0] == NULL) {
		snprintf(err, errlen, "empty argv");
		errno = EINVAL;
		return NULL;
	}
	name = spec->argv[0];
	if (spec->cwd != NULL) {
		dirfd = open(spec->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd == -1 ||
		    faccessat(dirfd, ".", X_OK, AT_EACCESS) == -1) {
			saved = errno;
			snprintf(err, errlen, "cwd %s: %s", spec->cwd,
			    strerror(saved));
			if (dirfd != -1)
				close(dirfd);
			errno = saved;
			return NULL;
		}
	}
	path = exec_lookup_at(dirfd, name, exec_env_path(spec->envp));
	saved = errno;
	if (dirfd != AT_FDCWD)
		close(dirfd);
	if (path == NULL) {
		if (saved == ENOENT)
			snprintf(err, errlen, "program not found: %s", name);
		else
			snprintf(err, errlen, "%s: %s", name, strerror(saved));
		errno = saved;
	}
	return path;
}

/*
 * Spawning.  posix_spawn() cannot change a child's credentials or limits,
 * so the child sets itself up (stdio, process group, rlimits, groups, gid,
 * uid, cwd) with raw system calls and execs.  Raw calls, because in a
 * child that shares the daemon's memory glibc's setuid() would try to
 * change the credentials of the daemon's threads, and sanitizers'
 * interceptors would touch the parent's bookkeeping.  Every signal is
 * blocked across the fork, and the child puts each disposition back to
 * the default before it unblocks them, so none of the daemon's handlers
 * can run in it.  A failure is reported through a close-on-exec pipe as
 * (step, errno).
 *
 * A job that runs as jobd's own user is spawned with vfork(): no copy of
 * the daemon's memory, and the loop's thread waits only until the child
 * has called execve(), so the report is read at once.  A job that runs as
 * another user is spawned with fork(): once the child has switched users,
 * that user may stop it (SIGSTOP cannot be blocked) before it reaches
 * execve(), and a vfork() parent would wait for it forever.  Its report
 * is read when the process ends, and the child, not jobd, finds the
 * program on PATH and enters the cwd, as the user: jobd's own checks run
 * as root and would tell the user which files exist where they may not
 * look.
 */
enum exec_step {
	STEP_STDIO = 1,
	STEP_PGROUP,
	STEP_RLIMIT_AS,
	STEP_RLIMIT_CPU,
	STEP_RLIMIT_NOFILE,
	STEP_RLIMIT_NPROC,
	STEP_SETGROUPS,
	STEP_SETGID,
	STEP_SETUID,
	STEP_CHDIR,
	STEP_SIGNALS,
	STEP_EXEC,
};

static const char *const exec_step_name[] = {
    [STEP_STDIO] = "stdio",
    [STEP_PGROUP] = "setpgid",
    [STEP_RLIMIT_AS] = "limit as",
    [STEP_RLIMIT_CPU] = "limit cpu",
    [STEP_RLIMIT_NOFILE] = "limit nofile",
    [STEP_RLIMIT_NPROC] = "limit nproc",
    [STEP_SETGROUPS] = "setgroups",
    [STEP_SETGID] = "setgid",
    [STEP_SETUID] = "setuid",
    [STEP_CHDIR] = "cwd",
    [STEP_SIGNALS] = "signal mask",
    [STEP_EXEC] = "execve",
};

/* The raw calls take 32-bit ids only under these names on some ABIs. */
#ifdef SYS_setresuid32
#define EXEC_SYS_SETGROUPS SYS_setgroups32
#define EXEC_SYS_SETRESGID SYS_setresgid32
#define EXEC_SYS_SETRESUID SYS_setresuid32
#else
#define EXEC_SYS_SETGROUPS SYS_setgroups
#define EXEC_SYS_SETRESGID SYS_setresgid
#define EXEC_SYS_SETRESUID SYS_setresuid
#endif

/* The kernel's struct rlimit64, on every ABI. */
struct exec_rlimit64 {
	uint64_t cur, max;
};

/* What the child needs, prepared by the parent (no allocation after fork). */
struct exec_child {
	const char *const *paths; /* programs to try, in order */
	const struct exec_spec *spec;
	char *const *envp;
	int in_fd, out_fd, err_fd; /* in_fd -1: /dev/null */
	int report_fd;             /* write end of the failure pipe */
	bool nofile_soft;          /* set nofile to this, without rlimit[] */
	struct exec_rlimit64 nofile;
};

static const int exec_rlimit_resource[EXEC_RLIMIT_N] = {
    [EXEC_RLIMIT_AS] = RLIMIT_AS,
    [EXEC_RLIMIT_CPU] = RLIMIT_CPU,
    [EXEC_RLIMIT_NOFILE] = RLIMIT_NOFILE,
    [EXEC_RLIMIT_NPROC] = RLIMIT_NPROC,
};

static __attribute__((noreturn)) void
exec_child_fail(const struct exec_child *c, int step, int error)
{
	int msg[2] = {step, error};

	syscall(SYS_write, c->report_fd, msg, sizeof msg);
	syscall(SYS_exit_group, 127);
	for (;;)
		;
}

/* Put fd on target (fd is above stdio: never equal). */
static int
exec_child_dup(int fd, int target)
{
	return (int)syscall(SYS_dup3, fd, target, 0);
}

static __attribute__((noreturn, noinline)) void
exec_child(const struct exec_child *c)
{
	const struct exec_spec *s = c->spec;
	/* A kernel struct sigaction of every layout, all zero: SIG_DFL. */
	unsigned long dfl[8] = {0};
	unsigned char none[_NSIG / 8] = {0};
	struct exec_rlimit64 rl;
	int sig, fd, i, error, denied = 0;

	for (sig = 1; sig < _NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, dfl, NULL, sizeof none);
	}
	if (c->in_fd != -1)
		fd = c->in_fd;
	else if ((fd = (int)syscall(
	              SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY)) < 0)
		exec_child_fail(c, STEP_STDIO, errno);
	/* /dev/null may have landed on 0 itself (jobd had no stdin). */
	if ((fd != STDIN_FILENO && exec_child_dup(fd, STDIN_FILENO) < 0) ||
	    exec_child_dup(c->out_fd, STDOUT_FILENO) < 0 ||
	    exec_child_dup(c->err_fd, STDERR_FILENO) < 0)
		exec_child_fail(c, STEP_STDIO, errno);
	if (c->in_fd == -1 && fd != STDIN_FILENO)
		syscall(SYS_close, fd);
	if (syscall(SYS_setpgid, 0, 0) != 0)
		exec_child_fail(c, STEP_PGROUP, errno);
	for (i = 0; i < EXEC_RLIMIT_N; i++) {
		if (s->rlimit[i] == 0)
			continue;
		rl.cur = rl.max = s->rlimit[i];
		if (syscall(SYS_prlimit64, 0, exec_rlimit_resource[i], &rl,
		        NULL) != 0)
			exec_child_fail(c, STEP_RLIMIT_AS + i, errno);
	}
	if (c->nofile_soft &&
	    syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &c->nofile, NULL) != 0)
		exec_child_fail(c, STEP_RLIMIT_NOFILE, errno);
	if (s->creds.change) {
		if (syscall(EXEC_SYS_SETGROUPS, s->creds.ngroups,
		        s->creds.groups) != 0)
			exec_child_fail(c, STEP_SETGROUPS, errno);
		if (syscall(EXEC_SYS_SETRESGID, s->creds.gid, s->creds.gid,
		        s->creds.gid) != 0)
			exec_child_fail(c, STEP_SETGID, errno);
		if (syscall(EXEC_SYS_SETRESUID, s->creds.uid, s->creds.uid,
		        s->creds.uid) != 0)
			exec_child_fail(c, STEP_SETUID, errno);
	}
	/* As the job's user: its own permission to enter the directory. */
	if (s->cwd != NULL && syscall(SYS_chdir, s->cwd) != 0)
		exec_child_fail(c, STEP_CHDIR, errno);
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, none, NULL, sizeof none) !=
	    0)
		exec_child_fail(c, STEP_SIGNALS, errno);
	/* The candidates in order, as execvp() tries PATH. */
	error = ENOENT;
	for (i = 0; c->paths[i] != NULL; i++) {
		syscall(SYS_execve, c->paths[i], s->argv, c->envp);
		error = errno;
		if (error == EACCES)
			denied = 1;
		else if (error != ENOENT && error != ENOTDIR &&
		         error != ESTALE && error != ENODEV &&
		         error != ETIMEDOUT)
			break;
	}
	if (c->paths[i] == NULL && denied)
		error = EACCES;
	exec_child_fail(c, STEP_EXEC, error);
}

static pid_t
exec_vfork(const struct exec_child *c)
{
	pid_t pid = vfork();

	if (pid == 0)
		exec_child(c);
	return pid;
}

static pid_t
exec_fork(const struct exec_child *c)
{
	pid_t pid = fork();

	if (pid == 0)
		exec_child(c);
	return pid;
}

/* What a (step, errno) report means, for the job's error. */
static void
exec_step_message(int step, int error, const char *name, const char *cwd,
    char *err, size_t errlen)
{
	if (step == STEP_CHDIR)
		snprintf(err, errlen, "cwd %s: %s", cwd, strerror(error));
	else if (step == STEP_EXEC && error == ENOENT)
		snprintf(err, errlen, "program not found: %s", name);
	else if (step == STEP_EXEC)
		snprintf(err, errlen, "%s: %s", name, strerror(error));
	else if (step > 0 && step < STEP_EXEC)
		snprintf(err, errlen, "%s: %s", exec_step_name[step],
		    strerror(error));
	else
		snprintf(err, errlen, "spawn: %s", strerror(error));
}

/* A report from the pipe: 1 (*step, *error set), 0 (none: it ran). */
static int
exec_read_report(int fd, int *step, int *error)
{
	int msg[2];
	ssize_t n;

	while ((n = read(fd, msg, sizeof msg)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof msg)
		return 0;
	*step = msg[0];
	*error = msg[1] != 0 ? msg[1] : EIO;
	return 1;
}

/*
 * Spawn the leader of a new group, trying paths in order.  Returns 0 or
 * an errno value with *step naming what failed (0: the spawn itself).
 * For a job that changes users (fork), *report is the pipe to read when
 * it ends; else -1 and a failure is known now.
 */
static int
exec_spawn(pid_t *pid, const char *const *paths, const struct exec_spec *spec,
    int in_fd, int out_fd, int err_fd, int *step, int *report)
{
	static char *const empty_env[] = {NULL};
	struct exec_child c = {.paths = paths,
	    .spec = spec,
	    .envp = spec->envp != NULL ? spec->envp : empty_env,
	    .in_fd = in_fd,
	    .out_fd = out_fd,
	    .err_fd = err_fd,
	    .report_fd = -1};
	int fds[2], error = 0;
	struct rlimit rl;
	sigset_t all, old;

	*step = 0;
	*report = -1;
	if (spec->rlimit[EXEC_RLIMIT_NOFILE] == 0 && spec->nofile_soft != 0 &&
	    getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur > spec->nofile_soft) {
		c.nofile.cur = spec->nofile_soft;
		c.nofile.max = rl.rlim_max;
		c.nofile_soft = true;
	}
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno;
	if ((fds[0] = exec_fd_above_stdio(fds[0])) == -1 ||
	    (fds[1] = exec_fd_above_stdio(fds[1])) == -1) {
		error = errno;
		exec_close_pair(fds);
		return error;
	}
	c.report_fd = fds[1];
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	*pid = spec->creds.change ? exec_fork(&c) : exec_vfork(&c);
	if (*pid == -1)
		error = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	if (error == 0 && spec->creds.change) {
		/* It may not have reached execve() yet: read at its end. */
		*report = fds[0];
		return 0;
	}
	if (error == 0 && exec_read_report(fds[0], step, &error)) {
		while (waitpid(*pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	close(fds[0]);
	return error;
}

struct exec_proc *
exec_start(struct event_base *base, const struct exec_spec *spec,
    exec_done_fn done, exec_output_fn output, void *arg, char *err,
    size_t errlen)
{
	struct exec_proc *p;
	struct timeval tv;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	char *path = NULL, **paths;
	pid_t pid = -1;
	int error, pidfd, step, report = -1;

	if (spec->creds.change) {
		/* Another user's: the child looks, as that user. */
		if (spec->argv == NULL || spec->argv[0] == NULL) {
			snprintf(err, errlen, "empty argv");
			errno = EINVAL;
			return NULL;
		}
		paths =
		    exec_candidates(spec->argv[0], exec_env_path(spec->envp));
	} else {
		if ((path = exec_prepare(spec, err, errlen)) == NULL)
			return NULL;
		paths = xcalloc(2, sizeof(*paths));
		paths[0] = path;
	}
	if ((spec->stdin_data != NULL && exec_pipe(in, true) == -1) ||
	    exec_pipe(out, false) == -1 || exec_pipe(errp, false) == -1) {
		error = errno;
		snprintf(err, errlen, "pipe: %s", strerror(error));
		goto fail;
	}
	error = exec_spawn(&pid, (const char *const *)paths, spec, in[0],
	    out[1], errp[1], &step, &report);
	if (error != 0) {
		exec_step_message(step, error,
		    path != NULL ? path : spec->argv[0], spec->cwd, err,
		    errlen);
		goto fail;
	}
	/* The child has its ends; keep only ours. */
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	in[0] = out[1] = errp[1] = -1;

	if ((pidfd = pidfd_open(pid, 0)) == -1) {
		error = errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(error));
		/* Unwatched, it must not run: it is still ours to reap. */
		killpg(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		goto fail;
	}
	strv_free(paths);

	p = xcalloc(1, sizeof *p);
	p->report_fd = report;
	if (report != -1) {
		p->name = xstrdup(spec->argv[0]);
		p->cwd = spec->cwd != NULL ? xstrdup(spec->cwd) : NULL;
	}
	p->pid = pid;
	p->pidfd = pidfd;
	p->output_cap = spec->output_cap;
	p->kill_grace_ms = spec->kill_grace_ms;
	p->done = done;
	p->output = output;
	p->arg = arg;
	p->pid_ev = event_new(base, pidfd, EV_READ, exec_pid_cb, p);
	p->out[0].fd = out[0];
	p->out[0].ev =
	    event_new(base, out[0], EV_READ | EV_PERSIST, exec_stdout_cb, p);
	p->out[1].fd = errp[0];
	p->out[1].ev =
	    event_new(base, errp[0], EV_READ | EV_PERSIST, exec_stderr_cb, p);
	p->timeout_ev = evtimer_new(base, exec_timeout_cb, p);
	p->kill_ev = evtimer_new(base, exec_kill_cb, p);
	p->drain_ev = evtimer_new(base, exec_drain_cb, p);
	p->in_fd = in[1];
	if (p->pid_ev == NULL || p->out[0].ev == NULL || p->out[1].ev == NULL ||
	    p->timeout_ev == NULL || p->kill_ev == NULL || p->drain_ev == NULL)
		fatalx("exec: event_new failed");
	event_add(p->pid_ev, NULL);
	event_add(p->out[0].ev, NULL);
	event_add(p->out[1].ev, NULL);

	if (p->in_fd != -1 && spec->stdin_len == 0) {
		close(p->in_fd);
		p->in_fd = -1;
	} else if (p->in_fd != -1) {
		p->in_data = xmalloc(spec->stdin_len);
		memcpy(p->in_data, spec->stdin_data, spec->stdin_len);
		p->in_len = spec->stdin_len;
		p->in_ev = event_new(
		    base, p->in_fd, EV_WRITE | EV_PERSIST, exec_stdin_cb, p);
		if (p->in_ev == NULL)
			fatalx("exec: event_new failed");
		event_add(p->in_ev, NULL);
	}
	if (spec->timeout_ms > 0) {
		exec_ms_to_tv(spec->timeout_ms, &tv);
		evtimer_add(p->timeout_ev, &tv);
	}
	return p;

fail:
	strv_free(paths);
	if (report != -1)
		close(report);
	exec_close_pair(in);
	exec_close_pair(out);
	exec_close_pair(errp);
	errno = error;
	return NULL;
}

void
exec_kill(struct exec_proc *p, enum exec_outcome reason)
{
	if (reason != EXEC_CANCELLED && reason != EXEC_INTERRUPTED)
		fatalx("exec_kill: bad reason %d", (int)reason);
	/* A cancel while a stop's kill is under way: the cancel is what the
	 * attempt ends as (the stop's signals go on). */
	if (p->killing && !p->reaped && reason == EXEC_CANCELLED &&
	    p->kill_reason == EXEC_INTERRUPTED)
		p->kill_reason = EXEC_CANCELLED;
	exec_terminate(p, reason);
}

void
exec_kill_now(struct exec_proc *p)
{
	if (p->reaped)
		return;
	if (!p->killing)
		exec_terminate(p, EXEC_INTERRUPTED);
	exec_signal_group(p, SIGKILL);
}

pid_t
exec_pid(const struct exec_proc *p)
{
	return p->pid;
}

const char *
exec_output(const struct exec_proc *p, int stream, size_t *len, bool *truncated)
{
	const struct exec_stream *s;

	if (stream != 1 && stream != 2)
		fatalx("exec_output: bad stream %d", stream);
	s = &p->out[stream - 1];
	*len = s->len;
	if (truncated != NULL)
		*truncated = s->total > p->output_cap;
	return s->buf != NULL ? s->buf : "";
}

uint64_t
exec_output_total(const struct exec_proc *p, int stream)
{
	if (stream != 1 && stream != 2)
		fatalx("exec_output_total: bad stream %d", stream);
	return p->out[stream - 1].total;
}

void
exec_set_output(struct exec_proc *p, exec_output_fn output)
{
	p->output = output;
}
