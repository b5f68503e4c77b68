"""The sandbox API server's table of resource types.

Everything that varies per kind (URL plural, scope, short names, printer columns, protobuf support) lives here,
so discovery, routing, OpenAPI, Tables and storage all agree, and later parts (Kyverno, policy reports,
admission policies) register their kinds with :func:`register`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    """A CRD-style additionalPrinterColumn (used for kinds without a built-in printer)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    subresources: tuple[str, ...] = ()
    # Kinds the apiserver serves from a CRD: no protobuf, JSON-merge-patch fallback in kubectl, CRD-style tables.
    custom: bool = False
    printer_columns: tuple[PrinterColumn, ...] = ()
    # Create-only kinds (e.g. SelfSubjectAccessReview) are never stored.
    virtual: bool = False

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """How apiserver error messages name the resource: ``secrets`` or ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_version_path(self) -> str:
        """Discovery / OpenAPI path of the group-version: ``api/v1`` or ``apis/apps/v1``."""
        return f"apis/{self.group}/{self.version}" if self.group else f"api/{self.version}"

    def collection_path(self, namespace: str | None = None) -> str:
        base = "/" + self.group_version_path
        if self.namespaced and namespace is not None:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def item_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"


_REGISTRY: dict[tuple[str, str, str], ResourceType] = {}


def register(rt: ResourceType) -> ResourceType:
    """Add a kind to the API surface (idempotent: re-registering the same plural replaces it)."""
    _REGISTRY[(rt.group, rt.version, rt.plural)] = rt
    return rt


def all_resources() -> list[ResourceType]:
    return list(_REGISTRY.values())


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    return _REGISTRY.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    group, _, version = api_version.rpartition("/")
    for rt in _REGISTRY.values():
        if rt.group == group and rt.version == version and rt.kind == kind:
            return rt
    return None


def group_versions() -> list[tuple[str, str]]:
    """Every served (group, version), core first, in registration order."""
    seen: list[tuple[str, str]] = []
    for rt in _REGISTRY.values():
        gv = (rt.group, rt.version)
        if gv not in seen:
            seen.append(gv)
    return sorted(seen, key=lambda gv: gv[0] != "")


_BUILTIN = [
    ResourceType("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
                 subresources=("status", "finalize")),
    ResourceType("", "v1", "Secret", "secrets"),
    ResourceType("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    ResourceType("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
                 subresources=("attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "status")),
    ResourceType("", "v1", "Event", "events", short_names=("ev",)),
    ResourceType("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
                 subresources=("status", "scale")),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",),
                 subresources=("status", "scale")),
    ResourceType("batch", "v1", "Job", "jobs", categories=("all",), subresources=("status",)),
    ResourceType("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=("all",),
                 subresources=("status",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
                 namespaced=False),
    ResourceType("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
                 namespaced=False, verbs=("create",), virtual=True),
]

for _rt in _BUILTIN:
    register(_rt)
