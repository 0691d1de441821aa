/*
 * server.c - libmicrohttpd glue: gathers each request into a struct gw_req
 * for the route's handler, or streams it through proxy.c, and turns the
 * answer into an MHD response. One thread per connection, so handlers may
 * block (on a replica, on a log follow) without stalling other clients.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "async.h"
#include "auth.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "proxy.h"
#include "routes.h"
#include "server.h"
#include "spawn.h"
#include "banned.h"

#define MAX_HDRS 128
/* Block size of streamed answers: MHD allocates one per response. */
#define STREAM_BLOCK (16u * 1024)
/* An answer of known length up to this size is read whole and sent from
 * a buffer: one send, and the replica connection goes back at once. */
#define SMALL_ANSWER (16u * 1024)

struct gw_server {
	struct MHD_Daemon *d;
	struct gateway *gw;
	bool quiesced;
	atomic_int active;            /* requests being answered */
};

/* Per-request state, created by the URI logger at the start of a request. */
struct conn_ctx {
	struct gw_server *srv;
	char *uri;                    /* raw request target */
	bool started;
	const struct route *route;
	const char *arg;
	char *path;                   /* decoded path (owned) */
	struct http_hdr hdrs[MAX_HDRS];
	size_t nhdrs;
	bool too_many_hdrs;
	char remote[64];
	struct buf body;
	int err_status;               /* set when the body cannot be taken */
	struct buf err_msg;
	struct proxy_call *proxy;
	bool counted;
};

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn_ctx *cc = calloc(1, sizeof(*cc));

	(void)conn;
	if (!cc)
		return NULL;
	cc->srv = cls;
	cc->uri = strdup(uri);
	buf_init(&cc->err_msg, 1024);
	return cc;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *cc = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!cc)
		return;
	if (cc->proxy)
		proxy_end(cc->proxy, 499);
	if (cc->counted)
		atomic_fetch_sub(&cc->srv->active, 1);
	free(cc->uri);
	free(cc->path);
	buf_release(&cc->body);
	buf_release(&cc->err_msg);
	free(cc);
	*con_cls = NULL;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct conn_ctx *cc = cls;

	(void)kind;
	if (cc->nhdrs == MAX_HDRS) {
		cc->too_many_hdrs = true;
		return MHD_NO;
	}
	cc->hdrs[cc->nhdrs].name = key;
	cc->hdrs[cc->nhdrs].value = value ? value : "";
	cc->nhdrs++;
	return MHD_YES;
}

static const char *header(struct conn_ctx *cc, const char *name)
{
	size_t i;

	for (i = 0; i < cc->nhdrs; i++)
		if (!strcasecmp(cc->hdrs[i].name, name))
			return cc->hdrs[i].value;
	return NULL;
}

/* While the gateway drains, every answer closes its connection. */
static enum MHD_Result queue(struct MHD_Connection *conn, struct gw_server *srv, int status,
			     struct MHD_Response *r)
{
	if (srv && srv->gw->stopping)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return MHD_queue_response(conn, (unsigned)status, r);
}

/* Adds "Name: value\r\n" lines to an MHD response. */
static void add_headers(struct MHD_Response *r, const char *lines)
{
	while (lines && *lines) {
		const char *eol = strstr(lines, "\r\n"), *colon;
		char name[256], value[8192];
		size_t nl, vl;

		if (!eol)
			break;
		colon = memchr(lines, ':', (size_t)(eol - lines));
		if (colon) {
			nl = (size_t)(colon - lines);
			vl = (size_t)(eol - colon - 1);
			if (nl < sizeof(name) && vl < sizeof(value)) {
				const char *v = colon + 1;
				memcpy(name, lines, nl);
				name[nl] = '\0';
				while (vl && *v == ' ')
					v++, vl--;
				memcpy(value, v, vl);
				value[vl] = '\0';
				MHD_add_response_header(r, name, value);
			}
		}
		lines = eol + 2;
	}
}

static enum MHD_Result send_text(struct MHD_Connection *conn, struct gw_server *srv, int status,
				 const char *text,
				 const char *extra_headers)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	add_headers(r, extra_headers);
	ret = queue(conn, srv, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct gw_server *srv, int status,
				  const char *msg)
{
	char text[1200];

	snprintf(text, sizeof(text), "%s\n", msg);
	return send_text(conn, srv, status, text,
			 status == 401 ? "WWW-Authenticate: Basic realm=\"Restricted\"\r\n" : NULL);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gw_stream *s = cls;
	ssize_t n;

	(void)pos;
	n = s->read(s->ctx, buf, max);
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n;
}

static void stream_free(void *cls)
{
	struct gw_stream *s = cls;

	if (s->free)
		s->free(s->ctx);
	free(s);
}

