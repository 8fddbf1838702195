/*
 * coord.c — coordination of several tandems through etcd (see coord.h and
 * docs/failover.md § Coordination for the protocol and the key layout).
 *
 * Keys under P = <prefix>/<cluster>/:
 *   P/leader          "<instance>/<lease hex>", bound to the holder's lease
 *   P/record          the newest decision (JSON, struct coord_rec)
 *   P/history/<epoch> every decision (20-digit epoch), as last written for it
 *   P/obs/<instance>  that instance's probe verdicts, bound to its lease
 *
 * One thread per cluster keeps the lease alive, campaigns for leadership,
 * writes this instance's observations when they change, and watches P/
 * (one stream; a range first, then the watch from the next revision).
 * Records are applied to the monitor's cluster under cl->mu.
 *
 * Owns: the thread, the lease, leadership, the watch, applying records,
 * self-fencing. Must not: talk to MariaDB; decide (coord_decide.c holds
 * the rules the monitor asks).
 *
 * Locks: k->mu is a leaf. Hooks that run with cl->mu held take k->mu
 * briefly; the thread never holds k->mu while it takes cl->mu, and holds
 * neither across etcd I/O.
 */
#include "health/coord_thread.h"

#include "health/cluster_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/text.h"

#define LOOP_MS              100
#define WATCH_BACKOFF_MAX_MS 2000

const char *coord_reach_name(enum reach r)
{
	switch (r) {
	case REACH_UNKNOWN:
		return "unknown";
	case REACH_OK:
		return "ok";
	case REACH_DOWN:
		return "down";
	case REACH_UNREACH:
		return "unreachable";
	}
	return "?";
}

/* ------------------------------------------------------- etcd requests */

static void b64(const char *s, char *out, size_t n)
{
	if (etcd_b64_encode(s, strlen(s), out, n) < 0)
		out[0] = 0;
}

/* Note one call's outcome (k->mu not held). */
static void note_call(struct coord *k, int rc, const char *err)
{
	int64_t now = clock_mono_us();
	pthread_mutex_lock(&k->mu);
	if (rc == ETCD_OK || rc == ETCD_EREJECT) {
		if (k->reach != REACH_OK && k->reach != REACH_UNKNOWN) {
			log_info("cluster %s: etcd answers again (%s)", k->cl->name,
				 etcd_client_endpoint(k->ec));
			k->restart_watch = true; /* read the current record again */
		}
		k->reach = REACH_OK;
		k->last_ok_mono = now;
		k->unreach_since_mono = 0;
		k->down_logged = false;
	} else {
		enum reach r = rc == ETCD_EDOWN ? REACH_DOWN : REACH_UNREACH;
		if (k->reach != r)
			log_warn("cluster %s: etcd is %s: %s", k->cl->name, coord_reach_name(r),
				 err);
		k->reach = r;
		if (!k->unreach_since_mono)
			k->unreach_since_mono = now;
		k->etcd_errors++;
	}
	if (rc != ETCD_OK)
		hc_fmt(k->last_err, "%s", err);
	pthread_mutex_unlock(&k->mu);
}

static int call(struct coord *k, const char *path, const char *body, struct etcd_resp *r)
{
	char err[240] = "";
	int rc = etcd_call(k->ec, path, body, r, err, sizeof(err));
	note_call(k, rc, err);
	return rc;
}

/* A txn: compare record mod_revision and (when leader) our leader key;
 * on success put the record and its history entry. 1 done, 0 compare
 * failed, -1 etcd error. *rev gets the new revision. */
