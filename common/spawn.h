/*
 * spawn.h - every child process of cfaas starts here.
 *
 * A child runs in its own process group, with the pipes the caller asks for,
 * close-on-exec on everything else, default signal dispositions and an empty
 * signal mask. When the caller needs no identity change the child is
 * started with posix_spawn (a vfork-style clone, cheap even from a large
 * parent); with uid/gid, a new mount namespace or a new session it is
 * forked, and an exec failure travels back over a close-on-exec pipe, so in
 * both cases spawn_start() itself reports a handler that cannot be executed.
 *
 * spawn_pump() moves data between the caller and the child with poll(2):
 * input is written to the child's stdin only as fast as the child reads it
 * and output is read as it comes, so a body of any size never deadlocks.
 * spawn_wait() reaps the child and kills what is left of its process group,
 * so nothing a handler started outlives it.
 */
#ifndef CFAAS_SPAWN_H
#define CFAAS_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* What to do with one of the child's standard fds. */
enum spawn_fd {
	SPAWN_FD_NULL,    /* /dev/null */
	SPAWN_FD_PIPE,    /* a pipe to the caller (proc->in / out / err) */
	SPAWN_FD_INHERIT, /* the caller's own fd of the same number */
	SPAWN_FD_STDOUT,  /* stderr only: the same as the child's stdout */
	SPAWN_FD_GIVEN,   /* the fd in spawn_opts.*_fd (borrowed) */
};

struct spawn_opts {
	char *const *argv;   /* argv[0] is looked up in PATH if it has no '/' */
	char *const *envp;   /* NULL: the caller's environ */
	const char *cwd;     /* NULL: the caller's */
	enum spawn_fd in, out, err;
	int in_fd, out_fd, err_fd; /* for SPAWN_FD_GIVEN */
	/* The following force the fork path. */
	uid_t uid;           /* used when set_ids */
	gid_t gid;
	bool set_ids;
	bool new_mount_ns;   /* unshare(CLONE_NEWNS) with private propagation */
	/* Called in the forked child after the namespace is made and before the
	 * ids are dropped (mount secrets, ...). Returns 0 or a negative errno.
	 * Only async-signal-safe calls are allowed in it. */
	int (*child_setup)(void *arg);
	void *child_arg;
	bool new_session;    /* setsid() instead of a new process group */
	bool die_with_parent; /* PR_SET_PDEATHSIG(SIGKILL) */
};

struct spawn_proc {
	pid_t pid;   /* also the process group id */
	int in;      /* write end of the child's stdin pipe, or -1 */
	int out;     /* read end of the child's stdout pipe, or -1 */
	int err;     /* read end of the child's stderr pipe, or -1 */
	int pidfd;   /* pidfd of the child where the kernel has them, or -1 */
	bool exited; /* the pump saw the child exit */
	bool reaped;
	int status;  /* wait status once reaped */
};

/* Splits a command line on runs of spaces (no shell, no quoting), as the
 * OpenFaaS watchdog does with fprocess. *out_argv is one allocation holding
 * the NULL-terminated array and its strings (caller frees with free()).
 * -ERR_INVALID for an empty command. */
int spawn_split(const char *cmdline, char ***out_argv);

/* Starts a child. On success fills *proc and returns 0; the caller must
 * eventually spawn_wait() it. When the program cannot be executed the
 * negative errno of the failed exec comes back (-ENOENT, -EACCES,
 * -ENOEXEC, ...), so the caller can say "cannot execute 'x': reason"; other
 * failures (pipes, fork) are negative errno values too. */
int spawn_start(const struct spawn_opts *opts, struct spawn_proc *proc);

/* The caller's side of a pump. Input comes from read_in (NULL: none, the
 * child's stdin is closed at once); output goes to write_out/write_err
 * (NULL: discarded). */
struct spawn_io {
	/* fd to poll for more input, or -1 when read_in never blocks. */
	int in_poll_fd;
	/* Fills up to cap bytes: >0 bytes, 0 at end of input, -EAGAIN when no
	 * input is ready now (the pump polls in_poll_fd), other <0 to abort. */
	ssize_t (*read_in)(void *ctx, void *buf, size_t cap);
	/* Takes len output bytes; <0 aborts the pump with that code. */
	int (*write_out)(void *ctx, const void *data, size_t len);
	int (*write_err)(void *ctx, const void *data, size_t len);
	void *ctx;
	/* CLOCK_MONOTONIC deadline in ms (mono_ms()), 0 for none. */
	int64_t deadline_ms;
	/* A deadline that holds only while input is still being read. */
	int64_t in_deadline_ms;
	/* An fd that becomes readable when the pump should stop early, or -1. */
	int cancel_fd;
};

/* Pumps until the child has closed stdout and stderr (and input is done or
 * the child stopped reading it), or until the child has exited and what it
 * wrote before exiting has been read: a background process that keeps the
 * pipes open cannot hold the pump. The caller must ignore SIGPIPE. Returns 0, -ERR_TIMEOUT at the deadline,
 * -ECANCELED when cancel_fd fired, or the code of a failed callback. It
 * never kills the child: spawn_kill() and spawn_wait() do that. An input
 * that the child does not read to the end is not an error (EPIPE). */
int spawn_pump(struct spawn_proc *proc, const struct spawn_io *io);

/* Sends sig to the child's whole process group. */
void spawn_kill(struct spawn_proc *proc, int sig);

/* Closes the caller's pipe ends, waits for the child to exit, then kills and
 * reaps what remains of its process group. Returns the wait status
 * (WIFEXITED & co.) or a negative errno. Safe to call twice. */
int spawn_wait(struct spawn_proc *proc);

/* Waits at most timeout_ms for the child to exit; 0 and the status in
 * proc->status if it did, -ERR_TIMEOUT if not. Does not kill the group. */
int spawn_wait_timeout(struct spawn_proc *proc, int64_t timeout_ms);

/* CLOCK_MONOTONIC in milliseconds and nanoseconds. */
int64_t mono_ms(void);
int64_t mono_ns(void);

/* CLOCK_REALTIME (Unix time) in milliseconds: for timestamps that are
 * stored or shown, never for measuring intervals. */
int64_t real_ms(void);

/* The CLOCK_MONOTONIC time ms from now, as pthread_cond_timedwait wants it
 * for a condition variable created with that clock. */
void mono_deadline_ts(int64_t ms, struct timespec *out);

#endif
