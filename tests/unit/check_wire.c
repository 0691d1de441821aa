#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"

/* Asserts that why is one line and, if want is non-NULL, contains it. */
static void assert_reason(const struct buf *why, const char *want, const char *input)
{
	const char *w = buf_cstr(why);

	ck_assert_msg(why->len > 0, "%s: no reason given", input);
	ck_assert_msg(!strchr(w, '\n'), "%s: reason has a newline: %s", input, w);
	if (want)
		ck_assert_msg(strstr(w, want), "%s: reason '%s' lacks '%s'", input, w, want);
}

/* Asserts that the JSON text got equals want (compared as JSON values). */
static void assert_json_eq(const char *got, const char *want)
{
	json_t *g = json_loads(got, 0, NULL), *w = json_loads(want, 0, NULL);

	ck_assert_msg(g != NULL, "bad JSON produced: %s", got);
	ck_assert_msg(w != NULL, "bad JSON in test: %s", want);
	ck_assert_msg(json_equal(g, w), "got %s\nwant %s", got, want);
	json_decref(g);
	json_decref(w);
}

/* ---- names -------------------------------------------------------------- */

static const char name63[] =
	"abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abc";
static const char name64[] =
	"abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcd";

static const struct {
	const char *name;
	int rc;
} names[] = {
	{ "a", 0 },            { "hello", 0 },         { "figlet-2", 0 },
	{ "0", 0 },            { "9lives", 0 },        { "a-b-c", 0 },
	{ name63, 0 },         { "hello.openfaas-fn", 0 }, { "a.b", 0 },
	{ "", -ERR_INVALID },  { "Foo", -ERR_INVALID }, { "fOo", -ERR_INVALID },
	{ "-a", -ERR_INVALID }, { "a-", -ERR_INVALID }, { "a_b", -ERR_INVALID },
	{ "a/b", -ERR_INVALID }, { "../x", -ERR_INVALID }, { "..", -ERR_INVALID },
	{ ".", -ERR_INVALID },  { "a.", -ERR_INVALID },  { ".a", -ERR_INVALID },
	{ "a..b", -ERR_INVALID }, { "a.b.c", -ERR_INVALID }, { "a.B", -ERR_INVALID },
	{ "a.-b", -ERR_INVALID }, { name64, -ERR_INVALID }, { "a b", -ERR_INVALID },
	{ "a\nb", -ERR_INVALID }, { "caf\xc3\xa9", -ERR_INVALID }, { "a%2fb", -ERR_INVALID },
};

START_TEST(test_names)
{
	struct buf why;
	int rc;

	buf_init(&why, 512);
	rc = wire_name_check(names[_i].name, &why);
	ck_assert_msg(rc == names[_i].rc, "'%s': rc %d", names[_i].name, rc);
	if (rc) {
		assert_reason(&why, "invalid function name '", names[_i].name);
		assert_reason(&why, "use 1-63 characters of a-z, 0-9 and '-'", names[_i].name);
	}
	buf_release(&why);
}
END_TEST

START_TEST(test_name_messages)
{
	char long_name[300];
	struct buf why;

	buf_init(&why, 512);
	ck_assert_int_eq(wire_name_check("Foo", &why), -ERR_INVALID);
	ck_assert_str_eq(buf_cstr(&why),
			 "invalid function name 'Foo': use 1-63 characters of a-z, 0-9 and '-', "
			 "starting and ending with a letter or digit");
	/* A plain name refuses the suffix and names its kind. */
	ck_assert_int_eq(wire_name_check_as("secret", "a.b", 0, &why), -ERR_INVALID);
	ck_assert_str_eq(buf_cstr(&why),
			 "invalid secret name 'a.b': use 1-63 characters of a-z, 0-9 and '-', "
			 "starting and ending with a letter or digit");
	/* Control characters never reach the reason; long values are cut. */
	ck_assert_int_eq(wire_name_check("a\nb\x1b", &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "'a?b?'"));
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert_int_eq(wire_name_check(long_name, &why), -ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&why), "xxx...'"));
	ck_assert_uint_lt(why.len, 250);
	/* NULL name and NULL why are tolerated. */
	ck_assert_int_eq(wire_name_check(NULL, &why), -ERR_INVALID);
	ck_assert_int_eq(wire_name_check("Foo", NULL), -ERR_INVALID);
	ck_assert_int_eq(wire_name_check("ok", NULL), 0);
	buf_release(&why);
}
END_TEST

/* ---- FunctionDeployment ------------------------------------------------- */

static const char full_deploy[] =
	"{\"service\":\"figlet\",\"image\":\"ghcr.io/openfaas/figlet:latest@sha256:ab\","
	"\"namespace\":\"team-a\",\"envProcess\":\"figlet -f small\","
	"\"envVars\":{\"write_timeout\":\"10s\",\"EMPTY\":\"\"},"
	"\"constraints\":[\"node.platform.os == linux\"],"
	"\"secrets\":[\"api-key\",\"db\"],"
	"\"labels\":{\"com.openfaas.scale.min\":\"2\",\"team\":\"x\"},"
	"\"annotations\":{\"topic\":\"cron\"},"
	"\"limits\":{\"memory\":\"128Mi\",\"cpu\":\"500m\"},"
	"\"requests\":{\"memory\":\"64Mi\"},"
	"\"readOnlyRootFilesystem\":true,"
	"\"unknownField\":{\"nested\":[1,2,3]}}";

