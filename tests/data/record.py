#!/usr/bin/python3
"""Records the byte vectors in tests/data/ from a real MariaDB server.

    /usr/bin/python3 tests/data/record.py [--out DIR] [--only NAME ...]

Starts a MariaDB primary + replica with tests/harness/pair.py (the primary
with TLS and max_allowed_packet=64M), creates a few fixture objects, then runs
each scenario below: a real client (the `mariadb` CLI, PyMySQL, a tiny
Connector/C program, or the hand-made RawClient of rawclient.py) talks to the
server through a loopback TCP relay. The relay logs every chunk it passes in
the order it passed them; afterwards each direction's stream is cut into
frames (4-byte header + payload) and the frames of both directions are
written in conversation order to <DIR>/<scenario>.hex. See README.md for the
file format. The relay changes no byte, except in scenarios marked
"mask_ext_caps", where it clears the MariaDB extended capabilities in the
server greeting as tandem's greeting did before it offered them, so a
MariaDB client negotiates the response shapes without them.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pymysql  # noqa: E402

import rawclient as rc  # noqa: E402
from harness import accounts, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD
MAX_FRAME = 0xFFFFFF
ELIDE_MIN = 1024          # runs of one byte longer than this are written as N*xx

FIXTURE_SQL = [
    "USE test",
    "CREATE TABLE test.codec_t (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL,"
    " qty INT NULL, price DECIMAL(8,2) NULL, note TEXT NULL, created DATETIME NULL)",
    "INSERT INTO test.codec_t SELECT seq, CONCAT('item-', seq),"
    " IF(seq % 3 = 0, NULL, seq * 7), IF(seq % 4 = 0, NULL, seq * 1.25),"
    " IF(seq % 5 = 0, NULL, REPEAT('n', seq)), IF(seq % 2 = 0, NULL,"
    " '2024-01-02 03:04:05' + INTERVAL seq DAY) FROM seq_1_to_40",
    "CREATE TABLE test.codec_load (a INT, b VARCHAR(16))",
    "CREATE PROCEDURE test.codec_two() BEGIN SELECT 1 AS a; SELECT 'x' AS b, NULL AS c; END",
    "CREATE PROCEDURE test.codec_out(IN x INT, OUT y INT) BEGIN SET y = x * 2; END",
    "GRANT EXECUTE ON test.* TO 'app'@'%'",
]


# ---------------------------------------------------------------- the relay

class Relay:
    """Accepts one client on a free loopback port and relays it to the
    server, logging (direction, bytes) chunks in the order they were passed.
    A chunk is logged before it is forwarded, so a reply is always logged
    after the request that caused it."""

    def __init__(self, server_port: int, mask_ext_caps: bool = False):
        self.server_port = server_port
        self.mask_ext_caps = mask_ext_caps
        self.log: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server((util.LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        client, _ = self.listener.accept()
        self.listener.close()
        server = socket.create_connection((util.LOOPBACK, self.server_port))
        pumps = [threading.Thread(target=self._pump, args=(client, server, "C")),
                 threading.Thread(target=self._pump, args=(server, client, "S"))]
        for p in pumps:
            p.start()
        for p in pumps:
            p.join()
        client.close()
        server.close()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        pending = b""          # server bytes held until the greeting is whole
        greeting_done = direction == "C" or not self.mask_ext_caps
        while True:
            try:
                data = src.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                break
            if not greeting_done:
                pending += data
                if len(pending) < 4 or len(pending) < 4 + int.from_bytes(pending[:3], "little"):
                    continue
                data, pending, greeting_done = mask_greeting(pending), b"", True
            with self.lock:
                self.log.append((direction, data))
            try:
                dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def finish(self, timeout: float = 60) -> list[tuple[str, bytes]]:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("relay: the conversation did not end")
        return self.log


def mask_greeting(buf: bytes) -> bytes:
    """Clear the 4 MariaDB extended-capability bytes of a HandshakeV10."""
    b = bytearray(buf)
    pos = b.index(0, 5) + 1              # after the server version's NUL
    pos += 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6
    b[pos:pos + 4] = b"\0\0\0\0"
    return bytes(b)


def split_frames(log: list[tuple[str, bytes]]):
    """Cut each direction into frames; return them in conversation order as
    (direction, frame bytes), and how many bytes of each direction were left
    unframed. After an SSLRequest both directions carry TLS: only the
    greeting and the SSLRequest are framed."""
    streams = {"C": bytearray(), "S": bytearray()}
    starts = {"C": [], "S": []}      # (global chunk index, offset in stream)
    for i, (d, data) in enumerate(log):
        starts[d].append((i, len(streams[d])))
        streams[d] += data

    def chunk_of(d: str, off: int) -> int:
        return max(ci for ci, o in starts[d] if o <= off)

    def frames_of(d: str, limit: int | None = None):
        s, off, out = streams[d], 0, []
        while off + 4 <= len(s) and (limit is None or len(out) < limit):
            n = int.from_bytes(s[off:off + 3], "little")
            if off + 4 + n > len(s):
                break
            out.append((chunk_of(d, off), d, off, bytes(s[off:off + 4 + n])))
            off += 4 + n
        return out, len(s) - off

    first_c, _ = frames_of("C", 1)
    tls = bool(first_c) and len(first_c[0][3]) == 36 and first_c[0][3][5] & 0x08
    limit = 1 if tls else None
    fc, left_c = frames_of("C", limit)
    fs, left_s = frames_of("S", limit)
    frames = sorted(fc + fs, key=lambda f: (f[0], f[1] == "S", f[2]))
    return [(d, fr) for _, d, _, fr in frames], {"C": left_c, "S": left_s}


# ---------------------------------------------------------------- the writer

COMMANDS = {0x01: "COM_QUIT", 0x02: "COM_INIT_DB", 0x03: "COM_QUERY", 0x04: "COM_FIELD_LIST",
            0x07: "COM_REFRESH", 0x09: "COM_STATISTICS", 0x0E: "COM_PING",
            0x11: "COM_CHANGE_USER", 0x16: "COM_STMT_PREPARE", 0x17: "COM_STMT_EXECUTE",
            0x18: "COM_STMT_SEND_LONG_DATA", 0x19: "COM_STMT_CLOSE", 0x1A: "COM_STMT_RESET",
            0x1B: "COM_SET_OPTION", 0x1C: "COM_STMT_FETCH", 0x1F: "COM_RESET_CONNECTION"}


def describe_command(payload: bytes) -> str:
    name = COMMANDS.get(payload[0], f"command 0x{payload[0]:02x}")
    if payload[0] in (0x02, 0x03, 0x04, 0x16):
        text = payload[1:].replace(b"\0", b" ").decode("utf-8", "replace").strip()
        if len(text) > 100:
            text = text[:97] + "..."
        return f"{name} {text}"
    return name


def frame_hex(frame: bytes) -> str:
    """The header, then the payload as space-separated tokens: hex bytes, or
    N*xx for a run of N bytes of value xx (used for runs above ELIDE_MIN)."""
    payload, tokens, pos, lit = frame[4:], [frame[:4].hex()], 0, 0
    while pos < len(payload):
        end = pos
        while end < len(payload) and payload[end] == payload[pos]:
            end += 1
        if end - pos > ELIDE_MIN:
            if lit < pos:
                tokens.append(payload[lit:pos].hex())
            tokens.append(f"{end - pos}*{payload[pos]:02x}")
            lit = end
        pos = end
    if lit < len(payload):
        tokens.append(payload[lit:].hex())
    return " ".join(tokens)


def write_vector(out: Path, name: str, about: list[str], log) -> int:
    frames, left = split_frames(log)
    lines = [f"# {name}: {about[0]}"]
    lines += [f"# {a}" for a in about[1:]]
    if frames and frames[0][0] == "S" and frames[0][1][4] == 10:
        g = frames[0][1][5:]
        lines.append(f"# server: {g[:g.index(0)].decode()}")
    lines.append("# recorded by tests/data/record.py; format in tests/data/README.md")
    for d, fr in frames:
        if d == "C" and fr[3] == 0 and len(fr) > 4:
            lines.append(f"# > {describe_command(fr[4:])}")
        lines.append(f"{d} {frame_hex(fr)}")
    if left["C"] or left["S"]:
        lines.append(f"# then TLS: {left['C']} client and {left['S']} server bytes, not recorded")
    (out / f"{name}.hex").write_text("\n".join(lines) + "\n")
    return len(frames)


def write_chunks(out: Path, name: str, about: list[str], log) -> int:
    """<name>.zhex: the relay's chunks as they passed, one "D hex" line each,
    for streams that are not plain frames (the compressed protocol)."""
    lines = [f"# {name}: {about[0]}"]
    lines += [f"# {a}" for a in about[1:]]
    lines.append("# recorded by tests/data/record.py; format in tests/data/README.md")
    lines += [f"{d} {data.hex()}" for d, data in log]
    (out / f"{name}.zhex").write_text("\n".join(lines) + "\n")
    return len(log)


# ---------------------------------------------------------------- scenarios

class Recorder:
    def __init__(self, pair: MariaDBPair, out: Path, work: Path, only):
        self.pair, self.out, self.work, self.only = pair, out, work, only
        self.port = pair.primary.port
        self.capi = None

    def record(self, name: str, about: list[str], run, mask_ext_caps: bool = False,
               chunks: bool = False) -> None:
        if self.only and name not in self.only:
            return
        relay = Relay(self.port, mask_ext_caps)
        try:
            run(relay.port)
        finally:
            log = relay.finish()
        if chunks:
            n = write_chunks(self.out, name, about, log)
            print(f"  {name}.zhex: {n} chunks", flush=True)
            return
        n = write_vector(self.out, name, about, log)
        print(f"  {name}.hex: {n} frames", flush=True)

    # -- real clients --------------------------------------------------------

    def cli(self, port: int, sql: str | None, *args, expect_rc: int = 0) -> None:
        argv = ["/usr/bin/mariadb", "--no-defaults", "--protocol=tcp", "-h", util.LOOPBACK,
                "-P", str(port), "--batch", *args]
        if sql is not None:
            argv += ["-e", sql]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != expect_rc:
            raise RuntimeError(f"mariadb {args}: rc={p.returncode} {p.stderr}")

    def capi_bin(self) -> str:
        if self.capi is None:
            self.capi = str(self.work / "record_capi")
            cflags = subprocess.run(["mariadb_config", "--cflags", "--libs"], check=True,
                                    capture_output=True, text=True).stdout.split()
            subprocess.run(["cc", "-O1", "-o", self.capi, str(HERE / "record_capi.c"), *cflags],
                           check=True)
        return self.capi

    def run_capi(self, port: int, scenario: str) -> None:
        p = subprocess.run([self.capi_bin(), util.LOOPBACK, str(port), APP, APP_PW, "test",
                            scenario], timeout=60, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"record_capi {scenario}: rc={p.returncode} {p.stderr}")

    def real_clients(self) -> None:
        q = "SELECT id, name, qty, note FROM codec_t ORDER BY id LIMIT 6"
        self.record("cli_login", [
            "the mariadb CLI (Connector/C) logs in as app with a default database,",
            "runs one SELECT (several columns, NULLs) and quits."],
            lambda p: self.cli(p, q, "-u", APP, f"--password={APP_PW}", "--skip-ssl", "test"))
        self.record("cli_denied", [
            "the mariadb CLI logs in with a wrong password: ERR 1045 (28000)."],
            lambda p: self.cli(p, "SELECT 1", "-u", APP, "--password=wrong", "--skip-ssl",
                               expect_rc=1))
        self.record("cli_ssl", [
            "the mariadb CLI asks for TLS: greeting, then its SSLRequest;",
            "everything after that is TLS and not recorded."],
            lambda p: self.cli(p, "SELECT 1", "-u", APP, f"--password={APP_PW}", "--ssl"))
        infile = self.work / "compress.csv"
        infile.write_text("".join(f"{i},v{i}\n" for i in range(1, 3001)))
        self.record("cli_compress", [
            "the mariadb CLI with --compress: login (plain), then compressed frames:",
            "SELECT 1 (small: stored), a 100 000-byte value (deflated), 2000 rows,",
            "LOAD DATA LOCAL INFILE of 3000 lines (the data frames follow the",
            "server's request frame), COM_QUIT. Written as relay chunks (.zhex)."],
            lambda p: self.cli(p, "SELECT 1; SELECT REPEAT('a', 100000);"
                               " SELECT seq FROM seq_1_to_2000; DELETE FROM codec_load;"
                               f" LOAD DATA LOCAL INFILE '{infile}' INTO TABLE codec_load"
                               " FIELDS TERMINATED BY ','",
                               "-u", APP, f"--password={APP_PW}", "--skip-ssl", "--compress",
                               "--local-infile=1", "test"), chunks=True)
        self.record("capi_login", [
            "a Connector/C program (record_capi.c login) with a connect attribute:",
            "login, one SELECT, COM_QUIT."],
            lambda p: self.run_capi(p, "login"))
        self.record("capi_sha2", [
            "Connector/C with MYSQL_DEFAULT_AUTH=caching_sha2_password against a",
            "mysql_native_password account: its first reply is a caching_sha2",
            "scramble, the server sends an AuthSwitchRequest to mysql_native_password,",
            "the client answers with a native reply, then OK."],
            lambda p: self.run_capi(p, "sha2"))
        self.record("capi_cursor", [
            "Connector/C prepared statement (record_capi.c cursor): prepare with 2",
            "params and 5 columns, execute with a read-only cursor, COM_STMT_FETCH of",
            "2 rows until the last row, execute without a cursor, close.",
            "mask_ext_caps: the greeting's MariaDB extended capabilities are cleared",
            "by the relay (the shapes without them)."],
            lambda p: self.run_capi(p, "cursor"), mask_ext_caps=True)

        self.record("capi_ext", [
            "Connector/C with the server's MariaDB extended capabilities (record_capi.c",
            "ext): a bulk INSERT of 3 rows (COM_STMT_BULK_EXECUTE), a prepared SELECT",
            "of a JSON column executed twice (the second column count says no",
            "metadata follows: MARIADB_CLIENT_CACHE_METADATA; the definitions carry",
            "extended type info), and the SELECT as text."],
            lambda p: self.run_capi(p, "ext"))
        self.record("capi_progress", [
            "Connector/C with a progress callback (record_capi.c progress):",
            "MARIADB_CLIENT_PROGRESS; an ALTER TABLE ... ALGORITHM=COPY of 400 000",
            "rows with progress_report_time=1 sends 0xFF 0xFFFF progress packets",
            "before its OK."],
            lambda p: self.run_capi(p, "progress"))

        self.record("capi_change_user", [
            "Connector/C mysql_change_user() (record_capi.c change_user): to the same",
            "account (AuthSwitchRequest, native reply, OK), a SELECT, then with a",
            "wrong password (ERR 1045)."],
            lambda p: self.run_capi(p, "change_user"))

        def pymysql_run(port: int, ssl=None) -> None:
            conn = pymysql.connect(host=util.LOOPBACK, port=port, user=APP, password=APP_PW,
                                   database="test", autocommit=True, ssl=ssl,
                                   charset="utf8mb4")
            with conn.cursor() as cur:
                cur.execute("SELECT id, name, price, created FROM codec_t WHERE id <= %s", (4,))
                cur.fetchall()
            conn.close()
        self.record("pymysql_login", [
            "PyMySQL logs in (database test, autocommit on, utf8mb4), runs one",
            "SELECT with NULLs and quits."], pymysql_run)
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.record("pymysql_ssl", [
            "PyMySQL asks for TLS: greeting, then its SSLRequest; the rest is TLS."],
            lambda p: pymysql_run(p, ssl=ctx))

    # -- the hand-made client, with and without DEPRECATE_EOF ------------------

    def raw(self, shape: str) -> None:
        caps = rc.TANDEM_LIKE_CAPS | (rc.CLIENT_DEPRECATE_EOF if shape == "deof" else 0)
        flag = ("with CLIENT_DEPRECATE_EOF" if shape == "deof"
                else "without CLIENT_DEPRECATE_EOF")
        common = [f"RawClient (rawclient.py) {flag}, with CLIENT_SESSION_TRACK, "
                  "MULTI_STATEMENTS,", "MULTI_RESULTS, PS_MULTI_RESULTS, LOCAL_FILES."]

        def session(port, body, database="test", plugin="mysql_native_password"):
            c = rc.RawClient(util.LOOPBACK, port, APP, APP_PW, database=database, caps=caps)
            ok = c.connect(plugin)
            if ok[0] != 0:
                raise RuntimeError(f"login failed: {ok!r}")
            try:
                body(c)
            finally:
                c.quit()

        self.record(f"raw_{shape}_query", [
            "COM_QUERY responses: text result set (6 columns, NULLs, 40 rows),",
            "empty result, ERR 1146, INSERT OK, multi-statement with 4 results,",
            "multi-statement stopped by an ERR, CALL with 2 result sets, an ERR in",
            "the middle of the rows (1242), a warning, DO (plain OK).", *common],
            lambda p: session(p, raw_queries))
        self.record(f"raw_{shape}_stmt", [
            "prepared statements: prepare (2 params, 6 columns), execute (binary",
            "rows), execute with a cursor + COM_STMT_FETCH until the last row,",
            "prepare/execute an INSERT, SEND_LONG_DATA then execute, STMT_RESET,",
            "execute of an unknown id (ERR), prepare error, CALL with an OUT",
            "parameter, fetch without a cursor (ERR), STMT_CLOSE.", *common],
            lambda p: session(p, raw_statements))
        self.record(f"raw_{shape}_misc", [
            "PING, INIT_DB (ok, error), FIELD_LIST (ok, error), STATISTICS,",
            "SET_OPTION off/on, REFRESH (ERR: no privilege), RESET_CONNECTION,",
            "CHANGE_USER (plain, and with an auth switch), QUIT.", *common],
            lambda p: session(p, raw_misc))
        self.record(f"raw_{shape}_change_user_denied", [
            "COM_CHANGE_USER with a wrong password: ERR 1045.", *common],
            lambda p: session(p, raw_change_user_denied))
        self.record(f"raw_{shape}_track", [
            "session state tracking: every system variable, state change,",
            "transaction characteristics and state, schema, autocommit, a read-only",
            "transaction, isolation level, a user variable, SET NAMES;",
            "session_track_gtids (absent in MariaDB: ERR 1193).", *common],
            lambda p: session(p, raw_tracking))
        self.record(f"raw_{shape}_infile", [
            "LOAD DATA LOCAL INFILE: the 0xFB request, the client's data and",
            "empty packet, the OK; a file the client does not send (empty at once);",
            "LOCAL INFILE between two SELECTs of a multi-statement.", *common],
            lambda p: session(p, raw_infile))
        self.record(f"raw_{shape}_big", [
            "rows of 16 MiB and more: a row whose payload is exactly 0xFFFFFF bytes",
            "(so an empty frame follows), a 20 MB row (two frames), two 17 MB rows,",
            "then SELECT 1. Long runs of one byte are written as N*xx.", *common],
            lambda p: session(p, raw_big))


def expect_first(pkts: list[bytes], first: int, what: str) -> None:
    if not pkts or pkts[0][0] != first:
        raise RuntimeError(f"{what}: unexpected response {pkts[:1]!r}")


def expect_err(pkts: list[bytes], what: str) -> None:
    if not pkts or pkts[-1][0] != 0xFF:
        raise RuntimeError(f"{what}: expected an ERR, got {pkts[-1:]!r}")


def raw_queries(c: rc.RawClient) -> None:
    c.query("SELECT id, name, qty, price, note, created FROM test.codec_t ORDER BY id")
    c.query("SELECT id, name FROM test.codec_t WHERE id < 0")
    expect_err(c.query("SELECT nope FROM test.no_such_table"), "missing table")
    expect_first(c.query("INSERT INTO test.codec_load VALUES (1, 'a'), (2, 'b')"), 0, "insert")
    c.query("SELECT 1 AS one; SELECT id, name FROM test.codec_t WHERE id <= 3; "
            "UPDATE test.codec_load SET b = 'c' WHERE a = 1; SELECT 'last' AS l")
    expect_err(c.query("SELECT 1; SELECT * FROM test.no_such_table; SELECT 2"), "multi err")
    c.query("CALL test.codec_two()")
    expect_err(c.query("SELECT t.id, (SELECT t2.id FROM test.codec_t t2 "
                       "WHERE t2.id >= t.id AND t.id = 5) AS sub "
                       "FROM test.codec_t t ORDER BY t.id"), "error mid rows")
    c.query("SELECT CAST('12abc' AS INT) AS w")
    expect_first(c.query("DO 1"), 0, "do")


def raw_statements(c: rc.RawClient) -> None:
    sel, pk = c.prepare("SELECT id, name, qty, price, note, created FROM test.codec_t "
                        "WHERE id > ? AND name <> ? ORDER BY id")
    if sel < 0:
        raise RuntimeError(f"prepare failed: {pk!r}")
    c.command(c.execute_payload(sel, [30, "x"]))
    c.command(c.execute_payload(sel, [0, "x"], cursor=True))
    for _ in range(5):
        pkts = c.command(c.fetch_payload(sel, 15))
        if pkts[-1][0] == 0xFF or c._status_of(pkts[-1]) & 0x80:   # LAST_ROW_SENT
            break
    ins, _ = c.prepare("INSERT INTO test.codec_load VALUES (?, ?)")
    expect_first(c.command(c.execute_payload(ins, [7, "seven"])), 0, "insert execute")
    echo, _ = c.prepare("SELECT ? AS v")
    c.command(bytes([rc.COM_STMT_SEND_LONG_DATA]) + echo.to_bytes(4, "little")
              + b"\0\0" + b"long data, part one; ", expect_response=False)
    c.command(bytes([rc.COM_STMT_SEND_LONG_DATA]) + echo.to_bytes(4, "little")
              + b"\0\0" + b"part two", expect_response=False)
    c.command(c.execute_payload(echo, ["ignored"], long_data={0}))
    c.command(bytes([rc.COM_STMT_RESET]) + sel.to_bytes(4, "little"))
    expect_err(c.command(c.execute_payload(9999, [])), "unknown statement")
    expect_err(c.command(bytes([rc.COM_STMT_PREPARE]) + b"SELEKT 1"), "prepare error")
    call, _ = c.prepare("CALL test.codec_out(?, ?)")
    c.command(c.execute_payload(call, [21, None]))
    expect_err(c.command(c.fetch_payload(ins, 1)), "fetch without cursor")
    for sid in (sel, ins, echo, call):
        c.command(bytes([rc.COM_STMT_CLOSE]) + sid.to_bytes(4, "little"), expect_response=False)


def raw_misc(c: rc.RawClient) -> None:
    c.command(bytes([rc.COM_PING]))
    expect_first(c.command(bytes([rc.COM_INIT_DB]) + b"test"), 0, "init_db")
    expect_err(c.command(bytes([rc.COM_INIT_DB]) + b"no_such_db"), "init_db error")
    c.command(bytes([rc.COM_FIELD_LIST]) + b"codec_t\0")
    expect_err(c.command(bytes([rc.COM_FIELD_LIST]) + b"no_such_table\0"), "field_list error")
    c.command(bytes([rc.COM_STATISTICS]))
    c.command(bytes([rc.COM_SET_OPTION]) + b"\x01\x00")
    c.command(bytes([rc.COM_SET_OPTION]) + b"\x00\x00")
    expect_err(c.command(bytes([0x07, 0x01])), "refresh")
    expect_first(c.command(bytes([rc.COM_RESET_CONNECTION])), 0, "reset connection")
    expect_first(c.command(c.change_user_payload(APP, APP_PW, "test")), 0, "change user")
    expect_first(c.command(c.change_user_payload(APP, APP_PW, "test",
                                                 plugin="caching_sha2_password")),
                 0, "change user with switch")
    c.query("SELECT CURRENT_USER() AS u")


def raw_change_user_denied(c: rc.RawClient) -> None:
    expect_err(c.command(c.change_user_payload(APP, "wrong-password", "test")),
               "change user denied")


def raw_tracking(c: rc.RawClient) -> None:
    for sql in ("SET SESSION session_track_system_variables='*'",
                "SET SESSION session_track_state_change=ON",
                "SET SESSION session_track_transaction_info=CHARACTERISTICS",
                "USE test",
                "SET autocommit=0",
                "INSERT INTO test.codec_load VALUES (3, 't')",
                "COMMIT",
                "SET autocommit=1",
                "START TRANSACTION READ ONLY",
                "SELECT COUNT(*) FROM test.codec_t",
                "COMMIT",
                "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
                "SET @codec_var = 5",
                "SET NAMES latin1",
                "BEGIN; INSERT INTO test.codec_load VALUES (4, 'u'); COMMIT"):
        pkts = c.query(sql)
        if pkts[-1][0] == 0xFF:
            raise RuntimeError(f"{sql}: {pkts[-1]!r}")
    expect_err(c.query("SET SESSION session_track_gtids=OWN_GTID"), "session_track_gtids")


def raw_infile(c: rc.RawClient) -> None:
    c.infile_data[b"codec.csv"] = b"10,x\n11,y\n12,z\n"
    load = ("LOAD DATA LOCAL INFILE '{}' INTO TABLE test.codec_load "
            "FIELDS TERMINATED BY ','")
    expect_first(c.query(load.format("codec.csv")), 0xFB, "infile")
    expect_first(c.query(load.format("missing.csv")), 0xFB, "infile, no data")
    c.query("SELECT 1 AS a; " + load.format("codec.csv") + "; SELECT 2 AS b")


def raw_big(c: rc.RawClient) -> None:
    c.query("SELECT REPEAT('x', 16777211) AS r")
    c.query("SELECT REPEAT('y', 20000000) AS r, 1 AS n")
    c.query("SELECT REPEAT('z', 17000000) AS r FROM test.codec_t WHERE id <= 2")
    c.query("SELECT 1 AS one")


# ---------------------------------------------------------------- main

def make_cert(work: Path) -> tuple[Path, Path]:
    cert, key = work / "server-cert.pem", work / "server-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=tandem-recorder", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE), help="directory for the .hex files")
    ap.add_argument("--only", nargs="*", help="record only these scenarios")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = util.scratch_dir("record")
    cert, key = make_cert(work)
    pair = MariaDBPair(work / "pair", primary_args=[
        f"--ssl-cert={cert}", f"--ssl-key={key}", "--max-allowed-packet=64M",
        "--local-infile=ON"])
    try:
        pair.start()
        pair.primary.execute_all(FIXTURE_SQL)
        print(f"recording from MariaDB on port {pair.primary.port} into {out}", flush=True)
        r = Recorder(pair, out, work, set(args.only or []))
        r.real_clients()
        r.raw("eof")
        r.raw("deof")
    finally:
        pair.stop()
        if os.environ.get("TANDEM_KEEP_TMP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
