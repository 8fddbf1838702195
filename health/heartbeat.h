/*
 * heartbeat.h — replication lag in milliseconds from tandem's own
 * heartbeat writes (pure: no I/O, no clock reads, no locks).
 *
 * Every probe interval the monitor writes a value V (its wall clock in µs,
 * strictly increasing) into <schema>.heartbeat on the primary and, once the
 * write has committed, records (V, monotonic time of the write) here. On a
 * replica it reads back the newest V the replica has applied. Lag is then
 *   0                         if the replica has the newest recorded write,
 *   ref − T(first write > V)  otherwise,
 * where T is the monotonic time of that write: the replica is missing
 * everything committed since the oldest heartbeat it has not applied. The
 * error is at most one interval, and only towards zero (a lower bound),
 * without pt-heartbeat's sawtooth. Both times come from one tandem clock,
 * so there is no cross-host skew; only the replica's read value is a wall
 * clock stamp, and it is used only as a key into this ring.
 *
 * ref is "now" while the primary answers, and the time of its last good
 * probe once it stops: the lag a failover would lose is the lag the
 * replica had when the primary was last seen.
 *
 * Owns: the ring. Must not: talk to servers (probe.c does that).
 */
#ifndef TANDEM_HEALTH_HEARTBEAT_H
#define TANDEM_HEALTH_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_HB_RING 1024

struct hc_hb_entry {
	int64_t value;   /* what was written (wall clock µs, strictly increasing) */
	int64_t mono_us; /* when it was written (monotonic) */
};

struct hc_hb {
	struct hc_hb_entry e[HC_HB_RING];
	size_t head; /* index of the oldest entry */
	size_t n;    /* entries held */
	int64_t last_value;
};

void hc_hb_init(struct hc_hb *hb);
/* The next value to write: wall_us, or last + 1 if the clock went back. */
int64_t hc_hb_next_value(const struct hc_hb *hb, int64_t wall_us);
/* Record a committed write (values must grow; smaller ones are ignored). */
void hc_hb_record(struct hc_hb *hb, int64_t value, int64_t mono_us);
/* Lag in µs of a replica that has applied `applied` (see above), or -1 when
 * the ring is empty. */
int64_t hc_hb_lag_us(const struct hc_hb *hb, int64_t applied, int64_t ref_mono_us);

#endif
