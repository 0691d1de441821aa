/*
 * replicas.h - the replicas of every function, for any provider.
 *
 * A replica set maps functions (namespace + name) to their replicas. Each
 * replica has a state, the generation of the function's spec it runs, an
 * address and a count of requests in flight. Providers own the life cycle
 * (they create replicas, start and stop what runs them and move them from
 * state to state); the gateway's request path only calls
 * replicas_acquire() and replicas_release(), which pick the ready replica
 * with the fewest requests in flight and wait, on a condition variable,
 * until one is ready.
 *
 * Locking: one mutex guards the whole set. Functions marked "locked" must
 * be called with it held (replicas_lock()); the fields of struct
 * rs_function and struct rs_replica are read and written under it, except
 * the priv pointers' targets, which belong to the provider. Function and
 * replica structs stay valid while the lock is held; a replica handed out
 * by replicas_acquire() stays valid (detached, if it was removed) until it
 * is released.
 */
#ifndef GW_REPLICAS_H
#define GW_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider.h"

struct replicas;

enum rs_state {
	RS_STARTING, /* running, not (or no longer) answering its health check */
	RS_READY,    /* health answered 200: requests may go there */
	RS_DRAINING, /* being stopped; serves what it has, gets nothing new */
	RS_BACKOFF,  /* not running; waiting to be restarted */
};

/* Masks for replicas_count(). */
#define RS_MASK(state) (1u << (state))
#define RS_ANY 0xfu

struct rs_function;

struct rs_replica {
	struct rs_function *fn;  /* NULL once detached */
	char instance[96];       /* "<name>-<index>", unique per function */
	char host[64];
	int port;                /* 0 until the provider knows it */
	enum rs_state state;
	unsigned generation;     /* of the spec it runs */
	unsigned index;
	unsigned inflight;       /* acquired and not released yet */
	bool check_now;          /* a caller could not reach it */
	void *priv;              /* the provider's */
	unsigned refs;           /* internal: the set's and acquirers' */
};

struct rs_function {
	struct rs_function *next; /* internal */
	char *ns, *name;
	unsigned desired;
	unsigned generation;      /* of the current spec; a provider bumps it */
	bool removing;            /* acquire answers -ERR_NOT_FOUND */
	void *priv;               /* the provider's */
	struct rs_replica **reps; /* nreps replicas, in creation order */
	size_t nreps, cap;
	unsigned next_index;      /* internal */
	unsigned rr;              /* internal: spreads ties among replicas */
};

/* Creates an empty set. 0 or -ENOMEM; free it with replicas_free(). */
int replicas_new(struct replicas **out);

/* Frees the set with every function and replica still in it (their priv
 * pointers are the provider's to free first). No acquired replica may be
 * outstanding. NULL is fine. */
void replicas_free(struct replicas *rs);

void replicas_lock(struct replicas *rs);
void replicas_unlock(struct replicas *rs);

/* Locked. Wakes every thread waiting in replicas_wait() or
 * replicas_acquire(). */
void replicas_broadcast(struct replicas *rs);

/* Locked. Waits for a replicas_broadcast() (or a state change) until
 * deadline_ms (mono_ms() clock; 0: no deadline). 0 or -ERR_TIMEOUT. The
 * lock is released while waiting: look functions up again afterwards. */
int replicas_wait(struct replicas *rs, int64_t deadline_ms);

/* Locked. The function, or NULL. Borrowed while the lock is held. */
struct rs_function *replicas_find(struct replicas *rs, const char *ns, const char *name);

/* Locked. Iterates: the first function for prev NULL, then the next. */
struct rs_function *replicas_next(struct replicas *rs, struct rs_function *prev);

/* Locked. Adds a function (desired 0, generation 1); ns and name are
 * copied. 0, -ERR_EXISTS or -ENOMEM. */
int replicas_add_function(struct replicas *rs, const char *ns, const char *name,
			  struct rs_function **out);

/* Locked. Removes and frees a function that has no replicas left
 * (-ERR_EXISTS otherwise). Its priv must be freed by the caller. */
int replicas_remove_function(struct replicas *rs, struct rs_function *fn);

/* Locked. Adds a replica in state RS_STARTING with host 127.0.0.1, no port
 * and the next instance name. 0 or -ENOMEM. */
int replicas_add(struct replicas *rs, struct rs_function *fn, unsigned generation,
		 struct rs_replica **out);

/* Locked. Sets the state and wakes waiters. */
void replicas_set_state(struct replicas *rs, struct rs_replica *r, enum rs_state state);

/* Locked. Takes r out of its function. It is freed now, or by the last
 * replicas_release() of a request still using it. r->priv must no longer
 * be needed by anyone but the caller. */
void replicas_detach(struct replicas *rs, struct rs_replica *r);

/* Unlocked. Fills out with fn's desired and ready replica counts.
 * -ERR_NOT_FOUND for an unknown function or one being removed. */
int replicas_status(struct replicas *rs, const char *ns, const char *name,
		    struct prov_status *out);

/* Locked. How many replicas of fn are in a state of mask, of the given
 * generation (or of any when generation is 0). */
unsigned replicas_count(const struct rs_function *fn, unsigned mask, unsigned generation);

/* Locked. The replica of fn's current generation to stop first when there
 * are too many: backing off before starting before ready, then the fewest
 * requests in flight, then the newest. NULL when there is none. */
struct rs_replica *replicas_victim(struct rs_function *fn);

/* What replicas_reconcile() asks of a provider (its first argument). */
struct rs_actions {
	/* Starts one more replica of fn's current generation: 0, or an
	 * error that stops adding more this round. */
	int (*start)(void *provider, struct rs_function *fn, int64_t now);
	/* Begins draining r. */
	void (*drain)(void *provider, struct rs_replica *r, int64_t now);
};

/* Locked. Moves fn toward fn->desired live replicas of its current
 * generation, starting some or draining replicas_victim()s. Replicas of
 * older generations (a rolling update) are drained once the current
 * generation has fn->desired ready, fn->desired is 0, or update_deadline
 * has passed; until then *wake_at is lowered to update_deadline. */
void replicas_reconcile(struct rs_function *fn, int64_t now, int64_t update_deadline,
			int64_t *wake_at, const struct rs_actions *act, void *provider);

/* Picks the ready replica of (ns, name) with the fewest requests in flight
 * (ties go round), counts one more request on it and copies its address
 * into *out (out->token is the replica, for replicas_release()). Waits
 * until deadline_ms (mono_ms() clock) for one to be ready; a deadline in
 * the past means no wait. 0, -ERR_NOT_FOUND (unknown or being removed) or
 * -ERR_UNAVAILABLE. Takes the lock itself. */
int replicas_acquire(struct replicas *rs, const char *ns, const char *name,
		     int64_t deadline_ms, struct prov_replica *out);

/* Ends what replicas_acquire() started. failed: the caller could not reach
 * the replica, which is flagged check_now. Returns true when the provider
 * should look at the replica soon (it failed, or it is draining and has
 * just become idle). Takes the lock itself. */
bool replicas_release(struct replicas *rs, struct prov_replica *pr, bool failed);

#endif
