/*
 * invoke.h - the queue worker's HTTP client (libcurl): one call to the
 * gateway's /function/ route, or one callback POST.
 *
 * Each worker thread owns a struct invoke, whose kept-alive connections
 * are reused from call to call. Redirects are never followed; the answer
 * body is capped; a cancel flag aborts a call in flight.
 */
#ifndef QW_INVOKE_H
#define QW_INVOKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "callmsg.h"

struct invoke {
	void *curl; /* CURL easy handle */
};

struct invoke_req {
	const char *method;
	const char *url;
	const struct callmsg_hdrs *hdrs;   /* may be NULL */
	bool (*keep)(const char *name);    /* filters hdrs; NULL keeps all */
	const char *const *extra;          /* "Name: value" lines, NULL-ended; may be NULL */
	const void *body;
	size_t body_len;
	int64_t timeout_ms;                /* whole call; 0: none */
	uint64_t max_response;             /* answer body cap */
	bool no_proxy;                     /* ignore http_proxy & co. */
	const atomic_int *cancel;          /* non-zero aborts; may be NULL */
};

struct invoke_resp {
	int status;                 /* 0: no HTTP answer (see error) */
	struct callmsg_hdrs headers; /* of the final answer */
	struct buf body;
	double seconds;
	char error[256];            /* why there is no answer, or "" */
	bool too_big;               /* the body went over max_response */
	bool cancelled;             /* aborted through the cancel flag */
	bool connect_failed;        /* no connection: the request never left */
};

/* Sets up h (creates the curl handle). 0 or -ENOMEM. */
int invoke_init(struct invoke *h);

/* Frees what h owns; h may be NULL or released already. */
void invoke_release(struct invoke *h);

/*
 * Runs one request. out is initialised here (release it with
 * invoke_resp_release even on failure). Returns 0 when an answer came
 * (any status), or -ERR_UNAVAILABLE when none did: connect error, timeout,
 * a body over the cap (too_big), a cancel (cancelled); error says which.
 */
int invoke_run(struct invoke *h, const struct invoke_req *rq, struct invoke_resp *out);

void invoke_resp_release(struct invoke_resp *r);

/* Calls curl_global_init once per process; safe from any thread. */
void invoke_global_init(void);

#endif
