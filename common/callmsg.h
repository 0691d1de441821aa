/*
 * callmsg.h - the messages of the async path (DESIGN.md section 6), to and
 * from JSON. Shared by the gateway (which publishes calls and consumes
 * reports) and the queue worker (which consumes calls and publishes
 * reports and dead letters).
 *
 * A call message (stream CFAAS_CALLS, subject cfaas.calls.NAME[.NS]):
 *
 *   {"callId": "...", "function": "hello", "namespace": "openfaas-fn",
 *    "method": "POST", "path": "/sub/path", "query": "a=1",
 *    "header": {"Content-Type": ["text/plain"]}, "body": "<base64>",
 *    "callbackUrl": "http://...", "queuedAt": "2026-01-01T12:00:00.25Z",
 *    "round": 0, "retry": {"com.openfaas.retry.attempts": "3"}}
 *
 * `round` counts re-queues of the call (POST /system/calls/ID/retry) and
 * `retry` carries the function's com.openfaas.retry.* annotations as they
 * were when the call was queued, so a worker needs nothing but NATS.
 *
 * A report (stream CFAAS_RESULTS, subject cfaas.results.CALLID) tells where
 * a call is; the last report of a call is its state:
 *
 *   {"callId": "...", "round": 0, "status": "running", "attempts": 1,
 *    "statusCode": 200, "startedAt": "...", "finishedAt": "...",
 *    "durationSeconds": 0.01, "error": "...", "result": "<base64>",
 *    "resultHeader": {"Content-Type": ["text/plain"]},
 *    "outcome": "succeeded", "callback": "pending", "callbackAttempts": 1}
 *
 * `outcome` is set while the callback of a finished call is still being
 * delivered (status stays "running" until then). round -1 means "every
 * round" (a cancel).
 *
 * Parsing follows wire.h: unknown fields are ignored, null counts as
 * absent; -ERR_PARSE for text that is not JSON, -ERR_INVALID for a bad
 * field (why names it), -ENOMEM. Parsed structs own all their memory and
 * are released with the matching _release (NULL and zeroed structs are
 * fine); on failure the output is left zeroed.
 */
#ifndef CFAAS_CALLMSG_H
#define CFAAS_CALLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

/* A call id: 1-64 characters of [A-Za-z0-9_-] (a UUID fits). */
#define CALLMSG_ID_MAX 64
/* Longest callback URL accepted. */
#define CALLMSG_URL_MAX 2048

/* Stream and subject names. */
#define CALLMSG_STREAM_CALLS "CFAAS_CALLS"
#define CALLMSG_STREAM_DLQ "CFAAS_DLQ"
#define CALLMSG_STREAM_RESULTS "CFAAS_RESULTS"
#define CALLMSG_SUBJ_CALLS "cfaas.calls"     /* .NAME[.NS] */
#define CALLMSG_SUBJ_DLQ "cfaas.dlq"         /* .CALLID, or .invalid */
#define CALLMSG_SUBJ_RESULTS "cfaas.results" /* .CALLID */

/* One header and all its values, in the order they came. */
struct callmsg_hdr {
	char *name;
	char **values;
	size_t nvalues;
};

/* A list of headers; names unique (case-insensitively). */
struct callmsg_hdrs {
	struct callmsg_hdr *items;
	size_t n;
};

struct callmsg {
	char *call_id;          /* required, see callmsg_id_check */
	char *function;         /* required, a plain function name */
	char *namespace;        /* required */
	char *method;           /* required */
	char *path;             /* "" or "/sub/path" */
	char *query;            /* raw, without '?', "" if none */
	struct callmsg_hdrs header;
	unsigned char *body;    /* NUL-terminated for convenience, not counted */
	size_t body_len;
	char *callback_url;     /* NULL when none */
	int64_t queued_at_ms;
	int round;              /* >= 0 */
	struct wire_map retry;  /* com.openfaas.retry.* annotations */
};

/* Frees what h owns and zeroes it; h may be NULL. */
void callmsg_hdrs_release(struct callmsg_hdrs *h);

/* Appends value to the header name (case-insensitive match; a new name
 * keeps the spelling given). Both strings are copied. 0 or -ENOMEM. */
int callmsg_hdrs_add(struct callmsg_hdrs *h, const char *name, const char *value);

/* The header named name (case-insensitive), borrowed from h, or NULL. */
const struct callmsg_hdr *callmsg_hdrs_get(const struct callmsg_hdrs *h, const char *name);

