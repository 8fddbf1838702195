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
 *
 * The few packets tandem must change are cut out of that flow and replaced:
 * an OK or EOF that carries session state a client without tracking must
 * not see (the backend always tracks it, see session_caps in login.h), a prepare OK
 * (the client sees tandem's statement ids, see facts.h), and a LOCAL
 * INFILE request the client did not ask for. Rows are never touched. Every
 * response also updates the session's facts (facts_track.c).
 *
 * sess_result_read is its steps, one job each: walk the buffer (scan_rest,
 * scan_peek, scan_rows, scan_advance), feed the tracker (scan_frame,
 * scan_feed), learn from and rewrite a packet (on_packet; on_ok hands the
 * facts and the commit guard their OK and reshapes it), and hand the
 * scanned bytes on (scan_finish).
 *
 * Must not: read an answer to one of tandem's own statements (own.c does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/command.h"
#include "protocol/okerr.h"
#include "protocol/sqlclass.h"
#include "proxy/command/command.h"
#include "proxy/io/io.h"
#include "proxy/move/move.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

/* Commands up to this size are buffered whole before they are forwarded
 * (almost all are); larger ones stream through. */
#define CMD_WHOLE_MAX (64 * 1024)
/* Response packet bytes the tracker may want copied on the stack. */
#define SCAN_STACK 512

#define ER_MALFORMED_PACKET    1835
#define ER_OUT_OF_RESOURCES_   1041
#define ER_WRONG_ARGUMENTS     1210 /* HY000 Incorrect arguments to mysqld_stmt_execute */
#define ER_NOT_ALLOWED_COMMAND 1148 /* 42000 */
/* A packet tandem builds in place of a backend one fits here (an OK
 * reshaped, a prepare OK renumbered); larger ones go to the heap. */
#define REPLACE_STACK 512

static const struct cfg_limits *limits(const struct session *s)
{
	return &s->wt->snap->limits;
}

/* Send the client an ERR as the whole response to a command of one frame
 * (the sequence id that follows it: 1). */
static void reply_err(struct session *s, uint16_t code, const char *state, const char *msg)
{
	sess_send_err(s, 1, code, state, msg);
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
	sess_facts_done(s);
	sess_replay_result(s);
	s->result_done = false;
	sess_set_state(s, SESS_IDLE);
}

/*
 * tandem answers a command itself (code 0: silently, for a command that
 * has no response). A whole command is dropped at once; a large one is
 * streamed off, and the ERR goes out once its last byte is gone.
 */
static void answer_self(struct session *s, uint32_t len, bool whole, uint16_t code,
			const char *state, const char *msg)
{
	if (whole) {
		evbuffer_drain(s->client.in, PROTO_HEADER_LEN + len);
		if (code)
			reply_err(s, code, state, msg);
		return;
	}
	struct sess_facts *sf = &s->sf;
	sf->cmd_discard = true;
	sf->reply_code = code;
	snprintf(sf->reply_state, sizeof(sf->reply_state), "%s", state);
	snprintf(sf->reply_msg, sizeof(sf->reply_msg), "%s", msg);
	s->cmd_expects_result = false;
	s->cmd_left = PROTO_HEADER_LEN + (uint64_t)len;
	if (limits(s)->idle_timeout_ms > 0)
		sess_timer_clear(s);
}

/* The last byte of a command answer_self() streamed off is gone. */
static void discard_done(struct session *s)
{
	struct sess_facts *sf = &s->sf;
	sf->cmd_discard = false;
	if (sf->reply_code) /* with the id that follows the command's last frame */
		sess_send_err(s, s->cfr.next_seq, sf->reply_code, sf->reply_state, sf->reply_msg);
	sf->reply_code = 0;
}

/* The compressed protocol leaves the sequence ids of the packets inside
 * its frames unchecked (a server checks the frames' own), and Connector/C
 * sends 0 in every frame of a 16 MiB+ command. tandem's framer checks
 * them, so does an uncompressed backend leg, and a compressed one tells a
 * command by its id 0 (conn.c): a compressed client's frame header gets
 * the id a plain client would have sent, in place, before it is looked
 * at. */
static void zip_renumber(struct session *s, struct proto_frame *f, uint8_t seq)
{
	if (!conn_is_compressed(&s->client) || f->seq == seq)
		return;
	uint8_t *h = evbuffer_pullup(s->client.in, PROTO_HEADER_LEN);
	if (h)
		f->seq = h[3] = seq;
}

/* Move the rest of a streamed client frame (and any continuation frames)
 * to the backend, or drop it when tandem answers the command itself.
 * Returns true when the whole command has been sent. */
static bool stream_command(struct session *s)
{
	struct evbuffer *in = s->client.in;
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (s->cmd_left > 0) {
			size_t take = avail < s->cmd_left ? avail : (size_t)s->cmd_left;
			if (s->sf.cmd_discard) {
				evbuffer_drain(in, take);
			} else {
				evbuffer_remove_buffer(in, s->backend.out, take);
				stat_add(&s->wt->stats->bytes_from_clients, take);
			}
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
		zip_renumber(s, &f, s->cfr.next_seq);
		int rc = proto_framer_next(&s->cfr, &f, &starts, &ends);
		if (rc < 0) {
			stat_add(&s->wt->stats->client_errors, 1);
			/* The sequence id a server answers with: after the frame
			 * that made the packet too large; 1 for frames out of
			 * order (MariaDB's answer to a frame it cannot follow). */
			s->cfr.next_seq = rc == PROTO_E_TOO_LARGE ? (uint8_t)(f.seq + 1) : 1;
			sess_fail(s,
				  rc == PROTO_E_TOO_LARGE ? ER_NET_PACKET_TOO_LARGE
							  : ER_NET_PACKETS_OUT_OF_ORDER,
				  "08S01", "%s",
				  rc == PROTO_E_TOO_LARGE
					  ? "Got a packet bigger than 'max_allowed_packet' bytes"
					  : "Got packets out of order");
			return false;
		}
		s->cmd_left = PROTO_HEADER_LEN + (uint64_t)f.len;
	}
}

/*
 * The statement moved to a new backend, which has no parameter types for
 * it, and the client (which does not know) sent none: put the kept types
 * into the command, in the client's input where it waits to be forwarded.
 * p is invalid afterwards; *len is the new payload length. False when the
 * command was answered with an error instead.
 */
static bool with_types(struct session *s, uint8_t *p, bool whole, uint32_t *len)
{
	uint32_t id = s->sf.exec_types_for;
	s->sf.exec_types_for = 0;
	size_t nlen = 0;
	uint8_t *np = whole ? sess_facts_exec_types(s, id, p, *len, &nlen) : NULL;
	if (!np) {
		answer_self(s, *len, whole, ER_WRONG_ARGUMENTS, "HY000",
			    "tandem: this statement moved to a new server after a failover and its "
			    "parameter types could not be sent again; prepare it again");
		return false;
	}
	uint8_t hdr[PROTO_HEADER_LEN];
	proto_frame_build(hdr, (uint32_t)nlen, 0);
	evbuffer_drain(s->client.in, PROTO_HEADER_LEN + *len);
	evbuffer_prepend(s->client.in, np, nlen);
	evbuffer_prepend(s->client.in, hdr, sizeof(hdr));
	free(np);
	*len = (uint32_t)nlen;
	return true;
}

/* One whole (or, for a large one, the head of a) client command.
 * p holds `have` payload bytes of a frame of `len`; statement ids are
 * rewritten in place. Returns false when the session must stop reading
 * commands now. */
static bool dispatch_command(struct session *s, uint8_t *p, size_t have, uint32_t len)
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
	if (s->mg.pending) {
		/* The session moved after a failover and lost something: this
		 * command's answer says so (migrate.c), and it is not run. */
		uint16_t code;
		const char *state, *msg;
		if (sess_migrate_owed(s, p, have, &code, &state, &msg)) {
			stat_add(&s->wt->stats->failover_errors, 1);
			answer_self(s, len, whole, code, state, msg);
			return true;
		}
	}
	if (cmd == COM_CHANGE_USER) {
		/* a login in the middle of the session: change_user.c reads it
		 * (the enter of CHANGE_USER_START) */
		sess_set_state(s, SESS_CHANGE_USER_START);
		return false;
	}
	/* A client's KILL names its greeting ids: the server knows the current ones. */
	if (whole && (cmd == COM_QUERY || cmd == COM_PROCESS_KILL)) {
		if (conn_ids_kill_rewrite(s, &p, &len) < 0) {
			sess_fail(s, ER_OUT_OF_RESOURCES_, "HY000", "tandem: out of memory");
			return false;
		}
		have = len;
	}
	uint32_t client_stmt = 0;
	if (proto_cmd_has_stmt_id(cmd)) {
		uint16_t code;
		char msg[160];
		proto_stmt_id_parse(p, have, &client_stmt);
		if (sess_facts_stmt_id(s, p, have, &code, msg, sizeof(msg)) < 0) {
			answer_self(s, len, whole, code, "HY000", msg);
			return true;
		}
	}
	int rc = proto_tracker_start(&s->tr, p, have);
	if (rc == PROTO_E_UNSUPPORTED) {
		char msg[128];
		snprintf(msg, sizeof(msg), "tandem: %s is not forwarded", proto_cmd_name(cmd));
		answer_self(s, len, whole, ER_UNKNOWN_COM_ERROR, "08S01", msg);
		return true;
	}
	if (rc < 0) {
		answer_self(s, len, whole, ER_MALFORMED_PACKET, "HY000",
			    "Malformed communication packet");
		return true;
	}
	sess_facts_command(s, p, have, whole);
	/* Tagged before it is kept: a rerun or a replay sends the tag too. */
	sess_guard_command(s, &p, &have, &len, whole, client_stmt);
	sess_migrate_keep(s, p, have, len, client_stmt);
	sess_replay_command(s, p, have, len, client_stmt);
	if (s->sf.exec_types_for && !with_types(s, p, whole, &len))
		return true;
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
			if (s->sf.cmd_discard) {
				discard_done(s);
			} else if (s->cmd_expects_result) {
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
		zip_renumber(s, &f, 0);
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
		/* A large command streams through; its head is enough to route it
		 * (and to classify the start of its SQL). */
		size_t need = f.len <= CMD_WHOLE_MAX ? f.len : 1024;
		if (avail < PROTO_HEADER_LEN + need)
			break;
		bool starts, ends;
		proto_framer_reset_seq(&s->cfr, 0);
		s->cfr.continued = false;
		proto_framer_next(&s->cfr, &f, &starts, &ends);
		/* The pulled-up bytes are the buffer's own: statement ids are
		 * rewritten there before the bytes move on. */
		uint8_t *p = evbuffer_pullup(in, (ssize_t)(PROTO_HEADER_LEN + need));
		if (!p) {
			sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
			return;
		}
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
			bool refused = s->backend.error == EPIPE || s->backend.error == ECONNRESET;
			if (refused && (s->state == SESS_COMMAND || s->state == SESS_RESULT)) {
				/* The server stopped reading a command (one larger
				 * than its max_allowed_packet: ERR 1153, then its
				 * close). What it said and its close arrive on the
				 * backend's read side, which decides; the rest of
				 * the client's bytes wait. */
				conn_read_disable(&s->client);
				return;
			}
			sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
				  "tandem: lost the connection to the database server");
			return;
		}
		watch_backpressure(s, &s->client, &s->backend);
	}
}


