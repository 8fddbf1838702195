#!/usr/bin/env bash
# Runs a representative subset of the integration tests with every tandem
# they start under valgrind memcheck, and fails on a definite leak or an
# invalid access (read/write of freed or unallocated memory, uninitialised
# values in a branch or a syscall) in any of them.
#
#   tests/valgrind/run.sh [BUILD_DIR] [TEST_NAME...]
#
# BUILD_DIR (default build/) must hold a non-sanitized tandem: valgrind and
# ASan do not mix. TEST_NAME is test_<name>.py in tests/integration/; the
# default subset covers login (all plugins, TLS), forwarding and session
# facts, bad input from clients and backends, the failed-login throttle,
# reload and shutdown. How it works: TANDEM_BIN points at a wrapper that
# execs valgrind on the real binary, so the harness starts tandem exactly as
# usual; each tandem writes its own report (vg.<pid>.log) under the work
# directory, and this script reads them all at the end.
#
# Not part of scripts/test: under valgrind tandem runs 20-50x slower, and the
# subset takes ~15 minutes on 2 cores, too much next to the ASan run. Run it
# before a release and after changes to memory ownership (see docs/security.md).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
BUILD=${1:-build}
shift || true
TESTS=("$@")
if ((${#TESTS[@]} == 0)); then
  TESTS=(auth tls clients_pymysql clients_facts local_infile bad_input_client
         bad_input_backend security_isolation reload shutdown)
fi

BIN=$REPO/$BUILD/tandem
if [[ ! -x $BIN ]]; then
  echo "valgrind: no tandem at $BIN (meson setup $BUILD && ninja -C $BUILD)" >&2
  exit 2
fi
if nm -D "$BIN" 2>/dev/null | grep -q __asan_init; then
  echo "valgrind: $BIN is built with ASan; use a plain build" >&2
  exit 2
fi

WORK=$(mktemp -d /tmp/tandem-valgrind.XXXXXX)
WRAPPER=$WORK/tandem
cat >"$WRAPPER" <<WRAP
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \\
  --errors-for-leak-kinds=definite --track-origins=yes --num-callers=30 \\
  --suppressions=$REPO/tests/valgrind/tandem.supp \\
  --log-file=$WORK/vg.%p.log "$BIN" "\$@"
WRAP
chmod +x "$WRAPPER"

export TANDEM_BIN=$WRAPPER
export TANDEM_TEST_TMP=$WORK/tmp
export PYTHONDONTWRITEBYTECODE=1
export TANDEM_AUTH_CLIENT=$REPO/$BUILD/tests/integration/auth_client
export TANDEM_CAPI_CLIENT=$REPO/$BUILD/tests/clients/capi_client
# tandem's own probes must not time out into a failover (harness/tandem.py)
export TANDEM_TEST_SLOW_TANDEM=1

failed_tests=()
for t in "${TESTS[@]}"; do
  echo "==> $t"
  if ! /usr/bin/python3 "$REPO/tests/integration/test_$t.py" >"$WORK/$t.out" 2>&1; then
    failed_tests+=("$t")
    tail -30 "$WORK/$t.out"
  fi
  echo "<== $t: $(tail -1 "$WORK/$t.out")"
done

# One report per tandem process: count its errors and definite leaks.
bad=0 reports=0
for log in "$WORK"/vg.*.log; do
  [[ -e $log ]] || continue
  reports=$((reports + 1))
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
  lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1 | tr -d ,)
  if [[ -z $errors ]]; then
    # a tandem killed by a test (kill -9) leaves no summary; not a finding
    continue
  fi
  if ((errors > 0)) || ((${lost:-0} > 0)); then
    bad=$((bad + 1))
    echo "!!! $log: $errors error(s), ${lost:-0} bytes definitely lost"
    sed -n '/^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|definitely lost\|Mismatched\|overlap\)/,/^==[0-9]*== $/p' \
      "$log" | head -80
  fi
done
echo "valgrind: $reports tandem process(es) checked, $bad with findings; reports in $WORK"
if ((${#failed_tests[@]} > 0)); then
  echo "valgrind: tests that failed under valgrind: ${failed_tests[*]}"
fi
((bad == 0)) || exit 1
