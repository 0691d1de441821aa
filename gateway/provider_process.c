/*
 * provider_process.c - function replicas as cfaas-watchdog child processes.
 *
 * Each replica is a watchdog on 127.0.0.1 and a port picked free just
 * before it starts, with its own directory under the replica root:
 *
 *     <root>/<namespace>/<name>/<instance>/{work,tmp,secrets}
 *
 * work is a copy of the function's bundle (or empty), tmp its TMPDIR and
 * secrets one file per secret, mode 0400. How much a replica is shut in
 * depends on what the gateway may do (the mode, chosen once at start):
 *
 *   namespace  the gateway is root and may unshare: the replica runs as
 *              the run-as user in its own mount namespace, with its secrets
 *              at /var/openfaas/secrets (read-only), its work dir at
 *              /var/openfaas/function (the cwd), its tmp dir at /tmp and
 *              the gateway's data dir covered by an empty tmpfs.
 *   user       root, but no namespaces (a container without CAP_SYS_ADMIN):
 *              the run-as user and plain directories in a /tmp/cfaas-*
 *              root that user can reach.
 *   plain      not root: the gateway's own user and plain directories.
 *
 * Threads. The callers (the gateway's API and request threads) only change
 * what is wanted - desired counts, generations, removal - under the
 * replica set's lock and wake the supervisor. One supervisor thread does
 * all the work: it creates and drops replicas to match, starts watchdogs,
 * polls their health over HTTP, notices exits through pidfds, restarts
 * with back-off and drains. Each round it decides under the lock, does the
 * slow parts (directories, fork, connects) without it, publishes the
 * results under it again and then sleeps in poll(2) on the pidfds, the
 * health-check sockets and an eventfd that callers write to. Only the
 * supervisor creates or detaches replicas, so the replica pointers it
 * keeps across an unlocked stretch stay valid.
 *
 * A second thread pumps the replicas' output (stdout and stderr share a
 * pipe) into the log store, one entry per line, so a slow disk never holds
 * up the supervisor. Every child is started with die_with_parent: a
 * gateway killed with SIGKILL leaves no replica behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "logstore.h"
#include "net.h"
#include "parse.h"
#include "provider.h"
#include "replicas.h"
#include "spawn.h"
#include "banned.h"

#ifndef CFAAS_VERSION
#define CFAAS_VERSION "dev"
#endif

#define PP_OPENFAAS_DIR "/var/openfaas"
#define PP_SECRETS_MOUNT "/var/openfaas/secrets"
#define PP_WORK_MOUNT "/var/openfaas/function"
#define PP_DEFAULT_NS "openfaas-fn"
#define PP_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define PP_LINE_CAP (16u * 1024)       /* a longer output line is split */
#define PP_FPROCESS_MAX 4096           /* the bundle's fprocess file */
#define PP_UPDATE_WAIT_MS 30000        /* new generation ready, else drain anyway */
#define PP_BACKOFF_MIN_MS 100
#define PP_BACKOFF_MAX_MS 10000
#define PP_STABLE_MS 60000             /* a run this long resets the back-off */
#define PP_CHECK_FAST_MS 5             /* health polls of a fresh replica */
#define PP_FAST_FOR_MS 5000            /* ... for this long after its start */
#define PP_CHECK_SLOW_MS 100           /* then, until it answers */
#define PP_CHECK_READY_MS 1000         /* health polls of a ready replica */
#define PP_CHECK_TIMEOUT_MS 2000
#define PP_CONNECT_MS 200
#define PP_WRITE_TIMEOUT_MS 30000      /* the watchdog's default */
#define PP_KILL_GRACE_MS 2000          /* after write_timeout, SIGKILL */
#define PP_PROBE_MS 5000
#define PP_COPY_DEPTH 64
#define PP_RM_DEPTH 256
#define PP_STREAM_WAIT_MS 2000         /* remove(): output still in pipes */

enum pp_mode { PP_PLAIN, PP_USER, PP_NAMESPACE };

struct pp_secret {
	char *name;
	char *value;
	size_t len;
};

/* What one generation of a function runs with. Immutable once made;
 * shared by the function and its replicas (refs under the set lock). */
struct pp_gen {
	unsigned refs;
	char **env;             /* "K=V": envVars and fprocess */
	size_t nenv;
	bool has_path, has_home;
	char *bundle_dir;       /* NULL: an empty work dir */
	struct pp_secret *secrets;
	size_t nsecrets;
	int64_t write_timeout_ms;
};

/* The provider's part of a function. */
struct pp_fn {
	struct pp_gen *gen;        /* the current generation */
	int64_t update_deadline;   /* older generations drain by then at the latest */
	char *dir;                 /* <root>/<ns>/<name> */
};

/* The provider's part of a replica. Touched by the supervisor only, except
 * gen's refs. */
struct pp_rep {
	struct pp_gen *gen;
	char *ns, *name, *instance; /* copies, for the unlocked stretches */
	char *dir;                  /* <root>/<ns>/<name>/<instance> */
	bool prepared;              /* dir made and filled */
	bool gone;                  /* drained and reaped: to be dropped */
	struct spawn_proc proc;
	bool running;
	int start_rc;
	int port;
	int64_t started_at;
	int64_t retry_at;
	int64_t backoff_ms;
	int64_t next_check;
	int hc_fd;                  /* health check in flight, or -1 */
	int64_t hc_deadline;
	size_t hc_len;
	char hc_buf[1024];
	int64_t drain_at;
	int64_t term_at;
	bool killed;
};

/* A replica's output pipe, read by the log pump. */
struct pp_stream {
	struct pp_stream *next, *prev;
	int fd;
	char *ns, *name, *instance;
	size_t len;
	char line[PP_LINE_CAP];
};

struct pp {
	struct provider base;
	struct replicas *rs;
	struct logstore *logs;
	enum pp_mode mode;
	char *watchdog;
	char *data_dir;        /* real path */
	char *root;            /* where replica dirs go */
	bool root_is_tmp;      /* made with mkdtemp: removed by free */
	char *hide;            /* namespace mode: covered by an empty tmpfs */
	char *path_env;        /* "PATH=..." for the replicas */
	char run_as[64];
	uid_t uid;
	gid_t gid;
	bool stopping;         /* under the set lock */
	int wake_fd;           /* eventfd: the supervisor has something to do */
	pthread_t sup;
	bool sup_running;
	/* The log pump. */
	int ep_fd;
	int lp_stop_fd;
	pthread_t lp;
	bool lp_running;
	pthread_mutex_t lp_mu;
	pthread_cond_t lp_cond;
	struct pp_stream *streams;
};

/* What the forked child needs; everything prepared before the fork, since
 * the child may only make async-signal-safe calls. */
struct pp_child {
	const char *secrets, *tmp, *work, *hide;
	bool ns;
	bool set_ids;
	uid_t uid;
	gid_t gid;
	pid_t parent;
	dev_t mntns_dev;      /* the gateway's mount namespace (0: unknown) */
	ino_t mntns_ino;
};

/* A growable array of pointers. */
struct vec {
	void **v;
	size_t n, cap;
};

