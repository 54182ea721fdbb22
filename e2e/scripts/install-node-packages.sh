#!/usr/bin/env bash
# Installs the Debian packages a real harness node runs on: containerd (with its `ctr` client),
# runc, the CNI plugins (bridge, host-local, loopback, portmap) and what kube-proxy programs
# (iptables, conntrack). Idempotent: installed packages are left alone and nothing runs when all
# are present. Needs root (apt-get); progress goes to standard error.
set -euo pipefail

packages=(containerd runc containernetworking-plugins iptables conntrack)

missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
  [[ "$status" == installed ]] || missing+=("$package")
done
if (( ${#missing[@]} == 0 )); then
  echo "install-node-packages: ${packages[*]} are installed" >&2
  exit 0
fi

if (( EUID != 0 )); then
  echo "install-node-packages: the packages ${missing[*]} are missing and installing them needs root (apt-get); run this script as root or install them yourself" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "install-node-packages: apt-get not found; install ${missing[*]} with this system's package manager" >&2; exit 1; }

# One installer at a time: dpkg takes its own lock, but a second run would fail on it rather than wait.
exec 9>/var/lock/soberana-install-node-packages.lock
flock 9

export DEBIAN_FRONTEND=noninteractive
echo "install-node-packages: installing ${missing[*]} with apt-get" >&2
started=$SECONDS
if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
  echo "install-node-packages: apt-get install failed; refreshing the package lists and trying once more" >&2
  apt-get update >&2 || { echo "install-node-packages: apt-get update failed" >&2; exit 1; }
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { echo "install-node-packages: apt-get install ${missing[*]} failed" >&2; exit 1; }
fi
# Debian starts containerd as a service on install; the harness runs its own per node instead.
if command -v systemctl >/dev/null && systemctl is-active --quiet containerd 2>/dev/null; then
  echo "install-node-packages: note: the system containerd service runs too; the harness does not use it" >&2
fi
echo "install-node-packages: installed ${missing[*]} in $((SECONDS - started))s" >&2
