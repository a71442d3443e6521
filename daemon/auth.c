/*
 * auth: who may talk to jobd (see auth.h).
 *
 * The token is 32 random bytes written as 64 hex digits.  The file that
 * holds it must be a regular file that only its owner can read or write,
 * owned by the user jobd runs as (or root): a token others can read is no
 * secret, and jobd refuses to start rather than pretend.  A presented
 * token is compared in time that depends only on the stored token's
 * length, never on where the first difference is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "xmalloc.h"

#define TOKEN_BYTES 32
#define TOKEN_TEXT_MAX 1024

static char *token; /* NULL: no token configured */
static size_t token_len;

int
auth_gen_token(const char *path, char *err, size_t errlen)
{
	unsigned char raw[TOKEN_BYTES];
	char text[TOKEN_BYTES * 2 + 2];
	size_t i, got = 0;
	ssize_t n;
	int fd;

	while (got < sizeof raw) {
		n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	for (i = 0; i < sizeof raw; i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	text[2 * sizeof raw] = '\n';
	text[2 * sizeof raw + 1] = '\0';
	fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (remove it first to make a new token)"
		                    : "");
		return -1;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	explicit_bzero(raw, sizeof raw);
	explicit_bzero(text, sizeof text);
	return 0;
}

/* Read a token file, checking that it is private; the text or NULL. */
char *
auth_read_token_file(const char *path, char *err, size_t errlen)
{
	char buf[TOKEN_TEXT_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(
		    err, errlen, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(
		    err, errlen, "token file %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		    "token file %s: mode %03o lets others read it; chmod 600 "
		    "it",
		    path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return NULL;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen,
		    "token file %s: owned by uid %u, not by this user or root",
		    path, (unsigned)st.st_uid);
		close(fd);
		return NULL;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		snprintf(
		    err, errlen, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len < AUTH_TOKEN_MIN || len > TOKEN_TEXT_MAX) {
		snprintf(err, errlen,
		    "token file %s: the token must be %d to %d characters "
		    "(jobd --gen-token makes one)",
		    path, AUTH_TOKEN_MIN, TOKEN_TEXT_MAX);
		explicit_bzero(buf, sizeof buf);
		return NULL;
	}
	return xstrdup(buf);
}

int
auth_load(const char *path, char *err, size_t errlen)
{
	char *t = auth_read_token_file(path, err, errlen);

	if (t == NULL)
		return -1;
	auth_free();
	token = t;
	token_len = strlen(t);
	return 0;
}

bool
auth_enabled(void)
{
	return token != NULL;
}

bool
auth_check(const char *presented, size_t len)
{
	unsigned char diff;
	size_t i;

	if (token == NULL)
		return false;
	/* Every byte of the stored token is compared, whatever came in. */
	diff = (unsigned char)(len != token_len);
	for (i = 0; i < token_len; i++)
		diff |= (unsigned char)(token[i] ^
		                        (i < len ? (unsigned char)presented[i]
		                                 : 0));
	return diff == 0;
}

void
auth_free(void)
{
	if (token != NULL) {
		explicit_bzero(token, token_len);
		free(token);
	}
	token = NULL;
	token_len = 0;
}
