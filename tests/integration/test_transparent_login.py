#!/usr/bin/python3
"""A client cannot tell tandem's login from the server's (issue 13, items
1-4), each case run directly against the primary and through tandem, the
server's answer being the oracle:

  - the greeting: version string, character set, status flags, auth plugin
    equal; capabilities those of the server minus only the documented list
    (docs/sessions.md, "The greeting"); its connection id is the
    CONNECTION_ID() the session then reports;
  - KILL QUERY / KILL CONNECTION (and COM_PROCESS_KILL) of another session
    by the id its greeting gave, from a session on another worker, also
    after a switchover moved that session (the id is translated); KILL of an id nobody
    owns: 1094 as directly; KILL of one's own connection: as directly; the
    admin session list shows both ids;
  - accounts on demand: CREATE USER on the primary, then a login through
    tandem at once; ALTER USER ... IDENTIFIED BY: the new password works at
    once, the old one is refused at once; COM_CHANGE_USER to a new user;
  - a client connecting while the primary is dead is greeted by the new
    one, with that server's connection id;
  - the server's closes: SET SESSION wait_timeout = 1 and idle past it:
    the next command gets the server's error (code, SQLSTATE), the session
    is closed and its server connection (with its temporary table) gone;
    an operator's KILL of an idle session: the same as directly.
"""

import struct
import threading
import time
import unittest

from health_helpers import CLUSTER, TENANT, Stack, log, pymysql, util
from harness import accounts, rawclient

# Capabilities tandem never offers a client although the server may
# (docs/sessions.md): bits of the 64-bit value, the MariaDB extended ones
# in the high 32 bits.
CLIENT_LONG_PASSWORD = 1 << 0
CLIENT_COMPRESS = 1 << 5
CLIENT_LOCAL_FILES = 1 << 7
CLIENT_SSL = 1 << 11
CLIENT_RESERVED = 1 << 14
CLIENT_QUERY_ATTRIBUTES = 1 << 27
CLIENT_SSL_VERIFY_SERVER_CERT = 1 << 30
CLIENT_REMEMBER_OPTIONS = 1 << 31
MARIADB_EXT_CAPS = 0xFFFFFFFF << 32
NOT_OFFERED = (CLIENT_LONG_PASSWORD | CLIENT_COMPRESS | CLIENT_LOCAL_FILES | CLIENT_SSL
               | CLIENT_RESERVED | CLIENT_QUERY_ATTRIBUTES | CLIENT_SSL_VERIFY_SERVER_CERT
               | CLIENT_REMEMBER_OPTIONS | MARIADB_EXT_CAPS)

APP, APP_PW = accounts.APP_USER, accounts.APP_PASSWORD


def parse_greeting(p: bytes) -> dict:
    """The fields of a HandshakeV10 payload."""
    end = p.index(b"\0", 1)
    i = end + 1
    conn_id = struct.unpack("<I", p[i:i + 4])[0]
    i += 4 + 8 + 1
    caps_lo, charset, status, caps_hi, auth_len = struct.unpack("<HBHHB", p[i:i + 8])
    i += 8 + 6
    ext = struct.unpack("<I", p[i:i + 4])[0]
    i += 4
    caps = caps_lo | caps_hi << 16
    if not caps & CLIENT_LONG_PASSWORD:
        caps |= ext << 32
    i += max(13, auth_len - 8)
    plugin = p[i:p.index(b"\0", i)] if b"\0" in p[i:] else p[i:]
    return {"protocol": p[0], "version": p[1:end].decode(), "conn_id": conn_id,
            "caps": caps, "charset": charset, "status": status, "plugin": plugin.decode()}


def raw_login(port: int, user: str = APP, password: str = APP_PW):
    """A raw client logged in with mysql_native_password: (client, greeting)."""
    c = rawclient.RawClient(port)
    scramble = c.read_greeting()
    g = parse_greeting(c.greeting)
    c.send_packet(1, c.login_packet(user, rawclient.native_reply(password, scramble),
                                    "mysql_native_password"))
    seq, p = c.read_packet()
    assert p[:1] == b"\x00", rawclient.parse_err(p) if p[:1] == b"\xff" else p
    return c, g


