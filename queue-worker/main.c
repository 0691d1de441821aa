/*
 * cfaas-queue-worker - runs async calls from NATS JetStream (DESIGN.md
 * section 6) on any machine that reaches the NATS server and the gateway.
 *
 * The gateway embeds the same worker; run this one to add capacity (start
 * the gateway with --no-queue-worker to leave all the work to these).
 * SIGTERM or SIGINT: stop fetching, let running calls finish for
 * --drain-timeout, put the rest back in the queue, exit 0.
 */
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "qw.h"
#include "banned.h"

static const char *env_get(const char *name)
{
	return getenv(name);
}

int main(int argc, char **argv)
{
	struct qw_config cfg;
	struct qw *w = NULL;
	struct qw_stats st;
	struct buf why;
	sigset_t sigs;
	int sig = 0, rc;

	buf_init(&why, 2048);
	rc = qw_config_load(&cfg, argc, argv, env_get, &why);
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "cfaas-queue-worker: %s\n", buf_cstr(&why));
		buf_release(&why);
		return rc < 0 ? 2 : 0;
	}
	log_setup("queue-worker", cfg.debug ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rc = qw_new(&cfg, &w, &why);
	if (rc) {
		fprintf(stderr, "cfaas-queue-worker: %s\n", buf_cstr(&why));
		buf_release(&why);
		nats_Close();
		return 1;
	}
	LOG_INFO("cfaas-queue-worker %s: NATS %s, gateway %s, max_inflight %u, ack_wait %lld ms",
		 CFAAS_VERSION, cfg.nats_url, cfg.gateway_url, cfg.max_inflight,
		 (long long)cfg.ack_wait_ms);
	sigwait(&sigs, &sig);
	LOG_INFO("%s received: draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
	qw_stats(w, &st);
	qw_free(w);
	nats_CloseAndWait(5000);
	LOG_INFO("stopped after %llu calls, %llu retries, %llu dead letters, %llu callbacks",
		 (unsigned long long)st.calls, (unsigned long long)st.retries,
		 (unsigned long long)st.dead_letters, (unsigned long long)st.callbacks);
	buf_release(&why);
	return 0;
}
