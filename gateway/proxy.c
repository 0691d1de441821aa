#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "functions.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "provider.h"
#include "proxy.h"
#include "spawn.h"
#include "url.h"
#include "wire.h"
#include "banned.h"

#define CONNECT_MS 2000

struct proxy_call {
	struct gateway *gw;
	struct prov_replica rep;
	bool have_rep;
	int fd;
	bool reused;                  /* fd came from the pool */
	bool chunked_up;              /* request body goes up chunked */
	uint64_t sent;                /* request body bytes sent */
	bool failed;                  /* the replica could not be reached */
	struct rbuf *rb;
	struct http_head head;
	bool have_head;
	struct http_body body;
	struct buf extra;             /* headers the gateway adds */
	char call_id[80];
	char start_time[32];
	char key[160];                /* "name.namespace" for metrics */
	char name[64], ns[64];
	int64_t start_ns;
	int64_t deadline_ms;
	struct buf reqhead;           /* the head sent upstream, for one retry */
	bool head_sent;               /* reqhead has gone out */
	bool replayable;              /* no body: may be sent again */
};

const char *proxy_call_id(const struct proxy_call *c)
{
	return c->call_id;
}

/* Parses "/function/NAME[/rest][?query]" into name, ns and the upstream
 * target ("/rest?query", at least "/"). */
static int split_uri(const char *uri, char *name, size_t ncap, char *ns, size_t nscap,
		     struct buf *target, struct buf *why)
{
	const char *p = uri + strlen("/function/");
	size_t n = strcspn(p, "/?");
	char full[160];
	int rc;

	if (n == 0 || n >= sizeof(full)) {
		buf_adds(why, n ? "function name too long" : "missing function name: use /function/NAME");
		return -ERR_INVALID;
	}
	memcpy(full, p, n);
	full[n] = '\0';
	rc = wire_name_check_as("function", full, WIRE_NAME_ALLOW_NS, why);
	if (rc)
		return rc;
	fn_split_name(full, name, ncap, ns, nscap);
	p += n;
	if (*p != '/')
		buf_addc(target, '/');
	return buf_adds(target, p);
}

static int connect_replica(struct proxy_call *c)
{
	c->fd = pool_get(c->gw->pool, c->rep.host, c->rep.port);
	c->reused = c->fd >= 0;
	if (c->fd < 0)
		c->fd = net_connect(c->rep.host, c->rep.port, mono_ms() + CONNECT_MS);
	return c->fd < 0 ? c->fd : 0;
}

static void build_head(struct proxy_call *c, const struct proxy_req *req, const char *target)
{
	const char *xff = NULL, *host = NULL;
	bool have_fwd_host = false, have_call_id = false;
	struct buf *b = &c->reqhead;
	size_t i;

	buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", req->method, target, c->rep.host,
		   c->rep.port);
	for (i = 0; i < req->nhdrs; i++) {
		const char *name = req->hdrs[i].name, *v = req->hdrs[i].value;
		if (!strcasecmp(name, "Host")) {
			host = v;
			continue;
		}
		if (!strcasecmp(name, "X-Forwarded-For")) {
			xff = v;
			continue;
		}
		if (http_hop_by_hop(name) || !strcasecmp(name, "Content-Length") ||
		    !strcasecmp(name, "Expect") || !strcasecmp(name, "X-Start-Time"))
			continue;
		if (!strcasecmp(name, "X-Forwarded-Host"))
			have_fwd_host = true;
		if (!strcasecmp(name, "X-Call-Id"))
			have_call_id = true;
		buf_printf(b, "%s: %s\r\n", name, v);
	}
	if (!have_call_id)
		buf_printf(b, "X-Call-Id: %s\r\n", c->call_id);
	buf_printf(b, "X-Start-Time: %s\r\n", c->start_time);
	if (xff)
		buf_printf(b, "X-Forwarded-For: %s, %s\r\n", xff, req->remote_addr);
	else
		buf_printf(b, "X-Forwarded-For: %s\r\n", req->remote_addr);
	if (!have_fwd_host && host)
		buf_printf(b, "X-Forwarded-Host: %s\r\n", host);
	if (req->content_length >= 0)
		buf_printf(b, "Content-Length: %lld\r\n", (long long)req->content_length);
	else if (req->chunked)
		buf_adds(b, "Transfer-Encoding: chunked\r\n");
	buf_adds(b, "\r\n");
}

/* Makes sure the function has replicas coming: a function scaled to zero
 * is scaled up by its first call. */
static void wake(struct proxy_call *c)
{
	struct prov_status st = { 0 };
	struct buf why;

	if (c->gw->prov->ops->status(c->gw->prov, c->ns, c->name, &st) || st.desired > 0)
		return;
	buf_init(&why, 512);
	LOG_INFO("Scaling %s.%s up from zero for a call", c->name, c->ns);
	fn_scale(c->gw, c->ns, c->name, 1, &why);
	buf_release(&why);
}