/* The first value of header name, borrowed, or NULL. */
const char *callmsg_hdrs_value(const struct callmsg_hdrs *h, const char *name);

/* Frees what m owns and zeroes it; m may be NULL. */
void callmsg_release(struct callmsg *m);

/* Parses and validates a call message from (text, len). The caller
 * callmsg_release()s out. */
int callmsg_parse(const char *text, size_t len, struct callmsg *out, struct buf *why);

/* Appends m as compact JSON to out. 0, -EINVAL (missing required field or
 * a string that is not UTF-8), -ERR_TOO_BIG, -ENOMEM; out is unchanged on
 * failure. */
int callmsg_dump(const struct callmsg *m, struct buf *out);

/* Sets m->retry to the com.openfaas.retry.* entries of ann (may be NULL);
 * the old entries are freed. 0 or -ENOMEM. */
int callmsg_set_retry(struct callmsg *m, const struct wire_map *ann);

/* ---- reports -------------------------------------------------------------- */

/* The same names and order as the call record statuses (store.h). */
enum callmsg_status {
	CALLMSG_QUEUED,
	CALLMSG_RUNNING,
	CALLMSG_SUCCEEDED,
	CALLMSG_FAILED,
	CALLMSG_DEAD_LETTER,
	CALLMSG_CANCELLED,
	CALLMSG_NSTATUS
};

enum callmsg_callback {
	CALLMSG_CB_NONE,       /* no callback URL, or not reached yet */
	CALLMSG_CB_PENDING,    /* the call has an outcome; callback not delivered yet */
	CALLMSG_CB_DELIVERED,
	CALLMSG_CB_FAILED,     /* gave up after the last attempt */
};

/* "queued", ... "cancelled"; "unknown" otherwise. Static text. */
const char *callmsg_status_name(enum callmsg_status st);
/* The reverse; -ERR_INVALID for an unknown name. */
int callmsg_status_parse(const char *name, enum callmsg_status *out);
/* True for succeeded, failed, dead-letter and cancelled. */
bool callmsg_status_final(enum callmsg_status st);

#define CALLMSG_ROUND_ANY (-1)

struct callmsg_report {
	char *call_id;           /* required */
	int round;               /* >= 0, or CALLMSG_ROUND_ANY */
	enum callmsg_status status;
	enum callmsg_status outcome; /* meaningful with callback == PENDING */
	int attempts;
	int status_code;
	int64_t started_at_ms;   /* 0: not set */
	int64_t finished_at_ms;
	double duration_seconds;
	char *error;             /* NULL when none */
	unsigned char *result;   /* NULL when none; NUL-terminated, not counted */
	size_t result_len;
	struct callmsg_hdrs result_header;
	enum callmsg_callback callback;
	int callback_attempts;
};

/* Frees what r owns and zeroes it; r may be NULL. */
void callmsg_report_release(struct callmsg_report *r);

/* Parses a report. The caller callmsg_report_release()s out. */
int callmsg_report_parse(const char *text, size_t len, struct callmsg_report *out,
			 struct buf *why);

/* Appends r as compact JSON to out. Same codes as callmsg_dump. */
int callmsg_report_dump(const struct callmsg_report *r, struct buf *out);

/* Appends the headers {name: [values]} as a JSON object to out. */
int callmsg_hdrs_dump(const struct callmsg_hdrs *h, struct buf *out);

/* ---- checks and helpers ------------------------------------------------- */

/* 0 if id is a valid call id, else -ERR_INVALID with the reason in why
 * (may be NULL). */
int callmsg_id_check(const char *id, struct buf *why);

/* 0 if url is an acceptable callback URL: http:// or https://, a host,
 * no spaces or control characters, at most CALLMSG_URL_MAX bytes. Else
 * -ERR_INVALID with the reason in why (may be NULL). */
int callmsg_url_check(const char *url, struct buf *why);

/* Parses RFC 3339 ("2026-01-01T12:00:00Z", fraction and offset allowed)
 * into Unix ms. 0 or -ERR_PARSE. */
int callmsg_time_parse(const char *s, int64_t *out_ms);

/* Writes "<prefix>.<a>[.<b>]" into out (cap bytes). 0, or -ERR_TOO_BIG. */
int callmsg_subject(char *out, size_t cap, const char *prefix, const char *a, const char *b);

#endif
