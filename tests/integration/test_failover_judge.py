#!/usr/bin/python3
"""Failover judgment with the real pair, beyond the freezes of
test_failover_sigstop.py:

- tandem cut off from a live primary (a relay between them stops passing
  bytes; the replica replicates from the primary directly): no failover;
  /status, /health, /metrics and the log say the primary is unreachable
  from tandem; when the link heals, sessions go to it again;
- kill -9 under a write load (semi-sync): writes through tandem within 1 s;
  the killed server restarted with --init-rpl-role=SLAVE (no request to
  tandem) is back as a replica of the new primary within 10 s, and a restarted tandem keeps routing to the new
  primary (state file);
- a diverged old primary (a transaction the replica never received): it
  stays fenced, /status gives the GTIDs; with failover.max_data_loss_ms 0
  the same loss refuses the failover instead.
The times are printed."""

import time
import unittest

from fault_relay import FaultRelay
from health_helpers import (Stack, WriteLoop, clients, failover_load, label_key, log,
                            make_table, metric_samples, until_writable, util)


def tuned(stack, address) -> bool:
    repl = stack.admin.member(address)["replication"] or {}
    return repl.get("heartbeat_period_ms") == 500 and repl.get("hears_source") is True


class PartitionTest(unittest.TestCase):
    """The relay stands for the network between tandem and the primary."""

    def setUp(self):
        self.relay = None

        def via_relay(stack):
            self.relay = FaultRelay(stack.pair.primary.address).start()
            return {"primary": self.relay.address}

        self.stack = Stack("failover_partition", cluster=via_relay).start()
        make_table(self.stack)

    def tearDown(self):
        try:
            if self.relay:
                self.relay.release()
            self.stack.stop()
        finally:
            if self.relay:
                self.relay.stop()
            self.stack.cleanup()

    def test_cut_off_from_a_live_primary_is_no_failover(self):
        st, admin, relay = self.stack, self.stack.admin, self.relay
        r = st.pair.replica
        util.wait_for(lambda: admin.cluster()["primary"] == relay.address
                      and admin.member(relay.address)["state"] == "UP", 30, what="primary UP")
        util.wait_for(lambda: tuned(st, r.address), 30, what="the replica's heartbeat period")
        until_writable(st, 1)
        relay.hold()
        t0 = time.monotonic()
        try:
            util.wait_for(lambda: admin.cluster()["unreachable"] is not None, 15,
                          what="tandem to report the primary unreachable")
            t_unreach = time.monotonic() - t0
            # Keep it cut off well past the tolerance: still no failover.
            while time.monotonic() - t0 < 8:
                c = admin.cluster()
                self.assertEqual(c["failover"]["total"], 0, c["failover"])
                self.assertEqual(c["primary"], relay.address)
                time.sleep(0.2)
            c = admin.cluster()
            code, health = admin.health()
            metrics = metric_samples(admin.metrics())
            self.assertEqual(c["unreachable"]["heard_by"], r.address)
            self.assertIn("unreachable from tandem", c["note"])
            # The primary is up, so /health is not "degraded"; the alert says why
            # no session can reach it.
            self.assertEqual((code, health["status"]), (200, "warning"))
            self.assertTrue(any("unreachable from tandem" in a for a in health["alerts"]),
                            health)
            self.assertEqual(metrics[label_key("tandem_cluster_primary_unreachable",
                                               cluster="db1")], 1)
            self.assertIn("is unreachable from tandem", st.tandem.log_text())
            self.assertEqual(st.pair.primary.variable("read_only"), "OFF")
            log(f"relay held: reported unreachable after {t_unreach * 1000:.0f} ms; "
                f"no failover in {time.monotonic() - t0:.1f} s; note: {c['note']}")
        finally:
            relay.release()
        took, errors, sid = until_writable(st, 2)
        log(f"relay released: a new session wrote after {took * 1000:.0f} ms")
        self.assertEqual(sid, st.pair.primary.server_id)
        util.wait_for(lambda: admin.cluster()["unreachable"] is None, 10,
                      what="the primary to be reachable again")
        self.assertEqual(admin.cluster()["failover"]["total"], 0)


