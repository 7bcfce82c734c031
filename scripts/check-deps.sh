#!/usr/bin/env bash
# The dependency policy in deny.toml: banned crates, licenses, and where crates come from.
# Installs cargo-deny by package name (pinned; skipped when that version is already there).
# The advisory check is left out: it needs the RustSec database, which CI cannot download.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $version" ]; then
  cargo install --locked "cargo-deny@$version"
fi
cargo deny --locked check --hide-inclusion-graph bans licenses sources
