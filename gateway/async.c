/*
 * async.c - the gateway's side of async calls: accept and publish, consume
 * the workers' reports into the call records, prune old records, and run
 * the embedded queue worker (see async.h and docs/async.md).
 *
 * Accepting a call: the function must exist; the record is stored as
 * queued first, then the message is published to CFAAS_CALLS with the call
 * id as its message id, and 202 goes out only when JetStream has
 * acknowledged it. A failed publish deletes the record again and answers
 * 503, so nothing is accepted that is not stored.
 *
 * One thread (the "results" thread) keeps the subsystem healthy: it
 * (re)creates the streams after each (re)connect, consumes CFAAS_RESULTS
 * with the durable consumer "cfaas-gateway" and prunes old records.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "async.h"
#include "callmsg.h"
#include "err.h"
#include "functions.h"
#include "log.h"
#include "metrics.h"
#include "nats_embed.h"
#include "natspub.h"
#include "natsx.h"
#include "../queue-worker/qw.h"
#include "spawn.h"
#include "store.h"
#include "url.h"
#include "wire.h"
#include "banned.h"

#define RESULTS_DURABLE "cfaas-gateway"
#define RESULTS_BATCH 256
#define RESULTS_ACK_WAIT_MS 30000
#define PUB_WAIT_MS 5000
#define LOG_EVERY_MS 10000
#define PRUNE_EVERY_MAX_MS 60000
/* Function lookups of async_submit are cached this long: a call accepted
 * just after its function was deleted fails at run time with a 404. */
#define FN_CACHE_SIZE 256
#define FN_CACHE_TTL_MS 1000

struct fn_entry {
	char key[160];                /* "name.namespace" */
	int64_t until_ms;             /* mono_ms */
	struct callmsg holder;        /* only .retry is used */
};

struct gw_async {
	struct gateway *gw;
	char url[512];
	struct nats_embed *embed;
	natsConnection *nc;
	jsCtx *js;
	struct natspub *pub;          /* calls are published through it... */
	atomic_bool pub_off;          /* ...unless the server wants more */
	atomic_bool ready;            /* streams known to exist */
	natsSubscription *results;    /* the results thread's */
	pthread_t thread;
	bool thread_started;
	atomic_int stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct qw *worker;
	pthread_mutex_t fn_lock;
	struct fn_entry fn_cache[FN_CACHE_SIZE];
};

/* Readers: every request that uses gw->async. Writer: async_stop. */
/* Writer-preferring, so a stop is not starved by a stream of submits. */
static pthread_rwlock_t async_rw = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static void nap(struct gw_async *a, int64_t ms)
{
	struct timespec ts;

	mono_deadline_ts(ms, &ts);
	pthread_mutex_lock(&a->lock);
	if (!atomic_load(&a->stop))
		pthread_cond_timedwait(&a->cond, &a->lock, &ts);
	pthread_mutex_unlock(&a->lock);
}

static bool usable(struct gw_async *a)
{
	return a && natsx_connected(a->nc) && atomic_load(&a->ready);
}

/* ---- results ------------------------------------------------------------------ */

/* Stores one report; counts retries and dead letters it applies. */
static int apply_report(struct gw_async *a, const struct callmsg_report *r)
{
	struct store_call c;
	enum store_call_status st;
	struct buf hdrs;
	bool applied = false;
	int rc;

	/* A cancel comes from the gateway, which cancels the record itself,
	 * unless the answer to the cancel's publish was lost: then it is
	 * applied here. */
	if (r->status == CALLMSG_CANCELLED) {
		rc = store_call_cancel(a->gw->store, r->call_id,
				       r->finished_at_ms ? r->finished_at_ms : real_ms());
		return rc == -ERR_INVALID || rc == -ERR_NOT_FOUND ? 0 : rc;
	}
	if (store_call_status_parse(callmsg_status_name(r->status), &st))
		return -ERR_INVALID;
	memset(&c, 0, sizeof(c));
	buf_init(&hdrs, 256 * 1024);
	c.id = r->call_id;
	c.status = st;
	c.attempts = r->attempts;
	c.status_code = r->status_code;
	c.started_at_ms = r->started_at_ms;
	c.finished_at_ms = r->finished_at_ms;
	c.duration_seconds = r->duration_seconds;
	c.error = r->error;
	c.result = r->result;
	c.result_len = r->result_len > ASYNC_RESULT_CAP ? ASYNC_RESULT_CAP : r->result_len;
	if (r->result_header.n && !callmsg_hdrs_dump(&r->result_header, &hdrs))
		c.result_headers = (char *)buf_cstr(&hdrs);
	rc = store_call_update(a->gw->store, &c, &applied);
	if (rc == -ERR_NOT_FOUND) {
		/* The call is published while its record is written (see
		 * async_submit): a fast worker can report first. */
		store_call_sync(a->gw->store);
		rc = store_call_update(a->gw->store, &c, &applied);
	}
	buf_release(&hdrs);
	if (rc == -ERR_NOT_FOUND)
		return 0; /* pruned, deleted, or another gateway's call */
	if (rc)
		return rc;
	if (applied && st == STORE_CALL_QUEUED && r->attempts > 0)
		metrics_async_add(a->gw->metrics, METRICS_ASYNC_RETRIES, 1);
	if (applied && st == STORE_CALL_DEAD_LETTER)
		metrics_async_add(a->gw->metrics, METRICS_ASYNC_DEAD_LETTER, 1);
	return 0;
}

