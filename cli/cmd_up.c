/*
 * cmd_up.c - `cfaas up`: build, then deploy what was built.
 */
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "cli.h"
#include "config.h"
#include "deployer.h"
#include "opts.h"
#include "session.h"
#include "strs.h"
#include "banned.h"

int cmd_up(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	struct deploy_flags df = { 0 };
	struct wire_list build_args = { 0 };
	struct wire_map args_map = { 0 };
	bool skip_deploy = false, skip_build = false;
	long parallel = 1;
	const struct opt opts[] = {
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_FILTER(&sf),
		SESSION_OPT_REGEX(&sf),
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		{ "parallel", 0, OPT_INT, &parallel, "N", "build up to N functions at a time (default 1)" },
		{ "build-arg", 'b', OPT_LIST, &build_args, "KEY=VALUE",
		  "set a variable for the template's build command" },
		{ "skip-build", 0, OPT_BOOL, &skip_build, NULL, "deploy what was built before" },
		{ "skip-deploy", 0, OPT_BOOL, &skip_deploy, NULL, "only build" },
		DEPLOY_OPTS(&df),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"up", "[flags]",
		"Builds the functions of the stack file (see 'cfaas build --help'), then deploys "
		"each one\nthat built (see 'cfaas deploy --help').",
		opts, 0, 0,
		"  cfaas up\n  cfaas up -f stack.yml --filter hello --parallel 2\n",
	};
	struct session s;
	struct opts_args args;
	struct buf why;
	size_t *idx = NULL, n = 0, i;
	int *built = NULL;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc) {
		deploy_flags_release(&df);
		strs_list_release(&build_args);
		return rc == 1 ? CLI_OK : rc;
	}
	opts_args_release(&args);
	buf_init(&why, 1024);
	if (strs_map_add_kvs(&args_map, &build_args, "--build-arg", &why)) {
		cli_err("up: %s", buf_cstr(&why));
		rc = CLI_USAGE;
		goto out;
	}
	if (deploy_flags_single(&df)) {
		cli_err("up: --image and --name are for 'cfaas deploy'; 'up' works on a stack file");
		rc = CLI_USAGE;
		goto out;
	}
	if ((rc = session_open(&s, "up", &sf, SESSION_STACK_NEEDED)))
		goto out;
	if ((rc = session_select(&s, &idx, &n)))
		goto close;
	built = calloc(n ? n : 1, sizeof(*built));
	if (!built) {
		rc = CLI_FAIL;
		goto close;
	}
	if (!skip_build) {
		struct builder_opts bo = { .build_args = &args_map };
		const char *sock = config_getenv("CFAAS_DOCKER_SOCKET"), *provider = NULL;

		/* A gateway running the docker provider gets images, not
		 * bundles; one that cannot be asked could not take the
		 * deploy either (session_provider said why). */
		if (!skip_deploy) {
			if ((rc = session_provider(&s, &provider)))
				goto close;
			if (!strcmp(provider, "docker"))
				bo.docker_socket = sock && *sock ? sock : "/var/run/docker.sock";
		}
		rc = builder_run(s.stack, idx, n, &bo, parallel, built);
	}
	for (i = 0; i < n && !skip_deploy; i++) {
		int one;
		if (built[i])
			continue;
		one = deployer_deploy(&s, &s.stack->fns[idx[i]], &df);
		rc = cli_worse(rc, one);
		if (one == CLI_UNREACHABLE || one == CLI_UNAUTHORIZED)
			break;
	}
close:
	free(built);
	free(idx);
	session_close(&s);
out:
	deploy_flags_release(&df);
	strs_list_release(&build_args);
	wire_map_release(&args_map);
	buf_release(&why);
	return rc;
}
