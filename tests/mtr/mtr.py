"""MariaDB's own test suite (Debian's mariadb-test: mariadb-test-run, mtr)
in --extern mode against a running server: the selection rule, one mtr run
and the parsing of its per-case results. Owns nothing else: servers and
tandem are the caller's (tests/integration/test_mtr.py, tests/mtr/select.py).

Selection rule (tests/mtr/README.md says why):
  1. a case of the `main` suite whose .test file has no sibling .opt,
     -master.opt, -slave.opt, .cnf, .combinations or -master.sh (those need
     server options or a server mtr configures itself, which --extern
     cannot give);
  2. whose .test text does not restart, shut down or kill the server
     (SHUTDOWN_PATTERN: in --extern mode that would stop the shared server)
     nor empty or replace the privilege tables (LOCKOUT_PATTERN: one
     failure half-way would lock every later case out);
  3. that passes directly against the harness primary in --extern mode
     (recorded in selection.txt by `select.py --record`);
  4. that is not in excluded.txt (a thing a proxy truly cannot do).
"""

import os
import re
import subprocess
import time
from pathlib import Path

MTR_DIR = Path(os.environ.get("TANDEM_MTR_DIR", "/usr/share/mysql/mysql-test"))
MTR = MTR_DIR / "mariadb-test-run.pl"
HERE = Path(__file__).resolve().parent

# The server options of mtr's own include/default_mysqld.cnf that results
# of the main suite depend on (and a harness server does not have), for
# both members of the pair; server_args() adds the per-run ones.
SERVER_ARGS = [
    "--local-infile=1",
    "--character-set-server=latin1", "--collation-server=latin1_swedish_ci",
    "--log-bin-trust-function-creators=1",
    "--max-heap-table-size=1M", "--sort-buffer-size=256K", "--key-buffer-size=1M",
    "--open-files-limit=1024",
    "--default-storage-engine=MyISAM",   # mtr's bootstrap and server default
    "--connect-timeout=60", "--aria-pagecache-buffer-size=8M",
    "--binlog-direct-non-transactional-updates",
    "--use-stat-tables=preferably", "--histogram-type=json_hb",
    # the server's default format (the harness uses ROW); main-suite results
    # are recorded without a binlog, which MIXED resembles most
    "--binlog-format=MIXED",
    # The server default (the harness turns it off): mtr's cases create
    # 'user'@'localhost' and connect to "localhost", which over TCP from
    # 127.0.0.1 is that account only with name resolution.
    "--skip-name-resolve=OFF",
]


def server_args(vardir: Path) -> list[str]:
    """SERVER_ARGS plus what mtr points at its vardir: the pair lives in
    the vardir (MariaDBPair(vardir): the primary's datadir is
    vardir/primary/data, as mtr's vardir/mysqld.1/data: cases read files of
    $MYSQLD_DATADIR, which mysqltest allows only under the vardir, and
    write '../../tmp/x' relative to it) and SELECT ... INTO OUTFILE /
    LOAD DATA INFILE may use the vardir, as with mtr's own servers."""
    return [*SERVER_ARGS, f"--secure-file-priv={vardir}"]


# The harness's own schemas mtr does not know; `tandem` stays (tandem's
# heartbeat and commit markers).
DROP_HARNESS_SQL = ["DROP DATABASE IF EXISTS demo", "DROP DATABASE IF EXISTS sbtest"]


def bootstrap_statements() -> list[str]:
    """The `mtr` schema mtr's own bootstrap creates (suppressions, the
    check_testcase and check_warnings procedures), for the primary: the
    files use mysqltest's `delimiter ||;`, so they are split here."""
    stmts = [*DROP_HARNESS_SQL, "CREATE DATABASE IF NOT EXISTS mtr CHARSET=latin1", "USE mtr"]
    for name in ("mtr_warnings.sql", "mtr_check.sql"):
        text = (MTR_DIR / "include" / name).read_text()
        text = re.sub(r"(?im)^delimiter \|\|;\s*$", "", text)
        for stmt in text.split("||"):
            body = "\n".join(l for l in stmt.splitlines() if not l.lstrip().startswith("--"))
            if body.strip():
                stmts.append(body.strip())
    return stmts

