"""Container image references as distribution/reference (v0.6.0) and the kubelet parse them.

The sandbox kubelet must accept and reject exactly the image strings a real kubelet does and quote the same
errors, so this is a port of the grammar and the normalisation rules, not a "reasonable" parser. Two layers:

* distribution/reference: :func:`parse_reference` (``Parse``), :func:`parse` (``ParseNormalizedNamed``),
  :func:`parse_any_reference`, :func:`parse_docker_ref`; errors carry distribution's and go-digest's messages.
* kubelet: :func:`parse_image_name` (``parsers.ParseImageName``), :func:`apply_default_image_tag`,
  :func:`repo_to_pull` and :func:`invalid_image_name_message` (the ``InvalidImageName`` status/event text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ._go import quote as go_quote

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "INVALID_IMAGE_NAME",
    "InvalidImageNameError",
    "InvalidReferenceError",
    "Reference",
    "apply_default_image_tag",
    "go_quote",
    "invalid_image_name_message",
    "normalize_image",
    "parse",
    "parse_any_reference",
    "parse_docker_ref",
    "parse_image_name",
    "parse_reference",
    "repo_to_pull",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255
INVALID_IMAGE_NAME = "InvalidImageName"

# --- grammar (regexp.go); Go's \w is ASCII, and anchoring is done with fullmatch so "\n" never slips through
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = r"(?:" + _DOMAIN_NAME + "|" + _IPV6 + r")(?::[0-9]+)?"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"

_REFERENCE_RE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")", re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)

# --- go-digest v1.0.0: algorithms the kubelet links (crypto/sha256, crypto/sha512) and their hex sizes
_DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_ANCHORED_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)


class InvalidReferenceError(ValueError):
    """A reference distribution/reference or go-digest rejects; ``str()`` is their exact error text."""


class InvalidImageNameError(ValueError):
    """The kubelet's ParseImageName failure: ``couldn't parse image name "<image>": <reference error>``."""

    def __init__(self, image: str, cause: InvalidReferenceError) -> None:
        super().__init__(f"couldn't parse image name {go_quote(image)}: {cause}")
        self.image = image
        self.cause = cause


@dataclass(frozen=True)
class Reference:
    """A parsed reference. ``domain`` is empty for un-normalised names and ``path`` for bare digests."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The repository, e.g. ``docker.io/library/nginx`` (Go's ``Named.Name()``)."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        return _render(self.name, self.tag, self.digest)

    def familiar_name(self) -> str:
        """``FamiliarName``: Docker Hub's domain and single-level ``library/`` dropped (``nginx``)."""
        domain, path = self.domain, self.path
        if domain == DEFAULT_DOMAIN:
            domain = ""
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
                path = path[len(OFFICIAL_REPO_PREFIX) :]
        return f"{domain}/{path}" if domain else path

    def familiar(self) -> str:
        """``FamiliarString``: the familiar name plus tag and digest, as ``docker`` prints it."""
        return _render(self.familiar_name(), self.tag, self.digest)


def _render(name: str, tag: str, digest: str) -> str:
    out = name
    if tag:
        out += ":" + tag
    if digest:
        out += "@" + digest if out else digest
    return out


def _go_lower(s: str) -> str:
    """Go's strings.ToLower uses simple case mapping: one rune in, one rune out (U+0130 -> 'i')."""
    return "".join(low if len(low := c.lower()) == 1 else ("i" if c == "\u0130" else c) for c in s)


def _validate_digest(d: str) -> None:
    """go-digest v1.0.0 ``Digest.Validate`` (the version Kubernetes vendors, with its separate length error)."""
    i = d.find(":")
    if i <= 0 or i + 1 == len(d):
        raise InvalidReferenceError("invalid checksum digest format")
    algorithm, encoded = d[:i], d[i + 1 :]
    size = _DIGEST_ALGORITHMS.get(algorithm)
    if size is None:
        if not _DIGEST_ANCHORED_RE.fullmatch(d):
            raise InvalidReferenceError("invalid checksum digest format")
        raise InvalidReferenceError("unsupported digest algorithm")
    if len(encoded) != size:
        raise InvalidReferenceError("invalid checksum digest length")
    if not _LOWER_HEX_RE.fullmatch(encoded):
        raise InvalidReferenceError("invalid checksum digest format")


