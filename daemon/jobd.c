/*
 * jobd: options, start-up and shutdown order.
 *
 * Start-up: parse options, set up logging, load the token and the TLS
 * certificate, libevent (threads first), the counters, the pool, the
 * scheduler and the runners, then bind the listeners and log "ready".
 * Shutdown (SIGTERM or SIGINT): close the listeners, refuse new jobs, give
 * running jobs the grace period, stop what still runs (outcome
 * interrupted), flush replies, exit.  A second signal cuts the grace
 * period short.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "conffile.h"
#include "counters.h"
#include "exec.h"
#include "httpd.h"
#include "ident.h"
#include "jobd.h"
#include "kinds.h"
#include "listener.h"
#include "log.h"
#include "ops.h"
#include "pool.h"
#include "proto.h"
#include "queue.h"
#include "retry.h"
#include "recur.h"
#include "sched.h"
#include "sdnotify.h"
#include "statedir.h"
#include "store.h"
#include "tls.h"
#include "xmalloc.h"

#define FINAL_FLUSH_MS 2000

struct jobd jobd;

static struct event *sig_term, *sig_int, *sig_hup, *sig_usr1;

/* Set while SIGHUP rebuilds the configuration: mistakes go to the log. */
static bool reloading;

static void opt_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * A mistake in an option or in the settings file: on stderr at start,
 * in the log with its priority on a reload.
 */
static void
opt_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (reloading)
		log_vmsg(LOG_LEVEL_ERR, fmt, ap);
	else {
		fputs("jobd: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
static struct event *drain_timer; /* after SIGUSR1 */

/* How often a draining jobd looks whether its jobs have all ended. */
#define DRAIN_CHECK_MS 100
static struct event *flush_timer;
static struct event *status_timer; /* STATUS= for the service manager */

/* How often the service manager hears what jobd is doing. */
#define STATUS_INTERVAL_S 5

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: jobd [OPTION]...\n"
	    "Run jobs submitted as JSON lines over a unix socket or TCP.\n"
	    "\n"
	    "  -s, --socket PATH        unix socket (default: "
	    "/run/jobd/jobd.sock as root,\n"
	    "                           else $XDG_RUNTIME_DIR/jobd/jobd.sock); "
	    "'none': no socket\n"
	    "  -l, --listen HOST:PORT   also listen on TCP (loopback only "
	    "without TLS;\n"
	    "                           port 0: any)\n"
	    "      --metrics-listen HOST:PORT\n"
	    "                           serve Prometheus metrics at "
	    "http://HOST:PORT/metrics\n"
	    "                           (loopback only; port 0: any)\n"
	    "  -w, --workers N          pool threads for in-process kinds "
	    "(default: CPUs)\n"
	    "  -r, --max-running N      jobs running at once (default: 4 x "
	    "CPUs)\n"
	    "      --max-queued N       jobs waiting to run (default: "
	    "1000000)\n"
	    "      --max-line BYTES     longest request line (default: 1M)\n"
	    "      --max-batch N        jobs per submit (default: 10000)\n"
	    "      --output-cap BYTES   stdout/stderr kept per job "
	    "(default: 1M each)\n"
	    "      --retain-count N     finished jobs kept (default: "
	    "100000)\n"
	    "      --retain-age DUR     ...for at most DUR (default: 7d)\n"
	    "      --shutdown-grace DUR time running jobs get on SIGTERM "
	    "(default: 10s)\n"
	    "      --state-dir DIR      where jobs, queues and recurring jobs "
	    "are kept (default: /var/lib/jobd\n"
	    "                           as root, else $XDG_STATE_HOME/jobd or "
	    "~/.local/state/jobd);\n"
	    "                           'none': nowhere (they last until "
	    "jobd stops)\n"
	    "      --durability MODE    full (default: a job is acknowledged "
	    "once on disk),\n"
	    "                           normal (survives a crash of jobd, "
	    "not of the machine),\n"
	    "                           off (in memory only; so is 'none' "
	    "for --state-dir)\n"
	    "      --store-max-size BYTES  cap the database: past it, "
	    "submits are refused\n"
	    "                           (default: 0, no cap)\n"
	    "      --token-file FILE    the token TCP clients must give "
	    "(needed for --listen)\n"
	    "      --gen-token FILE     write a new random token to FILE "
	    "(0600) and exit\n"
	    "      --auth-timeout DUR   time a TCP client has to "
	    "authenticate (default: 5s)\n"
	    "      --tls-cert FILE      TLS on TCP: the certificate chain "
	    "(PEM)\n"
	    "      --tls-key FILE       ...and its private key (PEM, not "
	    "encrypted)\n"
	    "      --tls-client-ca FILE TLS clients must present a "
	    "certificate this CA signed\n"
	    "      --socket-mode MODE   of the unix socket (default: 0600)\n"
	    "      --socket-group GROUP of the unix socket; its members may "
	    "connect\n"
	    "      --allow-users LIST   unix peers allowed besides root and "
	    "jobd's user\n"
	    "      --allow-groups LIST  ...and members of these groups\n"
	    "      --max-conns N        open connections (default: 16384; "
	    "the fd limit is raised)\n"
	    "      --idle-timeout DUR   close a connection with nothing "
	    "pending (default: 5m)\n"
	    "      --line-timeout DUR   time to finish a request line once "
	    "begun (default: 30s)\n"
	    "      --max-depth N        JSON nesting of a request (default: "
	    "32)\n"
	    "      --max-argv BYTES     an exec job's argv (default: 256k)\n"
	    "      --max-env BYTES      ...its environment (default: 64k)\n"
	    "      --max-stdin BYTES    ...its stdin (default: 1M)\n"
	    "      --max-unread BYTES   drop a client whose unread replies "
	    "pass this (default: 64M)\n"
	    "      --run-as USER        TCP clients' jobs run as USER when "
	    "jobd is root\n"
	    "                           (default: nobody)\n"
	    "      --admin-groups LIST  members may act on every job and "
	    "control queues\n"
	    "      --limit-as SIZE      exec jobs' address space (default "
	    "and maximum)\n"
	    "      --limit-cpu DUR      ...their CPU time\n"
	    "      --limit-nofile N     ...their open files (default: the "
	    "limit jobd got)\n"
	    "      --limit-nproc N      ...their user's processes\n"
	    "      --log-jobs yes|no    a line per job event at info (default: "
	    "no: at debug)\n"
	    "  -c, --config FILE        settings file "
	    "(default: " JOBD_CONFIG_FILE " if it\n"
	    "                           exists); 'none': no file\n"
	    "  -L, --log-level LEVEL    err, warning, notice, info, debug "
	    "(default: info)\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            the version\n"
	    "\n"
	    "Sizes take k, M or G; durations ms, s, m, h or d.  jobd runs in "
	    "the foreground\n"
	    "and logs to stderr with <N> priority prefixes (journald reads "
	    "them).\n");
}

