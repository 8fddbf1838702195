/*
 * state.c — the monitor's memory across restarts: per cluster, the
 * primary tandem chose and the members it fenced (with why, and what the
 * new primary had applied when it was promoted, for the rejoin check), in
 * one small JSON file (cfg.state_file, docs/failover.md).
 *
 * Written whole and atomically (temporary file, fsync, rename, fsync of
 * the directory) whenever what it holds changes; read once at start. A
 * file that cannot be read or parsed is reported and ignored: tandem
 * starts as if there had been none, which is what it did before this file
 * existed.
 *
 * Owns: the file format and m->state. Must not: block on anything but the
 * local file system; be written by two threads at once (state_mu).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/cluster_state.h"
#include "health/state.h"
#include "health/text.h"

void hc_state_load(struct hc_monitor *m)
{
	pthread_mutex_init(&m->state_mu, NULL);
	m->state = json_object();
	if (!m->state_path)
		return;
	json_error_t jerr;
	json_t *doc = json_load_file(m->state_path, 0, &jerr);
	if (!doc) {
		if (access(m->state_path, F_OK) == 0)
			log_error("monitor: ALERT: cannot read the state file %s (%s, line %d); "
				  "fences and the chosen primary of the last run are forgotten",
				  m->state_path, jerr.text, jerr.line);
		return;
	}
	json_t *cl = json_object_get(doc, "clusters");
	if (json_is_object(cl)) {
		json_object_set(m->state, "clusters", cl);
		log_info("monitor: state of %zu cluster(s) restored from %s", json_object_size(cl),
			 m->state_path);
	}
	json_decref(doc);
}

void hc_state_free(struct hc_monitor *m)
{
	json_decref(m->state);
	m->state = NULL;
	free(m->state_path);
	m->state_path = NULL;
	pthread_mutex_destroy(&m->state_mu);
}

bool hc_state_apply(struct hc_cluster *cl)
{
	struct hc_monitor *m = cl->mon;
	pthread_mutex_lock(&m->state_mu);
	json_t *all = json_object_get(m->state, "clusters");
	json_t *mine = json_object_get(all, cl->name);
	if (!json_is_object(mine)) {
		pthread_mutex_unlock(&m->state_mu);
		return false;
	}
	cl->saved = json_deep_copy(mine);
	pthread_mutex_unlock(&m->state_mu);
	if (!cl->saved || cl->n == 0)
		return false;
	const char *p = json_string_value(json_object_get(cl->saved, "primary"));
	struct hc_mmember *pm = p ? hc_cluster_member(cl, p) : NULL;
	/* A config whose primary changed since the file was written is the
	 * operator's word: it wins, and naming tandem's choice acknowledges
	 * the failover (fences go, as on a reload: failover.md). */
	const char *was = json_string_value(json_object_get(cl->saved, "config_primary"));
	if (was && strcmp(was, cl->members[0].addr.text) != 0) {
		bool ack = pm && pm->idx == 0;
		log_warn(
			"cluster %s: the config's primary changed since the state file was written "
			"(%s, now %s); following the config%s",
			cl->name, was, cl->members[0].addr.text,
			ack ? ", and the former primary's fence is lifted" : "");
		if (ack)
			return true;
		pm = NULL;
	}
	if (pm && (int)pm->idx != cl->primary) {
		log_warn(
			"cluster %s: the state file says tandem chose %s as primary; routing there",
			cl->name, pm->addr.text);
		cl->primary = (int)pm->idx;
	}
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(cl->saved, "fenced"), i, f)
	{
		const char *a = json_string_value(json_object_get(f, "member"));
		struct hc_mmember *mb = a ? hc_cluster_member(cl, a) : NULL;
		if (!mb || (int)mb->idx == cl->primary)
			continue;
		mb->fenced = true;
		mb->diverged = json_is_true(json_object_get(f, "diverged"));
		hc_fmt(mb->fence_reason, "%s",
		       json_string_value(json_object_get(f, "reason"))
			       ? json_string_value(json_object_get(f, "reason"))
			       : "fenced before tandem restarted");
		hc_fmt(mb->fence_applied, "%s",
		       json_string_value(json_object_get(f, "applied"))
			       ? json_string_value(json_object_get(f, "applied"))
			       : "");
		mb->state = HC_FENCED;
		log_warn("cluster %s: %s stays fenced (state file): %s", cl->name, mb->addr.text,
			 mb->fence_reason);
	}
	return true;
}

/* What the file holds for cl now. */
static json_t *cluster_doc(const struct hc_cluster *cl)
{
	json_t *fenced = json_array();
	for (size_t i = 0; i < cl->n; i++) {
		const struct hc_mmember *mb = &cl->members[i];
		if (!mb->fenced)
			continue;
		json_array_append_new(fenced,
				      json_pack("{s:s, s:s, s:b, s:s}", "member", mb->addr.text,
						"reason", mb->fence_reason, "diverged",
						mb->diverged, "applied", mb->fence_applied));
	}
	return json_pack("{s:o, s:o, s:s}", "primary",
			 cl->primary >= 0 ? json_string(cl->members[cl->primary].addr.text)
					  : json_null(),
			 "fenced", fenced, "config_primary", cl->n ? cl->members[0].addr.text : "");
}

/* Write doc to path atomically; 0 or -1 with errno. */
static int write_atomic(const char *path, json_t *doc)
{
	char tmp[4200];
	hc_fmt(tmp, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	size_t len = text ? strlen(text) : 0;
	ssize_t w = text ? write(fd, text, len) : -1;
	bool ok = w == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	int saved = errno;
	free(text);
	if (close(fd) != 0 && ok) {
		saved = errno;
		ok = false;
	}
	if (!ok || rename(tmp, path) != 0) {
		saved = ok ? errno : saved;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	char dir[4200];
	hc_fmt(dir, "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void hc_state_save(struct hc_cluster *cl)
{
	struct hc_monitor *m = cl->mon;
	json_t *doc = cluster_doc(cl);
	if (!doc || (cl->saved && json_equal(cl->saved, doc))) {
		json_decref(doc);
		return;
	}
	json_decref(cl->saved);
	cl->saved = doc;
	if (!m->state_path)
		return;
	pthread_mutex_lock(&m->state_mu);
	json_t *all = json_object_get(m->state, "clusters");
	if (!json_is_object(all)) {
		all = json_object();
		json_object_set_new(m->state, "clusters", all);
	}
	json_object_set(all, cl->name, doc);
	json_object_set_new(m->state, "updated_us", json_integer(clock_wall_us()));
	json_object_set_new(m->state, "version", json_integer(1));
	if (write_atomic(m->state_path, m->state) != 0) {
		char e[200];
		hc_fmt(e, "%s: %s", m->state_path, strerror(errno));
		if (strcmp(e, m->state_error) != 0)
			log_error("monitor: ALERT: cannot write the state file %s; a restart "
				  "would forget fences and the chosen primary",
				  e);
		hc_fmt(m->state_error, "%s", e);
	} else {
		m->state_error[0] = 0;
	}
	pthread_mutex_unlock(&m->state_mu);
}
