/*
 * fsutil.h - files and folders for the CLI: copying a template or handler
 * tree, removing a build folder, reading and writing whole files.
 *
 * Functions return 0 or a negative errno-style code and, where they take
 * why, put one line naming the path there. Paths are borrowed.
 */
#ifndef CLI_FSUTIL_H
#define CLI_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* True if path is a folder (symbolic links followed). */
bool fsutil_is_dir(const char *path);

/* True if something exists at path (links not followed). */
bool fsutil_exists(const char *path);

/* Creates path and its missing parents with mode. */
int fsutil_mkdirs(const char *path, mode_t mode, struct buf *why);

/* Removes path and everything below it; links are removed, never
 * followed. A missing path is not an error. */
int fsutil_rmtree(const char *path, struct buf *why);

/* Copies the tree at src into the folder dst (created if missing):
 * folders, regular files (with their permission bits) and symbolic links
 * (as links). Names listed in skip_top (NULL-terminated, may be NULL) are
 * skipped at the top level only; a folder whose real path is skip_path
 * (may be NULL) is never entered, so copying "." leaves ./build alone.
 * Other kinds of files (sockets, fifos) are skipped. */
int fsutil_copytree(const char *src, const char *dst, const char *const *skip_top,
		    const char *skip_path, struct buf *why);

/* Copies the regular file src to dst with src's permission bits. */
int fsutil_copy_file(const char *src, const char *dst, struct buf *why);

/* Appends the content of path to out (bounded by out's cap:
 * -ERR_TOO_BIG). */
int fsutil_read_file(const char *path, struct buf *out, struct buf *why);

/* Appends everything readable from fd to out (bounded by out's cap). */
int fsutil_read_fd(int fd, struct buf *out);

/* Writes (data, len) to path with mode, through a temporary file and a
 * rename, so the file is either old or new. */
int fsutil_write_file(const char *path, const void *data, size_t len, mode_t mode,
		      struct buf *why);

/* Appends the folder of the running executable to out. */
int fsutil_exe_dir(struct buf *out);

/* The size of a file, or a negative code. */
int fsutil_file_size(const char *path, off_t *out);

#endif
