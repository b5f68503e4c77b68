"""``cosign verify --key`` against the sandbox registries, with cosign's rules and error texts.

The flow is cosign's ``VerifyImageSignatures`` with ``--insecure-ignore-tlog`` (the sandbox has no Rekor):
resolve the tag to the manifest digest, read ``sha256-<hex>.sig``, and for every signature layer check the
signature over the exact payload bytes, then the claim (``docker-manifest-digest`` must equal the digest). One
good layer is enough. cosign does **not** compare ``docker-reference``: a signature copied to another repository
still verifies. :class:`VerifyResult` reports such copies (``reference_mismatches``) so a lesson can show it.

The Kyverno-facing hook lives in :mod:`labhelpers.trust.kyverno` and is re-exported here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labhelpers.sandbox.registries import NotFoundError, RegistryClient, RegistryClientError

from ._registry import Target, async_client, ggcr_error, go_json, run_blocking
from .cosign import SIGNATURE_ANNOTATION, SignatureLayer, existing_signatures
from .keys import CosignKeyError, InvalidSignatureError, PublicKey, load_public_keys
from .names import GgcrReference, parse_ggcr, signature_tag

__all__ = [
    "EXIT_IMAGE_WITHOUT_SIGNATURE",
    "CosignKeyError",
    "EXIT_NON_EXISTENT_TAG",
    "EXIT_NO_MATCHING_SIGNATURE",
    "NO_SIGNATURES_FOUND",
    "FetchedSignatures",
    "VerificationError",
    "VerifiedSignature",
    "VerifyResult",
    "check_signatures",
    "fetch_signatures",
    "kyverno_verify_images",
    "kyverno_verify_images_async",
    "verify_image",
    "verify_image_async",
]

# cmd/cosign/errors/exit_codes.go
EXIT_IMAGE_WITHOUT_SIGNATURE = 10
EXIT_NON_EXISTENT_TAG = 11
EXIT_NO_MATCHING_SIGNATURE = 12

NO_SIGNATURES_FOUND = "no signatures found"  # ErrNoSignaturesFound (cosign >= 2.2.4, Kyverno >= 1.12)


class VerificationError(Exception):
    """A failed verification; ``str()`` is cosign's error, ``exit_code`` what ``cosign verify`` exits with.

    ``network`` marks dial failures, which Kyverno reports as rule *error* instead of *fail*.
    """

    def __init__(self, message: str, exit_code: int = 1, *, network: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.network = network


@dataclass(frozen=True)
class FetchedSignatures:
    """Everything verification reads from the registry: the image digest and its signature layers."""

    reference: GgcrReference
    digest: str
    signature_tag: str
    layers: tuple[SignatureLayer, ...]


@dataclass(frozen=True)
class VerifiedSignature:
    """A layer that passed: its payload (the claims) and which of the given keys verified it."""

    layer_digest: str
    payload: bytes
    signature: str
    key_index: int

    @property
    def claims(self) -> dict[str, Any]:
        return json.loads(self.payload)

    @property
    def docker_reference(self) -> str:
        return ((self.claims.get("critical") or {}).get("identity") or {}).get("docker-reference", "")

    @property
    def optional(self) -> dict[str, Any] | None:
        return self.claims.get("optional")


@dataclass
class VerifyResult:
    """The outcome for one image. ``error`` is cosign's message when nothing verified, else None."""

    reference: GgcrReference
    digest: str = ""
    signature_tag: str = ""
    signatures_found: int = 0
    verified: list[VerifiedSignature] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one per layer that failed, in layer order
    error: str | None = None
    exit_code: int = 0
    network_error: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.verified)

    @property
    def matching(self) -> int:
        return len(self.verified)

    @property
    def reference_mismatches(self) -> list[str]:
        """``docker-reference`` values of verified signatures naming another repository (cosign ignores them)."""
        return [v.docker_reference for v in self.verified if v.docker_reference != self.reference.repository_name]

    def payloads_json(self) -> str:
        """The JSON list ``cosign verify`` prints on stdout (payloads re-marshalled, ``optional`` kept)."""
        items = []
        for v in self.verified:
            c = v.claims
            crit = c.get("critical") or {}
            items.append({
                "critical": {
                    "identity": {"docker-reference": (crit.get("identity") or {}).get("docker-reference", "")},
                    "image": {"docker-manifest-digest": (crit.get("image") or {}).get("docker-manifest-digest", "")},
                    "type": crit.get("type", ""),
                },
                "optional": {k: c["optional"][k] for k in sorted(c["optional"])} if c.get("optional") else None,
            })
        return go_json(items).decode()


