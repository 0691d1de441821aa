#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "err.h"
#include "parse.h"
#include "wire.h"
#include "banned.h"

/* Longest piece of a client's value quoted back in a reason. */
#define QUOTE_MAX 64

/* ---- reasons ------------------------------------------------------------ */

/*
 * Copies s into dst for quoting in a one-line reason: control characters
 * become '?', and a value longer than max is cut (at a UTF-8 boundary) and
 * marked with "...". dst must hold max + 4 bytes.
 */
const char *wire_quote(const char *s, char *dst, size_t max)
{
	size_t i, n = 0;

	if (!s)
		s = "";
	for (i = 0; s[i] && n < max; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i]) {
		while (n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && (unsigned char)dst[n - 1] >= 0xc0)
			n--;
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return dst;
}

static const char *quote(const char *s, char *dst)
{
	return wire_quote(s, dst, QUOTE_MAX);
}

int wire_fail(struct buf *why, int code, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		buf_reset(why);
		va_start(ap, fmt);
		(void)buf_vprintf(why, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int fail_type(struct buf *why, const char *field, const char *want)
{
	char q[QUOTE_MAX + 4];

	return wire_fail(why, -ERR_INVALID, "invalid '%s': must be %s", quote(field, q), want);
}

/* ---- names -------------------------------------------------------------- */

/* Length of the DNS label at s (up to '.' or the end), or 0 if invalid. */
static size_t label_len(const char *s)
{
	size_t n = 0;

	while (s[n] && s[n] != '.') {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		n++;
	}
	if (n == 0 || n > WIRE_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	return n;
}

int wire_name_check_as(const char *what, const char *name, int flags, struct buf *why)
{
	char q[QUOTE_MAX + 4];
	size_t n;

	if (why)
		buf_reset(why);
	if (name) {
		n = label_len(name);
		if (n && name[n] == '\0')
			return 0;
		if (n && name[n] == '.' && (flags & WIRE_NAME_ALLOW_NS)) {
			size_t m = label_len(name + n + 1);
			if (m && name[n + 1 + m] == '\0')
				return 0;
		}
	}
	return wire_fail(why, -ERR_INVALID,
		    "invalid %s name '%s': use 1-63 characters of a-z, 0-9 and '-', "
		    "starting and ending with a letter or digit",
		    what, quote(name, q));
}

int wire_name_check(const char *name, struct buf *why)
{
	return wire_name_check_as("function", name, WIRE_NAME_ALLOW_NS, why);
}

/* ---- maps and lists ----------------------------------------------------- */

const char *wire_map_get(const struct wire_map *m, const char *key)
{
	size_t i;

	if (!m)
		return NULL;
	for (i = 0; i < m->n; i++)
		if (strcmp(m->items[i].key, key) == 0)
			return m->items[i].value;
	return NULL;
}

void wire_map_release(struct wire_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->items[i].key);
		free(m->items[i].value);
	}
	free(m->items);
	m->items = NULL;
	m->n = 0;
}

int wire_map_add(struct wire_map *m, const char *key, const char *value)
{
	struct wire_kv *items = realloc(m->items, (m->n + 1) * sizeof(*items));

	if (!items)
		return -ENOMEM;
	m->items = items;
	items[m->n].key = strdup(key);
	items[m->n].value = strdup(value);
	if (!items[m->n].key || !items[m->n].value) {
		free(items[m->n].key);
		free(items[m->n].value);
		return -ENOMEM;
	}
	m->n++;
	return 0;
}

static void list_release(struct wire_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* ---- reading JSON fields ------------------------------------------------ */

/*
 * Parses (text, len) into an object. NUL bytes are let through the decoder
 * so that dup_string can name the field that holds one (only a secret's
 * value may); Jansson itself refuses them in keys.
 */
static int load_object(const char *text, size_t len, json_t **out, struct buf *why)
{
	char q[JSON_ERROR_TEXT_LENGTH + 4];
	json_error_t err;
	json_t *root;

	*out = NULL;
	if (why)
		buf_reset(why);
	if (!text || len == 0)
		return wire_fail(why, -ERR_PARSE, "malformed JSON: the body is empty");
	root = json_loadb(text, len, JSON_ALLOW_NUL, &err);
	if (!root) {
		if (json_error_code(&err) == json_error_out_of_memory)
			return wire_fail(why, -ENOMEM, "out of memory");
		return wire_fail(why, -ERR_PARSE, "malformed JSON: %s at line %d column %d",
			    wire_quote(err.text, q, JSON_ERROR_TEXT_LENGTH), err.line, err.column);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return wire_fail(why, -ERR_INVALID, "invalid request body: must be a JSON object");
	}
	*out = root;
	return 0;
}

/* A JSON string as a new C string; a NUL inside it is refused. */
static int dup_string(const json_t *v, const char *field, char **out, struct buf *why)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	char *p;

	if (!s)
		return fail_type(why, field, "a string");
	if (memchr(s, '\0', n))
		return fail_type(why, field, "a string without NUL bytes");
	p = malloc(n + 1);
	if (!p)
		return wire_fail(why, -ENOMEM, "out of memory");
	memcpy(p, s, n + 1);
	*out = p;
	return 0;
}

/*
 * Reads an optional string field: absent, null and (when empty_is_null) ""
 * leave *out NULL, as Go's zero value would.
 */
static int get_string(const json_t *obj, const char *key, bool empty_is_null, char **out,
		      struct buf *why)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail_type(why, key, "a string");
	if (empty_is_null && json_string_length(v) == 0)
		return 0;
	return dup_string(v, key, out, why);
}