int coord_put_record(struct coord *k, const struct coord_rec *nr, int64_t expect_mod,
		     const char *leader_value, int64_t *rev)
{
	char *text = coord_rec_text(nr);
	if (!text)
		return -1;
	size_t tl = strlen(text);
	char *v64 = malloc(tl / 3 * 4 + 8);
	char kr[700], kh[800], lk[700], lv[400], hist[420];
	hc_fmt(hist, "%shistory/%020llu", k->prefix, (unsigned long long)nr->epoch);
	b64(k->k_record, kr, sizeof(kr));
	b64(hist, kh, sizeof(kh));
	b64(k->k_leader, lk, sizeof(lk));
	b64(leader_value, lv, sizeof(lv));
	if (!v64 || etcd_b64_encode(text, tl, v64, tl / 3 * 4 + 8) < 0) {
		free(v64);
		free(text);
		return -1;
	}
	free(text);
	size_t blen = strlen(v64) * 2 + 2048;
	char *body = malloc(blen);
	if (!body) {
		free(v64);
		return -1;
	}
	hc_fmtn(body, blen,
		"{\"compare\":[{\"key\":\"%s\",\"target\":\"MOD\",\"mod_revision\":\"%lld\"},"
		"{\"key\":\"%s\",\"target\":\"VALUE\",\"value\":\"%s\"}],"
		"\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
		"{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}]}",
		kr, (long long)expect_mod, lk, lv, kr, v64, kh, v64);
	free(v64);
	struct etcd_resp r;
	int rc = call(k, "/v3/kv/txn", body, &r);
	free(body);
	if (rc != ETCD_OK)
		return -1;
	int out = r.succeeded ? 1 : 0;
	*rev = r.revision;
	etcd_resp_free(&r);
	return out;
}

/* ------------------------------------------------ applying to the cluster */

/* Make the cluster follow rec (cl->mu held; k->mu not). */
static void apply_done(struct coord *k, struct hc_cluster *cl, const struct coord_rec *rec)
{
	int idx = -1;
	for (size_t i = 0; i < cl->n; i++)
		if (strcmp(cl->members[i].addr.text, rec->primary) == 0)
			idx = (int)i;
	if (idx < 0) {
		log_error("cluster %s: etcd record epoch %llu names primary %s, which is not a "
			  "member in this tandem's config; ignored",
			  cl->name, (unsigned long long)rec->epoch, rec->primary);
		return;
	}
	bool moved = cl->primary != idx;
	for (size_t i = 0; i < cl->n; i++) {
		struct hc_mmember *mb = &cl->members[i];
		bool f = coord_rec_fences(rec, mb->addr.text);
		if (mb->fenced != f) {
			mb->fenced = f;
			hc_member_set_state(mb);
		}
	}
	if (moved) {
		log_warn(
			"cluster %s: following etcd record epoch %llu (%s by %s): primary %s -> %s",
			cl->name, (unsigned long long)rec->epoch, rec->kind, rec->by,
			cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none",
			rec->primary);
		cl->primary = idx;
		cl->last_failover_mono = clock_mono_us();
		cl->primary_last_ok_mono = clock_mono_us();
	}
	hc_gate_set_closed(cl->gate, (size_t)idx, false);
	/* a switchover's old primary was held closed while it was acting */
	for (size_t i = 0; i < cl->n; i++)
		if (strcmp(cl->members[i].addr.text, rec->from) == 0 && !cl->members[i].fenced)
			hc_gate_set_closed(cl->gate, i, false);
	if (cl->transition == HC_TR_NONE)
		cl->note[0] = 0;
	cl->refused_this_outage = false;
	cl->discovered = true;
	cl->dirty = true;
}

/* The thread has a new record in k->rec (or a fresh read after a
 * reconnection): bring the cluster in line and publish. */
