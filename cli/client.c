/*
 * client.c - libcurl glue (see client.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "err.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 10000
#define MAX_HEADERS_SIZE (64u * 1024)

struct client {
	CURL *curl;
	char *gateway;
	char *user;
	char *password;
	bool tls_no_verify;
};

struct transfer {
	struct client *c;
	const struct client_req *req;
	struct client_resp *resp;
	bool too_big;
	bool cancelled;
	long stream_status; /* status seen by the first body chunk */
};

int client_new(const struct client_opts *o, struct client **out)
{
	struct client *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->curl = curl_easy_init();
	c->gateway = strdup(o->gateway);
	c->user = o->user ? strdup(o->user) : NULL;
	c->password = o->password ? strdup(o->password) : NULL;
	c->tls_no_verify = o->tls_no_verify;
	if (!c->curl || !c->gateway || (o->user && !c->user) || (o->password && !c->password)) {
		client_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->password)
		memset(c->password, 0, strlen(c->password));
	free(c->gateway);
	free(c->user);
	free(c->password);
	free(c);
}

bool client_has_auth(const struct client *c)
{
	return c->user && c->password;
}

void client_resp_init(struct client_resp *r)
{
	r->status = 0;
	buf_init(&r->body, CLIENT_MAX_BODY);
	buf_init(&r->headers, MAX_HEADERS_SIZE);
}

void client_resp_release(struct client_resp *r)
{
	buf_release(&r->body);
	buf_release(&r->headers);
}

int client_resp_header(const struct client_resp *r, const char *name, struct buf *out)
{
	const char *p = buf_cstr(&r->headers);
	size_t n = strlen(name);

	while (*p) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > n && p[n] == ':' && !strncasecmp(p, name, n)) {
			const char *v = p + n + 1, *end = p + len;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return buf_add(out, v, (size_t)(end - v));
		}
		p += len;
		if (*p)
			p += 2;
	}
	return -ERR_NOT_FOUND;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	/* A new status line (after a 100 Continue, say) starts over. */
	if (len >= 5 && !strncmp(data, "HTTP/", 5))
		buf_reset(&t->resp->headers);
	else if (len > 2 && buf_add(&t->resp->headers, data, len))
		return 0;
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (t->req->on_data) {
		if (!t->stream_status)
			curl_easy_getinfo(t->c->curl, CURLINFO_RESPONSE_CODE, &t->stream_status);
		if (t->stream_status >= 200 && t->stream_status < 300) {
			if (t->req->on_data(t->req->ctx, data, len) < 0) {
				t->cancelled = true;
				return 0;
			}
			return len;
		}
	}
	if (buf_add(&t->resp->body, data, len)) {
		t->too_big = true;
		return 0;
	}
	return len;
}

static int fail(struct client *c, CURLcode code, const char *errbuf, struct buf *why)
{
	const char *reason = errbuf[0] ? errbuf : curl_easy_strerror(code);

	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		buf_printf(why, "cannot reach the gateway at '%s': %s", c->gateway, reason);
		return -ERR_UNAVAILABLE;
	case CURLE_OPERATION_TIMEDOUT:
		buf_printf(why, "the gateway at '%s' did not answer in time: %s", c->gateway,
			   reason);
		return -ERR_TIMEOUT;
	default:
		buf_printf(why, "the request to '%s' failed: %s", c->gateway, reason);
		return -ERR_PROTOCOL;
	}
}

int client_do(struct client *c, const struct client_req *req, struct client_resp *resp,
	      struct buf *why)
{
	struct transfer t = { .c = c, .req = req, .resp = resp };
	struct curl_slist *hdrs = NULL, *tmp;
	char errbuf[CURL_ERROR_SIZE];
	struct buf url, line;
	CURL *h = c->curl;
	CURLcode code;
	size_t i;
	int rc = 0;

	buf_init(&url, 16 * 1024);
	buf_init(&line, 16 * 1024);
	resp->status = 0;
	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	resp->body.cap = req->max_body ? req->max_body : CLIENT_MAX_BODY;
	errbuf[0] = '\0';
	if (buf_printf(&url, "%s%s%s%s", c->gateway, req->path, req->query ? "?" : "",
		       req->query ? req->query : "")) {
		buf_adds(why, "the request URL is too long");
		rc = -ERR_TOO_BIG;
		goto out;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, buf_cstr(&url));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cfaas/" CFAAS_VERSION);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->tls_no_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!strcmp(req->method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (!strcmp(req->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (req->auth && client_has_auth(c)) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	/* No "Expect: 100-continue" round trip before uploads. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req->content_type) {
		buf_reset(&line);
		buf_printf(&line, "Content-Type: %s", req->content_type);
		if ((tmp = curl_slist_append(hdrs, buf_cstr(&line))))
			hdrs = tmp;
	}
	for (i = 0; req->headers && i < req->headers->n; i++)
		if ((tmp = curl_slist_append(hdrs, req->headers->items[i])))
			hdrs = tmp;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (t.cancelled) {
		rc = -ECANCELED;
	} else if (t.too_big) {
		buf_printf(why, "the answer is larger than %zu bytes", resp->body.cap);
		rc = -ERR_TOO_BIG;
	} else if (code != CURLE_OK) {
		rc = fail(c, code, errbuf, why);
	}
out:
	curl_slist_free_all(hdrs);
	buf_release(&url);
	buf_release(&line);
	return rc;
}

const char *client_reason(long status)
{
	static const struct { long code; const char *text; } reasons[] = {
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" }, { 304, "Not Modified" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 413, "Payload Too Large" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return "";
}
