#!/usr/bin/env bash
# Step 1 of action.yml: r2gitops $R2GITOPS_VERSION from its GitHub release, for this runner's
# OS and architecture, verified against the release's SHA256SUMS, kept in the runner's tool
# cache ($RUNNER_TOOL_CACHE/r2gitops/VERSION/ARCH, the layout of actions/tool-cache) and put
# on PATH. A cached copy is used as it is: it was verified when it was stored.
#
# Runner variables it reads: RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP,
# GITHUB_SERVER_URL (where releases are downloaded), GITHUB_PATH, GITHUB_OUTPUT.
# R2GITOPS_REPOSITORY names the repository that publishes the releases (a fork's own).
set -euo pipefail

fail() { echo "::error title=r2gitops install::$*"; exit 1; }
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }

version=${R2GITOPS_VERSION:-}
version=${version#v}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  fail "version '${R2GITOPS_VERSION:-}' is not a release such as 0.1.0: pin one (never latest), so that every run installs the same bytes"
repository=${R2GITOPS_REPOSITORY:-example-org/r2gitops}
server=${GITHUB_SERVER_URL:-https://github.com}

# The archives that run here, best first: the musl build, else the static glibc one
# (scripts/release.sh names both). Both are static: any Linux distribution runs them.
case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) arch=x64 targets="x86_64-unknown-linux-musl x86_64-unknown-linux-gnu-static" ;;
  Linux/ARM64) arch=arm64 targets="aarch64-unknown-linux-musl" ;;
  macOS/ARM64) arch=arm64 targets="aarch64-apple-darwin" ;;
  macOS/X64) arch=x64 targets="x86_64-apple-darwin" ;;
  *) fail "no r2gitops release for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?} (Linux and macOS, X64 and ARM64)" ;;
esac

cache=${RUNNER_TOOL_CACHE:?RUNNER_TOOL_CACHE is not set}/r2gitops/$version/$arch
if [ -f "$cache.complete" ] && [ -x "$cache/r2gitops" ]; then
  echo "r2gitops $version from the tool cache ($cache)"
else
  tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/r2gitops-install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  url=$server/$repository/releases/download/v$version
  get() { curl --fail --silent --show-error --location --retry 3 --proto '=https,http' -o "$2" "$url/$1"; }
  get SHA256SUMS "$tmp/SHA256SUMS" || fail "cannot download $url/SHA256SUMS"
  archive='' want=''
  for t in $targets; do
    name=r2gitops-$version-$t.tar.gz
    want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$tmp/SHA256SUMS")
    if [ -n "$want" ]; then archive=$name; break; fi
  done
  [ -n "$archive" ] || fail "the release v$version lists no archive for $RUNNER_OS/$RUNNER_ARCH (looked for: $targets)"
  [[ $want =~ ^[0-9a-f]{64}$ ]] || fail "SHA256SUMS gives '$want' for $archive, which is no SHA-256"
  echo "Downloading $url/$archive"
  get "$archive" "$tmp/$archive" || fail "cannot download $url/$archive"
  have=$(sha256 "$tmp/$archive")
  [ "$have" = "$want" ] ||
    fail "$archive does not match SHA256SUMS: its SHA-256 is $have, SHA256SUMS says $want; nothing was installed"
  echo "$archive: SHA-256 $have, as SHA256SUMS says"
  tar -xzf "$tmp/$archive" -C "$tmp"
  rm -rf "$cache"
  mkdir -p "$cache"
  cp "$tmp/${archive%.tar.gz}/r2gitops" "$cache/r2gitops"
  chmod 0755 "$cache/r2gitops"
  : > "$cache.complete"
fi
shown=$("$cache/r2gitops" --version)
[ "$shown" = "r2gitops $version" ] || fail "$cache/r2gitops says '$shown', not 'r2gitops $version'"
echo "$shown"
echo "$cache" >> "$GITHUB_PATH"
echo "path=$cache/r2gitops" >> "$GITHUB_OUTPUT"
