#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "net.h"
#include "spawn.h"

/* rc in the head table: WHOLE means "complete, the whole input is the head". */
#define WHOLE 1

static const struct {
	const char *in;
	bool req;
	int rc;
	const char *method, *target, *path, *query;
	int status;
	const char *reason;
	int minor;
	int64_t cl;
	bool chunked, ka, expect;
} heads[] = {
	/* Well-formed requests. */
	{ .in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "GET", .target = "/", .path = "/", .query = "", .minor = 1, .cl = -1,
	  .ka = true },
	{ .in = "POST /fn?x=1&y=2 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", .req = true,
	  .rc = WHOLE, .method = "POST", .target = "/fn?x=1&y=2", .path = "/fn",
	  .query = "x=1&y=2", .minor = 1, .cl = 5, .ka = true },
	{ .in = "GET /a?b HTTP/1.1\r\n\r\n", .req = true, .rc = WHOLE, .method = "GET",
	  .target = "/a?b", .path = "/a", .query = "b", .minor = 1, .cl = -1, .ka = true },
	{ .in = "GET /a? HTTP/1.1\r\n\r\n", .req = true, .rc = WHOLE, .method = "GET",
	  .target = "/a?", .path = "/a", .query = "", .minor = 1, .cl = -1, .ka = true },
	{ .in = "GET /a?b?c HTTP/1.1\r\n\r\n", .req = true, .rc = WHOLE, .method = "GET",
	  .target = "/a?b?c", .path = "/a", .query = "b?c", .minor = 1, .cl = -1, .ka = true },
	/* Absolute form keeps only the path. */
	{ .in = "GET http://example.com/a/b?q=1 HTTP/1.1\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "GET", .target = "/a/b?q=1", .path = "/a/b", .query = "q=1", .minor = 1,
	  .cl = -1, .ka = true },
	{ .in = "GET HTTP://h:8080/x HTTP/1.1\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "GET", .target = "/x", .path = "/x", .query = "", .minor = 1, .cl = -1,
	  .ka = true },
	/* Bare LF line ends and blank lines before the request line. */
	{ .in = "GET / HTTP/1.1\nHost: a\n\n", .req = true, .rc = WHOLE, .method = "GET",
	  .target = "/", .path = "/", .query = "", .minor = 1, .cl = -1, .ka = true },
	{ .in = "\r\nGET / HTTP/1.1\r\n\r\n", .req = true, .rc = WHOLE, .method = "GET",
	  .target = "/", .path = "/", .query = "", .minor = 1, .cl = -1, .ka = true },
	/* Keep-alive rules: 1.1 unless close, 1.0 only with keep-alive. */
	{ .in = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "GET", .target = "/", .path = "/", .query = "", .minor = 1, .cl = -1,
	  .ka = false },
	{ .in = "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", .req = true,
	  .rc = WHOLE, .method = "GET", .target = "/", .path = "/", .query = "", .minor = 1,
	  .cl = -1, .ka = false },
	{ .in = "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "GET", .target = "/", .path = "/", .query = "", .minor = 1, .cl = -1,
	  .ka = true },
	{ .in = "GET / HTTP/1.0\r\n\r\n", .req = true, .rc = WHOLE, .method = "GET",
	  .target = "/", .path = "/", .query = "", .minor = 0, .cl = -1, .ka = false },
	{ .in = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "GET", .target = "/", .path = "/", .query = "", .minor = 0, .cl = -1,
	  .ka = true },
	/* Expect: 100-continue. */
	{ .in = "PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
	  .req = true, .rc = WHOLE, .method = "PUT", .target = "/u", .path = "/u", .query = "",
	  .minor = 1, .cl = 3, .ka = true, .expect = true },
	{ .in = "PUT /u HTTP/1.1\r\nexpect: 100-Continue\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "PUT", .target = "/u", .path = "/u", .query = "", .minor = 1, .cl = -1,
	  .ka = true, .expect = true },
	{ .in = "PUT /u HTTP/1.1\r\nExpect: something\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "PUT", .target = "/u", .path = "/u", .query = "", .minor = 1, .cl = -1,
	  .ka = true, .expect = false },
	/* Framing headers. */
	{ .in = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", .req = true,
	  .rc = WHOLE, .method = "POST", .target = "/", .path = "/", .query = "", .minor = 1,
	  .cl = -1, .chunked = true, .ka = true },
	{ .in = "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", .req = true,
	  .rc = WHOLE, .method = "POST", .target = "/", .path = "/", .query = "", .minor = 1,
	  .cl = -1, .chunked = false, .ka = true },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n",
	  .req = true, .rc = WHOLE, .method = "POST", .target = "/", .path = "/", .query = "",
	  .minor = 1, .cl = 7, .ka = true },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", .req = true, .rc = WHOLE,
	  .method = "POST", .target = "/", .path = "/", .query = "", .minor = 1, .cl = 0,
	  .ka = true },
	{ .in = "POST / HTTP/1.1\r\nContent-Length:    12   \r\n\r\n", .req = true,
	  .rc = WHOLE, .method = "POST", .target = "/", .path = "/", .query = "", .minor = 1,
	  .cl = 12, .ka = true },

	/* Incomplete heads ask for more. */
	{ .in = "", .req = true, .rc = 0 },
	{ .in = "GET / HTTP/1.1\r\nHost: a\r\n", .req = true, .rc = 0 },
	{ .in = "GET / HTTP/1.1\r\nHost: a\r\n\r", .req = true, .rc = 0 },

	/* Malformed request lines. */
	{ .in = "GET  / HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = " GET / HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1 x\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.10\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/2.0\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / http/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET /\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "G(T / HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET foo HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET * HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET http://example.com HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET /a\x01 HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET /a\x7f HTTP/1.1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	/* Malformed header lines. */
	{ .in = "GET / HTTP/1.1\r\nNoColon\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\n: v\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\nName : v\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\nX: a\rz\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	/* obs-fold (a continuation line) is rejected, not joined. */
	{ .in = "GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\nX: a\r\n\tb: c\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	/* Content-Length and Transfer-Encoding. */
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .req = true, .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	  .req = true, .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  .req = true, .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", .req = true,
	  .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", .req = true, .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", .req = true,
	  .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", .req = true,
	  .rc = -ERR_PARSE },
	{ .in = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", .req = true,
	  .rc = -ERR_PARSE },

	/* Responses. */
	{ .in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", .req = false, .rc = WHOLE,
	  .status = 200, .reason = "OK", .minor = 1, .cl = 2, .ka = true },
	{ .in = "HTTP/1.1 404 Not Found\r\n\r\n", .req = false, .rc = WHOLE, .status = 404,
	  .reason = "Not Found", .minor = 1, .cl = -1, .ka = true },
	{ .in = "HTTP/1.1 204\r\n\r\n", .req = false, .rc = WHOLE, .status = 204, .reason = "",
	  .minor = 1, .cl = -1, .ka = true },
	{ .in = "HTTP/1.0 200 OK\r\n\r\n", .req = false, .rc = WHOLE, .status = 200,
	  .reason = "OK", .minor = 0, .cl = -1, .ka = false },
	{ .in = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", .req = false, .rc = WHOLE,
	  .status = 200, .reason = "OK", .minor = 1, .cl = -1, .ka = false },
	/* A response may carry both; chunked wins (RFC 9112 6.3). */
	{ .in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .req = false, .rc = WHOLE, .status = 200, .reason = "OK", .minor = 1, .cl = -1,
	  .chunked = true, .ka = true },
	/* Expect means nothing on a response. */
	{ .in = "HTTP/1.1 200 OK\r\nExpect: 100-continue\r\n\r\n", .req = false, .rc = WHOLE,
	  .status = 200, .reason = "OK", .minor = 1, .cl = -1, .ka = true, .expect = false },
	{ .in = "HTTP/1.1 99 Low\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "HTTP/1.1 2000 X\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "HTTP/1.1 20 X\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "HTTP/1.1 abc X\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "HTTP/1.1  200 OK\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "HTTP/2 200 OK\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "GET / HTTP/1.1\r\n\r\n", .req = false, .rc = -ERR_PARSE },
	{ .in = "HTTP/1.1 200 OK\r\n\r\n", .req = true, .rc = -ERR_PARSE },
};

static void check_str(const char *what, const char *got, const char *want, size_t i)
{
	if (!want)
		return;
	ck_assert_msg(got && strcmp(got, want) == 0, "case %zu (%s): %s '%s', want '%s'", i,
		      heads[i].in, what, got ? got : "(null)", want);
}

START_TEST(test_head_table)
{
	struct http_head h;
	size_t len = strlen(heads[_i].in);
	int rc = http_head_parse(&h, heads[_i].in, len, heads[_i].req);
	int want = heads[_i].rc == WHOLE ? (int)len : heads[_i].rc;

	ck_assert_msg(rc == want, "case %d '%s': rc %d, want %d", _i, heads[_i].in, rc, want);
	if (rc <= 0) {
		ck_assert_ptr_null(h.raw);
		return;
	}
	check_str("method", h.method, heads[_i].method, (size_t)_i);
	check_str("target", h.target, heads[_i].target, (size_t)_i);
	check_str("path", h.path, heads[_i].path, (size_t)_i);
	check_str("query", h.query, heads[_i].query, (size_t)_i);
	check_str("reason", h.reason, heads[_i].reason, (size_t)_i);
	if (!heads[_i].req)
		ck_assert_int_eq(h.status, heads[_i].status);
	ck_assert_int_eq(h.minor, heads[_i].minor);
	ck_assert_msg(h.content_length == heads[_i].cl, "case %d: content_length %lld", _i,
		      (long long)h.content_length);
	ck_assert_int_eq(h.chunked, heads[_i].chunked);
	ck_assert_msg(h.keep_alive == heads[_i].ka, "case %d: keep_alive %d", _i, h.keep_alive);
	ck_assert_int_eq(h.expect_continue, heads[_i].expect);
	http_head_release(&h);
	ck_assert_ptr_null(h.raw);
}
END_TEST

/* The head is copied: the parsed fields stay valid after the input changes,
 * and bytes after the head (the body) are not part of it. */
START_TEST(test_head_copy_and_headers)
{
	char in[] = "POST /x?a=1 HTTP/1.1\r\nHost: h\r\nX-Thing:   v  w \t\r\n"
		    "x-thing: second\r\nEmpty:\r\n\r\nBODY";
	struct http_head h;
	int rc = http_head_parse(&h, in, strlen(in), true);

	ck_assert_int_eq(rc, (int)(strlen(in) - 4));
	memset(in, 'Z', strlen(in));
	ck_assert_str_eq(h.method, "POST");
	ck_assert_str_eq(h.target, "/x?a=1");
	ck_assert_str_eq(h.path, "/x");
	ck_assert_str_eq(h.query, "a=1");
	ck_assert_uint_eq(h.nhdrs, 4);
	ck_assert_str_eq(h.hdrs[0].name, "Host");
	ck_assert_str_eq(h.hdrs[1].value, "v  w");
	ck_assert_str_eq(http_head_get(&h, "X-THING"), "v  w");
	ck_assert_str_eq(http_head_get(&h, "empty"), "");
	ck_assert_ptr_null(http_head_get(&h, "Missing"));
	http_head_release(&h);
}
END_TEST

static int parse_with_headers(int n, struct http_head *h)
{
	struct buf b;
	int i, rc;

	buf_init(&b, 1 << 20);
	buf_adds(&b, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		buf_printf(&b, "X-H%d: %d\r\n", i, i);
	buf_adds(&b, "\r\n");
	rc = http_head_parse(h, b.data, b.len, true);
	ck_assert_int_eq(rc <= 0 || (size_t)rc == b.len, 1);
	buf_release(&b);
	return rc;
}

START_TEST(test_head_header_cap)
{
	struct http_head h;

	ck_assert_int_gt(parse_with_headers(HTTP_MAX_HEADERS, &h), 0);
	ck_assert_uint_eq(h.nhdrs, HTTP_MAX_HEADERS);
	ck_assert_str_eq(http_head_get(&h, "X-H127"), "127");
	http_head_release(&h);
	ck_assert_int_eq(parse_with_headers(HTTP_MAX_HEADERS + 1, &h), -ERR_TOO_BIG);
	ck_assert_ptr_null(h.raw);
	ck_assert_int_eq(parse_with_headers(1000, &h), -ERR_TOO_BIG);
}
END_TEST

/*
 * Regression test, fixed bug (common/http.c, http_head_parse/next_line): a NUL byte inside the head
 * ends the header scan early: next_line() uses strchr(), which stops at the
 * NUL, so every header after it is silently dropped and the parse succeeds.
 * Input: "POST / HTTP/1.1\r\nX: a\0\r\nContent-Length: 5\r\n\r\n".
 * Expected: -ERR_PARSE (RFC 9110 5.5: NUL in a field value must be rejected).
 * It gave the head length (45), with nhdrs 0 and content_length -1: the
 * X header and Content-Length are both lost, so the 5-byte body would be
 * read as the start of the next request (request smuggling).
 */
START_TEST(test_head_nul_byte)
{
	static const char in[] = "POST / HTTP/1.1\r\nX: a\0\r\nContent-Length: 5\r\n\r\nhello";
	struct http_head h;
	int rc = http_head_parse(&h, in, sizeof(in) - 1 - 5, true);

	if (rc > 0) {
		ck_assert_msg(0, "NUL byte in a header accepted (rc %d, nhdrs %zu, "
				 "content_length %lld): later headers were dropped",
			      rc, h.nhdrs, (long long)h.content_length);
		http_head_release(&h);
	}
	ck_assert_int_eq(rc, -ERR_PARSE);
}
END_TEST

/*
 * Regression test, fixed bug (common/http.c, parse_framing, the Transfer-Encoding branch): the
 * comment says only "chunked" (possibly after identity) is understood, but
 * has_token() accepts "chunked" anywhere in the list, so a request with
 * "Transfer-Encoding: gzip, chunked" or "chunked, gzip" parses as plain
 * chunked. Expected -ERR_PARSE for both (RFC 9112 6.1/6.3: an unknown coding
 * gets 501, chunked not last gets 400); it used to succeed with chunked = true.
 */
START_TEST(test_head_te_list)
{
	static const char *const in[] = {
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	};
	struct http_head h;
	size_t i;

	for (i = 0; i < 2; i++) {
		int rc = http_head_parse(&h, in[i], strlen(in[i]), true);
		if (rc > 0)
			http_head_release(&h);
		ck_assert_msg(rc == -ERR_PARSE, "'%s' accepted as chunked (rc %d)", in[i], rc);
	}
}
END_TEST

/* Chunked decoding: each input is decoded whole and fed byte by byte. */
static const struct {
	const char *in;
	size_t len;     /* 0: strlen(in) */
	int rc;         /* 1 done, 0 needs more, -ERR_PARSE */
	const char *out;
	size_t out_len; /* 0: strlen(out) */
	size_t used;    /* for done: bytes consumed, 0: whole input */
} chunks[] = {
	{ "5\r\nhello\r\n0\r\n\r\n", 0, 1, "hello", 0, 0 },
	{ "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 0, 1, "abcde", 0, 0 },
	{ "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 0, 1,
	  "0123456789abcdefghij", 0, 0 },
	{ "0\r\n\r\n", 0, 1, "", 0, 0 },
	{ "000\r\n\r\n", 0, 1, "", 0, 0 },
	{ "05\r\nhello\r\n0\r\n\r\n", 0, 1, "hello", 0, 0 },
	/* Extensions and trailers are skipped. */
	{ "5;name=value\r\nhello\r\n0;last\r\n\r\n", 0, 1, "hello", 0, 0 },
	{ "5 ; a=\"b;c\"\r\nhello\r\n0\r\n\r\n", 0, 1, "hello", 0, 0 },
	{ "5\r\nhello\r\n0\r\nX-Trailer: v\r\nY: z\r\n\r\n", 0, 1, "hello", 0, 0 },
	/* Bare LF. */
	{ "5\nhello\n0\n\n", 0, 1, "hello", 0, 0 },
	/* NUL bytes in the data survive. */
	{ "3\r\na\0b\r\n0\r\n\r\n", 13, 1, "a\0b", 3, 0 },
	/* Bytes after the end are not consumed. */
	{ "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1", 0, 1, "x", 0, 11 },
	/* Incomplete input. */
	{ "5\r\nhel", 0, 0, "hel", 0, 0 },
	{ "5\r\nhello\r\n0\r\n", 0, 0, "hello", 0, 0 },
	{ "5\r\nhello\r\n0\r\nX: y\r\n", 0, 0, "hello", 0, 0 },
	/* Malformed. */
	{ "x\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ ";ext\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "-5\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "0x5\r\nhello\r\n0\r\n\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "5\rX", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "5\r\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "5\r\nhelloX\r\n0\r\n\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "5\r\nhello\rX", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "3\r\nhello\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "10000000000000000\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
	{ "ffffffffffffffffff\r\n", 0, -ERR_PARSE, NULL, 0, 0 },
};

START_TEST(test_chunked_whole)
{
	size_t len = chunks[_i].len ? chunks[_i].len : strlen(chunks[_i].in);
	char *b = malloc(len + 1);
	struct http_chunked c = { 0 };
	size_t used = 99, out = 99;
	int rc;

	memcpy(b, chunks[_i].in, len);
	rc = http_chunked_decode(&c, b, len, &used, &out);
	ck_assert_msg(rc == chunks[_i].rc, "case %d: rc %d", _i, rc);
	if (rc >= 0) {
		size_t olen = chunks[_i].out_len ? chunks[_i].out_len : strlen(chunks[_i].out);
		ck_assert_uint_eq(out, olen);
		ck_assert_mem_eq(b, chunks[_i].out, olen);
		ck_assert_uint_eq(used, chunks[_i].used ? chunks[_i].used : len);
	}
	free(b);
}
END_TEST

START_TEST(test_chunked_bytewise)
{
	size_t len = chunks[_i].len ? chunks[_i].len : strlen(chunks[_i].in);
	struct http_chunked c = { 0 };
	struct buf dec;
	size_t i, consumed = 0;
	int rc = 0;

	buf_init(&dec, 4096);
	for (i = 0; i < len; i++) {
		char one = chunks[_i].in[i];
		size_t used = 99, out = 99;

		rc = http_chunked_decode(&c, &one, 1, &used, &out);
		if (rc < 0)
			break;
		ck_assert_uint_le(out, used);
		if (out)
			buf_add(&dec, &one, out);
		consumed += used;
		if (rc == 1) {
			ck_assert_uint_eq(used, 1);
			break;
		}
		ck_assert_uint_eq(used, 1);
	}
	ck_assert_msg(rc == chunks[_i].rc, "case %d: rc %d at byte %zu", _i, rc, i);
	if (rc >= 0) {
		size_t olen = chunks[_i].out_len ? chunks[_i].out_len : strlen(chunks[_i].out);
		ck_assert_uint_eq(dec.len, olen);
		ck_assert_mem_eq(buf_cstr(&dec), chunks[_i].out, olen);
		ck_assert_uint_eq(consumed, chunks[_i].used ? chunks[_i].used : len);
	}
	/* Once done, the decoder consumes nothing more. */
	if (rc == 1) {
		char more[] = "5\r\nhello";
		size_t used = 99, out = 99;
		ck_assert_int_eq(http_chunked_decode(&c, more, 8, &used, &out), 1);
		ck_assert_uint_eq(used, 0);
		ck_assert_uint_eq(out, 0);
	}
	buf_release(&dec);
}
END_TEST

START_TEST(test_chunked_long_lines)
{
	struct buf in;
	struct http_chunked c = { 0 };
	size_t used, out;

	/* An extension longer than the line cap. */
	buf_init(&in, 1 << 16);
	buf_adds(&in, "5;");
	while (in.len < 5000)
		buf_addc(&in, 'e');
	buf_adds(&in, "\r\nhello\r\n0\r\n\r\n");
	ck_assert_int_eq(http_chunked_decode(&c, in.data, in.len, &used, &out), -ERR_PARSE);
	/* A trailer line longer than the cap. */
	buf_reset(&in);
	memset(&c, 0, sizeof(c));
	buf_adds(&in, "0\r\nX: ");
	while (in.len < 5000)
		buf_addc(&in, 't');
	buf_adds(&in, "\r\n\r\n");
	ck_assert_int_eq(http_chunked_decode(&c, in.data, in.len, &used, &out), -ERR_PARSE);
	/* Many short trailers are fine. */
	buf_reset(&in);
	memset(&c, 0, sizeof(c));
	buf_adds(&in, "0\r\n");
	while (in.len < 20000)
		buf_adds(&in, "X-Trailer: value\r\n");
	buf_adds(&in, "\r\n");
	ck_assert_int_eq(http_chunked_decode(&c, in.data, in.len, &used, &out), 1);
	ck_assert_uint_eq(used, in.len);
	buf_release(&in);
}
END_TEST

/* A body read over a socketpair: the wire bytes are written up front (or by
 * a thread), the head is parsed from the rbuf and the body read through
 * http_body_read(). */
struct wire {
	int sv[2];
	struct rbuf *r;
	struct http_head h;
	struct http_body b;
};

static void wire_open(struct wire *w, const char *data, size_t len)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->sv), 0);
	w->r = malloc(sizeof(*w->r));
	ck_assert_ptr_nonnull(w->r);
	rbuf_init(w->r, w->sv[0]);
	if (len)
		ck_assert_int_eq(net_write_all(w->sv[1], data, len, 0), 0);
}

/* Reads until the head is complete and starts the body. */
static void wire_head(struct wire *w, bool is_response, uint64_t cap, int64_t deadline)
{
	int rc;

	for (;;) {
		rc = http_head_parse(&w->h, w->r->data + w->r->start, rbuf_avail(w->r),
				     !is_response);
		if (rc)
			break;
		ck_assert_int_gt(rbuf_fill(w->r, false, deadline), 0);
	}
	ck_assert_int_gt(rc, 0);
	w->r->start += (size_t)rc;
	http_body_init(&w->b, &w->h, w->r, is_response, cap, deadline);
}

static void wire_close(struct wire *w)
{
	http_head_release(&w->h);
	if (w->sv[0] >= 0)
		close(w->sv[0]);
	if (w->sv[1] >= 0)
		close(w->sv[1]);
	free(w->r);
}

/* Reads the whole body into out; returns the last code (0 at the end). */
static ssize_t read_all(struct http_body *b, struct buf *out, size_t step)
{
	char tmp[4096];

	if (step > sizeof(tmp))
		step = sizeof(tmp);
	for (;;) {
		ssize_t n = http_body_read(b, tmp, step, false);
		if (n <= 0)
			return n;
		ck_assert_uint_le((size_t)n, step);
		ck_assert_int_eq(buf_add(out, tmp, (size_t)n), 0);
	}
}

START_TEST(test_body_content_length)
{
	static const char msg[] = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello worldGET";
	struct wire w;
	struct buf out;

	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, mono_ms() + 10000);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(read_all(&w.b, &out, 4), 0);
	ck_assert_str_eq(buf_cstr(&out), "hello world");
	ck_assert_uint_eq(w.b.total, 11);
	/* The next request's bytes stay in the buffer. */
	ck_assert_uint_eq(rbuf_avail(w.r), 3);
	ck_assert_mem_eq(w.r->data + w.r->start, "GET", 3);
	ck_assert_int_eq(http_body_read(&w.b, out.data, 1, false), 0);
	buf_release(&out);
	wire_close(&w);
}
END_TEST

