/*
 * qw.h - the queue worker (DESIGN.md section 6) as a library: the
 * standalone cfaas-queue-worker and the gateway's embedded worker run this
 * same code.
 *
 * A worker pulls call messages from the durable consumer
 * "cfaas-queue-worker" of stream CFAAS_CALLS, runs up to max_inflight of
 * them at once by calling /function/NAME on the gateway over HTTP, keeps
 * each message alive with in-progress acks while its call runs, retries
 * failures by negative-acking the message with a back-off delay, moves
 * calls that keep failing to CFAAS_DLQ, posts callbacks, and reports every
 * step to CFAAS_RESULTS (subject cfaas.results.CALLID), where the gateway
 * picks the reports up and stores them. It talks to nothing but NATS and
 * the gateway's /function/ route, so it can run on another machine.
 *
 * Once-only rules (docs/async.md): before it runs a call the worker reads
 * the call's last report. A call whose last report is final (or a cancel)
 * is acked and never run or called back again; a call whose function has
 * already answered but whose callback is not delivered yet only gets its
 * callback. So a redelivered message reruns a function only when the
 * worker died while that function was running.
 *
 * Logging: the worker logs through LOG_* with call_id/function context.
 */
#ifndef QW_QW_H
#define QW_QW_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "callmsg.h"
#include "natsx.h"

struct qw_config {
	char nats_url[512];          /* NATS server(s) */
	char gateway_url[512];       /* http://host:port of the gateway */
	char name[64];               /* NATS client name, for monitoring */
	unsigned max_inflight;       /* calls run at once (default 10) */
	int64_t ack_wait_ms;         /* redelivery after silence (30s) */
	unsigned max_retry_attempts; /* attempts in all (5) */
	int64_t initial_retry_wait_ms; /* first back-off (1s) */
	int64_t max_retry_wait_ms;   /* back-off cap (60s) */
	int64_t upstream_timeout_ms; /* one call to the gateway (10m) */
	int64_t callback_timeout_ms; /* one callback POST (10s) */
	uint64_t max_response;       /* function answer kept (4 MiB, and what
				      * fits in the server's max_payload) */
	int64_t drain_timeout_ms;    /* on stop: wait for running calls (10s) */
	bool debug;
};

/* Fills c with the defaults above (nats://127.0.0.1:4222,
 * http://127.0.0.1:8080, name "cfaas-queue-worker"). */
void qw_config_defaults(struct qw_config *c);

/* Lookup used for environment variables (getenv in production). */
typedef const char *(*qw_getenv_fn)(const char *name);

/* Parses argv and the environment (flags > environment > defaults) into
 * c for the standalone binary. 0; 1 when --help or --version was answered
 * (exit 0); -ERR_INVALID with a one-line reason naming the flag or
 * variable in why. */
int qw_config_load(struct qw_config *c, int argc, char **argv, qw_getenv_fn get,
		   struct buf *why);

/* The usage text of cfaas-queue-worker. */
extern const char qw_config_usage[];

struct qw;

/* Starts a worker with a copy of cfg. It connects in the background (and
 * keeps reconnecting), waits for the gateway to answer /healthz, then
 * consumes. Fails only on a bad configuration (-ERR_INVALID, reason in
 * why) or lack of resources. *out is new: qw_free() it. */
int qw_new(const struct qw_config *cfg, struct qw **out, struct buf *why);

/* Stops fetching, lets running calls finish for drain_timeout_ms, cancels
 * the rest (their messages go back to the queue at once), closes the
 * connection and frees w. NULL is fine. */
void qw_free(struct qw *w);

/* Counters since start, for tests and logs. */
struct qw_stats {
	uint64_t calls;        /* function calls made */
	uint64_t retries;      /* calls scheduled for another attempt */
	uint64_t dead_letters; /* calls moved to the dead-letter stream */
	uint64_t callbacks;    /* callbacks delivered */
	uint64_t skipped;      /* redelivered messages of finished calls */
};
void qw_stats(struct qw *w, struct qw_stats *out);

/*
 * Reads the last report on call id from CFAAS_RESULTS: 0 with *out (the
 * caller releases it with callmsg_report_release), -ERR_NOT_FOUND when
 * there is none or it cannot be read as a report, another code when NATS
 * failed (why says why). *seq gets the last message's sequence in the
 * stream whenever there is one (0: none), for natsx_publish_if_last: a
 * worker starts a call, and the gateway cancels one, only if no report
 * came in between. nc is js's connection: a report fits its max_payload.
 */
int qw_last_report(natsConnection *nc, jsCtx *js, const char *id, struct callmsg_report *out,
		   uint64_t *seq, struct buf *why);

#endif
