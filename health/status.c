/*
 * status.c — the monitor's part of /status, /metrics and /health (see
 * monitor.h): a few microseconds under each cluster's lock, no I/O.
 *
 * Owns: the JSON shape of clusters and members, and the monitor's metric
 * names (docs/metrics.md lists them). Must not: change monitor state.
 */
#include "health/status.h"

#include <event2/buffer.h>
#include <string.h>

#include "common/clock.h"
#include "health/coord.h"
#include "health/failover.h"
#include "health/monitor_int.h"
#include "health/text.h"

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *replication_json(const struct hc_repl *r)
{
	if (!r->configured)
		return json_null();
	json_t *o = json_pack("{s:s, s:s, s:b}", "source", r->source, "io_running", r->io_running,
			      "sql_running", r->sql_running);
	json_object_set_new(o, "seconds_behind_master",
			    r->seconds_behind >= 0 ? json_integer(r->seconds_behind) : json_null());
	json_object_set_new(o, "last_io_error", str_or_null(r->last_io_error));
	json_object_set_new(o, "last_sql_error", str_or_null(r->last_sql_error));
	json_object_set_new(o, "gtid_io_pos", json_string(r->gtid_io_pos));
	json_object_set_new(o, "gtid_slave_pos", json_string(r->gtid_slave_pos));
	return o;
}

static json_t *member_json(const struct hc_cluster *cl, const struct hc_mmember *mb)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:b, s:I, s:b, s:b}", "address", mb->addr.text, "state",
			  hc_state_name(mb->state), "role", hc_role_name(mb->role), "primary",
			  (int)mb->idx == cl->primary, "since_us", (json_int_t)mb->state_since_us,
			  "fenced", mb->fenced, "maintenance", mb->maintenance);
	json_object_set_new(o, "health", json_string(hc_state_name(mb->h.health)));
	json_object_set_new(o, "read_only",
			    mb->probed && mb->last.version[0] ? json_boolean(mb->last.read_only)
							      : json_null());
	json_object_set_new(o, "lag_ms", mb->lag_ms >= 0 ? json_integer(mb->lag_ms) : json_null());
	json_object_set_new(o, "lag_source", str_or_null(mb->lag_source));
	json_object_set_new(o, "probe_ms", json_real((double)mb->probe_us / 1000.0));
	json_object_set_new(o, "probes", json_integer((json_int_t)mb->probes));
	json_object_set_new(o, "probe_failures", json_integer((json_int_t)mb->probe_failures));
	json_object_set_new(o, "consecutive_failures", json_integer(mb->h.fails));
	json_object_set_new(o, "last_error", str_or_null(mb->last_error));
	json_object_set_new(o, "last_error_kind",
			    mb->last_fail ? json_string(hc_fail_name(mb->last_fail)) : json_null());
	json_object_set_new(o, "last_error_us",
			    mb->last_error[0] ? json_integer(mb->last_error_us) : json_null());
	json_object_set_new(o, "version", str_or_null(mb->last.version));
	json_object_set_new(o, "gtid_binlog_pos", json_string(mb->last.gtid_binlog_pos));
	json_object_set_new(o, "replication", replication_json(&mb->last.repl));
	json_object_set_new(o, "sessions", json_integer(hc_gate_sessions(cl->gate, mb->idx)));
	if (mb->fence_error[0])
		json_object_set_new(o, "fence_error", json_string(mb->fence_error));
	int64_t now = clock_mono_us();
	bool suspect = mb->h.stalled && mb->h.fails > 0 && mb->h.health != HC_DOWN;
	json_object_set_new(o, "suspected", json_boolean(suspect));
	json_object_set_new(o, "stalled_ms",
			    suspect ? json_integer((now - mb->h.fail_since_us) / 1000)
				    : json_null());
	json_object_set_new(o, "fence_reason", str_or_null(mb->fence_reason));
	json_object_set_new(o, "diverged", json_boolean(mb->diverged));
	json_object_set_new(o, "rejoining", json_boolean(mb->rejoining));
	json_object_set_new(o, "write_stall_ms",
			    mb->write_stall_mono ? json_integer((now - mb->write_stall_mono) / 1000)
						 : json_null());
	if (mb->last.repl.configured) {
		json_t *r = json_object_get(o, "replication");
		json_object_set_new(
			r, "hears_source",
			json_boolean(hc_replica_hears_source(&mb->hear, &cl->pol, now)));
		json_object_set_new(r, "heartbeat_period_ms",
				    json_integer(mb->last.repl.heartbeat_period_ms));
		json_object_set_new(r, "last_received_ms_ago",
				    mb->hear.changed_mono_us
					    ? json_integer((now - mb->hear.changed_mono_us) / 1000)
					    : json_null());
	}
	return o;
}

