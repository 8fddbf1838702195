/*
 * facts.c — a session's derived state (see facts.h).
 *
 * Variables are a small array searched linearly: a session changes a
 * handful. Prepared statements are an open-addressing table keyed by the
 * client id, because COM_STMT_EXECUTE looks an id up on every call; ids are
 * handed out sequentially, so a multiplicative hash spreads them without
 * collisions until the table wraps, and deletion shifts entries back
 * instead of leaving tombstones.
 */
#include "protocol/facts.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const marker_names[PROTO_FACTS_NMARKERS] = {
	"temp_table",  "get_lock",         "lock_tables",  "user_vars",
	"sql_prepare", "untracked_change", "tracking_off", "incomplete",
};

const char *proto_facts_marker_name(unsigned marker)
{
	for (unsigned i = 0; i < PROTO_FACTS_NMARKERS; i++)
		if (marker == 1u << i)
			return marker_names[i];
	return NULL;
}

/* A NUL-terminated copy of len bytes, or NULL. */
static char *dup_bytes(const char *p, size_t len)
{
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = 0;
	return s;
}

/* Replace *slot with a copy of (p, len); empty means NULL when
 * empty_is_null. PROTO_OK or PROTO_E_NOMEM (slot unchanged). */
static int set_str(struct proto_facts *f, char **slot, const char *p, size_t len,
		   bool empty_is_null)
{
	char *s = NULL;
	if (len || !empty_is_null) {
		s = dup_bytes(p, len);
		if (!s) {
			f->markers |= PROTO_FACTS_INCOMPLETE;
			return PROTO_E_NOMEM;
		}
	}
	free(*slot);
	*slot = s;
	return PROTO_OK;
}

int proto_facts_init(struct proto_facts *f, uint8_t charset, const char *schema, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->charset = charset;
	f->status = SERVER_STATUS_AUTOCOMMIT;
	if (schema && len)
		return set_str(f, &f->schema, schema, len, true);
	return PROTO_OK;
}

static void free_vars(struct proto_facts *f)
{
	for (size_t i = 0; i < f->nvars; i++) {
		free(f->vars[i].name);
		free(f->vars[i].value);
	}
	free(f->vars);
	f->vars = NULL;
	f->nvars = f->var_cap = 0;
}

static void free_stmts(struct proto_facts *f)
{
	for (uint32_t i = 0; i < f->stmt_cap; i++) {
		free(f->stmts[i].sql);
		free(f->stmts[i].types);
	}
	free(f->stmts);
	f->stmts = NULL;
	f->stmt_cap = f->nstmts = 0;
}

void proto_facts_free(struct proto_facts *f)
{
	free(f->schema);
	free(f->trx_chars);
	free(f->last_gtid);
	free_vars(f);
	free_stmts(f);
	memset(f, 0, sizeof(*f));
}

/* ------------------------------------------------------------ variables */

const struct proto_facts_var *proto_facts_var_find(const struct proto_facts *f, const char *name)
{
	for (size_t i = 0; i < f->nvars; i++)
		if (strcasecmp(f->vars[i].name, name) == 0)
			return &f->vars[i];
	return NULL;
}

static int set_var(struct proto_facts *f, struct proto_str name, struct proto_str value,
		   bool by_client)
{
	for (size_t i = 0; i < f->nvars; i++) {
		struct proto_facts_var *v = &f->vars[i];
		if (strlen(v->name) == name.len && strncasecmp(v->name, name.p, name.len) == 0) {
			int rc = set_str(f, &v->value, value.p, value.len, false);
			if (rc == PROTO_OK && by_client)
				v->changed = true;
			return rc;
		}
	}
	if (f->nvars == f->var_cap) {
		size_t cap = f->var_cap ? f->var_cap * 2 : 8;
		struct proto_facts_var *nv = realloc(f->vars, cap * sizeof(*nv));
		if (!nv) {
			f->markers |= PROTO_FACTS_INCOMPLETE;
			return PROTO_E_NOMEM;
		}
		f->vars = nv;
		f->var_cap = cap;
	}
	struct proto_facts_var v = {dup_bytes(name.p, name.len), dup_bytes(value.p, value.len),
				    by_client};
	if (!v.name || !v.value) {
		free(v.name);
		free(v.value);
		f->markers |= PROTO_FACTS_INCOMPLETE;
		return PROTO_E_NOMEM;
	}
	f->vars[f->nvars++] = v;
	return PROTO_OK;
}

static bool has_prefix(struct proto_str s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.len >= n && strncasecmp(s.p, prefix, n) == 0;
}