START_TEST(test_body_no_length_request)
{
	static const char msg[] = "GET / HTTP/1.1\r\n\r\n";
	struct wire w;
	char tmp[8];

	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, mono_ms() + 10000);
	/* Nothing more was sent and nothing is awaited. */
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), 0);
	ck_assert_int_eq(http_body_skip(&w.b, 0), 0);
	wire_close(&w);
}
END_TEST

START_TEST(test_body_chunked)
{
	static const char msg[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "5;x=y\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: v\r\n\r\nNEXT";
	size_t step;

	for (step = 1; step <= 64; step *= 4) {
		struct wire w;
		struct buf out;

		wire_open(&w, msg, sizeof(msg) - 1);
		wire_head(&w, false, 0, mono_ms() + 10000);
		buf_init(&out, 1 << 20);
		ck_assert_int_eq(read_all(&w.b, &out, step), 0);
		ck_assert_str_eq(buf_cstr(&out), "hello world");
		ck_assert_uint_eq(rbuf_avail(w.r), 4);
		ck_assert_mem_eq(w.r->data + w.r->start, "NEXT", 4);
		buf_release(&out);
		wire_close(&w);
	}
}
END_TEST

struct trickle {
	int fd;
	const char *data;
	size_t len;
	bool close_after;
};

static void *trickle_main(void *arg)
{
	struct trickle *t = arg;
	size_t i;

	for (i = 0; i < t->len; i++)
		if (net_write_all(t->fd, t->data + i, 1, 0))
			break;
	if (t->close_after)
		shutdown(t->fd, SHUT_WR);
	return NULL;
}

/* The same chunked body arriving one byte per write. */
START_TEST(test_body_chunked_trickle)
{
	static const char msg[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "a\r\n0123456789\r\n3;e\r\nabc\r\n0\r\nX: y\r\n\r\n";
	struct trickle t;
	struct wire w;
	struct buf out;
	pthread_t th;

	wire_open(&w, NULL, 0);
	t = (struct trickle){ w.sv[1], msg, sizeof(msg) - 1, false };
	ck_assert_int_eq(pthread_create(&th, NULL, trickle_main, &t), 0);
	wire_head(&w, true, 0, mono_ms() + 10000);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(read_all(&w.b, &out, 4096), 0);
	ck_assert_str_eq(buf_cstr(&out), "0123456789abc");
	pthread_join(th, NULL);
	buf_release(&out);
	wire_close(&w);
}
END_TEST

START_TEST(test_body_until_close)
{
	static const char msg[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc";
	struct trickle t;
	struct wire w;
	struct buf out;
	pthread_t th;

	wire_open(&w, NULL, 0);
	t = (struct trickle){ w.sv[1], msg, sizeof(msg) - 1, true };
	ck_assert_int_eq(pthread_create(&th, NULL, trickle_main, &t), 0);
	wire_head(&w, true, 0, mono_ms() + 10000);
	ck_assert(w.b.until_close);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(read_all(&w.b, &out, 4096), 0);
	ck_assert_str_eq(buf_cstr(&out), "abc");
	pthread_join(th, NULL);
	buf_release(&out);
	wire_close(&w);
}
END_TEST

START_TEST(test_body_cap)
{
	static const char *const msgs[] = {
		"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n8\r\ndefghijk\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nhello world",
	};
	size_t i;

	for (i = 0; i < 3; i++) {
		struct wire w;
		struct buf out;

		wire_open(&w, msgs[i], strlen(msgs[i]));
		shutdown(w.sv[1], SHUT_WR);
		wire_head(&w, i == 2, 5, mono_ms() + 10000);
		buf_init(&out, 1 << 20);
		ck_assert_msg(read_all(&w.b, &out, 2) == -ERR_TOO_BIG, "message %zu", i);
		ck_assert_uint_le(out.len, 5);
		buf_release(&out);
		wire_close(&w);

		/* Exactly at the cap is fine. */
		wire_open(&w, msgs[i], strlen(msgs[i]));
		shutdown(w.sv[1], SHUT_WR);
		wire_head(&w, i == 2, 11, mono_ms() + 10000);
		buf_init(&out, 1 << 20);
		ck_assert_int_eq(read_all(&w.b, &out, 3), 0);
		ck_assert_uint_eq(out.len, 11);
		buf_release(&out);
		wire_close(&w);
	}
}
END_TEST

START_TEST(test_body_skip)
{
	static const char msg[] = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello worldX";
	struct wire w;

	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, mono_ms() + 10000);
	ck_assert_int_eq(http_body_skip(&w.b, 10), -ERR_TOO_BIG);
	wire_close(&w);
	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, mono_ms() + 10000);
	ck_assert_int_eq(http_body_skip(&w.b, 11), 0);
	ck_assert_uint_eq(rbuf_avail(w.r), 1);
	wire_close(&w);
}
END_TEST

START_TEST(test_body_timeout_and_close)
{
	static const char msg[] = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
	static const char cut[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe";
	static const char bad[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	struct wire w;
	char tmp[64];

	/* The sender stalls: the deadline ends the read. */
	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, mono_ms() + 10000);
	w.b.deadline_ms = mono_ms() + 100;
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), 3);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), -ERR_TIMEOUT);
	wire_close(&w);

	/* Non-blocking: nothing ready. */
	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, 0);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), true), 3);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), true), -EAGAIN);
	wire_close(&w);

	/* The sender goes away early. */
	wire_open(&w, msg, sizeof(msg) - 1);
	wire_head(&w, false, 0, mono_ms() + 10000);
	close(w.sv[1]);
	w.sv[1] = -1;
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), 3);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), -ERR_CLOSED);
	wire_close(&w);

	/* A chunked body cut short, then one with bad framing. */
	wire_open(&w, cut, strlen(cut));
	wire_head(&w, false, 0, mono_ms() + 10000);
	shutdown(w.sv[1], SHUT_WR);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), 2);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), -ERR_CLOSED);
	wire_close(&w);
	wire_open(&w, bad, strlen(bad));
	wire_head(&w, false, 0, mono_ms() + 10000);
	ck_assert_int_eq(http_body_read(&w.b, tmp, sizeof(tmp), false), -ERR_PARSE);
	wire_close(&w);
}
END_TEST

