/*
 * forward.c — the command phase: client commands to the backend, the
 * backend's responses to the client, and LOCAL INFILE data.
 *
 * States handled: SESS_IDLE, SESS_COMMAND, SESS_RESULT, SESS_LOCAL_INFILE.
 * Responses are scanned in place: for each frame the tracker says how many
 * leading bytes it needs (a row needs one), and every scanned frame is
 * then moved to the client in one evbuffer_remove_buffer, which hands over
 * whole chains without copying. Watermarks stop reading one side while the
 * other side's output is above limits.buffer_high.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/command.h"
#include "protocol/okerr.h"
#include "proxy/session.h"
#include "proxy/worker.h"

/* Commands up to this size are buffered whole before they are forwarded
 * (almost all are); larger ones stream through. */
#define CMD_WHOLE_MAX (64 * 1024)
/* Response packet bytes the tracker may want copied on the stack. */
#define SCAN_STACK 512

#define ER_MALFORMED_PACKET 1835

static const struct cfg_limits *limits(const struct session *s)
{
	return &s->wt->snap->limits;
}

/* Send the client an ERR as the whole response to its command (seq 1). */
static void reply_err(struct session *s, uint16_t code, const char *state, const char *msg)
{
	uint8_t buf[512];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	proto_err_build(&w, 1, code, state, msg);
	sess_send_client(s, buf, w.len);
}

static void watch_backpressure(struct session *s, struct conn *reader, struct conn *writer)
{
	if (conn_pending(writer) > limits(s)->buffer_high) {
		conn_read_disable(reader);
		writer->want_drain = true;
		writer->low_mark = limits(s)->buffer_low;
	}
}

void sess_idle_enter(struct session *s)
{
	if (s->flags & SESS_F_DRAINING) {
		sess_close(s, "draining");
		return;
	}
	conn_read_enable(&s->client);
	sess_idle_read(s);
}

/* After the tracker says a response is complete. */
static void result_done(struct session *s)
{
	s->status = s->tr.status;
	if (s->status & SERVER_STATUS_IN_TRANS)
		s->flags |= SESS_F_IN_TRANS;
	else
		s->flags &= ~(unsigned)SESS_F_IN_TRANS;
	if (s->status & SERVER_STATUS_AUTOCOMMIT)
		s->flags |= SESS_F_AUTOCOMMIT;
	else
		s->flags &= ~(unsigned)SESS_F_AUTOCOMMIT;
	s->result_done = false;
	sess_set_state(s, SESS_IDLE);
	sess_idle_enter(s);
}

/* Move the rest of a streamed client frame (and any continuation frames)
 * to the backend. Returns true when the whole command has been sent. */
static bool stream_command(struct session *s)
{
	struct evbuffer *in = s->client.in;
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (s->cmd_left > 0) {
			size_t take = avail < s->cmd_left ? avail : (size_t)s->cmd_left;
			evbuffer_remove_buffer(in, s->backend.out, take);
			stat_add(&s->wt->stats->bytes_from_clients, take);
			s->cmd_left -= take;
			if (s->cmd_left > 0)
				return false;
		}
		if (!s->cfr.continued)
			return true;
		uint8_t hdr[PROTO_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return false;
		struct proto_frame f;
		bool starts, ends;
		proto_frame_parse(hdr, sizeof(hdr), &f);
		int rc = proto_framer_next(&s->cfr, &f, &starts, &ends);
		if (rc < 0) {
			stat_add(&s->wt->stats->client_errors, 1);
			sess_fail(s, rc == PROTO_E_TOO_LARGE ? ER_NET_PACKET_TOO_LARGE
							     : ER_NET_PACKETS_OUT_OF_ORDER,
				  "08S01", "%s", rc == PROTO_E_TOO_LARGE
				  ? "Got a packet bigger than 'max_allowed_packet' bytes"
				  : "Got packets out of order");
			return false;
		}
		s->cmd_left = PROTO_HEADER_LEN + (uint64_t)f.len;
	}
}

/* One whole (or, for a large one, the head of a) client command.
 * p holds `have` payload bytes of a frame of `len`. Returns false when the
 * session must stop reading commands now. */
