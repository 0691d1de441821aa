#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "http.h"
#include "banned.h"

enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER,
       CK_DONE };

#define CHUNK_LINE_MAX 4096

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Finds the end of the head: the index just past the empty line. */
static size_t head_end(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < len && data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Cuts the next line out of *p (NUL-terminating it, dropping CR). */
static char *next_line(char **p)
{
	char *line = *p, *nl = strchr(line, '\n');

	if (!nl)
		return NULL;
	*nl = '\0';
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	*p = nl + 1;
	return line;
}

static bool has_token(const char *value, const char *token)
{
	size_t n = strlen(token);

	while (value && *value) {
		while (*value == ' ' || *value == '\t' || *value == ',')
			value++;
		if (strncasecmp(value, token, n) == 0 &&
		    (value[n] == '\0' || value[n] == ',' || value[n] == ' ' || value[n] == '\t'))
			return true;
		value = strchr(value, ',');
	}
	return false;
}

static int parse_version(const char *s, int *minor)
{
	if (strncmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]))
		return -ERR_PARSE;
	*minor = s[7] - '0';
	return 0;
}

static int parse_request_line(struct http_head *h, char *line, char *spare)
{
	char *sp1 = strchr(line, ' '), *sp2, *q, *p;

	if (!sp1 || sp1 == line)
		return -ERR_PARSE;
	*sp1 = '\0';
	for (p = line; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return -ERR_PARSE;
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
		return -ERR_PARSE;
	*sp2 = '\0';
	if (parse_version(sp2 + 1, &h->minor) || sp2[9] != '\0')
		return -ERR_PARSE;
	h->method = line;
	h->target = sp1 + 1;
	p = sp1 + 1;
	if (strncasecmp(p, "http://", 7) == 0) {
		/* Absolute form: keep only the path. */
		p = strchr(p + 7, '/');
		if (!p)
			return -ERR_PARSE;
		h->target = p;
	}
	if (*p != '/')
		return -ERR_PARSE;
	for (q = p; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			return -ERR_PARSE;
	/* path and query point into a second copy kept after the target. */
	h->path = p;
	q = strchr(p, '?');
	h->query = "";
	if (q) {
		/* target must stay whole: split a copy (in the spare half of
		 * raw that http_head_parse reserved) instead. */
		size_t n = strlen(p);
		char *copy = spare;
		memcpy(copy, p, n + 1);
		h->path = copy;
		q = copy + (q - p);
		*q = '\0';
		h->query = q + 1;
	}
	return 0;
}

static int parse_status_line(struct http_head *h, char *line)
{
	const char *p = line + 8;

	if (parse_version(line, &h->minor) || *p != ' ')
		return -ERR_PARSE;
	p++;
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || (p[3] != ' ' && p[3] != '\0'))
		return -ERR_PARSE;
	h->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (h->status < 100)
		return -ERR_PARSE;
	h->reason = p[3] ? p + 4 : "";
	return 0;
}

static int parse_framing(struct http_head *h, bool is_request)
{
	const char *conn = http_head_get(h, "Connection");
	const char *expect = http_head_get(h, "Expect");
	bool have_cl = false, have_te = false;
	size_t i;

	h->content_length = -1;
	for (i = 0; i < h->nhdrs; i++) {
		const char *v = h->hdrs[i].value;
		if (strcasecmp(h->hdrs[i].name, "Content-Length") == 0) {
			int64_t n = 0;
			const char *p = v;
			if (!*p)
				return -ERR_PARSE;
			for (; *p; p++) {
				if (!isdigit((unsigned char)*p) || n > (INT64_MAX - 9) / 10)
					return -ERR_PARSE;
				n = n * 10 + (*p - '0');
			}
			if (have_cl && n != h->content_length)
				return -ERR_PARSE;
			have_cl = true;
			h->content_length = n;
		} else if (strcasecmp(h->hdrs[i].name, "Transfer-Encoding") == 0) {
			have_te = true;
			/* Only "chunked" (or "identity") is understood; a coding
			 * list such as "gzip, chunked" is refused rather than
			 * half-understood. */
			if (strcasecmp(v, "chunked") == 0)
				h->chunked = true;
			else if (strcasecmp(v, "identity") != 0)
				return -ERR_PARSE;
		}
	}
	/* Both framings at once is how requests get smuggled: refuse. */
	if (have_cl && have_te && is_request)
		return -ERR_PARSE;
	if (h->chunked)
		h->content_length = -1;
	if (h->minor >= 1)
		h->keep_alive = !has_token(conn, "close");
	else
		h->keep_alive = has_token(conn, "keep-alive");
	h->expect_continue = is_request && expect && strcasecmp(expect, "100-continue") == 0;
	return 0;
}

int http_head_parse(struct http_head *h, const char *data, size_t len, bool is_request)
{
	size_t end = head_end(data, len);
	char *p, *line;
	int rc;

	memset(h, 0, sizeof(*h));
	if (!end)
		return 0;
	/* A NUL would cut the head short when it is read as strings. */
	if (memchr(data, '\0', end))
		return -ERR_PARSE;
	/* Twice the head: the request target may be split into a copy. */
	h->raw = malloc(2 * end + 2);
	if (!h->raw)
		return -ENOMEM;
	memcpy(h->raw, data, end);
	h->raw[end] = '\0';
	p = h->raw;
	/* Blank lines before a request line are allowed (RFC 9112). */
	while (*p == '\r' || *p == '\n')
		p++;
	line = next_line(&p);
	if (!line) {
		rc = -ERR_PARSE;
		goto fail;
	}
	rc = is_request ? parse_request_line(h, line, h->raw + end + 1) :
			      parse_status_line(h, line);
	if (rc)
		goto fail;
	while ((line = next_line(&p)) && *line) {
		char *colon = strchr(line, ':'), *v, *e, *q;

		if (!colon || colon == line) {
			rc = -ERR_PARSE;
			goto fail;
		}
		for (q = line; q < colon; q++) {
			if (!is_tchar((unsigned char)*q)) {
				rc = -ERR_PARSE;
				goto fail;
			}
		}
		if (h->nhdrs == HTTP_MAX_HEADERS) {
			rc = -ERR_TOO_BIG;
			goto fail;
		}
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		for (q = v; *q; q++) {
			if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
				rc = -ERR_PARSE;
				goto fail;
			}
		}
		h->hdrs[h->nhdrs].name = line;
		h->hdrs[h->nhdrs].value = v;
		h->nhdrs++;
	}
	rc = parse_framing(h, is_request);
	if (rc)
		goto fail;
	return (int)end;
fail:
	http_head_release(h);
	return rc;
}

