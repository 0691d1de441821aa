/*
 * upstream.c - mode=http: one long-lived handler process behind a proxy.
 *
 * The handler (fprocess) is started once and supervised: when it exits it
 * is started again with exponential back-off, and /_/health reports
 * unavailable until it accepts connections again. Requests are proxied to
 * upstream_url over kept-alive connections, bodies streamed both ways;
 * exec_timeout bounds the wait for the upstream's answer (504).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "spawn.h"
#include "wd.h"
#include "banned.h"

#define POOL_MAX 64
#define CONNECT_WAIT_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct wd_upstream {
	struct wd_server *srv;
	const struct wd_config *cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	struct spawn_proc proc;     /* guarded by mu */
	bool running;               /* guarded by mu */
	atomic_bool ready;
	atomic_bool stopping;
	int pool[POOL_MAX];         /* idle connections, guarded by mu */
	int npool;
};

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void pool_flush(struct wd_upstream *up)
{
	pthread_mutex_lock(&up->mu);
	while (up->npool)
		close(up->pool[--up->npool]);
	pthread_mutex_unlock(&up->mu);
}

/* An idle connection that is readable has been closed by the upstream (or
 * sent something unasked): either way it cannot be reused. */
static bool conn_alive(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	return poll(&pf, 1, 0) == 0;
}

static int pool_get(struct wd_upstream *up, bool *reused)
{
	int fd = -1;

	*reused = false;
	pthread_mutex_lock(&up->mu);
	while (up->npool) {
		fd = up->pool[--up->npool];
		if (conn_alive(fd)) {
			*reused = true;
			break;
		}
		close(fd);
		fd = -1;
	}
	pthread_mutex_unlock(&up->mu);
	return fd;
}

