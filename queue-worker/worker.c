/*
 * worker.c - the queue worker: fetch, run, retry, dead-letter, call back,
 * report (see qw.h and docs/async.md).
 *
 * Threads: one fetcher pulls messages in batches of at most the free
 * slots and queues them; max_inflight executors each run one call at a
 * time; a heartbeat thread sends in-progress acks for every message being
 * worked on, every ack_wait / 3, so a long call is never redelivered while
 * this worker lives. Every ack of a message goes through its slot's lock,
 * so a heartbeat never races an ack.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "callmsg.h"
#include "err.h"
#include "invoke.h"
#include "log.h"
#include "natsx.h"
#include "policy.h"
#include "qw.h"
#include "spawn.h"
#include "banned.h"

#define DURABLE "cfaas-queue-worker"
#define FETCH_WAIT_MS 1000
#define PUB_WAIT_MS 5000
#define MAX_ACK_PENDING 65536
#define SOON_MS 1000                  /* nak delay when NATS itself failed */
#define LOG_EVERY_MS 10000            /* repeated setup errors */
#define CALLBACK_ANSWER_CAP (64u * 1024)
#define REPORT_SLACK (64u * 1024)     /* JSON and headers around a result */
#define MAX_INFLIGHT_LIMIT 1024

struct slot {
	pthread_mutex_t lock;
	natsMsg *msg;                 /* being worked on: gets heartbeats */
};

struct exec {
	struct qw *w;
	unsigned idx;
	struct invoke http;
	unsigned seed;
	pthread_t tid;
	bool started;
};

struct qw {
	struct qw_config cfg;
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;        /* the fetcher's */
	pthread_mutex_t lock;
	pthread_cond_t work;          /* queue not empty, or stopping */
	pthread_cond_t room;          /* a slot freed, or stopping */
	pthread_cond_t tick;          /* wakes sleepers at stop */
	natsMsg **queue;              /* ring of max_inflight */
	size_t qhead, qn;
	unsigned busy;
	struct slot *slots;
	struct exec *execs;
	pthread_t fetcher, heart;
	bool fetcher_started, heart_started;
	atomic_int stopping;          /* no new work */
	atomic_int cancel;            /* abort calls in flight */
	atomic_int heart_stop;
	atomic_int gateway_down;      /* a call found no gateway: pause fetching */
	_Atomic uint64_t n_calls, n_retries, n_dead, n_callbacks, n_skipped;
};

/* ---- small helpers ---------------------------------------------------------- */

/* Waits on cond for at most ms (CLOCK_MONOTONIC). w->lock held. */
static void timed_wait(struct qw *w, pthread_cond_t *cond, int64_t ms)
{
	struct timespec ts;

	mono_deadline_ts(ms, &ts);
	pthread_cond_timedwait(cond, &w->lock, &ts);
}

/* Sleeps ms unless the worker stops first. */
static void nap(struct qw *w, int64_t ms)
{
	pthread_mutex_lock(&w->lock);
	if (!atomic_load(&w->stopping))
		timed_wait(w, &w->tick, ms);
	pthread_mutex_unlock(&w->lock);
}

static double rnd(struct exec *x)
{
	return (double)rand_r(&x->seed) / ((double)RAND_MAX + 1.0);
}

static void ctx_of(const struct callmsg *m, char *out, size_t cap)
{
	snprintf(out, cap, "call_id=%s function=%s", m->call_id, m->function);
}

/* ---- acks (through the slot lock, see the top comment) -------------------------- */

static void ack(struct exec *x, natsMsg *msg)
{
	struct slot *s = &x->w->slots[x->idx];

	pthread_mutex_lock(&s->lock);
	natsMsg_Ack(msg, NULL);
	s->msg = NULL;
	pthread_mutex_unlock(&s->lock);
}

static void nak(struct exec *x, natsMsg *msg, int64_t delay_ms)
{
	struct slot *s = &x->w->slots[x->idx];

	pthread_mutex_lock(&s->lock);
	if (delay_ms > 0)
		natsMsg_NakWithDelay(msg, delay_ms, NULL);
	else
		natsMsg_Nak(msg, NULL);
	s->msg = NULL;
	pthread_mutex_unlock(&s->lock);
}

/* ---- reports, dead letters ------------------------------------------------------ */

/* The largest message nc's server takes (64 MiB while that is unknown). */
static size_t nc_payload_cap(natsConnection *nc)
{
	int64_t mp = natsx_max_payload(nc);

	return mp > 0 ? (size_t)mp : 64u * 1024 * 1024;
}

static size_t payload_cap(struct qw *w)
{
	return nc_payload_cap(w->nc);
}

/* Publishes r on cfaas.results.ID, on the condition of
 * natsx_publish_if_last. A result too large for the server is dropped (the
 * report goes without it) rather than losing the report. */
static int report_if_last(struct qw *w, const struct callmsg_report *r, int64_t expect_last,
			  struct buf *why)
{
	char subj[160];
	struct buf b;
	int rc;

