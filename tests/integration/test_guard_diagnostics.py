#!/usr/bin/python3
"""The commit guard leaves no trace (docs/sessions.md, "Commit guard"):
the same statements directly and through tandem, with the guard on and no
GRANT for the application user beyond its own schemas, give the same
diagnostics — warnings and errors (@@warning_count, SHOW WARNINGS / SHOW
ERRORS), ROW_COUNT(), LAST_INSERT_ID(), FOUND_ROWS(), affected rows,
insert ids, info strings, status flags, @@in_transaction, and the shape
of @@last_gtid — for text and prepared statements (Connector/C,
tests/clients/diag_client.c). The server is the oracle: any difference
fails. Each run uses its own fresh table so that insert ids match."""

import os
import re
import threading
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients_base import PairTandemCase, TENANT  # noqa: E402

from harness import accounts, util  # noqa: E402
from harness.tandem import pair_config  # noqa: E402

UNGUARDED = "noguard"
TAGGED = "tagguard"   # "commit_guard": "tag": writes carry tandem's comment
# SERVER_SESSION_STATE_CHANGED: tandem does not hand this client the
# backend's session-state flag (proxy/login/login.h: the backend leg's
# tracking is tandem's own), guard or not — a difference that predates and
# does not depend on the guard. It is masked in the direct/tandem
# comparison only; guard on and guard off must match bit for bit.
STATE_CHANGED = 0x4000

SCRIPT = """
T CREATE TABLE {T} (id INT AUTO_INCREMENT PRIMARY KEY, k TINYINT UNIQUE, v INT)
T INSERT IGNORE INTO {T} (k, v) VALUES (1, 1), (1, 2), (300, 3)
T SELECT @@warning_count
T SHOW WARNINGS
T SELECT ROW_COUNT()
T INSERT IGNORE INTO {T} (k, v) VALUES (1, 1), (1, 2), (300, 3)
T SHOW WARNINGS
T SELECT ROW_COUNT()
T UPDATE IGNORE {T} SET k = 1 WHERE k = 127
T SELECT @@warning_count
T SHOW WARNINGS
T SELECT ROW_COUNT()
T INSERT INTO {T} (k, v) VALUES (1, 10) ON DUPLICATE KEY UPDATE v = v + 1
T SELECT ROW_COUNT(), LAST_INSERT_ID()
T REPLACE INTO {T} (k, v) VALUES (1, 20)
T SELECT ROW_COUNT()
T DELETE FROM {T} WHERE k = 99
T SELECT ROW_COUNT()
T SELECT * FROM test.no_such_table
T SHOW WARNINGS
T SHOW ERRORS
T INSERT INTO test.no_such_table VALUES (1)
T SHOW WARNINGS
T SHOW ERRORS
T INSRT INTO {T} VALUES (1)
T SHOW ERRORS
T UPDATE {T} SET nosuchcolumn = 1
T SHOW ERRORS
T BEGIN
T SELECT @@in_transaction
T INSERT IGNORE INTO {T} (k, v) VALUES (1, 5)
T COMMIT
T SHOW WARNINGS
T SELECT @@warning_count, @@in_transaction
T BEGIN
T UPDATE {T} SET v = v + 1
T ROLLBACK
T SELECT ROW_COUNT(), @@in_transaction
T INSERT INTO {T} (k, v) VALUES (50, 50)
T SELECT LAST_INSERT_ID()
T SELECT SQL_CALC_FOUND_ROWS * FROM {T} ORDER BY id LIMIT 1
T SELECT FOUND_ROWS()
T SELECT @@last_gtid
T INSERT INTO {T} (k, v) VALUES (51, 1); SELECT ROW_COUNT(); SHOW WARNINGS
T SET autocommit = 0
T INSERT IGNORE INTO {T} (k, v) VALUES (51, 1)
T SELECT @@in_transaction, @@warning_count
T COMMIT
T SHOW WARNINGS
T SET autocommit = 1
P INSERT IGNORE INTO {T} (k, v) VALUES (2, 1), (2, 2), (400, 1)
T SELECT @@warning_count
T SHOW WARNINGS
T SELECT ROW_COUNT()
P UPDATE {T} SET v = v + 1 WHERE k = 2
T SELECT ROW_COUNT()
P INSERT INTO {T} (k, v) VALUES (2, 0) ON DUPLICATE KEY UPDATE v = 0
T SELECT ROW_COUNT()
P INSERT INTO {T} (k, v) VALUES (60, 1)
T SELECT LAST_INSERT_ID()
P SELECT * FROM test.no_such_table
T SHOW ERRORS
P INSERT INTO test.no_such_table VALUES (1)
T SHOW ERRORS
P SELECT k, v FROM {T} ORDER BY id
T SELECT @@in_transaction, @@autocommit, COUNT(*) FROM {T}
"""


def diag_client_path() -> str:
    return os.environ.get("TANDEM_DIAG_CLIENT") or str(
        util.repo_root() / "build" / "tests" / "clients" / "diag_client")


