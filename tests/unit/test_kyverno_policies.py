"""ClusterPolicy/Policy handling: CRD defaults and schema, Kyverno's policy webhook, failure actions, status."""

from __future__ import annotations

import copy

import pytest

from labhelpers.sandbox.admission.kyverno import policies
from labhelpers.sandbox.admission.kyverno.plugin import kind_exists

# The seed's Exercise 13 policy, verbatim.
SEED = {
    "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "restrict-registries"},
    "spec": {"validationFailureAction": "Enforce", "background": True, "rules": [{
        "name": "validate-registry",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "Images must come from approved registries: docker.io/youruser, gcr.io/yourproject, "
                                "or myregistry.com",
                     "pattern": {"spec": {"containers": [
                         {"image": "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"}]}}}}]},
}


def _seed() -> dict:
    return copy.deepcopy(SEED)


def _validate(p: dict) -> list[str]:
    return policies.validate_policy(p, kind_exists=kind_exists, cluster_kinds={"Namespace", "v1/Namespace"})


def _rejected(p: dict) -> str:
    with pytest.raises(policies.PolicyValidationError) as e:
        _validate(p)
    return str(e.value)


def test_seed_policy_is_accepted_without_warnings() -> None:
    p = _seed()
    policies.apply_defaults(p)
    assert policies.schema_errors(p) == []
    assert _validate(p) == []


def test_crd_defaults() -> None:
    p = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "x"},
         "spec": {"rules": [{"name": "r", "match": {}, "validate": {"pattern": {}}},
                            {"name": "v", "match": {}, "verifyImages": [{"imageReferences": ["*"]}]}]}}
    policies.apply_defaults(p)
    s = p["spec"]
    assert (s["admission"], s["background"], s["emitWarning"], s["validationFailureAction"]) == (True, True, False, "Audit")
    assert s["rules"][0]["skipBackgroundRequests"] is True
    assert s["rules"][0]["validate"]["allowExistingViolations"] is True
    assert {k: s["rules"][1]["verifyImages"][0][k] for k in ("mutateDigest", "verifyDigest", "required", "useCache")} \
        == {"mutateDigest": True, "verifyDigest": True, "required": True, "useCache": True}


def test_defaults_do_not_override() -> None:
    p = _seed()
    p["spec"]["background"] = False
    policies.apply_defaults(p)
    assert p["spec"]["background"] is False and p["spec"]["validationFailureAction"] == "Enforce"


@pytest.mark.parametrize(("mutate", "text"), [
    (lambda s: s.update(validationFailureAction="Block"),
     'spec.validationFailureAction: Unsupported value: "Block": supported values: "audit", "enforce", "Audit", '
     '"Enforce"'),
    (lambda s: s["rules"][0].pop("match"), "spec.rules[0].match: Required value"),
    (lambda s: s["rules"][0].pop("name"), "spec.rules[0].name: Required value"),
    (lambda s: s["rules"][0].update(name="n" * 64), "spec.rules[0].name: Too long: may not be more than 63 bytes"),
    (lambda s: s["rules"][0]["validate"].update(failureAction="enforce"),
     'spec.rules[0].validate.failureAction: Unsupported value: "enforce": supported values: "Audit", "Enforce"'),
    (lambda s: s.update(failurePolicy="Never"),
     'spec.failurePolicy: Unsupported value: "Never": supported values: "Ignore", "Fail"'),
    (lambda s: s.update(background="yes"),
     'spec.background: Invalid value: "string": spec.background in body must be of type boolean: "string"'),
])
def test_schema_errors(mutate, text: str) -> None:
    p = _seed()
    mutate(p["spec"])
    assert [str(e) for e in policies.schema_errors(p)] == [text]


def test_legacy_lowercase_action_is_accepted_with_a_warning() -> None:
    p = _seed()
    p["spec"]["validationFailureAction"] = "enforce"
    assert policies.schema_errors(p) == []
    assert _validate(p) == [policies.DEPRECATED_ACTION_WARNING]


def test_unsupported_anchor() -> None:
    p = _seed()
    p["spec"]["rules"][0]["validate"]["pattern"] = {"spec": {"containers": [{"+(image)": "x"}]}}
    assert _rejected(p) == "path: spec.rules[0].validate.pattern.//spec/containers0//+(image).: unsupported anchor +(image)"


