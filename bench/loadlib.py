"""loadlib: the pieces of the load benchmarks (bench/sessions, bench/storm)
and their smoke test: a fake MySQL server and a MySQL client load
generator, both asyncio and spread over several processes, plus starting
tandem in front of the fake and reading its descriptors, RSS and CPU from
/proc.

Why a Python fake and not a real server: 10,000 sessions need 10,000
backend connections, and a storm of logins needs a backend whose own
login costs next to nothing, or the backend is what gets measured. The
fake accepts any mysql_native_password login, answers SELECT with one row
and anything else with an OK, and answers the health monitor's probes.
Nothing here checks tandem's answers beyond what a client must (an OK
after the login, a complete result after a query): the tests do that.

Runs under Debian's /usr/bin/python3. Must not: assert timing (benchmarks
report; tests assert behaviour).
"""

import asyncio
import hashlib
import multiprocessing as mp
import os
import resource
import socket
import struct
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))

from harness import accounts, util  # noqa: E402
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

COLDEF = (lenenc_str(b"def") + b"\0\0\0" + lenenc_str(b"v") + lenenc_str(b"v") + b"\x0c"
          + struct.pack("<HIBHB", 63, 21, 0x08, 0, 0) + b"\0\0")
EOF_PKT = b"\xfe\x00\x00\x02\x00"


async def _serve_fake(r: asyncio.StreamReader, w: asyncio.StreamWriter):
    scramble = os.urandom(20).translate(bytes((i % 94) + 33 for i in range(256)))
    w.write(frame(0, b"\x0a" + b"5.5.5-10.11.0-MariaDB-loadfake\0" + struct.pack("<I", 1)
                  + scramble[:8] + b"\0" + struct.pack("<H", SERVER_CAPS & 0xFFFF) + b"\x2d"
                  + struct.pack("<H", 2) + struct.pack("<H", SERVER_CAPS >> 16) + b"\x15"
                  + b"\0" * 10 + scramble[8:] + b"\0" + NATIVE + b"\0"))
    try:
        seq, p = await read_packet(r)
        caps = struct.unpack_from("<I", p)[0]
        ok_tail = b"\x00" if caps & (1 << 23) else b""
        ok = b"\x00\x00\x00\x02\x00\x00\x00" + ok_tail
        w.write(frame(seq + 1, ok))
        while True:
            _, p = await read_packet(r)
            if not p or p[0] == 0x01:
                break
            if p[0] == 0x03 and p[1:7].upper() == b"SELECT":
                items = p[7:].split(b" FROM ")[0].split(b",")
                vals = [b"0" if b"read_only" in x else b"" if b"gtid" in x else b"1"
                        for x in items]
                out = frame(1, bytes([len(vals)]))
                s = 2
                for _ in vals:
                    out += frame(s, COLDEF)
                    s += 1
                out += frame(s, EOF_PKT)
                out += frame(s + 1, b"".join(lenenc_str(v) for v in vals))
                out += frame(s + 2, EOF_PKT)
                w.write(out)
            else:
                w.write(frame(1, ok))
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        w.close()


def _fake_process(sock: socket.socket, ready):
    raise_nofile()

    async def main():
        server = await asyncio.start_server(_serve_fake, sock=sock, backlog=4096)
        ready.set()
        async with server:
            await server.serve_forever()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class FakeBackend:
    """The fake server in `procs` processes sharing one listening socket."""

    def __init__(self, procs: int = 1):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.procs = []
        self.nprocs = procs

    def start(self) -> "FakeBackend":
        ctx = mp.get_context("fork")
        for _ in range(self.nprocs):
            ready = ctx.Event()
            p = ctx.Process(target=_fake_process, args=(self.sock, ready), daemon=True)
            p.start()
            ready.wait(30)
            self.procs.append(p)
        return self

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join(10)
        self.sock.close()


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
    """n logged-in idle sessions through tandem, held by `procs` processes.
    open() returns (opened, errors); query() has each run SELECT 1 and
    returns (ok, errors); close() quits them all."""

    def __init__(self, port: int, n: int, procs: int = 4, parallel: int = 200):
        ctx = mp.get_context("fork")
        self.q_ready, self.q_done = ctx.Queue(), ctx.Queue()
        self.q_cmd = [ctx.Queue() for _ in range(procs)]
        share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        self.procs = [ctx.Process(target=_hold_process, daemon=True,
                                  args=(port, share[i], parallel, self.q_ready, self.q_cmd[i],
                                        self.q_done)) for i in range(procs)]

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


async def _storm(port: int, rate: float, seconds: float, q):
    """Open-loop: start a connect/login/quit every 1/rate s for `seconds`."""
    ok, errors, lat = 0, [], []
    inflight = set()

    async def one():
        nonlocal ok
        t0 = time.monotonic()
        try:
            r, w = await asyncio.wait_for(login(port), 30)
            w.write(frame(0, b"\x01"))
            await w.drain()
            w.close()
            await w.wait_closed()
            ok += 1
            lat.append(time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    start = time.monotonic()
    i = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due = start + i / rate
        if due > now:
            await asyncio.sleep(due - now)
        task = asyncio.create_task(one())
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        i += 1
    started_for = time.monotonic() - start
    if inflight:
        await asyncio.wait(inflight, timeout=60)
    lat.sort()
    q.put((i, ok, errors[:3], len(errors), started_for,
           lat[len(lat) // 2] if lat else None, lat[int(len(lat) * 0.99)] if lat else None))


def _storm_process(port, rate, seconds, q):
    raise_nofile()
    asyncio.run(_storm(port, rate, seconds, q))


def storm(port: int, rate: float, seconds: float, procs: int = 4) -> dict:
    """Connect, log in and quit at `rate` per second in total for `seconds`;
    returns counts, achieved rate and latency percentiles."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    ps = [ctx.Process(target=_storm_process, args=(port, rate / procs, seconds, q), daemon=True)
          for _ in range(procs)]
    t0 = time.monotonic()
    for p in ps:
        p.start()
    res = [q.get(timeout=seconds + 120) for _ in ps]
    for p in ps:
        p.join(30)
    wall = time.monotonic() - t0
    started = sum(r[0] for r in res)
    ok = sum(r[1] for r in res)
    p50s = [r[5] for r in res if r[5] is not None]
    p99s = [r[6] for r in res if r[6] is not None]
    return {"started": started, "ok": ok, "errors": sum(r[3] for r in res),
            "error_samples": [e for r in res for e in r[2]][:5],
            "seconds": max(r[4] for r in res), "wall": wall,
            "rate": ok / max(r[4] for r in res),
            "p50_ms": max(p50s) * 1000 if p50s else None,
            "p99_ms": max(p99s) * 1000 if p99s else None}
