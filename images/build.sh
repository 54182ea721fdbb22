#!/usr/bin/env bash
# Builds Soberana's OCI image archives with no container daemon, reproducibly: building twice from
# the same commit gives the same digests. See docs/images.md.
#
#   images/build.sh            # -> target/images/<name>-<version>.oci.tar (+ .sbom.json, .digest)
#
# Images: soberana-operator, soberana-api, soberana (the CLI), example-http (the example Workloads'
# service) and pause (a kubelet's sandbox image), tagged docker.io/soberana/<name>:<version>, the
# chart's default references. The first three hold their release binary, the files of Debian's libc6
# and libgcc-s1 it links (the versions installed here, which it was linked against) and the CA bundle
# of ca-certificates; pause and example-http are static and hold their binary alone. Every image runs
# as uid/gid 65532 and carries a CycloneDX SBOM (Debian packages and every crate compiled in) at
# /usr/share/doc/soberana/sbom.json.
#
# Environment: SOURCE_DATE_EPOCH (default: the commit's time), SOBERANA_IMAGES_OUT (default
# target/images), SOBERANA_IMAGES_CACHE (downloaded .debs; default ~/.cache/soberana/images).
# The last lines printed on stdout are the archives' paths, one per line; progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${SOBERANA_IMAGES_OUT:-$ROOT/target/images}"
CACHE="${SOBERANA_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soberana/images}"
# A target directory of its own: the path-remapping RUSTFLAGS below would otherwise rebuild
# target/release (the benchmarks') on every switch.
export CARGO_TARGET_DIR="$ROOT/target/image-build"
CARGO="${CARGO:-cargo}"
TRIPLE=x86_64-unknown-linux-gnu
USER_ID=65532

step() { echo "==> images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "only x86_64 (amd64) images are built here, not $(uname -m)"
for tool in python3 readelf dpkg-deb dpkg-query apt-get git; do
  command -v "$tool" >/dev/null || die "$tool is needed (Debian: binutils, dpkg, apt, git, python3)"
done

VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)"
[ -n "$VERSION" ] || die "no version in Cargo.toml's [workspace.package]"
REVISION="$(git rev-parse HEAD)"
EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}"
# Not passed to cargo: the C build scripts (cc) rerun when it changes, and so would most of the
# tree on every commit; nothing compiled here reads it.
unset SOURCE_DATE_EPOCH
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "images: warning: the work tree differs from $REVISION; the images still name that commit" >&2
fi

# Paths of this checkout and of the cargo home are remapped, so that neither leaks into the
# binaries (panic locations, generated code under OUT_DIR) and two checkouts build the same bytes.
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
export RUSTFLAGS="--remap-path-prefix=$CARGO_HOME_DIR=/cargo --remap-path-prefix=$ROOT=/soberana"
export CARGO_INCREMENTAL=0

step "cargo build --release (soberana-operator, soberana-api, soberana-cli) into target/image-build"
"$CARGO" build --release --locked -p soberana-operator -p soberana-api -p soberana-cli --bins
for static in soberana-pause:pause soberana-example-http:example-http; do
  step "cargo rustc --release -p ${static%%:*} (statically linked)"
  "$CARGO" rustc --release --locked -p "${static%%:*}" --bin "${static#*:}" -- -C target-feature=+crt-static
done
BIN="$CARGO_TARGET_DIR/release"

# Every crate compiled into each binary: the normal-dependency trees for the target, resolved with
# the features of the build above (the three packages together, as built).
step "cargo tree (the crates of each binary, for the SBOMs)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$CARGO" tree --locked -e normal --target "$TRIPLE" --prefix depth -f '{p}|{l}' \
  -p soberana-operator -p soberana-api -p soberana-cli >"$WORK/tree-main.txt"
"$CARGO" tree --locked -e normal --target "$TRIPLE" --prefix depth -f '{p}|{l}' -p soberana-pause >"$WORK/tree-pause.txt"
"$CARGO" tree --locked -e normal --target "$TRIPLE" --prefix depth -f '{p}|{l}' -p soberana-example-http >"$WORK/tree-example-http.txt"

# Debian packages: the installed versions (the binaries were linked against them), downloaded once
# into the cache and extracted.
deb_root() {
  local package="$1" version dir
  version="$(dpkg-query -W -f '${Version}' "$package:amd64" 2>/dev/null || dpkg-query -W -f '${Version}' "$package")"
  [ -n "$version" ] || die "Debian package $package is not installed"
  dir="$CACHE/$package-$version"
  if [ ! -f "$dir/.done" ]; then
    step "apt-get download $package=$version (once, into $CACHE)"
    rm -rf "$dir" && mkdir -p "$dir/deb"
    (cd "$dir/deb" && apt-get -o APT::Sandbox::User=root download "$package=$version" >&2) ||
      { apt-get update >&2 && (cd "$dir/deb" && apt-get -o APT::Sandbox::User=root download "$package=$version" >&2); } ||
      die "could not download Debian package $package=$version"
    dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
    touch "$dir/.done"
  fi
  echo "$version" >"$WORK/deb-$package.version"
  echo "$dir/root"
}
LIBC="$(deb_root libc6)"
LIBGCC="$(deb_root libgcc-s1)"
CACERTS="$(deb_root ca-certificates)"

