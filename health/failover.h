/*
 * failover.h — what the monitor does to servers (failover.c): promotion,
 * switchover, the operator's requests, rejoin. Each is called on the
 * cluster thread with cl->mu held; it unlocks around I/O and returns with
 * cl->mu held again. Not for use outside health/.
 */
#ifndef TANDEM_HEALTH_FAILOVER_H
#define TANDEM_HEALTH_FAILOVER_H

#include <jansson.h>

#include "health/monitor_int.h"

void hc_failover_run(struct hc_cluster *cl, int to);
void hc_request_run(struct hc_cluster *cl, struct hc_request *req);
/* e as /status shows it (a new reference). Pure. */
json_t *hc_event_json(const struct hc_event_rec *e);
/* Make the fenced member mb a replica of the primary if its GTIDs allow
 * (or mark it diverged); set MASTER_HEARTBEAT_PERIOD on a replica. */
void hc_rejoin_run(struct hc_cluster *cl, struct hc_mmember *mb);
void hc_replica_tune(struct hc_cluster *cl, struct hc_mmember *mb);

#endif
