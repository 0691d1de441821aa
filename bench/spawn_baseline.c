/*
 * spawn_baseline.c - what the watchdog costs without HTTP: the baseline.
 *
 * Each of -c threads, in a loop, does what the watchdog does for one
 * request and nothing else: it starts the command (default `cat`) through
 * common/spawn.h with pipes on stdin and stdout (stderr joined to stdout,
 * as combine_output does), pumps a fixed body of --body-size bytes in and
 * the output back, and reaps the child. An iteration whose output differs
 * from its input, or whose child does not exit 0, counts as an error.
 *
 * Options, bounds and the output line are those of loadgen (see
 * bench/loadgen.c and docs/benchmarks.md), so scripts read both alike:
 *   requests= errors= non2xx= seconds= rps= p50_us= p90_us= p99_us= max_us=
 * non2xx is always 0; rps counts correct iterations per second; latencies
 * cover every iteration that did not fail. Exit status: 0 when at least
 * one iteration succeeded, 1 when none did, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "parse.h"
#include "spawn.h"
#include "banned.h"

#define MAX_CONCURRENCY 1024
#define MAX_RUN_MS (10 * 60 * 1000)
/* Caps the measured iterations of a run, and with them the latency
 * samples (4 bytes each). */
#define MAX_REQUESTS 20000000u
#define MAX_WARMUP 1000000u
#define MAX_BODY (64u * 1024 * 1024)
/* Output beyond the input by this much is not read further. */
#define OUTPUT_SLACK (64u * 1024)
#define DEFAULT_TIMEOUT_MS 30000
#define THREAD_STACK (256u * 1024)

static const char usage_text[] =
	"usage: spawn_baseline (-n ITERATIONS | -d SECONDS) [-c CONCURRENCY]\n"
	"                      [--body-size N] [--cmd 'COMMAND'] [--warmup N]\n"
	"                      [--timeout SECONDS]\n"
	"  -c, --concurrency  threads spawning in parallel (1-1024, default 1)\n"
	"  -n, --requests     measured iterations in total (at most 20000000)\n"
	"  -d, --duration     measured seconds (\"5\", \"500ms\"; at most 10m)\n"
	"  --body-size N      bytes written to each child (default 0; at most 64Mi)\n"
	"  --cmd COMMAND      the child, split on spaces like fprocess (default cat);\n"
	"                     it must write back exactly what it reads\n"
	"  --warmup N         iterations run first and not counted (default 0)\n"
	"  --timeout SECONDS  per iteration (default 30)\n"
	"Prints: requests= errors= non2xx= seconds= rps= p50_us= p90_us= p99_us= max_us=\n";

struct config {
	char **argv;         /* from spawn_split() */
	uint64_t total;      /* -n; 0 when not given */
	int64_t duration_ms; /* -d; 0 when not given */
	uint64_t warmup;
	int64_t timeout_ms;
	unsigned conc;
	struct buf body;
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
	struct buf out;      /* the child's output of the current iteration */
	uint32_t *lat;
	size_t nlat, alat;
	uint64_t requests, errors, ok;
	int64_t end_ns;
};

/* The pump's view of one iteration: the body to feed, the output sink. */
struct feed {
	const struct buf *body;
	size_t off;
	struct buf *out;
};

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Says what is wrong with the command line, prints the usage and exits 2. */
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("spawn_baseline: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	exit(2);
}

