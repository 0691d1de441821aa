/*
 * wire.h - the JSON shapes of the OpenFaaS API, shared by gateway, worker
 * and CLI (DESIGN.md section 3).
 *
 * Parsing follows Go's encoding/json where a client could notice: unknown
 * fields are ignored, `null` counts as absent, the last of duplicate keys
 * wins. Then each value is validated. Every parser reports failure the same
 * way:
 *   -ERR_PARSE    the text is not JSON; why = "malformed JSON: <reason> at
 *                 line L column C"
 *   -ERR_INVALID  the JSON is well formed but a field is missing, has the
 *                 wrong type or a bad value; why names the field and value
 *   -ENOMEM
 * why (may be NULL) is emptied and receives one lower-case line without a
 * trailing newline; values quoted in it are shortened and stripped of
 * control characters, so it is safe to send back in a 400 answer.
 *
 * Serialising follows Go's `omitempty`: zero numbers, empty strings, empty
 * maps and lists and false are left out.
 *
 * Ownership: every struct below owns all of its strings and arrays (heap,
 * NUL-terminated). A struct filled by a parser is released with its
 * _release function, which accepts NULL and a zeroed struct, and leaves the
 * struct zeroed. On failure a parser leaves its output zeroed.
 */
#ifndef CFAAS_WIRE_H
#define CFAAS_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Name rules of DNS labels (RFC 1123), as Kubernetes applies them. */
#define WIRE_NAME_MAX 63
/* The namespace a deployment without one lands in. */
#define WIRE_DEFAULT_NAMESPACE "openfaas-fn"
/* The label every function status carries with the function's name. */
#define WIRE_LABEL_FUNCTION "faas_function"
/* Largest secret value accepted (Kubernetes' limit). */
#define WIRE_SECRET_MAX (1024u * 1024)

/* ---- names ------------------------------------------------------------ */

/* Flag for wire_name_check_as: accept "NAME.NS" as well as "NAME". */
#define WIRE_NAME_ALLOW_NS 1

/* Checks a function name: 1-63 characters of [a-z0-9-], starting and ending
 * with a letter or digit, optionally followed by ".NS" with the same rules.
 * 0 or -ERR_INVALID with the reason in why (may be NULL), e.g.
 *   invalid function name 'Foo': use 1-63 characters of a-z, 0-9 and '-',
 *   starting and ending with a letter or digit */
int wire_name_check(const char *name, struct buf *why);

/* The same with the kind of name for the message ("function", "secret",
 * "namespace") and flags (WIRE_NAME_ALLOW_NS or 0). what is borrowed. */
int wire_name_check_as(const char *what, const char *name, int flags, struct buf *why);

/* ---- string maps and lists -------------------------------------------- */

struct wire_kv {
	char *key;
	char *value;
};

/* A JSON object of strings, in the order the JSON gave it; keys unique. */
struct wire_map {
	struct wire_kv *items;
	size_t n;
};

/* A JSON array of strings. */
struct wire_list {
	char **items;
	size_t n;
};

/* Returns the value of key, borrowed from m, or NULL if absent. */
const char *wire_map_get(const struct wire_map *m, const char *key);

/* Appends copies of key and value (the caller keeps keys unique). 0 or
 * -ENOMEM, with m unchanged. */
int wire_map_add(struct wire_map *m, const char *key, const char *value);

/* Frees the entries and the array; m is left zeroed (a zeroed m is fine). */
void wire_map_release(struct wire_map *m);

/* ---- FunctionDeployment ------------------------------------------------- */

/* `limits` / `requests`. The strings keep what the client sent (NULL when
 * absent or empty); the numbers are their parsed values (0 when absent). */
struct wire_resources {
	char *memory;          /* "128Mi" */
	char *cpu;             /* "100m" */
	uint64_t memory_bytes; /* from parse_size */
	uint64_t cpu_millis;   /* from parse_cpu_millis */
};

/* The body of POST/PUT /system/functions. NULL strings mean absent. */
struct wire_deploy {
	char *service;             /* required, a plain name (no ".NS") */
	char *image;               /* required, kept byte for byte */
	char *namespace;           /* NULL: the caller's default */
	char *env_process;         /* `envProcess`, the replica's fprocess */
	struct wire_map env_vars;  /* `envVars` */
	struct wire_list constraints;
	struct wire_list secrets;  /* secret names, each a valid name */
	struct wire_map labels;
	struct wire_map annotations;
	struct wire_resources limits;
	struct wire_resources requests;
	bool read_only_root_filesystem;
};

