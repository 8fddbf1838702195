#!/usr/bin/python3
"""Graceful stop against a real pair: SIGTERM stops accepting at once, lets
an in-flight query finish and deliver its result, closes idle sessions, and
exits 0; a query still running at shutdown_timeout_ms gets ERR 1053; a
second SIGTERM stops at once."""

import signal
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from harness import accounts, clients, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config  # noqa: E402
from reload_common import metric, metrics, stop_cleanly  # noqa: E402


def connect(port):
    return clients.connect(port, accounts.APP_USER, accounts.APP_PASSWORD, read_timeout=60)


class ShutdownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("shutdown")
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def start(self, name, shutdown_timeout_ms):
        cfg = pair_config(self.pair, tenants=("a",))
        cfg["limits"] = {"shutdown_timeout_ms": shutdown_timeout_ms}
        t = TandemProcess(None, cfg, self.dir / name)
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        return t

    def run_query(self, conn, sql, out):
        def go():
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    out["rows"] = cur.fetchall()
            except pymysql.err.MySQLError as e:
                out["error"] = e
        th = threading.Thread(target=go)
        th.start()
        return th

    def wait_running(self, sql_fragment):
        """Until the primary runs a query containing sql_fragment."""
        def running():
            rows = self.pair.primary.sql("SELECT INFO FROM information_schema.PROCESSLIST")
            return any(r[0] and sql_fragment in r[0] for r in rows)
        util.wait_for(running, 10, what=f"{sql_fragment} to run on the primary")

    def test_in_flight_finishes_idle_closes_exit_zero(self):
        t = self.start("graceful", 20000)
        port = t.tenant_port("a")
        idle = connect(port)
        busy = connect(port)
        out = {}
        th = self.run_query(busy, "SELECT SLEEP(2), 'in-flight-1'", out)
        self.wait_running("in-flight-1")
        t0 = time.monotonic()
        t._proc.send(signal.SIGTERM)
        # stops accepting at once
        util.wait_for(lambda: not util.can_connect("127.0.0.1", port, 0.3), 5,
                      what="the listener to close")
        # the idle session is closed by tandem (not re-authenticated, not kept)
        with self.assertRaises(pymysql.err.OperationalError):
            with idle.cursor() as cur:
                cur.execute("SELECT 1")
        th.join(30)
        self.assertEqual(out.get("rows"), ((0, "in-flight-1"),), out.get("error"))
        util.wait_for(lambda: not t.is_running(), 15, what="tandem to exit")
        rc = t.returncode
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, t.log_tail())
        self.assertLess(elapsed, 15)  # not the 20 s shutdown timeout
        self.assertIn("draining sessions", t.log_text())

    def test_shutdown_timeout_cuts_long_query(self):
        t = self.start("timeout", 1000)
        conn = connect(t.tenant_port("a"))
        out = {}
        th = self.run_query(conn, "SELECT SLEEP(30), 'too-long-2'", out)
        self.wait_running("too-long-2")
        t0 = time.monotonic()
        t._proc.send(signal.SIGTERM)
        th.join(20)
        err = out.get("error")
        self.assertIsNotNone(err, out)
        self.assertEqual(err.args[0], 1053, err)  # ER_SERVER_SHUTDOWN
        util.wait_for(lambda: not t.is_running(), 15, what="tandem to exit")
        self.assertEqual(t.returncode, 0, t.log_tail())
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertIn("still open at the shutdown deadline", t.log_text())

    def test_second_sigterm_stops_at_once(self):
        t = self.start("twice", 60000)
        conn = connect(t.tenant_port("a"))
        out = {}
        th = self.run_query(conn, "SELECT SLEEP(30), 'twice-3'", out)
        self.wait_running("twice-3")
        t._proc.send(signal.SIGTERM)
        util.wait_for(lambda: "draining sessions" in t.log_text(), 5)
        t0 = time.monotonic()
        t._proc.send(signal.SIGTERM)
        util.wait_for(lambda: not t.is_running(), 10, what="tandem to exit")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(t.returncode, 0, t.log_tail())
        th.join(20)
        self.assertIn("error", out)
        self.assertIn("stopping now", t.log_text())

    def test_sigint_drains_like_sigterm(self):
        t = self.start("sigint", 5000)
        port = t.tenant_port("a")
        conn = connect(port)
        util.wait_for(lambda: metric(metrics(t), 'tandem_sessions{tenant="a"}') == 1, 5)
        t._proc.send(signal.SIGINT)
        util.wait_for(lambda: not t.is_running(), 10, what="tandem to exit")
        self.assertEqual(t.returncode, 0, t.log_tail())
        self.assertIn("SIGINT: draining sessions", t.log_text())
        conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