static int get_bool(const json_t *obj, const char *key, bool *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key);

	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail_type(why, key, "true or false");
	*out = json_is_true(v);
	return 0;
}

/* Reads an object of strings; a null value reads as "" like Go's. */
static int get_map(const json_t *obj, const char *key, struct wire_map *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key), *val;
	const char *k;
	struct buf f;
	size_t n;
	int rc;

	out->items = NULL;
	out->n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail_type(why, key, "an object of strings");
	n = json_object_size(v);
	if (!n)
		return 0;
	out->items = calloc(n, sizeof(*out->items));
	if (!out->items)
		return wire_fail(why, -ENOMEM, "out of memory");
	json_object_foreach((json_t *)v, k, val) {
		struct wire_kv *kv = &out->items[out->n];

		buf_init(&f, 160);
		(void)buf_printf(&f, "%s.%.100s", key, k);
		if (json_is_null(val)) {
			kv->value = calloc(1, 1);
			rc = kv->value ? 0 : wire_fail(why, -ENOMEM, "out of memory");
		} else if (!json_is_string(val)) {
			rc = fail_type(why, buf_cstr(&f), "a string");
		} else {
			rc = dup_string(val, buf_cstr(&f), &kv->value, why);
		}
		buf_release(&f);
		if (!rc) {
			/* Jansson refuses NUL bytes in keys. */
			kv->key = strdup(k);
			if (!kv->key) {
				free(kv->value);
				kv->value = NULL;
				rc = wire_fail(why, -ENOMEM, "out of memory");
			}
		}
		if (rc) {
			wire_map_release(out);
			return rc;
		}
		out->n++;
	}
	return 0;
}

/* Reads an array of strings; a null element reads as "". */
static int get_list(const json_t *obj, const char *key, struct wire_list *out, struct buf *why)
{
	const json_t *v = json_object_get(obj, key), *val;
	size_t i, n;
	int rc;

	out->items = NULL;
	out->n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail_type(why, key, "an array of strings");
	n = json_array_size(v);
	if (!n)
		return 0;
	out->items = calloc(n, sizeof(*out->items));
	if (!out->items)
		return wire_fail(why, -ENOMEM, "out of memory");
	json_array_foreach(v, i, val) {
		if (json_is_null(val)) {
			out->items[i] = calloc(1, 1);
			rc = out->items[i] ? 0 : wire_fail(why, -ENOMEM, "out of memory");
		} else if (!json_is_string(val)) {
			rc = fail_type(why, key, "an array of strings");
		} else {
			rc = dup_string(val, key, &out->items[i], why);
		}
		if (rc) {
			out->n = i;
			list_release(out);
			return rc;
		}
		out->n = i + 1;
	}
	return 0;
}

