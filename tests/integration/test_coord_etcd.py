#!/usr/bin/python3
"""Several tandems in front of one MariaDB pair agree on the primary
through a real etcd (Debian's etcd-server, started here on loopback ports;
docs/failover.md § Coordination).

Single etcd node, two tandems:
  - one tandem cut off from etcd (a relay that stops forwarding) stops
    routing writes within the lease TTL; the other goes on; it resumes
    when it reaches etcd again;
  - etcd entirely down: both keep writing to the agreed primary, no
    failover, the outage is visible;
  - kill -9 of the primary under writes through both: exactly one
    promotion (one new epoch), writes through both tandems within 2 s, no
    acknowledged write lost (semi-sync);
  - a restarted tandem takes primary, epoch and fences from etcd, not
    from its config;
  - the old primary, back as a replica, is unfenced through the leader
    (a new epoch) and every tandem follows.
Three etcd members, three tandems:
  - a switchover is refused by a follower and carried out by the leader;
    every tandem follows, there and back, without a client error;
  - the leader tandem is killed in the middle of a failover (the promotion
    is held up by a lock on the replica): another tandem finishes it from
    the record, at the same epoch.
Measured times are printed."""

import json
import time
import unittest

from health_helpers import (CLUSTER, Admin, WriteLoop, clients, log, pymysql, util)
from harness.etcd import Etcd, TcpRelay, coordination
from harness.pair import MariaDBPair
from harness.tandem import TandemProcess, pair_config, raise_problems
from harness import failover_load

TENANT = "vps17"
TTL_S = 3
BOUND_S = 2.0


class Via:
    """What WriteLoop needs of a stack: connect() to one tandem."""

    def __init__(self, port: int):
        self.port = port

    def connect(self, **kw):
        kw.setdefault("database", "test")
        kw.setdefault("connect_timeout", 10)
        return clients.connect(self.port, **kw)


class Multi:
    """A semi-sync MariaDBPair, an etcd of `members` nodes, and n tandems
    in front of the pair, all coordinated under one key prefix. relayed:
    indexes of tandems that reach etcd through their own TcpRelay."""

    def __init__(self, name: str, n: int = 2, members: int = 1, relayed=(), failover=None,
                 semi_sync: bool = True, etcd_args=(), coord_extra=None):
        self.dir = util.scratch_dir(name)
        self.pair = MariaDBPair(self.dir / "pair", semi_sync=semi_sync)
        self.etcd = Etcd(self.dir / "etcd", members, extra_args=etcd_args)
        self.coord_extra = coord_extra or {}
        self.prefix = f"/tandem-test-{self.etcd.client_ports[0]}"
        self.n = n
        self.relayed = set(relayed)
        self.relays = {}
        self.failover = failover or {}
        self.tandems: list[TandemProcess] = []
        self.admins: list[Admin] = []

    def config(self, i: int) -> dict:
        cfg = pair_config(self.pair, tenants=(TENANT,), cluster=CLUSTER, workers=2)
        cfg["clusters"][CLUSTER]["monitor"].update({"interval_ms": 300})
        if self.failover:
            cfg["clusters"][CLUSTER]["failover"] = dict(self.failover)
        eps = [self.relays[i].address] if i in self.relays else self.etcd.endpoints
        cfg["coordination"] = coordination(eps, self.prefix, f"t{i}", ttl_s=TTL_S)
        cfg["coordination"].update(self.coord_extra)
        return cfg

    def start(self, prepare=None) -> "Multi":
        """prepare(self), if given, runs once etcd is up, before any tandem."""
        try:
            self.pair.start()
            self.etcd.start()
            if prepare:
                prepare(self)
            for i in self.relayed:
                self.relays[i] = TcpRelay(self.etcd.endpoints[0])
            for i in range(self.n):
                t = TandemProcess(None, self.config(i), self.dir / f"tandem{i}", name=f"tandem{i}")
                t.start(wait_admin=True)
                self.tandems.append(t)
                self.admins.append(Admin(t.admin_port()))
            util.wait_for(self.agreed, 30, what="every tandem to follow the first record")
        except BaseException:
            self.stop()
            raise
        return self

    def coord(self, i: int) -> dict:
        return self.admins[i].cluster()["coordination"]

    def agreed(self) -> bool:
        rec = self.etcd.record(self.prefix, CLUSTER)
        if not rec:
            return False
        return all(self.coord(i)["epoch"] == rec["epoch"] and
                   self.admins[i].cluster()["primary"] == rec["primary"]
                   for i in range(self.n) if self.tandems[i].is_running())

    def leader(self) -> int:
        for i in range(self.n):
            if self.tandems[i].is_running() and self.coord(i)["role"] == "leader":
                return i
        return -1

    def port(self, i: int) -> int:
        return self.tandems[i].tenant_port(TENANT)

    def history(self) -> list[dict]:
        kv = self.etcd.prefix(f"{self.prefix}/{CLUSTER}/history/")
        return [json.loads(v) for _, v in sorted(kv.items())]

    def stop(self) -> None:
        problems = []
        for t in self.tandems:
            # one killed by the test has told its exit already
            problems += t.exit_problems(t.stop() if t.is_running() else 0)
        for r in self.relays.values():
            r.close()
        self.etcd.stop()
        self.pair.stop()
        raise_problems(problems)

    def cleanup(self) -> None:
        util.remove_scratch(self.dir)


