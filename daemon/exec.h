/*
 * exec: the child processes of exec jobs, run without a thread each.
 *
 * exec_start() looks the program up on the job's own PATH, spawns it
 * (vfork: no copy of the daemon's memory) as the leader of a new process
 * group, with default signal dispositions, an empty signal mask, stdin from
 * the job's data (or /dev/null), stdout/stderr on pipes, the given
 * resource limits and, when the daemon may, another user's credentials
 * (groups, then gid, then uid; the working directory is entered as that
 * user).  The
 * event loop then watches the process through a pidfd and reads the pipes
 * into capped buffers (bytes past the cap are read and counted, not kept).
 *
 * A process is finished when its leader has exited and both pipes are at
 * end of file.  When the leader exits, whatever is left of its process group
 * gets SIGKILL (a job's processes end with the job; one that called setsid()
 * escaped and is not waited for beyond kill_grace_ms).  A timeout, a cancel
 * or a shutdown sends SIGTERM to the whole group, then SIGKILL after
 * kill_grace_ms.  The group is signalled only while the leader is unreaped,
 * so a reused pid is never hit.
 *
 * Everything here runs on the event loop's thread.
 */
#ifndef JOBD_EXEC_H
#define JOBD_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct exec_proc;

/* Resource limits an exec job may set (each 0: inherit jobd's). */
enum exec_rlimit {
	EXEC_RLIMIT_AS,     /* address space, bytes */
	EXEC_RLIMIT_CPU,    /* CPU time, seconds */
	EXEC_RLIMIT_NOFILE, /* open files */
	EXEC_RLIMIT_NPROC,  /* processes of the user */
	EXEC_RLIMIT_N
};

/* Who the process runs as, when not as the daemon. */
struct exec_creds {
	bool change; /* false: the daemon's own credentials */
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups */
	size_t ngroups;
};

struct exec_spec {
	char *const *argv; /* argv[0]: a name looked up on PATH, or a path */
	char *const *envp; /* the child's whole environment */
	const char *cwd;   /* NULL: the daemon's */
	const char *stdin_data; /* NULL: /dev/null */
	size_t stdin_len;
	size_t output_cap;      /* bytes kept per stream */
	uint64_t timeout_ms;    /* 0: none */
	uint64_t kill_grace_ms; /* SIGTERM -> SIGKILL */
	struct exec_creds creds;
	uint64_t rlimit[EXEC_RLIMIT_N]; /* soft and hard; 0: inherit */
	uint64_t nofile_soft; /* without an nofile limit: the soft one; 0 */
};

enum exec_outcome {
	EXEC_EXITED,       /* exit_code is set (0 or not) */
	EXEC_SIGNALED,     /* died of signal */
	EXEC_TIMED_OUT,    /* killed after timeout_ms */
	EXEC_CANCELLED,    /* killed by exec_kill(EXEC_CANCELLED) */
	EXEC_INTERRUPTED,  /* killed by exec_kill(EXEC_INTERRUPTED): shutdown */
	EXEC_SPAWN_FAILED, /* never ran its program: error says why */
};

struct exec_result {
	enum exec_outcome outcome;
	int exit_code; /* EXEC_EXITED */
	int signal;    /* the signal that ended the leader, if one did */
	pid_t pid;
	/* Valid only during the callback; NUL-terminated after *_len bytes. */
	const char *out, *err;
	size_t out_len, err_len;
	uint64_t out_total, err_total; /* bytes produced, kept or not */
	bool out_truncated, err_truncated;
	const char *error; /* EXEC_SPAWN_FAILED: why */
	int spawn_errno;   /* EXEC_SPAWN_FAILED: ENOENT, EACCES, ... */
};

/* Called once when the process is finished; the exec_proc is freed after. */
typedef void (*exec_done_fn)(const struct exec_result *res, void *arg);
/* Called as output arrives (stream 1 or 2), before it is capped. */
typedef void (*exec_output_fn)(
    int stream, const char *data, size_t len, void *arg);

/*
 * Start a process.  On failure to start returns NULL with errno set and a
 * message in err: ENOENT "program not found: NAME", EACCES, ENOTDIR/ENOENT
 * for a bad cwd ("cwd /x: ..."), EINVAL for an empty argv, or the spawn
 * error.  output may be NULL.  The spec and everything it points to are
 * copied or used up by exec_start() (stdin_data is copied).  A relative
 * program path or PATH element is taken relative to cwd, as the child sees
 * it.  done is never called from inside exec_start() or exec_kill().
 */
struct exec_proc *exec_start(struct event_base *base,
    const struct exec_spec *spec, exec_done_fn done, exec_output_fn output,
    void *arg, char *err, size_t errlen);

/*
 * End the process early: SIGTERM to its group now, SIGKILL after the grace
 * period.  reason is EXEC_CANCELLED or EXEC_INTERRUPTED and becomes the
 * outcome unless the process had already exited on its own.
 */
void exec_kill(struct exec_proc *p, enum exec_outcome reason);
/* The same at once: SIGKILL to the group now (a second stop request). */
void exec_kill_now(struct exec_proc *p);

pid_t exec_pid(const struct exec_proc *p);
/* Output captured so far (for a running job's logs). */
const char *exec_output(
    const struct exec_proc *p, int stream, size_t *len, bool *truncated);
/* Bytes a stream has produced so far, kept or not. */
uint64_t exec_output_total(const struct exec_proc *p, int stream);
/*
 * Replace the output callback (NULL: none) from the next chunk on; it gets
 * the arg given to exec_start().  With none, reading a chunk costs one
 * pointer test beyond keeping it.
 */
void exec_set_output(struct exec_proc *p, exec_output_fn output);

/*
 * Resolve name on path (a PATH value; NULL: "/usr/local/bin:/usr/bin:/bin")
 * the way execvp would: a name with a '/' is used as it is, an empty element
 * is the current directory ("./NAME").  Only regular files count.  Returns a
 * malloc'd path or NULL (errno ENOENT or EACCES).  Exposed for tests.
 */
char *exec_lookup(const char *name, const char *path);

#endif
