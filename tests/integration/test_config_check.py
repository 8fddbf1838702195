#!/usr/bin/python3
"""`tandem --check`, systemd notifications and the privilege drop, with the
real binary: the shipped examples pass --check; a file with many mistakes
gets every one printed with FILE:LINE:COL and its JSON path and exit 1; a
port that cannot be bound fails --check; READY=1 / RELOADING=1 / STOPPING=1
reach $NOTIFY_SOCKET (abstract and path sockets); "user" drops root after
binding, and a later reload that needs a privileged port fails cleanly.
With tandem running, --check on its own file gives the verdict it gives
with tandem stopped (its ports are not "in use"), and the unit's
ExecReload lines, run as systemd runs them, stop a bad file before the
SIGHUP."""

import copy
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import accounts, clients, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, default_binary, pair_config, tenant_config  # noqa: E402
from reload_common import check, reload_and_wait, status, stop_cleanly  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


class CheckTest(unittest.TestCase):
    """--check alone: no servers needed."""

    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("config_check")

    @classmethod
    def tearDownClass(cls):
        util.remove_scratch(cls.dir)

    def test_examples_pass(self):
        for name in ("demo.json", "large.json"):
            r = check(REPO / "examples" / name)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("configuration is valid", r.stderr)
        r = check(REPO / "examples" / "large.json")
        self.assertIn("(20 tenants, 3 clusters)", r.stderr)

    def test_every_error_with_line_and_path(self):
        text = """{
  "workers": 0,
  "limits": {"drain_timeout_ms": "soon"},
  "clusters": {
    "db1": {"primary": "127.0.0.1:3306", "monitor": {"user": "m", "password": "p"},
            "failover": {"max_lag_ms": -1}}
  },
  "tenants": {
    "a": {"listen": "127.0.0.1:99999", "allow": ["300.0.0.0/8"], "cluster": "db1",
          "users": {"u": {"password_hash": "*00"}}},
    "b": {"listen": "127.0.0.1:4001", "allow": ["10.0.0.0/8"], "cluster": "db2",
          "users": {}, "colour": "blue"}
  }
}
"""
        path = self.dir / "many.json"
        path.write_text(text)
        r = check(path)
        self.assertEqual(r.returncode, 1)
        expected = [
            ("2:3", "$.workers: 0 is out of range"),
            ("3:14", "$.limits.drain_timeout_ms: must be an integer"),
            ("6:26", "$.clusters.db1.failover.max_lag_ms: -1 is out of range"),
            ("9:11", "$.tenants.a.listen"),
            ("9:50", "$.tenants.a.allow[0]: not a CIDR"),
            ("10:27", "$.tenants.a.users.u.password_hash"),
            ("11:64", "$.tenants.b.cluster: no cluster named \"db2\""),
            ("12:24", "$.tenants.b.colour: unknown key"),
        ]
        errors = [line for line in r.stderr.splitlines() if ": error: " in line]
        self.assertEqual(len(errors), len(expected), r.stderr)
        for pos, msg in expected:
            self.assertIn(f"tandem: error: {path}:{pos}: {msg}", r.stderr)
        self.assertIn("configuration is invalid (8 errors)", r.stderr)

    def test_unbindable_port_fails_check(self):
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cfg = {"clusters": {"db1": {"primary": "127.0.0.1:3306",
                                    "monitor": {"user": "m", "password": "p"}}},
               "admin": {"listen": f"127.0.0.1:{util.free_port()}"},
               "tenants": {"a": tenant_config("db1", port)}}
        path = self.dir / "held.json"
        path.write_text(json.dumps(cfg))
        try:
            r = check(path)
        finally:
            held.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"$.tenants.a.listen: cannot bind 127.0.0.1:{port}", r.stderr)
        self.assertEqual(check(path).returncode, 0)  # free again

    def test_secret_file_permissions_warned(self):
        pw = self.dir / "mon.pw"
        pw.write_text("monitor-pass\n")
        pw.chmod(0o604)
        cfg = {"clusters": {"db1": {"primary": "127.0.0.1:3306",
                                    "monitor": {"user": "m", "password_file": str(pw)}}},
               "admin": {"listen": f"127.0.0.1:{util.free_port()}"},
               "tenants": {"a": tenant_config("db1", users={"u": {"password_hash": "*" + "0" * 40}})}}
        path = self.dir / "perm.json"
        path.write_text(json.dumps(cfg))
        r = check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning:", r.stderr)
        self.assertIn("$.clusters.db1.monitor.password_file", r.stderr)
        self.assertIn("readable by others", r.stderr)
        self.assertNotIn("monitor-pass", r.stderr)
        pw.chmod(0o600)
        self.assertNotIn("warning:", check(path).stderr)