class GuardDiagnosticsTest(PairTandemCase):
    name = "guard_diagnostics"

    @classmethod
    def tandem_config(cls, pair) -> dict:
        cfg = pair_config(pair, tenants=(TENANT, UNGUARDED, TAGGED))
        cfg["tenants"][UNGUARDED]["commit_guard"] = False
        cfg["tenants"][TAGGED]["commit_guard"] = "tag"
        return cfg

    def run_script(self, port: int, table: str) -> list[str]:
        script = SCRIPT.replace("{T}", f"test.{table}")
        out = subprocess.run(
            [diag_client_path(), util.LOOPBACK, str(port), accounts.APP_USER,
             accounts.PASSWORDS[accounts.APP_USER], "test"],
            input=script, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.replace(table, "T")
        # GTIDs differ between the runs; their shape must not
        text = re.sub(r"\b\d+-\d+-\d+\b", "D-S-N", text)
        return text.splitlines()

    @staticmethod
    def without_state_flag(lines: list[str]) -> list[str]:
        return [re.sub(r"status=0x([0-9a-f]+)",
                       lambda m: f"status=0x{int(m.group(1), 16) & ~STATE_CHANGED:x}", ln)
                for ln in lines]

    def test_same_diagnostics_directly_and_through_tandem(self):
        status = self.admin("/status")["tenants"][TENANT]
        self.assertTrue(status["commit_guard"]["enabled"])
        self.assertEqual(status["commit_guard"]["mode"], "text")
        direct = self.run_script(self.direct, "diag_direct")
        proxied = self.run_script(self.port, "diag_tandem")
        unguarded = self.run_script(self.tandem.tenant_port(UNGUARDED), "diag_noguard")
        tagged_run = self.run_script(self.tandem.tenant_port(TAGGED), "diag_tagged")
        self.assertGreater(len(direct), 100)
        self.maxDiff = None
        self.assertEqual(proxied, unguarded)
        self.assertEqual(tagged_run, unguarded)
        self.assertEqual(self.without_state_flag(proxied), self.without_state_flag(direct))
        # The default guard sends the statements as they are: the binlog's
        # texts of the tandem run are the direct run's, byte for byte.
        rows = self.pair.primary.sql(
            "SHOW BINLOG EVENTS IN 'mariadb-bin.000001'") or []

        def texts(table):
            return [str(r[-1]).replace(table, "T") for r in rows
                    if table in str(r[-1]) and r[2] in ("Annotate_rows", "Query")]
        self.assertGreater(len(texts("diag_direct")), 5)
        self.assertEqual(texts("diag_tandem"), texts("diag_direct"))
        self.assertFalse([t for t in texts("diag_tandem") if "/*tandem:" in t])
        # and "tag" really tags: the writes went out with tandem's comment
        tagged = [t for t in texts("diag_tagged") if "/*tandem:" in t]
        self.assertTrue(tagged, "no tagged statement of the tag-mode run in the binlog")
        # a prepared write (COM_STMT_PREPARE) is logged with the tag too
        self.assertTrue([t for t in tagged if "VALUES (60, 1)" in t], tagged)
        self.assert_tandem_alive()

    def test_a_guarded_write_shows_its_own_text(self):
        """What the server shows of a guarded statement (processlist Info,
        INNODB_TRX's trx_query) is the client's text, as directly."""
        import pymysql
        self.app_sql("CREATE TABLE IF NOT EXISTS test.diag_lock (id INT PRIMARY KEY, v INT)")
        self.app_sql("REPLACE INTO test.diag_lock VALUES (1, 0)")
        holder = self.pair.primary.connect()
        self.addCleanup(holder.close)
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT * FROM test.diag_lock WHERE id = 1 FOR UPDATE")
        sql = "UPDATE test.diag_lock SET v = v + 1 WHERE id = 1"
        client = pymysql.connect(host=util.LOOPBACK, port=self.port, user=accounts.APP_USER,
                                 password=accounts.PASSWORDS[accounts.APP_USER],
                                 autocommit=True, read_timeout=30)
        self.addCleanup(client.close)
        done = threading.Event()

        def blocked():
            with client.cursor() as cur:
                cur.execute(sql)
            done.set()
        th = threading.Thread(target=blocked, daemon=True)
        th.start()
        infos = lambda: [r[0] for r in self.pair.primary.sql(  # noqa: E731
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE '%%diag_lock SET%%'"
            " AND USER = %s", (accounts.APP_USER,))]
        util.wait_for(lambda: infos(), 10, what="the guarded UPDATE to wait on the lock")
        self.assertEqual(infos(), [sql])
        trx = [r[0] for r in self.pair.primary.sql(
            "SELECT trx_query FROM information_schema.INNODB_TRX WHERE trx_query IS NOT NULL")]
        self.assertEqual(trx, [sql])
        with holder.cursor() as cur:
            cur.execute("COMMIT")
        th.join(30)
        self.assertTrue(done.is_set())


if __name__ == "__main__":
    unittest.main(verbosity=2)