/* --------------------------------------------------------- session state */

/* Character-set variables a block named (MariaDB reports a SET NAMES or
 * SET CHARACTER SET by its character sets only, not by the collation it
 * changes with them). */
enum { SEEN_CS_CONNECTION = 1u << 0, SEEN_COLLATION_CONNECTION = 1u << 1 };

static bool name_is(struct proto_str s, const char *name)
{
	size_t n = strlen(name);
	return s.len == n && strncasecmp(s.p, name, n) == 0;
}

static void forget_var(struct proto_facts *f, const char *name)
{
	for (size_t i = 0; i < f->nvars; i++) {
		if (strcasecmp(f->vars[i].name, name) != 0)
			continue;
		free(f->vars[i].name);
		free(f->vars[i].value);
		memmove(&f->vars[i], &f->vars[i + 1], (f->nvars - i - 1) * sizeof(f->vars[0]));
		f->nvars--;
		return;
	}
}

int proto_facts_set_var(struct proto_facts *f, const char *name, const char *value, size_t len)
{
	struct proto_str n = {name, strlen(name)}, v = {value, len};
	return set_var(f, n, v, true);
}

static int apply_item(struct proto_facts *f, const struct proto_track_item *it, bool by_client,
		      unsigned *named, bool *state_changed, unsigned *seen)
{
	switch (it->type) {
	case SESSION_TRACK_SYSTEM_VARIABLES:
		(*named)++;
		if (name_is(it->name, "character_set_connection"))
			*seen |= SEEN_CS_CONNECTION;
		else if (name_is(it->name, "collation_connection"))
			*seen |= SEEN_COLLATION_CONNECTION;
		/* MariaDB reports the GTID of each commit as this variable. */
		if (it->name.len == 9 && strncasecmp(it->name.p, "last_gtid", 9) == 0)
			return it->value.len
				       ? set_str(f, &f->last_gtid, it->value.p, it->value.len, true)
				       : PROTO_OK;
		if (by_client && has_prefix(it->name, "session_track_"))
			f->markers |= PROTO_FACTS_TRACKING_OFF;
		return set_var(f, it->name, it->value, by_client);
	case SESSION_TRACK_SCHEMA:
		/* A CALL reports the schema it restores: no change, explains nothing. */
		if (!(it->value.len == 0 ? f->schema == NULL
					 : f->schema && proto_str_eq(it->value, f->schema)))
			(*named)++;
		return set_str(f, &f->schema, it->value.p, it->value.len, true);
	case SESSION_TRACK_STATE_CHANGE:
		if (proto_str_eq(it->value, "1"))
			*state_changed = true;
		return PROTO_OK;
	case SESSION_TRACK_GTIDS:
		(*named)++;
		return it->value.len ? set_str(f, &f->last_gtid, it->value.p, it->value.len, true)
				     : PROTO_OK;
	case SESSION_TRACK_TRANSACTION_CHARACTERISTICS:
		(*named)++;
		return set_str(f, &f->trx_chars, it->value.p, it->value.len, true);
	case SESSION_TRACK_TRANSACTION_STATE:
		(*named)++;
		if (it->value.len != 8)
			return PROTO_E_MALFORMED;
		memcpy(f->trx_state, it->value.p, 8);
		f->trx_state[8] = 0;
		if (f->trx_state[7] == 'L')
			f->markers |= PROTO_FACTS_LOCK_TABLES;
		else
			f->markers &= ~(unsigned)PROTO_FACTS_LOCK_TABLES;
		return PROTO_OK;
	default:
		return PROTO_OK; /* a newer server's item: skip */
	}
}

int proto_facts_apply_track(struct proto_facts *f, const uint8_t *items, size_t len,
			    unsigned origin)
{
	bool by_client = (origin & PROTO_FACTS_BY_CLIENT) != 0;
	unsigned named = 0, seen = 0;
	bool state_changed = false;
	int result = PROTO_OK;
	struct proto_rd r;
	proto_rd_init(&r, items, len);
	for (;;) {
		struct proto_track_item it;
		int rc = proto_track_next(&r, &it);
		if (rc == 0)
			break;
		if (rc < 0) {
			result = rc;
			break;
		}
		rc = apply_item(f, &it, by_client, &named, &state_changed, &seen);
		if (rc < 0 && result == PROTO_OK)
			result = rc;
	}
	if (state_changed && named == 0 && by_client && !(origin & PROTO_FACTS_EXPLAINED))
		f->markers |= PROTO_FACTS_UNTRACKED;
	/* A new connection character set without its collation: the server
	 * set the collation too (the set's default, or a COLLATE the caller
	 * records with proto_facts_set_var), so the one recorded is stale.
	 * Forgotten, setting the character set again restores the default. */
	if (by_client && (seen & SEEN_CS_CONNECTION) && !(seen & SEEN_COLLATION_CONNECTION))
		forget_var(f, "collation_connection");
	return result;
}

