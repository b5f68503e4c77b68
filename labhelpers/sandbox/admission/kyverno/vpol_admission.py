"""Kyverno 1.15 enforcing ``ValidatingPolicy`` objects: its webhooks, their answers and its report results.

* **Policy objects** go through the CRD (defaults, structural schema, 422) and Kyverno's policy webhook
  ``validate-policy.kyverno.svc``, which compiles them: a bad expression is refused with the compile error as
  the denial, every error also sent as a warning (kube-apiserver drops warnings with line breaks, as cel-go's
  multi-line errors have). The status controller's ``status`` is written on the way in.
* **Other requests** reach the webhooks Kyverno registers from the policies' ``matchConstraints`` (and the
  autogen rules): one ``vpol.validate.kyverno.svc-fail``/``-ignore`` webhook for all plain policies, and a
  ``...-fail-finegrained-<name>`` webhook for each policy with ``matchConditions``, ``matchPolicy: Exact`` or a
  ``webhookConfiguration.timeoutSeconds``. The shared webhooks evaluate every policy, a fine-grained one only
  its own; the Kyverno ConfigMap's namespace selector (not ``kube-system``, not ``kyverno``) and resource
  filters apply. Per policy, ``validationActions``: ``Deny`` turns a failure into ``Policy <name> failed:
  <message>`` (``error`` for evaluation errors), joined with ``; `` within a webhook, and kube-apiserver
  reports ``admission webhook "<webhook>" denied the request: <that>``; ``Warn`` sends the same text as a
  warning; ``Audit`` only reports. Webhooks are called in the order of Kyverno's webhook configuration and
  the first denial wins (kube-apiserver calls them in parallel and keeps the first error to arrive).
* **Reports**: results go to the PolicyReport of each resource with ``source: KyvernoValidatingPolicy``, from
  background scans (``evaluation.background.enabled``, the default) or, for admission-only policies, from the
  last admitted request.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...apiserver.errors import ApiError
from ...apiserver.objects import AdmissionRequest, Registry
from ...apiserver.resources import ResourceType
from ...apiserver.store import rt_key
from ..vap import admit as vap_admit
from ..vap import cel as vap_cel
from . import messages, policies, vpol, vpol_engine
from .match import GVK, resource_filtered
from .results import RuleStatus

log = logging.getLogger("labhelpers.sandbox.kyverno.vpol")

WEBHOOK = "vpol.validate.kyverno.svc"
EXCLUDED_NAMESPACES = ("kube-system", "kyverno")  # the ``webhooks`` namespaceSelector of Kyverno's ConfigMap
_OWN_GROUPS = ("kyverno.io", vpol.GROUP, "wgpolicyk8s.io", "reports.kyverno.io")
_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def denial(webhook: str, message: str, warnings: Iterable[str] = ()) -> ApiError:
    """The Status kube-apiserver returns for a webhook denial, with the request's warnings as headers.

    Warnings travel on failed requests too (kubectl prints them before the error); ``NewWarningHeader``
    refuses texts with control characters, so those are dropped, as upstream.
    """
    headers = ['299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'
               for w in dict.fromkeys(warnings) if w and not _has_control(w)]
    err = ApiError.admission_denied(messages.admission_denial_message(webhook, message))
    if headers:
        err.headers = {"Warning": ", ".join(headers)}
    return err


class _Matcher(vap_admit.Plugin):
    """kube-apiserver's matching (``pkg/cel/matching`` is a copy of it) and the admission ``request`` value."""

    def matches(self, criteria: Mapping[str, Any] | None, req: AdmissionRequest) -> bool:
        return criteria is not None and self._matches(dict(criteria), req, False)

    def rules_match(self, rules: list[dict[str, Any]], req: AdmissionRequest) -> bool:
        return self._matches({"resourceRules": rules}, req, False)

    def inputs(self, req: AdmissionRequest) -> vpol_engine.Inputs:
        ns_obj = None
        if req.namespace and not (req.rt.group == "" and req.rt.plural == "namespaces"):
            ns_obj = self._namespace_obj(req.namespace)
        return vpol_engine.Inputs(vap_cel.to_cel(req.obj), vap_cel.to_cel(req.old), self._request_value(req),
                                  vap_cel.namespace_value(ns_obj))


