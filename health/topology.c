/*
 * topology.c — snapshot and gate allocation and reference counting (see
 * topology.h).
 */
#include "health/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hc_state_name(enum hc_state s)
{
	switch (s) {
	case HC_UNKNOWN:
		return "UNKNOWN";
	case HC_UP:
		return "UP";
	case HC_DOWN:
		return "DOWN";
	case HC_FENCED:
		return "FENCED";
	case HC_MAINTENANCE:
		return "MAINTENANCE";
	}
	return "?";
}

const char *hc_role_name(enum hc_role r)
{
	switch (r) {
	case HC_ROLE_UNKNOWN:
		return "unknown";
	case HC_ROLE_PRIMARY:
		return "primary";
	case HC_ROLE_REPLICA:
		return "replica";
	}
	return "?";
}

const char *hc_transition_name(enum hc_transition t)
{
	switch (t) {
	case HC_TR_NONE:
		return "none";
	case HC_TR_FAILOVER:
		return "failover";
	case HC_TR_SWITCHOVER:
		return "switchover";
	}
	return "?";
}

struct hc_gate *hc_gate_new(size_t n)
{
	struct hc_gate *g = calloc(1, sizeof(*g) + n * sizeof(struct hc_gate_slot));
	if (!g)
		return NULL;
	atomic_init(&g->refs, 1);
	g->n = n;
	for (size_t i = 0; i < n; i++) {
		atomic_init(&g->slot[i].sessions, 0);
		atomic_init(&g->slot[i].closed, false);
	}
	return g;
}

struct hc_gate *hc_gate_ref(struct hc_gate *g)
{
	if (g)
		atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void hc_gate_unref(struct hc_gate *g)
{
	if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		free(g);
}

bool hc_gate_enter(struct hc_gate *g, size_t i)
{
	if (!g || i >= g->n)
		return true;
	atomic_fetch_add(&g->slot[i].sessions, 1);
	if (atomic_load(&g->slot[i].closed)) {
		atomic_fetch_sub(&g->slot[i].sessions, 1);
		return false;
	}
	return true;
}

void hc_gate_leave(struct hc_gate *g, size_t i)
{
	if (g && i < g->n)
		atomic_fetch_sub(&g->slot[i].sessions, 1);
}

void hc_gate_set_closed(struct hc_gate *g, size_t i, bool closed)
{
	if (g && i < g->n)
		atomic_store(&g->slot[i].closed, closed);
}

int hc_gate_sessions(const struct hc_gate *g, size_t i)
{
	if (!g || i >= g->n)
		return 0;
	return atomic_load((atomic_int *)&g->slot[i].sessions);
}

struct hc_topology *hc_topology_new(const char *cluster, size_t nmembers)
{
	struct hc_topology *t = calloc(1, sizeof(*t) + nmembers * sizeof(struct hc_member));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	snprintf(t->cluster, sizeof(t->cluster), "%s", cluster);
	t->nmembers = nmembers;
	t->primary = -1;
	for (size_t i = 0; i < nmembers; i++)
		t->members[i].lag_ms = -1;
	return t;
}

struct hc_topology *hc_topology_ref(struct hc_topology *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void hc_topology_unref(struct hc_topology *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		hc_gate_unref(t->gate);
		free(t);
	}
}
