"""Namespaces: what the namespace, serviceaccounts and root-ca-cert-publisher controllers do.

Every active namespace gets a ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap (re-created
if deleted). A namespace marked for deletion has all its content deleted, carries the five deletion
conditions the namespace controller maintains, and is finalized (removed) once nothing is left.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from ..apiserver import resources
from ..apiserver.errors import ApiError
from ..apiserver.store import WatchEvent
from .common import (
    CONFIGMAP,
    NAMESPACE,
    POD,
    SERVICEACCOUNT,
    Context,
    Key,
    deleting,
    int_field,
    is_kind,
    log,
    parse_time,
    rfc3339,
)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
FINALIZER = "kubernetes"
ROOT_CA_NAME = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters.")
# Published when the manager is not given the sandbox CA (unit tests, tools): clearly not a certificate.
LAB_CA_PEM = (
    "# LAB SANDBOX PLACEHOLDER - not a real certificate.\n"
    "# A real cluster publishes the CA bundle of its API server here.\n"
    "-----BEGIN CERTIFICATE-----\n"
    "TEFCIFNBTkRCT1ggUExBQ0VIT0xERVIgLSBOT1QgQSBSRUFMIENFUlRJRklDQVRF\n"
    "-----END CERTIFICATE-----\n")

# Seconds before re-checking content that is held by finalizers (namespace_deleter's finalizerEstimateSeconds).
FINALIZER_ESTIMATE_SECONDS = 15

CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
OK = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def ensure_system_namespaces(ctx: Context) -> None:
    """The namespaces kube-apiserver's system-namespaces controller keeps present."""
    for name in SYSTEM_NAMESPACES:
        if ctx.registry.find(NAMESPACE, "", name) is None:
            try:
                ctx.registry.create(NAMESPACE, None, {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name}})
            except ApiError as e:
                if e.code != 409:
                    raise


