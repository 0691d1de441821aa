/*
 * docker_api.h - a small Docker Engine API client over a unix socket.
 *
 * Every call is one HTTP request made with libcurl (CURLOPT_UNIX_SOCKET_PATH)
 * and a bounded time; it speaks the subset of the API that Docker and
 * Podman's compatible service (`podman system service`) both answer. The
 * client is thread-safe: it holds only the socket path, and each call uses
 * its own curl handle.
 *
 * Errors: 0 or a negative code. -ERR_NOT_FOUND for a 404 (no such
 * container or image), -ERR_UNAVAILABLE when the socket cannot be reached,
 * -ERR_PROTOCOL for another unexpected status; why (may be NULL) then gets
 * the engine's own message ("{"message": ...}") or the transport error.
 */
#ifndef GW_DOCKER_API_H
#define GW_DOCKER_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct docker;

/* The largest answer read into memory (inspect, lists, logs). */
#define DOCKER_MAX_RESPONSE (16u * 1024 * 1024)
/* The time one request may take unless the call says otherwise. */
#define DOCKER_TIMEOUT_MS 30000

/* Creates a client for the socket at path (copied). 0 or -ENOMEM. */
int docker_new(const char *socket_path, struct docker **out);

/* Frees the client. NULL is fine. */
void docker_free(struct docker *d);

/* One request. path starts with '/' and may carry a query. body (len
 * bytes, may be NULL) is sent with content type ctype (NULL: JSON);
 * timeout_ms 0 means DOCKER_TIMEOUT_MS. *status gets the HTTP status and
 * resp (may be NULL) has the answer appended, cut at its cap. 0 when a
 * status was received (whatever it is), else -ERR_UNAVAILABLE or
 * -ERR_TIMEOUT with why. Everything is borrowed. */
int docker_request(struct docker *d, const char *method, const char *path,
		   const char *ctype, const void *body, size_t len, int64_t timeout_ms,
		   int *status, struct buf *resp, struct buf *why);

/* GET /_ping: 0 when the engine answers OK. */
int docker_ping(struct docker *d, struct buf *why);

/* GET /version: appends "<Version> (<API version>)" of the engine to out. */
int docker_version(struct docker *d, struct buf *out);

/* 0 when the image exists locally, -ERR_NOT_FOUND if not. */
int docker_image_exists(struct docker *d, const char *image, struct buf *why);

/* POST /containers/create?name=NAME with config (borrowed). The new
 * container's id goes to id (cap bytes). */
int docker_container_create(struct docker *d, const char *name, json_t *config,
			    char *id, size_t cap, struct buf *why);

/* POST /containers/ID/start. Starting a running container is 0. */
int docker_container_start(struct docker *d, const char *id, struct buf *why);

/* POST /containers/ID/stop?t=SECS. A stopped container is 0. */
int docker_container_stop(struct docker *d, const char *id, int secs, struct buf *why);

/* DELETE /containers/ID?force=1&v=1. A container already gone is 0. */
int docker_container_remove(struct docker *d, const char *id, struct buf *why);

/* GET /containers/ID/json. *out is new (caller json_decref()s); NULL on
 * failure. */
int docker_container_inspect(struct docker *d, const char *id, json_t **out,
			     struct buf *why);

/* GET /containers/json?all=1 with label filters ("key=value" or "key",
 * nlabels of them, borrowed). *out is a new JSON array. */
int docker_container_list(struct docker *d, const char *const *labels, size_t nlabels,
			  json_t **out, struct buf *why);

/* GET /containers/ID/logs?stdout=1&stderr=1&timestamps=1&since=SINCE
 * (Unix seconds): out is replaced by the raw answer (multiplexed frames,
 * or plain text for a TTY), cut at out's cap. */
int docker_container_logs(struct docker *d, const char *id, int64_t since_s,
			  struct buf *out, struct buf *why);

/* Called once per line of a log answer: text without its '\n' and the
 * timestamp the engine put in front (Unix ns, 0 if there was none). */
typedef void (*docker_line_cb)(void *ctx, int64_t ts_ns, const char *text, size_t len);

/* Splits a logs answer (data, len) into lines: demultiplexes stream
 * frames when the answer has them, takes the leading RFC 3339 timestamp
 * off each line. A partial last line is passed as well. */
void docker_logs_lines(const char *data, size_t len, docker_line_cb cb, void *ctx);

/* Parses an RFC 3339 time ("2026-11-23T06:00:00.123456789Z" or with an
 * offset) into Unix ns. 0 or -ERR_PARSE. */
int docker_parse_time(const char *s, size_t len, int64_t *ns);

#endif
