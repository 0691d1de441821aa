/*
 * server.h - the gateway's HTTP server (libmicrohttpd glue).
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gw.h"

struct gw_server;

/* Listens on cfg.bind:cfg.port and serves. 0, or a negative code with why. */
int server_start(struct gateway *gw, struct gw_server **out, struct buf *why);

/* Stops accepting connections (the listening socket is closed); requests
 * in flight go on. Safe to call more than once. */
void server_quiesce(struct gw_server *s);

/* Stops accepting, lets requests in flight finish (up to timeout_ms), then
 * closes every connection and frees s. NULL is fine. */
void server_stop(struct gw_server *s, int64_t timeout_ms);

#endif
