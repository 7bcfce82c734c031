#!/usr/bin/env bash
# Checks the deploy artifacts with the real validators: systemd-analyze verify (units),
# kubernetes-validate (manifests), actionlint and action-validator (the GitHub Action and
# the workflows), shellcheck (their scripts).
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

# One user for both services, and a checkout the daemon only reads. Two users on one state
# directory fight over its ownership (systemd chowns a StateDirectory= to the unit's user),
# and a checkout inside the daemon's writable state directory is one it could rewrite.
svc() { # the values of KEY in the [Service] section of UNIT, one a line
  awk -v key="$2" '
    /^\[/ { in_service = ($0 == "[Service]") }
    in_service && index($0, key "=") == 1 { print substr($0, length(key) + 2) }
  ' "deploy/systemd/$1"
}
fail() { echo "deploy/systemd: $*" >&2; exit 1; }
daemon=r2gitops.service pull=r2gitops-git-pull.service
for unit in $daemon $pull; do
  [ -z "$(svc $unit DynamicUser)" ] || fail "$unit: DynamicUser= gives each unit a user of its own"
done
user=$(svc $daemon User)
[ -n "$user" ] || fail "$daemon: no User="
[ "$(svc $pull User)" = "$user" ] || fail "$pull runs as '$(svc $pull User)', $daemon as '$user'"
[ "$(svc $pull Group)" = "$(svc $daemon Group)" ] || fail "the two units' Group= differ"
# The sysusers file creates exactly that user, with no home a committer could write to.
mkdir -p "$tmp/root/etc"
: > "$tmp/root/etc/passwd"; : > "$tmp/root/etc/group"
systemd-sysusers --root="$tmp/root" "$PWD/deploy/systemd/r2gitops.sysusers" >"$tmp/sysusers.log" 2>&1 ||
  fail "systemd-sysusers refuses r2gitops.sysusers: $(cat "$tmp/sysusers.log")"
home=$(awk -F: -v u="$user" '$1 == u { print $6 }' "$tmp/root/etc/passwd")
[ -n "$home" ] || fail "r2gitops.sysusers does not create the user '$user'"
[ "$home" = / ] || fail "the user '$user' has the home $home (git reads ~/.gitconfig)"
# The checkout: where the env file's R2GITOPS_FILE lies, and what the pull unit writes.
file=$(sed -n 's/^R2GITOPS_FILE=//p' deploy/systemd/r2gitops.env)
checkout=/var/lib/$(svc $pull StateDirectory)
[ "$(svc $pull WorkingDirectory)" = "$checkout" ] || fail "$pull does not pull in its StateDirectory $checkout"
case "$file" in "$checkout"/*) ;; *) fail "R2GITOPS_FILE $file is not in the checkout $checkout" ;; esac
state=/var/lib/$(svc $daemon StateDirectory)
# The policy (set or commented out) is the operator's: outside what the pull writes.
policy=$(sed -n 's/^#\{0,1\}R2GITOPS_POLICY=//p' deploy/systemd/r2gitops.env)
[ -n "$policy" ] || fail "r2gitops.env does not show where the policy goes (R2GITOPS_POLICY)"
case "$policy" in "$checkout"/* | "$state"/*) fail "the policy $policy is where a commit or the daemon could write it" ;; esac
case "$checkout/" in "$state"/*) fail "the checkout $checkout is inside the daemon's writable $state" ;; esac
[ "$(svc $daemon ProtectSystem)" = strict ] || fail "$daemon: ProtectSystem=strict keeps the rest read-only"
svc $daemon ReadOnlyPaths | tr ' ' '\n' | grep -qx "$checkout" || fail "$daemon does not list $checkout in ReadOnlyPaths="
svc $daemon ReadWritePaths | grep -q . && fail "$daemon: ReadWritePaths= would reopen what ProtectSystem=strict closes"
svc $pull InaccessiblePaths | tr ' ' '\n' | sed 's/^-//' | grep -qx "$state" || fail "$pull can see the daemon's outputs in $state"
echo "systemd units: one user ($user); checkout $checkout read-only to the daemon, state $state hidden from the pull"

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

# The Flux example (docs/kubernetes.md): r2gitops validates its desired state,
# kubernetes-validate its core manifests (Flux's own kinds have no schema offline), and the
# names that tie it together agree: the branch, the decryption Secret, the path Flux applies,
# and the Secret the Deployment reads.
flux=examples/flux
"${CARGO_TARGET_DIR:-$PWD/target}/debug/r2gitops" validate -f "$flux/r2gitops.yaml" >/dev/null
.venv/bin/kubernetes-validate --strict --quiet "$flux"/clusters/prod/media/*.yaml "$flux/clusters/prod/flux-system/sops-age.secret.yaml"
.venv/bin/python - "$flux" <<'PY'
import pathlib, sys, yaml
root = pathlib.Path(sys.argv[1])
docs = [d for f in sorted(root.glob("clusters/**/*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
def one(kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]
desired = yaml.safe_load((root / "r2gitops.yaml").read_text())
branch = desired["settings"]["publish"]["branch"]
repo = one("GitRepository", "r2gitops-outputs")
assert repo["spec"]["ref"]["branch"] == branch, "the GitRepository watches another branch"
ks = one("Kustomization", "r2gitops-outputs")
assert ks["spec"]["sourceRef"]["name"] == "r2gitops-outputs"
assert ks["spec"]["decryption"]["provider"] == "sops", "no SOPS decryption"
one("Secret", ks["spec"]["decryption"]["secretRef"]["name"])
path = ks["spec"]["path"].removeprefix("./").rstrip("/") + "/"
deployments = [d for d in docs if d["kind"] == "Deployment"]
for t in desired["tokens"]:
    out = t["output"]
    if out["format"] != "kubernetes-sops":
        continue
    assert out["file"].startswith(path), f"{out['file']} is outside the path Flux applies ({path})"
    k = out["kubernetes"]
    readers = [d for d in deployments if d["metadata"]["namespace"] == k["namespace"] and any(
        e.get("secretRef", {}).get("name") == k.get("name", "r2-" + t["name"])
        for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("envFrom", []))]
    assert readers, f"no Deployment in {k['namespace']} reads the Secret of {t['name']}"
print(f"flux example: ok ({len(docs)} manifests, branch {branch})")
PY

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

# The workflows (this repository's and the copyable ones) and, through the self-test's
# `uses: ./`, action.yml's inputs; shellcheck on every run: script (actionlint runs it).
.venv/bin/actionlint .github/workflows/*.yml deploy/github-actions/*.yml
echo "actionlint: ok"
# action-validator (GitHub's schemas) on action.yml and the workflows whose keys its schema
# knows; release.yml's `attestations: write` permission is newer than its schema.
for f in action.yml .github/workflows/action-selftest.yml deploy/github-actions/*.yml; do
  deploy/node_modules/.bin/action-validator "$f" >/dev/null || { deploy/node_modules/.bin/action-validator "$f"; exit 1; }
done
echo "action-validator: ok"
shellcheck action/*.sh scripts/release.sh scripts/check-release.sh scripts/bench-install.sh deploy/container/build.sh
echo "shellcheck: ok (the action's steps, the release and image scripts)"

# The action's inputs and outputs, by their documented names; steps take inputs only
# through env: (never pasted into a script), and no step is skipped by an `if:` the
# tests could not see.
action_keys() { .venv/bin/python -c 'import json,sys,yaml; a=yaml.safe_load(open("action.yml")); print(" ".join(sorted(a[sys.argv[1]])))' "$1"; }
[ "$(action_keys inputs)" = "command comment file github-token policy policy-in-repo skip-no-changes version" ] || { echo "action.yml inputs: $(action_keys inputs)" >&2; exit 1; }
[ "$(action_keys outputs)" = "exitcode has-changes plan-json" ] || { echo "action.yml outputs: $(action_keys outputs)" >&2; exit 1; }
if grep -nE '^\s+run:.*\$\{\{' action.yml || grep -nE '^\s+if:' action.yml; then
  echo "action.yml: an expression in a run: script, or a step behind if: (above)" >&2
  exit 1
fi
echo "action.yml: inputs and outputs as documented"
