#!/usr/bin/python3
"""The admin endpoint against a healthy pair: /status reports every member
(role, state, since, lag in ms from GTID positions, probe latency,
replication), /metrics exposes the documented families, /health is 200;
maintenance and ready take a replica out of rotation and back; two writable
members raise an alert while writes keep going to the chosen primary only.
The monitor leaves nothing a client could see on the primary (no binlog
event, no Binlog_cache_use, no userstat row, no schema of its own); the
heartbeat row is there only when monitor.heartbeat asks for it."""

import re
import unittest

from health_helpers import (CLUSTER, TENANT, Stack, label_key, log, make_table,
                            metric_samples, util)


class HealthStatusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("health_status", monitor={"timeout_ms": 3000}).start()
        make_table(cls.stack)
        cls.p, cls.r = cls.stack.pair.primary, cls.stack.pair.replica
        cls.stack.wait_healthy(cls.p, cls.r)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def test_status_reports_members(self):
        admin = self.stack.admin
        c = admin.cluster()
        self.assertEqual((c["primary"], c["transition"], c["writable_members"]),
                         (self.p.address, "none", 1))
        self.assertEqual(c["alerts"], [])
        p, r = admin.member(self.p.address), admin.member(self.r.address)
        for m in (p, r):
            self.assertEqual(m["state"], "UP")
            self.assertIn("MariaDB", m["version"])
            self.assertGreater(m["probe_ms"], 0)
            self.assertGreater(m["probes"], 0)
            self.assertIsNone(m["last_error"])
            self.assertGreater(m["since_us"], 0)
        self.assertEqual((p["role"], p["read_only"], p["primary"]), ("primary", False, True))
        self.assertEqual((r["role"], r["read_only"], r["primary"]), ("replica", True, False))
        self.assertIsNone(p["replication"])
        self.assertEqual(r["replication"]["io_running"], "Yes")
        self.assertTrue(r["replication"]["sql_running"])
        self.assertEqual(r["replication"]["source"], self.p.address)
        self.assertEqual(r["lag_source"], "gtid")
        self.assertLess(r["lag_ms"], 1000)
        log(f"probe latency: primary {p['probe_ms']:.2f} ms, replica {r['probe_ms']:.2f} ms; "
            f"replica lag {r['lag_ms']} ms")
        self.assertEqual(c["heartbeat"], {"enabled": False})
        wp = c["write_probe"]
        self.assertEqual((wp["kind"], wp["error"]), ("locking_read", None))
        self.assertIsNotNone(wp["last_ok_us"])
        t = admin.status()["tenants"][TENANT]
        self.assertEqual(t["cluster"], CLUSTER)
        self.assertIsNone(t["last_failover"])
        code, body = admin.health()
        self.assertEqual((code, body["status"], body["tenants_without_primary"]),
                         (200, "ok", []))

    def test_metrics_exposition(self):
        text = self.stack.admin.metrics()
        m = metric_samples(text)
        P, R = self.p.address, self.r.address
        self.assertEqual(m[label_key("tandem_member_up", cluster=CLUSTER, member=P)], 1)
        self.assertEqual(m[label_key("tandem_member_up", cluster=CLUSTER, member=R)], 1)
        self.assertEqual(m[label_key("tandem_member_role", cluster=CLUSTER, member=P,
                                     role="primary")], 1)
        self.assertEqual(m[label_key("tandem_member_role", cluster=CLUSTER, member=R,
                                     role="replica")], 1)
        self.assertEqual(m[label_key("tandem_member_primary", cluster=CLUSTER, member=P)], 1)
        self.assertEqual(m[label_key("tandem_member_state", cluster=CLUSTER, member=R,
                                     state="UP")], 1)
        self.assertLess(m[label_key("tandem_member_replication_lag_seconds", cluster=CLUSTER,
                                    member=R)], 1)
        self.assertNotIn(label_key("tandem_member_replication_lag_seconds", cluster=CLUSTER,
                                   member=P), m)
        self.assertGreater(m[label_key("tandem_member_probe_duration_seconds", cluster=CLUSTER,
                                       member=P)], 0)
        self.assertEqual(m[label_key("tandem_failovers_total", cluster=CLUSTER)], 0)
        self.assertEqual(m[label_key("tandem_cluster_writable_members", cluster=CLUSTER)], 1)
        self.assertIn(label_key("tandem_queries_total", tenant=TENANT), m)
        # Every family has HELP and TYPE; counters end in _total; base units.
        families = set(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        names = {n for n, _ in families}
        for key in m:
            self.assertIn(key.split("{")[0], names, key)
        for name, kind in families:
            self.assertTrue(name.startswith("tandem_"), name)
            self.assertIn(f"# HELP {name} ", text)
            self.assertEqual(kind == "counter", name.endswith("_total"), name)
            self.assertNotRegex(name, r"_(ms|milliseconds|us)$")

    def test_monitor_leaves_no_trace(self):
        """Over several probes (the write probe among them) the primary's
        binlog, its Binlog_cache_use and, with userstat on, its
        TABLE_STATISTICS and INDEX_STATISTICS stay as they were; tandem has
        no schema there."""
        admin, p = self.stack.admin, self.p
        p.sql("SET GLOBAL userstat = 1")
        try:
            p.execute_all(["FLUSH TABLE_STATISTICS", "FLUSH INDEX_STATISTICS"])

            def binlog():
                return (p.sql("SHOW MASTER STATUS")[0][:2], p.status("Binlog_cache_use"),
                        p.status("Binlog_stmt_cache_use"), p.variable("gtid_binlog_pos"))
            before = binlog()
            probes = admin.member(self.p.address)["probes"]
            ok_us = admin.cluster()["write_probe"]["last_ok_us"]
            util.wait_for(lambda: admin.member(self.p.address)["probes"] >= probes + 4
                          and admin.cluster()["write_probe"]["last_ok_us"] > ok_us, 20,
                          what="four more probes of the primary, write probe answered")
            self.assertEqual(binlog(), before)
            self.assertEqual(p.sql("SHOW TABLE_STATISTICS"), [])
            self.assertEqual(p.sql("SHOW INDEX_STATISTICS"), [])
        finally:
            p.sql("SET GLOBAL userstat = 0")
        self.assertNotIn(("tandem",), p.sql("SHOW DATABASES"))

    def test_maintenance_and_ready_of_a_replica(self):
        st, R = self.stack, self.r.address
        code, body = st.admin.post(f"/clusters/{CLUSTER}/members/{R}/maintenance")
        self.assertEqual((code, body["state"]), (200, "MAINTENANCE"), body)
        m = st.admin.member(R)
        self.assertEqual((m["state"], m["maintenance"], m["health"]), ("MAINTENANCE", True, "UP"))
        metric = metric_samples(st.admin.metrics())[label_key(
            "tandem_member_state", cluster=CLUSTER, member=R, state="MAINTENANCE")]
        self.assertEqual(metric, 1)
        self.assertEqual(st.server_id_via_tandem(), self.p.server_id)   # unaffected
        code, body = st.admin.post(f"/clusters/{CLUSTER}/members/{R}/ready")
        self.assertEqual((code, body["state"]), (200, "UP"), body)
        self.assertEqual(st.admin.member(R)["state"], "UP")

    def test_two_writable_members_alert(self):
        st, admin = self.stack, self.stack.admin
        self.r.sql("SET GLOBAL read_only = OFF")
        try:
            util.wait_for(lambda: admin.cluster()["writable_members"] == 2, 10,
                          what="tandem to see two writable members")
            c = admin.cluster()
            self.assertTrue(any("2 members are writable" in a for a in c["alerts"]), c["alerts"])
            code, body = admin.health()
            self.assertEqual((code, body["status"]), (200, "warning"), body)
            self.assertTrue(body["alerts"])
            m = metric_samples(admin.metrics())
            self.assertEqual(m[label_key("tandem_cluster_writable_members", cluster=CLUSTER)], 2)
            self.assertGreaterEqual(
                m[label_key("tandem_cluster_split_brain_events_total", cluster=CLUSTER)], 1)
            self.assertIn("ALERT: 2 members are writable", st.tandem.log_text())
            # Writes still go only to the primary tandem chose.
            for _ in range(5):
                self.assertEqual(st.server_id_via_tandem(), self.p.server_id)
            self.assertEqual(c["primary"], self.p.address)
        finally:
            self.r.sql("SET GLOBAL read_only = ON")
        util.wait_for(lambda: admin.cluster()["alerts"] == [], 10, what="the alert to clear")
        self.assertEqual(admin.health()[1]["status"], "ok")

    def test_admin_errors(self):
        admin = self.stack.admin
        self.assertEqual(admin.post("/clusters/nope/switchover")[0], 404)
        self.assertEqual(admin.post(f"/clusters/{CLUSTER}/members/10.9.9.9:1/ready")[0], 404)
        self.assertEqual(admin.post(f"/clusters/{CLUSTER}/members//ready")[0], 404)
        self.assertEqual(admin.post("/status")[0], 404)
        self.assertEqual(admin.request("GET", "/nothing")[0], 404)


class HeartbeatOptInTest(unittest.TestCase):
    """monitor.heartbeat on: the old heartbeat row, written on the primary
    and read back on the replica, is both the lag source and the write
    probe."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("health_heartbeat", monitor={"heartbeat": True}).start()
        cls.p, cls.r = cls.stack.pair.primary, cls.stack.pair.replica
        cls.stack.wait_healthy(cls.p, cls.r)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def test_heartbeat_row_is_lag_and_write_probe(self):
        admin = self.stack.admin
        c = admin.cluster()
        r = admin.member(self.r.address)
        self.assertEqual(r["lag_source"], "heartbeat")
        self.assertLess(r["lag_ms"], 1000)
        hb = c["heartbeat"]
        self.assertTrue(hb["enabled"])
        self.assertEqual(hb["table"], "tandem.heartbeat")
        self.assertIsNotNone(hb["last_write_us"])
        self.assertEqual((c["write_probe"]["kind"], c["write_probe"]["error"]),
                         ("heartbeat", None))
        # The heartbeat row exists on both servers (it replicates), and it
        # is a trace: the primary's binlog grows with every probe (what
        # test_monitor_leaves_no_trace would catch by default).
        for s in (self.p, self.r):
            self.assertEqual(s.query_value("SELECT COUNT(*) FROM tandem.heartbeat"), 1)
        before = self.p.variable("gtid_binlog_pos")
        util.wait_for(lambda: self.p.variable("gtid_binlog_pos") != before, 10,
                      what="a heartbeat transaction in the primary's binlog")


if __name__ == "__main__":
    unittest.main(verbosity=2)