static void handle_result(struct gw_async *a, natsMsg *msg)
{
	struct callmsg_report r;
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = callmsg_report_parse(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &r, &why);
	if (rc == -ENOMEM) {
		natsMsg_NakWithDelay(msg, 1000, NULL);
		goto out;
	}
	if (rc) {
		LOG_WARN("dropping a report on '%s' that cannot be read: %s", natsMsg_GetSubject(msg),
			 buf_cstr(&why));
		natsMsg_Ack(msg, NULL);
		goto out;
	}
	rc = apply_report(a, &r);
	if (rc) {
		char ctx[96];
		snprintf(ctx, sizeof(ctx), "call_id=%s", r.call_id);
		LOGC(WARN, ctx, "cannot store the call's report: %s (trying again)", err_str(rc));
		natsMsg_NakWithDelay(msg, 1000, NULL);
	} else {
		natsMsg_Ack(msg, NULL);
	}
	callmsg_report_release(&r);
out:
	buf_release(&why);
}

static void prune(struct gw_async *a)
{
	size_t n = 0;
	int rc = store_call_prune(a->gw->store, real_ms() - a->gw->cfg.call_retention_ms, &n);

	if (rc)
		LOG_WARN("cannot prune old call records: %s", err_str(rc));
	else if (n)
		LOG_INFO("pruned %zu call record%s older than %lld s", n, n == 1 ? "" : "s",
			 (long long)(a->gw->cfg.call_retention_ms / 1000));
}

