/*
 * callmsg.c - the async call message and its outcome report, to and from
 * JSON (see callmsg.h).
 */
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "b64.h"
#include "callmsg.h"
#include "err.h"
#include "banned.h"

#define QUOTE_MAX 64
#define METHOD_MAX 16
#define RETRY_PREFIX "com.openfaas.retry."

/* ---- reasons ------------------------------------------------------------ */

static int fail_type(struct buf *why, const char *field, const char *want)
{
	char q[QUOTE_MAX + 4];

	return wire_fail(why, -ERR_INVALID, "invalid '%s': must be %s",
			 wire_quote(field, q, QUOTE_MAX), want);
}

/* ---- statuses ------------------------------------------------------------- */

static const char *const status_names[CALLMSG_NSTATUS] = {
	[CALLMSG_QUEUED] = "queued",
	[CALLMSG_RUNNING] = "running",
	[CALLMSG_SUCCEEDED] = "succeeded",
	[CALLMSG_FAILED] = "failed",
	[CALLMSG_DEAD_LETTER] = "dead-letter",
	[CALLMSG_CANCELLED] = "cancelled",
};

static const char *const callback_names[] = {
	[CALLMSG_CB_NONE] = "none",
	[CALLMSG_CB_PENDING] = "pending",
	[CALLMSG_CB_DELIVERED] = "delivered",
	[CALLMSG_CB_FAILED] = "failed",
};

const char *callmsg_status_name(enum callmsg_status st)
{
	if ((unsigned)st >= CALLMSG_NSTATUS)
		return "unknown";
	return status_names[st];
}

int callmsg_status_parse(const char *name, enum callmsg_status *out)
{
	int i;

	for (i = 0; name && i < CALLMSG_NSTATUS; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum callmsg_status)i;
			return 0;
		}
	}
	return -ERR_INVALID;
}

bool callmsg_status_final(enum callmsg_status st)
{
	return st == CALLMSG_SUCCEEDED || st == CALLMSG_FAILED || st == CALLMSG_DEAD_LETTER ||
	       st == CALLMSG_CANCELLED;
}

/* ---- checks --------------------------------------------------------------- */

int callmsg_id_check(const char *id, struct buf *why)
{
	char q[QUOTE_MAX + 4];
	size_t i;

	if (why)
		buf_reset(why);
	for (i = 0; id && id[i]; i++) {
		char c = id[i];
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			break;
	}
	if (id && i > 0 && i <= CALLMSG_ID_MAX && id[i] == '\0')
		return 0;
	return wire_fail(why, -ERR_INVALID,
		    "invalid call id '%s': use 1-%d characters of A-Z, a-z, 0-9, '-' and '_'",
		    wire_quote(id, q, QUOTE_MAX), CALLMSG_ID_MAX);
}

