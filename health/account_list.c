/*
 * account_list.c — a cluster's accounts as the server would use them:
 * classify each host pattern, order the list most specific first, and
 * pick the account a client gets. Pure: no sockets, no threads.
 *
 * Host rules (MariaDB's, without DNS look-ups): "%" and "" match any address; '%' and '_' are LIKE
 * wildcards, matched case-insensitively against the client's IP text;
 * "a.b.c.d/m.m.m.m" (and "a.b.c.d/len", as MySQL accepts) match by mask;
 * "localhost" matches a client at 127.0.0.1 or ::1 when the server
 * resolves names (loopback_localhost: skip_name_resolve OFF), the
 * addresses it names "localhost" without asking DNS (sql/hostname.cc,
 * is_ip_loopback), and ranks with the exact hosts as the server sorts it;
 * any other host is compared with the IP text as it is (a host name that
 * needs DNS therefore never matches).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "health/account_list.h"
#include "protocol/auth.h"

#define NATIVE "mysql_native_password"

static bool has_wildcard(const char *h)
{
	for (; *h; h++) {
		if (*h == '\\' && h[1]) {
			h++;
			continue;
		}
		if (*h == '%' || *h == '_')
			return true;
	}
	return false;
}

static unsigned literal_prefix(const char *h)
{
	unsigned n = 0;
	for (; *h && *h != '%' && *h != '_'; h++)
		n++;
	return n;
}

/* "a.b.c.d/m.m.m.m" or "a.b.c.d/len": 0 with the network, or -1. */
static int parse_netmask(const char *host, struct cfg_cidr *out)
{
	const char *slash = strchr(host, '/');
	if (!slash || strchr(slash + 1, '/'))
		return -1;
	char ip[64], mask[64];
	if ((size_t)(slash - host) >= sizeof(ip) || strlen(slash + 1) >= sizeof(mask))
		return -1;
	memcpy(ip, host, (size_t)(slash - host));
	ip[slash - host] = 0;
	snprintf(mask, sizeof(mask), "%s", slash + 1);
	char text[140];
	struct in_addr m;
	if (strchr(mask, '.')) {
		if (inet_pton(AF_INET, mask, &m) != 1)
			return -1;
		uint32_t bits = ntohl(m.s_addr);
		unsigned prefix = 0;
		while (prefix < 32 && (bits & (0x80000000u >> prefix)))
			prefix++;
		if (prefix < 32 && (bits << prefix) != 0)
			return -1; /* not contiguous */
		snprintf(text, sizeof(text), "%s/%u", ip, prefix);
	} else {
		snprintf(text, sizeof(text), "%s/%s", ip, mask);
	}
	return cfg_cidr_parse(text, out);
}

static void classify(struct hc_account *a)
{
	if (strcasecmp(a->host, "localhost") == 0)
		a->kind = HC_HOST_LOCAL;
	else if (a->host[0] == 0 || strcmp(a->host, "%") == 0)
		a->kind = HC_HOST_ANY;
	else if (strchr(a->host, '/')) {
		a->kind = HC_HOST_NETMASK;
		if (parse_netmask(a->host, &a->net) < 0) {
			a->usable = false;
			a->why_unusable = "host is not an IPv4 address/netmask tandem can match";
		}
	} else if (has_wildcard(a->host)) {
		a->kind = HC_HOST_PATTERN;
		a->literal_prefix = literal_prefix(a->host);
	} else {
		a->kind = HC_HOST_EXACT;
	}
}

static void judge_auth(struct hc_account *a, const char *plugin, const char *auth,
		       const char *locked)
{
	a->usable = false;
	if (locked && locked[0]) {
		a->why_unusable = "account is locked";
		return;
	}
	/* mysql_old_password: the hash answers both legs (protocol/auth.h);
	 * the server decides whether it takes it (secure_auth). */
	if (strcmp(plugin, PROTO_PLUGIN_OLD) == 0 || (!plugin[0] && auth && strlen(auth) == 16)) {
		if (auth && auth[0] && proto_old_hash_parse(auth, strlen(auth), a->old_hash) == 0)
			a->usable = a->old_password = true;
		else if (!auth || !auth[0])
			a->usable = a->empty_password = true;
		else
			a->why_unusable = "authentication_string is not an old password hash";
		return;
	}
	if (plugin[0] && strcmp(plugin, NATIVE) != 0) {
		a->why_unusable = "plugin is not mysql_native_password";
		return;
	}
	if (!auth || auth[0] == 0) {
		a->usable = a->empty_password = true;
		return;
	}
	if (proto_native_hash_parse(auth, strlen(auth), a->stage2) != 0) {
		a->why_unusable = "authentication_string is not a native password hash";
		return;
	}
	a->usable = true;
}

