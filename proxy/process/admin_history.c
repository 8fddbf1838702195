/*
 * admin_history.c — the failover history the admin API shows: sampled
 * from the monitor on the main thread (see process.h).
 */
#include "proxy/process/process.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "health/monitor.h"
#include "proxy/process/daemon_types.h"

#define HISTORY_POLL_MS 1000

struct admin_history {
	struct daemon *d;
	struct event *timer;
	json_t *events; /* array, newest first; each with "cluster" */
};

static bool seen(const json_t *events, const char *cluster, const json_t *ev)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	json_int_t at = json_integer_value(json_object_get(ev, "at_us"));
	for (size_t i = 0; i < json_array_size(events); i++) {
		json_t *e = json_array_get(events, i);
		if (json_integer_value(json_object_get(e, "at_us")) == at &&
		    strcmp(json_string_value(json_object_get(e, "cluster")), cluster) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "kind")), kind ? kind : "") == 0)
			return true;
	}
	return false;
}

static void history_sample(struct admin_history *h)
{
	json_t *clusters = hc_monitor_status_json(h->d->mon);
	const char *name;
	json_t *cl;
	json_t *fresh = json_array();
	json_object_foreach(clusters, name, cl)
	{
		json_t *evs[2] = {json_object_get(json_object_get(cl, "failover"), "last"),
				  json_object_get(json_object_get(cl, "switchover"), "last")};
		for (int i = 0; i < 2; i++) {
			if (!json_is_object(evs[i]) || seen(h->events, name, evs[i]))
				continue;
			json_t *e = json_deep_copy(evs[i]);
			json_object_set_new(e, "cluster", json_string(name));
			json_array_append_new(fresh, e);
		}
	}
	json_decref(clusters);
	/* Within one sample, older events go in first so the array stays
	 * newest first. */
	while (json_array_size(fresh)) {
		size_t oldest = 0;
		for (size_t i = 1; i < json_array_size(fresh); i++)
			if (json_integer_value(json_object_get(json_array_get(fresh, i), "at_us")) <
			    json_integer_value(
				    json_object_get(json_array_get(fresh, oldest), "at_us")))
				oldest = i;
		json_array_insert(h->events, 0, json_array_get(fresh, oldest));
		json_array_remove(fresh, oldest);
	}
	json_decref(fresh);
	while (json_array_size(h->events) > ADMIN_HISTORY_MAX)
		json_array_remove(h->events, json_array_size(h->events) - 1);
}

static void on_history_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	history_sample(arg);
}

struct admin_history *admin_history_start(struct daemon *d)
{
	struct admin_history *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->d = d;
	h->events = json_array();
	h->timer = event_new(d->base, -1, EV_PERSIST, on_history_timer, h);
	struct timeval tv = {HISTORY_POLL_MS / 1000, (HISTORY_POLL_MS % 1000) * 1000};
	if (h->timer)
		event_add(h->timer, &tv);
	return h;
}

void admin_history_stop(struct admin_history *h)
{
	if (!h)
		return;
	if (h->timer)
		event_free(h->timer);
	json_decref(h->events);
	free(h);
}

json_t *admin_history_json(struct daemon *d, const char *cluster)
{
	struct admin_history *h = d->history;
	json_t *out = json_array();
	if (!h)
		return json_pack("{s:o}", "events", out);
	history_sample(h);
	for (size_t i = 0; i < json_array_size(h->events); i++) {
		json_t *e = json_array_get(h->events, i);
		if (!cluster ||
		    strcmp(json_string_value(json_object_get(e, "cluster")), cluster) == 0)
			json_array_append(out, e);
	}
	return json_pack("{s:o, s:i}", "events", out, "kept", ADMIN_HISTORY_MAX);
}
