/*
 * stack.c - reading and checking stack files (see stack.h).
 */
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "parse.h"
#include "stack.h"
#include "strs.h"
#include "banned.h"

static const char *const top_keys[] = { "version", "provider", "functions", "configuration",
					NULL };
static const char *const provider_keys[] = { "name", "gateway", "network", NULL };
static const char *const configuration_keys[] = { "copy", "templates", NULL };
static const char *const fn_keys[] = {
	"lang", "handler", "image", "fprocess", "namespace", "environment",
	"environment_file", "secrets", "labels", "annotations", "limits", "requests",
	"constraints", "build_args", "build_options", "readonly_root_filesystem",
	"skip_build", NULL
};
static const char *const res_keys[] = { "memory", "cpu", NULL };

/* Context of one check: the document and what is being read, for
 * messages ("function 'hello'"). */
struct ctx {
	struct ydoc *doc;
	struct stack *st;
	ytree_lookup lookup;
	struct buf *why;
	const char *where;
};

int stack_err(const struct stack *s, struct stack_pos at, struct buf *why, const char *fmt, ...)
{
	va_list ap;

	buf_reset(why);
	buf_printf(why, "%s:%d:%d: ", s->path, at.line, at.col);
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
	return -ERR_INVALID;
}

static struct stack_pos pos(const struct ynode *n)
{
	struct stack_pos p = { n ? n->line : 0, n ? n->col : 0 };
	return p;
}

/* Edit distance, for "did you mean" hints; small strings only. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0], tmp;
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* Fails on a key of map that is not in allowed, with a hint. */
static int check_keys(struct ctx *c, const struct ynode *map, const char *const *allowed)
{
	size_t i, k;

	for (i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *key = map->kids[i];
		const char *best = NULL;
		size_t best_d = 3;
		struct buf list;
		int rc;

		for (k = 0; allowed[k]; k++) {
			size_t d;
			if (!strcmp(allowed[k], key->value))
				break;
			d = distance(allowed[k], key->value);
			if (d < best_d) {
				best_d = d;
				best = allowed[k];
			}
		}
		if (allowed[k])
			continue;
		if (best)
			return ytree_err(c->why, c->doc, key, "unknown key '%s' in %s (did you mean '%s'?)",
					 key->value, c->where, best);
		buf_init(&list, 1024);
		for (k = 0; allowed[k]; k++)
			buf_printf(&list, "%s%s", k ? ", " : "", allowed[k]);
		rc = ytree_err(c->why, c->doc, key, "unknown key '%s' in %s (known keys: %s)",
			       key->value, c->where, buf_cstr(&list));
		buf_release(&list);
		return rc;
	}
	return 0;
}

static int want_map(struct ctx *c, const char *kname, const struct ynode *v)
{
	if (v->type == YNODE_MAP)
		return 0;
	return ytree_err(c->why, c->doc, v, "'%s' in %s must be a map, not %s", kname,
			 c->where, ynode_kind(v));
}

/* A non-empty text value: copied into *out. */
static int get_text(struct ctx *c, const char *kname, const struct ynode *v, char **out)
{
	if (v->type != YNODE_SCALAR || ynode_is_null(v))
		return ytree_err(c->why, c->doc, v, "'%s' in %s must be text, not %s", kname,
				 c->where, ynode_kind(v));
	if (!v->value[0])
		return ytree_err(c->why, c->doc, v, "'%s' in %s is empty", kname, c->where);
	free(*out);
	*out = strdup(v->value);
	return *out ? 0 : -ENOMEM;
}

/* A map of text values (numbers and booleans count as text; an empty
 * value is ""); null is an empty map. */
static int get_map(struct ctx *c, const char *kname, const struct ynode *v,
		   struct wire_map *out)
{
	size_t i;
	int rc;

	if (ynode_is_null(v))
		return 0;
	if (v->type != YNODE_MAP)
		return ytree_err(c->why, c->doc, v,
				 "'%s' in %s must be a map of names to values, not %s", kname,
				 c->where, ynode_kind(v));
	for (i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		if (val->type != YNODE_SCALAR)
			return ytree_err(c->why, c->doc, val,
					 "value of '%s' in '%s' of %s must be text, not %s", k->value,
					 kname, c->where, ynode_kind(val));
		if (!k->value[0])
			return ytree_err(c->why, c->doc, k, "empty name in '%s' of %s", kname,
					 c->where);
		if ((rc = strs_map_set(out, k->value, ynode_is_null(val) ? "" : val->value)))
			return rc;
	}
	return 0;
}

