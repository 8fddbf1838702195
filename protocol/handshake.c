/*
 * handshake.c — connection-phase packets (see handshake.h).
 *
 * Layouts follow the MySQL internals documentation; MariaDB's extended
 * capabilities ride in the last 4 bytes of the greeting's 10-byte filler and
 * of the response's 23-byte filler, present only when CLIENT_MYSQL is clear.
 */
#include "protocol/handshake.h"

#include "protocol/packet.h"

int proto_handshake_parse(const uint8_t *payload, size_t len, struct proto_handshake *hs)
{
	struct proto_rd r;
	proto_rd_init(&r, payload, len);
	memset(hs, 0, sizeof(*hs));
	if (len == 0)
		return PROTO_E_TRUNCATED;
	if (payload[0] == PROTO_ERR_HEADER)
		return PROTO_E_UNEXPECTED;
	hs->protocol_version = proto_rd_u8(&r);
	if (hs->protocol_version != 10)
		return PROTO_E_UNSUPPORTED;
	hs->server_version = proto_rd_nul_str(&r);
	hs->connection_id = proto_rd_u32(&r);
	const uint8_t *part1 = proto_rd_bytes(&r, 8);
	proto_rd_u8(&r); /* filler */
	hs->caps = proto_rd_u16(&r);
	if (r.err)
		return r.err;
	if (part1)
		memcpy(hs->scramble, part1, 8);
	hs->scramble_len = 8;
	if (!(hs->caps & CLIENT_PROTOCOL_41))
		return PROTO_E_UNSUPPORTED;
	if (proto_rd_left(&r) == 0)
		return (int)len;

	hs->charset = proto_rd_u8(&r);
	hs->status = proto_rd_u16(&r);
	hs->caps |= (uint64_t)proto_rd_u16(&r) << 16;
	uint8_t auth_len = proto_rd_u8(&r);
	proto_rd_bytes(&r, 6);
	uint32_t ext = proto_rd_u32(&r);
	if (!(hs->caps & CLIENT_MYSQL))
		hs->caps |= (uint64_t)ext << 32;
	if (r.err)
		return r.err;

	if (hs->caps & CLIENT_SECURE_CONNECTION) {
		/* part 2 is max(13, auth_len - 8) bytes: the rest of the
		 * scramble, then a NUL that some servers omit. The scramble
		 * bytes must all be there; they are never taken to end early at
		 * a 0 byte, and a plugin name may follow without the NUL. */
		size_t n = auth_len > 8 ? (size_t)auth_len - 8 : 0;
		if (n < 13)
			n = 13;
		const uint8_t *part2 = proto_rd_bytes(&r, n - 1);
		if (!part2)
			return r.err;
		if (proto_rd_left(&r) > 0 && r.p[0] == 0)
			proto_rd_u8(&r);
		memcpy(hs->scramble + 8, part2, PROTO_SCRAMBLE_LEN - 8);
		hs->scramble_len = PROTO_SCRAMBLE_LEN;
	}
	if (hs->caps & CLIENT_PLUGIN_AUTH) {
		if (proto_rd_left(&r) == 0)
			return (int)len;
		/* MySQL 5.5.7-5.5.9 omitted the NUL; accept the rest then */
		if (memchr(r.p, 0, proto_rd_left(&r)))
			hs->auth_plugin = proto_rd_nul_str(&r);
		else
			hs->auth_plugin = proto_rd_rest(&r);
	}
	if (r.err)
		return r.err;
	return (int)len;
}

