#!/usr/bin/python3
"""Lag and the failover decision. With the replica's SQL thread stopped
while a client writes, the replica's lag (ms, from the GTID positions tandem
sees on the primary) grows and /status shows it; a kill -9 of the primary then is NOT failed over (lag above
failover.max_lag_ms): the refusal is reported in /status, /metrics and
/health, new sessions get a clear error at once, and everything works
again when the primary comes back. With failover.promote=false tandem never
promotes, but reroutes as soon as an external tool has made the replica
writable."""

import time
import unittest

from health_helpers import (CLUSTER, Stack, WriteLoop, label_key, log, make_table,
                            metric_samples, pymysql, until_writable, util)

MAX_LAG_MS = 1500


class LagRefusalTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_lag", monitor={"timeout_ms": 3000},
                           failover={"max_lag_ms": MAX_LAG_MS}).start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_lag_grows_and_blocks_failover(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        st.pair.stop_replica_sql_thread()
        writer = WriteLoop(st, pause=0.05)
        writer.start()
        samples = []
        try:
            def lagging():
                m = admin.member(r.address)
                samples.append(m["lag_ms"])
                return m["lag_ms"] is not None and m["lag_ms"] > MAX_LAG_MS + 500
            util.wait_for(lagging, 30, what="the replica's lag to pass max_lag_ms")
        finally:
            writer.stop()
        self.assertEqual(writer.errors, [])
        m = admin.member(r.address)
        self.assertEqual(m["lag_source"], "gtid")
        self.assertFalse(m["replication"]["sql_running"])
        growth = [x for x in samples if x is not None]
        log(f"lag_ms while the SQL thread was stopped: {growth}")
        self.assertGreater(growth[-1], growth[0])
        lag_metric = metric_samples(admin.metrics())[label_key(
            "tandem_member_replication_lag_seconds", cluster=CLUSTER, member=r.address)]
        self.assertGreater(lag_metric, MAX_LAG_MS / 1000)

        p.kill9()
        util.wait_for(lambda: admin.cluster()["failover"]["refused_total"] == 1, 10,
                      what="the failover to be refused")
        c = admin.cluster()
        refusal = c["failover"]["last_refusal"]["reason"]
        log(f"refusal: {refusal}")
        self.assertIn(f"above failover.max_lag_ms {MAX_LAG_MS}", refusal)
        self.assertIn(r.address, refusal)
        self.assertEqual((c["primary"], c["failover"]["total"]), (p.address, 0))
        self.assertEqual(admin.member(p.address)["state"], "DOWN")
        self.assertTrue(any("failover refused" in a for a in c["alerts"]), c["alerts"])
        self.assertEqual(r.variable("read_only"), "ON")   # not promoted
        code, body = admin.health()
        self.assertEqual(code, 503, body)
        self.assertEqual(body["tenants_without_primary"], ["vps17"])
        refused = metric_samples(admin.metrics())[label_key(
            "tandem_failovers_refused_total", cluster=CLUSTER)]
        self.assertEqual(refused, 1)

        # No failover is coming: a new session is refused at once, clearly.
        t0 = time.monotonic()
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            st.connect()
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(cm.exception.args[0], 1429, cm.exception.args)
        self.assertIn("failover refused", cm.exception.args[1])

        # The primary comes back: sessions work again, nothing was promoted.
        p.restart()
        took, errors, sid = until_writable(st, 1)
        self.assertEqual(sid, p.server_id)
        util.wait_for(lambda: admin.health()[0] == 200, 10, what="/health 200")
        st.pair.start_replica_sql_thread()
        def caught_up():
            lag = admin.member(r.address)["lag_ms"]
            return lag is not None and lag < 1000
        util.wait_for(caught_up, 30, what="the replica to catch up")
        self.assertEqual(admin.cluster()["failover"]["total"], 0)


class NoPromoteTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_nopromote", monitor={"timeout_ms": 3000},
                           failover={"promote": False}).start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_reroutes_only_to_an_externally_promoted_replica(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        p.kill9()
        util.wait_for(lambda: admin.cluster()["failover"]["refused_total"] == 1, 10,
                      what="the refusal")
        self.assertIn("failover.promote is false",
                      admin.cluster()["failover"]["last_refusal"]["reason"])
        self.assertEqual(r.variable("read_only"), "ON")
        # An external tool promotes the replica; tandem follows on its own.
        r.execute_all(["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF"])
        took, errors, sid = until_writable(st, 1)
        self.assertEqual(sid, r.server_id)
        c = admin.cluster()
        self.assertEqual(c["primary"], r.address)
        self.assertFalse(c["failover"]["last"]["promoted"])
        self.assertEqual(admin.member(p.address)["state"], "FENCED")


if __name__ == "__main__":
    unittest.main(verbosity=2)
