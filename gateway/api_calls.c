/*
 * api_calls.c - async call records (DESIGN.md section 6, a cfaas
 * extension):
 *
 *   GET    /system/calls?function=&namespace=&status=&limit=   list, newest first
 *   GET    /system/calls/ID                                    one record, with result
 *   DELETE /system/calls/ID                                    cancel a queued call
 *   POST   /system/calls/ID/retry                              re-queue a dead letter
 *
 * A record: {"id", "function", "namespace", "status", "attempts",
 * "statusCode", "queuedAt", "startedAt", "finishedAt", "durationSeconds",
 * "callbackUrl", "error", "result", "resultEncoding", "resultHeaders"}.
 * Times are RFC 3339; zero values and empty strings are left out (Go
 * omitempty), except id, function, namespace, status and attempts. The
 * result (only in GET /system/calls/ID) is text when it is valid UTF-8
 * without NUL bytes ("resultEncoding": "text"), else base64
 * ("resultEncoding": "base64").
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "async.h"
#include "b64.h"
#include "callmsg.h"
#include "err.h"
#include "functions.h"
#include "parse.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

#define LIST_DEFAULT 100

/* True when (s, n) is valid UTF-8 without NUL bytes. */
static bool is_text(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, k;
		unsigned cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += len;
	}
	return true;
}

static void set_time(json_t *o, const char *key, int64_t ms)
{
	struct buf b;

	if (!ms)
		return;
	buf_init(&b, 64);
	if (!wire_time_rfc3339(ms, &b))
		json_object_set_new(o, key, json_string(buf_cstr(&b)));
	buf_release(&b);
}

static void set_text(json_t *o, const char *key, const char *s)
{
	json_t *v;

	if (!s || !*s)
		return;
	v = json_string(s);
	if (!v) /* not UTF-8: keep what can be kept */
		v = json_string("(not UTF-8)");
	json_object_set_new(o, key, v);
}

/* The JSON of one record (with_result: result and its headers too). */
static json_t *record_json(const struct store_call *c, bool with_result)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "function", json_string(c->function));
	json_object_set_new(o, "namespace", json_string(c->namespace));
	json_object_set_new(o, "status", json_string(store_call_status_name(c->status)));
	json_object_set_new(o, "attempts", json_integer(c->attempts));
	if (c->status_code)
		json_object_set_new(o, "statusCode", json_integer(c->status_code));
	set_time(o, "queuedAt", c->queued_at_ms);
	set_time(o, "startedAt", c->started_at_ms);
	set_time(o, "finishedAt", c->finished_at_ms);
	if (c->duration_seconds > 0)
		json_object_set_new(o, "durationSeconds", json_real(c->duration_seconds));
	set_text(o, "callbackUrl", c->callback_url);
	set_text(o, "error", c->error);
	if (with_result && c->result) {
		if (is_text(c->result, c->result_len)) {
			json_object_set_new(o, "result", json_stringn((const char *)c->result,
								      c->result_len));
			json_object_set_new(o, "resultEncoding", json_string("text"));
		} else {
			struct buf b;
			buf_init(&b, b64_encoded_len(c->result_len) + 1);
			if (!b64_encode(&b, c->result, c->result_len)) {
				json_object_set_new(o, "result", json_stringn(buf_cstr(&b), b.len));
				json_object_set_new(o, "resultEncoding", json_string("base64"));
			}
			buf_release(&b);
		}
	}
	if (with_result && c->result_headers && *c->result_headers) {
		json_t *h = json_loads(c->result_headers, 0, NULL);
		if (json_is_object(h))
			json_object_set_new(o, "resultHeaders", h);
		else
			json_decref(h);
	}
	return o;
}

/* Answers JSON with durations written to the microsecond ("0.002349"
 * rather than "0.0023487500000000001"). */
static void answer_json(struct gw_resp *resp, int status, json_t *j)
{
	size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(6);
	size_t n = json_dumpb(j, NULL, 0, flags);

	buf_reset(&resp->body);
	if (n == 0 || buf_grow(&resp->body, n) || json_dumpb(j, resp->body.data, n, flags) != n) {
		gw_resp_error(resp, 500, "cannot encode the answer");
		return;
	}
	resp->body.len = n;
	resp->body.data[n] = '\0';
	resp->status = status;
	resp->content_type = "application/json";
}