int proxy_begin(struct gateway *gw, const struct proxy_req *req, struct proxy_call **out,
		struct buf *why)
{
	const char *given_id = NULL;
	struct proxy_call *c;
	struct buf target;
	struct timespec now;
	size_t i;
	int rc, status = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		buf_adds(why, "out of memory");
		return 503;
	}
	c->gw = gw;
	c->fd = -1;
	c->start_ns = mono_ns();
	buf_init(&c->extra, 1024);
	buf_init(&c->reqhead, RBUF_SIZE + 4096);
	buf_init(&target, RBUF_SIZE);
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(c->start_time, sizeof(c->start_time), "%lld",
		 (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
	for (i = 0; i < req->nhdrs; i++)
		if (!strcasecmp(req->hdrs[i].name, "X-Call-Id"))
			given_id = req->hdrs[i].value;
	if (given_id && *given_id && strlen(given_id) < sizeof(c->call_id))
		snprintf(c->call_id, sizeof(c->call_id), "%s", given_id);
	else
		url_uuid7(c->call_id);
	if (!given_id)
		buf_printf(&c->extra, "X-Call-Id: %s\r\n", c->call_id);
	buf_printf(&c->extra, "X-Start-Time: %s\r\n", c->start_time);

	if (split_uri(req->raw_uri, c->name, sizeof(c->name), c->ns, sizeof(c->ns), &target, why)) {
		status = 400;
		goto fail;
	}
	fn_key(c->ns, c->name, c->key, sizeof(c->key));
	rc = gw->prov->ops->acquire(gw->prov, c->ns, c->name, mono_ms(), &c->rep);
	if (rc == -ERR_UNAVAILABLE) {
		wake(c);
		rc = gw->prov->ops->acquire(gw->prov, c->ns, c->name,
					    mono_ms() + gw->cfg.scale_wait_ms, &c->rep);
	}
	if (rc == -ERR_NOT_FOUND) {
		buf_printf(why, "function '%s' not found in namespace '%s'", c->name, c->ns);
		status = 404;
		goto fail;
	}
	if (rc) {
		buf_printf(why, "no ready replica of '%s' after %lld ms", c->name,
			   (long long)gw->cfg.scale_wait_ms);
		status = 503;
		goto fail;
	}
	c->have_rep = true;
	metrics_started(gw->metrics, c->key);
	c->chunked_up = req->content_length < 0 && req->chunked;
	c->replayable = req->content_length <= 0 && !req->chunked;
	build_head(c, req, buf_cstr(&target));
	/* The head goes out with the first piece of the body (or alone when
	 * the body is done), so a small call costs one send upstream. */
	rc = connect_replica(c);
	if (rc) {
		c->failed = true;
		buf_printf(why, "replica of '%s' unreachable: %s", c->name, err_str(rc));
		status = 502;
		goto fail;
	}
	buf_release(&target);
	*out = c;
	return 0;
fail:
	buf_release(&target);
	proxy_end(c, status);
	return status;
}

/* Sends the head (if it has not gone yet) and data[0..len) framed as the
 * request body goes up, in one send when it is small. A kept-alive
 * connection that fails before anything went out is replaced once. */
static int send_up(struct proxy_call *c, const char *data, size_t len, bool last)
{
	int64_t dl = mono_ms() + c->gw->cfg.write_timeout_ms;
	struct buf out;
	bool fresh_try = c->reused && !c->head_sent;
	int rc;

	buf_init(&out, c->reqhead.len + len + 64);
	if (!c->head_sent)
		buf_add(&out, c->reqhead.data, c->reqhead.len);
	if (c->chunked_up && len)
		buf_printf(&out, "%zx\r\n", len);
	/* Past 64 KiB the copy costs more than a second send. */
	if (len <= 65536) {
		buf_add(&out, data, len);
		if (c->chunked_up && len)
			buf_add(&out, "\r\n", 2);
		len = 0;
	}
	if (c->chunked_up && last && !len)
		buf_add(&out, "0\r\n\r\n", 5);
	for (;;) {
		rc = net_write_all(c->fd, out.data, out.len, dl);
		if (!rc || !fresh_try)
			break;
		close(c->fd);
		c->reused = fresh_try = false;
		c->fd = net_connect(c->rep.host, c->rep.port, mono_ms() + CONNECT_MS);
		if (c->fd < 0) {
			rc = c->fd;
			break;
		}
	}
	buf_release(&out);
	if (!rc)
		c->head_sent = true;
	if (!rc && len) {
		rc = net_write_all(c->fd, data, len, dl);
		if (!rc && c->chunked_up)
			rc = net_write_all(c->fd, last ? "\r\n0\r\n\r\n" : "\r\n", last ? 7 : 2, dl);
	}
	return rc;
}

int proxy_body(struct proxy_call *c, const char *data, size_t len, struct buf *why)
{
	int rc;

	if (c->sent + len > c->gw->cfg.max_body) {
		buf_printf(why, "request body exceeds the limit of %llu bytes",
			   (unsigned long long)c->gw->cfg.max_body);
		return 413;
	}
	c->sent += len;
	/* A body of known length ends with its last byte: send it as last. */
	rc = send_up(c, data, len, false);
	if (rc) {
		c->failed = true;
		buf_printf(why, "replica of '%s' went away: %s", c->name, err_str(rc));
		return 502;
	}
	return 0;
}

static int read_head(struct proxy_call *c)
{
	for (;;) {
		int rc = http_head_parse(&c->head, c->rb->data + c->rb->start, rbuf_avail(c->rb), false);
		ssize_t n;

		if (rc > 0) {
			c->rb->start += (size_t)rc;
			if (c->head.status < 200) {
				/* 100 Continue and friends are not for the client. */
				http_head_release(&c->head);
				continue;
			}
			c->have_head = true;
			return 0;
		}
		if (rc < 0)
			return rc;
		n = rbuf_fill_wait(c->rb, c->deadline_ms);
		if (n < 0)
			return (int)n;
	}
}

int proxy_response(struct proxy_call *c, const struct http_head **head, const char **extra,
		   int64_t *content_length, struct buf *why)
{
	int rc;

	if ((!c->head_sent || c->chunked_up) && send_up(c, NULL, 0, true)) {
		c->failed = true;
		buf_printf(why, "replica of '%s' went away", c->name);
		return 502;
	}
	c->rb = malloc(sizeof(*c->rb));
	if (!c->rb) {
		buf_adds(why, "out of memory");
		return 502;
	}
	c->deadline_ms = mono_ms() + c->gw->cfg.upstream_timeout_ms;
	rbuf_init(c->rb, c->fd);
	rc = read_head(c);
	if (rc == -ERR_CLOSED && c->reused && c->replayable && rbuf_avail(c->rb) == 0) {
		/* A kept-alive connection closed under us: send once more. */
		close(c->fd);
		c->reused = false;
		c->fd = net_connect(c->rep.host, c->rep.port, mono_ms() + CONNECT_MS);
		rc = c->fd < 0 ? c->fd : net_write_all(c->fd, c->reqhead.data, c->reqhead.len,
						       c->deadline_ms);
		if (!rc) {
			rbuf_init(c->rb, c->fd);
			rc = read_head(c);
		}
	}
	if (rc) {
		c->failed = rc != -ERR_TIMEOUT;
		if (rc == -ERR_TIMEOUT)
			buf_printf(why, "function '%s' did not answer within %lld ms", c->name,
				   (long long)c->gw->cfg.upstream_timeout_ms);
		else
			buf_printf(why, "bad answer from a replica of '%s': %s", c->name, err_str(rc));
		return 502;
	}
	http_body_init(&c->body, &c->head, c->rb, true, 0, c->deadline_ms);
	if (c->head.status == 204 || c->head.status == 304)
		c->body.done = true;
	*head = &c->head;
	*extra = buf_cstr(&c->extra);
	*content_length = c->body.done ? 0 : (c->head.chunked ? -1 : c->head.content_length);
	return 0;
}

ssize_t proxy_read(struct proxy_call *c, char *buf, size_t max)
{
	return http_body_read(&c->body, buf, max, false);
}

void proxy_end(struct proxy_call *c, int status)
{
	bool clean;

	if (!c)
		return;
	clean = c->fd >= 0 && c->have_head && c->body.done && c->head.keep_alive &&
		!c->body.until_close && rbuf_avail(c->rb) == 0;
	if (c->fd >= 0) {
		if (clean)
			pool_put(c->gw->pool, c->rep.host, c->rep.port, c->fd);
		else
			close(c->fd);
	}
	if (c->have_rep) {
		/* Status 0: what the replica answered, if it did. */
		if (!status)
			status = c->have_head ? c->head.status : 499;
		metrics_observe(c->gw->metrics, c->key, status,
				(double)(mono_ns() - c->start_ns) / 1e9);
		c->gw->prov->ops->release(c->gw->prov, &c->rep, c->failed);
		if (c->failed)
			pool_drop(c->gw->pool, c->rep.host, c->rep.port);
	}
	http_head_release(&c->head);
	free(c->rb);
	buf_release(&c->extra);
	buf_release(&c->reqhead);
	free(c);
}
