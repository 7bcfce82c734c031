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

# Every manifest the kustomization lists, and no manifest it forgets, except the Secret
# template: listed, `kubectl apply -k` would overwrite the real API token with REPLACE_ME.
manifests=$(sed -n 's/^  - \(.*\.yaml\)$/deploy\/kubernetes\/\1/p' deploy/kubernetes/kustomization.yaml)
template=deploy/kubernetes/secret.yaml
if grep -qx "$template" <<<"$manifests"; then
  echo "$template is listed in kustomization.yaml: kubectl apply -k would overwrite the real Secret with its placeholder" >&2
  exit 1
fi
for f in deploy/kubernetes/*.yaml; do
  case "$f" in deploy/kubernetes/kustomization.yaml | "$template") continue ;; esac
  grep -qx "$f" <<<"$manifests" || { echo "$f is not in kustomization.yaml" >&2; exit 1; }
done
# No manifest kustomize would apply holds a placeholder value.
# shellcheck disable=SC2086
if grep -l 'REPLACE_ME' $manifests; then
  echo "a manifest in kustomization.yaml holds a placeholder (above)" >&2
  exit 1
fi
# shellcheck disable=SC2086
.venv/bin/kubernetes-validate --strict --quiet $manifests "$template"
echo "kubernetes-validate: ok ($(wc -w <<<"$manifests") manifests and the Secret template)"

# The container: a build context without target/, .venv or node_modules, and a default
# command that pins the output directory to the volume (without it every new git-sync
# worktree would make every output "missing" and roll every token).
for ignored in target .venv node_modules .git; do
  grep -qE "^(\*\*/)?/?${ignored//./\\.}/?$" .dockerignore || { echo ".dockerignore does not exclude $ignored" >&2; exit 1; }
done
cmd=$(grep '^CMD ' deploy/container/Dockerfile)
grep -q -- '"--output-dir' <<<"$cmd" || { echo "the Dockerfile's CMD has no --output-dir: $cmd" >&2; exit 1; }
grep -q '^VOLUME \["/data"\]' deploy/container/Dockerfile || { echo "the Dockerfile declares no /data volume" >&2; exit 1; }
echo "container: ok (.dockerignore, CMD pins --output-dir on the /data volume)"

.venv/bin/actionlint deploy/github-actions/*.yml
echo "actionlint: ok"