def make_tables(m: Multi) -> None:
    with clients.connect(m.port(0), database="test") as c, c.cursor() as cur:
        for i in range(m.n):
            cur.execute(f"CREATE TABLE IF NOT EXISTS test.w{i} (id INT AUTO_INCREMENT PRIMARY "
                        "KEY, v INT NOT NULL, server INT NOT NULL)")


def try_write(port: int, timeout: float = 3) -> tuple[bool, object]:
    """One new session, one INSERT: (True, server_id) or (False, error args)."""
    try:
        with clients.connect(port, database="test", connect_timeout=timeout,
                             read_timeout=timeout) as c, c.cursor() as cur:
            cur.execute("INSERT INTO test.w0 (v, server) VALUES (-1, @@server_id)")
            cur.execute("SELECT @@server_id")
            return True, cur.fetchone()[0]
    except pymysql.MySQLError as e:
        return False, e.args


def replicating(member: dict) -> bool:
    repl = member["replication"] or {}
    return (member["state"] == "UP" and member["lag_ms"] is not None
            and repl.get("io_running") == "Yes" and bool(repl.get("sql_running")))


def first_success_after(loop: WriteLoop, t: float, sid: int, timeout: float) -> float:
    """Seconds from t to loop's first write on server sid after t."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for when, _, s in list(loop.done):
            if when > t and s == sid:
                return when - t
        time.sleep(0.01)
    raise AssertionError(f"no write on server {sid} within {timeout}s; errors "
                         f"{loop.errors[-3:]}")


class SingleNodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Multi("coord_etcd1", n=2, members=1, relayed=(1,)).start()
        make_tables(cls.m)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.m.cleanup()

    def test_a_state_in_etcd(self):
        m = self.m
        rec = m.etcd.record(m.prefix, CLUSTER)
        self.assertEqual((rec["epoch"], rec["kind"], rec["state"], rec["primary"]),
                         (1, "initial", "done", m.pair.primary.address))
        keys = sorted(m.etcd.prefix(f"{m.prefix}/{CLUSTER}/"))
        log("etcd keys: " + ", ".join(keys))
        self.assertIn(f"{m.prefix}/{CLUSTER}/leader", keys)
        for i in range(m.n):
            self.assertIn(f"{m.prefix}/{CLUSTER}/obs/t{i}", keys)
        roles = sorted(m.coord(i)["role"] for i in range(m.n))
        self.assertEqual(roles, ["follower", "leader"])
        metrics = m.admins[0].metrics()
        self.assertIn(f'tandem_coord_epoch{{cluster="{CLUSTER}"}} 1', metrics)

    def test_b_cut_off_tandem_stops_writing(self):
        m = self.m
        relay = m.relays[1]
        others = WriteLoop(Via(m.port(0)), "test.w0", pause=0.02)
        others.start()
        held = clients.connect(m.port(1), database="test", read_timeout=30)
        with held.cursor() as cur:       # a session open before the cut
            cur.execute("INSERT INTO test.w0 (v, server) VALUES (-2, @@server_id)")
        time.sleep(0.5)
        t_cut = time.monotonic()
        relay.cut()
        refused = None
        while time.monotonic() - t_cut < TTL_S + 3:
            ok, what = try_write(m.port(1), timeout=2)
            if not ok:
                refused = (time.monotonic() - t_cut, what)
                break
            time.sleep(0.02)
        self.assertIsNotNone(refused, "the cut-off tandem kept writing")
        took, err = refused
        log(f"cut off from etcd -> tandem refuses writes after {took * 1000:.0f} ms: {err}")
        self.assertLessEqual(took, TTL_S)
        self.assertEqual(err[0], 1429, err)
        self.assertIn("cut off from etcd", err[1])
        # the session opened before: its next write fails too, with the reason
        t0 = time.monotonic()
        with self.assertRaises(pymysql.MySQLError) as ctx:
            with held.cursor() as cur:
                cur.execute("INSERT INTO test.w0 (v, server) VALUES (-3, @@server_id)")
        log(f"an open session's write on the cut-off tandem: {ctx.exception.args} after "
            f"{(time.monotonic() - t0) * 1000:.0f} ms")
        held.close()
        # /health and /status say so
        code, body = m.admins[1].health()
        self.assertEqual(code, 503, body)
        c = m.coord(1)
        self.assertTrue(c["self_fenced"], c)
        # the other tandem went on writing the whole time
        time.sleep(0.5)
        others.stop()
        self.assertEqual(others.errors, [], "the tandem that reaches etcd must go on")
        during = [d for d in others.done if d[0] > t_cut]
        self.assertGreater(len(during), 10)
        # back in touch: routing resumes
        t_back = time.monotonic()
        relay.restore()
        util.wait_for(lambda: try_write(m.port(1))[0], 20, what="the tandem to resume")
        log(f"relay restored -> writes resume after {(time.monotonic() - t_back) * 1000:.0f} ms")
        self.assertFalse(m.coord(1)["self_fenced"])
        self.assertEqual(m.admins[0].cluster()["failover"]["total"], 0)

    def test_c_etcd_down_service_continues(self):
        m = self.m
        util.wait_for(m.agreed, 20, what="agreement before the etcd outage")
        loops = [WriteLoop(Via(m.port(i)), f"test.w{i}", pause=0.02) for i in range(m.n)]
        for lp in loops:
            lp.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        m.etcd.kill9()
        util.wait_for(lambda: all(m.coord(i)["etcd"] == "down" for i in range(m.n)), 10,
                      what="both tandems to see etcd down")
        time.sleep(TTL_S * 2)      # well past the lease: nobody fences itself
        for lp in loops:
            lp.stop()
        for i, lp in enumerate(loops):
            self.assertEqual(lp.errors, [], f"tandem {i} failed writes with etcd down")
            self.assertGreater(len([d for d in lp.done if d[0] > t0 + TTL_S]), 10)
            c = m.admins[i].cluster()
            self.assertFalse(c["coordination"]["self_fenced"])
            self.assertTrue(any("etcd is down" in a for a in c["alerts"]), c["alerts"])
            self.assertEqual(c["failover"]["total"], 0)
        log(f"etcd down for {time.monotonic() - t0:.1f} s: "
            f"{sum(len(lp.done) for lp in loops)} writes, 0 errors")
        m.etcd.start()
        util.wait_for(lambda: all(m.coord(i)["etcd"] == "ok" for i in range(m.n)), 30,
                      what="both tandems to reach etcd again")
        util.wait_for(m.agreed, 30, what="agreement after the etcd outage")

    def test_d_kill_primary_one_promotion(self):
        m = self.m
        p, r = m.pair.primary, m.pair.replica
        util.wait_for(m.agreed, 30, what="agreement before the kill")
        util.wait_for(lambda: m.leader() >= 0, 30, what="a leader")
        util.wait_for(lambda: all(
            {x["address"]: x for x in m.admins[i].cluster()["members"]}[r.address]["lag_ms"]
            is not None for i in range(m.n)), 30, what="replica lag known everywhere")
        epoch0 = m.etcd.record(m.prefix, CLUSTER)["epoch"]
        loops = [WriteLoop(Via(m.port(i)), f"test.w{i}", pause=0.01) for i in range(m.n)]
        for lp in loops:
            lp.start()
        time.sleep(1.0)
        t_kill = time.monotonic()
        p.kill9()
        took = [first_success_after(lp, t_kill, r.server_id, 20) for lp in loops]
        time.sleep(1.0)
        for lp in loops:
            lp.stop()
        log("kill -9 of the primary -> first write on the new primary through each tandem: "
            + ", ".join(f"tandem{i} {t * 1000:.0f} ms" for i, t in enumerate(took)))
        for t in took:
            self.assertLessEqual(t, BOUND_S)
        rec = m.etcd.record(m.prefix, CLUSTER)
        self.assertEqual((rec["epoch"], rec["kind"], rec["state"], rec["primary"]),
                         (epoch0 + 1, "failover", "done", r.address), rec)
        self.assertIn(p.address, rec["fenced"])
        hist = m.history()
        self.assertEqual([h["epoch"] for h in hist], list(range(1, epoch0 + 2)))
        self.assertEqual(sum(m.admins[i].cluster()["failover"]["total"] for i in range(m.n)),
                         1, "exactly one tandem promoted")
        for i in range(m.n):
            c = m.admins[i].cluster()
            self.assertEqual(c["primary"], r.address)
            self.assertEqual(c["coordination"]["epoch"], epoch0 + 1)
        # Each loop writes one statement at a time: once one write reached
        # the new primary (the tandem follows the new epoch), none may
        # reach the old one; and with semi-sync none acknowledged before
        # the kill is lost.
        for i, lp in enumerate(loops):
            first = t_kill + took[i]
            late = [d for d in lp.done if d[0] > first and d[2] != r.server_id]
            self.assertEqual(late, [], f"tandem {i} wrote to the old primary after the epoch")
            acked = {v for _, v, _ in lp.done}
            rows = {v for (v,) in r.sql(f"SELECT v FROM test.w{i} WHERE v > 0")}
            self.assertEqual(acked - rows, set(), f"acknowledged writes lost via tandem {i}")
        log(f"record after the failover: {rec}")
        lead = [m.admins[i].cluster()["failover"]["last"] for i in range(m.n)
                if m.admins[i].cluster()["failover"]["total"]][0]
        log(f"the leader's failover: detection {lead['detection_ms']} ms, decision (waiting "
            f"for the peer's observation, etcd record, promotion) {lead['decision_ms']} ms")

    def test_e_restart_takes_state_from_etcd(self):
        """A restarted tandem whose config still names the old primary
        routes by etcd's record: the new primary, the old one fenced."""
        m = self.m
        p, r = m.pair.primary, m.pair.replica
        rec = m.etcd.record(m.prefix, CLUSTER)
        self.assertEqual(rec["primary"], r.address)
        t = m.tandems[1]
        self.assertEqual(t.config["clusters"][CLUSTER]["primary"], p.address)
        t.stop()
        t.start(wait_admin=True)
        c = m.admins[1].cluster()
        self.assertEqual(c["primary"], r.address)
        self.assertEqual(c["coordination"]["epoch"], rec["epoch"])
        self.assertEqual(m.admins[1].member(p.address)["state"], "FENCED")
        self.assertEqual(try_write(m.port(1)), (True, r.server_id))
        self.assertEqual(c["failover"]["total"], 0)


    def test_f_ready_through_the_leader_unfences_everywhere(self):
        """The killed primary comes back as a replica; POST .../ready on the
        leader lifts its fence in etcd (a new epoch) and every tandem
        follows; a follower refuses the request."""
        m = self.m
        p, r = m.pair.primary, m.pair.replica
        failover_load.restart_as_replica(p)
        util.wait_for(lambda: all(m.admins[i].member(p.address)["health"] == "UP"
                                  for i in range(m.n)), 30, what="the old primary probed")
        epoch0 = m.etcd.record(m.prefix, CLUSTER)["epoch"]
        lead = m.leader()
        code, body = m.admins[1 - lead].post(f"/clusters/{CLUSTER}/members/{p.address}/ready")
        self.assertEqual(code, 409, body)
        code, body = m.admins[lead].post(f"/clusters/{CLUSTER}/members/{p.address}/ready")
        self.assertEqual(code, 200, body)
        rec = m.etcd.record(m.prefix, CLUSTER)
        self.assertEqual((rec["epoch"], rec["kind"], rec["state"], rec["primary"], rec["fenced"]),
                         (epoch0 + 1, "unfence", "done", r.address, []), rec)
        util.wait_for(lambda: all(m.admins[i].member(p.address)["state"] == "UP"
                                  for i in range(m.n)), 10, what="every tandem to unfence it")
        self.assertEqual(try_write(m.port(1 - lead)), (True, r.server_id))


