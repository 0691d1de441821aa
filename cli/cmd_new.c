/*
 * cmd_new.c - `cfaas new NAME --lang LANG`: copies the template's
 * function/ skeleton into ./NAME and creates stack.yml, or appends the
 * function to it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "fsutil.h"
#include "opts.h"
#include "session.h"
#include "stack.h"
#include "template.h"
#include "wire.h"
#include "banned.h"

/* The text of one function entry, indented like the file's others. */
static void entry(struct buf *out, const char *name, const char *lang, const char *image,
		  int fn_indent, int prop_indent)
{
	buf_printf(out, "%*s%s:\n", fn_indent, "", name);
	buf_printf(out, "%*slang: %s\n", prop_indent, "", lang);
	buf_printf(out, "%*shandler: ./%s\n", prop_indent, "", name);
	buf_printf(out, "%*simage: %s\n", prop_indent, "", image);
}

static int write_stack(const char *file, bool exists, const struct stack *st,
		       const char *name, const char *lang, const char *image, const char *gateway,
		       struct buf *why)
{
	struct buf text;
	int rc;

	buf_init(&text, YTREE_MAX_FILE + 4096);
	if (exists) {
		int fn_indent = st->fn_col ? st->fn_col - 1 : 2;
		int prop_indent = st->prop_col > st->fn_col ? st->prop_col - 1 : fn_indent + 2;

		if ((rc = fsutil_read_file(file, &text, why)))
			goto out;
		if (text.len && text.data[text.len - 1] != '\n')
			buf_addc(&text, '\n');
		entry(&text, name, lang, image, fn_indent, prop_indent);
	} else {
		buf_printf(&text, "version: 1.0\nprovider:\n  name: openfaas\n  gateway: %s\n"
			   "functions:\n", gateway);
		entry(&text, name, lang, image, 2, 4);
	}
	rc = fsutil_write_file(file, text.data, text.len, 0644, why);
out:
	buf_release(&text);
	return rc;
}