static int
parse_count(
    const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end != arg) {
		if (*end == 'k' || *end == 'K')
			shift = 10;
		else if (*end == 'M')
			shift = 20;
		else if (*end == 'G')
			shift = 30;
		if (shift != 0)
			end++;
	}
	if (end == arg || *end != '\0' || errno != 0 || arg[0] == '-' ||
	    (v << shift >> shift) != v || (v << shift) < lo ||
	    (v << shift) > hi) {
		opt_error("%s: '%s' is not a number from %llu to %llu", opt,
		    arg, (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*out = v << shift;
	return 0;
}

static int
parse_duration(const char *opt, const char *arg, uint64_t *out)
{
	if (retry_parse_duration_ms(arg, out) != 0) {
		if (retry_duration_lacks_unit(arg))
			opt_error("%s: '%s' needs a unit (%sms, %ss, %sm, "
			          "%sh or %sd)",
			    opt, arg, arg, arg, arg, arg, arg);
		else
			opt_error("%s: '%s' is not a duration (500ms, 30s, "
			          "5m, 1h, 7d)",
			    opt, arg);
		return -1;
	}
	return 0;
}

static char *
default_socket(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *path;

	if (geteuid() == 0 || xdg == NULL || xdg[0] == '\0')
		return xstrdup("/run/jobd/jobd.sock");
	xasprintf(&path, "%s/jobd/jobd.sock", xdg);
	return path;
}

static char *
default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *path;

	if (geteuid() == 0)
		return xstrdup("/var/lib/jobd");
	if (xdg != NULL && xdg[0] == '/')
		xasprintf(&path, "%s/jobd", xdg);
	else if (home != NULL && home[0] == '/')
		xasprintf(&path, "%s/.local/state/jobd", home);
	else
		return xstrdup(""); /* nowhere to keep state */
	return path;
}

enum {
	OPT_MAX_QUEUED = 256,
	OPT_MAX_LINE,
	OPT_MAX_BATCH,
	OPT_OUTPUT_CAP,
	OPT_RETAIN_COUNT,
	OPT_RETAIN_AGE,
	OPT_SHUTDOWN_GRACE,
	OPT_STATE_DIR,
	OPT_TOKEN_FILE,
	OPT_GEN_TOKEN,
	OPT_AUTH_TIMEOUT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CLIENT_CA,
	OPT_SOCKET_MODE,
	OPT_SOCKET_GROUP,
	OPT_ALLOW_USERS,
	OPT_ALLOW_GROUPS,
	OPT_MAX_CONNS,
	OPT_IDLE_TIMEOUT,
	OPT_LINE_TIMEOUT,
	OPT_MAX_UNREAD,
	OPT_MAX_DEPTH,
	OPT_MAX_ARGV,
	OPT_MAX_ENV,
	OPT_MAX_STDIN,
	OPT_RUN_AS,
	OPT_ADMIN_GROUPS,
	OPT_LIMIT_AS,
	OPT_LIMIT_CPU,
	OPT_LIMIT_NOFILE,
	OPT_LIMIT_NPROC,
	OPT_LOG_JOBS,
	OPT_METRICS_LISTEN,
	OPT_DURABILITY,
	OPT_STORE_MAX_SIZE,
};

/*
 * A comma-separated list of user (or group) names or numeric ids into
 * *v; -1 after saying which entry is unknown.
 */
static int
parse_ids(
    const char *opt, const char *arg, bool groups, unsigned **v, size_t *n)
{
	char *copy = xstrdup(arg), *word, *save, *end;
	unsigned long id;
	struct passwd *pw;
	struct group *gr;
	int r = 0;

	for (word = strtok_r(copy, ",", &save); word != NULL && r == 0;
	     word = strtok_r(NULL, ",", &save)) {
		errno = 0;
		id = strtoul(word, &end, 10);
		if (*end != '\0' || end == word || errno != 0) {
			if (groups && (gr = getgrnam(word)) != NULL)
				id = gr->gr_gid;
			else if (!groups && (pw = getpwnam(word)) != NULL)
				id = pw->pw_uid;
			else {
				opt_error("%s: no %s \"%s\"", opt,
				    groups ? "group" : "user", word);
				r = -1;
				break;
			}
		}
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[(*n)++] = (unsigned)id;
	}
	free(copy);
	return r;
}

/* The TLS options make sense together, and only with --listen. */
static int
check_tls_options(const struct jobd_config *cfg)
{
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		opt_error("--tls-cert and --tls-key go together: "
		          "give both or neither");
		return -1;
	}
	if (cfg->tls_client_ca != NULL && cfg->tls_cert == NULL) {
		opt_error("--tls-client-ca needs --tls-cert and "
		          "--tls-key");
		return -1;
	}
	if (cfg->tls_cert != NULL && cfg->listen == NULL) {
		opt_error("--tls-cert is for the TCP listener: "
		          "give --listen too");
		return -1;
	}
	return 0;
}

