/*
 * http.h - HTTP/1.1 message heads, bodies and header names.
 *
 * A head is parsed from a buffer once it is complete ("\r\n\r\n" seen); the
 * parsed struct copies the head, so it stays valid after the buffer moves
 * on. Bodies are read through struct http_body, which hides Content-Length
 * and chunked framing and enforces a size cap.
 */
#ifndef CFAAS_HTTP_H
#define CFAAS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "net.h"

#define HTTP_MAX_HEADERS 128

struct http_hdr {
	const char *name;
	const char *value;
};

struct http_head {
	char *raw;            /* owned copy of the head, NUL-separated fields */
	/* Request line. */
	const char *method;
	const char *target;   /* as sent: path[?query] */
	const char *path;     /* target up to '?', owned by raw */
	const char *query;    /* after '?', "" if none */
	/* Status line. */
	int status;
	const char *reason;
	int minor;            /* HTTP/1.<minor> */
	size_t nhdrs;
	struct http_hdr hdrs[HTTP_MAX_HEADERS];
	/* Framing, derived from the headers. */
	int64_t content_length; /* -1 when absent */
	bool chunked;
	bool keep_alive;
	bool expect_continue;
};

/* Parses a request (is_request) or response head at the start of
 * data[0..len). Returns the head's length (> 0) when complete, 0 when more
 * bytes are needed, -ERR_TOO_BIG for more than HTTP_MAX_HEADERS headers,
 * -ERR_PARSE when malformed (also for conflicting framing headers). On
 * success h must be released with http_head_release(). */
int http_head_parse(struct http_head *h, const char *data, size_t len, bool is_request);

void http_head_release(struct http_head *h);

/* The value of the first header named name (case-insensitive), or NULL;
 * borrowed from h. */
const char *http_head_get(const struct http_head *h, const char *name);

/* True for hop-by-hop headers that a proxy must not forward. */
bool http_hop_by_hop(const char *name);

/* Canonical form as Go writes it: "content-type" -> "Content-Type". Writes
 * into out (cap bytes, NUL-terminated). */
void http_canonical(const char *name, char *out, size_t cap);

/* The standard reason phrase for a status code ("OK", ...), "" if unknown. */
const char *http_reason(int status);

/* Incremental chunked-encoding decoder. */
struct http_chunked {
	int state;
	uint64_t left;   /* bytes left in the current chunk */
	size_t line;     /* length of the current size or trailer line */
};

/* Decodes in place: consumes bytes of buf[0..len) and moves decoded data
 * to the front of buf. *used gets the bytes consumed, *out the decoded
 * bytes now at buf[0..*out). Returns 1 when the whole body (with trailers)
 * has been consumed, 0 when more input is needed, -ERR_PARSE if malformed. */
int http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
			size_t *used, size_t *out);

/* A request or response body being read from an rbuf. */
struct http_body {
	struct rbuf *r;
	int64_t deadline_ms;
	int64_t left;        /* Content-Length mode: bytes still to come */
	bool chunked;
	bool until_close;    /* response without length: read to EOF */
	bool done;
	struct http_chunked ck;
	uint64_t total;      /* decoded bytes handed out so far */
	uint64_t cap;        /* 0: no cap */
};

/* Prepares to read the body that follows head h (already consumed from r). */
void http_body_init(struct http_body *b, const struct http_head *h, struct rbuf *r,
		    bool is_response, uint64_t cap, int64_t deadline_ms);

/* Reads up to cap decoded bytes into out: >0 bytes, 0 at the end, -EAGAIN
 * when nonblock and nothing is ready, -ERR_TOO_BIG past the body cap,
 * -ERR_TIMEOUT, -ERR_CLOSED if the peer closed early, -ERR_PARSE. */
ssize_t http_body_read(struct http_body *b, void *out, size_t cap, bool nonblock);

/* Reads and throws away the rest of the body (at most limit bytes). 0 when
 * the whole body was consumed, else a negative code. */
int http_body_skip(struct http_body *b, uint64_t limit);

#endif
