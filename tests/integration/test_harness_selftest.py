#!/usr/bin/python3
"""Tests the integration harness itself, so a failing tandem test can be
trusted to be tandem's fault: a real pair replicates, the replica is
read-only, every fault (kill -9, SIGSTOP, lag) works and is undone, clients
and sysbench output are parsed, TandemProcess drives a daemon (a fake one:
fake_tandem.py) and the demo stops everything it started. Needs no tandem."""

import os
import signal
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql  # noqa: E402

from harness import accounts, clients, procs, template, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import (TandemFailed, TandemProcess, native_password_hash,  # noqa: E402
                            pair_config)

HARNESS = Path(__file__).resolve().parents[1] / "harness"
FAKE_TANDEM = HARNESS / "fake_tandem.py"


def pid_gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


class PairTest(unittest.TestCase):
    """One pair shared by the tests below; each test leaves it healthy."""

    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("harness_selftest")
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()
        print(f"\npair start: {cls.pair.start_seconds:.2f}s", file=sys.stderr, flush=True)

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def test_replication_applies_primary_writes(self):
        p = self.pair
        p.primary.execute_all(["CREATE TABLE test.repl (id INT PRIMARY KEY, v VARCHAR(20))",
                               "INSERT INTO test.repl VALUES (1, 'one'), (2, 'two')"],
                              user=accounts.APP_USER)
        pos = p.wait_replica_caught_up(30)
        self.assertTrue(pos.startswith("0-1-"), pos)
        self.assertEqual(p.replica.sql("SELECT id, v FROM test.repl ORDER BY id"),
                         [(1, "one"), (2, "two")])
        self.assertTrue(p.replication_running())
        self.assertEqual(p.slave_status()["Using_Gtid"], "Slave_Pos")
        # The replica's binlog holds only the primary's transactions (server_id 1).
        self.assertEqual(p.replica.query_value("SELECT @@GLOBAL.gtid_binlog_pos"), pos)

    def test_replica_is_read_only(self):
        self.assertEqual(self.pair.replica.variable("read_only"), "ON")
        self.assertEqual(self.pair.primary.variable("read_only"), "OFF")
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            self.pair.replica.sql("CREATE TABLE test.nope (id INT)", user=accounts.APP_USER)
        self.assertEqual(cm.exception.args[0], 1290)  # ER_OPTION_PREVENTS_STATEMENT

    def test_accounts_and_schemas_replicated(self):
        for s in self.pair.servers:
            plugins = dict(((u, h), pl) for u, h, pl in s.sql(
                "SELECT user, host, plugin FROM mysql.user WHERE user IN (%s, %s, %s)",
                (accounts.APP_USER, accounts.MONITOR_USER, accounts.REPL_USER)))
            self.assertEqual(len(plugins), 6, s)
            self.assertEqual(set(plugins.values()), {"mysql_native_password"})
            self.assertEqual(s.sql("SELECT COUNT(*) FROM demo.items", user=accounts.APP_USER),
                             [(3,)])
            dbs = {r[0] for r in s.sql("SHOW DATABASES", user=accounts.APP_USER)}
            self.assertTrue({"demo", "sbtest", "test"} <= dbs, dbs)
            # The monitor reads replication state and accounts on every server.
            s.query_rows("SHOW SLAVE STATUS", user=accounts.MONITOR_USER)
            s.sql("SELECT user FROM mysql.user", user=accounts.MONITOR_USER)
        with self.assertRaises(pymysql.err.OperationalError):
            self.pair.primary.sql("SELECT user FROM mysql.user", user=accounts.APP_USER)
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            self.pair.primary.connect(accounts.APP_USER, "wrong-pass")
        self.assertEqual(cm.exception.args[0], 1045)

    def test_native_password_hash_matches_server(self):
        for pw in ("app-pass", "x", "pässwörd"):
            self.assertEqual(native_password_hash(pw),
                             self.pair.primary.query_value("SELECT PASSWORD(%s)", (pw,)))

    def test_lag_by_stopping_sql_thread(self):
        p = self.pair
        p.primary.sql("CREATE TABLE IF NOT EXISTS test.lag (id INT PRIMARY KEY)")
        p.wait_replica_caught_up(30)
        p.stop_replica_sql_thread()
        try:
            p.primary.sql("INSERT INTO test.lag VALUES (1)")
            with self.assertRaises(util.WaitTimeout):
                p.wait_replica_caught_up(0.5)
            self.assertEqual(p.replica.sql("SELECT COUNT(*) FROM test.lag"), [(0,)])
        finally:
            p.start_replica_sql_thread()
        p.wait_replica_caught_up(30)
        self.assertEqual(p.replica.sql("SELECT COUNT(*) FROM test.lag"), [(1,)])

    def test_sigstop_hangs_then_sigcont_resumes(self):
        s = self.pair.replica
        s.sigstop()
        try:
            self.assertTrue(s.is_stopped())
            t0 = time.monotonic()
            with self.assertRaises(pymysql.err.OperationalError):
                s.sql("SELECT 1", connect_timeout=1, read_timeout=1)
            self.assertLess(time.monotonic() - t0, 10)
        finally:
            s.sigcont()
        self.assertFalse(s.is_stopped())
        self.assertEqual(s.sql("SELECT 1"), [(1,)])

    def test_kill9_and_restart(self):
        p = self.pair
        for s in (p.replica, p.primary):
            old_pid, port = s.pid, s.port
            s.kill9()
            self.assertFalse(s.is_running())
            self.assertTrue(pid_gone(old_pid), old_pid)
            self.assertFalse(util.can_connect(s.host, port))
            s.restart()
            self.assertTrue(s.is_running())
            self.assertNotEqual(s.pid, old_pid)
            self.assertEqual(s.port, port)
        # Replication resumes by itself after both crashed (connect retry 1 s).
        p.primary.sql("CREATE TABLE IF NOT EXISTS test.after_crash (id INT PRIMARY KEY)")
        p.primary.sql("REPLACE INTO test.after_crash VALUES (7)")
        util.wait_for(p.replication_running, 30, what="replication after restart")
        p.wait_replica_caught_up(30)
        self.assertEqual(p.replica.sql("SELECT id FROM test.after_crash"), [(7,)])

    def test_mariadb_cli(self):
        port = self.pair.primary.port
        rc, out, err = clients.mariadb_cli(port, "SELECT name FROM items ORDER BY id",
                                           database="demo")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.split(), ["apple", "pear", "plum"])
        bad = clients.mariadb_cli(port, "SELECT 1", password="wrong")
        self.assertNotEqual(bad.rc, 0)
        self.assertIn("1045", bad.stderr)

    def test_sysbench_runs_and_parses(self):
        port = self.pair.primary.port
        kw = dict(tables=1, table_size=200, threads=2)
        clients.sysbench_prepare(port, "oltp_read_only", check=True, **kw)
        try:
            r = clients.sysbench_run(port, "oltp_read_only", time_s=2, check=True, **kw)
        finally:
            clients.sysbench_cleanup(port, "oltp_read_only", check=True, **kw)
        self.assertGreater(r.transactions, 0, r.output[-2000:])
        self.assertGreater(r.queries, r.transactions)
        self.assertEqual((r.errors, r.reconnects), (0, 0))
        self.assertIn("p95", r.latency_ms)
        self.assertLessEqual(r.latency_ms["min"], r.latency_ms["max"])
        pct = r.percentiles_ms
        self.assertTrue(pct[50] <= pct[95] <= pct[99] <= r.latency_ms["max"] + 1, pct)


