#!/usr/bin/python3
"""Record the OK packets a real MariaDB sends with session-state tracking
on, for the facts unit tests: tests/data/session_track.txt.

Usage: record_session_track.py [PORT]
  With PORT, talks to the server on 127.0.0.1:PORT as app/app-pass (a
  harness pair's primary); without, starts a MariaDBPair of its own.

Each statement runs on one connection that negotiated CLIENT_SESSION_TRACK
and DEPRECATE_EOF and enabled tracking the way tandem's backend setup does;
the file gets one line per vector: `name hexpayload`, where the payload is
the OK (or, for a query with rows, the 0xFE OK that ends it) without its
4-byte header. A tiny raw-protocol client is used because no Python driver
exposes session tracking."""

import hashlib
import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETUP = ("SET SESSION session_track_system_variables='*', session_track_schema=ON, "
         "session_track_state_change=ON, session_track_transaction_info='CHARACTERISTICS'")

# (vector name, statement); all on one connection, in order.
STATEMENTS = [
    ("setup", SETUP),
    ("use_test", "USE test"),
    ("set_time_zone", "SET time_zone='+02:00'"),
    ("autocommit_off", "SET autocommit=0"),
    ("autocommit_on", "SET autocommit=1"),
    ("begin", "BEGIN"),
    ("insert_in_trx", "INSERT INTO demo.items(name) VALUES ('vector')"),
    ("commit", "COMMIT"),
    ("insert_autocommit", "INSERT INTO demo.items(name) VALUES ('vector2')"),
    ("set_user_var", "SET @x=1"),
    ("create_temp", "CREATE TEMPORARY TABLE test.t_vec(a int)"),
    ("lock_tables", "LOCK TABLES demo.items READ"),
    ("unlock_tables", "UNLOCK TABLES"),
    ("start_ro", "START TRANSACTION READ ONLY"),
    ("select_in_ro", "SELECT 1"),
    ("commit_ro", "COMMIT"),
    ("set_isolation", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
    ("set_names", "SET NAMES latin1"),
    ("set_session_track", "SET session_track_state_change=OFF"),
]


def native_reply(password: str, scramble: bytes) -> bytes:
    s1 = hashlib.sha1(password.encode()).digest()
    h = hashlib.sha1(scramble + hashlib.sha1(s1).digest()).digest()
    return bytes(a ^ b for a, b in zip(s1, h))


class RawClient:
    CAPS = ((1 << 9) | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 19)
            | (1 << 23) | (1 << 24))

    def __init__(self, port, user="app", password="app-pass"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        _, hs = self.read()
        i = hs.index(b"\0", 1) + 1 + 4
        scramble = hs[i:i + 8]
        i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
        scramble += hs[i:i + 12]
        auth = native_reply(password, scramble)
        p = struct.pack("<IIB", self.CAPS, 1 << 24, 45) + b"\0" * 23
        p += user.encode() + b"\0" + bytes([len(auth)]) + auth + b"mysql_native_password\0"
        self.write(1, p)
        _, ok = self.read()
        if ok[0] != 0:
            raise RuntimeError(f"login failed: {ok!r}")

    def read(self):
        while len(self.buf) < 4:
            self.buf += self.sock.recv(65536)
        n = int.from_bytes(self.buf[:3], "little")
        while len(self.buf) < 4 + n:
            self.buf += self.sock.recv(65536)
        seq, payload, self.buf = self.buf[3], self.buf[4:4 + n], self.buf[4 + n:]
        return seq, payload

    def write(self, seq, payload):
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([seq]) + payload)

    def query_last(self, sql):
        """The final OK/ERR of a single-result query (rows are skipped)."""
        self.write(0, b"\x03" + sql.encode())
        _, p = self.read()
        if p[0] in (0x00, 0xFF):
            return p
        while True:                       # column defs then rows, then a 0xFE OK
            _, p = self.read()
            if p[0] == 0xFF or (p[0] == 0xFE and len(p) < 0xFFFFFF):
                return p


def main():
    pair = None
    if len(sys.argv) > 1:
        port = int(sys.argv[1])
    else:
        from harness import util
        from harness.pair import MariaDBPair
        pair = MariaDBPair(util.scratch_dir("record-track")).start()
        port = pair.primary.port
    try:
        c = RawClient(port)
        lines = ["# Recorded by tests/tools/record_session_track.py from "
                 "MariaDB; one OK payload per line: name hex"]
        for name, sql in STATEMENTS:
            payload = c.query_last(sql)
            lines.append(f"{name} {payload.hex()}")
        out = Path(__file__).resolve().parents[1] / "data" / "session_track.txt"
        out.parent.mkdir(exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print(f"wrote {out} ({len(STATEMENTS)} vectors)")
    finally:
        if pair:
            pair.stop()


if __name__ == "__main__":
    main()
