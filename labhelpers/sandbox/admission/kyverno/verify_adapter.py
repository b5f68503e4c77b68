"""Kyverno's ``verifyImages`` in the sandbox, backed by :mod:`labhelpers.trust.kyverno`.

Kyverno splits image verification over its two webhooks, and so does this module:

* :func:`make_verify_images_hook` is the **mutating** half (the :mod:`.hooks` contract): verify the signatures
  of every matching image with cosign's rules, pin verified images to their digest (``mutateDigest``) and
  record the verdicts in the ``kyverno.io/verify-images`` annotation (``{"<image>": "pass"}``), as
  ``pkg/engine/internal/imageverifier.go`` and the ``imageverification`` webhook handler do.
* :func:`make_validate_images_check` is the **validating** half (``validate_image.go``): ``verifyDigest``
  (``missing digest for <image>``) and ``required`` (the annotation must say ``pass``/``skip``:
  ``unverified image <image>``), denied by ``validate.kyverno.svc-fail`` when Enforce.

Registry credentials are Kyverno's own, never the Pod's: the Secrets in the ``kyverno`` namespace named by the
admission controller's ``--imagePullSecrets`` flag (read from its Deployment) plus the entry's
``imageRegistryCredentials.secrets``. Missing Secrets are skipped, so the registry is read anonymously.

Deviations: results of the validating half block and warn but are not added to policy reports; a policy whose
validate rules and verifyImages rules both fail lists them in two denials (the validate rules first) instead
of one; unchanged images on UPDATE are not re-verified (as upstream) but there is no verification cache.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from labhelpers.sandbox.registries import RegistryClientError, RegistryFleet, UnknownHostError
from labhelpers.trust._registry import go_json
from labhelpers.trust.kyverno import ImageVerification, kyverno_verify_images, registry_access
from labhelpers.trust.names import kyverno_image

from ...apiserver import resources as res
from ...apiserver.errors import ApiError
from ...apiserver.objects import AdmissionRequest, Registry, Validator
from . import messages, policies
from . import plugin as plugin_mod
from .engine import PolicyResponse, decide
from .hooks import VerifyImagesHook, VerifyImagesPolicy, verify_images_targets
from .results import RuleResult, RuleStatus
from .wildcard import match as wildcard_match

__all__ = ["ANNOTATION", "image_fields", "kyverno_pull_secrets", "make_validate_images_check",
           "make_verify_images_hook"]

log = logging.getLogger("labhelpers.sandbox.kyverno.verify")

ANNOTATION = "kyverno.io/verify-images"  # kyverno.AnnotationImageVerify
_POD_SPEC = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    **{k: ("spec", "template", "spec") for k in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job",
                                                 "ReplicationController")},
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")  # BuildStandardExtractors

Pointer = tuple[str | int, ...]


# --- the images of a resource -----------------------------------------------------------------------------


def image_fields(obj: Mapping[str, Any] | None, kind: str | None = None) -> list[tuple[Pointer, str]]:
    """(path, image) of every container image Kyverno's standard extractors find in ``obj``."""
    if not obj:
        return []
    prefix = _POD_SPEC.get(kind or str(obj.get("kind", "")))
    if prefix is None:
        return []
    spec: Any = obj
    for key in prefix:
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    out: list[tuple[Pointer, str]] = []
    for key in _CONTAINER_LISTS:
        for i, c in enumerate(spec.get(key) or []):
            if isinstance(c, Mapping) and isinstance(c.get("image"), str):
                out.append(((*prefix, key, i, "image"), c["image"]))
    return out


def _set(obj: dict[str, Any], path: Pointer, value: str) -> None:
    target: Any = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _kyverno_name(image: str) -> str | None:
    try:
        return str(kyverno_image(image))
    except ValueError:
        return None


def _matches(patterns: Iterable[str] | None, image: str) -> bool:
    return any(wildcard_match(p, image) for p in patterns or ())