# The files every image has: a non-root user and group.
base_rootfs() {
  local dir="$1"
  mkdir -p "$dir/etc" "$dir/tmp" "$dir/home/nonroot" "$dir/usr/share/doc/soberana"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\n' \
    "$USER_ID" "$USER_ID" >"$dir/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\n' "$USER_ID" >"$dir/etc/group"
}

# A dynamically linked binary's image: the loader and the shared libraries it needs (transitively),
# from the extracted packages, and the CA bundle.
dynamic_rootfs() {
  local dir="$1" binary="$2" lib needed queue=() seen=" " interp package from
  base_rootfs "$dir"
  mkdir -p "$dir/usr/bin" "$dir/lib/x86_64-linux-gnu" "$dir/lib64" "$dir/etc/ssl/certs"
  cp "$binary" "$dir/usr/bin/"
  interp="$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
  [ "$interp" = /lib64/ld-linux-x86-64.so.2 ] || die "$binary: unexpected interpreter '$interp'"
  cp -L "$LIBC/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$dir/lib/x86_64-linux-gnu/"
  ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$dir/lib64/ld-linux-x86-64.so.2"
  queue=("$binary")
  while [ "${#queue[@]}" -gt 0 ]; do
    for needed in $(readelf -d "${queue[0]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case "$seen" in *" $needed "*) continue ;; esac
      seen+="$needed "
      lib=""
      for candidate in "$LIBC/lib/x86_64-linux-gnu/$needed" "$LIBGCC/lib/x86_64-linux-gnu/$needed"; do
        [ -e "$candidate" ] && lib="$candidate" && break
      done
      [ -n "$lib" ] || die "$binary needs $needed, which neither libc6 nor libgcc-s1 ships"
      cp -L "$lib" "$dir/lib/x86_64-linux-gnu/$needed"
      queue+=("$dir/lib/x86_64-linux-gnu/$needed")
    done
    queue=("${queue[@]:1}")
  done
  case "$seen" in *" libgcc_s.so.1 "*) echo libgcc-s1 ;; esac >"$dir.debs"
  echo libc6 >>"$dir.debs"
  echo ca-certificates >>"$dir.debs"
  for package in libc6 libgcc-s1; do
    if grep -qx "$package" "$dir.debs"; then
      mkdir -p "$dir/usr/share/doc/$package"
      from="$LIBC"
      [ "$package" = libgcc-s1 ] && from="$LIBGCC"
      # libgcc-s1's doc directory is a link to gcc-12-base's, a package not shipped here.
      if [ -f "$from/usr/share/doc/$package/copyright" ]; then
        cp "$from/usr/share/doc/$package/copyright" "$dir/usr/share/doc/$package/"
      else
        rmdir "$dir/usr/share/doc/$package"
      fi
    fi
  done
  # The bundle update-ca-certificates would make from the package's certificates, in name order.
  find "$CACERTS/usr/share/ca-certificates" -name '*.crt' -print0 | LC_ALL=C sort -z |
    xargs -0 cat >"$dir/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$dir/usr/share/doc/ca-certificates"
  cp "$CACERTS/usr/share/doc/ca-certificates/copyright" "$dir/usr/share/doc/ca-certificates/"
  # glibc's own resolver (nss_files and nss_dns are part of libc.so.6 since 2.34).
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dir/etc/nsswitch.conf"
}

mkdir -p "$OUT"
ARCHIVES=()
image() {
  local name="$1" package="$2" binary="$3" tree="$4" kind="$5" title="$6" dir="$WORK/rootfs-$1"
  local debs=() entrypoint
  step "assembling $name:$VERSION"
  if [ "$kind" = dynamic ]; then
    dynamic_rootfs "$dir" "$BIN/$binary"
    entrypoint="/usr/bin/$binary"
    while read -r package_name; do
      debs+=(--deb "$package_name=$(cat "$WORK/deb-$package_name.version")")
    done <"$dir.debs"
  else
    readelf -l "$BIN/$binary" | grep -q 'Requesting program interpreter' && die "$binary is not static"
    base_rootfs "$dir"
    if [ "$binary" = pause ]; then entrypoint=/pause; else entrypoint="/usr/bin/$binary"; fi
    mkdir -p "$dir$(dirname "$entrypoint")"
    cp "$BIN/$binary" "$dir$entrypoint"
  fi
  python3 "$ROOT/images/oci.py" --name "$name" --package "$package" --version "$VERSION" \
    --revision "$REVISION" --epoch "$EPOCH" --title "$title" --rootfs "$dir" \
    --entrypoint "$entrypoint" --user "$USER_ID:$USER_ID" --tree "$tree" --out "$OUT" "${debs[@]}"
  ARCHIVES+=("$OUT/$name-$VERSION.oci.tar")
}
image soberana-operator soberana-operator soberana-operator "$WORK/tree-main.txt" dynamic \
  "Soberana operator"
image soberana-api soberana-api soberana-api "$WORK/tree-main.txt" dynamic "Soberana gRPC API"
image soberana soberana-cli soberana "$WORK/tree-main.txt" dynamic "Soberana CLI"
image example-http soberana-example-http example-http "$WORK/tree-example-http.txt" static \
  "Soberana example HTTP service"
image pause soberana-pause pause "$WORK/tree-pause.txt" static "Soberana pause (Pod sandbox)"

printf '%s\n' "${ARCHIVES[@]}"
