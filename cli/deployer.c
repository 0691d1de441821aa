/*
 * deployer.c - FunctionDeployment and bundle upload (see deployer.h).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "cli.h"
#include "deployer.h"
#include "err.h"
#include "fsutil.h"
#include "strs.h"
#include "template.h"
#include "url.h"
#include "banned.h"

/* The largest bundle the CLI reads; the gateway has its own limit. */
#define MAX_BUNDLE (256u * 1024 * 1024)

void deploy_flags_release(struct deploy_flags *f)
{
	strs_list_release(&f->env);
	strs_list_release(&f->labels);
	strs_list_release(&f->annotations);
	strs_list_release(&f->secrets);
}

bool deploy_flags_single(const struct deploy_flags *f)
{
	return f->image || f->name;
}

static int dup_res(struct wire_resources *out, const struct stack_res *in)
{
	if (in->memory && !(out->memory = strdup(in->memory)))
		return -ENOMEM;
	if (in->cpu && !(out->cpu = strdup(in->cpu)))
		return -ENOMEM;
	return 0;
}

/* Fills d from the stack function (may be NULL) and the flags. */
static int fill(struct session *s, const struct stack_fn *fn, const struct deploy_flags *f,
		struct wire_deploy *d, struct buf *why)
{
	const char *ns = s->flags.namespace ? s->flags.namespace : fn ? fn->namespace : NULL;
	struct buf fproc;
	size_t i;
	int rc = 0;

	buf_init(&fproc, 64 * 1024);
	d->service = strdup(fn ? fn->name : f->name);
	d->image = strdup(fn ? fn->image : f->image);
	d->namespace = ns ? strdup(ns) : NULL;
	if (!d->service || !d->image || (ns && !d->namespace)) {
		rc = -ENOMEM;
		goto out;
	}
	if (fn) {
		if ((rc = strs_map_merge(&d->env_vars, &fn->environment)) ||
		    (rc = strs_map_merge(&d->labels, &fn->labels)) ||
		    (rc = strs_map_merge(&d->annotations, &fn->annotations)) ||
		    (rc = dup_res(&d->limits, &fn->limits)) ||
		    (rc = dup_res(&d->requests, &fn->requests)))
			goto out;
		for (i = 0; i < fn->secrets.n && !rc; i++)
			rc = strs_list_add_unique(&d->secrets, fn->secrets.items[i]);
		for (i = 0; i < fn->constraints.n && !rc; i++)
			rc = strs_list_add(&d->constraints, fn->constraints.items[i]);
		d->read_only_root_filesystem = fn->readonly_root_filesystem;
	}
	for (i = 0; i < f->secrets.n && !rc; i++)
		rc = strs_list_add_unique(&d->secrets, f->secrets.items[i]);
	if (rc || (rc = strs_map_add_kvs(&d->env_vars, &f->env, "-e", why)) ||
	    (rc = strs_map_add_kvs(&d->labels, &f->labels, "-l", why)) ||
	    (rc = strs_map_add_kvs(&d->annotations, &f->annotations, "--annotation", why)))
		goto out;
	if (f->fprocess) {
		buf_adds(&fproc, f->fprocess);
	} else if (fn && fn->fprocess) {
		buf_adds(&fproc, fn->fprocess);
	} else if (fn && s->stack && builder_fprocess(s->stack, fn, &fproc) == 0) {
		/* the last build's */
	} else if (fn && fn->lang) {
		struct template t;
		struct buf ignored;
		buf_init(&ignored, 8192);
		if (template_find(fn->lang, s->stack ? s->stack->dir : ".", &t, &ignored) == 0) {
			if (t.fprocess)
				buf_adds(&fproc, t.fprocess);
			template_release(&t);
		}
		buf_release(&ignored);
	}
	if (fproc.len && !(d->env_process = strdup(buf_cstr(&fproc))))
		rc = -ENOMEM;
out:
	buf_release(&fproc);
	return rc;
}

