#!/usr/bin/python3
"""users_from_backend against a real pair: accounts created with GRANT on
the primary log in through tandem with their own passwords, host patterns
are matched as the server would (most specific first, %, _, netmask,
localhost never over TCP), name patterns limit which accounts a tenant
takes, explicit config users win, a user created after start-up is picked
up on demand, a changed password by the periodic refresh, a failed load
keeps the last good list, and accounts tandem cannot use are listed in
/status without their hashes."""

import copy
import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from harness import accounts, clients, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, native_password_hash, pair_config  # noqa: E402
from reload_common import reload_and_wait, status, stop_cleanly  # noqa: E402

ACCOUNTS = [
    ("dave", "%", "dave-pass"),
    ("erin", "127.0.0.1", "erin-local"),
    ("erin", "%", "erin-any"),
    ("frank", "10.%", "frank-pass"),
    ("gina", "127.0.0.0/255.0.0.0", "gina-pass"),
    ("hal", "127.0.0._", "hal-pass"),
    ("ivy", "localhost", "ivy-pass"),
    ("outsider", "%", "outsider-pass"),
]


def login_error(port, user, password):
    """None if user logs in and runs a query, else the MySQL error number."""
    try:
        with clients.connect(port, user=user, password=password) as c, c.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            cur.fetchone()
    except pymysql.err.OperationalError as e:
        return e.args[0]
    return None


class BackendUsersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("backend_users")
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()
        stmts = []
        for user, host, pw in ACCOUNTS:
            stmts += [f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{pw}'",
                      f"GRANT SELECT ON test.* TO '{user}'@'{host}'"]
        stmts += ["CREATE USER 'sock'@'%' IDENTIFIED VIA unix_socket"]
        cls.pair.primary.execute_all(stmts)
        cls.pair.wait_replica_caught_up(30)

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def start(self, name, refresh_ms=600000):
        cfg = pair_config(self.pair, tenants=("a",))
        t_cfg = cfg["tenants"]["a"]
        # app is explicit; dave explicit with another password (explicit wins)
        t_cfg["users"] = {accounts.APP_USER: {"password": accounts.APP_PASSWORD},
                          "dave": {"password_hash": native_password_hash("config-pass")}}
        t_cfg["users_from_backend"] = ["d%", "e%", "f%", "g%", "h%", "i%", "n%", "s%"]
        cfg["clusters"]["db1"]["accounts"] = {"refresh_ms": refresh_ms, "min_refresh_ms": 200}
        cfg["clusters"]["db1"]["failover"] = {"auto": False}
        t = TandemProcess(None, cfg, self.dir / name)
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        util.wait_for(lambda: status(t)["backend_accounts"]["db1"]["loaded"], 10,
                      what="the first account load")
        return t, cfg

    def test_logins_follow_the_server_rules(self):
        t, _ = self.start("rules")
        port = t.tenant_port("a")
        self.assertIsNone(login_error(port, accounts.APP_USER, accounts.APP_PASSWORD))
        # most specific host first: erin@127.0.0.1, not erin@%
        self.assertIsNone(login_error(port, "erin", "erin-local"))
        self.assertEqual(login_error(port, "erin", "erin-any"), 1045)
        self.assertEqual(login_error(port, "frank", "frank-pass"), 1045)   # 10.% only
        self.assertIsNone(login_error(port, "gina", "gina-pass"))          # netmask
        self.assertIsNone(login_error(port, "hal", "hal-pass"))            # _ wildcard
        self.assertEqual(login_error(port, "ivy", "ivy-pass"), 1045)       # localhost: not TCP
        self.assertEqual(login_error(port, "outsider", "outsider-pass"), 1045)  # not in patterns
        # the explicit entry wins over the backend's account
        self.assertEqual(login_error(port, "dave", "dave-pass"), 1045)
        self.assertEqual(login_error(port, "erin", "wrong"), 1045)
        # what the backend saw: erin logged in as herself, from 127.0.0.1
        with clients.connect(port, user="erin", password="erin-local") as c, c.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            self.assertEqual(cur.fetchone()[0], "erin@127.0.0.1")

    def test_status_lists_unusable_without_hashes(self):
        t, _ = self.start("status")
        acc = status(t)["backend_accounts"]["db1"]
        self.assertEqual(acc["source"], self.pair.primary.address)
        self.assertEqual(acc["last_error"], "")
        unusable = {(u["user"], u["host"]): u for u in acc["unusable"]}
        self.assertIn(("sock", "%"), unusable)
        self.assertEqual(unusable[("sock", "%")]["plugin"], "unix_socket")
        self.assertIn("not mysql_native_password", unusable[("sock", "%")]["reason"])
        self.assertGreaterEqual(acc["usable"], len(ACCOUNTS))
        text = json.dumps(status(t))
        for _, _, pw in ACCOUNTS:
            self.assertNotIn(native_password_hash(pw), text)
            self.assertNotIn(native_password_hash(pw)[1:].lower(), text)
        self.assertNotIn("dave-pass", t.log_text())

    def test_new_user_on_demand_and_password_change_on_refresh(self):
        t, cfg = self.start("refresh")
        port = t.tenant_port("a")
        loads = status(t)["backend_accounts"]["db1"]["loads"]
        self.pair.primary.execute_all(["CREATE USER 'newbie'@'%' IDENTIFIED BY 'newbie-pass'",
                                       "GRANT SELECT ON test.* TO 'newbie'@'%'"])
        # The first attempt finds no such user and asks for a reload; a
        # retry moments later logs in. No periodic load happens meanwhile
        # (refresh_ms is 10 minutes).
        util.wait_for(lambda: login_error(port, "newbie", "newbie-pass") is None, 10,
                      what="newbie to log in")
        self.assertGreater(status(t)["backend_accounts"]["db1"]["loads"], loads)
        # periodic refresh (made 1 s by a reload) picks up a new password
        c = copy.deepcopy(cfg)
        c["clusters"]["db1"]["accounts"]["refresh_ms"] = 1000
        self.assertEqual(reload_and_wait(t, c)["last_error"], "")
        self.pair.primary.sql("ALTER USER 'gina'@'127.0.0.0/255.0.0.0' IDENTIFIED BY 'gina-2'")
        util.wait_for(lambda: login_error(port, "gina", "gina-2") is None, 10,
                      what="gina's new password")
        self.assertEqual(login_error(port, "gina", "gina-pass"), 1045)

    def test_failed_load_keeps_last_good_list(self):
        t, cfg = self.start("keep", refresh_ms=1000)
        port = t.tenant_port("a")
        before = status(t)["backend_accounts"]["db1"]
        for s in self.pair.servers:
            s.sigstop()
        try:
            st = util.wait_for(lambda: (lambda a: a if a["load_failures"] > 0 else None)(
                status(t)["backend_accounts"]["db1"]), 20, what="a failed load")
        finally:
            for s in self.pair.servers:
                s.sigcont()
        self.assertTrue(st["loaded"])
        self.assertNotEqual(st["last_error"], "")
        self.assertEqual(st["accounts"], before["accounts"])
        # the last good list still serves logins
        self.assertIsNone(login_error(port, "hal", "hal-pass"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
