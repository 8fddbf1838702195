/*
 * coord.h — several tandems agree on each cluster's primary through etcd
 * (the "coordination" config section; docs/failover.md § Coordination).
 *
 * Per cluster, one instance holds a lease-bound leader key and is the only
 * one that decides (failover, switchover, fencing, rejoin). Each decision
 * is first written to etcd as a record with a growing epoch, by
 * compare-and-swap on the previous record; only then does the leader act
 * on the servers. Every instance watches the cluster's prefix and follows
 * the newest record; an instance that cannot reach etcd for most of its
 * lease routes no sessions until it sees the current record again.
 *
 * The monitor calls the hooks below (coord_decide.c) at a few places;
 * everything else runs on one coordination thread per cluster (coord.c,
 * started by cluster.c through coord_thread.h). Records and observations
 * are values (coord_rec.h); the published overlay is coord_view.h. Without
 * coordination every hook is a no-op that lets the monitor decide alone,
 * as before.
 *
 * Owns: leadership, the records, observations, self-fencing, and the
 * published-topology overlay they imply. Must not: talk to MariaDB (the
 * monitor acts on the servers), hold a lock across etcd I/O.
 */
#ifndef TANDEM_HEALTH_COORD_H
#define TANDEM_HEALTH_COORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "health/coord_rec.h"

struct hc_cluster;
struct hc_monitor;
struct evbuffer;

/* What a decision is about, for coord_commit_decision(). */
struct coord_decision {
	const char *kind; /* "failover" (from is fenced) or "switchover" */
	const char *from;
	const char *to;
	const char *reason;
	const char
		*unfence; /* "unfence": the member whose fence is lifted (recorded done at once) */
};

/* monitor.c, cl->mu held. Whether this instance may decide for the
 * cluster now: always without coordination; with it, only the leader with
 * a live lease, and — when dead >= 0 — only when no other instance's
 * current observation sees member `dead` up. */
bool coord_may_decide(struct hc_cluster *cl, int dead);
/* monitor.c evaluate(), cl->mu held: whether this instance, a new leader,
 * must finish a decision its predecessor recorded but did not finish.
 * Returns the member to fail over to (cl->primary set to the one it
 * replaces), which the monitor then hands to hc_failover_run(); -1: none. */
int coord_resume(struct hc_cluster *cl);

/* failover.c, cl->mu NOT held. Record the decision before acting: 0 when
 * recorded (or coordination is off), -1 with err when the action must not
 * happen (not the leader, lost the compare-and-swap, etcd unreachable). */
int coord_commit_decision(struct hc_cluster *cl, const struct coord_decision *d, char *err,
			  size_t errlen);
/* The same, for a caller holding cl->mu (operator requests, rejoin): the
 * lock is released while etcd is asked and held again on return, so the
 * caller re-checks what it read before. */
int coord_commit_decision_locked(struct hc_cluster *cl, const struct coord_decision *d, char *err,
				 size_t errlen);
/* After acting: the record becomes "done" (ok), or is rewritten to keep
 * the old primary (not ok, with why). */
void coord_commit_done(struct hc_cluster *cl, bool ok, const char *why);

/* status.c, cl->mu held: the "coordination" object of /status, alerts. */
json_t *coord_status_json(struct hc_cluster *cl);
void coord_alerts(const struct hc_cluster *cl, json_t *arr);
/* status.c, m->mu held: the tandem_coord_* metrics. */
void coord_metrics(struct hc_monitor *m, struct evbuffer *out);

#endif
