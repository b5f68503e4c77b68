"""Object validation of the sandbox API server, worded and ordered like kube-apiserver v1.32.

``validate_create`` / ``validate_update`` take the JSON object *after* decoding and defaulting (Secret ``data``
values are base64 strings, as on the wire) and return apimachinery-style field errors; ``raise_if_invalid`` turns
them into the 422 ``Invalid`` Status.  Per-kind rules follow pkg/apis/{core,apps,batch,rbac}/validation and the
registry strategies (e.g. the apps/v1 selector immutability check lives in the Deployment strategy upstream).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from . import validation_common as vc
from . import validation_pod as vp
from . import validation_workloads as vw
from .errors import ApiError, FieldError
from .resources import ResourceType
from .validation_common import FieldErr, child, forbidden, invalid, key, required
from .validation_gojson import unmarshal_map_error

NameFunc = Callable[[str, bool], list[str]]

MAX_SECRET_SIZE = 1024 * 1024
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_FINALIZERS_PATH = "metadata.finalizers"

# ValidateObjectMeta name functions per kind (pkg/apis/*/validation).
_NAME_FUNCS: dict[str, NameFunc] = {
    "Namespace": vc.name_is_dns_label,
    "Service": vc.name_is_dns1035_label,
    "Role": vc.is_valid_path_segment_name,
    "RoleBinding": vc.is_valid_path_segment_name,
    "ClusterRole": vc.is_valid_path_segment_name,
    "ClusterRoleBinding": vc.is_valid_path_segment_name,
}


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


# --- ObjectMeta ---

def _kube_finalizer(name: str, path: str) -> list[FieldErr]:
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        return [invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def _finalizers(finalizers: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    fins = [f for f in finalizers or [] if isinstance(f, str)]
    for f in fins:
        errs += [invalid(path, f, m) for m in vc.is_qualified_name(f)]
    if "orphan" in fins and "foregroundDeletion" in fins:
        errs.append(invalid(path, vc.GoValue(vc.go_string_slice(fins)),
                            "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _owner_references(refs: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    first_controller = ""
    for ref in refs or []:
        ref = _d(ref)
        api_version = _s(ref.get("apiVersion"))
        if not api_version.rpartition("/")[2]:
            errs.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
        for f in ("kind", "name", "uid"):
            if not _s(ref.get(f)):
                errs.append(invalid(child(path, f), _s(ref.get(f)), "must not be empty"))
        if ref.get("controller") is True:
            current = f"{_s(ref.get('kind'))}/{_s(ref.get('name'))}"
            if first_controller:
                errs.append(invalid(path, vc.GoValue("[]v1.OwnerReference{...}"),
                                    'Only one reference can have Controller set to true. Found "true" in references '
                                    f"for {first_controller} and {current}"))
            else:
                first_controller = current
    return errs


def validate_object_meta(meta: Any, namespaced: bool, name_fn: NameFunc, path: str = "metadata") -> list[FieldErr]:
    """core ValidateObjectMeta: generateName, name, namespace, labels, annotations, owners, finalizers."""
    meta = _d(meta)
    errs: list[FieldErr] = []
    gen = _s(meta.get("generateName"))
    if gen:
        errs += [invalid(child(path, "generateName"), gen, m) for m in name_fn(gen, True)]
    name = _s(meta.get("name"))
    if not name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errs += [invalid(child(path, "name"), name, m) for m in name_fn(name, False)]
    errs += _meta_common(meta, namespaced, path)
    for i, f in enumerate(meta.get("finalizers") or []):
        errs += _kube_finalizer(_s(f), f"{child(path, 'finalizers')}[{i}]")
    return errs


def _meta_common(meta: dict, namespaced: bool, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    ns = _s(meta.get("namespace"))
    if namespaced:
        if not ns:
            errs.append(required(child(path, "namespace")))
        else:
            errs += [invalid(child(path, "namespace"), ns, m) for m in vc.name_is_dns_label(ns, False)]
    elif ns:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    gen = vc.as_int(meta.get("generation"))
    if gen is not None:
        errs += vc.non_negative(gen, child(path, "generation"))
    errs += vc.validate_labels(meta.get("labels"), child(path, "labels"))
    errs += vc.validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += _owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    errs += _finalizers(meta.get("finalizers"), child(path, "finalizers"))
    return errs


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[FieldErr]:
    """ValidateObjectMetaUpdate; the caller carries uid/creationTimestamp over like rest.BeforeUpdate does."""
    new, old = _d(new), _d(old)
    errs: list[FieldErr] = []
    if old.get("deletionTimestamp"):
        extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            errs.append(forbidden(child(path, "finalizers"),
                                  "no new finalizers can be added if the object is being deleted, found new "
                                  f"finalizers {vc.go_string_slice(extra)}"))
    if not _s(new.get("resourceVersion")):
        errs.append(invalid(child(path, "resourceVersion"), "", "must be specified for an update"))
    ng, og = vc.as_int(new.get("generation")) or 0, vc.as_int(old.get("generation")) or 0
    if ng < og:
        errs.append(invalid(child(path, "generation"), ng, "must not be decremented"))
    for f in ("name", "namespace", "uid"):
        errs += vc.immutable(child(path, f), _s(new.get(f)), _s(old.get(f)))
    for f in ("creationTimestamp", "deletionTimestamp"):
        if new.get(f) != old.get(f):
            errs.append(invalid(child(path, f), vc.GoValue(_go_time(new.get(f))), vc.FIELD_IMMUTABLE))
    if new.get("deletionGracePeriodSeconds") != old.get("deletionGracePeriodSeconds"):
        errs.append(invalid(child(path, "deletionGracePeriodSeconds"), new.get("deletionGracePeriodSeconds"),
                            vc.FIELD_IMMUTABLE))
    errs += vc.validate_labels(new.get("labels"), child(path, "labels"))
    errs += vc.validate_annotations(new.get("annotations"), child(path, "annotations"))
    errs += _owner_references(new.get("ownerReferences"), child(path, "ownerReferences"))
    errs += _finalizers(new.get("finalizers"), child(path, "finalizers"))
    for i, f in enumerate(new.get("finalizers") or []):
        errs += _kube_finalizer(_s(f), f"{child(path, 'finalizers')}[{i}]")
    return errs


def _go_time(v: Any) -> str:
    """metav1.Time's String(): ``2024-05-01 10:00:00 +0000 UTC`` (nil pointers print as ``"null"``)."""
    if not v:
        return '"null"'
    s = str(v)
    if len(s) >= 19 and s[10] == "T":
        return f"{s[:10]} {s[11:19]} +0000 UTC"
    return s


