"""Etcd: a real etcd (Debian's etcd-server 3.4) for the coordination tests,
one node or a cluster of three on loopback ports, started and stopped by
pid; plus TcpRelay, a relay between one tandem and etcd that can stop
forwarding (a partition that cuts that one tandem off).

Keys and values on the v3 HTTP/JSON gateway are base64; get()/prefix()
decode them. Not a test file itself."""

import base64
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from . import procs, util

ETCD_BIN = "/usr/bin/etcd"
ETCDCTL_BIN = "/usr/bin/etcdctl"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _unb64(s: str) -> str:
    return base64.b64decode(s).decode()


class Etcd:
    """members etcd processes forming one cluster. Not started by the
    constructor; each member has its own data dir under base_dir."""

    def __init__(self, base_dir, members: int = 1, extra_args=()):
        self.dir = Path(base_dir)
        self.n = members
        self.client_ports = [util.free_port() for _ in range(members)]
        self.peer_ports = [util.free_port() for _ in range(members)]
        self.names = [f"e{i}" for i in range(members)]
        self.procs = []
        self.auth = None
        token = f"tandem-{os.getpid()}-{self.client_ports[0]}"
        cluster = ",".join(f"{n}=http://{util.LOOPBACK}:{p}"
                           for n, p in zip(self.names, self.peer_ports))
        for i in range(members):
            d = self.dir / self.names[i]
            argv = [ETCD_BIN, "--name", self.names[i], "--data-dir", str(d / "data"),
                    "--listen-client-urls", f"http://{util.LOOPBACK}:{self.client_ports[i]}",
                    "--advertise-client-urls", f"http://{util.LOOPBACK}:{self.client_ports[i]}",
                    "--listen-peer-urls", f"http://{util.LOOPBACK}:{self.peer_ports[i]}",
                    "--initial-advertise-peer-urls",
                    f"http://{util.LOOPBACK}:{self.peer_ports[i]}",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--initial-cluster-token", token,
                    "--heartbeat-interval", "100", "--election-timeout", "1000",
                    "--logger", "zap", "--log-level", "warn", *extra_args]
            self.procs.append(procs.ManagedProcess(argv, d / "etcd.log", name=self.names[i]))

    @property
    def endpoints(self) -> list[str]:
        return [f"{util.LOOPBACK}:{p}" for p in self.client_ports]

    def start(self, timeout: float = 60.0) -> "Etcd":
        for p in self.procs:
            if not p.is_running():
                p.start()
        for i in range(self.n):
            self.wait_member(i, timeout)
        return self

    def wait_member(self, i: int, timeout: float = 60.0) -> None:
        def healthy():
            if not self.procs[i].is_running():
                raise RuntimeError(f"etcd {self.names[i]} exited:\n"
                                   f"{util.tail(self.procs[i].log_path, 20)}")
            try:
                with urllib.request.urlopen(
                        f"http://{self.endpoints[i]}/health", timeout=2) as r:
                    return json.loads(r.read()).get("health") == "true"
            except OSError:
                return False
        util.wait_for(healthy, timeout, what=f"etcd {self.names[i]} healthy")

    def stop(self, timeout: float = 15.0) -> None:
        for p in self.procs:
            p.stop(timeout)

    def log_tail(self, i: int, n: int = 20) -> str:
        """The last n lines of member i's log."""
        return util.tail(self.procs[i].log_path, n)

    def kill9(self, i: int | None = None) -> None:
        for j, p in enumerate(self.procs):
            if i is None or i == j:
                p.kill9()

    def enable_auth(self, password: str) -> None:
        """Create root (with the root role) and turn authentication on,
        with etcdctl from Debian's etcd-client."""
        ep = ",".join(f"http://{e}" for e in self.endpoints)
        for args in (["user", "add", f"root:{password}"], ["role", "add", "root"],
                     ["user", "grant-role", "root", "root"], ["auth", "enable"]):
            subprocess.run([ETCDCTL_BIN, "--endpoints", ep, *args], check=True,
                           capture_output=True, env={"ETCDCTL_API": "3"}, timeout=30)
        self.auth = ("root", password)

    def post(self, path: str, body: dict, timeout: float = 5.0) -> dict:
        last = None
        for ep in self.endpoints:
            try:
                headers = {"Content-Type": "application/json"}
                if self.auth and path != "/v3/auth/authenticate":
                    tok = self.post("/v3/auth/authenticate",
                                    {"name": self.auth[0], "password": self.auth[1]})["token"]
                    headers["Authorization"] = tok
                req = urllib.request.Request(f"http://{ep}{path}", data=json.dumps(body).encode(),
                                             headers=headers)
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read())
            except OSError as e:
                last = e
        raise last

    def get(self, key: str) -> str | None:
        kvs = self.post("/v3/kv/range", {"key": _b64(key)}).get("kvs", [])
        return _unb64(kvs[0].get("value", "")) if kvs else None

    def prefix(self, prefix: str) -> dict[str, str]:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        kvs = self.post("/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(end)}).get(
            "kvs", [])
        return {_unb64(kv["key"]): _unb64(kv.get("value", "")) for kv in kvs}

    def record(self, prefix: str, cluster: str) -> dict | None:
        v = self.get(f"{prefix}/{cluster}/record")
        return json.loads(v) if v else None


