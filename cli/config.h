/*
 * config.h - the CLI's environment and its saved credentials.
 *
 * This is the one place where `cfaas` reads the environment (STYLE.md
 * habit 15): config_env_load() reads and checks the variables the CLI
 * uses once at start, and config_getenv() serves the ${VAR} references of
 * stack files.
 *
 * Credentials saved by `cfaas login` live in ~/.cfaas/config.json
 * (directory 0700, file 0600, replaced atomically):
 *   {"auths": [{"gateway": "http://127.0.0.1:8080", "user": "admin",
 *               "token": "<base64 of user:password>"}]}
 * Gateways are compared without trailing slashes.
 */
#ifndef CLI_CONFIG_H
#define CLI_CONFIG_H

#include "buf.h"

struct cli_env {
	const char *home;         /* $HOME, else the passwd entry's home */
	const char *openfaas_url; /* $OPENFAAS_URL or NULL */
	const char *templates;    /* $CFAAS_TEMPLATES (dirs, ':'-separated) or NULL */
	const char *watchdog;     /* $CFAAS_WATCHDOG or NULL */
};

/* Reads and checks the environment once. 0, or -ERR_INVALID with a line
 * naming the variable in why. */
int config_env_load(struct buf *why);

/* The environment read by config_env_load (borrowed, static). */
const struct cli_env *config_env(void);

/* The value of any variable, for ${VAR} in stack files; NULL when unset.
 * Borrowed from the environment. */
const char *config_getenv(const char *name);

/* Saved credentials for one gateway; strings owned by the struct. */
struct config_auth {
	char *user;
	char *password;
};

/* Frees what a owns and zeroes it; a may be NULL. */
void config_auth_release(struct config_auth *a);

/* Writes the path of the config file into out (a new string in the
 * caller's buffer). 0 or -ERR_TOO_BIG. */
int config_file_path(struct buf *out);

/* Looks up the credentials saved for gateway. 0 with *out filled (caller
 * releases), -ERR_NOT_FOUND when there are none, -ERR_PARSE with why when
 * the file is damaged, other negative codes for I/O errors. */
int config_auth_get(const char *gateway, struct config_auth *out, struct buf *why);

/* Saves (replacing) the credentials for gateway. 0 or a negative code with
 * why. Arguments borrowed. */
int config_auth_save(const char *gateway, const char *user, const char *password,
		     struct buf *why);

/* Forgets the credentials for gateway: 0, -ERR_NOT_FOUND, or an error
 * with why. */
int config_auth_remove(const char *gateway, struct buf *why);

#endif
