/*
 * provider_docker.c - function replicas as containers, through the Docker
 * Engine API (Docker, or Podman's `podman system service`).
 *
 * Each replica is one container made from the deployment's image with the
 * watchdog listening on 8080 inside and that port published on 127.0.0.1
 * only (a free host port the engine picks). A container carries labels
 * that let a restarted gateway find it again:
 *
 *   faas_function=NAME  cfaas.namespace=NS  cfaas.gateway=ID
 *   cfaas.spec=HASH     the deployment's labels, its annotations as
 *                       com.openfaas.annotations.KEY
 *
 * ID is random, kept in <data dir>/docker-gateway-id, so two gateways on
 * one engine never touch each other's containers; HASH digests everything
 * the container was made from (deployment and secret values). When the
 * gateway starts again and restores a function, running containers with
 * the current HASH are adopted as they are; any others are removed.
 * Stopping the gateway leaves the containers running for that reason;
 * containers of functions deleted meanwhile are removed a little after
 * the start (once every stored function was restored).
 *
 * Every container gets a tmpfs at /tmp (the watchdog's lock file needs a
 * writable TMPDIR, also in an image from scratch or a read-only root).
 *
 * Secrets are files (mode 0444) in <data dir>/docker/secrets/NS/NAME/HASH,
 * bind-mounted read-only at /var/openfaas/secrets; the data dir is 0700, so
 * only the container sees them.
 *
 * Threads. As in the process provider, callers only change what is wanted
 * under the replica set's lock and wake the supervisor, which does all the
 * work: it creates, starts and removes containers, checks the watchdogs'
 * /_/health, inspects a container that stopped answering and restarts a
 * dead one with back-off. Engine calls block, so they run without the
 * lock; only the supervisor detaches replicas (and creates them, but for
 * the containers a restart adopts, which apply adds). A second thread
 * copies the containers' output into the log store every half second
 * (GET /containers/ID/logs with timestamps, so nothing is copied twice).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "docker_api.h"
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

#define PD_DEFAULT_NS "openfaas-fn"
#define PD_PORT 8080
#define PD_SECRETS_MOUNT "/var/openfaas/secrets"
#define PD_LABEL_NS "cfaas.namespace"
#define PD_LABEL_GW "cfaas.gateway"
#define PD_LABEL_SPEC "cfaas.spec"
#define PD_LABEL_ANN "com.openfaas.annotations."
#define PD_UPDATE_WAIT_MS 60000        /* new generation ready, else drain anyway */
#define PD_BACKOFF_MIN_MS 250
#define PD_BACKOFF_MAX_MS 10000
#define PD_STABLE_MS 60000             /* a run this long resets the back-off */
#define PD_CHECK_FAST_MS 20            /* health polls of a fresh replica */
#define PD_FAST_FOR_MS 5000            /* ... for this long after its start */
#define PD_CHECK_SLOW_MS 200           /* then, until it answers */
#define PD_CHECK_READY_MS 1000         /* health polls of a ready replica */
#define PD_INSPECT_MS 500              /* a replica not answering: inspect it */
#define PD_HEALTH_TIMEOUT_MS 1000
#define PD_WRITE_TIMEOUT_MS 30000
#define PD_LOG_EVERY_MS 500
#define PD_MAX_SECRETS_DIR 4096
#define PD_SWEEP_AFTER_MS 20000        /* after start: remove orphaned containers */

/* What one generation of a function runs with. Immutable once made;
 * shared by the function and its replicas (refs under the set lock). */
struct pd_gen {
	unsigned refs;
	json_t *config;         /* the create body, without Labels' instance */
	char hash[17];
	char *secrets_dir;      /* NULL: no secrets */
	int64_t write_timeout_ms;
};

struct pd_fn {
	struct pd_gen *gen;
	int64_t update_deadline;
};

/* The provider's part of a replica. Touched by the supervisor only, except
 * id (read by the log thread under the lock once id_public is set). */
struct pd_rep {
	struct pd_gen *gen;
	char id[80];
	bool id_public;
	bool adopted;
	bool running;
	bool gone;
	int port;
	int start_rc;
	char err[256];
	int64_t started_at, retry_at, backoff_ms, next_check, next_inspect, drain_at;
};

/* What the unlocked stretch does to one replica, and its result. */
enum pd_job { JOB_START, JOB_CHECK, JOB_REMOVE };

struct pd_work {
	struct rs_replica *r;
	struct pd_rep *rp;
	enum pd_job job;
	char ns[64], name[64], instance[96];
	bool healthy, dead, inspected, vanished;
	int exit_code;
};

struct pd {
	struct provider base;
	struct replicas *rs;
	struct logstore *logs;
	struct docker *dk;
	char *socket;
	char *secrets_root;     /* <data dir>/docker/secrets */
	char gw_id[17];
	char engine[128];
	bool stopping;          /* under the set lock */
	int64_t sweep_at;       /* supervisor: when to look for orphans (0: done) */
	int wake_fd;
	pthread_t sup, lt;
	bool sup_running, lt_running;
	int lt_stop_fd;
	/* Held by the log thread for a whole round: remove() takes it, so no
	 * round that saw a function's containers appends after its log is
	 * deleted. */
	pthread_mutex_t lt_mu;
};

