#!/usr/bin/python3
"""SIGSTOP of the primary: a hung server accepts TCP connections but never
answers, so it must count as failed (a probe timeout), not as healthy.
tandem fails over; a read stuck on the hung primary runs again on the new
one and gets its answer; after SIGCONT the old primary is fenced (read_only=ON) and gets no
traffic. The time from SIGSTOP to a new session's successful INSERT is
printed (it is bounded by interval_ms + timeout_ms + promotion)."""

import threading
import time
import unittest

from health_helpers import Stack, log, make_table, pymysql, until_writable, util


class SigstopPrimaryTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_sigstop").start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_hung_primary_is_failed_over(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        busy = st.connect(read_timeout=30)
        outcome = {}

        def stuck_command():
            try:
                with busy.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM test.writes")
                outcome["result"] = "answered"
            except pymysql.MySQLError as e:
                outcome["result"] = e.args

        p.sigstop()
        t0 = time.monotonic()
        try:
            worker = threading.Thread(target=stuck_command, daemon=True)
            worker.start()
            took, errors, sid = until_writable(st, 1)
            log(f"SIGSTOP of {p.address} -> new session wrote on {r.address} after "
                f"{took * 1000:.0f} ms (interval 500 ms + timeout 1000 ms at most for "
                f"detection); client errors while waiting: {errors[:2]}")
            self.assertEqual(sid, r.server_id)
            self.assertEqual(errors, [])
            worker.join(10)
            # The read stuck on the hung server ran again on the new primary.
            self.assertEqual(outcome.get("result"), "answered", outcome)
            busy.close()

            c = admin.cluster()
            last = c["failover"]["last"]
            self.assertEqual((c["primary"], last["from"], last["to"]),
                             (r.address, p.address, r.address))
            self.assertIn("timed out", last["reason"])
            m = admin.member(p.address)
            self.assertEqual(m["state"], "FENCED")
            self.assertIn(m["last_error_kind"], ("query_timeout", "handshake_timeout"))
            log(f"tandem's record: detection {last['detection_ms']} ms, decision and promotion "
                f"{last['decision_ms']} ms; reason: {last['reason']}")
        finally:
            p.sigcont()
        log(f"SIGCONT after {time.monotonic() - t0:.1f}s")
        util.wait_for(lambda: p.variable("read_only") == "ON", 15,
                      what="the old primary to be fenced read-only after SIGCONT")
        util.wait_for(lambda: admin.member(p.address)["health"] == "UP", 15,
                      what="the old primary to answer again")
        self.assertEqual(admin.member(p.address)["state"], "FENCED")
        self.assertEqual(st.server_id_via_tandem(), r.server_id)
        # Only one writable member once the fence is in place.
        util.wait_for(lambda: admin.cluster()["writable_members"] == 1, 10,
                      what="one writable member")


class AntiFlapTest(unittest.TestCase):
    """Within failover.min_interval_ms of a failover, one slow probe (a
    timeout) does not make the new primary DOWN: it must fail `failures`
    probes in a row. A short stall of the new primary therefore causes no
    second failover, although a healthy replica is there to take over."""

    def setUp(self):
        self.stack = Stack("failover_antiflap", failover={"min_interval_ms": 60000}).start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_short_stall_after_failover_is_not_failed_over(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        p.kill9()
        until_writable(st, 1)
        p.restart()
        util.wait_for(lambda: admin.member(p.address)["health"] == "UP", 15, what="old primary")
        code, body = admin.post(f"/clusters/db1/members/{p.address}/ready")
        self.assertEqual(code, 200, body)
        st.wait_healthy(r, p)
        self.assertEqual(admin.cluster()["failover"]["total"], 1)

        before = admin.member(r.address)["probe_failures"]
        r.sigstop()
        try:
            util.wait_for(lambda: admin.member(r.address)["probe_failures"] > before, 10,
                          what="a probe of the stalled primary to time out")
        finally:
            r.sigcont()
        m = admin.member(r.address)
        self.assertEqual(m["last_error_kind"], "query_timeout")
        util.wait_for(lambda: admin.member(r.address)["consecutive_failures"] == 0, 10,
                      what="the primary to answer again")
        c = admin.cluster()
        self.assertEqual((c["primary"], c["failover"]["total"]), (r.address, 1))
        self.assertEqual(admin.member(r.address)["state"], "UP")
        self.assertEqual(st.server_id_via_tandem(), r.server_id)


if __name__ == "__main__":
    unittest.main(verbosity=2)