static void *results_main(void *arg)
{
	struct gw_async *a = arg;
	int64_t next_log = 0, next_prune = 0, every;
	bool was_connected = false;
	struct buf why;
	int errors = 0, i;

	buf_init(&why, 2048);
	every = a->gw->cfg.call_retention_ms / 4;
	if (every > PRUNE_EVERY_MAX_MS)
		every = PRUNE_EVERY_MAX_MS;
	if (every < 1000)
		every = 1000;
	while (!atomic_load(&a->stop)) {
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;
		natsStatus s;

		if (mono_ms() >= next_prune) {
			prune(a);
			next_prune = mono_ms() + every;
		}
		if (!natsx_connected(a->nc)) {
			if (was_connected)
				LOG_WARN("lost the connection to NATS at %s: async calls answer 503 until it is back",
					 a->url);
			was_connected = false;
			/* It may come back with an empty store: check the streams. */
			atomic_store(&a->ready, false);
			nap(a, 250);
			continue;
		}
		if (!atomic_load(&a->ready)) {
			if (natsx_ensure_streams(a->js, &why)) {
				if (mono_ms() >= next_log) {
					LOG_WARN("async calls unavailable: %s", buf_cstr(&why));
					next_log = mono_ms() + LOG_EVERY_MS;
				}
				nap(a, 1000);
				continue;
			}
			atomic_store(&a->ready, true);
			if (!was_connected)
				LOG_INFO("async calls ready: NATS JetStream at %s", a->url);
			was_connected = true;
			next_log = 0;
		}
		if (!a->results) {
			if (natsx_pull_subscribe(a->js, CALLMSG_STREAM_RESULTS, RESULTS_DURABLE,
						 CALLMSG_SUBJ_RESULTS ".>", RESULTS_ACK_WAIT_MS, 65536,
						 &a->results, &why)) {
				if (mono_ms() >= next_log) {
					LOG_WARN("cannot consume call results: %s", buf_cstr(&why));
					next_log = mono_ms() + LOG_EVERY_MS;
				}
				nap(a, 1000);
				continue;
			}
			errors = 0;
		}
		s = natsSubscription_Fetch(&list, a->results, RESULTS_BATCH, 1000, &jerr);
		if (s == NATS_OK) {
			for (i = 0; i < list.Count; i++)
				handle_result(a, list.Msgs[i]);
			natsMsgList_Destroy(&list);
			errors = 0;
			continue;
		}
		natsMsgList_Destroy(&list);
		if (s == NATS_TIMEOUT || !natsx_connected(a->nc))
			continue;
		natsx_fail(&why, "cannot fetch call results", s, jerr);
		if (mono_ms() >= next_log) {
			LOG_WARN("%s", buf_cstr(&why));
			next_log = mono_ms() + LOG_EVERY_MS;
		}
		if (++errors >= 3) {
			/* The consumer or its stream is gone: set them up again. */
			natsSubscription_Destroy(a->results);
			a->results = NULL;
			atomic_store(&a->ready, false);
			errors = 0;
		}
		nap(a, 500);
	}
	buf_release(&why);
	return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

/* The URL the embedded worker reaches this gateway at. */
static void self_url(const struct gw_config *cfg, char *out, size_t cap)
{
	if (!strcmp(cfg->bind, "0.0.0.0") || !cfg->bind[0])
		snprintf(out, cap, "http://127.0.0.1:%d", cfg->port);
	else if (!strcmp(cfg->bind, "::"))
		snprintf(out, cap, "http://[::1]:%d", cfg->port);
	else if (strchr(cfg->bind, ':'))
		snprintf(out, cap, "http://[%s]:%d", cfg->bind, cfg->port);
	else
		snprintf(out, cap, "http://%s:%d", cfg->bind, cfg->port);
}

static void async_free(struct gw_async *a)
{
	size_t i;

	if (!a)
		return;
	qw_free(a->worker);
	pthread_mutex_lock(&a->lock);
	atomic_store(&a->stop, 1);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	if (a->thread_started)
		pthread_join(a->thread, NULL);
	natsSubscription_Destroy(a->results);
	natsx_close(a->nc, a->js);
	natspub_free(a->pub);
	nats_embed_stop(a->embed);
	for (i = 0; i < FN_CACHE_SIZE; i++)
		callmsg_release(&a->fn_cache[i].holder);
	pthread_mutex_destroy(&a->fn_lock);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int async_start(struct gateway *gw, struct buf *why)
{
	struct gw_async *a;
	pthread_condattr_t ca;
	char exe[1024];
	int rc;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->gw = gw;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->fn_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (gw->cfg.nats_url[0]) {
		snprintf(a->url, sizeof(a->url), "%s", gw->cfg.nats_url);
	} else if (!nats_embed_find(gw->cfg.path, exe, sizeof(exe))) {
		LOG_WARN("async calls are off: no --nats-url given and nats-server is not installed");
		async_free(a);
		return 0;
	} else {
		struct buf ewhy;
		char dir[1100];
		buf_init(&ewhy, 1024);
		snprintf(dir, sizeof(dir), "%s", gw->cfg.data_dir);
		rc = nats_embed_start(gw->cfg.path, dir, &a->embed, a->url, sizeof(a->url), &ewhy);
		if (rc) {
			LOG_ERROR("async calls are off: cannot start nats-server: %s", buf_cstr(&ewhy));
			buf_release(&ewhy);
			async_free(a);
			return 0;
		}
		buf_release(&ewhy);
	}
	rc = natsx_connect(a->url, "cfaas-gateway", &a->nc, &a->js, why);
	if (rc)
		goto fail;
	{
		struct buf pwhy;
		buf_init(&pwhy, 1024);
		if (natspub_new(a->url, "cfaas-gateway-publisher", &a->pub, &pwhy))
			LOG_INFO("async calls are published through cnats: %s", buf_cstr(&pwhy));
		buf_release(&pwhy);
	}
	if (pthread_create(&a->thread, NULL, results_main, a)) {
		rc = -EAGAIN;
		buf_printf(why, "cannot start the async results thread");
		goto fail;
	}
	a->thread_started = true;
	if (gw->cfg.queue_worker) {
		struct qw_config qc;
		qw_config_defaults(&qc);
		snprintf(qc.nats_url, sizeof(qc.nats_url), "%s", a->url);
		self_url(&gw->cfg, qc.gateway_url, sizeof(qc.gateway_url));
		snprintf(qc.name, sizeof(qc.name), "cfaas-gateway-worker");
		qc.max_inflight = gw->cfg.queue_max_inflight;
		qc.ack_wait_ms = gw->cfg.queue_ack_wait_ms;
		qc.max_retry_attempts = gw->cfg.queue_max_retry_attempts;
		qc.initial_retry_wait_ms = gw->cfg.queue_initial_retry_wait_ms;
		qc.max_retry_wait_ms = gw->cfg.queue_max_retry_wait_ms;
		qc.callback_timeout_ms = gw->cfg.queue_callback_timeout_ms;
		if (gw->cfg.upstream_timeout_ms > 0)
			qc.upstream_timeout_ms = gw->cfg.upstream_timeout_ms + 5000;
		qc.debug = gw->cfg.debug;
		rc = qw_new(&qc, &a->worker, why);
		if (rc)
			goto fail;
	}
	LOG_INFO("async calls through NATS at %s%s%s", a->url, a->embed ? " (embedded nats-server)" : "",
		 a->worker ? ", with the embedded queue worker" : ", no embedded queue worker");
	pthread_rwlock_wrlock(&async_rw);
	gw->async = a;
	pthread_rwlock_unlock(&async_rw);
	return 0;
fail:
	async_free(a);
	return rc;
}

void async_stop(struct gateway *gw)
{
	struct gw_async *a;

	pthread_rwlock_wrlock(&async_rw);
	a = gw->async;
	gw->async = NULL;
	pthread_rwlock_unlock(&async_rw);
	if (!a)
		return;
	async_free(a);
	nats_CloseAndWait(5000);
}

/* ---- submit ------------------------------------------------------------------- */

/* Reads "NAME[.NS][/path]" from arg into the message's function, namespace
 * and path. 0, or an HTTP status with why. */
static int split_target(const char *arg, struct callmsg *m, struct buf *why)
{
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
	char full[160], name[80], ns[80];

	if (n == 0 || n >= sizeof(full)) {
		buf_printf(why, "no function name: use /async-function/NAME");
		return 400;
	}
	memcpy(full, arg, n);
	full[n] = '\0';
	if (wire_name_check(full, why))
		return 400;
	if (fn_split_name(full, name, sizeof(name), ns, sizeof(ns))) {
		buf_printf(why, "invalid function name");
		return 400;
	}
	m->function = strdup(name);
	m->namespace = strdup(ns);
	m->path = strdup(slash ? slash : "");
	if (!m->function || !m->namespace || !m->path) {
		buf_printf(why, "out of memory");
		return 500;
	}
	return 0;
}

static struct fn_entry *fn_slot(struct gw_async *a, const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return &a->fn_cache[h % FN_CACHE_SIZE];
}

/* Checks the function exists and copies its retry annotations (through
 * the cache when a is not NULL). */
static int load_function(struct gateway *gw, struct gw_async *a, struct callmsg *m,
			 struct buf *why)
{
	struct store_function f;
	struct wire_deploy d = { 0 };
	struct fn_entry *e = NULL;
	char key[160];
	int rc;

	snprintf(key, sizeof(key), "%s.%s", m->function, m->namespace);
	if (a) {
		e = fn_slot(a, key);
		pthread_mutex_lock(&a->fn_lock);
		if (!strcmp(e->key, key) && mono_ms() < e->until_ms) {
			rc = callmsg_set_retry(m, &e->holder.retry);
			pthread_mutex_unlock(&a->fn_lock);
			if (rc)
				buf_printf(why, "out of memory");
			return rc ? 500 : 0;
		}
		pthread_mutex_unlock(&a->fn_lock);
	}
	rc = store_function_get(gw->store, m->namespace, m->function, &f);
	if (rc == -ERR_NOT_FOUND) {
		buf_printf(why, "function '%s' not found in namespace '%s'", m->function, m->namespace);
		return 404;
	}
	if (rc) {
		buf_printf(why, "cannot read the function: %s", err_str(rc));
		return 500;
	}
	/* A deployment that no longer parses keeps the default policy. */
	if (!wire_deploy_parse(f.deployment, strlen(f.deployment), &d, NULL) &&
	    callmsg_set_retry(m, &d.annotations)) {
		rc = 500;
		buf_printf(why, "out of memory");
	}
	if (!rc && e) {
		pthread_mutex_lock(&a->fn_lock);
		if (!callmsg_set_retry(&e->holder, &m->retry)) {
			snprintf(e->key, sizeof(e->key), "%s", key);
			e->until_ms = mono_ms() + FN_CACHE_TTL_MS;
		} else {
			e->key[0] = '\0';
		}
		pthread_mutex_unlock(&a->fn_lock);
	}
	wire_deploy_release(&d);
	store_function_release(&f);
	return rc;
}

static int build_message(struct gw_req *req, struct gw_async *a, struct callmsg *m,
			 struct buf *why)
{
	const char *cb = gw_req_header(req, "X-Callback-Url");
	const char *id = gw_req_header(req, "X-Call-Id");
	char uuid[37];
	size_t i;
	int status;

	if ((status = split_target(req->arg, m, why)))
		return status;
	if (cb && *cb) {
		if (callmsg_url_check(cb, why))
			return 400;
		m->callback_url = strdup(cb);
	}
	if (id && *id) {
		if (callmsg_id_check(id, why))
			return 400;
	} else {
		url_uuid7(uuid);
		id = uuid;
	}
	m->call_id = strdup(id);
	m->method = strdup(req->method);
	m->query = strdup(req->query ? req->query : "");
	m->body = malloc(req->body_len + 1);
	if (!m->call_id || !m->method || !m->query || !m->body || (cb && *cb && !m->callback_url)) {
		buf_printf(why, "out of memory");
		return 500;
	}
	memcpy(m->body, req->body, req->body_len);
	m->body[req->body_len] = '\0';
	m->body_len = req->body_len;
	m->queued_at_ms = real_ms();
	for (i = 0; i < req->nhdrs; i++) {
		if (!strcasecmp(req->hdrs[i].name, "X-Call-Id"))
			continue;
		if (callmsg_hdrs_add(&m->header, req->hdrs[i].name, req->hdrs[i].value)) {
			buf_printf(why, "out of memory");
			return 500;
		}
	}
	if (callmsg_hdrs_add(&m->header, "X-Call-Id", m->call_id)) {
		buf_printf(why, "out of memory");
		return 500;
	}
	return load_function(req->gw, a, m, why);
}

/* publish_call's sent hook for a fresh call: commits the queued records
 * (this one among them) while JetStream stores the message. */
static void commit_records(void *store)
{
	store_call_insert_run(store);
}

/* Publishes a call message; 0 or an HTTP status with why. *maybe (may be
 * NULL) is set when the message went out but no answer came back, so
 * JetStream may have stored it after all. sent(arg) (sent may be NULL)
 * runs while JetStream's answer is awaited. */
static int publish_call(struct gw_async *a, const struct callmsg *m, const char *msg_id,
			void (*sent)(void *), void *arg, struct natsx_ack *ack, bool *maybe,
			struct buf *why)
{
	char subj[200];
	struct buf b;
	int64_t max = natsx_max_payload(a->nc);
	int rc = -ENOTSUP, status = 0;

	memset(ack, 0, sizeof(*ack));
	if (maybe)
		*maybe = false;
	if (m->namespace && strcmp(m->namespace, WIRE_DEFAULT_NAMESPACE))
		rc = callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_CALLS, m->function, m->namespace);
	else
		rc = callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_CALLS, m->function, NULL);
	if (rc) {
		buf_printf(why, "function name too long");
		return 400;
	}
	buf_init(&b, max > 0 ? (size_t)max : 64u * 1024 * 1024);
	rc = callmsg_dump(m, &b);
	if (rc == -ERR_TOO_BIG) {
		buf_printf(why, "the call does not fit in a queue message: the queue takes %lld bytes at most "
				"(NATS max_payload), and the body grows by a third in base64",
			   (long long)max);
		status = 413;
		goto out;
	}
	if (rc == -EINVAL) {
		buf_printf(why, "the call's path, query, headers and callback URL must be UTF-8 text");
		status = 400;
		goto out;
	}
	if (rc) {
		buf_printf(why, "cannot encode the call: %s", err_str(rc));
		status = 500;
		goto out;
	}
	rc = -ENOTSUP;
	if (a->pub && !atomic_load(&a->pub_off)) {
		rc = natspub_publish_then(a->pub, subj, b.data, b.len, msg_id, PUB_WAIT_MS, sent,
					  arg, ack, why);
		if (rc == -ENOTSUP) {
			if (!atomic_exchange(&a->pub_off, true))
				LOG_WARN("async calls are published through cnats from now on: %s",
					 buf_cstr(why));
			buf_reset(why);
		}
	}
	if (rc == -ENOTSUP) {
		/* cnats waits inside one call: the caller's work goes first. */
		if (sent)
			sent(arg);
		rc = natsx_publish(a->js, subj, b.data, b.len, msg_id, PUB_WAIT_MS, ack, why);
	}
	if (rc == -ERR_TOO_BIG) {
		status = 413;
	} else if (rc) {
		/* A missing stream answers "no responders": set it up again. */
		if (rc == -ERR_UNAVAILABLE || rc == -ERR_NOT_FOUND || rc == -ERR_TIMEOUT)
			atomic_store(&a->ready, false);
		if (maybe)
			*maybe = rc == -ERR_TIMEOUT;
		status = 503;
	}
out:
	buf_release(&b);
	return status;
}

