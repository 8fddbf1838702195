/*
 * monitor.h — the health monitor: probes every member of every cluster,
 * decides failovers, and publishes topology snapshots.
 *
 * Runs on its own threads (blocking Connector/C probes with timeouts);
 * never touches a proxy session. Workers learn of a new snapshot through
 * the notify callback, which must only wake them (it runs on a monitor
 * thread), and then fetch it with hc_monitor_topology().
 */
#ifndef TANDEM_HEALTH_MONITOR_H
#define TANDEM_HEALTH_MONITOR_H

#include <jansson.h>

#include "config/config.h"
#include "health/topology.h"

struct hc_monitor;
struct evbuffer;

typedef void (*hc_notify_fn)(void *arg);

/* Start monitoring every cluster of cfg. NULL on failure (logged). */
struct hc_monitor *hc_monitor_start(const struct cfg *cfg, hc_notify_fn notify, void *arg);
/* Apply a reloaded config: clusters added, removed or changed, without a
 * false failover. */
void hc_monitor_reconfigure(struct hc_monitor *m, const struct cfg *cfg);
/* Stop all threads and free everything. NULL is a no-op. */
void hc_monitor_stop(struct hc_monitor *m);

/* Current snapshot of a cluster with a reference the caller drops, or NULL. */
struct hc_topology *hc_monitor_topology(struct hc_monitor *m, const char *cluster);
/* A worker saw the member refuse or reset a connection: probe it now. */
void hc_monitor_suspect(struct hc_monitor *m, const char *cluster, const struct sockaddr *sa);

/* /status "clusters" object and /metrics lines. */
json_t *hc_monitor_status_json(struct hc_monitor *m);
void hc_monitor_metrics(struct hc_monitor *m, struct evbuffer *out);

#endif
