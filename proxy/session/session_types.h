/*
 * session_types.h — the types of a session: its state enum, the
 * conditions that can hold in any state, and struct session itself, which
 * embeds each phase's own struct. Types only: no function is declared
 * here, so every phase and the driver can include it without an include
 * circle.
 *
 * A session's life is the enum below; sess_set_state() (session.h) is the
 * only place the state changes; machine.c says what each state does.
 */
#ifndef TANDEM_PROXY_SESSION_TYPES_H
#define TANDEM_PROXY_SESSION_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "protocol/handshake.h"
#include "protocol/packet.h"
#include "protocol/tracker.h"
#include "proxy/move/commit_guard_types.h"
#include "proxy/io/io_types.h"
#include "proxy/move/migrate_types.h"
#include "proxy/session/own_types.h"
#include "proxy/move/replay_types.h"
#include "proxy/session/session_facts_types.h"

struct worker;
struct wtenant;
struct hc_gate;
struct hc_topology;

/*
 * States, named for what the session waits on. Valid pointers per state:
 *   client: open in every state but CLOSED.
 *   backend: open from BACKEND_CONNECT to CLOSING (may be closed in CLOSING);
 *     closed in BACKEND_WAIT, and in IDLE once SESS_F_BACKEND_GONE is set.
 *   gate: set while counted in at a member (BACKEND_CONNECT on, until close).
 *   user (matched account): set from CLIENT_AUTH on.
 *   client.tls: set from CLIENT_TLS on when the client asked for TLS;
 *   backend.tls: set from BACKEND_TLS on when the cluster has "tls".
 * The BACKEND_* states serve the first login and also a move to a new
 * backend (mg.active, migrate.c); RESTORE serves only a move.
 */
enum sess_state {
	SESS_GREETING_WANTED,  /* transient: the client is owed its greeting; the enter sends it
				* (the held primary's, the last one known, or tandem's) */
	SESS_CLIENT_HANDSHAKE, /* greeting sent; waiting for SSLRequest / HandshakeResponse41 */
	SESS_CLIENT_TLS,       /* SSLRequest read; TLS handshake with the client running */
	SESS_CLIENT_AUTH, /* auth switch / AuthMoreData sent; waiting for the client's auth data */
	SESS_BACKEND_WANTED,    /* transient: a backend connection is wanted; the driver's enter
			      * picks the primary (never outlives one mach_settle) */
	SESS_BACKEND_WAIT,      /* no usable primary right now (failover, switchover, refused
				* connect): waiting for the next topology, until backend_deadline_us */
	SESS_BACKEND_CONNECT,   /* TCP connect to the primary in progress */
	SESS_BACKEND_HANDSHAKE, /* waiting for the backend's greeting */
	SESS_BACKEND_TLS,       /* SSLRequest sent; TLS handshake with the backend running */
	SESS_BACKEND_AUTH,      /* login sent; waiting for OK / ERR / auth switch */
	SESS_IDLE,              /* waiting for the client's next command */
	SESS_CHANGE_USER_START, /* transient: a whole COM_CHANGE_USER heads client.in; the enter
				 * (change_user.c) reads it */
	SESS_CHANGE_USER_AUTH, /* COM_CHANGE_USER read; waiting for more of the client's auth data */
	SESS_CHANGE_USER_WANTED,  /* transient: the client side is verified; the enter sends the
				  * backend its COM_CHANGE_USER */
	SESS_CHANGE_USER_DENIED,  /* transient: the client side refused the new user (cu_denied);
				  * the enter answers and goes back to the previous user */
	SESS_CHANGE_USER_BACKEND, /* COM_CHANGE_USER sent to the backend; waiting for OK / ERR */
	SESS_COMMAND,             /* streaming a large client command to the backend */
	SESS_RESULT,              /* waiting for / forwarding the backend's response */
	SESS_LOCAL_INFILE,        /* forwarding the client's LOCAL INFILE data */
	SESS_RESTORE,             /* moved to a new backend (entered from BACKEND_AUTH): the enter
				* sends tandem's restore statements (tracking, schema, variables,
				* re-prepares); waiting for their answers */
	SESS_CLOSING,             /* last bytes (an ERR) flushing to the client */
	SESS_CLOSED,              /* queued for the reaper; nothing may touch it */
	SESS_NSTATES
};

/* Where the client's login conversation stands (SESS_CLIENT_AUTH and
 * SESS_CHANGE_USER_AUTH): what tandem asked for last. */