/* Turns a handler's gw_resp into an MHD response and queues it. */
static enum MHD_Result send_resp(struct MHD_Connection *conn, struct gw_server *srv,
				 struct gw_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->stream.read) {
		struct gw_stream *s = malloc(sizeof(*s));
		if (!s)
			return MHD_NO;
		*s = resp->stream;
		resp->stream.read = NULL;
		resp->stream.free = NULL;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s,
						      stream_free);
	} else {
		size_t len;
		char *data = buf_detach(&resp->body, &len);
		r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
		if (!r)
			free(data);
	}
	if (!r)
		return MHD_NO;
	if (resp->content_type)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	add_headers(r, buf_cstr(&resp->headers));
	ret = queue(conn, srv, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The proxied answer: head from the replica, body streamed through. */
struct proxy_stream {
	struct proxy_call *call;
};

static ssize_t proxy_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct proxy_stream *ps = cls;
	ssize_t n;

	(void)pos;
	n = proxy_read(ps->call, buf, max);
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n;
}

static void proxy_stream_free(void *cls)
{
	struct proxy_stream *ps = cls;

	proxy_end(ps->call, 0);
	free(ps);
}

/* Reads a whole answer body of len bytes into a response. NULL if the
 * replica broke off (the call is then ended with 502). */
static struct MHD_Response *small_answer(struct conn_ctx *cc, size_t len)
{
	struct MHD_Response *r;
	char *data = malloc(len ? len : 1);
	size_t got = 0;

	if (!data)
		return NULL;
	while (got < len) {
		ssize_t n = proxy_read(cc->proxy, data + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == len)
		r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
	else
		r = NULL;
	if (!r) {
		free(data);
		proxy_end(cc->proxy, 502);
		cc->proxy = NULL;
	}
	return r;
}

static enum MHD_Result finish_proxy(struct MHD_Connection *conn, struct conn_ctx *cc)
{
	const struct http_head *h;
	struct proxy_stream *ps;
	struct MHD_Response *r;
	const char *extra;
	int64_t len;
	enum MHD_Result ret;
	size_t i;
	int status;

	status = proxy_response(cc->proxy, &h, &extra, &len, &cc->err_msg);
	if (status) {
		proxy_end(cc->proxy, status);
		cc->proxy = NULL;
		return send_error(conn, cc->srv, status, buf_cstr(&cc->err_msg));
	}
	if (len >= 0 && len <= (int64_t)SMALL_ANSWER) {
		r = small_answer(cc, (size_t)len);
		if (!r)
			return send_error(conn, cc->srv, 502, "the replica broke off its answer");
	} else {
		ps = malloc(sizeof(*ps));
		if (!ps)
			return MHD_NO;
		ps->call = cc->proxy;
		r = MHD_create_response_from_callback(len < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)len,
						      STREAM_BLOCK, proxy_reader, ps,
						      proxy_stream_free);
		if (!r) {
			free(ps);
			return MHD_NO;
		}
		cc->proxy = NULL;
	}
	for (i = 0; i < h->nhdrs; i++) {
		const char *name = h->hdrs[i].name;
		if (http_hop_by_hop(name) || !strcasecmp(name, "Content-Length") ||
		    !strcasecmp(name, "Date"))
			continue;
		MHD_add_response_header(r, name, h->hdrs[i].value);
	}
	add_headers(r, extra);
	ret = queue(conn, cc->srv, h->status, r);
	MHD_destroy_response(r);
	if (cc->proxy) {
		/* A small answer: the body is in r already. */
		proxy_end(cc->proxy, 0);
		cc->proxy = NULL;
	}
	return ret;
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, cap, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* First call of a request: route, auth, method and size checks; for
 * /function/ the replica is picked and the head sent. Returns MHD_YES to go
 * on reading the body, or queues an answer at once. */
static enum MHD_Result begin(struct MHD_Connection *conn, struct conn_ctx *cc,
			     const char *url, const char *method)
{
	struct gateway *gw = cc->srv->gw;
	const char *cl, *te;
	int64_t content_length = -1;
	uint64_t cap;
	char allow[128];

	cc->started = true;
	/* Draining: a request that arrives now (on a kept-alive connection)
	 * is not started; closing without an answer tells the client, as a
	 * refused connection would, that nothing was done. */
	if (gw->stopping)
		return MHD_NO;
	atomic_fetch_add(&cc->srv->active, 1);
	cc->counted = true;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, cc);
	if (cc->too_many_hdrs)
		return send_error(conn, cc->srv, 431, "too many request headers");
	client_addr(conn, cc->remote, sizeof(cc->remote));
	cc->path = strdup(url);
	if (!cc->path || !cc->uri)
		return MHD_NO;
	cc->route = routes_match(cc->path, &cc->arg);
	if (!cc->route)
		return send_error(conn, cc->srv, 404, "not found");
	if (!(cc->route->methods & routes_method_bit(method))) {
		char hdr[160];
		routes_allow(cc->route, allow, sizeof(allow));
		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		return send_text(conn, cc->srv, 405, "method not allowed\n", hdr);
	}
	if (cc->route->auth && gw->cfg.auth &&
	    !auth_check(header(cc, "Authorization"), gw->auth_user, gw->auth_password))
		return send_error(conn, cc->srv, 401, "unauthorized: use basic auth with the gateway's credentials");
	cl = header(cc, "Content-Length");
	te = header(cc, "Transfer-Encoding");
	if (cl)
		content_length = strtoll(cl, NULL, 10);
	cap = cc->route->kind == ROUTE_PROXY ? gw->cfg.max_body :
	      cc->route->kind == ROUTE_ASYNC ? gw->cfg.max_async_body :
	      cc->route->kind == ROUTE_UPLOAD ? GW_MAX_UPLOAD_BODY : GW_MAX_API_BODY;
	if (content_length > 0 && (uint64_t)content_length > cap) {
		char msg[128];
		snprintf(msg, sizeof(msg), "request body exceeds the limit of %llu bytes",
			 (unsigned long long)cap);
		return send_error(conn, cc->srv, 413, msg);
	}
	buf_init(&cc->body, cap);
	if (cc->route->kind == ROUTE_PROXY) {
		struct proxy_req pr = {
			.method = method, .raw_uri = cc->uri, .hdrs = cc->hdrs, .nhdrs = cc->nhdrs,
			.remote_addr = cc->remote, .content_length = content_length,
			.chunked = te && strcasestr(te, "chunked") != NULL,
		};
		int status = proxy_begin(gw, &pr, &cc->proxy, &cc->err_msg);
		if (status)
			return send_error(conn, cc->srv, status, buf_cstr(&cc->err_msg));
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct conn_ctx *cc = *con_cls;
	struct gw_req req;
	struct gw_resp resp;
	enum MHD_Result ret;
	const char *q;

	(void)cls;
	(void)version;
	if (!cc)
		return MHD_NO;
	if (!cc->started)
		return begin(conn, cc, url, method);
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (cc->err_status)
			return MHD_YES;
		if (cc->proxy) {
			int status = proxy_body(cc->proxy, upload_data, n, &cc->err_msg);
			if (status) {
				cc->err_status = status;
				proxy_end(cc->proxy, status);
				cc->proxy = NULL;
			}
		} else if (buf_add(&cc->body, upload_data, n)) {
			cc->err_status = 413;
			buf_printf(&cc->err_msg, "request body exceeds the limit of %zu bytes",
				   cc->body.cap);
		}
		return MHD_YES;
	}
	if (cc->err_status)
		return send_error(conn, cc->srv, cc->err_status, buf_cstr(&cc->err_msg));
	if (cc->proxy)
		return finish_proxy(conn, cc);
	q = strchr(cc->uri, '?');
	memset(&req, 0, sizeof(req));
	req.gw = cc->srv->gw;
	req.method = method;
	req.path = cc->path;
	req.query = q ? q + 1 : "";
	req.arg = cc->arg;
	req.hdrs = cc->hdrs;
	req.nhdrs = cc->nhdrs;
	req.body = cc->body.data ? cc->body.data : "";
	req.body_len = cc->body.len;
	req.remote_addr = cc->remote;
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		req.client_fd = ci ? ci->connect_fd : -1;
	}
	gw_resp_init(&resp);
	if (cc->route->kind == ROUTE_ASYNC)
		async_submit(&req, &resp);
	else
		cc->route->handler(&req, &resp);
	ret = send_resp(conn, cc->srv, &resp);
	gw_resp_release(&resp);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	LOG_DEBUG("http: %s", msg);
}

