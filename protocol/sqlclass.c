/*
 * sqlclass.c — the lexical SQL classifier (see sqlclass.h).
 *
 * One pass over the text. The lexer yields tokens (words, user and system
 * variables, quoted strings, punctuation); each statement remembers its
 * first few words, which decide the statement-start patterns (LOAD DATA
 * LOCAL, CREATE TEMPORARY, LOCK TABLES, ...), while the patterns that may
 * appear anywhere (GET_LOCK(, @v :=, INTO @v) are checked token by token.
 * Assumes an ASCII-compatible character set in which byte 0x5C is always a
 * backslash (utf8mb4, latin1; not the multi-byte Asian sets).
 */
#include "protocol/sqlclass.h"

#include <string.h>

enum tok_kind {
	TOK_END,
	TOK_WORD,     /* identifier, keyword or number */
	TOK_USERVAR,  /* @name, @'name' */
	TOK_SYSVAR,   /* @@name */
	TOK_STRING,   /* '...', "..." */
	TOK_QIDENT,   /* `...` */
	TOK_ASSIGN,   /* := */
	TOK_SEMI,     /* ; */
	TOK_PUNCT,    /* any other single byte; c holds it */
};

#define WORD_MAX 16 /* longest keyword compared; longer words are kept cut */

struct tok {
	enum tok_kind kind;
	char c;                 /* TOK_PUNCT */
	char word[WORD_MAX + 1]; /* TOK_WORD / TOK_SYSVAR: upper-cased head */
	size_t wlen;            /* full length of the word */
	const char *at;         /* the token's bytes in the text (quotes included) */
	size_t len;
};

struct lexer {
	const char *p, *end;
	bool nbe;      /* no backslash escapes */
	bool in_exec;  /* inside an executable comment */
};

static bool is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Skip a quoted run starting at the opening quote q. Backticks and, with
 * no backslash escapes, every quote are closed only by themselves
 * (doubled means a literal quote). An unterminated run ends the text. */
static void skip_quoted(struct lexer *lx, char q)
{
	const char *p = lx->p + 1;
	bool escapes = q != '`' && !lx->nbe;
	while (p < lx->end) {
		if (escapes && *p == '\\') {
			p += 2;
			continue;
		}
		if (*p == q) {
			if (p + 1 < lx->end && p[1] == q) {
				p += 2;
				continue;
			}
			lx->p = p + 1;
			return;
		}
		p++;
	}
	lx->p = lx->end;
}

/* Skip whitespace and comments; enter and leave executable comments. */
static void skip_blank(struct lexer *lx)
{
	while (lx->p < lx->end) {
		const char *p = lx->p;
		size_t left = (size_t)(lx->end - p);
		if (is_space((unsigned char)*p)) {
			lx->p++;
		} else if (*p == '#' ||
			   (left >= 2 && p[0] == '-' && p[1] == '-' &&
			    (left == 2 || is_space((unsigned char)p[2]) ||
			     (unsigned char)p[2] < 0x20))) {
			const char *nl = memchr(p, '\n', left);
			lx->p = nl ? nl + 1 : lx->end;
		} else if (lx->in_exec && left >= 2 && p[0] == '*' && p[1] == '/') {
			lx->in_exec = false;
			lx->p += 2;
		} else if (left >= 2 && p[0] == '/' && p[1] == '*') {
			size_t skip = 0;
			if (left >= 3 && p[2] == '!')
				skip = 3;
			else if (left >= 4 && (p[2] == 'M' || p[2] == 'm') && p[3] == '!')
				skip = 4;
			if (skip && !lx->in_exec) {
				/* Executable: its text is code; skip the version number. */
				lx->p += skip;
				for (int i = 0; i < 6 && lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9';
				     i++)
					lx->p++;
				lx->in_exec = true;
				continue;
			}
			const char *q = p + 2;
			while (q + 1 < lx->end && !(q[0] == '*' && q[1] == '/'))
				q++;
			lx->p = q + 1 < lx->end ? q + 2 : lx->end;
		} else {
			return;
		}
	}
}

