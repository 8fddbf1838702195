"""Every process the harness starts, and only those: start, signal, stop by
pid, and stop whatever is left when the test exits or is interrupted.

Each started process is kept in an in-memory registry and, if
$TANDEM_TEST_PIDS_DIR is set, in a file named after its pid there holding the
process start time, so scripts/test can stop leftovers of a killed test run by
pid without ever touching a process the harness did not start. Children stay
in the test's process group on purpose: when meson times a test out it
signals the whole group, so servers die with their test.
"""

import atexit
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

PIDS_DIR_ENV = "TANDEM_TEST_PIDS_DIR"

_lock = threading.RLock()       # reentrant: the signal handler may interrupt a holder
_registry: dict[int, "ManagedProcess"] = {}   # pid -> process, in start order


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid
    it names one process for its whole life, so a reused pid is told apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def proc_state(pid: int) -> str | None:
    """The one-letter state of /proc/<pid>/stat ('T' = stopped), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


class ManagedProcess:
    """One child process with its output appended to log_path.

    Not started by the constructor; start() may be called again after the
    process has exited (restart), and then gets a new pid."""

    def __init__(self, argv: list[str], log_path: Path, name: str | None = None,
                 env: dict | None = None, cwd: Path | None = None):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.name = name or os.path.basename(self.argv[0])
        self.env = env
        self.cwd = cwd
        self._popen: subprocess.Popen | None = None

    # -- state ---------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Pid of the current (or last) run, None before the first start."""
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """Exit status of the last run (negative = killed by that signal)."""
        return self._popen.poll() if self._popen else None

    def is_running(self) -> bool:
        """True while the process exists (a SIGSTOPped one counts). Reaps it
        if it has exited, so a dead child never lingers as a zombie."""
        return self._popen is not None and self._popen.poll() is None

    def is_stopped(self) -> bool:
        """True if the process is SIGSTOPped right now."""
        return self.is_running() and proc_state(self.pid) in ("T", "t")

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> int:
        """Start the process; return its pid. Raises if it is already running."""
        if self.is_running():
            raise RuntimeError(f"{self.name} already running as pid {self.pid}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log, _lock:
            self._popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
            _register(self)
        return self._popen.pid

    def wait(self, timeout: float) -> int | None:
        """Wait up to timeout s for the process to exit; its status or None."""
        if self._popen is None:
            return None
        try:
            rc = self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        _unregister(self)
        return rc

    def send(self, sig: int) -> None:
        """Send sig to this process if it is still ours and running."""
        if self.is_running():
            os.kill(self._popen.pid, sig)

    def kill9(self, timeout: float = 10.0) -> int | None:
        """SIGKILL and reap. Returns the exit status (-9)."""
        self.send(signal.SIGKILL)
        return self.wait(timeout)

    def sigstop(self, timeout: float = 5.0) -> None:
        """SIGSTOP, and return once the kernel shows the process stopped."""
        self.send(signal.SIGSTOP)
        self._await_state(stopped=True, timeout=timeout)

    def sigcont(self, timeout: float = 5.0) -> None:
        """SIGCONT, and return once the process runs again."""
        self.send(signal.SIGCONT)
        self._await_state(stopped=False, timeout=timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM (after SIGCONT if stopped) and wait up to timeout s for
        the exit. Returns the exit status; raises TimeoutError if it lingers."""
        if not self.is_running():
            _unregister(self)
            return self.returncode
        if self.is_stopped():
            self.send(signal.SIGCONT)
        self.send(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            raise TimeoutError(f"{self.name} pid {self.pid} ignored SIGTERM for {timeout}s")
        return rc

    def stop(self, timeout: float = 30.0) -> int | None:
        """terminate(), falling back to SIGKILL. Never raises for a slow
        process; returns its exit status (None if it was never started)."""
        if self._popen is None:
            return None
        try:
            return self.terminate(timeout)
        except TimeoutError:
            return self.kill9()

    def _await_state(self, stopped: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.is_running() and self.is_stopped() != stopped:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} pid {self.pid} did not "
                                   f"{'stop' if stopped else 'continue'}")
            time.sleep(0.01)


# -- registry ------------------------------------------------------------------

def _pid_file(pid: int) -> Path | None:
    d = os.environ.get(PIDS_DIR_ENV)
    return Path(d) / str(pid) if d else None


def _register(p: ManagedProcess) -> None:
    with _lock:
        _registry[p.pid] = p
        path = _pid_file(p.pid)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Line 1: start time (guards pid reuse); line 2: argv, for humans.
            path.write_text(f"{proc_start_time(p.pid) or ''}\n{' '.join(p.argv)}\n")


def _unregister(p: ManagedProcess) -> None:
    with _lock:
        if p.pid is not None and _registry.get(p.pid) is p:
            del _registry[p.pid]
            path = _pid_file(p.pid)
            if path:
                path.unlink(missing_ok=True)


def running() -> list[ManagedProcess]:
    """Processes this harness started that have not been reaped yet."""
    with _lock:
        return [p for p in _registry.values() if p.is_running()]


def stop_all(timeout: float = 15.0) -> None:
    """Stop every registered process, newest first (tandem before the
    servers it talks to), by pid. Safe to call more than once."""
    with _lock:
        procs = list(_registry.values())
    for p in reversed(procs):
        try:
            p.stop(timeout)
        except Exception as exc:  # cleanup must reach every process
            print(f"harness: stopping {p.name} pid {p.pid}: {exc!r}", flush=True)
        _unregister(p)


def _on_signal(signum, frame):
    stop_all()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    # Die of the same signal so the caller (meson, a shell) sees why.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    """atexit plus SIGTERM/SIGINT cleanup, unless the program has installed
    its own handlers (demo.py does, and calls stop_all itself)."""
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _on_signal)


_install_handlers()