/* A container the log thread follows. */
struct pd_tail {
	char id[80];
	char ns[64], name[64], instance[96];
	int64_t last_ns;
	bool seen;
	bool adopted;
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void wake(struct pd *p)
{
	uint64_t one = 1;

	(void)!write(p->wake_fd, &one, sizeof(one));
}

static bool name_ok(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/') && strlen(s) < 64;
}

static const char *ns_or_default(const char *ns)
{
	return ns && *ns ? ns : PD_DEFAULT_NS;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- files ------------------------------------------------------------ */

static int make_dirs(const char *path, mode_t mode)
{
	char tmp[PD_MAX_SECRETS_DIR];
	size_t i, n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		if (i < n)
			tmp[i] = '/';
	}
	return 0;
}

/* rm -r of path (a secrets dir: directories and plain files only),
 * without following symbolic links. */
static void rm_tree(const char *path, int depth)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode) || depth > 8) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			char *sub;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			sub = buf_asprintf("%s/%s", path, e->d_name);
			if (sub)
				rm_tree(sub, depth + 1);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/* ---- generations ------------------------------------------------------ */

static void gen_free(struct pd_gen *g)
{
	if (!g)
		return;
	json_decref(g->config);
	free(g->secrets_dir);
	free(g);
}

static void gen_unref(struct pd_gen *g)
{
	if (g && --g->refs == 0)
		gen_free(g);
}

static bool env_reserved(const char *key)
{
	static const char *const keys[] = {
		"port", "bind_address", "secret_mount_path",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

static void fnv(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 1099511628211ull;
	}
	*h ^= 0xff;
	*h *= 1099511628211ull;
}

/* Writes the secrets into dir (made 0755, files 0444). */
static int write_secrets(const struct prov_spec *spec, const char *dir, struct buf *why)
{
	size_t i;
	int rc;

	if ((rc = make_dirs(dir, 0755))) {
		buf_printf(why, "cannot create '%s': %s", dir, err_str(rc));
		return rc;
	}
	for (i = 0; i < spec->nsecrets; i++) {
		char *path = buf_asprintf("%s/%s", dir, spec->secrets[i].name);
		const char *v = spec->secrets[i].value;
		size_t off = 0;
		int fd;

		if (!path)
			return -ENOMEM;
		unlink(path);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0444);
		free(path);
		if (fd < 0) {
			rc = -errno;
			buf_printf(why, "cannot write secret '%s': %s", spec->secrets[i].name,
				   err_str(rc));
			return rc;
		}
		while (off < spec->secrets[i].len) {
			ssize_t w = write(fd, v + off, spec->secrets[i].len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = -errno;
				close(fd);
				return rc;
			}
			off += (size_t)w;
		}
		fchmod(fd, 0444);
		close(fd);
	}
	return 0;
}

/* Builds the container config of spec (everything but the instance). */
static int gen_new(struct pd *p, const struct prov_spec *spec, struct buf *why,
		   struct pd_gen **out)
{
	const struct wire_deploy *d = spec->deploy;
	const char *ns = ns_or_default(spec->namespace);
	struct pd_gen *g = calloc(1, sizeof(*g));
	json_t *env, *labels, *hc, *ports, *bind;
	struct buf dump;
	uint64_t h = 14695981039346656037ull;
	char portkey[16];
	size_t i;
	int rc = 0;

	*out = NULL;
	buf_init(&dump, 4u * 1024 * 1024);
	if (!g)
		return -ENOMEM;
	g->refs = 1;
	g->write_timeout_ms = PD_WRITE_TIMEOUT_MS;
	if ((rc = wire_deploy_dump(d, &dump))) {
		buf_adds(why, "cannot encode the deployment");
		goto out;
	}
	fnv(&h, dump.data, dump.len);
	fnv(&h, ns, strlen(ns));
	for (i = 0; i < spec->nsecrets; i++) {
		fnv(&h, spec->secrets[i].name, strlen(spec->secrets[i].name));
		fnv(&h, spec->secrets[i].value, spec->secrets[i].len);
	}
	snprintf(g->hash, sizeof(g->hash), "%016llx", (unsigned long long)h);

	env = json_array();
	if (d->env_process && *d->env_process)
		json_array_append_new(env, json_sprintf("fprocess=%s", d->env_process));
	for (i = 0; i < d->env_vars.n; i++) {
		const struct wire_kv *kv = &d->env_vars.items[i];
		int64_t ms;

		if (env_reserved(kv->key))
			continue;
		if (!strcmp(kv->key, "write_timeout") && !parse_duration_ms(kv->value, &ms) && ms > 0)
			g->write_timeout_ms = ms;
		json_array_append_new(env, json_sprintf("%s=%s", kv->key, kv->value));
	}
	json_array_append_new(env, json_sprintf("port=%d", PD_PORT));
	json_array_append_new(env, json_string("bind_address=0.0.0.0"));
	json_array_append_new(env, json_string("secret_mount_path=" PD_SECRETS_MOUNT));

	labels = json_object();
	for (i = 0; i < d->labels.n; i++)
		json_object_set_new(labels, d->labels.items[i].key,
				    json_string(d->labels.items[i].value));
	for (i = 0; i < d->annotations.n; i++) {
		char *k = buf_asprintf(PD_LABEL_ANN "%s", d->annotations.items[i].key);

		if (k)
			json_object_set_new(labels, k, json_string(d->annotations.items[i].value));
		free(k);
	}
	json_object_set_new(labels, "faas_function", json_string(spec->name));
	json_object_set_new(labels, PD_LABEL_NS, json_string(ns));
	json_object_set_new(labels, PD_LABEL_GW, json_string(p->gw_id));
	json_object_set_new(labels, PD_LABEL_SPEC, json_string(g->hash));

