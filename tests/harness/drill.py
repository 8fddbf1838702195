"""The failover drill of the demo (`./scripts/demo drill`, in a second
terminal while `./scripts/demo` runs): one session through tandem writes in
a loop; the primary is killed with SIGKILL; the drill shows the session
carrying on, prints the failover record from GET /failovers (detection,
decision and promotion, the whole move; the data-loss window), checks that
every acknowledged write is on the new primary, restarts the old primary
and shows it rejoining as a replica, and ends with a summary.

The demo process owns every server (Ctrl-C there stops them all, by pid):
the drill asks it to kill and restart one over the demo's control socket
(demo.py), and talks to tandem only as a client and through the admin API.
Exit status 0 when nothing was lost and the session carried on."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pymysql

CONTROL = "control.sock"
INFO = "demo.json"


def say(msg: str = "") -> None:
    print(msg, flush=True)


def control(state: Path, **req) -> dict:
    """One request to the running demo (see demo.py's Control)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(120)
        s.connect(str(state / CONTROL))
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf or b"{}")


class Admin:
    def __init__(self, addr: str, token: str | None):
        self.base, self.token = f"http://{addr}", token

    def call(self, method: str, path: str):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=b"" if method == "POST" else None)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def get(self, path: str):
        code, body = self.call("GET", path)
        if code != 200:
            raise RuntimeError(f"GET {path}: HTTP {code}: {body}")
        return body


def wait_for(pred, timeout: float, what: str):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


class WriteLoop(threading.Thread):
    """One session, autocommit INSERTs every `pause` seconds, each
    acknowledged one recorded with the server that took it and how long
    the client waited for it."""

    def __init__(self, connect, run_id: int, pause: float = 0.02):
        super().__init__(daemon=True)
        self.connect, self.run_id, self.pause = connect, run_id, pause
        self.conn = connect()
        self.client_id = self.conn.server_thread_id[0]
        self.acked = []        # (n, server_id, monotonic start, seconds waited)
        self.errors = []       # (n, error args) other than the retryable one
        self.retried = []      # (n, error args): ERR 1213, the write run again
        self.reconnects = 0
        self.stop_ev = threading.Event()

    def run(self):
        n = 0
        retry = False
        while not self.stop_ev.is_set():
            n += 0 if retry else 1
            retry = False
            t0 = time.monotonic()
            try:
                with self.conn.cursor() as cur:
                    cur.execute("INSERT INTO demo.drill (run, n, server) "
                                "VALUES (%s, %s, @@server_id)", (self.run_id, n))
                    cur.execute("SELECT @@server_id")
                    sid = cur.fetchone()[0]
                self.acked.append((n, sid, t0, time.monotonic() - t0))
            except pymysql.MySQLError as e:
                # 1213 (ER_LOCK_DEADLOCK, 40001) says "rolled back, run it
                # again": what tandem answers for a commit the dead primary
                # may not have finished. An application retries it as it
                # retries a deadlock; so does the drill, once per write.
                if e.args[0] == 1213 and not any(r[0] == n for r in self.retried):
                    self.retried.append((n, e.args))
                    retry = True
                    continue
                self.errors.append((n, e.args))
                if not self.conn.open:
                    self.reconnects += 1
                    try:
                        self.conn = self.connect()
                    except pymysql.MySQLError:
                        time.sleep(0.2)
            self.stop_ev.wait(self.pause)


def cluster_of(admin: Admin, name: str) -> dict:
    return admin.get("/clusters")["clusters"][name]


def healthy(c: dict):
    """(primary, replica) member dicts when the cluster is settled."""
    if c["transition"] != "none":
        return None
    ms = {m["address"]: m for m in c["members"]}
    p = ms.get(c["primary"])
    reps = [m for m in c["members"] if m is not p and m["state"] == "UP"
            and m["role"] == "replica" and not m["fenced"]
            and (m["replication"] or {}).get("io_running") == "Yes"]
    if p and p["state"] == "UP" and reps:
        return p, reps[0]
    return None


