/*
 * natspub.h - JetStream publishes from many threads, written together.
 *
 * The gateway's hot path (an async call is accepted once JetStream has
 * stored it) publishes through this instead of cnats. All publishes share
 * one plain NATS connection, and the callers themselves do its I/O: the
 * first caller that finds nobody else doing so becomes the leader. It
 * writes every publish queued at that moment in one system call, then
 * reads JetStream's acks (one read brings many) and hands each one to its
 * caller; whatever queued meanwhile goes out in the next batch, led by
 * one of the callers waiting for it. There is no thread of its own, so a
 * lone caller pays no thread hop (cnats hands every reply to its reader
 * thread, which then wakes the caller: a third of a publish on a small
 * machine), and under load the server reads many messages per read and
 * writes many acks per write, which halves its CPU time per message.
 * Everything else keeps using cnats.
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

/* Checks url and makes a publisher with no connection yet: 0, or -ENOTSUP
 * for a URL this client does not handle (why says which part), -EINVAL,
 * -ENOMEM. name is the client name the server shows. */
int natspub_new(const char *url, const char *name, struct natspub **out, struct buf *why);

/* Closes the connection and frees p (may be NULL). No publish may be
 * running. */
void natspub_free(struct natspub *p);

/*
 * Publishes (data, len) to subj with msg_id as Nats-Msg-Id (required: a
 * publish that fails on a connection that went stale is sent again on a
 * fresh one, and the id makes JetStream drop a copy), and waits up to
 * wait_ms for JetStream's ack. Thread-safe; concurrent publishes go out
 * together. subj, data and msg_id are borrowed until it returns. 0 with
 * *ack filled in (may be NULL), or:
 *   -EINVAL           a bad argument (nothing sent);
 *   -ERR_TOO_BIG      over the server's max_payload (nothing sent);
 *   -ERR_NOT_FOUND    no stream takes subj;
 *   -EIO              JetStream refused the message (why says why);
 *   -ERR_UNAVAILABLE  the server could not be reached or refused the
 *                     publish: the message is not stored;
 *   -ERR_TIMEOUT      the message went out but no answer came (in time, or
 *                     at all): JetStream may have stored it;
 *   -ENOTSUP          the server wants what this client does not do (TLS,
 *                     an authentication it lacks): use cnats from then on.
 * why (may be NULL) gets a one-line reason for any failure.
 */
int natspub_publish(struct natspub *p, const char *subj, const void *data, size_t len,
		    const char *msg_id, int64_t wait_ms, struct natsx_ack *ack, struct buf *why);

/* natspub_publish that calls sent(arg) once the message has gone out and
 * before its answer is read, so the caller's own work runs while
 * JetStream stores the message. It runs on whichever caller wrote the
 * batch, once per message, and not at all when the message did not go
 * out. */
int natspub_publish_then(struct natspub *p, const char *subj, const void *data, size_t len,
			 const char *msg_id, int64_t wait_ms, void (*sent)(void *), void *arg,
			 struct natsx_ack *ack, struct buf *why);

#endif
