/*
 * autoscale.h - replicas that follow the load, from the scaling labels.
 *
 * Every second, for each function: with com.openfaas.scale.target set, the
 * desired replicas become ceil(calls in flight / target) within
 * [min, max] (up at once, down after the load stayed lower for
 * AUTOSCALE_DOWN_MS); with com.openfaas.scale.zero=true, a function that
 * had no call for com.openfaas.scale.zero-duration goes to 0 replicas (its
 * next call starts it again). Each tick also sweeps the replica
 * connection pool (pool_sweep).
 */
#ifndef GW_AUTOSCALE_H
#define GW_AUTOSCALE_H

#include "gw.h"

#define AUTOSCALE_PERIOD_MS 1000
#define AUTOSCALE_DOWN_MS 30000

struct autoscale;

int autoscale_start(struct gateway *gw, struct autoscale **out);
/* Stops the thread and frees a (NULL is fine). */
void autoscale_stop(struct autoscale *a);

/* One pass over every function (the thread calls it each period). */
void autoscale_tick(struct autoscale *a);

#endif
