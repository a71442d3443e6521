/*
 * check_proto: unit tests for framing, decoding, error codes, replies and
 * encoding (lib/proto.c).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "proto.h"

#define S(lit) lit, sizeof(lit) - 1

static const struct {
	const char *buf;
	size_t len;
	size_t max_line;
	enum proto_frame want;
	size_t line_len, consumed;
} frames[] = {
    {S("abc\n"), 10, PROTO_FRAME_LINE, 3, 4},
    {S("abc\r\n"), 10, PROTO_FRAME_LINE, 3, 5},
    {S("abc\ndef\n"), 10, PROTO_FRAME_LINE, 3, 4},
    {S("abc"), 10, PROTO_FRAME_PARTIAL, 0, 0},
    {S("abc\r"), 10, PROTO_FRAME_PARTIAL, 0, 0},
    {S(""), 10, PROTO_FRAME_PARTIAL, 0, 0},
    {S("\n"), 10, PROTO_FRAME_LINE, 0, 1},
    {S("\r\n"), 10, PROTO_FRAME_LINE, 0, 2},
    {S("\n\n"), 10, PROTO_FRAME_LINE, 0, 1},
    /* Only the "\r" right before "\n" goes. */
    {S("a\rb\n"), 10, PROTO_FRAME_LINE, 3, 4},
    {S("a\r\r\n"), 10, PROTO_FRAME_LINE, 2, 4},
    /* Exactly max_line bytes of content. */
    {S("abcd\n"), 4, PROTO_FRAME_LINE, 4, 5},
    {S("abcd\r\n"), 4, PROTO_FRAME_LINE, 4, 6},
    {S("abcd"), 4, PROTO_FRAME_PARTIAL, 0, 0},
    {S("abcd\r"), 4, PROTO_FRAME_PARTIAL, 0, 0},
    /* max_line + 1, with and without the newline. */
    {S("abcde\n"), 4, PROTO_FRAME_TOO_LONG, 0, 0},
    {S("abcde\r\n"), 4, PROTO_FRAME_TOO_LONG, 0, 0},
    {S("abcde"), 4, PROTO_FRAME_TOO_LONG, 0, 0},
    {S("abcd\rx"), 4, PROTO_FRAME_TOO_LONG, 0, 0},
    {S("abcd\r\r"), 4, PROTO_FRAME_TOO_LONG, 0, 0},
    {S("abcdefghij\n"), 4, PROTO_FRAME_TOO_LONG, 0, 0},
    /* A short line before a long one is still a line. */
    {S("ab\nabcdefghij"), 4, PROTO_FRAME_LINE, 2, 3},
    {S("\n"), 0, PROTO_FRAME_LINE, 0, 1},
    {S("\r\n"), 0, PROTO_FRAME_LINE, 0, 2},
    {S("\r"), 0, PROTO_FRAME_PARTIAL, 0, 0},
    {S("a"), 0, PROTO_FRAME_TOO_LONG, 0, 0},
    {S("abc\n"), SIZE_MAX, PROTO_FRAME_LINE, 3, 4},
    {S("abc"), SIZE_MAX, PROTO_FRAME_PARTIAL, 0, 0},
    {S("abc\n"), SIZE_MAX - 1, PROTO_FRAME_LINE, 3, 4},
};

START_TEST(test_frame_table)
{
	size_t line_len = 99, consumed = 99;
	enum proto_frame f;

	f = proto_frame_next(frames[_i].buf, frames[_i].len,
	    frames[_i].max_line, &line_len, &consumed);
	ck_assert_msg(f == frames[_i].want, "case %d: got %d, want %d", _i,
	    (int)f, (int)frames[_i].want);
	if (f == PROTO_FRAME_LINE) {
		ck_assert_uint_eq(line_len, frames[_i].line_len);
		ck_assert_uint_eq(consumed, frames[_i].consumed);
	}
}
END_TEST

START_TEST(test_frame_sequence)
{
	static const char buf[] = "one\ntwo\r\n\nthree\nfour";
	static const char *const want[] = {"one", "two", "", "three"};
	size_t off, line_len, consumed, i;

	off = 0;
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(
		    proto_frame_next(buf + off, sizeof buf - 1 - off, 16,
		        &line_len, &consumed),
		    PROTO_FRAME_LINE);
		ck_assert_uint_eq(line_len, strlen(want[i]));
		ck_assert(memcmp(buf + off, want[i], line_len) == 0);
		off += consumed;
	}
	ck_assert_uint_eq(off, sizeof buf - 1 - strlen("four"));
	ck_assert_int_eq(proto_frame_next(buf + off, sizeof buf - 1 - off, 16,
	                     &line_len, &consumed),
	    PROTO_FRAME_PARTIAL);
}
END_TEST

