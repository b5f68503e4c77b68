"""Image names the way cosign (go-containerregistry) and Kyverno spell them.

The two tools print the same image differently, and students compare their output: cosign, through
go-containerregistry, says ``index.docker.io/library/nginx`` (signature payloads, "Verification for ..."),
while Kyverno's ``GetImageInfo`` says ``docker.io/nginx:latest`` (no ``library/``) in rule messages and in
``imageReferences`` matching. Both are reproduced here; the registry fetches always use the first form.
"""

from __future__ import annotations

from dataclasses import dataclass

from labhelpers.images.reference import InvalidReferenceError, parse_reference

__all__ = ["GgcrReference", "KyvernoImage", "kyverno_image", "parse_ggcr", "signature_tag"]

GGCR_DEFAULT_REGISTRY = "index.docker.io"
KYVERNO_DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"


def _split_registry(ref: str) -> tuple[str, str]:
    """(registry or '', rest): the first component is a registry if it has ``.``/``:`` or is ``localhost``."""
    first, sep, rest = ref.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost"):
        return first, rest
    return "", ref


@dataclass(frozen=True)
class GgcrReference:
    """``name.Reference`` after ``name.ParseReference`` (non-strict): registry and repository resolved."""

    registry: str  # index.docker.io for Docker Hub
    repository: str  # library/ added for single-component Docker Hub names
    tag: str = ""
    digest: str = ""

    @property
    def repository_name(self) -> str:
        """``Repository.Name()``: what cosign writes as the payload's ``docker-reference``."""
        return f"{self.registry}/{self.repository}"

    @property
    def name(self) -> str:
        """``Reference.Name()``: ``repo@digest`` for digests, else ``repo:tag`` (``latest`` by default)."""
        if self.digest:
            return f"{self.repository_name}@{self.digest}"
        return f"{self.repository_name}:{self.tag or DEFAULT_TAG}"

    @property
    def identifier(self) -> str:
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> GgcrReference:
        return GgcrReference(self.registry, self.repository, "", digest)


def parse_ggcr(ref: str) -> GgcrReference:
    """``name.ParseReference``; raises ValueError ``could not parse reference: <ref>`` like ggcr."""
    registry, rest = _split_registry(ref)
    try:
        parsed = parse_reference(f"{registry or GGCR_DEFAULT_REGISTRY}/{rest}")
    except InvalidReferenceError:
        raise ValueError(f"could not parse reference: {ref}") from None
    host = parsed.domain
    if host == KYVERNO_DEFAULT_REGISTRY:
        host = GGCR_DEFAULT_REGISTRY
    repo = parsed.path
    if host == GGCR_DEFAULT_REGISTRY and "/" not in repo:
        repo = "library/" + repo
    # With both a tag and a digest ggcr's ParseReference yields a Digest (the tag is only decoration).
    return GgcrReference(host, repo, "" if parsed.digest else parsed.tag, parsed.digest)


def signature_tag(digest: str, suffix: str = "sig") -> str:
    """cosign's ``SignatureTag``: ``sha256:<hex>`` -> ``sha256-<hex>.sig``."""
    return digest.replace(":", "-", 1) + "." + suffix


@dataclass(frozen=True)
class KyvernoImage:
    """Kyverno's ``ImageInfo``: registry, path, tag, digest and the string used in matches and messages."""

    registry: str
    path: str
    tag: str
    digest: str

    def __str__(self) -> str:
        if self.digest:
            return f"{self.registry}/{self.path}@{self.digest}"
        return f"{self.registry}/{self.path}:{self.tag}"

    def with_digest(self, digest: str) -> str:
        """What ``mutateDigest`` writes: the image as ``registry/path:tag@digest``."""
        return f"{self.registry}/{self.path}:{self.tag}@{digest}"


def kyverno_image(image: str) -> KyvernoImage:
    """``GetImageInfo``: ``docker.io`` added when there is no registry, no ``library/``, tag ``latest``."""
    registry, rest = _split_registry(image)
    full = f"{registry or KYVERNO_DEFAULT_REGISTRY}/{rest}"
    try:
        parsed = parse_reference(full)
    except InvalidReferenceError as e:
        raise ValueError(f"bad image: {full}, defaultRegistry: {KYVERNO_DEFAULT_REGISTRY}, "
                         f"enableDefaultRegistryMutation: true: {e}") from None
    tag = parsed.tag
    if not tag and not parsed.digest:
        tag = DEFAULT_TAG
    return KyvernoImage(parsed.domain, parsed.path, tag, parsed.digest)
