#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "functions.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"
#include "store.h"
#include "banned.h"

void fn_key(const char *ns, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s.%s", name, ns);
}

int fn_split_name(const char *full, char *name, size_t name_cap, char *ns, size_t ns_cap)
{
	const char *dot = strchr(full, '.');
	size_t n = dot ? (size_t)(dot - full) : strlen(full);

	if (n >= name_cap)
		return -ERR_INVALID;
	memcpy(name, full, n);
	name[n] = '\0';
	snprintf(ns, ns_cap, "%s", dot ? dot + 1 : WIRE_DEFAULT_NAMESPACE);
	return 0;
}

/* The bundle the CLI uploaded for an image, if there is one. */
static const char *bundle_dir(struct gateway *gw, const char *image, char *out, size_t cap)
{
	struct stat st;
	size_t i, n;

	n = (size_t)snprintf(out, cap, "%s/bundles/", gw->cfg.data_dir);
	for (i = 0; image[i] && n + 1 < cap; i++) {
		char c = image[i];
		out[n++] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '.' ? c : '_');
	}
	out[n] = '\0';
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return out;
	return NULL;
}

/* Calls the provider's apply with the secrets resolved from the store. */
static int apply(struct gateway *gw, const char *ns, const struct wire_deploy *d,
		 unsigned replicas, struct buf *why)
{
	struct prov_secret secrets[64];
	struct buf values[64];
	struct prov_spec spec = { 0 };
	char bdir[PATH_MAX];
	size_t i, n = d->secrets.n;
	int rc = 0;

	if (n > 64) {
		buf_adds(why, "a function may use at most 64 secrets");
		return -ERR_INVALID;
	}
	for (i = 0; i < n; i++)
		buf_init(&values[i], WIRE_SECRET_MAX);
	for (i = 0; i < n && !rc; i++) {
		rc = store_secret_get(gw->store, ns, d->secrets.items[i], &values[i]);
		if (rc == -ERR_NOT_FOUND) {
			buf_printf(why, "unknown secret '%s' in namespace '%s': create it first",
				   d->secrets.items[i], ns);
			rc = -ERR_INVALID;
		}
		secrets[i].name = d->secrets.items[i];
		secrets[i].value = values[i].data ? values[i].data : "";
		secrets[i].len = values[i].len;
	}
	if (!rc) {
		spec.name = d->service;
		spec.namespace = ns;
		spec.deploy = d;
		spec.secrets = secrets;
		spec.nsecrets = n;
		spec.replicas = replicas;
		spec.bundle_dir = bundle_dir(gw, d->image, bdir, sizeof(bdir));
		rc = gw->prov->ops->apply(gw->prov, &spec, why);
	}
	for (i = 0; i < n; i++) {
		if (values[i].data)
			memset(values[i].data, 0, values[i].len);
		buf_release(&values[i]);
	}
	return rc;
}

static int status_of(int rc)
{
	switch (rc) {
	case 0: return 202;
	case -ERR_INVALID: return 400;
	case -ERR_NOT_FOUND: return 404;
	case -ERR_EXISTS: return 409;
	default: return 500;
	}
}

int fn_deploy(struct gateway *gw, const struct wire_deploy *d, bool update, struct buf *why)
{
	const char *ns = d->namespace ? d->namespace : WIRE_DEFAULT_NAMESPACE;
	struct store_function old = { 0 };
	struct wire_scaling sc;
	struct buf json;
	bool existed, created = false;
	int64_t replicas;
	int rc;

	rc = wire_scaling_from_labels(&d->labels, &sc, why);
	if (rc)
		return status_of(rc);
	buf_init(&json, GW_MAX_API_BODY * 2);
	if ((rc = wire_deploy_dump(d, &json))) {
		buf_printf(why, "cannot store the deployment: %s", err_str(rc));
		goto out;
	}
	pthread_mutex_lock(&gw->fn_lock);
	rc = store_function_get(gw->store, ns, d->service, &old);
	existed = rc == 0;
	if (rc && rc != -ERR_NOT_FOUND) {
		buf_printf(why, "cannot read the function: %s", err_str(rc));
		goto unlock;
	}
	if (update && !existed) {
		buf_printf(why, "function '%s' not found in namespace '%s'", d->service, ns);
		rc = -ERR_NOT_FOUND;
		goto unlock;
	}
	if (!update && existed) {
		buf_printf(why, "function '%s' already exists in namespace '%s': use PUT to update it",
			   d->service, ns);
		rc = -ERR_EXISTS;
		goto unlock;
	}
	/* An update keeps the replica count unless it now breaks the
	 * scaling labels; a new function starts at its minimum. */
	replicas = existed ? old.replicas : (int64_t)sc.min;
	if (replicas < (int64_t)sc.min && !(sc.zero && replicas == 0))
		replicas = (int64_t)sc.min;
	if (replicas > (int64_t)sc.max)
		replicas = (int64_t)sc.max;
	rc = store_function_put(gw->store, ns, d->service, buf_cstr(&json), replicas, &created);
	if (rc) {
		buf_printf(why, "cannot store the function: %s", err_str(rc));
		goto unlock;
	}
	rc = apply(gw, ns, d, (unsigned)replicas, why);
	if (rc) {
		/* Put the store back as it was. */
		if (existed)
			store_function_put(gw->store, ns, d->service, old.deployment, old.replicas, NULL);
		else
			store_function_delete(gw->store, ns, d->service);
		if (!why->len)
			buf_printf(why, "cannot start the function: %s", err_str(rc));
		goto unlock;
	}
	LOG_INFO("%s function %s.%s (image %s, %lld replica(s))", update ? "Updated" : "Deployed",
		 d->service, ns, d->image, (long long)replicas);
unlock:
	pthread_mutex_unlock(&gw->fn_lock);
out:
	store_function_release(&old);
	buf_release(&json);
	return status_of(rc);
}