/* Publishes a report of the gateway's own on call id: status in round, on
 * the condition of natsx_publish_if_last. */
static int tell(struct gw_async *a, const char *id, int round, enum callmsg_status status,
		int64_t expect_last, struct buf *why)
{
	struct callmsg_report r;
	struct buf data;
	char subj[160];
	int rc;

	memset(&r, 0, sizeof(r));
	r.call_id = (char *)id;
	r.round = round;
	r.status = status;
	if (status == CALLMSG_CANCELLED)
		r.finished_at_ms = real_ms();
	buf_init(&data, 4096);
	callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_RESULTS, id, NULL);
	rc = callmsg_report_dump(&r, &data);
	if (!rc)
		rc = natsx_publish_if_last(a->js, subj, data.data, data.len, NULL, expect_last,
					   PUB_WAIT_MS, NULL, why);
	buf_release(&data);
	return rc;
}

/*
 * Publishes the report that tells every worker the call is cancelled, on
 * the condition that the last report on the call is the one at sequence
 * expect_last (0: that there is none). A worker reads the last report
 * before it runs a call and publishes its start on the same kind of
 * condition, so of a cancel and a start that race exactly one is stored:
 * -ERR_EXISTS here means a worker came first (or another report did).
 */
static int tell_cancelled(struct gw_async *a, const char *id, int64_t expect_last,
			  struct buf *why)
{
	return tell(a, id, CALLMSG_ROUND_ANY, CALLMSG_CANCELLED, expect_last, why);
}

