/*
 * proto: framing, decoding, error replies and encoding (see proto.h).
 *
 * Bad input is turned into a specific error as cheaply as possible: the
 * framer looks at no more than max_line + 2 bytes, and the decoder checks
 * UTF-8 and nesting depth with two linear scans before jansson sees the
 * line, so a megabyte of "[" costs one pass and no allocation.
 *
 * Error messages may quote the client's input (jansson's "near '...'"), so
 * proto_error_reply() replaces any byte that is not valid UTF-8 before it
 * builds the JSON string: a reply can always be encoded.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "xmalloc.h"

/* Longest error message in a reply, NUL included. */
#define PROTO_MSG_MAX 512

#define PROTO_ERR_CODE(name, code) [PROTO_E_##name] = code,
static const char *const proto_err_codes[] = {PROTO_ERRORS(PROTO_ERR_CODE)};
#undef PROTO_ERR_CODE

static void proto_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *
proto_err_code(enum proto_err err)
{
	if ((unsigned)err >= PROTO_E_MAX)
		return proto_err_codes[PROTO_E_INTERNAL];
	return proto_err_codes[err];
}

int
proto_err_parse(const char *code)
{
	int i;

	if (code == NULL)
		return -1;
	for (i = 0; i < PROTO_E_MAX; i++) {
		if (strcmp(code, proto_err_codes[i]) == 0)
			return i;
	}
	return -1;
}

enum proto_frame
proto_frame_next(const char *buf, size_t len, size_t max_line, size_t *line_len,
    size_t *consumed)
{
	const char *nl;
	size_t scan, n;

	*line_len = 0;
	*consumed = 0;
	/* Content of max_line bytes may be followed by "\r\n". */
	scan = max_line > SIZE_MAX - 2 ? len : max_line + 2;
	if (scan > len)
		scan = len;
	if ((nl = memchr(buf, '\n', scan)) == NULL) {
		/*
		 * A "\r" just past max_line bytes may still be the start of
		 * the line's "\r\n".
		 */
		if (len > max_line &&
		    (len - max_line > 1 || buf[max_line] != '\r'))
			return PROTO_FRAME_TOO_LONG;
		return PROTO_FRAME_PARTIAL;
	}
	n = (size_t)(nl - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > max_line)
		return PROTO_FRAME_TOO_LONG;
	*line_len = n;
	*consumed = (size_t)(nl - buf) + 1;
	return PROTO_FRAME_LINE;
}

/* Length of the valid UTF-8 sequence at s[0, len), or 0 if it is invalid. */
static size_t
proto_utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0; /* continuation byte, overlong 0xc0/0xc1, 0xf5.. */
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/* Offset of the first byte that is not valid UTF-8, or len. */
static size_t
proto_utf8_scan(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		if ((n = proto_utf8_seq(u + i, len - i)) == 0)
			return i;
	}
	return len;
}

int
proto_utf8_valid(const char *s, size_t len)
{
	return proto_utf8_scan(s, len) == len;
}

/*
 * Deepest nesting of arrays and objects outside strings.  The line need not
 * be valid JSON: this only bounds what jansson will be asked to parse.
 */
static size_t
proto_depth(const char *s, size_t len)
{
	size_t i, depth, deepest;
	int in_string, escaped;

	depth = deepest = 0;
	in_string = escaped = 0;
	for (i = 0; i < len; i++) {
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (s[i] == '\\')
				escaped = 1;
			else if (s[i] == '"')
				in_string = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			in_string = 1;
			break;
		case '[':
		case '{':
			if (++depth > deepest)
				deepest = depth;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return deepest;
}

static void
proto_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL || msglen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

int
proto_decode(const char *line, size_t len, size_t max_depth, json_t **out,
    enum proto_err *err, char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *j;
	const char *nul;
	size_t off, i;

	*out = NULL;
	if ((off = proto_utf8_scan(line, len)) != len) {
		*err = PROTO_E_BAD_UTF8;
		proto_msg(msg, msglen, "request is not valid UTF-8 (byte %zu)",
		    off + 1);
		return -1;
	}
	if (proto_depth(line, len) > max_depth) {
		*err = PROTO_E_TOO_DEEP;
		proto_msg(msg, msglen, "request nests deeper than %zu levels",
		    max_depth);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' &&
		    line[i] != '\n')
			break;
	}
	if (i == len) {
		*err = PROTO_E_BAD_JSON;
		proto_msg(msg, msglen, "empty request");
		return -1;
	}
	if ((nul = memchr(line, '\0', len)) != NULL) {
		*err = PROTO_E_BAD_JSON;
		proto_msg(msg, msglen,
		    "invalid JSON: NUL byte in request (byte %zu)",
		    (size_t)(nul - line) + 1);
		return -1;
	}
	/* No JSON_DISABLE_EOF_CHECK: trailing garbage is an error.  A key
	 * given twice is too: which one counts would be a guess. */
	if ((j = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	         &jerr)) == NULL) {
		*err = PROTO_E_BAD_JSON;
		proto_msg(msg, msglen, "invalid JSON at column %d: %s",
		    jerr.column,
		    strstr(jerr.text, "JSON_ALLOW_NUL") != NULL
		        ? "\\u0000 (NUL) is not allowed in a string"
		        : jerr.text);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*err = PROTO_E_BAD_REQUEST;
		proto_msg(msg, msglen, "request must be a JSON object");
		return -1;
	}
	*out = j;
	return 0;
}

/* Replace each byte of s that is not part of valid UTF-8 with '?'. */
static void
proto_utf8_sanitize(char *s)
{
	size_t len, i, n;

	len = strlen(s);
	for (i = 0; i < len; i += n) {
		n = proto_utf8_seq((const unsigned char *)s + i, len - i);
		if (n == 0) {
			s[i] = '?';
			n = 1;
		}
	}
}

