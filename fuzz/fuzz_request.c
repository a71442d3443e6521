/*
 * fuzz_request: a libFuzzer target over jobd's request path.
 *
 * DESIGN
 *
 * One daemon is set up once, the way jobd_main() sets it up (an event base
 * with precise timers, the counters, a pool of one thread, the scheduler,
 * the ops, recurring jobs kept in a private state directory, the in-process
 * kinds), without listeners or signals.  Each input is one client: a
 * socketpair whose daemon end goes to conn_accept(), as an accepted socket
 * does, and whose other end the target writes the input to and reads the
 * replies from.  A request thus takes the daemon's whole path: bufferevent
 * reads, framing with the line limit (FUZZ_MAX_LINE), proto_decode() with
 * the depth limit, ops_dispatch() and the op's handler, replies through
 * conn_send() and its flow control.
 *
 * The input is written a line at a time, as by a client that waits for each
 * reply, except that a line ending in "\r\n" goes out together with the
 * next one, as by a client that pipelines (jobd ignores the "\r"): so the
 * fuzzer controls both.  A long stretch goes out in pieces of FUZZ_PIECE
 * bytes (framing sees partial lines).  After each piece the event loop runs
 * a few non-blocking passes: echo jobs finish, zero-length sleeps and retry
 * delays fire, a queue's next jobs start.  The loop does not wait for
 * timers there; only at the end of the input does it wait, a few rounds,
 * for timers due within FUZZ_TIMER_MS (a short sleep, timeout, delay,
 * backoff or wait).  Longer ones cost nothing: what is still pending at
 * the end of the input is dropped.  The one thing the target
 * waits for is a compute task on the pool, so that an input runs the same
 * way each time.  The target reads at most FUZZ_READ bytes of replies per
 * pass, through a small socket buffer, so big replies meet the daemon's
 * flow control.  After the last line the client shuts down its sending
 * side, as a client that is done does.
 *
 * Between inputs the daemon is reset: the connection is dropped (its
 * waits, watches and follows with it), what runs is stopped the way a stop
 * without grace stops it, then the job table, the queues and the recurring
 * entries are freed and set up afresh.  Inputs do not depend on each other
 * and memory does not grow; the counters and the pool are kept.
 *
 * No process is ever started: posix_spawn(), posix_spawnp(), fork() and
 * vfork() are replaced below by stubs that fail with EPERM, so an exec job
 * ends spawn_failed after exec.c's checks of its argv, cwd and PATH.  After
 * each input the target checks that the process has no child it did not
 * have before.
 *
 * Every line the daemon sends must be valid UTF-8 JSON, an object with
 * "ok" or "event", and an error must carry a known code: a line a client
 * cannot read is a finding too.
 *
 * For looking into an input: $JOBD_FUZZ_LOG sets the daemon's log level
 * (default err), and $JOBD_FUZZ_REPLIES prints every line it sends.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "counters.h"
#include "fuzz.h"
#include "jobd.h"
#include "kinds.h"
#include "log.h"
#include "ops.h"
#include "pool.h"
#include "proto.h"
#include "recur.h"
#include "sched.h"
#include "statedir.h"
#include "xmalloc.h"

/* Bytes written at once: a longer line arrives in pieces. */
#define FUZZ_PIECE 1024
/* Loop passes after each piece. */
#define FUZZ_PASSES 4
/* Passes a stop may take before it counts as hung. */
#define FUZZ_STOP_PASSES 100000
/* At the end of an input, timers due this soon fire (rounds of waiting). */
#define FUZZ_TIMER_MS 3
#define FUZZ_TIMER_ROUNDS 4
/* Replies read per pass: a client slower than jobd meets flow control. */
#define FUZZ_READ 8192
/* The daemon end's send buffer, and its unread-replies limit. */
#define FUZZ_SNDBUF 4096
#define FUZZ_OUT_HIGH (16 * 1024)

/* The daemon's events, gathered to find the first timer. */
struct event_list {
	const struct event **v;
	size_t n, cap;
};

static struct {
	bool ready;
	char *state_dir; /* NULL once removed */
	struct conn *conn;
	int peer; /* the client's end; -1 between inputs */
	bool peer_eof;
	char *reply; /* the start of a reply line being read */
	size_t reply_len, reply_cap;
	bool stopped;
	bool show; /* $JOBD_FUZZ_REPLIES: print the replies (stderr) */
	struct event_list events;
} F = {.peer = -1};

/* Written from the loop thread only; atomic in case that ever changes. */
static atomic_uint_fast64_t spawns_refused;

/* --- No process, ever ----------------------------------------------------- */

int
posix_spawn(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	atomic_fetch_add(&spawns_refused, 1);
	return EPERM;
}

