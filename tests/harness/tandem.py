"""TandemProcess: the tandem daemon under test, run as `<binary> -c <json>`
from a workdir that holds its config and log; plus builders for the config
of a tenant in front of a MariaDBPair.

Config shape (docs are the daemon's; this is what the builders emit):
  {"admin": {"listen": "127.0.0.1:P"}, "workers": 2,
   "clusters": {"db1": {"primary": "127.0.0.1:P", "replicas": ["127.0.0.1:P"],
                        "monitor": {"user": ..., "password": ...}}},
   "tenants": {"vps17": {"listen": "127.0.0.1:P", "allow": ["127.0.0.0/8"],
                         "cluster": "db1",
                         "users": {"app": {"password": "app-pass"}}}}}
A user may carry {"password_hash": "*<40 HEX>"} instead of a password.
"""

import copy
import hashlib
import json
import os
import signal
from pathlib import Path

from . import accounts, procs, util
from .util import free_port, wait_for  # noqa: F401 - re-exported for tests

__all__ = ["TandemProcess", "TandemFailed", "default_binary", "native_password_hash",
           "cluster_config", "tenant_config", "pair_config", "free_port", "wait_for"]


class TandemFailed(RuntimeError):
    """tandem exited or never listened; the message carries its log tail."""


def default_binary() -> str:
    """$TANDEM_BIN (meson sets it), else <repo>/build/tandem."""
    return os.environ.get("TANDEM_BIN") or str(util.repo_root() / "build" / "tandem")


# what the ASan+UBSan build writes when it finds something
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