static void resources_release(struct wire_resources *r)
{
	free(r->memory);
	free(r->cpu);
	memset(r, 0, sizeof(*r));
}

/* Reads one string of a limits/requests object, naming it "key.sub". */
static int get_quantity(const json_t *obj, const char *key, const char *sub, char **out,
			struct buf *why)
{
	const json_t *v = json_object_get(obj, sub);
	char field[32];

	*out = NULL;
	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	snprintf(field, sizeof(field), "%s.%s", key, sub);
	if (!json_is_string(v))
		return fail_type(why, field, "a string");
	return dup_string(v, field, out, why);
}

static int get_resources(const json_t *obj, const char *key, struct wire_resources *out,
			 struct buf *why)
{
	const json_t *v = json_object_get(obj, key);
	char q[QUOTE_MAX + 4];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail_type(why, key, "an object with 'memory' and 'cpu'");
	rc = get_quantity(v, key, "memory", &out->memory, why);
	if (!rc)
		rc = get_quantity(v, key, "cpu", &out->cpu, why);
	if (!rc && out->memory && parse_size(out->memory, &out->memory_bytes))
		rc = wire_fail(why, -ERR_INVALID, "invalid '%s.memory' '%s': use a quantity like 128Mi",
			  key, quote(out->memory, q));
	if (!rc && out->cpu && parse_cpu_millis(out->cpu, &out->cpu_millis))
		rc = wire_fail(why, -ERR_INVALID, "invalid '%s.cpu' '%s': use a quantity like 100m or 0.5",
			  key, quote(out->cpu, q));
	if (rc)
		resources_release(out);
	return rc;
}

/* ---- FunctionDeployment ------------------------------------------------- */

void wire_deploy_release(struct wire_deploy *d)
{
	if (!d)
		return;
	free(d->service);
	free(d->image);
	free(d->namespace);
	free(d->env_process);
	wire_map_release(&d->env_vars);
	list_release(&d->constraints);
	list_release(&d->secrets);
	wire_map_release(&d->labels);
	wire_map_release(&d->annotations);
	resources_release(&d->limits);
	resources_release(&d->requests);
	memset(d, 0, sizeof(*d));
}

