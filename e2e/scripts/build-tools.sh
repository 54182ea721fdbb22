#!/usr/bin/env bash
# Builds the tools the chart and SLO tests use — helm, kubeconform, promtool and prometheus — from
# their Go modules under e2e/go/tools (each pinned by a `tool` line in its go.mod) into a
# version-stamped cache directory outside the work tree, as build-harness.sh does for Kubernetes.
# Idempotent: when the binaries for these exact pins exist, it prints their directory and exits.
# Prints the binary directory as its last line of standard output; progress goes to standard error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$here/go/tools"
tag=build-tools
source "$here/scripts/lib/go-build.sh"

command -v go >/dev/null || { echo "build-tools: 'go' is not on PATH; install Go >= 1.26 (used only to build test tools)" >&2; exit 1; }

helm_version="$(module_version "$tools/helm" helm.sh/helm/v3)"
prometheus_version="$(module_version "$tools/prometheus" github.com/prometheus/prometheus)"
kubeconform_version="$(module_version "$tools/kubeconform" github.com/yannh/kubeconform)"
pins="$(cat "$tools"/*/go.mod "$tools"/*/go.sum "$0" "$here/scripts/lib/go-build.sh" | sha256sum | cut -c1-12)"

cache_root="${SOBERANA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soberana/tools}"
bin_dir="$cache_root/helm-$helm_version-prometheus-$prometheus_version-kubeconform-$kubeconform_version-$pins/bin"

report_cached() {
  if [[ -x "$bin_dir/helm" && -x "$bin_dir/kubeconform" && -x "$bin_dir/promtool" && -x "$bin_dir/prometheus" ]]; then
    echo "build-tools: helm $helm_version, prometheus/promtool $prometheus_version and kubeconform $kubeconform_version are cached in $bin_dir" >&2
    echo "$bin_dir"
    exit 0
  fi
}
report_cached

# One build at a time (several test binaries may ask at once); whoever waited finds them built.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
report_cached

export CGO_ENABLED=0 GOTOOLCHAIN=local
staging="$(mktemp -d "$cache_root/staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

started=$SECONDS
go_build "$tools/kubeconform" "kubeconform $kubeconform_version" -ldflags "-s -w" -o "$staging/" github.com/yannh/kubeconform/cmd/kubeconform
go_build "$tools/helm" "helm $helm_version" -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version" -o "$staging/" helm.sh/helm/v3/cmd/helm
go_build "$tools/prometheus" "prometheus and promtool $prometheus_version" -ldflags "-s -w" -o "$staging/" github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool

mkdir -p "$(dirname "$bin_dir")"
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
trap - EXIT
for old in "$cache_root"/helm-* "$cache_root"/staging.*; do
  [[ "$old" == "$(dirname "$bin_dir")" ]] || rm -rf "$old"
done
echo "build-tools: built helm, kubeconform, promtool and prometheus in $((SECONDS - started))s into $bin_dir" >&2
echo "$bin_dir"
