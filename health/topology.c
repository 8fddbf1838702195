/*
 * topology.c — snapshot allocation and reference counting (see topology.h).
 */
#include "health/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hc_state_name(enum hc_state s)
{
	switch (s) {
	case HC_UNKNOWN: return "UNKNOWN";
	case HC_UP: return "UP";
	case HC_DOWN: return "DOWN";
	case HC_FENCED: return "FENCED";
	case HC_MAINTENANCE: return "MAINTENANCE";
	}
	return "?";
}

const char *hc_role_name(enum hc_role r)
{
	switch (r) {
	case HC_ROLE_UNKNOWN: return "unknown";
	case HC_ROLE_PRIMARY: return "primary";
	case HC_ROLE_REPLICA: return "replica";
	}
	return "?";
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
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		free(t);
}
