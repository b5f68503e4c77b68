"""ValidatingAdmissionPolicy end to end on a real Registry (temp SQLite store): objects, matching, actions."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from labhelpers.sandbox.admission import vap
from labhelpers.sandbox.admission.vap import printers
from labhelpers.sandbox.apiserver import admission
from labhelpers.sandbox.apiserver import resources as res
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.objects import Registry
from labhelpers.sandbox.apiserver.store import Store

NS = res.lookup("", "v1", "namespaces")
POD = res.lookup("", "v1", "pods")
CM = res.lookup("", "v1", "configmaps")
DEPLOY = res.lookup("apps", "v1", "deployments")


@pytest.fixture
def env(tmp_path: Path) -> tuple[Registry, vap.Plugin]:
    registry = Registry(Store(tmp_path / "state.db"))
    admission.install(registry)
    plugin = vap.install(registry)
    for name in ("lab", "other"):
        registry.create(NS, None, {"metadata": {"name": name}})
    return registry, plugin


@pytest.fixture
def registry(env: tuple[Registry, vap.Plugin]) -> Registry:
    return env[0]


def notes_policy(shared_dir: Path) -> tuple[dict, dict]:
    """The restrict-registries policy and binding exactly as the VAP notes give them."""
    text = (shared_dir / "notes" / "validating-admission-policy.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block, "no yaml block in the notes"
    policy, binding = [d for d in yaml.safe_load_all(block.group(1)) if d]
    return policy, binding


def pod(name: str, *images: str, labels: dict | None = None) -> dict:
    meta: dict = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]}}


def kubectl_error(e: ApiError) -> str:
    """What kubectl prints for a Status (cmdutil.CheckErr: the Invalid branch builds from details)."""
    status = e.status()
    details = status.get("details") or {}
    if status.get("reason") == "Invalid" and details.get("causes"):
        causes = [f"{c.get('field', '')}: {c.get('message', '')}" for c in details["causes"]]
        return f'The {details["kind"]} "{details["name"]}" is invalid: ' + "\n".join(causes)
    return f"Error from server ({status['reason']}): {status['message']}"


def make_policy(name: str, validations: list[dict], **spec: object) -> dict:
    body = {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]},
            "validations": validations}
    body.update(spec)
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name}, "spec": body}


def make_binding(name: str, policy: str, actions: list[str], **spec: object) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name}, "spec": {"policyName": policy, "validationActions": actions, **spec}}


REGISTRY_RULE = ("object.spec.containers.all(c, c.image.startsWith('docker.io/youruser/') || "
                 "c.image.startsWith('gcr.io/yourproject/') || c.image.startsWith('myregistry.com/'))")


# --- the lab's policy from the notes ---

def test_notes_policy_denies_unapproved_registries(registry: Registry, shared_dir: Path) -> None:
    policy, binding = notes_policy(shared_dir)
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, binding)
    registry.create(POD, "lab", pod("allowed-app", "docker.io/youruser/app:v1.0"))
    with pytest.raises(ApiError) as info:
        registry.create(POD, "lab", pod("bad-pod", "docker.io/nginx:latest"))
    e = info.value
    message = ("ValidatingAdmissionPolicy 'restrict-registries' with binding 'restrict-registries-binding' "
               "denied request: Images must come from approved registries")
    assert (e.code, e.reason) == (422, "Invalid")
    assert e.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'pods "bad-pod" is forbidden: {message}', "reason": "Invalid",
        "details": {"name": "bad-pod", "kind": "pods", "causes": [{"message": message}]}, "code": 422}
    assert kubectl_error(e) == f'The pods "bad-pod" is invalid: : {message}'
    assert registry.find(POD, "lab", "bad-pod") is None


def test_notes_policy_checks_init_containers_and_only_its_namespace(registry: Registry, shared_dir: Path) -> None:
    policy, binding = notes_policy(shared_dir)
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, binding)
    sneaky = pod("sneaky", "myregistry.com/app:1")
    sneaky["spec"]["initContainers"] = [{"name": "init", "image": "evil.example/miner:1"}]
    with pytest.raises(ApiError):
        registry.create(POD, "lab", sneaky)
    # the binding's namespaceSelector only selects "lab"
    registry.create(POD, "other", pod("elsewhere", "docker.io/nginx:latest"))


def test_dry_run_is_denied_too(registry: Registry, shared_dir: Path) -> None:
    policy, binding = notes_policy(shared_dir)
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, binding)
    with pytest.raises(ApiError):
        registry.create(POD, "lab", pod("bad-pod", "quay.io/x/y:1"), dry_run=True)


def test_a_policy_without_binding_does_nothing(registry: Registry) -> None:
    registry.create(vap.POLICY, None, make_policy("p", [{"expression": REGISTRY_RULE}]))
    registry.create(POD, "lab", pod("free", "docker.io/nginx:latest"))


# --- validation actions ---

def test_warn_admits_with_the_warning_header_text(registry: Registry) -> None:
    registry.create(vap.POLICY, None, make_policy("registries", [{"expression": REGISTRY_RULE,
                                                                   "message": "Images must come from approved registries"}]))
    registry.create(vap.BINDING, None, make_binding("registries-warn", "registries", ["Warn"]))
    warnings: list[str] = []
    registry.create(POD, "lab", pod("warned", "docker.io/nginx:latest"), warnings=warnings)
    assert warnings == ["Validation failed for ValidatingAdmissionPolicy 'registries' with binding "
                        "'registries-warn': Images must come from approved registries"]
    assert registry.find(POD, "lab", "warned") is not None


def test_audit_admits_and_records_the_annotation(env: tuple[Registry, vap.Plugin]) -> None:
    registry, plugin = env
    registry.create(vap.POLICY, None, make_policy("registries", [{"expression": "true"}, {"expression": REGISTRY_RULE,
                                                                   "message": "Images must come from <approved> registries"}]))
    registry.create(vap.BINDING, None, make_binding("registries-audit", "registries", ["Audit"]))
    warnings: list[str] = []
    registry.create(POD, "lab", pod("audited", "docker.io/nginx:latest"), warnings=warnings)
    assert warnings == []
    assert [e["annotations"] for e in plugin.audit_events] == [{
        "validation.policy.admission.k8s.io/validation_failure":
            '[{"message":"Images must come from \\u003capproved\\u003e registries","policy":"registries",'
            '"binding":"registries-audit","expressionIndex":1,"validationActions":["Audit"]}]'}]


def test_reason_forbidden_changes_code_and_kubectl_branch(registry: Registry) -> None:
    registry.create(vap.POLICY, None, make_policy("registries", [{"expression": REGISTRY_RULE, "reason": "Forbidden",
                                                                   "message": "Images must come from approved registries"}]))
    registry.create(vap.BINDING, None, make_binding("b", "registries", ["Deny"]))
    with pytest.raises(ApiError) as info:
        registry.create(POD, "lab", pod("bad-pod", "docker.io/nginx:latest"))
    assert (info.value.code, info.value.reason) == (403, "Forbidden")
    assert kubectl_error(info.value) == (
        "Error from server (Forbidden): pods \"bad-pod\" is forbidden: ValidatingAdmissionPolicy 'registries' with "
        "binding 'b' denied request: Images must come from approved registries")


def test_message_fallbacks(registry: Registry) -> None:
    registry.create(vap.POLICY, None, make_policy("msgs", [
        {"expression": "object.metadata.name != 'a'"},
        {"expression": "object.metadata.name != 'b'",
         "messageExpression": "'pod ' + object.metadata.name + ' is not allowed'", "message": "static"},
        {"expression": "object.metadata.name != 'c'", "messageExpression": "'two\\nlines'", "message": "static"},
    ]))
    registry.create(vap.BINDING, None, make_binding("msgs", "msgs", ["Deny"]))
    expected = {"a": "failed expression: object.metadata.name != 'a'", "b": "pod b is not allowed", "c": "static"}
    for name, message in expected.items():
        with pytest.raises(ApiError) as info:
            registry.create(POD, "lab", pod(name, "x"))
        assert info.value.message.endswith(f"with binding 'msgs' denied request: {message}")


def test_evaluation_errors_follow_failure_policy(registry: Registry) -> None:
    rule = "object.spec.securityContext.runAsNonRoot == true"
    registry.create(vap.POLICY, None, make_policy("strict", [{"expression": rule}]))
    registry.create(vap.POLICY, None, make_policy("lenient", [{"expression": rule}], failurePolicy="Ignore"))
    registry.create(vap.BINDING, None, make_binding("lenient", "lenient", ["Deny"]))
    registry.create(POD, "lab", pod("ok", "x"))  # the Ignore policy swallows the missing key
    registry.create(vap.BINDING, None, make_binding("strict", "strict", ["Deny"]))
    with pytest.raises(ApiError) as info:
        registry.create(POD, "lab", pod("nope", "x"))
    assert info.value.message == (
        "pods \"nope\" is forbidden: ValidatingAdmissionPolicy 'strict' with binding 'strict' denied request: "
        # the apiserver defaults spec.securityContext to {}, so the missing key is the inner one
        f"expression '{rule}' resulted in error: no such key: runAsNonRoot")


# --- matching ---

def test_selectors_exclusions_and_match_conditions(registry: Registry) -> None:
    registry.create(vap.POLICY, None, make_policy(
        "no-latest", [{"expression": "object.spec.containers.all(c, !c.image.endsWith(':latest'))"}],
        matchConditions=[{"name": "not-exempt", "expression": "!('exempt' in object.metadata.?labels.orValue({}))"}]))
    registry.create(vap.BINDING, None, make_binding("no-latest", "no-latest", ["Deny"], matchResources={
        "objectSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["system"]}]},
        "excludeResourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["*"],
                                  "resources": ["pods"], "resourceNames": ["legacy"]}]}))
    with pytest.raises(ApiError):
        registry.create(POD, "lab", pod("plain", "nginx:latest"))
    registry.create(POD, "lab", pod("sys", "nginx:latest", labels={"tier": "system"}))
    registry.create(POD, "lab", pod("legacy", "nginx:latest"))
    registry.create(POD, "lab", pod("ex", "nginx:latest", labels={"exempt": "yes"}))


def test_update_sees_old_object_and_delete_has_null_object(registry: Registry) -> None:
    policy = make_policy("cm-guard", [
        {"expression": "request.operation != 'UPDATE' || object.data.size() >= oldObject.data.size()",
         "message": "keys may not be removed"},
        {"expression": "request.operation != 'DELETE' || (object == null && oldObject.metadata.name != 'keep')",
         "message": "keep stays"}])
    policy["spec"]["matchConstraints"]["resourceRules"][0].update(resources=["configmaps"],
                                                                  operations=["UPDATE", "DELETE"])
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, make_binding("cm-guard", "cm-guard", ["Deny"]))
    cm = registry.create(CM, "lab", {"metadata": {"name": "keep"}, "data": {"a": "1", "b": "2"}})
    shrunk = copy.deepcopy(cm)
    del shrunk["data"]["b"]
    with pytest.raises(ApiError) as info:
        registry.update(CM, "lab", "keep", shrunk)
    assert info.value.message.endswith("denied request: keys may not be removed")
    with pytest.raises(ApiError) as info:
        registry.delete(CM, "lab", "keep")
    assert info.value.message == ("configmaps \"keep\" is forbidden: ValidatingAdmissionPolicy 'cm-guard' with "
                                  "binding 'cm-guard' denied request: keep stays")
    registry.create(CM, "lab", {"metadata": {"name": "scratch"}, "data": {"a": "1"}})
    registry.delete(CM, "lab", "scratch")


def test_params_from_a_configmap(registry: Registry) -> None:
    policy = make_policy("param-registries", [{
        "expression": "object.spec.containers.all(c, params.data.prefixes.split(',').exists(p, c.image.startsWith(p)))",
        "messageExpression": "'allowed registries: ' + params.data.prefixes"}],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"})
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, make_binding("param-registries", "param-registries", ["Deny"], paramRef={
        "name": "allowed-registries", "parameterNotFoundAction": "Deny"}))
    with pytest.raises(ApiError) as info:
        registry.create(POD, "lab", pod("early", "myregistry.com/a:1"))
    assert info.value.message.endswith(
        "denied request: failed to configure binding: no params found for policy binding with `Deny` "
        "parameterNotFoundAction")
    registry.create(CM, "lab", {"metadata": {"name": "allowed-registries"},
                                "data": {"prefixes": "myregistry.com/,gcr.io/yourproject/"}})
    registry.create(POD, "lab", pod("ok", "myregistry.com/a:1"))
    with pytest.raises(ApiError) as info:
        registry.create(POD, "lab", pod("bad", "docker.io/nginx"))
    assert info.value.message.endswith("denied request: allowed registries: myregistry.com/,gcr.io/yourproject/")


def test_policy_objects_are_exempt(registry: Registry) -> None:
    policy = make_policy("deny-all", [{"expression": "false"}])
    policy["spec"]["matchConstraints"]["resourceRules"] = [
        {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*"]}]
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, make_binding("deny-all", "deny-all", ["Deny"]))
    registry.create(vap.BINDING, None, make_binding("another", "deny-all", ["Audit"]))
    with pytest.raises(ApiError):
        registry.create(CM, "lab", {"metadata": {"name": "x"}})


# --- the upstream peer policies ---

def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_kyverno_cli_disallow_host_path_vap(registry: Registry, shared_dir: Path) -> None:
    base = shared_dir / "conformance" / "kyverno-peer-tests" / "kyverno-kyverno" / "test" / "cli" / "test" / \
        "validating-admission-policies" / "disallow-host-path"
    (policy,) = _docs(base / "disallow-host-path.yaml")
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, make_binding("disallow-host-path-binding", "disallow-host-path", ["Deny"]))
    expected = {r["resources"][0]: r["result"] for r in yaml.safe_load((base / "kyverno-test.yaml").read_text())["results"]}
    outcome = {}
    for deployment in _docs(base / "deployments.yaml"):
        try:
            registry.create(DEPLOY, "lab", deployment)
            outcome[deployment["metadata"]["name"]] = "pass"
        except ApiError as e:
            assert e.message == (
                f'deployments.apps "{deployment["metadata"]["name"]}" is forbidden: ValidatingAdmissionPolicy '
                "'disallow-host-path' with binding 'disallow-host-path-binding' denied request: HostPath volumes "
                "are forbidden. The field spec.template.spec.volumes[*].hostPath must be unset.")
            assert e.details["group"] == "apps" and e.details["kind"] == "deployments"
            outcome[deployment["metadata"]["name"]] = "fail"
    assert outcome == expected


def test_kyverno_cel_restrict_image_registries_as_vap(registry: Registry, shared_dir: Path) -> None:
    base = shared_dir / "conformance" / "kyverno-peer-tests" / "kyverno-policies" / "best-practices-cel" / \
        "restrict-image-registries"
    (kpol,) = _docs(base / "restrict-image-registries.yaml")
    rule = kpol["spec"]["rules"][0]["validate"]["cel"]
    policy = make_policy("restrict-image-registries", rule["expressions"], variables=rule["variables"])
    registry.create(vap.POLICY, None, policy)
    registry.create(vap.BINDING, None, make_binding("restrict-image-registries", "restrict-image-registries",
                                                    ["Deny"]))
    expected: dict[str, str] = {}
    for r in yaml.safe_load((base / ".kyverno-test" / "kyverno-test.yaml").read_text())["results"]:
        expected.update({name: r["result"] for name in r["resources"]})
    outcome = {}
    for p in _docs(base / ".kyverno-test" / "resource.yaml"):
        try:
            registry.create(POD, "lab", p)
            outcome[p["metadata"]["name"]] = "pass"
        except ApiError as e:
            assert e.message.endswith("with binding 'restrict-image-registries' denied request: Unknown image registry.")
            outcome[p["metadata"]["name"]] = "fail"
    assert outcome == expected


# --- the API objects themselves ---

def test_defaults_generation_and_status(registry: Registry) -> None:
    created = registry.create(vap.POLICY, None, make_policy("d", [{"expression": "true"}]))
    spec = created["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["matchPolicy"] == "Equivalent"
    assert spec["matchConstraints"]["namespaceSelector"] == {} and spec["matchConstraints"]["objectSelector"] == {}
    assert spec["matchConstraints"]["resourceRules"][0]["scope"] == "*"
    assert created["metadata"]["generation"] == 1
    assert created["status"] == {"observedGeneration": 1, "typeChecking": {}}
    created["spec"]["validations"].append({"expression": "1 == 1"})
    updated = registry.update(vap.POLICY, "", "d", created)
    assert updated["metadata"]["generation"] == 2 and updated["status"]["observedGeneration"] == 2
    binding = registry.create(vap.BINDING, None, make_binding("b", "d", ["Deny"], matchResources={}))
    assert binding["spec"]["matchResources"] == {"namespaceSelector": {}, "objectSelector": {},
                                                 "matchPolicy": "Equivalent"}


def test_bad_expression_is_rejected_at_creation(registry: Registry) -> None:
    expr = "object.spec.containers.all(c, c.image.startsWith('docker.io/youruser/')"
    with pytest.raises(ApiError) as info:
        registry.create(vap.POLICY, None, make_policy("broken", [{"expression": expr}]))
    e = info.value
    detail = (f'Invalid value: "{expr}": compilation failed: ERROR: <input>:1:72: Syntax error: missing \')\' at '
              f"'<EOF>'\n | {expr}\n | {'.' * 71}^")
    assert (e.code, e.reason) == (422, "Invalid")
    assert e.message == (f'ValidatingAdmissionPolicy.admissionregistration.k8s.io "broken" is invalid: '
                         f"spec.validations[0].expression: {detail}")
    assert e.details["causes"] == [{"reason": "FieldValueInvalid", "message": detail,
                                    "field": "spec.validations[0].expression"}]
    assert registry.find(vap.POLICY, "", "broken") is None


def test_policy_validation_messages(registry: Registry) -> None:
    bad = make_policy("bad", [
        {"expression": "object.spec.paused", "message": "two\nlines", "reason": "Teapot"},
        {"expression": "true", "messageExpression": "authorizer.path('/x').check('get').reason()"},
    ], failurePolicy="Sometimes")
    bad["spec"]["matchConstraints"] = {}
    with pytest.raises(ApiError) as info:
        registry.create(vap.POLICY, None, bad)
    assert [str(c["field"]) + ": " + c["message"] for c in info.value.details["causes"]] == [
        'spec.failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", "Ignore"',
        "spec.matchConstraints.resourceRules: Required value",
        'spec.validations[0].expression: Invalid value: "object.spec.paused": must evaluate to bool but got dyn',
        'spec.validations[0].message: Invalid value: "two\\nlines": message must not contain line breaks',
        'spec.validations[0].reason: Unsupported value: "Teapot": supported values: "Forbidden", "Invalid", '
        '"RequestEntityTooLarge"',
        "spec.validations[1].messageExpression: Invalid value: \"authorizer.path('/x').check('get').reason()\": "
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'authorizer' (in container '')\n"
        " | authorizer.path('/x').check('get').reason()\n | ^",
    ]


def test_binding_validation_messages(registry: Registry) -> None:
    with pytest.raises(ApiError) as info:
        registry.create(vap.BINDING, None, make_binding("b", "", ["Deny", "Warn", "Deny", "Log"],
                                                        matchResources={"matchPolicy": "Fuzzy"}))
    assert info.value.message == (
        'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "b" is invalid: ['
        "spec.policyName: Required value, "
        'spec.matchResouces.matchPolicy: Unsupported value: "Fuzzy": supported values: "Equivalent", "Exact", '
        'spec.validationActions[2]: Duplicate value: "Deny", '
        'spec.validationActions[3]: Unsupported value: "Log": supported values: "Audit", "Deny", "Warn", '
        'spec.validationActions: Invalid value: []admissionregistration.ValidationAction{"Deny", "Warn", "Deny", '
        '"Log"}: must not contain both Deny and Warn (repeating the same validation failure information in the API '
        "response and headers serves no purpose)]")
    with pytest.raises(ApiError) as info:
        registry.create(vap.BINDING, None, make_binding("b", "p", []))
    assert info.value.message.endswith("spec.validationActions: Required value: at least one validation action is required")


def test_printers_match_kubectl_columns() -> None:
    columns, row = printers.PRINTERS[("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")]
    assert [c["name"] for c in columns] == ["Name", "Validations", "ParamKind", "Age"]
    from datetime import UTC, datetime
    now = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
    policy = make_policy("p", [{"expression": "true"}, {"expression": "true"}])
    policy["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    assert row(policy, now) == ["p", 2, "<unset>", "5m"]
    policy["spec"]["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    assert row(policy, now)[2] == "v1/ConfigMap"
    columns, row = printers.PRINTERS[("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")]
    assert [c["name"] for c in columns] == ["Name", "PolicyName", "ParamRef", "Age"]
    binding = make_binding("b", "p", ["Deny"], paramRef={"name": "cfg", "namespace": "lab"})
    binding["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    assert row(binding, now) == ["b", "p", "lab/cfg", "5m"]
    binding["spec"]["paramRef"] = {"selector": {"matchLabels": {"app": "x"}}}
    assert row(binding, now)[2] == ("&LabelSelector{MatchLabels:map[string]string{app: x,},"
                                    "MatchExpressions:[]LabelSelectorRequirement{},}")


def test_kinds_are_served(registry: Registry) -> None:
    rt = res.lookup("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
    assert rt is not None and not rt.namespaced and rt.categories == ("api-extensions",)
    assert json.dumps(res.by_kind("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding").plural) == \
        '"validatingadmissionpolicybindings"'
