/*
 * fuzz_facts.c — a session's facts fed what servers and clients send:
 * session-state blocks and OKs from the server, SQL text, schema names and
 * prepared-statement bookkeeping, in any order.
 *
 * Input: a sequence of operations, each 1 op byte, 1 length byte n, then n
 * bytes of argument:
 *   op % 8 == 0  apply_track(bytes, origin = op >> 3 & 3)
 *            1  parse the bytes as an OK (with session tracking), apply it
 *            2  init_db(bytes)
 *            3  reset(charset = n, schema = bytes)
 *            4  stmt_add(backend id from the bytes, sql = bytes)
 *            5  stmt_remove(id chosen by the first byte among those added)
 *            6  stmt_rebind(likewise)
 *            7  apply_sql(classify(bytes))
 * Invariants: statement ids are unique, never 0 or 0xFFFFFFFF, found while
 * present and gone once removed; variable names are found again; nothing
 * leaks (LeakSanitizer) after proto_facts_free.
 */
#include "fuzz.h"

#include "protocol/facts.h"

#define MAX_IDS 512

static void check_vars(const struct proto_facts *f)
{
	for (size_t i = 0; i < f->nvars; i++) {
		FUZZ_CHECK(f->vars[i].name && f->vars[i].value);
		FUZZ_CHECK(proto_facts_var_find(f, f->vars[i].name) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_facts f;
	uint32_t ids[MAX_IDS];
	size_t nids = 0;
	if (proto_facts_init(&f, 45, "test", 4) != PROTO_OK)
		return 0;
	while (size >= 2) {
		uint8_t op = data[0], n = data[1];
		data += 2;
		size -= 2;
		if (n > size)
			n = (uint8_t)size;
		/* the argument in its own exactly-sized buffer, as the proxy has it */
		uint8_t *arg = malloc(n ? n : 1);
		if (!arg)
			break;
		memcpy(arg, data, n);
		data += n;
		size -= n;
		switch (op % 8) {
		case 0:
			(void)proto_facts_apply_track(&f, arg, n, (op >> 3) & 3);
			break;
		case 1: {
			struct proto_ok ok;
			if (proto_ok_parse(arg, n, CLIENT_SESSION_TRACK, &ok) > 0)
				(void)proto_facts_apply_ok(&f, &ok, (op >> 3) & 3);
			break;
		}
		case 2:
			(void)proto_facts_init_db(&f, (const char *)arg, n);
			break;
		case 3:
			(void)proto_facts_reset(&f, n, (const char *)arg, n);
			nids = 0; /* a reset forgets every statement */
			FUZZ_CHECK(f.nstmts == 0);
			break;
		case 4: {
			uint32_t backend = n >= 4 ? (uint32_t)arg[0] | (uint32_t)arg[1] << 8 |
							    (uint32_t)arg[2] << 16 |
							    (uint32_t)arg[3] << 24
						  : n;
			uint32_t id = 0;
			if (proto_facts_stmt_add(&f, backend, (const char *)arg, n, n, n, &id) !=
			    PROTO_OK)
				break;
			FUZZ_CHECK(id != 0 && id != 0xffffffffu);
			for (size_t i = 0; i < nids; i++)
				FUZZ_CHECK(ids[i] != id);
			const struct proto_facts_stmt *st = proto_facts_stmt_find(&f, id);
			FUZZ_CHECK(st && st->backend_id == backend && st->params == n);
			if (nids < MAX_IDS)
				ids[nids++] = id;
			break;
		}
		case 5:
			if (nids) {
				size_t i = (n ? arg[0] : 0) % nids;
				FUZZ_CHECK(proto_facts_stmt_remove(&f, ids[i]));
				FUZZ_CHECK(proto_facts_stmt_find(&f, ids[i]) == NULL);
				FUZZ_CHECK(!proto_facts_stmt_remove(&f, ids[i]));
				ids[i] = ids[--nids];
			}
			break;
		case 6:
			if (nids) {
				size_t i = (n ? arg[0] : 0) % nids;
				FUZZ_CHECK(proto_facts_stmt_rebind(&f, ids[i], 7u + n));
				FUZZ_CHECK(proto_facts_stmt_find(&f, ids[i])->backend_id == 7u + n);
			}
			break;
		case 7: {
			struct proto_sql_class c;
			proto_sql_classify((const char *)arg, n, false, false, &c);
			proto_facts_apply_sql(&f, &c);
			break;
		}
		}
		free(arg);
		check_vars(&f);
		for (size_t i = 0; i < nids; i++)
			FUZZ_CHECK(proto_facts_stmt_find(&f, ids[i]) != NULL);
		if (nids < MAX_IDS)
			FUZZ_CHECK(f.nstmts == nids);
	}
	proto_facts_free(&f);
	return 0;
}