class SysbenchFreezeTest(unittest.TestCase):
    """sysbench oltp_write_only through tandem, 4 threads: a 2 s freeze of
    the primary, then a lasting one."""

    def setUp(self):
        self.stack = Stack("failover_sysbench").start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_freezes_under_sysbench(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        util.wait_for(lambda: tuned(st, r.address), 30, what="the replica's heartbeat period")
        # Tables large enough that sysbench's own deadlocks are rare.
        clients.sysbench("prepare", st.port, "oltp_write_only", tables=4, table_size=20000,
                         check=True, timeout=300)
        st.pair.wait_replica_caught_up()
        bench = failover_load.SysbenchRun(st.port, "oltp_write_only", threads=4, time_s=16,
                                          tables=4, table_size=20000)
        bench.start()
        util.wait_for(lambda: bench.started_at and time.monotonic() - bench.started_at > 3, 10,
                      what="sysbench to run")
        p.sigstop()
        t_freeze = time.monotonic() - bench.started_at
        time.sleep(2.0)   # the freeze itself: nothing to wait for
        p.sigcont()
        self.assertEqual(admin.cluster()["failover"]["total"], 0)
        time.sleep(2.0)   # sysbench runs on the primary again
        p.sigstop()
        t0 = time.monotonic()
        try:
            took, errors, sid = until_writable(st, 1)
            self.assertEqual(sid, r.server_id)
        finally:
            p.sigcont()
        bench.join(200)
        res = bench.result
        self.assertIsNotNone(res, bench.error)
        c = admin.cluster()
        log(f"sysbench oltp_write_only, 4 threads: 2 s freeze -> no failover; lasting freeze "
            f"-> a new session wrote after {took * 1000:.0f} ms; sysbench rc {res.rc}, "
            f"{res.transactions} transactions, ignored (documented failover) errors "
            f"{res.errors}, tps after the failover {bench.tps_after(t0 + took):.0f}")
        self.assertEqual(res.rc, 0, res.output[-2000:])
        # Not one error, ignored or not, across the 2 s freeze.
        window = [(sec, err) for sec, _, err in bench.intervals()
                  if t_freeze <= sec <= t_freeze + 4]
        self.assertGreaterEqual(len(window), 3)
        self.assertEqual([x for x in window if x[1] > 0], [])
        self.assertEqual(c["failover"]["total"], 1)
        self.assertLessEqual(took, 4.0)
        self.assertGreater(bench.tps_after(t0 + took), 0)


class WriteStallTest(unittest.TestCase):
    """A primary that answers but cannot commit: FLUSH TABLES WITH READ
    LOCK held on it stops every write, the heartbeat's too."""

    def run_stall(self, name, failover):
        st = self.stack = Stack(name, failover=failover).start()
        self.addCleanup(st.cleanup)
        self.addCleanup(st.stop)
        p, r = st.pair.primary, st.pair.replica
        make_table(st)
        st.wait_healthy(p, r)
        lock = p.connect()
        self.addCleanup(lock.close)
        with lock.cursor() as cur:
            cur.execute("FLUSH TABLES WITH READ LOCK")
        t0 = time.monotonic()
        return st, p, r, lock, t0

    def test_write_stall_is_reported_not_failed_over(self):
        st, p, r, lock, t0 = self.run_stall("failover_wstall", None)
        admin = st.admin
        util.wait_for(lambda: admin.member(p.address)["write_stall_ms"] is not None, 10,
                      what="the write stall to be reported")
        seen = time.monotonic() - t0
        m = metric_samples(admin.metrics())
        self.assertEqual(m[label_key("tandem_member_write_stalled", cluster="db1",
                                     member=p.address)], 1)
        self.assertTrue(any("writes stall" in a for a in admin.cluster()["alerts"]))
        # Well past the tolerance: still the primary, still UP.
        while time.monotonic() - t0 < 7:
            time.sleep(0.2)
        c = admin.cluster()
        self.assertEqual((c["primary"], c["failover"]["total"]), (p.address, 0))
        self.assertEqual(admin.member(p.address)["state"], "UP")
        with lock.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        util.wait_for(lambda: admin.member(p.address)["write_stall_ms"] is None, 10,
                      what="the primary to commit again")
        log(f"FTWRL on the primary: write stall reported after {seen * 1000:.0f} ms; no "
            f"failover in 7 s (failover.on_write_stall off)")

    def test_write_stall_fails_over_when_asked(self):
        st, p, r, lock, t0 = self.run_stall("failover_wstall_on", {"on_write_stall": True})
        admin = st.admin
        util.wait_for(lambda: admin.cluster()["failover"]["total"] == 1, 20,
                      what="the failover for a write stall")
        took = time.monotonic() - t0
        c = admin.cluster()
        log(f"FTWRL on the primary with on_write_stall: failed over after {took * 1000:.0f} ms "
            f"(write_timeout_ms 2000 + stall_tolerance_ms 3000); {c['failover']['last']['reason']}")
        self.assertEqual(c["primary"], r.address)
        self.assertIn("writes got no answer", c["failover"]["last"]["reason"])
        with lock.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        until_writable(st, 1)


class KillRejoinTest(unittest.TestCase):
    """On an async pair, the write in flight at the kill can be committed
    on the old primary and never reach the replica: the old primary is then
    rightly found diverged (DivergedTest). Rejoining by itself is the
    promise of a semi-sync (AFTER_SYNC) pair whose killed server restarts
    the way MariaDB's crash recovery wants (--init-rpl-role=SLAVE cuts
    what no replica acknowledged)."""

    def setUp(self):
        self.stack = Stack("failover_rejoin")
        self.stack.pair = failover_load.failover_pair(self.stack.dir / "pair", semi_sync=True)
        self.stack.start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_killed_primary_rejoins_by_itself(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        util.wait_for(st.pair.semi_sync_active, 30, what="semi-sync active")
        writer = WriteLoop(st)
        writer.start()
        util.wait_for(lambda: len(writer.done) >= 20, 30, what="writes before the kill")
        st.pair.wait_replica_caught_up()
        p.kill9()
        t0 = time.monotonic()
        took, errors, sid = until_writable(st, 1)
        log(f"kill -9 of {p.address} under a write loop -> a new session wrote on "
            f"{r.address} after {took * 1000:.0f} ms")
        self.assertEqual(sid, r.server_id)
        self.assertLessEqual(took, 1.0)
        util.wait_for(lambda: len([d for d in writer.done if d[0] > t0 + took]) >= 10, 30,
                      what="the write loop on the new primary")

        failover_load.restart_as_replica(p)
        t_up = time.monotonic()
        try:
            util.wait_for(lambda: admin.member(p.address)["state"] == "UP", 10,
                          what="the killed primary to be back as a replica without a request")
        except util.WaitTimeout:
            log(f"member: {admin.member(p.address)}\ntandem log:\n{st.tandem.log_tail(40)}")
            raise
        back = time.monotonic() - t_up
        m = admin.member(p.address)
        log(f"killed primary restarted -> back in rotation as a replica of {r.address} "
            f"{back * 1000:.0f} ms after it accepted connections")
        self.assertEqual((m["role"], m["fenced"], m["replication"]["io_running"]),
                         ("replica", False, "Yes"))
        writer.stop()
        log(f"write loop: {len(writer.done)} writes, {len(writer.errors)} errors "
            f"({writer.errors[:2]})")
        # Every write acknowledged after the failover is on the rejoined server too.
        st.pair.primary, st.pair.replica = r, p
        st.pair.wait_replica_caught_up()
        # By value, not by the row's server column: the write in flight at the
        # kill ran on the old primary (server = its id) and, if it landed on
        # the new one, the commit guard answered OK for it there.
        acked = {v for t, v, sid in writer.done if sid == r.server_id}
        rows = {row[0] for row in p.sql("SELECT v FROM test.writes")}
        self.assertEqual(acked - rows, set())

        # A restarted tandem keeps the primary it chose (the state file).
        st.tandem.stop()
        st.tandem.start(wait_admin=True)
        util.wait_for(lambda: admin.cluster()["members"][0]["probes"] > 2, 15,
                      what="probes after the restart")
        self.assertEqual(admin.cluster()["primary"], r.address)
        self.assertEqual(st.server_id_via_tandem(), r.server_id)


class SysbenchKillRejoinTest(unittest.TestCase):
    """kill -9 under sysbench oltp_write_only (4 threads) on a semi-sync
    (AFTER_SYNC) pair: writes within 1 s; the killed server, restarted the
    way MariaDB's semi-sync crash recovery wants (--init-rpl-role=SLAVE, so
    it cuts what no replica acknowledged), rejoins by itself."""

    def setUp(self):
        self.stack = Stack("failover_sbkill")
        self.stack.pair = failover_load.failover_pair(self.stack.dir / "pair", semi_sync=True)
        self.stack.start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_kill_under_sysbench_and_rejoin(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        util.wait_for(st.pair.semi_sync_active, 30, what="semi-sync active")
        clients.sysbench("prepare", st.port, "oltp_write_only", tables=4, table_size=20000,
                         check=True, timeout=300)
        bench = failover_load.SysbenchRun(st.port, "oltp_write_only", threads=4, time_s=14,
                                          tables=4, table_size=20000)
        bench.start()
        util.wait_for(lambda: bench.started_at and time.monotonic() - bench.started_at > 3, 10,
                      what="sysbench to run")
        p.kill9()
        t0 = time.monotonic()
        took, errors, sid = until_writable(st, 1)
        self.assertEqual(sid, r.server_id)
        failover_load.restart_as_replica(p)
        t_up = time.monotonic()
        try:
            util.wait_for(lambda: admin.member(p.address)["state"] == "UP", 10,
                          what="the killed primary to be back as a replica without a request")
        except util.WaitTimeout:
            log(f"member: {admin.member(p.address)}\ntandem log:\n{st.tandem.log_tail(40)}")
            raise
        back = time.monotonic() - t_up
        bench.join(200)
        res = bench.result
        self.assertIsNotNone(res, bench.error)
        m = admin.member(p.address)
        log(f"kill -9 under sysbench oltp_write_only (4 threads, semi-sync): a new session "
            f"wrote after {took * 1000:.0f} ms; restarted with --init-rpl-role=SLAVE, back as a "
            f"replica {back * 1000:.0f} ms after it accepted connections; sysbench rc {res.rc}, "
            f"{res.transactions} transactions, ignored (documented failover) errors "
            f"{res.errors}, tps after the failover {bench.tps_after(t0 + took):.0f}")
        self.assertLessEqual(took, 1.0)
        self.assertEqual((m["role"], m["fenced"], m["replication"]["io_running"]),
                         ("replica", False, "Yes"))
        self.assertEqual(res.rc, 0, res.output[-2000:])
        self.assertGreater(bench.tps_after(t0 + took), 0)


class DivergedTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_diverged").start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_diverged_old_primary_stays_fenced(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        until_writable(st, 1)
        st.pair.wait_replica_caught_up()
        # A transaction the replica never receives.
        r.sql("STOP SLAVE IO_THREAD")
        p.sql("INSERT INTO test.writes (v, server) VALUES (99, @@server_id)")
        lost = p.query_value("SELECT @@global.gtid_binlog_pos")
        util.wait_for(lambda: admin.member(p.address)["gtid_binlog_pos"] == lost, 10,
                      what="tandem to see the primary's last GTID")
        p.kill9()
        until_writable(st, 2)
        c = admin.cluster()
        self.assertIn(lost, c["failover"]["last"]["gtid"]["missing"])
        p.restart()
        util.wait_for(lambda: admin.member(p.address)["diverged"], 15,
                      what="tandem to find the old primary diverged")
        m = admin.member(p.address)
        log(f"diverged old primary: state {m['state']}, reason: {m['fence_reason']}")
        self.assertEqual(m["state"], "FENCED")
        # The GTIDs that differ: what it holds (our INSERT, and maybe tandem's
        # heartbeat after it) and what the new primary had when promoted.
        holds = p.query_value("SELECT @@global.gtid_binlog_pos")
        self.assertIn("diverged", m["fence_reason"])
        self.assertIn(f"its gtid_binlog_pos {holds}", m["fence_reason"])
        self.assertIn(c["failover"]["last"]["gtid"]["applied_after"], m["fence_reason"])
        self.assertTrue(any("stays fenced" in a for a in admin.cluster()["alerts"]))
        self.assertEqual(p.variable("read_only"), "ON")
        # The verdict stands until an operator repairs it and posts …/ready.
        self.assertEqual(admin.cluster()["failover"]["rejoins_refused"], 1)


class LossRefusedTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("failover_lossless", failover={"max_data_loss_ms": 0}).start()
        make_table(self.stack)

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def test_failover_that_would_lose_a_transaction_waits(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica
        st.wait_healthy(p, r)
        st.pair.wait_replica_caught_up()
        r.sql("STOP SLAVE IO_THREAD")
        p.sql("INSERT INTO test.writes (v, server) VALUES (7, @@server_id)")
        lost = p.query_value("SELECT @@global.gtid_binlog_pos")
        util.wait_for(lambda: admin.member(p.address)["gtid_binlog_pos"] == lost, 10,
                      what="tandem to see the primary's last GTID")
        p.kill9()
        util.wait_for(lambda: admin.cluster()["failover"]["last_refusal"] is not None, 15,
                      what="the failover to be refused")
        c = admin.cluster()
        reason = c["failover"]["last_refusal"]["reason"]
        log(f"max_data_loss_ms 0: failover refused: {reason}")
        self.assertIn(lost, reason)
        self.assertIn("max_data_loss_ms", reason)
        self.assertEqual((c["primary"], c["failover"]["total"]), (p.address, 0))
        # The primary comes back: nothing was lost, sessions go to it again.
        p.restart()
        took, errors, sid = until_writable(st, 2)
        self.assertEqual(sid, p.server_id)
        self.assertEqual(p.query_value("SELECT COUNT(*) FROM test.writes WHERE v = 7"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