# ------------------------------------------------------------------------------------------ checking


def _go_base64(text: str) -> bytes:
    """``base64.StdEncoding.DecodeString`` with Go's ``illegal base64 data at input byte N``."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for i, ch in enumerate(text):
            if ch not in alphabet and ch != "=":
                raise ValueError(f"illegal base64 data at input byte {i}") from None
        raise ValueError(f"illegal base64 data at input byte {max(len(text) - 1, 0)}") from None


def _claim_digest(payload: bytes) -> str:
    """``SimpleClaimVerifier``'s reading of the payload: ``critical.image.docker-manifest-digest``."""
    try:
        doc = json.loads(payload)
    except ValueError as e:
        bad = payload[e.pos:e.pos + 1].decode(errors="replace") if hasattr(e, "pos") else ""
        raise ValueError(f"invalid character {bad!r} looking for beginning of value") from None
    if not isinstance(doc, dict):
        raise ValueError("json: cannot unmarshal into Go value of type payload.SimpleContainerImage")
    value = ((doc.get("critical") or {}).get("image") or {}).get("docker-manifest-digest", "")
    return value if isinstance(value, str) else ""


def _annotations_match(wanted: Mapping[str, Any], optional: Any) -> bool:
    if not isinstance(optional, dict):
        return not wanted
    return all(k in optional and optional[k] == v for k, v in wanted.items())


def _check_layer(layer: SignatureLayer, digest: str, key: PublicKey, hash_name: str,
                 annotations: Mapping[str, Any] | None) -> None:
    """cosign's ``verifyInternal`` for one layer with the tlog ignored; raises ValueError with its text."""
    b64 = layer.annotations.get(SIGNATURE_ANNOTATION)
    if b64 is None:
        raise ValueError(f"signature layer {layer.digest} is missing {json.dumps(SIGNATURE_ANNOTATION)} annotation")
    key.verify(_go_base64(b64), layer.payload, hash_name)
    found = _claim_digest(layer.payload)
    if found != digest:
        raise ValueError(f"invalid or missing digest in claim: {found}")
    if annotations is not None and not _annotations_match(annotations, json.loads(layer.payload).get("optional")):
        raise ValueError("missing or incorrect annotation")


def check_signatures(fetched: FetchedSignatures, keys: Sequence[PublicKey], *, hash_name: str = "sha256",
                     annotations: Mapping[str, Any] | None = None) -> VerifyResult:
    """Verify already-fetched signature layers (pure: no registry access). A layer passes with any key."""
    result = VerifyResult(fetched.reference, fetched.digest, fetched.signature_tag, len(fetched.layers))
    if not fetched.layers:
        result.error, result.exit_code = NO_SIGNATURES_FOUND, EXIT_IMAGE_WITHOUT_SIGNATURE
        return result
    for layer in fetched.layers:
        first_error = ""
        for i, key in enumerate(keys):
            try:
                _check_layer(layer, fetched.digest, key, hash_name, annotations)
            except (ValueError, InvalidSignatureError) as e:
                first_error = first_error or str(e)
                continue
            result.verified.append(VerifiedSignature(layer.digest, layer.payload, layer.signature or "", i))
            break
        else:
            result.errors.append(first_error)
    if not result.verified:
        result.error = "no matching signatures: " + "\n ".join(result.errors)
        result.exit_code = EXIT_NO_MATCHING_SIGNATURE
    return result


