/*
 * cfaas-watchdog - the process inside every function replica.
 *
 * Reads its configuration from the environment (config.c), listens, writes
 * the lock file that /_/health checks, and serves until SIGTERM or SIGINT,
 * then drains: the lock goes, new connections are refused, requests in
 * flight finish (up to write_timeout), and it exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "spawn.h"
#include "wd.h"
#include "banned.h"

static const char *env_get(const char *name)
{
	return getenv(name);
}

static int write_lock(const struct wd_config *cfg)
{
	int fd;

	if (cfg->suppress_lock)
		return 0;
	fd = open(cfg->lock_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void drain(struct wd_server *srv)
{
	const struct wd_config *cfg = srv->cfg;
	int64_t deadline = mono_ms() + (cfg->write_timeout_ms ? cfg->write_timeout_ms : 30000);
	uint64_t one = 1;

	atomic_store(&srv->draining, true);
	if (!cfg->suppress_lock)
		unlink(cfg->lock_path);
	close(srv->listen_fd);
	srv->listen_fd = -1;
	(void)!write(srv->drain_fd, &one, sizeof(one));
	LOG_INFO("SIGTERM received: draining %d in-flight request(s)",
		 atomic_load(&srv->active));
	while (atomic_load(&srv->active) > 0 && mono_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&srv->active) > 0)
		LOG_WARN("write_timeout reached with %d request(s) still in flight",
			 atomic_load(&srv->active));
	if (srv->up)
		wd_upstream_stop(srv->up, 5000);
	LOG_INFO("Exiting");
}

int main(int argc, char **argv)
{
	struct wd_config cfg;
	struct wd_server srv = { .listen_fd = -1, .drain_fd = -1 };
	struct buf why;
	sigset_t sigs;
	int sigfd, port = 0, rc;

	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))) {
		puts("cfaas-watchdog " CFAAS_VERSION);
		return 0;
	}
	if (argc > 1) {
		fputs("usage: cfaas-watchdog (configured by environment variables: fprocess, port, ...)\n",
		      stderr);
		return 2;
	}
	log_setup("watchdog", LOG_INFO);
	buf_init(&why, 1024);
	if (wd_config_load(&cfg, env_get, &why)) {
		fprintf(stderr, "cfaas-watchdog: %s\n", buf_cstr(&why));
		buf_release(&why);
		wd_config_release(&cfg);
		return 1;
	}
	buf_release(&why);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	srv.cfg = &cfg;
	srv.drain_fd = eventfd(0, EFD_CLOEXEC);
	srv.listen_fd = net_listen(cfg.bind_address, cfg.port, 1024, &port);
	if (srv.listen_fd < 0) {
		fprintf(stderr, "cfaas-watchdog: port: cannot listen on %s:%d: %s\n",
			cfg.bind_address, cfg.port, err_str(srv.listen_fd));
		return 1;
	}
	if (cfg.mode == WD_MODE_HTTP && (rc = wd_upstream_start(&srv, &srv.up))) {
		fprintf(stderr, "cfaas-watchdog: fprocess: cannot start '%s': %s\n",
			cfg.fprocess, err_str(rc));
		return 1;
	}
	if ((rc = write_lock(&cfg))) {
		fprintf(stderr, "cfaas-watchdog: TMPDIR: cannot write lock file '%s': %s\n",
			cfg.lock_path, err_str(rc));
		return 1;
	}
	LOG_INFO("Listening on %s:%d (mode=%s, fprocess=%s)", cfg.bind_address, port,
		 cfg.mode == WD_MODE_HTTP ? "http" : "fork", cfg.fprocess);
	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = srv.listen_fd, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		if (pf[0].revents && (rc = wd_server_accept(&srv)) < 0) {
			LOG_ERROR("accept: %s", err_str(rc));
			/* Out of fds: back off instead of spinning. */
			poll(NULL, 0, 50);
		}
	}
	drain(&srv);
	wd_config_release(&cfg);
	return 0;
}
