"""Kyverno ``verifyImages`` (type Cosign, static keys) for the sandbox admission engine.

Interface for the admission engineer::

    outcomes = kyverno_verify_images(rule, ["youruser/app:v1", ...], fetch_client)

``rule`` is a ClusterPolicy rule (``{"name":..., "verifyImages": [...]}``), one ``verifyImages`` entry, or a list
of entries. ``image_refs`` are the Pod's images as written. ``fetch_client(repository)`` gets the repository as
Kyverno spells it (``docker.io/youruser/app``) and returns a registry client (``RegistryClient``,
``SyncRegistryClient`` or a started ``RegistryFleet``) carrying **Kyverno's** credentials; build one with
:func:`registry_access`. The result has one :class:`ImageVerification` per (entry, matching image): status
``pass``/``fail``/``error``/``skip``, Kyverno's message, and for ``mutateDigest`` the replacement image.
Images that match no ``imageReferences`` produce nothing, as in Kyverno.

Whose credentials: Kyverno never uses the Pod's ``imagePullSecrets`` nor the node's. It reads registries with
the Secrets named by its own ``--imagePullSecrets`` flag (in Kyverno's namespace), the rule's
``imageRegistryCredentials.secrets``, and the cloud helpers of ``--registryCredentialHelpers``
(default, google, amazon, azure, github), none of which yield anything on the lab. So a Pod that pulls a private
image fine can still fail verification with ``UNAUTHORIZED``; :func:`registry_access` reproduces that.

Defaults: ``mutateDigest``, ``verifyDigest``, ``required`` are true when absent (the CRD schema's defaults).
Deviation: the sandbox has no transparency log, so ``rekor``/``ctlog`` settings are accepted and ignored, as if
``ignoreTlog: true``; keyless attestors, attestations and ``annotations`` are not supported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labhelpers.images.keyring import make_docker_keyring
from labhelpers.sandbox.admission.kyverno.results import RuleStatus
from labhelpers.sandbox.admission.kyverno.wildcard import match as wildcard_match
from labhelpers.sandbox.registries import RegistryClient, RegistryFleet
from labhelpers.sandbox.registries._loop import shared_loop

from ._registry import async_client
from .keys import CosignKeyError, load_public_keys
from .names import kyverno_image, parse_ggcr
from .verify import FetchedSignatures, VerificationError, check_signatures, fetch_signatures

__all__ = ["ImageVerification", "kyverno_validate_images", "kyverno_verify_images",
           "kyverno_verify_images_async", "registry_access"]

ANNOTATION = "kyverno.io/verify-images"

FetchClient = Callable[[str], Any]


@dataclass(frozen=True)
class ImageVerification:
    """One image checked by one ``verifyImages`` entry."""

    index: int  # position in image_refs
    image: str  # as written in the Pod
    kyverno_image: str  # GetImageInfo's string, as used in messages and matching
    entry: int  # index in rule.verifyImages
    status: RuleStatus
    message: str
    digest: str = ""
    patched_image: str | None = None  # mutateDigest: the new value for the image field, else None
    verify_digest: bool = True
    required: bool = True


def _entries(rule: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(rule, Mapping):
        if "verifyImages" in rule:
            return [dict(e) for e in rule.get("verifyImages") or []]
        return [dict(rule)]
    return [dict(e) for e in rule]


def _convert(entry: dict[str, Any]) -> dict[str, Any]:
    """``ImageVerification.Convert``: deprecated ``image``/``key`` become ``imageReferences``/``attestors``."""
    out = dict(entry)
    if not out.get("imageReferences") and out.get("image"):
        out["imageReferences"] = [out["image"]]
    if not out.get("attestors") and out.get("key"):
        out["attestors"] = [{"entries": [{"keys": {"publicKeys": out["key"]}}]}]
    for flag in ("mutateDigest", "verifyDigest", "required"):
        out.setdefault(flag, True)
    return out


def _matches(patterns: Iterable[str], image: str) -> bool:
    return any(wildcard_match(p, image) for p in patterns or ())


def _expand_static_keys(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``ExpandStaticKeys``: an entry whose ``publicKeys`` holds several PEM blocks becomes one entry per key."""
    out: list[dict[str, Any]] = []
    for e in entries:
        keys = (e.get("keys") or {}) if isinstance(e, Mapping) else {}
        pem = keys.get("publicKeys") or ""
        if isinstance(pem, str) and pem.count("-----BEGIN") > 1:
            for k in load_public_keys(pem):
                out.append({**e, "keys": {**keys, "publicKeys": k.pem.decode()}})
        else:
            out.append(dict(e))
    return out


