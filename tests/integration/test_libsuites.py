#!/usr/bin/python3
"""Two client libraries' own upstream test suites, run directly against the
primary of a harness pair and then through tandem in front of it: every
test that passes directly must pass through tandem.

  DBD::MariaDB (Perl DBI; t/*.t, TAP, via DBI_DSN/DBI_USER/DBI_PASS)
  mysqlclient  (Python MySQLdb; tests/, pytest with a junit report)

The suites are the upstream tarballs of Debian's source packages of the
installed binary versions, fetched by scripts/install-deps.sh into
/var/cache/tandem-libsuites ($TANDEM_LIBSUITES_CACHE). Same server, an
account per side alike but for its name, a fresh database per run; the
TLS run goes to a second pair whose primary has TLS. tests/libsuites/excluded.txt names the
tests a proxy cannot pass (run, not compared); tests/libsuites/known-failures.txt the
differences still owed (reported; KNOWN_FAILURES_FAIL decides whether they
fail the test).

  TANDEM_LIBSUITES="dbd_tls ..." only these runs (names: SUITES below)
  TANDEM_LIBSUITES_TESTS="a b"   only these DBD t/ files (debugging)"""

import glob
import os
import re
import subprocess
import sys
import tarfile
import time
import unittest
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import certs, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402
from harness.tandem import (TandemProcess, cluster_config, pair_config,  # noqa: E402
                            raise_problems, tenant_config)

# One-line switch, as in test_mtr.py: True fails the test on a known
# failure too; False reports it as KNOWN FAILURE and fails only on a
# difference that is not listed.
KNOWN_FAILURES_FAIL = False

CACHE = Path(os.environ.get("TANDEM_LIBSUITES_CACHE", "/var/cache/tandem-libsuites"))
LISTS = ROOT / "libsuites"
TENANT, TENANT_TLS = "libsuites", "libsuites_tls"
USER, PASSWORD = "suite", "suite-pass"  # the accounts are suite_direct, suite_tandem
SIDES = ("direct", "tandem")
PERL, PYTHON = "/usr/bin/perl", "/usr/bin/python3"
FILE_TIMEOUT = 120


def read_reasons(name: str) -> dict[str, str]:
    """test id -> the rest of its line; '#' lines are comments."""
    out = {}
    path = LISTS / name
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                test, _, why = line.strip().partition(" ")
                out[test] = why.strip()
    return out


def listed(reasons: dict[str, str], suite: str, test: str) -> bool:
    """Whether a list names test of suite: by its id, by its file (a TAP
    test's t/x.t names all of t/x.t#N), each optionally as suite:id."""
    names = {test, test.split("#")[0]}
    return any(n in reasons or f"{suite}:{n}" in reasons for n in names)


def unpack(binary: str, into: Path) -> Path:
    """The cached upstream tarball of the installed binary package's source
    version, unpacked into into; its top directory. Missing is a failure (a
    skipped suite would pass)."""
    src, ver = subprocess.run(["dpkg-query", "-W", "-f=${source:Package} ${source:Version}",
                               binary], capture_output=True, text=True, check=True).stdout.split()
    upstream = ver.split(":")[-1].rsplit("-", 1)[0]
    found = sorted(glob.glob(str(CACHE / f"{src}_{upstream}.orig.tar.*")))
    if not found:
        raise AssertionError(f"{CACHE}/{src}_{upstream}.orig.tar.* missing: run "
                             "scripts/install-deps.sh as root (it fetches the suites from "
                             "Debian's archive)")
    with tarfile.open(found[0]) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(into)  # a Debian-signed tarball
    return into / top


# -- DBD::MariaDB: one perl per t/ file, TAP read line by line ------------------

TAP_LINE = re.compile(r"^(not )?ok (\d+)\b ?-? ?(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#\s*skip\w*\s*(.*))?", re.I)


def parse_tap(name: str, out: str, rc: int) -> dict[str, str]:
    """{"t/x.t": file verdict, "t/x.t#N": pass|fail|skip}. The file passes
    when it exits 0 with all planned tests seen and none failing (what
    prove calls ok); a skip_all plan makes the whole file 'skip'."""
    res, planned, seen, failed = {}, None, 0, False
    for line in out.splitlines():
        m = TAP_PLAN.match(line)
        if m:
            planned = int(m.group(1))
            if planned == 0:
                res[name] = "skip"
                return res
            continue
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen += 1
        directive = m.group(3)
        if re.search(r"#\s*skip", directive, re.I):
            verdict = "skip"
        elif m.group(1) and not re.search(r"#\s*todo", directive, re.I):
            verdict, failed = "fail", True
        else:
            verdict = "pass"
        res[f"{name}#{m.group(2)}"] = verdict
    ok = rc == 0 and not failed and planned is not None and seen == planned
    res[name] = "pass" if ok else "fail"
    return res