static int upload_bundle(struct session *s, const struct stack_fn *fn)
{
	struct client_resp resp;
	struct buf path, data, why, url;
	struct client_req req = {
		.method = "PUT", .content_type = "application/gzip", .auth = true,
		.timeout_ms = SESSION_API_TIMEOUT_MS,
	};
	int rc;

	buf_init(&path, PATH_MAX);
	buf_init(&data, MAX_BUNDLE);
	buf_init(&why, 4096);
	buf_init(&url, 8192);
	client_resp_init(&resp);
	builder_bundle(s->stack, fn, &path);
	if (!fsutil_exists(buf_cstr(&path))) {
		cli_err("deploy: no bundle for function '%s' at '%s': run 'cfaas build' first (or "
			"'cfaas up', which builds and deploys)", fn->name, buf_cstr(&path));
		rc = CLI_FAIL;
		goto out;
	}
	if (fsutil_read_file(buf_cstr(&path), &data, &why)) {
		cli_err("deploy: %s", buf_cstr(&why));
		rc = CLI_FAIL;
		goto out;
	}
	buf_adds(&url, "/system/bundles/");
	url_encode(&url, fn->image, strlen(fn->image));
	req.path = buf_cstr(&url);
	req.body = data.data ? data.data : "";
	req.body_len = data.len;
	cli_note("[%s] uploading %s to %s", fn->name, buf_cstr(&path), s->gateway);
	if ((rc = session_call(s, &req, &resp)))
		goto out;
	if (resp.status == 413) {
		cli_err("deploy: the bundle '%s' (%zu bytes) is larger than the gateway accepts "
			"(413): make the function's folder smaller", buf_cstr(&path), data.len);
		rc = CLI_FAIL;
	} else if (resp.status == 404 || resp.status == 405) {
		cli_err("deploy: the gateway at '%s' does not take bundles (%ld): is it a cfaas "
			"gateway?", s->gateway, resp.status);
		rc = CLI_FAIL;
	} else if (resp.status < 200 || resp.status > 299) {
		buf_printf(&why, "cannot upload the bundle of '%s'", fn->name);
		rc = session_fail(s, &resp, buf_cstr(&why));
	}
out:
	client_resp_release(&resp);
	buf_release(&path);
	buf_release(&data);
	buf_release(&why);
	buf_release(&url);
	return rc;
}

static int send_json(struct session *s, const char *method, const struct buf *body,
		     struct client_resp *resp)
{
	return session_api(s, method, "/system/functions", NULL, body->data, body->len, resp);
}

int deployer_deploy(struct session *s, const struct stack_fn *fn, const struct deploy_flags *f)
{
	struct wire_deploy d = { 0 };
	struct client_resp resp;
	struct buf body, why, what;
	const char *provider, *name = fn ? fn->name : f->name;
	int rc;

	buf_init(&body, 16 * 1024 * 1024);
	buf_init(&why, 4096);
	buf_init(&what, 1024);
	client_resp_init(&resp);
	buf_printf(&what, "cannot deploy '%s'", name);
	if (!fn && (!f->name || !f->image)) {
		cli_err("deploy: --image and --name go together (or deploy the functions of a "
			"stack file)");
		rc = CLI_USAGE;
		goto out;
	}
	if (wire_name_check(name, &why)) {
		cli_err("deploy: %s", buf_cstr(&why));
		rc = CLI_USAGE;
		goto out;
	}
	if ((rc = fill(s, fn, f, &d, &why))) {
		cli_err("deploy: %s", why.len ? buf_cstr(&why) : "out of memory");
		rc = rc == -ERR_INVALID ? CLI_USAGE : CLI_FAIL;
		goto out;
	}
	if (fn && fn->lang && !fn->skip_build) {
		if ((rc = session_provider(s, &provider)))
			goto out;
		if (!strcmp(provider, "process")) {
			if ((rc = upload_bundle(s, fn)))
				goto out;
		} else {
			cli_note("[%s] the gateway runs the '%s' provider: no bundle is uploaded, so "
				 "image '%s' must be available to it", name, provider, fn->image);
		}
	}
	if ((rc = wire_deploy_dump(&d, &body))) {
		cli_err("deploy: cannot encode '%s': %s", name, err_str(rc));
		rc = CLI_FAIL;
		goto out;
	}
	cli_note("[%s] deploying %s to %s", name, d.image, s->gateway);
	if (f->replace) {
		json_t *del = json_pack("{s:s}", "functionName", name);
		char *text;
		if (d.namespace)
			json_object_set_new(del, "namespace", json_string(d.namespace));
		text = json_dumps(del, JSON_COMPACT);
		json_decref(del);
		rc = text ? session_api(s, "DELETE", "/system/functions", NULL, text, strlen(text),
					&resp)
			  : CLI_FAIL;
		free(text);
		if (rc)
			goto out;
		if (resp.status != 404 && (resp.status < 200 || resp.status > 299)) {
			rc = session_fail(s, &resp, buf_cstr(&what));
			goto out;
		}
		rc = send_json(s, "POST", &body, &resp);
	} else {
		rc = send_json(s, "PUT", &body, &resp);
		if (!rc && resp.status == 404)
			rc = send_json(s, "POST", &body, &resp);
	}
	if (rc)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		rc = session_fail(s, &resp, buf_cstr(&what));
		goto out;
	}
	printf("Deployed %s (%ld %s): %s/function/%s%s%s\n", name, resp.status,
	       client_reason(resp.status), s->gateway, name, d.namespace ? "." : "",
	       d.namespace ? d.namespace : "");
	fflush(stdout);
	rc = CLI_OK;
out:
	wire_deploy_release(&d);
	client_resp_release(&resp);
	buf_release(&body);
	buf_release(&why);
	buf_release(&what);
	return rc;
}