	if (callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_RESULTS, r->call_id, NULL))
		return -ERR_INVALID;
	buf_init(&b, payload_cap(w));
	rc = callmsg_report_dump(r, &b);
	if (!rc)
		rc = natsx_publish_if_last(w->js, subj, b.data, b.len, NULL, expect_last, PUB_WAIT_MS,
					   NULL, why);
	if ((rc == -ERR_TOO_BIG) && r->result) {
		struct callmsg_report slim = *r;
		slim.result = NULL;
		slim.result_len = 0;
		memset(&slim.result_header, 0, sizeof(slim.result_header));
		buf_reset(&b);
		rc = callmsg_report_dump(&slim, &b);
		if (!rc)
			rc = natsx_publish_if_last(w->js, subj, b.data, b.len, NULL, expect_last,
						   PUB_WAIT_MS, NULL, why);
	}
	if (rc && why && !why->len)
		buf_printf(why, "cannot encode the report: %s", err_str(rc));
	buf_release(&b);
	return rc;
}

static int report(struct qw *w, const struct callmsg_report *r, struct buf *why)
{
	return report_if_last(w, r, NATSX_ANY_LAST, why);
}

int qw_last_report(natsConnection *nc, jsCtx *js, const char *id, struct callmsg_report *out,
		   uint64_t *seq, struct buf *why)
{
	char subj[160];
	struct buf b;
	int rc;

	memset(out, 0, sizeof(*out));
	*seq = 0;
	if (callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_RESULTS, id, NULL))
		return -ERR_NOT_FOUND;
	buf_init(&b, nc_payload_cap(nc) + REPORT_SLACK);
	rc = natsx_last_msg(js, CALLMSG_STREAM_RESULTS, subj, &b, seq, why);
	if (!rc && callmsg_report_parse(b.data, b.len, out, why))
		rc = -ERR_NOT_FOUND;
	buf_release(&b);
	return rc;
}

/* Publishes a dead letter: the call message as it came, plus why it died,
 * on cfaas.dlq.ID (de-duplicated per call and round). */
static int dead_letter(struct qw *w, const struct callmsg *m, const char *data, size_t len,
		       const struct callmsg_report *r, struct buf *why)
{
	char subj[160], id[128];
	json_t *o = json_loadb(data, len, 0, NULL);
	struct buf b, when;
	int rc = -ENOMEM;

	buf_init(&b, payload_cap(w));
	buf_init(&when, 64);
	if (!o || !json_is_object(o))
		goto out;
	wire_time_rfc3339(real_ms(), &when);
	if (json_object_set_new(o, "error", json_string(r->error ? r->error : "")) ||
	    json_object_set_new(o, "status", json_string(callmsg_status_name(r->status))) ||
	    json_object_set_new(o, "attempts", json_integer(r->attempts)) ||
	    json_object_set_new(o, "statusCode", json_integer(r->status_code)) ||
	    json_object_set_new(o, "deadAt", json_string(buf_cstr(&when))))
		goto out;
	rc = wire_json_dump(o, &b);
	if (rc)
		goto out;
	callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_DLQ, m->call_id, NULL);
	snprintf(id, sizeof(id), "%s.%d", m->call_id, m->round);
	rc = natsx_publish(w->js, subj, b.data, b.len, id, PUB_WAIT_MS, NULL, why);
out:
	if (rc && why && !why->len)
		buf_printf(why, "cannot build the dead letter: %s", err_str(rc));
	json_decref(o);
	buf_release(&b);
	buf_release(&when);
	return rc;
}

/* A message that is not a call: kept in the dead-letter stream with the
 * reason, and its call (when an id can be read from it) reported dead. */
static void dead_letter_invalid(struct exec *x, natsMsg *msg, const char *reason)
{
	struct qw *w = x->w;
	const char *data = natsMsg_GetData(msg);
	int len = natsMsg_GetDataLength(msg);
	jsMsgMetaData *meta = NULL;
	uint64_t seq = 0;
	json_t *o = json_object(), *raw;
	struct buf b, why, enc;
	char id[64];
	int rc;

	buf_init(&b, payload_cap(w));
	buf_init(&why, 1024);
	buf_init(&enc, payload_cap(w));
	if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
		seq = meta->Sequence.Stream;
		jsMsgMetaData_Destroy(meta);
	}
	LOG_WARN("queue message %llu on '%s' is not a call, moved to %s: %s",
		 (unsigned long long)seq, natsMsg_GetSubject(msg), CALLMSG_STREAM_DLQ, reason);
	rc = b64_encode(&enc, data, (size_t)len);
	if (!o || rc ||
	    json_object_set_new(o, "error", json_string(reason)) ||
	    json_object_set_new(o, "subject", json_string(natsMsg_GetSubject(msg))) ||
	    json_object_set_new(o, "streamSequence", json_integer((json_int_t)seq)) ||
	    json_object_set_new(o, "data", json_stringn(buf_cstr(&enc), enc.len)) ||
	    wire_json_dump(o, &b)) {
		/* Too large or no memory: keep at least the reason. */
		json_object_del(o, "data");
		buf_reset(&b);
		if (!o || wire_json_dump(o, &b))
			goto out;
	}
	snprintf(id, sizeof(id), "invalid.%llu", (unsigned long long)seq);
	rc = natsx_publish(w->js, CALLMSG_SUBJ_DLQ ".invalid", b.data, b.len, id, PUB_WAIT_MS,
			   NULL, &why);
	if (rc) {
		LOG_WARN("cannot dead-letter queue message %llu: %s (retrying)",
			 (unsigned long long)seq, buf_cstr(&why));
		nak(x, msg, SOON_MS);
		goto out;
	}
	/* If it names a valid call id, that call's record says what happened. */
	raw = json_loadb(data, (size_t)len, 0, NULL);
	if (raw && json_is_string(json_object_get(raw, "callId")) &&
	    !callmsg_id_check(json_string_value(json_object_get(raw, "callId")), NULL)) {
		struct callmsg_report r = { 0 };
		struct buf text;
		buf_init(&text, 1024);
		buf_printf(&text, "invalid queue message: %s", reason);
		r.call_id = (char *)json_string_value(json_object_get(raw, "callId"));
		r.status = CALLMSG_DEAD_LETTER;
		r.finished_at_ms = real_ms();
		r.error = (char *)buf_cstr(&text);
		if (report(w, &r, &why))
			LOG_WARN("cannot report call %s: %s", r.call_id, buf_cstr(&why));
		buf_release(&text);
	}
	json_decref(raw);
	atomic_fetch_add(&w->n_dead, 1);
	ack(x, msg);
