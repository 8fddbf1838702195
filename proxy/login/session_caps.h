/*
 * session_caps.h — which capabilities tandem offers clients and asks of
 * backends. One place, so the two legs of a session always agree on the
 * flags that change the shape of responses (DEPRECATE_EOF, MULTI_RESULTS,
 * MariaDB's metadata caching and extended type info):
 * the response tracker relies on that. SESSION_TRACK is the exception:
 * backends always get it, and OKs are reshaped for clients without it.
 */
#ifndef TANDEM_PROXY_SESSION_CAPS_H
#define TANDEM_PROXY_SESSION_CAPS_H

#include "config/config.h"
#include "protocol/mysql_const.h"

/* Offered to every client. CLIENT_MYSQL stays clear (MariaDB style) so
 * MariaDB clients exchange extended capabilities.
 * Not offered: SSL (unless the tenant has TLS), QUERY_ATTRIBUTES,
 * OPTIONAL_RESULTSET_METADATA, MULTI_FACTOR_AUTH, ZSTD, and MariaDB's
 * COM_MULTI (gone from servers) and BULK_UNIT_RESULTS (11.5+; the tracker
 * would read its result sets, but it is untested against a server).
 * COMPRESS: conn.c inflates and deflates on the client leg, and the
 * backend leg compresses too when the client does and the server can
 * (login_caps() in backend_auth.c), so the server's Compression status is
 * the client's. Not shape-changing: each leg frames on its own.
 * RESERVED (the old 4.1 flag) and REMEMBER_OPTIONS change nothing on the
 * wire; MariaDB announces both, so they are mirrored like the rest. */
#define SESS_CAPS_BASE                                                                       \
	(CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_NO_SCHEMA |  \
	 CLIENT_ODBC | CLIENT_IGNORE_SPACE | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE |       \
	 CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |            \
	 CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |          \
	 CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | \
	 CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF | \
	 CLIENT_COMPRESS | CLIENT_RESERVED | CLIENT_REMEMBER_OPTIONS | SESS_CAPS_MARIADB)

/* MariaDB extended capabilities tandem passes through (the high 32 bits):
 * progress packets, COM_STMT_BULK_EXECUTE, extended type info in column
 * definitions, metadata caching (docs/protocol.md). The backend gets the
 * client's, as far as it has them. */
#define SESS_CAPS_MARIADB                                                \
	(MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS | \
	 MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

static inline uint64_t sess_caps_offered(const struct cfg_tenant *t)
{
	uint64_t caps = SESS_CAPS_BASE;
	if (t && t->local_infile)
		caps |= CLIENT_LOCAL_FILES;
	if (t && t->tls)
		caps |= CLIENT_SSL;
	return caps;
}

/* What tandem provides itself, whatever the backend offers: TLS to the
 * client is tandem's own. */
#define SESS_CAPS_OWN (CLIENT_SSL)

/* The capabilities of the client's greeting: what the primary announced
 * (its greeting, MariaDB extended capabilities in the high 32 bits
 * included), as far as sess_caps_offered() allows, plus what tandem
 * provides itself. A bit added to sess_caps_offered() reaches clients of a
 * server that has it with no other change. */
static inline uint64_t sess_caps_greeting(const struct cfg_tenant *t, uint64_t server_caps)
{
	uint64_t offered = sess_caps_offered(t);
	return (server_caps & offered) | (offered & SESS_CAPS_OWN);
}

/* Flags whose value must be the same on both legs: a backend that lacks
 * one the client uses is refused (a move goes to another, or fails).
 * Not among them: MariaDB's PROGRESS (a server without it sends no
 * progress packets, which a client cannot tell from a fast statement) and
 * LOCAL_FILES (a server without it, local_infile=OFF, never asks for a
 * file and refuses LOAD DATA LOCAL with 4166, as it would directly; the
 * client's offer is Connector/C's default, and a login must not fail for
 * it). */
#define SESS_CAPS_SHAPE                                                                       \
	(CLIENT_DEPRECATE_EOF | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |              \
	 CLIENT_PROTOCOL_41 | CLIENT_MULTI_STATEMENTS | MARIADB_CLIENT_STMT_BULK_OPERATIONS | \
	 MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

/* Asked of every backend that offers them, whatever the client did.
 * SESSION_TRACK: tandem learns the session's state from every OK
 * (docs/sessions.md); for a client without it, forward.c rebuilds each OK
 * that carries state (and clears the state flag of such an EOF). Only
 * those packets differ between the two shapes, so rows pass untouched. */
#define SESS_CAPS_BACKEND_ALWAYS (CLIENT_SESSION_TRACK)

#endif