	snprintf(portkey, sizeof(portkey), "%d/tcp", PD_PORT);
	hc = json_object();
	ports = json_object();
	bind = json_object();
	json_object_set_new(bind, "HostIp", json_string("127.0.0.1"));
	json_object_set_new(bind, "HostPort", json_string(""));
	json_object_set_new(ports, portkey, json_pack("[o]", bind));
	json_object_set_new(hc, "PortBindings", ports);
	json_object_set_new(hc, "RestartPolicy", json_pack("{s:s}", "Name", "no"));
	if (d->limits.memory_bytes)
		json_object_set_new(hc, "Memory", json_integer((json_int_t)d->limits.memory_bytes));
	if (d->limits.cpu_millis)
		json_object_set_new(hc, "NanoCpus",
				    json_integer((json_int_t)d->limits.cpu_millis * 1000000));
	/* The watchdog writes its lock file to TMPDIR (/tmp): an image built
	 * from scratch has no /tmp and a read-only root none that is
	 * writable, so every container gets a small tmpfs there. */
	json_object_set_new(hc, "Tmpfs", json_pack("{s:s}", "/tmp", "rw,size=64m,mode=1777"));
	if (d->read_only_root_filesystem)
		json_object_set_new(hc, "ReadonlyRootfs", json_true());
	if (spec->nsecrets) {
		g->secrets_dir = buf_asprintf("%s/%s/%s/%s", p->secrets_root, ns, spec->name, g->hash);
		if (!g->secrets_dir) {
			rc = -ENOMEM;
			goto out_json;
		}
		if ((rc = write_secrets(spec, g->secrets_dir, why)))
			goto out_json;
		json_object_set_new(hc, "Binds",
				    json_pack("[o]", json_sprintf("%s:%s:ro", g->secrets_dir,
								  PD_SECRETS_MOUNT)));
	}
	g->config = json_pack("{s:s, s:o, s:o, s:{s:{}}, s:o}", "Image", d->image, "Env", env,
			      "Labels", labels, "ExposedPorts", portkey, "HostConfig", hc);
	env = labels = hc = NULL;
	if (!g->config)
		rc = -ENOMEM;
out_json:
	json_decref(env);
	json_decref(labels);
	json_decref(hc);
out:
	buf_release(&dump);
	if (rc) {
		gen_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* ---- engine calls (unlocked) ------------------------------------------- */

/* The host port published for the watchdog, from inspect data. */
static int port_of(json_t *insp)
{
	char key[16];
	json_t *b;
	const char *s;
	uint64_t v;

	snprintf(key, sizeof(key), "%d/tcp", PD_PORT);
	b = json_object_get(json_object_get(json_object_get(insp, "NetworkSettings"), "Ports"), key);
	s = json_string_value(json_object_get(json_array_get(b, 0), "HostPort"));
	if (!s || parse_uint(s, 65535, &v) || !v)
		return 0;
	return (int)v;
}

static bool running_of(json_t *insp, int *exit_code)
{
	json_t *st = json_object_get(insp, "State");

	if (exit_code)
		*exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
	return json_is_true(json_object_get(st, "Running"));
}

static void rep_log(struct pd *p, const struct pd_work *w, const char *text)
{
	if (p->logs)
		logstore_append(p->logs, w->ns, w->name, w->instance, text, strlen(text));
}

/* Creates the container if it has none yet, starts it and reads its port. */
static void job_start(struct pd *p, struct pd_work *w)
{
	struct pd_rep *rp = w->rp;
	struct buf why;
	json_t *cfg = NULL, *insp = NULL;
	char cname[256], rnd[4];
	int rc = 0;

	buf_init(&why, 2048);
	if (!rp->id[0]) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		snprintf(cname, sizeof(cname), "cfaas-%.8s-%s-%s-%02x%02x%02x%02x", p->gw_id,
			 w->name, w->ns, (unsigned char)rnd[0], (unsigned char)rnd[1],
			 (unsigned char)rnd[2], (unsigned char)rnd[3]);
		cfg = json_deep_copy(rp->gen->config);
		if (!cfg) {
			rc = -ENOMEM;
			goto out;
		}
		json_object_set_new(json_object_get(cfg, "Labels"), "cfaas.instance",
				    json_string(w->instance));
		rc = docker_container_create(p->dk, cname, cfg, rp->id, sizeof(rp->id), &why);
		if (rc)
			goto out;
	}
	if ((rc = docker_container_start(p->dk, rp->id, &why)))
		goto out;
	if ((rc = docker_container_inspect(p->dk, rp->id, &insp, &why)))
		goto out;
	rp->port = port_of(insp);
	if (!rp->port) {
		buf_adds(&why, "the engine published no port for the watchdog");
		rc = -ERR_PROTOCOL;
		goto out;
	}
	rp->running = true;
	rp->started_at = mono_ms();
out:
	rp->start_rc = rc;
	if (rc) {
		copy_str(rp->err, sizeof(rp->err), why.len ? buf_cstr(&why) : err_str(rc));
		rep_log(p, w, rp->err);
	}
	json_decref(cfg);
	json_decref(insp);
	buf_release(&why);
}

/* GET /_/health from the watchdog: true on 200. */
static bool health(int port)
{
	static const char req[] = "GET /_/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "User-Agent: cfaas-gateway\r\nConnection: close\r\n\r\n";
	int64_t deadline = mono_ms() + PD_HEALTH_TIMEOUT_MS;
	struct http_head h;
	char data[1024];
	size_t len = 0;
	bool ok = false;
	int fd, rc;

	fd = net_connect("127.0.0.1", port, deadline);
	if (fd < 0)
		return false;
	if (net_write_all(fd, req, sizeof(req) - 1, deadline))
		goto out;
	while (len < sizeof(data)) {
		ssize_t n;

		if (net_wait(fd, POLLIN, deadline))
			break;
		n = recv(fd, data + len, sizeof(data) - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		rc = http_head_parse(&h, data, len, false);
		if (rc > 0) {
			ok = h.status == 200;
			http_head_release(&h);
			break;
		}
		if (rc < 0)
			break;
	}
out:
	close(fd);
	return ok;
}

static void job_check(struct pd *p, struct pd_work *w, int64_t now)
{
	struct pd_rep *rp = w->rp;
	json_t *insp = NULL;

	w->healthy = health(rp->port);
	if (w->healthy || now < rp->next_inspect)
		return;
	rp->next_inspect = now + PD_INSPECT_MS;
	w->inspected = true;
	if (docker_container_inspect(p->dk, rp->id, &insp, NULL) == -ERR_NOT_FOUND) {
		/* Removed behind our back: a new one is made at the restart. */
		w->dead = true;
		w->vanished = true;
		w->exit_code = -1;
		return;
	}
	if (insp && !running_of(insp, &w->exit_code))
		w->dead = true;
	json_decref(insp);
}

/* ---- the supervisor ----------------------------------------------------- */

struct vec {
	struct pd_work *v;
	size_t n, cap;
};

static struct pd_work *vec_add(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct pd_work *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		v->v = nv;
		v->cap = cap;
	}
	memset(&v->v[v->n], 0, sizeof(v->v[0]));
	return &v->v[v->n++];
}

/* Locked. A new replica of fn's current generation (adopt: an existing
 * container, running on port). */
static int new_replica(struct pd *p, struct rs_function *fn, int64_t now, const char *adopt_id,
		       int port)
{
	struct pd_fn *pf = fn->priv;
	struct rs_replica *r;
	struct pd_rep *rp = calloc(1, sizeof(*rp));
	int rc;

	if (!rp)
		return -ENOMEM;
	rp->retry_at = now;
	rp->backoff_ms = PD_BACKOFF_MIN_MS;
	rc = replicas_add(p->rs, fn, fn->generation, &r);
	if (rc) {
		free(rp);
		return rc;
	}
	rp->gen = pf->gen;
	rp->gen->refs++;
	r->priv = rp;
	if (adopt_id) {
		copy_str(rp->id, sizeof(rp->id), adopt_id);
		rp->id_public = true;
		rp->adopted = true;
		rp->running = true;
		rp->port = port;
		r->port = port;
		rp->started_at = now;
		rp->next_check = now;
	}
	return 0;
}

static void begin_drain(struct pd *p, struct rs_replica *r, int64_t now)
{
	struct pd_rep *rp = r->priv;

	replicas_set_state(p->rs, r, RS_DRAINING);
	rp->drain_at = now;
}

static int start_one(void *p, struct rs_function *fn, int64_t now)
{
	return new_replica(p, fn, now, NULL, 0);
}

static void drain_one(void *p, struct rs_replica *r, int64_t now)
{
	begin_drain(p, r, now);
}

/* Locked. Creates or drains replicas so fn matches what is wanted. */
static void reconcile(struct pd *p, struct rs_function *fn, int64_t now, int64_t *wake_at)
{
	static const struct rs_actions act = { start_one, drain_one };
	struct pd_fn *pf = fn->priv;

	replicas_reconcile(fn, now, pf->update_deadline, wake_at, &act, p);
}

static int64_t check_interval(const struct rs_replica *r, const struct pd_rep *rp, int64_t now)
{
	if (r->state == RS_READY)
		return PD_CHECK_READY_MS;
	return now - rp->started_at < PD_FAST_FOR_MS ? PD_CHECK_FAST_MS : PD_CHECK_SLOW_MS;
}

static void backoff(struct pd *p, struct rs_replica *r, int64_t now)
{
	struct pd_rep *rp = r->priv;

	if (rp->started_at && now - rp->started_at >= PD_STABLE_MS)
		rp->backoff_ms = PD_BACKOFF_MIN_MS;
	rp->retry_at = now + rp->backoff_ms;
	rp->backoff_ms = min64(rp->backoff_ms * 2, PD_BACKOFF_MAX_MS);
	replicas_set_state(p->rs, r, RS_BACKOFF);
}

static void work_add(struct vec *v, struct rs_replica *r, enum pd_job job)
{
	struct pd_work *w = vec_add(v);

	if (!w)
		return;
	w->r = r;
	w->rp = r->priv;
	w->job = job;
	copy_str(w->ns, sizeof(w->ns), r->fn->ns);
	copy_str(w->name, sizeof(w->name), r->fn->name);
	copy_str(w->instance, sizeof(w->instance), r->instance);
}

/* Locked. One replica's next step. */
static void step(struct rs_replica *r, int64_t now, struct vec *work, int64_t *wake_at)
{
	struct pd_rep *rp = r->priv;

	if (rp->gone)
		return;
	if (r->state == RS_DRAINING) {
		if (r->inflight == 0 || now >= rp->drain_at + rp->gen->write_timeout_ms) {
			rp->gone = true;
			work_add(work, r, JOB_REMOVE);
		} else {
			*wake_at = min64(*wake_at, rp->drain_at + rp->gen->write_timeout_ms);
		}
		return;
	}
	if (!rp->running) {
		r->check_now = false;
		if (now >= rp->retry_at)
			work_add(work, r, JOB_START);
		else
			*wake_at = min64(*wake_at, rp->retry_at);
		return;
	}
	if (r->check_now || now >= rp->next_check) {
		r->check_now = false;
		work_add(work, r, JOB_CHECK);
	} else {
		*wake_at = min64(*wake_at, rp->next_check);
	}
}

/* Locked. Publishes what the unlocked stretch found. */
static void publish(struct pd *p, struct pd_work *w, int64_t now)
{
	struct rs_replica *r = w->r;
	struct pd_rep *rp = w->rp;

	switch (w->job) {
	case JOB_START:
		if (rp->id[0])
			rp->id_public = true;
		if (r->state == RS_DRAINING)
			return;
		if (rp->running) {
			r->port = rp->port;
			replicas_set_state(p->rs, r, RS_STARTING);
			rp->next_check = now;
			rp->next_inspect = now + PD_INSPECT_MS;
		} else {
			LOG_WARN("cannot start replica %s: %s; retrying in %lld ms", r->instance,
				 rp->err, (long long)rp->backoff_ms);
			backoff(p, r, now);
		}
		return;
	case JOB_CHECK:
		if (w->vanished) {
			rp->id_public = false;
			rp->id[0] = '\0';
		}
		if (r->state == RS_DRAINING)
			return;
		if (w->dead) {
			rp->running = false;
			if (r->generation != r->fn->generation) {
				begin_drain(p, r, now);
				return;
			}
			LOG_WARN("replica %s exited (exit code %d); restarting in %lld ms",
				 r->instance, w->exit_code, (long long)rp->backoff_ms);
			backoff(p, r, now);
			return;
		}
		if (w->healthy && r->state != RS_READY) {
			replicas_set_state(p->rs, r, RS_READY);
			LOG_DEBUG("replica %s ready on port %d after %lld ms", r->instance, r->port,
				  (long long)(now - rp->started_at));
		} else if (!w->healthy && r->state == RS_READY) {
			replicas_set_state(p->rs, r, RS_STARTING);
			LOG_WARN("replica %s stopped answering its health check", r->instance);
		}
		rp->next_check = now + check_interval(r, rp, now);
		return;
	case JOB_REMOVE:
		gen_unref(rp->gen);
		replicas_detach(p->rs, r);
		free(rp);
		return;
	}
}

/* Supervisor, locked on entry and exit. Removes the containers of this
 * gateway that belong to no replica: those of functions deleted while the
 * gateway was down (a restart restores, and so adopts, every function that
 * still exists before this runs). */
static void sweep(struct pd *p)
{
	char label[64];
	const char *filters[1] = { label };
	struct rs_function *fn;
	char (*ids)[80] = NULL;
	size_t n = 0, cap = 0, i, k;
	json_t *list = NULL, *c;

	for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn)) {
		for (i = 0; i < fn->nreps; i++) {
			struct pd_rep *rp = fn->reps[i]->priv;

			if (!rp || !rp->id[0])
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 32;
				char (*ni)[80] = realloc(ids, nc * sizeof(*ni));

				if (!ni)
					goto out_locked;
				ids = ni;
				cap = nc;
			}
			copy_str(ids[n++], 80, rp->id);
		}
	}
	replicas_unlock(p->rs);
	snprintf(label, sizeof(label), PD_LABEL_GW "=%s", p->gw_id);
	if (!docker_container_list(p->dk, filters, 1, &list, NULL)) {
		json_array_foreach(list, i, c) {
			const char *id = json_string_value(json_object_get(c, "Id"));
			const char *f = json_string_value(
				json_object_get(json_object_get(c, "Labels"), "faas_function"));

			if (!id)
				continue;
			for (k = 0; k < n && strcmp(ids[k], id); k++)
				;
			if (k < n)
				continue;
			LOG_INFO("removing container %.12s of function '%s': no such function",
				 id, f ? f : "?");
			docker_container_remove(p->dk, id, NULL);
		}
	}
	json_decref(list);
	replicas_lock(p->rs);