static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"listen", required_argument, NULL, 'l'},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    {"workers", required_argument, NULL, 'w'},
    {"max-running", required_argument, NULL, 'r'},
    {"max-queued", required_argument, NULL, OPT_MAX_QUEUED},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"max-batch", required_argument, NULL, OPT_MAX_BATCH},
    {"output-cap", required_argument, NULL, OPT_OUTPUT_CAP},
    {"retain-count", required_argument, NULL, OPT_RETAIN_COUNT},
    {"retain-age", required_argument, NULL, OPT_RETAIN_AGE},
    {"shutdown-grace", required_argument, NULL, OPT_SHUTDOWN_GRACE},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"durability", required_argument, NULL, OPT_DURABILITY},
    {"store-max-size", required_argument, NULL, OPT_STORE_MAX_SIZE},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"gen-token", required_argument, NULL, OPT_GEN_TOKEN},
    {"auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
    {"allow-users", required_argument, NULL, OPT_ALLOW_USERS},
    {"allow-groups", required_argument, NULL, OPT_ALLOW_GROUPS},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"line-timeout", required_argument, NULL, OPT_LINE_TIMEOUT},
    {"max-unread", required_argument, NULL, OPT_MAX_UNREAD},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"max-argv", required_argument, NULL, OPT_MAX_ARGV},
    {"max-env", required_argument, NULL, OPT_MAX_ENV},
    {"max-stdin", required_argument, NULL, OPT_MAX_STDIN},
    {"run-as", required_argument, NULL, OPT_RUN_AS},
    {"admin-groups", required_argument, NULL, OPT_ADMIN_GROUPS},
    {"limit-as", required_argument, NULL, OPT_LIMIT_AS},
    {"limit-cpu", required_argument, NULL, OPT_LIMIT_CPU},
    {"limit-nofile", required_argument, NULL, OPT_LIMIT_NOFILE},
    {"limit-nproc", required_argument, NULL, OPT_LIMIT_NPROC},
    {"log-level", required_argument, NULL, 'L'},
    {"log-jobs", required_argument, NULL, OPT_LOG_JOBS},
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Settings before any option or file has a say. */
static void
config_defaults(struct jobd_config *cfg)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 1)
		ncpu = 1;
	*cfg = (struct jobd_config){
	    .workers = (unsigned)ncpu,
	    .max_running = 4 * (unsigned)ncpu,
	    .max_line = PROTO_MAX_LINE_DEFAULT,
	    .max_depth = PROTO_MAX_DEPTH_DEFAULT,
	    .max_queued = 1000000,
	    .max_batch = 10000,
	    .output_cap = JOB_DEFAULT_OUTPUT_CAP,
	    .conn_out_high = 8 * 1024 * 1024,
	    .retain_count = 100000,
	    .durability = STORE_FULL,
	    .retain_age_ms = 7ULL * 24 * 3600 * 1000,
	    .shutdown_grace_ms = 10000,
	    .auth_timeout_ms = 5000,
	    .max_conns = 16384,
	    .idle_timeout_ms = 300000,
	    .line_timeout_ms = 30000,
	    .conn_out_max = 64 * 1024 * 1024,
	    .max_argv = 256 * 1024,
	    .max_env = 64 * 1024,
	    .max_stdin = 1024 * 1024,
	    .socket_mode = 0600,
	    .socket_group = -1,
	    .log_level = LOG_LEVEL_INFO,
	};
}

/*
 * One setting, from the command line or the configuration file: 0, or -1
 * after saying what is wrong on stderr.
 */
