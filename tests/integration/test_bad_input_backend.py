#!/usr/bin/python3
"""Bad input from a backend: tandem in front of a scripted fake server
(scripted_backend.py), for what no real server sends.

Every case asserts: tandem stays up; a bystander session on the same worker
(`workers: 1`), served by the same fake, keeps running queries during and
after; the client of the broken backend connection gets a clear ERR (code
and SQLSTATE asserted) or, where the stream gives tandem nothing to judge
(a server that stalls mid-result), is released when it gives up; and
tandem closes the backend connection (the fake sees the close), so no
descriptor is left behind.

Login phase: a garbage, truncated, over-long (16 MiB header), stalled,
protocol-9 or short-scramble greeting; a server that closes before its
greeting or during auth, or stalls during auth; a garbage login reply, an
auth switch to an unknown plugin or a malformed one, a truncated ERR, a
malformed OK.
Command phase: column counts that lie (more than sent, 2^40, cut short),
an EOF in place of a column definition, a row longer than its packet, a
frame longer than what is sent (then a stall), an unsolicited LOCAL INFILE
request, a stall mid-result, a close mid-result, an OK whose session-state
block runs past its end, a truncated ERR, an empty packet among rows, and
bytes nobody asked for; a server that stops reading while a client
streams a 15 MiB command at it (tandem's memory stays flat).
"""

import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import accounts, rawclient, util  # noqa: E402
from harness.tandem import TandemProcess  # noqa: E402
import security_common as sc  # noqa: E402
from scripted_backend import IDLE_TIMEOUT_ERR, ScriptedBackend  # noqa: E402

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
CONNECT_TIMEOUT_MS = 1500
BACKEND_UNAVAILABLE = (1429, "08001")
BACKEND_LOST = (1158, "08S01")


class BackendBadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("badin-backend")
        cls.fake = ScriptedBackend().start()
        cfg = {
            "admin": {"listen": f"127.0.0.1:{util.free_port()}"},
            "workers": 1,
            "log_level": "info",
            "limits": {"connect_timeout_ms": CONNECT_TIMEOUT_MS, "max_auth_failures": 0},
            "clusters": {"fake": {
                "primary": cls.fake.address,
                # The fake answers the monitor's probes; a slow, patient
                # monitor keeps its one persistent connection out of the way.
                "monitor": {"user": accounts.MONITOR_USER, "password": "x",
                            "interval_ms": 60000, "failures": 100},
                # a client without a greeting waits for a primary as long
                # as a moved session; the same as a login here
                "failover": {"auto": False, "session_wait_ms": CONNECT_TIMEOUT_MS},
            }},
            "tenants": {"t1": {"listen": f"127.0.0.1:{util.free_port()}",
                               "allow": ["127.0.0.0/8"], "cluster": "fake",
                               "users": {APP: {"password": APP_PW}}}},
        }
        cls.tandem = TandemProcess(None, cfg, cls.dir).start()
        cls.port = cls.tandem.tenant_port("t1")

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.fake.stop()
        (cls.dir / "fake.log").write_text("\n".join(cls.fake.log) + "\n")
        util.remove_scratch(cls.dir)

    def setUp(self):
        self.bystander = sc.Bystander(self.port).__enter__()
        self.bystander.wait_queries(2)

    def tearDown(self):
        self.bystander.wait_queries(3)
        self.bystander.stop()
        self.bystander.check(self, min_queries=5)
        sc.assert_alive(self, self.tandem)

    # -- helpers ---------------------------------------------------------------

    def assert_backend_closed(self, cid):
        util.wait_for(lambda: self.fake.peer_closed(cid), 20,
                      what=f"tandem to close backend connection {cid}")

    def login_expecting_err(self, script: str, code_state, text: str | None = None,
                            times: int = 1):
        """Arm a connection script (for `times` connections: tandem retries
        a connection that closed before the login was done, until
        connect_timeout_ms), log in raw; the login's answer is an ERR (seq
        2) with code_state; the backend connection is closed."""
        self.fake.arm(script, times)
        self.addCleanup(self.fake.disarm)
        with rawclient.RawClient(self.port) as c:
            scramble = c.read_greeting()
            c.send_packet(1, c.login_packet(APP, rawclient.native_reply(APP_PW, scramble),
                                            "mysql_native_password"))
            c.sock.settimeout(CONNECT_TIMEOUT_MS / 1000 + 20)
            seq, code, state, msg = sc.read_err(c)
            self.assertEqual((code, state), code_state, f"{script}: {msg}")
            self.assertEqual(seq, 2, script)
            if text:
                self.assertIn(text, msg, script)
            self.assertTrue(c.wait_closed(10), script)
        cid = self.fake.conn_with(f"script {script}")
        self.assertIsNotNone(cid, f"the fake never ran {script}")
        if not script.startswith("close_"):    # the fake closed those itself
            self.assert_backend_closed(cid)
        return msg

    def greeting_expecting_err(self, script: str, code_state, text: str | None = None,
                               times: int = 1):
        """The same for a script that breaks the server's greeting: tandem
        greets a client with its primary's greeting, so the client's first
        packet is the ERR (seq 0), in place of the greeting."""
        self.fake.arm(script, times)
        self.addCleanup(self.fake.disarm)
        with rawclient.RawClient(self.port) as c:
            c.sock.settimeout(CONNECT_TIMEOUT_MS / 1000 + 20)
            seq, code, state, msg = sc.read_err(c)
            self.assertEqual((code, state), code_state, f"{script}: {msg}")
            self.assertEqual(seq, 0, script)
            if text:
                self.assertIn(text, msg, script)
            self.assertTrue(c.wait_closed(10), script)
        cid = self.fake.conn_with(f"script {script}")
        self.assertIsNotNone(cid, f"the fake never ran {script}")
        if not script.startswith("close_"):    # the fake closed those itself
            self.assert_backend_closed(cid)
        return msg

    def query(self, c, sql):
        c.send_packet(0, b"\x03" + sql.encode())

    # -- login phase -------------------------------------------------------------

    def test_malformed_greetings(self):
        for script in ("garbage_greeting", "truncated_greeting", "protocol_9",
                       "short_scramble", "greeting_16mib"):
            self.greeting_expecting_err(script, BACKEND_UNAVAILABLE, "greeting")

    def test_greeting_that_never_completes(self):
        t0 = time.monotonic()
        self.greeting_expecting_err("greeting_past_its_frame", BACKEND_UNAVAILABLE,
                                    "did not answer")
        self.assertGreaterEqual(time.monotonic() - t0, CONNECT_TIMEOUT_MS / 1000 * 0.9)

    def test_server_closes_before_greeting_or_during_auth(self):
        """tandem retries (the monitor may be failing over) until the
        connect timeout, then says why."""
        for script in ("close_before_greeting", "close_during_auth"):
            expect = (self.greeting_expecting_err if script == "close_before_greeting"
                      else self.login_expecting_err)
            msg = expect(script, BACKEND_UNAVAILABLE, times=1000)
            # the deadline ends a retry either between attempts or during one
            self.assertRegex(msg, f"within {CONNECT_TIMEOUT_MS} ms(: cannot reach .* "
                                  f"\\(connection closed\\))?$")
            self.fake.disarm()

    def test_server_stalls_during_auth(self):
        self.login_expecting_err("stall_during_auth", BACKEND_UNAVAILABLE, "did not answer")

    def test_broken_login_replies(self):
        self.login_expecting_err("garbage_login_reply", BACKEND_UNAVAILABLE, "unexpected")
        self.login_expecting_err("auth_switch_malformed", BACKEND_UNAVAILABLE,
                                 "malformed auth switch")
        self.login_expecting_err("auth_switch_unknown_plugin", (1251, "08004"), "no_such_plugin")
        self.login_expecting_err("truncated_login_err", BACKEND_UNAVAILABLE, "refused the login")
        self.login_expecting_err("bad_login_ok", BACKEND_UNAVAILABLE, "malformed OK")

    # -- command phase -------------------------------------------------------------

    def session(self) -> tuple[rawclient.RawClient, int]:
        """A raw logged-in client and the fake's id of its backend connection."""
        c = sc.raw_login(self.port)
        sc.raw_query_ok(c, "SELECT 1")
        cid = self.fake.conn_with("query SELECT 1")
        return c, cid

    def expect_lost(self, script: str, code_state=BACKEND_LOST, text=None):
        """A query that triggers script ends in an ERR (the packets before it
        are whatever the server sent), and the session closes."""
        c, _ = self.session()
        with c:
            self.query(c, f"SELECT 'bad:{script}'")
            c.sock.settimeout(20)
            while True:
                seq, p = c.read_packet()
                if p[:1] == b"\xff":
                    code, state, msg = rawclient.parse_err(p)
                    break
            self.assertEqual((code, state), code_state, f"{script}: {msg}")
            if text:
                self.assertIn(text, msg)
            self.assertTrue(c.wait_closed(10), script)
        cid = self.fake.conn_with(f"script {script}")
        self.assert_backend_closed(cid)
        return msg

    def test_column_counts_that_lie(self):
        for script in ("column_count_lies", "column_count_huge", "column_count_short",
                       "eof_in_place_of_column"):
            self.expect_lost(script, text="malformed response")

    def test_malformed_oks_and_errs(self):
        for script in ("bad_ok_session_track", "truncated_err"):
            self.expect_lost(script, text="malformed response")

    def test_empty_packet_among_rows(self):
        self.expect_lost("empty_packet_mid_rows", text="malformed response")

    def test_row_longer_than_its_packet_is_passed_on(self):
        """tandem does not parse row values: a row whose value claims more
        than its packet holds reaches the client as the server sent it, and
        the session goes on (the frames were consistent)."""
        c, _ = self.session()
        with c:
            self.query(c, "SELECT 'bad:row_longer_than_packet'")
            pkts = []
            while True:
                _, p = c.read_packet()
                pkts.append(p)
                if p[:1] == b"\xfe" and len(p) < 9 and len(pkts) > 3:
                    break
            self.assertIn(b"\xfc\xe8\x03" + b"x" * 9, pkts)
            sc.raw_query_ok(c, "SELECT 2")

    def test_unsolicited_local_infile(self):
        c, _ = self.session()
        with c:
            self.query(c, "SELECT 'bad:unsolicited_infile'")
            seq, code, state, msg = sc.read_err(c)
            self.assertEqual((seq, code, state), (1, 1148, "42000"), msg)
            sc.raw_query_ok(c, "SELECT 3")
        cid = self.fake.conn_with("script unsolicited_infile")
        self.assertIn("infile data 0", self.fake.events_of(cid))
        self.assertNotIn("/etc/passwd", str([e for e in self.fake.events_of(cid)
                                             if e.startswith("infile data")]))
        self.assertIn("asked for a local file the client did not request",
                      self.tandem.log_text())

    def test_close_mid_result(self):
        """A server that closes between two rows and still answers the
        monitor ended the session itself: the client gets the rows it sent,
        then the close, as directly; nothing moves (docs/sessions.md). A
        server that died instead moves the session (test_failover_sessions)."""
        moved = sc.tenant_metric(self.tandem, "tandem_sessions_moved_total", "t1")
        c, _ = self.session()
        with c:
            self.query(c, "SELECT 'bad:close_mid_result'")
            c.sock.settimeout(20)
            rows = []
            with self.assertRaises(rawclient.Closed):
                while True:
                    _, p = c.read_packet()
                    if p[:1] == b"\xff":
                        self.fail(f"an ERR: {rawclient.parse_err(p)}")
                    rows.append(p)
            self.assertIn(b"\x04row4", rows)
        self.assertEqual(sc.tenant_metric(self.tandem, "tandem_sessions_moved_total", "t1"),
                         moved)
        self.assertIn("closed the session and is alive", self.tandem.log_text())

    def test_stall_mid_result_releases_the_client_that_gives_up(self):
        """A server that stops mid-result gives tandem nothing to judge (a
        slow query looks the same): the client waits; when it gives up and
        closes, tandem closes the backend connection and the session."""
        base = sc.tenant_metric(self.tandem, "tandem_sessions", "t1")
        for script in ("stall_mid_result", "frame_longer_than_sent"):
            c, _ = self.session()
            self.query(c, f"SELECT 'bad:{script}'")
            util.wait_for(lambda: self.fake.conn_with(f"script {script}"), 10)
            cid = self.fake.conn_with(f"script {script}")
            self.bystander.wait_queries(3)        # others go on meanwhile
            c.close()
            self.assert_backend_closed(cid)
            util.wait_for(lambda: sc.tenant_metric(self.tandem, "tandem_sessions", "t1")
                          == base, 20, what="the session to close")

    def test_server_that_stops_reading(self):
        """A client streams a 15 MiB command to a server that has stopped
        reading: tandem buffers about limits.buffer_high of it, then stops
        reading the client (its RSS stays flat). While it does not read the
        client it does not see the client give up either (documented in
        docs/security.md): the session ends when the server ends its side."""
        self.fake.arm("deaf_after_login")
        self.addCleanup(self.fake.disarm)
        c = sc.raw_login(self.port)
        util.wait_for(lambda: self.fake.conn_with("deaf"), 10, what="the server to go deaf")
        cid = self.fake.conn_with("deaf")
        rss0 = sc.rss_kib(self.tandem.pid)
        n = 15 << 20                     # one frame (below 16 MiB)
        sent = [0]

        def stream():
            c.sock.settimeout(60)
            try:
                c.sock.sendall(n.to_bytes(3, "little") + b"\x00" + b"\x03SELECT '")
                chunk = b"x" * (256 << 10)
                while sent[0] < n:
                    c.sock.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass
        th = threading.Thread(target=stream, daemon=True)
        th.start()
        # the client's sending stalls once tandem stops reading it
        last = [-1]

        def stalled():
            now, was = sent[0], last[0]
            last[0] = now
            return now == was and now > 0
        util.wait_for(stalled, 30, interval=1.0, what="the client's sending to stall")
        grew = sc.rss_kib(self.tandem.pid) - rss0
        print(f"deaf server: client pushed {sent[0] >> 20} MiB before stalling; "
              f"tandem RSS +{grew} KiB", flush=True)
        self.assertLess(sent[0], n)
        self.assertLess(grew, 8 << 10)
        self.bystander.wait_queries(3)
        base = sc.tenant_metric(self.tandem, "tandem_sessions", "t1") - 1
        c.close()
        th.join(30)
        self.fake.deaf_release.set()
        self.addCleanup(self.fake.deaf_release.clear)
        util.wait_for(lambda: "gave up" in self.fake.events_of(cid), 10)
        util.wait_for(lambda: sc.tenant_metric(self.tandem, "tandem_sessions", "t1") == base,
                      20, what="the session to close once the server gave up")

    def test_bytes_nobody_asked_for(self):
        """A second answer after the response: the session is closed and the
        reason logged (an ERR would be taken as the answer to the client's
        next command)."""
        c, _ = self.session()
        with c:
            self.query(c, "SELECT 'bad:extra_bytes_after_response'")
            _, p = c.read_packet()
            self.assertEqual(p[:1], b"\x00")
            self.assertTrue(c.wait_closed(10))
        cid = self.fake.conn_with("script extra_bytes_after_response")
        self.assert_backend_closed(cid)
        self.assertRegex(self.tandem.log_text(),
                         r"sent \d+ unexpected bytes in state idle; closing")

    def test_server_ends_an_idle_session_with_an_error(self):
        """An ERR the server sends on its own before it closes (an idle
        timeout): the client gets that packet as the server sent it, then
        the close; the session does not move."""
        moved = sc.tenant_metric(self.tandem, "tandem_sessions_moved_total", "t1")
        c, _ = self.session()
        with c:
            self.query(c, "SELECT 'bad:idle_timeout_err'")
            _, p = c.read_packet()
            self.assertEqual(p[:1], b"\x00")
            c.sock.settimeout(10)
            seq, p = c.read_packet()
            self.assertEqual((seq, p), (0, IDLE_TIMEOUT_ERR))
            self.assertTrue(c.wait_closed(10))
        cid = self.fake.conn_with("script idle_timeout_err")
        self.assertIsNotNone(cid)
        self.assertEqual(sc.tenant_metric(self.tandem, "tandem_sessions_moved_total", "t1"),
                         moved)
        self.assertIn("ended the session with error 4031", self.tandem.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