/* The limit holds for a big buffer, with the newline far past it. */
START_TEST(test_frame_big)
{
	size_t n = PROTO_MAX_LINE_DEFAULT + 100, line_len, consumed;
	char *buf;

	buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'x', n);
	buf[n - 1] = '\n';
	ck_assert_int_eq(proto_frame_next(buf, n, PROTO_MAX_LINE_DEFAULT,
	                     &line_len, &consumed),
	    PROTO_FRAME_TOO_LONG);
	buf[PROTO_MAX_LINE_DEFAULT] = '\n';
	ck_assert_int_eq(proto_frame_next(buf, n, PROTO_MAX_LINE_DEFAULT,
	                     &line_len, &consumed),
	    PROTO_FRAME_LINE);
	ck_assert_uint_eq(line_len, PROTO_MAX_LINE_DEFAULT);
	ck_assert_uint_eq(consumed, PROTO_MAX_LINE_DEFAULT + 1);
	free(buf);
}
END_TEST

static const struct {
	const char *s;
	size_t len;
	int valid;
} utf8[] = {
    {S(""), 1},
    {S("plain ascii"), 1},
    {S("\xc3\xa9"), 1},         /* U+00E9 */
    {S("\xe2\x82\xac"), 1},     /* U+20AC */
    {S("\xf0\x9f\x98\x80"), 1}, /* U+1F600 */
    {S("\xed\x9f\xbf"), 1},     /* U+D7FF */
    {S("\xee\x80\x80"), 1},     /* U+E000 */
    {S("\xf4\x8f\xbf\xbf"), 1}, /* U+10FFFF */
    {S("\xc2\x80"), 1},         /* U+0080 */
    {S("\xe0\xa0\x80"), 1},     /* U+0800 */
    {S("\xf0\x90\x80\x80"), 1}, /* U+10000 */
    {S("a\0b"), 1},             /* NUL is UTF-8 */
    {S("\xc0\xaf"), 0},         /* overlong '/' */
    {S("\xc1\xbf"), 0},         /* overlong */
    {S("\xe0\x80\xaf"), 0},     /* overlong, 3 bytes */
    {S("\xe0\x9f\xbf"), 0},     /* overlong U+07FF */
    {S("\xf0\x80\x80\xaf"), 0}, /* overlong, 4 bytes */
    {S("\xf0\x8f\xbf\xbf"), 0}, /* overlong U+FFFF */
    {S("\xed\xa0\x80"), 0},     /* U+D800 */
    {S("\xed\xbf\xbf"), 0},     /* U+DFFF */
    {S("\xf4\x90\x80\x80"), 0}, /* U+110000 */
    {S("\xf5\x80\x80\x80"), 0},
    {S("\xff"), 0},
    {S("\xfe"), 0},
    {S("\x80"), 0}, /* stray continuation */
    {S("a\xbf"), 0},
    {S("\xc3"), 0}, /* truncated */
    {S("\xe2\x82"), 0},
    {S("\xf0\x9f\x98"), 0},
    {S("\xc3\x41"), 0}, /* bad continuation */
    {S("\xe2\x41\xac"), 0},
    {S("\xf0\x9f\x41\x80"), 0},
    {S("\xc3\xa9\xc3\xa9\xc3"), 0},
};

START_TEST(test_utf8_valid)
{
	ck_assert_msg(
	    proto_utf8_valid(utf8[_i].s, utf8[_i].len) == utf8[_i].valid,
	    "case %d", _i);
	/* A truncated valid sequence is invalid. */
	if (utf8[_i].valid && utf8[_i].len > 0 &&
	    (unsigned char)utf8[_i].s[utf8[_i].len - 1] >= 0x80)
		ck_assert(!proto_utf8_valid(utf8[_i].s, utf8[_i].len - 1));
}
END_TEST

static json_t *
decode_ok(const char *line, size_t len, size_t depth)
{
	enum proto_err err = PROTO_E_INTERNAL;
	char msg[256] = "";
	json_t *j = NULL;

	ck_assert_msg(
	    proto_decode(line, len, depth, &j, &err, msg, sizeof msg) == 0,
	    "\"%.*s\": %s", (int)len, line, msg);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_object(j));
	return j;
}