out:
	json_decref(o);
	buf_release(&b);
	buf_release(&why);
	buf_release(&enc);
}

/* ---- one call ---------------------------------------------------------------- */

/* Runs the function once; fills r (status_code, times, result, error). */
static void run_function(struct exec *x, const struct callmsg *m, struct callmsg_report *r,
			 struct invoke_resp *resp)
{
	struct qw *w = x->w;
	struct buf url;
	struct invoke_req rq;
	int rc;

	buf_init(&url, 16 * 1024);
	if (policy_function_url(&url, w->cfg.gateway_url, m)) {
		memset(resp, 0, sizeof(*resp));
		buf_init(&resp->body, 1);
		snprintf(resp->error, sizeof(resp->error), "the call's URL is too long");
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = m->method;
	rq.url = buf_cstr(&url);
	rq.hdrs = &m->header;
	rq.keep = policy_forward_header;
	rq.body = m->body;
	rq.body_len = m->body_len;
	rq.timeout_ms = w->cfg.upstream_timeout_ms;
	rq.max_response = w->cfg.max_response;
	rq.no_proxy = true;
	rq.cancel = &w->cancel;
	atomic_fetch_add(&w->n_calls, 1);
	rc = invoke_run(&x->http, &rq, resp);
	(void)rc;
out:
	r->finished_at_ms = real_ms();
	r->duration_seconds = resp->seconds;
	buf_release(&url);
}

/* The callback of a call whose outcome is known (r->callback == PENDING).
 * Returns the nak delay when it must be tried again later, 0 when r now
 * holds the final report, -1 when the worker is stopping. */
static int64_t call_back(struct exec *x, const struct callmsg *m, struct callmsg_report *r,
			 const struct wire_retry *pol, const char *ctx)
{
	struct qw *w = x->w;
	char l_id[128], l_name[192], l_status[64], l_dur[64], l_att[64];
	const char *extra[6];
	struct invoke_req rq;
	struct invoke_resp resp;
	struct buf text;
	bool delivered, retry;
	int64_t delay = 0;
	int rc;

	snprintf(l_id, sizeof(l_id), "X-Call-Id: %s", m->call_id);
	if (strcmp(m->namespace, WIRE_DEFAULT_NAMESPACE))
		snprintf(l_name, sizeof(l_name), "X-Function-Name: %s.%s", m->function, m->namespace);
	else
		snprintf(l_name, sizeof(l_name), "X-Function-Name: %s", m->function);
	snprintf(l_status, sizeof(l_status), "X-Function-Status: %d", r->status_code);
	snprintf(l_dur, sizeof(l_dur), "X-Duration-Seconds: %.6f", r->duration_seconds);
	snprintf(l_att, sizeof(l_att), "X-Attempts: %d", r->attempts);
	extra[0] = l_id;
	extra[1] = l_name;
	extra[2] = l_status;
	extra[3] = l_dur;
	extra[4] = l_att;
	extra[5] = NULL;
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = m->callback_url;
	rq.hdrs = &r->result_header;
	rq.keep = policy_callback_header;
	rq.extra = extra;
	rq.body = r->result;
	rq.body_len = r->result_len;
	rq.timeout_ms = w->cfg.callback_timeout_ms;
	rq.max_response = CALLBACK_ANSWER_CAP;
	rq.cancel = &w->cancel;
	rc = invoke_run(&x->http, &rq, &resp);
	if (resp.cancelled) {
		invoke_resp_release(&resp);
		return -1;
	}
	r->callback_attempts++;
	delivered = (rc == 0 || resp.too_big) && resp.status >= 200 && resp.status < 300;
	retry = !delivered && (resp.status == 0 || resp.status >= 500 ||
			       wire_retry_code(pol, resp.status));
	buf_init(&text, 2048);
	if (delivered) {
		LOGC(INFO, ctx, "callback delivered to '%s' (attempt %d)", m->callback_url,
		     r->callback_attempts);
		r->status = r->outcome;
		r->callback = CALLMSG_CB_DELIVERED;
		atomic_fetch_add(&w->n_callbacks, 1);
	} else if (retry && (unsigned)r->callback_attempts < pol->attempts) {
		delay = policy_delay_ms(pol, (unsigned)r->callback_attempts,
					callmsg_hdrs_value(&resp.headers, "Retry-After"), real_ms(),
					rnd(x));
		LOGC(WARN, ctx, "callback to '%s' failed (attempt %d of %u): %s%d%s; again in %lld ms",
		     m->callback_url, r->callback_attempts, pol->attempts,
		     resp.status ? "answer " : "", resp.status, resp.status ? "" : resp.error,
		     (long long)delay);
		if (delay <= 0)
			delay = 1;
	} else {
		const char *fn_err = r->error;
		if (fn_err)
			buf_printf(&text, "%s; ", fn_err);
		buf_printf(&text, "callback to '%s' failed after %d attempt%s: ", m->callback_url,
			   r->callback_attempts, r->callback_attempts == 1 ? "" : "s");
		if (resp.status)
			buf_printf(&text, "answer %d", resp.status);
		else
			buf_printf(&text, "%s", resp.error);
		LOGC(WARN, ctx, "%s", buf_cstr(&text));
		free(r->error);
		r->error = strdup(buf_cstr(&text));
		r->status = r->outcome;
		r->callback = CALLMSG_CB_FAILED;
	}
	buf_release(&text);
	invoke_resp_release(&resp);
	return delay;
}

/* Moves resp into r's result fields (r takes the body). */
static void take_result(struct callmsg_report *r, struct invoke_resp *resp)
{
	size_t n;

	free(r->result);
	callmsg_hdrs_release(&r->result_header);
	r->result = (unsigned char *)buf_detach(&resp->body, &n);
	r->result_len = n;
	r->result_header = resp->headers;
	memset(&resp->headers, 0, sizeof(resp->headers));
}

static void set_error(struct callmsg_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct callmsg_report *r, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 2048);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(r->error);
	r->error = strdup(buf_cstr(&b));
	buf_release(&b);
}

