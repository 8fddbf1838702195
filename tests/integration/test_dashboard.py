#!/usr/bin/python3
"""The dashboard at / in a real browser: Debian's chromium, headless, with
a fresh profile, loads the page from a running tandem (admin token given
once as #token=...), and the DOM it renders after its fetches shows the
cluster's members with their roles and states and the tenants (paged, and
filtered by ?q=). Without the token the page shows the token form and no
data. After a kill -9 of the primary, the failover is in the timeline with
its phases. A screenshot is kept under the build dir (path printed)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import util  # noqa: E402
from harness.tandem import tenant_config  # noqa: E402
from health_helpers import CLUSTER, TENANT, Stack  # noqa: E402

TOKEN = "dashboard-test-token"
EXTRA = [f"shop{i:03d}" for i in range(60)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class ManyTenants(Stack):
    def config(self):
        cfg = super().config()
        for name in EXTRA:
            cfg["tenants"][name] = tenant_config(CLUSTER)
        return cfg


class Dom(HTMLParser):
    """Elements with a class or id we look for, with their attributes and
    text."""

    def __init__(self, html: str):
        super().__init__()
        self.members, self.tenants, self.events = [], [], []
        self.ids = {}
        self._open = []          # (tag, record) for text collection
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        rec = {"attrs": a, "text": ""}
        cls = (a.get("class") or "").split()
        if "member" in cls:
            self.members.append(rec)
        elif "tenant" in cls:
            self.tenants.append(rec)
        elif "event" in cls:
            self.events.append(rec)
        if "id" in a:
            self.ids[a["id"]] = rec
        self._open.append((tag, rec))

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, rec in self._open:
            rec["text"] += data


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError("chromium is not installed (bash scripts/install-deps.sh)")
        cls.stack = ManyTenants("dashboard", admin={"token": TOKEN},
                                monitor={"interval_ms": 200, "failures": 2})
        cls.stack.start()
        cls.profiles = Path(tempfile.mkdtemp(prefix="chromium-", dir=cls.stack.dir))
        cls.artifacts = Path(os.environ.get("TANDEM_TEST_ARTIFACTS")
                             or util.repo_root() / "build" / "tests" / "integration" / "artifacts")
        cls.artifacts.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.stop()
        finally:
            cls.stack.cleanup()

    def chromium(self, path: str, *extra: str) -> subprocess.CompletedProcess:
        """One headless run with a fresh profile; --virtual-time-budget lets
        the page's fetches and first polls finish before the dump."""
        profile = tempfile.mkdtemp(dir=self.profiles)
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                f"--user-data-dir={profile}", "--window-size=1280,1000",
                "--virtual-time-budget=8000", *extra,
                f"http://127.0.0.1:{self.stack.tandem.admin_port()}{path}"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        return r

    def dom(self, path: str) -> Dom:
        return Dom(self.chromium(path, "--dump-dom").stdout)

    def test_1_members_and_tenants(self):
        p, r = self.stack.pair.primary, self.stack.pair.replica
        self.stack.wait_healthy(p, r)
        with self.stack.connect() as c, c.cursor() as cur:
            cur.execute("SELECT 1")
        d = self.dom(f"/#token={TOKEN}")
        self.assertEqual(d.ids["live"]["text"], "live")
        members = {m["attrs"]["data-address"]: m["attrs"] for m in d.members}
        self.assertEqual(set(members), {p.address, r.address})
        self.assertEqual((members[p.address]["data-role"], members[p.address]["data-state"]),
                         ("primary", "UP"))
        self.assertEqual((members[r.address]["data-role"], members[r.address]["data-state"]),
                         ("replica", "UP"))
        # 61 tenants, a page of 50, sorted as configured
        self.assertEqual(len(d.tenants), 50)
        self.assertIn("(61)", d.ids["tenantcount"]["text"])
        self.assertEqual(d.ids["pageinfo"]["text"], "1–50")
        self.assertIn(TENANT, [t["attrs"]["data-tenant"] for t in d.tenants])
        # the search goes to the server: ?q= filters
        d = self.dom(f"/?q=shop05#token={TOKEN}")
        self.assertEqual(sorted(t["attrs"]["data-tenant"] for t in d.tenants),
                         [f"shop05{i}" for i in range(10)])
        self.assertIn("10 of 61", d.ids["tenantcount"]["text"])

    def test_2_token_required(self):
        d = self.dom("/")
        self.assertEqual(d.ids["live"]["text"], "token needed")
        self.assertIn("show", d.ids["login"]["attrs"].get("class", ""))
        self.assertEqual(d.members, [])
        self.assertEqual(d.tenants, [])

    def test_3_failover_in_timeline(self):
        p, r = self.stack.pair.primary, self.stack.pair.replica
        self.stack.wait_healthy(p, r)
        self.stack.kill_primary(p, r)
        util.wait_for(lambda: self.stack.admin.request("GET", "/failovers")[1]["events"], 10,
                      what="the failover in /failovers")
        d = self.dom(f"/#token={TOKEN}")
        kinds = [e["attrs"]["data-kind"] for e in d.events]
        self.assertEqual(kinds[0], "failover", kinds)
        text = d.events[0]["text"]
        self.assertIn(f"{p.address} → {r.address}", text)
        self.assertIn("detection", text)
        self.assertIn("decision and promotion", text)
        members = {m["attrs"]["data-address"]: m["attrs"] for m in d.members}
        self.assertEqual(members[r.address]["data-role"], "primary")
        self.assertNotEqual(members[p.address]["data-state"], "UP")
        shot = self.artifacts / "dashboard.png"
        shot.unlink(missing_ok=True)
        self.chromium(f"/#token={TOKEN}", f"--screenshot={shot}")
        self.assertGreater(shot.stat().st_size, 10000)
        print(f"\ndashboard screenshot: {shot}", flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
