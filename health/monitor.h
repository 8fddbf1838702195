/*
 * monitor.h — the health monitor: probes every member of every cluster,
 * decides failovers, carries out promotions, fencing and switchovers, and
 * publishes topology snapshots.
 *
 * Runs on its own threads (one per member for probes, one per cluster for
 * decisions and actions; Connector/C with millisecond deadlines); never
 * touches a proxy session and never blocks its caller on network I/O.
 * Workers learn of a new snapshot through the notify callback, which must
 * only wake them (it runs on a monitor thread), and then fetch it with
 * hc_monitor_topology().
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
struct hc_monitor *hc_monitor_start(struct cfg *cfg, hc_notify_fn notify, void *arg);
/* Apply a reloaded config: clusters added, removed or changed, without a
 * false failover. Settings changes apply to running probes; a changed
 * member list rebuilds the cluster, keeping each member's state (fenced,
 * maintenance, health) and the chosen primary by address. A fenced member
 * returns to rotation when the new config names the current primary as
 * its primary (the operator has written the failover down). */
void hc_monitor_reconfigure(struct hc_monitor *m, struct cfg *cfg);
/* Stop all threads and free everything. NULL is a no-op. */
void hc_monitor_stop(struct hc_monitor *m);

/* Current snapshot of a cluster with a reference the caller drops, or NULL. */
struct hc_topology *hc_monitor_topology(struct hc_monitor *m, const char *cluster);
/* A worker saw the member refuse or reset a connection, or wants a fresh
 * verdict on it: probe it now, and publish a snapshot afterwards (even an
 * unchanged one) so sessions waiting on it retry. Returns the request's
 * number: a snapshot whose member has `answered` >= it reflects a probe
 * that started after this call (0: no such member). Any thread; never
 * blocks on I/O. */
uint64_t hc_monitor_suspect(struct hc_monitor *m, const char *cluster, const struct sockaddr *sa);

/* Operator requests, carried out on the cluster's own thread. */
enum hc_request_kind {
	HC_REQ_SWITCHOVER,  /* member: the target, or "" for the best replica */
	HC_REQ_MAINTENANCE, /* member: taken out of rotation (a primary is switched over first) */
	HC_REQ_READY,       /* member: back from maintenance, or unfenced (and rejoined) */
};
/* Called once, on a monitor thread, with an HTTP status and a JSON body
 * (ownership passes to the callee). */
typedef void (*hc_request_done_fn)(int http_status, json_t *body, void *arg);
/* Queue a request. Returns 0 when queued (done will be called), or an HTTP
 * status with *body set (done will not be called): 404 unknown cluster or
 * member, 503 stopping. */
int hc_monitor_request(struct hc_monitor *m, enum hc_request_kind kind, const char *cluster,
		       const char *member, hc_request_done_fn done, void *arg, json_t **body);

/* The monitor's read-only views (/status, /metrics, alerts) are
 * health/status.h, included here for the callers of this header. */
#include "health/status.h"

#endif