static void pool_put(struct wd_upstream *up, int fd)
{
	pthread_mutex_lock(&up->mu);
	if (up->npool < POOL_MAX && !atomic_load(&up->stopping)) {
		up->pool[up->npool++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&up->mu);
	if (fd >= 0)
		close(fd);
}

static int connect_upstream(struct wd_upstream *up, int64_t deadline)
{
	for (;;) {
		int fd = net_connect(up->cfg->upstream_host, up->cfg->upstream_port, deadline);
		if (fd >= 0 || fd == -ERR_TIMEOUT || mono_ms() + 50 >= deadline)
			return fd;
		sleep_ms(50);
	}
}

static int start_process(struct wd_upstream *up)
{
	struct spawn_opts so = { 0 };
	struct spawn_proc proc;
	int rc;

	so.argv = up->cfg->argv;
	so.in = SPAWN_FD_NULL;
	so.out = SPAWN_FD_INHERIT;
	so.err = SPAWN_FD_INHERIT;
	so.die_with_parent = true;
	rc = spawn_start(&so, &proc);
	if (rc)
		return rc;
	pthread_mutex_lock(&up->mu);
	up->proc = proc;
	up->running = true;
	pthread_mutex_unlock(&up->mu);
	LOG_INFO("Started upstream '%s' (pid %d)", up->cfg->fprocess, (int)proc.pid);
	return 0;
}

static int64_t probe_interval(const struct wd_upstream *up)
{
	int64_t ms = up->cfg->healthcheck_interval_ms;

	return ms > 0 ? ms : 10000;
}

/* Sets ready from one connection attempt. */
static void probe(struct wd_upstream *up)
{
	int fd = net_connect(up->cfg->upstream_host, up->cfg->upstream_port, mono_ms() + 1000);
	bool ok = fd >= 0;

	if (fd >= 0)
		close(fd);
	if (ok != atomic_load(&up->ready))
		LOG_WARN("Upstream %s", ok ? "accepts connections again" :
				     "stopped accepting connections");
	atomic_store(&up->ready, ok);
}

/* Supervises the upstream: waits for it to accept, then for it to exit,
 * then starts it again after a back-off. */
static void *supervise(void *arg)
{
	struct wd_upstream *up = arg;
	int64_t backoff = BACKOFF_MIN_MS;

	while (!atomic_load(&up->stopping)) {
		int64_t started = mono_ms();
		int status;

		if (!up->running && start_process(up)) {
			sleep_ms(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		/* Probe until it accepts, or it exits: every 2 ms at first, so
		 * a fast upstream is ready within milliseconds, then every 50 ms. */
		while (!atomic_load(&up->ready) && !atomic_load(&up->stopping)) {
			int64_t wait = mono_ms() - started < 500 ? 2 : 50;
			int fd = net_connect(up->cfg->upstream_host, up->cfg->upstream_port,
					     mono_ms() + 500);
			if (fd >= 0) {
				close(fd);
				atomic_store(&up->ready, true);
				LOG_INFO("Upstream is ready on %s:%d", up->cfg->upstream_host,
					 up->cfg->upstream_port);
				break;
			}
			if (spawn_wait_timeout(&up->proc, wait) == 0)
				break;
		}
		/* While it runs, probe it every healthcheck_interval: an
		 * upstream that hangs without exiting is reported unhealthy. */
		{
			int64_t next = mono_ms() + probe_interval(up);
			while (!up->proc.reaped && spawn_wait_timeout(&up->proc, 200) == -ERR_TIMEOUT) {
				if (atomic_load(&up->stopping) || mono_ms() < next)
					continue;
				next = mono_ms() + probe_interval(up);
				probe(up);
			}
		}
		status = up->proc.status;
		pthread_mutex_lock(&up->mu);
		up->running = false;
		pthread_mutex_unlock(&up->mu);
		atomic_store(&up->ready, false);
		pool_flush(up);
		if (atomic_load(&up->stopping))
			break;
		if (mono_ms() - started > 10000)
			backoff = BACKOFF_MIN_MS;
		LOG_WARN("Upstream exited (%s %d); restarting in %lld ms",
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 (long long)backoff);
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int wd_upstream_start(struct wd_server *srv, struct wd_upstream **out)
{
	struct wd_upstream *up = calloc(1, sizeof(*up));
	int rc;

	if (!up)
		return -ENOMEM;
	up->srv = srv;
	up->cfg = srv->cfg;
	pthread_mutex_init(&up->mu, NULL);
	rc = start_process(up);
	if (rc) {
		free(up);
		return rc;
	}
	rc = -pthread_create(&up->thread, NULL, supervise, up);
	if (rc) {
		spawn_kill(&up->proc, SIGKILL);
		spawn_wait(&up->proc);
		free(up);
		return rc;
	}
	*out = up;
	return 0;
}

bool wd_upstream_ready(struct wd_upstream *up)
{
	return atomic_load(&up->ready);
}

void wd_upstream_stop(struct wd_upstream *up, int64_t grace_ms)
{
	int64_t deadline = mono_ms() + grace_ms;
	bool running;

	if (!up)
		return;
	atomic_store(&up->stopping, true);
	pthread_mutex_lock(&up->mu);
	if (up->running)
		spawn_kill(&up->proc, SIGTERM);
	pthread_mutex_unlock(&up->mu);
	do {
		pthread_mutex_lock(&up->mu);
		running = up->running;
		pthread_mutex_unlock(&up->mu);
		if (running)
			sleep_ms(20);
	} while (running && mono_ms() < deadline);
	pthread_mutex_lock(&up->mu);
	if (up->running)
		spawn_kill(&up->proc, SIGKILL);
	pthread_mutex_unlock(&up->mu);
	pthread_join(up->thread, NULL);
	pool_flush(up);
	pthread_mutex_destroy(&up->mu);
	free(up);
}

/* Writes the request head for the upstream; the body framing follows the
 * client's (Content-Length, or chunked). */
static int send_head(struct wd_req *req, int fd, int64_t deadline)
{
	const struct http_head *h = &req->head;
	struct buf b;
	size_t i;
	int rc;

	buf_init(&b, RBUF_SIZE + 1024);
	buf_printf(&b, "%s %s HTTP/1.1\r\n", h->method, h->target);
	for (i = 0; i < h->nhdrs; i++) {
		const char *name = h->hdrs[i].name;
		if (http_hop_by_hop(name) || !strcasecmp(name, "Content-Length") ||
		    !strcasecmp(name, "Expect"))
			continue;
		buf_printf(&b, "%s: %s\r\n", name, h->hdrs[i].value);
	}
	if (h->chunked)
		buf_adds(&b, "Transfer-Encoding: chunked\r\n");
	else if (h->content_length > 0)
		buf_printf(&b, "Content-Length: %lld\r\n", (long long)h->content_length);
	rc = buf_adds(&b, "\r\n");
	if (!rc)
		rc = net_write_all(fd, b.data, b.len, deadline);
	buf_release(&b);
	return rc;
}

/* Streams the client's body to the upstream. Client-side failures come
 * back as-is; upstream write failures as -ERR_UNAVAILABLE. */
static int send_body(struct wd_req *req, int fd, int64_t deadline)
{
	bool chunked = req->head.chunked;
	char *chunk = malloc(65536);
	int rc = 0;

	if (!chunk)
		return -ENOMEM;
	for (;;) {
		ssize_t n = http_body_read(&req->body, chunk, 65536, false);
		char size[32];
		int len;

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			if (chunked && net_write_all(fd, "0\r\n\r\n", 5, deadline))
				rc = -ERR_UNAVAILABLE;
			break;
		}
		if (chunked) {
			len = snprintf(size, sizeof(size), "%zx\r\n", (size_t)n);
			if (net_write_all(fd, size, (size_t)len, deadline) ||
			    net_write_all(fd, chunk, (size_t)n, deadline) ||
			    net_write_all(fd, "\r\n", 2, deadline)) {
				rc = -ERR_UNAVAILABLE;
				break;
			}
		} else if (net_write_all(fd, chunk, (size_t)n, deadline)) {
			rc = -ERR_UNAVAILABLE;
			break;
		}
	}
	free(chunk);
	return rc;
}

static void respond_plain(struct wd_req *req, int status, const char *text)
{
	wd_respond(req, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* Relays the upstream's answer to the client. Returns true when the
 * upstream connection can be reused. */
static bool relay(struct wd_req *req, struct rbuf *ur, struct http_head *uh)
{
	bool no_body = !strcmp(req->head.method, "HEAD") || uh->status == 204 ||
		       uh->status == 304 || uh->status < 200;
	bool client_chunked = !no_body && uh->content_length < 0;
	struct http_body ub;
	struct buf hdrs;
	char *chunk = NULL;
	size_t i;
	int rc;

	buf_init(&hdrs, RBUF_SIZE + 1024);
	for (i = 0; i < uh->nhdrs; i++) {
		const char *name = uh->hdrs[i].name;
		if (http_hop_by_hop(name) || !strcasecmp(name, "Content-Length") ||
		    !strcasecmp(name, "Date"))
			continue;
		buf_printf(&hdrs, "%s: %s\r\n", name, uh->hdrs[i].value);
	}
	buf_printf(&hdrs, "X-Duration-Seconds: %.6f\r\n",
		   (double)(mono_ns() - req->start_ns) / 1e9);
	rc = wd_respond_head(req, uh->status, buf_cstr(&hdrs),
			     no_body ? 0 : (client_chunked ? -1 : uh->content_length));
	buf_release(&hdrs);
	if (rc || no_body)
		return !rc && uh->keep_alive;
	http_body_init(&ub, uh, ur, true, 0, wd_write_deadline(req));
	chunk = malloc(65536);
	if (!chunk) {
		req->keep_alive = false;
		return false;
	}
	for (;;) {
		ssize_t n = http_body_read(&ub, chunk, 65536, false);
		int64_t dl = wd_write_deadline(req);
		char size[32];
		int len;

		if (n < 0) {
			/* The upstream broke off: the client cannot get a
			 * whole answer now, so its connection closes too. */
			req->keep_alive = false;
			rc = (int)n;
			break;
		}
		if (n == 0) {
			if (client_chunked)
				rc = net_write_all(req->fd, "0\r\n\r\n", 5, dl);
			break;
		}
		if (client_chunked) {
			len = snprintf(size, sizeof(size), "%zx\r\n", (size_t)n);
			rc = net_write_all(req->fd, size, (size_t)len, dl);
			if (!rc)
				rc = net_write_all(req->fd, chunk, (size_t)n, dl);
			if (!rc)
				rc = net_write_all(req->fd, "\r\n", 2, dl);
		} else {
			rc = net_write_all(req->fd, chunk, (size_t)n, dl);
		}
		if (rc) {
			req->keep_alive = false;
			break;
		}
	}
	free(chunk);
	return !rc && ub.done && uh->keep_alive && !ub.until_close;
}

void wd_upstream_handle(struct wd_req *req)
{
	struct wd_upstream *up = req->srv->up;
	const struct wd_config *cfg = req->cfg;
	int64_t deadline = cfg->exec_timeout_ms ? mono_ms() + cfg->exec_timeout_ms : 0;
	bool replayable = !req->head.chunked && req->head.content_length <= 0;
	struct http_head uh = { 0 };
	struct rbuf *ur = NULL;
	bool reused, reuse = false;
	int fd = -1, attempt, rc = 0;

	ur = malloc(sizeof(*ur));
	if (!ur) {
		respond_plain(req, 500, "out of memory\n");
		return;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		fd = pool_get(up, &reused);
		if (fd < 0) {
			reused = false;
			fd = connect_upstream(up, mono_ms() + CONNECT_WAIT_MS);
		}
		if (fd < 0) {
			LOGC(ERROR, req->ctx, "upstream %s:%d unavailable: %s", cfg->upstream_host,
			     cfg->upstream_port, err_str(fd));
			respond_plain(req, 502, "upstream unavailable\n");
			goto out;
		}
		rbuf_init(ur, fd);
		rc = send_head(req, fd, deadline);
		if (!rc)
			rc = send_body(req, fd, deadline);
		while (!rc) {
			rc = http_head_parse(&uh, ur->data + ur->start, rbuf_avail(ur), false);
			if (rc > 0) {
				ur->start += (size_t)rc;
				rc = 0;
				if (uh.status >= 100 && uh.status < 200) {
					/* Interim answers are not relayed. */
					http_head_release(&uh);
					continue;
				}
				break;
			}
			if (rc < 0)
				break;
			rc = (int)rbuf_fill_wait(ur, deadline);
			if (rc > 0)
				rc = 0;
		}
		if (!rc)
			break;
		close(fd);
		fd = -1;
		/* A kept-alive connection the upstream had just closed: try
		 * once more on a new one if the request can be sent again. */
		if (!(reused && replayable && (rc == -ERR_CLOSED || rc == -ERR_UNAVAILABLE)))
			break;
	}
	if (rc) {
		req->keep_alive = false;
		if (rc == -ERR_TIMEOUT) {
			LOGC(ERROR, req->ctx, "upstream timed out after exec_timeout");
			respond_plain(req, 504, "upstream timed out (exec_timeout)\n");
		} else if (rc == -ERR_TOO_BIG && req->body.cap && req->body.total > req->body.cap) {
			respond_plain(req, 413, "request body exceeds max_request_size\n");
		} else if (rc == -ERR_CLOSED && !req->body.done) {
			/* The client went away mid-body: nobody to answer. */
		} else {
			LOGC(ERROR, req->ctx, "upstream error: %s", err_str(rc));
			respond_plain(req, 502, "bad response from upstream\n");
		}
		goto out;
	}
	reuse = relay(req, ur, &uh);
	LOGC(INFO, req->ctx, "%s %s - %d - Duration: %f seconds", req->head.method,
	     req->head.path, uh.status, (double)(mono_ns() - req->start_ns) / 1e9);
out:
	http_head_release(&uh);
	if (fd >= 0) {
		if (reuse && rbuf_avail(ur) == 0)
			pool_put(up, fd);
		else
			close(fd);
	}
	free(ur);
}