/* A list of non-empty text values; null is an empty list. */
static int get_list(struct ctx *c, const char *kname, const struct ynode *v,
		    struct wire_list *out)
{
	size_t i;
	int rc;

	if (ynode_is_null(v))
		return 0;
	if (v->type != YNODE_SEQ)
		return ytree_err(c->why, c->doc, v, "'%s' in %s must be a list, not %s", kname,
				 c->where, ynode_kind(v));
	for (i = 0; i < v->n; i++) {
		const struct ynode *item = v->kids[i];
		if (item->type != YNODE_SCALAR || ynode_is_null(item) || !item->value[0])
			return ytree_err(c->why, c->doc, item,
					 "items of '%s' in %s must be text, not %s", kname,
					 c->where, ynode_kind(item));
		if ((rc = strs_list_add(out, item->value)))
			return rc;
	}
	return 0;
}

static int get_bool(struct ctx *c, const char *kname, const struct ynode *v, bool *out)
{
	if (ynode_is_null(v)) {
		*out = false;
		return 0;
	}
	if (ynode_bool(v, out))
		return ytree_err(c->why, c->doc, v, "'%s' in %s must be true or false, not '%s'",
				 kname, c->where, v->type == YNODE_SCALAR ? v->value : "...");
	return 0;
}

static int get_resources(struct ctx *c, const char *kname, const struct ynode *v,
			 struct stack_res *out)
{
	const struct ynode *m, *cpu;
	uint64_t n;
	int rc;

	if (ynode_is_null(v))
		return 0;
	if ((rc = want_map(c, kname, v)) || (rc = check_keys(c, v, res_keys)))
		return rc;
	m = ynode_get(v, "memory");
	cpu = ynode_get(v, "cpu");
	if (m && !ynode_is_null(m)) {
		if (m->type != YNODE_SCALAR || parse_size(m->value, &n))
			return ytree_err(c->why, c->doc, m,
					 "'memory' of '%s' in %s must be a size like 128Mi, not '%s'",
					 kname, c->where, m->type == YNODE_SCALAR ? m->value : "...");
		if (!(out->memory = strdup(m->value)))
			return -ENOMEM;
	}
	if (cpu && !ynode_is_null(cpu)) {
		if (cpu->type != YNODE_SCALAR || parse_cpu_millis(cpu->value, &n))
			return ytree_err(c->why, c->doc, cpu,
					 "'cpu' of '%s' in %s must be like 100m or 0.5, not '%s'",
					 kname, c->where,
					 cpu->type == YNODE_SCALAR ? cpu->value : "...");
		if (!(out->cpu = strdup(cpu->value)))
			return -ENOMEM;
	}
	return 0;
}

/* Reads one environment_file into env (its values go first). */
static int env_file(struct ctx *c, const struct ynode *item, struct wire_map *env)
{
	struct ydoc doc = { 0 };
	struct buf path;
	const struct ynode *root, *e;
	struct ctx fc = *c;
	int rc;

	buf_init(&path, 4096);
	stack_path(c->st, item->value, &path);
	rc = ytree_load(buf_cstr(&path), NULL, &doc, c->why);
	if (rc) {
		if (doc.file == NULL && rc != -ERR_INVALID && rc != -ERR_PARSE) {
			struct buf msg;
			buf_init(&msg, 4096);
			buf_adds(&msg, buf_cstr(c->why));
			ytree_err(c->why, c->doc, item, "environment_file of %s: %s", c->where,
				  buf_cstr(&msg));
			buf_release(&msg);
			rc = -ERR_INVALID;
		}
		goto out;
	}
	fc.doc = &doc;
	fc.where = "the environment file";
	root = doc.root;
	if (ynode_is_null(root))
		goto out;
	if (root->type != YNODE_MAP) {
		rc = ytree_err(c->why, &doc, root, "an environment file must be a map with an "
			       "'environment' key, not %s", ynode_kind(root));
		goto out;
	}
	{
		static const char *const env_keys[] = { "environment", NULL };
		if ((rc = check_keys(&fc, root, env_keys)))
			goto out;
	}
	e = ynode_get(root, "environment");
	if (e)
		rc = get_map(&fc, "environment", e, env);
out:
	ytree_release(&doc);
	buf_release(&path);
	return rc;
}

