"""``{{ }}`` variables and ``preconditions``/``deny`` conditions (``pkg/engine/variables``, ``.../operator``).

Variables are JMESPath expressions over the rule context: ``request`` (``operation``, ``object``,
``oldObject``, ``namespace``, ``name``, ``kind``, ``userInfo``, ``roles``, ``clusterRoles``, ``dryRun``),
``serviceAccountName``/``serviceAccountNamespace``, ``element``/``elementIndex`` inside ``foreach``, and
``images`` (``images.containers.<name>.registry`` ...). A string that is exactly one ``{{ x }}`` keeps the
type of ``x``; otherwise results are spliced into the text (objects as JSON). A variable that does not
resolve is an error (``variable substitution failed``), except in conditions where it becomes null, which is
how most policies write optional checks. Only a few of Kyverno's own JMESPath functions are provided.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath import exceptions as jp_exceptions
from jmespath import functions as jp_functions

from .duration import parse_duration
from .quantity import parse_quantity
from .wildcard import match as wildcard_match

_VARIABLE = re.compile(r"\{\{(?:\{[^{}]*\}|[^{}])*\}\}")
_ESCAPED = re.compile(r"\\(\{\{(?:\{[^{}]*\}|[^{}])*\}\})")


class SubstitutionError(ValueError):
    """A ``{{ }}`` that cannot be resolved; the message is Kyverno's."""


