/*
 * docker_api.c - the Docker Engine API over a unix socket, with libcurl.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker_api.h"
#include "err.h"
#include "banned.h"

struct docker {
	char *socket;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int docker_new(const char *socket_path, struct docker **out)
{
	struct docker *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d || !(d->socket = strdup(socket_path))) {
		free(d);
		return -ENOMEM;
	}
	pthread_once(&curl_once, curl_setup);
	*out = d;
	return 0;
}

void docker_free(struct docker *d)
{
	if (!d)
		return;
	free(d->socket);
	free(d);
}

struct sink {
	struct buf *b;
	bool over;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (!s->b)
		return size * n;
	if (buf_add(s->b, data, size * n)) {
		s->over = true;
		return 0;
	}
	return size * n;
}

int docker_request(struct docker *d, const char *method, const char *path,
		   const char *ctype, const void *body, size_t len, int64_t timeout_ms,
		   int *status, struct buf *resp, struct buf *why)
{
	struct curl_slist *hdrs = NULL;
	struct sink sink = { resp, false };
	char url[4096], ct[256];
	long code = 0;
	CURLcode cc;
	CURL *c;
	int rc = 0;

	*status = 0;
	if (snprintf(url, sizeof(url), "http://docker%s", path) >= (int)sizeof(url))
		return -ERR_TOO_BIG;
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : DOCKER_TIMEOUT_MS));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body || !strcmp(method, "POST")) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
		hdrs = curl_slist_append(hdrs, ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && sink.over)) {
		if (why)
			buf_printf(why, "docker API at '%s': %s", d->socket, curl_easy_strerror(cc));
		rc = cc == CURLE_OPERATION_TIMEDOUT ? -ERR_TIMEOUT : -ERR_UNAVAILABLE;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*status = (int)code;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

/* Puts the engine's message for a failed status into why. */
static int fail(int status, const struct buf *resp, const char *what, struct buf *why)
{
	json_t *j = NULL, *m;

	if (why) {
		if (resp && resp->len)
			j = json_loadb(resp->data, resp->len, 0, NULL);
		m = json_object_get(j, "message");
		if (json_is_string(m))
			buf_printf(why, "%s: %s", what, json_string_value(m));
		else
			buf_printf(why, "%s: HTTP %d", what, status);
		json_decref(j);
	}
	return status == 404 ? -ERR_NOT_FOUND : -ERR_PROTOCOL;
}

/* A request with a small answer; ok is the status (or second status,
 * ok2) that means success. */
static int simple(struct docker *d, const char *method, const char *path, const char *ctype,
		  const void *body, size_t len, int ok, int ok2, const char *what,
		  struct buf *resp_out, struct buf *why)
{
	struct buf resp;
	int status, rc;

	buf_init(&resp, DOCKER_MAX_RESPONSE);
	rc = docker_request(d, method, path, ctype, body, len, 0, &status, &resp, why);
	if (!rc && status != ok && status != ok2)
		rc = fail(status, &resp, what, why);
	if (!rc && resp_out) {
		buf_reset(resp_out);
		rc = buf_add(resp_out, resp.data ? resp.data : "", resp.len);
	}
	buf_release(&resp);
	return rc;
}

/* Appends s to out, %-encoded for a URL path segment or query value. */
static int url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == ':')
			rc = buf_addc(out, (char)c);
		else
			rc = buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	return rc;
}

int docker_ping(struct docker *d, struct buf *why)
{
	return simple(d, "GET", "/_ping", NULL, NULL, 0, 200, 200, "ping", NULL, why);
}

int docker_version(struct docker *d, struct buf *out)
{
	struct buf resp;
	json_t *j;
	int rc;

	buf_init(&resp, 1024 * 1024);
	rc = simple(d, "GET", "/version", NULL, NULL, 0, 200, 200, "version", &resp, NULL);
	if (!rc) {
		const char *v, *api;

		j = json_loadb(resp.data, resp.len, 0, NULL);
		v = json_string_value(json_object_get(j, "Version"));
		api = json_string_value(json_object_get(j, "ApiVersion"));
		buf_printf(out, "%s (API %s)", v ? v : "?", api ? api : "?");
		json_decref(j);
	}
	buf_release(&resp);
	return rc;
}

int docker_image_exists(struct docker *d, const char *image, struct buf *why)
{
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	buf_adds(&path, "/images/");
	url_escape(&path, image);
	rc = buf_adds(&path, "/json");
	if (!rc)
		rc = simple(d, "GET", buf_cstr(&path), NULL, NULL, 0, 200, 200, "image", NULL, why);
	buf_release(&path);
	return rc;
}

int docker_container_create(struct docker *d, const char *name, json_t *config,
			    char *id, size_t cap, struct buf *why)
{
	struct buf path, resp;
	char *body = NULL;
	json_t *j = NULL;
	const char *s;
	int rc;

	buf_init(&path, 4096);
	buf_init(&resp, 1024 * 1024);
	buf_adds(&path, "/containers/create?name=");
	rc = url_escape(&path, name);
	body = json_dumps(config, JSON_COMPACT);
	if (!body)
		rc = -ENOMEM;
	if (!rc)
		rc = simple(d, "POST", buf_cstr(&path), "application/json", body, strlen(body),
			    201, 200, "cannot create container", &resp, why);
	if (!rc) {
		j = json_loadb(resp.data, resp.len, 0, NULL);
		s = json_string_value(json_object_get(j, "Id"));
		if (!s || strlen(s) >= cap) {
			buf_adds(why, "cannot create container: no id in the answer");
			rc = -ERR_PROTOCOL;
		} else {
			memcpy(id, s, strlen(s) + 1);
		}
	}
	json_decref(j);
	free(body);
	buf_release(&path);
	buf_release(&resp);
	return rc;
}