/* GET /system/calls */
void api_calls(struct gw_req *req, struct gw_resp *resp)
{
	struct store_call_filter f = { .status = -1, .limit = LIST_DEFAULT };
	struct store_call *cs = NULL;
	char name[80], ns[80];
	struct buf fn, nsq, st, lim, why;
	enum store_call_status status;
	size_t n = 0, i;
	uint64_t limit;
	json_t *arr;
	int rc;

	buf_init(&fn, 256);
	buf_init(&nsq, 256);
	buf_init(&st, 64);
	buf_init(&lim, 64);
	buf_init(&why, 512);
	if (gw_req_query(req, "function", &fn) == 0 && fn.len) {
		if (wire_name_check(buf_cstr(&fn), &why) ||
		    fn_split_name(buf_cstr(&fn), name, sizeof(name), ns, sizeof(ns))) {
			gw_resp_error(resp, 400, "function: %s", buf_cstr(&why));
			goto out;
		}
		f.function = name;
		if (strchr(buf_cstr(&fn), '.'))
			f.namespace = ns;
	}
	if (gw_req_query(req, "namespace", &nsq) == 0 && nsq.len) {
		if (wire_name_check_as("namespace", buf_cstr(&nsq), 0, &why)) {
			gw_resp_error(resp, 400, "%s", buf_cstr(&why));
			goto out;
		}
		f.namespace = buf_cstr(&nsq);
	}
	if (gw_req_query(req, "status", &st) == 0 && st.len) {
		if (store_call_status_parse(buf_cstr(&st), &status)) {
			gw_resp_error(resp, 400,
				      "status: '%.40s' is not one of queued, running, succeeded, failed, "
				      "dead-letter, cancelled",
				      buf_cstr(&st));
			goto out;
		}
		f.status = (int)status;
	}
	if (gw_req_query(req, "limit", &lim) == 0 && lim.len) {
		if (parse_uint(buf_cstr(&lim), STORE_CALL_LIST_MAX, &limit) || limit == 0) {
			gw_resp_error(resp, 400, "limit: use a number from 1 to %d", STORE_CALL_LIST_MAX);
			goto out;
		}
		f.limit = (size_t)limit;
	}
	rc = store_call_list(req->gw->store, &f, &cs, &n);
	if (rc) {
		gw_resp_error(resp, 500, "cannot list calls: %s", err_str(rc));
		goto out;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, record_json(&cs[i], false));
	answer_json(resp, 200, arr);
	json_decref(arr);
	store_call_list_free(cs, n);
out:
	buf_release(&fn);
	buf_release(&nsq);
	buf_release(&st);
	buf_release(&lim);
	buf_release(&why);
}

static void answer_record(struct gw_req *req, struct gw_resp *resp, const char *id, int status)
{
	struct store_call c;
	json_t *o;
	int rc = store_call_get(req->gw->store, id, &c);

	if (rc == -ERR_NOT_FOUND) {
		gw_resp_error(resp, 404, "call '%s' not found", id);
		return;
	}
	if (rc) {
		gw_resp_error(resp, 500, "cannot read call '%s': %s", id, err_str(rc));
		return;
	}
	o = record_json(&c, true);
	answer_json(resp, status, o);
	if (status == 202)
		gw_resp_header(resp, "X-Call-Id", id);
	json_decref(o);
	store_call_release(&c);
}

/* /system/calls/ID and /system/calls/ID/retry */
void api_call(struct gw_req *req, struct gw_resp *resp)
{
	const char *slash = strchr(req->arg, '/');
	size_t n = slash ? (size_t)(slash - req->arg) : strlen(req->arg);
	bool retry = slash && !strcmp(slash, "/retry");
	char id[CALLMSG_ID_MAX + 1];
	struct buf why;
	int status;

	if (n == 0 && !slash) {
		api_calls(req, resp);
		return;
	}
	if (n == 0 || n > CALLMSG_ID_MAX || (slash && !retry)) {
		gw_resp_error(resp, 404, "not found");
		return;
	}
	memcpy(id, req->arg, n);
	id[n] = '\0';
	if (callmsg_id_check(id, NULL)) {
		gw_resp_error(resp, 404, "call '%.64s' not found", id);
		return;
	}
	buf_init(&why, 1024);
	if (retry) {
		if (strcmp(req->method, "POST")) {
			gw_resp_error(resp, 405, "method not allowed: use POST");
			gw_resp_header(resp, "Allow", "POST");
			goto out;
		}
		status = async_requeue(req->gw, id, &why);
		if (status >= 300)
			gw_resp_error(resp, status, "%s", buf_cstr(&why));
		else
			answer_record(req, resp, id, status);
	} else if (!strcmp(req->method, "GET")) {
		answer_record(req, resp, id, 200);
	} else if (!strcmp(req->method, "DELETE")) {
		status = async_cancel(req->gw, id, &why);
		if (status >= 300)
			gw_resp_error(resp, status, "%s", buf_cstr(&why));
		else
			answer_record(req, resp, id, status);
	} else {
		gw_resp_error(resp, 405, "method not allowed: use GET or DELETE");
		gw_resp_header(resp, "Allow", "GET, DELETE");
	}
out:
	buf_release(&why);
}