static const struct {
	const char *in;
	size_t cap;
	const char *out;
} canon[] = {
	{ "content-type", 64, "Content-Type" },
	{ "X-CALL-ID", 64, "X-Call-Id" },
	{ "x-forwarded-for", 64, "X-Forwarded-For" },
	{ "www-authenticate", 64, "Www-Authenticate" },
	{ "host", 64, "Host" },
	{ "a", 64, "A" },
	{ "-x-", 64, "-X-" },
	{ "x--y", 64, "X--Y" },
	{ "x_y", 64, "X_y" },
	{ "", 64, "" },
	{ "content-type", 5, "Cont" },
	{ "content-type", 1, "" },
};

START_TEST(test_canonical)
{
	char out[64];

	memset(out, '#', sizeof(out));
	http_canonical(canon[_i].in, out, canon[_i].cap);
	ck_assert_str_eq(out, canon[_i].out);
	if (canon[_i].cap < sizeof(out))
		ck_assert_int_eq(out[canon[_i].cap], '#');
}
END_TEST

START_TEST(test_canonical_cap_zero)
{
	char out[4] = "###";

	http_canonical("abc", out, 0);
	ck_assert_str_eq(out, "###");
}
END_TEST

static const struct {
	const char *name;
	bool hop;
} hops[] = {
	{ "Connection", true },        { "connection", true },  { "Keep-Alive", true },
	{ "Proxy-Authenticate", true }, { "Proxy-Authorization", true },
	{ "Proxy-Connection", true },  { "TE", true },          { "te", true },
	{ "Trailer", true },           { "Transfer-Encoding", true },
	{ "UPGRADE", true },           { "Content-Type", false }, { "Content-Length", false },
	{ "X-Call-Id", false },        { "Authorization", false }, { "Trailers", false },
	{ "", false },                 { "Connection ", false },
};

