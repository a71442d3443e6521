/*
 * store: jobd's durable state, an SQLite database in WAL mode written by
 * one thread with group commit.
 *
 * The database (STATE_DIR/jobd.db) holds tables of records: jobs (their
 * specs, their states and their output) by job id, queues and other
 * settings ("meta") by name.  A
 * record's value is opaque bytes to the store (JSON text, in practice).
 *
 * At start, on the event loop's thread: store_open() opens or creates the
 * database and checks it (a file that is not a database, or a damaged
 * one, is an error that names it: never silently started afresh), then
 * store_load() reads the tables back, then store_start() starts the store
 * thread.  From then on the loop only queues changes: store_put() and
 * store_delete() add records to the open batch, which is handed to the
 * thread through a channel when the loop has finished its current round
 * of events.  The thread takes every batch waiting, commits them in one
 * transaction (group commit) and tells the loop through an eventfd, which
 * calls the commit hook with the number of the last batch committed.  A
 * reply that must not go out before some change is durable is held until
 * store_committed() reaches the store_seq() that change went into.
 *
 * A commit that fails (disk full, read-only file system, I/O error) is
 * rolled back and retried, with a growing delay up to a few seconds, with
 * everything that arrived meanwhile: nothing queued is dropped.  Until it
 * succeeds store_available() is false and store_error() says why.
 *
 * Durability: full (synchronous=FULL: a committed batch survives power
 * loss), normal (synchronous=NORMAL in WAL mode: it survives a crash of
 * jobd, and power loss may take the last commits back).  Without a store
 * (durability off) jobd keeps everything in memory and none of this runs.
 */
#ifndef JOBD_STORE_H
#define JOBD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

enum store_durability {
	STORE_OFF,
	STORE_NORMAL,
	STORE_FULL,
};

enum store_table {
	STORE_SPECS,  /* by id: a job as submitted (written once) */
	STORE_JOBS,   /* by id: where a job stands (on every change) */
	STORE_OUTPUT, /* by id: the output of its last attempt */
	STORE_QUEUES, /* by name: a queue's settings */
	STORE_META,   /* by name: anything else (the next job id) */
	STORE_NTABLES,
};

#define STORE_FILE "jobd.db"

/* "off", "normal", "full" <-> enum; -1 for an unknown name. */
int store_durability_parse(const char *name);
const char *store_durability_name(enum store_durability d);

/* Called on the loop's thread after batches up to seq were committed. */
typedef void (*store_commit_fn)(uint64_t seq, void *arg);

/*
 * Open (create) path with durability d (not STORE_OFF); commits will be
 * reported to fn on base's loop.  -1 with a sentence in err.
 */
int store_open(const char *path, enum store_durability d,
    struct event_base *base, store_commit_fn fn, void *arg, char *err,
    size_t errlen);
/*
 * Before store_start(): call fn for every record of table t, in key
 * order (id for jobs and output, name for the others); key is the id or
 * the name (id 0).  fn returns 0 to go on, -1 to stop; store_load()
 * returns -1 (err set) if a read failed or fn stopped it.
 */
typedef int (*store_load_fn)(
    uint64_t id, const char *name, const char *data, size_t len, void *arg);
int store_load(
    enum store_table t, store_load_fn fn, void *arg, char *err, size_t errlen);
/* Start the store thread; -1 with err. */
int store_start(char *err, size_t errlen);
/*
 * Commit what is queued, stop the thread and close the database.  Safe
 * to call when nothing was opened.
 */
void store_close(void);
/* Is a store open (durability not off)? */
bool store_enabled(void);

/*
 * Queue a change: the value of id (jobs, output) or name (queues, meta)
 * becomes len bytes of data (copied), or the record is deleted.  No-ops
 * without a store.
 */
void store_put(enum store_table t, uint64_t id, const char *name,
    const void *data, size_t len);
/* store_put() of a malloc'd buffer, which the store frees. */
void store_put_take(
    enum store_table t, uint64_t id, const char *name, void *data, size_t len);
void store_delete(enum store_table t, uint64_t id, const char *name);

/*
 * The batch changes go into now (the last one handed over if none is
 * open: no new batch is made), and the last one committed (0: none, or
 * no store).
 */
uint64_t store_seq(void);
uint64_t store_committed(void);
/*
 * The batch this round's changes go into, opened (empty if need be) so
 * that it is committed and reported: what waits for it is released even
 * if nothing is written.  0 without a store.
 */
uint64_t store_barrier(void);
/* Hand the open batch to the thread now rather than after this round. */
void store_flush(void);
/*
 * Called just before the open batch is handed over at the end of a
 * round: the last chance to add this round's changes (jobd writes the
 * jobs that changed here, once each however often they changed).
 */
void store_set_flush_hook(void (*fn)(void));

/* false after a failed commit, until a retry succeeds. */
bool store_available(void);
/* Why the last commit failed ("" if the last one succeeded). */
void store_error(char *buf, size_t len);

struct store_stats {
	uint64_t commits;       /* transactions committed */
	uint64_t batches;       /* batches in them (one per loop round) */
	uint64_t records;       /* records written */
	uint64_t failures;      /* commits that failed (and were retried) */
	uint64_t commit_us_p50; /* latency of a commit, fsync included */
	uint64_t commit_us_p99;
	uint64_t commit_us_max;
	uint64_t commit_us_sum;
	uint64_t pending;  /* records queued and not yet committed */
	uint64_t db_bytes; /* the database file, with its WAL */
};
void store_get_stats(struct store_stats *st);

/*
 * Cap the database file at bytes (0: no cap), as --store-max-size does:
 * a commit that would grow it further fails as on a full disk, and
 * succeeds again once the cap is raised or retention has made room.
 * Applied by the store thread before its next commit.
 */
void store_set_max_size(uint64_t bytes);

#endif