int callmsg_url_check(const char *url, struct buf *why)
{
	char q[QUOTE_MAX + 4];
	const char *host, *end;
	size_t i, n;

	if (why)
		buf_reset(why);
	if (!url)
		return wire_fail(why, -ERR_INVALID, "invalid callback URL: empty");
	n = strlen(url);
	if (n > CALLMSG_URL_MAX)
		return wire_fail(why, -ERR_INVALID, "invalid callback URL: longer than %d bytes",
			    CALLMSG_URL_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c == 0x7f)
			return wire_fail(why, -ERR_INVALID,
				    "invalid callback URL '%s': spaces and control characters are not allowed",
				    wire_quote(url, q, QUOTE_MAX));
	}
	if (!strncasecmp(url, "http://", 7))
		host = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		host = url + 8;
	else
		return wire_fail(why, -ERR_INVALID, "invalid callback URL '%s': must start with http:// or https://",
			    wire_quote(url, q, QUOTE_MAX));
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)))
		host = (const char *)memchr(host, '@', (size_t)(end - host)) + 1;
	if (end == host || *host == ':')
		return wire_fail(why, -ERR_INVALID, "invalid callback URL '%s': no host",
				 wire_quote(url, q, QUOTE_MAX));
	if (*host == '[' && !memchr(host, ']', (size_t)(end - host)))
		return wire_fail(why, -ERR_INVALID, "invalid callback URL '%s': bad IPv6 address",
			    wire_quote(url, q, QUOTE_MAX));
	{
		/* A port, when given, is 1-65535. */
		const char *colon = NULL, *p;
		for (p = host; p < end; p++) {
			if (*p == ']')
				colon = NULL;
			else if (*p == ':')
				colon = p;
		}
		if (colon && *host != '[' && memchr(host, ':', (size_t)(colon - host)))
			colon = NULL;
		if (colon) {
			long port = 0;
			for (p = colon + 1; p < end; p++) {
				if (!isdigit((unsigned char)*p) || port > 65535) {
					port = -1;
					break;
				}
				port = port * 10 + (*p - '0');
			}
			if (p == colon + 1 || port < 1 || port > 65535)
				return wire_fail(why, -ERR_INVALID, "invalid callback URL '%s': bad port",
					    wire_quote(url, q, QUOTE_MAX));
		}
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int callmsg_time_parse(const char *s, int64_t *out_ms)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	int64_t ms = 0, t;
	const char *p = s;

	if (!s || digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
		return -ERR_PARSE;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -ERR_PARSE;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -ERR_PARSE;
	if (*p == '.') {
		int n = 0;
		p++;
		while (isdigit((unsigned char)*p)) {
			if (n < 3)
				ms = ms * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n == 0)
			return -ERR_PARSE;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -ERR_PARSE;
	} else {
		return -ERR_PARSE;
	}
	if (*p)
		return -ERR_PARSE;
	t = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*out_ms = t * 1000 + ms;
	return 0;
}

int callmsg_subject(char *out, size_t cap, const char *prefix, const char *a, const char *b)
{
	int n = b ? snprintf(out, cap, "%s.%s.%s", prefix, a, b) :
		    snprintf(out, cap, "%s.%s", prefix, a);

	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return -ERR_TOO_BIG;
	}
	return 0;
}

/* ---- headers -------------------------------------------------------------- */

void callmsg_hdrs_release(struct callmsg_hdrs *h)
{
	size_t i, j;

	if (!h)
		return;
	for (i = 0; i < h->n; i++) {
		for (j = 0; j < h->items[i].nvalues; j++)
			free(h->items[i].values[j]);
		free(h->items[i].values);
		free(h->items[i].name);
	}
	free(h->items);
	memset(h, 0, sizeof(*h));
}

const struct callmsg_hdr *callmsg_hdrs_get(const struct callmsg_hdrs *h, const char *name)
{
	size_t i;

	for (i = 0; h && name && i < h->n; i++)
		if (!strcasecmp(h->items[i].name, name))
			return &h->items[i];
	return NULL;
}

const char *callmsg_hdrs_value(const struct callmsg_hdrs *h, const char *name)
{
	const struct callmsg_hdr *x = callmsg_hdrs_get(h, name);

	return x && x->nvalues ? x->values[0] : NULL;
}

int callmsg_hdrs_add(struct callmsg_hdrs *h, const char *name, const char *value)
{
	struct callmsg_hdr *x = (struct callmsg_hdr *)callmsg_hdrs_get(h, name);
	char **vals, *v = strdup(value ? value : "");

	if (!v)
		return -ENOMEM;
	if (!x) {
		struct callmsg_hdr *items = realloc(h->items, (h->n + 1) * sizeof(*items));
		if (!items) {
			free(v);
			return -ENOMEM;
		}
		h->items = items;
		x = &h->items[h->n];
		memset(x, 0, sizeof(*x));
		x->name = strdup(name);
		if (!x->name) {
			free(v);
			return -ENOMEM;
		}
		h->n++;
	}
	vals = realloc(x->values, (x->nvalues + 1) * sizeof(*vals));
	if (!vals) {
		free(v);
		return -ENOMEM;
	}
	x->values = vals;
	x->values[x->nvalues++] = v;
	return 0;
}

/* True if s holds a CR, LF or NUL (a header value that could split a
 * request). */
static bool has_crlf(const char *s, size_t n)
{
	return memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n);
}