class SemiSyncStopTest(unittest.TestCase):
    """A semi-sync pair; stop() leaves no process, pid file or listener."""

    def test_semi_sync_then_stop_leaves_nothing(self):
        d = util.scratch_dir("harness_semisync")
        pids_dir = d / "pids"
        old = os.environ.get(procs.PIDS_DIR_ENV)
        os.environ[procs.PIDS_DIR_ENV] = str(pids_dir)
        try:
            pair = MariaDBPair(d / "pair", semi_sync=True, semi_sync_timeout_ms=5000)
            with pair:
                self.assertTrue(pair.semi_sync_active(), pair.semi_sync_status())
                self.assertEqual(pair.replica.status("Rpl_semi_sync_slave_status"), "ON")
                before = int(pair.semi_sync_status()["Rpl_semi_sync_master_yes_tx"])
                pair.primary.sql("INSERT INTO demo.items (name) VALUES ('acked')")
                self.assertEqual(int(pair.semi_sync_status()["Rpl_semi_sync_master_yes_tx"]),
                                 before + 1)
                pids = [s.pid for s in pair.servers]
                ports = [s.port for s in pair.servers]
                self.assertEqual(sorted(int(f.name) for f in pids_dir.iterdir()), sorted(pids))
            for pid in pids:
                self.assertTrue(pid_gone(pid), pid)
            for port in ports:
                self.assertFalse(util.can_connect(util.LOOPBACK, port))
            self.assertEqual(list(pids_dir.iterdir()), [])
            self.assertEqual([p for p in procs.running() if p.pid in pids], [])
        finally:
            if old is None:
                os.environ.pop(procs.PIDS_DIR_ENV, None)
            else:
                os.environ[procs.PIDS_DIR_ENV] = old
            util.remove_scratch(d)


class TemplateTest(unittest.TestCase):
    def test_concurrent_builders_share_one_template(self):
        d = util.scratch_dir("harness_template")
        old = os.environ.get("TANDEM_TEST_CACHE")
        os.environ["TANDEM_TEST_CACHE"] = str(d)
        try:
            results, errors = [], []

            def build():
                try:
                    results.append(template.template_datadir())
                except Exception as exc:  # reported below, not lost in the thread
                    errors.append(exc)

            threads = [threading.Thread(target=build) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(set(results)), 1)
            entries = sorted(p.name for p in d.iterdir())
            self.assertEqual(entries, [".lock", results[0].name])   # no .building-* left
            self.assertTrue((results[0] / "mysql" / "global_priv.MAI").exists())
        finally:
            if old is None:
                os.environ.pop("TANDEM_TEST_CACHE", None)
            else:
                os.environ["TANDEM_TEST_CACHE"] = old
            util.remove_scratch(d)


