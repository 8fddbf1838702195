#!/usr/bin/python3
"""Derive the mtr selection (rule 3 of mtr.py: "passes directly in --extern
mode") by running every candidate (rules 1, 2) directly against a fresh
harness pair, and write

  selection.txt     every candidate that passed, with its time in ms
  ci-selection.txt  the CI subset: the CI_SIZE fastest cases of
                    selection.txt (ties by name), so direct + through
                    tandem fits the CI budget

Run it again after a MariaDB upgrade (the lists name the version):
  /usr/bin/python3 tests/mtr/select.py            # ~10-15 min on 2 cores
Cases in excluded.txt are left out of both lists.
"""

import collections
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import mtr  # noqa: E402

from harness import template, util  # noqa: E402
from harness.pair import MariaDBPair  # noqa: E402

CI_SIZE = 320


def main() -> int:
    work = util.scratch_dir("mtr-select")
    var = work / "var"
    args = mtr.server_args(var)
    pair = MariaDBPair(var, primary_args=args, replica_args=args)
    pair.start()
    try:
        pair.primary.execute_all(mtr.bootstrap_statements())
        base = mtr.Baseline(pair.primary)
        excluded = set(mtr.read_list("excluded.txt"))
        cases = [c for c in mtr.candidates() if c not in excluded]
        if len(sys.argv) > 1:                  # a slice, for a quick look
            cases = cases[:int(sys.argv[1])]
        times: dict[str, int] = {}
        t0 = time.monotonic()
        results, secs = mtr.run_isolated(pair.primary.port, cases, var,
                                         work / "logs", base.reset, times=times)
        print(f"select: {len(cases)} candidates in {secs:.0f}s: "
              f"{dict(collections.Counter(results.values()))}", flush=True)
    finally:
        pair.stop()
    passed = sorted(c for c, r in results.items() if r == "pass")
    head = (f"# mtr selection: main-suite cases that pass directly in --extern mode\n"
            f"# against a harness pair (MariaDB {template.mariadb_version()}), written by\n"
            f"# tests/mtr/select.py ({time.strftime('%Y-%m-%d')}, {time.monotonic() - t0:.0f}s).\n"
            f"# case  direct-ms\n")
    (HERE / "selection.txt").write_text(
        head + "".join(f"{c} {times.get(c, 0)}\n" for c in passed))
    fastest = sorted(passed, key=lambda c: (times.get(c, 0), c))[:CI_SIZE]
    (HERE / "ci-selection.txt").write_text(
        f"# The CI subset of selection.txt: its {CI_SIZE} fastest cases (select.py).\n"
        + "".join(f"{c}\n" for c in sorted(fastest)))
    print(f"select: {len(passed)} pass directly; ci-selection.txt has {len(fastest)}")
    util.remove_scratch(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
