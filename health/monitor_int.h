/*
 * monitor_int.h — the monitor's internal state (types only), shared by
 * monitor.c (threads, probes, decisions), cluster_state.c (member state,
 * publication), cluster.c (lifecycle, reconfiguration, the public entry
 * points), failover.c (promotion, switchover, maintenance), state.c (the
 * state file), status.c (/status and /metrics) and the coordination files.
 * It declares no function: each file's functions are in that file's
 * header (cluster_state.h, monitor_threads.h, failover.h, state.h), so
 * including this one makes no file depend on another. Not for use outside
 * health/.
 *
 * Locks, in the only order they may nest:
 *   hc_monitor.mu  -> hc_cluster.mu -> hc_cluster.pub_mu
 *   hc_monitor.mu  -> hc_cluster.pub_mu
 * mu guards the cluster list; a cluster's mu guards everything the comment
 * says; pub_mu guards only the published snapshot pointer. No lock is ever
 * held across network I/O: threads copy what they need, unlock, talk to a
 * server, and lock again to record the outcome.
 */
#ifndef TANDEM_HEALTH_MONITOR_INT_H
#define TANDEM_HEALTH_MONITOR_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "health/decide.h"
#include "health/gtid_lag.h"
#include "health/heartbeat.h"
#include "health/monitor.h"
#include "health/probe.h"
#include "health/topology.h"

struct hc_cluster;
struct coord;

/* One member. The fields after `wake_fd` are guarded by cl->mu. */
struct hc_mmember {
	struct hc_cluster *cl;
	size_t idx;
	struct cfg_addr addr;
	pthread_t thread;
	bool started;
	int wake_fd;                /* eventfd: probe now (suspect, reconfigure) */
	atomic_uint_fast64_t asked; /* probe requests (hc_monitor_suspect) so far */

	struct hc_health h;
	bool fenced;              /* a former primary, kept out until an operator says so */
	bool maintenance;         /* out of rotation by operator request */
	enum hc_state state;      /* hc_overlay() of the above, as published */
	int64_t state_since_us;   /* wall clock when `state` was entered */
	int64_t down_mono_us;     /* monotonic time health last became DOWN */
	bool probed;              /* at least one probe finished */
	struct hc_probe_res last; /* facts of the last successful probe */
	enum hc_role role;        /* from the last successful probe */
	int64_t probe_us;         /* duration of the last probe */
	int64_t last_probe_wall_us;
	char last_error[256]; /* last failure ("" after a success) */
	enum hc_fail last_fail;
	int64_t last_error_us;  /* wall clock of last_error */
	int64_t lag_ms;         /* -1 unknown / not a replica */
	const char *lag_source; /* "gtid", "heartbeat", "seconds_behind_master", "last_known", "" */
	uint64_t answered;      /* `asked` when the last finished probe started */
	uint64_t probes;        /* totals, for /metrics */
	uint64_t probe_failures;
	bool hb_inflight; /* this member's thread runs the write probe (or heartbeat write) */
	char fence_error[160];
	bool alert_auth; /* logged: the monitor cannot log in here */

	/* What its replication hears from its source (replicas): the arrival
	 * signature of the last probe and when it last changed. */
	struct hc_hearing hear;
	bool sig_known;
	char sig_file[64];
	uint64_t sig_pos;
	uint64_t sig_heartbeats;
	bool hb_period_tried; /* tandem tried to set MASTER_HEARTBEAT_PERIOD */

	/* The write probe (or the heartbeat write) on the chosen primary. */
	int64_t write_stall_mono; /* since when its writes get no answer; 0: they do */
	int64_t write_stall_us;   /* the same, wall clock */
	uint64_t write_stalls;    /* stalls seen (each counted once) */

	/* Why it is fenced, and its automatic rejoin (failover.auto_rejoin). */
	char fence_reason[320];           /* "" when not fenced */
	bool diverged;                    /* holds what the primary lacks: operator only */
	char fence_applied[HC_GTID_TEXT]; /* the new primary's applied GTIDs at promotion */
	bool rejoining;                   /* now replicates, not caught up yet */
	char rejoin_target[HC_GTID_TEXT]; /* the primary's position it must reach */
	uint64_t rejoin_probes;           /* `probes` when the rejoin began */
	int64_t rejoin_mono;              /* last rejoin attempt (pacing) */
	int64_t rejoin_started_mono;
};