int
posix_spawnp(pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	atomic_fetch_add(&spawns_refused, 1);
	return EPERM;
}

pid_t
fork(void)
{
	atomic_fetch_add(&spawns_refused, 1);
	errno = EPERM;
	return -1;
}

pid_t
vfork(void)
{
	atomic_fetch_add(&spawns_refused, 1);
	errno = EPERM;
	return -1;
}

/*
 * The process's children: the pids in /proc/self/task/TID/children of every
 * thread.  libFuzzer may start the sanitizers' symbolizer between inputs,
 * so the target compares the children before and after an input: a child
 * that appears during one means a stub was bypassed.
 */
static void
list_children(char *buf, size_t len)
{
	struct dirent *de;
	size_t used = 0;
	ssize_t n;
	char path[sizeof "/proc/self/task//children" + NAME_MAX];
	DIR *d;
	int fd;

	buf[0] = '\0';
	if ((d = opendir("/proc/self/task")) == NULL)
		fatal("fuzz: /proc/self/task");
	while ((de = readdir(d)) != NULL && used + 1 < len) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/children",
		    de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue; /* the thread is gone */
		while (used + 1 < len &&
		       (n = read(fd, buf + used, len - used - 1)) > 0)
			used += (size_t)n;
		close(fd);
	}
	closedir(d);
	buf[used] = '\0';
}

/* --- The state directory -------------------------------------------------- */

static void
remove_state_dir(void)
{
	static const char *const files[] = {
	    "cron.json", "cron.json.tmp", "lock", NULL};
	char *path;
	size_t i;

	if (F.state_dir == NULL)
		return;
	statedir_close();
	for (i = 0; files[i] != NULL; i++) {
		xasprintf(&path, "%s/%s", F.state_dir, files[i]);
		unlink(path);
		free(path);
	}
	rmdir(F.state_dir);
	free(F.state_dir);
	F.state_dir = NULL;
}

/* A fresh directory, on tmpfs if there is one (fsync is free there). */
static void
make_state_dir(void)
{
	const char *base = getenv("TMPDIR");
	struct stat st;
	char err[512];

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (base == NULL || base[0] != '/')
		base = "/tmp";
	xasprintf(&F.state_dir, "%s/jobd-fuzz.XXXXXX", base);
	if (mkdtemp(F.state_dir) == NULL)
		fatal("fuzz: mkdtemp %s", F.state_dir);
	if (statedir_open(F.state_dir, err, sizeof err) != 0)
		fatalx("fuzz: %s", err);
	atexit(remove_state_dir);
}

/* --- Set-up and reset ----------------------------------------------------- */

/*
 * The parts of the daemon a reset makes anew; the recurring entries only
 * when asked, since loading the local time zone again costs more than all
 * the rest.
 */
static void
state_init(bool recur)
{
	char err[512];

	sched_init();
	ops_init();
	if (recur && recur_init(err, sizeof err) != 0)
		fatalx("fuzz: %s", err);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *level = getenv("JOBD_FUZZ_LOG");
	struct event_config *ev_cfg;
	int lvl = LOG_LEVEL_ERR;

	if (F.ready)
		return 0;
	if (level != NULL && log_level_parse(level) >= 0)
		lvl = log_level_parse(level);
	log_init("jobd-fuzz", (enum log_level)lvl);
	F.show = getenv("JOBD_FUZZ_REPLIES") != NULL;
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0)
		fatalx("fuzz: libevent has no thread support");
	/* Small limits, so that inputs of a few kilobytes reach them. */
	jobd.cfg = (struct jobd_config){
	    .workers = 1,
	    .max_running = 2,
	    .max_line = FUZZ_MAX_LINE,
	    .max_depth = PROTO_MAX_DEPTH_DEFAULT,
	    .max_queued = 64,
	    .max_batch = 32,
	    .output_cap = 4096,
	    .conn_out_high = FUZZ_OUT_HIGH,
	    .retain_count = 16,
	    .retain_age_ms = 3600 * 1000,
	    .shutdown_grace_ms = 0,
	    .auth_timeout_ms = 5000,
	    .max_conns = 4,
	    .idle_timeout_ms = 300000,
	    .line_timeout_ms = 30000,
	    .conn_out_max = 4 * FUZZ_OUT_HIGH,
	    .max_argv = 1024,
	    .max_env = 1024,
	    .max_stdin = 1024,
	    .socket_mode = 0600,
	    .socket_group = -1,
	    .log_level = lvl,
	};
	make_state_dir();
	jobd.cfg.state_dir = xstrdup(F.state_dir);
	jobd.started_ms = now_ms();
	if ((ev_cfg = event_config_new()) == NULL)
		fatalx("fuzz: event_config_new failed");
	event_config_set_flag(ev_cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	jobd.base = event_base_new_with_config(ev_cfg);
	event_config_free(ev_cfg);
	jobd.counters = counters_create(jobd.cfg.workers + 8);
	if (jobd.base == NULL || jobd.counters == NULL)
		fatalx("fuzz: cannot set up the event loop");
	jobd.stats = counters_slot(jobd.counters);
	if ((jobd.pool = pool_create(jobd.cfg.workers)) == NULL)
		fatal("fuzz: pool_create");
	state_init(true);
	if (kinds_init() != 0)
		fatal("fuzz: kinds_init");
	F.ready = true;
	return 0;
}

