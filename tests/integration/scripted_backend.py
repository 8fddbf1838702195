"""ScriptedBackend: a small MySQL server that misbehaves on request, for the
cases a real server cannot produce (test_bad_input_backend.py).

Left alone it behaves: a MariaDB-style HandshakeV10 greeting, any login
accepted (mysql_native_password), OK for SET / USE / CREATE / INSERT /
COM_PING and other commands, an empty result for SHOW, and for SELECT one
row whose values follow the select list (`SELECT 7` gives 7, `@@...
read_only` gives 0, anything else 1). That is enough for tandem's sessions
and for the health monitor's probes (read_only and GTID position, SHOW
SLAVE STATUS, the heartbeat table), so a monitor may probe it freely.

Misbehaviour is chosen two ways:
- per connection, before the greeting: arm(name) makes the next accepted
  connection run that script (greeting and login misbehaviour);
- per query: a query containing `bad:<name>` gets that response.
Names are the keys of CONNECTION_SCRIPTS and QUERY_SCRIPTS below.

Everything observable is recorded: `events` (connection id, what) —
"accepted", "login <user>", "query <sql>", "peer closed" (tandem closed
the connection; a script that closes its own side records only
"closed"), "wait timed out", "script <name>", "closed".
"""

import random
import re
import select
import socket
import struct
import threading
import time

CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24
SERVER_CAPS = ((1 << 0) | (1 << 2) | CLIENT_CONNECT_WITH_DB | (1 << 7) | CLIENT_PROTOCOL_41
               | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 18) | (1 << 19)
               | (1 << 20) | (1 << 21) | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF)
STATUS_AUTOCOMMIT = 0x0002
NATIVE = b"mysql_native_password"


class PeerClosed(Exception):
    """tandem closed the connection."""


class SelfClosed(Exception):
    """A script closed the connection itself."""


def lenenc(n: int) -> bytes:
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(b: bytes) -> bytes:
    return lenenc(len(b)) + b


def column_def(name: bytes) -> bytes:
    return (lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"") + lenenc_str(b"")
            + lenenc_str(name) + lenenc_str(name) + b"\x0c"
            + struct.pack("<HIBHB", 33, 1024, 0xFD, 0, 0) + b"\0\0")