START_TEST(test_hop_by_hop)
{
	ck_assert_msg(http_hop_by_hop(hops[_i].name) == hops[_i].hop, "'%s'", hops[_i].name);
}
END_TEST

static const struct {
	int status;
	const char *text;
} reasons[] = {
	{ 100, "Continue" }, { 200, "OK" }, { 202, "Accepted" }, { 204, "No Content" },
	{ 302, "Found" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
	{ 409, "Conflict" }, { 413, "Payload Too Large" }, { 429, "Too Many Requests" },
	{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
	{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	{ 418, "" }, { 0, "" }, { -1, "" }, { 999, "" },
};

START_TEST(test_reason)
{
	ck_assert_str_eq(http_reason(reasons[_i].status), reasons[_i].text);
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("http");
	TCase *head = tcase_create("head");
	TCase *chunked = tcase_create("chunked");
	TCase *body = tcase_create("body");
	TCase *names = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(head, test_head_table, 0, N(heads));
	tcase_add_test(head, test_head_copy_and_headers);
	tcase_add_test(head, test_head_header_cap);
	tcase_add_loop_test(chunked, test_chunked_whole, 0, N(chunks));
	tcase_add_loop_test(chunked, test_chunked_bytewise, 0, N(chunks));
	tcase_add_test(chunked, test_chunked_long_lines);
	tcase_add_test(body, test_body_content_length);
	tcase_add_test(body, test_body_no_length_request);
	tcase_add_test(body, test_body_chunked);
	tcase_add_test(body, test_body_chunked_trickle);
	tcase_add_test(body, test_body_until_close);
	tcase_add_test(body, test_body_cap);
	tcase_add_test(body, test_body_skip);
	tcase_add_test(body, test_body_timeout_and_close);
	tcase_add_loop_test(names, test_canonical, 0, N(canon));
	tcase_add_test(names, test_canonical_cap_zero);
	tcase_add_loop_test(names, test_hop_by_hop, 0, N(hops));
	tcase_add_loop_test(names, test_reason, 0, N(reasons));
	tcase_add_test(head, test_head_nul_byte);
	tcase_add_test(head, test_head_te_list);
	suite_add_tcase(s, head);
	suite_add_tcase(s, chunked);
	suite_add_tcase(s, body);
	suite_add_tcase(s, names);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
