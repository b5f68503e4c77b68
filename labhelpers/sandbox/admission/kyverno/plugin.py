"""Kyverno inside the sandbox API server: its kinds, its policy webhook, its resource webhooks and its objects.

``install(registry)`` registers ``kyverno.io/v1`` ClusterPolicy/Policy, ``policies.kyverno.io/v1alpha1``
ValidatingPolicy and ``wgpolicyk8s.io/v1alpha2`` PolicyReport/ClusterPolicyReport (served like CRDs, with the
real CRDs' printer columns) and adds:

* a **mutating** plug-in: CRD defaults, structural-schema errors (422) and the policy ``status`` for policy
  objects; the ``verifyImages`` hook (:mod:`.hooks`) for other resources (Kyverno verifies images in its
  mutating webhook, so digests are added before validation);
* a **validating** plug-in: Kyverno's policy webhook (``validate-policy.kyverno.svc``) for policy objects, and
  the resource webhook (``validate.kyverno.svc-fail``/``-ignore``) for everything else, which denies with
  Kyverno's exact text, sends ``emitWarning`` warnings, and feeds the policy reports;
* the CEL ``ValidatingPolicy`` (``policies.kyverno.io/v1alpha1``) with its own webhooks
  (``vpol.validate.kyverno.svc-fail``...), run after the resource webhook (:mod:`.vpol_admission`).

``install_kyverno_objects(registry)`` creates what ``kubectl create -f .../install.yaml`` leaves behind that
the lab looks at: namespace ``kyverno``, its ConfigMap and the admission controller Deployment.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ...apiserver import resources as res
from ...apiserver.errors import ApiError
from ...apiserver.objects import AdmissionRequest, Registry
from ...apiserver.resources import PrinterColumn, ResourceType
from . import autogen, engine, messages, policies, vpol, vpol_admission
from .hooks import VerifyImagesHook, VerifyImagesPolicy, verify_images_targets
from .match import (
    DEFAULT_RESOURCE_FILTERS,
    GVK,
    RequestInfo,
    parse_kind_selector,
    parse_resource_filters,
    resource_filtered,
    wildcard_match,
)
from .reports import CLUSTER_POLICY_REPORT, POLICY_REPORT, ReportController

__all__ = ["CLUSTER_POLICY", "KYVERNO_IMAGE", "KYVERNO_VERSION", "POLICY", "KyvernoPlugin", "VerifyImagesHook",
           "VerifyImagesPolicy", "install", "install_kyverno_objects"]

log = logging.getLogger("labhelpers.sandbox.kyverno")

KYVERNO_VERSION = "v1.15.2"
KYVERNO_IMAGE = f"ghcr.io/kyverno/kyverno:{KYVERNO_VERSION}"
NAMESPACE = "kyverno"

POLICY_COLUMNS = (
    PrinterColumn("ADMISSION", "boolean", ".spec.admission"),
    PrinterColumn("BACKGROUND", "boolean", ".spec.background"),
    PrinterColumn("READY", "string", '.status.conditions[?(@.type == "Ready")].status'),
    PrinterColumn("AGE", "date", ".metadata.creationTimestamp"),
    PrinterColumn("FAILURE POLICY", "string", ".spec.failurePolicy", priority=1),
    PrinterColumn("VALIDATE", "integer", ".status.rulecount.validate", priority=1),
    PrinterColumn("MUTATE", "integer", ".status.rulecount.mutate", priority=1),
    PrinterColumn("GENERATE", "integer", ".status.rulecount.generate", priority=1),
    PrinterColumn("VERIFY IMAGES", "integer", ".status.rulecount.verifyimages", priority=1),
    PrinterColumn("MESSAGE", "string", '.status.conditions[?(@.type == "Ready")].message'),
)
CLUSTER_POLICY = ResourceType(policies.GROUP, policies.VERSION, "ClusterPolicy", "clusterpolicies", namespaced=False,
                              short_names=("cpol",), categories=("kyverno",), subresources=("status",), custom=True,
                              printer_columns=POLICY_COLUMNS)
POLICY = ResourceType(policies.GROUP, policies.VERSION, "Policy", "policies", short_names=("pol",),
                      categories=("kyverno",), subresources=("status",), custom=True, printer_columns=POLICY_COLUMNS)
KINDS = (CLUSTER_POLICY, POLICY, POLICY_REPORT, CLUSTER_POLICY_REPORT, vpol.RESOURCE)

# Kinds every cluster serves even where the sandbox does not (autogen rules name them all).
_STANDARD_KINDS = (
    ("", "v1", "Pod", True), ("", "v1", "ReplicationController", True), ("", "v1", "Service", True),
    ("", "v1", "Namespace", False), ("", "v1", "Node", False), ("", "v1", "ConfigMap", True),
    ("", "v1", "Secret", True), ("", "v1", "ServiceAccount", True), ("", "v1", "PersistentVolume", False),
    ("", "v1", "PersistentVolumeClaim", True), ("apps", "v1", "Deployment", True), ("apps", "v1", "DaemonSet", True),
    ("apps", "v1", "StatefulSet", True), ("apps", "v1", "ReplicaSet", True), ("batch", "v1", "Job", True),
    ("batch", "v1", "CronJob", True), ("networking.k8s.io", "v1", "Ingress", True),
    ("networking.k8s.io", "v1", "NetworkPolicy", True), ("rbac.authorization.k8s.io", "v1", "Role", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", False),
)
_POD_SUBRESOURCES = ("status", "log", "binding", "eviction", "ephemeralcontainers", "exec", "attach", "portforward")


def _served() -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    out = [(g, v, k, n, _POD_SUBRESOURCES if k == "Pod" else ("status",)) for g, v, k, n in _STANDARD_KINDS]
    out.extend((rt.group, rt.version, rt.kind, rt.namespaced, rt.subresources) for rt in res.all_resources())
    return out


def kind_exists(selector: str) -> bool:
    """Discovery for Kyverno's ``validKinds``: some served kind (and subresource) matches ``selector``."""
    group, version, kind, sub = parse_kind_selector(selector)
    for g, v, k, _, subs in _served():
        if (wildcard_match(group, g) and wildcard_match(version, v) and wildcard_match(kind, k)
                and (sub in ("", "*") or any(wildcard_match(sub, s) for s in subs))):
            return True
    return False


