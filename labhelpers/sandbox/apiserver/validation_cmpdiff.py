"""A go-cmp style ``cmp.Diff(oldPod.Spec, newPod.Spec)`` for the "pod updates may not change fields" message.

kube-apiserver appends go-cmp's report of the internal ``core.PodSpec`` to that error, and students read it to
find what they changed.  This renders JSON pod specs the same way for the common fields: Go field names in struct
order, two records of context around each difference, ``... // N identical fields`` for the rest, aligned keys,
``-``/``+`` lines with Go type names on changed composite values.  Rare fields fall back to a generic rendering.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

# --- a small schema of the internal (pkg/apis/core) types, in Go field order ---
# Each field: (json name, Go name, type). Types: "string", "int", "bool", "ptr:<type>", "[]<type>",
# "map[string]string", "core.ResourceList", "quantity", or a struct name from _STRUCTS. "inline:<struct>"
# fields are Go embedded structs whose JSON fields sit on the parent.

_STRUCTS: dict[str, list[tuple[str, str, str]]] = {
    "core.PodSpec": [
        ("volumes", "Volumes", "[]core.Volume"), ("initContainers", "InitContainers", "[]core.Container"),
        ("containers", "Containers", "[]core.Container"),
        ("ephemeralContainers", "EphemeralContainers", "[]core.EphemeralContainer"),
        ("restartPolicy", "RestartPolicy", "string"),
        ("terminationGracePeriodSeconds", "TerminationGracePeriodSeconds", "ptr:int"),
        ("activeDeadlineSeconds", "ActiveDeadlineSeconds", "ptr:int"), ("dnsPolicy", "DNSPolicy", "string"),
        ("nodeSelector", "NodeSelector", "map[string]string"),
        ("serviceAccountName", "ServiceAccountName", "string"),
        ("automountServiceAccountToken", "AutomountServiceAccountToken", "ptr:bool"),
        ("nodeName", "NodeName", "string"), ("securityContext", "SecurityContext", "ptr:core.PodSecurityContext"),
        ("imagePullSecrets", "ImagePullSecrets", "[]core.LocalObjectReference"),
        ("hostname", "Hostname", "string"), ("subdomain", "Subdomain", "string"),
        ("setHostnameAsFQDN", "SetHostnameAsFQDN", "ptr:bool"), ("affinity", "Affinity", "ptr:core.Affinity"),
        ("schedulerName", "SchedulerName", "string"), ("tolerations", "Tolerations", "[]core.Toleration"),
        ("hostAliases", "HostAliases", "[]core.HostAlias"), ("priorityClassName", "PriorityClassName", "string"),
        ("priority", "Priority", "ptr:int"), ("preemptionPolicy", "PreemptionPolicy", "ptr:string"),
        ("dnsConfig", "DNSConfig", "ptr:core.PodDNSConfig"),
        ("readinessGates", "ReadinessGates", "[]core.PodReadinessGate"),
        ("runtimeClassName", "RuntimeClassName", "ptr:string"), ("overhead", "Overhead", "core.ResourceList"),
        ("enableServiceLinks", "EnableServiceLinks", "ptr:bool"),
        ("topologySpreadConstraints", "TopologySpreadConstraints", "[]core.TopologySpreadConstraint"),
        ("os", "OS", "ptr:core.PodOS"), ("schedulingGates", "SchedulingGates", "[]core.PodSchedulingGate"),
        ("resourceClaims", "ResourceClaims", "[]core.PodResourceClaim"),
        ("resources", "Resources", "ptr:core.ResourceRequirements"),
    ],
    "core.Container": [
        ("name", "Name", "string"), ("image", "Image", "string"), ("command", "Command", "[]string"),
        ("args", "Args", "[]string"), ("workingDir", "WorkingDir", "string"),
        ("ports", "Ports", "[]core.ContainerPort"), ("envFrom", "EnvFrom", "[]core.EnvFromSource"),
        ("env", "Env", "[]core.EnvVar"), ("resources", "Resources", "core.ResourceRequirements"),
        ("resizePolicy", "ResizePolicy", "[]core.ContainerResizePolicy"),
        ("restartPolicy", "RestartPolicy", "ptr:string"),
        ("volumeMounts", "VolumeMounts", "[]core.VolumeMount"),
        ("volumeDevices", "VolumeDevices", "[]core.VolumeDevice"),
        ("livenessProbe", "LivenessProbe", "ptr:core.Probe"), ("readinessProbe", "ReadinessProbe", "ptr:core.Probe"),
        ("startupProbe", "StartupProbe", "ptr:core.Probe"), ("lifecycle", "Lifecycle", "ptr:core.Lifecycle"),
        ("terminationMessagePath", "TerminationMessagePath", "string"),
        ("terminationMessagePolicy", "TerminationMessagePolicy", "string"),
        ("imagePullPolicy", "ImagePullPolicy", "string"),
        ("securityContext", "SecurityContext", "ptr:core.SecurityContext"), ("stdin", "Stdin", "bool"),
        ("stdinOnce", "StdinOnce", "bool"), ("tty", "TTY", "bool"),
    ],
    "core.ResourceRequirements": [
        ("limits", "Limits", "core.ResourceList"), ("requests", "Requests", "core.ResourceList"),
        ("claims", "Claims", "[]core.ResourceClaim"),
    ],
    "core.ContainerPort": [
        ("name", "Name", "string"), ("hostPort", "HostPort", "int"), ("containerPort", "ContainerPort", "int"),
        ("protocol", "Protocol", "string"), ("hostIP", "HostIP", "string"),
    ],
    "core.EnvVar": [("name", "Name", "string"), ("value", "Value", "string"),
                    ("valueFrom", "ValueFrom", "ptr:core.EnvVarSource")],
    "core.EnvVarSource": [
        ("fieldRef", "FieldRef", "ptr:core.ObjectFieldSelector"),
        ("resourceFieldRef", "ResourceFieldRef", "ptr:core.ResourceFieldSelector"),
        ("configMapKeyRef", "ConfigMapKeyRef", "ptr:core.ConfigMapKeySelector"),
        ("secretKeyRef", "SecretKeyRef", "ptr:core.SecretKeySelector"),
    ],
    "core.ObjectFieldSelector": [("apiVersion", "APIVersion", "string"), ("fieldPath", "FieldPath", "string")],
    "core.ConfigMapKeySelector": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                                  ("key", "Key", "string"), ("optional", "Optional", "ptr:bool")],
    "core.SecretKeySelector": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                               ("key", "Key", "string"), ("optional", "Optional", "ptr:bool")],
    "core.EnvFromSource": [("prefix", "Prefix", "string"),
                           ("configMapRef", "ConfigMapRef", "ptr:core.ConfigMapEnvSource"),
                           ("secretRef", "SecretRef", "ptr:core.SecretEnvSource")],
    "core.ConfigMapEnvSource": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                                ("optional", "Optional", "ptr:bool")],
    "core.SecretEnvSource": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                             ("optional", "Optional", "ptr:bool")],
    "core.LocalObjectReference": [("name", "Name", "string")],
    "core.VolumeMount": [
        ("name", "Name", "string"), ("readOnly", "ReadOnly", "bool"),
        ("recursiveReadOnly", "RecursiveReadOnly", "ptr:string"), ("mountPath", "MountPath", "string"),
        ("subPath", "SubPath", "string"), ("mountPropagation", "MountPropagation", "ptr:string"),
        ("subPathExpr", "SubPathExpr", "string"),
    ],
    "core.Volume": [("name", "Name", "string"), ("", "VolumeSource", "inline:core.VolumeSource")],
    "core.VolumeSource": [
        ("hostPath", "HostPath", "ptr:core.HostPathVolumeSource"),
        ("emptyDir", "EmptyDir", "ptr:core.EmptyDirVolumeSource"),
        ("secret", "Secret", "ptr:core.SecretVolumeSource"),
        ("persistentVolumeClaim", "PersistentVolumeClaim", "ptr:core.PersistentVolumeClaimVolumeSource"),
        ("downwardAPI", "DownwardAPI", "ptr:core.DownwardAPIVolumeSource"),
        ("configMap", "ConfigMap", "ptr:core.ConfigMapVolumeSource"),
        ("projected", "Projected", "ptr:core.ProjectedVolumeSource"),
        ("csi", "CSI", "ptr:core.CSIVolumeSource"), ("ephemeral", "Ephemeral", "ptr:core.EphemeralVolumeSource"),
        ("image", "Image", "ptr:core.ImageVolumeSource"),
    ],
    "core.HostPathVolumeSource": [("path", "Path", "string"), ("type", "Type", "ptr:string")],
    "core.EmptyDirVolumeSource": [("medium", "Medium", "string"), ("sizeLimit", "SizeLimit", "ptr:quantity")],
    "core.SecretVolumeSource": [("secretName", "SecretName", "string"), ("items", "Items", "[]core.KeyToPath"),
                                ("defaultMode", "DefaultMode", "ptr:int"), ("optional", "Optional", "ptr:bool")],
    "core.ConfigMapVolumeSource": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                                   ("items", "Items", "[]core.KeyToPath"),
                                   ("defaultMode", "DefaultMode", "ptr:int"), ("optional", "Optional", "ptr:bool")],
    "core.PersistentVolumeClaimVolumeSource": [("claimName", "ClaimName", "string"),
                                               ("readOnly", "ReadOnly", "bool")],
    "core.KeyToPath": [("key", "Key", "string"), ("path", "Path", "string"), ("mode", "Mode", "ptr:int")],
    "core.ProjectedVolumeSource": [("sources", "Sources", "[]core.VolumeProjection"),
                                   ("defaultMode", "DefaultMode", "ptr:int")],
    "core.VolumeProjection": [
        ("secret", "Secret", "ptr:core.SecretProjection"), ("downwardAPI", "DownwardAPI", "ptr:core.DownwardAPIProjection"),
        ("configMap", "ConfigMap", "ptr:core.ConfigMapProjection"),
        ("serviceAccountToken", "ServiceAccountToken", "ptr:core.ServiceAccountTokenProjection"),
        ("clusterTrustBundle", "ClusterTrustBundle", "ptr:core.ClusterTrustBundleProjection"),
    ],
    "core.SecretProjection": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                              ("items", "Items", "[]core.KeyToPath"), ("optional", "Optional", "ptr:bool")],
    "core.ConfigMapProjection": [("", "LocalObjectReference", "inline:core.LocalObjectReference"),
                                 ("items", "Items", "[]core.KeyToPath"), ("optional", "Optional", "ptr:bool")],
    "core.DownwardAPIProjection": [("items", "Items", "[]core.DownwardAPIVolumeFile")],
    "core.DownwardAPIVolumeSource": [("items", "Items", "[]core.DownwardAPIVolumeFile"),
                                     ("defaultMode", "DefaultMode", "ptr:int")],
    "core.DownwardAPIVolumeFile": [("path", "Path", "string"), ("fieldRef", "FieldRef", "ptr:core.ObjectFieldSelector"),
                                   ("resourceFieldRef", "ResourceFieldRef", "ptr:core.ResourceFieldSelector"),
                                   ("mode", "Mode", "ptr:int")],
    "core.ServiceAccountTokenProjection": [("audience", "Audience", "string"),
                                           ("expirationSeconds", "ExpirationSeconds", "int"),
                                           ("path", "Path", "string")],
    "core.Toleration": [("key", "Key", "string"), ("operator", "Operator", "string"), ("value", "Value", "string"),
                        ("effect", "Effect", "string"), ("tolerationSeconds", "TolerationSeconds", "ptr:int")],
    "core.PodSecurityContext": [
        ("hostNetwork", "HostNetwork", "bool"), ("hostPID", "HostPID", "bool"), ("hostIPC", "HostIPC", "bool"),
        ("shareProcessNamespace", "ShareProcessNamespace", "ptr:bool"), ("hostUsers", "HostUsers", "ptr:bool"),
        ("seLinuxOptions", "SELinuxOptions", "ptr:core.SELinuxOptions"),
        ("windowsOptions", "WindowsOptions", "ptr:core.WindowsSecurityContextOptions"),
        ("runAsUser", "RunAsUser", "ptr:int"), ("runAsGroup", "RunAsGroup", "ptr:int"),
        ("runAsNonRoot", "RunAsNonRoot", "ptr:bool"), ("supplementalGroups", "SupplementalGroups", "[]int"),
        ("supplementalGroupsPolicy", "SupplementalGroupsPolicy", "ptr:string"), ("fsGroup", "FSGroup", "ptr:int"),
        ("fsGroupChangePolicy", "FSGroupChangePolicy", "ptr:string"), ("sysctls", "Sysctls", "[]core.Sysctl"),
        ("seccompProfile", "SeccompProfile", "ptr:core.SeccompProfile"),
        ("appArmorProfile", "AppArmorProfile", "ptr:core.AppArmorProfile"),
        ("seLinuxChangePolicy", "SELinuxChangePolicy", "ptr:string"),
    ],
    "core.SecurityContext": [
        ("capabilities", "Capabilities", "ptr:core.Capabilities"), ("privileged", "Privileged", "ptr:bool"),
        ("seLinuxOptions", "SELinuxOptions", "ptr:core.SELinuxOptions"),
        ("windowsOptions", "WindowsOptions", "ptr:core.WindowsSecurityContextOptions"),
        ("runAsUser", "RunAsUser", "ptr:int"), ("runAsGroup", "RunAsGroup", "ptr:int"),
        ("runAsNonRoot", "RunAsNonRoot", "ptr:bool"), ("readOnlyRootFilesystem", "ReadOnlyRootFilesystem", "ptr:bool"),
        ("allowPrivilegeEscalation", "AllowPrivilegeEscalation", "ptr:bool"), ("procMount", "ProcMount", "ptr:string"),
        ("seccompProfile", "SeccompProfile", "ptr:core.SeccompProfile"),
        ("appArmorProfile", "AppArmorProfile", "ptr:core.AppArmorProfile"),
    ],
    "core.Capabilities": [("add", "Add", "[]string"), ("drop", "Drop", "[]string")],
    "core.Probe": [
        ("", "ProbeHandler", "inline:core.ProbeHandler"), ("initialDelaySeconds", "InitialDelaySeconds", "int"),
        ("timeoutSeconds", "TimeoutSeconds", "int"), ("periodSeconds", "PeriodSeconds", "int"),
        ("successThreshold", "SuccessThreshold", "int"), ("failureThreshold", "FailureThreshold", "int"),
        ("terminationGracePeriodSeconds", "TerminationGracePeriodSeconds", "ptr:int"),
    ],
    "core.ProbeHandler": [("exec", "Exec", "ptr:core.ExecAction"), ("httpGet", "HTTPGet", "ptr:core.HTTPGetAction"),
                          ("tcpSocket", "TCPSocket", "ptr:core.TCPSocketAction"), ("grpc", "GRPC", "ptr:core.GRPCAction")],
    "core.ExecAction": [("command", "Command", "[]string")],
    "core.HTTPGetAction": [("path", "Path", "string"), ("port", "Port", "intstr"), ("host", "Host", "string"),
                           ("scheme", "Scheme", "string"), ("httpHeaders", "HTTPHeaders", "[]core.HTTPHeader")],
    "core.TCPSocketAction": [("port", "Port", "intstr"), ("host", "Host", "string")],
}


def _fields(type_name: str, value: dict) -> list[tuple[str, str, str]]:
    """Known fields in Go order, then any unknown JSON keys (Go-style capitalised) in JSON order."""
    known = _STRUCTS.get(type_name, [])
    covered = set()
    for jn, _, t in known:
        if t.startswith("inline:"):
            covered |= {f[0] for f in _STRUCTS[t[7:]]}
        else:
            covered.add(jn)
    extra = [(k, k[:1].upper() + k[1:], "") for k in value if k not in covered]
    return known + extra


def _inline_value(t: str, parent: dict) -> dict:
    return {f[0]: parent[f[0]] for f in _STRUCTS[t[7:]] if f[0] in parent}


def _get(parent: dict, jn: str, t: str) -> Any:
    if t.startswith("inline:"):
        return _inline_value(t, parent)
    return parent.get(jn)


def _infer(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "int"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]" + (_infer(v[0]) if v else "string")
    if isinstance(v, dict):
        return "struct"
    return "string"


def _is_zero(v: Any, t: str) -> bool:
    if t.startswith("ptr:") or t.startswith("[]") or t.startswith("map") or t == "core.ResourceList":
        return v is None
    if t == "string":
        return v in (None, "")
    if t == "int":
        return v in (None, 0)
    if t == "bool":
        return v in (None, False)
    if isinstance(v, dict) or v is None:
        v = v or {}
        return all(_is_zero(_get(v, jn, ft), ft or _infer(_get(v, jn, ft))) for jn, _, ft in _fields(t, v))
    return False


def _equal(a: Any, b: Any, t: str) -> bool:
    """apiequality.Semantic.DeepEqual for a value of Go type ``t`` (nil and empty slices/maps are equal)."""
    if _is_zero(a, t) and _is_zero(b, t):
        return True
    if t.startswith("ptr:"):
        if a is None or b is None:
            return False
        inner = t[4:]
        return a == b if inner in ("int", "bool", "string", "quantity") else _equal(a, b, inner)
    if t.startswith("[]"):
        a, b = a or [], b or []
        return (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                and all(_equal(x, y, t[2:]) for x, y in zip(a, b, strict=True)))
    if t in ("map[string]string", "core.ResourceList"):
        return (a or {}) == (b or {})
    if t in _STRUCTS and isinstance(a or {}, dict) and isinstance(b or {}, dict):
        a, b = a or {}, b or {}
        for jn, _, ft in _fields(t, {**a, **b}):
            av, bv = _get(a, jn, ft), _get(b, jn, ft)
            ft = ft or _infer(bv if bv is not None else av)
            if not _equal(av, bv, ft[7:] if ft.startswith("inline:") else ft):
                return False
        return True
    return _norm(a) == _norm(b)


def pod_specs_equal(old: dict, new: dict) -> bool:
    """Whether two JSON pod specs are semantically equal as internal core.PodSpec values."""
    return _equal(_to_internal(old), _to_internal(new), "core.PodSpec")


def _norm(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if x not in (None, "", False, 0, [], {})}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


# --- value formatting ---

def _fmt(v: Any, t: str, typed: bool) -> str:
    """One-line rendering; ``typed`` prints the Go type of composite values (as cmp does on -/+ lines)."""
    if not t:
        t = _infer(v)
    if t.startswith("ptr:"):
        if v is None:
            return "nil"
        inner = t[4:]
        if inner in ("int", "bool", "string", "quantity"):
            return "&" + _fmt(v, inner, False)
        return "&" + _fmt(v, inner, typed)
    if t == "string":
        return _q(v if isinstance(v, str) else "")
    if t == "int":
        return str(v if v is not None else 0)
    if t == "bool":
        return "true" if v else "false"
    if t == "intstr":
        if isinstance(v, str):
            return f'{{Type: 1, StrVal: {_q(v)}}}'
        return f"{{IntVal: {v}}}" if v else "{}"
    if t == "quantity":
        return _fmt_quantity(v, typed)
    if t.startswith("[]"):
        if v is None:
            return "nil"
        elem = t[2:]
        body = ", ".join(_fmt(x, elem, False) for x in v)
        return (t if typed else "") + "{" + body + "}"
    if t in ("map[string]string", "core.ResourceList"):
        if v is None:
            return "nil"
        if t == "core.ResourceList":
            body = ", ".join(f"s{_q(k)}: {_fmt_quantity(v[k], False)}" for k in sorted(v))
        else:
            body = ", ".join(f"{_q(k)}: {_q(str(v[k]))}" for k in sorted(v))
        return (t if typed else "") + "{" + body + "}"
    if v is None:
        v = {}
    if not isinstance(v, dict):
        return _q(str(v))
    parts = []
    for jn, gn, ft in _fields(t, v):
        fv = _get(v, jn, ft)
        ft = ft or _infer(fv)
        if _is_zero(fv, ft):
            continue
        parts.append(f"{gn}: {_fmt(fv, ft[7:] if ft.startswith('inline:') else ft, False)}")
    name = t if typed and t != "struct" else ""
    return name + "{" + ", ".join(parts) + "}"


def _fmt_quantity(v: Any, typed: bool) -> str:
    from .validation_common import parse_quantity

    s = str(v)
    fmt = "BinarySI" if s[-2:] in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei") else "DecimalSI"
    if not typed:
        return f'{{i: {{...}}, s: {_q(s)}, Format: {_q(fmt)}}}'
    n = parse_quantity(s)
    if n is not None and n == int(n):
        amount = f"resource.int64Amount{{value: {int(n)}}}"
    else:
        amount = f"resource.int64Amount{{value: {int((n or 0) * 1000)}, scale: -3}}"
    return f'{{i: {amount}, s: {_q(s)}, Format: {_q(fmt)}}}'


# --- records and rendering ---

class _Rec:
    """One line-group of the report: a keyed value, a -/+ pair member, an ellipsis or a nested block."""

    def __init__(self, key: str, text: str = "", mark: str = " ", block: list[_Rec] | None = None,
                 head: str = "", ellipsis: str = ""):
        self.key, self.text, self.mark, self.block, self.head, self.ellipsis = key, text, mark, block, head, ellipsis


def _struct_records(a: dict, b: dict, t: str) -> list[_Rec]:
    fields = _fields(t, {**(a or {}), **(b or {})})
    items = []
    for jn, gn, ft in fields:
        av, bv = _get(a or {}, jn, ft), _get(b or {}, jn, ft)
        ft = ft or _infer(bv if bv is not None else av)
        if ft.startswith("inline:"):
            ft = ft[7:]
        items.append((gn, av, bv, ft))
    return _with_context(items, "field")


def _with_context(items: list[tuple[str, Any, Any, str]], name: str) -> list[_Rec]:
    diff_idx = [i for i, (_, a, b, t) in enumerate(items) if not _equal(a, b, t)]
    groups: list[tuple[bool, list[int]]] = []
    for i in range(len(items)):
        is_diff = i in diff_idx
        if groups and groups[-1][0] == is_diff:
            groups[-1][1].append(i)
        else:
            groups.append((is_diff, [i]))
    recs: list[_Rec] = []
    for gi, (is_diff, idxs) in enumerate(groups):
        if is_diff:
            for i in idxs:
                recs.extend(_diff_records(*items[i]))
            continue
        n = len(idxs)
        lo = min(2, n) if gi != 0 else 0
        hi = min(2, n - lo) if gi != len(groups) - 1 else 0
        if n - (lo + hi) == 1:
            hi += 1
        for i in idxs[:lo]:
            gn, _, b, t = items[i]
            recs.append(_Rec(gn, _fmt(b, t, False)))
        if n > lo + hi:
            count = n - lo - hi
            recs.append(_Rec("", ellipsis=f"... // {count} identical {name}{'' if count == 1 else 's'}"))
        for i in idxs[n - hi:]:
            gn, _, b, t = items[i]
            recs.append(_Rec(gn, _fmt(b, t, False)))
    return recs


def _diff_records(key: str, a: Any, b: Any, t: str) -> list[_Rec]:
    """A changed value: recurse into same-shaped composites, else print it removed and inserted."""
    inner = t[4:] if t.startswith("ptr:") else t
    both = a is not None and b is not None
    if both and inner in _STRUCTS and isinstance(a, dict) and isinstance(b, dict):
        head = ("&" if t.startswith("ptr:") else "") + inner + "{"
        return [_Rec(key, head=head, block=_struct_records(a, b, inner))]
    if both and t.startswith("[]") and isinstance(a, list) and isinstance(b, list) and t[2:] in _STRUCTS:
        return [_Rec(key, head=t + "{", block=_slice_records(a, b, t[2:]))]
    if both and t in ("map[string]string", "core.ResourceList") and isinstance(a, dict) and isinstance(b, dict):
        return [_Rec(key, head=t + "{", block=_map_records(a, b, t))]
    return [_Rec(key, _fmt(a, t, True) if a is not None else _zero_text(t), "-"),
            _Rec(key, _fmt(b, t, True) if b is not None else _zero_text(t), "+")]


def _zero_text(t: str) -> str:
    if t.startswith("ptr:") or t.startswith("[]") or t.startswith("map") or t == "core.ResourceList":
        return "nil"
    if t == "string":
        return '""'
    if t == "int":
        return "0"
    if t == "bool":
        return "false"
    return "{}"


def _slice_records(a: list, b: list, elem: str) -> list[_Rec]:
    if len(a) == len(b):
        items = [("", x, y, elem) for x, y in zip(a, b, strict=True)]
        recs = []
        for r in _with_context(items, "element"):
            if r.block is not None:
                r.head = "{"
            recs.append(r)
        return recs
    recs: list[_Rec] = []
    sm = difflib.SequenceMatcher(a=[json.dumps(x, sort_keys=True) for x in a],
                                 b=[json.dumps(y, sort_keys=True) for y in b], autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            recs.extend(_Rec("", _fmt(x, elem, False)) for x in b[j1:j2])
            continue
        recs.extend(_Rec("", _fmt(x, elem, False), "-") for x in a[i1:i2])
        recs.extend(_Rec("", _fmt(y, elem, False), "+") for y in b[j1:j2])
    return recs


def _map_records(a: dict, b: dict, t: str) -> list[_Rec]:
    vt = "quantity" if t == "core.ResourceList" else "string"
    keys = sorted(set(a) | set(b))
    fmt_key = (lambda k: f"s{_q(k)}") if t == "core.ResourceList" else _q
    recs = []
    for k in keys:
        if k in a and k in b and a[k] == b[k]:
            recs.append(_Rec(fmt_key(k), _fmt(b[k], vt, False)))
            continue
        if k in a:
            recs.append(_Rec(fmt_key(k), _fmt(a[k], vt, vt == "quantity"), "-"))
        if k in b:
            recs.append(_Rec(fmt_key(k), _fmt(b[k], vt, vt == "quantity"), "+"))
    return recs


def _render(recs: list[_Rec], depth: int, out: list[str]) -> None:
    # Align the values of consecutive single-line keyed records (cmp's alignKeyLens).
    widths: dict[int, int] = {}
    run: list[int] = []

    def flush() -> None:
        if run:
            w = max(len(recs[i].key) for i in run)
            for i in run:
                widths[i] = w
        run.clear()

    for i, r in enumerate(recs):
        if r.ellipsis or r.block is not None or not r.key:
            flush()
        else:
            run.append(i)
    flush()
    tabs = "\t" * depth
    for i, r in enumerate(recs):
        prefix = f"{r.mark} {tabs}"
        if r.ellipsis:
            out.append(f"{prefix}{r.ellipsis}")
        elif r.block is not None:
            out.append(f"{prefix}{r.key + ': ' if r.key else ''}{r.head}")
            _render(r.block, depth + 1, out)
            out.append(f"{prefix}}},")
        elif r.key:
            pad = " " * (widths.get(i, len(r.key)) - len(r.key))
            out.append(f"{prefix}{r.key}: {pad}{r.text},")
        else:
            out.append(f"{prefix}{r.text},")


def _to_internal(spec: dict) -> dict:
    """v1 keeps hostNetwork & co. on the PodSpec; the internal type keeps them in SecurityContext."""
    spec = dict(spec)
    moved = {k: spec.pop(k) for k in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "hostUsers")
             if k in spec}
    # Conversion always allocates the internal SecurityContext.
    spec["securityContext"] = {**moved, **(spec.get("securityContext") or {})}
    spec.pop("serviceAccount", None)
    return spec


def diff_pod_spec(old: dict, new: dict) -> str:
    """``cmp.Diff(oldPod.Spec, newPod.Spec)`` as go-cmp prints it (ends with a newline)."""
    out = ["  core.PodSpec{"]
    _render(_struct_records(_to_internal(old), _to_internal(new), "core.PodSpec"), 1, out)
    out.append("  }")
    return "\n".join(out) + "\n"