/* ----------------------------------------------------- response scan */

/* What became of one scanned response packet. */
enum pkt_action {
	PKT_PASS,     /* it stays in place and goes to the client with the rest */
	PKT_REPLACED, /* it was cut out of the input (and replaced in the output) */
	PKT_FAILED,   /* the session failed */
};

/* Hand the first n scanned bytes of the backend's input to the client,
 * or drop them while a refused file request's response is swallowed. */
static void pass_on(struct session *s, size_t n)
{
	if (n == 0)
		return;
	if (s->sf.discard) {
		evbuffer_drain(s->backend.in, n);
		return;
	}
	evbuffer_remove_buffer(s->backend.in, s->client.out, n);
	stat_add(&s->wt->stats->bytes_to_clients, n);
	s->mg.answered = true;
}

/* Cut the frame of len payload bytes at `start` out of the input; what
 * precedes it goes on first, then pkt (n bytes, may be NULL) in its place. */
static enum pkt_action replace_frame(struct session *s, size_t start, uint32_t len,
				     const uint8_t *pkt, size_t n)
{
	pass_on(s, start);
	evbuffer_drain(s->backend.in, PROTO_HEADER_LEN + (size_t)len);
	if (pkt && n && !s->sf.discard) {
		evbuffer_add(s->client.out, pkt, n);
		stat_add(&s->wt->stats->bytes_to_clients, n);
		s->mg.answered = true;
	}
	return PKT_REPLACED;
}