def _name_fn(rt: ResourceType) -> NameFunc:
    return _NAME_FUNCS.get(rt.kind, vc.name_is_dns_subdomain)


# --- Secret / ConfigMap / ServiceAccount / Namespace ---

def _secret_data(obj: dict) -> dict[str, bytes]:
    """Secret.data as bytes; values are base64 on the wire (undecodable ones were rejected earlier with 400)."""
    out: dict[str, bytes] = {}
    for k, v in _d(obj.get("data")).items():
        if isinstance(v, bytes | bytearray):
            out[k] = bytes(v)
            continue
        try:
            out[k] = base64.b64decode(_s(v), validate=True)
        except (binascii.Error, ValueError):
            out[k] = _s(v).encode()
    return out


def validate_secret(obj: dict) -> list[FieldErr]:
    errs = validate_object_meta(obj.get("metadata"), True, vc.name_is_dns_subdomain)
    data = _secret_data(obj)
    total = 0
    for k, v in data.items():
        errs += [invalid(key("data", k), k, m) for m in vc.is_config_map_key(k)]
        total += len(v)
    if total > MAX_SECRET_SIZE:
        errs.append(vc.too_long("data", MAX_SECRET_SIZE))
    stype = _s(obj.get("type"))
    if stype == "kubernetes.io/service-account-token":
        if not _s(_d(_d(obj.get("metadata")).get("annotations")).get(SERVICE_ACCOUNT_NAME_KEY)):
            errs.append(required(key("metadata.annotations", SERVICE_ACCOUNT_NAME_KEY)))
    elif stype in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        data_key = ".dockercfg" if stype == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if data_key not in data:
            errs.append(required(key("data", data_key)))
        else:
            err = unmarshal_map_error(data[data_key])
            if err is not None:
                errs.append(invalid(key("data", data_key), "<secret contents redacted>", err))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required(key("data", "username")))
            errs.append(required(key("data", "password")))
    elif stype == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required(key("data", "ssh-privatekey")))
    elif stype == "kubernetes.io/tls":
        if "tls.crt" not in data:
            errs.append(required(key("data", "tls.crt")))
        if "tls.key" not in data:
            errs.append(required(key("data", "tls.key")))
    return errs