out_locked:
	free(ids);
}

static void *supervise(void *arg)
{
	struct pd *p = arg;
	struct vec work = { 0 };
	size_t i;

	replicas_lock(p->rs);
	for (;;) {
		struct rs_function *fn;
		int64_t now = mono_ms(), wake_at = now + 1000;
		struct pollfd pfd;
		uint64_t junk;

		work.n = 0;
		if (p->stopping)
			break;
		if (p->sweep_at && now >= p->sweep_at) {
			p->sweep_at = 0;
			sweep(p);
			now = mono_ms();
		} else if (p->sweep_at) {
			wake_at = min64(wake_at, p->sweep_at);
		}
		for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn)) {
			if (!fn->priv)
				continue;
			if (!fn->removing)
				reconcile(p, fn, now, &wake_at);
			for (i = fn->nreps; i-- > 0;) {
				struct rs_replica *r = fn->reps[i];

				if (fn->removing && r->state != RS_DRAINING)
					begin_drain(p, r, now);
				step(r, now, &work, &wake_at);
			}
		}

		replicas_unlock(p->rs);
		for (i = 0; i < work.n; i++) {
			struct pd_work *w = &work.v[i];

			if (w->job == JOB_START)
				job_start(p, w);
			else if (w->job == JOB_CHECK)
				job_check(p, w, mono_ms());
			else if (w->rp->id[0])
				docker_container_remove(p->dk, w->rp->id, NULL);
		}
		replicas_lock(p->rs);

		now = mono_ms();
		for (i = 0; i < work.n; i++)
			publish(p, &work.v[i], now);
		if (work.n)
			continue; /* states changed: decide again at once */

		pfd.fd = p->wake_fd;
		pfd.events = POLLIN;
		replicas_unlock(p->rs);
		if (poll(&pfd, 1, (int)(wake_at > now ? min64(wake_at - now, 1000) : 0)) > 0)
			(void)!read(p->wake_fd, &junk, sizeof(junk));
		replicas_lock(p->rs);
	}
	replicas_unlock(p->rs);
	free(work.v);
	return NULL;
}

