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
 *
 * Every COM_QUERY passes through here, so the lexer works in place: a byte
 * class table drives the loops over blanks and words, and a word is never
 * copied — it is looked up once in the keyword table (by length, then
 * compared case-insensitively where it lies) and carried as that
 * keyword's number. Words that are no keyword the classifier knows are
 * KW_NONE, which is all any pattern needs to know of them.
 */
#include "protocol/sqlclass.h"

#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------ bytes */

#define W 1 /* a word byte: [A-Za-z0-9_$] and every byte >= 0x80 */
#define S 2 /* whitespace: space \t \n \r \f \v */
#define C 4 /* may start a comment (or end an executable one): # - / * */
/* clang-format off */
static const uint8_t byte_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S, S, S, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	S, 0, 0, C, W, 0, 0, 0, 0, 0, C, 0, 0, C, 0, C, /* 0x20  !"#$%&'()*+,-./ */
	W, W, W, W, W, W, W, W, W, W, 0, 0, 0, 0, 0, 0, /* 0x30 0-9:;<=>? */
	0, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, /* 0x40 @A-O */
	W, W, W, W, W, W, W, W, W, W, W, 0, 0, 0, 0, W, /* 0x50 P-Z[\]^_ */
	0, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, /* 0x60 `a-o */
	W, W, W, W, W, W, W, W, W, W, W, 0, 0, 0, 0, 0, /* 0x70 p-z{|}~ */
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, /* 0x80-0xFF: multi-byte characters */
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
};
/* clang-format on */
#undef W
#undef S
#undef C

static bool is_word_byte(unsigned char c)
{
	return byte_class[c] & 1;
}

static bool is_space(unsigned char c)
{
	return byte_class[c] & 2;
}

static bool may_start_comment(unsigned char c)
{
	return byte_class[c] & 4;
}

/* ---------------------------------------------------------- keywords */

/* The words any pattern below looks at. */
enum kw {
	KW_NONE = 0, /* any other word */
	KW_ANALYZE,
	KW_BACKUP,
	KW_BEGIN,
	KW_CALL,
	KW_COLLATE,
	KW_COMMIT,
	KW_CONCURRENT,
	KW_CREATE,
	KW_DATA,
	KW_DELETE,
	KW_DESC,
	KW_DESCRIBE,
	KW_EXPLAIN,
	KW_FLUSH,
	KW_FOR,
	KW_GET_LOCK,
	KW_HELP,
	KW_IN,
	KW_INFILE,
	KW_INSERT,
	KW_INTO,
	KW_LOAD,
	KW_LOCAL,
	KW_LOCK,
	KW_LOW_PRIORITY,
	KW_NAMES,
	KW_PREPARE,
	KW_READ,
	KW_REPLACE,
	KW_RETURNING,
	KW_ROLLBACK,
	KW_SELECT,
	KW_SET,
	KW_SHARE,
	KW_SHOW,
	KW_STAGE,
	KW_START,
	KW_TABLE,
	KW_TABLES,
	KW_TEMPORARY,
	KW_TO,
	KW_TRANSACTION,
	KW_UNLOCK,
	KW_UPDATE,
	KW_USE,
	KW_WORK,
	KW_XML,
};

struct kwdef {
	char name[13]; /* upper case */
	uint8_t len;
};
#define K(s) [KW_##s] = {#s, sizeof(#s) - 1}
static const struct kwdef kw_defs[] = {
	K(ANALYZE),      K(BACKUP), K(BEGIN),   K(CALL),      K(COLLATE), K(COMMIT),
	K(CONCURRENT),   K(CREATE), K(DATA),    K(DELETE),    K(DESC),    K(DESCRIBE),
	K(EXPLAIN),      K(FLUSH),  K(FOR),     K(GET_LOCK),  K(HELP),    K(IN),
	K(INFILE),       K(INSERT), K(INTO),    K(LOAD),      K(LOCAL),   K(LOCK),
	K(LOW_PRIORITY), K(NAMES),  K(PREPARE), K(READ),      K(REPLACE), K(RETURNING),
	K(ROLLBACK),     K(SELECT), K(SET),     K(SHARE),     K(SHOW),    K(STAGE),
	K(START),        K(TABLE),  K(TABLES),  K(TEMPORARY), K(TO),      K(TRANSACTION),
	K(UNLOCK),       K(UPDATE), K(USE),     K(WORK),      K(XML),
};
#undef K

