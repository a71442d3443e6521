/*
 * ops: libjobd's connect (with hello) and one-call operations (jobd.h).
 *
 * Each operation is a round trip through jobd_send() and jobd_reply().
 * A reply with "ok": false becomes -1 or NULL with jobd's code and
 * message kept for jobd_error_code() and jobd_error(); a reply that is
 * "ok" but lacks what the operation promises is EPROTO, as a line that is
 * not JSON would be.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"

#define TOKEN_MAX 1024

const char *
jobd_version(void)
{
	return PACKAGE_VERSION;
}

const char *
jobd_default_address(void)
{
	static char buf[4096];
	const char *env = getenv("JOBD_ADDR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env != NULL && env[0] != '\0')
		return env;
	if (xdg != NULL && xdg[0] != '\0' &&
	    (size_t)snprintf(buf, sizeof buf, "unix:%s/jobd/jobd.sock", xdg) <
	        sizeof buf &&
	    access(buf + 5, F_OK) == 0)
		return buf;
	return "unix:/run/jobd/jobd.sock";
}

const char *
jobd_error(const struct jobd *c)
{
	return c->error;
}

const char *
jobd_error_code(const struct jobd *c)
{
	return c->code[0] != '\0' ? c->code : NULL;
}

/* Keep the refusal in reply (ok false) for jobd_error(); errno 0. */
static void
refused(struct jobd *c, const json_t *reply)
{
	const json_t *error = json_object_get(reply, "error");
	const char *code = json_string_value(json_object_get(error, "code"));
	const char *msg = json_string_value(json_object_get(error, "message"));

	snprintf(
	    c->code, sizeof c->code, "%s", code != NULL ? code : "bad_reply");
	snprintf(c->error, sizeof c->error, "%s: %s", c->code,
	    msg != NULL ? msg : "(no message)");
	errno = 0;
}

/* A reply jobd should not have sent: EPROTO, described. */
static void
bad_reply(struct jobd *c, const char *what)
{
	c->code[0] = '\0';
	snprintf(c->error, sizeof c->error, "jobd's reply has no %s", what);
	errno = EPROTO;
}

/* jobd_call() within timeout_ms (< 0: no limit). */
static json_t *
call(struct jobd *c, json_t *req, int timeout_ms)
{
	int64_t id = jobd_send(c, req);

	return id == -1 ? NULL : jobd_reply(c, id, timeout_ms);
}

json_t *
jobd_call(struct jobd *c, json_t *req)
{
	return call(c, req, -1);
}

/*
 * Send req (stolen) and return its reply if it is "ok", else NULL with
 * the failure recorded.
 */
static json_t *
request_within(struct jobd *c, json_t *req, int timeout_ms)
{
	json_t *reply;

	if (req == NULL) {
		errno = ENOMEM;
		conn_fail(c);
		return NULL;
	}
	reply = call(c, req, timeout_ms);
	json_decref(req);
	if (reply == NULL)
		return NULL;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		refused(c, reply);
		json_decref(reply);
		return NULL;
	}
	return reply;
}

static json_t *
request(struct jobd *c, json_t *req)
{
	return request_within(c, req, -1);
}

/* Member key of reply (stolen) as a new reference, or NULL (EPROTO). */
static json_t *
take(struct jobd *c, json_t *reply, const char *key)
{
	json_t *v;

	if (reply == NULL)
		return NULL;
	if ((v = json_object_get(reply, key)) == NULL || !json_is_object(v)) {
		bad_reply(c, key);
		json_decref(reply);
		return NULL;
	}
	json_incref(v);
	json_decref(reply);
	return v;
}

int
jobd_submit(struct jobd *c, json_t *spec, int64_t *id)
{
	json_t *job = take(c,
	    request(c, json_pack("{s:s, s:O}", "op", "submit", "job", spec)),
	    "job");
	const json_t *jid = json_object_get(job, "id");

	if (job == NULL)
		return -1;
	if (!json_is_integer(jid)) {
		bad_reply(c, "job id");
		json_decref(job);
		return -1;
	}
	if (id != NULL)
		*id = json_integer_value(jid);
	json_decref(job);
	return 0;
}