static int vec_push(struct vec *v, void *x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void **nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void wake(struct pp *p)
{
	uint64_t one = 1;

	(void)!write(p->wake_fd, &one, sizeof(one));
}

static bool path_ok(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/') && strlen(s) <= 253;
}

/* True when path is dir or below it. */
static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* ---- files ------------------------------------------------------------ */

static int rm_tree_at(int dfd, const char *name, int depth)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode) && depth < PP_RM_DEPTH) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d;

		if (fd >= 0) {
			struct dirent *e;

			fchmod(fd, 0700); /* a function may have made its dirs read-only */
			d = fdopendir(fd);
			if (!d) {
				close(fd);
			} else {
				while ((e = readdir(d)))
					if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
						rm_tree_at(dirfd(d), e->d_name, depth + 1);
				closedir(d);
			}
		}
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* rm -rf path, without following symbolic links. */
static int rm_tree(const char *path)
{
	return rm_tree_at(AT_FDCWD, path, 0);
}

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	return 0;
}

/* Hands an fd's file to the replicas' user (root modes only). */
static int own_fd(const struct pp *p, int fd)
{
	if (p->mode == PP_PLAIN)
		return 0;
	return fchown(fd, p->uid, p->gid) < 0 ? -errno : 0;
}

static int own_path(const struct pp *p, const char *path)
{
	if (p->mode == PP_PLAIN)
		return 0;
	return lchown(path, p->uid, p->gid) < 0 ? -errno : 0;
}

static int copy_data(int from, int to)
{
	char chunk[64 * 1024];
	ssize_t n;

	for (;;) {
		n = copy_file_range(from, NULL, to, NULL, 1u << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	for (;;) {
		size_t off = 0;

		n = read(from, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		while (off < (size_t)n) {
			ssize_t w = write(to, chunk + off, (size_t)n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += (size_t)w;
		}
	}
}

static int copy_dir(const struct pp *p, int sdir, int ddir, int depth);

/* Copies one entry (file, directory or symbolic link; others are left out)
 * from sdir to ddir, owned by the replicas' user. */
static int copy_entry(const struct pp *p, int sdir, int ddir, const char *name, int depth)
{
	char target[PATH_MAX];
	struct stat st;
	int s = -1, d = -1, rc = 0;
	ssize_t n;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		if (depth >= PP_COPY_DEPTH)
			return -ELOOP;
		if (mkdirat(ddir, name, 0700) < 0)
			return -errno;
		s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0) {
			rc = -errno;
			goto out;
		}
		rc = copy_dir(p, s, d, depth + 1);
		if (!rc && !(rc = own_fd(p, d)) && fchmod(d, (st.st_mode & 0777) | 0700) < 0)
			rc = -errno;
	} else if (S_ISREG(st.st_mode)) {
		s = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		d = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (s < 0 || d < 0) {
			rc = -errno;
			goto out;
		}
		rc = copy_data(s, d);
		if (!rc && !(rc = own_fd(p, d)) && fchmod(d, (st.st_mode & 0777) | 0600) < 0)
			rc = -errno;
	} else if (S_ISLNK(st.st_mode)) {
		n = readlinkat(sdir, name, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0)
			return -errno;
		if (p->mode != PP_PLAIN &&
		    fchownat(ddir, name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
out:
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return rc;
}

static int copy_dir(const struct pp *p, int sdir, int ddir, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	fd = fcntl(sdir, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = copy_entry(p, sdir, ddir, e->d_name, depth);
	closedir(d);
	return rc;
}

/* Copies the bundle dir's contents into the work dir. */
static int copy_bundle(const struct pp *p, const char *from, const char *to)
{
	int s, d, rc;

	s = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s < 0)
		return -errno;
	d = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		rc = -errno;
		close(s);
		return rc;
	}
	rc = copy_dir(p, s, d, 0);
	close(s);
	close(d);
	return rc;
}

static int write_secrets(const struct pp *p, const struct pp_gen *g, const char *dir)
{
	int dfd, fd, rc = 0;
	size_t i, off;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (i = 0; i < g->nsecrets && !rc; i++) {
		const struct pp_secret *s = &g->secrets[i];

		fd = openat(dfd, s->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0400);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		for (off = 0; off < s->len && !rc;) {
			ssize_t n = write(fd, s->value + off, s->len - off);

			if (n < 0 && errno != EINTR)
				rc = -errno;
			else if (n > 0)
				off += (size_t)n;
		}
		if (!rc)
			rc = own_fd(p, fd);
		if (!rc && fchmod(fd, 0400) < 0)
			rc = -errno;
		close(fd);
	}
	if (!rc)
		rc = own_fd(p, dfd);
	if (!rc && fchmod(dfd, 0500) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

/* Creates the directories of a replica and fills them. */
static int prepare_dirs(const struct pp *p, struct pp_rep *rp)
{
	mode_t dmode = p->mode == PP_USER ? 0711 : 0700;
	char *nsdir = NULL, *fndir = NULL, *sub = NULL;
	int rc;

	nsdir = buf_asprintf("%s/%s", p->root, rp->ns);
	fndir = buf_asprintf("%s/%s/%s", p->root, rp->ns, rp->name);
	if (!nsdir || !fndir) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = make_dir(nsdir, dmode)) || (rc = make_dir(fndir, dmode)))
		goto out;
	rm_tree(rp->dir);
	if ((rc = make_dir(rp->dir, dmode)))
		goto out;
	if (!(sub = buf_asprintf("%s/tmp", rp->dir))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = make_dir(sub, 0700)) || (rc = own_path(p, sub)))
		goto out;
	free(sub);
	if (!(sub = buf_asprintf("%s/secrets", rp->dir))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = make_dir(sub, 0700)) || (rc = write_secrets(p, rp->gen, sub)))
		goto out;
	free(sub);
	if (!(sub = buf_asprintf("%s/work", rp->dir))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = make_dir(sub, 0700)))
		goto out;
	if (rp->gen->bundle_dir && (rc = copy_bundle(p, rp->gen->bundle_dir, sub)))
		goto out;
	rc = own_path(p, sub);
out:
	free(nsdir);
	free(fndir);
	free(sub);
	return rc;
}

/* ---- generations ------------------------------------------------------- */

static void gen_free(struct pp_gen *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->nenv; i++)
		free(g->env[i]);
	free(g->env);
	for (i = 0; i < g->nsecrets; i++) {
		free(g->secrets[i].name);
		if (g->secrets[i].value)
			explicit_bzero(g->secrets[i].value, g->secrets[i].len);
		free(g->secrets[i].value);
	}
	free(g->secrets);
	free(g->bundle_dir);
	free(g);
}

/* Under the set lock (or with g not shared yet). */
static void gen_unref(struct pp_gen *g)
{
	if (g && --g->refs == 0)
		gen_free(g);
}

