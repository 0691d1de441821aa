/*
 * natsx.c - shared cnats steps (see natsx.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callmsg.h"
#include "err.h"
#include "natsx.h"
#include "banned.h"

#define NS_PER_MS 1000000LL
#define DAY_NS (24LL * 3600 * 1000 * NS_PER_MS)

int natsx_fail(struct buf *why, const char *what, natsStatus s, jsErrCode jerr)
{
	const char *last = nats_GetLastError(NULL);
	int code;

	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_NOT_FOUND:
		code = -ERR_NOT_FOUND;
		break;
	case NATS_MAX_PAYLOAD:
		code = -ERR_TOO_BIG;
		break;
	case NATS_NO_MEMORY:
		code = -ENOMEM;
		break;
	case NATS_TIMEOUT:
	case NATS_NO_RESPONDERS:
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_NO_SERVER:
	case NATS_STALE_CONNECTION:
	case NATS_IO_ERROR:
		code = -ERR_UNAVAILABLE;
		break;
	default:
		code = jerr == JSStreamNotFoundErr || jerr == JSConsumerNotFoundErr ||
				       jerr == JSNoMessageFoundErr ?
			       -ERR_NOT_FOUND :
			       -EIO;
		break;
	}
	if (why) {
		buf_reset(why);
		buf_printf(why, "%s: %s", what, natsStatus_GetText(s));
		if (jerr)
			buf_printf(why, " (JetStream error %d)", (int)jerr);
		if (last && *last && strcmp(last, natsStatus_GetText(s)))
			buf_printf(why, ": %.200s", last);
	}
	return code;
}

/* With a connected callback, a connect that finds no server returns at
 * once (NATS_NOT_YET_CONNECTED) and goes on in the background; without
 * one it would block until a server answers. */
static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

int natsx_connect(const char *url, const char *name, natsConnection **nc, jsCtx **js,
		  struct buf *why)
{
	natsOptions *opts = NULL;
	natsStatus s;
	jsOptions jo;
	int rc = 0;

	*nc = NULL;
	*js = NULL;
	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(opts, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(opts, name);
	/* Keep trying forever, quickly: a local server comes back in
	 * seconds, and callers answer 503 meanwhile. */
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(opts, 5000);
	if (s == NATS_OK)
		s = natsOptions_SetFailRequestsOnDisconnect(opts, true);
	/* Write each publish from the calling thread instead of waking the
	 * flusher thread: one thread hop less per call. */
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, NULL);
	if (s != NATS_OK) {
		rc = natsx_fail(why, "invalid NATS options", s, 0);
		goto out;
	}
	s = natsConnection_Connect(nc, opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		rc = natsx_fail(why, "cannot connect to NATS", s, 0);
		natsConnection_Destroy(*nc);
		*nc = NULL;
		goto out;
	}
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	s = natsConnection_JetStream(js, *nc, &jo);
	if (s != NATS_OK) {
		rc = natsx_fail(why, "cannot use JetStream", s, 0);
		natsConnection_Destroy(*nc);
		*nc = NULL;
		*js = NULL;
	}
out:
	natsOptions_Destroy(opts);
	return rc;
}

void natsx_close(natsConnection *nc, jsCtx *js)
{
	jsCtx_Destroy(js);
	if (nc) {
		natsConnection_Close(nc);
		natsConnection_Destroy(nc);
	}
}

