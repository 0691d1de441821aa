/*
 * deployer.h - `cfaas deploy`: a stack function (or one given by --name
 * and --image) as a FunctionDeployment, sent the way faas-cli does it:
 * PUT /system/functions, then POST when the gateway answers 404; with
 * --replace, DELETE first and then POST.
 *
 * When the gateway's provider is `process`, the function's bundle
 * (build/NAME.tar.gz from `cfaas build`) is uploaded first with
 * PUT /system/bundles/IMAGE.
 *
 * Values are merged in this order, later winning: environment_file, the
 * stack's environment, -e; the stack's labels, -l; annotations,
 * --annotation; secrets are the union. fprocess: --fprocess, the stack's,
 * the one the last build recorded, the template's.
 */
#ifndef CLI_DEPLOYER_H
#define CLI_DEPLOYER_H

#include <stdbool.h>

#include "session.h"
#include "stack.h"
#include "wire.h"

struct deploy_flags {
	struct wire_list env;          /* -e KEY=VALUE */
	struct wire_list labels;       /* -l KEY=VALUE */
	struct wire_list annotations;  /* --annotation KEY=VALUE */
	struct wire_list secrets;      /* --secret NAME */
	const char *fprocess;
	const char *image;             /* with --name: deploy without a stack */
	const char *name;
	bool replace;
};

#define DEPLOY_OPTS(f) \
	{ "env", 'e', OPT_LIST, &(f)->env, "KEY=VALUE", "set an environment variable" }, \
	{ "label", 'l', OPT_LIST, &(f)->labels, "KEY=VALUE", "set a label" }, \
	{ "annotation", 0, OPT_LIST, &(f)->annotations, "KEY=VALUE", "set an annotation" }, \
	{ "secret", 0, OPT_LIST, &(f)->secrets, "NAME", "give the function a secret" }, \
	{ "fprocess", 0, OPT_STR, &(f)->fprocess, "CMD", "the command the watchdog runs per request" }, \
	{ "image", 0, OPT_STR, &(f)->image, "IMAGE", "deploy this image without a stack file (with --name)" }, \
	{ "name", 0, OPT_STR, &(f)->name, "NAME", "the function's name (with --image)" }, \
	{ "replace", 0, OPT_BOOL, &(f)->replace, NULL, "remove the function first, then create it" }

/* Frees the lists in f. */
void deploy_flags_release(struct deploy_flags *f);

/* True when f asks for one function without a stack (--image/--name). */
bool deploy_flags_single(const struct deploy_flags *f);

/* Deploys fn (from s->stack), or the function of --name/--image when fn
 * is NULL. Prints progress and the result; returns the exit code. */
int deployer_deploy(struct session *s, const struct stack_fn *fn, const struct deploy_flags *f);

#endif