def parse_reference(s: str) -> Reference:
    """distribution's ``Parse``: grammar only, no Docker Hub defaults (``domain`` is '' when absent)."""
    if s == "":
        raise InvalidReferenceError("repository name must have at least one component")
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        lowered = _go_lower(s)
        if lowered != s and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidReferenceError("repository name must be lowercase")
        raise InvalidReferenceError("invalid reference format")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    nm = _ANCHORED_NAME_RE.fullmatch(name)
    domain, path = (nm.group(1) or "", nm.group(2)) if nm else ("", name)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest:
        _validate_digest(digest)
    return Reference(domain, path, tag, digest)


def _split_docker_domain(name: str) -> tuple[str, str]:
    """``splitDockerDomain`` (v0.6.0+: an upper-case first segment is a domain, since namespaces can't be)."""
    first, sep, rest = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if first == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, rest
    elif first == "localhost" or "." in first or ":" in first or first.lower() != first:
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def parse(ref: str) -> Reference:
    """``ParseNormalizedNamed``: familiar names become fully qualified (``nginx`` -> docker.io/library/nginx)."""
    if _IDENTIFIER_RE.fullmatch(ref):
        raise InvalidReferenceError(
            f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(ref)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidReferenceError(f"invalid reference format: repository name ({remote}) must be lowercase")
    return parse_reference(domain + "/" + remainder)


def parse_any_reference(ref: str) -> Reference:
    """``ParseAnyReference``: a bare 64-hex identifier or a digest yields a name-less :class:`Reference`."""
    if _IDENTIFIER_RE.fullmatch(ref):
        return Reference("", "", digest="sha256:" + ref)
    try:
        _validate_digest(ref)
    except InvalidReferenceError:
        return parse(ref)
    return Reference("", "", digest=ref)


def parse_docker_ref(ref: str) -> Reference:
    """``ParseDockerRef``: normalised, ``latest`` when untagged, and the tag dropped when a digest pins it."""
    r = parse(ref)
    if r.tag and r.digest:
        return replace(r, tag="")
    if not r.tag and not r.digest:
        return replace(r, tag=DEFAULT_TAG)
    return r


def parse_image_name(image: str) -> tuple[str, str, str]:
    """kubelet ``parsers.ParseImageName``: (repoToPull, tag, digest), tag ``latest`` if neither was given."""
    try:
        r = parse(image)
    except InvalidReferenceError as e:
        raise InvalidImageNameError(image, e) from e
    tag = r.tag
    if not tag and not r.digest:
        tag = DEFAULT_TAG
    return r.name, tag, r.digest


def normalize_image(ref: str) -> str:
    """Fully qualified reference with ``:latest`` added only when there is neither tag nor digest.

    Unlike :func:`parse_docker_ref` a tag is kept next to a digest, as the kubelet keeps it.
    Raises :class:`InvalidReferenceError` (a ValueError) with distribution's message.
    """
    r = parse(ref)
    if not r.tag and not r.digest:
        r = replace(r, tag=DEFAULT_TAG)
    return str(r)


def apply_default_image_tag(image: str) -> str:
    """kubelet ``applyDefaultImageTag``: append ``:latest`` to the string as written (no docker.io expansion).

    This is what the CRI receives and what Pulling/Pulled events quote. Raises :class:`InvalidImageNameError`.
    """
    _, tag, digest = parse_image_name(image)
    if not digest and tag and not image.endswith(":" + tag):
        image = image + ":" + tag
    return image


def repo_to_pull(image: str) -> str:
    """The normalised repository (no tag/digest) the kubelet looks credentials up with."""
    return parse_image_name(image)[0]


def invalid_image_name_message(image: str) -> str | None:
    """The InspectFailed event / ``InvalidImageName`` waiting message for ``image``, or None if it parses."""
    try:
        parse_image_name(image)
    except InvalidImageNameError as e:
        return f"Failed to apply default image tag {go_quote(image)}: {e}"
    return None
