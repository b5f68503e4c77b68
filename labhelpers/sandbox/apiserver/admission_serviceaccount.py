"""kube-apiserver's ServiceAccount admission plug-in (plugin/pkg/admission/serviceaccount), for pod creation.

On CREATE of a pod it sets ``serviceAccountName: default`` when unset, refuses pods whose service account does not
exist (403 ``error looking up service account <ns>/<sa>: serviceaccount "<sa>" not found``), mounts the projected
``kube-api-access-xxxxx`` token volume, and copies the service account's ``imagePullSecrets`` into pods that list
none -- which is how a ``regcred`` patched onto the ``default`` service account reaches new pods (and why existing
pods never see it).  Mirror pods are left alone but may not reference service accounts or secrets.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import ApiError

DEFAULT_SERVICE_ACCOUNT = "default"
ENFORCE_MOUNTABLE_SECRETS_ANNOTATION = "kubernetes.io/enforce-mountable-secrets"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds: 1h + 7s, so kubelets can spot tokens used past an hour.
TOKEN_EXPIRATION_SECONDS = 3607
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery utilrand: no vowels, no look-alikes

GetServiceAccount = Callable[[str, str], "dict | None"]


class _NotFound(Exception):
    pass


def token_volume_source() -> dict:
    """The projected volume the plug-in adds: bound token, cluster CA bundle, namespace file."""
    return {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": 420,
    }


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list:
    return v if isinstance(v, list) else []


def _forbidden(pod: dict, err: str, name: str | None) -> ApiError:
    """admission.NewForbidden: the request's name, else the object's name, else its generateName."""
    meta = _d(pod.get("metadata"))
    shown = name or meta.get("name") or meta.get("generateName") or "Unknown"
    return ApiError.forbidden("pods", shown, err)


def _parse_bool(v: Any) -> bool:
    """strconv.ParseBool, with parse errors meaning false (as the plug-in ignores them)."""
    return str(v) in ("1", "t", "T", "TRUE", "true", "True")


def _is_mirror(pod: dict) -> bool:
    return MIRROR_POD_ANNOTATION in _d(_d(pod.get("metadata")).get("annotations"))


def _pod_secret_names(spec: dict) -> list[str]:
    """podutil.VisitPodSecretNames: pull secrets, env/envFrom of all containers, secret-backed volumes."""
    names = [_d(r).get("name", "") for r in _list(spec.get("imagePullSecrets"))]
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec.get(kind)):
            for ef in _list(_d(c).get("envFrom")):
                if _d(ef).get("secretRef") is not None:
                    names.append(_d(ef["secretRef"]).get("name", ""))
            for ev in _list(_d(c).get("env")):
                ref = _d(_d(ev).get("valueFrom")).get("secretKeyRef")
                if ref is not None:
                    names.append(_d(ref).get("name", ""))
    for vol in _list(spec.get("volumes")):
        vol = _d(vol)
        if vol.get("azureFile") is not None and _d(vol["azureFile"]).get("secretName"):
            names.append(vol["azureFile"]["secretName"])
        for kind in ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos"):
            ref = _d(vol.get(kind)).get("secretRef")
            if vol.get(kind) is not None and ref is not None:
                names.append(_d(ref).get("name", ""))
        for src in _list(_d(vol.get("projected")).get("sources")):
            if _d(src).get("secret") is not None:
                names.append(_d(src["secret"]).get("name", ""))
        if vol.get("secret") is not None:
            names.append(_d(vol["secret"]).get("secretName", ""))
        ref = _d(vol.get("csi")).get("nodePublishSecretRef")
        if vol.get("csi") is not None and ref is not None:
            names.append(_d(ref).get("name", ""))
    return names


def _validate_mirror(pod: dict, name: str | None) -> None:
    spec = _d(pod.get("spec"))
    if spec.get("serviceAccountName"):
        raise _forbidden(pod, "a mirror pod may not reference service accounts", name)
    if _pod_secret_names(spec):
        raise _forbidden(pod, "a mirror pod may not reference secrets", name)
    for vol in _list(spec.get("volumes")):
        for src in _list(_d(_d(vol).get("projected")).get("sources")):
            if _d(src).get("serviceAccountToken") is not None:
                raise _forbidden(pod, "a mirror pod may not use ServiceAccountToken volume projections", name)


def _limit_secret_references(sa: dict, pod: dict) -> str | None:
    """The enforce-mountable-secrets check; returns the first violation's message."""
    sa_name = _d(sa.get("metadata")).get("name", "")
    mountable = {_d(s).get("name") for s in _list(sa.get("secrets"))}
    spec = _d(pod.get("spec"))
    for vol in _list(spec.get("volumes")):
        src = _d(vol).get("secret")
        if src is None:
            continue
        secret = _d(src).get("secretName", "")
        if secret not in mountable:
            return (f'volume with secret.secretName="{secret}" is not allowed because service account {sa_name} '
                    "does not reference that secret")
    for kind, label in (("initContainers", "init container"), ("containers", "container")):
        for c in _list(spec.get(kind)):
            c = _d(c)
            for ev in _list(c.get("env")):
                ref = _d(_d(ev).get("valueFrom")).get("secretKeyRef")
                if ref is not None and _d(ref).get("name", "") not in mountable:
                    return (f"{label} {c.get('name', '')} with envVar {_d(ev).get('name', '')} referencing "
                            f'secret.secretName="{_d(ref).get("name", "")}" is not allowed because service account '
                            f"{sa_name} does not reference that secret")
            if kind == "initContainers":
                continue
            for ef in _list(c.get("envFrom")):
                ref = _d(ef).get("secretRef")
                if ref is not None and _d(ref).get("name", "") not in mountable:
                    return (f"container {c.get('name', '')} with envFrom referencing "
                            f'secret.secretName="{_d(ref).get("name", "")}" is not allowed because service account '
                            f"{sa_name} does not reference that secret")
    pull = {_d(s).get("name") for s in _list(sa.get("imagePullSecrets"))}
    for i, ref in enumerate(_list(spec.get("imagePullSecrets"))):
        if _d(ref).get("name", "") not in pull:
            return (f'imagePullSecrets[{i}].name="{_d(ref).get("name", "")}" is not allowed because service account '
                    f"{sa_name} does not reference that imagePullSecret")
    return None


