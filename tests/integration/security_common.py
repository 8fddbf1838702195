"""Shared pieces of the security, limits and bad-input tests: reading
tandem's admin endpoint (with or without a token), its /metrics values,
its process counters from /proc (RSS, CPU time, open descriptors), and a
"bystander": a logged-in session on the same worker that must keep
answering while another connection misbehaves.

Nothing here sleeps to synchronise: waits poll a condition (util.wait_for)."""

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request

from harness import accounts, clients, rawclient, util


# -- config ----------------------------------------------------------------------

def no_failover(cfg: dict) -> dict:
    """These tests are not about failover: a loaded machine (or tandem under
    valgrind) that makes a few probes time out must not move the primary
    under them. The monitor still probes and reports."""
    for c in cfg["clusters"].values():
        c["failover"] = {"auto": False}
    return cfg


# -- admin endpoint --------------------------------------------------------------

def admin_get(port: int, path: str, token: str | None = None, method: str = "GET",
              timeout: float = 10) -> tuple[int, str]:
    """(HTTP status, body text) of one admin request; never raises on 4xx/5xx."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=b"" if method == "POST" else None)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def status(tandem, token: str | None = None) -> dict:
    code, body = admin_get(tandem.admin_port(), "/status", token)
    assert code == 200, (code, body)
    return json.loads(body)


def metrics_text(tandem, token: str | None = None) -> str:
    code, body = admin_get(tandem.admin_port(), "/metrics", token)
    assert code == 200, (code, body)
    return body


def metric(text: str, name: str, labels: str | None = None) -> float | None:
    """The value of `name{labels}` (or `name` without labels) in a /metrics
    text, or None when absent. labels is the inside of the braces, e.g.
    'tenant="t1"'."""
    sel = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "")
    m = re.search(rf"^{sel} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def tenant_metric(tandem, name: str, tenant: str, token: str | None = None) -> float:
    v = metric(metrics_text(tandem, token), name, f'tenant="{tenant}"')
    assert v is not None, f"{name} for {tenant} missing from /metrics"
    return v


# -- the process -----------------------------------------------------------------

def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def assert_alive(test, tandem):
    """tandem's process runs and its tenant ports accept TCP connections."""
    test.assertTrue(tandem.is_running(), f"tandem exited:\n{tandem.log_tail()}")
    for host, port in tandem.listen_addresses():
        test.assertTrue(util.can_connect(host, port, timeout=5), f"{host}:{port} refuses")


# -- raw protocol ----------------------------------------------------------------

def read_err(c: rawclient.RawClient) -> tuple[int, int, str, str]:
    """(sequence id, code, sqlstate, message) of the next packet, an ERR."""
    seq, p = c.read_packet()
    code, state, msg = rawclient.parse_err(p)
    return seq, code, state, msg


def raw_attempt(port: int, user: str = accounts.APP_USER,
                password: str = accounts.APP_PASSWORD, caps: int = rawclient.BASE_CAPS,
                source: str | None = None) -> tuple[rawclient.RawClient, int, bytes]:
    """One native-password login: (client, sequence id, first payload of
    the answer). Whatever tandem sends first is returned as is: the OK or
    ERR of the login, or an ERR in place of the greeting."""
    c = rawclient.RawClient(port, source=source)
    seq, p = c.read_packet()
    if p[:1] == b"\xff":
        return c, seq, p
    c.sock.settimeout(10)
    # parse the greeting that was just read
    i = p.index(b"\0", 1) + 1
    part1 = p[i + 4:i + 12]
    j = i + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
    scramble = part1 + p[j:j + 12]
    c.send_packet(1, c.login_packet(user, rawclient.native_reply(password, scramble),
                                    "mysql_native_password", caps=caps))
    seq, p = c.read_packet()
    return c, seq, p


def raw_login(port: int, user: str = accounts.APP_USER,
              password: str = accounts.APP_PASSWORD,
              caps: int = rawclient.BASE_CAPS, source: str | None = None) -> rawclient.RawClient:
    """A RawClient logged in with mysql_native_password (asserts the OK)."""
    c, seq, p = raw_attempt(port, user, password, caps, source)
    assert (seq, p[:1]) == (2, b"\x00"), (seq, p[:80])
    return c


def raw_query_ok(c: rawclient.RawClient, sql: str = "SELECT 1") -> list[bytes]:
    """Run a text query that returns one result set; its packets up to the
    end (asserts no ERR). For classic-EOF clients (no DEPRECATE_EOF)."""
    c.send_packet(0, b"\x03" + sql.encode())
    pkts, eofs = [], 0
    while True:
        _, p = c.read_packet()
        pkts.append(p)
        assert p[:1] != b"\xff", rawclient.parse_err(p)
        if len(pkts) == 1 and p[:1] == b"\x00":
            return pkts
        if p[:1] == b"\xfe" and len(p) < 9:
            eofs += 1
            if eofs == 2:
                return pkts


# -- a bystander on the same worker ------------------------------------------------

class Bystander:
    """A logged-in PyMySQL session that runs `SELECT <n>` in a loop from
    its own thread while a test misbehaves on another connection. With
    `workers: 1` it lives on the same worker as the offender. check()
    asserts every query so far answered right and that queries kept
    running (at least `min_queries`)."""

    def __init__(self, port: int, pause: float = 0.02):
        self.conn = clients.connect(port, read_timeout=20)
        self.pause = pause
        self.count = 0
        self.errors: list[str] = []
        self.max_latency = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _run(self):
        n = 0
        while not self._stop.is_set():
            n += 1
            t0 = time.monotonic()
            try:
                with self.conn.cursor() as cur:
                    cur.execute(f"SELECT {n}")
                    row = cur.fetchone()
                if row is None or str(row[0]) != str(n):
                    self.errors.append(f"SELECT {n} returned {row!r}")
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                self.errors.append(repr(exc))
                return
            self.max_latency = max(self.max_latency, time.monotonic() - t0)
            self.count = n
            self._stop.wait(self.pause)

    def wait_queries(self, more: int = 3, timeout: float = 20):
        """Block until the bystander has run `more` further queries."""
        target = self.count + more
        util.wait_for(lambda: self.count >= target or self.errors, timeout,
                      what=f"bystander to reach {target} queries")

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass

    def check(self, test, min_queries: int = 1):
        test.assertEqual(self.errors, [], "the bystander session broke")
        test.assertGreaterEqual(self.count, min_queries, "the bystander stopped running")