def cluster_kinds() -> set[str]:
    out = set()
    for g, v, k, namespaced, _ in _served():
        if not namespaced:
            out.add(k)
            out.add(f"{g}/{v}/{k}" if g else f"{v}/{k}")
    return out


def _registered_for(policy: Mapping[str, Any], gvk: GVK, subresource: str, field: str = "validate") -> bool:
    """Would Kyverno's webhook configuration send this (kind, subresource) to the policy at all?"""
    for rule in autogen.compute_rules(policy):
        if not rule.get(field):
            continue
        for sel in autogen.match_kinds(rule.get("match")):
            g, v, k, sub = parse_kind_selector(sel)
            if not (wildcard_match(g, gvk.group) and wildcard_match(v, gvk.version) and wildcard_match(k, gvk.kind)):
                continue
            if subresource == "":
                if sub in ("", "*"):
                    return True
                continue
            ephemeral = sub == "" and subresource == "ephemeralcontainers" and gvk == GVK("", "v1", "Pod")
            if ephemeral or (sub and wildcard_match(sub, subresource)):
                return True
    return False


class KyvernoPlugin:
    """The admission plug-ins and the report controller, sharing one view of the policies."""

    def __init__(self, registry: Registry, verify_images: VerifyImagesHook | None = None,
                 clock: Callable[[], float] | None = None, resource_filters: str = DEFAULT_RESOURCE_FILTERS):
        self.registry = registry
        self.verify_images = verify_images
        self.clock = clock or registry.clock
        self.filters = parse_resource_filters(resource_filters)
        self.reports = ReportController(registry, clock=self.clock)
        self.vpol = vpol_admission.VpolPlugin(registry, self.filters, self.clock)
        self.reports.sources.append(self.vpol.reports)

    # --- wiring ---

    def attach(self) -> None:
        for rt in KINDS:
            res.register(rt)
        self.registry.mutators.extend([self.mutate, self.vpol.mutate])
        self.registry.validators.extend([self.validate, self.vpol.validate])
        self.registry.on_event(self.reports.on_event)

    async def run(self) -> None:
        """Keep the policy reports up to date (the reports controller); cancel the task to stop."""
        await self.reports.run()

    # --- helpers ---

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        if not namespace:
            return {}
        ns = self.registry.find(res.lookup("", "v1", "namespaces"), "", namespace)  # type: ignore[arg-type]
        return dict(((ns or {}).get("metadata") or {}).get("labels") or {})

    def _admission_policies(self, namespace: str) -> list[dict[str, Any]]:
        out = [p for p in self.registry.list(CLUSTER_POLICY)]
        if namespace:
            out.extend(self.registry.list(POLICY, namespace))
        return [p for p in out if policies.admission(p) and _ready(p)]

    def _request(self, req: AdmissionRequest) -> engine.Request | None:
        subject = req.obj if req.obj is not None else req.old
        if not subject:
            return None
        gvk = GVK(req.rt.group, req.rt.version, req.rt.kind)
        meta = subject.get("metadata") or {}
        name = req.name or meta.get("name") or meta.get("generateName", "")
        if resource_filtered(gvk, req.subresource, req.namespace, name, self.filters):
            return None
        if req.operation == "UPDATE" and (req.old or {}).get("metadata", {}).get("deletionTimestamp"):
            return None
        obj = copy.deepcopy(req.obj) if req.obj is not None else None
        if obj is not None:
            obj.setdefault("apiVersion", req.rt.api_version)
            obj.setdefault("kind", req.rt.kind)
        return engine.Request(req.operation, obj, copy.deepcopy(req.old) if req.old else None, req.subresource,
                              self._namespace_labels(req.namespace), RequestInfo(username=req.user),
                              req.dry_run)

    # --- mutating phase ---

    def mutate(self, req: AdmissionRequest) -> None:
        if req.rt in (CLUSTER_POLICY, POLICY):
            self._mutate_policy(req)
            return
        if req.rt.group in (policies.GROUP, vpol.GROUP, POLICY_REPORT.group) or req.operation == "DELETE":
            return
        self._verify_images(req)

    def _mutate_policy(self, req: AdmissionRequest) -> None:
        obj = req.obj
        if obj is None or req.subresource == "status":
            return
        policies.apply_defaults(obj)
        errs = policies.schema_errors(obj)
        if errs:
            raise ApiError.invalid(policies.GROUP, req.rt.kind, req.name, errs)
        old = req.old or {}
        if old and obj.get("spec") == old.get("spec") and "generation" in old.get("metadata", {}):
            # CRD defaulting happens before the apiserver compares specs: re-applying the same policy (whose
            # rules kubectl sends without the defaults) is not a spec change.
            obj["metadata"]["generation"] = old["metadata"]["generation"]
        obj["status"] = policies.status(obj, old.get("status"), self.registry.now())

    def _verify_images(self, req: AdmissionRequest) -> None:
        request = self._request(req)
        if request is None:
            return
        candidates = [p for p in self._admission_policies(req.namespace)
                      if _registered_for(p, request.gvk, req.subresource, "verifyImages")]
        targets = verify_images_targets(candidates, request)
        if not targets:
            return
        if self.verify_images is None:
            log.warning("verifyImages rules of %s apply to %s %s/%s but no image verifier is installed",
                        [t.key for t in targets], req.rt.kind, req.namespace, req.name)
            return
        returned = self.verify_images(req, targets)
        responses = []
        by_key = {t.key: t for t in targets}
        for resp in returned or []:
            target = by_key.get(resp.key)
            rules = target.rules if target else autogen.compute_rules(resp.policy)
            for r in resp.results:
                if r.name not in resp.actions:
                    rule = next((x for x in rules if x.get("name") == r.name), {})
                    resp.actions[r.name] = policies.rule_failure_action(resp.policy, rule, req.namespace,
                                                                        request.namespace_labels)
            responses.append(resp)
        if not responses:
            return
        decision = engine.decide(responses, req.rt.kind, req.namespace, request.name, webhook_kind="mutate")
        if not decision.allowed:
            raise ApiError.admission_denied(messages.admission_denial_message(decision.webhook, decision.message))
        req.warnings.extend(decision.warnings)
        if not req.dry_run:
            self.reports.record_admission(req.rt, req.namespace, request.name, responses)

    # --- validating phase ---

    def validate(self, req: AdmissionRequest) -> None:
        if req.rt in (CLUSTER_POLICY, POLICY):
            self._validate_policy(req)
            return
        if req.rt.group in (policies.GROUP, vpol.GROUP, POLICY_REPORT.group):
            return
        request = self._request(req)
        if request is None:
            return
        candidates = [p for p in self._admission_policies(req.namespace)
                      if _registered_for(p, request.gvk, req.subresource)]
        if not candidates:
            return
        responses = [engine.evaluate(p, request) for p in candidates]
        decision = engine.decide(responses, req.rt.kind, req.namespace, request.name)
        if not decision.allowed:
            raise ApiError.admission_denied(messages.admission_denial_message(decision.webhook, decision.message))
        req.warnings.extend(decision.warnings)
        if not req.dry_run and req.operation != "DELETE" and not req.subresource:
            self.reports.record_admission(req.rt, req.namespace, request.name, responses)

    def _validate_policy(self, req: AdmissionRequest) -> None:
        if req.obj is None or req.subresource == "status":
            return
        try:
            warnings = policies.validate_policy(req.obj, kind_exists=kind_exists, cluster_kinds=cluster_kinds())
        except policies.PolicyValidationError as e:
            raise ApiError.admission_denied(messages.admission_denial_message(policies.POLICY_WEBHOOK, str(e))) from None
        req.warnings.extend(warnings)


