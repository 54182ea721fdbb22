#!/usr/bin/env bash
# Builds the node binaries of a real harness node (kubelet and kube-proxy) from the harness' Go
# module e2e/go/kubernetes into a version-stamped cache directory outside the work
# tree. Idempotent: when the binaries for these exact module pins exist, it prints their directory
# and exits. Prints the binary directory as its last line of standard output; progress goes to
# standard error. Cold: about 8 minutes and 1.5 GB on 2 cores; with warm Go caches, a link step.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kube_module="$here/go/kubernetes"

tag=build-real-node
source "$here/scripts/lib/go-build.sh"

command -v go >/dev/null || { echo "build-real-node: 'go' is not on PATH; install Go >= 1.26 (used only to build the harness binaries)" >&2; exit 1; }

kube_version="$(module_version "$kube_module" k8s.io/kubernetes)"
pins="$(cat "$kube_module/go.mod" "$kube_module/go.sum" "$0" | sha256sum | cut -c1-12)"

cache_root="${SOBERANA_REAL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soberana/real-node}"
bin_dir="$cache_root/kubernetes-$kube_version-$pins/bin"
binaries=(kubelet kube-proxy)

report_cached() {
  local binary
  for binary in "${binaries[@]}"; do [[ -x "$bin_dir/$binary" ]] || return 0; done
  echo "build-real-node: kubelet and kube-proxy $kube_version are cached in $bin_dir" >&2
  echo "$bin_dir"
  exit 0
}
report_cached

# One build at a time (test binaries and the demo may ask concurrently); whoever waited finds the
# binaries built.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
report_cached

export CGO_ENABLED=0 GOTOOLCHAIN=local
staging="$(mktemp -d "$cache_root/staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

git_minor="$(echo "$kube_version" | cut -d. -f2)"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
kube_ldflags=""
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $package.gitVersion=$kube_version -X $package.gitMajor=1 -X $package.gitMinor=$git_minor"
  kube_ldflags+=" -X $package.gitTreeState=clean -X $package.buildDate=$build_date"
done

started=$SECONDS
go_build "$kube_module" "kubelet and kube-proxy $kube_version" -ldflags "-s -w $kube_ldflags" -o "$staging/" \
  "${binaries[@]/#/./cmd/}"

mkdir -p "$(dirname "$bin_dir")"
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
trap - EXIT
# Older builds (other pins) are superseded: keep the cache to one set of binaries.
for old in "$cache_root"/kubernetes-* "$cache_root"/staging.*; do
  [[ "$old" == "$(dirname "$bin_dir")" ]] || rm -rf "$old"
done
echo "build-real-node: built kubelet and kube-proxy $kube_version in $((SECONDS - started))s into $bin_dir" >&2
echo "$bin_dir"
