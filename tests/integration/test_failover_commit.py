#!/usr/bin/python3
"""A COMMIT cut off by a failover gets its real outcome (docs/sessions.md,
"Failover"): tandem finds the session's statements in what the
binlog keeps (Annotate_rows) — by default the statements' own texts, or
with "commit_guard": "tag" a comment of tandem's — and, after the session
moved, reads the new primary's binlog through the monitor account.

The moment that matters — the COMMIT reached the server (or not) and its
answer never reached tandem — is forced with a FaultRelay in front of
each member (fault_relay.py): armed, it either passes the COMMIT on and
drops every answer after it ("cut": the commit lands) or drops the COMMIT
and everything after it ("swallow": it never lands). The test waits for
the relay's signal and, for a cut, for the row to be on the replica, then
kills the primary with kill -9; nothing depends on timing.

For an explicit BEGIN; INSERT; COMMIT and for an autocommit INSERT:
  landed -> the client gets OK (the INSERT: 1 row, the row's insert id);
            the row is on the new primary once;
  lost   -> ERR 1213 (SQLSTATE 40001); the row is not on the new primary;
            the same statement(s) again succeed and the row is there once.
Between cases the killed server comes back as a replica (POST .../ready)."""

import threading
import unittest

from fault_relay import FaultRelay
from health_helpers import CLUSTER, Admin, Stack, log, pymysql, util
from harness import failover_load
from harness.tandem import TandemProcess

TABLE = "test.doubt"


class RelayStack(Stack):
    """A Stack whose cluster config names a FaultRelay per member."""

    def start(self) -> "RelayStack":
        try:
            self.pair.start()
            self.relays = {s.name: FaultRelay(s.address).start() for s in self.pair.servers}
            self.tandem = TandemProcess(None, self.config(), self.dir / "tandem")
            self.tandem.start(wait_admin=True)
            self.admin = Admin(self.tandem.admin_port())
        except BaseException:
            self.stop()
            raise
        return self

    def config(self) -> dict:
        cfg = super().config()
        cl = cfg["clusters"][CLUSTER]
        cl["primary"] = self.relays["primary"].address
        cl["replicas"] = [self.relays["replica"].address]
        return cfg

    def stop(self) -> None:
        for r in getattr(self, "relays", {}).values():
            r.stop()
        super().stop()

    def roles(self):
        """((primary server, its relay), (replica server, its relay)) now."""
        p, r = self.pair.primary, self.pair.replica
        if self.admin.cluster()["primary"] == self.relays["replica"].address:
            p, r = r, p
        return (p, self.relays[p.name]), (r, self.relays[r.name])


def count(server, v: int) -> int:
    return server.query_value(f"SELECT COUNT(*) FROM {TABLE} WHERE v = %s", (v,))


def caught_up(primary, replica, timeout: float = 30) -> None:
    """Until replica has applied everything primary has binlogged now."""
    pos = primary.query_value("SELECT @@GLOBAL.gtid_binlog_pos")
    r = replica.query_value("SELECT MASTER_GTID_WAIT(%s, %s)", (pos, timeout),
                            read_timeout=timeout + 10)
    if r != 0:
        raise AssertionError(f"{replica.name} did not apply {pos} in {timeout}s")