/* Alert texts of one cluster (cl->mu held). */
static void cluster_alerts(const struct hc_cluster *cl, json_t *arr)
{
	char buf[600];
	if (cl->writable > 1) {
		hc_fmt(buf, "cluster %s: %d members are writable; tandem writes only to %s",
		       cl->name, cl->writable,
		       cl->primary >= 0 ? cl->members[cl->primary].addr.text : "none");
		json_array_append_new(arr, json_string(buf));
	}
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		if (mb->alert_auth) {
			hc_fmt(buf, "cluster %s: the monitor cannot probe %s (%s): %s", cl->name,
			       mb->addr.text, hc_fail_name(mb->last_fail), mb->last_error);
			json_array_append_new(arr, json_string(buf));
		}
	}
	if (cl->refused_this_outage) {
		hc_fmt(buf, "cluster %s: %s", cl->name, cl->note);
		json_array_append_new(arr, json_string(buf));
	}
	if (cl->unreachable && cl->primary >= 0) {
		hc_fmt(buf,
		       "cluster %s: primary %s is unreachable from tandem; replica %s still receives "
		       "from it (no failover)",
		       cl->name, cl->members[cl->primary].addr.text, cl->unreachable_by);
		json_array_append_new(arr, json_string(buf));
	}
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		if (mb->write_stall_mono) {
			hc_fmt(buf, "cluster %s: %s answers but its writes stall (%lld ms)",
			       cl->name, mb->addr.text,
			       (long long)((clock_mono_us() - mb->write_stall_mono) / 1000));
			json_array_append_new(arr, json_string(buf));
		}
		if (mb->fenced && mb->diverged) {
			hc_fmt(buf, "cluster %s: %s stays fenced: %s", cl->name, mb->addr.text,
			       mb->fence_reason);
			json_array_append_new(arr, json_string(buf));
		}
	}
	pthread_mutex_lock(&cl->mon->state_mu);
	if (cl->mon->state_error[0]) {
		hc_fmt(buf, "cannot write the state file %s", cl->mon->state_error);
		json_array_append_new(arr, json_string(buf));
	}
	pthread_mutex_unlock(&cl->mon->state_mu);
	coord_alerts(cl, arr);
}

static json_t *cluster_json(struct hc_cluster *cl)
{
	json_t *members = json_array();
	for (size_t i = 0; i < cl->n; i++)
		json_array_append_new(members, member_json(cl, &cl->members[i]));
	json_t *o =
		json_pack("{s:I, s:o, s:s, s:o}", "generation", (json_int_t)cl->gen, "primary",
			  str_or_null(cl->primary >= 0 ? cl->members[cl->primary].addr.text : ""),
			  "transition", hc_transition_name(cl->transition), "members", members);
	json_object_set_new(o, "note", str_or_null(cl->note));
	json_object_set_new(o, "writable_members", json_integer(cl->writable));
	json_t *alerts = json_array();
	cluster_alerts(cl, alerts);
	json_object_set_new(o, "alerts", alerts);
	json_t *fo = json_pack("{s:I, s:I, s:b, s:b}", "total", (json_int_t)cl->failovers,
			       "refused_total", (json_int_t)cl->failovers_refused, "auto",
			       cl->pol.auto_failover, "promote", cl->pol.promote);
	json_object_set_new(fo, "max_lag_ms", json_integer(cl->pol.max_lag_ms));
	json_object_set_new(fo, "last", hc_event_json(&cl->last_failover));
	json_object_set_new(fo, "last_refusal",
			    cl->refusal[0] ? json_pack("{s:s, s:I}", "reason", cl->refusal, "at_us",
						       (json_int_t)cl->refusal_us)
					   : json_null());
	json_object_set_new(fo, "max_data_loss_ms",
			    json_integer(cl->cc->failover.max_data_loss_ms));
	json_object_set_new(fo, "rejoins", json_integer((json_int_t)cl->rejoins));
	json_object_set_new(fo, "rejoins_refused", json_integer((json_int_t)cl->rejoins_refused));
	json_object_set_new(o, "failover", fo);
	json_object_set_new(o, "unreachable",
			    cl->unreachable ? json_pack("{s:s, s:s, s:I}", "primary",
							cl->members[cl->primary].addr.text,
							"heard_by", cl->unreachable_by, "since_us",
							(json_int_t)cl->unreachable_us)
					    : json_null());
	json_object_set_new(o, "state_file", str_or_null(cl->mon->state_path));
	json_object_set_new(o, "switchover",
			    json_pack("{s:I, s:o}", "total", (json_int_t)cl->switchovers, "last",
				      hc_event_json(&cl->last_switchover)));
	bool hb = cl->cc->monitor.heartbeat;
	json_t *h = json_pack("{s:b}", "enabled", hb);
	if (hb) {
		json_object_set_new(h, "table",
				    json_sprintf("%s.heartbeat", cl->cc->monitor.heartbeat_schema));
		json_object_set_new(h, "last_write_us",
				    cl->hb_last_write_us ? json_integer(cl->hb_last_write_us)
							 : json_null());
	}
	json_object_set_new(o, "heartbeat", h);
	json_object_set_new(o, "write_probe",
			    json_pack("{s:s, s:o, s:o}", "kind", hb ? "heartbeat" : "locking_read",
				      "last_ok_us",
				      cl->write_ok_us ? json_integer(cl->write_ok_us) : json_null(),
				      "error", str_or_null(cl->write_error)));
	json_object_set_new(o, "coordination", coord_status_json(cl));
	return o;
}

