#!/usr/bin/env bash
# Store add throughput on one 100 MiB file: agency's importer (cargo bench), sha256sum, and Node's
# ipfs-unixfs-importer with Kubo's parameters. Needs `npm ci` at the repo root.
# Usage: scripts/bench-store.sh [FILE]   (default: 100 MiB of /dev/urandom in a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
file=${1:-$tmp/100MiB.bin}
[ -f "$file" ] || head -c $((100 << 20)) /dev/urandom > "$file"
len=$(stat -c %s "$file")
cat "$file" > /dev/null # warm the page cache for every contender

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== sha256sum (5 runs)"
rates=()
for _ in 1 2 3 4 5; do
  start=$(date +%s.%N); sha256sum "$file" > /dev/null; end=$(date +%s.%N)
  rates+=("$(python3 -c "print(round($len / ($end - $start) / 1e6))")")
done
printf '%s\n' "${rates[@]}" | sort -n | python3 -c "import sys; r=[int(x) for x in sys.stdin]; print(f'best {r[-1]} MB/s, median {r[len(r)//2]} MB/s')"
echo "== node ipfs-unixfs-importer $(node -p "require('./node_modules/ipfs-unixfs-importer/package.json').version") (Kubo parameters, memory blockstore, 5 runs)"
echo -n "CIDv0: "; node crates/store/benches/unixfs-importer.mjs "$file" 5 v0
echo -n "CIDv1 raw leaves: "; node crates/store/benches/unixfs-importer.mjs "$file" 5 v1
echo "== agency importer (cargo bench)"
cargo bench -q -p agency-store --bench add -- "$file" 2>/dev/null
echo "== agency CLI, whole process (5 runs each): store add --only-hash, then store add to a fresh disk store"
cargo build -q --release -p agency-cli
for mode in only-hash disk; do
  rates=()
  for _ in 1 2 3 4 5; do
    flags=(-Q); [ $mode = only-hash ] && flags+=(--only-hash)
    rm -rf "$tmp/store"
    start=$(date +%s.%N); ./target/release/agency --store "$tmp/store" store add "${flags[@]}" "$file" > /dev/null; end=$(date +%s.%N)
    rates+=("$(python3 -c "print(round($len / ($end - $start) / 1e6))")")
  done
  printf '%s\n' "${rates[@]}" | sort -n | python3 -c "import sys; r=[int(x) for x in sys.stdin]; print(f'$mode: best {r[-1]} MB/s, median {r[len(r)//2]} MB/s')"
done
