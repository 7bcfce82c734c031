#!/usr/bin/env bash
# Builds the container image of a release archive:
#   deploy/container/build.sh ARCHIVE TAG [OCI_DIR]
# Lays out the build context of deploy/container/Dockerfile in a temporary directory (the
# archive's binary, this machine's CA bundle, a passwd and group naming the non-root user
# 65532, and data/secrets/), then builds with docker, or with buildah where there is no
# Docker engine. With OCI_DIR, buildah also writes the image there as an OCI layout
# (OCI_DIR:TAG), for umoci and runc.
set -euo pipefail
archive=${1:?usage: deploy/container/build.sh ARCHIVE TAG [OCI_DIR]}
tag=${2:?usage: deploy/container/build.sh ARCHIVE TAG [OCI_DIR]}
oci=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
ca=${R2GITOPS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] || { echo "build.sh: no CA bundle at $ca (install ca-certificates, or set R2GITOPS_CA_BUNDLE)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
tar -xzf "$archive" -C "$ctx"
base=$(basename "$archive" .tar.gz)
mv "$ctx/$base/r2gitops" "$ctx/r2gitops"
rm -rf "${ctx:?}/$base"
file -b "$ctx/r2gitops" | grep -q 'dynamically linked' && { echo "build.sh: $archive holds a dynamic binary; scratch has no libc" >&2; exit 1; }
cp "$ca" "$ctx/ca-certificates.crt"
echo 'nonroot:x:65532:65532:nonroot:/data:/sbin/nologin' > "$ctx/passwd"
echo 'nonroot:x:65532:' > "$ctx/group"
mkdir -p "$ctx/data/secrets"
chmod 0755 "$ctx/r2gitops" "$ctx/data" "$ctx/data/secrets"
chmod 0644 "$ctx/ca-certificates.crt" "$ctx/passwd" "$ctx/group"

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -f "$here/Dockerfile" -t "$tag" "$ctx"
  [ -z "$oci" ] || { echo "build.sh: OCI_DIR needs buildah" >&2; exit 1; }
else
  # No engine: buildah in a chroot, its storage in a temporary directory of its own.
  store=${R2GITOPS_BUILDAH_STORE:-$ctx.store}
  b=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
  "${b[@]}" bud --isolation chroot --layers=false -f "$here/Dockerfile" -t "$tag" "$ctx"
  if [ -n "$oci" ]; then
    "${b[@]}" push "$tag" "oci:$oci:${tag##*:}"
  fi
  [ -n "${R2GITOPS_BUILDAH_STORE:-}" ] || rm -rf "$store"
fi
echo "built $tag from $archive"
