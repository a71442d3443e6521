/*
 * store: SQLite in WAL mode, one writer thread, group commit (store.h).
 *
 * Loop side.  Changes accumulate in the open batch; the first change of
 * a round makes flush_ev active, so the batch is handed over once the
 * events of this round have run: everything one round of the loop does
 * (a pipelined burst of submits, the attempts they start) is one batch.
 * The hand-over is a chan_try_send(): if the channel is full (the disk is
 * far behind), the batch stays open and grows, and the next commit notice
 * tries again, so the loop never blocks on the disk.
 *
 * Thread side.  It blocks for one batch, drains every other one waiting,
 * and writes them all in one transaction: the fsync of a commit is shared
 * by every change that arrived while the previous one ran, which is what
 * lets `full` durability keep up with the loop.  After the commit it
 * stores the last batch's number in `committed` and pokes the loop through
 * the `done` channel's eventfd; the loop reports the number to the hook.
 *
 * The connection is used by the loop's thread until store_start() (open,
 * checks, load) and by the store thread only after that.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chan.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_QUEUE_BATCHES 1024 /* batches waiting for the thread */
#define STORE_DRAIN 256          /* batches taken at once */
#define STORE_RETRY_MIN_MS 50
#define STORE_RETRY_MAX_MS 5000
#define STORE_CLOSE_TRIES 3 /* commits tried at close before giving up */
#define STORE_WAL_LIMIT (64 * 1024 * 1024)
/* Latency histogram: 4 linear sub-buckets per power of two of µs. */
#define HIST_SUB 4
#define HIST_BUCKETS (64 * HIST_SUB)

enum rec_op { REC_PUT, REC_DELETE };

struct rec {
	uint8_t op;    /* enum rec_op */
	uint8_t table; /* enum store_table */
	uint64_t id;
	char *name;
	void *data;
	size_t len;
};

struct batch {
	uint64_t seq;
	struct rec *recs;
	size_t n, cap;
};

static const char *const table_names[STORE_NTABLES] = {
    [STORE_SPECS] = "specs",
    [STORE_JOBS] = "jobs",
    [STORE_OUTPUT] = "output",
    [STORE_QUEUES] = "queues",
    [STORE_META] = "meta",
};

static bool
by_id(enum store_table t)
{
	return t == STORE_SPECS || t == STORE_JOBS || t == STORE_OUTPUT;
}

static struct {
	sqlite3 *db;
	char *path;
	enum store_durability durability;
	sqlite3_stmt *put[STORE_NTABLES], *del[STORE_NTABLES];

	/* Loop side. */
	struct event_base *base;
	store_commit_fn hook;
	void *hook_arg;
	void (*flush_hook)(void);
	struct batch *open; /* NULL until a change comes */
	uint64_t next_seq;  /* of the open batch */
	uint64_t reported;  /* last seq given to the hook */
	struct event *flush_ev, *done_ev;
	bool flush_armed; /* flush_ev is active */
	struct chan *in, *done;

	/* Thread side. */
	pthread_t thread;
	bool started;
	atomic_long max_pages; /* test hook: -1 none asked, 0 lift */

	/* Shared. */
	atomic_uint_least64_t committed;
	atomic_bool available;
	atomic_uint_least64_t pending;
	atomic_uint_least64_t commits, batches, records, failures;
	atomic_uint_least64_t db_bytes, lat_max, lat_sum;
	atomic_uint_least64_t lat[HIST_BUCKETS];
	pthread_mutex_t error_mtx;
	char error[384];
} S = {.error_mtx = PTHREAD_MUTEX_INITIALIZER};

int
store_durability_parse(const char *name)
{
	if (strcmp(name, "off") == 0)
		return STORE_OFF;
	if (strcmp(name, "normal") == 0)
		return STORE_NORMAL;
	if (strcmp(name, "full") == 0)
		return STORE_FULL;
	return -1;
}

const char *
store_durability_name(enum store_durability d)
{
	return d == STORE_FULL ? "full" : d == STORE_NORMAL ? "normal" : "off";
}

bool
store_enabled(void)
{
	return S.db != NULL;
}

/* --- Errors --------------------------------------------------------------- */

static void
set_error(const char *what)
{
	pthread_mutex_lock(&S.error_mtx);
	snprintf(S.error, sizeof S.error, "%s", what);
	pthread_mutex_unlock(&S.error_mtx);
}

