/*
 * monitor.c — placeholder monitor for the walking skeleton: it publishes
 * each cluster's configured primary as UP and never probes. The health
 * issue replaces this with real probes and failover decisions behind the
 * same contract (monitor.h).
 */
#include "health/monitor.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

struct hc_cluster_slot {
	char name[64];
	struct hc_topology *topo; /* guarded by hc_monitor.mu */
};

struct hc_monitor {
	pthread_mutex_t mu;
	struct hc_cluster_slot *slots;
	size_t nslots;
	hc_notify_fn notify;
	void *arg;
	uint64_t gen;
};

static struct hc_topology *static_topology(const struct cfg_cluster *c, uint64_t gen)
{
	struct hc_topology *t = hc_topology_new(c->name, c->nmembers);
	if (!t)
		return NULL;
	t->gen = gen;
	for (size_t i = 0; i < c->nmembers; i++) {
		t->members[i].addr = c->members[i];
		t->members[i].state = i == 0 ? HC_UP : HC_UNKNOWN;
		t->members[i].role = i == 0 ? HC_ROLE_PRIMARY : HC_ROLE_REPLICA;
		t->members[i].since_us = clock_wall_us();
	}
	t->primary = 0;
	return t;
}

static void install(struct hc_monitor *m, const struct cfg *cfg)
{
	struct hc_cluster_slot *slots = calloc(cfg->nclusters + 1, sizeof(*slots));
	if (!slots)
		return;
	pthread_mutex_lock(&m->mu);
	m->gen++;
	for (size_t i = 0; i < cfg->nclusters; i++) {
		snprintf(slots[i].name, sizeof(slots[i].name), "%s", cfg->clusters[i].name);
		slots[i].topo = static_topology(&cfg->clusters[i], m->gen);
	}
	struct hc_cluster_slot *old = m->slots;
	size_t nold = m->nslots;
	m->slots = slots;
	m->nslots = cfg->nclusters;
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < nold; i++)
		hc_topology_unref(old[i].topo);
	free(old);
}

struct hc_monitor *hc_monitor_start(const struct cfg *cfg, hc_notify_fn notify, void *arg)
{
	struct hc_monitor *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->notify = notify;
	m->arg = arg;
	install(m, cfg);
	return m;
}

void hc_monitor_reconfigure(struct hc_monitor *m, const struct cfg *cfg)
{
	install(m, cfg);
	if (m->notify)
		m->notify(m->arg);
}

void hc_monitor_stop(struct hc_monitor *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nslots; i++)
		hc_topology_unref(m->slots[i].topo);
	free(m->slots);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

struct hc_topology *hc_monitor_topology(struct hc_monitor *m, const char *cluster)
{
	struct hc_topology *t = NULL;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nslots; i++)
		if (strcmp(m->slots[i].name, cluster) == 0)
			t = hc_topology_ref(m->slots[i].topo);
	pthread_mutex_unlock(&m->mu);
	return t;
}

void hc_monitor_suspect(struct hc_monitor *m, const char *cluster, const struct sockaddr *sa)
{
	(void)m;
	(void)cluster;
	(void)sa;
}

json_t *hc_monitor_status_json(struct hc_monitor *m)
{
	json_t *clusters = json_object();
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nslots; i++) {
		struct hc_topology *t = m->slots[i].topo;
		if (!t)
			continue;
		json_t *members = json_array();
		for (size_t j = 0; j < t->nmembers; j++) {
			const struct hc_member *mb = &t->members[j];
			json_array_append_new(members,
				json_pack("{s:s, s:s, s:s, s:I}", "address", mb->addr.text, "state",
					  hc_state_name(mb->state), "role", hc_role_name(mb->role),
					  "lag_ms", (json_int_t)mb->lag_ms));
		}
		json_object_set_new(clusters, t->cluster,
			json_pack("{s:I, s:o}", "generation", (json_int_t)t->gen, "members", members));
	}
	pthread_mutex_unlock(&m->mu);
	return clusters;
}

void hc_monitor_metrics(struct hc_monitor *m, struct evbuffer *out)
{
	(void)m;
	(void)out;
}