static void apply_record(struct coord *k)
{
	struct hc_cluster *cl = k->cl;
	pthread_mutex_lock(&cl->mu);
	pthread_mutex_lock(&k->mu);
	struct coord_rec rec = k->rec;
	bool exists = k->rec_exists;
	bool mine = rec.lease == k->lease && k->lease != 0;
	bool stale = exists && rec.epoch < k->applied_epoch;
	if (stale)
		log_error("cluster %s: etcd holds record epoch %llu, older than epoch %llu seen "
			  "before (etcd lost data?); not followed",
			  cl->name, (unsigned long long)rec.epoch,
			  (unsigned long long)k->applied_epoch);
	bool acting = exists && !stale && strcmp(rec.state, "acting") == 0;
	k->pending = acting && !mine;
	if (k->pending && k->leader)
		k->rollforward = true;
	if (exists && !stale && rec.epoch > k->applied_epoch)
		k->applied_epoch = rec.epoch;
	bool resumed = false;
	if (k->cut_off && k->loaded) {
		k->cut_off = false;
		resumed = true;
	}
	pthread_mutex_unlock(&k->mu);
	if (resumed)
		log_warn("cluster %s: sees the current etcd record again (epoch %llu); routing "
			 "resumes",
			 cl->name, (unsigned long long)rec.epoch);
	/* Another tandem's decision in progress is this cluster's transition
	 * here too: no local decision, no write probe on the old primary,
	 * and its gate stays as set below. */
	bool theirs = acting && !mine;
	if (theirs && (cl->transition == HC_TR_NONE || k->imposed)) {
		cl->transition =
			strcmp(rec.kind, "switchover") == 0 ? HC_TR_SWITCHOVER : HC_TR_FAILOVER;
		k->imposed = true;
	} else if (!theirs && k->imposed) {
		cl->transition = HC_TR_NONE;
		k->imposed = false;
	}
	/* Our own decisions are carried out by failover.c, which publishes. */
	if (exists && !stale && !acting && !(mine && cl->transition != HC_TR_NONE))
		apply_done(k, cl, &rec);
	if (acting && !mine && strcmp(rec.kind, "switchover") == 0)
		for (size_t i = 0; i < cl->n; i++)
			if (strcmp(cl->members[i].addr.text, rec.from) == 0)
				hc_gate_set_closed(cl->gate, i, true);
	if (acting && !mine)
		log_warn("cluster %s: etcd record epoch %llu: %s from %s to %s decided by %s; "
			 "sessions wait for it to finish",
			 cl->name, (unsigned long long)rec.epoch, rec.kind, rec.from, rec.primary,
			 rec.by);
	cl->dirty = true;
	pthread_cond_broadcast(&cl->cv);
	hc_cluster_publish(cl, false);
	pthread_mutex_unlock(&cl->mu);
}

/* ------------------------------------------------------------ watching */

static void obs_set(struct coord *k, const char *instance, const char *value, size_t len,
		    bool deleted)
{
	size_t i;
	for (i = 0; i < k->nobs; i++)
		if (strcmp(k->obs[i].instance, instance) == 0)
			break;
	if (deleted) {
		if (i < k->nobs) {
			free(k->obs[i].value);
			k->obs[i] = k->obs[--k->nobs];
		}
		return;
	}
	if (i == k->nobs) {
		if (k->nobs >= OBS_MAX)
			return; /* bounded: more instances than this are not counted */
		k->nobs++;
		hc_fmt(k->obs[i].instance, "%s", instance);
		k->obs[i].value = NULL;
	}
	char *v = malloc(len + 1);
	if (!v)
		return;
	memcpy(v, value, len);
	v[len] = 0;
	free(k->obs[i].value);
	k->obs[i].value = v;
	k->obs[i].len = len;
}

/* One key-value from a range or a watch event. Returns true when the
 * record changed (the caller applies it outside k->mu). k->mu held. */
static bool take_kv(struct coord *k, const struct etcd_kv *kv)
{
	if (strcmp(kv->key, k->k_leader) == 0) {
		bool was = k->leader;
		k->leader_known = !kv->deleted;
		hc_fmt(k->leader_name, "%s", kv->deleted ? "" : kv->value);
		k->leader = !kv->deleted && k->lease && strcmp(kv->value, k->leader_value) == 0;
		if (was && !k->leader)
			log_warn("cluster %s: lost the coordination leadership", k->cl->name);
		return false;
	}
	if (strcmp(kv->key, k->k_record) == 0) {
		if (kv->deleted) {
			log_error("cluster %s: the etcd record was deleted; keeping epoch %llu",
				  k->cl->name, (unsigned long long)k->applied_epoch);
			return false;
		}
		struct coord_rec r;
		if (coord_rec_parse(kv->value, kv->vlen, &r) < 0) {
			log_error("cluster %s: the etcd record is not a tandem record; ignored",
				  k->cl->name);
			return false;
		}
		k->rec = r;
		k->rec_mod = kv->mod_rev;
		k->rec_exists = true;
		return true;
	}
	size_t ol = strlen(k->k_obs);
	if (strncmp(kv->key, k->k_obs, ol) == 0 && strcmp(kv->key, k->k_obs_mine) != 0) {
		obs_set(k, kv->key + ol, kv->value ? kv->value : "", kv->vlen, kv->deleted);
		return false;
	}
	return false;
}

/* Let the decision thread look again (observations or leadership changed). */
static void poke_cluster(struct coord *k)
{
	pthread_mutex_lock(&k->cl->mu);
	k->cl->dirty = true;
	pthread_cond_broadcast(&k->cl->cv);
	pthread_mutex_unlock(&k->cl->mu);
}

