#!/usr/bin/python3
"""PyMySQL (/usr/bin/python3) through tandem: connect, query, commit and
rollback, error handling with the server's codes. PyMySQL does not ask for
session tracking while tandem's backend connections always have it, so
every OK that carries session state is rebuilt for it: what PyMySQL reads
must be byte-for-byte what it reads from the server directly."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from clients_base import PairTandemCase  # noqa: E402
from raw_client import (CLIENT_DEPRECATE_EOF, SERVER_SESSION_STATE_CHANGED,  # noqa: E402
                        RawClient, ok_status)

from harness.clients import connect  # noqa: E402


def ok_fields(cur):
    """What PyMySQL kept of the last OK packet."""
    r = cur._result
    return (r.affected_rows, r.insert_id, r.server_status, r.warning_count, r.message)


class PyMySQLTest(PairTandemCase):
    name = "clients_pymysql"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair.primary.execute_all(
            ["CREATE TABLE test.py_items (id INT PRIMARY KEY, name VARCHAR(20) UNIQUE)"],
            user="app")

    def test_query(self):
        with connect(self.port, database="demo") as c, c.cursor() as cur:
            cur.execute("SELECT id, name, qty FROM items WHERE qty > %s ORDER BY id", (4,))
            rows = cur.fetchall()
            self.assertEqual([r[1] for r in rows], ["pear", "plum"])
            self.assertEqual([d[0] for d in cur.description], ["id", "name", "qty"])
            cur.execute("SELECT %s, %s, %s", ("ü", None, 1.5))
            self.assertEqual(cur.fetchone(), ("ü", None, 1.5))

    def test_commit_and_rollback(self):
        with connect(self.port, autocommit=False) as c, c.cursor() as cur:
            cur.execute("INSERT INTO test.py_items VALUES (1, 'kept')")
            c.commit()
            cur.execute("INSERT INTO test.py_items VALUES (2, 'dropped')")
            c.rollback()
            cur.execute("SELECT id FROM test.py_items ORDER BY id")
            self.assertEqual(cur.fetchall(), ((1,),))
        self.assertEqual(self.app_sql("SELECT id FROM test.py_items ORDER BY id"), [(1,)])

    def test_errors_keep_the_session(self):
        with connect(self.port) as c, c.cursor() as cur:
            cur.execute("INSERT IGNORE INTO test.py_items VALUES (10, 'ten')")
            with self.assertRaises(pymysql.err.IntegrityError) as cm:
                cur.execute("INSERT INTO test.py_items VALUES (10, 'again')")
            self.assertEqual(cm.exception.args[0], 1062)
            with self.assertRaises(pymysql.err.ProgrammingError) as cm:
                cur.execute("SELEKT 1")
            self.assertEqual(cm.exception.args[0], 1064)
            with self.assertRaises(pymysql.err.ProgrammingError) as cm:
                cur.execute("SELECT * FROM test.nope")
            self.assertEqual(cm.exception.args[0], 1146)
            cur.execute("SELECT 7")
            self.assertEqual(cur.fetchone(), (7,))

    def test_ok_packets_as_the_server_sends_them(self):
        """OKs with info text and tracked state, read exactly as directly."""
        stmts = ["CREATE TABLE test.py_ok_{run} (id INT PRIMARY KEY, v INT)",
                 "INSERT INTO test.py_ok_{run} VALUES (1, 1), (2, 2), (3, 3)",
                 "UPDATE test.py_ok_{run} SET v = v + 1 WHERE id < 3",
                 "SET time_zone = '+04:00'",
                 "USE demo",
                 "BEGIN",
                 "UPDATE test.py_ok_{run} SET v = 0 WHERE id = 3",
                 "SET @x = 5",
                 "COMMIT",
                 "INSERT INTO test.py_ok_{run} VALUES (4, 4) ON DUPLICATE KEY UPDATE v = 9",
                 "INSERT INTO test.py_ok_{run} VALUES (4, 4) ON DUPLICATE KEY UPDATE v = 9",
                 "DROP TABLE test.py_ok_{run}"]

        def run(port, name):
            out = []
            with connect(port) as c, c.cursor() as cur:
                for s in stmts:
                    cur.execute(s.format(run=name))
                    out.append(ok_fields(cur))
            return out

        direct = run(self.direct, "direct")
        via = run(self.port, "via")
        self.assertEqual(via, direct)
        # the UPDATE's info text is there, in the server's own layout
        self.assertIn(b"Rows matched: 2", via[2][4])

    def test_raw_oks_without_session_tracking(self):
        """Byte for byte, for a client with DEPRECATE_EOF but no session
        tracking (its result sets end with an OK, which carries state on
        the backend leg) and for one with neither."""
        stmts = ["BEGIN", "SELECT 1", "SET time_zone = '+01:00'", "USE demo",
                 "UPDATE items SET qty = qty WHERE id = 1", "COMMIT", "SELECT 2"]
        for caps in (RawClient.BASE_CAPS | CLIENT_DEPRECATE_EOF, RawClient.BASE_CAPS):
            got = {}
            for port in (self.direct, self.port):
                c = RawClient(port, caps)
                try:
                    got[port] = [c.query_last(sql) for sql in stmts]
                finally:
                    c.close()
            self.assertEqual(got[self.port], got[self.direct], f"caps 0x{caps:x}")
            for p in got[self.port]:
                self.assertFalse(p[0] == 0 and ok_status(p)[0] & SERVER_SESSION_STATE_CHANGED)

    def test_init_command_pipelines_behind_the_setup(self):
        # init_command goes out the moment the login OK arrives, i.e. while
        # tandem's own setup statement may still be in flight
        for _ in range(20):
            with connect(self.port, init_command="SET @init = 1") as c, c.cursor() as cur:
                cur.execute("SELECT @init, @@session_track_system_variables")
                self.assertEqual(cur.fetchone(), (1, "*"))

    def test_command_refused_while_it_streams_in(self):
        """a query larger than the server's max_allowed_packet: the server
        refuses it with 1153 as soon as its second frame's header says so,
        and closes; the client gets that ERR (with its sequence id) and
        then the close, as directly. The client sends no more than the
        server reads, so no side sees a reset (that would be a race)."""
        limit = int(self.pair.primary.variable("max_allowed_packet"))

        def run(port):
            c = RawClient(port, caps=RawClient.BASE_CAPS)
            c.sock.sendall(b"\xff\xff\xff\x00\x03SELECT '" + b"q" * (0xFFFFFF - 9)
                           + (limit - 0xFFFFFF + 1024).to_bytes(3, "little") + b"\x01")
            seen = [c.read()]
            try:
                seen.append(c.read())
            except (EOFError, ConnectionResetError) as e:
                seen.append(type(e).__name__)
            c.close()
            return seen

        direct = run(self.direct)
        self.assertEqual((direct[0][0], direct[0][1][:3]), (2, b"\xff\x81\x04"), direct)
        self.assertEqual(run(self.port), direct, self.tandem.log_tail())
        self.assert_tandem_alive()

if __name__ == "__main__":
    unittest.main(verbosity=2)