static int
apply_option(struct jobd_config *cfg, int ch, const char *arg)
{
	uint64_t v;
	int r = 0;

	switch (ch) {
	case 's':
		free(cfg->socket_path);
		cfg->socket_path =
		    strcmp(arg, "none") == 0 ? xstrdup("") : xstrdup(arg);
		break;
	case 'l':
		free(cfg->listen);
		cfg->listen = xstrdup(arg);
		break;
	case OPT_METRICS_LISTEN:
		free(cfg->metrics_listen);
		cfg->metrics_listen =
		    strcmp(arg, "none") == 0 ? NULL : xstrdup(arg);
		break;
	case 'w':
		if ((r = parse_count("--workers", arg, 1, 1024, &v)) == 0)
			cfg->workers = (unsigned)v;
		break;
	case 'r':
		if ((r = parse_count("--max-running", arg, 1, 65536, &v)) == 0)
			cfg->max_running = (unsigned)v;
		break;
	case OPT_MAX_QUEUED:
		r = parse_count("--max-queued", arg, 1, 100000000, &v);
		cfg->max_queued = (size_t)v;
		break;
	case OPT_MAX_LINE:
		r = parse_count("--max-line", arg, 64, 1 << 30, &v);
		cfg->max_line = (size_t)v;
		break;
	case OPT_MAX_BATCH:
		r = parse_count("--max-batch", arg, 1, 1000000, &v);
		cfg->max_batch = (size_t)v;
		break;
	case OPT_STORE_MAX_SIZE:
		r = parse_count("--store-max-size", arg, 0, 1ULL << 50,
		    &cfg->store_max_size);
		break;
	case OPT_OUTPUT_CAP:
		r = parse_count("--output-cap", arg, 0, 1ULL << 30, &v);
		cfg->output_cap = (size_t)v;
		break;
	case OPT_RETAIN_COUNT:
		r = parse_count(
		    "--retain-count", arg, 0, 100000000, &cfg->retain_count);
		break;
	case OPT_RETAIN_AGE:
		r = parse_duration("--retain-age", arg, &cfg->retain_age_ms);
		break;
	case OPT_SHUTDOWN_GRACE:
		r = parse_duration(
		    "--shutdown-grace", arg, &cfg->shutdown_grace_ms);
		break;
	case OPT_TOKEN_FILE:
		free(cfg->token_file);
		cfg->token_file = xstrdup(arg);
		break;
	case OPT_AUTH_TIMEOUT:
		r = parse_duration(
		    "--auth-timeout", arg, &cfg->auth_timeout_ms);
		if (r == 0 && cfg->auth_timeout_ms == 0) {
			opt_error("--auth-timeout must be "
			          "more than 0");
			r = -1;
		}
		break;
	case OPT_TLS_CERT:
	case OPT_TLS_KEY:
	case OPT_TLS_CLIENT_CA: {
		char **slot = ch == OPT_TLS_CERT  ? &cfg->tls_cert
		              : ch == OPT_TLS_KEY ? &cfg->tls_key
		                                  : &cfg->tls_client_ca;

		free(*slot);
		*slot = xstrdup(arg);
		break;
	}
	case OPT_SOCKET_MODE: {
		char *end;
		unsigned long m = strtoul(arg, &end, 8);

		if (*end != '\0' || end == arg || m > 0777 ||
		    (m & 0600) != 0600) {
			opt_error("--socket-mode: '%s' is not an octal "
			          "mode with 0600 in it (e.g. 0660)",
			    arg);
			r = -1;
		}
		cfg->socket_mode = (unsigned)m;
		break;
	}
	case OPT_SOCKET_GROUP: {
		unsigned *g = NULL;
		size_t ng = 0;

		r = parse_ids("--socket-group", arg, true, &g, &ng);
		if (r == 0 && ng != 1) {
			opt_error("--socket-group: one "
			          "group");
			r = -1;
		}
		if (r == 0) {
			cfg->socket_group = (long)g[0];
			/* Its members are meant to get in. */
			cfg->allow_gids = xreallocarray(cfg->allow_gids,
			    cfg->nallow_gids + 1, sizeof(*cfg->allow_gids));
			cfg->allow_gids[cfg->nallow_gids++] = g[0];
		}
		free(g);
		break;
	}
	case OPT_ALLOW_USERS:
		r = parse_ids("--allow-users", arg, false, &cfg->allow_uids,
		    &cfg->nallow_uids);
		break;
	case OPT_ALLOW_GROUPS:
		r = parse_ids("--allow-groups", arg, true, &cfg->allow_gids,
		    &cfg->nallow_gids);
		break;
	case OPT_ADMIN_GROUPS:
		r = parse_ids("--admin-groups", arg, true, &cfg->admin_gids,
		    &cfg->nadmin_gids);
		break;
	case OPT_RUN_AS:
		free(cfg->run_as);
		cfg->run_as = xstrdup(arg);
		break;
	case OPT_LIMIT_AS:
		r = parse_count("--limit-as", arg, 1 << 20, UINT64_C(1) << 50,
		    &cfg->job_limit[EXEC_RLIMIT_AS]);
		break;
	case OPT_LIMIT_CPU:
		r = parse_duration("--limit-cpu", arg, &v);
		if (r == 0 && v < 1000) {
			opt_error("--limit-cpu: at least "
			          "1s");
			r = -1;
		}
		cfg->job_limit[EXEC_RLIMIT_CPU] = (v + 999) / 1000;
		break;
	case OPT_LIMIT_NOFILE:
		r = parse_count("--limit-nofile", arg, 8, 1 << 20,
		    &cfg->job_limit[EXEC_RLIMIT_NOFILE]);
		break;
	case OPT_LIMIT_NPROC:
		r = parse_count("--limit-nproc", arg, 1, 1 << 22,
		    &cfg->job_limit[EXEC_RLIMIT_NPROC]);
		break;
	case OPT_MAX_CONNS:
		r = parse_count("--max-conns", arg, 1, 1000000, &v);
		cfg->max_conns = (size_t)v;
		break;
	case OPT_IDLE_TIMEOUT:
	case OPT_LINE_TIMEOUT:
		r = parse_duration(ch == OPT_IDLE_TIMEOUT ? "--idle-timeout"
		                                          : "--line-timeout",
		    arg,
		    ch == OPT_IDLE_TIMEOUT ? &cfg->idle_timeout_ms
		                           : &cfg->line_timeout_ms);
		if (r == 0 &&
		    (ch == OPT_IDLE_TIMEOUT ? cfg->idle_timeout_ms
		                            : cfg->line_timeout_ms) == 0) {
			opt_error("a timeout must be more "
			          "than 0");
			r = -1;
		}
		break;
	case OPT_MAX_DEPTH:
		r = parse_count("--max-depth", arg, 2, 1000, &v);
		cfg->max_depth = (size_t)v;
		break;
	case OPT_MAX_ARGV:
	case OPT_MAX_ENV:
	case OPT_MAX_STDIN:
		r = parse_count(ch == OPT_MAX_ARGV  ? "--max-argv"
		                : ch == OPT_MAX_ENV ? "--max-env"
		                                    : "--max-stdin",
		    arg, 64, 1ULL << 30, &v);
		*(ch == OPT_MAX_ARGV    ? &cfg->max_argv
		    : ch == OPT_MAX_ENV ? &cfg->max_env
		                        : &cfg->max_stdin) = (size_t)v;
		break;
	case OPT_MAX_UNREAD:
		r = parse_count("--max-unread", arg, 1 << 20, 1ULL << 34, &v);
		cfg->conn_out_max = (size_t)v;
		break;
	case OPT_STATE_DIR:
		free(cfg->state_dir);
		cfg->state_dir =
		    strcmp(arg, "none") == 0 ? xstrdup("") : xstrdup(arg);
		break;
	case OPT_DURABILITY:
		if ((cfg->durability = store_durability_parse(arg)) < 0) {
			opt_error(
			    "--durability: '%s' is not full, normal or off",
			    arg);
			r = -1;
		}
		break;
	case OPT_LOG_JOBS:
		if (strcmp(arg, "yes") == 0 || strcmp(arg, "no") == 0)
			cfg->log_jobs = arg[0] == 'y';
		else {
			opt_error("--log-jobs: '%s' is not yes or "
			          "no",
			    arg);
			r = -1;
		}
		break;
	case 'L':
		if ((cfg->log_level = log_level_parse(arg)) < 0) {
			opt_error("--log-level: '%s' is not one of "
			          "err, warning, notice, info, debug",
			    arg);
			r = -1;
		}
		break;
	default:
		opt_error("unknown option");
		r = -1;
	}
	return r;
}

/* Defaults that depend on other settings, and checks across them. */
static int
check_address(const char *option, const char *hostport)
{
	struct addrinfo *ai;
	char err[512];

	if (hostport == NULL)
		return 0;
	if (listener_resolve(option, hostport, &ai, err, sizeof err) != 0) {
		opt_error("%s", err);
		return -1;
	}
	freeaddrinfo(ai);
	return 0;
}

static int
config_finish(struct jobd_config *cfg)
{
	int r = 0;

	if (r == 0 && cfg->socket_path == NULL)
		cfg->socket_path = default_socket();
	if (r == 0 && cfg->state_dir == NULL)
		cfg->state_dir = default_state_dir();
	if (r == 0 && cfg->socket_path[0] == '\0' && cfg->listen == NULL &&
	    getenv("LISTEN_FDS") == NULL) {
		opt_error("with --socket none, give --listen");
		r = -1;
	}
	if (r == 0)
		r = check_tls_options(cfg);
	/* What can be known of the addresses before binding them is a
	 * usage error (exit 2), as for any other bad option. */
	if (r == 0)
		r = check_address("--listen", cfg->listen);
	if (r == 0)
		r = check_address("--metrics-listen", cfg->metrics_listen);
	if (r == 0 && cfg->listen != NULL && cfg->token_file == NULL) {
		opt_error("--listen %s needs --token-file: TCP clients must "
		          "authenticate (jobd --gen-token FILE makes a token)",
		    cfg->listen);
		r = -1;
	}
	return r;
}

/* The command line, remembered: a reload reads the file again under it. */
static struct {
	struct cmdopt {
		int ch;
		char *arg;
	} * v;
	size_t n;
	char *config; /* --config, or NULL: the default file if it exists */
	struct conf *conf; /* the file as last read, or NULL */
} A;

