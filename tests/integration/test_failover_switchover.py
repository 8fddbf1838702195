#!/usr/bin/python3
"""Planned switchover and maintenance: POST /clusters/<c>/switchover while a
client runs autocommit INSERTs in a loop (a new connection per write, as
allowed until sessions are moved between backends) sees zero errors and
loses no row; the old primary ends read-only and replicating from the new
one. A session that stays connected across it leaves the old primary at
once (it is idle) and goes on, on the new primary, with its state; the
sessions tests (test_failover_sessions.py) write through one across a
switchover. Maintenance
of the primary switches over first; /ready brings a member back."""

import time
import unittest

from health_helpers import (CLUSTER, Stack, WriteLoop, log, make_table, util)


class SwitchoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A generous probe timeout: this test is about switchovers, and a
        # busy machine must not turn a slow probe into a failover.
        cls.stack = Stack("failover_switchover", monitor={"timeout_ms": 3000}).start()
        make_table(cls.stack)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def roles(self):
        """(primary, replica) servers as tandem sees them now."""
        p, r = self.stack.pair.primary, self.stack.pair.replica
        if self.stack.admin.cluster()["primary"] == r.address:
            p, r = r, p
        return p, r

    def switch_under_load(self, path):
        st = self.stack
        p, r = self.roles()
        st.wait_healthy(p, r)
        kept = st.connect()
        with kept.cursor() as cur:
            cur.execute("SET time_zone = '-03:00'")
        with p.connect() as c, c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM test.writes")
            rows_before = cur.fetchone()[0]
        loop = WriteLoop(st)
        loop.start()
        try:
            util.wait_for(lambda: len(loop.done) >= 20, 30, what="writes before the switchover")
            t0 = time.monotonic()
            code, body = st.admin.post(path)
            took = time.monotonic() - t0
            n_at = len(loop.done)
            util.wait_for(lambda: len(loop.done) >= n_at + 20, 30,
                          what="writes after the switchover")
        finally:
            loop.stop()
        self.assertEqual(code, 200, body)
        log(f"switchover {p.address} -> {r.address}: answered in {took * 1000:.0f} ms, tandem "
            f"says {body['duration_ms']} ms; {len(loop.done)} writes, "
            f"{len(loop.errors)} errors {loop.errors[:3]}; notes: {body['notes']}")
        self.assertEqual(loop.errors, [])
        self.assertEqual((body["from"], body["to"], body["kind"]),
                         (p.address, r.address, "switchover"))
        self.assertTrue(body["caught_up"])
        # `kept` was idle: it left the old primary as soon as the switchover began
        self.assertEqual(body["sessions_left_on_old_primary"], 0)
        # Every write before and after landed, on the right server.
        servers = {sid for _, _, sid in loop.done}
        self.assertEqual(servers, {p.server_id, r.server_id})
        last_sid = loop.done[-1][2]
        self.assertEqual(last_sid, r.server_id)
        with r.connect() as c, c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM test.writes")
            self.assertEqual(cur.fetchone()[0], rows_before + len(loop.done))
        # The old primary is read-only and replicates from the new one.
        self.assertEqual(p.variable("read_only"), "ON")
        self.assertEqual(r.variable("read_only"), "OFF")
        util.wait_for(lambda: p.query_rows("SHOW SLAVE STATUS")[0]["Slave_IO_Running"] == "Yes",
                      15, what="the old primary to replicate from the new one")
        self.assertEqual(p.query_rows("SHOW SLAVE STATUS")[0]["Master_Port"], r.port)
        st.wait_healthy(r, p)
        # The session kept across it moved to the new primary with its state.
        with kept.cursor() as cur:
            cur.execute("SELECT @@server_id, @@time_zone")
            self.assertEqual(cur.fetchone(), (r.server_id, "-03:00"))
        kept.close()
        return r

    def test_1_switchover_and_back(self):
        new = self.switch_under_load(f"/clusters/{CLUSTER}/switchover")
        c = self.stack.admin.cluster()
        self.assertEqual((c["primary"], c["switchover"]["total"], c["failover"]["total"]),
                         (new.address, 1, 0))
        old = self.stack.pair.primary if new is self.stack.pair.replica else self.stack.pair.replica
        back = self.switch_under_load(f"/clusters/{CLUSTER}/switchover?to={old.address}")
        self.assertIs(back, old)
        self.assertEqual(self.stack.admin.cluster()["switchover"]["total"], 2)

    def test_2_maintenance_of_the_primary_switches_over_first(self):
        st = self.stack
        p, r = self.roles()
        st.wait_healthy(p, r)
        code, body = st.admin.post(f"/clusters/{CLUSTER}/members/{p.address}/maintenance")
        self.assertEqual(code, 200, (body, st.admin.member(r.address)))
        self.assertEqual(body["state"], "MAINTENANCE")
        c = st.admin.cluster()
        self.assertEqual(c["primary"], r.address)
        log(f"maintenance of the primary: switchover {p.address} -> {r.address} took "
            f"{c['switchover']['last']['duration_ms']} ms (no session left to drain)")
        self.assertEqual(st.admin.member(p.address)["state"], "MAINTENANCE")
        self.assertEqual(st.server_id_via_tandem(), r.server_id)
        # The member in maintenance is no failover candidate.
        code, body = st.admin.post(f"/clusters/{CLUSTER}/switchover")
        self.assertEqual(code, 409, body)
        self.assertIn("in maintenance", body["reason"])
        code, body = st.admin.post(f"/clusters/{CLUSTER}/members/{p.address}/ready")
        self.assertEqual((code, body["state"]), (200, "UP"), body)
        st.wait_healthy(r, p)

    def test_3_refused_switchovers(self):
        st = self.stack
        p, r = self.roles()
        st.wait_healthy(p, r)
        code, body = st.admin.post(f"/clusters/{CLUSTER}/switchover?to={p.address}")
        self.assertEqual(code, 409, body)
        st.pair.stop_replication() if r is st.pair.replica else r.sql("STOP SLAVE")
        try:
            util.wait_for(lambda: not st.admin.member(r.address)["replication"]["sql_running"],
                          10, what="tandem to see replication stopped")
            code, body = st.admin.post(f"/clusters/{CLUSTER}/switchover")
            self.assertEqual(code, 409, body)
            self.assertIn("not replicating", body["reason"])
        finally:
            r.sql("START SLAVE")
        self.assertEqual(st.admin.cluster()["primary"], p.address)
        code, body = st.admin.post("/clusters/nope/switchover")
        self.assertEqual(code, 404, body)
        code, body = st.admin.post(f"/clusters/{CLUSTER}/members/127.0.0.1:1/maintenance")
        self.assertEqual(code, 404, body)
        code, body = st.admin.post("/nothing/here")
        self.assertEqual(code, 404, body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