def _verify_entry(fetched: FetchedSignatures, entry: Mapping[str, Any]) -> tuple[str, str]:
    """(sub-path, error or '') for one attestor entry."""
    if "keys" not in entry:
        kind = next((k for k in ("certificates", "keyless", "attestor") if k in entry), "keys")
        return f".{kind}", f"{kind} attestors are not supported by the lab sandbox"
    keys = entry["keys"] or {}
    pem = keys.get("publicKeys") or ""
    if not isinstance(pem, str) or not pem.strip().startswith("-----BEGIN"):
        return ".keys", f"unsupported key reference {pem!r} in the lab sandbox (use an inline PEM public key)"
    try:
        public = load_public_keys(pem)
    except CosignKeyError as e:
        return ".keys", f"failed to load public key from PEM: {e}"
    result = check_signatures(fetched, public[:1], hash_name=keys.get("signatureAlgorithm") or "sha256")
    return ".keys", result.error or ""


def _verify_attestor_set(fetched: FetchedSignatures, attestor: Mapping[str, Any], path: str) -> str:
    """``verifyAttestorSet``: '' when ``count`` (default: all) entries verify, else the entries' errors."""
    entries = _expand_static_keys(attestor.get("entries") or [])
    required = attestor.get("count") or len(entries)
    verified, errors = 0, []
    for j, entry in enumerate(entries):
        sub, err = _verify_entry(fetched, entry)
        if not err:
            verified += 1
            if verified >= required:
                return ""
        else:
            errors.append(f"{path}.entries[{j}]{sub}: {err}")
    return "; ".join(errors)


async def _verify_one(entry: Mapping[str, Any], image: str, fetch_client: FetchClient,
                      describe_url: Callable[[str], str] | None) -> tuple[RuleStatus, str, str]:
    info = kyverno_image(image)
    name = str(info)
    ref = parse_ggcr(name)
    client: RegistryClient = async_client(fetch_client(f"{info.registry}/{info.path}"), info.registry)
    try:
        fetched = await fetch_signatures(client, ref, repository=entry.get("repository") or None,
                                         describe_url=describe_url)
    except VerificationError as e:
        # Kyverno reaches cosign per attestor entry, so a registry failure surfaces on the first entry.
        status = RuleStatus.ERROR if e.network else RuleStatus.FAIL
        return status, f"failed to verify image {name}: .attestors[0].entries[0].keys: {e}", ""
    finally:
        await client.close()
    attestors = entry.get("attestors") or []
    if not attestors:
        return RuleStatus.ERROR, f"failed to verify image {name}: no attestors", ""
    for i, attestor in enumerate(attestors):
        err = _verify_attestor_set(fetched, attestor, f".attestors[{i}]")
        if err:
            return RuleStatus.FAIL, f"failed to verify image {name}: {err}", ""
    return RuleStatus.PASS, f"verified image signatures for {name}", fetched.digest