static bool env_reserved(const char *key)
{
	static const char *const keys[] = {
		"fprocess", "port", "bind_address", "TMPDIR", "secret_mount_path",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* Reads <bundle>/fprocess: one line, the command. 0 (*out NULL when the
 * file does not exist), or -ERR_INVALID with why. */
static int bundle_fprocess(const char *bundle, char **out, struct buf *why)
{
	char text[PP_FPROCESS_MAX + 1];
	char *path = buf_asprintf("%s/fprocess", bundle);
	size_t len = 0, i;
	int fd;

	*out = NULL;
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	while (len < PP_FPROCESS_MAX) {
		ssize_t n = read(fd, text + len, PP_FPROCESS_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
		       text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	text[len] = '\0';
	for (i = 0; i < len; i++) {
		if ((unsigned char)text[i] < ' ' || text[i] == 0x7f) {
			buf_adds(why, "the bundle's fprocess file must hold one line (the command)");
			return -ERR_INVALID;
		}
	}
	if (len && !(*out = strdup(text)))
		return -ENOMEM;
	return 0;
}

static int gen_add_env(struct pp_gen *g, const char *key, const char *value)
{
	char *kv = buf_asprintf("%s=%s", key, value);

	if (!kv)
		return -ENOMEM;
	g->env[g->nenv++] = kv;
	return 0;
}

/* Builds a generation from a spec. -ERR_INVALID with why for what the
 * watchdog would refuse. */
static int gen_new(const struct prov_spec *spec, struct buf *why, struct pp_gen **out)
{
	static const char *const durations[] = {
		"read_timeout", "write_timeout", "exec_timeout", "healthcheck_interval",
	};
	const struct wire_deploy *d = spec->deploy;
	const struct wire_map *ev = &d->env_vars;
	struct pp_gen *g;
	char *fprocess = NULL;
	const char *v;
	size_t i;
	int rc = 0;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->refs = 1;
	g->write_timeout_ms = PP_WRITE_TIMEOUT_MS;
	if (d->env_process && *d->env_process)
		v = d->env_process;
	else if (!(v = wire_map_get(ev, "fprocess")) || !*v)
		v = NULL;
	if (v) {
		if (!(fprocess = strdup(v))) {
			rc = -ENOMEM;
			goto fail;
		}
	} else if (spec->bundle_dir && (rc = bundle_fprocess(spec->bundle_dir, &fprocess, why))) {
		goto fail;
	}
	if (!fprocess) {
		buf_adds(why, "envProcess is required: the command the watchdog runs for each "
			      "request (e.g. \"cat\"), unless the image's bundle names one");
		rc = -ERR_INVALID;
		goto fail;
	}
	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		int64_t ms;

		v = wire_map_get(ev, durations[i]);
		if (v && *v && parse_duration_ms(v, &ms)) {
			buf_printf(why, "envVars: %s: cannot parse '%s' as a duration (use 30, 500ms, 10s or 1m5s)",
				   durations[i], v);
			rc = -ERR_INVALID;
			goto fail;
		}
		if (v && *v && !strcmp(durations[i], "write_timeout") && ms > 0)
			g->write_timeout_ms = ms;
	}
	g->env = calloc(ev->n + 2, sizeof(*g->env));
	if (!g->env) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < ev->n; i++) {
		const char *k = ev->items[i].key;

		if (env_reserved(k))
			continue;
		if ((rc = gen_add_env(g, k, ev->items[i].value ? ev->items[i].value : "")))
			goto fail;
		g->has_path |= !strcmp(k, "PATH");
		g->has_home |= !strcmp(k, "HOME");
	}
	if ((rc = gen_add_env(g, "fprocess", fprocess)))
		goto fail;
	if (spec->bundle_dir && !(g->bundle_dir = strdup(spec->bundle_dir))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (spec->nsecrets) {
		g->secrets = calloc(spec->nsecrets, sizeof(*g->secrets));
		if (!g->secrets) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < spec->nsecrets; i++) {
		const struct prov_secret *s = &spec->secrets[i];
		struct pp_secret *c = &g->secrets[i];

		if (!path_ok(s->name)) {
			buf_printf(why, "secret '%s': not a valid file name", s->name ? s->name : "");
			rc = -ERR_INVALID;
			goto fail;
		}
		c->name = strdup(s->name);
		c->value = malloc(s->len ? s->len : 1);
		if (!c->name || !c->value) {
			rc = -ENOMEM;
			goto fail;
		}
		if (s->len)
			memcpy(c->value, s->value, s->len);
		c->len = s->len;
		g->nsecrets++;
	}
	free(fprocess);
	*out = g;
	return 0;
fail:
	free(fprocess);
	gen_free(g);
	return rc;
}

/* ---- the log pump ----------------------------------------------------- */

static void stream_emit(struct pp *p, struct pp_stream *s, const char *text, size_t len)
{
	if (p->logs)
		logstore_append(p->logs, s->ns, s->name, s->instance, text, len);
}

/* Reads what the pipe has now. Returns false at the end of the stream. */
static bool stream_read(struct pp *p, struct pp_stream *s)
{
	size_t budget = 256 * 1024;

	while (budget) {
		ssize_t n = read(s->fd, s->line + s->len, PP_LINE_CAP - s->len);
		size_t start = 0, i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		budget -= (size_t)n > budget ? budget : (size_t)n;
		for (i = s->len; i < s->len + (size_t)n; i++) {
			if (s->line[i] == '\n') {
				stream_emit(p, s, s->line + start, i - start);
				start = i + 1;
			}
		}
		s->len += (size_t)n;
		if (start) {
			memmove(s->line, s->line + start, s->len - start);
			s->len -= start;
		}
		if (s->len == PP_LINE_CAP) {
			stream_emit(p, s, s->line, s->len);
			s->len = 0;
		}
	}
	return true;
}

static void stream_close(struct pp *p, struct pp_stream *s)
{
	if (s->len)
		stream_emit(p, s, s->line, s->len);
	epoll_ctl(p->ep_fd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	pthread_mutex_lock(&p->lp_mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		p->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_cond_broadcast(&p->lp_cond);
	pthread_mutex_unlock(&p->lp_mu);
	free(s->ns);
	free(s->name);
	free(s->instance);
	free(s);
}

/* Hands a replica's output pipe to the pump, which closes it. */
static void stream_add(struct pp *p, int fd, const struct pp_rep *rp)
{
	struct pp_stream *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!s)
		goto fail;
	s->fd = fd;
	s->ns = strdup(rp->ns);
	s->name = strdup(rp->name);
	s->instance = strdup(rp->instance);
	if (!s->ns || !s->name || !s->instance)
		goto fail;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pthread_mutex_lock(&p->lp_mu);
	s->next = p->streams;
	if (p->streams)
		p->streams->prev = s;
	p->streams = s;
	pthread_mutex_unlock(&p->lp_mu);
	ev.data.ptr = s;
	if (epoll_ctl(p->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		stream_close(p, s);
	return;
fail:
	if (s) {
		free(s->ns);
		free(s->name);
		free(s->instance);
		free(s);
	}
	close(fd);
}

static void *log_pump(void *arg)
{
	struct pp *p = arg;
	struct epoll_event ev[32];
	struct pp_stream *s;
	bool stop = false;
	int i, n;

	while (!stop) {
		n = epoll_wait(p->ep_fd, ev, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			s = ev[i].data.ptr;
			if (!s)
				stop = true;
			else if (!stream_read(p, s))
				stream_close(p, s);
		}
	}
	/* The replicas are gone: take what is left in the pipes. */
	for (;;) {
		pthread_mutex_lock(&p->lp_mu);
		s = p->streams;
		pthread_mutex_unlock(&p->lp_mu);
		if (!s)
			break;
		stream_read(p, s);
		stream_close(p, s);
	}
	return NULL;
}

/* Waits (bounded) until the output of (ns, name) has all been read. */
static void streams_wait(struct pp *p, const char *ns, const char *name)
{
	int64_t deadline = mono_ms() + PP_STREAM_WAIT_MS;
	struct timespec ts;

	if (!p->lp_running)
		return;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000;
	pthread_mutex_lock(&p->lp_mu);
	for (;;) {
		struct pp_stream *s;

		for (s = p->streams; s; s = s->next)
			if (!strcmp(s->ns, ns) && !strcmp(s->name, name))
				break;
		if (!s || pthread_cond_timedwait(&p->lp_cond, &p->lp_mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->lp_mu);
}

/* ---- starting a replica ------------------------------------------------ */

/* Runs in the forked child: async-signal-safe calls only. */
static int child_setup(void *arg)
{
	const struct pp_child *c = arg;
	struct stat st;

	if (c->ns) {
		/* Never mount in the gateway's own namespace. */
		if (c->mntns_ino && (stat("/proc/self/ns/mnt", &st) < 0 ||
				     (st.st_dev == c->mntns_dev && st.st_ino == c->mntns_ino)))
			return -EPERM;
		if (mount(c->secrets, PP_SECRETS_MOUNT, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, PP_SECRETS_MOUNT, NULL,
			  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0 ||
		    mount(c->work, PP_WORK_MOUNT, NULL, MS_BIND, NULL) < 0 ||
		    mount(c->tmp, "/tmp", NULL, MS_BIND, NULL) < 0)
			return -errno;
		if (c->hide && mount("cfaas", c->hide, "tmpfs",
				     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				     "size=4k,mode=000") < 0)
			return -errno;
		if (chdir(PP_WORK_MOUNT) < 0)
			return -errno;
	} else if (chdir(c->work) < 0) {
		return -errno;
	}
	if (c->set_ids) {
		if (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0)
			return -errno;
		/* A change of ids clears the parent-death signal: set it again,
		 * then make sure the gateway did not die in between. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			return -errno;
		if (getppid() != c->parent)
			return -ESRCH;
	}
	return 0;
}

/* Fills what the child does for this mode: c and the spawn options that go
 * with it, together, so that the mounts of child_setup() only ever happen
 * in a new mount namespace. */
static void child_init(const struct pp *p, struct pp_child *c, struct spawn_opts *so,
		       const char *dir_secrets, const char *dir_tmp, const char *dir_work)
{
	struct stat st;

	memset(c, 0, sizeof(*c));
	c->secrets = dir_secrets;
	c->tmp = dir_tmp;
	c->work = dir_work;
	c->hide = p->hide;
	c->ns = p->mode == PP_NAMESPACE;
	c->set_ids = p->mode != PP_PLAIN;
	c->uid = p->uid;
	c->gid = p->gid;
	c->parent = getpid();
	if (stat("/proc/self/ns/mnt", &st) == 0) {
		c->mntns_dev = st.st_dev;
		c->mntns_ino = st.st_ino;
	}
	so->new_mount_ns = c->ns;
	so->child_setup = child_setup;
	so->child_arg = c;
	so->die_with_parent = true;
	so->cwd = NULL; /* child_setup changes directory */
}

static int env_add(struct vec *env, char *kv)
{
	if (!kv)
		return -ENOMEM;
	if (vec_push(env, kv)) {
		free(kv);
		return -ENOMEM;
	}
	return 0;
}

/* Starts the watchdog of rp (supervisor thread, without the lock). Sets
 * rp->running, or rp->start_rc on failure. */
static void start_replica(struct pp *p, struct pp_rep *rp)
{
	struct spawn_opts so = { 0 };
	struct pp_child child;
	struct vec env = { 0 };
	char *argv[2], *work, *tmp, *secrets;
	const char *tmpdir, *secdir;
	size_t i;
	int fd, port = 0, rc;

	work = buf_asprintf("%s/work", rp->dir);
	tmp = buf_asprintf("%s/tmp", rp->dir);
	secrets = buf_asprintf("%s/secrets", rp->dir);
	if (!work || !tmp || !secrets) {
		rc = -ENOMEM;
		goto out;
	}
	if (!rp->prepared) {
		if ((rc = prepare_dirs(p, rp)))
			goto out;
		rp->prepared = true;
	}
	fd = net_listen("127.0.0.1", 0, 1, &port);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	close(fd);
	tmpdir = p->mode == PP_NAMESPACE ? "/tmp" : tmp;
	secdir = p->mode == PP_NAMESPACE ? PP_SECRETS_MOUNT : secrets;
	rc = 0;
	if (!rp->gen->has_path)
		rc = env_add(&env, strdup(p->path_env));
	if (!rc && !rp->gen->has_home)
		rc = env_add(&env, buf_asprintf("HOME=%s", tmpdir));
	for (i = 0; !rc && i < rp->gen->nenv; i++)
		rc = env_add(&env, strdup(rp->gen->env[i]));
	if (!rc)
		rc = env_add(&env, buf_asprintf("TMPDIR=%s", tmpdir));
	if (!rc)
		rc = env_add(&env, buf_asprintf("secret_mount_path=%s", secdir));
	if (!rc)
		rc = env_add(&env, buf_asprintf("port=%d", port));
	if (!rc)
		rc = env_add(&env, strdup("bind_address=127.0.0.1"));
	if (!rc)
		rc = vec_push(&env, NULL);
	if (rc)
		goto out;
	argv[0] = p->watchdog;
	argv[1] = NULL;
	child_init(p, &child, &so, secrets, tmp, work);
	so.argv = argv;
	so.envp = (char *const *)env.v;
	so.in = SPAWN_FD_NULL;
	so.out = p->logs ? SPAWN_FD_PIPE : SPAWN_FD_NULL;
	so.err = p->logs ? SPAWN_FD_STDOUT : SPAWN_FD_NULL;
	rc = spawn_start(&so, &rp->proc);
	if (rc)
		goto out;
	if (rp->proc.out >= 0) {
		stream_add(p, rp->proc.out, rp);
		rp->proc.out = -1;
	}
	rp->port = port;
	rp->running = true;
	rp->killed = false;
	rp->term_at = 0;
	rp->started_at = mono_ms();
out:
	rp->start_rc = rc;
	for (i = 0; i < env.n; i++)
		free(env.v[i]);
	free(env.v);
	free(work);
	free(tmp);
	free(secrets);
}

/* ---- the supervisor --------------------------------------------------- */

static void rep_free(struct pp_rep *rp)
{
	if (!rp)
		return;
	free(rp->ns);
	free(rp->name);
	free(rp->instance);
	free(rp->dir);
	free(rp);
}

static void hc_close(struct pp_rep *rp)
{
	if (rp->hc_fd >= 0) {
		close(rp->hc_fd);
		rp->hc_fd = -1;
	}
}

/* Locked. A new replica of fn's current generation, to be started. */
static int new_replica(struct pp *p, struct rs_function *fn, int64_t now)
{
	struct pp_fn *pf = fn->priv;
	struct rs_replica *r;
	struct pp_rep *rp = calloc(1, sizeof(*rp));
	int rc;

	if (!rp)
		return -ENOMEM;
	rp->hc_fd = -1;
	rp->proc.pid = -1;
	rp->proc.pidfd = rp->proc.in = rp->proc.out = rp->proc.err = -1;
	rp->retry_at = now;
	rp->backoff_ms = PP_BACKOFF_MIN_MS;
	rc = replicas_add(p->rs, fn, fn->generation, &r);
	if (rc) {
		free(rp);
		return rc;
	}
	rp->ns = strdup(fn->ns);
	rp->name = strdup(fn->name);
	rp->instance = strdup(r->instance);
	rp->dir = buf_asprintf("%s/%s", pf->dir, r->instance);
	rp->gen = pf->gen;
	rp->gen->refs++;
	r->priv = rp;
	if (!rp->ns || !rp->name || !rp->instance || !rp->dir) {
		/* Dropped again at once: drained without a process. */
		replicas_set_state(p->rs, r, RS_DRAINING);
		return -ENOMEM;
	}
	return 0;
}

static void begin_drain(struct pp *p, struct rs_replica *r, int64_t now)
{
	struct pp_rep *rp = r->priv;

	replicas_set_state(p->rs, r, RS_DRAINING);
	rp->drain_at = now;
	hc_close(rp);
}

static int start_one(void *p, struct rs_function *fn, int64_t now)
{
	return new_replica(p, fn, now);
}

static void drain_one(void *p, struct rs_replica *r, int64_t now)
{
	begin_drain(p, r, now);
}

/* Locked. Creates or drains replicas so fn matches what is wanted. */
static void reconcile(struct pp *p, struct rs_function *fn, int64_t now, int64_t *wake_at)
{
	static const struct rs_actions act = { start_one, drain_one };
	struct pp_fn *pf = fn->priv;

	replicas_reconcile(fn, now, pf->update_deadline, wake_at, &act, p);
}

static int64_t check_interval(const struct rs_replica *r, const struct pp_rep *rp, int64_t now)
{
	if (r->state == RS_READY)
		return PP_CHECK_READY_MS;
	return now - rp->started_at < PP_FAST_FOR_MS ? PP_CHECK_FAST_MS : PP_CHECK_SLOW_MS;
}

/* Locked. The answer of a health check (ok) or its failure. */
static void hc_done(struct pp *p, struct rs_replica *r, bool ok, int64_t now)
{
	struct pp_rep *rp = r->priv;

	hc_close(rp);
	if (r->state == RS_DRAINING || !rp->running)
		return;
	if (ok && r->state != RS_READY) {
		replicas_set_state(p->rs, r, RS_READY);
		LOG_DEBUG("replica %s ready on port %d after %lld ms", r->instance, r->port,
			  (long long)(now - rp->started_at));
	} else if (!ok && r->state == RS_READY) {
		replicas_set_state(p->rs, r, RS_STARTING);
		LOG_WARN("replica %s stopped answering its health check", r->instance);
	}
	rp->next_check = now + check_interval(r, rp, now);
}

/* Locked. After a replica failed to start or died: wait, then restart. */
static void backoff(struct pp *p, struct rs_replica *r, int64_t now)
{
	struct pp_rep *rp = r->priv;

	if (rp->started_at && now - rp->started_at >= PP_STABLE_MS)
		rp->backoff_ms = PP_BACKOFF_MIN_MS;
	rp->retry_at = now + rp->backoff_ms;
	rp->backoff_ms = min64(rp->backoff_ms * 2, PP_BACKOFF_MAX_MS);
	replicas_set_state(p->rs, r, RS_BACKOFF);
}

static void describe_status(int status, char *out, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "signal %d", WTERMSIG(status));
	else
		snprintf(out, cap, "status %d", status);
}

/* Locked. Reaps the replica's process if it has exited. */
static void check_exit(struct pp *p, struct rs_replica *r, int64_t now)
{
	struct pp_rep *rp = r->priv;
	char how[64];
	int rc;

	if (!rp->running)
		return;
	rc = spawn_wait_timeout(&rp->proc, 0);
	if (rc == -ERR_TIMEOUT)
		return;
	if (rc < 0) {
		/* Reaped behind our back (SIGCHLD ignored?): it is gone anyway. */
		if (rp->proc.pidfd >= 0)
			close(rp->proc.pidfd);
		rp->proc.pidfd = -1;
		rp->proc.reaped = true;
		rp->proc.status = 0;
	}
	rp->running = false;
	hc_close(rp);
	if (r->state == RS_DRAINING)
		return;
	if (r->generation != r->fn->generation) {
		begin_drain(p, r, now);
		return;
	}
	describe_status(rp->proc.status, how, sizeof(how));
	if (rp->started_at && now - rp->started_at >= PP_STABLE_MS)
		rp->backoff_ms = PP_BACKOFF_MIN_MS;
	LOG_WARN("replica %s exited (%s); restarting in %lld ms", r->instance, how,
		 (long long)rp->backoff_ms);
	backoff(p, r, now);
}

/* Locked. One replica's next step; collects what must happen unlocked. */
static void step(struct pp *p, struct rs_replica *r, int64_t now, struct vec *start,
		 struct vec *check, struct vec *gone)
{
	struct pp_rep *rp = r->priv;

	if (rp->gone)
		return;
	if (r->state == RS_DRAINING) {
		int64_t wt = rp->gen->write_timeout_ms;

		if (!rp->running) {
			if (!vec_push(gone, r))
				rp->gone = true;
			return;
		}
		if (!rp->term_at && (r->inflight == 0 || now >= rp->drain_at + wt)) {
			spawn_kill(&rp->proc, SIGTERM);
			rp->term_at = now;
		}
		if (rp->term_at && !rp->killed && now >= rp->term_at + wt + PP_KILL_GRACE_MS) {
			LOG_WARN("replica %s did not stop within write_timeout: killing it",
				 r->instance);
			spawn_kill(&rp->proc, SIGKILL);
			rp->killed = true;
		}
		return;
	}
	if (!rp->running) {
		r->check_now = false; /* a restart checks it anyway */
		if (now >= rp->retry_at)
			vec_push(start, r);
		return;
	}
	if (rp->hc_fd >= 0 && now >= rp->hc_deadline)
		hc_done(p, r, false, now);
	if (rp->hc_fd < 0 && (r->check_now || now >= rp->next_check)) {
		r->check_now = false;
		vec_push(check, r);
	}
}

/* Locked. When the replica next needs the supervisor (absent events). */
static int64_t next_due(const struct rs_replica *r, const struct pp_rep *rp, int64_t now)
{
	int64_t wt = rp->gen->write_timeout_ms;

	if (r->state == RS_DRAINING) {
		if (!rp->running)
			return now;
		if (!rp->term_at)
			return rp->drain_at + wt;
		return rp->killed ? INT64_MAX : rp->term_at + wt + PP_KILL_GRACE_MS;
	}
	if (!rp->running)
		return rp->retry_at;
	if (rp->hc_fd >= 0)
		return rp->hc_deadline;
	return r->check_now ? now : rp->next_check;
}

/* Unlocked. Connects and sends the health request; the answer is read
 * when the socket becomes readable. */
static void hc_begin(struct pp_rep *rp, int64_t now)
{
	static const char req[] = "GET /_/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "User-Agent: cfaas-gateway\r\nConnection: close\r\n\r\n";
	int fd = net_connect("127.0.0.1", rp->port, now + PP_CONNECT_MS);

	if (fd < 0)
		return;
	if (net_write_all(fd, req, sizeof(req) - 1, now + PP_CONNECT_MS)) {
		close(fd);
		return;
	}
	rp->hc_fd = fd;
	rp->hc_len = 0;
	rp->hc_deadline = now + PP_CHECK_TIMEOUT_MS;
}

/* Locked. Reads the health answer as it comes. */
static void hc_read(struct pp *p, struct rs_replica *r, int64_t now)
{
	struct pp_rep *rp = r->priv;
	struct http_head h;
	ssize_t n;
	int rc;

	if (rp->hc_fd < 0)
		return;
	n = recv(rp->hc_fd, rp->hc_buf + rp->hc_len, sizeof(rp->hc_buf) - rp->hc_len,
		 MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		hc_done(p, r, false, now);
		return;
	}
	rp->hc_len += (size_t)n;
	rc = http_head_parse(&h, rp->hc_buf, rp->hc_len, false);
	if (rc > 0) {
		bool ok = h.status == 200;

		http_head_release(&h);
		hc_done(p, r, ok, now);
	} else if (rc < 0 || rp->hc_len == sizeof(rp->hc_buf)) {
		hc_done(p, r, false, now);
	}
}

enum { EV_EXIT, EV_HEALTH };

struct pollset {
	struct pollfd *fds;
	struct rs_replica **reps;
	unsigned char *kinds;
	size_t n, cap;
};

static int pollset_add(struct pollset *ps, int fd, struct rs_replica *r, int kind)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 32;
		struct pollfd *fds = realloc(ps->fds, cap * sizeof(*fds));
		struct rs_replica **reps;
		unsigned char *kinds;

		if (!fds)
			return -ENOMEM;
		ps->fds = fds;
		reps = realloc(ps->reps, cap * sizeof(*reps));
		if (!reps)
			return -ENOMEM;
		ps->reps = reps;
		kinds = realloc(ps->kinds, cap);
		if (!kinds)
			return -ENOMEM;
		ps->kinds = kinds;
		ps->cap = cap;
	}
	ps->fds[ps->n].fd = fd;
	ps->fds[ps->n].events = POLLIN;
	ps->fds[ps->n].revents = 0;
	ps->reps[ps->n] = r;
	ps->kinds[ps->n] = (unsigned char)kind;
	ps->n++;
	return 0;
}

static void *supervise(void *arg)
{
	struct pp *p = arg;
	struct vec start = { 0 }, check = { 0 }, gone = { 0 };
	struct pollset ps = { 0 };
	size_t i;

	replicas_lock(p->rs);
	for (;;) {
		struct rs_function *fn;
		int64_t now = mono_ms(), wake_at = now + 1000;
		bool any = false, no_pidfd = false;
		uint64_t junk;
		int timeout;

		/* Decide, under the lock. */
		start.n = check.n = gone.n = 0;
		for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn)) {
			if (!fn->priv)
				continue;
			if (!fn->removing && !p->stopping)
				reconcile(p, fn, now, &wake_at);
			for (i = fn->nreps; i-- > 0;) {
				struct rs_replica *r = fn->reps[i];

				if ((fn->removing || p->stopping) && r->state != RS_DRAINING)
					begin_drain(p, r, now);
				step(p, r, now, &start, &check, &gone);
			}
			any |= fn->nreps > 0;
		}
		if (p->stopping && !any)
			break;

		/* Act, without it. */
		replicas_unlock(p->rs);
		for (i = 0; i < start.n; i++)
			start_replica(p, ((struct rs_replica *)start.v[i])->priv);
		now = mono_ms();
		for (i = 0; i < check.n; i++)
			hc_begin(((struct rs_replica *)check.v[i])->priv, now);
		for (i = 0; i < gone.n; i++) {
			struct pp_rep *rp = ((struct rs_replica *)gone.v[i])->priv;

			if (rp->dir)
				rm_tree(rp->dir);
		}
		replicas_lock(p->rs);

		/* Publish. */
		now = mono_ms();
		for (i = 0; i < start.n; i++) {
			struct rs_replica *r = start.v[i];
			struct pp_rep *rp = r->priv;

			if (rp->running) {
				r->port = rp->port;
				replicas_set_state(p->rs, r, RS_STARTING);
				rp->next_check = now;
			} else {
				LOG_WARN("cannot start replica %s: %s; retrying in %lld ms",
					 r->instance, err_str(rp->start_rc), (long long)rp->backoff_ms);
				backoff(p, r, now);
			}
		}
		for (i = 0; i < check.n; i++) {
			struct rs_replica *r = check.v[i];

			if (((struct pp_rep *)r->priv)->hc_fd < 0)
				hc_done(p, r, false, now);
		}
		for (i = 0; i < gone.n; i++) {
			struct rs_replica *r = gone.v[i];
			struct pp_rep *rp = r->priv;

			gen_unref(rp->gen);
			replicas_detach(p->rs, r);
			rep_free(rp);
		}

		/* Wait for something to happen. */
		ps.n = 0;
		pollset_add(&ps, p->wake_fd, NULL, EV_EXIT);
		for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn)) {
			for (i = 0; i < fn->nreps; i++) {
				struct rs_replica *r = fn->reps[i];
				struct pp_rep *rp = r->priv;

				if (rp->running && rp->proc.pidfd >= 0)
					pollset_add(&ps, rp->proc.pidfd, r, EV_EXIT);
				else if (rp->running)
					no_pidfd = true;
				if (rp->hc_fd >= 0)
					pollset_add(&ps, rp->hc_fd, r, EV_HEALTH);
				wake_at = min64(wake_at, next_due(r, rp, now));
			}
		}
		timeout = (int)(wake_at > now ? min64(wake_at - now, 1000) : 0);
		if (no_pidfd && timeout > 50)
			timeout = 50;
		replicas_unlock(p->rs);
		if (poll(ps.fds, ps.n, timeout) < 0 && errno != EINTR)
			usleep(10000); /* out of memory for the poll set: do not spin */
		replicas_lock(p->rs);

		now = mono_ms();
		if (ps.n && ps.fds[0].revents)
			(void)!read(p->wake_fd, &junk, sizeof(junk));
		for (i = 1; i < ps.n; i++) {
			if (!ps.fds[i].revents)
				continue;
			if (ps.kinds[i] == EV_EXIT)
				check_exit(p, ps.reps[i], now);
			else
				hc_read(p, ps.reps[i], now);
		}
		if (no_pidfd) {
			for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn))
				for (i = 0; i < fn->nreps; i++)
					if (((struct pp_rep *)fn->reps[i]->priv)->proc.pidfd < 0)
						check_exit(p, fn->reps[i], now);
		}
	}
	replicas_unlock(p->rs);
	free(start.v);
	free(check.v);
	free(gone.v);
	free(ps.fds);
	free(ps.reps);
	free(ps.kinds);
	return NULL;
}

/* ---- provider operations ---------------------------------------------- */

static struct pp *pp_of(struct provider *base)
{
	return (struct pp *)base;
}

static void fn_priv_free(struct pp_fn *pf)
{
	if (!pf)
		return;
	gen_unref(pf->gen);
	free(pf->dir);
	free(pf);
}

static const char *ns_or_default(const char *ns)
{
	return ns && *ns ? ns : PP_DEFAULT_NS;
}

static int pp_apply(struct provider *base, const struct prov_spec *spec, struct buf *why)
{
	struct pp *p = pp_of(base);
	const char *ns = ns_or_default(spec->namespace), *name = spec->name;
	struct rs_function *fn;
	struct pp_gen *g = NULL;
	struct pp_fn *pf;
	int64_t deadline;
	unsigned gen;
	int rc;

	if (!path_ok(name) || !path_ok(ns)) {
		buf_printf(why, "'%s.%s' is not a valid function name", name ? name : "", ns);
		return -ERR_INVALID;
	}
	if ((rc = gen_new(spec, why, &g)))
		return rc;
	replicas_lock(p->rs);
	deadline = mono_ms() + PP_UPDATE_WAIT_MS;
	while ((fn = replicas_find(p->rs, ns, name)) && fn->removing) {
		if (replicas_wait(p->rs, deadline)) {
			buf_printf(why, "function '%s' is still being removed", name);
			rc = -ERR_UNAVAILABLE;
			goto out;
		}
	}
	if (!fn) {
		pf = calloc(1, sizeof(*pf));
		if (!pf || !(pf->dir = buf_asprintf("%s/%s/%s", p->root, ns, name))) {
			free(pf);
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = replicas_add_function(p->rs, ns, name, &fn))) {
			fn_priv_free(pf);
			goto out;
		}
		pf->gen = g;
		g = NULL;
		fn->priv = pf;
		fn->desired = spec->replicas;
		wake(p);
		goto out;
	}
	/* An update: a new generation, then the old one drains. */
	pf = fn->priv;
	gen_unref(pf->gen);
	pf->gen = g;
	g = NULL;
	gen = ++fn->generation;
	fn->desired = spec->replicas;
	pf->update_deadline = mono_ms() + PP_UPDATE_WAIT_MS;
	deadline = pf->update_deadline + 1000;
	wake(p);
	for (;;) {
		unsigned live_mask = RS_ANY & ~RS_MASK(RS_DRAINING);

		fn = replicas_find(p->rs, ns, name);
		if (!fn || fn->generation != gen ||
		    replicas_count(fn, live_mask, 0) == replicas_count(fn, live_mask, gen))
			break;
		if (replicas_wait(p->rs, deadline))
			break;
	}
out:
	gen_unref(g);
	replicas_unlock(p->rs);
	return rc;
}

static int pp_scale(struct provider *base, const char *ns, const char *name, unsigned replicas)
{
	struct pp *p = pp_of(base);
	struct rs_function *fn;
	int rc = 0;

	replicas_lock(p->rs);
	fn = replicas_find(p->rs, ns_or_default(ns), name);
	if (!fn || fn->removing) {
		rc = -ERR_NOT_FOUND;
	} else if (fn->desired != replicas) {
		fn->desired = replicas;
		wake(p);
	}
	replicas_unlock(p->rs);
	return rc;
}

static int pp_remove(struct provider *base, const char *ns, const char *name)
{
	struct pp *p = pp_of(base);
	struct rs_function *fn;
	struct pp_fn *pf;

	ns = ns_or_default(ns);
	replicas_lock(p->rs);
	fn = replicas_find(p->rs, ns, name);
	if (!fn || fn->removing) {
		replicas_unlock(p->rs);
		return -ERR_NOT_FOUND;
	}
	fn->removing = true;
	replicas_broadcast(p->rs);
	wake(p);
	while (fn->nreps)
		replicas_wait(p->rs, 0);
	pf = fn->priv;
	replicas_unlock(p->rs);

	/* Only this thread frees a function that is being removed. */
	rm_tree(pf->dir);
	streams_wait(p, ns, name);
	if (p->logs)
		logstore_remove(p->logs, ns, name);

	replicas_lock(p->rs);
	fn->priv = NULL;
	fn_priv_free(pf);
	replicas_remove_function(p->rs, fn);
	replicas_unlock(p->rs);
	return 0;
}

static int pp_status(struct provider *base, const char *ns, const char *name,
		     struct prov_status *out)
{
	return replicas_status(pp_of(base)->rs, ns_or_default(ns), name, out);
}

static int pp_acquire(struct provider *base, const char *ns, const char *name,
		      int64_t deadline_ms, struct prov_replica *out)
{
	return replicas_acquire(pp_of(base)->rs, ns_or_default(ns), name, deadline_ms, out);
}

static void pp_release(struct provider *base, struct prov_replica *r, bool failed)
{
	struct pp *p = pp_of(base);

	if (replicas_release(p->rs, r, failed))
		wake(p);
}

static void pp_info(struct provider *base, struct buf *out)
{
	static const char *const isolation[] = {
		[PP_PLAIN] = "none", [PP_USER] = "user", [PP_NAMESPACE] = "mount-namespace",
	};
	struct pp *p = pp_of(base);

	buf_printf(out, "{\"provider\":\"process\",\"orchestration\":\"process\","
		   "\"version\":{\"release\":\"%s\",\"sha\":\"\"},\"isolation\":\"%s\"",
		   CFAAS_VERSION, isolation[p->mode]);
	if (p->mode != PP_PLAIN) {
		buf_adds(out, ",\"runAs\":");
		buf_add_json_string(out, p->run_as, strlen(p->run_as));
	}
	buf_adds(out, "}");
}

static void pp_free(struct provider *base)
{
	struct pp *p = pp_of(base);
	struct rs_function *fn;
	uint64_t one = 1;

	if (!p)
		return;
	if (p->sup_running) {
		replicas_lock(p->rs);
		p->stopping = true;
		for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn))
			fn->removing = true;
		replicas_broadcast(p->rs);
		replicas_unlock(p->rs);
		wake(p);
		pthread_join(p->sup, NULL);
	}
	if (p->lp_running) {
		(void)!write(p->lp_stop_fd, &one, sizeof(one));
		pthread_join(p->lp, NULL);
	}
	if (p->rs) {
		while ((fn = replicas_next(p->rs, NULL))) {
			struct pp_fn *pf = fn->priv;

			if (pf)
				rm_tree(pf->dir);
			fn_priv_free(pf);
			fn->priv = NULL;
			if (replicas_remove_function(p->rs, fn))
				break;
		}
		replicas_free(p->rs);
	}
	if (p->root && p->root_is_tmp)
		rm_tree(p->root);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->lp_stop_fd >= 0)
		close(p->lp_stop_fd);
	if (p->ep_fd >= 0)
		close(p->ep_fd);
	pthread_cond_destroy(&p->lp_cond);
	pthread_mutex_destroy(&p->lp_mu);
	free(p->watchdog);
	free(p->data_dir);
	free(p->root);
	free(p->hide);
	free(p->path_env);
	free(p);
}

