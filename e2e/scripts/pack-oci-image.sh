#!/usr/bin/env bash
# Packs one program into an OCI image archive (an OCI layout in a tar, as `ctr images import`
# and `skopeo copy oci-archive:` read it), with no daemon and no registry: one layer holding the
# program and the shared libraries `ldd` names for it, a config whose entrypoint is the program
# and the given arguments, a manifest and an index naming the image.
# Usage: pack-oci-image.sh <archive> <image reference> <program> [argument...]
set -euo pipefail

(( $# >= 3 )) || { echo "usage: $0 <archive> <image reference> <program> [argument...]" >&2; exit 2; }
archive="$1" reference="$2" program="$3"; shift 3
[[ -x "$program" ]] || { echo "pack-oci-image: $program is not an executable file" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs" layout="$work/layout"
mkdir -p "$rootfs/tmp" "$layout/blobs/sha256"
chmod 1777 "$rootfs/tmp"
name="$(basename "$program")"
cp "$program" "$rootfs/$name"
# The dynamic loader and every library the program links, at the paths the program expects.
for library in $(ldd "$program" | grep -o '/[^ ]*'); do
  cp -L --parents "$library" "$rootfs/"
done

blob() { # blob <file>: moves a file into the layout under its digest; prints "<digest> <size>"
  local digest size
  digest="$(sha256sum "$1" | cut -d' ' -f1)"
  size="$(stat -c %s "$1")"
  mv "$1" "$layout/blobs/sha256/$digest"
  echo "$digest $size"
}
json_strings() { # json_strings <word...>: a JSON array of strings (no quoting of special characters needed here)
  local out="" word
  for word in "$@"; do out+="${out:+,}\"$word\""; done
  echo "[$out]"
}

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$work/layer.tar" .
read -r layer_digest layer_size < <(blob "$work/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$(json_strings "/$name" "$@")" "$layer_digest" >"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest_digest" "$manifest_size" "$reference" "$reference" >"$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
mkdir -p "$(dirname "$archive")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$layout" -cf "$archive.tmp" .
mv "$archive.tmp" "$archive"
echo "pack-oci-image: $reference ($name) in $archive" >&2