class AuthTest(unittest.TestCase):
    """etcd with authentication: tandem logs in, logs in again when etcd
    refuses its token (simple tokens live in etcd's memory: a restarted
    etcd refuses them all), and never shows the password."""

    PASSWORD = "etcd-Secret-42"

    def test_login_and_token_renewal(self):
        # a lease of 8 s gives a login 2 s (a quarter), where etcd's bcrypt
        # takes ~60 ms idle and CI's parallel load can make that 10x
        m = Multi("coord_etcd_auth", n=1, members=1, semi_sync=False,
                  coord_extra={"user": "root", "password": self.PASSWORD,
                               "lease_ttl_s": 8, "timeout_ms": 500})
        m.start(prepare=lambda m: m.etcd.enable_auth(self.PASSWORD))
        try:
            util.wait_for(lambda: m.coord(0)["role"] == "leader", 20, what="leadership")
            self.assertEqual(m.coord(0)["logins"], 1)
            m.etcd.kill9()
            m.etcd.start()
            try:
                util.wait_for(lambda: m.coord(0)["logins"] >= 2 and m.coord(0)["etcd"] == "ok",
                              20, what="a new login after etcd forgot the token")
            except util.WaitTimeout as e:
                raise AssertionError(f"{e}: {m.coord(0)}\ntandem:\n{m.tandems[0].log_tail(30)}\n"
                                     f"etcd:\n{m.etcd.log_tail(0, 15)}") from None
            util.wait_for(lambda: m.coord(0)["role"] == "leader", 20, what="leadership again")
            rec = m.etcd.record(m.prefix, CLUSTER)
            self.assertEqual(rec["epoch"], 1)
            c = m.coord(0)
            self.assertEqual((c["etcd"], c["self_fenced"]), ("ok", False))
            log(f"etcd auth: {c['logins']} logins (one after etcd's restart)")
            make_tables(m)
            self.assertEqual(try_write(m.port(0)), (True, m.pair.primary.server_id))
            status = json.dumps(m.admins[0].status())
            self.assertNotIn(self.PASSWORD, status)
            self.assertNotIn(self.PASSWORD, m.tandems[0].log_text())
        finally:
            m.stop()
            m.cleanup()

    def test_login_slower_than_a_request_timeout(self):
        """A login runs etcd's bcrypt, which may take longer than an
        ordinary request's timeout_ms: it gets a quarter of the lease, so a
        slow bcrypt (cost 13 here: ~0.5 s, more than timeout_ms) still logs
        in. With the login bound by timeout_ms, no login would ever finish."""
        timeout_ms = 300
        m = Multi("coord_etcd_slowauth", n=1, members=1, semi_sync=False,
                  etcd_args=("--bcrypt-cost", "13"),
                  coord_extra={"user": "root", "password": self.PASSWORD,
                               "lease_ttl_s": 16, "timeout_ms": timeout_ms})
        m.start(prepare=lambda m: m.etcd.enable_auth(self.PASSWORD))
        try:
            # the premise: one login takes longer than timeout_ms
            t0 = time.monotonic()
            got = m.etcd.post("/v3/auth/authenticate",
                              {"name": "root", "password": self.PASSWORD})
            took_ms = (time.monotonic() - t0) * 1000
            self.assertIn("token", got)
            self.assertGreater(took_ms, timeout_ms)
            util.wait_for(lambda: m.coord(0)["role"] == "leader", 30, what="leadership")
            c = m.coord(0)
            self.assertEqual((c["etcd"], c["logins"]), ("ok", 1))
            log(f"etcd login with bcrypt cost 13: {took_ms:.0f} ms against timeout_ms "
                f"{timeout_ms}; tandem logged in once and leads")
        finally:
            m.stop()
            m.cleanup()


class ThreeNodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Without semi-sync: a former primary made a replica would wait out
        # its own semi-sync timeout on every transaction it applies.
        cls.m = Multi("coord_etcd3", n=3, members=3, semi_sync=False,
                      failover={"catchup_timeout_ms": 30000}).start()
        make_tables(cls.m)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.m.cleanup()

    def switch(self, lead: int, to, loops) -> float:
        """A switchover through the leader; returns once every tandem
        routes to `to` (the seconds that took)."""
        m = self.m
        epoch0 = m.etcd.record(m.prefix, CLUSTER)["epoch"]
        t0 = time.monotonic()
        code, body = m.admins[lead].post(f"/clusters/{CLUSTER}/switchover?to={to.address}")
        self.assertEqual(code, 200, body)
        util.wait_for(lambda: all(m.admins[i].cluster()["primary"] == to.address
                                  for i in range(m.n)), 5, what="every tandem to follow")
        took = time.monotonic() - t0
        rec = m.etcd.record(m.prefix, CLUSTER)
        self.assertEqual((rec["epoch"], rec["kind"], rec["state"], rec["primary"]),
                         (epoch0 + 1, "switchover", "done", to.address), rec)
        self.assertEqual(rec["fenced"], [])
        return took

    def test_a_switchover_only_through_the_leader(self):
        m = self.m
        p, r = m.pair.primary, m.pair.replica
        util.wait_for(m.agreed, 30, what="agreement")
        lead = m.leader()
        code, body = m.admins[(lead + 1) % m.n].post(f"/clusters/{CLUSTER}/switchover")
        self.assertEqual(code, 409, body)
        self.assertIn("not the coordination leader", body["error"])
        loops = [WriteLoop(Via(m.port(i)), f"test.w{i}", pause=0.01) for i in range(m.n)]
        for lp in loops:
            lp.start()
        time.sleep(0.5)
        there = self.switch(lead, r, loops)
        util.wait_for(lambda: replicating(m.admins[lead].member(p.address)), 30,
                      what="the old primary to replicate")
        back = self.switch(lead, p, loops)
        time.sleep(0.3)
        for lp in loops:
            lp.stop()
        log(f"switchover through the leader: every tandem followed after "
            f"{there * 1000:.0f} ms, and back after {back * 1000:.0f} ms")
        for i, lp in enumerate(loops):
            self.assertEqual(lp.errors, [], f"tandem {i}: client errors across switchovers")
            self.assertEqual({sid for _, _, sid in lp.done}, {p.server_id, r.server_id})
        util.wait_for(lambda: replicating(m.admins[lead].member(r.address)), 30,
                      what="the replica to replicate again")

    def test_b_leader_killed_during_failover(self):
        m = self.m
        p, r = m.pair.primary, m.pair.replica
        util.wait_for(lambda: m.leader() >= 0, 30, what="a leader")
        util.wait_for(lambda: all(
            {x["address"]: x for x in m.admins[i].cluster()["members"]}[r.address]["lag_ms"]
            is not None for i in range(m.n)), 30, what="replica lag known everywhere")
        lead = m.leader()
        # Hold the replica's SQL thread: the promotion's catch-up waits.
        blocker = r.connect()
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLES test.w1 WRITE")
        with clients.connect(m.port(0), database="test") as c, c.cursor() as cur:
            cur.execute("INSERT INTO test.w1 (v, server) VALUES (1, @@server_id)")
        epoch0 = m.etcd.record(m.prefix, CLUSTER)["epoch"]
        p.kill9()
        util.wait_for(lambda: (m.etcd.record(m.prefix, CLUSTER) or {}).get("epoch") ==
                      epoch0 + 1, 20, what="the leader to record the failover")
        rec = m.etcd.record(m.prefix, CLUSTER)
        self.assertEqual((rec["state"], rec["by"]), ("acting", f"t{lead}"), rec)
        t_kill = time.monotonic()
        m.tandems[lead].kill9()
        blocker.close()            # the replica may now apply what it has
        util.wait_for(lambda: (m.etcd.record(m.prefix, CLUSTER) or {}).get("state") == "done",
                      30, what="another tandem to finish the failover")
        done = m.etcd.record(m.prefix, CLUSTER)
        took = time.monotonic() - t_kill
        log(f"leader tandem{lead} killed mid-failover -> {done['by']} finished epoch "
            f"{done['epoch']} after {took * 1000:.0f} ms (lease TTL {TTL_S} s)")
        self.assertEqual(done["epoch"], epoch0 + 1)
        self.assertEqual(done["primary"], r.address)
        self.assertNotEqual(done["by"], f"t{lead}")
        self.assertEqual(r.variable("read_only"), "OFF")
        for i in range(m.n):
            if i == lead:
                continue
            util.wait_for(lambda i=i: try_write(m.port(i))[1] == r.server_id, 10,
                          what=f"tandem {i} to write to the new primary")
        self.assertEqual(len(m.history()), epoch0 + 1)
        m.tandems[lead].stop()     # killed: its exit status is not a finding


if __name__ == "__main__":
    unittest.main(verbosity=2)
