/*
 * kill.h — recognising `KILL [HARD | SOFT] [CONNECTION | QUERY] <id>` in
 * the text of a COM_QUERY, so that the id can be translated (a client's
 * id is its greeting's; its session may since have moved).
 *
 * Owns: that one statement's shape. Must not: decide what the id becomes.
 * `KILL QUERY ID <query id>` and `KILL USER <name>` name no connection
 * and are not recognised; neither is anything with comments or a second
 * statement — those pass on unchanged.
 */
#ifndef TANDEM_PROTOCOL_KILL_H
#define TANDEM_PROTOCOL_KILL_H

#include "protocol/protocol.h"

struct proto_kill {
	uint32_t id;     /* the connection id named */
	size_t id_at;    /* offset of its first digit in the text */
	size_t id_len;   /* number of its digits */
	bool query_only; /* KILL QUERY */
};

/* >0 (the text's length) when sql is such a KILL, filling *k; 0 when it is
 * not (any other statement); never reads past len. */
int proto_kill_parse(const char *sql, size_t len, struct proto_kill *k);

#endif