/* ---- the log thread ------------------------------------------------------ */

struct line_ctx {
	struct pd *p;
	struct pd_tail *t;
	int64_t max_ns;
	bool copying;    /* the last stamped line was new */
};

/* A line without a timestamp continues the stamped line before it (a
 * long line split into frames): it is copied when that line was. */
static void on_line(void *arg, int64_t ts_ns, const char *text, size_t len)
{
	struct line_ctx *lc = arg;

	if (ts_ns)
		lc->copying = ts_ns > lc->t->last_ns;
	if (!lc->copying)
		return;
	if (ts_ns > lc->max_ns)
		lc->max_ns = ts_ns;
	if (len > LOGSTORE_MAX_ENTRY)
		len = LOGSTORE_MAX_ENTRY;
	logstore_append(lc->p->logs, lc->t->ns, lc->t->name, lc->t->instance, text, len);
}

static void *log_thread(void *arg)
{
	struct pd *p = arg;
	struct pd_tail *tails = NULL, *snap = NULL;
	size_t ntails = 0, nsnap = 0, cap = 0, i, j;
	struct buf raw;

	buf_init(&raw, DOCKER_MAX_RESPONSE);
	for (;;) {
		struct pollfd pfd = { .fd = p->lt_stop_fd, .events = POLLIN };
		struct rs_function *fn;

		if (poll(&pfd, 1, PD_LOG_EVERY_MS) > 0)
			break;
		/* Which containers exist now. */
		nsnap = 0;
		pthread_mutex_lock(&p->lt_mu);
		replicas_lock(p->rs);
		for (fn = replicas_next(p->rs, NULL); fn; fn = replicas_next(p->rs, fn)) {
			if (fn->removing)
				continue; /* its log is about to go */
			for (i = 0; i < fn->nreps; i++) {
				struct pd_rep *rp = fn->reps[i]->priv;

				if (!rp || !rp->id_public)
					continue;
				if (nsnap == cap) {
					size_t nc = cap ? cap * 2 : 16;
					struct pd_tail *ns = realloc(snap, nc * sizeof(*ns));

					if (!ns)
						break;
					snap = ns;
					cap = nc;
				}
				memset(&snap[nsnap], 0, sizeof(snap[0]));
				copy_str(snap[nsnap].id, sizeof(snap[0].id), rp->id);
				snap[nsnap].adopted = rp->adopted;
				copy_str(snap[nsnap].ns, sizeof(snap[0].ns), fn->ns);
				copy_str(snap[nsnap].name, sizeof(snap[0].name), fn->name);
				copy_str(snap[nsnap].instance, sizeof(snap[0].instance),
					 fn->reps[i]->instance);
				nsnap++;
			}
		}
		replicas_unlock(p->rs);
		/* Carry each container's cursor over; a container seen for the
		 * first time is read from its beginning (an adopted one from now). */
		for (i = 0; i < nsnap; i++) {
			for (j = 0; j < ntails; j++) {
				if (!strcmp(tails[j].id, snap[i].id)) {
					snap[i].last_ns = tails[j].last_ns;
					snap[i].seen = true;
					break;
				}
			}
		}
		for (i = 0; i < nsnap; i++) {
			struct line_ctx lc = { p, &snap[i], snap[i].last_ns, false };
			int64_t since = snap[i].last_ns / 1000000000;

			if (!snap[i].seen && snap[i].adopted) {
				/* An adopted container's earlier output was copied
				 * by the gateway that made it. */
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				snap[i].last_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
				lc.max_ns = snap[i].last_ns;
				since = ts.tv_sec;
			}
			buf_reset(&raw);
			if (docker_container_logs(p->dk, snap[i].id, since, &raw, NULL))
				continue;
			docker_logs_lines(raw.data ? raw.data : "", raw.len, on_line, &lc);
			snap[i].last_ns = lc.max_ns;
			snap[i].seen = true;
		}
		pthread_mutex_unlock(&p->lt_mu);
		/* The snapshot becomes the list of tails. */
		free(tails);
		tails = snap;
		ntails = nsnap;
		snap = NULL;
		cap = 0;
	}
	free(tails);
	free(snap);
	buf_release(&raw);
	return NULL;
}

