"""benchlib: what the bench runners (compare, micro, memory, profile) share:
finding the built programs, starting fakedb / tandem / HAProxy / loadgen
(through the test harness's process registry, so every process is stopped
by pid), reading CPU time and RSS from /proc, pinning, medians and tables.

Runs under Debian's /usr/bin/python3 (the harness needs its pymysql). Owns
no benchmark logic: each runner decides what to measure and prints its own
table. Must not: assert timing targets (benchmarks report, tests assert).
"""

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))

from harness import accounts, procs, util  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPBACK = util.LOOPBACK
HAPROXY = "/usr/sbin/haproxy"


# -- command line and environment --------------------------------------------------

def common_args(description: str) -> argparse.ArgumentParser:
    """Options every runner takes: --build-dir, --smoke, --workdir."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--build-dir", default=os.environ.get("TANDEM_BUILD_DIR", str(REPO / "build")),
                   help="meson build dir holding tandem and bench/{fakedb,loadgen} "
                        "(default: %(default)s)")
    p.add_argument("--smoke", action="store_true",
                   help="a run of seconds that only shows the benchmark works")
    p.add_argument("--workdir", default=None,
                   help="scratch dir for configs and logs (default: a fresh temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the workdir afterwards")
    return p


class Programs:
    """Paths of the built binaries; fails early with a hint if missing."""

    def __init__(self, build_dir):
        b = Path(build_dir).resolve()
        self.tandem = b / "tandem"
        self.fakedb = b / "bench" / "fakedb"
        self.loadgen = b / "bench" / "loadgen"
        for path in (self.tandem, self.fakedb, self.loadgen):
            if not os.access(path, os.X_OK):
                sys.exit(f"bench: {path} is missing; build first: meson setup {b} && "
                         f"ninja -C {b}")


def raise_nofile(n: int = 1 << 17) -> int:
    """Raise this process's RLIMIT_NOFILE (root may raise the hard limit);
    every process a runner starts inherits it. Returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (n, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def max_sessions() -> int:
    """Proxied sessions one process can hold under RLIMIT_NOFILE: each takes
    two descriptors (client and backend), plus a few dozen for listeners,
    epoll, eventfds and logs."""
    return (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64) // 2


def workdir(args, name: str) -> Path:
    if args.workdir:
        d = Path(args.workdir)
        d.mkdir(parents=True, exist_ok=True)
        return d
    return util.scratch_dir(f"bench-{name}")


def cleanup(args, d: Path) -> None:
    procs.stop_all()
    if not args.keep and not args.workdir:
        util.remove_scratch(d)


def machine() -> str:
    """One paragraph describing where the numbers came from."""
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

    def version(argv, pattern):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
            m = re.search(pattern, out)
            return m.group(1) if m else "?"
        except OSError:
            return "missing"

    load = os.getloadavg()
    mariadbd = version(["/usr/sbin/mariadbd", "--version"], r"Ver (\S+)")
    haproxy = version([HAPROXY, "-v"], r"version (\S+)")
    sysbench = version(["/usr/bin/sysbench", "--version"], r"sysbench (\S+)")
    return (f"machine: {os.cpu_count()} CPUs ({model}), {mem_gib:.0f} GiB, "
            f"Linux {platform.release()}, load avg {load[0]:.2f} at start; "
            f"mariadbd {mariadbd}, haproxy {haproxy}, sysbench {sysbench}")


# -- /proc -----------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy (not idle or iowait) since
    boot, from /proc/stat: with our own processes' CPU subtracted, what
    everything else on the machine used, i.e. how noisy a run was."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:9]]
    return (sum(vals) - vals[3] - vals[4]) / CLK_TCK


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pin(pid: int, cpus) -> None:
    """Pin every thread of a running process to cpus (None: leave as is)."""
    if cpus is None:
        return
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass


def parse_cpus(text: str | None):
    """'0' or '0,1' or '' (no pinning) -> set of ints or None. CPUs this
    process may not use are dropped, so the 2-CPU defaults degrade to no
    pinning on a 1-CPU machine instead of failing."""
    if not text:
        return None
    cpus = {int(x) for x in text.split(",")} & os.sched_getaffinity(0)
    return cpus or None


def taskset(cpus) -> list[str]:
    return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))] if cpus else []


# -- processes ---------------------------------------------------------------------

def wait_listening(port: int, proc: procs.ManagedProcess, what: str, log: Path,
                   timeout: float = 20) -> None:
    def ready():
        if not proc.is_running():
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{util.tail(log, 30)}")
        return util.can_connect(LOOPBACK, port, timeout=0.5)
    util.wait_for(ready, timeout, what=f"{what} to listen on {port}", ignore=())