/*
 * Works on one message to its end: it is acked (done, or not a call), or
 * negative-acked with a delay (another attempt, or NATS failed), or left
 * to the heartbeat-less redelivery when the worker is stopping.
 */
static void process(struct exec *x, natsMsg *msg)
{
	struct qw *w = x->w;
	const char *data = natsMsg_GetData(msg);
	size_t len = (size_t)natsMsg_GetDataLength(msg);
	struct callmsg m;
	struct callmsg_report last, r;
	struct invoke_resp resp;
	struct wire_retry pol;
	struct buf why;
	bool have;
	char ctx[160];
	int64_t delay;
	uint64_t last_seq;
	int rc, attempt;

	memset(&r, 0, sizeof(r));
	memset(&last, 0, sizeof(last));
	buf_init(&why, 2048);
	rc = callmsg_parse(data, len, &m, &why);
	if (rc == -ENOMEM) {
		nak(x, msg, SOON_MS);
		goto out_nomsg;
	}
	if (rc) {
		dead_letter_invalid(x, msg, buf_cstr(&why));
		goto out_nomsg;
	}
	ctx_of(&m, ctx, sizeof(ctx));
	rc = qw_last_report(w->nc, w->js, m.call_id, &last, &last_seq, &why);
	if (rc && rc != -ERR_NOT_FOUND) {
		LOGC(WARN, ctx, "cannot read the call's state (%s); trying again soon", buf_cstr(&why));
		nak(x, msg, SOON_MS);
		goto out;
	}
	have = rc == 0;
	if (have && last.round != CALLMSG_ROUND_ANY && last.round > m.round) {
		/* A message of an earlier round, outrun by a re-queue. */
		atomic_fetch_add(&w->n_skipped, 1);
		ack(x, msg);
		goto out;
	}
	if (have && last.round != CALLMSG_ROUND_ANY && last.round < m.round)
		have = false;
	if (have && callmsg_status_final(last.status)) {
		LOGC(DEBUG, ctx, "already %s: not run again", callmsg_status_name(last.status));
		atomic_fetch_add(&w->n_skipped, 1);
		ack(x, msg);
		goto out;
	}
	policy_retry(w->cfg.max_retry_attempts, w->cfg.initial_retry_wait_ms,
		     w->cfg.max_retry_wait_ms, &m.retry, &pol);
	r.call_id = strdup(m.call_id);
	r.round = m.round;
	if (!r.call_id) {
		nak(x, msg, SOON_MS);
		goto out;
	}
	if (have && last.callback == CALLMSG_CB_PENDING) {
		/* The function has answered already: only the callback is left. */
		free(r.call_id);
		r = last;
		memset(&last, 0, sizeof(last));
		r.round = m.round;
		goto callback;
	}
	attempt = (have ? last.attempts : 0) + 1;
	if ((unsigned)attempt > pol.attempts) {
		/* The last attempt was cut short (the worker running it died). */
		r.attempts = attempt - 1;
		r.status = CALLMSG_DEAD_LETTER;
		r.status_code = POLICY_NO_ANSWER_STATUS;
		r.finished_at_ms = real_ms();
		set_error(&r, "no answer after %d attempts: the last one was interrupted", r.attempts);
		goto outcome;
	}
	r.status = CALLMSG_RUNNING;
	r.attempts = attempt;
	r.started_at_ms = real_ms();
	/* Only if nothing was reported since the report read above: a cancel
	 * published meanwhile (by the gateway, which publishes it on the same
	 * condition) wins, and this delivery looks again. */
	rc = report_if_last(w, &r, (int64_t)last_seq, &why);
	if (rc == -ERR_EXISTS) {
		LOGC(DEBUG, ctx, "the call's state changed before it started; looking again");
		nak(x, msg, 0);
		goto out;
	}
	if (rc) {
		LOGC(WARN, ctx, "cannot report the start: %s; trying again soon", buf_cstr(&why));
		nak(x, msg, SOON_MS);
		goto out;
	}
	LOGC(DEBUG, ctx, "attempt %d of %u", attempt, pol.attempts);
	run_function(x, &m, &r, &resp);
	if (resp.cancelled) {
		/* Stopping: the call goes back to the queue for another worker. */
		invoke_resp_release(&resp);
		nak(x, msg, 0);
		goto out;
	}
	if (resp.connect_failed) {
		/* The call never reached the gateway: no attempt is spent. The
		 * report takes the attempt number back; fetching pauses until
		 * the gateway answers again. */
		if (!atomic_exchange(&w->gateway_down, 1))
			LOG_WARN("queue worker: the gateway at %s is unreachable (%s): waiting for it",
				 w->cfg.gateway_url, resp.error);
		r.status = CALLMSG_QUEUED;
		r.attempts = attempt - 1;
		r.started_at_ms = 0;
		r.finished_at_ms = 0;
		set_error(&r, "the gateway was unreachable: %s", resp.error);
		if (report(w, &r, &why))
			LOGC(WARN, ctx, "cannot report: %s", buf_cstr(&why));
		invoke_resp_release(&resp);
		nak(x, msg, SOON_MS);
		goto out;
	}
	r.status_code = resp.status ? resp.status : POLICY_NO_ANSWER_STATUS;
	if (resp.too_big) {
		r.status = CALLMSG_FAILED;
		set_error(&r, "the function's answer exceeds %llu bytes",
			  (unsigned long long)resp.body.cap);
		buf_reset(&resp.body);
		take_result(&r, &resp);
		invoke_resp_release(&resp);
		goto outcome;
	}
	take_result(&r, &resp);
	switch (policy_classify(&pol, resp.status)) {
	case POLICY_SUCCEEDED:
		r.status = CALLMSG_SUCCEEDED;
		break;
	case POLICY_FAILED:
		r.status = CALLMSG_FAILED;
		set_error(&r, "the function answered %d", resp.status);
		break;
	case POLICY_RETRY:
		if (resp.status)
			set_error(&r, "the function answered %d (attempt %d of %u)", resp.status,
				  attempt, pol.attempts);
		else
			set_error(&r, "no answer from the gateway: %s (attempt %d of %u)", resp.error,
				  attempt, pol.attempts);
		if ((unsigned)attempt < pol.attempts) {
			delay = policy_delay_ms(&pol, (unsigned)attempt,
						callmsg_hdrs_value(&r.result_header, "Retry-After"),
						real_ms(), rnd(x));
			if (delay <= 0)
				delay = 1;
			r.status = CALLMSG_QUEUED;
			r.finished_at_ms = 0;
			if (report(w, &r, &why))
				LOGC(WARN, ctx, "cannot report the retry: %s", buf_cstr(&why));
			LOGC(INFO, ctx, "%s; again in %lld ms", r.error, (long long)delay);
			atomic_fetch_add(&w->n_retries, 1);
			invoke_resp_release(&resp);
			nak(x, msg, delay);
			goto out;
		}
		r.status = CALLMSG_DEAD_LETTER;
		if (resp.status)
			set_error(&r, "no success after %d attempts: the last answer was %d", attempt,
				  resp.status);
		else
			set_error(&r, "no success after %d attempts: %s", attempt, resp.error);
		break;
	}
	invoke_resp_release(&resp);
outcome:
	if (r.status != CALLMSG_SUCCEEDED) {
		rc = dead_letter(w, &m, data, len, &r, &why);
		if (rc) {
			LOGC(WARN, ctx, "cannot dead-letter: %s; trying again soon", buf_cstr(&why));
			nak(x, msg, SOON_MS);
			goto out;
		}
		if (r.status == CALLMSG_DEAD_LETTER)
			atomic_fetch_add(&w->n_dead, 1);
	}
	LOGC(INFO, ctx, "%s after %d attempt%s (%d, %.3f s)%s%s", callmsg_status_name(r.status),
	     r.attempts, r.attempts == 1 ? "" : "s", r.status_code, r.duration_seconds,
	     r.error ? ": " : "", r.error ? r.error : "");
	if (m.callback_url) {
		r.outcome = r.status;
		r.status = CALLMSG_RUNNING;
		r.callback = CALLMSG_CB_PENDING;
		if (report(w, &r, &why)) {
			LOGC(WARN, ctx, "cannot report the outcome: %s; trying again soon",
			     buf_cstr(&why));
			nak(x, msg, SOON_MS);
			goto out;
		}
		goto callback;
	}
	goto final;
callback:
	if (!m.callback_url) {
		r.status = r.outcome;
		r.callback = CALLMSG_CB_NONE;
		goto final;
	}
	delay = call_back(x, &m, &r, &pol, ctx);
	if (delay < 0) {
		nak(x, msg, 0);
		goto out;
	}
	if (delay > 0) {
		if (report(w, &r, &why))
			LOGC(WARN, ctx, "cannot report the callback attempt: %s", buf_cstr(&why));
		nak(x, msg, delay);
		goto out;
	}
final:
	if (report(w, &r, &why)) {
		LOGC(WARN, ctx, "cannot report the outcome: %s; trying again soon", buf_cstr(&why));
		nak(x, msg, SOON_MS);
		goto out;
	}
	ack(x, msg);
out:
	callmsg_release(&m);
out_nomsg:
	callmsg_report_release(&last);
	callmsg_report_release(&r);
	buf_release(&why);
}

