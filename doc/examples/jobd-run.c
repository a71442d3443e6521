/*
 * jobd-run: run a command through jobd and wait for it, with libjobd.
 *
 *     cc -o jobd-run jobd-run.c $(pkg-config --cflags --libs libjobd)
 *     ./jobd-run make -C /src test
 *
 * Connects to jobd's default address ($JOBD_ADDR, else the socket),
 * submits the command as an exec job with a 60 s timeout and two
 * attempts, waits for it, prints its output and how it ended, and exits
 * with its exit code (or 1 if it did not exit by itself, 2 if jobd could
 * not be asked).  Over TCP it authenticates with the token in
 * $JOBD_TOKEN_FILE.
 */
#define _POSIX_C_SOURCE 200809L /* jobd.h uses sigset_t */

#include <jobd.h>
#include <stdio.h>
#include <stdlib.h>

/* A string member of obj, or "". */
static const char *
text(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

static int
fail(struct jobd *c, const char *what)
{
	fprintf(stderr, "jobd-run: %s: %s\n", what, jobd_error(c));
	jobd_close(c);
	return 2;
}

int
main(int argc, char **argv)
{
	struct jobd_options opt = {0};
	json_t *spec, *argv_json, *job, *stats;
	char err[512];
	struct jobd *c;
	int64_t id;
	int i, status;

	if (argc < 2) {
		fprintf(stderr, "usage: jobd-run COMMAND [ARG...]\n");
		return 2;
	}
	opt.token_file = getenv("JOBD_TOKEN_FILE");
	if ((c = jobd_connect(NULL, &opt, err, sizeof err)) == NULL) {
		fprintf(stderr, "jobd-run: %s\n", err);
		return 2;
	}

	argv_json = json_array();
	for (i = 1; i < argc; i++)
		json_array_append_new(argv_json, json_string(argv[i]));
	spec = json_pack("{s:s, s:o, s:i, s:{s:i}}", "kind", "exec", "argv",
	    argv_json, "timeout_ms", 60000, "retry", "max_attempts", 2);
	if (spec == NULL || jobd_submit(c, spec, &id) != 0) {
		json_decref(spec);
		return fail(c, "submit");
	}
	json_decref(spec);
	fprintf(stderr, "jobd-run: job %lld submitted\n", (long long)id);

	if ((job = jobd_wait(c, id, -1)) == NULL)
		return fail(c, "wait");
	fputs(text(job, "stdout"), stdout);
	fputs(text(job, "stderr"), stderr);
	status =
	    json_is_integer(json_object_get(job, "exit_code"))
	        ? (int)json_integer_value(json_object_get(job, "exit_code"))
	        : 1;
	fprintf(stderr, "jobd-run: job %lld %s after %lld attempt(s)\n",
	    (long long)id, text(job, "state"),
	    json_integer_value(json_object_get(job, "attempts_made")));
	json_decref(job);

	if ((stats = jobd_stats(c)) == NULL)
		return fail(c, "stats");
	fprintf(stderr,
	    "jobd-run: jobd has taken %lld job(s) since it started\n",
	    json_integer_value(json_object_get(
	        json_object_get(stats, "counters"), "jobs_submitted")));
	json_decref(stats);
	jobd_close(c);
	return status;
}