struct watch_state {
	struct coord *k;
	struct event_base *base;
	struct etcd_watch *w;
	bool ended;
	int backoff_ms;
	int64_t retry_at;
};

static void on_watch_line(void *arg, const struct etcd_resp *r)
{
	struct watch_state *ws = arg;
	struct coord *k = ws->k;
	if (r->canceled || r->compact_revision) {
		log_warn("cluster %s: the etcd watch was cancelled (%s); reading again",
			 k->cl->name, r->error[0] ? r->error : "compacted");
		ws->ended = true;
		return;
	}
	if (r->error[0]) {
		log_warn("cluster %s: etcd watch: %s", k->cl->name, r->error);
		ws->ended = true;
		return;
	}
	bool rec = false;
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < r->nkvs; i++)
		rec = take_kv(k, &r->kvs[i]) || rec;
	if (r->revision >= k->watch_rev)
		k->watch_rev = r->revision + 1;
	k->last_ok_mono = clock_mono_us();
	pthread_mutex_unlock(&k->mu);
	if (rec) {
		apply_record(k);
		event_base_loopbreak(ws->base); /* acknowledge it in our observation now */
	}
	if (r->nkvs)
		poke_cluster(k);
}

static void on_watch_end(void *arg, const char *why)
{
	struct watch_state *ws = arg;
	log_info("cluster %s: %s; the watch restarts", ws->k->cl->name, why);
	ws->ended = true;
}

static void clear_obs(struct coord *k)
{
	for (size_t i = 0; i < k->nobs; i++)
		free(k->obs[i].value);
	k->nobs = 0;
}

/* Read everything under P/ and remember the revision to watch from. 0 or -1. */
static int load_prefix(struct coord *k)
{
	char kp[700], ke[700], body[1500];
	b64(k->prefix, kp, sizeof(kp));
	b64(k->prefix_end, ke, sizeof(ke));
	/* history is not needed to follow; skip it by reading in two ranges
	 * would cost a call, so read all and ignore what is not ours. */
	hc_fmt(body, "{\"key\":\"%s\",\"range_end\":\"%s\"}", kp, ke);
	struct etcd_resp r;
	if (call(k, "/v3/kv/range", body, &r) != ETCD_OK)
		return -1;
	pthread_mutex_lock(&k->mu);
	clear_obs(k);
	bool had_leader = false, had_rec = false;
	for (size_t i = 0; i < r.nkvs; i++) {
		had_leader = had_leader || strcmp(r.kvs[i].key, k->k_leader) == 0;
		had_rec = had_rec || strcmp(r.kvs[i].key, k->k_record) == 0;
		take_kv(k, &r.kvs[i]);
	}
	if (!had_leader) {
		if (k->leader)
			log_warn("cluster %s: lost the coordination leadership", k->cl->name);
		k->leader_known = false;
		k->leader = false;
		k->leader_name[0] = 0;
	}
	if (!had_rec) {
		k->rec_exists = false;
		k->rec_mod = 0;
	}
	k->watch_rev = r.revision + 1;
	k->loaded = true;
	pthread_mutex_unlock(&k->mu);
	etcd_resp_free(&r);
	apply_record(k);
	return 0;
}

/* ------------------------------------------------ lease and leadership */

static void lease_step(struct coord *k)
{
	int64_t now = clock_mono_us();
	pthread_mutex_lock(&k->mu);
	int64_t lease = k->lease;
	bool due = now - k->lease_ok_mono >= (int64_t)k->ttl_s * 1000000 / 3;
	pthread_mutex_unlock(&k->mu);
	char body[200];
	struct etcd_resp r;
	if (!lease) {
		hc_fmt(body, "{\"TTL\":\"%d\"}", k->ttl_s);
		if (call(k, "/v3/lease/grant", body, &r) != ETCD_OK)
			return;
		pthread_mutex_lock(&k->mu);
		k->lease = r.lease_id;
		k->lease_ok_mono = now;
		hc_fmt(k->leader_value, "%s/%llx", k->instance, (unsigned long long)r.lease_id);
		k->my_obs[0] = 0;
		pthread_mutex_unlock(&k->mu);
		etcd_resp_free(&r);
		return;
	}
	if (!due)
		return;
	hc_fmt(body, "{\"ID\":\"%lld\"}", (long long)lease);
	if (call(k, "/v3/lease/keepalive", body, &r) != ETCD_OK)
		return;
	pthread_mutex_lock(&k->mu);
	if (r.has_ttl && r.ttl > 0) {
		k->lease_ok_mono = now;
	} else {
		log_warn("cluster %s: the etcd lease expired; taking a new one", k->cl->name);
		k->lease = 0;
		if (k->leader)
			log_warn("cluster %s: lost the coordination leadership", k->cl->name);
		k->leader = false;
	}
	pthread_mutex_unlock(&k->mu);
	etcd_resp_free(&r);
}