/* Parses and validates a FunctionDeployment from (text, len), which need not
 * be NUL-terminated. Besides types and required fields it checks: service
 * and namespace as names, each secret as a secret name, envVars keys (not
 * empty, no '='), image (no control characters), memory and cpu quantities,
 * and the scaling labels and retry annotations (wire_scaling_from_labels,
 * wire_retry_from_annotations), so a bad value is refused at deploy time.
 * out is owned by the caller: wire_deploy_release() it. */
int wire_deploy_parse(const char *text, size_t len, struct wire_deploy *out,
		      struct buf *why);

/* Frees everything d owns and zeroes it; d may be NULL. */
void wire_deploy_release(struct wire_deploy *d);

/* Builds the FunctionDeployment JSON of d (the storage form: parsing it back
 * gives an equal struct). *out is new; the caller json_decref()s it.
 * 0, -EINVAL (a string that is not UTF-8, possible only in a struct built
 * by hand) or -ENOMEM. */
int wire_deploy_to_json(const struct wire_deploy *d, json_t **out);

/* Appends the same as compact JSON text to out. 0, -EINVAL, -ERR_TOO_BIG,
 * -ENOMEM; out is unchanged on failure. */
int wire_deploy_dump(const struct wire_deploy *d, struct buf *out);

/* ---- FunctionStatus ----------------------------------------------------- */

/* What a GET of one function answers. Everything is borrowed. */
struct wire_status {
	const struct wire_deploy *deploy; /* required */
	const char *name;          /* required; also labels.faas_function */
	const char *namespace;     /* emitted if non-empty, else deploy's */
	uint64_t replicas;         /* desired */
	uint64_t available_replicas; /* ready */
	uint64_t invocation_count;
	int64_t created_at_ms;     /* Unix ms; 0 leaves `createdAt` out */
};

/* Builds the FunctionStatus JSON: the deployment's fields with `service`
 * renamed `name`, the counters and `createdAt` (RFC 3339), omitempty
 * applied, and labels carrying faas_function=name (overriding a label of
 * that key). *out is new; the caller json_decref()s it. 0, -EINVAL (no
 * deploy or name, or a string that is not UTF-8), -ENOMEM. */
int wire_status_to_json(const struct wire_status *st, json_t **out);

/* Appends the same as compact JSON text. 0, -EINVAL, -ERR_TOO_BIG, -ENOMEM. */
int wire_status_dump(const struct wire_status *st, struct buf *out);

/* ---- scaling labels ----------------------------------------------------- */

#define WIRE_SCALE_MIN_DEFAULT 1
#define WIRE_SCALE_MAX_DEFAULT 20
#define WIRE_SCALE_ZERO_DURATION_DEFAULT_MS (15 * 60 * 1000)

/* The com.openfaas.scale.* labels with their defaults applied. */
struct wire_scaling {
	uint64_t min;             /* .min, default 1 */
	uint64_t max;             /* .max, default 20 */
	uint64_t target;          /* .target in-flight per replica; 0 = not set */
	bool zero;                /* .zero, only "true" is true */
	int64_t zero_duration_ms; /* .zero-duration, default 15m */
};

/* Reads the scaling labels from labels (may be NULL: all defaults). min and
 * max are non-negative integers with min <= max, target a positive integer,
 * zero-duration a duration ("5m", "30" seconds) above zero. 0 or
 * -ERR_INVALID with the reason in why. */
int wire_scaling_from_labels(const struct wire_map *labels, struct wire_scaling *out,
			     struct buf *why);

/* ---- retry annotations -------------------------------------------------- */

#define WIRE_RETRY_MAX_CODES 32

/* How an async call is retried (DESIGN.md section 6). */
struct wire_retry {
	unsigned attempts;       /* attempts in all, first one included */
	size_t ncodes;
	int codes[WIRE_RETRY_MAX_CODES]; /* HTTP statuses that are retried */
	int64_t min_wait_ms;
	int64_t max_wait_ms;
};

