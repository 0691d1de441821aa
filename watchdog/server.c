/*
 * server.c - the watchdog's HTTP/1.1 server.
 *
 * One thread per connection (small stacks), blocking-with-deadline I/O on
 * the socket through common/net.h, keep-alive, Expect: 100-continue, and a
 * drain mode that lets in-flight requests finish while idle connections go.
 * The watchdog does not use libmicrohttpd: it links statically so it runs in
 * any image (scratch included) and idles in well under 2 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "server.h"
#include "spawn.h"
#include "wd.h"
#include "banned.h"

#define MAX_CONNS 4096
#define THREAD_STACK (256u * 1024)
/* A body left unread by a handler is skipped up to this much before the
 * connection is closed instead. */
#define MAX_BODY_SKIP (1024u * 1024)

struct conn {
	struct wd_server *srv;
	int fd;
	struct rbuf rb;
};

int64_t wd_write_deadline(const struct wd_req *req)
{
	return req->cfg->write_timeout_ms ? mono_ms() + req->cfg->write_timeout_ms : 0;
}

static void add_date(struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	buf_printf(b, "Date: %s\r\n", date);
}

static int start_head(struct wd_req *req, struct buf *b, int status)
{
	if (atomic_load(&req->srv->draining))
		req->keep_alive = false;
	buf_printf(b, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	add_date(b);
	if (!req->keep_alive)
		buf_adds(b, "Connection: close\r\n");
	return 0;
}

int wd_respond_head(struct wd_req *req, int status, const char *headers,
		    int64_t content_length)
{
	struct buf b;
	int rc;

	buf_init(&b, RBUF_SIZE);
	start_head(req, &b, status);
	if (headers)
		buf_adds(&b, headers);
	if (content_length >= 0)
		buf_printf(&b, "Content-Length: %lld\r\n", (long long)content_length);
	else
		buf_adds(&b, "Transfer-Encoding: chunked\r\n");
	rc = buf_adds(&b, "\r\n");
	if (!rc)
		rc = net_write_all(req->fd, b.data, b.len, wd_write_deadline(req));
	buf_release(&b);
	req->responded = true;
	if (rc)
		req->keep_alive = false;
	return rc;
}

int wd_respond(struct wd_req *req, int status, const char *content_type,
	       const char *extra, const void *body, size_t len)
{
	struct buf b;
	int rc;

	buf_init(&b, RBUF_SIZE + 16384);
	start_head(req, &b, status);
	if (content_type)
		buf_printf(&b, "Content-Type: %s\r\n", content_type);
	if (extra)
		buf_adds(&b, extra);
	buf_printf(&b, "Content-Length: %zu\r\n\r\n", len);
	/* Small bodies go out with the head in one write. */
	rc = len <= 16384 ? buf_add(&b, body, len) : -ERR_TOO_BIG;
	if (rc == 0) {
		rc = net_write_all(req->fd, b.data, b.len, wd_write_deadline(req));
	} else {
		rc = net_write_all(req->fd, b.data, b.len, wd_write_deadline(req));
		if (!rc && len)
			rc = net_write_all(req->fd, body, len, wd_write_deadline(req));
	}
	buf_release(&b);
	req->responded = true;
	if (rc)
		req->keep_alive = false;
	return rc;
}

static void respond_text(struct wd_req *req, int status, const char *text)
{
	wd_respond(req, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

static bool lock_present(const struct wd_config *cfg)
{
	return cfg->suppress_lock || access(cfg->lock_path, F_OK) == 0;
}

static void handle_health(struct wd_req *req)
{
	struct wd_server *srv = req->srv;
	bool ok = !atomic_load(&srv->draining) && lock_present(req->cfg) &&
		  (!srv->up || wd_upstream_ready(srv->up));

	if (ok)
		respond_text(req, 200, "OK");
	else
		respond_text(req, 503, "Service Unavailable\n");
}

/* Builds the log context from X-Call-Id, keeping only safe characters. */
static void set_ctx(struct wd_req *req)
{
	const char *id = http_head_get(&req->head, "X-Call-Id");
	size_t i, n = 0;
	char clean[65];

	req->ctx[0] = '\0';
	if (!id)
		return;
	for (i = 0; id[i] && n < sizeof(clean) - 1; i++) {
		char c = id[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
			clean[n++] = c;
	}
	clean[n] = '\0';
	if (n)
		snprintf(req->ctx, sizeof(req->ctx), "call_id=%s", clean);
}

static bool method_allowed(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") ||
	       !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

static void serve(struct wd_req *req)
{
	struct wd_server *srv = req->srv;
	const struct wd_config *cfg = req->cfg;
	unsigned n;

	set_ctx(req);
	if (strcmp(req->head.path, "/_/health") == 0) {
		handle_health(req);
		return;
	}
	if (!method_allowed(req->head.method)) {
		wd_respond(req, 405, "text/plain; charset=utf-8",
			   "Allow: GET, POST, PUT, PATCH, DELETE\r\n",
			   "Method Not Allowed\n", 19);
		return;
	}
	if (req->head.content_length > 0 &&
	    (uint64_t)req->head.content_length > cfg->max_request_size) {
		char msg[128];
		int len = snprintf(msg, sizeof(msg),
				   "request body exceeds max_request_size (%llu bytes)\n",
				   (unsigned long long)cfg->max_request_size);
		req->keep_alive = false;
		wd_respond(req, 413, "text/plain; charset=utf-8", NULL, msg, (size_t)len);
		return;
	}
	n = (unsigned)atomic_fetch_add(&srv->inflight, 1);
	if (cfg->max_inflight && n >= cfg->max_inflight) {
		char msg[128];
		int len = snprintf(msg, sizeof(msg),
				   "Concurrent request limit exceeded. Max concurrent requests: %u\n",
				   cfg->max_inflight);
		atomic_fetch_sub(&srv->inflight, 1);
		wd_respond(req, 429, "text/plain; charset=utf-8", NULL, msg, (size_t)len);
		return;
	}
	if (req->head.expect_continue && !req->body.done) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (net_write_all(req->fd, cont, sizeof(cont) - 1, wd_write_deadline(req))) {
			req->keep_alive = false;
			atomic_fetch_sub(&srv->inflight, 1);
			return;
		}
	}
	if (cfg->mode == WD_MODE_HTTP)
		wd_upstream_handle(req);
	else
		wd_fork_handle(req);
	atomic_fetch_sub(&srv->inflight, 1);
}

/* Waits for the first byte of a request; false when the connection should
 * close (peer gone, idle too long, draining). */
static bool wait_request(struct conn *c)
{
	struct pollfd pf[2] = {
		{ .fd = c->fd, .events = POLLIN },
		{ .fd = c->srv->drain_fd, .events = POLLIN },
	};
	const struct wd_config *cfg = c->srv->cfg;
	int64_t idle = cfg->read_timeout_ms > 60000 ? cfg->read_timeout_ms : 60000;
	int n;

	if (rbuf_avail(&c->rb))
		return !atomic_load(&c->srv->draining);
	do
		n = poll(pf, 2, (int)idle);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || pf[1].revents)
		return false;
	return true;
}

static void reject(struct conn *c, int status, const char *text)
{
	struct wd_req req = { .srv = c->srv, .cfg = c->srv->cfg, .fd = c->fd, .rb = &c->rb };

	respond_text(&req, status, text);
}

/* Reads one request head. 1 when a request is ready, 0 to close quietly. */
static int read_head(struct conn *c, struct http_head *h)
{
	int64_t deadline = 0;
	struct rbuf *r = &c->rb;

	for (;;) {
		ssize_t n;
		int rc;

		/* Stray CRLFs between requests are allowed (RFC 9112 2.2). */
		while (rbuf_avail(r) && (r->data[r->start] == '\r' || r->data[r->start] == '\n'))
			r->start++;
		rc = http_head_parse(h, r->data + r->start, rbuf_avail(r), true);
		if (rc > 0) {
			r->start += (size_t)rc;
			return 1;
		}
		if (rc == -ERR_TOO_BIG) {
			reject(c, 431, "Request Header Fields Too Large\n");
			return 0;
		}
		if (rc < 0) {
			reject(c, 400, "Bad Request: malformed HTTP request\n");
			return 0;
		}
		if (!deadline)
			deadline = mono_ms() + (c->srv->cfg->read_timeout_ms ? c->srv->cfg->read_timeout_ms : 30000);
		n = rbuf_fill(r, false, deadline);
		if (n == -ERR_TOO_BIG) {
			reject(c, 431, "Request Header Fields Too Large\n");
			return 0;
		}
		if (n < 0)
			return 0;
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct wd_server *srv = c->srv;
	const struct wd_config *cfg = srv->cfg;

	while (wait_request(c)) {
		struct wd_req req = { .srv = srv, .cfg = cfg, .fd = c->fd, .rb = &c->rb };

		if (read_head(c, &req.head) != 1)
			break;
		atomic_fetch_add(&srv->active, 1);
		req.start_ns = mono_ns();
		req.keep_alive = req.head.keep_alive;
		http_body_init(&req.body, &req.head, &c->rb, false, cfg->max_request_size,
			       cfg->read_timeout_ms ? mono_ms() + cfg->read_timeout_ms : 0);
		serve(&req);
		/* What the handler left of the body must go before the next
		 * request can be read. */
		if (req.keep_alive && !req.body.done &&
		    http_body_skip(&req.body, MAX_BODY_SKIP) != 0)
			req.keep_alive = false;
		if (!req.responded)
			req.keep_alive = false;
		http_head_release(&req.head);
		atomic_fetch_sub(&srv->active, 1);
		if (!req.keep_alive)
			break;
	}
	close(c->fd);
	free(c);
	atomic_fetch_sub(&srv->conns, 1);
	return NULL;
}

int wd_server_accept(struct wd_server *srv)
{
	pthread_attr_t attr;
	struct conn *c;
	pthread_t tid;
	int fd, one = 1, rc;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EINTR || errno == EAGAIN || errno == ECONNABORTED ? 0 : -errno;
	if (atomic_fetch_add(&srv->conns, 1) >= MAX_CONNS) {
		atomic_fetch_sub(&srv->conns, 1);
		close(fd);
		return 0;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		atomic_fetch_sub(&srv->conns, 1);
		return 0;
	}
	c->srv = srv;
	c->fd = fd;
	rbuf_init(&c->rb, fd);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, conn_main, c);
	pthread_attr_destroy(&attr);
	if (rc) {
		close(fd);
		free(c);
		atomic_fetch_sub(&srv->conns, 1);
	}
	return 0;
}