static void
proto_set(json_t *obj, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(obj, key, value) == -1)
		fatalx("proto: cannot set \"%s\" in a reply", key);
}

/* A new reply object holding a copy of id (if any) and "ok". */
static json_t *
proto_reply(const json_t *id, int ok)
{
	json_t *obj;

	if ((obj = json_object()) == NULL)
		fatalx("proto: json_object failed");
	if (id != NULL)
		proto_set(obj, "id", json_deep_copy(id));
	proto_set(obj, "ok", json_boolean(ok));
	return obj;
}

json_t *
proto_error_reply(const json_t *id, enum proto_err err, const char *fmt, ...)
{
	char buf[PROTO_MSG_MAX];
	json_t *obj, *error;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* The message may quote client bytes; json_string() wants UTF-8. */
	proto_utf8_sanitize(buf);

	if ((error = json_object()) == NULL)
		fatalx("proto: json_object failed");
	proto_set(error, "code", json_string(proto_err_code(err)));
	proto_set(error, "message", json_string(buf));
	obj = proto_reply(id, 0);
	proto_set(obj, "error", error);
	return obj;
}

json_t *
proto_ok_reply(const json_t *id)
{
	return proto_reply(id, 1);
}

/*
 * The encoder.  jansson's json_dumps() is correct but slow on the hot path:
 * to detect cycles it formats every container's address into a hash table.
 * Our replies are trees we built ourselves, so this writer walks them
 * directly into one growing buffer; its output is byte for byte what
 * json_dumps(JSON_COMPACT) produces (tests compare the two).
 */
struct encbuf {
	char *p;
	size_t len, cap;
};

static void
enc_reserve(struct encbuf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	while (b->len + n > b->cap)
		b->cap *= 2;
	b->p = xreallocarray(b->p, b->cap, 1);
}

static void
enc_put(struct encbuf *b, const char *s, size_t n)
{
	enc_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
enc_char(struct encbuf *b, char c)
{
	enc_reserve(b, 1);
	b->p[b->len++] = c;
}

/* A JSON string: jansson holds valid UTF-8, so only escapes are needed. */
static void
enc_string(struct encbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i, run = 0;
	char esc[6];

	enc_char(b, '"');
	for (i = 0; i < n; i++) {
		if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\')
			continue;
		enc_put(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (u[i]) {
		case '"':
		case '\\':
			esc[1] = (char)u[i];
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 15];
			enc_put(b, esc, 6);
			continue;
		}
		enc_put(b, esc, 2);
	}
	enc_put(b, s + run, n - run);
	enc_char(b, '"');
}

static void
enc_integer(struct encbuf *b, json_int_t v)
{
	char num[24], *p = num + sizeof num;
	/* Negate in unsigned arithmetic: INT64_MIN has no positive twin. */
	unsigned long long u =
	    v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	enc_put(b, p, (size_t)(num + sizeof num - p));
}

static void
enc_real(struct encbuf *b, double d)
{
	char text[64];
	int n;

	/* As jansson: 17 significant digits, and always recognisable as a
	 * real. */
	char *e, *digits;

	n = snprintf(text, sizeof text, "%.17g", d);
	if ((e = strchr(text, 'e')) != NULL) {
		/* "1e+300" -> "1e300", "1e-07" -> "1e-7" */
		digits = e + 1;
		if (*digits == '-')
			digits++;
		e = digits;
		while (*e == '+' || *e == '0')
			e++;
		memmove(digits, e, strlen(e) + 1);
		n = (int)strlen(text);
	}
	if (strpbrk(text, ".eE") == NULL) {
		text[n++] = '.';
		text[n++] = '0';
		text[n] = '\0';
	}
	enc_put(b, text, (size_t)n);
}

static void
enc_value(struct encbuf *b, const json_t *v)
{
	const char *key;
	void *it;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		enc_char(b, '{');
		it = json_object_iter((json_t *)(uintptr_t)v);
		for (i = 0; it != NULL; i++) {
			if (i > 0)
				enc_char(b, ',');
			key = json_object_iter_key(it);
			enc_string(b, key, json_object_iter_key_len(it));
			enc_char(b, ':');
			enc_value(b, json_object_iter_value(it));
			it = json_object_iter_next((json_t *)(uintptr_t)v, it);
		}
		enc_char(b, '}');
		break;
	case JSON_ARRAY:
		enc_char(b, '[');
		n = json_array_size(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				enc_char(b, ',');
			enc_value(b, json_array_get(v, i));
		}
		enc_char(b, ']');
		break;
	case JSON_STRING:
		enc_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		enc_integer(b, json_integer_value(v));
		break;
	case JSON_REAL:
		enc_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		enc_put(b, "true", 4);
		break;
	case JSON_FALSE:
		enc_put(b, "false", 5);
		break;
	case JSON_NULL:
		enc_put(b, "null", 4);
		break;
	}
}

size_t
proto_encode_buf(const json_t *obj, char **buf, size_t *cap)
{
	struct encbuf b = {*buf, 0, *cap};

	if (obj == NULL)
		fatalx("proto_encode: no object");
	if (b.p == NULL || b.cap == 0) {
		b.cap = 1024;
		b.p = xreallocarray(b.p, b.cap, 1);
	}
	enc_value(&b, obj);
	enc_put(&b, "\n", 2); /* the newline and a NUL */
	*buf = b.p;
	*cap = b.cap;
	return b.len - 1;
}

char *
proto_encode(const json_t *obj, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, n;

	n = proto_encode_buf(obj, &buf, &cap);
	if (len != NULL)
		*len = n;
	return buf;
}
