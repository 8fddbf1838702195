/*
 * guard_lookup.c — one binlog read-back for the commit guard (see
 * guard_lookup.h): a detached thread with blocking Connector/C calls
 * bounded by socket timeouts, its answer handed back through an eventfd
 * read by an event on the caller's event base.
 */
#include "health/guard_lookup.h"

#include <event2/event.h>
#include <mysql.h>
/* after mysql.h, whose types it uses */
#include <mariadb_rpl.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "health/gtid.h"
#include "protocol/binlog_rows.h"
#include "protocol/sqlmatch.h"

struct hc_guard_lookup {
	struct hc_guard_query q;
	struct hc_guard_answer a;
	int fd;             /* eventfd the thread writes once it is done */
	struct event *done; /* reads fd on the caller's base (not locked: only the fd
			       crosses threads) */
	hc_guard_cb cb;
	void *arg;
	bool cancelled; /* caller's thread only */
};

/* What the scan knows of the transaction being read. */
struct scan {
	uint32_t domain;
	uint32_t server;
	uint64_t seq;
	bool in_trx;
	bool standalone;  /* its GTID event says it has no COMMIT/XID of its own */
	bool tagged;      /* a statement of it carries the tag */
	bool stmt_upsert; /* the current statement is an INSERT/REPLACE (an update counts 2) */
	uint64_t affected;
	uint64_t insert_id;
	bool uncounted;  /* a rows event could not be walked: affected is a floor */
	bool have_first; /* the first written row of a tagged statement is kept */
	char db[65], table[65];
	uint64_t first_row[64]; /* integer columns of that row (others 0) */
	bool first_int[64];
	uint32_t first_cols;
	uint64_t pending_insert_id; /* INTVAR INSERT_ID before a statement-format query */
	/* by_text: which of the session's statements each text of this
	 * transaction matches (one bit per pattern), in binlog order */
	uint32_t texts[HC_GUARD_PATTERNS + 1];
	unsigned ntexts;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static MYSQL *open_conn(const struct hc_guard_query *q, char *why, size_t whylen)
{
	MYSQL *my = mysql_init(NULL);
	if (!my) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	unsigned secs = (unsigned)((q->timeout_ms + 999) / 1000);
	unsigned proto = MYSQL_PROTOCOL_TCP;
	my_bool off = 0;
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
	mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &secs);
	mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &secs);
	mysql_options(my, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(my, MYSQL_OPT_LOCAL_INFILE, &off);
	if (q->tls) {
		my_bool on = 1, verify = q->verify_identity;
		if (q->ca[0])
			mysql_options(my, MYSQL_OPT_SSL_CA, q->ca);
		if (q->cert[0])
			mysql_options(my, MYSQL_OPT_SSL_CERT, q->cert);
		if (q->key[0])
			mysql_options(my, MYSQL_OPT_SSL_KEY, q->key);
		mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	}
	if (!mysql_real_connect(my, q->host, q->user, q->password, NULL, q->port, NULL, 0)) {
		snprintf(why, whylen, "monitor login to %.40s:%u failed: %.80s", q->host, q->port,
			 mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	return my;
}

/* The server variables without which the binlog cannot tell; pos gets
 * its gtid_binlog_pos. */
static bool can_tell(MYSQL *my, char *pos, size_t poslen, uint32_t *server_id, char *why,
		     size_t whylen)
{
	if (mysql_query(my, "SELECT @@global.log_bin, @@global.log_slave_updates, "
			    "@@global.binlog_annotate_row_events, "
			    "@@global.replicate_annotate_row_events, @@global.gtid_binlog_pos, "
			    "@@global.server_id")) {
		snprintf(why, whylen, "cannot read the binlog settings: %s", mysql_error(my));
		return false;
	}
	MYSQL_RES *res = mysql_store_result(my);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	static const char *const names[] = {"log_bin", "log_slave_updates",
					    "binlog_annotate_row_events",
					    "replicate_annotate_row_events"};
	bool ok = row != NULL;
	for (unsigned i = 0; ok && i < 4; i++)
		if (!row[i] || strcmp(row[i], "1") != 0) {
			snprintf(why, whylen, "%s is off on the new primary", names[i]);
			ok = false;
		}
	if (!row)
		snprintf(why, whylen, "no answer to the binlog settings query");
	else {
		snprintf(pos, poslen, "%s", row[4] ? row[4] : "");
		*server_id = row[5] ? (uint32_t)strtoul(row[5], NULL, 10) : 0;
	}
	if (res)
		mysql_free_result(res);
	return ok;
}

/* The server's binlog ends before the session's last acknowledged GTID
 * (asynchronous replication lost it): a later commit of the session
 * cannot be there either — replication applies a domain in order.
 * A position that does not parse tells nothing: the scan decides. */
static bool behind(const char *after, const char *pos)
{
	struct hc_gtid_pos want, have;
	if (hc_gtid_parse(after, strlen(after), &want) != 0 ||
	    hc_gtid_parse(pos, strlen(pos), &have) != 0)
		return false;
	return hc_gtid_missing(&have, &want, NULL, 0) > 0;
}

static bool gtid_text_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == ','))
			return false;
	return true;
}

