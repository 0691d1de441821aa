/*
 * nats_embed.h - the gateway's own nats-server, for when no --nats-url is
 * given (DESIGN.md section 6).
 *
 * The server runs with JetStream, its store in DATA/jetstream, listening
 * on 127.0.0.1 and a free port, with max_payload 8 MB (so a 1 MiB async
 * body fits after base64), logging to DATA/nats-server.log. A supervisor
 * thread restarts it with back-off (0.5 s doubling to 30 s) when it dies;
 * it keeps its port, so clients reconnect on their own. It also dies with
 * the gateway (PR_SET_PDEATHSIG).
 */
#ifndef GW_NATS_EMBED_H
#define GW_NATS_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct nats_embed;

/* True when nats-server is found in search (a PATH-style list, the
 * gateway's cfg.path; NULL or "": the usual bin folders) or, failing
 * that, in the sbin folders where Debian installs it; path (cap bytes)
 * gets it. */
bool nats_embed_find(const char *search, char *path, size_t cap);

/* Starts nats-server (found as nats_embed_find does) for data_dir and
 * waits (up to 10 s) until it accepts connections. url (cap bytes) gets
 * "nats://127.0.0.1:PORT". 0, or a negative code with the reason in why.
 * *out is new: nats_embed_stop() it. */
int nats_embed_start(const char *search, const char *data_dir, struct nats_embed **out,
		     char *url, size_t cap, struct buf *why);

/* Stops the server (SIGTERM, then SIGKILL after 10 s) and the supervisor,
 * and frees e. NULL is fine. */
void nats_embed_stop(struct nats_embed *e);

#endif