/* ---- threads ------------------------------------------------------------------ */

static void *exec_main(void *arg)
{
	struct exec *x = arg;
	struct qw *w = x->w;
	natsMsg *msg;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!atomic_load(&w->stopping) && w->qn == 0)
			pthread_cond_wait(&w->work, &w->lock);
		if (atomic_load(&w->stopping)) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		msg = w->queue[w->qhead];
		w->qhead = (w->qhead + 1) % w->cfg.max_inflight;
		w->qn--;
		w->busy++;
		pthread_mutex_unlock(&w->lock);

		pthread_mutex_lock(&w->slots[x->idx].lock);
		w->slots[x->idx].msg = msg;
		pthread_mutex_unlock(&w->slots[x->idx].lock);
		process(x, msg);
		pthread_mutex_lock(&w->slots[x->idx].lock);
		w->slots[x->idx].msg = NULL;
		pthread_mutex_unlock(&w->slots[x->idx].lock);
		natsMsg_Destroy(msg);

		pthread_mutex_lock(&w->lock);
		w->busy--;
		pthread_cond_broadcast(&w->room);
		pthread_mutex_unlock(&w->lock);
	}
	return NULL;
}

static void *heart_main(void *arg)
{
	struct qw *w = arg;
	int64_t every = w->cfg.ack_wait_ms / 3;
	unsigned i;

	if (every < 100)
		every = 100;
	if (every > 10000)
		every = 10000;
	while (!atomic_load(&w->heart_stop)) {
		pthread_mutex_lock(&w->lock);
		if (!atomic_load(&w->heart_stop))
			timed_wait(w, &w->tick, every);
		pthread_mutex_unlock(&w->lock);
		for (i = 0; i < w->cfg.max_inflight; i++) {
			pthread_mutex_lock(&w->slots[i].lock);
			if (w->slots[i].msg)
				natsMsg_InProgress(w->slots[i].msg, NULL);
			pthread_mutex_unlock(&w->slots[i].lock);
		}
	}
	return NULL;
}

