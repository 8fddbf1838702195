#!/usr/bin/env bash
# Runs every libFuzzer target in tests/fuzz for a bounded time and fails on
# any crash, leak, timeout or broken invariant.
#
#   tests/fuzz/run.sh [seconds-per-target] [build-dir]
#
# build-dir (default build-fuzz) must be configured with
#   CC=clang meson setup build-fuzz -Dfuzz=true
# The defaults (40 s per target, two targets at a time on a 2-core
# machine) take about 3.5 minutes for the ten targets. Each target starts from
# its committed seed corpus (tests/fuzz/corpus/<target>, which is only
# read) plus a scratch corpus for what it finds; a failing input is kept in
# $FUZZ_OUT (default build-dir/fuzz-out) and named in the output. Copy it
# into tests/fuzz/corpus/<target>/ as regress-<what> once the bug is fixed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SECS=${1:-40}
BUILD=${2:-build-fuzz}
OUT=${FUZZ_OUT:-$BUILD/fuzz-out}
JOBS=${FUZZ_JOBS:-$(($(nproc) < 2 ? 1 : 2))}

mapfile -t targets < <(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
rm -rf "$OUT"
mkdir -p "$OUT"

run_one() {
	local t=$1 bin=$BUILD/tests/fuzz/fuzz_$1
	mkdir -p "$OUT/$t/corpus" "$OUT/$t/artifacts"
	# -timeout: one input may take 10 s at most (a hang is a failure);
	# leaks are reported by LeakSanitizer (detect_leaks is on by default).
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/$t/artifacts/" "$OUT/$t/corpus" "tests/fuzz/corpus/$t" \
		>"$OUT/$t/log" 2>&1
}

for t in "${targets[@]}"; do
	if [[ ! -x $BUILD/tests/fuzz/fuzz_$t ]]; then
		echo "fuzz: $BUILD/tests/fuzz/fuzz_$t missing; build $BUILD with -Dfuzz=true" >&2
		exit 1
	fi
done

declare -A pid_of=()
failed=0
report() {
	local t=$1 rc=$2 execs
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t/log")
	if ((rc == 0)); then
		printf 'fuzz %-18s ok     %10s execs in %ss\n' "$t" "${execs:-?}" "$SECS"
	else
		failed=1
		printf 'fuzz %-18s FAILED (exit %d)\n' "$t" "$rc"
		grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$OUT/$t/log" | head -20 || true
		echo "  log: $OUT/$t/log"
	fi
}

# At most $JOBS targets at once; report each as it ends.
running=0
for t in "${targets[@]}"; do
	if ((running >= JOBS)); then
		wait -n -p done_pid && rc=0 || rc=$?
		for k in "${!pid_of[@]}"; do
			if [[ ${pid_of[$k]} == "$done_pid" ]]; then
				report "$k" "$rc"
				unset "pid_of[$k]"
			fi
		done
		running=$((running - 1))
	fi
	run_one "$t" &
	pid_of[$t]=$!
	running=$((running + 1))
done
for k in "${!pid_of[@]}"; do
	wait "${pid_of[$k]}" && rc=0 || rc=$?
	report "$k" "$rc"
done
exit "$failed"