START_TEST(test_deploy_full)
{
	struct wire_deploy d;
	struct buf why;

	buf_init(&why, 512);
	ck_assert_int_eq(wire_deploy_parse(full_deploy, strlen(full_deploy), &d, &why), 0);
	ck_assert_str_eq(d.service, "figlet");
	ck_assert_str_eq(d.image, "ghcr.io/openfaas/figlet:latest@sha256:ab");
	ck_assert_str_eq(d.namespace, "team-a");
	ck_assert_str_eq(d.env_process, "figlet -f small");
	ck_assert_uint_eq(d.env_vars.n, 2);
	ck_assert_str_eq(d.env_vars.items[0].key, "write_timeout");
	ck_assert_str_eq(wire_map_get(&d.env_vars, "EMPTY"), "");
	ck_assert_ptr_null(wire_map_get(&d.env_vars, "missing"));
	ck_assert_uint_eq(d.constraints.n, 1);
	ck_assert_uint_eq(d.secrets.n, 2);
	ck_assert_str_eq(d.secrets.items[1], "db");
	ck_assert_str_eq(wire_map_get(&d.labels, "team"), "x");
	ck_assert_str_eq(wire_map_get(&d.annotations, "topic"), "cron");
	ck_assert_str_eq(d.limits.memory, "128Mi");
	ck_assert_uint_eq(d.limits.memory_bytes, 128u * 1024 * 1024);
	ck_assert_uint_eq(d.limits.cpu_millis, 500);
	ck_assert_uint_eq(d.requests.memory_bytes, 64u * 1024 * 1024);
	ck_assert_ptr_null(d.requests.cpu);
	ck_assert(d.read_only_root_filesystem);
	wire_deploy_release(&d);
	ck_assert_ptr_null(d.service);
	wire_deploy_release(&d);
	wire_deploy_release(NULL);
	buf_release(&why);
}
END_TEST

START_TEST(test_deploy_minimal_and_nulls)
{
	static const char text[] =
		"{\"service\":\"f\",\"image\":\"img\",\"namespace\":\"\",\"envVars\":null,"
		"\"labels\":null,\"limits\":null,\"secrets\":null,\"readOnlyRootFilesystem\":null,"
		"\"envProcess\":null,\"requests\":{\"memory\":\"\",\"cpu\":null}}";
	struct wire_deploy d;

	ck_assert_int_eq(wire_deploy_parse(text, strlen(text), &d, NULL), 0);
	ck_assert_ptr_null(d.namespace);
	ck_assert_ptr_null(d.env_process);
	ck_assert_uint_eq(d.env_vars.n, 0);
	ck_assert_uint_eq(d.labels.n, 0);
	ck_assert_ptr_null(d.requests.memory);
	ck_assert(!d.read_only_root_filesystem);
	wire_deploy_release(&d);
}
END_TEST

