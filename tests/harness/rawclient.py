"""RawClient: the MySQL client protocol by hand, packet by packet, for the
tests that must send what no real client library sends (truncated or
malformed login packets, a wrong-length auth switch reply, garbage in place
of a TLS handshake, a stall) or must take one exact path a library hides
(caching_sha2 fast-auth reply first over TLS, as MySQL's own library does).

Everything else belongs to real clients (clients.py). Blocking sockets with
timeouts: a test waits on the peer's bytes or its close, never on a sleep.
"""

import hashlib
import socket
import ssl
import struct

from . import util

CLIENT_LONG_PASSWORD = 1
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_SSL = 1 << 11
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21
BASE_CAPS = (CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
             | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)


class Closed(Exception):
    """The peer closed the connection (EOF) where a packet was expected."""


def native_reply(password: str, scramble: bytes) -> bytes:
    s1 = hashlib.sha1(password.encode()).digest()
    s2 = hashlib.sha1(s1).digest()
    mask = hashlib.sha1(scramble + s2).digest()
    return bytes(a ^ b for a, b in zip(s1, mask))


def sha2_reply(password: str, scramble: bytes) -> bytes:
    d1 = hashlib.sha256(password.encode()).digest()
    d2 = hashlib.sha256(d1).digest()
    mask = hashlib.sha256(d2 + scramble).digest()
    return bytes(a ^ b for a, b in zip(d1, mask))


class RawClient:
    def __init__(self, port: int, host: str = util.LOOPBACK, timeout: float = 10.0,
                 source: str | None = None):
        """source: the local address to connect from (any 127.x.y.z works on
        loopback), for tests of per-source behaviour."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.greeting = None
        self.scramble = b""
        self.server_caps = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- framing -------------------------------------------------------------

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed(f"EOF after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def read_packet(self) -> tuple[int, bytes]:
        head = self._recv_exact(4)
        length = head[0] | head[1] << 8 | head[2] << 16
        return head[3], self._recv_exact(length)

    def send_packet(self, seq: int, payload: bytes) -> None:
        n = len(payload)
        self.sock.sendall(bytes([n & 0xFF, (n >> 8) & 0xFF, n >> 16, seq & 0xFF]) + payload)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_closed(self, timeout: float) -> bool:
        """True once the peer closes (EOF or reset) within timeout; bytes the
        peer sends meanwhile are read and dropped."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(4096):
                    return True
        except (ConnectionResetError, ssl.SSLError, ssl.SSLEOFError):
            return True
        except TimeoutError:
            return False

    # -- connection phase ----------------------------------------------------

    def read_greeting(self) -> bytes:
        seq, p = self.read_packet()
        assert seq == 0 and p[0] == 10, p[:16]
        i = p.index(b"\0", 1) + 1
        conn_id, part1 = struct.unpack_from("<I8s", p, i)
        i += 4 + 8 + 1
        caps_lo, = struct.unpack_from("<H", p, i)
        i += 2 + 1 + 2
        caps_hi, = struct.unpack_from("<H", p, i)
        i += 2 + 1 + 10
        part2 = p[i:i + 12]
        self.scramble = part1 + part2
        self.server_caps = caps_lo | caps_hi << 16
        self.greeting = p
        return self.scramble

    @staticmethod
    def response_head(caps: int, charset: int = 45) -> bytes:
        return struct.pack("<IIB", caps, 1 << 24, charset) + b"\0" * 23

    def ssl_request(self, caps: int = BASE_CAPS, seq: int = 1) -> None:
        self.send_packet(seq, self.response_head(caps | CLIENT_SSL))

    def start_tls(self, ca: str | None = None, client_cert=None, **ctx_kw) -> None:
        ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
        if not ca:
            ctx.check_hostname = False
        for k, v in ctx_kw.items():
            setattr(ctx, k, v)
        if client_cert:
            ctx.load_cert_chain(str(client_cert.cert), str(client_cert.key))
        self.sock = ctx.wrap_socket(self.sock, server_hostname=util.LOOPBACK if ca else None)

    def login_packet(self, user: str, auth: bytes, plugin: str, caps: int = BASE_CAPS,
                     db: str | None = None) -> bytes:
        if db is not None:
            caps |= CLIENT_CONNECT_WITH_DB
        body = self.response_head(caps) + user.encode() + b"\0" + bytes([len(auth)]) + auth
        if db is not None:
            body += db.encode() + b"\0"
        return body + plugin.encode() + b"\0"


def parse_err(payload: bytes) -> tuple[int, str, str]:
    """(code, sqlstate, message) of an ERR packet; AssertionError otherwise."""
    assert payload[:1] == b"\xff", f"not an ERR packet: {payload[:40]!r}"
    code, = struct.unpack_from("<H", payload, 1)
    if payload[3:4] == b"#":
        return code, payload[4:9].decode(), payload[9:].decode(errors="replace")
    return code, "HY000", payload[3:].decode(errors="replace")
