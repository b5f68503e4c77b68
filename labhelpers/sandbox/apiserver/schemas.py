"""Kubernetes type definitions as OpenAPI 3 component schemas.

The sandbox needs the real API types three times over: for the OpenAPI documents kubectl downloads (explain,
client-side patch computation, the ``fieldValidation`` probe), for strategic merge patch metadata, and for strict
field validation. The PyPI package ``kubernetes-validate`` ships the upstream definitions as JSON Schema 2020-12;
this module converts them once per process into the shape kube-apiserver publishes under ``/openapi/v3``:
``#/components/schemas/...`` references (wrapped in ``allOf`` when a description sits beside them, as upstream
does), single ``type`` strings instead of ``[x, "null"]``, no ``kind``/``apiVersion`` enums (added by the package,
absent upstream), every ``x-kubernetes-*`` extension kept.

Custom kinds (CRD-backed, e.g. Kyverno's) register their schema with :func:`register_custom`; they are then
resolved exactly like built-in definitions.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

MIN_VERSION = (1, 32)
REF_PREFIX = "#/components/schemas/"
_SOURCE_PREFIX = "#/$defs/"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"

# Keywords whose value is a schema / a list of schemas / a name->schema map.
_SCHEMA_KEYS = ("items", "additionalProperties", "not")
_SCHEMA_LIST_KEYS = ("oneOf", "anyOf", "allOf")


def _version_dirs() -> list[tuple[tuple[int, int], Path]]:
    spec = find_spec("kubernetes_validate")  # locate the data without importing the (heavy) package
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    found = []
    for d in root.iterdir():
        m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local", d.name)
        if m and (d / "_definitions.json").is_file():
            found.append(((int(m.group(1)), int(m.group(2))), d))
    return sorted(found)


@lru_cache(maxsize=1)
def source_version() -> str:
    """Directory name of the kubernetes-validate definitions in use (the newest >= v1.32)."""
    return _source_dir().name


def _source_dir() -> Path:
    usable = [d for v, d in _version_dirs() if v >= MIN_VERSION]
    if not usable:
        raise RuntimeError(f"kubernetes-validate ships no definitions >= v{MIN_VERSION[0]}.{MIN_VERSION[1]}")
    return usable[-1]


def _convert(node: Any) -> Any:
    """One JSON Schema 2020-12 node -> the OpenAPI 3.0 form kube-apiserver publishes."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = REF_PREFIX + value.removeprefix(_SOURCE_PREFIX)
        elif key == "type" and isinstance(value, list):
            real = [t for t in value if t != "null"]
            out[key] = real[0] if len(real) == 1 else real
        elif key == "properties":
            out[key] = {name: _convert(prop) for name, prop in value.items()}
        elif key in _SCHEMA_KEYS:
            out[key] = _convert(value)
        elif key in _SCHEMA_LIST_KEYS:
            out[key] = [_convert(v) for v in value]
        else:
            out[key] = copy.deepcopy(value)
    if "$ref" in out and len(out) > 1:
        # OpenAPI 3.0 ignores siblings of $ref; upstream keeps descriptions by wrapping the reference.
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def _convert_definition(name: str, node: dict) -> dict:
    out = _convert(node)
    props = out.get("properties")
    if props and out.get("x-kubernetes-group-version-kind"):
        for field in ("kind", "apiVersion"):
            if isinstance(props.get(field), dict):
                props[field].pop("enum", None)
    if name == _INT_OR_STRING:
        out = {"description": "IntOrString holds either an int32 or a string.", "format": "int-or-string",
               "oneOf": [{"type": "integer"}, {"type": "string"}]}
    return out


@lru_cache(maxsize=1)
def _builtin() -> dict[str, dict]:
    raw = json.loads((_source_dir() / "_definitions.json").read_text())["$defs"]
    return {name: _convert_definition(name, node) for name, node in raw.items()}


@lru_cache(maxsize=1)
def _builtin_gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, node in _builtin().items():
        for gvk in node.get("x-kubernetes-group-version-kind") or ():
            index.setdefault((gvk.get("group", ""), gvk["version"], gvk["kind"]), name)
    return index


# --- custom (CRD-style) kinds -------------------------------------------------------------------------------

_CUSTOM: dict[str, dict] = {}
_CUSTOM_GVK: dict[tuple[str, str, str], str] = {}
_generation = 0


def generation() -> int:
    """Bumped whenever a custom schema is registered, so caches of derived documents can key on it."""
    return _generation


