/*
 * recur: recurring jobs, a job spec submitted on a cron schedule.
 *
 * An entry has a name, a cron expression (lib/cron.h) read in a time zone
 * (the daemon's local zone unless the entry names one), and the spec of
 * the job each firing submits.  By default a firing is skipped while the
 * job of the previous one has not finished (overlap "skip"; "allow" lets
 * them run side by side).  Entries and their last firing are kept in the
 * state directory (cron.json), so they survive a restart; firings missed
 * while jobd was down are skipped, or, for an entry with catch_up, run
 * once at start.  Loop thread only.
 */
#ifndef JOBD_RECUR_H
#define JOBD_RECUR_H

#include <jansson.h>
#include <stddef.h>

struct conn_cred;

#define RECUR_MAX 10000 /* entries */

/* Load the entries kept in the state directory; -1 with a message. */
int recur_init(char *err, size_t errlen);
void recur_free(void);

/*
 * The cron op's actions, from the request body.  Each returns the reply's
 * payload to add (a new reference) or NULL with *code (PROTO_E_*) and a
 * message set.
 *   add:    name, schedule, job, and optional tz, overlap, catch_up,
 *           replace -> {"cron": ENTRY}
 *   list:   -> {"cron": [ENTRY...]} by name
 *   remove: name -> {"cron": ENTRY} as it was
 *   run:    name -> {"cron": ENTRY, "job": SUMMARY}: a firing now, which
 *           like a scheduled one is skipped while the last job runs
 *           (overlap "skip"): then "skipped": true and "job" is that job
 */
json_t *recur_add(const json_t *req, const struct conn_cred *who, int *code,
    char *err, size_t errlen);
json_t *recur_list(const struct conn_cred *who);
json_t *recur_remove(const json_t *req, const struct conn_cred *who, int *code,
    char *err, size_t errlen);
json_t *recur_run(const json_t *req, const struct conn_cred *who, int *code,
    char *err, size_t errlen);

#endif