/* Reads {name: [values]} (a bare string counts as one value). */
static int get_hdrs(const json_t *obj, const char *key, struct callmsg_hdrs *out,
		    struct buf *why)
{
	const json_t *v = json_object_get(obj, key), *val;
	const char *name;
	char q[QUOTE_MAX + 4];
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail_type(why, key, "an object of string lists");
	json_object_foreach((json_t *)v, name, val) {
		size_t i, n = json_is_array(val) ? json_array_size(val) : 1;
		if (!*name || strcspn(name, " \t\r\n:") != strlen(name))
			return wire_fail(why, -ERR_INVALID, "invalid '%s': bad header name '%s'", key,
				    wire_quote(name, q, QUOTE_MAX));
		if (!json_is_array(val) && !json_is_string(val))
			return wire_fail(why, -ERR_INVALID, "invalid '%s': header '%s' must be a list of strings",
				    key, wire_quote(name, q, QUOTE_MAX));
		for (i = 0; i < n; i++) {
			const json_t *s = json_is_array(val) ? json_array_get(val, i) : val;
			if (!json_is_string(s) ||
			    has_crlf(json_string_value(s), json_string_length(s)))
				return wire_fail(why, -ERR_INVALID,
					    "invalid '%s': header '%s' must be a list of one-line strings",
					    key, wire_quote(name, q, QUOTE_MAX));
			rc = callmsg_hdrs_add(out, name, json_string_value(s));
			if (rc)
				return wire_fail(why, rc, "out of memory");
		}
	}
	return 0;
}

static int hdrs_to_json(const struct callmsg_hdrs *h, json_t **out)
{
	json_t *o = json_object(), *arr;
	size_t i, j;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	for (i = 0; i < h->n; i++) {
		arr = json_array();
		if (!arr || json_object_set_new(o, h->items[i].name, arr)) {
			json_decref(o);
			return arr ? -EINVAL : -ENOMEM;
		}
		for (j = 0; j < h->items[i].nvalues; j++) {
			json_t *s = json_string(h->items[i].values[j]);
			if (!s || json_array_append_new(arr, s)) {
				json_decref(o);
				return -EINVAL;
			}
		}
	}
	*out = o;
	return 0;
}

int callmsg_hdrs_dump(const struct callmsg_hdrs *h, struct buf *out)
{
	json_t *o = NULL;
	int rc = hdrs_to_json(h, &o);

	if (!rc)
		rc = wire_json_dump(o, out);
	json_decref(o);
	return rc;
}

/* ---- JSON field helpers --------------------------------------------------- */

static int load_object(const char *text, size_t len, json_t **out, struct buf *why)
{
	json_error_t err;
	json_t *root;

	*out = NULL;
	if (!text || len == 0)
		return wire_fail(why, -ERR_PARSE, "malformed JSON: the message is empty");
	root = json_loadb(text, len, 0, &err);
	if (!root) {
		if (json_error_code(&err) == json_error_out_of_memory)
			return wire_fail(why, -ENOMEM, "out of memory");
		return wire_fail(why, -ERR_PARSE, "malformed JSON: %.80s at line %d column %d", err.text,
			    err.line, err.column);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return wire_fail(why, -ERR_INVALID, "invalid message: must be a JSON object");
	}
	*out = root;
	return 0;
}

/* An optional string field; absent and null leave *out NULL. */
static int get_str(const json_t *obj, const char *key, char **out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v)))
		return fail_type(why, key, "a string");
	*out = strdup(json_string_value(v));
	return *out ? 0 : wire_fail(why, -ENOMEM, "out of memory");
}

static int need_str(const json_t *obj, const char *key, char **out, struct buf *why)
{
	int rc = get_str(obj, key, out, why);

	if (!rc && !*out)
		return wire_fail(why, -ERR_INVALID, "missing '%s'", key);
	return rc;
}

/* An optional integer field in [lo, hi]; absent leaves *out alone. */
static int get_int(const json_t *obj, const char *key, int lo, int hi, int *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return fail_type(why, key, "an integer");
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return wire_fail(why, -ERR_INVALID, "invalid '%s': %lld is out of range", key, (long long)x);
	*out = (int)x;
	return 0;
}