/* Each bad body, the code and a piece of the one-line reason. */
static const struct {
	const char *json;
	int rc;
	const char *why;
} bad_deploys[] = {
	{ "", -ERR_PARSE, "malformed JSON: " },
	{ "{\"service\":", -ERR_PARSE, "at line 1 column" },
	{ "{\"service\":\"a\",\"image\":\"b\"} x", -ERR_PARSE, "malformed JSON" },
	{ "{\"service\":\"a\",\n\"image\":\"b\",}", -ERR_PARSE, "line 2" },
	{ "[1,2]", -ERR_INVALID, "must be a JSON object" },
	{ "{}", -ERR_INVALID, "missing 'service'" },
	{ "{\"service\":\"\",\"image\":\"b\"}", -ERR_INVALID, "missing 'service'" },
	{ "{\"service\":\"a\"}", -ERR_INVALID, "missing 'image'" },
	{ "{\"service\":\"a\",\"image\":null}", -ERR_INVALID, "missing 'image'" },
	{ "{\"service\":\"Foo\",\"image\":\"b\"}", -ERR_INVALID, "invalid function name 'Foo'" },
	{ "{\"service\":\"../x\",\"image\":\"b\"}", -ERR_INVALID, "invalid function name '../x'" },
	{ "{\"service\":\"a.ns\",\"image\":\"b\"}", -ERR_INVALID, "invalid function name 'a.ns'" },
	{ "{\"service\":1,\"image\":\"b\"}", -ERR_INVALID, "invalid 'service': must be a string" },
	{ "{\"service\":\"a\",\"image\":[\"b\"]}", -ERR_INVALID, "invalid 'image': must be a string" },
	{ "{\"service\":\"a\",\"image\":\"b\\u0000c\"}", -ERR_INVALID,
	  "invalid 'image': must be a string without NUL bytes" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"k\\u0000\":\"v\"}}", -ERR_PARSE,
	  "malformed JSON" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"secrets\":[\"a\\u0000\"]}", -ERR_INVALID,
	  "invalid 'secrets': must be a string without NUL bytes" },
	{ "{\"service\":\"a\",\"image\":\"b\\nc\"}", -ERR_INVALID, "invalid image 'b?c'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"namespace\":\"Team\"}", -ERR_INVALID,
	  "invalid namespace name 'Team'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"namespace\":5}", -ERR_INVALID,
	  "invalid 'namespace': must be a string" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"envProcess\":true}", -ERR_INVALID,
	  "invalid 'envProcess'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"envVars\":[\"A=1\"]}", -ERR_INVALID,
	  "invalid 'envVars': must be an object of strings" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"envVars\":{\"A\":1}}", -ERR_INVALID,
	  "invalid 'envVars.A': must be a string" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"envVars\":{\"A=B\":\"1\"}}", -ERR_INVALID,
	  "invalid envVars name 'A=B'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"envVars\":{\"\":\"1\"}}", -ERR_INVALID,
	  "invalid envVars name ''" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"x\":{\"y\":\"z\"}}}", -ERR_INVALID,
	  "invalid 'labels.x'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"annotations\":\"x\"}", -ERR_INVALID,
	  "invalid 'annotations'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"constraints\":\"x\"}", -ERR_INVALID,
	  "invalid 'constraints': must be an array of strings" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"secrets\":[\"ok\",2]}", -ERR_INVALID,
	  "invalid 'secrets': must be an array of strings" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"secrets\":[\"../etc/passwd\"]}", -ERR_INVALID,
	  "invalid secret name '../etc/passwd'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"secrets\":[\"a/b\"]}", -ERR_INVALID,
	  "invalid secret name 'a/b'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"limits\":\"128Mi\"}", -ERR_INVALID,
	  "invalid 'limits'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"limits\":{\"memory\":128}}", -ERR_INVALID,
	  "invalid 'limits.memory': must be a string" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"limits\":{\"memory\":\"lots\"}}", -ERR_INVALID,
	  "invalid 'limits.memory' 'lots'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"requests\":{\"cpu\":\"fast\"}}", -ERR_INVALID,
	  "invalid 'requests.cpu' 'fast'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"readOnlyRootFilesystem\":\"true\"}", -ERR_INVALID,
	  "invalid 'readOnlyRootFilesystem': must be true or false" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.min\":\"x\"}}",
	  -ERR_INVALID, "invalid com.openfaas.scale.min 'x'" },
	{ "{\"service\":\"a\",\"image\":\"b\",\"annotations\":{\"com.openfaas.retry.codes\":\"x\"}}",
	  -ERR_INVALID, "invalid com.openfaas.retry.codes 'x'" },
};

START_TEST(test_deploy_bad)
{
	const char *json = bad_deploys[_i].json;
	struct wire_deploy d;
	struct buf why;
	int rc;

	buf_init(&why, 512);
	rc = wire_deploy_parse(json, strlen(json), &d, &why);
	ck_assert_msg(rc == bad_deploys[_i].rc, "%s: rc %d (%s)", json, rc, buf_cstr(&why));
	assert_reason(&why, bad_deploys[_i].why, json);
	/* The output is zeroed on failure: releasing it is harmless. */
	ck_assert_ptr_null(d.service);
	ck_assert_ptr_null(d.env_vars.items);
	wire_deploy_release(&d);
	buf_release(&why);
}
END_TEST

START_TEST(test_deploy_not_nul_terminated)
{
	/* The parser reads exactly len bytes. */
	static const char text[] = "{\"service\":\"a\",\"image\":\"b\"}GARBAGE";
	struct wire_deploy d;
	struct buf why;

	/* A success empties why. */
	buf_init(&why, 64);
	ck_assert_int_eq(buf_adds(&why, "stale"), 0);
	ck_assert_int_eq(wire_deploy_parse(text, strlen(text) - 7, &d, &why), 0);
	ck_assert_uint_eq(why.len, 0);
	buf_release(&why);
	ck_assert_str_eq(d.image, "b");
	wire_deploy_release(&d);
	ck_assert_int_eq(wire_deploy_parse(NULL, 0, &d, NULL), -ERR_PARSE);
}
END_TEST

START_TEST(test_deploy_round_trip)
{
	/* An image with characters JSON escapes and non-ASCII text. */
	static const char odd[] =
		"{\"service\":\"odd\",\"image\":\"reg.example:5000/a/b:\\\"q\\\"\\\\x/\xc3\xa9\\u2603\","
		"\"envVars\":{\"K\":\"line1\\nline2\\ttab\"}}";
	const char *inputs[] = { full_deploy, odd };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct wire_deploy a, b;
		struct buf t1, t2;

		buf_init(&t1, 4096);
		buf_init(&t2, 4096);
		ck_assert_int_eq(wire_deploy_parse(inputs[i], strlen(inputs[i]), &a, NULL), 0);
		ck_assert_int_eq(wire_deploy_dump(&a, &t1), 0);
		ck_assert_int_eq(wire_deploy_parse(t1.data, t1.len, &b, NULL), 0);
		ck_assert_int_eq(wire_deploy_dump(&b, &t2), 0);
		ck_assert_str_eq(buf_cstr(&t1), buf_cstr(&t2));
		ck_assert_str_eq(a.image, b.image);
		ck_assert_uint_eq(a.labels.n, b.labels.n);
		ck_assert_uint_eq(a.limits.memory_bytes, b.limits.memory_bytes);
		ck_assert_int_eq(a.read_only_root_filesystem, b.read_only_root_filesystem);
		if (i == 1) {
			ck_assert_str_eq(b.image, "reg.example:5000/a/b:\"q\"\\x/\xc3\xa9\xe2\x98\x83");
			ck_assert_str_eq(b.env_vars.items[0].value, "line1\nline2\ttab");
		}
		wire_deploy_release(&a);
		wire_deploy_release(&b);
		buf_release(&t1);
		buf_release(&t2);
	}
}
END_TEST

