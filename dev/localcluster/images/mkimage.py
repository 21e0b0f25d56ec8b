#!/usr/bin/env python3
"""Wrap rootfs layer tars into a docker-archive image tarball.

No registry is reachable here, so the cluster's images are made locally and loaded with
`ctr -n k8s.io images import`. A docker-archive (what `docker save` writes) is the simplest
format ctr imports: manifest.json + an image config JSON + the layer tar, in a plain tar.

    mkimage.py --layer rootfs.tar --tag docker.io/library/busybox:1.36 \
        --cmd '["sh"]' --env PATH=/usr/bin:/bin --out busybox.tar

--layer repeats, lowest layer first: an image built on another image's layer shares it
(containerd stores an identical layer once).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1970-01-01T00:00:00Z"  # fixed, so the same rootfs gives the same image id


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_config(diff_ids: list[str], args: argparse.Namespace) -> dict:
    config: dict = {"Env": args.env or [f"PATH={DEFAULT_PATH}"]}
    if args.cmd:
        config["Cmd"] = args.cmd
    if args.entrypoint:
        config["Entrypoint"] = args.entrypoint
    if args.workdir:
        config["WorkingDir"] = args.workdir
    return {
        "architecture": args.arch,
        "os": "linux",
        "created": EPOCH,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        # One entry per layer (a single-layer image's config, hence its id, is as before).
        "history": [{"created": EPOCH, "created_by": "composer-kpo dev/localcluster/images"} for _ in diff_ids],
    }


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(args: argparse.Namespace) -> str:
    diff_ids = [sha256_file(layer) for layer in args.layer]
    config = json.dumps(image_config(diff_ids, args), sort_keys=True, separators=(",", ":")).encode()
    config_id = hashlib.sha256(config).hexdigest()
    layer_names = [f"{d}/layer.tar" for d in diff_ids]
    manifest = [{"Config": f"{config_id}.json", "RepoTags": args.tag, "Layers": layer_names}]

    tmp = args.out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for layer, name in zip(args.layer, layer_names):
            tar.add(layer, arcname=name)
        add_bytes(tar, f"{config_id}.json", config)
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        add_bytes(tar, "repositories", json.dumps(repositories(args.tag, config_id)).encode())
    os.replace(tmp, args.out)
    return config_id


def repositories(tags: list[str], image_id: str) -> dict:
    """The legacy `repositories` file some importers still read."""
    repos: dict = {}
    for t in tags:
        name, _, tag = t.rpartition(":")
        repos.setdefault(name, {})[tag] = image_id
    return repos


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--layer",
        required=True,
        action="append",
        help="uncompressed tar of the root filesystem (repeatable: lowest first)",
    )
    p.add_argument("--tag", required=True, action="append", help="full reference, repeatable")
    p.add_argument("--out", required=True, help="docker-archive tarball to write")
    # JSON arrays, as in a Dockerfile's exec form (argparse would eat "-de0" as an option).
    p.add_argument("--cmd", type=json.loads, help='JSON array, e.g. \'["perl", "-de0"]\'')
    p.add_argument("--entrypoint", type=json.loads, help="JSON array")
    p.add_argument("--env", action="append")
    p.add_argument("--workdir")
    p.add_argument("--arch", default="amd64")
    args = p.parse_args()
    image_id = write_archive(args)
    print(f"{args.out}: {', '.join(args.tag)} sha256:{image_id[:12]}")


if __name__ == "__main__":
    main()
