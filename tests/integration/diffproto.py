"""The client side of the packet-level differential tester
(test_difftest.py): a raw MySQL protocol client that runs one scripted
conversation and records every frame the server side sent, header
included, so the same conversation directly and through tandem can be
compared byte for byte.

Owns the framing (plain and compressed), the login (mysql_native_password,
auth switch) and a reader that knows where each command's response ends
(the shapes of protocol/tracker.c, written again from the protocol
documentation so the two can disagree). It judges nothing: normalising and
comparing are test_difftest.py's. Blocking sockets with timeouts; no sleeps.
"""

import hashlib
import socket
import struct
import zlib

CLIENT_LONG_PASSWORD = 1
CLIENT_FOUND_ROWS = 1 << 1
CLIENT_LONG_FLAG = 1 << 2
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_COMPRESS = 1 << 5
CLIENT_LOCAL_FILES = 1 << 7
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PS_MULTI_RESULTS = 1 << 18
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24

# What libmariadb asks for, less CONNECT_ATTRS (its values differ per run)
# and SESSION_TRACK (a conversation of its own asks for that).
DEFAULT_CAPS = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG
                | CLIENT_LOCAL_FILES | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
                | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS
                | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC)

SERVER_MORE_RESULTS_EXISTS = 0x0008
SERVER_STATUS_CURSOR_EXISTS = 0x0040

COM_QUIT, COM_INIT_DB, COM_QUERY, COM_FIELD_LIST = 0x01, 0x02, 0x03, 0x04
COM_STATISTICS, COM_PROCESS_INFO, COM_DEBUG, COM_PING = 0x09, 0x0A, 0x0D, 0x0E
COM_CHANGE_USER = 0x11
COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA = 0x16, 0x17, 0x18
COM_STMT_CLOSE, COM_STMT_RESET, COM_SET_OPTION, COM_STMT_FETCH = 0x19, 0x1A, 0x1B, 0x1C
COM_RESET_CONNECTION = 0x1F

MAX_FRAME = 0xFFFFFF


class Closed(Exception):
    """The peer closed the connection where a packet was expected."""


def native_reply(password: str, scramble: bytes) -> bytes:
    if not password:
        return b""
    s1 = hashlib.sha1(password.encode()).digest()
    h = hashlib.sha1(scramble + hashlib.sha1(s1).digest()).digest()
    return bytes(a ^ b for a, b in zip(s1, h))


def lenenc_int(p: bytes, i: int) -> tuple[int, int]:
    c = p[i]
    if c < 0xFB:
        return c, i + 1
    if c == 0xFB:
        return -1, i + 1                     # NULL in a text row
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[c]
    return int.from_bytes(p[i + 1:i + 1 + width], "little"), i + 1 + width


def lenenc_bytes(b: bytes) -> bytes:
    n = len(b)
    if n < 0xFB:
        return bytes([n]) + b
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n) + b
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3] + b
    return b"\xfe" + struct.pack("<Q", n) + b


def text_cells(p: bytes) -> list:
    """The cells of a text-protocol row (None for NULL)."""
    cells, i = [], 0
    while i < len(p):
        n, i = lenenc_int(p, i)
        if n < 0:
            cells.append(None)
        else:
            cells.append(p[i:i + n])
            i += n
    return cells


def ok_status(p: bytes) -> int:
    """Status flags of an OK packet (0x00 or 0xFE header)."""
    _, i = lenenc_int(p, 1)
    _, i = lenenc_int(p, i)
    return struct.unpack_from("<H", p, i)[0]


def eof_status(p: bytes) -> int:
    return struct.unpack_from("<H", p, 3)[0]


class Frame:
    """One frame as received: the 4-byte header and its payload. Payloads
    of 1 MiB and more are kept as (length, sha1) to spare memory."""

    __slots__ = ("head", "payload")

    def __init__(self, head: bytes, payload: bytes):
        self.head = head
        self.payload = payload

    def key(self):
        if len(self.payload) >= 1 << 20:
            return (self.head, len(self.payload), hashlib.sha1(self.payload).hexdigest())
        return (self.head, self.payload)