int cmd_new(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	const char *lang = NULL, *prefix = NULL, *file;
	bool list = false, quiet = false, exists;
	const struct opt opts[] = {
		{ "lang", 0, OPT_STR, &lang, "LANG", "the template to start from (see --list)" },
		{ "list", 0, OPT_BOOL, &list, NULL, "list the templates and stop" },
		{ "prefix", 'p', OPT_STR, &prefix, "PREFIX", "image prefix: the image becomes PREFIX/NAME:latest" },
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_GATEWAY(&sf),
		{ "quiet", 'q', OPT_BOOL, &quiet, NULL, "do not print the template's welcome message" },
		OPT_END
	};
	const struct opts_spec spec = {
		"new", "NAME --lang LANG [flags]",
		"Creates the folder ./NAME from the template's function/ skeleton and adds the "
		"function to\nstack.yml (creating it, with the gateway of --gateway or "
		"$OPENFAAS_URL, when there is none).",
		opts, 0, 1,
		"  cfaas new hello --lang python3\n  cfaas new --list\n",
	};
	struct template t = { 0 };
	struct stack st = { 0 };
	struct opts_args args;
	struct buf why, src, dst, image, dir_of_stack;
	const char *gateway;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	buf_init(&why, 8192);
	buf_init(&src, PATH_MAX);
	buf_init(&dst, PATH_MAX);
	buf_init(&image, 1024);
	buf_init(&dir_of_stack, PATH_MAX);
	if (list) {
		rc = template_print(".", false);
		goto out;
	}
	if (args.n != 1 || !lang) {
		cli_err("new: give the function's name and template: cfaas new NAME --lang LANG "
			"(see 'cfaas new --list')");
		rc = CLI_USAGE;
		goto out;
	}
	if (strchr(args.v[0], '.')) {
		cli_err("new: invalid function name '%s': a name has no '.' (set a namespace with "
			"'namespace:' in the stack file)", args.v[0]);
		rc = CLI_USAGE;
		goto out;
	}
	if (wire_name_check(args.v[0], &why)) {
		cli_err("new: %s", buf_cstr(&why));
		rc = CLI_USAGE;
		goto out;
	}
	if (sf.yaml)
		file = sf.yaml;
	else if (!fsutil_exists("stack.yml") && fsutil_exists("stack.yaml"))
		file = "stack.yaml";
	else
		file = "stack.yml";
	exists = fsutil_exists(file);
	if (exists) {
		if (stack_load(file, config_getenv, &st, &why)) {
			cli_err("new: cannot add to %s", buf_cstr(&why));
			rc = CLI_USAGE;
			goto out;
		}
		if (stack_find(&st, args.v[0])) {
			cli_err("new: function '%s' is already in '%s'", args.v[0], file);
			rc = CLI_USAGE;
			goto out;
		}
		if (!st.functions_last || !st.functions_block) {
			cli_err("new: cannot append to '%s': its 'functions' map is not the last "
				"section in block style; add '%s' by hand", file, args.v[0]);
			rc = CLI_USAGE;
			goto out;
		}
	}
	{
		const char *slash = strrchr(file, '/');
		if (slash)
			buf_add(&dir_of_stack, file, (size_t)(slash - file));
		else
			buf_adds(&dir_of_stack, ".");
	}
	if ((rc = template_find(lang, buf_cstr(&dir_of_stack), &t, &why))) {
		cli_err("new: %s", buf_cstr(&why));
		rc = rc == -ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL;
		goto out;
	}
	buf_printf(&src, "%s/function", t.dir);
	buf_printf(&dst, "%s/%s", buf_cstr(&dir_of_stack), args.v[0]);
	if (fsutil_exists(buf_cstr(&dst))) {
		cli_err("new: '%s' exists already: choose another name or remove it",
			buf_cstr(&dst));
		rc = CLI_USAGE;
		goto out;
	}
	if (!fsutil_is_dir(buf_cstr(&src))) {
		cli_err("new: template '%s' has no function/ folder in '%s'", t.name, t.dir);
		rc = CLI_FAIL;
		goto out;
	}
	if (fsutil_copytree(buf_cstr(&src), buf_cstr(&dst), NULL, NULL, &why)) {
		cli_err("new: %s", buf_cstr(&why));
		fsutil_rmtree(buf_cstr(&dst), &why);
		rc = CLI_FAIL;
		goto out;
	}
	if (prefix && *prefix)
		buf_printf(&image, "%s/%s:latest", prefix, args.v[0]);
	else
		buf_printf(&image, "%s:latest", args.v[0]);
	gateway = sf.gateway ? sf.gateway
		  : config_env()->openfaas_url ? config_env()->openfaas_url
					       : SESSION_DEFAULT_GATEWAY;
	if (write_stack(file, exists, &st, args.v[0], lang, buf_cstr(&image), gateway, &why)) {
		cli_err("new: %s", buf_cstr(&why));
		buf_reset(&why);
		fsutil_rmtree(buf_cstr(&dst), &why);
		rc = CLI_FAIL;
		goto out;
	}
	printf("Function created in folder: %s\n",
	       strcmp(buf_cstr(&dir_of_stack), ".") ? buf_cstr(&dst) : args.v[0]);
	printf("Stack file %s: %s\n", exists ? "updated" : "written", file);
	if (!quiet && t.welcome)
		printf("\n%s\n", t.welcome);
	fflush(stdout);
	cli_note("Next: 'cfaas up%s%s' builds and deploys it, then 'echo hi | cfaas invoke %s'.",
		 sf.yaml ? " -f " : "", sf.yaml ? sf.yaml : "", args.v[0]);
	rc = CLI_OK;
out:
	template_release(&t);
	stack_release(&st);
	opts_args_release(&args);
	buf_release(&why);
	buf_release(&src);
	buf_release(&dst);
	buf_release(&image);
	buf_release(&dir_of_stack);
	return rc;
}