/*
 * Check one line the daemon sent, read the way jobctl reads it.  jansson
 * does the work (it refuses bad UTF-8 too): the daemon's own decoder would
 * add the replies' variety to the coverage the fuzzer steers by.
 */
static void
check_reply(const char *line, size_t len)
{
	const char *code;
	json_error_t jerr;
	json_t *msg, *ok;
	int show = len > 300 ? 300 : (int)len;

	if (F.show)
		fprintf(stderr, "< %.*s\n", (int)len, line);
	msg = json_loadb(
	    line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	if (msg == NULL || !json_is_object(msg))
		fatalx("fuzz: jobd sent a line that is not a JSON object "
		       "(%s): %.*s",
		    msg == NULL ? jerr.text : "not an object", show, line);
	ok = json_object_get(msg, "ok");
	if (!json_is_boolean(ok) &&
	    !json_is_string(json_object_get(msg, "event")))
		fatalx("fuzz: jobd sent a line with neither ok nor event: "
		       "%.*s",
		    show, line);
	code = json_string_value(
	    json_object_get(json_object_get(msg, "error"), "code"));
	if (json_is_false(ok) && (code == NULL || proto_err_parse(code) < 0))
		fatalx("fuzz: jobd sent an error without a known code: %.*s",
		    show, line);
	json_decref(msg);
}

/* Read up to FUZZ_READ bytes of replies and check every complete line. */
static void
read_replies(void)
{
	char *nl, *start;
	ssize_t n;
	size_t left;

	if (F.peer == -1 || F.peer_eof)
		return;
	if (F.reply_cap - F.reply_len < FUZZ_READ) {
		F.reply_cap = F.reply_len + FUZZ_READ;
		F.reply = xreallocarray(F.reply, F.reply_cap, 1);
	}
	n = read(F.peer, F.reply + F.reply_len, FUZZ_READ);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The daemon closed (a reset is an end of file too). */
		F.peer_eof = true;
		return;
	}
	start = F.reply;
	left = F.reply_len + (size_t)n;
	/* Only the new bytes can hold the end of a line. */
	nl = memchr(F.reply + F.reply_len, '\n', (size_t)n);
	while (nl != NULL) {
		check_reply(start, (size_t)(nl - start));
		left -= (size_t)(nl + 1 - start);
		start = nl + 1;
		nl = memchr(start, '\n', left);
	}
	memmove(F.reply, start, left);
	F.reply_len = left;
}

/* One loop pass, after the pool's tasks are back, then read replies. */
static void
run_pass(void)
{
	while (kinds_inflight() > 0)
		event_base_loop(jobd.base, EVLOOP_ONCE);
	event_base_loop(jobd.base, EVLOOP_NONBLOCK);
	read_replies();
}

static void
run_passes(int n)
{
	while (n-- > 0)
		run_pass();
}

/*
 * event_base_foreach_event() callback: collect the events.  It runs with
 * the base locked, so their timeouts are read after it.
 */
static int
collect_event(const struct event_base *base, const struct event *ev, void *arg)
{
	struct event_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = ev;
	return 0;
}

/* When the first timer is due; false if no timer is pending. */
static bool
first_timer(struct timeval *first)
{
	struct event_list *l = &F.events;
	struct timeval tv;
	size_t i;

	l->n = 0;
	event_base_foreach_event(jobd.base, collect_event, l);
	timerclear(first);
	for (i = 0; i < l->n; i++) {
		if (event_pending(l->v[i], EV_TIMEOUT, &tv) &&
		    (!timerisset(first) || timercmp(&tv, first, <)))
			*first = tv;
	}
	return timerisset(first);
}

/*
 * Let the timers due within FUZZ_TIMER_MS fire, a few rounds of them: a
 * millisecond sleep, a short delay or timeout, a wait's timeout, a retry's
 * backoff.  Longer ones never fire.
 */
static void
run_short_timers(void)
{
	struct timeval first, now, wait;
	int round;

	for (round = 0; round < FUZZ_TIMER_ROUNDS && first_timer(&first);
	     round++) {
		gettimeofday(&now, NULL);
		if (timercmp(&first, &now, >)) {
			timersub(&first, &now, &wait);
			if (wait.tv_sec > 0 ||
			    wait.tv_usec > FUZZ_TIMER_MS * 1000)
				return;
			usleep((useconds_t)wait.tv_usec + 100);
		}
		run_passes(FUZZ_PASSES);
	}
}