int server_listen(const struct gw_config *cfg, struct buf *why)
{
	int fd = net_listen(cfg->bind, cfg->port, 1024, NULL);

	if (fd == -ERR_INVALID)
		buf_printf(why, "--bind: '%s' is not an IP address", cfg->bind);
	else if (fd < 0)
		buf_printf(why, "--port: cannot listen on %s:%d: %s", cfg->bind, cfg->port,
			   err_str(fd));
	return fd;
}

int server_start(struct gateway *gw, int listen_fd, struct gw_server **out, struct buf *why)
{
	struct gw_server *s = calloc(1, sizeof(*s));
	unsigned timeout_s;

	if (!s)
		return -ENOMEM;
	s->gw = gw;
	/* MHD's connection timeout is an idle limit: a client that sends
	 * nothing for that long is dropped, so slow clients cost bounded
	 * time. Function calls are bounded by --upstream-timeout instead. */
	timeout_s = (unsigned)((gw->cfg.read_timeout_ms + 999) / 1000);
	s->d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
		MHD_OPTION_URI_LOG_CALLBACK, uri_logger, s,
		MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(48 * 1024),
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!s->d) {
		buf_printf(why, "cannot start the HTTP server on %s:%d", gw->cfg.bind, gw->cfg.port);
		free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void server_quiesce(struct gw_server *s)
{
	MHD_socket lfd;

	if (!s || s->quiesced)
		return;
	s->quiesced = true;
	lfd = MHD_quiesce_daemon(s->d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
}

void server_stop(struct gw_server *s, int64_t timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	if (!s)
		return;
	server_quiesce(s);
	while (atomic_load(&s->active) > 0 && mono_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&s->active) > 0)
		LOG_WARN("stopping with %d request(s) still in flight", atomic_load(&s->active));
	MHD_stop_daemon(s->d);
	free(s);
}
