"""Real clients aimed at host:port (tandem or a server directly): the
`mariadb` command-line client, sysbench, and PyMySQL connections. Thin on
purpose: tests should see what a real client sees, exit codes included."""

import re
import subprocess
from dataclasses import dataclass, field

import pymysql

from . import accounts, util

MARIADB_CLI = "/usr/bin/mariadb"
SYSBENCH = "/usr/bin/sysbench"


# -- mariadb CLI ---------------------------------------------------------------

@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str

    def __iter__(self):           # rc, out, err = mariadb_cli(...)
        return iter((self.rc, self.stdout, self.stderr))

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def rows(self) -> list[list[str]]:
        """Batch-mode output split into rows of tab-separated fields."""
        return [line.split("\t") for line in self.stdout.splitlines()]


def mariadb_cli(port: int, sql: str, user: str = accounts.APP_USER,
                password: str | None = None, database: str | None = None,
                host: str = util.LOOPBACK, column_names: bool = False,
                timeout: float = 60.0, extra_args=()) -> CliResult:
    """Run `mariadb -h host -P port -u user -pPASS -e sql [database]` over TCP
    in batch mode (tab-separated, no table borders). --no-defaults keeps
    /etc/mysql client settings out of the test. Never raises on a SQL or
    connection error: that is in rc/stderr for the test to judge."""
    if password is None:
        password = accounts.PASSWORDS.get(user, "")
    argv = [MARIADB_CLI, "--no-defaults", "--protocol=tcp", "-h", host, "-P", str(port),
            "-u", user, f"--password={password}", "--batch", "--connect-timeout=10"]
    if not column_names:
        argv.append("--skip-column-names")
    argv += [*extra_args, "-e", sql]
    if database:
        argv.append(database)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return CliResult(p.returncode, p.stdout, p.stderr)


# -- sysbench ------------------------------------------------------------------

@dataclass
class SysbenchResult:
    """What sysbench printed, parsed. Counts are None when absent (e.g. prepare)."""
    rc: int
    output: str
    transactions: int | None = None
    tps: float | None = None
    queries: int | None = None
    qps: float | None = None
    reads: int | None = None
    writes: int | None = None
    errors: int | None = None          # "ignored errors" (e.g. deadlocks, lost connections)
    reconnects: int | None = None
    total_time_s: float | None = None
    events: int | None = None
    latency_ms: dict = field(default_factory=dict)   # min, avg, max, sum, p<N> from summary
    percentiles_ms: dict = field(default_factory=dict)  # {50: .., 90: .., 95: .., 99: ..} from histogram
    fatal: list = field(default_factory=list)           # FATAL lines

    @property
    def ok(self) -> bool:
        return self.rc == 0


def _num(pattern: str, text: str, conv=int):
    m = re.search(pattern, text, re.M)
    return conv(m.group(1)) if m else None


def _histogram_percentiles(text: str, wanted=(50, 90, 95, 99, 99.9)) -> dict:
    """Percentiles from sysbench's --histogram buckets ("value |*** count");
    each is the upper bucket value where the cumulative count reaches it."""
    start = text.find("Latency histogram")
    if start < 0:
        return {}
    buckets = [(float(v), int(c)) for v, c in
               re.findall(r"^\s*([\d.]+)\s+\|\**\s+(\d+)\s*$", text[start:], re.M)]
    total = sum(c for _, c in buckets)
    if not total:
        return {}
    out, seen, i = {}, 0, 0
    for p in sorted(wanted):
        while i < len(buckets) and seen + buckets[i][1] < total * p / 100:
            seen += buckets[i][1]
            i += 1
        out[p] = buckets[min(i, len(buckets) - 1)][0]
    return out


