/*
 * cmd_login.c - `cfaas login`: checks the credentials against the gateway
 * and, only when they work, saves them in ~/.cfaas/config.json.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "fsutil.h"
#include "opts.h"
#include "session.h"
#include "banned.h"

#define MAX_PASSWORD (16u * 1024)

/* Reads a password typed at the terminal without echoing it. */
static int prompt(struct buf *out)
{
	struct termios old, quiet;
	char line[4096];
	bool restored = false;
	int rc = 0;

	fputs("Password: ", stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else {
		restored = true;
	}
	if (!fgets(line, sizeof(line), stdin))
		rc = -ERR_CLOSED;
	else
		rc = buf_adds(out, line);
	if (!restored)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	memset(line, 0, sizeof(line));
	return rc;
}

int cmd_login(int argc, char **argv)
{
	struct session_flags sf = { 0 };
	const char *user = "admin", *password = NULL;
	bool from_stdin = false;
	const struct opt opts[] = {
		{ "username", 'u', OPT_STR, &user, "USER", "user name (default admin)" },
		{ "password", 'p', OPT_STR, &password, "PASSWORD", "the password (visible to other users: prefer --password-stdin)" },
		{ "password-stdin", 's', OPT_BOOL, &from_stdin, NULL, "read the password from stdin" },
		SESSION_OPT_GATEWAY(&sf),
		SESSION_OPT_YAML(&sf),
		SESSION_OPT_TLS(&sf),
		OPT_END
	};
	const struct opts_spec spec = {
		"login", "[flags]",
		"Checks the user name and password against the gateway and, when they work, "
		"saves them\nin ~/.cfaas/config.json (mode 0600) for later commands. The "
		"gateway prints its password\non its first start and keeps it in "
		"DATA_DIR/basic-auth-password.",
		opts, 0, 0,
		"  cfaas login --password-stdin < cfaas-data/basic-auth-password\n"
		"  cat pass.txt | cfaas login -u admin --password-stdin -g http://10.0.0.5:8080\n",
	};
	struct client_opts co = { 0 };
	struct client_resp resp;
	struct client_req req = {
		.method = "GET", .path = "/system/info", .auth = true,
		.timeout_ms = SESSION_API_TIMEOUT_MS,
	};
	struct client *checker = NULL;
	struct session s;
	struct opts_args args;
	struct buf pass, why, where;
	int rc = opts_parse(&spec, argc, argv, &args);

	if (rc)
		return rc == 1 ? CLI_OK : rc;
	opts_args_release(&args);
	if (password && from_stdin) {
		cli_err("login: give the password with --password or --password-stdin, not both");
		return CLI_USAGE;
	}
	if (!user[0] || strchr(user, ':')) {
		cli_err("login: the user name must not be empty or hold ':'");
		return CLI_USAGE;
	}
	buf_init(&pass, MAX_PASSWORD);
	buf_init(&why, 4096);
	buf_init(&where, 4096);
	client_resp_init(&resp);
	if ((rc = session_open(&s, "login", &sf, SESSION_STACK_IF_ANY | SESSION_NO_CLIENT)))
		goto out_nosession;
	if (password) {
		cli_note("WARNING! Using --password is insecure, consider using: "
			 "cat ~/password.txt | cfaas login --password-stdin");
		buf_adds(&pass, password);
	} else if (from_stdin) {
		if (fsutil_read_fd(STDIN_FILENO, &pass)) {
			cli_err("login: cannot read the password from stdin (at most %u bytes)",
				MAX_PASSWORD);
			rc = CLI_USAGE;
			goto out;
		}
	} else if (isatty(STDIN_FILENO)) {
		if (prompt(&pass)) {
			cli_err("login: no password was entered");
			rc = CLI_USAGE;
			goto out;
		}
	} else {
		cli_err("login: give the password with --password-stdin (or --password)");
		rc = CLI_USAGE;
		goto out;
	}
	while (pass.len && (pass.data[pass.len - 1] == '\n' || pass.data[pass.len - 1] == '\r'))
		pass.data[--pass.len] = '\0';
	if (!pass.len || memchr(pass.data, '\0', pass.len)) {
		cli_err("login: the password is empty");
		rc = CLI_USAGE;
		goto out;
	}
	co.gateway = s.gateway;
	co.user = user;
	co.password = buf_cstr(&pass);
	co.tls_no_verify = sf.tls_no_verify;
	if (client_new(&co, &checker)) {
		rc = CLI_FAIL;
		goto out;
	}
	s.client = checker;
	checker = NULL;
	cli_note("Calling the gateway at %s to check the credentials", s.gateway);
	if ((rc = session_call(&s, &req, &resp)))
		goto out;
	if (resp.status == 401) {
		cli_err("login: wrong user name or password for '%s' (401 Unauthorized): nothing "
			"was saved", s.gateway);
		rc = CLI_UNAUTHORIZED;
		goto out;
	}
	if (resp.status != 200) {
		rc = session_fail(&s, &resp, "cannot check the credentials");
		goto out;
	}
	if (config_auth_save(s.gateway, user, buf_cstr(&pass), &why)) {
		cli_err("login: %s", buf_cstr(&why));
		rc = CLI_FAIL;
		goto out;
	}
	config_file_path(&where);
	printf("Credentials saved for %s at %s in %s\n", user, s.gateway, buf_cstr(&where));
	fflush(stdout);
	rc = CLI_OK;
out:
	session_close(&s);
out_nosession:
	if (pass.data)
		memset(pass.data, 0, pass.len);
	client_free(checker);
	client_resp_release(&resp);
	buf_release(&pass);
	buf_release(&why);
	buf_release(&where);
	return rc;
}
