"""Shared pieces of the health/failover integration tests: a pair with a
tandem in front of it, the admin endpoint as a client, and a client that
writes in a loop (one new connection per write) recording every error.

Not a test file itself (meson runs only test_*.py)."""

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql  # noqa: E402

from harness import accounts, clients, util  # noqa: E402
from harness import failover_load  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config, raise_problems  # noqa: E402

CLUSTER = "db1"
TENANT = "vps17"


class Admin:
    """tandem's admin endpoint over HTTP (urllib; no extra packages)."""

    def __init__(self, port: int, token: str | None = None):
        self.base = f"http://{util.LOOPBACK}:{port}"
        self.token = token

    def request(self, method: str, path: str, timeout: float = 60.0):
        """(status, body): body is parsed JSON for JSON answers, else text."""
        req = urllib.request.Request(self.base + path, method=method,
                                     data=b"" if method == "POST" else None)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                code, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            code, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        text = raw.decode()
        return code, json.loads(text) if "json" in ctype and text.strip() else text

    def status(self) -> dict:
        code, body = self.request("GET", "/status")
        assert code == 200, (code, body)
        return body

    def cluster(self, name: str = CLUSTER) -> dict:
        return self.status()["clusters"][name]

    def member(self, address: str, name: str = CLUSTER) -> dict:
        for m in self.cluster(name)["members"]:
            if m["address"] == address:
                return m
        raise KeyError(address)

    def health(self):
        return self.request("GET", "/health")

    def metrics(self) -> str:
        code, body = self.request("GET", "/metrics")
        assert code == 200, (code, body)
        return body

    def post(self, path: str):
        return self.request("POST", path)


def metric_samples(text: str) -> dict:
    """Prometheus text -> {'name{labels}': float} (labels as printed)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def label_key(name: str, **labels) -> str:
    """The sample key tandem prints: labels in the order given."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


class Stack:
    """A MariaDBPair, a tandem with one cluster and one tenant in front of
    it, and its admin client. monitor/failover dicts are merged into the
    cluster's config; cluster (a dict, or a function of the started Stack
    returning one) is merged into the cluster entry itself."""

    def __init__(self, name: str, monitor: dict | None = None, failover: dict | None = None,
                 admin: dict | None = None, workers: int = 2, limits: dict | None = None,
                 cluster: dict | None = None):
        self.dir = util.scratch_dir(name)
        self.pair = MariaDBPair(self.dir / "pair")
        self.monitor = monitor or {}
        self.failover = failover or {}
        self.admin_extra = admin or {}
        self.workers = workers
        self.limits = limits
        self.cluster_extra = cluster or {}
        self.tandem = None
        self.admin = None

    def config(self) -> dict:
        cfg = pair_config(self.pair, tenants=(TENANT,), cluster=CLUSTER, workers=self.workers)
        cfg["clusters"][CLUSTER]["monitor"].update(self.monitor)
        if self.failover:
            cfg["clusters"][CLUSTER]["failover"] = dict(self.failover)
        extra = self.cluster_extra
        cfg["clusters"][CLUSTER].update(extra(self) if callable(extra) else extra)
        cfg["admin"].update(self.admin_extra)
        if self.limits:
            cfg["limits"] = dict(self.limits)
        return cfg

    def start(self) -> "Stack":
        try:
            self.pair.start()
            self.tandem = TandemProcess(None, self.config(), self.dir / "tandem")
            self.tandem.start(wait_admin=True)
            self.admin = Admin(self.tandem.admin_port(), self.admin_extra.get("token"))
        except BaseException:
            self.stop()
            raise
        return self

    def kill_primary(self, p, r) -> float:
        """kill -9 of p; returns once tandem published r as primary. The
        kill's monotonic time."""
        t = time.monotonic()
        p.kill9()
        util.wait_for(lambda: self.admin.cluster()["primary"] == r.address, 30,
                      what="the failover")
        return t

    def bring_back(self, killed):
        """Restart a killed server as a replica of the new primary and tell
        tandem it is ready (POST .../ready). The answer's (code, body)."""
        failover_load.restart_as_replica(killed)
        util.wait_for(lambda: self.admin.member(killed.address)["health"] == "UP", 30,
                      what="the killed server to answer probes")
        return self.admin.post(f"/clusters/{CLUSTER}/members/{killed.address}/ready")

    def stop(self) -> None:
        """Stop everything; then fail if tandem crashed, exited non-zero or
        reported a sanitizer finding (the ASan+UBSan build aborts on one and
        checks for leaks at exit)."""
        rc = None
        try:
            for s in self.pair.servers:
                if s.is_stopped():
                    s.sigcont()
        finally:
            if self.tandem:
                rc = self.tandem.stop()
            self.pair.stop()
        if self.tandem:
            raise_problems(self.tandem.exit_problems(rc))

    def cleanup(self) -> None:
        util.remove_scratch(self.dir)

    @property
    def port(self) -> int:
        return self.tandem.tenant_port(TENANT)

    def connect(self, **kw) -> pymysql.connections.Connection:
        kw.setdefault("database", "test")
        kw.setdefault("connect_timeout", 10)
        return clients.connect(self.port, **kw)

    def server_id_via_tandem(self) -> int:
        with self.connect() as c, c.cursor() as cur:
            cur.execute("SELECT @@server_id")
            return cur.fetchone()[0]

    def wait_healthy(self, primary, replica, timeout: float = 60.0) -> None:
        """Until /status shows primary as the UP primary and replica UP and
        replicating with a millisecond lag (from GTIDs, or the heartbeat
        where a test turns monitor.heartbeat on)."""
        def ok():
            c = self.admin.cluster()
            if c["primary"] != primary.address or c["transition"] != "none":
                return False
            ms = {m["address"]: m for m in c["members"]}
            p, r = ms[primary.address], ms[replica.address]
            repl = r["replication"] or {}
            return (p["state"] == "UP" and p["role"] == "primary" and r["state"] == "UP"
                    and r["role"] == "replica" and r["lag_source"] in ("gtid", "heartbeat")
                    and r["lag_ms"] is not None and r["lag_ms"] < 1000
                    and repl.get("io_running") == "Yes" and repl.get("sql_running")
                    # tandem has shortened the heartbeat period (a brief STOP/START
                    # SLAVE) before the test touches replication itself
                    and (repl.get("heartbeat_period_ms") or 0) <= 750)
        try:
            util.wait_for(ok, timeout, what=f"{primary.address} primary, {replica.address} replica")
        except util.WaitTimeout as exc:
            c = self.admin.cluster()
            brief = [{k: m[k] for k in ("address", "state", "role", "lag_ms", "lag_source",
                                        "last_error", "replication")} for m in c["members"]]
            raise util.WaitTimeout(f"{exc}; primary {c['primary']}, transition "
                                   f"{c['transition']}, members {brief}") from None


