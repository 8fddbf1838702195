"""loadlib: the pieces of the load benchmarks (bench/sessions, bench/storm)
and their smoke test: tandem in front of bench/fakedb, many idle sessions
held by asyncio clients in several processes (then each runs a query), a
connection storm by bench/stormgen, and tandem's descriptors, RSS and CPU
from /proc.

Why a fake and not a real server: 10,000 sessions need 10,000 backend
connections, and a storm of logins needs a backend whose own login costs
next to nothing, or the backend is what gets measured. Nothing here checks
tandem's answers beyond what a client must (an OK after the login, a
complete result after a query): the tests do that.

Runs under Debian's /usr/bin/python3. Must not: assert timing (benchmarks
report; tests assert behaviour).
"""

import asyncio
import hashlib
import multiprocessing as mp
import os
import re
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))

from harness import accounts, procs, util  # noqa: E402
from harness.tandem import TandemProcess  # noqa: E402

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
CAPS = ((1 << 0) | (1 << 2) | (1 << 9) | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 17)
        | (1 << 19) | (1 << 21))
SERVER_CAPS = CAPS | (1 << 3) | (1 << 20) | (1 << 23)
NATIVE = b"mysql_native_password"


# -- /proc ----------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_nofile() -> int:
    """Raise the soft descriptor limit to the hard one (processes started
    later inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# -- wire helpers ------------------------------------------------------------------

def frame(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq & 0xFF]) + payload


def lenenc_str(b: bytes) -> bytes:
    return bytes([len(b)]) + b


async def read_packet(r: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await r.readexactly(4)
    n = int.from_bytes(head[:3], "little")
    return head[3], await r.readexactly(n)


def native_reply(password: str, scramble: bytes) -> bytes:
    s1 = hashlib.sha1(password.encode()).digest()
    s2 = hashlib.sha1(s1).digest()
    mask = hashlib.sha1(scramble + s2).digest()
    return bytes(a ^ b for a, b in zip(s1, mask))


# -- the fake server ---------------------------------------------------------------

class FakeBackend:
    """bench/fakedb (C, one epoll loop per thread) on a free port: it
    accepts any login, answers SELECT with one row (and the health
    monitor's probes), anything else with an OK."""

    def __init__(self, build_dir: Path, workdir: Path, threads: int = 2):
        self.binary = Path(build_dir) / "bench" / "fakedb"
        self.log = Path(workdir) / "fakedb.log"
        self.proc = procs.ManagedProcess([self.binary, "--threads", str(threads)], self.log,
                                         name="fakedb")
        self.port = None
        self.address = None

    def start(self) -> "FakeBackend":
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"{self.binary} is missing: ninja -C {self.binary.parents[1]}")
        self.proc.start()
        m = util.wait_for(lambda: re.search(r"listening on [\d.]+:(\d+)",
                                            self.log.read_text() if self.log.exists() else ""),
                          10, what="fakedb to listen")
        self.port = int(m.group(1))
        self.address = f"127.0.0.1:{self.port}"
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.stop(5)


# -- tandem in front of it ------------------------------------------------------------

def tandem_config(backend: str, workers: int, limits: dict | None = None) -> dict:
    return {
        "admin": {"listen": f"127.0.0.1:{util.free_port()}"},
        "workers": workers,
        # the fake is not under test: on a loaded machine its answers may
        # take seconds, which must not fail a login
        "limits": {"max_auth_failures": 0, "connect_timeout_ms": 30000, **(limits or {})},
        "clusters": {"fake": {"primary": backend,
                              # the fake is not under test: a probe slowed by the
                              # load must not take it out of service
                              "monitor": {"user": accounts.MONITOR_USER,
                                          "password": accounts.MONITOR_PASSWORD,
                                          "interval_ms": 1000, "timeout_ms": 30000,
                                          "failures": 100, "heartbeat": False},
                              "failover": {"auto": False}}},
        "tenants": {"t1": {"listen": f"127.0.0.1:{util.free_port()}",
                           "allow": ["127.0.0.0/8"], "cluster": "fake",
                           "users": {APP: {"password": APP_PW}}}},
    }


def start_tandem(binary, workdir: Path, backend: str, workers: int = 2,
                 limits: dict | None = None) -> TandemProcess:
    """tandem in front of the fake. Under AddressSanitizer (a build-asan
    binary) freed memory waits in a 256 MiB quarantine before reuse, which
    alone would fill RSS: it is kept small so RSS shows what tandem holds
    (the option means nothing to a build without ASan)."""
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "")
               + ":quarantine_size_mb=1")
    t = TandemProcess(binary, tandem_config(backend, workers, limits), workdir, env=env)
    return t.start()


# -- the client side --------------------------------------------------------------------

