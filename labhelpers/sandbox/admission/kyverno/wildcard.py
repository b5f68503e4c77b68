"""Kyverno's wildcard matching (``ext/wildcard`` → ``IGLOU-EU/go-wildcard`` v1.0.3).

``*`` matches any run of characters (including none and including ``/``), ``?`` matches exactly one
character, everything else is literal and case-sensitive. There is no escaping and no character class,
and the whole value must match. Kyverno compares runes, which is what Python ``str`` indexing gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .anchors import parse_anchor


def match(pattern: str, name: str) -> bool:
    """``wildcard.Match(pattern, name)``."""
    if pattern == "":
        return name == ""
    if pattern == "*":
        return True
    # Greedy matching that backtracks to the last '*' only: equivalent to the recursive matcher, but linear.
    p = s = 0
    star = -1
    mark = 0
    while s < len(name):
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, s
            p += 1
        elif p < len(pattern) and (pattern[p] == "?" or pattern[p] == name[s]):
            p += 1
            s += 1
        elif star != -1:
            mark += 1
            p, s = star + 1, mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def contains_wildcard(s: str) -> bool:
    """``wildcard.ContainsWildcard``: whether ``s`` has a ``*`` or ``?``."""
    return "*" in s or "?" in s


def expand_in_metadata(pattern: dict[str, Any], resource: Mapping[str, Any]) -> dict[str, Any]:
    """``wildcards.ExpandInMetadata``: resolve wildcard keys of ``metadata.labels``/``annotations`` in place.

    Each pattern key with ``*``/``?`` becomes the first resource key it matches (anchors are kept); a key that
    matches nothing stays literal and so counts as missing. Kyverno rebuilds the whole labels/annotations map
    from its string-valued entries only, so non-string pattern values there disappear. Upstream walks a Go
    map, so with several matching keys the choice is random; here it is the resource's key order.
    """
    meta_key, pattern_meta = _tagged_value("metadata", pattern)
    if pattern_meta is None or not isinstance(pattern_meta, dict):
        return pattern
    resource_meta = resource.get("metadata")
    if resource_meta is None:
        return pattern
    for tag in ("labels", "annotations"):
        key, expanded = _expand_tag(tag, pattern_meta, resource_meta)
        if expanded is not None:
            pattern_meta[key] = expanded
    return pattern


def _tagged_value(tag: str, m: Mapping[str, Any]) -> tuple[str, Any]:
    """The entry stored under ``tag`` itself or under an anchor whose key is ``tag``."""
    for k, v in m.items():
        if k == tag:
            return k, v
        a = parse_anchor(k)
        if a is not None and a.key == tag:
            return k, v
    return "", None


def _string_map(tag: str, data: Any) -> tuple[str, dict[str, str] | None]:
    if not isinstance(data, Mapping):
        return "", None
    key, val = _tagged_value(tag, data)
    if val is None or not isinstance(val, Mapping):
        return "", None
    return key, {k: v for k, v in val.items() if isinstance(v, str)}


def _expand_tag(tag: str, pattern_meta: Mapping[str, Any], resource_meta: Any) -> tuple[str, dict[str, Any] | None]:
    key, pattern_data = _string_map(tag, pattern_meta)
    if pattern_data is None:
        return "", None
    _, resource_data = _string_map(tag, resource_meta)
    if resource_data is None:
        return "", None
    out: dict[str, Any] = {}
    for k, v in pattern_data.items():
        if not contains_wildcard(k):
            out[k] = v
            continue
        a = parse_anchor(k)
        wanted = a.key if a is not None else k
        found = next((rk for rk in resource_data if match(wanted, rk)), wanted)
        out[str(a.with_key(found)) if a is not None else found] = v
    return key, out