static void
cmdline_free(void)
{
	size_t i;

	for (i = 0; i < A.n; i++)
		free(A.v[i].arg);
	free(A.v);
	free(A.config);
	conffile_free(A.conf);
	memset(&A, 0, sizeof A);
}

static bool
cmdline_has(int ch)
{
	size_t i;

	for (i = 0; i < A.n; i++) {
		if (A.v[i].ch == ch)
			return true;
	}
	return false;
}

/* A long option by its name (a configuration key); 0 if none. */
static int
option_by_key(const char *key)
{
	size_t i;

	for (i = 0; longopts[i].name != NULL; i++) {
		if (strcmp(longopts[i].name, key) == 0)
			return longopts[i].val;
	}
	return 0;
}

/* Settings that are actions or about the file itself, never keys. */
static bool
key_allowed(int ch)
{
	return ch != 0 && ch != 'h' && ch != 'V' && ch != OPT_GEN_TOKEN &&
	       ch != 'c';
}

static void config_free(struct jobd_config *cfg);

/* Would value do for option ch?  Tried on a scratch configuration. */
static bool
option_value_ok(int ch, const char *value)
{
	struct jobd_config scratch;
	bool ok;

	config_defaults(&scratch);
	ok = apply_option(&scratch, ch, value) == 0;
	config_free(&scratch);
	return ok;
}

/*
 * Build a whole configuration: defaults, then the file's global keys
 * (each one the command line does not give), then the command line.
 * *confp gets the file as read (NULL: none), for its queue sections.
 */
static int
config_build(struct jobd_config *cfg, struct conf **confp)
{
	const char *path = A.config != NULL ? A.config : JOBD_CONFIG_FILE;
	struct conf *conf = NULL;
	char err[512];
	size_t i;
	int ch;

	config_defaults(cfg);
	*confp = NULL;
	if (strcmp(path, "none") != 0 &&
	    (A.config != NULL || access(path, F_OK) == 0)) {
		if ((conf = conffile_read(path, err, sizeof err)) == NULL) {
			opt_error("%s", err);
			return -1;
		}
		for (i = 0; i < conf->n; i++) {
			const struct conf_item *it = &conf->items[i];

			if (it->queue != NULL)
				continue;
			ch = option_by_key(it->key);
			if (!key_allowed(ch)) {
				opt_error("%s:%d: unknown key \"%s\"",
				    conf->path, it->line, it->key);
				conffile_free(conf);
				return -1;
			}
			/* The command line wins, but a bad value in the file
			 * is an error all the same (it would be the day the
			 * option leaves the command line). */
			if (cmdline_has(ch)
			        ? !option_value_ok(ch, it->value)
			        : apply_option(cfg, ch, it->value) != 0) {
				opt_error("%s:%d: bad value for %s", conf->path,
				    it->line, it->key);
				conffile_free(conf);
				return -1;
			}
		}
	}
	for (i = 0; i < A.n; i++) {
		if (apply_option(cfg, A.v[i].ch, A.v[i].arg) != 0) {
			conffile_free(conf);
			return -1;
		}
	}
	if (config_finish(cfg) != 0) {
		conffile_free(conf);
		return -1;
	}
	*confp = conf;
	return 0;
}

/* One queue's settings from the file, checked before any is applied. */
struct queue_conf {
	const char *name;
	long limit, max_length, run_as; /* -1: not given */
	int64_t timeout_ms;             /* -1: not given */
	bool has_retry;
	struct retry_policy retry;
};

/* A plain number up to max. */
static bool
conf_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

/* A [queue NAME] setting into qc; -1 with err naming the file and line. */
static int
queue_conf_item(struct queue_conf *qc, const struct conf *conf,
    const struct conf_item *it, char *err, size_t errlen)
{
	static const char *const keys[] = {"limit", "max-length", "timeout",
	    "retries", "backoff", "run-as", NULL};
	const char *k = it->key, *v = it->value, *want = NULL;
	char msg[256];
	uint64_t n;
	size_t i;

	for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
		;
	if (keys[i] == NULL) {
		snprintf(err, errlen,
		    "%s:%d: unknown queue setting \"%s\" (limit, max-length, "
		    "timeout, retries, backoff, run-as)",
		    conf->path, it->line, k);
		return -1;
	}
	msg[0] = '\0';
	if (strcmp(k, "limit") == 0) {
		if (conf_uint(v, 65536, &n))
			qc->limit = (long)n;
		else
			want = "a number of jobs, 0 (no limit) to 65536";
	} else if (strcmp(k, "max-length") == 0) {
		if (conf_uint(v, jobd.cfg.max_queued, &n))
			qc->max_length = (long)n;
		else
			want = "a number of jobs, at most --max-queued";
	} else if (strcmp(k, "timeout") == 0) {
		if (retry_parse_duration_ms(v, &n) == 0 &&
		    n <= JOB_MAX_TIMEOUT_MS)
			qc->timeout_ms = (int64_t)n;
		else
			want = retry_duration_lacks_unit(v)
			           ? "a duration with its unit, as 30s or 5m"
			           : "a duration, as 30s or 5m, at most 30d";
	} else if (strcmp(k, "retries") == 0) {
		if (conf_uint(v, RETRY_MAX_ATTEMPTS - 1, &n)) {
			if (!qc->has_retry)
				retry_policy_default(&qc->retry);
			qc->has_retry = true;
			qc->retry.max_attempts = (uint32_t)n + 1;
		} else
			want = "a number of retries, 0 to 999";
	} else if (strcmp(k, "backoff") == 0) {
		if (!qc->has_retry)
			retry_policy_default(&qc->retry);
		qc->has_retry = true;
		if (retry_backoff_parse_spec(&qc->retry, v, msg, sizeof msg) !=
		    0)
			want = msg;
	} else if ((qc->run_as = ident_parse_user(v)) < 0)
		want = "a user that exists";
	else if (!ident_can_switch() && (uid_t)qc->run_as != geteuid())
		want = "jobd's own user: only root runs jobs as another";
	if (want == NULL)
		return 0;
	snprintf(err, errlen, "%s:%d: bad value \"%s\" for %s (%s)", conf->path,
	    it->line, v, k, want);
	return -1;
}

/*
 * The file's [queue NAME] sections: every one is checked, then all are
 * applied (a queue not in the file keeps what it has).  -1 with err.
 */
