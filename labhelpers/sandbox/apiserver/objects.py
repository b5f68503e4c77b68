"""The generic registry: create, update, patch and delete with the apiserver's pipeline.

HTTP handlers, controllers and the kubelet all go through :class:`Registry`, so defaulting, admission,
validation, resourceVersion checks and cascading deletion behave the same whoever writes.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import random
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonpatch

from . import resources as res
from .errors import ApiError
from .resources import ResourceType
from .store import Store, WatchEvent

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(n: int = 5) -> str:
    # apiserver's generateName alphabet: consonants and digits that avoid words and look-alikes.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(random.choice(alphabet) for _ in range(n))


@dataclass
class AdmissionRequest:
    """What an admission plug-in sees (a slim admission.k8s.io AdmissionRequest)."""

    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    namespace: str
    name: str
    obj: dict | None
    old: dict | None
    dry_run: bool
    subresource: str = ""
    user: str = "lab-user"
    warnings: list[str] = field(default_factory=list)


Validator = Callable[[AdmissionRequest], None]


class Registry:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock
        # Mutating plug-ins run before validation, validating ones after (as in kube-apiserver).
        self.mutators: list[Validator] = []
        self.validators: list[Validator] = []

    # --- helpers ---

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def rt(self, api_version: str, kind: str) -> ResourceType:
        rt = res.by_kind(api_version, kind)
        if rt is None:
            raise ApiError.bad_request(f"no kind \"{kind}\" is registered for version \"{api_version}\"")
        return rt

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict:
        obj = self.store.get(rt, namespace if rt.namespaced else "", name)
        if obj is None:
            raise ApiError.not_found(rt.group_resource, name)
        return obj

    def find(self, rt: ResourceType, namespace: str, name: str) -> dict | None:
        return self.store.get(rt, namespace if rt.namespaced else "", name)

    def list(self, rt: ResourceType, namespace: str | None = None) -> list[dict]:
        return self.store.list(rt, namespace if rt.namespaced else None)

    # --- create ---

    def prepare_incoming(self, rt: ResourceType, obj: Any, namespace: str | None) -> dict:
        """Type checks and conversion that happen while decoding, before admission (400 errors)."""
        if not isinstance(obj, dict):
            raise ApiError.bad_request(
                f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                f"json: cannot unmarshal {_go_type(obj)} into Go value of type struct")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if kind and kind != rt.kind or api_version and api_version != rt.api_version:
            got = f"{api_version}, Kind={kind}" if api_version else f"Kind={kind}"
            want = f"{rt.api_version}, Kind={rt.kind}"
            raise ApiError.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
                if api_version and api_version != rt.api_version else
                f"{got} does not match the expected kind {want}")
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise ApiError.bad_request(
                f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                f"json: cannot unmarshal {_go_type(meta)} into Go struct field {rt.kind}.metadata of type v1.ObjectMeta")
        if rt.namespaced and namespace is not None:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        elif not rt.namespaced:
            meta.pop("namespace", None)
        if rt.kind == "Secret":
            _convert_secret(rt, obj)
        return obj

    def create(self, rt: ResourceType, namespace: str | None, obj: dict, *, dry_run: bool = False,
               warnings: list[str] | None = None) -> dict:
        from . import defaults, validation

        obj = self.prepare_incoming(rt, obj, namespace)
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        if not meta.get("name") and meta.get("generateName"):
            # names.SimpleNameGenerator: the base is cut so that base + 5 random characters fit in 63.
            meta["name"] = meta["generateName"][:58] + random_suffix()
        for k in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        meta["creationTimestamp"] = self.now()
        if rt.kind in ("Deployment", "ReplicaSet", "Job", "CronJob", "Namespace") or rt.custom:
            meta["generation"] = 1
        obj.pop("status", None) if rt.kind not in ("Event", "SelfSubjectAccessReview") and not rt.custom else None
        defaults.apply_defaults(rt, obj)
        req = AdmissionRequest("CREATE", rt, ns, meta.get("name", ""), obj, None, dry_run)
        for plugin in self.mutators:
            plugin(req)
        validation.raise_if_invalid(rt, obj, validation.validate_create(rt, obj))
        for plugin in self.validators:
            plugin(req)
        if warnings is not None:
            warnings.extend(req.warnings)
        if rt.virtual:
            return obj
        if self.store.get(rt, ns, meta["name"]) is not None:
            raise ApiError.already_exists(rt.group_resource, meta["name"])
        if dry_run:
            meta["uid"] = str(uuid.uuid4())
            return obj
        return self.store.create(rt, obj)

    # --- update ---

    def update(self, rt: ResourceType, namespace: str, name: str, obj: dict, *, dry_run: bool = False,
               subresource: str = "", warnings: list[str] | None = None, internal: bool = False) -> dict:
        """PUT semantics: optimistic concurrency on metadata.resourceVersion."""
        from . import defaults, validation

        obj = self.prepare_incoming(rt, obj, namespace if rt.namespaced else None)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise ApiError.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        ns = namespace if rt.namespaced else ""
        old = self.store.get(rt, ns, name)
        if old is None:
            raise ApiError.not_found(rt.group_resource, name)
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rt.group_resource, name,
                                    "the object has been modified; please apply your changes to the latest "
                                    "version and try again")
        # System-owned metadata is carried over from the stored object.
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
            else:
                meta.pop(k, None)
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
            obj = new
        elif not internal and "status" in old and rt.kind not in ("Event",) and not rt.custom:
            obj["status"] = old["status"]  # the main resource ignores status changes
        defaults.apply_defaults(rt, obj)
        if subresource != "status" and _spec_changed(old, obj) and "generation" in old["metadata"]:
            meta["generation"] = old["metadata"]["generation"] + 1
        if _semantically_equal(old, obj):
            return old  # a no-op update does not bump resourceVersion
        req = AdmissionRequest("UPDATE", rt, ns, name, obj, old, dry_run, subresource)
        if not internal:
            for plugin in self.mutators:
                plugin(req)
        validation.raise_if_invalid(rt, obj, validation.validate_update(rt, obj, old))
        if not internal:
            for plugin in self.validators:
                plugin(req)
        if warnings is not None:
            warnings.extend(req.warnings)
        if dry_run:
            return obj
        updated = self.store.update(rt, obj)
        m = updated["metadata"]
        # Like the apiserver's ShouldDeleteDuringUpdate: gone once no finalizers remain and no grace is pending
        # (a pod in graceful deletion stays until the kubelet deletes it with grace 0).
        if m.get("deletionTimestamp") and not m.get("finalizers") and not m.get("deletionGracePeriodSeconds") \
                and not (rt.kind == "Namespace" and updated.get("spec", {}).get("finalizers")):
            self._finish_delete(rt, ns, name)
        return updated

    def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str, body: Any, *,
              dry_run: bool = False, subresource: str = "", force: bool = False,
              warnings: list[str] | None = None,
              check: Callable[[dict], None] | None = None) -> tuple[dict, bool]:
        """Apply a patch; returns (object, created) — only server-side apply can create."""
        from . import codec

        ns = namespace if rt.namespaced else ""
        current = self.store.get(rt, ns, name)
        if current is None:
            if patch_type == codec.APPLY_PATCH:
                if not isinstance(body, dict):
                    raise ApiError.bad_request("error decoding YAML: object expected")
                body.setdefault("metadata", {})["name"] = name
                return self.create(rt, namespace, body, dry_run=dry_run, warnings=warnings), True
            raise ApiError.not_found(rt.group_resource, name)
        patched = apply_patch(rt, current, patch_type, body)
        if check is not None:
            check(patched)
        # A patch never needs the client to know the resourceVersion unless it sets one.
        if not (isinstance(body, dict) and body.get("metadata", {}).get("resourceVersion")):
            patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.update(rt, namespace, name, patched, dry_run=dry_run, subresource=subresource,
                           warnings=warnings), False

    # --- delete ---

    def delete(self, rt: ResourceType, namespace: str, name: str, *, propagation: str | None = None,
               dry_run: bool = False, grace_period: int | None = None, preconditions: dict | None = None,
               warnings: list[str] | None = None) -> tuple[dict, bool]:
        """Returns (object, deleted_now). Objects with finalizers are only marked for deletion."""
        ns = namespace if rt.namespaced else ""
        obj = self.get(rt, ns, name)
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != obj["metadata"]["uid"]:
                raise ApiError.conflict(rt.group_resource, name,
                                        f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                        f"UID in object meta: {obj['metadata']['uid']}")
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise ApiError.conflict(rt.group_resource, name,
                                        f"Precondition failed: ResourceVersion in precondition: "
                                        f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                                        f"{obj['metadata']['resourceVersion']}")
        req = AdmissionRequest("DELETE", rt, ns, name, None, obj, dry_run)
        for plugin in self.mutators + self.validators:
            plugin(req)
        if warnings is not None:
            warnings.extend(req.warnings)
        if dry_run:
            return obj, False
        meta = obj["metadata"]
        if rt.kind == "Namespace":
            if meta.get("deletionTimestamp"):
                return obj, False
            meta["deletionTimestamp"] = self.now()
            meta["deletionGracePeriodSeconds"] = 0
            obj.setdefault("status", {})["phase"] = "Terminating"
            return self.store.update(rt, obj), False
        if propagation is None:
            propagation = "Background"
        finalizers = list(meta.get("finalizers") or [])
        if propagation == "Foreground" and rt.kind != "Event" and self._has_dependents(obj):
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
        elif propagation == "Orphan":
            self._orphan_dependents(obj)
        if rt.kind == "Pod" and obj.get("spec", {}).get("nodeName") and self.pod_graceful_hook is not None:
            grace = grace_period if grace_period is not None else obj["spec"].get("terminationGracePeriodSeconds", 30)
            if grace > 0 and not meta.get("deletionTimestamp"):
                # Graceful: the kubelet stops the containers, then deletes with grace 0 (finalizers still apply).
                meta["deletionTimestamp"] = self.now()
                meta["deletionGracePeriodSeconds"] = grace
                updated = self.store.update(rt, obj)
                self.pod_graceful_hook(updated)
                return updated, False
        if finalizers:
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = self.now()
                meta["deletionGracePeriodSeconds"] = 0
                meta["finalizers"] = finalizers
                obj = self.store.update(rt, obj)
            return obj, False
        return self._finish_delete(rt, ns, name) or obj, True

    # Set by the sandbox kubelet: pods bound to a node terminate gracefully, as the kubelet reports back.
    pod_graceful_hook: Callable[[dict], None] | None = None

    def _finish_delete(self, rt: ResourceType, ns: str, name: str) -> dict | None:
        return self.store.delete(rt, ns, name)

    def _dependents(self, owner: dict) -> list[tuple[ResourceType, dict]]:
        uid = owner["metadata"]["uid"]
        ns = owner["metadata"].get("namespace")
        out = []
        for rt in res.all_resources():
            if rt.virtual or (ns and not rt.namespaced):
                continue
            for o in self.store.list(rt, ns if rt.namespaced else None):
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                    out.append((rt, o))
        return out

    def _has_dependents(self, owner: dict) -> bool:
        return bool(self._dependents(owner))

    def _orphan_dependents(self, owner: dict) -> None:
        uid = owner["metadata"]["uid"]
        for rt, o in self._dependents(owner):
            o["metadata"]["ownerReferences"] = [r for r in o["metadata"]["ownerReferences"] if r.get("uid") != uid]
            if not o["metadata"]["ownerReferences"]:
                del o["metadata"]["ownerReferences"]
            self.store.update(rt, o)

    def on_event(self, listener: Callable[[WatchEvent], None]) -> None:
        self.store.listeners.append(listener)


def apply_patch(rt: ResourceType, current: dict, patch_type: str, body: Any) -> dict:
    from . import codec

    original = copy.deepcopy(current)
    try:
        if patch_type == codec.JSON_PATCH:
            if not isinstance(body, list):
                raise ApiError.bad_request(
                    "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            return jsonpatch.apply_patch(original, body)
        if patch_type == codec.MERGE_PATCH:
            return json_merge_patch(original, body)
        if patch_type in (codec.STRATEGIC_PATCH, codec.APPLY_PATCH):
            if rt.custom:
                if patch_type == codec.STRATEGIC_PATCH:
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types "
                                   "include: application/json-patch+json, application/merge-patch+json, "
                                   "application/apply-patch+yaml")
                return json_merge_patch(original, body)
            from . import schemas, smp

            definition = schemas.definition_for_gvk(rt.group, rt.version, rt.kind)
            if patch_type == codec.APPLY_PATCH:
                body = {k: v for k, v in body.items() if k != "status"}
            return smp.apply_strategic_merge_patch(original, body, definition)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {e}") from e
    except ValueError as e:
        if isinstance(e, ApiError):
            raise
        from .smp import SMPError

        if isinstance(e, SMPError):
            if e.status == 400:
                raise ApiError.bad_request(str(e)) from e
            if e.status == 422:
                raise ApiError(422, "Invalid", str(e)) from e
            raise ApiError(500, None, str(e)) from e
        raise ApiError.bad_request(str(e)) from e
    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted "
                   f"media types include: {codec.JSON_PATCH}, {codec.MERGE_PATCH}, {codec.APPLY_PATCH}, "
                   f"{codec.STRATEGIC_PATCH}, {codec.APPLY_PATCH_CBOR}")


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = json_merge_patch(out.get(k), v)
    return out


def _go_type(v: Any) -> str:
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, list):
        return "array"
    return "object"


def _convert_secret(rt: ResourceType, obj: dict) -> None:
    """Secret data must be base64 on the wire; stringData is folded into data (stringData wins)."""
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        raise ApiError.bad_request(
            f"Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal "
            f"{_go_type(data)} into Go struct field Secret.data of type map[string][]uint8")
    for v in (data or {}).values():
        if v is None:
            continue
        if not isinstance(v, str):
            raise ApiError.bad_request(
                f"Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal "
                f"{_go_type(v)} into Go struct field Secret.data of type []uint8")
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            pos = _bad_base64_offset(v)
            raise ApiError.bad_request(
                f"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte {pos}"
            ) from None
    sd = obj.pop("stringData", None)
    if sd:
        if not isinstance(sd, dict):
            raise ApiError.bad_request(
                f"Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal "
                f"{_go_type(sd)} into Go struct field Secret.stringData of type map[string]string")
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for key, v in sd.items():
            data[key] = base64.b64encode(str(v).encode()).decode()


def _bad_base64_offset(s: str) -> int:
    """Index of the first byte Go's base64.StdEncoding rejects (it reports the start of the bad quantum)."""
    alphabet = set(string.ascii_letters + string.digits + "+/")
    for i, ch in enumerate(s):
        if ch == "=":
            # padding must complete a 4-byte quantum and end the input
            quantum_start = i - i % 4
            rest = s[i:]
            if (i % 4) < 2 or set(rest) != {"="} or (len(s) % 4):
                return quantum_start if (i % 4) < 2 else i
            return len(s)
        if ch not in alphabet:
            return i
    return (len(s) // 4) * 4


def _spec_changed(old: dict, new: dict) -> bool:
    skip = {"metadata", "status"}
    return {k: v for k, v in old.items() if k not in skip} != {k: v for k, v in new.items() if k not in skip} or (
        old["metadata"].get("deletionTimestamp") != new["metadata"].get("deletionTimestamp"))


def _semantically_equal(old: dict, new: dict) -> bool:
    a = json.loads(json.dumps(old))
    b = json.loads(json.dumps(new))
    a["metadata"].pop("resourceVersion", None)
    b["metadata"].pop("resourceVersion", None)
    a["metadata"].pop("managedFields", None)
    b["metadata"].pop("managedFields", None)
    return a == b