json_t *hc_monitor_status_json(struct hc_monitor *m)
{
	json_t *clusters = json_object();
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		struct hc_cluster *cl = m->clusters[i];
		pthread_mutex_lock(&cl->mu);
		json_object_set_new(clusters, cl->name, cluster_json(cl));
		pthread_mutex_unlock(&cl->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return clusters;
}

json_t *hc_monitor_last_failover_json(struct hc_monitor *m, const char *cluster)
{
	json_t *out = NULL;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n && !out; i++) {
		struct hc_cluster *cl = m->clusters[i];
		if (strcmp(cl->name, cluster) != 0)
			continue;
		pthread_mutex_lock(&cl->mu);
		out = hc_event_json(&cl->last_failover);
		pthread_mutex_unlock(&cl->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return out ? out : json_null();
}

json_t *hc_monitor_alerts_json(struct hc_monitor *m)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		struct hc_cluster *cl = m->clusters[i];
		pthread_mutex_lock(&cl->mu);
		cluster_alerts(cl, arr);
		pthread_mutex_unlock(&cl->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return arr;
}

/* ------------------------------------------------------------ metrics */

static void head(struct evbuffer *out, const char *name, const char *help, const char *type)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family over every member of every cluster: fn prints the sample. */
typedef void (*member_sample_fn)(struct evbuffer *out, const char *name,
				 const struct hc_cluster *cl, const struct hc_mmember *mb);

static void each_member(struct hc_monitor *m, struct evbuffer *out, const char *name,
			const char *help, const char *type, member_sample_fn fn)
{
	head(out, name, help, type);
	for (size_t i = 0; i < m->n; i++) {
		struct hc_cluster *cl = m->clusters[i];
		pthread_mutex_lock(&cl->mu);
		for (size_t j = 0; j < cl->n; j++)
			fn(out, name, cl, &cl->members[j]);
		pthread_mutex_unlock(&cl->mu);
	}
}

#define LABELS "{cluster=\"%s\",member=\"%s\""

static void s_up(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		 const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %d\n", n, cl->name, mb->addr.text,
			    mb->h.health == HC_UP);
}

static void s_state(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		    const struct hc_mmember *mb)
{
	static const enum hc_state all[] = {HC_UNKNOWN, HC_UP, HC_DOWN, HC_FENCED, HC_MAINTENANCE};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		evbuffer_add_printf(o, "%s" LABELS ",state=\"%s\"} %d\n", n, cl->name,
				    mb->addr.text, hc_state_name(all[i]), mb->state == all[i]);
}

static void s_role(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		   const struct hc_mmember *mb)
{
	static const enum hc_role all[] = {HC_ROLE_UNKNOWN, HC_ROLE_PRIMARY, HC_ROLE_REPLICA};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		evbuffer_add_printf(o, "%s" LABELS ",role=\"%s\"} %d\n", n, cl->name, mb->addr.text,
				    hc_role_name(all[i]), mb->role == all[i]);
}

static void s_primary(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		      const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %d\n", n, cl->name, mb->addr.text,
			    (int)mb->idx == cl->primary);
}

