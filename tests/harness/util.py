"""Small shared helpers: free loopback ports, polling waits, scratch
directories. Nothing here starts or stops a process (that is procs.py)."""

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def repo_root() -> Path:
    """The source tree this harness lives in (tests/harness/ is two levels down)."""
    return Path(__file__).resolve().parents[2]


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago. Racy by nature: whoever binds it
    later must be ready to pick another (MariaDBServer.start retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if nothing listens on (or holds) host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def can_connect(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a TCP connect to host:port succeeds (the peer accepts)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def split_hostport(addr: str) -> tuple[str, int]:
    """'127.0.0.1:4017' -> ('127.0.0.1', 4017)."""
    host, _, port = addr.rpartition(":")
    return host, int(port)


class WaitTimeout(AssertionError):
    """A polled condition did not become true in time. An AssertionError so
    unittest reports it as a failure of the test, not an error in it."""


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05,
             what: str | None = None, ignore=(Exception,)):
    """Call predicate() until it returns something truthy; return that value.

    Exceptions listed in `ignore` count as "not yet" (a refused connection is
    the usual one); the last of them is quoted if the wait times out. The
    interval grows gently to 0.5 s so long waits do not spin."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except ignore as exc:  # noqa: PERF203 - polling is the point
            last_exc = exc
        if time.monotonic() >= deadline:
            desc = what or getattr(predicate, "__name__", "condition")
            msg = f"timed out after {timeout:.1f}s waiting for {desc}"
            if last_exc is not None:
                msg += f" (last error: {last_exc!r})"
            raise WaitTimeout(msg)
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def scratch_dir(name: str) -> Path:
    """A fresh directory for one test's servers and logs, under
    $TANDEM_TEST_TMP (meson sets it to the build dir) or the system tmp."""
    parent = os.environ.get("TANDEM_TEST_TMP")
    if parent:
        os.makedirs(parent, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent or None))


def remove_scratch(path: Path) -> None:
    """Delete a scratch dir unless TANDEM_KEEP_TMP=1 asks to keep it for a
    post-mortem. Call only after every process using it has stopped."""
    if os.environ.get("TANDEM_KEEP_TMP") == "1":
        print(f"keeping {path}", flush=True)
        return
    shutil.rmtree(path, ignore_errors=True)


def tail(path: Path, n: int = 40) -> str:
    """The last n lines of a text file, or a note if it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(lines[-n:])