class _FakePair:
    """Enough of a MariaDBPair for pair_config() without starting servers."""
    class _S:
        def __init__(self, port):
            self.address = f"127.0.0.1:{port}"

    primary, replica = _S(3306), _S(3307)


class TandemProcessTest(unittest.TestCase):
    """TandemProcess against fake_tandem.py (no MySQL protocol involved)."""

    def setUp(self):
        self.dir = util.scratch_dir("harness_tandem")

    def tearDown(self):
        util.remove_scratch(self.dir)

    def test_config_shape(self):
        cfg = pair_config(_FakePair(), ["a", "b"], users={"u": {"password_hash":
                                                                  native_password_hash("x")}})
        self.assertEqual(cfg["clusters"]["db1"], {
            "primary": "127.0.0.1:3306", "replicas": ["127.0.0.1:3307"],
            "monitor": {"user": "tandem_monitor", "password": "monitor-pass"}})
        self.assertEqual(set(cfg["tenants"]), {"a", "b"})
        self.assertEqual(cfg["tenants"]["a"]["cluster"], "db1")
        self.assertEqual(cfg["tenants"]["a"]["allow"], ["127.0.0.0/8"])
        ports = {util.split_hostport(t["listen"])[1] for t in cfg["tenants"].values()}
        self.assertEqual(len(ports), 2)
        self.assertRegex(cfg["tenants"]["b"]["users"]["u"]["password_hash"], r"^\*[0-9A-F]{40}$")

    def test_start_reload_stop(self):
        cfg = pair_config(_FakePair(), ["t1", "t2"])
        t = TandemProcess(FAKE_TANDEM, cfg, self.dir)
        with t:
            for host, port in t.listen_addresses(include_admin=True):
                self.assertTrue(util.can_connect(host, port))
            cfg["tenants"]["t3"] = dict(cfg["tenants"]["t1"], listen="127.0.0.1:1")
            t.reload(cfg)
            util.wait_for(lambda: "reloaded (3 tenants)" in t.log_text(), 10, what="reload")
            pid = t.pid
        self.assertEqual(t.returncode, 0)
        self.assertTrue(pid_gone(pid))
        self.assertIn("shutting down", t.log_text())

    def test_exit_before_listening_reports_log(self):
        cfg = pair_config(_FakePair(), ["t1"])
        cfg["_fake"] = {"exit": 3, "message": "config error at $.tenants.t1"}
        with self.assertRaises(TandemFailed) as cm:
            TandemProcess(FAKE_TANDEM, cfg, self.dir).start(timeout=10)
        self.assertIn("config error at $.tenants.t1", str(cm.exception))
        self.assertIn("exited with 3", str(cm.exception))

    def test_missing_binary(self):
        with self.assertRaises(TandemFailed):
            TandemProcess(self.dir / "nope", pair_config(_FakePair()), self.dir).start()


class DemoTest(unittest.TestCase):
    """demo.py starts a pair and (fake) tandem, prints how to connect, and
    SIGTERM stops all of it with exit 0."""

    def test_demo_runs_and_stops_cleanly(self):
        d = util.scratch_dir("harness_demo")
        env = dict(os.environ, TANDEM_DEMO_DIR=str(d / "state"), PYTHONDONTWRITEBYTECODE="1")
        demo = procs.ManagedProcess(
            [sys.executable, HARNESS / "demo.py", "--port", "0", "--admin-port", "0",
             "--binary", FAKE_TANDEM], d / "demo.log", name="demo", env=env)
        try:
            demo.start()
            log = d / "demo.log"
            util.wait_for(lambda: "\ndemo: ready\n" in log.read_text() or not demo.is_running(), 90,
                          what="demo to be ready")
            text = log.read_text()
            self.assertTrue(demo.is_running(), text)
            self.assertRegex(text, r"mariadb -h 127\.0\.0\.1 -P \d+ -u app -papp-pass demo")
            pids = [int(x) for x in (d / "state" / "demo.pids").read_text().split()]
            self.assertEqual(len(pids), 4, text)    # demo, primary, replica, tandem
            # The printed direct command really works against the primary.
            port = int(text.split("primary  directly:")[1].split("-P ")[1].split()[0])
            self.assertEqual(clients.mariadb_cli(port, "SELECT COUNT(*) FROM items",
                                                 database="demo").stdout.strip(), "3")
            demo.send(signal.SIGTERM)
            self.assertEqual(demo.wait(60), 0, log.read_text())
            for pid in pids:
                self.assertTrue(pid_gone(pid), pid)
        finally:
            demo.stop()
            util.remove_scratch(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