static int
config_queues(const struct conf *conf, char *err, size_t errlen)
{
	struct queue_conf *qcs = NULL;
	struct queue *q;
	size_t i, j, n = 0;
	int r = 0;

	for (i = 0; conf != NULL && i < conf->n && r == 0; i++) {
		const struct conf_item *it = &conf->items[i];

		if (it->queue == NULL)
			continue;
		for (j = 0; j < n && strcmp(qcs[j].name, it->queue) != 0; j++)
			;
		if (j == n) {
			qcs = xreallocarray(qcs, n + 1, sizeof(*qcs));
			qcs[n++] = (struct queue_conf){
			    it->queue, -1, -1, -1, -1, false, {0}};
		}
		r = queue_conf_item(&qcs[j], conf, it, err, errlen);
	}
	for (i = 0; i < n && r == 0; i++) {
		q = queue_get(qcs[i].name);
		if (qcs[i].limit >= 0)
			queue_set_concurrency(q, (unsigned)qcs[i].limit);
		if (qcs[i].max_length >= 0)
			queue_set_max_length(q, (size_t)qcs[i].max_length);
		if (qcs[i].timeout_ms >= 0)
			queue_set_timeout(q, (uint64_t)qcs[i].timeout_ms);
		if (qcs[i].has_retry)
			queue_set_retry(q, &qcs[i].retry);
		if (qcs[i].run_as >= 0)
			queue_set_run_as(q, qcs[i].run_as);
	}
	free(qcs);
	if (r == 0 && n > 0)
		sched_queues_changed();
	return r;
}

/* Free what a configuration owns (a reload's spare). */
static void
config_free(struct jobd_config *cfg)
{
	free(cfg->socket_path);
	free(cfg->listen);
	free(cfg->metrics_listen);
	free(cfg->state_dir);
	free(cfg->token_file);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_client_ca);
	free(cfg->allow_uids);
	free(cfg->allow_gids);
	free(cfg->admin_gids);
	free(cfg->run_as);
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * SIGHUP: read the file again.  The settings that can change while jobd
 * runs (log level, limits, timeouts, peers and admins, queue settings)
 * take effect for what comes next; a changed listener, TLS, state or
 * worker setting is noted as needing a restart.  On any error the old
 * configuration stays in force.  Everything here, and everything that
 * reads jobd.cfg, runs on the loop's thread: no lock is needed.
 */
static void
reload(void)
{
	struct jobd_config next, *cur = &jobd.cfg;
	struct conf *conf;
	char err[512];
	unsigned *swap;
	size_t nswap;
	int i, r;

	log_notice("SIGHUP: reading the configuration again");
	reloading = true;
	r = config_build(&next, &conf);
	reloading = false;
	if (r != 0) {
		config_free(&next);
		log_err("reload failed (see above); the old configuration "
		        "stays in force");
		return;
	}
	for (i = 0; i < EXEC_RLIMIT_N; i++) {
		if (cur->job_hard[i] != 0 &&
		    next.job_limit[i] > cur->job_hard[i]) {
			conffile_free(conf);
			config_free(&next);
			log_err(
			    "reload failed: a --limit-* is above jobd's own "
			    "hard limit; the old configuration stays in "
			    "force");
			return;
		}
	}
	if (config_queues(conf, err, sizeof err) != 0) {
		conffile_free(conf);
		config_free(&next);
		log_err("reload failed: %s; the old configuration stays in "
		        "force",
		    err);
		return;
	}
	if (!same_str(next.socket_path, cur->socket_path) ||
	    !same_str(next.listen, cur->listen) ||
	    !same_str(next.metrics_listen, cur->metrics_listen) ||
	    !same_str(next.state_dir, cur->state_dir) ||
	    next.durability != cur->durability ||
	    !same_str(next.tls_cert, cur->tls_cert) ||
	    !same_str(next.tls_key, cur->tls_key) ||
	    !same_str(next.tls_client_ca, cur->tls_client_ca) ||
	    !same_str(next.token_file, cur->token_file) ||
	    !same_str(next.run_as, cur->run_as) ||
	    next.workers != cur->workers ||
	    next.socket_mode != cur->socket_mode ||
	    next.socket_group != cur->socket_group)
		log_warn("reload: listener, TLS, token, state, --run-as and "
		         "worker settings change only with a restart");
	cur->log_level = next.log_level;
	cur->log_jobs = next.log_jobs;
	log_set_level((enum log_level)next.log_level);
	cur->max_running = next.max_running;
	cur->max_line = next.max_line;
	cur->max_depth = next.max_depth;
	cur->max_queued = next.max_queued;
	cur->max_batch = next.max_batch;
	cur->output_cap = next.output_cap;
	cur->retain_count = next.retain_count;
	cur->store_max_size = next.store_max_size;
	store_set_max_size(cur->store_max_size);
	cur->retain_age_ms = next.retain_age_ms;
	cur->shutdown_grace_ms = next.shutdown_grace_ms;
	cur->auth_timeout_ms = next.auth_timeout_ms;
	cur->max_conns = next.max_conns;
	cur->idle_timeout_ms = next.idle_timeout_ms;
	cur->line_timeout_ms = next.line_timeout_ms;
	cur->conn_out_max = next.conn_out_max;
	cur->max_argv = next.max_argv;
	cur->max_env = next.max_env;
	cur->max_stdin = next.max_stdin;
	memcpy(cur->job_limit, next.job_limit, sizeof cur->job_limit);
#define SWAP_LIST(v, n)          \
	do {                     \
		swap = cur->v;   \
		nswap = cur->n;  \
		cur->v = next.v; \
		cur->n = next.n; \
		next.v = swap;   \
		next.n = nswap;  \
	} while (0)
	SWAP_LIST(allow_uids, nallow_uids);
	SWAP_LIST(allow_gids, nallow_gids);
	SWAP_LIST(admin_gids, nadmin_gids);
#undef SWAP_LIST
	config_free(&next);
	conffile_free(A.conf);
	A.conf = conf;
	sched_queues_changed();
	counter_add(jobd.stats, COUNTER_config_reloads, 1);
	log_notice("configuration reloaded");
}