@dataclass
class PolicyResponse:
    """One policy's outcomes for a request (several when autogen variants match)."""

    policy: dict[str, Any]
    outcomes: list[vpol_engine.Outcome] = field(default_factory=list)

    @property
    def name(self) -> str:
        return vpol.name(self.policy)


@dataclass
class Webhook:
    name: str
    rules: list[dict[str, Any]]
    policies: list[dict[str, Any]]
    namespace_selector: bool  # the shared webhooks carry the ConfigMap's namespace selector


def webhooks(pols: list[dict[str, Any]], variants: Callable[[dict[str, Any]], list[vpol_engine.CompiledPolicy]]
             ) -> list[Webhook]:
    """Kyverno's ``buildWebhookRules``: fine-grained fail, fine-grained ignore, then the shared fail/ignore."""

    def rules(p: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for v in variants(p) for r in (v.constraints or {}).get("resourceRules") or []]

    out: list[Webhook] = []
    for suffix in ("fail", "ignore"):
        for p in pols:
            if vpol.fine_grained(p) and vpol.failure_policy(p).lower() == suffix:
                out.append(Webhook(f"{WEBHOOK}-{suffix}-finegrained-{vpol.name(p)}", rules(p), [p], False))
    for suffix in ("fail", "ignore"):
        shared = [r for p in pols if not vpol.fine_grained(p) and vpol.failure_policy(p).lower() == suffix
                  for r in rules(p)]
        if shared:
            out.append(Webhook(f"{WEBHOOK}-{suffix}", shared, pols, True))
    return out


def admission_message(responses: list[PolicyResponse], action: str) -> list[str]:
    """``admissionResponse``: the ``Policy <name> failed|error: <message>`` entries for one action."""
    out = []
    for r in responses:
        if action not in vpol.validation_actions(r.policy):
            continue
        for o in r.outcomes:
            if o.status == RuleStatus.FAIL:
                out.append(f"Policy {r.name} failed: {o.message}")
            elif o.status == RuleStatus.ERROR:
                out.append(f"Policy {r.name} error: {o.message}")
    return out


