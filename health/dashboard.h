/*
 * dashboard.h — the admin dashboard page, health/dashboard.html compiled
 * into the binary by tools/embed.py (a generated dashboard_html.c), so
 * tandem serves it with no installed files and nothing fetched from
 * elsewhere. The page holds no data: it fetches the JSON documents.
 */
#ifndef TANDEM_HEALTH_DASHBOARD_H
#define TANDEM_HEALTH_DASHBOARD_H

#include <stddef.h>

extern const char http_dashboard_html[];
extern const size_t http_dashboard_html_len;

#endif
