/*
 * protocol.h — the contract shared by every parser and builder in protocol/.
 *
 * protocol/ is pure: bytes in, structs out. No sockets, no libevent, no
 * logging, no global state. Parsed structs may point into the caller's
 * buffer (struct proto_str); they are valid only as long as that buffer.
 *
 * Return convention for every parser:
 *   > 0  bytes consumed (payload parsers consume the whole payload they were
 *        given when it is well formed)
 *     0  need more bytes (stream parsers only; payload parsers never return 0,
 *        because every packet they accept has at least one byte)
 *   < 0  a PROTO_E_* error code
 * Builders append to a struct proto_wr and return PROTO_OK or PROTO_E_NOSPACE.
 */
#ifndef TANDEM_PROTOCOL_PROTOCOL_H
#define TANDEM_PROTOCOL_PROTOCOL_H

#include "protocol/mysql_const.h"
#include "protocol/rw.h"

enum proto_status {
	PROTO_OK = 0,
	PROTO_E_TRUNCATED = -1,   /* a field runs past the end of the bytes given */
	PROTO_E_MALFORMED = -2,   /* bytes no valid packet of this kind contains */
	PROTO_E_TOO_LARGE = -3,   /* a length is above the configured maximum */
	PROTO_E_UNSUPPORTED = -4, /* valid, but not something tandem handles */
	PROTO_E_SEQUENCE = -5,    /* sequence id out of order */
	PROTO_E_NOSPACE = -6,     /* builder: the output buffer is too small */
	PROTO_E_UNEXPECTED = -7,  /* a packet that cannot come in this state */
	PROTO_E_NOMEM = -8,       /* an allocating helper (facts.h) ran out of memory */
};

/* A short, static description of a PROTO_E_* code (for logs and ERR text). */
const char *proto_strerror(int err);

#endif