void
store_error(char *buf, size_t len)
{
	pthread_mutex_lock(&S.error_mtx);
	snprintf(buf, len, "%s", S.error);
	pthread_mutex_unlock(&S.error_mtx);
}

bool
store_available(void)
{
	return S.db == NULL || atomic_load(&S.available);
}

/* Run sql; -1 with "what: sqlite's message" in err. */
static int
exec_sql(const char *sql, const char *what, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(S.db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", what,
	    msg != NULL ? msg : sqlite3_errmsg(S.db));
	sqlite3_free(msg);
	return -1;
}

/* The single text value of a one-row pragma, into buf; -1 with err. */
static int
pragma_text(const char *sql, char *buf, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(S.db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(S.db));
		return -1;
	}
	r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		snprintf(err, errlen, "%s",
		    r == SQLITE_DONE ? "no result" : sqlite3_errmsg(S.db));
		sqlite3_finalize(st);
		return -1;
	}
	snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

/* --- Opening -------------------------------------------------------------- */

static int
prepare(char *err, size_t errlen)
{
	char sql[160];
	int t;

	for (t = 0; t < STORE_NTABLES; t++) {
		snprintf(sql, sizeof sql,
		    "INSERT OR REPLACE INTO %s (%s, data) VALUES (?1, ?2)",
		    table_names[t], by_id(t) ? "id" : "name");
		if (sqlite3_prepare_v3(S.db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		        &S.put[t], NULL) != SQLITE_OK)
			goto fail;
		snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = ?1",
		    table_names[t], by_id(t) ? "id" : "name");
		if (sqlite3_prepare_v3(S.db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		        &S.del[t], NULL) != SQLITE_OK)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", S.path, sqlite3_errmsg(S.db));
	return -1;
}

/* Make the tables, or check that they are ours. */
static int
schema(char *err, size_t errlen)
{
	char version[32], why[256];

	if (pragma_text("PRAGMA user_version", version, sizeof version, why,
	        sizeof why) != 0) {
		snprintf(err, errlen, "%s: %s", S.path, why);
		return -1;
	}
	if (atoi(version) > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
		    "%s: made by a newer jobd (schema %s; this one knows %d)",
		    S.path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (atoi(version) == STORE_SCHEMA_VERSION)
		return 0;
	return exec_sql(
	    "BEGIN;"
	    "CREATE TABLE IF NOT EXISTS specs (id INTEGER PRIMARY KEY,"
	    " data BLOB NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY,"
	    " data BLOB NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS output (id INTEGER PRIMARY "
	    "KEY, data BLOB NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY "
	    "KEY, data BLOB NOT NULL) WITHOUT ROWID;"
	    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY,"
	    " data BLOB NOT NULL) WITHOUT ROWID;"
	    "PRAGMA user_version = 1;"
	    "COMMIT;",
	    S.path, err, errlen);
}

static void done_ready(evutil_socket_t fd, short what, void *arg);
static void flush_now(evutil_socket_t fd, short what, void *arg);

int
store_open(const char *path, enum store_durability d, struct event_base *base,
    store_commit_fn fn, void *arg, char *err, size_t errlen)
{
	char mode[32], check[256], why[256];
	int r;
	size_t i;

	S.path = xstrdup(path);
	S.durability = d;
	S.next_seq = 1;
	atomic_store(&S.committed, 0);
	atomic_store(&S.pending, 0);
	atomic_store(&S.commits, 0);
	atomic_store(&S.batches, 0);
	atomic_store(&S.records, 0);
	atomic_store(&S.failures, 0);
	atomic_store(&S.db_bytes, 0);
	atomic_store(&S.lat_max, 0);
	atomic_store(&S.lat_sum, 0);
	for (i = 0; i < HIST_BUCKETS; i++)
		atomic_store(&S.lat[i], 0);
	set_error("");
	r = sqlite3_open_v2(path, &S.db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (r != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    S.db != NULL ? sqlite3_errmsg(S.db) : sqlite3_errstr(r));
		goto fail;
	}
	(void)chmod(path, 0600);
	sqlite3_extended_result_codes(S.db, 1);
	/* The first read of the file: a file that is not a database fails
	 * here, and says so. */
	if (pragma_text("PRAGMA journal_mode = WAL", mode, sizeof mode, why,
	        sizeof why) != 0) {
		snprintf(err, errlen,
		    "%s: %s (not a jobd database, or damaged: move it aside "
		    "to start with an empty one)",
		    path, why);
		goto fail;
	}
	if (strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "%s: cannot use WAL mode (got %s)", path,
		    mode);
		goto fail;
	}
	if (pragma_text("PRAGMA quick_check", check, sizeof check, why,
	        sizeof why) != 0 ||
	    strcmp(check, "ok") != 0) {
		snprintf(err, errlen,
		    "%s: damaged (%s): restore it from a backup, or move it "
		    "aside to start with an empty one",
		    path, strcmp(why, "") != 0 ? why : check);
		goto fail;
	}
	if (exec_sql(d == STORE_FULL ? "PRAGMA synchronous = FULL"
	                             : "PRAGMA synchronous = NORMAL",
	        path, err, errlen) != 0 ||
	    exec_sql("PRAGMA journal_size_limit = " /* bytes */
	             "67108864",
	        path, err, errlen) != 0 ||
	    schema(err, errlen) != 0 || prepare(err, errlen) != 0)
		goto fail;
	S.base = base;
	S.hook = fn;
	S.hook_arg = arg;
	atomic_store(&S.available, true);
	if ((S.in = chan_create(STORE_QUEUE_BATCHES, 0)) == NULL ||
	    (S.done = chan_create(1, CHAN_EVENTFD)) == NULL) {
		snprintf(err, errlen, "store: %s", strerror(errno));
		goto fail;
	}
	S.flush_ev = event_new(base, -1, 0, flush_now, NULL);
	S.done_ev = event_new(
	    base, chan_fd(S.done), EV_READ | EV_PERSIST, done_ready, NULL);
	if (S.flush_ev == NULL || S.done_ev == NULL ||
	    event_add(S.done_ev, NULL) != 0) {
		snprintf(err, errlen, "store: cannot set up its events");
		goto fail;
	}
	return 0;
fail:
	store_close();
	return -1;
}

