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
  sed "s#/usr/local/bin/r2gitops#${CARGO_TARGET_DIR:-$PWD/target}/debug/r2gitops#" "$unit" > "$tmp/$(basename "$unit")"
done
# systemd-analyze exits 0 on many unit-file mistakes; any message at all is a failure.
out=$(systemd-analyze verify "$tmp"/*.service "$tmp"/*.timer 2>&1 || true)
if [ -n "$out" ]; then
  echo "systemd-analyze verify: $out" >&2
  exit 1
fi
echo "systemd-analyze verify: ok ($(ls "$tmp" | wc -l) units)"

# Every manifest the kustomization lists, and no manifest it forgets.
manifests=$(sed -n 's/^  - \(.*\.yaml\)$/deploy\/kubernetes\/\1/p' deploy/kubernetes/kustomization.yaml)
for f in deploy/kubernetes/*.yaml; do
  [ "$f" = deploy/kubernetes/kustomization.yaml ] && continue
  grep -qx "$f" <<<"$manifests" || { echo "$f is not in kustomization.yaml" >&2; exit 1; }
done
# shellcheck disable=SC2086
.venv/bin/kubernetes-validate --strict --quiet $manifests
echo "kubernetes-validate: ok ($(wc -w <<<"$manifests") manifests)"

.venv/bin/actionlint deploy/github-actions/*.yml
echo "actionlint: ok"
