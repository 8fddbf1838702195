/*
 * session_caps.h — which capabilities tandem offers clients and asks of
 * backends. One place, so the two legs of a session always agree on the
 * flags that change the shape of responses (DEPRECATE_EOF, MULTI_RESULTS):
 * the response tracker relies on that. SESSION_TRACK is the exception:
 * backends always get it, and OKs are reshaped for clients without it.
 */
#ifndef TANDEM_PROXY_SESSION_CAPS_H
#define TANDEM_PROXY_SESSION_CAPS_H

#include "config/config.h"
#include "protocol/mysql_const.h"

/* Offered to every client. CLIENT_MYSQL stays clear (MariaDB style) so
 * MariaDB clients exchange extended capabilities; tandem offers none yet.
 * Not offered: COMPRESS, SSL (unless the tenant has TLS), QUERY_ATTRIBUTES,
 * OPTIONAL_RESULTSET_METADATA, MULTI_FACTOR_AUTH, ZSTD. */
#define SESS_CAPS_BASE                                                                       \
	(CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_NO_SCHEMA |  \
	 CLIENT_ODBC | CLIENT_IGNORE_SPACE | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE |       \
	 CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |            \
	 CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |          \
	 CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | \
	 CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF)

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

/* Flags whose value must be the same on both legs. */
#define SESS_CAPS_SHAPE                                                          \
	(CLIENT_DEPRECATE_EOF | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | \
	 CLIENT_PROTOCOL_41 | CLIENT_LOCAL_FILES | CLIENT_MULTI_STATEMENTS)

/* Asked of every backend that offers them, whatever the client did.
 * SESSION_TRACK: tandem learns the session's state from every OK
 * (docs/sessions.md); for a client without it, forward.c rebuilds each OK
 * that carries state (and clears the state flag of such an EOF). Only
 * those packets differ between the two shapes, so rows pass untouched. */
#define SESS_CAPS_BACKEND_ALWAYS (CLIENT_SESSION_TRACK)

#endif
