#!/usr/bin/python3
"""The monitor speaks TLS when the cluster has "tls": with the monitor
account created REQUIRE SSL, probes (and the promotion of a failover) work
only over TLS, verified against the cluster's CA and the member's address.
A cluster whose CA does not match reports the TLS failure per member
("auth" kind, an alert) and never treats it as a dead server."""

import sys
import unittest
from pathlib import Path

from health_helpers import Admin, accounts, clients, until_writable, util

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import certs  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, cluster_config, raise_problems, tenant_config  # noqa: E402


class TenantPort:
    """What until_writable() needs of a stack: connect() to a tenant."""

    def __init__(self, port: int):
        self.port = port

    def connect(self, **kw):
        kw.setdefault("database", "test")
        return clients.connect(self.port, **kw)


class MonitorTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("health_tls")
        pki = cls.dir / "pki"
        cls.ca = certs.make_ca(pki)
        other = certs.make_ca(pki, "other-ca", cn="some other CA")
        db = certs.make_cert(cls.ca, pki, "db")
        tls_args = [f"--ssl-cert={db.cert}", f"--ssl-key={db.key}", f"--ssl-ca={cls.ca.cert}"]
        cls.pair = MariaDBPair(cls.dir / "pair", primary_args=tls_args,
                               replica_args=tls_args).start()
        # Plaintext probes would be refused from here on.
        cls.pair.primary.execute_all(
            [f"ALTER USER '{accounts.MONITOR_USER}'@'{h}' REQUIRE SSL" for h in accounts.HOSTS])
        cls.pair.wait_replica_caught_up()

        def cluster(tls, **failover):
            c = cluster_config(cls.pair)
            c["tls"] = tls
            c["monitor"]["timeout_ms"] = 3000
            if failover:
                c["failover"] = failover
            return c

        cls.config = {
            "admin": {"listen": f"127.0.0.1:{util.free_port()}"},
            "workers": 1,
            "clusters": {
                "tlsdb": cluster({"ca": str(cls.ca.cert), "verify_identity": True}),
                "wrongca": cluster({"ca": str(other.cert)}, auto=False),
            },
            "tenants": {"t": tenant_config("tlsdb"), "w": tenant_config("wrongca")},
        }
        cls.tandem = TandemProcess(None, cls.config, cls.dir / "tandem").start(wait_admin=True)
        cls.admin = Admin(cls.tandem.admin_port())

    @classmethod
    def tearDownClass(cls):
        problems = cls.tandem.exit_problems(cls.tandem.stop())
        cls.pair.stop()
        util.remove_scratch(cls.dir)
        raise_problems(problems)

    def test_1_wrong_ca_is_reported_not_failed(self):
        def reported():
            ms = self.admin.cluster("wrongca")["members"]
            return all(m["last_error_kind"] == "auth" and m["probes"] >= 4 for m in ms)
        util.wait_for(reported, 20, what="refused TLS probes on the wrong-CA cluster")
        c = self.admin.cluster("wrongca")
        for m in c["members"]:
            self.assertEqual((m["state"], m["probe_failures"]), ("UNKNOWN", 0))
            self.assertRegex(m["last_error"], r"(?i)certificate|verif")
        print(f"wrong CA: {c['members'][0]['last_error']}", file=sys.stderr)
        self.assertEqual(c["failover"]["refused_total"], 0)
        self.assertTrue(c["alerts"])

    def test_2_probes_and_failover_over_tls(self):
        admin, p, r = self.admin, self.pair.primary, self.pair.replica

        def healthy():
            c = admin.cluster("tlsdb")
            ms = {m["address"]: m for m in c["members"]}
            return (ms[p.address]["state"] == "UP" and ms[r.address]["state"] == "UP"
                    and ms[r.address]["lag_source"] == "gtid")
        util.wait_for(healthy, 20, what="both members UP over TLS")
        # The monitor's own connections are TLS (REQUIRE SSL would refuse them otherwise).
        n = p.query_value("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                          "WHERE USER = %s", (accounts.MONITOR_USER,))
        self.assertGreaterEqual(n, 1)

        st = TenantPort(self.tandem.tenant_port("t"))
        with st.connect() as c, c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS test.writes (id INT AUTO_INCREMENT "
                        "PRIMARY KEY, v INT NOT NULL, server INT NOT NULL)")
        p.kill9()
        took, errors, sid = until_writable(st, 1)
        self.assertEqual(sid, r.server_id)
        last = admin.cluster("tlsdb")["failover"]["last"]
        self.assertTrue(last["promoted"])
        self.assertEqual(last["to"], r.address)


if __name__ == "__main__":
    unittest.main(verbosity=2)