int
store_load(
    enum store_table t, store_load_fn fn, void *arg, char *err, size_t errlen)
{
	char sql[96];
	sqlite3_stmt *st;
	int r, stopped = 0;

	snprintf(sql, sizeof sql, "SELECT %s, data FROM %s ORDER BY 1",
	    by_id(t) ? "id" : "name", table_names[t]);
	if (sqlite3_prepare_v2(S.db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", S.path, sqlite3_errmsg(S.db));
		return -1;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *data = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);

		if (by_id(t))
			stopped = fn((uint64_t)sqlite3_column_int64(st, 0),
			    NULL, data != NULL ? data : "", len, arg);
		else
			stopped =
			    fn(0, (const char *)sqlite3_column_text(st, 0),
			        data != NULL ? data : "", len, arg);
		if (stopped != 0)
			break;
	}
	if (stopped == 0 && r != SQLITE_DONE)
		snprintf(err, errlen, "%s: reading %s: %s", S.path,
		    table_names[t], sqlite3_errmsg(S.db));
	else if (stopped != 0)
		snprintf(err, errlen, "%s: a record of %s cannot be used",
		    S.path, table_names[t]);
	sqlite3_finalize(st);
	return stopped != 0 || r != SQLITE_DONE ? -1 : 0;
}

/* --- The store thread ----------------------------------------------------- */

static void
batch_free(struct batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->recs[i].name);
		free(b->recs[i].data);
	}
	free(b->recs);
	free(b);
}

static uint64_t
mono_us_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static size_t
hist_bucket(uint64_t us)
{
	int lg;

	if (us < HIST_SUB)
		return (size_t)us;
	lg = 63 - __builtin_clzll(us); /* >= 2 */
	return (size_t)(lg - 1) * HIST_SUB +
	       (size_t)((us >> (lg - 2)) & (HIST_SUB - 1));
}

/* The lowest value of bucket i. */
static uint64_t
hist_value(size_t i)
{
	size_t lg;

	if (i < HIST_SUB)
		return i;
	lg = i / HIST_SUB + 1;
	return ((uint64_t)1 << lg) +
	       (uint64_t)(i % HIST_SUB) * ((uint64_t)1 << (lg - 2));
}

