/*
 * template.c - finding and reading templates (see template.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "fsutil.h"
#include "table.h"
#include "template.h"
#include "ytree.h"
#include "banned.h"

#define MAX_ROOTS 16

void template_release(struct template *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->dir);
	free(t->language);
	free(t->fprocess);
	free(t->build);
	free(t->description);
	free(t->welcome);
	memset(t, 0, sizeof(*t));
}

void template_list_free(struct template *ts, size_t n)
{
	size_t i;

	for (i = 0; ts && i < n; i++)
		template_release(&ts[i]);
	free(ts);
}

/* The folders holding templates, in search order; each a new string. */
static size_t roots(const char *project_dir, char **out)
{
	const char *env = config_env()->templates;
	struct buf b;
	size_t n = 0;

	buf_init(&b, 8192);
	buf_printf(&b, "%s/template", project_dir ? project_dir : ".");
	out[n++] = buf_detach(&b, NULL);
	while (env && *env && n < MAX_ROOTS - 2) {
		const char *colon = strchr(env, ':');
		size_t len = colon ? (size_t)(colon - env) : strlen(env);
		if (len)
			out[n++] = strndup(env, len);
		env = colon ? colon + 1 : NULL;
	}
	if (fsutil_exe_dir(&b) == 0) {
		char *exe = buf_detach(&b, NULL);
		buf_printf(&b, "%s/../templates", exe);
		out[n++] = buf_detach(&b, NULL);
		buf_printf(&b, "%s/../share/cfaas/templates", exe);
		out[n++] = buf_detach(&b, NULL);
		free(exe);
	}
	buf_release(&b);
	return n;
}

static void roots_free(char **r, size_t n)
{
	while (n--)
		free(r[n]);
}

void template_search_path(const char *project_dir, struct buf *out)
{
	char *r[MAX_ROOTS];
	size_t n = roots(project_dir, r), i;

	for (i = 0; i < n; i++)
		if (r[i])
			buf_printf(out, "  %s\n", r[i]);
	roots_free(r, n);
}

static int text_of(const struct ydoc *doc, const struct ynode *root, const char *key,
		   char **out, struct buf *why)
{
	const struct ynode *v = ynode_get(root, key);

	if (!v || ynode_is_null(v))
		return 0;
	if (v->type != YNODE_SCALAR)
		return ytree_err(why, doc, v, "'%s' must be text, not %s", key, ynode_kind(v));
	*out = strdup(v->value);
	return *out ? 0 : -ENOMEM;
}

/* Reads dir/template.yml into t. */
static int read_template(const char *name, const char *dir, struct template *t,
			 struct buf *why)
{
	struct ydoc doc = { 0 };
	struct buf path;
	int rc;

	memset(t, 0, sizeof(*t));
	buf_init(&path, 8192);
	buf_printf(&path, "%s/template.yml", dir);
	rc = ytree_load(buf_cstr(&path), NULL, &doc, why);
	if (rc)
		goto out;
	if (!doc.root || doc.root->type != YNODE_MAP) {
		rc = ytree_err(why, &doc, doc.root, "template.yml must be a map with 'language', "
			       "'fprocess' and 'build'");
		goto out;
	}
	t->name = strdup(name);
	t->dir = strdup(dir);
	if (!t->name || !t->dir) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = text_of(&doc, doc.root, "language", &t->language, why)) ||
	    (rc = text_of(&doc, doc.root, "fprocess", &t->fprocess, why)) ||
	    (rc = text_of(&doc, doc.root, "build", &t->build, why)) ||
	    (rc = text_of(&doc, doc.root, "description", &t->description, why)) ||
	    (rc = text_of(&doc, doc.root, "welcome_message", &t->welcome, why)))
		goto out;
	if (!t->language && !(t->language = strdup(name)))
		rc = -ENOMEM;
out:
	if (rc)
		template_release(t);
	ytree_release(&doc);
	buf_release(&path);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct template *)a)->name, ((const struct template *)b)->name);
}

