"""RawClient: a minimal hand-made MySQL protocol client for the recorder.

It exists so the recorder can choose capability flags no stock client sets
(CLIENT_DEPRECATE_EOF, CLIENT_SESSION_TRACK with every tracker on) and send
any command byte for byte (COM_STMT_* with cursors, COM_FIELD_LIST,
COM_CHANGE_USER with an auth switch, LOCAL INFILE data).

It reads each response by the protocol's grammar (written here from the
MariaDB/MySQL protocol documentation, independently of protocol/tracker.c)
and then checks that the server sends nothing more: if the grammar ever
stopped early the recording fails instead of splitting a response wrongly.
Owns nothing but its socket; knows only mysql_native_password.
"""

import hashlib
import socket
import struct

# capability flags (low 32 bits)
CLIENT_MYSQL = 1 << 0
CLIENT_FOUND_ROWS = 1 << 1
CLIENT_LONG_FLAG = 1 << 2
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_LOCAL_FILES = 1 << 7
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_INTERACTIVE = 1 << 10
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PS_MULTI_RESULTS = 1 << 18
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24

# What tandem offers a client (proxy/login/login.h SESS_CAPS_BASE, plus
# LOCAL_FILES for a tenant with local_infile), as far as a client uses them.
TANDEM_LIKE_CAPS = (CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB
                    | CLIENT_LOCAL_FILES | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
                    | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS
                    | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH
                    | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
                    | CLIENT_SESSION_TRACK)

SERVER_MORE_RESULTS_EXISTS = 0x0008
SERVER_STATUS_CURSOR_EXISTS = 0x0040

COM_QUIT, COM_INIT_DB, COM_QUERY, COM_FIELD_LIST = 0x01, 0x02, 0x03, 0x04
COM_STATISTICS, COM_PING, COM_CHANGE_USER = 0x09, 0x0E, 0x11
COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA = 0x16, 0x17, 0x18
COM_STMT_CLOSE, COM_STMT_RESET, COM_SET_OPTION, COM_STMT_FETCH = 0x19, 0x1A, 0x1B, 0x1C
COM_RESET_CONNECTION = 0x1F

MAX_FRAME = 0xFFFFFF


class ProtocolError(RuntimeError):
    pass


def lenenc_int(n: int) -> bytes:
    if n < 0xFB:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfc" + struct.pack("<H", n)
    if n <= 0xFFFFFF:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(b: bytes) -> bytes:
    return lenenc_int(len(b)) + b


def read_lenenc(buf: bytes, pos: int) -> tuple[int, int]:
    first = buf[pos]
    if first < 0xFB:
        return first, pos + 1
    if first == 0xFC:
        return struct.unpack_from("<H", buf, pos + 1)[0], pos + 3
    if first == 0xFD:
        return int.from_bytes(buf[pos + 1:pos + 4], "little"), pos + 4
    if first == 0xFE:
        return struct.unpack_from("<Q", buf, pos + 1)[0], pos + 9
    raise ProtocolError(f"bad length-encoded integer 0x{first:02x}")


def native_reply(password: bytes, scramble: bytes) -> bytes:
    if not password:
        return b""
    s1 = hashlib.sha1(password).digest()
    s2 = hashlib.sha1(s1).digest()
    mask = hashlib.sha1(scramble[:20] + s2).digest()
    return bytes(a ^ b for a, b in zip(s1, mask))


def sha2_reply(password: bytes, scramble: bytes) -> bytes:
    d1 = hashlib.sha256(password).digest()
    d2 = hashlib.sha256(d1).digest()
    mask = hashlib.sha256(d2 + scramble[:20]).digest()
    return bytes(a ^ b for a, b in zip(d1, mask))