async def login(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    _, g = await read_packet(r)
    if g[:1] != b"\x0a":
        w.close()
        raise RuntimeError(f"no greeting: {g[:80]!r}")
    i = g.index(b"\0", 1) + 1
    part1 = g[i + 4:i + 12]
    j = i + 31
    scramble = part1 + g[j:j + 12]
    auth = native_reply(APP_PW, scramble)
    body = (struct.pack("<IIB", CAPS, 1 << 24, 45) + b"\0" * 23 + APP.encode() + b"\0"
            + bytes([len(auth)]) + auth + NATIVE + b"\0")
    w.write(frame(1, body))
    _, p = await read_packet(r)
    if p[:1] != b"\x00":
        w.close()
        raise RuntimeError(f"login refused: {p[:80]!r}")
    return r, w


async def select_one(r, w) -> None:
    w.write(frame(0, b"\x03SELECT 1"))
    eofs = 0
    while eofs < 2:
        _, p = await read_packet(r)
        if p[:1] == b"\xff":
            raise RuntimeError(f"query failed: {p[:80]!r}")
        if p[:1] == b"\xfe" and len(p) < 9:
            eofs += 1


async def _hold(port: int, n: int, parallel: int, q_ready, q_cmd, q_done):
    """Open n sessions (at most `parallel` logins at once), report, wait for
    "query", run SELECT 1 on each, report, wait for "close", close them."""
    sem = asyncio.Semaphore(parallel)
    sessions, errors = [], []

    async def one():
        async with sem:
            try:
                sessions.append(await login(port))
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(repr(e))
    await asyncio.gather(*(one() for _ in range(n)))
    q_ready.put((len(sessions), errors[:3], len(errors)))
    loop = asyncio.get_running_loop()
    cmd = await loop.run_in_executor(None, q_cmd.get)
    ok, qerr = 0, []
    if cmd == "query":
        async def query(rw):
            nonlocal ok
            async with sem:
                try:
                    await select_one(*rw)
                    ok += 1
                except Exception as e:  # noqa: BLE001
                    qerr.append(repr(e))
        await asyncio.gather(*(query(rw) for rw in sessions))
        q_done.put((ok, qerr[:3], len(qerr)))
        await loop.run_in_executor(None, q_cmd.get)
    for r, w in sessions:
        try:
            w.write(frame(0, b"\x01"))
            w.close()
        except Exception:  # noqa: BLE001
            pass
    await asyncio.sleep(0.1)


def _hold_process(port, n, parallel, q_ready, q_cmd, q_done):
    raise_nofile()
    asyncio.run(_hold(port, n, parallel, q_ready, q_cmd, q_done))


class Sessions:
    """n logged-in idle sessions through tandem, held by `nprocs` processes.
    open() returns (opened, errors); query() has each run SELECT 1 and
    returns (ok, errors); close() quits them all."""

    def __init__(self, port: int, n: int, nprocs: int = 4, parallel: int = 200):
        ctx = mp.get_context("fork")
        self.q_ready, self.q_done = ctx.Queue(), ctx.Queue()
        self.q_cmd = [ctx.Queue() for _ in range(nprocs)]
        share = [n // nprocs + (1 if i < n % nprocs else 0) for i in range(nprocs)]
        self.procs = [ctx.Process(target=_hold_process, daemon=True,
                                  args=(port, share[i], parallel, self.q_ready, self.q_cmd[i],
                                        self.q_done)) for i in range(nprocs)]

    def open(self, timeout: float = 300) -> tuple[int, list, int]:
        for p in self.procs:
            p.start()
        opened, samples, errors = 0, [], 0
        for _ in self.procs:
            n, s, e = self.q_ready.get(timeout=timeout)
            opened, errors = opened + n, errors + e
            samples += s
        return opened, samples, errors

    def query(self, timeout: float = 300) -> tuple[int, list, int]:
        for q in self.q_cmd:
            q.put("query")
        ok, samples, errors = 0, [], 0
        for _ in self.procs:
            n, s, e = self.q_done.get(timeout=timeout)
            ok, errors = ok + n, errors + e
            samples += s
        return ok, samples, errors

    def close(self):
        for q in self.q_cmd:
            q.put("close")
        for p in self.procs:
            p.join(60)


def storm(build_dir: Path, port: int, rate: float, seconds: float, threads: int = 16) -> dict:
    """bench/stormgen: connect, log in and quit at `rate` per second in total
    for `seconds`; returns its counts, achieved rate and latency (us)."""
    binary = Path(build_dir) / "bench" / "stormgen"
    p = subprocess.run([binary, "--port", str(port), "--rate", str(rate), "--seconds",
                        str(seconds), "--threads", str(threads)],
                       capture_output=True, text=True, timeout=seconds + 300)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("result ")), None)
    if line is None:
        raise RuntimeError(f"stormgen printed no result: {p.stdout}{p.stderr}")
    head, _, err = line.partition(" first_error=")
    r = {k: float(v) for k, v in (kv.split("=") for kv in head.split()[1:])}
    r["first_error"] = err
    return r
