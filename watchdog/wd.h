/*
 * wd.h - the parts of the watchdog and what they share.
 *
 * server.c accepts connections and parses requests; each request is handed
 * to the handler of the configured mode (fork.c, upstream.c) as a struct
 * wd_req, and answered through the wd_respond* helpers.
 */
#ifndef WD_WD_H
#define WD_WD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "net.h"

struct wd_upstream;

struct wd_server {
	const struct wd_config *cfg;
	int listen_fd;
	int drain_fd;              /* eventfd: readable once draining */
	atomic_int inflight;       /* function calls running */
	atomic_int active;         /* requests being served, health included */
	atomic_int conns;          /* open connections */
	atomic_bool draining;
	struct wd_upstream *up;    /* mode=http */
};

struct wd_req {
	struct wd_server *srv;
	const struct wd_config *cfg;
	int fd;
	struct rbuf *rb;
	struct http_head head;
	struct http_body body;
	char ctx[96];              /* log context, "call_id=..." or "" */
	int64_t start_ns;
	bool keep_alive;           /* cleared when the connection must close */
	bool responded;
};

/* Sends a whole response: status, optional Content-Type, extra header
 * lines (each "Name: value\r\n", may be NULL) and a body. Returns 0 or a
 * negative code (the connection is then closed). */
int wd_respond(struct wd_req *req, int status, const char *content_type,
	       const char *extra, const void *body, size_t len);

/* Sends only a head with the given header lines; content_length < 0 means
 * the body follows chunked. The caller then writes the body. */
int wd_respond_head(struct wd_req *req, int status, const char *headers,
		    int64_t content_length);

/* Write deadline for a response started now. */
int64_t wd_write_deadline(const struct wd_req *req);

/* Fork mode: runs fprocess for the request. Always answers. */
void wd_fork_handle(struct wd_req *req);

/* mode=http: starts fprocess once and keeps it running. 0 or error. */
int wd_upstream_start(struct wd_server *srv, struct wd_upstream **out);
/* True when the upstream accepts connections. */
bool wd_upstream_ready(struct wd_upstream *up);
/* Proxies the request to the upstream. Always answers. */
void wd_upstream_handle(struct wd_req *req);
/* Stops the upstream process (SIGTERM, then SIGKILL after grace_ms). */
void wd_upstream_stop(struct wd_upstream *up, int64_t grace_ms);

#endif
