#!/usr/bin/python3
"""tandem's backend login against MySQL 8 style servers, which MariaDB
cannot be: caching_sha2_password as the server's default plugin, fast
authentication, full authentication RSA-encrypted (with the key the server
sends) or in clear over TLS, native accounts behind a caching_sha2
greeting, a hash-only user that cannot answer caching_sha2, an unknown
plugin, and a server that answers the SSLRequest with garbage.

The servers are fake_mysql8.FakeMySQL8 (the fake-backend exception: a real
server cannot produce these cases here); the clients are real (mariadb CLI,
Connector/C). Each fake answers a query with how that connection logged in.
"""

import os
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_mysql8 import NATIVE, SHA2, FakeMySQL8  # noqa: E402
from harness import certs, clients, util  # noqa: E402
from harness.tandem import TandemProcess, native_password_hash, tenant_config  # noqa: E402

AUTH_CLIENT = os.environ.get("TANDEM_AUTH_CLIENT") or str(
    util.repo_root() / "build" / "tests" / "integration" / "auth_client")

ACCOUNTS = {
    "sha": (SHA2, "sha-pass"),
    "shahash": (SHA2, "sha-pass"),
    "nat": (NATIVE, "nat-pass"),
    "nathash": (NATIVE, "nat-pass"),
    "empty": (SHA2, ""),
    "weird": ("auth_weird", "x"),
}
USERS = {
    "sha": {"password": "sha-pass"},
    "shahash": {"password_hash": native_password_hash("sha-pass")},
    "nat": {"password": "nat-pass"},
    "nathash": {"password_hash": native_password_hash("nat-pass")},
    "empty": {"password": ""},
    "weird": {"password": "x"},
}


class BackendAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("auth_backend")
        cls.ca = certs.make_ca(cls.dir / "pki")
        cls.fakes = {
            "plain": FakeMySQL8(ACCOUNTS).start(),
            "tls": FakeMySQL8(ACCOUNTS, tls_mode="tls",
                              tls_cert=certs.make_cert(cls.ca, cls.dir / "pki", "fake")).start(),
            "garbage": FakeMySQL8(ACCOUNTS, tls_mode="garbage").start(),
        }
        clusters, tenants = {}, {}
        for name, fake in cls.fakes.items():
            clusters[name] = {"primary": fake.address, "replicas": [],
                              "monitor": {"user": "m", "password": "m"},
                              "failover": {"auto": False}}
            if name != "plain":
                clusters[name]["tls"] = {"ca": str(cls.ca.cert)}
            tenants[name] = tenant_config(name, users=USERS)
        cfg = {"admin": {"listen": f"127.0.0.1:{util.free_port()}"}, "workers": 1,
               "clusters": clusters, "tenants": tenants}
        cls.tandem = TandemProcess(None, cfg, cls.dir).start()

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        for f in cls.fakes.values():
            f.stop()
        util.remove_scratch(cls.dir)

    def path_of(self, tenant: str, user: str, password: str, *args: str):
        """How the backend connection authenticated (the fake's answer), or
        the client's error text."""
        r = clients.mariadb_cli(self.tandem.tenant_port(tenant), "SELECT 1", user=user,
                                password=password, extra_args=["--skip-ssl", *args])
        return r.stdout.strip() if r.rc == 0 else r.stderr.strip()

    def test_sha2_full_rsa_then_fast(self):
        fake = self.fakes["plain"]
        fake.cached.discard("sha")
        self.assertEqual(self.path_of("plain", "sha", "sha-pass"), "rsa")
        self.assertEqual(self.path_of("plain", "sha", "sha-pass"), "fast")   # now cached

    def test_sha2_full_in_clear_over_tls(self):
        self.fakes["tls"].cached.discard("sha")
        self.assertEqual(self.path_of("tls", "sha", "sha-pass"), "tls-clear")
        self.assertEqual(self.path_of("tls", "sha", "sha-pass"), "fast")

    def test_native_accounts_behind_sha2_greeting(self):
        self.assertEqual(self.path_of("plain", "nat", "nat-pass"), "native")
        self.assertEqual(self.path_of("plain", "nathash", "nat-pass"), "native")

    def test_hash_only_user_cannot_answer_sha2(self):
        # The greeting mirrors the server's caching_sha2 default, which would
        # make the client send its password (see the next test): a client
        # that answers natively leaves tandem only the hash.
        out = self.path_of("plain", "shahash", "sha-pass",
                           "--default-auth=mysql_native_password")
        self.assertRegex(out, r"^ERROR 1251 \(08004\): tandem: the account 'shahash' on "
                              r"127\.0\.0\.1:\d+ uses caching_sha2_password, which needs its "
                              r"password; tandem knows only its mysql_native_password hash")

    def test_client_full_auth_gives_tandem_the_password(self):
        """The same hash-only user logging in with caching_sha2 full
        authentication hands tandem its password: now the backend's
        caching_sha2 account can be answered."""
        self.fakes["plain"].cached.discard("shahash")
        out = self.path_of("plain", "shahash", "sha-pass",
                           "--default-auth=caching_sha2_password")
        self.assertEqual(out, "rsa")

    def test_empty_password_and_unknown_plugin(self):
        self.assertEqual(self.path_of("plain", "empty", ""), "empty")
        out = self.path_of("plain", "weird", "x")
        self.assertRegex(out, r"^ERROR 1251 \(08004\): tandem: the account 'weird' uses the "
                              r"authentication plugin 'auth_weird'")

    def test_change_user_to_sha2_account(self):
        self.fakes["plain"].cached.discard("sha")
        p = subprocess.run([AUTH_CLIENT, "-P", str(self.tandem.tenant_port("plain")),
                            "-u", "nat", "-p", "nat-pass", "-e", "SELECT 1",
                            "-C", "sha:sha-pass", "-e", "SELECT 1",
                            "-C", "sha:wrong", "-e", "SELECT 1"],
                           capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[:4], ["CONNECTED plain", "native", "CHANGED sha", "rsa"])
        self.assertRegex(lines[4], r"^ERROR 1045 \(28000\)")
        self.assertEqual(lines[5], "rsa")   # still sha: a refused change keeps the session

    def test_garbage_instead_of_tls(self):
        out = self.path_of("garbage", "sha", "sha-pass")
        self.assertRegex(out, r"^ERROR 1429 \(08001\): tandem: TLS to the database server "
                              r"127\.0\.0\.1:\d+ failed: TLS handshake: .+")
        # nothing of the login went out in plaintext
        self.assertNotIn("sha", self.fakes["garbage"].logins)


if __name__ == "__main__":
    unittest.main(verbosity=2)