# Upstream's t/testrules.yml (prove -j's schedule): these three first, one
# after the other, then every other file in parallel. The long ones (they
# wait on SLEEP() and timeouts) start first so the rest overlaps them.
DBD_FIRST = ("00base.t", "05dbcreate.t", "10connect.t")
DBD_LONG = ("87async.t", "rt85919-fetch-lost-connection.t", "rt75353-innodb-lock-timeout.t",
            "65segfault.t")
DBD_JOBS = 3


def run_dbd_file(dist: Path, t: Path, env: dict, logdir: Path) -> dict[str, str]:
    name = f"t/{t.name}"
    t0 = time.monotonic()
    try:
        p = subprocess.run([PERL, "-It", name], cwd=dist, env=env, capture_output=True,
                           text=True, errors="replace", timeout=FILE_TIMEOUT)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        err, rc = f"timed out after {FILE_TIMEOUT}s", -1
    (logdir / (t.name + ".log")).write_text(
        f"rc={rc} secs={time.monotonic() - t0:.1f}\n{out}\n--- stderr\n{err}")
    return parse_tap(name, out, rc)


def run_dbd(dist: Path, port: int, db: str, logdir: Path, only: list[str],
            dsn_extra: str = "", user: str = USER) -> dict[str, str]:
    dsn = f"DBI:MariaDB:database={db};host={util.LOOPBACK};port={port}{dsn_extra}"
    env = dict(os.environ, DBI_DSN=dsn,
               DBI_USER=user, DBI_PASS=PASSWORD, AUTOMATED_TESTING="1")
    env.pop("RELEASE_TESTING", None)
    files = [t for t in sorted((dist / "t").glob("*.t"))
             if not only or t.name in only or f"t/{t.name}" in only]
    first = [t for t in files if t.name in DBD_FIRST]
    rest = sorted((t for t in files if t.name not in DBD_FIRST),
                  key=lambda t: t.name not in DBD_LONG)
    results = {}
    for t in first:
        results.update(run_dbd_file(dist, t, env, logdir))
    with ThreadPoolExecutor(DBD_JOBS) as pool:
        for res in pool.map(lambda t: run_dbd_file(dist, t, env, logdir), rest):
            results.update(res)
    return results


# -- mysqlclient: pytest with a junit report ------------------------------------

