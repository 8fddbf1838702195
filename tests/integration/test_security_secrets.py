#!/usr/bin/python3
"""No secret in anything tandem produces.

One tandem at log level debug uses every secret-bearing feature: users
with a plaintext password (inline and from a file), a hash-only user,
users loaded from the backend (a usable one and a locked one, whose hash
/status must not show), the monitor's password from a file, the admin
token from a file, a configured RSA key for caching_sha2, TLS towards
clients; logins by mysql_native_password, caching_sha2 fast auth, full
auth with RSA and in clear over TLS, COM_CHANGE_USER, wrong passwords,
a raw login whose scrambled reply is recorded, and a password change in
SQL through tandem. Then everything tandem produced is searched: its log,
/status, /metrics, /sessions (while sessions of every kind are open) and
every error message a client received. Searched for: each password
(right, wrong and rotated), each mysql_native_password hash and SHA1 of
each password in hex (either case), the admin token, the private key
bodies, and the client's scrambled reply in hex.
"""

import base64
import hashlib
import os
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import accounts, certs, clients, rawclient, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, native_password_hash, pair_config  # noqa: E402
import security_common as sc  # noqa: E402

AUTH_CLIENT = os.environ.get("TANDEM_AUTH_CLIENT") or str(
    util.repo_root() / "build" / "tests" / "integration" / "auth_client")
SHA2 = "caching_sha2_password"
APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
HASHED, HASHED_PW = "hashed", "Hashed-Only-Pw-41"
INLINE, INLINE_PW = "inline", "Inline-Pw-Zr82"
CAROL, CAROL_PW = "carol", "Carol-Backend-Pw-63"
ERIN, ERIN_PW = "erin", "Erin-Locked-Pw-19"
WRONG = "Wr0ng-Guess-Qx57"
ROTATED = "Rotated-Pw-Kd30"
TOKEN = "tok-7c1d2e3f4a5b6c7d8e9f"


def auth_client(port, *args, user=APP, password=APP_PW):
    p = subprocess.run([AUTH_CLIENT, "-P", str(port), "-u", user, "-p", password, *args],
                       capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def pem_body_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines()
            if line and not line.startswith("-----") and len(line) >= 40]


