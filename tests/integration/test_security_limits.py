#!/usr/bin/python3
"""Limits against resource abuse, against a real MariaDB pair:

- slowloris: connections that send nothing, or a login one byte at a
  time, are cut at limits.auth_timeout_ms (1043 / 08S01, "timed out"),
  hundreds at once, while a bystander on the same worker keeps working;
  only 32 of them hold a handshake-phase connection to the primary;
- idle timeout: an idle session is closed (logged) and its client sees the
  connection gone; a busy one and a long query are not cut;
- a slow client reading a 200 MiB result: tandem's RSS stays far below
  the result's size (backpressure by limits.buffer_high), and the
  bystander keeps working;
- connection limits: a tenant's max_connections and the global
  limits.max_connections give 1040 / 08004 in place of the greeting, are
  counted in /metrics, and free up when sessions close;
- out of descriptors (tandem run with a low RLIMIT_NOFILE): accepting
  pauses with one logged line per episode, the process does not spin
  (CPU time from /proc), a client accepted with no descriptor left for its
  greeting's backend connection is greeted without one and its login gets
  1040 / 08004 at once, and accepting resumes when descriptors free up.

The 16 MiB+ packet before login and max_packet after it are cases of the
client bad-input suite (test_bad_input_client.py).
"""

import os
import socket
import struct
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from harness import accounts, clients, rawclient, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config  # noqa: E402
import security_common as sc  # noqa: E402

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
AUTH_TIMEOUT_MS = 2000


# Connection ids of greetings tandem makes without a backend connection,
# and how many backend connections clients not logged in may hold in the
# slowloris test (limits.preauth_backends, set below the default 256).
SYNTHETIC_ID = 0xC0000000
PREAUTH_BACKENDS_MAX = 32


