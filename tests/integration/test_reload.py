#!/usr/bin/python3
"""SIGHUP reload against a real pair while sysbench runs through tenant a:
tenant b is added, a's allowlist and the cluster's monitor settings change,
b's users change, b moves to another port, b is removed — 8 times over —
with 10 invalid files thrown in (each reported with its JSON path, each
changing nothing, each caught by `tandem --check` too). sysbench must see
zero errors, a long-lived session of a must keep its backend connection,
and b's sessions must behave as specified at every step. Further tests: a
removed tenant's session is cut at drain_timeout_ms with a clear ERR, the
admin endpoint moves, and a SIGHUP storm is safe."""

import copy
import json
import os
import signal
import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pymysql  # noqa: E402

from harness import accounts, clients, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config, tenant_config  # noqa: E402
from reload_common import check, metric, metrics, reload_and_wait, status, stop_cleanly  # noqa: E402

BOB, BOB_PW = "bob", "bob-pass"
CAROL, CAROL_PW = "carol", "carol-pass"


def refused(port) -> bool:
    return not util.can_connect("127.0.0.1", port, timeout=0.5)


def login(port, user, password):
    """A new session; returns it (caller closes) or raises pymysql errors."""
    return clients.connect(port, user=user, password=password, database="test")


def denied(port, user, password) -> bool:
    try:
        login(port, user, password).close()
    except pymysql.err.OperationalError as e:
        return e.args[0] == 1045
    return False


def one(conn, sql="SELECT 1"):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


class ReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("reload")
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()
        for user, pw in ((BOB, BOB_PW), (CAROL, CAROL_PW)):
            cls.pair.primary.execute_all([
                f"CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'",
                f"GRANT ALL ON test.* TO '{user}'@'%'"])
        cls.pair.wait_replica_caught_up(30)

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def start_tandem(self, name, **limits):
        cfg = pair_config(self.pair, tenants=("a",))
        if limits:
            cfg["limits"] = limits
        t = TandemProcess(None, cfg, self.dir / name)
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        return t, cfg

    def assert_refused_reload(self, t, bad_text, path_fragment, gen_before):
        """Write an invalid file, SIGHUP, and check it is refused, reported
        with its JSON path (or line:col for a syntax error), changes nothing,
        and that --check catches the same file."""
        before = status(t)["config"]
        t.config_path.write_text(bad_text)
        t.reload()
        now = util.wait_for(lambda: (lambda c: c if c["reload_failures"] >
                                     before["reload_failures"] else None)(status(t)["config"]),
                            10, what="the reload to be refused")
        self.assertEqual(now["generation"], gen_before, "an invalid file changed the config")
        self.assertIn(path_fragment, now["last_error"])
        self.assertIn(path_fragment, t.log_text())
        copy_path = t.workdir / "invalid-copy.json"
        copy_path.write_text(bad_text)
        r = check(copy_path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(path_fragment, r.stderr)
        # Nothing changed: tenant a still logs in.
        c = login(t.tenant_port("a"), accounts.APP_USER, accounts.APP_PASSWORD)
        self.assertEqual(one(c), 1)
        c.close()

    def invalid_files(self, good: dict, held_port: int):
        """(text, JSON path expected in the error) for 10 kinds of mistakes,
        each a small change to the running config good."""
        a_listen = good["tenants"]["a"]["listen"]

        def mutate(fn):
            c = copy.deepcopy(good)
            fn(c)
            return json.dumps(c, indent=2)

        def x(listen=None, cluster="db1", allow=("127.0.0.0/8",)):
            return tenant_config(cluster, allow=allow) | (
                {"listen": listen} if listen else {})

        text = json.dumps(good, indent=2)
        syntax = text[:-2] + ",\n}"
        return [
            # a syntax error has no JSON path: jansson's line and column instead
            (syntax, f".json:{syntax.count(chr(10)) + 1}:1: string or '}}' expected"),
            (mutate(lambda c: c["tenants"]["a"].update(lisen="127.0.0.1:1")),
             "$.tenants.a.lisen: unknown key"),
            (mutate(lambda c: c.update(workers="two")), "$.workers: must be an integer"),
            (mutate(lambda c: c["tenants"].update(x=x("127.0.0.1:http"))), "$.tenants.x.listen"),
            (mutate(lambda c: c["tenants"].update(x=x(a_listen))),
             "$.tenants.x.listen: " + a_listen + " is also used by tenant a"),
            (mutate(lambda c: c["tenants"].update(x=x(cluster="nope"))),
             "$.tenants.x.cluster: no cluster named"),
            (mutate(lambda c: c["tenants"]["a"].update(allow=["127.0.0.300/8"])),
             "$.tenants.a.allow[0]: not a CIDR"),
            (mutate(lambda c: c["tenants"]["a"]["users"].update(
                app={"password_hash": "*XYZ"})), "$.tenants.a.users.app.password_hash"),
            (mutate(lambda c: c.update(limits={"drain_timeout_ms": -5})),
             "$.limits.drain_timeout_ms"),
            (mutate(lambda c: c["tenants"].update(x=x(f"127.0.0.1:{held_port}"))),
             f"$.tenants.x.listen: cannot bind 127.0.0.1:{held_port}"),
        ]

    def test_fifty_reloads_under_sysbench(self):
        t, cfg = self.start_tandem("fifty")
        a_port = t.tenant_port("a")
        clients.sysbench_prepare(a_port, tables=1, table_size=1000, check=True)
        self.addCleanup(clients.sysbench_cleanup, a_port, tables=1)
        keeper = login(a_port, accounts.APP_USER, accounts.APP_PASSWORD)
        keeper_id = one(keeper, "SELECT CONNECTION_ID()")

        # A port held without SO_REUSEPORT: tandem cannot bind it.
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        self.addCleanup(held.close)
        held_port = held.getsockname()[1]

        # One writer and one reader: InnoDB cannot deadlock them, so every
        # error counts (--mysql-ignore-errors=none makes any error fatal).
        bench = {}

        def run(test):
            bench[test] = clients.sysbench_run(a_port, test, tables=1, table_size=1000,
                                               threads=1, time_s=15,
                                               extra_args=["--mysql-ignore-errors=none"])
        runners = [threading.Thread(target=run, args=(test,))
                   for test in ("oltp_read_write", "oltp_read_only")]
        for runner in runners:
            runner.start()
        # Both sysbench clients (and keeper) are connected before the first reload.
        util.wait_for(lambda: metric(metrics(t), 'tandem_sessions{tenant="a"}') >= 3, 10,
                      what="sysbench to connect")
        t0 = time.monotonic()
        reloads = invalid = 0
        gen = status(t)["config"]["generation"]
        allow_variants = (["127.0.0.0/8"], ["10.0.0.0/8", "127.0.0.1/32"])
        interval_variants = (500, 700)

        def apply(new_cfg):
            nonlocal reloads, gen, cfg
            st = reload_and_wait(t, new_cfg)
            self.assertEqual(st["generation"], gen + 1, st["last_error"])
            self.assertEqual(st["last_error"], "")
            gen = st["generation"]
            cfg = copy.deepcopy(new_cfg)
            reloads += 1

        bad = iter(self.invalid_files(cfg, held_port))
        for cycle in range(8):
            p1, p2 = util.free_port(), util.free_port()
            # 1. add b: it listens at once and bob logs in
            c = copy.deepcopy(cfg)
            c["tenants"]["b"] = tenant_config("db1", p1, users={BOB: {"password": BOB_PW}})
            apply(c)
            b_sess = login(p1, BOB, BOB_PW)
            self.assertEqual(one(b_sess), 1)
            # 2. a's allowlist (still includes us) and the monitor settings change
            c = copy.deepcopy(cfg)
            c["tenants"]["a"]["allow"] = allow_variants[cycle % 2]
            c["clusters"]["db1"]["monitor"]["interval_ms"] = interval_variants[cycle % 2]
            apply(c)
            login(a_port, accounts.APP_USER, accounts.APP_PASSWORD).close()
            # 3. b's users change: bob may no longer log in, carol may; bob's
            #    open session is not re-authenticated
            c = copy.deepcopy(cfg)
            c["tenants"]["b"]["users"] = {CAROL: {"password": CAROL_PW}}
            apply(c)
            util.wait_for(lambda: denied(p1, BOB, BOB_PW), 5, what="bob to be refused")
            login(p1, CAROL, CAROL_PW).close()
            self.assertEqual(one(b_sess), 1)
            # 4. b moves: new port accepts, old port stops; its session goes on
            c = copy.deepcopy(cfg)
            c["tenants"]["b"]["listen"] = f"127.0.0.1:{p2}"
            apply(c)
            login(p2, CAROL, CAROL_PW).close()
            util.wait_for(lambda: refused(p1), 5, what="b's old port to close")
            self.assertEqual(one(b_sess), 1)
            # 5. remove b: it stops accepting; its session runs on (drain)
            c = copy.deepcopy(cfg)
            del c["tenants"]["b"]
            apply(c)
            util.wait_for(lambda: refused(p2), 5, what="removed b to stop accepting")
            self.assertEqual(one(b_sess), 1)
            b_sess.close()
            # plus an invalid file or two, which change nothing
            for _ in range(2 if cycle < 2 else 1):
                text, path = next(bad)
                self.assert_refused_reload(t, text, path, gen)
                invalid += 1
        elapsed = time.monotonic() - t0
        self.assertTrue(all(r.is_alive() for r in runners), "sysbench ended before the reloads")
        for runner in runners:
            runner.join()
        self.assertEqual((reloads, invalid), (40, 10))
        for test, r in bench.items():
            print(f"\n{reloads} reloads + {invalid} invalid in {elapsed:.1f}s; sysbench {test}: "
                  f"{r.transactions} transactions, {r.errors} errors, {r.reconnects} reconnects",
                  file=sys.stderr)
            self.assertTrue(r.ok, r.output[-2000:])
            self.assertEqual(r.errors, 0, r.output[-2000:])
            self.assertEqual(r.reconnects, 0)
            self.assertGreater(r.transactions, 0)
        # a's long-lived session kept its backend connection through it all
        self.assertEqual(one(keeper, "SELECT CONNECTION_ID()"), keeper_id)
        keeper.close()
        m = metrics(t)
        self.assertEqual(metric(m, "tandem_config_reloads_total"), 40)
        self.assertEqual(metric(m, "tandem_config_reload_failures_total"), 10)
        self.assertEqual(metric(m, "tandem_config_generation"), 41)
        # monitor settings changed 8 times: no failover happened
        self.assertEqual(self.pair.replica.variable("read_only"), "ON")
        self.assertEqual(self.pair.primary.variable("read_only"), "OFF")
        self.assertTrue(self.pair.replication_running())
        # no secret reached the log
        log = t.log_text()
        for secret in (BOB_PW, CAROL_PW, accounts.APP_PASSWORD, accounts.MONITOR_PASSWORD):
            self.assertNotIn(secret, log)

    def test_removed_tenant_cut_at_drain_timeout(self):
        t, cfg = self.start_tandem("drain", drain_timeout_ms=1500)
        c = copy.deepcopy(cfg)
        c["tenants"]["b"] = tenant_config("db1", users={BOB: {"password": BOB_PW}})
        reload_and_wait(t, c)
        b_port = t.tenant_port("b")
        sess = login(b_port, BOB, BOB_PW)
        self.assertEqual(one(sess), 1)
        removed = copy.deepcopy(c)
        del removed["tenants"]["b"]
        st = reload_and_wait(t, removed)
        self.assertEqual(st["last_error"], "")
        t_removed = time.monotonic()
        self.assertEqual(one(sess), 1)  # goes on until the deadline
        # After the deadline the session gets a clear ERR and is closed.
        util.wait_for(lambda: "may run for 1500 ms more" in t.log_text(), 5)

        def cut():
            try:
                one(sess)
            except pymysql.err.OperationalError as e:
                return e
            return None
        err = util.wait_for(cut, 10, what="the drained session to be cut")
        self.assertGreaterEqual(time.monotonic() - t_removed, 1.4)
        self.assertEqual(err.args[0], 1927, err)  # ER_CONNECTION_KILLED
        self.assertIn("tenant 'b' was removed", err.args[1])
        self.assertTrue(refused(b_port))
        sess.close()

    def test_admin_listen_moves(self):
        t, cfg = self.start_tandem("admin")
        old_port = t.admin_port()
        c = copy.deepcopy(cfg)
        new_port = util.free_port()
        c["admin"]["listen"] = f"127.0.0.1:{new_port}"
        st = reload_and_wait(t, c, admin_port=old_port)
        self.assertEqual(st["last_error"], "")
        self.assertEqual(status(t)["config"]["generation"], 2)  # asks the new port
        util.wait_for(lambda: refused(old_port), 5, what="the old admin port to close")
        # An admin address that cannot be bound fails the reload, changes nothing.
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        self.addCleanup(held.close)
        bad = copy.deepcopy(c)
        bad["admin"]["listen"] = f"127.0.0.1:{held.getsockname()[1]}"
        st = reload_and_wait(t, bad, admin_port=new_port)
        self.assertIn("$.admin.listen: cannot listen", st["last_error"])
        self.assertEqual(st["generation"], 2)
        t.config = c  # the admin address in force

    def test_sighup_storm(self):
        t, cfg = self.start_tandem("storm")
        a_port = t.tenant_port("a")
        sess = login(a_port, accounts.APP_USER, accounts.APP_PASSWORD)
        sess_id = one(sess, "SELECT CONNECTION_ID()")
        variants = []
        for i in range(2):
            c = copy.deepcopy(cfg)
            c["tenants"]["a"]["allow"] = [["127.0.0.0/8"], ["127.0.0.1/32"]][i]
            variants.append(c)
        stop = threading.Event()
        seen = []

        def query_loop():
            while not stop.is_set():
                seen.append(one(sess))
        q = threading.Thread(target=query_loop)
        q.start()
        try:
            for i in range(200):
                t.write_config(variants[i % 2])
                os.kill(t.pid, signal.SIGHUP)
        finally:
            stop.set()
            q.join()
        self.assertTrue(t.is_running())
        # Signals coalesce: at least one reload, each one took the config.
        st = util.wait_for(lambda: (lambda c: c if c["reloads"] >= 1 else None)(
            status(t)["config"]), 10)
        self.assertEqual(st["reload_failures"], 0)
        self.assertEqual(one(sess, "SELECT CONNECTION_ID()"), sess_id)
        self.assertTrue(seen and all(v == 1 for v in seen))
        login(a_port, accounts.APP_USER, accounts.APP_PASSWORD).close()
        sess.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