SIDE_FILES = (".opt", "-master.opt", "-slave.opt", ".cnf", ".combinations", "-master.sh")
# Cases that empty the privilege tables: one that fails half-way locks
# every later case (and the reset) out of the server.
LOCKOUT_PATTERN = re.compile(
    r"(truncate\s+(table\s+)?|delete\s+from\s+)mysql\.(user|global_priv)\b|"
    r"switch_to_mysql_user|mysql_upgrade_preparation|drop\s+user\s+'?root'?@", re.I)
SHUTDOWN_PATTERN = re.compile(
    r"restart_mysqld|shutdown_server|kill_server|restart_server|send_shutdown|"
    r"\bshutdown\b|crash_mysqld|kill_mysqld|start_mysqld|shutdown_mysqld|"
    r"kill_and_restart|restart_embedded|wait_until_disconnected", re.I)

RESULT_LINE = re.compile(
    r"^(?:worker\[\d+\]\s+)?(main\.[\w-]+)\s+(?:'[^']*'\s+)?w?\d*\s*"
    r"\[\s*(pass|fail|skipped|disabled)\s*\]\s*(\d+)?")


def candidates() -> list[str]:
    """Rules 1 and 2, sorted: the cases worth trying in --extern mode."""
    out = []
    main = MTR_DIR / "main"
    for test in sorted(main.glob("*.test")):
        name = test.name[:-len(".test")]
        if any((main / f"{name}{s}").exists() for s in SIDE_FILES):
            continue
        text = test.read_text(errors="replace")
        if SHUTDOWN_PATTERN.search(text) or LOCKOUT_PATTERN.search(text):
            continue
        out.append(f"main.{name}")
    return out


def read_list(name: str) -> list[str]:
    """A case list file: one case per line, first word; '#' comments."""
    path = HERE / name
    if not path.exists():
        return []
    cases = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            cases.append(line.split()[0])
    return cases


def read_reasons(name: str) -> dict[str, str]:
    """case -> the rest of its line (the reason / symptom)."""
    out = {}
    path = HERE / name
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                case, _, why = line.strip().partition(" ")
                out[case] = why.strip()
    return out


def run(port: int, cases: list[str], vardir: Path, log: Path, *, host: str = "127.0.0.1",
        user: str = "root", max_fail: int = 0, timeout: float = 3600.0,
        times: dict | None = None) -> dict[str, str]:
    """One mtr run of cases, in this order, against host:port over TCP;
    returns case -> 'pass' | 'fail' | 'skipped' | 'disabled', without the
    cases mtr did not reach. The full output goes to log."""
    # --extern never creates or cleans the vardir itself
    for sub in ("log", "tmp"):
        (vardir / sub).mkdir(parents=True, exist_ok=True)
    argv = ["perl", str(MTR),
            # every connection over TCP, also mysqltest's `connect (c,localhost,...)`:
            # a socket would bypass tandem
            f"--extern=host={host}", f"--extern=port={port}", f"--extern=user={user}",
            "--extern=protocol=tcp",
            f"--vardir={vardir}", f"--tmpdir={vardir}/tmp",
            "--force", f"--max-test-fail={max_fail}", "--retry=0", "--nowarnings",
            "--no-reorder", "--parallel=1", "--testcase-timeout=2", "--suite-timeout=120",
            *cases]
    with open(log, "wb") as out:
        subprocess.run(argv, cwd=MTR_DIR, stdin=subprocess.DEVNULL, stdout=out,
                       stderr=subprocess.STDOUT, timeout=timeout)
    results = {}
    for line in log.read_text(errors="replace").splitlines():
        m = RESULT_LINE.match(line)
        if m:
            results[m.group(1)] = m.group(2)
            if times is not None and m.group(3):
                times[m.group(1)] = int(m.group(3))
    return results