class RunningTest(unittest.TestCase):
    """sd_notify and the privilege drop, with a real pair."""

    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("config_run")
        os.chmod(cls.dir, 0o755)  # the dropped user reads its config here
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()
        util.remove_scratch(cls.dir)

    def notify_socket(self, abstract):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"tandem-test-{os.getpid()}-{time.monotonic_ns()}"
            s.bind("\0" + name)
            env_value = "@" + name
        else:
            p = self.dir / f"notify-{time.monotonic_ns()}.sock"
            s.bind(str(p))
            env_value = str(p)
        s.settimeout(10)
        self.addCleanup(s.close)
        return s, env_value

    def expect(self, sock, *keys):
        msg = sock.recv(4096).decode()
        for k in keys:
            self.assertIn(k, msg.split("\n"), msg)
        return msg

    def check_notifications(self, abstract):
        sock, value = self.notify_socket(abstract)
        cfg = pair_config(self.pair, tenants=("a",))
        t = TandemProcess(None, cfg, self.dir / f"notify-{int(abstract)}",
                          env=dict(os.environ, NOTIFY_SOCKET=value))
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        self.expect(sock, "READY=1")
        # READY=1 came after the listeners: a client gets in
        clients.query(t.tenant_port("a"), "SELECT 1")
        c = copy.deepcopy(cfg)
        c["tenants"]["b"] = tenant_config("db1")
        reload_and_wait(t, c)
        msg = self.expect(sock, "RELOADING=1")
        self.assertTrue(any(line.startswith("MONOTONIC_USEC=") for line in msg.split("\n")))
        self.expect(sock, "READY=1")
        self.assertEqual(t.stop(), 0)
        self.expect(sock, "STOPPING=1")

    def test_notify_abstract_socket(self):
        self.check_notifications(True)

    def test_notify_path_socket(self):
        self.check_notifications(False)

    def verdict(self, path):
        """What --check says, without the file name (the same file is
        checked under two names)."""
        r = check(path)
        return r.returncode, r.stderr.replace(str(path), "FILE")

    def test_check_same_verdict_while_running(self):
        work = self.dir / "check_running"
        work.mkdir()
        cfg = pair_config(self.pair, tenants=("a", "b"))
        good = work / "good.json"
        good.write_text(json.dumps(cfg))
        bad_cfg = copy.deepcopy(cfg)
        bad_cfg["tenants"]["b"]["colour"] = "blue"
        bad = work / "bad.json"
        bad.write_text(json.dumps(bad_cfg))
        alone = [self.verdict(good), self.verdict(bad)]
        self.assertEqual(alone[0][0], 0, alone[0][1])
        self.assertIn("configuration is valid (2 tenants, 1 clusters)", alone[0][1])
        self.assertEqual(alone[1][0], 1)
        self.assertIn("$.tenants.b.colour: unknown key", alone[1][1])

        t = TandemProcess(None, cfg, work / "tandem")
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        # Every port of the file (both tenants and the admin listener) is
        # held by the running tandem now.
        for host, port in t.listen_addresses(include_admin=True):
            self.assertTrue(util.is_listening(host, port))
        running = [self.verdict(good), self.verdict(bad)]
        self.assertEqual(running, alone)
        self.assertNotIn("Address already in use", running[0][1])
        # Its own copy of the file, too.
        rc, text = self.verdict(t.config_path)
        self.assertEqual(rc, 0, text)
        # A port that someone else holds still fails while tandem runs.
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        self.addCleanup(held.close)
        other = copy.deepcopy(cfg)
        other["tenants"]["c"] = tenant_config("db1", held.getsockname()[1])
        p = work / "held.json"
        p.write_text(json.dumps(other))
        rc, text = self.verdict(p)
        self.assertEqual(rc, 1)
        self.assertIn(f"$.tenants.c.listen: cannot bind 127.0.0.1:{held.getsockname()[1]}: "
                      f"in use by pid {os.getpid()}", text)

    def test_check_as_another_user_asks_the_running_tandem(self):
        """A check that cannot see the running tandem's descriptors (another
        user without CAP_SYS_PTRACE, as under the systemd unit once tandem
        dropped to "user") asks the running tandem over its admin endpoint,
        with the file's token, where it listens."""
        if os.geteuid() != 0:
            self.fail("this test needs root (CI runs as root)")
        work = self.dir / "check_other_user"
        work.mkdir()
        os.chmod(work, 0o755)
        cfg = pair_config(self.pair, tenants=("a", "b"))
        cfg["admin"]["token"] = "check-token"
        t = TandemProcess(None, cfg, work / "tandem")
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        os.chmod(work / "tandem", 0o755)
        os.chmod(t.config_path, 0o644)

        def as_nobody(path):
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                default_binary(), "--check", "-c", str(path)],
                               capture_output=True, text=True, timeout=30)
            return r.returncode, r.stderr.replace(str(path), "FILE")
        self.assertEqual(as_nobody(t.config_path), self.verdict(t.config_path))
        self.assertEqual(as_nobody(t.config_path)[0], 0)
        # A wrong token: the running tandem does not answer, so the check
        # cannot tell whose the ports are, and says so.
        wrong = copy.deepcopy(cfg)
        wrong["admin"]["token"] = "not-the-token"
        p = work / "wrong.json"
        p.write_text(json.dumps(wrong))
        os.chmod(p, 0o644)
        rc, text = as_nobody(p)
        self.assertEqual(rc, 1)
        self.assertIn("in use by a process this check cannot see", text)
        self.assertEqual(self.verdict(p)[0], 0)  # root sees they are tandem's

    def exec_reload(self, t):
        """Run the unit's ExecReload lines as systemd does: in order, with
        $MAINPID, stopping at the first that fails. Returns the results."""
        unit = (REPO / "dist" / "tandem.service").read_text()
        lines = [ln.split("=", 1)[1] for ln in unit.splitlines() if ln.startswith("ExecReload=")]
        self.assertEqual(len(lines), 2, lines)
        results = []
        for line in lines:
            line = (line.replace("/usr/local/bin/tandem", default_binary())
                    .replace("/etc/tandem/tandem.json", str(t.config_path))
                    .replace("$MAINPID", str(t.pid)))
            r = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=30)
            results.append(r)
            if r.returncode != 0:
                break
        return results

    def test_unit_reload_checks_before_sighup(self):
        cfg = pair_config(self.pair, tenants=("a",))
        t = TandemProcess(None, cfg, self.dir / "unit_reload")
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        before = status(t)["config"]
        Path(t.config_path).write_text('{"tenants": ')
        results = self.exec_reload(t)
        self.assertEqual(len(results), 1, "the SIGHUP ran after a failed check")
        self.assertEqual(results[0].returncode, 1)
        self.assertIn("configuration is invalid", results[0].stderr)
        after = status(t)["config"]
        self.assertEqual((after["generation"], after["reload_failures"]),
                         (before["generation"], before["reload_failures"]))
        self.assertEqual(clients.query(t.tenant_port("a"), "SELECT 1"), [(1,)])
        # A good file goes through both lines and is taken.
        c = copy.deepcopy(cfg)
        c["tenants"]["b"] = tenant_config("db1")
        t.write_config(c)
        results = self.exec_reload(t)
        self.assertEqual([r.returncode for r in results], [0, 0], results[0].stderr)
        util.wait_for(lambda: status(t)["config"]["generation"] == before["generation"] + 1,
                      15, what="the reload after a passing check")
        self.assertEqual(clients.query(t.tenant_port("b"), "SELECT 2"), [(2,)])

    def test_user_drops_root_after_binding(self):
        if os.geteuid() != 0:
            self.fail("this test needs root (CI runs as root)")
        cfg = pair_config(self.pair, tenants=("a",))
        cfg["user"] = "nobody"
        work = self.dir / "dropped"
        work.mkdir()
        os.chmod(work, 0o755)
        t = TandemProcess(None, cfg, work)
        t.start(wait_admin=True)
        stop_cleanly(self, t)
        uids = [line for line in Path(f"/proc/{t.pid}/status").read_text().splitlines()
                if line.startswith(("Uid:", "Gid:"))]
        nobody_uid = 65534
        self.assertEqual(uids[0].split()[1:], [str(nobody_uid)] * 4, uids)
        self.assertIn("running as user nobody", t.log_text())
        self.assertEqual(clients.query(t.tenant_port("a"), "SELECT 1"), [(1,)])
        os.chmod(t.config_path, 0o644)
        # An unprivileged port still works on reload...
        c = copy.deepcopy(cfg)
        c["tenants"]["b"] = tenant_config("db1")
        t.write_config(c)
        os.chmod(t.config_path, 0o644)
        st = reload_and_wait(t, None)
        self.assertEqual(st["last_error"], "")
        self.assertEqual(clients.query(t.tenant_port("b"), "SELECT 2"), [(2,)])
        # ...a privileged one cannot be bound any more: the reload fails whole.
        low = next(p for p in range(700, 1000) if util.port_is_free(p))
        c2 = copy.deepcopy(c)
        c2["tenants"]["c"] = tenant_config("db1", low)
        t.write_config(c2)
        os.chmod(t.config_path, 0o644)
        st = reload_and_wait(t, None)
        self.assertIn(f"$.tenants.c.listen: cannot bind 127.0.0.1:{low}: Permission denied",
                      st["last_error"])
        self.assertEqual(st["generation"], 2)
        self.assertEqual(clients.query(t.tenant_port("a"), "SELECT 3",
                                       user=accounts.APP_USER), [(3,)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
