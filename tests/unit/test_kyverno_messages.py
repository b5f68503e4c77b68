"""Kyverno user-facing texts against kyverno-messages.json (the examples that are pure text assembly)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labhelpers.sandbox.admission.kyverno import messages as m
from labhelpers.sandbox.admission.kyverno.pattern import validate_rule
from labhelpers.sandbox.admission.kyverno.results import (
    UNCHANGED_ON_UPDATE,
    RuleResult,
    RuleStatus,
    should_block,
    unchanged_update_result,
)


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


DATA = json.loads((_shared() / "conformance" / "kyverno-messages.json").read_text())
EX = DATA["examples"]

LAB_MESSAGE = "Images must come from approved registries."
LAB_PATTERN = {"spec": {
    "containers": [{"image": "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"}],
    "=(initContainers)": [{"image": "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"}],
    "=(ephemeralContainers)": [{"image": "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"}],
}}
BAD_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-pod", "namespace": "default"},
           "spec": {"containers": [{"name": "bad-pod", "image": "nginx:1.25"}]}}
LATEST_MSG = "Using a mutable image tag e.g. 'latest' is not allowed."


def _kubectl(kyverno_message: str, webhook: str = "validate.kyverno.svc-fail", source: str | None = None) -> str:
    """kubectl's stderr line; kubectl appends a newline only when the message lacks one, so strip it."""
    return m.kubectl_error_text(m.admission_denial_message(webhook, kyverno_message), source).rstrip("\n")


def _lab_rule(message: str | None = LAB_MESSAGE, name: str = "validate-registry") -> RuleResult:
    validate: dict = {"pattern": LAB_PATTERN}
    if message:
        validate["message"] = message
    result = validate_rule({"name": name, "validate": validate}, BAD_POD)
    assert result is not None
    return result


def _foreach_latest() -> RuleResult:
    inner = m.rule_fail_message("validate-image-tag", "/image/", LATEST_MSG)
    return RuleResult("validate-image-tag", RuleStatus.FAIL, m.foreach_failure_message(inner))


def test_lab_rule_message() -> None:
    assert _lab_rule().message == EX["lab_enforce_kubectl_run"]["rule_message"]


def test_lab_kyverno_message_layout() -> None:
    msg = m.blocked_message("Pod", "default", "bad-pod", [("restrict-registries", [_lab_rule()])])
    assert msg.startswith("\n\nresource Pod/default/bad-pod was blocked due to the following policies \n\n")
    assert msg.endswith("'\n")  # yaml.Marshal's final newline
    assert msg.strip() == EX["lab_enforce_kubectl_run"]["kyverno_message"]


def test_lab_kubectl_run() -> None:
    msg = m.blocked_message("Pod", "default", "bad-pod", [("restrict-registries", [_lab_rule()])])
    assert _kubectl(msg) == EX["lab_enforce_kubectl_run"]["stderr"]


def test_lab_kubectl_apply_file() -> None:
    msg = m.blocked_message("Pod", "default", "bad-pod", [("restrict-registries", [_lab_rule()])])
    assert _kubectl(msg, source="pod.yaml") == EX["lab_enforce_kubectl_apply_file"]["stderr"]


def test_lab_without_message_field() -> None:
    rule = _lab_rule(message=None)
    assert rule.message == EX["lab_enforce_no_message_field"]["rule_message"]
    msg = m.blocked_message("Pod", "default", "bad-pod", [("restrict-registries", [rule])])
    assert _kubectl(msg) == EX["lab_enforce_no_message_field"]["stderr"]


def test_upstream_restrict_image_registries_badpod01() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "badpod01"},
           "spec": {"containers": [{"name": "k8s-nginx", "image": "registry.k8s.io/nginx:1.7.9"}]}}
    images = "eu.foo.io/* | bar.io/*"
    pattern = {"spec": {"=(ephemeralContainers)": [{"image": images}], "=(initContainers)": [{"image": images}],
                        "containers": [{"image": images}]}}
    rule = validate_rule({"name": "validate-registries",
                          "validate": {"message": "Unknown image registry.", "pattern": pattern}}, pod)
    msg = m.blocked_message("Pod", "default", "badpod01", [("restrict-image-registries", [rule])])
    assert _kubectl(msg, source="resource.yaml") == EX["kyverno_policies_restrict_image_registries_badpod01"]["stderr"]


def test_foreach_disallow_latest_tag() -> None:
    msg = m.blocked_message("Pod", "default", "vit-badpod01", [("disallow-latest-tag", [_foreach_latest()])])
    assert _kubectl(msg) == EX["foreach_disallow_latest_tag"]["stderr"]


def test_two_policies_sorted() -> None:
    policies = [("restrict-registries", [_lab_rule()]), ("disallow-latest-tag", [_foreach_latest()])]
    msg = m.blocked_message("Pod", "default", "bad-pod", policies)
    assert _kubectl(msg) == EX["two_policies"]["stderr"]


def test_autogen_deployment() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}}
    rule = validate_rule({"name": "autogen-validate-registry",
                          "validate": {"message": LAB_MESSAGE, "pattern": {"spec": {"template": LAB_PATTERN}}}}, deploy)
    msg = m.blocked_message("Deployment", "default", "web", [("restrict-registries", [rule])])
    assert _kubectl(msg, source="deploy.yaml") == EX["autogen_deployment"]["stderr_kubectl_apply_-f_deploy.yaml"]
    denial = m.admission_denial_message(m.webhook_name(), msg)
    assert f"error: failed to create deployment: {denial}".rstrip("\n") == \
        EX["autogen_deployment"]["stderr_kubectl_create_deployment"]


