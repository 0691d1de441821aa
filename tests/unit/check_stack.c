#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "stack.h"
#include "wire.h"

static char dir[64];

static const char *fake_env(const char *name)
{
	static const struct {
		const char *k, *v;
	} vars[] = { { "GW", "http://gw.example:8080" }, { "TAG", "0.2" }, { "OWNER", "ada" },
		     { "EMPTY", "" } };
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (!strcmp(vars[i].k, name))
			return vars[i].v;
	return NULL;
}

static void put(const char *name, const char *text, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_stack.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	static const char *const names[] = { "stack.yml", "a.env.yml", "b.env.yml",
					     "bad.env.yml", "list.env.yml", NULL };
	char path[256];
	size_t i;

	for (i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static const char full[] =
	"version: 1.0\n"
	"provider:\n"
	"  name: openfaas\n"
	"  gateway: ${GW}\n"
	"configuration:\n"
	"  copy: [./common]\n"
	"functions:\n"
	"  hello:\n"
	"    lang: python3\n"
	"    handler: ./hello\n"
	"    image: ${OWNER}/hello:${TAG:-latest}\n"
	"    fprocess: python3 index.py\n"
	"    environment:\n"
	"      write_timeout: 10s\n"
	"      debug: true\n"
	"      empty:\n"
	"      who: ${NOBODY:-nobody}\n"
	"    labels:\n"
	"      com.openfaas.scale.min: 2\n"
	"    annotations:\n"
	"      topic: orders\n"
	"    secrets:\n"
	"      - api-key\n"
	"      - db-pass\n"
	"    limits:\n"
	"      memory: 128Mi\n"
	"      cpu: 100m\n"
	"    requests: {memory: 64Mi}\n"
	"    readonly_root_filesystem: true\n"
	"  img-only:\n"
	"    image: nginx:1.25\n"
	"    skip_build: yes\n";

START_TEST(test_full)
{
	struct stack st;
	struct buf why;
	const struct stack_fn *fn;
	char path[256];

	buf_init(&why, 4096);
	put("stack.yml", full, path, sizeof(path));
	ck_assert_msg(stack_load(path, fake_env, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_str_eq(st.path, path);
	ck_assert_str_eq(st.dir, dir);
	ck_assert_str_eq(st.provider, "openfaas");
	ck_assert_str_eq(st.gateway, "http://gw.example:8080");
	ck_assert_uint_eq(st.copy.n, 1);
	ck_assert_str_eq(st.copy.items[0], "./common");
	ck_assert_uint_eq(st.nfns, 2);
	ck_assert(st.has_functions && st.functions_last && st.functions_block);
	ck_assert_int_eq(st.fn_col, 3);
	ck_assert_int_eq(st.prop_col, 5);

	fn = stack_find(&st, "hello");
	ck_assert_ptr_nonnull(fn);
	ck_assert_int_eq(fn->at.line, 8);
	ck_assert_int_eq(fn->at.col, 3);
	ck_assert_str_eq(fn->lang, "python3");
	ck_assert_int_eq(fn->lang_at.line, 9);
	ck_assert_int_eq(fn->lang_at.col, 11);
	ck_assert_str_eq(fn->handler, "./hello");
	ck_assert_int_eq(fn->handler_at.line, 10);
	ck_assert_str_eq(fn->image, "ada/hello:0.2");
	ck_assert_str_eq(fn->fprocess, "python3 index.py");
	ck_assert_ptr_null(fn->namespace);
	ck_assert_uint_eq(fn->environment.n, 4);
	ck_assert_str_eq(wire_map_get(&fn->environment, "write_timeout"), "10s");
	ck_assert_str_eq(wire_map_get(&fn->environment, "debug"), "true");
	ck_assert_str_eq(wire_map_get(&fn->environment, "empty"), "");
	ck_assert_str_eq(wire_map_get(&fn->environment, "who"), "nobody");
	ck_assert_str_eq(wire_map_get(&fn->labels, "com.openfaas.scale.min"), "2");
	ck_assert_str_eq(wire_map_get(&fn->annotations, "topic"), "orders");
	ck_assert_uint_eq(fn->secrets.n, 2);
	ck_assert_str_eq(fn->secrets.items[0], "api-key");
	ck_assert_str_eq(fn->secrets.items[1], "db-pass");
	ck_assert_str_eq(fn->limits.memory, "128Mi");
	ck_assert_str_eq(fn->limits.cpu, "100m");
	ck_assert_str_eq(fn->requests.memory, "64Mi");
	ck_assert_ptr_null(fn->requests.cpu);
	ck_assert(fn->readonly_root_filesystem);
	ck_assert(!fn->skip_build);

	fn = stack_find(&st, "img-only");
	ck_assert_ptr_nonnull(fn);
	ck_assert_str_eq(fn->image, "nginx:1.25");
	ck_assert_ptr_null(fn->lang);
	ck_assert_ptr_null(fn->handler);
	ck_assert(fn->skip_build);
	ck_assert_ptr_null(stack_find(&st, "nope"));

	stack_release(&st);
	stack_release(&st); /* safe on a zeroed stack */
	buf_release(&why);
}
END_TEST

START_TEST(test_defaults)
{
	struct stack st;
	struct buf why, p, want;
	char path[256];

	buf_init(&why, 4096);
	buf_init(&p, 4096);
	buf_init(&want, 4096);
	buf_printf(&want, "%s/fn1", dir);
	put("stack.yml",
	    "functions:\n  fn1:\n    lang: go\n    handler: ./fn1\n"
	    "provider:\n  name: cfaas\n  gateway: ${NOGW:-http://127.0.0.1:8080}\n",
	    path, sizeof(path));
	/* no lookup: ${...} stays as written, and then is not an http:// URL */
	ck_assert_int_lt(stack_load(path, NULL, &st, &why), 0);
	ck_assert_msg(strstr(buf_cstr(&why), ":7:12: gateway '${NOGW"), "%s", buf_cstr(&why));
	ck_assert_msg(stack_load(path, fake_env, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_str_eq(st.gateway, "http://127.0.0.1:8080");
	ck_assert_str_eq(st.fns[0].image, "fn1:latest");
	ck_assert(!st.functions_last);
	ck_assert_int_eq(stack_path(&st, "fn1", &p), 0);
	ck_assert_str_eq(buf_cstr(&p), buf_cstr(&want));
	buf_reset(&p);
	stack_path(&st, "/abs/x", &p);
	ck_assert_str_eq(buf_cstr(&p), "/abs/x");
	stack_release(&st);
	/* lang without handler loads (the builder reports it at build time) */
	put("stack.yml", "functions:\n  f:\n    lang: go\n", path, sizeof(path));
	ck_assert_msg(stack_load(path, NULL, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_ptr_null(st.fns[0].handler);
	ck_assert_str_eq(st.fns[0].image, "f:latest");
	stack_release(&st);
	buf_release(&want);
	buf_release(&p);
	buf_release(&why);
}
END_TEST

START_TEST(test_env_file)
{
	struct stack st;
	struct buf why;
	char path[256], tmp[256];

	buf_init(&why, 4096);
	put("a.env.yml", "environment:\n  A: from-a\n  SHARED: a\n  OVER: a\n", tmp, sizeof(tmp));
	put("b.env.yml", "environment:\n  SHARED: b\n", tmp, sizeof(tmp));
	put("stack.yml",
	    "functions:\n"
	    "  f:\n"
	    "    image: f:1\n"
	    "    environment:\n"
	    "      OVER: own\n"
	    "    environment_file:\n"
	    "      - a.env.yml\n"
	    "      - b.env.yml\n",
	    path, sizeof(path));
	ck_assert_msg(stack_load(path, fake_env, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_str_eq(wire_map_get(&st.fns[0].environment, "A"), "from-a");
	ck_assert_str_eq(wire_map_get(&st.fns[0].environment, "SHARED"), "b");
	ck_assert_str_eq(wire_map_get(&st.fns[0].environment, "OVER"), "own");
	ck_assert_uint_eq(st.fns[0].environment.n, 3);
	stack_release(&st);

	/* a missing environment file: reported at the list item */
	put("stack.yml",
	    "functions:\n  f:\n    image: f:1\n    environment_file:\n      - missing.yml\n", path,
	    sizeof(path));
	ck_assert_int_lt(stack_load(path, NULL, &st, &why), 0);
	ck_assert_msg(strstr(buf_cstr(&why), "stack.yml:5:9: environment_file of function 'f': "
					     "cannot open"), "%s", buf_cstr(&why));

	/* a bad key inside the environment file: reported in that file */
	put("bad.env.yml", "environment:\n  A: 1\nenviron: {}\n", tmp, sizeof(tmp));
	put("stack.yml",
	    "functions:\n  f:\n    image: f:1\n    environment_file: [bad.env.yml]\n", path,
	    sizeof(path));
	ck_assert_int_lt(stack_load(path, NULL, &st, &why), 0);
	ck_assert_msg(strstr(buf_cstr(&why), "bad.env.yml:3:1: unknown key 'environ'"), "%s",
		      buf_cstr(&why));

	put("list.env.yml", "- A\n", tmp, sizeof(tmp));
	put("stack.yml",
	    "functions:\n  f:\n    image: f:1\n    environment_file: [list.env.yml]\n", path,
	    sizeof(path));
	ck_assert_int_lt(stack_load(path, NULL, &st, &why), 0);
	ck_assert_msg(strstr(buf_cstr(&why), "list.env.yml:1:1: an environment file must be a map"),
		      "%s", buf_cstr(&why));
	buf_release(&why);
}
END_TEST

/* Bad stack files: each fails with "stack.yml:LINE:COL: " and a reason. */
static const struct {
	const char *text;
	const char *at;     /* ":line:col: " after the path */
	const char *reason; /* substring of the message */
} bads[] = {
	{ "functions:\n  f:\n    image: x\n    lnag: go\n", ":4:5: ",
	  "unknown key 'lnag' in function 'f' (did you mean 'lang'?)" },
	{ "functions:\n  f:\n    image: x\n    zzzzzzzzz: 1\n", ":4:5: ",
	  "unknown key 'zzzzzzzzz' in function 'f' (known keys: lang, handler" },
	{ "functoins:\n  f: {image: x}\n", ":1:1: ", "unknown key 'functoins'" },
	{ "provider:\n  name: openfaas\n  gatewy: http://x\nfunctions: {}\n", ":3:3: ",
	  "unknown key 'gatewy' in 'provider'" },
	{ "functions:\n  f:\n    fprocess: cat\n", ":2:3: ",
	  "function 'f' needs 'lang' and 'handler' (to build it) or 'image'" },
	{ "functions:\n  f:\n", ":2:3: ", "function 'f' has no settings" },
	{ "functions:\n  f: just-text\n", ":2:6: ", "function 'f' must be a map of settings" },
	{ "functions:\n  f:\n    image: x\n    environment: [a, b]\n", ":4:18: ",
	  "'environment' in function 'f' must be a map of names to values, not a list" },
	{ "functions:\n  f:\n    image: x\n    labels:\n      a: {b: c}\n", ":5:10: ",
	  "value of 'a' in 'labels' of function 'f' must be text, not a map" },
	{ "functions:\n  f:\n    image: x\n    secrets: api-key\n", ":4:14: ",
	  "'secrets' in function 'f' must be a list, not text" },
	{ "functions:\n  f:\n    image: x\n    secrets: [ok, {a: b}]\n", ":4:19: ",
	  "items of 'secrets' in function 'f' must be text, not a map" },
	{ "functions:\n  f:\n    image: [x]\n", ":3:12: ",
	  "'image' in function 'f' must be text, not a list" },
	{ "functions:\n  f:\n    image: ''\n", ":3:12: ", "'image' in function 'f' is empty" },
	{ "functions:\n  f:\n    image: x\n    limits:\n      memory: lots\n", ":5:15: ",
	  "'memory' of 'limits' in function 'f' must be a size like 128Mi, not 'lots'" },
	{ "functions:\n  f:\n    image: x\n    limits: {cpu: fast}\n", ":4:19: ",
	  "'cpu' of 'limits' in function 'f' must be like 100m or 0.5, not 'fast'" },
	{ "functions:\n  f:\n    image: x\n    limits: {mem: 1}\n", ":4:14: ",
	  "unknown key 'mem'" },
	{ "functions:\n  f:\n    image: x\n    limits: 128Mi\n", ":4:13: ",
	  "'limits' in function 'f' must be a map, not text" },
	{ "functions:\n  f:\n    image: x\n    skip_build: maybe\n", ":4:17: ",
	  "'skip_build' in function 'f' must be true or false, not 'maybe'" },
	{ "functions:\n  Bad_Name:\n    image: x\n", ":2:3: ", "invalid function name 'Bad_Name'" },
	{ "functions:\n  f:\n    image: x\n    secrets: [Bad_Secret]\n", ":4:15: ", "secret" },
	{ "functions:\n  f:\n    image: x\n    namespace: NS!\n", ":4:16: ", "namespace" },
	{ "functions:\n  f:\n    image: x\n  f:\n    image: y\n", ":4:3: ", "duplicate key 'f'" },
	{ "functions:\n  f:\n    image: x\n   lang: go\n", ":4:", "" },
	{ "functions:\n  f: {image: x\n", ":", "" },
	{ "functions:\n  f:\n    image: x\n\tlang: go\n", ":4:", "" },
	{ "functions: [a, b]\n", ":1:12: ", "'functions' in the stack file must be a map, not a list" },
	{ "provider: {name: aws}\nfunctions: {}\n", ":1:18: ",
	  "provider name 'aws' is not supported" },
	{ "provider: {gateway: ftp://x}\nfunctions: {}\n", ":1:21: ",
	  "gateway 'ftp://x' is not an http:// or https:// URL" },
	{ "version: [1]\nfunctions: {}\n", ":1:10: ", "'version' must be text like 1.0, not a list" },
	{ "version: 1.0\n", ":1:1: ", "the stack file has no 'functions' map" },
	{ "- a\n", ":1:1: ", "a stack file must be a map" },
	{ "functions:\n  f:\n    image: ${1BAD}\n", ":3:12: ", "bad variable reference '${1BAD}'" },
	{ "functions:\n  f:\n    image: ${NOPE}\n", ":3:12: ",
	  "'image' in function 'f' must be text, not nothing" },
	{ "configuration:\n  copy: x\nfunctions: {}\n", ":2:9: ",
	  "'copy' in 'configuration' must be a list, not text" },
};

START_TEST(test_bad)
{
	struct stack st;
	struct buf why, want;
	char path[256];
	int rc;

	buf_init(&why, 4096);
	buf_init(&want, 4096);
	put("stack.yml", bads[_i].text, path, sizeof(path));
	memset(&st, 0x5a, sizeof(st));
	rc = stack_load(path, fake_env, &st, &why);
	ck_assert_msg(rc < 0, "case %d: rc %d", _i, rc);
	buf_printf(&want, "%s%s", path, bads[_i].at);
	ck_assert_msg(!strncmp(buf_cstr(&why), buf_cstr(&want), want.len),
		      "case %d: why '%s', want prefix '%s'", _i, buf_cstr(&why), buf_cstr(&want));
	ck_assert_msg(strstr(buf_cstr(&why), bads[_i].reason), "case %d: why '%s', want '%s'", _i,
		      buf_cstr(&why), bads[_i].reason);
	/* released and zeroed on failure */
	ck_assert_ptr_null(st.fns);
	ck_assert_ptr_null(st.path);
	buf_release(&want);
	buf_release(&why);
}
END_TEST

START_TEST(test_empty_and_missing)
{
	struct stack st;
	struct buf why;
	char path[256];

	buf_init(&why, 4096);
	put("stack.yml", "", path, sizeof(path));
	ck_assert_int_lt(stack_load(path, NULL, &st, &why), 0);
	ck_assert_msg(strstr(buf_cstr(&why), "the file is empty"), "%s", buf_cstr(&why));
	unlink(path);
	ck_assert_int_lt(stack_load(path, NULL, &st, &why), 0);
	ck_assert_msg(strstr(buf_cstr(&why), "cannot open '"), "%s", buf_cstr(&why));
	/* functions: with nothing is fine (no functions yet) */
	put("stack.yml", "version: 1.0\nfunctions:\n", path, sizeof(path));
	ck_assert_msg(stack_load(path, NULL, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_uint_eq(st.nfns, 0);
	ck_assert(st.has_functions && st.functions_block && st.functions_last);
	stack_release(&st);
	buf_release(&why);
}
END_TEST

START_TEST(test_bare_path)
{
	struct stack st;
	struct buf why, p;
	char path[256], cwd[512];

	buf_init(&why, 4096);
	buf_init(&p, 4096);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	put("stack.yml", "functions:\n  f: {image: x}\n", path, sizeof(path));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(stack_load("stack.yml", NULL, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(st.path, "stack.yml");
	ck_assert_str_eq(st.dir, ".");
	stack_path(&st, "./h", &p);
	ck_assert_str_eq(buf_cstr(&p), "./h");
	stack_release(&st);
	buf_release(&p);
	buf_release(&why);
}
END_TEST

START_TEST(test_select)
{
	struct stack st;
	struct buf why;
	size_t *idx = NULL, n = 0;
	char path[256];

	buf_init(&why, 4096);
	put("stack.yml",
	    "functions:\n  api-a: {image: a}\n  api-b: {image: b}\n  web: {image: c}\n", path,
	    sizeof(path));
	ck_assert_msg(stack_load(path, NULL, &st, &why) == 0, "%s", buf_cstr(&why));
	ck_assert(st.functions_block);
	ck_assert_int_eq(st.prop_col, 0); /* flow-style function settings */
	ck_assert_int_eq(stack_select(&st, NULL, NULL, &idx, &n, &why), 0);
	ck_assert_uint_eq(n, 3);
	free(idx);
	ck_assert_int_eq(stack_select(&st, "api-*", NULL, &idx, &n, &why), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(idx[0], 0);
	ck_assert_uint_eq(idx[1], 1);
	free(idx);
	ck_assert_int_eq(stack_select(&st, NULL, "^(web|api-b)$", &idx, &n, &why), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(idx[0], 1);
	ck_assert_uint_eq(idx[1], 2);
	free(idx);
	ck_assert_int_eq(stack_select(&st, "zz*", NULL, &idx, &n, &why), -ERR_INVALID);
	ck_assert_ptr_null(idx);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "no function in"));
	buf_reset(&why);
	ck_assert_int_eq(stack_select(&st, NULL, "(", &idx, &n, &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "bad --regex '('"));
	stack_release(&st);
	buf_release(&why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	/* unchecked: runs once in the parent, so the folder goes even when a test fails */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_env_file);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(tc, test_empty_and_missing);
	tcase_add_test(tc, test_bare_path);
	tcase_add_test(tc, test_select);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