static int get_time(const json_t *obj, const char *key, int64_t *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key);
	char q[QUOTE_MAX + 4];

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || callmsg_time_parse(json_string_value(v), out))
		return wire_fail(why, -ERR_INVALID, "invalid '%s' '%s': must be an RFC 3339 time", key,
			    wire_quote(json_string_value(v), q, QUOTE_MAX));
	return 0;
}

/* A base64 field into a new NUL-terminated block. */
static int get_b64(const json_t *obj, const char *key, unsigned char **out, size_t *len,
		   bool *present, struct buf *why)
{
	const json_t *v = json_object_get(obj, key);
	struct buf b;
	int rc;

	*out = NULL;
	*len = 0;
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail_type(why, key, "a base64 string");
	buf_init(&b, SIZE_MAX / 2);
	rc = b64_decode(&b, json_string_value(v), json_string_length(v));
	if (rc) {
		buf_release(&b);
		return rc == -ERR_PARSE ? fail_type(why, key, "a base64 string") :
					  wire_fail(why, rc, "out of memory");
	}
	*out = (unsigned char *)buf_detach(&b, len);
	if (present)
		*present = true;
	return 0;
}

static int set_new(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return -EINVAL;
	return json_object_set_new(o, key, v) ? -ENOMEM : 0;
}

static int set_time(json_t *o, const char *key, int64_t ms)
{
	struct buf b;
	int rc;

	if (!ms)
		return 0;
	buf_init(&b, 64);
	rc = wire_time_rfc3339(ms, &b);
	if (!rc)
		rc = set_new(o, key, json_string(buf_cstr(&b)));
	buf_release(&b);
	return rc;
}

static int set_b64(json_t *o, const char *key, const void *data, size_t len)
{
	struct buf b;
	int rc;

	buf_init(&b, SIZE_MAX / 2);
	rc = b64_encode(&b, data, len);
	if (!rc)
		rc = set_new(o, key, json_stringn(buf_cstr(&b), b.len));
	buf_release(&b);
	return rc;
}


/* ---- call message --------------------------------------------------------- */

void callmsg_release(struct callmsg *m)
{
	if (!m)
		return;
	free(m->call_id);
	free(m->function);
	free(m->namespace);
	free(m->method);
	free(m->path);
	free(m->query);
	callmsg_hdrs_release(&m->header);
	free(m->body);
	free(m->callback_url);
	wire_map_release(&m->retry);
	memset(m, 0, sizeof(*m));
}

int callmsg_set_retry(struct callmsg *m, const struct wire_map *ann)
{
	size_t i;
	int rc;

	wire_map_release(&m->retry);
	for (i = 0; ann && i < ann->n; i++) {
		if (strncmp(ann->items[i].key, RETRY_PREFIX, strlen(RETRY_PREFIX)))
			continue;
		rc = wire_map_add(&m->retry, ann->items[i].key, ann->items[i].value);
		if (rc)
			return rc;
	}
	return 0;
}

static int get_retry(const json_t *obj, const char *key, struct wire_map *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key), *val;
	const char *k;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail_type(why, key, "an object of strings");
	json_object_foreach((json_t *)v, k, val) {
		if (!json_is_string(val))
			return fail_type(why, key, "an object of strings");
		if (wire_map_add(out, k, json_string_value(val)))
			return wire_fail(why, -ENOMEM, "out of memory");
	}
	return 0;
}

/* The checks a worker relies on before it builds a request from m. */
static int callmsg_validate(const struct callmsg *m, struct buf *why)
{
	char q[QUOTE_MAX + 4];
	size_t i;
	int rc;

	if ((rc = callmsg_id_check(m->call_id, why)) ||
	    (rc = wire_name_check_as("function", m->function, 0, why)) ||
	    (rc = wire_name_check_as("namespace", m->namespace, 0, why)))
		return rc;
	for (i = 0; m->method[i]; i++)
		if (!isupper((unsigned char)m->method[i]))
			break;
	if (i == 0 || i > METHOD_MAX || m->method[i])
		return wire_fail(why, -ERR_INVALID, "invalid 'method' '%s'", wire_quote(m->method, q, QUOTE_MAX));
	if (m->path[0] && m->path[0] != '/')
		return wire_fail(why, -ERR_INVALID, "invalid 'path' '%s': must start with '/'",
			    wire_quote(m->path, q, QUOTE_MAX));
	for (i = 0; m->query[i]; i++) {
		unsigned char c = (unsigned char)m->query[i];
		if (c <= 0x20 || c == 0x7f || c == '#')
			return wire_fail(why, -ERR_INVALID, "invalid 'query' '%s'", wire_quote(m->query, q, QUOTE_MAX));
	}
	if (m->callback_url && (rc = callmsg_url_check(m->callback_url, why)))
		return rc;
	return 0;
}