def _ready(policy: Mapping[str, Any]) -> bool:
    conds = (policy.get("status") or {}).get("conditions") or []
    ready = next((c for c in conds if c.get("type") == "Ready"), None)
    return ready is None or ready.get("status") == "True"


def install(registry: Registry, *, verify_images: VerifyImagesHook | None = None,
            clock: Callable[[], float] | None = None) -> KyvernoPlugin:
    """Serve Kyverno's kinds and put its admission plug-ins on ``registry``.

    ``verify_images`` is the image-verification hook (see :mod:`.hooks` for its contract). Start
    ``plugin.run()`` as a task (or call ``plugin.reports.process()``) to keep policy reports current.
    """
    plugin = KyvernoPlugin(registry, verify_images, clock)
    plugin.attach()
    return plugin


# --- the objects install.yaml leaves behind ---------------------------------------------------------------

_LABELS = {
    "app.kubernetes.io/component": "admission-controller",
    "app.kubernetes.io/instance": "kyverno",
    "app.kubernetes.io/name": "kyverno",
    "app.kubernetes.io/part-of": "kyverno",
    "app.kubernetes.io/version": KYVERNO_VERSION,
}


def kyverno_objects() -> list[tuple[ResourceType, dict[str, Any]]]:
    """Namespace, ServiceAccount, ConfigMap and the admission-controller Deployment, in creation order."""
    ns_rt = res.lookup("", "v1", "namespaces")
    sa_rt = res.lookup("", "v1", "serviceaccounts")
    cm_rt = res.lookup("", "v1", "configmaps")
    deploy_rt = res.lookup("apps", "v1", "deployments")
    assert ns_rt and sa_rt and cm_rt and deploy_rt
    selector = {k: _LABELS[k] for k in ("app.kubernetes.io/component", "app.kubernetes.io/instance",
                                        "app.kubernetes.io/part-of")}
    container = {
        "name": "kyverno",
        "image": KYVERNO_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca",
                 "--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair", "--backgroundServiceAccountName="
                 "system:serviceaccount:kyverno:kyverno-background-controller", "--servicePort=443",
                 "--webhookServerPort=9443", "--disableMetrics=false", "--otelConfig=prometheus",
                 "--metricsPort=8000", "--admissionReports=true", "--autoUpdateWebhooks=true",
                 "--enableConfigMapCaching=true", "--enableDeferredLoading=true", "--dumpPayload=false",
                 "--forceFailurePolicyIgnore=false", "--generateValidatingAdmissionPolicy=true",
                 "--loggingFormat=text", "--v=2"],
        "ports": [{"containerPort": 9443, "name": "https", "protocol": "TCP"},
                  {"containerPort": 8000, "name": "metrics-port", "protocol": "TCP"}],
        "env": [{"name": "KYVERNO_SERVICEACCOUNT_NAME", "value": "kyverno-admission-controller"},
                {"name": "KYVERNO_NAMESPACE", "value": NAMESPACE},
                {"name": "KYVERNO_DEPLOYMENT", "value": "kyverno"},
                {"name": "KYVERNO_SVC", "value": "kyverno-svc"}],
        "resources": {"limits": {"memory": "384Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "kyverno", "namespace": NAMESPACE, "labels": dict(_LABELS)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(_LABELS)},
                         "spec": {"serviceAccountName": "kyverno-admission-controller", "containers": [container]}},
        },
    }
    return [
        (ns_rt, {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/instance": "kyverno",
                                                            "app.kubernetes.io/part-of": "kyverno"}}}),
        (sa_rt, {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "kyverno-admission-controller", "namespace": NAMESPACE,
                              "labels": dict(_LABELS)}}),
        (cm_rt, {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "kyverno", "namespace": NAMESPACE, "labels": dict(_LABELS)},
                 "data": {"enableDefaultRegistryMutation": "true", "defaultRegistry": "docker.io",
                          "generateSuccessEvents": "false", "excludeGroups": "system:nodes",
                          "resourceFilters": DEFAULT_RESOURCE_FILTERS,
                          "webhooks": '{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name",'
                                      '"operator":"NotIn","values":["kube-system"]},{"key":"kubernetes.io/metadata.name",'
                                      '"operator":"NotIn","values":["kyverno"]}],"matchLabels":null}}'}}),
        (deploy_rt, deployment),
    ]


def install_kyverno_objects(registry: Registry) -> list[dict[str, Any]]:
    """Create (idempotently) what the lab checks after Exercise 12; returns the objects now stored."""
    out = []
    for rt, obj in kyverno_objects():
        meta = obj["metadata"]
        existing = registry.find(rt, meta.get("namespace", ""), meta["name"])
        if existing is None:
            existing = registry.create(rt, meta.get("namespace"), copy.deepcopy(obj))
        out.append(existing)
    return out
