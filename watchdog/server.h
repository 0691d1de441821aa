/*
 * server.h - accepting connections for the watchdog (see wd.h).
 */
#ifndef WD_SERVER_H
#define WD_SERVER_H

#include "wd.h"

/* Accepts one connection on srv->listen_fd and serves it on its own
 * thread. Returns 0 (also when the connection was refused for load) or a
 * negative errno from accept(2) that the caller should log. */
int wd_server_accept(struct wd_server *srv);

#endif