/* True once the gateway answers GET /healthz with 200. */
static bool gateway_ready(struct qw *w, struct invoke *http, char *err, size_t cap)
{
	struct invoke_req rq;
	struct invoke_resp resp;
	struct buf url;
	bool ok;

	buf_init(&url, sizeof(w->cfg.gateway_url) + 16);
	buf_printf(&url, "%s/healthz", w->cfg.gateway_url);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = buf_cstr(&url);
	rq.timeout_ms = 2000;
	rq.max_response = 4096;
	rq.no_proxy = true;
	rq.cancel = &w->stopping;
	ok = invoke_run(http, &rq, &resp) == 0 && resp.status == 200;
	if (!ok)
		snprintf(err, cap, "%s", resp.status ? "it answered /healthz with an error" : resp.error);
	invoke_resp_release(&resp);
	buf_release(&url);
	return ok;
}

/* Drops a broken subscription once no message from it is held. */
static void retire_sub(struct qw *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->busy > 0 || w->qn > 0)
		timed_wait(w, &w->room, 1000);
	pthread_mutex_unlock(&w->lock);
	natsSubscription_Destroy(w->sub);
	w->sub = NULL;
}

static void *fetch_main(void *arg)
{
	struct qw *w = arg;
	struct invoke probe = { 0 };
	struct buf why;
	bool gateway_ok = false, said_wait = false;
	int64_t next_log = 0;
	int errors = 0, i;
	char err[256];

	buf_init(&why, 2048);
	invoke_init(&probe);
	while (!atomic_load(&w->stopping)) {
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;
		natsStatus s;
		unsigned room;

		if (!w->sub) {
			if (!natsx_connected(w->nc)) {
				if (mono_ms() >= next_log) {
					LOG_WARN("queue worker: waiting for NATS at %s", w->cfg.nats_url);
					next_log = mono_ms() + LOG_EVERY_MS;
				}
				nap(w, 250);
				continue;
			}
			if (!gateway_ok) {
				gateway_ok = gateway_ready(w, &probe, err, sizeof(err));
				if (!gateway_ok) {
					if (!said_wait || mono_ms() >= next_log) {
						LOG_INFO("queue worker: waiting for the gateway at %s (%s)",
							 w->cfg.gateway_url, err);
						next_log = mono_ms() + LOG_EVERY_MS;
						said_wait = true;
					}
					nap(w, 250);
					continue;
				}
			}
			if (natsx_ensure_streams(w->js, &why) ||
			    natsx_pull_subscribe(w->js, CALLMSG_STREAM_CALLS, DURABLE,
						 CALLMSG_SUBJ_CALLS ".>", w->cfg.ack_wait_ms,
						 MAX_ACK_PENDING, &w->sub, &why)) {
				if (mono_ms() >= next_log) {
					LOG_WARN("queue worker: %s", buf_cstr(&why));
					next_log = mono_ms() + LOG_EVERY_MS;
				}
				nap(w, 1000);
				continue;
			}
			LOG_INFO("queue worker: consuming %s (max_inflight %u, ack_wait %lld ms) for %s",
				 CALLMSG_STREAM_CALLS, w->cfg.max_inflight, (long long)w->cfg.ack_wait_ms,
				 w->cfg.gateway_url);
			errors = 0;
			next_log = 0;
		}
		if (atomic_load(&w->gateway_down)) {
			if (!gateway_ready(w, &probe, err, sizeof(err))) {
				nap(w, 500);
				continue;
			}
			atomic_store(&w->gateway_down, 0);
			LOG_INFO("queue worker: the gateway at %s answers again", w->cfg.gateway_url);
		}
		pthread_mutex_lock(&w->lock);
		while (!atomic_load(&w->stopping) && w->busy + w->qn >= w->cfg.max_inflight)
			timed_wait(w, &w->room, 1000);
		room = w->cfg.max_inflight - w->busy - (unsigned)w->qn;
		pthread_mutex_unlock(&w->lock);
		if (atomic_load(&w->stopping))
			break;
		s = natsSubscription_Fetch(&list, w->sub, (int)room, FETCH_WAIT_MS, &jerr);
		if (s == NATS_OK) {
			pthread_mutex_lock(&w->lock);
			for (i = 0; i < list.Count; i++) {
				size_t at = (w->qhead + w->qn) % w->cfg.max_inflight;
				w->queue[at] = list.Msgs[i];
				list.Msgs[i] = NULL;
				w->qn++;
			}
			pthread_cond_broadcast(&w->work);
			pthread_mutex_unlock(&w->lock);
			natsMsgList_Destroy(&list);
			errors = 0;
			continue;
		}
		natsMsgList_Destroy(&list);
		if (s == NATS_TIMEOUT)
			continue;
		if (!natsx_connected(w->nc)) {
			nap(w, 250);
			continue;
		}
		natsx_fail(&why, "cannot fetch calls", s, jerr);
		if (mono_ms() >= next_log) {
			LOG_WARN("queue worker: %s", buf_cstr(&why));
			next_log = mono_ms() + LOG_EVERY_MS;
		}
		if (++errors >= 3) {
			retire_sub(w);
			errors = 0;
		}
		nap(w, 500);
	}
	invoke_release(&probe);
	buf_release(&why);
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

void qw_config_defaults(struct qw_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->nats_url, sizeof(c->nats_url), "nats://127.0.0.1:4222");
	snprintf(c->gateway_url, sizeof(c->gateway_url), "http://127.0.0.1:8080");
	snprintf(c->name, sizeof(c->name), "cfaas-queue-worker");
	c->max_inflight = 10;
	c->ack_wait_ms = 30000;
	c->max_retry_attempts = 5;
	c->initial_retry_wait_ms = 1000;
	c->max_retry_wait_ms = 60000;
	c->upstream_timeout_ms = 10 * 60 * 1000;
	c->callback_timeout_ms = 10000;
	c->max_response = 4u * 1024 * 1024;
	c->drain_timeout_ms = 10000;
}

