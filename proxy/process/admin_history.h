/*
 * admin_history.h — the failover history (admin_history.c): the last
 * ADMIN_HISTORY_MAX decisions of every cluster's monitor, newest first.
 */
#ifndef TANDEM_PROXY_ADMIN_HISTORY_H
#define TANDEM_PROXY_ADMIN_HISTORY_H

#include <jansson.h>

struct daemon;

/* Failover and switchover history, newest first (main thread). The
 * monitor keeps only the last event of each kind per cluster, so the
 * daemon samples those every second and on each request, and keeps the
 * last ADMIN_HISTORY_MAX events. */
#define ADMIN_HISTORY_MAX 100
struct admin_history;
struct admin_history *admin_history_start(struct daemon *d);
void admin_history_stop(struct admin_history *h);
json_t *admin_history_json(struct daemon *d, const char *cluster);

#endif
