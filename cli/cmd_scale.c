/*
 * cmd_scale.c - `cfaas scale NAME --replicas N`.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "url.h"
#include "banned.h"

int cmd_scale(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	long replicas = -1;
	const struct opt opts[] = {
		{ "replicas", 'r', OPT_INT, &replicas, "N", "the replica count (0 stops every replica)" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"scale", "NAME --replicas N [flags]",
		"Sets the number of replicas of a function. With 0, the first call starts one "
		"again.",
		opts, 1, 1, "  cfaas scale hello --replicas 3\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct buf path, what;
	json_t *body = NULL;
	char *text = NULL;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	if (replicas < 0) {
		cli_err("scale: give the replica count with --replicas N (0 or more)");
		opts_args_release(&args);
		return CLI_USAGE;
	}
	if ((rc = session_open(&s, "scale", &sf, SESSION_STACK_IF_ANY))) {
		opts_args_release(&args);
		return rc;
	}
	client_resp_init(&resp);
	buf_init(&path, 4096);
	buf_init(&what, 1024);
	body = json_pack("{s:s, s:I}", "serviceName", args.v[0], "replicas", (json_int_t)replicas);
	if (body && sf.namespace)
		json_object_set_new(body, "namespace", json_string(sf.namespace));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		cli_err("scale: '%s' is not a valid name", args.v[0]);
		rc = CLI_USAGE;
		goto out;
	}
	buf_adds(&path, "/system/scale-function/");
	url_encode(&path, args.v[0], strlen(args.v[0]));
	if ((rc = session_api(&s, "POST", buf_cstr(&path), NULL, text, strlen(text), &resp)))
		goto out;
	if (resp.status == 404) {
		cli_err("scale: function '%s' not found at '%s' (see 'cfaas list')", args.v[0],
			s.gateway);
		rc = CLI_NOT_FOUND;
	} else if (resp.status < 200 || resp.status > 299) {
		buf_printf(&what, "cannot scale '%s'", args.v[0]);
		rc = session_fail(&s, &resp, buf_cstr(&what));
	} else {
		printf("Scaled %s to %ld replica%s\n", args.v[0], replicas, replicas == 1 ? "" : "s");
		rc = CLI_OK;
	}
out:
	fflush(stdout);
	free(text);
	json_decref(body);
	client_resp_release(&resp);
	buf_release(&path);
	buf_release(&what);
	opts_args_release(&args);
	session_close(&s);
	return rc;
}