static void
decode_bad(const char *line, size_t len, size_t depth, enum proto_err want,
    const char *want_msg)
{
	enum proto_err err = PROTO_E_INTERNAL;
	char msg[256] = "";
	json_t *j = json_true(); /* must be reset to NULL */

	ck_assert_msg(
	    proto_decode(line, len, depth, &j, &err, msg, sizeof msg) == -1,
	    "\"%.*s\" accepted", (int)len, line);
	ck_assert_ptr_null(j);
	ck_assert_msg(err == want, "\"%.*s\": error %s, want %s", (int)len,
	    line, proto_err_code(err), proto_err_code(want));
	ck_assert_msg(strstr(msg, want_msg) != NULL,
	    "\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, line, msg,
	    want_msg);
}

START_TEST(test_decode_ok)
{
	json_t *j;

	j = decode_ok(S("{\"op\":\"ping\",\"id\":1}"), 32);
	ck_assert_str_eq(json_string_value(json_object_get(j, "op")), "ping");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 1);
	json_decref(j);

	/* len is honoured: what follows is not looked at. */
	j = decode_ok("{}garbage", 2, 32);
	ck_assert_uint_eq(json_object_size(j), 0);
	json_decref(j);

	j = decode_ok(S("  {\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}\t"), 32);
	ck_assert_str_eq(json_string_value(json_object_get(j, "s")),
	    "caf\xc3\xa9 \xf0\x9f\x98\x80");
	json_decref(j);
}
END_TEST

START_TEST(test_decode_utf8)
{
	decode_bad(S("{\"a\":\"\xc0\xaf\"}"), 32, PROTO_E_BAD_UTF8,
	    "request is not valid UTF-8 (byte 7)");
	decode_bad(
	    S("{\"a\":\"\xed\xa0\x80\"}"), 32, PROTO_E_BAD_UTF8, "(byte 7)");
	decode_bad(S("{\"a\":\"\xe2\x82"), 32, PROTO_E_BAD_UTF8, "(byte 7)");
	decode_bad(S("\xff{}"), 32, PROTO_E_BAD_UTF8, "(byte 1)");
	decode_bad(S("{}\xff"), 32, PROTO_E_BAD_UTF8, "(byte 3)");
	decode_bad(S("{\"\x80\":1}"), 32, PROTO_E_BAD_UTF8, "(byte 3)");
	decode_bad(
	    S("{\"a\":\"\xf4\x90\x80\x80\"}"), 32, PROTO_E_BAD_UTF8, "UTF-8");
	/* UTF-8 is checked before depth. */
	decode_bad(S("[[[[[[\xff"), 2, PROTO_E_BAD_UTF8, "UTF-8");
}
END_TEST

/* {"a":[[...0...]]}: depth levels in all. */
static char *
nested(size_t depth)
{
	size_t i, n = 0;
	char *s;

	s = malloc(2 * depth + 8);
	ck_assert_ptr_nonnull(s);
	n += (size_t)sprintf(s, "{\"a\":");
	for (i = 1; i < depth; i++)
		s[n++] = '[';
	s[n++] = '0';
	for (i = 1; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

START_TEST(test_decode_depth)
{
	char *s, *big;
	json_t *j;
	size_t n;

	s = nested(PROTO_MAX_DEPTH_DEFAULT);
	j = decode_ok(s, strlen(s), PROTO_MAX_DEPTH_DEFAULT);
	json_decref(j);
	free(s);

	s = nested(PROTO_MAX_DEPTH_DEFAULT + 1);
	decode_bad(s, strlen(s), PROTO_MAX_DEPTH_DEFAULT, PROTO_E_TOO_DEEP,
	    "request nests deeper than 32 levels");
	free(s);

	s = nested(1);
	j = decode_ok(s, strlen(s), 1);
	json_decref(j);
	decode_bad(s, strlen(s), 0, PROTO_E_TOO_DEEP, "deeper than 0");
	free(s);

	/* A megabyte of "[" is refused before jansson sees it. */
	n = PROTO_MAX_LINE_DEFAULT;
	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	memset(big, '[', n);
	decode_bad(big, n, PROTO_MAX_DEPTH_DEFAULT, PROTO_E_TOO_DEEP, "32");
	memset(big, '{', n);
	decode_bad(big, n, PROTO_MAX_DEPTH_DEFAULT, PROTO_E_TOO_DEEP, "32");
	free(big);

	/* Closing brackets bring the depth down again. */
	j = decode_ok(S("{\"a\":[[]],\"b\":[[]],\"c\":{\"d\":{}}}"), 3);
	json_decref(j);
}
END_TEST

START_TEST(test_decode_strings)
{
	json_t *j;

	/* Brackets inside strings do not count. */
	j = decode_ok(S("{\"[[[[\":\"{{{{[[[[]]]]\"}"), 1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(j, "[[[[")), "{{{{[[[[]]]]");
	json_decref(j);
	/* An escaped quote does not end the string. */
	j = decode_ok(S("{\"a\":\"x\\\"[[[[[[\"}"), 1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(j, "a")), "x\"[[[[[[");
	json_decref(j);
	/* An escaped backslash does not escape the closing quote. */
	j = decode_ok(S("{\"a\":\"x\\\\\",\"b\":[[[]]]}"), 4);
	json_decref(j);
	decode_bad(S("{\"a\":\"x\\\\\",\"b\":[[[]]]}"), 3, PROTO_E_TOO_DEEP,
	    "deeper than 3");
	/* Other escapes. */
	j = decode_ok(S("{\"a\":\"\\n\\u00e9\\\\\\/\"}"), 1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(j, "a")), "\n\xc3\xa9\\/");
	json_decref(j);
}
END_TEST

