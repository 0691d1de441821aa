/*
 * natsx.h - the few cnats (NATS JetStream) steps the gateway and the queue
 * worker share: a connection that survives the server going away, the
 * three streams of the async path, publishing with a message id, and
 * reading the last message of a subject.
 *
 * Streams (created when absent, never changed when present):
 *   CFAAS_CALLS   cfaas.calls.>    file, work-queue retention (a message
 *                                  is gone once a worker acks it), 10
 *                                  minute duplicate window
 *   CFAAS_DLQ     cfaas.dlq.>      file, kept 30 days
 *   CFAAS_RESULTS cfaas.results.>  file, kept 7 days
 *
 * Errors: 0 or a negative code (err.h) with a one-line reason in why
 * (may be NULL): -ERR_UNAVAILABLE when the server cannot be reached or does
 * not answer, -ERR_NOT_FOUND for a missing stream or message, -ERR_TOO_BIG
 * for a message over the server's max_payload, -EIO for anything else.
 * Library code: nothing here logs.
 */
#ifndef CFAAS_NATSX_H
#define CFAAS_NATSX_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The reason text a natsStatus (and JetStream error code, 0 if none) maps
 * to, appended to why after what ("cannot publish: ..."). Returns the
 * err.h code for s. */
int natsx_fail(struct buf *why, const char *what, natsStatus s, jsErrCode jerr);

/*
 * Connects to url (a NATS URL, or a comma-separated list) as name. When no
 * server answers, the connection is created anyway and keeps trying in the
 * background; after a disconnect it reconnects without end. So this fails
 * only for a bad URL or no memory. *nc and *js are new: natsx_close() them.
 */
int natsx_connect(const char *url, const char *name, natsConnection **nc, jsCtx **js,
		  struct buf *why);

/* Destroys js and closes nc (both may be NULL). */
void natsx_close(natsConnection *nc, jsCtx *js);

/* True while nc is connected to a server. */
bool natsx_connected(natsConnection *nc);

/* Creates the three streams that are missing. */
int natsx_ensure_streams(jsCtx *js, struct buf *why);

/*
 * Makes sure the durable pull consumer durable exists on stream with
 * filter, ack_wait_ms and max_ack_pending (an existing one is updated to
 * these), and binds a new pull subscription to it in *sub (caller destroys
 * it with natsSubscription_Destroy once no message from it is held).
 */
int natsx_pull_subscribe(jsCtx *js, const char *stream, const char *durable,
			 const char *filter, int64_t ack_wait_ms, int64_t max_ack_pending,
			 natsSubscription **sub, struct buf *why);

/* What JetStream answered to a publish. */
struct natsx_ack {
	uint64_t seq;   /* the message's sequence number in its stream */
	bool duplicate; /* the stream had the message id already */
};

/* Publishes (data, len) to subj and waits up to wait_ms for JetStream to
 * store it. msg_id (may be NULL) is the de-duplication id; *ack (may be
 * NULL) receives the answer. -ERR_TIMEOUT when no answer came in time: the
 * message may be stored. */
int natsx_publish(jsCtx *js, const char *subj, const void *data, size_t len,
		  const char *msg_id, int64_t wait_ms, struct natsx_ack *ack, struct buf *why);

/* No expectation on what the stream holds for the subject. */
#define NATSX_ANY_LAST (-1)

/*
 * natsx_publish that JetStream stores only if the last message it holds
 * on subj is the one at sequence expect_last, or, with 0, if it holds none
 * (NATSX_ANY_LAST: no condition). Two writers that each read the last
 * message and then publish cannot both succeed: -ERR_EXISTS says another
 * message came in between, and nothing was stored.
 */
int natsx_publish_if_last(jsCtx *js, const char *subj, const void *data, size_t len,
			  const char *msg_id, int64_t expect_last, int64_t wait_ms,
			  struct natsx_ack *ack, struct buf *why);

/* Removes message seq from stream. -ERR_NOT_FOUND when it is not there. */
int natsx_delete_msg(jsCtx *js, const char *stream, uint64_t seq, struct buf *why);

/* Appends the data of the last message on subject in stream to out, and
 * sets *seq (may be NULL) to its sequence in the stream. -ERR_NOT_FOUND
 * when there is none, -ERR_TOO_BIG over out's cap. */
int natsx_last_msg(jsCtx *js, const char *stream, const char *subject, struct buf *out,
		   uint64_t *seq, struct buf *why);

/* The server's max_payload (0 while not connected). */
int64_t natsx_max_payload(natsConnection *nc);

#endif
