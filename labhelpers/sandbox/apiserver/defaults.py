"""Defaulting of decoded objects, mirroring kube-apiserver v1.32's v1 defaulters (pkg/apis/*/v1/defaults.go).

Besides the scheme defaulters this also applies what every real cluster adds on top at create time, so objects
read back look like a kind cluster's:

* the DefaultTolerationSeconds and Priority admission plug-ins (Pods),
* the registry strategies' create-time fields: Pod ``status`` (Pending + QoS class), Namespace finalizers/phase,
  and the Job selector and ``controller-uid``/``job-name`` labels (which need ``metadata.uid``, so one is assigned
  here when missing; the store keeps it),
* the internal<->v1 round trip: ``spec.serviceAccount`` mirrors ``spec.serviceAccountName`` and resource
  quantities are printed in canonical form (``0.5`` -> ``500m``).

Every step only fills what is unset, so calling it again on a stored object changes nothing.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .resources import ResourceType
from .validation_common import canonical_quantity, parse_quantity

DEFAULT_TOLERATION_SECONDS = 300
_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)
# Built-in PriorityClasses of every cluster (the Priority admission plug-in resolves priorityClassName).
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list:
    return v if isinstance(v, list) else []


# --- image references (k8s.io/kubernetes/pkg/util/parsers.ParseImageName) ---

_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE_RE = re.compile(
    rf"(?P<name>(?:(?:{_DOMAIN}|\[[0-9a-fA-F:]+\](?::[0-9]+)?)/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?\Z")


def image_tag(image: str) -> str | None:
    """The tag ParseImageName reports: ``latest`` when neither tag nor digest is given, None when unparsable."""
    m = _REFERENCE_RE.match(image or "")
    if not m or len(m.group("name")) > 255 or re.fullmatch(r"[a-f0-9]{64}", image):
        return None
    if m.group("tag"):
        return m.group("tag")
    return "" if m.group("digest") else "latest"


# --- pod spec ---

def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for f, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(f):
            probe[f] = v
    _default_handler(probe)


def _default_handler(handler: Any) -> None:
    if not isinstance(handler, dict):
        return
    http = handler.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def _default_field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _canonical_resources(res: Any) -> None:
    for part in ("limits", "requests"):
        rl = _d(res).get(part)
        if isinstance(rl, dict):
            for k, q in list(rl.items()):
                rl[k] = canonical_quantity(q)


def _default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(c.get("image", "")) == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for p in _list(c.get("ports")):
        if isinstance(p, dict) and not p.get("protocol"):
            p["protocol"] = "TCP"
    for ev in _list(c.get("env")):
        _default_field_ref(_d(_d(ev).get("valueFrom")).get("fieldRef"))
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    _canonical_resources(c["resources"])
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    lc = c.get("lifecycle")
    if isinstance(lc, dict):
        _default_handler(lc.get("postStart"))
        _default_handler(lc.get("preStop"))


def _default_volume(v: Any) -> None:
    if not isinstance(v, dict):
        return
    if not any(v.get(k) is not None for k in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    for kind in ("secret", "configMap", "downwardAPI", "projected"):
        src = v.get(kind)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = 420
    for f in _list(_d(v.get("downwardAPI")).get("items")):
        _default_field_ref(_d(f).get("fieldRef"))
    for src in _list(_d(v.get("projected")).get("sources")):
        tok = _d(src).get("serviceAccountToken")
        if isinstance(tok, dict) and tok.get("expirationSeconds") is None:
            tok["expirationSeconds"] = 3600
        for f in _list(_d(_d(src).get("downwardAPI")).get("items")):
            _default_field_ref(_d(f).get("fieldRef"))
    hp = v.get("hostPath")
    if isinstance(hp, dict) and hp.get("type") is None:
        hp["type"] = ""
    ed = v.get("emptyDir")
    if isinstance(ed, dict) and ed.get("sizeLimit") is not None:
        ed["sizeLimit"] = canonical_quantity(ed["sizeLimit"], round_up_milli=False)


def default_pod_spec(spec: Any) -> None:
    """SetDefaults_PodSpec and the nested defaulters (containers, volumes, probes); pods and templates alike."""
    if not isinstance(spec, dict):
        return
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec.get(kind)):
            _default_container(c)
    for v in _list(spec.get("volumes")):
        _default_volume(v)
    # v1 <-> internal conversion: serviceAccount is a deprecated alias of serviceAccountName.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    else:
        spec.pop("serviceAccount", None)


def _default_pod_template(tmpl: Any) -> None:
    if isinstance(tmpl, dict):
        # ObjectMeta.creationTimestamp is a struct, so Go serialises an unset one in templates as null.
        if not isinstance(tmpl.get("metadata"), dict):
            tmpl["metadata"] = {}
        tmpl["metadata"].setdefault("creationTimestamp", None)
        if not isinstance(tmpl.get("spec"), dict):
            tmpl["spec"] = {}
        default_pod_spec(tmpl["spec"])


def _default_pod(pod: dict) -> None:
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    # SetDefaults_Pod: requests default to limits (per resource), service links on, host-network ports.
    for kind in ("containers", "initContainers"):
        for c in _list(spec.get(kind)):
            res = _d(_d(c).get("resources"))
            limits = res.get("limits")
            if isinstance(limits, dict) and limits:
                requests = res.setdefault("requests", {})
                for k, q in limits.items():
                    requests.setdefault(k, q)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    default_pod_spec(spec)
    if spec.get("hostNetwork"):
        for kind in ("containers", "initContainers"):
            for c in _list(spec.get(kind)):
                for p in _list(_d(c).get("ports")):
                    if isinstance(p, dict) and not p.get("hostPort"):
                        p["hostPort"] = p.get("containerPort", 0)
    _admit_default_toleration_seconds(spec)
    _admit_priority(spec)
    status = pod.get("status")
    if not isinstance(status, dict) or not status.get("phase"):
        pod["status"] = {**_d(status), "phase": "Pending", "qosClass": pod_qos_class(spec)}


def _admit_default_toleration_seconds(spec: dict) -> None:
    """The DefaultTolerationSeconds admission plug-in (300s for not-ready and unreachable nodes)."""
    tols = _list(spec.get("tolerations"))
    not_ready = unreachable = False
    for t in tols:
        t = _d(t)
        k, eff = t.get("key", ""), t.get("effect", "")
        if k in ("node.kubernetes.io/not-ready", "") and eff in ("NoExecute", ""):
            not_ready = True
        if k in ("node.kubernetes.io/unreachable", "") and eff in ("NoExecute", ""):
            unreachable = True
    added = []
    for key, present in (("node.kubernetes.io/not-ready", not_ready), ("node.kubernetes.io/unreachable", unreachable)):
        if not present:
            added.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                          "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    if added:
        spec["tolerations"] = tols + added


def _admit_priority(spec: dict) -> None:
    """The Priority admission plug-in without custom PriorityClasses: priority 0, PreemptLowerPriority."""
    name = spec.get("priorityClassName") or ""
    if spec.get("priority") is None:
        if not name:
            spec["priority"] = 0
        elif name in SYSTEM_PRIORITY_CLASSES:
            spec["priority"] = SYSTEM_PRIORITY_CLASSES[name]
    if spec.get("preemptionPolicy") is None and (not name or name in SYSTEM_PRIORITY_CLASSES):
        spec["preemptionPolicy"] = "PreemptLowerPriority"


def pod_qos_class(spec: dict) -> str:
    """qos.ComputePodQOS over containers and init containers (cpu and memory only)."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in _list(spec.get("containers")) + _list(spec.get("initContainers")):
        res = _d(_d(c).get("resources"))
        for name, q in _d(res.get("requests")).items():
            v = parse_quantity(q)
            if name in ("cpu", "memory") and v is not None and v > 0:
                requests[name] = requests.get(name, 0) + v
        found = set()
        for name, q in _d(res.get("limits")).items():
            v = parse_quantity(q)
            if name in ("cpu", "memory") and v is not None and v > 0:
                found.add(name)
                limits[name] = limits.get(name, 0) + v
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == v for n, v in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# --- workloads ---

