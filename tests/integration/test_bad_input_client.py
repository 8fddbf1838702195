#!/usr/bin/python3
"""Bad input from clients, by raw sockets, against tandem in front of a
real MariaDB pair.

Every case asserts three things: tandem stays up (process alive, ports
accepting); a bystander session on the same worker (`workers: 1`) keeps
running queries during and after the case; and the offending connection
gets a clear ERR (code and SQLSTATE asserted) or, where no ERR can be sent
(a client that closed its own socket), the session is gone from tandem's
open-session gauge.

Cases: random bytes before the greeting and after the login; truncated
packets (stall and close, before and after login, small and streamed);
length fields that run past the end (login packet, COM_CHANGE_USER,
COM_STMT_EXECUTE); wrong sequence ids in each phase; a 16 MiB+ packet
before login (refused from its header, with tandem's RSS flat while the
client keeps sending); a command above max_packet (refused from its
header, before its body is sent); garbage auth data; an unknown auth
plugin and an over-long plugin name; COM_STMT_EXECUTE with a wrong
parameter count and with an unknown statement id; COM_CHANGE_USER with
short fields; and a few dozen concurrent connections of seeded random
bytes.
"""

import random
import socket
import struct
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import accounts, rawclient, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config  # noqa: E402
import security_common as sc  # noqa: E402

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
NATIVE = "mysql_native_password"
AUTH_TIMEOUT_MS = 2000
MAX_PACKET = 4 << 20
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21


def frame(seq: int, payload: bytes) -> bytes:
    n = len(payload)
    return bytes([n & 0xFF, (n >> 8) & 0xFF, n >> 16, seq & 0xFF]) + payload


class ClientBadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("badin-client")
        cls.pair = MariaDBPair(cls.dir / "pair").start()
        cfg = pair_config(cls.pair, ["t1"], workers=1)
        sc.no_failover(cfg)
        cfg["limits"] = {"auth_timeout_ms": AUTH_TIMEOUT_MS, "max_packet": MAX_PACKET,
                         "max_auth_failures": 0}
        cls.tandem = TandemProcess(None, cfg, cls.dir).start()
        cls.port = cls.tandem.tenant_port("t1")

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def setUp(self):
        self.bystander = sc.Bystander(self.port).__enter__()
        self.bystander.wait_queries(2)

    def tearDown(self):
        self.bystander.wait_queries(3)
        self.bystander.stop()
        self.bystander.check(self, min_queries=5)
        sc.assert_alive(self, self.tandem)

    # -- helpers -----------------------------------------------------------------

    def client(self) -> rawclient.RawClient:
        return rawclient.RawClient(self.port)

    def greeted(self) -> tuple[rawclient.RawClient, bytes]:
        c = self.client()
        return c, c.read_greeting()

    def login(self, caps=rawclient.BASE_CAPS) -> rawclient.RawClient:
        return sc.raw_login(self.port, caps=caps)

    def expect_err(self, c, code: int, state: str, seq: int | None = None,
                   closed: bool = True, text: str | None = None) -> str:
        got_seq, got_code, got_state, msg = sc.read_err(c)
        self.assertEqual((got_code, got_state), (code, state), msg)
        if seq is not None:
            self.assertEqual(got_seq, seq, msg)
        if text is not None:
            self.assertIn(text, msg)
        if closed:
            self.assertTrue(c.wait_closed(10), "tandem did not close the connection")
        return msg

    def open_sessions(self) -> float:
        return sc.tenant_metric(self.tandem, "tandem_sessions", "t1")

    def assert_session_count_returns(self, n: float):
        util.wait_for(lambda: self.open_sessions() == n, 20,
                      what=f"tandem_sessions to return to {n}")

    # -- random bytes --------------------------------------------------------------

    def test_random_bytes_before_the_greeting(self):
        """Seeded random bytes sent at once on connect, 24 connections at a
        time: the greeting, then 1043 / 08S01 (a packet that is too large,
        out of order, malformed, or never completed: the login timeout)."""
        results = {}

        def one(seed):
            rnd = random.Random(seed)
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
            try:
                with self.client() as c:
                    c.send_raw(data)
                    c.read_greeting()
                    c.sock.settimeout(AUTH_TIMEOUT_MS / 1000 + 10)
                    _, code, state, _ = sc.read_err(c)
                    results[seed] = (code, state, c.wait_closed(10))
            except Exception as exc:  # noqa: BLE001
                results[seed] = repr(exc)

        threads = [threading.Thread(target=one, args=(seed,)) for seed in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for seed in range(24):
            self.assertEqual(results.get(seed), (1043, "08S01", True), f"seed {seed}")

    def test_random_bytes_after_login(self):
        """Seeded random frames after a login: whatever tandem answers is
        well-formed packets, and tandem survives; the connection either
        goes on or is closed by tandem."""
        for seed in range(24):
            rnd = random.Random(1000 + seed)
            c = self.login()
            with c:
                body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
                c.send_raw(frame(0, body) if seed % 2 else body)
                c.sock.settimeout(1.0)
                try:
                    while True:
                        seq, p = c.read_packet()
                        self.assertLess(len(p), 1 << 24)
                except (TimeoutError, socket.timeout, rawclient.Closed, ConnectionResetError):
                    pass

    def test_command_phase_framing_errors(self):
        c = self.login()
        with c:
            c.send_raw(frame(5, b"\x03SELECT 1"))
            self.expect_err(c, 1156, "08S01", seq=1, text="out of order")
        c = self.login()
        with c:
            c.send_raw(frame(0, b""))
            self.expect_err(c, 1835, "HY000", seq=1, text="Malformed")
        # an unknown command byte: the server answers 1047 "Unknown command"
        # (tandem forwards it), the session goes on
        c = self.login()
        with c:
            c.send_packet(0, b"\xee" + bytes(range(40)))
            self.expect_err(c, 1047, "08S01", seq=1, closed=False)
            sc.raw_query_ok(c)
        # binary garbage as SQL reaches the server, which answers 1064
        c = self.login()
        with c:
            c.send_packet(0, b"\x03" + bytes(random.Random(7).randrange(256) for _ in range(64)))
            self.expect_err(c, 1064, "42000", seq=1, closed=False)
            sc.raw_query_ok(c)

    def test_command_above_max_packet_refused_from_its_header(self):
        c = self.login()
        with c:
            c.send_raw(struct.pack("<I", (MAX_PACKET + 1) & 0xFFFFFF)[:3] + b"\x00" + b"\x03")
            self.expect_err(c, 1153, "08S01", seq=1, text="max_allowed_packet")
        # a 16 MiB frame (continued) is refused the same way
        c = self.login()
        with c:
            c.send_raw(b"\xff\xff\xff\x00\x03SELECT")
            self.expect_err(c, 1153, "08S01", seq=1)

    # -- truncated packets -------------------------------------------------------

    def test_truncated_login_stalls_until_the_login_timeout(self):
        c, _ = self.greeted()
        with c:
            c.send_raw(b"\x64\x00\x00\x01" + b"\x0f" * 30)   # 30 of 100 bytes
            t0 = time.monotonic()
            c.sock.settimeout(AUTH_TIMEOUT_MS / 1000 + 15)
            self.expect_err(c, 1043, "08S01", seq=2, text="timed out")
            self.assertGreaterEqual(time.monotonic() - t0, AUTH_TIMEOUT_MS / 1000 * 0.9)

    def test_truncated_commands_then_close(self):
        base = self.open_sessions()
        c = self.login()
        c.send_raw(b"\x64\x00\x00\x00\x03SELECT")            # 7 of 100 bytes
        self.assertEqual(self.open_sessions(), base + 1)
        c.close()
        self.assert_session_count_returns(base)
        # a large command streams through: cut it half-way
        c = self.login()
        n = 200 << 10
        c.send_raw(struct.pack("<I", n)[:3] + b"\x00" + b"\x03SELECT '" + b"x" * (100 << 10))
        c.close()
        self.assert_session_count_returns(base)

    # -- length fields past the end -----------------------------------------------

    def test_login_fields_past_the_end(self):
        head = rawclient.RawClient.response_head
        caps = rawclient.BASE_CAPS
        cases = [
            head(caps) + b"app\0\x30abc",                                    # auth length
            head(caps | CLIENT_PLUGIN_AUTH_LENENC) + b"app\0\xfc\xff\xff" + b"ab",
            head(caps | CLIENT_PLUGIN_AUTH_LENENC) + b"app\0\xfe" + b"\xff" * 8,
            head(caps | CLIENT_CONNECT_ATTRS) + b"app\0\x00" + NATIVE.encode()
            + b"\0\xfd\xff\xff\xff" + b"k",                                  # attrs length
            head(caps | CLIENT_CONNECT_ATTRS) + b"app\0\x00" + NATIVE.encode()
            + b"\0\x05\x10key",                                              # attr key length
            head(caps | CLIENT_CONNECT_WITH_DB) + b"app\0\x00test",         # db without NUL
            head(caps)[:20],                                                 # short head
            b"",                                                             # empty packet
        ]
        for payload in cases:
            c, _ = self.greeted()
            with c:
                c.send_packet(1, payload)
                self.expect_err(c, 1043, "08S01", seq=2)

    def test_wrong_sequence_ids(self):
        # the login response must be 1
        for seq in (0, 2, 255):
            c, scramble = self.greeted()
            with c:
                c.send_packet(seq, c.login_packet(APP, rawclient.native_reply(APP_PW, scramble),
                                                  NATIVE))
                self.expect_err(c, 1043, "08S01", text="out of order")
        # the reply to an auth switch must be 3
        c, scramble = self.greeted()
        with c:
            c.send_packet(1, c.login_packet(APP, b"\x01", "no_such_plugin"))
            seq, p = c.read_packet()
            self.assertEqual((seq, p[:1]), (2, b"\xfe"))
            c.send_packet(7, rawclient.native_reply(APP_PW, scramble))
            self.expect_err(c, 1043, "08S01", text="out of order")

    # -- 16 MiB+ before login -----------------------------------------------------

    def test_16mib_packet_before_login_is_refused_from_its_header(self):
        """A client announces a full 16 MiB frame (and more after it) and
        keeps sending: 1043 at once, and tandem buffers none of it."""
        rss0 = sc.rss_kib(self.tandem.pid)
        c, _ = self.greeted()
        with c:
            c.send_raw(b"\xff\xff\xff\x01")
            msg = self.expect_err(c, 1043, "08S01", seq=2, closed=False)
            self.assertIn("too large", msg)
            sent = 0
            chunk = b"\x00" * (1 << 20)
            c.sock.settimeout(10)
            try:
                while sent < (24 << 20):
                    c.sock.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.assertTrue(c.wait_closed(10))
        grew = sc.rss_kib(self.tandem.pid) - rss0
        self.assertLess(grew, 4096, f"tandem's RSS grew {grew} KiB while a client sent "
                                    f"{sent >> 20} MiB before login")

    # -- auth data ----------------------------------------------------------------

    def test_garbage_auth_data(self):
        rnd = random.Random(42)
        for n in (1, 19, 21, 255):
            c, _ = self.greeted()
            with c:
                c.send_packet(1, c.login_packet(APP, bytes(rnd.randrange(256) for _ in range(n)),
                                                NATIVE))
                self.expect_err(c, 1045, "28000", seq=2)

    def test_unknown_auth_plugin(self):
        """An unknown plugin (and a name too long to be one) is switched to
        mysql_native_password: the right reply logs in, garbage gets 1045."""
        for plugin in ("no_such_plugin", "x" * 300):
            c, scramble = self.greeted()
            with c:
                c.send_packet(1, c.login_packet(APP, b"\x01\x02\x03", plugin))
                seq, p = c.read_packet()
                self.assertEqual((seq, p), (2, b"\xfe" + NATIVE.encode() + b"\0" + scramble
                                            + b"\0"))
                c.send_packet(3, b"\x00" * 20)
                self.expect_err(c, 1045, "28000", seq=4)
            c, scramble = self.greeted()
            with c:
                c.send_packet(1, c.login_packet(APP, b"", plugin))
                c.read_packet()
                c.send_packet(3, rawclient.native_reply(APP_PW, scramble))
                seq, p = c.read_packet()
                self.assertEqual((seq, p[:1]), (4, b"\x00"), p)
                sc.raw_query_ok(c)

    # -- prepared statements --------------------------------------------------------

    def prepare(self, c, sql: str) -> tuple[int, int]:
        """COM_STMT_PREPARE; (statement id, parameter count). Reads the
        whole response (classic EOFs)."""
        c.send_packet(0, b"\x16" + sql.encode())
        _, p = c.read_packet()
        self.assertEqual(p[:1], b"\x00", p)
        stmt_id, cols, params = struct.unpack_from("<IHH", p, 1)
        for n in (params, cols):
            if n:
                for _ in range(n + 1):   # definitions and their EOF
                    c.read_packet()
        return stmt_id, params

    def test_stmt_execute_wrong_parameter_count(self):
        c = self.login()
        with c:
            stmt, params = self.prepare(c, "SELECT ? + ?")
            self.assertEqual(params, 2)
            # types for one parameter only, then the value: too short for two
            body = struct.pack("<BIBI", 0x17, stmt, 0, 1) + b"\x00" + b"\x01" + b"\x08\x00" \
                + struct.pack("<q", 5)
            c.send_packet(0, body)
            seq, code, state, msg = sc.read_err(c)
            self.assertEqual(seq, 1)
            self.assertIn((code, state), ((1210, "HY000"), (1835, "HY000"), (1243, "HY000")), msg)
            # no parameter block at all
            c.send_packet(0, struct.pack("<BIBI", 0x17, stmt, 0, 1))
            seq, code, state, msg = sc.read_err(c)
            self.assertIn((code, state), ((1210, "HY000"), (1835, "HY000")), msg)
            sc.raw_query_ok(c)   # the session goes on

    def test_stmt_unknown_id_and_short_packets(self):
        c = self.login()
        with c:
            c.send_packet(0, struct.pack("<BIBI", 0x17, 4242, 0, 1))
            self.expect_err(c, 1243, "HY000", seq=1, closed=False, text="4242")
            c.send_packet(0, b"\x17\x01\x00")                     # stmt id cut short
            self.expect_err(c, 1835, "HY000", seq=1, closed=False)
            c.send_packet(0, struct.pack("<BI", 0x19, 4242))     # COM_STMT_CLOSE: no answer
            c.send_packet(0, struct.pack("<BI", 0x1a, 4242))     # COM_STMT_RESET
            self.expect_err(c, 1243, "HY000", seq=1, closed=False)
            sc.raw_query_ok(c)

    # -- COM_CHANGE_USER ---------------------------------------------------------------

    def test_change_user_with_short_fields(self):
        cases = [
            b"\x11",                                   # nothing at all
            b"\x11app",                                # user without NUL
            b"\x11app\0",                              # no auth length
            b"\x11app\0\x14abc",                       # auth runs past the end
            b"\x11app\0\x00test",                      # database without NUL
            b"\x11app\0\x00test\0\x2d",                # charset cut short
            b"\x11" + b"u" * 200 + b"\0\x00\0",        # user name too long
        ]
        for payload in cases:
            c = self.login()
            with c:
                c.send_packet(0, payload)
                self.expect_err(c, 1043, "08S01", seq=1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