def bring_back(admin: Admin, cname: str, address: str) -> str:
    """Wait for a restarted server to answer probes and to replicate from
    the primary; if tandem keeps it fenced (no automatic rejoin), ask for
    the rejoin. Returns what was done, for the summary."""
    def member():
        return next(m for m in cluster_of(admin, cname)["members"] if m["address"] == address)
    wait_for(lambda: member()["health"] == "UP", 60, f"{address} to answer probes")
    did = "tandem rejoined it by itself"
    try:
        wait_for(lambda: not member()["fenced"] and member()["role"] == "replica", 5,
                 "an automatic rejoin")
    except RuntimeError:
        path = f"/clusters/{cname}/members/{address}/rejoin"
        code, body = admin.call("POST", path)
        did = (f"it was still fenced, so the drill sent POST {path} "
               f"(HTTP {code}{': ' + body.get('error', '') if code != 200 else ''})")
        say(f"   {did}")
    m = wait_for(lambda: (lambda m: m if not m["fenced"] and m["role"] == "replica"
                          and m["state"] == "UP" and (m["replication"] or {}).get(
                              "io_running") == "Yes" else None)(member()), 60,
                 f"{address} to replicate from the primary")
    say(f"   {address} is back: {m['role']}, {m['state']}, lag {m['lag_ms']} ms")
    return did