static int container_call(struct docker *d, const char *method, const char *id,
			  const char *suffix, int ok, int ok2, const char *what, struct buf *resp,
			  struct buf *why)
{
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	buf_adds(&path, "/containers/");
	url_escape(&path, id);
	rc = buf_adds(&path, suffix);
	if (!rc)
		rc = simple(d, method, buf_cstr(&path), NULL, NULL, 0, ok, ok2, what, resp, why);
	buf_release(&path);
	return rc;
}

int docker_container_start(struct docker *d, const char *id, struct buf *why)
{
	return container_call(d, "POST", id, "/start", 204, 304, "cannot start container",
			      NULL, why);
}

int docker_container_stop(struct docker *d, const char *id, int secs, struct buf *why)
{
	char suffix[32];

	snprintf(suffix, sizeof(suffix), "/stop?t=%d", secs);
	return container_call(d, "POST", id, suffix, 204, 304, "cannot stop container",
			      NULL, why);
}

int docker_container_remove(struct docker *d, const char *id, struct buf *why)
{
	int rc = container_call(d, "DELETE", id, "?force=1&v=1", 204, 200,
				"cannot remove container", NULL, why);

	return rc == -ERR_NOT_FOUND ? 0 : rc;
}

int docker_container_inspect(struct docker *d, const char *id, json_t **out,
			     struct buf *why)
{
	struct buf resp;
	int rc;

	*out = NULL;
	buf_init(&resp, DOCKER_MAX_RESPONSE);
	rc = container_call(d, "GET", id, "/json", 200, 200, "cannot inspect container",
			    &resp, why);
	if (!rc) {
		*out = json_loadb(resp.data, resp.len, 0, NULL);
		if (!*out)
			rc = -ERR_PARSE;
	}
	buf_release(&resp);
	return rc;
}

int docker_container_list(struct docker *d, const char *const *labels, size_t nlabels,
			  json_t **out, struct buf *why)
{
	struct buf path, resp;
	json_t *filters = json_object(), *arr = json_array();
	char *fj = NULL;
	size_t i;
	int rc = 0;

	*out = NULL;
	buf_init(&path, 8192);
	buf_init(&resp, DOCKER_MAX_RESPONSE);
	for (i = 0; i < nlabels; i++)
		json_array_append_new(arr, json_string(labels[i]));
	json_object_set_new(filters, "label", arr);
	fj = json_dumps(filters, JSON_COMPACT);
	if (!fj) {
		rc = -ENOMEM;
		goto out;
	}
	buf_adds(&path, "/containers/json?all=1&filters=");
	if ((rc = url_escape(&path, fj)))
		goto out;
	rc = simple(d, "GET", buf_cstr(&path), NULL, NULL, 0, 200, 200, "cannot list containers",
		    &resp, why);
	if (!rc) {
		*out = json_loadb(resp.data, resp.len, 0, NULL);
		if (!json_is_array(*out)) {
			json_decref(*out);
			*out = NULL;
			rc = -ERR_PARSE;
		}
	}
out:
	free(fj);
	json_decref(filters);
	buf_release(&path);
	buf_release(&resp);
	return rc;
}

int docker_container_logs(struct docker *d, const char *id, int64_t since_s,
			  struct buf *out, struct buf *why)
{
	char suffix[128];

	snprintf(suffix, sizeof(suffix), "/logs?stdout=1&stderr=1&timestamps=1&since=%lld",
		 (long long)since_s);
	return container_call(d, "GET", id, suffix, 200, 200, "cannot read logs", out, why);
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -ERR_PARSE;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int docker_parse_time(const char *s, size_t len, int64_t *ns)
{
	struct tm tm;
	int y, mo, da, h, mi, se, oh = 0, om = 0;
	int64_t frac = 0, scale = 1000000000, secs;
	size_t i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
	    digits(s + 8, 2, &da) || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &se))
		return -ERR_PARSE;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (scale > 1) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			}
		}
	}
	if (i < len && s[i] == 'Z') {
		i++;
	} else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
		   !digits(s + i + 1, 2, &oh) && !digits(s + i + 4, 2, &om)) {
		if (s[i] == '-') {
			oh = -oh;
			om = -om;
		}
		i += 6;
	} else {
		return -ERR_PARSE;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	secs = (int64_t)timegm(&tm) - (int64_t)oh * 3600 - (int64_t)om * 60;
	*ns = secs * 1000000000 + frac;
	return 0;
}

/* One line of text: the timestamp in front is taken off. */
static void emit_line(const char *p, size_t n, docker_line_cb cb, void *ctx)
{
	const char *sp = memchr(p, ' ', n < 64 ? n : 64);
	int64_t ts = 0;

	if (n && p[n - 1] == '\r')
		n--;
	if (sp && !docker_parse_time(p, (size_t)(sp - p), &ts)) {
		n -= (size_t)(sp + 1 - p);
		p = sp + 1;
	} else {
		ts = 0;
	}
	cb(ctx, ts, p, n);
}

static void split_lines(const char *p, size_t n, docker_line_cb cb, void *ctx)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;

		emit_line(p, k, cb, ctx);
		if (!nl)
			break;
		n -= k + 1;
		p = nl + 1;
	}
}

void docker_logs_lines(const char *data, size_t len, docker_line_cb cb, void *ctx)
{
	bool mux = len >= 8 && data[0] <= 2 && !data[1] && !data[2] && !data[3];

	if (!mux) {
		split_lines(data, len, cb, ctx);
		return;
	}
	while (len >= 8) {
		const unsigned char *h = (const unsigned char *)data;
		size_t n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];

		if (n > len - 8)
			n = len - 8;
		split_lines(data + 8, n, cb, ctx);
		data += 8 + n;
		len -= 8 + n;
	}
}
