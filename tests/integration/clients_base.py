"""Shared set-up of the real-client matrix (test_clients_*.py): one real
MariaDB pair and one tandem in front of it per test file, so several tests
share the ~1 s start-up. A test file subclasses PairTandemCase and may
override tandem_config() to change the tenant (e.g. local_infile)."""

import json
import os
import sys
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import accounts, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import TandemProcess, pair_config, raise_problems  # noqa: E402

TENANT = "vps17"


def capi_client_path() -> str:
    """The Connector/C test client (meson sets $TANDEM_CAPI_CLIENT)."""
    return os.environ.get("TANDEM_CAPI_CLIENT") or str(
        util.repo_root() / "build" / "tests" / "clients" / "capi_client")


class PairTandemCase(unittest.TestCase):
    """A pair and a tandem for the whole class; tests must leave both usable."""

    name = "clients"

    @classmethod
    def tandem_config(cls, pair) -> dict:
        return pair_config(pair, tenants=(TENANT,))

    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir(cls.name)
        cls.pair = MariaDBPair(cls.dir / "pair")
        cls.pair.start()
        try:
            cls.tandem = TandemProcess(None, cls.tandem_config(cls.pair), cls.dir / "tandem")
            cls.tandem.start(wait_admin=True)
        except BaseException:
            cls.pair.stop()
            raise
        tenants = cls.tandem.config["tenants"]
        cls.port = cls.tandem.tenant_port(TENANT) if TENANT in tenants else None
        cls.direct = cls.pair.primary.port

    @classmethod
    def tearDownClass(cls):
        # A crash, or a sanitizer finding, fails the class.
        problems = cls.tandem.exit_problems(cls.tandem.stop())
        cls.pair.stop()
        util.remove_scratch(cls.dir)
        raise_problems(problems)

    def admin(self, path: str):
        url = f"http://{util.LOOPBACK}:{self.tandem.admin_port()}{path}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def assert_tandem_alive(self):
        self.assertTrue(self.tandem.is_running(), self.tandem.log_tail())

    def app_sql(self, sql: str):
        """Run sql directly on the primary as the app user (test set-up)."""
        return self.pair.primary.sql(sql, user=accounts.APP_USER)
