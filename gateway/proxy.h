/*
 * proxy.h - /function/NAME: a call proxied to one of the function's ready
 * replicas, with bodies streamed both ways.
 *
 * The server calls proxy_begin() when the request head is in (the replica
 * is picked and the head sent upstream), proxy_body() for each piece of
 * the request body, proxy_response() once the body is done (the replica's
 * head comes back), proxy_read() until the body ends, then proxy_end().
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw.h"
#include "http.h"

struct proxy_call;

/* What the server knows of the client's request. Borrowed. */
struct proxy_req {
	const char *method;
	const char *raw_uri;          /* as sent: /function/NAME/rest?query */
	const struct http_hdr *hdrs;
	size_t nhdrs;
	const char *remote_addr;
	int64_t content_length;       /* -1: unknown (chunked or none) */
	bool chunked;
};

/* Starts a call. On success *out is the call (free with proxy_end) and 0
 * is returned; otherwise an HTTP status (400, 404, 502, 503) with a
 * one-line reason in why, and *out is NULL. */
int proxy_begin(struct gateway *gw, const struct proxy_req *req, struct proxy_call **out,
		struct buf *why);

/* Streams a piece of the request body to the replica. 0, or an HTTP
 * status (502 when the replica went away, 413 over --max-body). */
int proxy_body(struct proxy_call *c, const char *data, size_t len, struct buf *why);

/* Ends the request body and reads the replica's answer head. 0 and *head
 * (borrowed from c; extra response headers in *extra, "Name: value\r\n"
 * lines) or an HTTP status (502) with the reason in why. *content_length
 * is -1 when unknown. */
int proxy_response(struct proxy_call *c, const struct http_head **head, const char **extra,
		   int64_t *content_length, struct buf *why);

/* Reads the next piece of the answer body: >0 bytes, 0 at the end, < 0 if
 * the replica broke off. */
ssize_t proxy_read(struct proxy_call *c, char *buf, size_t max);

/* Ends the call: counts it in the metrics with status (0: the status the
 * replica answered, or 499 when the client got nothing), returns the connection to the pool
 * when it is clean, releases the replica. NULL is fine. */
void proxy_end(struct proxy_call *c, int status);

/* The call id of c (the client's X-Call-Id or a new UUID). */
const char *proxy_call_id(const struct proxy_call *c);

#endif