def run_mysqldb(dist: Path, port: int, db: str, logdir: Path, user: str = USER,
                cnf_extra: str = "") -> dict[str, str]:
    cnf = logdir / "my.cnf"
    cnf.write_text(f"[MySQLdb-tests]\nhost={util.LOOPBACK}\nport={port}\nuser={user}\n"
                   f"password={PASSWORD}\ndatabase={db}\ndefault-character-set=utf8mb4\n"
                   + cnf_extra)
    if "compress" in cnf_extra:
        # the suite's option file must get compression through tandem too
        probe = ("import MySQLdb, sys; c = MySQLdb.connect(read_default_file=sys.argv[1], "
                 "read_default_group='MySQLdb-tests').cursor(); "
                 "c.execute(\"SHOW SESSION STATUS LIKE 'Compression'\"); print(c.fetchone()[1])")
        p = subprocess.run([PYTHON, "-c", probe, str(cnf)], capture_output=True, text=True,
                           timeout=30)
        if p.stdout.strip() != "ON":
            raise AssertionError(f"compression not in use: {p.stdout} {p.stderr}")
    report = logdir / "junit.xml"
    env = dict(os.environ, TESTDB=str(cnf), PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                        f"--junitxml={report}", "."], cwd=dist / "tests", env=env,
                       capture_output=True, text=True, errors="replace", timeout=600)
    (logdir / "pytest.log").write_text(p.stdout + "\n--- stderr\n" + p.stderr)
    if not report.exists():
        raise AssertionError(f"pytest wrote no report:\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("skipped") is not None:
            results[name] = "skip"
        elif case.find("failure") is not None or case.find("error") is not None:
            results[name] = "fail"
        else:
            results[name] = "pass"
    return results


# library -> the binary package whose source's tests are run
BINARIES = {
    "dbd": "libdbd-mariadb-perl",
    "mysqldb": "python3-mysqldb",
}

# The runs: name -> (library, what it is called, the connection options
# the suite runs with: DSN attributes, option file lines; {ca} is the test
# CA). DBD::MariaDB's suite runs four times, as its DSN allows: the text
# protocol, server-side prepared statements (the binary protocol), the
# compressed protocol, and verified TLS (against the pair with TLS, through
# the tenant with TLS on both legs); mysqlclient's twice, plain and
# compressed.
TLS_DSN = ";mariadb_ssl=1;mariadb_ssl_verify_server_cert=1;mariadb_ssl_ca_file={ca}"
SUITES = {
    "dbd": ("dbd", "DBD::MariaDB", ""),
    "dbd_prepare": ("dbd", "DBD::MariaDB mariadb_server_prepare=1", ";mariadb_server_prepare=1"),
    "dbd_compress": ("dbd", "DBD::MariaDB mariadb_compression=1", ";mariadb_compression=1"),
    "dbd_tls": ("dbd", "DBD::MariaDB mariadb_ssl=1 (verified)", TLS_DSN),
    "mysqldb": ("mysqldb", "mysqlclient (MySQLdb)", ""),
    "mysqldb_compress": ("mysqldb", "mysqlclient (MySQLdb) compress", "compress=1\n"),
}


class LibSuitesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.scratch_dir("libsuites")
        cls.dists = {lib: unpack(pkg, cls.dir / "src") for lib, pkg in BINARIES.items()}
        # two pairs: one plain, one with TLS, since a server with TLS makes
        # the suites' plain-fallback tests (DBD's 92ssl_optional.t, ...) skip
        pki = cls.dir / "pki"
        cls.ca = certs.make_ca(pki)
        db_cert, own = certs.make_cert(cls.ca, pki, "db"), certs.make_cert(cls.ca, pki, "tandem")
        # performance_schema: DBD's 56connattr.t reads the connection
        # attributes the client sent from it
        pfs = ["--performance-schema=ON"]
        cls.pair = MariaDBPair(cls.dir / "pair", primary_args=pfs)
        cls.tls_pair = MariaDBPair(cls.dir / "pair-tls", primary_args=pfs + [
            f"--ssl-cert={db_cert.cert}", f"--ssl-key={db_cert.key}", f"--ssl-ca={cls.ca.cert}"])
        cls.pairs = []

        def start(pair):
            cls.pairs.append(pair)
            pair.start()
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(start, (cls.pair, cls.tls_pair)))
            # an account per side, alike but for the name: the direct run
            # and the one through tandem go at once, and a suite that lists
            # every schema it can see (DBD's 40catalog.t) must not see the
            # other run's tables; each run's database is granted to its
            # account alone (run_suite)
            for pair in (cls.pair, cls.tls_pair):
                pair.primary.execute_all(
                    [f"CREATE USER '{USER}_{side}'@'%' IDENTIFIED BY '{PASSWORD}'"
                     for side in SIDES])
            users = {f"{USER}_tandem": {"password": PASSWORD}}
            config = pair_config(cls.pair, tenants=(TENANT,), users=users)
            config["clusters"]["tls"] = dict(cluster_config(cls.tls_pair),
                                             tls={"ca": str(cls.ca.cert)})
            config["tenants"][TENANT_TLS] = dict(
                tenant_config("tls", users=users),
                tls={"cert": str(own.cert), "key": str(own.key)})
            cls.tandem = TandemProcess(None, config, cls.dir / "tandem")
            cls.tandem.start(wait_admin=True)
        except BaseException:
            for pair in cls.pairs:
                pair.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.tandem.exit_problems(cls.tandem.stop())
        for pair in cls.pairs:
            pair.stop()
        util.remove_scratch(cls.dir)
        raise_problems(problems)

    def run_suite(self, suite: str, label: str) -> dict[str, str]:
        """One run of suite in a fresh database, directly or through tandem."""
        db = f"{suite}_{label}"
        primary = self.pair_of(suite).primary
        # DBD::MariaDB's lib.pl wants utf8mb4_unicode_ci as the database's
        primary.execute_all([
            f"DROP DATABASE IF EXISTS {db}",
            f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            f"GRANT ALL PRIVILEGES ON {db}.* TO '{USER}_{label}'@'%'",
            f"GRANT SELECT ON performance_schema.* TO '{USER}_{label}'@'%'"])
        try:
            return self.run_in(suite, label, db)
        finally:
            # the next suite's catalog tests must not see this one's leftovers
            primary.execute_all([f"DROP DATABASE {db}"])

    def pair_of(self, suite: str):
        return self.tls_pair if suite.endswith("_tls") else self.pair

    def run_in(self, suite: str, label: str, db: str) -> dict[str, str]:
        tls = suite.endswith("_tls")
        port = self.pair_of(suite).primary.port if label == "direct" \
            else self.tandem.tenant_port(TENANT_TLS if tls else TENANT)
        logdir = self.dir / "logs" / f"{suite}-{label}"
        logdir.mkdir(parents=True)
        lib, _, dsn_extra = SUITES[suite]
        dsn_extra = dsn_extra.replace("{ca}", str(self.ca.cert))
        # a run that names compression or TLS must get it, through tandem
        # too (a client falls back to plain when the greeting lacks it)
        if "compression" in dsn_extra:
            self.assertEqual(self.dbd_probe(port, db, f"{USER}_{label}", dsn_extra,
                                            "SHOW SESSION STATUS LIKE 'Compression'"), "ON")
        if tls:
            self.assertNotEqual(self.dbd_probe(port, db, f"{USER}_{label}", dsn_extra,
                                               "SHOW SESSION STATUS LIKE 'Ssl_cipher'"), "")
        excluded = read_reasons("excluded.txt")
        if lib == "dbd":
            only = os.environ.get("TANDEM_LIBSUITES_TESTS", "").split()
            res = run_dbd(self.dists[lib], port, db, logdir, only, dsn_extra, f"{USER}_{label}")
        else:
            res = run_mysqldb(self.dists[lib], port, db, logdir, f"{USER}_{label}", dsn_extra)
        return {t: v for t, v in res.items() if not listed(excluded, suite, t)}

    def dbd_probe(self, port: int, db: str, user: str, dsn_extra: str, sql: str) -> str:
        """The second column of sql's row, on a DBD::MariaDB connection
        with the run's options (the backend leg's view through tandem, which
        shows it only when both legs use the feature)."""
        probe = ("my $d = DBI->connect($ENV{DSN}, $ENV{U}, $ENV{P}, {RaiseError => 1});"
                 "print +($d->selectrow_array($ENV{SQL}))[1]")
        p = subprocess.run([PERL, "-MDBI", "-e", probe], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, U=user, P=PASSWORD, SQL=sql,
                           DSN=f"DBI:MariaDB:database={db};host={util.LOOPBACK};port={port}"
                               + dsn_extra))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_suites_through_tandem(self):
        """every library test that passes directly passes through tandem"""
        only = os.environ.get("TANDEM_LIBSUITES")
        suites = only.split() if only else list(SUITES)
        known = read_reasons("known-failures.txt")
        unknown, known_hit = [], []
        t_all = time.monotonic()
        for suite in suites:
            t0 = time.monotonic()
            # direct and through tandem at once: separate databases, one
            # account; the box's two cores each get a run
            with ThreadPoolExecutor(2) as pool:
                direct, through = pool.map(lambda lbl: self.run_suite(suite, lbl),
                                           ("direct", "tandem"))
            secs = time.monotonic() - t0
            passed = [t for t, v in direct.items() if v == "pass"]
            lost = [t for t in passed if through.get(t) != "pass"]
            gained = [t for t, v in through.items() if v == "pass" and direct.get(t) != "pass"]
            print(f"libsuites {SUITES[suite][1]}: {summary(direct)} directly; "
                  f"{summary(through)} through tandem; {secs:.0f}s", flush=True)
            # a broken set-up must not pass by comparing nothing
            self.assertGreater(len(passed), 0.8 * len(direct),
                               f"{suite}: only {len(passed)} of {len(direct)} pass directly")
            for t in gained:
                print(f"libsuites: {suite} {t} passes only through tandem "
                      f"({direct.get(t)} directly)", flush=True)
            for t in lost:
                if listed(known, suite, t):
                    known_hit.append(f"{suite}:{t}")
                    print(f"libsuites: KNOWN FAILURE {suite} {t} "
                          f"({through.get(t, 'missing')})", flush=True)
                else:
                    unknown.append(f"{suite}:{t}")
                    print(f"libsuites: {suite} {t} passes directly, {through.get(t, 'missing')} "
                          f"through tandem", flush=True)
            for t in passed:
                if listed(known, suite, t) and through.get(t) == "pass" and "#" not in t:
                    print(f"libsuites: {suite} {t} passes through tandem now: remove it "
                          f"from known-failures.txt", flush=True)
        print(f"libsuites: all runs {time.monotonic() - t_all:.0f}s", flush=True)
        bad = unknown + (known_hit if KNOWN_FAILURES_FAIL else [])
        if bad:
            more = f" and {len(bad) - 40} more" if len(bad) > 40 else ""
            self.fail(f"{len(bad)} test(s) pass directly but not through tandem: "
                      f"{bad[:40]}{more}\n"
                      f"(logs: {self.dir / 'logs'} with TANDEM_KEEP_TMP=1)\n"
                      f"{self.tandem.log_tail(30)}")


def summary(results: dict[str, str]) -> str:
    """'files 80 pass / 5 skip / 0 fail, tests 3668 pass / ...' (TAP), or
    the tests' counts alone (pytest)."""
    def counts(keys):
        vals = [results[k] for k in keys]
        return "/".join(f"{vals.count(v)} {v}" for v in ("pass", "skip", "fail"))
    files = [k for k in results if k.startswith("t/") and "#" not in k]
    tests = [k for k in results if k not in files]
    return (f"files {counts(files)}, " if files else "") + f"tests {counts(tests)}"


if __name__ == "__main__":
    unittest.main(verbosity=2)
