#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "b64.h"
#include "err.h"
#include "url.h"
#include "banned.h"

#define CRED_MAX 512

/* Reads a small file, trimming one trailing newline. */
static int read_small(const char *path, char **out)
{
	char data[CRED_MAX + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	if (n > CRED_MAX)
		return -ERR_TOO_BIG;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	data[n] = '\0';
	if (n == 0)
		return -ERR_INVALID;
	*out = strdup(data);
	return *out ? 0 : -ENOMEM;
}

static int write_small(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t n = strlen(text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0)
		rc = -EIO;
	close(fd);
	return rc;
}

static int load_one(const char *dir, const char *file, const char *fresh, char **out,
		    bool *generated, struct buf *why)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	rc = read_small(path, out);
	if (rc == -ENOENT) {
		rc = write_small(path, fresh);
		if (rc == 0) {
			*generated = true;
			rc = read_small(path, out);
		}
	}
	if (rc)
		buf_printf(why, "cannot read '%s': %s", path, err_str(rc));
	return rc;
}

int auth_load(const char *data_dir, char **user, char **password, bool *generated,
	      struct buf *why)
{
	char token[25];
	int rc;

	*user = *password = NULL;
	*generated = false;
	url_random_token(token, 24);
	rc = load_one(data_dir, "basic-auth-user", "admin", user, generated, why);
	if (!rc)
		rc = load_one(data_dir, "basic-auth-password", token, password, generated, why);
	if (rc) {
		free(*user);
		free(*password);
		*user = *password = NULL;
	}
	return rc;
}

/* Compares without an early exit, so the time does not tell how much of a
 * guess was right. */
static bool equal_ct(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = (unsigned char)(alen != blen);
	size_t i, n = alen > blen ? alen : blen;

	for (i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}

bool auth_check(const char *header, const char *user, const char *password)
{
	struct buf dec;
	const char *colon;
	bool ok = false;

	if (!header || strncasecmp(header, "Basic ", 6) != 0)
		return false;
	header += 6;
	while (*header == ' ')
		header++;
	buf_init(&dec, 2 * CRED_MAX);
	if (b64_decode(&dec, header, strlen(header)) == 0 &&
	    (colon = memchr(buf_cstr(&dec), ':', dec.len))) {
		size_t ulen = (size_t)(colon - dec.data);
		bool u = equal_ct(dec.data, ulen, user, strlen(user));
		bool p = equal_ct(colon + 1, dec.len - ulen - 1, password, strlen(password));
		ok = u & p;
	}
	buf_release(&dec);
	return ok;
}
