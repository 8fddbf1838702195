/*
 * gtid_lag.c — lag from GTID positions (see gtid_lag.h).
 */
#include "health/gtid_lag.h"

#include <stdlib.h>
#include <string.h>

void hc_glag_init(struct hc_glag *g)
{
	memset(g, 0, sizeof(*g));
	g->owner = -1;
}

void hc_glag_reset(struct hc_glag *g)
{
	g->n = 0;
	g->seen = false;
	g->owner = -1;
}

void hc_glag_free(struct hc_glag *g)
{
	if (!g)
		return;
	free(g->d);
	hc_glag_init(g);
}

static struct hc_glag_domain *find(struct hc_glag *g, uint32_t domain)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->d[i].domain == domain)
			return &g->d[i];
	return NULL;
}

static struct hc_glag_domain *add(struct hc_glag *g, uint32_t domain)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 1;
		struct hc_glag_domain *d = realloc(g->d, cap * sizeof(*d));
		if (!d)
			return NULL;
		g->d = d;
		g->cap = cap;
	}
	struct hc_glag_domain *x = &g->d[g->n++];
	x->domain = domain;
	hc_hb_init(&x->ring);
	return x;
}

int hc_glag_record(struct hc_glag *g, const struct hc_gtid_pos *primary, int64_t mono_us)
{
	/* Domains the primary no longer reports (RESET MASTER) are dropped. */
	for (size_t i = 0; i < g->n;) {
		if (hc_gtid_find(primary, g->d[i].domain))
			i++;
		else
			g->d[i] = g->d[--g->n];
	}
	for (size_t i = 0; i < primary->n; i++) {
		const struct hc_gtid *p = &primary->g[i];
		struct hc_glag_domain *x = find(g, p->domain);
		if (!x && !(x = add(g, p->domain))) {
			hc_glag_reset(g);
			return -1;
		}
		/* seq_no is stored as the ring's signed value; a server's seq_no
		 * past INT64_MAX is not a real history. */
		int64_t seq = p->seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)p->seq;
		if (x->ring.n > 0 && seq < x->ring.last_value)
			hc_hb_init(&x->ring); /* the domain's history went back: start again */
		hc_hb_record(&x->ring, seq, mono_us);
	}
	g->seen = true;
	return 0;
}

int64_t hc_glag_lag_us(const struct hc_glag *g, const struct hc_gtid_pos *applied,
		       int64_t ref_mono_us)
{
	if (!g->seen)
		return -1;
	int64_t lag = 0;
	for (size_t i = 0; i < g->n; i++) {
		const struct hc_gtid *a = hc_gtid_find(applied, g->d[i].domain);
		int64_t have = !a ? 0 : a->seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)a->seq;
		int64_t us = hc_hb_lag_us(&g->d[i].ring, have, ref_mono_us);
		if (us > lag)
			lag = us;
	}
	return lag;
}

void hc_glag_merge(struct hc_gtid_pos *out, const struct hc_gtid_pos *a,
		   const struct hc_gtid_pos *b)
{
	*out = *a;
	for (size_t i = 0; i < b->n; i++) {
		struct hc_gtid *o = NULL;
		for (size_t j = 0; j < out->n; j++)
			if (out->g[j].domain == b->g[i].domain)
				o = &out->g[j];
		if (o) {
			if (b->g[i].seq > o->seq)
				*o = b->g[i];
		} else if (out->n < HC_GTID_MAX) {
			out->g[out->n++] = b->g[i];
		}
	}
}
