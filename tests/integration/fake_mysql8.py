"""FakeMySQL8: a scripted stand-in for a MySQL 8 server's connection phase,
for the backend logins a real MariaDB cannot produce: caching_sha2_password
as the default plugin, its fast path and its full authentication (in clear
over TLS, or RSA-OAEP with the key it sends), accounts on other plugins,
and a server that answers an SSLRequest with garbage.

It is not a database: a SET gets an OK (tandem sends its own session
setup), every other COM_QUERY a one-row result whose single value says
how that connection authenticated ("fast", "rsa", "tls-clear",
"native") so a test can see which path tandem took. COM_CHANGE_USER runs
the same authentication again. Runs in threads of the test process; every
connection is closed by stop().
"""

import hashlib
import os
import socket
import ssl
import struct
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SHA2 = "caching_sha2_password"
NATIVE = "mysql_native_password"

CAPS = (1 | 2 | 4 | 8 | 16 | 64 | 256 | 512 | 1024 | 4096 | 8192 | 32768 | (1 << 16)
        | (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 23)
        | (1 << 24))
CLIENT_CONNECT_WITH_DB = 8
CLIENT_SSL = 1 << 11
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24


class Denied(Exception):
    pass


def _lenenc(n: int) -> bytes:
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    return b"\xfd" + struct.pack("<I", n)[:3]


def _read_lenenc(p: bytes, i: int) -> tuple[int, int]:
    b = p[i]
    if b < 251:
        return b, i + 1
    if b == 0xFC:
        return struct.unpack_from("<H", p, i + 1)[0], i + 3
    if b == 0xFD:
        return int.from_bytes(p[i + 1:i + 4], "little"), i + 4
    return struct.unpack_from("<Q", p, i + 1)[0], i + 9


def _nul(p: bytes, i: int) -> tuple[bytes, int]:
    j = p.index(b"\0", i)
    return p[i:j], j + 1


