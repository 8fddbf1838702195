"""MariaDBServer: one private mariadbd (datadir, socket, pid file and error
log under its own directory, TCP on a free 127.0.0.1 port), its SQL helpers
and the faults tests inject into it (kill -9, SIGSTOP, SIGTERM, restart).

Replication topology is not decided here (pair.py does that); this file
knows only how to run one server well and fast.
"""

import hashlib
import re
from pathlib import Path

import pymysql
import pymysql.cursors

from . import accounts, procs, template, util

# Where sockets go when the natural path would be too long for sun_path
# (108 bytes): meson build dirs inside a deep checkout easily exceed it.
SHORT_SOCKET_DIR = Path("/tmp/tandem-sock")
SOCKET_PATH_MAX = 100

_BIND_FAILURE = re.compile(r"Address already in use|Bind on TCP/IP port|errno: 98")


class ServerFailed(RuntimeError):
    """mariadbd exited or never became ready; the message has its log tail.
    bind_failed: it exited because its port was taken (worth another port)."""

    def __init__(self, message: str, bind_failed: bool = False):
        super().__init__(message)
        self.bind_failed = bind_failed


class MariaDBServer:
    """A mariadbd under <base_dir>/<name>/. Not started by the constructor.

    port=None picks a free port at the first start() (and another one if
    binding it fails); restart() always reuses the port it has."""

    def __init__(self, base_dir, name: str, server_id: int, *, port: int | None = None,
                 read_only: bool = False, extra_args=()):
        self.name = name
        self.server_id = server_id
        self.read_only = read_only
        self.extra_args = list(extra_args)
        self.dir = Path(base_dir).resolve() / name
        self.datadir = self.dir / "data"
        self.tmpdir = self.dir / "tmp"
        self.pid_file = self.dir / "mariadbd.pid"
        self.error_log = self.dir / "error.log"
        self.host = util.LOOPBACK
        self.port = port
        self._port_fixed = port is not None
        self.socket = str(self.dir / "mariadbd.sock")
        if len(self.socket) > SOCKET_PATH_MAX:
            digest = hashlib.sha1(str(self.dir).encode()).hexdigest()[:16]
            self.socket = str(SHORT_SOCKET_DIR / f"{digest}.sock")
        self._proc: procs.ManagedProcess | None = None

    def __repr__(self):
        return f"<MariaDBServer {self.name} {self.address} pid={self.pid}>"

    @property
    def address(self) -> str:
        """'127.0.0.1:<port>', as tandem configs spell a backend."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # -- lifecycle -----------------------------------------------------------

    def _argv(self) -> list[str]:
        args = [
            template.MARIADBD, "--no-defaults",
            f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}", "--user=root",
            f"--port={self.port}", f"--bind-address={self.host}",
            f"--socket={self.socket}", f"--pid-file={self.pid_file}",
            f"--log-error={self.error_log}",
            # GTID replication, every server ready to be primary or replica.
            f"--server-id={self.server_id}",
            "--log-bin=mariadb-bin", "--relay-log=relay-bin", "--log-slave-updates",
            "--binlog-format=ROW", "--gtid-strict-mode=ON", "--slave-net-timeout=10",
            # Small and fast: tests need neither durability against an OS
            # crash nor a warm buffer pool after a restart.
            *template.INNODB_ARGS,
            "--sync-binlog=0", "--innodb-flush-log-at-trx-commit=2",
            "--innodb-doublewrite=OFF",
            "--innodb-buffer-pool-dump-at-shutdown=OFF",
            "--innodb-buffer-pool-load-at-startup=OFF",
            "--performance-schema=OFF", "--skip-name-resolve",
            # Load tests open thousands of connections through the proxy.
            "--max-connections=2000", "--table-open-cache=400",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
        ]
        if self.read_only:
            args.append("--read-only=ON")
        return args + self.extra_args

    def start(self, timeout: float = 60.0) -> "MariaDBServer":
        """Create the datadir from the template if needed, start mariadbd and
        return once it accepts connections. Retries on another port if the
        chosen one was taken meanwhile (unless the port was given)."""
        if not self.datadir.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            template.copy_template(self.datadir)
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        Path(self.socket).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            if self.port is None or (attempt > 0 and not self._port_fixed):
                self.port = util.free_port()
            try:
                self._launch_and_wait(timeout)
                return self
            except ServerFailed as exc:
                if self._port_fixed or not exc.bind_failed:
                    raise
        raise ServerFailed(f"{self.name}: could not bind a free port in 5 tries")

    def _launch_and_wait(self, timeout: float) -> None:
        log_offset = self.error_log.stat().st_size if self.error_log.exists() else 0
        self._proc = procs.ManagedProcess(self._argv(), self.dir / "console.log",
                                          name=f"mariadbd[{self.name}]")
        self._proc.start()

        def ready():
            if not self._proc.is_running():
                new_log = self.error_log.read_text(errors="replace")[log_offset:]
                bind_failed = bool(_BIND_FAILURE.search(new_log))
                raise ServerFailed(
                    f"{self.name}: mariadbd exited with {self._proc.returncode} "
                    f"on port {self.port}:\n{self.log_tail(30)}", bind_failed)
            with self.connect(connect_timeout=2, read_timeout=5) as conn:
                conn.ping()
            return util.can_connect(self.host, self.port)

        try:
            util.wait_for(ready, timeout, what=f"{self.name} to accept connections",
                          ignore=(pymysql.MySQLError, OSError))
        except util.WaitTimeout as exc:
            self._proc.stop(10)
            raise ServerFailed(f"{exc}\n{self.log_tail(30)}") from None

    def restart(self, timeout: float = 60.0) -> "MariaDBServer":
        """Stop if running (SIGTERM), then start on the same port and datadir;
        returns once it accepts connections again."""
        if self.is_running():
            self.terminate()
        self._port_fixed = True
        return self.start(timeout)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.is_running()

    def is_stopped(self) -> bool:
        """True while SIGSTOPped."""
        return self._proc is not None and self._proc.is_stopped()

    def kill9(self) -> None:
        """SIGKILL: a crash. The datadir stays; restart() recovers it."""
        if self._proc:
            self._proc.kill9()

    def sigstop(self) -> None:
        """Freeze the server: connections hang instead of failing."""
        self._proc.sigstop()

    def sigcont(self) -> None:
        self._proc.sigcont()

    def terminate(self, timeout: float = 60.0) -> int:
        """Clean shutdown by SIGTERM; raises TimeoutError if it takes longer."""
        return self._proc.terminate(timeout) if self._proc else 0

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after timeout (SIGCONT first if stopped)."""
        if self._proc:
            self._proc.stop(timeout)

    def log_tail(self, n: int = 40) -> str:
        """The last n lines of the error log."""
        return util.tail(self.error_log, n)

    # -- SQL -----------------------------------------------------------------

    def connect(self, user: str = "root", password: str | None = None,
                database: str | None = None, *, tcp: bool | None = None,
                connect_timeout: float = 5, read_timeout: float | None = 30,
                dict_rows: bool = False, **kw) -> pymysql.connections.Connection:
        """A PyMySQL connection, autocommit on. root goes over the unix socket,
        every other user over TCP (tcp= overrides). The password of a harness
        account is filled in from accounts.PASSWORDS. Caller closes it."""
        if password is None:
            password = accounts.PASSWORDS.get(user, "")
        if tcp is None:
            tcp = user != "root"
        where = {"host": self.host, "port": self.port} if tcp else {"unix_socket": self.socket}
        return pymysql.connect(
            user=user, password=password, database=database, autocommit=True,
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            write_timeout=read_timeout, charset="utf8mb4",
            cursorclass=pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor,
            **where, **kw)

    def sql(self, query: str, args=None, user: str = "root", **kw) -> list[tuple]:
        """Run one statement on a fresh connection; its rows ([] if none)."""
        with self.connect(user, **kw) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return list(cur.fetchall())

    def query_rows(self, query: str, args=None, user: str = "root", **kw) -> list[dict]:
        """Like sql() but each row is a dict keyed by column name."""
        with self.connect(user, dict_rows=True, **kw) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return list(cur.fetchall())

    def query_value(self, query: str, args=None, user: str = "root", **kw):
        """The first column of the first row, or None."""
        rows = self.sql(query, args, user, **kw)
        return rows[0][0] if rows else None

    def execute_all(self, statements, user: str = "root", **kw) -> None:
        """Run statements in order on one connection."""
        with self.connect(user, **kw) as conn, conn.cursor() as cur:
            for stmt in statements:
                cur.execute(stmt)

    def variable(self, name: str):
        """A global server variable (e.g. 'read_only'), as a string."""
        rows = self.sql("SHOW GLOBAL VARIABLES LIKE %s", (name,))
        return rows[0][1] if rows else None

    def status(self, name: str):
        """A global status counter (e.g. 'Threads_connected'), as a string."""
        rows = self.sql("SHOW GLOBAL STATUS LIKE %s", (name,))
        return rows[0][1] if rows else None
