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
 * The monitor calls the hooks below at a few places; everything else runs
 * on one coordination thread per cluster. Without coordination every hook
 * is a no-op that lets the monitor decide alone, as before.
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

struct hc_cluster;
struct hc_monitor;
struct evbuffer;

#define COORD_FENCED_MAX 16

/* One decision as stored in etcd (<prefix>/<cluster>/record). */
struct coord_rec {
	uint64_t epoch;
	char kind[16];               /* "initial", "failover", "switchover", "unfence" */
	char state[16];              /* "acting": decided, being carried out; "done" */
	char primary[CFG_ADDR_TEXT]; /* where sessions go once done */
	char from[CFG_ADDR_TEXT];    /* the primary before ("" for initial) */
	char fenced[COORD_FENCED_MAX][CFG_ADDR_TEXT];
	size_t nfenced;
	char reason[256];
	int64_t at_us; /* wall clock of the decision */
	char by[128];  /* instance that decided */
	int64_t lease; /* that instance's lease when it decided */
};

/* Whether r fences addr. Pure. */
bool coord_rec_fences(const struct coord_rec *r, const char *addr);
/* Parse a record's JSON (bytes from etcd). 0 or -1. Pure. */
int coord_rec_parse(const char *buf, size_t len, struct coord_rec *r);
/* The record as JSON text (malloc'd), NULL on ENOMEM. */
char *coord_rec_text(const struct coord_rec *r);
json_t *coord_rec_json(const struct coord_rec *r);

/* An observation (<prefix>/<cluster>/obs/<instance>): how one instance's
 * probes see each member. Pure parse: for member addr, 1 up, 0 down or
 * unknown, -1 not listed or bad bytes. */
int coord_obs_member_up(const char *buf, size_t len, const char *addr);
/* The epoch an observation acknowledges: its writer follows that record
 * and has stopped its heartbeat writes to an old primary (0: none). */
uint64_t coord_obs_epoch(const char *buf, size_t len);

/* What a decision is about, for coord_commit_decision(). */
struct coord_decision {
	const char *kind; /* "failover" (from is fenced) or "switchover" */
	const char *from;
	const char *to;
	const char *reason;
	const char
		*unfence; /* "unfence": the member whose fence is lifted (recorded done at once) */
};

/* cluster.c: create (when cfg has coordination), start (reads the current
 * record and applies it before the first snapshot is published, then
 * starts the thread), stop (asks the thread to end), free (joins). */
int coord_cluster_new(struct hc_cluster *cl, const struct cfg *cfg);
void coord_cluster_start(struct hc_cluster *cl);
void coord_cluster_stop(struct hc_cluster *cl);
void coord_cluster_free(struct hc_cluster *cl);

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
