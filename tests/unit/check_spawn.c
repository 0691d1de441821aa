#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "spawn.h"

#define BIG (8u * 1024 * 1024)

static const struct {
	const char *cmd;
	int rc;
	int argc;
	const char *argv[5];
} splits[] = {
	{ "cat", 0, 1, { "cat" } },
	{ "python3 index.py", 0, 2, { "python3", "index.py" } },
	{ "  a  b   c ", 0, 3, { "a", "b", "c" } },
	{ "a\tb", 0, 1, { "a\tb" } },
	{ "sh -c 'echo hi'", 0, 4, { "sh", "-c", "'echo", "hi'" } },
	{ "x=1 \"y z\"", 0, 3, { "x=1", "\"y", "z\"" } },
	{ "", -ERR_INVALID, 0, { NULL } },
	{ "    ", -ERR_INVALID, 0, { NULL } },
};

START_TEST(test_split)
{
	char **argv = NULL;
	int rc = spawn_split(splits[_i].cmd, &argv), i;

	ck_assert_msg(rc == splits[_i].rc, "'%s': rc %d", splits[_i].cmd, rc);
	if (rc) {
		ck_assert_ptr_null(argv);
		return;
	}
	for (i = 0; i < splits[_i].argc; i++)
		ck_assert_str_eq(argv[i], splits[_i].argv[i]);
	ck_assert_ptr_null(argv[splits[_i].argc]);
	free(argv);
}
END_TEST

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Input from memory, handed out in uneven pieces; output into bufs. */
struct src {
	const char *data;
	size_t len, off;
};

struct sink {
	struct buf out, err;
	struct src in;
};

