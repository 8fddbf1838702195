#!/usr/bin/python3
"""tandem demo: a MariaDB primary + replica and tandem in front of them,
all under one state directory, until Ctrl-C or SIGTERM stops everything
(by pid) and exits 0. scripts/demo builds tandem and runs this. A server
that dies does not end the demo: tandem fails over, and the demo says so
and keeps running. `demo.py drill` (./scripts/demo drill, in a second
terminal) runs the failover drill against the running demo (drill.py); it
asks this process, over a control socket in the state dir, to kill and
restart servers, so every process stays this process's child.

State dir: $TANDEM_DEMO_DIR or /tmp/tandem-demo (wiped at start unless a
demo is still running there). Tenant `demo` listens on 127.0.0.1:4017 and the
admin endpoint on 127.0.0.1:9090 when those ports are free, else on free
ones. --pair-only runs the servers without tandem (useful before the daemon
builds, and to test this script)."""

import argparse
import json
import os
import shutil
import signal
import socketserver
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import accounts, drill, failover_load, procs, util  # noqa: E402
from harness.tandem import TandemProcess, default_binary, pair_config  # noqa: E402

TENANT = "demo"
PIDS_FILE = "demo.pids"     # our own pid and our children's, to detect a live demo


def pick_port(wanted: int) -> int:
    return wanted if wanted and util.port_is_free(wanted) else util.free_port()


def live_demo_pids(state: Path) -> list[int]:
    """Pids listed by a previous demo in state that are still running and
    still mariadbd/tandem/python, so we never wipe a running demo's files."""
    try:
        pids = [int(x) for x in (state / PIDS_FILE).read_text().split()]
    except (FileNotFoundError, ValueError):
        return []
    alive = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(os.path.basename(a.decode(errors="replace")).startswith(("mariadbd", "tandem", "python", "demo"))
               for a in cmd[:2]):
            alive.append(pid)
    return alive


def banner(pair, config, tandem) -> str:
    port = util.split_hostport(config["tenants"][TENANT]["listen"])[1]
    admin = config["admin"]["listen"]
    u, pw = accounts.APP_USER, accounts.APP_PASSWORD
    lines = ["", "tandem demo is up."]
    if tandem:
        lines += [f"  connect through tandem:  mariadb -h 127.0.0.1 -P {port} -u {u} -p{pw} demo",
                  f"  admin endpoint:          http://{admin}/  (e.g. curl http://{admin}/status)",
                  f"  tandem pid {tandem.pid}, log {tandem.log_path}, config {tandem.config_path}"]
    else:
        lines += ["  (--pair-only: tandem not started)"]
    for s in pair.servers:
        lines.append(f"  {s.name:8} directly:       mariadb -h 127.0.0.1 -P {s.port} -u {u} -p{pw} demo"
                     f"   (pid {s.pid}, log {s.error_log})")
    if tandem:
        lines += ["",
                  f"  dashboard:               http://{admin}/  (open it in a browser)",
                  "",
                  "  Try a failover drill: in a second terminal run",
                  "      " + (f"TANDEM_DEMO_DIR={os.environ['TANDEM_DEMO_DIR']} "
                              if os.environ.get("TANDEM_DEMO_DIR") else "")
                  + "./scripts/demo drill",
                  "  It writes through tandem in one session, kills the primary (kill -9),",
                  "  shows the session carrying on and the failover record (detection,",
                  "  promotion, what was lost), restarts the old primary and shows it",
                  "  rejoining as a replica. Or kill a server yourself: this demo keeps",
                  "  running, tandem fails over, and the dashboard shows it."]
    lines += ["", "  Ctrl-C (or SIGTERM) stops everything.", ""]
    return "\n".join(lines)


