/*
 * coord_view.h — what routing must show beyond the monitor's own view when
 * several tandems coordinate (coord_view.c), for the publication
 * (cluster_state.c).
 */
#ifndef TANDEM_HEALTH_COORD_VIEW_H
#define TANDEM_HEALTH_COORD_VIEW_H

struct hc_cluster;
struct hc_topology;

/* cl->mu held, t being built: a cut-off instance routes nowhere; a
 * decision another instance is carrying out shows as its transition. A
 * no-op without coordination. */
void coord_topology(struct hc_cluster *cl, struct hc_topology *t);

#endif
