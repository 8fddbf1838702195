"""The benchmarks run: `bench/run-all --smoke` starts each benchmark for a
few seconds (fakedb, loadgen, tandem, HAProxy, a real MariaDB pair and
sysbench) and each one prints its table with a row per target.

Benchmarks report numbers; this test never judges them (timing targets are
for bench/README.md, not the suite). It checks that every benchmark ran to
the end, that its table has the rows it should, and that the figures in
them are numbers, so a benchmark that silently broke fails here."""

import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_ALL = REPO / "bench" / "run-all"


def build_dir() -> Path:
    """Where meson built tandem (TANDEM_BIN is build/tandem), else ./build."""
    binary = os.environ.get("TANDEM_BIN")
    return Path(binary).parent if binary else REPO / "build"


def section(output: str, name: str) -> str:
    """The output between '=== bench/<name>' and its 'done' line."""
    m = re.search(rf"^=== bench/{name}\n(.*?)^=== bench/{name}: (done|FAILED)[^\n]*$", output,
                  re.S | re.M)
    return m.group(0) if m else ""


def table_rows(text: str, title: str) -> list[list[str]]:
    """Rows of the table printed under a title line starting with `title`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(title):
            rows = []
            for row in lines[i + 3:]:          # title, header, dashes
                # a table ends at a blank line; progress lines are indented
                if not row.strip() or row[0].isspace() or row.startswith("==="):
                    break
                rows.append(row.split())
            return rows
    return []


class BenchSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = subprocess.run([str(RUN_ALL), "--smoke", "--build-dir", str(build_dir())],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=420)
        cls.rc, cls.out = p.returncode, p.stdout + p.stderr
        print(cls.out, file=sys.stderr, flush=True)

    def assertNumber(self, cell: str):
        self.assertRegex(cell, r"^[+-]?\d+(\.\d+)?%?$")

    def test_run_all_succeeds(self):
        self.assertEqual(self.rc, 0, self.out[-3000:])
        self.assertIn("run-all: all benchmarks ran", self.out)
        self.assertNotIn("Traceback", self.out)

    def test_micro_table(self):
        text = section(self.out, "micro")
        self.assertIn(": done in", text, text[-2000:])
        rows = table_rows(text, "micro:")
        # conns 1 and 16, each for direct, tandem and haproxy
        self.assertEqual([(r[0], r[1]) for r in rows],
                         [(c, t) for c in ("1", "16") for t in ("direct", "tandem", "haproxy")],
                         text)
        for r in rows:
            self.assertNumber(r[2])                 # rt/s
            self.assertGreater(float(r[2]), 0)
            self.assertNumber(r[4])                 # p50
            if r[1] != "direct":
                for cell in r[3:]:                  # ratio, latencies, cpu figures
                    self.assertNumber(cell)

    def test_memory_tables(self):
        text = section(self.out, "memory")
        self.assertIn(": done in", text, text[-2000:])
        idle = table_rows(text, "memory: idle")
        self.assertEqual([(r[0], r[1]) for r in idle],
                         [("tandem", "0"), ("tandem", "200"), ("haproxy", "0"),
                          ("haproxy", "200")], text)
        for r in idle:
            self.assertNumber(r[2])
        for r in idle[1::2]:
            self.assertNumber(r[4])                 # KiB/session
        slow = table_rows(text, "memory: one slow client")
        self.assertEqual([r[0] for r in slow], ["tandem", "haproxy"], text)
        for r in slow:
            self.assertEqual(r[1], "16")            # the whole result was read
            for cell in r[2:]:
                self.assertNumber(cell)

    def test_compare_table(self):
        text = section(self.out, "compare")
        self.assertIn(": done in", text, text[-2000:])
        rows = table_rows(text, "compare:")
        self.assertEqual([(r[0], r[2]) for r in rows],
                         [(w, t) for w in ("oltp_point_select", "oltp_read_write")
                          for t in ("direct", "haproxy", "tandem")], text)
        for wl, thr, target, qps, ratio, p50, p95, p99, err, proxy_cpu, server_cpu in rows:
            self.assertGreater(float(qps), 0)
            for cell in (p50, p95, p99, err, server_cpu):
                self.assertNumber(cell)
            if target == "direct":
                self.assertEqual((ratio, proxy_cpu), ("-", "-"))
            else:
                self.assertNumber(ratio)
                self.assertNumber(proxy_cpu)

    def test_failover_tables(self):
        text = section(self.out, "failover")
        self.assertIn(": done in", text, text[-2000:])
        for title, first in (("failover: kill -9 of the primary under load", "1"),
                             ("failover: over 1 round(s)", "median")):
            rows = table_rows(text, title)
            self.assertEqual([r[0] for r in rows], [first], text)
            rnd, idle_kept, p50, p99, writer_errors, *rest = rows[0]
            self.assertRegex(idle_kept, r"^\d+/30$")
            self.assertRegex(writer_errors, r"^(-|(\d+:\d+,?)+)$")
            for cell in (p50, p99, *rest):
                self.assertNumber(cell)

    def test_profile_tables(self):
        text = section(self.out, "profile")
        self.assertIn(": done in", text, text[-2000:])
        sys_rows = table_rows(text, "profile: tandem system calls")
        names = {r[0] for r in sys_rows}
        # Plain conns read with read() into the worker's block (readv before).
        self.assertTrue({"read", "writev"} <= names, text)
        self.assertRegex(text, r"profile: tandem user-space instructions: \d+ Ir per round trip")
        calls = {r[0]: r[1] for r in table_rows(text, "calls per round trip")}
        self.assertIn("malloc", calls, text)
        self.assertNumber(calls["malloc"])
        self.assertTrue(table_rows(text, "CPU samples by object"), text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