/* Publishes a report that round of call id is queued, attempts 0: what a
 * re-queue starts with. */
static int tell_queued(struct gw_async *a, const char *id, int round, struct buf *why)
{
	return tell(a, id, round, CALLMSG_QUEUED, NATSX_ANY_LAST, why);
}

/* Takes back a call that was published but could not be recorded: the
 * message is deleted and the workers are told it is cancelled, in case
 * one has fetched it already. False when one had started it: the call is
 * queued after all. */
static bool withdraw(struct gw_async *a, const char *id, uint64_t seq, const char *ctx)
{
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	if (natsx_delete_msg(a->js, CALLMSG_STREAM_CALLS, seq, &why)) {
		LOGC(WARN, ctx, "cannot delete the unrecorded call from the queue: %s",
		     buf_cstr(&why));
		buf_reset(&why);
	}
	rc = tell_cancelled(a, id, 0, &why);
	if (rc && rc != -ERR_EXISTS)
		LOGC(ERROR, ctx, "the unrecorded call cannot be cancelled (%s): it may still run",
		     buf_cstr(&why));
	buf_release(&why);
	return rc != -ERR_EXISTS;
}

/*
 * After a publish that went out with no answer: sends the message once more
 * with the same message id, on a fresh connection, so JetStream says whether
 * it has it (a copy it has is dropped as a duplicate and acked). 0 when the
 * call is queued; otherwise the status to answer, and the outcome stays
 * unknown.
 */