int proto_handshake_build(struct proto_wr *w, uint8_t seq, const struct proto_handshake *hs)
{
	size_t at = proto_wr_packet_begin(w, seq);
	size_t slen = hs->scramble_len > PROTO_SCRAMBLE_LEN ? PROTO_SCRAMBLE_LEN : hs->scramble_len;
	uint8_t scramble[PROTO_SCRAMBLE_LEN] = {0};
	memcpy(scramble, hs->scramble, slen);

	proto_wr_u8(w, 10);
	proto_wr_nul_str(w, hs->server_version.p, hs->server_version.len);
	proto_wr_u32(w, hs->connection_id);
	proto_wr_bytes(w, scramble, 8);
	proto_wr_u8(w, 0);
	proto_wr_u16(w, (uint16_t)hs->caps);
	proto_wr_u8(w, hs->charset);
	proto_wr_u16(w, hs->status);
	proto_wr_u16(w, (uint16_t)(hs->caps >> 16));
	proto_wr_u8(w, (hs->caps & CLIENT_PLUGIN_AUTH) ? PROTO_SCRAMBLE_LEN + 1 : 0);
	proto_wr_zero(w, 6);
	proto_wr_u32(w, (hs->caps & CLIENT_MYSQL) ? 0 : (uint32_t)(hs->caps >> 32));
	if (hs->caps & CLIENT_SECURE_CONNECTION) {
		proto_wr_bytes(w, scramble + 8, PROTO_SCRAMBLE_LEN - 8);
		proto_wr_u8(w, 0);
	}
	if (hs->caps & CLIENT_PLUGIN_AUTH)
		proto_wr_nul_str(w, hs->auth_plugin.p, hs->auth_plugin.len);
	return proto_wr_packet_end(w, at);
}

/* The fixed 32-byte head shared by SSLRequest and HandshakeResponse41. */
static void parse_response_head(struct proto_rd *r, uint64_t server_caps,
				struct proto_handshake_response *out)
{
	out->caps = proto_rd_u32(r);
	out->max_packet = proto_rd_u32(r);
	out->charset = proto_rd_u8(r);
	proto_rd_bytes(r, 19);
	uint32_t ext = proto_rd_u32(r);
	if (!(out->caps & CLIENT_MYSQL) && !(server_caps & CLIENT_MYSQL))
		out->caps |= (uint64_t)ext << 32;
}

static void build_response_head(struct proto_wr *w, const struct proto_handshake_response *r)
{
	proto_wr_u32(w, (uint32_t)r->caps);
	proto_wr_u32(w, r->max_packet);
	proto_wr_u8(w, r->charset);
	proto_wr_zero(w, 19);
	proto_wr_u32(w, (r->caps & CLIENT_MYSQL) ? 0 : (uint32_t)(r->caps >> 32));
}

bool proto_is_ssl_request(const uint8_t *payload, size_t len)
{
	return len == PROTO_SSL_REQUEST_LEN && (payload[1] & (CLIENT_SSL >> 8));
}

int proto_ssl_request_parse(const uint8_t *payload, size_t len, struct proto_handshake_response *r)
{
	struct proto_rd rd;
	memset(r, 0, sizeof(*r));
	proto_rd_init(&rd, payload, len);
	if (len != PROTO_SSL_REQUEST_LEN)
		return len < PROTO_SSL_REQUEST_LEN ? PROTO_E_TRUNCATED : PROTO_E_MALFORMED;
	parse_response_head(&rd, 0, r);
	if (!(r->caps & CLIENT_SSL))
		return PROTO_E_MALFORMED;
	return (int)len;
}

int proto_ssl_request_build(struct proto_wr *w, uint8_t seq,
			    const struct proto_handshake_response *r)
{
	size_t at = proto_wr_packet_begin(w, seq);
	build_response_head(w, r);
	return proto_wr_packet_end(w, at);
}