class Conn:
    """One accepted connection: framing, and the well-behaved protocol
    pieces scripts are built from."""

    def __init__(self, srv: "ScriptedBackend", sock: socket.socket, cid: int):
        self.srv, self.sock, self.id = srv, sock, cid
        self.buf = b""
        self.caps = 0
        self.user = ""
        self.scramble = bytes(random.Random(cid).randrange(33, 127) for _ in range(20))

    # -- framing ---------------------------------------------------------------
    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            d = b""
        if not d:
            raise PeerClosed
        self.buf += d

    def read(self) -> tuple[int, bytes]:
        while len(self.buf) < 4:
            self._fill()
        n = int.from_bytes(self.buf[:3], "little")
        while len(self.buf) < 4 + n:
            self._fill()
        seq, p, self.buf = self.buf[3], self.buf[4:4 + n], self.buf[4 + n:]
        return seq, p

    def raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, seq: int, payload: bytes) -> int:
        n = len(payload)
        self.sock.sendall(n.to_bytes(3, "little") + bytes([seq & 0xFF]) + payload)
        return (seq + 1) & 0xFF

    def wait_closed(self, timeout: float = 60) -> None:
        """Read and drop until the peer closes (recorded as "peer closed")
        or timeout ("wait timed out")."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            self.srv.record(self.id, "wait timed out")
            return
        except OSError:
            pass
        raise PeerClosed

    # -- protocol pieces -------------------------------------------------------
    def greeting_payload(self) -> bytes:
        return (b"\x0a" + b"5.5.5-10.11.0-MariaDB-scripted\0" + struct.pack("<I", self.id)
                + self.scramble[:8] + b"\0" + struct.pack("<H", SERVER_CAPS & 0xFFFF)
                + bytes([45]) + struct.pack("<H", STATUS_AUTOCOMMIT)
                + struct.pack("<H", SERVER_CAPS >> 16) + bytes([21]) + b"\0" * 10
                + self.scramble[8:] + b"\0" + NATIVE + b"\0")

    def greet(self):
        self.send(0, self.greeting_payload())

    def read_login(self) -> int:
        """Read the HandshakeResponse41; returns the next sequence id."""
        seq, p = self.read()
        self.caps = struct.unpack_from("<I", p, 0)[0]
        end = p.index(b"\0", 32)
        self.user = p[32:end].decode(errors="replace")
        self.srv.record(self.id, f"login {self.user}")
        return seq + 1

    def ok(self, seq: int, status: int = STATUS_AUTOCOMMIT, affected: int = 0) -> int:
        p = b"\x00" + lenenc(affected) + lenenc(0) + struct.pack("<HH", status, 0)
        if self.caps & CLIENT_SESSION_TRACK:
            p += b"\x00"
        return self.send(seq, p)

    def err(self, seq: int, code: int, state: str, msg: str) -> int:
        return self.send(seq, b"\xff" + struct.pack("<H", code) + b"#" + state.encode()
                         + msg.encode())

    def eof(self, seq: int) -> int:
        return self.send(seq, b"\xfe\x00\x00" + struct.pack("<H", STATUS_AUTOCOMMIT))

    def end_of_rows(self, seq: int) -> int:
        if self.caps & CLIENT_DEPRECATE_EOF:
            p = b"\xfe\x00\x00" + struct.pack("<HH", STATUS_AUTOCOMMIT, 0)
            if self.caps & CLIENT_SESSION_TRACK:
                p += b"\x00"
            return self.send(seq, p)
        return self.eof(seq)

    def result_head(self, names: list[bytes], seq: int = 1) -> int:
        seq = self.send(seq, lenenc(len(names)))
        for n in names:
            seq = self.send(seq, column_def(n))
        if not self.caps & CLIENT_DEPRECATE_EOF:
            seq = self.eof(seq)
        return seq

    def result(self, names: list[bytes], rows: list[list[bytes]]) -> int:
        seq = self.result_head(names)
        for r in rows:
            seq = self.send(seq, b"".join(lenenc_str(v) for v in r))
        return self.end_of_rows(seq)

    # -- the well-behaved server -------------------------------------------------
    def answer(self, p: bytes):
        cmd = p[:1]
        if cmd != b"\x03":
            self.ok(1)
            return
        sql = p[1:].decode(errors="replace")
        self.srv.record(self.id, f"query {sql}")
        m = re.search(r"bad:(\w+)", sql)
        if m and m.group(1) in QUERY_SCRIPTS:
            self.srv.record(self.id, f"script {m.group(1)}")
            QUERY_SCRIPTS[m.group(1)](self)
            return
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word == "SHOW":
            self.result([b"Value"], [])
        elif word == "SELECT":
            items = [x.strip() for x in sql.lstrip()[6:].split(" FROM ")[0].split(",")]
            vals = [x.encode() if x.isdigit() else b"0" if "read_only" in x else
                    b"" if "gtid" in x else b"1" for x in items]
            self.result([x.encode()[:60] for x in items], [vals])
        elif word in ("INSERT", "REPLACE", "UPDATE", "DELETE"):
            self.ok(1, affected=1)
        else:
            self.ok(1)

    def serve_commands(self):
        while True:
            _, p = self.read()
            if not p or p[:1] == b"\x01":
                return
            self.answer(p)

    def run_normal(self):
        self.greet()
        seq = self.read_login()
        self.ok(seq)
        self.serve_commands()


# -- connection scripts (armed with ScriptedBackend.arm) --------------------------

def _garbage_greeting(c: Conn):
    c.send(0, bytes(random.Random(5).randrange(256) for _ in range(90)))
    c.wait_closed()


def _truncated_greeting(c: Conn):
    c.send(0, c.greeting_payload()[:30])       # a whole frame, cut inside the scramble
    c.wait_closed()


def _greeting_past_its_frame(c: Conn):
    c.raw(b"\xa0\x00\x00\x00" + c.greeting_payload()[:40])   # says 160, sends 40, stalls
    c.wait_closed()


def _greeting_16mib(c: Conn):
    c.raw(b"\xff\xff\xff\x00" + b"\x0a" * 65536)
    c.wait_closed()


def _protocol_9(c: Conn):
    c.send(0, b"\x09" + c.greeting_payload()[1:])
    c.wait_closed()


def _short_scramble(c: Conn):
    p = c.greeting_payload()
    i = p.index(b"\0", 1) + 1 + 4
    c.send(0, p[:i] + b"abc\0")                 # scramble of 3 bytes, nothing after
    c.wait_closed()


def _close_before_greeting(c: Conn):
    c.sock.close()


def _close_during_auth(c: Conn):
    c.greet()
    c.read_login()
    c.sock.close()


def _stall_during_auth(c: Conn):
    c.greet()
    c.read_login()
    c.wait_closed()


def _garbage_login_reply(c: Conn):
    c.greet()
    seq = c.read_login()
    c.send(seq, b"\x42" + b"?" * 20)
    c.wait_closed()


def _auth_switch_unknown_plugin(c: Conn):
    c.greet()
    seq = c.read_login()
    c.send(seq, b"\xfe" + b"no_such_plugin\0" + c.scramble + b"\0")
    c.wait_closed()


def _auth_switch_malformed(c: Conn):
    c.greet()
    seq = c.read_login()
    c.send(seq, b"\xfemysql_native_password")        # no NUL, no scramble
    c.wait_closed()


def _truncated_login_err(c: Conn):
    c.greet()
    seq = c.read_login()
    c.send(seq, b"\xff\x15")                         # an ERR cut after one code byte
    c.wait_closed()


def _bad_login_ok(c: Conn):
    c.greet()
    seq = c.read_login()
    c.send(seq, b"\x00\xfe\xff")                     # lenenc runs past the end
    c.wait_closed()


def _deaf_after_login(c: Conn):
    """Logs in, answers tandem's setup statement, then stops reading: what
    the client sends piles up in front of it."""
    c.greet()
    seq = c.read_login()
    c.ok(seq)
    _, p = c.read()
    c.answer(p)
    c.srv.record(c.id, "deaf")
    # notice tandem's close without reading what piled up (POLLRDHUP), or
    # give up and close when the test says so (release_deaf)
    poller = select.poll()
    poller.register(c.sock, select.POLLRDHUP)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if poller.poll(200):
            raise PeerClosed
        if c.srv.deaf_release.is_set():
            c.srv.record(c.id, "gave up")
            c.sock.shutdown(socket.SHUT_RDWR)
            raise SelfClosed
    c.srv.record(c.id, "wait timed out")


CONNECTION_SCRIPTS = {
    "deaf_after_login": _deaf_after_login,
    "garbage_greeting": _garbage_greeting,
    "truncated_greeting": _truncated_greeting,
    "greeting_past_its_frame": _greeting_past_its_frame,
    "greeting_16mib": _greeting_16mib,
    "protocol_9": _protocol_9,
    "short_scramble": _short_scramble,
    "close_before_greeting": _close_before_greeting,
    "close_during_auth": _close_during_auth,
    "stall_during_auth": _stall_during_auth,
    "garbage_login_reply": _garbage_login_reply,
    "auth_switch_unknown_plugin": _auth_switch_unknown_plugin,
    "auth_switch_malformed": _auth_switch_malformed,
    "truncated_login_err": _truncated_login_err,
    "bad_login_ok": _bad_login_ok,
}


# -- query scripts (a query containing bad:<name>) ---------------------------------

def _column_count_lies(c: Conn):
    """Says 3 columns, sends 1 definition, then rows and the end."""
    seq = c.send(1, lenenc(3))
    seq = c.send(seq, column_def(b"a"))
    if not c.caps & CLIENT_DEPRECATE_EOF:
        seq = c.eof(seq)
    seq = c.send(seq, lenenc_str(b"x"))
    c.end_of_rows(seq)


def _column_count_huge(c: Conn):
    c.send(1, lenenc(1 << 40))
    c.wait_closed()


def _column_count_zero_bytes(c: Conn):
    c.send(1, b"\xfc\x01")                        # a 2-byte length with one byte
    c.wait_closed()


def _row_longer_than_packet(c: Conn):
    """A row whose value claims 1000 bytes inside a 12-byte packet."""
    seq = c.result_head([b"a"])
    seq = c.send(seq, b"\xfc\xe8\x03" + b"x" * 9)
    c.end_of_rows(seq)


def _frame_longer_than_sent(c: Conn):
    """A row frame announcing 4096 bytes, of which 100 come, then a stall."""
    seq = c.result_head([b"a"])
    c.raw(b"\x00\x10\x00" + bytes([seq]) + b"\xfc\xfd\x0f" + b"y" * 97)
    c.wait_closed()


def _unsolicited_infile(c: Conn):
    c.send(1, b"\xfb/etc/passwd")
    while True:
        seq, p = c.read()
        c.srv.record(c.id, f"infile data {len(p)}")
        if not p:
            c.ok(seq + 1)
            break


def _stall_mid_result(c: Conn):
    seq = c.result_head([b"a"])
    for i in range(5):
        seq = c.send(seq, lenenc_str(b"row%d" % i))
    c.wait_closed(600)


def _close_mid_result(c: Conn):
    seq = c.result_head([b"a"])
    for i in range(5):
        seq = c.send(seq, lenenc_str(b"row%d" % i))
    c.sock.shutdown(socket.SHUT_RDWR)
    raise SelfClosed


def _bad_ok_session_track(c: Conn):
    """An OK whose session-state block runs past the end of the packet."""
    p = b"\x00\x00\x00" + struct.pack("<HH", STATUS_AUTOCOMMIT | 0x4000, 0) + b"\x00" \
        + b"\x20" + b"\x00\x1e" + b"abc"
    c.send(1, p)


def _truncated_err(c: Conn):
    c.send(1, b"\xff\x01")


def _extra_bytes_after_response(c: Conn):
    c.ok(1)
    c.send(2, b"\x00\x00\x00\x02\x00\x00\x00")   # a second OK nobody asked for


IDLE_TIMEOUT_ERR = (b"\xff" + struct.pack("<H", 4031) + b"#HY000"
                    + b"The client was disconnected by the server because of inactivity.")


def _idle_timeout_err(c: Conn):
    """Answers, then ends the idle session with an ERR and closes, as
    MariaDB >= 11 does at wait_timeout (10.11.19, the test pair, does not)."""
    c.ok(1)
    time.sleep(0.3)        # the server's idle time, not a synchronisation
    c.send(0, IDLE_TIMEOUT_ERR)
    c.sock.close()


def _eof_in_place_of_column(c: Conn):
    seq = c.send(1, lenenc(2))
    seq = c.send(seq, b"\xfe\x00\x00\x02\x00")
    c.end_of_rows(seq)


def _huge_result_then_garbage(c: Conn):
    seq = c.result_head([b"a"])
    for _ in range(64):
        seq = c.send(seq, lenenc_str(b"z" * 16000))
    c.send(seq, b"")                               # an empty packet in place of a row
    c.wait_closed()


QUERY_SCRIPTS = {
    "column_count_lies": _column_count_lies,
    "column_count_huge": _column_count_huge,
    "column_count_short": _column_count_zero_bytes,
    "row_longer_than_packet": _row_longer_than_packet,
    "frame_longer_than_sent": _frame_longer_than_sent,
    "unsolicited_infile": _unsolicited_infile,
    "stall_mid_result": _stall_mid_result,
    "close_mid_result": _close_mid_result,
    "bad_ok_session_track": _bad_ok_session_track,
    "truncated_err": _truncated_err,
    "extra_bytes_after_response": _extra_bytes_after_response,
    "idle_timeout_err": _idle_timeout_err,
    "eof_in_place_of_column": _eof_in_place_of_column,
    "empty_packet_mid_rows": _huge_result_then_garbage,
}


class ScriptedBackend:
    def __init__(self, host: str = "127.0.0.1"):
        self.lsock = socket.create_server((host, 0), backlog=128)
        self.port = self.lsock.getsockname()[1]
        self.address = f"{host}:{self.port}"
        self.events: list[tuple[int, str]] = []
        self.log: list[str] = []   # the same, timestamped, for post-mortems
        self._armed: list[str] = []
        self.deaf_release = threading.Event()   # deaf_after_login connections close
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._next_id = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> "ScriptedBackend":
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self._thread.join(5)

    def arm(self, name: str, times: int = 1):
        """The next `times` accepted connections run CONNECTION_SCRIPTS[name]."""
        assert name in CONNECTION_SCRIPTS, name
        with self._lock:
            self._armed += [name] * times

    def disarm(self):
        """Forget scripts no connection has taken yet."""
        with self._lock:
            self._armed.clear()

    def record(self, cid: int, what: str):
        with self._lock:
            self.events.append((cid, what))
            self.log.append(f"{time.monotonic():.3f} {cid} {what}")

    def events_of(self, cid: int) -> list[str]:
        with self._lock:
            return [w for i, w in self.events if i == cid]

    def conn_with(self, text: str) -> int | None:
        """The id of the last connection with an event containing text."""
        with self._lock:
            for i, w in reversed(self.events):
                if text in w:
                    return i
        return None

    def peer_closed(self, cid: int) -> bool:
        """Whether tandem closed connection cid."""
        return "peer closed" in self.events_of(cid)

    def _accept(self):
        while not self._stop:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            with self._lock:
                self._next_id += 1
                cid = self._next_id
                script = self._armed.pop(0) if self._armed else None
                self._socks.append(s)
            threading.Thread(target=self._serve, args=(s, cid, script), daemon=True).start()

    def _serve(self, s: socket.socket, cid: int, script: str | None):
        c = Conn(self, s, cid)
        self.record(cid, "accepted")
        if script:
            self.record(cid, f"script {script}")
        try:
            if script:
                CONNECTION_SCRIPTS[script](c)
            else:
                c.run_normal()
        except PeerClosed:
            self.record(cid, "peer closed")
        except SelfClosed:
            pass
        except (OSError, ValueError, IndexError) as exc:
            self.record(cid, f"error {exc!r}")
        finally:
            self.record(cid, "closed")
            try:
                s.close()
            except OSError:
                pass


if __name__ == "__main__":      # a manual smoke run: python3 scripted_backend.py
    with ScriptedBackend() as b:
        print("listening on", b.address)
        time.sleep(3600)
