"""PodSpec validation (pods and pod templates) in the order and wording of pkg/apis/core/validation (v1.32).

Objects arrive already defaulted (see defaults.py), exactly like kube-apiserver validates the internal object after
decoding, so "Required" errors for defaulted fields only appear when a client sends an explicit empty value.
The rarely used volume plug-ins (iSCSI, Ceph, ...) are only checked for "one volume type per volume".
"""

from __future__ import annotations

import re
from typing import Any

from . import validation_common as vc
from .validation_common import FieldErr, GoValue, child, invalid, key, required

FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

# VolumeSource fields in Go struct order (that order decides which one "may not specify more than 1 volume type").
_VOLUME_TYPES = [
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
    "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte", "downwardAPI", "fc",
    "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume", "azureDisk",
    "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
]
# Go reports a few of them under a different (and in one case misspelled) path.
_VOLUME_ERROR_NAME = {"downwardAPI": "downwarAPI", "cephfs": "cephFS"}

_HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                    "Socket"]
_VOLUME_DOWNWARD_PATHS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                          "metadata.uid"]
_ENV_DOWNWARD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                       "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
_CONVERTIBLE_FIELD_PATHS = {
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}
_RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                         "requests.ephemeral-storage", "requests.memory"]
_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _list(v: Any) -> list:
    return v if isinstance(v, list) else []


