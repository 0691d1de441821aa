/*
 * fsutil.c - files and folders (see fsutil.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "banned.h"

#define COPY_MAX_DEPTH 64

bool fsutil_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fsutil_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int fsutil_mkdirs(const char *path, mode_t mode, struct buf *why)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		buf_printf(why, "cannot create '%s': bad path", path);
		return -ENAMETOOLONG;
	}
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			int e = errno;
			buf_printf(why, "cannot create '%s': %s", tmp, strerror(e));
			return -e;
		}
		if (i < n)
			tmp[i] = '/';
	}
	if (!fsutil_is_dir(path)) {
		buf_printf(why, "cannot create '%s': something else is in the way", path);
		return -ENOTDIR;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int fsutil_rmtree(const char *path, struct buf *why)
{
	if (!fsutil_exists(path))
		return 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0) {
		int e = errno ? errno : EIO;
		buf_printf(why, "cannot remove '%s': %s", path, strerror(e));
		return -e;
	}
	return 0;
}

static int copy_file(const char *src, const char *dst, mode_t mode, struct buf *why)
{
	char chunk[65536];
	int in, out = -1, rc = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0) {
		rc = -errno;
		buf_printf(why, "cannot read '%s': %s", src, strerror(errno));
		return rc;
	}
	unlink(dst);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
	if (out < 0) {
		rc = -errno;
		buf_printf(why, "cannot create '%s': %s", dst, strerror(errno));
		goto out;
	}
	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, chunk, (size_t)n) != n) {
			rc = errno ? -errno : -EIO;
			buf_printf(why, "cannot copy '%s' to '%s': %s", src, dst, strerror(-rc));
			goto out;
		}
	}
	/* The umask must not take the execute bit off a handler. */
	fchmod(out, mode & 0777);
out:
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static int copy_tree(const char *src, const char *dst, const char *const *skip_top,
		     const char *skip_path, int depth, struct buf *why)
{
	struct buf s, d;
	struct dirent *e;
	DIR *dir;
	int rc = 0;

	if (depth > COPY_MAX_DEPTH) {
		buf_printf(why, "'%s' is nested too deeply", src);
		return -ELOOP;
	}
	if (skip_path) {
		char real[PATH_MAX];
		if (realpath(src, real) && !strcmp(real, skip_path))
			return 0;
	}
	if ((rc = fsutil_mkdirs(dst, 0755, why)))
		return rc;
	dir = opendir(src);
	if (!dir) {
		rc = -errno;
		buf_printf(why, "cannot read folder '%s': %s", src, strerror(errno));
		return rc;
	}
	buf_init(&s, PATH_MAX);
	buf_init(&d, PATH_MAX);
	while (!rc && (e = readdir(dir))) {
		struct stat st;
		size_t k;
		bool skip = false;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		for (k = 0; depth == 0 && skip_top && skip_top[k]; k++)
			if (!strcmp(skip_top[k], e->d_name))
				skip = true;
		if (skip)
			continue;
		buf_reset(&s);
		buf_reset(&d);
		if (buf_printf(&s, "%s/%s", src, e->d_name) ||
		    buf_printf(&d, "%s/%s", dst, e->d_name)) {
			buf_printf(why, "path too long in '%s'", src);
			rc = -ENAMETOOLONG;
			break;
		}
		if (lstat(buf_cstr(&s), &st) < 0) {
			rc = -errno;
			buf_printf(why, "cannot read '%s': %s", buf_cstr(&s), strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = copy_tree(buf_cstr(&s), buf_cstr(&d), skip_top, skip_path, depth + 1, why);
		} else if (S_ISREG(st.st_mode)) {
			rc = copy_file(buf_cstr(&s), buf_cstr(&d), st.st_mode, why);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(buf_cstr(&s), target, sizeof(target) - 1);
			if (n < 0) {
				rc = -errno;
				buf_printf(why, "cannot read link '%s': %s", buf_cstr(&s),
					   strerror(errno));
			} else {
				target[n] = '\0';
				unlink(buf_cstr(&d));
				if (symlink(target, buf_cstr(&d)) < 0) {
					rc = -errno;
					buf_printf(why, "cannot create link '%s': %s", buf_cstr(&d),
						   strerror(errno));
				}
			}
		}
	}
	closedir(dir);
	buf_release(&s);
	buf_release(&d);
	return rc;
}

int fsutil_copy_file(const char *src, const char *dst, struct buf *why)
{
	struct stat st;

	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_printf(why, "'%s' is not a file", src);
		return -EINVAL;
	}
	return copy_file(src, dst, st.st_mode, why);
}

int fsutil_copytree(const char *src, const char *dst, const char *const *skip_top,
		    const char *skip_path, struct buf *why)
{
	if (!fsutil_is_dir(src)) {
		buf_printf(why, "'%s' is not a folder", src);
		return -ENOTDIR;
	}
	return copy_tree(src, dst, skip_top, skip_path, 0, why);
}

int fsutil_read_fd(int fd, struct buf *out)
{
	char chunk[65536];
	ssize_t n;
	int rc;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((rc = buf_add(out, chunk, (size_t)n)))
			return rc;
	}
}

int fsutil_read_file(const char *path, struct buf *out, struct buf *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		buf_printf(why, "cannot open '%s': %s", path, strerror(errno));
		return rc;
	}
	rc = fsutil_read_fd(fd, out);
	close(fd);
	if (rc == -ERR_TOO_BIG)
		buf_printf(why, "'%s' is larger than %zu bytes", path, out->cap);
	else if (rc)
		buf_printf(why, "cannot read '%s': %s", path, strerror(-rc));
	return rc;
}

int fsutil_write_file(const char *path, const void *data, size_t len, mode_t mode,
		      struct buf *why)
{
	struct buf tmp;
	int fd, rc = 0;

	buf_init(&tmp, PATH_MAX);
	if (buf_printf(&tmp, "%s.tmp.%d", path, (int)getpid())) {
		buf_printf(why, "path too long: '%s'", path);
		buf_release(&tmp);
		return -ENAMETOOLONG;
	}
	unlink(buf_cstr(&tmp));
	fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || fchmod(fd, mode) < 0) {
		rc = errno ? -errno : -EIO;
		buf_printf(why, "cannot write '%s': %s", path, strerror(-rc));
	}
	if (fd >= 0)
		close(fd);
	if (!rc && rename(buf_cstr(&tmp), path) < 0) {
		rc = -errno;
		buf_printf(why, "cannot write '%s': %s", path, strerror(errno));
	}
	if (rc)
		unlink(buf_cstr(&tmp));
	buf_release(&tmp);
	return rc;
}

int fsutil_exe_dir(struct buf *out)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash)
		return -ERR_NOT_FOUND;
	*slash = '\0';
	return buf_adds(out, path[0] ? path : "/");
}

int fsutil_file_size(const char *path, off_t *out)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*out = st.st_size;
	return 0;
}
