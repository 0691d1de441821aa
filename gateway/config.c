#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgopt.h"
#include "config.h"
#include "err.h"
#include "banned.h"

const char gw_config_usage[] =
	"usage: cfaas-gateway [options]\n"
	"\n"
	"  --port N                  HTTP port (CFAAS_PORT, default 8080)\n"
	"  --bind ADDR               listen address (CFAAS_BIND, default 0.0.0.0)\n"
	"  --data-dir DIR            state, secrets, logs (CFAAS_DATA_DIR, default ./cfaas-data)\n"
	"  --provider NAME           process or docker (CFAAS_PROVIDER, default process)\n"
	"  --run-as USER             process provider as root: replica user (CFAAS_RUN_AS, nobody)\n"
	"  --watchdog PATH           cfaas-watchdog binary (CFAAS_WATCHDOG, default: beside the gateway)\n"
	"  --docker-socket PATH      Docker Engine API socket (CFAAS_DOCKER_SOCKET, /var/run/docker.sock)\n"
	"  --nats-url URL            NATS server (CFAAS_NATS_URL; default: start nats-server if installed)\n"
	"  --no-queue-worker         do not run the embedded queue worker (CFAAS_QUEUE_WORKER=false)\n"
	"  --no-auth                 no basic auth on /system and /ui (CFAAS_AUTH=false)\n"
	"  --read-timeout DUR        slow client limit (CFAAS_READ_TIMEOUT, 30s)\n"
	"  --write-timeout DUR       response write limit (CFAAS_WRITE_TIMEOUT, 60s)\n"
	"  --upstream-timeout DUR    function call limit (CFAAS_UPSTREAM_TIMEOUT, 60s)\n"
	"  --scale-from-zero-timeout DUR  wait for a replica (CFAAS_SCALE_FROM_ZERO_TIMEOUT, 30s)\n"
	"  --max-body SIZE           sync request body cap (CFAAS_MAX_BODY, 16Mi)\n"
	"  --max-async-body SIZE     async request body cap (CFAAS_MAX_ASYNC_BODY, 1Mi)\n"
	"  --debug                   debug log lines (CFAAS_DEBUG=true)\n"
	"  --call-retention DUR      keep finished async call records (CFAAS_CALL_RETENTION, 168h)\n"
	"  --queue-max-inflight N    embedded queue worker: calls at once (CFAAS_QUEUE_MAX_INFLIGHT, 10)\n"
	"  --queue-ack-wait DUR      redelivery after silence (CFAAS_QUEUE_ACK_WAIT, 30s)\n"
	"  --queue-max-retry-attempts N  attempts per call (CFAAS_QUEUE_MAX_RETRY_ATTEMPTS, 5)\n"
	"  --queue-initial-retry-wait DUR  first back-off (CFAAS_QUEUE_INITIAL_RETRY_WAIT, 1s)\n"
	"  --queue-max-retry-wait DUR  back-off cap (CFAAS_QUEUE_MAX_RETRY_WAIT, 60s)\n"
	"  --queue-callback-timeout DUR  one callback POST (CFAAS_QUEUE_CALLBACK_TIMEOUT, 10s)\n"
	"  --help, --version\n";

#define F(field) CFGOPT_FIELD(struct gw_config, field)
#define FM(field, max) CFGOPT_FIELD_MAX(struct gw_config, field, max)

