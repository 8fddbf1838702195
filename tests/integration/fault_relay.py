"""FaultRelay: a TCP relay in front of one MariaDB server, for the one
moment a real server cannot be stopped at: between a COMMIT reaching the
server and its answer reaching tandem.

The cluster config names the relay instead of the server, so everything
tandem sends that member — sessions and the monitor's probes alike —
passes through it unchanged, until the relay is armed. Armed, it acts on
the next committing COM_QUERY it sees on a connection logged in as the
given user: `COMMIT`, or with arm(..., autocommit_write=True) an
autocommit `INSERT`/`UPDATE`/`DELETE`/`REPLACE` (the statement is its own
commit). A leading comment (tandem's commit-guard tag) is skipped:

  "cut"      forward the COMMIT, but from then on never pass that
             connection's answers back: the commit lands on the server and
             tandem hears nothing;
  "swallow"  drop the COMMIT and everything after it on that connection:
             the server never sees it (the transaction stays open there).

Then `fired` is set, and the test kills the real server (kill -9): the
relay closes a connection whose server side closed, as the kernel would.

hold() makes the relay a network partition that heals: no byte passes in
either direction, on open connections or new ones (TCP connects still
succeed, as through a link that drops packets), until release() lets the
held bytes through.

Client-to-server bytes are framed into packets only to find commands: the
login packet (sequence 1) gives the user; a connection that asks for TLS
is passed through blindly. Not a test file itself (meson runs test_*.py).
"""

import socket
import struct
import threading

CLIENT_SSL = 0x800
COM_QUERY = 0x03
ACTIONS = ("cut", "swallow")


class _Link:
    """One accepted connection and its connection to the server."""

    def __init__(self, relay: "FaultRelay", client: socket.socket, server: socket.socket):
        self.relay = relay
        self.client = client
        self.server = server
        self.user = None
        self.opaque = False      # TLS: no framing
        self.cut = False         # answers are dropped
        self.swallow = False     # requests are dropped
        self.pending = b""
        self.closed = False
        self.lock = threading.Lock()

    def start(self):
        threading.Thread(target=self._up, daemon=True).start()
        threading.Thread(target=self._down, daemon=True).start()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.relay._forget(self)

    # -- server to client ------------------------------------------------------

    def _down(self):
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                self.relay.flowing.wait()
                if not self.cut:
                    self.client.sendall(data)
        except OSError:
            pass
        self.close()

    # -- client to server ------------------------------------------------------

    def _up(self):
        try:
            while True:
                data = self.client.recv(65536)
                if not data:
                    break
                self.relay.flowing.wait()
                out = self._feed(data)
                if out:
                    self.server.sendall(out)
        except OSError:
            pass
        self.close()

    def _feed(self, data: bytes) -> bytes:
        """What of data goes on to the server (whole packets only, once
        framing is known), acting on an armed COMMIT."""
        if self.swallow:
            return b""
        if self.opaque:
            return data
        self.pending += data
        out = []
        while len(self.pending) >= 4:
            length = int.from_bytes(self.pending[:3], "little")
            if len(self.pending) < 4 + length:
                break
            seq = self.pending[3]
            pkt, payload = self.pending[:4 + length], self.pending[4:4 + length]
            self.pending = self.pending[4 + length:]
            if seq == 1 and self.user is None:
                self._login(payload)
            elif seq == 0 and self._is_commit(payload, self.relay.writes) \
                    and self.relay._take(self):
                if self.relay.action == "swallow":
                    self.swallow = True
                    self.pending = b""
                    self.relay._fired(self)
                    break
                self.cut = True          # before the COMMIT leaves: no answer slips through
                out.append(pkt)
                self.server.sendall(b"".join(out))
                self.relay._fired(self)
                out = []
                continue
            out.append(pkt)
        if self.opaque:
            out.append(self.pending)
            self.pending = b""
        return b"".join(out)

    def _login(self, payload: bytes):
        if len(payload) < 32:
            return
        caps = struct.unpack("<I", payload[:4])[0]
        if len(payload) == 32 and caps & CLIENT_SSL:
            self.user = ""
            self.opaque = True
            return
        end = payload.find(b"\0", 32)
        self.user = payload[32:end].decode(errors="replace") if end > 0 else ""

    @staticmethod
    def _is_commit(payload: bytes, writes: bool = False) -> bool:
        if len(payload) < 2 or payload[0] != COM_QUERY:
            return False
        text = payload[1:].strip()
        while text.startswith(b"/*") and b"*/" in text:
            text = text[text.index(b"*/") + 2:].strip()
        text = text.rstrip(b";").strip().upper()
        if text == b"COMMIT":
            return True
        return writes and text.split(b" ", 1)[0] in (b"INSERT", b"UPDATE", b"DELETE",
                                                     b"REPLACE")


class FaultRelay:
    """A relay on a free loopback port in front of upstream ("host:port")."""

    def __init__(self, upstream: str, host: str = "127.0.0.1"):
        uh, _, up = upstream.rpartition(":")
        self.upstream = (uh, int(up))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.address = f"{host}:{self.port}"
        self.links: set[_Link] = set()
        self.lock = threading.Lock()
        self.writes = False
        self.action = None
        self.user = None
        self.fired = threading.Event()
        self.fired_user = None
        self.taken = False
        self.closing = False
        self.flowing = threading.Event()
        self.flowing.set()

    def start(self) -> "FaultRelay":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.closing = True
        self.flowing.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            links = list(self.links)
        for link in links:
            link.close()

    def arm(self, action: str, user: str = "app", autocommit_write: bool = False):
        """Act on the next COMMIT (or autocommit write) of a connection
        logged in as user."""
        assert action in ACTIONS, action
        with self.lock:
            self.writes = autocommit_write
            self.fired.clear()
            self.taken = False
            self.action, self.user = action, user

    def hold(self):
        """Stop forwarding anything (see the module comment)."""
        self.flowing.clear()

    def release(self):
        self.flowing.set()

    def disarm(self):
        with self.lock:
            self.action = None

    def wait_fired(self, timeout: float = 30) -> None:
        if not self.fired.wait(timeout):
            raise AssertionError(f"relay {self.address}: no COMMIT to {self.action} "
                                 f"within {timeout}s")

    # -- links -------------------------------------------------------------------

    def _take(self, link: _Link) -> bool:
        """Whether this COMMIT is the armed one (at most one is)."""
        with self.lock:
            if self.action is None or link.user != self.user or self.taken:
                return False
            self.taken = True
            return True

    def _fired(self, link: _Link):
        with self.lock:
            self.fired_user = link.user
            self.fired.set()

    def _forget(self, link: _Link):
        with self.lock:
            self.links.discard(link)

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()           # the server is down: so is the relay's side
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, server)
            with self.lock:
                self.links.add(link)
            link.start()
