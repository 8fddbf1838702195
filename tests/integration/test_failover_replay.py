#!/usr/bin/python3
"""Transaction replay ("transaction_replay": true) across a kill -9 of the
primary, against the real pair: a session idle inside a transaction goes
on inside it on the new primary; a statement in flight inside a
transaction runs again after the replay and its answer reaches the
client; a transaction whose replay answers differently (the replica's
data was changed behind replication's back) is rolled back and the client
gets ERR 1213 at its next command, and none of its writes survive."""

import threading
import unittest

from health_helpers import TENANT, Stack, log, pymysql, util

from harness.pair import MariaDBPair


class ReplayStack(Stack):
    def config(self) -> dict:
        cfg = super().config()
        cfg["tenants"][TENANT]["transaction_replay"] = True
        return cfg


class ReplayTest(unittest.TestCase):
    def setUp(self):
        # semi-sync: every acknowledged statement reached the replica
        self.stack = ReplayStack("failover_replay")
        self.stack.pair = MariaDBPair(self.stack.dir / "pair", semi_sync=True)
        self.stack.start()
        self.p, self.r = self.stack.pair.primary, self.stack.pair.replica
        self.stack.wait_healthy(self.p, self.r)
        c = self.stack.connect()
        with c.cursor() as cur:
            cur.execute("CREATE TABLE test.acct (id INT PRIMARY KEY, balance INT NOT NULL)")
            cur.execute("INSERT INTO test.acct VALUES (1, 100), (2, 100)")
        c.close()
        self.stack.pair.wait_replica_caught_up()

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()

    def metric(self, name):
        return self.stack.admin.status()["tenants"][TENANT][name]

    def kill_and_wait(self):
        self.p.kill9()
        util.wait_for(lambda: self.stack.admin.cluster()["primary"] == self.r.address, 15,
                      what="the replica to be promoted")

    def test_idle_in_transaction(self):
        c = self.stack.connect()
        with c.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("UPDATE test.acct SET balance = balance - 30 WHERE id = 1")
            cur.execute("SELECT balance FROM test.acct WHERE id = 1")
            self.assertEqual(cur.fetchone(), (70,))
            cur.execute("UPDATE test.acct SET balance = balance + 30 WHERE id = 2")
        self.kill_and_wait()
        with c.cursor() as cur:
            # still inside the transaction, on the new primary
            cur.execute("SELECT @@server_id, balance FROM test.acct WHERE id = 2")
            self.assertEqual(cur.fetchone(), (self.r.server_id, 130))
            cur.execute("COMMIT")
        self.assertEqual(self.r.sql("SELECT id, balance FROM test.acct ORDER BY id"),
                         [(1, 70), (2, 130)])
        self.assertEqual(self.metric("transactions_replayed"), 1)
        c.close()

    def test_statement_in_flight_inside_a_transaction(self):
        c = self.stack.connect(read_timeout=30)
        with c.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("UPDATE test.acct SET balance = 0 WHERE id = 1")
        got = {}

        def slow():
            try:
                with c.cursor() as cur:
                    cur.execute("SELECT SLEEP(2), balance FROM test.acct WHERE id = 1")
                    got["row"] = cur.fetchone()
            except pymysql.MySQLError as e:
                got["error"] = e.args

        t = threading.Thread(target=slow)
        t.start()
        # the statement is running on the primary when it dies
        util.wait_for(lambda: self.p.sql(
            "SELECT COUNT(*) FROM information_schema.processlist "
            "WHERE info LIKE 'SELECT SLEEP(2)%'")[0][0] == 1, 10,
            what="the slow statement to run on the primary")
        self.kill_and_wait()
        t.join(30)
        self.assertEqual(got.get("row"), (0, 0), got)   # it ran again, inside the replay
        with c.cursor() as cur:
            cur.execute("COMMIT")
        self.assertEqual(self.r.sql("SELECT balance FROM test.acct WHERE id = 1"), [(0,)])
        c.close()

    def test_different_answers_roll_back(self):
        c = self.stack.connect()
        with c.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT balance FROM test.acct WHERE id = 1")
            self.assertEqual(cur.fetchone(), (100,))
            cur.execute("INSERT INTO test.acct VALUES (3, 5)")
        # The replica's copy changes behind replication's back: replaying
        # the SELECT on it gives another answer.
        self.r.execute_all(["SET SESSION sql_log_bin = 0",
                            "UPDATE test.acct SET balance = 999 WHERE id = 1"])
        self.kill_and_wait()
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            with c.cursor() as cur:
                cur.execute("INSERT INTO test.acct VALUES (4, 5)")
        self.assertEqual(cm.exception.args[0], 1213, cm.exception.args)
        log(f"replay that came out different: {cm.exception.args}")
        with c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM test.acct WHERE id IN (3, 4)")
            self.assertEqual(cur.fetchone(), (0,))   # nothing of it survived
            cur.execute("SELECT @@in_transaction")
            self.assertEqual(cur.fetchone(), (0,))
        c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