static const struct cfgopt opts[] = {
	{ "port", "CFAAS_PORT", CFGOPT_PORT, F(port) },
	{ "bind", "CFAAS_BIND", CFGOPT_STR, F(bind) },
	{ "data-dir", "CFAAS_DATA_DIR", CFGOPT_STR, F(data_dir) },
	{ "provider", "CFAAS_PROVIDER", CFGOPT_STR, F(provider) },
	{ "run-as", "CFAAS_RUN_AS", CFGOPT_STR, F(run_as) },
	{ "watchdog", "CFAAS_WATCHDOG", CFGOPT_STR, F(watchdog) },
	{ "docker-socket", "CFAAS_DOCKER_SOCKET", CFGOPT_STR, F(docker_socket) },
	{ "nats-url", "CFAAS_NATS_URL", CFGOPT_STR, F(nats_url) },
	{ "no-queue-worker", "CFAAS_QUEUE_WORKER", CFGOPT_NBOOL, F(queue_worker) },
	{ "no-auth", "CFAAS_AUTH", CFGOPT_NBOOL, F(auth) },
	{ "read-timeout", "CFAAS_READ_TIMEOUT", CFGOPT_DUR, F(read_timeout_ms) },
	{ "write-timeout", "CFAAS_WRITE_TIMEOUT", CFGOPT_DUR, F(write_timeout_ms) },
	{ "upstream-timeout", "CFAAS_UPSTREAM_TIMEOUT", CFGOPT_DUR, F(upstream_timeout_ms) },
	{ "scale-from-zero-timeout", "CFAAS_SCALE_FROM_ZERO_TIMEOUT", CFGOPT_DUR, F(scale_wait_ms) },
	{ "max-body", "CFAAS_MAX_BODY", CFGOPT_SIZE, F(max_body) },
	{ "max-async-body", "CFAAS_MAX_ASYNC_BODY", CFGOPT_SIZE, F(max_async_body) },
	{ "debug", "CFAAS_DEBUG", CFGOPT_BOOL, F(debug) },
	{ "call-retention", "CFAAS_CALL_RETENTION", CFGOPT_DUR, F(call_retention_ms) },
	{ "queue-max-inflight", "CFAAS_QUEUE_MAX_INFLIGHT", CFGOPT_COUNT,
	  FM(queue_max_inflight, 1024) },
	{ "queue-ack-wait", "CFAAS_QUEUE_ACK_WAIT", CFGOPT_DUR, F(queue_ack_wait_ms) },
	{ "queue-max-retry-attempts", "CFAAS_QUEUE_MAX_RETRY_ATTEMPTS", CFGOPT_COUNT,
	  FM(queue_max_retry_attempts, 1024) },
	{ "queue-initial-retry-wait", "CFAAS_QUEUE_INITIAL_RETRY_WAIT", CFGOPT_DUR,
	  F(queue_initial_retry_wait_ms) },
	{ "queue-max-retry-wait", "CFAAS_QUEUE_MAX_RETRY_WAIT", CFGOPT_DUR, F(queue_max_retry_wait_ms) },
	{ "queue-callback-timeout", "CFAAS_QUEUE_CALLBACK_TIMEOUT", CFGOPT_DUR,
	  F(queue_callback_timeout_ms) },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct cfgopt_about about = { gw_config_usage, "cfaas-gateway " CFAAS_VERSION };

static void defaults(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 8080;
	memcpy(cfg->bind, "0.0.0.0", 8);
	memcpy(cfg->data_dir, "./cfaas-data", 13);
	memcpy(cfg->provider, "process", 8);
	memcpy(cfg->run_as, "nobody", 7);
	memcpy(cfg->docker_socket, "/var/run/docker.sock", 21);
	cfg->queue_worker = true;
	cfg->auth = true;
	cfg->read_timeout_ms = 30000;
	cfg->write_timeout_ms = 60000;
	cfg->upstream_timeout_ms = 60000;
	cfg->scale_wait_ms = 30000;
	cfg->max_body = 16u * 1024 * 1024;
	cfg->max_async_body = 1024u * 1024;
	cfg->call_retention_ms = 168LL * 3600 * 1000;
	cfg->queue_max_inflight = 10;
	cfg->queue_ack_wait_ms = 30000;
	cfg->queue_max_retry_attempts = 5;
	cfg->queue_initial_retry_wait_ms = 1000;
	cfg->queue_max_retry_wait_ms = 60000;
	cfg->queue_callback_timeout_ms = 10000;
}

int gw_config_load(struct gw_config *cfg, int argc, char **argv, gw_getenv_fn get,
		   struct buf *why)
{
	int rc;

	defaults(cfg);
	{
		const char *path = get("PATH");
		snprintf(cfg->path, sizeof(cfg->path), "%s",
			 path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	}
	rc = cfgopt_load(cfg, opts, NOPTS, &about, argc, argv, get, why);
	if (rc)
		return rc;
	if (cfg->queue_initial_retry_wait_ms > cfg->queue_max_retry_wait_ms) {
		buf_printf(why, "--queue-initial-retry-wait is above --queue-max-retry-wait");
		return -ERR_INVALID;
	}
	if (cfg->queue_ack_wait_ms < 1000 || cfg->call_retention_ms < 1000) {
		buf_printf(why, "%s: must be at least 1s",
			   cfg->call_retention_ms < 1000 ? "--call-retention" : "--queue-ack-wait");
		return -ERR_INVALID;
	}
	if (strcmp(cfg->provider, "process") && strcmp(cfg->provider, "docker")) {
		buf_printf(why, "--provider (CFAAS_PROVIDER): '%s' is not a provider (process or docker)",
			   cfg->provider);
		return -ERR_INVALID;
	}
	if (!cfg->watchdog[0]) {
		/* Default: cfaas-watchdog beside this binary. */
		char self[960];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;
		if (n > 0) {
			self[n] = '\0';
			slash = strrchr(self, '/');
			if (slash)
				*slash = '\0';
			snprintf(cfg->watchdog, sizeof(cfg->watchdog), "%s/cfaas-watchdog", self);
		}
	}
	return 0;
}
