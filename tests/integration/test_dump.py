#!/usr/bin/python3
"""mariadb-dump through tandem writes the same file as directly, byte for
byte: a schema with tables of many types, data, a view, a trigger,
routines and an event, dumped with Debian's mariadb-dump both ways.

The one normalised line is mariadb-dump's "-- Dump completed on <date>".
The header's "-- Server version" line differs until the greeting mirrors
the primary (other branch, issue 13 item 1): that difference is PENDING,
reported and, with FAIL_ON_PENDING (the one-line switch), still a failure.
"""

import difflib
import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import accounts, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config  # noqa: E402

FAIL_ON_PENDING = True
PENDING_LINES = re.compile(r"^-- Server version\t")
DUMP = "/usr/bin/mariadb-dump"
TENANT = "vps17"
DB = "test"
USER, PASSWORD = "dumper", "dump-pass"

# An account with every privilege: mariadb-dump of routines, events and
# triggers needs them, and creating a function with binary logging on needs
# SUPER.
USER_SQL = [
    *[f"CREATE USER '{USER}'@'{h}' IDENTIFIED VIA mysql_native_password "
      f"USING PASSWORD('{PASSWORD}')" for h in accounts.HOSTS],
    *[f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'{h}'" for h in accounts.HOSTS],
]

SCHEMA_SQL = [
    f"CREATE TABLE {DB}.types (id INT PRIMARY KEY AUTO_INCREMENT, i TINYINT, b BIGINT UNSIGNED,"
    " d DECIMAL(12,4), f DOUBLE, c CHAR(3), v VARCHAR(100) CHARACTER SET utf8mb4,"
    " t TEXT, bl BLOB, dt DATETIME(3), ts TIMESTAMP NULL, da DATE, tm TIME, y YEAR,"
    " e ENUM('a','b'), s SET('x','y'), bi BIT(5), j JSON, g POINT, KEY (i), UNIQUE KEY (c))"
    " ENGINE=InnoDB",
    f"INSERT INTO {DB}.types (i, b, d, f, c, v, t, bl, dt, ts, da, tm, y, e, s, bi, j, g) VALUES"
    " (1, 18446744073709551615, -12.5, 1e-7, 'abc', 'h\u00e9llo \u2603', 'line\\nbreak\\ttab',"
    " X'00FF27', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05', '2024-02-29', '-838:59:59',"
    " 2024, 'b', 'x,y', b'10101', '{\"k\": [1, 2]}', POINT(1, 2)),"
    " (NULL, 0, 0, 0, 'q''', '', '', '', NULL, NULL, NULL, NULL, NULL, NULL, '', NULL,"
    " NULL, NULL)",
    f"CREATE TABLE {DB}.parent (id INT PRIMARY KEY) ENGINE=InnoDB",
    f"CREATE TABLE {DB}.child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES"
    f" {DB}.parent (id) ON DELETE CASCADE) ENGINE=InnoDB",
    f"INSERT INTO {DB}.parent VALUES (1), (2)",
    f"INSERT INTO {DB}.child VALUES (10, 1), (20, 2)",
    f"CREATE TABLE {DB}.my (a INT) ENGINE=MyISAM COMMENT='a comment'",
    f"INSERT INTO {DB}.my SELECT seq FROM seq_1_to_2000",
    f"CREATE VIEW {DB}.v AS SELECT id, c FROM {DB}.types WHERE id > 0",
    f"CREATE TRIGGER {DB}.trg BEFORE INSERT ON {DB}.child FOR EACH ROW SET NEW.p = NEW.p",
    f"CREATE PROCEDURE {DB}.proc(IN x INT) SELECT x * 2",
    f"CREATE FUNCTION {DB}.fn(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
    f"CREATE EVENT {DB}.ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE"
    " DO SELECT 1",
]


class DumpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("dump")
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()
        try:
            cls.pair.primary.execute_all(USER_SQL)
            cls.pair.primary.execute_all(SCHEMA_SQL, user=USER, password=PASSWORD, database=DB)
            users = {USER: {"password": PASSWORD}}
            cls.tandem = TandemProcess(None, pair_config(cls.pair, tenants=(TENANT,),
                                                         users=users), cls.dir / "tandem")
            cls.tandem.start(wait_admin=True)
        except BaseException:
            cls.pair.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.tandem.stop()
        cls.pair.stop()
        util.remove_scratch(cls.dir)
        if rc != 0:
            raise AssertionError(f"tandem exited with {rc}")

    def dump(self, port: int, *extra) -> bytes:
        argv = [DUMP, "--no-defaults", "--protocol=tcp", "-h", util.LOOPBACK, "-P", str(port),
                "-u", USER, f"-p{PASSWORD}", "--routines",
                "--triggers", "--events", *extra, DB]
        p = subprocess.run(argv, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return re.sub(rb"(?m)^-- Dump completed on .*$", b"-- Dump completed on <date>",
                      p.stdout)

    def compare(self, *extra):
        direct = self.dump(self.pair.primary.port, *extra)
        through = self.dump(self.tandem.tenant_port(TENANT), *extra)
        # the dump holds data at all
        self.assertRegex(direct, rb"INSERT INTO `types`|<table_data name=\"types\">\n\t<row>")
        if direct == through:
            return
        a = direct.decode(errors="replace").splitlines()
        b = through.decode(errors="replace").splitlines()
        diff = [line for line in list(difflib.unified_diff(a, b, "direct", "tandem",
                                                            lineterm="", n=0))[2:]
                if line[:1] in "+-"]
        pending = all(PENDING_LINES.match(line[1:]) for line in diff)
        msg = f"mariadb-dump {' '.join(extra)} differs through tandem:\n" + "\n".join(diff[:20])
        if pending:
            msg += "\n  (PENDING: the greeting mirrors the primary, issue 13 item 1)"
            print(f"dump: expected difference: {msg}", flush=True)
            if not FAIL_ON_PENDING:
                return
        self.fail(msg)

    def test_dump_default(self):
        """mariadb-dump with its defaults (extended inserts, locks)"""
        self.compare()

    def test_dump_single_transaction(self):
        """--single-transaction --skip-extended-insert --hex-blob"""
        self.compare("--single-transaction", "--skip-extended-insert", "--hex-blob")

    def test_dump_complete_insert_xml(self):
        """--xml (every value as the server sent its text)"""
        self.compare("--xml")


if __name__ == "__main__":
    unittest.main(verbosity=2)