static bool dispatch_command(struct session *s, const uint8_t *p, size_t have, uint32_t len)
{
	uint8_t cmd = p[0];
	bool whole = have == len;
	if (cmd == COM_QUIT) {
		evbuffer_remove_buffer(s->client.in, s->backend.out, PROTO_HEADER_LEN + len);
		conn_flush(&s->backend);
		sess_close(s, "client quit");
		return false;
	}
	if (!whole && (cmd == COM_CHANGE_USER || proto_tracker_start(&s->tr, p, have) < 0)) {
		/* tandem answers these itself and would have to skip megabytes */
		sess_fail(s, ER_MALFORMED_PACKET, "HY000", "Malformed communication packet");
		return false;
	}
	if (cmd == COM_CHANGE_USER) {
		evbuffer_drain(s->client.in, PROTO_HEADER_LEN + len);
		reply_err(s, ER_NOT_SUPPORTED_YET, "42000",
			  "tandem: COM_CHANGE_USER is not supported yet; reconnect instead");
		return true;
	}
	int rc = proto_tracker_start(&s->tr, p, have);
	if (rc == PROTO_E_UNSUPPORTED) {
		char msg[128];
		snprintf(msg, sizeof(msg), "tandem: %s is not forwarded", proto_cmd_name(cmd));
		evbuffer_drain(s->client.in, PROTO_HEADER_LEN + len);
		reply_err(s, ER_UNKNOWN_COM_ERROR, "08S01", msg);
		return true;
	}
	if (rc < 0) {
		evbuffer_drain(s->client.in, PROTO_HEADER_LEN + len);
		reply_err(s, ER_MALFORMED_PACKET, "HY000", "Malformed communication packet");
		return true;
	}
	s->infile_allowed = cmd == COM_QUERY && s->wt->cfg->local_infile &&
			    (s->client_caps & CLIENT_LOCAL_FILES);
	stat_add(&s->wt->stats->queries, 1);
	s->cmd_started_us = clock_mono_us();
	s->cmd_expects_result = rc == RT_MORE;
	s->cmd_left = PROTO_HEADER_LEN + (uint64_t)len;
	if (limits(s)->idle_timeout_ms > 0)
		sess_timer_clear(s);
	return true;
}

void sess_idle_read(struct session *s)
{
	struct evbuffer *in = s->client.in;
	while (s->state == SESS_IDLE || s->state == SESS_COMMAND) {
		if (s->state == SESS_COMMAND || s->cmd_left > 0) {
			if (!stream_command(s))
				break;
			if (s->state == SESS_CLOSED || s->state == SESS_CLOSING)
				return;
			if (s->cmd_expects_result) {
				/* The response follows the command's last frame; an ERR
				 * tandem sends before the backend answers (shutdown
				 * deadline) must carry this sequence id. */
				s->bfr.next_seq = s->cfr.next_seq;
				sess_set_state(s, SESS_RESULT);
				break;
			}
			if (s->state == SESS_COMMAND)
				sess_set_state(s, SESS_IDLE);
			continue;
		}
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[PROTO_HEADER_LEN];
		if (avail < sizeof(hdr))
			break;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		struct proto_frame f;
		proto_frame_parse(hdr, sizeof(hdr), &f);
		if (f.seq != 0 || f.len == 0 || f.len > limits(s)->max_packet) {
			stat_add(&s->wt->stats->client_errors, 1);
			if (f.len > limits(s)->max_packet)
				sess_fail(s, ER_NET_PACKET_TOO_LARGE, "08S01",
					  "Got a packet bigger than 'max_allowed_packet' bytes");
			else if (f.seq != 0)
				sess_fail(s, ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
					  "Got packets out of order");
			else
				sess_fail(s, ER_MALFORMED_PACKET, "HY000",
					  "Malformed communication packet");
			return;
		}
		size_t need = f.len <= CMD_WHOLE_MAX ? f.len : 16;
		if (avail < PROTO_HEADER_LEN + need)
			break;
		bool starts, ends;
		proto_framer_reset_seq(&s->cfr, 0);
		s->cfr.continued = false;
		proto_framer_next(&s->cfr, &f, &starts, &ends);
		const uint8_t *p = evbuffer_pullup(in, (ssize_t)(PROTO_HEADER_LEN + need));
		if (!dispatch_command(s, p + PROTO_HEADER_LEN, need, f.len))
			return;
		if (s->cmd_left == 0)
			continue; /* answered by tandem itself */
		if (f.len > need)
			sess_set_state(s, SESS_COMMAND);
	}
	if (s->state == SESS_IDLE && limits(s)->idle_timeout_ms > 0)
		sess_timer_set(s, limits(s)->idle_timeout_ms);
	if (conn_is_open(&s->backend)) {
		if (conn_flush(&s->backend) < 0) {
			sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
				  "tandem: lost the connection to the database server");
			return;
		}
		watch_backpressure(s, &s->client, &s->backend);
	}
}

/* Scan the backend's bytes frame by frame through the tracker, then pass
 * everything scanned to the client at once. */
