#!/usr/bin/python3
"""Cuts the fuzz seed corpus (tests/fuzz/corpus/<target>/) from the recorded
vectors in tests/data/*.hex, in the input format each fuzz_<target>.c
describes in its header comment. Run it after re-recording:

    /usr/bin/python3 tests/fuzz/make_corpus.py [--minimize build-fuzz]

--minimize keeps only the seeds that add coverage (libFuzzer -merge=1 with
the targets built in that directory); that is how the committed corpus was
made. Every seed is replaced; files named regress-* (inputs that once
found a bug, kept as regression tests) stay."""

import argparse
import shutil
import subprocess
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
CORPUS = HERE / "corpus"
MAX_SEED = 64 * 1024
# A throw-away RSA public key, as a server sends it (fixed, so the seed
# corpus does not change at every regeneration).
PUBLIC_KEY_PEM = b"""-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC4DRLeTIT57oCmmGhSfj8uvWs5
XNC5BNvL5tE8P9mFl8dnKBEUBWeOAgUOwpQsSi5iSn2uw0n7yTU1JXYxPeKxkYKk
HiFHX7DUwW45vjjUXFLTSj8JQXuCS6IzCvL41wUD+lksdNFkMOBk0vxcDZFIE40K
GkiRIQcs9KVGetCNJQIDAQAB
-----END PUBLIC KEY-----
"""          # libFuzzer's inputs stay small; big rows are unit-tested

CLIENT_MYSQL, CLIENT_SSL = 1, 1 << 11
CLIENT_SESSION_TRACK, CLIENT_DEPRECATE_EOF = 1 << 23, 1 << 24


def load(path: Path):
    """[(dir, seq, payload)] of one .hex file (format: tests/data/README.md)."""
    frames = []
    for line in path.read_text().splitlines():
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        body = bytearray()
        for t in tok[2:]:
            if "*" in t:
                n, v = t.split("*")
                body += bytes([int(v, 16)]) * int(n)
            else:
                body += bytes.fromhex(t)
        hdr = bytes.fromhex(tok[1])
        frames.append((tok[0], hdr[3], bytes(body)))
    return frames


def greeting_caps(g: bytes) -> int:
    pos = g.index(0, 1) + 1 + 4 + 8 + 1
    caps = struct.unpack_from("<H", g, pos)[0]
    if len(g) > pos + 2:
        caps |= struct.unpack_from("<H", g, pos + 5)[0] << 16
        ext = struct.unpack_from("<I", g, pos + 7 + 1 + 6)[0]
        if not caps & CLIENT_MYSQL:
            caps |= ext << 32
    return caps


def exchanges(frames):
    """[(command payload, [server frames with headers], client frames)]"""
    out, logged_in = [], False
    for i, (d, seq, p) in enumerate(frames):
        if logged_in and d == "C" and seq == 0:
            out.append([p, [], []])
        elif out:
            if d == "S":
                out[-1][1].append(len(p).to_bytes(3, "little") + bytes([seq]) + p)
            else:
                out[-1][2].append(p)
        if not logged_in and d == "S" and i > 0 and p and p[0] in (0x00, 0xFF):
            logged_in = True
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minimize", metavar="BUILD_DIR", help="merge with the fuzz targets")
    args = ap.parse_args()
    seeds: dict[str, dict[str, bytes]] = {t: {} for t in (
        "client_handshake", "command", "server_handshake", "okerr", "tracker", "packet",
        "sqlclass", "facts", "auth_rsa")}
    for path in sorted(DATA.glob("*.hex")):
        name = path.stem
        frames = load(path)
        if len(frames) < 2:
            continue
        server_caps = greeting_caps(frames[0][2])
        client = frames[1][2]
        client_caps = struct.unpack_from("<I", client, 0)[0]
        caps = server_caps & client_caps
        seeds["client_handshake"][f"{name}"] = struct.pack("<Q", server_caps) + client
        seeds["server_handshake"][f"{name}-greeting"] = frames[0][2]
        flags = (1 if caps & CLIENT_DEPRECATE_EOF else 0) | (2 if caps & CLIENT_SESSION_TRACK
                                                             else 0)
        okflags = (1 if caps & CLIENT_SESSION_TRACK else 0) | (2 if caps & CLIENT_DEPRECATE_EOF
                                                               else 0)
        for i, (d, seq, p) in enumerate(frames):
            if d == "S" and p[:1] == b"\xfe" and 9 < len(p) < 1024 and seq > 0:
                seeds["server_handshake"][f"{name}-switch{i}"] = p
            if d == "S" and p[:1] in (b"\x00", b"\xfe", b"\xff") and len(p) < 2048:
                seeds["okerr"][f"{name}-{i}"] = bytes([okflags]) + p
        facts_ops = bytearray()
        for k, (cmd, server, client_more) in enumerate(exchanges(frames)):
            seeds["command"][f"{name}-{k}"] = cmd
            if cmd[:1] in (b"\x03", b"\x16") and len(cmd) < 1024:
                seeds["sqlclass"][f"{name}-{k}"] = b"\x00" + cmd[1:]
                if len(cmd) <= 256:
                    op = 4 if cmd[0] == 0x16 else 7      # stmt_add / apply_sql
                    facts_ops += bytes([op, len(cmd) - 1]) + cmd[1:]
            for p in server:
                body = p[4:]
                if body[:1] == b"\x00" and 7 <= len(body) <= 255:
                    facts_ops += bytes([1 | 8, len(body)]) + body   # apply_ok, by client
            if cmd[:1] == b"\x19":
                facts_ops += b"\x05\x01\x00"                       # stmt_remove
            for j, p in enumerate(client_more):
                seeds["command"][f"{name}-{k}-reply{j}"] = p
            stream = b"".join(server)
            if len(stream) + len(cmd) > MAX_SEED or len(cmd) > 255:
                continue
            seeds["tracker"][f"{name}-{k}"] = bytes([flags | (k % 64) << 2, len(cmd)]) + cmd + stream
            if stream:
                seeds["packet"][f"{name}-{k}"] = b"\xff" + stream
        if facts_ops:
            seeds["facts"][name] = bytes(facts_ops)
    seeds["auth_rsa"]["password"] = b"app-pass"
    seeds["auth_rsa"]["public-key"] = PUBLIC_KEY_PEM
    seeds["command"]["native-hash"] = b"*3F57C84FDE4BBAB2C998F3A2D311684280BAE8E7"
    seeds["server_handshake"]["auth-more"] = b"\x01\x03"
    for target, files in seeds.items():
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            if not old.name.startswith("regress-"):
                old.unlink()
        with tempfile.TemporaryDirectory() as tmp:
            raw, merged = Path(tmp) / "raw", Path(tmp) / "merged"
            raw.mkdir()
            merged.mkdir()
            for fname, content in files.items():
                (raw / fname).write_bytes(content)
            src = raw
            if args.minimize:
                fuzzer = Path(args.minimize) / "tests" / "fuzz" / f"fuzz_{target}"
                subprocess.run([str(fuzzer), "-merge=1", str(merged), str(raw)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                src = merged
            kept = sorted(src.iterdir())
            for f in kept:
                shutil.copy(f, d / f.name)
        print(f"{target}: {len(kept)} of {len(files)} seeds, "
              f"{sum(f.stat().st_size for f in d.iterdir())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