def _enforce_mountable_secrets(sa: dict, limit_secret_references: bool) -> bool:
    if limit_secret_references:
        return True
    annotations = _d(_d(sa.get("metadata")).get("annotations"))
    return ENFORCE_MOUNTABLE_SECRETS_ANNOTATION in annotations and _parse_bool(annotations[ENFORCE_MOUNTABLE_SECRETS_ANNOTATION])


def _should_automount(sa: dict, pod: dict) -> bool:
    pod_pref = _d(pod.get("spec")).get("automountServiceAccountToken")
    if pod_pref is not None:
        return bool(pod_pref)
    if sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def _mount_token(pod: dict, rng: random.Random) -> None:
    spec = pod.setdefault("spec", {})
    volume_name = ""
    for vol in _list(spec.get("volumes")):
        if str(_d(vol).get("name", "")).startswith(TOKEN_VOLUME_PREFIX):
            volume_name = vol["name"]
            break
    has_volume = bool(volume_name)
    if not volume_name:
        volume_name = TOKEN_VOLUME_PREFIX + "".join(rng.choice(_NAME_ALPHABET) for _ in range(5))
    needs_volume = False
    for kind in ("initContainers", "containers"):
        for c in _list(spec.get(kind)):
            if not isinstance(c, dict):
                continue
            mounts = _list(c.get("volumeMounts"))
            if any(_d(m).get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = mounts + [{"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}]
            needs_volume = True
    if not has_volume and needs_volume:
        spec["volumes"] = _list(spec.get("volumes")) + [{"name": volume_name, "projected": token_volume_source()}]


def _apply(pod: dict, namespace: str, sa: dict, name: str | None, limit_secret_references: bool,
           rng: random.Random) -> None:
    spec = pod.setdefault("spec", {})
    if _should_automount(sa, pod):
        _mount_token(pod, rng)
    if not _list(spec.get("imagePullSecrets")):
        copied = [{"name": _d(s).get("name", "")} for s in _list(sa.get("imagePullSecrets"))]
        if copied:
            spec["imagePullSecrets"] = copied
        else:
            spec.pop("imagePullSecrets", None)  # Go's empty slice is omitted from JSON
    # Validate(): the service account exists (checked by the caller) and may restrict secret references.
    if _enforce_mountable_secrets(sa, limit_secret_references):
        err = _limit_secret_references(sa, pod)
        if err:
            raise _forbidden(pod, err, name)


def _prepare(pod: dict, name: str | None) -> str | None:
    """Mirror-pod handling and the default SA name; returns the SA to look up, or None when done."""
    if _is_mirror(pod):
        _validate_mirror(pod, name)
        return None
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccount"] = spec["serviceAccountName"]  # the v1 alias the apiserver writes back
    return spec["serviceAccountName"]


def _not_found(pod: dict, namespace: str, sa_name: str, name: str | None) -> ApiError:
    return _forbidden(pod, f'error looking up service account {namespace}/{sa_name}: serviceaccount "{sa_name}" '
                           "not found", name)


def admit_pod_create(pod: dict, namespace: str, get_service_account: GetServiceAccount, *,
                     name: str | None = None, limit_secret_references: bool = False,
                     default_sa_attempts: int = 1, sleep: Callable[[float], None] = time.sleep,
                     rng: random.Random | None = None) -> None:
    """Admit a pod CREATE in place, or raise the plug-in's 403 ApiError.

    ``get_service_account(namespace, name)`` returns the ServiceAccount dict or None.  Upstream retries the
    ``default`` account 10 times (100-199 ms apart) because the serviceaccount controller creates it
    asynchronously; pass ``default_sa_attempts=10`` to get that when the lookup can change while sleeping
    (an in-memory store that creates the account synchronously needs no retries).
    """
    if not isinstance(pod, dict) or pod.get("kind") not in (None, "Pod"):
        return
    rng = rng or random.Random()
    sa_name = _prepare(pod, name)
    if sa_name is None:
        return
    attempts = default_sa_attempts if sa_name == DEFAULT_SERVICE_ACCOUNT else 1
    interval = (100 + rng.randrange(100)) / 1000
    sa = None
    for i in range(max(1, attempts)):
        if i:
            sleep(interval)
        sa = get_service_account(namespace, sa_name)
        if sa is not None:
            break
    if sa is None:
        raise _not_found(pod, namespace, sa_name, name)
    _apply(pod, namespace, sa, name, limit_secret_references, rng)


async def admit_pod_create_async(pod: dict, namespace: str,
                                 get_service_account: Callable[[str, str], Awaitable[dict | None] | dict | None], *,
                                 name: str | None = None, limit_secret_references: bool = False,
                                 default_sa_attempts: int = 10, rng: random.Random | None = None) -> None:
    """:func:`admit_pod_create` for an asyncio server: waits for a lagging ``default`` service account like
    kube-apiserver does (10 attempts for ``default``, 1 otherwise) without blocking the event loop."""
    if not isinstance(pod, dict) or pod.get("kind") not in (None, "Pod"):
        return
    rng = rng or random.Random()
    sa_name = _prepare(pod, name)
    if sa_name is None:
        return
    attempts = default_sa_attempts if sa_name == DEFAULT_SERVICE_ACCOUNT else 1
    interval = (100 + rng.randrange(100)) / 1000
    sa = None
    for i in range(max(1, attempts)):
        if i:
            await asyncio.sleep(interval)
        res = get_service_account(namespace, sa_name)
        sa = await res if asyncio.iscoroutine(res) or isinstance(res, asyncio.Future) else res
        if sa is not None:
            break
    if sa is None:
        raise _not_found(pod, namespace, sa_name, name)
    _apply(pod, namespace, copy.deepcopy(sa), name, limit_secret_references, rng)


def admit(operation: str, resource: str, obj: Any, namespace: str, get_service_account: GetServiceAccount, *,
          subresource: str = "", **kwargs: Any) -> None:
    """The plug-in's entry point with its ``shouldIgnore`` filter: only pods (no subresource) of kind Pod, and
    only CREATE mutates; everything else passes through untouched."""
    if resource != "pods" or subresource not in ("", "ephemeralcontainers") or not isinstance(obj, dict):
        return
    if obj.get("kind") not in (None, "Pod") or operation != "CREATE" or subresource:
        return
    admit_pod_create(obj, namespace, get_service_account, **kwargs)