int proto_handshake_response_parse(const uint8_t *payload, size_t len, uint64_t server_caps,
				   struct proto_handshake_response *r)
{
	struct proto_rd rd;
	memset(r, 0, sizeof(*r));
	r->user.p = r->auth.p = r->database.p = r->auth_plugin.p = r->attrs.p = "";
	proto_rd_init(&rd, payload, len);
	if (len < 4)
		return PROTO_E_TRUNCATED;
	parse_response_head(&rd, server_caps, r);
	if (rd.err)
		return rd.err;
	if (!(r->caps & CLIENT_PROTOCOL_41))
		return PROTO_E_UNSUPPORTED;
	r->user = proto_rd_nul_str(&rd);
	if (r->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		r->auth = proto_rd_lenenc_str(&rd);
	} else if (r->caps & CLIENT_SECURE_CONNECTION) {
		uint8_t n = proto_rd_u8(&rd);
		const uint8_t *p = proto_rd_bytes(&rd, n);
		if (p) {
			r->auth.p = (const char *)p;
			r->auth.len = n;
		}
	} else {
		r->auth = proto_rd_nul_str(&rd);
	}
	if (rd.err)
		return rd.err;
	/* Trailing optional fields: clients differ in whether they send them
	 * when empty, so a packet that ends here is well formed. */
	if ((r->caps & CLIENT_CONNECT_WITH_DB) && proto_rd_left(&rd) > 0)
		r->database = proto_rd_nul_str(&rd);
	if ((r->caps & CLIENT_PLUGIN_AUTH) && proto_rd_left(&rd) > 0)
		r->auth_plugin = proto_rd_nul_str(&rd);
	if ((r->caps & CLIENT_CONNECT_ATTRS) && proto_rd_left(&rd) > 0)
		r->attrs = proto_rd_lenenc_str(&rd);
	if (rd.err)
		return rd.err;
	return (int)len;
}

int proto_handshake_response_build(struct proto_wr *w, uint8_t seq,
				   const struct proto_handshake_response *r)
{
	size_t at = proto_wr_packet_begin(w, seq);
	build_response_head(w, r);
	proto_wr_nul_str(w, r->user.p, r->user.len);
	if (r->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		proto_wr_lenenc_str(w, r->auth.p, r->auth.len);
	} else if (r->caps & CLIENT_SECURE_CONNECTION) {
		if (r->auth.len > 255)
			return PROTO_E_TOO_LARGE;
		proto_wr_u8(w, (uint8_t)r->auth.len);
		proto_wr_bytes(w, r->auth.p, r->auth.len);
	} else {
		proto_wr_nul_str(w, r->auth.p, r->auth.len);
	}
	if (r->caps & CLIENT_CONNECT_WITH_DB)
		proto_wr_nul_str(w, r->database.p, r->database.len);
	if (r->caps & CLIENT_PLUGIN_AUTH)
		proto_wr_nul_str(w, r->auth_plugin.p, r->auth_plugin.len);
	if (r->caps & CLIENT_CONNECT_ATTRS)
		proto_wr_lenenc_str(w, r->attrs.p, r->attrs.len);
	return proto_wr_packet_end(w, at);
}

int proto_attrs_next(struct proto_rd *r, struct proto_str *key, struct proto_str *value)
{
	if (r->err)
		return r->err;
	if (proto_rd_left(r) == 0)
		return 0;
	const uint8_t *start = r->p;
	*key = proto_rd_lenenc_str(r);
	*value = proto_rd_lenenc_str(r);
	if (r->err)
		return r->err;
	return (int)(r->p - start);
}

int proto_auth_switch_parse(const uint8_t *payload, size_t len, struct proto_auth_switch *as)
{
	struct proto_rd r;
	proto_rd_init(&r, payload, len);
	if (proto_rd_u8(&r) != PROTO_AUTH_SWITCH)
		return r.err ? r.err : PROTO_E_MALFORMED;
	as->plugin = proto_rd_nul_str(&r);
	as->data = proto_rd_rest(&r);
	if (r.err)
		return r.err;
	if (as->data.len == PROTO_SCRAMBLE_LEN + 1 && as->data.p[PROTO_SCRAMBLE_LEN] == 0)
		as->data.len = PROTO_SCRAMBLE_LEN;
	return (int)len;
}

int proto_auth_switch_build(struct proto_wr *w, uint8_t seq, const char *plugin,
			    const uint8_t *data, size_t data_len)
{
	size_t at = proto_wr_packet_begin(w, seq);
	proto_wr_u8(w, PROTO_AUTH_SWITCH);
	proto_wr_nul_str(w, plugin, strlen(plugin));
	proto_wr_bytes(w, data, data_len);
	/* mysql_native_password and caching_sha2 scrambles end with a NUL */
	if (data_len == PROTO_SCRAMBLE_LEN)
		proto_wr_u8(w, 0);
	return proto_wr_packet_end(w, at);
}