static int
bind_key(sqlite3_stmt *st, const struct rec *r)
{
	if (by_id(r->table))
		return sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
	return sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
}

static int
write_rec(const struct rec *r)
{
	sqlite3_stmt *st = r->op == REC_PUT ? S.put[r->table] : S.del[r->table];
	int rc;

	if (bind_key(st, r) != SQLITE_OK ||
	    (r->op == REC_PUT &&
	        sqlite3_bind_blob64(st, 2, r->data != NULL ? r->data : "",
	            (sqlite3_uint64)r->len, SQLITE_STATIC) != SQLITE_OK))
		rc = -1;
	else
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static void
apply_max_pages(void)
{
	long pages = atomic_exchange(&S.max_pages, -1);
	char sql[64];

	if (pages < 0)
		return;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %ld",
	    pages > 0 ? pages : 4294967294L);
	(void)sqlite3_exec(S.db, sql, NULL, NULL, NULL);
}

static void
note_size(void)
{
	char wal[4096 + 8];
	struct stat st;
	uint64_t bytes = 0;

	if (stat(S.path, &st) == 0)
		bytes += (uint64_t)st.st_size;
	snprintf(wal, sizeof wal, "%s-wal", S.path);
	if (stat(wal, &st) == 0)
		bytes += (uint64_t)st.st_size;
	atomic_store(&S.db_bytes, bytes);
}

