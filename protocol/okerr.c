/*
 * okerr.c — OK, ERR and EOF packets and the session-state items of an OK
 * (see okerr.h). Servers omit an OK's info field when it is empty and no
 * state changed, so a payload ending after the warnings is well formed.
 */
#include "protocol/okerr.h"

#include <stdio.h>
#include <strings.h>

int proto_ok_parse(const uint8_t *payload, size_t len, uint64_t caps, struct proto_ok *ok)
{
	struct proto_rd r;
	memset(ok, 0, sizeof(*ok));
	ok->info.p = ok->session_state.p = "";
	proto_rd_init(&r, payload, len);
	ok->header = proto_rd_u8(&r);
	if (r.err)
		return r.err;
	if (ok->header != PROTO_OK_HEADER && ok->header != PROTO_EOF_HEADER)
		return PROTO_E_MALFORMED;
	ok->affected_rows = proto_rd_lenenc(&r, NULL);
	ok->last_insert_id = proto_rd_lenenc(&r, NULL);
	ok->status = proto_rd_u16(&r);
	ok->warnings = proto_rd_u16(&r);
	if (r.err)
		return r.err;
	if (caps & CLIENT_SESSION_TRACK) {
		if (proto_rd_left(&r) > 0)
			ok->info = proto_rd_lenenc_str(&r);
		if ((ok->status & SERVER_SESSION_STATE_CHANGED) && proto_rd_left(&r) > 0)
			ok->session_state = proto_rd_lenenc_str(&r);
	} else {
		ok->info = proto_rd_rest(&r);
	}
	if (r.err)
		return r.err;
	return (int)len;
}

int proto_ok_build(struct proto_wr *w, uint8_t seq, const struct proto_ok *ok, uint64_t caps)
{
	size_t at = proto_wr_packet_begin(w, seq);
	uint16_t status = ok->status;
	if (!(caps & CLIENT_SESSION_TRACK) || ok->session_state.len == 0)
		status &= (uint16_t)~SERVER_SESSION_STATE_CHANGED;
	proto_wr_u8(w, ok->header);
	proto_wr_lenenc(w, ok->affected_rows);
	proto_wr_lenenc(w, ok->last_insert_id);
	proto_wr_u16(w, status);
	proto_wr_u16(w, ok->warnings);
	if (caps & CLIENT_SESSION_TRACK) {
		if (ok->info.len || (status & SERVER_SESSION_STATE_CHANGED))
			proto_wr_lenenc_str(w, ok->info.p, ok->info.len);
		if (status & SERVER_SESSION_STATE_CHANGED)
			proto_wr_lenenc_str(w, ok->session_state.p, ok->session_state.len);
	} else {
		proto_wr_bytes(w, ok->info.p, ok->info.len);
	}
	return proto_wr_packet_end(w, at);
}

int proto_err_parse(const uint8_t *payload, size_t len, uint64_t caps, struct proto_err_pkt *e)
{
	struct proto_rd r;
	memset(e, 0, sizeof(*e));
	e->message.p = "";
	memcpy(e->sqlstate, "HY000", 6);
	proto_rd_init(&r, payload, len);
	if (proto_rd_u8(&r) != PROTO_ERR_HEADER)
		return r.err ? r.err : PROTO_E_MALFORMED;
	e->code = proto_rd_u16(&r);
	if (r.err)
		return r.err;
	/* The '#' marker is present whenever the server knew the client speaks
	 * 4.1; errors sent before that (e.g. "host blocked") have none. */
	(void)caps;
	if (proto_rd_left(&r) >= 6 && r.p[0] == '#') {
		proto_rd_u8(&r);
		memcpy(e->sqlstate, proto_rd_bytes(&r, 5), 5);
		e->sqlstate[5] = 0;
	}
	e->message = proto_rd_rest(&r);
	return (int)len;
}

int proto_err_build(struct proto_wr *w, uint8_t seq, uint16_t code, const char *sqlstate,
		    const char *message)
{
	size_t at = proto_wr_packet_begin(w, seq);
	size_t mlen = strlen(message);
	if (mlen > 512)
		mlen = 512;
	proto_wr_u8(w, PROTO_ERR_HEADER);
	proto_wr_u16(w, code);
	proto_wr_u8(w, '#');
	char state[5] = {'H', 'Y', '0', '0', '0'};
	if (sqlstate && strlen(sqlstate) == 5)
		memcpy(state, sqlstate, 5);
	proto_wr_bytes(w, state, 5);
	proto_wr_bytes(w, message, mlen);
	return proto_wr_packet_end(w, at);
}

