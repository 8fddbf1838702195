#!/usr/bin/python3
"""A stand-in for the tandem daemon, for testing the harness itself (and the
demo) without the C binary: `fake_tandem.py -c config.json` listens on every
tenant and admin address of the config, accepts and closes connections,
logs "reloaded" on SIGHUP and exits 0 on SIGTERM. A config key
"_fake": {"exit": N, "message": "..."} makes it print the message and exit N
at once, to test start-up failure handling. It speaks no MySQL protocol."""

import argparse
import json
import selectors
import signal
import socket
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def addresses(cfg):
    out = [t["listen"] for t in cfg.get("tenants", {}).values()]
    if "admin" in cfg:
        out.append(cfg["admin"]["listen"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", required=True)
    path = ap.parse_args().c
    cfg = load(path)
    fake = cfg.get("_fake", {})
    if "exit" in fake:
        print(fake.get("message", "fake_tandem: asked to exit"), flush=True)
        sys.exit(fake["exit"])

    sel = selectors.DefaultSelector()
    for addr in addresses(cfg):
        host, _, port = addr.rpartition(":")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen(64)
        sel.register(s, selectors.EVENT_READ)
        print(f"fake_tandem: listening on {addr}", flush=True)

    def on_hup(signum, frame):
        n = len(load(path).get("tenants", {}))
        print(f"fake_tandem: reloaded ({n} tenants)", flush=True)

    def on_term(signum, frame):
        print("fake_tandem: shutting down", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    while True:
        for key, _ in sel.select():
            conn, _ = key.fileobj.accept()
            conn.close()


if __name__ == "__main__":
    main()
