#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoscale.h"
#include "err.h"
#include "functions.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "spawn.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

/* What the autoscaler remembers of a function between passes. */
struct fn_state {
	char key[160];
	int64_t low_since_ms;         /* load has wanted fewer replicas since */
	struct fn_state *next;
};

struct autoscale {
	struct gateway *gw;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	struct fn_state *states;
};

static struct fn_state *state_of(struct autoscale *a, const char *key)
{
	struct fn_state *s;

	for (s = a->states; s; s = s->next)
		if (!strcmp(s->key, key))
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->key, key, strnlen(key, sizeof(s->key) - 1));
	s->next = a->states;
	a->states = s;
	return s;
}

static void scale(struct autoscale *a, const struct store_function *f, unsigned n,
		  const char *why_text)
{
	struct buf why;

	buf_init(&why, 512);
	LOG_INFO("Autoscaling %s.%s from %lld to %u replica(s): %s", f->name, f->namespace,
		 (long long)f->replicas, n, why_text);
	if (fn_scale(a->gw, f->namespace, f->name, n, &why) >= 400)
		LOG_WARN("autoscale of %s.%s failed: %s", f->name, f->namespace, buf_cstr(&why));
	buf_release(&why);
}

static void check(struct autoscale *a, const struct store_function *f, int64_t now_mono,
		  int64_t now_real)
{
	struct wire_deploy d = { 0 };
	struct wire_scaling sc;
	struct fn_state *st;
	int64_t inflight, last_ms, idle_ms;
	char key[160];
	uint64_t want, floor_n;

	if (wire_deploy_parse(f->deployment, strlen(f->deployment), &d, NULL) ||
	    wire_scaling_from_labels(&d.labels, &sc, NULL))
		goto out;
	fn_key(f->namespace, f->name, key, sizeof(key));
	metrics_activity(a->gw->metrics, key, &inflight, &last_ms);
	/* Idle since the last call, or since the last deploy or scale. */
	idle_ms = now_real - f->updated_at_ms;
	if (last_ms && now_mono - last_ms < idle_ms)
		idle_ms = now_mono - last_ms;
	if (sc.zero && f->replicas > 0 && inflight == 0 && idle_ms >= sc.zero_duration_ms) {
		scale(a, f, 0, "idle for com.openfaas.scale.zero-duration");
		goto out;
	}
	if (!sc.target || f->replicas == 0)
		goto out;
	st = state_of(a, key);
	if (!st)
		goto out;
	want = ((uint64_t)inflight + sc.target - 1) / sc.target;
	floor_n = sc.min ? sc.min : 1;
	if (want < floor_n)
		want = floor_n;
	if (want > sc.max)
		want = sc.max;
	if (want > (uint64_t)f->replicas) {
		st->low_since_ms = 0;
		scale(a, f, (unsigned)want, "calls in flight above com.openfaas.scale.target");
	} else if (want < (uint64_t)f->replicas) {
		if (!st->low_since_ms)
			st->low_since_ms = now_mono;
		else if (now_mono - st->low_since_ms >= AUTOSCALE_DOWN_MS) {
			st->low_since_ms = 0;
			scale(a, f, (unsigned)want, "load stayed lower");
		}
	} else {
		st->low_since_ms = 0;
	}
out:
	wire_deploy_release(&d);
}

void autoscale_tick(struct autoscale *a)
{
	struct store_function *fs = NULL;
	size_t n = 0, i;
	int64_t now_mono = mono_ms(), now_real = real_ms();

	/* The autoscaler's tick also keeps the connection pool clean. */
	pool_sweep(a->gw->pool);
	if (store_function_list(a->gw->store, NULL, &fs, &n))
		return;
	for (i = 0; i < n && !a->gw->stopping; i++)
		check(a, &fs[i], now_mono, now_real);
	store_function_list_free(fs, n);
}

static void *run(void *arg)
{
	struct autoscale *a = arg;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		struct timespec ts;

		mono_deadline_ts(AUTOSCALE_PERIOD_MS, &ts);
		pthread_cond_timedwait(&a->cond, &a->mu, &ts);
		if (a->stop)
			break;
		pthread_mutex_unlock(&a->mu);
		autoscale_tick(a);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int autoscale_start(struct gateway *gw, struct autoscale **out)
{
	struct autoscale *a = calloc(1, sizeof(*a));
	pthread_condattr_t ca;
	int rc;

	if (!a)
		return -ENOMEM;
	a->gw = gw;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&a->thread, NULL, run, a);
	if (rc) {
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return -rc;
	}
	*out = a;
	return 0;
}

void autoscale_stop(struct autoscale *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	while (a->states) {
		struct fn_state *s = a->states;
		a->states = s->next;
		free(s);
	}
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