void http_head_release(struct http_head *h)
{
	free(h->raw);
	memset(h, 0, sizeof(*h));
}

const char *http_head_get(const struct http_head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nhdrs; i++)
		if (strcasecmp(h->hdrs[i].name, name) == 0)
			return h->hdrs[i].value;
	return NULL;
}

bool http_hop_by_hop(const char *name)
{
	static const char *const hop[] = {
		"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
	};
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(name, hop[i]) == 0)
			return true;
	return false;
}

void http_canonical(const char *name, char *out, size_t cap)
{
	bool upper = true;
	size_t i;

	if (!cap)
		return;
	for (i = 0; name[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)name[i];
		out[i] = (char)(upper ? toupper(c) : tolower(c));
		upper = c == '-';
	}
	out[i] = '\0';
}

const char *http_reason(int status)
{
	static const struct { int code; const char *text; } reasons[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" },
		{ 202, "Accepted" }, { 204, "No Content" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 304, "Not Modified" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 411, "Length Required" },
		{ 413, "Payload Too Large" }, { 415, "Unsupported Media Type" },
		{ 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return "";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_chunked_decode(struct http_chunked *c, char *buf, size_t len, size_t *used,
			size_t *out)
{
	size_t i = 0, w = 0;

	while (i < len && c->state != CK_DONE) {
		char ch = buf[i];
		switch (c->state) {
		case CK_SIZE: {
			int v = hexval(ch);
			if (v >= 0) {
				if (c->left >> 56)
					return -ERR_PARSE;
				c->left = c->left * 16 + (uint64_t)v;
				c->line++;
				i++;
			} else if (c->line && (ch == ';' || ch == ' ' || ch == '\t')) {
				c->state = CK_EXT;
			} else if (c->line && ch == '\r') {
				c->state = CK_SIZE_LF;
				i++;
			} else if (c->line && ch == '\n') {
				c->state = CK_SIZE_LF;
			} else {
				return -ERR_PARSE;
			}
			break;
		}
		case CK_EXT:
			if (ch == '\n') {
				c->state = CK_SIZE_LF;
				break;
			}
			if (++c->line > CHUNK_LINE_MAX)
				return -ERR_PARSE;
			i++;
			if (ch == '\r')
				c->state = CK_SIZE_LF;
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				return -ERR_PARSE;
			i++;
			c->line = 0;
			c->state = c->left ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA: {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			memmove(buf + w, buf + i, n);
			w += n;
			i += n;
			c->left -= n;
			if (!c->left)
				c->state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (ch == '\r') {
				c->state = CK_DATA_LF;
				i++;
			} else if (ch == '\n') {
				c->state = CK_DATA_LF;
			} else {
				return -ERR_PARSE;
			}
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				return -ERR_PARSE;
			i++;
			c->state = CK_SIZE;
			c->line = 0;
			break;
		case CK_TRAILER:
			/* Trailer lines are read and dropped; an empty one ends. */
			i++;
			if (ch == '\n') {
				if (c->line == 0) {
					c->state = CK_DONE;
					break;
				}
				c->line = 0;
			} else if (ch != '\r' || c->line) {
				if (++c->line > CHUNK_LINE_MAX)
					return -ERR_PARSE;
			}
			break;
		}
	}
	*used = i;
	*out = w;
	return c->state == CK_DONE;
}

void http_body_init(struct http_body *b, const struct http_head *h, struct rbuf *r,
		    bool is_response, uint64_t cap, int64_t deadline_ms)
{
	memset(b, 0, sizeof(*b));
	b->r = r;
	b->deadline_ms = deadline_ms;
	b->cap = cap;
	if (h->chunked) {
		b->chunked = true;
	} else if (h->content_length >= 0) {
		b->left = h->content_length;
		b->done = b->left == 0;
	} else if (is_response) {
		b->until_close = true;
	} else {
		b->done = true;
	}
}

static ssize_t body_take(struct http_body *b, void *out, size_t cap)
{
	struct rbuf *r = b->r;
	size_t avail = rbuf_avail(r), n, used, dec;
	int rc;

	if (!b->chunked) {
		n = avail < cap ? avail : cap;
		if (!b->until_close && (int64_t)n > b->left)
			n = (size_t)b->left;
		memcpy(out, r->data + r->start, n);
		r->start += n;
		if (!b->until_close) {
			b->left -= (int64_t)n;
			if (!b->left)
				b->done = true;
		}
		return (ssize_t)n;
	}
	/* Decoded output never exceeds the input consumed, so feeding at most
	 * cap input bytes keeps the output within out. */
	n = avail < cap ? avail : cap;
	rc = http_chunked_decode(&b->ck, r->data + r->start, n, &used, &dec);
	if (rc < 0)
		return rc;
	memcpy(out, r->data + r->start, dec);
	r->start += used;
	if (rc == 1)
		b->done = true;
	return (ssize_t)dec;
}

ssize_t http_body_read(struct http_body *b, void *out, size_t cap, bool nonblock)
{
	for (;;) {
		ssize_t n;

		if (b->done || cap == 0)
			return 0;
		if (rbuf_avail(b->r)) {
			n = body_take(b, out, cap);
			if (n < 0)
				return n;
			if (n > 0) {
				b->total += (uint64_t)n;
				if (b->cap && b->total > b->cap)
					return -ERR_TOO_BIG;
				return n;
			}
			if (b->done)
				return 0;
			/* Only framing bytes were consumed: read more. */
			if (rbuf_avail(b->r))
				continue;
		}
		n = rbuf_fill(b->r, nonblock, b->deadline_ms);
		if (n == -ERR_CLOSED && b->until_close) {
			b->done = true;
			return 0;
		}
		if (n < 0)
			return n;
	}
}

int http_body_skip(struct http_body *b, uint64_t limit)
{
	char tmp[16384];
	uint64_t skipped = 0;

	for (;;) {
		ssize_t n = http_body_read(b, tmp, sizeof(tmp), false);
		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		skipped += (uint64_t)n;
		if (skipped > limit)
			return -ERR_TOO_BIG;
	}
}
