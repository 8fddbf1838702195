/*
 * test_command.c — protocol/command.h: command names, which commands carry
 * a statement id, reading and patching it (on recorded COM_STMT_* packets).
 */
#include "unit.h"

#include "protocol/command.h"

START_TEST(names)
{
	static const struct {
		uint8_t cmd;
		const char *name;
	} known[] = {
		{COM_SLEEP, "COM_SLEEP"},
		{COM_QUIT, "COM_QUIT"},
		{COM_INIT_DB, "COM_INIT_DB"},
		{COM_QUERY, "COM_QUERY"},
		{COM_FIELD_LIST, "COM_FIELD_LIST"},
		{COM_CREATE_DB, "COM_CREATE_DB"},
		{COM_DROP_DB, "COM_DROP_DB"},
		{COM_REFRESH, "COM_REFRESH"},
		{COM_SHUTDOWN, "COM_SHUTDOWN"},
		{COM_STATISTICS, "COM_STATISTICS"},
		{COM_PROCESS_INFO, "COM_PROCESS_INFO"},
		{COM_CONNECT, "COM_CONNECT"},
		{COM_PROCESS_KILL, "COM_PROCESS_KILL"},
		{COM_DEBUG, "COM_DEBUG"},
		{COM_PING, "COM_PING"},
		{COM_TIME, "COM_TIME"},
		{COM_DELAYED_INSERT, "COM_DELAYED_INSERT"},
		{COM_CHANGE_USER, "COM_CHANGE_USER"},
		{COM_BINLOG_DUMP, "COM_BINLOG_DUMP"},
		{COM_TABLE_DUMP, "COM_TABLE_DUMP"},
		{COM_CONNECT_OUT, "COM_CONNECT_OUT"},
		{COM_REGISTER_SLAVE, "COM_REGISTER_SLAVE"},
		{COM_STMT_PREPARE, "COM_STMT_PREPARE"},
		{COM_STMT_EXECUTE, "COM_STMT_EXECUTE"},
		{COM_STMT_SEND_LONG_DATA, "COM_STMT_SEND_LONG_DATA"},
		{COM_STMT_CLOSE, "COM_STMT_CLOSE"},
		{COM_STMT_RESET, "COM_STMT_RESET"},
		{COM_SET_OPTION, "COM_SET_OPTION"},
		{COM_STMT_FETCH, "COM_STMT_FETCH"},
		{COM_DAEMON, "COM_DAEMON"},
		{COM_BINLOG_DUMP_GTID, "COM_BINLOG_DUMP_GTID"},
		{COM_RESET_CONNECTION, "COM_RESET_CONNECTION"},
		{COM_CLONE, "COM_CLONE"},
		{COM_STMT_BULK_EXECUTE, "COM_STMT_BULK_EXECUTE"},
		{COM_MULTI, "COM_MULTI"},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ck_assert_str_eq(proto_cmd_name(known[i].cmd), known[i].name);
	ck_assert_str_eq(proto_cmd_name(0x21), "COM_UNKNOWN");
	ck_assert_str_eq(proto_cmd_name(0xff), "COM_UNKNOWN");
}
END_TEST

START_TEST(has_stmt_id)
{
	int n = 0;
	for (int c = 0; c < 256; c++)
		n += proto_cmd_has_stmt_id((uint8_t)c);
	ck_assert_int_eq(n, 6);
	ck_assert(proto_cmd_has_stmt_id(COM_STMT_EXECUTE));
	ck_assert(proto_cmd_has_stmt_id(COM_STMT_CLOSE));
	ck_assert(proto_cmd_has_stmt_id(COM_STMT_RESET));
	ck_assert(proto_cmd_has_stmt_id(COM_STMT_FETCH));
	ck_assert(proto_cmd_has_stmt_id(COM_STMT_SEND_LONG_DATA));
	ck_assert(!proto_cmd_has_stmt_id(COM_STMT_PREPARE));
	ck_assert(proto_cmd_has_stmt_id(COM_STMT_BULK_EXECUTE));
}
END_TEST

/* Every COM_STMT_* with an id in a recorded session names a statement the
 * server prepared in it; patching rewrites the id and nothing else. */
START_TEST(stmt_id_recorded)
{
	struct vec *v = vec_load("raw_eof_stmt");
	size_t seen = 0, nprepared = 0;
	uint32_t prepared[16];
	for (int k = 0; k < v->exchanges; k++) {
		if (v->f[vec_cmd(v, k)].payload[0] != COM_STMT_PREPARE)
			continue;
		const struct vec_frame *r = &v->f[vec_server_frame(v, k, 0)];
		if (r->payload[0] == PROTO_OK_HEADER)
			prepared[nprepared++] = (uint32_t)r->payload[1] | (uint32_t)r->payload[2]
										  << 8;
	}
	ck_assert_uint_eq(nprepared, 4);
	for (int k = 0; k < v->exchanges; k++) {
		const struct vec_frame *f = &v->f[vec_cmd(v, k)];
		uint32_t id = 0;
		int rc = proto_stmt_id_parse(f->payload, f->payload_len, &id);
		if (!proto_cmd_has_stmt_id(f->payload[0])) {
			ck_assert_int_eq(rc, PROTO_E_UNEXPECTED);
			continue;
		}
		ck_assert_int_eq(rc, 5);
		bool known = id == 9999; /* the recorder's deliberately unknown id */
		for (size_t j = 0; j < nprepared; j++)
			known |= id == prepared[j];
		ck_assert_msg(known, "exchange %d: statement id %u", k, id);
		uint8_t copy[256];
		ck_assert_uint_le(f->payload_len, sizeof(copy));
		memcpy(copy, f->payload, f->payload_len);
		proto_stmt_id_patch(copy, 0xa1b2c3d4);
		uint32_t back;
		ck_assert_int_eq(proto_stmt_id_parse(copy, f->payload_len, &back), 5);
		ck_assert_uint_eq(back, 0xa1b2c3d4);
		ck_assert_hex(copy + 1, 4, "d4c3b2a1");
		ck_assert_mem_eq(copy + 5, f->payload + 5, f->payload_len - 5);
		ck_assert_uint_eq(copy[0], f->payload[0]);
		seen++;
	}
	ck_assert_uint_ge(seen, 15);
	vec_free(v);
}
END_TEST

START_TEST(stmt_id_short)
{
	uint32_t id = 77;
	ck_assert_int_eq(proto_stmt_id_parse((const uint8_t *)"", 0, &id), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_stmt_id_parse((const uint8_t *)"\x19\x01\x00\x00", 4, &id),
			 PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_stmt_id_parse((const uint8_t *)"\x03\x01\x00\x00\x00", 5, &id),
			 PROTO_E_UNEXPECTED);
	ck_assert_uint_eq(id, 77); /* untouched on error */
	ck_assert_int_eq(proto_stmt_id_parse((const uint8_t *)"\x19\xff\xff\xff\xff", 5, &id), 5);
	ck_assert_uint_eq(id, 0xffffffffu);
}
END_TEST

static Suite *command_suite(void)
{
	Suite *s = suite_create("command");
	TCase *tc = tcase_create("command");
	tcase_add_test(tc, names);
	tcase_add_test(tc, has_stmt_id);
	tcase_add_test(tc, stmt_id_recorded);
	tcase_add_test(tc, stmt_id_short);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(command_suite)
