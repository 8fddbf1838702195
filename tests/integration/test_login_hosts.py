#!/usr/bin/python3
"""Which account a client is, with the server as the oracle: a primary that
resolves names (skip_name_resolve OFF, as a default server and mtr's), a
tenant with users_from_backend, and the same logins directly and through
tandem from 127.0.0.1. The server names that address 'localhost': the
account it picks (CURRENT_USER()) and the text of its 1045 must be the same
through tandem. The accounts are created after tandem loaded its list, as
mysqltest does before it connects (the reload on refusal)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql  # noqa: E402

from harness import clients, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config  # noqa: E402
from reload_common import status  # noqa: E402

ACCOUNTS = [
    "CREATE USER 'loc'@'localhost' IDENTIFIED BY 'loc-pass'",
    "CREATE USER 'nopw'@'localhost'",
    # the anonymous account of localhost: a name without an account of
    # its own, from 127.0.0.1, is this one
    "CREATE USER ''@'localhost'",
    "CREATE USER 'wide'@'%' IDENTIFIED BY 'wide-pass'",
    "GRANT SELECT ON test.* TO 'loc'@'localhost'",
]


def outcome(port, user, password, **kw):
    """CURRENT_USER() after the login, or the error (number, text)."""
    try:
        with clients.connect(port, user=user, password=password, **kw) as c, \
                c.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            return cur.fetchone()[0]
    except pymysql.err.OperationalError as e:
        return e.args


class LoginHostsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("login_hosts")
        args = ["--skip-name-resolve=OFF"]
        cls.pair = MariaDBPair(cls.dir / "pair", primary_args=args, replica_args=args).start()
        cfg = pair_config(cls.pair, tenants=("a",))
        cfg["tenants"]["a"]["users_from_backend"] = True
        cfg["clusters"]["db1"]["failover"] = {"auto": False}
        cls.tandem = TandemProcess(None, cfg, cls.dir / "tandem")
        cls.tandem.start(wait_admin=True)
        util.wait_for(lambda: status(cls.tandem)["backend_accounts"]["db1"]["loaded"], 10,
                      what="the first account load")
        cls.pair.primary.execute_all(ACCOUNTS)
        cls.pair.wait_replica_caught_up(30)

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.pair.primary.execute_all(["DROP USER IF EXISTS ''@'localhost'",
                                      "DROP USER IF EXISTS 'wide'@'%'"])
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def same(self, user, password):
        direct = outcome(self.pair.primary.port, user, password)
        through = outcome(self.tandem.tenant_port("a"), user, password)
        self.assertEqual(through, direct, f"{user!r} with {password!r}")
        return direct

    def test_localhost_accounts_from_loopback(self):
        self.assertEqual(self.same("loc", "loc-pass"), "loc@localhost")
        self.assertEqual(self.same("nopw", ""), "nopw@localhost")

    def test_refusal_names_localhost(self):
        self.assertEqual(self.same("loc", "wrong"),
                         (1045, "Access denied for user 'loc'@'localhost' (using password: YES)"))
        self.assertEqual(self.same("nopw", "x")[0], 1045)

    def test_anonymous_account(self):
        self.assertEqual(self.same("nobody_here", ""), "@localhost")
        # the host ranks first: ''@localhost is picked before wide@'%' for
        # a local client, whose password then does not fit
        self.assertEqual(self.same("wide", ""),
                         "@localhost")
        self.assertEqual(self.same("wide", "wide-pass")[0], 1045)

    def test_other_loopback_address_is_not_localhost(self):
        # 127.0.0.2 is not 'localhost' to the server without DNS: through
        # tandem, loc is refused with that address in the text
        r = outcome(self.tandem.tenant_port("a"), "loc", "loc-pass", bind_address="127.0.0.2")
        self.assertEqual(r, (1045, "Access denied for user 'loc'@'127.0.0.2' "
                                   "(using password: YES)"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
