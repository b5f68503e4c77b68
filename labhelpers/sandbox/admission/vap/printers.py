"""``kubectl get`` columns for the two kinds, as kube-apiserver's printers.go defines them.

``validatingadmissionpolicies``: NAME, VALIDATIONS, PARAMKIND, AGE; ``validatingadmissionpolicybindings``:
NAME, POLICYNAME, PARAMREF, AGE. :data:`PRINTERS` maps ``(group, kind)`` to ``(columns, row)`` in the shape of
:mod:`labhelpers.sandbox.apiserver.tables`' built-in printers, for the Table code to register.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ...apiserver.tables import _AGE, _NAME, age
from .policy import BINDING, GROUP, POLICY

Obj = Mapping[str, Any]


def _col(name: str, type_: str, description: str) -> dict:
    return {"name": name, "type": type_, "format": "", "description": description, "priority": 0}


POLICY_COLUMNS = [
    _NAME,
    _col("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
    _col("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
    _AGE,
]
BINDING_COLUMNS = [
    _NAME,
    _col("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
    _col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
    _AGE,
]


def policy_row(obj: Obj, now: datetime) -> list:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    pk = spec.get("paramKind")
    param_kind = f"{pk.get('apiVersion', '')}/{pk.get('kind', '')}" if isinstance(pk, dict) else "<unset>"
    return [meta.get("name", ""), len(spec.get("validations") or []), param_kind,
            age(meta.get("creationTimestamp"), now)]


def go_label_selector_string(sel: Obj) -> str:
    """The generated ``(*LabelSelector).String()`` (gogo-protobuf style) printers.go falls back to."""
    labels = sel.get("matchLabels") or {}
    ml = "map[string]string{" + "".join(f"{k}: {labels[k]}," for k in sorted(labels)) + "}"
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in sel.get("matchExpressions") or [])
    return f"&LabelSelector{{MatchLabels:{ml},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"


def binding_row(obj: Obj, now: datetime) -> list:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    param = "<unset>"
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        if ref.get("name"):
            param = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else f"*/{ref['name']}"
        elif isinstance(ref.get("selector"), dict):
            param = go_label_selector_string(ref["selector"])
    return [meta.get("name", ""), spec.get("policyName", ""), param, age(meta.get("creationTimestamp"), now)]


PRINTERS: dict[tuple[str, str], tuple[list[dict], Callable[[Obj, datetime], list]]] = {
    (GROUP, POLICY.kind): (POLICY_COLUMNS, policy_row),
    (GROUP, BINDING.kind): (BINDING_COLUMNS, binding_row),
}