class _KyvernoFunctions(jp_functions.Functions):
    """A few of Kyverno's JMESPath extensions (``pkg/engine/jmespath/functions.go``)."""

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_trim_prefix(self, s: str, prefix: str) -> str:
        return s[len(prefix):] if s.startswith(prefix) else s

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_trim_suffix(self, s: str, suffix: str) -> str:
        return s[: -len(suffix)] if suffix and s.endswith(suffix) else s

    @jp_functions.signature({"types": ["string"]})
    def _func_to_upper(self, s: str) -> str:
        return s.upper()

    @jp_functions.signature({"types": ["string"]})
    def _func_to_lower(self, s: str) -> str:
        return s.lower()

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, s: str, sep: str) -> list[str]:
        return s.split(sep)

    @jp_functions.signature({"types": ["string"]}, {"types": ["string", "number"]})
    def _func_regex_match(self, pattern: str, s: Any) -> bool:
        return re.search(pattern, str(s)) is not None

    @jp_functions.signature({"types": ["string"]}, {"types": ["number"]})
    def _func_truncate(self, s: str, n: float) -> str:
        return s[: max(int(n), 0)]

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_equal_fold(self, a: str, b: str) -> bool:
        return a.casefold() == b.casefold()

    @jp_functions.signature({"types": ["string"]})
    def _func_base64_decode(self, s: str) -> str:
        return base64.b64decode(s).decode()

    @jp_functions.signature({"types": ["string"]})
    def _func_base64_encode(self, s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    @jp_functions.signature({"types": ["string"]})
    def _func_parse_json(self, s: str) -> Any:
        return json.loads(s)

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_pattern_match(self, pattern: str, s: str) -> bool:
        return wildcard_match(pattern, s)


_OPTIONS = jmespath.Options(custom_functions=_KyvernoFunctions())
_MISSING = object()


def query(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one JMESPath expression (a leading ``@`` stands for the foreach element)."""
    expr = expression.strip()
    if expr == "@":
        return context.get("element")
    if expr.startswith("@."):
        return jmespath.search(expr[2:], context.get("element"), options=_OPTIONS)
    return jmespath.search(expr, dict(context), options=_OPTIONS)


def _resolve(var: str, context: Mapping[str, Any], path: str, strict: bool) -> Any:
    inner = var[2:-2].strip()
    try:
        value = query(inner, context)
    except jp_exceptions.JMESPathError as e:
        raise SubstitutionError(f"failed to resolve {var} at path {path}: {e}") from None
    if value is None and strict:
        raise SubstitutionError(f"variable {var} not resolved at path {path}")
    return value


def _to_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return json.dumps(v, separators=(",", ":"))


def substitute(value: Any, context: Mapping[str, Any], *, path: str = "", strict: bool = True) -> Any:
    """Replace every ``{{ }}`` in strings and map keys of ``value`` (``\\{{ }}`` stays literal)."""
    if isinstance(value, dict):
        return {substitute(k, context, path=path, strict=strict): substitute(v, context, path=f"{path}/{k}", strict=strict)
                for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context, path=f"{path}/{i}", strict=strict) for i, v in enumerate(value)]
    if not isinstance(value, str) or "{{" not in value:
        return value
    found = [m for m in _VARIABLE.finditer(value) if m.start() == 0 or value[m.start() - 1] != "\\"]
    if len(found) == 1 and found[0].group(0) == value:
        return _resolve(value, context, path, strict)
    out, last = [], 0
    for m in found:
        out.append(value[last:m.start()])
        out.append(_to_text(_resolve(m.group(0), context, path, strict)))
        last = m.end()
    out.append(value[last:])
    return _ESCAPED.sub(lambda m: m.group(1), "".join(out))


def has_variables(value: Any) -> bool:
    return "{{" in json.dumps(value)


# --- the rule context -----------------------------------------------------------------------------------


def images_of(resource: Mapping[str, Any] | None) -> dict[str, Any]:
    """``images`` in the context: per container list, name -> registry/path/name/tag/digest/reference."""
    spec = (resource or {}).get("spec") or {}
    kind = (resource or {}).get("kind")
    if kind == "CronJob":
        spec = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    elif kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "ReplicationController"):
        spec = (spec.get("template") or {}).get("spec") or {}
    out: dict[str, Any] = {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        entries = {}
        for c in spec.get(key) or []:
            if isinstance(c, dict) and isinstance(c.get("image"), str):
                entries[c.get("name", "")] = image_info(c["image"])
        if entries:
            out[key] = entries
    return out


def image_info(image: str) -> dict[str, str]:
    """``GetImageInfo``: docker.io is added when the first part has no ``.``/``:`` and is not localhost; no
    ``library/``; tag ``latest`` by default."""
    ref, digest = (image.split("@", 1) + [""])[:2]
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, remainder = first, rest
    else:
        registry, remainder = "docker.io", ref
    tag = ""
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        remainder, tag = remainder[:colon], remainder[colon + 1:]
    if not tag and not digest:
        tag = "latest"
    path, _, name = remainder.rpartition("/")
    reference = f"{registry}/{remainder}" + (f"@{digest}" if digest else f":{tag}")
    info = {"registry": registry, "path": remainder, "name": name or remainder, "tag": tag, "reference": reference,
            "referenceWithTag": f"{registry}/{remainder}:{tag}" if tag else ""}
    if digest:
        info["digest"] = digest
    return info


def rule_context(resource: Mapping[str, Any] | None, *, operation: str = "", old: Mapping[str, Any] | None = None,
                 namespace: str = "", name: str = "", username: str = "", groups: tuple[str, ...] = (),
                 dry_run: bool = False, kind: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON context a rule sees (``enginecontext``)."""
    sa_name = sa_ns = ""
    if username.startswith("system:serviceaccount:"):
        parts = username.split(":")
        if len(parts) == 4:
            sa_ns, sa_name = parts[2], parts[3]
    obj = dict(resource) if resource else None
    request = {
        "operation": operation,
        "object": obj,
        "oldObject": dict(old) if old else None,
        "namespace": namespace,
        "name": name,
        "kind": dict(kind or {}),
        "userInfo": {"username": username, "groups": list(groups)},
        "roles": [],
        "clusterRoles": [],
        "dryRun": dry_run,
    }
    return {"request": request, "serviceAccountName": sa_name, "serviceAccountNamespace": sa_ns,
            "images": images_of(resource or old)}


# --- conditions -----------------------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        for parse in (parse_duration, parse_quantity):
            try:
                return float(parse(v))
            except (ValueError, TypeError):
                continue
    return None


def _equals(key: Any, value: Any) -> bool:
    if isinstance(key, str) and isinstance(value, str):
        return wildcard_match(value, key)
    if isinstance(key, bool) or isinstance(value, bool):
        return key == value
    k, v = _num(key), _num(value)
    if k is not None and v is not None and not (isinstance(key, str) and isinstance(value, str)):
        return k == v
    return key == value


def _contains(values: Any, item: Any) -> bool:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return False
    return any(_equals(item, v) for v in values)


def _compare(op: str, key: Any, value: Any) -> bool:
    k, v = _num(key), _num(value)
    if k is None or v is None:
        return False
    return {"GreaterThan": k > v, "GreaterThanOrEquals": k >= v, "LessThan": k < v,
            "LessThanOrEquals": k <= v}[op]


def evaluate_condition(key: Any, operator: str, value: Any) -> bool:
    """One condition after substitution (``variables.Evaluate``)."""
    op = operator
    keys = key if isinstance(key, list) else [key]
    if op in ("Equals", "Equal"):
        return _equals(key, value)
    if op in ("NotEquals", "NotEqual"):
        return not _equals(key, value)
    if op in ("AnyIn", "In"):
        return any(_contains(value, k) for k in keys) if op == "AnyIn" else all(_contains(value, k) for k in keys)
    if op == "AllIn":
        return all(_contains(value, k) for k in keys)
    if op in ("AnyNotIn", "NotIn"):
        if op == "NotIn":
            return not any(_contains(value, k) for k in keys)
        return any(not _contains(value, k) for k in keys)
    if op == "AllNotIn":
        return all(not _contains(value, k) for k in keys)
    if op in ("GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals"):
        return _compare(op, key, value)
    if op.startswith("Duration"):
        return _compare(op[len("Duration"):], key, value)
    raise SubstitutionError(f"unsupported condition operator {operator}")


def _check(c: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    key = substitute(c.get("key"), context, strict=False)
    value = substitute(c.get("value"), context, strict=False)
    return evaluate_condition(key, str(c.get("operator", "")), value)


def evaluate_conditions(conditions: Any, context: Mapping[str, Any]) -> bool:
    """``any``/``all`` blocks (both must hold when both are given) or the legacy list (all must hold)."""
    if conditions is None:
        return True
    if isinstance(conditions, list):
        return all(_check(c, context) for c in conditions)
    if isinstance(conditions, dict):
        ok = True
        if conditions.get("any"):
            ok = any(_check(c, context) for c in conditions["any"])
        if ok and conditions.get("all"):
            ok = all(_check(c, context) for c in conditions["all"])
        return ok
    raise SubstitutionError("invalid preconditions")
