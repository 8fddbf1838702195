/*
 * coord_view.c — the published-topology overlay of coordination
 * (coord_view.h): what etcd's newest record and this instance's reach
 * imply for routing, laid over the monitor's own view while a snapshot is
 * built.
 *
 * Owns: that overlay's rules (docs/failover.md § Coordination). Must not:
 * talk to etcd or call the coordination thread; it reads struct coord
 * under k->mu and nothing else, so the publication can call it without
 * depending on the thread that publishes.
 */
#include "health/coord_view.h"

#include <string.h>

#include "common/clock.h"
#include "health/coord_int.h"
#include "health/text.h"

void coord_topology(struct hc_cluster *cl, struct hc_topology *t)
{
	struct coord *k = cl->coord;
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	bool cut = k->cut_off;
	bool pending = k->pending;
	struct coord_rec rec = k->rec;
	int64_t since = k->cut_since_us;
	pthread_mutex_unlock(&k->mu);
	if (cut) {
		/* A FENCED primary with no transition: new sessions fail at once
		 * with the note, sessions on it leave it (docs/failover.md). */
		if (t->primary >= 0)
			t->members[t->primary].state = HC_FENCED;
		t->transition = HC_TR_NONE;
		hc_fmt(t->note,
		       "tandem is cut off from etcd since %lld s ago and routes no sessions until "
		       "it sees the current primary again",
		       (long long)((clock_wall_us() - since) / 1000000));
		return;
	}
	if (pending) {
		/* A failover: sessions leave the old primary now. A switchover:
		 * they park and leave it as their transactions end, while new
		 * sessions wait at its gate (closed in apply_record()). */
		bool sw = strcmp(rec.kind, "switchover") == 0;
		for (size_t i = 0; i < t->nmembers; i++)
			if (strcmp(t->members[i].addr.text, rec.from) == 0) {
				if (!sw)
					t->members[i].state = HC_FENCED;
				t->primary = (int)i;
			}
		t->transition = sw ? HC_TR_SWITCHOVER : HC_TR_FAILOVER;
		hc_fmt(t->note, "%s from %s to %s decided by %s at epoch %llu is in progress",
		       rec.kind, rec.from, rec.primary, rec.by, (unsigned long long)rec.epoch);
	}
}
