"""Clients that watch sessions across a failover, shared by the failover
session tests (tests/integration/test_failover_*.py) and bench/failover:

  IdleClients   drives tests/clients/failover_client (Connector/C): N idle
                sessions with schema / variables / prepared statements, and
                a check of every one of them after the failover;
  AckedWriter   one persistent PyMySQL session writing autocommit INSERTs of
                sequence numbers and recording each OK (the acknowledged-
                writes oracle), each error and each reconnect;
  oracle()      reads the table on the new primary and says, over all
                writers, what was acknowledged but is missing (lost), what
                is there twice (duplicated), and when each writer's first
                write landed on the new primary after the kill.

Owns no process but the failover_client it starts (stopped by close());
must not judge: the tests assert, the benchmark reports.
"""

import json
import math
import os
import re
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pymysql

from . import accounts, clients, util
from .pair import MariaDBPair

# The errors a client may see when its session is moved (docs/sessions.md):
# 1213 (40001) rolled back, retry; 1158 (08S01) outcome unknown; 1927
# (08S01) session state that cannot move was lost.
FAILOVER_ERRORS = (1213, 1158, 1927)
# Errors of the client library itself when the connection is gone.
CONNECTION_LOST = (2006, 2013, 2003, 2055)

ORACLE_TABLE = "test.oracle"


def _raise_with_sqlstate(data):
    """pymysql.err.raise_mysql_exception, keeping the SQLSTATE PyMySQL
    drops: the exception gets .sqlstate ('' when the ERR carries none)."""
    try:
        _original_raise(data)
    except pymysql.MySQLError as e:
        e.sqlstate = data[4:9].decode("ascii", "replace") if data[3:4] == b"#" else ""
        raise


_original_raise = pymysql.err.raise_mysql_exception
pymysql.err.raise_mysql_exception = _raise_with_sqlstate


def sqlstate(e: Exception) -> str | None:
    """The SQLSTATE of a server ERR raised by PyMySQL (None for errors the
    library made up itself, e.g. a lost connection)."""
    return getattr(e, "sqlstate", None)


# Semi-sync on both servers, so either can be primary and the other its
# acknowledging replica, with the wait after the binlog sync and before
# the engine commit (AFTER_SYNC): a transaction no replica acknowledged is
# only prepared on the primary, and a killed primary restarted with
# --init-rpl-role=SLAVE (restart_as_replica) rolls it back and truncates
# it from its binlog. Without that, whatever the primary wrote that the
# replica had not received (a heartbeat, a write in flight) stays in the
# old primary's binlog, and it cannot replicate from the new one (GTID
# strict mode: error 1236). wait-no-slave OFF: a primary without a
# replica does not wait out the timeout on every commit.
_SEMI_SYNC_BOTH = ["--rpl-semi-sync-master-wait-point=AFTER_SYNC",
                   "--skip-rpl-semi-sync-master-wait-no-slave"]


def failover_pair(base_dir, semi_sync: bool = True, timeout_ms: int = 10000) -> MariaDBPair:
    """A MariaDBPair for repeated kill -9 / rejoin rounds (semi_sync) or
    for one kill with plain asynchronous replication."""
    if not semi_sync:
        return MariaDBPair(base_dir)
    return MariaDBPair(
        base_dir, semi_sync=True, semi_sync_timeout_ms=timeout_ms,
        primary_args=[*_SEMI_SYNC_BOTH, "--rpl-semi-sync-slave-enabled=ON"],
        replica_args=[*_SEMI_SYNC_BOTH, "--rpl-semi-sync-master-enabled=ON",
                      f"--rpl-semi-sync-master-timeout={timeout_ms}"])


def restart_as_replica(server) -> None:
    """Restart a killed server so that it may rejoin as a replica: its
    unacknowledged (prepared) transactions are rolled back and cut from
    its binlog (MariaDB's semi-sync crash recovery, --init-rpl-role=SLAVE)."""
    server.extra_args.append("--init-rpl-role=SLAVE")
    try:
        server.restart()
    finally:
        server.extra_args.remove("--init-rpl-role=SLAVE")


def failover_client_binary() -> str:
    """$TANDEM_FAILOVER_CLIENT (meson sets it), else build/tests/clients/."""
    return os.environ.get("TANDEM_FAILOVER_CLIENT") or str(
        util.repo_root() / "build" / "tests" / "clients" / "failover_client")


