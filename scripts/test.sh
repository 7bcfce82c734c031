#!/usr/bin/env bash
# README's test command: install the real clients the tests drive, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-tools.sh
cargo test --workspace