START_TEST(test_decode_bad_json)
{
	decode_bad(S("hello"), 32, PROTO_E_BAD_JSON, "invalid JSON at column");
	decode_bad(S("{}x"), 32, PROTO_E_BAD_JSON, "invalid JSON at column");
	decode_bad(S("{} {}"), 32, PROTO_E_BAD_JSON, "invalid JSON");
	decode_bad(S("{\"a\":"), 32, PROTO_E_BAD_JSON, "invalid JSON");
	decode_bad(S("{\"a\":1,}"), 32, PROTO_E_BAD_JSON, "invalid JSON");
	decode_bad(S("{'a':1}"), 32, PROTO_E_BAD_JSON, "invalid JSON");
	decode_bad(S("]"), 32, PROTO_E_BAD_JSON, "invalid JSON");
	decode_bad(S("{\"a\":\"\\u0000\"}"), 32, PROTO_E_BAD_JSON,
	    "\\u0000 (NUL) is not allowed in a string");
	/* Which of two values would count is a guess: refused. */
	decode_bad(S("{\"op\":\"ping\",\"op\":\"stats\"}"), 32,
	    PROTO_E_BAD_JSON, "duplicate object key");
	decode_bad(S("{\"a\":{\"b\":1,\"b\":1}}"), 32, PROTO_E_BAD_JSON,
	    "duplicate object key");
	decode_bad(S("{\"a\":\"b\0\"}"), 32, PROTO_E_BAD_JSON,
	    "NUL byte in request (byte 8)");
	decode_bad(S("\0"), 32, PROTO_E_BAD_JSON, "NUL");
	decode_bad(S(""), 32, PROTO_E_BAD_JSON, "empty request");
	decode_bad(S("  \t\r "), 32, PROTO_E_BAD_JSON, "empty request");
}
END_TEST

START_TEST(test_decode_not_object)
{
	decode_bad(S("[1,2]"), 32, PROTO_E_BAD_REQUEST,
	    "request must be a JSON object");
	decode_bad(S("[]"), 32, PROTO_E_BAD_REQUEST, "JSON object");
	decode_bad(S("42"), 32, PROTO_E_BAD_REQUEST, "JSON object");
	decode_bad(S("-1.5e3"), 32, PROTO_E_BAD_REQUEST, "JSON object");
	decode_bad(S("\"ping\""), 32, PROTO_E_BAD_REQUEST, "JSON object");
	decode_bad(S("null"), 32, PROTO_E_BAD_REQUEST, "JSON object");
	decode_bad(S("true"), 32, PROTO_E_BAD_REQUEST, "JSON object");
}
END_TEST

START_TEST(test_decode_msg_buffer)
{
	enum proto_err err;
	char msg[8];
	json_t *j;

	memset(msg, 'x', sizeof msg);
	ck_assert_int_eq(
	    proto_decode(S("[]"), 32, &j, &err, msg, sizeof msg), -1);
	ck_assert_str_eq(msg, "request");
	ck_assert_int_eq(proto_decode(S("[]"), 32, &j, &err, NULL, 0), -1);
	ck_assert_int_eq(err, PROTO_E_BAD_REQUEST);
	ck_assert_int_eq(proto_decode(S("\xff"), 32, &j, &err, msg, 1), -1);
	ck_assert_str_eq(msg, "");
	ck_assert_int_eq(err, PROTO_E_BAD_UTF8);
}
END_TEST

