/*
 * mysql_const.h — numbers of the MySQL/MariaDB client/server protocol.
 *
 * Owns: capability and status flags, command bytes, packet markers, and the
 * error codes tandem itself sends. Pure constants; no code, no state.
 * Capabilities are 64-bit: the low 32 bits are the protocol's capability
 * flags, the high 32 bits are MariaDB's extended capabilities, carried in
 * the handshake filler when the server does not set CLIENT_MYSQL (bit 0).
 */
#ifndef TANDEM_PROTOCOL_MYSQL_CONST_H
#define TANDEM_PROTOCOL_MYSQL_CONST_H

#include <stdint.h>

/* ---- capability flags (HandshakeV10 / HandshakeResponse41) ---- */
#define CLIENT_MYSQL                          (1ULL << 0) /* a.k.a. CLIENT_LONG_PASSWORD */
#define CLIENT_FOUND_ROWS                     (1ULL << 1)
#define CLIENT_LONG_FLAG                      (1ULL << 2)
#define CLIENT_CONNECT_WITH_DB                (1ULL << 3)
#define CLIENT_NO_SCHEMA                      (1ULL << 4)
#define CLIENT_COMPRESS                       (1ULL << 5)
#define CLIENT_ODBC                           (1ULL << 6)
#define CLIENT_LOCAL_FILES                    (1ULL << 7)
#define CLIENT_IGNORE_SPACE                   (1ULL << 8)
#define CLIENT_PROTOCOL_41                    (1ULL << 9)
#define CLIENT_INTERACTIVE                    (1ULL << 10)
#define CLIENT_SSL                            (1ULL << 11)
#define CLIENT_IGNORE_SIGPIPE                 (1ULL << 12)
#define CLIENT_TRANSACTIONS                   (1ULL << 13)
#define CLIENT_RESERVED                       (1ULL << 14)
#define CLIENT_SECURE_CONNECTION              (1ULL << 15)
#define CLIENT_MULTI_STATEMENTS               (1ULL << 16)
#define CLIENT_MULTI_RESULTS                  (1ULL << 17)
#define CLIENT_PS_MULTI_RESULTS               (1ULL << 18)
#define CLIENT_PLUGIN_AUTH                    (1ULL << 19)
#define CLIENT_CONNECT_ATTRS                  (1ULL << 20)
#define CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (1ULL << 21)
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS   (1ULL << 22)
#define CLIENT_SESSION_TRACK                  (1ULL << 23)
#define CLIENT_DEPRECATE_EOF                  (1ULL << 24)
#define CLIENT_OPTIONAL_RESULTSET_METADATA    (1ULL << 25)
#define CLIENT_ZSTD_COMPRESSION               (1ULL << 26)
#define CLIENT_QUERY_ATTRIBUTES               (1ULL << 27)
#define CLIENT_MULTI_FACTOR_AUTH              (1ULL << 28)
#define CLIENT_CAPABILITY_EXTENSION           (1ULL << 29)
#define CLIENT_SSL_VERIFY_SERVER_CERT         (1ULL << 30)
#define CLIENT_REMEMBER_OPTIONS               (1ULL << 31)

/* MariaDB extended capabilities, high 32 bits */
#define MARIADB_CLIENT_PROGRESS             (1ULL << 32)
#define MARIADB_CLIENT_COM_MULTI            (1ULL << 33)
#define MARIADB_CLIENT_STMT_BULK_OPERATIONS (1ULL << 34)
#define MARIADB_CLIENT_EXTENDED_METADATA    (1ULL << 35)
#define MARIADB_CLIENT_CACHE_METADATA       (1ULL << 36)
#define MARIADB_CLIENT_BULK_UNIT_RESULTS    (1ULL << 37)

/* ---- server status flags (OK / EOF) ---- */
#define SERVER_STATUS_IN_TRANS             0x0001
#define SERVER_STATUS_AUTOCOMMIT           0x0002
#define SERVER_MORE_RESULTS_EXISTS         0x0008
#define SERVER_QUERY_NO_GOOD_INDEX_USED    0x0010
#define SERVER_QUERY_NO_INDEX_USED         0x0020
#define SERVER_STATUS_CURSOR_EXISTS        0x0040
#define SERVER_STATUS_LAST_ROW_SENT        0x0080
#define SERVER_STATUS_DB_DROPPED           0x0100
#define SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200
#define SERVER_STATUS_METADATA_CHANGED     0x0400
#define SERVER_QUERY_WAS_SLOW              0x0800
#define SERVER_PS_OUT_PARAMS               0x1000
#define SERVER_STATUS_IN_TRANS_READONLY    0x2000
#define SERVER_SESSION_STATE_CHANGED       0x4000

