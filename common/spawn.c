#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "spawn.h"
#include "banned.h"

extern char **environ;

#define PUMP_CHUNK (64u * 1024)

int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mono_deadline_ts(int64_t ms, struct timespec *out)
{
	clock_gettime(CLOCK_MONOTONIC, out);
	out->tv_sec += ms / 1000;
	out->tv_nsec += (ms % 1000) * 1000000;
	if (out->tv_nsec >= 1000000000) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000;
	}
}

int spawn_split(const char *cmdline, char ***out_argv)
{
	size_t n = 0, len = strlen(cmdline), i;
	const char *p = cmdline;
	char **argv, *text;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ')
			p++;
	}
	if (n == 0)
		return -ERR_INVALID;
	argv = malloc((n + 1) * sizeof(char *) + len + 1);
	if (!argv)
		return -ENOMEM;
	text = (char *)(argv + n + 1);
	memcpy(text, cmdline, len + 1);
	for (i = 0, p = text; i < n; i++) {
		while (*p == ' ')
			p++;
		argv[i] = (char *)p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*(char *)p++ = '\0';
	}
	argv[n] = NULL;
	*out_argv = argv;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
#endif
	(void)pid;
	return -1;
}

/* The child ends of the three standard fds; -1 where nothing is dup'ed. */
struct child_fds {
	int fd[3];
	int nullfd;
};

static int want_pipe(enum spawn_fd how, int idx, int pipefd[2], int *parent,
		     int *child)
{
	if (how != SPAWN_FD_PIPE)
		return 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	*parent = idx == 0 ? pipefd[1] : pipefd[0];
	*child = idx == 0 ? pipefd[0] : pipefd[1];
	return 0;
}

static int resolve_fds(const struct spawn_opts *o, struct spawn_proc *proc,
		       struct child_fds *cf)
{
	enum spawn_fd how[3] = { o->in, o->out, o->err };
	int given[3] = { o->in_fd, o->out_fd, o->err_fd };
	int *parent[3] = { &proc->in, &proc->out, &proc->err };
	int i, rc, p[2];

	for (i = 0; i < 3; i++) {
		cf->fd[i] = -1;
		switch (how[i]) {
		case SPAWN_FD_PIPE:
			rc = want_pipe(how[i], i, p, parent[i], &cf->fd[i]);
			if (rc)
				return rc;
			break;
		case SPAWN_FD_NULL:
			if (cf->nullfd < 0) {
				cf->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
				if (cf->nullfd < 0)
					return -errno;
			}
			cf->fd[i] = cf->nullfd;
			break;
		case SPAWN_FD_GIVEN:
			cf->fd[i] = given[i];
			break;
		case SPAWN_FD_STDOUT:
			cf->fd[i] = i == 2 ? cf->fd[1] : -1;
			break;
		case SPAWN_FD_INHERIT:
			break;
		}
	}
	return 0;
}

static void release_child_fds(struct child_fds *cf, const struct spawn_opts *o)
{
	enum spawn_fd how[3] = { o->in, o->out, o->err };
	int i;

	for (i = 0; i < 3; i++)
		if (how[i] == SPAWN_FD_PIPE && cf->fd[i] >= 0)
			close(cf->fd[i]);
	if (cf->nullfd >= 0)
		close(cf->nullfd);
}

