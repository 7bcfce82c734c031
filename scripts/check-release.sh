#!/usr/bin/env bash
# CI proves the release artifact, as a user gets it:
#   scripts/check-release.sh [OUT_DIR]      (default target/dist)
# 1. builds it: scripts/release.sh VERSION OUT_DIR (the static x86_64 Linux archive), timed;
# 2. SHA256SUMS verifies it; `file` and `ldd` show no dynamic dependency;
# 3. packing the same binary again gives the same bytes (R2GITOPS_RELEASE_REPRO=1: a second
#    build from a copy of the sources in another directory, with another target directory,
#    gives the same bytes too; that doubles the build time);
# 4. unpacked into an empty root (chroot): --version and validate; reconcile --dry-run
#    against the emulator on loopback, reached by a name from /etc/hosts and by one only a
#    DNS server knows (static glibc resolves through NSS: this is where that would break);
# 5. the container image of deploy/container/Dockerfile, built from the archive with buildah
#    (no Docker engine here), runs `validate` under runc as the non-root user;
# 6. the GitHub Action's tests (tests/github_action/) install this archive.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need=()
for tool in file buildah umoci runc jq; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

version=$(cargo metadata --format-version 1 --no-deps --offline |
  jq -r '.packages[] | select(.name == "r2gitops") | .version')
out=${1:-$root/target/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
emu_pid='' dns_pid=''
cleanup() {
  for pid in $emu_pid $dns_pid; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-release: $*" >&2; exit 1; }

# One date for every archive of this run, even if HEAD moves meanwhile.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
start=$(date +%s)
bash scripts/release.sh "$version" "$out"
seconds=$(($(date +%s) - start))
name=$(bash scripts/release.sh --name x86_64-unknown-linux-gnu "$version")
archive=$out/$name
echo "release build: ${seconds} s; $name: $(wc -c < "$archive") bytes"

# 2. The sums, and no dynamic dependency.
(cd "$out" && sha256sum --check --strict SHA256SUMS)
base=${name%.tar.gz}
mkdir -p "$tmp/unpacked"
tar -xzf "$archive" -C "$tmp/unpacked"
bin=$tmp/unpacked/$base/r2gitops
kind=$(file -b "$bin")
case "$kind" in
  *"static-pie linked"* | *"statically linked"*) ;;
  *) fail "$name: the binary is not static: $kind" ;;
esac
ldd_out=$(ldd "$bin" 2>&1 || true)
case "$ldd_out" in
  *"statically linked"* | *"not a dynamic executable"*) ;;
  *) fail "$name: ldd lists dependencies: $ldd_out" ;;
esac
listing=$(tar -tzf "$archive")
for f in r2gitops LICENSE README.md completions/r2gitops.bash completions/_r2gitops \
  completions/r2gitops.fish man/r2gitops.1 man/r2gitops-reconcile.1; do
  grep -qx "$base/$f" <<<"$listing" || fail "$name has no $f"
done
echo "artifact: $kind; ldd: $(echo "$ldd_out" | tr -d '\t'); $(wc -l <<<"$listing") entries"

# 3. Reproducible.
bash scripts/release.sh --binary "$bin" "$version" "$tmp/again" >/dev/null
cmp "$archive" "$tmp/again/$name" || fail "packing the same binary twice gave different archives"
if [ -n "${R2GITOPS_RELEASE_REPRO:-}" ]; then
  [ -z "$(git status --porcelain --untracked-files=no)" ] || fail "R2GITOPS_RELEASE_REPRO compares a build of HEAD: commit first"
  mkdir -p "$tmp/src"
  git archive HEAD | tar -x -C "$tmp/src"
  (cd "$tmp/src" && CARGO_TARGET_DIR=$tmp/target bash scripts/release.sh "$version" "$tmp/second" >/dev/null)
  cmp "$archive" "$tmp/second/$name" ||
    fail "a second build in another directory gave different bytes ($(sha256sum "$tmp/second/$name" | cut -d' ' -f1))"
  echo "reproducible: a second build from $tmp/src gave the same $name"
else
  echo "reproducible: the same binary packs to the same bytes (R2GITOPS_RELEASE_REPRO=1 rebuilds from a second checkout too)"
fi

