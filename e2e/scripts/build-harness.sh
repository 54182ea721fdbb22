#!/usr/bin/env bash
# Builds the real control-plane binaries (kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kubectl)
# and kwok (simulated nodes, with the stage files its module ships) from their Go modules under e2e/go into a
# version-stamped cache directory outside the work tree.
# Idempotent: when the binaries for these exact module pins exist, it prints their directory and exits.
# Prints the binary directory as its last line of standard output; progress goes to standard error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kube_module="$here/go/kubernetes"
etcd_module="$here/go/etcd"
kwok_module="$here/go/kwok"

tag=build-harness
source "$here/scripts/lib/go-build.sh"

command -v go >/dev/null || { echo "build-harness: 'go' is not on PATH; install Go >= 1.26 (used only to build the harness binaries)" >&2; exit 1; }

kube_version="$(module_version "$kube_module" k8s.io/kubernetes)"
etcd_version="$(module_version "$etcd_module" go.etcd.io/etcd/server/v3)"
kwok_version="$(module_version "$kwok_module" sigs.k8s.io/kwok)"
pins="$(cat "$kube_module/go.mod" "$kube_module/go.sum" "$etcd_module/go.mod" "$etcd_module/go.sum" \
  "$kwok_module/go.mod" "$kwok_module/go.sum" "$0" | sha256sum | cut -c1-12)"

cache_root="${SOBERANA_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soberana/harness}"
bin_dir="$cache_root/kubernetes-$kube_version-etcd-$etcd_version-$pins/bin"

report_cached() {
  if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/kube-controller-manager" && -x "$bin_dir/kube-scheduler" \
     && -x "$bin_dir/kubectl" && -x "$bin_dir/etcd" && -x "$bin_dir/kwok" && -f "$bin_dir/kwok-stages.yaml" ]]; then
    touch "$(dirname "$bin_dir")" # in use: not pruned with builds of other pins
    echo "build-harness: binaries for Kubernetes $kube_version, etcd $etcd_version and kwok $kwok_version are cached in $bin_dir" >&2
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
go_build "$kube_module" "kube-apiserver, kube-controller-manager, kube-scheduler and kubectl $kube_version" \
  -ldflags "-s -w $kube_ldflags" -o "$staging/" ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler ./cmd/kubectl
go_build "$kwok_module" "kwok $kwok_version" -ldflags "-s -w" -o "$staging/" sigs.k8s.io/kwok/cmd/kwok
# kwok's own stages: nodes become Ready and keep a lease, Pods bound to them run and are deleted.
kwok_stages="$(cd "$kwok_module" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
for stage in node/fast/node-initialize pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  cat "$kwok_stages/$stage.yaml"; echo "---"
done > "$staging/kwok-stages.yaml"

mkdir -p "$(dirname "$bin_dir")"
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
trap - EXIT
# Builds for other pins stay while another checkout (a branch, a CI clone) may still run them;
# those untouched for two weeks are gone. Staging left by an interrupted build goes at once.
find "$cache_root" -mindepth 1 -maxdepth 1 -name 'kubernetes-*' ! -path "$(dirname "$bin_dir")" -mtime +14 \
  -exec rm -rf {} +
rm -rf "$cache_root"/staging.*
echo "build-harness: built Kubernetes $kube_version and etcd $etcd_version in $((SECONDS - started))s into $bin_dir" >&2
echo "$bin_dir"