int fn_scale(struct gateway *gw, const char *ns, const char *name, unsigned replicas,
	     struct buf *why)
{
	struct store_function f = { 0 };
	struct wire_deploy d = { 0 };
	struct wire_scaling sc;
	int rc;

	pthread_mutex_lock(&gw->fn_lock);
	rc = store_function_get(gw->store, ns, name, &f);
	if (rc == -ERR_NOT_FOUND) {
		buf_printf(why, "function '%s' not found in namespace '%s'", name, ns);
		goto out;
	}
	if (rc || (rc = wire_deploy_parse(f.deployment, strlen(f.deployment), &d, why)) ||
	    (rc = wire_scaling_from_labels(&d.labels, &sc, why)))
		goto out;
	if (replicas > sc.max) {
		buf_printf(why, "replicas %u is above com.openfaas.scale.max (%llu) of function '%s'",
			   replicas, (unsigned long long)sc.max, name);
		rc = -ERR_INVALID;
		goto out;
	}
	rc = store_function_set_replicas(gw->store, ns, name, replicas);
	if (!rc)
		rc = gw->prov->ops->scale(gw->prov, ns, name, replicas);
	if (rc && !why->len)
		buf_printf(why, "cannot scale '%s': %s", name, err_str(rc));
	if (!rc)
		LOG_INFO("Scaled function %s.%s to %u replica(s)", name, ns, replicas);
out:
	pthread_mutex_unlock(&gw->fn_lock);
	wire_deploy_release(&d);
	store_function_release(&f);
	return status_of(rc);
}

int fn_remove(struct gateway *gw, const char *ns, const char *name, struct buf *why)
{
	char key[160];
	int rc;

	pthread_mutex_lock(&gw->fn_lock);
	rc = store_function_delete(gw->store, ns, name);
	if (rc == -ERR_NOT_FOUND) {
		buf_printf(why, "function '%s' not found in namespace '%s'", name, ns);
	} else if (rc) {
		buf_printf(why, "cannot delete '%s': %s", name, err_str(rc));
	} else {
		rc = gw->prov->ops->remove(gw->prov, ns, name);
		if (rc == -ERR_NOT_FOUND)
			rc = 0;
		fn_key(ns, name, key, sizeof(key));
		metrics_forget(gw->metrics, key);
		LOG_INFO("Removed function %s.%s", name, ns);
	}
	pthread_mutex_unlock(&gw->fn_lock);
	return status_of(rc);
}

static void reapply(struct gateway *gw, const struct store_function *f)
{
	struct wire_deploy d = { 0 };
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = wire_deploy_parse(f->deployment, strlen(f->deployment), &d, &why);
	if (!rc)
		rc = apply(gw, f->namespace, &d, (unsigned)f->replicas, &why);
	if (rc)
		LOG_ERROR("cannot start function %s.%s: %s", f->name, f->namespace,
			  why.len ? buf_cstr(&why) : err_str(rc));
	wire_deploy_release(&d);
	buf_release(&why);
}

void fn_restore_all(struct gateway *gw)
{
	struct store_function *fs = NULL;
	size_t n = 0, i;

	if (store_function_list(gw->store, NULL, &fs, &n)) {
		LOG_ERROR("cannot list the stored functions");
		return;
	}
	pthread_mutex_lock(&gw->fn_lock);
	for (i = 0; i < n; i++)
		reapply(gw, &fs[i]);
	pthread_mutex_unlock(&gw->fn_lock);
	if (n)
		LOG_INFO("Restored %zu function(s)", n);
	store_function_list_free(fs, n);
}

void fn_secret_changed(struct gateway *gw, const char *ns, const char *secret)
{
	struct store_function *fs = NULL;
	size_t n = 0, i, j;

	if (store_function_list(gw->store, ns, &fs, &n))
		return;
	pthread_mutex_lock(&gw->fn_lock);
	for (i = 0; i < n; i++) {
		struct wire_deploy d = { 0 };
		if (wire_deploy_parse(fs[i].deployment, strlen(fs[i].deployment), &d, NULL))
			continue;
		for (j = 0; j < d.secrets.n; j++) {
			if (!strcmp(d.secrets.items[j], secret)) {
				reapply(gw, &fs[i]);
				break;
			}
		}
		wire_deploy_release(&d);
	}
	pthread_mutex_unlock(&gw->fn_lock);
	store_function_list_free(fs, n);
}
