/*
 * api_bundles.c - PUT /system/bundles/IMAGE: the function bundle the CLI
 * uploads for the process provider (DESIGN.md section 8).
 *
 * The body is a gzip-compressed tar archive of the function's build folder.
 * It is unpacked into DATA/bundles/<image, every character outside
 * [A-Za-z0-9-.] replaced by '_'>/, where the process provider finds it
 * (functions.c) and copies it into each replica's work directory.
 *
 * How it is unpacked, and why it is safe:
 *   - gzip -dc runs as a child (spawn.h) with the body on its stdin; its
 *     output is read as it comes by a small ustar reader written here, so
 *     no archive member is ever handed to a tool that could follow it
 *     somewhere else. The unpacked stream is capped (BUNDLE_MAX_UNPACKED),
 *     and so are the members (BUNDLE_MAX_ENTRIES), so a small "zip bomb"
 *     ends with 413 instead of a full disk.
 *   - The reader understands ustar and GNU tar headers (what `tar` on
 *     Debian writes): regular files, folders, symbolic and hard links, GNU
 *     long names ('L', 'K') and pax records ('x': path, linkpath; 'g' is
 *     skipped). Devices, fifos and sparse files are refused.
 *   - Every member path is cleaned and checked: absolute paths and '..'
 *     components are refused. Parent folders are opened one component at a
 *     time relative to the new bundle folder with O_NOFOLLOW, so a member
 *     can never be written through a symbolic link, whatever came before it
 *     in the archive. A symbolic link may start with '..' components only as
 *     far up as its own depth and none after, so every link, and every chain
 *     of links, resolves inside the bundle. A hard link must name a regular
 *     file unpacked before it. Modes are normalised (0755 folders, 0644 or
 *     0755 files); owners and times are not kept.
 *   - Replacement is atomic: the archive is unpacked into a new
 *     DATA/bundles/.tmp-XXXXXX folder, which is then swapped in with
 *     renameat2(RENAME_EXCHANGE) (or renamed into place when the bundle is
 *     new), and the old tree is removed. A failed upload leaves the previous
 *     bundle as it was. Replicas keep running on their own copies.
 *
 * Answers: 201 when the bundle is new, 202 when it replaced one, with
 * {"image", "files", "bytes"}; 400 for a bad image name or archive, 413 for
 * an archive that unpacks too large, 500 for local I/O failures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "err.h"
#include "log.h"
#include "spawn.h"
#include "url.h"
#include "banned.h"

#define BUNDLE_MAX_UNPACKED (256ull * 1024 * 1024) /* the tar stream */
#define BUNDLE_MAX_ENTRIES 50000
#define BUNDLE_MAX_PATH 4096
#define BUNDLE_MAX_PAX (64u * 1024)
#define BUNDLE_MAX_IMAGE 255
#define BUNDLE_TIMEOUT_MS 120000
#define BUNDLE_RM_DEPTH 256
#define BLOCK 512

/* One upload at a time: uploads are rare, and this keeps the swap simple. */
static pthread_mutex_t bundle_lock = PTHREAD_MUTEX_INITIALIZER;

enum tar_state {
	ST_HEADER,   /* collecting a 512-byte header */
	ST_DATA,     /* a regular file's bytes, written to fd */
	ST_EXT,      /* an 'L', 'K' or 'x' record, collected into ext */
	ST_SKIP,     /* bytes to ignore ('g' records) */
	ST_PAD,      /* padding up to the next block */
	ST_END,      /* after the end-of-archive blocks: ignore the rest */
};

struct unpack {
	int root;                 /* the new bundle folder */
	enum tar_state state;
	unsigned char hdr[BLOCK];
	size_t hlen;
	uint64_t left;            /* bytes left in the current record */
	uint64_t pad;             /* padding after it */
	int fd;                   /* the file being written, or -1 */
	char ext_type;            /* 'L', 'K' or 'x' while in ST_EXT */
	struct buf ext;
	char *next_path;          /* from 'L' or 'x', for the next member */
	char *next_link;          /* from 'K' or 'x' */
	uint64_t total;           /* tar stream bytes seen */
	size_t entries;
	size_t files;
	uint64_t bytes;           /* bytes of regular files */
	int zero_blocks;
	int status;               /* HTTP status of the first failure */
	struct buf *why;
};

