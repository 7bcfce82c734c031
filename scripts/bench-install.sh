#!/usr/bin/env bash
# One row of scripts/bench.sh: seconds from an empty tool cache to a printed plan through
# the GitHub Action's install path (action/install.sh, then action/plan.sh, against a
# loopback server holding the release archive and SHA256SUMS, and the emulator), against
# `cargo install --path .` from a cold target directory followed by the same plan. Prints
# `BENCH|what|figure|goal|met|command`. The archive comes from scripts/release.sh (built
# first if target/dist has none; that build is not timed). R2GITOPS_BENCH_QUICK=1 times
# the action's path only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(cargo metadata --format-version 1 --no-deps --offline |
  jq -r '.packages[] | select(.name == "r2gitops") | .version')
dist=$root/target/dist
name=$(bash scripts/release.sh --name x86_64-unknown-linux-gnu "$version")
[ -f "$dist/$name" ] || bash scripts/release.sh "$version" "$dist" >&2

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The release, where the action downloads it from.
srv=$tmp/srv/example-org/r2gitops/releases/download/v$version
mkdir -p "$srv"
cp "$dist/$name" "$dist/SHA256SUMS" "$srv/"
python3 -u -m http.server --bind 127.0.0.1 --directory "$tmp/srv" 0 > "$tmp/http.log" 2>&1 &
pids+=($!)
cargo build -q -p cf-emulator
"${CARGO_TARGET_DIR:-$root/target}/debug/cf-emulator" --listen 127.0.0.1:0 --print-env > "$tmp/emu.env" &
pids+=($!)
for _ in $(seq 100); do
  grep -q 'port [0-9]' "$tmp/http.log" 2>/dev/null && grep -q R2GITOPS_S3_ENDPOINTS "$tmp/emu.env" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$tmp/http.log" | head -1)
# shellcheck disable=SC1091
source "$tmp/emu.env"
export CLOUDFLARE_API_BASE_URL CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID R2GITOPS_S3_ENDPOINTS
cp examples/quickstart.yaml "$tmp/r2gitops.yaml"

now() { date +%s.%N; }
# A runner's step: its own output files, PATH as GITHUB_PATH left it.
step() {
  : > "$tmp/output"
  : > "$tmp/path"
  (cd "$tmp" && env GITHUB_OUTPUT="$tmp/output" GITHUB_PATH="$tmp/path" GITHUB_STEP_SUMMARY="$tmp/summary" \
    PATH="$(cat "$tmp/added" 2>/dev/null)${PATH}" bash "$@")
  sed 's/$/:/' "$tmp/path" >> "$tmp/added"
}
export RUNNER_OS=Linux RUNNER_ARCH=X64 RUNNER_TOOL_CACHE=$tmp/tool-cache RUNNER_TEMP=$tmp
export GITHUB_SERVER_URL=http://127.0.0.1:$port R2GITOPS_VERSION=$version R2GITOPS_ACTION_FILE=r2gitops.yaml
mkdir -p "$RUNNER_TOOL_CACHE"
t0=$(now)
step "$root/action/install.sh" > "$tmp/install.log"
step "$root/action/plan.sh" > "$tmp/plan.log"
t1=$(now)
grep -q 'Plan id: ' "$tmp/plan.log" || { cat "$tmp/install.log" "$tmp/plan.log" >&2; exit 1; }
calc() { awk "BEGIN { print ($*) }"; }
action=$(calc "$t1 - $t0")

plan_with() { # BINARY: the plan the action prints, with that binary
  (cd "$tmp" && "$1" reconcile --dry-run --skip-outputs --output markdown --file r2gitops.yaml > "$tmp/plan2.md")
}
cmd='bash scripts/bench-install.sh'
if [ -n "${R2GITOPS_BENCH_QUICK:-}" ]; then
  printf 'BENCH|empty tool cache to a printed plan: the action'"'"'s install path (loopback release)|%.1f s|< 5 s|%s|%s\n' \
    "$action" "$([ "$(calc "$action < 5")" = 1 ] && echo met || echo MISSED)" "$cmd"
  exit 0
fi
t2=$(now)
CARGO_TARGET_DIR=$tmp/cold-target cargo install --quiet --locked --path . --root "$tmp/cargo-root" >&2
plan_with "$tmp/cargo-root/bin/r2gitops"
t3=$(now)
cargo=$(calc "$t3 - $t2")
ratio=$(calc "int($cargo / $action)")
met=$([ "$(calc "$action < 5 && $ratio >= 50")" = 1 ] && echo met || echo MISSED)
# shellcheck disable=SC2016 # the backticks are Markdown's
printf 'BENCH|empty tool cache to a printed plan: the action'"'"'s install path (loopback release) against `cargo install --path .` from a cold target directory|%.1f s against %.0f s: %sx faster|< 5 s, >= 50x|%s|%s\n' \
  "$action" "$cargo" "$ratio" "$met" "$cmd"
[ "$met" = met ]
