#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>

#include "buf.h"
#include "err.h"
#include "ytree.h"

static const char *fake_env(const char *name)
{
	static const struct {
		const char *k, *v;
	} vars[] = { { "USER", "ada" }, { "EMPTY", "" }, { "PORT", "8080" } };
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (!strcmp(vars[i].k, name))
			return vars[i].v;
	return NULL;
}

static int parse(const char *text, ytree_lookup lookup, struct ydoc *doc, struct buf *why)
{
	return ytree_parse("t.yml", text, strlen(text), lookup, doc, why);
}

START_TEST(test_positions)
{
	static const char text[] = "a: 1\n"
				   "b:\n"
				   "  - x\n"
				   "  - 'y'\n"
				   "c: {d: e}\n"
				   "f:\n"
				   "  g: ~\n";
	struct ydoc doc;
	struct buf why;
	const struct ynode *r, *n;

	buf_init(&why, 1024);
	ck_assert_int_eq(parse(text, NULL, &doc, &why), 0);
	r = doc.root;
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, YNODE_MAP);
	ck_assert_uint_eq(r->n, 8);
	ck_assert_int_eq(r->line, 1);
	ck_assert_int_eq(r->col, 1);
	n = ynode_get(r, "a");
	ck_assert_int_eq(n->type, YNODE_SCALAR);
	ck_assert_str_eq(n->value, "1");
	ck_assert(n->plain);
	ck_assert_int_eq(n->line, 1);
	ck_assert_int_eq(n->col, 4);
	n = ynode_get(r, "b");
	ck_assert_int_eq(n->type, YNODE_SEQ);
	ck_assert(!n->flow);
	ck_assert_uint_eq(n->n, 2);
	ck_assert_str_eq(n->kids[0]->value, "x");
	ck_assert_int_eq(n->kids[0]->line, 3);
	ck_assert_int_eq(n->kids[0]->col, 5);
	ck_assert_str_eq(n->kids[1]->value, "y");
	ck_assert(!n->kids[1]->plain);
	ck_assert_int_eq(n->kids[1]->line, 4);
	n = ynode_get(r, "c");
	ck_assert_int_eq(n->type, YNODE_MAP);
	ck_assert(n->flow);
	ck_assert_int_eq(n->line, 5);
	ck_assert_int_eq(n->col, 4);
	ck_assert_str_eq(ynode_get(n, "d")->value, "e");
	ck_assert_int_eq(ynode_get(n, "d")->col, 8);
	n = ynode_get(ynode_get(r, "f"), "g");
	ck_assert(ynode_is_null(n));
	ck_assert_int_eq(n->line, 7);
	ck_assert_int_eq(n->col, 6);
	ck_assert_ptr_null(ynode_get(r, "zz"));
	ck_assert_ptr_null(ynode_get(ynode_get(r, "a"), "x"));
	ck_assert_str_eq(ynode_kind(r), "a map");
	ck_assert_str_eq(ynode_kind(ynode_get(r, "b")), "a list");
	ck_assert_str_eq(ynode_kind(ynode_get(r, "a")), "text");
	ck_assert_str_eq(ynode_kind(n), "nothing");
	ytree_release(&doc);
	ytree_release(&doc); /* safe on a zeroed doc */
	buf_release(&why);
}
END_TEST

START_TEST(test_empty)
{
	struct ydoc doc;
	struct buf why;

	buf_init(&why, 1024);
	ck_assert_int_eq(parse("", NULL, &doc, &why), 0);
	ck_assert_ptr_null(doc.root);
	ytree_release(&doc);
	ck_assert_int_eq(parse("# only a comment\n", NULL, &doc, &why), 0);
	ck_assert_ptr_null(doc.root);
	ytree_release(&doc);
	buf_release(&why);
}
END_TEST