def _default_deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.setdefault("strategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_pod_template(spec.setdefault("template", {}))


def _default_job_spec_template(spec: dict) -> None:
    _default_pod_template(spec.setdefault("template", {}))


def _default_job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    _default_job_spec_template(spec)
    meta = obj.setdefault("metadata", {})
    if not spec["manualSelector"] and meta.get("name"):
        _generate_job_selector(obj)
    tmpl_labels = _d(spec["template"].get("metadata")).get("labels")
    if tmpl_labels and not meta.get("labels"):
        meta["labels"] = dict(tmpl_labels)


def _generate_job_selector(obj: dict) -> None:
    """The Job strategy's generateSelector: job-name/controller-uid labels and a controller-uid selector."""
    meta, spec = obj["metadata"], obj["spec"]
    if not meta.get("uid"):
        meta["uid"] = str(uuid.uuid4())
    tmeta = spec["template"].setdefault("metadata", {})
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for k in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(k, meta["name"])
    for k in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(k, meta["uid"])
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])


def _default_cron_job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    jt = spec.setdefault("jobTemplate", {})
    if isinstance(jt, dict):
        if not isinstance(jt.get("metadata"), dict):
            jt["metadata"] = {}
        jt["metadata"].setdefault("creationTimestamp", None)
        jspec = jt.setdefault("spec", {})
        if isinstance(jspec, dict):
            _default_job_spec_template(jspec)


def _default_namespace(obj: dict) -> None:
    meta = obj.setdefault("metadata", {})
    if meta.get("name"):
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = meta["name"]
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if not status.get("phase"):
        status["phase"] = "Active"
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if "finalizers" not in spec and status["phase"] == "Active":
        spec["finalizers"] = ["kubernetes"]


def apply_defaults(rt: ResourceType, obj: dict) -> None:
    """Fill in ``obj`` (in place) the way kube-apiserver defaults a freshly decoded object of kind ``rt``."""
    if not isinstance(obj, dict) or rt.group not in ("", "apps", "batch"):
        return
    kind = rt.kind
    if kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
    elif kind == "Pod":
        _default_pod(obj)
    elif kind == "Namespace":
        _default_namespace(obj)
    elif kind == "Deployment":
        _default_deployment(obj)
    elif kind == "ReplicaSet":
        spec = obj.setdefault("spec", {})
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        _default_pod_template(spec.setdefault("template", {}))
    elif kind == "Job":
        _default_job(obj)
    elif kind == "CronJob":
        _default_cron_job(obj)
