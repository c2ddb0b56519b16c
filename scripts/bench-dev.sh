#!/usr/bin/env bash
# `agency dev`: time from start to the first result, and memory once idle (design.md §6 goals:
# first result ≤ 5 s, idle memory ≤ 100 MB). Release build; the data dir is a fresh temp dir.
# Usage: scripts/bench-dev.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build -q --release -p agency-cli
bin=$PWD/target/release/agency
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${dev:-}" ] && kill "$dev" 2>/dev/null; true' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

echo "== start to first result: agency dev --ephemeral --exec 'agency job post sudoku --wait' ($runs runs, r = 1 and r = 3)"
for r in 1 3; do
  times=()
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    AGENCY_DATA_DIR=$tmp "$bin" -q dev --ephemeral --port-base 0 --exec \
      "agency -q job post examples/sudoku/solve.js examples/sudoku/puzzle.json --replicas $r --wait" > /dev/null
    end=$(date +%s.%N)
    times+=("$(python3 -c "print(round(($end - $start) * 1000))")")
  done
  printf '%s\n' "${times[@]}" | sort -n | python3 -c "import sys; t=[int(x) for x in sys.stdin]; print(f'r = $r: median {t[len(t)//2]} ms, worst {t[-1]} ms (whole process: start, deploy, stake, post, run, verify, stop)')"
done

echo "== idle memory: agency dev (3 agents) 10 s after start, and after 20 jobs"
rss() { # resident memory of the process and its children (the warm job processes), in MB
  local total=0
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status")))
  done
  echo "$((total / 1024)) MB (agency $(( $(awk '/VmRSS/ {print $2}' "/proc/$1/status") / 1024 )) MB + $(pgrep -P "$1" | wc -l) job processes)"
}
AGENCY_DATA_DIR=$tmp "$bin" -q --json dev --port-base 0 --data-dir "$tmp/dev" > "$tmp/dev.json" &
dev=$!
sleep 10
echo "idle: $(rss $dev)"
url=$(python3 -c "import json; print(json.load(open('$tmp/dev.json'))['rpc_url'])")
for i in $(seq 20); do
  echo "{\"puzzle\": \"530070000600195000098000060800060003400803001700020006060000280000419005000080079\", \"n\": $i}" > "$tmp/in.json"
  AGENCY_DATA_DIR=$tmp/dev "$bin" -q --rpc-url "$url" job post examples/sudoku/solve.js "$tmp/in.json" --wait > /dev/null
done
sleep 5
echo "after 20 jobs, idle again: $(rss $dev)"