int callmsg_parse(const char *text, size_t len, struct callmsg *out, struct buf *why)
{
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (why)
		buf_reset(why);
	rc = load_object(text, len, &root, why);
	if (rc)
		return rc;
	if ((rc = need_str(root, "callId", &out->call_id, why)) ||
	    (rc = need_str(root, "function", &out->function, why)) ||
	    (rc = get_str(root, "namespace", &out->namespace, why)) ||
	    (rc = get_str(root, "method", &out->method, why)) ||
	    (rc = get_str(root, "path", &out->path, why)) ||
	    (rc = get_str(root, "query", &out->query, why)) ||
	    (rc = get_hdrs(root, "header", &out->header, why)) ||
	    (rc = get_b64(root, "body", &out->body, &out->body_len, NULL, why)) ||
	    (rc = get_str(root, "callbackUrl", &out->callback_url, why)) ||
	    (rc = get_time(root, "queuedAt", &out->queued_at_ms, why)) ||
	    (rc = get_int(root, "round", 0, INT_MAX, &out->round, why)) ||
	    (rc = get_retry(root, "retry", &out->retry, why)))
		goto out;
	if (out->callback_url && !out->callback_url[0]) {
		free(out->callback_url);
		out->callback_url = NULL;
	}
	rc = -ENOMEM;
	if ((!out->namespace && !(out->namespace = strdup(WIRE_DEFAULT_NAMESPACE))) ||
	    (!out->method && !(out->method = strdup("POST"))) ||
	    (!out->path && !(out->path = strdup(""))) ||
	    (!out->query && !(out->query = strdup(""))) ||
	    (!out->body && !(out->body = calloc(1, 1)))) {
		wire_fail(why, rc, "out of memory");
		goto out;
	}
	rc = callmsg_validate(out, why);
out:
	json_decref(root);
	if (rc)
		callmsg_release(out);
	return rc;
}

/* The strings of m that go into its JSON are UTF-8 (Jansson would refuse
 * the message otherwise: callmsg_parse must read back what we write). */
static bool msg_utf8(const struct callmsg *m)
{
	const char *s[] = { m->call_id, m->function, m->namespace, m->method,
			    m->path, m->query, m->callback_url };
	size_t i, j;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (s[i] && !buf_utf8_valid(s[i], strlen(s[i])))
			return false;
	for (i = 0; i < m->header.n; i++) {
		const struct callmsg_hdr *h = &m->header.items[i];
		if (!buf_utf8_valid(h->name, strlen(h->name)))
			return false;
		for (j = 0; j < h->nvalues; j++)
			if (!buf_utf8_valid(h->values[j], strlen(h->values[j])))
				return false;
	}
	for (i = 0; i < m->retry.n; i++)
		if (!buf_utf8_valid(m->retry.items[i].key, strlen(m->retry.items[i].key)) ||
		    !buf_utf8_valid(m->retry.items[i].value, strlen(m->retry.items[i].value)))
			return false;
	return true;
}

/* Appends ,"key": and the JSON string of s (NULL as ""). */
static int put_str(struct buf *out, const char *key, const char *s)
{
	int rc = buf_printf(out, ",\"%s\":", key);

	return rc ? rc : buf_add_json_string(out, s ? s : "", s ? strlen(s) : 0);
}

/*
 * Written by hand rather than through a Jansson tree: this runs for every
 * async call, and building and dumping the tree cost more than the rest of
 * the gateway's own work for a call. The output is the same compact JSON,
 * keys in the same order.
 */