/* The keywords by first letter (zero-terminated lists), so a word is
 * compared with a few names at most, and mostly only by length. */
static const uint8_t kw_by_first[26][7] = {
	['A' - 'A'] = {KW_ANALYZE},
	['B' - 'A'] = {KW_BACKUP, KW_BEGIN},
	['C' - 'A'] = {KW_CALL, KW_COLLATE, KW_COMMIT, KW_CONCURRENT, KW_CREATE},
	['D' - 'A'] = {KW_DATA, KW_DELETE, KW_DESC, KW_DESCRIBE},
	['E' - 'A'] = {KW_EXPLAIN},
	['F' - 'A'] = {KW_FLUSH, KW_FOR},
	['G' - 'A'] = {KW_GET_LOCK},
	['H' - 'A'] = {KW_HELP},
	['I' - 'A'] = {KW_IN, KW_INFILE, KW_INSERT, KW_INTO},
	['L' - 'A'] = {KW_LOAD, KW_LOCAL, KW_LOCK, KW_LOW_PRIORITY},
	['N' - 'A'] = {KW_NAMES},
	['P' - 'A'] = {KW_PREPARE},
	['R' - 'A'] = {KW_READ, KW_REPLACE, KW_RETURNING, KW_ROLLBACK},
	['S' - 'A'] = {KW_SELECT, KW_SET, KW_SHARE, KW_SHOW, KW_STAGE, KW_START},
	['T' - 'A'] = {KW_TABLE, KW_TABLES, KW_TEMPORARY, KW_TO, KW_TRANSACTION},
	['U' - 'A'] = {KW_UNLOCK, KW_UPDATE, KW_USE},
	['W' - 'A'] = {KW_WORK},
	['X' - 'A'] = {KW_XML},
};

/* Does the word p[0..n) spell name (upper case, n bytes) in any case?
 * Within a word, b & 0xDF maps exactly the two cases of a letter to the
 * upper one and leaves '_' as it is; no other word byte (digit, '$',
 * >= 0x80) lands on a letter or '_'. */
static bool word_eq(const char *p, const char *name, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)p[i] & 0xDF) != (unsigned char)name[i])
			return false;
	return true;
}

/* The lengths of the keywords of each first letter, so that most other
 * words are turned away without looking at the list. */
#define L(n) (1u << (n))
static const uint16_t kw_lens_by_first[26] = {
	['A' - 'A'] = L(7),
	['B' - 'A'] = L(5) | L(6),
	['C' - 'A'] = L(4) | L(6) | L(7) | L(10),
	['D' - 'A'] = L(4) | L(6) | L(8),
	['E' - 'A'] = L(7),
	['F' - 'A'] = L(3) | L(5),
	['G' - 'A'] = L(8),
	['H' - 'A'] = L(4),
	['I' - 'A'] = L(2) | L(4) | L(6),
	['L' - 'A'] = L(4) | L(5) | L(12),
	['N' - 'A'] = L(5),
	['P' - 'A'] = L(7),
	['R' - 'A'] = L(4) | L(7) | L(8) | L(9),
	['S' - 'A'] = L(3) | L(4) | L(5) | L(6),
	['T' - 'A'] = L(2) | L(5) | L(6) | L(9) | L(11),
	['U' - 'A'] = L(3) | L(6),
	['W' - 'A'] = L(4),
	['X' - 'A'] = L(3),
};
#undef L

/* The keyword a word is, or KW_NONE. */
static uint8_t keyword(const char *p, size_t len)
{
	unsigned letter = ((unsigned char)p[0] & 0xDF) - 'A';
	if (letter >= 26 || len > 15 || !(kw_lens_by_first[letter] & (1u << len)))
		return KW_NONE; /* no keyword starts so, or has that length */
	for (const uint8_t *k = kw_by_first[letter]; *k; k++)
		if (kw_defs[*k].len == len && word_eq(p + 1, kw_defs[*k].name + 1, len - 1))
			return *k;
	return KW_NONE;
}

/* ------------------------------------------------------------ lexer */

enum tok_kind {
	TOK_END,
	TOK_WORD,    /* identifier, keyword or number */
	TOK_USERVAR, /* @name, @'name' */
	TOK_SYSVAR,  /* @@name */
	TOK_STRING,  /* '...', "..." */
	TOK_QIDENT,  /* `...` */
	TOK_ASSIGN,  /* := */
	TOK_SEMI,    /* ; */
	TOK_PUNCT,   /* any other single byte; c holds it */
};

