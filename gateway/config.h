/*
 * config.h - the gateway's configuration: flags first, then CFAAS_*
 * environment variables, then defaults. Checked once at start.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct gw_config {
	int port;                     /* --port, CFAAS_PORT, 8080 */
	char bind[64];                /* --bind, CFAAS_BIND, 0.0.0.0 */
	char data_dir[1024];          /* --data-dir, CFAAS_DATA_DIR, ./cfaas-data */
	char provider[32];            /* --provider, CFAAS_PROVIDER, process */
	char run_as[64];              /* --run-as, CFAAS_RUN_AS, nobody */
	char watchdog[1024];          /* --watchdog, CFAAS_WATCHDOG, beside us */
	char docker_socket[1024];     /* --docker-socket, CFAAS_DOCKER_SOCKET */
	char nats_url[512];           /* --nats-url, CFAAS_NATS_URL, "" = embedded */
	bool queue_worker;            /* --no-queue-worker turns it off */
	bool auth;                    /* --no-auth turns basic auth off */
	int64_t read_timeout_ms;      /* --read-timeout: slow clients */
	int64_t write_timeout_ms;     /* --write-timeout */
	int64_t upstream_timeout_ms;  /* --upstream-timeout: a function call */
	int64_t scale_wait_ms;        /* --scale-from-zero-timeout */
	uint64_t max_body;            /* --max-body (sync) */
	uint64_t max_async_body;      /* --max-async-body */
	bool debug;                   /* --debug: debug log lines */
	char path[4096];              /* PATH, for replicas and nats-server */
	/* Async calls (DESIGN.md 6): record retention and the embedded
	 * queue worker's settings (cfaas-queue-worker has the same ones). */
	int64_t call_retention_ms;    /* --call-retention, 168h */
	unsigned queue_max_inflight;  /* --queue-max-inflight, 10 */
	int64_t queue_ack_wait_ms;    /* --queue-ack-wait, 30s */
	unsigned queue_max_retry_attempts; /* --queue-max-retry-attempts, 5 */
	int64_t queue_initial_retry_wait_ms; /* --queue-initial-retry-wait, 1s */
	int64_t queue_max_retry_wait_ms; /* --queue-max-retry-wait, 60s */
	int64_t queue_callback_timeout_ms; /* --queue-callback-timeout, 10s */
};

/* Lookup used for CFAAS_* variables (getenv in production). */
typedef const char *(*gw_getenv_fn)(const char *name);

/* Parses argv and the environment into cfg. Returns 0; 1 when --help or
 * --version was answered (the caller exits 0); -ERR_INVALID with a
 * one-line message naming the flag or variable in why. */
int gw_config_load(struct gw_config *cfg, int argc, char **argv, gw_getenv_fn get,
		   struct buf *why);

/* The usage text. */
extern const char gw_config_usage[];

#endif
