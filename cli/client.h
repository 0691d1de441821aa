/*
 * client.h - HTTP requests to the gateway through libcurl.
 *
 * One client keeps one curl handle, so consecutive requests reuse the
 * connection. Redirects are never followed. Basic auth is sent only on
 * requests that ask for it (the /system routes), never to functions.
 * Answers are collected into a capped buffer, or handed chunk by chunk to
 * a callback (log streams).
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

/* Default cap of a collected answer body. */
#define CLIENT_MAX_BODY (64u * 1024 * 1024)

struct client;

struct client_opts {
	const char *gateway;   /* base URL without a trailing '/' (copied) */
	const char *user;      /* NULL: no credentials (copied) */
	const char *password;
	bool tls_no_verify;
};

/* Creates a client. 0 or -ENOMEM. Free with client_free. */
int client_new(const struct client_opts *o, struct client **out);

/* Frees c (NULL is fine), wiping the password. */
void client_free(struct client *c);

/* True when the client has credentials to send. */
bool client_has_auth(const struct client *c);

struct client_req {
	const char *method;              /* "GET", "POST", ... */
	const char *path;                /* starts with '/', already encoded */
	const char *query;               /* encoded, without '?'; NULL for none */
	const void *body;                /* NULL: no body */
	size_t body_len;
	const char *content_type;        /* NULL: none */
	const struct wire_list *headers; /* extra "Name: value" lines, or NULL */
	bool auth;                       /* send the credentials */
	int64_t timeout_ms;              /* whole request; 0: none */
	size_t max_body;                 /* cap of resp->body; 0: CLIENT_MAX_BODY */
	/* When set, a 2xx answer's body goes here chunk by chunk instead of
	 * into resp->body; a negative return aborts with -ECANCELED. */
	int (*on_data)(void *ctx, const char *data, size_t len);
	void *ctx;
};

struct client_resp {
	long status;        /* HTTP status, 0 before an answer */
	struct buf body;    /* the answer body (capped) */
	struct buf headers; /* the final answer's header lines, "\r\n"-separated */
};

/* Prepares an empty answer; release with client_resp_release. */
void client_resp_init(struct client_resp *r);
void client_resp_release(struct client_resp *r);

/* Copies the value of the first header called name (case-insensitive)
 * into out. 0 or -ERR_NOT_FOUND. */
int client_resp_header(const struct client_resp *r, const char *name, struct buf *out);

/* Sends req. 0 when an answer came back, whatever its status. Otherwise a
 * negative code with one line in why: -ERR_UNAVAILABLE (the gateway
 * cannot be reached; the line names the URL tried), -ERR_TIMEOUT,
 * -ERR_TOO_BIG (answer over the cap), -ECANCELED (on_data stopped),
 * -ERR_PROTOCOL (other transfer errors). */
int client_do(struct client *c, const struct client_req *req, struct client_resp *resp,
	      struct buf *why);

/* The reason phrase of an HTTP status ("Accepted"), "" when unknown. */
const char *client_reason(long status);

#endif