static const struct provider_ops process_ops = {
	.name = "process",
	.apply = pp_apply,
	.scale = pp_scale,
	.remove = pp_remove,
	.status = pp_status,
	.acquire = pp_acquire,
	.release = pp_release,
	.info = pp_info,
	.free = pp_free,
};

/* ---- creation ----------------------------------------------------------- */

/* Runs `watchdog --version` the way replicas will run, to learn whether
 * this mode works here. 0 or a negative code with why. */
static int probe(struct pp *p, struct buf *why)
{
	struct spawn_opts so = { 0 };
	struct spawn_proc proc;
	struct pp_child child;
	char *argv[3], *envp[2];
	char *dir = NULL, *work = NULL, *tmp = NULL, *secrets = NULL;
	int rc;

	dir = buf_asprintf("%s/.probe", p->root);
	work = buf_asprintf("%s/.probe/work", p->root);
	tmp = buf_asprintf("%s/.probe/tmp", p->root);
	secrets = buf_asprintf("%s/.probe/secrets", p->root);
	if (!dir || !work || !tmp || !secrets) {
		rc = -ENOMEM;
		goto out;
	}
	rm_tree(dir);
	if ((rc = make_dir(dir, p->mode == PP_USER ? 0711 : 0700)) ||
	    (rc = make_dir(work, 0700)) || (rc = own_path(p, work)) ||
	    (rc = make_dir(tmp, 0700)) || (rc = own_path(p, tmp)) ||
	    (rc = make_dir(secrets, 0500)) || (rc = own_path(p, secrets))) {
		buf_printf(why, "cannot create '%s': %s", dir, err_str(rc));
		goto out;
	}
	argv[0] = p->watchdog;
	argv[1] = "--version";
	argv[2] = NULL;
	envp[0] = p->path_env;
	envp[1] = NULL;
	child_init(p, &child, &so, secrets, tmp, work);
	so.argv = argv;
	so.envp = envp;
	so.in = so.out = so.err = SPAWN_FD_NULL;
	rc = spawn_start(&so, &proc);
	if (rc) {
		buf_printf(why, "cannot execute '%s'", p->watchdog);
		if (p->mode != PP_PLAIN)
			buf_printf(why, " as user '%s'", p->run_as);
		if (p->mode == PP_NAMESPACE)
			buf_adds(why, " in a mount namespace");
		buf_printf(why, ": %s", err_str(rc));
		goto out;
	}
	if (spawn_wait_timeout(&proc, PP_PROBE_MS)) {
		spawn_kill(&proc, SIGKILL);
		spawn_wait(&proc);
		buf_printf(why, "'%s --version' did not finish", p->watchdog);
		rc = -ERR_TIMEOUT;
		goto out;
	}
	spawn_wait(&proc);
	if (!WIFEXITED(proc.status) || WEXITSTATUS(proc.status) != 0) {
		buf_printf(why, "'%s --version' failed", p->watchdog);
		rc = -ERR_EXEC;
	}
out:
	if (dir)
		rm_tree(dir);
	free(dir);
	free(work);
	free(tmp);
	free(secrets);
	return rc;
}