enum sess_auth_step {
	SESS_AUTH_NATIVE_SWITCH, /* auth switch to mysql_native_password sent: 20-byte reply next */
	SESS_AUTH_SHA2_SWITCH, /* auth switch to caching_sha2 sent: fast reply (or password) next */
	SESS_AUTH_SHA2_FULL, /* caching_sha2 0x04 sent: password (TLS), key request or RSA blob next */
	SESS_AUTH_SHA2_RSA,   /* public key sent: RSA blob next */
	SESS_AUTH_OLD_SWITCH, /* auth switch to mysql_old_password sent: 8-byte reply next */
};

/* Conditions that can hold in any state. */
enum sess_flag {
	SESS_F_IN_TRANS = 1 << 0,     /* last status had SERVER_STATUS_IN_TRANS */
	SESS_F_AUTOCOMMIT = 1 << 1,   /* last status had SERVER_STATUS_AUTOCOMMIT */
	SESS_F_DRAINING = 1 << 2,     /* close when next idle (shutdown / tenant removed) */
	SESS_F_COUNTED = 1 << 3,      /* counted in the tenant's open sessions */
	SESS_F_BACKEND_GONE = 1 << 4, /* idle, but its backend is closed or no longer the
					* primary: the next command gets an ERR (code in
					* gone_code, text in why) and the session closes */
	SESS_F_VERDICT_WAIT = 1 << 5, /* its backend closed without an ERR while the member is
					* the primary: waiting (backend closed, client not
					* read) for the monitor's fresh verdict on it
					* (verdict_seq); alive: the client is closed as the
					* server did; dead: the session moves */
};

/* The legs a state can wait on (machine.h, mach_state.waits), and the
 * source of news handed to a state's event handler. */
enum mach_leg {
	MACH_CLIENT = 1 << 0,   /* bytes or an event on the client connection */
	MACH_BACKEND = 1 << 1,  /* bytes or an event on the backend connection */
	MACH_TIMER = 1 << 2,    /* the session timer */
	MACH_LOOKUP = 1 << 3,   /* the commit guard's binlog lookup answered */
	MACH_ACCOUNTS = 1 << 4, /* acct_timer: time to look whether the accounts reloaded */
};

/* What the worker lends each of its sessions (set up once in worker.c):
 * a session reaches its thread's loop and the process's shared services
 * through it, never through the worker or the daemon. */
struct sess_env {
	struct event_base *base;      /* the worker's loop */
	struct conn_pool *read_pool;  /* blocks its connections read into */
	struct hc_monitor *mon;       /* NULL without clusters */
	struct hc_accounts *accounts; /* users_from_backend loaders */
	struct throttle *throttle;    /* failed logins per source */
	atomic_uint *open_sessions;   /* the whole process's, for max_connections */
};

struct session {
	enum sess_state state;
	bool moved; /* a state was entered since the driver last settled (machine.c) */
	unsigned flags;
	uint64_t id;                 /* unique in the process, for logs */
	struct worker *w;            /* its worker (sess_env.c and the driver only) */
	const struct sess_env *env;  /* lent by the worker: &w->env */
	struct wtenant *wt;          /* the tenant whose port accepted it */
	struct session *prev, *next; /* worker's session list */
	struct session *reap_next;   /* worker's reap list, once SESS_CLOSED */
	/* lent by the driver at accept (machine.c): the backend connection's
	 * callbacks, and where news from outside the connections goes */
	const struct conn_cbs *backend_cbs;
	void (*news)(struct session *s, unsigned leg);

	struct conn client;
	struct conn backend;
	struct event timer; /* auth timeout, connect timeout, idle timeout, close linger */

	struct sockaddr_storage peer;
	char peer_text[64]; /* "ip:port" of the client, for logs */

