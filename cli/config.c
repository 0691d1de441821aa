/*
 * config.c - environment and saved credentials (see config.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "config.h"
#include "err.h"
#include "banned.h"

#define CONFIG_MAX_FILE (1024u * 1024)

static struct cli_env env;

const char *config_getenv(const char *name)
{
	return getenv(name);
}

static int check_url(const char *var, const char *url, struct buf *why)
{
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		buf_printf(why, "%s '%s' is not an http:// or https:// URL", var, url);
		return -ERR_INVALID;
	}
	return 0;
}

int config_env_load(struct buf *why)
{
	const char *v;
	int rc;

	memset(&env, 0, sizeof(env));
	env.home = config_getenv("HOME");
	if (!env.home || !*env.home) {
		struct passwd *pw = getpwuid(getuid());
		env.home = pw && pw->pw_dir ? pw->pw_dir : NULL;
	}
	v = config_getenv("OPENFAAS_URL");
	if (v && *v) {
		if ((rc = check_url("OPENFAAS_URL", v, why)))
			return rc;
		env.openfaas_url = v;
	}
	v = config_getenv("CFAAS_TEMPLATES");
	env.templates = v && *v ? v : NULL;
	v = config_getenv("CFAAS_WATCHDOG");
	env.watchdog = v && *v ? v : NULL;
	return 0;
}

const struct cli_env *config_env(void)
{
	return &env;
}

void config_auth_release(struct config_auth *a)
{
	if (!a)
		return;
	if (a->password)
		memset(a->password, 0, strlen(a->password));
	free(a->user);
	free(a->password);
	a->user = a->password = NULL;
}

static int config_dir(struct buf *out)
{
	if (!env.home)
		return -ERR_NOT_FOUND;
	return buf_printf(out, "%s/.cfaas", env.home);
}

int config_file_path(struct buf *out)
{
	int rc = config_dir(out);

	return rc ? rc : buf_adds(out, "/config.json");
}

/* Compares two gateway URLs, ignoring trailing slashes. */
static int same_gateway(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

/* Loads the file into *root (a new object; an empty one when the file does
 * not exist). */
static int load(json_t **root, struct buf *why)
{
	struct buf path;
	json_error_t jerr;
	json_t *auths;
	int rc = 0;

	*root = NULL;
	buf_init(&path, 4096);
	if ((rc = config_file_path(&path))) {
		buf_adds(why, "cannot find the home folder: set HOME");
		goto out;
	}
	*root = json_load_file(buf_cstr(&path), JSON_REJECT_DUPLICATES, &jerr);
	if (!*root) {
		struct stat st;
		if (stat(buf_cstr(&path), &st) < 0 && errno == ENOENT) {
			*root = json_pack("{s:[]}", "auths");
			rc = *root ? 0 : -ENOMEM;
			goto out;
		}
		buf_printf(why, "cannot read '%s': %s (line %d); fix or delete it, then run "
			   "'cfaas login' again", buf_cstr(&path), jerr.text, jerr.line);
		rc = -ERR_PARSE;
		goto out;
	}
	auths = json_object_get(*root, "auths");
	if (!json_is_object(*root) || !json_is_array(auths)) {
		buf_printf(why, "cannot read '%s': 'auths' is not a list; fix or delete it",
			   buf_cstr(&path));
		json_decref(*root);
		*root = NULL;
		rc = -ERR_PARSE;
	}
out:
	buf_release(&path);
	return rc;
}

/* Writes root to the file: a temporary file with mode 0600 in the same
 * folder, then rename(2), so a reader never sees half a file. */
static int save(json_t *root, struct buf *why)
{
	struct buf dir, path, tmp, text;
	int fd = -1, rc = 0;
	char *dump = NULL;

	buf_init(&dir, 4096);
	buf_init(&path, 4096);
	buf_init(&tmp, 4096);
	buf_init(&text, CONFIG_MAX_FILE);
	if (config_dir(&dir) || config_file_path(&path) ||
	    buf_printf(&tmp, "%s.tmp.%d", buf_cstr(&path), (int)getpid())) {
		buf_adds(why, "cannot find the home folder: set HOME");
		rc = -ERR_INVALID;
		goto out;
	}
	if (mkdir(buf_cstr(&dir), 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		buf_printf(why, "cannot create '%s': %s", buf_cstr(&dir), strerror(errno));
		goto out;
	}
	dump = json_dumps(root, JSON_INDENT(2));
	if (!dump || buf_adds(&text, dump) || buf_addc(&text, '\n')) {
		rc = -ENOMEM;
		buf_adds(why, "out of memory");
		goto out;
	}
	unlink(buf_cstr(&tmp));
	fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) < 0 ||
	    fchmod(fd, 0600) < 0) {
		rc = -errno;
		buf_printf(why, "cannot write '%s': %s", buf_cstr(&tmp), strerror(errno));
		unlink(buf_cstr(&tmp));
		goto out;
	}
	if (rename(buf_cstr(&tmp), buf_cstr(&path)) < 0) {
		rc = -errno;
		buf_printf(why, "cannot write '%s': %s", buf_cstr(&path), strerror(errno));
		unlink(buf_cstr(&tmp));
	}
out:
	if (fd >= 0)
		close(fd);
	free(dump);
	buf_release(&dir);
	buf_release(&path);
	buf_release(&tmp);
	buf_release(&text);
	return rc;
}

