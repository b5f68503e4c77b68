"""/version and API discovery, legacy and aggregated (apidiscovery.k8s.io v2 / v2beta1)."""

from __future__ import annotations

from .resources import ResourceType, all_resources, group_versions

# The Kubernetes version the sandbox reports; kubectl 1.32-1.37 all accept it (skew policy: +/-1 is fine,
# kubectl warns only beyond that).
VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-labsandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


def _resources_of(group: str, version: str) -> list[ResourceType]:
    return [rt for rt in all_resources() if rt.group == group and rt.version == version]


def _groups() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g, v in group_versions():
        if g:
            out.setdefault(g, []).append(v)
    return out


def legacy_api_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def legacy_api_groups() -> dict:
    groups = []
    for g, versions in _groups().items():
        gvs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
        groups.append({"name": g, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def legacy_resource_list(group: str, version: str) -> dict | None:
    rts = _resources_of(group, version)
    if not rts:
        return None
    items = []
    for rt in rts:
        entry = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
                 "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        items.append(entry)
        for sub in rt.subresources:
            sub_kind, sub_verbs = _sub_kind(sub, rt.kind), _sub_verbs(sub)
            items.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                          "kind": sub_kind, "verbs": sub_verbs})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}


_SUB_KINDS = {"scale": "Scale", "eviction": "Eviction", "binding": "Binding", "exec": "PodExecOptions",
              "attach": "PodAttachOptions"}


def _sub_kind(sub: str, kind: str) -> str:
    return _SUB_KINDS.get(sub, kind)


def _sub_verbs(sub: str) -> list[str]:
    """As kube-apiserver lists them: status/scale/ephemeralcontainers are read-write, log is read-only,
    exec/attach are both (WebSocket clients GET, SPDY ones POST), binding/eviction are create-only."""
    if sub in ("status", "scale", "ephemeralcontainers"):
        return ["get", "patch", "update"]
    if sub == "log":
        return ["get"]
    if sub in ("exec", "attach"):
        return ["create", "get"]
    return ["create"]


def _aggregated_group(group: str, versions: list[str], disc_version: str) -> dict:
    out_versions = []
    for v in versions:
        resources = []
        for rt in _resources_of(group, v):
            r = {"resource": rt.plural,
                 "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                 "scope": "Namespaced" if rt.namespaced else "Cluster",
                 "singularResource": rt.singular,
                 "verbs": list(rt.verbs)}
            if rt.short_names:
                r["shortNames"] = list(rt.short_names)
            if rt.categories:
                r["categories"] = list(rt.categories)
            subs = []
            for sub in rt.subresources:
                sub_group = "autoscaling" if sub == "scale" else ("policy" if sub == "eviction" else rt.group)
                subs.append({"subresource": sub,
                             "responseKind": {"group": sub_group, "version": "v1", "kind": _sub_kind(sub, rt.kind)},
                             "verbs": _sub_verbs(sub)})
            if subs:
                r["subresources"] = subs
            resources.append(r)
        out_versions.append({"version": v, "resources": resources, "freshness": "Current"})
    return {"metadata": {"name": group, "creationTimestamp": None}, "versions": out_versions}


def aggregated(legacy: bool, disc_version: str) -> dict:
    """The aggregated discovery document for /api (legacy=True) or /apis."""
    if legacy:
        items = [_aggregated_group("", ["v1"], disc_version)]
    else:
        items = [_aggregated_group(g, vs, disc_version) for g, vs in _groups().items()]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{disc_version}",
            "metadata": {}, "items": items}