class _Conn:
    def __init__(self, server, sock):
        self.srv, self.sock = server, sock
        self.scramble = bytes(33 + b % 94 for b in os.urandom(20))
        self.caps = 0
        self.tls = False
        self.path = "?"

    # -- packets ---------------------------------------------------------------

    def read(self) -> tuple[int, bytes]:
        head = self._exact(4)
        n = head[0] | head[1] << 8 | head[2] << 16
        return head[3], self._exact(n)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def send(self, seq: int, payload: bytes) -> int:
        n = len(payload)
        self.sock.sendall(bytes([n & 255, (n >> 8) & 255, n >> 16, seq & 255]) + payload)
        return (seq + 1) & 255

    def ok(self, seq: int) -> int:
        body = b"\x00\x00\x00" + struct.pack("<HH", 2, 0)
        if self.caps & CLIENT_SESSION_TRACK:
            body += b"\x00"
        return self.send(seq, body)

    def err(self, seq: int, code: int, state: str, msg: str) -> None:
        self.send(seq, b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + msg.encode())

    # -- connection phase --------------------------------------------------------

    def greeting(self) -> None:
        caps = CAPS | (CLIENT_SSL if self.srv.tls_mode else 0)
        g = (b"\x0a" + b"8.0.36-fake\0" + struct.pack("<I", 7) + self.scramble[:8] + b"\0"
             + struct.pack("<HBHH", caps & 0xFFFF, 255, 2, caps >> 16) + bytes([21])
             + b"\0" * 10 + self.scramble[8:] + b"\0" + self.srv.default_plugin.encode() + b"\0")
        self.send(0, g)

    def parse_response(self, p: bytes):
        caps, = struct.unpack_from("<I", p, 0)
        self.caps = caps
        i = 32
        user, i = _nul(p, i)
        if caps & CLIENT_PLUGIN_AUTH_LENENC:
            n, i = _read_lenenc(p, i)
        else:
            n, i = p[i], i + 1
        auth = p[i:i + n]
        i += n
        if caps & CLIENT_CONNECT_WITH_DB and i < len(p):
            _, i = _nul(p, i)
        plugin = b""
        if caps & CLIENT_PLUGIN_AUTH and i < len(p):
            plugin, i = _nul(p, i)
        return user.decode(), auth, plugin.decode()

    def authenticate(self, seq: int, user: str, auth: bytes, plugin: str) -> int:
        """Run the account's plugin; returns the next sequence id after the
        final OK, or raises Denied after sending the ERR."""
        acct = self.srv.accounts.get(user)
        if acct is None:
            self.err(seq, 1045, "28000", f"Access denied for user '{user}'")
            raise Denied
        aplugin, pw = acct
        if plugin != aplugin:
            seq = self.send(seq, b"\xfe" + aplugin.encode() + b"\0" + self.scramble + b"\0")
            seq, auth = self.read()
            seq = (seq + 1) & 255
        if aplugin == NATIVE:
            s1 = hashlib.sha1(pw.encode()).digest()
            mask = hashlib.sha1(self.scramble + hashlib.sha1(s1).digest()).digest()
            want = bytes(a ^ b for a, b in zip(s1, mask)) if pw else b""
            if auth != want:
                self.err(seq, 1045, "28000", f"Access denied for user '{user}' (native)")
                raise Denied
            self.path = "native"
            return self.ok(seq)
        if aplugin != SHA2:
            self.err(seq, 1251, "08004", "Client does not support authentication protocol")
            raise Denied
        if not auth:
            if pw:
                self.err(seq, 1045, "28000", f"Access denied for user '{user}' (empty)")
                raise Denied
            self.path = "empty"
            return self.ok(seq)
        d1 = hashlib.sha256(pw.encode()).digest()
        mask = hashlib.sha256(hashlib.sha256(d1).digest() + self.scramble).digest()
        if user in self.srv.cached and auth == bytes(a ^ b for a, b in zip(d1, mask)):
            seq = self.send(seq, b"\x01\x03")
            self.path = "fast"
            return self.ok(seq)
        seq = self.send(seq, b"\x01\x04")
        seq, p = self.read()
        seq = (seq + 1) & 255
        if self.tls:
            got, self.path = p.rstrip(b"\0").decode(), "tls-clear"
        else:
            if p == b"\x02":
                seq = self.send(seq, b"\x01" + self.srv.public_pem)
                seq, p = self.read()
                seq = (seq + 1) & 255
            plain = self.srv.key.decrypt(p, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                          algorithm=hashes.SHA1(), label=None))
            plain = bytes(c ^ self.scramble[i % 20] for i, c in enumerate(plain))
            got, self.path = plain.rstrip(b"\0").decode(), "rsa"
        if got != pw:
            self.err(seq, 1045, "28000", f"Access denied for user '{user}' (full)")
            raise Denied
        self.srv.cached.add(user)
        return self.ok(seq)

    def run(self) -> None:
        self.greeting()
        seq, p = self.read()
        if len(p) == 32 and struct.unpack_from("<I", p, 0)[0] & CLIENT_SSL:
            if self.srv.tls_mode == "garbage":
                self.sock.sendall(b"this is not a TLS server hello\r\n" * 4)
                return
            self.sock = self.srv.tls_ctx.wrap_socket(self.sock, server_side=True)
            self.tls = True
            seq, p = self.read()
        user, auth, plugin = self.parse_response(p)
        self.srv.logins.append(user)
        self.authenticate(seq + 1, user, auth, plugin)
        while True:
            seq, p = self.read()
            if p[:1] == b"\x01":
                return
            if p[:1] == b"\x11":       # COM_CHANGE_USER: user, auth (1-byte length), db...
                user, i = _nul(p, 1)
                n = p[i]
                auth = p[i + 1:i + 1 + n]
                i += 1 + n
                _, i = _nul(p, i)
                i += 2
                plugin, _ = _nul(p, i)
                self.authenticate(1, user.decode(), auth, plugin.decode())
            elif p[:1] == b"\x03" and p[1:].lstrip()[:4].upper() == b"SET ":
                self.ok(1)       # tandem's own session setup
            elif p[:1] == b"\x03":
                self.result(self.path)
            else:
                self.ok(1)

    def result(self, value: str) -> None:
        eof = not self.caps & CLIENT_DEPRECATE_EOF
        seq = self.send(1, b"\x01")
        col = (b"\x03def" + b"\x00" * 3 + b"\x01r" + b"\x00" + b"\x0c"
               + struct.pack("<HIBHB", 33, 64, 0xFD, 0, 0) + b"\0\0")
        seq = self.send(seq, col)
        if eof:
            seq = self.send(seq, b"\xfe\x00\x00\x02\x00")
        v = value.encode()
        seq = self.send(seq, _lenenc(len(v)) + v)
        if eof:
            self.send(seq, b"\xfe\x00\x00\x02\x00")
        else:
            tail = b"\xfe\x00\x00" + struct.pack("<HH", 2, 0)
            if self.caps & CLIENT_SESSION_TRACK:
                tail += b"\x00"
            self.send(seq, tail)


class FakeMySQL8:
    """accounts: {user: (plugin, password)}. cached: users whose SHA-256
    digest the server holds (fast auth possible). tls_mode: None, "tls"
    (with tls_cert: certs.CertFiles), or "garbage"."""

    def __init__(self, accounts: dict, cached=(), tls_mode=None, tls_cert=None,
                 default_plugin: str = SHA2):
        self.accounts = dict(accounts)
        self.cached = set(cached)
        self.tls_mode = tls_mode
        self.default_plugin = default_plugin
        self.logins: list[str] = []
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.tls_ctx = None
        if tls_mode == "tls":
            self.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_ctx.load_cert_chain(str(tls_cert.cert), str(tls_cert.key))
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._socks: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> "FakeMySQL8":
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            self._socks.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s: socket.socket) -> None:
        c = _Conn(self, s)
        try:
            c.run()
        except (Denied, EOFError, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                c.sock.close()
            except OSError:
                pass

    def stop(self) -> None:
        self._stop = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)    # wakes the blocked accept()
        except OSError:
            pass
        self.lsock.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(5)