	/* connection phase */
	bool pre_greeting;        /* the client has no greeting yet: the BACKEND_* states serve
				 * the greeting (client_auth.c sends the primary's) */
	bool backend_held;        /* the greeting's backend connection is open, greeted, and
				 * waits for the client's login (CLIENT_* states) */
	uint32_t greeting_id;     /* connection id the client was given (KILL translation) */
	uint32_t backend_conn_id; /* the current backend connection's id (its greeting) */
	uint64_t greeting_caps;   /* capabilities tandem's greeting offered the client */
	bool greeting_sha2;       /* the greeting named caching_sha2_password (else native) */
	struct session *ids_next; /* conn_ids.c's table (guarded by its mutex) */
	bool ids_in;              /* registered in conn_ids.c's table */
	uint32_t ids_cluster;     /* conn_ids.c: hash of the cluster's name */
	bool preauth_counted;     /* counted in the process's pre-login backend connections */
	bool server_reset;        /* SESS_F_VERDICT_WAIT: the server reset (not closed) it */
	uint64_t acct_ticket;     /* accounts reload this login waits for (0: none) */
	int64_t acct_until_us;    /* monotonic: the wait gives up then */
	struct event acct_timer;  /* polls for that reload */
	uint8_t acct_reply[PROTO_SCRAMBLE_LEN]; /* the native reply kept for that check;
						 * never logged, wiped after use */
	uint8_t acct_reply_len;
	bool acct_switch_pending; /* COM_CHANGE_USER to an unknown user: the switch (native
				   * or old password) is chosen once the accounts reloaded */
	bool acct_first_native;   /* ... and its first data was for mysql_native_password */
	uint8_t scramble[PROTO_SCRAMBLE_LEN]; /* what tandem sent the client */
	uint64_t client_caps;                 /* negotiated with the client */
	uint64_t backend_caps;                /* negotiated with the backend */
	uint8_t client_seq;  /* next sequence id towards the client in the auth phase */
	uint8_t backend_seq; /* next sequence id towards the backend in the auth phase */
	uint16_t charset;    /* collation id: 1 byte at login, 2 in COM_CHANGE_USER */
	char user[81];
	char db[257]; /* bytes: a 64-character name in utf8mb4 fits, and the server
		       * judges longer ones (1102) */
	char *attrs;  /* client's connect attributes, raw, to pass on */
	size_t attrs_len;
	bool have_stage1;                /* stage1 is known (from a native login) */
	bool have_old;                   /* old_hash is known (a mysql_old_password login) */
	uint32_t old_hash[2];            /* that account's hash: answers backends; never logged */
	bool sha2_fast_auth;             /* client logged in with caching_sha2 fast auth */
	uint8_t auth_step;               /* enum sess_auth_step, in the *_AUTH client states */
	uint8_t stage1[20];              /* SHA1(password): reaches backends; never logged */
	char *password;                  /* plaintext, from the config or full auth; never logged */
	struct sess_prev_login *cu_prev; /* change_user.c: the user before a COM_CHANGE_USER, back
					  * if it fails (the server keeps the session) */
	uint8_t cu_failed;               /* failed COM_CHANGE_USERs: the server refuses a 4th */
	char cu_denied[256];             /* SESS_CHANGE_USER_DENIED: the 1045's message */
	struct evp_pkey_st *rsa_key; /* reference to the RSA key whose public half the client got */
	char backend_addr[CFG_ADDR_TEXT]; /* member connected to, for logs */
	char backend_host[CFG_ADDR_TEXT]; /* its host, for TLS identity checks */
	uint8_t backend_scramble
		[PROTO_SCRAMBLE_LEN]; /* latest from the backend (greeting / switch) */
	char backend_plugin[64];      /* plugin the backend asked for last ("" = native) */
	uint64_t backend_server_caps; /* what the backend's greeting offered */
	bool backend_key_requested;   /* caching_sha2: tandem asked the backend for its RSA key */
	struct sockaddr_storage backend_sa;
	socklen_t backend_salen;
	struct hc_gate *gate;        /* reference while counted in at a member (worker.c) */
	size_t gate_slot;            /* that member's index in the gate */
	int64_t backend_deadline_us; /* monotonic: the backend login must be done by then */
	uint64_t verdict_seq;        /* a fresh probe of a DOWN primary was requested: fail once
				      * a snapshot answers request number verdict_seq (0: none) */
	char why[160];               /* SESS_BACKEND_WAIT: what it waits for; with
				      * SESS_F_BACKEND_GONE: why the backend is gone */
	uint16_t gone_code;          /* SESS_F_BACKEND_GONE: the error code to send */

	/* command phase */
	struct proto_framer cfr; /* client -> backend framing */
	struct proto_framer bfr; /* backend -> client framing */
	struct proto_tracker tr; /* response tracker */
	uint64_t cmd_left;       /* payload bytes of the current client frame still to stream */
	uint64_t resp_left;      /* bytes of the current backend frame still to pass through */
	bool infile_last;        /* the frame being streamed is the empty end-of-file one */
	bool cmd_expects_result; /* the command being sent has a response */
	bool result_done;        /* the tracker saw the last packet; its bytes may still stream */
	uint16_t status;         /* last server status flags */
	int64_t cmd_started_us;

	struct own_queue own;   /* tandem's own statements, their answers owed (own.c) */
	struct sess_facts sf;   /* server-side state, from the stream (facts_track.c) */
	struct sess_migrate mg; /* moving to a new backend connection (migrate.c) */
	struct sess_guard cg;   /* commit markers (commit_guard.c) */
	struct sess_replay rp;  /* the open transaction, for replay (replay.c) */
};

#endif
