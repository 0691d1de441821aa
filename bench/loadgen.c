/*
 * loadgen.c - an HTTP/1.1 load generator for benchmarks on 127.0.0.1.
 *
 * Each of -c threads keeps one connection alive and sends requests back to
 * back (a closed-loop load: a thread sends its next request when the
 * previous answer has been read). A connection the server closes is opened
 * again; a request that meets a kept-alive connection the server had
 * already closed is retried once on a fresh one, as browsers do.
 *
 * The run stops after -n requests or -d seconds, whichever comes first, and
 * never lasts more than ten minutes. --warmup requests run first, on the
 * same connections, and are not counted; the clock starts when every thread
 * has finished its share of them.
 *
 * Output is one line of key=value pairs on stdout:
 *   requests  measured requests attempted
 *   errors    requests that got no complete HTTP response (connect, reset,
 *             timeout, malformed response)
 *   non2xx    complete responses with a status outside 200-299
 *   seconds   wall time of the measured phase
 *   rps       2xx responses per second
 *   p50_us, p90_us, p99_us, max_us
 *             latency of the requests that got a response (any status),
 *             measured with CLOCK_MONOTONIC from the first byte sent (or the
 *             connect, when the request needed one) to the last byte read;
 *             nearest-rank percentiles of the sorted samples.
 * Exit status: 0 when the line was printed and at least one response came
 * back, 1 when none did or the run could not start, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "parse.h"
#include "spawn.h"
#include "banned.h"

#define MAX_CONCURRENCY 1024
#define MAX_RUN_MS (10 * 60 * 1000)
/* Caps the measured requests of a run, and with them the latency samples
 * (4 bytes each). */
#define MAX_REQUESTS 20000000u
#define MAX_WARMUP 1000000u
#define MAX_BODY (64u * 1024 * 1024)
#define MAX_HEADERS 64
#define MAX_HEADER_LINE (8u * 1024)
#define MAX_RESPONSE_HEAD (64u * 1024)
#define MAX_CHUNK (1ull << 40)
#define CONN_BUF (64u * 1024)
#define DEFAULT_TIMEOUT_MS 30000
#define THREAD_STACK (256u * 1024)

static const char usage_text[] =
	"usage: loadgen --url http://127.0.0.1:PORT/path (-n REQUESTS | -d SECONDS)\n"
	"               [-c CONCURRENCY] [-m METHOD] [--body-size N | --body-file F]\n"
	"               [-H 'Name: value']... [--warmup N] [--timeout SECONDS]\n"
	"  --url URL          target; only http://127.0.0.1 is allowed\n"
	"  -c, --concurrency  threads, one kept-alive connection each (1-1024, default 1)\n"
	"  -n, --requests     measured requests in total (at most 20000000)\n"
	"  -d, --duration     measured seconds (\"5\", \"500ms\"; at most 10m)\n"
	"  -m, --method       request method (default GET, POST with a body)\n"
	"  --body-size N      send a body of N bytes (\"256\", \"1Mi\"; at most 64Mi)\n"
	"  --body-file F      send the contents of F as the body\n"
	"  -H, --header       extra request header (repeatable)\n"
	"  --warmup N         requests sent first and not counted (default 0)\n"
	"  --timeout SECONDS  per request (default 30)\n"
	"Prints: requests= errors= non2xx= seconds= rps= p50_us= p90_us= p99_us= max_us=\n";

struct config {
	struct sockaddr_in addr;
	uint64_t total;      /* -n; 0 when not given */
	int64_t duration_ms; /* -d; 0 when not given */
	uint64_t warmup;
	int64_t timeout_ms;
	unsigned conc;
	bool head;           /* HEAD: responses carry no body */
	struct buf request;  /* the whole request, head and body */
};

/* One kept-alive connection and its read buffer. */
struct conn {
	int fd;
	size_t head, tail;   /* unread bytes are buf[head..tail) */
	bool got_data;       /* a byte of the current response was read */
	bool must_close;     /* the server will not take another request */
	char buf[CONN_BUF];
};

