/*
 * cmd_template.c - `cfaas template list`: the templates `cfaas new` knows.
 */
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "template.h"
#include "banned.h"

int cmd_template(int argc, char **argv)
{
	bool verbose = false;
	const struct opt opts[] = {
		{ "verbose", 'v', OPT_BOOL, &verbose, NULL, "also show each template's folder" },
		OPT_END
	};
	const struct opts_spec spec = {
		"template", "list [flags]",
		"Lists the function templates that 'cfaas new --lang' accepts. Templates are "
		"searched in ./template,\n$CFAAS_TEMPLATES, and the templates folder installed "
		"with cfaas.",
		opts, 0, 1, "  cfaas template list\n",
	};
	struct opts_args args;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	if (args.n == 0) {
		cli_err("template: give a subcommand: 'cfaas template list'");
		opts_args_release(&args);
		return CLI_USAGE;
	}
	if (strcmp(args.v[0], "list") && strcmp(args.v[0], "ls")) {
		cli_err("template: unknown subcommand '%s' (use 'cfaas template list')", args.v[0]);
		opts_args_release(&args);
		return CLI_USAGE;
	}
	opts_args_release(&args);
	return template_print(".", verbose);
}

