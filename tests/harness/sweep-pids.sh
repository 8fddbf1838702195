#!/usr/bin/env bash
# Stops processes that a test run's harness started and left behind (a test
# killed by a timeout cannot clean up), using only the pid registry the
# harness writes to $TANDEM_TEST_PIDS_DIR (procs.py): one file per pid, whose
# first line is the process start time. A pid is signalled only if it still
# names the same process (same start time) and that process is a mariadbd,
# haproxy or tandem; anything else is left alone. Usage: sweep-pids.sh DIR
set -uo pipefail

dir=${1:?usage: sweep-pids.sh PIDS_DIR}
[[ -d $dir ]] || exit 0

# Start time (field 22) of /proc/PID/stat, failing for a gone or zombie
# process; fields are counted after the ")" that ends the command name,
# which may itself contain spaces.
start_time() {
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  read -ra fields <<<"$rest"
  [[ ${fields[0]} != Z ]] || return 1
  echo "${fields[19]}"
}

# True if argv[0] or argv[1] (an interpreter's script) is one of ours.
is_ours() {
  local arg base n=0
  while IFS= read -r -d '' arg && ((n++ < 2)); do
    base=${arg##*/}
    case $base in mariadbd | haproxy | *tandem*) return 0 ;; esac
  done <"/proc/$1/cmdline"
  return 1
}

swept=()
for f in "$dir"/*; do
  [[ -f $f ]] || continue
  pid=${f##*/}
  [[ $pid =~ ^[0-9]+$ ]] || continue
  want=$(head -n1 "$f")
  have=$(start_time "$pid") || { rm -f "$f"; continue; }   # already gone
  if [[ -n $want && $want == "$have" ]] && is_ours "$pid"; then
    echo "sweep: stopping leftover pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    swept+=("$pid:$have")
  fi
  rm -f "$f"
done

# Give them up to 10 s to shut down cleanly, then SIGKILL what remains.
# Re-check the start time each time: the pid may be reused once it exits.
for entry in "${swept[@]}"; do
  pid=${entry%%:*} started=${entry#*:}
  for _ in $(seq 100); do
    [[ $(start_time "$pid" 2>/dev/null) == "$started" ]] || continue 2
    sleep 0.1
  done
  if [[ $(start_time "$pid" 2>/dev/null) == "$started" ]]; then
    echo "sweep: pid $pid ignored SIGTERM; SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
done
exit 0
