/*
 * replicas.c - functions to replicas, least-in-flight picking.
 *
 * Functions sit in a singly linked list and each keeps an array of its
 * replicas: a gateway runs tens or hundreds of functions, and the request
 * path looks one up by name under the lock, which a list serves well
 * enough. A replica is reference counted (one reference for the set, one
 * per request using it) so that a provider may drop a replica while a
 * request still holds it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "replicas.h"
#include "spawn.h"
#include "banned.h"

struct replicas {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct rs_function *fns;
};

int replicas_new(struct replicas **out)
{
	struct replicas *rs;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	pthread_mutex_init(&rs->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&rs->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc) {
		pthread_mutex_destroy(&rs->mu);
		free(rs);
		return -rc;
	}
	*out = rs;
	return 0;
}

static void function_free(struct rs_function *fn)
{
	size_t i;

	for (i = 0; i < fn->nreps; i++)
		free(fn->reps[i]);
	free(fn->reps);
	free(fn->ns);
	free(fn->name);
	free(fn);
}

void replicas_free(struct replicas *rs)
{
	struct rs_function *fn, *next;

	if (!rs)
		return;
	for (fn = rs->fns; fn; fn = next) {
		next = fn->next;
		function_free(fn);
	}
	pthread_cond_destroy(&rs->cond);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

void replicas_lock(struct replicas *rs)
{
	pthread_mutex_lock(&rs->mu);
}

void replicas_unlock(struct replicas *rs)
{
	pthread_mutex_unlock(&rs->mu);
}

void replicas_broadcast(struct replicas *rs)
{
	pthread_cond_broadcast(&rs->cond);
}

int replicas_wait(struct replicas *rs, int64_t deadline_ms)
{
	struct timespec ts;

	if (!deadline_ms) {
		pthread_cond_wait(&rs->cond, &rs->mu);
		return 0;
	}
	if (mono_ms() >= deadline_ms)
		return -ERR_TIMEOUT;
	ts.tv_sec = deadline_ms / 1000;
	ts.tv_nsec = (deadline_ms % 1000) * 1000000;
	if (pthread_cond_timedwait(&rs->cond, &rs->mu, &ts) == ETIMEDOUT)
		return -ERR_TIMEOUT;
	return 0;
}

struct rs_function *replicas_find(struct replicas *rs, const char *ns, const char *name)
{
	struct rs_function *fn;

	for (fn = rs->fns; fn; fn = fn->next)
		if (!strcmp(fn->name, name) && !strcmp(fn->ns, ns))
			return fn;
	return NULL;
}

struct rs_function *replicas_next(struct replicas *rs, struct rs_function *prev)
{
	return prev ? prev->next : rs->fns;
}

int replicas_add_function(struct replicas *rs, const char *ns, const char *name,
			  struct rs_function **out)
{
	struct rs_function *fn;

	*out = NULL;
	if (replicas_find(rs, ns, name))
		return -ERR_EXISTS;
	fn = calloc(1, sizeof(*fn));
	if (!fn)
		return -ENOMEM;
	fn->ns = strdup(ns);
	fn->name = strdup(name);
	if (!fn->ns || !fn->name) {
		function_free(fn);
		return -ENOMEM;
	}
	fn->generation = 1;
	fn->next_index = 1;
	fn->next = rs->fns;
	rs->fns = fn;
	*out = fn;
	return 0;
}

int replicas_remove_function(struct replicas *rs, struct rs_function *fn)
{
	struct rs_function **pp;

	if (fn->nreps)
		return -ERR_EXISTS;
	for (pp = &rs->fns; *pp; pp = &(*pp)->next) {
		if (*pp == fn) {
			*pp = fn->next;
			function_free(fn);
			pthread_cond_broadcast(&rs->cond);
			return 0;
		}
	}
	return -ERR_NOT_FOUND;
}

int replicas_add(struct replicas *rs, struct rs_function *fn, unsigned generation,
		 struct rs_replica **out)
{
	struct rs_replica *r;

	*out = NULL;
	if (fn->nreps == fn->cap) {
		size_t cap = fn->cap ? fn->cap * 2 : 4;
		struct rs_replica **reps = realloc(fn->reps, cap * sizeof(*reps));

		if (!reps)
			return -ENOMEM;
		fn->reps = reps;
		fn->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fn = fn;
	r->index = fn->next_index++;
	snprintf(r->instance, sizeof(r->instance), "%s-%u", fn->name, r->index);
	snprintf(r->host, sizeof(r->host), "127.0.0.1");
	r->state = RS_STARTING;
	r->generation = generation;
	r->refs = 1;
	fn->reps[fn->nreps++] = r;
	(void)rs;
	*out = r;
	return 0;
}

void replicas_set_state(struct replicas *rs, struct rs_replica *r, enum rs_state state)
{
	if (r->state == state)
		return;
	r->state = state;
	pthread_cond_broadcast(&rs->cond);
}

static void replica_unref(struct rs_replica *r)
{
	if (--r->refs == 0)
		free(r);
}

void replicas_detach(struct replicas *rs, struct rs_replica *r)
{
	struct rs_function *fn = r->fn;
	size_t i;

	if (!fn)
		return;
	for (i = 0; i < fn->nreps; i++) {
		if (fn->reps[i] == r) {
			memmove(&fn->reps[i], &fn->reps[i + 1],
				(fn->nreps - i - 1) * sizeof(fn->reps[0]));
			fn->nreps--;
			break;
		}
	}
	r->fn = NULL;
	r->priv = NULL;
	pthread_cond_broadcast(&rs->cond);
	replica_unref(r);
}

unsigned replicas_count(const struct rs_function *fn, unsigned mask, unsigned generation)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < fn->nreps; i++) {
		const struct rs_replica *r = fn->reps[i];

		if ((mask & RS_MASK(r->state)) && (!generation || r->generation == generation))
			n++;
	}
	return n;
}

/* The ready replica with the fewest requests in flight; among equals the
 * scan starts one further each time, so idle replicas share the load. */