def _immutable_when_set(new: dict, old: dict, fields: tuple[str, ...]) -> list[FieldErr]:
    errs: list[FieldErr] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for f in fields:
            if (new.get(f) or {}) != (old.get(f) or {}):
                errs.append(forbidden(f, "field is immutable when `immutable` is set"))
    return errs


def validate_secret_update(new: dict, old: dict) -> list[FieldErr]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += vc.immutable("type", _s(new.get("type")), _s(old.get("type")))
    errs += _immutable_when_set(new, old, ("data",))
    return errs + validate_secret(new)


def validate_config_map(obj: dict) -> list[FieldErr]:
    errs = validate_object_meta(obj.get("metadata"), True, vc.name_is_dns_subdomain)
    data, binary = _d(obj.get("data")), _d(obj.get("binaryData"))
    total = 0
    for k, v in data.items():
        errs += [invalid(key("data", k), k, m) for m in vc.is_config_map_key(k)]
        if k in binary:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(_s(v).encode())
    for k, v in binary.items():
        errs += [invalid(key("binaryData", k), k, m) for m in vc.is_config_map_key(k)]
        try:
            total += len(base64.b64decode(_s(v)))
        except (binascii.Error, ValueError):
            total += len(_s(v))
    if total > MAX_SECRET_SIZE:
        errs.append(vc.too_long("", MAX_SECRET_SIZE))
    return errs


def validate_config_map_update(new: dict, old: dict) -> list[FieldErr]:
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += _immutable_when_set(new, old, ("data", "binaryData"))
    return errs + validate_config_map(new)


def validate_namespace(obj: dict) -> list[FieldErr]:
    errs = validate_object_meta(obj.get("metadata"), False, vc.name_is_dns_label)
    for f in _d(obj.get("spec")).get("finalizers") or []:
        errs += [invalid("spec.finalizers", f, m) for m in vc.is_qualified_name(_s(f))]
        errs += _kube_finalizer(_s(f), "spec.finalizers")
    return errs


# --- RBAC ---

