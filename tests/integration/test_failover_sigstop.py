#!/usr/bin/python3
"""SIGSTOP of the primary: a hung server accepts TCP connections but never
answers. That is a stall, not a crash: tandem suspects it and judges it
only after monitor.stall_tolerance_ms (3 s), and only if no replica still
hears from it.

- a 2 s freeze: no failover, and a writer through tandem sees no error;
- a lasting freeze: the replica stops hearing from it too, so tandem fails
  over; a new session writes within tolerance + 1 s of the SIGSTOP, and a
  read stuck on the hung primary runs again on the new one. After SIGCONT
  the old primary is fenced (read_only=ON). Whether it may rejoin depends
  on what it committed once it woke up (writes that were in flight at the
  freeze, tandem's own heartbeat among them, land then): the test reads
  both servers' GTIDs itself and expects tandem's verdict to match —
  holding nothing the new primary lacks, it rejoins as a replica by
  itself; otherwise it stays fenced with the GTIDs named.
The times are printed."""

import threading
import time
import unittest

from health_helpers import (Stack, WriteLoop, log, make_table, pymysql, until_writable,
                            util)

TOLERANCE_MS = 3000


def last_seq(pos: str, server_id: int) -> int:
    """The sequence number of server_id's entry in a GTID position (0 if none)."""
    for g in filter(None, (x.strip() for x in (pos or "").split(","))):
        _, s, n = g.split("-")
        if int(s) == server_id:
            return int(n)
    return 0


def replica_tuned(stack, r) -> bool:
    """tandem set the short MASTER_HEARTBEAT_PERIOD that lets the replica
    vouch for the primary in time."""
    repl = stack.admin.member(r.address)["replication"] or {}
    return repl.get("heartbeat_period_ms") == 500 and repl.get("hears_source") is True


class ShortFreezeTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_freeze2").start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_two_second_freeze_is_no_failover(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        util.wait_for(lambda: replica_tuned(st, r), 30, what="the replica's heartbeat period")
        writer = WriteLoop(st)
        writer.start()
        util.wait_for(lambda: len(writer.done) >= 5, 30, what="writes before the freeze")
        p.sigstop()
        t0 = time.monotonic()
        suspected = False
        try:
            while time.monotonic() - t0 < 2.0:
                suspected = suspected or admin.member(p.address)["suspected"]
                time.sleep(0.05)
        finally:
            p.sigcont()
        before = len(writer.done)
        util.wait_for(lambda: len(writer.done) >= before + 5, 30, what="writes after SIGCONT")
        writer.stop()
        c = admin.cluster()
        log(f"2 s freeze of {p.address}: suspected {suspected}; failovers {c['failover']['total']}; "
            f"writes {len(writer.done)}, writer errors {writer.errors[:2]}")
        self.assertTrue(suspected, "the frozen primary was never shown suspected")
        self.assertEqual(writer.errors, [])
        self.assertEqual((c["failover"]["total"], c["primary"]), (0, p.address))
        self.assertTrue(all(sid == p.server_id for _, _, sid in writer.done))
        self.assertEqual(admin.member(p.address)["state"], "UP")


class LastingFreezeTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_sigstop").start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_hung_primary_is_failed_over_after_the_tolerance(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        util.wait_for(lambda: replica_tuned(st, r), 30, what="the replica's heartbeat period")
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
                f"{took * 1000:.0f} ms (stall tolerance {TOLERANCE_MS} ms); client errors "
                f"while waiting: {errors[:2]}")
            self.assertEqual(sid, r.server_id)
            self.assertLessEqual(took, TOLERANCE_MS / 1000 + 1.0)
            worker.join(10)
            # The read stuck on the hung server ran again on the new primary.
            self.assertEqual(outcome.get("result"), "answered", outcome)
            busy.close()

            c = admin.cluster()
            last = c["failover"]["last"]
            self.assertEqual((c["primary"], last["from"], last["to"]),
                             (r.address, p.address, r.address))
            self.assertIn("no answer for", last["reason"])
            self.assertIn("no replica hears from it", last["reason"])
            m = admin.member(p.address)
            self.assertEqual(m["state"], "FENCED")
            log(f"tandem's record: detection {last['detection_ms']} ms, decision and promotion "
                f"{last['decision_ms']} ms; reason: {last['reason']}")
        finally:
            p.sigcont()
        t_cont = time.monotonic()
        log(f"SIGCONT after {t_cont - t0:.1f}s")
        util.wait_for(lambda: p.variable("read_only") == "ON", 15,
                      what="the old primary to be fenced read-only after SIGCONT")
        old = last_seq(p.query_value("SELECT @@global.gtid_binlog_pos"), p.server_id)
        had = last_seq(last["gtid"]["applied_after"], p.server_id)
        if old <= had:
            util.wait_for(lambda: admin.member(p.address)["state"] == "UP", 15,
                          what="the old primary to rejoin as a replica")
            log(f"SIGCONT -> old primary (nothing the new one lacks: its seq {old}, the new "
                f"one had {had}) back in rotation as a replica after "
                f"{time.monotonic() - t_cont:.1f}s")
            m = admin.member(p.address)
            self.assertEqual((m["role"], m["fenced"]), ("replica", False))
            self.assertEqual(p.query_rows("SHOW SLAVE STATUS")[0]["Master_Port"], r.port)
            self.assertEqual(admin.cluster()["failover"]["rejoins"], 1)
        else:
            util.wait_for(lambda: admin.member(p.address)["diverged"], 15,
                          what="tandem to find the old primary diverged")
            m = admin.member(p.address)
            log(f"SIGCONT -> old primary committed what was in flight at the freeze (its "
                f"seq {old}, the new primary had {had}): {m['state']}: {m['fence_reason']}")
            self.assertEqual(m["state"], "FENCED")
            self.assertIn(f"-{p.server_id}-{old}", m["fence_reason"])
        self.assertEqual(st.server_id_via_tandem(), r.server_id)
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
        seen = {}

        def failed():
            # the member as it was when the failed probe was counted: once
            # the server runs again the next probe clears last_error_kind
            seen["m"] = admin.member(r.address)
            return seen["m"]["probe_failures"] > before
        r.sigstop()
        try:
            util.wait_for(failed, 10, what="a probe of the stalled primary to time out")
        finally:
            r.sigcont()
        self.assertEqual(seen["m"]["last_error_kind"], "query_timeout")
        util.wait_for(lambda: admin.member(r.address)["consecutive_failures"] == 0, 10,
                      what="the primary to answer again")
        c = admin.cluster()
        self.assertEqual((c["primary"], c["failover"]["total"]), (r.address, 1))
        self.assertEqual(admin.member(r.address)["state"], "UP")
        self.assertEqual(st.server_id_via_tandem(), r.server_id)


if __name__ == "__main__":
    unittest.main(verbosity=2)
