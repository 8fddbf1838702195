/*
 * accounts.h — users_from_backend: the database accounts of a cluster,
 * loaded from its primary with the monitor user, as immutable
 * reference-counted lists that client logins consult.
 *
 * One loader thread per cluster that some tenant reads accounts from
 * (blocking Connector/C with the monitor's timeouts). It reloads the list
 * every accounts.refresh_ms, and sooner when a login names an unknown user
 * or a password the list does not match (at most once per
 * accounts.min_refresh_ms; such a login waits for that load, see
 * hc_accounts_reload). A failed load keeps the last
 * good list. Only mysql_native_password accounts can be used: tandem must
 * recover SHA1(password) from the client's reply to log in to the backend;
 * the others are listed (not their hashes) in /status.
 *
 * Must not: touch sessions, or depend on the monitor's internals.
 */
#ifndef TANDEM_HEALTH_ACCOUNTS_H
#define TANDEM_HEALTH_ACCOUNTS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

struct evbuffer;
struct hc_accounts;

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

/* Start loaders for the clusters that need them. NULL on failure. */
struct hc_accounts *hc_accounts_start(const struct cfg *cfg);
/* Loaders for a reloaded config: new clusters start, unused ones stop,
 * changed settings (members, monitor credentials, intervals) apply at the
 * next load. Main thread. */
void hc_accounts_reconfigure(struct hc_accounts *a, const struct cfg *cfg);
/* Stop and free. NULL is a no-op. */
void hc_accounts_stop(struct hc_accounts *a);

/* The cluster's current list with a reference (NULL: none loaded yet).
 * Any thread. */
struct hc_account_list *hc_accounts_get(struct hc_accounts *a, const char *cluster);
/* Ask for a reload soon (an unknown user tried to log in); rate limited. */
void hc_accounts_request_refresh(struct hc_accounts *a, const char *cluster);

/* A login the current list refuses (unknown user, other password): ask
 * for a load that starts after this call, and get its ticket (0: no loader
 * for the cluster). Requests made before a load starts share it; loads
 * still keep accounts.min_refresh_ms apart. Any thread; never blocks. */
uint64_t hc_accounts_reload(struct hc_accounts *a, const char *cluster);
/* Whether the load of that ticket has finished (well or not). */
bool hc_accounts_reloaded(struct hc_accounts *a, const char *cluster, uint64_t ticket);

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

/* /status "accounts" object and /metrics lines. */
json_t *hc_accounts_status_json(struct hc_accounts *a);
void hc_accounts_metrics(struct hc_accounts *a, struct evbuffer *out);

#endif