/* ---- provider operations ------------------------------------------------ */

static struct pd *pd_of(struct provider *base)
{
	return (struct pd *)base;
}

static void fn_priv_free(struct pd_fn *pf)
{
	if (!pf)
		return;
	gen_unref(pf->gen);
	free(pf);
}

/* Finds the containers a previous gateway left for (ns, name): those made
 * from g are adopted (up to want of them, running ones only), the others
 * removed. Unlocked. Fills ids/ports (n of them, cap given). */
static void find_adoptable(struct pd *p, const char *ns, const char *name,
			   const struct pd_gen *g, unsigned want, char (*ids)[80], int *ports,
			   size_t *n)
{
	char lgw[64], lfn[128], lns[128];
	const char *filters[3] = { lgw, lfn, lns };
	json_t *list = NULL, *c;
	size_t i;

	*n = 0;
	snprintf(lgw, sizeof(lgw), PD_LABEL_GW "=%s", p->gw_id);
	snprintf(lfn, sizeof(lfn), "faas_function=%s", name);
	snprintf(lns, sizeof(lns), PD_LABEL_NS "=%s", ns);
	if (docker_container_list(p->dk, filters, 3, &list, NULL))
		return;
	json_array_foreach(list, i, c) {
		const char *id = json_string_value(json_object_get(c, "Id"));
		const char *spec = json_string_value(
			json_object_get(json_object_get(c, "Labels"), PD_LABEL_SPEC));
		json_t *insp = NULL;
		int port = 0;

		if (!id)
			continue;
		if (*n < want && spec && !strcmp(spec, g->hash) &&
		    !docker_container_inspect(p->dk, id, &insp, NULL) && running_of(insp, NULL) &&
		    (port = port_of(insp)) > 0) {
			copy_str(ids[*n], 80, id);
			ports[*n] = port;
			(*n)++;
			LOG_INFO("adopted container %.12s of %s.%s (port %d)", id, name, ns, port);
		} else {
			docker_container_remove(p->dk, id, NULL);
		}
		json_decref(insp);
	}
	json_decref(list);
}