START_TEST(test_deploy_dump_cap)
{
	static const char text[] = "{\"service\":\"a\",\"image\":\"some/long/image:tag\"}";
	struct wire_deploy d;
	struct buf out;

	ck_assert_int_eq(wire_deploy_parse(text, strlen(text), &d, NULL), 0);
	buf_init(&out, 10);
	ck_assert_int_eq(wire_deploy_dump(&d, &out), -ERR_TOO_BIG);
	ck_assert_uint_eq(out.len, 0);
	buf_release(&out);
	wire_deploy_release(&d);
}
END_TEST

/* ---- FunctionStatus and omitempty --------------------------------------- */

static const struct {
	const char *deploy;
	const char *name;
	const char *ns;
	uint64_t replicas, available, invocations;
	int64_t created_ms;
	const char *want;
} statuses[] = {
	/* Everything zero or empty is left out; the label is always there. */
	{ "{\"service\":\"f\",\"image\":\"img\"}", "f", NULL, 0, 0, 0, 0,
	  "{\"name\":\"f\",\"image\":\"img\",\"labels\":{\"faas_function\":\"f\"}}" },
	{ "{\"service\":\"f\",\"image\":\"img\",\"envVars\":{},\"labels\":{},\"secrets\":[],"
	  "\"constraints\":[],\"limits\":{},\"requests\":{\"memory\":\"\"},"
	  "\"readOnlyRootFilesystem\":false,\"envProcess\":\"\",\"annotations\":{}}",
	  "f", "", 0, 0, 0, 0,
	  "{\"name\":\"f\",\"image\":\"img\",\"labels\":{\"faas_function\":\"f\"}}" },
	/* Counters, createdAt, caller's namespace. */
	{ "{\"service\":\"f\",\"image\":\"img\"}", "f", "openfaas-fn", 2, 1, 42,
	  1714564800000,
	  "{\"name\":\"f\",\"image\":\"img\",\"namespace\":\"openfaas-fn\",\"replicas\":2,"
	  "\"availableReplicas\":1,\"invocationCount\":42,\"createdAt\":\"2024-05-01T12:00:00Z\","
	  "\"labels\":{\"faas_function\":\"f\"}}" },
	/* The deployed namespace when the caller gives none; a faas_function
	 * label from the client is overridden; every set field is echoed. */
	{ "{\"service\":\"f\",\"image\":\"img:1\",\"namespace\":\"team\",\"envProcess\":\"cat\","
	  "\"envVars\":{\"A\":\"1\"},\"constraints\":[\"c\"],\"secrets\":[\"s\"],"
	  "\"labels\":{\"faas_function\":\"spoof\",\"x\":\"y\"},\"annotations\":{\"k\":\"v\"},"
	  "\"limits\":{\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"100m\"},"
	  "\"readOnlyRootFilesystem\":true}",
	  "f", NULL, 1, 0, 0, 1714564800250,
	  "{\"name\":\"f\",\"image\":\"img:1\",\"namespace\":\"team\",\"envProcess\":\"cat\","
	  "\"envVars\":{\"A\":\"1\"},\"constraints\":[\"c\"],\"secrets\":[\"s\"],"
	  "\"labels\":{\"faas_function\":\"f\",\"x\":\"y\"},\"annotations\":{\"k\":\"v\"},"
	  "\"limits\":{\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"100m\"},"
	  "\"readOnlyRootFilesystem\":true,\"replicas\":1,"
	  "\"createdAt\":\"2024-05-01T12:00:00.25Z\"}" },
};

START_TEST(test_status)
{
	struct wire_deploy d;
	struct wire_status st = { 0 };
	struct buf out;

	ck_assert_int_eq(wire_deploy_parse(statuses[_i].deploy, strlen(statuses[_i].deploy), &d,
					   NULL), 0);
	st.deploy = &d;
	st.name = statuses[_i].name;
	st.namespace = statuses[_i].ns;
	st.replicas = statuses[_i].replicas;
	st.available_replicas = statuses[_i].available;
	st.invocation_count = statuses[_i].invocations;
	st.created_at_ms = statuses[_i].created_ms;
	buf_init(&out, 4096);
	ck_assert_int_eq(wire_status_dump(&st, &out), 0);
	assert_json_eq(buf_cstr(&out), statuses[_i].want);
	/* Never a `service` key in a status. */
	ck_assert_ptr_null(strstr(buf_cstr(&out), "\"service\""));
	buf_release(&out);
	wire_deploy_release(&d);
}
END_TEST

START_TEST(test_status_bad_args)
{
	struct wire_status st = { 0 };
	json_t *j = (json_t *)1;

	ck_assert_int_eq(wire_status_to_json(&st, &j), -EINVAL);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(wire_status_to_json(NULL, &j), -EINVAL);
}
END_TEST

