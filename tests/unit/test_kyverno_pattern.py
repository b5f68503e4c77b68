"""Kyverno validate.pattern engine against the upstream-derived vectors in kyverno-pattern.json."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest

from labhelpers.sandbox.admission.kyverno import anchors, operators, wildcard
from labhelpers.sandbox.admission.kyverno.duration import parse_duration
from labhelpers.sandbox.admission.kyverno.pattern import match_pattern, validate_pattern, validate_rule
from labhelpers.sandbox.admission.kyverno.quantity import parse_quantity
from labhelpers.sandbox.admission.kyverno.results import RuleStatus
from labhelpers.sandbox.gofmt import format_float_e, format_value


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


VECTORS = json.loads((_shared() / "conformance" / "kyverno-pattern.json").read_text())


def _by_level(level: str) -> list:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["level"] == level]


@pytest.mark.parametrize("v", _by_level("wildcard"))
def test_wildcard_vector(v: dict) -> None:
    assert wildcard.match(v["pattern"], v["resource"]) is (v["kyverno_status"] == "pass")


@pytest.mark.parametrize("v", _by_level("value"))
def test_value_vector(v: dict) -> None:
    assert operators.validate_value(v["resource"], v["pattern"]) is (v["kyverno_status"] == "pass")


@pytest.mark.parametrize("v", _by_level("match"))
def test_match_vector(v: dict) -> None:
    result = validate_pattern(v["resource"], v["pattern"])
    assert result.status.value == v["kyverno_status"], result
    if v.get("expected_path") is not None:
        assert result.path == v["expected_path"]


@pytest.mark.parametrize("v", _by_level("rule"))
def test_rule_vector(v: dict) -> None:
    result = validate_rule(v["pattern"], v["resource"])
    assert result is not None
    assert result.name == v["pattern"]["name"]
    assert result.status.value == v["kyverno_status"], result
    if v.get("expected_message") is not None:
        assert result.message == v["expected_message"]
    if v.get("expected_message_contains"):
        assert v["expected_message_contains"] in result.message
    admitted = result.status in (RuleStatus.PASS, RuleStatus.SKIP)
    assert admitted is (v["expect"] == "pass")


def test_vector_levels_are_all_exercised() -> None:
    levels = {v["level"] for v in VECTORS}
    assert levels == {"wildcard", "value", "match", "rule"}


# --- behaviour beyond the vectors (from upstream unit tests and source) ---------------------------------


@pytest.mark.parametrize(("pattern", "text", "matched"), [
    ("", "", True),
    ("my-bucket?/abc*", "my-bucket1/abc", True),
    ("my-?-bucket/abc*", "my--bucket/abc", False),
    ("my-bucket/abc?efg", "my-bucket/abc/efg", True),
    ("my-bucket/mnop*??", "my-bucket/mnopqrst", True),
    ("my-bucket/mnop*?and?", "my-bucket/mnopqanda", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopqanda", False),
    ("a.c", "abc", False),  # '.' is literal
    ("[ab]", "a", False),  # no character classes
])
def test_wildcard_extra(pattern: str, text: str, matched: bool) -> None:
    assert wildcard.match(pattern, text) is matched


@pytest.mark.parametrize(("value", "pattern", "ok"), [
    (7.00001, ">7.000001", True),
    (7.00001, "!7", True),
    (6.000000001, "<6", False),  # floats reach quantities via %f: 6.000000
    ("1G", "<1Gi", True),
    ("0.2", "!.5", True),
    (3, "0-2", False),
    (2, "2!-2", False),
    ("n", "m", True),  # a bare suffix is the quantity zero on both sides
    ("1h30m", ">=90m", True),
    ("abc", ">1", False),  # ordering operators never apply to plain strings
    (None, "<5", True),
    (None, ">0", False),
    (True, "true", True),
    (1.5, "1.5E+00", True),
    ({"a": 1}, {"b": 2}, True),  # map patterns only check the type here
    ([1], [1], False),
])
def test_value_extra(value: object, pattern: object, ok: bool) -> None:
    assert operators.validate_value(value, pattern) is ok


def test_operator_parsing() -> None:
    assert operators.operator_from_pattern("f") is operators.Operator.EQUAL
    assert operators.operator_from_pattern("") is operators.Operator.EQUAL
    assert operators.operator_from_pattern("1!-10") is operators.Operator.NOT_IN_RANGE
    assert operators.operator_from_pattern("-10--8") is operators.Operator.IN_RANGE
    assert operators.operator_from_pattern("2023-01-01") is operators.Operator.EQUAL


@pytest.mark.parametrize(("text", "value"), [
    ("1Gi", Fraction(2**30)), ("200m", Fraction(1, 5)), (".5", Fraction(1, 2)), ("1e3", Fraction(1000)),
    ("1E", Fraction(10**18)), ("Mi", Fraction(0)), ("1.5Gi", Fraction(3 * 2**29)), ("-1.5", Fraction(-3, 2)),
    ("0.0000000001", Fraction(1, 10**9)), ("1e30", Fraction(10**30)), ("10E", Fraction(10**19)),
    ("123456789012345678901", Fraction(2**63 - 1)),  # the slow path caps at int64; the fast path does not
])
def test_quantity(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "gii", "12s", "1K", "1.2.3", " 1", "Pi"])
def test_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("12s", 12 * 10**9), ("1h30m", 5400 * 10**9), ("-1.5s", -1_500_000_000), ("1\u00b5s", 1000), (".5ms", 500_000),
])
def test_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "s", ".s", "1d", "-"])
def test_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_go_formatting() -> None:
    assert format_float_e(1.0) == "1E+00"
    assert format_float_e(1234.5) == "1.2345E+03"
    assert format_value(1e6) == "1e+06"
    assert format_value(100000.0) == "100000"
    assert format_value({"b": [1, None], "a": True}) == "map[a:true b:[1 <nil>]]"


def test_anchor_parsing() -> None:
    assert anchors.parse_anchor(" =(initContainers) ") == anchors.Anchor(anchors.AnchorType.EQUALITY, "initContainers")
    assert anchors.parse_anchor("<(image)").type is anchors.AnchorType.GLOBAL
    assert anchors.parse_anchor("()") is None
    assert anchors.parse_anchor("image") is None
    assert anchors.remove_anchors_from_path("/spec/=(volumes)/0/(name)/") == "/spec/volumes/0/name"


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_negation_anchor_fails_at_key_path() -> None:
    r = validate_pattern({"spec": {"hostPID": None}}, {"spec": {"X(hostPID)": "null"}})
    assert (r.status, r.path) == (RuleStatus.FAIL, "/spec/hostPID/")
    assert r.error == "negation anchor matched in resource: /spec/hostPID/ is not allowed"


def test_missing_conditional_key_elsewhere_turns_failure_into_error() -> None:
    # (image) is absent in every container, so a failure of a sibling is reported as an error without path.
    pattern = {"spec": {"^(volumes)": [{"name": "x"}], "containers": [{"image": "gcr.io/*"}]}}
    r = validate_pattern(POD, pattern)
    assert r.status is RuleStatus.ERROR
    rule = validate_rule({"name": "r", "validate": {"message": "m", "pattern": pattern}}, POD)
    assert rule.message == ("validation error: m. rule r execution error: resource value 'nginx' does not match "
                            "'gcr.io/*' at path /spec/containers/0/image/")


def test_add_anchor_is_a_literal_key_in_validate() -> None:
    r = validate_pattern(POD, {"spec": {"+(hostNetwork)": False}})
    assert r.status is RuleStatus.FAIL and r.path == "/spec/+(hostNetwork)/"
    assert anchors.check_validate_pattern_anchors({"spec": {"+(a)": 1}}) == ("//spec/+(a)", "unsupported anchor +(a)")
    assert anchors.check_validate_pattern_anchors({"spec": {"^(a)": []}})[1].startswith("existence anchor")


def test_array_length_mismatch_is_an_error() -> None:
    r = validate_pattern({"a": [[1]]}, {"a": [[1], [2]]})
    assert r.status is RuleStatus.ERROR and r.path == ""
    assert "array length mismatch" in r.error


def test_structure_mismatch_reports_map_path() -> None:
    r = validate_pattern(POD, {"spec": {"securityContext": {"runAsNonRoot": True}}})
    assert (r.status, r.path) == (RuleStatus.FAIL, "/spec/securityContext/")
    assert r.error.startswith("pattern and resource have different structures. Path: /spec/securityContext/. "
                              "Expected map[string]interface {}, found <nil>")


def test_integer_patterns_behave_as_float64() -> None:
    res = {"spec": {"replicas": "3.0"}}
    assert validate_pattern(res, {"spec": {"replicas": 3}}).status is RuleStatus.PASS
    assert match_pattern(res, {"spec": {"replicas": 3}}).status is RuleStatus.FAIL  # a Go int would not parse 3.0


def test_any_pattern_messages() -> None:
    rule = {"name": "r", "validate": {"anyPattern": [{"spec": {"hostNetwork": True}}, {"metadata": {"name": "p"}}]}}
    assert validate_rule(rule, POD).message == "validation rule 'r' anyPattern[1] passed."
    rule["validate"]["anyPattern"] = [{"spec": {"(hostNetwork)": True}}]
    skipped = validate_rule(rule, POD)
    assert skipped.status is RuleStatus.SKIP
    assert skipped.message == ("rule r[0] skipped: conditional anchor mismatch: conditional anchor key doesn't "
                               "exist in the resource")
    rule["validate"]["anyPattern"] = {"spec": {}}
    assert validate_rule(rule, POD).status is RuleStatus.ERROR


def test_references_resolve_within_the_pattern() -> None:
    res = {"spec": {"containers": [{"name": "n", "resources": {"requests": {"memory": "1024Mi"},
                                                                "limits": {"memory": "2048Mi"}}}]}}

    def pattern(ref: str) -> dict:
        return {"spec": {"containers": [{"name": "*", "resources": {"requests": {"memory": ref},
                                                                    "limits": {"memory": "2048Mi"}}}]}}

    assert validate_pattern(res, pattern("$(<=./../../limits/memory)")).status is RuleStatus.PASS
    assert validate_pattern(res, pattern("$(<=/spec/containers/0/resources/limits/memory)")).status is RuleStatus.PASS
    assert validate_pattern(res, pattern("$(>=./../../limits/memory)")).status is RuleStatus.FAIL
    broken = validate_pattern(res, pattern("$(./../somekey/memory)"))
    assert (broken.status, broken.path) == (RuleStatus.FAIL, "/spec/containers/0/resources/requests/memory/")
    rule = validate_rule({"name": "r", "validate": {"pattern": pattern("$(./../somekey/memory)")}}, res)
    assert rule.status is RuleStatus.ERROR
    assert rule.message.startswith("variable substitution failed: got nil resolved variable $(./../somekey/memory)")


def test_wildcard_label_keys_keep_anchors() -> None:
    res = {"metadata": {"labels": {"team.io/owner": "x"}}}
    assert validate_pattern(res, {"metadata": {"labels": {"=(team.io/*)": "y"}}}).status is RuleStatus.FAIL
    assert validate_pattern(res, {"metadata": {"labels": {"=(other/*)": "y"}}}).status is RuleStatus.PASS


def test_pattern_is_not_mutated() -> None:
    pattern = {"metadata": {"labels": {"app*": "?*"}}}
    validate_pattern({"metadata": {"labels": {"app": "a"}}}, pattern)
    assert pattern == {"metadata": {"labels": {"app*": "?*"}}}
