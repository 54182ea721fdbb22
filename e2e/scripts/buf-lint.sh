#!/usr/bin/env bash
# Lints the soberana.v1 protobuf contract with buf (STANDARD rules, see buf.yaml). buf comes from
# the @bufbuild/buf npm package, installed once into a cache outside the work tree.
set -euo pipefail

version="1.75.0"
cache="${SOBERANA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soberana}/tools/buf-$version"
buf="$cache/node_modules/.bin/buf"
if [[ ! -x "$buf" ]]; then
  if ! command -v npm >/dev/null; then
    echo "buf-lint: npm is needed to install buf (@bufbuild/buf); install Node.js" >&2
    exit 1
  fi
  echo "buf-lint: installing @bufbuild/buf@$version into $cache" >&2
  mkdir -p "$cache"
  npm install --silent --no-audit --no-fund --prefix "$cache" "@bufbuild/buf@$version" >&2
fi
cd "$(dirname "$0")/../.."
"$buf" lint
echo "buf lint: $(find proto -name '*.proto' | wc -l) files pass"
