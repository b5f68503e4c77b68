"""match/exclude semantics (``pkg/engine/utils/match.go``), kind selectors, resource filters, managed pods."""

from __future__ import annotations

import pytest

from labhelpers.sandbox.admission.kyverno.match import (
    GVK,
    RequestInfo,
    check_kind,
    check_selector,
    managed_pod_resource,
    matches,
    parse_kind_selector,
    resource_filtered,
)

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "team-a", "labels": {"app": "web", "tier": "front"},
                    "annotations": {"example.com/owner": "alice"}},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team-a"}}


def _rule(match: dict, exclude: dict | None = None) -> dict:
    r = {"name": "r", "match": match, "validate": {"pattern": {}}}
    if exclude is not None:
        r["exclude"] = exclude
    return r


def _any(**resources) -> dict:
    return {"any": [{"resources": resources}]}


@pytest.mark.parametrize(("selector", "parsed"), [
    ("Pod", ("*", "*", "Pod", "")),
    ("v1/Pod", ("*", "v1", "Pod", "")),
    ("apps/v1/Deployment", ("apps", "v1", "Deployment", "")),
    ("Pod/ephemeralcontainers", ("*", "*", "Pod", "ephemeralcontainers")),
    ("v1/Pod/status", ("*", "v1", "Pod", "status")),
    ("apps/v1/Deployment/scale", ("apps", "v1", "Deployment", "scale")),
    ("*/*", ("*", "*", "*", "*")),
    ("Pod.status", ("*", "*", "Pod", "status")),
    ("v1beta1/CronJob", ("*", "v1beta1", "CronJob", "")),
])
def test_parse_kind_selector(selector: str, parsed: tuple) -> None:
    assert parse_kind_selector(selector) == parsed


@pytest.mark.parametrize(("kinds", "gvk", "sub", "ok"), [
    (["Pod"], GVK("", "v1", "Pod"), "", True),
    (["Pod"], GVK("", "v1", "Pod"), "ephemeralcontainers", True),
    (["Pod"], GVK("", "v1", "Pod"), "status", True),  # no subresource in the selector: any subresource
    (["Pod/status"], GVK("", "v1", "Pod"), "", False),
    (["apps/v1/Deployment"], GVK("apps", "v1", "Deployment"), "", True),
    (["apps/v1/Deployment"], GVK("extensions", "v1beta1", "Deployment"), "", False),
    (["batch/*/CronJob"], GVK("batch", "v1", "CronJob"), "", True),
    (["Depl*"], GVK("apps", "v1", "Deployment"), "", True),
    (["Deployment"], GVK("apps", "v1", "ReplicaSet"), "", False),
    (["*"], GVK("", "v1", "ConfigMap"), "", True),
])
def test_check_kind(kinds: list[str], gvk: GVK, sub: str, ok: bool) -> None:
    assert check_kind(kinds, gvk, sub) is ok


def test_any_matches_one_filter() -> None:
    rule = _rule({"any": [{"resources": {"kinds": ["Deployment"]}}, {"resources": {"kinds": ["Pod"]}}]})
    assert matches(rule, POD) is None


def test_all_requires_every_filter() -> None:
    rule = _rule({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"namespaces": ["team-b"]}}]})
    assert matches(rule, POD) == "rule r not matched:\n 1. namespace does not match"


def test_no_match_reason_text() -> None:
    assert matches(_rule(_any(kinds=["Deployment"])), POD) == "rule r not matched:\n 1. no resource matched"


