#!/usr/bin/python3
"""The `mariadb` command-line client and `mariadb-dump` through tandem,
against a real pair: queries, USE, multi-statements, errors (exit code and
message the same as directly), a wrong password, a stopped primary (an ERR
for new clients, tandem stays up and serves again after the restart), and
a dump of a database restored through tandem into another, compared by
CHECKSUM TABLE."""

import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients_base import PairTandemCase  # noqa: E402

from harness import accounts, util  # noqa: E402
from harness.clients import mariadb_cli  # noqa: E402

DUMP = "/usr/bin/mariadb-dump"
CLI = "/usr/bin/mariadb"


class CliTest(PairTandemCase):
    name = "clients_cli"

    @classmethod
    def tandem_config(cls, pair) -> dict:
        # The stop/restart test checks tandem's ERR for an unreachable
        # primary; with automatic failover the replica would take over
        # instead (that is tested in test_failover_*.py).
        cfg = super().tandem_config(pair)
        for cluster in cfg["clusters"].values():
            cluster["failover"] = {"auto": False}
        return cfg

    def both(self, sql, **kw):
        """Run sql through tandem and directly; both results."""
        return mariadb_cli(self.port, sql, **kw), mariadb_cli(self.direct, sql, **kw)

    def test_queries_match_direct(self):
        sql = ("SELECT id, name, qty FROM demo.items ORDER BY id; "
               "SELECT 1 + 1, 'x' AS s, NULL, 3.5e0, _utf8mb4'ü'")
        via, direct = self.both(sql, column_names=True)
        self.assertEqual(via.rc, 0, via.stderr)
        self.assertEqual(via.stdout, direct.stdout)
        self.assertIn("apple", via.stdout)

    def test_use_and_session_state(self):
        # USE is COM_INIT_DB in the CLI; later statements see the schema
        sql = "USE test; SELECT DATABASE(); SET time_zone = '+03:00'; SELECT @@time_zone"
        via, direct = self.both(sql)
        self.assertEqual(via.rc, 0, via.stderr)
        self.assertEqual(via.rows(), [["test"], ["+03:00"]])
        self.assertEqual(via.stdout, direct.stdout)
        # a database on the command line is the login schema
        r = mariadb_cli(self.port, "SELECT DATABASE(), COUNT(*) FROM items", database="demo")
        self.assertEqual(r.rows()[0][0], "demo", r.stderr)

    def test_multi_statement(self):
        sql = ("DROP TABLE IF EXISTS test.cli_multi; CREATE TABLE test.cli_multi (a INT); "
               "INSERT INTO test.cli_multi VALUES (1),(2),(3); "
               "SELECT SUM(a) FROM test.cli_multi; UPDATE test.cli_multi SET a = a * 2; "
               "SELECT SUM(a) FROM test.cli_multi")
        r = mariadb_cli(self.port, sql)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.rows(), [["6"], ["12"]])

    def test_error_query_exit_code_and_message(self):
        via, direct = self.both("SELECT 1; SELECT * FROM test.no_such_table; SELECT 3")
        self.assertEqual(via.rc, 1)
        self.assertEqual(via.rc, direct.rc)
        self.assertRegex(via.stderr, r"ERROR 1146 \(42S02\).*no_such_table")
        # same message, same line (the CLI numbers statements by line)
        self.assertEqual(via.stderr, direct.stderr)
        self.assertEqual(via.stdout, direct.stdout)
        self.assertEqual(via.rows(), [["1"]])
        self.assert_tandem_alive()

    def test_wrong_password(self):
        r = mariadb_cli(self.port, "SELECT 1", password="not-the-password")
        self.assertEqual(r.rc, 1)
        self.assertRegex(r.stderr, r"ERROR 1045 \(28000\): Access denied for user 'app'@")
        self.assertIn("using password: YES", r.stderr)
        # the password never reaches the log
        self.assertNotIn("not-the-password", self.tandem.log_text())

    def test_dump_and_restore_through_tandem(self):
        setup = ["DROP DATABASE IF EXISTS dumpsrc", "DROP DATABASE IF EXISTS dumpdst",
                 "CREATE DATABASE dumpsrc", "CREATE DATABASE dumpdst",
                 f"GRANT ALL ON dumpsrc.* TO '{accounts.APP_USER}'@'%'",
                 f"GRANT ALL ON dumpdst.* TO '{accounts.APP_USER}'@'%'"]
        self.pair.primary.execute_all(setup)
        fill = ["CREATE TABLE t1 (id INT PRIMARY KEY AUTO_INCREMENT, s VARCHAR(200), "
                "b BLOB, d DATETIME(3), f DOUBLE, j TEXT)",
                "CREATE TABLE t2 (k VARCHAR(10) PRIMARY KEY, v DECIMAL(12,4)) "
                "DEFAULT CHARSET=latin1",
                "INSERT INTO t2 VALUES ('a', 1.5), ('b', -2.25), ('\\'q', 0)"]
        # rows with quotes, binary bytes, unicode; enough for several
        # extended INSERTs in the dump (each one a large command)
        fill += [f"INSERT INTO t1 (s, b, d, f, j) SELECT CONCAT('row ', seq, ' \\'q\\' ü'), "
                 f"UNHEX(REPEAT('00FF10', seq % 50)), "
                 f"'2024-01-01 00:00:00.123' + INTERVAL seq MINUTE, seq / 7, "
                 f"REPEAT('x', seq * 3 % 2000) FROM seq_{k * 1000 + 1}_to_{k * 1000 + 1000}"
                 for k in range(4)]
        r = mariadb_cli(self.port, "; ".join(fill), database="dumpsrc")
        self.assertEqual(r.rc, 0, r.stderr)

        dump = subprocess.run(
            [DUMP, "--no-defaults", "--protocol=tcp", "-h", util.LOOPBACK, "-P", str(self.port),
             "-u", accounts.APP_USER, f"--password={accounts.APP_PASSWORD}",
             "--single-transaction", "--net-buffer-length=65536", "dumpsrc"],
            capture_output=True, timeout=120)
        self.assertEqual(dump.returncode, 0, dump.stderr.decode(errors="replace"))
        self.assertIn(b"INSERT INTO `t1`", dump.stdout)
        restore = subprocess.run(
            [CLI, "--no-defaults", "--protocol=tcp", "-h", util.LOOPBACK, "-P", str(self.port),
             "-u", accounts.APP_USER, f"--password={accounts.APP_PASSWORD}", "dumpdst"],
            input=dump.stdout, capture_output=True, timeout=120)
        self.assertEqual(restore.returncode, 0, restore.stderr.decode(errors="replace"))

        def checksums(db):
            rows = self.pair.primary.sql(f"CHECKSUM TABLE {db}.t1, {db}.t2 EXTENDED")
            return [(name.split(".")[1], value) for name, value in rows]
        src, dst = checksums("dumpsrc"), checksums("dumpdst")
        self.assertEqual(src, dst)
        self.assertTrue(all(v for _, v in src), src)
        self.assertEqual(self.pair.primary.query_value("SELECT COUNT(*) FROM dumpdst.t1"), 4000)

    def test_zz_primary_stopped_then_restarted(self):
        # runs last (name): the primary goes away and comes back
        primary = self.pair.primary
        primary.terminate()
        try:
            r = mariadb_cli(self.port, "SELECT 1")
            self.assertEqual(r.rc, 1)
            # an ERR packet from tandem, not a silent close ("Lost connection"):
            # in place of the greeting (which is the primary's), so the client
            # reports it as a connect error carrying tandem's
            self.assertRegex(r.stderr, r"ERROR 2002 \(HY000\): .*1429 - tandem: ")
            self.assertNotRegex(r.stderr, r"ERROR 2013")
            self.assert_tandem_alive()
        finally:
            primary.restart()
        util.wait_for(lambda: mariadb_cli(self.port, "SELECT 42").rows() == [["42"]], 30,
                      what="tandem to serve again after the primary restarted")
        self.assert_tandem_alive()
        self.assertTrue(re.search(r"cannot reach|no writable", self.tandem.log_text()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
