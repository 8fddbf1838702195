/*
 * config.h — tandem's configuration as an immutable, reference-counted
 * snapshot.
 *
 * A snapshot is built completely by cfg_load() (parse JSON, validate every
 * field with its JSON path, then build runtime values such as resolved
 * addresses and password digests) and never changes afterwards; threads
 * share it by reference. A reload builds a new snapshot and swaps it in
 * whole, or changes nothing.
 *
 * The types and load.c's functions are here; the other files' functions
 * are in their own headers (errors.h, addr.h, held.h, pattern.h), which
 * this one includes, so a caller needs only this header.
 *
 * Owns: the snapshot's memory, including secrets (wiped on free).
 * Must not: bind sockets or talk to servers (see cfg_check_bindable()).
 */
#ifndef TANDEM_CONFIG_CONFIG_H
#define TANDEM_CONFIG_CONFIG_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/errors.h"

#define CFG_ADDR_TEXT 72
/* Longest tenant or cluster name. */
#define CFG_NAME_MAX 63

struct ssl_ctx_st;  /* OpenSSL's SSL_CTX */
struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

/* A host:port, resolved when the config is loaded. */
struct cfg_addr {
	char text[CFG_ADDR_TEXT]; /* as written in the config, for logs and /status */
	char host[CFG_ADDR_TEXT];
	uint16_t port;
	struct sockaddr_storage sa;
	socklen_t salen;
};

struct cfg_cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address, host bits cleared */
	unsigned prefix;  /* prefix length in bits */
};

struct cfg_user {
	char *name;
	char *password;       /* plaintext, or NULL for hash-only users */
	uint8_t stage2[20];   /* SHA1(SHA1(password)): mysql_native_password hash */
	uint8_t sha2[32];     /* SHA256(SHA256(password)), valid when password != NULL */
	bool old_password;    /* a mysql_old_password account (loaded from the backend) */
	uint32_t old_hash[2]; /* its stored hash; never logged */
};

struct cfg_monitor {
	char *user;
	char *password;
	int interval_ms; /* between probes of one member */
	int timeout_ms;  /* connect/read/write timeout of one probe */
	int failures;    /* consecutive failed probes that make a member DOWN */
	char *heartbeat_schema;
	bool heartbeat;           /* opt-in: write/read the heartbeat table (lag, write probe) */
	int stall_tolerance_ms;   /* a member that only times out is judged after this long */
	int write_timeout_ms;     /* the write probe (or heartbeat write) gets this long */
	int replica_heartbeat_ms; /* MASTER_HEARTBEAT_PERIOD set on replicas; 0: left alone */
};

struct cfg_failover {
	bool auto_failover; /* "auto" */
	bool promote;
	int max_lag_ms;
	int catchup_timeout_ms;
	int min_interval_ms;
	int drain_timeout_ms; /* switchover: wait this long for sessions to leave the old primary */
	int session_wait_ms;  /* a session whose backend is gone waits this long for a primary */
	char *replication_user; /* for turning a former primary into a replica; NULL: monitor's */
	char *replication_password;
	int max_data_loss_ms; /* refuse a failover that would lose more; -1: no limit */
	bool on_write_stall;  /* a primary that cannot commit for stall_tolerance_ms is DOWN */
	bool auto_rejoin;     /* make a returning former primary a replica by itself */
};

/* TLS towards clients, tandem the server: a tenant's "tls" or the top-level
 * default (config/tls.c). */
struct cfg_tls_server {
	struct ssl_ctx_st
		*ctx;       /* certificate, key, client CA; each session's SSL holds a reference */
	bool require;       /* refuse a login that did not start with an SSLRequest */
	bool verify_client; /* "ca" given: clients must present a certificate it signed */
};

/* TLS towards a cluster's servers, tandem the client. The paths are for
 * the monitor's Connector/C probes (MYSQL_OPT_SSL_CA/CERT/KEY and
 * MYSQL_OPT_SSL_VERIFY_SERVER_CERT), which cannot take an SSL_CTX. */
struct cfg_tls_client {
	struct ssl_ctx_st *ctx; /* CA to verify servers with, optional client certificate */
	bool verify_identity;   /* the member's host name or IP must match its certificate */
	char *ca_path;          /* full paths as loaded; NULL when not given (no "ca": */
	char *cert_path;        /*   the system trust store) */
	char *key_path;
};

/* Loading accounts from the cluster (tenants with users_from_backend). */
struct cfg_accounts {
	int refresh_ms;     /* periodic reload of the account list */
	int min_refresh_ms; /* at most one on-demand reload (refused login) per this */
};

struct cfg_cluster {
	char *name;
	struct cfg_addr *members; /* [0] is the configured primary, then replicas */
	size_t nmembers;
	struct cfg_monitor monitor;
	struct cfg_failover failover;
	struct cfg_tls_client *tls; /* NULL: plaintext to the servers */
	struct cfg_accounts accounts;
	bool accounts_used; /* some tenant has users_from_backend on this cluster */
};