struct run {
	const struct config *cfg;
	atomic_uint_fast64_t warm_tickets;
	atomic_uint_fast64_t tickets;
	atomic_bool reported; /* the first error went to stderr */
	uint64_t limit;
	int64_t warm_deadline_ns;
	int64_t deadline_ns;  /* written by main between the two barriers */
	pthread_barrier_t warmed, go;
};

struct worker {
	pthread_t tid;
	struct run *run;
	struct conn *conn;
	uint32_t *lat;
	size_t nlat, alat;
	uint64_t requests, errors, non2xx, ok;
	int64_t end_ns;
};

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Says what is wrong with the command line, prints the usage and exits 2. */
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	exit(2);
}

static int64_t now_ns(void)
{
	return mono_ns();
}

/* ---- connection I/O -------------------------------------------------- */

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->head = c->tail = 0;
	c->must_close = false;
}

/* Waits until fd is ready for events or the deadline passes. Returns the
 * revents, or -ERR_TIMEOUT / a negative errno. */
static int wait_fd(int fd, short events, int64_t deadline_ns)
{
	struct pollfd pf = { .fd = fd, .events = events };

	for (;;) {
		int64_t left_ms = (deadline_ns - now_ns() + 999999) / 1000000;
		int n;

		if (left_ms <= 0)
			return -ERR_TIMEOUT;
		n = poll(&pf, 1, left_ms > 60000 ? 60000 : (int)left_ms);
		if (n > 0)
			return pf.revents;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int conn_open(struct conn *c, const struct config *cfg, int64_t deadline_ns)
{
	int one = 1, err = 0, rc;
	socklen_t len = sizeof(err);

	conn_close(c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&cfg->addr, sizeof(cfg->addr)) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		rc = -errno;
		goto fail;
	}
	rc = wait_fd(c->fd, POLLOUT, deadline_ns);
	if (rc < 0)
		goto fail;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
		rc = -errno;
		goto fail;
	}
	if (err) {
		rc = -err;
		goto fail;
	}
	return 0;
fail:
	conn_close(c);
	return rc;
}

/* Reads more bytes into the buffer. 0, -ERR_CLOSED at end of stream,
 * -ERR_TOO_BIG when the buffer is full of unread bytes, or another error. */
static int conn_fill(struct conn *c, int64_t deadline_ns)
{
	if (c->head == c->tail) {
		c->head = c->tail = 0;
	} else if (c->tail == sizeof(c->buf)) {
		if (c->head == 0)
			return -ERR_TOO_BIG;
		memmove(c->buf, c->buf + c->head, c->tail - c->head);
		c->tail -= c->head;
		c->head = 0;
	}
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->tail, sizeof(c->buf) - c->tail);
		int rc;

		if (n > 0) {
			c->tail += (size_t)n;
			c->got_data = true;
			return 0;
		}
		if (n == 0)
			return -ERR_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errno == ECONNRESET ? -ERR_CLOSED : -errno;
		rc = wait_fd(c->fd, POLLIN, deadline_ns);
		if (rc < 0)
			return rc;
	}
}

/* Returns the next line without its CR LF (or bare LF). The line is
 * borrowed from the buffer until the next read. */
static int conn_line(struct conn *c, int64_t deadline_ns, const char **line, size_t *len)
{
	for (;;) {
		char *start = c->buf + c->head;
		char *nl = memchr(start, '\n', c->tail - c->head);
		int rc;

		if (nl) {
			*line = start;
			*len = (size_t)(nl - start);
			if (*len > 0 && start[*len - 1] == '\r')
				(*len)--;
			c->head = (size_t)(nl - c->buf) + 1;
			return 0;
		}
		if (c->tail - c->head >= MAX_HEADER_LINE)
			return -ERR_TOO_BIG;
		rc = conn_fill(c, deadline_ns);
		if (rc)
			return rc;
	}
}

static int conn_skip(struct conn *c, uint64_t n, int64_t deadline_ns)
{
	while (n > 0) {
		size_t avail = c->tail - c->head;
		int rc;

		if (avail == 0) {
			rc = conn_fill(c, deadline_ns);
			if (rc)
				return rc;
			continue;
		}
		if (avail > n)
			avail = (size_t)n;
		c->head += avail;
		n -= avail;
	}
	return 0;
}