int proto_eof_parse(const uint8_t *payload, size_t len, struct proto_eof *eof)
{
	struct proto_rd r;
	memset(eof, 0, sizeof(*eof));
	proto_rd_init(&r, payload, len);
	if (proto_rd_u8(&r) != PROTO_EOF_HEADER)
		return r.err ? r.err : PROTO_E_MALFORMED;
	if (len >= 9)
		return PROTO_E_MALFORMED;
	if (proto_rd_left(&r) >= 4) {
		eof->warnings = proto_rd_u16(&r);
		eof->status = proto_rd_u16(&r);
	}
	return (int)len;
}

int proto_eof_build(struct proto_wr *w, uint8_t seq, const struct proto_eof *eof)
{
	size_t at = proto_wr_packet_begin(w, seq);
	proto_wr_u8(w, PROTO_EOF_HEADER);
	proto_wr_u16(w, eof->warnings);
	proto_wr_u16(w, eof->status);
	return proto_wr_packet_end(w, at);
}

int proto_track_next(struct proto_rd *r, struct proto_track_item *it)
{
	if (r->err)
		return r->err;
	if (proto_rd_left(r) == 0)
		return 0;
	const uint8_t *start = r->p;
	memset(it, 0, sizeof(*it));
	it->name.p = it->value.p = "";
	it->type = proto_rd_u8(r);
	struct proto_str data = proto_rd_lenenc_str(r);
	if (r->err)
		return r->err;
	struct proto_rd d;
	proto_rd_init(&d, data.p, data.len);
	switch (it->type) {
	case SESSION_TRACK_SYSTEM_VARIABLES:
		it->name = proto_rd_lenenc_str(&d);
		it->value = proto_rd_lenenc_str(&d);
		break;
	case SESSION_TRACK_GTIDS:
		proto_rd_u8(&d); /* encoding specification, 0 */
		it->value = proto_rd_lenenc_str(&d);
		break;
	case SESSION_TRACK_STATE_CHANGE:
		/* One raw byte '1' (or '0'), not a length-encoded string: both
		 * MariaDB and MySQL write it so. */
		it->value = data;
		break;
	case SESSION_TRACK_SCHEMA:
	case SESSION_TRACK_TRANSACTION_CHARACTERISTICS:
	case SESSION_TRACK_TRANSACTION_STATE:
		it->value = proto_rd_lenenc_str(&d);
		break;
	default:
		it->value = data;
		break;
	}
	if (d.err) {
		r->err = d.err;
		return d.err;
	}
	return (int)(r->p - start);
}

/* name is one of the comma-separated names of list (spaces around a name
 * are the server's to ignore too), case-insensitively; "*" is any. */
static bool list_has(const char *list, struct proto_str name)
{
	if (!list)
		return false;
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *b = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > b && e[-1] == ' ')
			e--;
		size_t n = (size_t)(e - b);
		if (n == 1 && *b == '*')
			return true;
		if (n == name.len && n > 0 && strncasecmp(b, name.p, n) == 0)
			return true;
	}
	return false;
}

bool proto_track_view_keeps(const struct proto_track_view *v, const struct proto_track_item *it)
{
	switch (it->type) {
	case SESSION_TRACK_SYSTEM_VARIABLES:
		return list_has(v->sysvars, it->name);
	case SESSION_TRACK_SCHEMA:
		return v->schema;
	case SESSION_TRACK_STATE_CHANGE:
		return v->state_change;
	case SESSION_TRACK_GTIDS:
		return v->gtids;
	case SESSION_TRACK_TRANSACTION_CHARACTERISTICS:
		return v->trx == PROTO_TRACK_TRX_CHARACTERISTICS;
	case SESSION_TRACK_TRANSACTION_STATE:
		return v->trx != PROTO_TRACK_TRX_OFF;
	default:
		return true; /* a newer server's item: as the server sent it */
	}
}

bool proto_track_has(const uint8_t *items, size_t len, uint8_t type)
{
	struct proto_rd r;
	proto_rd_init(&r, items, len);
	struct proto_track_item it;
	while (proto_track_next(&r, &it) > 0)
		if (it.type == type)
			return true;
	return false;
}

int proto_track_filter(const struct proto_track_view *v, const struct proto_track_view *also,
		       const uint8_t *items, size_t len, uint8_t *out)
{
	struct proto_rd r;
	proto_rd_init(&r, items, len);
	size_t kept = 0;
	for (;;) {
		const uint8_t *start = r.p;
		struct proto_track_item it;
		int rc = proto_track_next(&r, &it);
		if (rc == 0)
			break;
		if (rc < 0)
			return rc;
		if (proto_track_view_keeps(v, &it) || (also && proto_track_view_keeps(also, &it))) {
			memcpy(out + kept, start, (size_t)rc);
			kept += (size_t)rc;
		}
	}
	return (int)kept;
}