def custom_definition_name(group: str, version: str, kind: str) -> str:
    """CRD definitions are named like upstream's builder does: reversed group, version, kind."""
    rev = ".".join(reversed(group.split("."))) if group else ""
    return f"{rev}.{version}.{kind}" if rev else f"{version}.{kind}"


def _standard_field(field: str) -> dict:
    """kind/apiVersion/metadata exactly as built-in kinds describe them."""
    return copy.deepcopy(_builtin()["io.k8s.api.core.v1.ConfigMap"]["properties"][field])


def custom_object_schema(group: str, version: str, kind: str, openapi_schema: dict | None) -> dict:
    """The published schema of a custom kind: its own schema plus the standard kind/apiVersion/metadata."""
    if openapi_schema is None:
        out: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    else:
        out = copy.deepcopy(openapi_schema)
        out.setdefault("type", "object")
    props = dict(out.get("properties") or {})
    for field in ("apiVersion", "kind", "metadata"):
        props[field] = _standard_field(field)
    out["properties"] = dict(sorted(props.items()))
    out["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return out


def custom_list_schema(group: str, version: str, kind: str) -> dict:
    item_ref = REF_PREFIX + custom_definition_name(group, version, kind)
    return {
        "description": f"{kind}List is a list of {kind}",
        "properties": {
            "apiVersion": _standard_field("apiVersion"),
            "items": {"description": f"List of {kind.lower()}s.", "items": {"$ref": item_ref}, "type": "array"},
            "kind": _standard_field("kind"),
            "metadata": {"allOf": [{"$ref": REF_PREFIX + _LIST_META}],
                         "description": "Standard list metadata."},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": group, "kind": kind + "List", "version": version}],
    }


def register_custom(group: str, version: str, kind: str, openapi_schema: dict | None) -> str:
    """Publish a custom kind (e.g. from a CRD's ``openAPIV3Schema``); returns its definition name."""
    global _generation
    name = custom_definition_name(group, version, kind)
    _CUSTOM[name] = custom_object_schema(group, version, kind, openapi_schema)
    _CUSTOM[name + "List"] = custom_list_schema(group, version, kind)
    _CUSTOM_GVK[(group, version, kind)] = name
    _CUSTOM_GVK[(group, version, kind + "List")] = name + "List"
    _generation += 1
    return name


# --- lookups ------------------------------------------------------------------------------------------------


def definition_for_gvk(group: str, version: str, kind: str) -> str | None:
    """Definition name for a kind, e.g. ("", "v1", "Secret") -> ``io.k8s.api.core.v1.Secret``."""
    key = (group, version, kind)
    return _CUSTOM_GVK.get(key) or _builtin_gvk_index().get(key)


def has(name: str) -> bool:
    return name in _CUSTOM or name in _builtin()


def is_custom(name: str) -> bool:
    """True for registered custom (CRD-style) definitions, which the apiserver decodes as unstructured."""
    return name in _CUSTOM


def schema(name: str) -> dict:
    """The converted component schema (shared; do not mutate). Raises KeyError for unknown names."""
    found = _CUSTOM.get(name)
    return found if found is not None else _builtin()[name]


def ref_name(node: Any) -> str | None:
    """The definition a schema node points at (``$ref`` or a single-element ``allOf``), if any."""
    if not isinstance(node, dict):
        return None
    ref = node.get("$ref")
    if ref is None and len(node.get("allOf") or ()) == 1:
        ref = node["allOf"][0].get("$ref")
    return ref.removeprefix(REF_PREFIX) if isinstance(ref, str) else None


def resolve(node: Any) -> dict:
    """Follow references until a concrete schema; unknown references resolve to an empty (any) schema."""
    seen = 0
    while isinstance(node, dict) and (name := ref_name(node)) is not None and seen < 32:
        node = schema(name) if has(name) else {}
        seen += 1
    return node if isinstance(node, dict) else {}


def references(node: Any) -> set[str]:
    """Definition names referenced anywhere inside a schema node (not transitively)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            ref = cur.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                found.add(ref.removeprefix(REF_PREFIX))
            for key, value in cur.items():
                if key == "properties" and isinstance(value, dict):
                    stack.extend(value.values())
                elif key in _SCHEMA_KEYS or key in _SCHEMA_LIST_KEYS:
                    stack.append(value)
        elif isinstance(cur, list):
            stack.extend(cur)
    return found


def closure(names: set[str] | list[str]) -> set[str]:
    """All definitions reachable from ``names`` (including them)."""
    todo = [n for n in names if has(n)]
    done: set[str] = set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        todo.extend(r for r in references(schema(name)) if r not in done and has(r))
    return done
