"""Kyverno 1.15 ValidatingPolicy: compilation (Kyverno's CEL environment and error texts), evaluation, the
CRD schema and status, autogen, the webhooks and their answers, report results, and the offline CLI."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from labhelpers.sandbox.admission.kyverno import celpolicies, cli, vpol, vpol_admission, vpol_cel, vpol_engine
from labhelpers.sandbox.admission.kyverno.engine import Request
from labhelpers.sandbox.admission.kyverno.results import RuleStatus
from labhelpers.sandbox.admission.vap import cel as vap_cel

POLICY = yaml.safe_load("""
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: restrict-registries
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["pods", "pods/ephemeralcontainers"]
  variables:
  - name: allContainers
    expression: >-
      object.spec.containers
      + object.spec.?initContainers.orValue([])
      + object.spec.?ephemeralContainers.orValue([])
  validations:
  - expression: >-
      variables.allContainers.all(c,
        c.image.startsWith('docker.io/youruser/') ||
        c.image.startsWith('myregistry.com/'))
    message: "Images must come from approved registries"
""")


def pod(*images: str, init: tuple[str, ...] = (), name: str = "p") -> dict:
    spec: dict = {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": im} for i, im in enumerate(init)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "lab"}, "spec": spec}


def policy(**spec_changes) -> dict:
    p = copy.deepcopy(POLICY)
    p["spec"].update(spec_changes)
    return p


def run(p: dict, obj: dict) -> vpol_engine.Outcome:
    compiled = vpol_engine.compile_policy(p)[0]
    return vpol_engine.evaluate(compiled, vpol_engine.Inputs(vap_cel.to_cel(obj)))


# --- compilation: Kyverno's environment and messages ---

def test_compile_errors_are_cel_go_text_without_the_kube_apiserver_prefix() -> None:
    with pytest.raises(vpol_cel.CompileError) as e:
        vpol_cel.compile_expression("object.spec.containers.all(c, c.image.startsWith(")
    assert e.value.detail.startswith("ERROR: <input>:1:50: Syntax error: mismatched input '<EOF>' expecting")
    assert "compilation failed" not in e.value.detail
    with pytest.raises(vpol_cel.CompileError) as e:
        vpol_cel.compile_expression("1 + 'a' == 2")
    assert e.value.detail == ("ERROR: <input>:1:3: found no matching overload for '_+_' applied to "
                              "'(int, string)'\n | 1 + 'a' == 2\n | ..^")


@pytest.mark.parametrize(("expression", "detail"), [
    ("object.spec", "output is expected to be of type bool"),
    ("params.x == 1", "ERROR: <input>:1:1: undeclared reference to 'params' (in container '')\n"
                      " | params.x == 1\n | ^"),
    ("authorizer.check('get')", "ERROR: <input>:1:1: undeclared reference to 'authorizer' (in container '')\n"
                                " | authorizer.check('get')\n | ^"),
])
def test_kyverno_environment_has_no_params_or_authorizer(expression: str, detail: str) -> None:
    with pytest.raises(vpol_cel.CompileError) as e:
        vpol_cel.compile_expression(expression)
    assert e.value.detail == detail


def test_context_libraries_are_refused_clearly() -> None:
    with pytest.raises(vpol_cel.CompileError) as e:
        vpol_cel.compile_expression("resource.Get('v1', 'configmaps', 'lab', 'x').data.size() > 0")
    assert e.value.detail.splitlines()[0] == (
        "ERROR: <input>:1:13: resource.Get() is not available in the lab sandbox: Kyverno's resource library needs "
        "a cluster client or the network")
    with pytest.raises(vpol_cel.CompileError, match=r"http\.Get\(\) is not available"):
        vpol_cel.compile_expression("http.Get('https://example.com') != null")
    with pytest.raises(vpol_cel.CompileError, match=r"parseServiceAccount\(\) is not available in the lab sandbox"):
        vpol_cel.compile_expression("parseServiceAccount(request.userInfo.username) != null")
    # A comprehension variable may shadow a library's name.
    assert vpol_cel.compile_expression("['a'].all(resource, resource.size() == 1)").evaluate({})


@pytest.mark.parametrize(("expression", "expected"), [
    ("image('nginx').registry()", "index.docker.io"),
    ("image('nginx').repository()", "library/nginx"),
    ("image('nginx').identifier()", "latest"),
    ("image('ghcr.io/kyverno/kyverno:v1.15.2').tag()", "v1.15.2"),
    ("image('myregistry.com:5000/team/app:1.0').registry()", "myregistry.com:5000"),
])
def test_image_library(expression: str, expected: str) -> None:
    assert str(vpol_cel.compile_expression(expression, result=None).evaluate({})) == expected


def test_image_library_digests_and_validity() -> None:
    digest = "sha256:" + "a" * 64
    program = vpol_cel.compile_expression("image(object.image).containsDigest() && "
                                          "image(object.image).digest() == object.digest")
    obj = {"image": f"docker.io/youruser/app:v1@{digest}", "digest": digest}
    assert program.evaluate({"object": vap_cel.to_cel(obj)})
    assert not vpol_cel.compile_expression("image('nginx:1.25').containsDigest()").evaluate({})
    assert vpol_cel.compile_expression("isImage('nginx:1.25') && !isImage('Not An Image')").evaluate({})
    with pytest.raises(vpol_cel.EvalError, match="could not parse reference: Not An Image"):
        vpol_cel.compile_expression("image('Not An Image').registry() == ''").evaluate({})


def test_compile_stops_at_the_first_error_with_its_field_path() -> None:
    p = policy(variables=[{"name": "a", "expression": "variables.b"}, {"name": "b", "expression": "1"}],
               validations=[{"expression": "object.x"}])
    errs = vpol_engine.validate(p)
    assert [str(e) for e in errs] == [
        "spec.variables[0].expression: Invalid value: \"variables.b\": ERROR: <input>:1:10: undefined field 'b'\n"
        " | variables.b\n | .........^"]
    p = policy(validations=[{"expression": "true", "messageExpression": "1"}])
    assert [str(e) for e in vpol_engine.validate(p)] == [
        'spec.validations[0].messageExpression: Invalid value: "1": output is expected to be of type string']
    p = policy(auditAnnotations=[{"key": "k", "valueExpression": "1"}])
    assert [str(e) for e in vpol_engine.validate(p)] == [
        'spec.auditAnnotations[0].valueExpression: Invalid value: "1": output is expected to be either of type '
        'string or null_type']
    assert vpol_engine.validate(POLICY) == []


# --- evaluation ---

def test_evaluation_results() -> None:
    assert run(POLICY, pod("docker.io/youruser/app:v1")) == vpol_engine.Outcome("", RuleStatus.PASS, "success")
    out = run(POLICY, pod("docker.io/youruser/app:v1", init=("docker.io/evil/miner",)))
    assert (out.rule, out.status, out.message) == ("", RuleStatus.FAIL, "Images must come from approved registries")
    # No message: Kyverno 1.15 leaves it empty.
    out = run(policy(validations=[{"expression": "false"}]), pod("x"))
    assert (out.status, out.message) == (RuleStatus.FAIL, "")


def test_message_expression_and_its_failure() -> None:
    out = run(policy(validations=[{"expression": "false", "message": "static",
                                   "messageExpression": "'pod ' + object.metadata.name + ' refused'"}]), pod("x"))
    assert out.message == "pod p refused"
    out = run(policy(validations=[{"expression": "false", "messageExpression": "string(object.metadata.nope)"}]), pod("x"))
    assert out.message == "failed to evaluate message expression: no such key: nope"


def test_evaluation_errors_are_rule_errors_named_evaluation() -> None:
    p = policy(variables=[], validations=[{"expression": "object.spec.initContainers.size() == 0"}])
    assert run(p, pod("x")) == vpol_engine.Outcome("evaluation", RuleStatus.ERROR,
                                                   "failed to load context: no such key: initContainers")
    # A failing variable is its own error, without the VAP's "composited variable" wrapper.
    p = policy(variables=[{"name": "v", "expression": "object.spec.initContainers"}],
               validations=[{"expression": "variables.v.size() == 0"}])
    assert run(p, pod("x")).message == "failed to load context: no such key: initContainers"


def test_match_conditions() -> None:
    p = policy(matchConditions=[{"name": "labelled", "expression": "has(object.metadata.labels)"}])
    assert run(p, pod("nginx")) == vpol_engine.Outcome("", RuleStatus.SKIP, "skip")
    broken = [{"name": "bad", "expression": "object.metadata.labels.team == 'a'"}]
    assert run(policy(matchConditions=broken), pod("nginx")).message == \
        "failed to load context: no such key: labels"
    assert run(policy(matchConditions=broken, failurePolicy="Ignore"), pod("nginx")).status == RuleStatus.SKIP


def test_audit_annotations_become_properties_of_a_failure() -> None:
    p = policy(auditAnnotations=[{"key": "images", "valueExpression": "string(variables.allContainers.size())"}])
    assert run(p, pod("nginx", "busybox")).properties == {"images": "2"}


# --- the CRD: schema, defaults, status ---

def test_schema_errors() -> None:
    p = policy(validationActions=["Enforce", "Deny", "Deny"], failurePolicy="Never",
               matchConditions=[{"name": "a", "expression": "true"}, {"name": "a", "expression": "true"}],
               validations=[{"message": "no expression"}])
    assert [str(e) for e in vpol.schema_errors(p)] == [
        'spec.failurePolicy: Unsupported value: "Never": supported values: "Ignore", "Fail"',
        'spec.validationActions[0]: Unsupported value: "Enforce": supported values: "Deny", "Audit", "Warn"',
        'spec.validationActions[2]: Duplicate value: "Deny"',
        'spec.matchConditions[1]: Duplicate value: map[string]interface {}{"name":"a"}',
        "spec.validations[0].expression: Required value",
    ]
    assert [str(e) for e in vpol.schema_errors({"metadata": {"name": "x"}})] == ["spec: Required value"]
    assert vpol.schema_errors(POLICY) == []


def test_defaults() -> None:
    assert vpol.validation_actions(policy(validationActions=[])) == ["Deny"]
    assert vpol.failure_policy(POLICY) == "Fail"
    assert vpol.admission_enabled(POLICY) and vpol.background_enabled(POLICY)
    off = policy(evaluation={"background": {"enabled": False}})
    assert not vpol.background_enabled(off) and vpol.admission_enabled(off)
    obj = policy(evaluation={"admission": {}})
    vpol.apply_defaults(obj)
    assert obj["spec"]["evaluation"] == {"admission": {"enabled": True}}


def test_status_reports_missing_reporting_permissions_for_subresources() -> None:
    status = vpol.status(POLICY, None, "2025-01-01T00:00:00Z")
    conds = status["conditionStatus"]["conditions"]
    assert [(c["type"], c["status"], c["reason"]) for c in conds] == [
        ("WebhookConfigured", "True", "Succeeded"), ("RBACPermissionsGranted", "False", "Failed")]
    assert conds[1]["message"] == (
        "Policy is not ready for reporting, missing permissions: get /v1, Resource=pods/ephemeralcontainers: ; "
        "list /v1, Resource=pods/ephemeralcontainers: ; watch /v1, Resource=pods/ephemeralcontainers: .")
    assert status["conditionStatus"]["ready"] is False and status["generated"] is False
    pods_only = policy(matchConstraints={"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                            "operations": ["CREATE"], "resources": ["pods"]}]})
    status = vpol.status(pods_only, None, "2025-01-01T00:00:00Z")
    assert status["conditionStatus"]["ready"] is True
    assert status["conditionStatus"]["conditions"][1]["message"] == "Policy is ready for reporting."
    later = vpol.status(pods_only, status, "2025-02-02T00:00:00Z")
    assert later["conditionStatus"]["conditions"][0]["lastTransitionTime"] == "2025-01-01T00:00:00Z"


# --- autogen ---

PODS_ONLY = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                                "resources": ["pods"]}]}


def test_autogen_for_pod_controllers() -> None:
    assert vpol.autogen_configs(POLICY) == {}  # two resources: no autogen
    configs = vpol.autogen_configs(policy(matchConstraints=PODS_ONLY))
    assert sorted(configs) == ["cronjobs", "defaults"]
    defaults = configs["defaults"]
    assert [t["kind"] for t in defaults["targets"]] == ["DaemonSet", "Deployment", "Job", "ReplicaSet", "StatefulSet"]
    assert defaults["spec"]["matchConstraints"]["resourceRules"] == [
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"]},
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs"]}]
    assert defaults["spec"]["variables"][0]["expression"].startswith("object.spec.template.spec.containers")
    cron = configs["cronjobs"]["spec"]["variables"][0]["expression"]
    assert cron.startswith("object.spec.jobTemplate.spec.template.spec.containers")
    only = policy(matchConstraints=PODS_ONLY, autogen={"podControllers": {"controllers": ["deployments"]}})
    assert list(vpol.autogen_configs(only)) == ["defaults"]
    assert vpol.autogen_configs(policy(matchConstraints=PODS_ONLY, autogen={"podControllers": {"controllers": []}})) \
        == {}


def test_autogen_match_conditions() -> None:
    p = policy(matchConstraints=PODS_ONLY, matchConditions=[{"name": "ns", "expression": "object.metadata.name != 'x'"}])
    cond = vpol.autogen_configs(p)["cronjobs"]["spec"]["matchConditions"]
    assert cond == [{"expression": "!((object.apiVersion == 'batch/v1' && object.kind =='CronJob')) || "
                                   "(object.spec.jobTemplate.spec.template.metadata.name != 'x')",
                     "name": "autogen-cronjobs-ns"}]


def test_autogen_variant_evaluates_the_pod_template() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx"}]}}}}
    variants = vpol_engine.compile_policy(policy(matchConstraints=PODS_ONLY))
    out = vpol_engine.evaluate(variants[2], vpol_engine.Inputs(vap_cel.to_cel(deploy)))  # "defaults"
    assert (out.status, out.message) == (RuleStatus.FAIL, "Images must come from approved registries")


# --- webhooks and answers ---

def test_webhooks_shared_and_fine_grained() -> None:
    fg = policy(matchConditions=[{"name": "a", "expression": "true"}])
    fg["metadata"]["name"] = "fine"
    ignore = policy(failurePolicy="Ignore")
    ignore["metadata"]["name"] = "lenient"
    timeout = policy(webhookConfiguration={"timeoutSeconds": 5}, failurePolicy="Ignore")
    timeout["metadata"]["name"] = "slow"
    pols = [fg, ignore, POLICY, timeout]
    hooks = vpol_admission.webhooks(pols, vpol_engine.compile_policy)
    assert [h.name for h in hooks] == ["vpol.validate.kyverno.svc-fail-finegrained-fine",
                                       "vpol.validate.kyverno.svc-ignore-finegrained-slow",
                                       "vpol.validate.kyverno.svc-fail", "vpol.validate.kyverno.svc-ignore"]
    assert [len(h.policies) for h in hooks] == [1, 1, 4, 4]
    assert [h.namespace_selector for h in hooks] == [False, False, True, True]


def test_admission_messages_per_action() -> None:
    fail = vpol_engine.Outcome("", RuleStatus.FAIL, "nope")
    error = vpol_engine.Outcome("evaluation", RuleStatus.ERROR, "failed to load context: no such key: x")
    deny = vpol_admission.PolicyResponse(POLICY, [fail])
    warn = vpol_admission.PolicyResponse(policy(validationActions=["Warn", "Audit"]), [error])
    warn.policy["metadata"]["name"] = "warner"
    audit = vpol_admission.PolicyResponse(policy(validationActions=["Audit"]), [fail])
    passed = vpol_admission.PolicyResponse(POLICY, [vpol_engine.Outcome("", RuleStatus.PASS, "success")])
    responses = [deny, warn, audit, passed]
    assert vpol_admission.admission_message(responses, "Deny") == ["Policy restrict-registries failed: nope"]
    assert vpol_admission.admission_message(responses, "Warn") == [
        "Policy warner error: failed to load context: no such key: x"]


def test_denial_carries_warnings_without_control_characters() -> None:
    err = vpol_admission.denial("vpol.validate.kyverno.svc-fail", "Policy p failed: m",
                                ['say "hi"', "two\nlines", 'say "hi"'])
    assert err.code == 400 and err.reason is None
    assert err.message == 'admission webhook "vpol.validate.kyverno.svc-fail" denied the request: Policy p failed: m'
    assert err.headers == {"Warning": '299 - "say \\"hi\\""'}
    assert vpol_admission.denial("w", "m").headers == {}


# --- reports ---

def test_report_result() -> None:
    p = policy()
    p["metadata"]["annotations"] = {"policies.kyverno.io/severity": "high", "policies.kyverno.io/scored": "false"}
    r = vpol_admission.report_result(p, vpol_engine.Outcome("", RuleStatus.FAIL, "m", {"k": "v"}), 100.9)
    assert r == {"message": "m", "policy": "restrict-registries", "properties": {"k": "v", "process": "background scan"},
                 "result": "warn", "scored": False, "source": "KyvernoValidatingPolicy",
                 "timestamp": {"nanos": 0, "seconds": 100}, "severity": "high"}
    admission_only = policy(evaluation={"background": {"enabled": False}})
    r = vpol_admission.report_result(admission_only, vpol_engine.Outcome("evaluation", RuleStatus.ERROR, "e"), 1)
    assert r["rule"] == "evaluation" and r["properties"] == {"process": "admission review"}


# --- offline (labctl policy apply / test) on the same engine ---

def test_offline_cli_uses_the_engine(shared_dir: Path) -> None:
    base = shared_dir / "conformance/kyverno-peer-tests/kyverno-policies/best-practices-vpol/restrict-image-registries"
    report = cli.test(base)
    assert report.failed == 0 and report.passed == 7
    resp = celpolicies.evaluate(POLICY, Request("CREATE", pod("nginx")))
    assert [(r.name, r.status, r.message) for r in resp.results] == [
        ("restrict-registries", RuleStatus.FAIL, "Images must come from approved registries")]
    assert resp.actions == {"restrict-registries": "Enforce"}
    audit = celpolicies.evaluate(policy(validationActions=["Audit"]), Request("CREATE", pod("myregistry.com/a")))
    assert [(r.status, r.message) for r in audit.results] == [(RuleStatus.PASS, "success")]
    assert audit.actions == {"restrict-registries": "Audit"}
