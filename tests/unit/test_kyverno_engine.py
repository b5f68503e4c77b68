"""The Kyverno engine: rule evaluation, the admission decision and its texts, report contents."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from labhelpers.sandbox.admission.kyverno import engine, messages, policies, reports, variables
from labhelpers.sandbox.admission.kyverno.results import RuleStatus


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


SHARED = _shared()
EX = json.loads((SHARED / "conformance/kyverno-messages.json").read_text())["examples"]
CHAINSAW = SHARED / "conformance/kyverno-peer-tests/kyverno-kyverno/test/conformance/chainsaw"


def _policy(rules: list[dict], **spec: Any) -> dict:
    p = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
         "spec": {"rules": rules, **spec}}
    policies.apply_defaults(p)
    return p


def _pod(name: str = "pod", image: str = "nginx:1.25", ns: str = "default", **meta: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, **meta},
            "spec": {"containers": [{"name": name, "image": image}]}}


def _kubectl(decision: engine.Decision, source: str | None = None) -> str:
    return messages.kubectl_error_text(messages.admission_denial_message(decision.webhook, decision.message),
                                       source).rstrip("\n")


def _decide(policy: dict, obj: dict, op: str = "CREATE", old: dict | None = None) -> engine.Decision:
    resp = engine.evaluate(policy, engine.Request(op, obj, old))
    meta = obj["metadata"] if obj else old["metadata"]
    return engine.decide([resp], (obj or old)["kind"], meta.get("namespace", ""), meta["name"])


POD_MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}
LAB_IMAGES = "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"


def _lab_policy(action: str = "Enforce", message: str = "Images must come from approved registries.") -> dict:
    """The policy of kyverno-messages.json ``lab_enforce_kubectl_run``."""
    pattern = {"spec": {"containers": [{"image": LAB_IMAGES}], "=(initContainers)": [{"image": LAB_IMAGES}],
                        "=(ephemeralContainers)": [{"image": LAB_IMAGES}]}}
    p = _policy([{"name": "validate-registry", "match": POD_MATCH, "validate": {"message": message, "pattern": pattern}}],
                validationFailureAction=action)
    p["metadata"]["name"] = "restrict-registries"
    return p


# --- the admission texts ---------------------------------------------------------------------------------


def test_lab_enforce_kubectl_run_exact() -> None:
    d = _decide(_lab_policy(), _pod("bad-pod", "nginx:1.25"))
    assert not d.allowed and d.webhook == "validate.kyverno.svc-fail"
    assert _kubectl(d) == EX["lab_enforce_kubectl_run"]["stderr"]
    assert _kubectl(d, "pod.yaml") == EX["lab_enforce_kubectl_apply_file"]["stderr"]


def test_autogen_deployment_exact() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}}
    d = _decide(_lab_policy(), deploy)
    assert _kubectl(d, "deploy.yaml") == EX["autogen_deployment"]["stderr_kubectl_apply_-f_deploy.yaml"]


def test_seed_exercise_13_denial() -> None:
    policy = _policy([{"name": "validate-registry", "match": POD_MATCH, "validate": {
        "message": "Images must come from approved registries: docker.io/youruser, gcr.io/yourproject, or myregistry.com",
        "pattern": {"spec": {"containers": [{"image": LAB_IMAGES}]}}}}], validationFailureAction="Enforce", background=True)
    policy["metadata"]["name"] = "restrict-registries"
    assert _decide(policy, _pod("allowed-app", "docker.io/youruser/app:v1.0", "registry-lab")).allowed
    d = _decide(policy, _pod("disallowed-app", "docker.io/nginx:latest", "registry-lab"))
    assert _kubectl(d) == (
        'Error from server: admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'
        "resource Pod/registry-lab/disallowed-app was blocked due to the following policies \n\n"
        "restrict-registries:\n"
        "  validate-registry: 'validation error: Images must come from approved registries:\n"
        "    docker.io/youruser, gcr.io/yourproject, or myregistry.com. rule validate-registry\n"
        "    failed at path /spec/containers/0/image/'")


def test_audit_admits_without_warning() -> None:
    d = _decide(_lab_policy("Audit"), _pod("bad-pod"))
    assert d.allowed and d.warnings == []
    assert d.responses[0].results[0].status is RuleStatus.FAIL


def test_emit_warning_peer_test_line() -> None:
    policy = yaml.safe_load((CHAINSAW / "validate/clusterpolicy/standard/emit-warning/policy.yaml").read_text())
    pod = yaml.safe_load((CHAINSAW / "validate/clusterpolicy/standard/emit-warning/pod.yaml").read_text())
    pod["metadata"]["namespace"] = "default"
    policies.apply_defaults(policy)
    d = _decide(policy, pod)
    assert d.allowed
    assert ["Warning: " + w for w in d.warnings] == [EX["audit_warning_emitWarning_true"]["stderr"]]


def test_enforce_rule_in_audit_policy_blocks() -> None:
    p = _lab_policy("Audit")
    p["spec"]["rules"][0]["validate"]["failureAction"] = "Enforce"
    assert not _decide(p, _pod("bad-pod")).allowed


def test_errors_block_only_with_failure_policy_fail() -> None:
    # ^(volumes) is never found, so the image mismatch is an *error* (no path), not a failure
    rule = {"name": "r", "match": POD_MATCH,
            "validate": {"pattern": {"spec": {"^(volumes)": [{"name": "x"}], "containers": [{"image": "gcr.io/*"}]}}}}
    p = _policy([copy.deepcopy(rule)], validationFailureAction="Audit", failurePolicy="Fail")
    p["spec"]["rules"][0]["validate"]["failureAction"] = "Enforce"  # in the blocking path
    pod = _pod()
    assert engine.evaluate(p, engine.Request("CREATE", pod)).results[0].status is RuleStatus.ERROR
    d = _decide(p, pod)
    assert not d.allowed and d.webhook == "validate.kyverno.svc-fail"
    assert d.responses[0].results[0].message == ("validation error: rule r execution error: resource value "
                                                 "'nginx:1.25' does not match 'gcr.io/*' at path "
                                                 "/spec/containers/0/image/")
    assert "  r: 'validation error: rule r execution error: resource value ''nginx:1.25'' does\n" in d.message
    p["spec"]["failurePolicy"] = "Ignore"
    assert _decide(p, pod).allowed
    # and an audit-only policy never blocks, whatever its failurePolicy
    p = _policy([copy.deepcopy(rule)], validationFailureAction="Audit", failurePolicy="Fail")
    assert _decide(p, pod).allowed


def test_two_policies_are_sorted() -> None:
    latest = _policy([{"name": "validate-image-tag", "match": POD_MATCH, "validate": {
        "message": "Using a mutable image tag e.g. 'latest' is not allowed.",
        "foreach": [{"list": "request.object.spec.containers", "pattern": {"image": "!*:latest"}}]}}],
        validationFailureAction="Enforce")
    latest["metadata"]["name"] = "disallow-latest-tag"
    pod = _pod("bad-pod", "nginx:latest")
    req = engine.Request("CREATE", pod)
    d = engine.decide([engine.evaluate(_lab_policy(), req), engine.evaluate(latest, req)], "Pod", "default", "bad-pod")
    assert _kubectl(d) == EX["two_policies"]["stderr"]


# --- rule kinds ------------------------------------------------------------------------------------------


def _one(rule: dict, obj: dict, op: str = "CREATE", old: dict | None = None, **spec: Any):
    resp = engine.evaluate(_policy([rule], **spec), engine.Request(op, obj, old))
    assert len(resp.results) <= 1
    return resp.results[0] if resp.results else None


def test_deny_with_request_operation() -> None:
    rule = {"name": "no-delete", "match": POD_MATCH,
            "validate": {"message": "Deleting {{request.oldObject.metadata.name}} is not allowed",
                         "deny": {"conditions": {"any": [{"key": "{{request.operation}}", "operator": "Equals",
                                                          "value": "DELETE"}]}}}}
    assert _one(rule, _pod("p1")).status is RuleStatus.PASS
    r = _one(rule, None, "DELETE", old=_pod("p1"))
    assert (r.status, r.message) == (RuleStatus.FAIL, "Deleting p1 is not allowed")
    del rule["validate"]["message"]
    assert _one(rule, None, "DELETE", old=_pod("p1")).message == "validation error: rule no-delete failed"


def test_patterns_are_not_applied_to_deletes() -> None:
    rule = {"name": "r", "match": POD_MATCH, "validate": {"pattern": {"metadata": {"labels": {"a": "?*"}}}}}
    assert _one(rule, None, "DELETE", old=_pod()) is None


def test_preconditions_skip() -> None:
    rule = {"name": "r", "match": POD_MATCH,
            "preconditions": {"all": [{"key": "{{ request.object.metadata.labels.env || '' }}", "operator": "Equals",
                                       "value": "prod"}]},
            "validate": {"pattern": {"spec": {"containers": [{"image": "registry.prod/*"}]}}}}
    r = _one(rule, _pod())
    assert (r.status, r.message) == (RuleStatus.SKIP, "preconditions not met")
    assert _one(rule, _pod(labels={"env": "prod"})).status is RuleStatus.FAIL


@pytest.mark.parametrize(("op", "value", "key", "ok"), [
    ("AnyIn", ["CREATE", "UPDATE"], "CREATE", True),
    ("AnyNotIn", ["kube-*"], "default", True),
    ("AllIn", ["a", "b"], ["a", "b"], True),
    ("AllNotIn", ["a"], ["b", "a"], False),
    ("Equals", "nginx*", "nginx:1", True),
    ("NotEquals", 3, 3, False),
    ("GreaterThan", "1Gi", "2Gi", True),
    ("LessThanOrEquals", "30s", "1m", False),
    ("DurationGreaterThan", "1h", "90m", True),
])
def test_condition_operators(op: str, value: Any, key: Any, ok: bool) -> None:
    assert variables.evaluate_condition(key, op, value) is ok


def test_foreach_skip_and_pass() -> None:
    rule = {"name": "tags", "match": POD_MATCH, "validate": {
        "message": "An image tag is required.",
        "foreach": [{"list": "request.object.spec.initContainers", "pattern": {"image": "*:*"}}]}}
    r = _one(rule, _pod())
    assert (r.status, r.message) == (RuleStatus.SKIP, "rule skipped")
    rule["validate"]["foreach"][0]["list"] = "request.object.spec.containers"
    assert (_one(rule, _pod()).status, _one(rule, _pod()).message) == (RuleStatus.PASS, "rule passed")
    r = _one(rule, _pod(image="nginx"))
    assert r.message == ("validation failure: validation error: An image tag is required. rule tags failed at path "
                         "/image/")


def test_foreach_element_preconditions_and_deny() -> None:
    rule = {"name": "no-root", "match": POD_MATCH, "validate": {
        "message": "{{ element.name }} uses a forbidden image",
        "foreach": [{"list": "request.object.spec.containers",
                     "preconditions": {"all": [{"key": "{{ element.name }}", "operator": "NotEquals", "value": "skip"}]},
                     "deny": {"conditions": {"any": [{"key": "{{ element.image }}", "operator": "Equals",
                                                      "value": "evil/*"}]}}}]}}
    pod = _pod("ok", "evil/x")
    r = _one(rule, pod)
    assert (r.status, r.message) == (RuleStatus.FAIL, "validation failure: ok uses a forbidden image")
    pod["spec"]["containers"][0]["name"] = "skip"
    assert _one(rule, pod).status is RuleStatus.SKIP


def test_any_pattern() -> None:
    rule = {"name": "ns", "match": POD_MATCH, "validate": {
        "message": "A namespace is required", "anyPattern": [{"metadata": {"namespace": "prod"}},
                                                              {"metadata": {"namespace": "stage"}}]}}
    r = _one(rule, _pod(ns="dev"))
    assert r.message == ("validation error: A namespace is required. rule ns[0] failed at path /metadata/namespace/ "
                         "rule ns[1] failed at path /metadata/namespace/")
    assert _one(rule, _pod(ns="stage")).message == "validation rule 'ns' anyPattern[1] passed."


def test_variables_in_pattern_and_message() -> None:
    rule = {"name": "label-matches-name", "match": POD_MATCH, "validate": {
        "message": "label app must be {{request.object.metadata.name}}",
        "pattern": {"metadata": {"labels": {"app": "{{request.object.metadata.name}}"}}}}}
    assert _one(rule, _pod("web", labels={"app": "web"})).status is RuleStatus.PASS
    r = _one(rule, _pod("web", labels={"app": "db"}))
    assert r.message == "validation error: label app must be web. rule label-matches-name failed at path /metadata/labels/app/"
    rule["validate"]["pattern"] = {"metadata": {"labels": {"app": "{{request.object.metadata.nope}}"}}}
    r = _one(rule, _pod("web"))
    assert r.status is RuleStatus.ERROR and r.message.startswith("variable substitution failed: ")


def test_cel_rule() -> None:
    rule = {"name": "tags", "match": POD_MATCH, "validate": {"cel": {
        "variables": [{"name": "all", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"}],
        "expressions": [{"expression": "variables.all.all(c, !c.image.endsWith(':latest'))",
                         "message": "no latest"}]}}}
    assert _one(rule, _pod()).message == "Validation rule 'tags' passed."
    r = _one(rule, _pod(image="nginx:latest"))
    assert (r.status, r.message) == (RuleStatus.FAIL, "no latest")
    del rule["validate"]["cel"]["expressions"][0]["message"]
    assert _one(rule, _pod(image="nginx:latest")).message == \
        "failed expression: variables.all.all(c, !c.image.endsWith(':latest'))"


def test_apply_rules_one() -> None:
    rules = [{"name": f"r{i}", "match": POD_MATCH, "validate": {"pattern": {"metadata": {"name": "?*"}}}} for i in (1, 2)]
    resp = engine.evaluate(_policy(rules, applyRules="One"), engine.Request("CREATE", _pod()))
    assert [r.name for r in resp.results] == ["r1"]


def test_pre_existing_violations_are_allowed_on_update() -> None:
    policy = _lab_policy()
    old = _pod("bad-pod", "nginx:1.25")
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"touched": "yes"}
    resp = engine.evaluate(policy, engine.Request("UPDATE", new, old))
    assert (resp.results[0].status, resp.results[0].message) == (RuleStatus.SKIP, engine.PRE_EXISTING_VIOLATION)
    policy["spec"]["rules"][0]["validate"]["allowExistingViolations"] = False
    assert engine.evaluate(policy, engine.Request("UPDATE", new, old)).results[0].status is RuleStatus.FAIL
    good = _pod("bad-pod", "docker.io/youruser/app:v1")
    assert engine.evaluate(_lab_policy(), engine.Request("UPDATE", old, good)).results[0].status is RuleStatus.FAIL


def test_managed_pods_are_left_to_autogen_with_the_annotation() -> None:
    policy = _lab_policy()
    pod = _pod("web-abc", ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1"}])
    assert engine.evaluate(policy, engine.Request("CREATE", pod)).results  # no annotation: evaluated
    policy["metadata"]["annotations"] = {"pod-policies.kyverno.io/autogen-controllers": "Deployment,ReplicaSet"}
    assert engine.evaluate(policy, engine.Request("CREATE", pod)).results == []


# --- report contents (reports/admission/update chainsaw test) ---------------------------------------------


def _assert_subset(expected: Any, actual: Any) -> None:
    if isinstance(expected, dict):
        for k, v in expected.items():
            assert k in actual, (k, actual)
            _assert_subset(v, actual[k])
    elif isinstance(expected, list):
        assert len(expected) == len(actual), (expected, actual)
        for e, a in zip(expected, actual, strict=True):
            _assert_subset(e, a)
    else:
        assert expected == actual


@pytest.mark.parametrize(("deployment", "assertion"), [("deployment-fail.yaml", "report-fail-assert.yaml"),
                                                      ("deployment-pass.yaml", "report-pass-assert.yaml")])
def test_policy_report_matches_upstream_assertion(deployment: str, assertion: str) -> None:
    base = CHAINSAW / "reports/admission/update"
    policy = yaml.safe_load((base / "policy.yaml").read_text())
    policies.apply_defaults(policy)
    deploy = yaml.safe_load((base / deployment).read_text())
    deploy["metadata"].update(namespace="default", uid="1234")
    resp = engine.evaluate(policy, engine.Request("", deploy), admission=False)
    report = reports.build_report(deploy, [reports.report_result(policy, r, 0) for r in resp.results])
    _assert_subset(yaml.safe_load((base / assertion).read_text()), report)
    assert report["metadata"]["name"] == "1234"
    assert report["results"][0]["properties"] == {"process": "background scan"}


def test_unscored_failures_are_warnings() -> None:
    policy = _lab_policy("Audit")
    policy["metadata"]["annotations"] = {"policies.kyverno.io/scored": "false", "policies.kyverno.io/severity": "high",
                                         "policies.kyverno.io/category": "Supply Chain"}
    resp = engine.evaluate(policy, engine.Request("", _pod()), admission=False)
    r = reports.report_result(policy, resp.results[0], 1700000000.5)
    assert (r["result"], r["scored"], r["severity"], r["category"]) == ("warn", False, "high", "Supply Chain")
    assert r["timestamp"] == {"nanos": 0, "seconds": 1700000000}
    assert reports.summary([r]) == {"error": 0, "fail": 0, "pass": 0, "skip": 0, "warn": 1}


def test_cluster_scoped_resources_get_cluster_reports() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "uid": "u1"}}
    rep = reports.build_report(ns, [])
    assert rep["kind"] == "ClusterPolicyReport" and "namespace" not in rep["metadata"]


def test_image_info() -> None:
    assert variables.image_info("nginx")["reference"] == "docker.io/nginx:latest"
    assert variables.image_info("test/nginx")["reference"] == "docker.io/test/nginx:latest"
    info = variables.image_info("localhost:4443/test/nginx")
    assert (info["registry"], info["path"], info["name"], info["tag"]) == ("localhost:4443", "test/nginx", "nginx",
                                                                            "latest")
    assert variables.image_info("ghcr.io/a/b@sha256:abc")["reference"] == "ghcr.io/a/b@sha256:abc"
