/*
 * ok_shape.c — an OK in the client's shape: the session-state items a
 * client did not ask for are cut (the backend always tracks them, for
 * tandem; session_caps in login.h). Shared by every phase that hands the
 * client an OK (login, COM_CHANGE_USER, results, the commit guard's answer).
 *
 * Must not: call a phase or change a session's state.
 */
#include "proxy/session/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/okerr.h"
#include "proxy/process/worker_types.h"

/* ------------------------------------------------------ OK reshaping */

/*
 * An OK differs between the legs only when the backend tracks session
 * state and the OK carries state the client did not ask for: a client
 * without session tracking gets none, one with it gets the items its own
 * session_track_* settings name (sf.track; the backend tracks every
 * variable, the schema and state changes for tandem, the transaction only
 * as the client asked). Servers write the info text length-encoded in both shapes
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
		kept = n <= sizeof(kept_stack) ? kept_stack : malloc(n);
		if (!kept) {
			*out = NULL;
			return 0;
		}
		const struct sess_facts *sf = &s->sf;
		int rc = proto_track_filter(&sf->track,
					    sf->track_changing ? &sf->track_before : NULL,
					    (const uint8_t *)ok->session_state.p, n, kept);
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
