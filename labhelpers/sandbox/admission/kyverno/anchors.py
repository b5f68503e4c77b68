"""Kyverno anchors (``pkg/engine/anchor``): parsing, the per-key handlers of the tree walk, anchor errors.

=============  ===============  ===========================================================================
key            anchor           in ``validate``
=============  ===============  ===========================================================================
``(k)``        conditional      value must match or the element is *skipped*; a missing key also skips
``<(k)``       global           present and not matching: the whole rule is skipped
``=(k)``       equality         checked only if present ("if present, then ...")
``^(k)``       existence        the list must have, for each pattern map, at least one matching element
``X(k)``       negation         the key must be absent (its value is ignored)
``+(k)``       add-if-absent    mutate only; validate treats it as a literal key named ``+(k)``
=============  ===============  ===========================================================================

The handlers receive the tree walk as a callback (``ElementValidator``) so this module does not import
:mod:`.pattern`; that mirrors how Kyverno wires ``validateResourceElement`` into ``anchor.Handle``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from ...gofmt import go_type


class AnchorType(StrEnum):
    CONDITION = ""
    GLOBAL = "<"
    NEGATION = "X"
    ADD_IF_NOT_PRESENT = "+"
    EQUALITY = "="
    EXISTENCE = "^"


@dataclass(frozen=True)
class Anchor:
    type: AnchorType
    key: str

    def __str__(self) -> str:
        return f"{self.type.value}({self.key})"

    def with_key(self, key: str) -> Anchor:
        return Anchor(self.type, key)


_ANCHOR_RE = re.compile(r"([+<=X^])?\((.+)\)")
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def parse_anchor(key: str) -> Anchor | None:
    """``anchor.Parse``: ``^([+<=X^])?\\((.+)\\)$`` after trimming whitespace; None for a plain key."""
    m = _ANCHOR_RE.fullmatch(key.strip(_GO_SPACE))
    if m is None:
        return None
    return Anchor(AnchorType(m[1] or ""), m[2])


# Anchors that split off from plain keys and are evaluated first (global anchors are not among them: they
# are evaluated with the plain keys, but ahead of them).
_PHASE_ONE = (AnchorType.CONDITION, AnchorType.EXISTENCE, AnchorType.EQUALITY, AnchorType.NEGATION)
_NESTED = (*_PHASE_ONE, AnchorType.GLOBAL)


def split_anchors(pattern: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``GetAnchorsResourcesFromMap``: (anchor entries, other entries incl. ``<()`` and ``+()``)."""
    anchors: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for k, v in pattern.items():
        a = parse_anchor(k)
        (anchors if a is not None and a.type in _PHASE_ONE else resources)[k] = v
    return anchors, resources


def has_nested_anchors(pattern: Any) -> bool:
    """Whether a pattern subtree uses any validate anchor (such keys are evaluated before plain keys)."""
    if isinstance(pattern, Mapping):
        if any((a := parse_anchor(k)) is not None and a.type in _NESTED for k in pattern):
            return True
        return any(has_nested_anchors(v) for v in pattern.values())
    if isinstance(pattern, list):
        return any(has_nested_anchors(v) for v in pattern)
    return False


def remove_anchors_from_path(path: str) -> str:
    """``RemoveAnchorsFromPath``: ``/spec/=(volumes)/0`` -> ``/spec/volumes/0`` (joined and cleaned)."""
    parts = path.split("/")
    if parts and parts[0] == "":
        parts = parts[1:]
    keys = [a.key if (a := parse_anchor(p)) is not None else p for p in parts]
    nonempty = [k for k in keys if k != ""]
    joined = go_path_clean("/".join(nonempty)) if nonempty else ""
    return "/" + joined if path.startswith("/") else joined


def go_path_clean(p: str) -> str:
    """Go ``path.Clean``: drop ``.`` and empty elements, resolve ``..`` (never above a leading ``/``)."""
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


# --- anchor errors (anchor/error.go) ---------------------------------------------------------------


class AnchorErrorKind(Enum):
    CONDITIONAL = "conditional anchor mismatch"
    GLOBAL = "global anchor mismatch"
    NEGATION = "negation anchor matched in resource"