def test_existence_anchor_needs_a_list() -> None:
    p = _seed()
    p["spec"]["rules"][0]["validate"]["pattern"] = {"spec": {"^(containers)": {"image": "x"}}}
    assert _rejected(p).endswith(".: existence anchor should have value of type list")


def test_empty_match_is_refused() -> None:
    p = _seed()
    p["spec"]["rules"][0]["match"] = {}
    assert _rejected(p) == "path: spec.rules[0].match.resources.: match resources not specified"


def test_match_without_kinds() -> None:
    p = _seed()
    p["spec"]["rules"][0]["match"] = {"any": [{"resources": {"namespaces": ["x"]}}]}
    assert _rejected(p) == "policy can only deal with the metadata field of the resource if the rule does not match any kind"


def test_any_and_all_together() -> None:
    p = _seed()
    p["spec"]["rules"][0]["match"]["all"] = [{"resources": {"kinds": ["Pod"]}}]
    assert _rejected(p) == "spec.rules[0].match: Invalid value: v1.MatchResources{...}: Can't specify any and all together"


def test_unknown_kind() -> None:
    p = _seed()
    p["spec"]["rules"][0]["match"]["any"][0]["resources"]["kinds"] = ["Podd"]
    assert _rejected(p) == ("path: spec.rules[0].match.any[0].kinds: the kind defined in the all match resource is "
                            "invalid: unable to convert GVK to GVR for kinds Podd")


def test_wildcard_kind_needs_background_false() -> None:
    p = _seed()
    p["spec"]["rules"][0]["match"]["any"][0]["resources"]["kinds"] = ["*"]
    assert "wildcard policy not allowed in background mode" in _rejected(p)


@pytest.mark.parametrize(("validate", "text"), [
    ({"message": "m"}, "path: spec.rules[0].validate..: one of pattern, anyPattern, deny, foreach, cel must be specified"),
    ({"pattern": {"a": "b"}, "deny": {}},
     "path: spec.rules[0].validate..: only one of pattern, anyPattern, deny, foreach, cel can be specified"),
    ({"foreach": [{"pattern": {"image": "x"}}]}, "path: spec.rules[0].validate..: foreach.list is required"),
])
def test_validate_element_checks(validate: dict, text: str) -> None:
    p = _seed()
    p["spec"]["rules"][0]["validate"] = validate
    assert _rejected(p) == text


def test_duplicate_rule_names_and_missing_operation() -> None:
    p = _seed()
    p["spec"]["rules"].append(copy.deepcopy(p["spec"]["rules"][0]))
    assert _rejected(p) == "spec.rules[1].name: Invalid value: v1.Rule{...}: Duplicate rule name: 'validate-registry'"
    p = _seed()
    del p["spec"]["rules"][0]["validate"]
    assert "No operation defined in the rule 'validate-registry'" in _rejected(p)


def test_webhook_timeout_range() -> None:
    p = _seed()
    p["spec"]["webhookTimeoutSeconds"] = 30
    assert _validate(p) == []
    p["spec"]["webhookTimeoutSeconds"] = 31
    assert _rejected(p) == "spec.webhookTimeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"


def test_admission_and_background_cannot_both_be_off() -> None:
    p = _seed()
    p["spec"].update(admission=False, background=False)
    assert _rejected(p) == "disabling both admission and background processing is not allowed"


def test_user_variables_need_background_false() -> None:
    p = _seed()
    p["spec"]["rules"][0]["validate"]["message"] = "{{ request.userInfo.username }} may not"
    assert _rejected(p) == ("only select variables are allowed in background mode. Set spec.background=false to "
                            "disable background mode for this policy rule: variable {{ request.userInfo.username }} "
                            "is not allowed ")
    p["spec"]["background"] = False
    assert _validate(p) == []


def test_request_operation_values_are_checked() -> None:
    p = _seed()
    p["spec"]["rules"][0]["preconditions"] = {"any": [{"key": "{{request.operation}}", "operator": "Equals",
                                                       "value": "CREATED"}]}
    assert _rejected(p) == ("path: spec.rules[0].validate.preconditions.any[0].value: CREATED: unknown value 'CREATED' "
                            "found under the 'value' field. Only the following values are allowed: [CREATE, UPDATE, "
                            "DELETE, CONNECT]")


