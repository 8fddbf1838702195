#!/usr/bin/python3
"""Tenant isolation, against a real MariaDB pair and real clients:

- a source outside a tenant's allowlist gets EOF before a single byte
  (no greeting), and is counted in /metrics;
- tenant A's user cannot log in on tenant B's port (1045 / 28000), even
  though the account exists on the shared backend;
- a plaintext login on a tenant that requires TLS gets 3159 (HY000);
- the failed-login throttle: N failures from one source on one tenant's
  port block that source there (1129 / HY000 in place of the greeting),
  not other sources, not other tenants; a success clears the count;
  garbage logins count too; the block lifts after auth_block_ms; metrics
  and the log say so;
- users_from_backend accepts neither a role nor a locked account at
  tandem (1045 from tandem itself, listed as unusable in /status);
- the admin endpoint with a token answers 401 on every path and method
  without the right token; a non-loopback admin address without a token is
  refused by --check and at start-up.

Clients pick their loopback source address (127.0.0.x), so per-source
behaviour is tested for real.
"""

import json
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import accounts, certs, clients, rawclient, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemFailed, TandemProcess, pair_config, tenant_config  # noqa: E402
import security_common as sc  # noqa: E402

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
BOB, BOB_PW = "bob", "bob-Secret-77"
TOKEN = "adm-Token-5f1c0e9b7d"


class IsolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("sec-iso")
        cls.pair = MariaDBPair(cls.dir / "pair").start()
        # bob exists on the shared backend: only tandem's config keeps him
        # off tenant A's port.
        cls.pair.primary.execute_all([
            f"CREATE USER '{BOB}'@'%' IDENTIFIED BY '{BOB_PW}'",
            f"GRANT ALL ON test.* TO '{BOB}'@'%'",
            "CREATE ROLE staff",
            "CREATE USER 'locked'@'%' IDENTIFIED BY 'locked-pw' ACCOUNT LOCK",
        ])
        ca = cls.ca = certs.make_ca(cls.dir / "certs")
        srv = certs.make_cert(ca, cls.dir / "certs", "tandem")
        cfg = pair_config(cls.pair, ["a", "b", "walled", "tlsreq", "thr", "fromdb"],
                          workers=1)
        sc.no_failover(cfg)
        cfg["tenants"]["fromdb"]["users"] = {}
        cfg["tenants"]["fromdb"]["users_from_backend"] = True
        cfg["tenants"]["b"]["users"] = {BOB: {"password": BOB_PW}}
        cfg["tenants"]["walled"]["allow"] = ["127.0.0.2/32", "10.0.0.0/8"]
        cfg["tenants"]["tlsreq"]["tls"] = {"cert": str(srv.cert), "key": str(srv.key),
                                           "require": True}
        cfg["admin"]["token"] = TOKEN
        cfg["limits"] = {"max_auth_failures": 3, "auth_block_ms": 5000,
                         "auth_failure_window_ms": 60000}
        cls.tandem = TandemProcess(None, cfg, cls.dir).start()

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def port(self, tenant):
        return self.tandem.tenant_port(tenant)

    def metric(self, name, tenant):
        return sc.tenant_metric(self.tandem, name, tenant, TOKEN)

    def tearDown(self):
        sc.assert_alive(self, self.tandem)

    # -- allowlist ---------------------------------------------------------------

    def test_allowlist_refuses_before_any_byte(self):
        before = self.metric("tandem_sessions_refused_total", "walled")
        with rawclient.RawClient(self.port("walled"), source="127.0.0.1") as c:
            c.sock.settimeout(10)
            try:
                data = c.sock.recv(100)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"", "a refused source got bytes")
        # At least this refusal is counted. One CI run counted a second refused
        # connection in the same window (its source not found), so the counter
        # is awaited to grow, not compared exactly.
        util.wait_for(lambda: self.metric("tandem_sessions_refused_total", "walled") >= before + 1,
                      10, what="the refusal to be counted")
        # an allowed source gets a greeting and logs in
        c = sc.raw_login(self.port("walled"), source="127.0.0.2")
        c.close()

    # -- users of another tenant -------------------------------------------------

    def test_other_tenants_user_is_denied(self):
        r = clients.mariadb_cli(self.port("a"), "SELECT 1", user=BOB, password=BOB_PW)
        self.assertFalse(r.ok)
        self.assertIn("ERROR 1045 (28000)", r.stderr)
        self.assertIn(f"Access denied for user '{BOB}'", r.stderr)
        r = clients.mariadb_cli(self.port("b"), "SELECT 1", user=APP, password=APP_PW)
        self.assertIn("ERROR 1045 (28000)", r.stderr)
        # each on its own port works
        self.assertEqual(clients.mariadb_cli(self.port("b"), "SELECT CURRENT_USER()", user=BOB,
                                             password=BOB_PW).stdout.strip(), f"{BOB}@%")
        self.assertTrue(clients.mariadb_cli(self.port("a"), "SELECT 1").ok)

    # -- TLS required ------------------------------------------------------------

    def test_plaintext_refused_when_tls_required(self):
        r = clients.mariadb_cli(self.port("tlsreq"), "SELECT 1", extra_args=["--skip-ssl"])
        self.assertFalse(r.ok)
        self.assertIn("ERROR 3159 (HY000)", r.stderr)
        # raw: a login packet with credentials as the first packet
        with rawclient.RawClient(self.port("tlsreq"), source="127.0.0.3") as c:
            scramble = c.read_greeting()
            c.send_packet(1, c.login_packet(APP, rawclient.native_reply(APP_PW, scramble),
                                            "mysql_native_password"))
            seq, code, state, msg = sc.read_err(c)
            self.assertEqual((seq, code, state), (2, 3159, "HY000"), msg)
            self.assertTrue(c.wait_closed(5))
        # with TLS the same login works
        r = clients.mariadb_cli(self.port("tlsreq"), "SELECT 1",
                                extra_args=["--ssl", f"--ssl-ca={self.ca.cert}"])
        self.assertTrue(r.ok, r.stderr)

    # -- failed-login throttle ---------------------------------------------------

    def attempt(self, source, password=APP_PW, tenant="thr"):
        c, seq, p = sc.raw_attempt(self.port(tenant), APP, password, source=source)
        c.close()
        return seq, p

    def assert_denied(self, source, tenant="thr"):
        seq, p = self.attempt(source, "wrong-guess", tenant)
        self.assertEqual(rawclient.parse_err(p)[:2], (1045, "28000"))

    def assert_logs_in(self, source, tenant="thr"):
        seq, p = self.attempt(source, APP_PW, tenant)
        self.assertEqual((seq, p[:1]), (2, b"\x00"), p[:80])

    def test_throttle_blocks_a_source_after_failures(self):
        before = self.metric("tandem_auth_throttled_total", "thr")
        for _ in range(3):
            self.assert_denied("127.0.0.5")
        # now even the right password gets 1129 where the greeting would be
        c, seq, p = sc.raw_attempt(self.port("thr"), APP, APP_PW, source="127.0.0.5")
        with c:
            code, state, msg = rawclient.parse_err(p)
            self.assertEqual((seq, code, state), (0, 1129, "HY000"))
            self.assertIn("Host '127.0.0.5' is blocked because of many connection errors", msg)
            self.assertTrue(c.wait_closed(5))
        self.assertEqual(self.metric("tandem_auth_throttled_total", "thr"), before + 1)
        text = sc.metrics_text(self.tandem, TOKEN)
        self.assertGreaterEqual(sc.metric(text, "tandem_auth_blocked_sources"), 1)
        self.assertIn("tenant thr: source 127.0.0.5 blocked for 5000 ms after 3 failed logins",
                      self.tandem.log_text())
        self.assertEqual(sc.status(self.tandem, TOKEN)["tenants"]["thr"]["auth_throttled"],
                         before + 1)
        # another source on the same port, and the same source on another port
        self.assert_logs_in("127.0.0.6")
        self.assert_logs_in("127.0.0.5", tenant="a")
        # the block lifts after auth_block_ms
        util.wait_for(lambda: self.attempt("127.0.0.5")[1][:1] == b"\x00", 30,
                      what="the block to lift")

    def test_throttle_success_clears_the_count(self):
        for _ in range(2):
            self.assert_denied("127.0.0.7")
        self.assert_logs_in("127.0.0.7")
        for _ in range(2):
            self.assert_denied("127.0.0.7")
        self.assert_logs_in("127.0.0.7")

    def test_throttle_counts_garbage_logins(self):
        for _ in range(3):
            with rawclient.RawClient(self.port("thr"), source="127.0.0.8") as c:
                c.read_greeting()
                c.send_packet(1, b"\xff" * 64)
                self.assertEqual(sc.read_err(c)[1:3], (1043, "08S01"))
        seq, p = self.attempt("127.0.0.8")
        self.assertEqual((seq, rawclient.parse_err(p)[0]), (0, 1129))

    # -- accounts from the backend -----------------------------------------------

    def test_backend_roles_and_locked_accounts_are_not_users(self):
        util.wait_for(lambda: sc.status(self.tandem, TOKEN)["backend_accounts"]["db1"]["loaded"],
                      20, what="the account list")
        unusable = {u["user"]: u["reason"] for u in
                    sc.status(self.tandem, TOKEN)["backend_accounts"]["db1"]["unusable"]}
        self.assertEqual(unusable.get("locked"), "account is locked", unusable)
        self.assertNotIn("staff", json.dumps(sc.status(self.tandem, TOKEN)["backend_accounts"]))
        before = self.metric("tandem_auth_failures_total", "fromdb")
        backend_before = self.metric("tandem_backend_errors_total", "fromdb")
        for user, pw in (("staff", ""), ("locked", "locked-pw")):
            c, seq, p = sc.raw_attempt(self.port("fromdb"), user, pw, source="127.0.0.9")
            c.close()
            code, state, msg = rawclient.parse_err(p)
            self.assertEqual((code, state), (1045, "28000"), msg)
        # tandem itself refused them: the backend never saw the logins
        self.assertEqual(self.metric("tandem_auth_failures_total", "fromdb"), before + 2)
        self.assertEqual(self.metric("tandem_backend_errors_total", "fromdb"), backend_before)
        self.assertTrue(clients.mariadb_cli(self.port("fromdb"), "SELECT 1", user=BOB,
                                            password=BOB_PW).ok)

    # -- admin endpoint ----------------------------------------------------------

    def test_admin_needs_the_token_everywhere(self):
        port = self.tandem.admin_port()
        paths = ["/health", "/status", "/metrics", "/sessions", "/nope", "/status?x=1"]
        for path in paths:
            for tok in (None, "", "wrong", TOKEN + "x", TOKEN[:-1], TOKEN.upper()):
                code, body = sc.admin_get(port, path, tok)
                self.assertEqual(code, 401, (path, tok))
                self.assertNotIn("tenants", body)
            code, _ = sc.admin_get(port, "/clusters/db1/switchover", None, method="POST")
            self.assertEqual(code, 401)
        # a token sent without the Bearer scheme is no token
        import urllib.request
        import urllib.error
        req = urllib.request.Request(f"http://127.0.0.1:{port}/status")
        req.add_header("Authorization", TOKEN)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(cm.exception.code, 401)
        for path in ("/health", "/status", "/metrics", "/sessions"):
            code, _ = sc.admin_get(port, path, TOKEN)
            self.assertIn(code, (200, 503), path)   # /health may say "degraded"
        self.assertEqual(sc.admin_get(port, "/nope", TOKEN)[0], 404)

    def test_admin_off_loopback_needs_a_token(self):
        cfg = json.loads(json.dumps(self.tandem.config))
        cfg["admin"] = {"listen": f"0.0.0.0:{util.free_port()}"}
        for t in cfg["tenants"].values():
            t["listen"] = f"127.0.0.1:{util.free_port()}"
        path = self.dir / "offloop.json"
        path.write_text(json.dumps(cfg))
        p = subprocess.run([self.tandem.binary, "--check", "-c", str(path)],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("$.admin.token: required", p.stderr)
        with self.assertRaises(TandemFailed):
            TandemProcess(None, cfg, self.dir, name="offloop").start(timeout=20)
        # with a token it starts
        cfg["admin"]["token"] = TOKEN
        with TandemProcess(None, cfg, self.dir, name="offloop-ok") as t:
            self.assertEqual(sc.admin_get(t.admin_port(), "/status")[0], 401)
            self.assertEqual(sc.admin_get(t.admin_port(), "/status", TOKEN)[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