@dataclass(frozen=True)
class MatchError:
    """An error of the tree walk: its Go ``Error()`` text, and the anchor kind when it is a typed anchor error.

    Untyped errors (plain ``fmt.Errorf`` and combined skip errors) are classified by substring, exactly
    like Kyverno's ``isError`` fallback, so a skip stays a skip however deep it was wrapped.
    """

    message: str
    kind: AnchorErrorKind | None = None


def anchor_error(kind: AnchorErrorKind, msg: str) -> MatchError:
    return MatchError(f"{kind.value}: {msg}", kind)


def _is(err: MatchError | None, kind: AnchorErrorKind) -> bool:
    if err is None:
        return False
    if err.kind is not None:
        return err.kind is kind
    return kind.value in err.message


def is_conditional_anchor_error(err: MatchError | None) -> bool:
    return _is(err, AnchorErrorKind.CONDITIONAL)


def is_global_anchor_error(err: MatchError | None) -> bool:
    return _is(err, AnchorErrorKind.GLOBAL)


def is_negation_anchor_error(err: MatchError | None) -> bool:
    return _is(err, AnchorErrorKind.NEGATION)


def is_skip_error(err: MatchError | None) -> bool:
    """Conditional or global anchor not satisfied: the element (or rule) does not apply."""
    return is_conditional_anchor_error(err) or is_global_anchor_error(err)


def combine_errors(errs: list[MatchError]) -> MatchError:
    """``multierr.Combine``: one error keeps its identity, several join with ``"; "``."""
    if len(errs) == 1:
        return errs[0]
    return MatchError("; ".join(e.message for e in errs))


# --- anchor map (anchor/anchormap.go) --------------------------------------------------------------


class AnchorMap:
    """Records, over one whole walk, whether each ``(k)``/``^(k)``/``X(k)`` key was ever seen in the resource.

    When a walk fails (not skipped) and some conditional or existence key was never found anywhere, Kyverno
    reports the rule as an *error* with no path instead of a failure.
    """

    def __init__(self) -> None:
        self._found: dict[str, bool] = {}

    def check_anchor_in_resource(self, pattern: Mapping[str, Any], resource: Any) -> None:
        for key in pattern:
            a = parse_anchor(key)
            if a is None or a.type not in (AnchorType.CONDITION, AnchorType.EXISTENCE, AnchorType.NEGATION):
                continue
            if self._found.get(key):
                continue
            self._found.setdefault(key, False)
            if _has_key(resource, a.key):
                self._found[key] = True

    def keys_are_missing(self) -> bool:
        for key, found in self._found.items():
            a = parse_anchor(key)
            if not found and not (a is not None and a.type is AnchorType.NEGATION):
                return True
        return False


def _has_key(resource: Any, key: str) -> bool:
    if isinstance(resource, Mapping):
        return key in resource
    if isinstance(resource, list):
        return any(_has_key(v, key) for v in resource)
    return False


# --- handlers (anchor/handlers.go) -----------------------------------------------------------------

Result = tuple[str, MatchError | None]
ElementValidator = Callable[[Any, Any, str, AnchorMap], Result]


def handle(key: str, pattern: Any, path: str, resource: Mapping[str, Any], validate: ElementValidator,
           amap: AnchorMap) -> Result:
    """``CreateElementHandler(key, pattern, path).Handle(...)``: evaluate one pattern entry against a map."""
    a = parse_anchor(key)
    if a is not None:
        if a.type is AnchorType.CONDITION:
            return _conditional(a, pattern, path, resource, validate, amap)
        if a.type is AnchorType.GLOBAL:
            return _global(a, pattern, path, resource, validate, amap)
        if a.type is AnchorType.EXISTENCE:
            return _existence(a, pattern, path, resource, validate, amap)
        if a.type is AnchorType.EQUALITY:
            return _equality(a, pattern, path, resource, validate, amap)
        if a.type is AnchorType.NEGATION:
            return _negation(a, path, resource)
    return _default(key, pattern, path, resource, validate, amap)