static struct rs_replica *pick(struct rs_function *fn)
{
	struct rs_replica *best = NULL;
	size_t i, start;

	if (!fn->nreps)
		return NULL;
	start = fn->rr++ % fn->nreps;
	for (i = 0; i < fn->nreps; i++) {
		struct rs_replica *r = fn->reps[(start + i) % fn->nreps];

		if (r->state == RS_READY && (!best || r->inflight < best->inflight))
			best = r;
	}
	return best;
}

int replicas_acquire(struct replicas *rs, const char *ns, const char *name,
		     int64_t deadline_ms, struct prov_replica *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&rs->mu);
	for (;;) {
		struct rs_function *fn = replicas_find(rs, ns, name);
		struct rs_replica *r;

		if (!fn || fn->removing) {
			rc = -ERR_NOT_FOUND;
			break;
		}
		r = pick(fn);
		if (r) {
			r->inflight++;
			r->refs++;
			snprintf(out->host, sizeof(out->host), "%s", r->host);
			out->port = r->port;
			snprintf(out->instance, sizeof(out->instance), "%s", r->instance);
			out->token = r;
			rc = 0;
			break;
		}
		if (deadline_ms <= 0 || replicas_wait(rs, deadline_ms) == -ERR_TIMEOUT) {
			rc = -ERR_UNAVAILABLE;
			break;
		}
	}
	pthread_mutex_unlock(&rs->mu);
	return rc;
}

bool replicas_release(struct replicas *rs, struct prov_replica *pr, bool failed)
{
	struct rs_replica *r = pr->token;
	bool look = false;

	if (!r)
		return false;
	pthread_mutex_lock(&rs->mu);
	if (r->inflight)
		r->inflight--;
	if (r->fn) {
		if (failed) {
			r->check_now = true;
			look = true;
		}
		if (r->state == RS_DRAINING && r->inflight == 0)
			look = true;
	}
	replica_unref(r);
	pthread_mutex_unlock(&rs->mu);
	pr->token = NULL;
	return look;
}

int replicas_status(struct replicas *rs, const char *ns, const char *name,
		    struct prov_status *out)
{
	struct rs_function *fn;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	replicas_lock(rs);
	fn = replicas_find(rs, ns, name);
	if (!fn || fn->removing) {
		rc = -ERR_NOT_FOUND;
	} else {
		out->desired = fn->desired;
		out->available = replicas_count(fn, RS_MASK(RS_READY), 0);
	}
	replicas_unlock(rs);
	return rc;
}

struct rs_replica *replicas_victim(struct rs_function *fn)
{
	static const int rank[] = { [RS_BACKOFF] = 0, [RS_STARTING] = 1, [RS_READY] = 2 };
	struct rs_replica *best = NULL;
	size_t i;

	for (i = 0; i < fn->nreps; i++) {
		struct rs_replica *r = fn->reps[i];

		if (r->state == RS_DRAINING || r->generation != fn->generation)
			continue;
		if (!best || rank[r->state] < rank[best->state] ||
		    (rank[r->state] == rank[best->state] &&
		     (r->inflight < best->inflight ||
		      (r->inflight == best->inflight && r->index > best->index))))
			best = r;
	}
	return best;
}

void replicas_reconcile(struct rs_function *fn, int64_t now, int64_t update_deadline,
			int64_t *wake_at, const struct rs_actions *act, void *provider)
{
	unsigned live_mask = RS_ANY & ~RS_MASK(RS_DRAINING);
	unsigned live = replicas_count(fn, live_mask, fn->generation);
	unsigned old = replicas_count(fn, live_mask, 0) - live;
	size_t i;

	while (live < fn->desired && !act->start(provider, fn, now))
		live++;
	while (live > fn->desired) {
		struct rs_replica *r = replicas_victim(fn);

		if (!r)
			break;
		act->drain(provider, r, now);
		live--;
	}
	if (!old)
		return;
	if (fn->desired == 0 || now >= update_deadline ||
	    replicas_count(fn, RS_MASK(RS_READY), fn->generation) >= fn->desired) {
		for (i = 0; i < fn->nreps; i++) {
			struct rs_replica *r = fn->reps[i];

			if (r->generation != fn->generation && r->state != RS_DRAINING)
				act->drain(provider, r, now);
		}
	} else if (update_deadline < *wake_at) {
		*wake_at = update_deadline;
	}
}
