/*
 * provider.h - how the gateway runs function replicas.
 *
 * A provider turns a deployment into running replicas (each a
 * cfaas-watchdog reachable over HTTP on 127.0.0.1) and keeps them running.
 * The gateway picks one at start (--provider); the `process` provider runs
 * watchdog child processes on this host, the `docker` provider containers.
 * All calls are thread-safe. Names are plain function names; the namespace
 * is passed beside them.
 */
#ifndef GW_PROVIDER_H
#define GW_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

struct provider;
struct logstore;

/* A secret value, resolved by the gateway from its store. Borrowed. */
struct prov_secret {
	const char *name;
	const void *value;
	size_t len;
};

/* Everything needed to run a function. Borrowed for the duration of the
 * call; the provider copies what it keeps. */
struct prov_spec {
	const char *name;
	const char *namespace;
	const struct wire_deploy *deploy;
	const struct prov_secret *secrets;
	size_t nsecrets;
	unsigned replicas;            /* desired */
	const char *bundle_dir;       /* process: unpacked function bundle, or NULL */
};

/* One replica picked to serve a request (see provider_acquire). */
struct prov_replica {
	char host[64];
	int port;
	char instance[96];            /* e.g. "hello-2" */
	void *token;                  /* provider's handle, for release */
};

/* Counts for a function's status. */
struct prov_status {
	unsigned desired;
	unsigned available;           /* ready: health answered 200 */
};

struct provider_ops {
	const char *name;
	/* Creates or updates the function so its replicas match spec. An
	 * update (same name, new spec) starts new replicas, waits (bounded)
	 * for them to be ready, then drains the old ones, so in-flight calls
	 * finish. Returns 0, -ERR_INVALID with the reason in why (e.g. image
	 * not found), or another negative code. */
	int (*apply)(struct provider *p, const struct prov_spec *spec, struct buf *why);
	/* Sets the desired replica count (0 allowed). -ERR_NOT_FOUND. */
	int (*scale)(struct provider *p, const char *ns, const char *name, unsigned replicas);
	/* Stops and removes every replica; returns when none is left
	 * running. -ERR_NOT_FOUND if unknown. */
	int (*remove)(struct provider *p, const char *ns, const char *name);
	int (*status)(struct provider *p, const char *ns, const char *name,
		      struct prov_status *out);
	/* Picks the ready replica with the fewest requests in flight and
	 * counts one more on it. Waits until deadline_ms (mono_ms clock) for
	 * one to become ready. 0, -ERR_NOT_FOUND (unknown function),
	 * -ERR_UNAVAILABLE (none ready by the deadline). */
	int (*acquire)(struct provider *p, const char *ns, const char *name,
		       int64_t deadline_ms, struct prov_replica *out);
	/* Ends what acquire started. failed: the replica could not be reached
	 * (the provider may mark it unready and check it). */
	void (*release)(struct provider *p, struct prov_replica *r, bool failed);
	/* Short description for /system/info (e.g. "process", version). */
	void (*info)(struct provider *p, struct buf *out);
	/* Stops every replica (draining them) and frees p. NULL is fine. */
	void (*free)(struct provider *p);
};

struct provider {
	const struct provider_ops *ops;
};

/* Options common to providers, from the gateway's configuration. */
struct provider_opts {
	const char *data_dir;         /* the gateway's data dir */
	const char *watchdog_path;    /* process: the cfaas-watchdog binary */
	const char *run_as;           /* process, as root: user for replicas */
	const char *docker_socket;    /* docker: API socket path */
	struct logstore *logs;        /* where replica output goes */
	const char *path;             /* PATH for replicas (NULL: a default) */
};

/* Creates the process provider. 0 or a negative code with why filled. */
int provider_process_new(const struct provider_opts *o, struct provider **out,
			 struct buf *why);

/* Creates the docker provider: checks that the engine answers on
 * o->docker_socket. 0 or a negative code with why filled. */
int provider_docker_new(const struct provider_opts *o, struct provider **out,
			struct buf *why);

#endif