int callmsg_dump(const struct callmsg *m, struct buf *out)
{
	size_t start = out->len, i, j;
	struct buf t;
	int rc;

	if (!m || !m->call_id || !m->function || !m->namespace || !m->method)
		return -EINVAL;
	if (!msg_utf8(m))
		return -EINVAL;
	rc = buf_adds(out, "{\"callId\":");
	if (!rc)
		rc = buf_add_json_string(out, m->call_id, strlen(m->call_id));
	if (!rc)
		rc = put_str(out, "function", m->function);
	if (!rc)
		rc = put_str(out, "namespace", m->namespace);
	if (!rc)
		rc = put_str(out, "method", m->method);
	if (!rc)
		rc = put_str(out, "path", m->path);
	if (!rc)
		rc = put_str(out, "query", m->query);
	if (!rc)
		rc = buf_adds(out, ",\"header\":{");
	for (i = 0; !rc && i < m->header.n; i++) {
		const struct callmsg_hdr *h = &m->header.items[i];

		if (i)
			rc = buf_addc(out, ',');
		if (!rc)
			rc = buf_add_json_string(out, h->name, strlen(h->name));
		if (!rc)
			rc = buf_adds(out, ":[");
		for (j = 0; !rc && j < h->nvalues; j++) {
			if (j)
				rc = buf_addc(out, ',');
			if (!rc)
				rc = buf_add_json_string(out, h->values[j], strlen(h->values[j]));
		}
		if (!rc)
			rc = buf_addc(out, ']');
	}
	if (!rc)
		rc = buf_adds(out, "},\"body\":\"");
	if (!rc)
		rc = b64_encode(out, m->body, m->body_len); /* no character to escape */
	if (!rc)
		rc = buf_addc(out, '"');
	if (!rc)
		rc = put_str(out, "callbackUrl", m->callback_url);
	if (!rc && m->queued_at_ms) {
		buf_init(&t, 64);
		rc = wire_time_rfc3339(m->queued_at_ms, &t);
		if (!rc)
			rc = put_str(out, "queuedAt", buf_cstr(&t));
		buf_release(&t);
	}
	if (!rc && m->round)
		rc = buf_printf(out, ",\"round\":%d", m->round);
	if (!rc && m->retry.n) {
		rc = buf_adds(out, ",\"retry\":{");
		for (i = 0; !rc && i < m->retry.n; i++) {
			if (i)
				rc = buf_addc(out, ',');
			if (!rc)
				rc = buf_add_json_string(out, m->retry.items[i].key,
							 strlen(m->retry.items[i].key));
			if (!rc)
				rc = buf_addc(out, ':');
			if (!rc)
				rc = buf_add_json_string(out, m->retry.items[i].value,
							 strlen(m->retry.items[i].value));
		}
		if (!rc)
			rc = buf_addc(out, '}');
	}
	if (!rc)
		rc = buf_addc(out, '}');
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

/* ---- reports -------------------------------------------------------------- */

void callmsg_report_release(struct callmsg_report *r)
{
	if (!r)
		return;
	free(r->call_id);
	free(r->error);
	free(r->result);
	callmsg_hdrs_release(&r->result_header);
	memset(r, 0, sizeof(*r));
}

static int get_status(const json_t *obj, const char *key, bool required,
		      enum callmsg_status *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key);
	char q[QUOTE_MAX + 4];

	if (!v || json_is_null(v))
		return required ? wire_fail(why, -ERR_INVALID, "missing '%s'", key) : 0;
	if (!json_is_string(v) || callmsg_status_parse(json_string_value(v), out))
		return wire_fail(why, -ERR_INVALID, "invalid '%s' '%s'", key,
			    wire_quote(json_string_value(v), q, QUOTE_MAX));
	return 0;
}

int callmsg_report_parse(const char *text, size_t len, struct callmsg_report *out,
			 struct buf *why)
{
	const json_t *v;
	json_t *root = NULL;
	char q[QUOTE_MAX + 4];
	bool has_result;
	int rc, i;

