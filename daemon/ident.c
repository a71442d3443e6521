/*
 * ident: identities, permissions and the users jobs run as (see ident.h).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "ident.h"
#include "jobd.h"
#include "xmalloc.h"

/* How long a user's entry is trusted before it is looked up again. */
#define USER_TTL_S 60
#define USER_CACHE_MAX 64

struct user {
	uid_t uid;
	gid_t gid;
	char *name, *home;
	gid_t *groups;
	int ngroups;
	time_t fetched;
	bool missing; /* no such user (a miss is remembered too) */
};

static struct {
	struct user cache[USER_CACHE_MAX];
	size_t n;
	struct conn_cred tcp;
	bool can_switch;
} I;

static bool
listed(const unsigned *v, size_t n, unsigned x)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i] == x)
			return true;
	}
	return false;
}

static void
user_clear(struct user *u)
{
	free(u->name);
	free(u->home);
	free(u->groups);
	memset(u, 0, sizeof *u);
}

/* Fill u from the system's databases; -1 if uid has no entry. */
static int
user_fetch(struct user *u, uid_t uid)
{
	struct passwd pw, *res = NULL;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	char *buf;
	int n;

	if (size < 16384)
		size = 16384;
	buf = xmalloc((size_t)size);
	if (getpwuid_r(uid, &pw, buf, (size_t)size, &res) != 0 || res == NULL) {
		free(buf);
		return -1;
	}
	u->uid = uid;
	u->gid = pw.pw_gid;
	u->name = xstrdup(pw.pw_name);
	u->home = xstrdup(pw.pw_dir);
	n = 32;
	u->groups = xreallocarray(NULL, (size_t)n, sizeof(gid_t));
	while (getgrouplist(pw.pw_name, pw.pw_gid, u->groups, &n) == -1) {
		if (n > 65536) {
			n = 0; /* a database gone wrong: no extra groups */
			break;
		}
		n = n < 32 ? 64 : n * 2;
		u->groups = xreallocarray(u->groups, (size_t)n, sizeof(gid_t));
	}
	u->ngroups = n;
	u->fetched = time(NULL);
	free(buf);
	return 0;
}

/* uid's entry, looked up again when stale; NULL if there is none. */
static struct user *
user_get(uid_t uid)
{
	time_t now = time(NULL);
	struct user *u = NULL, *oldest = NULL;
	size_t i;

	for (i = 0; i < I.n; i++) {
		if (I.cache[i].uid == uid) {
			u = &I.cache[i];
			break;
		}
		if (oldest == NULL || I.cache[i].fetched < oldest->fetched)
			oldest = &I.cache[i];
	}
	if (u != NULL && now - u->fetched < USER_TTL_S && now >= u->fetched)
		return u->missing ? NULL : u;
	if (u == NULL)
		u = I.n < USER_CACHE_MAX ? &I.cache[I.n++] : oldest;
	user_clear(u);
	if (user_fetch(u, uid) != 0) {
		u->uid = uid;
		u->missing = true;
		u->fetched = now;
		return NULL;
	}
	return u;
}

bool
ident_known_uid(unsigned long uid)
{
	return uid < (uid_t)-1 && user_get((uid_t)uid) != NULL;
}

bool
ident_uid_admin(uid_t uid)
{
	struct user *u;
	int i;

	if (uid == 0 || uid == geteuid())
		return true;
	if ((u = user_get(uid)) == NULL)
		return false;
	for (i = 0; i < u->ngroups; i++) {
		if (listed(jobd.cfg.admin_gids, jobd.cfg.nadmin_gids,
		        u->groups[i]))
			return true;
	}
	return false;
}

long
ident_parse_user(const char *s)
{
	struct passwd *pw;
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end != s && *end == '\0' && errno == 0)
		return ident_known_uid(v) ? (long)v : -1;
	if ((pw = getpwnam(s)) != NULL && pw->pw_uid != (uid_t)-1)
		return (long)pw->pw_uid;
	return -1;
}

const char *
ident_user_name(uid_t uid)
{
	struct user *u = user_get(uid);

	return u != NULL ? u->name : NULL;
}

bool
ident_peer_in_groups(int fd, gid_t gid, const unsigned *gids, size_t n)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof small;
	bool in = listed(gids, n, gid);
	size_t i;

	if (in || n == 0)
		return in;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
		if (errno != ERANGE)
			return false;
		groups = xmalloc(len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) !=
		    0) {
			free(groups);
			return false;
		}
	}
	for (i = 0; i < len / sizeof(gid_t) && !in; i++)
		in = listed(gids, n, groups[i]);
	if (groups != small)
		free(groups);
	return in;
}

bool
ident_unix_admin(int fd, uid_t uid, gid_t gid)
{
	return uid == 0 || uid == geteuid() ||
	       ident_peer_in_groups(
	           fd, gid, jobd.cfg.admin_gids, jobd.cfg.nadmin_gids);
}

int
ident_init(char *err, size_t errlen)
{
	struct user *u;
	long uid;

	I.can_switch = geteuid() == 0;
	if (jobd.cfg.run_as != NULL) {
		if ((uid = ident_parse_user(jobd.cfg.run_as)) < 0) {
			snprintf(err, errlen, "--run-as %s: no such user",
			    jobd.cfg.run_as);
			return -1;
		}
		if (!I.can_switch && (uid_t)uid != geteuid()) {
			snprintf(err, errlen,
			    "--run-as %s: only a jobd running as root can "
			    "run jobs as another user",
			    jobd.cfg.run_as);
			return -1;
		}
	} else if (I.can_switch) {
		/* Never root unless configured: TCP jobs run as nobody. */
		uid = ident_parse_user("nobody");
		if (uid < 0)
			uid = 65534;
	} else
		uid = (long)geteuid();
	I.tcp.tcp = true;
	I.tcp.uid = (uid_t)uid;
	I.tcp.gid = getegid();
	I.tcp.admin = ident_uid_admin((uid_t)uid);
	if ((u = user_get((uid_t)uid)) != NULL)
		I.tcp.gid = u->gid;
	return 0;
}

void
ident_free(void)
{
	while (I.n > 0)
		user_clear(&I.cache[--I.n]);
}

const struct conn_cred *
ident_tcp(void)
{
	return &I.tcp;
}

bool
ident_can_switch(void)
{
	return I.can_switch;
}

int
ident_job_user(uid_t owner, long run_as, struct exec_creds *creds,
    const char **name, const char **home, char *err, size_t errlen)
{
	uid_t uid = owner;
	struct user *u;

	memset(creds, 0, sizeof *creds);
	*name = *home = NULL;
	if (run_as >= 0)
		uid = (uid_t)run_as;
	if (!I.can_switch)
		uid = geteuid();
	if ((u = user_get(uid)) == NULL) {
		if (!I.can_switch)
			return 0; /* jobd's own user, without an entry */
		snprintf(err, errlen,
		    "cannot run as uid %lu: no such user in the system's "
		    "user database",
		    (unsigned long)uid);
		return -1;
	}
	*name = u->name;
	*home = u->home;
	/* jobd's own user (root's jobs under a root jobd): no switch. */
	if (I.can_switch && uid != geteuid()) {
		creds->change = true;
		creds->uid = uid;
		creds->gid = u->gid;
		creds->groups = u->groups;
		creds->ngroups = (size_t)u->ngroups;
	}
	return 0;
}
