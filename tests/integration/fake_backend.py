"""A scripted stand-in for a MariaDB server, for the one case a real server
cannot produce: asking the client for a local file when the statement was
not LOAD DATA LOCAL INFILE (what a rogue or compromised server does to read
a client's files). Used only by test_local_infile.py.

It speaks just enough of the protocol: a HandshakeV10 greeting, any login
accepted, OK for SET/USE/PING, and a one-column result for other queries;
a query containing the word ROGUE_MARKER is answered with a LOCAL INFILE
request for ROGUE_FILE. Everything the proxy sends back after such a
request is recorded in `infile_events`: ("data", bytes) for file content,
("empty", seq) for the end-of-file packet, ("closed", None) when the
connection closed before either."""

import socket
import struct
import threading

ROGUE_MARKER = "rogue_request"
ROGUE_FILE = b"/etc/hostname"

CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_DEPRECATE_EOF = 1 << 24
# LONG_FLAG, CONNECT_WITH_DB, LOCAL_FILES, PROTOCOL_41, TRANSACTIONS,
# SECURE_CONNECTION, MULTI_STATEMENTS/RESULTS, PS_MULTI_RESULTS, PLUGIN_AUTH,
# LENENC client data, SESSION_TRACK, DEPRECATE_EOF; CLIENT_MYSQL clear
# (MariaDB style).
SERVER_CAPS = ((1 << 2) | (1 << 3) | (1 << 7) | (1 << 9) | (1 << 13) | (1 << 15) | (1 << 16)
               | (1 << 17) | (1 << 18) | (1 << 19) | (1 << 21) | (1 << 23) | (1 << 24))


def lenenc_str(b: bytes) -> bytes:
    assert len(b) < 251
    return bytes([len(b)]) + b


class FakeBackend:
    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.address = f"{host}:{self.port}"
        self.infile_events = []
        self.queries = []
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def events(self):
        with self.lock:
            return list(self.infile_events)

    # -- connections -------------------------------------------------------

    def _accept(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        c = _Conn(conn)
        try:
            c.greet_and_login()
            while True:
                seq, p = c.read()
                if not p or p[0] == 0x01:          # COM_QUIT
                    return
                self._command(c, p)
        except (ConnectionError, OSError, EOFError):
            return
        finally:
            conn.close()

    def _command(self, c, p):
        cmd, body = p[0], p[1:]
        if cmd != 0x03:                            # COM_PING, COM_INIT_DB, ...: OK
            c.ok(1)
            return
        sql = body.decode(errors="replace")
        with self.lock:
            self.queries.append(sql)
        if ROGUE_MARKER in sql:
            c.write(1, b"\xfb" + ROGUE_FILE)
            self._after_infile_request(c)
            return
        if sql.upper().startswith(("SET", "USE", "BEGIN", "COMMIT")):
            c.ok(1)
            return
        c.one_row(b"1", b"1")

    def _after_infile_request(self, c):
        while True:
            try:
                seq, p = c.read()
            except (ConnectionError, OSError, EOFError):
                with self.lock:
                    self.infile_events.append(("closed", None))
                raise
            with self.lock:
                self.infile_events.append(("empty", seq) if not p else ("data", p))
            if not p:
                c.ok(seq + 1)   # "LOAD" of an empty file: 0 rows
                return


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.caps = 0

    def read(self):
        while len(self.buf) < 4:
            self._fill()
        n = int.from_bytes(self.buf[:3], "little")
        while len(self.buf) < 4 + n:
            self._fill()
        seq, p, self.buf = self.buf[3], self.buf[4:4 + n], self.buf[4 + n:]
        return seq, p

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def write(self, seq, payload):
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([seq & 0xFF]) + payload)

    def greet_and_login(self):
        scramble = b"abcdefghijklmnopqrst"
        g = (b"\x0a" + b"5.5.5-10.11.0-fake\0" + struct.pack("<I", 7) + scramble[:8] + b"\0"
             + struct.pack("<H", SERVER_CAPS & 0xFFFF) + bytes([45]) + struct.pack("<H", 2)
             + struct.pack("<H", SERVER_CAPS >> 16 & 0xFFFF) + bytes([21]) + b"\0" * 6
             + struct.pack("<I", 0) + scramble[8:] + b"\0" + b"mysql_native_password\0")
        self.write(0, g)
        seq, resp = self.read()
        self.caps = struct.unpack("<I", resp[:4])[0]
        self.ok(seq + 1)

    def ok(self, seq, header=0x00):
        self.write(seq, bytes([header]) + b"\0\0" + struct.pack("<HH", 2, 0))

    def one_row(self, name: bytes, value: bytes):
        coldef = (lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"") + lenenc_str(b"")
                  + lenenc_str(name) + lenenc_str(b"") + b"\x0c" + struct.pack("<H", 45)
                  + struct.pack("<I", 4) + b"\xfd" + struct.pack("<H", 0) + b"\0" + b"\0\0")
        eof = b"\xfe" + struct.pack("<HH", 0, 2)
        deprecate = self.caps & CLIENT_DEPRECATE_EOF
        seq = 1
        for pkt in ([b"\x01", coldef] + ([] if deprecate else [eof]) + [lenenc_str(value)]):
            self.write(seq, pkt)
            seq += 1
        if deprecate:
            self.ok(seq, header=0xFE)
        else:
            self.write(seq, eof)
