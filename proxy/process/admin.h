/*
 * admin.h — the daemon's answers for the admin endpoint: /status and
 * /metrics documents composed from the tenant counters, the config and the
 * monitor, and /health. Main thread only.
 */
#ifndef TANDEM_PROXY_ADMIN_H
#define TANDEM_PROXY_ADMIN_H

#include "health/http.h"

struct daemon;

/* Callbacks for http_start(), bound to d. */
struct http_sources admin_sources(struct daemon *d);

#endif