/* Write batches b[0..n) in one transaction; 0, or -1 (rolled back). */
static int
commit(struct batch **b, size_t n)
{
	uint64_t t0 = mono_us_now(), us, nrec = 0;
	char why[320];
	size_t i, j;

	apply_max_pages();
	if (sqlite3_exec(S.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		for (j = 0; j < b[i]->n; j++) {
			if (write_rec(&b[i]->recs[j]) != 0)
				goto fail;
		}
		nrec += b[i]->n;
	}
	if (sqlite3_exec(S.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	us = mono_us_now() - t0;
	atomic_fetch_add(&S.lat[hist_bucket(us)], 1);
	atomic_fetch_add(&S.lat_sum, us);
	if (us > atomic_load(&S.lat_max))
		atomic_store(&S.lat_max, us);
	atomic_fetch_add(&S.commits, 1);
	atomic_fetch_add(&S.batches, n);
	atomic_fetch_add(&S.records, nrec);
	atomic_fetch_sub(&S.pending, nrec);
	note_size();
	return 0;
fail : {
	const char *msg = sqlite3_errmsg(S.db);
	const char *code = sqlite3_errstr(sqlite3_extended_errcode(S.db));

	snprintf(why, sizeof why, "%s%s%s%s", msg,
	    strcmp(msg, code) != 0 ? " (" : "",
	    strcmp(msg, code) != 0 ? code : "",
	    strcmp(msg, code) != 0 ? ")" : "");
}
	(void)sqlite3_exec(S.db, "ROLLBACK", NULL, NULL, NULL);
	atomic_fetch_add(&S.failures, 1);
	if (atomic_exchange(&S.available, false))
		log_err("store: cannot write %s: %s; submits are refused until "
		        "it can",
		    S.path, why);
	set_error(why);
	return -1;
}

/*
 * After a failed commit: the deletes of batches b[0..n) alone, in their
 * own transaction.  Applying them before the puts around them cannot
 * change the end state (they are applied again, in order, when the whole
 * retry runs), and they free the pages a full disk or --store-max-size
 * needs.
 */
static void
delete_first(struct batch **b, size_t n)
{
	size_t i, j, ndel = 0;

	if (sqlite3_exec(S.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < b[i]->n; j++) {
			if (b[i]->recs[j].op != REC_DELETE)
				continue;
			if (write_rec(&b[i]->recs[j]) != 0) {
				(void)sqlite3_exec(
				    S.db, "ROLLBACK", NULL, NULL, NULL);
				return;
			}
			ndel++;
		}
	}
	if (ndel == 0 ||
	    sqlite3_exec(S.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		(void)sqlite3_exec(S.db, "ROLLBACK", NULL, NULL, NULL);
}

static void *
store_thread(void *arg)
{
	struct batch **work = xcalloc(STORE_DRAIN, sizeof(*work));
	size_t n = 0, got, i, cap = STORE_DRAIN;
	long delay = STORE_RETRY_MIN_MS;
	int tries;
	void *item;

	(void)arg;
	for (;;) {
		if (chan_recv(S.in, &item) != 0)
			break; /* closed and empty */
		work[n++] = item;
		do {
			if (n == cap) {
				cap *= 2;
				work = xreallocarray(work, cap, sizeof(*work));
			}
			got = chan_drain(S.in, (void **)work + n, cap - n);
			n += got;
		} while (got > 0 && n == cap);
		tries = 0;
		while (commit(work, n) != 0) {
			/* Wait before trying again; take what comes meanwhile.
			 */
			if (chan_is_closed(S.in) &&
			    ++tries >= STORE_CLOSE_TRIES)
				break;
			if (n == cap) {
				cap *= 2;
				work = xreallocarray(work, cap, sizeof(*work));
			}
			/* What retention deleted can make the room. */
			delete_first(work, n);
			if (chan_is_closed(S.in))
				continue; /* stopping: a few quick tries */
			if (chan_timed_recv(S.in, &item, delay) == 0)
				work[n++] = item;
			delay = delay * 2 > STORE_RETRY_MAX_MS
			            ? STORE_RETRY_MAX_MS
			            : delay * 2;
		}
		if (tries < STORE_CLOSE_TRIES || !chan_is_closed(S.in)) {
			if (!atomic_exchange(&S.available, true))
				log_notice(
				    "store: %s is written again", S.path);
			set_error("");
		} else
			log_err("store: giving up on %zu change(s) at exit",
			    (size_t)atomic_load(&S.pending));
		delay = STORE_RETRY_MIN_MS;
		atomic_store(&S.committed, work[n - 1]->seq);
		for (i = 0; i < n; i++)
			batch_free(work[i]);
		n = 0;
		(void)chan_try_send(S.done, &S);
	}
	free(work);
	return NULL;
}

int
store_start(char *err, size_t errlen)
{
	sigset_t all, old;
	int r;

	if (S.db == NULL)
		return 0;
	/* Signals are the loop's: the thread starts with all of them
	 * blocked, so none is ever delivered to it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&S.thread, NULL, store_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		snprintf(err, errlen, "store: cannot start its thread: %s",
		    strerror(r));
		return -1;
	}
	S.started = true;
	return 0;
}

/* --- Loop side ------------------------------------------------------------ */

/* Hand the open batch to the thread if it will take it. */
static void
hand_over(void)
{
	if (S.open == NULL || !S.started)
		return;
	if (chan_try_send(S.in, S.open) != 0)
		return; /* full: stays open, tried again after a commit */
	S.open = NULL;
	S.next_seq++;
}

static void
flush_now(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	S.flush_armed = false;
	store_flush();
}

void
store_flush(void)
{
	if (S.flush_hook != NULL && S.open != NULL)
		S.flush_hook();
	hand_over();
}

void
store_set_flush_hook(void (*fn)(void))
{
	S.flush_hook = fn;
}

static void
done_ready(evutil_socket_t fd, short what, void *arg)
{
	void *items[4];
	uint64_t seq;

	(void)fd;
	(void)what;
	(void)arg;
	while (chan_drain(S.done, items, 4) > 0)
		;
	seq = atomic_load(&S.committed);
	store_flush(); /* a batch the channel had no room for */
	if (seq > S.reported) {
		S.reported = seq;
		if (S.hook != NULL)
			S.hook(seq, S.hook_arg);
	}
}

/* The open batch, opened if need be (and handed over after this round). */
static struct batch *
open_batch(void)
{
	if (S.open == NULL) {
		S.open = xcalloc(1, sizeof(*S.open));
		S.open->seq = S.next_seq;
	}
	if (!S.flush_armed && S.flush_ev != NULL) {
		event_active(S.flush_ev, 0, 0);
		S.flush_armed = true;
	}
	return S.open;
}

uint64_t
store_barrier(void)
{
	return S.db != NULL ? open_batch()->seq : 0;
}

static struct rec *
new_rec(enum store_table t, uint64_t id, const char *name)
{
	struct batch *b = open_batch();
	struct rec *r;

	if (b->n == b->cap) {
		b->cap = b->cap != 0 ? 2 * b->cap : 16;
		b->recs = xreallocarray(b->recs, b->cap, sizeof(*b->recs));
	}
	r = &b->recs[b->n++];
	memset(r, 0, sizeof(*r));
	r->table = (uint8_t)t;
	r->id = id;
	r->name = by_id(t) ? NULL : xstrdup(name != NULL ? name : "");
	atomic_fetch_add(&S.pending, 1);
	return r;
}

void
store_put(enum store_table t, uint64_t id, const char *name, const void *data,
    size_t len)
{
	struct rec *r;

	if (S.db == NULL)
		return;
	r = new_rec(t, id, name);
	r->op = REC_PUT;
	r->data = xmalloc(len > 0 ? len : 1);
	memcpy(r->data, data, len);
	r->len = len;
}

void
store_put_take(
    enum store_table t, uint64_t id, const char *name, void *data, size_t len)
{
	struct rec *r;

	if (S.db == NULL) {
		free(data);
		return;
	}
	r = new_rec(t, id, name);
	r->op = REC_PUT;
	r->data = data;
	r->len = len;
}

void
store_delete(enum store_table t, uint64_t id, const char *name)
{
	if (S.db == NULL)
		return;
	new_rec(t, id, name)->op = REC_DELETE;
}

uint64_t
store_seq(void)
{
	if (S.db == NULL)
		return 0;
	/* Nothing open: everything queued so far is in earlier batches. */
	return S.open != NULL ? S.open->seq : S.next_seq - 1;
}

uint64_t
store_committed(void)
{
	return S.db != NULL ? atomic_load(&S.committed) : 0;
}

void
store_set_max_size(uint64_t bytes)
{
	/* In pages of SQLite's default size; at least a few. */
	uint64_t pages = (bytes + 4095) / 4096;

	if (pages > 4294967294ULL)
		pages = 4294967294ULL;
	atomic_store(
	    &S.max_pages, bytes == 0 ? 0 : (long)(pages < 8 ? 8 : pages));
}

void
store_get_stats(struct store_stats *st)
{
	uint64_t total = 0, seen = 0, counts[HIST_BUCKETS];
	size_t i;

	memset(st, 0, sizeof(*st));
	if (S.db == NULL)
		return;
	st->commits = atomic_load(&S.commits);
	st->batches = atomic_load(&S.batches);
	st->records = atomic_load(&S.records);
	st->failures = atomic_load(&S.failures);
	st->pending = atomic_load(&S.pending);
	st->db_bytes = atomic_load(&S.db_bytes);
	st->commit_us_max = atomic_load(&S.lat_max);
	st->commit_us_sum = atomic_load(&S.lat_sum);
	for (i = 0; i < HIST_BUCKETS; i++)
		total += counts[i] = atomic_load(&S.lat[i]);
	for (i = 0; i < HIST_BUCKETS && total > 0; i++) {
		seen += counts[i];
		if (st->commit_us_p50 == 0 && seen * 2 >= total)
			st->commit_us_p50 = hist_value(i);
		if (seen * 100 >= total * 99) {
			st->commit_us_p99 = hist_value(i);
			break;
		}
	}
}

void
store_close(void)
{
	int t;

	if (S.started) {
		/* What is open goes last; the thread commits it and ends. */
		if (S.open != NULL && chan_send(S.in, S.open) == 0)
			S.open = NULL;
		chan_close(S.in);
		pthread_join(S.thread, NULL);
		S.started = false;
	}
	batch_free(S.open);
	S.open = NULL;
	if (S.flush_ev != NULL)
		event_free(S.flush_ev);
	S.flush_armed = false;
	if (S.done_ev != NULL)
		event_free(S.done_ev);
	S.flush_ev = S.done_ev = NULL;
	if (S.in != NULL)
		chan_free(S.in);
	if (S.done != NULL)
		chan_free(S.done);
	S.in = S.done = NULL;
	for (t = 0; t < STORE_NTABLES; t++) {
		sqlite3_finalize(S.put[t]);
		sqlite3_finalize(S.del[t]);
		S.put[t] = S.del[t] = NULL;
	}
	if (S.db != NULL)
		sqlite3_close(S.db);
	S.db = NULL;
	free(S.path);
	S.path = NULL;
	S.reported = 0;
	S.flush_hook = NULL;
}
