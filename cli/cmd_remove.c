/*
 * cmd_remove.c - `cfaas remove [NAME...]`: removes the named functions, or
 * the stack's functions when no name is given.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "banned.h"

static int remove_one(struct session *s, const char *name, const char *ns)
{
	struct client_resp resp;
	struct buf what;
	json_t *body = json_pack("{s:s}", "functionName", name);
	char *text = NULL;
	int rc;

	client_resp_init(&resp);
	buf_init(&what, 1024);
	buf_printf(&what, "cannot remove '%s'", name);
	if (ns && body)
		json_object_set_new(body, "namespace", json_string(ns));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		cli_err("remove: '%s' is not a valid name", name);
		rc = CLI_USAGE;
		goto out;
	}
	rc = session_api(s, "DELETE", "/system/functions", NULL, text, strlen(text), &resp);
	if (rc)
		goto out;
	if (resp.status == 404) {
		cli_err("remove: function '%s' not found at '%s'", name, s->gateway);
		rc = CLI_NOT_FOUND;
	} else if (resp.status < 200 || resp.status > 299) {
		rc = session_fail(s, &resp, buf_cstr(&what));
	} else {
		printf("Removed %s\n", name);
		fflush(stdout);
	}
out:
	free(text);
	json_decref(body);
	client_resp_release(&resp);
	buf_release(&what);
	return rc;
}

int cmd_remove(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	const struct opt opts[] = {
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_FILTER(&sf),
		SESSION_OPT_REGEX(&sf),
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"remove", "[NAME...] [flags]",
		"Removes the named functions from the gateway, or, without names, the functions "
		"of the\nstack file. Also called 'rm'.",
		opts, 0, 1000,
		"  cfaas remove hello\n  cfaas rm --filter 'test-*'\n",
	};
	struct session s;
	struct opts_args args;
	size_t *idx = NULL, n = 0, i;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	rc = session_open(&s, "remove", &sf, args.n ? SESSION_STACK_IF_ANY : SESSION_STACK_NEEDED);
	if (rc)
		goto out;
	if (args.n) {
		for (i = 0; i < args.n; i++) {
			int one = remove_one(&s, args.v[i], sf.namespace);
			rc = cli_worse(rc, one);
			if (one == CLI_UNREACHABLE || one == CLI_UNAUTHORIZED)
				break;
		}
	} else if (!(rc = session_select(&s, &idx, &n))) {
		for (i = 0; i < n; i++) {
			const struct stack_fn *fn = &s.stack->fns[idx[i]];
			int one = remove_one(&s, fn->name, sf.namespace ? sf.namespace : fn->namespace);
			rc = cli_worse(rc, one);
			if (one == CLI_UNREACHABLE || one == CLI_UNAUTHORIZED)
				break;
		}
	}
	free(idx);
	session_close(&s);
out:
	opts_args_release(&args);
	return rc;
}
