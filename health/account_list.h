/*
 * account_list.h — a cluster's database accounts as an immutable,
 * reference-counted list, and the server's rule for which account a login
 * gets (account_list.c). Pure: no I/O, no threads. accounts.h (the
 * loaders) includes it.
 */
#ifndef TANDEM_HEALTH_ACCOUNT_LIST_H
#define TANDEM_HEALTH_ACCOUNT_LIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

enum hc_host_kind {
	HC_HOST_EXACT,   /* no wildcard: an IP (or a name, compared as text) */
	HC_HOST_NETMASK, /* "a.b.c.d/m.m.m.m" or "a.b.c.d/len" */
	HC_HOST_PATTERN, /* '%' / '_' wildcards */
	HC_HOST_ANY,     /* "%" */
	HC_HOST_LOCAL,   /* "localhost": unix socket only, never TCP */
};

struct hc_account {
	char user[81];
	char host[256]; /* as stored, for /status and logs */
	char plugin[64];
	enum hc_host_kind kind;
	unsigned literal_prefix;  /* PATTERN: bytes before the first wildcard */
	struct cfg_cidr net;      /* NETMASK */
	bool usable;              /* mysql_native_password with a valid hash */
	const char *why_unusable; /* static text, when !usable */
	bool empty_password;      /* usable, and the password is empty */
	uint8_t stage2[20];       /* SHA1(SHA1(pw)); never logged */
	bool old_password;        /* usable: a mysql_old_password account */
	uint32_t old_hash[2];     /* its hash; never logged */
};

/* A cluster's accounts, most specific host first (the server's order). */
struct hc_account_list {
	atomic_int refs;
	struct hc_account *items;
	size_t n;
	/* The server resolves names (skip_name_resolve OFF): it names a client
	 * at 127.0.0.1 or ::1 'localhost', in matching and in 1045. */
	bool loopback_localhost;
};

enum hc_match { HC_MATCH_FOUND, HC_MATCH_NO_HOST, HC_MATCH_UNKNOWN_USER };

struct hc_account_list *hc_account_list_ref(struct hc_account_list *l);
void hc_account_list_unref(struct hc_account_list *l);

/* Whether sa is 127.0.0.1 or ::1, the addresses a server that resolves
 * names calls "localhost" without asking DNS. */
bool hc_addr_is_localhost(const struct sockaddr *sa);
/* The account the server would pick for user connecting from sa: the first
 * (most specific) whose host matches. *out is set on HC_MATCH_FOUND. */
enum hc_match hc_account_match(const struct hc_account_list *l, const char *user,
			       const struct sockaddr *sa, const struct hc_account **out);

/* Build a list from rows (user, host, plugin, authentication_string,
 * locked: NULL or "" when not locked);
 * sorted, classified. Exposed for unit tests. */
struct hc_account_list *hc_account_list_build(const char *const (*rows)[5], size_t n);

#endif
