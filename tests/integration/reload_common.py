"""Helpers shared by the reload, config and shutdown tests: reading the
admin endpoint, waiting for a reload to be taken or refused, and running
`tandem --check`."""

import json
import subprocess
import urllib.request

from harness import util
from harness.tandem import default_binary, raise_problems


def status(tandem) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{tandem.admin_port()}/status",
                                timeout=5) as r:
        return json.load(r)


def metrics(tandem) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{tandem.admin_port()}/metrics",
                                timeout=5) as r:
        return r.read().decode()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


def reload_and_wait(tandem, config, admin_port=None, timeout=15.0) -> dict:
    """Write config, SIGHUP, and wait until the daemon took it (generation
    went up) or refused it (failure count went up). Returns the config
    section of /status after it. admin_port: where to ask (the old admin
    address, when the reload moves it)."""
    port = admin_port or tandem.admin_port()

    def cfg_status(ports):
        err = None
        for p in ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{p}/status", timeout=5) as r:
                    return json.load(r)["config"]
            except OSError as e:
                err = e
        raise err

    before = cfg_status([port])
    tandem.reload(config)

    def done():
        # where the new config says, or (refused reload) where it was
        now = cfg_status([tandem.admin_port(), port])
        if (now["generation"] != before["generation"]
                or now["reload_failures"] != before["reload_failures"]):
            return now
        return None

    return util.wait_for(done, timeout, what="tandem to take or refuse the reload")


def check(path, binary=None) -> subprocess.CompletedProcess:
    """`tandem --check -c path`."""
    return subprocess.run([binary or default_binary(), "--check", "-c", str(path)],
                          capture_output=True, text=True, timeout=30)


def stop_cleanly(testcase, tandem):
    """Register a cleanup that stops tandem and fails the test unless it
    exited 0 without a sanitizer report (the ASan+UBSan build aborts on a
    finding, and leaks are checked at exit)."""
    def stop():
        raise_problems(tandem.exit_problems(tandem.stop()))
    testcase.addCleanup(stop)
