/*
 * topology.h — what the monitor knows about one cluster, as an immutable,
 * reference-counted snapshot that proxy workers read without locks, plus
 * the admission gate that workers and the monitor share.
 *
 * The monitor builds a new snapshot for every change (a member's state or
 * role, the chosen primary, a failover starting or ending) and publishes it
 * whole; generation numbers only grow. Workers hold a reference while they
 * use one.
 *
 * Owns: the snapshot and gate types and their reference counting. Must
 * not: be modified after publication (the gate's atomics are the one
 * shared, mutable part, by design).
 */
#ifndef TANDEM_HEALTH_TOPOLOGY_H
#define TANDEM_HEALTH_TOPOLOGY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum hc_state {
	HC_UNKNOWN = 0, /* not probed yet, or the monitor cannot log in */
	HC_UP,          /* last probes succeeded */
	HC_DOWN,        /* failed `failures` probes in a row, or timed out */
	HC_FENCED,      /* a former primary: never routed to until an operator says so */
	HC_MAINTENANCE, /* taken out of rotation by an operator */
};

enum hc_role {
	HC_ROLE_UNKNOWN = 0,
	HC_ROLE_PRIMARY, /* writable (read_only=OFF) */
	HC_ROLE_REPLICA, /* read_only=ON */
};

/* What the cluster is in the middle of. While not NONE, sessions that find
 * no usable primary wait for the next snapshot instead of failing. */
enum hc_transition {
	HC_TR_NONE = 0,
	HC_TR_FAILOVER,   /* the primary is down and a replica is being promoted */
	HC_TR_SWITCHOVER, /* an operator asked for a planned switchover */
};

const char *hc_state_name(enum hc_state s);
const char *hc_role_name(enum hc_role r);
const char *hc_transition_name(enum hc_transition t);

/*
 * Admission of new backend connections, per member, shared by the monitor
 * and every worker through atomics only. A worker counts a session in
 * before it connects to a member and out when that backend connection
 * ends; the monitor closes a member to hold new sessions back and waits
 * for its count to drain (planned switchover), or closes a dead primary so
 * new sessions wait for the failover instead of hitting it.
 *
 * Race-free by construction: hc_gate_enter() increments, then reads
 * `closed`; the monitor sets `closed`, then reads the count (all seq_cst),
 * so at least one side sees the other.
 */
struct hc_gate_slot {
	atomic_int sessions; /* backend connections counted in */
	atomic_bool closed;  /* new sessions may not enter */
};

struct hc_gate {
	atomic_int refs;
	size_t n;
	struct hc_gate_slot slot[];
};

/* A gate for n members, all open, with one reference. NULL on ENOMEM. */
struct hc_gate *hc_gate_new(size_t n);
struct hc_gate *hc_gate_ref(struct hc_gate *g);
void hc_gate_unref(struct hc_gate *g);
/* Count a session in; false (and not counted) when member i is closed. */
bool hc_gate_enter(struct hc_gate *g, size_t i);
/* Count a session out (one hc_gate_enter() that returned true). */
void hc_gate_leave(struct hc_gate *g, size_t i);
void hc_gate_set_closed(struct hc_gate *g, size_t i, bool closed);
int hc_gate_sessions(const struct hc_gate *g, size_t i);

struct hc_member {
	struct cfg_addr addr;
	enum hc_state state;
	enum hc_role role;
	bool read_only;
	int64_t lag_ms;       /* replication lag; -1 when unknown or not a replica */
	int64_t since_us;     /* wall clock (µs) when it entered `state` */
	int64_t probe_us;     /* duration of the last probe, µs */
	uint64_t answered;    /* probe requests (hc_monitor_suspect) the state reflects */
	char version[64];     /* server version string, "" until probed */
	char last_error[160]; /* last probe failure, "" if none */
};

struct hc_topology {
	atomic_int refs;
	uint64_t gen; /* grows with every publication for this cluster */
	char cluster[64];
	int primary; /* index of the member tandem routes sessions to, -1 if none */
	enum hc_transition transition;
	char note[160];       /* why the primary is unusable, for session errors; "" if it is */
	struct hc_gate *gate; /* reference; index = member index; NULL in tests */
	size_t nmembers;
	struct hc_member members[];
};

/* A new snapshot with n zeroed members and one reference. */
struct hc_topology *hc_topology_new(const char *cluster, size_t nmembers);
struct hc_topology *hc_topology_ref(struct hc_topology *t);
/* Drops a reference (and the gate's, with the last one). NULL is a no-op. */
void hc_topology_unref(struct hc_topology *t);

/* The member sessions should connect to, or NULL. */
static inline const struct hc_member *hc_topology_primary(const struct hc_topology *t)
{
	if (!t || t->primary < 0 || (size_t)t->primary >= t->nmembers)
		return NULL;
	return &t->members[t->primary];
}

#endif