/* Write all of data to the daemon, running the loop when it is full. */
static void
send_piece(const uint8_t *data, size_t len)
{
	ssize_t n;
	int stalled = 0;

	while (len > 0) {
		n = write(F.peer, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		/* EAGAIN: the daemon is not reading (flow control) until
		 * we read; EPIPE and the like: it closed, after a line that
		 * was too long.  Either way: let it run, or give up. */
		if (n == -1 && errno != EAGAIN)
			return;
		if (F.peer_eof || conn_count() == 0)
			return;
		if (++stalled > FUZZ_STOP_PASSES)
			fatalx("fuzz: jobd stopped reading a client that "
			       "reads its replies");
		run_pass();
	}
}

static void
open_client(void)
{
	/* A unix peer jobd lets in: requests reach dispatch. */
	struct conn_cred cred = {
	    .pid = getpid(), .uid = geteuid(), .gid = getegid(), .admin = true};
	int sv[2], size = FUZZ_SNDBUF;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	        sv) != 0)
		fatal("fuzz: socketpair");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if ((F.conn = conn_accept(sv[0], "fuzz", &cred)) == NULL)
		fatalx("fuzz: conn_accept failed");
	F.peer = sv[1];
	F.peer_eof = false;
	F.reply_len = 0;
}

static void
stopped(void)
{
	F.stopped = true;
}

/* Back to an empty daemon: see DESIGN above. */
static void
reset(void)
{
	json_t *entries;
	char *path;
	bool recur;
	int passes = 0;

	/* A connection still open is dropped, as jobd drops one. */
	if (conn_count() > 0)
		conn_drop(F.conn);
	F.conn = NULL;
	close(F.peer);
	F.peer = -1;
	/* Stop what runs; then nothing refers to a job but the table. */
	F.stopped = false;
	sched_stop(0, stopped);
	while (!F.stopped || kinds_inflight() > 0) {
		if (++passes > FUZZ_STOP_PASSES)
			fatalx("fuzz: jobs still running after %d loop passes",
			    FUZZ_STOP_PASSES);
		run_pass();
	}
	/* Once more, for the reaper of the dropped connection. */
	event_base_loop(jobd.base, EVLOOP_NONBLOCK);
	sched_free();
	entries = recur_list(&(struct conn_cred){.admin = true});
	recur = json_array_size(json_object_get(entries, "cron")) > 0;
	json_decref(entries);
	if (recur) {
		recur_free();
		xasprintf(&path, "%s/cron.json", F.state_dir);
		unlink(path);
		free(path);
	}
	state_init(recur);
}

/*
 * The next stretch of input to send before running the loop: up to the
 * first "\n" not preceded by "\r", at most FUZZ_PIECE bytes.
 */
static size_t
next_piece(const uint8_t *data, size_t len)
{
	size_t i;

	if (len > FUZZ_PIECE)
		len = FUZZ_PIECE;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			return i + 1;
	}
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char before[256], after[256];
	size_t len;

	if (!F.ready)
		LLVMFuzzerInitialize(NULL, NULL);
	list_children(before, sizeof before);
	open_client();
	while (size > 0 && !F.peer_eof && conn_count() > 0) {
		len = next_piece(data, size);
		send_piece(data, len);
		data += len;
		size -= len;
		run_passes(FUZZ_PASSES);
	}
	shutdown(F.peer, SHUT_WR);
	run_passes(FUZZ_PASSES);
	run_short_timers();
	reset();
	list_children(after, sizeof after);
	if (strcmp(before, after) != 0)
		fatalx("fuzz: the daemon started a process (children before "
		       "the input: [%s], after: [%s])",
		    before, after);
	return 0;
}

void
fuzz_teardown(void)
{
	if (!F.ready)
		return;
	/* jobd_main()'s order. */
	conn_close_all(true);
	ops_free();
	recur_free();
	pool_free(jobd.pool);
	sched_free();
	kinds_free();
	counters_free(jobd.counters);
	event_base_free(jobd.base);
	free(jobd.cfg.state_dir);
	remove_state_dir();
	free(F.reply);
	free(F.events.v);
	memset(&F, 0, sizeof F);
	F.peer = -1;
	memset(&jobd, 0, sizeof jobd);
	libevent_global_shutdown();
}

uint64_t
fuzz_requests(void)
{
	return F.ready ? counters_get(jobd.counters, COUNTER_requests) : 0;
}

uint64_t
fuzz_spawns_refused(void)
{
	return atomic_load(&spawns_refused);
}