static int lookup_user(struct pp *p, const char *user, struct buf *why)
{
	struct passwd pw, *res = NULL;
	char text[4096];
	int rc;

	if (strlen(user) >= sizeof(p->run_as)) {
		buf_printf(why, "run-as user '%s': name too long", user);
		return -ERR_INVALID;
	}
	rc = getpwnam_r(user, &pw, text, sizeof(text), &res);
	if (rc || !res) {
		buf_printf(why, "run-as user '%s' does not exist", user);
		return -ERR_INVALID;
	}
	if (pw.pw_uid == 0) {
		buf_printf(why, "run-as user '%s' is root: replicas must run unprivileged", user);
		return -ERR_INVALID;
	}
	snprintf(p->run_as, sizeof(p->run_as), "%s", user);
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	return 0;
}

/* Chooses the mode and the replica root, checking that replicas can run. */
static int choose_mode(struct pp *p, const char *run_as, struct buf *why)
{
	struct buf ns_why;
	char tmpl[] = "/tmp/cfaas-replicas-XXXXXX";
	int rc;

	p->root = buf_asprintf("%s/replicas", p->data_dir);
	if (!p->root)
		return -ENOMEM;
	rm_tree(p->root); /* what a gateway that was killed left behind */
	if ((rc = make_dir(p->root, 0700))) {
		buf_printf(why, "cannot create '%s': %s", p->root, err_str(rc));
		return rc;
	}
	if (geteuid() != 0) {
		p->mode = PP_PLAIN;
		return probe(p, why);
	}
	if ((rc = lookup_user(p, run_as && *run_as ? run_as : "nobody", why)))
		return rc;
	p->mode = PP_NAMESPACE;
	if (!path_under(p->data_dir, "/tmp") && !path_under(p->watchdog, p->data_dir) &&
	    !path_under(PP_OPENFAAS_DIR, p->data_dir) && strcmp(p->data_dir, "/") != 0 &&
	    !(p->hide = strdup(p->data_dir)))
		return -ENOMEM;
	buf_init(&ns_why, 1024);
	rc = make_dir(PP_OPENFAAS_DIR, 0755);
	if (!rc)
		rc = make_dir(PP_SECRETS_MOUNT, 0755);
	if (!rc)
		rc = make_dir(PP_WORK_MOUNT, 0755);
	if (rc)
		buf_printf(&ns_why, "cannot create '%s': %s", PP_WORK_MOUNT, err_str(rc));
	else
		rc = probe(p, &ns_why);
	if (!rc) {
		buf_release(&ns_why);
		return 0;
	}
	LOG_WARN("process provider: no mount namespaces for replicas (%s); they run as '%s' "
		 "with plain directories and can read each other's secrets",
		 buf_cstr(&ns_why), p->run_as);
	buf_release(&ns_why);
	free(p->hide);
	p->hide = NULL;
	p->mode = PP_USER;
	if (!mkdtemp(tmpl)) {
		rc = -errno;
		buf_printf(why, "cannot create a replica directory in /tmp: %s", err_str(rc));
		return rc;
	}
	rm_tree(p->root);
	free(p->root);
	p->root_is_tmp = true;
	if (!(p->root = strdup(tmpl)))
		return -ENOMEM;
	if ((rc = make_dir(p->root, 0711)))
		return rc;
	return probe(p, why);
}

