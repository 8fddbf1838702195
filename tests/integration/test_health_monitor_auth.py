#!/usr/bin/python3
"""A wrong monitor password is reported clearly (per member: the failure
kind "auth" and the server's message; an alert in /status and /health) and
never causes a failover: a server that refuses the login is alive. Client
sessions keep working. The admin endpoint demands its bearer token, and no
password appears in the log, /status or /metrics."""

import os
import unittest

from health_helpers import (CLUSTER, Admin, Stack, insert_once, make_table, util)

WRONG = "not-the-monitor-pass-7f3a"
TOKEN = "admin-token-5c1e9b"


class MonitorAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("health_monitor_auth", monitor={"password": WRONG},
                          admin={"token": TOKEN})
        cls.stack.start()
        make_table(cls.stack)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def test_wrong_password_is_reported_without_failover(self):
        st, admin = self.stack, self.stack.admin
        p, r = st.pair.primary, st.pair.replica

        def reported():
            ms = admin.cluster()["members"]
            return all(m["last_error_kind"] == "auth" and m["probes"] >= 6 for m in ms)
        util.wait_for(reported, 20, what="several refused probes of both members")
        c = admin.cluster()
        for m in c["members"]:
            self.assertEqual(m["state"], "UNKNOWN")
            self.assertIn("Access denied", m["last_error"])
            self.assertEqual(m["probe_failures"], 0)   # refused logins do not count
        self.assertEqual((c["primary"], c["failover"]["total"],
                          c["failover"]["refused_total"]), (p.address, 0, 0))
        self.assertEqual(len(c["alerts"]), 2, c["alerts"])
        self.assertTrue(all("cannot probe" in a for a in c["alerts"]))
        # Sessions still reach the configured primary.
        self.assertEqual(insert_once(st, 1), p.server_id)
        code, body = admin.health()
        self.assertEqual((code, body["status"]), (200, "warning"), body)
        self.assertIn("the monitor cannot probe", st.tandem.log_text())
        self.assertEqual(r.variable("read_only"), "ON")

    def test_admin_token_is_required(self):
        port = self.stack.tandem.admin_port()
        self.assertEqual(Admin(port).request("GET", "/status")[0], 401)
        self.assertEqual(Admin(port, "wrong").request("GET", "/metrics")[0], 401)
        self.assertEqual(Admin(port).post(f"/clusters/{CLUSTER}/switchover")[0], 401)
        self.assertEqual(Admin(port, TOKEN).request("GET", "/health")[0], 200)

    def test_zz_no_secret_leaks(self):
        st = self.stack
        texts = [st.tandem.log_text(), str(st.admin.status()), st.admin.metrics(),
                 str(st.admin.health()[1])]
        for secret in (WRONG, TOKEN, "app-pass", "monitor-pass"):
            for text in texts:
                self.assertNotIn(secret, text)
        self.assertTrue(os.path.exists(st.tandem.config_path))

    def test_zzz_reload_with_the_right_password(self):
        """Fixing the password by a reload: probes log in, members become
        UP, the alerts clear, and nothing fails over."""
        st, admin = self.stack, self.stack.admin
        cfg = st.tandem.config
        cfg["clusters"][CLUSTER]["monitor"]["password"] = "monitor-pass"
        st.tandem.reload(cfg)
        util.wait_for(lambda: all(m["state"] == "UP" for m in admin.cluster()["members"]), 15,
                      what="members UP after the reload")
        c = admin.cluster()
        self.assertEqual(c["alerts"], [])
        self.assertEqual((c["primary"], c["failover"]["total"]),
                         (st.pair.primary.address, 0))
        self.assertEqual(admin.health()[1]["status"], "ok")
        self.assertNotIn("monitor-pass", st.tandem.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