class Control(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The drill's requests, one JSON line each: {"cmd": "kill", "server":
    name} (SIGKILL) or {"cmd": "restart", "server": name} (start it again
    as a replica, as after a crash). The servers stay children of the demo."""
    daemon_threads = True

    def __init__(self, path: Path, pair, on_change):
        self.pair, self.on_change = pair, on_change
        self.lock = threading.Lock()
        path.unlink(missing_ok=True)
        super().__init__(str(path), ControlHandler)


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            req = json.loads(self.rfile.readline() or b"{}")
            srv = {s.name: s for s in self.server.pair.servers}.get(req.get("server"))
            if not srv:
                ans = {"ok": False, "error": f"no server {req.get('server')!r}"}
            elif req.get("cmd") == "kill":
                with self.server.lock:
                    pid = srv.pid
                    srv.kill9()
                print(f"demo: drill: kill -9 of mariadbd {srv.name} (pid {pid})", flush=True)
                ans = {"ok": True, "pid": pid}
            elif req.get("cmd") == "restart":
                with self.server.lock:
                    if not srv.is_running():
                        failover_load.restart_as_replica(srv)
                self.server.on_change()
                print(f"demo: drill: mariadbd {srv.name} restarted (pid {srv.pid})", flush=True)
                ans = {"ok": True, "pid": srv.pid}
            else:
                ans = {"ok": False, "error": f"unknown command {req.get('cmd')!r}"}
        except Exception as exc:  # the answer says what went wrong
            ans = {"ok": False, "error": repr(exc)}
        self.wfile.write(json.dumps(ans).encode() + b"\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair-only", action="store_true", help="do not start tandem")
    ap.add_argument("--port", type=int, default=4017, help="tenant port (0: any free port)")
    ap.add_argument("--admin-port", type=int, default=9090, help="admin port (0: any free port)")
    ap.add_argument("--binary", default=None, help="tandem binary (default $TANDEM_BIN or build/tandem)")
    ap.add_argument("command", nargs="?", choices=["drill"],
                    help="drill: run the failover drill against the running demo")
    args = ap.parse_args()
    state = Path(os.environ.get("TANDEM_DEMO_DIR", "/tmp/tandem-demo"))
    if args.command == "drill":
        return drill.run(state)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    alive = live_demo_pids(state)
    if alive:
        print(f"a demo is already running in {state} (pids {alive}); stop it first", file=sys.stderr)
        return 1
    binary = args.binary or default_binary()
    if not args.pair_only and not os.access(binary, os.X_OK):
        print(f"no tandem binary at {binary}: run scripts/demo (it builds it) "
              f"or pass --pair-only", file=sys.stderr)
        return 1
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)

    # Semi-synchronous replication both ways, so a drill's acknowledged
    # writes are on the replica when the primary dies, again after a rejoin.
    pair = failover_load.failover_pair(state / "pair")
    tandem = None
    control = None
    rc = 0
    try:
        print(f"starting MariaDB primary + replica under {state} ...", flush=True)
        pair.start()
        print(f"pair ready in {pair.start_seconds:.1f}s", flush=True)
        config = pair_config(pair, {TENANT: pick_port(args.port)},
                             admin_port=pick_port(args.admin_port))
        if args.pair_only:
            (state / "tandem.json").write_text(json.dumps(config, indent=2) + "\n")
        else:
            tandem = TandemProcess(binary, config, state).start()
        def write_pids():
            (state / PIDS_FILE).write_text(" ".join(str(p) for p in
                                           [os.getpid(), *[s.pid for s in pair.servers if s.pid],
                                            *([tandem.pid] if tandem else [])]) + "\n")
        write_pids()
        if tandem:
            control = Control(state / drill.CONTROL, pair, write_pids)
            threading.Thread(target=control.serve_forever, daemon=True).start()
            (state / drill.INFO).write_text(json.dumps({
                "tenant": TENANT, "cluster": next(iter(config["clusters"])),
                "tenant_port": util.split_hostport(config["tenants"][TENANT]["listen"])[1],
                "admin": config["admin"]["listen"], "token": config["admin"].get("token"),
                "user": accounts.APP_USER, "password": accounts.APP_PASSWORD,
                "servers": [{"name": s.name, "address": s.address} for s in pair.servers],
            }, indent=2) + "\n")
        print(banner(pair, config, tandem), flush=True)
        print("demo: ready", flush=True)   # a line scripts and tests wait for
        running = {s.name: True for s in pair.servers}
        while not stop.wait(1.0):
            if tandem and not tandem.is_running():
                print(f"tandem exited with {tandem.returncode}:\n{tandem.log_tail()}",
                      file=sys.stderr, flush=True)
                rc = 1
                break
            for s in pair.servers:
                up = s.is_running()
                if running[s.name] and not up:
                    print(f"demo: mariadbd {s.name} ({s.address}) has exited; tandem fails "
                          f"over, the demo keeps running (see {s.error_log}; "
                          f"./scripts/demo drill restarts it)", flush=True)
                elif up and not running[s.name]:
                    print(f"demo: mariadbd {s.name} ({s.address}) runs again, pid {s.pid}",
                          flush=True)
                running[s.name] = up
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr, flush=True)
        rc = 1
    finally:
        print("stopping ...", flush=True)
        if control:
            control.shutdown()
            control.server_close()
            (state / drill.CONTROL).unlink(missing_ok=True)
        (state / drill.INFO).unlink(missing_ok=True)
        if tandem:
            tandem.stop()
        pair.stop()
        procs.stop_all()
        (state / PIDS_FILE).unlink(missing_ok=True)
        print("stopped", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