def old_reply(password: str, scramble: bytes) -> bytes:
    """mysql_old_password's 8-byte reply (sql/password.c scramble_323, with
    the servers' 64-bit unsigned long arithmetic)."""
    def hash323(data: bytes):
        nr, add, nr2 = 1345345333, 7, 0x12345671
        m = (1 << 64) - 1
        for c in data:
            if c in (32, 9):
                continue
            nr ^= ((((nr & 63) + add) * c) + (nr << 8)) & m
            nr2 = (nr2 + (((nr2 << 8) & m) ^ nr)) & m
            add += c
        return nr & 0x7FFFFFFF, nr2 & 0x7FFFFFFF
    hp, hm = hash323(password.encode()), hash323(scramble[:8])
    mx = 0x3FFFFFFF
    s1, s2 = (hp[0] ^ hm[0]) % mx, (hp[1] ^ hm[1]) % mx

    def rnd():
        nonlocal s1, s2
        s1 = (s1 * 3 + s2) % mx
        s2 = (s1 + s2 + 33) % mx
        return s1 / mx
    out = [int(rnd() * 31) + 64 for _ in range(8)]
    extra = int(rnd() * 31)
    return bytes(b ^ extra for b in out)


def raw_value(c: rawclient.RawClient, sql: str) -> bytes:
    """The first column of the one row of a text-protocol query (the raw
    client asks for no DEPRECATE_EOF: column count, definitions, EOF, row,
    EOF)."""
    c.send_packet(0, b"\x03" + sql.encode())
    _, p = c.read_packet()
    ncols = p[0]
    for _ in range(ncols + 1):
        c.read_packet()
    _, row = c.read_packet()
    n = row[0]
    value = row[1:1 + n]
    c.read_packet()
    return value


