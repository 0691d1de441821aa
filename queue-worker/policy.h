/*
 * policy.h - the queue worker's decisions, as pure functions: which
 * answers are retried, how long to wait before the next attempt, which
 * headers travel, and the URL a call goes to. No I/O, so they are
 * unit-tested with tables (tests/unit/check_worker.c).
 */
#ifndef QW_POLICY_H
#define QW_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "callmsg.h"
#include "wire.h"

/* Longest wait a Retry-After header can ask for. */
#define POLICY_RETRY_AFTER_MAX_MS (60LL * 60 * 1000)

/* The status recorded for a call that got no HTTP answer (connection
 * refused, timeout, the worker stopped): the gateway could not serve it. */
#define POLICY_NO_ANSWER_STATUS 502

enum policy_verdict {
	POLICY_SUCCEEDED, /* a status below 400 */
	POLICY_RETRY,     /* no answer, or a status in the retried codes */
	POLICY_FAILED,    /* any other status: retrying would not help */
};

/* The retry policy of a call: the worker's defaults (attempts, waits, the
 * codes of DESIGN.md) overridden by the com.openfaas.retry.* annotations
 * the call carries (ann may be NULL). Annotations that do not combine
 * with the defaults (min_wait above the default max_wait, say) are applied
 * to DESIGN.md's defaults instead; annotations that are invalid even then
 * are ignored. */
void policy_retry(unsigned attempts, int64_t min_wait_ms, int64_t max_wait_ms,
		  const struct wire_map *ann, struct wire_retry *out);

/* What to do with an answer (status 0: no answer at all). */
enum policy_verdict policy_classify(const struct wire_retry *r, int status);

/* Exponential back-off after attempt (1-based) failed: min_wait doubled
 * per attempt, capped at max_wait, then jittered to [d/2, d] with rnd in
 * [0, 1). */
int64_t policy_backoff_ms(const struct wire_retry *r, unsigned attempt, double rnd);

/* The wait a Retry-After value asks for, in ms from now: delta-seconds or
 * an HTTP date (IMF-fixdate). -1 when absent or unreadable; capped at
 * POLICY_RETRY_AFTER_MAX_MS. */
int64_t policy_retry_after_ms(const char *value, int64_t now_unix_ms);

/* The delay before the next attempt: the back-off, or the Retry-After
 * wait when that is longer. */
int64_t policy_delay_ms(const struct wire_retry *r, unsigned attempt, const char *retry_after,
			int64_t now_unix_ms, double rnd);

/* Appends the URL of the call: gateway + /function/NAME[.NS] + path
 * (percent-encoded where needed) + ?query. ns is left out for the default
 * namespace. 0, -ERR_TOO_BIG, -ENOMEM. */
int policy_function_url(struct buf *out, const char *gateway, const struct callmsg *m);

/* True for request headers that go from the queued call to the function:
 * everything but hop-by-hop headers, Host, Content-Length, Expect and
 * X-Callback-Url. */
bool policy_forward_header(const char *name);

/* True for function answer headers copied onto the callback: everything
 * but hop-by-hop headers, Content-Length, Date, Server and the headers the
 * callback sets itself (X-Call-Id, X-Function-*, X-Duration-Seconds,
 * X-Attempts). */
bool policy_callback_header(const char *name);

#endif