/* Records the first failure; returns -ERR_INVALID to stop the pump. */
static int fail(struct unpack *u, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct unpack *u, int status, const char *fmt, ...)
{
	va_list ap;

	if (!u->status) {
		u->status = status;
		buf_reset(u->why);
		va_start(ap, fmt);
		buf_vprintf(u->why, fmt, ap);
		va_end(ap);
	}
	return -ERR_INVALID;
}

/* Parses a NUL- or space-terminated octal field. */
static int octal(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80)
		return -ERR_TOO_BIG; /* base-256: more than 8 GiB */
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return -ERR_TOO_BIG;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	if (i < n && f[i] != '\0' && f[i] != ' ')
		return -ERR_PARSE;
	*out = v;
	return 0;
}

static bool checksum_ok(const unsigned char *h)
{
	uint64_t want, sum = 0;
	size_t i;

	if (octal(h + 148, 8, &want))
		return false;
	for (i = 0; i < BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == want;
}

/* Cleans a member path into out: no leading '/', no '..', no empty or '.'
 * components. "" means the bundle folder itself. */
static int clean_path(struct unpack *u, const char *in, char *out, size_t cap)
{
	const char *p = in;
	size_t n = 0;

	if (in[0] == '/')
		return fail(u, 400, "member '%.200s' has an absolute path", in);
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return fail(u, 400, "member '%.200s' climbs out with '..'", in);
		if (len && !(len == 1 && p[0] == '.')) {
			if (n + len + 2 > cap)
				return fail(u, 400, "member path '%.200s...' is too long", in);
			if (n)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	out[n] = '\0';
	return 0;
}

/* Opens the folder that holds path (creating missing folders when create),
 * never following a link; *last points at the final component. Returns an
 * fd the caller closes, or a negative code after fail(). */
static int open_parent(struct unpack *u, char *path, bool create, const char **last)
{
	char *p = path, *slash;
	int dfd = fcntl(u->root, F_DUPFD_CLOEXEC, 0);

	if (dfd < 0)
		return fail(u, 500, "cannot open the bundle folder: %s", strerror(errno));
	while ((slash = strchr(p, '/'))) {
		int next;

		*slash = '\0';
		next = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST) {
				*slash = '/';
				close(dfd);
				return fail(u, 500, "cannot create folder '%.200s': %s", path,
					    strerror(errno));
			}
			next = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		*slash = '/';
		if (next < 0) {
			int e = errno;
			close(dfd);
			if (e == ELOOP || e == ENOTDIR)
				return fail(u, 400, "member '%.200s' goes through a symbolic link or "
					    "a file", path);
			return fail(u, e == ENOENT ? 400 : 500, "cannot open '%.200s': %s", path,
				    strerror(e));
		}
		close(dfd);
		dfd = next;
		p = slash + 1;
	}
	*last = p;
	return dfd;
}

/* Removes what is at name in dfd unless it is a folder (tar's "the last
 * member wins"). */
static int clear_entry(struct unpack *u, int dfd, const char *name, const char *path)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return fail(u, 400, "member '%.200s' would replace a folder", path);
	if (unlinkat(dfd, name, 0) < 0)
		return fail(u, 500, "cannot replace '%.200s': %s", path, strerror(errno));
	return 0;
}

/* A link target may go up with leading '..' no further than the link's
 * own depth, and not at all after its first other component. */
static bool link_target_ok(const char *path, const char *target)
{
	const char *p = target;
	long depth = 0;
	bool down = false;

	if (!target[0] || target[0] == '/')
		return false;
	for (p = path; *p; p++)
		if (*p == '/')
			depth++;
	p = target;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (down || --depth < 0)
				return false;
		} else if (len && !(len == 1 && p[0] == '.')) {
			down = true;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return true;
}