static int start_posix_spawn(const struct spawn_opts *o, struct child_fds *cf,
			     pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int i, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	for (i = 0; i < 3; i++)
		if (cf->fd[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, cf->fd[i], i);
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
	rc = posix_spawnp(pid, o->argv[0], &fa, &attr, o->argv,
			  o->envp ? o->envp : environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

/*
 * glibc keeps two real-time signals for itself (SIGCANCEL and SIGSETXID,
 * 32 and 33) and its sigaction() refuses to touch them. A process started
 * by a posix_spawn of a threaded parent (GNU make is one) can have them
 * ignored, and an ignored disposition survives exec; the raw system call
 * puts them back to default for the program we start.
 */
static void reset_internal_signals(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		unsigned long mask;
	} ksa = { 0 };
	int sig;

	for (sig = 32; sig <= 33; sig++)
		syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
}

/* Runs in the forked child: only async-signal-safe calls from here on. */
static void child_main(const struct spawn_opts *o, struct child_fds *cf, int errfd,
		       pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int i, err = 0;

	if (o->new_session ? setsid() < 0 : setpgid(0, 0) < 0)
		goto fail;
	if (o->new_mount_ns) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			goto fail;
	}
	if (o->child_setup && (err = o->child_setup(o->child_arg)) < 0) {
		err = -err;
		goto report;
	}
	if (o->cwd && chdir(o->cwd) < 0)
		goto fail;
	if (o->set_ids) {
		if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
			goto fail;
	}
	/* After setuid: a change of credentials clears the death signal. If
	 * the parent died before this point, nobody would send it: go. */
	if (o->die_with_parent) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			goto fail;
		if (getppid() != parent)
			_exit(127);
	}
	for (i = 0; i < 3; i++) {
		if (cf->fd[i] < 0)
			continue;
		if (cf->fd[i] == i) {
			/* Already in place: only drop close-on-exec. */
			if (fcntl(i, F_SETFD, 0) < 0)
				goto fail;
		} else if (dup2(cf->fd[i], i) < 0) {
			goto fail;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		sigaction(i, &sa, NULL);
	reset_internal_signals();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(o->argv[0], o->argv, o->envp ? o->envp : environ);
fail:
	err = errno;
report:
	(void)!write(errfd, &err, sizeof(err));
	_exit(127);
}

static int start_fork(const struct spawn_opts *o, struct child_fds *cf, pid_t *out)
{
	int ep[2], err = 0;
	pid_t parent = getpid();
	ssize_t n;
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(ep[0]);
		close(ep[1]);
		return -err;
	}
	if (pid == 0) {
		close(ep[0]);
		child_main(o, cf, ep[1], parent);
	}
	close(ep[1]);
	if (!o->new_session)
		setpgid(pid, pid);
	do
		n = read(ep[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -(err ? err : EIO);
	}
	*out = pid;
	return 0;
}

int spawn_start(const struct spawn_opts *opts, struct spawn_proc *proc)
{
	struct child_fds cf = { { -1, -1, -1 }, -1 };
	bool use_fork = opts->set_ids || opts->new_mount_ns || opts->child_setup ||
			opts->new_session || opts->die_with_parent;
	pid_t pid = -1;
	int rc;

	memset(proc, 0, sizeof(*proc));
	proc->in = proc->out = proc->err = proc->pidfd = -1;
	proc->pid = -1;
	if (!opts->argv || !opts->argv[0])
		return -ERR_INVALID;
	rc = resolve_fds(opts, proc, &cf);
	if (rc)
		goto out;
	rc = use_fork ? start_fork(opts, &cf, &pid) : start_posix_spawn(opts, &cf, &pid);
	if (rc)
		goto out;
	proc->pid = pid;
	proc->pidfd = open_pidfd(pid);
	if (proc->in >= 0)
		fcntl(proc->in, F_SETFL, O_NONBLOCK);
out:
	release_child_fds(&cf, opts);
	if (rc) {
		close_fd(&proc->in);
		close_fd(&proc->out);
		close_fd(&proc->err);
	}
	return rc;
}

/* Reads what is in the pipe now (after the child exited): until EOF or
 * until it would block. Returns 0 or a callback's error. */
static int drain(int *fd, int (*sink)(void *, const void *, size_t), void *ctx,
		 char *chunk)
{
	ssize_t n;
	int rc;

	fcntl(*fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		n = read(*fd, chunk, PUMP_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (sink && (rc = sink(ctx, chunk, (size_t)n)) < 0)
			return rc;
	}
	close_fd(fd);
	return 0;
}

int spawn_pump(struct spawn_proc *proc, const struct spawn_io *io)
{
	enum { P_IN, P_SRC, P_OUT, P_ERR, P_PID, P_CANCEL, P_N };
	char *inbuf = NULL, *chunk = NULL;
	size_t pending = 0, off = 0;
	bool in_done = proc->in < 0, need_src = false;
	int rc = 0;

	if (!io->read_in && proc->in >= 0) {
		close_fd(&proc->in);
		in_done = true;
	}
	inbuf = malloc(PUMP_CHUNK);
	chunk = malloc(PUMP_CHUNK);
	if (!inbuf || !chunk) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct pollfd pf[P_N];
		int64_t deadline;
		int timeout = -1, i;

		/* Refill pending input when it is all written. */
		while (!in_done && pending == off && !need_src) {
			ssize_t n = io->read_in(io->ctx, inbuf, PUMP_CHUNK);
			if (n == -EAGAIN) {
				need_src = true;
			} else if (n < 0) {
				rc = (int)n;
				goto out;
			} else if (n == 0) {
				close_fd(&proc->in);
				in_done = true;
			} else {
				pending = (size_t)n;
				off = 0;
			}
		}
		if (proc->out < 0 && proc->err < 0 && (in_done || proc->exited))
			break;
		if (proc->exited) {
			/* What the child wrote before it exited is in the pipes. */
			if (proc->out >= 0 && (rc = drain(&proc->out, io->write_out, io->ctx, chunk)))
				goto out;
			if (proc->err >= 0 && (rc = drain(&proc->err, io->write_err, io->ctx, chunk)))
				goto out;
			close_fd(&proc->in);
			break;
		}
		for (i = 0; i < P_N; i++) {
			pf[i].fd = -1;
			pf[i].events = 0;
			pf[i].revents = 0;
		}
		if (!in_done && pending > off) {
			pf[P_IN].fd = proc->in;
			pf[P_IN].events = POLLOUT;
		}
		if (!in_done && need_src && io->in_poll_fd >= 0) {
			pf[P_SRC].fd = io->in_poll_fd;
			pf[P_SRC].events = POLLIN;
		}
		pf[P_OUT].fd = proc->out;
		pf[P_OUT].events = POLLIN;
		pf[P_ERR].fd = proc->err;
		pf[P_ERR].events = POLLIN;
		pf[P_PID].fd = proc->pidfd;
		pf[P_PID].events = POLLIN;
		pf[P_CANCEL].fd = io->cancel_fd;
		pf[P_CANCEL].events = POLLIN;
		deadline = io->deadline_ms;
		if (!in_done && io->in_deadline_ms &&
		    (!deadline || io->in_deadline_ms < deadline))
			deadline = io->in_deadline_ms;
		if (deadline) {
			int64_t left = deadline - mono_ms();
			if (left <= 0) {
				rc = -ERR_TIMEOUT;
				goto out;
			}
			timeout = left > 60000 ? 60000 : (int)left;
		}
		if (poll(pf, P_N, timeout) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (pf[P_CANCEL].revents) {
			rc = -ECANCELED;
			goto out;
		}
		if (pf[P_SRC].revents)
			need_src = false;
		if (pf[P_IN].revents) {
			ssize_t n = write(proc->in, inbuf + off, pending - off);
			if (n > 0) {
				off += (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* The child stopped reading (EPIPE): not an error. */
				close_fd(&proc->in);
				in_done = true;
			}
		}
		for (i = P_OUT; i <= P_ERR; i++) {
			int *fd = i == P_OUT ? &proc->out : &proc->err;
			int (*sink)(void *, const void *, size_t) =
				i == P_OUT ? io->write_out : io->write_err;
			ssize_t n;

			if (!pf[i].revents)
				continue;
			n = read(*fd, chunk, PUMP_CHUNK);
			if (n > 0) {
				if (sink && (rc = sink(io->ctx, chunk, (size_t)n)) < 0)
					goto out;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close_fd(fd);
			}
		}
		if (pf[P_PID].revents)
			proc->exited = true;
	}
out:
	free(inbuf);
	free(chunk);
	return rc;
}

void spawn_kill(struct spawn_proc *proc, int sig)
{
	if (proc->pid > 0 && !proc->reaped)
		kill(-proc->pid, sig);
}

/* Waits for the leader to exit without reaping it, so its pid (and with it
 * the process group id) cannot be reused while the group is killed. */
static int wait_leader(struct spawn_proc *proc)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)proc->pid, &si, WEXITED | WNOWAIT) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int reap(struct spawn_proc *proc)
{
	int st;

	kill(-proc->pid, SIGKILL);
	while (waitpid(proc->pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	proc->status = st;
	proc->reaped = true;
	/* Members of the group that were re-parented to us (we may be a
	 * subreaper or pid 1) are reaped here; others belong to init. */
	while (waitpid(-proc->pid, NULL, 0) > 0 || errno == EINTR)
		;
	close_fd(&proc->pidfd);
	return st;
}

int spawn_wait(struct spawn_proc *proc)
{
	int rc;

	close_fd(&proc->in);
	close_fd(&proc->out);
	close_fd(&proc->err);
	if (proc->pid <= 0)
		return -ECHILD;
	if (proc->reaped)
		return proc->status;
	rc = wait_leader(proc);
	if (rc)
		return rc;
	return reap(proc);
}

int spawn_wait_timeout(struct spawn_proc *proc, int64_t timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	siginfo_t si;

	if (proc->pid <= 0)
		return -ECHILD;
	if (proc->reaped)
		return 0;
	for (;;) {
		int64_t left = deadline - mono_ms();

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)proc->pid, &si, WEXITED | WNOWAIT | WNOHANG) < 0 &&
		    errno != EINTR)
			return -errno;
		if (si.si_pid == proc->pid) {
			int rc = reap(proc);
			return rc < 0 ? rc : 0;
		}
		if (left <= 0)
			return -ERR_TIMEOUT;
		if (proc->pidfd >= 0) {
			struct pollfd pf = { .fd = proc->pidfd, .events = POLLIN };
			poll(&pf, 1, left > 1000 ? 1000 : (int)left);
		} else {
			struct timespec ts = { 0, 10 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}
