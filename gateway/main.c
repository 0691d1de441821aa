/*
 * cfaas-gateway - the one server a user starts.
 *
 * Opens the state in the data dir, starts the provider and restores every
 * stored function's replicas, then serves the OpenFaaS API until SIGTERM
 * or SIGINT; then it stops accepting, lets calls in flight finish, drains
 * the replicas and exits 0.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "async.h"
#include "auth.h"
#include "autoscale.h"
#include "config.h"
#include "err.h"
#include "functions.h"
#include "gw.h"
#include "log.h"
#include "logstore.h"
#include "metrics.h"
#include "pool.h"
#include "provider.h"
#include "server.h"
#include "spawn.h"
#include "store.h"
#include "banned.h"

#define LOG_CAP_PER_FUNCTION (4u * 1024 * 1024)
/* The most file descriptors asked for: every client connection is one, and
 * the server takes thousands (server.c). */
#define FD_LIMIT_WANTED 65536

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* mkdir -p with mode for the last component. */
static int make_dirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Raises the soft limit on open files towards the hard one: the usual soft
 * limit of 1024 would cap the connections the server can hold well below
 * its own limit. Replicas inherit it. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = FD_LIMIT_WANTED;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			LOG_WARN("cannot raise the open files limit to %llu: %s",
				 (unsigned long long)want, err_str(-errno));
	}
}

static int open_state(struct gateway *gw, struct buf *why)
{
	char path[PATH_MAX];
	bool generated;
	int rc;

	rc = make_dirs(gw->cfg.data_dir, 0700);
	if (rc) {
		buf_printf(why, "--data-dir: cannot create '%s': %s", gw->cfg.data_dir, err_str(rc));
		return rc;
	}
	/* The data dir holds secrets and credentials: nobody else may look. */
	chmod(gw->cfg.data_dir, 0700);
	snprintf(path, sizeof(path), "%s/cfaas.db", gw->cfg.data_dir);
	rc = store_open(path, &gw->store);
	if (rc == -ERR_UNAVAILABLE) {
		/* The store holds its file for its process alone. */
		buf_printf(why, "cannot open '%s': another process has it open (is another "
				"cfaas-gateway running with --data-dir %s?)",
			   path, gw->cfg.data_dir);
		return rc;
	}
	if (rc) {
		buf_printf(why, "cannot open '%s': %s", path, err_str(rc));
		return rc;
	}
	if (gw->cfg.auth) {
		rc = auth_load(gw->cfg.data_dir, &gw->auth_user, &gw->auth_password, &generated, why);
		if (rc)
			return rc;
		if (generated) {
			printf("cfaas-gateway: generated credentials (stored in %s/basic-auth-*):\n"
			       "  user:     %s\n  password: %s\n",
			       gw->cfg.data_dir, gw->auth_user, gw->auth_password);
			fflush(stdout);
		}
	}
	snprintf(path, sizeof(path), "%s/logs", gw->cfg.data_dir);
	rc = logstore_new(path, LOG_CAP_PER_FUNCTION, &gw->logs);
	if (rc) {
		buf_printf(why, "cannot open the log store in '%s': %s", path, err_str(rc));
		return rc;
	}
	if ((rc = metrics_new(&gw->metrics)) || (rc = pool_new(&gw->pool)))
		buf_printf(why, "out of memory");
	return rc;
}

static int start_provider(struct gateway *gw, struct buf *why)
{
	struct provider_opts po = {
		.data_dir = gw->cfg.data_dir,
		.watchdog_path = gw->cfg.watchdog,
		.run_as = gw->cfg.run_as,
		.docker_socket = gw->cfg.docker_socket,
		.logs = gw->logs,
		.path = gw->cfg.path,
	};

	if (strcmp(gw->cfg.provider, "process") == 0)
		return provider_process_new(&po, &gw->prov, why);
	if (strcmp(gw->cfg.provider, "docker") == 0)
		return provider_docker_new(&po, &gw->prov, why);
	buf_printf(why, "--provider: '%s' is not available in this build", gw->cfg.provider);
	return -ERR_INVALID;
}

static void release(struct gateway *gw)
{
	async_stop(gw);
	if (gw->prov)
		gw->prov->ops->free(gw->prov);
	logstore_free(gw->logs);
	pool_free(gw->pool);
	metrics_free(gw->metrics);
	store_free(gw->store);
	free(gw->auth_user);
	free(gw->auth_password);
	pthread_mutex_destroy(&gw->fn_lock);
}

int main(int argc, char **argv)
{
	struct gateway gw;
	struct gw_server *srv = NULL;
	struct autoscale *scaler = NULL;
	struct buf why;
	sigset_t sigs;
	int sig = 0, listen_fd = -1, rc;

	memset(&gw, 0, sizeof(gw));
	pthread_mutex_init(&gw.fn_lock, NULL);
	buf_init(&why, 2048);
	rc = gw_config_load(&gw.cfg, argc, argv, env_get, &why);
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "cfaas-gateway: %s\n", buf_cstr(&why));
		buf_release(&why);
		return rc < 0 ? 2 : 0;
	}
	log_setup("gateway", gw.cfg.debug ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	/* Signals are taken by sigwait below; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	gw.started_ms = mono_ms();
	listen_fd = server_listen(&gw.cfg, &why);
	if (listen_fd < 0) {
		rc = listen_fd;
		goto fail;
	}
	if ((rc = open_state(&gw, &why)) || (rc = start_provider(&gw, &why)))
		goto fail;
	fn_restore_all(&gw);
	if ((rc = async_start(&gw, &why)))
		goto fail;
	rc = server_start(&gw, listen_fd, &srv, &why);
	if (rc)
		goto fail;
	listen_fd = -1;
	rc = autoscale_start(&gw, &scaler);
	if (rc) {
		buf_printf(&why, "cannot start the autoscaler: %s", err_str(rc));
		server_stop(srv, 0);
		goto fail;
	}
	LOG_INFO("cfaas-gateway %s listening on http://%s:%d (provider %s, data in %s)",
		 CFAAS_VERSION, gw.cfg.bind, gw.cfg.port, gw.cfg.provider, gw.cfg.data_dir);
	printf("cfaas-gateway is up: API at http://127.0.0.1:%d/system/functions, "
	       "functions at http://127.0.0.1:%d/function/NAME, UI at http://127.0.0.1:%d/ui/\n",
	       gw.cfg.port, gw.cfg.port, gw.cfg.port);
	fflush(stdout);
	sigwait(&sigs, &sig);
	LOG_INFO("%s received: draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
	gw.stopping = 1;
	/* No new connections from here on: a client (the queue worker among
	 * them) sees a refused connection, which it knows is safe to retry. */
	server_quiesce(srv);
	autoscale_stop(scaler);
	/* The embedded queue worker finishes its calls while the server runs. */
	async_stop(&gw);
	server_stop(srv, gw.cfg.write_timeout_ms);
	release(&gw);
	buf_release(&why);
	LOG_INFO("stopped");
	return 0;
fail:
	fprintf(stderr, "cfaas-gateway: %s\n", why.len ? buf_cstr(&why) : err_str(rc));
	if (listen_fd >= 0)
		close(listen_fd);
	release(&gw);
	buf_release(&why);
	return 1;
}