int config_auth_get(const char *gateway, struct config_auth *out, struct buf *why)
{
	json_t *root = NULL, *e;
	struct buf plain;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&plain, 64 * 1024);
	if ((rc = load(&root, why)))
		goto out;
	rc = -ERR_NOT_FOUND;
	json_array_foreach(json_object_get(root, "auths"), i, e) {
		const char *gw = json_string_value(json_object_get(e, "gateway"));
		const char *token = json_string_value(json_object_get(e, "token"));
		const char *colon;

		if (!gw || !token || !same_gateway(gw, gateway))
			continue;
		if (b64_decode(&plain, token, strlen(token)) ||
		    memchr(plain.data, '\0', plain.len) ||
		    !(colon = memchr(plain.data, ':', plain.len))) {
			buf_printf(why, "the saved token for '%s' is damaged: run 'cfaas login' again",
				   gw);
			rc = -ERR_PARSE;
			goto out;
		}
		out->user = strndup(plain.data, (size_t)(colon - plain.data));
		out->password = strdup(colon + 1);
		rc = out->user && out->password ? 0 : -ENOMEM;
		if (rc)
			config_auth_release(out);
		break;
	}
out:
	if (plain.data)
		memset(plain.data, 0, plain.len);
	buf_release(&plain);
	json_decref(root);
	return rc;
}

/* Removes every entry for gateway from the list; returns how many. */
static size_t drop(json_t *auths, const char *gateway)
{
	size_t i = 0, n = 0;

	while (i < json_array_size(auths)) {
		const char *gw = json_string_value(json_object_get(json_array_get(auths, i),
								    "gateway"));
		if (gw && same_gateway(gw, gateway)) {
			json_array_remove(auths, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

int config_auth_save(const char *gateway, const char *user, const char *password,
		     struct buf *why)
{
	json_t *root = NULL, *entry;
	struct buf plain, token;
	int rc;

	buf_init(&plain, 64 * 1024);
	buf_init(&token, 128 * 1024);
	if ((rc = load(&root, why)))
		goto out;
	if (buf_printf(&plain, "%s:%s", user, password) ||
	    b64_encode(&token, plain.data, plain.len)) {
		buf_adds(why, "the user name or password is too long");
		rc = -ERR_TOO_BIG;
		goto out;
	}
	drop(json_object_get(root, "auths"), gateway);
	entry = json_pack("{s:s, s:s, s:s}", "gateway", gateway, "user", user, "token",
			  buf_cstr(&token));
	if (!entry || json_array_append_new(json_object_get(root, "auths"), entry)) {
		buf_adds(why, "the gateway URL or user name is not valid UTF-8");
		rc = -ERR_INVALID;
		goto out;
	}
	rc = save(root, why);
out:
	if (plain.data)
		memset(plain.data, 0, plain.len);
	if (token.data)
		memset(token.data, 0, token.len);
	buf_release(&plain);
	buf_release(&token);
	json_decref(root);
	return rc;
}

int config_auth_remove(const char *gateway, struct buf *why)
{
	json_t *root = NULL;
	int rc;

	if ((rc = load(&root, why)))
		return rc;
	if (drop(json_object_get(root, "auths"), gateway) == 0)
		rc = -ERR_NOT_FOUND;
	else
		rc = save(root, why);
	json_decref(root);
	return rc;
}