START_TEST(test_error_reply)
{
	json_t *r, *e, *id;

	r = proto_error_reply(NULL, PROTO_E_NOT_FOUND, "job %d not found", 7);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(json_object_size(r), 2);
	ck_assert_ptr_null(json_object_get(r, "id"));
	ck_assert(json_is_false(json_object_get(r, "ok")));
	e = json_object_get(r, "error");
	ck_assert(json_is_object(e));
	ck_assert_uint_eq(json_object_size(e), 2);
	ck_assert_str_eq(
	    json_string_value(json_object_get(e, "code")), "not_found");
	ck_assert_str_eq(json_string_value(json_object_get(e, "message")),
	    "job 7 not found");
	json_decref(r);

	id = json_integer(42);
	r = proto_error_reply(id, PROTO_E_QUEUE_FULL, "queue full");
	ck_assert_uint_eq(json_object_size(r), 3);
	ck_assert(json_equal(json_object_get(r, "id"), id));
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(r, "error"), "code")),
	    "queue_full");
	json_decref(r);
	/* id was not stolen. */
	ck_assert_int_eq(json_integer_value(id), 42);
	json_decref(id);

	id = json_string("req-1");
	r = proto_error_reply(id, PROTO_E_BAD_REQUEST, "%s", "x");
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "req-1");
	json_decref(id);
	/* The copy outlives the caller's id. */
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "req-1");
	json_decref(r);

	/* Out-of-range codes become "internal". */
	r = proto_error_reply(NULL, PROTO_E_MAX, "oops");
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(r, "error"), "code")),
	    "internal");
	json_decref(r);
}
END_TEST

START_TEST(test_error_reply_utf8)
{
	json_error_t jerr;
	char *s, *big;
	json_t *r, *back;
	const char *m;
	size_t len, i;

	r = proto_error_reply(NULL, PROTO_E_BAD_UTF8, "bad: %s",
	    "a\xff\xc0\xaf\xed\xa0\x80z\xc3\xa9\xe2\x82");
	ck_assert_ptr_nonnull(r);
	m = json_string_value(
	    json_object_get(json_object_get(r, "error"), "message"));
	ck_assert_str_eq(m, "bad: a??????z\xc3\xa9??");
	s = proto_encode(r, &len);
	ck_assert_ptr_nonnull(s);
	back = json_loadb(s, len, 0, &jerr);
	ck_assert_msg(back != NULL, "%s", jerr.text);
	ck_assert(json_equal(back, r));
	json_decref(back);
	free(s);
	json_decref(r);

	/* A long message is cut, never in the middle of a character. */
	big = malloc(601);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < 300; i++)
		memcpy(big + 2 * i, "\xc3\xa9", 2);
	big[600] = '\0';
	r = proto_error_reply(NULL, PROTO_E_INTERNAL, "%s", big);
	m = json_string_value(
	    json_object_get(json_object_get(r, "error"), "message"));
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_lt(strlen(m), 600);
	ck_assert_uint_gt(strlen(m), 400);
	ck_assert(proto_utf8_valid(m, strlen(m)));
	json_decref(r);
	free(big);
}
END_TEST

START_TEST(test_ok_reply)
{
	json_t *r, *id;
	char *s;

	r = proto_ok_reply(NULL);
	s = proto_encode(r, NULL);
	ck_assert_str_eq(s, "{\"ok\":true}\n");
	free(s);
	json_decref(r);

	id = json_integer(9);
	r = proto_ok_reply(id);
	json_decref(id);
	ck_assert_int_eq(json_object_set_new(r, "n", json_integer(3)), 0);
	s = proto_encode(r, NULL);
	ck_assert_str_eq(s, "{\"id\":9,\"ok\":true,\"n\":3}\n");
	free(s);
	json_decref(r);

	id = json_string("a");
	r = proto_error_reply(id, PROTO_E_FORBIDDEN, "no");
	json_decref(id);
	s = proto_encode(r, NULL);
	ck_assert_str_eq(s, "{\"id\":\"a\",\"ok\":false,\"error\":{\"code\":"
	                    "\"forbidden\",\"message\":\"no\"}}\n");
	free(s);
	json_decref(r);
}
END_TEST