def test_namespaced_policy_restrictions() -> None:
    p = _seed()
    p["kind"] = "Policy"
    p["metadata"]["namespace"] = "team"
    p["spec"]["rules"][0]["match"]["any"][0]["resources"]["namespaces"] = ["other"]
    assert _rejected(p) == ("spec.rules[0].match.any[0].namespaces: Forbidden: Filtering namespaces not allowed in "
                            "namespaced policies")


def test_verify_images_mutate_digest_in_audit() -> None:
    p = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "v"},
         "spec": {"rules": [{"name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                             "verifyImages": [{"imageReferences": ["docker.io/youruser/*"]}]}]}}
    policies.apply_defaults(p)  # Audit by default, mutateDigest true by default
    assert _rejected(p) == ("spec.rules[0].verifyImages[0].mutateDigest: Invalid value: true: mutateDigest must be set "
                            "to false for \u2018Audit\u2019 failure action")
    p["spec"]["validationFailureAction"] = "Enforce"
    assert _validate(p) == []


# --- failure actions ---------------------------------------------------------------------------------


def _policy_with(action: str | None = None, rule_action: str | None = None, overrides: list | None = None) -> dict:
    p = _seed()
    p["spec"].pop("validationFailureAction")
    if action:
        p["spec"]["validationFailureAction"] = action
    if rule_action:
        p["spec"]["rules"][0]["validate"]["failureAction"] = rule_action
    if overrides:
        p["spec"]["validationFailureActionOverrides"] = overrides
    return p


@pytest.mark.parametrize(("action", "rule_action", "expected"), [
    (None, None, "Audit"),
    ("Enforce", None, "Enforce"),
    ("enforce", None, "Enforce"),
    ("audit", None, "Audit"),
    ("Enforce", "Audit", "Audit"),
    ("Audit", "Enforce", "Enforce"),
])
def test_rule_failure_action(action: str | None, rule_action: str | None, expected: str) -> None:
    p = _policy_with(action, rule_action)
    assert policies.rule_failure_action(p, p["spec"]["rules"][0]) == expected


def test_failure_action_overrides_by_namespace() -> None:
    p = _policy_with("Audit", overrides=[{"action": "Enforce", "namespaces": ["prod-*"]}])
    rule = p["spec"]["rules"][0]
    assert policies.rule_failure_action(p, rule, "prod-eu") == "Enforce"
    assert policies.rule_failure_action(p, rule, "dev") == "Audit"


def test_may_enforce() -> None:
    assert policies.may_enforce(_policy_with("Enforce"))
    assert policies.may_enforce(_policy_with("Audit", "Enforce"))
    assert not policies.may_enforce(_policy_with("Audit"))


def test_keys_and_flags() -> None:
    p = _seed()
    assert policies.policy_key(p) == "restrict-registries"
    p["kind"] = "Policy"
    p["metadata"]["namespace"] = "team"
    assert policies.policy_key(p) == "team/restrict-registries"
    assert policies.failure_policy(p) == "Fail"
    p["spec"]["failurePolicy"] = "Ignore"
    assert policies.failure_policy(p) == "Ignore"
    p["spec"]["webhookConfiguration"] = {"failurePolicy": "Fail", "timeoutSeconds": 7}
    assert policies.failure_policy(p) == "Fail" and policies.webhook_timeout_seconds(p) == 7


def test_status() -> None:
    p = _seed()
    policies.apply_defaults(p)
    st = policies.status(p, None, "2025-01-01T00:00:00Z")
    assert st["conditions"] == [{"lastTransitionTime": "2025-01-01T00:00:00Z", "message": "Ready", "reason": "Succeeded",
                                 "status": "True", "type": "Ready"}]
    assert st["rulecount"] == {"generate": 0, "mutate": 0, "validate": 1, "verifyimages": 0}
    assert [r["name"] for r in st["autogen"]["rules"]] == ["autogen-validate-registry", "autogen-cronjob-validate-registry"]
    again = policies.status(p, st, "2025-02-02T00:00:00Z")
    assert again["conditions"][0]["lastTransitionTime"] == "2025-01-01T00:00:00Z"
