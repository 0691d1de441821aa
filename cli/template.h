/*
 * template.h - function templates: where they are and what their
 * template.yml says.
 *
 * A template is a folder named after its language, holding template.yml
 * (`language`, `fprocess`, `build`, and optionally `description` and
 * `welcome_message`), a Dockerfile and a `function/` skeleton. Folders are
 * searched in this order, the first hit winning:
 *   1. ./template/<lang> next to the stack file (a project's own copy, as
 *      faas-cli keeps them);
 *   2. every folder of $CFAAS_TEMPLATES (':'-separated);
 *   3. <folder of the cfaas binary>/../templates (a source tree's bin/);
 *   4. <folder of the cfaas binary>/../share/cfaas/templates (installed).
 */
#ifndef CLI_TEMPLATE_H
#define CLI_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct template {
	char *name;        /* the folder name, which is the `lang` */
	char *dir;         /* the template's folder */
	char *language;
	char *fprocess;    /* NULL when the template sets none */
	char *build;       /* shell command for process bundles, NULL: none */
	char *description;
	char *welcome;
};

/* Frees what t owns and zeroes it; t may be NULL. */
void template_release(struct template *t);

/* Finds and reads the template for lang. project_dir is the folder of the
 * stack file ("." when none). 0; -ERR_NOT_FOUND with why listing the known
 * templates; other codes with why for a bad template.yml. */
int template_find(const char *lang, const char *project_dir, struct template *out,
		  struct buf *why);

/* Every template found, first hit per name, sorted by name. *out is a new
 * array (free with template_list_free). 0 or a negative code. */
int template_list(const char *project_dir, struct template **out, size_t *n, struct buf *why);

void template_list_free(struct template *ts, size_t n);

/* Prints the templates as a table on stdout (with their folders when
 * verbose); returns an exit code (cli.h), having said where it looked
 * when there are none. */
int template_print(const char *project_dir, bool verbose);

/* Appends the folders searched, one per line with a leading "  ", to
 * out (for messages). */
void template_search_path(const char *project_dir, struct buf *out);

#endif
