"""A minimal raw-protocol MySQL client, for what no driver exposes: the
exact bytes of OK packets, with exactly the capabilities a test chooses
(e.g. DEPRECATE_EOF without SESSION_TRACK, which no common driver asks
for). mysql_native_password only; single-result queries only."""

import hashlib
import socket
import struct

CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24

SERVER_SESSION_STATE_CHANGED = 0x4000


def native_reply(password: str, scramble: bytes) -> bytes:
    s1 = hashlib.sha1(password.encode()).digest()
    h = hashlib.sha1(scramble + hashlib.sha1(s1).digest()).digest()
    return bytes(a ^ b for a, b in zip(s1, h))


def lenenc(p: bytes, i: int) -> tuple[int, int]:
    """A length-encoded integer at p[i]: (value, next offset)."""
    c = p[i]
    if c < 0xFB:
        return c, i + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[c]
    return int.from_bytes(p[i + 1:i + 1 + width], "little"), i + 1 + width


def ok_status(p: bytes) -> tuple[int, int]:
    """(status flags, offset after the warnings) of an OK payload."""
    _, i = lenenc(p, 1)
    _, i = lenenc(p, i)
    return struct.unpack("<H", p[i:i + 2])[0], i + 4


class RawClient:
    BASE_CAPS = (CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
                 | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)
    TRACKING_CAPS = BASE_CAPS | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF

    def __init__(self, port, caps=TRACKING_CAPS, user="app", password="app-pass"):
        self.caps = caps
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        _, hs = self.read()
        i = hs.index(b"\0", 1) + 1 + 4
        scramble = hs[i:i + 8]
        i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
        scramble += hs[i:i + 12]
        auth = native_reply(password, scramble)
        p = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23
        p += user.encode() + b"\0" + bytes([len(auth)]) + auth + b"mysql_native_password\0"
        self.write(1, p)
        _, self.login_ok = self.read()
        if self.login_ok[0] != 0:
            raise RuntimeError(f"login failed: {self.login_ok!r}")

    def close(self):
        self.sock.close()

    def read(self):
        while len(self.buf) < 4:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d
        n = int.from_bytes(self.buf[:3], "little")
        while len(self.buf) < 4 + n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d
        seq, payload, self.buf = self.buf[3], self.buf[4:4 + n], self.buf[4 + n:]
        return seq, payload

    def write(self, seq, payload):
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([seq]) + payload)

    def query_last(self, sql):
        """The final OK/ERR/EOF of a single-result query (rows are skipped)."""
        self.write(0, b"\x03" + sql.encode())
        _, p = self.read()
        if p[0] in (0x00, 0xFF):
            return p
        eofs = 0
        while True:                       # column defs [EOF] rows, then EOF or 0xFE OK
            _, p = self.read()
            if p[0] == 0xFF:
                return p
            if p[0] == 0xFE and len(p) < 0xFFFFFF:
                if self.caps & CLIENT_DEPRECATE_EOF or eofs == 1:
                    return p
                eofs += 1