static void campaign(struct coord *k)
{
	pthread_mutex_lock(&k->mu);
	bool go = k->lease && k->loaded && !k->leader_known && !k->cut_off;
	int64_t lease = k->lease;
	char value[200];
	hc_fmt(value, "%s", k->leader_value);
	pthread_mutex_unlock(&k->mu);
	if (!go)
		return;
	char lk[700], lv[400], body[2000];
	b64(k->k_leader, lk, sizeof(lk));
	b64(value, lv, sizeof(lv));
	hc_fmt(body,
	       "{\"compare\":[{\"key\":\"%s\",\"target\":\"CREATE\",\"create_revision\":\"0\"}],"
	       "\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%lld\"}}],"
	       "\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}",
	       lk, lk, lv, (long long)lease, lk);
	struct etcd_resp r;
	if (call(k, "/v3/kv/txn", body, &r) != ETCD_OK)
		return;
	pthread_mutex_lock(&k->mu);
	bool won = r.succeeded && k->lease == lease;
	k->leader_known = true;
	if (won) {
		k->leader = true;
		hc_fmt(k->leader_name, "%s", value);
		k->leader_changes++;
		if (k->pending)
			k->rollforward = true;
	} else {
		for (size_t i = 0; i < r.nkvs; i++)
			take_kv(k, &r.kvs[i]);
	}
	bool rf = k->rollforward;
	pthread_mutex_unlock(&k->mu);
	etcd_resp_free(&r);
	if (won) {
		log_warn("cluster %s: this tandem (%s) is the coordination leader%s", k->cl->name,
			 k->instance, rf ? "; it finishes the unfinished decision" : "");
		poke_cluster(k);
	}
}

/* The leader writes the first record when etcd has none: the primary it
 * routes to now (from the config or start-up discovery). */
static void initial_record(struct coord *k)
{
	pthread_mutex_lock(&k->mu);
	bool go = k->leader && k->loaded && !k->rec_exists && k->reach == REACH_OK;
	char lv[200];
	hc_fmt(lv, "%s", k->leader_value);
	int64_t lease = k->lease;
	pthread_mutex_unlock(&k->mu);
	if (!go)
		return;
	struct coord_rec nr = {.epoch = 1, .lease = lease, .at_us = clock_wall_us()};
	struct hc_cluster *cl = k->cl;
	pthread_mutex_lock(&cl->mu);
	bool ready = cl->discovered && cl->primary >= 0 && cl->transition == HC_TR_NONE;
	if (ready) {
		hc_fmt(nr.primary, "%s", cl->members[cl->primary].addr.text);
		for (size_t i = 0; i < cl->n && nr.nfenced < COORD_FENCED_MAX; i++)
			if (cl->members[i].fenced)
				hc_fmt(nr.fenced[nr.nfenced++], "%s", cl->members[i].addr.text);
	}
	pthread_mutex_unlock(&cl->mu);
	if (!ready)
		return;
	hc_fmt(nr.kind, "initial");
	hc_fmt(nr.state, "done");
	hc_fmt(nr.reason, "first record: the primary this leader routed to");
	hc_fmt(nr.by, "%s", k->instance);
	int64_t rev = 0;
	if (coord_put_record(k, &nr, 0, lv, &rev) == 1) {
		pthread_mutex_lock(&k->mu);
		k->rec = nr;
		k->rec_mod = rev;
		k->rec_exists = true;
		k->applied_epoch = 1;
		k->decisions++;
		pthread_mutex_unlock(&k->mu);
		log_info("cluster %s: wrote the first etcd record: epoch 1, primary %s", cl->name,
			 nr.primary);
	}
}

