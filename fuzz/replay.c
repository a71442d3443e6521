/*
 * replay: run every file of the fuzz corpus through the fuzz target once.
 *
 * Built with the normal compiler and run by `make check`, so the plain,
 * sanitizer and thread-sanitizer builds all take the corpus through the
 * daemon's request path; a crash, a sanitizer report or a hang fails the
 * test.  Arguments are corpus directories (or files); without any, the
 * directory in $FUZZ_CORPUS.  Files are run in name order.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmalloc.h"

/* A corpus file larger than this is a mistake, not an input. */
#define REPLAY_FILE_MAX (16 * 1024 * 1024)

static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *data;
	size_t len;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	if (st.st_size > REPLAY_FILE_MAX) {
		fprintf(stderr, "replay: %s: larger than %d bytes\n", path,
		    REPLAY_FILE_MAX);
		fclose(f);
		return -1;
	}
	/* One byte more, so that an empty file is no zero-size malloc. */
	data = xmalloc((size_t)st.st_size + 1);
	len = fread(data, 1, (size_t)st.st_size, f);
	if (ferror(f) || len != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	if (getenv("JOBD_FUZZ_REPLIES") != NULL)
		fprintf(stderr, "== %s\n", path);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of dir in name order; the count, or -1. */
static long
replay_dir(const char *dir)
{
	struct dirent *de;
	struct stat st;
	char **paths = NULL, *path;
	size_t n = 0, cap = 0, i;
	long done = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			paths = xreallocarray(paths, cap, sizeof(*paths));
		}
		paths[n++] = path;
	}
	closedir(d);
	qsort(paths, n, sizeof(*paths), cmp_names);
	for (i = 0; i < n; i++) {
		if (done >= 0 && replay_file(paths[i]) == 0)
			done++;
		else
			done = -1;
		free(paths[i]);
	}
	free(paths);
	return done;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("FUZZ_CORPUS");
	struct stat st;
	long total = 0, n;
	int i;

	if (argc < 2 && (env == NULL || env[0] == '\0')) {
		fprintf(stderr, "usage: replay DIR|FILE... (or FUZZ_CORPUS)\n");
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc || (argc < 2 && i == 1); i++) {
		const char *arg = argc < 2 ? env : argv[i];

		if (stat(arg, &st) == 0 && S_ISREG(st.st_mode))
			n = replay_file(arg) == 0 ? 1 : -1;
		else
			n = replay_dir(arg);
		if (n < 0)
			return 1;
		printf("replay: %s: %ld input(s)\n", arg, n);
		total += n;
	}
	printf("replay: %ld input(s), %" PRIu64 " request(s), %" PRIu64
	       " process spawn(s) refused\n",
	    total, fuzz_requests(), fuzz_spawns_refused());
	fuzz_teardown();
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return 0;
}
