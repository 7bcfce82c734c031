#!/usr/bin/env bash
# Checks the documentation: markdownlint-cli2 (npm, scripts/docs-tools) on README.md and
# docs/, then scripts/check-docs.py (closed fences, relative links and anchors, the index,
# every YAML example through `r2gitops validate`). The configuration reference's freshness
# is a test (`cargo test --test config_reference`), run with the others.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-tools.sh >/dev/null

scripts/docs-tools/node_modules/.bin/markdownlint-cli2 README.md "docs/**/*.md"
cargo build -q --bin r2gitops
.venv/bin/python scripts/check-docs.py "${CARGO_TARGET_DIR:-$PWD/target}/debug/r2gitops"
