/*
 * js_publish.c - the raw JetStream publish rate: the baseline of the async
 * accept benchmark (scripts/bench-async.sh).
 *
 * Publishes, from -c threads sharing one connection (as the gateway does),
 * the same queue message the gateway would publish for a POST of
 * --body-size bytes (common/callmsg.h, body in base64, the usual headers),
 * each with its own message id, and waits for every JetStream ack: exactly
 * the NATS part of a durable 202, without HTTP and SQLite. The stream
 * (--stream, default BENCH_RAW, subject bench.raw) is created with the
 * settings of CFAAS_CALLS (file storage, work-queue retention, 10 minute
 * duplicate window) and purged first.
 *
 * Output: one line of key=value pairs, like bench/loadgen:
 *   requests errors seconds rps p50_us p90_us p99_us max_us bytes
 * Exit status: 0 when the line was printed and some publish succeeded, 1
 * otherwise, 2 on a usage error.
 */
#include <getopt.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "callmsg.h"
#include "err.h"
#include "natsx.h"
#include "parse.h"
#include "spawn.h"
#include "url.h"
#include "banned.h"

#define MAX_THREADS 1024
#define MAX_SAMPLES 20000000u
#define MAX_RUN_MS (10 * 60 * 1000)

static const char usage_text[] =
	"usage: js_publish --url nats://127.0.0.1:PORT (-n COUNT | -d SECONDS)\n"
	"                  [-c THREADS] [--body-size N] [--stream NAME] [--subject SUBJ]\n"
	"                  [--warmup N]\n";

