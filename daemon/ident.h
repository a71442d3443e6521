/*
 * ident: who a client is, what it may touch, and whom its jobs run as.
 *
 * Every job has an owner, a uid: a unix client's own (SO_PEERCRED), or
 * for TCP clients the --run-as user.  A client sees, waits on, cancels,
 * kicks and discards only the jobs it owns, unless it is an admin: root,
 * jobd's own user, or a member of an --admin-group.  Queue control and
 * other users' recurring jobs need an admin too.
 *
 * When jobd runs as root, an exec job runs as its owner (or, if an admin
 * or a TCP client submitted it, as its queue's run_as user: a unix user's
 * own jobs always run as that user, or any allowed user could run code as
 * the queue's), with that user's groups, HOME, USER and LOGNAME;
 * otherwise every job runs as jobd's user.  Users are looked up in the
 * system's databases and the answers kept for a minute.
 *
 * Everything here runs on the event loop's thread.
 */
#ifndef JOBD_IDENT_H
#define JOBD_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conn.h"

struct exec_creds;

/*
 * Set up from the configuration: resolve --run-as and --admin-group.  -1
 * with a message in err (an unknown user, or --run-as without root).
 */
int ident_init(char *err, size_t errlen);
void ident_free(void);

/*
 * Is the unix peer on fd, of primary group gid, in one of gids, by its
 * primary or supplementary groups (SO_PEERGROUPS)?
 */
bool ident_peer_in_groups(int fd, gid_t gid, const unsigned *gids, size_t n);
/* Is the unix peer on fd (uid, gid) an admin? */
bool ident_unix_admin(int fd, uid_t uid, gid_t gid);
/* The identity TCP clients get once they authenticate. */
const struct conn_cred *ident_tcp(void);
/* May who act on a job owned by owner? */
static inline bool
ident_may(const struct conn_cred *who, uid_t owner)
{
	return who->admin || who->uid == owner;
}
/* Can jobd run jobs as other users (it runs as root)? */
bool ident_can_switch(void);

/*
 * The user an exec job owned by owner runs as (run_as >= 0: its queue's
 * override): creds filled when jobd switches users (creds->groups points
 * into a cache entry, valid until the next ident call), and the user's
 * name and home directory for the environment (NULL if unknown).  -1
 * with a message if the user is unknown to the system.
 */
int ident_job_user(uid_t owner, long run_as, struct exec_creds *creds,
    const char **name, const char **home, char *err, size_t errlen);

/* A user name or uid known to the system; -1 if it is not. */
long ident_parse_user(const char *s);
bool ident_known_uid(unsigned long uid);
/* Is uid an admin (root, jobd's user, a member of --admin-groups)? */
bool ident_uid_admin(uid_t uid);
/* A user's name, or NULL (cached). */
const char *ident_user_name(uid_t uid);

#endif
