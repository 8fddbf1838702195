#!/usr/bin/python3
"""Short versions of the load benchmarks (bench/sessions, bench/storm),
through tandem in front of bench/fakedb (bench/loadlib.py):

- 500 concurrent sessions held idle, then each runs SELECT 1: all open,
  all answer, tandem's RSS per idle session stays within the 16 KiB
  target, and every descriptor comes back when they close;
- a storm of connect/login/quit at 300 per second for 5 s: no failure, no
  descriptor left behind, and RSS after it no higher than after a warm-up
  storm (plus allocator slack).

The full runs (10,000 sessions; 2,000 per second for 30 s) are the
benchmarks; their numbers are in docs/security.md.
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import loadlib as ll  # noqa: E402
from harness import util  # noqa: E402
from harness.tandem import default_binary  # noqa: E402


class LoadSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ll.raise_nofile()
        cls.dir = util.scratch_dir("sec-load")
        cls.build = Path(default_binary()).parent
        cls.fake = ll.FakeBackend(cls.build, cls.dir).start()
        cls.tandem = ll.start_tandem(default_binary(), cls.dir, cls.fake.address, workers=2)
        cls.port = cls.tandem.tenant_port("t1")

    @classmethod
    def tearDownClass(cls):
        cls.tandem.stop()
        cls.fake.stop()
        util.remove_scratch(cls.dir)

    def settle(self, fds0):
        util.wait_for(lambda: ll.open_fds(self.tandem.pid) <= fds0, 60,
                      what="tandem's descriptors back to where they were")

    def test_sessions_held_then_working(self):
        pid = self.tandem.pid
        fds0, rss0 = ll.open_fds(pid), ll.rss_kib(pid)
        n = 500
        s = ll.Sessions(self.port, n, nprocs=2)
        try:
            opened, samples, errors = s.open()
            self.assertEqual((opened, errors), (n, 0), samples)
            util.wait_for(lambda: ll.open_fds(pid) >= fds0 + 2 * n, 30,
                          what="every session's backend connection")
            rss1 = ll.rss_kib(pid)
            ok, qsamples, qerrors = s.query()
            self.assertEqual((ok, qerrors), (n, 0), qsamples)
        finally:
            s.close()
        self.settle(fds0)
        per = (rss1 - rss0) / n
        print(f"{n} idle sessions: RSS {rss0} -> {rss1} KiB, {per:.2f} KiB per session",
              flush=True)
        self.assertLessEqual(per, 16.0)

    def test_connection_storm(self):
        pid = self.tandem.pid
        fds0 = ll.open_fds(pid)
        ll.storm(self.build, self.port, 200, 1, threads=4)             # warm-up
        self.settle(fds0)
        rss_warm = ll.rss_kib(pid)
        r = ll.storm(self.build, self.port, 300, 5, threads=8)
        print(f"storm: {r['ok']:.0f} of {r['started']:.0f} at {r['rate']:.0f}/s, "
              f"{r['failed']:.0f} failed", flush=True)
        self.assertEqual(r["failed"], 0, r["first_error"])
        self.assertEqual(r["ok"], r["started"])
        self.settle(fds0)   # sess_free closes the descriptors: the memory is back too
        rss = ll.rss_kib(pid)
        print(f"RSS after warm-up {rss_warm} KiB, after the storm {rss} KiB", flush=True)
        self.assertLess(rss - rss_warm, 4096, "memory did not come back after the storm")


if __name__ == "__main__":
    unittest.main(verbosity=2)
