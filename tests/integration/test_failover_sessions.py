#!/usr/bin/python3
"""Sessions survive the primary going away (docs/sessions.md, "Failover").

On one pair, each test kills the primary (kill -9, by pid) or breaks a
session's backend connection or switches over, then checks what clients
see; a killed server comes back as a replica (POST .../ready) before the
next test:

  - 200 idle Connector/C sessions (tests/clients/failover_client.c), a
    third each with another schema, changed session variables (time_zone,
    sql_mode, group_concat_max_len, lc_time_names, isolation, SET NAMES ...
    COLLATE, SET CHARACTER SET) and prepared statements run once: after a
    kill -9 every one goes on, on the new primary, with its schema and
    variables, and each statement runs on its unchanged MYSQL_STMT handle
    (same client id, parameter types not sent again) with correct results;
  - a read in flight (SELECT SLEEP(2), 42) runs again: the client gets 42;
  - an idle session inside a transaction: its next command gets ERR 1213
    (40001), then it works; its uncommitted row is not on the new primary;
    ROLLBACK as the next command is simply answered OK;
  - a statement in flight that cannot run again: ERR 1213 (40001) inside a
    transaction, 1158 (08S01, outcome unknown) outside; both counted in
    tandem_failover_errors_total; the sessions go on;
  - a session with a temporary table, and one with a server-side cursor
    left open (Connector/C, CURSOR_TYPE_READ_ONLY): the next command (the
    next fetch) gets ERR 1927 (08S01) naming what was lost, then the
    session works with clean state;
  - KILL of a session's backend connection on the primary: the client sees
    what it sees directly (the server lives, so nothing moves);
  - a switchover with one persistent writer (autocommit INSERTs) and one
    persistent reader: zero errors, every acknowledged row on the new
    primary, both sessions end on the new primary.
"""

import threading
import time
import unittest

from health_helpers import CLUSTER, TENANT, Stack, log, pymysql, util
from harness import failover_load as fl


class SessionsFailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # semi-sync (AFTER_SYNC) so that a killed primary can rejoin as a
        # replica for the next test (failover_load.failover_pair)
        cls.stack = Stack("failover_sessions")
        cls.stack.pair = fl.failover_pair(cls.stack.dir / "pair")
        cls.stack.start()
        fl.make_oracle_table(cls.stack.port)
        with cls.stack.connect() as c, c.cursor() as cur:
            cur.execute("CREATE TABLE test.trx (id INT AUTO_INCREMENT PRIMARY KEY, "
                        "v VARCHAR(20) NOT NULL)")

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    # -- helpers -----------------------------------------------------------------

    def roles(self):
        """(primary, replica) servers as tandem sees them now."""
        p, r = self.stack.pair.primary, self.stack.pair.replica
        if self.stack.admin.cluster()["primary"] == r.address:
            p, r = r, p
        return p, r

    def healthy_roles(self):
        p, r = self.roles()
        self.stack.wait_healthy(p, r)
        return p, r

    def tenant(self) -> dict:
        return self.stack.admin.status()["tenants"][TENANT]

    def kill_primary(self, p, r) -> float:
        return self.stack.kill_primary(p, r)

    def bring_back(self, killed):
        code, body = self.stack.bring_back(killed)
        self.assertEqual(code, 200, body)

    def expect_error(self, cur, sql, code, state):
        with self.assertRaises(pymysql.MySQLError) as cm:
            cur.execute(sql)
        e = cm.exception
        self.assertEqual((e.args[0], fl.sqlstate(e)), (code, state), e.args)
        return e.args[1]

    # -- tests ---------------------------------------------------------------------

    def test_1_idle_sessions_keep_their_state(self):
        p, r = self.healthy_roles()
        before = self.tenant()
        idle = fl.IdleClients(self.stack.port, 200)
        try:
            ready = idle.open()
            pre = idle.check(p.server_id)
            self.assertEqual(pre["ok"], 200, pre)
            self.kill_primary(p, r)
            t0 = time.monotonic()
            post = idle.check(r.server_id)
            took = time.monotonic() - t0
        finally:
            idle.close()
        after = self.tenant()
        log(f"200 idle sessions ({ready['elapsed_ms']:.0f} ms to set up): after kill -9 of "
            f"{p.address}, {post['ok']}/{post['sessions']} kept their state on "
            f"{r.address} ({post['by_kind']}); checking them took {took * 1000:.0f} ms; "
            f"sessions moved {after['sessions_moved'] - before['sessions_moved']}")
        self.assertEqual(post["ok"], 200, post["failures"])
        self.assertEqual(post["by_kind"], {"schema": [67, 67], "vars": [67, 67],
                                           "prepared": [66, 66]})
        self.assertGreaterEqual(after["sessions_moved"] - before["sessions_moved"], 200)
        self.assertEqual(after["failover_errors"], before["failover_errors"])
        self.bring_back(p)

    def test_2_read_in_flight_runs_again(self):
        p, r = self.healthy_roles()
        before = self.tenant()
        conn = self.stack.connect(read_timeout=60)
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+03:00'")
        got = {}

        def read():
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT SLEEP(2), 42, @@server_id, @@time_zone")
                    got["row"] = cur.fetchone()
            except pymysql.MySQLError as e:
                got["err"] = e.args
        th = threading.Thread(target=read, daemon=True)
        th.start()
        util.wait_for(lambda: p.query_value(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE INFO LIKE 'SELECT SLEEP(2), 42%%'"), 10, what="the read on the primary")
        self.kill_primary(p, r)
        th.join(60)
        conn.close()
        log(f"SELECT SLEEP(2), 42 in flight during kill -9: the client got {got}")
        self.assertEqual(got.get("row"), (0, 42, r.server_id, "+03:00"), got)
        self.assertEqual(self.tenant()["reads_rerun"], before["reads_rerun"] + 1)
        self.bring_back(p)

    def test_3_idle_transaction_is_rolled_back(self):
        p, r = self.healthy_roles()
        in_trx = self.stack.connect()
        to_roll = self.stack.connect()
        with in_trx.cursor() as a, to_roll.cursor() as b:
            a.execute("BEGIN")
            a.execute("INSERT INTO test.trx (v) VALUES ('uncommitted')")
            b.execute("BEGIN")
            b.execute("INSERT INTO test.trx (v) VALUES ('rolled-back')")
        self.kill_primary(p, r)
        with in_trx.cursor() as a, to_roll.cursor() as b:
            msg = self.expect_error(a, "SELECT 1", 1213, "40001")
            log(f"idle session in a transaction, next command: ERR 1213: {msg}")
            self.assertIn("rolled back", msg)
            a.execute("SELECT @@server_id, @@in_transaction")
            self.assertEqual(a.fetchone(), (r.server_id, 0))
            a.execute("INSERT INTO test.trx (v) VALUES ('after')")
            # ROLLBACK is what the client would send anyway: plain OK
            b.execute("ROLLBACK")
            b.execute("SELECT @@server_id")
            self.assertEqual(b.fetchone()[0], r.server_id)
        in_trx.close()
        to_roll.close()
        rows = [v for (v,) in r.sql("SELECT v FROM test.trx")]
        self.assertNotIn("uncommitted", rows)
        self.assertNotIn("rolled-back", rows)
        self.assertIn("after", rows)
        self.bring_back(p)

    def test_4_statements_in_flight_are_answered(self):
        """A statement that cannot simply run again gets its documented
        error at once: 1213 inside a transaction (rolled back), 1158
        outside (outcome unknown); both sessions go on, and the errors are
        counted in tandem_failover_errors_total."""
        p, r = self.healthy_roles()
        before = self.tenant()
        in_trx = self.stack.connect(read_timeout=60)
        outside = self.stack.connect(read_timeout=60)
        with in_trx.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("INSERT INTO test.trx (v) VALUES ('in-flight')")
        got = {}
        stmts = {"in_trx": (in_trx, "SELECT SLEEP(3), 'in-trx'"),
                 "outside": (outside, "DO SLEEP(3)")}

        def run(name):
            conn, sql = stmts[name]
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    got[name] = cur.fetchall()
            except pymysql.MySQLError as e:
                got[name] = (e.args[0], fl.sqlstate(e), e.args[1])
        threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in stmts]
        for th in threads:
            th.start()
        util.wait_for(lambda: p.query_value(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO IN (%s, %s)",
            tuple(sql for _, sql in stmts.values())) == 2, 10,
            what="both statements on the primary")
        self.kill_primary(p, r)
        for th in threads:
            th.join(60)
        log(f"statements in flight during kill -9: {got}")
        self.assertEqual(got["in_trx"][:2], (1213, "40001"), got)
        self.assertEqual(got["outside"][:2], (1158, "08S01"), got)
        self.assertIn("unknown", got["outside"][2])
        with in_trx.cursor() as a, outside.cursor() as b:
            a.execute("SELECT @@server_id, @@in_transaction")
            self.assertEqual(a.fetchone(), (r.server_id, 0))
            b.execute("SELECT @@server_id")
            self.assertEqual(b.fetchone()[0], r.server_id)
        in_trx.close()
        outside.close()
        self.assertEqual(r.query_value("SELECT COUNT(*) FROM test.trx WHERE v = 'in-flight'"), 0)
        self.assertEqual(self.tenant()["failover_errors"], before["failover_errors"] + 2)
        self.bring_back(p)

    def test_5_unmovable_state_is_reported_lost(self):
        """A temporary table, and a server-side cursor left open: the next
        command gets ERR 1927 (08S01) naming what was lost, and does not
        run; then the session goes on with clean state."""
        p, r = self.healthy_roles()
        conn = self.stack.connect()
        with conn.cursor() as cur:
            cur.execute("SET sql_mode = 'ANSI_QUOTES'")
            cur.execute("CREATE TEMPORARY TABLE test.tmp_scratch (a INT)")
            cur.execute("INSERT INTO test.tmp_scratch VALUES (1)")
        cursor = fl.IdleClients(self.stack.port, 0, cursor=True)
        try:
            cursor.open()
            self.kill_primary(p, r)
            got = cursor.check(r.server_id)["cursor"]
        finally:
            cursor.close()
        log(f"open cursor (15 of 100 rows fetched) across kill -9: {got}")
        self.assertEqual((got["code"], got["sqlstate"]), (1927, "08S01"), got)
        self.assertIn("cursor", got["error"])
        self.assertEqual((got["fetched"], got["rows_again"]), (15, 100), got)
        with conn.cursor() as cur:
            msg = self.expect_error(cur, "SELECT COUNT(*) FROM test.tmp_scratch", 1927, "08S01")
            log(f"session with a temporary table, next command: ERR 1927: {msg}")
            self.assertIn("temp_table", msg)
            # then the session goes on, on the new primary, without the table
            cur.execute("SELECT @@server_id, @@sql_mode")
            self.assertEqual(cur.fetchone(), (r.server_id, "ANSI_QUOTES"))
            self.expect_error(cur, "SELECT COUNT(*) FROM test.tmp_scratch", 1146, "42S02")
        conn.close()
        self.bring_back(p)

    def test_6_killed_backend_connection(self):
        """An operator's KILL of a session's connection ends the session as
        it does directly (the server lives: no move), and tandem moves
        nothing: what the client sees is the server's."""
        p, r = self.healthy_roles()
        before = self.tenant()
        got = {}
        for name, conn in (("direct", p.connect(user="app", database="demo")),
                           ("tandem", self.stack.connect())):
            with conn.cursor() as cur:
                cur.execute("SELECT CONNECTION_ID()")
                backend_id = cur.fetchone()[0]
            p.sql(f"KILL {int(backend_id)}")
            errors = []
            for _ in range(2):
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                    errors.append(None)
                except pymysql.err.MySQLError as e:
                    errors.append(e.args[0])
            got[name] = tuple(errors)
            conn.close()
        log(f"KILL of a session's connection on the primary, next two commands: {got}")
        self.assertEqual(got["tandem"], got["direct"])
        self.assertIsNotNone(got["tandem"][0])
        after = self.tenant()
        self.assertEqual(after["sessions_moved"], before["sessions_moved"])
        self.assertEqual(after["failover_errors"], before["failover_errors"])
        self.assertEqual(self.stack.admin.cluster()["primary"], p.address)

    def test_7_switchover_with_a_writer_and_a_reader(self):
        st = self.stack
        p, r = self.healthy_roles()
        writer = fl.AckedWriter(st.port, w=6)
        writer.connect()
        reader_conn = st.connect()
        reads, read_errors, servers = [0], [], set()
        stop = threading.Event()

        def read_loop():
            with reader_conn.cursor() as cur:
                while not stop.is_set():
                    try:
                        cur.execute("SELECT @@server_id, COUNT(*) FROM test.oracle")
                        servers.add(cur.fetchone()[0])
                        reads[0] += 1
                    except pymysql.MySQLError as e:
                        read_errors.append(e.args)
        reader = threading.Thread(target=read_loop, daemon=True)
        writer.start()
        reader.start()
        try:
            util.wait_for(lambda: len(writer.acked) >= 50 and reads[0] >= 50, 30,
                          what="writes and reads before the switchover")
            code, body = st.admin.post(f"/clusters/{CLUSTER}/switchover")
            n_w, n_r = len(writer.acked), reads[0]
            util.wait_for(lambda: len(writer.acked) >= n_w + 50 and reads[0] >= n_r + 50, 30,
                          what="writes and reads after the switchover")
        finally:
            stop.set()
            writer.stop()
            reader.join(30)
        reader_conn.close()
        self.assertEqual(code, 200, body)
        res = fl.oracle([writer], r)
        log(f"switchover {p.address} -> {r.address} ({body['duration_ms']} ms): writer "
            f"{res.acked} acknowledged, errors {res.errors}, lost {len(res.lost)}, duplicated "
            f"{len(res.duplicated)}; reader {reads[0]} reads, errors {read_errors[:3]}, "
            f"on servers {sorted(servers)}")
        self.assertIsNone(writer.fatal)
        self.assertEqual(writer.errors, [])
        self.assertEqual(read_errors, [])
        self.assertEqual((res.lost, res.duplicated), ([], []))
        self.assertEqual(servers, {p.server_id, r.server_id})
        last = max(writer.acked)
        self.assertEqual(r.query_value("SELECT server FROM test.oracle WHERE w = 6 AND seq = %s",
                                       (last,)), r.server_id)
        self.assertEqual(body["sessions_left_on_old_primary"], 0)
        st.wait_healthy(r, p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
