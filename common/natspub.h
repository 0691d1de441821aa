/*
 * natspub.h - JetStream publishes answered on the caller's own thread.
 *
 * cnats hands every reply to its reader thread, which then wakes the
 * thread that waits for it: one more thread hop per publish, and on a
 * small machine that hop is a third of a publish. The gateway's hot path
 * (an async call is accepted once JetStream has stored it) uses this
 * instead: a pool of plain NATS connections, each used by one thread at a
 * time, which writes HPUB with a reply subject of its own and reads the
 * ack from the same socket. Everything else keeps using cnats.
 *
 * Supported: nats://[user[:password]@ | token@]HOST:PORT, HOST numeric or
 * localhost, several URLs separated by commas (tried in order), servers
 * that speak headers (2.2 and later). Anything else (TLS, nkeys, hostnames)
 * is refused by natspub_new, and the caller publishes through cnats.
 */
#ifndef CFAAS_NATSPUB_H
#define CFAAS_NATSPUB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "natsx.h"

struct natspub;

/* Checks url and makes an empty pool (no connection yet): 0, or -ENOTSUP
 * for a URL this client does not handle (why says which part), -EINVAL,
 * -ENOMEM. name is the client name the server shows. */
int natspub_new(const char *url, const char *name, struct natspub **out, struct buf *why);

/* Closes the pooled connections and frees p (may be NULL). No publish may
 * be running. */
void natspub_free(struct natspub *p);

/*
 * Publishes (data, len) to subj with msg_id as Nats-Msg-Id (required: a
 * publish that fails on a connection that went stale is sent again on a
 * fresh one, and the id makes JetStream drop a copy), and waits up to
 * wait_ms for JetStream's ack. 0 with *ack filled in (may be NULL), or:
 *   -ERR_TOO_BIG      over the server's max_payload (nothing sent);
 *   -ERR_NOT_FOUND    no stream takes subj;
 *   -EIO              JetStream refused the message (why says why);
 *   -ERR_UNAVAILABLE  the server could not be reached or refused the
 *                     publish: the message is not stored;
 *   -ERR_TIMEOUT      the message went out but no answer came (in time, or
 *                     at all): JetStream may have stored it;
 *   -ENOTSUP          the server wants what this client does not do (TLS,
 *                     an authentication it lacks): use cnats from then on.
 */
int natspub_publish(struct natspub *p, const char *subj, const void *data, size_t len,
		    const char *msg_id, int64_t wait_ms, struct natsx_ack *ack, struct buf *why);

/* natspub_publish that calls sent(arg) once the message has gone out and
 * before it waits for the answer: the caller's own work then runs while
 * JetStream stores the message (sent is not called when nothing went
 * out). */
int natspub_publish_then(struct natspub *p, const char *subj, const void *data, size_t len,
			 const char *msg_id, int64_t wait_ms, void (*sent)(void *), void *arg,
			 struct natsx_ack *ack, struct buf *why);

#endif