def _entry(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``ImageVerification.Convert`` plus the CRD defaults (policies built without the API server lack them)."""
    out = dict(raw)
    if not out.get("imageReferences") and out.get("image"):
        out["imageReferences"] = [out["image"]]
    for flag in ("mutateDigest", "verifyDigest", "required"):
        out.setdefault(flag, True)
    return out


# --- Kyverno's registry credentials -----------------------------------------------------------------------


def kyverno_pull_secrets(registry: Registry, extra: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The Secrets Kyverno reads registries with: its ``--imagePullSecrets`` plus ``extra`` names, from its
    namespace (never the Pod's ``imagePullSecrets``)."""
    deploy_rt = res.lookup("apps", "v1", "deployments")
    secret_rt = res.lookup("", "v1", "secrets")
    assert deploy_rt is not None and secret_rt is not None
    names: list[str] = []
    deployment = registry.find(deploy_rt, plugin_mod.NAMESPACE, "kyverno") or {}
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for c in containers:
        if c.get("name") != "kyverno":
            continue
        args = [a for arg in c.get("args") or [] for a in shlex.split(str(arg))]
        for i, arg in enumerate(args):
            flag, eq, value = arg.lstrip("-").partition("=")
            if flag == "imagePullSecrets":
                value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
                names.extend(n.strip() for n in value.split(",") if n.strip())
    names.extend(extra)
    out = []
    for name in dict.fromkeys(names):
        secret = registry.find(secret_rt, plugin_mod.NAMESPACE, name)
        if secret is None:
            log.info("Kyverno registry secret %s/%s not found; reading registries anonymously",
                     plugin_mod.NAMESPACE, name)
        else:
            out.append(secret)
    return out


class _NoSuchHost(RegistryClientError, ConnectionError):
    """A dial failure for a host the sandbox DNS does not know (ggcr's ping error text)."""

    def __init__(self, host: str) -> None:
        super().__init__(f'Get "https://{host}/v2/": dial tcp: lookup {host}: no such host')


class _UnresolvableRegistry:
    """Shaped like a ``RegistryClient``: every call fails as a DNS lookup failure would."""

    def __init__(self, host: str) -> None:
        self.host = host

    async def get_manifest(self, *args: Any, **kwargs: Any) -> Any:
        raise _NoSuchHost(self.host)

    async def close(self) -> None:
        return None


def _fetch_client(fleet: RegistryFleet, secrets: list[dict[str, Any]]):
    inner = registry_access(fleet, secrets)

    def fetch(repository: str) -> Any:
        try:
            return inner(repository)
        except UnknownHostError:
            return _UnresolvableRegistry(repository.split("/", 1)[0])

    return fetch


# --- the mutating half --------------------------------------------------------------------------------------


def _annotation_status(status: RuleStatus) -> str:
    """``ruleStatusToImageVerificationStatus``."""
    return {RuleStatus.PASS: "pass", RuleStatus.SKIP: "skip"}.get(status, "fail")


def make_verify_images_hook(fleet: RegistryFleet, registry: Registry) -> VerifyImagesHook:
    """The ``verify_images`` hook for :func:`.plugin.install`: cosign checks against the lab registries."""

    def hook(req: AdmissionRequest, targets: list[VerifyImagesPolicy]) -> list[PolicyResponse]:
        obj = req.obj
        if obj is None:
            return []
        fields = image_fields(obj, req.rt.kind)
        old = dict(image_fields(req.old, req.rt.kind)) if req.operation == "UPDATE" else {}
        verdicts: dict[str, str] = {}
        patches: dict[Pointer, str] = {}
        responses = []
        for target in targets:
            resp = PolicyResponse(target.policy)
            for rule in target.rules:
                for raw in rule.get("verifyImages") or []:
                    if isinstance(raw, Mapping):
                        resp.results.extend(_verify_entry(fleet, registry, rule["name"], _entry(raw), fields, old,
                                                          verdicts, patches))
            responses.append(resp)
        for path, image in patches.items():
            _set(obj, path, image)
        if verdicts:
            meta = obj.setdefault("metadata", {})
            annotations = meta.get("annotations")
            if not isinstance(annotations, dict):
                annotations = meta["annotations"] = {}
            annotations[ANNOTATION] = go_json(verdicts, sort_keys=True).decode()
        return responses

    return hook


def _verify_entry(fleet: RegistryFleet, registry: Registry, rule_name: str, entry: dict[str, Any],
                  fields: list[tuple[Pointer, str]], old: Mapping[Pointer, str], verdicts: dict[str, str],
                  patches: dict[Pointer, str]) -> list[RuleResult]:
    """``ImageVerifier.Verify`` for one verifyImages entry over the resource's images."""
    checked: list[tuple[Pointer, str]] = []
    for path, image in fields:
        name = _kyverno_name(image)
        if name is None or not _matches(entry.get("imageReferences"), name):
            continue
        if old.get(path) == image:
            verdicts[name] = "pass"  # "no change in image, skipping check"
            continue
        checked.append((path, image))
    if not checked:
        return []
    creds = (entry.get("imageRegistryCredentials") or {}).get("secrets") or []
    fetch = _fetch_client(fleet, kyverno_pull_secrets(registry, [str(s) for s in creds]))
    try:
        outcomes: list[ImageVerification] = kyverno_verify_images(entry, [img for _, img in checked], fetch)
    except Exception as e:  # e.g. a registry that never answers: an error result, as a webhook timeout would be
        log.exception("image verification for rule %s failed", rule_name)
        return [RuleResult(rule_name, RuleStatus.ERROR, f"failed to verify image {_kyverno_name(img)}: {e}")
                for _, img in checked]
    results = []
    has_attestors = bool(entry.get("attestors") or entry.get("attestations"))
    for o in outcomes:
        path = checked[o.index][0]
        key = o.kyverno_image
        if o.patched_image:
            patches[path] = o.patched_image
            key = _kyverno_name(o.patched_image) or key
        if has_attestors:
            verdicts[key] = _annotation_status(o.status)
        results.append(RuleResult(rule_name, o.status, o.message))
    return results


# --- the validating half ------------------------------------------------------------------------------------


def _verified_status(obj: Mapping[str, Any], image: str) -> tuple[str, str]:
    """(status, error) from the annotation, as ``engineutils.IsImageVerified``."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not annotations:
        return "fail", ""
    if ANNOTATION not in annotations:
        return "fail", "image is not verified"
    try:
        data = json.loads(annotations[ANNOTATION])
        if not isinstance(data, dict):
            raise ValueError(f"json: cannot unmarshal {type(data).__name__} into Go value of type "
                             "map[string]api.ImageVerificationMetadataStatus")
    except ValueError as e:
        return "fail", f"failed to parse image metadata: {e}"
    value = data.get(image, "fail")
    if isinstance(value, bool):  # the format of Kyverno <= 1.11
        value = "pass" if value else "fail"
    return str(value), ""


def validate_images_rule(rule: Mapping[str, Any], obj: Mapping[str, Any], kind: str) -> RuleResult | None:
    """``validateImageHandler.Process`` for one rule: None when no image matches the rule."""
    images = [n for _, img in image_fields(obj, kind) if (n := _kyverno_name(img)) is not None]
    passed: list[str] = []
    skipped: list[str] = []
    errors: list[str] = []
    matched = False
    for raw in rule.get("verifyImages") or []:
        if not isinstance(raw, Mapping):
            continue
        entry = _entry(raw)
        for image in images:
            if not _matches(entry.get("imageReferences"), image):
                continue
            matched = True
            info = kyverno_image(image)
            if entry["verifyDigest"] and not info.digest:
                errors.append(f"missing digest for {image}")
                continue
            if not entry["required"]:
                continue
            status, err = _verified_status(obj, image)
            if err:
                errors.append(err)
            elif status == "fail":
                errors.append(f"unverified image {image}")
            elif status == "skip":
                skipped.append(image)
            elif status == "pass":
                passed.append(image)
    name = str(rule.get("name", ""))
    if not matched:
        return None
    if errors:
        return RuleResult(name, RuleStatus.FAIL, "; ".join(dict.fromkeys(errors)))
    if passed or not skipped:
        text = " ".join(["image verified, skipped images:", *skipped]) if skipped else "image verified"
        return RuleResult(name, RuleStatus.PASS, text)
    return RuleResult(name, RuleStatus.SKIP, " ".join(["image skipped, skipped images:", *skipped]))


def make_validate_images_check(plugin: plugin_mod.KyvernoPlugin) -> Validator:
    """A validating plug-in (append it after the plugin's own) for the verifyImages rules' digest checks."""

    def check(req: AdmissionRequest) -> None:
        if req.operation == "DELETE" or req.subresource or req.obj is None:
            return
        if req.rt in (plugin_mod.CLUSTER_POLICY, plugin_mod.POLICY) or req.rt.group in (
                policies.GROUP, plugin_mod.POLICY_REPORT.group):
            return
        request = plugin._request(req)
        if request is None:
            return
        candidates = [p for p in plugin._admission_policies(req.namespace)
                      if plugin_mod._registered_for(p, request.gvk, req.subresource, "verifyImages")]
        responses = []
        for target in verify_images_targets(candidates, request):
            resp = PolicyResponse(target.policy)
            for rule in target.rules:
                result = validate_images_rule(rule, req.obj, req.rt.kind)
                if result is not None:
                    resp.results.append(result)
                    resp.actions[result.name] = target.failure_action(rule, req.namespace,
                                                                      request.namespace_labels)
            if resp.results:
                responses.append(resp)
        if not responses:
            return
        decision = decide(responses, req.rt.kind, req.namespace, request.name)
        if not decision.allowed:
            raise ApiError.admission_denied(messages.admission_denial_message(decision.webhook, decision.message))
        req.warnings.extend(decision.warnings)

    return check
