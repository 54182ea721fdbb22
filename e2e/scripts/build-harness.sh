#!/usr/bin/env bash
# Builds the real control-plane binaries (kube-apiserver, kube-controller-manager, etcd, and kubectl) from their
# Go modules under e2e/go into a version-stamped cache directory outside the work tree.
# Idempotent: when the binaries for these exact module pins exist, it prints their directory and exits.
# Prints the binary directory as its last line of standard output; progress goes to standard error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kube_module="$here/go/kubernetes"
etcd_module="$here/go/etcd"

tag=build-harness
source "$here/scripts/lib/go-build.sh"

command -v go >/dev/null || { echo "build-harness: 'go' is not on PATH; install Go >= 1.26 (used only to build the harness binaries)" >&2; exit 1; }

kube_version="$(module_version "$kube_module" k8s.io/kubernetes)"
etcd_version="$(module_version "$etcd_module" go.etcd.io/etcd/server/v3)"
pins="$(cat "$kube_module/go.mod" "$kube_module/go.sum" "$etcd_module/go.mod" "$etcd_module/go.sum" "$0" | sha256sum | cut -c1-12)"

cache_root="${SOBERANA_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soberana/harness}"
bin_dir="$cache_root/kubernetes-$kube_version-etcd-$etcd_version-$pins/bin"

report_cached() {
  if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/kube-controller-manager" && -x "$bin_dir/kubectl" && -x "$bin_dir/etcd" ]]; then
    echo "build-harness: binaries for Kubernetes $kube_version and etcd $etcd_version are cached in $bin_dir" >&2
    echo "$bin_dir"
    exit 0
  fi
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
go_build "$etcd_module" "etcd $etcd_version" -o "$staging/etcd" ./cmd/etcd
go_build "$kube_module" "kube-apiserver, kube-controller-manager and kubectl $kube_version" -ldflags "-s -w $kube_ldflags" -o "$staging/" ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kubectl

mkdir -p "$(dirname "$bin_dir")"
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
trap - EXIT
# Older builds (other pins) are superseded: keep the cache to one set of binaries.
for old in "$cache_root"/kubernetes-* "$cache_root"/staging.*; do
  [[ "$old" == "$(dirname "$bin_dir")" ]] || rm -rf "$old"
done
echo "build-harness: built Kubernetes $kube_version and etcd $etcd_version in $((SECONDS - started))s into $bin_dir" >&2
echo "$bin_dir"