/* After the tag and any other leading comments/space: INSERT or REPLACE? */
static bool is_insert(const char *sql, size_t len)
{
	size_t i = 0;
	for (;;) {
		while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' ||
				   sql[i] == '\r' || sql[i] == '('))
			i++;
		if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
			const char *e = memmem(sql + i + 2, len - i - 2, "*/", 2);
			if (!e)
				return false;
			i = (size_t)(e - sql) + 2;
			continue;
		}
		break;
	}
	return (len - i >= 6 && strncasecmp(sql + i, "insert", 6) == 0) ||
	       (len - i >= 7 && strncasecmp(sql + i, "replace", 7) == 0);
}

static bool has_tag(const struct hc_guard_query *q, const char *s, size_t len)
{
	size_t tl = strlen(q->tag);
	return tl && len >= tl && memmem(s, len, q->tag, tl) != NULL;
}

/* by_text: the session's statements this logged text is (a bit each). */
static uint32_t text_bits(const struct hc_guard_query *q, const char *t, size_t len)
{
	uint32_t bits = 0;
	for (unsigned i = 0; i < q->npat; i++)
		if (proto_sql_logged_match(q->pat[i].text, q->pat[i].len, q->pat[i].tpl, t, len,
					   q->pat[i].no_backslash))
			bits |= 1u << i;
	return bits;
}

/* A logged text of the transaction being read; true when it is one of the
 * session's statements. */
static bool note_text(const struct hc_guard_query *q, struct scan *sc, const char *t, size_t len)
{
	uint32_t bits = text_bits(q, t, len);
	if (sc->ntexts < HC_GUARD_PATTERNS + 1)
		sc->texts[sc->ntexts] = bits;
	sc->ntexts++;
	return bits != 0;
}

/* Whether the transaction's texts are the session's statements in order,
 * leaving out only statements that may have logged nothing (changed no
 * row, or ran without an answer): texts[i..] against pat[j..]. */
static bool texts_are(const struct hc_guard_query *q, const struct scan *sc, unsigned i, unsigned j)
{
	if (i == sc->ntexts) {
		for (; j < q->npat; j++)
			if (q->pat[j].certain)
				return false;
		return true;
	}
	if (j == q->npat)
		return false;
	if ((sc->texts[i] & (1u << j)) && texts_are(q, sc, i + 1, j + 1))
		return true;
	return !q->pat[j].certain && texts_are(q, sc, i, j + 1);
}

static bool trx_matches(const struct hc_guard_query *q, const struct scan *sc)
{
	if (!q->by_text)
		return sc->tagged;
	return sc->ntexts >= 1 && sc->ntexts <= q->npat && texts_are(q, sc, 0, 0);
}