/* Copy a word's upper-cased head into t. */
static void take_word(struct lexer *lx, struct tok *t)
{
	const char *s = lx->p;
	while (lx->p < lx->end && is_word_byte((unsigned char)*lx->p))
		lx->p++;
	t->wlen = (size_t)(lx->p - s);
	size_t n = t->wlen < WORD_MAX ? t->wlen : WORD_MAX;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		t->word[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	t->word[n] = 0;
}

static void lex_tok(struct lexer *lx, struct tok *t);

static void next_tok(struct lexer *lx, struct tok *t)
{
	t->kind = TOK_END;
	t->word[0] = 0;
	t->wlen = 0;
	skip_blank(lx);
	t->at = lx->p;
	if (lx->p < lx->end)
		lex_tok(lx, t);
	t->len = (size_t)(lx->p - t->at);
}

static void lex_tok(struct lexer *lx, struct tok *t)
{
	const char *p = lx->p;
	unsigned char c = (unsigned char)*p;
	size_t left = (size_t)(lx->end - p);
	if (is_word_byte(c)) {
		t->kind = TOK_WORD;
		take_word(lx, t);
	} else if (c == '\'' || c == '"') {
		t->kind = TOK_STRING;
		skip_quoted(lx, (char)c);
	} else if (c == '`') {
		t->kind = TOK_QIDENT;
		skip_quoted(lx, '`');
	} else if (c == '@' && left >= 2 && p[1] == '@') {
		t->kind = TOK_SYSVAR;
		lx->p += 2;
		take_word(lx, t);
	} else if (c == '@' && left >= 2 &&
		   (is_word_byte((unsigned char)p[1]) || p[1] == '\'' || p[1] == '"' || p[1] == '`')) {
		t->kind = TOK_USERVAR;
		lx->p++;
		if (is_word_byte((unsigned char)*lx->p))
			take_word(lx, t);
		else
			skip_quoted(lx, *lx->p);
	} else if (c == ':' && left >= 2 && p[1] == '=') {
		t->kind = TOK_ASSIGN;
		lx->p += 2;
	} else if (c == ';') {
		t->kind = TOK_SEMI;
		lx->p++;
	} else {
		t->kind = TOK_PUNCT;
		t->c = (char)c;
		lx->p++;
	}
}

/* What one statement has shown so far. */
#define HEAD_WORDS 5
struct stmt {
	char head[HEAD_WORDS][WORD_MAX + 1]; /* its first words, upper-cased */
	unsigned nhead;
	unsigned ntok;       /* tokens in the statement */
	bool is_set, is_call, is_flush, is_select;
	bool seen_read;      /* FLUSH ...: READ seen */
	bool seen_lock_in;   /* LOCK IN seen (of LOCK IN SHARE MODE) */
	unsigned names_at;   /* SET: token index of NAMES + 1; 0: none */
	struct tok prev;     /* the previous token */
};

static bool head_is(const struct stmt *st, unsigned i, const char *w)
{
	return i < st->nhead && strcmp(st->head[i], w) == 0;
}

static bool word_is(const struct tok *t, const char *w)
{
	return t->kind == TOK_WORD && strcmp(t->word, w) == 0;
}

/* The statement-start patterns, once its first words are known. */
static void classify_head(const struct stmt *st, struct proto_sql_class *out)
{
	if (head_is(st, 0, "LOAD") && (head_is(st, 1, "DATA") || head_is(st, 1, "XML"))) {
		unsigned i = 2;
		if (head_is(st, i, "LOW_PRIORITY") || head_is(st, i, "CONCURRENT"))
			i++;
		if (head_is(st, i, "LOCAL") && head_is(st, i + 1, "INFILE")) {
			out->flags |= PROTO_SQL_LOAD_LOCAL;
			out->load_local++;
		}
	}
	if (head_is(st, 0, "CREATE"))
		for (unsigned i = 1; i < st->nhead && i < 4; i++)
			if (strcmp(st->head[i], "TEMPORARY") == 0)
				out->flags |= PROTO_SQL_TEMP_TABLE;
	if (head_is(st, 0, "LOCK") && (head_is(st, 1, "TABLE") || head_is(st, 1, "TABLES")))
		out->flags |= PROTO_SQL_LOCK_TABLES;
	if (head_is(st, 0, "BACKUP") && (head_is(st, 1, "LOCK") || head_is(st, 1, "STAGE")))
		out->flags |= PROTO_SQL_LOCK_TABLES;
	if ((head_is(st, 0, "UNLOCK") && (head_is(st, 1, "TABLE") || head_is(st, 1, "TABLES"))) ||
	    (head_is(st, 0, "BACKUP") && head_is(st, 1, "UNLOCK")))
		out->flags |= PROTO_SQL_UNLOCK_TABLES;
	if (head_is(st, 0, "PREPARE"))
		out->flags |= PROTO_SQL_PREPARE;
}

const char *proto_sql_kind_name(enum proto_sql_kind k)
{
	switch (k) {
	case PROTO_SQL_KIND_OTHER: return "other";
	case PROTO_SQL_KIND_READ: return "read";
	case PROTO_SQL_KIND_WRITE: return "write";
	case PROTO_SQL_KIND_BEGIN: return "begin";
	case PROTO_SQL_KIND_COMMIT: return "commit";
	case PROTO_SQL_KIND_ROLLBACK: return "rollback";
	case PROTO_SQL_KIND_SET: return "set";
	case PROTO_SQL_KIND_USE: return "use";
	}
	return "?";
}

/* The kind of a statement from its first words. */
static enum proto_sql_kind kind_of(const struct stmt *st)
{
	static const char *const reads[] = {"SELECT", "SHOW", "DESCRIBE", "DESC", "HELP", NULL};
	static const char *const writes[] = {"INSERT", "UPDATE", "DELETE", "REPLACE", NULL};
	for (unsigned i = 0; reads[i]; i++)
		if (head_is(st, 0, reads[i]))
			return PROTO_SQL_KIND_READ;
	if (head_is(st, 0, "EXPLAIN") && !head_is(st, 1, "ANALYZE"))
		return PROTO_SQL_KIND_READ;
	for (unsigned i = 0; writes[i]; i++)
		if (head_is(st, 0, writes[i]))
			return PROTO_SQL_KIND_WRITE;
	/* BEGIN NOT ATOMIC opens a compound statement, not a transaction */
	if (head_is(st, 0, "BEGIN") && (st->nhead == 1 || head_is(st, 1, "WORK")))
		return PROTO_SQL_KIND_BEGIN;
	if (head_is(st, 0, "START") && head_is(st, 1, "TRANSACTION"))
		return PROTO_SQL_KIND_BEGIN;
	if (head_is(st, 0, "COMMIT"))
		return PROTO_SQL_KIND_COMMIT;
	if (head_is(st, 0, "ROLLBACK") && !head_is(st, 1, "TO") &&
	    !(head_is(st, 1, "WORK") && head_is(st, 2, "TO")))
		return PROTO_SQL_KIND_ROLLBACK;
	if (head_is(st, 0, "SET") && !head_is(st, 1, "TRANSACTION") &&
	    !(head_is(st, 2, "TRANSACTION")))
		return PROTO_SQL_KIND_SET;
	if (head_is(st, 0, "USE"))
		return PROTO_SQL_KIND_USE;
	return PROTO_SQL_KIND_OTHER;
}

/* The collation name of SET NAMES ... COLLATE: a word, 'string' or `name`. */
static void take_collate(const struct tok *t, struct proto_sql_class *out)
{
	const char *p = t->at;
	size_t n = t->len;
	if ((t->kind == TOK_STRING || t->kind == TOK_QIDENT) && n >= 2) {
		p++;
		n -= 2;
	} else if (t->kind != TOK_WORD) {
		return;
	}
	if (n == 0 || n > 64)
		return;
	for (size_t i = 0; i < n; i++)
		if (!is_word_byte((unsigned char)p[i]) || (unsigned char)p[i] >= 0x80)
			return;
	out->collate = p;
	out->collate_len = n;
}

/* Patterns that may appear anywhere in a statement; t follows st->prev. */
static void classify_tok(struct stmt *st, const struct tok *t, struct proto_sql_class *out)
{
	const struct tok *pv = &st->prev;
	if (t->kind == TOK_PUNCT && t->c == '(' && word_is(pv, "GET_LOCK"))
		out->flags |= PROTO_SQL_GET_LOCK;
	if (t->kind == TOK_ASSIGN && pv->kind == TOK_USERVAR)
		out->flags |= PROTO_SQL_USER_VAR;
	if (t->kind == TOK_USERVAR && (word_is(pv, "INTO") || st->is_call))
		out->flags |= PROTO_SQL_USER_VAR;
	if (st->is_set) {
		if (t->kind == TOK_PUNCT && t->c == '=' && pv->kind == TOK_USERVAR)
			out->flags |= PROTO_SQL_USER_VAR;
		if ((t->kind == TOK_WORD || t->kind == TOK_SYSVAR) &&
		    strncmp(t->word, "SESSION_TRACK", 13) == 0)
			out->flags |= PROTO_SQL_SESSION_TRACK;
		if (word_is(t, "NAMES") && !st->names_at)
			st->names_at = st->ntok + 1;
		/* SET NAMES cs COLLATE name: tokens NAMES+1, +2, +3 */
		if (st->names_at && st->ntok == st->names_at + 2 && word_is(pv, "COLLATE") &&
		    !out->collate)
			take_collate(t, out);
	}
	if (st->is_flush) {
		if (word_is(t, "READ"))
			st->seen_read = true;
		else if (word_is(t, "LOCK") && st->seen_read)
			out->flags |= PROTO_SQL_LOCK_TABLES;
	}
	if (st->is_select && st->ntok > 0) {
		if (word_is(pv, "FOR") && (word_is(t, "UPDATE") || word_is(t, "SHARE")))
			out->flags |= PROTO_SQL_LOCKING_READ;
		if (word_is(pv, "LOCK") && word_is(t, "IN"))
			st->seen_lock_in = true;
		if (st->seen_lock_in && word_is(t, "SHARE"))
			out->flags |= PROTO_SQL_LOCKING_READ;
		if (word_is(t, "INTO"))
			out->flags |= PROTO_SQL_INTO;
	}
	if (word_is(t, "RETURNING"))
		out->flags |= PROTO_SQL_RETURNING;
}

static void end_stmt(struct stmt *st, struct proto_sql_class *out)
{
	if (st->ntok > 0) {
		if (out->statements == 0)
			out->kind = kind_of(st);
		out->statements++;
		classify_head(st, out);
	}
	memset(st, 0, sizeof(*st));
}

void proto_sql_classify(const char *sql, size_t len, bool no_backslash_escapes, bool partial,
			struct proto_sql_class *out)
{
	memset(out, 0, sizeof(*out));
	struct lexer lx = {sql, sql + len, no_backslash_escapes, false};
	struct stmt st;
	memset(&st, 0, sizeof(st));
	for (;;) {
		struct tok t;
		const char *before = lx.p;
		next_tok(&lx, &t);
		if (t.kind == TOK_END)
			break;
		/* A user@host: '@' right after a quote or word is no variable. */
		if (t.kind == TOK_USERVAR && before < lx.end && before > sql &&
		    (before[-1] == '\'' || before[-1] == '"' || before[-1] == '`' ||
		     is_word_byte((unsigned char)before[-1])) &&
		    *before == '@')
			t.kind = TOK_PUNCT, t.c = '@';
		if (t.kind == TOK_SEMI) {
			end_stmt(&st, out);
			continue;
		}
		if (t.kind == TOK_WORD && st.nhead < HEAD_WORDS && st.ntok == st.nhead) {
			memcpy(st.head[st.nhead++], t.word, sizeof(t.word));
			if (st.nhead == 1) {
				st.is_set = strcmp(t.word, "SET") == 0;
				st.is_call = strcmp(t.word, "CALL") == 0;
				st.is_flush = strcmp(t.word, "FLUSH") == 0;
				st.is_select = strcmp(t.word, "SELECT") == 0;
			}
		}
		classify_tok(&st, &t, out);
		st.ntok++;
		st.prev = t;
	}
	end_stmt(&st, out);
	if (out->statements > 1)
		out->flags |= PROTO_SQL_MULTI;
	if (partial)
		out->flags |= PROTO_SQL_PARTIAL;
}