class VpolPlugin:
    """The ValidatingPolicy admission plug-ins and report source, for one registry."""

    def __init__(self, registry: Registry, filters: list[tuple[str, str, str]] | None = None,
                 clock: Callable[[], float] | None = None):
        self.registry = registry
        self.filters = filters
        self.clock = clock or registry.clock
        self.matcher = _Matcher(registry)
        self._compiled: dict[str, tuple[str, list[vpol_engine.CompiledPolicy]]] = {}
        self.reports = VpolReportSource(self)

    # --- policies ---

    def policies(self) -> list[dict[str, Any]]:
        return sorted(self.registry.list(vpol.RESOURCE), key=vpol.name)

    def variants(self, policy: dict[str, Any]) -> list[vpol_engine.CompiledPolicy]:
        """Compiled once per policy version; a policy that does not compile is left out (as the reconciler)."""
        meta = policy.get("metadata") or {}
        version = f"{meta.get('uid', '')}/{meta.get('resourceVersion', '')}"
        cached = self._compiled.get(vpol.name(policy))
        if cached is None or cached[0] != version:
            try:
                compiled = vpol_engine.compile_policy(policy)
            except vpol_engine.PolicyCompileError as e:
                log.warning("ValidatingPolicy %s does not compile: %s", vpol.name(policy), e)
                compiled = []
            cached = self._compiled[vpol.name(policy)] = (version, compiled)
        return cached[1]

    def evaluate(self, policy: dict[str, Any], req: AdmissionRequest,
                 inputs: vpol_engine.Inputs | None = None) -> PolicyResponse:
        """The engine's ``handlePolicy`` for each compiled variant whose ``matchConstraints`` match."""
        resp = PolicyResponse(policy)
        for variant in self.variants(policy):
            if not self.matcher.matches(variant.constraints, req):
                continue
            inputs = inputs or self.matcher.inputs(req)
            resp.outcomes.append(vpol_engine.evaluate(variant, inputs))
        return resp

    # --- the mutating phase: CRD defaults, schema, status ---

    def mutate(self, req: AdmissionRequest) -> None:
        if req.rt != vpol.RESOURCE or req.obj is None or req.subresource:
            return
        obj = req.obj
        vpol.apply_defaults(obj)
        errs = vpol.schema_errors(obj)
        if errs:
            raise ApiError.invalid(vpol.GROUP, vpol.KIND, req.name, errs)
        old = req.old or {}
        if old and obj.get("spec") == old.get("spec") and "generation" in old.get("metadata", {}):
            obj["metadata"]["generation"] = old["metadata"]["generation"]
        obj["status"] = vpol.status(obj, old.get("status"), self.registry.now())

    # --- the validating phase ---

    def validate(self, req: AdmissionRequest) -> None:
        if req.rt == vpol.RESOURCE:
            self._validate_policy(req)
            return
        if req.rt.group in _OWN_GROUPS:
            return
        pols = [p for p in self.policies() if vpol.admission_enabled(p) and vpol.evaluation_mode(p) != "JSON"]
        if not pols:
            return
        subject = req.obj if req.obj is not None else req.old
        meta = (subject or {}).get("metadata") or {}
        name = req.name or meta.get("name") or meta.get("generateName", "")
        if resource_filtered(GVK(req.rt.group, req.rt.version, req.rt.kind), req.subresource, req.namespace, name,
                             self.filters):
            return
        if req.operation == "UPDATE" and ((req.old or {}).get("metadata") or {}).get("deletionTimestamp"):
            return
        self._dispatch(req, pols)

    def _validate_policy(self, req: AdmissionRequest) -> None:
        if req.obj is None or req.subresource or req.operation not in ("CREATE", "UPDATE"):
            return
        errs = [str(e) for e in vpol_engine.validate(req.obj)]
        if errs:
            unique = list(dict.fromkeys(errs))
            message = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
            raise denial(policies.POLICY_WEBHOOK, message, [*req.warnings, *errs])

    def _dispatch(self, req: AdmissionRequest, pols: list[dict[str, Any]]) -> None:
        inputs: vpol_engine.Inputs | None = None
        cache: dict[str, PolicyResponse] = {}
        denied: tuple[str, str] | None = None
        warnings: list[str] = []
        called: list[PolicyResponse] = []
        for hook in webhooks(pols, self.variants):
            if hook.namespace_selector and self._excluded_namespace(req):
                continue
            if not self.matcher.rules_match(hook.rules, req):
                continue
            responses = []
            for p in hook.policies:
                if vpol.name(p) not in cache:
                    inputs = inputs or self.matcher.inputs(req)
                    cache[vpol.name(p)] = self.evaluate(p, req, inputs)
                responses.append(cache[vpol.name(p)])
            called.extend(r for r in responses if r not in called)
            errs = admission_message(responses, "Deny")
            warnings.extend(admission_message(responses, "Warn"))
            if errs and denied is None:
                denied = (hook.name, "; ".join(errs))
        if denied is not None:
            raise denial(denied[0], denied[1], [*req.warnings, *warnings])
        req.warnings.extend(warnings)
        if called and not req.dry_run and req.operation != "DELETE" and not req.subresource:
            self.reports.record_admission(req, called)

    @staticmethod
    def _excluded_namespace(req: AdmissionRequest) -> bool:
        if req.rt.group == "" and req.rt.plural == "namespaces":
            return req.name in EXCLUDED_NAMESPACES
        return req.namespace in EXCLUDED_NAMESPACES


# --- policy report results ----------------------------------------------------------------------------