static int check_config(const struct qw_config *c, struct buf *why)
{
	if (!c->nats_url[0]) {
		buf_printf(why, "no NATS URL");
		return -ERR_INVALID;
	}
	if (strncmp(c->gateway_url, "http://", 7) && strncmp(c->gateway_url, "https://", 8)) {
		buf_printf(why, "gateway URL '%.200s' must start with http:// or https://",
			   c->gateway_url);
		return -ERR_INVALID;
	}
	if (c->max_inflight < 1 || c->max_inflight > MAX_INFLIGHT_LIMIT) {
		buf_printf(why, "max_inflight must be 1-%d", MAX_INFLIGHT_LIMIT);
		return -ERR_INVALID;
	}
	if (c->ack_wait_ms < 1000) {
		buf_printf(why, "ack_wait must be at least 1s");
		return -ERR_INVALID;
	}
	if (c->max_retry_attempts < 1) {
		buf_printf(why, "max_retry_attempts must be at least 1");
		return -ERR_INVALID;
	}
	if (c->initial_retry_wait_ms > c->max_retry_wait_ms) {
		buf_printf(why, "initial_retry_wait is above max_retry_wait");
		return -ERR_INVALID;
	}
	return 0;
}

int qw_new(const struct qw_config *cfg, struct qw **out, struct buf *why)
{
	struct qw *w;
	pthread_condattr_t ca;
	unsigned i;
	int rc;

	*out = NULL;
	rc = check_config(cfg, why);
	if (rc)
		return rc;
	invoke_global_init();
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->work, &ca);
	pthread_cond_init(&w->room, &ca);
	pthread_cond_init(&w->tick, &ca);
	pthread_condattr_destroy(&ca);
	w->queue = calloc(cfg->max_inflight, sizeof(*w->queue));
	w->slots = calloc(cfg->max_inflight, sizeof(*w->slots));
	w->execs = calloc(cfg->max_inflight, sizeof(*w->execs));
	if (!w->queue || !w->slots || !w->execs) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < cfg->max_inflight; i++)
		pthread_mutex_init(&w->slots[i].lock, NULL);
	rc = natsx_connect(cfg->nats_url, cfg->name, &w->nc, &w->js, why);
	if (rc)
		goto fail;
	for (i = 0; i < cfg->max_inflight; i++) {
		struct exec *x = &w->execs[i];
		x->w = w;
		x->idx = i;
		x->seed = (unsigned)(mono_ns() ^ (i * 2654435761u));
		if ((rc = invoke_init(&x->http)))
			goto fail;
		if (pthread_create(&x->tid, NULL, exec_main, x)) {
			rc = -EAGAIN;
			goto fail;
		}
		x->started = true;
	}
	if (pthread_create(&w->heart, NULL, heart_main, w)) {
		rc = -EAGAIN;
		goto fail;
	}
	w->heart_started = true;
	if (pthread_create(&w->fetcher, NULL, fetch_main, w)) {
		rc = -EAGAIN;
		goto fail;
	}
	w->fetcher_started = true;
	*out = w;
	return 0;
