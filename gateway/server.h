/*
 * server.h - the gateway's HTTP server (libmicrohttpd glue).
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gw.h"

struct gw_server;

/* Binds cfg->bind:cfg->port and listens, before anything else starts, so
 * a port in use fails the start at once; connections wait in the backlog
 * until server_start. Returns the socket or a negative code with why. */
int server_listen(const struct gw_config *cfg, struct buf *why);

/* Serves on listen_fd (from server_listen; MHD owns it from here). 0, or
 * a negative code with why. */
int server_start(struct gateway *gw, int listen_fd, struct gw_server **out, struct buf *why);

/* Stops accepting connections (the listening socket is closed); requests
 * in flight go on. Safe to call more than once. */
void server_quiesce(struct gw_server *s);

/* Stops accepting, lets requests in flight finish (up to timeout_ms), then
 * closes every connection and frees s. NULL is fine. */
void server_stop(struct gw_server *s, int64_t timeout_ms);

#endif