static void s_lag(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		  const struct hc_mmember *mb)
{
	if (mb->lag_ms >= 0)
		evbuffer_add_printf(o, "%s" LABELS "} %.3f\n", n, cl->name, mb->addr.text,
				    (double)mb->lag_ms / 1000.0);
}

static void s_probe(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		    const struct hc_mmember *mb)
{
	if (mb->probed)
		evbuffer_add_printf(o, "%s" LABELS "} %.6f\n", n, cl->name, mb->addr.text,
				    (double)mb->probe_us / 1e6);
}

static void s_probes(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		     const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %llu\n", n, cl->name, mb->addr.text,
			    (unsigned long long)mb->probes);
}

static void s_probe_failures(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
			     const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %llu\n", n, cl->name, mb->addr.text,
			    (unsigned long long)mb->probe_failures);
}

static void s_sessions(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
		       const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %d\n", n, cl->name, mb->addr.text,
			    hc_gate_sessions(cl->gate, mb->idx));
}

static void s_suspected(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
			const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %d\n", n, cl->name, mb->addr.text,
			    mb->h.stalled && mb->h.fails > 0 && mb->h.health != HC_DOWN);
}

static void s_write_stalled(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
			    const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %d\n", n, cl->name, mb->addr.text,
			    mb->write_stall_mono != 0);
}

static void s_write_stalls(struct evbuffer *o, const char *n, const struct hc_cluster *cl,
			   const struct hc_mmember *mb)
{
	evbuffer_add_printf(o, "%s" LABELS "} %llu\n", n, cl->name, mb->addr.text,
			    (unsigned long long)mb->write_stalls);
}

/* One family over every cluster. */
static void each_cluster(struct hc_monitor *m, struct evbuffer *out, const char *name,
			 const char *help, const char *type,
			 void (*fn)(struct evbuffer *, const char *, const struct hc_cluster *))
{
	head(out, name, help, type);
	for (size_t i = 0; i < m->n; i++) {
		struct hc_cluster *cl = m->clusters[i];
		pthread_mutex_lock(&cl->mu);
		fn(out, name, cl);
		pthread_mutex_unlock(&cl->mu);
	}
}

static void c_failovers(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->failovers);
}

static void c_refused(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->failovers_refused);
}

static void c_switchovers(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->switchovers);
}

static void c_last_duration(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	if (cl->last_failover.valid)
		evbuffer_add_printf(o, "%s{cluster=\"%s\"} %.3f\n", n, cl->name,
				    (double)cl->last_failover.total_ms / 1000.0);
}

static void c_last_time(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	if (cl->last_failover.valid)
		evbuffer_add_printf(o, "%s{cluster=\"%s\"} %.3f\n", n, cl->name,
				    (double)cl->last_failover.at_us / 1e6);
}

static void c_loss(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	if (cl->last_failover.valid && cl->last_failover.data_loss_window_ms >= 0)
		evbuffer_add_printf(o, "%s{cluster=\"%s\"} %.3f\n", n, cl->name,
				    (double)cl->last_failover.data_loss_window_ms / 1000.0);
}

static void c_writable(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %d\n", n, cl->name, cl->writable);
}

static void c_split(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->split_brain_events);
}

static void c_transition(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %d\n", n, cl->name,
			    cl->transition != HC_TR_NONE);
}

static void c_unreachable(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %d\n", n, cl->name, cl->unreachable);
}

static void c_unreachable_total(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->unreachable_events);
}

