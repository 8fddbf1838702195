/*
 * cluster_state.h — what every thread of a cluster changes the same way
 * (cluster_state.c): a member's published state, a refused failover, the
 * monitor's TLS settings, and publishing the topology snapshot. Called by
 * the monitor's threads, failover, the state file and coordination, with
 * cl->mu held unless said otherwise. Not for use outside health/.
 */
#ifndef TANDEM_HEALTH_CLUSTER_STATE_H
#define TANDEM_HEALTH_CLUSTER_STATE_H

#include <stdbool.h>

#include "health/monitor_int.h"

/* Recompute mb->state from its health, fence and maintenance; a change is
 * logged, timestamped and marks the cluster dirty. */
void hc_member_set_state(struct hc_mmember *mb);
/* The member at addr (its text, or the same address written otherwise);
 * NULL when none. */
struct hc_mmember *hc_cluster_member(struct hc_cluster *cl, const char *addr);
/* Record that the primary is down and no failover happens (why), once per
 * outage in the counters and the log. */
void hc_cluster_refuse(struct hc_cluster *cl, const char *why);
/* Build a snapshot and publish it when routing changed (or force); the
 * workers are notified. Takes cl->pub_mu inside. */
void hc_cluster_publish(struct hc_cluster *cl, bool force);

/* The cluster's TLS settings for monitor connections, filled into buf;
 * NULL for plaintext. Any thread; reads only cc. */
const struct hc_db_tls *hc_cluster_tls(const struct cfg_cluster *cc, struct hc_db_tls *buf);

#endif
