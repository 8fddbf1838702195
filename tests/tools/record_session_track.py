#!/usr/bin/python3
"""Record the OK packets a real MariaDB sends with session-state tracking
on, for the facts unit tests: tests/data/session_track.txt.

Usage: record_session_track.py [PORT]
  With PORT, talks to the server on 127.0.0.1:PORT as app/app-pass (a
  harness pair's primary); without, starts a MariaDBPair of its own.

Each statement runs on one connection that negotiated CLIENT_SESSION_TRACK
and DEPRECATE_EOF and enabled tracking the way tandem's backend setup does;
the file gets one line per vector: `name hexpayload`, where the payload is
the OK (or, for a query with rows, the 0xFE OK that ends it) without its
4-byte header. The raw-protocol client of tests/integration/raw_client.py is
used because no Python driver exposes session tracking."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from raw_client import RawClient  # noqa: E402

SETUP = ("SET SESSION session_track_system_variables='*', session_track_schema=ON, "
         "session_track_state_change=ON, session_track_transaction_info='CHARACTERISTICS'")

# (vector name, statement); all on one connection, in order.
STATEMENTS = [
    ("setup", SETUP),
    ("use_test", "USE test"),
    ("set_time_zone", "SET time_zone='+02:00'"),
    ("autocommit_off", "SET autocommit=0"),
    ("autocommit_on", "SET autocommit=1"),
    ("begin", "BEGIN"),
    ("insert_in_trx", "INSERT INTO demo.items(name) VALUES ('vector')"),
    ("commit", "COMMIT"),
    ("insert_autocommit", "INSERT INTO demo.items(name) VALUES ('vector2')"),
    ("set_user_var", "SET @x=1"),
    ("create_temp", "CREATE TEMPORARY TABLE test.t_vec(a int)"),
    ("lock_tables", "LOCK TABLES demo.items READ"),
    ("unlock_tables", "UNLOCK TABLES"),
    ("start_ro", "START TRANSACTION READ ONLY"),
    ("select_in_ro", "SELECT 1"),
    ("commit_ro", "COMMIT"),
    ("set_isolation", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
    ("set_names", "SET NAMES latin1"),
    ("set_session_track", "SET session_track_state_change=OFF"),
]


def main():
    pair = None
    if len(sys.argv) > 1:
        port = int(sys.argv[1])
    else:
        from harness import util
        from harness.pair import MariaDBPair
        pair = MariaDBPair(util.scratch_dir("record-track")).start()
        port = pair.primary.port
    try:
        c = RawClient(port, RawClient.TRACKING_CAPS)
        lines = ["# Recorded by tests/tools/record_session_track.py from "
                 "MariaDB; one OK payload per line: name hex"]
        for name, sql in STATEMENTS:
            payload = c.query_last(sql)
            lines.append(f"{name} {payload.hex()}")
        out = Path(__file__).resolve().parents[1] / "data" / "session_track.txt"
        out.parent.mkdir(exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print(f"wrote {out} ({len(STATEMENTS)} vectors)")
    finally:
        if pair:
            pair.stop()


if __name__ == "__main__":
    main()
