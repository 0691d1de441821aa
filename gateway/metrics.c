#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics.h"
#include "spawn.h"
#include "banned.h"

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct code_series {
	int code;
	uint64_t count;
	double sum;
	uint64_t bucket[NBUCKETS];
	struct code_series *next;
};

struct fn_series {
	char *name;
	uint64_t started;
	int64_t inflight;
	int64_t last_ms;              /* mono_ms of the last start or end */
	struct code_series *codes;
	struct fn_series *next;
};

struct metrics {
	pthread_mutex_t mu;
	struct fn_series *fns;
	uint64_t async[METRICS_ASYNC_N];
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

static void free_fn(struct fn_series *f)
{
	while (f->codes) {
		struct code_series *c = f->codes;
		f->codes = c->next;
		free(c);
	}
	free(f->name);
	free(f);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	while (m->fns) {
		struct fn_series *f = m->fns;
		m->fns = f->next;
		free_fn(f);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Finds or creates fn's series; called with mu held. NULL on ENOMEM. */
static struct fn_series *get_fn(struct metrics *m, const char *fn, bool create)
{
	struct fn_series *f;

	for (f = m->fns; f; f = f->next)
		if (!strcmp(f->name, fn))
			return f;
	if (!create)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(fn))) {
		free(f);
		return NULL;
	}
	f->next = m->fns;
	m->fns = f;
	return f;
}

void metrics_started(struct metrics *m, const char *fn)
{
	struct fn_series *f;

	pthread_mutex_lock(&m->mu);
	f = get_fn(m, fn, true);
	if (f) {
		f->started++;
		f->inflight++;
		f->last_ms = mono_ms();
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_observe(struct metrics *m, const char *fn, int code, double seconds)
{
	struct fn_series *f;
	struct code_series *c;
	size_t i;

	pthread_mutex_lock(&m->mu);
	f = get_fn(m, fn, true);
	if (!f)
		goto out;
	if (f->inflight > 0)
		f->inflight--;
	f->last_ms = mono_ms();
	for (c = f->codes; c && c->code != code; c = c->next)
		;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			goto out;
		c->code = code;
		c->next = f->codes;
		f->codes = c;
	}
	c->count++;
	c->sum += seconds;
	for (i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			c->bucket[i]++;
out:
	pthread_mutex_unlock(&m->mu);
}

void metrics_totals(struct metrics *m, const char *fn, uint64_t *total, uint64_t *errors)
{
	struct fn_series *f;
	struct code_series *c;

	*total = 0;
	if (errors)
		*errors = 0;
	pthread_mutex_lock(&m->mu);
	f = get_fn(m, fn, false);
	for (c = f ? f->codes : NULL; c; c = c->next) {
		*total += c->count;
		if (errors && c->code >= 500)
			*errors += c->count;
	}
	pthread_mutex_unlock(&m->mu);
}

uint64_t metrics_invocations(struct metrics *m, const char *fn)
{
	uint64_t total;

	metrics_totals(m, fn, &total, NULL);
	return total;
}

void metrics_activity(struct metrics *m, const char *fn, int64_t *inflight, int64_t *last_ms)
{
	struct fn_series *f;

	pthread_mutex_lock(&m->mu);
	f = get_fn(m, fn, false);
	*inflight = f ? f->inflight : 0;
	*last_ms = f ? f->last_ms : 0;
	pthread_mutex_unlock(&m->mu);
}

void metrics_forget(struct metrics *m, const char *fn)
{
	struct fn_series **pp, *f;

	pthread_mutex_lock(&m->mu);
	for (pp = &m->fns; (f = *pp); pp = &f->next) {
		if (!strcmp(f->name, fn)) {
			*pp = f->next;
			free_fn(f);
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_async_add(struct metrics *m, enum metrics_async which, uint64_t n)
{
	pthread_mutex_lock(&m->mu);
	m->async[which] += n;
	pthread_mutex_unlock(&m->mu);
}

int metrics_render(struct metrics *m, struct buf *out)
{
	struct fn_series *f;
	struct code_series *c;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	rc |= buf_adds(out, "# HELP gateway_function_invocation_total Function calls that ended, by status code.\n"
		      "# TYPE gateway_function_invocation_total counter\n");
	for (f = m->fns; f; f = f->next)
		for (c = f->codes; c; c = c->next)
			rc |= buf_printf(out, "gateway_function_invocation_total{code=\"%d\",function_name=\"%s\"} %llu\n",
				   c->code, f->name, (unsigned long long)c->count);
	rc |= buf_adds(out, "# HELP gateway_functions_seconds Function call duration.\n"
		      "# TYPE gateway_functions_seconds histogram\n");
	for (f = m->fns; f; f = f->next) {
		for (c = f->codes; c; c = c->next) {
			for (i = 0; i < NBUCKETS; i++)
				rc |= buf_printf(out, "gateway_functions_seconds_bucket{code=\"%d\",function_name=\"%s\",le=\"%g\"} %llu\n",
					   c->code, f->name, buckets[i], (unsigned long long)c->bucket[i]);
			rc |= buf_printf(out, "gateway_functions_seconds_bucket{code=\"%d\",function_name=\"%s\",le=\"+Inf\"} %llu\n",
				   c->code, f->name, (unsigned long long)c->count);
			rc |= buf_printf(out, "gateway_functions_seconds_sum{code=\"%d\",function_name=\"%s\"} %.9g\n",
				   c->code, f->name, c->sum);
			rc |= buf_printf(out, "gateway_functions_seconds_count{code=\"%d\",function_name=\"%s\"} %llu\n",
				   c->code, f->name, (unsigned long long)c->count);
		}
	}
	rc |= buf_adds(out, "# HELP gateway_function_invocation_started Function calls started.\n"
		      "# TYPE gateway_function_invocation_started counter\n");
	for (f = m->fns; f; f = f->next)
		rc |= buf_printf(out, "gateway_function_invocation_started{function_name=\"%s\"} %llu\n",
			   f->name, (unsigned long long)f->started);
	rc |= buf_printf(out, "# HELP cfaas_async_queued_total Async calls accepted into the queue.\n"
			"# TYPE cfaas_async_queued_total counter\ncfaas_async_queued_total %llu\n"
			"# HELP cfaas_async_retries_total Async call attempts that were retried.\n"
			"# TYPE cfaas_async_retries_total counter\ncfaas_async_retries_total %llu\n"
			"# HELP cfaas_async_dead_letter_total Async calls moved to the dead-letter stream.\n"
			"# TYPE cfaas_async_dead_letter_total counter\ncfaas_async_dead_letter_total %llu\n",
		   (unsigned long long)m->async[METRICS_ASYNC_QUEUED],
		   (unsigned long long)m->async[METRICS_ASYNC_RETRIES],
		   (unsigned long long)m->async[METRICS_ASYNC_DEAD_LETTER]);
	pthread_mutex_unlock(&m->mu);
	/* Any failed append means a cut answer: report it, never half of it. */
	return rc ? -ERR_TOO_BIG : 0;
}
