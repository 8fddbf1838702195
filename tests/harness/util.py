"""Small shared helpers: free loopback ports, polling waits, scratch
directories. Nothing here starts or stops a process (that is procs.py)."""

import os
import random
import shutil
import socket
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def repo_root() -> Path:
    """The source tree this harness lives in (tests/harness/ is two levels down)."""
    return Path(__file__).resolve().parents[2]


# Ports handed out by free_port(): below the kernel's ephemeral range
# (32768-60999 here), so no outgoing connection takes one by chance, and
# reserved for the life of the process that asked (a file per port under
# PORT_DIR, holding its pid), so that tests running in parallel never get
# the same port between "it was free" and "tandem bound it".
PORT_RANGE = (20000, 32000)
PORT_DIR = Path(os.environ.get("TANDEM_PORT_DIR", "/tmp/tandem-test-ports"))


def _reserve(port: int) -> bool:
    PORT_DIR.mkdir(parents=True, exist_ok=True)
    f = PORT_DIR / str(port)
    for _ in range(2):
        try:
            fd = os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(f.read_text() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and Path(f"/proc/{owner}").exists():
                return False
            f.unlink(missing_ok=True)   # its owner is gone: reclaim it
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free now and that no other test process will be
    given while this one lives. Whoever binds it must still cope with a
    foreign program taking it (MariaDBServer.start retries)."""
    for _ in range(1000):
        port = random.randint(*PORT_RANGE)
        if not port_is_free(port, host) or not _reserve(port):
            continue
        if port_is_free(port, host):
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


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


def is_listening(host: str, port: int) -> bool:
    """True if a TCP socket listens on host:port (IPv4), read from
    /proc/net/tcp. Unlike a probe connection this leaves no trace in the
    listener's counters: a probe the daemon accepts later would show up as
    a session (or a refused one) in the middle of a test."""
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return can_connect(host, port)
    want = "%08X:%04X" % (int.from_bytes(packed, "little"), port)
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] in (want, "00000000:%04X" % port) and fields[3] == "0A":
                return True
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
