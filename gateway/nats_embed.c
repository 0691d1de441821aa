/*
 * nats_embed.c - start and supervise a local nats-server (see
 * nats_embed.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "nats_embed.h"
#include "net.h"
#include "spawn.h"
#include "banned.h"

#define READY_MS 10000
#define STOP_GRACE_MS 10000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 60000     /* up this long: the back-off starts over */

struct nats_embed {
	char exe[PATH_MAX];
	char conf[PATH_MAX + 64];
	int port;
	struct spawn_proc proc;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started;
	atomic_int stop;
	int start_rc;              /* first start, for nats_embed_start */
	bool started;              /* the first start has been tried */
};

/* Where Debian puts daemons, searched after PATH (which often lacks it). */
static const char *const sbin_dirs[] = { "/usr/local/sbin", "/usr/sbin", "/sbin" };

bool nats_embed_find(const char *search, char *path, size_t cap)
{
	const char *p = search && *search ? search : "/usr/local/bin:/usr/bin:/bin";
	char cand[PATH_MAX];
	size_t i;

	while (*p) {
		size_t n = strcspn(p, ":");
		if (n > 0 && n + sizeof("/nats-server") < sizeof(cand)) {
			memcpy(cand, p, n);
			memcpy(cand + n, "/nats-server", sizeof("/nats-server"));
			if (access(cand, X_OK) == 0) {
				snprintf(path, cap, "%s", cand);
				return true;
			}
		}
		p += n;
		if (*p == ':')
			p++;
	}
	for (i = 0; i < sizeof(sbin_dirs) / sizeof(sbin_dirs[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/nats-server", sbin_dirs[i]);
		if (access(cand, X_OK) == 0) {
			snprintf(path, cap, "%s", cand);
			return true;
		}
	}
	return false;
}

/* A port that was free on 127.0.0.1 a moment ago. */
static int free_port(void)
{
	int port = 0, fd = net_listen("127.0.0.1", 0, 1, &port);

	if (fd < 0)
		return fd;
	close(fd);
	return port;
}

/* Writes the server's configuration file (mode 0600). Paths are quoted
 * JSON-style; a data dir with a quote or backslash is refused. */
static int write_conf(struct nats_embed *e, const char *data_dir, struct buf *why)
{
	char abs_dir[PATH_MAX];
	struct buf b;
	int fd, rc = 0;

	if (!realpath(data_dir, abs_dir)) {
		rc = -errno;
		buf_printf(why, "cannot resolve '%s': %s", data_dir, err_str(rc));
		return rc;
	}
	if (strpbrk(abs_dir, "\"\\\n")) {
		buf_printf(why, "the data dir '%s' has a character nats-server cannot take", abs_dir);
		return -ERR_INVALID;
	}
	buf_init(&b, 8192);
	buf_printf(&b,
		   "# Written by cfaas-gateway at each start; edits are lost.\n"
		   "listen: \"127.0.0.1:%d\"\n"
		   "max_payload: 8MB\n"
		   "log_file: \"%s/nats-server.log\"\n"
		   "logfile_size_limit: 10MB\n"
		   "jetstream {\n  store_dir: \"%s\"\n}\n",
		   e->port, abs_dir, abs_dir);
	snprintf(e->conf, sizeof(e->conf), "%s/nats-server.conf", abs_dir);
	fd = open(e->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len) {
		rc = -errno;
		buf_printf(why, "cannot write '%s': %s", e->conf, err_str(rc ? rc : -EIO));
		rc = rc ? rc : -EIO;
	}
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	return rc;
}

/* Starts the server process; 0 or a negative code. */
static int launch(struct nats_embed *e)
{
	char *argv[] = { e->exe, (char *)"-c", e->conf, NULL };
	struct spawn_opts so;

	memset(&so, 0, sizeof(so));
	so.argv = argv;
	so.in = SPAWN_FD_NULL;
	so.out = SPAWN_FD_NULL;
	so.err = SPAWN_FD_NULL;
	so.die_with_parent = true;
	return spawn_start(&so, &e->proc);
}

/* Waits until the port accepts a connection, the process dies or the
 * deadline passes. */
static int wait_ready(struct nats_embed *e, int64_t deadline)
{
	while (mono_ms() < deadline && !atomic_load(&e->stop)) {
		int fd = net_connect("127.0.0.1", e->port, mono_ms() + 500);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (spawn_wait_timeout(&e->proc, 50) == 0)
			return -ERR_EXEC;
	}
	return -ERR_TIMEOUT;
}

static void sleep_unless_stopped(struct nats_embed *e, int64_t ms)
{
	struct timespec ts;

	mono_deadline_ts(ms, &ts);
	pthread_mutex_lock(&e->lock);
	if (!atomic_load(&e->stop))
		pthread_cond_timedwait(&e->cond, &e->lock, &ts);
	pthread_mutex_unlock(&e->lock);
}

/* The supervisor: it spawns the server itself (PR_SET_PDEATHSIG follows
 * the thread that forked), restarts it when it dies, stops it at the end. */
static void *supervise(void *arg)
{
	struct nats_embed *e = arg;
	int64_t backoff = BACKOFF_MIN_MS, up_since;
	int rc;

	for (;;) {
		rc = launch(e);
		if (!rc)
			rc = wait_ready(e, mono_ms() + READY_MS);
		pthread_mutex_lock(&e->lock);
		if (!e->started) {
			e->start_rc = rc;
			e->started = true;
			pthread_cond_broadcast(&e->cond);
		}
		e->running = rc == 0 || rc == -ERR_TIMEOUT;
		pthread_mutex_unlock(&e->lock);
		if (rc && rc != -ERR_TIMEOUT && rc != -ERR_EXEC) {
			LOG_ERROR("cannot start nats-server: %s", err_str(rc));
		} else {
			if (!rc)
				LOG_INFO("nats-server (pid %d) listening on 127.0.0.1:%d", (int)e->proc.pid,
					 e->port);
			up_since = mono_ms();
			while (!atomic_load(&e->stop) && spawn_wait_timeout(&e->proc, 200) != 0)
				;
			if (atomic_load(&e->stop))
				break;
			rc = e->proc.status;
			spawn_wait(&e->proc);
			if (mono_ms() - up_since > STABLE_MS)
				backoff = BACKOFF_MIN_MS;
			LOG_WARN("nats-server (pid %d) exited (%s %d); restarting in %lld ms",
				 (int)e->proc.pid, WIFSIGNALED(rc) ? "signal" : "status",
				 WIFSIGNALED(rc) ? WTERMSIG(rc) : WEXITSTATUS(rc), (long long)backoff);
		}
		pthread_mutex_lock(&e->lock);
		e->running = false;
		pthread_mutex_unlock(&e->lock);
		sleep_unless_stopped(e, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		if (atomic_load(&e->stop))
			return NULL;
	}
	/* Stop: SIGTERM lets JetStream flush its store; SIGKILL if it hangs. */
	spawn_kill(&e->proc, SIGTERM);
	if (spawn_wait_timeout(&e->proc, STOP_GRACE_MS) != 0) {
		LOG_WARN("nats-server did not stop in %d ms: killing it", STOP_GRACE_MS);
		spawn_kill(&e->proc, SIGKILL);
	}
	spawn_wait(&e->proc);
	return NULL;
}

int nats_embed_start(const char *search, const char *data_dir, struct nats_embed **out,
		     char *url, size_t cap, struct buf *why)
{
	struct nats_embed *e;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->proc.pid = -1;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!nats_embed_find(search, e->exe, sizeof(e->exe))) {
		buf_printf(why, "nats-server is not installed (not found on PATH)");
		rc = -ENOENT;
		goto fail;
	}
	e->port = free_port();
	if (e->port <= 0) {
		rc = e->port < 0 ? e->port : -EADDRNOTAVAIL;
		buf_printf(why, "no free port for nats-server: %s", err_str(rc));
		goto fail;
	}
	rc = write_conf(e, data_dir, why);
	if (rc)
		goto fail;
	if (pthread_create(&e->thread, NULL, supervise, e)) {
		rc = -EAGAIN;
		buf_printf(why, "cannot start a thread");
		goto fail;
	}
	e->thread_started = true;
	pthread_mutex_lock(&e->lock);
	while (!e->started)
		pthread_cond_wait(&e->cond, &e->lock);
	rc = e->start_rc;
	pthread_mutex_unlock(&e->lock);
	if (rc == -ERR_EXEC) {
		buf_printf(why, "nats-server exited at once (see %s/nats-server.log)", data_dir);
		goto fail;
	}
	if (rc && rc != -ERR_TIMEOUT) {
		buf_printf(why, "cannot run '%s': %s", e->exe, err_str(rc));
		goto fail;
	}
	snprintf(url, cap, "nats://127.0.0.1:%d", e->port);
	*out = e;
	return 0;
fail:
	nats_embed_stop(e);
	return rc;
}

void nats_embed_stop(struct nats_embed *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	atomic_store(&e->stop, 1);
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (e->thread_started)
		pthread_join(e->thread, NULL);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
