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


def write_lists(results: dict, times: dict, out: Path, note: str) -> None:
    passed = sorted(c for c, r in results.items() if r == "pass")
    head = (f"# mtr selection: main-suite cases that pass directly in --extern mode\n"
            f"# against a harness pair (MariaDB {template.mariadb_version()}), written by\n"
            f"# tests/mtr/select.py ({time.strftime('%Y-%m-%d')}, {note}).\n"
            f"# case  direct-ms\n")
    (out / "selection.txt").write_text(
        head + "".join(f"{c} {times.get(c, 0)}\n" for c in passed))
    fastest = sorted(passed, key=lambda c: (times.get(c, 0), c))[:CI_SIZE]
    (out / "ci-selection.txt").write_text(
        f"# The CI subset of selection.txt: its {CI_SIZE} fastest cases (select.py).\n"
        + "".join(f"{c}\n" for c in sorted(fastest)))
    print(f"select: {len(passed)} pass directly; ci-selection.txt has {len(fastest)}")


def from_logs(dirs: list[str]) -> int:
    """--logs DIR...: the lists from the mtr logs of earlier runs (a
    recording done in parts, in parallel: `select.py A:B OUT` per part)."""
    cases = set(mtr.candidates()) - set(mtr.read_list("excluded.txt"))
    results: dict[str, str] = {}
    times: dict[str, int] = {}
    for d in dirs:
        for log in sorted(Path(d).glob("mtr-*.log")):
            for line in log.read_text(errors="replace").splitlines():
                m = mtr.RESULT_LINE.match(line)
                if m and m.group(1) in cases:
                    results[m.group(1)] = m.group(2)
                    if m.group(3):
                        times[m.group(1)] = int(m.group(3))
    print(f"select: {len(results)} of {len(cases)} candidates in the logs: "
          f"{dict(collections.Counter(results.values()))}")
    write_lists(results, times, HERE, f"from the logs of {len(dirs)} part(s)")
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--logs"]:
        return from_logs(sys.argv[2:])
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
        if len(sys.argv) > 1:                  # a slice "N" or "A:B" (record in parts)
            a, _, b = sys.argv[1].rpartition(":")
            cases = cases[int(a or 0):int(b) if b else None]
        times: dict[str, int] = {}
        t0 = time.monotonic()
        results, secs = mtr.run_isolated(pair.primary.port, cases, var,
                                         work / "logs", base.reset, times=times)
        print(f"select: {len(cases)} candidates in {secs:.0f}s: "
              f"{dict(collections.Counter(results.values()))}", flush=True)
    finally:
        pair.stop()
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE
    write_lists(results, times, out, f"{time.monotonic() - t0:.0f}s")
    util.remove_scratch(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
