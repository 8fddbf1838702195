/*
 * okerr.h — the generic response packets: OK, ERR, EOF, and the session
 * state-change data an OK carries when CLIENT_SESSION_TRACK is on.
 *
 * Owns: their parsing and building. Must not: interpret session state
 * (that is the caller's business); strings point into the caller's payload.
 */
#ifndef TANDEM_PROTOCOL_OKERR_H
#define TANDEM_PROTOCOL_OKERR_H

#include "protocol/protocol.h"

struct proto_ok {
	uint8_t header; /* 0x00, or 0xFE when it ends a result set (DEPRECATE_EOF) */
	uint64_t affected_rows;
	uint64_t last_insert_id;
	uint16_t status; /* SERVER_STATUS_* */
	uint16_t warnings;
	struct proto_str info;
	struct proto_str session_state; /* raw tracker items, when SERVER_SESSION_STATE_CHANGED */
};

/* Payload parser; caps are the negotiated capabilities (CLIENT_SESSION_TRACK
 * changes the layout). Accepts header 0x00 and 0xFE. */
int proto_ok_parse(const uint8_t *payload, size_t len, uint64_t caps, struct proto_ok *ok);
int proto_ok_build(struct proto_wr *w, uint8_t seq, const struct proto_ok *ok, uint64_t caps);

/* A short OK/EOF test on a payload's shape, as clients do it: 0xFE with
 * fewer than 9 bytes is an EOF, with DEPRECATE_EOF any 0xFE below 0xFFFFFF
 * bytes is an OK that ends a result set. */
static inline bool proto_is_eof(const uint8_t *payload, size_t len)
{
	return len >= 1 && len < 9 && payload[0] == PROTO_EOF_HEADER;
}

struct proto_err_pkt {
	uint16_t code;
	char sqlstate[6]; /* 5 chars + NUL; "HY000" when the server sent none */
	struct proto_str message;
};
int proto_err_parse(const uint8_t *payload, size_t len, uint64_t caps, struct proto_err_pkt *e);
/* Builds an ERR with the message (truncated to fit 512 bytes). */
int proto_err_build(struct proto_wr *w, uint8_t seq, uint16_t code, const char *sqlstate,
		    const char *message);

struct proto_eof {
	uint16_t warnings;
	uint16_t status;
};
int proto_eof_parse(const uint8_t *payload, size_t len, struct proto_eof *eof);
int proto_eof_build(struct proto_wr *w, uint8_t seq, const struct proto_eof *eof);

/*
 * Session state-change items of an OK's session_state block. For
 * SYSTEM_VARIABLES name and value are set; for SCHEMA, STATE_CHANGE
 * (its one raw byte, "1"), TRANSACTION_* value is set; for GTIDS value is the GTID text (the
 * encoding-specification byte is skipped). Unknown types are returned with
 * their raw data in value, so callers can skip them.
 * Returns >0 consumed, 0 at the end of the block, <0 on malformed data.
 */
struct proto_track_item {
	uint8_t type; /* enum proto_track_type */
	struct proto_str name;
	struct proto_str value;
};
int proto_track_next(struct proto_rd *r, struct proto_track_item *it);

/*
 * What a client asked the server to track: its own session_track_*
 * values, which decide the items a server would send it (the backend
 * leg tracks everything, for tandem). sysvars is the value of
 * session_track_system_variables: names separated by commas, "*" for
 * every variable (NULL: none).
 */
enum proto_track_trx {
	PROTO_TRACK_TRX_OFF,
	PROTO_TRACK_TRX_STATE,
	PROTO_TRACK_TRX_CHARACTERISTICS,
};
struct proto_track_view {
	const char *sysvars;
	bool schema;
	bool state_change;
	uint8_t trx; /* enum proto_track_trx */
	bool gtids;  /* MySQL's session_track_gtids is not OFF */
};
/* Whether a server tracking as v would send the item. */
bool proto_track_view_keeps(const struct proto_track_view *v, const struct proto_track_item *it);
/*
 * Copies the items of a session_state block (len bytes) that v keeps, or
 * also keeps when not NULL (a statement that changed the settings: the
 * server reports what either side tracks), to out (room for len bytes),
 * in their order, each byte for byte. Returns the bytes kept (len when
 * all are), or <0 for a malformed block.
 */
int proto_track_filter(const struct proto_track_view *v, const struct proto_track_view *also,
		       const uint8_t *items, size_t len, uint8_t *out);
/* Whether the block holds an item of this type. */
bool proto_track_has(const uint8_t *items, size_t len, uint8_t type);

#endif