struct cfg_tenant {
	char *name;
	struct cfg_addr listen;
	struct cfg_cidr *allow;
	size_t nallow;
	const struct cfg_cluster *cluster; /* points into the same snapshot */
	struct cfg_user *users;
	size_t nusers;
	unsigned max_connections; /* 0 = no per-tenant limit */
	bool local_infile;
	bool transaction_replay;
	bool commit_guard;     /* resolve a commit cut off by a failover from the binlog */
	bool commit_guard_tag; /* ... by a comment tandem adds to each write ("tag") */
	const struct cfg_tls_server *tls; /* own_tls, the top-level default, or NULL (no TLS) */
	struct cfg_tls_server *own_tls;   /* the tenant's own "tls" object, owned */
	bool users_from_backend;          /* accounts of the cluster may log in too */
	char **backend_user_patterns;     /* limit those to names matching one (NULL: all) */
	size_t nbackend_user_patterns;
};

struct cfg_limits {
	uint32_t max_packet;         /* largest logical packet after auth, bytes */
	uint32_t preauth_max_packet; /* largest packet before auth completes */
	int auth_timeout_ms;         /* handshake + auth must finish within */
	int idle_timeout_ms;         /* 0 = sessions may idle forever */
	int connect_timeout_ms;      /* backend connect + auth */
	uint32_t buffer_high;        /* stop reading a side above this many buffered bytes */
	uint32_t buffer_low;         /* resume below this */
	unsigned max_connections;    /* whole process; 0 = no limit */
	unsigned preauth_backends;   /* backend connections held for greetings, whole process */
	int shutdown_timeout_ms;
	int drain_timeout_ms; /* removed tenant's sessions end by then */
	/* failed-login throttle (proxy/login/throttle.c), per (tenant, source address) */
	unsigned max_auth_failures;     /* failed logins that block the address; 0 = off */
	int auth_failure_window_ms;     /* ...counted within this window */
	int auth_block_ms;              /* how long the address stays blocked */
	unsigned auth_throttle_sources; /* addresses tracked at most (memory bound) */
};

/* "coordination": several tandems agree on each cluster's primary through
 * etcd (health/coord.h). enabled false: standalone, as without it. */
struct cfg_coord {
	bool enabled;
	struct cfg_addr *endpoints; /* etcd client URLs as host:port (v3 HTTP/JSON gateway) */
	size_t nendpoints;
	char *prefix;   /* key prefix; each cluster lives under <prefix>/<cluster>/ */
	char *instance; /* this tandem's name in etcd (default <hostname>-<admin port>) */
	int lease_ttl_s;
	int timeout_ms;             /* one etcd request */
	char *user;                 /* etcd authentication, or NULL */
	char *password;             /* wiped on free */
	struct cfg_tls_client *tls; /* https to etcd, or NULL */
};

struct cfg {
	atomic_int refs;
	uint64_t generation; /* set by whoever installs the snapshot */
	char *path;
	char *state_file; /* fences and the chosen primary across restarts; NULL: none */
	struct cfg_addr admin_listen;
	bool admin_enabled;
	char *admin_token; /* bearer token, or NULL */
	int workers;
	int log_level;        /* enum log_level */
	char *server_version; /* version string sent to clients */
	char *run_user;       /* "user": drop root to this account after binding, or NULL */
	struct cfg_limits limits;
	struct cfg_tls_server *tls; /* top-level "tls": the default of every tenant, or NULL */
	/* caching_sha2_password RSA key from "rsa_private_key" (NULL: the key
	 * tandem generated at start-up is used), with its public PEM text. */
	struct evp_pkey_st *rsa_key;
	char *rsa_public_pem;
	size_t rsa_public_pem_len;
	struct cfg_cluster *clusters;
	size_t nclusters;
	struct cfg_tenant *tenants;
	size_t ntenants;
	struct cfg_coord coord;
};


/*
 * Load and validate a config file. Returns a snapshot with one reference,
 * or NULL with every problem in errs (the caller frees errs either way).
 */
struct cfg *cfg_load(const char *path, struct cfg_errors *errs);
struct cfg *cfg_load_string(const char *json, struct cfg_errors *errs);

struct cfg *cfg_ref(struct cfg *c);
/* Drops a reference; the last one frees the snapshot. NULL is a no-op. */
void cfg_unref(struct cfg *c);

const struct cfg_tenant *cfg_tenant_find(const struct cfg *c, const char *name);
const struct cfg_cluster *cfg_cluster_find(const struct cfg *c, const char *name);
const struct cfg_user *cfg_user_find(const struct cfg_tenant *t, const char *name, size_t len);

/* Whether a backend account name may log in through tenant t (users_from_backend
 * on, and the name matches one of its patterns if it has any). */
bool cfg_tenant_backend_user_ok(const struct cfg_tenant *t, const char *name);

/* The rest of config/'s functions, one header per file, included here so
 * that this header stays the folder's one contract for its callers. */
#include "config/addr.h"
#include "config/held.h"
#include "config/pattern.h"

#endif
