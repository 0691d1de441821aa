/*
 * builder.h - `cfaas build`: from a stack function to a build folder and,
 * for the process provider, a bundle.
 *
 * For each function: build/NAME/ is emptied and assembled from the
 * template (everything but template.yml and function/) with the handler
 * folder copied into build/NAME/function/ (for lang `dockerfile` the
 * handler folder itself is the build folder), plus configuration.copy
 * paths. The effective fprocess is written to build/NAME/fprocess.
 * --shrinkwrap stops there (and adds cfaas-watchdog for `docker build`).
 * Otherwise the template's `build` command runs in build/NAME through
 * /bin/sh, with the function's build_args in its environment, and the
 * folder is packed into build/NAME.tar.gz with tar (through spawn.h), or,
 * with docker_socket, sent with cfaas-watchdog as the build context of an
 * OCI image (the docker provider's way).
 *
 * Progress goes to stderr as "[NAME] ..." lines; results to stdout.
 */
#ifndef CLI_BUILDER_H
#define CLI_BUILDER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "stack.h"
#include "wire.h"

/* A build command taking longer than this is killed. */
#define BUILDER_TIMEOUT_MS (30LL * 60 * 1000)

struct builder_opts {
	bool shrinkwrap;
	const struct wire_map *build_args; /* --build-arg, over the stack's */
	/* Not NULL: after the template's build command, build an OCI image
	 * tagged with the function's image through the Docker Engine API on
	 * this socket (POST /build, build/NAME as a tar context holding
	 * cfaas-watchdog) instead of packing a bundle. Borrowed. */
	const char *docker_socket;
};

/* Builds the functions idx[0..n) of st, up to parallel at a time. Returns
 * the exit code (the first failure's); per-function codes go to results
 * (n entries, may be NULL). */
int builder_run(const struct stack *st, const size_t *idx, size_t n,
		const struct builder_opts *o, long parallel, int *results);

/* Appends <stack dir>/build/NAME to out. */
int builder_dir(const struct stack *st, const struct stack_fn *fn, struct buf *out);

/* Appends <stack dir>/build/NAME.tar.gz to out. */
int builder_bundle(const struct stack *st, const struct stack_fn *fn, struct buf *out);

/* Appends the fprocess the last build recorded for fn to out.
 * 0 or -ERR_NOT_FOUND. */
int builder_fprocess(const struct stack *st, const struct stack_fn *fn, struct buf *out);

#endif