def _policy_rules(rules: Any, namespaced: bool) -> list[FieldErr]:
    errs: list[FieldErr] = []
    for i, rule in enumerate(rules or []):
        rule = _d(rule)
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(required(child(p, "verbs"), "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            shown = vc.GoValue(vc.go_string_slice(urls))
            if namespaced:
                errs.append(invalid(child(p, "nonResourceURLs"), shown, "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(invalid(child(p, "nonResourceURLs"), shown,
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(child(p, "apiGroups"), "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(child(p, "resources"), "resource rules must supply at least one resource"))
        if rule.get("resourceNames") and len(rule.get("resources") or []) > 1:
            errs.append(required(child(p, "resourceNames"), "resource names cannot apply to multiple resources"))
    return errs


def _role(obj: dict, rt: ResourceType) -> list[FieldErr]:
    errs = validate_object_meta(obj.get("metadata"), rt.namespaced, vc.is_valid_path_segment_name)
    return errs + _policy_rules(obj.get("rules"), rt.namespaced)


def _binding(obj: dict, rt: ResourceType) -> list[FieldErr]:
    errs = validate_object_meta(obj.get("metadata"), rt.namespaced, vc.is_valid_path_segment_name)
    ref = _d(obj.get("roleRef"))
    group = "rbac.authorization.k8s.io"
    if _s(ref.get("apiGroup")) != group:
        errs.append(vc.not_supported("roleRef.apiGroup", _s(ref.get("apiGroup")), [group]))
    kinds = ["Role", "ClusterRole"] if rt.namespaced else ["ClusterRole"]
    if _s(ref.get("kind")) not in kinds:
        errs.append(vc.not_supported("roleRef.kind", _s(ref.get("kind")), kinds))
    name = _s(ref.get("name"))
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", name, m) for m in vc.is_valid_path_segment_name(name)]
    for i, sub in enumerate(obj.get("subjects") or []):
        sub = _d(sub)
        p = f"subjects[{i}]"
        sname, kind, sgroup = _s(sub.get("name")), _s(sub.get("kind")), _s(sub.get("apiGroup"))
        if not sname:
            errs.append(required(child(p, "name")))
        if kind == "ServiceAccount":
            if sname:
                errs += [invalid(child(p, "name"), sname, m) for m in vc.name_is_dns_subdomain(sname, False)]
            if sgroup:
                errs.append(vc.not_supported(child(p, "apiGroup"), sgroup, [""]))
            if not rt.namespaced and not _s(sub.get("namespace")):
                errs.append(required(child(p, "namespace")))
        elif kind in ("User", "Group"):
            if not sname:
                errs.append(invalid(child(p, "name"), sname, f"{kind.lower()} name cannot be empty"))
            if sgroup != group:
                errs.append(vc.not_supported(child(p, "apiGroup"), sgroup, [group]))
        else:
            errs.append(vc.not_supported(child(p, "kind"), kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _go_role_ref(ref: Any) -> vc.GoValue:
    ref = _d(ref)
    return vc.GoValue(f"rbac.RoleRef{{APIGroup:{vc.go_quote(_s(ref.get('apiGroup')))}, "
                      f"Kind:{vc.go_quote(_s(ref.get('kind')))}, Name:{vc.go_quote(_s(ref.get('name')))}}}")


# --- dispatch ---

def validate_create(rt: ResourceType, obj: dict) -> list[FieldError]:
    """Field errors for creating ``obj`` (already decoded and defaulted), in kube-apiserver's order."""
    kind = rt.kind
    meta = obj.get("metadata")
    if kind == "Secret":
        return list(validate_secret(obj))
    if kind == "ConfigMap":
        return list(validate_config_map(obj))
    if kind == "Namespace":
        return list(validate_namespace(obj))
    if kind == "Pod":
        return list(vp.validate_pod_create(obj, validate_object_meta(meta, True, vc.name_is_dns_subdomain)))
    if kind in ("Deployment", "ReplicaSet", "Job", "CronJob"):
        return list(vw.validate_create(kind, obj, validate_object_meta(meta, True, vc.name_is_dns_subdomain)))
    if kind in ("Role", "ClusterRole"):
        return list(_role(obj, rt))
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        return list(_binding(obj, rt))
    if rt.virtual:
        return []
    return list(validate_object_meta(meta, rt.namespaced, _name_fn(rt)))


def validate_update(rt: ResourceType, new: dict, old: dict) -> list[FieldError]:
    """Field errors for replacing ``old`` with ``new`` (both decoded and defaulted).

    A ``new`` object without resourceVersion is an unconditional update: every built-in kind allows those, and
    kube-apiserver's store copies the current resourceVersion in before validating, so it is not reported.
    """
    kind = rt.kind
    new_meta = _d(new.get("metadata"))
    if not _s(new_meta.get("resourceVersion")) and _s(_d(old.get("metadata")).get("resourceVersion")):
        new = {**new, "metadata": {**new_meta, "resourceVersion": old["metadata"]["resourceVersion"]}}
    meta_update = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    if kind == "Secret":
        return list(validate_secret_update(new, old))
    if kind == "ConfigMap":
        return list(validate_config_map_update(new, old))
    if kind == "Namespace":
        return list(validate_namespace(new) + meta_update)
    if kind == "ServiceAccount":
        return list(meta_update + validate_object_meta(new.get("metadata"), True, vc.name_is_dns_subdomain))
    if kind == "Pod":
        meta_errs = validate_object_meta(new.get("metadata"), True, vc.name_is_dns_subdomain)
        return list(vp.validate_pod_update(new, old, meta_update, meta_errs))
    if kind in ("Deployment", "ReplicaSet", "Job", "CronJob"):
        return list(vw.validate_update(kind, new, old, meta_update))
    if kind in ("Role", "ClusterRole"):
        return list(_role(new, rt) + meta_update)
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        errs = _binding(new, rt) + meta_update
        if _d(new.get("roleRef")) != _d(old.get("roleRef")):
            errs.append(invalid("roleRef", _go_role_ref(new.get("roleRef")), "cannot change roleRef"))
        return list(errs)
    return list(meta_update + validate_object_meta(new.get("metadata"), rt.namespaced, _name_fn(rt)))


def raise_if_invalid(rt: ResourceType, obj: dict, errs: list[FieldError]) -> None:
    """Raise the 422 ``<Kind> "<name>" is invalid: ...`` Status when there are field errors."""
    if errs:
        name = _s(_d(obj.get("metadata")).get("name")) or _s(_d(obj.get("metadata")).get("generateName"))
        raise ApiError.invalid(rt.group, rt.kind, name, errs)