/* Acts on a complete header. */
static int member(struct unpack *u)
{
	const unsigned char *h = u->hdr;
	char raw[BUNDLE_MAX_PATH + 1], path[BUNDLE_MAX_PATH + 1];
	char link[BUNDLE_MAX_PATH + 1];
	uint64_t size, mode;
	const char *last;
	char type = (char)h[156];
	int dfd, rc = 0;
	size_t i;

	for (i = 0; i < BLOCK && !h[i]; i++)
		;
	if (i == BLOCK) {
		if (++u->zero_blocks >= 2)
			u->state = ST_END;
		return 0;
	}
	u->zero_blocks = 0;
	if (!checksum_ok(h))
		return fail(u, 400, "not a tar archive (bad header checksum)");
	if ((rc = octal(h + 124, 12, &size)))
		return fail(u, rc == -ERR_TOO_BIG ? 413 : 400, "a member's size is %s",
			    rc == -ERR_TOO_BIG ? "too large" : "malformed");
	if (octal(h + 100, 8, &mode))
		mode = 0644;
	/* A member that cannot fit is refused before a byte of it is written. */
	if (u->total > BUNDLE_MAX_UNPACKED || size > BUNDLE_MAX_UNPACKED - u->total)
		return fail(u, 413, "the bundle unpacks to more than %llu MiB",
			    BUNDLE_MAX_UNPACKED / (1024 * 1024));
	if (++u->entries > BUNDLE_MAX_ENTRIES)
		return fail(u, 413, "the bundle has more than %d members", BUNDLE_MAX_ENTRIES);
	u->left = size;
	u->pad = (BLOCK - size % BLOCK) % BLOCK;
	if (type == 'L' || type == 'K' || type == 'x') {
		if (size > (type == 'x' ? BUNDLE_MAX_PAX : BUNDLE_MAX_PATH))
			return fail(u, 400, "a long name or pax record is too large");
		buf_reset(&u->ext);
		u->ext_type = type;
		u->state = size ? ST_EXT : (u->pad ? ST_PAD : ST_HEADER);
		return 0;
	}
	if (type == 'g') {
		u->state = size ? ST_SKIP : ST_HEADER;
		return 0;
	}
	/* The member's own name, unless a long name came before it. */
	if (u->next_path) {
		snprintf(raw, sizeof(raw), "%s", u->next_path);
	} else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
		snprintf(raw, sizeof(raw), "%.155s/%.100s", (const char *)h + 345,
			 (const char *)h + 0);
	} else {
		snprintf(raw, sizeof(raw), "%.100s", (const char *)h);
	}
	if (u->next_link)
		snprintf(link, sizeof(link), "%s", u->next_link);
	else
		snprintf(link, sizeof(link), "%.100s", (const char *)h + 157);
	free(u->next_path);
	free(u->next_link);
	u->next_path = u->next_link = NULL;
	if ((rc = clean_path(u, raw, path, sizeof(path))))
		return rc;
	switch (type) {
	case '0': case '\0': case '7':
		if (!path[0])
			return fail(u, 400, "a file member has no name");
		if ((dfd = open_parent(u, path, true, &last)) < 0)
			return dfd;
		if (!(rc = clear_entry(u, dfd, last, path))) {
			u->fd = openat(dfd, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				       mode & 0111 ? 0755 : 0644);
			if (u->fd < 0)
				rc = fail(u, 500, "cannot create '%.200s': %s", path, strerror(errno));
			else if (fchmod(u->fd, mode & 0111 ? 0755 : 0644) < 0)
				rc = fail(u, 500, "cannot set the mode of '%.200s'", path);
		}
		close(dfd);
		if (rc)
			return rc;
		u->files++;
		u->state = size ? ST_DATA : (u->pad ? ST_PAD : ST_HEADER);
		if (!size) {
			close(u->fd);
			u->fd = -1;
		}
		return 0;
	case '5':
		if (path[0]) {
			struct stat st;
			if ((dfd = open_parent(u, path, true, &last)) < 0)
				return dfd;
			if (mkdirat(dfd, last, 0755) < 0 && errno != EEXIST)
				rc = fail(u, 500, "cannot create folder '%.200s': %s", path,
					  strerror(errno));
			else if (fstatat(dfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				 !S_ISDIR(st.st_mode))
				rc = fail(u, 400, "folder member '%.200s' clashes with a file or link",
					  path);
			close(dfd);
		}
		break;
	case '2':
		if (!path[0])
			return fail(u, 400, "a link member has no name");
		if (!link_target_ok(path, link))
			return fail(u, 400, "symbolic link '%.200s' points outside the bundle ('%.200s')",
				    path, link);
		if ((dfd = open_parent(u, path, true, &last)) < 0)
			return dfd;
		if (!(rc = clear_entry(u, dfd, last, path)) && symlinkat(link, dfd, last) < 0)
			rc = fail(u, 500, "cannot create link '%.200s': %s", path, strerror(errno));
		close(dfd);
		break;
	case '1': {
		char target[BUNDLE_MAX_PATH + 1];
		const char *tlast;
		struct stat st;
		int tfd;

		if (!path[0])
			return fail(u, 400, "a link member has no name");
		if ((rc = clean_path(u, link, target, sizeof(target))))
			return rc;
		if (!target[0])
			return fail(u, 400, "hard link '%.200s' has no target", path);
		if ((tfd = open_parent(u, target, false, &tlast)) < 0)
			return tfd;
		if (fstatat(tfd, tlast, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
			close(tfd);
			return fail(u, 400, "hard link '%.200s' must name a file that comes before "
				    "it ('%.200s')", path, link);
		}
		if ((dfd = open_parent(u, path, true, &last)) < 0) {
			close(tfd);
			return dfd;
		}
		if (!(rc = clear_entry(u, dfd, last, path)) && linkat(tfd, tlast, dfd, last, 0) < 0)
			rc = fail(u, 500, "cannot create link '%.200s': %s", path, strerror(errno));
		close(tfd);
		close(dfd);
		break;
	}
	default:
		return fail(u, 400, "member '%.200s' is of type '%c': bundles hold files, folders "
			    "and links only", path, type >= ' ' && type < 0x7f ? type : '?');
	}
	if (rc)
		return rc;
	/* Folders and links carry no data, but a size field may still say so. */
	u->state = size ? ST_SKIP : ST_HEADER;
	return 0;
}

/* Reads the records of a pax extended header ("LEN key=value\n"). */
static int pax(struct unpack *u)
{
	const char *p = u->ext.data, *end = p + u->ext.len;

	while (p < end) {
		char *sp;
		unsigned long len = strtoul(p, &sp, 10);
		const char *rec = p, *kv, *eq;

		if (sp == p || *sp != ' ' || len == 0 || len > (unsigned long)(end - p) ||
		    rec[len - 1] != '\n')
			return fail(u, 400, "malformed pax header");
		kv = sp + 1;
		eq = memchr(kv, '=', (size_t)(rec + len - 1 - kv));
		if (eq) {
			size_t klen = (size_t)(eq - kv), vlen = (size_t)(rec + len - 1 - eq - 1);
			char **dst = klen == 4 && !memcmp(kv, "path", 4)       ? &u->next_path
				     : klen == 8 && !memcmp(kv, "linkpath", 8) ? &u->next_link
									       : NULL;
			if (dst) {
				if (vlen > BUNDLE_MAX_PATH || memchr(eq + 1, '\0', vlen))
					return fail(u, 400, "a pax path is too long or malformed");
				free(*dst);
				if (!(*dst = strndup(eq + 1, vlen)))
					return fail(u, 500, "out of memory");
			}
		}
		p = rec + len;
	}
	return 0;
}

/* The end of an 'L', 'K' or 'x' record. */
static int ext_done(struct unpack *u)
{
	char **dst;

	if (u->ext_type == 'x')
		return pax(u);
	dst = u->ext_type == 'L' ? &u->next_path : &u->next_link;
	free(*dst);
	*dst = strndup(u->ext.data ? u->ext.data : "", u->ext.len);
	return *dst ? 0 : fail(u, 500, "out of memory");
}

/* spawn_io write_out: gzip's output, the tar stream. */
static int feed(void *ctx, const void *data, size_t len)
{
	struct unpack *u = ctx;
	const unsigned char *p = data;
	int rc;

	if (u->status)
		return -ERR_INVALID;
	u->total += len;
	if (u->total > BUNDLE_MAX_UNPACKED)
		return fail(u, 413, "the bundle unpacks to more than %llu MiB",
			    BUNDLE_MAX_UNPACKED / (1024 * 1024));
	while (len) {
		size_t n;

		switch (u->state) {
		case ST_HEADER:
			n = len < BLOCK - u->hlen ? len : BLOCK - u->hlen;
			memcpy(u->hdr + u->hlen, p, n);
			u->hlen += n;
			if (u->hlen == BLOCK) {
				u->hlen = 0;
				if ((rc = member(u)))
					return rc;
			}
			break;
		case ST_DATA:
		case ST_EXT:
		case ST_SKIP:
			n = len < u->left ? len : (size_t)u->left;
			if (u->state == ST_DATA) {
				size_t off = 0;
				while (off < n) {
					ssize_t w = write(u->fd, p + off, n - off);
					if (w < 0 && errno == EINTR)
						continue;
					if (w < 0)
						return fail(u, 500, "cannot write the bundle: %s",
							    strerror(errno));
					off += (size_t)w;
				}
				u->bytes += n;
			} else if (u->state == ST_EXT && buf_add(&u->ext, p, n)) {
				return fail(u, 400, "a long name or pax record is too large");
			}
			u->left -= n;
			if (!u->left) {
				if (u->state == ST_DATA) {
					close(u->fd);
					u->fd = -1;
				} else if (u->state == ST_EXT && (rc = ext_done(u))) {
					return rc;
				}
				u->state = u->pad ? ST_PAD : ST_HEADER;
			}
			break;
		case ST_PAD:
			n = len < u->pad ? len : (size_t)u->pad;
			u->pad -= n;
			if (!u->pad)
				u->state = ST_HEADER;
			break;
		case ST_END:
		default:
			n = len;
			break;
		}
		p += n;
		len -= n;
	}
	return 0;
}

struct body_src {
	const char *data;
	size_t len, off;
};

static ssize_t read_body(void *ctx, void *out, size_t cap)
{
	struct body_src *b = ctx;
	size_t n = b->len - b->off < cap ? b->len - b->off : cap;

	memcpy(out, b->data + b->off, n);
	b->off += n;
	return (ssize_t)n;
}

struct pump_ctx {
	struct unpack *u;
	struct body_src src;
};

static ssize_t pump_read(void *ctx, void *out, size_t cap)
{
	return read_body(&((struct pump_ctx *)ctx)->src, out, cap);
}

static int pump_write(void *ctx, const void *data, size_t len)
{
	return feed(((struct pump_ctx *)ctx)->u, data, len);
}

/* Removes a tree below dfd/name without following links. */
static void rm_at(int dfd, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT || depth > BUNDLE_RM_DEPTH)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rm_at(dirfd(d), e->d_name, depth + 1);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Removes what earlier uploads left behind if the gateway died midway. */
static void remove_stale(int bfd)
{
	int fd = fcntl(bfd, F_DUPFD_CLOEXEC, 0);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".tmp-", 5))
			rm_at(bfd, e->d_name, 0);
	closedir(d);
}