START_TEST(test_err_codes)
{
	int i, k;

	for (i = 0; i < PROTO_E_MAX; i++) {
		const char *code = proto_err_code((enum proto_err)i);

		ck_assert_ptr_nonnull(code);
		ck_assert_uint_gt(strlen(code), 0);
		ck_assert_int_eq(proto_err_parse(code), i);
		for (k = 0; k < i; k++)
			ck_assert_str_ne(
			    code, proto_err_code((enum proto_err)k));
	}
	ck_assert_str_eq(proto_err_code(PROTO_E_BAD_JSON), "bad_json");
	ck_assert_str_eq(
	    proto_err_code(PROTO_E_LINE_TOO_LONG), "line_too_long");
	ck_assert_str_eq(proto_err_code(PROTO_E_MAX), "internal");
	ck_assert_str_eq(proto_err_code((enum proto_err) - 1), "internal");
	ck_assert_int_eq(proto_err_parse("nope"), -1);
	ck_assert_int_eq(proto_err_parse(""), -1);
	ck_assert_int_eq(proto_err_parse("BAD_JSON"), -1);
	ck_assert_int_eq(proto_err_parse(NULL), -1);
}
END_TEST

START_TEST(test_encode)
{
	json_error_t jerr;
	json_t *obj, *back;
	size_t len;
	char *s;

	obj = json_pack("{s:i, s:s, s:[i, s], s:{}}", "id", 1, "text",
	    "line1\nline2\r\n", "list", 2, "x\xc3\xa9", "empty");
	ck_assert_ptr_nonnull(obj);
	s = proto_encode(obj, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	ck_assert_uint_gt(len, 1);
	ck_assert_int_eq(s[len - 1], '\n');
	/* Exactly one newline: the one at the end. */
	ck_assert_ptr_eq(strchr(s, '\n'), s + len - 1);
	ck_assert_ptr_null(strchr(s, ' '));
	back = json_loadb(s, len, 0, &jerr);
	ck_assert_msg(back != NULL, "%s", jerr.text);
	ck_assert(json_equal(back, obj));
	json_decref(back);
	free(s);
	json_decref(obj);
}
END_TEST

/* The encoder writes exactly what json_dumps(JSON_COMPACT) writes. */
static const char *const encode_cases[] = {
    "{}",
    "[]",
    "[null,true,false,0,-1,9223372036854775807,-9223372036854775808]",
    "[0.5,1.0,-2.25,1e+300,0.1,3.14159,1e-07,123456789.125]",
    "{\"a\":{\"b\":[{\"c\":[]}]},\"d\":\"\"}",
    "[\"quote\\\" backslash\\\\ slash/ \\b\\f\\n\\r\\t\"]",
    "[\"\\u0001\\u001f\\u007f\\u0000 nul\"]",
    "[\"caf\\u00e9 \\u4e2d\\u6587 \\ud83d\\ude00\"]",
    "{\"key with \\\"quote\\\"\":1,\"\\u00e9\":2,\"z\":3,\"a\":4}",
};

START_TEST(test_encode_matches_jansson)
{
	json_t *v = json_loads(encode_cases[_i], JSON_ALLOW_NUL, NULL);
	char *ours, *theirs;
	size_t len;

	ck_assert_ptr_nonnull(v);
	ours = proto_encode(v, &len);
	theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_ptr_nonnull(theirs);
	ck_assert_uint_eq(len, strlen(theirs) + 1);
	ck_assert_int_eq(memcmp(ours, theirs, len - 1), 0);
	ck_assert_int_eq(ours[len - 1], '\n');
	free(ours);
	free(theirs);
	json_decref(v);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("proto");
	tc = tcase_create("frame");
	tcase_add_loop_test(
	    tc, test_frame_table, 0, sizeof frames / sizeof frames[0]);
	tcase_add_test(tc, test_frame_sequence);
	tcase_add_test(tc, test_frame_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(
	    tc, test_utf8_valid, 0, sizeof utf8 / sizeof utf8[0]);
	tcase_add_test(tc, test_decode_ok);
	tcase_add_test(tc, test_decode_utf8);
	tcase_add_test(tc, test_decode_depth);
	tcase_add_test(tc, test_decode_strings);
	tcase_add_test(tc, test_decode_bad_json);
	tcase_add_test(tc, test_decode_not_object);
	tcase_add_test(tc, test_decode_msg_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_error_reply_utf8);
	tcase_add_test(tc, test_ok_reply);
	tcase_add_test(tc, test_err_codes);
	tcase_add_test(tc, test_encode);
	tcase_add_loop_test(tc, test_encode_matches_jansson, 0,
	    sizeof encode_cases / sizeof encode_cases[0]);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(proto_suite());
}