static void c_rejoins(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	evbuffer_add_printf(o, "%s{cluster=\"%s\",result=\"rejoined\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->rejoins);
	evbuffer_add_printf(o, "%s{cluster=\"%s\",result=\"diverged\"} %llu\n", n, cl->name,
			    (unsigned long long)cl->rejoins_refused);
}

static void c_hb_age(struct evbuffer *o, const char *n, const struct hc_cluster *cl)
{
	if (cl->hb_last_write_us)
		evbuffer_add_printf(o, "%s{cluster=\"%s\"} %.3f\n", n, cl->name,
				    (double)(clock_wall_us() - cl->hb_last_write_us) / 1e6);
}

void hc_monitor_metrics(struct hc_monitor *m, struct evbuffer *out)
{
	pthread_mutex_lock(&m->mu);
	each_member(m, out, "tandem_member_up", "1 when the member's last probes succeeded.",
		    "gauge", s_up);
	each_member(m, out, "tandem_member_state",
		    "The member's state (one series per state, 1 "
		    "for the current one).",
		    "gauge", s_state);
	each_member(m, out, "tandem_member_role",
		    "The member's role from read_only (one series "
		    "per role, 1 for the current one).",
		    "gauge", s_role);
	each_member(m, out, "tandem_member_primary", "1 for the member tandem sends sessions to.",
		    "gauge", s_primary);
	each_member(m, out, "tandem_member_replication_lag_seconds",
		    "Replication lag from GTID positions or tandem's heartbeat (ms resolution); "
		    "absent when unknown.",
		    "gauge", s_lag);
	each_member(m, out, "tandem_member_probe_duration_seconds",
		    "Duration of the member's last probe.", "gauge", s_probe);
	each_member(m, out, "tandem_member_probes_total", "Probes run against the member.",
		    "counter", s_probes);
	each_member(m, out, "tandem_member_probe_failures_total",
		    "Probes that failed (connect, handshake, query or timeout).", "counter",
		    s_probe_failures);
	each_member(m, out, "tandem_member_sessions",
		    "Backend connections tandem's sessions hold to the member.", "gauge",
		    s_sessions);
	each_cluster(m, out, "tandem_failovers_total", "Failovers carried out.", "counter",
		     c_failovers);
	each_cluster(m, out, "tandem_failovers_refused_total",
		     "Primary outages where no failover was allowed (lag, no replica, auto off).",
		     "counter", c_refused);
	each_cluster(m, out, "tandem_switchovers_total", "Planned switchovers carried out.",
		     "counter", c_switchovers);
	each_cluster(m, out, "tandem_last_failover_duration_seconds",
		     "From the first failed probe of the old primary to the new primary's "
		     "publication, for the last failover.",
		     "gauge", c_last_duration);
	each_cluster(m, out, "tandem_last_failover_timestamp_seconds",
		     "Unix time of the last failover.", "gauge", c_last_time);
	each_cluster(m, out, "tandem_last_failover_data_loss_window_seconds",
		     "Estimated data-loss window of the last failover (the replica's lag when "
		     "the primary was last seen).",
		     "gauge", c_loss);
	each_cluster(m, out, "tandem_cluster_writable_members",
		     "Members with read_only=OFF; more than 1 is an alert.", "gauge", c_writable);
	each_cluster(m, out, "tandem_cluster_split_brain_events_total",
		     "Times more than one member became writable.", "counter", c_split);
	each_cluster(m, out, "tandem_cluster_transition",
		     "1 while a failover or switchover is in progress.", "gauge", c_transition);
	each_member(m, out, "tandem_member_suspected",
		    "1 while the member does not answer and is not judged yet (a stall).", "gauge",
		    s_suspected);
	each_member(m, out, "tandem_member_write_stalled",
		    "1 while the primary answers but its write probe gets no answer.", "gauge",
		    s_write_stalled);
	each_member(m, out, "tandem_member_write_stalls_total", "Write stalls seen.", "counter",
		    s_write_stalls);
	each_cluster(m, out, "tandem_cluster_primary_unreachable",
		     "1 while the primary is out of tandem's reach but a replica still hears it "
		     "(no failover).",
		     "gauge", c_unreachable);
	each_cluster(m, out, "tandem_cluster_primary_unreachable_total",
		     "Times the primary was unreachable from tandem while a replica heard it.",
		     "counter", c_unreachable_total);
	each_cluster(m, out, "tandem_rejoins_total",
		     "Former primaries that came back: rejoined by themselves, or found diverged.",
		     "counter", c_rejoins);
	each_cluster(m, out, "tandem_heartbeat_age_seconds",
		     "Time since tandem last wrote a heartbeat to the primary (monitor.heartbeat).",
		     "gauge", c_hb_age);
	coord_metrics(m, out);
	pthread_mutex_unlock(&m->mu);
}