static int read_function(struct ctx *c, const struct ynode *key, const struct ynode *v,
			 struct stack_fn *fn)
{
	struct wire_map own_env = { 0 };
	const struct ynode *k, *val;
	struct buf where, why;
	size_t i;
	int rc = 0;

	buf_init(&where, 256);
	buf_init(&why, 1024);
	fn->at = pos(key);
	if (!(fn->name = strdup(key->value))) {
		rc = -ENOMEM;
		goto out;
	}
	if (wire_name_check(key->value, &why) || strchr(key->value, '.')) {
		rc = ytree_err(c->why, c->doc, key, "invalid function name '%s': use 1-63 characters "
			       "of a-z, 0-9 and '-', starting and ending with a letter or digit",
			       key->value);
		goto out;
	}
	buf_printf(&where, "function '%s'", key->value);
	c->where = buf_cstr(&where);
	if (ynode_is_null(v)) {
		rc = ytree_err(c->why, c->doc, key, "function '%s' has no settings: give it at least "
			       "'lang' and 'handler', or 'image'", key->value);
		goto out;
	}
	if (v->type != YNODE_MAP) {
		rc = ytree_err(c->why, c->doc, v, "function '%s' must be a map of settings, not %s",
			       key->value, ynode_kind(v));
		goto out;
	}
	if ((rc = check_keys(c, v, fn_keys)))
		goto out;
	for (i = 0; i + 1 < v->n && !rc; i += 2) {
		const char *name;

		k = v->kids[i];
		val = v->kids[i + 1];
		name = k->value;
		if (!strcmp(name, "lang")) {
			rc = get_text(c, name, val, &fn->lang);
			fn->lang_at = pos(val);
		} else if (!strcmp(name, "handler")) {
			rc = get_text(c, name, val, &fn->handler);
			fn->handler_at = pos(val);
		} else if (!strcmp(name, "image")) {
			rc = get_text(c, name, val, &fn->image);
		} else if (!strcmp(name, "fprocess")) {
			rc = get_text(c, name, val, &fn->fprocess);
		} else if (!strcmp(name, "namespace")) {
			rc = get_text(c, name, val, &fn->namespace);
			if (!rc && wire_name_check_as("namespace", fn->namespace, 0, &why))
				rc = ytree_err(c->why, c->doc, val, "%s", buf_cstr(&why));
		} else if (!strcmp(name, "environment")) {
			rc = get_map(c, name, val, &own_env);
		} else if (!strcmp(name, "environment_file")) {
			struct wire_list files = { 0 };
			size_t j;
			rc = get_list(c, name, val, &files);
			for (j = 0; !rc && j < files.n; j++)
				rc = env_file(c, val->kids[j], &fn->environment);
			strs_list_release(&files);
		} else if (!strcmp(name, "secrets")) {
			size_t j;
			rc = get_list(c, name, val, &fn->secrets);
			for (j = 0; !rc && j < fn->secrets.n; j++) {
				buf_reset(&why);
				if (wire_name_check_as("secret", fn->secrets.items[j], 0, &why))
					rc = ytree_err(c->why, c->doc, val->kids[j], "%s",
						       buf_cstr(&why));
			}
		} else if (!strcmp(name, "labels")) {
			rc = get_map(c, name, val, &fn->labels);
		} else if (!strcmp(name, "annotations")) {
			rc = get_map(c, name, val, &fn->annotations);
		} else if (!strcmp(name, "build_args")) {
			rc = get_map(c, name, val, &fn->build_args);
		} else if (!strcmp(name, "limits")) {
			rc = get_resources(c, name, val, &fn->limits);
		} else if (!strcmp(name, "requests")) {
			rc = get_resources(c, name, val, &fn->requests);
		} else if (!strcmp(name, "constraints")) {
			rc = get_list(c, name, val, &fn->constraints);
		} else if (!strcmp(name, "build_options")) {
			rc = get_list(c, name, val, &fn->build_options);
		} else if (!strcmp(name, "readonly_root_filesystem")) {
			rc = get_bool(c, name, val, &fn->readonly_root_filesystem);
		} else if (!strcmp(name, "skip_build")) {
			rc = get_bool(c, name, val, &fn->skip_build);
		}
	}
	if (!rc)
		rc = strs_map_merge(&fn->environment, &own_env);
	if (!rc && !fn->image) {
		buf_reset(&why);
		buf_printf(&why, "%s:latest", fn->name);
		if (!(fn->image = strdup(buf_cstr(&why))))
			rc = -ENOMEM;
	}
	if (!rc && !fn->lang && !fn->handler && !ynode_get(v, "image"))
		rc = ytree_err(c->why, c->doc, key, "function '%s' needs 'lang' and 'handler' (to "
			       "build it) or 'image' (to deploy it)", fn->name);
out:
	c->where = NULL;
	wire_map_release(&own_env);
	buf_release(&where);
	buf_release(&why);
	return rc;
}

