/*
 * cmd_logout.c - `cfaas logout`: forgets the credentials saved for a
 * gateway.
 */
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "opts.h"
#include "session.h"
#include "banned.h"

int cmd_logout(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	const struct opt opts[] = {
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"logout", "[flags]",
		"Removes the credentials saved by 'cfaas login' for the gateway.",
		opts, 0, 0, "  cfaas logout\n  cfaas logout -g http://10.0.0.5:8080\n",
	};
	struct session s;
	struct opts_args args;
	struct buf why;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	opts_args_release(&args);
	if ((rc = session_open(&s, "logout", &sf, SESSION_STACK_IF_ANY | SESSION_NO_CLIENT)))
		return rc;
	buf_init(&why, 4096);
	rc = config_auth_remove(s.gateway, &why);
	if (rc == -ERR_NOT_FOUND) {
		cli_note("No credentials were saved for %s", s.gateway);
		rc = CLI_OK;
	} else if (rc) {
		cli_err("logout: %s", buf_cstr(&why));
		rc = CLI_FAIL;
	} else {
		printf("Credentials removed for %s\n", s.gateway);
		rc = CLI_OK;
	}
	fflush(stdout);
	buf_release(&why);
	session_close(&s);
	return rc;
}
