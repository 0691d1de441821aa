/*
 * ytree.c - YAML into a tree with positions (see ytree.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "err.h"
#include "ytree.h"
#include "banned.h"

struct anchor {
	char *name;
	struct ynode *node;
};

struct builder {
	yaml_parser_t parser;
	struct ydoc *doc;
	ytree_lookup lookup;
	struct anchor *anchors;
	size_t nanchors;
	struct buf *why;
};

int ytree_err(struct buf *why, const struct ydoc *doc, const struct ynode *at,
	      const char *fmt, ...)
{
	va_list ap;

	buf_reset(why);
	if (at)
		buf_printf(why, "%s:%d:%d: ", doc->file, at->line, at->col);
	else
		buf_printf(why, "%s: ", doc->file);
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
	return -ERR_INVALID;
}

static struct ynode *node_new(struct builder *b, enum ynode_type type, yaml_mark_t mark)
{
	struct ynode *n;

	if (b->doc->nodes >= YTREE_MAX_NODES)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->type = type;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	n->next_alloc = b->doc->all;
	b->doc->all = n;
	b->doc->nodes++;
	return n;
}

static int kid_add(struct ynode *n, struct ynode *kid)
{
	if (n->n == n->alloc) {
		size_t alloc = n->alloc ? n->alloc * 2 : 8;
		struct ynode **kids = realloc(n->kids, alloc * sizeof(*kids));
		if (!kids)
			return -ENOMEM;
		n->kids = kids;
		n->alloc = alloc;
	}
	n->kids[n->n++] = kid;
	return 0;
}

static int too_many(struct builder *b, yaml_mark_t mark)
{
	struct ynode at = { .line = (int)mark.line + 1, .col = (int)mark.column + 1 };

	return ytree_err(b->why, b->doc, &at, "the document is too large (more than %d nodes)",
			 YTREE_MAX_NODES);
}

static int parser_error(struct builder *b)
{
	yaml_parser_t *p = &b->parser;
	struct ynode at = { .line = (int)p->problem_mark.line + 1,
			    .col = (int)p->problem_mark.column + 1 };

	if (p->error == YAML_MEMORY_ERROR) {
		buf_reset(b->why);
		buf_adds(b->why, "out of memory");
		return -ENOMEM;
	}
	ytree_err(b->why, b->doc, &at, "%s", p->problem ? p->problem : "malformed YAML");
	if (p->context)
		buf_printf(b->why, " (%s at line %d)", p->context, (int)p->context_mark.line + 1);
	return -ERR_PARSE;
}

static int next(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return parser_error(b);
	return 0;
}

/* Replaces ${VAR} and ${VAR:-default} in (s, len); see ytree.h. */
static int substitute(struct builder *b, struct ynode *n, const char *s, size_t len,
		      struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		const char *close, *name, *dflt = NULL;
		size_t nlen, k;

		if (s[i] != '$' || i + 1 >= len || (s[i + 1] != '{' && s[i + 1] != '$')) {
			if (buf_addc(out, s[i++]))
				return -ERR_TOO_BIG;
			continue;
		}
		if (s[i + 1] == '$') {
			if (buf_addc(out, '$'))
				return -ERR_TOO_BIG;
			i += 2;
			continue;
		}
		close = memchr(s + i + 2, '}', len - i - 2);
		if (!close)
			return ytree_err(b->why, b->doc, n, "unclosed '${' in '%.*s'", (int)len, s);
		name = s + i + 2;
		nlen = (size_t)(close - name);
		for (k = 0; k < nlen; k++) {
			if (name[k] == ':' && k + 1 < nlen && name[k + 1] == '-') {
				dflt = name + k + 2;
				break;
			}
		}
		if (dflt)
			nlen = (size_t)(dflt - 2 - name);
		for (k = 0; k < nlen; k++) {
			char c = name[k];
			if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (k > 0 && c >= '0' && c <= '9')))
				break;
		}
		if (nlen == 0 || k < nlen)
			return ytree_err(b->why, b->doc, n,
					 "bad variable reference '%.*s': use ${NAME} or "
					 "${NAME:-default}", (int)(close - s - i + 1), s + i);
		{
			char var[256];
			const char *v;

			if (nlen >= sizeof(var))
				return ytree_err(b->why, b->doc, n, "variable name too long in '%.*s'",
						 (int)len, s);
			memcpy(var, name, nlen);
			var[nlen] = '\0';
			v = b->lookup(var);
			if (v && *v) {
				if (buf_adds(out, v))
					return -ERR_TOO_BIG;
			} else if (dflt) {
				if (buf_add(out, dflt, (size_t)(close - dflt)))
					return -ERR_TOO_BIG;
			}
		}
		i = (size_t)(close - s) + 1;
	}
	return 0;
}

static int set_scalar(struct builder *b, struct ynode *n, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct buf out;
	int rc = 0;

	if (memchr(s, '\0', len))
		return ytree_err(b->why, b->doc, n, "a value holds a NUL character");
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	buf_init(&out, YTREE_MAX_FILE);
	if (b->lookup && memchr(s, '$', len)) {
		rc = substitute(b, n, s, len, &out);
		if (rc == -ERR_TOO_BIG)
			rc = ytree_err(b->why, b->doc, n, "a value grows too large");
	} else if (buf_add(&out, s, len)) {
		rc = -ENOMEM;
	}
	if (!rc)
		n->value = buf_detach(&out, NULL);
	buf_release(&out);
	return rc;
}

