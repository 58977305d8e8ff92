#!/usr/bin/env bash
# Runs a command beside a CPU hog: N busy processes (default: one per core) at the command's own
# priority, so the command gets about half the machine: `npm run test:busy` runs the whole
# suite this way, and .ci/run does when LAIFANG_CI_HOG is set.
#
#   scripts/ci-hog.sh npm test        # LAIFANG_CI_HOG=0 runs the command alone
#
# The hog is killed when the command ends, fails or is interrupted; its CPU seconds are printed,
# to show that it really competed.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 2; }
n="${LAIFANG_CI_HOG:-$(nproc)}"
pids=()

ticks() { # utime + stime of a process, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

stop_hog() {
  local total=0 p
  for p in "${pids[@]}"; do total=$((total + $(ticks "$p"))); done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "== CPU hog stopped: ${#pids[@]} busy processes used $((total / $(getconf CLK_TCK))) CPU seconds"
  fi
  pids=()
}
trap stop_hog EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq 1 "$n"); do
  nice -n 0 node -e 'for (;;) {}' &
  pids+=("$!")
done
echo "== CPU hog: $n busy processes (pids ${pids[*]:-none}) beside: $*"

"$@"
