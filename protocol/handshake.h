/*
 * handshake.h — connection-phase packets: HandshakeV10 (server greeting),
 * SSLRequest, HandshakeResponse41, AuthSwitchRequest, AuthMoreData, and
 * COM_CHANGE_USER (a login in the middle of a session).
 *
 * Owns: their parsing and building, and capability negotiation helpers.
 * Must not: decide policy (which plugin, which capabilities tandem offers);
 * callers pass those in. Parsed strings point into the caller's payload.
 */
#ifndef TANDEM_PROTOCOL_HANDSHAKE_H
#define TANDEM_PROTOCOL_HANDSHAKE_H

#include "protocol/protocol.h"

#define PROTO_SCRAMBLE_LEN    20
#define PROTO_SSL_REQUEST_LEN 32

struct proto_handshake {
	uint8_t protocol_version; /* always 10 */
	struct proto_str server_version;
	uint32_t connection_id;
	uint8_t scramble[PROTO_SCRAMBLE_LEN + 1]; /* copied: 8 + 12 bytes joined */
	size_t scramble_len;                      /* normally 20 */
	uint64_t caps;                            /* incl. MariaDB extended caps in the high bits */
	uint8_t charset;
	uint16_t status;
	struct proto_str auth_plugin; /* empty without CLIENT_PLUGIN_AUTH */
};

/* Payload parser. PROTO_E_UNSUPPORTED for protocol versions other than 10
 * or servers without CLIENT_PROTOCOL_41. An ERR packet (0xFF) instead of a
 * greeting gives PROTO_E_UNEXPECTED: parse it with proto_err_parse. */
int proto_handshake_parse(const uint8_t *payload, size_t len, struct proto_handshake *hs);
int proto_handshake_build(struct proto_wr *w, uint8_t seq, const struct proto_handshake *hs);

struct proto_handshake_response {
	uint64_t caps; /* client flags; MariaDB ext caps in the high bits */
	uint32_t max_packet;
	uint8_t charset;
	struct proto_str user;
	struct proto_str auth;        /* auth-response bytes */
	struct proto_str database;    /* empty without CLIENT_CONNECT_WITH_DB */
	struct proto_str auth_plugin; /* empty without CLIENT_PLUGIN_AUTH */
	struct proto_str attrs;       /* connect-attribute pairs without their length prefix */
};

/* A 32-byte response with CLIENT_SSL set is an SSLRequest: the client wants
 * TLS before sending the rest. */
bool proto_is_ssl_request(const uint8_t *payload, size_t len);
int proto_ssl_request_parse(const uint8_t *payload, size_t len, struct proto_handshake_response *r);
int proto_ssl_request_build(struct proto_wr *w, uint8_t seq,
			    const struct proto_handshake_response *r);

/* Payload parser; PROTO_E_UNSUPPORTED for pre-4.1 clients. The server_caps
 * are what the server offered (for MariaDB extended caps interpretation). */
int proto_handshake_response_parse(const uint8_t *payload, size_t len, uint64_t server_caps,
				   struct proto_handshake_response *r);
int proto_handshake_response_build(struct proto_wr *w, uint8_t seq,
				   const struct proto_handshake_response *r);

/* Iterate connect attributes: >0 consumed, 0 at the end, <0 on error. */
int proto_attrs_next(struct proto_rd *r, struct proto_str *key, struct proto_str *value);

/* AuthSwitchRequest: 0xFE, plugin name NUL, plugin data (scramble). */
struct proto_auth_switch {
	struct proto_str plugin;
	struct proto_str data; /* a trailing NUL after a 20-byte scramble is stripped */
};
int proto_auth_switch_parse(const uint8_t *payload, size_t len, struct proto_auth_switch *as);
int proto_auth_switch_build(struct proto_wr *w, uint8_t seq, const char *plugin,
			    const uint8_t *data, size_t data_len);

/* AuthMoreData: 0x01 then plugin-specific bytes. */
int proto_auth_more_parse(const uint8_t *payload, size_t len, struct proto_str *data);
int proto_auth_more_build(struct proto_wr *w, uint8_t seq, const uint8_t *data, size_t len);

/*
 * COM_CHANGE_USER: 0x11, user NUL, auth data (one length byte then the
 * bytes with CLIENT_SECURE_CONNECTION, else NUL-terminated), database NUL,
 * then — each present only when bytes remain — charset (2 bytes), plugin
 * name NUL (CLIENT_PLUGIN_AUTH) and connect attributes (length-encoded,
 * CLIENT_CONNECT_ATTRS). caps are the capabilities negotiated at login.
 */
struct proto_change_user {
	struct proto_str user;
	struct proto_str auth;
	struct proto_str database;
	uint16_t charset;             /* 0 when the packet has none */
	struct proto_str auth_plugin; /* empty when absent */
	struct proto_str attrs;       /* attribute pairs without their length prefix */
};
/* Payload parser (the payload starts with the 0x11 byte). */
int proto_change_user_parse(const uint8_t *payload, size_t len, uint64_t caps,
			    struct proto_change_user *cu);
/* Writes every field, charset included; PROTO_E_TOO_LARGE when the auth
 * data does not fit its one length byte. */
int proto_change_user_build(struct proto_wr *w, uint8_t seq, uint64_t caps,
			    const struct proto_change_user *cu);

/* A raw packet whose payload is the given bytes (auth switch response,
 * plugin data sent by a client). */
int proto_raw_build(struct proto_wr *w, uint8_t seq, const void *data, size_t len);

#endif