/* This instance's probe verdicts, written when they change. */
static void observe(struct coord *k)
{
	struct hc_cluster *cl = k->cl;
	json_t *m = json_object();
	bool quiet = true; /* no write probe (or heartbeat write) of ours in flight */
	pthread_mutex_lock(&cl->mu);
	for (size_t i = 0; i < cl->n; i++) {
		enum hc_state h = cl->members[i].h.health;
		json_object_set_new(m, cl->members[i].addr.text,
				    json_string(h == HC_UP     ? "up"
						: h == HC_DOWN ? "down"
							       : "unknown"));
		quiet = quiet && !cl->members[i].hb_inflight;
	}
	pthread_mutex_unlock(&cl->mu);
	pthread_mutex_lock(&k->mu);
	uint64_t epoch = quiet ? k->applied_epoch : k->acked_epoch;
	pthread_mutex_unlock(&k->mu);
	json_t *o = json_pack("{s:o, s:I}", "members", m, "epoch", (json_int_t)epoch);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return;
	pthread_mutex_lock(&k->mu);
	int64_t lease = k->lease;
	bool same = strcmp(text, k->my_obs) == 0 && k->my_obs_lease == lease;
	pthread_mutex_unlock(&k->mu);
	if (same || !lease || strlen(text) > 1500) {
		free(text);
		return;
	}
	char kk[700], vv[2100], body[3000];
	b64(k->k_obs_mine, kk, sizeof(kk));
	b64(text, vv, sizeof(vv));
	hc_fmt(body, "{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%lld\"}", kk, vv,
	       (long long)lease);
	struct etcd_resp r;
	if (call(k, "/v3/kv/put", body, &r) == ETCD_OK) {
		pthread_mutex_lock(&k->mu);
		hc_fmt(k->my_obs, "%s", text);
		k->my_obs_lease = lease;
		k->acked_epoch = epoch;
		pthread_mutex_unlock(&k->mu);
		etcd_resp_free(&r);
	}
	free(text);
}

/* Cut off for most of the lease: route nothing until the record is seen
 * again. etcd refusing connections everywhere is not being cut off: then
 * no instance can get a decision through, and the agreed primary stays. */
static void check_fence(struct coord *k)
{
	int64_t now = clock_mono_us();
	int64_t limit = (int64_t)k->ttl_s * 1000000 * 3 / 4;
	pthread_mutex_lock(&k->mu);
	bool fence = !k->cut_off && k->reach == REACH_UNREACH && k->lease_ok_mono &&
		     now - k->lease_ok_mono > limit;
	bool down = k->reach == REACH_DOWN && !k->down_logged;
	if (fence) {
		k->cut_off = true;
		k->cut_since_us = clock_wall_us();
		k->loaded = false;
		k->leader = false;
	}
	if (down)
		k->down_logged = true;
	pthread_mutex_unlock(&k->mu);
	if (down)
		log_error("cluster %s: etcd is down (connections refused): this tandem keeps "
			  "routing to the last agreed primary; no failover can be decided until "
			  "etcd is back",
			  k->cl->name);
	if (fence) {
		log_error("cluster %s: cut off from etcd for more than %lld ms: this tandem "
			  "routes no sessions until it sees the current record again",
			  k->cl->name, (long long)limit / 1000);
		pthread_mutex_lock(&k->cl->mu);
		hc_cluster_publish(k->cl, false);
		pthread_mutex_unlock(&k->cl->mu);
	}
}

