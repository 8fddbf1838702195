/*
 * gtid.c — GTID position arithmetic (see gtid.h).
 */
#include "health/gtid.h"

#include <stdio.h>
#include <string.h>

#include "health/text.h"

static bool space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* One decimal number of at most max; advances *i. */
static bool number(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
	size_t start = *i;
	uint64_t v = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		uint64_t d = (uint64_t)(s[*i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		(*i)++;
	}
	*out = v;
	return *i > start && *i - start <= 20;
}

int hc_gtid_parse(const char *text, size_t len, struct hc_gtid_pos *out)
{
	out->n = 0;
	size_t i = 0;
	for (;;) {
		while (i < len && space(text[i]))
			i++;
		if (i == len && out->n == 0)
			return 0;
		uint64_t d, s, q;
		if (!number(text, len, &i, UINT32_MAX, &d) || i >= len || text[i++] != '-' ||
		    !number(text, len, &i, UINT32_MAX, &s) || i >= len || text[i++] != '-' ||
		    !number(text, len, &i, UINT64_MAX, &q))
			goto bad;
		if (out->n == HC_GTID_MAX || hc_gtid_find(out, (uint32_t)d))
			goto bad;
		out->g[out->n++] = (struct hc_gtid){(uint32_t)d, (uint32_t)s, q};
		while (i < len && space(text[i]))
			i++;
		if (i == len)
			return 0;
		if (text[i++] != ',')
			goto bad;
	}
bad:
	out->n = 0;
	return -1;
}

const struct hc_gtid *hc_gtid_find(const struct hc_gtid_pos *p, uint32_t domain)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->g[i].domain == domain)
			return &p->g[i];
	return NULL;
}

static void append(char *out, size_t len, const struct hc_gtid *g)
{
	size_t used = strlen(out);
	if (used + 1 >= len)
		return;
	hc_fmtn(out + used, len - used, "%s%u-%u-%llu", used ? "," : "", (unsigned)g->domain,
		(unsigned)g->server, (unsigned long long)g->seq);
}

size_t hc_gtid_missing(const struct hc_gtid_pos *have, const struct hc_gtid_pos *want, char *out,
		       size_t len)
{
	size_t count = 0;
	if (len)
		out[0] = 0;
	for (size_t i = 0; i < want->n; i++) {
		const struct hc_gtid *h = hc_gtid_find(have, want->g[i].domain);
		if (h && h->seq >= want->g[i].seq)
			continue;
		count++;
		if (len)
			append(out, len, &want->g[i]);
	}
	return count;
}

enum hc_rejoin_verdict hc_gtid_rejoin_check(const struct hc_gtid_pos *old,
					    const struct hc_gtid_pos *cur,
					    const struct hc_gtid_pos *applied, char *why,
					    size_t whylen)
{
	enum hc_rejoin_verdict v = HC_REJOIN_OK;
	if (whylen)
		why[0] = 0;
	for (size_t i = 0; i < old->n; i++) {
		const struct hc_gtid *o = &old->g[i];
		const struct hc_gtid *c = hc_gtid_find(cur, o->domain);
		const struct hc_gtid *a = applied ? hc_gtid_find(applied, o->domain) : NULL;
		const char *problem = NULL;
		if (!c)
			problem = "the new primary has nothing in that domain";
		else if (c->server == o->server)
			problem = c->seq >= o->seq ? NULL : "the new primary has not got it";
		else if (a && a->seq < o->seq)
			problem = "the new primary had not received it when it was promoted";
		else if (a && a->server == o->server)
			problem = NULL; /* it had it, then wrote its own */
		else if (c->seq < o->seq)
			problem = "the new primary's sequence is behind it";
		else
			v = HC_REJOIN_UNSURE;
		if (problem) {
			if (whylen)
				hc_fmtn(why, whylen, "it holds %u-%u-%llu: %s", (unsigned)o->domain,
					(unsigned)o->server, (unsigned long long)o->seq, problem);
			return HC_REJOIN_DIVERGED;
		}
	}
	return v;
}
