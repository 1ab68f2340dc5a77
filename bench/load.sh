#!/usr/bin/env bash
# Measures validate, list and plan of a generated 10,000-step playbook: wall time and peak
# RSS, median of 5 runs (GNU time). Usage: bench/load.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/relengine
[ -x "$bin" ] || { echo "build first: $bin not found" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 bench/gen_playbook.py --steps 10000 --phases 10 --shape mixed > "$tmp/big.yaml"
printf '| command (10,000 steps) | median wall s | min-max s | peak RSS MB |\n|---|---|---|---|\n'
for cmd in validate list plan "plan --json"; do
  times=(); rss=0
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$bin" $cmd "$tmp/big.yaml" >/dev/null
    read -r t m < "$tmp/t"; times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  printf '| `%s` | %s | %s-%s | %d |\n' "$cmd" "${sorted[2]}" "${sorted[0]}" "${sorted[4]}" $((rss / 1024))
done