def run_isolated(port: int, cases: list[str], vardir: Path, logdir: Path, reset,
                 **kw) -> tuple[dict[str, str], float]:
    """All cases, each failure isolated: mtr stops at the first failing
    case, reset() puts the server back (a failed case leaves its tables,
    users and databases behind, and in --extern mode mtr cannot restart the
    server to clean up), and mtr goes on with the next case.
    Returns (case -> result, seconds); a case mtr never reported is 'missing'."""
    t0 = time.monotonic()
    logdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, str] = {}
    todo = list(cases)
    n = empty = 0
    while todo:
        n += 1
        got = run(port, todo, vardir, logdir / f"mtr-{n:03d}.log", max_fail=1, **kw)
        results.update(got)
        # skipped cases are reported before any case runs: where mtr stopped
        # is the last case it ran
        ran = [i for i, c in enumerate(todo) if got.get(c) in ("pass", "fail")]
        if not got:
            # mtr reported nothing: it cannot run the first case at all, or
            # the server is gone (then every further run says the same)
            results[todo[0]] = "missing"
            empty += 1
            if empty >= 3:
                break
            todo = todo[1:]
            continue
        empty = 0
        last = ran[-1] if ran else len(todo) - 1
        todo = [c for c in todo[last + 1:] if c not in got]
        if any(v == "fail" for v in got.values()):
            reset()
    for c in cases:
        results.setdefault(c, "missing")
    return results, time.monotonic() - t0


PRIV_TABLES = ("global_priv", "db", "tables_priv", "columns_priv", "procs_priv",
               "proxies_priv", "roles_mapping")


def _sql_literal(v: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", v) or v in ("ON", "OFF"):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Baseline:
    """What the server holds before the run; reset() puts it back after a
    failed case (what mtr's check-testcase and server restart do for a
    server of its own): databases a case left are dropped, `test` is
    emptied, the privilege tables are restored from a copy in the `mtr`
    schema, and global variables a case changed are set back.
    server: a harness MariaDBServer (root over its unix socket, which a
    case that breaks TCP accounts does not lock out)."""

    def __init__(self, server):
        self.server = server
        self.dbs = {r[0] for r in server.sql("SHOW DATABASES")}
        self.globals = dict(server.sql("SHOW GLOBAL VARIABLES"))
        server.execute_all([
            *[f"CREATE OR REPLACE TABLE mtr.baseline_{t} AS SELECT * FROM mysql.{t}"
              for t in PRIV_TABLES]])

    def reset(self) -> None:
        s = self.server
        stmts = ["SET SESSION foreign_key_checks = 0"]
        for (db,) in s.sql("SHOW DATABASES"):
            if db not in self.dbs:
                stmts.append(f"DROP DATABASE IF EXISTS `{db}`")
        # `test` is emptied rather than dropped: a case may leave files in
        # its directory that DROP DATABASE refuses to remove (errno 39)
        for name, kind in s.sql("SELECT table_name, table_type FROM information_schema.tables "
                                "WHERE table_schema = 'test'"):
            what = {"VIEW": "VIEW", "SEQUENCE": "SEQUENCE"}.get(kind, "TABLE")
            stmts.append(f"DROP {what} IF EXISTS test.`{name}`")
        for name, kind in s.sql("SELECT routine_name, routine_type FROM information_schema.routines "
                                "WHERE routine_schema = 'test'"):
            stmts.append(f"DROP {kind} IF EXISTS test.`{name}`")
        for (name,) in s.sql("SELECT event_name FROM information_schema.events "
                             "WHERE event_schema = 'test'"):
            stmts.append(f"DROP EVENT IF EXISTS test.`{name}`")
        stmts.append("CREATE DATABASE IF NOT EXISTS test "
                     "CHARACTER SET latin1 COLLATE latin1_swedish_ci")
        # a case that failed between XA PREPARE and XA COMMIT leaves a
        # prepared transaction holding its locks: every DROP would wait
        for row in s.sql("XA RECOVER FORMAT='SQL'"):
            stmts.insert(1, f"XA ROLLBACK {row[3]}")
        s.execute_all(stmts)
        for t in PRIV_TABLES:
            s.execute_all([f"DELETE FROM mysql.{t}",
                           f"INSERT INTO mysql.{t} SELECT * FROM mtr.baseline_{t}"])
        s.execute_all(["FLUSH PRIVILEGES"])
        for name, value in s.sql("SHOW GLOBAL VARIABLES"):
            old = self.globals.get(name)
            if old is not None and old != value:
                try:
                    s.execute_all([f"SET GLOBAL {name} = {_sql_literal(old)}"])
                except Exception:           # read-only or not settable back: leave it
                    pass
