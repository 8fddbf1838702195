#!/usr/bin/python3
"""tandem's view of a session (GET /sessions) follows what the client did:
USE, SET of session variables, autocommit, transactions and their GTIDs,
state that cannot be moved (user variables, temporary tables, named and
table locks), prepared statements under tandem's own ids (an unknown id is
answered with ER_UNKNOWN_STMT_HANDLER), and COM_RESET_CONNECTION."""

import struct
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from clients_base import PairTandemCase, capi_client_path  # noqa: E402
from raw_client import RawClient  # noqa: E402

from harness import accounts, util  # noqa: E402
from harness.clients import connect  # noqa: E402

COM_STMT_EXECUTE = 0x17
COM_RESET_CONNECTION = 0x1F
ER_UNKNOWN_STMT_HANDLER = 1243


class FactsTest(PairTandemCase):
    name = "clients_facts"

    def session_of(self, conn):
        """This PyMySQL connection's entry in /sessions."""
        me = f"{util.LOOPBACK}:{conn._sock.getsockname()[1]}"
        found = [s for s in self.admin("/sessions")["sessions"] if s["client"] == me]
        self.assertEqual(len(found), 1, f"{me} not in /sessions")
        return found[0]

    def facts(self, conn):
        return self.session_of(conn)["facts"]

    def test_schema_variables_autocommit_and_transactions(self):
        with connect(self.port, database="demo") as c, c.cursor() as cur:
            f = self.facts(c)
            self.assertEqual(f["schema"], "demo")
            self.assertTrue(f["tracking"])
            self.assertTrue(f["autocommit"])
            self.assertFalse(f["in_transaction"])
            self.assertEqual(f["variables"], {})   # tandem's own setup is no client change
            self.assertEqual(f["markers"], [])

            cur.execute("USE test")
            cur.execute("SET time_zone = '+02:00'")
            cur.execute("SET SESSION sql_mode = 'ANSI_QUOTES'")
            f = self.facts(c)
            self.assertEqual(f["schema"], "test")
            self.assertEqual(f["variables"], {"time_zone": "+02:00", "sql_mode": "ANSI_QUOTES"})

            cur.execute("SET autocommit = 0")
            cur.execute("BEGIN")
            cur.execute("INSERT INTO demo.items (name) VALUES ('facts')")
            f = self.facts(c)
            self.assertFalse(f["autocommit"])
            self.assertEqual(f["variables"]["autocommit"], "OFF")
            self.assertTrue(f["in_transaction"])
            # tandem does not track the transaction for itself (the query
            # cache serves nothing while it is tracked) ...
            self.assertIsNone(f["transaction_state"])
            cur.execute("COMMIT")
            # ... only when the client asks for it
            cur.execute("SET SESSION session_track_transaction_info = 'CHARACTERISTICS'")
            cur.execute("BEGIN")
            cur.execute("INSERT INTO demo.items (name) VALUES ('facts')")
            f = self.facts(c)
            self.assertEqual(f["transaction_state"], "T___W___")
            self.assertEqual(f["transaction_characteristics"], "START TRANSACTION;")
            cur.execute("COMMIT")
            cur.execute("SELECT @@last_gtid")
            gtid = cur.fetchone()[0]
            f = self.facts(c)
            self.assertFalse(f["in_transaction"])
            self.assertEqual(f["last_gtid"], gtid)
            self.assertRegex(gtid, r"^0-1-\d+$")   # domain 0, the primary's server id

            cur.execute("START TRANSACTION READ ONLY")
            f = self.facts(c)
            self.assertTrue(f["in_transaction"])
            self.assertTrue(f["read_only_transaction"])
            cur.execute("ROLLBACK")
            self.assertFalse(self.facts(c)["read_only_transaction"])
            self.assertEqual(self.facts(c)["markers"], [])

    def test_state_that_cannot_move(self):
        with connect(self.port) as c, c.cursor() as cur:
            cur.execute("SET @counter = 1")
            self.assertEqual(self.facts(c)["markers"], ["user_vars"])
        with connect(self.port) as c, c.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE test.tmp_facts (a INT)")
            self.assertEqual(self.facts(c)["markers"], ["temp_table"])
        with connect(self.port) as c, c.cursor() as cur:
            cur.execute("SELECT GET_LOCK('facts-lock', 1)")
            self.assertEqual(self.facts(c)["markers"], ["get_lock"])
        with connect(self.port) as c, c.cursor() as cur:
            cur.execute("LOCK TABLES demo.items READ")
            self.assertEqual(self.facts(c)["markers"], ["lock_tables"])
            cur.execute("UNLOCK TABLES")
            self.assertEqual(self.facts(c)["markers"], [])
            # a failed statement marks nothing
            with self.assertRaises(pymysql.err.MySQLError):
                cur.execute("LOCK TABLES demo.no_such_table READ")
            self.assertEqual(self.facts(c)["markers"], [])
        with connect(self.port) as c, c.cursor() as cur:
            # a change the server reports without naming it
            cur.execute("CREATE PROCEDURE IF NOT EXISTS test.setvar() SET @hidden = 1")
            cur.execute("CALL test.setvar()")
            self.assertEqual(self.facts(c)["markers"], ["untracked_change"])

    def test_prepared_statements_under_tandem_ids(self):
        with subprocess.Popen([capi_client_path(), util.LOOPBACK, str(self.port),
                               accounts.APP_USER, accounts.APP_PASSWORD, "test", "hold"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
            self.check_held_statements(p)

    def check_held_statements(self, p):
        try:
            line = p.stdout.readline()
            self.assertEqual(line, "READY 3 0\n")
            held = [s for s in self.admin("/sessions")["sessions"]
                    if s["facts"]["prepared_statements"]]
            self.assertEqual(len(held), 1)
            stmts = sorted(held[0]["facts"]["prepared_statements"], key=lambda s: s["id"])
            # three prepared, the third closed: the first two stay, each
            # under the id the server gave it (the client sees the server's)
            self.assertEqual([(s["params"], s["columns"], s["sql_bytes"]) for s in stmts],
                             [(3, 3, len("SELECT ?, ?, ? FROM DUAL")),
                              (0, 1, len("SELECT 1"))])
            self.assertTrue(all(s["backend_id"] > 0 for s in stmts))
            self.assertEqual([s["id"] for s in stmts], [s["backend_id"] for s in stmts])
            self.assertNotIn("sql", stmts[0])   # the text stays inside tandem
            p.stdin.write("go\n")
            p.stdin.flush()
            self.assertEqual(p.stdout.readline(), "ok\n")
            self.assertEqual(p.wait(30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_prepared_statement_markers(self):
        # what an execution may change is known from the SQL at prepare time
        c = RawClient(self.port)
        try:
            sql = b"SELECT GET_LOCK('facts-ps', 0)"
            c.write(0, b"\x16" + sql)                  # COM_STMT_PREPARE
            _, ok = c.read()
            self.assertEqual(ok[0], 0, ok)
            stmt_id, columns, params = struct.unpack("<IHH", ok[1:9])
            self.assertEqual((columns, params), (1, 0))
            c.read()                                  # the column (DEPRECATE_EOF: no EOF)
            me = f"{util.LOOPBACK}:{c.sock.getsockname()[1]}"
            mine = [s for s in self.admin("/sessions")["sessions"] if s["client"] == me][0]
            self.assertEqual([(s["id"], s["sql_bytes"])
                              for s in mine["facts"]["prepared_statements"]],
                             [(stmt_id, len(sql))])
            self.assertEqual(mine["facts"]["markers"], [])
            c.write(0, b"\x17" + struct.pack("<IBI", stmt_id, 0, 1))   # COM_STMT_EXECUTE
            while True:                               # count, column, row, 0xFE OK
                _, p = c.read()
                self.assertNotEqual(p[0], 0xFF, p)
                if p[0] == 0xFE and len(p) < 0xFFFFFF:
                    break
            mine = [s for s in self.admin("/sessions")["sessions"] if s["client"] == me][0]
            self.assertEqual(mine["facts"]["markers"], ["get_lock"])
        finally:
            c.close()

    def test_unknown_statement_id(self):
        with connect(self.port) as c, c.cursor() as cur:
            # COM_STMT_EXECUTE for an id tandem never handed out
            c._execute_command(COM_STMT_EXECUTE, struct.pack("<IBI", 4242, 0, 1))
            with self.assertRaises(pymysql.err.MySQLError) as cm:
                c._read_packet()
            self.assertEqual(cm.exception.args[0], ER_UNKNOWN_STMT_HANDLER)
            self.assertIn("4242", cm.exception.args[1])
            cur.execute("SELECT 5")
            self.assertEqual(cur.fetchone(), (5,))

    def test_large_commands_for_unknown_statements(self):
        # commands tandem answers itself stream off without being buffered:
        # long data for an unknown id is dropped (it has no response), an
        # execute gets 1243 with the sequence id after its last frame
        c = RawClient(self.port)
        try:
            c.write(0, b"\x18" + struct.pack("<IH", 999, 0) + b"x" * 300_000)
            big = b"\x17" + struct.pack("<IBI", 999, 0, 1) + b"y" * (17 << 20)
            c.write(0, big[:0xFFFFFF])               # a 16 MiB frame, continued...
            c.write(1, big[0xFFFFFF:])               # ...by the rest
            seq, err = c.read()
            self.assertEqual((seq, err[0]), (2, 0xFF))
            self.assertEqual(struct.unpack("<H", err[1:3])[0], ER_UNKNOWN_STMT_HANDLER)
            ok = c.query_last("SELECT 1")
            self.assertEqual(ok[0], 0xFE, ok)
        finally:
            c.close()
        self.assert_tandem_alive()

    def test_reset_connection(self):
        with connect(self.port, database="demo") as c, c.cursor() as cur:
            cur.execute("USE test")
            cur.execute("SET time_zone = '+06:00'")
            cur.execute("SET @v = 1")
            f = self.facts(c)
            self.assertEqual(f["markers"], ["user_vars"])
            c._execute_command(COM_RESET_CONNECTION, b"")
            c._read_ok_packet()
            f = self.facts(c)
            self.assertEqual(f["schema"], "test")      # the server keeps the schema
            self.assertEqual(f["variables"], {})
            self.assertEqual(f["markers"], [])
            # tandem turned tracking on again, and that answer was swallowed
            cur.execute("SELECT @@session_track_system_variables, @@time_zone <> '+06:00', @v")
            self.assertEqual(cur.fetchone(), ("*", 1, None))
            self.assertTrue(self.facts(c)["tracking"])
            cur.execute("SET time_zone = '+07:00'")
            self.assertEqual(self.facts(c)["variables"], {"time_zone": "+07:00"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
