/*
 * gw.h - the gateway's shared context and its request/response types.
 *
 * server.c (the libmicrohttpd glue) gathers each request into a struct
 * gw_req and hands it to the handler of its route (routes.c); the handler
 * fills a struct gw_resp. Handlers never see libmicrohttpd, so they are
 * unit-tested with plain structs.
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "http.h"

struct store;
struct provider;
struct logstore;
struct metrics;
struct gw_async;
struct pool;

/* The whole gateway; one per process. */
struct gateway {
	struct gw_config cfg;
	struct store *store;
	struct provider *prov;
	struct logstore *logs;
	struct metrics *metrics;
	struct pool *pool;            /* kept-alive replica connections */
	struct gw_async *async;       /* NULL when the queue is off */
	char *auth_user;
	char *auth_password;
	int64_t started_ms;
	pthread_mutex_t fn_lock;      /* serialises deploy/update/delete */
	volatile int stopping;
};

struct gw_req {
	struct gateway *gw;
	const char *method;
	const char *path;             /* decoded path, no query */
	const char *query;            /* raw query, "" if none */
	const char *arg;              /* what follows a prefix route, decoded */
	const struct http_hdr *hdrs;
	size_t nhdrs;
	const char *body;
	size_t body_len;
	const char *remote_addr;      /* client IP as text */
	int client_fd;                /* the connection's socket (watch only) */
};

/* A streamed body: read is called until it returns 0 (end) or < 0
 * (abort). It may block; it runs on the connection's own thread. */
struct gw_stream {
	ssize_t (*read)(void *ctx, char *buf, size_t max);
	void (*free)(void *ctx);
	void *ctx;
};

struct gw_resp {
	int status;
	const char *content_type;     /* static string, or NULL */
	struct buf headers;           /* "Name: value\r\n" lines */
	struct buf body;
	struct gw_stream stream;      /* used instead of body when read is set */
};

#define GW_MAX_API_BODY (4u * 1024 * 1024)
#define GW_MAX_UPLOAD_BODY (256u * 1024 * 1024)

void gw_resp_init(struct gw_resp *r);
void gw_resp_release(struct gw_resp *r);

/* Sets status and a one-line plain-text body (a newline is added). */
void gw_resp_error(struct gw_resp *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets status and a JSON body taken from j (j is borrowed). */
void gw_resp_json(struct gw_resp *r, int status, const void *json_t_value);

/* Adds a response header. */
void gw_resp_header(struct gw_resp *r, const char *name, const char *value);

/* The value of a request header (case-insensitive), or NULL. */
const char *gw_req_header(const struct gw_req *req, const char *name);

/* Appends the decoded query parameter; 0, -ERR_NOT_FOUND, -ERR_PARSE. */
int gw_req_query(const struct gw_req *req, const char *key, struct buf *out);

/* The namespace a request means: ?namespace= or the given fallback (from
 * a body), else the default. Copies into out (cap bytes). 0 or
 * -ERR_INVALID with the reason in why. */
int gw_req_namespace(const struct gw_req *req, const char *fallback, char *out,
		     size_t cap, struct buf *why);

typedef void (*gw_handler)(struct gw_req *req, struct gw_resp *resp);

#endif