def parse_sysbench(rc: int, text: str) -> SysbenchResult:
    r = SysbenchResult(rc=rc, output=text)
    r.transactions = _num(r"^\s*transactions:\s+(\d+)", text)
    r.tps = _num(r"^\s*transactions:\s+\d+\s+\(([\d.]+) per sec", text, float)
    r.queries = _num(r"^\s*queries:\s+(\d+)", text)
    r.qps = _num(r"^\s*queries:\s+\d+\s+\(([\d.]+) per sec", text, float)
    r.reads = _num(r"^\s*read:\s+(\d+)", text)
    r.writes = _num(r"^\s*write:\s+(\d+)", text)
    r.errors = _num(r"^\s*ignored errors:\s+(\d+)", text)
    r.reconnects = _num(r"^\s*reconnects:\s+(\d+)", text)
    r.total_time_s = _num(r"^\s*total time:\s+([\d.]+)s", text, float)
    r.events = _num(r"^\s*total number of events:\s+(\d+)", text)
    lat = text[text.find("Latency (ms):"):] if "Latency (ms):" in text else ""
    for key in ("min", "avg", "max", "sum"):
        v = _num(rf"^\s*{key}:\s+([\d.]+)", lat, float)
        if v is not None:
            r.latency_ms[key] = v
    for pct, v in re.findall(r"^\s*(\d+)th percentile:\s+([\d.]+)", lat, re.M):
        r.latency_ms[f"p{pct}"] = float(v)
    r.percentiles_ms = _histogram_percentiles(text)
    r.fatal = [line for line in text.splitlines() if "FATAL" in line]
    return r


def sysbench(command: str, port: int, test: str = "oltp_read_write", *,
             host: str = util.LOOPBACK, user: str = accounts.APP_USER,
             password: str | None = None, db: str = "sbtest", threads: int = 1,
             time_s: int = 10, events: int = 0, tables: int = 1, table_size: int = 1000,
             histogram: bool = True, percentile: int = 95, extra_args=(),
             timeout: float | None = None, check: bool = False) -> SysbenchResult:
    """Run `sysbench <test> ... <command>` (prepare, run or cleanup) with
    Debian's MySQL driver options. test is a bundled lua name
    (oltp_read_write, oltp_point_select, ...) or a path. check=True raises if
    sysbench exits non-zero. The process is bounded by timeout (default
    time_s + 120 s)."""
    if password is None:
        password = accounts.PASSWORDS.get(user, "")
    argv = [SYSBENCH, test, "--db-driver=mysql", f"--mysql-host={host}",
            f"--mysql-port={port}", f"--mysql-user={user}", f"--mysql-password={password}",
            f"--mysql-db={db}", f"--threads={threads}", f"--time={time_s}",
            f"--events={events}", f"--tables={tables}", f"--table-size={table_size}",
            f"--percentile={percentile}", f"--histogram={'on' if histogram else 'off'}",
            *extra_args, command]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       timeout=timeout if timeout is not None else time_s + 120)
    result = parse_sysbench(p.returncode, p.stdout)
    if check and not result.ok:
        raise RuntimeError(f"sysbench {test} {command} exited {p.returncode}:\n"
                           f"{p.stdout[-3000:]}")
    return result


def sysbench_prepare(port: int, test: str = "oltp_read_write", **kw) -> SysbenchResult:
    return sysbench("prepare", port, test, **kw)


def sysbench_run(port: int, test: str = "oltp_read_write", **kw) -> SysbenchResult:
    return sysbench("run", port, test, **kw)


def sysbench_cleanup(port: int, test: str = "oltp_read_write", **kw) -> SysbenchResult:
    return sysbench("cleanup", port, test, **kw)


# -- PyMySQL -------------------------------------------------------------------

def connect(port: int, user: str = accounts.APP_USER, password: str | None = None,
            database: str | None = None, host: str = util.LOOPBACK,
            connect_timeout: float = 10, read_timeout: float | None = 30,
            autocommit: bool = True, **kw) -> pymysql.connections.Connection:
    """A PyMySQL connection over TCP (e.g. through tandem). Caller closes it."""
    if password is None:
        password = accounts.PASSWORDS.get(user, "")
    return pymysql.connect(host=host, port=port, user=user, password=password,
                           database=database, connect_timeout=connect_timeout,
                           read_timeout=read_timeout, write_timeout=read_timeout,
                           autocommit=autocommit, charset="utf8mb4", **kw)


def query(port: int, sql: str, args=None, **kw) -> list[tuple]:
    """Run one statement on a fresh PyMySQL connection; its rows."""
    with connect(port, **kw) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())