fail:
	if (!why->len)
		buf_printf(why, "cannot start the queue worker: %s", err_str(rc));
	atomic_store(&w->cancel, 1);
	qw_free(w);
	return rc;
}

void qw_free(struct qw *w)
{
	int64_t deadline;
	unsigned i;

	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->work);
	pthread_cond_broadcast(&w->room);
	pthread_cond_broadcast(&w->tick);
	pthread_mutex_unlock(&w->lock);
	if (w->fetcher_started)
		pthread_join(w->fetcher, NULL);
	/* Messages fetched but not started go back to the queue now. */
	pthread_mutex_lock(&w->lock);
	while (w->qn > 0) {
		natsMsg *msg = w->queue[w->qhead];
		w->qhead = (w->qhead + 1) % w->cfg.max_inflight;
		w->qn--;
		natsMsg_Nak(msg, NULL);
		natsMsg_Destroy(msg);
	}
	deadline = mono_ms() + w->cfg.drain_timeout_ms;
	while (w->busy > 0 && mono_ms() < deadline)
		timed_wait(w, &w->room, 100);
	if (w->busy > 0)
		LOG_WARN("queue worker: %u call(s) still running after %lld ms; they go back to the queue",
			 w->busy, (long long)w->cfg.drain_timeout_ms);
	pthread_mutex_unlock(&w->lock);
	atomic_store(&w->cancel, 1);
	for (i = 0; w->execs && i < w->cfg.max_inflight; i++) {
		if (w->execs[i].started)
			pthread_join(w->execs[i].tid, NULL);
		invoke_release(&w->execs[i].http);
	}
	atomic_store(&w->heart_stop, 1);
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->tick);
	pthread_mutex_unlock(&w->lock);
	if (w->heart_started)
		pthread_join(w->heart, NULL);
	natsSubscription_Destroy(w->sub);
	natsx_close(w->nc, w->js);
	for (i = 0; w->slots && i < w->cfg.max_inflight; i++)
		pthread_mutex_destroy(&w->slots[i].lock);
	free(w->slots);
	free(w->queue);
	free(w->execs);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->room);
	pthread_cond_destroy(&w->tick);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void qw_stats(struct qw *w, struct qw_stats *out)
{
	out->calls = atomic_load(&w->n_calls);
	out->retries = atomic_load(&w->n_retries);
	out->dead_letters = atomic_load(&w->n_dead);
	out->callbacks = atomic_load(&w->n_callbacks);
	out->skipped = atomic_load(&w->n_skipped);
}