static int publish_again(struct gw_async *a, const struct callmsg *m, struct natsx_ack *ack,
			 struct buf *why, const char *ctx)
{
	int status;

	LOGC(WARN, ctx, "no answer from JetStream (%s): publishing once more", buf_cstr(why));
	buf_reset(why);
	status = publish_call(a, m, m->call_id, NULL, NULL, ack, NULL, why);
	if (!status)
		LOGC(INFO, ctx, "queued on the second try%s", ack->duplicate ? " (it was)" : "");
	return status;
}

/*
 * A call refused after its record was written (recorded true): the record
 * goes. When the message may have reached the queue after all (maybe: it
 * went out and no answer came), the workers are told first that the call
 * is cancelled, on the condition that none of them has reported on it
 * yet. If one has, the call is in the queue and running: true, and the
 * caller accepts it after all. Otherwise the record is cancelled too, so
 * the call does not run behind the client's back.
 */
static bool unrecord(struct gateway *gw, struct gw_async *a, const char *id, bool recorded,
		     bool maybe, const char *ctx)
{
	struct buf why;
	int rc, rc2;

	if (!maybe) {
		if (recorded && (rc = store_call_delete(gw->store, id)))
			LOGC(ERROR, ctx, "cannot delete the record of the refused call: %s",
			     err_str(rc));
		return false;
	}
	buf_init(&why, 1024);
	rc = tell_cancelled(a, id, 0, &why);
	if (rc == -ERR_EXISTS) {
		buf_release(&why);
		return true;
	}
	if (recorded && (rc2 = store_call_cancel(gw->store, id, real_ms())))
		LOGC(ERROR, ctx, "cannot cancel the record of the refused call: %s", err_str(rc2));
	if (rc)
		LOGC(ERROR, ctx, "the refused call may have been queued and cannot be "
				 "cancelled (%s): it may still run", buf_cstr(&why));
	else
		LOGC(WARN, ctx, "the refused call may have been queued: cancelled");
	buf_release(&why);
	return false;
}

static void answer_accepted(struct gw_resp *resp, const char *id)
{
	resp->status = 202;
	resp->content_type = "text/plain; charset=utf-8";
	gw_resp_header(resp, "X-Call-Id", id);
}