struct tok {
	enum tok_kind kind;
	char c;        /* TOK_PUNCT */
	uint8_t kw;    /* TOK_WORD: enum kw */
	const char *w; /* TOK_WORD / TOK_SYSVAR: the word, in the text */
	size_t wlen;
	const char *at; /* the token's bytes in the text (quotes included) */
	size_t len;
};

struct lexer {
	const char *p, *end;
	bool nbe;     /* no backslash escapes */
	bool in_exec; /* inside an executable comment */
};

/* Skip a quoted run starting at the opening quote q. Backticks and, with
 * no backslash escapes, every quote are closed only by themselves
 * (doubled means a literal quote). An unterminated run ends the text.
 * (The loops here keep their position in a local: the build has no
 * strict aliasing, so a position kept in *lx would be reloaded after
 * every byte.) */
static void skip_quoted(struct lexer *lx, char q)
{
	const char *p = lx->p + 1, *end = lx->end;
	bool escapes = q != '`' && !lx->nbe;
	/* memchr jumps to the next quote, and to the first backslash before
	 * it: the same stops a byte-by-byte scan would make, taken at
	 * memchr's speed (string literals are most of the bytes of a write). */
	while (p < end) {
		const char *close = memchr(p, q, (size_t)(end - p));
		if (escapes) {
			const char *bs = memchr(p, '\\', (size_t)((close ? close : end) - p));
			if (bs) {
				p = bs + 2; /* the escaped byte, whatever it is */
				continue;
			}
		}
		if (!close)
			break;
		if (close + 1 < end && close[1] == q) {
			p = close + 2; /* a doubled quote stands for itself */
			continue;
		}
		lx->p = close + 1;
		return;
	}
	lx->p = end;
}

/* Skip whitespace and comments; enter and leave executable comments. */
static void skip_blank(struct lexer *lx)
{
	const char *p = lx->p, *end = lx->end;
	while (p < end) {
		size_t left = (size_t)(end - p);
		if (is_space((unsigned char)*p)) {
			p++;
		} else if (!may_start_comment((unsigned char)*p)) {
			break;
		} else if (*p == '#' || (left >= 2 && p[0] == '-' && p[1] == '-' &&
					 (left == 2 || is_space((unsigned char)p[2]) ||
					  (unsigned char)p[2] < 0x20))) {
			const char *nl = memchr(p, '\n', left);
			p = nl ? nl + 1 : end;
		} else if (lx->in_exec && left >= 2 && p[0] == '*' && p[1] == '/') {
			lx->in_exec = false;
			p += 2;
		} else if (left >= 2 && p[0] == '/' && p[1] == '*') {
			size_t skip = 0;
			if (left >= 3 && p[2] == '!')
				skip = 3;
			else if (left >= 4 && (p[2] == 'M' || p[2] == 'm') && p[3] == '!')
				skip = 4;
			if (skip && !lx->in_exec) {
				/* Executable: its text is code; skip the version number. */
				p += skip;
				for (int i = 0; i < 6 && p < end && *p >= '0' && *p <= '9'; i++)
					p++;
				lx->in_exec = true;
				continue;
			}
			const char *q = p + 2;
			while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
				q++;
			p = q + 1 < end ? q + 2 : end;
		} else {
			break;
		}
	}
	lx->p = p;
}

/* The word at lx->p, in place. */
static void take_word(struct lexer *lx, struct tok *t)
{
	const char *s = lx->p, *p = s, *end = lx->end;
	while (p < end && is_word_byte((unsigned char)*p))
		p++;
	lx->p = p;
	t->w = s;
	t->wlen = (size_t)(p - s);
}