static void rows_event(struct scan *sc, const MARIADB_RPL_EVENT *tm, const MARIADB_RPL_EVENT *ev,
		       bool stmt_tagged)
{
	if (!sc->in_trx || !stmt_tagged || !tm)
		return;
	enum mariadb_rpl_event t = ev->event_type;
	bool update = t == UPDATE_ROWS_EVENT_V1 || t == UPDATE_ROWS_EVENT;
	bool write = t == WRITE_ROWS_EVENT_V1 || t == WRITE_ROWS_EVENT;
	bool del = t == DELETE_ROWS_EVENT_V1 || t == DELETE_ROWS_EVENT;
	const struct st_mariadb_rpl_table_map_event *m = &tm->event.table_map;
	const struct st_mariadb_rpl_rows_event *r = &ev->event.rows;
	if (!(update || write || del) || r->compressed || r->column_count != m->column_count ||
	    m->column_types.length != m->column_count || !r->column_bitmap) {
		sc->uncounted = true; /* compressed, or not what the table map says */
		return;
	}
	struct proto_binlog_table tb = {
		.types = (const uint8_t *)m->column_types.str,
		.ncols = m->column_count,
		.meta = (const uint8_t *)m->metadata.str,
		.meta_len = m->metadata.length,
	};
	struct proto_binlog_rows out;
	if (proto_binlog_rows_count(&tb, r->column_bitmap, update ? r->column_update_bitmap : NULL,
				    (const uint8_t *)r->row_data, r->row_data_size, &out) < 0) {
		sc->uncounted = true;
		return;
	}
	if (update)
		sc->affected += sc->stmt_upsert ? 2 * out.rows : out.rows;
	else
		sc->affected += out.rows;
	/* the insert id: the first written row's, or the updated row's for an
	 * upsert that updated (the server reports that row's id) */
	if ((write || (update && sc->stmt_upsert)) && out.rows && !sc->have_first) {
		sc->have_first = true;
		snprintf(sc->db, sizeof(sc->db), "%.*s", (int)m->database.length, m->database.str);
		snprintf(sc->table, sizeof(sc->table), "%.*s", (int)m->table.length, m->table.str);
		sc->first_cols = out.first_cols;
		memcpy(sc->first_row, out.first_int, sizeof(sc->first_row));
		memcpy(sc->first_int, out.first_is_int, sizeof(sc->first_int));
	}
}

/* The auto-increment column's value in the first written row. */
static uint64_t first_insert_id(const struct hc_guard_query *q, const struct scan *sc)
{
	char why[160];
	MYSQL *my = open_conn(q, why, sizeof(why));
	if (!my)
		return 0;
	char db[140], tb[140], sql[512];
	mysql_real_escape_string(my, db, sc->db, (unsigned long)strlen(sc->db));
	mysql_real_escape_string(my, tb, sc->table, (unsigned long)strlen(sc->table));
	snprintf(sql, sizeof(sql),
		 "SELECT ORDINAL_POSITION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
		 "'%s' AND TABLE_NAME = '%s' AND EXTRA LIKE '%%auto_increment%%'",
		 db, tb);
	uint64_t id = 0;
	if (!mysql_query(my, sql)) {
		MYSQL_RES *res = mysql_store_result(my);
		MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
		unsigned long pos = row && row[0] ? strtoul(row[0], NULL, 10) : 0;
		if (pos >= 1 && pos <= sc->first_cols && sc->first_int[pos - 1])
			id = sc->first_row[pos - 1];
		if (res)
			mysql_free_result(res);
	}
	mysql_close(my);
	return id;
}

