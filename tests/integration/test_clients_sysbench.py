#!/usr/bin/python3
"""sysbench through tandem: oltp_read_write, oltp_point_select and
oltp_insert, short runs with several threads (prepared statements, as
sysbench uses them by default), each with zero errors and reconnects.
Throughput is not asserted here: bench/ measures it."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients_base import PairTandemCase  # noqa: E402

from harness.clients import sysbench  # noqa: E402

THREADS = 4
SECONDS = 3
# InnoDB may pick two oltp_read_write transactions as deadlock victims when
# they touch the same rows (sysbench then counts an "ignored error" that is
# the server's, not tandem's): enough rows make that vanishingly rare.
TABLES = 4
TABLE_SIZE = 10000


class SysbenchTest(PairTandemCase):
    name = "clients_sysbench"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sysbench("prepare", cls.port, "oltp_read_write", tables=TABLES, table_size=TABLE_SIZE,
                 histogram=False, check=True)

    def run_bench(self, test):
        r = sysbench("run", self.port, test, tables=TABLES, table_size=TABLE_SIZE, threads=THREADS,
                     time_s=SECONDS, histogram=False)
        self.assertEqual(r.rc, 0, r.output[-2000:])
        self.assertEqual(r.fatal, [], r.output[-2000:])
        self.assertEqual(r.errors, 0, r.output[-2000:])
        self.assertEqual(r.reconnects, 0, r.output[-2000:])
        self.assertGreater(r.transactions, 0)
        print(f"\n{test}: {r.tps} tps, {r.qps} qps", file=sys.stderr, flush=True)
        self.assert_tandem_alive()
        return r

    def test_oltp_read_write(self):
        r = self.run_bench("oltp_read_write")
        self.assertGreater(r.writes, 0)

    def test_oltp_point_select(self):
        self.run_bench("oltp_point_select")

    def test_oltp_insert(self):
        r = self.run_bench("oltp_insert")
        self.assertGreater(r.writes, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