/* Checks the values that types alone do not: names, env keys, image. */
static int deploy_validate(const struct wire_deploy *d, struct buf *why)
{
	char q[QUOTE_MAX + 4];
	struct wire_scaling sc;
	struct wire_retry rt;
	const char *p;
	size_t i;
	int rc;

	if (!d->service)
		return wire_fail(why, -ERR_INVALID, "missing 'service': the function name is required");
	if (!d->image)
		return wire_fail(why, -ERR_INVALID, "missing 'image': the function image is required");
	rc = wire_name_check_as("function", d->service, 0, why);
	if (rc)
		return rc;
	if (d->namespace && (rc = wire_name_check_as("namespace", d->namespace, 0, why)))
		return rc;
	for (p = d->image; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return wire_fail(why, -ERR_INVALID,
				    "invalid image '%s': control characters are not allowed",
				    quote(d->image, q));
	for (i = 0; i < d->env_vars.n; i++) {
		const char *k = d->env_vars.items[i].key;
		if (!*k || strchr(k, '='))
			return wire_fail(why, -ERR_INVALID,
				    "invalid envVars name '%s': must be non-empty without '='",
				    quote(k, q));
	}
	for (i = 0; i < d->secrets.n; i++)
		if ((rc = wire_name_check_as("secret", d->secrets.items[i], 0, why)))
			return rc;
	rc = wire_scaling_from_labels(&d->labels, &sc, why);
	if (!rc)
		rc = wire_retry_from_annotations(&d->annotations, NULL, &rt, why);
	return rc;
}

int wire_deploy_parse(const char *text, size_t len, struct wire_deploy *out, struct buf *why)
{
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = load_object(text, len, &root, why);
	if (rc)
		return rc;
	if ((rc = get_string(root, "service", true, &out->service, why)) ||
	    (rc = get_string(root, "image", true, &out->image, why)) ||
	    (rc = get_string(root, "namespace", true, &out->namespace, why)) ||
	    (rc = get_string(root, "envProcess", true, &out->env_process, why)) ||
	    (rc = get_map(root, "envVars", &out->env_vars, why)) ||
	    (rc = get_list(root, "constraints", &out->constraints, why)) ||
	    (rc = get_list(root, "secrets", &out->secrets, why)) ||
	    (rc = get_map(root, "labels", &out->labels, why)) ||
	    (rc = get_map(root, "annotations", &out->annotations, why)) ||
	    (rc = get_resources(root, "limits", &out->limits, why)) ||
	    (rc = get_resources(root, "requests", &out->requests, why)) ||
	    (rc = get_bool(root, "readOnlyRootFilesystem", &out->read_only_root_filesystem, why)) ||
	    (rc = deploy_validate(out, why)))
		wire_deploy_release(out);
	json_decref(root);
	return rc;
}

/* ---- building JSON ------------------------------------------------------ */

/*
 * Setters with omitempty: an empty value adds nothing. They return 0,
 * -EINVAL for a string that is not UTF-8 (Jansson refuses it) or -ENOMEM.
 */
static int set_new(json_t *o, const char *key, json_t *v, int fail_code)
{
	if (!v)
		return fail_code;
	return json_object_set_new(o, key, v) ? -ENOMEM : 0;
}

static int set_str(json_t *o, const char *key, const char *s)
{
	if (!s || !*s)
		return 0;
	return set_new(o, key, json_string(s), -EINVAL);
}

static int set_uint(json_t *o, const char *key, uint64_t v)
{
	if (!v)
		return 0;
	if (v > (uint64_t)LLONG_MAX)
		v = (uint64_t)LLONG_MAX;
	return set_new(o, key, json_integer((json_int_t)v), -ENOMEM);
}

static int map_to_json(const struct wire_map *m, json_t **out)
{
	json_t *o = json_object();
	size_t i;
	int rc = 0;

	if (!o)
		return -ENOMEM;
	for (i = 0; i < m->n && !rc; i++) {
		json_t *v = json_string(m->items[i].value);
		/* A key that is not UTF-8 makes Jansson refuse the pair. */
		if (!v)
			rc = -EINVAL;
		else if (json_object_set_new(o, m->items[i].key, v))
			rc = -EINVAL;
	}
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int set_map(json_t *o, const char *key, const struct wire_map *m)
{
	json_t *v;
	int rc;

	if (!m->n)
		return 0;
	rc = map_to_json(m, &v);
	return rc ? rc : set_new(o, key, v, -ENOMEM);
}

static int set_list(json_t *o, const char *key, const struct wire_list *l)
{
	json_t *a;
	size_t i;

	if (!l->n)
		return 0;
	a = json_array();
	if (!a)
		return -ENOMEM;
	for (i = 0; i < l->n; i++) {
		json_t *v = json_string(l->items[i]);
		if (!v || json_array_append_new(a, v)) {
			json_decref(a);
			return v ? -ENOMEM : -EINVAL;
		}
	}
	return set_new(o, key, a, -ENOMEM);
}

static int set_resources(json_t *o, const char *key, const struct wire_resources *r)
{
	json_t *v;
	int rc;

	if ((!r->memory || !*r->memory) && (!r->cpu || !*r->cpu))
		return 0;
	v = json_object();
	if (!v)
		return -ENOMEM;
	rc = set_str(v, "memory", r->memory);
	if (!rc)
		rc = set_str(v, "cpu", r->cpu);
	if (rc) {
		json_decref(v);
		return rc;
	}
	return set_new(o, key, v, -ENOMEM);
}

/* The fields FunctionDeployment and FunctionStatus share, labels and
 * namespace aside. */
static int set_common(json_t *o, const struct wire_deploy *d)
{
	int rc;

	if ((rc = set_str(o, "image", d->image)) ||
	    (rc = set_str(o, "envProcess", d->env_process)) ||
	    (rc = set_map(o, "envVars", &d->env_vars)) ||
	    (rc = set_list(o, "constraints", &d->constraints)) ||
	    (rc = set_list(o, "secrets", &d->secrets)) ||
	    (rc = set_map(o, "annotations", &d->annotations)) ||
	    (rc = set_resources(o, "limits", &d->limits)) ||
	    (rc = set_resources(o, "requests", &d->requests)))
		return rc;
	if (d->read_only_root_filesystem)
		rc = set_new(o, "readOnlyRootFilesystem", json_true(), -ENOMEM);
	return rc;
}

int wire_deploy_to_json(const struct wire_deploy *d, json_t **out)
{
	json_t *o;
	int rc;

	*out = NULL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	if ((rc = set_str(o, "service", d->service)) ||
	    (rc = set_str(o, "namespace", d->namespace)) ||
	    (rc = set_map(o, "labels", &d->labels)) ||
	    (rc = set_common(o, d))) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int wire_json_dump(const json_t *j, struct buf *out)
{
	size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	size_t n = json_dumpb(j, NULL, 0, flags);
	int rc;

	if (n == 0)
		return -ENOMEM;
	rc = buf_grow(out, n);
	if (rc)
		return rc;
	if (json_dumpb(j, out->data + out->len, n, flags) != n)
		return -ENOMEM;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* Dumps a freshly built object and drops it. */
int wire_dump_built(int rc, json_t *j, struct buf *out)
{
	if (!rc)
		rc = wire_json_dump(j, out);
	json_decref(j);
	return rc;
}

int wire_deploy_dump(const struct wire_deploy *d, struct buf *out)
{
	json_t *j = NULL;
	int rc = wire_deploy_to_json(d, &j);

	return wire_dump_built(rc, j, out);
}

/* ---- FunctionStatus ----------------------------------------------------- */

int wire_time_rfc3339(int64_t unix_ms, struct buf *out)
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	struct tm tm;
	time_t t;
	char frac[8] = "";

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	if (ms) {
		int n = 4;
		frac[0] = '.';
		frac[1] = (char)('0' + ms / 100);
		frac[2] = (char)('0' + ms / 10 % 10);
		frac[3] = (char)('0' + ms % 10);
		while (frac[n - 1] == '0')
			n--;
		frac[n] = '\0';
	}
	return buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
			  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int status_labels(json_t *o, const struct wire_status *st)
{
	json_t *labels, *name;
	int rc;

	rc = map_to_json(&st->deploy->labels, &labels);
	if (rc)
		return rc;
	name = json_string(st->name);
	if (!name || json_object_set_new(labels, WIRE_LABEL_FUNCTION, name)) {
		json_decref(labels);
		return name ? -ENOMEM : -EINVAL;
	}
	return set_new(o, "labels", labels, -ENOMEM);
}

int wire_status_to_json(const struct wire_status *st, json_t **out)
{
	const char *ns;
	struct buf t;
	json_t *o;
	int rc;

	*out = NULL;
	if (!st || !st->deploy || !st->name || !*st->name)
		return -EINVAL;
	ns = (st->namespace && *st->namespace) ? st->namespace : st->deploy->namespace;
	o = json_object();
	if (!o)
		return -ENOMEM;
	buf_init(&t, 64);
	if ((rc = set_str(o, "name", st->name)) ||
	    (rc = set_str(o, "namespace", ns)) ||
	    (rc = status_labels(o, st)) ||
	    (rc = set_common(o, st->deploy)) ||
	    (rc = set_uint(o, "replicas", st->replicas)) ||
	    (rc = set_uint(o, "availableReplicas", st->available_replicas)) ||
	    (rc = set_uint(o, "invocationCount", st->invocation_count)))
		goto out;
	if (st->created_at_ms) {
		rc = wire_time_rfc3339(st->created_at_ms, &t);
		if (!rc)
			rc = set_str(o, "createdAt", buf_cstr(&t));
	}
out:
	buf_release(&t);
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int wire_status_dump(const struct wire_status *st, struct buf *out)
{
	json_t *j = NULL;
	int rc = wire_status_to_json(st, &j);

	return wire_dump_built(rc, j, out);
}

/* ---- scaling labels ----------------------------------------------------- */

#define SCALE_MIN "com.openfaas.scale.min"
#define SCALE_MAX "com.openfaas.scale.max"
#define SCALE_TARGET "com.openfaas.scale.target"
#define SCALE_ZERO "com.openfaas.scale.zero"
#define SCALE_ZERO_DURATION "com.openfaas.scale.zero-duration"

/* Replica counts are ints elsewhere; no other limit is imposed. */
#define SCALE_LIMIT ((uint64_t)INT_MAX)

static int label_uint(const struct wire_map *m, const char *key, uint64_t *v, struct buf *why)
{
	const char *s = wire_map_get(m, key);
	char q[QUOTE_MAX + 4];

	if (!s)
		return 0;
	if (parse_uint(s, SCALE_LIMIT, v))
		return wire_fail(why, -ERR_INVALID, "invalid %s '%s': use a non-negative integer",
			    key, quote(s, q));
	return 0;
}

static int label_duration(const struct wire_map *m, const char *key, int64_t *ms,
			  struct buf *why)
{
	const char *s = wire_map_get(m, key);
	char q[QUOTE_MAX + 4];
	int64_t v;

	if (!s)
		return 0;
	if (parse_duration_ms(s, &v) || v <= 0)
		return wire_fail(why, -ERR_INVALID,
			    "invalid %s '%s': use a duration above zero like 500ms, 30s or 5m",
			    key, quote(s, q));
	*ms = v;
	return 0;
}

int wire_scaling_from_labels(const struct wire_map *labels, struct wire_scaling *out,
			     struct buf *why)
{
	struct wire_scaling sc = {
		.min = WIRE_SCALE_MIN_DEFAULT,
		.max = WIRE_SCALE_MAX_DEFAULT,
		.zero_duration_ms = WIRE_SCALE_ZERO_DURATION_DEFAULT_MS,
	};
	int rc;

	if (why)
		buf_reset(why);
	if ((rc = label_uint(labels, SCALE_MIN, &sc.min, why)) ||
	    (rc = label_uint(labels, SCALE_MAX, &sc.max, why)) ||
	    (rc = label_uint(labels, SCALE_TARGET, &sc.target, why)) ||
	    (rc = label_duration(labels, SCALE_ZERO_DURATION, &sc.zero_duration_ms, why)))
		return rc;
	if (wire_map_get(labels, SCALE_TARGET) && sc.target == 0)
		return wire_fail(why, -ERR_INVALID, "invalid %s '0': use an integer above zero",
			    SCALE_TARGET);
	if (sc.min > sc.max)
		return wire_fail(why, -ERR_INVALID,
			    "invalid scaling labels: %s %llu is above %s %llu", SCALE_MIN,
			    (unsigned long long)sc.min, SCALE_MAX, (unsigned long long)sc.max);
	sc.zero = parse_bool(wire_map_get(labels, SCALE_ZERO));
	*out = sc;
	return 0;
}

/* ---- retry annotations -------------------------------------------------- */

#define RETRY_ATTEMPTS "com.openfaas.retry.attempts"
#define RETRY_CODES "com.openfaas.retry.codes"
#define RETRY_MIN_WAIT "com.openfaas.retry.min_wait"
#define RETRY_MAX_WAIT "com.openfaas.retry.max_wait"

void wire_retry_defaults(struct wire_retry *r)
{
	static const int codes[] = { 408, 429, 500, 502, 503, 504 };

	memset(r, 0, sizeof(*r));
	r->attempts = 5;
	r->ncodes = sizeof(codes) / sizeof(codes[0]);
	memcpy(r->codes, codes, sizeof(codes));
	r->min_wait_ms = 1000;
	r->max_wait_ms = 60000;
}

bool wire_retry_code(const struct wire_retry *r, int status)
{
	size_t i;

	for (i = 0; i < r->ncodes; i++)
		if (r->codes[i] == status)
			return true;
	return false;
}

/* Parses "408, 429,503" into r->codes. */
static int retry_codes(const char *s, struct wire_retry *r, struct buf *why)
{
	char q[QUOTE_MAX + 4], item[8];
	const char *p = s;
	uint64_t v;

	r->ncodes = 0;
	for (;;) {
		const char *end;
		size_t n;

		while (*p == ' ')
			p++;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 0 || n >= sizeof(item))
			goto bad;
		memcpy(item, p, n);
		item[n] = '\0';
		if (parse_uint(item, 599, &v) || v < 100)
			goto bad;
		if (r->ncodes == WIRE_RETRY_MAX_CODES)
			return wire_fail(why, -ERR_INVALID, "invalid %s '%s': at most %d codes",
				    RETRY_CODES, quote(s, q), WIRE_RETRY_MAX_CODES);
		r->codes[r->ncodes++] = (int)v;
		if (!*end)
			return 0;
		p = end + 1;
	}
bad:
	return wire_fail(why, -ERR_INVALID,
		    "invalid %s '%s': use comma-separated HTTP status codes like 429,503",
		    RETRY_CODES, quote(s, q));
}

int wire_retry_from_annotations(const struct wire_map *ann, const struct wire_retry *defaults,
				struct wire_retry *out, struct buf *why)
{
	struct wire_retry r;
	char q[QUOTE_MAX + 4];
	const char *s;
	uint64_t v;
	int rc;

	if (why)
		buf_reset(why);
	if (defaults)
		r = *defaults;
	else
		wire_retry_defaults(&r);
	s = wire_map_get(ann, RETRY_ATTEMPTS);
	if (s && (parse_uint(s, UINT_MAX / 2, &v) || v == 0))
		return wire_fail(why, -ERR_INVALID, "invalid %s '%s': use an integer above zero",
			    RETRY_ATTEMPTS, quote(s, q));
	if (s)
		r.attempts = (unsigned)v;
	s = wire_map_get(ann, RETRY_CODES);
	if (s && (rc = retry_codes(s, &r, why)))
		return rc;
	if ((rc = label_duration(ann, RETRY_MIN_WAIT, &r.min_wait_ms, why)) ||
	    (rc = label_duration(ann, RETRY_MAX_WAIT, &r.max_wait_ms, why)))
		return rc;
	if (r.min_wait_ms > r.max_wait_ms)
		return wire_fail(why, -ERR_INVALID,
			    "invalid retry annotations: %s (%lld ms) is above %s (%lld ms)",
			    RETRY_MIN_WAIT, (long long)r.min_wait_ms, RETRY_MAX_WAIT,
			    (long long)r.max_wait_ms);
	*out = r;
	return 0;
}

/* ---- scale request ------------------------------------------------------ */

void wire_scale_release(struct wire_scale *s)
{
	if (!s)
		return;
	free(s->service_name);
	free(s->namespace);
	memset(s, 0, sizeof(*s));
}

int wire_scale_parse(const char *text, size_t len, struct wire_scale *out, struct buf *why)
{
	json_t *root = NULL;
	const json_t *v;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = load_object(text, len, &root, why);
	if (rc)
		return rc;
	if ((rc = get_string(root, "serviceName", true, &out->service_name, why)) ||
	    (rc = get_string(root, "namespace", true, &out->namespace, why)))
		goto out;
	if (!out->service_name) {
		rc = wire_fail(why, -ERR_INVALID, "missing 'serviceName': the function name is required");
		goto out;
	}
	if ((rc = wire_name_check(out->service_name, why)))
		goto out;
	if (out->namespace && (rc = wire_name_check_as("namespace", out->namespace, 0, why)))
		goto out;
	v = json_object_get(root, "replicas");
	if (!v || json_is_null(v)) {
		rc = wire_fail(why, -ERR_INVALID, "missing 'replicas': the replica count is required");
		goto out;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		rc = fail_type(why, "replicas", "a non-negative integer");
		goto out;
	}
	out->replicas = (uint64_t)json_integer_value(v);
out:
	if (rc)
		wire_scale_release(out);
	json_decref(root);
	return rc;
}

/* ---- secrets ------------------------------------------------------------ */

void wire_secret_release(struct wire_secret *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->namespace);
	if (s->value)
		explicit_bzero(s->value, s->value_len);
	free(s->value);
	memset(s, 0, sizeof(*s));
}

/* Fills s->value from `rawValue` (preferred when non-empty) or `value`. */
static int secret_value(const json_t *root, struct wire_secret *s, struct buf *why)
{
	const json_t *raw = json_object_get(root, "rawValue");
	const json_t *val = json_object_get(root, "value");
	struct buf b;
	int rc = 0;

	if (raw && json_is_null(raw))
		raw = NULL;
	if (val && json_is_null(val))
		val = NULL;
	if (raw && !json_is_string(raw))
		return fail_type(why, "rawValue", "a base64 string");
	if (val && !json_is_string(val))
		return fail_type(why, "value", "a string");
	if (!raw && !val)
		return 0;
	s->has_value = true;
	buf_init(&b, WIRE_SECRET_MAX);
	if (raw && json_string_length(raw) > 0) {
		rc = b64_decode(&b, json_string_value(raw), json_string_length(raw));
		if (rc == -ERR_PARSE)
			rc = wire_fail(why, -ERR_INVALID, "invalid 'rawValue': not standard base64");
	} else if (val) {
		rc = buf_add(&b, json_string_value(val), json_string_length(val));
	}
	if (rc == -ERR_TOO_BIG)
		rc = wire_fail(why, rc, "secret value too big: over %u bytes", WIRE_SECRET_MAX);
	else if (rc == -ENOMEM)
		rc = wire_fail(why, rc, "out of memory");
	if (rc) {
		if (b.data)
			explicit_bzero(b.data, b.alloc);
		buf_release(&b);
		return rc;
	}
	s->value = (unsigned char *)buf_detach(&b, &s->value_len);
	return 0;
}

int wire_secret_parse(const char *text, size_t len, int flags, struct wire_secret *out,
		      struct buf *why)
{
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = load_object(text, len, &root, why);
	if (rc)
		return rc;
	if ((rc = get_string(root, "name", true, &out->name, why)) ||
	    (rc = get_string(root, "namespace", true, &out->namespace, why)))
		goto out;
	if (!out->name) {
		rc = wire_fail(why, -ERR_INVALID, "missing 'name': the secret name is required");
		goto out;
	}
	if ((rc = wire_name_check_as("secret", out->name, 0, why)) ||
	    (out->namespace && (rc = wire_name_check_as("namespace", out->namespace, 0, why))))
		goto out;
	if ((rc = secret_value(root, out, why)))
		goto out;
	if ((flags & WIRE_SECRET_NEED_VALUE) && !out->has_value)
		rc = wire_fail(why, -ERR_INVALID, "missing 'value' or 'rawValue' for secret '%s'",
			  out->name);
out:
	if (rc)
		wire_secret_release(out);
	json_decref(root);
	return rc;
}

int wire_secret_entry_to_json(const char *name, const char *namespace, json_t **out)
{
	json_t *o;
	int rc;

	*out = NULL;
	if (!name || !*name)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	if ((rc = set_str(o, "name", name)) || (rc = set_str(o, "namespace", namespace))) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}