static int
parse_options(int argc, char **argv)
{
	char msg[512];
	int ch;

	while ((ch = getopt_long(
	            argc, argv, "s:l:w:r:L:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("jobd %s\n", PACKAGE_VERSION);
			exit(0);
		case OPT_GEN_TOKEN:
			if (auth_gen_token(optarg, msg, sizeof msg) != 0) {
				opt_error("--gen-token %s", msg);
				exit(1);
			}
			exit(0);
		case 'c':
			free(A.config);
			A.config = xstrdup(optarg);
			break;
		case '?':
			/* getopt said what was wrong; the rest is --help's. */
			fputs("Try 'jobd --help'.\n", stderr);
			return -1;
		default:
			A.v = xreallocarray(A.v, A.n + 1, sizeof(*A.v));
			A.v[A.n].ch = ch;
			A.v[A.n++].arg = xstrdup(optarg);
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		    "jobd: unexpected argument '%s'\nTry 'jobd --help'.\n",
		    argv[optind]);
		return -1;
	}
	return config_build(&jobd.cfg, &A.conf);
}

/* --- Shutdown
 * ------------------------------------------------------------------ */

static void
flush_over(evutil_socket_t fd, short what, void *arg)
{
	log_notice("clients did not read their last replies; exiting");
	event_base_loopbreak(jobd.base);
}

/* Nothing runs any more: say goodbye to the clients, then leave. */
static void
stopped(void)
{
	struct timeval tv = {FINAL_FLUSH_MS / 1000, 0};

	static bool once;
	sigset_t stop_signals;

	if (once)
		return;
	once = true;
	/* From here on a late signal must not kill us mid-cleanup: block
	 * them now, in the only thread that takes them (the pool's threads
	 * block every signal), before libevent later puts the default
	 * handlers back. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	/* The loop ends when the last connection closes, or at the timer. */
	ops_stop();
	conn_close_all(false);
	if (conn_count() == 0) {
		event_base_loopbreak(jobd.base);
		return;
	}
	flush_timer = evtimer_new(jobd.base, flush_over, NULL);
	evtimer_add(flush_timer, &tv);
}

void
jobd_stop(void)
{
	if (jobd.stopping) {
		log_notice("second stop request: ending running jobs now");
		sched_stop_now(stopped);
		return;
	}
	jobd.stopping = true;
	log_notice("stopping: %zu job(s) running, %zu queued or delayed%s",
	    sched_count_running(), sched_count_queued(),
	    store_enabled() ? " (kept for the next start)" : "");
	sdnotify_send("STOPPING=1\nSTATUS=stopping: %zu job(s) running",
	    sched_count_running());
	listener_close_all();
	httpd_close();
	sched_stop(jobd.cfg.shutdown_grace_ms, stopped);
}

/* The service manager's STATUS= line: what jobd is doing now. */
static void
status_text(char *buf, size_t len)
{
	snprintf(buf, len, "%zu running, %zu queued, %zu connection(s)",
	    sched_count_running(), sched_count_queued(), conn_count());
}

static void
status_update(evutil_socket_t fd, short what, void *arg)
{
	char buf[128];

	if (jobd.stopping)
		return;
	status_text(buf, sizeof buf);
	sdnotify_send("STATUS=%s", buf);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_notice("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	jobd_stop();
}

/*
 * Draining: stop once no job is running or can run now.  Jobs that wait
 * for later (a delay, a paused queue, a dependency) do not hold the stop:
 * with a store they stay for the next start, without one they are lost,
 * which the log says.
 */
static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	size_t left;

	if (jobd.stopping || sched_count_drainable(&left) > 0)
		return;
	if (left == 0)
		log_notice("drained: every job has ended");
	else if (store_enabled())
		log_notice("drained: %zu job(s) delayed, in paused queues or "
		           "waiting on others stay for the next start",
		    left);
	else
		log_warn("drained: %zu job(s) delayed, in paused queues or "
		         "waiting on others are lost (no store: see "
		         "--durability)",
		    left);
	event_del(drain_timer);
	jobd_stop();
}

static void
on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = {0, DRAIN_CHECK_MS * 1000};
	size_t left;

	if (jobd.stopping || jobd.draining)
		return;
	jobd.draining = true;
	log_notice("SIGUSR1: draining: no new jobs; %zu running and %zu "
	           "queued will finish, then jobd exits",
	    sched_count_running(),
	    sched_count_drainable(&left) - sched_count_running());
	sdnotify_send("STATUS=draining: %zu running, %zu queued",
	    sched_count_running(), sched_count_queued());
	drain_timer = event_new(jobd.base, -1, EV_PERSIST, drain_check, NULL);
	event_add(drain_timer, &tv);
	drain_check(-1, 0, NULL);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	if (!jobd.stopping)
		reload();
}

/*
 * jobd's own hard limits bound what jobs may ask (as root, jobd could set
 * more); a --limit-* above them is a mistake worth stopping for.
 */
static int
job_limits_init(char *err, size_t errlen)
{
	static const int resource[EXEC_RLIMIT_N] = {
	    RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_NPROC};
	static const char *const option[EXEC_RLIMIT_N] = {
	    "--limit-as", "--limit-cpu", "--limit-nofile", "--limit-nproc"};
	struct rlimit rl;
	int i;

	for (i = 0; i < EXEC_RLIMIT_N; i++) {
		if (getrlimit(resource[i], &rl) != 0 ||
		    rl.rlim_max == RLIM_INFINITY)
			continue;
		jobd.cfg.job_hard[i] = rl.rlim_max;
		if (jobd.cfg.job_limit[i] > rl.rlim_max) {
			snprintf(err, errlen,
			    "%s %llu: above jobd's own hard limit, %llu",
			    option[i],
			    (unsigned long long)jobd.cfg.job_limit[i],
			    (unsigned long long)rl.rlim_max);
			return -1;
		}
	}
	return 0;
}

/* Room for --max-conns connections plus jobs' pipes, within the hard limit. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want =
	    (rlim_t)jobd.cfg.max_conns + 4 * jobd.cfg.max_running + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	/* Jobs get the limit jobd was given, not the raised one. */
	jobd.cfg.nofile_soft = rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || want < rl.rlim_max
	                  ? want
	                  : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn(
		    "cannot raise the open file limit: %s", strerror(errno));
	if (rl.rlim_cur < want)
		log_warn("open file limit %llu: fewer than --max-conns %zu "
		         "connections may fit",
		    (unsigned long long)rl.rlim_cur, jobd.cfg.max_conns);
}

/* Batches up to seq are on disk: what waited for them goes on. */
static void
store_committed_hook(uint64_t seq, void *arg)
{
	(void)arg;
	sched_store_committed(seq);
	conn_release(seq);
}

/*
 * The store in the state directory, unless durability is off: opened,
 * checked, read back into the scheduler, then written by its thread.
 */