class IdleClients:
    """failover_client with n sessions through tandem at port."""

    def __init__(self, port: int, n: int, binary: str | None = None,
                 user: str = accounts.APP_USER, db: str = "test", cursor: bool = False):
        """cursor: one more session with an open server-side cursor (the
        check line then has "cursor": fetched, code, sqlstate, error,
        rows_again)."""
        self.argv = [binary or failover_client_binary(), util.LOOPBACK, str(port), user,
                     accounts.PASSWORDS[user], db, str(n), *(["cursor"] if cursor else [])]
        self.n = n
        self.p = None
        self.ready = None

    def open(self, timeout: float = 120) -> dict:
        """Start it and wait until every session has its state; the
        'ready' line (sessions, elapsed_ms)."""
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.ready = self._line(timeout)
        if self.ready.get("phase") != "ready":
            raise RuntimeError(f"failover_client did not get ready: {self.ready}")
        return self.ready

    def _line(self, timeout: float) -> dict:
        out = {}

        def read():
            out["line"] = self.p.stdout.readline()
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        line = out.get("line")
        if not line:
            if self.p.poll() is None and t.is_alive():
                self.p.kill()
            self.p.wait(10)
            raise RuntimeError(f"failover_client gave no answer in {timeout}s (exit "
                               f"{self.p.returncode}): {self.p.stderr.read()[-2000:]}")
        return json.loads(line)

    def check(self, server_id: int | None = None, timeout: float = 120) -> dict:
        """Check every session (and that it is on server_id); the 'check'
        line: sessions, ok, by_kind {kind: [ok, total]}, errors {code:
        count}, failures [first 20], elapsed_ms."""
        self.p.stdin.write("check\n" if server_id is None else f"check {server_id}\n")
        self.p.stdin.flush()
        return self._line(timeout)

    def close(self) -> int | None:
        if not self.p:
            return None
        try:
            self.p.stdin.close()
            self.p.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait(10)
        for f in (self.p.stdout, self.p.stderr):
            f.close()
        return self.p.returncode


def make_oracle_table(port: int) -> None:
    """The oracle's table, created through tandem. No unique key on
    (w, seq): a duplicated write must show as two rows, not as an error."""
    with clients.connect(port, database="test") as c, c.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {ORACLE_TABLE} ("
                    "id BIGINT AUTO_INCREMENT PRIMARY KEY, w INT NOT NULL, seq INT NOT NULL, "
                    "server INT NOT NULL, KEY (w, seq))")


@dataclass
class WriteError:
    at: float          # monotonic time the error arrived
    seq: int
    code: int
    message: str


