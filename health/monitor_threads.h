/*
 * monitor_threads.h — the bodies of the monitor's threads (monitor.c),
 * which cluster.c starts. Not for use outside health/.
 */
#ifndef TANDEM_HEALTH_MONITOR_THREADS_H
#define TANDEM_HEALTH_MONITOR_THREADS_H

/* One per member (arg: its struct hc_mmember): probes. */
void *hc_member_main(void *arg);
/* One per cluster (arg: its struct hc_cluster): decisions, publication,
 * operator requests. */
void *hc_cluster_main(void *arg);

#endif
