"""Read what a Distribution registry stores, straight from its filesystem driver layout.

ECR's DescribeRepositories/DescribeImages are management-plane calls: AWS answers them from its own
database, not through the Docker registry API (which would need registry credentials). The lab's equivalent
of that database is the registry's storage directory, so pushes made with any client show up here.

Layout (distribution ``registry/storage/paths.go``)::

    docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link      -> sha256:...
    docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
    docker/registry/v2/blobs/sha256/<hex[:2]>/<hex>/data
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_INTERNAL = {"_manifests", "_layers", "_uploads"}


@dataclass
class StoredImage:
    """One manifest revision of a repository and the tags that currently point at it."""

    digest: str
    tags: list[str] = field(default_factory=list)
    media_type: str = ""
    artifact_media_type: str = ""
    size: int = 0
    pushed_at: float = 0.0


class RegistryStorage:
    """Read-only view of one registry's ``rootdirectory``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "docker" / "registry" / "v2"

    def _repo_dir(self, name: str) -> Path:
        return self.root / "repositories" / name

    def repositories(self) -> dict[str, float]:
        """Repository name -> creation time (the directory's mtime), sorted by name."""
        base = self.root / "repositories"
        found: dict[str, float] = {}
        for dirpath, dirnames, _ in os.walk(base):
            if "_manifests" in dirnames:
                name = Path(dirpath).relative_to(base).as_posix()
                found[name] = (Path(dirpath) / "_manifests").stat().st_mtime
            dirnames[:] = sorted(d for d in dirnames if d not in _INTERNAL)
        return dict(sorted(found.items()))

    def exists(self, name: str) -> bool:
        return (self._repo_dir(name) / "_manifests").is_dir()

    def blob(self, digest: str) -> bytes | None:
        alg, _, hexpart = digest.partition(":")
        path = self.root / "blobs" / alg / hexpart[:2] / hexpart / "data"
        try:
            return path.read_bytes()
        except OSError:
            return None

    def images(self, name: str) -> list[StoredImage]:
        """Every manifest revision with its tags, newest push first (ECR's console order)."""
        manifests = self._repo_dir(name) / "_manifests"
        by_digest: dict[str, StoredImage] = {}
        revisions = manifests / "revisions"
        for link in sorted(revisions.glob("*/*/link")):
            digest = link.read_text().strip()
            by_digest[digest] = self._describe(digest, link.stat().st_mtime)
        for link in sorted((manifests / "tags").glob("*/current/link")):
            digest = link.read_text().strip()
            image = by_digest.setdefault(digest, self._describe(digest, link.stat().st_mtime))
            image.tags.append(link.parent.parent.name)
            image.pushed_at = max(image.pushed_at, link.stat().st_mtime)
        return sorted(by_digest.values(), key=lambda i: (-i.pushed_at, i.digest))

    def _describe(self, digest: str, mtime: float) -> StoredImage:
        image = StoredImage(digest, pushed_at=mtime)
        raw = self.blob(digest)
        if raw is None:
            return image
        try:
            doc: dict[str, Any] = json.loads(raw)
        except ValueError:
            return image
        image.media_type = str(doc.get("mediaType", ""))
        config = doc.get("config") or {}
        image.artifact_media_type = str(config.get("mediaType", ""))
        if "layers" in doc:  # an image: ECR reports the compressed layer bytes
            image.size = sum(int(layer.get("size", 0)) for layer in doc.get("layers", []))
        else:  # an index: the manifests it lists
            image.size = sum(int(m.get("size", 0)) for m in doc.get("manifests", []))
        return image
