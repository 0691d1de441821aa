/*
 * config.c - cfaas-queue-worker's configuration: flags, then environment
 * variables (the OpenFaaS queue worker's names where it has one), then
 * defaults. Checked once at start.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "parse.h"
#include "qw.h"
#include "banned.h"

const char qw_config_usage[] =
	"usage: cfaas-queue-worker [options]\n"
	"\n"
	"Runs async calls queued in NATS JetStream (stream CFAAS_CALLS) through the\n"
	"gateway's /function/ route, with retries, dead letters and callbacks.\n"
	"\n"
	"  --nats-url URL              NATS server (CFAAS_NATS_URL, nats://127.0.0.1:4222)\n"
	"  --gateway-url URL           gateway (CFAAS_GATEWAY_URL, http://127.0.0.1:8080)\n"
	"  --max-inflight N            calls at once (max_inflight, 10)\n"
	"  --ack-wait DUR              redelivery after silence (ack_wait, 30s)\n"
	"  --max-retry-attempts N      attempts per call (max_retry_attempts, 5)\n"
	"  --initial-retry-wait DUR    first back-off (initial_retry_wait, 1s)\n"
	"  --max-retry-wait DUR        back-off cap (max_retry_wait, 60s)\n"
	"  --upstream-timeout DUR      one function call (upstream_timeout, 10m)\n"
	"  --callback-timeout DUR      one callback POST (callback_timeout, 10s)\n"
	"  --max-response SIZE         function answer kept (max_response, 4Mi)\n"
	"  --drain-timeout DUR         on SIGTERM, wait for running calls (drain_timeout, 10s)\n"
	"  --debug                     debug log lines (CFAAS_DEBUG=true)\n"
	"  --help, --version\n"
	"\n"
	"Durations: 30 (seconds), 500ms, 10s, 1m5s. Per function, the annotations\n"
	"com.openfaas.retry.attempts, .codes, .min_wait and .max_wait override these.\n";

enum kind { K_STR, K_COUNT, K_DUR, K_SIZE, K_BOOL };

struct opt {
	const char *flag;
	const char *env;
	enum kind kind;
	size_t off;
	size_t size;
};

#define F(field) offsetof(struct qw_config, field), sizeof(((struct qw_config *)0)->field)

static const struct opt opts[] = {
	{ "nats-url", "CFAAS_NATS_URL", K_STR, F(nats_url) },
	{ "gateway-url", "CFAAS_GATEWAY_URL", K_STR, F(gateway_url) },
	{ "max-inflight", "max_inflight", K_COUNT, F(max_inflight) },
	{ "ack-wait", "ack_wait", K_DUR, F(ack_wait_ms) },
	{ "max-retry-attempts", "max_retry_attempts", K_COUNT, F(max_retry_attempts) },
	{ "initial-retry-wait", "initial_retry_wait", K_DUR, F(initial_retry_wait_ms) },
	{ "max-retry-wait", "max_retry_wait", K_DUR, F(max_retry_wait_ms) },
	{ "upstream-timeout", "upstream_timeout", K_DUR, F(upstream_timeout_ms) },
	{ "callback-timeout", "callback_timeout", K_DUR, F(callback_timeout_ms) },
	{ "max-response", "max_response", K_SIZE, F(max_response) },
	{ "drain-timeout", "drain_timeout", K_DUR, F(drain_timeout_ms) },
	{ "debug", "CFAAS_DEBUG", K_BOOL, F(debug) },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int set(struct qw_config *c, const struct opt *o, const char *v, const char *src,
	       bool from_flag, struct buf *why)
{
	char *field = (char *)c + o->off;
	uint64_t u;

	switch (o->kind) {
	case K_STR:
		if (!*v || strlen(v) >= o->size) {
			buf_printf(why, "%s: %s", src, *v ? "value too long" : "needs a value");
			return -ERR_INVALID;
		}
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case K_COUNT:
		if (parse_uint(v, 1000000, &u) || u == 0) {
			buf_printf(why, "%s: '%s' is not a count above zero", src, v);
			return -ERR_INVALID;
		}
		*(unsigned *)field = (unsigned)u;
		return 0;
	case K_DUR:
		if (parse_duration_ms(v, (int64_t *)field)) {
			buf_printf(why, "%s: cannot parse '%s' as a duration (use 30, 500ms, 10s or 1m5s)",
				   src, v);
			return -ERR_INVALID;
		}
		return 0;
	case K_SIZE:
		if (parse_size(v, (uint64_t *)field) || *(uint64_t *)field == 0) {
			buf_printf(why, "%s: cannot parse '%s' as a size (use bytes, 512Ki or 4Mi)",
				   src, v);
			return -ERR_INVALID;
		}
		return 0;
	case K_BOOL:
		*(bool *)field = from_flag ? true : parse_bool(v);
		return 0;
	}
	return 0;
}

int qw_config_load(struct qw_config *c, int argc, char **argv, qw_getenv_fn get,
		   struct buf *why)
{
	struct option longopts[NOPTS + 3];
	size_t i;
	int ch, idx, rc;

	qw_config_defaults(c);
	for (i = 0; i < NOPTS; i++) {
		const char *v = get(opts[i].env);
		if (v && *v && (rc = set(c, &opts[i], v, opts[i].env, false, why)))
			return rc;
	}
	for (i = 0; i < NOPTS; i++)
		longopts[i] = (struct option){ opts[i].flag,
					       opts[i].kind == K_BOOL ? no_argument : required_argument,
					       NULL, (int)i };
	longopts[NOPTS] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NOPTS + 1] = (struct option){ "version", no_argument, NULL, 'v' };
	longopts[NOPTS + 2] = (struct option){ 0 };
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hv", longopts, &idx)) != -1) {
		char src[64];
		if (ch == 'h') {
			fputs(qw_config_usage, stdout);
			return 1;
		}
		if (ch == 'v') {
			puts("cfaas-queue-worker " CFAAS_VERSION);
			return 1;
		}
		if (ch == '?' || ch == ':') {
			const char *arg = optind - 1 < argc ? argv[optind - 1] : "?";
			buf_printf(why, "%s: %s (see --help)", arg,
				   ch == ':' ? "needs a value" : "unknown option");
			return -ERR_INVALID;
		}
		snprintf(src, sizeof(src), "--%s", opts[ch].flag);
		rc = set(c, &opts[ch], optarg ? optarg : "", src, true, why);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		buf_printf(why, "unexpected argument '%s' (see --help)", argv[optind]);
		return -ERR_INVALID;
	}
	if (c->initial_retry_wait_ms > c->max_retry_wait_ms) {
		buf_printf(why, "--initial-retry-wait is above --max-retry-wait");
		return -ERR_INVALID;
	}
	if (c->ack_wait_ms < 1000) {
		buf_printf(why, "--ack-wait: must be at least 1s");
		return -ERR_INVALID;
	}
	if (c->max_inflight > 1024) {
		buf_printf(why, "--max-inflight: at most 1024");
		return -ERR_INVALID;
	}
	return 0;
}
