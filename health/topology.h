/*
 * topology.h — what the monitor knows about one cluster, as an immutable,
 * reference-counted snapshot that proxy workers read without locks.
 *
 * The monitor builds a new snapshot for every change (a member's state or
 * role, the chosen primary) and publishes it whole; generation numbers only
 * grow. Workers hold a reference while they use one.
 *
 * Owns: the snapshot type and its reference counting. Must not: be
 * modified after publication.
 */
#ifndef TANDEM_HEALTH_TOPOLOGY_H
#define TANDEM_HEALTH_TOPOLOGY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum hc_state {
	HC_UNKNOWN = 0,   /* not probed yet */
	HC_UP,            /* last probes succeeded */
	HC_DOWN,          /* failed `failures` probes in a row, or timed out */
	HC_FENCED,        /* a former primary: never routed to until an operator says so */
	HC_MAINTENANCE,   /* taken out of rotation by an operator */
};

enum hc_role {
	HC_ROLE_UNKNOWN = 0,
	HC_ROLE_PRIMARY,  /* writable (read_only=OFF) */
	HC_ROLE_REPLICA,  /* read_only=ON, replicating */
};

const char *hc_state_name(enum hc_state s);
const char *hc_role_name(enum hc_role r);

struct hc_member {
	struct cfg_addr addr;
	enum hc_state state;
	enum hc_role role;
	bool read_only;
	int64_t lag_ms;        /* replication lag; -1 when unknown or not a replica */
	int64_t since_us;      /* wall clock (µs) when it entered `state` */
	int64_t probe_us;      /* duration of the last probe, µs */
	char version[64];      /* server version string, "" until probed */
	char last_error[160];  /* last probe failure, "" if none */
};

struct hc_topology {
	atomic_int refs;
	uint64_t gen;           /* grows with every publication for this cluster */
	char cluster[64];
	int primary;            /* index of the member tandem routes sessions to, -1 if none */
	size_t nmembers;
	struct hc_member members[];
};

/* A new snapshot with n zeroed members and one reference. */
struct hc_topology *hc_topology_new(const char *cluster, size_t nmembers);
struct hc_topology *hc_topology_ref(struct hc_topology *t);
void hc_topology_unref(struct hc_topology *t);

/* The member sessions should connect to, or NULL. */
static inline const struct hc_member *hc_topology_primary(const struct hc_topology *t)
{
	if (!t || t->primary < 0 || (size_t)t->primary >= t->nmembers)
		return NULL;
	return &t->members[t->primary];
}

#endif