#define PD_MAX_ADOPT 64

static int pd_apply(struct provider *base, const struct prov_spec *spec, struct buf *why)
{
	struct pd *p = pd_of(base);
	const char *ns = ns_or_default(spec->namespace), *name = spec->name;
	char (*ids)[80] = NULL;
	int ports[PD_MAX_ADOPT];
	struct rs_function *fn;
	struct pd_gen *g = NULL;
	struct buf ewhy;
	struct pd_fn *pf;
	int64_t deadline;
	size_t nadopt = 0, i;
	unsigned gen;
	bool known;
	int rc;

	if (!name_ok(name) || !name_ok(ns)) {
		buf_printf(why, "'%s.%s' is not a valid function name", name ? name : "", ns);
		return -ERR_INVALID;
	}
	buf_init(&ewhy, 1024);
	rc = docker_image_exists(p->dk, spec->deploy->image, &ewhy);
	if (rc == -ERR_NOT_FOUND) {
		buf_printf(why, "image '%s' not found in the container engine: build it first "
			   "(cfaas build)", spec->deploy->image);
		buf_release(&ewhy);
		return -ERR_INVALID;
	}
	if (rc) {
		buf_printf(why, "cannot check image '%s': %s", spec->deploy->image,
			   ewhy.len ? buf_cstr(&ewhy) : err_str(rc));
		buf_release(&ewhy);
		return -ERR_UNAVAILABLE;
	}
	buf_release(&ewhy);
	if ((rc = gen_new(p, spec, why, &g)))
		return rc;

	replicas_lock(p->rs);
	fn = replicas_find(p->rs, ns, name);
	known = fn != NULL;
	replicas_unlock(p->rs);
	if (!known) {
		ids = calloc(PD_MAX_ADOPT, sizeof(*ids));
		if (ids)
			find_adoptable(p, ns, name, g,
				       spec->replicas < PD_MAX_ADOPT ? spec->replicas : PD_MAX_ADOPT,
				       ids, ports, &nadopt);
	}

	replicas_lock(p->rs);
	deadline = mono_ms() + PD_UPDATE_WAIT_MS;
	while ((fn = replicas_find(p->rs, ns, name)) && fn->removing) {
		if (replicas_wait(p->rs, deadline)) {
			buf_printf(why, "function '%s' is still being removed", name);
			rc = -ERR_UNAVAILABLE;
			goto out;
		}
	}
	if (!fn) {
		pf = calloc(1, sizeof(*pf));
		if (!pf) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = replicas_add_function(p->rs, ns, name, &fn))) {
			free(pf);
			goto out;
		}
		pf->gen = g;
		g = NULL;
		fn->priv = pf;
		fn->desired = spec->replicas;
		for (i = 0; i < nadopt; i++)
			new_replica(p, fn, mono_ms(), ids[i], ports[i]);
		wake(p);
		goto out;
	}
	pf = fn->priv;
	if (!strcmp(pf->gen->hash, g->hash)) {
		/* The same spec again (a restore, a secret that did not
		 * change): only the count may differ. */
		fn->desired = spec->replicas;
		wake(p);
		goto out;
	}
	gen_unref(pf->gen);
	pf->gen = g;
	g = NULL;
	gen = ++fn->generation;
	fn->desired = spec->replicas;
	pf->update_deadline = mono_ms() + PD_UPDATE_WAIT_MS;
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
	replicas_unlock(p->rs);
	if (g) {
		/* Not used: its secrets dir goes unless the current gen has it. */
		gen_unref(g);
	}
	free(ids);
	return rc;
}

static int pd_scale(struct provider *base, const char *ns, const char *name, unsigned replicas)
{
	struct pd *p = pd_of(base);
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

static void rm_fn_secrets(struct pd *p, const char *ns, const char *name)
{
	char *dir = buf_asprintf("%s/%s/%s", p->secrets_root, ns, name);

	if (dir)
		rm_tree(dir, 0);
	free(dir);
}

static int pd_remove(struct provider *base, const char *ns, const char *name)
{
	struct pd *p = pd_of(base);
	struct rs_function *fn;
	struct pd_fn *pf;

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

	rm_fn_secrets(p, ns, name);
	if (p->logs) {
		pthread_mutex_lock(&p->lt_mu);
		logstore_remove(p->logs, ns, name);
		pthread_mutex_unlock(&p->lt_mu);
	}

	replicas_lock(p->rs);
	fn->priv = NULL;
	fn_priv_free(pf);
	replicas_remove_function(p->rs, fn);
	replicas_unlock(p->rs);
	return 0;
}

static int pd_status(struct provider *base, const char *ns, const char *name,
		     struct prov_status *out)
{
	return replicas_status(pd_of(base)->rs, ns_or_default(ns), name, out);
}

static int pd_acquire(struct provider *base, const char *ns, const char *name,
		      int64_t deadline_ms, struct prov_replica *out)
{
	return replicas_acquire(pd_of(base)->rs, ns_or_default(ns), name, deadline_ms, out);
}

static void pd_release(struct provider *base, struct prov_replica *r, bool failed)
{
	struct pd *p = pd_of(base);

	if (replicas_release(p->rs, r, failed))
		wake(p);
}

static void pd_info(struct provider *base, struct buf *out)
{
	struct pd *p = pd_of(base);

	buf_printf(out, "{\"provider\":\"docker\",\"orchestration\":\"docker\","
		   "\"version\":{\"release\":\"%s\",\"sha\":\"\"},\"engine\":", CFAAS_VERSION);
	buf_add_json_string(out, p->engine, strlen(p->engine));
	buf_adds(out, ",\"socket\":");
	buf_add_json_string(out, p->socket, strlen(p->socket));
	buf_adds(out, "}");
}

/* Stops the threads and frees everything; the containers keep running,
 * for the next gateway to adopt. */
static void pd_free(struct provider *base)
{
	struct pd *p = pd_of(base);
	struct rs_function *fn;
	uint64_t one = 1;

	if (!p)
		return;
	if (p->lt_running) {
		(void)!write(p->lt_stop_fd, &one, sizeof(one));
		pthread_join(p->lt, NULL);
	}
	if (p->sup_running) {
		replicas_lock(p->rs);
		p->stopping = true;
		replicas_broadcast(p->rs);
		replicas_unlock(p->rs);
		wake(p);
		pthread_join(p->sup, NULL);
	}
	if (p->rs) {
		replicas_lock(p->rs);
		while ((fn = replicas_next(p->rs, NULL))) {
			while (fn->nreps) {
				struct rs_replica *r = fn->reps[fn->nreps - 1];
				struct pd_rep *rp = r->priv;

				if (rp)
					gen_unref(rp->gen);
				free(rp);
				r->priv = NULL;
				replicas_detach(p->rs, r);
			}
			fn_priv_free(fn->priv);
			fn->priv = NULL;
			if (replicas_remove_function(p->rs, fn))
				break;
		}
		replicas_unlock(p->rs);
		replicas_free(p->rs);
	}
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->lt_stop_fd >= 0)
		close(p->lt_stop_fd);
	pthread_mutex_destroy(&p->lt_mu);
	docker_free(p->dk);
	free(p->socket);
	free(p->secrets_root);
	free(p);
}