def _default(key: str, pattern: Any, path: str, resource: Mapping[str, Any], validate: ElementValidator,
             amap: AnchorMap) -> Result:
    if isinstance(pattern, str) and pattern == "*":
        if resource.get(key) is not None:
            return "", None
        return path, MatchError(f"{path}/{key} not found")
    return validate(resource.get(key), pattern, path + key + "/", amap)


def _conditional(a: Anchor, pattern: Any, path: str, resource: Mapping[str, Any], validate: ElementValidator,
                 amap: AnchorMap) -> Result:
    current = path + a.key + "/"
    if a.key not in resource:
        return current, anchor_error(AnchorErrorKind.CONDITIONAL, "conditional anchor key doesn't exist in the resource")
    p, err = validate(resource[a.key], pattern, current, amap)
    if err is not None:
        return p, anchor_error(AnchorErrorKind.CONDITIONAL, err.message)
    return "", None


def _global(a: Anchor, pattern: Any, path: str, resource: Mapping[str, Any], validate: ElementValidator,
            amap: AnchorMap) -> Result:
    if a.key not in resource:
        return "", None
    p, err = validate(resource[a.key], pattern, path + a.key + "/", amap)
    if err is not None:
        return p, anchor_error(AnchorErrorKind.GLOBAL, err.message)
    return "", None


def _equality(a: Anchor, pattern: Any, path: str, resource: Mapping[str, Any], validate: ElementValidator,
              amap: AnchorMap) -> Result:
    if a.key not in resource:
        return "", None
    p, err = validate(resource[a.key], pattern, path + a.key + "/", amap)
    return (p, err) if err is not None else ("", None)


def _negation(a: Anchor, path: str, resource: Mapping[str, Any]) -> Result:
    current = path + a.key + "/"
    if a.key in resource:
        return current, anchor_error(AnchorErrorKind.NEGATION, f"{current} is not allowed")
    return "", None


def _existence(a: Anchor, pattern: Any, path: str, resource: Mapping[str, Any], validate: ElementValidator,
               amap: AnchorMap) -> Result:
    if a.key not in resource:
        return "", None
    current = path + a.key + "/"
    value = resource[a.key]
    if not isinstance(value, list):
        return current, MatchError(
            f"invalid resource type {go_type(value)}: Existence ^ () anchor can be used only on list/array type resource"
        )
    if not isinstance(pattern, list):
        return current, MatchError(
            f"invalid pattern type {go_type(pattern)}: Pattern has to be of list to compare against resource"
        )
    for pattern_map in pattern:
        if not isinstance(pattern_map, dict):
            return current, MatchError(
                f"invalid pattern type {go_type(pattern)}: Pattern has to be of type map to compare against items in resource"
            )
        if not any(validate(elem, pattern_map, f"{current}{i}/", amap)[1] is None for i, elem in enumerate(value)):
            return current, MatchError(f"existence anchor validation failed at path {current}")
    return "", None


# --- policy admission check (pkg/policy/common ValidatePattern, anchor part) -------------------------

_VALIDATE_ANCHORS = (*_PHASE_ONE, AnchorType.GLOBAL)


def check_validate_pattern_anchors(pattern: Any, path: str = "/") -> tuple[str, str] | None:
    """The anchor checks Kyverno applies when a policy with ``validate.pattern`` is admitted.

    Returns ``(path, message)`` for the first offending key, else None: ``+()`` is ``unsupported anchor``,
    ``^()`` needs a non-empty list. (Upstream walks Go maps in random order; here keys are sorted.)
    """
    if isinstance(pattern, dict):
        for key in sorted(pattern):
            value = pattern[key]
            a = parse_anchor(key)
            if a is not None:
                if a.type not in _VALIDATE_ANCHORS:
                    return path + "/" + key, f"unsupported anchor {key}"
                if a.type is AnchorType.EXISTENCE:
                    if not isinstance(value, list):
                        return path + "/" + key, "existence anchor should have value of type list"
                    if not value:
                        return path + "/" + key, "existence anchor: should have at least one value"
            found = check_validate_pattern_anchors(value, path + "/" + key)
            if found:
                return found
    elif isinstance(pattern, list):
        for i, v in enumerate(pattern):
            found = check_validate_pattern_anchors(v, f"{path}{i}/")
            if found:
                return found
    return None
