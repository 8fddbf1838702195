#!/usr/bin/python3
"""Perl DBI with DBD::MariaDB (/usr/bin/perl) through tandem
(tests/clients/dbd_client.pl): connect, queries, prepared statements,
transactions and errors, once with the text protocol and once with
server-side prepared statements (mariadb_server_prepare=1). The run through
tandem must pass and print what a direct run prints."""

import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients_base import PairTandemCase  # noqa: E402

from harness import accounts, util  # noqa: E402

PERL = "/usr/bin/perl"
SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "dbd_client.pl"


class PerlTest(PairTandemCase):
    name = "clients_perl"

    def run_perl(self, port):
        return subprocess.run([PERL, str(SCRIPT), util.LOOPBACK, str(port), accounts.APP_USER,
                               accounts.APP_PASSWORD, "test"],
                              capture_output=True, text=True, timeout=120)

    def test_dbd_mariadb_matches_direct(self):
        direct = self.run_perl(self.direct)
        self.assertEqual(direct.returncode, 0, f"direct run failed: {direct.stderr}")
        via = self.run_perl(self.port)
        self.assertEqual(via.returncode, 0, f"{via.stderr}\n{self.tandem.log_tail()}")
        self.assertEqual(via.stdout, direct.stdout)
        self.assertIn("== server_prepare=1\n", via.stdout)
        self.assertIn("duplicate: 1062 23000", via.stdout)
        self.assertTrue(via.stdout.endswith("ok\n"))
        self.assert_tandem_alive()


if __name__ == "__main__":
    unittest.main(verbosity=2)