/* Substitution: one scalar "v: TEXT", lookup = fake_env. */
static const struct {
	const char *in;
	const char *out; /* NULL: fails with why containing err */
	const char *err;
} subs[] = {
	{ "v: ${USER}", "ada", NULL },
	{ "v: x-${USER}-y", "x-ada-y", NULL },
	{ "v: ${NOPE}", "", NULL },
	{ "v: ${NOPE:-dflt}", "dflt", NULL },
	{ "v: ${USER:-dflt}", "ada", NULL },
	{ "v: ${EMPTY:-dflt}", "dflt", NULL },
	{ "v: ${NOPE:-}", "", NULL },
	{ "v: \"http://${NOPE:-127.0.0.1}:${PORT}\"", "http://127.0.0.1:8080", NULL },
	{ "v: $$USER", "$USER", NULL },
	{ "v: a$b", "a$b", NULL },
	{ "v: cost $", "cost $", NULL },
	{ "v: ${1X}", NULL, "t.yml:1:4: bad variable reference '${1X}'" },
	{ "v: ${}", NULL, "t.yml:1:4: bad variable reference" },
	{ "v: ${A-B}", NULL, "t.yml:1:4: bad variable reference" },
	{ "v: ${USER", NULL, "t.yml:1:4: unclosed '${'" },
	{ "\n  v: ${NOPE", NULL, "t.yml:2:6: unclosed '${'" },
};

START_TEST(test_subst)
{
	struct ydoc doc;
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = parse(subs[_i].in, fake_env, &doc, &why);
	if (subs[_i].out) {
		ck_assert_msg(rc == 0, "'%s': rc %d: %s", subs[_i].in, rc, buf_cstr(&why));
		ck_assert_str_eq(ynode_get(doc.root, "v")->value, subs[_i].out);
	} else {
		ck_assert_msg(rc < 0, "'%s': rc %d", subs[_i].in, rc);
		ck_assert_msg(strstr(buf_cstr(&why), subs[_i].err), "'%s': why '%s'", subs[_i].in,
			      buf_cstr(&why));
		ck_assert_ptr_null(doc.root);
	}
	ytree_release(&doc);
	buf_release(&why);
}
END_TEST

START_TEST(test_no_lookup)
{
	struct ydoc doc;
	struct buf why;

	buf_init(&why, 1024);
	ck_assert_int_eq(parse("v: ${USER:-x}\n${K}: 1\n", NULL, &doc, &why), 0);
	ck_assert_str_eq(ynode_get(doc.root, "v")->value, "${USER:-x}");
	ck_assert_ptr_nonnull(ynode_get(doc.root, "${K}"));
	ytree_release(&doc);
	/* keys are substituted too */
	ck_assert_int_eq(parse("${USER}: 1\n", fake_env, &doc, &why), 0);
	ck_assert_ptr_nonnull(ynode_get(doc.root, "ada"));
	ytree_release(&doc);
	buf_release(&why);
}
END_TEST

/* Bad documents: expected "file:line:col: reason" prefix/substring. */
static const struct {
	const char *in;
	const char *err;
} bads[] = {
	{ "a: 1\na: 2\n", "t.yml:2:1: duplicate key 'a'" },
	{ "m:\n  x: 1\n  y: 2\n  x: 3\n", "t.yml:4:3: duplicate key 'x'" },
	{ "{a: 1, a: 2}", "t.yml:1:8: duplicate key 'a'" },
	{ "a: [1, 2\n", "t.yml:" },
	{ "a: b: c\n", "t.yml:1:5: mapping values are not allowed" },
	{ "a:\n  - x\n y: 1\n", "t.yml:3:" },
	{ "a: 'open\n", "t.yml:" },
	{ "a: *nope\n", "t.yml:1:4: " },
	{ "? [1, 2]\n: x\n", "t.yml:1:3: a key must be plain text, not a list" },
	{ "a: &m 1\nb:\n  <<: *m\n", "'<<' merges maps, not text" },
	{ "\tbad: 1\n", "t.yml:1:" },
};

START_TEST(test_bad)
{
	struct ydoc doc;
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = parse(bads[_i].in, NULL, &doc, &why);
	ck_assert_msg(rc < 0, "'%s': rc %d", bads[_i].in, rc);
	ck_assert_msg(strstr(buf_cstr(&why), bads[_i].err), "'%s': why '%s', want '%s'",
		      bads[_i].in, buf_cstr(&why), bads[_i].err);
	ck_assert_ptr_null(doc.root);
	ck_assert_ptr_null(doc.all);
	ytree_release(&doc);
	buf_release(&why);
}
END_TEST

