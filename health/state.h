/*
 * state.h — the monitor's memory across restarts (state.c). Not for use
 * outside health/.
 */
#ifndef TANDEM_HEALTH_STATE_H
#define TANDEM_HEALTH_STATE_H

#include <stdbool.h>

#include "health/monitor_int.h"

/* Load at start (m->state_path set); apply a cluster's saved fences and
 * primary (cluster_new, cl->mu not needed); save when what it holds
 * changed (cl->mu held); free at stop. */
void hc_state_load(struct hc_monitor *m);
bool hc_state_apply(struct hc_cluster *cl);
void hc_state_save(struct hc_cluster *cl);
void hc_state_free(struct hc_monitor *m);

#endif