def greeting_conn_id(c: rawclient.RawClient) -> int:
    p = c.greeting
    at = p.index(b"\0", 1) + 1
    return int.from_bytes(p[at:at + 4], "little")


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("sec-limits")
        cls.pair = MariaDBPair(cls.dir / "pair").start()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def start_tandem(self, name, limits=None, tenants=("t1",), env=None, **tenant_extra):
        cfg = pair_config(self.pair, list(tenants), workers=1)
        sc.no_failover(cfg)
        cfg["limits"] = {"max_auth_failures": 0, **(limits or {})}
        for t in cfg["tenants"].values():
            t.update(tenant_extra)
        t = TandemProcess(None, cfg, self.dir, name=name, env=env).start()
        self.addCleanup(t.stop)
        return t

    # -- greeting ids ---------------------------------------------------------------

    def test_concurrent_greetings_carry_the_servers_ids(self):
        """A pool opening 150 connections at once (all greeted before any
        logs in): each greeting's connection id is the CONNECTION_ID() its
        session then reports, as directly, within limits.preauth_backends."""
        t = self.start_tandem("greet_ids")
        port = t.tenant_port("t1")
        # The first greeting first: before tandem has seen one on a worker,
        # every client waits for a backend connection anyway.
        clients_ = [rawclient.RawClient(port, timeout=20)]
        try:
            clients_[0].read_greeting()
            clients_ += [rawclient.RawClient(port, timeout=20) for _ in range(149)]
            ids = []
            for c in clients_:
                if c is not clients_[0]:
                    c.read_greeting()
                ids.append(greeting_conn_id(c))
            self.assertTrue(all(i < SYNTHETIC_ID for i in ids), [hex(i) for i in ids])
            self.assertEqual(len(set(ids)), len(ids))
            for c, gid in zip(clients_, ids):
                c.send_packet(1, c.login_packet(
                    APP, rawclient.native_reply(APP_PW, c.scramble), "mysql_native_password"))
                seq, p = c.read_packet()
                self.assertEqual((seq, p[:1]), (2, b"\x00"), p)
                row = sc.raw_query_ok(c, "SELECT CONNECTION_ID()")[3]
                self.assertEqual(int(row[1:1 + row[0]]), gid)
        finally:
            for c in clients_:
                c.close()

    # -- slowloris -----------------------------------------------------------------

    def test_slowloris_cut_at_the_login_timeout(self):
        t = self.start_tandem("slowloris", {"auth_timeout_ms": AUTH_TIMEOUT_MS,
                                            "preauth_backends": PREAUTH_BACKENDS_MAX})
        port = t.tenant_port("t1")
        with sc.Bystander(port) as b:
            b.wait_queries(2)
            silent = [rawclient.RawClient(port) for _ in range(200)]
            t0 = time.monotonic()
            # each is greeted by the primary's greeting, but only
            # limits.preauth_backends of them hold a connection of their own
            # to it (docs/security.md)
            def handshaking():
                return self.pair.primary.query_value(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                    "WHERE USER = 'unauthenticated user'")
            util.wait_for(lambda: handshaking() >= PREAUTH_BACKENDS_MAX, 10,
                          what="the greetings' backend connections")
            self.assertEqual(handshaking(), PREAUTH_BACKENDS_MAX)
            # one that sends its login a byte at a time, 4 bytes a second
            trickle = rawclient.RawClient(port)
            scramble = trickle.read_greeting()
            pkt = trickle.login_packet(APP, rawclient.native_reply(APP_PW, scramble),
                                       "mysql_native_password")
            data = len(pkt).to_bytes(3, "little") + b"\x01" + pkt
            got = []

            def dribble():
                try:
                    for byte in data:
                        trickle.sock.sendall(bytes([byte]))
                        time.sleep(0.25)     # the client's pace, not a synchronisation
                except OSError:
                    pass
            th = threading.Thread(target=dribble, daemon=True)
            th.start()
            trickle.sock.settimeout(30)
            got.append(sc.read_err(trickle))
            elapsed = time.monotonic() - t0
            for c in silent:
                c.sock.settimeout(30)
                c.read_greeting()
                got.append(sc.read_err(c))
                self.assertTrue(c.wait_closed(10))
                c.close()
            trickle.close()
            b.wait_queries(3)
            b.check(self, min_queries=5)
        self.assertEqual({(code, state) for _, code, state, _ in got}, {(1043, "08S01")})
        self.assertTrue(all("timed out" in msg for *_, msg in got))
        self.assertGreaterEqual(elapsed, AUTH_TIMEOUT_MS / 1000 * 0.9)
        self.assertEqual(sc.tenant_metric(t, "tandem_sessions", "t1"), 0)
        self.assertGreaterEqual(sc.tenant_metric(t, "tandem_client_errors_total", "t1"), 201)

    # -- idle timeout --------------------------------------------------------------

    def test_idle_timeout(self):
        t = self.start_tandem("idle", {"idle_timeout_ms": 1500})
        port = t.tenant_port("t1")
        idle = clients.connect(port)
        busy = clients.connect(port)
        slow = clients.connect(port, read_timeout=30)
        t0 = time.monotonic()
        result = {}

        def long_query():
            with slow.cursor() as cur:
                cur.execute("SELECT SLEEP(3), 7")
                result["slow"] = cur.fetchone()
        th = threading.Thread(target=long_query)
        th.start()
        # busy runs a query every 0.3 s for 3.5 s: never idle for 1.5 s
        while time.monotonic() - t0 < 3.5:
            with busy.cursor() as cur:
                cur.execute("SELECT 1")
            time.sleep(0.3)                  # the client's pace
        th.join(30)
        self.assertEqual(result.get("slow"), (0, 7))
        util.wait_for(lambda: "idle for 1500 ms; closing" in t.log_text(), 10,
                      what="the idle session to be closed")
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            with idle.cursor() as cur:
                cur.execute("SELECT 1")
        self.assertIn(cm.exception.args[0], (2006, 2013))
        with busy.cursor() as cur:
            cur.execute("SELECT 2")
            self.assertEqual(cur.fetchone(), (2,))
        for c in (busy, slow):
            c.close()

    # -- slow reader ---------------------------------------------------------------

    def test_slow_reader_of_a_huge_result(self):
        """200 MiB read at ~40 MiB/s (the server could send it much faster):
        tandem holds no more than a few times limits.buffer_high."""
        # Under AddressSanitizer (the CI build) freed memory waits in a
        # 256 MiB quarantine before reuse, which alone would fill RSS: keep
        # it small so RSS shows what tandem holds. No effect without ASan.
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "")
                   + ":quarantine_size_mb=1")
        t = self.start_tandem("slowread", env=env)
        port = t.tenant_port("t1")
        rows, row_bytes = 200, 1 << 20
        c = sc.raw_login(port)
        rss0 = sc.rss_kib(t.pid)
        peak = [rss0]
        stop = threading.Event()

        def sample():
            while not stop.is_set() and t.is_running():
                peak[0] = max(peak[0], sc.rss_kib(t.pid))
                stop.wait(0.05)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with sc.Bystander(port) as b:
            c.send_packet(0, b"\x03" + f"SELECT REPEAT('x', {row_bytes}) FROM test.seq_1_to_{rows}"
                          .encode())
            got_rows, total, t0 = 0, 0, time.monotonic()
            rate = 40 << 20
            c.sock.settimeout(60)
            state = "head"
            while True:
                try:
                    seq, p = c.read_packet()
                except rawclient.Closed as e:
                    self.fail(f"closed after {total} bytes: {e}\n{t.log_tail()}")
                total += 4 + len(p)
                if p[:1] == b"\xff":
                    self.fail(f"ERR instead of rows: {rawclient.parse_err(p)}")
                if state == "head" and p[:1] == b"\xfe" and len(p) < 9:
                    state = "rows"
                elif state == "rows":
                    if p[:1] == b"\xfe" and len(p) < 9:
                        break
                    got_rows += 1
                ahead = total / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)        # read no faster than `rate`
            b.check(self, min_queries=5)
        stop.set()
        sampler.join(5)
        c.close()
        self.assertEqual(got_rows, rows)
        grew = peak[0] - rss0
        print(f"slow reader: {total >> 20} MiB in {time.monotonic() - t0:.1f} s; "
              f"tandem RSS {rss0} KiB -> peak {peak[0]} KiB (+{grew} KiB)", flush=True)
        self.assertLess(grew, 16 << 10, f"tandem grew by {grew} KiB for a 200 MiB result")

    # -- connection limits ------------------------------------------------------------

    def first_packet(self, port):
        c = rawclient.RawClient(port)
        seq, p = c.read_packet()
        return c, seq, p

    def test_connection_limits(self):
        t = self.start_tandem("limits", {"max_connections": 5}, tenants=("a", "b"),
                              max_connections=3)
        a, b = t.tenant_port("a"), t.tenant_port("b")
        held = [sc.raw_login(a) for _ in range(3)]
        c, seq, p = self.first_packet(a)           # a's 4th
        with c:
            self.assertEqual((seq,) + rawclient.parse_err(p)[:2], (0, 1040, "08004"))
            self.assertTrue(c.wait_closed(5))
        held += [sc.raw_login(b) for _ in range(2)]
        c, seq, p = self.first_packet(b)           # the process's 6th
        with c:
            code, state, msg = rawclient.parse_err(p)
            self.assertEqual((seq, code, state), (0, 1040, "08004"))
            self.assertIn("Too many connections", msg)
        self.assertEqual(sc.tenant_metric(t, "tandem_sessions_rejected_total", "a"), 1)
        self.assertEqual(sc.tenant_metric(t, "tandem_sessions_rejected_total", "b"), 1)
        # closing one frees a place
        held.pop().close()
        util.wait_for(lambda: sc.tenant_metric(t, "tandem_sessions", "b") == 1, 10)
        held.append(sc.raw_login(b))
        for h in held:
            h.close()

    # -- out of descriptors ---------------------------------------------------------

    def test_out_of_descriptors_backs_off(self):
        nofile = 64
        wrapper = self.dir / "tandem-lowfd.sh"
        wrapper.write_text("#!/bin/sh\nexec prlimit --nofile=%d:%d -- %s \"$@\"\n"
                           % (nofile, nofile, os.environ.get("TANDEM_BIN") or
                              str(util.repo_root() / "build" / "tandem")))
        wrapper.chmod(0o755)
        cfg = pair_config(self.pair, ["t1"], workers=1)
        sc.no_failover(cfg)
        cfg["limits"] = {"max_auth_failures": 0, "auth_timeout_ms": 60000}
        t = TandemProcess(str(wrapper), cfg, self.dir, name="lowfd").start()
        self.addCleanup(t.stop)
        port = t.tenant_port("t1")
        bystander = sc.raw_login(port)
        base_fds = sc.open_fds(t.pid)
        # connections that never log in hold one descriptor each
        held = []
        greeted = 0
        for _ in range(nofile + 20):
            c = rawclient.RawClient(port, timeout=2)
            held.append(c)
            try:
                c.read_greeting()
                greeted += 1
            except (TimeoutError, socket.timeout):
                break
        self.assertLess(greeted, nofile, "tandem accepted more than its descriptor limit")
        util.wait_for(lambda: "pausing accepts" in t.log_text(), 10,
                      what="the back-off to be logged")
        # while it is out of descriptors, it does not spin
        cpu0, t0 = sc.cpu_seconds(t.pid), time.monotonic()
        time.sleep(3)                        # a measurement window, not a synchronisation
        cpu = sc.cpu_seconds(t.pid) - cpu0
        wall = time.monotonic() - t0
        lines = t.log_text().count("pausing accepts")
        print(f"out of descriptors: {cpu:.2f} s CPU in {wall:.1f} s; "
              f"{lines} back-off line(s) logged", flush=True)
        self.assertLess(cpu, 0.5, "tandem spins while out of descriptors")
        self.assertLessEqual(lines, 3, "the back-off is logged once per episode")
        # the bystander, which holds its descriptors, still works
        sc.raw_query_ok(bystander)
        # A client is greeted from a backend connection of its own (two
        # descriptors) while one is left for it; the one accepted with a
        # single descriptor left gets the primary's last greeting without a
        # connection (tandem's own connection id), and its login finds no
        # descriptor for the backend: 1040 at once, no waiting.
        fallback = next((c for c in held[:greeted] if greeting_conn_id(c) >= SYNTHETIC_ID), None)
        waiting = held[-1]
        if fallback is None:
            # every greeted client holds two: end one greeting's backend
            # connection on the server, which frees exactly one descriptor
            # for the client waiting in the accept queue
            self.pair.primary.sql(f"KILL {greeting_conn_id(held[0])}")
            fallback, waiting = held[-1], None
            fallback.sock.settimeout(15)
            fallback.read_greeting()
            self.assertGreaterEqual(greeting_conn_id(fallback), SYNTHETIC_ID)
        scramble = fallback.scramble
        fallback.send_packet(1, fallback.login_packet(
            APP, rawclient.native_reply(APP_PW, scramble), "mysql_native_password"))
        t0 = time.monotonic()
        seq, code, state, msg = sc.read_err(fallback)
        self.assertEqual((seq, code, state), (2, 1040, "08004"), msg)
        self.assertIn("no descriptor left", msg)
        self.assertLess(time.monotonic() - t0, 4, "the login waited for a backend")
        fallback.close()
        if waiting is not None:
            # the descriptors freed let the waiting client in, greeted from
            # its own backend connection, which its login then uses
            waiting.sock.settimeout(15)
            waiting.read_greeting()
            self.assertLess(greeting_conn_id(waiting), SYNTHETIC_ID)
            waiting.send_packet(1, waiting.login_packet(
                APP, rawclient.native_reply(APP_PW, waiting.scramble), "mysql_native_password"))
            seq, p = waiting.read_packet()
            self.assertEqual((seq, p[:1]), (2, b"\x00"), p)
            waiting.close()
        # free descriptors: new connections are greeted and log in
        for c in held:
            c.close()
        again = sc.raw_login(port)
        sc.raw_query_ok(again)
        again.close()
        util.wait_for(lambda: "accepting again" in t.log_text(), 10,
                      what="the recovery to be logged")
        bystander.close()
        util.wait_for(lambda: sc.open_fds(t.pid) <= base_fds, 10,
                      what="descriptors to return to where they were")


if __name__ == "__main__":
    unittest.main(verbosity=2)
