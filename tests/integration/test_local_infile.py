#!/usr/bin/python3
"""LOAD DATA LOCAL INFILE through tandem. A file request reaches the client
only when the tenant sets "local_infile": true, the client offered
CLIENT_LOCAL_FILES, and the statement it sent is lexically LOAD DATA LOCAL
INFILE. Otherwise the backend does not even negotiate local files (MariaDB
then refuses the statement itself), and a request the server makes anyway
(here a scripted fake server, the only case a real one cannot produce) is
never forwarded: the client gets an ERR in place of that statement, and
the session goes on."""

import copy
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402
from pymysql.constants import CLIENT  # noqa: E402

from clients_base import PairTandemCase  # noqa: E402
from fake_backend import ROGUE_MARKER, FakeBackend  # noqa: E402

from harness import util  # noqa: E402
from harness.clients import connect, mariadb_cli  # noqa: E402
from harness.tandem import pair_config, tenant_config  # noqa: E402

ER_NOT_ALLOWED_COMMAND = 1148


class LocalInfileTest(PairTandemCase):
    name = "local_infile"

    @classmethod
    def tandem_config(cls, pair):
        cls.fake = FakeBackend().start()
        cfg = pair_config(pair, tenants=("infile", "noinfile"))
        cfg["tenants"]["infile"]["local_infile"] = True
        cfg["tenants"]["noinfile"]["local_infile"] = False
        fake_cluster = copy.deepcopy(cfg["clusters"]["db1"])
        fake_cluster["primary"] = cls.fake.address
        fake_cluster["replicas"] = []
        cfg["clusters"]["fake"] = fake_cluster
        cfg["tenants"]["rogue"] = tenant_config("fake")
        cfg["tenants"]["rogue"]["local_infile"] = True
        return cfg

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair.primary.execute_all(
            ["CREATE TABLE test.li (id INT PRIMARY KEY, name VARCHAR(20))"], user="app")
        cls.datafile = Path(tempfile.mkstemp(prefix="li-", suffix=".csv", dir=cls.dir)[1])
        cls.datafile.write_text("".join(f"{i},name{i}\n" for i in range(1, 501)))

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        super().tearDownClass()

    def port_of(self, tenant):
        return self.tandem.tenant_port(tenant)

    def load_sql(self, table="test.li"):
        return (f"LOAD DATA LOCAL INFILE '{self.datafile}' INTO TABLE {table} "
                f"FIELDS TERMINATED BY ','")

    def count(self):
        return self.app_sql("SELECT COUNT(*) FROM test.li")[0][0]

    def setUp(self):
        self.app_sql("DELETE FROM test.li")

    def test_enabled_rows_arrive(self):
        r = mariadb_cli(self.port_of("infile"), self.load_sql(), extra_args=["--local-infile=1"])
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(self.count(), 500)
        self.assertEqual(self.app_sql("SELECT name FROM test.li WHERE id = 377"), [("name377",)])

    def test_enabled_multi_statement_with_two_loads(self):
        # one COM_QUERY, two file requests: each LOAD DATA LOCAL in the text
        # allows one (the mariadb CLI would split the text; PyMySQL does not)
        sql = (f"{self.load_sql()}; DELETE FROM test.li WHERE id > 10; "
               f"/* again */ {self.load_sql().replace('INTO TABLE', 'IGNORE INTO TABLE')}")
        with connect(self.port_of("infile"), local_infile=True,
                     client_flag=CLIENT.MULTI_STATEMENTS) as c, c.cursor() as cur:
            cur.execute(sql)
            while cur.nextset():
                pass
            cur.execute("SELECT COUNT(*) FROM test.li")
            self.assertEqual(cur.fetchone(), (500,))

    def test_client_without_local_files_is_refused_by_the_server(self):
        r = mariadb_cli(self.port_of("infile"), self.load_sql(), extra_args=["--local-infile=0"])
        self.assertEqual(r.rc, 1)
        self.assertRegex(r.stderr, r"ERROR (4166|1148) .*local infile|not allowed")
        self.assertEqual(self.count(), 0)

    def test_disabled_tenant_is_refused_by_the_server(self):
        r = mariadb_cli(self.port_of("noinfile"), self.load_sql(), extra_args=["--local-infile=1"])
        self.assertEqual(r.rc, 1)
        # the backend connection never offered local files: MariaDB refuses
        self.assertRegex(r.stderr, r"ERROR (4166|1148) \(\w+\)")
        self.assertEqual(self.count(), 0)
        # and the session is fine afterwards
        r = mariadb_cli(self.port_of("noinfile"), "SELECT COUNT(*) FROM test.li")
        self.assertEqual(r.rows(), [["0"]])

    def test_request_for_another_statement_is_never_forwarded(self):
        before = len(self.fake.events())
        # PyMySQL with local_infile sends a file whenever asked, so only
        # tandem stands between the server's request and the client's disk
        with connect(self.port_of("rogue"), local_infile=True) as c, c.cursor() as cur:
            with self.assertRaises(pymysql.err.MySQLError) as cm:
                cur.execute(f"SELECT '{ROGUE_MARKER}'")
            self.assertEqual(cm.exception.args[0], ER_NOT_ALLOWED_COMMAND)
            self.assertIn("refused the server's request for a local file", cm.exception.args[1])
            # the server got an empty file, nothing else
            events = util.wait_for(lambda: self.fake.events()[before:], 10,
                                   what="the fake server to see the answer")
            self.assertEqual(events, [("empty", 2)])
            # the session goes on
            cur.execute("SELECT 1")
            self.assertEqual(cur.fetchone(), ("1",))
        self.assertIn("asked for a local file the client did not request",
                      self.tandem.log_text())

    def test_request_inside_a_multi_statement_ends_the_session(self):
        # the server would run the statements after the refused one while
        # the client, seeing an ERR, believes they did not: the session ends
        # and the closed connection aborts the statement server-side
        before = len(self.fake.events())
        c = connect(self.port_of("rogue"), local_infile=True,
                    client_flag=CLIENT.MULTI_STATEMENTS)
        try:
            with self.assertRaises(pymysql.err.MySQLError) as cm:
                c.cursor().execute(f"SELECT '{ROGUE_MARKER}'; SELECT 1")
            self.assertEqual(cm.exception.args[0], ER_NOT_ALLOWED_COMMAND)
        finally:
            c.close()
        events = util.wait_for(lambda: self.fake.events()[before:], 10,
                               what="the fake server to see the connection close")
        self.assertEqual(events, [("closed", None)])
        self.assert_tandem_alive()


if __name__ == "__main__":
    unittest.main(verbosity=2)
