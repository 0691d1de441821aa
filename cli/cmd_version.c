/*
 * cmd_version.c - `cfaas version`: the client's version and the gateway's
 * (version, provider, architecture).
 */
#include <jansson.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "cli.h"
#include "opts.h"
#include "session.h"
#include "banned.h"

int cmd_version(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	bool short_version = false;
	const struct opt opts[] = {
		{ "short-version", 0, OPT_BOOL, &short_version, NULL, "print only the client's version" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"version", "[flags]",
		"Prints the version of cfaas and, when the gateway can be reached, the "
		"gateway's version\nand provider.",
		opts, 0, 0, "  cfaas version\n  cfaas version --short-version\n",
	};
	struct client_resp resp;
	struct session s;
	struct opts_args args;
	struct utsname un;
	json_t *root = NULL, *prov;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	opts_args_release(&args);
	if (short_version) {
		printf("%s\n", CFAAS_VERSION);
		return CLI_OK;
	}
	uname(&un);
	printf("CLI:\n  version:       %s\n  arch:          %s\n", CFAAS_VERSION, un.machine);
	fflush(stdout);
	if ((rc = session_open(&s, "version", &sf, SESSION_STACK_IF_ANY)))
		return rc;
	client_resp_init(&resp);
	if ((rc = session_api(&s, "GET", "/system/info", NULL, NULL, 0, &resp)))
		goto out;
	if (resp.status != 200) {
		rc = session_fail(&s, &resp, "cannot read the gateway's version");
		goto out;
	}
	root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	prov = json_object_get(root, "provider");
	printf("Gateway:\n  uri:           %s\n", s.gateway);
	printf("  version:       %s\n", json_string_value(json_object_get(
					       json_object_get(root, "version"), "release"))
					       ?: "unknown");
	printf("  arch:          %s\n", json_string_value(json_object_get(root, "arch")) ?: "unknown");
	printf("  provider:      %s\n", json_string_value(json_object_get(prov, "provider")) ?: "unknown");
	printf("  orchestration: %s\n",
	       json_string_value(json_object_get(prov, "orchestration")) ?: "unknown");
	rc = CLI_OK;
out:
	fflush(stdout);
	json_decref(root);
	client_resp_release(&resp);
	session_close(&s);
	return rc;
}