class TandemProcess:
    """One tandem daemon. Not started by the constructor.

    binary None means default_binary(); config is a dict, written as
    <workdir>/tandem.json on start() and on reload(new_config)."""

    def __init__(self, binary, config: dict, workdir, *, extra_args=(), env=None,
                 name: str = "tandem"):
        self.binary = str(binary or default_binary())
        self.config = copy.deepcopy(config)
        self.workdir = Path(workdir)
        self.config_path = self.workdir / f"{name}.json"
        self.log_path = self.workdir / f"{name}.log"
        self.name = name
        self._proc = procs.ManagedProcess(
            [self.binary, "-c", str(self.config_path), *extra_args],
            self.log_path, name=name, env=env)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<TandemProcess {self.binary} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def write_config(self, config: dict | None = None) -> None:
        """Write config (or the current one) to config_path atomically, so a
        reload never reads half a file."""
        if config is not None:
            self.config = copy.deepcopy(config)
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.config, indent=2) + "\n")
        tmp.replace(self.config_path)

    def listen_addresses(self, include_admin: bool = False) -> list[tuple[str, int]]:
        """(host, port) of every tenant listener (and the admin one)."""
        addrs = [util.split_hostport(t["listen"]) for t in self.config.get("tenants", {}).values()]
        if include_admin and "admin" in self.config:
            addrs.append(util.split_hostport(self.config["admin"]["listen"]))
        return addrs

    def tenant_port(self, tenant: str) -> int:
        return util.split_hostport(self.config["tenants"][tenant]["listen"])[1]

    def admin_port(self) -> int:
        return util.split_hostport(self.config["admin"]["listen"])[1]

    def start(self, timeout: float = 30.0, wait_admin: bool = False) -> "TandemProcess":
        """Write the config, start the daemon, and return once every tenant
        listener (and the admin one if wait_admin) listens.
        Raises TandemFailed with the log tail if it exits or times out."""
        if os.environ.get("TANDEM_TEST_SLOW_TANDEM"):
            timeout = max(timeout, 180.0)    # under valgrind: start-up takes long
        if not os.access(self.binary, os.X_OK):
            raise TandemFailed(f"no tandem binary at {self.binary} (build it: ninja -C build, "
                               f"or set TANDEM_BIN)")
        self.write_config()
        self._proc.start()
        pending = self.listen_addresses(include_admin=wait_admin)

        def all_listening():
            if not self._proc.is_running():
                raise TandemFailed(f"{self.name} exited with {self._proc.returncode} "
                                   f"before listening:\n{self.log_tail()}")
            pending[:] = [a for a in pending if not util.is_listening(*a)]
            return not pending

        try:
            wait_for(all_listening, timeout, what=f"{self.name} to listen on {pending}",
                     ignore=())
        except util.WaitTimeout as exc:
            self._proc.stop(5)
            raise TandemFailed(f"{exc}\n{self.log_tail()}") from None
        return self

    def reload(self, config: dict | None = None) -> None:
        """Write config if given, then SIGHUP. Returns at once: whether the
        daemon took it is for the test to observe (admin status, behaviour)."""
        if config is not None:
            self.write_config(config)
        self._proc.send(signal.SIGHUP)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait up to timeout s, then SIGKILL. Returns the exit
        status (0 for a clean shutdown; negative: killed by that signal)."""
        return self._proc.stop(timeout)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; raises TimeoutError rather than SIGKILLing."""
        return self._proc.terminate(timeout)

    def kill9(self) -> int | None:
        return self._proc.kill9()

    def sigstop(self) -> None:
        self._proc.sigstop()

    def sigcont(self) -> None:
        self._proc.sigcont()

    def is_running(self) -> bool:
        return self._proc.is_running()

    def log_text(self) -> str:
        """Everything the daemon wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return util.tail(self.log_path, n)

    def exit_problems(self, rc: int | None) -> list[str]:
        """What a stopped tandem did wrong, given stop()'s exit status: a
        sanitizer report in its log (the ASan+UBSan build aborts on one and
        checks for leaks at exit) and a non-zero exit, each with the log's
        tail. Read it before the scratch directory goes."""
        log = self.log_text()
        out = [f"{self.name} reported {m}:\n{self.log_tail(60)}"
               for m in SANITIZER_MARKERS if m in log]
        if rc != 0:
            out.append(f"{self.name} exited with {rc}:\n{self.log_tail(60)}")
        return out


def raise_problems(problems: list[str]) -> None:
    """Fail with every problem found (exit_problems() of each tandem)."""
    if problems:
        raise AssertionError("\n".join(problems))


# -- config builders -------------------------------------------------------------

def native_password_hash(password: str) -> str:
    """mysql_native_password's stored form: '*' + HEX(SHA1(SHA1(password)))."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def cluster_config(pair, monitor_user: str = accounts.MONITOR_USER,
                   monitor_password: str = accounts.MONITOR_PASSWORD) -> dict:
    """The "clusters" entry for a MariaDBPair."""
    monitor = {"user": monitor_user, "password": monitor_password}
    if os.environ.get("TANDEM_TEST_SLOW_TANDEM"):
        # tandem under valgrind (tests/valgrind/run.sh) answers 20-50x slower:
        # its own probes must not time out into a failover
        monitor.update(timeout_ms=10000, failures=20)
    return {
        "primary": pair.primary.address,
        "replicas": [pair.replica.address],
        "monitor": monitor,
    }


def tenant_config(cluster: str, port: int | None = None, users: dict | None = None,
                  allow=("127.0.0.0/8",)) -> dict:
    """One "tenants" entry; port None picks a free one. users defaults to the
    harness app account with its plain password."""
    return {
        "listen": f"{util.LOOPBACK}:{port or free_port()}",
        "allow": list(allow),
        "cluster": cluster,
        "users": copy.deepcopy(users) if users is not None
        else {accounts.APP_USER: {"password": accounts.APP_PASSWORD}},
    }


def pair_config(pair, tenants=("vps17",), *, cluster: str = "db1", workers: int = 2,
                admin_port: int | None = None, users: dict | None = None,
                allow=("127.0.0.0/8",)) -> dict:
    """A complete config: one cluster for the pair and one tenant per name in
    tenants (a list of names, or a dict name -> port or None), each on a
    free port unless given, plus an admin listener on a free port."""
    if not isinstance(tenants, dict):
        tenants = {name: None for name in tenants}
    return {
        "admin": {"listen": f"{util.LOOPBACK}:{admin_port or free_port()}"},
        "workers": workers,
        "clusters": {cluster: cluster_config(pair)},
        "tenants": {name: tenant_config(cluster, port, users, allow)
                    for name, port in tenants.items()},
    }
