/*
 * echo_upstream.c - a tiny HTTP/1.1 server for mode=http benchmarks.
 *
 * It stands in for a function's long-lived handler behind the watchdog in
 * mode=http: every request, whatever its method and path, is answered 200
 * with the same small body ("ok\n" unless --body says otherwise). The
 * request body is read and thrown away; a malformed request closes the
 * connection without an answer. It is fast on purpose, so that a
 * benchmark through it measures the watchdog and the gateway, not the
 * handler.
 *
 * One thread per connection, and connections are kept alive as HTTP/1.1
 * asks. Everything is bounded: at most --max-conns connections at once
 * (more are closed at once), request heads of at most RBUF_SIZE bytes,
 * request bodies of at most MAX_REQUEST_BODY, an idle connection is closed
 * after IDLE_MS, and the server exits by itself after --max-seconds.
 *
 *   echo_upstream --port N [--bind 127.0.0.1] [--body TEXT]
 *                 [--max-conns N] [--max-seconds N]
 *
 * Only 127.0.0.1 (or ::1) may be bound. Exit status: 0 after --max-seconds
 * or SIGTERM, 1 when it cannot listen, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "net.h"
#include "parse.h"
#include "spawn.h"
#include "banned.h"

#define MAX_BODY_TEXT 4096
#define MAX_REQUEST_BODY (64ull * 1024 * 1024)
#define DEFAULT_MAX_CONNS 1024u
#define LIMIT_MAX_CONNS 4096u
#define DEFAULT_MAX_SECONDS 3600u
#define LIMIT_MAX_SECONDS (24u * 3600)
#define IDLE_MS 60000
#define IO_MS 30000
#define THREAD_STACK (128u * 1024)

static const char usage_text[] =
	"usage: echo_upstream --port N [--bind 127.0.0.1] [--body TEXT]\n"
	"                     [--max-conns N] [--max-seconds N]\n"
	"  --port N           TCP port to listen on (required)\n"
	"  --bind ADDR        127.0.0.1 (default) or ::1\n"
	"  --body TEXT        the answer to every request (default \"ok\\n\")\n"
	"  --max-conns N      connections at once (default 1024, at most 4096)\n"
	"  --max-seconds N    exit after N seconds (default 3600, at most 86400)\n";

/* The whole answer, head and body, built once. Two versions: keep-alive
 * and Connection: close. */
static struct buf answer_keep, answer_close;
static atomic_uint nconns;
static volatile sig_atomic_t stopping;

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("echo_upstream: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	exit(2);
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Waits for a complete request head in r. 1 with *h filled (release it),
 * 0 when the client closed or went idle between requests, or a negative
 * code on a broken or oversized head. */
static int read_request(struct rbuf *r, struct http_head *h)
{
	int64_t deadline = mono_ms() + IDLE_MS;

	for (;;) {
		int rc = http_head_parse(h, r->data + r->start, rbuf_avail(r), true);
		ssize_t n;

		if (rc > 0) {
			r->start += (size_t)rc;
			return 1;
		}
		if (rc < 0)
			return rc;
		n = rbuf_fill(r, false, deadline);
		if (n == -ERR_CLOSED && rbuf_avail(r) == 0)
			return 0;
		if (n == -ERR_TIMEOUT && rbuf_avail(r) == 0)
			return 0;
		if (n < 0)
			return (int)n;
	}
}

/* Serves one connection until the client closes it or a request asks for
 * Connection: close. Takes ownership of the fd (passed in arg). */
static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct rbuf *r = malloc(sizeof(*r));

	if (!r)
		goto out;
	rbuf_init(r, fd);
	for (;;) {
		struct http_head h;
		struct http_body b;
		const struct buf *ans;
		bool keep;
		int rc = read_request(r, &h);

		if (rc <= 0)
			break;
		if (h.expect_continue &&
		    net_write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, mono_ms() + IO_MS)) {
			http_head_release(&h);
			break;
		}
		http_body_init(&b, &h, r, false, MAX_REQUEST_BODY, mono_ms() + IO_MS);
		rc = http_body_skip(&b, MAX_REQUEST_BODY);
		keep = h.keep_alive && !rc && !stopping;
		http_head_release(&h);
		ans = keep ? &answer_keep : &answer_close;
		if (net_write_all(fd, ans->data, ans->len, mono_ms() + IO_MS) || !keep)
			break;
	}
out:
	free(r);
	close(fd);
	atomic_fetch_sub(&nconns, 1);
	return NULL;
}

static void build_answer(struct buf *b, const char *body, bool keep)
{
	buf_init(b, MAX_BODY_TEXT + 256);
	if (buf_printf(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			  "Content-Length: %zu\r\n%s\r\n%s",
		       strlen(body), keep ? "" : "Connection: close\r\n", body)) {
		fputs("echo_upstream: --body is too long\n", stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "body", required_argument, NULL, 'B' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "max-seconds", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = "127.0.0.1", *body = "ok\n";
	uint64_t port = 0, max_conns = DEFAULT_MAX_CONNS, max_seconds = DEFAULT_MAX_SECONDS;
	struct sigaction sa;
	pthread_attr_t attr;
	int64_t end_ms;
	int lfd, opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_uint(optarg, 65535, &port) || port == 0 || port > 65535)
				usage_error("--port: '%s' is not a port", optarg);
			break;
		case 'b':
			bind_addr = optarg;
			break;
		case 'B':
			body = optarg;
			break;
		case 'C':
			if (parse_uint(optarg, LIMIT_MAX_CONNS, &max_conns) || max_conns == 0 ||
			    max_conns > LIMIT_MAX_CONNS)
				usage_error("--max-conns: '%s' is not 1-%u", optarg, LIMIT_MAX_CONNS);
			break;
		case 'S':
			if (parse_uint(optarg, LIMIT_MAX_SECONDS, &max_seconds) || max_seconds == 0 ||
			    max_seconds > LIMIT_MAX_SECONDS)
				usage_error("--max-seconds: '%s' is not 1-%u", optarg,
					    LIMIT_MAX_SECONDS);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			usage_error("bad option");
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!port)
		usage_error("--port is required");
	if (strcmp(bind_addr, "127.0.0.1") && strcmp(bind_addr, "::1"))
		usage_error("--bind: '%s' is not 127.0.0.1 or ::1", bind_addr);
	if (strlen(body) > MAX_BODY_TEXT)
		usage_error("--body: longer than %u bytes", MAX_BODY_TEXT);

	build_answer(&answer_keep, body, true);
	build_answer(&answer_close, body, false);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	lfd = net_listen(bind_addr, (int)port, 512, NULL);
	if (lfd < 0) {
		fprintf(stderr, "echo_upstream: cannot listen on %s:%llu: %s\n", bind_addr,
			(unsigned long long)port, err_str(lfd));
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	end_ms = mono_ms() + (int64_t)max_seconds * 1000;
	printf("echo_upstream: listening on %s:%llu\n", bind_addr, (unsigned long long)port);
	fflush(stdout);

	while (!stopping && mono_ms() < end_ms) {
		struct pollfd pf = { .fd = lfd, .events = POLLIN };
		pthread_t tid;
		int fd, one = 1;

		if (poll(&pf, 1, 1000) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_fetch_add(&nconns, 1) >= max_conns) {
			atomic_fetch_sub(&nconns, 1);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&tid, &attr, serve, (void *)(intptr_t)fd)) {
			atomic_fetch_sub(&nconns, 1);
			close(fd);
		}
	}
	/* Threads still serving die with the process: each only holds a
	 * socket and its buffer. */
	close(lfd);
	pthread_attr_destroy(&attr);
	return 0;
}