class InDoubtCommitTest(unittest.TestCase):
    stack_class = RelayStack

    @classmethod
    def setUpClass(cls):
        # semi-sync (AFTER_SYNC) so that a killed primary can rejoin as a
        # replica for the next case (failover_load.failover_pair)
        cls.stack = cls.stack_class(f"failover_commit_{cls.__name__}")
        cls.stack.pair = failover_load.failover_pair(cls.stack.dir / "pair")
        cls.stack.start()
        with cls.stack.connect() as c, c.cursor() as cur:
            cur.execute(f"CREATE TABLE {TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, "
                        "v INT NOT NULL)")

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def run_case(self, explicit: bool, action: str, v: int, also=(), twin=False):
        """One cut-off commit (also: statements run in the transaction
        after its INSERT; twin: another client of tandem first runs the
        same INSERT and gets its OK); returns (outcome, cursor, new primary
        server)."""
        st = self.stack
        (p, relay_p), (r, relay_r) = st.roles()
        st.wait_healthy(relay_p, relay_r)
        moved = st.admin.status()["tenants"]["vps17"]["sessions_moved"]
        if twin:
            with st.connect() as other, other.cursor() as oc:
                oc.execute(f"INSERT INTO {TABLE} (v) VALUES (%s)", (v,))
                self.assertEqual(oc.rowcount, 1)
            # on the replica before the relay is armed: a swallowing relay
            # also stops replication that goes through it
            caught_up(p, r)
        conn = st.connect(read_timeout=60)
        cur = conn.cursor()
        # The autocommit INSERT is the session's first command: it travels
        # right behind tandem's session-tracking setup, and must be guarded
        # all the same.
        if explicit:
            cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {TABLE} (v) VALUES (%s)", (v,))
            for sql in also:
                cur.execute(sql)
        relay_p.arm(action, autocommit_write=not explicit)
        outcome = {}

        def cut_off():
            try:
                if explicit:
                    cur.execute("COMMIT")
                else:
                    cur.execute(f"INSERT INTO {TABLE} (v) VALUES (%s)", (v,))
                outcome["ok"] = (cur.rowcount, cur.lastrowid)
            except pymysql.MySQLError as e:
                outcome["err"] = (*e.args, failover_load.sqlstate(e))
        th = threading.Thread(target=cut_off, daemon=True)
        th.start()
        relay_p.wait_fired()
        if action == "cut":
            # The commit lands: on the primary, then (replication) on the replica.
            util.wait_for(lambda: count(p, v) == 1 + twin, 10, what="the commit to land")
            caught_up(p, r)
        else:
            self.assertEqual(count(r, v), int(twin))
        self.assertTrue(th.is_alive(), f"the client got an answer before the kill: {outcome}")
        p.kill9()
        th.join(60)
        self.assertFalse(th.is_alive(), "no answer 60 s after the kill")
        log(f"{'BEGIN/INSERT/COMMIT' if explicit else 'autocommit INSERT'}, relay {action}: "
            f"the client got {outcome}")
        util.wait_for(lambda: st.admin.cluster()["primary"] == relay_r.address, 10,
                      what="the failover")
        self.assertGreater(st.admin.status()["tenants"]["vps17"]["sessions_moved"], moved)
        return outcome, conn, cur, p, r

    def bring_back(self, killed):
        st = self.stack
        failover_load.restart_as_replica(killed)
        relay = st.relays[killed.name]
        util.wait_for(lambda: st.admin.member(relay.address)["health"] == "UP", 30,
                      what="the killed server to answer probes")
        code, body = st.admin.post(f"/clusters/{CLUSTER}/members/{relay.address}/ready")
        self.assertEqual(code, 200, body)

    def guard_counts(self):
        return self.stack.admin.status()["tenants"]["vps17"]["commit_guard"]

    def landed(self, explicit: bool, v: int):
        before = self.guard_counts()
        outcome, conn, cur, old, new = self.run_case(explicit, "cut", v)
        try:
            self.assertIn("ok", outcome)
            self.assertEqual(self.guard_counts()["landed"], before["landed"] + 1)
            self.assertEqual(count(new, v), 1)
            if not explicit:
                row_id = new.query_value(f"SELECT id FROM {TABLE} WHERE v = %s", (v,))
                self.assertEqual(outcome["ok"], (1, row_id))
            # The session goes on, on the new primary.
            cur.execute("SELECT @@server_id")
            self.assertEqual(cur.fetchone()[0], new.server_id)
        finally:
            conn.close()
        self.bring_back(old)

    def lost(self, explicit: bool, v: int):
        before = self.guard_counts()
        outcome, conn, cur, old, new = self.run_case(explicit, "swallow", v)
        try:
            self.assertIn("err", outcome)
            self.assertEqual(self.guard_counts()["lost"], before["lost"] + 1)
            self.assertEqual((outcome["err"][0], outcome["err"][2]), (1213, "40001"), outcome)
            self.assertIn("rolled back", outcome["err"][1])
            self.assertEqual(count(new, v), 0)
            # Safe to retry: the same statements again.
            if explicit:
                cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {TABLE} (v) VALUES (%s)", (v,))
            if explicit:
                cur.execute("COMMIT")
            self.assertEqual(count(new, v), 1)
            cur.execute("SELECT @@server_id")
            self.assertEqual(cur.fetchone()[0], new.server_id)
        finally:
            conn.close()
        self.bring_back(old)

    def test_1_commit_landed(self):
        self.landed(True, 101)

    def test_2_commit_lost(self):
        self.lost(True, 102)

    def test_3_autocommit_insert_landed(self):
        self.landed(False, 103)

    def test_4_autocommit_insert_lost(self):
        self.lost(False, 104)

    def test_6_identical_write_of_another_client_is_not_taken(self):
        """The guard matches a cut-off write by its text: another client's
        identical INSERT, acknowledged to it, is in the binlog too and must
        not be taken for the lost one."""
        before = self.guard_counts()
        outcome, conn, cur, old, new = self.run_case(False, "swallow", 106, twin=True)
        try:
            self.assertEqual((outcome.get("err") or (0,))[0], 1213, outcome)
            self.assertEqual(self.guard_counts()["lost"], before["lost"] + 1)
            self.assertEqual(count(new, 106), 1)  # the other client's
        finally:
            conn.close()
        self.bring_back(old)

    def test_7_identical_write_landed_is_found(self):
        """... and when the cut-off one landed too, it is the one left."""
        before = self.guard_counts()
        outcome, conn, cur, old, new = self.run_case(False, "cut", 107, twin=True)
        try:
            self.assertIn("ok", outcome)
            self.assertEqual(self.guard_counts()["landed"], before["landed"] + 1)
            self.assertEqual(count(new, 107), 2)
            ids = [r[0] for r in new.sql(f"SELECT id FROM {TABLE} WHERE v = 107 ORDER BY id")]
            self.assertEqual(outcome["ok"], (1, ids[1]))
        finally:
            conn.close()
        self.bring_back(old)

    def test_5_commit_after_call_is_not_guessed(self):
        """A procedure's rows are logged under its own statements' texts,
        without the session's tag: the binlog cannot tell, so the cut-off
        COMMIT gets 1158 (outcome unknown), never a wrong 1213."""
        with self.stack.connect() as c, c.cursor() as cur:
            cur.execute("CREATE PROCEDURE IF NOT EXISTS test.doubt_more(x INT) "
                        f"INSERT INTO {TABLE} (v) VALUES (x)")
        before = self.guard_counts()
        outcome, conn, cur, old, new = self.run_case(
            True, "cut", 105, also=("CALL test.doubt_more(1105)",))
        try:
            self.assertIn("err", outcome)
            self.assertEqual((outcome["err"][0], outcome["err"][2]), (1158, "08S01"), outcome)
            self.assertEqual(count(new, 105), 1)   # it did land
            after = self.guard_counts()
            self.assertEqual((after["landed"], after["lost"]), (before["landed"], before["lost"]))
        finally:
            conn.close()
        self.bring_back(old)


class TagRelayStack(RelayStack):
    def config(self) -> dict:
        cfg = super().config()
        for t in cfg["tenants"].values():
            t["commit_guard"] = "tag"
        return cfg


class TagModeInDoubtTest(InDoubtCommitTest):
    """The same outcomes with "commit_guard": "tag" (the statements carry
    tandem's comment and the read-back looks for it)."""
    stack_class = TagRelayStack
    test_1_commit_landed = None  # noqa: the text mode's cases above
    test_5_commit_after_call_is_not_guessed = None
    test_6_identical_write_of_another_client_is_not_taken = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