START_TEST(test_anchor_merge)
{
	static const char text[] = "base: &b {x: 1, y: 2}\n"
				   "m:\n"
				   "  <<: *b\n"
				   "  y: 3\n"
				   "alias: *b\n";
	struct ydoc doc;
	struct buf why;
	const struct ynode *m;

	buf_init(&why, 1024);
	ck_assert_msg(parse(text, NULL, &doc, &why) == 0, "%s", buf_cstr(&why));
	m = ynode_get(doc.root, "m");
	ck_assert_uint_eq(m->n, 4);
	ck_assert_str_eq(ynode_get(m, "x")->value, "1");
	ck_assert_str_eq(ynode_get(m, "y")->value, "3");
	ck_assert_ptr_null(ynode_get(m, "<<"));
	ck_assert_ptr_eq(ynode_get(doc.root, "alias"), ynode_get(doc.root, "base"));
	ytree_release(&doc);
	buf_release(&why);
}
END_TEST

START_TEST(test_depth)
{
	struct buf text, why;
	struct ydoc doc;
	int i;

	buf_init(&text, 4096);
	buf_init(&why, 1024);
	for (i = 0; i < YTREE_MAX_DEPTH + 5; i++)
		buf_addc(&text, '[');
	for (i = 0; i < YTREE_MAX_DEPTH + 5; i++)
		buf_addc(&text, ']');
	ck_assert_int_lt(ytree_parse("t.yml", buf_cstr(&text), text.len, NULL, &doc, &why), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "nested more than"));
	ytree_release(&doc);
	buf_release(&text);
	buf_release(&why);
}
END_TEST

static const struct {
	const char *in;
	int rc;
	bool v;
} bools[] = {
	{ "true", 0, true },  { "True", 0, true },   { "yes", 0, true },  { "ON", 0, true },
	{ "false", 0, false }, { "No", 0, false },   { "off", 0, false }, { "1", -ERR_INVALID, 0 },
	{ "maybe", -ERR_INVALID, 0 }, { "", -ERR_INVALID, 0 },
};

START_TEST(test_bool)
{
	struct ynode n = { .type = YNODE_SCALAR, .value = (char *)bools[_i].in, .plain = true };
	bool v = !bools[_i].v;
	int rc = ynode_bool(&n, &v);

	ck_assert_msg(rc == bools[_i].rc, "'%s': rc %d", bools[_i].in, rc);
	if (!rc)
		ck_assert(v == bools[_i].v);
}
END_TEST

START_TEST(test_load)
{
	char dir[] = "/tmp/check_ytree.XXXXXX";
	char path[256];
	struct ydoc doc;
	struct buf why;
	FILE *f;

	buf_init(&why, 1024);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.yml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("k:\n  - ${USER}\n  - [1, oops\n", f);
	fclose(f);
	ck_assert_int_lt(ytree_load(path, fake_env, &doc, &why), 0);
	ck_assert_msg(!strncmp(buf_cstr(&why), path, strlen(path)), "%s", buf_cstr(&why));
	f = fopen(path, "w");
	fputs("k:\n  - ${USER}\n", f);
	fclose(f);
	ck_assert_int_eq(ytree_load(path, fake_env, &doc, &why), 0);
	ck_assert_str_eq(doc.file, path);
	ck_assert_str_eq(ynode_get(doc.root, "k")->kids[0]->value, "ada");
	ytree_release(&doc);
	unlink(path);
	ck_assert_int_lt(ytree_load(path, NULL, &doc, &why), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "cannot open '"));
	ytree_release(&doc);
	rmdir(dir);
	buf_release(&why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ytree");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_positions);
	tcase_add_test(tc, test_empty);
	tcase_add_loop_test(tc, test_subst, 0, sizeof(subs) / sizeof(subs[0]));
	tcase_add_test(tc, test_no_lookup);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(tc, test_anchor_merge);
	tcase_add_test(tc, test_depth);
	tcase_add_loop_test(tc, test_bool, 0, sizeof(bools) / sizeof(bools[0]));
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