def report_result(policy: Mapping[str, Any], outcome: vpol_engine.Outcome, now: float) -> dict[str, Any]:
    """``ToPolicyReportResult`` for a ValidatingPolicy (an empty rule name is left out, as ``omitempty``)."""
    ann = (policy.get("metadata") or {}).get("annotations") or {}
    scored = ann.get("policies.kyverno.io/scored") != "false"
    result = outcome.status.value
    if result == "fail" and not scored:
        result = "warn"
    background, admission = vpol.background_enabled(policy), vpol.admission_enabled(policy)
    process = "background scan" if background else "admission review" if admission else ""
    out: dict[str, Any] = {"message": outcome.message, "policy": vpol.name(policy),
                           "properties": {**outcome.properties, "process": process}, "result": result}
    if outcome.rule:
        out["rule"] = outcome.rule
    out.update(scored=scored, source=vpol.REPORT_SOURCE, timestamp={"nanos": 0, "seconds": int(now)})
    if ann.get("policies.kyverno.io/category"):
        out["category"] = ann["policies.kyverno.io/category"]
    if ann.get("policies.kyverno.io/severity") in _SEVERITIES:
        out["severity"] = ann["policies.kyverno.io/severity"]
    return out


def _rule_may_match(rule: Mapping[str, Any], rt: ResourceType) -> bool:
    def has(values: Any, value: str) -> bool:
        return isinstance(values, list) and ("*" in values or value in values)

    resources = [str(r).split("/", 1)[0] for r in rule.get("resources") or []]
    return has(rule.get("apiGroups"), rt.group) and has(rule.get("apiVersions"), rt.version) and (
        "*" in resources or rt.plural in resources)


class VpolReportSource:
    """The ValidatingPolicy part of the policy reports (a result source of :class:`.reports.ReportController`)."""

    def __init__(self, plugin: VpolPlugin):
        self.plugin = plugin
        self._admission: dict[tuple[str, str, str], dict[str, PolicyResponse]] = {}

    @staticmethod
    def _key(rt: ResourceType, namespace: str, name: str) -> tuple[str, str, str]:
        return rt_key(rt), namespace if rt.namespaced else "", name

    def record_admission(self, req: AdmissionRequest, responses: list[PolicyResponse]) -> None:
        meta = (req.obj or {}).get("metadata") or {}
        slot = self._admission.setdefault(self._key(req.rt, req.namespace, req.name or meta.get("name", "")), {})
        for r in responses:
            if r.outcomes:
                slot[r.name] = PolicyResponse(copy.deepcopy(r.policy), list(r.outcomes))

    def forget(self, key: tuple[str, str, str]) -> None:
        self._admission.pop(key, None)

    def watches(self, rt: ResourceType) -> bool:
        return rt == vpol.RESOURCE

    def scans(self, rt: ResourceType) -> bool:
        for p in self.plugin.policies():
            if vpol.background_enabled(p) and any(
                    _rule_may_match(r, rt) for v in self.plugin.variants(p)
                    for r in (v.constraints or {}).get("resourceRules") or []):
                return True
        return False

    def results_for(self, rt: ResourceType, obj: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "") if rt.namespaced else ""
        admitted = self._admission.get(self._key(rt, ns, meta.get("name", "")), {})
        req: AdmissionRequest | None = None
        out: list[dict[str, Any]] = []
        for policy in self.plugin.policies():
            if vpol.evaluation_mode(policy) == "JSON":
                continue
            if vpol.background_enabled(policy):
                if req is None:
                    req = AdmissionRequest("CREATE", rt, ns, meta.get("name", ""), copy.deepcopy(dict(obj)), None,
                                           False)
                outcomes = self.plugin.evaluate(policy, req).outcomes
            elif vpol.admission_enabled(policy) and vpol.name(policy) in admitted:
                outcomes = admitted[vpol.name(policy)].outcomes
            else:
                continue
            out.extend(report_result(policy, o, now) for o in outcomes)
        return out