static enum pkt_action reshape_ok(struct session *s, size_t start, const struct proto_frame *f,
				  const struct proto_ok *ok)
{
	uint8_t buf[REPLACE_STACK], *pkt = buf;
	size_t n = sess_ok_build(s, ok, f->seq, buf, sizeof(buf), &pkt);
	if (!pkt) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
		return PKT_FAILED;
	}
	if (!n)
		return PKT_PASS;
	replace_frame(s, start, f->len, pkt, n);
	if (pkt != buf)
		free(pkt);
	return PKT_REPLACED;
}

/* An EOF keeps its shape, but its status must not tell a client without
 * session tracking that state changed (the flag is the backend leg's). */
static enum pkt_action clear_eof_flag(struct session *s, size_t start, const struct proto_frame *f,
				      const struct proto_eof *eof)
{
	uint8_t pkt[PROTO_HEADER_LEN + 8];
	struct proto_wr w;
	proto_wr_init(&w, pkt, sizeof(pkt));
	struct proto_eof plain = *eof;
	plain.status &= (uint16_t)~SERVER_SESSION_STATE_CHANGED;
	proto_eof_build(&w, f->seq, &plain);
	return replace_frame(s, start, f->len, pkt, w.len);
}

/* A prepare OK: the client gets tandem's id for the statement. */
static enum pkt_action renumber_prepare(struct session *s, size_t start,
					const struct proto_frame *f,
					const struct proto_prepare_ok *prep)
{
	uint32_t id = sess_facts_prepared(s, prep);
	size_t n = PROTO_HEADER_LEN + (size_t)f->len;
	uint8_t buf[REPLACE_STACK];
	uint8_t *pkt = n <= sizeof(buf) ? buf : malloc(n);
	if (!id || !pkt) {
		if (pkt && pkt != buf)
			free(pkt);
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
		return PKT_FAILED;
	}
	struct evbuffer_ptr pos;
	evbuffer_ptr_set(s->backend.in, &pos, start, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(s->backend.in, &pos, pkt, n);
	proto_stmt_id_patch(pkt + PROTO_HEADER_LEN, id);
	replace_frame(s, start, f->len, pkt, n);
	if (pkt != buf)
		free(pkt);
	return PKT_REPLACED;
}

/*
 * The server asked for a local file the client did not request (or may
 * not send). It is never forwarded. For a single statement, the server
 * gets an empty file (the statement loads nothing) and the client an ERR
 * in place of the statement's result; the server's own answer is
 * swallowed and the session goes on. In a multi-statement text the server
 * would then run the statements after it, which the client (seeing an
 * ERR) believes did not run: the session ends instead, and the closed
 * connection makes the server abort the statement.
 */
static enum pkt_action refuse_infile(struct session *s, size_t start, const struct proto_frame *f)
{
	static const char msg[] =
		"tandem: refused the server's request for a local file: the statement is not "
		"LOAD DATA LOCAL INFILE, or LOCAL INFILE is not enabled for this tenant and client";
	log_warn("session %llu: backend %s asked for a local file the client did not request; "
		 "refused",
		 (unsigned long long)s->id, s->backend_addr);
	if (s->sf.cmd_class.flags & (PROTO_SQL_MULTI | PROTO_SQL_PARTIAL)) {
		pass_on(s, start);
		s->bfr.next_seq = f->seq;
		sess_fail(s, ER_NOT_ALLOWED_COMMAND, "42000", "%s", msg);
		return PKT_FAILED;
	}
	uint8_t err[512];
	struct proto_wr w;
	proto_wr_init(&w, err, sizeof(err));
	proto_err_build(&w, f->seq, ER_NOT_ALLOWED_COMMAND, "42000", msg);
	replace_frame(s, start, f->len, err, w.len);
	uint8_t empty[PROTO_HEADER_LEN];
	proto_frame_build(empty, 0, (uint8_t)(f->seq + 1));
	if (conn_write(&s->backend, empty, sizeof(empty)) < 0) {
		sess_close(s, "backend gone");
		return PKT_FAILED;
	}
	proto_tracker_infile_done(&s->tr);
	s->sf.discard = true;
	if (s->tr.results == 0)
		s->sf.cmd_failed = true;
	return PKT_REPLACED;
}

/*
 * The server's error about a statement names its backend id ("The
 * statement (6) has no open cursor"). The client's id is the same one
 * unless a move made them differ: then the text gets the client's.
 */
static enum pkt_action stmt_err_id(struct session *s, size_t start, const struct proto_frame *f,
				   const struct proto_err_pkt *e)
{
	uint8_t cmd = s->tr.cmd;
	if (cmd != COM_STMT_EXECUTE && cmd != COM_STMT_FETCH && cmd != COM_STMT_RESET &&
	    cmd != COM_STMT_BULK_EXECUTE)
		return PKT_PASS;
	uint32_t id =
		s->mg.cmd_client_id == UINT32_MAX ? s->sf.f.last_stmt_id : s->mg.cmd_client_id;
	const struct proto_facts_stmt *st = id ? proto_facts_stmt_find(&s->sf.f, id) : NULL;
	if (!st || st->backend_id == id || e->message.len > 400)
		return PKT_PASS;
	char msg[512], want[16];
	memcpy(msg, e->message.p, e->message.len);
	msg[e->message.len] = 0;
	snprintf(want, sizeof(want), "(%u)", st->backend_id);
	char *at = strstr(msg, want);
	if (!at)
		return PKT_PASS;
	char text[560];
	snprintf(text, sizeof(text), "%.*s(%u)%s", (int)(at - msg), msg, id, at + strlen(want));
	char state[6];
	memcpy(state, e->sqlstate, sizeof(state));
	uint8_t pkt[PROTO_HEADER_LEN + 600];
	struct proto_wr w;
	proto_wr_init(&w, pkt, sizeof(pkt));
	proto_err_build(&w, f->seq, e->code, state, text);
	return replace_frame(s, start, f->len, pkt, w.len);
}

/* An OK: the facts learn from it, the commit guard sees it, and the
 * client gets it in its own shape. */
static enum pkt_action on_ok(struct session *s, size_t start, const struct proto_frame *f,
			     const struct proto_ok *ok)
{
	sess_facts_ok(s, ok);
	sess_guard_ok(s, ok);
	if (f->len < PROTO_MAX_FRAME && sess_ok_carries_state(s, ok))
		return reshape_ok(s, start, f, ok);
	return PKT_PASS;
}

/* Facts and rewrites for one packet the tracker has just read. */
static enum pkt_action on_packet(struct session *s, size_t start, const struct proto_frame *f,
				 const struct proto_rt_event *ev)
{
	switch (ev->kind) {
	case RT_PKT_OK:
		return on_ok(s, start, f, &ev->ok);
	case RT_PKT_EOF:
		if ((ev->eof.status & SERVER_SESSION_STATE_CHANGED) &&
		    (s->backend_caps & ~s->client_caps & CLIENT_SESSION_TRACK) && f->len == 5)
			return clear_eof_flag(s, start, f, &ev->eof);
		return PKT_PASS;
	case RT_PKT_ERR:
		if (s->tr.results == 0)
			s->sf.cmd_failed = true;
		return stmt_err_id(s, start, f, &ev->err);
	case RT_PKT_PREPARE_OK:
		return renumber_prepare(s, start, f, &ev->prepare);
	case RT_PKT_LOCAL_INFILE:
		if (s->sf.infile_left > 0) {
			s->sf.infile_left--;
			return PKT_PASS;
		}
		return refuse_infile(s, start, f);
	default:
		return PKT_PASS;
	}
}

/* ------------------------------------------------------ response read */

/* One pass of sess_result_read over the backend's input. */
struct result_scan {
	struct evbuffer *in; /* s->backend.in */
	size_t avail;        /* bytes in `in` since the scan (re)started */
	size_t off;          /* bytes scanned: they go to the client at the end */
	int outcome;         /* RT_MORE, RT_DONE, or RT_INFILE (a file is asked for) */
};

/* The rest of a packet whose head was scanned in an earlier read. */
static void scan_rest(struct session *s, struct result_scan *sc)
{
	size_t left = sc->avail - sc->off;
	size_t take = left < s->resp_left ? left : (size_t)s->resp_left;
	sess_replay_more(s, sc->off, take);
	sc->off += take;
	s->resp_left -= take;
}

/* The bytes from off that lie in one chain (usually the whole read):
 * frames are looked at there, and copied out only when the part the
 * tracker needs straddles two chains. */
static void scan_peek(const struct result_scan *sc, struct evbuffer_ptr *pos, const uint8_t **at,
		      size_t *run)
{
	struct evbuffer_iovec v = {0};
	evbuffer_ptr_set(sc->in, pos, sc->off, EVBUFFER_PTR_SET);
	evbuffer_peek(sc->in, -1, pos, &v, 1);
	*at = v.iov_base;
	*run = v.iov_len;
}

/* Plain rows go by without a look each (a transaction being recorded for
 * replay hashes them one by one instead). True when some went by. */
static bool scan_rows(struct session *s, struct result_scan *sc, const uint8_t *at, size_t run)
{
	if (s->rp.recording)
		return false;
	uint8_t seq;
	size_t rows = proto_tracker_skip_rows(&s->tr, at, run, &seq);
	if (rows == 0)
		return false;
	sc->off += rows;
	s->bfr.next_seq = (uint8_t)(seq + 1);
	return true;
}

/* The next frame's header (*h: its first bytes, from the chain or copied
 * into head) and how much of its payload the tracker wants. False when
 * more bytes must arrive first. */
static bool scan_frame(struct session *s, const struct result_scan *sc, struct evbuffer_ptr *pos,
		       const uint8_t *at, size_t run, uint8_t head[PROTO_HEADER_LEN + 1],
		       const uint8_t **h, struct proto_frame *f, uint32_t *want)
{
	size_t left = sc->avail - sc->off;
	*h = at;
	if (run <= PROTO_HEADER_LEN) {
		evbuffer_copyout_from(sc->in, pos, head,
				      left > PROTO_HEADER_LEN ? PROTO_HEADER_LEN + 1
							      : PROTO_HEADER_LEN);
		*h = head;
	}
	proto_frame_parse(*h, PROTO_HEADER_LEN + 1, f);
	/* the first payload byte tells rows from terminators; an empty frame
	 * (the end of a 16 MiB+ packet) has none to wait for */
	if (f->len > 0 && left < PROTO_HEADER_LEN + 1)
		return false;
	*want = proto_tracker_want(&s->tr, f->len, (*h)[PROTO_HEADER_LEN]);
	/* A prepare OK is renumbered: all of it must be here. */
	size_t need = *want;
	if (s->tr.state == RT_PREPARE_FIRST && (*h)[PROTO_HEADER_LEN] == PROTO_OK_HEADER)
		need = f->len;
	return left >= PROTO_HEADER_LEN + need;
}

/* Feed the tracker the part of the frame it wants (copied into stack, or
 * *heap, when it straddles two chains; ev may point there until the
 * caller frees *heap). False when the session failed. */
static bool scan_feed(struct session *s, const struct result_scan *sc, const uint8_t *h, size_t run,
		      const struct proto_frame *f, uint32_t want, uint8_t stack[SCAN_STACK],
		      uint8_t **heap, struct proto_rt_event *ev, int *rc)
{
	const uint8_t *payload = h + PROTO_HEADER_LEN;
	if (want > 1 && run < PROTO_HEADER_LEN + (size_t)want) {
		uint8_t *dst = want <= SCAN_STACK ? stack : (*heap = malloc(want));
		if (!dst) {
			sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
			return false;
		}
		struct evbuffer_ptr pos;
		evbuffer_ptr_set(sc->in, &pos, sc->off + PROTO_HEADER_LEN, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(sc->in, &pos, dst, want);
		payload = dst;
	}
	*rc = proto_tracker_feed(&s->tr, payload, want ? want : (f->len ? 1 : 0), f->len, ev);
	if (*rc >= 0)
		return true;
	free(*heap);
	*heap = NULL;
	log_warn("session %llu: backend %s broke the protocol in state %s: %s",
		 (unsigned long long)s->id, s->backend_addr, proto_rt_state_name(s->tr.state),
		 proto_strerror(*rc));
	pass_on(s, sc->off);
	s->bfr.next_seq = f->seq;
	sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
		  "tandem: the database server sent a malformed response (%s)",
		  proto_strerror(*rc));
	return false;
}

/* Past the packet just fed: a replaced one took everything before it
 * along, so scanning restarts; a passed one is skipped, its rest (not
 * arrived yet) counted in resp_left. */
static void scan_advance(struct session *s, struct result_scan *sc, enum pkt_action act,
			 const struct proto_frame *f)
{
	if (act == PKT_REPLACED) {
		sc->off = 0;
		sc->avail = evbuffer_get_length(sc->in);
		return;
	}
	size_t pkt = PROTO_HEADER_LEN + (size_t)f->len;
	if (sc->avail - sc->off >= pkt) {
		sc->off += pkt;
	} else {
		s->resp_left = pkt - (sc->avail - sc->off);
		sc->off = sc->avail;
	}
}

/* Everything scanned goes to the client at once; then the response goes
 * on, asks for a file, or is done. */
static void scan_finish(struct session *s, const struct result_scan *sc)
{
	pass_on(s, sc->off);
	if (conn_flush(&s->client) < 0) {
		sess_close(s, "client gone");
		return;
	}
	if (sc->outcome == RT_INFILE) {
		/* its enter reads the file data (machine.c) */
		s->cfr.next_seq = s->bfr.next_seq;
		s->cfr.continued = false;
		sess_set_state(s, SESS_LOCAL_INFILE);
		return;
	}
	if (s->result_done && s->resp_left == 0) {
		result_done(s);
		return;
	}
	watch_backpressure(s, &s->backend, &s->client);
}

/* Scan the backend's bytes frame by frame through the tracker, then pass
 * everything scanned to the client at once. */
void sess_result_read(struct session *s)
{
	/* Answers to tandem's own statements come first and go nowhere. */
	if (own_pending(s) && !own_read(s))
		return;
	struct result_scan sc = {s->backend.in, evbuffer_get_length(s->backend.in), 0, RT_MORE};
	uint8_t stack[SCAN_STACK];
	while (sc.off < sc.avail && (s->resp_left > 0 || !s->result_done)) {
		if (s->resp_left > 0) {
			scan_rest(s, &sc);
			continue;
		}
		if (sc.avail - sc.off < PROTO_HEADER_LEN)
			break;
		struct evbuffer_ptr pos;
		const uint8_t *at, *h;
		size_t run;
		scan_peek(&sc, &pos, &at, &run);
		if (scan_rows(s, &sc, at, run))
			continue;
		uint8_t head[PROTO_HEADER_LEN + 1] = {0};
		struct proto_frame f;
		uint32_t want;
		if (!scan_frame(s, &sc, &pos, at, run, head, &h, &f, &want))
			break;
		struct proto_rt_event ev;
		uint8_t *heap = NULL;
		int rc;
		if (!scan_feed(s, &sc, h, run, &f, want, stack, &heap, &ev, &rc))
			return;
		s->bfr.next_seq = (uint8_t)(f.seq + 1);
		sess_replay_frame(s, &ev, sc.off, f.len);
		/* ev may point into `in`: on_packet reads it before it cuts or
		 * moves anything there. */
		enum pkt_action act = on_packet(s, sc.off, &f, &ev);
		free(heap); /* ev points into it until here */
		if (act == PKT_FAILED)
			return;
		scan_advance(s, &sc, act, &f);
		if (rc == RT_DONE) {
			s->result_done = true;
			sc.outcome = RT_DONE;
		} else if (rc == RT_INFILE && act == PKT_PASS) {
			sc.outcome = RT_INFILE;
			break;
		}
	}
	scan_finish(s, &sc);
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
		zip_renumber(s, &f, s->cfr.next_seq);
		if (f.seq != s->cfr.next_seq) {
			sess_fail(s, ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
				  "Got packets out of order");
			return;
		}
		s->cfr.next_seq = (uint8_t)(f.seq + 1);
		s->cmd_left = PROTO_HEADER_LEN + (uint64_t)f.len;
		s->infile_last = f.len == 0;
	}
	if (conn_flush(&s->backend) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
			  "tandem: lost the connection to the database server");
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
