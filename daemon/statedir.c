/*
 * statedir: the directory jobd keeps its state in (see statedir.h).
 *
 * The lock is an flock() on DIR/lock, held by an open descriptor for the
 * daemon's life: the kernel drops it when the process dies however it
 * dies, so a stale lock never keeps a restarted jobd out.  The file holds
 * the owner's pid, for the error message of a second jobd.
 *
 * Files are replaced whole: written to NAME.tmp, fsync'd, renamed over
 * NAME, and the directory fsync'd, so a crash leaves the old file or the
 * new one, never a mix.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "statedir.h"
#include "xmalloc.h"

#define STATE_FILE_MAX (64 * 1024 * 1024)
#define LOCK_WAIT_MS 5000

static struct {
	char *dir;
	int dir_fd;
	int lock_fd;
} D = {NULL, -1, -1};

/* mkdir -p with mode for what it creates. */
static int
make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (strlen(path) >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * Take the lock.  If it is held but the jobd that wrote its pid is gone,
 * the holder is a process that jobd forked just before it died, between
 * its fork and its exec (which closes the descriptor): wait for that,
 * for up to LOCK_WAIT_MS.  -1 with the holder's pid in other.
 */
static int
lock_wait(int fd, char *other, size_t len)
{
	struct timespec nap = {0, 10 * 1000000L};
	ssize_t n;
	long pid;
	int waited = 0;
	bool alive;

	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(fd, other, len - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		pid = atol(other);
		/* (Its pid may be ours now: then it is gone too.) */
		alive = pid > 0 && pid != (long)getpid() &&
		        (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
		if (pid <= 0 || alive || waited >= LOCK_WAIT_MS)
			return -1;
		nanosleep(&nap, NULL);
		waited += 10;
	}
	return 0;
}

int
statedir_open(const char *dir, char *err, size_t errlen)
{
	char pid[32], other[32] = "";
	ssize_t n;

	if (make_dirs(dir, 0700) != 0) {
		snprintf(err, errlen, "state directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((D.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "state directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	D.lock_fd =
	    openat(D.dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (D.lock_fd == -1) {
		snprintf(err, errlen, "state directory %s: lock: %s", dir,
		    strerror(errno));
		statedir_close();
		return -1;
	}
	if (lock_wait(D.lock_fd, other, sizeof other) != 0) {
		snprintf(err, errlen,
		    "state directory %s is in use by another jobd%s%s%s", dir,
		    other[0] != '\0' ? " (pid " : "", other,
		    other[0] != '\0' ? ")" : "");
		statedir_close();
		return -1;
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(D.lock_fd, 0) != 0 ||
	    pwrite(D.lock_fd, pid, (size_t)n, 0) != n) {
		snprintf(err, errlen, "state directory %s: lock: %s", dir,
		    strerror(errno));
		statedir_close();
		return -1;
	}
	D.dir = xstrdup(dir);
	return 0;
}

void
statedir_close(void)
{
	if (D.lock_fd != -1)
		close(D.lock_fd);
	if (D.dir_fd != -1)
		close(D.dir_fd);
	free(D.dir);
	D.dir = NULL;
	D.dir_fd = D.lock_fd = -1;
}

const char *
statedir_path(void)
{
	return D.dir;
}

static int
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
statedir_write(const char *name, const char *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	int fd, saved;

	if (D.dir_fd == -1) {
		errno = ENOENT;
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", name) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(
	    D.dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		saved = errno;
		close(fd);
		unlinkat(D.dir_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) != 0 || renameat(D.dir_fd, tmp, D.dir_fd, name) != 0) {
		saved = errno;
		unlinkat(D.dir_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	return fsync(D.dir_fd);
}

char *
statedir_read(const char *name, size_t *len)
{
	struct stat st;
	char *data;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (D.dir_fd == -1) {
		errno = ENOENT;
		return NULL;
	}
	if ((fd = openat(D.dir_fd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size > STATE_FILE_MAX) {
		if (errno == 0)
			errno = EFBIG;
		close(fd);
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, data + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';
	*len = got;
	return data;
}
