/*
 * status.h — the monitor's part of /status, /metrics and /health
 * (status.c): read-only views taken under each cluster's lock, no I/O.
 * monitor.h includes it.
 */
#ifndef TANDEM_HEALTH_STATUS_H
#define TANDEM_HEALTH_STATUS_H

#include <jansson.h>

struct evbuffer;
struct hc_monitor;

/* /status "clusters" object and /metrics lines. */
json_t *hc_monitor_status_json(struct hc_monitor *m);
void hc_monitor_metrics(struct hc_monitor *m, struct evbuffer *out);
/* The last failover of a cluster as JSON (null when none; new reference). */
json_t *hc_monitor_last_failover_json(struct hc_monitor *m, const char *cluster);
/* Conditions an operator must look at (two writable members, a monitor
 * that cannot log in, a refused failover), as a JSON array of strings. */
json_t *hc_monitor_alerts_json(struct hc_monitor *m);

#endif
