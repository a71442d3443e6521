/*
 * jobd: the daemon's shared state and settings.
 *
 * One struct jobd exists, `jobd`, owned by the event loop's thread; other
 * threads touch only what is marked as theirs (the pool, the completion
 * channel, their counters slots).
 */
#ifndef JOBD_JOBD_H
#define JOBD_JOBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"

struct event_base;
struct pool;
struct chan;
struct counters;
struct counters_slot;

struct jobd_config {
	char *socket_path;    /* NULL: no unix socket */
	char *listen;         /* HOST:PORT for TCP, or NULL */
	char *metrics_listen; /* HOST:PORT for HTTP /metrics, or NULL */
	unsigned workers;     /* pool threads */
	unsigned max_running; /* jobs running at once */
	size_t max_line;      /* request line limit, bytes */
	size_t max_depth;     /* JSON nesting limit */
	size_t max_queued;    /* jobs queued or delayed */
	size_t max_batch;     /* jobs per submit */
	size_t output_cap;    /* bytes kept per stream per job */
	size_t conn_out_high; /* stop reading a client above this backlog */
	uint64_t retain_count;
	uint64_t retain_age_ms;
	uint64_t shutdown_grace_ms;
	char *state_dir;          /* "": none */
	char *token_file;         /* TCP clients' token, or NULL */
	uint64_t auth_timeout_ms; /* to authenticate after connecting */
	char *tls_cert;           /* PEM chain: TCP is TLS; or NULL */
	char *tls_key;            /* ...and its key */
	char *tls_client_ca;      /* TLS clients need a cert it signed */
	size_t max_conns;
	uint64_t idle_timeout_ms; /* a connection with nothing pending */
	uint64_t line_timeout_ms; /* to finish a line once begun */
	size_t conn_out_max;      /* unread replies past this: dropped */
	size_t max_argv, max_env, max_stdin; /* bytes of an exec job's */
	unsigned socket_mode;                /* of the unix socket */
	long socket_group;                   /* its group, or -1 */
	unsigned *allow_uids; /* unix peers let in, besides root and us */
	size_t nallow_uids;
	unsigned *allow_gids; /* ...and members of these groups */
	size_t nallow_gids;
	unsigned *admin_gids; /* members may act on every job */
	size_t nadmin_gids;
	char *run_as; /* TCP clients' jobs run as (root jobd), or NULL */
	/* Exec jobs' resource limits: default and most a job may ask. */
	uint64_t job_limit[EXEC_RLIMIT_N]; /* 0: none */
	uint64_t nofile_soft;              /* the fd limit jobd started with */
	uint64_t job_hard[EXEC_RLIMIT_N];  /* jobd's hard limits; 0: none */
	int log_level;
	bool log_jobs;  /* a line per job event at info (else at debug) */
	int durability; /* enum store_durability */
	uint64_t store_max_size; /* bytes of database; 0: no cap */
};

struct jobd {
	struct jobd_config cfg;
	struct event_base *base;
	struct pool *pool;
	struct counters *counters;
	struct counters_slot *stats; /* the loop thread's slot */
	uint64_t started_ms;
	bool stopping;
	bool draining; /* SIGUSR1: no new jobs; stop once all have ended */
};

extern struct jobd jobd;

int jobd_main(int argc, char **argv);
/* Begin a graceful stop (as on SIGTERM). */
void jobd_stop(void);

#endif
