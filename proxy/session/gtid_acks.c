/*
 * gtid_acks.c — the tenant's acknowledged GTIDs and in-flight guarded
 * commands (see session.h).
 */
#include "proxy/session/session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/gtid.h"

/* Commits acknowledged while a cut-off one waits for its read-back: a
 * failover is decided within a second or two, so this covers some
 * thousands of commits a second; beyond it the read-back says "cannot
 * tell" rather than guess. */
#define ACKS_RING  8192
#define DOUBTS_MAX 1024

struct doubt {
	uint64_t fp;
	unsigned n;
};

struct gtid_acks {
	pthread_mutex_t mu;
	struct hc_gtid *ring; /* ACKS_RING, allocated on the first push */
	size_t head, count;
	char latest[64];
	struct doubt doubts[DOUBTS_MAX];
	size_t ndoubts;
};

struct gtid_acks *gtid_acks_new(void)
{
	struct gtid_acks *a = calloc(1, sizeof(*a));
	if (a)
		pthread_mutex_init(&a->mu, NULL);
	return a;
}

void gtid_acks_free(struct gtid_acks *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->ring);
	free(a);
}

bool gtid_acks_parse(const char *gtid, uint32_t *domain, uint32_t *server, uint64_t *seq)
{
	struct hc_gtid_pos pos;
	if (!gtid || hc_gtid_parse(gtid, strlen(gtid), &pos) < 0 || pos.n != 1)
		return false;
	*domain = pos.g[0].domain;
	*server = pos.g[0].server;
	*seq = pos.g[0].seq;
	return true;
}

void gtid_acks_push(struct gtid_acks *a, const char *gtid)
{
	struct hc_gtid k;
	if (!gtid_acks_parse(gtid, &k.domain, &k.server, &k.seq))
		return;
	pthread_mutex_lock(&a->mu);
	if (!a->ring)
		a->ring = calloc(ACKS_RING, sizeof(*a->ring));
	if (a->ring) {
		a->ring[a->head] = k;
		a->head = (a->head + 1) % ACKS_RING;
		if (a->count < ACKS_RING)
			a->count++;
		snprintf(a->latest, sizeof(a->latest), "%s", gtid);
	}
	pthread_mutex_unlock(&a->mu);
}

void gtid_acks_latest(struct gtid_acks *a, char *out, size_t outlen)
{
	pthread_mutex_lock(&a->mu);
	snprintf(out, outlen, "%s", a->latest);
	pthread_mutex_unlock(&a->mu);
}

int gtid_acks_has(struct gtid_acks *a, uint32_t domain, uint32_t server, uint64_t seq,
		  uint64_t after_seq)
{
	int r = 0;
	bool reaches = false; /* an entry of the domain at or before after_seq is kept */
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->count; i++) {
		const struct hc_gtid *k = &a->ring[(a->head + ACKS_RING - 1 - i) % ACKS_RING];
		if (k->domain != domain)
			continue;
		if (k->seq == seq && k->server == server)
			r = 1;
		if (k->seq <= after_seq)
			reaches = true;
	}
	/* A ring that never filled has everything since the process began. */
	if (!r && !reaches && a->count == ACKS_RING)
		r = -1;
	pthread_mutex_unlock(&a->mu);
	return r;
}

void gtid_acks_doubt_add(struct gtid_acks *a, uint64_t fp)
{
	pthread_mutex_lock(&a->mu);
	size_t i = 0;
	while (i < a->ndoubts && a->doubts[i].fp != fp)
		i++;
	if (i < a->ndoubts)
		a->doubts[i].n++;
	else if (a->ndoubts < DOUBTS_MAX)
		a->doubts[a->ndoubts++] = (struct doubt){fp, 1};
	else
		a->doubts[DOUBTS_MAX - 1]
			.n++; /* full: counted with some other; only errs to "cannot tell" */
	pthread_mutex_unlock(&a->mu);
}

void gtid_acks_doubt_remove(struct gtid_acks *a, uint64_t fp)
{
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->ndoubts; i++) {
		if (a->doubts[i].fp != fp)
			continue;
		if (--a->doubts[i].n == 0)
			a->doubts[i] = a->doubts[--a->ndoubts];
		break;
	}
	pthread_mutex_unlock(&a->mu);
}

unsigned gtid_acks_doubt_count(struct gtid_acks *a, uint64_t fp)
{
	unsigned n = 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->ndoubts; i++)
		if (a->doubts[i].fp == fp)
			n = a->doubts[i].n;
	if (a->ndoubts == DOUBTS_MAX)
		n = n > 1 ? n : 2; /* the table overflowed: cannot tell */
	pthread_mutex_unlock(&a->mu);
	return n;
}
