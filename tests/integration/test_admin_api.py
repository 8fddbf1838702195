#!/usr/bin/python3
"""The admin API's day-two endpoints against a real pair, with a token:
the JSON index at / (and the page, served without the token, holding no
data), /clusters, /tenants with filter and paging, killing a session by
tandem's id and by the connection id its client saw in the greeting,
draining a tenant, POST /reload with the check's verdict (a bad file is not
reloaded), and the failover history with a switchover, a kill -9 failover
and the old primary's rejoin (POST .../rejoin)."""

import copy
import json
import sys
import threading
import urllib.error
import urllib.request
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from harness import failover_load, util  # noqa: E402
from harness.tandem import tenant_config  # noqa: E402
from health_helpers import CLUSTER, TENANT, Admin, Stack  # noqa: E402

TOKEN = "admin-api-test-token"
EXTRA = [f"extra{i:02d}" for i in range(12)]


class ManyTenants(Stack):
    def config(self):
        cfg = super().config()
        for name in EXTRA:
            cfg["tenants"][name] = tenant_config(CLUSTER)
        return cfg


class AdminApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = ManyTenants("admin_api", admin={"token": TOKEN},
                                monitor={"interval_ms": 200, "failures": 2})
        cls.stack.start()
        cls.admin = cls.stack.admin

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.stop()
        finally:
            cls.stack.cleanup()

    def test_index_and_page(self):
        anon = Admin(self.stack.tandem.admin_port())
        code, body = anon.request("GET", "/")
        self.assertEqual(code, 200)
        self.assertIn("<html", body)
        self.assertNotIn(TENANT, body)          # the page holds no data
        req_json = self.admin.base + "/"
        r = urllib.request.Request(req_json, headers={"Accept": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(r, timeout=10)
        self.assertEqual(ctx.exception.code, 401)
        r.add_header("Authorization", f"Bearer {TOKEN}")
        with urllib.request.urlopen(r, timeout=10) as resp:
            index = json.load(resp)
        eps = [e["endpoint"] for e in index["endpoints"]]
        for ep in ("GET /tenants?q=&cluster=&offset=&limit=", "GET /failovers?cluster=",
                   "POST /sessions/<id>/kill", "POST /reload",
                   "POST /clusters/<c>/members/<m>/rejoin"):
            self.assertIn(ep, eps)
        self.assertEqual(anon.request("GET", "/clusters")[0], 401)

    def test_clusters(self):
        code, body = self.admin.request("GET", "/clusters")
        self.assertEqual(code, 200)
        members = body["clusters"][CLUSTER]["members"]
        self.assertEqual(len(members), 2)
        for m in members:
            for key in ("address", "role", "state", "lag_ms", "probes", "probe_ms"):
                self.assertIn(key, m)

    def test_tenants_filter_and_paging(self):
        code, body = self.admin.request("GET", "/tenants?limit=5")
        self.assertEqual(code, 200)
        self.assertEqual((body["total"], body["matched"], len(body["tenants"])), (13, 13, 5))
        seen = []
        for off in range(0, 13, 5):
            page = self.admin.request("GET", f"/tenants?limit=5&offset={off}")[1]
            seen += [t["name"] for t in page["tenants"]]
        self.assertEqual(sorted(seen), sorted(EXTRA + [TENANT]))
        body = self.admin.request("GET", "/tenants?q=EXTRA0")[1]
        self.assertEqual(sorted(t["name"] for t in body["tenants"]),
                         [f"extra{i:02d}" for i in range(10)])
        self.assertEqual(body["matched"], 10)
        one = self.admin.request("GET", f"/tenants?q={TENANT}")[1]["tenants"][0]
        for key in ("sessions", "queries", "errors", "cluster", "listen"):
            self.assertIn(key, one)
        self.assertEqual(self.admin.request("GET", "/tenants?cluster=nope")[1]["matched"], 0)

    def session_of(self, client_id):
        code, body = self.admin.request("GET", "/sessions")
        self.assertEqual(code, 200)
        return [s for s in body["sessions"] if s["client_id"] == client_id]

    def assert_killed(self, conn):
        with self.assertRaises(pymysql.MySQLError) as ctx:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
        self.assertIn(ctx.exception.args[0], (1927, 2013, 2006), ctx.exception.args)

    def test_kill_by_id_and_by_client_id(self):
        a = self.stack.connect()
        b = self.stack.connect()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a_id, b_id = a.server_thread_id[0], b.server_thread_id[0]
        [sa] = self.session_of(a_id)
        self.assertEqual(sa["tenant"], TENANT)
        code, body = self.admin.post(f"/sessions/{sa['id']}/kill")
        self.assertEqual(code, 200, body)
        self.assertEqual(body["killed"]["id"], sa["id"])
        self.assert_killed(a)
        util.wait_for(lambda: not self.session_of(a_id), 10, what="the killed session to go")
        code, body = self.admin.post(f"/sessions/kill?client_id={b_id}")
        self.assertEqual(code, 200, body)
        self.assertEqual(body["killed"]["client_id"], b_id)
        self.assert_killed(b)
        self.assertEqual(self.admin.post(f"/sessions/kill?client_id={b_id}")[0] in (200, 404),
                         True)
        util.wait_for(lambda: not self.session_of(b_id), 10, what="the killed session to go")
        self.assertEqual(self.admin.post("/sessions/kill?client_id=4294967295")[0], 404)
        self.assertEqual(self.admin.post("/sessions/abc/kill")[0], 400)
        self.assertEqual(self.admin.post("/sessions/kill")[0], 400)
        with self.stack.connect() as c, c.cursor() as cur:   # others unaffected
            cur.execute("SELECT 2")
            self.assertEqual(cur.fetchone(), (2,))

    def test_drain_tenant(self):
        idle = self.stack.connect()
        self.addCleanup(idle.close)
        busy = self.stack.connect()
        self.addCleanup(busy.close)
        idle_id, busy_id = idle.server_thread_id[0], busy.server_thread_id[0]
        answer = []

        def run():
            with busy.cursor() as cur:
                cur.execute("SELECT SLEEP(2), 42")
                answer.append(cur.fetchone())
        th = threading.Thread(target=run)
        th.start()
        util.wait_for(lambda: self.session_of(busy_id)
                      and self.session_of(busy_id)[0]["state"] != "idle", 10,
                      what="the long query to run")
        code, body = self.admin.post(f"/tenants/{TENANT}/drain")
        self.assertEqual(code, 200, body)
        self.assertGreaterEqual(body["sessions"], 2)
        util.wait_for(lambda: not self.session_of(idle_id), 10, what="the idle session to close")
        self.assertTrue(self.session_of(busy_id), "a running command was cut")
        th.join(30)
        self.assertEqual(answer, [(0, 42)])      # its command finished and answered
        util.wait_for(lambda: not self.session_of(busy_id), 10,
                      what="the session to close after its command")
        with self.stack.connect() as c, c.cursor() as cur:   # new logins still taken
            cur.execute("SELECT 3")
            self.assertEqual(cur.fetchone(), (3,))
        self.assertEqual(self.admin.post("/tenants/nope/drain")[0], 404)

    def test_reload_with_verdict(self):
        t = self.stack.tandem
        good = copy.deepcopy(t.config)
        good_port = t.admin_port()

        def restore():
            # the moved-away listener closes a second after its reload
            util.wait_for(lambda: not util.is_listening("127.0.0.1", good_port), 10,
                          what="the old admin listener to close")
            t.write_config(good)           # ask where tandem listens now
            self.assertEqual(self.admin.post("/reload")[0], 200)
            self.admin.base = f"http://127.0.0.1:{t.admin_port()}"
            util.wait_for(lambda: util.is_listening("127.0.0.1", t.admin_port()), 10,
                          what="the admin listener back on its port")
        self.addCleanup(restore)
        gen = self.admin.status()["config"]["generation"]
        bad = copy.deepcopy(good)
        bad["tenants"]["late"] = tenant_config(CLUSTER)
        bad["tenants"]["late"]["colour"] = "blue"
        bad["workers"] = 0
        t.write_config(bad)
        code, body = self.admin.post("/reload")
        self.assertEqual(code, 422, body)
        self.assertEqual(body["check"]["verdict"], "invalid")
        self.assertEqual(len(body["check"]["errors"]), 2, body)
        self.assertFalse(body["reloaded"])
        self.assertEqual(body["generation"], gen)
        st = self.admin.status()["config"]
        self.assertEqual(st["generation"], gen)
        good2 = copy.deepcopy(good)
        good2["tenants"]["late"] = tenant_config(CLUSTER)
        t.write_config(good2)
        code, body = self.admin.post("/reload")
        self.assertEqual(code, 200, body)
        self.assertEqual((body["check"]["verdict"], body["check"]["errors"]), ("valid", []))
        # the inline token's warning, as --check prints it
        self.assertIn("$.admin.token", " ".join(body["check"]["warnings"]))
        self.assertTrue(body["reloaded"])
        self.assertEqual(body["generation"], gen + 1)
        with self.stack.connect() as c, c.cursor() as cur:
            cur.execute("SELECT 4")
        # A reload that moves the admin listener answers on the old one.
        moved = copy.deepcopy(good)
        moved["admin"]["listen"] = f"127.0.0.1:{util.free_port()}"
        t.write_config(moved)
        code, body = self.admin.post("/reload")
        self.assertEqual(code, 200, body)
        self.admin.base = f"http://127.0.0.1:{t.admin_port()}"
        self.assertEqual(self.admin.status()["config"]["generation"], gen + 2)

    def test_zz_failover_history_and_rejoin(self):
        """Last: it moves the primary twice."""
        p, r = self.stack.pair.primary, self.stack.pair.replica
        self.stack.wait_healthy(p, r)
        code, body = self.admin.post(f"/clusters/{CLUSTER}/switchover")
        self.assertEqual(code, 200, body)
        hist = self.admin.request("GET", "/failovers")[1]["events"]
        self.assertEqual(hist[0]["kind"], "switchover")
        self.assertEqual((hist[0]["cluster"], hist[0]["from"], hist[0]["to"]),
                         (CLUSTER, p.address, r.address))
        # r is primary now; kill it: a failover back to p.
        self.stack.wait_healthy(r, p)
        self.stack.kill_primary(r, p)
        util.wait_for(lambda: self.admin.request("GET", "/failovers")[1]["events"][0]["kind"]
                      == "failover", 10, what="the failover in the history")
        hist = self.admin.request("GET", f"/failovers?cluster={CLUSTER}")[1]["events"]
        self.assertEqual([e["kind"] for e in hist[:2]], ["failover", "switchover"])
        fo = hist[0]
        self.assertEqual((fo["from"], fo["to"]), (r.address, p.address))
        for key in ("detection_ms", "decision_ms", "duration_ms", "data_loss_window_ms", "at_us"):
            self.assertIn(key, fo)
        self.assertGreaterEqual(fo["duration_ms"], fo["detection_ms"])
        self.assertEqual(self.admin.request("GET", "/failovers?cluster=nope")[1]["events"], [])
        # The old primary comes back fenced; rejoin returns it as a replica.
        failover_load.restart_as_replica(r)
        util.wait_for(lambda: self.admin.member(r.address)["health"] == "UP", 30,
                      what="the old primary to answer probes")
        self.assertTrue(self.admin.member(r.address)["fenced"]
                        or self.admin.member(r.address)["role"] == "replica")
        code, body = self.admin.post(f"/clusters/{CLUSTER}/members/{r.address}/rejoin")
        self.assertIn(code, (200, 409), body)
        self.stack.wait_healthy(p, r)
        self.assertFalse(self.admin.member(r.address)["fenced"])
        self.assertEqual(self.admin.post(f"/clusters/{CLUSTER}/members/nope:1/rejoin")[0], 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
