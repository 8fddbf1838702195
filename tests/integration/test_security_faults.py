#!/usr/bin/python3
"""Faults around a healthy primary, seen from the clients: the replica
killed (kill -9), hung (SIGSTOP) and lagging (its SQL thread stopped while
the primary takes writes), and the monitor's own probes failing (a wrong
monitor password). Throughout each, a workload runs through tandem — four
persistent sessions writing and reading, plus a new connection per write —
and must see no error at all; /status must show the fault (replica DOWN,
lag in ms) and the recovery, and nothing may fail over.

The health tests (test_health_*, test_failover_*) cover the monitor's
verdicts and failover itself; this file covers what clients go through.
Latencies are printed, never asserted (timing is measured in bench/).
"""

import itertools
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from health_helpers import CLUSTER, Stack, WriteLoop, make_table, util  # noqa: E402


class Workload:
    """Persistent sessions doing INSERT + SELECT in a loop, and a WriteLoop
    (new connection per INSERT). Every error is kept."""

    values = itertools.count(1)    # unique across workloads: each row is read back

    def __init__(self, stack: Stack, sessions: int = 4):
        self.stack = stack
        self.errors: list[str] = []
        self.ops = 0
        self.max_latency = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._session, args=(i,), daemon=True)
                         for i in range(sessions)]
        self.writer = WriteLoop(stack, pause=0.02)

    def _session(self, i: int):
        try:
            conn = self.stack.connect(read_timeout=30)
        except pymysql.MySQLError as e:
            self.errors.append(f"session {i} connect: {e.args}")
            return
        n = 0
        with conn:
            while not self._stop.is_set():
                n += 1
                v = -next(Workload.values)   # the WriteLoop's values are positive
                t0 = time.monotonic()
                try:
                    with conn.cursor() as cur:
                        cur.execute("INSERT INTO test.writes (v, server) "
                                    "VALUES (%s, @@server_id)", (v,))
                        cur.execute("SELECT COUNT(*) FROM test.writes WHERE v = %s", (v,))
                        if cur.fetchone() != (1,):
                            self.errors.append(f"session {i}: row {n} not read back")
                except pymysql.MySQLError as e:
                    self.errors.append(f"session {i} op {n}: {e.args}")
                    return
                dt = time.monotonic() - t0
                with self._lock:
                    self.ops += 1
                    self.max_latency = max(self.max_latency, dt)
                self._stop.wait(0.01)

    def __enter__(self):
        for t in self._threads:
            t.start()
        self.writer.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(60)
        self.writer.stop()

    def summary(self) -> str:
        return (f"{self.ops} session ops (max {self.max_latency * 1000:.0f} ms), "
                f"{len(self.writer.done)} new-connection writes, "
                f"{len(self.errors) + len(self.writer.errors)} errors")

    def check(self, test):
        test.assertEqual(self.errors, [])
        test.assertEqual(self.writer.errors, [])
        test.assertGreater(self.ops, 0)
        test.assertGreater(len(self.writer.done), 0)


class ReplicaFaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("sec-faults", monitor={"interval_ms": 200, "timeout_ms": 1000})
        cls.stack.start()
        make_table(cls.stack)
        cls.p, cls.r = cls.stack.pair.primary, cls.stack.pair.replica
        cls.stack.wait_healthy(cls.p, cls.r)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def member(self, server) -> dict:
        return self.stack.admin.member(server.address)

    def wait_member(self, server, pred, what, timeout=30):
        util.wait_for(lambda: pred(self.member(server)), timeout, what=what)

    def assert_no_failover(self):
        c = self.stack.admin.cluster()
        self.assertEqual((c["primary"], c["failover"]["total"]), (self.p.address, 0))
        self.assertEqual(self.member(self.p)["state"], "UP")

    def tearDown(self):
        self.stack.wait_healthy(self.p, self.r)
        self.assert_no_failover()

    def test_replica_killed(self):
        with Workload(self.stack) as w:
            self.r.kill9()
            self.wait_member(self.r, lambda m: m["state"] == "DOWN", "the replica DOWN")
            m = self.member(self.r)
            self.assertIn(m["last_error_kind"], ("connect", "handshake", "query"))
            w.writer.done.clear()
            util.wait_for(lambda: len(w.writer.done) >= 5, 30, what="writes with the replica down")
            self.r.restart()
            self.wait_member(self.r, lambda m: m["state"] == "UP", "the replica UP again", 60)
        print(f"replica killed: {w.summary()}", flush=True)
        w.check(self)

    def test_replica_hung(self):
        with Workload(self.stack) as w:
            self.r.sigstop()
            try:
                self.wait_member(self.r, lambda m: m["state"] == "DOWN", "the hung replica DOWN")
                self.assertIn(self.member(self.r)["last_error_kind"],
                              ("connect_timeout", "handshake_timeout", "query_timeout"))
                w.writer.done.clear()
                util.wait_for(lambda: len(w.writer.done) >= 5, 30,
                              what="writes with the replica hung")
            finally:
                self.r.sigcont()
            self.wait_member(self.r, lambda m: m["state"] == "UP", "the replica UP again")
        print(f"replica hung: {w.summary()}", flush=True)
        w.check(self)

    def test_replica_lagging(self):
        with Workload(self.stack) as w:
            self.stack.pair.stop_replica_sql_thread()
            try:
                self.wait_member(self.r, lambda m: (m["lag_ms"] or 0) > 1500,
                                 "the replica's lag to pass 1.5 s")
                m = self.member(self.r)
                self.assertEqual(m["state"], "UP")
                self.assertEqual(m["lag_source"], "gtid")
                self.assertFalse(m["replication"]["sql_running"])
            finally:
                self.stack.pair.start_replica_sql_thread()
            self.wait_member(self.r, lambda m: m["lag_ms"] is not None and m["lag_ms"] < 1000,
                             "the replica to catch up")
        print(f"replica lagging: {w.summary()}", flush=True)
        w.check(self)


class MonitorCannotLogInTest(unittest.TestCase):
    """The monitor's password is wrong: its probes fail, clients must not
    notice, and nothing fails over — not even when the replica dies too."""

    def test_wrong_monitor_password(self):
        stack = Stack("sec-faults-monauth",
                      monitor={"password": "not-the-password", "interval_ms": 200})
        stack.start()
        try:
            make_table(stack)
            p, r = stack.pair.primary, stack.pair.replica
            with Workload(stack) as w:
                util.wait_for(lambda: all(m["last_error_kind"] == "auth" and m["probes"] >= 5
                                          for m in stack.admin.cluster()["members"]), 30,
                              what="several refused probes")
                r.kill9()
                w.writer.done.clear()
                util.wait_for(lambda: len(w.writer.done) >= 10, 30, what="writes go on")
                c = stack.admin.cluster()
                self.assertEqual((c["primary"], c["failover"]["total"]), (p.address, 0))
                self.assertTrue(any("cannot probe" in a for a in c["alerts"]), c["alerts"])
                code, body = stack.admin.health()
                self.assertEqual(code, 200, body)
            print(f"wrong monitor password: {w.summary()}", flush=True)
            w.check(self)
            self.assertEqual(stack.admin.cluster()["failover"]["total"], 0)
            self.assertEqual(p.query_value("SELECT @@read_only"), 0)
        finally:
            stack.stop()
            stack.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