int proto_facts_apply_ok(struct proto_facts *f, const struct proto_ok *ok, unsigned origin)
{
	f->status = ok->status;
	if (!(ok->status & SERVER_SESSION_STATE_CHANGED) || ok->session_state.len == 0)
		return PROTO_OK;
	return proto_facts_apply_track(f, (const uint8_t *)ok->session_state.p,
				       ok->session_state.len, origin);
}

void proto_facts_apply_sql(struct proto_facts *f, const struct proto_sql_class *c)
{
	unsigned fl = c->flags;
	if (fl & PROTO_SQL_TEMP_TABLE)
		f->markers |= PROTO_FACTS_TEMP_TABLE;
	if (fl & PROTO_SQL_GET_LOCK)
		f->markers |= PROTO_FACTS_GET_LOCK;
	if (fl & PROTO_SQL_USER_VAR)
		f->markers |= PROTO_FACTS_USER_VARS;
	if (fl & PROTO_SQL_PREPARE)
		f->markers |= PROTO_FACTS_SQL_PREPARE;
	if (fl & PROTO_SQL_SESSION_TRACK)
		f->markers |= PROTO_FACTS_TRACKING_OFF;
	/* Both in one text: the order is unknown, so the lock may be held. */
	if (fl & PROTO_SQL_LOCK_TABLES)
		f->markers |= PROTO_FACTS_LOCK_TABLES;
	else if (fl & PROTO_SQL_UNLOCK_TABLES)
		f->markers &= ~(unsigned)PROTO_FACTS_LOCK_TABLES;
}

int proto_facts_init_db(struct proto_facts *f, const char *schema, size_t len)
{
	return set_str(f, &f->schema, schema, len, true);
}

int proto_facts_reset(struct proto_facts *f, uint8_t charset, const char *schema, size_t len)
{
	free_vars(f);
	free_stmts(f);
	free(f->trx_chars);
	f->trx_chars = NULL;
	f->trx_state[0] = 0;
	f->markers = 0;
	f->tracking = false;
	f->charset = charset;
	f->status = SERVER_STATUS_AUTOCOMMIT;
	if (schema == f->schema)
		return PROTO_OK;
	return set_str(f, &f->schema, schema, schema ? len : 0, true);
}

/* ---------------------------------------------------- prepared statements */

static uint32_t slot_of(uint32_t id, uint32_t cap)
{
	return (id * 2654435761u) & (cap - 1);
}

const struct proto_facts_stmt *proto_facts_stmt_find(const struct proto_facts *f,
						     uint32_t client_id)
{
	if (f->stmt_cap == 0 || client_id == 0)
		return NULL;
	for (uint32_t i = slot_of(client_id, f->stmt_cap);; i = (i + 1) & (f->stmt_cap - 1)) {
		const struct proto_facts_stmt *st = &f->stmts[i];
		if (st->client_id == client_id)
			return st;
		if (st->client_id == 0)
			return NULL;
	}
}

/* Insert an entry whose id is not in the table (table has room). */
static void place(struct proto_facts_stmt *tab, uint32_t cap, const struct proto_facts_stmt *e)
{
	uint32_t i = slot_of(e->client_id, cap);
	while (tab[i].client_id != 0)
		i = (i + 1) & (cap - 1);
	tab[i] = *e;
}

static int grow(struct proto_facts *f)
{
	uint32_t cap = f->stmt_cap ? f->stmt_cap * 2 : 8;
	if (cap == 0 || cap > (1u << 28))
		return PROTO_E_NOMEM;
	struct proto_facts_stmt *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return PROTO_E_NOMEM;
	for (uint32_t i = 0; i < f->stmt_cap; i++)
		if (f->stmts[i].client_id)
			place(tab, cap, &f->stmts[i]);
	free(f->stmts);
	f->stmts = tab;
	f->stmt_cap = cap;
	return PROTO_OK;
}

