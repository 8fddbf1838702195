/*
 * decide.c — pure health and failover rules (see decide.h).
 */
#include "health/decide.h"

#include <stdio.h>
#include <string.h>

#include "health/text.h"

const char *hc_fail_name(enum hc_fail f)
{
	switch (f) {
	case HC_FAIL_NONE:
		return "none";
	case HC_FAIL_CONNECT:
		return "connect";
	case HC_FAIL_CONNECT_TIMEOUT:
		return "connect_timeout";
	case HC_FAIL_HANDSHAKE:
		return "handshake";
	case HC_FAIL_HANDSHAKE_TIMEOUT:
		return "handshake_timeout";
	case HC_FAIL_AUTH:
		return "auth";
	case HC_FAIL_QUERY:
		return "query";
	case HC_FAIL_QUERY_TIMEOUT:
		return "query_timeout";
	case HC_FAIL_SERVER:
		return "server";
	case HC_FAIL_MONITOR:
		return "monitor";
	case HC_FAIL_UNREACHABLE:
		return "unreachable";
	}
	return "?";
}

bool hc_fail_counts(enum hc_fail f)
{
	return f != HC_FAIL_NONE && f != HC_FAIL_AUTH && f != HC_FAIL_MONITOR;
}

bool hc_fail_is_timeout(enum hc_fail f)
{
	return f == HC_FAIL_CONNECT_TIMEOUT || f == HC_FAIL_HANDSHAKE_TIMEOUT ||
	       f == HC_FAIL_QUERY_TIMEOUT || f == HC_FAIL_UNREACHABLE;
}

bool hc_health_apply(struct hc_health *h, enum hc_fail outcome, const struct hc_policy *p,
		     int64_t now_mono_us)
{
	enum hc_state before = h->health;
	h->last = outcome;
	if (outcome == HC_FAIL_NONE) {
		h->fails = h->hard = 0;
		h->stalled = false;
		h->fail_since_us = 0;
		h->health = HC_UP;
	} else if (!hc_fail_counts(outcome)) {
		/* It answered, so it is not down; but we cannot tell more. */
		h->fails = h->hard = 0;
		h->stalled = false;
		h->fail_since_us = 0;
		if (h->health == HC_DOWN)
			h->health = HC_UNKNOWN;
	} else {
		if (h->fails == 0)
			h->fail_since_us = now_mono_us;
		h->fails++;
		if (hc_fail_is_timeout(outcome))
			h->stalled = true;
		else
			h->hard++;
		if (h->hard >= p->failures)
			h->health = HC_DOWN;
	}
	return h->health != before;
}

bool hc_stall_expired(const struct hc_health *h, const struct hc_policy *p, int64_t now_mono_us)
{
	return h->health != HC_DOWN && h->stalled && h->fails > 0 &&
	       now_mono_us - h->fail_since_us >= (int64_t)p->stall_tolerance_ms * 1000;
}

bool hc_replica_hears_source(const struct hc_hearing *r, const struct hc_policy *p,
			     int64_t now_mono_us)
{
	int period = r->heartbeat_period_ms > 0 ? r->heartbeat_period_ms : 1000;
	int64_t window = (2 * (int64_t)period + 2 * (int64_t)p->interval_ms) * 1000;
	return r->io_running && r->changed_mono_us > 0 && r->probed_mono_us > 0 &&
	       now_mono_us - r->changed_mono_us <= window &&
	       now_mono_us - r->probed_mono_us <= window;
}

int hc_next_probe_ms(const struct hc_health *h, const struct hc_policy *p)
{
	if (h->fails > 0 && h->health != HC_DOWN) {
		int fast = p->interval_ms / 5;
		return fast < 20 ? 20 : fast;
	}
	return p->interval_ms;
}

enum hc_state hc_overlay(enum hc_state health, bool fenced, bool maintenance)
{
	if (fenced)
		return HC_FENCED;
	if (maintenance)
		return HC_MAINTENANCE;
	return health;
}

/* Append "; name: text" to why. */
static void note(char *why, size_t len, const char *name, const char *text)
{
	size_t used = strlen(why);
	if (used + 1 >= len)
		return;
	hc_fmtn(why + used, len - used, "%s%s: %s", used ? "; " : "", name ? name : "?", text);
}

int hc_pick_candidate(const struct hc_cand *c, size_t n, int primary, const struct hc_policy *p,
		      char *why, size_t whylen)
{
	int best = -1;
	why[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if ((int)i == primary)
			continue;
		const struct hc_cand *m = &c[i];
		if (m->fenced) {
			note(why, whylen, m->name, "fenced");
			continue;
		}
		if (m->maintenance) {
			note(why, whylen, m->name, "in maintenance");
			continue;
		}
		if (m->health != HC_UP) {
			note(why, whylen, m->name, m->health == HC_DOWN ? "down" : "state unknown");
			continue;
		}
		if (!p->promote && m->read_only) {
			note(why, whylen, m->name,
			     "read-only, and failover.promote is false (waiting for an external tool)");
			continue;
		}
		if (p->promote && m->lag_ms < 0) {
			note(why, whylen, m->name,
			     m->replicating ? "replication lag unknown" : "not a replica");
			continue;
		}
		if (m->lag_ms > p->max_lag_ms) {
			char text[96];
			hc_fmt(text, "lag %lld ms is above failover.max_lag_ms %d",
			       (long long)m->lag_ms, p->max_lag_ms);
			note(why, whylen, m->name, text);
			continue;
		}
		if (best < 0 ||
		    (m->lag_ms >= 0 && (c[best].lag_ms < 0 || m->lag_ms < c[best].lag_ms)))
			best = (int)i;
	}
	if (best >= 0)
		why[0] = 0;
	else if (!why[0])
		hc_fmtn(why, whylen, "the cluster has no other member");
	return best;
}
