#!/usr/bin/python3
"""TLS on both legs of tandem, against a real MariaDB pair whose primary has
its own certificate, with real clients (mariadb CLI, Connector/C, PyMySQL).

Client leg: verified TLS from the mariadb CLI and PyMySQL, TLS 1.2+ with
ECDHE only, "require" refusing plaintext with 3159 on the first packet,
caching_sha2 full authentication over TLS, client certificates, a SIGHUP
swapping the certificate for new sessions while old ones keep theirs, and
bad input (garbage instead of a ClientHello, stalls, a second SSLRequest)
closing only that client. Backend leg: TLS verified against the cluster's
CA, a wrong CA or identity failing with a clear ERR, a server without TLS
never used in plaintext, and require_secure_transport on the server.

Certificates come from tests/harness/certs.py (a throwaway CA).
"""

import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import time
import unittest
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql  # noqa: E402

from harness import accounts, certs, clients, rawclient, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import (TandemProcess, cluster_config, native_password_hash,  # noqa: E402
                            tenant_config)

AUTH_CLIENT = os.environ.get("TANDEM_AUTH_CLIENT") or str(
    util.repo_root() / "build" / "tests" / "integration" / "auth_client")
SHA2 = "caching_sha2_password"
APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
APP2, APP2_PW = "app2", "app2-secret"
AUTH_TIMEOUT_MS = 1500


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def client_hello() -> bytes:
    """The first flight of a real TLS client, for tests that cut it short."""
    ctx = ssl._create_unverified_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("tls")
        pki = cls.pki = cls.dir / "pki"
        cls.ca = certs.make_ca(pki)
        cls.other_ca = certs.make_ca(pki, "other-ca", cn="some other CA")
        cls.tandem_cert = certs.make_cert(cls.ca, pki, "tandem")
        cls.tandem_cert2 = certs.make_cert(cls.ca, pki, "tandem2")
        cls.client_cert = certs.make_cert(cls.ca, pki, "client", sans=(), client=True)
        cls.db_ip = certs.make_cert(cls.ca, pki, "db-ip")
        cls.db_name = certs.make_cert(cls.ca, pki, "db-name", sans=("DNS:db.example",))
        # The primary reads its certificate from fixed paths (FLUSH SSL reloads them).
        cls.db_cert, cls.db_key = pki / "mariadb.pem", pki / "mariadb.key"
        cls.use_db_cert(cls.db_ip, flush=False)
        cls.pair = MariaDBPair(cls.dir / "pair", primary_args=[
            f"--ssl-cert={cls.db_cert}", f"--ssl-key={cls.db_key}", f"--ssl-ca={cls.ca.cert}",
        ]).start()
        cls.pair.primary.execute_all([
            f"CREATE USER '{APP2}'@'%' IDENTIFIED BY '{APP2_PW}'",
            f"GRANT ALL ON test.* TO '{APP2}'@'%'",
        ])

        def cluster(tls=None, primary=None):
            c = cluster_config(cls.pair)
            c["failover"] = {"auto": False}
            if primary:
                c["primary"], c["replicas"] = primary, []
            if tls is not None:
                c["tls"] = tls
            return c

        def tenant(cl, tls=None):
            t = tenant_config(cl, users={APP: {"password": APP_PW},
                                         APP2: {"password_hash": native_password_hash(APP2_PW)}})
            if tls is not None:
                t["tls"] = tls
            return t

        own = {"cert": str(cls.tandem_cert.cert), "key": str(cls.tandem_cert.key)}
        ca = str(cls.ca.cert)
        cls.config = {
            "admin": {"listen": f"127.0.0.1:{util.free_port()}"},
            "workers": 2,
            "log_level": "debug",
            "limits": {"auth_timeout_ms": AUTH_TIMEOUT_MS},
            "tls": dict(own),
            "clusters": {
                "tlsdb": cluster({"ca": ca}),
                "tlsdb_id": cluster({"ca": ca, "verify_identity": True}),
                "wrongca": cluster({"ca": str(cls.other_ca.cert)}),
                "plaindb": cluster(),
                # the replica runs without TLS
                "notls": cluster({"ca": ca}, primary=cls.pair.replica.address),
            },
            "tenants": {
                "opt": tenant("tlsdb"),
                "req": tenant("tlsdb", dict(own, require=True)),
                "mtls": tenant("tlsdb", dict(own, ca=ca)),
                "notlsport": tenant("tlsdb", False),
                "id": tenant("tlsdb_id"),
                "wrongca": tenant("wrongca"),
                "plain": tenant("plaindb"),
                "nosrvtls": tenant("notls"),
            },
        }
        cls.tandem = TandemProcess(None, cls.config, cls.dir).start()

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    @classmethod
    def use_db_cert(cls, files: certs.CertFiles, flush: bool = True):
        shutil.copyfile(files.cert, cls.db_cert)
        shutil.copyfile(files.key, cls.db_key)
        if flush:
            cls.pair.primary.sql("FLUSH SSL")

    def port(self, tenant: str) -> int:
        return self.tandem.tenant_port(tenant)

    def cli(self, tenant: str, sql: str, *args: str, **kw):
        return clients.mariadb_cli(self.port(tenant), sql, extra_args=list(args), **kw)

    def verified_cli_args(self, ca=None):
        return ["--ssl", "--ssl-verify-server-cert", f"--ssl-ca={ca or self.ca.cert}"]

    def assert_still_serving(self, tenant="opt"):
        r = self.cli(tenant, "SELECT 1", *self.verified_cli_args())
        self.assertEqual((r.rc, r.stdout.strip()), (0, "1"), r.stderr)

    # -- client leg ----------------------------------------------------------

    def test_cli_verified_tls(self):
        r = self.cli("opt", "status", *self.verified_cli_args())
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertRegex(r.stdout, r"SSL:\s+Cipher in use is TLS_AES_\w+|SSL:\s+Cipher in use is ECDHE")
        # The certificate really is checked: against another CA it fails.
        bad = self.cli("opt", "SELECT 1", *self.verified_cli_args(self.other_ca.cert))
        self.assertNotEqual(bad.rc, 0)
        self.assertIn("2026", bad.stderr)

    def test_pymysql_tls_versions_and_ciphers(self):
        with clients.connect(self.port("opt"), ssl_ca=str(self.ca.cert),
                             ssl_verify_cert=True, ssl_verify_identity=True) as c:
            self.assertIsInstance(c._sock, ssl.SSLSocket)
            self.assertEqual(c._sock.version(), "TLSv1.3")
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                self.assertEqual(cur.fetchall(), ((f"{APP}@%",),))
        # TLS 1.2 gets an ECDHE suite
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with clients.connect(self.port("opt"), ssl=ctx) as c:
            self.assertEqual(c._sock.version(), "TLSv1.2")
            self.assertTrue(c._sock.cipher()[0].startswith("ECDHE-"), c._sock.cipher())
        # TLS 1.1 is refused by tandem (the client side could speak it)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname = False
            old.verify_mode = ssl.CERT_NONE
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        with rawclient.RawClient(self.port("opt")) as c:
            c.read_greeting()
            c.ssl_request()
            with self.assertRaises(ssl.SSLError):
                c.sock = old.wrap_socket(c.sock)
        self.assert_still_serving()

    def test_require_refuses_plaintext_first(self):
        r = self.cli("req", "SELECT 1", "--skip-ssl")
        self.assertEqual(r.rc, 1)
        self.assertRegex(r.stderr, r"ERROR 3159 \(HY000\): Connections using insecure transport")
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            clients.connect(self.port("req"))
        self.assertEqual(cm.exception.args[0], 3159)
        # Decided on the first packet: bogus credentials still get 3159, not 1045.
        with rawclient.RawClient(self.port("req")) as c:
            c.read_greeting()
            c.send_packet(1, c.login_packet("nobody", b"x" * 20, "mysql_native_password"))
            seq, p = c.read_packet()
            self.assertEqual(seq, 2)
            self.assertEqual(rawclient.parse_err(p)[:2], (3159, "HY000"))
        r = self.cli("req", "SELECT CURRENT_USER()", *self.verified_cli_args())
        self.assertEqual((r.rc, r.stdout.strip()), (0, f"{APP}@%"), r.stderr)

    def test_sha2_full_auth_over_tls(self):
        # Connector/C (mariadb CLI): switched to caching_sha2, it sends the
        # password in clear over TLS; checked against the native hash.
        r = self.cli("opt", "SELECT CURRENT_USER()", *self.verified_cli_args(),
                     f"--default-auth={SHA2}", user=APP2, password=APP2_PW)
        self.assertEqual((r.rc, r.stdout.strip()), (0, f"{APP2}@%"), r.stderr)
        r = self.cli("opt", "SELECT 1", *self.verified_cli_args(), f"--default-auth={SHA2}",
                     user=APP2, password="wrong")
        self.assertRegex(r.stderr, r"1045 \(28000\)")
        # MySQL's client library answers with a fast-auth scramble first, even
        # over TLS; tandem has no digest for app2, so: 0x04, then the password.
        for pw, ok in ((APP2_PW, True), ("wrong", False)):
            with rawclient.RawClient(self.port("opt")) as c:
                scramble = c.read_greeting()
                c.ssl_request()
                c.start_tls(ca=str(self.ca.cert))
                c.send_packet(2, c.login_packet(APP2, rawclient.sha2_reply(pw, scramble), SHA2,
                                                caps=rawclient.BASE_CAPS | rawclient.CLIENT_SSL))
                self.assertEqual(c.read_packet(), (3, b"\x01\x04"))
                c.send_packet(4, pw.encode() + b"\0")
                seq, p = c.read_packet()
                self.assertEqual(seq, 5)
                if ok:
                    self.assertEqual(p[:1], b"\x00", p)
                else:
                    self.assertEqual(rawclient.parse_err(p)[:2], (1045, "28000"))
        self.assertIn(f"as '{APP2}' on tenant opt by {SHA2} full authentication over TLS",
                      self.tandem.log_text())
        # Connector/C: COM_CHANGE_USER to the hash-only user over TLS
        p = subprocess.run([AUTH_CLIENT, "-P", str(self.port("opt")), "-u", APP, "-p", APP_PW,
                            "-c", str(self.ca.cert), "-v", "-a", SHA2,
                            "-C", f"{APP2}:{APP2_PW}", "-e", "SELECT CURRENT_USER()"],
                           capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^CONNECTED TLS_")
        self.assertEqual(lines[1:], [f"CHANGED {APP2}", f"{APP2}@%"])

    def test_client_certificates(self):
        port = self.port("mtls")
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        ctx.check_hostname = False
        with self.assertRaises((ssl.SSLError, pymysql.err.OperationalError, ConnectionError)):
            with clients.connect(port, ssl=ctx) as c:
                c.ping()   # TLS 1.3: the refusal may arrive with the first read
        ctx.load_cert_chain(str(self.client_cert.cert), str(self.client_cert.key))
        with clients.connect(port, ssl=ctx) as c, c.cursor() as cur:
            cur.execute("SELECT 1")
            self.assertEqual(cur.fetchall(), ((1,),))
        # a certificate from another CA is refused too
        stranger = certs.make_cert(self.other_ca, self.pki, "stranger", sans=(), client=True)
        ctx2 = ssl.create_default_context(cafile=str(self.ca.cert))
        ctx2.check_hostname = False
        ctx2.load_cert_chain(str(stranger.cert), str(stranger.key))
        with self.assertRaises((ssl.SSLError, pymysql.err.OperationalError, ConnectionError)):
            with clients.connect(port, ssl=ctx2) as c:
                c.ping()

    def test_reload_swaps_certificate_for_new_sessions(self):
        def peer_fp():
            with rawclient.RawClient(self.port("opt")) as c:
                c.read_greeting()
                c.ssl_request()
                c.start_tls(ca=str(self.ca.cert))
                return fingerprint(c.sock.getpeercert(binary_form=True))

        old = peer_fp()
        conn = clients.connect(self.port("opt"), ssl={"ca": str(self.ca.cert)})
        try:
            self.assertEqual(fingerprint(conn._sock.getpeercert(binary_form=True)), old)
            cfg = dict(self.config, tls={"cert": str(self.tandem_cert2.cert),
                                         "key": str(self.tandem_cert2.key)})
            self.tandem.reload(cfg)
            new = util.wait_for(lambda: (fp := peer_fp()) != old and fp, 10,
                                what="the new certificate")
            self.assertEqual(new, fingerprint(ssl.PEM_cert_to_DER_cert(
                self.tandem_cert2.cert.read_text())))
            with conn.cursor() as cur:     # the old session goes on, on its old TLS
                cur.execute("SELECT CURRENT_USER()")
                self.assertEqual(cur.fetchall(), ((f"{APP}@%",),))
            # A reload whose certificate is unusable changes nothing.
            before = self.tandem.log_text().count("reload failed")
            self.tandem.reload(dict(self.config, tls={"cert": str(self.pki / "missing.pem"),
                                                      "key": str(self.tandem_cert.key)}))
            util.wait_for(lambda: self.tandem.log_text().count("reload failed") > before, 10)
            self.assertIn("$.tls.cert: cannot read", self.tandem.log_text())
            self.assertEqual(peer_fp(), new)
        finally:
            conn.close()
            self.tandem.reload(self.config)
            util.wait_for(lambda: peer_fp() == old, 10, what="the original certificate")

    def test_bad_tls_input(self):
        port = self.port("opt")
        # garbage where the ClientHello belongs: a logged close of that client
        with rawclient.RawClient(port) as c:
            c.read_greeting()
            self.assertTrue(c.server_caps & rawclient.CLIENT_SSL)
            c.ssl_request()
            c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
            self.assertTrue(c.wait_closed(5))
        util.wait_for(lambda: "TLS handshake with 127.0.0.1" in self.tandem.log_text(), 5)
        # a stall before or in the middle of the handshake: the auth timeout
        hello = client_hello()
        for sent in (b"", hello[:20]):
            with rawclient.RawClient(port, timeout=30) as c:
                c.read_greeting()
                c.ssl_request()
                c.send_raw(sent)
                t0 = time.monotonic()
                self.assertTrue(c.wait_closed(AUTH_TIMEOUT_MS / 1000 + 10))
                waited = time.monotonic() - t0
                print(f"stalled TLS handshake ({len(sent)} bytes) closed after {waited:.2f}s",
                      file=sys.stderr)
        self.assertIn("did not finish its TLS handshake", self.tandem.log_text())
        # a second SSLRequest inside TLS
        with rawclient.RawClient(port) as c:
            c.read_greeting()
            c.ssl_request()
            c.start_tls(ca=str(self.ca.cert))
            c.ssl_request(seq=2)
            seq, p = c.read_packet()
            self.assertEqual(rawclient.parse_err(p)[:2], (1043, "08S01"))
        # an SSLRequest where TLS is off (not offered); one with a wrong sequence id
        with rawclient.RawClient(self.port("notlsport")) as c:
            c.read_greeting()
            self.assertFalse(c.server_caps & rawclient.CLIENT_SSL)
            c.ssl_request()
            code, state, msg = rawclient.parse_err(c.read_packet()[1])
            self.assertEqual((code, state), (1043, "08S01"))
            self.assertIn("TLS is not enabled", msg)
        with rawclient.RawClient(port) as c:
            c.read_greeting()
            c.ssl_request(seq=3)
            self.assertEqual(rawclient.parse_err(c.read_packet()[1])[:2], (1043, "08S01"))
        # a truncated SSLRequest (31 bytes with CLIENT_SSL) is not one
        with rawclient.RawClient(self.port("req")) as c:
            c.read_greeting()
            c.send_packet(1, c.response_head(rawclient.BASE_CAPS | rawclient.CLIENT_SSL)[:31])
            self.assertEqual(rawclient.parse_err(c.read_packet()[1])[:2], (3159, "HY000"))
        self.assert_still_serving()

    def test_large_transfers_and_slow_reader_over_tls(self):
        """Megabytes both ways through TLS on both legs: a 4 MiB parameter
        up (one packet, many TLS records), the same back, and
        200k rows read slowly enough that tandem must stop and resume
        reading the backend (backpressure) with TLS records on both sides."""
        blob = os.urandom(4 << 20)
        with clients.connect(self.port("opt"), ssl_ca=str(self.ca.cert), database="test",
                             read_timeout=120) as c:
            self.assertIsInstance(c._sock, ssl.SSLSocket)
            with c.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS test.blobs (id INT PRIMARY KEY, b LONGBLOB)")
                cur.execute("REPLACE INTO test.blobs VALUES (1, %s)", (blob,))
                cur.execute("SELECT b, SHA2(b, 256) FROM test.blobs WHERE id = 1")
                got, digest = cur.fetchone()
                self.assertEqual(got, blob)
                self.assertEqual(digest, hashlib.sha256(blob).hexdigest())
            with c.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute("SELECT seq, REPEAT('x', 100) FROM seq_1_to_200000")
                n = total = 0
                while rows := cur.fetchmany(20000):
                    n += len(rows)
                    total += sum(r[0] for r in rows)
                    # a slow consumer: what tandem sent fills the socket meanwhile
                    time.sleep(0.05)
                self.assertEqual((n, total), (200000, 200000 * 200001 // 2))
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                self.assertEqual(cur.fetchall(), ((1,),))

    # -- backend leg ---------------------------------------------------------

    def test_backend_tls_verified(self):
        r = self.cli("opt", "SHOW SESSION STATUS LIKE 'Ssl_version'")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertRegex(r.stdout, r"Ssl_version\tTLSv1\.[23]")
        r = self.cli("plain", "SHOW SESSION STATUS LIKE 'Ssl_version'")
        self.assertEqual(r.stdout.strip(), "Ssl_version")     # empty: plaintext backend
        r = self.cli("id", "SELECT CURRENT_USER()")           # identity 127.0.0.1 matches
        self.assertEqual((r.rc, r.stdout.strip()), (0, f"{APP}@%"), r.stderr)

    def test_backend_wrong_ca(self):
        r = self.cli("wrongca", "SELECT 1")
        self.assertEqual(r.rc, 1)
        self.assertRegex(r.stderr, r"ERROR 1429 \(08001\): tandem: TLS to the database server "
                                   r"127\.0\.0\.1:\d+ failed: TLS handshake: certificate verify "
                                   r"failed \(.+\)")

    def test_backend_identity(self):
        self.use_db_cert(self.db_name)    # valid chain, but no 127.0.0.1 in it
        try:
            r = self.cli("id", "SELECT 1")
            self.assertEqual(r.rc, 1)
            self.assertRegex(r.stderr, r"ERROR 1429 \(08001\): .*certificate verify failed "
                                       r"\(IP address mismatch\)")
            r = self.cli("opt", "SELECT 1")     # CA check only: fine
            self.assertEqual((r.rc, r.stdout.strip()), (0, "1"), r.stderr)
        finally:
            self.use_db_cert(self.db_ip)
        r = self.cli("id", "SELECT 1")
        self.assertEqual((r.rc, r.stdout.strip()), (0, "1"), r.stderr)

    def test_backend_without_tls_is_never_used_in_plaintext(self):
        r = self.cli("nosrvtls", "SELECT 1")
        self.assertEqual(r.rc, 1)
        self.assertRegex(r.stderr, r"ERROR 1429 \(08001\): tandem: the database server "
                                   r"127\.0\.0\.1:\d+ does not offer TLS, which cluster 'notls' "
                                   r"requires")

    def test_require_secure_transport_on_server(self):
        p = self.pair.primary
        p.sql("SET GLOBAL require_secure_transport = ON")
        try:
            r = self.cli("opt", "SELECT CURRENT_USER()")
            self.assertEqual((r.rc, r.stdout.strip()), (0, f"{APP}@%"), r.stderr)
            # MariaDB 10.11 answers a plaintext login under
            # require_secure_transport with its own 1045; tandem passes it on.
            r = self.cli("plain", "SELECT 1")
            self.assertEqual(r.rc, 1)
            self.assertRegex(r.stderr, r"^ERROR 1045 \(28000\): Access denied for user 'app'")
        finally:
            p.sql("SET GLOBAL require_secure_transport = OFF")


if __name__ == "__main__":
    unittest.main(verbosity=2)
