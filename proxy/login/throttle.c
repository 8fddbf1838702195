/*
 * throttle.c — the failed-login throttle (see login.h).
 *
 * A chained hash table of (tenant, address) entries, plus two recency
 * lists: entries that are blocked, and entries that are only counting.
 * Eviction takes the least recently failed counting entry first, and a
 * blocked one only when no counting entry is left, both in O(1). The
 * bucket array doubles when chains grow past two entries on average.
 */
#include "proxy/login/login.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define THR_TENANT_MAX  64 /* tenant names are at most CFG_NAME_MAX (63) bytes */
#define THR_MIN_BUCKETS 256
#define THR_MAX_BUCKETS (1u << 20)

struct thr_entry {
	struct thr_entry *hnext;       /* bucket chain */
	struct thr_entry *prev, *next; /* in its list, most recently failed first */
	uint64_t hash;
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 or 16 bytes used */
	char tenant[THR_TENANT_MAX];
	unsigned failures; /* in the window that began at window_start_us */
	int64_t window_start_us;
	int64_t blocked_until_us; /* 0: not blocked (on the counting list) */
};

struct thr_list {
	struct thr_entry *head, *tail;
};

struct throttle {
	pthread_mutex_t mu;
	struct thr_entry **buckets;
	size_t nbuckets; /* a power of two */
	atomic_size_t n; /* entries; read without the lock as a hint */
	struct thr_list counting;
	struct thr_list blocked;
};

/* The table's key of one source address: IPv4-mapped IPv6 folds to IPv4. */
struct thr_key {
	int family;
	uint8_t addr[16];
	size_t alen;
	const char *tenant;
	uint64_t hash;
};

static bool make_key(const struct sockaddr *sa, const char *tenant, struct thr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		k->family = AF_INET;
		memcpy(k->addr, &in->sin_addr, 4);
		k->alen = 4;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			k->family = AF_INET;
			memcpy(k->addr, in6->sin6_addr.s6_addr + 12, 4);
			k->alen = 4;
		} else {
			k->family = AF_INET6;
			memcpy(k->addr, &in6->sin6_addr, 16);
			k->alen = 16;
		}
	} else {
		return false;
	}
	k->tenant = tenant;
	/* FNV-1a over family, address and tenant name */
	uint64_t h = 1469598103934665603ULL;
	h = (h ^ (uint64_t)k->family) * 1099511628211ULL;
	for (size_t i = 0; i < k->alen; i++)
		h = (h ^ k->addr[i]) * 1099511628211ULL;
	for (const char *p = tenant; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	k->hash = h;
	return true;
}

static bool key_matches(const struct thr_entry *e, const struct thr_key *k)
{
	return e->hash == k->hash && e->family == k->family &&
	       memcmp(e->addr, k->addr, k->alen) == 0 && strcmp(e->tenant, k->tenant) == 0;
}

/* ----------------------------------------------------------- lists */

