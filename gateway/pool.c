#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "pool.h"
#include "spawn.h"
#include "banned.h"

#define NBUCKETS 256

struct idle {
	int fd;
	int64_t since_ms;
};

struct addr {
	char host[64];
	int port;
	struct idle conns[POOL_PER_ADDR];
	int n;
	struct addr *next;
};

struct pool {
	pthread_mutex_t mu;
	struct addr *buckets[NBUCKETS];
};

int pool_new(struct pool **out)
{
	struct pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void pool_free(struct pool *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < NBUCKETS; i++) {
		while (p->buckets[i]) {
			struct addr *a = p->buckets[i];
			p->buckets[i] = a->next;
			while (a->n)
				close(a->conns[--a->n].fd);
			free(a);
		}
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static unsigned hash(const char *host, int port)
{
	unsigned h = 2166136261u ^ (unsigned)port;

	while (*host)
		h = (h ^ (unsigned char)*host++) * 16777619u;
	return h % NBUCKETS;
}

/* Called with mu held. */
static struct addr *find(struct pool *p, const char *host, int port, bool create)
{
	unsigned b = hash(host, port);
	struct addr *a;

	for (a = p->buckets[b]; a; a = a->next)
		if (a->port == port && !strcmp(a->host, host))
			return a;
	if (!create || strlen(host) >= sizeof(a->host))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	memcpy(a->host, host, strlen(host) + 1);
	a->port = port;
	a->next = p->buckets[b];
	p->buckets[b] = a;
	return a;
}

/* An idle connection that polls readable was closed by the peer. */
static bool usable(const struct idle *c, int64_t now)
{
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };

	return now - c->since_ms < POOL_IDLE_MS && poll(&pf, 1, 0) == 0;
}

int pool_get(struct pool *p, const char *host, int port)
{
	int64_t now = mono_ms();
	struct addr *a;
	int fd = -1;

	pthread_mutex_lock(&p->mu);
	a = find(p, host, port, false);
	while (a && a->n) {
		struct idle c = a->conns[--a->n];
		if (usable(&c, now)) {
			fd = c.fd;
			break;
		}
		close(c.fd);
	}
	pthread_mutex_unlock(&p->mu);
	return fd;
}

void pool_put(struct pool *p, const char *host, int port, int fd)
{
	struct addr *a;

	pthread_mutex_lock(&p->mu);
	a = find(p, host, port, true);
	if (a && a->n < POOL_PER_ADDR) {
		a->conns[a->n].fd = fd;
		a->conns[a->n].since_ms = mono_ms();
		a->n++;
		fd = -1;
	}
	pthread_mutex_unlock(&p->mu);
	if (fd >= 0)
		close(fd);
}

void pool_drop(struct pool *p, const char *host, int port)
{
	struct addr *a;

	pthread_mutex_lock(&p->mu);
	a = find(p, host, port, false);
	while (a && a->n)
		close(a->conns[--a->n].fd);
	pthread_mutex_unlock(&p->mu);
}

void pool_sweep(struct pool *p)
{
	int64_t now = mono_ms();
	size_t b;

	pthread_mutex_lock(&p->mu);
	for (b = 0; b < NBUCKETS; b++) {
		struct addr **pp = &p->buckets[b], *a;
		while ((a = *pp)) {
			int i, kept = 0;
			for (i = 0; i < a->n; i++) {
				if (usable(&a->conns[i], now))
					a->conns[kept++] = a->conns[i];
				else
					close(a->conns[i].fd);
			}
			a->n = kept;
			if (!a->n) {
				*pp = a->next;
				free(a);
			} else {
				pp = &a->next;
			}
		}
	}
	pthread_mutex_unlock(&p->mu);
}