# ------------------------------------------------------------------------------------------- fetching


async def fetch_signatures(client: RegistryClient, image_ref: str | GgcrReference, *,
                           repository: str | None = None,
                           describe_url: Callable[[str], str] | None = None) -> FetchedSignatures:
    """Resolve the image digest and read its ``.sig`` layers (a missing tag means no signatures).

    ``repository`` is Kyverno's/cosign's alternate signature repository (``COSIGN_REPOSITORY``). Registry
    failures raise :class:`VerificationError` worded like go-containerregistry.
    """
    ref = parse_ggcr(image_ref) if isinstance(image_ref, str) else image_ref
    try:
        digest = ref.digest or (await client.get_manifest(ref.repository, ref.identifier)).digest
    except NotFoundError as e:
        raise VerificationError("image tag not found: " + ggcr_error(e, ref.registry, describe_url),
                                EXIT_NON_EXISTENT_TAG) from e
    except RegistryClientError as e:
        raise _registry_failure(e, ref.registry, describe_url) from e
    sig_repo = parse_ggcr(repository + ":x").repository if repository else ref.repository
    tag = signature_tag(digest)
    try:
        layers = await existing_signatures(client, sig_repo, tag)
    except RegistryClientError as e:
        raise _registry_failure(e, ref.registry, describe_url) from e
    return FetchedSignatures(ref, digest, tag, tuple(layers))


def _registry_failure(e: RegistryClientError, registry: str, describe_url: Callable[[str], str] | None
                      ) -> VerificationError:
    return VerificationError(ggcr_error(e, registry, describe_url), network=isinstance(e, ConnectionError))


def _keys(public_keys: Sequence[bytes | str | PublicKey] | bytes | str) -> list[PublicKey]:
    if isinstance(public_keys, bytes | str):
        return load_public_keys(public_keys)
    out: list[PublicKey] = []
    for k in public_keys:
        out.extend([k] if isinstance(k, PublicKey) else load_public_keys(k))
    return out


async def verify_image_async(client: RegistryClient, image_ref: str,
                             public_keys: Sequence[bytes | str | PublicKey] | bytes | str, *,
                             hash_name: str = "sha256", annotations: Mapping[str, Any] | None = None,
                             repository: str | None = None,
                             describe_url: Callable[[str], str] | None = None) -> VerifyResult:
    """``cosign verify --key <keys> --insecure-ignore-tlog`` for one image; never raises on a bad signature."""
    keys = _keys(public_keys)
    try:
        fetched = await fetch_signatures(client, image_ref, repository=repository, describe_url=describe_url)
    except VerificationError as e:
        return VerifyResult(parse_ggcr(image_ref), error=str(e), exit_code=e.exit_code, network_error=e.network)
    return check_signatures(fetched, keys, hash_name=hash_name, annotations=annotations)


def verify_image(client: Target, image_ref: str, public_keys: Sequence[bytes | str | PublicKey] | bytes | str,
                 **kwargs: Any) -> VerifyResult:
    """Blocking :func:`verify_image_async`; ``client`` may be a fleet, a client or a host -> client callable."""
    ref = parse_ggcr(image_ref)
    rc = async_client(client, ref.registry)
    return run_blocking(rc, lambda: verify_image_async(rc, image_ref, public_keys, **kwargs))


def kyverno_verify_images(*args: Any, **kwargs: Any) -> Any:
    """:func:`labhelpers.trust.kyverno.kyverno_verify_images` (re-exported here; imported late: it imports us)."""
    from .kyverno import kyverno_verify_images as impl

    return impl(*args, **kwargs)


async def kyverno_verify_images_async(*args: Any, **kwargs: Any) -> Any:
    """:func:`labhelpers.trust.kyverno.kyverno_verify_images_async`."""
    from .kyverno import kyverno_verify_images_async as impl

    return await impl(*args, **kwargs)