static void fn_release(struct stack_fn *fn)
{
	free(fn->name);
	free(fn->lang);
	free(fn->handler);
	free(fn->image);
	free(fn->fprocess);
	free(fn->namespace);
	wire_map_release(&fn->environment);
	wire_map_release(&fn->labels);
	wire_map_release(&fn->annotations);
	wire_map_release(&fn->build_args);
	strs_list_release(&fn->secrets);
	strs_list_release(&fn->constraints);
	strs_list_release(&fn->build_options);
	free(fn->limits.memory);
	free(fn->limits.cpu);
	free(fn->requests.memory);
	free(fn->requests.cpu);
	memset(fn, 0, sizeof(*fn));
}

void stack_release(struct stack *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nfns; i++)
		fn_release(&s->fns[i]);
	free(s->fns);
	free(s->path);
	free(s->dir);
	free(s->provider);
	free(s->gateway);
	strs_list_release(&s->copy);
	memset(s, 0, sizeof(*s));
}

static int read_provider(struct ctx *c, const struct ynode *key, const struct ynode *v)
{
	const struct ynode *n;
	int rc;

	if (ynode_is_null(v))
		return 0;
	c->where = "'provider'";
	if ((rc = want_map(c, "provider", v)) || (rc = check_keys(c, v, provider_keys)))
		return rc;
	if ((n = ynode_get(v, "name")) && (rc = get_text(c, "name", n, &c->st->provider)))
		return rc;
	if (c->st->provider && strcmp(c->st->provider, "openfaas") &&
	    strcmp(c->st->provider, "cfaas"))
		return ytree_err(c->why, c->doc, n, "provider name '%s' is not supported: use "
				 "'openfaas' (or 'cfaas')", c->st->provider);
	n = ynode_get(v, "gateway");
	if (n && !ynode_is_null(n)) {
		if ((rc = get_text(c, "gateway", n, &c->st->gateway)))
			return rc;
		if (strncmp(c->st->gateway, "http://", 7) && strncmp(c->st->gateway, "https://", 8))
			return ytree_err(c->why, c->doc, n, "gateway '%s' is not an http:// or "
					 "https:// URL", c->st->gateway);
	}
	return 0;
}

static int read_configuration(struct ctx *c, const struct ynode *key, const struct ynode *v)
{
	const struct ynode *n;
	int rc;

	if (ynode_is_null(v))
		return 0;
	c->where = "'configuration'";
	if ((rc = want_map(c, "configuration", v)) || (rc = check_keys(c, v, configuration_keys)))
		return rc;
	if ((n = ynode_get(v, "copy"))) {
		if ((rc = get_list(c, "copy", n, &c->st->copy)))
			return rc;
	}
	return 0;
}

static int read_functions(struct ctx *c, const struct ynode *key, const struct ynode *v)
{
	struct stack *st = c->st;
	size_t i, n;
	int rc = 0;

	st->has_functions = true;
	st->functions_block = ynode_is_null(v) || (v->type == YNODE_MAP && !v->flow);
	if (ynode_is_null(v))
		return 0;
	c->where = "the stack file";
	if ((rc = want_map(c, "functions", v)))
		return rc;
	n = v->n / 2;
	st->fns = calloc(n ? n : 1, sizeof(*st->fns));
	if (!st->fns)
		return -ENOMEM;
	for (i = 0; i < n && !rc; i++) {
		const struct ynode *fkey = v->kids[2 * i], *fval = v->kids[2 * i + 1];
		rc = read_function(c, fkey, fval, &st->fns[i]);
		st->nfns++;
		if (i == 0) {
			st->fn_col = fkey->col;
			if (fval->type == YNODE_MAP && !fval->flow && fval->n)
				st->prop_col = fval->kids[0]->col;
		}
	}
	return rc;
}

