/*
 * config.c - cfaas-queue-worker's configuration: flags, then environment
 * variables (the OpenFaaS queue worker's names where it has one), then
 * defaults. Checked once at start.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgopt.h"
#include "err.h"
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

#define F(field) CFGOPT_FIELD(struct qw_config, field)
#define FM(field, max) CFGOPT_FIELD_MAX(struct qw_config, field, max)

static const struct cfgopt opts[] = {
	{ "nats-url", "CFAAS_NATS_URL", CFGOPT_STR, FM(nats_url, 1) },
	{ "gateway-url", "CFAAS_GATEWAY_URL", CFGOPT_STR, FM(gateway_url, 1) },
	{ "max-inflight", "max_inflight", CFGOPT_COUNT, FM(max_inflight, 1000000) },
	{ "ack-wait", "ack_wait", CFGOPT_DUR, F(ack_wait_ms) },
	{ "max-retry-attempts", "max_retry_attempts", CFGOPT_COUNT,
	  FM(max_retry_attempts, 1000000) },
	{ "initial-retry-wait", "initial_retry_wait", CFGOPT_DUR, F(initial_retry_wait_ms) },
	{ "max-retry-wait", "max_retry_wait", CFGOPT_DUR, F(max_retry_wait_ms) },
	{ "upstream-timeout", "upstream_timeout", CFGOPT_DUR, F(upstream_timeout_ms) },
	{ "callback-timeout", "callback_timeout", CFGOPT_DUR, F(callback_timeout_ms) },
	{ "max-response", "max_response", CFGOPT_SIZE, F(max_response) },
	{ "drain-timeout", "drain_timeout", CFGOPT_DUR, F(drain_timeout_ms) },
	{ "debug", "CFAAS_DEBUG", CFGOPT_BOOL, F(debug) },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct cfgopt_about about = { qw_config_usage, "cfaas-queue-worker " CFAAS_VERSION };

int qw_config_load(struct qw_config *c, int argc, char **argv, qw_getenv_fn get,
		   struct buf *why)
{
	int rc;

	qw_config_defaults(c);
	rc = cfgopt_load(c, opts, NOPTS, &about, argc, argv, get, why);
	if (rc)
		return rc;
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
