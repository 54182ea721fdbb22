#!/usr/bin/env bash
# Makes sure the tools that `make test` and `make demo` need are present, installing what it can:
# rustfmt and clippy through rustup, protoc from Debian's protobuf-compiler when running as root.
# Anything it cannot install is reported with what to install, and the script fails.
set -euo pipefail

missing=()

if ! command -v cargo >/dev/null; then
  missing+=("Rust (cargo): install it with rustup, https://rustup.rs")
else
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      echo "ensure-tools: adding the $component component" >&2
      rustup component add "$component" || missing+=("$component: rustup component add $component")
    fi
  done
fi

required_go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$(dirname "$0")/../go/kubernetes/go.mod")"
if ! command -v go >/dev/null; then
  missing+=("Go >= $required_go (used only to build the harness' Kubernetes and etcd binaries)")
else
  installed_go="$(go env GOVERSION | sed 's/^go//')"
  if [[ "$(printf '%s\n%s\n' "$required_go" "$installed_go" | sort -V | head -1)" != "$required_go" ]]; then
    missing+=("Go >= $required_go (found $installed_go)")
  fi
fi

if ! command -v protoc >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "ensure-tools: installing protoc (Debian package protobuf-compiler)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >&2 \
      || missing+=("protoc: apt-get install protobuf-compiler failed")
  else
    missing+=("protoc: install Debian's protobuf-compiler (sudo apt-get install protobuf-compiler)")
  fi
fi

if ((${#missing[@]})); then
  echo "ensure-tools: missing prerequisites:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