void async_submit(struct gw_req *req, struct gw_resp *resp)
{
	struct gateway *gw = req->gw;
	struct gw_async *a;
	struct callmsg m;
	struct store_call rec, old;
	struct store_ticket ticket;
	struct natsx_ack ack = { 0 };
	struct buf why;
	const char *own_id = gw_req_header(req, "X-Call-Id");
	bool inserted = false, maybe = false;
	char ctx[160];
	int status, rc;

	memset(&m, 0, sizeof(m));
	memset(&old, 0, sizeof(old));
	buf_init(&why, 2048);
	pthread_rwlock_rdlock(&async_rw);
	a = gw->async;
	status = build_message(req, a, &m, &why);
	if (status)
		goto out;
	if (!a) {
		status = 503;
		if (gw->stopping)
			buf_printf(&why, "the gateway is shutting down");
		else
			buf_printf(&why, "async calls are off: the gateway has no NATS server "
					 "(give --nats-url, or install nats-server)");
		goto out;
	}
	if (!usable(a)) {
		status = 503;
		buf_printf(&why, "the queue (NATS JetStream at %s) is not available; try again later",
			   a->url);
		goto out;
	}
	snprintf(ctx, sizeof(ctx), "call_id=%s function=%s", m.call_id, m.function);
	memset(&rec, 0, sizeof(rec));
	rec.id = m.call_id;
	rec.function = m.function;
	rec.namespace = m.namespace;
	rec.status = STORE_CALL_QUEUED;
	rec.queued_at_ms = m.queued_at_ms;
	rec.callback_url = m.callback_url;
	if (!own_id || !*own_id) {
		/* A fresh id cannot be taken: the record is written while the
		 * call is published, and the 202 waits for both. */
		rc = store_call_insert_start(gw->store, &rec, &ticket);
		if (rc) {
			status = 500;
			buf_printf(&why, "cannot record the call: %s", err_str(rc));
			goto out;
		}
		status = publish_call(a, &m, m.call_id, commit_records, gw->store, &ack, &maybe,
				      &why);
		rc = store_call_insert_wait(gw->store, &ticket);
		if (status && maybe)
			status = publish_again(a, &m, &ack, &why, ctx);
		if (status) {
			if (!unrecord(gw, a, m.call_id, rc == 0, maybe, ctx)) {
				LOGC(WARN, ctx, "async call refused (%d): %s", status,
				     buf_cstr(&why));
				goto out;
			}
			LOGC(INFO, ctx, "JetStream's answer was lost, but a worker has the call: "
					"accepted");
			status = 0;
			buf_reset(&why);
		} else if (rc && withdraw(a, m.call_id, ack.seq, ctx)) {
			status = 503;
			buf_printf(&why, "cannot record the call: %s", err_str(rc));
			goto out;
		}
		if (rc)
			/* A worker has it: it runs, and only the record is missing. */
			LOGC(ERROR, ctx, "the call is queued, but its record could not be written "
					 "(%s): it runs without one", err_str(rc));
		inserted = true;
		goto accepted;
	}
	/* The client's own id: it may be a resend, so look before publishing. */
	rc = store_call_insert(gw->store, &rec);
	if (rc == -ERR_EXISTS) {
		/* A resent X-Call-Id: the call is taken already. */
		rc = store_call_get(gw->store, m.call_id, &old);
		if (rc) {
			/* Gone again (its own publish failed): the client may retry. */
			status = 503;
			buf_printf(&why, "call id '%s' is being taken by another request; try again",
				   m.call_id);
			goto out;
		}
		if (strcmp(old.function, m.function) || strcmp(old.namespace, m.namespace)) {
			status = 409;
			buf_printf(&why, "call id '%s' is taken by a call to '%s'", m.call_id, old.function);
			goto out;
		}
		if (!(old.status == STORE_CALL_QUEUED && old.attempts == 0)) {
			LOGC(DEBUG, ctx, "resent call id: already %s", store_call_status_name(old.status));
			answer_accepted(resp, m.call_id);
			goto out;
		}
		/* Still queued: publish again, JetStream drops the duplicate. */
	} else if (rc) {
		status = 503;
		buf_printf(&why, "cannot record the call: %s", err_str(rc));
		goto out;
	} else {
		inserted = true;
	}
	status = publish_call(a, &m, m.call_id, NULL, NULL, &ack, &maybe, &why);
	if (status && maybe)
		status = publish_again(a, &m, &ack, &why, ctx);
	/* Only the request that wrote the record may undo it: a resend must
	 * not cancel the call the first request queued. */
	if (status && inserted && unrecord(gw, a, m.call_id, true, maybe, ctx)) {
		LOGC(INFO, ctx, "JetStream's answer was lost, but a worker has the call: accepted");
		status = 0;
		buf_reset(&why);
	} else if (status) {
		LOGC(WARN, ctx, "async call refused (%d): %s", status, buf_cstr(&why));
		goto out;
	}
accepted:
	/* Counted once, by the request that queued the call (another one
	 * with the same id may have published first). */
	if (inserted)
		metrics_async_add(gw->metrics, METRICS_ASYNC_QUEUED, 1);
	LOGC(DEBUG, ctx, "queued%s", ack.duplicate ? " (duplicate)" : "");
	answer_accepted(resp, m.call_id);
out:
	pthread_rwlock_unlock(&async_rw);
	if (status)
		gw_resp_error(resp, status, "%s", buf_cstr(&why));
	store_call_release(&old);
	callmsg_release(&m);
	buf_release(&why);
}

/* ---- cancel and re-queue ------------------------------------------------------- */

/* The record of call id into *c: 0, or 404 / 500 with why. */
static int read_call(struct gateway *gw, const char *id, struct store_call *c, struct buf *why)
{
	int rc;

	if (callmsg_id_check(id, why))
		return 404;
	rc = store_call_get(gw->store, id, c);
	if (rc == -ERR_NOT_FOUND) {
		buf_printf(why, "call '%s' not found", id);
		return 404;
	}
	if (rc) {
		buf_printf(why, "cannot read call '%s'", id);
		return 500;
	}
	return 0;
}

/* Whether the last report on id, after the one at sequence before, is a
 * cancel: a cancel whose answer was lost may be stored all the same. */
static bool cancel_stored(struct gw_async *a, const char *id, uint64_t before)
{
	struct callmsg_report r;
	struct buf why;
	uint64_t seq = 0;
	bool yes;

	buf_init(&why, 1024);
	yes = !qw_last_report(a->nc, a->js, id, &r, &seq, &why) && seq > before &&
	      r.status == CALLMSG_CANCELLED;
	callmsg_report_release(&r);
	buf_release(&why);
	return yes;
}