static int
open_store(char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (jobd.cfg.durability == STORE_OFF || statedir_path() == NULL)
		return 0;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", statedir_path(),
	        STORE_FILE) >= sizeof path) {
		snprintf(err, errlen, "state directory path too long");
		return -1;
	}
	if (store_open(path, (enum store_durability)jobd.cfg.durability,
	        jobd.base, store_committed_hook, NULL, err, errlen) != 0)
		return -1;
	store_set_flush_hook(sched_store_flush);
	store_set_max_size(jobd.cfg.store_max_size);
	if (sched_restore(err, errlen) != 0 || store_start(err, errlen) != 0)
		return -1;
	store_flush(); /* what the restore changed */
	log_info("store: %s, durability %s", path,
	    store_durability_name((enum store_durability)jobd.cfg.durability));
	return 0;
}

int
jobd_main(int argc, char **argv)
{
	struct event_config *ev_cfg;
	char err[512];
	int status = 1, ninherited;

	if (parse_options(argc, argv) != 0)
		return 2;
	log_init("jobd", (enum log_level)jobd.cfg.log_level);
	/* First: a second jobd on the same state must not touch anything. */
	if (jobd.cfg.state_dir[0] != '\0' &&
	    statedir_open(jobd.cfg.state_dir, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	if (job_limits_init(err, sizeof err) != 0) {
		log_err("%s", err);
		statedir_close();
		return 1;
	}
	raise_fd_limit();
	/* Descriptors jobd was handed must not reach other users' jobs. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (ident_init(err, sizeof err) != 0) {
		log_err("%s", err);
		statedir_close();
		return 1;
	}
	if (jobd.cfg.token_file != NULL &&
	    auth_load(jobd.cfg.token_file, err, sizeof err) != 0) {
		log_err("%s", err);
		statedir_close();
		return 1;
	}
	if (jobd.cfg.tls_cert != NULL &&
	    tls_init(jobd.cfg.tls_cert, jobd.cfg.tls_key,
	        jobd.cfg.tls_client_ca, err, sizeof err) != 0) {
		log_err("%s", err);
		auth_free();
		statedir_close();
		return 1;
	}
	/* Writes to a client that went away (TLS writes too) fail with
	 * EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		log_err("libevent: no thread support");
		return 1;
	}
	jobd.started_ms = now_ms();
	/* Precise timers: the coarse monotonic clock libevent would pick
	 * lets a delay or a backoff end a few milliseconds early. */
	if ((ev_cfg = event_config_new()) != NULL) {
		event_config_set_flag(ev_cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		jobd.base = event_base_new_with_config(ev_cfg);
		event_config_free(ev_cfg);
	}
	jobd.counters = counters_create(jobd.cfg.workers + 8);
	jobd.stats = counters_slot(jobd.counters);
	if (jobd.base == NULL || jobd.counters == NULL) {
		log_err("cannot set up the event loop");
		return 1;
	}
	/* Before any thread exists: it edits the environment. */
	sdnotify_init(jobd.base);
	if ((jobd.pool = pool_create(jobd.cfg.workers)) == NULL) {
		log_err("cannot start %u workers: %s", jobd.cfg.workers,
		    strerror(errno));
		return 1;
	}
	sched_init();
	ops_init();
	if (recur_init(err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (kinds_init() != 0) {
		log_err("cannot set up the completion channel: %s",
		    strerror(errno));
		goto out;
	}
	/* The store's queues and jobs, then jobd.conf's queue sections on
	 * top of what the store had (and before: restored jobs take their
	 * queues' defaults as at submit). */
	if (config_queues(A.conf, err, sizeof err) != 0) {
		log_err("%s", err);
		status = 2; /* a bad file, as for the other keys */
		goto out;
	}
	if (open_store(err, sizeof err) != 0 ||
	    config_queues(A.conf, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* Sockets from the service manager replace --socket and --listen. */
	if ((ninherited = listener_inherited(err, sizeof err)) < 0 ||
	    (ninherited == 0 && jobd.cfg.socket_path[0] != '\0' &&
	        listener_unix(jobd.cfg.socket_path, err, sizeof err) != 0) ||
	    (ninherited == 0 && jobd.cfg.listen != NULL &&
	        listener_tcp(jobd.cfg.listen, err, sizeof err) != 0) ||
	    (jobd.cfg.metrics_listen != NULL &&
	        httpd_listen(jobd.cfg.metrics_listen, err, sizeof err) != 0)) {
		log_err("%s", err);
		goto out;
	}
	sig_term = evsignal_new(jobd.base, SIGTERM, on_signal, NULL);
	sig_int = evsignal_new(jobd.base, SIGINT, on_signal, NULL);
	sig_hup = evsignal_new(jobd.base, SIGHUP, on_hup, NULL);
	sig_usr1 = evsignal_new(jobd.base, SIGUSR1, on_usr1, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	evsignal_add(sig_hup, NULL);
	evsignal_add(sig_usr1, NULL);
	log_notice("jobd %s ready: pid %d, %u workers, up to %u jobs at once",
	    PACKAGE_VERSION, (int)getpid(), jobd.cfg.workers,
	    jobd.cfg.max_running);
	/* Listeners bound, workers up: the service manager may go on. */
	if (sdnotify_enabled()) {
		struct timeval tv = {STATUS_INTERVAL_S, 0};

		status_timer =
		    event_new(jobd.base, -1, EV_PERSIST, status_update, NULL);
		event_add(status_timer, &tv);
		status_text(err, sizeof err);
		sdnotify_send("READY=1\nSTATUS=%s", err);
	}

	event_base_dispatch(jobd.base);
	log_notice("stopped");
	status = 0;
	event_free(sig_term);
	event_free(sig_int);
	event_free(sig_hup);
	event_free(sig_usr1);
	if (drain_timer != NULL)
		event_free(drain_timer);
	if (status_timer != NULL)
		event_free(status_timer);
	if (flush_timer != NULL)
		event_free(flush_timer);
out:
	listener_close_all();
	httpd_close();
	conn_close_all(true);
	ops_free();
	recur_free();
	pool_free(jobd.pool); /* nothing is queued: every job has ended */
	sdnotify_free();
	/* The last changes (the final states of jobs) are committed. */
	store_flush();
	store_close();
	sched_free();
	statedir_close();
	kinds_free();
	counters_free(jobd.counters);
	event_base_free(jobd.base);
	config_free(&jobd.cfg);
	cmdline_free();
	ident_free();
	auth_free();
	tls_free();
	libevent_global_shutdown();
	return status;
}
