/*
 * coord_int.h — the coordination state (types only) shared by coord.c
 * (the per-cluster thread: lease, leadership, watch, applying records),
 * coord_decide.c (the monitor's hooks: who may decide, recording
 * decisions, /status and /metrics) and coord_view.c (the published
 * overlay). Declares no function of any of them, so that including it
 * makes no file depend on another (coord.c's helpers for coord_decide.c
 * are coord_thread.h). Not for use outside health/.
 *
 * Locks: k->mu is a leaf. Hooks that run with cl->mu held take k->mu
 * briefly; the thread never holds k->mu while it takes cl->mu, and holds
 * neither across etcd I/O.
 */
#ifndef TANDEM_HEALTH_COORD_INT_H
#define TANDEM_HEALTH_COORD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "health/coord_rec.h"
#include "health/etcd.h"
#include "health/monitor_int.h"

/* Peer observations kept at most (more instances are not counted). */
#define OBS_MAX 32

enum reach {
	REACH_UNKNOWN = 0, /* no call finished yet */
	REACH_OK,
	REACH_DOWN,    /* most etcd members refuse connections: no quorum anywhere */
	REACH_UNREACH, /* no answer: maybe only this instance is cut off */
};

struct obs {
	char instance[128];
	char *value; /* the JSON as stored */
	size_t len;
};

struct coord {
	struct hc_cluster *cl;
	struct etcd_client *ec;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	char instance[128];
	int ttl_s;
	char prefix[300]; /* "<prefix>/<cluster>/" */
	char prefix_end[300];
	char k_leader[340], k_record[340], k_obs[340], k_obs_mine[480];

	pthread_mutex_t mu;    /* guards everything below */
	int64_t lease;         /* 0: none */
	int64_t lease_ok_mono; /* last grant/keepalive that etcd confirmed */
	char leader_value[200];
	bool leader; /* this instance holds P/leader with its current lease */
	bool leader_known;
	char leader_name[200];
	enum reach reach;
	int64_t last_ok_mono;
	int64_t unreach_since_mono; /* first failure of the current streak, 0 none */
	char last_err[240];
	bool loaded;     /* the prefix has been read since the last reconnection */
	bool rec_exists; /* P/record exists */
	struct coord_rec rec;
	int64_t rec_mod; /* its mod_revision (0: absent) */
	uint64_t applied_epoch;
	bool pending;     /* rec is "acting" and not this instance's own */
	bool rollforward; /* leader: finish the pending record */
	bool cut_off;
	int64_t cut_since_us;
	bool down_logged;
	struct obs obs[OBS_MAX];
	size_t nobs;
	char my_obs[2048]; /* last written */
	int64_t my_obs_lease;
	uint64_t acked_epoch; /* the epoch our observation acknowledges */
	int64_t watch_rev;    /* next revision the watch should deliver */
	bool restart_watch;
	bool imposed; /* cl->transition is another tandem's decision in progress (cl->mu) */
	uint64_t etcd_errors, decisions, leader_changes, watch_restarts, cas_failures;
	char wait_note[200];
};

/* Whether the lease is fresh enough to act on (k->mu held): renewed
 * within 3/4 of its TTL, so it cannot have expired at etcd meanwhile. */
static inline bool coord_lease_fresh(const struct coord *k, int64_t now)
{
	return k->lease && now - k->lease_ok_mono < (int64_t)k->ttl_s * 1000000 * 3 / 4;
}

#endif
