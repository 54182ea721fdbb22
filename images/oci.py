#!/usr/bin/env python3
"""Packs a staged root file system into a reproducible OCI image archive, with its SBOM.

Called by images/build.sh once per image. Everything written is a function of the inputs: files are
sorted by name, owned by root (the user's home by the image's user), dated SOURCE_DATE_EPOCH, with
normalised modes; gzip carries no name or time; JSON keys are sorted. Standard library only.

Outputs, in --out: NAME-VERSION.oci.tar (an oci-archive: oci-layout, index.json and blobs/sha256/),
NAME-VERSION.sbom.json (CycloneDX 1.5, also inside the image at /usr/share/doc/soberana/sbom.json)
and NAME-VERSION.digest (the manifest's digest, what a registry reports after a push).
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import stat
import sys
import tarfile

SOURCE = "https://github.com/soberana/soberana"
LICENSE = "Apache-2.0"
REGISTRY = "docker.io/soberana"
SBOM_PATH = "usr/share/doc/soberana/sbom.json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def canonical_json(value):
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def parse_tree(path):
    """The crates of each root in `cargo tree --prefix depth -f '{p}|{l}'` output.

    Several roots share one listing in which a crate's dependencies are expanded once, at its
    first occurrence, and marked `(*)` afterwards: the edges are gathered first, then each root's
    crates are its closure. A crate reached only through a proc-macro is not linked into the
    binary; it is kept, marked as such."""
    edges, crates, roots, stack = {}, {}, [], []
    line_re = re.compile(r"^(\d+)(\S+) v(\S+)( \(proc-macro\))?( \([^)]*\))?\|(.*?)( \(\*\))?$")
    with open(path, encoding="utf-8") as listing:
        for line in listing:
            line = line.rstrip("\n")
            if not line:
                continue
            match = line_re.match(line)
            if not match:
                sys.exit(f"oci.py: {path}: cannot read cargo tree line {line!r}")
            depth, name, version = int(match.group(1)), match.group(2), match.group(3)
            key = (name, version)
            crates[key] = {
                "proc_macro": bool(match.group(4)),
                "local": bool(match.group(5)),
                "license": match.group(6),
            }
            del stack[depth:]
            if depth == 0:
                roots.append(key)
            else:
                edges.setdefault(stack[-1], set()).add(key)
            stack.append(key)
    closures = {}
    for root in roots:
        linked, seen, todo = set(), set(), [(root, True)]
        while todo:
            key, is_linked = todo.pop()
            if (key, is_linked) in seen:
                continue
            seen.add((key, is_linked))
            if is_linked:
                linked.add(key)
            for child in edges.get(key, ()):
                todo.append((child, is_linked and not crates[child]["proc_macro"]))
        closures[root[0]] = (root, {key for key, _ in seen}, linked)
    return crates, closures


def sbom(args, crates, closure, debs, timestamp):
    """A CycloneDX 1.5 document: the image, its Debian packages and its crates."""
    root, members, linked = closure
    components = []
    for name, version in sorted(debs):
        components.append({
            "type": "library",
            "bom-ref": f"pkg:deb/debian/{name}@{version}?arch=amd64",
            "name": name,
            "version": version,
            "purl": f"pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12",
            "supplier": {"name": "Debian"},
        })
    for key in sorted(members):
        name, version = key
        crate = crates[key]
        purl = f"pkg:cargo/{name}@{version}"
        component = {
            "type": "application" if key == root else "library",
            "bom-ref": purl,
            "name": name,
            "version": version,
            "purl": purl,
            # Proc-macros and what only they use run at compile time and are not in the binary.
            "scope": "required" if key in linked else "excluded",
        }
        if crate["license"]:
            component["licenses"] = [{"expression": crate["license"]}]
        if crate["local"]:
            component["externalReferences"] = [{"type": "vcs", "url": SOURCE}]
        components.append(component)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "soberana images/build.sh"}]},
            "component": {
                "type": "container",
                "bom-ref": f"{REGISTRY}/{args.name}:{args.version}",
                "name": f"{REGISTRY}/{args.name}",
                "version": args.version,
                "licenses": [{"expression": LICENSE}],
                "externalReferences": [{"type": "vcs", "url": f"{SOURCE}/tree/{args.revision}"}],
            },
        },
        "components": components,
    }


def layer(rootfs, epoch, uid, gid):
    """The rootfs as one tar layer: sorted, root-owned (the user's home aside), dated `epoch`."""
    paths = []
    for directory, subdirectories, files in os.walk(rootfs):
        subdirectories.sort()
        for entry in sorted(subdirectories + files):
            paths.append(os.path.join(directory, entry))
    paths.sort(key=lambda path: os.path.relpath(path, rootfs).encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            name = os.path.relpath(path, rootfs)
            info = tar.gettarinfo(path, arcname=name)
            info.mtime = epoch
            info.uname = info.gname = ""
            info.uid = info.gid = 0
            if info.isdir():
                info.mode = 0o1777 if name == "tmp" else 0o755
            elif info.isreg():
                info.mode = 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644
            if name == "home/nonroot":
                info.uid, info.gid, info.mode = uid, gid, 0o700
            info.pax_headers = {}
            if info.isreg():
                with open(path, "rb") as content:
                    tar.addfile(info, content)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def archive(blobs, index, layout_files):
    """The oci-archive: a tar of the OCI layout, entries sorted and dated 0."""
    buffer = io.BytesIO()
    entries = dict(layout_files)
    entries["index.json"] = canonical_json(index)
    for digest, data in blobs.items():
        entries[f"blobs/sha256/{digest}"] = data
    directories = {"blobs", "blobs/sha256"}
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(list(entries) + list(directories)):
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if name in directories:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(entries[name]), 0o644
                tar.addfile(info, io.BytesIO(entries[name]))
    return buffer.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--package", required=True, help="the cargo package of the binary")
    parser.add_argument("--version", required=True)
    parser.add_argument("--revision", required=True)
    parser.add_argument("--epoch", required=True, type=int)
    parser.add_argument("--title", required=True)
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--user", required=True, help="uid:gid")
    parser.add_argument("--tree", required=True, help="cargo tree output holding --package")
    parser.add_argument("--deb", action="append", default=[], help="NAME=VERSION")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    uid, gid = (int(part) for part in args.user.split(":"))
    created = datetime.datetime.fromtimestamp(args.epoch, datetime.timezone.utc)
    timestamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    reference = f"{REGISTRY}/{args.name}:{args.version}"
    stem = os.path.join(args.out, f"{args.name}-{args.version}")

    crates, closures = parse_tree(args.tree)
    if args.package not in closures:
        sys.exit(f"oci.py: {args.tree} has no tree for {args.package}")
    debs = [tuple(deb.split("=", 1)) for deb in args.deb]
    document = canonical_json(sbom(args, crates, closures[args.package], debs, timestamp))
    os.makedirs(os.path.join(args.rootfs, os.path.dirname(SBOM_PATH)), exist_ok=True)
    with open(os.path.join(args.rootfs, SBOM_PATH), "wb") as out:
        out.write(document)

    tar = layer(args.rootfs, args.epoch, uid, gid)
    diff_id = hashlib.sha256(tar).hexdigest()
    compressed = gzip.compress(tar, compresslevel=6, mtime=0)
    layer_digest = hashlib.sha256(compressed).hexdigest()
    labels = {
        "org.opencontainers.image.created": timestamp,
        "org.opencontainers.image.licenses": LICENSE,
        "org.opencontainers.image.revision": args.revision,
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.title": args.title,
        "org.opencontainers.image.version": args.version,
    }
    config = canonical_json({
        "architecture": "amd64",
        "os": "linux",
        "created": timestamp,
        "author": "Soberana",
        "config": {
            "User": args.user,
            "Entrypoint": [args.entrypoint],
            "Env": [
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            ],
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": timestamp, "created_by": "images/build.sh"}],
    })
    config_digest = hashlib.sha256(config).hexdigest()
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": f"sha256:{config_digest}", "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": f"sha256:{layer_digest}", "size": len(compressed)}],
        "annotations": labels,
    })
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": f"sha256:{manifest_digest}",
            "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            # containerd's `ctr images import` names the image after the first, skopeo and
            # podman after the second.
            "annotations": {
                "io.containerd.image.name": reference,
                "org.opencontainers.image.ref.name": reference,
            },
        }],
    }
    blobs = {layer_digest: compressed, config_digest: config, manifest_digest: manifest}
    data = archive(blobs, index, {"oci-layout": canonical_json({"imageLayoutVersion": "1.0.0"})})
    os.makedirs(args.out, exist_ok=True)
    for suffix, content in ((".oci.tar", data), (".sbom.json", document),
                            (".digest", f"sha256:{manifest_digest}\n".encode())):
        with open(stem + suffix + ".tmp", "wb") as out:
            out.write(content)
        os.replace(stem + suffix + ".tmp", stem + suffix)
    print(f"==> images: {reference} sha256:{manifest_digest} ({len(data) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
