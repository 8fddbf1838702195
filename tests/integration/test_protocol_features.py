#!/usr/bin/python3
"""Protocol features a client negotiates, through tandem and directly, with
real clients against a real MariaDB 10.11 (docs/protocol.md):

- the compressed protocol (`mariadb --compress`, Connector/C with
  MYSQL_OPT_COMPRESS): queries, a row above 16 MiB and 50 000 rows, LOAD
  DATA LOCAL INFILE, prepared statements, TLS and compression together.
  A byte-counting relay in front of tandem shows the client leg really is
  compressed (a 17 MB row of one letter crosses it in a few KB);
- LOCAL INFILE on by default (a tenant without "local_infile");
- MariaDB's extended capabilities: COM_STMT_BULK_EXECUTE (Connector/C
  array binding), metadata caching (a prepared SELECT executed again gets
  no column definitions), extended type info (JSON and POINT columns'
  type and format names), progress reports (ALTER TABLE ... COPY).

Every scenario runs directly and through tandem and must print the same."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients_base import PairTandemCase, capi_client_path  # noqa: E402
from health_helpers import CLUSTER, Stack  # noqa: E402
from raw_client import RawClient  # noqa: E402

from harness import accounts, certs, util  # noqa: E402
from harness.clients import mariadb_cli  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config  # noqa: E402

TENANT = "vps17"
CLIENT_COMPRESS = 1 << 5


class CountingRelay:
    """One loopback TCP relay in front of a port that counts the bytes it
    passes each way (for as many connections as come)."""

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.down = 0        # bytes towards the client
        self.up = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server((util.LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            s = socket.create_connection((util.LOOPBACK, self.upstream))
            threading.Thread(target=self._pump, args=(c, s, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, True), daemon=True).start()

    def _pump(self, src, dst, down):
        while True:
            try:
                data = src.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            with self.lock:
                if down:
                    self.down += len(data)
                else:
                    self.up += len(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        for sock in (dst, src):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        src.close()

    def close(self):
        self.listener.close()


class ProtocolFeaturesTest(PairTandemCase):
    name = "protocol_features"

    @classmethod
    def setUpClass(cls):
        # PairTandemCase's set-up, with a server that takes 16 MiB+ packets
        # and TLS on tandem's client leg.
        cls.dir = util.scratch_dir(cls.name)
        pki = cls.dir / "pki"
        ca = certs.make_ca(pki)
        cls.ca = ca
        own = certs.make_cert(ca, pki, "tandem")
        cls.pair = MariaDBPair(cls.dir / "pair", primary_args=["--max-allowed-packet=64M"],
                               replica_args=["--max-allowed-packet=64M"])
        cls.pair.start()
        try:
            cfg = pair_config(cls.pair, tenants=(TENANT,))
            cfg["tls"] = {"cert": str(own.cert), "key": str(own.key)}
            # These tests compare with the primary directly: a probe slowed
            # down by a 400 000-row LOAD DATA on a busy machine must not
            # fail it over (and fence it read-only) in the middle.
            cfg["clusters"]["db1"]["failover"] = {"auto": False}
            cfg["clusters"]["db1"]["monitor"]["timeout_ms"] = 3000
            assert "local_infile" not in cfg["tenants"][TENANT]   # the default is tested
            cls.tandem = TandemProcess(None, cfg, cls.dir / "tandem")
            cls.tandem.start(wait_admin=True)
        except BaseException:
            cls.pair.stop()
            raise
        cls.port = cls.tandem.tenant_port(TENANT)
        cls.direct = cls.pair.primary.port
        cls.pair.primary.execute_all([
            "CREATE TABLE test.pf_load (id INT PRIMARY KEY, name VARCHAR(20))",
            "CREATE TABLE test.capi_progress (id INT PRIMARY KEY, pad CHAR(200))",
            "INSERT INTO test.capi_progress SELECT seq, REPEAT('p', 200) FROM test.seq_1_to_400000",
        ], user="app")
        cls.datafile = Path(tempfile.mkstemp(prefix="pf-", suffix=".csv", dir=cls.dir)[1])
        cls.datafile.write_text("".join(f"{i},name{i}\n" for i in range(1, 2001)))

    # -- helpers --------------------------------------------------------------

    def run_capi(self, port, scenario, compress=False, timeout=240):
        env = dict(os.environ)
        env["CAPI_COMPRESS"] = "1" if compress else "0"
        return subprocess.run([capi_client_path(), util.LOOPBACK, str(port),
                               accounts.APP_USER, accounts.APP_PASSWORD, "test", scenario],
                              capture_output=True, text=True, timeout=timeout, env=env)

    def capi_both(self, scenario, compress=False):
        """A scenario directly, then through tandem: both pass, same output."""
        direct = self.run_capi(self.direct, scenario, compress)
        self.assertEqual(direct.returncode, 0, f"direct run failed: {direct.stderr}")
        via = self.run_capi(self.port, scenario, compress)
        self.assertEqual(via.returncode, 0,
                         f"through tandem: {via.stderr}\n{self.tandem.log_tail()}")
        self.assertEqual(via.stdout, direct.stdout)
        self.assert_tandem_alive()
        return via.stdout

    def cli_both(self, sql, *args):
        direct = mariadb_cli(self.direct, sql, database="test", extra_args=args)
        via = mariadb_cli(self.port, sql, database="test", extra_args=args)
        self.assertEqual(direct.rc, 0, direct.stderr)
        self.assertEqual(via.rc, 0, f"{via.stderr}\n{self.tandem.log_tail()}")
        self.assertEqual(via.stdout, direct.stdout)
        return via.stdout

    # -- the compressed protocol ---------------------------------------------

    def test_cli_compress_queries(self):
        sql = ("SELECT 1; SELECT seq, REPEAT(CHAR(65 + seq % 26), seq % 300) FROM seq_1_to_3000;"
               " SHOW WARNINGS; SELECT 1/0; SELECT @@max_allowed_packet > 0;"
               " SHOW SESSION STATUS LIKE 'Compression'")
        out = self.cli_both(sql, "--compress")
        self.assertIn("3000\t", out)
        # the server's view: the session is compressed (tandem's backend leg
        # compresses for a compressing client), and is not without --compress
        self.assertIn("Compression\tON", out)
        out = self.cli_both("SHOW SESSION STATUS LIKE 'Compression'")
        self.assertIn("Compression\tOFF", out)

    def test_cli_compress_big_row_and_many_rows(self):
        sql = ("SELECT LENGTH(x), MD5(x) FROM (SELECT REPEAT('ab', 9000000) AS x) t;"
               " SELECT REPEAT('z', 17000000) AS big;"
               " SELECT COUNT(*), SUM(LENGTH(m)) FROM (SELECT MD5(seq) m FROM seq_1_to_200000) t")
        out = self.cli_both(sql, "--compress", "--max-allowed-packet=64M")
        self.assertIn("18000000\t", out)
        self.assertIn("z" * 17000000, out)

    def test_cli_compress_big_statement(self):
        # a client packet above 16 MiB: two MySQL frames inside many
        # compressed ones, and its answer
        self.app_sql("DELETE FROM test.pf_load")
        big = "y" * 17_000_000
        sql = (f"SELECT LENGTH('{big}'), MD5('{big}');"
               f" INSERT INTO pf_load VALUES (1, LEFT('{big}', 20));"
               " SELECT * FROM pf_load")
        sql = sql.replace("INSERT INTO", "REPLACE INTO")
        outs = []
        for port in (self.direct, self.port):
            # the statement is too long for a command-line argument: stdin
            p = subprocess.run(
                ["/usr/bin/mariadb", "--no-defaults", "--protocol=tcp", "-h", util.LOOPBACK,
                 "-P", str(port), "-u", accounts.APP_USER,
                 f"--password={accounts.APP_PASSWORD}", "--batch", "--skip-column-names",
                 "--compress", "--max-allowed-packet=64M", "test"],
                input=sql, capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, f"{p.stderr}\n{self.tandem.log_tail()}")
            outs.append(p.stdout)
        self.assertEqual(outs[1], outs[0])
        self.assertIn("17000000\t", outs[1])
        self.assertIn("1\t" + "y" * 20, outs[1])

    def test_compressed_leg_is_compressed(self):
        relay = CountingRelay(self.port)
        try:
            r = mariadb_cli(relay.port, "SELECT REPEAT('z', 17000000) AS big", database="test",
                            extra_args=["--compress", "--max-allowed-packet=64M"])
            self.assertEqual(r.rc, 0, r.stderr)
            self.assertEqual(len(r.stdout.strip()), 17000000)
            # 17 MB of one letter deflate to well under 100 KB
            self.assertLess(relay.down, 200_000)
            plain_before = relay.down
            r = mariadb_cli(relay.port, "SELECT REPEAT('z', 17000000) AS big", database="test",
                            extra_args=["--max-allowed-packet=64M"])
            self.assertEqual(r.rc, 0, r.stderr)
            self.assertGreater(relay.down - plain_before, 17_000_000)
        finally:
            relay.close()

    def test_cli_compress_load_data_local_infile(self):
        self.app_sql("DELETE FROM test.pf_load")
        sql = (f"LOAD DATA LOCAL INFILE '{self.datafile}' INTO TABLE pf_load "
               f"FIELDS TERMINATED BY ','; SELECT COUNT(*), MAX(name) FROM pf_load")
        r = mariadb_cli(self.port, sql, database="test",
                        extra_args=["--compress", "--local-infile=1"])
        self.assertEqual(r.rc, 0, f"{r.stderr}\n{self.tandem.log_tail()}")
        self.assertEqual(r.rows(), [["2000", "name999"]])

    def test_cli_compress_big_load_data_local_infile(self):
        # a file of many packets: their sequence ids wrap past 255 (the
        # backend leg must not take the wrap for a new command)
        big = Path(tempfile.mkstemp(prefix="pf-big-", suffix=".csv", dir=self.dir)[1])
        big.write_text("".join(f"{i},n{i * 7919 % 100003}\n" for i in range(1, 400001)))
        self.app_sql("DELETE FROM test.pf_load")
        sql = (f"LOAD DATA LOCAL INFILE '{big}' INTO TABLE pf_load "
               f"FIELDS TERMINATED BY ','; SELECT COUNT(*), SUM(id) FROM pf_load;"
               " SHOW SESSION STATUS LIKE 'Compression'")
        r = mariadb_cli(self.port, sql, database="test",
                        extra_args=["--compress", "--local-infile=1"], timeout=240)
        self.assertEqual(r.rc, 0, f"{r.stderr}\n{self.tandem.log_tail()}")
        self.assertEqual(r.rows(), [["400000", str(400000 * 400001 // 2)],
                                    ["Compression", "ON"]])

    def test_cli_compress_with_tls(self):
        sql = "SELECT seq, MD5(seq) FROM seq_1_to_5000; SHOW STATUS LIKE 'Ssl_version'"
        r = mariadb_cli(self.port, sql, database="test",
                        extra_args=["--compress", "--ssl", f"--ssl-ca={self.ca.cert}"])
        self.assertEqual(r.rc, 0, f"{r.stderr}\n{self.tandem.log_tail()}")
        rows = r.rows()
        self.assertEqual(len(rows), 5001)
        self.assertEqual(rows[4999][0], "5000")
        # tandem's client leg is TLS: the session it answers for is its own
        # (the backend leg's Ssl_version is what the server reports)
        self.assertEqual(rows[-1][0], "Ssl_version")

    def test_bad_compressed_frame_ends_only_that_session(self):
        from raw_client import RawClient
        c = RawClient(self.port, caps=RawClient.BASE_CAPS | CLIENT_COMPRESS)
        try:
            c.sock.settimeout(30)

            def recv_exactly(n):
                b = c.buf
                while len(b) < n:
                    d = c.sock.recv(n - len(b))
                    if not d:
                        raise EOFError
                    b += d
                c.buf = b""
                return b
            # a COM_PING in a stored frame 0: the OK comes in a stored frame 1
            ping = b"\x01\x00\x00\x00\x0e"
            c.sock.sendall(len(ping).to_bytes(3, "little") + b"\x00\x00\x00\x00" + ping)
            hdr = recv_exactly(7)
            self.assertEqual(hdr[3], 1)
            self.assertEqual(hdr[4:7], b"\x00\x00\x00")      # small: stored
            payload = recv_exactly(int.from_bytes(hdr[:3], "little"))
            self.assertEqual(payload[3:5], b"\x01\x00")      # MySQL seq 1, an OK
            # a frame that claims 100 bytes and is no zlib stream
            c.sock.sendall(bytes([8, 0, 0, 0, 100, 0, 0]) + b"\x78\x9c\x01\x02\x03\x04\x05\x06")
            self.assertEqual(c.sock.recv(100), b"")
        finally:
            c.close()
        self.cli_both("SELECT 1", "--compress")
        self.assert_tandem_alive()

    def test_capi_compress_prepared_statements(self):
        for sc in ("types", "cursor", "longdata", "multi", "reset", "text", "change_user"):
            with self.subTest(scenario=sc):
                self.capi_both(sc, compress=True)

    def test_capi_compress_big(self):
        out = self.capi_both("big", compress=True)
        self.assertIn("big 17000000 all_x=1", out)
        self.assertIn("rows 50000", out)

    # -- LOCAL INFILE by default -------------------------------------------------

    def test_local_infile_on_by_default(self):
        self.app_sql("DELETE FROM test.pf_load")
        sql = (f"LOAD DATA LOCAL INFILE '{self.datafile}' INTO TABLE pf_load "
               f"FIELDS TERMINATED BY ','")
        r = mariadb_cli(self.port, sql, database="test", extra_args=["--local-infile=1"])
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(self.app_sql("SELECT COUNT(*) FROM test.pf_load")[0][0], 2000)

    def test_server_with_local_infile_off(self):
        # the server refuses LOAD DATA LOCAL itself, through tandem as directly;
        # a client offering local files still logs in
        self.pair.primary.execute_all(["SET GLOBAL local_infile = OFF"])
        try:
            sql = (f"LOAD DATA LOCAL INFILE '{self.datafile}' INTO TABLE pf_load "
                   f"FIELDS TERMINATED BY ','")
            direct = mariadb_cli(self.direct, sql, database="test",
                                 extra_args=["--local-infile=1"])
            via = mariadb_cli(self.port, sql, database="test", extra_args=["--local-infile=1"])
            self.assertEqual(direct.rc, 1, direct.stderr)
            self.assertEqual(via.rc, direct.rc, via.stderr)
            self.assertEqual(via.stderr, direct.stderr)
            self.capi_both("text")
        finally:
            self.pair.primary.execute_all(["SET GLOBAL local_infile = ON"])

    # -- MariaDB's extended capabilities ---------------------------------------

    def test_bulk_execute(self):
        out = self.capi_both("bulk")
        self.assertIn("bulk affected 1000", out)
        self.assertIn("bulk again rc=1 errno=1062", out)
        self.assertIn("2000\t2001000\tbulk-999", out)
        out = self.capi_both("bulk", compress=True)
        self.assertIn("bulk affected 1000", out)

    def test_metadata_cache_and_extended_type_info(self):
        out = self.capi_both("meta")
        self.assertIn("round 2: 3 fields", out)
        self.assertIn("doc/252//json", out)       # JSON: a BLOB with format "json"
        self.assertIn("pt/255/point/", out)
        self.capi_both("meta", compress=True)

    def test_progress_reports(self):
        out = self.capi_both("progress")
        self.assertIn("progress reports: yes", out)
        self.assertIn("400000\t0", out)

    # -- big packets -----------------------------------------------------------

    def test_command_above_the_packet_limit(self):
        """a command of four full frames and a fifth: above 64 MiB, the
        server's max_allowed_packet here and tandem's limits.max_packet, so
        tandem refuses it itself; the ERR must be the server's, with the
        sequence id after the fifth frame, then the close"""
        limit = int(self.pair.primary.variable("max_allowed_packet"))
        self.assertEqual(limit, 64 << 20)

        def run(port):
            c = RawClient(port, caps=RawClient.BASE_CAPS)
            data = b"\x03SELECT '" + b"q" * (4 * 0xFFFFFF - 9)
            for i in range(4):
                c.sock.sendall(b"\xff\xff\xff" + bytes([i])
                               + data[i * 0xFFFFFF:(i + 1) * 0xFFFFFF])
            c.sock.sendall((1024).to_bytes(3, "little") + b"\x04")
            seen = [c.read()]
            try:
                seen.append(c.read())
            except (EOFError, ConnectionResetError) as e:
                seen.append(type(e).__name__)
            c.close()
            return seen

        direct = run(self.direct)
        self.assertEqual((direct[0][0], direct[0][1][:3]), (5, b"\xff\x81\x04"), direct)
        self.assertEqual(run(self.port), direct, self.tandem.log_tail())
        self.assert_tandem_alive()



class CompressedSessionMovesTest(unittest.TestCase):
    """A compressed Connector/C session with prepared statements, bulk
    execution and cached metadata, moved by a switchover: both legs compress
    again on the new primary and every answer stays right."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("protocol_moves", monitor={"timeout_ms": 3000}).start()
        cls.stack.pair.primary.execute_all([
            "CREATE TABLE test.capi_move (id INT PRIMARY KEY, v VARCHAR(20))"], user="app")

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def test_switchover_under_a_compressed_session(self):
        st = self.stack
        env = dict(os.environ, CAPI_COMPRESS="1")
        p = subprocess.Popen([capi_client_path(), util.LOOPBACK, str(st.port),
                              accounts.APP_USER, accounts.APP_PASSWORD, "test", "move"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        try:
            before = []
            for line in p.stdout:
                before.append(line)
                if line == "READY\n":
                    break
            if before[-1:] != ["READY\n"]:
                self.fail("".join(before) + p.stderr.read())
            primary = st.admin.cluster()["primary"]
            code, body = st.admin.post(f"/clusters/{CLUSTER}/switchover")
            self.assertEqual(code, 200, body)
            self.assertNotEqual(st.admin.cluster()["primary"], primary)
            out, err = p.communicate("go\n", timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, f"{err}\n{st.tandem.log_tail()}")
        self.assertEqual("".join(before) + out,
                         "bulk 1..100 affected 100\n"
                         "select 1 fields 100 rows sum 5050\n"
                         "READY\n"
                         "bulk 101..200 affected 100\n"
                         "select 1 fields 200 rows sum 20100\n"
                         "select 1 fields 200 rows sum 20100\n"
                         "200\t1\n"
                         "Compression\tON\n"
                         "ok\n")
        self.assertTrue(st.tandem.is_running())


if __name__ == "__main__":
    unittest.main(verbosity=2)
