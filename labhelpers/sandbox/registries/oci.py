"""Tiny, byte-for-byte reproducible OCI images built in Python.

The lab has no Docker engine, so the sandbox registries are seeded with images made here. Every byte is
deterministic (sorted tar members, mtime 0, gzip header mtime 0, canonical JSON) so an image's digest is the
same on every run and can be written into policies, exercises and tests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Media types (opencontainers/image-spec media-types.md; Docker's schema2 spec).
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

# Reproducible-build convention (SOURCE_DATE_EPOCH=0), as BuildKit writes it.
EPOCH_RFC3339 = "1970-01-01T00:00:00Z"

_DIGEST_RE = re.compile(r"^(?P<alg>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")
_HEX_LEN = {"sha256": 64, "sha512": 128}


class InvalidDigestError(ValueError):
    """A string that is not a well-formed ``algorithm:hex`` digest."""


def sha256_digest(data: bytes) -> str:
    """The OCI content address of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_digest(digest: str) -> tuple[str, str]:
    """Split and validate a digest the way the OCI spec defines it (lower-case hex of the right length)."""
    m = _DIGEST_RE.match(digest or "")
    if not m:
        raise InvalidDigestError(f"invalid digest {digest!r}")
    alg, hexpart = m.group("alg"), m.group("hex")
    want = _HEX_LEN.get(alg)
    if want is None:
        raise InvalidDigestError(f"unsupported digest algorithm {alg!r}")
    if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise InvalidDigestError(f"invalid {alg} digest {digest!r}")
    return alg, hexpart


def compute_digest(algorithm: str, data: bytes) -> str:
    """Digest ``data`` with the algorithm named in an existing digest (so sha512 content verifies too)."""
    if algorithm not in _HEX_LEN:
        raise InvalidDigestError(f"unsupported digest algorithm {algorithm!r}")
    return f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces: the same document always has the same bytes and therefore the same digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def tar_bytes(files: Mapping[str, bytes], *, mtime: int = 0) -> bytes:
    """An uncompressed layer tar with parent directories, sorted entries and zeroed ownership and times."""
    entries: dict[str, bytes | None] = {}
    for raw_path, content in files.items():
        path = raw_path.strip("/")
        if not path:
            raise ValueError(f"invalid layer path {raw_path!r}")
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), None)
        entries[path] = content
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(entries):
            content = entries[path]
            info = tarfile.TarInfo(path)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with header mtime 0 (Python's default writes the current time, which would change the digest)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


@dataclass(frozen=True)
class Blob:
    """Content plus the media type it is referenced with."""

    media_type: str
    data: bytes
    annotations: Mapping[str, str] | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        return d


@dataclass(frozen=True)
class Layer:
    """A gzip layer and the digest of its uncompressed tar (the config's ``diff_id``)."""

    blob: Blob
    diff_id: str


def make_layer(files: Mapping[str, bytes]) -> Layer:
    tar = tar_bytes(files)
    return Layer(Blob(OCI_LAYER_GZIP, gzip_bytes(tar)), sha256_digest(tar))


@dataclass(frozen=True)
class OciImage:
    """A single-platform image: manifest bytes plus every blob it references."""

    name: str
    config: Blob
    layers: tuple[Blob, ...]
    manifest: bytes
    media_type: str = OCI_MANIFEST
    platform: Mapping[str, str] = field(default_factory=lambda: {"architecture": "amd64", "os": "linux"})

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Layers first, config last: the order a registry push must follow (manifest references must exist)."""
        return (*self.layers, self.config)

    @property
    def size(self) -> int:
        """Bytes a pull transfers: manifest, config and compressed layers."""
        return len(self.manifest) + self.config.size + sum(b.size for b in self.layers)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest),
                "platform": dict(self.platform)}


def default_files(name: str) -> dict[str, bytes]:
    """Per-image content, so that every image name yields a distinct layer and manifest digest."""
    return {"app/hello.txt": f"Hello from {name}\n".encode()}


def build_image(
    name: str,
    files: Mapping[str, bytes] | None = None,
    *,
    architecture: str = "amd64",
    os: str = "linux",
    labels: Mapping[str, str] | None = None,
    cmd: Iterable[str] = ("cat", "/app/hello.txt"),
) -> OciImage:
    """One-layer OCI image whose content (by default ``/app/hello.txt``) derives from ``name``."""
    layer = make_layer(files if files is not None else default_files(name))
    config_doc = {
        "architecture": architecture,
        "os": os,
        "created": EPOCH_RFC3339,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": list(cmd),
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": name, **(labels or {})},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created": EPOCH_RFC3339, "created_by": "labhelpers.sandbox.registries.oci.build_image"}],
    }
    config = Blob(OCI_CONFIG, canonical_json(config_doc))
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor()],
    })
    return OciImage(name, config, (layer.blob,), manifest, OCI_MANIFEST, {"architecture": architecture, "os": os})


def build_index(images: Iterable[OciImage]) -> bytes:
    """An OCI image index over single-platform images (a multi-arch "tag")."""
    return canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [img.descriptor() for img in images],
    })


def select_platform(index: Mapping[str, Any], *, os: str = "linux", architecture: str = "amd64") -> dict[str, Any]:
    """The index entry a linux/amd64 node would pull; ``LookupError`` names the platform like containerd does."""
    for entry in index.get("manifests", []):
        plat = entry.get("platform") or {}
        if plat.get("os") == os and plat.get("architecture") == architecture:
            return dict(entry)
    raise LookupError(f"no match for platform in manifest: not found ({os}/{architecture})")