static ssize_t feed_read(void *ctx, void *dst, size_t cap)
{
	struct feed *f = ctx;
	size_t n = f->body->len - f->off;

	if (n > cap)
		n = cap;
	if (n)
		memcpy(dst, f->body->data + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

static int feed_write(void *ctx, const void *data, size_t len)
{
	struct feed *f = ctx;

	return buf_add(f->out, data, len);
}

/* One iteration: spawn, pump, reap, compare. 0, -ERR_EXEC when the child
 * did not exit 0, -ERR_PROTOCOL when its output is not its input, or the
 * error of the spawn or pump. */
static int iterate(const struct config *cfg, struct buf *out)
{
	struct spawn_opts so = {
		.argv = cfg->argv,
		.in = SPAWN_FD_PIPE,
		.out = SPAWN_FD_PIPE,
		.err = SPAWN_FD_STDOUT,
	};
	struct feed f = { .body = &cfg->body, .off = 0, .out = out };
	struct spawn_io io = {
		.in_poll_fd = -1,
		.read_in = feed_read,
		.write_out = feed_write,
		.write_err = feed_write,
		.ctx = &f,
		.deadline_ms = mono_ms() + cfg->timeout_ms,
		.cancel_fd = -1,
	};
	struct spawn_proc proc;
	int rc, st;

	buf_reset(out);
	rc = spawn_start(&so, &proc);
	if (rc)
		return rc;
	rc = spawn_pump(&proc, &io);
	if (rc)
		spawn_kill(&proc, SIGKILL);
	st = spawn_wait(&proc);
	if (rc)
		return rc;
	if (st < 0)
		return st;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -ERR_EXEC;
	if (out->len != cfg->body.len ||
	    (out->len && memcmp(out->data, cfg->body.data, out->len) != 0))
		return -ERR_PROTOCOL;
	return 0;
}

static void report_error(struct run *r, int rc)
{
	bool no = false;

	if (!atomic_compare_exchange_strong(&r->reported, &no, true))
		return;
	if (rc == -ERR_PROTOCOL)
		fputs("spawn_baseline: the output differs from the input", stderr);
	else if (rc == -ERR_EXEC)
		fprintf(stderr, "spawn_baseline: '%s' did not exit 0", r->cfg->argv[0]);
	else if (rc == -ERR_TOO_BIG)
		fputs("spawn_baseline: the output is longer than the input", stderr);
	else
		fprintf(stderr, "spawn_baseline: cannot run '%s': %s", r->cfg->argv[0],
			err_str(rc));
	fputs(" (further errors are only counted)\n", stderr);
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
	int rc;

	while (atomic_fetch_add(&r->warm_tickets, 1) < cfg->warmup &&
	       mono_ns() < r->warm_deadline_ns) {
		if (iterate(cfg, &w->out) < 0)
			pause_after_error();
	}
	pthread_barrier_wait(&r->warmed);
	pthread_barrier_wait(&r->go);
	while (atomic_fetch_add(&r->tickets, 1) < r->limit) {
		int64_t t0 = mono_ns();

		if (t0 >= r->deadline_ns)
			break;
		w->requests++;
		rc = iterate(cfg, &w->out);
		if (rc < 0) {
			w->errors++;
			report_error(r, rc);
			pause_after_error();
			continue;
		}
		if (add_sample(w, mono_ns() - t0) < 0) {
			fputs("spawn_baseline: out of memory for latency samples\n", stderr);
			break;
		}
		w->ok++;
	}
	w->end_ns = mono_ns();
	buf_release(&w->out);
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

/* Runs the workers and prints the result line. 0 when an iteration
 * succeeded, 1 when none did or the run could not start. */
static int run_load(const struct config *cfg)
{
	struct run r;
	struct worker *w = NULL;
	pthread_attr_t attr;
	uint32_t *all = NULL;
	uint64_t requests = 0, errors = 0, ok = 0;
	int64_t start, hard_end, end = 0;
	size_t n = 0, i;
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
	start = mono_ns();
	hard_end = start + MAX_RUN_MS * 1000000ll;
	r.warm_deadline_ns = start + (cfg->duration_ms ? cfg->duration_ms : MAX_RUN_MS) * 1000000;
	w = calloc(cfg->conc, sizeof(*w));
	if (!w) {
		fputs("spawn_baseline: out of memory\n", stderr);
		goto out;
	}
	for (i = 0; i < cfg->conc; i++) {
		w[i].run = &r;
		buf_init(&w[i].out, cfg->body.len + OUTPUT_SLACK);
	}
	pthread_barrier_init(&r.warmed, NULL, cfg->conc + 1);
	pthread_barrier_init(&r.go, NULL, cfg->conc + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (i = 0; i < cfg->conc; i++) {
		int err = pthread_create(&w[i].tid, &attr, worker_main, &w[i]);

		if (err) {
			/* The started threads wait at a barrier sized for all. */
			fprintf(stderr, "spawn_baseline: cannot start thread: %s\n", strerror(err));
			exit(1);
		}
	}
	pthread_attr_destroy(&attr);
	pthread_barrier_wait(&r.warmed);
	start = mono_ns();
	r.deadline_ns = start + (cfg->duration_ms ? cfg->duration_ms : MAX_RUN_MS) * 1000000;
	if (r.deadline_ns > hard_end)
		r.deadline_ns = hard_end;
	pthread_barrier_wait(&r.go);
	for (i = 0; i < cfg->conc; i++) {
		pthread_join(w[i].tid, NULL);
		requests += w[i].requests;
		errors += w[i].errors;
		ok += w[i].ok;
		n += w[i].nlat;
		if (w[i].end_ns > end)
			end = w[i].end_ns;
	}
	pthread_barrier_destroy(&r.warmed);
	pthread_barrier_destroy(&r.go);
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		fputs("spawn_baseline: out of memory\n", stderr);
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
	printf("requests=%llu errors=%llu non2xx=0 seconds=%.2f rps=%.1f "
	       "p50_us=%u p90_us=%u p99_us=%u max_us=%u\n",
	       (unsigned long long)requests, (unsigned long long)errors, secs,
	       (double)ok / secs, percentile(all, n, 50), percentile(all, n, 90),
	       percentile(all, n, 99), n ? all[n - 1] : 0);
	fflush(stdout);
	rc = ok > 0 ? 0 : 1;
out:
	if (w)
		for (i = 0; i < cfg->conc; i++)
			free(w[i].lat);
	free(w);
	free(all);
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
		{ "concurrency", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "body-size", required_argument, NULL, 's' },
		{ "cmd", required_argument, NULL, 'x' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	const char *cmd = "cat";
	uint64_t v, body_size = 0;
	int opt, rc, status = 1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.conc = 1;
	cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	buf_init(&cfg.body, MAX_BODY);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:n:d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (parse_uint(optarg, MAX_CONCURRENCY, &v) < 0 || v == 0)
				usage_error("bad concurrency '%s' (1-1024)", optarg);
			cfg.conc = (unsigned)v;
			break;
		case 'n':
			if (parse_uint(optarg, MAX_REQUESTS, &v) < 0 || v == 0)
				usage_error("bad iteration count '%s' (1-20000000)", optarg);
			cfg.total = v;
			break;
		case 'd':
			if (parse_duration_ms(optarg, &cfg.duration_ms) < 0 || cfg.duration_ms <= 0 ||
			    cfg.duration_ms > MAX_RUN_MS)
				usage_error("bad duration '%s' (more than 0, at most 10m)", optarg);
			break;
		case 's':
			if (parse_size(optarg, &body_size) < 0 || body_size > MAX_BODY)
				usage_error("bad body size '%s' (at most 64Mi)", optarg);
			break;
		case 'x':
			cmd = optarg;
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
			return 0;
		case ':':
			usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!cfg.total && !cfg.duration_ms)
		usage_error("the run needs a bound: give -n or -d (or both)");
	if (spawn_split(cmd, &cfg.argv) < 0)
		usage_error("bad command '%s'", cmd);

	if (fill_pattern(&cfg.body, (size_t)body_size) < 0) {
		fputs("spawn_baseline: out of memory\n", stderr);
		goto out;
	}
	/* The pump writes to pipes whose reader may be gone. */
	signal(SIGPIPE, SIG_IGN);
	rc = run_load(&cfg);
	status = rc;
out:
	free(cfg.argv);
	buf_release(&cfg.body);
	return status;
}
