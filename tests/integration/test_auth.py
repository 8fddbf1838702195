#!/usr/bin/python3
"""Client authentication through tandem against a real MariaDB pair, with
real clients (mariadb CLI, Connector/C, PyMySQL): every default plugin logs
in; caching_sha2_password fast and full authentication (RSA with a fetched
or a configured public key); COM_CHANGE_USER with its session reset and
its failures; wrong credentials give 1045 / 28000 on every path; malformed
login traffic gets an ERR or a logged close and tandem keeps serving; no
secret reaches the log.

Accounts: app (plaintext in tandem's config), app2 (only its native hash
in tandem's config), ghost (in tandem's config, not on the server). The
Connector/C client is tests/integration/auth_client.c.
"""

import json
import os
import subprocess
import sys
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql  # noqa: E402

from harness import accounts, clients, rawclient, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, native_password_hash, pair_config  # noqa: E402

AUTH_CLIENT = os.environ.get("TANDEM_AUTH_CLIENT") or str(
    util.repo_root() / "build" / "tests" / "integration" / "auth_client")
SHA2 = "caching_sha2_password"
APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
APP2, APP2_PW = "app2", "app2-secret"


def auth_client(port: int, *args: str, user: str = APP, password: str = APP_PW) -> list[str]:
    """Run auth_client; its output lines (errors are lines too)."""
    p = subprocess.run([AUTH_CLIENT, "-P", str(port), "-u", user, "-p", password, *args],
                       capture_output=True, text=True, timeout=60)
    return p.stdout.splitlines()


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("auth")
        cls.pair = MariaDBPair(cls.dir / "pair").start()
        cls.pair.primary.execute_all([
            f"CREATE USER '{APP2}'@'%' IDENTIFIED BY '{APP2_PW}'",
            f"GRANT ALL ON test.* TO '{APP2}'@'%'",
            "CREATE TABLE test.t (id INT PRIMARY KEY)",
        ])
        # An RSA key pair of our own, for the "client has the key" path.
        keys = cls.dir / "keys"
        keys.mkdir()
        cls.rsa_priv, cls.rsa_pub = keys / "rsa.key", keys / "rsa.pub"
        cls.other_pub = keys / "other.pub"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(cls.rsa_priv)], check=True,
                       capture_output=True)
        cls.rsa_priv.chmod(0o600)
        subprocess.run(["openssl", "pkey", "-in", str(cls.rsa_priv), "-pubout", "-out",
                        str(cls.rsa_pub)], check=True, capture_output=True)
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(keys / "other.key")], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(keys / "other.key"), "-pubout", "-out",
                        str(cls.other_pub)], check=True, capture_output=True)

        users = {
            APP: {"password": APP_PW},
            APP2: {"password_hash": native_password_hash(APP2_PW)},
            "ghost": {"password": "ghost-pw"},
        }
        cfg = pair_config(cls.pair, ["t1"], users=users)
        cfg["log_level"] = "debug"   # the tests read which auth path was taken
        cfg["rsa_private_key"] = str(cls.rsa_priv)
        cfg["rsa_public_key"] = str(cls.rsa_pub)
        cls.tandem = TandemProcess(None, cfg, cls.dir).start()
        cls.port = cls.tandem.tenant_port("t1")

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def log_count(self, text: str) -> int:
        return self.tandem.log_text().count(text)

    def assert_denied(self, lines_or_err: str, user: str):
        self.assertRegex(lines_or_err, rf"1045 \(28000\).*Access denied for user '{user}'")

    # -- plugins -------------------------------------------------------------

    def test_native_login_plaintext_and_hash_users(self):
        for user, pw in ((APP, APP_PW), (APP2, APP2_PW)):
            r = clients.mariadb_cli(self.port, "SELECT CURRENT_USER()", user=user, password=pw)
            self.assertEqual((r.rc, r.stdout.strip()), (0, f"{user}@%"), r.stderr)
            bad = clients.mariadb_cli(self.port, "SELECT 1", user=user, password="wrong")
            self.assertEqual(bad.rc, 1)
            self.assert_denied(bad.stderr, user)
        r = clients.mariadb_cli(self.port, "SELECT 1", user="nobody", password="x")
        self.assert_denied(r.stderr, "nobody")

    def test_sha2_fast_auth(self):
        before = self.log_count(f"as '{APP}' on tenant t1 by {SHA2} fast authentication")
        r = clients.mariadb_cli(self.port, "SELECT CURRENT_USER()",
                                extra_args=[f"--default-auth={SHA2}"])
        self.assertEqual((r.rc, r.stdout.strip()), (0, f"{APP}@%"), r.stderr)
        util.wait_for(lambda: self.log_count(
            f"as '{APP}' on tenant t1 by {SHA2} fast authentication") == before + 1, 5)
        # A fast-auth miss goes on to full authentication, then 1045.
        bad = clients.mariadb_cli(self.port, "SELECT 1", password="wrong",
                                  extra_args=[f"--default-auth={SHA2}"])
        self.assert_denied(bad.stderr, APP)

    def test_sha2_full_auth_rsa_fetched_key(self):
        """A hash-only user: tandem has no SHA-256 digest, so it asks for
        full authentication; without TLS Connector/C fetches the public key
        and sends the RSA-encrypted password, which tandem checks against
        SHA1(SHA1(pw)) and then uses to reach the backend."""
        sent = self.log_count("sent its RSA public key")
        out = auth_client(self.port, "-a", SHA2, "-e", "SELECT CURRENT_USER()",
                          user=APP2, password=APP2_PW)
        self.assertEqual(out, ["CONNECTED plain", f"{APP2}@%"])
        self.assertEqual(self.log_count("sent its RSA public key"), sent + 1)
        self.assertIn(f"as '{APP2}' on tenant t1 by {SHA2} full authentication (RSA)",
                      self.tandem.log_text())
        out = auth_client(self.port, "-a", SHA2, user=APP2, password="wrong")
        self.assertEqual(len(out), 1)
        self.assert_denied(out[0], APP2)
        # The mariadb CLI takes the same path with --skip-ssl. With its
        # default --ssl it counts the connection as secure even though this
        # tenant offers no TLS, and sends the password in clear: refused, as
        # a MySQL server refuses it (a plaintext channel is not secure).
        r = clients.mariadb_cli(self.port, "SELECT CURRENT_USER()", user=APP2, password=APP2_PW,
                                extra_args=[f"--default-auth={SHA2}", "--skip-ssl"])
        self.assertEqual((r.rc, r.stdout.strip()), (0, f"{APP2}@%"), r.stderr)
        r = clients.mariadb_cli(self.port, "SELECT 1", user=APP2, password=APP2_PW,
                                extra_args=[f"--default-auth={SHA2}"])
        self.assert_denied(r.stderr, APP2)

    def test_sha2_full_auth_rsa_configured_key(self):
        """The client holds tandem's configured public key
        (MYSQL_SERVER_PUBLIC_KEY): no key request; with a different key
        file the blob cannot be decrypted and the login is denied."""
        sent = self.log_count("sent its RSA public key")
        out = auth_client(self.port, "-a", SHA2, "-k", str(self.rsa_pub),
                          "-e", "SELECT CURRENT_USER()", user=APP2, password=APP2_PW)
        self.assertEqual(out, ["CONNECTED plain", f"{APP2}@%"])
        self.assertEqual(self.log_count("sent its RSA public key"), sent)
        out = auth_client(self.port, "-a", SHA2, "-k", str(self.other_pub),
                          user=APP2, password=APP2_PW)
        self.assertEqual(len(out), 1)
        self.assert_denied(out[0], APP2)

    def test_pymysql(self):
        with clients.connect(self.port, user=APP2, password=APP2_PW, database="test") as c:
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER(), DATABASE()")
                self.assertEqual(cur.fetchall(), ((f"{APP2}@%", "test"),))
            c.select_db("test")     # COM_INIT_DB after a hash-only login
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            clients.connect(self.port, user=APP, password="wrong")
        self.assertEqual(cm.exception.args[0], 1045)

    # -- COM_CHANGE_USER -----------------------------------------------------

    def test_change_user_resets_session(self):
        out = auth_client(
            self.port,
            "-e", "SET @v = 42",
            "-e", "BEGIN", "-e", "INSERT INTO test.t VALUES (1)",
            "-e", "SELECT CURRENT_USER(), @v, DATABASE(), @@in_transaction",
            "-C", f"{APP2}:{APP2_PW}:test",
            "-e", "SELECT CURRENT_USER(), @v, DATABASE(), @@in_transaction",
            "-e", "SELECT COUNT(*) FROM test.t",
            "-C", f"{APP}:{APP_PW}",
            "-e", "SELECT CURRENT_USER(), DATABASE()")
        self.assertEqual(out, [
            "CONNECTED plain",
            f"{APP}@%\t42\tNULL\t1",
            f"CHANGED {APP2}",
            f"{APP2}@%\tNULL\ttest\t0",     # variables gone, transaction rolled back
            "0",
            f"CHANGED {APP}",
            f"{APP}@%\tNULL",
        ])

    def test_change_user_resets_facts_and_tracking(self):
        """tandem's view of the session (GET /sessions) starts afresh after
        COM_CHANGE_USER, and session tracking, which the server dropped with
        the rest of the session, is on again: a variable set afterwards shows."""
        with subprocess.Popen(
            [AUTH_CLIENT, "-P", str(self.port), "-u", APP, "-p", APP_PW,
             "-e", "SET @v = 1", "-e", "SET time_zone = '+02:00'", "-W",
             "-C", f"{APP2}:{APP2_PW}:test", "-e", "SET time_zone = '+03:00'", "-W"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
            self.run_change_user_facts(p)

    def run_change_user_facts(self, p):
        try:
            def mine():
                line = p.stdout.readline().strip()
                while line != "WAITING":
                    self.assertNotIn("ERROR", line)
                    line = p.stdout.readline().strip()
                with urllib.request.urlopen(f"http://127.0.0.1:{self.tandem.admin_port()}"
                                            "/sessions", timeout=10) as r:
                    sessions = json.load(r)["sessions"]
                return [x for x in sessions if x["tenant"] == "t1" and x["state"] == "idle"
                        and x["user"] in (APP, APP2)]

            self.assertEqual(p.stdout.readline().split()[0], "CONNECTED")
            before = mine()
            self.assertEqual(len(before), 1, before)
            self.assertEqual(before[0]["user"], APP)
            self.assertIn("user_vars", before[0]["facts"]["markers"])
            self.assertEqual(before[0]["facts"]["variables"].get("time_zone"), "+02:00")
            p.stdin.write("\n")
            p.stdin.flush()
            after = mine()
            self.assertEqual(len(after), 1, after)
            self.assertEqual(after[0]["user"], APP2)
            self.assertEqual(after[0]["facts"]["schema"], "test")
            self.assertNotIn("user_vars", after[0]["facts"]["markers"])
            self.assertEqual(after[0]["facts"]["variables"].get("time_zone"), "+03:00")
            self.assertTrue(after[0]["facts"]["tracking"])
            p.stdin.write("\n")
            p.stdin.flush()
            self.assertEqual(p.wait(30), 0)
        finally:
            if p.poll() is None:
                p.kill()

    def test_change_user_sha2(self):
        """With caching_sha2 as the client's plugin: fast auth for app,
        full authentication (RSA) for the hash-only app2, mid-session."""
        out = auth_client(self.port, "-a", SHA2, "-C", f"{APP2}:{APP2_PW}",
                          "-e", "SELECT CURRENT_USER()", "-C", f"{APP}:{APP_PW}",
                          "-e", "SELECT CURRENT_USER()")
        self.assertEqual(out, ["CONNECTED plain", f"CHANGED {APP2}", f"{APP2}@%",
                               f"CHANGED {APP}", f"{APP}@%"])

    def test_change_user_failure_keeps_the_session(self):
        """As the server does: a refused COM_CHANGE_USER gets 1045 and the
        session goes on as the previous user; the 4th failure on one
        connection gets 1047 at once (MDEV-3915)."""
        # the server resets the session before it checks the new user, and
        # it stays reset: the variable is gone, the user is the previous one
        for spec, user in ((f"{APP2}:wrong", APP2), ("nobody:x", "nobody")):
            out = auth_client(self.port, "-e", "SELECT @v := 7", "-C", spec,
                              "-e", "SELECT CURRENT_USER(), @v")
            self.assertEqual(out[:2], ["CONNECTED plain", "7"])
            self.assert_denied(out[2], user)
            self.assertEqual(out[3], f"{APP}@%\tNULL")
        # tandem knows ghost; the server does not: its ERR comes through,
        # and the server kept the session (reset) as the previous user
        out = auth_client(self.port, "-e", "SELECT @v := 7", "-C", "ghost:ghost-pw",
                          "-e", "SELECT CURRENT_USER(), @v")
        self.assertRegex(out[2], r"^ERROR 1045 \(28000\): Access denied for user 'ghost'")
        self.assertEqual(out[3], f"{APP}@%\tNULL")
        out = auth_client(self.port, "-C", f"{APP2}:wrong", "-C", "nobody:x",
                          "-C", f"{APP2}:{APP2_PW}", "-C", "ghost:ghost-pw",
                          "-C", f"{APP}:{APP_PW}", "-e", "SELECT CURRENT_USER()")
        self.assert_denied(out[1], APP2)
        self.assert_denied(out[2], "nobody")
        self.assertEqual(out[3], f"CHANGED {APP2}")     # a success does not reset the count
        self.assertRegex(out[4], r"^ERROR 1045 ")
        self.assertEqual(out[5], "ERROR 1047 (08S01): Unknown command")
        self.assertEqual(out[6], f"{APP2}@%")

    # -- malformed traffic ---------------------------------------------------

    def assert_still_serving(self):
        r = clients.mariadb_cli(self.port, "SELECT 1")
        self.assertEqual((r.rc, r.stdout.strip()), (0, "1"), r.stderr)

    def raw_err(self, c: rawclient.RawClient) -> tuple[int, str, str]:
        _, p = c.read_packet()
        return rawclient.parse_err(p)

    def test_truncated_and_garbage_logins(self):
        cases = [
            b"\x0f\x02\x00",                                   # 3 bytes: truncated head
            rawclient.RawClient.response_head(rawclient.BASE_CAPS) + b"app",   # user without NUL
            rawclient.RawClient.response_head(rawclient.BASE_CAPS) + b"app\0\x30ab",  # auth runs past
            rawclient.RawClient.response_head(0) + b"app\0",    # pre-4.1 client
            b"\xff" * 200,                                      # every flag, no NUL anywhere
        ]
        for payload in cases:
            with rawclient.RawClient(self.port) as c:
                c.read_greeting()
                c.send_packet(1, payload)
                code, state, msg = self.raw_err(c)
                self.assertEqual((code, state), (1043, "08S01"), (payload[:40], msg))
                self.assertTrue(c.wait_closed(5))
        self.assert_still_serving()

    def test_out_of_order_and_oversized(self):
        with rawclient.RawClient(self.port) as c:
            c.read_greeting()
            c.send_packet(5, c.login_packet(APP, b"", "mysql_native_password"))
            self.assertEqual(self.raw_err(c)[:2], (1043, "08S01"))
        with rawclient.RawClient(self.port) as c:
            c.read_greeting()
            c.send_raw(b"\xff\xff\x0f\x01")    # announces 1 MiB before login
            code, _, msg = self.raw_err(c)
            self.assertEqual(code, 1043)
            self.assertIn("too large", msg)
        self.assert_still_serving()

    def test_wrong_length_auth_switch_reply(self):
        """An unknown plugin is switched to mysql_native_password; a reply
        that is not 20 bytes (or garbage of 20) is a wrong password."""
        for reply in (b"\x01\x02\x03\x04\x05", os.urandom(20), os.urandom(300)):
            with rawclient.RawClient(self.port) as c:
                scramble = c.read_greeting()
                c.send_packet(1, c.login_packet(APP, b"\x01\x02", "dialog"))
                seq, p = c.read_packet()
                self.assertEqual((seq, p[:1]), (2, b"\xfe"))
                self.assertTrue(p.startswith(b"\xfemysql_native_password\0" + scramble))
                c.send_packet(3, reply)
                self.assertEqual(self.raw_err(c)[:2], (1045, "28000"))
        # and the right reply after the switch logs in
        with rawclient.RawClient(self.port) as c:
            scramble = c.read_greeting()
            c.send_packet(1, c.login_packet(APP, b"", "dialog"))
            c.read_packet()
            c.send_packet(3, rawclient.native_reply(APP_PW, scramble))
            seq, p = c.read_packet()
            self.assertEqual((seq, p[:1]), (4, b"\x00"))
        self.assert_still_serving()

    def raw_login(self) -> tuple[rawclient.RawClient, bytes]:
        c = rawclient.RawClient(self.port)
        scramble = c.read_greeting()
        c.send_packet(1, c.login_packet(APP, rawclient.native_reply(APP_PW, scramble),
                                        "mysql_native_password"))
        seq, p = c.read_packet()
        self.assertEqual((seq, p[:1]), (2, b"\x00"))
        return c, scramble

    def test_malformed_change_user(self):
        """COM_CHANGE_USER that does not parse gets 1043 and ends the
        session; one whose reply has the wrong length (or is garbage) gets
        the auth switch the server sends, then 1045 for a wrong answer, and
        the session goes on as the previous user."""
        for payload in (b"\x11app2",                                  # user without NUL
                        b"\x11app2\0\x30abc"):                         # auth runs past the end
            c, _ = self.raw_login()
            with c:
                c.send_packet(0, payload)
                seq, p = c.read_packet()
                self.assertEqual(seq, 1)
                self.assertEqual(rawclient.parse_err(p)[0], 1043, payload[:12])
                self.assertTrue(c.wait_closed(5))
        for payload in (b"\x11app2\0\x05abcde\0",                      # 5-byte native reply
                        b"\x11app2\0\x14" + os.urandom(20)
                        + b"test\0\x2d\0mysql_native_password\0"):
            c, scramble = self.raw_login()
            with c:
                c.send_packet(0, payload)
                seq, p = c.read_packet()
                self.assertEqual(seq, 1)
                # the server's auth switch carries the greeting's scramble
                self.assertEqual(p, b"\xfemysql_native_password\0" + scramble + b"\0")
                c.send_packet(2, os.urandom(20))
                seq, p = c.read_packet()
                self.assertEqual(seq, 3)
                self.assertEqual(rawclient.parse_err(p)[0], 1045, payload[:12])
                c.send_packet(0, b"\x0e")                               # COM_PING
                self.assertEqual(c.read_packet()[1][:1], b"\x00")
        # and a well-formed one succeeds, with the right sequence ids
        c, scramble = self.raw_login()
        with c:
            c.send_packet(0, b"\x11" + APP2.encode() + b"\0\x14"
                          + rawclient.native_reply(APP2_PW, scramble)
                          + b"test\0\x2d\0mysql_native_password\0")
            seq, p = c.read_packet()
            self.assertEqual((seq, p), (1, b"\xfemysql_native_password\0" + scramble + b"\0"))
            c.send_packet(2, rawclient.native_reply(APP2_PW, scramble))
            seq, p = c.read_packet()
            self.assertEqual((seq, p[:1]), (3, b"\x00"), p)
        self.assert_still_serving()

    def test_sha2_full_auth_garbage(self):
        """After 0x04 (full auth, no TLS): a truncated key request, a blob of
        garbage, an empty packet — all 1045, never a crash."""
        for blob in (b"", os.urandom(256), os.urandom(17), b"\x02\x02"):
            with rawclient.RawClient(self.port) as c:
                scramble = c.read_greeting()
                c.send_packet(1, c.login_packet(APP2, rawclient.sha2_reply("x", scramble), SHA2))
                seq, p = c.read_packet()
                self.assertEqual((seq, p), (2, b"\x01\x04"))
                c.send_packet(3, blob)
                self.assertEqual(self.raw_err(c)[:2], (1045, "28000"), blob[:8])
        self.assert_still_serving()

    def test_unknown_user_looks_like_a_wrong_password(self):
        """caching_sha2 for a user tandem does not know takes the same steps
        as a wrong password (full authentication, the public key on request)
        and only then gets 1045: the conversation reveals no user names."""
        for user in ("nobody", APP):
            with rawclient.RawClient(self.port) as c:
                scramble = c.read_greeting()
                c.send_packet(1, c.login_packet(user, rawclient.sha2_reply("bad", scramble), SHA2))
                self.assertEqual(c.read_packet(), (2, b"\x01\x04"), user)
                c.send_packet(3, b"\x02")
                seq, p = c.read_packet()
                self.assertEqual((seq, p[:27]), (4, b"\x01-----BEGIN PUBLIC KEY-----"))
                c.send_packet(5, os.urandom(256))
                self.assertEqual(self.raw_err(c)[:2], (1045, "28000"))
            # the "let us talk" packet (empty caching_sha2 data) is switched alike
            with rawclient.RawClient(self.port) as c:
                scramble = c.read_greeting()
                c.send_packet(1, c.login_packet(user, b"", SHA2))
                seq, p = c.read_packet()
                self.assertEqual((seq, p), (2, b"\xfe" + SHA2.encode() + b"\0" + scramble + b"\0"))

    def test_stalled_login_times_out(self):
        """A client that stops half-way gets the auth timeout's ERR."""
        cfg = dict(self.tandem.config)
        cfg["limits"] = {"auth_timeout_ms": 500}
        cfg["tenants"] = {"t1": dict(cfg["tenants"]["t1"], listen=f"127.0.0.1:{util.free_port()}")}
        cfg["admin"] = {"listen": f"127.0.0.1:{util.free_port()}"}
        with TandemProcess(None, cfg, self.dir, name="stall") as t:
            with rawclient.RawClient(t.tenant_port("t1")) as c:
                c.read_greeting()
                c.send_raw(b"\x40\x00\x00\x01" + b"\x0f")   # 1 of 64 bytes
                code, state, msg = self.raw_err(c)
                self.assertEqual((code, state), (1043, "08S01"))
                self.assertIn("timed out", msg)

    # -- secrets -------------------------------------------------------------

    def test_secrets_never_logged(self):
        auth_client(self.port, "-a", SHA2, user=APP2, password=APP2_PW)
        auth_client(self.port, "-C", f"{APP2}:{APP2_PW}", "-C", f"{APP}:wrong")
        clients.mariadb_cli(self.port, "SELECT 1", password="wrong")
        log = self.tandem.log_text()
        for secret in (APP_PW, APP2_PW, "ghost-pw", native_password_hash(APP2_PW)[1:],
                       native_password_hash(APP_PW)[1:]):
            self.assertNotIn(secret, log)
            self.assertNotIn(secret.lower(), log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
