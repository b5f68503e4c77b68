"""``EnsureImageExists``: pull policy, credentials, back-off and the image events (pkg/kubelet/images).

This is where a pod's container meets the registry: the ``InvalidImageName`` / ``ErrImageNeverPull`` checks,
the pod's pull-secret keyring (matched with :mod:`labhelpers.images.keyring`, the same code
:func:`labhelpers.images.pull_credentials` uses to explain decisions in the notebooks), the per-pod-and-image
back-off, and the Pulling / Pulled / Failed / BackOff events with their exact texts. Pulls are serialised
node-wide, as with the kubelet's default ``serializeImagePulls: true``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...images import (
    InvalidImageNameError,
    apply_default_image_tag,
    go_quote,
    lookup,
    make_docker_keyring,
    parse_image_name,
)
from ...images.keyring import AuthConfig, DockerConfigError
from .backoff import IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, Backoff, image_backoff_key
from .images import CriError, ImageService, go_duration

__all__ = ["ERR_IMAGE_NEVER_PULL", "ERR_IMAGE_PULL", "ERR_INVALID_IMAGE_NAME", "IMAGE_PULL_BACKOFF", "EnsureResult",
           "EventSink", "ImageManager", "default_pull_policy", "eval_cri_pull_error"]

ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_INVALID_IMAGE_NAME = "InvalidImageName"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
ERR_REGISTRY_UNAVAILABLE = "RegistryUnavailable"
ERR_SIGNATURE_VALIDATION_FAILED = "SignatureValidationFailed"

# (pod, event type, reason, message, fieldPath)
EventSink = Callable[[Mapping[str, Any], str, str, str, str], None]


@dataclass(frozen=True)
class EnsureResult:
    """(imageRef, message, error name) as EnsureImageExists returns them; ``error`` is None on success."""

    image_ref: str
    message: str
    error: str | None
    credentials: AuthConfig | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def default_pull_policy(image: str) -> str:
    """SetDefaults_Container: Always for ``:latest`` or untagged images, else IfNotPresent."""
    try:
        _, tag, digest = parse_image_name(image)
    except InvalidImageNameError:
        return "IfNotPresent"
    if digest:
        return "IfNotPresent"
    return "Always" if tag == "latest" else "IfNotPresent"


def eval_cri_pull_error(image: str, err: str) -> tuple[str, str]:
    """``evalCRIPullErr``: (message, error name) for a failed pull."""
    for name, what in ((ERR_REGISTRY_UNAVAILABLE, "the registry is unavailable"),
                       (ERR_SIGNATURE_VALIDATION_FAILED, "the signature validation failed")):
        if err.startswith(name):
            return f"image pull failed for {image} because {what}{err[len(name):]}", name
    return err, ERR_IMAGE_PULL


class ImageManager:
    """The kubelet's image manager for one node; ``clock`` is the sandbox clock the back-off runs on."""

    def __init__(self, images: ImageService, events: EventSink, clock: Callable[[], float]) -> None:
        self.images = images
        self.events = events
        self.clock = clock
        self.backoff = Backoff(IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, clock)
        self._prev_error: dict[str, str] = {}
        self._pull_lock = asyncio.Lock()  # serialised image puller

    async def ensure_image_exists(self, pod: Mapping[str, Any], container: Mapping[str, Any], field_path: str,
                                  pull_secrets: list[Mapping[str, Any]]) -> EnsureResult:
        requested = str(container.get("image") or "")
        policy = container.get("imagePullPolicy") or default_pull_policy(requested)

        def event(type_: str, reason: str, message: str) -> None:
            self.events(pod, type_, reason, message, field_path)

        try:
            image = apply_default_image_tag(requested)
        except InvalidImageNameError as e:
            msg = f"Failed to apply default image tag {go_quote(requested)}: {e}"
            event("Warning", "InspectFailed", msg)
            return EnsureResult("", msg, ERR_INVALID_IMAGE_NAME)

        image_ref = self.images.image_ref(image) if policy in ("IfNotPresent", "Never") else ""
        if not image_ref and policy == "Never":
            msg = f"Container image {go_quote(requested)} is not present with pull policy of Never"
            event("Warning", "ErrImageNeverPull", msg)
            return EnsureResult("", msg, ERR_IMAGE_NEVER_PULL)

        repo = parse_image_name(image)[0]
        try:
            keyring = make_docker_keyring(pull_secrets)
        except DockerConfigError as e:  # the kubelet reports the decode error as the error itself
            return EnsureResult("", str(e), str(e))
        credentials = lookup(repo, [keyring])

        if image_ref:
            msg = f"Container image {go_quote(requested)} already present on machine"
            event("Normal", "Pulled", msg)
            return EnsureResult(image_ref, msg, None)
        return await self._pull(pod, requested, image, credentials, event)

    async def _pull(self, pod: Mapping[str, Any], requested: str, image: str, credentials: list[AuthConfig],
                    event: Callable[[str, str, str], None]) -> EnsureResult:
        key = image_backoff_key(pod.get("metadata", {}).get("uid", ""), requested)
        if self.backoff.is_in_backoff_since_update(key, self.clock()):
            msg = f"Back-off pulling image {go_quote(requested)}"
            event("Normal", "BackOff", msg)
            prev = self._prev_error.get(key)
            return EnsureResult("", f"{msg}: {prev}" if prev else msg, IMAGE_PULL_BACKOFF)
        self._prev_error.pop(key, None)
        event("Normal", "Pulling", f"Pulling image {go_quote(requested)}")
        start = time.monotonic()
        try:
            async with self._pull_lock:
                result = await self.images.pull(image, credentials)
        except CriError as e:
            event("Warning", "Failed", f"Failed to pull image {go_quote(requested)}: {e}")
            self.backoff.next(key, self.clock())
            msg, name = eval_cri_pull_error(requested, str(e))
            self._prev_error[key] = f"{name}: {msg}"
            return EnsureResult("", msg, name)
        total = time.monotonic() - start
        event("Normal", "Pulled",
              f"Successfully pulled image {go_quote(requested)} in {go_duration(result.duration)} "
              f"({go_duration(total)} including waiting). Image size: {result.image.size} bytes.")
        self.backoff.gc()
        return EnsureResult(result.image.ref, "", None, result.credentials)

    def forget_pod(self, pod_uid: str) -> None:
        """Drop the remembered pull errors of a pod that is gone (the back-off entries expire on their own)."""
        for key in [k for k in self._prev_error if k.startswith(pod_uid + "_")]:
            del self._prev_error[key]
