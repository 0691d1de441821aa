/*
 * functions.h - deploying, updating, scaling and removing functions: the
 * store and the provider kept in step.
 *
 * The store is written first (one transaction) and the provider told
 * after; when the provider refuses (a bad image, say) the store is put
 * back as it was, so a failed deploy leaves no half-written record.
 */
#ifndef GW_FUNCTIONS_H
#define GW_FUNCTIONS_H

#include <stdbool.h>

#include "gw.h"
#include "wire.h"

/* Deploys (update=false) or updates (update=true) the function in d.
 * Returns the HTTP status to answer (202, 400, 404, 409, 500) with a
 * one-line reason in why for errors. */
int fn_deploy(struct gateway *gw, const struct wire_deploy *d, bool update, struct buf *why);

/* Sets the desired replicas. HTTP status as above. */
int fn_scale(struct gateway *gw, const char *ns, const char *name, unsigned replicas,
	     struct buf *why);

/* Removes the function and its replicas. HTTP status as above. */
int fn_remove(struct gateway *gw, const char *ns, const char *name, struct buf *why);

/* Starts the replicas of every stored function (gateway start). Logs and
 * goes on past a function that fails. */
void fn_restore_all(struct gateway *gw);

/* Re-applies every function of namespace ns that uses the secret, so new
 * replicas read its new value. */
void fn_secret_changed(struct gateway *gw, const char *ns, const char *secret);

/* The key metrics and logs use for a function: "name.namespace". */
void fn_key(const char *ns, const char *name, char *out, size_t cap);

/* Splits "name.ns" into name and ns (default namespace when no suffix). */
int fn_split_name(const char *full, char *name, size_t name_cap, char *ns, size_t ns_cap);

#endif