# 4. An empty root.
chroot_root=$tmp/root
mkdir -p "$chroot_root"
tar -xzf "$archive" -C "$chroot_root"
in_root() { chroot "$chroot_root" "/$base/r2gitops" "$@"; }
[ "$(in_root --version)" = "r2gitops $version" ] || fail "--version in the empty root"
cp examples/quickstart.yaml "$chroot_root/r2gitops.yaml"
in_root validate --file /r2gitops.yaml
# The emulator, on loopback.
cargo build -q -p cf-emulator
cf=${CARGO_TARGET_DIR:-$root/target}/debug/cf-emulator
"$cf" --listen 127.0.0.1:0 --print-env > "$tmp/emu.env" &
emu_pid=$!
for _ in $(seq 100); do grep -q R2GITOPS_S3_ENDPOINTS "$tmp/emu.env" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1091
source "$tmp/emu.env"
port=${CLOUDFLARE_API_BASE_URL#http://127.0.0.1:}
port=${port%%/*}
# Without CA certificates there is no TLS client to build, and it says so.
if out_no_ca=$(CLOUDFLARE_API_TOKEN=$CLOUDFLARE_API_TOKEN in_root reconcile --dry-run --file /r2gitops.yaml 2>&1); then
  fail "reconcile ran without CA certificates"
fi
grep -q '^error: failed to build the HTTP client: .*No CA certificates' <<<"$out_no_ca" ||
  fail "no CA certificates, and the error does not say so: $out_no_ca"
# What a container runtime puts there: CA certificates (the image's), hosts, resolv.conf.
mkdir -p "$chroot_root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$chroot_root/etc/ssl/certs/"
echo "127.0.0.1 cf-hosts.test" > "$chroot_root/etc/hosts"
# A DNS server on loopback that knows one name (A 127.0.0.1), so that the lookup goes
# through glibc's resolver (nss_dns) and not the hosts file.
dns_ip=127.0.0.153
echo "nameserver $dns_ip" > "$chroot_root/etc/resolv.conf"
python3 - "$dns_ip" "$tmp/dns.log" <<'PY' &
import socket, struct, sys, time
ip, log = sys.argv[1], open(sys.argv[2], "w", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, 53))
s.settimeout(1)
deadline = time.time() + 120
while time.time() < deadline:
    try:
        q, peer = s.recvfrom(512)
    except socket.timeout:
        continue
    tid, flags = struct.unpack(">HH", q[:4])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1 : i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1 : i + 3])[0]
    question = q[12 : i + 5]
    name = ".".join(labels).lower()
    log.write(f"{name} {qtype}\n")
    known = name == "cf-dns.test"
    answers = b""
    if known and qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    rcode = 0 if known else 3
    header = struct.pack(">HHHHHH", tid, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(header + question + answers, peer)
PY
dns_pid=$!
sleep 0.5
for host in cf-hosts.test cf-dns.test; do
  plan=$(in_root reconcile --dry-run --file /r2gitops.yaml \
    --api-url "http://$host:$port/client/v4" --insecure-http 2>/dev/null) ||
    fail "reconcile --dry-run in the empty root, through $host"
  grep -q '^  + create bucket ' <<<"$plan" || fail "no plan through $host: $plan"
done
grep -q '^cf-dns.test 1$' "$tmp/dns.log" || fail "cf-dns.test was not asked of the DNS server"
echo "empty root: --version, validate, and reconcile --dry-run through /etc/hosts and through DNS"

# 5. The container image, run with runc.
store=$tmp/buildah
R2GITOPS_BUILDAH_STORE=$store bash deploy/container/build.sh "$archive" "localhost/r2gitops:$version" "$tmp/oci" \
  > "$tmp/image.log" 2>&1 || { cat "$tmp/image.log" >&2; fail "the image did not build"; }
umoci unpack --image "$tmp/oci:$version" "$tmp/bundle" >/dev/null
cfg=$tmp/bundle/config.json
[ "$(jq -c '[.process.user.uid, .process.user.gid]' "$cfg")" = '[65532,65532]' ] || fail "the image does not run as 65532:65532"
[ ! -e "$tmp/bundle/rootfs/bin/sh" ] || fail "the image has a shell"
[ -s "$tmp/bundle/rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "the image has no CA certificates"
[ "$(stat -c %u "$tmp/bundle/rootfs/data/secrets")" = 65532 ] || fail "/data/secrets is not the user's"
default=$(jq -c '.process.args' "$cfg")
grep -q '"--output-dir","/data/secrets"' <<<"$default" || fail "the image's command does not pin --output-dir: $default"
mkdir -p "$tmp/work"
cp examples/quickstart.yaml "$tmp/work/r2gitops.yaml"
jq --arg src "$tmp/work" '.process.terminal = false
  | .process.args = ["/usr/local/bin/r2gitops", "validate", "--file", "/work/r2gitops.yaml"]
  | .mounts += [{"destination": "/work", "type": "bind", "source": $src, "options": ["rbind", "ro"]}]' \
  "$cfg" > "$tmp/config.json"
mv "$tmp/config.json" "$cfg"
container=r2gitops-check-$$
ran=$(runc run --bundle "$tmp/bundle" "$container" 2>&1) || fail "validate in the container: $ran"
runc delete --force "$container" >/dev/null 2>&1 || true
grep -q '^ok: ' <<<"$ran" || fail "validate in the container said: $ran"
echo "container: built from $name with buildah, validate ran under runc as 65532 ($(du -sh "$tmp/oci" | cut -f1) OCI layout)"

# 6. The action installs this very archive.
R2GITOPS_TEST_RELEASE_DIR=$out cargo test -q --test github_action
echo "release: ok"