int async_cancel(struct gateway *gw, const char *id, struct buf *why)
{
	struct store_call c;
	struct callmsg_report last;
	struct gw_async *a;
	uint64_t seq = 0;
	int rc, status;

	memset(&c, 0, sizeof(c));
	memset(&last, 0, sizeof(last));
	pthread_rwlock_rdlock(&async_rw);
	a = gw->async;
	status = read_call(gw, id, &c, why);
	if (status)
		goto out;
	if (c.status != STORE_CALL_QUEUED) {
		status = 409;
		buf_printf(why, "call '%s' is %s: only a queued call can be cancelled", id,
			   store_call_status_name(c.status));
		goto out;
	}
	if (!usable(a)) {
		status = 503;
		buf_printf(why, "the queue (NATS JetStream) is not available: the workers cannot be told");
		goto out;
	}
	/* The record may lag behind the workers: what they said last decides,
	 * and the cancel is stored only if nothing was said since. */
	rc = qw_last_report(a->nc, a->js, id, &last, &seq, why);
	if (rc && rc != -ERR_NOT_FOUND) {
		status = 503;
		buf_reset(why);
		buf_printf(why, "cannot read the state of call '%s' from the queue; try again", id);
		goto out;
	}
	/* Running, or done already (its record not updated yet): too late.
	 * (A re-queued call's earlier round ended in a final report too, but
	 * the re-queue reports the new round as queued first.) */
	if (!rc && last.status != CALLMSG_QUEUED && last.status != CALLMSG_CANCELLED) {
		status = 409;
		buf_reset(why);
		buf_printf(why, "call '%s' is %s: only a queued call can be cancelled", id,
			   last.status == CALLMSG_RUNNING ? "running" : "finished");
		goto out;
	}
	rc = tell_cancelled(a, id, (int64_t)seq, why);
	if (rc == -ERR_TIMEOUT && cancel_stored(a, id, seq))
		rc = 0;
	if (rc == -ERR_EXISTS) {
		status = 409;
		buf_reset(why);
		buf_printf(why, "call '%s' has just been started: only a queued call can be "
				"cancelled", id);
		goto out;
	}
	if (rc) {
		status = 503;
		buf_reset(why);
		buf_printf(why, "the workers cannot be told to cancel call '%s'; try again", id);
		goto out;
	}
	rc = store_call_cancel(gw->store, id, real_ms());
	if (rc == -ERR_INVALID) {
		/* The results thread may have applied the cancel first. */
		store_call_release(&c);
		if (!read_call(gw, id, &c, why) && c.status == STORE_CALL_CANCELLED)
			rc = 0;
		buf_reset(why);
	}
	if (rc) {
		/* The workers have the cancel: they will not run the call. */
		char ctx[96];
		snprintf(ctx, sizeof(ctx), "call_id=%s", id);
		LOGC(ERROR, ctx, "the workers will not run the call, but its record cannot be "
				 "cancelled: %s", err_str(rc));
		status = 500;
		buf_printf(why, "call '%s' is cancelled, but its record could not be updated", id);
		goto out;
	}
	status = 200;
out:
	pthread_rwlock_unlock(&async_rw);
	callmsg_report_release(&last);
	store_call_release(&c);
	return status;
}

int async_requeue(struct gateway *gw, const char *id, struct buf *why)
{
	struct store_call c;
	struct callmsg m;
	struct gw_async *a;
	struct buf data;
	char subj[160], msg_id[128];
	struct natsx_ack ack;
	int rc, status;

	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	buf_init(&data, 64u * 1024 * 1024);
	pthread_rwlock_rdlock(&async_rw);
	a = gw->async;
	status = read_call(gw, id, &c, why);
	if (status)
		goto out;
	if (c.status != STORE_CALL_DEAD_LETTER && c.status != STORE_CALL_FAILED) {
		status = 409;
		buf_printf(why, "call '%s' is %s: only a dead-letter or failed call can be retried", id,
			   store_call_status_name(c.status));
		goto out;
	}
	if (!usable(a)) {
		status = 503;
		buf_printf(why, "the queue (NATS JetStream) is not available; try again later");
		goto out;
	}
	callmsg_subject(subj, sizeof(subj), CALLMSG_SUBJ_DLQ, id, NULL);
	rc = natsx_last_msg(a->js, CALLMSG_STREAM_DLQ, subj, &data, NULL, why);
	if (rc) {
		status = rc == -ERR_NOT_FOUND ? 409 : 503;
		buf_reset(why);
		buf_printf(why, rc == -ERR_NOT_FOUND ?
				"the dead letter of call '%s' is not kept any more: it cannot be retried" :
				"cannot read the dead letter of call '%s'", id);
		goto out;
	}
	rc = callmsg_parse(data.data, data.len, &m, why);
	if (rc) {
		status = 500;
		goto out;
	}
	m.round++;
	m.queued_at_ms = real_ms();
	rc = store_call_requeue(gw->store, id, m.queued_at_ms);
	if (rc) {
		status = rc == -ERR_INVALID ? 409 : 500;
		buf_printf(why, "call '%s' cannot be retried now: %s", id, err_str(rc));
		goto out;
	}
	snprintf(msg_id, sizeof(msg_id), "%s.r%d", id, m.round);
	buf_reset(why);
	/* The new round is queued as far as the workers and a cancel can
	 * tell: without it, the last report would be the old round's end. */
	rc = tell_queued(a, id, m.round, why);
	status = rc ? 503 : publish_call(a, &m, msg_id, NULL, NULL, &ack, NULL, why);
	if (status) {
		struct store_call back;
		memset(&back, 0, sizeof(back));
		back.id = (char *)id;
		back.status = STORE_CALL_DEAD_LETTER;
		back.finished_at_ms = real_ms();
		back.error = (char *)"the retry could not be queued";
		store_call_update(gw->store, &back, NULL);
		goto out;
	}
	metrics_async_add(gw->metrics, METRICS_ASYNC_QUEUED, 1);
	status = 202;
out:
	pthread_rwlock_unlock(&async_rw);
	store_call_release(&c);
	callmsg_release(&m);
	buf_release(&data);
	return status;
}