int template_list(const char *project_dir, struct template **out, size_t *n, struct buf *why)
{
	char *r[MAX_ROOTS];
	size_t nr = roots(project_dir, r), i, j;
	struct template *ts = NULL;
	struct buf dir, yml;
	int rc = 0;

	*out = NULL;
	*n = 0;
	buf_init(&dir, 8192);
	buf_init(&yml, 8192);
	for (i = 0; i < nr && !rc; i++) {
		DIR *d = r[i] ? opendir(r[i]) : NULL;
		struct dirent *e;

		while (d && !rc && (e = readdir(d))) {
			struct template t, *grown;
			bool seen = false;

			if (e->d_name[0] == '.')
				continue;
			for (j = 0; j < *n; j++)
				if (!strcmp(ts[j].name, e->d_name))
					seen = true;
			buf_reset(&dir);
			buf_reset(&yml);
			buf_printf(&dir, "%s/%s", r[i], e->d_name);
			buf_printf(&yml, "%s/template.yml", buf_cstr(&dir));
			if (seen || !fsutil_exists(buf_cstr(&yml)))
				continue;
			if (read_template(e->d_name, buf_cstr(&dir), &t, why)) {
				/* A broken template does not hide the others. */
				buf_reset(why);
				continue;
			}
			grown = realloc(ts, (*n + 1) * sizeof(*ts));
			if (!grown) {
				template_release(&t);
				rc = -ENOMEM;
				break;
			}
			ts = grown;
			ts[(*n)++] = t;
		}
		if (d)
			closedir(d);
	}
	roots_free(r, nr);
	buf_release(&dir);
	buf_release(&yml);
	if (rc) {
		template_list_free(ts, *n);
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(ts, *n, sizeof(*ts), cmp_name);
	*out = ts;
	return 0;
}

int template_find(const char *lang, const char *project_dir, struct template *out,
		  struct buf *why)
{
	char *r[MAX_ROOTS];
	size_t nr, i;
	struct buf dir;
	int rc = -ERR_NOT_FOUND;

	memset(out, 0, sizeof(*out));
	if (!lang[0] || strchr(lang, '/') || !strcmp(lang, ".") || !strcmp(lang, "..")) {
		buf_printf(why, "'%s' is not a template name", lang);
		return -ERR_INVALID;
	}
	nr = roots(project_dir, r);
	buf_init(&dir, 8192);
	for (i = 0; i < nr && rc == -ERR_NOT_FOUND; i++) {
		if (!r[i])
			continue;
		buf_reset(&dir);
		buf_printf(&dir, "%s/%s/template.yml", r[i], lang);
		if (!fsutil_exists(buf_cstr(&dir)))
			continue;
		buf_reset(&dir);
		buf_printf(&dir, "%s/%s", r[i], lang);
		rc = read_template(lang, buf_cstr(&dir), out, why);
	}
	roots_free(r, nr);
	buf_release(&dir);
	if (rc == -ERR_NOT_FOUND) {
		struct template *ts = NULL;
		size_t n = 0;

		buf_printf(why, "no template for lang '%s'", lang);
		if (template_list(project_dir, &ts, &n, why) == 0 && n) {
			buf_adds(why, " (available:");
			for (i = 0; i < n; i++)
				buf_printf(why, " %s", ts[i].name);
			buf_adds(why, "; see 'cfaas template list')");
		} else {
			buf_adds(why, ": no templates were found; set CFAAS_TEMPLATES to the "
				 "templates folder");
		}
		template_list_free(ts, n);
	}
	return rc;
}

int template_print(const char *project_dir, bool verbose)
{
	struct template *ts = NULL;
	struct table tab;
	struct buf why;
	size_t n = 0, i;
	int rc;

	buf_init(&why, 4096);
	rc = template_list(project_dir, &ts, &n, &why);
	if (rc || n == 0) {
		struct buf where;
		buf_init(&where, 8192);
		template_search_path(project_dir, &where);
		cli_err("no templates found; looked in:\n%sset CFAAS_TEMPLATES to the folder that "
			"holds them", buf_cstr(&where));
		buf_release(&where);
		buf_release(&why);
		return CLI_FAIL;
	}
	table_init(&tab, verbose ? 3 : 2);
	{
		const char *head[] = { "NAME", "DESCRIPTION", "FOLDER" };
		table_row(&tab, head);
	}
	for (i = 0; i < n; i++) {
		const char *row[] = { ts[i].name, ts[i].description ? ts[i].description : ts[i].language,
				      ts[i].dir };
		table_row(&tab, row);
	}
	table_print(&tab, stdout);
	table_release(&tab);
	template_list_free(ts, n);
	buf_release(&why);
	return CLI_OK;
}