static void next_tok(struct lexer *lx, struct tok *t)
{
	t->kind = TOK_END;
	t->kw = KW_NONE;
	t->w = NULL;
	t->wlen = 0;
	t->len = 0;
	skip_blank(lx);
	t->at = lx->p;
	if (lx->p >= lx->end)
		return;
	const char *p = lx->p;
	unsigned char c = (unsigned char)*p;
	size_t left = (size_t)(lx->end - p);
	if (is_word_byte(c)) {
		t->kind = TOK_WORD;
		take_word(lx, t);
		t->kw = keyword(t->w, t->wlen);
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
		   (is_word_byte((unsigned char)p[1]) || p[1] == '\'' || p[1] == '"' ||
		    p[1] == '`')) {
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
	t->len = (size_t)(lx->p - t->at);
}

/* ------------------------------------------------------- statements */

/* What one statement has shown so far. */
#define HEAD_WORDS 5
struct stmt {
	uint8_t head[HEAD_WORDS]; /* its first words, as enum kw */
	uint8_t nhead;
	uint8_t prev_kind; /* the previous token: enum tok_kind */
	uint8_t prev_kw;   /* ... and its keyword, if a word */
	bool is_set, is_call, is_flush, is_select;
	bool seen_read;    /* FLUSH ...: READ seen */
	bool seen_lock_in; /* LOCK IN seen (of LOCK IN SHARE MODE) */
	unsigned names_at; /* SET: token index of NAMES + 1; 0: none */
	unsigned ntok;     /* tokens in the statement */
};

static bool head_is(const struct stmt *st, unsigned i, enum kw k)
{
	return i < st->nhead && st->head[i] == k;
}

/* Was the previous token the word k? */
static bool prev_is(const struct stmt *st, enum kw k)
{
	return st->prev_kind == TOK_WORD && st->prev_kw == k;
}

/* The statement-start patterns, once its first words are known. */
static void classify_head(const struct stmt *st, struct proto_sql_class *out)
{
	switch (st->nhead ? st->head[0] : KW_NONE) {
	case KW_LOAD:
		if (head_is(st, 1, KW_DATA) || head_is(st, 1, KW_XML)) {
			unsigned i = 2;
			if (head_is(st, i, KW_LOW_PRIORITY) || head_is(st, i, KW_CONCURRENT))
				i++;
			if (head_is(st, i, KW_LOCAL) && head_is(st, i + 1, KW_INFILE)) {
				out->flags |= PROTO_SQL_LOAD_LOCAL;
				out->load_local++;
			}
		}
		break;
	case KW_CREATE:
		for (unsigned i = 1; i < st->nhead && i < 4; i++)
			if (st->head[i] == KW_TEMPORARY)
				out->flags |= PROTO_SQL_TEMP_TABLE;
		break;
	case KW_LOCK:
		if (head_is(st, 1, KW_TABLE) || head_is(st, 1, KW_TABLES))
			out->flags |= PROTO_SQL_LOCK_TABLES;
		break;
	case KW_BACKUP:
		if (head_is(st, 1, KW_LOCK) || head_is(st, 1, KW_STAGE))
			out->flags |= PROTO_SQL_LOCK_TABLES;
		if (head_is(st, 1, KW_UNLOCK))
			out->flags |= PROTO_SQL_UNLOCK_TABLES;
		break;
	case KW_UNLOCK:
		if (head_is(st, 1, KW_TABLE) || head_is(st, 1, KW_TABLES))
			out->flags |= PROTO_SQL_UNLOCK_TABLES;
		break;
	case KW_PREPARE:
		out->flags |= PROTO_SQL_PREPARE;
		break;
	default:
		break;
	}
}

const char *proto_sql_kind_name(enum proto_sql_kind k)
{
	switch (k) {
	case PROTO_SQL_KIND_OTHER:
		return "other";
	case PROTO_SQL_KIND_READ:
		return "read";
	case PROTO_SQL_KIND_WRITE:
		return "write";
	case PROTO_SQL_KIND_BEGIN:
		return "begin";
	case PROTO_SQL_KIND_COMMIT:
		return "commit";
	case PROTO_SQL_KIND_ROLLBACK:
		return "rollback";
	case PROTO_SQL_KIND_SET:
		return "set";
	case PROTO_SQL_KIND_USE:
		return "use";
	}
	return "?";
}

/* The kind of a statement from its first words. */
static enum proto_sql_kind kind_of(const struct stmt *st)
{
	switch (st->nhead ? st->head[0] : KW_NONE) {
	case KW_SELECT:
	case KW_SHOW:
	case KW_DESCRIBE:
	case KW_DESC:
	case KW_HELP:
		return PROTO_SQL_KIND_READ;
	case KW_EXPLAIN:
		return head_is(st, 1, KW_ANALYZE) ? PROTO_SQL_KIND_OTHER : PROTO_SQL_KIND_READ;
	case KW_INSERT:
	case KW_UPDATE:
	case KW_DELETE:
	case KW_REPLACE:
		return PROTO_SQL_KIND_WRITE;
	case KW_BEGIN:
		/* BEGIN NOT ATOMIC opens a compound statement, not a transaction */
		return st->nhead == 1 || head_is(st, 1, KW_WORK) ? PROTO_SQL_KIND_BEGIN
								 : PROTO_SQL_KIND_OTHER;
	case KW_START:
		return head_is(st, 1, KW_TRANSACTION) ? PROTO_SQL_KIND_BEGIN : PROTO_SQL_KIND_OTHER;
	case KW_COMMIT:
		return PROTO_SQL_KIND_COMMIT;
	case KW_ROLLBACK:
		if (head_is(st, 1, KW_TO) || (head_is(st, 1, KW_WORK) && head_is(st, 2, KW_TO)))
			return PROTO_SQL_KIND_OTHER;
		return PROTO_SQL_KIND_ROLLBACK;
	case KW_SET:
		if (head_is(st, 1, KW_TRANSACTION) || head_is(st, 2, KW_TRANSACTION))
			return PROTO_SQL_KIND_OTHER;
		return PROTO_SQL_KIND_SET;
	case KW_USE:
		return PROTO_SQL_KIND_USE;
	default:
		return PROTO_SQL_KIND_OTHER;
	}
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

/* Patterns that may appear anywhere in a statement; t follows the
 * statement's previous token. */
static void classify_tok(struct stmt *st, const struct tok *t, struct proto_sql_class *out)
{
	if (st->is_set) {
		if (t->kind == TOK_WORD && t->kw == KW_NAMES && !st->names_at)
			st->names_at = st->ntok + 1;
		/* SET NAMES cs COLLATE name: tokens NAMES+1, +2, +3 */
		if (st->names_at && st->ntok == st->names_at + 2 && prev_is(st, KW_COLLATE) &&
		    !out->collate)
			take_collate(t, out);
	}
	switch (t->kind) {
	case TOK_PUNCT:
		if (t->c == '(' && prev_is(st, KW_GET_LOCK))
			out->flags |= PROTO_SQL_GET_LOCK;
		if (st->is_set && t->c == '=' && st->prev_kind == TOK_USERVAR)
			out->flags |= PROTO_SQL_USER_VAR;
		return;
	case TOK_ASSIGN:
		if (st->prev_kind == TOK_USERVAR)
			out->flags |= PROTO_SQL_USER_VAR;
		return;
	case TOK_USERVAR:
		if (prev_is(st, KW_INTO) || st->is_call)
			out->flags |= PROTO_SQL_USER_VAR;
		return;
	case TOK_SYSVAR:
	case TOK_WORD:
		if (st->is_set && t->wlen >= 13 && word_eq(t->w, "SESSION_TRACK", 13))
			out->flags |= PROTO_SQL_SESSION_TRACK;
		break;
	default:
		return;
	}
	if (t->kind != TOK_WORD || t->kw == KW_NONE)
		return; /* what follows looks for keywords only */
	if (st->is_flush) {
		if (t->kw == KW_READ)
			st->seen_read = true;
		else if (t->kw == KW_LOCK && st->seen_read)
			out->flags |= PROTO_SQL_LOCK_TABLES;
	}
	if (st->is_select && st->ntok > 0) {
		if (prev_is(st, KW_FOR) && (t->kw == KW_UPDATE || t->kw == KW_SHARE))
			out->flags |= PROTO_SQL_LOCKING_READ;
		if (prev_is(st, KW_LOCK) && t->kw == KW_IN)
			st->seen_lock_in = true;
		if (st->seen_lock_in && t->kw == KW_SHARE)
			out->flags |= PROTO_SQL_LOCKING_READ;
		if (t->kw == KW_INTO)
			out->flags |= PROTO_SQL_INTO;
	}
	if (t->kw == KW_RETURNING)
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
			st.head[st.nhead++] = t.kw;
			if (st.nhead == 1) {
				st.is_set = t.kw == KW_SET;
				st.is_call = t.kw == KW_CALL;
				st.is_flush = t.kw == KW_FLUSH;
				st.is_select = t.kw == KW_SELECT;
			}
		}
		classify_tok(&st, &t, out);
		st.ntok++;
		st.prev_kind = (uint8_t)t.kind;
		st.prev_kw = t.kw;
	}
	end_stmt(&st, out);
	if (out->statements > 1)
		out->flags |= PROTO_SQL_MULTI;
	if (partial)
		out->flags |= PROTO_SQL_PARTIAL;
}