class TcpRelay:
    """Forwards every connection to target until cut(): then it stops
    reading from both sides (bytes stay in the kernel's buffers, as on a
    network that drops packets) and holds new connections without
    connecting them on; restore() lets everything flow again.

    A refused connection passes through as a refusal, as it would on a
    plain network path: when target refuses, the relay stops listening
    until target accepts again."""

    def __init__(self, target: str):
        self.target = util.split_hostport(target)
        self.port = util.free_port()
        self.flowing = threading.Event()
        self.flowing.set()
        self._closed = False
        self._listen_lock = threading.Lock()
        self._listen()

    def _listen(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((util.LOOPBACK, self.port))
        self._sock.listen(64)
        threading.Thread(target=self._accept, args=(self._sock,), daemon=True).start()

    def _refused(self):
        """target refused: refuse too, until it accepts again."""
        with self._listen_lock:
            if self._sock is None:
                return
            self._sock.close()
            self._sock = None
        while not self._closed:
            try:
                socket.create_connection(self.target, timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with self._listen_lock:
            if not self._closed:
                self._listen()

    @property
    def address(self) -> str:
        return f"{util.LOOPBACK}:{self.port}"

    def cut(self) -> None:
        self.flowing.clear()

    def restore(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self._closed = True
        self.flowing.set()
        with self._listen_lock:
            if self._sock:
                self._sock.close()
            self._sock = None

    def _accept(self, sock):
        while not self._closed:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._link, args=(c,), daemon=True).start()

    def _link(self, c: socket.socket):
        self.flowing.wait()
        try:
            s = socket.create_connection(self.target, timeout=5)
        except ConnectionRefusedError:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            threading.Thread(target=self._refused, daemon=True).start()
            return
        except OSError:
            c.close()
            return
        socks = [c, s]
        try:
            while not self._closed:
                if not self.flowing.is_set():
                    self.flowing.wait(0.05)
                    continue
                r, _, _ = select.select(socks, [], [], 0.05)
                for x in r:
                    data = x.recv(65536)
                    if not data:
                        return
                    (s if x is c else c).sendall(data)
        except OSError:
            return
        finally:
            c.close()
            s.close()


def coordination(endpoints, prefix: str, instance: str, ttl_s: int = 2,
                 timeout_ms: int = 400) -> dict:
    """A tandem config's "coordination" section."""
    return {"endpoints": list(endpoints), "prefix": prefix, "instance": instance,
            "lease_ttl_s": ttl_s, "timeout_ms": timeout_ms}