@pytest.mark.parametrize(("resources", "ok"), [
    ({"kinds": ["Pod"], "names": ["web-*"]}, True),
    ({"kinds": ["Pod"], "names": ["api-*", "db"]}, False),
    ({"kinds": ["Pod"], "name": "web-?"}, True),
    ({"kinds": ["Pod"], "namespaces": ["team-*"]}, True),
    ({"kinds": ["Pod"], "namespaces": ["prod"]}, False),
    ({"kinds": ["Pod"], "selector": {"matchLabels": {"app": "web"}}}, True),
    ({"kinds": ["Pod"], "selector": {"matchLabels": {"app": "api"}}}, False),
    ({"kinds": ["Pod"], "selector": {"matchLabels": {"ti*": "fr*"}}}, True),
    ({"kinds": ["Pod"], "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}},
     True),
    ({"kinds": ["Pod"], "selector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}}, False),
    ({"kinds": ["Pod"], "annotations": {"example.com/*": "ali*"}}, True),
    ({"kinds": ["Pod"], "annotations": {"example.com/owner": "bob"}}, False),
    ({"kinds": ["Pod"], "operations": ["UPDATE"]}, False),
    ({"kinds": ["Pod"], "operations": ["CREATE", "UPDATE"]}, True),
])
def test_resource_description_attributes(resources: dict, ok: bool) -> None:
    assert (matches(_rule(_any(**resources)), POD, operation="CREATE") is None) is ok


def test_namespace_selector_uses_namespace_labels() -> None:
    rule = _rule(_any(kinds=["Pod"], namespaceSelector={"matchLabels": {"env": "prod"}}))
    assert matches(rule, POD, namespace_labels={"env": "prod"}) is None
    assert matches(rule, POD, namespace_labels={"env": "dev"}) is not None


def test_namespace_kind_matches_on_its_own_name() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    assert matches(_rule(_any(kinds=["Namespace"], namespaces=["team-a"])), ns) is None


def test_exclude_any_and_all() -> None:
    rule = _rule(_any(kinds=["Pod"]), {"any": [{"resources": {"namespaces": ["team-a"]}}]})
    assert matches(rule, POD) == ("rule r not matched:\n 1. resource excluded since one of the criteria "
                                  "excluded it")
    rule = _rule(_any(kinds=["Pod"]), {"all": [{"resources": {"namespaces": ["team-a"]}},
                                               {"resources": {"names": ["other"]}}]})
    assert matches(rule, POD) is None
    rule["exclude"]["all"][1]["resources"]["names"] = ["web-1"]
    assert "combination of all criteria exclude it" in matches(rule, POD)


def test_subjects_are_matched_against_the_request_user() -> None:
    rule = _rule({"any": [{"resources": {"kinds": ["Pod"]},
                           "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": "ci"}]}]})
    assert matches(rule, POD, info=RequestInfo(username="system:serviceaccount:ci:builder")) is None
    assert matches(rule, POD, info=RequestInfo(username="lab-user")) is not None
    # background scans carry no user: user criteria in match are ignored there
    assert matches(rule, POD) is None


def test_namespaced_policy_only_sees_its_namespace() -> None:
    assert matches(_rule(_any(kinds=["Pod"])), POD, policy_namespace="team-b") == \
        "policy and resource namespaces mismatch"


def test_empty_match_never_matches() -> None:
    assert "match cannot be empty" in matches(_rule({}), POD)


def test_check_selector_none_matches_nothing() -> None:
    assert check_selector(None, {"a": "b"}) is False
    assert check_selector({}, {"a": "b"}) is True


@pytest.mark.parametrize(("gvk", "sub", "ns", "name", "filtered"), [
    (GVK("", "v1", "Event"), "", "default", "x", True),
    (GVK("", "v1", "Pod"), "", "kube-system", "x", True),
    (GVK("", "v1", "Pod"), "", "kyverno", "kyverno-abc", True),
    (GVK("apps", "v1", "ReplicaSet"), "", "default", "web-123", True),
    (GVK("", "v1", "Pod"), "binding", "default", "x", True),
    (GVK("", "v1", "Pod"), "", "default", "x", False),
    (GVK("apps", "v1", "Deployment"), "", "default", "x", False),
    (GVK("", "v1", "Namespace"), "", "", "kube-system", False),
])
def test_default_resource_filters(gvk: GVK, sub: str, ns: str, name: str, filtered: bool) -> None:
    assert resource_filtered(gvk, sub, ns, name) is filtered


def test_managed_pod_resource_needs_the_annotation() -> None:
    owned = {**POD, "metadata": {**POD["metadata"], "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1"}]}}
    plain = {"metadata": {"name": "p"}}
    annotated = {"metadata": {"name": "p", "annotations": {"pod-policies.kyverno.io/autogen-controllers": "Deployment"}}}
    none = {"metadata": {"name": "p", "annotations": {"pod-policies.kyverno.io/autogen-controllers": "none"}}}
    assert managed_pod_resource(plain, owned) is False
    assert managed_pod_resource(annotated, owned) is True
    assert managed_pod_resource(none, owned) is False
    assert managed_pod_resource(annotated, POD) is False
    by_sts = {**POD, "metadata": {**POD["metadata"], "ownerReferences": [{"kind": "StatefulSet", "name": "s"}]}}
    assert managed_pod_resource(annotated, by_sts) is False


def test_deployment_not_matched_by_pod_rule() -> None:
    assert matches(_rule(_any(kinds=["Pod"])), DEPLOY) is not None