bool natsx_connected(natsConnection *nc)
{
	return nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

int64_t natsx_max_payload(natsConnection *nc)
{
	return natsx_connected(nc) ? natsConnection_GetMaxPayload(nc) : 0;
}

static int ensure_stream(jsCtx *js, const char *name, const char *subject,
			 jsRetentionPolicy retention, int64_t max_age_ns, int64_t dup_ns,
			 struct buf *why)
{
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	const char *subjects[1] = { subject };
	jsErrCode jerr = 0;
	natsStatus s;
	char what[96];

	s = js_GetStreamInfo(&si, js, name, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND) {
		snprintf(what, sizeof(what), "cannot look up stream '%s'", name);
		return natsx_fail(why, what, s, jerr);
	}
	jsStreamConfig_Init(&cfg);
	cfg.Name = name;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = retention;
	cfg.Storage = js_FileStorage;
	cfg.MaxAge = max_age_ns;
	if (dup_ns)
		cfg.Duplicates = dup_ns;
	jerr = 0;
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	/* Another process may have created it in between. */
	if (s != NATS_OK && jerr != JSStreamNameExistErr) {
		snprintf(what, sizeof(what), "cannot create stream '%s'", name);
		return natsx_fail(why, what, s, jerr);
	}
	return 0;
}

int natsx_ensure_streams(jsCtx *js, struct buf *why)
{
	int rc;

	if ((rc = ensure_stream(js, CALLMSG_STREAM_CALLS, CALLMSG_SUBJ_CALLS ".>",
				js_WorkQueuePolicy, 0, 10 * 60 * 1000 * NS_PER_MS, why)) ||
	    (rc = ensure_stream(js, CALLMSG_STREAM_DLQ, CALLMSG_SUBJ_DLQ ".>", js_LimitsPolicy,
				30 * DAY_NS, 0, why)) ||
	    (rc = ensure_stream(js, CALLMSG_STREAM_RESULTS, CALLMSG_SUBJ_RESULTS ".>",
				js_LimitsPolicy, 7 * DAY_NS, 0, why)))
		return rc;
	return 0;
}

int natsx_pull_subscribe(jsCtx *js, const char *stream, const char *durable,
			 const char *filter, int64_t ack_wait_ms, int64_t max_ack_pending,
			 natsSubscription **sub, struct buf *why)
{
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	*sub = NULL;
	jsConsumerConfig_Init(&cc);
	cc.Durable = durable;
	cc.DeliverPolicy = js_DeliverAll;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = ack_wait_ms * NS_PER_MS;
	cc.MaxDeliver = -1;
	cc.FilterSubject = filter;
	cc.MaxAckPending = max_ack_pending;
	cc.MaxWaiting = 512;
	s = js_AddConsumer(&ci, js, stream, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s != NATS_OK && s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS &&
	    jerr != JSStreamNotFoundErr) {
		/* It exists with other settings: take ours. */
		jerr = 0;
		s = js_UpdateConsumer(&ci, js, stream, &cc, NULL, &jerr);
		jsConsumerInfo_Destroy(ci);
	}
	if (s != NATS_OK)
		return natsx_fail(why, "cannot create the consumer", s, jerr);
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = durable;
	so.ManualAck = true;
	jerr = 0;
	s = js_PullSubscribe(sub, js, filter, durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		*sub = NULL;
		return natsx_fail(why, "cannot subscribe", s, jerr);
	}
	return 0;
}

int natsx_publish(jsCtx *js, const char *subj, const void *data, size_t len,
		  const char *msg_id, int64_t wait_ms, struct natsx_ack *ack, struct buf *why)
{
	return natsx_publish_if_last(js, subj, data, len, msg_id, NATSX_ANY_LAST, wait_ms, ack,
				     why);
}

int natsx_publish_if_last(jsCtx *js, const char *subj, const void *data, size_t len,
			  const char *msg_id, int64_t expect_last, int64_t wait_ms,
			  struct natsx_ack *ack, struct buf *why)
{
	jsPubAck *pa = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;

	if (ack)
		memset(ack, 0, sizeof(*ack));
	if (len > (size_t)INT32_MAX)
		return natsx_fail(why, "cannot publish", NATS_MAX_PAYLOAD, 0);
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	po.MaxWait = wait_ms;
	if (expect_last == 0)
		po.ExpectNoMessage = true;
	else if (expect_last > 0)
		po.ExpectLastSubjectSeq = (uint64_t)expect_last;
	s = js_Publish(&pa, js, subj, data, (int)len, &po, &jerr);
	if (s != NATS_OK && jerr == JSStreamWrongLastSequenceErr) {
		if (why) {
			buf_reset(why);
			buf_printf(why, "another message came on '%s' first", subj);
		}
		return -ERR_EXISTS;
	}
	if (s == NATS_TIMEOUT) {
		/* The message went out: JetStream may have stored it. */
		natsx_fail(why, "cannot publish", s, jerr);
		return -ERR_TIMEOUT;
	}
	if (s != NATS_OK)
		return natsx_fail(why, "cannot publish", s, jerr);
	if (ack) {
		ack->seq = pa->Sequence;
		ack->duplicate = pa->Duplicate;
	}
	jsPubAck_Destroy(pa);
	return 0;
}

int natsx_delete_msg(jsCtx *js, const char *stream, uint64_t seq, struct buf *why)
{
	jsErrCode jerr = 0;
	natsStatus s = js_DeleteMsg(js, stream, seq, NULL, &jerr);

	if (s != NATS_OK)
		return natsx_fail(why, "cannot delete the message", s, jerr);
	return 0;
}

int natsx_last_msg(jsCtx *js, const char *stream, const char *subject, struct buf *out,
		   uint64_t *seq, struct buf *why)
{
	natsMsg *msg = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	s = js_GetLastMsg(&msg, js, stream, subject, NULL, &jerr);
	if (s != NATS_OK)
		return natsx_fail(why, "cannot read the last message", s, jerr);
	rc = buf_add(out, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
	if (seq)
		*seq = natsMsg_GetSequence(msg);
	natsMsg_Destroy(msg);
	if (rc && why) {
		buf_reset(why);
		buf_printf(why, "message on '%s' is too large", subject);
	}
	return rc;
}