class AckedWriter(threading.Thread):
    """One persistent session inserting (w, seq, @@server_id) with
    autocommit, seq = 1, 2, 3, ... An OK puts seq in acked (with the
    monotonic times the INSERT was sent and answered). On ERR 1213 (rolled
    back: nothing was written) the same seq is sent again; any other error
    makes seq unknown (not counted as acknowledged) and the writer moves on
    to the next seq, reconnecting if the connection is gone."""

    def __init__(self, port: int, w: int, pause: float = 0.0, read_timeout: float = 60):
        super().__init__(daemon=True, name=f"writer-{w}")
        self.port = port
        self.w = w
        self.pause = pause
        self.read_timeout = read_timeout
        self.acked: dict[int, tuple[float, float]] = {}
        self.unknown: set[int] = set()
        self.errors: list[WriteError] = []
        self.reconnects = 0
        self.fatal: str | None = None     # an exception that ended the writer
        self._stop_ev = threading.Event()
        self._conn = None

    def connect(self):
        self._conn = clients.connect(self.port, database="test",
                                     read_timeout=self.read_timeout)

    def run(self):
        try:
            if not self._conn:
                self.connect()
            seq = 0
            while not self._stop_ev.is_set():
                seq += 1
                self._write(seq)
                if self.pause:
                    time.sleep(self.pause)
        except Exception as e:  # noqa: BLE001 - reported, not swallowed
            self.fatal = repr(e)
        finally:
            if self._conn:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001
                    pass

    def _write(self, seq: int):
        while True:
            t0 = time.monotonic()
            try:
                with self._conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {ORACLE_TABLE} (w, seq, server) "
                                "VALUES (%s, %s, @@server_id)", (self.w, seq))
                self.acked[seq] = (t0, time.monotonic())
                return
            except pymysql.MySQLError as e:
                code = e.args[0] if e.args and isinstance(e.args[0], int) else -1
                self.errors.append(WriteError(time.monotonic(), seq, code,
                                              str(e.args[1:])[:200]))
                if code == 1213 and not self._stop_ev.is_set():
                    continue            # rolled back: the same value again is safe
                self.unknown.add(seq)
                if code in CONNECTION_LOST or code == -1 or not self._conn.open:
                    self.reconnects += 1
                    self._reconnect()
                return

    def _reconnect(self):
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001
            pass
        util.wait_for(lambda: self.connect() or True, 60, what=f"writer {self.w} to reconnect",
                      ignore=(pymysql.MySQLError,))

    def stop(self, timeout: float = 90):
        self._stop_ev.set()
        self.join(timeout)

    def error_codes(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for e in self.errors:
            out[e.code] = out.get(e.code, 0) + 1
        return out


@dataclass
class OracleResult:
    acked: int = 0               # acknowledged writes, all writers
    lost: list = field(default_factory=list)         # (w, seq) acknowledged, not on the primary
    duplicated: list = field(default_factory=list)   # (w, seq, count) with count > 1
    unknown: int = 0             # writes answered 1158/1927/connection lost
    unknown_landed: int = 0      # ... of which the row is there (once)
    errors: dict = field(default_factory=dict)      # code -> count, all writers
    errors_per_writer: list = field(default_factory=list)  # [{code: count}] by writer
    reconnects: int = 0
    first_write_ms: list = field(default_factory=list)  # per writer: kill -> first write on new primary
    fatal: list = field(default_factory=list)

    def undocumented_errors(self) -> dict:
        return {c: n for c, n in self.errors.items() if c not in FAILOVER_ERRORS}


def oracle(writers: list[AckedWriter], primary, kill_at: float | None = None,
           new_server_id: int | None = None) -> OracleResult:
    """Compare what the writers were told with the table on primary (a
    MariaDBServer, read directly as root). kill_at (monotonic) and
    new_server_id give each writer's kill -> first write on the new
    primary: the answer time of its first acknowledged INSERT that ran on
    new_server_id (a write cut off by the kill and resolved later ran on
    the old primary and does not count)."""
    rows = primary.sql(f"SELECT w, seq, COUNT(*), MIN(server) FROM {ORACLE_TABLE} "
                       "GROUP BY w, seq")
    found = {(w, seq): (n, server) for w, seq, n, server in rows}
    r = OracleResult()
    for wr in writers:
        r.acked += len(wr.acked)
        r.unknown += len(wr.unknown)
        r.reconnects += wr.reconnects
        codes = wr.error_codes()
        r.errors_per_writer.append(codes)
        for c, n in codes.items():
            r.errors[c] = r.errors.get(c, 0) + n
        if wr.fatal:
            r.fatal.append(f"writer {wr.w}: {wr.fatal}")
        for seq in wr.acked:
            if (wr.w, seq) not in found:
                r.lost.append((wr.w, seq))
        r.unknown_landed += sum(1 for seq in wr.unknown if (wr.w, seq) in found)
        if kill_at is not None and new_server_id is not None:
            firsts = [done for seq, (_, done) in wr.acked.items()
                      if done > kill_at and found.get((wr.w, seq), (0, None))[1] == new_server_id]
            if firsts:
                r.first_write_ms.append((min(firsts) - kill_at) * 1000)
    r.duplicated = [(w, seq, n) for (w, seq), (n, _) in found.items() if n > 1]
    return r


def percentile(xs, p: float):
    """Nearest-rank percentile (p in 0..100); None for no data."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# -- sysbench across a failover -----------------------------------------------------

# The documented failover errors sysbench may ignore (its transaction is
# then retried). Nothing else: a lost connection must make it fail.
SYSBENCH_IGNORE = "--mysql-ignore-errors=" + ",".join(str(c) for c in FAILOVER_ERRORS)


class SysbenchRun(threading.Thread):
    """`sysbench <test> run` in the background (progress every second),
    through port; result holds the parsed SysbenchResult when it ends."""

    def __init__(self, port: int, test: str, *, threads: int, time_s: int, tables: int,
                 table_size: int):
        super().__init__(daemon=True, name=f"sysbench-{test}")
        self.args = dict(threads=threads, time_s=time_s, tables=tables, table_size=table_size,
                         histogram=False, timeout=time_s + 180,
                         extra_args=(SYSBENCH_IGNORE, "--report-interval=1"))
        self.port = port
        self.test = test
        self.started_at = None    # monotonic
        self.result = None
        self.error = None

    def run(self):
        self.started_at = time.monotonic()
        try:
            self.result = clients.sysbench("run", self.port, self.test, **self.args)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            self.error = repr(e)

    def intervals(self) -> list[tuple[int, float, float]]:
        """(second, tps, error/s) of each progress line."""
        out = []
        for m in re.finditer(r"^\[ (\d+)s \] thds: \d+ tps: ([\d.]+) .*?err/s: ([\d.]+)",
                             self.result.output if self.result else "", re.M):
            out.append((int(m.group(1)), float(m.group(2)), float(m.group(3))))
        return out

    def tps_after(self, at: float) -> float:
        """Transactions per second summed over the progress lines that
        cover only time after the monotonic moment at."""
        since = at - self.started_at
        return sum(tps for sec, tps, _ in self.intervals() if sec - 1 >= since)
