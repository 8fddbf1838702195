"""MariaDBPair: a primary and a GTID replica of it (optionally semi-sync),
with the harness accounts and schemas (accounts.py), ready for a test.

Start order, and why:
  1. both servers start in parallel from the cached template (empty binlogs);
  2. the replication user is created on the primary;
  3. the replica starts replicating from an empty GTID position, so it
     replays the primary's whole binlog, including that user;
  4. every other account and schema is created on the primary and reaches
     the replica by replication, exactly as in production;
  5. start() returns once the replica has applied the primary's
     gtid_binlog_pos (MASTER_GTID_WAIT, not a sleep).
"""

import time
from concurrent.futures import ThreadPoolExecutor

from . import accounts, util
from .server import MariaDBServer, ServerFailed  # noqa: F401 - re-exported
from .util import free_port, wait_for  # noqa: F401 - re-exported for tests

__all__ = ["MariaDBPair", "MariaDBServer", "ServerFailed", "free_port", "wait_for"]


class MariaDBPair:
    """Primary (server_id 1) and read-only replica (server_id 2) under base_dir.

    semi_sync=True turns on semi-synchronous replication (built into MariaDB
    10.11) with the given master timeout, and start() checks it is active."""

    def __init__(self, base_dir, semi_sync: bool = False,
                 semi_sync_timeout_ms: int = 10000,
                 primary_args=(), replica_args=()):
        self.base_dir = base_dir
        self.semi_sync = semi_sync
        p_args, r_args = list(primary_args), list(replica_args)
        if semi_sync:
            p_args += ["--rpl-semi-sync-master-enabled=ON",
                       f"--rpl-semi-sync-master-timeout={semi_sync_timeout_ms}"]
            r_args += ["--rpl-semi-sync-slave-enabled=ON"]
        self.primary = MariaDBServer(base_dir, "primary", 1, extra_args=p_args)
        self.replica = MariaDBServer(base_dir, "replica", 2, read_only=True,
                                     extra_args=r_args)
        self.start_seconds: float | None = None   # wall time of the last start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def servers(self) -> tuple[MariaDBServer, MariaDBServer]:
        return (self.primary, self.replica)

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 120.0) -> "MariaDBPair":
        """Start both servers and replication; see the module comment. On
        failure, stops whatever started and raises with both log tails."""
        t0 = time.monotonic()
        try:
            with ThreadPoolExecutor(2) as pool:
                for f in [pool.submit(s.start, timeout) for s in self.servers]:
                    f.result()
            self.primary.execute_all(accounts.REPLICATION_SQL)
            self._change_master()
            self.replica.sql("START SLAVE")
            wait_for(self.replication_running, timeout, what="replica threads to run")
            if self.semi_sync:
                # Before any further commit, so none waits out the timeout.
                wait_for(lambda: int(self.primary.status("Rpl_semi_sync_master_clients")) >= 1,
                         timeout, what="the semi-sync replica to register")
            self.primary.execute_all(accounts.SETUP_SQL)
            self.wait_replica_caught_up(timeout)
            if self.semi_sync:
                wait_for(self.semi_sync_active, timeout, what="semi-sync to be active")
        except BaseException as exc:
            logs = self._log_tails()
            self.stop()
            if isinstance(exc, Exception):
                raise RuntimeError(f"MariaDBPair start failed: {exc}\n{logs}") from exc
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _change_master(self) -> None:
        p = self.primary
        self.replica.sql(
            "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, "
            "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            (p.host, p.port, accounts.REPL_USER, accounts.REPL_PASSWORD))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop both servers (in parallel; SIGTERM, then SIGKILL)."""
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.stop(timeout), self.servers))

    def _log_tails(self, n: int = 25) -> str:
        return "\n".join(f"--- {s.name} error log ({s.error_log}) ---\n{s.log_tail(n)}"
                         for s in self.servers)

    # -- replication ---------------------------------------------------------

    def slave_status(self) -> dict:
        """The replica's SHOW SLAVE STATUS row as a dict ({} if none)."""
        rows = self.replica.query_rows("SHOW SLAVE STATUS")
        return rows[0] if rows else {}

    def replication_running(self) -> bool:
        """Both replica threads report Yes."""
        st = self.slave_status()
        return st.get("Slave_IO_Running") == "Yes" and st.get("Slave_SQL_Running") == "Yes"

    def replica_lag_seconds(self) -> int | None:
        """Seconds_Behind_Master (None while the SQL thread is stopped)."""
        return self.slave_status().get("Seconds_Behind_Master")

    def wait_replica_caught_up(self, timeout: float = 30.0) -> str:
        """Block until the replica has applied everything in the primary's
        binlog now; return that GTID position. Fails early with the error if
        the replica's SQL thread stops on an error."""
        pos = self.primary.query_value("SELECT @@GLOBAL.gtid_binlog_pos")
        if not pos:
            return ""
        deadline = time.monotonic() + timeout
        while True:
            step = max(0.1, min(1.0, deadline - time.monotonic()))
            # MASTER_GTID_WAIT blocks server-side until applied: 0, or -1 on timeout.
            r = self.replica.query_value("SELECT MASTER_GTID_WAIT(%s, %s)", (pos, step),
                                         read_timeout=step + 30)
            if r == 0:
                return pos
            st = self.slave_status()
            if st.get("Last_SQL_Errno") or time.monotonic() >= deadline:
                applied = self.replica.query_value("SELECT @@GLOBAL.gtid_slave_pos")
                raise util.WaitTimeout(
                    f"replica did not reach {pos} in {timeout}s: "
                    f"gtid_slave_pos={applied!r} received={st.get('Gtid_IO_Pos')!r} "
                    f"IO={st.get('Slave_IO_Running')} SQL={st.get('Slave_SQL_Running')} "
                    f"io_error={st.get('Last_IO_Error')!r} sql_error={st.get('Last_SQL_Error')!r}")

    def stop_replica_sql_thread(self, timeout: float = 30.0) -> None:
        """STOP SLAVE SQL_THREAD: the replica keeps receiving but stops
        applying, so it lags behind every later write on the primary."""
        self.replica.sql("STOP SLAVE SQL_THREAD")
        wait_for(lambda: self.slave_status().get("Slave_SQL_Running") == "No",
                 timeout, what="replica SQL thread to stop")

    def start_replica_sql_thread(self, timeout: float = 30.0) -> None:
        self.replica.sql("START SLAVE SQL_THREAD")
        wait_for(lambda: self.slave_status().get("Slave_SQL_Running") == "Yes",
                 timeout, what="replica SQL thread to run")

    def stop_replication(self, timeout: float = 30.0) -> None:
        """STOP SLAVE (both threads)."""
        self.replica.sql("STOP SLAVE")
        wait_for(lambda: not self.replication_running()
                 and self.slave_status().get("Slave_IO_Running") == "No",
                 timeout, what="replication to stop")

    def start_replication(self, timeout: float = 30.0) -> None:
        """START SLAVE (both threads) and wait until both run."""
        self.replica.sql("START SLAVE")
        wait_for(self.replication_running, timeout, what="replication to run")

    # -- semi-sync -----------------------------------------------------------

    def semi_sync_status(self) -> dict:
        """The primary's Rpl_semi_sync_master_* status counters."""
        rows = self.primary.sql("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")
        return {k: v for k, v in rows}

    def semi_sync_active(self) -> bool:
        """The primary runs semi-sync with at least one acknowledging replica."""
        st = self.semi_sync_status()
        return (st.get("Rpl_semi_sync_master_status") == "ON"
                and int(st.get("Rpl_semi_sync_master_clients", 0)) >= 1)