static int conn_skip_to_eof(struct conn *c, int64_t deadline_ns)
{
	for (;;) {
		int rc;

		c->head = c->tail = 0;
		rc = conn_fill(c, deadline_ns);
		if (rc == -ERR_CLOSED)
			return 0;
		if (rc)
			return rc;
	}
}

/* Sends the request. When the server answers (or closes) before it has
 * read all of it, stops sending and sets *early: the response is read and
 * the connection closed afterwards. */
static int conn_send(struct conn *c, const struct buf *req, int64_t deadline_ns, bool *early)
{
	size_t off = 0;

	*early = false;
	while (off < req->len) {
		ssize_t n = send(c->fd, req->data + off, req->len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		int rev;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return errno == EPIPE || errno == ECONNRESET ? -ERR_CLOSED : -errno;
		rev = wait_fd(c->fd, POLLOUT | POLLIN, deadline_ns);
		if (rev < 0)
			return rev;
		if ((rev & (POLLIN | POLLHUP)) && !(rev & POLLOUT)) {
			*early = true;
			return 0;
		}
	}
	return 0;
}

/* ---- response parsing ------------------------------------------------ */

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* True when the comma-separated list value holds token (any case). */
static bool list_has(const char *v, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tlen && strncasecmp(v + s, token, tlen) == 0)
			return true;
	}
	return false;
}

/* The last coding of a Transfer-Encoding value is "chunked". */
static bool ends_chunked(const char *v, size_t len)
{
	const char *last = v;
	size_t i;

	for (i = 0; i < len; i++)
		if (v[i] == ',')
			last = v + i + 1;
	len -= (size_t)(last - v);
	while (len > 0 && (*last == ' ' || *last == '\t')) {
		last++;
		len--;
	}
	return len == 7 && strncasecmp(last, "chunked", 7) == 0;
}

static int parse_digits(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -ERR_PROTOCOL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -ERR_PROTOCOL;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -ERR_PROTOCOL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

struct resp_head {
	int status;
	bool keep_alive;
	bool chunked;
	bool other_coding; /* a Transfer-Encoding that is not chunked */
	bool has_length;
	uint64_t length;
};

static int parse_status(const char *l, size_t len, struct resp_head *h)
{
	if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
	    l[8] != ' ' || (len > 12 && l[12] != ' '))
		return -ERR_PROTOCOL;
	if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' ||
	    l[11] > '9')
		return -ERR_PROTOCOL;
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	h->keep_alive = l[7] == '1';
	return 0;
}

static int parse_header(const char *l, size_t len, struct resp_head *h)
{
	const char *colon = memchr(l, ':', len), *v;
	size_t nlen, vlen;
	uint64_t n;

	if (!colon || colon == l)
		return -ERR_PROTOCOL;
	nlen = (size_t)(colon - l);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (name_is(l, nlen, "content-length")) {
		if (parse_digits(v, vlen, UINT64_MAX, &n) < 0)
			return -ERR_PROTOCOL;
		if (h->has_length && h->length != n)
			return -ERR_PROTOCOL;
		h->has_length = true;
		h->length = n;
	} else if (name_is(l, nlen, "transfer-encoding")) {
		if (ends_chunked(v, vlen))
			h->chunked = true;
		else
			h->other_coding = true;
	} else if (name_is(l, nlen, "connection")) {
		if (list_has(v, vlen, "close"))
			h->keep_alive = false;
		else if (list_has(v, vlen, "keep-alive"))
			h->keep_alive = true;
	}
	return 0;
}