/* Fills r with the defaults of DESIGN.md: 5 attempts, codes 408, 429, 500,
 * 502, 503, 504, waits 1s to 60s. */
void wire_retry_defaults(struct wire_retry *r);

/* Starts from *defaults (NULL: wire_retry_defaults) and applies the
 * com.openfaas.retry.attempts, .codes ("429,503", spaces allowed around
 * commas, 100-599 each), .min_wait and .max_wait annotations of ann (may be
 * NULL). attempts must be a positive integer and min_wait <= max_wait after
 * both are applied. 0 or -ERR_INVALID with the reason in why. */
int wire_retry_from_annotations(const struct wire_map *ann, const struct wire_retry *defaults,
				struct wire_retry *out, struct buf *why);

/* True if status is one of r's retried codes. */
bool wire_retry_code(const struct wire_retry *r, int status);

/* ---- scale request ------------------------------------------------------ */

/* The body of POST /system/scale-function/NAME. */
struct wire_scale {
	char *service_name; /* `serviceName`, required, a valid function name */
	char *namespace;    /* NULL when absent */
	uint64_t replicas;  /* required, a non-negative integer */
};

/* Parses a scale request. The caller wire_scale_release()s out. */
int wire_scale_parse(const char *text, size_t len, struct wire_scale *out, struct buf *why);

/* Frees what s owns and zeroes it; s may be NULL. */
void wire_scale_release(struct wire_scale *s);

/* ---- secrets ------------------------------------------------------------ */

/* Flag for wire_secret_parse: a value is required (create, update). */
#define WIRE_SECRET_NEED_VALUE 1

/* The body of /system/secrets. The value is bytes: from `rawValue` (base64,
 * Go []byte) when that is present and non-empty, else from `value`; either
 * may hold NUL bytes, so read it as (value, value_len). */
struct wire_secret {
	char *name;          /* required, a valid secret name (no ".NS") */
	char *namespace;     /* NULL when absent */
	unsigned char *value; /* NUL-terminated for convenience, not counted */
	size_t value_len;
	bool has_value;      /* `value` or `rawValue` was present */
};

/* Parses a secret. flags: WIRE_SECRET_NEED_VALUE makes a missing value an
 * error. A value over WIRE_SECRET_MAX bytes is -ERR_TOO_BIG; bad base64 in
 * rawValue is -ERR_INVALID. The caller wire_secret_release()s out. */
int wire_secret_parse(const char *text, size_t len, int flags, struct wire_secret *out,
		      struct buf *why);

/* Frees what s owns (wiping the value first) and zeroes it; s may be NULL. */
void wire_secret_release(struct wire_secret *s);

/* Builds one entry of the secret list: {"name", "namespace"} (namespace left
 * out when NULL or empty); never a value. Arguments borrowed; *out is new,
 * the caller json_decref()s it. 0, -EINVAL, -ENOMEM. */
int wire_secret_entry_to_json(const char *name, const char *namespace, json_t **out);

/* ---- helpers ------------------------------------------------------------ */

/* Appends a Unix time in ms as RFC 3339 in UTC, the way Go's time.Time
 * marshals: "2024-05-01T12:00:00Z", fraction only when non-zero and
 * without trailing zeros ("...:00.25Z"). 0, -EINVAL, -ERR_TOO_BIG, -ENOMEM. */
int wire_time_rfc3339(int64_t unix_ms, struct buf *out);

/* Appends j as compact JSON text (object keys in insertion order). j is
 * borrowed. 0, -ERR_TOO_BIG, -ENOMEM. */
int wire_json_dump(const json_t *j, struct buf *out);

/* ---- for the other JSON modules (callmsg.c) ---------------------------- */

/* Copies s (NULL reads as "") into dst for quoting in a reason: control
 * characters become '?', and past max bytes it is cut at a character
 * boundary and marked "...". dst holds max + 4 bytes. Returns dst. */
const char *wire_quote(const char *s, char *dst, size_t max);

/* Replaces why's content (when why is not NULL) with a formatted one-line
 * reason; returns code, so a parser can `return wire_fail(...)`. */
int wire_fail(struct buf *why, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* When rc is 0, appends j as compact JSON to out; drops j either way.
 * Returns rc, or the dump's code. */
int wire_dump_built(int rc, json_t *j, struct buf *out);

#endif