/* A finished failover or switchover, as /status reports it. */
struct hc_event_rec {
	bool valid;
	char kind[16]; /* "failover", "switchover" */
	int64_t at_us; /* wall clock when the new primary was published */
	char from[CFG_ADDR_TEXT];
	char to[CFG_ADDR_TEXT];
	char reason[256];
	int64_t detect_ms;           /* first failed probe -> primary DOWN (failover) */
	int64_t decide_ms;           /* DOWN (or request) -> new primary published */
	int64_t total_ms;            /* first failed probe (or request) -> published */
	int64_t data_loss_window_ms; /* the replica's lag when the primary was last seen; -1 unknown */
	bool promoted;               /* tandem promoted it (failover.promote) */
	bool caught_up;              /* the replica applied all it had received */
	char received[HC_GTID_TEXT];       /* replica's received GTIDs at the decision */
	char applied_before[HC_GTID_TEXT]; /* ... and applied ones then */
	char applied_after[HC_GTID_TEXT];  /* applied ones when promoted */
	char missing[HC_GTID_TEXT];        /* the old primary's last known GTIDs it lacked */
	char notes[256];
};

struct hc_request {
	enum hc_request_kind kind;
	char member[CFG_ADDR_TEXT];
	hc_request_done_fn done;
	void *arg;
	struct hc_request *next;
};

struct hc_cluster {
	struct hc_monitor *mon;
	char name[64];
	pthread_t thread;
	bool started;
	int stop_fd; /* eventfd, readable once stopping: cancels I/O */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the cluster thread waits here; also hb_inflight */
	pthread_mutex_t pub_mu;
	struct hc_topology *topo; /* published snapshot (pub_mu) */

	/* guarded by mu */
	struct cfg *cfg; /* reference; cc points into it */
	const struct cfg_cluster *cc;
	struct hc_policy pol;
	struct hc_mmember *members;
	size_t n;
	int primary; /* chosen primary, -1 none */
	enum hc_transition transition;
	char note[160]; /* why the primary is unusable ("" if it is) */
	bool stopping;
	bool dirty;         /* re-evaluate */
	bool force_publish; /* publish even without a change (suspect probes) */
	bool discovered;    /* start-up primary check done */
	int64_t started_mono_us;
	struct hc_gate *gate;
	uint64_t gen;
	struct hc_hb hb;              /* heartbeat writes (monitor.heartbeat) */
	struct hc_glag glag;          /* the chosen primary's GTID positions as first seen */
	bool hb_paused;               /* no write probe / heartbeat (switchover in progress) */
	int64_t hb_last_write_us;     /* wall clock of the last committed heartbeat */
	int64_t write_ok_us;          /* wall clock of the last answered write probe */
	char write_error[160];        /* the write probe's last problem ("" if none) */
	int64_t primary_last_ok_mono; /* last successful probe of the chosen primary */
	int64_t last_failover_mono;   /* start of the anti-flap window; 0 none */
	int64_t last_attempt_mono;    /* last failed promotion attempt (retry pacing) */
	struct hc_event_rec last_failover;
	struct hc_event_rec last_switchover;
	char refusal[512]; /* why the last needed failover did not happen */
	int64_t refusal_us;
	bool refused_this_outage; /* counted once per outage */
	uint64_t failovers;
	uint64_t failovers_refused;
	uint64_t switchovers;
	int writable; /* UP members with read_only=OFF */
	bool split_alerted;
	uint64_t split_brain_events;
	struct hc_request *reqs;

	/* The primary stalled past the tolerance while a replica still hears
	 * it: no failover, new sessions held (gate closed). */
	bool unreachable;
	int64_t unreachable_us; /* wall clock since */
	char unreachable_by[CFG_ADDR_TEXT];
	uint64_t unreachable_events; /* such episodes, for /metrics */
	uint64_t rejoins;            /* former primaries that rejoined by themselves */
	uint64_t rejoins_refused;    /* ... found diverged */
	json_t *saved;               /* what the state file holds for this cluster */
	struct coord *coord;         /* etcd coordination (health/coord.h), NULL: standalone */
};

struct hc_monitor {
	pthread_mutex_t mu;
	struct hc_cluster **clusters;
	size_t n;
	struct hc_cluster **retired; /* stopping, joined at the next reconfigure or stop */
	size_t nretired;
	hc_notify_fn notify;
	void *arg;
	char writer[65]; /* heartbeat row key: this host's name */
	/* The state file (health/state.c): its path, and the document of every
	 * cluster as last written; state_mu is a leaf lock. */
	pthread_mutex_t state_mu;
	char *state_path;
	json_t *state;
	char state_error[200];
};

#endif
