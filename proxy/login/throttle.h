/*
 * throttle.h — the failed-login throttle, tandem's max_connect_errors:
 * after limits.max_auth_failures failed logins from one source address on
 * one tenant's port within limits.auth_failure_window_ms, that address is
 * blocked on that port for limits.auth_block_ms. A blocked address's
 * connections get ERR 1129 (ER_HOST_IS_BLOCKED) at accept, before the
 * greeting, so no credential of it is ever read. A successful login clears
 * the address's count, as in MySQL.
 *
 * Keyed by (tenant, address): one tenant's misbehaving client cannot get a
 * shared source (a NAT, a host running two tenants' applications) blocked
 * on another tenant's port. IPv4-mapped IPv6 addresses count as IPv4.
 *
 * One table per process, shared by every worker (SO_REUSEPORT spreads one
 * source's connections over all workers), behind one mutex that is taken
 * at accept and at the end of a login only, never while forwarding.
 * Memory is bounded: at most `max_sources` entries (limits.
 * auth_throttle_sources); when full, the least recently used entry that is
 * not blocked is reused, so a scan from many addresses cannot grow the
 * table or push a blocked address out while unblocked ones remain.
 *
 * Owns: the table and its entries. Must not: know sessions, sockets or
 * libevent (it takes addresses and times, so unit tests drive it).
 */
#ifndef TANDEM_PROXY_THROTTLE_H
#define TANDEM_PROXY_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

struct throttle;

/* The knobs, read from the current config snapshot at every call (a reload
 * applies to the next call). max_failures 0 turns the throttle off. */
struct throttle_limits {
	unsigned max_failures; /* failed logins that block an address */
	int64_t window_us;     /* ...counted within this window */
	int64_t block_us;      /* how long a block lasts */
	size_t max_sources;    /* entries the table may hold */
};

static inline struct throttle_limits throttle_limits_of(const struct cfg_limits *c)
{
	struct throttle_limits l = {c->max_auth_failures, (int64_t)c->auth_failure_window_ms * 1000,
				    (int64_t)c->auth_block_ms * 1000, c->auth_throttle_sources};
	return l;
}

struct throttle *throttle_new(void);
/* NULL is a no-op. */
void throttle_free(struct throttle *t);

/*
 * At accept: whether (tenant, sa) is blocked now. *left_us (may be NULL)
 * gets the time the block has to run. An expired block is lifted here
 * (its count starts afresh).
 */
bool throttle_blocked(struct throttle *t, const struct throttle_limits *l, const char *tenant,
		      const struct sockaddr *sa, int64_t now_us, int64_t *left_us);

/* A failed login from (tenant, sa). Returns true when this failure blocked
 * the address (the caller logs it once); *failures (may be NULL) gets the
 * count in the current window. */
bool throttle_failed(struct throttle *t, const struct throttle_limits *l, const char *tenant,
		     const struct sockaddr *sa, int64_t now_us, unsigned *failures);

/* A successful login from (tenant, sa): forget its failures. */
void throttle_succeeded(struct throttle *t, const char *tenant, const struct sockaddr *sa);

/* Addresses blocked now (for /metrics and /status), and entries held. */
size_t throttle_nblocked(struct throttle *t, int64_t now_us);
size_t throttle_nentries(struct throttle *t);

#endif
