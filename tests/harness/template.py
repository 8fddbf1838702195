"""The pristine MariaDB datadir every test server starts from.

mariadb-install-db runs once per MariaDB version and option set into a cache
directory; each server then gets a copy (tens of milliseconds instead of a
second of bootstrap per server). Several tests run in parallel, so building
the template is serialised with an flock on a file in the cache directory.
Owns only the template; it never starts a long-lived server.
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"

# InnoDB sizes are fixed when the datadir is created; install-db and every
# server must pass the same ones, so they live here and server.py imports them.
INNODB_ARGS = [
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=32M",
]

# normal root auth: root@localhost with an empty password, so root can log in
# over the socket whatever OS user runs the tests; no test database with
# anonymous grants (the pair creates its own `test`).
INSTALL_ARGS = [
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--skip-name-resolve",
    *INNODB_ARGS,
]


@cache
def mariadb_version() -> str:
    """'10.11.19' from `mariadbd --version`."""
    out = subprocess.run([MARIADBD, "--version"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Ver\s+(\d+\.\d+\.\d+)", out)
    if not m:
        raise RuntimeError(f"cannot parse mariadbd version from {out!r}")
    return m.group(1)


def cache_dir() -> Path:
    """$TANDEM_TEST_CACHE, or /tmp/tandem-test-cache/<mariadb version>."""
    env = os.environ.get("TANDEM_TEST_CACHE")
    return Path(env) if env else Path("/tmp/tandem-test-cache") / mariadb_version()


def template_datadir() -> Path:
    """Path of the template datadir, building it first if needed. Safe to
    call from many processes and threads at once; only one builds."""
    key = hashlib.sha1(" ".join([mariadb_version(), *INSTALL_ARGS]).encode()).hexdigest()[:12]
    root = cache_dir()
    final = root / f"datadir-{key}"
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not final.is_dir():          # another process may have won the race
            _build(root, final)
    return final


def _build(root: Path, final: Path) -> None:
    # Build beside the final path and rename: a crash mid-build leaves only a
    # .building-* directory, never a half-made template under the final name.
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        datadir = work / "data"
        log = work / "install-db.log"
        t0 = time.monotonic()
        with open(log, "wb") as out:
            rc = subprocess.run(
                [INSTALL_DB, "--no-defaults", f"--datadir={datadir}", "--user=root",
                 *INSTALL_ARGS],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=work).returncode
        if rc != 0:
            raise RuntimeError(f"mariadb-install-db failed ({rc}):\n{log.read_text()[-4000:]}")
        datadir.rename(final)
        print(f"harness: built MariaDB template {final} in {time.monotonic() - t0:.1f}s",
              flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def copy_template(dest: Path) -> None:
    """Copy the template datadir to dest (which must not exist yet)."""
    shutil.copytree(template_datadir(), dest, symlinks=True)