/* The folder name for image; -ERR_INVALID with why for names that are
 * empty, too long, hold control characters or would be hidden. */
static int sanitize(const char *image, char *out, size_t cap, struct buf *why)
{
	size_t i, n = strlen(image);

	if (n == 0 || n > BUNDLE_MAX_IMAGE || n >= cap) {
		buf_printf(why, "the image name must have 1 to %d characters", BUNDLE_MAX_IMAGE);
		return -ERR_INVALID;
	}
	for (i = 0; i < n; i++) {
		char c = image[i];
		if ((unsigned char)c < 0x20 || c == 0x7f) {
			buf_adds(why, "the image name holds a control character");
			return -ERR_INVALID;
		}
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '-' || c == '.' ? c : '_';
	}
	out[n] = '\0';
	if (out[0] == '.') {
		buf_printf(why, "image '%.200s' may not start with '.'", image);
		return -ERR_INVALID;
	}
	return 0;
}

/* Unpacks the body into bdir/tmpname. Returns 0 or an HTTP status, with
 * the reason in why. */
static int unpack(struct gw_req *req, int bfd, const char *tmpname, struct unpack *u)
{
	char *argv[] = { "gzip", "-dc", NULL };
	struct spawn_opts so = {
		.argv = argv, .in = SPAWN_FD_PIPE, .out = SPAWN_FD_PIPE, .err = SPAWN_FD_NULL,
	};
	struct pump_ctx pc = { .u = u, .src = { req->body, req->body_len, 0 } };
	struct spawn_io io = {
		.in_poll_fd = -1, .read_in = pump_read, .write_out = pump_write, .ctx = &pc,
		.deadline_ms = mono_ms() + BUNDLE_TIMEOUT_MS, .cancel_fd = -1,
	};
	struct spawn_proc proc;
	int rc, st;

	u->root = openat(bfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (u->root < 0) {
		fail(u, 500, "cannot open the new bundle folder: %s", strerror(errno));
		return 500;
	}
	rc = spawn_start(&so, &proc);
	if (rc) {
		fail(u, 500, "cannot run gzip: %s", err_str(rc));
		return 500;
	}
	rc = spawn_pump(&proc, &io);
	if (rc)
		spawn_kill(&proc, SIGKILL);
	st = spawn_wait(&proc);
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
	if (u->status)
		return u->status;
	if (rc == -ERR_TIMEOUT) {
		fail(u, 400, "unpacking took longer than %d seconds", BUNDLE_TIMEOUT_MS / 1000);
	} else if (rc) {
		fail(u, 500, "cannot unpack: %s", err_str(rc));
	} else if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fail(u, 400, "the body is not a gzip-compressed tar archive (gzip failed)");
	} else if (u->state != ST_END && !(u->state == ST_HEADER && u->hlen == 0)) {
		fail(u, 400, "the tar archive is truncated");
	} else if (u->entries == 0) {
		fail(u, 400, "the tar archive is empty");
	}
	return u->status;
}

