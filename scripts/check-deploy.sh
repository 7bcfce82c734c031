#!/usr/bin/env bash
# Checks the deploy artifacts with the real validators: systemd-analyze verify (units),
# kubernetes-validate (manifests), actionlint (the GitHub Actions workflow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-tools.sh >/dev/null

cargo build -q --bin r2gitops
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify needs ExecStart's binary to exist: point the units at the one just built.
for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
  sed "s#/usr/local/bin/r2gitops#$PWD/target/debug/r2gitops#" "$unit" > "$tmp/$(basename "$unit")"
done
# systemd-analyze exits 0 on many unit-file mistakes; any message at all is a failure.
out=$(systemd-analyze verify "$tmp"/*.service "$tmp"/*.timer 2>&1 || true)
if [ -n "$out" ]; then
  echo "systemd-analyze verify: $out" >&2
  exit 1
fi
echo "systemd-analyze verify: ok ($(ls "$tmp" | wc -l) units)"

.venv/bin/kubernetes-validate --strict --quiet deploy/kubernetes/namespace.yaml \
  deploy/kubernetes/secret.yaml deploy/kubernetes/pvc.yaml deploy/kubernetes/deployment.yaml
echo "kubernetes-validate: ok"

.venv/bin/actionlint deploy/github-actions/*.yml
echo "actionlint: ok"