static const struct {
	int64_t ms;
	const char *want;
} times[] = {
	{ 0, "1970-01-01T00:00:00Z" },
	{ 1714564800000, "2024-05-01T12:00:00Z" },
	{ 1714564800001, "2024-05-01T12:00:00.001Z" },
	{ 1714564800100, "2024-05-01T12:00:00.1Z" },
	{ 1714564800120, "2024-05-01T12:00:00.12Z" },
	{ 1714564800999, "2024-05-01T12:00:00.999Z" },
	{ -1, "1969-12-31T23:59:59.999Z" },
};

START_TEST(test_rfc3339)
{
	struct buf out;

	buf_init(&out, 64);
	ck_assert_int_eq(wire_time_rfc3339(times[_i].ms, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), times[_i].want);
	buf_release(&out);
}
END_TEST

/* ---- scaling labels ----------------------------------------------------- */

static const struct {
	const char *labels; /* JSON object or NULL */
	int rc;
	uint64_t min, max, target;
	bool zero;
	int64_t zero_ms;
	const char *why;
} scalings[] = {
	{ NULL, 0, 1, 20, 0, false, 15 * 60000, NULL },
	{ "{}", 0, 1, 20, 0, false, 15 * 60000, NULL },
	{ "{\"com.openfaas.scale.min\":\"0\",\"com.openfaas.scale.max\":\"100\","
	  "\"com.openfaas.scale.target\":\"50\",\"com.openfaas.scale.zero\":\"true\","
	  "\"com.openfaas.scale.zero-duration\":\"5m\"}",
	  0, 0, 100, 50, true, 300000, NULL },
	{ "{\"com.openfaas.scale.min\":\"3\",\"com.openfaas.scale.max\":\"3\","
	  "\"com.openfaas.scale.zero\":\"TRUE\",\"com.openfaas.scale.zero-duration\":\"90\"}",
	  0, 3, 3, 0, false, 90000, NULL },
	{ "{\"com.openfaas.scale.min\":\"30\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "com.openfaas.scale.min 30 is above com.openfaas.scale.max 20" },
	{ "{\"com.openfaas.scale.min\":\"5\",\"com.openfaas.scale.max\":\"2\"}", -ERR_INVALID,
	  0, 0, 0, false, 0, "is above" },
	{ "{\"com.openfaas.scale.min\":\"-1\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.min '-1': use a non-negative integer" },
	{ "{\"com.openfaas.scale.max\":\"1.5\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.max '1.5'" },
	{ "{\"com.openfaas.scale.max\":\"\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.max ''" },
	{ "{\"com.openfaas.scale.max\":\"99999999999\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.max" },
	{ "{\"com.openfaas.scale.target\":\"0\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.target '0'" },
	{ "{\"com.openfaas.scale.zero-duration\":\"soon\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.zero-duration 'soon'" },
	{ "{\"com.openfaas.scale.zero-duration\":\"0s\"}", -ERR_INVALID, 0, 0, 0, false, 0,
	  "invalid com.openfaas.scale.zero-duration '0s'" },
};

/* Reads a JSON object of strings into d->labels (whatever the field name),
 * without the deployment's validation, so each case reaches the function
 * under test. labels_json NULL leaves d empty. */
static void parse_labels(const char *labels_json, struct wire_deploy *d)
{
	json_t *obj, *v;
	const char *k;
	size_t i = 0;

	memset(d, 0, sizeof(*d));
	if (!labels_json)
		return;
	obj = json_loads(labels_json, 0, NULL);
	ck_assert_ptr_nonnull(obj);
	d->labels.items = calloc(json_object_size(obj) + 1, sizeof(struct wire_kv));
	json_object_foreach(obj, k, v) {
		d->labels.items[i].key = strdup(k);
		d->labels.items[i].value = strdup(json_string_value(v));
		i++;
	}
	d->labels.n = i;
	json_decref(obj);
}

START_TEST(test_scaling)
{
	struct wire_scaling sc;
	struct wire_deploy d;
	struct buf why;
	int rc;

	buf_init(&why, 512);
	parse_labels(scalings[_i].labels, &d);
	memset(&sc, 0x55, sizeof(sc));
	rc = wire_scaling_from_labels(scalings[_i].labels ? &d.labels : NULL, &sc, &why);
	ck_assert_msg(rc == scalings[_i].rc, "case %d: rc %d (%s)", _i, rc, buf_cstr(&why));
	if (rc) {
		assert_reason(&why, scalings[_i].why, scalings[_i].labels);
	} else {
		ck_assert_uint_eq(sc.min, scalings[_i].min);
		ck_assert_uint_eq(sc.max, scalings[_i].max);
		ck_assert_uint_eq(sc.target, scalings[_i].target);
		ck_assert_int_eq(sc.zero, scalings[_i].zero);
		ck_assert_int_eq(sc.zero_duration_ms, scalings[_i].zero_ms);
	}
	wire_deploy_release(&d);
	buf_release(&why);
}
END_TEST

/* ---- retry annotations -------------------------------------------------- */

static const struct {
	const char *ann;
	int rc;
	unsigned attempts;
	const char *codes; /* expected codes, comma-separated */
	int64_t min_ms, max_ms;
	const char *why;
} retries[] = {
	{ NULL, 0, 5, "408,429,500,502,503,504", 1000, 60000, NULL },
	{ "{\"com.openfaas.retry.attempts\":\"10\",\"com.openfaas.retry.codes\":\"429, 503 ,504\","
	  "\"com.openfaas.retry.min_wait\":\"500ms\",\"com.openfaas.retry.max_wait\":\"2m\"}",
	  0, 10, "429,503,504", 500, 120000, NULL },
	{ "{\"com.openfaas.retry.codes\":\"500\"}", 0, 5, "500", 1000, 60000, NULL },
	{ "{\"com.openfaas.retry.attempts\":\"0\"}", -ERR_INVALID, 0, NULL, 0, 0,
	  "invalid com.openfaas.retry.attempts '0'" },
	{ "{\"com.openfaas.retry.attempts\":\"many\"}", -ERR_INVALID, 0, NULL, 0, 0,
	  "invalid com.openfaas.retry.attempts 'many'" },
	{ "{\"com.openfaas.retry.codes\":\"\"}", -ERR_INVALID, 0, NULL, 0, 0,
	  "invalid com.openfaas.retry.codes ''" },
	{ "{\"com.openfaas.retry.codes\":\"429,,503\"}", -ERR_INVALID, 0, NULL, 0, 0,
	  "use comma-separated HTTP status codes" },
	{ "{\"com.openfaas.retry.codes\":\"429,\"}", -ERR_INVALID, 0, NULL, 0, 0, "codes" },
	{ "{\"com.openfaas.retry.codes\":\"99\"}", -ERR_INVALID, 0, NULL, 0, 0, "codes '99'" },
	{ "{\"com.openfaas.retry.codes\":\"600\"}", -ERR_INVALID, 0, NULL, 0, 0, "codes '600'" },
	{ "{\"com.openfaas.retry.codes\":\"5xx\"}", -ERR_INVALID, 0, NULL, 0, 0, "codes '5xx'" },
	{ "{\"com.openfaas.retry.min_wait\":\"2m\"}", -ERR_INVALID, 0, NULL, 0, 0,
	  "com.openfaas.retry.min_wait (120000 ms) is above com.openfaas.retry.max_wait" },
	{ "{\"com.openfaas.retry.max_wait\":\"-1s\"}", -ERR_INVALID, 0, NULL, 0, 0,
	  "invalid com.openfaas.retry.max_wait '-1s'" },
};

START_TEST(test_retry)
{
	struct wire_retry r;
	struct wire_deploy d;
	struct buf why, got;
	size_t i;
	int rc;

	buf_init(&why, 512);
	buf_init(&got, 512);
	parse_labels(retries[_i].ann, &d);
	rc = wire_retry_from_annotations(retries[_i].ann ? &d.labels : NULL, NULL, &r, &why);
	ck_assert_msg(rc == retries[_i].rc, "case %d: rc %d (%s)", _i, rc, buf_cstr(&why));
	if (rc) {
		assert_reason(&why, retries[_i].why, retries[_i].ann);
	} else {
		ck_assert_uint_eq(r.attempts, retries[_i].attempts);
		for (i = 0; i < r.ncodes; i++)
			buf_printf(&got, "%s%d", i ? "," : "", r.codes[i]);
		ck_assert_str_eq(buf_cstr(&got), retries[_i].codes);
		ck_assert_int_eq(r.min_wait_ms, retries[_i].min_ms);
		ck_assert_int_eq(r.max_wait_ms, retries[_i].max_ms);
		ck_assert(wire_retry_code(&r, r.codes[0]));
		ck_assert(!wire_retry_code(&r, 200));
	}
	wire_deploy_release(&d);
	buf_release(&why);
	buf_release(&got);
}
END_TEST

START_TEST(test_retry_defaults_and_limit)
{
	struct wire_retry def, r;
	struct wire_deploy d;
	struct buf codes, ann;
	int i;

	/* Caller defaults are the starting point. */
	wire_retry_defaults(&def);
	def.attempts = 2;
	def.max_wait_ms = 5000;
	parse_labels("{\"com.openfaas.retry.min_wait\":\"2s\"}", &d);
	ck_assert_int_eq(wire_retry_from_annotations(&d.labels, &def, &r, NULL), 0);
	ck_assert_uint_eq(r.attempts, 2);
	ck_assert_int_eq(r.min_wait_ms, 2000);
	ck_assert_int_eq(r.max_wait_ms, 5000);
	wire_deploy_release(&d);

	/* More codes than fit are refused. */
	buf_init(&codes, 4096);
	buf_init(&ann, 4096);
	for (i = 0; i <= WIRE_RETRY_MAX_CODES; i++)
		buf_printf(&codes, "%s%d", i ? "," : "", 400 + i);
	buf_printf(&ann, "{\"com.openfaas.retry.codes\":\"%s\"}", buf_cstr(&codes));
	parse_labels(buf_cstr(&ann), &d);
	ck_assert_int_eq(wire_retry_from_annotations(&d.labels, NULL, &r, NULL), -ERR_INVALID);
	wire_deploy_release(&d);
	buf_release(&codes);
	buf_release(&ann);
}
END_TEST

/* ---- scale request ------------------------------------------------------ */

static const struct {
	const char *json;
	int rc;
	const char *service;
	const char *ns;
	uint64_t replicas;
	const char *why;
} scales[] = {
	{ "{\"serviceName\":\"figlet\",\"replicas\":3}", 0, "figlet", NULL, 3, NULL },
	{ "{\"serviceName\":\"figlet\",\"replicas\":0,\"namespace\":\"openfaas-fn\"}", 0,
	  "figlet", "openfaas-fn", 0, NULL },
	{ "{\"serviceName\":\"figlet.team\",\"replicas\":1000000,\"extra\":1}", 0, "figlet.team",
	  NULL, 1000000, NULL },
	{ "{\"replicas\":1}", -ERR_INVALID, NULL, NULL, 0, "missing 'serviceName'" },
	{ "{\"serviceName\":\"f\"}", -ERR_INVALID, NULL, NULL, 0, "missing 'replicas'" },
	{ "{\"serviceName\":\"f\",\"replicas\":null}", -ERR_INVALID, NULL, NULL, 0,
	  "missing 'replicas'" },
	{ "{\"serviceName\":\"f\",\"replicas\":-1}", -ERR_INVALID, NULL, NULL, 0,
	  "invalid 'replicas': must be a non-negative integer" },
	{ "{\"serviceName\":\"f\",\"replicas\":1.5}", -ERR_INVALID, NULL, NULL, 0,
	  "invalid 'replicas'" },
	{ "{\"serviceName\":\"f\",\"replicas\":\"2\"}", -ERR_INVALID, NULL, NULL, 0,
	  "invalid 'replicas'" },
	{ "{\"serviceName\":\"F\",\"replicas\":2}", -ERR_INVALID, NULL, NULL, 0,
	  "invalid function name 'F'" },
	{ "{\"serviceName\":\"../f\",\"replicas\":2}", -ERR_INVALID, NULL, NULL, 0,
	  "invalid function name '../f'" },
	{ "{\"serviceName\":7,\"replicas\":2}", -ERR_INVALID, NULL, NULL, 0,
	  "invalid 'serviceName': must be a string" },
	{ "{\"serviceName\":\"f\",\"replicas\":2,\"namespace\":\"a/b\"}", -ERR_INVALID, NULL, NULL,
	  0, "invalid namespace name 'a/b'" },
	{ "{\"serviceName\":\"f\",\"replicas\":99999999999999999999}", -ERR_PARSE, NULL, NULL, 0,
	  "malformed JSON" },
	{ "not json", -ERR_PARSE, NULL, NULL, 0, "malformed JSON" },
};

START_TEST(test_scale)
{
	const char *json = scales[_i].json;
	struct wire_scale sc;
	struct buf why;
	int rc;

	buf_init(&why, 512);
	rc = wire_scale_parse(json, strlen(json), &sc, &why);
	ck_assert_msg(rc == scales[_i].rc, "%s: rc %d (%s)", json, rc, buf_cstr(&why));
	if (rc) {
		assert_reason(&why, scales[_i].why, json);
		ck_assert_ptr_null(sc.service_name);
	} else {
		ck_assert_str_eq(sc.service_name, scales[_i].service);
		if (scales[_i].ns)
			ck_assert_str_eq(sc.namespace, scales[_i].ns);
		else
			ck_assert_ptr_null(sc.namespace);
		ck_assert_uint_eq(sc.replicas, scales[_i].replicas);
	}
	wire_scale_release(&sc);
	wire_scale_release(NULL);
	buf_release(&why);
}
END_TEST

/* ---- secrets ------------------------------------------------------------ */

static const struct {
	const char *json;
	int flags;
	int rc;
	const char *value; /* expected bytes */
	size_t value_len;
	bool has_value;
	const char *why;
} secrets[] = {
	{ "{\"name\":\"api-key\",\"value\":\"s3cret\"}", WIRE_SECRET_NEED_VALUE, 0, "s3cret", 6,
	  true, NULL },
	/* rawValue is base64 bytes and wins over value; NUL bytes survive. */
	{ "{\"name\":\"k\",\"value\":\"ignored\",\"rawValue\":\"AGFiAA==\"}", WIRE_SECRET_NEED_VALUE,
	  0, "\0ab\0", 4, true, NULL },
	{ "{\"name\":\"k\",\"value\":\"a\\u0000b\"}", WIRE_SECRET_NEED_VALUE, 0, "a\0b", 3, true,
	  NULL },
	/* An empty rawValue falls back to value, as Go's nil slice does. */
	{ "{\"name\":\"k\",\"value\":\"v\",\"rawValue\":\"\"}", WIRE_SECRET_NEED_VALUE, 0, "v", 1,
	  true, NULL },
	{ "{\"name\":\"k\",\"value\":\"\"}", WIRE_SECRET_NEED_VALUE, 0, "", 0, true, NULL },
	{ "{\"name\":\"k\",\"namespace\":\"openfaas-fn\"}", 0, 0, NULL, 0, false, NULL },
	{ "{\"name\":\"k\"}", WIRE_SECRET_NEED_VALUE, -ERR_INVALID, NULL, 0, false,
	  "missing 'value' or 'rawValue' for secret 'k'" },
	{ "{\"name\":\"k\",\"value\":null}", WIRE_SECRET_NEED_VALUE, -ERR_INVALID, NULL, 0, false,
	  "missing 'value'" },
	{ "{\"value\":\"x\"}", 0, -ERR_INVALID, NULL, 0, false, "missing 'name'" },
	{ "{\"name\":\"../etc/passwd\",\"value\":\"x\"}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid secret name '../etc/passwd'" },
	{ "{\"name\":\"a.b\",\"value\":\"x\"}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid secret name 'a.b'" },
	{ "{\"name\":\"a\\u0000b\",\"value\":\"x\"}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid 'name'" },
	{ "{\"name\":\"k\",\"rawValue\":\"not base64!\"}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid 'rawValue': not standard base64" },
	{ "{\"name\":\"k\",\"rawValue\":[1,2]}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid 'rawValue'" },
	{ "{\"name\":\"k\",\"value\":42}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid 'value': must be a string" },
	{ "{\"name\":\"k\",\"namespace\":\"NS\",\"value\":\"x\"}", 0, -ERR_INVALID, NULL, 0, false,
	  "invalid namespace name 'NS'" },
	{ "{\"name\":\"k\",", 0, -ERR_PARSE, NULL, 0, false, "malformed JSON" },
};

START_TEST(test_secret)
{
	const char *json = secrets[_i].json;
	struct wire_secret s;
	struct buf why;
	int rc;

	buf_init(&why, 512);
	rc = wire_secret_parse(json, strlen(json), secrets[_i].flags, &s, &why);
	ck_assert_msg(rc == secrets[_i].rc, "%s: rc %d (%s)", json, rc, buf_cstr(&why));
	if (rc) {
		assert_reason(&why, secrets[_i].why, json);
		ck_assert_ptr_null(s.value);
	} else {
		ck_assert_int_eq(s.has_value, secrets[_i].has_value);
		ck_assert_uint_eq(s.value_len, secrets[_i].value_len);
		if (secrets[_i].value) {
			ck_assert_ptr_nonnull(s.value);
			ck_assert_int_eq(memcmp(s.value, secrets[_i].value, s.value_len), 0);
		}
	}
	wire_secret_release(&s);
	wire_secret_release(NULL);
	buf_release(&why);
}
END_TEST

START_TEST(test_secret_too_big)
{
	size_t n = WIRE_SECRET_MAX + 1, i;
	struct wire_secret s;
	struct buf body, why;

	buf_init(&body, 4 * n);
	buf_init(&why, 512);
	ck_assert_int_eq(buf_adds(&body, "{\"name\":\"big\",\"value\":\""), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(buf_addc(&body, 'x'), 0);
	ck_assert_int_eq(buf_adds(&body, "\"}"), 0);
	ck_assert_int_eq(wire_secret_parse(body.data, body.len, 0, &s, &why), -ERR_TOO_BIG);
	assert_reason(&why, "secret value too big", "big secret");
	/* Exactly the maximum is fine. */
	body.len -= 3;
	ck_assert_int_eq(buf_adds(&body, "\"}"), 0);
	ck_assert_int_eq(wire_secret_parse(body.data, body.len, 0, &s, &why), 0);
	ck_assert_uint_eq(s.value_len, WIRE_SECRET_MAX);
	wire_secret_release(&s);
	buf_release(&body);
	buf_release(&why);
}
END_TEST

START_TEST(test_secret_entry)
{
	struct buf out;
	json_t *j;

	buf_init(&out, 256);
	ck_assert_int_eq(wire_secret_entry_to_json("db", "openfaas-fn", &j), 0);
	ck_assert_int_eq(wire_json_dump(j, &out), 0);
	json_decref(j);
	assert_json_eq(buf_cstr(&out), "{\"name\":\"db\",\"namespace\":\"openfaas-fn\"}");
	buf_reset(&out);
	ck_assert_int_eq(wire_secret_entry_to_json("db", "", &j), 0);
	ck_assert_int_eq(wire_json_dump(j, &out), 0);
	json_decref(j);
	ck_assert_str_eq(buf_cstr(&out), "{\"name\":\"db\"}");
	ck_assert_int_eq(wire_secret_entry_to_json(NULL, NULL, &j), -EINVAL);
	ck_assert_ptr_null(j);
	buf_release(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
	tcase_add_loop_test(tc, test_names, 0, N(names));
	tcase_add_test(tc, test_name_messages);
	tcase_add_test(tc, test_deploy_full);
	tcase_add_test(tc, test_deploy_minimal_and_nulls);
	tcase_add_loop_test(tc, test_deploy_bad, 0, N(bad_deploys));
	tcase_add_test(tc, test_deploy_not_nul_terminated);
	tcase_add_test(tc, test_deploy_round_trip);
	tcase_add_test(tc, test_deploy_dump_cap);
	tcase_add_loop_test(tc, test_status, 0, N(statuses));
	tcase_add_test(tc, test_status_bad_args);
	tcase_add_loop_test(tc, test_rfc3339, 0, N(times));
	tcase_add_loop_test(tc, test_scaling, 0, N(scalings));
	tcase_add_loop_test(tc, test_retry, 0, N(retries));
	tcase_add_test(tc, test_retry_defaults_and_limit);
	tcase_add_loop_test(tc, test_scale, 0, N(scales));
	tcase_add_loop_test(tc, test_secret, 0, N(secrets));
	tcase_add_test(tc, test_secret_too_big);
	tcase_add_test(tc, test_secret_entry);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