static int anchor_add(struct builder *b, const unsigned char *name, struct ynode *n)
{
	struct anchor *a;

	if (!name)
		return 0;
	a = realloc(b->anchors, (b->nanchors + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	b->anchors = a;
	a[b->nanchors].name = strdup((const char *)name);
	if (!a[b->nanchors].name)
		return -ENOMEM;
	a[b->nanchors].node = n;
	b->nanchors++;
	return 0;
}

static struct ynode *anchor_find(struct builder *b, const unsigned char *name)
{
	size_t i = b->nanchors;

	/* The latest definition of a name wins, as in YAML. */
	while (i-- > 0)
		if (!strcmp(b->anchors[i].name, (const char *)name))
			return b->anchors[i].node;
	return NULL;
}

static bool is_merge_key(const struct ynode *k)
{
	return k->type == YNODE_SCALAR && k->plain && !strcmp(k->value, "<<");
}

static const struct ynode *map_find(const struct ynode *map, const char *key)
{
	size_t i;

	for (i = 0; i + 1 < map->n; i += 2)
		if (!strcmp(map->kids[i]->value, key))
			return map->kids[i + 1];
	return NULL;
}

/* Applies the `<<` entries of map: keys of the merged maps that the map
 * does not set itself are added; the `<<` entries are removed. */
static int merge(struct builder *b, struct ynode *map)
{
	struct ynode **own = NULL, *m;
	size_t nown = 0, i, j, k;
	int rc = 0;

	for (i = 0; i + 1 < map->n; i += 2)
		if (is_merge_key(map->kids[i]))
			break;
	if (i + 1 >= map->n)
		return 0;
	own = malloc(map->n * sizeof(*own));
	if (!own)
		return -ENOMEM;
	for (i = 0; i + 1 < map->n; i += 2) {
		if (!is_merge_key(map->kids[i])) {
			own[nown++] = map->kids[i];
			own[nown++] = map->kids[i + 1];
		}
	}
	/* Rebuild: own pairs first, then merged ones not yet present. */
	{
		struct ynode **old = map->kids;
		size_t nold = map->n;

		map->kids = own;
		map->alloc = nold;
		map->n = nown;
		own = old;
		nown = nold;
	}
	for (i = 0; i + 1 < nown && !rc; i += 2) {
		struct ynode *v = own[i + 1];
		size_t nsrc = v->type == YNODE_SEQ ? v->n : 1;

		if (!is_merge_key(own[i]))
			continue;
		for (j = 0; j < nsrc && !rc; j++) {
			m = v->type == YNODE_SEQ ? v->kids[j] : v;
			if (m->type != YNODE_MAP) {
				rc = ytree_err(b->why, b->doc, m,
					       "'<<' merges maps, not %s", ynode_kind(m));
				break;
			}
			for (k = 0; k + 1 < m->n && !rc; k += 2) {
				if (map_find(map, m->kids[k]->value))
					continue;
				if ((rc = kid_add(map, m->kids[k])) == 0)
					rc = kid_add(map, m->kids[k + 1]);
			}
		}
	}
	free(own);
	return rc;
}

static int build(struct builder *b, yaml_event_t *ev, int depth, struct ynode **out);

static int build_seq(struct builder *b, struct ynode *n, int depth)
{
	yaml_event_t ev;
	struct ynode *kid;
	int rc;

	for (;;) {
		if ((rc = next(b, &ev)))
			return rc;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		rc = build(b, &ev, depth + 1, &kid);
		yaml_event_delete(&ev);
		if (rc || (rc = kid_add(n, kid)))
			return rc;
	}
}

static int build_map(struct builder *b, struct ynode *n, int depth)
{
	yaml_event_t ev;
	struct ynode *key, *value;
	int rc;

	for (;;) {
		if ((rc = next(b, &ev)))
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return merge(b, n);
		}
		rc = build(b, &ev, depth + 1, &key);
		yaml_event_delete(&ev);
		if (rc)
			return rc;
		if (key->type != YNODE_SCALAR)
			return ytree_err(b->why, b->doc, key, "a key must be plain text, not %s",
					 ynode_kind(key));
		if (!is_merge_key(key) && map_find(n, key->value))
			return ytree_err(b->why, b->doc, key, "duplicate key '%s'", key->value);
		if ((rc = next(b, &ev)))
			return rc;
		rc = build(b, &ev, depth + 1, &value);
		yaml_event_delete(&ev);
		if (rc || (rc = kid_add(n, key)) || (rc = kid_add(n, value)))
			return rc;
	}
}

/* Builds the node that starts with ev (which the caller deletes). */
static int build(struct builder *b, yaml_event_t *ev, int depth, struct ynode **out)
{
	struct ynode *n = NULL;
	int rc = 0;

	*out = NULL;
	if (depth > YTREE_MAX_DEPTH) {
		struct ynode at = { .line = (int)ev->start_mark.line + 1,
				    .col = (int)ev->start_mark.column + 1 };
		return ytree_err(b->why, b->doc, &at, "nested more than %d levels deep",
				 YTREE_MAX_DEPTH);
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		n = anchor_find(b, ev->data.alias.anchor);
		if (!n) {
			struct ynode at = { .line = (int)ev->start_mark.line + 1,
					    .col = (int)ev->start_mark.column + 1 };
			return ytree_err(b->why, b->doc, &at, "unknown anchor '*%s'",
					 (const char *)ev->data.alias.anchor);
		}
		*out = n;
		return 0;
	case YAML_SCALAR_EVENT:
		if (!(n = node_new(b, YNODE_SCALAR, ev->start_mark)))
			return too_many(b, ev->start_mark);
		rc = set_scalar(b, n, ev);
		if (!rc)
			rc = anchor_add(b, ev->data.scalar.anchor, n);
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (!(n = node_new(b, YNODE_SEQ, ev->start_mark)))
			return too_many(b, ev->start_mark);
		n->flow = ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
		rc = build_seq(b, n, depth);
		/* Registered at the end, so a node cannot contain itself. */
		if (!rc)
			rc = anchor_add(b, ev->data.sequence_start.anchor, n);
		break;
	case YAML_MAPPING_START_EVENT:
		if (!(n = node_new(b, YNODE_MAP, ev->start_mark)))
			return too_many(b, ev->start_mark);
		n->flow = ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
		rc = build_map(b, n, depth);
		if (!rc)
			rc = anchor_add(b, ev->data.mapping_start.anchor, n);
		break;
	default: {
		struct ynode at = { .line = (int)ev->start_mark.line + 1,
				    .col = (int)ev->start_mark.column + 1 };
		return ytree_err(b->why, b->doc, &at, "unexpected YAML event");
	}
	}
	if (!rc)
		*out = n;
	return rc;
}

int ytree_parse(const char *name, const char *text, size_t len, ytree_lookup lookup,
		struct ydoc *doc, struct buf *why)
{
	struct builder b;
	yaml_event_t ev;
	bool done = false;
	size_t i;
	int rc = 0;

	memset(doc, 0, sizeof(*doc));
	memset(&b, 0, sizeof(b));
	doc->file = strdup(name);
	if (!doc->file)
		return -ENOMEM;
	b.doc = doc;
	b.lookup = lookup;
	b.why = why;
	if (!yaml_parser_initialize(&b.parser)) {
		ytree_release(doc);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
	/* stream start, document start (or stream end), root, ... */
	while (!rc && !done) {
		if ((rc = next(&b, &ev)))
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			done = true;
			break;
		default:
			rc = build(&b, &ev, 0, &doc->root);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&b.parser);
	for (i = 0; i < b.nanchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	if (rc)
		ytree_release(doc);
	return rc;
}

int ytree_load(const char *path, ytree_lookup lookup, struct ydoc *doc, struct buf *why)
{
	struct buf text;
	char chunk[16384];
	int fd, rc = 0;
	ssize_t n;

	memset(doc, 0, sizeof(*doc));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		buf_reset(why);
		buf_printf(why, "cannot open '%s': %s", path, strerror(errno));
		return rc;
	}
	buf_init(&text, YTREE_MAX_FILE);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			buf_reset(why);
			buf_printf(why, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (buf_add(&text, chunk, (size_t)n)) {
			rc = -ERR_TOO_BIG;
			buf_reset(why);
			buf_printf(why, "'%s' is larger than %u bytes", path, YTREE_MAX_FILE);
			break;
		}
	}
	close(fd);
	if (!rc)
		rc = ytree_parse(path, buf_cstr(&text), text.len, lookup, doc, why);
	buf_release(&text);
	return rc;
}

void ytree_release(struct ydoc *doc)
{
	struct ynode *n, *next_n;

	if (!doc)
		return;
	for (n = doc->all; n; n = next_n) {
		next_n = n->next_alloc;
		free(n->value);
		free(n->kids);
		free(n);
	}
	free(doc->file);
	memset(doc, 0, sizeof(*doc));
}

bool ynode_is_null(const struct ynode *n)
{
	return !n || (n->type == YNODE_SCALAR && n->plain &&
		      (!n->value[0] || !strcmp(n->value, "~") || !strcasecmp(n->value, "null")));
}

int ynode_bool(const struct ynode *n, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "y" };
	static const char *const no[] = { "false", "no", "off", "n" };
	size_t i;

	if (!n || n->type != YNODE_SCALAR)
		return -ERR_INVALID;
	for (i = 0; i < 4; i++) {
		if (!strcasecmp(n->value, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(n->value, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -ERR_INVALID;
}

const char *ynode_kind(const struct ynode *n)
{
	if (ynode_is_null(n))
		return "nothing";
	switch (n->type) {
	case YNODE_MAP: return "a map";
	case YNODE_SEQ: return "a list";
	default: return "text";
	}
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YNODE_MAP)
		return NULL;
	return map_find(map, key);
}