struct run {
	jsCtx *js;
	const char *subject;
	const char *payload;
	size_t len;
	int64_t deadline_ms;
	uint64_t max;              /* publishes in all (0: until the deadline) */
	atomic_uint_fast64_t next; /* publishes handed out */
	atomic_uint_fast64_t errors;
	uint32_t *samples;         /* latency in us, one per success */
	atomic_uint_fast64_t nsamples;
	bool measure;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void *publisher(void *arg)
{
	struct run *r = arg;
	char id[48];

	for (;;) {
		uint64_t i = atomic_fetch_add(&r->next, 1);
		int64_t t0;
		int rc;

		if ((r->max && i >= r->max) || mono_ms() >= r->deadline_ms)
			break;
		url_uuid7(id);
		t0 = mono_ns();
		rc = natsx_publish(r->js, r->subject, r->payload, r->len, id, 5000, NULL, NULL);
		if (rc) {
			atomic_fetch_add(&r->errors, 1);
			continue;
		}
		if (r->measure) {
			uint64_t k = atomic_fetch_add(&r->nsamples, 1);
			if (k < MAX_SAMPLES)
				r->samples[k] = (uint32_t)((mono_ns() - t0) / 1000);
		}
	}
	return NULL;
}

/* Runs threads publishers; returns the seconds it took. */
static double run_phase(struct run *r, int threads)
{
	pthread_t tids[MAX_THREADS];
	int64_t t0 = mono_ns();
	int i, started = 0;

	for (i = 0; i < threads; i++)
		if (!pthread_create(&tids[i], NULL, publisher, r))
			started++;
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	return (double)(mono_ns() - t0) / 1e9;
}

/* The payload: what the gateway publishes for a POST of size bytes. */
static int build_payload(size_t size, struct buf *out)
{
	struct callmsg m;
	char id[37];
	int rc;

	memset(&m, 0, sizeof(m));
	url_uuid7(id);
	m.call_id = id;
	m.function = (char *)"echo";
	m.namespace = (char *)"openfaas-fn";
	m.method = (char *)"POST";
	m.path = (char *)"";
	m.query = (char *)"";
	m.body = malloc(size + 1);
	if (!m.body)
		return -ENOMEM;
	memset(m.body, 'x', size);
	m.body_len = size;
	m.queued_at_ms = 1767268800000;
	if ((rc = callmsg_hdrs_add(&m.header, "Host", "127.0.0.1:8080")) ||
	    (rc = callmsg_hdrs_add(&m.header, "Content-Type", "text/plain")) ||
	    (rc = callmsg_hdrs_add(&m.header, "X-Call-Id", id)))
		goto out;
	rc = callmsg_dump(&m, out);
out:
	free(m.body);
	callmsg_hdrs_release(&m.header);
	return rc;
}

static int setup_stream(jsCtx *js, const char *stream, const char *subject)
{
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	const char *subjects[1] = { subject };
	jsErrCode jerr = 0;
	natsStatus s;

	js_DeleteStream(js, stream, NULL, NULL);
	jsStreamConfig_Init(&cfg);
	cfg.Name = stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = js_WorkQueuePolicy;
	cfg.Storage = js_FileStorage;
	cfg.Duplicates = 10LL * 60 * 1000 * 1000000;
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	return s == NATS_OK ? 0 : natsx_fail(NULL, "", s, jerr);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "body-size", required_argument, NULL, 'b' },
		{ "stream", required_argument, NULL, 's' },
		{ "subject", required_argument, NULL, 'j' },
		{ "warmup", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *stream = "BENCH_RAW", *subject = "bench.raw";
	uint64_t n = 0, threads = 1, body = 256, warmup = 200, v;
	int64_t dur_ms = 0;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	struct run r;
	struct buf payload, why;
	double secs;
	uint64_t ok, k;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "n:d:c:", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'n': if (parse_uint(optarg, MAX_SAMPLES, &n) || !n) goto usage; break;
		case 'd': if (parse_duration_ms(optarg, &dur_ms) || dur_ms <= 0 || dur_ms > MAX_RUN_MS) goto usage; break;
		case 'c': if (parse_uint(optarg, MAX_THREADS, &threads) || !threads) goto usage; break;
		case 'b': if (parse_size(optarg, &v) || v > 64u * 1024 * 1024) goto usage; body = v; break;
		case 's': stream = optarg; break;
		case 'j': subject = optarg; break;
		case 'w': if (parse_uint(optarg, 1000000, &warmup)) goto usage; break;
		default: goto usage;
		}
	}
	if (!url || (!n && !dur_ms) || optind < argc)
		goto usage;
	buf_init(&payload, 256u * 1024 * 1024);
	buf_init(&why, 1024);
	if (build_payload((size_t)body, &payload)) {
		fprintf(stderr, "js_publish: cannot build the payload\n");
		return 1;
	}
	if (natsx_connect(url, "js_publish", &nc, &js, &why)) {
		fprintf(stderr, "js_publish: %s\n", buf_cstr(&why));
		return 1;
	}
	for (k = 0; k < 100 && !natsx_connected(nc); k++) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (setup_stream(js, stream, subject)) {
		fprintf(stderr, "js_publish: cannot create stream '%s' on %s\n", stream, url);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.js = js;
	r.subject = subject;
	r.payload = payload.data;
	r.len = payload.len;
	if (warmup) {
		r.max = warmup;
		r.deadline_ms = mono_ms() + MAX_RUN_MS;
		run_phase(&r, (int)threads);
	}
	r.max = n;
	r.deadline_ms = mono_ms() + (dur_ms ? dur_ms : MAX_RUN_MS);
	atomic_store(&r.next, 0);
	atomic_store(&r.errors, 0);
	r.samples = malloc(sizeof(uint32_t) * (n ? n : MAX_SAMPLES));
	if (!r.samples)
		goto out;
	r.measure = true;
	secs = run_phase(&r, (int)threads);
	ok = atomic_load(&r.nsamples);
	if (ok > MAX_SAMPLES)
		ok = MAX_SAMPLES;
	qsort(r.samples, ok, sizeof(uint32_t), cmp_u32);
#define PCT(p) (ok ? r.samples[(size_t)((ok - 1) * (p) / 100)] : 0)
	printf("requests=%llu errors=%llu seconds=%.3f rps=%.1f p50_us=%u p90_us=%u p99_us=%u "
	       "max_us=%u bytes=%zu\n",
	       (unsigned long long)(ok + atomic_load(&r.errors)),
	       (unsigned long long)atomic_load(&r.errors), secs, secs > 0 ? (double)ok / secs : 0,
	       PCT(50), PCT(90), PCT(99), ok ? r.samples[ok - 1] : 0, payload.len);
	free(r.samples);
	js_DeleteStream(js, stream, NULL, NULL);
	rc = ok ? 0 : 1;
out:
	natsx_close(nc, js);
	nats_CloseAndWait(2000);
	buf_release(&payload);
	buf_release(&why);
	return rc;
usage:
	fputs(usage_text, stderr);
	return 2;
}
