/*
 * gtid_lag.h — replication lag in milliseconds from GTID positions, with
 * no write on any server (pure: no I/O, no clock reads, no locks).
 *
 * Every probe of the chosen primary reads its @@gtid_binlog_pos; per GTID
 * domain the monitor records each new sequence number with the monotonic
 * time it first saw it (heartbeat.h's ring, keyed by seq_no). A replica's
 * applied position (its gtid_slave_pos, merged per domain with its own
 * gtid_binlog_pos) then has, per domain,
 *   0                           if it has the newest seq_no seen,
 *   ref − T(first seq_no > it)  otherwise,
 * and its lag is the largest of those: the replica is missing everything
 * the primary committed since the oldest position it has not reached. As
 * with the heartbeat, the error is at most one probe interval and only
 * towards zero (a transaction is seen after it committed), both times come
 * from tandem's one clock, and an idle primary needs no writes: a replica
 * that holds all the primary has is 0 behind whatever its threads do.
 *
 * A domain whose seq_no goes back (RESET MASTER, another primary) or
 * disappears starts again from what is seen now; the caller resets the
 * whole record when the chosen primary changes.
 *
 * Owns: the per-domain rings (heap, grown as domains appear). Must not:
 * talk to servers or take locks (monitor.c does, under the cluster's mu).
 */
#ifndef TANDEM_HEALTH_GTID_LAG_H
#define TANDEM_HEALTH_GTID_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/gtid.h"
#include "health/heartbeat.h"

struct hc_glag_domain {
	uint32_t domain;
	struct hc_hb ring; /* value: seq_no; mono_us: when tandem first saw it */
};

struct hc_glag {
	struct hc_glag_domain *d; /* owned; n used of cap */
	size_t n, cap;
	bool seen; /* a position was recorded since the last reset */
	int owner; /* member index whose positions these are; -1: none (the caller's) */
};

void hc_glag_init(struct hc_glag *g);
/* Forget every position (the rings stay allocated for reuse). */
void hc_glag_reset(struct hc_glag *g);
/* Free the rings; g is then as after hc_glag_init. NULL-safe. */
void hc_glag_free(struct hc_glag *g);

/* Record the primary's position as read at mono_us. 0, or -1 when out of
 * memory (then g is reset: lag unknown until the next record). */
int hc_glag_record(struct hc_glag *g, const struct hc_gtid_pos *primary, int64_t mono_us);

/* Lag in µs of a replica that has applied `applied` (see above), or -1
 * when nothing is recorded. A primary with an empty position has nothing
 * a replica could lack: 0. */
int64_t hc_glag_lag_us(const struct hc_glag *g, const struct hc_gtid_pos *applied,
		       int64_t ref_mono_us);

/* Per domain, the higher of a's and b's seq_no (a replica's applied
 * position from its gtid_slave_pos and its own gtid_binlog_pos). */
void hc_glag_merge(struct hc_gtid_pos *out, const struct hc_gtid_pos *a,
		   const struct hc_gtid_pos *b);

#endif
