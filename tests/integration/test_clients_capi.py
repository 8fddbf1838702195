#!/usr/bin/python3
"""MariaDB Connector/C through tandem (tests/clients/capi_client.c): the
text protocol, prepared statements with every common parameter type,
multi-statements, long data, cursors, statement and connection reset, and
statement ids over many prepares and closes. Each scenario checks its own
round trips and must print exactly what it prints directly against the
server."""

import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients_base import PairTandemCase, capi_client_path  # noqa: E402

from harness import accounts, util  # noqa: E402


class CapiTest(PairTandemCase):
    name = "clients_capi"

    def run_capi(self, port, scenario, timeout=120):
        p = subprocess.run([capi_client_path(), util.LOOPBACK, str(port), accounts.APP_USER,
                            accounts.APP_PASSWORD, "test", scenario],
                           capture_output=True, text=True, timeout=timeout)
        return p

    def scenario(self, name, expect=None):
        """Run a scenario directly, then through tandem: both pass, same output."""
        direct = self.run_capi(self.direct, name)
        self.assertEqual(direct.returncode, 0, f"direct run failed: {direct.stderr}")
        via = self.run_capi(self.port, name)
        self.assertEqual(via.returncode, 0, f"through tandem: {via.stderr}\n"
                                            f"{self.tandem.log_tail()}")
        self.assertEqual(via.stdout, direct.stdout)
        if expect:
            self.assertIn(expect, via.stdout)
        self.assert_tandem_alive()
        return via.stdout

    def test_text_protocol(self):
        out = self.scenario("text", "error 1146 42S02")
        self.assertIn("3\tdrei ü\t-2.25", out)
        self.assertIn("info Records: 3  Duplicates: 0  Warnings: 0", out)

    def test_prepared_types_round_trip(self):
        out = self.scenario("types")
        self.assertIn("row 1 t=-128 s=-32768 b=-9223372036854775808", out)
        self.assertIn("tm=-25:59:58.123456", out)

    def test_multi_statements(self):
        out = self.scenario("multi", "result 4: rows\n23\n")
        self.assertIn("error 1146", out)

    def test_send_long_data(self):
        self.scenario("longdata", "longdata 3145728 bytes")

    def test_cursor_fetch(self):
        out = self.scenario("cursor")
        self.assertIn("cursor round 1: 10 rows", out)

    def test_reset_connection(self):
        out = self.scenario("reset")
        # user variable gone, time zone back, schema kept
        self.assertIn("1\t1\ttest\n", out)

    def test_statement_ids_over_many_prepares(self):
        self.scenario("many", "many 300 ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)
