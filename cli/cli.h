/*
 * cli.h - what every command of the `cfaas` command line shares: the exit
 * codes scripts can rely on, the command table's row type, and the two
 * functions that print messages for people.
 *
 * Results go to stdout; progress, warnings and errors go to stderr
 * (STYLE.md habit 11). Each command lives in its own cmd_<name>.c and is
 * one row of the table in main.c.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes: documented in docs/cli.md, never reused for other meanings. */
enum cli_exit {
	CLI_OK = 0,           /* everything asked for was done */
	CLI_FAIL = 1,         /* something failed: a build, a deploy, the function */
	CLI_USAGE = 2,        /* bad command line or bad stack file */
	CLI_UNREACHABLE = 3,  /* the gateway could not be reached */
	CLI_UNAUTHORIZED = 4, /* the gateway refused the credentials (401) */
	CLI_NOT_FOUND = 5,    /* the function, secret or call does not exist */
};

/* A command: its name, an optional alias, its entry point (argv[0] is the
 * command name) and a one-line summary for `cfaas --help`. */
struct cli_command {
	const char *name;
	const char *alias;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Prints "cfaas: <message>\n" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "<message>\n" on stderr: progress and hints for people. Lines of
 * concurrent builds never interleave (one write per line). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The worse of two exit codes (a failure beats success; the first failure
 * is kept), so a command over several functions reports the first problem. */
int cli_worse(int a, int b);

/* Entry points, one per cmd_<name>.c. */
int cmd_new(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_invoke(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_scale(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_calls(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
