/*
 * command.h — client commands: names, which ones tandem forwards, and the
 * few fields of a command payload the proxy reads or rewrites.
 *
 * Owns: command classification. Must not: look at SQL text beyond the
 * lexical checks declared here.
 */
#ifndef TANDEM_PROTOCOL_COMMAND_H
#define TANDEM_PROTOCOL_COMMAND_H

#include "protocol/protocol.h"

/* "COM_QUERY" etc.; "COM_UNKNOWN" for bytes that name no command. */
const char *proto_cmd_name(uint8_t cmd);

/* Statement id of COM_STMT_EXECUTE/CLOSE/RESET/FETCH/SEND_LONG_DATA and
 * MariaDB's COM_STMT_BULK_EXECUTE.
 * Returns >0 (5) or PROTO_E_TRUNCATED / PROTO_E_UNEXPECTED. */
int proto_stmt_id_parse(const uint8_t *payload, size_t len, uint32_t *stmt_id);
/* Rewrite it in place (the payload must hold at least 5 bytes). */
void proto_stmt_id_patch(uint8_t *payload, uint32_t stmt_id);
/* True for the commands whose second..fifth bytes are a statement id. */
bool proto_cmd_has_stmt_id(uint8_t cmd);

#endif