@pytest.mark.parametrize("key", ["verifyImages_unsigned_kyverno_ge_1_12"])
def test_verify_images_denial_uses_mutate_webhook(key: str) -> None:
    rule = RuleResult("verify-signature", RuleStatus.FAIL, EX[key]["rule_message"])
    msg = m.blocked_message("Pod", "default", "unsigned", [("check-image", [rule])])
    assert _kubectl(msg, webhook=m.webhook_name("mutate")) == EX[key]["stderr"]


def test_verify_images_validate_texts() -> None:
    spec = EX["verifyImages_required_or_verifyDigest_in_validate_webhook"]
    assert spec["webhook"] == m.webhook_name("validate", "Fail")


def test_audit_warning_line() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-pod"},
           "spec": {"containers": [{"name": "nginx", "image": "public.ecr.aws/docker/library/nginx:latest"}]}}
    rule = validate_rule({"name": "check-label-app", "validate": {"message": "The label 'app' is required.",
                                                                  "pattern": {"metadata": {"labels": {"app": "?*"}}}}}, pod)
    warnings = m.warning_messages([("check-label-app", [rule])])
    assert ["Warning: " + w for w in warnings] == [EX["audit_warning_emitWarning_true"]["stderr"]]


@pytest.mark.parametrize("case", EX["render_check"])
def test_render_check(case: dict) -> None:
    rule, raw = case["captured"].split(": ", 1)
    # The captured text is the YAML rendering of one rule message; rebuild that message and render it again.
    message = raw[1:-1].replace("\\n    ", " ").replace("''", "'")
    rendered = m.go_yaml_marshal({"p": {rule: message}}).split("\n", 1)[1].rstrip("\n")
    assert rendered == "  " + case["captured"].replace("\\n", "\n")


def test_webhook_names() -> None:
    assert [m.webhook_name("validate", p) for p in ("Fail", "Ignore")] == DATA["assembly"]["3_webhook_names"]["validate"]
    assert [m.webhook_name("mutate", p) for p in ("Fail", "Ignore")] == \
        DATA["assembly"]["3_webhook_names"]["mutate_and_verifyImages"]


def test_rule_message_templates() -> None:
    assert m.rule_fail_message("r", "/a/", "msg") == "validation error: msg. rule r failed at path /a/"
    assert m.rule_fail_message("r", "/a/", "msg.") == "validation error: msg. rule r failed at path /a/"
    assert m.rule_error_message("r", "boom") == "validation error: rule r execution error: boom"
    assert m.rule_error_message("r", "boom", "m") == "validation error: m. rule r execution error: boom"
    entries = [m.any_pattern_failed_entry("r", 0, "/p/", "x"), m.any_pattern_failed_entry("r", 1, "", "bad")]
    assert m.any_pattern_fail_message(entries, "M") == \
        "validation error: M. rule r[0] failed at path /p/ rule r[1] failed: bad"
    assert m.any_pattern_fail_message(entries, "M.").startswith("validation error: M. rule r[0]")
    assert m.any_pattern_fail_message(entries) == "validation error: rule r[0] failed at path /p/ rule r[1] failed: bad"
    assert m.deny_message("r") == "validation error: rule r failed"
    assert m.deny_message("r", "no", "cond") == "no; cond"
    assert m.resource_name("Namespace", "", "foo") == "Namespace//foo"


def test_blocked_message_skips_pass_and_skip_and_empty() -> None:
    results = [RuleResult("a", RuleStatus.PASS, "ok"), RuleResult("b", RuleStatus.SKIP, "skipped")]
    assert m.blocked_message("Pod", "ns", "n", [("p", results)]) == ""
    err = RuleResult("c", RuleStatus.ERROR, "validation error: rule c execution error: x")
    msg = m.blocked_message("Pod", "ns", "n", [("p", [*results, err])])
    assert msg.endswith("p:\n  c: 'validation error: rule c execution error: x'\n")
    assert m.warning_messages([("p", [*results, err])]) == ["policy p.c: validation error: rule c execution error: x"]


def test_yaml_natural_key_order_and_styles() -> None:
    out = m.go_yaml_marshal({"policy-10": {"r": "x"}, "policy-9": {"r": "true"}, "a": {"r": "line1\nline2"}})
    assert out == 'a:\n  r: |-\n    line1\n    line2\npolicy-9:\n  r: "true"\npolicy-10:\n  r: x\n'


def test_should_block() -> None:
    fail = [RuleResult("a", RuleStatus.FAIL, "")]
    error = [RuleResult("a", RuleStatus.ERROR, "")]
    assert should_block(fail, enforce=True)
    assert not should_block(fail, enforce=False)
    assert should_block(error, enforce=False)
    assert not should_block(error, enforce=True, failure_policy="Ignore")
    assert not should_block([RuleResult("a", RuleStatus.SKIP, "")], enforce=True)


def test_update_with_unchanged_violation_is_skipped() -> None:
    fail = _lab_rule()
    assert unchanged_update_result(fail, fail) == RuleResult(fail.name, RuleStatus.SKIP, UNCHANGED_ON_UPDATE)
    other = RuleResult(fail.name, RuleStatus.FAIL, fail.message.replace("/0/", "/1/"))
    assert unchanged_update_result(fail, other) is fail
    passed = RuleResult("r", RuleStatus.PASS, "validation rule 'r' passed.")
    assert unchanged_update_result(passed, passed) is passed