class NamespaceController:
    name = "namespace"

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        if is_kind(ev, NAMESPACE):
            yield (ev.obj["metadata"]["name"],)
        elif self._watched_content(ev):
            yield (ev.namespace,)

    @staticmethod
    def _watched_content(ev: WatchEvent) -> bool:
        """The default ServiceAccount going away, or the root CA ConfigMap being edited or deleted."""
        name = ev.obj["metadata"].get("name")
        if is_kind(ev, SERVICEACCOUNT):
            return name == "default" and ev.type == "DELETED"
        return is_kind(ev, CONFIGMAP) and name == ROOT_CA_NAME and ev.type != "ADDED"

    def resync_keys(self) -> Iterable[Key]:
        ensure_system_namespaces(self.ctx)
        return [(n["metadata"]["name"],) for n in self.ctx.registry.list(NAMESPACE)]

    def reconcile(self, key: Key) -> float | None:
        ns = self.ctx.registry.find(NAMESPACE, "", key[0])
        if ns is None:
            return None
        if deleting(ns):
            return self._terminate(ns)
        if ns.get("status", {}).get("phase", "Active") != "Active":
            return None
        self._ensure_service_account(key[0])
        self._ensure_root_ca(key[0])
        return None

    # --- active namespaces ---

    def _ensure_service_account(self, ns: str) -> None:
        if self.ctx.registry.find(SERVICEACCOUNT, ns, "default") is not None:
            return
        self._create(SERVICEACCOUNT, ns, {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": "default", "namespace": ns}})

    def _ensure_root_ca(self, ns: str) -> None:
        data = {"ca.crt": self.ctx.root_ca_pem or LAB_CA_PEM}
        cm = self.ctx.registry.find(CONFIGMAP, ns, ROOT_CA_NAME)
        if cm is None:
            self._create(CONFIGMAP, ns, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": ROOT_CA_NAME, "namespace": ns,
                                                      "annotations": {"kubernetes.io/description":
                                                                      ROOT_CA_DESCRIPTION}},
                                         "data": data})
            return
        # The publisher puts the bundle (and its description) back when someone edits them.
        annotations = cm["metadata"].get("annotations") or {}
        if cm.get("data") == data and annotations.get("kubernetes.io/description") == ROOT_CA_DESCRIPTION:
            return
        cm = copy.deepcopy(cm)
        cm["data"] = data
        cm["metadata"].setdefault("annotations", {})["kubernetes.io/description"] = ROOT_CA_DESCRIPTION
        self.ctx.registry.update(CONFIGMAP, ns, ROOT_CA_NAME, cm)

    def _create(self, rt, ns: str, obj: dict) -> None:
        try:
            self.ctx.registry.create(rt, ns, obj)
        except ApiError as e:
            # A namespace going away, or a race with another writer: nothing to do.
            if e.code not in (403, 404, 409):
                raise

    # --- terminating namespaces (namespaced_resources_deleter.Delete) ---

    def _terminate(self, ns: dict) -> float | None:
        name = ns["metadata"]["name"]
        spec_finalizers = list((ns.get("spec") or {}).get("finalizers") or [])
        if spec_finalizers and FINALIZER not in spec_finalizers:
            return None  # finalized by us already; someone else's finalizer holds it
        if ns.get("status", {}).get("phase") != "Terminating":
            ns = copy.deepcopy(ns)
            ns.setdefault("status", {})["phase"] = "Terminating"
            ns = self.ctx.registry.update(NAMESPACE, "", name, ns, subresource="status")
        deleted_at = parse_time(ns["metadata"].get("deletionTimestamp")) or self.ctx.clock()
        estimate, remaining, by_finalizer, errors = self._delete_all_content(name, deleted_at)
        conditions = self._conditions(remaining, by_finalizer, errors)
        if self._update_conditions(ns, conditions):
            ns = self.ctx.registry.find(NAMESPACE, "", name)
            if ns is None:
                return None
        if errors:
            raise RuntimeError(f"namespace {name}: " + "; ".join(errors))
        if estimate > 0:
            return estimate // 2 + 1
        self._finalize(ns)
        return None

    def _delete_all_content(self, ns: str, deleted_at: float) -> tuple[int, dict[str, int], dict[str, int],
                                                                        list[str]]:
        """Delete every namespaced object; returns (estimate seconds, remaining per resource, remaining per
        finalizer, errors) like deleteAllContent."""
        registry = self.ctx.registry
        estimate = 0
        remaining: dict[str, int] = {}
        by_finalizer: dict[str, int] = {}
        errors: list[str] = []
        for rt in resources.all_resources():
            if not rt.namespaced or rt.virtual:
                continue
            rt_estimate = self._estimate_pods(ns, deleted_at) if rt.plural == POD.plural and not rt.group else 0
            for obj in registry.list(rt, ns):
                if deleting(obj):
                    continue
                try:
                    registry.delete(rt, ns, obj["metadata"]["name"], propagation="Background")
                except ApiError as e:
                    if e.code != 404:
                        errors.append(e.message)
            left = registry.list(rt, ns)
            if not left:
                continue  # done with this resource, whatever the grace-period estimate said
            gvr = f"{rt.plural}.{rt.group}"
            remaining[gvr] = len(left)
            fins: dict[str, int] = {}
            for obj in left:
                for f in obj["metadata"].get("finalizers") or []:
                    fins[f] = fins.get(f, 0) + 1
            for f, n in fins.items():
                by_finalizer[f] = by_finalizer.get(f, 0) + n
            if rt_estimate:
                estimate = max(estimate, rt_estimate)
            elif fins:
                estimate = max(estimate, FINALIZER_ESTIMATE_SECONDS)
            else:
                gvr_text = f"{rt.group}/{rt.version}, Resource={rt.plural}" if rt.group else \
                    f"/{rt.version}, Resource={rt.plural}"
                errors.append(f"unexpected items still remain in namespace: {ns} for gvr: {gvr_text}")
        return estimate, remaining, by_finalizer, errors

    def _estimate_pods(self, ns: str, deleted_at: float) -> int:
        """The longest grace period of unfinished pods, unless that much time has passed since the deletion."""
        estimate = 0
        for pod in self.ctx.registry.list(POD, ns):
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            estimate = max(estimate, int_field(pod, "spec.terminationGracePeriodSeconds", 0))
        if self.ctx.clock() - deleted_at >= estimate:
            return 0
        return estimate

    def _conditions(self, remaining: dict[str, int], by_finalizer: dict[str, int],
                    errors: list[str]) -> dict[str, tuple[str, str, str]]:
        """type -> (status, reason, message) for the conditions that are not in their "ok" state."""
        out: dict[str, tuple[str, str, str]] = {}
        if remaining:
            items = sorted(f"{gvr} has {n} resource instances" for gvr, n in remaining.items())
            out["NamespaceContentRemaining"] = ("True", "SomeResourcesRemain",
                                                "Some resources are remaining: " + ", ".join(items))
        if by_finalizer:
            items = sorted(f"{f} in {n} resource instances" for f, n in by_finalizer.items())
            out["NamespaceFinalizersRemaining"] = (
                "True", "SomeFinalizersRemain",
                "Some content in the namespace has finalizers remaining: " + ", ".join(items))
        if errors:
            msgs = sorted(errors)
            out["NamespaceDeletionContentFailure"] = (
                "True", "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(msgs)} remaining: " + ", ".join(msgs))
        return out

    def _update_conditions(self, ns: dict, failing: dict[str, tuple[str, str, str]]) -> bool:
        status = copy.deepcopy(ns.get("status") or {})
        conditions = status.setdefault("conditions", [])
        now = rfc3339(self.ctx.clock())
        changed = False
        for type_ in CONDITION_TYPES:
            want = failing.get(type_) or ("False", *OK[type_])
            old = next((c for c in conditions if c.get("type") == type_), None)
            if old is None:
                conditions.append({"type": type_, "status": want[0], "lastTransitionTime": now,
                                   "reason": want[1], "message": want[2]})
                changed = True
            elif (old.get("status"), old.get("reason"), old.get("message")) != want:
                if old.get("status") != want[0]:
                    old["lastTransitionTime"] = now
                old["status"], old["reason"], old["message"] = want
                changed = True
        if not changed:
            return False
        ns = copy.deepcopy(ns)
        ns["status"] = status
        self.ctx.registry.update(NAMESPACE, "", ns["metadata"]["name"], ns, subresource="status")
        return True

    def _finalize(self, ns: dict) -> None:
        """Drop our finalizer; with none left the apiserver removes the namespace (watchers see DELETED)."""
        ns = copy.deepcopy(ns)
        spec = ns.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        if not spec["finalizers"]:
            del spec["finalizers"]
        log.info("namespace %s: all content removed, finalizing", ns["metadata"]["name"])
        try:
            self.ctx.registry.update(NAMESPACE, "", ns["metadata"]["name"], ns, subresource="finalize")
        except ApiError as e:
            if e.code != 404:
                raise