def _dict(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


# --- paths ---

def _local_descending_path(target: str, path: str) -> list[FieldErr]:
    errs = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        errs.append(invalid(path, target, "must not contain '..'"))
    return errs


def _local_non_reserved_path(target: str, path: str) -> list[FieldErr]:
    errs = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _file_mode(mode: Any, path: str) -> list[FieldErr]:
    m = vc.as_int(mode)
    if m is not None and (m > 0o777 or m < 0):
        return [invalid(path, m, FILE_MODE_ERROR)]
    return []


def _key_to_path(kp: dict, path: str) -> list[FieldErr]:
    errs = []
    if not _str(kp.get("key")):
        errs.append(required(child(path, "key")))
    if not _str(kp.get("path")):
        errs.append(required(child(path, "path")))
    errs += _local_non_reserved_path(_str(kp.get("path")), child(path, "path"))
    errs += _file_mode(kp.get("mode"), child(path, "mode"))
    return errs


# --- downward API ---

def _split_subscript(fp: str) -> tuple[str, str] | None:
    m = re.fullmatch(r"(.+)\['(.*)'\]", fp)
    return (m.group(1), m.group(2)) if m else None


def _object_field_selector(fs: dict, allowed: list[str], path: str) -> list[FieldErr]:
    api_version, fp = _str(fs.get("apiVersion")), _str(fs.get("fieldPath"))
    if not api_version:
        return [required(child(path, "apiVersion"))]
    if not fp:
        return [required(child(path, "fieldPath"))]
    if api_version != "v1":
        return [invalid(child(path, "fieldPath"), fp, f"error converting fieldPath: unsupported pod version: {api_version}")]
    sub = _split_subscript(fp)
    if sub:
        base, subscript = sub
        if base not in ("metadata.annotations", "metadata.labels"):
            return [invalid(child(path, "fieldPath"), fp,
                            f"error converting fieldPath: field label does not support subscript: {fp}")]
        name = subscript.lower() if base == "metadata.annotations" else subscript
        return [invalid(path, name, m) for m in vc.is_qualified_name(name)]
    if fp == "spec.host":
        fp = "spec.nodeName"
    elif fp not in _CONVERTIBLE_FIELD_PATHS:
        return [invalid(child(path, "fieldPath"), fp, f"error converting fieldPath: field label not supported: {fp}")]
    if fp not in allowed:
        return [vc.not_supported(child(path, "fieldPath"), fp, allowed)]
    return []


def _resource_field_selector(fs: dict, path: str, volume: bool) -> list[FieldErr]:
    errs = []
    resource = _str(fs.get("resource"))
    if volume and not _str(fs.get("containerName")):
        errs.append(required(child(path, "containerName")))
    elif not resource:
        errs.append(required(child(path, "resource")))
    elif resource not in _RESOURCE_FIELD_PATHS and not (
            resource.startswith("requests.hugepages-") or resource.startswith("limits.hugepages-")):
        errs.append(vc.not_supported(child(path, "resource"), resource, _RESOURCE_FIELD_PATHS))
    return errs


def _downward_api_file(f: dict, path: str) -> list[FieldErr]:
    errs = []
    fpath = _str(f.get("path"))
    if not fpath:
        errs.append(required(child(path, "path")))
    errs += _local_non_reserved_path(fpath, child(path, "path"))
    if f.get("fieldRef") is not None:
        errs += _object_field_selector(_dict(f["fieldRef"]), _VOLUME_DOWNWARD_PATHS, child(path, "fieldRef"))
        if f.get("resourceFieldRef") is not None:
            errs.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
    elif f.get("resourceFieldRef") is not None:
        errs += _resource_field_selector(_dict(f["resourceFieldRef"]), child(path, "resourceFieldRef"), True)
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs += _file_mode(f.get("mode"), child(path, "mode"))
    return errs


# --- volumes ---

def _projected(src: dict, path: str) -> list[FieldErr]:
    errs = _file_mode(src.get("defaultMode"), child(path, "defaultMode"))
    seen: set[str] = set()

    def track(p: str, bad_value: str) -> None:
        if p:
            if p in seen:
                errs.append(invalid(path, bad_value, "conflicting duplicate paths"))
            seen.add(p)

    for i, source in enumerate(_list(src.get("sources"))):
        source = _dict(source)
        sp = f"{child(path, 'sources')}[{i}]"
        count = 0
        for kind in ("secret", "configMap"):
            if source.get(kind) is not None:
                count += 1
                s = _dict(source[kind])
                if not _str(s.get("name")):
                    errs.append(required(child(sp, kind, "name")))
                for j, kp in enumerate(_list(s.get("items"))):
                    errs += _key_to_path(_dict(kp), f"{child(sp, kind, 'items')}[{j}]")
                    track(_str(_dict(kp).get("path")), _str(s.get("name")))
        if source.get("downwardAPI") is not None:
            count += 1
            for f in _list(_dict(source["downwardAPI"]).get("items")):
                errs += _downward_api_file(_dict(f), child(sp, "downwardAPI"))
                track(_str(_dict(f).get("path")), _str(_dict(f).get("path")))
        if source.get("serviceAccountToken") is not None:
            count += 1
            tok = _dict(source["serviceAccountToken"])
            exp = vc.as_int(tok.get("expirationSeconds")) or 0
            tp = child(sp, "serviceAccountToken")
            if exp < 600:
                errs.append(invalid(child(tp, "expirationSeconds"), exp, "may not specify a duration less than 10 minutes"))
            if exp > 1 << 32:
                errs.append(invalid(child(tp, "expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"))
            if not _str(tok.get("path")):
                errs.append(required(child(path, "path")))  # sic: upstream reports the projected volume's path
            else:
                errs += _local_non_reserved_path(tok["path"], child(path, "path"))
        if source.get("clusterTrustBundle") is not None:
            count += 1
        if count > 1:
            errs.append(vc.forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _volume_source(vol: dict, path: str, pod_name: str | None) -> list[FieldErr]:
    errs: list[FieldErr] = []
    count = 0
    for kind in _VOLUME_TYPES:
        if vol.get(kind) is None:
            continue
        if count > 0:
            errs.append(vc.forbidden(child(path, _VOLUME_ERROR_NAME.get(kind, kind)), "may not specify more than 1 volume type"))
            continue
        count += 1
        src = _dict(vol[kind])
        p = child(path, kind)
        if kind == "emptyDir":
            size = src.get("sizeLimit")
            q = vc.parse_quantity(size) if size is not None else None
            if q is not None and q < 0:
                errs.append(vc.forbidden(child(p, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
        elif kind == "hostPath":
            hp = _str(src.get("path"))
            if not hp:
                errs.append(required(child(p, "path")))
                continue
            if ".." in hp.split("/"):
                errs.append(invalid(child(p, "path"), hp, "must not contain '..'"))
            t = src.get("type")
            if t is not None and t not in _HOST_PATH_TYPES:
                errs.append(vc.not_supported(child(p, "type"), t, _HOST_PATH_TYPES))
        elif kind == "secret":
            if not _str(src.get("secretName")):
                errs.append(required(child(p, "secretName")))
            errs += _file_mode(src.get("defaultMode"), child(p, "defaultMode"))
            for i, kp in enumerate(_list(src.get("items"))):
                errs += _key_to_path(_dict(kp), f"{child(p, 'items')}[{i}]")
        elif kind == "configMap":
            if not _str(src.get("name")):
                errs.append(required(child(p, "name")))
            errs += _file_mode(src.get("defaultMode"), child(p, "defaultMode"))
            for i, kp in enumerate(_list(src.get("items"))):
                errs += _key_to_path(_dict(kp), f"{child(p, 'items')}[{i}]")
        elif kind == "persistentVolumeClaim":
            if not _str(src.get("claimName")):
                errs.append(required(child(p, "claimName")))
        elif kind == "downwardAPI":
            errs += _file_mode(src.get("defaultMode"), child(p, "defaultMode"))
            for f in _list(src.get("items")):
                errs += _downward_api_file(_dict(f), p)
        elif kind == "projected":
            errs += _projected(src, p)
        elif kind == "nfs":
            server, npath = _str(src.get("server")), _str(src.get("path"))
            if not server:
                errs.append(required(child(p, "server")))
            if not npath:
                errs.append(required(child(p, "path")))
            if not npath.startswith("/"):
                errs.append(invalid(child(p, "path"), npath, "must be an absolute path"))
        elif kind == "csi":
            if not _str(src.get("driver")):
                errs.append(required(child(p, "driver")))
        elif kind == "ephemeral":
            if src.get("volumeClaimTemplate") is None:
                errs.append(required(child(p, "volumeClaimTemplate")))
        elif kind == "image":
            if pod_name is not None and not _str(src.get("reference")):
                errs.append(required(child(p, "reference")))
            errs += _pull_policy(src.get("pullPolicy", ""), child(p, "pullPolicy"))
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def validate_volumes(volumes: Any, path: str, pod_name: str | None) -> tuple[dict[str, dict], list[FieldErr]]:
    errs: list[FieldErr] = []
    names: dict[str, dict] = {}
    for i, vol in enumerate(_list(volumes)):
        vol = _dict(vol)
        ip = f"{path}[{i}]"
        name = _str(vol.get("name"))
        el = _volume_source(vol, ip, pod_name)
        if not name:
            el.append(required(child(ip, "name")))
        else:
            el += [invalid(child(ip, "name"), name, m) for m in vc.is_dns1123_label(name)]
        if name in names:
            el.append(vc.duplicate(child(ip, "name"), name))
        if not el:
            names[name] = vol
        else:
            errs += el
    return names, errs


# --- containers ---

def _container_ports(ports: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    names: set[str] = set()
    for i, port in enumerate(_list(ports)):
        port = _dict(port)
        ip = f"{path}[{i}]"
        name = _str(port.get("name"))
        if name:
            msgs = vc.is_valid_port_name(name)
            if msgs:
                errs += [invalid(child(ip, "name"), name, m) for m in msgs]
            elif name in names:
                errs.append(vc.duplicate(child(ip, "name"), name))
            else:
                names.add(name)
        cp = vc.as_int(port.get("containerPort")) or 0
        if cp == 0:
            errs.append(required(child(ip, "containerPort")))
        else:
            errs += [invalid(child(ip, "containerPort"), cp, m) for m in vc.is_valid_port_num(cp)]
        hp = vc.as_int(port.get("hostPort")) or 0
        if hp != 0:
            errs += [invalid(child(ip, "hostPort"), hp, m) for m in vc.is_valid_port_num(hp)]
        proto = _str(port.get("protocol"))
        if not proto:
            errs.append(required(child(ip, "protocol")))
        elif proto not in ("SCTP", "TCP", "UDP"):
            errs.append(vc.not_supported(child(ip, "protocol"), proto, ["SCTP", "TCP", "UDP"]))
    return errs


def _key_selector(sel: dict, path: str) -> list[FieldErr]:
    name = _str(sel.get("name"))
    errs = [invalid(child(path, "name"), name, m) for m in vc.name_is_dns_subdomain(name, False)]
    k = _str(sel.get("key"))
    if not k:
        errs.append(required(child(path, "key")))
    else:
        errs += [invalid(child(path, "key"), k, m) for m in vc.is_config_map_key(k)]
    return errs


def _env(env: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    for i, ev in enumerate(_list(env)):
        ev = _dict(ev)
        ip = f"{path}[{i}]"
        name = _str(ev.get("name"))
        if not name:
            errs.append(required(child(ip, "name")))
        else:
            errs += [invalid(child(ip, "name"), name, m) for m in vc.is_relaxed_env_var_name(name)]
        vf = ev.get("valueFrom")
        if vf is None:
            continue
        vf = _dict(vf)
        vp = child(ip, "valueFrom")
        n = 0
        if vf.get("fieldRef") is not None:
            n += 1
            errs += _object_field_selector(_dict(vf["fieldRef"]), _ENV_DOWNWARD_PATHS, child(vp, "fieldRef"))
        if vf.get("resourceFieldRef") is not None:
            n += 1
            errs += _resource_field_selector(_dict(vf["resourceFieldRef"]), child(vp, "resourceFieldRef"), False)
        if vf.get("configMapKeyRef") is not None:
            n += 1
            errs += _key_selector(_dict(vf["configMapKeyRef"]), child(vp, "configMapKeyRef"))
        if vf.get("secretKeyRef") is not None:
            n += 1
            errs += _key_selector(_dict(vf["secretKeyRef"]), child(vp, "secretKeyRef"))
        if n == 0:
            errs.append(invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        elif _str(ev.get("value")):
            errs.append(invalid(vp, "", "may not be specified when `value` is not empty"))
        elif n > 1:
            errs.append(invalid(vp, "", "may not have more than one field specified at a time"))
    return errs


def _env_from(env_from: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    for i, ef in enumerate(_list(env_from)):
        ef = _dict(ef)
        ip = f"{path}[{i}]"
        prefix = _str(ef.get("prefix"))
        if prefix:
            errs += [invalid(child(ip, "prefix"), prefix, m) for m in vc.is_relaxed_env_var_name(prefix)]
        n = 0
        for kind in ("configMapRef", "secretRef"):
            if ef.get(kind) is not None:
                n += 1
                name = _str(_dict(ef[kind]).get("name"))
                if not name:
                    errs.append(required(child(ip, kind, "name")))
                else:
                    errs += [invalid(child(ip, kind, "name"), name, m) for m in vc.name_is_dns_subdomain(name, True)]
        if n == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif n > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _volume_mounts(mounts: Any, volumes: dict[str, dict], ctr: dict, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    seen: set[str] = set()
    devices = {_str(_dict(d).get("name")): _str(_dict(d).get("devicePath")) for d in _list(ctr.get("volumeDevices"))}
    for i, m in enumerate(_list(mounts)):
        m = _dict(m)
        ip = f"{path}[{i}]"
        name, mp = _str(m.get("name")), _str(m.get("mountPath"))
        if not name:
            errs.append(required(child(ip, "name")))
        if name not in volumes:
            errs.append(vc.not_found(child(ip, "name"), name))
        if not mp:
            errs.append(required(child(ip, "mountPath")))
        if mp in seen:
            errs.append(invalid(child(ip, "mountPath"), mp, "must be unique"))
        seen.add(mp)
        if name in devices:
            errs.append(invalid(child(ip, "name"), name, "must not already exist in volumeDevices"))
        if mp in devices.values():
            errs.append(invalid(child(ip, "mountPath"), mp, "must not already exist as a path in volumeDevices"))
        sub, sub_expr = _str(m.get("subPath")), _str(m.get("subPathExpr"))
        if name in volumes and volumes[name].get("image") is not None:
            if sub:
                errs.append(invalid(child(ip, "subPath"), sub, "not allowed in image volume sources"))
            if sub_expr:
                errs.append(invalid(child(ip, "subPathExpr"), sub_expr, "not allowed in image volume sources"))
        if sub:
            errs += _local_descending_path(sub, child(path, "subPath"))  # sic: upstream omits the index
        if sub_expr:
            if sub:
                errs.append(invalid(child(ip, "subPathExpr"), sub_expr, "subPathExpr and subPath are mutually exclusive"))
            errs += _local_descending_path(sub_expr, child(path, "subPathExpr"))
        prop = m.get("mountPropagation")
        if prop is not None:
            pp = child(path, "mountPropagation")
            if prop not in ("Bidirectional", "HostToContainer", "None"):
                errs.append(vc.not_supported(pp, prop, ["Bidirectional", "HostToContainer", "None"]))
            privileged = _dict(ctr.get("securityContext")).get("privileged") is True
            if prop == "Bidirectional" and not privileged:
                errs.append(vc.forbidden(pp, "Bidirectional mount propagation is available only to privileged containers"))
        rro = m.get("recursiveReadOnly")
        if rro is not None:
            rp = child(path, "recursiveReadOnly")
            if rro in ("Enabled", "IfPossible"):
                if not m.get("readOnly"):
                    errs.append(vc.forbidden(rp, "may only be specified when readOnly is true"))
                if prop not in (None, "None"):
                    errs.append(vc.forbidden(rp, "may only be specified when mountPropagation is None or not specified"))
            elif rro != "Disabled":
                errs.append(vc.not_supported(rp, rro, ["Disabled", "Enabled", "IfPossible"]))
    return errs


def _pull_policy(policy: Any, path: str) -> list[FieldErr]:
    if policy in ("Always", "IfNotPresent", "Never"):
        return []
    if policy == "" or policy is None:
        return [required(path)]
    return [vc.not_supported(path, policy, ["Always", "IfNotPresent", "Never"])]


_STANDARD_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps", "requests.storage",
    "services.nodeports", "services.loadbalancers",
}
_INTEGER_RESOURCES = {"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
                      "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"}


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    return not _is_native(name) and not name.startswith("requests.") and not vc.is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _resource_name(name: str, path: str) -> list[FieldErr]:
    """validateContainerResourceName (both the generic and the container-specific checks run)."""
    errs = [invalid(path, name, m) for m in vc.is_qualified_name(name)]
    if "/" not in name:
        if not errs and name not in _STANDARD_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _resources(res: Any, path: str) -> list[FieldErr]:
    res = _dict(res)
    errs: list[FieldErr] = []
    limits, requests = _dict(res.get("limits")), _dict(res.get("requests"))
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    cpu_or_mem = hugepages = False
    for name, q in limits.items():
        fp = key(lim_path, name)
        errs += _resource_name(name, fp)
        errs += _quantity_value(name, q, fp)
        hugepages |= name.startswith("hugepages-")
        cpu_or_mem |= name in ("cpu", "memory")
    for name, q in requests.items():
        fp = key(req_path, name)
        errs += _resource_name(name, fp)
        errs += _quantity_value(name, q, fp)
        if name in limits:
            rv, lv = vc.parse_quantity(q), vc.parse_quantity(limits[name])
            if rv is not None and lv is not None:
                if rv != lv and not _overcommit_allowed(name):
                    errs.append(invalid(req_path, str(q), f"must be equal to {name} limit of {limits[name]}"))
                elif rv > lv:
                    errs.append(invalid(req_path, str(q), f"must be less than or equal to {name} limit of {limits[name]}"))
        elif not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
        hugepages |= name.startswith("hugepages-")
        cpu_or_mem |= name in ("cpu", "memory")
    if hugepages and not cpu_or_mem:
        errs.append(vc.forbidden(path, "HugePages require cpu or memory"))
    return errs


def _quantity_value(name: str, q: Any, path: str) -> list[FieldErr]:
    v = vc.parse_quantity(q)
    if v is None:
        return []
    errs = []
    if v < 0:
        errs.append(invalid(path, str(q), vc.IS_NEGATIVE))
    if (name in _INTEGER_RESOURCES or _is_extended(name)) and v != int(v):
        errs.append(invalid(path, GoValue(str(q)), "must be an integer"))
    return errs


def _security_context(sc: Any, path: str) -> list[FieldErr]:
    if sc is None:
        return []
    sc = _dict(sc)
    errs: list[FieldErr] = []
    for f in ("runAsUser", "runAsGroup"):
        v = vc.as_int(sc.get(f))
        if v is not None:
            errs += [invalid(child(path, f), v, m) for m in vc.is_valid_id(v)]
    pm = sc.get("procMount")
    if pm is not None and pm not in ("Default", "Unmasked"):
        errs.append(vc.not_supported(child(path, "procMount"), pm, ["Default", "Unmasked"]))
    errs += _seccomp(sc.get("seccompProfile"), child(path, "seccompProfile"))
    if sc.get("allowPrivilegeEscalation") is False:
        if sc.get("privileged") is True:
            errs.append(invalid(path, GoValue("core.SecurityContext{...}"),
                                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        for cap in _list(_dict(sc.get("capabilities")).get("add")):
            if cap == "CAP_SYS_ADMIN":
                errs.append(invalid(path, GoValue("core.SecurityContext{...}"),
                                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
    return errs


def _seccomp(sp: Any, path: str) -> list[FieldErr]:
    if sp is None:
        return []
    t = _str(_dict(sp).get("type"))
    valid = ["Localhost", "RuntimeDefault", "Unconfined"]
    if t == "":
        return [required(child(path, "type"), "type is required when seccompProfile is set")]
    if t not in valid:
        return [vc.not_supported(child(path, "type"), t, valid)]
    return []


def _handler(h: dict, grace: int | None, path: str, probe: bool) -> list[FieldErr]:
    errs: list[FieldErr] = []
    kinds = ["exec", "httpGet", "tcpSocket", "grpc"] if probe else ["exec", "httpGet", "tcpSocket", "sleep"]
    n = 0
    for kind in kinds:
        if h.get(kind) is None:
            continue
        if n > 0:
            errs.append(vc.forbidden(child(path, kind), "may not specify more than 1 handler type"))
            continue
        n += 1
        a = _dict(h[kind])
        p = child(path, kind)
        if kind == "exec" and not _list(a.get("command")):
            errs.append(required(child(p, "command")))
        elif kind == "httpGet":
            if not _str(a.get("path")):
                errs.append(required(child(p, "path")))
            errs += _port_num_or_name(a.get("port"), child(p, "port"))
            if a.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(vc.not_supported(child(p, "scheme"), _str(a.get("scheme")), ["HTTP", "HTTPS"]))
            for hdr in _list(a.get("httpHeaders")):
                hn = _str(_dict(hdr).get("name"))
                errs += [invalid(child(p, "httpHeaders"), hn, m) for m in vc.is_http_header_name(hn)]
        elif kind == "tcpSocket":
            errs += _port_num_or_name(a.get("port"), child(p, "port"))
        elif kind == "grpc":
            errs += _port_num_or_name(vc.as_int(a.get("port")) or 0, child(p, "port"))
        elif kind == "sleep" and grace is not None:
            secs = vc.as_int(a.get("seconds")) or 0
            if secs < 0 or secs > grace:
                errs.append(invalid(p, secs, f"must be non-negative and less than terminationGracePeriodSeconds ({grace})"))
    if n == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _port_num_or_name(port: Any, path: str) -> list[FieldErr]:
    if isinstance(port, str):
        return [invalid(path, port, m) for m in vc.is_valid_port_name(port)]
    p = vc.as_int(port) or 0
    return [invalid(path, p, m) for m in vc.is_valid_port_num(p)]


def _probe(probe: Any, grace: int | None, path: str, kind: str) -> list[FieldErr]:
    if probe is None:
        return []
    probe = _dict(probe)
    errs = _handler(probe, grace, path, True)
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += vc.non_negative(vc.as_int(probe.get(f)) or 0, child(path, f))
    tgp = vc.as_int(probe.get("terminationGracePeriodSeconds"))
    if tgp is not None and tgp <= 0:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    st = vc.as_int(probe.get("successThreshold")) or 0
    if kind in ("liveness", "startup") and st != 1:
        errs.append(invalid(child(path, "successThreshold"), st, "must be 1"))
    if kind == "readiness" and probe.get("terminationGracePeriodSeconds") is not None:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), tgp, "must not be set for readinessProbes"))
    return errs


def _lifecycle(lc: Any, grace: int | None, path: str) -> list[FieldErr]:
    lc = _dict(lc)
    errs: list[FieldErr] = []
    for hook in ("postStart", "preStop"):
        if lc.get(hook) is not None:
            errs += _handler(_dict(lc[hook]), grace, child(path, hook), False)
    return errs


def _container_common(ctr: dict, volumes: dict[str, dict], path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    name = _str(ctr.get("name"))
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs += [invalid(child(path, "name"), name, m) for m in vc.is_dns1123_label(name)]
    if not _str(ctr.get("image")):
        errs.append(required(child(path, "image")))
    tmp = ctr.get("terminationMessagePolicy", "")
    if tmp == "" or tmp is None:
        errs.append(required(child(path, "terminationMessagePolicy")))
    elif tmp not in ("File", "FallbackToLogsOnError"):
        errs.append(vc.not_supported(child(path, "terminationMessagePolicy"), tmp, ["File", "FallbackToLogsOnError"]))
    errs += _container_ports(ctr.get("ports"), child(path, "ports"))
    errs += _env(ctr.get("env"), child(path, "env"))
    errs += _env_from(ctr.get("envFrom"), child(path, "envFrom"))
    errs += _volume_mounts(ctr.get("volumeMounts"), volumes, ctr, child(path, "volumeMounts"))
    errs += _pull_policy(ctr.get("imagePullPolicy", ""), child(path, "imagePullPolicy"))
    errs += _resources(ctr.get("resources"), child(path, "resources"))
    errs += _security_context(ctr.get("securityContext"), child(path, "securityContext"))
    return errs


def _host_port_conflicts(containers: list, path: str, seen: set[str] | None = None) -> list[FieldErr]:
    seen = set() if seen is None else seen
    errs = []
    for ci, ctr in enumerate(containers):
        for pi, port in enumerate(_list(_dict(ctr).get("ports"))):
            port = _dict(port)
            hp = vc.as_int(port.get("hostPort")) or 0
            if hp == 0:
                continue
            s = f"{_str(port.get('protocol'))}/{_str(port.get('hostIP'))}/{hp}"
            if s in seen:
                errs.append(vc.duplicate(child(f"{path}[{ci}]", "ports") + f"[{pi}].hostPort", s))
            else:
                seen.add(s)
    return errs


def _containers(containers: Any, volumes: dict[str, dict], grace: int | None, path: str) -> list[FieldErr]:
    containers = _list(containers)
    if not containers:
        return [required(path)]
    errs: list[FieldErr] = []
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        ctr = _dict(ctr)
        p = f"{path}[{i}]"
        errs += _container_common(ctr, volumes, p)
        name = _str(ctr.get("name"))
        if name in names:
            errs.append(vc.duplicate(child(p, "name"), name))
        else:
            names.add(name)
        if ctr.get("lifecycle") is not None:
            errs += _lifecycle(ctr["lifecycle"], grace, child(p, "lifecycle"))
        errs += _probe(ctr.get("livenessProbe"), grace, child(p, "livenessProbe"), "liveness")
        errs += _probe(ctr.get("readinessProbe"), grace, child(p, "readinessProbe"), "readiness")
        errs += _probe(ctr.get("startupProbe"), grace, child(p, "startupProbe"), "startup")
        if ctr.get("restartPolicy") is not None:
            errs.append(vc.forbidden(child(p, "restartPolicy"), "may not be set for non-init containers"))
    return errs + _host_port_conflicts(containers, path)


def _init_containers(inits: Any, regular: Any, volumes: dict[str, dict], grace: int | None,
                     path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    names = {_str(_dict(c).get("name")) for c in _list(regular)}
    for i, ctr in enumerate(_list(inits)):
        ctr = _dict(ctr)
        p = f"{path}[{i}]"
        errs += _container_common(ctr, volumes, p)
        always = False
        rp = ctr.get("restartPolicy")
        if rp is not None:
            if rp != "Always":
                errs.append(vc.not_supported(child(p, "restartPolicy"), rp, ["Always"]))
            always = rp == "Always"
        name = _str(ctr.get("name"))
        if name in names:
            errs.append(vc.duplicate(child(p, "name"), name))
        elif name:
            names.add(name)
        errs += _host_port_conflicts([ctr], path)
        if always:
            if ctr.get("lifecycle") is not None:
                errs += _lifecycle(ctr["lifecycle"], grace, child(p, "lifecycle"))
            errs += _probe(ctr.get("livenessProbe"), grace, child(p, "livenessProbe"), "liveness")
            errs += _probe(ctr.get("readinessProbe"), grace, child(p, "readinessProbe"), "readiness")
            errs += _probe(ctr.get("startupProbe"), grace, child(p, "startupProbe"), "startup")
        else:
            for f in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(f) is not None:
                    errs.append(vc.forbidden(child(p, f), "may not be set for init containers without restartPolicy=Always"))
    return errs


def _tolerations(tols: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    for i, t in enumerate(_list(tols)):
        t = _dict(t)
        ip = f"{path}[{i}]"
        k, op, eff, val = _str(t.get("key")), _str(t.get("operator")), _str(t.get("effect")), _str(t.get("value"))
        if k:
            errs += vc.validate_label_name(k, child(ip, "key"))
        if not k and op != "Exists":
            errs.append(invalid(child(ip, "operator"), op,
                                'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if t.get("tolerationSeconds") is not None and eff != "NoExecute":
            errs.append(invalid(child(ip, "effect"), eff, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = vc.is_valid_label_value(val)
            if msgs:
                errs.append(invalid(child(ip, "operator"), val, ";".join(msgs)))
        elif op == "Exists":
            if val:
                errs.append(invalid(child(ip, "operator"), val, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(vc.not_supported(child(ip, "operator"), op, ["Equal", "Exists"]))
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(vc.not_supported(child(ip, "effect"), eff, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return errs


def _pod_security_context(sc: Any, path: str) -> list[FieldErr]:
    if sc is None:
        return []
    sc = _dict(sc)
    errs: list[FieldErr] = []
    for f in ("fsGroup", "runAsUser", "runAsGroup"):
        v = vc.as_int(sc.get(f))
        if v is not None:
            errs += [invalid(child(path, f), v, m) for m in vc.is_valid_id(v)]
    for g, gid in enumerate(_list(sc.get("supplementalGroups"))):
        v = vc.as_int(gid) or 0
        errs += [invalid(f"{child(path, 'supplementalGroups')}[{g}]", v, m) for m in vc.is_valid_id(v)]
    fgp = sc.get("fsGroupChangePolicy")
    if fgp is not None and fgp not in ("Always", "OnRootMismatch"):
        errs.append(vc.not_supported(child(path, "fsGroupChangePolicy"), fgp, ["Always", "OnRootMismatch"]))
    errs += _seccomp(sc.get("seccompProfile"), child(path, "seccompProfile"))
    return errs


def _dns_config(cfg: Any, policy: str, path: str) -> list[FieldErr]:
    if policy == "None":
        if cfg is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not _list(_dict(cfg).get("nameservers")):
            return [required(child(path, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if cfg is None:
        return []
    cfg = _dict(cfg)
    errs: list[FieldErr] = []
    ns = _list(cfg.get("nameservers"))
    if len(ns) > 3:
        errs.append(invalid(child(path, "nameservers"), GoValue(vc.go_string_slice(ns)), "must not have more than 3 nameservers"))
    for i, s in enumerate(_list(cfg.get("searches"))):
        s = _str(s)
        s = s[:-1] if s.endswith(".") else s
        errs += [invalid(f"{child(path, 'searches')}[{i}]", s, m) for m in vc.is_dns1123_subdomain(s)]
    for i, o in enumerate(_list(cfg.get("options"))):
        if not _str(_dict(o).get("name")):
            errs.append(required(f"{child(path, 'options')}[{i}]", "must not be empty"))
    return errs


def validate_pod_spec(spec: Any, pod_name: str | None, path: str, *, is_pod: bool) -> list[FieldErr]:
    """core/validation ValidatePodSpec (plus the host-network and OS checks the lab can hit)."""
    spec = _dict(spec)
    errs: list[FieldErr] = []
    grace = vc.as_int(spec.get("terminationGracePeriodSeconds"))
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(child(path, "terminationGracePeriodSeconds")))
    volumes, verrs = validate_volumes(spec.get("volumes"), child(path, "volumes"), pod_name)
    errs += verrs
    errs += _containers(spec.get("containers"), volumes, grace, child(path, "containers"))
    errs += _init_containers(spec.get("initContainers"), spec.get("containers"), volumes, grace,
                             child(path, "initContainers"))
    if spec.get("hostNetwork"):
        for ci, ctr in enumerate(_list(spec.get("containers"))):
            for pi, port in enumerate(_list(_dict(ctr).get("ports"))):
                hp, cp = vc.as_int(_dict(port).get("hostPort")) or 0, vc.as_int(_dict(port).get("containerPort")) or 0
                if (is_pod or hp != 0) and hp != cp:
                    errs.append(invalid(f"{child(path, 'containers')}[{ci}].ports[{pi}].hostPort", hp,
                                        "must match `containerPort` when `hostNetwork` is true"))
    rp = spec.get("restartPolicy", "")
    if rp in ("", None):
        errs.append(required(child(path, "restartPolicy")))
    elif rp not in ("Always", "OnFailure", "Never"):
        errs.append(vc.not_supported(child(path, "restartPolicy"), rp, ["Always", "OnFailure", "Never"]))
    dp = spec.get("dnsPolicy", "")
    if dp in ("", None):
        errs.append(required(child(path, "dnsPolicy")))
    elif dp not in ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"):
        errs.append(vc.not_supported(child(path, "dnsPolicy"), dp,
                                     ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]))
    errs += vc.validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector"))
    errs += _pod_security_context(spec.get("securityContext"), child(path, "securityContext"))
    # imagePullSecrets "only name may be set" cannot trigger from JSON: unknown fields never survive decoding.
    errs += _dns_config(spec.get("dnsConfig"), _str(dp), child(path, "dnsConfig"))
    for i, g in enumerate(_list(spec.get("readinessGates"))):
        ct = _str(_dict(g).get("conditionType"))
        errs += [invalid(f"{child(path, 'readinessGates')}[{i}].conditionType", ct, m) for m in vc.is_qualified_name(ct)]
    seen_gates: set[str] = set()
    for i, g in enumerate(_list(spec.get("schedulingGates"))):
        n = _str(_dict(g).get("name"))
        errs += [invalid(f"{child(path, 'schedulingGates')}[{i}]", n, m) for m in vc.is_qualified_name(n)]
        if n in seen_gates:
            errs.append(vc.duplicate(f"{child(path, 'schedulingGates')}[{i}]", n))
        seen_gates.add(n)
    san = _str(spec.get("serviceAccountName"))
    if san:
        errs += [invalid(child(path, "serviceAccountName"), san, m) for m in vc.name_is_dns_subdomain(san, False)]
    nn = _str(spec.get("nodeName"))
    if nn:
        errs += [invalid(child(path, "nodeName"), nn, m) for m in vc.name_is_dns_subdomain(nn, False)]
    ads = vc.as_int(spec.get("activeDeadlineSeconds"))
    if ads is not None and (ads < 1 or ads > 2 ** 31 - 1):
        errs.append(invalid(child(path, "activeDeadlineSeconds"), ads, vc.inclusive_range_error(1, 2 ** 31 - 1)))
    for f in ("hostname", "subdomain"):
        v = _str(spec.get(f))
        if v:
            errs += [invalid(child(path, f), v, m) for m in vc.is_dns1123_label(v)]
    errs += _tolerations(spec.get("tolerations"), child(path, "tolerations"))
    pcn = _str(spec.get("priorityClassName"))
    if pcn:
        errs += [invalid(child(path, "priorityClassName"), pcn, m) for m in vc.name_is_dns_subdomain(pcn, False)]
    rcn = spec.get("runtimeClassName")
    if rcn is not None:
        errs += [invalid(child(path, "runtimeClassName"), rcn, m) for m in vc.name_is_dns_subdomain(_str(rcn), False)]
    pp = spec.get("preemptionPolicy")
    if pp is not None:
        if pp == "":
            errs.append(required(child(path, "preemptionPolicy")))
        elif pp not in ("PreemptLowerPriority", "Never"):
            errs.append(vc.not_supported(child(path, "preemptionPolicy"), pp, ["PreemptLowerPriority", "Never"]))
    os_ = spec.get("os")
    if os_ is not None:
        name = _str(_dict(os_).get("name"))
        if not name:
            errs.append(required(child(path, "os", "name")))
        elif name not in ("linux", "windows"):
            errs.append(vc.not_supported(child(path, "os", "name"), name, ["linux", "windows"]))
    return errs


def validate_pod_specific_annotations(annotations: Any, spec: dict, path: str) -> list[FieldErr]:
    annotations = _dict(annotations)
    errs: list[FieldErr] = []
    if MIRROR_POD_ANNOTATION in annotations and not _str(spec.get("nodeName")):
        errs.append(invalid(key(path, MIRROR_POD_ANNOTATION), annotations[MIRROR_POD_ANNOTATION],
                            "must set spec.nodeName if mirror pod annotation is set"))
    if POD_DELETION_COST in annotations:
        v = annotations[POD_DELETION_COST]
        if not (isinstance(v, str) and re.fullmatch(r"[+-]?[0-9]+", v) and -(2 ** 31) <= int(v) < 2 ** 31):
            errs.append(invalid(key(path, POD_DELETION_COST), v, "must be a 32bit integer"))
    return errs


def validate_pod_template_spec(tmpl: Any, path: str) -> list[FieldErr]:
    """ValidatePodTemplateSpec: labels, annotations and the PodSpec of a template (no pod-only checks)."""
    tmpl = _dict(tmpl)
    meta = _dict(tmpl.get("metadata"))
    spec = _dict(tmpl.get("spec"))
    errs = vc.validate_labels(meta.get("labels"), child(path, "labels"))
    errs += vc.validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_pod_specific_annotations(meta.get("annotations"), spec, child(path, "annotations"))
    errs += validate_pod_spec(spec, None, child(path, "spec"), is_pod=False)
    if _list(spec.get("ephemeralContainers")):
        errs.append(vc.forbidden(child(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
    return errs


def validate_pod_metadata_and_spec(pod: dict, meta_errs: list[FieldErr]) -> list[FieldErr]:
    """validatePodMetadataAndSpec; ``meta_errs`` is ValidateObjectMeta's result (computed by the caller)."""
    meta, spec = _dict(pod.get("metadata")), _dict(pod.get("spec"))
    errs = list(meta_errs)
    errs += validate_pod_specific_annotations(meta.get("annotations"), spec, "metadata.annotations")
    errs += validate_pod_spec(spec, _str(meta.get("name")), "spec", is_pod=True)
    if not _str(spec.get("serviceAccountName")):
        for vi, vol in enumerate(_list(spec.get("volumes"))):
            for si, src in enumerate(_list(_dict(_dict(vol).get("projected")).get("sources"))):
                if _dict(src).get("serviceAccountToken") is not None:
                    errs.append(vc.forbidden(f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken",
                                             "must not be specified when serviceAccountName is not set"))
    for kind in ("containers", "initContainers"):
        for i, ctr in enumerate(_list(spec.get(kind))):
            image = _str(_dict(ctr).get("image"))
            if image != image.strip():
                errs.append(invalid(f"spec.{kind}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs


def validate_pod_create(pod: dict, meta_errs: list[FieldErr]) -> list[FieldErr]:
    errs = validate_pod_metadata_and_spec(pod, meta_errs)
    spec = _dict(pod.get("spec"))
    if _list(spec.get("ephemeralContainers")):
        errs.append(vc.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if _str(spec.get("nodeName")) and _list(spec.get("schedulingGates")):
        errs.append(vc.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


# --- update ---

UPDATABLE_POD_SPEC_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]


def _container_updates(new: list, old: list, path: str) -> tuple[list[FieldErr], bool]:
    if len(new) != len(old):
        return [vc.forbidden(path, "pod updates may not add or remove containers")], True
    errs = []
    for i, ctr in enumerate(new):
        image = _str(_dict(ctr).get("image"))
        if not image:
            errs.append(required(f"{path}[{i}].image"))
        if image.strip() != image:
            errs.append(invalid(f"{path}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs, False


def _only_added_tolerations(new: list, old: list, path: str) -> list[FieldErr]:
    """validateOnlyAddedTolerations: existing tolerations may only change their tolerationSeconds."""
    for o in old:
        if not any(_clean({**_dict(o), "tolerationSeconds": _dict(n).get("tolerationSeconds")}) == _clean(n)
                   for n in new):
            return [vc.forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return _tolerations(new, path)


def _clean(v: Any) -> Any:
    """Drop unset values so JSON shapes compare like Go's semantic DeepEqual (nil == empty)."""
    if isinstance(v, dict):
        out = {k: _clean(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [], "")}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def validate_pod_update(new: dict, old: dict, meta_update_errs: list[FieldErr],
                        meta_errs: list[FieldErr]) -> list[FieldErr]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, tolerations (additions) and gates may change."""
    errs = list(meta_update_errs)
    errs += validate_pod_metadata_and_spec(new, meta_errs)
    new_ann, old_ann = _dict(_dict(new.get("metadata")).get("annotations")), _dict(_dict(old.get("metadata")).get("annotations"))
    for k, v in old_ann.items():
        if k in new_ann and new_ann[k] == v:
            continue
        if k == MIRROR_POD_ANNOTATION:
            errs.append(vc.forbidden(key("metadata.annotations", k), "may not remove or update mirror pod annotation"))
    for k in new_ann:
        if k not in old_ann and k == MIRROR_POD_ANNOTATION:
            errs.append(vc.forbidden(key("metadata.annotations", k), "may not add mirror pod annotation"))
    errs += validate_pod_specific_annotations(new_ann, _dict(new.get("spec")), "metadata.annotations")
    ns, os_ = _dict(new.get("spec")), _dict(old.get("spec"))
    for kind in ("containers", "initContainers"):
        cerrs, stop = _container_updates(_list(ns.get(kind)), _list(os_.get(kind)), f"spec.{kind}")
        errs += cerrs
        if stop:
            return errs
    nads, oads = ns.get("activeDeadlineSeconds"), os_.get("activeDeadlineSeconds")
    if nads is not None:
        n = vc.as_int(nads) or 0
        if n < 0 or n > 2 ** 31 - 1:
            errs.append(invalid("spec.activeDeadlineSeconds", n, vc.inclusive_range_error(0, 2 ** 31 - 1)))
            return errs
        if oads is not None and (vc.as_int(oads) or 0) < n:
            errs.append(invalid("spec.activeDeadlineSeconds", n, "must be less than or equal to previous value"))
            return errs
    elif oads is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    errs += _only_added_tolerations(_list(ns.get("tolerations")), _list(os_.get("tolerations")), "spec.tolerations")
    new_gates = [_str(_dict(g).get("name")) for g in _list(ns.get("schedulingGates"))]
    old_gates = {_str(_dict(g).get("name")) for g in _list(os_.get("schedulingGates"))}
    for i, g in enumerate(new_gates):
        if g not in old_gates:
            errs.append(vc.forbidden(f"spec.schedulingGates[{i}].name",
                                     f"only deletion is allowed, but found new scheduling gate '{g}'"))
    munged = _munge(ns, os_)
    old_spec = _comparable(os_)
    from .validation_cmpdiff import diff_pod_spec, pod_specs_equal

    if not pod_specs_equal(old_spec, munged):

        detail = ("pod updates may not change fields other than " + ",".join(UPDATABLE_POD_SPEC_FIELDS) + "\n"
                  + diff_pod_spec(old_spec, munged))
        errs.append(vc.forbidden("spec", detail))
    return errs


def _comparable(spec: dict) -> dict:
    """The internal PodSpec has no deprecated ``serviceAccount`` alias."""
    return {k: v for k, v in spec.items() if k != "serviceAccount"}


def _munge(new: dict, old: dict) -> dict:
    import copy

    m = copy.deepcopy(_comparable(new))
    for kind in ("containers", "initContainers"):
        olds = _list(old.get(kind))
        for i, ctr in enumerate(_list(m.get(kind))):
            if isinstance(ctr, dict) and i < len(olds):
                if "image" in _dict(olds[i]):
                    ctr["image"] = olds[i]["image"]
                else:
                    ctr.pop("image", None)
    for f in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if f in old:
            m[f] = copy.deepcopy(old[f])
        else:
            m.pop(f, None)
    otg, ntg = vc.as_int(old.get("terminationGracePeriodSeconds")), vc.as_int(m.get("terminationGracePeriodSeconds"))
    if otg is not None and otg < 0 and ntg == 1:
        m["terminationGracePeriodSeconds"] = old["terminationGracePeriodSeconds"]
    return m