int proto_facts_stmt_add(struct proto_facts *f, uint32_t backend_id, const char *sql,
			 size_t sql_len, uint16_t params, uint16_t columns, uint32_t *client_id)
{
	/* Keep the load at most one half: probes stay short. */
	if ((f->nstmts + 1) * 2 > f->stmt_cap && grow(f) < 0) {
		f->markers |= PROTO_FACTS_INCOMPLETE;
		return PROTO_E_NOMEM;
	}
	struct proto_facts_stmt e = {0};
	e.backend_id = backend_id;
	e.params = params;
	e.columns = columns;
	if (sql) {
		e.sql = dup_bytes(sql, sql_len);
		if (!e.sql) {
			f->markers |= PROTO_FACTS_INCOMPLETE;
			return PROTO_E_NOMEM;
		}
		e.sql_len = sql_len;
		struct proto_sql_class c;
		proto_sql_classify(sql, sql_len, false, false, &c);
		e.sql_flags = c.flags;
		e.sql_kind = (uint8_t)c.kind;
	}
	/* The client sees the server's own id (the one error texts name)
	 * while it is free; only a statement prepared again after a move can
	 * hold it. Otherwise the next free id: 0 is "no statement" and
	 * 0xFFFFFFFF is MariaDB's "the last one prepared"; after a wrap, skip
	 * ids still in use. */
	uint32_t id = backend_id;
	if (id == 0 || id == UINT32_MAX || proto_facts_stmt_find(f, id)) {
		id = f->last_stmt_id;
		do {
			id++;
		} while (id == 0 || id == UINT32_MAX || proto_facts_stmt_find(f, id));
	}
	e.client_id = f->last_stmt_id = id;
	place(f->stmts, f->stmt_cap, &e);
	f->nstmts++;
	*client_id = id;
	return PROTO_OK;
}

bool proto_facts_stmt_remove(struct proto_facts *f, uint32_t client_id)
{
	struct proto_facts_stmt *st =
		(struct proto_facts_stmt *)proto_facts_stmt_find(f, client_id);
	if (!st)
		return false;
	free(st->sql);
	free(st->types);
	uint32_t mask = f->stmt_cap - 1;
	uint32_t hole = (uint32_t)(st - f->stmts);
	f->stmts[hole].client_id = 0;
	f->stmts[hole].sql = NULL;
	f->stmts[hole].types = NULL;
	/* Backward shift: move later entries of the run into the hole when
	 * their home slot does not lie cyclically between the hole and them. */
	for (uint32_t i = (hole + 1) & mask; f->stmts[i].client_id; i = (i + 1) & mask) {
		uint32_t home = slot_of(f->stmts[i].client_id, f->stmt_cap);
		bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (stays)
			continue;
		f->stmts[hole] = f->stmts[i];
		f->stmts[i].client_id = 0;
		f->stmts[i].sql = NULL;
		f->stmts[i].types = NULL;
		hole = i;
	}
	f->nstmts--;
	return true;
}

bool proto_facts_stmt_rebind(struct proto_facts *f, uint32_t client_id, uint32_t backend_id)
{
	struct proto_facts_stmt *st =
		(struct proto_facts_stmt *)proto_facts_stmt_find(f, client_id);
	if (!st)
		return false;
	st->backend_id = backend_id;
	st->bound = false;
	st->cursor_open = false; /* the new backend has none */
	return true;
}

void proto_facts_stmt_cursor(struct proto_facts *f, uint32_t client_id, bool open)
{
	struct proto_facts_stmt *st =
		(struct proto_facts_stmt *)proto_facts_stmt_find(f, client_id);
	if (st)
		st->cursor_open = open;
}

uint32_t proto_facts_open_cursor(const struct proto_facts *f)
{
	for (uint32_t i = 0; i < f->stmt_cap; i++)
		if (f->stmts[i].client_id && f->stmts[i].cursor_open)
			return f->stmts[i].client_id;
	return 0;
}

void proto_facts_stmt_bound(struct proto_facts *f, uint32_t client_id)
{
	struct proto_facts_stmt *st =
		(struct proto_facts_stmt *)proto_facts_stmt_find(f, client_id);
	if (st)
		st->bound = true;
}

int proto_facts_stmt_types(struct proto_facts *f, uint32_t client_id, const uint8_t *types,
			   size_t len)
{
	struct proto_facts_stmt *st =
		(struct proto_facts_stmt *)proto_facts_stmt_find(f, client_id);
	if (!st)
		return PROTO_OK;
	uint8_t *copy = realloc(st->types, len ? len : 1);
	if (!copy)
		return PROTO_E_NOMEM;
	memcpy(copy, types, len);
	st->types = copy;
	st->bound = true;
	return PROTO_OK;
}
