/*
 * command.c — command names and statement-id fields (see command.h).
 */
#include "protocol/command.h"

const char *proto_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case COM_SLEEP:
		return "COM_SLEEP";
	case COM_QUIT:
		return "COM_QUIT";
	case COM_INIT_DB:
		return "COM_INIT_DB";
	case COM_QUERY:
		return "COM_QUERY";
	case COM_FIELD_LIST:
		return "COM_FIELD_LIST";
	case COM_CREATE_DB:
		return "COM_CREATE_DB";
	case COM_DROP_DB:
		return "COM_DROP_DB";
	case COM_REFRESH:
		return "COM_REFRESH";
	case COM_SHUTDOWN:
		return "COM_SHUTDOWN";
	case COM_STATISTICS:
		return "COM_STATISTICS";
	case COM_PROCESS_INFO:
		return "COM_PROCESS_INFO";
	case COM_CONNECT:
		return "COM_CONNECT";
	case COM_PROCESS_KILL:
		return "COM_PROCESS_KILL";
	case COM_DEBUG:
		return "COM_DEBUG";
	case COM_PING:
		return "COM_PING";
	case COM_TIME:
		return "COM_TIME";
	case COM_DELAYED_INSERT:
		return "COM_DELAYED_INSERT";
	case COM_CHANGE_USER:
		return "COM_CHANGE_USER";
	case COM_BINLOG_DUMP:
		return "COM_BINLOG_DUMP";
	case COM_TABLE_DUMP:
		return "COM_TABLE_DUMP";
	case COM_CONNECT_OUT:
		return "COM_CONNECT_OUT";
	case COM_REGISTER_SLAVE:
		return "COM_REGISTER_SLAVE";
	case COM_STMT_PREPARE:
		return "COM_STMT_PREPARE";
	case COM_STMT_EXECUTE:
		return "COM_STMT_EXECUTE";
	case COM_STMT_SEND_LONG_DATA:
		return "COM_STMT_SEND_LONG_DATA";
	case COM_STMT_CLOSE:
		return "COM_STMT_CLOSE";
	case COM_STMT_RESET:
		return "COM_STMT_RESET";
	case COM_SET_OPTION:
		return "COM_SET_OPTION";
	case COM_STMT_FETCH:
		return "COM_STMT_FETCH";
	case COM_DAEMON:
		return "COM_DAEMON";
	case COM_BINLOG_DUMP_GTID:
		return "COM_BINLOG_DUMP_GTID";
	case COM_RESET_CONNECTION:
		return "COM_RESET_CONNECTION";
	case COM_CLONE:
		return "COM_CLONE";
	case COM_STMT_BULK_EXECUTE:
		return "COM_STMT_BULK_EXECUTE";
	case COM_MULTI:
		return "COM_MULTI";
	}
	return "COM_UNKNOWN";
}

bool proto_cmd_has_stmt_id(uint8_t cmd)
{
	switch (cmd) {
	case COM_STMT_EXECUTE:
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
	case COM_STMT_FETCH:
	case COM_STMT_SEND_LONG_DATA:
	case COM_STMT_BULK_EXECUTE: /* MariaDB: the id at the same place */
		return true;
	}
	return false;
}

int proto_stmt_id_parse(const uint8_t *payload, size_t len, uint32_t *stmt_id)
{
	if (len < 1)
		return PROTO_E_TRUNCATED;
	if (!proto_cmd_has_stmt_id(payload[0]))
		return PROTO_E_UNEXPECTED;
	if (len < 5)
		return PROTO_E_TRUNCATED;
	*stmt_id = (uint32_t)payload[1] | (uint32_t)payload[2] << 8 | (uint32_t)payload[3] << 16 |
		   (uint32_t)payload[4] << 24;
	return 5;
}

void proto_stmt_id_patch(uint8_t *payload, uint32_t stmt_id)
{
	payload[1] = (uint8_t)stmt_id;
	payload[2] = (uint8_t)(stmt_id >> 8);
	payload[3] = (uint8_t)(stmt_id >> 16);
	payload[4] = (uint8_t)(stmt_id >> 24);
}
