/*
 * coord_rec.c — the coordination record and observation formats (see
 * coord.h): pure functions over bytes that came from etcd, so they are
 * fuzzed (tests/fuzz/fuzz_etcd.c) and unit-tested apart from the thread.
 *
 * Owns: the JSON of P/record, P/history/<epoch> and P/obs/<instance>.
 * Must not: do I/O, take locks, read clocks.
 */
#include "health/coord_rec.h"

#include <stdlib.h>
#include <string.h>

#include "health/text.h"

static void copy_str(json_t *o, const char *key, char *dst, size_t n)
{
	json_t *v = json_object_get(o, key);
	hc_copy(dst, n, json_is_string(v) ? json_string_value(v) : "");
}

int coord_rec_parse(const char *buf, size_t len, struct coord_rec *r)
{
	memset(r, 0, sizeof(*r));
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	json_t *e = json_object_get(o, "epoch");
	json_t *f = json_object_get(o, "fenced");
	int rc = -1;
	if (json_is_integer(e) && json_integer_value(e) > 0 &&
	    json_is_string(json_object_get(o, "primary")) && (!f || json_is_array(f))) {
		r->epoch = (uint64_t)json_integer_value(e);
		copy_str(o, "kind", r->kind, sizeof(r->kind));
		copy_str(o, "state", r->state, sizeof(r->state));
		copy_str(o, "primary", r->primary, sizeof(r->primary));
		copy_str(o, "from", r->from, sizeof(r->from));
		copy_str(o, "reason", r->reason, sizeof(r->reason));
		copy_str(o, "by", r->by, sizeof(r->by));
		json_t *t = json_object_get(o, "at_us");
		r->at_us = json_is_integer(t) ? json_integer_value(t) : 0;
		json_t *l = json_object_get(o, "lease");
		r->lease = json_is_integer(l) ? json_integer_value(l) : 0;
		size_t i;
		json_t *v;
		rc = 0;
		json_array_foreach(f, i, v)
		{
			if (!json_is_string(v) || r->nfenced >= COORD_FENCED_MAX) {
				rc = -1;
				break;
			}
			hc_copy(r->fenced[r->nfenced++], CFG_ADDR_TEXT, json_string_value(v));
		}
		if (strcmp(r->state, "acting") != 0 && strcmp(r->state, "done") != 0)
			rc = -1;
	}
	json_decref(o);
	if (rc < 0)
		memset(r, 0, sizeof(*r));
	return rc;
}

json_t *coord_rec_json(const struct coord_rec *r)
{
	json_t *f = json_array();
	for (size_t i = 0; i < r->nfenced; i++)
		json_array_append_new(f, json_string(r->fenced[i]));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:s, s:I}", "epoch",
			 (json_int_t)r->epoch, "kind", r->kind, "state", r->state, "primary",
			 r->primary, "from", r->from, "fenced", f, "reason", r->reason, "at_us",
			 (json_int_t)r->at_us, "by", r->by, "lease", (json_int_t)r->lease);
}

char *coord_rec_text(const struct coord_rec *r)
{
	json_t *o = coord_rec_json(r);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return s;
}

int coord_obs_member_up(const char *buf, size_t len, const char *addr)
{
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *m = json_object_get(o, "members");
	json_t *v = json_is_object(m) ? json_object_get(m, addr) : NULL;
	int rc = -1;
	if (json_is_string(v))
		rc = strcmp(json_string_value(v), "up") == 0 ? 1 : 0;
	json_decref(o);
	return rc;
}

uint64_t coord_obs_epoch(const char *buf, size_t len)
{
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *e = json_object_get(o, "epoch");
	uint64_t v = json_is_integer(e) && json_integer_value(e) > 0
			     ? (uint64_t)json_integer_value(e)
			     : 0;
	json_decref(o);
	return v;
}

bool coord_rec_fences(const struct coord_rec *r, const char *addr)
{
	for (size_t i = 0; i < r->nfenced; i++)
		if (strcmp(r->fenced[i], addr) == 0)
			return true;
	return false;
}