static int rank(const struct hc_account *a)
{
	switch (a->kind) {
	case HC_HOST_EXACT:
		return 4;
	case HC_HOST_NETMASK:
		return 3;
	case HC_HOST_PATTERN:
		return 2;
	case HC_HOST_ANY:
		return 1;
	case HC_HOST_LOCAL:
		return 4; /* a name without wildcards: as exact as an address */
	}
	return 0;
}

static int by_specificity(const void *pa, const void *pb)
{
	const struct hc_account *a = pa, *b = pb;
	if (rank(a) != rank(b))
		return rank(b) - rank(a);
	if (a->literal_prefix != b->literal_prefix)
		return a->literal_prefix > b->literal_prefix ? -1 : 1;
	/* the host first, then a named user before the anonymous one: the
	 * server's order (''@localhost wins over u@'%' for a local client) */
	if (!a->user[0] != !b->user[0])
		return a->user[0] ? -1 : 1;
	int c = strcmp(a->user, b->user);
	return c ? c : strcmp(a->host, b->host);
}

struct hc_account_list *hc_account_list_build(const char *const (*rows)[5], size_t n)
{
	struct hc_account_list *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->items = calloc(n + 1, sizeof(*l->items));
	if (!l->items) {
		free(l);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *user = rows[i][0], *host = rows[i][1];
		/* An anonymous account ('') takes any user name: tandem logs in
		 * with the client's, and the server picks the same account. */
		if (!user || !host || strlen(user) >= sizeof(l->items[0].user) ||
		    strlen(host) >= sizeof(l->items[0].host))
			continue;
		struct hc_account *a = &l->items[l->n++];
		snprintf(a->user, sizeof(a->user), "%s", user);
		snprintf(a->host, sizeof(a->host), "%s", host);
		snprintf(a->plugin, sizeof(a->plugin), "%s", rows[i][2] ? rows[i][2] : "");
		judge_auth(a, a->plugin, rows[i][3], rows[i][4]);
		classify(a);
	}
	qsort(l->items, l->n, sizeof(*l->items), by_specificity);
	return l;
}

struct hc_account_list *hc_account_list_ref(struct hc_account_list *l)
{
	if (l)
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
	return l;
}

void hc_account_list_unref(struct hc_account_list *l)
{
	if (!l || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	proto_wipe(l->items, sizeof(*l->items) * l->n);
	free(l->items);
	free(l);
}

/* The client's address as the server writes it: dotted IPv4 (also for an
 * IPv4-mapped IPv6 peer), else IPv6 text. */
static void ip_text(const struct sockaddr *sa, char *out, size_t len)
{
	out[0] = 0;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)len);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)len);
		else
			inet_ntop(AF_INET6, a6, out, (socklen_t)len);
	}
}

bool hc_addr_is_localhost(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) == INADDR_LOOPBACK;
	if (sa->sa_family != AF_INET6)
		return false;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_LOOPBACK(a6))
		return true;
	static const uint8_t v4_loopback[4] = {127, 0, 0, 1};
	return IN6_IS_ADDR_V4MAPPED(a6) && memcmp(&a6->s6_addr[12], v4_loopback, 4) == 0;
}

static bool host_matches(const struct hc_account_list *l, const struct hc_account *a,
			 const struct sockaddr *sa, const char *ip)
{
	switch (a->kind) {
	case HC_HOST_ANY:
		return true;
	case HC_HOST_LOCAL:
		return l->loopback_localhost && hc_addr_is_localhost(sa);
	case HC_HOST_EXACT:
		return strcasecmp(a->host, ip) == 0;
	case HC_HOST_NETMASK:
		return a->why_unusable == NULL && cfg_cidr_match(&a->net, sa);
	case HC_HOST_PATTERN:
		return cfg_like_match(a->host, ip, true);
	}
	return false;
}

enum hc_match hc_account_match(const struct hc_account_list *l, const char *user,
			       const struct sockaddr *sa, const struct hc_account **out)
{
	char ip[INET6_ADDRSTRLEN];
	ip_text(sa, ip, sizeof(ip));
	bool known = false;
	for (size_t i = 0; l && i < l->n; i++) {
		const struct hc_account *a = &l->items[i];
		if (a->user[0] && strcmp(a->user, user) != 0)
			continue;
		if (a->user[0])
			known = true;
		if (host_matches(l, a, sa, ip)) {
			*out = a;
			return HC_MATCH_FOUND;
		}
	}
	/* (a name that only an anonymous account would take, from elsewhere,
	 * is unknown: a reload may bring its own account) */
	return known ? HC_MATCH_NO_HOST : HC_MATCH_UNKNOWN_USER;
}
