/*
 * cfaas - the command line of cfaas, in the way of faas-cli.
 *
 * One row per command below; each command is its own cmd_<name>.c with its
 * flags table, its --help and its work. Exit codes are in cli.h.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "banned.h"

static const struct cli_command commands[] = {
	/* name        alias  function      summary */
	{ "new",       NULL,  cmd_new,      "create a function from a template and add it to stack.yml" },
	{ "build",     NULL,  cmd_build,    "assemble build/NAME and pack each function's bundle" },
	{ "deploy",    NULL,  cmd_deploy,   "deploy the stack's functions (or one --image)" },
	{ "up",        NULL,  cmd_up,       "build, then deploy" },
	{ "invoke",    NULL,  cmd_invoke,   "call a function with stdin as the body" },
	{ "list",      "ls",  cmd_list,     "list the deployed functions" },
	{ "describe",  NULL,  cmd_describe, "show a function's status, URLs and settings" },
	{ "logs",      NULL,  cmd_logs,     "show and follow a function's logs" },
	{ "scale",     NULL,  cmd_scale,    "set a function's replica count" },
	{ "remove",    "rm",  cmd_remove,   "remove functions" },
	{ "secret",    NULL,  cmd_secret,   "create, list, update and remove secrets" },
	{ "calls",     NULL,  cmd_calls,    "list async call records" },
	{ "call",      NULL,  cmd_call,     "show, cancel or retry one async call" },
	{ "login",     NULL,  cmd_login,    "check and save the gateway's credentials" },
	{ "logout",    NULL,  cmd_logout,   "forget the saved credentials" },
	{ "template",  NULL,  cmd_template, "list the function templates" },
	{ "version",   NULL,  cmd_version,  "show the client's and the gateway's versions" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: cfaas COMMAND [flags]\n\n"
	      "Build, deploy and call functions on a cfaas (or OpenFaaS) gateway.\n\n"
	      "Commands:\n", f);
	for (i = 0; i < NCOMMANDS; i++) {
		struct buf name;
		buf_init(&name, 64);
		buf_adds(&name, commands[i].name);
		if (commands[i].alias)
			buf_printf(&name, ", %s", commands[i].alias);
		fprintf(f, "  %-14s %s\n", buf_cstr(&name), commands[i].summary);
		buf_release(&name);
	}
	fputs("\nFrom an empty folder to a running function:\n"
	      "  cfaas new hello --lang python3\n"
	      "  cfaas up\n"
	      "  echo world | cfaas invoke hello\n\n"
	      "'cfaas COMMAND --help' shows a command's flags. Exit codes: 0 done, 1 failed,\n"
	      "2 bad usage or stack file, 3 gateway unreachable, 4 unauthorized, 5 not found.\n",
	      f);
}

static const struct cli_command *find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name) ||
		    (commands[i].alias && !strcmp(commands[i].alias, name)))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	struct buf why;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("cfaas version %s\n", CFAAS_VERSION);
		return CLI_OK;
	}
	buf_init(&why, 1024);
	if (config_env_load(&why)) {
		cli_err("%s", buf_cstr(&why));
		buf_release(&why);
		return CLI_USAGE;
	}
	buf_release(&why);
	if (!strcmp(argv[1], "help")) {
		char help[] = "--help";
		char *hargv[3] = { argv[2], help, NULL };

		if (argc < 3) {
			usage(stdout);
			return CLI_OK;
		}
		if (!(cmd = find(argv[2]))) {
			cli_err("unknown command '%s' (see 'cfaas --help')", argv[2]);
			return CLI_USAGE;
		}
		return cmd->run(2, hargv);
	}
	cmd = find(argv[1]);
	if (!cmd) {
		cli_err("unknown command '%s' (see 'cfaas --help')", argv[1]);
		return CLI_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_err("cannot initialise libcurl");
		return CLI_FAIL;
	}
	rc = cmd->run(argc - 1, argv + 1);
	curl_global_cleanup();
	fflush(stdout);
	return rc;
}
