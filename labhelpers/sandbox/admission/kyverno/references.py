"""``$(...)`` references inside a pattern (``variables.SubstituteAll``'s reference pass).

A reference names another place *in the same pattern*, relative (``$(./../../limits/memory)``) or absolute
(``$(/spec/containers/0/resources/limits/memory)``), optionally behind an operator: ``"$(<=./../../limits/memory)"``
next to ``limits.memory: 2048Mi`` becomes ``"<=2048Mi"``. Anchors are ignored when paths are compared.
``\\$(...)`` escapes a reference. Kyverno runs this before every ``pattern``/``anyPattern`` evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .anchors import go_path_clean, remove_anchors_from_path
from .operators import Operator, operator_from_pattern

REFERENCE_RE = re.compile(r"^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)")
_ESCAPED_RE = re.compile(r"\\\$\(.[^ ]*\)")


class UnresolvedReference(ValueError):
    """A reference that cannot be resolved; Kyverno reports the rule as ``error``."""


def substitute_references(pattern: Any, *, strict: bool = True) -> Any:
    """A copy of ``pattern`` with every ``$(...)`` resolved against ``pattern`` itself.

    With ``strict=False`` an unresolvable reference is left as literal text instead of raising
    :class:`UnresolvedReference` (useful when only the matching semantics are of interest).
    """
    return _walk(pattern, "", lambda s, path: _substitute(s, path, pattern, strict))


def _walk(node: Any, path: str, leaf: Callable[[str, str], str]) -> Any:
    """Apply ``leaf`` to string leaves and map keys, as jsonutils' ``OnlyForLeafsAndKeys`` traversal does
    (a key is visited with its parent's path)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            new_key = leaf(key, path)
            out[new_key] = _walk(value, f"{path}/{key}", leaf)
        return out
    if isinstance(node, list):
        return [_walk(v, f"{path}/{i}", leaf) for i, v in enumerate(node)]
    if isinstance(node, str):
        return leaf(node, path)
    return node


def _substitute(value: str, path: str, document: Any, strict: bool) -> str:
    for found in REFERENCE_RE.findall(value):
        initial = found.startswith("$(")
        reference = found if initial else found[1:]
        try:
            resolved = _resolve(document, reference, path)
        except UnresolvedReference as e:
            if strict:
                raise UnresolvedReference(f"failed to resolve {reference} at path {path}: {e}") from None
            continue
        if resolved is None:
            if strict:
                raise UnresolvedReference(f"got nil resolved variable {reference} at path {path}: <nil>")
            continue
        if not isinstance(resolved, str):
            if strict:
                raise UnresolvedReference(f"NotResolvedReferenceErr,reference {reference} not resolved at path {path}")
            continue
        value = value.replace(found, ("" if initial else found[0]) + resolved, 1)
    return _ESCAPED_RE.sub(lambda m: m[0][1:], value)


def _resolve(document: Any, reference: str, absolute_path: str) -> Any:
    """``resolveReference``: the referenced value, prefixed with the reference's operator if any."""
    path = reference.strip("$()")
    op = operator_from_pattern(path)
    path = path[len(op.value):]
    if not path:
        raise UnresolvedReference("expected path, found empty reference")
    if not path.startswith("/"):
        path = go_path_clean(f"{absolute_path}/{path}")
    value = _lookup(document, path)
    if op is Operator.EQUAL:
        return value
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None or not isinstance(value, int | float):
        raise UnresolvedReference(f"incorrect expression: operator {op.value} does not match with value "
                             f"{'<nil>' if value is None else value}")
    elif isinstance(value, int):
        text = str(value)
    else:
        text = f"{value:f}"
    return op.value + text


def _lookup(document: Any, path: str) -> Any:
    """``getValueFromReference``: the last leaf or key whose anchor-free path equals ``path``."""
    found: list[Any] = [None]

    def visit(s: str, p: str) -> str:
        if remove_anchors_from_path(p) == path:
            found[0] = s
        return s

    def walk(node: Any, p: str) -> None:
        if isinstance(node, dict):
            for key, v in node.items():
                visit(key, p)
                walk(v, f"{p}/{key}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{p}/{i}")
        elif remove_anchors_from_path(p) == path:
            found[0] = node

    walk(document, "")
    return found[0]