class RawClient:
    """One connection. caps are the client flags sent in HandshakeResponse41
    (CLIENT_MYSQL stays clear, so no MariaDB extended capabilities)."""

    def __init__(self, host: str, port: int, user: str, password: str,
                 database: str | None = None, caps: int = TANDEM_LIKE_CAPS,
                 attrs: dict | None = None, quiet_check: float = 0.15):
        self.host, self.port = host, port
        self.user, self.password, self.database = user, password.encode(), database
        self.caps = caps | (CLIENT_CONNECT_WITH_DB if database else 0)
        self.attrs = attrs if attrs is not None else {"_client_name": "tandem-recorder"}
        self.quiet_check = quiet_check
        self.sock: socket.socket | None = None
        self.scramble = b""
        self.server_caps = 0
        self.seq = 0
        self.infile_data: dict[bytes, bytes] = {}   # LOCAL INFILE name -> content

    # -- framing ------------------------------------------------------------

    def _recv_exact(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ProtocolError("server closed the connection")
            out += chunk
        return bytes(out)

    def read_packet(self) -> bytes:
        """One logical packet (continuation frames joined); sets self.seq to
        the sequence id the next packet we send must carry."""
        payload = bytearray()
        while True:
            hdr = self._recv_exact(4)
            n = int.from_bytes(hdr[:3], "little")
            self.seq = (hdr[3] + 1) & 0xFF
            payload += self._recv_exact(n)
            if n < MAX_FRAME:
                return bytes(payload)

    def send_packet(self, payload: bytes, seq: int | None = None) -> None:
        """Send one logical packet, split into frames of 0xFFFFFF bytes."""
        if seq is not None:
            self.seq = seq
        out = bytearray()
        pos = 0
        while True:
            part = payload[pos:pos + MAX_FRAME]
            out += len(part).to_bytes(3, "little") + bytes([self.seq])
            out += part
            self.seq = (self.seq + 1) & 0xFF
            pos += len(part)
            if len(part) < MAX_FRAME:
                break
        self.sock.sendall(out)

    def assert_quiet(self) -> None:
        """Nothing may follow a complete response (see the module comment)."""
        self.sock.settimeout(self.quiet_check)
        try:
            extra = self.sock.recv(1)
        except socket.timeout:
            extra = None
        finally:
            self.sock.settimeout(30)
        if extra is not None:
            raise ProtocolError(f"server sent more after a complete response: {extra!r}")

    # -- connection phase ----------------------------------------------------

    def connect(self, plugin: str = "mysql_native_password") -> bytes:
        """Log in; returns the final OK payload. plugin names the method the
        first reply uses (caching_sha2_password makes a native account's
        server send an AuthSwitchRequest)."""
        self.sock = socket.create_connection((self.host, self.port), timeout=30)
        greeting = self.read_packet()
        self._parse_greeting(greeting)
        reply = self._auth_reply(plugin, self.scramble)
        body = struct.pack("<IIB", self.caps, 1 << 30, 45) + b"\0" * 23
        body += self.user.encode() + b"\0"
        body += lenenc_str(reply)
        if self.database:
            body += self.database.encode() + b"\0"
        body += plugin.encode() + b"\0"
        attrs = b"".join(lenenc_str(k.encode()) + lenenc_str(v.encode())
                         for k, v in self.attrs.items())
        body += lenenc_str(attrs)
        self.send_packet(body)
        return self._auth_loop()

    def _parse_greeting(self, g: bytes) -> None:
        if g[0] != 10:
            raise ProtocolError(f"unexpected greeting {g[:16]!r}")
        end = g.index(b"\0", 1)
        pos = end + 1 + 4
        part1 = g[pos:pos + 8]
        pos += 9
        caps_lo = struct.unpack_from("<H", g, pos)[0]
        pos += 2 + 1 + 2
        caps_hi = struct.unpack_from("<H", g, pos)[0]
        pos += 2
        pos += 1 + 10
        part2 = g[pos:pos + 12]
        self.server_caps = caps_lo | caps_hi << 16
        self.scramble = part1 + part2

    def _auth_reply(self, plugin: str, scramble: bytes) -> bytes:
        if plugin == "mysql_native_password":
            return native_reply(self.password, scramble)
        if plugin == "caching_sha2_password":
            return sha2_reply(self.password, scramble)
        raise ProtocolError(f"plugin {plugin} not supported by the recorder")

    def _auth_loop(self) -> bytes:
        """After a login or COM_CHANGE_USER packet: answer auth switches
        until the server sends OK or ERR; return that payload."""
        while True:
            p = self.read_packet()
            if p[0] in (0x00, 0xFF):
                return p
            if p[0] == 0xFE:
                end = p.index(b"\0", 1)
                plugin = p[1:end].decode()
                data = p[end + 1:]
                if data.endswith(b"\0"):
                    data = data[:-1]
                self.scramble = data
                self.send_packet(self._auth_reply(plugin, data))
                continue
            raise ProtocolError(f"unexpected packet during auth: {p[:16]!r}")

    # -- commands --------------------------------------------------------------

    def command(self, payload: bytes, expect_response: bool = True, **kw) -> list[bytes]:
        """Send one command, read its whole response; returns its packets."""
        self.send_packet(payload, seq=0)
        if not expect_response:
            self.assert_quiet()
            return []
        packets = self._read_response(payload, **kw)
        self.assert_quiet()
        return packets

    def query(self, sql: str) -> list[bytes]:
        return self.command(bytes([COM_QUERY]) + sql.encode())

    def _is_terminator(self, p: bytes) -> bool:
        if not p or p[0] != 0xFE:
            return False
        if self.caps & CLIENT_DEPRECATE_EOF:
            return len(p) < MAX_FRAME
        return len(p) < 9

    @staticmethod
    def _status_of(p: bytes) -> int:
        """Status flags of an OK (0x00 or 0xFE with DEPRECATE_EOF) or EOF."""
        if p[0] == 0xFE and len(p) < 9:
            return struct.unpack_from("<H", p, 3)[0] if len(p) >= 5 else 0
        _, pos = read_lenenc(p, 1)
        _, pos = read_lenenc(p, pos)
        return struct.unpack_from("<H", p, pos)[0]

    def _read_response(self, cmd: bytes, binary: bool | None = None) -> list[bytes]:
        c = cmd[0]
        if c in (COM_QUERY, COM_STMT_EXECUTE):
            return self._read_results(binary=(c == COM_STMT_EXECUTE), cmd=cmd)
        if c == COM_STMT_FETCH:
            return self._read_rows()
        if c == COM_STMT_PREPARE:
            return self._read_prepare()
        if c == COM_FIELD_LIST:
            return self._read_rows()
        if c == COM_CHANGE_USER:
            return [self._auth_loop()]
        return [self.read_packet()]

    def _read_defs(self, n: int) -> list[bytes]:
        out = [self.read_packet() for _ in range(n)]
        if n and not self.caps & CLIENT_DEPRECATE_EOF:
            eof = self.read_packet()
            if not self._is_terminator(eof):
                raise ProtocolError(f"expected EOF after definitions, got {eof[:16]!r}")
            out.append(eof)
        return out

    def _read_rows(self) -> list[bytes]:
        out = []
        while True:
            p = self.read_packet()
            out.append(p)
            if p[0] == 0xFF or self._is_terminator(p):
                return out

    def _read_results(self, binary: bool, cmd: bytes) -> list[bytes]:
        out = []
        while True:
            p = self.read_packet()
            out.append(p)
            if p[0] == 0xFF:
                return out
            if p[0] == 0x00:
                if self._status_of(p) & SERVER_MORE_RESULTS_EXISTS:
                    continue
                return out
            if p[0] == 0xFB:
                self._send_infile(p[1:])
                continue
            ncols, _ = read_lenenc(p, 0)
            defs = self._read_defs(ncols)
            out += defs
            last = defs[-1]
            if (binary and not self.caps & CLIENT_DEPRECATE_EOF
                    and self._status_of(last) & SERVER_STATUS_CURSOR_EXISTS):
                return out    # a cursor was opened: rows come with COM_STMT_FETCH
            rows = self._read_rows()
            out += rows
            end = rows[-1]
            if end[0] == 0xFF or not self._status_of(end) & SERVER_MORE_RESULTS_EXISTS:
                return out

    def _send_infile(self, name: bytes) -> None:
        data = self.infile_data.get(name)
        if data is not None:
            for i in range(0, len(data), 16384):
                self.send_packet(data[i:i + 16384])
        self.send_packet(b"")

    def _read_prepare(self) -> list[bytes]:
        p = self.read_packet()
        if p[0] == 0xFF:
            return [p]
        stmt_id, ncols, nparams = struct.unpack_from("<IHH", p, 1)
        self.last_stmt_id = stmt_id
        return [p] + self._read_defs(nparams) + self._read_defs(ncols)

    # -- command builders ------------------------------------------------------

    def prepare(self, sql: str) -> tuple[int, list[bytes]]:
        pkts = self.command(bytes([COM_STMT_PREPARE]) + sql.encode())
        if pkts[0][0] == 0xFF:
            return -1, pkts
        return struct.unpack_from("<I", pkts[0], 1)[0], pkts

    @staticmethod
    def execute_payload(stmt_id: int, params: list, cursor: bool = False,
                        long_data: set[int] = frozenset()) -> bytes:
        """COM_STMT_EXECUTE with params bound as LONGLONG, VAR_STRING or NULL;
        indexes in long_data were sent with COM_STMT_SEND_LONG_DATA."""
        body = bytes([COM_STMT_EXECUTE]) + struct.pack("<IBI", stmt_id, 1 if cursor else 0, 1)
        if params:
            bitmap = bytearray((len(params) + 7) // 8)
            types, values = b"", b""
            for i, v in enumerate(params):
                if v is None:
                    bitmap[i // 8] |= 1 << (i % 8)
                    types += b"\x06\x00"
                elif isinstance(v, int):
                    types += b"\x08\x00"
                    values += struct.pack("<q", v)
                else:
                    types += b"\xfd\x00"
                    if i not in long_data:
                        values += lenenc_str(v if isinstance(v, bytes) else v.encode())
            body += bytes(bitmap) + b"\x01" + types + values
        return body

    def fetch_payload(self, stmt_id: int, rows: int) -> bytes:
        return bytes([COM_STMT_FETCH]) + struct.pack("<II", stmt_id, rows)

    def change_user_payload(self, user: str, password: str, database: str = "",
                            plugin: str = "mysql_native_password") -> bytes:
        self.password = password.encode()
        reply = self._auth_reply(plugin, self.scramble)
        body = bytes([COM_CHANGE_USER]) + user.encode() + b"\0"
        body += bytes([len(reply)]) + reply
        body += database.encode() + b"\0"
        body += struct.pack("<H", 45)
        body += plugin.encode() + b"\0"
        attrs = b"".join(lenenc_str(k.encode()) + lenenc_str(v.encode())
                         for k, v in self.attrs.items())
        body += lenenc_str(attrs)
        return body

    def quit(self) -> None:
        self.send_packet(bytes([COM_QUIT]), seq=0)
        try:
            self.sock.settimeout(5)
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.sock.close()

    def close(self) -> None:
        if self.sock:
            self.sock.close()