class Fakedb:
    """bench/fakedb on a free port."""

    def __init__(self, prog: Programs, d: Path, cpus=None, threads: int = 1, rows: int = 1):
        self.log = d / "fakedb.log"
        self.proc = procs.ManagedProcess(
            [*taskset(cpus), prog.fakedb, "--threads", str(threads), "--rows", str(rows)],
            self.log, name="fakedb")
        self.port = None

    def start(self) -> "Fakedb":
        self.proc.start()
        m = util.wait_for(lambda: re.search(r"listening on [\d.]+:(\d+)",
                                            self.log.read_text() if self.log.exists() else ""),
                          10, what="fakedb to listen")
        self.port = int(m.group(1))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.stop(5)


class Tandem:
    """The tandem daemon with a config dict; optional argv prefix (valgrind)."""

    def __init__(self, prog: Programs, d: Path, config: dict, name: str = "tandem",
                 prefix=(), cpus=None):
        self.config = config
        self.cfg_path = d / f"{name}.json"
        self.log = d / f"{name}.log"
        self.cpus = cpus
        self.proc = procs.ManagedProcess([*prefix, prog.tandem, "-c", self.cfg_path],
                                         self.log, name=name)

    @property
    def port(self) -> int:
        return util.split_hostport(next(iter(self.config["tenants"].values()))["listen"])[1]

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout: float = 30) -> "Tandem":
        self.cfg_path.write_text(json.dumps(self.config, indent=2) + "\n")
        self.proc.start()
        wait_listening(self.port, self.proc, "tandem", self.log, timeout)
        pin(self.pid, self.cpus)
        return self

    def stop(self):
        return self.proc.stop(15)


def tandem_config(backend: str, workers: int, replicas=(), port: int | None = None) -> dict:
    """One tenant ("bench", user app/app-pass) in front of backend."""
    return {
        "admin": {"listen": f"{LOOPBACK}:{util.free_port()}"},
        "workers": workers,
        "log_level": "warn",
        "limits": {"connect_timeout_ms": 5000, "idle_timeout_ms": 0},
        "clusters": {"db": {
            "primary": backend, "replicas": list(replicas),
            # Probes are not what is measured: keep them rare.
            "monitor": {"user": accounts.MONITOR_USER, "password": accounts.MONITOR_PASSWORD,
                        "interval_ms": 60000},
        }},
        "tenants": {"bench": {
            "listen": f"{LOOPBACK}:{port or util.free_port()}",
            "allow": ["127.0.0.0/8"], "cluster": "db",
            "users": {accounts.APP_USER: {"password": accounts.APP_PASSWORD}},
        }},
    }


class Haproxy:
    """HAProxy in TCP mode with the same timeouts as tandem's bench config.
    servers: [(name, "host:port", extra)] e.g. extra "check" / "check backup"."""

    def __init__(self, d: Path, servers, threads: int = 1, cpus=None, check_user=None,
                 maxconn: int | None = None):
        # HAProxy refuses to start if maxconn needs more descriptors than
        # the process may open (two per connection).
        maxconn = maxconn or max_sessions()
        self.port = util.free_port()
        self.cfg_path = d / "haproxy.cfg"
        self.log = d / "haproxy.log"
        self.cpus = cpus
        lines = [
            "global",
            f"    nbthread {threads}",
            f"    maxconn {maxconn}",
            "defaults",
            "    mode tcp",
            f"    maxconn {maxconn}",
            "    timeout connect 5s",      # tandem: limits.connect_timeout_ms 5000
            "    timeout client 1h",       # tandem: idle_timeout_ms 0 (no limit)
            "    timeout server 1h",
            "listen bench",
            f"    bind {LOOPBACK}:{self.port}",
        ]
        if check_user:
            lines.append(f"    option mysql-check user {check_user} post-41")
        lines += [f"    server {n} {addr} {extra}".rstrip() for n, addr, extra in servers]
        self.cfg_path.write_text("\n".join(lines) + "\n")
        self.proc = procs.ManagedProcess([HAPROXY, "-db", "-f", self.cfg_path], self.log,
                                         name="haproxy")

    @property
    def pid(self):
        return self.proc.pid

    def start(self) -> "Haproxy":
        self.proc.start()
        wait_listening(self.port, self.proc, "haproxy", self.log)
        pin(self.pid, self.cpus)
        return self

    def stop(self):
        self.proc.stop(10)


# -- loadgen ---------------------------------------------------------------------

def parse_kv(line: str) -> dict:
    out = {}
    for tok in line.split()[1:]:
        k, _, v = tok.partition("=")
        try:
            out[k] = float(v) if "." in v else int(v)
        except ValueError:
            out[k] = v
    return out


class CpuWindow:
    """CPU seconds of some processes between two moments."""

    def __init__(self, pids: dict):
        self.pids = {k: p for k, p in pids.items() if p}
        self.start = self.end = None
        self.t0 = self.t1 = None

    def open(self):
        self.t0 = time.monotonic()
        self.start = {k: cpu_seconds(p) for k, p in self.pids.items()}
        self.busy0 = busy_cpu_seconds()

    def close(self):
        self.t1 = time.monotonic()
        self.end = {k: cpu_seconds(p) for k, p in self.pids.items()}
        self.busy1 = busy_cpu_seconds()
        # RSS under load, at the end of the window (buffers still in use)
        self.rss = {k: rss_kib(p) for k, p in self.pids.items()}

    def background_pct(self) -> float | None:
        """CPU used by processes not in pids over the window, in % of one CPU."""
        if self.end is None or not self.wall:
            return None
        ours = sum(self.end[k] - self.start[k] for k in self.pids)
        return max(0.0, (self.busy1 - self.busy0 - ours) / self.wall * 100)

    def seconds(self, key) -> float | None:
        if key not in self.pids or self.start is None or self.end is None:
            return None
        return self.end[key] - self.start[key]

    @property
    def wall(self) -> float:
        return (self.t1 - self.t0) if self.t1 else 0.0


