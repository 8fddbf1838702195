#!/usr/bin/python3
"""kill -9 of the primary: the replica is promoted and new sessions write to
it quickly (the issue sets 2 s for detection + decision at default
settings; the measured detection-to-writable time of every round is
printed). The old primary is FENCED: restarted, it is made read-only and
gets no traffic until an operator brings it back (POST .../ready, which
also makes it a replica of the new primary) or a reload names the new
primary. Several rounds run on one pair by failing back and forth.

failover.auto_rejoin is off here, so that these operator paths are what
brings the old primary back; the automatic rejoin is test_failover_judge."""

import unittest

from health_helpers import (CLUSTER, Stack, log, make_table, until_writable, util)

ROUNDS = 3
BOUND_S = 2.0   # detection + decision + promotion + a new session's INSERT


class KillPrimaryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("failover_kill", failover={"auto_rejoin": False}).start()
        make_table(cls.stack)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def one_round(self, primary, replica, n):
        st, admin = self.stack, self.stack.admin
        st.wait_healthy(primary, replica)
        before = admin.cluster()["failover"]["total"]
        idle = st.connect()                      # an idle session on the old primary
        with idle.cursor() as cur:
            cur.execute("SET time_zone = '+05:30'")
            cur.execute("SELECT 1")

        primary.kill9()
        took, errors, sid = until_writable(st, n)
        log(f"round {n}: kill -9 of {primary.address} -> new session wrote on "
            f"{replica.address} after {took * 1000:.0f} ms ({len(errors)} client errors "
            f"while waiting: {errors[:2]})")
        self.assertEqual(sid, replica.server_id)
        self.assertLessEqual(took, BOUND_S)
        self.assertEqual(errors, [], "new sessions should wait for the failover, not fail")

        c = admin.cluster()
        self.assertEqual(c["primary"], replica.address)
        self.assertEqual(c["failover"]["total"], before + 1)
        last = c["failover"]["last"]
        self.assertEqual((last["from"], last["to"], last["kind"]),
                         (primary.address, replica.address, "failover"))
        self.assertTrue(last["promoted"])
        self.assertTrue(last["caught_up"])
        self.assertIsNotNone(last["data_loss_window_ms"])
        log(f"round {n}: tandem's record: detection {last['detection_ms']} ms, decision and "
            f"promotion {last['decision_ms']} ms, total {last['duration_ms']} ms, "
            f"data-loss window {last['data_loss_window_ms']} ms")
        self.assertEqual(admin.member(primary.address)["state"], "FENCED")
        self.assertEqual(replica.variable("read_only"), "OFF")
        tenant = admin.status()["tenants"]["vps17"]
        self.assertEqual(tenant["last_failover"]["to"], replica.address)

        # The idle session was on the dead server: it moved to the new
        # primary with its state, and its next command simply works
        # (docs/sessions.md; the session tests cover this in depth).
        with idle.cursor() as cur:
            cur.execute("SELECT @@server_id, @@time_zone")
            self.assertEqual(cur.fetchone(), (replica.server_id, "+05:30"))
        idle.close()

        # Restarted, the old primary stays fenced and is made read-only.
        primary.restart()
        util.wait_for(lambda: primary.variable("read_only") == "ON", 15,
                      what="the fenced old primary to be made read-only")
        util.wait_for(lambda: admin.member(primary.address)["health"] == "UP", 15,
                      what="the old primary to answer probes")
        m = admin.member(primary.address)
        self.assertEqual((m["state"], m["fenced"], m["primary"]), ("FENCED", True, False))
        self.assertEqual(st.server_id_via_tandem(), replica.server_id)
        return took

    def bring_back(self, fenced, primary):
        code, body = self.stack.admin.post(
            f"/clusters/{CLUSTER}/members/{fenced.address}/ready")
        self.assertEqual(code, 200, body)
        self.assertIn("replicates from", body.get("rejoin", ""), body)
        self.stack.wait_healthy(primary, fenced)

    def test_kill9_rounds(self):
        p, r = self.stack.pair.primary, self.stack.pair.replica
        times = []
        for n in range(1, ROUNDS + 1):
            times.append(self.one_round(p, r, n))
            self.bring_back(p, r)
            p, r = r, p
        log("detection-to-writable (kill -9 -> new session INSERT ok): "
            + ", ".join(f"{t * 1000:.0f} ms" for t in times))
        self.assertIn("fenced member", self.stack.tandem.log_text())

    def test_zz_reload_naming_new_primary_unfences(self):
        """After a failover, a reload whose config names the new primary
        brings the fenced member back, without another failover."""
        st = self.stack
        p, r = st.pair.primary, st.pair.replica
        cur_primary = st.admin.cluster()["primary"]
        if cur_primary != p.address:
            p, r = r, p
        st.wait_healthy(p, r)
        p.kill9()
        until_writable(st, 1000)
        p.restart()
        util.wait_for(lambda: st.admin.member(p.address)["health"] == "UP", 15,
                      what="old primary probed")
        self.assertEqual(st.admin.member(p.address)["state"], "FENCED")
        total = st.admin.cluster()["failover"]["total"]

        # A reload that still names the old primary keeps the fence (and a
        # changed member order rebuilds the cluster's monitor, keeping state).
        cfg = st.tandem.config
        cfg["clusters"][CLUSTER]["primary"] = p.address
        cfg["clusters"][CLUSTER]["replicas"] = [r.address]
        cfg["clusters"][CLUSTER]["monitor"]["interval_ms"] = 400
        reloads = st.admin.status()["config"]["reloads"]
        st.tandem.reload(cfg)
        util.wait_for(lambda: st.admin.status()["config"]["reloads"] > reloads, 10,
                      what="reload")
        self.assertEqual(st.admin.member(p.address)["state"], "FENCED")
        self.assertEqual(st.admin.cluster()["primary"], r.address)
        self.assertEqual(st.server_id_via_tandem(), r.server_id)

        cfg["clusters"][CLUSTER]["primary"] = r.address
        cfg["clusters"][CLUSTER]["replicas"] = [p.address]
        st.tandem.reload(cfg)
        util.wait_for(lambda: st.admin.member(p.address)["state"] == "UP", 10,
                      what="the reload to unfence the old primary")
        c = st.admin.cluster()
        self.assertEqual(c["primary"], r.address)
        self.assertEqual(c["failover"]["total"], total)
        self.assertEqual(st.server_id_via_tandem(), r.server_id)

    def test_zzz_restarted_tandem_finds_the_writable_member(self):
        """Without its state file (lost, or the first start after an upgrade):
        restarted with a config that still names the old (now read-only)
        primary, tandem routes to the member that is writable and
        replicates from nowhere."""
        st = self.stack
        p, r = st.pair.primary, st.pair.replica
        if st.admin.cluster()["primary"] == p.address:
            p, r = r, p
        self.assertEqual(p.variable("read_only"), "ON")
        self.assertEqual(r.variable("read_only"), "OFF")
        st.tandem.stop()
        st.tandem.config_path.with_name(st.tandem.config_path.name + ".state").unlink()
        cfg = st.tandem.config
        cfg["clusters"][CLUSTER]["primary"] = p.address
        cfg["clusters"][CLUSTER]["replicas"] = [r.address]
        st.tandem.write_config(cfg)
        st.tandem.start(wait_admin=True)
        util.wait_for(lambda: st.admin.cluster()["primary"] == r.address, 10,
                      what="start-up discovery of the writable member")
        self.assertEqual(st.server_id_via_tandem(), r.server_id)
        self.assertIn("is the only writable member", st.tandem.log_text())
        self.assertEqual(st.admin.cluster()["failover"]["total"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