int proto_auth_more_parse(const uint8_t *payload, size_t len, struct proto_str *data)
{
	struct proto_rd r;
	proto_rd_init(&r, payload, len);
	if (proto_rd_u8(&r) != PROTO_AUTH_MORE_DATA)
		return r.err ? r.err : PROTO_E_MALFORMED;
	*data = proto_rd_rest(&r);
	return (int)len;
}

int proto_auth_more_build(struct proto_wr *w, uint8_t seq, const uint8_t *data, size_t len)
{
	size_t at = proto_wr_packet_begin(w, seq);
	proto_wr_u8(w, PROTO_AUTH_MORE_DATA);
	proto_wr_bytes(w, data, len);
	return proto_wr_packet_end(w, at);
}

int proto_change_user_parse(const uint8_t *payload, size_t len, uint64_t caps,
			    struct proto_change_user *cu)
{
	struct proto_rd r;
	memset(cu, 0, sizeof(*cu));
	cu->user.p = cu->auth.p = cu->database.p = cu->auth_plugin.p = cu->attrs.p = "";
	proto_rd_init(&r, payload, len);
	if (proto_rd_u8(&r) != COM_CHANGE_USER)
		return r.err ? r.err : PROTO_E_MALFORMED;
	cu->user = proto_rd_nul_str(&r);
	if (caps & CLIENT_SECURE_CONNECTION) {
		uint8_t n = proto_rd_u8(&r);
		const uint8_t *p = proto_rd_bytes(&r, n);
		if (p) {
			cu->auth.p = (const char *)p;
			cu->auth.len = n;
		}
	} else {
		cu->auth = proto_rd_nul_str(&r);
	}
	/* Old clients end the packet after the auth data. */
	if (!r.err && proto_rd_left(&r) > 0)
		cu->database = proto_rd_nul_str(&r);
	if (!r.err && proto_rd_left(&r) > 0)
		cu->charset = proto_rd_u16(&r);
	if (!r.err && (caps & CLIENT_PLUGIN_AUTH) && proto_rd_left(&r) > 0)
		cu->auth_plugin = proto_rd_nul_str(&r);
	if (!r.err && (caps & CLIENT_CONNECT_ATTRS) && proto_rd_left(&r) > 0)
		cu->attrs = proto_rd_lenenc_str(&r);
	if (r.err)
		return r.err;
	return (int)len;
}

int proto_change_user_build(struct proto_wr *w, uint8_t seq, uint64_t caps,
			    const struct proto_change_user *cu)
{
	size_t at = proto_wr_packet_begin(w, seq);
	proto_wr_u8(w, COM_CHANGE_USER);
	proto_wr_nul_str(w, cu->user.p, cu->user.len);
	if (caps & CLIENT_SECURE_CONNECTION) {
		if (cu->auth.len > 255)
			return PROTO_E_TOO_LARGE;
		proto_wr_u8(w, (uint8_t)cu->auth.len);
		proto_wr_bytes(w, cu->auth.p, cu->auth.len);
	} else {
		proto_wr_nul_str(w, cu->auth.p, cu->auth.len);
	}
	proto_wr_nul_str(w, cu->database.p, cu->database.len);
	proto_wr_u16(w, cu->charset);
	if (caps & CLIENT_PLUGIN_AUTH)
		proto_wr_nul_str(w, cu->auth_plugin.p, cu->auth_plugin.len);
	if (caps & CLIENT_CONNECT_ATTRS)
		proto_wr_lenenc_str(w, cu->attrs.p, cu->attrs.len);
	return proto_wr_packet_end(w, at);
}

int proto_raw_build(struct proto_wr *w, uint8_t seq, const void *data, size_t len)
{
	size_t at = proto_wr_packet_begin(w, seq);
	proto_wr_bytes(w, data, len);
	return proto_wr_packet_end(w, at);
}