/* Read the binlog from after_gtid to its end. */
static void scan_binlog(struct hc_guard_lookup *l, MYSQL *my)
{
	const struct hc_guard_query *q = &l->q;
	struct hc_guard_answer *a = &l->a;
	char sql[200];
	snprintf(sql, sizeof(sql), "SET @slave_connect_state = '%s'", q->after_gtid);
	if (mysql_query(my, "SET @master_binlog_checksum = @@global.binlog_checksum") ||
	    mysql_query(my, "SET @mariadb_slave_capability = 4") || mysql_query(my, sql)) {
		snprintf(a->why, sizeof(a->why), "cannot set up the binlog dump: %s",
			 mysql_error(my));
		return;
	}
	MARIADB_RPL *rpl = mariadb_rpl_init(my);
	if (!rpl) {
		snprintf(a->why, sizeof(a->why), "cannot start a binlog dump: %s", mysql_error(my));
		return;
	}
	/* A dump connection is identified by its server id: the server drops
	 * an older connection with the same one, so take a random id far
	 * from the small numbers servers use. */
	uint32_t sid = 0;
	if (getrandom(&sid, sizeof(sid), 0) != sizeof(sid))
		sid = (uint32_t)(uintptr_t)l;
	sid = 0x40000000u | (sid & 0x3fffffffu);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, (unsigned int)sid);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS,
			     (unsigned int)(MARIADB_RPL_BINLOG_DUMP_NON_BLOCK |
					    MARIADB_RPL_BINLOG_SEND_ANNOTATE_ROWS));
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, "", (size_t)0);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)4);
	if (mariadb_rpl_open(rpl)) {
		snprintf(a->why, sizeof(a->why), "the binlog dump was refused: %s",
			 mysql_error(my));
		mariadb_rpl_close(rpl);
		return;
	}
	struct scan sc;
	memset(&sc, 0, sizeof(sc));
	MARIADB_RPL_EVENT *tm = NULL; /* the table map the next rows event refers to */
	bool stmt_tagged = false;
	bool found = false, overflow = false;
	/* The cut-off commit ran on the old primary: a match with the new
	 * primary's server id is a commit made there since, unless the
	 * session's last GTID says it wrote to this server already. */
	struct hc_gtid_pos last; /* the window's start, parsed once (empty if unreadable) */
	bool same_server = hc_gtid_parse(q->after_gtid, strlen(q->after_gtid), &last) == 0 &&
			   last.n == 1 && last.g[0].server == a->server_id;
	/* The socket timeouts bound each read; this bounds the whole scan
	 * (a session with no commit yet reads from the oldest binlog). */
	int64_t deadline = now_ms() + q->timeout_ms;
	for (;;) {
		if (now_ms() > deadline) {
			snprintf(a->why, sizeof(a->why),
				 "the binlog read-back took longer than %d ms", q->timeout_ms);
			break;
		}
		MARIADB_RPL_EVENT *ev = mariadb_rpl_fetch(rpl, NULL);
		if (!ev) {
			if (mysql_errno(my))
				snprintf(a->why, sizeof(a->why), "reading the binlog failed: %s",
					 mysql_error(my));
			else
				a->result = HC_GUARD_ABSENT; /* EOF: the end of the binlog */
			break;
		}
		bool keep = false;
		switch (ev->event_type) {
		case GTID_EVENT:
			memset(&sc, 0, sizeof(sc));
			sc.in_trx = true;
			sc.domain = ev->event.gtid.domain_id;
			sc.server = ev->server_id;
			sc.seq = ev->event.gtid.sequence_nr;
			sc.standalone = (ev->event.gtid.flags & FL_STANDALONE) != 0;
			stmt_tagged = false;
			break;
		case ANNOTATE_ROWS_EVENT:
			stmt_tagged =
				q->by_text
					? sc.in_trx &&
						  note_text(
							  q, &sc,
							  ev->event.annotate_rows.statement.str,
							  ev->event.annotate_rows.statement.length)
					: has_tag(q, ev->event.annotate_rows.statement.str,
						  ev->event.annotate_rows.statement.length);
			sc.stmt_upsert = is_insert(ev->event.annotate_rows.statement.str,
						   ev->event.annotate_rows.statement.length);
			sc.tagged |= stmt_tagged;
			break;
		case INTVAR_EVENT:
			if (ev->event.intvar.type == 2 /* INSERT_ID_EVENT */)
				sc.pending_insert_id = ev->event.intvar.value;
			break;
		case QUERY_EVENT: {
			const MARIADB_STRING *st = &ev->event.query.statement;
			bool begin = st->length == 5 && strncasecmp(st->str, "BEGIN", 5) == 0;
			bool commit = st->length == 6 && strncasecmp(st->str, "COMMIT", 6) == 0;
			if (sc.in_trx && !begin && !commit &&
			    (q->by_text ? note_text(q, &sc, st->str, st->length)
					: has_tag(q, st->str, st->length))) {
				sc.tagged = true; /* statement format: the text itself */
				if (!sc.insert_id)
					sc.insert_id = sc.pending_insert_id;
			}
			sc.pending_insert_id = 0;
			/* COMMIT ends a statement-format transaction; a standalone
			 * group (DDL) is its one statement */
			if (sc.in_trx && (commit || (sc.standalone && !begin))) {
				found = trx_matches(q, &sc);
				sc.in_trx = found;
			}
			break;
		}
		case TABLE_MAP_EVENT:
			mariadb_free_rpl_event(tm);
			tm = ev;
			keep = true;
			break;
		case XID_EVENT:
			found = sc.in_trx && trx_matches(q, &sc);
			sc.in_trx = found;
			break;
		default:
			if (IS_ROW_EVENT(ev))
				rows_event(&sc, tm, ev, stmt_tagged);
			break;
		}
		if (!keep)
			mariadb_free_rpl_event(ev);
		if (found) {
			const struct hc_gtid *prev = hc_gtid_find(&last, sc.domain);
			if (prev && sc.seq <= prev->seq) {
				found = false; /* at or before the last acknowledged commit */
				sc.in_trx = false;
				continue;
			}
			if (q->by_text) {
				/* every match counts: the caller rules out those
				 * acknowledged to other clients */
				found = false;
				sc.in_trx = false;
				if (sc.server == a->server_id && !same_server)
					continue; /* the new primary's own, after the failover */
				if (a->ncand == HC_GUARD_CANDS) {
					snprintf(a->why, sizeof(a->why),
						 "more than %d transactions have this session's "
						 "statements",
						 HC_GUARD_CANDS);
					overflow = true;
					break;
				}
				struct hc_guard_cand *c = &a->cand[a->ncand++];
				c->domain = sc.domain;
				c->server = sc.server;
				c->seq = sc.seq;
				c->affected = sc.affected;
				c->insert_id = sc.insert_id;
				if (!c->insert_id && sc.have_first)
					c->insert_id = first_insert_id(q, &sc);
				continue;
			}
			a->result = HC_GUARD_FOUND;
			a->affected = sc.affected;
			a->insert_id = sc.insert_id;
			snprintf(a->gtid, sizeof(a->gtid), "%u-%u-%llu", sc.domain, sc.server,
				 (unsigned long long)sc.seq);
			break;
		}
	}
	if (q->by_text) {
		if (overflow)
			a->result = HC_GUARD_UNKNOWN;
		else if (a->result == HC_GUARD_ABSENT && a->ncand)
			a->result = HC_GUARD_FOUND; /* read to the end, with candidates */
	}
	mariadb_free_rpl_event(tm);
	mariadb_rpl_close(rpl);
	if (!q->by_text && a->result == HC_GUARD_FOUND && !a->insert_id && sc.have_first)
		a->insert_id = first_insert_id(q, &sc);
}

