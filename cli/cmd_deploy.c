/*
 * cmd_deploy.c - `cfaas deploy`: deploys the stack's functions, or one
 * function given by --name and --image (see deployer.h).
 */
#include <stdlib.h>

#include "cli.h"
#include "deployer.h"
#include "opts.h"
#include "session.h"
#include "banned.h"

int cmd_deploy(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	struct deploy_flags df = { 0 };
	const struct opt opts[] = {
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_FILTER(&sf),
		SESSION_OPT_REGEX(&sf),
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_NAMESPACE(&sf),
		DEPLOY_OPTS(&df),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"deploy", "[flags]",
		"Deploys the functions of the stack file to the gateway: updates each one (PUT) "
		"and creates\nit when it does not exist yet (POST). When the gateway runs the "
		"process provider, the\nbundle from 'cfaas build' is uploaded first.",
		opts, 0, 0,
		"  cfaas deploy\n  cfaas deploy --filter hello -e DEBUG=1 --secret api-key\n"
		"  cfaas deploy --name reverse --image reverse:latest --fprocess rev\n",
	};
	struct session s;
	struct opts_args args;
	size_t *idx = NULL, n = 0, i;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc) {
		deploy_flags_release(&df);
		return rc == 1 ? CLI_OK : rc;
	}
	opts_args_release(&args);
	if (deploy_flags_single(&df)) {
		if (!(rc = session_open(&s, "deploy", &sf, SESSION_STACK_IF_ANY))) {
			rc = deployer_deploy(&s, NULL, &df);
			session_close(&s);
		}
		deploy_flags_release(&df);
		return rc;
	}
	if ((rc = session_open(&s, "deploy", &sf, SESSION_STACK_NEEDED)))
		goto out;
	if (!(rc = session_select(&s, &idx, &n))) {
		for (i = 0; i < n; i++) {
			int one = deployer_deploy(&s, &s.stack->fns[idx[i]], &df);
			rc = cli_worse(rc, one);
			/* Nothing else can work when the gateway is gone or refuses us. */
			if (one == CLI_UNREACHABLE || one == CLI_UNAUTHORIZED)
				break;
		}
	}
	free(idx);
	session_close(&s);
out:
	deploy_flags_release(&df);
	return rc;
}