static ssize_t src_read(void *ctx, void *out, size_t cap)
{
	struct src *s = &((struct sink *)ctx)->in;
	size_t n = s->len - s->off;

	if (n > cap)
		n = cap;
	if (n > 100000)
		n = 100000;
	if (n)
		memcpy(out, s->data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int sink_out(void *ctx, const void *data, size_t len)
{
	return buf_add(&((struct sink *)ctx)->out, data, len);
}

static int sink_err(void *ctx, const void *data, size_t len)
{
	return buf_add(&((struct sink *)ctx)->err, data, len);
}

static void sink_init(struct sink *k, size_t cap)
{
	memset(k, 0, sizeof(*k));
	buf_init(&k->out, cap);
	buf_init(&k->err, cap);
}

static void sink_release(struct sink *k)
{
	buf_release(&k->out);
	buf_release(&k->err);
}

static struct spawn_io io_for(struct sink *k, bool input, int64_t deadline)
{
	struct spawn_io io = {
		.in_poll_fd = -1,
		.read_in = input ? src_read : NULL,
		.write_out = sink_out,
		.write_err = sink_err,
		.ctx = k,
		.deadline_ms = deadline,
		.cancel_fd = -1,
	};
	return io;
}

static struct spawn_opts opts_for(char *const *argv)
{
	struct spawn_opts o;

	memset(&o, 0, sizeof(o));
	o.argv = argv;
	o.in = SPAWN_FD_PIPE;
	o.out = SPAWN_FD_PIPE;
	o.err = SPAWN_FD_PIPE;
	return o;
}

/* Runs argv (both start paths when fork_too) to the end and returns the
 * wait status; output lands in k. */
static int run(char *const *argv, bool use_fork, struct sink *k, bool input)
{
	struct spawn_opts o = opts_for(argv);
	struct spawn_io io = io_for(k, input, mono_ms() + 20000);
	struct spawn_proc p;

	o.new_session = use_fork;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_gt(p.pid, 0);
	ck_assert_int_eq(spawn_pump(&p, &io), 0);
	return spawn_wait(&p);
}

START_TEST(test_missing_program)
{
	static char *const missing[] = { "/nonexistent/cfaas-prog", NULL };
	static char *const unpathed[] = { "cfaas-no-such-program", NULL };
	static char *const notexec[] = { "/etc/passwd", NULL };
	static char *const dir[] = { "/tmp", NULL };
	static char *const empty[] = { NULL };
	int before = count_fds(), f;

	for (f = 0; f < 2; f++) {
		struct spawn_opts o = opts_for(missing);
		struct spawn_proc p;

		o.new_session = f;
		ck_assert_int_eq(spawn_start(&o, &p), -ENOENT);
		ck_assert_int_eq(p.in, -1);
		ck_assert_int_eq(p.out, -1);
		ck_assert_int_eq(p.err, -1);
		ck_assert_int_eq(p.pid, -1);
		o.argv = unpathed;
		ck_assert_int_eq(spawn_start(&o, &p), -ENOENT);
		o.argv = notexec;
		ck_assert_int_eq(spawn_start(&o, &p), -EACCES);
		o.argv = dir;
		ck_assert_int_eq(spawn_start(&o, &p), -EACCES);
		o.argv = empty;
		ck_assert_int_eq(spawn_start(&o, &p), -ERR_INVALID);
		o.argv = NULL;
		ck_assert_int_eq(spawn_start(&o, &p), -ERR_INVALID);
		ck_assert_int_eq(spawn_wait(&p), -ECHILD);
		ck_assert_int_eq(spawn_wait_timeout(&p, 10), -ECHILD);
	}
	/* Nothing left behind: no fds, no children. */
	ck_assert_int_eq(count_fds(), before);
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

/* 8 MiB through cat: written only as fast as cat reads it, read as it
 * comes, so neither pipe fills up and blocks the other. */
START_TEST(test_cat_big)
{
	static char *const cat[] = { "cat", NULL };
	char *data = malloc(BIG);
	struct sink k;
	size_t i;
	int f, st;

	for (i = 0; i < BIG; i++)
		data[i] = (char)(i * 31 + i / 4099);
	for (f = 0; f < 2; f++) {
		sink_init(&k, BIG);
		k.in = (struct src){ data, BIG, 0 };
		st = run(cat, f, &k, true);
		ck_assert(WIFEXITED(st));
		ck_assert_int_eq(WEXITSTATUS(st), 0);
		ck_assert_uint_eq(k.out.len, BIG);
		ck_assert_int_eq(memcmp(k.out.data, data, BIG), 0);
		ck_assert_uint_eq(k.err.len, 0);
		sink_release(&k);
	}
	free(data);
}
END_TEST

/* Input that arrives from an fd the pump has to poll (read_in says
 * -EAGAIN until a thread writes more). */
struct feeder {
	int fd;
	const char *data;
	size_t len;
};

static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;

	while (off < f->len) {
		size_t n = f->len - off > 7777 ? 7777 : f->len - off;
		ssize_t w = write(f->fd, f->data + off, n);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

static ssize_t pipe_read(void *ctx, void *out, size_t cap)
{
	int fd = *(int *)ctx;
	ssize_t n = read(fd, out, cap);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	return n < 0 ? -errno : n;
}

struct pipe_ctx {
	int fd;
	struct buf out;
};

static int pipe_sink(void *ctx, const void *data, size_t len)
{
	return buf_add(&((struct pipe_ctx *)ctx)->out, data, len);
}

START_TEST(test_polled_input)
{
	static char *const cat[] = { "cat", NULL };
	size_t len = 1u << 20, i;
	char *data = malloc(len);
	struct spawn_opts o = opts_for(cat);
	struct pipe_ctx c;
	struct spawn_io io;
	struct spawn_proc p;
	struct feeder fd;
	pthread_t th;
	int pp[2], st;

	for (i = 0; i < len; i++)
		data[i] = (char)(i % 253);
	ck_assert_int_eq(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0);
	fcntl(pp[1], F_SETFL, 0);
	c.fd = pp[0];
	buf_init(&c.out, len);
	memset(&io, 0, sizeof(io));
	io.in_poll_fd = pp[0];
	io.read_in = pipe_read;
	io.write_out = pipe_sink;
	io.ctx = &c;
	io.deadline_ms = mono_ms() + 20000;
	io.cancel_fd = -1;
	o.err = SPAWN_FD_NULL;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	fd = (struct feeder){ pp[1], data, len };
	ck_assert_int_eq(pthread_create(&th, NULL, feeder_main, &fd), 0);
	ck_assert_int_eq(spawn_pump(&p, &io), 0);
	pthread_join(th, NULL);
	st = spawn_wait(&p);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(c.out.len, len);
	ck_assert_int_eq(memcmp(c.out.data, data, len), 0);
	close(pp[0]);
	buf_release(&c.out);
	free(data);
}
END_TEST

START_TEST(test_stderr)
{
	static char *const both[] = { "/bin/sh", "-c", "echo out; echo err >&2; echo out2", NULL };
	struct spawn_opts o = opts_for(both);
	struct spawn_proc p;
	struct spawn_io io;
	struct sink k;

	/* Separate pipes. */
	sink_init(&k, 4096);
	ck_assert_int_eq(run(both, false, &k, false), 0);
	ck_assert_str_eq(buf_cstr(&k.out), "out\nout2\n");
	ck_assert_str_eq(buf_cstr(&k.err), "err\n");
	sink_release(&k);

	/* stderr into stdout, in order, on both start paths. */
	for (int f = 0; f < 2; f++) {
		sink_init(&k, 4096);
		io = io_for(&k, false, mono_ms() + 20000);
		o.err = SPAWN_FD_STDOUT;
		o.new_session = f;
		ck_assert_int_eq(spawn_start(&o, &p), 0);
		ck_assert_int_eq(p.err, -1);
		ck_assert_int_eq(spawn_pump(&p, &io), 0);
		ck_assert_int_eq(spawn_wait(&p), 0);
		ck_assert_str_eq(buf_cstr(&k.out), "out\nerr\nout2\n");
		ck_assert_uint_eq(k.err.len, 0);
		sink_release(&k);
	}

	/* Discarded: no sinks at all. */
	sink_init(&k, 4096);
	io = io_for(&k, false, mono_ms() + 20000);
	io.write_out = io.write_err = NULL;
	o.err = SPAWN_FD_PIPE;
	o.new_session = false;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(spawn_pump(&p, &io), 0);
	ck_assert_int_eq(spawn_wait(&p), 0);
	sink_release(&k);
}
END_TEST

/* Exit statuses as wait(2) reports them. */
static const struct {
	const char *script;
	int code;  /* exit code, or -1 */
	int sig;   /* terminating signal, or 0 */
} statuses[] = {
	{ "exit 0", 0, 0 },
	{ "exit 3", 3, 0 },
	{ "exit 255", 255, 0 },
	{ "kill -TERM $$", -1, SIGTERM },
	{ "kill -KILL $$", -1, SIGKILL },
	{ "echo x; exit 7", 7, 0 },
};

START_TEST(test_status)
{
	char *const argv[] = { "/bin/sh", "-c", (char *)statuses[_i].script, NULL };
	struct sink k;
	int f, st;

	for (f = 0; f < 2; f++) {
		sink_init(&k, 4096);
		st = run(argv, f, &k, false);
		if (statuses[_i].sig) {
			ck_assert_msg(WIFSIGNALED(st), "'%s': status %#x", statuses[_i].script, st);
			ck_assert_int_eq(WTERMSIG(st), statuses[_i].sig);
		} else {
			ck_assert_msg(WIFEXITED(st), "'%s': status %#x", statuses[_i].script, st);
			ck_assert_int_eq(WEXITSTATUS(st), statuses[_i].code);
		}
		sink_release(&k);
	}
}
END_TEST

/* Reads the child's signal masks from /proc as hex. */
static void sig_masks(const char *text, unsigned long long *blk, unsigned long long *ign)
{
	const char *b = strstr(text, "SigBlk:"), *i = strstr(text, "SigIgn:");

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(i);
	*blk = strtoull(b + 7, NULL, 16);
	*ign = strtoull(i + 7, NULL, 16);
}

/*
 * The child's signal state is clean whatever the parent's is. Signals 32
 * and 33 (glibc's internal SIGCANCEL and SIGSETXID, mask bits 31 and 32)
 * are left out: glibc's posix_spawn sets them to SIG_IGN in the child when
 * the parent has handlers for them (its vfork child cannot run them), and
 * an ignored disposition survives exec. sigfillset() excludes them, so
 * spawn.c cannot ask posix_spawn to reset them; the fork path resets them.
 */
START_TEST(test_signal_state)
{
	static char *const argv[] = { "/bin/sh", "-c",
				      "grep -E '^(SigBlk|SigIgn)' /proc/self/status", NULL };
	const unsigned long long glibc_internal = 3ull << 31;
	unsigned long long blk, ign;
	sigset_t set;
	struct sink k;
	int f;

	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGRTMIN + 2, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (f = 0; f < 2; f++) {
		sink_init(&k, 4096);
		ck_assert_int_eq(run(argv, f, &k, false), 0);
		sig_masks(buf_cstr(&k.out), &blk, &ign);
		ck_assert_msg(blk == 0, "path %d: blocked %llx", f, blk);
		ck_assert_msg((ign & ~glibc_internal) == 0, "path %d: ignored %llx", f, ign);
		if (f == 1)
			ck_assert_msg(ign == 0, "fork path: ignored %llx", ign);
		sink_release(&k);
	}
}
END_TEST

/* kill(-pgid, 0) fails with ESRCH once nothing of the group is left. */
static bool group_gone(pid_t pgid)
{
	return kill(-pgid, 0) == -1 && errno == ESRCH;
}

/* A deadline: the pump stops with -ERR_TIMEOUT and never kills by itself;
 * spawn_kill + spawn_wait then end the whole group, grandchild included.
 * We are a subreaper, so the orphaned grandchild is reparented to us and
 * spawn_wait reaps it (a zombie would still count as a group member). */
START_TEST(test_deadline_kills_group)
{
	static char *const argv[] = { "/bin/sh", "-c", "sleep 30 & echo started; sleep 30",
				      NULL };
	int before = count_fds(), f;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	for (f = 0; f < 2; f++) {
		struct spawn_opts o = opts_for(argv);
		struct spawn_proc p;
		struct spawn_io io;
		struct sink k;
		pid_t pgid;
		int st;

		sink_init(&k, 4096);
		o.new_session = f;
		ck_assert_int_eq(spawn_start(&o, &p), 0);
		pgid = p.pid;
		ck_assert_int_eq(getpgid(p.pid), pgid);
		io = io_for(&k, false, mono_ms() + 300);
		ck_assert_int_eq(spawn_pump(&p, &io), -ERR_TIMEOUT);
		/* Still running: the pump does not kill. */
		ck_assert_int_eq(kill(p.pid, 0), 0);
		ck_assert_int_eq(spawn_wait_timeout(&p, 0), -ERR_TIMEOUT);
		spawn_kill(&p, SIGKILL);
		st = spawn_wait(&p);
		ck_assert(WIFSIGNALED(st));
		ck_assert_int_eq(WTERMSIG(st), SIGKILL);
		ck_assert(p.reaped);
		ck_assert_int_eq(p.in, -1);
		ck_assert_int_eq(p.out, -1);
		ck_assert_int_eq(p.err, -1);
		ck_assert_int_eq(p.pidfd, -1);
		ck_assert(group_gone(pgid));
		/* Safe to call again; the kill is a no-op now. */
		spawn_kill(&p, SIGKILL);
		ck_assert_int_eq(spawn_wait(&p), st);
		sink_release(&k);
	}
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* A handler that exits and leaves a background grandchild holding its
 * stdout: the pump returns once the handler is gone, and spawn_wait kills
 * and reaps the grandchild. */
START_TEST(test_background_grandchild)
{
	static char *const argv[] = { "/bin/sh", "-c", "sleep 30 & echo started", NULL };
	int f;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	for (f = 0; f < 2; f++) {
		struct spawn_opts o = opts_for(argv);
		struct spawn_proc p;
		struct spawn_io io;
		struct sink k;
		pid_t pgid;

		sink_init(&k, 4096);
		o.new_session = f;
		ck_assert_int_eq(spawn_start(&o, &p), 0);
		pgid = p.pid;
		io = io_for(&k, false, mono_ms() + 20000);
		ck_assert_int_eq(spawn_pump(&p, &io), 0);
		ck_assert_str_eq(buf_cstr(&k.out), "started\n");
		ck_assert_int_eq(spawn_wait(&p), 0);
		ck_assert(group_gone(pgid));
		sink_release(&k);
	}
}
END_TEST

START_TEST(test_wait_timeout)
{
	static char *const sleeper[] = { "sleep", "30", NULL };
	static char *const quick[] = { "true", NULL };
	struct spawn_opts o = opts_for(sleeper);
	struct spawn_proc p;

	o.in = o.out = o.err = SPAWN_FD_NULL;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(spawn_wait_timeout(&p, 50), -ERR_TIMEOUT);
	ck_assert(!p.reaped);
	ck_assert_int_eq(kill(p.pid, 0), 0);
	spawn_kill(&p, SIGTERM);
	ck_assert_int_eq(spawn_wait_timeout(&p, 20000), 0);
	ck_assert(p.reaped);
	ck_assert(WIFSIGNALED(p.status));
	ck_assert_int_eq(WTERMSIG(p.status), SIGTERM);
	ck_assert_int_eq(spawn_wait_timeout(&p, 0), 0);
	ck_assert_int_eq(spawn_wait(&p), p.status);

	o.argv = quick;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(spawn_wait_timeout(&p, 20000), 0);
	ck_assert(WIFEXITED(p.status));
	ck_assert_int_eq(WEXITSTATUS(p.status), 0);
	ck_assert_int_eq(spawn_wait(&p), 0);
}
END_TEST

/* A child that stops reading its input early is not an error. */
START_TEST(test_unread_input)
{
	static char *const argv[] = { "/bin/sh", "-c", "head -c 10", NULL };
	char *data = calloc(1, BIG);
	struct sink k;
	int st;

	sink_init(&k, 4096);
	k.in = (struct src){ data, BIG, 0 };
	st = run(argv, false, &k, true);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(k.out.len, 10);
	sink_release(&k);
	free(data);
}
END_TEST

/* A sink that fails aborts the pump with its code; cancel_fd stops it. */
START_TEST(test_abort_and_cancel)
{
	static char *const cat[] = { "cat", NULL };
	static char *const sleeper[] = { "sleep", "30", NULL };
	char *data = calloc(1, 1u << 20);
	struct spawn_opts o = opts_for(cat);
	struct spawn_proc p;
	struct spawn_io io;
	struct sink k;
	int cp[2];

	sink_init(&k, 1000);
	k.in = (struct src){ data, 1u << 20, 0 };
	io = io_for(&k, true, mono_ms() + 20000);
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(spawn_pump(&p, &io), -ERR_TOO_BIG);
	spawn_kill(&p, SIGKILL);
	ck_assert(WIFSIGNALED(spawn_wait(&p)));
	sink_release(&k);

	ck_assert_int_eq(pipe2(cp, O_CLOEXEC), 0);
	ck_assert_int_eq(write(cp[1], "x", 1), 1);
	sink_init(&k, 1000);
	o.argv = sleeper;
	io = io_for(&k, false, 0);
	io.cancel_fd = cp[0];
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(spawn_pump(&p, &io), -ECANCELED);
	spawn_kill(&p, SIGKILL);
	ck_assert(WIFSIGNALED(spawn_wait(&p)));
	sink_release(&k);
	close(cp[0]);
	close(cp[1]);

	/* An input deadline: input never completes. */
	ck_assert_int_eq(pipe2(cp, O_CLOEXEC | O_NONBLOCK), 0);
	sink_init(&k, 1000);
	o.argv = cat;
	memset(&io, 0, sizeof(io));
	io.in_poll_fd = cp[0];
	io.read_in = pipe_read;
	io.ctx = &cp[0];
	io.cancel_fd = -1;
	io.in_deadline_ms = mono_ms() + 200;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(spawn_pump(&p, &io), -ERR_TIMEOUT);
	spawn_kill(&p, SIGKILL);
	ck_assert(WIFSIGNALED(spawn_wait(&p)));
	sink_release(&k);
	close(cp[0]);
	close(cp[1]);
	free(data);
}
END_TEST

static int setup_fails(void *arg)
{
	(void)arg;
	return -EPERM;
}

/* The fork path: a new session, cwd, env, given fds, child_setup. */
START_TEST(test_fork_path)
{
	static char *const sleeper[] = { "sleep", "30", NULL };
	static char *const pwd[] = { "/bin/sh", "-c", "pwd; echo \"$FOO\"", NULL };
	static char *const env[] = { "FOO=bar baz", NULL };
	struct spawn_opts o = opts_for(sleeper);
	struct spawn_proc p;
	struct spawn_io io;
	struct sink k;
	char got[64] = { 0 };
	int gp[2], f, before = count_fds();

	o.in = o.out = o.err = SPAWN_FD_NULL;
	o.new_session = true;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(getsid(p.pid), p.pid);
	ck_assert_int_eq(getpgid(p.pid), p.pid);
	ck_assert_int_ne(getsid(0), p.pid);
	spawn_kill(&p, SIGKILL);
	ck_assert(WIFSIGNALED(spawn_wait(&p)));

	/* Without new_session: a process group in our session. */
	o.new_session = false;
	ck_assert_int_eq(spawn_start(&o, &p), 0);
	ck_assert_int_eq(getsid(p.pid), getsid(0));
	ck_assert_int_eq(getpgid(p.pid), p.pid);
	spawn_kill(&p, SIGKILL);
	ck_assert(WIFSIGNALED(spawn_wait(&p)));

	for (f = 0; f < 2; f++) {
		o = opts_for(pwd);
		o.cwd = "/tmp";
		o.envp = env;
		o.new_session = f;
		sink_init(&k, 4096);
		io = io_for(&k, false, mono_ms() + 20000);
		ck_assert_int_eq(spawn_start(&o, &p), 0);
		ck_assert_int_eq(spawn_pump(&p, &io), 0);
		ck_assert_int_eq(spawn_wait(&p), 0);
		ck_assert_str_eq(buf_cstr(&k.out), "/tmp\nbar baz\n");
		sink_release(&k);

		/* A missing cwd fails the start. */
		o.cwd = "/nonexistent-cfaas-dir";
		ck_assert_int_eq(spawn_start(&o, &p), -ENOENT);

		/* Output to an fd we give. */
		ck_assert_int_eq(pipe2(gp, O_CLOEXEC), 0);
		o = opts_for(pwd);
		o.cwd = "/";
		o.envp = env;
		o.new_session = f;
		o.in = SPAWN_FD_NULL;
		o.out = SPAWN_FD_GIVEN;
		o.out_fd = gp[1];
		o.err = SPAWN_FD_NULL;
		ck_assert_int_eq(spawn_start(&o, &p), 0);
		ck_assert_int_eq(p.out, -1);
		ck_assert_int_eq(spawn_wait(&p), 0);
		close(gp[1]);
		ck_assert_int_eq(read(gp[0], got, sizeof(got) - 1), 10);
		ck_assert_str_eq(got, "/\nbar baz\n");
		memset(got, 0, sizeof(got));
		close(gp[0]);
	}

	/* child_setup failing reports its code. */
	o = opts_for(sleeper);
	o.child_setup = setup_fails;
	ck_assert_int_eq(spawn_start(&o, &p), -EPERM);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* die_with_parent: a child started by a process that then exits is killed.
 * The middle process exits without waiting; we are a subreaper, so the
 * orphan comes to us and we see how it ended. */
START_TEST(test_die_with_parent)
{
	int pp[2], st;
	pid_t mid, child = 0;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	mid = fork();
	ck_assert_int_ge(mid, 0);
	if (mid == 0) {
		static char *const sleeper[] = { "sleep", "30", NULL };
		struct spawn_opts o = opts_for(sleeper);
		struct spawn_proc p;

		o.in = o.out = o.err = SPAWN_FD_NULL;
		o.die_with_parent = true;
		if (spawn_start(&o, &p) != 0)
			_exit(1);
		if (write(pp[1], &p.pid, sizeof(p.pid)) != sizeof(p.pid))
			_exit(2);
		_exit(0);
	}
	close(pp[1]);
	ck_assert_int_eq(read(pp[0], &child, sizeof(child)), sizeof(child));
	close(pp[0]);
	ck_assert_int_eq(waitpid(mid, &st, 0), mid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
}
END_TEST

/* Many starts and waits, on both paths and with failures, leak no fd. */
START_TEST(test_no_fd_leak)
{
	static char *const echo[] = { "/bin/sh", "-c", "echo hi; echo err >&2", NULL };
	static char *const missing[] = { "/nonexistent/cfaas-prog", NULL };
	int before = count_fds(), i;

	for (i = 0; i < 20; i++) {
		struct spawn_opts o = opts_for(i % 3 == 2 ? missing : echo);
		struct spawn_proc p;
		struct sink k;

		o.new_session = i % 2;
		o.err = i % 4 == 0 ? SPAWN_FD_STDOUT : SPAWN_FD_PIPE;
		if (i % 3 == 2) {
			ck_assert_int_eq(spawn_start(&o, &p), -ENOENT);
			continue;
		}
		sink_init(&k, 4096);
		ck_assert_int_eq(run(echo, i % 2, &k, i % 5 == 0), 0);
		sink_release(&k);
		/* Started but never pumped: spawn_wait closes the pipes (the
		 * child may die of SIGPIPE, which is fine here). */
		ck_assert_int_eq(spawn_start(&o, &p), 0);
		ck_assert_int_ge(spawn_wait(&p), 0);
	}
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_mono)
{
	int64_t a = mono_ms(), b = mono_ns();
	struct timespec ts = { 0, 2000000 };

	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	nanosleep(&ts, NULL);
	ck_assert_int_ge(mono_ms(), a);
	ck_assert_int_gt(mono_ns(), b);
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	/* spawn_pump requires it, as the binaries do. */
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_split, 0, N(splits));
	tcase_add_test(tc, test_missing_program);
	tcase_add_test(tc, test_cat_big);
	tcase_add_test(tc, test_polled_input);
	tcase_add_test(tc, test_stderr);
	tcase_add_loop_test(tc, test_status, 0, N(statuses));
	tcase_add_test(tc, test_signal_state);
	tcase_add_test(tc, test_deadline_kills_group);
	tcase_add_test(tc, test_background_grandchild);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_unread_input);
	tcase_add_test(tc, test_abort_and_cancel);
	tcase_add_test(tc, test_fork_path);
	tcase_add_test(tc, test_die_with_parent);
	tcase_add_test(tc, test_no_fd_leak);
	tcase_add_test(tc, test_mono);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