static const struct provider_ops docker_ops = {
	.name = "docker",
	.apply = pd_apply,
	.scale = pd_scale,
	.remove = pd_remove,
	.status = pd_status,
	.acquire = pd_acquire,
	.release = pd_release,
	.info = pd_info,
	.free = pd_free,
};

/* ---- creation ------------------------------------------------------------ */

/* Reads <data dir>/docker-gateway-id, or makes it. */
static int gateway_id(struct pd *p, const char *data_dir, struct buf *why)
{
	char *path = buf_asprintf("%s/docker-gateway-id", data_dir);
	unsigned char rnd[8];
	char text[32];
	ssize_t n;
	int fd, rc = 0, i;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, 16);
		close(fd);
		if (n == 16) {
			memcpy(p->gw_id, text, 16);
			p->gw_id[16] = '\0';
			goto out;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < 8; i++)
		snprintf(p->gw_id + 2 * i, 3, "%02x", rnd[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, p->gw_id, 16) != 16) {
		rc = fd < 0 ? -errno : -EIO;
		buf_printf(why, "cannot write '%s': %s", path, err_str(rc));
	}
	if (fd >= 0)
		close(fd);
out:
	free(path);
	return rc;
}

int provider_docker_new(const struct provider_opts *o, struct provider **out,
			struct buf *why)
{
	struct pd *p = calloc(1, sizeof(*p));
	const char *sock = o->docker_socket && *o->docker_socket ? o->docker_socket
								   : "/var/run/docker.sock";
	struct buf ewhy, ver;
	struct stat st;
	int rc;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->base.ops = &docker_ops;
	p->wake_fd = p->lt_stop_fd = -1;
	p->logs = o->logs;
	pthread_mutex_init(&p->lt_mu, NULL);
	buf_init(&ewhy, 1024);
	buf_init(&ver, 256);
	if (!(p->socket = strdup(sock)) ||
	    !(p->secrets_root = buf_asprintf("%s/docker/secrets", o->data_dir))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (stat(sock, &st) < 0) {
		rc = -errno;
		buf_printf(why, "--docker-socket: '%s': %s (start dockerd, or `podman system "
			   "service unix://%s`)", sock, err_str(rc), sock);
		goto fail;
	}
	if ((rc = docker_new(sock, &p->dk)))
		goto fail;
	rc = docker_ping(p->dk, &ewhy);
	if (rc) {
		buf_printf(why, "--docker-socket: no Docker Engine API answers on '%s': %s", sock,
			   ewhy.len ? buf_cstr(&ewhy) : err_str(rc));
		rc = -ERR_UNAVAILABLE;
		goto fail;
	}
	if (!docker_version(p->dk, &ver))
		copy_str(p->engine, sizeof(p->engine), buf_cstr(&ver));
	if ((rc = gateway_id(p, o->data_dir, why)))
		goto fail;
	if ((rc = make_dirs(p->secrets_root, 0700))) {
		buf_printf(why, "cannot create '%s': %s", p->secrets_root, err_str(rc));
		goto fail;
	}
	if ((rc = replicas_new(&p->rs)))
		goto fail;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->lt_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0 || p->lt_stop_fd < 0) {
		rc = -errno;
		goto fail;
	}
	p->sweep_at = mono_ms() + PD_SWEEP_AFTER_MS;
	if ((rc = -pthread_create(&p->sup, NULL, supervise, p)))
		goto fail;
	p->sup_running = true;
	if (p->logs) {
		if ((rc = -pthread_create(&p->lt, NULL, log_thread, p)))
			goto fail;
		p->lt_running = true;
	}
	LOG_INFO("docker provider: engine %s on '%s', gateway id %s", p->engine, sock, p->gw_id);
	buf_release(&ewhy);
	buf_release(&ver);
	*out = &p->base;
	return 0;
fail:
	if (!why->len)
		buf_printf(why, "cannot start the docker provider: %s", err_str(rc));
	buf_release(&ewhy);
	buf_release(&ver);
	pd_free(&p->base);
	return rc;
}
