"""Autogen rules for pod controllers (``pkg/autogen/v1``), checked against Kyverno's chainsaw assertion."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from labhelpers.sandbox.admission.kyverno import autogen, policies


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


CHAINSAW = _shared() / "conformance/kyverno-peer-tests/kyverno-kyverno/test/conformance/chainsaw/autogen/restrict-image-registries"


def _subset(expected: Any, actual: Any) -> bool:
    """chainsaw's assertion: every expected field is present and equal (lists element-wise)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _subset(e, a) for e, a in zip(expected, actual, strict=True))
    return expected == actual


def _policy(rule: dict, annotations: dict | None = None) -> dict:
    p = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
         "metadata": {"name": "p", **({"annotations": annotations} if annotations else {})},
         "spec": {"rules": [rule]}}
    policies.apply_defaults(p)
    return p


POD_RULE = {"name": "check", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "m", "pattern": {"spec": {"containers": [{"image": "x/*"}]}}}}


def test_chainsaw_check_autogen_status() -> None:
    policy = yaml.safe_load((CHAINSAW / "policy.yaml").read_text())
    policy["metadata"]["name"] = "restrict-image-registries"
    policies.apply_defaults(policy)  # the CRD defaults the server stores (skipBackgroundRequests: true)
    expected = yaml.safe_load((CHAINSAW / "check-autogen.yaml").read_text())["status"]
    status = policies.status(policy, None, "2025-01-01T00:00:00Z")
    assert _subset(expected, status), status["autogen"]


def test_generated_rule_names_kinds_and_patterns() -> None:
    rules = autogen.generated_rules(_policy(copy.deepcopy(POD_RULE)))
    assert [r["name"] for r in rules] == ["autogen-check", "autogen-cronjob-check"]
    assert rules[0]["match"]["any"][0]["resources"]["kinds"] == [
        "apps/v1/DaemonSet", "apps/v1/Deployment", "batch/v1/Job", "apps/v1/ReplicaSet", "v1/ReplicationController",
        "apps/v1/StatefulSet"]
    assert rules[0]["validate"]["pattern"] == {"spec": {"template": POD_RULE["validate"]["pattern"]}}
    assert rules[1]["match"]["any"][0]["resources"]["kinds"] == ["batch/v1/CronJob"]
    assert rules[1]["validate"]["pattern"] == {"spec": {"jobTemplate": {"spec": {"template": POD_RULE["validate"]["pattern"]}}}}
    assert rules[0]["validate"]["message"] == "m"


def test_compute_rules_keeps_own_rules_first() -> None:
    names = [r["name"] for r in autogen.compute_rules(_policy(copy.deepcopy(POD_RULE)))]
    assert names == ["check", "autogen-check", "autogen-cronjob-check"]


@pytest.mark.parametrize(("annotation", "names"), [
    ("none", []),
    ("Deployment", ["autogen-check"]),
    ("Deployment,CronJob", ["autogen-check", "autogen-cronjob-check"]),
    ("CronJob", ["autogen-cronjob-check"]),
])
def test_annotation_selects_controllers(annotation: str, names: list[str]) -> None:
    rules = autogen.generated_rules(_policy(copy.deepcopy(POD_RULE), {autogen.ANNOTATION: annotation}))
    assert [r["name"] for r in rules] == names
    if annotation == "Deployment":
        assert rules[0]["match"]["any"][0]["resources"]["kinds"] == ["apps/v1/Deployment"]


def test_deprecated_match_form_and_gvk_kinds() -> None:
    rule = copy.deepcopy(POD_RULE)
    rule["match"] = {"resources": {"kinds": ["Pod"]}}
    rules = autogen.generated_rules(_policy(rule))
    assert rules[0]["match"]["resources"]["kinds"][1] == "apps/v1/Deployment"


@pytest.mark.parametrize("resources", [
    {"kinds": ["Pod"], "names": ["a"]},
    {"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}},
    {"kinds": ["Pod"], "annotations": {"a": "b"}},
    {"kinds": ["Pod", "Deployment"]},
    {"kinds": ["ConfigMap"]},
])
def test_no_autogen_when_upstream_refuses(resources: dict) -> None:
    rule = copy.deepcopy(POD_RULE)
    rule["match"] = {"any": [{"resources": resources}]}
    assert autogen.generated_rules(_policy(rule)) == []


def test_foreach_and_preconditions_are_rerooted() -> None:
    rule = {"name": "tags", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "preconditions": {"all": [{"key": "{{ request.object.metadata.name }}", "operator": "NotEquals",
                                       "value": "x"}]},
            "validate": {"message": "m", "foreach": [{"list": "request.object.spec.containers",
                                                      "pattern": {"image": "*:*"}}]}}
    gen = autogen.generated_rules(_policy(rule))
    assert gen[0]["validate"]["foreach"][0]["list"] == "request.object.spec.template.spec.containers"
    assert gen[0]["preconditions"]["all"][0]["key"] == "{{ request.object.spec.template.metadata.name }}"
    assert gen[1]["validate"]["foreach"][0]["list"] == "request.object.spec.jobTemplate.spec.template.spec.containers"


def test_cel_expressions_are_rerooted() -> None:
    rule = {"name": "c", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"cel": {"expressions": [{"expression": "object.spec.containers.all(c, has(c.image))"}]}}}
    gen = autogen.generated_rules(_policy(rule))
    assert gen[0]["validate"]["cel"]["expressions"][0]["expression"] == \
        "object.spec.template.spec.containers.all(c, has(c.image))"
    assert gen[1]["validate"]["cel"]["expressions"][0]["expression"] == \
        "object.spec.jobTemplate.spec.template.spec.containers.all(c, has(c.image))"


def test_long_names_are_cut_to_63() -> None:
    rule = copy.deepcopy(POD_RULE)
    rule["name"] = "r" * 60
    names = [r["name"] for r in autogen.generated_rules(_policy(rule))]
    assert names == [("autogen-" + "r" * 60)[:63], ("autogen-cronjob-" + "r" * 60)[:63]]
    assert all(len(n) == 63 for n in names)


def test_generate_rules_disable_autogen() -> None:
    p = _policy(copy.deepcopy(POD_RULE))
    p["spec"]["rules"].append({"name": "g", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
                               "generate": {"kind": "ConfigMap", "name": "x"}})
    assert autogen.generated_rules(p) == []


@pytest.mark.parametrize(("selector", "kind"), [
    ("Pod", "Pod"), ("v1/Pod", "Pod"), ("apps/v1/Deployment", "Deployment"), ("Pod/status", "Pod"),
    ("apps/v1/Deployment/scale", "Deployment"), ("*", "*"),
])
def test_kind_of(selector: str, kind: str) -> None:
    assert autogen.kind_of(selector) == kind