static void *lookup_main(void *arg)
{
	struct hc_guard_lookup *l = arg;
	struct hc_guard_answer *a = &l->a;
	a->result = HC_GUARD_UNKNOWN;
	if (!gtid_text_ok(l->q.after_gtid)) {
		snprintf(a->why, sizeof(a->why), "the session's last GTID is not readable");
	} else {
		MYSQL *my = open_conn(&l->q, a->why, sizeof(a->why));
		char pos[512] = "";
		if (my && can_tell(my, pos, sizeof(pos), &a->server_id, a->why, sizeof(a->why))) {
			if (behind(l->q.after_gtid, pos))
				a->result = HC_GUARD_ABSENT;
			else
				scan_binlog(l, my);
		}
		if (my)
			mysql_close(my);
	}
	mysql_thread_end();
	uint64_t one = 1;
	/* the caller's base is not thread-safe: it learns of the answer
	 * through the descriptor, as worker_post() wakes a worker */
	while (write(l->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return NULL;
}

static void pats_free(struct hc_guard_query *q)
{
	for (unsigned i = 0; i < q->npat; i++)
		free(q->pat[i].text);
	q->npat = 0;
}

static void lookup_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hc_guard_lookup *l = arg;
	if (!l->cancelled)
		l->cb(l->arg, &l->a);
	event_free(l->done);
	close(l->fd);
	explicit_bzero(l->q.password, sizeof(l->q.password));
	pats_free(&l->q);
	free(l);
}

struct hc_guard_lookup *hc_guard_lookup_start(const struct hc_guard_query *q,
					      struct event_base *base, hc_guard_cb cb, void *arg)
{
	struct hc_guard_lookup *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->q = *q;
	for (unsigned i = 0; i < q->npat && i < HC_GUARD_PATTERNS; i++) {
		l->q.pat[i].text = malloc(q->pat[i].len ? q->pat[i].len : 1);
		if (!l->q.pat[i].text) {
			l->q.npat = i;
			pats_free(&l->q);
			free(l);
			return NULL;
		}
		memcpy(l->q.pat[i].text, q->pat[i].text, q->pat[i].len);
	}
	l->cb = cb;
	l->arg = arg;
	l->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->done = l->fd >= 0 ? event_new(base, l->fd, EV_READ, lookup_done, l) : NULL;
	pthread_t th;
	pthread_attr_t attr;
	bool started = false;
	if (l->done && event_add(l->done, NULL) == 0 && pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&th, &attr, lookup_main, l) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		if (l->done)
			event_free(l->done);
		if (l->fd >= 0)
			close(l->fd);
		explicit_bzero(l->q.password, sizeof(l->q.password));
		pats_free(&l->q);
		free(l);
		return NULL;
	}
	return l;
}

void hc_guard_lookup_cancel(struct hc_guard_lookup *l)
{
	if (l)
		l->cancelled = true;
}
