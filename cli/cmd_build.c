/*
 * cmd_build.c - `cfaas build`: assembles build/NAME for the stack's
 * functions and packs their bundles (see builder.h).
 */
#include <stdlib.h>

#include "builder.h"
#include "cli.h"
#include "config.h"
#include "opts.h"
#include "session.h"
#include "strs.h"
#include "banned.h"

int cmd_build(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	struct wire_list build_args = { 0 };
	struct wire_map args_map = { 0 };
	bool shrinkwrap = false, docker = false;
	const char *docker_socket = NULL;
	long parallel = 1;
	const struct opt opts[] = {
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_FILTER(&sf),
		SESSION_OPT_REGEX(&sf),
		{ "shrinkwrap", 0, OPT_BOOL, &shrinkwrap, NULL,
		  "only assemble build/NAME (a build context for docker build)" },
		{ "parallel", 0, OPT_INT, &parallel, "N", "build up to N functions at a time (default 1)" },
		{ "build-arg", 'b', OPT_LIST, &build_args, "KEY=VALUE",
		  "set a variable for the template's build command" },
		{ "docker", 0, OPT_BOOL, &docker, NULL,
		  "build OCI images through the Docker Engine API (also when CFAAS_DOCKER_SOCKET is set)" },
		{ "docker-socket", 0, OPT_STR, &docker_socket, "PATH",
		  "the Docker Engine API socket (CFAAS_DOCKER_SOCKET, /var/run/docker.sock)" },
		OPT_END
	};
	const struct opts_spec spec = {
		"build", "[flags]",
		"Builds the functions of the stack file: assembles build/NAME from the template "
		"and the\nhandler folder, runs the template's build command there and packs "
		"build/NAME.tar.gz,\nthe bundle that 'cfaas deploy' uploads to a gateway running "
		"the process provider.\nWith --docker it builds an OCI image tagged with the "
		"function's image instead,\nthrough the Docker Engine API (Docker or Podman), "
		"for the docker provider.",
		opts, 0, 0,
		"  cfaas build\n  cfaas build --filter 'api-*' --parallel 2\n"
		"  cfaas build --shrinkwrap && docker build -t hello build/hello\n",
	};
	struct session s;
	struct opts_args args;
	struct buf why;
	size_t *idx = NULL, n = 0;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc) {
		strs_list_release(&build_args);
		return rc == 1 ? CLI_OK : rc;
	}
	opts_args_release(&args);
	buf_init(&why, 1024);
	if (strs_map_add_kvs(&args_map, &build_args, "--build-arg", &why)) {
		cli_err("build: %s", buf_cstr(&why));
		rc = CLI_USAGE;
		goto out;
	}
	if (parallel < 1) {
		cli_err("build: --parallel must be 1 or more");
		rc = CLI_USAGE;
		goto out;
	}
	if ((rc = session_open(&s, "build", &sf, SESSION_STACK_NEEDED | SESSION_NO_CLIENT)))
		goto out;
	if (!(rc = session_select(&s, &idx, &n))) {
		struct builder_opts bo = { .shrinkwrap = shrinkwrap, .build_args = &args_map };
		const char *env_sock = config_getenv("CFAAS_DOCKER_SOCKET");

		if (!docker_socket && env_sock && *env_sock)
			docker_socket = env_sock;
		if (docker || docker_socket)
			bo.docker_socket = docker_socket ? docker_socket : "/var/run/docker.sock";
		rc = builder_run(s.stack, idx, n, &bo, parallel, NULL);
	}
	free(idx);
	session_close(&s);
out:
	strs_list_release(&build_args);
	wire_map_release(&args_map);
	buf_release(&why);
	return rc;
}