class SecretsTest(unittest.TestCase):
    def test_no_secret_anywhere(self):
        d = util.scratch_dir("sec-secrets")
        pair = MariaDBPair(d / "pair").start()
        try:
            self.run_everything(d, pair)
        finally:
            pair.stop()
            util.remove_scratch(d)

    def run_everything(self, d: Path, pair: MariaDBPair):
        pair.primary.execute_all([
            f"CREATE USER '{HASHED}'@'%' IDENTIFIED BY '{HASHED_PW}'",
            f"CREATE USER '{INLINE}'@'%' IDENTIFIED BY '{INLINE_PW}'",
            f"CREATE USER '{CAROL}'@'%' IDENTIFIED BY '{CAROL_PW}'",
            f"CREATE USER '{ERIN}'@'%' IDENTIFIED BY '{ERIN_PW}' ACCOUNT LOCK",
            *[f"GRANT ALL ON test.* TO '{u}'@'%'" for u in (HASHED, INLINE, CAROL, ERIN)],
        ])
        pair.wait_replica_caught_up(30)
        secrets_dir = d / "secrets"
        secrets_dir.mkdir()
        for name, value in (("app.pw", APP_PW), ("monitor.pw", accounts.MONITOR_PASSWORD),
                            ("admin.token", TOKEN)):
            (secrets_dir / name).write_text(value + "\n")
            (secrets_dir / name).chmod(0o600)
        ca = certs.make_ca(d / "certs")
        srv = certs.make_cert(ca, d / "certs", "tandem")
        rsa_priv, rsa_pub = d / "rsa.key", d / "rsa.pub"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(rsa_priv)], check=True,
                       capture_output=True)
        rsa_priv.chmod(0o600)
        subprocess.run(["openssl", "pkey", "-in", str(rsa_priv), "-pubout", "-out",
                        str(rsa_pub)], check=True, capture_output=True)

        cfg = pair_config(pair, ["t1", "fromdb"], workers=1)
        sc.no_failover(cfg)
        cfg["log_level"] = "debug"
        cfg["admin"]["token_file"] = str(secrets_dir / "admin.token")
        cfg["rsa_private_key"] = str(rsa_priv)
        cfg["rsa_public_key"] = str(rsa_pub)
        cfg["clusters"]["db1"]["monitor"] = {"user": accounts.MONITOR_USER,
                                             "password_file": str(secrets_dir / "monitor.pw")}
        cfg["tenants"]["t1"]["users"] = {
            APP: {"password_file": str(secrets_dir / "app.pw")},
            HASHED: {"password_hash": native_password_hash(HASHED_PW)},
            INLINE: {"password": INLINE_PW},
            accounts.MONITOR_USER: {"password": accounts.MONITOR_PASSWORD},
        }
        cfg["tenants"]["t1"]["tls"] = {"cert": str(srv.cert), "key": str(srv.key)}
        cfg["tenants"]["fromdb"]["users"] = {}
        cfg["tenants"]["fromdb"]["users_from_backend"] = True
        cfg["clusters"]["db1"]["accounts"] = {"refresh_ms": 1000, "min_refresh_ms": 200}
        cfg["limits"] = {"max_auth_failures": 0}
        outputs = []   # everything clients were told
        with TandemProcess(None, cfg, d) as t:
            port, port2 = t.tenant_port("t1"), t.tenant_port("fromdb")

            def cli(p, sql, user, pw, *extra):
                r = clients.mariadb_cli(p, sql, user=user, password=pw, extra_args=extra)
                outputs.append(r.stdout + r.stderr)
                return r

            # native logins, right and wrong, on both tenants
            for user, pw in ((APP, APP_PW), (HASHED, HASHED_PW), (INLINE, INLINE_PW)):
                self.assertTrue(cli(port, "SELECT 1", user, pw).ok)
                self.assertIn("1045", cli(port, "SELECT 1", user, WRONG).stderr)
            util.wait_for(lambda: cli(port2, "SELECT 1", CAROL, CAROL_PW).ok, 20,
                          what="carol from the backend's accounts")
            self.assertFalse(cli(port2, "SELECT 1", ERIN, ERIN_PW).ok)
            self.assertFalse(cli(port2, "SELECT 1", CAROL, WRONG).ok)
            # caching_sha2: fast, full with RSA (hash-only user), in clear over TLS
            outputs.append(auth_client(port, "-a", SHA2, "-e", "SELECT 1"))
            outputs.append(auth_client(port, "-a", SHA2, "-e", "SELECT 1", user=HASHED,
                                       password=HASHED_PW))
            outputs.append(auth_client(port, "-a", SHA2, "-e", "SELECT 1", user=HASHED,
                                       password=WRONG))
            outputs.append(auth_client(port, "-a", SHA2, "-c", str(ca.cert), "-v", "-e",
                                       "SELECT 1", user=INLINE, password=INLINE_PW))
            # COM_CHANGE_USER, good and bad
            outputs.append(auth_client(port, "-C", f"{HASHED}:{HASHED_PW}", "-C",
                                       f"{INLINE}:{WRONG}"))
            # a raw login whose scrambled reply we know
            c = rawclient.RawClient(port)
            scramble = c.read_greeting()
            reply = rawclient.native_reply(APP_PW, scramble)
            c.send_packet(1, c.login_packet(APP, reply, "mysql_native_password"))
            self.assertEqual(c.read_packet()[1][:1], b"\x00")
            # a password change in SQL, through tandem
            self.assertTrue(cli(port, f"SET PASSWORD FOR '{CAROL}'@'%' = PASSWORD('{ROTATED}')",
                                accounts.MONITOR_USER, accounts.MONITOR_PASSWORD).ok)
            # the rotated password reaches tandem with the next account load
            util.wait_for(lambda: cli(port2, "SELECT 1", CAROL, ROTATED).ok, 20,
                          what="carol's new password")
            # sessions of each kind open while /sessions and /status are read
            held = [clients.connect(port, user=INLINE, password=INLINE_PW),
                    clients.connect(port, user=HASHED, password=HASHED_PW),
                    clients.connect(port2, user=CAROL, password=ROTATED)]
            held[0].select_db("test")
            admin = {}
            for path in ("/status", "/metrics", "/sessions", "/health"):
                code, body = sc.admin_get(t.admin_port(), path, TOKEN)
                self.assertIn(code, (200, 503), path)
                admin[path] = body
            code, body = sc.admin_get(t.admin_port(), "/status", "wrong")
            admin["401"] = body
            self.assertIn(f'"{CAROL}"', admin["/sessions"])   # the search looks at real data
            self.assertIn(ERIN, admin["/status"])            # the locked account is listed
            for h in held:
                h.close()
            c.close()
        log = t.log_text()
        self.assertIn("authenticated as", log)   # debug level really was on

        secrets = {}
        for name, pw in (("app", APP_PW), ("hashed", HASHED_PW), ("inline", INLINE_PW),
                         ("carol", CAROL_PW), ("erin", ERIN_PW), ("monitor",
                         accounts.MONITOR_PASSWORD), ("wrong", WRONG), ("rotated", ROTATED)):
            stage1 = hashlib.sha1(pw.encode()).digest()
            secrets[f"{name} password"] = pw
            secrets[f"{name} native hash"] = native_password_hash(pw)[1:]
            secrets[f"{name} sha1"] = stage1.hex()
            secrets[f"{name} sha256"] = hashlib.sha256(pw.encode()).hexdigest()
        secrets["admin token"] = TOKEN
        secrets["scrambled reply"] = reply.hex()
        secrets["scrambled reply b64"] = base64.b64encode(reply).decode()
        for i, line in enumerate(pem_body_lines(rsa_priv)[:3]):
            secrets[f"rsa private key line {i}"] = line
        for i, line in enumerate(pem_body_lines(srv.key)[:2]):
            secrets[f"tls key line {i}"] = line

        places = {"log": log, **{f"admin {k}": v for k, v in admin.items()},
                  "client output": "\n".join(outputs)}
        for where, text in places.items():
            low = text.lower()
            for what, secret in secrets.items():
                self.assertNotIn(secret.lower(), low, f"{what} found in {where}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