	memset(out, 0, sizeof(*out));
	if (why)
		buf_reset(why);
	rc = load_object(text, len, &root, why);
	if (rc)
		return rc;
	if ((rc = need_str(root, "callId", &out->call_id, why)) ||
	    (rc = callmsg_id_check(out->call_id, why)) ||
	    (rc = get_int(root, "round", CALLMSG_ROUND_ANY, INT_MAX, &out->round, why)) ||
	    (rc = get_status(root, "status", true, &out->status, why)) ||
	    (rc = get_status(root, "outcome", false, &out->outcome, why)) ||
	    (rc = get_int(root, "attempts", 0, INT_MAX, &out->attempts, why)) ||
	    (rc = get_int(root, "statusCode", 0, 999, &out->status_code, why)) ||
	    (rc = get_time(root, "startedAt", &out->started_at_ms, why)) ||
	    (rc = get_time(root, "finishedAt", &out->finished_at_ms, why)) ||
	    (rc = get_str(root, "error", &out->error, why)) ||
	    (rc = get_b64(root, "result", &out->result, &out->result_len, &has_result, why)) ||
	    (rc = get_hdrs(root, "resultHeader", &out->result_header, why)) ||
	    (rc = get_int(root, "callbackAttempts", 0, INT_MAX, &out->callback_attempts, why)))
		goto out;
	v = json_object_get(root, "durationSeconds");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0) {
			rc = fail_type(why, "durationSeconds", "a non-negative number");
			goto out;
		}
		out->duration_seconds = json_number_value(v);
	}
	v = json_object_get(root, "callback");
	if (v && !json_is_null(v)) {
		rc = -ERR_INVALID;
		for (i = 0; json_is_string(v) && i < (int)(sizeof(callback_names) / sizeof(callback_names[0])); i++) {
			if (!strcmp(json_string_value(v), callback_names[i])) {
				out->callback = (enum callmsg_callback)i;
				rc = 0;
			}
		}
		if (rc) {
			wire_fail(why, rc, "invalid 'callback' '%s'", wire_quote(json_string_value(v), q, QUOTE_MAX));
			goto out;
		}
	}
	if (out->error && !out->error[0]) {
		free(out->error);
		out->error = NULL;
	}
out:
	json_decref(root);
	if (rc)
		callmsg_report_release(out);
	return rc;
}

int callmsg_report_dump(const struct callmsg_report *r, struct buf *out)
{
	json_t *o;
	int rc;

	if (!r || !r->call_id || (unsigned)r->status >= CALLMSG_NSTATUS)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	rc = set_new(o, "callId", json_string(r->call_id));
	if (!rc)
		rc = set_new(o, "round", json_integer(r->round));
	if (!rc)
		rc = set_new(o, "status", json_string(callmsg_status_name(r->status)));
	if (!rc)
		rc = set_new(o, "attempts", json_integer(r->attempts));
	if (!rc && r->status_code)
		rc = set_new(o, "statusCode", json_integer(r->status_code));
	if (!rc)
		rc = set_time(o, "startedAt", r->started_at_ms);
	if (!rc)
		rc = set_time(o, "finishedAt", r->finished_at_ms);
	if (!rc && r->duration_seconds > 0)
		rc = set_new(o, "durationSeconds", json_real(r->duration_seconds));
	if (!rc && r->error && r->error[0])
		rc = set_new(o, "error", json_string(r->error));
	if (!rc && r->result)
		rc = set_b64(o, "result", r->result, r->result_len);
	if (!rc && r->result_header.n) {
		json_t *h = NULL;
		rc = hdrs_to_json(&r->result_header, &h);
		if (!rc)
			rc = set_new(o, "resultHeader", h);
	}
	if (!rc && r->callback != CALLMSG_CB_NONE &&
	    (unsigned)r->callback < sizeof(callback_names) / sizeof(callback_names[0]))
		rc = set_new(o, "callback", json_string(callback_names[r->callback]));
	if (!rc && r->callback == CALLMSG_CB_PENDING)
		rc = set_new(o, "outcome", json_string(callmsg_status_name(r->outcome)));
	if (!rc && r->callback_attempts)
		rc = set_new(o, "callbackAttempts", json_integer(r->callback_attempts));
	return wire_dump_built(rc, o, out);
}