static void *coord_main(void *arg)
{
	struct coord *k = arg;
	char tname[16];
	hc_fmt(tname, "etcd:%s", k->cl->name);
	log_set_thread_name(tname);
	struct event_base *base = event_base_new();
	struct watch_state ws = {.k = k, .base = base, .backoff_ms = 100};
	while (base && !atomic_load(&k->stop)) {
		lease_step(k);
		pthread_mutex_lock(&k->mu);
		bool restart = k->restart_watch;
		k->restart_watch = false;
		pthread_mutex_unlock(&k->mu);
		if (restart || ws.ended) {
			etcd_watch_free(ws.w);
			ws.w = NULL;
			if (ws.ended) {
				ws.retry_at = clock_mono_us() + (int64_t)ws.backoff_ms * 1000;
				ws.backoff_ms = ws.backoff_ms * 2 > WATCH_BACKOFF_MAX_MS
							? WATCH_BACKOFF_MAX_MS
							: ws.backoff_ms * 2;
			}
			ws.ended = false;
		}
		pthread_mutex_lock(&k->mu);
		bool reach_ok = k->reach == REACH_OK || k->reach == REACH_UNKNOWN;
		pthread_mutex_unlock(&k->mu);
		if (!ws.w && reach_ok && clock_mono_us() >= ws.retry_at && load_prefix(k) == 0) {
			pthread_mutex_lock(&k->mu);
			int64_t rev = k->watch_rev;
			k->watch_restarts++;
			pthread_mutex_unlock(&k->mu);
			ws.w = etcd_watch_start(k->ec, base, k->prefix, k->prefix_end, rev,
						on_watch_line, on_watch_end, &ws);
			if (ws.w)
				ws.backoff_ms = 100;
		}
		check_fence(k);
		pthread_mutex_lock(&k->mu);
		bool answering = k->reach == REACH_OK;
		pthread_mutex_unlock(&k->mu);
		if (answering) {
			/* each may wait a timeout: the fence is checked after each */
			campaign(k);
			check_fence(k);
			initial_record(k);
			observe(k);
			check_fence(k);
		}
		struct timeval tv = {.tv_sec = 0, .tv_usec = LOOP_MS * 1000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	etcd_watch_free(ws.w);
	if (base)
		event_base_free(base);
	/* Give leadership back at once rather than after the TTL. */
	pthread_mutex_lock(&k->mu);
	int64_t lease = k->lease;
	pthread_mutex_unlock(&k->mu);
	if (lease) {
		char body[100];
		hc_fmt(body, "{\"ID\":\"%lld\"}", (long long)lease);
		struct etcd_resp r;
		char err[200];
		if (etcd_call(k->ec, "/v3/lease/revoke", body, &r, err, sizeof(err)) == ETCD_OK)
			etcd_resp_free(&r);
	}
	return NULL;
}

/* -------------------------------------------------------------- hooks */

int coord_cluster_new(struct hc_cluster *cl, const struct cfg *cfg)
{
	cl->coord = NULL;
	if (!cfg->coord.enabled || !cfg->coord.nendpoints)
		return 0;
	struct coord *k = calloc(1, sizeof(*k));
	if (!k)
		return -1;
	k->cl = cl;
	k->ec = etcd_client_new(&cfg->coord);
	if (!k->ec) {
		free(k);
		return -1;
	}
	pthread_mutex_init(&k->mu, NULL);
	atomic_init(&k->stop, false);
	hc_fmt(k->instance, "%s", cfg->coord.instance);
	k->ttl_s = cfg->coord.lease_ttl_s;
	hc_fmt(k->prefix, "%s/%s/", cfg->coord.prefix, cl->name);
	hc_fmt(k->prefix_end, "%s", k->prefix);
	k->prefix_end[strlen(k->prefix_end) - 1]++; /* '/' + 1: the end of the prefix range */
	hc_fmt(k->k_leader, "%sleader", k->prefix);
	hc_fmt(k->k_record, "%srecord", k->prefix);
	hc_fmt(k->k_obs, "%sobs/", k->prefix);
	hc_fmt(k->k_obs_mine, "%s%s", k->k_obs, k->instance);
	cl->coord = k;
	return 0;
}

void coord_cluster_start(struct hc_cluster *cl)
{
	struct coord *k = cl->coord;
	if (!k)
		return;
	/* Routing starts from what etcd says, not from the config. */
	if (load_prefix(k) < 0)
		log_warn("cluster %s: cannot read etcd at start-up (%s); routing by the config "
			 "until it answers",
			 cl->name, k->last_err);
	if (pthread_create(&k->thread, NULL, coord_main, k) == 0)
		k->started = true;
	else
		log_error("cluster %s: cannot start the coordination thread", cl->name);
}

void coord_cluster_stop(struct hc_cluster *cl)
{
	if (cl->coord)
		atomic_store(&cl->coord->stop, true);
}

void coord_cluster_free(struct hc_cluster *cl)
{
	struct coord *k = cl->coord;
	if (!k)
		return;
	atomic_store(&k->stop, true);
	if (k->started)
		pthread_join(k->thread, NULL);
	clear_obs(k);
	etcd_client_free(k->ec);
	pthread_mutex_destroy(&k->mu);
	free(k);
	cl->coord = NULL;
}

/* Whether the lease is fresh enough to act on (k->mu held). */