static void list_unlink(struct thr_list *l, struct thr_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push_front(struct thr_list *l, struct thr_entry *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	else
		l->tail = e;
	l->head = e;
}

static struct thr_list *list_of(struct throttle *t, const struct thr_entry *e)
{
	return e->blocked_until_us ? &t->blocked : &t->counting;
}

/* ----------------------------------------------------------- table */

static struct thr_entry **slot(struct throttle *t, uint64_t hash)
{
	return &t->buckets[hash & (t->nbuckets - 1)];
}

static struct thr_entry *lookup(struct throttle *t, const struct thr_key *k)
{
	if (!t->buckets)
		return NULL;
	for (struct thr_entry *e = *slot(t, k->hash); e; e = e->hnext)
		if (key_matches(e, k))
			return e;
	return NULL;
}

static void remove_entry(struct throttle *t, struct thr_entry *e)
{
	for (struct thr_entry **pp = slot(t, e->hash); *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	list_unlink(list_of(t, e), e);
	atomic_fetch_sub_explicit(&t->n, 1, memory_order_relaxed);
	free(e);
}

/* Double the bucket array when chains average more than two entries.
 * Failure to grow is harmless: chains just get longer. */
static void maybe_grow(struct throttle *t)
{
	size_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
	if (t->buckets && (n < t->nbuckets * 2 || t->nbuckets >= THR_MAX_BUCKETS))
		return;
	size_t nb = t->buckets ? t->nbuckets * 2 : THR_MIN_BUCKETS;
	struct thr_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
		struct thr_entry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

/* Make room for one more entry within max_sources. */
static void evict_for_one(struct throttle *t, size_t max_sources)
{
	while (atomic_load_explicit(&t->n, memory_order_relaxed) >= max_sources) {
		struct thr_entry *victim = t->counting.tail ? t->counting.tail : t->blocked.tail;
		if (!victim)
			return;
		remove_entry(t, victim);
	}
}

static struct thr_entry *insert(struct throttle *t, const struct thr_key *k, size_t max_sources)
{
	evict_for_one(t, max_sources ? max_sources : 1);
	maybe_grow(t);
	if (!t->buckets)
		return NULL;
	struct thr_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->hash = k->hash;
	e->family = k->family;
	memcpy(e->addr, k->addr, k->alen);
	size_t tl = strlen(k->tenant);
	if (tl >= sizeof(e->tenant))
		tl = sizeof(e->tenant) - 1;
	memcpy(e->tenant, k->tenant, tl);
	struct thr_entry **s = slot(t, k->hash);
	e->hnext = *s;
	*s = e;
	list_push_front(&t->counting, e);
	atomic_fetch_add_explicit(&t->n, 1, memory_order_relaxed);
	return e;
}

/* An expired block is lifted: the entry counts afresh. */
static void lift_if_expired(struct throttle *t, struct thr_entry *e, int64_t now_us)
{
	if (e->blocked_until_us && e->blocked_until_us <= now_us) {
		list_unlink(&t->blocked, e);
		e->blocked_until_us = 0;
		e->failures = 0;
		e->window_start_us = now_us;
		list_push_front(&t->counting, e);
	}
}

/* ----------------------------------------------------------- API */

struct throttle *throttle_new(void)
{
	struct throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	atomic_init(&t->n, 0);
	return t;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
		struct thr_entry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

bool throttle_blocked(struct throttle *t, const struct throttle_limits *l, const char *tenant,
		      const struct sockaddr *sa, int64_t now_us, int64_t *left_us)
{
	struct thr_key k;
	if (!t || l->max_failures == 0 || atomic_load_explicit(&t->n, memory_order_relaxed) == 0 ||
	    !make_key(sa, tenant, &k))
		return false;
	bool blocked = false;
	pthread_mutex_lock(&t->mu);
	struct thr_entry *e = lookup(t, &k);
	if (e) {
		lift_if_expired(t, e, now_us);
		blocked = e->blocked_until_us != 0;
		if (blocked && left_us)
			*left_us = e->blocked_until_us - now_us;
	}
	pthread_mutex_unlock(&t->mu);
	return blocked;
}

bool throttle_failed(struct throttle *t, const struct throttle_limits *l, const char *tenant,
		     const struct sockaddr *sa, int64_t now_us, unsigned *failures)
{
	struct thr_key k;
	if (failures)
		*failures = 0;
	if (!t || l->max_failures == 0 || !make_key(sa, tenant, &k))
		return false;
	bool now_blocked = false;
	pthread_mutex_lock(&t->mu);
	struct thr_entry *e = lookup(t, &k);
	if (!e) {
		e = insert(t, &k, l->max_sources);
		if (e)
			e->window_start_us = now_us;
	}
	if (e) {
		lift_if_expired(t, e, now_us);
		if (!e->blocked_until_us) {
			/* a login already under way when the block began adds nothing */
			if (now_us - e->window_start_us >= l->window_us) {
				e->failures = 0;
				e->window_start_us = now_us;
			}
			e->failures++;
			list_unlink(&t->counting, e);
			if (e->failures >= l->max_failures) {
				e->blocked_until_us = now_us + (l->block_us > 0 ? l->block_us : 1);
				list_push_front(&t->blocked, e);
				now_blocked = true;
			} else {
				list_push_front(&t->counting, e);
			}
		}
		if (failures)
			*failures = e->failures;
	}
	pthread_mutex_unlock(&t->mu);
	return now_blocked;
}

void throttle_succeeded(struct throttle *t, const char *tenant, const struct sockaddr *sa)
{
	struct thr_key k;
	if (!t || atomic_load_explicit(&t->n, memory_order_relaxed) == 0 ||
	    !make_key(sa, tenant, &k))
		return;
	pthread_mutex_lock(&t->mu);
	struct thr_entry *e = lookup(t, &k);
	if (e)
		remove_entry(t, e);
	pthread_mutex_unlock(&t->mu);
}

size_t throttle_nblocked(struct throttle *t, int64_t now_us)
{
	if (!t)
		return 0;
	size_t n = 0;
	pthread_mutex_lock(&t->mu);
	for (struct thr_entry *e = t->blocked.head; e; e = e->next)
		if (e->blocked_until_us > now_us)
			n++;
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t throttle_nentries(struct throttle *t)
{
	return t ? atomic_load_explicit(&t->n, memory_order_relaxed) : 0;
}