def run_loadgen(prog: Programs, port: int, *, connections: int, duration: float,
                warmup: float, cpus=None, threads: int = 1, cpu_pids: dict | None = None,
                extra=(), timeout: float | None = None, on_ready=None) -> dict:
    """Run loadgen in rt mode; returns its result fields plus, for each
    process in cpu_pids, '<name>_cpu_s' over the measured window. on_ready
    (with --wait-go in extra) is called once all sessions are logged in."""
    argv = [*taskset(cpus), prog.loadgen, "--port", str(port), "--connections",
            str(connections), "--threads", str(threads), "--duration", str(duration),
            "--warmup", str(warmup), "--connect-parallel", "256", *map(str, extra)]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    win = CpuWindow({**(cpu_pids or {}), "loadgen": p.pid})
    result, out_lines = None, []
    err_lines = []
    t_err = threading.Thread(target=lambda: err_lines.extend(p.stderr), daemon=True)
    t_err.start()
    deadline = time.monotonic() + (timeout or (duration + warmup + 120))
    try:
        for line in p.stdout:
            out_lines.append(line)
            if line.startswith("ready"):
                if on_ready:
                    on_ready()
                p.stdin.write("go\n")
                p.stdin.flush()
            elif line.startswith("phase measure"):
                win.open()
            elif line.startswith("phase stop"):
                win.close()
            elif line.startswith("result"):
                result = parse_kv(line)
            if time.monotonic() > deadline:
                break
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        t_err.join(5)
    if result is None or p.returncode != 0:
        raise RuntimeError(f"loadgen {' '.join(map(str, argv))} exited {p.returncode}:\n"
                           f"{''.join(out_lines)[-2000:]}{''.join(err_lines)[-2000:]}")
    for k in win.pids:
        result[f"{k}_cpu_s"] = win.seconds(k)
        result[f"{k}_rss_kib"] = win.rss.get(k) if win.end else None
    result["window_s"] = win.wall
    result["background_pct"] = win.background_pct()
    return result


class IdleSessions:
    """loadgen --mode idle: N logged-in sessions held open until close()."""

    def __init__(self, prog: Programs, port: int, n: int, cpus=None):
        self.argv = [*taskset(cpus), prog.loadgen, "--port", str(port), "--mode", "idle",
                     "--connections", str(n), "--connect-parallel", "256"]
        self.p = None

    def open(self, timeout: float = 180) -> None:
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()   # "ready ..." or EOF on failure
        if not line.startswith("ready"):
            self.p.wait(timeout)
            raise RuntimeError(f"loadgen idle failed ({self.p.returncode}): "
                               f"{line}{self.p.stderr.read()[-2000:]}")

    def close(self) -> dict:
        self.p.stdin.close()              # EOF: loadgen closes its sessions and reports
        out = self.p.stdout.read()
        err = self.p.stderr.read()
        self.p.wait(60)
        m = re.search(r"^result .*$", out, re.M)
        if self.p.returncode != 0 or not m:
            raise RuntimeError(f"loadgen idle exited {self.p.returncode}: {out}{err}")
        return parse_kv(m.group(0))


# -- numbers and tables ---------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def paired(a: list, b: list, key: str) -> tuple | None:
    """Round-by-round ratios a[i][key] / b[i][key] of two targets measured
    back to back in the same round (so sharing that round's noise):
    (median, min, max), or None if no round has both."""
    rs = [x[key] / y[key] for x, y in zip(a, b)
          if x.get(key) is not None and y.get(key)]
    return (statistics.median(rs), min(rs), max(rs)) if rs else None


def fmt_ratio(r) -> str:
    """(median, min, max) -> '1.03 (0.91-1.12)'."""
    return "-" if r is None else f"{r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})"


def fmt(v, spec: str = ".1f") -> str:
    if v is None:
        return "-"
    return format(v, spec)


def table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """A plain fixed-width table (GitHub renders it inside a code block)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]

    def line(vals):
        return "  ".join(v.rjust(w) if i else v.ljust(w)
                         for i, (v, w) in enumerate(zip(vals, widths))).rstrip()
    out = []
    if title:
        out.append(title)
    out.append(line(headers))
    out.append(line(["-" * w for w in widths]))
    out += [line(r) for r in cells]
    out.append("")          # a blank line ends every table
    return "\n".join(out)


def emit(text: str) -> None:
    print(text, flush=True)