/* Reads a status line and headers, skipping interim 1xx responses. */
static int read_head(struct conn *c, int64_t deadline_ns, struct resp_head *h)
{
	size_t head_bytes = 0, len;
	const char *line;
	int rc;

	for (;;) {
		memset(h, 0, sizeof(*h));
		rc = conn_line(c, deadline_ns, &line, &len);
		if (rc)
			return rc;
		rc = parse_status(line, len, h);
		if (rc)
			return rc;
		for (;;) {
			rc = conn_line(c, deadline_ns, &line, &len);
			if (rc)
				return rc;
			head_bytes += len + 2;
			if (head_bytes > MAX_RESPONSE_HEAD)
				return -ERR_TOO_BIG;
			if (len == 0)
				break;
			rc = parse_header(line, len, h);
			if (rc)
				return rc;
		}
		if (h->status == 101)
			return -ERR_PROTOCOL;
		if (h->status >= 200)
			return 0;
	}
}

static int read_chunked(struct conn *c, int64_t deadline_ns)
{
	const char *line;
	size_t len, i;
	int rc;

	for (;;) {
		uint64_t size = 0;

		rc = conn_line(c, deadline_ns, &line, &len);
		if (rc)
			return rc;
		for (i = 0; i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'; i++) {
			char ch = line[i];
			int d = ch >= '0' && ch <= '9' ? ch - '0' :
				ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
				ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

			if (d < 0 || size > MAX_CHUNK)
				return -ERR_PROTOCOL;
			size = size * 16 + (uint64_t)d;
		}
		if (i == 0)
			return -ERR_PROTOCOL;
		if (size == 0)
			break;
		rc = conn_skip(c, size, deadline_ns);
		if (rc)
			return rc;
		rc = conn_line(c, deadline_ns, &line, &len);
		if (rc)
			return rc;
		if (len != 0)
			return -ERR_PROTOCOL;
	}
	/* Trailers, up to the empty line. */
	for (i = 0;; i++) {
		if (i > MAX_HEADERS)
			return -ERR_TOO_BIG;
		rc = conn_line(c, deadline_ns, &line, &len);
		if (rc)
			return rc;
		if (len == 0)
			return 0;
	}
}

/* Reads one whole response and discards its body. */
static int read_response(struct conn *c, const struct config *cfg, int64_t deadline_ns,
			 int *status)
{
	struct resp_head h;
	int rc;

	rc = read_head(c, deadline_ns, &h);
	if (rc)
		return rc;
	*status = h.status;
	if (!h.keep_alive)
		c->must_close = true;
	if (cfg->head || h.status == 204 || h.status == 304)
		return 0;
	if (h.chunked)
		return read_chunked(c, deadline_ns);
	if (h.has_length && !h.other_coding)
		return conn_skip(c, h.length, deadline_ns);
	c->must_close = true;
	return conn_skip_to_eof(c, deadline_ns);
}

/* One request and its response, with one retry when a kept-alive
 * connection turns out to have been closed by the server. */
static int exchange(struct conn *c, const struct config *cfg, int *status)
{
	int64_t deadline_ns = now_ns() + cfg->timeout_ms * 1000000;
	int attempt, rc = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		bool fresh = false, early = false;

		if (c->fd < 0) {
			rc = conn_open(c, cfg, deadline_ns);
			if (rc)
				return rc;
			fresh = true;
		}
		c->got_data = false;
		rc = conn_send(c, &cfg->request, deadline_ns, &early);
		if (rc == 0)
			rc = read_response(c, cfg, deadline_ns, status);
		if (rc == 0) {
			if (early || c->must_close || c->head != c->tail)
				conn_close(c);
			return 0;
		}
		conn_close(c);
		if (fresh || c->got_data || rc != -ERR_CLOSED)
			return rc;
	}
	return rc;
}

/* ---- the run --------------------------------------------------------- */

static void report_error(struct run *r, int rc)
{
	bool no = false;

	if (atomic_compare_exchange_strong(&r->reported, &no, true))
		fprintf(stderr, "loadgen: request failed: %s (further errors are only counted)\n",
			rc == -ERR_CLOSED ? "connection closed by the server" : err_str(rc));
}

