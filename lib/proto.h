/*
 * proto: the wire format's building blocks, shared by jobd and its clients.
 *
 * The protocol is one JSON object per line, both ways.  This module owns:
 * - framing: finding the next complete line in a buffer, with a length limit;
 * - decoding: turning one line into a JSON object, or into a specific error
 *   (not UTF-8, not JSON, too deep, not an object), never a crash;
 * - the error codes (one list, PROTO_ERRORS) and the error reply builder;
 * - encoding: a compact JSON object plus the newline.
 * The request operations themselves are the daemon's business.
 */
#ifndef JOBD_PROTO_H
#define JOBD_PROTO_H

#include <jansson.h>
#include <stddef.h>

#define PROTO_VERSION 1
#define PROTO_MAX_LINE_DEFAULT (1024 * 1024)
#define PROTO_MAX_DEPTH_DEFAULT 32

/* E(enum suffix, wire code).  Never reuse a code for another meaning. */
#define PROTO_ERRORS(E)                           \
	E(BAD_JSON, "bad_json")                   \
	E(BAD_REQUEST, "bad_request")             \
	E(UNKNOWN_OP, "unknown_op")               \
	E(UNKNOWN_KIND, "unknown_kind")           \
	E(OUT_OF_RANGE, "out_of_range")           \
	E(LINE_TOO_LONG, "line_too_long")         \
	E(TOO_DEEP, "too_deep")                   \
	E(BAD_UTF8, "bad_utf8")                   \
	E(NOT_FOUND, "not_found")                 \
	E(QUEUE_FULL, "queue_full")               \
	E(QUEUE_DRAINING, "queue_draining")       \
	E(AUTH_REQUIRED, "auth_required")         \
	E(FORBIDDEN, "forbidden")                 \
	E(STORE_UNAVAILABLE, "store_unavailable") \
	E(SHUTTING_DOWN, "shutting_down")         \
	E(TIMEOUT, "timeout")                     \
	E(TOO_MANY_CONNS, "too_many_connections") \
	E(INTERNAL, "internal")

#define PROTO_ERR_ENUM(name, code) PROTO_E_##name,
enum proto_err { PROTO_ERRORS(PROTO_ERR_ENUM) PROTO_E_MAX };
#undef PROTO_ERR_ENUM

/* The wire code of err ("bad_json", ...); "internal" if out of range. */
const char *proto_err_code(enum proto_err err);
/* Wire code -> enum; -1 if unknown. */
int proto_err_parse(const char *code);

enum proto_frame {
	PROTO_FRAME_LINE,     /* a complete line: [0, *line_len) */
	PROTO_FRAME_PARTIAL,  /* no newline yet, and within the limit */
	PROTO_FRAME_TOO_LONG, /* no newline within max_line bytes */
};

/*
 * Look for the next line in buf[0, len).  On PROTO_FRAME_LINE, *line_len is
 * the line's length without its "\n" (and without a "\r" before it) and
 * *consumed the bytes to discard including the newline.  A line longer than
 * max_line bytes (not counting the newline) is PROTO_FRAME_TOO_LONG, whether
 * or not its newline has arrived.
 */
enum proto_frame proto_frame_next(const char *buf, size_t len, size_t max_line,
    size_t *line_len, size_t *consumed);

/*
 * Decode one line into a JSON object (*out, a new reference).  On error
 * returns -1 and sets *err and a message in msg: PROTO_E_BAD_UTF8 (invalid
 * UTF-8), PROTO_E_TOO_DEEP (arrays/objects nested deeper than max_depth),
 * PROTO_E_BAD_JSON (not JSON, or trailing garbage), PROTO_E_BAD_REQUEST
 * (valid JSON that is not an object).
 */
int proto_decode(const char *line, size_t len, size_t max_depth, json_t **out,
    enum proto_err *err, char *msg, size_t msglen);

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF). */
int proto_utf8_valid(const char *s, size_t len);

/*
 * {"id":<id>,"ok":false,"error":{"code":...,"message":...}}; id may be NULL
 * (no "id" key) and is not stolen.
 */
json_t *proto_error_reply(const json_t *id, enum proto_err err, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* {"id":<id>,"ok":true}; add fields to it. */
json_t *proto_ok_reply(const json_t *id);

/* Compact JSON of obj followed by "\n"; free() it.  *len excludes the NUL. */
char *proto_encode(const json_t *obj, size_t *len);
/*
 * The same into a buffer the caller keeps between calls (*buf may be NULL
 * at first; it grows as needed and is the caller's to free): no allocation
 * per message on a hot path.  Returns the length, newline included.
 */
size_t proto_encode_buf(const json_t *obj, char **buf, size_t *cap);

#endif