async def kyverno_verify_images_async(rule: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                                      image_refs: Sequence[str], fetch_client: FetchClient, *,
                                      describe_url: Callable[[str], str] | None = None,
                                      ) -> list[ImageVerification]:
    """The mutating-webhook half of a verifyImages rule (see the module docstring for the contract)."""
    out: list[ImageVerification] = []
    for e_idx, raw in enumerate(_entries(rule)):
        entry = _convert(raw)
        refs, skips = entry.get("imageReferences") or [], entry.get("skipImageReferences") or []
        for i, image in enumerate(image_refs):
            try:
                info = kyverno_image(image)
            except ValueError:
                continue  # the API server's own validation rejects such a Pod first
            name = str(info)
            if not _matches(refs, name):
                continue
            flags = {"verify_digest": bool(entry["verifyDigest"]), "required": bool(entry["required"])}
            if _matches(skips, name):
                out.append(ImageVerification(i, image, name, e_idx, RuleStatus.SKIP,
                                             f"skipping image reference image {name}", **flags))
                continue
            if (entry.get("type") or "Cosign") != "Cosign":
                out.append(ImageVerification(i, image, name, e_idx, RuleStatus.ERROR,
                                             f"failed to verify image {name}: type {entry['type']} is not "
                                             "supported by the lab sandbox", **flags))
                continue
            status, message, digest = await _verify_one(entry, image, fetch_client, describe_url)
            patched = None
            if status == RuleStatus.PASS and entry["mutateDigest"] and not info.digest and digest:
                patched = info.with_digest(digest)
            out.append(ImageVerification(i, image, name, e_idx, status, message, digest, patched, **flags))
    return out


def kyverno_verify_images(rule: Mapping[str, Any] | Sequence[Mapping[str, Any]], image_refs: Sequence[str],
                          fetch_client: FetchClient, *, describe_url: Callable[[str], str] | None = None,
                          timeout: float = 120.0) -> list[ImageVerification]:
    """Blocking :func:`kyverno_verify_images_async` (runs on the registries' loop; not from that loop)."""
    return shared_loop().run(kyverno_verify_images_async(rule, image_refs, fetch_client,
                                                         describe_url=describe_url), timeout=timeout)


def kyverno_validate_images(rule: Mapping[str, Any] | Sequence[Mapping[str, Any]], image_refs: Sequence[str],
                            verified: Mapping[str, str]) -> list[ImageVerification]:
    """The validating-webhook half: ``verifyDigest`` and ``required`` for each matching image.

    ``verified`` maps Kyverno image strings to the mutating step's verdict (``pass``/``fail``/``skip``), i.e.
    the ``kyverno.io/verify-images`` annotation. Messages: ``missing digest for <image>``,
    ``unverified image <image>``, ``image verified``.
    """
    out: list[ImageVerification] = []
    for e_idx, raw in enumerate(_entries(rule)):
        entry = _convert(raw)
        for i, image in enumerate(image_refs):
            try:
                info = kyverno_image(image)
            except ValueError:
                continue
            name = str(info)
            if not _matches(entry.get("imageReferences") or [], name):
                continue
            if _matches(entry.get("skipImageReferences") or [], name):
                continue
            flags = {"verify_digest": bool(entry["verifyDigest"]), "required": bool(entry["required"])}
            if entry["verifyDigest"] and not info.digest:
                out.append(ImageVerification(i, image, name, e_idx, RuleStatus.FAIL, f"missing digest for {name}",
                                             **flags))
            elif entry["required"] and verified.get(name) not in ("pass", "skip"):
                out.append(ImageVerification(i, image, name, e_idx, RuleStatus.FAIL, f"unverified image {name}",
                                             **flags))
            else:
                out.append(ImageVerification(i, image, name, e_idx, RuleStatus.PASS, "image verified", **flags))
    return out


def registry_access(fleet: RegistryFleet, secrets: Iterable[Mapping[str, Any]] = ()) -> FetchClient:
    """A ``fetch_client`` with the credentials Kyverno would have: its ``--imagePullSecrets`` Secrets.

    ``secrets`` are API-form Secrets (``kubernetes.io/dockerconfigjson``) from Kyverno's namespace plus any
    named in the rule's ``imageRegistryCredentials.secrets``; the kubelet's keyring rules pick the entry. Without
    a match the registry is read anonymously, which is what makes private images fail verification.
    """
    keyring = make_docker_keyring(list(secrets))

    def fetch_client(repository: str) -> Any:
        host = repository.split("/", 1)[0]
        creds = keyring.lookup(repository) if keyring is not None else []
        if creds:
            return fleet.client(host, creds[0].username, creds[0].password)
        return fleet.client(host)

    return fetch_client
