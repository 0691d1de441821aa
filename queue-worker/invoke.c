/*
 * invoke.c - HTTP requests of the queue worker over libcurl (see invoke.h).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "invoke.h"
#include "spawn.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 5000L
#define HEADER_LINE_MAX 8192

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void invoke_global_init(void)
{
	pthread_once(&global_once, global_init);
}

int invoke_init(struct invoke *h)
{
	invoke_global_init();
	h->curl = curl_easy_init();
	return h->curl ? 0 : -ENOMEM;
}

void invoke_release(struct invoke *h)
{
	if (!h || !h->curl)
		return;
	curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

void invoke_resp_release(struct invoke_resp *r)
{
	if (!r)
		return;
	callmsg_hdrs_release(&r->headers);
	buf_release(&r->body);
}

struct xfer {
	struct invoke_resp *out;
	const atomic_int *cancel;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (buf_add(&x->out->body, data, len)) {
		x->out->too_big = true;
		return 0;
	}
	return len;
}

/* One header line of the answer; a status line starts a new answer (after
 * a 100 Continue), so the headers gathered so far are dropped. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, nl, vl;
	char name[256], value[HEADER_LINE_MAX];
	const char *colon, *v;

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		callmsg_hdrs_release(&x->out->headers);
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return len;
	nl = (size_t)(colon - data);
	v = colon + 1;
	vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (nl == 0 || nl >= sizeof(name) || vl >= sizeof(value))
		return len;
	memcpy(name, data, nl);
	name[nl] = '\0';
	memcpy(value, v, vl);
	value[vl] = '\0';
	if (callmsg_hdrs_add(&x->out->headers, name, value))
		return 0;
	return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	if (x->cancel && atomic_load(x->cancel)) {
		x->out->cancelled = true;
		return 1;
	}
	return 0;
}

/* Adds "Name: value" to the list; 0 or -ENOMEM. */
static int add_line(struct curl_slist **list, const char *name, const char *value)
{
	struct buf line;
	struct curl_slist *l;

	buf_init(&line, HEADER_LINE_MAX + 512);
	if (value && *value)
		buf_printf(&line, "%s: %s", name, value);
	else
		/* "Name;" sends the header with an empty value. */
		buf_printf(&line, "%s;", name);
	l = line.len ? curl_slist_append(*list, buf_cstr(&line)) : NULL;
	buf_release(&line);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

static bool has_header(const struct invoke_req *rq, const char *name)
{
	const char *const *e;
	size_t n = strlen(name);

	if (rq->hdrs && callmsg_hdrs_get(rq->hdrs, name) && (!rq->keep || rq->keep(name)))
		return true;
	for (e = rq->extra; e && *e; e++)
		if (!strncasecmp(*e, name, n) && (*e)[n] == ':')
			return true;
	return false;
}

static int build_headers(const struct invoke_req *rq, struct curl_slist **out)
{
	struct curl_slist *list = NULL, *l;
	const char *const *e;
	size_t i, j;
	int rc = 0;

	for (i = 0; rq->hdrs && i < rq->hdrs->n && !rc; i++) {
		const struct callmsg_hdr *h = &rq->hdrs->items[i];
		if (rq->keep && !rq->keep(h->name))
			continue;
		for (j = 0; j < h->nvalues && !rc; j++)
			rc = add_line(&list, h->name, h->values[j]);
	}
	for (e = rq->extra; e && *e && !rc; e++) {
		l = curl_slist_append(list, *e);
		if (!l)
			rc = -ENOMEM;
		else
			list = l;
	}
	/* Send only what the call had: no curl defaults, no 100-continue. */
	if (!rc && !has_header(rq, "Content-Type"))
		rc = (l = curl_slist_append(list, "Content-Type:")) ? (list = l, 0) : -ENOMEM;
	if (!rc && !has_header(rq, "Accept"))
		rc = (l = curl_slist_append(list, "Accept:")) ? (list = l, 0) : -ENOMEM;
	if (!rc)
		rc = (l = curl_slist_append(list, "Expect:")) ? (list = l, 0) : -ENOMEM;
	if (rc) {
		curl_slist_free_all(list);
		return rc;
	}
	*out = list;
	return 0;
}

int invoke_run(struct invoke *h, const struct invoke_req *rq, struct invoke_resp *out)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct xfer x = { out, rq->cancel };
	CURL *c = h->curl;
	CURLcode cc;
	int64_t t0;
	long code = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&out->body, rq->max_response ? rq->max_response : SIZE_MAX / 2);
	rc = build_headers(rq, &hdrs);
	if (rc) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		return -ERR_UNAVAILABLE;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rq->no_proxy)
		curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "GET") && rq->body_len == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		if (strcmp(rq->method, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	t0 = mono_ns();
	cc = curl_easy_perform(c);
	out->seconds = (double)(mono_ns() - t0) / 1e9;
	curl_slist_free_all(hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		out->status = (int)code;
		return 0;
	}
	out->connect_failed = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
			      cc == CURLE_COULDNT_RESOLVE_PROXY;
	if (out->too_big)
		snprintf(out->error, sizeof(out->error), "the answer exceeds %zu bytes",
			 out->body.cap);
	else if (out->cancelled)
		snprintf(out->error, sizeof(out->error), "cancelled: the worker is stopping");
	else
		snprintf(out->error, sizeof(out->error), "%s%s%s", curl_easy_strerror(cc),
			 errbuf[0] ? ": " : "", errbuf);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (out->too_big)
		out->status = (int)code;
	return -ERR_UNAVAILABLE;
}