def error_of(conn, sql: str):
    """(errno, sqlstate-less message) of the error sql gets, or None."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()
    except (pymysql.err.OperationalError, pymysql.err.InternalError,
            pymysql.err.ProgrammingError, pymysql.err.InterfaceError) as e:
        return e.args[0] if e.args else None
    return None


class LoginStack(Stack):
    """The health tests' stack, with the tenant also taking the database's
    accounts (users_from_backend), so CREATE USER on the primary counts."""

    def config(self) -> dict:
        cfg = super().config()
        cfg["tenants"][TENANT]["users_from_backend"] = True
        return cfg


class TransparentLoginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # workers 2: a KILL and its target may live on different workers
        cls.stack = LoginStack("transparent_login", monitor={"timeout_ms": 3000},
                               workers=2).start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.stack.cleanup()

    def primary(self):
        st = self.stack
        p, r = st.pair.primary, st.pair.replica
        if st.admin.cluster()["primary"] == r.address:
            p, r = r, p
        return p, r

    def sessions(self) -> list:
        code, body = self.stack.admin.request("GET", "/sessions")
        self.assertEqual(code, 200, body)
        return body["sessions"]

    def both(self):
        """(name, port) of the direct way and of the way through tandem."""
        p, _ = self.primary()
        return (("direct", p.port), ("tandem", self.stack.port))

    def connect(self, port, **kw):
        kw.setdefault("database", "test")
        return pymysql.connect(host=util.LOOPBACK, port=port,
                               user=kw.pop("user", APP), password=kw.pop("password", APP_PW),
                               connect_timeout=10, read_timeout=30, autocommit=True, **kw)

    # -- the greeting ------------------------------------------------------------

    def test_greeting_mirrors_the_primary(self):
        p, _ = self.primary()
        d, dg = raw_login(p.port)
        t, tg = raw_login(self.stack.port)
        log(f"greeting direct: {dg}")
        log(f"greeting tandem: {tg}")
        for k in ("protocol", "version", "charset", "status", "plugin"):
            self.assertEqual(tg[k], dg[k], k)
        self.assertEqual(tg["caps"] & ~dg["caps"], 0, "tandem offers what the server does not")
        missing = dg["caps"] & ~tg["caps"]
        self.assertEqual(missing & ~NOT_OFFERED, 0,
                         f"capabilities 0x{missing:x} missing beyond the documented list")
        self.assertEqual(int(raw_value(t, "SELECT CONNECTION_ID()")), tg["conn_id"])
        self.assertEqual(int(raw_value(d, "SELECT CONNECTION_ID()")), dg["conn_id"])
        # the admin list shows the client's id and the server's
        rows = [s for s in self.sessions()
                if s["connection_id"] == tg["conn_id"]]
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["backend_connection_id"], tg["conn_id"])
        d.close()
        t.close()

    # -- KILL ------------------------------------------------------------------------

    def run_sleep(self, conn, out):
        t0 = time.monotonic()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT SLEEP(20)")
                out["rows"] = cur.fetchall()
        except pymysql.err.MySQLError as e:
            out["error"] = e.args[0]
        out["took"] = time.monotonic() - t0

    def kill_query(self, killer, victim, victim_id):
        """KILL QUERY victim_id while victim sleeps: what victim's query gets."""
        out = {}
        th = threading.Thread(target=self.run_sleep, args=(victim, out))
        th.start()
        # wait for the SLEEP to be running on the server (an event, not a pause)
        p, _ = self.primary()
        util.wait_for(lambda: p.query_value(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(20)'")
            >= 1, 10, what="the SLEEP to run")
        with killer.cursor() as cur:
            cur.execute(f"KILL QUERY {victim_id}")
        th.join(30)
        return out

    def killer_for(self, victim_id):
        """A connection through tandem on another worker than the session
        with greeting id victim_id (SO_REUSEPORT spreads them at random)."""
        worker = {s["connection_id"]: s["worker"] for s in self.sessions()}
        extra = []
        try:
            for _ in range(40):
                k = self.connect(self.stack.port)
                worker = {s["connection_id"]: s["worker"] for s in self.sessions()}
                if worker[k.thread_id()] != worker[victim_id]:
                    return k
                extra.append(k)
            self.fail("no connection landed on another worker")
        finally:
            for k in extra:
                k.close()

    def check_kills(self, tag, com_process_kill=False):
        """Through tandem, like directly: KILL QUERY by greeting id ends the
        query (SLEEP returns 1), then KILL CONNECTION (or the old
        COM_PROCESS_KILL) ends the session; the killer is on another worker."""
        results = {}
        for name, port in self.both():
            if name == "tandem" and tag == "after switchover":
                victim, vid = self.moved
            else:
                victim = self.connect(port)
                vid = victim.thread_id()
            killer = self.killer_for(vid) if name == "tandem" else self.connect(port)
            out = self.kill_query(killer, victim, vid)
            self.assertLess(out["took"], 15, f"{name}: the KILL QUERY did not reach the query")
            if com_process_kill:
                killer.kill(vid)
            else:
                with killer.cursor() as cur:
                    cur.execute(f"KILL CONNECTION {vid}")
            results[name] = (out.get("rows"), out.get("error"), error_of(victim, "SELECT 1"))
            victim.close()
            killer.close()
        log(f"KILL QUERY then KILL CONNECTION ({tag}): {results}")
        self.assertEqual(results["tandem"], results["direct"])

    def test_kill_by_greeting_id(self):
        self.check_kills("same backend connection")

    def test_kill_after_switchover(self):
        st = self.stack
        p, r = self.primary()
        st.wait_healthy(p, r)
        victim = self.connect(st.port)
        vid = victim.thread_id()
        code, body = st.admin.post(f"/clusters/{CLUSTER}/switchover")
        self.assertEqual(code, 200, body)
        with victim.cursor() as cur:
            cur.execute("SELECT @@server_id, CONNECTION_ID()")
            sid, now_id = cur.fetchone()
        self.assertEqual(sid, r.server_id)
        log(f"after the switchover the session with greeting id {vid} is server "
            f"connection {now_id}")
        sessions = [s for s in self.sessions() if s["connection_id"] == vid]
        self.assertEqual([s["backend_connection_id"] for s in sessions], [now_id])
        self.moved = (victim, vid)
        self.check_kills("after switchover", com_process_kill=True)
        self.assertIn(f"KILL of connection {vid} (a tandem client's id) sent to the server as "
                      f"{now_id}", st.tandem.log_text())
        st.wait_healthy(r, p)

    def test_kill_of_unknown_id(self):
        got = {}
        for name, port in self.both():
            with self.connect(port) as c:
                try:
                    with c.cursor() as cur:
                        cur.execute("KILL 987654321")
                except pymysql.err.MySQLError as e:
                    got[name] = e.args
        self.assertEqual(got["tandem"][0], 1094)
        self.assertEqual(got["tandem"], got["direct"])

    def test_kill_of_self(self):
        got = {}
        for name, port in self.both():
            c = self.connect(port)
            first = error_of(c, f"KILL {c.thread_id()}")
            then = error_of(c, "SELECT 1")
            got[name] = (first, then)
            c.close()
        log(f"KILL of one's own connection: {got}")
        self.assertEqual(got["tandem"], got["direct"])

    # -- accounts on demand --------------------------------------------------------

    def test_new_user_and_new_password_at_once(self):
        p, _ = self.primary()
        p.execute_all(["CREATE USER 'fresh'@'%' IDENTIFIED BY 'one'",
                       "GRANT SELECT ON test.* TO 'fresh'@'%'"])
        self.addCleanup(p.execute_all, ["DROP USER IF EXISTS 'fresh'@'%'"])
        t0 = time.monotonic()
        with self.connect(self.stack.port, user="fresh", password="one") as c:
            self.assertIsNone(error_of(c, "SELECT 1"))
        log(f"a user created on the primary logged in through tandem after "
            f"{(time.monotonic() - t0) * 1000:.0f} ms")
        p.execute_all(["ALTER USER 'fresh'@'%' IDENTIFIED BY 'two'"])
        with self.connect(self.stack.port, user="fresh", password="two") as c:
            self.assertIsNone(error_of(c, "SELECT 1"))
        for name, port in self.both():
            with self.assertRaises(pymysql.err.OperationalError) as e:
                self.connect(port, user="fresh", password="one")
            self.assertEqual(e.exception.args[0], 1045, name)

    def test_change_user_to_a_new_user(self):
        p, _ = self.primary()
        p.execute_all(["CREATE USER 'changed'@'%' IDENTIFIED BY 'cu-pass'"])
        self.addCleanup(p.execute_all, ["DROP USER IF EXISTS 'changed'@'%'"])
        c = rawclient.RawClient(self.stack.port)
        scramble = c.read_greeting()
        c.send_packet(1, c.login_packet(APP, rawclient.native_reply(APP_PW, scramble),
                                        "mysql_native_password"))
        _, ok = c.read_packet()
        self.assertEqual(ok[:1], b"\x00")
        auth = rawclient.native_reply("cu-pass", scramble)
        c.send_packet(0, b"\x11changed\0" + bytes([len(auth)]) + auth + b"\0"
                      + struct.pack("<H", 45) + b"mysql_native_password\0")
        # as the server does: an auth switch with the greeting's scramble
        _, sw = c.read_packet()
        self.assertEqual(sw, b"\xfemysql_native_password\0" + scramble + b"\0")
        c.send_packet(2, auth)
        _, p2 = c.read_packet()
        self.assertEqual(p2[:1], b"\x00",
                         rawclient.parse_err(p2) if p2[:1] == b"\xff" else p2)
        c.send_packet(0, b"\x03SELECT CURRENT_USER()")
        _, n = c.read_packet()
        for _ in range(n[0] + 1):
            c.read_packet()
        _, row = c.read_packet()
        self.assertEqual(row[1:1 + row[0]], b"changed@%")
        c.close()

    def test_change_user_to_an_old_password_account(self):
        """mysql_old_password (main.change_user): the same exchange directly
        and through tandem: the 4.0 short-scramble request (a lone 0xFE)
        answering a native reply, the 8-byte reply, the OK; and the
        account is the one logged in."""
        p, _ = self.primary()
        p.execute_all(["SET GLOBAL secure_auth = 0",
                       "CREATE USER 'oldie'@'%' IDENTIFIED BY PASSWORD '09301740536db389'",
                       "GRANT SELECT ON test.* TO 'oldie'@'%'"])
        self.addCleanup(p.execute_all, ["DROP USER IF EXISTS 'oldie'@'%'",
                                        "SET GLOBAL secure_auth = DEFAULT"])
        seen = {}
        for name, port in self.both():
            c, _ = raw_login(port)
            scramble = c.scramble
            auth = rawclient.native_reply("oldpw", scramble)
            c.send_packet(0, b"\x11oldie\0" + bytes([len(auth)]) + auth + b"\0"
                          + struct.pack("<H", 8) + b"mysql_native_password\0")
            _, sw = c.read_packet()
            c.send_packet(2, old_reply("oldpw", scramble) + b"\0")
            _, ok = c.read_packet()
            why = rawclient.parse_err(ok) if ok[:1] == b"\xff" else ok
            self.assertEqual(ok[:1], b"\x00", f"{name}: {why}")
            seen[name] = (sw, raw_value(c, "SELECT CURRENT_USER()"))
            c.close()
        self.assertEqual(seen["direct"], (b"\xfe", b"oldie@%"))
        self.assertEqual(seen["tandem"], seen["direct"])
        # and a login as that account: the same short-scramble request
        for name, port in self.both():
            c = rawclient.RawClient(port)
            scramble = c.read_greeting()
            c.send_packet(1, c.login_packet("oldie", rawclient.native_reply("oldpw", scramble),
                                            "mysql_native_password"))
            _, sw = c.read_packet()
            self.assertEqual(sw, b"\xfe", name)
            c.send_packet(3, old_reply("oldpw", scramble) + b"\0")
            _, ok = c.read_packet()
            why = rawclient.parse_err(ok) if ok[:1] == b"\xff" else ok
            self.assertEqual(ok[:1], b"\x00", f"{name}: {why}")
            self.assertEqual(raw_value(c, "SELECT CURRENT_USER()"), b"oldie@%", name)
            c.close()

    # -- the server's closes ---------------------------------------------------------

    def test_wait_timeout_closes_the_session(self):
        got = {}
        ids = {}
        for name, port in self.both():
            c = self.connect(port)
            ids[name] = c.thread_id()
            with c.cursor() as cur:
                cur.execute("CREATE TEMPORARY TABLE test.tmp_wt (a INT)")
                cur.execute("SET SESSION wait_timeout = 1")
            time.sleep(2.5)   # idle past the server's timeout: the case itself
            first = error_of(c, "SELECT 1")
            then = error_of(c, "SELECT 1")
            got[name] = (first, then)
            c.close()
        log(f"wait_timeout = 1, idle 2.5 s: {got}")
        self.assertEqual(got["tandem"], got["direct"])
        # MariaDB 10.11.19 resets the connection without an ERR (later ones
        # send 4031 first, which tandem passes on as it is)
        self.assertIsNotNone(got["tandem"][0], "the next command ran on a re-opened session")
        p, _ = self.primary()
        self.assertEqual(p.query_value(
            f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {ids['tandem']}"), 0)
        util.wait_for(lambda: not [s for s in self.sessions()
                                   if s["connection_id"] == ids["tandem"]],
                      10, what="tandem to close the session")

    def test_operator_kill_of_an_idle_session(self):
        p, _ = self.primary()
        got = {}
        for name, port in self.both():
            c = self.connect(port)
            p.sql(f"KILL {c.thread_id()}")
            got[name] = (error_of(c, "SELECT 1"), error_of(c, "SELECT 1"))
            c.close()
        log(f"KILL by an operator, next commands: {got}")
        self.assertEqual(got["tandem"], got["direct"])

    def test_z_greeting_during_a_failover(self):
        """A client that connects while the primary is dead waits without a
        greeting and is greeted by the new primary: its id is the
        CONNECTION_ID() there."""
        st = self.stack
        p, r = self.primary()
        st.wait_healthy(p, r)
        p.kill9()
        t0 = time.monotonic()
        c, g = raw_login(st.port)
        waited = time.monotonic() - t0
        self.assertEqual(int(raw_value(c, "SELECT @@server_id")), r.server_id)
        self.assertEqual(int(raw_value(c, "SELECT CONNECTION_ID()")), g["conn_id"])
        c.close()
        log(f"connected right after kill -9 of the primary: greeted by the new primary "
            f"after {waited * 1000:.0f} ms, connection id {g['conn_id']}")
        code, body = st.bring_back(p)
        self.assertEqual(code, 200, body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
