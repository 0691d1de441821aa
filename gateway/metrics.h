/*
 * metrics.h - the gateway's Prometheus counters.
 *
 * Per function ("name.namespace", as OpenFaaS labels them): invocations by
 * status code, a latency histogram, calls started; plus the async
 * counters. Rendered in the Prometheus text format. Thread-safe.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdint.h>

#include "buf.h"

struct metrics;

enum metrics_async {
	METRICS_ASYNC_QUEUED,
	METRICS_ASYNC_RETRIES,
	METRICS_ASYNC_DEAD_LETTER,
	METRICS_ASYNC_N
};

int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* A call to fn started. */
void metrics_started(struct metrics *m, const char *fn);
/* A call to fn ended with code after seconds. */
void metrics_observe(struct metrics *m, const char *fn, int code, double seconds);
/* Calls of fn that ended (any code). */
uint64_t metrics_invocations(struct metrics *m, const char *fn);
/* Calls of fn that ended, and those with a 5xx code, so far. */
void metrics_totals(struct metrics *m, const char *fn, uint64_t *total, uint64_t *errors);
/* Calls of fn in flight now, and when one last started or ended (mono_ms;
 * 0 if never). For the autoscaler. */
void metrics_activity(struct metrics *m, const char *fn, int64_t *inflight, int64_t *last_ms);
/* Drops fn's series (the function was deleted). */
void metrics_forget(struct metrics *m, const char *fn);
void metrics_async_add(struct metrics *m, enum metrics_async which, uint64_t n);

/* Appends every series in the text format. Gauges the caller knows
 * (replica counts, pending calls) are appended by the caller. */
int metrics_render(struct metrics *m, struct buf *out);

#endif
