/*
 * pool.h - kept-alive connections to replicas, by address.
 *
 * A connection is reused only if it is still open and has been idle for
 * less than POOL_IDLE_MS (below the watchdog's own idle limit), so a
 * request rarely meets a connection the replica has just closed.
 */
#ifndef GW_POOL_H
#define GW_POOL_H

#include <stdint.h>

struct pool;

#define POOL_IDLE_MS 20000
#define POOL_PER_ADDR 64

int pool_new(struct pool **out);
/* Closes every pooled connection and frees p (NULL is fine). */
void pool_free(struct pool *p);

/* An idle connection to host:port (the caller owns it now), or -1. */
int pool_get(struct pool *p, const char *host, int port);

/* Hands a connection back for reuse (or closes it when the address has
 * enough idle ones). */
void pool_put(struct pool *p, const char *host, int port, int fd);

/* Closes idle connections that aged past POOL_IDLE_MS or that the peer
 * closed (a replica that went away), and forgets empty addresses. Called
 * periodically, so connections to removed replicas do not pile up. */
void pool_sweep(struct pool *p);

/* Closes the idle connections to host:port (the replica went away). */
void pool_drop(struct pool *p, const char *host, int port);

#endif
