"""``cosign sign --key`` for the sandbox registries, writing what cosign writes.

A signature is a simple-signing JSON payload naming the image's manifest digest, signed with ECDSA-SHA256 and
stored as a layer of an OCI image tagged ``sha256-<hex>.sig`` in the image's repository; the base64 signature is
the layer annotation ``dev.cosignproject.cosign/signature``. This is cosign's "legacy" tag layout (cosign v1/v2,
and v3 with ``--new-bundle-format=false``), the one Kyverno's default ``type: Cosign`` reads. Manifest, config and
payload bytes are reproduced exactly, so the shared conformance vectors' digests come out the same.

The sandbox has no transparency log (Rekor): signatures are made as with ``--tlog-upload=false``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labhelpers.sandbox.registries import Credentials, NotFoundError, RegistryClient, oci
from labhelpers.sandbox.registries.catalog import DOCKER_HUB

from ._registry import Target, async_client, go_json, run_blocking
from .keys import (
    CosignKeyError,
    PublicKey,
    generate_key_pair,
    load_private_key,
    public_key_pem,
    sign_payload,
)
from .names import GgcrReference, parse_ggcr, signature_tag

__all__ = [
    "SIGNATURE_ANNOTATION",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "CosignKeyError",
    "SignResult",
    "SignatureLayer",
    "build_signature_image",
    "generate_key_pair",
    "load_private_key",
    "presign",
    "sign_image",
    "sign_image_async",
    "simple_signing_payload",
]

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
PAYLOAD_TYPE = "cosign container image signature"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # go-containerregistry's empty.Image timestamps

LAB_KEY_PASSWORD = "lab-cosign-password"
PRESIGNED_IMAGES = ("docker.io/youruser/signed-app:v1.0", "docker.io/youruser/trusted-app:v1.0")
PRESIGN_ACCOUNT = "your-username"


def simple_signing_payload(docker_reference: str, manifest_digest: str,
                           annotations: Mapping[str, Any] | None = None) -> bytes:
    """sigstore's ``payload.Cosign.MarshalJSON``: struct order, ``optional`` a sorted map or ``null``."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": {k: annotations[k] for k in sorted(annotations)} if annotations else None,
    }
    return go_json(doc)


@dataclass(frozen=True)
class SignatureLayer:
    """One signature in a ``.sig`` image: the payload blob and the layer's annotations."""

    payload: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)
    media_type: str = SIMPLE_SIGNING_MEDIA_TYPE

    @property
    def digest(self) -> str:
        return oci.sha256_digest(self.payload)

    @property
    def signature(self) -> str | None:
        return self.annotations.get(SIGNATURE_ANNOTATION)

    def descriptor(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "size": len(self.payload), "digest": self.digest}
        if self.annotations:
            d["annotations"] = {k: self.annotations[k] for k in sorted(self.annotations)}
        return d