void sess_result_read(struct session *s)
{
	struct evbuffer *in = s->backend.in;
	size_t avail = evbuffer_get_length(in);
	size_t off = 0;
	int outcome = RT_MORE;
	size_t last_off = 0; /* where the last scanned frame starts */
	uint8_t stack[SCAN_STACK];

	while (off < avail && (s->resp_left > 0 || !s->result_done)) {
		if (s->resp_left > 0) {
			size_t take = avail - off < s->resp_left ? avail - off : (size_t)s->resp_left;
			off += take;
			s->resp_left -= take;
			continue;
		}
		if (avail - off < PROTO_HEADER_LEN + 1)
			break;
		last_off = off;
		struct evbuffer_ptr pos;
		uint8_t head[PROTO_HEADER_LEN + 1];
		evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &pos, head, sizeof(head));
		struct proto_frame f;
		proto_frame_parse(head, sizeof(head), &f);
		uint32_t want = proto_tracker_want(&s->tr, f.len, head[PROTO_HEADER_LEN]);
		if (avail - off < PROTO_HEADER_LEN + (size_t)want)
			break;
		const uint8_t *payload = head + PROTO_HEADER_LEN;
		uint8_t *heap = NULL;
		if (want > 1) {
			uint8_t *dst = want <= sizeof(stack) ? stack : (heap = malloc(want));
			if (!dst) {
				sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
				return;
			}
			evbuffer_ptr_set(in, &pos, off + PROTO_HEADER_LEN, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &pos, dst, want);
			payload = dst;
		}
		struct proto_rt_event ev;
		int rc = proto_tracker_feed(&s->tr, payload, want ? want : (f.len ? 1 : 0), f.len, &ev);
		free(heap);
		if (rc < 0) {
			log_warn("session %llu: backend %s broke the protocol in state %s: %s",
				 (unsigned long long)s->id, s->backend_addr,
				 proto_rt_state_name(s->tr.state), proto_strerror(rc));
			s->bfr.next_seq = f.seq;
			sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
				  "tandem: the database server sent a malformed response (%s)",
				  proto_strerror(rc));
			return;
		}
		s->bfr.next_seq = (uint8_t)(f.seq + 1);
		size_t pkt = PROTO_HEADER_LEN + (size_t)f.len;
		if (avail - off >= pkt) {
			off += pkt;
		} else {
			s->resp_left = pkt - (avail - off);
			off = avail;
		}
		if (rc == RT_DONE) {
			s->result_done = true;
			outcome = RT_DONE;
		} else if (rc == RT_INFILE) {
			outcome = RT_INFILE;
			break;
		}
	}

	if (outcome == RT_INFILE && !s->infile_allowed) {
		/* Never forward a file request the client did not make: pass the
		 * results before it, then end the session with an ERR in its place. */
		log_warn("session %llu: backend %s asked for a local file the client did not "
			 "request; refusing",
			 (unsigned long long)s->id, s->backend_addr);
		evbuffer_remove_buffer(in, s->client.out, last_off);
		s->bfr.next_seq = (uint8_t)(s->bfr.next_seq - 1);
		sess_fail(s, ER_NOT_SUPPORTED_YET, "42000",
			  "tandem: LOAD DATA LOCAL INFILE is not enabled for this tenant");
		return;
	}
	if (off) {
		evbuffer_remove_buffer(in, s->client.out, off);
		stat_add(&s->wt->stats->bytes_to_clients, off);
		if (conn_flush(&s->client) < 0) {
			sess_close(s, "client gone");
			return;
		}
	}
	if (outcome == RT_INFILE) {
		sess_set_state(s, SESS_LOCAL_INFILE);
		s->cfr.next_seq = s->bfr.next_seq;
		s->cfr.continued = false;
		sess_infile_read(s);
		return;
	}
	if (s->result_done && s->resp_left == 0) {
		result_done(s);
		return;
	}
	watch_backpressure(s, &s->backend, &s->client);
}

/* The client's file data after a LOCAL INFILE request: frames until an
 * empty one, then the server's OK or ERR. */
void sess_infile_read(struct session *s)
{
	struct evbuffer *in = s->client.in;
	for (;;) {
		if (s->cmd_left > 0) {
			size_t avail = evbuffer_get_length(in);
			size_t take = avail < s->cmd_left ? avail : (size_t)s->cmd_left;
			evbuffer_remove_buffer(in, s->backend.out, take);
			stat_add(&s->wt->stats->bytes_from_clients, take);
			s->cmd_left -= take;
			if (s->cmd_left > 0)
				break;
			if (s->infile_last) {
				s->infile_last = false;
				proto_tracker_infile_done(&s->tr);
				sess_set_state(s, SESS_RESULT);
				break;
			}
		}
		uint8_t hdr[PROTO_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			break;
		struct proto_frame f;
		proto_frame_parse(hdr, sizeof(hdr), &f);
		if (f.seq != s->cfr.next_seq) {
			sess_fail(s, ER_NET_PACKETS_OUT_OF_ORDER, "08S01", "Got packets out of order");
			return;
		}
		s->cfr.next_seq = (uint8_t)(f.seq + 1);
		s->cmd_left = PROTO_HEADER_LEN + (uint64_t)f.len;
		s->infile_last = f.len == 0;
	}
	if (conn_flush(&s->backend) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: lost the connection to the database server");
		return;
	}
	watch_backpressure(s, &s->client, &s->backend);
	if (s->state == SESS_RESULT && evbuffer_get_length(s->backend.in) > 0)
		sess_result_read(s);
}

void sess_forward_backpressure(struct session *s, struct conn *drained)
{
	drained->want_drain = false;
	if (drained == &s->client) {
		conn_read_enable(&s->backend);
		if (s->state == SESS_RESULT && evbuffer_get_length(s->backend.in) > 0)
			sess_result_read(s);
	} else {
		conn_read_enable(&s->client);
		if (evbuffer_get_length(s->client.in) == 0)
			return;
		if (s->state == SESS_COMMAND || s->state == SESS_IDLE)
			sess_idle_read(s);
		else if (s->state == SESS_LOCAL_INFILE)
			sess_infile_read(s);
	}
}
