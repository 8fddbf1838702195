/*
 * conn_ids.c — see session.h. A fixed array of buckets keyed by greeting
 * id, chained through the sessions themselves (session.ids_next); each
 * entry is scoped to its cluster by a hash of the cluster's name, so ids of
 * different clusters (different servers) never mix.
 *
 * Why a process-wide table: a KILL may come from a session on another
 * worker than its target's. Why a mutex: the writers are logins, moves
 * and closes, the readers KILL statements; none of them is the hot path.
 */
#include "proxy/session/session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/kill.h"
#include "protocol/mysql_const.h"
#include "protocol/packet.h"

#include "proxy/session/session_types.h"
#include "proxy/process/worker_types.h"

#define NBUCKETS 4096

static pthread_mutex_t ids_mu = PTHREAD_MUTEX_INITIALIZER;
static struct session *ids_bucket[NBUCKETS]; /* guarded by ids_mu */

static uint32_t cluster_hash(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

static const char *cluster_of(const struct session *s)
{
	return s->wt->cfg && s->wt->cfg->cluster ? s->wt->cfg->cluster->name : "";
}

void conn_ids_add(struct session *s)
{
	if (s->ids_in)
		return;
	s->ids_cluster = cluster_hash(cluster_of(s));
	size_t b = s->greeting_id % NBUCKETS;
	pthread_mutex_lock(&ids_mu);
	s->ids_next = ids_bucket[b];
	ids_bucket[b] = s;
	s->ids_in = true;
	pthread_mutex_unlock(&ids_mu);
}

void conn_ids_remove(struct session *s)
{
	if (!s->ids_in)
		return;
	size_t b = s->greeting_id % NBUCKETS;
	pthread_mutex_lock(&ids_mu);
	for (struct session **pp = &ids_bucket[b]; *pp; pp = &(*pp)->ids_next) {
		if (*pp == s) {
			*pp = s->ids_next;
			break;
		}
	}
	s->ids_in = false;
	s->ids_next = NULL;
	pthread_mutex_unlock(&ids_mu);
}

void conn_ids_set_backend(struct session *s, uint32_t id)
{
	pthread_mutex_lock(&ids_mu);
	s->backend_conn_id = id;
	pthread_mutex_unlock(&ids_mu);
}

bool conn_ids_translate(const char *cluster, uint32_t id, uint32_t *out)
{
	uint32_t ch = cluster_hash(cluster);
	bool found = false;
	pthread_mutex_lock(&ids_mu);
	for (struct session *s = ids_bucket[id % NBUCKETS]; s; s = s->ids_next) {
		if (s->greeting_id != id || s->ids_cluster != ch)
			continue;
		/* The newest session with that greeting id is first in its bucket. */
		if (s->backend_conn_id && s->backend_conn_id != id) {
			*out = s->backend_conn_id;
			found = true;
		}
		break;
	}
	pthread_mutex_unlock(&ids_mu);
	return found;
}

/* ---------------------------------------------------------- KILL rewrite */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void log_translated(const struct session *s, uint32_t from, uint32_t to)
{
	log_info("session %llu: KILL of connection %u (a tandem client's id) sent to the server "
		 "as %u, that session's current connection",
		 (unsigned long long)s->id, from, to);
}

int conn_ids_kill_rewrite(struct session *s, uint8_t **pp, uint32_t *len)
{
	uint8_t *p = *pp;
	uint32_t to;
	if (p[0] == COM_PROCESS_KILL) {
		if (*len != 5 || !conn_ids_translate(cluster_of(s), le32(p + 1), &to))
			return 0;
		log_translated(s, le32(p + 1), to);
		for (int i = 0; i < 4; i++)
			p[1 + i] = (uint8_t)(to >> (8 * i));
		return 1;
	}
	const char *sql = (const char *)p + 1;
	size_t n = *len - 1;
	size_t lead = 0;
	while (lead < n &&
	       (sql[lead] == ' ' || sql[lead] == '\t' || sql[lead] == '\n' || sql[lead] == '\r'))
		lead++;
	/* the one test every other COM_QUERY pays */
	if (lead >= n || (sql[lead] | 0x20) != 'k')
		return 0;
	struct proto_kill k;
	if (proto_kill_parse(sql, n, &k) <= 0 || !conn_ids_translate(cluster_of(s), k.id, &to))
		return 0;
	char digits[16];
	int dl = snprintf(digits, sizeof(digits), "%u", to);
	size_t nlen = *len - k.id_len + (size_t)dl;
	uint8_t *np = malloc(PROTO_HEADER_LEN + nlen);
	if (!np)
		return 0;
	proto_frame_build(np, (uint32_t)nlen, 0);
	uint8_t *q = np + PROTO_HEADER_LEN;
	memcpy(q, p, 1 + k.id_at);
	memcpy(q + 1 + k.id_at, digits, (size_t)dl);
	memcpy(q + 1 + k.id_at + dl, sql + k.id_at + k.id_len, n - k.id_at - k.id_len);
	log_translated(s, k.id, to);
	evbuffer_drain(s->client.in, PROTO_HEADER_LEN + *len);
	int rc = evbuffer_prepend(s->client.in, np, PROTO_HEADER_LEN + nlen);
	free(np);
	uint8_t *head =
		rc == 0 ? evbuffer_pullup(s->client.in, (ssize_t)(PROTO_HEADER_LEN + nlen)) : NULL;
	if (!head)
		return -1;
	*len = (uint32_t)nlen;
	*pp = head + PROTO_HEADER_LEN;
	return 1;
}
