#!/usr/bin/env bash
# Release archives, reproducibly:
#   scripts/release.sh [--target TRIPLE] [--binary PATH] VERSION [OUT_DIR]
#   scripts/release.sh --name TRIPLE VERSION        (prints the archive's name, builds nothing)
#
# Builds r2gitops for TRIPLE (default x86_64-unknown-linux-gnu) with the `dist` profile and
# packs OUT_DIR/r2gitops-VERSION-NAME.tar.gz (OUT_DIR defaults to target/dist): the binary,
# LICENSE, README.md, shell completions and man pages, under one directory of the same name.
# Then it rewrites OUT_DIR/SHA256SUMS over every archive of VERSION in OUT_DIR.
#
# A Linux glibc target is linked statically (`-C target-feature=+crt-static`: a static-pie
# with glibc inside, no dynamic dependency) and its NAME is TRIPLE-static, so that nobody
# takes it for a dynamic gnu build. That is what this machine builds robustly with the pinned
# 1.95 toolchain: rustup cannot add the musl target here, and a musl build would need a
# nightly-only -Zbuild-std on another compiler. The release workflow, where `rustup target
# add` works, builds the musl targets with this same script.
#
# --binary PATH packs a binary built elsewhere instead of building one (the tests pack the
# test build; a workflow may cross-build). --name prints the name a target's archive gets
# (the binstall test and the GitHub Action expand the same names).
#
# Reproducible: the same sources give the same bytes. Paths are remapped out of the binary
# (checkout, cargo home, target directory), entries are sorted, owned by 0:0 with fixed
# modes, dated SOURCE_DATE_EPOCH (default: the last commit's time), and gzip stores no name
# or time.
set -euo pipefail

target=x86_64-unknown-linux-gnu
binary=
name_only=
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=${2:?--target needs a triple}; shift 2 ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --name) name_only=1; target=${2:?--name needs a triple}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "release.sh: unknown option $1" >&2; exit 64 ;;
    *) break ;;
  esac
done
version=${1:?usage: scripts/release.sh [--target TRIPLE] [--binary PATH] VERSION [OUT_DIR]}
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release.sh: '$version' is not a version such as 0.1.0" >&2
  exit 64
fi

# The archive's name for a target: glibc Linux builds are static, and say so.
case "$target" in
  *-unknown-linux-gnu) suffix=$target-static ;;
  *) suffix=$target ;;
esac
base=r2gitops-$version-$suffix
if [ -n "$name_only" ]; then
  echo "$base.tar.gz"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root/target/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"

want=$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "r2gitops"))')
if [ "$version" != "$want" ]; then
  echo "release.sh: Cargo.toml says version $want, not $version" >&2
  exit 1
fi

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}

if [ -z "$binary" ]; then
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  flags=(
    "--remap-path-prefix=$root=/r2gitops"
    "--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
    "--remap-path-prefix=$target_dir=/target"
  )
  case "$target" in
    *-linux-gnu)
      # getrandom finds glibc's getrandom() through dlsym, which a static binary has not,
      # and falls back to /dev/random and /dev/urandom: absent from an empty root. This
      # calls the function (the getrandom syscall) directly.
      flags+=("-C" "target-feature=+crt-static" "--cfg" 'getrandom_backend="linux_getrandom"')
      ;;
  esac
  # Flags given with --target reach only the target's code, never build scripts or proc
  # macros (a static proc macro cannot be loaded).
  CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f'; echo "${flags[*]}") RUSTFLAGS='' \
    cargo build --locked --profile dist --target "$target" --bin r2gitops
  binary=$target_dir/$target/dist/r2gitops
  case "$target" in
    *-linux-gnu | *-linux-musl)
      # No dynamic dependency at all: not the loader, not libc, not libgcc_s.
      if file -b "$binary" | grep -q 'dynamically linked'; then
        echo "release.sh: $binary is dynamically linked: $(file -b "$binary")" >&2
        exit 1
      fi
      ;;
  esac
fi
[ -x "$binary" ] || { echo "release.sh: no binary at $binary" >&2; exit 1; }
shown=$("$binary" --version)
if [ "$shown" != "r2gitops $version" ]; then
  echo "release.sh: $binary says '$shown', not 'r2gitops $version'" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$base
mkdir -p "$dir/completions" "$dir/man"
cp "$binary" "$dir/r2gitops"
cp LICENSE README.md "$dir/"
"$binary" completions bash > "$dir/completions/r2gitops.bash"
"$binary" completions zsh > "$dir/completions/_r2gitops"
"$binary" completions fish > "$dir/completions/r2gitops.fish"
"$binary" man > "$dir/man/r2gitops.1"
# One page per command, as `r2gitops man --help` lists its argument's values.
pages=$("$binary" man --help | awk '/^Arguments:/ { a = 1 } /^Options:/ { a = 0 } a' |
  sed -n 's/.*\[possible values: \(.*\)\].*/\1/p' | tr -d ',')
[ -n "$pages" ] || { echo "release.sh: \`r2gitops man --help\` lists no pages" >&2; exit 1; }
for c in $pages; do
  "$binary" man "$c" > "$dir/man/r2gitops-$c.1"
done
find "$dir" -type d -exec chmod 0755 {} +
find "$dir" -type f -exec chmod 0644 {} +
chmod 0755 "$dir/r2gitops"

tar=$(command -v gtar || command -v tar)
"$tar" --version 2>/dev/null | grep -q 'GNU tar' || { echo "release.sh: needs GNU tar (gtar)" >&2; exit 1; }
(
  cd "$stage"
  LC_ALL=C "$tar" --sort=name --format=gnu --owner=0 --group=0 --numeric-owner \
    --mtime="@$SOURCE_DATE_EPOCH" -cf - "$base" | gzip -n > "$out/$base.tar.gz"
)

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
(
  cd "$out"
  # shellcheck disable=SC2012 # names are ours: r2gitops-VERSION-TRIPLE.tar.gz
  LC_ALL=C ls r2gitops-"$version"-*.tar.gz | LC_ALL=C sort | while read -r f; do sha256 "$f"; done > SHA256SUMS
)
echo "$out/$base.tar.gz ($(wc -c < "$out/$base.tar.gz") bytes)"
echo "$out/SHA256SUMS"