def build_signature_image(layers: list[SignatureLayer], *, docker_media_types: bool = False
                          ) -> tuple[bytes, bytes, str]:
    """(manifest, config, manifest media type) of the ``.sig`` image, byte for byte as cosign pushes them.

    The config is go-containerregistry's ``empty.Image`` after one ``mutate.Append`` per signature; Go's
    struct field order is kept (``config`` last, ``created`` in the zero time).
    """
    config_doc = {
        "architecture": "",
        "created": GO_ZERO_TIME,
        "history": [{"created": GO_ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "config": {},
    }
    config = go_json(config_doc)
    manifest_type = oci.DOCKER_MANIFEST if docker_media_types else oci.OCI_MANIFEST
    config_type = oci.DOCKER_CONFIG if docker_media_types else oci.OCI_CONFIG
    manifest = go_json({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "size": len(config), "digest": oci.sha256_digest(config)},
        "layers": [layer.descriptor() for layer in layers],
    })
    return manifest, config, manifest_type


@dataclass(frozen=True)
class SignResult:
    """What a signing did: the digest signed, where the signature went, and whether a layer was added."""

    reference: GgcrReference  # the image as cosign names it (index.docker.io/...)
    digest: str
    signature_tag: str
    signature_manifest_digest: str
    payload: bytes
    signature: str  # base64
    added: bool  # False when an identical signature was already there (cosign's duplicate detection)

    @property
    def pushed_to(self) -> str:
        """``Pushing signature to: <repository>`` as cosign prints it."""
        return self.reference.repository_name


async def existing_signatures(client: RegistryClient, repository: str, tag: str) -> list[SignatureLayer]:
    """The layers of ``repository:tag`` (a ``.sig`` image); empty when the tag does not exist."""
    try:
        manifest = await client.get_manifest(repository, tag)
    except NotFoundError:
        return []
    out = []
    for desc in manifest.json().get("layers") or []:
        payload = await client.get_blob(repository, desc["digest"])
        out.append(SignatureLayer(payload, dict(desc.get("annotations") or {}),
                                  desc.get("mediaType", SIMPLE_SIGNING_MEDIA_TYPE)))
    return out


def _is_duplicate(existing: SignatureLayer, new: SignatureLayer, public: PublicKey) -> bool:
    """cosign's DupeDetector: same payload and media type, other annotations equal, verifies with our key."""
    if existing.digest != new.digest or existing.media_type != new.media_type:
        return False
    others = {k: v for k, v in existing.annotations.items() if k != SIGNATURE_ANNOTATION}
    if others != {k: v for k, v in new.annotations.items() if k != SIGNATURE_ANNOTATION}:
        return False
    try:
        public.verify(base64.b64decode(existing.signature or "", validate=True), existing.payload)
    except ValueError:  # bad base64 or a signature that is not ours: not a duplicate
        return False
    return True


async def sign_image_async(client: RegistryClient, image_ref: str, private_key: Any, *,
                           annotations: Mapping[str, Any] | None = None,
                           docker_media_types: bool = False) -> SignResult:
    """Resolve ``image_ref`` to its digest, sign it and push (or extend) its ``.sig`` image."""
    ref = parse_ggcr(image_ref)
    digest = ref.digest or (await client.get_manifest(ref.repository, ref.identifier)).digest
    payload = simple_signing_payload(ref.repository_name, digest, annotations)
    signature = base64.b64encode(sign_payload(private_key, payload)).decode()
    layer = SignatureLayer(payload, {SIGNATURE_ANNOTATION: signature})
    tag = signature_tag(digest)
    layers = await existing_signatures(client, ref.repository, tag)
    public = PublicKey(private_key.public_key(), public_key_pem(private_key.public_key()))
    added = not any(_is_duplicate(old, layer, public) for old in layers)
    if added:
        layers.append(layer)
    manifest, config, media_type = build_signature_image(layers, docker_media_types=docker_media_types)
    for blob in [*(sig.payload for sig in layers), config]:
        await client.push_blob(ref.repository, blob)
    manifest_digest = await client.push_manifest(ref.repository, tag, manifest, media_type)
    return SignResult(ref, digest, tag, manifest_digest, payload, signature, added)


def sign_image(client_or_fleet: Target, image_ref: str, private_key: Any, *,
               username: str | None = None, password: str | None = None,
               annotations: Mapping[str, Any] | None = None, docker_media_types: bool = False) -> SignResult:
    """Blocking :func:`sign_image_async`; with a fleet, ``username``/``password`` are the push credentials."""
    ref = parse_ggcr(image_ref)
    creds = Credentials(username, password or "") if username is not None else None
    client = async_client(client_or_fleet, ref.registry, creds)
    return run_blocking(client, lambda: sign_image_async(client, image_ref, private_key, annotations=annotations,
                                                         docker_media_types=docker_media_types))


# ------------------------------------------------------------------------------------------- sandbox up


def _account_password(username: str) -> str:
    return next(a.password for a in DOCKER_HUB.accounts if a.username == username)


def ensure_lab_key_pair(lab_key_dir: str | Path, password: str = LAB_KEY_PASSWORD) -> tuple[Path, Path]:
    """cosign.key / cosign.pub in ``lab_key_dir``, generated on first use and then kept."""
    d = Path(lab_key_dir)
    d.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = d / "cosign.key", d / "cosign.pub"
    if not (key_path.is_file() and pub_path.is_file()):
        private_pem, public_pem = generate_key_pair(password)
        key_path.write_bytes(private_pem)
        key_path.chmod(0o600)
        pub_path.write_bytes(public_pem)
    return key_path, pub_path


def presign(fleet: Any, lab_key_dir: str | Path, *, images: tuple[str, ...] = PRESIGNED_IMAGES) -> dict[str, Any]:
    """Sign the lab's "signed" images with the lab key at ``sandbox up`` (idempotent; unsigned-app stays unsigned).

    Returns what ``labctl sandbox info -o json`` shows about the key: its paths and demo password.
    """
    key_path, pub_path = ensure_lab_key_pair(lab_key_dir)
    private_key = load_private_key(key_path.read_bytes(), LAB_KEY_PASSWORD)
    signed = []
    for image in images:
        result = sign_image(fleet, image, private_key, username=PRESIGN_ACCOUNT,
                            password=_account_password(PRESIGN_ACCOUNT))
        signed.append({"image": image, "digest": result.digest, "signature_tag": result.signature_tag})
    return {"public_key_path": str(pub_path), "private_key_path": str(key_path), "password": LAB_KEY_PASSWORD,
            "signed_images": signed}

