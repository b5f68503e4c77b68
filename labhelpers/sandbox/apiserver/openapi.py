"""``/openapi/v3`` for the sandbox API server.

kubectl depends on these documents in three ways: ``apply``/``create`` refuse to run with default (Strict)
validation unless a ``patch`` operation for the kind carries the GVK extension and a ``fieldValidation``
parameter; ``apply`` computes strategic merge patches from ``components.schemas`` when the patch operation
accepts ``application/strategic-merge-patch+json``; ``explain`` renders the schemas. Paths are synthesized per
served :class:`ResourceType` in the shape kube-apiserver uses; schemas come from :mod:`.schemas`, limited to what
the group-version's kinds reach.

kubectl re-downloads a document on every ``apply``, so each document is built and serialised once per
(resources, custom-schema generation) and served from cache.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from . import schemas
from .resources import ResourceType

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_STATUS = _META + "Status"
_DELETE_OPTIONS = _META + "DeleteOptions"
_PATCH = _META + "Patch"
_WATCH_EVENT = _META + "WatchEvent"
_RESOURCE_LIST = _META + "APIResourceList"
_ALWAYS = [_STATUS, _DELETE_OPTIONS, _PATCH, _WATCH_EVENT, _RESOURCE_LIST]

_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")
# kube-apiserver refuses strategic merge patch for custom resources, and does not advertise it.
_CUSTOM_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")


def register_custom_schema(group: str, version: str, kind: str, openapi_schema: dict) -> None:
    """Give a custom kind (``ResourceType.custom``) a real schema instead of preserve-unknown-fields."""
    schemas.register_custom(group, version, kind, openapi_schema)


# --- parameters -------------------------------------------------------------------------------------------


def _param(name: str, where: str, typ: str, description: str, required: bool = False) -> dict:
    p: dict[str, Any] = {"description": description, "in": where, "name": name}
    if required:
        p["required"] = True
    p["schema"] = {"type": typ, "uniqueItems": True}
    return p


_P = {
    "allowWatchBookmarks": _param("allowWatchBookmarks", "query", "boolean",
                                  "Ask for BOOKMARK watch events (ignored unless watching)."),
    "continue": _param("continue", "query", "string", "Token from a previous paged list response."),
    "dryRun": _param("dryRun", "query", "string", "All: run every stage but persist nothing."),
    "fieldManager": _param("fieldManager", "query", "string", "Name of the actor making the change."),
    "fieldSelector": _param("fieldSelector", "query", "string", "Restrict results by field values."),
    "fieldValidation": _param("fieldValidation", "query", "string",
                              "How to treat unknown or duplicate fields: Ignore, Warn (default) or Strict."),
    "force": _param("force", "query", "boolean", "Take over conflicting fields (apply patches only)."),
    "gracePeriodSeconds": _param("gracePeriodSeconds", "query", "integer", "Seconds before deletion."),
    "labelSelector": _param("labelSelector", "query", "string", "Restrict results by labels."),
    "limit": _param("limit", "query", "integer", "Maximum number of items in a list response."),
    "orphanDependents": _param("orphanDependents", "query", "boolean",
                               "Deprecated: use propagationPolicy."),
    "pretty": _param("pretty", "query", "string", "Pretty-print the output when 'true'."),
    "propagationPolicy": _param("propagationPolicy", "query", "string",
                                "Garbage collection of dependents: Orphan, Background or Foreground."),
    "resourceVersion": _param("resourceVersion", "query", "string",
                              "Constrain which resource versions the request may be served from."),
    "resourceVersionMatch": _param("resourceVersionMatch", "query", "string",
                                   "How resourceVersion applies to list calls."),
    "sendInitialEvents": _param("sendInitialEvents", "query", "boolean",
                                "Start a watch with synthetic events for the current state."),
    "timeoutSeconds": _param("timeoutSeconds", "query", "integer", "Time limit for the list/watch call."),
    "watch": _param("watch", "query", "boolean", "Stream changes instead of returning a list."),
}
_LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_DELETECOLLECTION_PARAMS = ("continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector", "limit",
                            "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
                            "sendInitialEvents", "timeoutSeconds")
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")
_DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")


def _params(*names: str) -> list[dict]:
    return [_P[n] for n in names]


def _path_param(name: str, description: str) -> dict:
    return _param(name, "path", "string", description, required=True)


_NAMESPACE_PARAM = _path_param("namespace", "object name and auth scope, such as for teams and projects")


# --- operations -------------------------------------------------------------------------------------------


def _content(ref: str, types: tuple[str, ...]) -> dict:
    return {t: {"schema": {"$ref": schemas.REF_PREFIX + ref}} for t in types}


def _media(rt: ResourceType, streaming: bool = False) -> tuple[str, ...]:
    types = ["application/json", "application/yaml"]
    if not rt.custom:
        types.append("application/vnd.kubernetes.protobuf")
    if streaming:
        types.append("application/json;stream=watch")
        if not rt.custom:
            types.append("application/vnd.kubernetes.protobuf;stream=watch")
    return tuple(sorted(types))


def _responses(rt: ResourceType, ref: str, codes: tuple[str, ...], streaming: bool = False) -> dict:
    words = {"200": "OK", "201": "Created", "202": "Accepted"}
    out = {code: {"content": _content(ref, _media(rt, streaming)), "description": words[code]} for code in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation_prefix(rt: ResourceType) -> tuple[str, str]:
    """operationId infix and tag as kube-apiserver derives them (``CoreV1``/``core_v1``, ``AppsV1``...)."""
    group = rt.group.removesuffix(".k8s.io") if rt.group else "core"
    words = [w for w in group.replace("-", ".").split(".") if w]
    camel = "".join(w[:1].upper() + w[1:] for w in words)
    tag = (words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])) if words else group
    return camel + rt.version[:1].upper() + rt.version[1:], f"{tag}_{rt.version}"


def _op(rt: ResourceType, action: str, op_id: str, description: str, responses: dict,
        parameters: list[dict] | None = None, body: dict | None = None) -> dict:
    op: dict[str, Any] = {"description": description, "operationId": op_id}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    op["responses"] = responses
    op["tags"] = [_operation_prefix(rt)[1]]
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = {"group": rt.group, "kind": rt.kind, "version": rt.version}
    return op


def _object_body(ref: str) -> dict:
    return {"content": {"*/*": {"schema": {"$ref": schemas.REF_PREFIX + ref}}}, "required": True}


def _patch_body(rt: ResourceType) -> dict:
    types = _CUSTOM_PATCH_TYPES if rt.custom else _PATCH_TYPES
    return {"content": _content(_PATCH, types), "required": True}


def _schema_free(rt: ResourceType) -> bool:
    """Custom kinds, and any built-in kind the definitions do not know, get CRD-style schemas."""
    return rt.custom or schemas.definition_for_gvk(rt.group, rt.version, rt.kind) is None


def _names(rt: ResourceType) -> tuple[str, str]:
    """(object definition, list definition) names for a served kind."""
    if _schema_free(rt):
        name = schemas.custom_definition_name(rt.group, rt.version, rt.kind)
        return name, name + "List"
    obj = schemas.definition_for_gvk(rt.group, rt.version, rt.kind) or ""
    lst = schemas.definition_for_gvk(rt.group, rt.version, rt.kind + "List") or ""
    return obj, lst


def _paths_for(rt: ResourceType) -> dict[str, dict]:
    obj, lst = _names(rt)
    infix, _ = _operation_prefix(rt)
    ns = "Namespaced" if rt.namespaced else ""
    kind = rt.kind
    verbs = set(rt.verbs)
    base = "/" + rt.group_version_path
    coll = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    item = coll + "/{name}"
    scope = [_NAMESPACE_PARAM] if rt.namespaced else []
    name_param = _path_param("name", f"name of the {kind}")
    paths: dict[str, dict] = {}

    collection: dict[str, Any] = {}
    if "deletecollection" in verbs:
        collection["delete"] = _op(rt, "deletecollection", f"delete{infix}Collection{ns}{kind}",
                                   f"delete collection of {kind}", _responses(rt, _STATUS, ("200",)),
                                   _params(*_DELETECOLLECTION_PARAMS),
                                   {"content": {"*/*": {"schema": {"$ref": schemas.REF_PREFIX + _DELETE_OPTIONS}}}})
    if "list" in verbs and lst:
        collection["get"] = _op(rt, "list", f"list{infix}{ns}{kind}", f"list or watch objects of kind {kind}",
                                _responses(rt, lst, ("200",), streaming=True), _params(*_LIST_PARAMS))
    if "create" in verbs:
        collection["post"] = _op(rt, "post", f"create{infix}{ns}{kind}", f"create a {kind}",
                                 _responses(rt, obj, ("200", "201", "202")), _params(*_WRITE_PARAMS),
                                 _object_body(obj))
    if collection:
        collection["parameters"] = [*scope, _P["pretty"]]
        paths[coll] = dict(sorted(collection.items()))

    single: dict[str, Any] = {}
    if "delete" in verbs:
        single["delete"] = _op(rt, "delete", f"delete{infix}{ns}{kind}", f"delete a {kind}",
                               _responses(rt, _STATUS, ("200", "202")), _params(*_DELETE_PARAMS),
                               {"content": {"*/*": {"schema": {"$ref": schemas.REF_PREFIX + _DELETE_OPTIONS}}}})
    if "get" in verbs:
        single["get"] = _op(rt, "get", f"read{infix}{ns}{kind}", f"read the specified {kind}",
                            _responses(rt, obj, ("200",)))
    if "patch" in verbs:
        single["patch"] = _op(rt, "patch", f"patch{infix}{ns}{kind}", f"partially update the specified {kind}",
                              _responses(rt, obj, ("200", "201")), _params(*_PATCH_PARAMS), _patch_body(rt))
    if "update" in verbs:
        single["put"] = _op(rt, "put", f"replace{infix}{ns}{kind}", f"replace the specified {kind}",
                            _responses(rt, obj, ("200", "201")), _params(*_WRITE_PARAMS), _object_body(obj))
    if single:
        single["parameters"] = [name_param, *scope, _P["pretty"]]
        paths[item] = dict(sorted(single.items()))

    if "status" in rt.subresources and not rt.virtual:
        paths[item + "/status"] = {
            "get": _op(rt, "get", f"read{infix}{ns}{kind}Status", f"read status of the specified {kind}",
                       _responses(rt, obj, ("200",))),
            "parameters": [name_param, *scope, _P["pretty"]],
            "patch": _op(rt, "patch", f"patch{infix}{ns}{kind}Status",
                         f"partially update status of the specified {kind}",
                         _responses(rt, obj, ("200", "201")), _params(*_PATCH_PARAMS), _patch_body(rt)),
            "put": _op(rt, "put", f"replace{infix}{ns}{kind}Status", f"replace status of the specified {kind}",
                       _responses(rt, obj, ("200", "201")), _params(*_WRITE_PARAMS), _object_body(obj)),
        }

    list_params = [_P[n] for n in _LIST_PARAMS]
    if rt.namespaced and "list" in verbs and lst:
        paths[f"{base}/{rt.plural}"] = {
            "get": _op(rt, "list", f"list{infix}{kind}ForAllNamespaces", f"list or watch objects of kind {kind}",
                       _responses(rt, lst, ("200",), streaming=True)),
            "parameters": [*list_params[:5], _P["pretty"], *list_params[5:]],
        }
    if "watch" in verbs:
        watch_params = [*list_params[:5], _P["pretty"], *list_params[5:]]
        watch_ns = [_NAMESPACE_PARAM] if rt.namespaced else []
        prefix = f"{base}/watch/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/watch/{rt.plural}"
        paths[prefix] = {
            "get": _op(rt, "watchlist", f"watch{infix}{ns}{kind}List",
                       f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter "
                       "with a list operation instead.", _responses(rt, _WATCH_EVENT, ("200",), streaming=True)),
            "parameters": [*watch_params[:5], *watch_ns, *watch_params[5:]],
        }
        paths[prefix + "/{name}"] = {
            "get": _op(rt, "watch", f"watch{infix}{ns}{kind}",
                       f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a "
                       "list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
                       _responses(rt, _WATCH_EVENT, ("200",), streaming=True)),
            "parameters": [*watch_params[:5], name_param, *watch_ns, *watch_params[5:]],
        }
        if rt.namespaced:
            paths[f"{base}/watch/{rt.plural}"] = {
                "get": _op(rt, "watchlist", f"watch{infix}{kind}ListForAllNamespaces",
                           f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter "
                           "with a list operation instead.", _responses(rt, _WATCH_EVENT, ("200",), streaming=True)),
                "parameters": watch_params,
            }
    return paths


# --- documents --------------------------------------------------------------------------------------------


def _custom_components(rt: ResourceType) -> dict[str, dict]:
    obj, lst = _names(rt)
    if schemas.has(obj):
        return {obj: schemas.schema(obj), lst: schemas.schema(lst)}
    return {obj: schemas.custom_object_schema(rt.group, rt.version, rt.kind, None),
            lst: schemas.custom_list_schema(rt.group, rt.version, rt.kind)}


def _build(gvp: str, rts: tuple[ResourceType, ...]) -> dict:
    infix, tag = _operation_prefix(rts[0])
    root = "/" + gvp + "/"
    paths: dict[str, dict] = {root: {"get": {
        "description": "get available resources", "operationId": f"get{infix}APIResources",
        "responses": {"200": {"content": _content(_RESOURCE_LIST, ("application/json", "application/yaml",
                                                                   "application/vnd.kubernetes.protobuf")),
                              "description": "OK"},
                      "401": {"description": "Unauthorized"}},
        "tags": [tag]}}}
    components: dict[str, dict] = {}
    roots = list(_ALWAYS)
    for rt in rts:
        paths.update(_paths_for(rt))
        if _schema_free(rt):
            extra = _custom_components(rt)
            components.update(extra)
            for node in extra.values():
                roots.extend(schemas.references(node))
        else:
            roots.extend(n for n in _names(rt) if n)
    for name in schemas.closure(roots):
        components.setdefault(name, schemas.schema(name))
    return {
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication", "in": "header",
                                                "name": "authorization", "type": "apiKey"}},
        },
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "openapi": "3.0.0",
        "paths": dict(sorted(paths.items())),
    }


@lru_cache(maxsize=64)
def _cached(gvp: str, rts: tuple[ResourceType, ...], generation: int) -> tuple[dict, bytes, str]:
    doc = _build(gvp, rts)
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return doc, raw, hashlib.sha512(raw).hexdigest().upper()


def _entry(group_version_path: str, resources: list[ResourceType]) -> tuple[dict, bytes, str] | None:
    gvp = group_version_path.strip("/")
    rts = tuple(rt for rt in resources if rt.group_version_path == gvp)
    if not rts:
        return None
    return _cached(gvp, rts, schemas.generation())


def document(group_version_path: str, resources: list[ResourceType]) -> dict | None:
    """The OpenAPI v3 document for ``api/v1`` or ``apis/<g>/<v>`` (shared and cached: do not mutate)."""
    entry = _entry(group_version_path, resources)
    return entry[0] if entry else None


def document_bytes(group_version_path: str, resources: list[ResourceType]) -> bytes | None:
    """The serialised document, as served."""
    entry = _entry(group_version_path, resources)
    return entry[1] if entry else None


def document_hash(group_version_path: str, resources: list[ResourceType]) -> str | None:
    """Uppercase hex SHA-512 of the served bytes, as kube-apiserver computes its ``?hash=`` / ETag."""
    entry = _entry(group_version_path, resources)
    return entry[2] if entry else None


def index(resources: list[ResourceType]) -> dict:
    """``GET /openapi/v3``: one entry per served group-version, each URL pinned by the document hash."""
    seen: list[str] = []
    for rt in resources:
        if rt.group_version_path not in seen:
            seen.append(rt.group_version_path)
    paths = {}
    for gvp in sorted(seen):
        paths[gvp] = {"serverRelativeURL": f"/openapi/v3/{gvp}?hash={document_hash(gvp, resources)}"}
    return {"paths": paths}
