/*
 * tenant.c — tenant runtime records and their registry (see session.h).
 */
#include "proxy/session/session.h"


#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tenant_rt *tenant_rt_new(const char *name, int nworkers)
{
	struct tenant_rt *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->per_worker = aligned_alloc(64, sizeof(struct tenant_counters) * (size_t)nworkers);
	if (!t->per_worker) {
		free(t);
		return NULL;
	}
	memset(t->per_worker, 0, sizeof(struct tenant_counters) * (size_t)nworkers);
	t->acks = gtid_acks_new();
	if (!t->acks) {
		free(t->per_worker);
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	atomic_init(&t->open, 0);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->nworkers = nworkers;
	return t;
}

struct tenant_rt *tenant_rt_ref(struct tenant_rt *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void tenant_rt_unref(struct tenant_rt *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		gtid_acks_free(t->acks);
		free(t->per_worker);
		free(t);
	}
}

uint64_t tenant_rt_sum(const struct tenant_rt *t, size_t field_offset)
{
	uint64_t sum = 0;
	for (int i = 0; i < t->nworkers; i++) {
		const char *base = (const char *)&t->per_worker[i];
		sum += stat_get((const stat_t *)(base + field_offset));
	}
	return sum;
}

struct tenant_rt *tenant_registry_find(const struct tenant_registry *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i]->name, name) == 0)
			return r->items[i];
	return NULL;
}

struct tenant_rt *tenant_registry_get(struct tenant_registry *r, const char *name, int nworkers)
{
	struct tenant_rt *t = tenant_registry_find(r, name);
	if (t)
		return t;
	struct tenant_rt **grown = realloc(r->items, (r->n + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	r->items = grown;
	t = tenant_rt_new(name, nworkers);
	if (!t)
		return NULL;
	r->items[r->n++] = t;
	return t;
}

void tenant_registry_retain(struct tenant_registry *r, bool (*keep)(const char *name, void *arg),
			    void *arg)
{
	size_t j = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (keep(r->items[i]->name, arg))
			r->items[j++] = r->items[i];
		else
			tenant_rt_unref(r->items[i]);
	}
	r->n = j;
}

void tenant_registry_free(struct tenant_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		tenant_rt_unref(r->items[i]);
	free(r->items);
	r->items = NULL;
	r->n = 0;
}