def run(state: Path, after_s: float = 3.0) -> int:
    try:
        info = json.loads((state / INFO).read_text())
    except FileNotFoundError:
        say(f"no demo is running in {state}: start ./scripts/demo first (in another terminal)")
        return 2
    admin = Admin(info["admin"], info.get("token"))
    cname, tenant = info["cluster"], info["tenant"]
    names = {s["address"]: s["name"] for s in info["servers"]}

    def connect():
        return pymysql.connect(host="127.0.0.1", port=info["tenant_port"], user=info["user"],
                               password=info["password"], database="demo", autocommit=True,
                               connect_timeout=10, read_timeout=60, write_timeout=60)

    say("== tandem failover drill ==")
    # A server killed by hand earlier (the demo keeps running) comes back
    # first, so the drill starts from a primary and a replica.
    c = cluster_of(admin, cname)
    for m in c["members"]:
        if m["address"] != c["primary"] and (m["state"] != "UP" or m["fenced"]):
            name = names.get(m["address"])
            say(f"0. {m['address']} ({name}) is {m['state']}{', fenced' if m['fenced'] else ''} "
                f"from an earlier failover: restarting it and rejoining it first")
            ans = control(state, cmd="restart", server=name)
            if not ans.get("ok"):
                say(f"   the demo could not restart it: {ans}")
                return 1
            bring_back(admin, cname, m["address"])
    p, r = wait_for(lambda: healthy(cluster_of(admin, cname)), 60,
                    "a primary and a replicating replica")
    say(f"cluster {cname}: primary {p['address']} ({names.get(p['address'])}), "
        f"replica {r['address']} ({names.get(r['address'])}, lag {r['lag_ms']} ms)")
    with connect() as c, c.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS demo.drill (id INT AUTO_INCREMENT PRIMARY KEY,"
                    " run BIGINT NOT NULL, n INT NOT NULL, server INT NOT NULL,"
                    " at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))")
    run_id = time.time_ns() // 1000
    tenant_before = admin.get(f"/tenants?q={tenant}")["tenants"][0]
    loop = WriteLoop(connect, run_id)
    loop.start()
    say(f"1. a session (connection id {loop.client_id}) writes through tandem "
        f"(port {info['tenant_port']}): INSERT INTO demo.drill every 20 ms")
    wait_for(lambda: len(loop.acked) >= 20, 30, "the first writes")
    say(f"   {len(loop.acked)} writes acknowledged, by server_id "
        f"{sorted({a[1] for a in loop.acked})}")

    victim = names[p["address"]]
    t_kill = time.monotonic()
    ans = control(state, cmd="kill", server=victim)
    if not ans.get("ok"):
        say(f"the demo could not kill {victim}: {ans}")
        return 1
    n_at_kill = len(loop.acked)
    say(f"2. kill -9 of the primary {p['address']} ({victim}, pid {ans['pid']})")
    c = wait_for(lambda: (lambda c: c if c["primary"] == r["address"] else None)(
        cluster_of(admin, cname)), 60, "tandem to fail over")
    t_pub = time.monotonic()
    say(f"   tandem made {r['address']} the primary {t_pub - t_kill:.2f} s after the kill")
    time.sleep(after_s)
    after = [a for a in loop.acked[n_at_kill:]]
    say(f"3. the same session carried on: {len(after)} more writes, by server_id "
        f"{sorted({a[1] for a in after})}, errors {len(loop.errors)}, "
        f"reconnects {loop.reconnects}")
    for n, args in loop.retried:
        say(f"   write {n} was in flight at the kill: tandem answered {args[0]} "
            f"({args[1]}); the session ran it again and it was acknowledged")
    for n, args in loop.errors[:5]:
        say(f"   write {n} failed: {args}")
    loop.stop_ev.set()
    loop.join(60)
    stall = max((a[3] for a in loop.acked if a[2] >= t_kill - 1), default=0.0)

    events = admin.get(f"/failovers?cluster={cname}")["events"]
    fo = next((e for e in events if e["kind"] == "failover" and e["from"] == p["address"]), None)
    if fo:
        say("4. the failover record (GET /failovers):")
        say(f"   {fo['from']} -> {fo['to']}: {fo['reason']}")
        say(f"   detection {fo['detection_ms']} ms, decision and promotion "
            f"{fo['decision_ms']} ms, total {fo['duration_ms']} ms; data-loss window "
            f"{fo['data_loss_window_ms']} ms; promoted by tandem: {fo['promoted']}")
    else:
        say("4. no failover record in GET /failovers")
    tenant_after = admin.get(f"/tenants?q={tenant}")["tenants"][0]
    moved = tenant_after.get("sessions_moved", 0) - tenant_before.get("sessions_moved", 0)
    say(f"   sessions moved to the new primary: {moved}; the longest write the session "
        f"waited for: {stall * 1000:.0f} ms")

    acked = {a[0] for a in loop.acked}
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT n FROM demo.drill WHERE run = %s", (run_id,))
        found = {row[0] for row in cur.fetchall()}
    lost = sorted(acked - found)
    say(f"5. acknowledged writes: {len(acked)}; on the new primary: {len(acked & found)}; "
        f"lost: {len(lost) if lost else 'nothing'}")

    say(f"6. restarting the old primary {p['address']} ({victim}) as a replica ...")
    ans = control(state, cmd="restart", server=victim)
    if not ans.get("ok"):
        say(f"   the demo could not restart it: {ans}")
        return 1
    say(f"   mariadbd {victim} runs again (pid {ans['pid']})")

    did = bring_back(admin, cname, p["address"])
    ok = not lost and not loop.errors and loop.reconnects == 0 and fo is not None
    say("")
    say("== drill summary ==")
    say(f"  primary killed:        {p['address']} -> new primary {r['address']}")
    if fo:
        say(f"  failover:              detection {fo['detection_ms']} ms + decision and "
            f"promotion {fo['decision_ms']} ms = {fo['duration_ms']} ms")
    carried = not loop.errors and loop.reconnects == 0
    say(f"  session:               {'carried on' if carried else 'INTERRUPTED'} "
        f"(connection id {loop.client_id}, "
        f"{len(loop.errors)} errors, {loop.reconnects} reconnects, longest wait "
        f"{stall * 1000:.0f} ms)")
    say(f"  writes:                {len(acked)} acknowledged, {len(lost)} lost, "
        f"{len(loop.retried)} retried after ERR 1213")
    say(f"  old primary:           rejoined as a replica ({did})")
    say(f"  result:                {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1
