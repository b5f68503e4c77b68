"""The ``validate.pattern`` tree walk (``validate.MatchPattern``) and ``pattern``/``anyPattern`` rule results.

Walk rules, as in ``pkg/engine/validate``:

* A map pattern needs a map (else "different structures" at the map's own path). Anchored keys are
  evaluated first in sorted order, then plain keys, with ``<()`` keys and keys whose subtree holds anchors
  moved to the front. The first real error wins, so paths are deterministic.
* A list pattern needs a list. If its first element is a map, that one map is applied to every resource
  element (elements whose conditional anchors fail are skipped; all skipped means the list is skipped). A
  scalar first element must match every resource element. Nested lists compare positionally.
* A scalar pattern is compared with :func:`.operators.validate_value`; against a list, every element must
  match. Missing keys reach scalar patterns as ``None``.

Paths end with ``/``: ``/spec/containers/0/image/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...gofmt import format_value, go_type
from . import messages
from .anchors import (
    AnchorMap,
    AnchorType,
    MatchError,
    Result,
    combine_errors,
    handle,
    has_nested_anchors,
    is_negation_anchor_error,
    is_skip_error,
    parse_anchor,
    split_anchors,
)
from .operators import validate_value
from .references import UnresolvedReference, substitute_references
from .results import RuleResult, RuleStatus
from .wildcard import expand_in_metadata


@dataclass(frozen=True)
class PatternResult:
    """Outcome of one pattern: ``pass``, ``fail`` (with ``path``), ``skip`` or ``error`` (no usable path).

    ``error`` is the Go error text of the walk (empty on pass); for a skip it is the rule's message.
    """

    status: RuleStatus
    path: str = ""
    error: str = ""

    def rule_result(self, rule: str, message: str = "") -> RuleResult:
        """The rule response Kyverno builds from this outcome (``validatePatterns``).

        ``message`` is the rule's ``validate.message`` with variables already substituted.
        """
        if self.status is RuleStatus.PASS:
            return RuleResult(rule, RuleStatus.PASS, messages.rule_pass_message(rule))
        if self.status is RuleStatus.SKIP:
            return RuleResult(rule, RuleStatus.SKIP, self.error)
        if self.status is RuleStatus.ERROR:
            return RuleResult(rule, RuleStatus.ERROR, messages.rule_error_message(rule, self.error, message))
        return RuleResult(rule, RuleStatus.FAIL, messages.rule_fail_message(rule, self.path, message))


def validate_pattern(resource: Any, pattern: Any) -> PatternResult:
    """Match ``resource`` against one ``validate.pattern`` the way a Kyverno rule does.

    ``pattern`` is taken as decoded from the policy: Kyverno reads policy JSON into ``interface{}``, so every
    number in it is a float64 (``3`` and ``3.0`` behave the same); resource integers stay integers.
    ``$(...)`` references are resolved first; one that cannot be resolved stays literal here (use
    :func:`validate_rule` for Kyverno's error result).
    """
    return match_pattern(resource, substitute_references(policy_json(pattern), strict=False))


def match_pattern(resource: Any, pattern: Any) -> PatternResult:
    """``validate.MatchPattern(resource, pattern)`` classified the way ``validatePatterns`` does.

    No reference substitution and no number conversion: ``pattern`` is used exactly as given (and its
    wildcard metadata keys may be rewritten in place, as Kyverno does on its per-rule copy).
    """
    amap = AnchorMap()
    path, err = _validate_element(resource, pattern, "/", amap)
    if err is None:
        return PatternResult(RuleStatus.PASS)
    if is_skip_error(err):
        return PatternResult(RuleStatus.SKIP, "", err.message)
    if not is_negation_anchor_error(err) and amap.keys_are_missing():
        return PatternResult(RuleStatus.ERROR, "", err.message)
    if path == "":
        return PatternResult(RuleStatus.ERROR, "", err.message)
    return PatternResult(RuleStatus.FAIL, path, err.message)


def validate_rule(rule: Mapping[str, Any], resource: Any, *, message: str | None = None) -> RuleResult | None:
    """Evaluate a rule's ``validate.pattern`` or ``validate.anyPattern`` against ``resource``.

    ``message`` overrides ``validate.message`` (pass it after substituting ``{{ }}`` variables; the patterns
    must already be free of ``{{ }}`` too). Returns None when the rule has neither (deny, foreach, cel and
    podSecurity rules are handled elsewhere).
    """
    name = rule["name"]
    validate = rule.get("validate") or {}
    if message is None:
        message = validate.get("message") or ""
    key = "pattern" if validate.get("pattern") is not None else "anyPattern"
    if validate.get(key) is None:
        return None
    try:
        pattern = substitute_references(policy_json(validate[key]))
    except UnresolvedReference as e:
        return RuleResult(name, RuleStatus.ERROR, f"variable substitution failed: {e}")
    if key == "pattern":
        return match_pattern(resource, pattern).rule_result(name, message)
    return _any_pattern(name, message, pattern, resource)


def _any_pattern(name: str, message: str, any_pattern: Any, resource: Any) -> RuleResult:
    if not isinstance(any_pattern, list):
        return RuleResult(name, RuleStatus.ERROR, "failed to deserialize anyPattern, expected type array: json: "
                          f"cannot unmarshal {_json_kind(any_pattern)} into Go value of type []interface {{}}")
    failed: list[str] = []
    skipped: list[str] = []
    for i, pattern in enumerate(any_pattern):
        r = match_pattern(resource, pattern)
        if r.status is RuleStatus.PASS:
            return RuleResult(name, RuleStatus.PASS, messages.any_pattern_pass_message(name, i))
        if r.status is RuleStatus.SKIP:
            skipped.append(messages.any_pattern_skipped_entry(name, i, r.error))
        else:
            failed.append(messages.any_pattern_failed_entry(name, i, r.path, r.error))
    if failed:
        return RuleResult(name, RuleStatus.FAIL, messages.any_pattern_fail_message(failed, message))
    if skipped:
        return RuleResult(name, RuleStatus.SKIP, messages.any_pattern_skip_message(skipped))
    return RuleResult(name, RuleStatus.PASS, message)


def _json_kind(v: Any) -> str:
    if isinstance(v, dict):
        return "object"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    return "number"


def policy_json(v: Any) -> Any:
    """A private copy of a pattern with numbers as float64, as Kyverno decodes policy JSON (the walk may
    rewrite wildcard metadata keys in the copy)."""
    if isinstance(v, dict):
        return {k: policy_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [policy_json(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


_SCALARS = (str, float, int, bool, type(None))


def _validate_element(resource: Any, pattern: Any, path: str, amap: AnchorMap) -> Result:
    """``validateResourceElement``: dispatch on the pattern's type."""
    if isinstance(pattern, dict):
        if not isinstance(resource, dict):
            return path, MatchError(f"pattern and resource have different structures. Path: {path}. "
                                    f"Expected {go_type(pattern)}, found {go_type(resource)}")
        amap.check_anchor_in_resource(pattern, resource)
        return _validate_map(resource, pattern, path, amap)
    if isinstance(pattern, list):
        if not isinstance(resource, list):
            return path, MatchError(f"validation rule failed at path {path}, "
                                    "resource does not satisfy the expected overlay pattern")
        return _validate_array(resource, pattern, path, amap)
    if isinstance(pattern, _SCALARS):
        values = resource if isinstance(resource, list) else [resource]
        if not all(validate_value(v, pattern) for v in values):
            return path, MatchError(f"resource value '{format_value(resource)}' does not match "
                                    f"'{format_value(pattern)}' at path {path}")
        return "", None
    return path, MatchError(f"failed at '{path}', pattern contains unknown type")


def _validate_map(resource: dict[str, Any], pattern: dict[str, Any], path: str, amap: AnchorMap) -> Result:
    pattern = expand_in_metadata(pattern, resource)
    anchors, plain = split_anchors(pattern)

    # Phase 1: anchors. Since Kyverno 1.13 a skip (conditional/global) is collected and evaluation goes on;
    # a later real failure is dropped when a conditional anchor of this very map already skipped.
    skips: list[MatchError] = []
    applied = 0
    own_skip = False
    for key in sorted(anchors):
        p, err = handle(key, anchors[key], path, resource, _validate_element, amap)
        if err is None:
            applied += 1
            continue
        if is_skip_error(err):
            skips.append(err)
            a = parse_anchor(key)
            own_skip = own_skip or (a is not None and a.type is AnchorType.CONDITION)
            continue
        if own_skip:
            continue
        return p, err
    if skips and (applied == 0 or own_skip):
        return path, combine_errors(skips)

    # Phase 2: everything else, first error wins.
    for key in _resource_key_order(plain):
        p, err = handle(key, plain[key], path, resource, _validate_element, amap)
        if err is not None:
            return p, err
    return "", None


def _resource_key_order(plain: Mapping[str, Any]) -> list[str]:
    """``getSortedNestedAnchorResource``: sorted keys, with ``<()`` keys and anchored subtrees pushed to the
    front one by one (so the front part ends up in reverse order)."""
    front: list[str] = []
    back: list[str] = []
    for key in sorted(plain):
        a = parse_anchor(key)
        if (a is not None and a.type is AnchorType.GLOBAL) or has_nested_anchors(plain[key]):
            front.insert(0, key)
        else:
            back.append(key)
    return front + back


def _validate_array(resource: list[Any], pattern: list[Any], path: str, amap: AnchorMap) -> Result:
    if not pattern:
        return path, MatchError("pattern Array empty")
    first = pattern[0]
    if isinstance(first, dict):
        return _validate_array_of_maps(resource, first, path, amap)
    if isinstance(first, _SCALARS):
        return _validate_element(resource, first, path, amap)
    if len(resource) < len(pattern):
        return "", MatchError("validate Array failed, array length mismatch, resource Array len is "
                              f"{len(resource)} and pattern Array len is {len(pattern)}")
    applied = 0
    skips: list[MatchError] = []
    for i, element_pattern in enumerate(pattern):
        p, err = _validate_element(resource[i], element_pattern, f"{path}{i}/", amap)
        if err is None:
            applied += 1
        elif is_skip_error(err):
            skips.append(err)
        else:
            return p, err
    if applied == 0 and skips:
        return path, combine_errors(skips)
    return "", None


def _validate_array_of_maps(resource: list[Any], pattern: dict[str, Any], path: str, amap: AnchorMap) -> Result:
    """One map pattern applied to every element of the resource list."""
    applied = 0
    skips: list[MatchError] = []
    for i, element in enumerate(resource):
        p, err = _validate_element(element, pattern, f"{path}{i}/", amap)
        if err is None:
            applied += 1
        elif is_skip_error(err):
            skips.append(err)
        else:
            return p, err
    if applied == 0 and skips:
        return path, combine_errors(skips)
    return "", None
