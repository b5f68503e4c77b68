"""Built-in admission plug-ins, in kube-apiserver's order: NamespaceLifecycle, ServiceAccount, then the
validating plug-ins that later parts add (Kyverno, ValidatingAdmissionPolicy)."""

from __future__ import annotations

from . import resources
from .errors import ApiError
from .objects import AdmissionRequest, Registry

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

NAMESPACE = resources.lookup("", "v1", "namespaces")
SERVICE_ACCOUNT = resources.lookup("", "v1", "serviceaccounts")


def namespace_lifecycle(registry: Registry):
    """Refuse writes into missing or terminating namespaces, and deletion of the system namespaces."""

    def plugin(req: AdmissionRequest) -> None:
        rt = req.rt
        if rt.kind == "Namespace":
            if req.operation == "DELETE" and req.name in IMMORTAL_NAMESPACES:
                raise ApiError.forbidden("namespaces", req.name, "this namespace may not be deleted")
            return
        if not rt.namespaced or req.operation != "CREATE":
            return
        ns = registry.find(NAMESPACE, "", req.namespace)
        if ns is None:
            raise ApiError.not_found("namespaces", req.namespace)
        if ns["metadata"].get("deletionTimestamp") and rt.kind != "Event":
            name = req.name or (req.obj or {}).get("metadata", {}).get("generateName", "")
            raise ApiError(403, "Forbidden",
                           f'{rt.group_resource} "{name}" is forbidden: unable to create new content in namespace '
                           f"{req.namespace} because it is being terminated",
                           {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural,
                            "causes": [{"reason": "NamespaceTerminating",
                                        "message": f"namespace {req.namespace} is being terminated",
                                        "field": "metadata.namespace"}]})

    return plugin


def service_account(registry: Registry):
    """The ServiceAccount plug-in: default SA, imagePullSecrets copied in, token volume (pods on CREATE only)."""
    from . import admission_serviceaccount

    def get_sa(namespace: str, name: str) -> dict | None:
        sa = registry.find(SERVICE_ACCOUNT, namespace, name)
        if sa is None and name == "default":
            # A real apiserver retries the lookup while the serviceaccounts controller creates "default" in a
            # new namespace (it always does, within milliseconds). Our controllers run after this request, so
            # do the controller's work now instead of failing a pod created right after its namespace.
            ns = registry.find(NAMESPACE, "", namespace)
            if ns is not None and not ns["metadata"].get("deletionTimestamp"):
                sa = registry.create(SERVICE_ACCOUNT, namespace, {
                    "apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": namespace}})
        return sa

    def plugin(req: AdmissionRequest) -> None:
        if req.rt.kind != "Pod" or req.operation != "CREATE" or req.subresource or req.obj is None:
            return
        admission_serviceaccount.admit_pod_create(req.obj, req.namespace, get_sa)

    return plugin


def self_subject_access_review(req: AdmissionRequest) -> None:
    """The sandbox has one all-powerful lab user, like a kind cluster's admin kubeconfig."""
    if req.rt.kind == "SelfSubjectAccessReview" and req.obj is not None:
        req.obj["status"] = {"allowed": True, "reason": "lab sandbox: the lab user is cluster-admin"}


def install(registry: Registry) -> None:
    registry.mutators[:0] = [namespace_lifecycle(registry), service_account(registry), self_subject_access_review]