static int add_sample(struct worker *w, int64_t ns)
{
	int64_t us = ns / 1000;

	if (w->nlat == w->alat) {
		size_t n = w->alat ? w->alat * 2 : 4096;
		uint32_t *p = realloc(w->lat, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		w->lat = p;
		w->alat = n;
	}
	w->lat[w->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

static void pause_after_error(void)
{
	struct timespec ts = { 0, 10 * 1000000 };

	nanosleep(&ts, NULL);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	const struct config *cfg = r->cfg;
	int status, rc;

	while (atomic_fetch_add(&r->warm_tickets, 1) < cfg->warmup &&
	       now_ns() < r->warm_deadline_ns) {
		if (exchange(w->conn, cfg, &status) < 0)
			pause_after_error();
	}
	pthread_barrier_wait(&r->warmed);
	pthread_barrier_wait(&r->go);
	while (atomic_fetch_add(&r->tickets, 1) < r->limit) {
		int64_t t0 = now_ns();

		if (t0 >= r->deadline_ns)
			break;
		w->requests++;
		rc = exchange(w->conn, cfg, &status);
		if (rc < 0) {
			w->errors++;
			report_error(r, rc);
			pause_after_error();
			continue;
		}
		if (add_sample(w, now_ns() - t0) < 0) {
			fputs("loadgen: out of memory for latency samples\n", stderr);
			break;
		}
		if (status >= 200 && status <= 299)
			w->ok++;
		else
			w->non2xx++;
	}
	w->end_ns = now_ns();
	conn_close(w->conn);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted samples. */
static uint32_t percentile(const uint32_t *v, size_t n, unsigned p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(((uint64_t)n * p + 99) / 100);
	return v[rank ? rank - 1 : 0];
}

/* Runs the workers and prints the result line. 0 when a response came
 * back, 1 when none did or the run could not start. */
static int run_load(const struct config *cfg)
{
	struct run r;
	struct worker *w = NULL;
	pthread_attr_t attr;
	uint32_t *all = NULL;
	uint64_t requests = 0, errors = 0, non2xx = 0, ok = 0;
	int64_t start, hard_end, end = 0;
	size_t n = 0, i, started = 0;
	double secs;
	int rc = 1;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	atomic_init(&r.warm_tickets, 0);
	atomic_init(&r.tickets, 0);
	atomic_init(&r.reported, false);
	r.limit = cfg->total ? cfg->total : MAX_REQUESTS;
	/* The warmup gets at most the measured duration, and the whole run at
	 * most MAX_RUN_MS. */
	start = now_ns();
	hard_end = start + MAX_RUN_MS * 1000000ll;
	r.warm_deadline_ns = start + (cfg->duration_ms ? cfg->duration_ms : MAX_RUN_MS) * 1000000;
	w = calloc(cfg->conc, sizeof(*w));
	if (!w)
		goto out;
	for (i = 0; i < cfg->conc; i++) {
		w[i].run = &r;
		w[i].conn = malloc(sizeof(*w[i].conn));
		if (!w[i].conn)
			goto out;
		w[i].conn->fd = -1;
		conn_close(w[i].conn);
	}
	pthread_barrier_init(&r.warmed, NULL, cfg->conc + 1);
	pthread_barrier_init(&r.go, NULL, cfg->conc + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (i = 0; i < cfg->conc; i++) {
		int err = pthread_create(&w[i].tid, &attr, worker_main, &w[i]);

		if (err) {
			/* The started threads wait at a barrier sized for all. */
			fprintf(stderr, "loadgen: cannot start thread: %s\n", strerror(err));
			exit(1);
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	pthread_barrier_wait(&r.warmed);
	start = now_ns();
	r.deadline_ns = start + (cfg->duration_ms ? cfg->duration_ms : MAX_RUN_MS) * 1000000;
	if (r.deadline_ns > hard_end)
		r.deadline_ns = hard_end;
	pthread_barrier_wait(&r.go);
	for (i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		requests += w[i].requests;
		errors += w[i].errors;
		non2xx += w[i].non2xx;
		ok += w[i].ok;
		n += w[i].nlat;
		if (w[i].end_ns > end)
			end = w[i].end_ns;
	}
	pthread_barrier_destroy(&r.warmed);
	pthread_barrier_destroy(&r.go);
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		fputs("loadgen: out of memory\n", stderr);
		goto out;
	}
	for (n = 0, i = 0; i < cfg->conc; i++) {
		if (w[i].nlat)
			memcpy(all + n, w[i].lat, w[i].nlat * sizeof(*all));
		n += w[i].nlat;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	secs = (double)(end - start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	printf("requests=%llu errors=%llu non2xx=%llu seconds=%.2f rps=%.1f "
	       "p50_us=%u p90_us=%u p99_us=%u max_us=%u\n",
	       (unsigned long long)requests, (unsigned long long)errors,
	       (unsigned long long)non2xx, secs, (double)ok / secs,
	       percentile(all, n, 50), percentile(all, n, 90), percentile(all, n, 99),
	       n ? all[n - 1] : 0);
	fflush(stdout);
	rc = ok + non2xx > 0 ? 0 : 1;
out:
	if (w) {
		for (i = 0; i < cfg->conc; i++) {
			free(w[i].lat);
			free(w[i].conn);
		}
	}
	free(w);
	free(all);
	return rc;
}

/* ---- options --------------------------------------------------------- */

/* Accepts http://127.0.0.1[:PORT][/path] and nothing else. */
static void parse_url(const char *url, struct config *cfg, const char **path, unsigned *port)
{
	static const char prefix[] = "http://127.0.0.1";
	const char *p = url + sizeof(prefix) - 1;
	uint64_t v = 80;

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0 || (*p && *p != ':' && *p != '/'))
		usage_error("refusing '%s': only http://127.0.0.1 is allowed", url);
	if (*p == ':') {
		const char *e = strchr(p, '/');
		char num[8];
		size_t len = e ? (size_t)(e - p - 1) : strlen(p + 1);

		if (len == 0 || len >= sizeof(num))
			usage_error("bad port in '%s'", url);
		memcpy(num, p + 1, len);
		num[len] = '\0';
		if (parse_uint(num, 65535, &v) < 0 || v == 0)
			usage_error("bad port in '%s'", url);
		p += 1 + len;
	}
	*path = *p ? p : "/";
	for (p = *path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#')
			usage_error("bad path in '%s'", url);
	*port = (unsigned)v;
	memset(&cfg->addr, 0, sizeof(cfg->addr));
	cfg->addr.sin_family = AF_INET;
	cfg->addr.sin_port = htons((uint16_t)v);
	cfg->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static bool is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch))
			return false;
	}
	return true;
}

/* Reads a whole body file, at most MAX_BODY bytes. */
static int read_body_file(const char *path, struct buf *body)
{
	char chunk[16384];
	FILE *f = fopen(path, "rb");
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);

		if (n > 0 && (rc = buf_add(body, chunk, n)) < 0)
			break;
		if (n < sizeof(chunk)) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* A body of size bytes of printable text, the same on every run. */
static int fill_pattern(struct buf *body, size_t size)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char chunk[4096];
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = alphabet[i % (sizeof(alphabet) - 1)];
	while (rc == 0 && size > 0) {
		size_t n = size < sizeof(chunk) ? size : sizeof(chunk);

		rc = buf_add(body, chunk, n);
		size -= n;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "method", required_argument, NULL, 'm' },
		{ "header", required_argument, NULL, 'H' },
		{ "body-size", required_argument, NULL, 's' },
		{ "body-file", required_argument, NULL, 'f' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	const char *headers[MAX_HEADERS];
	struct buf body;
	const char *url = NULL, *method = NULL, *body_file = NULL, *path = "/";
	bool have_size = false, user_host = false;
	uint64_t v, body_size = 0;
	unsigned port = 80, nheaders = 0, i;
	int opt, rc, status = 1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.conc = 1;
	cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	buf_init(&body, MAX_BODY);
	buf_init(&cfg.request, MAX_BODY + MAX_HEADERS * MAX_HEADER_LINE + 1024);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:n:d:m:H:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, MAX_CONCURRENCY, &v) < 0 || v == 0)
				usage_error("bad concurrency '%s' (1-1024)", optarg);
			cfg.conc = (unsigned)v;
			break;
		case 'n':
			if (parse_uint(optarg, MAX_REQUESTS, &v) < 0 || v == 0)
				usage_error("bad request count '%s' (1-20000000)", optarg);
			cfg.total = v;
			break;
		case 'd':
			if (parse_duration_ms(optarg, &cfg.duration_ms) < 0 || cfg.duration_ms <= 0 ||
			    cfg.duration_ms > MAX_RUN_MS)
				usage_error("bad duration '%s' (more than 0, at most 10m)", optarg);
			break;
		case 'm':
			if (strlen(optarg) > 32 || !is_token(optarg, strlen(optarg)))
				usage_error("bad method '%s'", optarg);
			method = optarg;
			break;
		case 'H': {
			const char *colon = strchr(optarg, ':');
			size_t nlen = colon ? (size_t)(colon - optarg) : 0;

			if (!colon || !is_token(optarg, nlen) || strpbrk(optarg, "\r\n") ||
			    strlen(optarg) >= MAX_HEADER_LINE)
				usage_error("bad header '%s' (want 'Name: value')", optarg);
			if (name_is(optarg, nlen, "content-length") ||
			    name_is(optarg, nlen, "transfer-encoding"))
				usage_error("header '%s' is set by loadgen itself", optarg);
			if (++nheaders > MAX_HEADERS)
				usage_error("too many headers (at most %d)", MAX_HEADERS);
			if (name_is(optarg, nlen, "host"))
				user_host = true;
			headers[nheaders - 1] = optarg;
			break;
		}
		case 's':
			if (parse_size(optarg, &body_size) < 0 || body_size > MAX_BODY)
				usage_error("bad body size '%s' (at most 64Mi)", optarg);
			have_size = true;
			break;
		case 'f':
			body_file = optarg;
			break;
		case 'w':
			if (parse_uint(optarg, MAX_WARMUP, &cfg.warmup) < 0)
				usage_error("bad warmup count '%s' (0-1000000)", optarg);
			break;
		case 't':
			if (parse_duration_ms(optarg, &cfg.timeout_ms) < 0 || cfg.timeout_ms <= 0 ||
			    cfg.timeout_ms > MAX_RUN_MS)
				usage_error("bad timeout '%s'", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			status = 0;
			goto out;
		case ':':
			usage_error("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			if (optopt)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!url)
		usage_error("--url is required");
	if (!cfg.total && !cfg.duration_ms)
		usage_error("the run needs a bound: give -n or -d (or both)");
	if (have_size && body_file)
		usage_error("give --body-size or --body-file, not both");
	parse_url(url, &cfg, &path, &port);

	if (body_file) {
		rc = read_body_file(body_file, &body);
		if (rc < 0) {
			fprintf(stderr, "loadgen: cannot read '%s': %s\n", body_file, err_str(rc));
			goto out;
		}
	} else if (have_size && fill_pattern(&body, (size_t)body_size) < 0) {
		fputs("loadgen: out of memory\n", stderr);
		goto out;
	}
	if (!method)
		method = have_size || body_file ? "POST" : "GET";
	cfg.head = strcmp(method, "HEAD") == 0;

	buf_printf(&cfg.request, "%s %s HTTP/1.1\r\n", method, path);
	if (!user_host)
		buf_printf(&cfg.request, "Host: 127.0.0.1:%u\r\n", port);
	for (i = 0; i < nheaders; i++)
		buf_printf(&cfg.request, "%s\r\n", headers[i]);
	if (have_size || body_file || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
		buf_printf(&cfg.request, "Content-Length: %zu\r\n", body.len);
	buf_adds(&cfg.request, "\r\n");
	if (buf_add(&cfg.request, body.data, body.len) < 0) {
		fputs("loadgen: out of memory\n", stderr);
		goto out;
	}
	buf_release(&body);

	signal(SIGPIPE, SIG_IGN);
	status = run_load(&cfg);
out:
	buf_release(&body);
	buf_release(&cfg.request);
	return status;
}