json_t *
jobd_wait(struct jobd *c, int64_t id, int timeout_ms)
{
	json_t *req =
	    json_pack("{s:s, s:I}", "op", "wait", "job", (json_int_t)id);
	json_t *reply;

	if (req != NULL && timeout_ms >= 0 &&
	    json_object_set_new(req, "timeout_ms", json_integer(timeout_ms)) !=
	        0) {
		json_decref(req);
		req = NULL;
	}
	if ((reply = request(c, req)) == NULL)
		return NULL;
	if (json_is_true(json_object_get(reply, "timed_out"))) {
		json_decref(reply);
		c->code[0] = '\0';
		snprintf(c->error, sizeof c->error,
		    "job %lld has not finished after %d ms", (long long)id,
		    timeout_ms);
		errno = ETIMEDOUT;
		return NULL;
	}
	return take(c, reply, "job");
}

json_t *
jobd_get(struct jobd *c, int64_t id)
{
	return take(c,
	    request(
	        c, json_pack("{s:s, s:I}", "op", "get", "job", (json_int_t)id)),
	    "job");
}

json_t *
jobd_stats(struct jobd *c)
{
	return take(c, request(c, json_pack("{s:s}", "op", "stats")), "stats");
}

/* The token: opt's, or the first line of its file; NULL with err. */
static char *
read_token(const struct jobd_options *opt, char *err, size_t errlen)
{
	char buf[TOKEN_MAX + 2];
	char *token;
	FILE *f;
	int saved;

	if (opt->token != NULL)
		return strdup(opt->token);
	if ((f = fopen(opt->token_file, "re")) == NULL) {
		saved = errno;
		snprintf(err, errlen, "token file %s: %s", opt->token_file,
		    strerror(saved));
		errno = saved;
		return NULL;
	}
	if (fgets(buf, sizeof buf, f) == NULL) {
		snprintf(err, errlen, "token file %s: empty", opt->token_file);
		fclose(f);
		errno = EINVAL;
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	token = strdup(buf);
	explicit_bzero(buf, sizeof buf);
	return token;
}

/* Say hello with the token; 0, or -1 with errno and err. */
static int
hello(struct jobd *c, const char *addr, const struct jobd_options *opt,
    char *err, size_t errlen)
{
	int timeout_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms
	                                             : CONN_TIMEOUT_DEFAULT_MS;
	json_t *req, *reply;
	char *token;

	if ((token = read_token(opt, err, errlen)) == NULL)
		return -1;
	req = json_pack("{s:s, s:s, s:s+}", "op", "hello", "token", token,
	    "client", "libjobd/", PACKAGE_VERSION);
	explicit_bzero(token, strlen(token));
	free(token);
	if ((reply = request_within(c, req, timeout_ms)) == NULL) {
		snprintf(err, errlen, "%s: %s", addr, c->error);
		return -1;
	}
	json_decref(reply);
	return 0;
}

struct jobd *
jobd_connect(
    const char *addr, const struct jobd_options *opt, char *err, size_t errlen)
{
	static const struct jobd_options none;
	char scratch[1];
	struct jobd *c;
	int saved;

	if (err == NULL) {
		err = scratch;
		errlen = sizeof scratch;
	}
	if (opt == NULL)
		opt = &none;
	if (addr == NULL)
		addr = jobd_default_address();
	if ((opt->tls_cert == NULL) != (opt->tls_key == NULL) ||
	    (opt->tls_cert != NULL && opt->tls_ca == NULL)) {
		snprintf(err, errlen, "%s",
		    (opt->tls_cert == NULL) != (opt->tls_key == NULL)
		        ? "a TLS client certificate and its key go together"
		        : "a TLS client certificate needs a CA for jobd's");
		errno = EINVAL;
		return NULL;
	}
	if ((c = conn_open(addr, opt, err, errlen)) == NULL)
		return NULL;
	if (conn_is_tcp(addr) &&
	    (opt->token != NULL || opt->token_file != NULL)) {
		if (hello(c, addr, opt, err, errlen) != 0) {
			saved = errno;
			jobd_close(c);
			errno = saved;
			return NULL;
		}
	}
	return c;
}
