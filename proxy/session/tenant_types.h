/*
 * tenant_types.h — the types of a tenant's process-wide runtime record
 * (tenant.c): its per-worker counters, the record, the name registry.
 * Types only, with the two relaxed-atomic accessors of a counter, which
 * are the counter's meaning (single writer, any reader).
 */
#ifndef TANDEM_PROXY_TENANT_TYPES_H
#define TANDEM_PROXY_TENANT_TYPES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct gtid_acks;

/* Single-writer counter: the owning worker adds, anyone reads. */
typedef _Atomic uint64_t stat_t;
static inline void stat_add(stat_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
static inline uint64_t stat_get(const stat_t *c)
{
	return atomic_load_explicit((stat_t *)c, memory_order_relaxed);
}

struct tenant_counters {
	stat_t sessions_accepted; /* sessions that reached the greeting */
	stat_t sessions_refused;  /* refused at accept: allowlist */
	stat_t sessions_rejected; /* refused at accept: connection limits */
	stat_t auth_failures;     /* wrong user or password */
	stat_t auth_throttled;    /* refused at accept: source blocked by failed logins */
	stat_t backend_errors;    /* backend unreachable or refused the login */
	stat_t sessions_open;     /* gauge: open now, on this worker (+/-) */
	stat_t queries;           /* commands forwarded */
	stat_t bytes_from_clients;
	stat_t bytes_to_clients;
	stat_t client_errors;         /* sessions closed for bad input or timeouts */
	stat_t failover_closed;       /* sessions closed because their primary moved */
	stat_t sessions_moved;        /* sessions moved to a new backend connection */
	stat_t reads_rerun;           /* interrupted reads run again after a move */
	stat_t failover_errors;       /* errors sent because a move lost a command or state */
	stat_t transactions_replayed; /* open transactions rebuilt on a new backend */
	stat_t guard_landed;          /* cut-off commits found on the new primary: OK sent */
	stat_t guard_lost;            /* ... not there: ERR 1213 sent */
	stat_t guard_unresolved;      /* ... the binlog could not tell: ERR 1158 sent */
	stat_t guard_untagged;        /* writes the guard could not keep or tag: unguarded */
	stat_t guard_off;             /* gauge: open sessions running unguarded (+/-) */
} __attribute__((aligned(64)));

struct tenant_rt {
	atomic_int refs;
	char name[128];
	atomic_uint open; /* sessions open on all workers (max_connections) */
	int nworkers;
	struct tenant_counters *per_worker; /* nworkers entries */
	struct gtid_acks *acks;             /* the commit guard's (gtid_acks.c) */
};

/* Name -> tenant_rt, owned and used by the main thread only. */
struct tenant_registry {
	struct tenant_rt **items;
	size_t n;
};

#endif