def make_table(stack: Stack, table: str = "test.writes") -> None:
    with stack.connect() as c, c.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                    "(id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, "
                    " server INT NOT NULL)")


def insert_once(stack: Stack, v: int, table: str = "test.writes",
                connect_timeout: float = 10) -> int:
    """One new connection, one autocommit INSERT; returns the server_id."""
    with stack.connect(connect_timeout=connect_timeout, read_timeout=30) as c, \
            c.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (v, server) VALUES (%s, @@server_id)", (v,))
        cur.execute("SELECT @@server_id")
        return cur.fetchone()[0]


def until_writable(stack: Stack, v: int, timeout: float = 30.0):
    """Insert with a new connection per try until one succeeds; returns
    (seconds taken, errors seen, server_id)."""
    t0 = time.monotonic()
    errors = []
    while True:
        try:
            sid = insert_once(stack, v, connect_timeout=5)
            return time.monotonic() - t0, errors, sid
        except pymysql.MySQLError as e:
            errors.append(e.args)
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"not writable after {timeout}s: {errors[-3:]}")
            time.sleep(0.01)


class WriteLoop(threading.Thread):
    """Autocommit INSERTs in a loop, one new connection each, until stop();
    every success and error is recorded with its time."""

    def __init__(self, stack: Stack, table: str = "test.writes", pause: float = 0.0):
        super().__init__(daemon=True)
        self.stack = stack
        self.table = table
        self.pause = pause
        self.done = []      # (monotonic time, v, server_id)
        self.errors = []    # (monotonic time, v, error args)
        self._stop_ev = threading.Event()

    def run(self):
        v = 0
        while not self._stop_ev.is_set():
            v += 1
            try:
                sid = insert_once(self.stack, v, self.table)
                self.done.append((time.monotonic(), v, sid))
            except pymysql.MySQLError as e:
                self.errors.append((time.monotonic(), v, e.args))
            if self.pause:
                time.sleep(self.pause)

    def stop(self):
        self._stop_ev.set()
        self.join(60)


def log(msg: str) -> None:
    """Measurements go to stderr so they show in meson's test log."""
    print(msg, file=sys.stderr, flush=True)


__all__ = ["Admin", "Stack", "WriteLoop", "accounts", "clients", "insert_once", "label_key",
           "log", "make_table", "metric_samples", "until_writable", "util", "CLUSTER", "TENANT",
           "pymysql"]
