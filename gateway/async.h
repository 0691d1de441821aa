/*
 * async.h - /async-function/NAME: calls stored in JetStream and run by the
 * queue worker (DESIGN.md section 6, docs/async.md).
 *
 * The async subsystem is: the NATS connection (to --nats-url, or to a
 * nats-server the gateway starts itself, nats_embed.h), a publisher for
 * async_submit, the results consumer that writes every report of the
 * workers into the call records (SQLite), the pruning of old records,
 * and, unless --no-queue-worker, an embedded queue worker (qw.h).
 *
 * NATS being down never stops the gateway: async answers 503 until the
 * connection is back; everything else keeps working.
 */
#ifndef GW_ASYNC_H
#define GW_ASYNC_H

#include "gw.h"

/* Largest result body kept in a call record; longer ones are cut. */
#define ASYNC_RESULT_CAP (1024u * 1024)

/* Starts the async subsystem into gw->async. Call after the store is open
 * and the provider runs. Without a NATS URL and without nats-server on
 * PATH, async calls are off (503) and a warning is logged. Returns 0, or
 * a negative code with the reason in why only for a bad configuration or
 * lack of resources. */
int async_start(struct gateway *gw, struct buf *why);

/* Stops the embedded worker (letting its calls finish, bounded), the
 * results consumer, the connection and the embedded nats-server, then
 * sets gw->async to NULL. Call before the store is freed; safe when
 * async_start was not called or failed. */
void async_stop(struct gateway *gw);

/* Answers an async call: 202 + X-Call-Id once it is durably queued. */
void async_submit(struct gw_req *req, struct gw_resp *resp);

/* Cancels a queued call: returns the HTTP status (200, 404, 409, 503)
 * with a reason in why for errors. */
int async_cancel(struct gateway *gw, const char *id, struct buf *why);

/* Queues a dead-letter (or failed) call again for a new round of
 * attempts: 202, 404, 409, 503 with a reason in why for errors. */
int async_requeue(struct gateway *gw, const char *id, struct buf *why);

#endif
