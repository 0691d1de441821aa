/*
 * api_logs.c - GET /system/logs: a function's replica output as NDJSON,
 * {name, namespace, instance, timestamp, text} per line, with tail, since,
 * instance and follow (the answer then stays open and streams new lines
 * until the client goes or the gateway stops).
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "err.h"
#include "functions.h"
#include "logstore.h"
#include "parse.h"
#include "spawn.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

#define LOGS_MAX_BODY (32u * 1024 * 1024)
#define FOLLOW_POLL_MS 500

struct follow {
	struct gateway *gw;
	char name[64], ns[64];
	char *instance;
	int64_t cursor;
	int client_fd;
	struct buf pending;
	size_t off;
};

struct emit_ctx {
	struct buf *out;
	const char *name, *ns;
};

static int emit(void *arg, const struct logstore_entry *e)
{
	struct emit_ctx *ec = arg;
	struct buf *b = ec->out;
	char ts[64];
	struct tm tm;
	time_t secs = (time_t)(e->ts_ns / 1000000000);

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_adds(b, "{\"name\":");
	buf_add_json_string(b, ec->name, strlen(ec->name));
	buf_adds(b, ",\"namespace\":");
	buf_add_json_string(b, ec->ns, strlen(ec->ns));
	buf_adds(b, ",\"instance\":");
	buf_add_json_string(b, e->instance, strlen(e->instance));
	buf_printf(b, ",\"timestamp\":\"%s.%09lldZ\",\"text\":", ts,
		   (long long)(e->ts_ns % 1000000000));
	buf_add_json_string(b, e->text, e->len);
	return buf_adds(b, "}\n") ? -ERR_TOO_BIG : 0;
}

/* Parses since: RFC 3339 ("2026-11-23T05:00:00Z", fraction allowed) or a
 * Unix time in seconds. */
static int parse_since(const char *s, int64_t *ns)
{
	struct tm tm;
	const char *p;
	uint64_t secs;
	int64_t frac = 0, scale = 100000000;

	if (parse_uint(s, UINT32_MAX, &secs) == 0) {
		*ns = (int64_t)secs * 1000000000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -ERR_PARSE;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (strcmp(p, "Z") != 0)
		return -ERR_PARSE;
	*ns = (int64_t)timegm(&tm) * 1000000000 + frac;
	return 0;
}

static bool client_gone(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLRDHUP };

	return fd >= 0 && poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t follow_read(void *arg, char *out, size_t max)
{
	struct follow *f = arg;

	while (f->off == f->pending.len) {
		struct logstore_query q = { .since_ns = f->cursor + 1, .instance = f->instance };
		struct emit_ctx ec = { &f->pending, f->name, f->ns };

		buf_reset(&f->pending);
		f->off = 0;
		if (f->gw->stopping || client_gone(f->client_fd))
			return 0;
		if (logstore_wait(f->gw->logs, f->ns, f->name, f->cursor,
				  mono_ms() + FOLLOW_POLL_MS) == 0)
			logstore_read(f->gw->logs, f->ns, f->name, &q, emit, &ec, &f->cursor);
	}
	if (max > f->pending.len - f->off)
		max = f->pending.len - f->off;
	memcpy(out, f->pending.data + f->off, max);
	f->off += max;
	return (ssize_t)max;
}

static void follow_free(void *arg)
{
	struct follow *f = arg;

	buf_release(&f->pending);
	free(f->instance);
	free(f);
}

void api_logs(struct gw_req *req, struct gw_resp *resp)
{
	struct gateway *gw = req->gw;
	struct store_function sf = { 0 };
	struct logstore_query q = { 0 };
	struct buf v, why;
	char name[64], ns[64];
	char *instance = NULL;
	bool follow = false;
	int64_t cursor = 0;
	uint64_t tail;
	int rc;

	buf_init(&v, 1024);
	buf_init(&why, 1024);
	if (gw_req_query(req, "name", &v) || !v.len) {
		gw_resp_error(resp, 400, "'name' is required: /system/logs?name=FUNCTION");
		goto out;
	}
	if (wire_name_check_as("function", buf_cstr(&v), WIRE_NAME_ALLOW_NS, &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	fn_split_name(buf_cstr(&v), name, sizeof(name), ns, sizeof(ns));
	if (!strchr(buf_cstr(&v), '.') && gw_req_namespace(req, NULL, ns, sizeof(ns), &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	if (store_function_get(gw->store, ns, name, &sf) == -ERR_NOT_FOUND) {
		gw_resp_error(resp, 404, "function '%s' not found in namespace '%s'", name, ns);
		goto out;
	}
	buf_reset(&v);
	if (gw_req_query(req, "tail", &v) == 0 && v.len) {
		if (parse_uint(buf_cstr(&v), 1000000000, &tail)) {
			gw_resp_error(resp, 400, "tail: '%s' is not a whole number", buf_cstr(&v));
			goto out;
		}
		q.tail = (size_t)tail;
	}
	buf_reset(&v);
	if (gw_req_query(req, "since", &v) == 0 && v.len &&
	    parse_since(buf_cstr(&v), &q.since_ns)) {
		gw_resp_error(resp, 400, "since: '%s' is not an RFC 3339 time", buf_cstr(&v));
		goto out;
	}
	buf_reset(&v);
	if (gw_req_query(req, "instance", &v) == 0 && v.len) {
		instance = strdup(buf_cstr(&v));
		q.instance = instance;
	}
	buf_reset(&v);
	if (gw_req_query(req, "follow", &v) == 0)
		follow = !strcmp(buf_cstr(&v), "true") || !strcmp(buf_cstr(&v), "1") || !v.len;
	resp->content_type = "application/x-ndjson";
	{
		struct emit_ctx ec = { &resp->body, name, ns };
		resp->body.cap = LOGS_MAX_BODY;
		rc = logstore_read(gw->logs, ns, name, &q, emit, &ec, &cursor);
		if (rc && rc != -ERR_TOO_BIG) {
			gw_resp_error(resp, 500, "cannot read the logs: %s", err_str(rc));
			goto out;
		}
	}
	if (follow) {
		struct follow *f = calloc(1, sizeof(*f));
		if (!f) {
			gw_resp_error(resp, 500, "out of memory");
			goto out;
		}
		f->gw = gw;
		snprintf(f->name, sizeof(f->name), "%s", name);
		snprintf(f->ns, sizeof(f->ns), "%s", ns);
		f->instance = instance;
		instance = NULL;
		f->cursor = cursor;
		f->client_fd = req->client_fd;
		/* What was read already goes out first. */
		buf_init(&f->pending, LOGS_MAX_BODY);
		f->pending = resp->body;
		buf_init(&resp->body, LOGS_MAX_BODY);
		resp->stream.read = follow_read;
		resp->stream.free = follow_free;
		resp->stream.ctx = f;
	}
out:
	free(instance);
	store_function_release(&sf);
	buf_release(&v);
	buf_release(&why);
}
