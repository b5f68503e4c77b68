"""wgpolicyk8s.io/v1alpha2 PolicyReport / ClusterPolicyReport objects, as Kyverno's reports controller keeps
them: one report per resource (named after the resource's UID, owned by it, ``scope`` pointing at it), with
one result per policy rule and a ``summary`` that ``kubectl get policyreport -A`` shows as
PASS/FAIL/WARN/ERROR/SKIP.

Results come from two places, as upstream: background scans (policies with ``background: true`` are
re-evaluated on every resource change, on every policy change and periodically) and admission reviews
(policies with ``background: false`` keep the result of the last admission request). Kyverno writes reports
asynchronously; here :meth:`ReportController.process` does the queued work (call it from a loop, or
:meth:`ReportController.run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Protocol

from ...apiserver import resources as res
from ...apiserver.errors import ApiError
from ...apiserver.objects import Registry
from ...apiserver.resources import PrinterColumn, ResourceType
from ...apiserver.store import WatchEvent, rt_key
from . import autogen, engine, policies
from .match import GVK, check_kind
from .results import RuleResult

log = logging.getLogger("labhelpers.sandbox.kyverno.reports")

GROUP = "wgpolicyk8s.io"
VERSION = "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kyverno"}
BACKGROUND_SCAN_INTERVAL = 3600.0  # Kyverno's --backgroundScanInterval default (1h)

REPORT_COLUMNS = (
    PrinterColumn("Kind", "string", ".scope.kind"),
    PrinterColumn("Name", "string", ".scope.name"),
    PrinterColumn("Pass", "integer", ".summary.pass"),
    PrinterColumn("Fail", "integer", ".summary.fail"),
    PrinterColumn("Warn", "integer", ".summary.warn"),
    PrinterColumn("Error", "integer", ".summary.error"),
    PrinterColumn("Skip", "integer", ".summary.skip"),
    PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
)
POLICY_REPORT = ResourceType(GROUP, VERSION, "PolicyReport", "policyreports", short_names=("polr",), custom=True,
                             printer_columns=REPORT_COLUMNS)
CLUSTER_POLICY_REPORT = ResourceType(GROUP, VERSION, "ClusterPolicyReport", "clusterpolicyreports", namespaced=False,
                                     short_names=("cpolr",), custom=True, printer_columns=REPORT_COLUMNS)

_SKIP_GROUPS = ("kyverno.io", GROUP, "reports.kyverno.io", "policies.kyverno.io")
_SEVERITIES = ("critical", "high", "medium", "low", "info")


# --- report content -------------------------------------------------------------------------------------


def report_result(policy: Mapping[str, Any], rule: RuleResult, now: float) -> dict[str, Any]:
    """``ToPolicyReportResult``: one rule result; ``fail`` becomes ``warn`` for unscored policies."""
    ann = (policy.get("metadata") or {}).get("annotations") or {}
    scored = ann.get("policies.kyverno.io/scored") != "false"
    result = rule.status.value
    if result == "fail" and not scored:
        result = "warn"
    out: dict[str, Any] = {
        "message": rule.message,
        "policy": policies.policy_key(policy),
        "properties": {"process": "background scan" if policies.background(policy) else "admission review"},
        "result": result,
        "rule": rule.name,
        "scored": scored,
        "source": "kyverno",
        "timestamp": {"nanos": 0, "seconds": int(now)},
    }
    if ann.get("policies.kyverno.io/category"):
        out["category"] = ann["policies.kyverno.io/category"]
    if ann.get("policies.kyverno.io/severity") in _SEVERITIES:
        out["severity"] = ann["policies.kyverno.io/severity"]
    return out


def summary(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = {"error": 0, "fail": 0, "pass": 0, "skip": 0, "warn": 0}
    for r in results:
        if r.get("result") in counts:
            counts[r["result"]] += 1
    return counts


def _sort_key(r: Mapping[str, Any]) -> tuple[str, str, str]:
    """``SortReportResults``: policy, rule (left out when empty), source."""
    return r["policy"], r.get("rule", ""), r.get("source", "")


def build_report(resource: Mapping[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The report object for one resource (PolicyReport, or ClusterPolicyReport when cluster-scoped)."""
    meta = resource.get("metadata") or {}
    ns = meta.get("namespace", "")
    ref = {"apiVersion": resource.get("apiVersion", ""), "kind": resource.get("kind", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", "")}
    scope = dict(ref, namespace=ns) if ns else dict(ref)
    results = sorted(results, key=_sort_key)
    report: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport" if ns else "ClusterPolicyReport",
        "metadata": {"name": meta.get("uid", ""), "labels": dict(MANAGED_BY), "ownerReferences": [ref]},
        "results": results,
        "scope": scope,
        "summary": summary(results),
    }
    if ns:
        report["metadata"]["namespace"] = ns
    return report


def _comparable(results: Iterable[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    return sorted((*_sort_key(r), r["result"], r.get("message", "")) for r in results)


# --- the controller -------------------------------------------------------------------------------------

Key = tuple[str, ...]


class ResultSource(Protocol):
    """Results of other policy kinds (Kyverno's CEL policies) in the same reports."""

    def watches(self, rt: ResourceType) -> bool:
        """Changes of this kind (a policy kind) call for a background scan."""

    def scans(self, rt: ResourceType) -> bool:
        """Resources of this kind are looked at by a background scan."""

    def results_for(self, rt: ResourceType, obj: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
        """The report results for one resource."""

    def forget(self, key: tuple[str, str, str]) -> None:
        """The resource is gone."""


class ReportController:
    """Keeps one policy report per resource in step with policies and resources.

    Follows the sandbox controller protocol (``name``, ``keys_for``, ``resync_keys``, ``reconcile``) and can
    also run on its own (:meth:`process`, :meth:`run`).
    """

    name = "kyverno-reports"

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.time,
                 scan_interval: float = BACKGROUND_SCAN_INTERVAL):
        self.registry = registry
        self.clock = clock
        self.scan_interval = scan_interval
        self._queue: dict[Hashable, None] = {}
        self._admission: dict[tuple[str, str, str], dict[str, engine.PolicyResponse]] = {}
        self._uids: dict[tuple[str, str, str], str] = {}
        self._last_scan = 0.0
        self._stopped = False
        self.sources: list[ResultSource] = []

    # --- inputs ---

    def record_admission(self, rt: ResourceType, namespace: str, name: str,
                         responses: Iterable[engine.PolicyResponse]) -> None:
        """Results of an admitted request; used for policies that do not run in the background."""
        key = (rt_key(rt), namespace if rt.namespaced else "", name)
        slot = self._admission.setdefault(key, {})
        for r in responses:
            if r.results:
                slot[r.key] = engine.response_copy(r)

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        rt = _rt_for(ev.rt_key)
        if rt is None:
            return []
        if rt.group == policies.GROUP and rt.kind in policies.POLICY_KINDS or any(s.watches(rt) for s in self.sources):
            return [("scan",)]
        if not _reportable(rt):
            return []
        return [("resource", ev.rt_key, ev.namespace, (ev.obj.get("metadata") or {}).get("name", ""))]

    def on_event(self, ev: WatchEvent) -> None:
        """Store listener: queue only (never write from inside a store write)."""
        if self._stopped:
            return
        for k in self.keys_for(ev):
            self._queue[k] = None

    def resync_keys(self) -> Iterable[Key]:
        return [("scan",)]

    # --- work ---

    def reconcile(self, key: Key) -> float | None:
        if key[0] == "scan":
            self.scan()
            return self.scan_interval
        _, kind_key, ns, name = key
        rt = _rt_for(kind_key)
        if rt is not None:
            self.reconcile_resource(rt, ns, name)
        return None

    def process(self) -> int:
        """Do the queued work (and the periodic scan when due); returns how many keys were handled."""
        n = 0
        if self.clock() - self._last_scan >= self.scan_interval:
            self._queue[("scan",)] = None
        while self._queue:
            key = next(iter(self._queue))
            del self._queue[key]
            try:
                self.reconcile(key)  # type: ignore[arg-type]
            except Exception:  # a report must never break the sandbox
                log.exception("policy report update for %s failed", key)
            n += 1
        return n

    async def run(self, tick: float = 1.0) -> None:
        while not self._stopped:
            self.process()
            await asyncio.sleep(tick)

    def stop(self) -> None:
        self._stopped = True

    # --- evaluation ---

    def _policies(self, namespace: str) -> list[dict[str, Any]]:
        from .plugin import CLUSTER_POLICY, POLICY

        out = list(self.registry.list(CLUSTER_POLICY))
        if namespace:
            out.extend(self.registry.list(POLICY, namespace))
        return out

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        if not namespace:
            return {}
        ns = self.registry.find(res.lookup("", "v1", "namespaces"), "", namespace)  # type: ignore[arg-type]
        return dict(((ns or {}).get("metadata") or {}).get("labels") or {})

    def results_for(self, rt: ResourceType, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "") if rt.namespaced else ""
        labels = self._namespace_labels(ns)
        admitted = self._admission.get((rt_key(rt), ns, meta.get("name", "")), {})
        now = self.clock()
        out: list[dict[str, Any]] = []
        for policy in self._policies(ns):
            if policies.background(policy):
                resp = engine.evaluate(policy, engine.Request("", dict(obj), namespace_labels=labels), admission=False)
                results = list(resp.results)
                recorded = admitted.get(policies.policy_key(policy))
                if recorded is not None:  # verifyImages results only come from admission
                    names = {r.name for r in results}
                    results.extend(r for r in recorded.results if r.name not in names and _is_verify_rule(policy, r))
            elif policies.admission(policy) and policies.policy_key(policy) in admitted:
                results = list(admitted[policies.policy_key(policy)].results)
            else:
                continue
            out.extend(report_result(policy, r, now) for r in results)
        for source in self.sources:
            out.extend(source.results_for(rt, obj, now))
        return out

    def reconcile_resource(self, rt: ResourceType, namespace: str, name: str) -> None:
        key = (rt_key(rt), namespace if rt.namespaced else "", name)
        obj = self.registry.find(rt, namespace, name)
        report_rt = POLICY_REPORT if rt.namespaced else CLUSTER_POLICY_REPORT
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            uid = self._uids.pop(key, None)
            self._admission.pop(key, None)
            for source in self.sources:
                source.forget(key)
            if uid:
                self._delete(report_rt, namespace, uid)
            return
        uid = obj["metadata"].get("uid", "")
        old_uid = self._uids.get(key)
        if old_uid and old_uid != uid:
            self._delete(report_rt, namespace, old_uid)
        self._uids[key] = uid
        results = self.results_for(rt, obj)
        existing = self.registry.find(report_rt, namespace, uid)
        if not results:
            if existing is not None:
                self._delete(report_rt, namespace, uid)
            return
        report = build_report(obj, results)
        if existing is None:
            try:
                self.registry.create(report_rt, namespace if rt.namespaced else None, report)
            except ApiError as e:
                log.info("policy report for %s/%s not created: %s", namespace, name, e.message)
            return
        if _comparable(existing.get("results") or []) == _comparable(results):
            return
        report["metadata"] = dict(existing["metadata"])
        self.registry.update(report_rt, namespace, uid, report, internal=True)

    def _delete(self, rt: ResourceType, namespace: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.registry.delete(rt, namespace, name)

    def scan(self) -> None:
        """Background scan: re-evaluate every resource any policy selects; drop reports of vanished objects."""
        self._last_scan = self.clock()
        kinds: list[str] = []
        for policy in self._all_policies():
            for rule in autogen.compute_rules(policy):
                kinds.extend(autogen.match_kinds(rule.get("match")))
        seen: set[tuple[str, str, str]] = set()
        for rt in res.all_resources():
            if not _reportable(rt) or not (check_kind(kinds, GVK(rt.group, rt.version, rt.kind), "")
                                            or any(s.scans(rt) for s in self.sources)):
                continue
            for obj in self.registry.list(rt):
                meta = obj.get("metadata") or {}
                ns = meta.get("namespace", "") if rt.namespaced else ""
                seen.add((rt_key(rt), ns, meta.get("name", "")))
                self.reconcile_resource(rt, ns, meta.get("name", ""))
        for key in [k for k in self._uids if k not in seen]:
            rt = _rt_for(key[0])
            if rt is not None:
                self.reconcile_resource(rt, key[1], key[2])

    def _all_policies(self) -> list[dict[str, Any]]:
        from .plugin import CLUSTER_POLICY, POLICY

        return list(self.registry.list(CLUSTER_POLICY)) + list(self.registry.list(POLICY))


def _is_verify_rule(policy: Mapping[str, Any], result: RuleResult) -> bool:
    return any(r.get("name") == result.name and r.get("verifyImages") for r in autogen.compute_rules(policy))


def _rt_for(key: str) -> ResourceType | None:
    for rt in res.all_resources():
        if rt_key(rt) == key:
            return rt
    return None


def _reportable(rt: ResourceType) -> bool:
    return not rt.virtual and rt.group not in _SKIP_GROUPS and rt.kind != "Event"