int stack_load(const char *path, ytree_lookup lookup, struct stack *out, struct buf *why)
{
	struct ydoc doc = { 0 };
	struct ctx c = { .doc = &doc, .st = out, .lookup = lookup, .why = why };
	const struct ynode *root;
	const char *slash;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->path = strdup(path);
	slash = strrchr(path, '/');
	out->dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!out->path || !out->dir) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = ytree_load(path, lookup, &doc, why)))
		goto out;
	root = doc.root;
	if (ynode_is_null(root)) {
		rc = ytree_err(why, &doc, NULL, "the file is empty: it needs a 'functions' map");
		goto out;
	}
	if (root->type != YNODE_MAP) {
		rc = ytree_err(why, &doc, root, "a stack file must be a map with 'version', "
			       "'provider' and 'functions', not %s", ynode_kind(root));
		goto out;
	}
	c.where = "the stack file";
	if ((rc = check_keys(&c, root, top_keys)))
		goto out;
	for (i = 0; i + 1 < root->n && !rc; i += 2) {
		const struct ynode *k = root->kids[i], *v = root->kids[i + 1];

		if (!strcmp(k->value, "provider"))
			rc = read_provider(&c, k, v);
		else if (!strcmp(k->value, "configuration"))
			rc = read_configuration(&c, k, v);
		else if (!strcmp(k->value, "functions"))
			rc = read_functions(&c, k, v);
		else if (!strcmp(k->value, "version") && v->type != YNODE_SCALAR)
			rc = ytree_err(why, &doc, v, "'version' must be text like 1.0, not %s",
				       ynode_kind(v));
		if (!strcmp(k->value, "functions"))
			out->functions_last = i + 2 >= root->n;
	}
	if (!rc && !out->has_functions)
		rc = ytree_err(why, &doc, root, "the stack file has no 'functions' map");
out:
	ytree_release(&doc);
	if (rc)
		stack_release(out);
	return rc;
}

const struct stack_fn *stack_find(const struct stack *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nfns; i++)
		if (!strcmp(s->fns[i].name, name))
			return &s->fns[i];
	return NULL;
}

int stack_select(const struct stack *s, const char *glob, const char *regex, size_t **idx,
		 size_t *n, struct buf *why)
{
	regex_t re;
	bool have_re = false;
	size_t i;
	int rc = 0;

	*n = 0;
	*idx = calloc(s->nfns ? s->nfns : 1, sizeof(**idx));
	if (!*idx)
		return -ENOMEM;
	if (regex) {
		int e = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
		if (e) {
			char msg[256];
			regerror(e, &re, msg, sizeof(msg));
			buf_printf(why, "bad --regex '%s': %s", regex, msg);
			rc = -ERR_INVALID;
			goto out;
		}
		have_re = true;
	}
	for (i = 0; i < s->nfns; i++) {
		if (glob && fnmatch(glob, s->fns[i].name, 0) != 0)
			continue;
		if (have_re && regexec(&re, s->fns[i].name, 0, NULL, 0) != 0)
			continue;
		(*idx)[(*n)++] = i;
	}
	if (*n == 0) {
		if (glob || regex)
			buf_printf(why, "no function in '%s' matches%s%s%s%s%s", s->path,
				   glob ? " --filter '" : "", glob ? glob : "", glob ? "'" : "",
				   regex ? " --regex " : "", regex ? regex : "");
		else
			buf_printf(why, "'%s' has no functions", s->path);
		rc = -ERR_INVALID;
	}
out:
	if (have_re)
		regfree(&re);
	if (rc) {
		free(*idx);
		*idx = NULL;
		*n = 0;
	}
	return rc;
}

int stack_path(const struct stack *s, const char *rel, struct buf *out)
{
	if (rel[0] == '/' || !strcmp(s->dir, "."))
		return buf_adds(out, rel);
	return buf_printf(out, "%s/%s", s->dir, rel);
}