int provider_process_new(const struct provider_opts *o, struct provider **out,
			 struct buf *why)
{
	struct pp *p;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	pthread_condattr_t ca;
	const char *path;
	int rc;

	*out = NULL;
	if (!o || !o->data_dir || !o->watchdog_path) {
		buf_adds(why, "the process provider needs a data dir and the watchdog's path");
		return -ERR_INVALID;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base.ops = &process_ops;
	p->wake_fd = p->lp_stop_fd = p->ep_fd = -1;
	p->logs = o->logs;
	pthread_mutex_init(&p->lp_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->lp_cond, &ca);
	pthread_condattr_destroy(&ca);
	p->watchdog = realpath(o->watchdog_path, NULL);
	if (!p->watchdog) {
		rc = -errno;
		buf_printf(why, "cannot find the watchdog '%s': %s", o->watchdog_path, err_str(rc));
		goto fail;
	}
	if (mkdir(o->data_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		buf_printf(why, "cannot create '%s': %s", o->data_dir, err_str(rc));
		goto fail;
	}
	p->data_dir = realpath(o->data_dir, NULL);
	if (!p->data_dir) {
		rc = -errno;
		buf_printf(why, "cannot resolve '%s': %s", o->data_dir, err_str(rc));
		goto fail;
	}
	/* Replicas get the PATH the gateway was started with. */
	path = o->path;
	p->path_env = buf_asprintf("PATH=%s", path && *path ? path : PP_DEFAULT_PATH);
	if (!p->path_env) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = choose_mode(p, o->run_as, why)))
		goto fail;
	if ((rc = replicas_new(&p->rs)))
		goto fail;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->lp_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->wake_fd < 0 || p->lp_stop_fd < 0 || p->ep_fd < 0 ||
	    epoll_ctl(p->ep_fd, EPOLL_CTL_ADD, p->lp_stop_fd, &ev) < 0) {
		rc = -errno;
		buf_printf(why, "cannot create the supervisor's descriptors: %s", err_str(rc));
		goto fail;
	}
	if ((rc = -pthread_create(&p->lp, NULL, log_pump, p)))
		goto fail;
	p->lp_running = true;
	if ((rc = -pthread_create(&p->sup, NULL, supervise, p)))
		goto fail;
	p->sup_running = true;
	if (p->mode == PP_NAMESPACE)
		LOG_INFO("process provider: replicas run as '%s' in their own mount namespace",
			 p->run_as);
	else if (p->mode == PP_PLAIN)
		LOG_INFO("process provider: replicas run as the gateway's user (not root: no isolation)");
	*out = &p->base;
	return 0;
fail:
	if (rc && !why->len)
		buf_printf(why, "cannot start the process provider: %s", err_str(rc));
	pp_free(&p->base);
	return rc;
}