void api_bundles(struct gw_req *req, struct gw_resp *resp)
{
	char name[BUNDLE_MAX_IMAGE + 1], tmpname[64], dir[PATH_MAX];
	struct unpack u = { .root = -1, .fd = -1 };
	struct buf why;
	bool replaced = false, made_tmp = false;
	int bfd = -1, status;
	json_t *j;

	buf_init(&why, 1024);
	buf_init(&u.ext, BUNDLE_MAX_PAX);
	u.why = &why;
	if (sanitize(req->arg, name, sizeof(name), &why)) {
		gw_resp_error(resp, 400, "%s", buf_cstr(&why));
		goto out;
	}
	if (req->body_len == 0) {
		gw_resp_error(resp, 400, "the body must be the bundle: a tar.gz of the build folder");
		goto out;
	}
	pthread_mutex_lock(&bundle_lock);
	snprintf(dir, sizeof(dir), "%s/bundles", req->gw->cfg.data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		gw_resp_error(resp, 500, "cannot create '%s': %s", dir, strerror(errno));
		goto unlock;
	}
	bfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		gw_resp_error(resp, 500, "cannot open '%s': %s", dir, strerror(errno));
		goto unlock;
	}
	remove_stale(bfd);
	/* A unique hidden name: images may not start with '.', so no clash. */
	for (int i = 0; i < 100 && !made_tmp; i++) {
		char token[17];
		url_random_token(token, 16);
		snprintf(tmpname, sizeof(tmpname), ".tmp-%s", token);
		if (mkdirat(bfd, tmpname, 0755) == 0)
			made_tmp = true;
		else if (errno != EEXIST)
			break;
	}
	if (!made_tmp) {
		gw_resp_error(resp, 500, "cannot create a folder in '%s': %s", dir, strerror(errno));
		goto unlock;
	}
	status = unpack(req, bfd, tmpname, &u);
	if (status) {
		gw_resp_error(resp, status, "bundle for '%s' refused: %s", req->arg, buf_cstr(&why));
		goto unlock;
	}
	if (renameat2(bfd, tmpname, bfd, name, RENAME_NOREPLACE) == 0) {
		made_tmp = false;
	} else if (errno == EEXIST && renameat2(bfd, tmpname, bfd, name, RENAME_EXCHANGE) == 0) {
		/* The old bundle is now at tmpname and is removed below. */
		replaced = true;
	} else if (errno == EEXIST || errno == EINVAL || errno == ENOSYS) {
		/* No renameat2 on this file system: move the old one aside. */
		char old[80];
		snprintf(old, sizeof(old), "%s-old", tmpname);
		replaced = renameat(bfd, name, bfd, old) == 0;
		if (renameat(bfd, tmpname, bfd, name) < 0) {
			if (replaced)
				renameat(bfd, old, bfd, name);
			gw_resp_error(resp, 500, "cannot put the bundle in place: %s", strerror(errno));
			goto unlock;
		}
		made_tmp = false;
		if (replaced)
			rm_at(bfd, old, 0);
	} else {
		gw_resp_error(resp, 500, "cannot put the bundle in place: %s", strerror(errno));
		goto unlock;
	}
	LOG_INFO("Stored bundle for image %s (%zu files, %llu bytes)%s", req->arg, u.files,
		 (unsigned long long)u.bytes, replaced ? ", replacing the previous one" : "");
	j = json_pack("{s:s, s:I, s:I}", "image", req->arg, "files", (json_int_t)u.files,
		      "bytes", (json_int_t)u.bytes);
	gw_resp_json(resp, replaced ? 202 : 201, j);
	json_decref(j);
unlock:
	if (u.root >= 0)
		close(u.root);
	if (made_tmp)
		rm_at(bfd, tmpname, 0);
	if (bfd >= 0)
		close(bfd);
	pthread_mutex_unlock(&bundle_lock);
out:
	free(u.next_path);
	free(u.next_link);
	buf_release(&u.ext);
	buf_release(&why);
}
