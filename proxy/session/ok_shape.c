/*
 * ok_shape.c — an OK in the client's shape: the session-state items a
 * client did not ask for are cut (the backend always tracks them, for
 * tandem; session_caps.h). Shared by every phase that hands the client an
 * OK (login, COM_CHANGE_USER, results, the commit guard's answer).
 *
 * Must not: call a phase or change a session's state.
 */
#include "proxy/session/ok_shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/okerr.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

/* ------------------------------------------------------ OK reshaping */

/*
 * An OK differs between the legs only when the backend tracks session
 * state and the OK carries state the client did not ask for: a client
 * without session tracking gets none, one with it gets the items its own
 * session_track_* settings name (sf.track; the backend tracks everything,
 * for tandem). Servers write the info text length-encoded in both shapes
 * (clients read it so; the "string<EOF>" of the protocol docs is not what
 * goes on the wire); with tracking, an OK with state also carries the
 * info (maybe empty) and the state block after it, and when no item is
 * left, neither the block nor the SERVER_SESSION_STATE_CHANGED flag.
 */
bool sess_ok_carries_state(const struct session *s, const struct proto_ok *ok)
{
	return (s->backend_caps & CLIENT_SESSION_TRACK) &&
	       (ok->status & SERVER_SESSION_STATE_CHANGED);
}

/* Room for the two transaction items trx_items() may add. */
#define TRX_ITEMS_MAX (2 * (1 + 9 + 9) + 8 + 256)

static size_t track_item(uint8_t *out, uint8_t type, const char *v, size_t len)
{
	struct proto_wr w;
	proto_wr_init(&w, out, TRX_ITEMS_MAX / 2);
	proto_wr_u8(&w, type);
	proto_wr_lenenc(&w, (uint64_t)len + (len < 251 ? 1 : 9));
	proto_wr_lenenc_str(&w, v, len);
	return w.len;
}

/*
 * A client that turns transaction tracking on is told the state at once
 * (and the characteristics, for CHARACTERISTICS), as the server tells it;
 * the backend, tracking all along, has nothing new to say. Appends the
 * items missing from the kept block (len bytes at out); returns the bytes
 * added.
 */
static size_t trx_items(const struct session *s, uint8_t *out, size_t len)
{
	const struct sess_facts *sf = &s->sf;
	uint8_t now = sf->track.trx, was = sf->track_before.trx;
	size_t add = 0;
	if (now == PROTO_TRACK_TRX_OFF || !sf->track_trx_set)
		return 0;
	if (now == PROTO_TRACK_TRX_CHARACTERISTICS &&
	    !proto_track_has(out, len, SESSION_TRACK_TRANSACTION_CHARACTERISTICS)) {
		const char *c = sf->f.trx_chars ? sf->f.trx_chars : "";
		size_t cl = strlen(c);
		if (cl <= 200)
			add += track_item(out + len, SESSION_TRACK_TRANSACTION_CHARACTERISTICS, c,
					  cl);
	}
	if (was == PROTO_TRACK_TRX_OFF &&
	    !proto_track_has(out, len, SESSION_TRACK_TRANSACTION_STATE)) {
		const char *st = strlen(sf->f.trx_state) == 8 ? sf->f.trx_state : "________";
		add += track_item(out + len + add, SESSION_TRACK_TRANSACTION_STATE, st, 8);
	}
	return add;
}

/* Build ok as a server would for this client, framed with seq; *out is
 * buf or a heap block the caller frees. Returns the length; 0 when the
 * backend's bytes are already the client's (*out untouched), or when
 * memory ran out (*out NULL). */
size_t sess_ok_build(const struct session *s, const struct proto_ok *ok, uint8_t seq, uint8_t *buf,
		     size_t cap, uint8_t **out)
{
	struct proto_ok shaped = *ok;
	uint8_t kept_stack[512], *kept = NULL;
	size_t state_len = 0;
	if (s->client_caps & CLIENT_SESSION_TRACK) {
		size_t n = ok->session_state.len;
		size_t room = n + TRX_ITEMS_MAX;
		kept = room <= sizeof(kept_stack) ? kept_stack : malloc(room);
		if (!kept) {
			*out = NULL;
			return 0;
		}
		const struct sess_facts *sf = &s->sf;
		int rc = proto_track_filter(&sf->track,
					    sf->track_changing ? &sf->track_before : NULL,
					    (const uint8_t *)ok->session_state.p, n, kept);
		if (rc >= 0 && sf->track_changing)
			rc += (int)trx_items(s, kept, (size_t)rc);
		if (rc < 0 || ((size_t)rc == n && memcmp(kept, ok->session_state.p, n) == 0)) {
			/* all kept (or unreadable: as the server sent it) */
			if (kept != kept_stack)
				free(kept);
			*out = buf;
			return 0;
		}
		state_len = (size_t)rc;
		shaped.session_state.p = (const char *)kept;
		shaped.session_state.len = state_len;
	} else {
		shaped.status &= (uint16_t)~SERVER_SESSION_STATE_CHANGED;
	}
	size_t need = PROTO_HEADER_LEN + 1 + 9 + 9 + 4 + 9 + ok->info.len + 9 + state_len;
	uint8_t *dst = need <= cap ? buf : malloc(need);
	size_t len = 0;
	if (dst && kept) {
		struct proto_wr w;
		proto_wr_init(&w, dst, need);
		proto_ok_build(&w, seq, &shaped, CLIENT_SESSION_TRACK);
		len = w.len;
	} else if (dst) {
		/* the info stays length-encoded, as servers write it */
		struct proto_wr w;
		proto_wr_init(&w, dst, need);
		size_t at = proto_wr_packet_begin(&w, seq);
		proto_wr_u8(&w, ok->header);
		proto_wr_lenenc(&w, ok->affected_rows);
		proto_wr_lenenc(&w, ok->last_insert_id);
		proto_wr_u16(&w, shaped.status);
		proto_wr_u16(&w, ok->warnings);
		if (ok->info.len)
			proto_wr_lenenc_str(&w, ok->info.p, ok->info.len);
		proto_wr_packet_end(&w, at);
		len = w.len;
	}
	if (kept && kept != kept_stack)
		free(kept);
	*out = dst;
	return len;
}

int sess_send_ok(struct session *s, const uint8_t *payload, uint32_t len, uint8_t seq)
{
	struct proto_ok ok;
	if (proto_ok_parse(payload, len, s->backend_caps, &ok) < 0)
		return -1;
	uint8_t buf[SESS_OK_STACK], *pkt = buf;
	size_t n = sess_ok_carries_state(s, &ok)
			   ? sess_ok_build(s, &ok, seq, buf, sizeof(buf), &pkt)
			   : 0;
	if (!pkt)
		return -1;
	if (!n) {
		uint8_t hdr[PROTO_HEADER_LEN];
		proto_frame_build(hdr, len, seq);
		evbuffer_add(s->client.out, hdr, sizeof(hdr));
		evbuffer_add(s->client.out, payload, len);
		stat_add(&s->wt->stats->bytes_to_clients, sizeof(hdr) + len);
		return 0;
	}
	evbuffer_add(s->client.out, pkt, n);
	stat_add(&s->wt->stats->bytes_to_clients, n);
	if (pkt != buf)
		free(pkt);
	return 0;
}