class Conn:
    """One client connection. Every frame read is appended to self.frames;
    a conversation step (test_difftest.Step) takes the frames of its
    response with take()."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 20.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.frames: list[Frame] = []
        self.caps = 0
        self.server_caps = 0
        self.seq = 0
        self.compress = False
        self._cbuf = b""        # decompressed bytes not yet framed
        self._cseq = 0
        self._cseq_expect = 0
        self.scramble = b""
        self.greeting = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def take(self) -> list[Frame]:
        out, self.frames = self.frames, []
        return out

    # -- framing -----------------------------------------------------------

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise Closed(f"EOF after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def _read_stream(self, n: int) -> bytes:
        """n bytes of the (decompressed, if compression is on) stream."""
        if not self.compress:
            return self._recv_exact(n)
        while len(self._cbuf) < n:
            head = self._recv_exact(7)
            clen = int.from_bytes(head[:3], "little")
            ulen = int.from_bytes(head[4:7], "little")
            body = self._recv_exact(clen)
            # How the stream is cut into compressed frames, and which are
            # deflated, is the sender's choice and invisible to a client
            # library (allowed difference 7): what is compared is the
            # decompressed stream. A compressed sequence number out of
            # order is what a client does see (it fails): recorded.
            if head[3] != self._cseq_expect:
                self.frames.append(Frame(b"C?" + head[3:4], b"expected %d" % self._cseq_expect))
            self._cseq = head[3]
            self._cseq_expect = (head[3] + 1) & 0xFF
            self._cbuf += zlib.decompress(body) if ulen else body
        out, self._cbuf = self._cbuf[:n], self._cbuf[n:]
        return out

    def read_frame(self) -> Frame:
        head = self._read_stream(4)
        n = int.from_bytes(head[:3], "little")
        f = Frame(head, self._read_stream(n))
        self.frames.append(f)
        self.seq = (head[3] + 1) & 0xFF
        return f

    def read_packet(self) -> bytes:
        """One logical packet (frames of 0xFFFFFF bytes joined)."""
        f = self.read_frame()
        data = f.payload
        while len(f.payload) == MAX_FRAME:
            f = self.read_frame()
            data += f.payload
        return data

    def send(self, payload: bytes, seq: int | None = None) -> None:
        """One logical packet, split into frames as the protocol demands."""
        self.seq = self.seq if seq is None else seq
        out = bytearray()
        while True:
            chunk, payload = payload[:MAX_FRAME], payload[MAX_FRAME:]
            out += len(chunk).to_bytes(3, "little") + bytes([self.seq]) + chunk
            self.seq = (self.seq + 1) & 0xFF
            if len(chunk) < MAX_FRAME:
                break
        if self.compress:
            data = bytes(out)
            pos = 0
            wire = bytearray()
            while pos < len(data):
                part = data[pos:pos + MAX_FRAME]
                pos += len(part)
                z = zlib.compress(part)
                wire += len(z).to_bytes(3, "little") + bytes([self._cseq]) + \
                    len(part).to_bytes(3, "little") + z
                self._cseq = (self._cseq + 1) & 0xFF
            self._cseq_expect = self._cseq
            self.sock.sendall(wire)
        else:
            self.sock.sendall(out)

    def command(self, payload: bytes) -> None:
        """A command packet: sequence 0 (and compressed sequence 0)."""
        self._cseq = 0
        self.send(payload, seq=0)

    # -- connection phase ----------------------------------------------------

    def login(self, user: str, password: str, db: str | None = None,
              caps: int = DEFAULT_CAPS, charset: int = 8) -> bytes:
        """Greeting, handshake response, auth switch if asked; returns the
        final OK/ERR payload. Asks only for capabilities the server offers."""
        p = self.read_packet()
        self.greeting = p
        i = p.index(b"\0", 1) + 1
        i += 4
        part1 = p[i:i + 8]
        i += 9
        lo, = struct.unpack_from("<H", p, i)
        i += 2 + 1 + 2
        hi, = struct.unpack_from("<H", p, i)
        i += 2 + 1 + 10
        self.scramble = part1 + p[i:i + 12]
        self.server_caps = lo | hi << 16
        self.caps = caps & self.server_caps
        if db is not None:
            self.caps |= CLIENT_CONNECT_WITH_DB
        auth = native_reply(password, self.scramble)
        body = struct.pack("<IIB", self.caps, 1 << 24, charset) + b"\0" * 23
        body += user.encode() + b"\0"
        if self.caps & CLIENT_PLUGIN_AUTH_LENENC:
            body += lenenc_bytes(auth)
        else:
            body += bytes([len(auth)]) + auth
        if db is not None:
            body += db.encode() + b"\0"
        if self.caps & CLIENT_PLUGIN_AUTH:
            body += b"mysql_native_password\0"
        self.send(body, seq=1)
        result = self.read_auth_result(password)
        if self.caps & CLIENT_COMPRESS and result[:1] == b"\0":
            self.compress = True
        return result

    def read_auth_result(self, password: str) -> bytes:
        while True:
            p = self.read_packet()
            if p[:1] == b"\xfe" and len(p) > 1:          # auth switch request
                name_end = p.index(b"\0", 1)
                plugin = p[1:name_end]
                scramble = p[name_end + 1:].rstrip(b"\0")
                if plugin != b"mysql_native_password":
                    raise AssertionError(f"auth switch to {plugin!r}: not supported here")
                self.send(native_reply(password, scramble))
                continue
            if p[:1] == b"\x01":                         # more auth data
                continue
            return p

    # -- responses -----------------------------------------------------------

    @property
    def deprecate_eof(self) -> bool:
        return bool(self.caps & CLIENT_DEPRECATE_EOF)

    def _is_end(self, p: bytes) -> bool:
        if p[:1] != b"\xfe":
            return False
        return len(p) < 9 if not self.deprecate_eof else len(p) < MAX_FRAME

    def _end_status(self, p: bytes) -> int:
        return ok_status(p) if self.deprecate_eof else eof_status(p)

    def read_result(self, infile: bytes | None = None, binary: bool = False) -> list:
        """The whole response of COM_QUERY / COM_STMT_EXECUTE /
        COM_PROCESS_INFO, all result sets of it. infile: what to send for a
        LOCAL INFILE request. Returns the rows of every result set, decoded
        (text cells; binary rows raw)."""
        sets = []
        while True:
            p = self.read_packet()
            if p[:1] == b"\xff":
                return sets
            if p[:1] == b"\x00":
                if not ok_status(p) & SERVER_MORE_RESULTS_EXISTS:
                    return sets
                continue
            if p[:1] == b"\xfb":
                if infile is None:
                    self.send(b"")
                else:
                    for pos in range(0, len(infile), 65536):
                        self.send(infile[pos:pos + 65536])
                    self.send(b"")
                continue
            ncols, _ = lenenc_int(p, 0)
            for _ in range(ncols):
                self.read_packet()
            if not self.deprecate_eof:
                eof = self.read_packet()
                if binary and eof_status(eof) & SERVER_STATUS_CURSOR_EXISTS:
                    return sets                          # rows come by COM_STMT_FETCH
            elif binary:
                pass
            rows = []
            while True:
                p = self.read_packet()
                if p[:1] == b"\xff":
                    sets.append(rows)
                    return sets
                if self._is_end(p):
                    break
                rows.append(p if binary else text_cells(p))
            sets.append(rows)
            if not self._end_status(p) & SERVER_MORE_RESULTS_EXISTS:
                return sets

    def read_prepare(self) -> tuple[int, int, int]:
        """COM_STMT_PREPARE's response: (statement id, columns, params);
        (-1, 0, 0) for an error."""
        p = self.read_packet()
        if p[:1] == b"\xff":
            return -1, 0, 0
        stmt_id, ncols, nparams = struct.unpack_from("<IHH", p, 1)
        for n in (nparams, ncols):
            if n:
                for _ in range(n):
                    self.read_packet()
                if not self.deprecate_eof:
                    self.read_packet()
        return stmt_id, ncols, nparams

    def read_fetch(self) -> list:
        rows = []
        while True:
            p = self.read_packet()
            if p[:1] == b"\xff" or self._is_end(p):
                return rows
            rows.append(p)

    def read_field_list(self) -> None:
        while True:
            p = self.read_packet()
            if p[:1] == b"\xff" or (p[:1] == b"\xfe" and len(p) < 9):
                return

    def read_one(self) -> bytes:
        return self.read_packet()


def stmt_execute(stmt_id: int, params=(), flags: int = 0, long_data=()) -> bytes:
    """COM_STMT_EXECUTE with params as (type, bytes) pairs (None: NULL);
    parameter numbers in long_data are sent with no value."""
    body = struct.pack("<BIBI", COM_STMT_EXECUTE, stmt_id, flags, 1)
    if params:
        nulls = bytearray((len(params) + 7) // 8)
        for i, (_, v) in enumerate(params):
            if v is None:
                nulls[i // 8] |= 1 << (i % 8)
        body += bytes(nulls) + b"\x01"
        body += b"".join(struct.pack("<H", t) for t, _ in params)
        for i, (t, v) in enumerate(params):
            if v is not None and i not in long_data:
                body += v
    return body


MYSQL_TYPE_LONGLONG = 8
MYSQL_TYPE_VAR_STRING = 253
MYSQL_TYPE_BLOB = 252


def p_int(v: int):
    return (MYSQL_TYPE_LONGLONG, struct.pack("<q", v))


def p_str(s: str | bytes):
    b = s.encode() if isinstance(s, str) else s
    return (MYSQL_TYPE_VAR_STRING, lenenc_bytes(b))
