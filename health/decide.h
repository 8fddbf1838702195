/*
 * decide.h — the monitor's judgements, as pure functions: what one probe
 * outcome does to a member's health, how soon to probe again, and which
 * replica (if any) a failover may promote.
 *
 * Owns: failure kinds, the per-member health counter, candidate rules.
 * Must not: do I/O, read clocks or take locks (callers pass the time), so
 * every rule here is unit-tested (tests/unit/test_decide.c).
 */
#ifndef TANDEM_HEALTH_DECIDE_H
#define TANDEM_HEALTH_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/topology.h"

/* How a probe failed: the layer it reached tells the operator where to look. */
enum hc_fail {
	HC_FAIL_NONE = 0,
	HC_FAIL_CONNECT,           /* TCP connect refused / unreachable */
	HC_FAIL_CONNECT_TIMEOUT,   /* TCP connect did not finish in timeout_ms */
	HC_FAIL_HANDSHAKE,         /* connected, but the greeting or login broke */
	HC_FAIL_HANDSHAKE_TIMEOUT, /* connected, but no greeting/login answer in time (hung server) */
	HC_FAIL_AUTH,              /* the server refused the monitor's login: misconfiguration */
	HC_FAIL_QUERY,             /* the connection broke during the probe queries */
	HC_FAIL_QUERY_TIMEOUT,     /* a probe query got no answer in time */
	HC_FAIL_SERVER,      /* the server answered with a fatal state (shutting down, full) */
	HC_FAIL_MONITOR,     /* the server answered, but refused a probe query (privileges) */
	HC_FAIL_UNREACHABLE, /* no route to its host or network: the network, not the server */
};

const char *hc_fail_name(enum hc_fail f);
/* Whether the failure counts towards DOWN. AUTH and MONITOR do not: a
 * server that answers is alive, and a wrong monitor password must never
 * cause a failover. */
bool hc_fail_counts(enum hc_fail f);
/* Whether the failure says only that nothing answered (a timeout, no
 * route): a stall, judged by time and the replicas, not a crash. */
bool hc_fail_is_timeout(enum hc_fail f);

struct hc_policy {
	int interval_ms;
	int timeout_ms;
	int failures;
	bool auto_failover;
	bool promote;
	int max_lag_ms;
	int min_interval_ms;
	int stall_tolerance_ms; /* a member that only times out is judged after this long */
};

/* A member's health as probes see it (UNKNOWN, UP or DOWN only; FENCED and
 * MAINTENANCE are operator overlays, see hc_overlay()). */
struct hc_health {
	enum hc_state health;
	int fails;             /* consecutive failures that count */
	int hard;              /* ... of which not timeouts: the server is gone */
	bool stalled;          /* the streak holds a timeout: it may only be slow */
	int64_t fail_since_us; /* monotonic time of the first of them, 0 if none */
	enum hc_fail last;     /* outcome of the last probe */
};

/*
 * Apply one probe outcome. DOWN after `failures` counted failures in a row
 * that are not timeouts: the server refused, reset or closed — it is gone.
 * A timeout never makes a member DOWN here: the member is *stalled* (it
 * stays UP or UNKNOWN with `stalled` set) and the monitor judges it once
 * the stall outlasts stall_tolerance_ms (hc_stall_expired), asking the
 * replicas first when it is the primary. Returns true when health changed.
 */
bool hc_health_apply(struct hc_health *h, enum hc_fail outcome, const struct hc_policy *p,
		     int64_t now_mono_us);

/* A stalled member has not answered for stall_tolerance_ms. */
bool hc_stall_expired(const struct hc_health *h, const struct hc_policy *p, int64_t now_mono_us);

/* What a replica's probes say about its replication connection. */
struct hc_hearing {
	bool io_running;         /* Slave_IO_Running = Yes */
	int64_t changed_mono_us; /* last probe that saw new events or heartbeats arrive; 0 never */
	int64_t probed_mono_us;  /* its last successful probe; 0 never */
	int heartbeat_period_ms; /* the replica's MASTER_HEARTBEAT_PERIOD; 0 unknown */
};

/*
 * Whether a replica still hears from its source: its IO thread runs and
 * something (an event or a heartbeat) arrived within two heartbeat
 * periods plus two probe intervals, as seen by a probe no older than
 * that. Such a replica proves a primary that tandem cannot reach alive.
 */
bool hc_replica_hears_source(const struct hc_hearing *r, const struct hc_policy *p,
			     int64_t now_mono_us);

/* Milliseconds until the next probe: a failing member that is not DOWN yet
 * is re-probed at interval/5 (at least 20 ms) to confirm quickly. */
int hc_next_probe_ms(const struct hc_health *h, const struct hc_policy *p);

enum hc_state hc_overlay(enum hc_state health, bool fenced, bool maintenance);

/* What the failover decision needs to know of each member. */
struct hc_cand {
	enum hc_state health;
	bool fenced;
	bool maintenance;
	bool read_only;   /* as last probed */
	bool replicating; /* has replication configured */
	int64_t lag_ms;   /* last known lag (-1 unknown) */
	const char *name; /* for the explanation */
};

/*
 * The member a failover away from `primary` should go to, or -1 with the
 * reason in why. promote: any UP replica (not fenced, not in maintenance)
 * whose last known lag is known and <= max_lag_ms; the lowest lag wins,
 * then config order. !promote: only a member some external tool has
 * already made writable (its lag is checked when known).
 */
int hc_pick_candidate(const struct hc_cand *c, size_t n, int primary, const struct hc_policy *p,
		      char *why, size_t whylen);

#endif
