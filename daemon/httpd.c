/*
 * httpd: GET /metrics over HTTP, with libevent's evhttp (see httpd.h).
 *
 * evhttp runs on jobd's event base, so a scrape renders on the loop
 * thread like the stats op does.  What a client can cost is bounded:
 * evhttp refuses request headers (the request line included) past
 * HTTPD_MAX_HEADERS with 400 and bodies past HTTPD_MAX_BODY with 413, and
 * closes a connection that sends nothing for HTTPD_TIMEOUT_S; serve()
 * refuses a URI past HTTPD_MAX_URI with 414.  Every method evhttp knows
 * reaches serve(), so one other than GET or HEAD gets 405 with an Allow
 * header; a method evhttp does not know gets 501 from evhttp, and a line
 * that is not HTTP 400.
 *
 * HEAD: evhttp would send a reply's body whatever the method, so a HEAD
 * gets none, and the Content-Length a GET's body would have.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "jobd.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"

#define HTTPD_MAX_HEADERS 16384
#define HTTPD_MAX_URI 1024
#define HTTPD_MAX_BODY 4096
#define HTTPD_TIMEOUT_S 10
#define HTTPD_BACKLOG 64
#define HTTPD_PATH "/metrics"

static struct evhttp *http;

static struct evbuffer *
xevbuffer_new(void)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	return b;
}

/* A short plain-text answer: an error, with its reason in the body. */
static void
reply_text(
    struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *body = xevbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add_printf(body, "%s\n", text);
	evhttp_send_reply(req, code, reason, body);
	evbuffer_free(body);
}

static void
serve(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *target = evhttp_request_get_uri(req);
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *body;
	char length[24];

	if (target != NULL && strlen(target) > HTTPD_MAX_URI) {
		reply_text(req, 414, "URI Too Long",
		    "URI too long: jobd serves its metrics at " HTTPD_PATH);
		return;
	}
	if (path == NULL || strcmp(path, HTTPD_PATH) != 0) {
		reply_text(req, HTTP_NOTFOUND, "Not Found",
		    "not found: jobd serves its metrics at " HTTPD_PATH);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed",
		    "method not allowed: " HTTPD_PATH " takes GET or HEAD");
		return;
	}
	body = xevbuffer_new();
	metrics_render(body);
	evhttp_add_header(headers, "Content-Type", METRICS_CONTENT_TYPE);
	if (cmd == EVHTTP_REQ_HEAD) {
		snprintf(
		    length, sizeof length, "%zu", evbuffer_get_length(body));
		evhttp_add_header(headers, "Content-Length", length);
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
	} else
		evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* "metrics on http 127.0.0.1:40124": how a caller learns the port. */
static void
log_bound(const struct sockaddr_storage *ss)
{
	char addr[80];

	listener_address((const struct sockaddr *)ss, addr, sizeof addr);
	log_notice("metrics on http %s", addr);
}

int
httpd_listen(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo *ai = NULL;
	struct sockaddr_storage bound;
	int fd = -1;

	if (listener_resolve("--metrics-listen", hostport, &ai, err, errlen) !=
	    0)
		return -1;
	if (!listener_is_loopback(ai->ai_addr)) {
		snprintf(err, errlen,
		    "--metrics-listen %s: only loopback addresses "
		    "(127.0.0.0/8, ::1) are allowed: the metrics endpoint "
		    "is plain HTTP without TLS or authentication",
		    hostport);
		goto fail;
	}
	if ((fd = listener_bind(
	         "--metrics-listen", hostport, ai, &bound, err, errlen)) < 0)
		goto fail;
	if (listen(fd, HTTPD_BACKLOG) != 0) {
		snprintf(err, errlen, "--metrics-listen %s: %s", hostport,
		    strerror(errno));
		goto fail;
	}
	if ((http = evhttp_new(jobd.base)) == NULL) {
		snprintf(err, errlen, "--metrics-listen %s: evhttp_new failed",
		    hostport);
		goto fail;
	}
	evhttp_set_max_headers_size(http, HTTPD_MAX_HEADERS);
	evhttp_set_max_body_size(http, HTTPD_MAX_BODY);
	evhttp_set_timeout(http, HTTPD_TIMEOUT_S);
	/* Read a refused body to its end so the client sees the answer. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(
	    http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	              EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, serve, NULL);
	/*
	 * From here evhttp owns the socket; if this fails it may have closed
	 * it already, so it is left alone (jobd is about to exit).
	 */
	if (evhttp_accept_socket_with_handle(http, fd) == NULL) {
		snprintf(err, errlen, "--metrics-listen %s: %s", hostport,
		    strerror(errno));
		fd = -1;
		goto fail;
	}
	log_bound(&bound);
	freeaddrinfo(ai);
	return 0;
fail:
	if (http != NULL) {
		evhttp_free(http);
		http = NULL;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

void
httpd_close(void)
{
	if (http == NULL)
		return;
	evhttp_free(http);
	http = NULL;
}