/* ---- command bytes ---- */
enum proto_cmd {
	COM_SLEEP = 0x00,
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_CREATE_DB = 0x05,
	COM_DROP_DB = 0x06,
	COM_REFRESH = 0x07,
	COM_SHUTDOWN = 0x08,
	COM_STATISTICS = 0x09,
	COM_PROCESS_INFO = 0x0a,
	COM_CONNECT = 0x0b,
	COM_PROCESS_KILL = 0x0c,
	COM_DEBUG = 0x0d,
	COM_PING = 0x0e,
	COM_TIME = 0x0f,
	COM_DELAYED_INSERT = 0x10,
	COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12,
	COM_TABLE_DUMP = 0x13,
	COM_CONNECT_OUT = 0x14,
	COM_REGISTER_SLAVE = 0x15,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_STMT_RESET = 0x1a,
	COM_SET_OPTION = 0x1b,
	COM_STMT_FETCH = 0x1c,
	COM_DAEMON = 0x1d,
	COM_BINLOG_DUMP_GTID = 0x1e,
	COM_RESET_CONNECTION = 0x1f,
	COM_CLONE = 0x20,
	COM_STMT_BULK_EXECUTE = 0xfa, /* MariaDB */
	COM_MULTI = 0xfe,             /* MariaDB, removed */
};

/* ---- first bytes of response packets ---- */
#define PROTO_OK_HEADER      0x00
#define PROTO_LOCAL_INFILE   0xfb
#define PROTO_EOF_HEADER     0xfe
#define PROTO_AUTH_SWITCH    0xfe
#define PROTO_AUTH_MORE_DATA 0x01
#define PROTO_ERR_HEADER     0xff

/* Largest payload one frame carries; a frame this long is continued. */
#define PROTO_MAX_FRAME       0xffffffu
#define PROTO_FRAME_CONTINUED 0xffffffu

/* COM_STMT_EXECUTE flags */
#define CURSOR_TYPE_NO_CURSOR 0x00
#define CURSOR_TYPE_READ_ONLY 0x01

/* COM_SET_OPTION values */
#define MYSQL_OPTION_MULTI_STATEMENTS_ON  0
#define MYSQL_OPTION_MULTI_STATEMENTS_OFF 1

/* Session state tracker types (OK packet, CLIENT_SESSION_TRACK) */
enum proto_track_type {
	SESSION_TRACK_SYSTEM_VARIABLES = 0,
	SESSION_TRACK_SCHEMA = 1,
	SESSION_TRACK_STATE_CHANGE = 2,
	SESSION_TRACK_GTIDS = 3,
	SESSION_TRACK_TRANSACTION_CHARACTERISTICS = 4,
	SESSION_TRACK_TRANSACTION_STATE = 5,
};

/* ---- server error codes tandem sends itself (with their SQLSTATE) ---- */
#define ER_CON_COUNT_ERROR           1040 /* 08004 Too many connections */
#define ER_HANDSHAKE_ERROR           1043 /* 08S01 Bad handshake */
#define ER_ACCESS_DENIED_ERROR       1045 /* 28000 */
#define ER_NO_DB_ERROR               1046 /* 3D000 */
#define ER_UNKNOWN_COM_ERROR         1047 /* 08S01 Unknown command */
#define ER_WRONG_DB_NAME             1102 /* 42000 Incorrect database name */
#define ER_SERVER_SHUTDOWN           1053 /* 08S01 Server shutdown in progress */
#define ER_NET_PACKET_TOO_LARGE      1153 /* 08S01 */
#define ER_NET_READ_ERROR            1158 /* 08S01 */
#define ER_NET_PACKETS_OUT_OF_ORDER  1156 /* 08S01 */
#define ER_NET_READ_INTERRUPTED      1159 /* 08S01 read timeout */
#define ER_HOST_IS_BLOCKED           1129 /* HY000 */
#define ER_HOST_NOT_PRIVILEGED       1130 /* HY000 */
#define ER_NOT_SUPPORTED_AUTH_MODE   1251 /* 08004 */
#define ER_NOT_SUPPORTED_YET         1235 /* 42000 */
#define ER_UNKNOWN_STMT_HANDLER      1243 /* HY000 */
#define ER_SECURE_TRANSPORT_REQUIRED 3159 /* HY000 */
#define ER_LOCK_DEADLOCK             1213 /* 40001 */
#define ER_CONNECTION_KILLED         1927 /* 70100 */
#define CR_CONN_HOST_ERROR           2003 /* HY000 Can't connect */
#define CR_SERVER_GONE_ERROR         2006 /* HY000 */
#define CR_SERVER_LOST               2013 /* HY000 */

/* Tandem's own error codes (documented in docs/errors.md). Client-range
 * codes (2000-2999, e.g. 2003/2013) must never be sent by a server:
 * Connector/C rejects such an ERR as a malformed packet. */
#define TANDEM_ER_BACKEND_UNAVAILABLE       1429 /* 08001: no backend reachable (login) */
#define TANDEM_SQLSTATE_BACKEND_UNAVAILABLE "08001"
#define TANDEM_ER_BACKEND_LOST              ER_NET_READ_ERROR /* 08S01: backend gone mid-command */
#define TANDEM_ER_FAILOVER_STATE_LOST \
	1927 /* 08S01 in tandem's use: session state lost in failover */
#define TANDEM_ER_FAILOVER_ROLLED_BACK \
	1213 /* 40001: transaction rolled back by failover, safe to retry */
/* 08001: TLS to the backend failed (the reason is in the message). Not
 * CR_SSL_CONNECTION_ERROR (2026), for the reason above. */
#define TANDEM_ER_BACKEND_TLS TANDEM_ER_BACKEND_UNAVAILABLE

#endif
