"""Kyverno admission on a real Registry (temporary SQLite store): the seed's Part 6 end to end, without HTTP.

Runs the sandbox's real admission chain (namespace lifecycle, service accounts, Kyverno), controllers and the
policy-report controller, driven synchronously.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from labhelpers.sandbox.admission.kyverno import messages, plugin
from labhelpers.sandbox.admission.kyverno.engine import PolicyResponse
from labhelpers.sandbox.admission.kyverno.reports import CLUSTER_POLICY_REPORT, POLICY_REPORT
from labhelpers.sandbox.admission.kyverno.results import RuleResult, RuleStatus
from labhelpers.sandbox.apiserver import admission, tables
from labhelpers.sandbox.apiserver import resources as res
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.objects import AdmissionRequest, Registry
from labhelpers.sandbox.apiserver.store import Store
from labhelpers.sandbox.controllers import ControllerManager


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


EX = json.loads((_shared() / "conformance/kyverno-messages.json").read_text())["examples"]
CHAINSAW = _shared() / "conformance/kyverno-peer-tests/kyverno-kyverno/test/conformance/chainsaw"

NS = res.lookup("", "v1", "namespaces")
POD = res.lookup("", "v1", "pods")
DEPLOY = res.lookup("apps", "v1", "deployments")
CRONJOB = res.lookup("batch", "v1", "cronjobs")
T0 = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC).timestamp()

SEED_POLICY = yaml.safe_load("""
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: restrict-registries
spec:
  validationFailureAction: Enforce
  background: true
  rules:
  - name: validate-registry
    match:
      any:
      - resources:
          kinds:
          - Pod
    validate:
      message: "Images must come from approved registries: docker.io/youruser, gcr.io/yourproject, or myregistry.com"
      pattern:
        spec:
          containers:
          - image: "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"
""")
SEED_DENIAL = (
    'admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'
    "resource Pod/registry-lab/disallowed-app was blocked due to the following policies \n\n"
    "restrict-registries:\n"
    "  validate-registry: 'validation error: Images must come from approved registries:\n"
    "    docker.io/youruser, gcr.io/yourproject, or myregistry.com. rule validate-registry\n"
    "    failed at path /spec/containers/0/image/'\n")


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(tmp_path: Path, clock: Clock):
    store = Store(tmp_path / "state.db")
    reg = Registry(store, clock=clock)
    admission.install(reg)
    yield reg
    store.close()


@pytest.fixture
def kyverno(registry: Registry) -> plugin.KyvernoPlugin:
    kp = plugin.install(registry)
    for name in ("default", "registry-lab"):
        registry.create(NS, None, {"metadata": {"name": name}})
    return kp


def pod(name: str, image: str, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"containers": [{"name": name.split("-")[0], "image": image}]}}


def deployment(name: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


def denied(fn, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as e:
        fn(*args, **kwargs)
    return e.value


# --- Exercise 12 ---------------------------------------------------------------------------------------------


def test_exercise_12_kyverno_pods_come_up(registry: Registry, kyverno: plugin.KyvernoPlugin, clock: Clock) -> None:
    registry.create(plugin.CLUSTER_POLICY, None, copy.deepcopy(SEED_POLICY))  # must not block Kyverno itself
    plugin.install_kyverno_objects(registry)
    plugin.install_kyverno_objects(registry)  # idempotent
    mgr = ControllerManager(registry, clock=clock)
    mgr.start()
    mgr.sync_until_idle()
    pods = [p for p in registry.list(POD, "kyverno")
            if p["metadata"]["labels"].get("app.kubernetes.io/name") == "kyverno"]
    assert len(pods) == 1
    assert pods[0]["spec"]["containers"][0]["image"] == plugin.KYVERNO_IMAGE == "ghcr.io/kyverno/kyverno:v1.15.2"
    d = registry.get(DEPLOY, "kyverno", "kyverno")
    assert d["metadata"]["labels"]["app.kubernetes.io/name"] == "kyverno"
    mgr.stop()


def test_kyverno_image_is_in_the_registry_catalog() -> None:
    from labhelpers.sandbox.registries.catalog import GHCR

    assert any(f"ghcr.io/{i.repository}:{i.tag}" == plugin.KYVERNO_IMAGE and i.public for i in GHCR.images)


# --- Exercise 13 ---------------------------------------------------------------------------------------------


def test_exercise_13_enforce(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    warnings: list[str] = []
    registry.create(plugin.CLUSTER_POLICY, None, copy.deepcopy(SEED_POLICY), warnings=warnings)
    assert warnings == []
    created = registry.create(POD, "registry-lab", pod("allowed-app", "docker.io/youruser/app:v1.0"))
    assert created["metadata"]["uid"]
    e = denied(registry.create, POD, "registry-lab", pod("disallowed-app", "docker.io/nginx:latest"))
    assert (e.code, e.reason) == (400, None)
    assert e.message == SEED_DENIAL
    assert e.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": SEED_DENIAL, "code": 400}
    assert registry.find(POD, "registry-lab", "disallowed-app") is None


def test_lab_message_exactly_as_kubectl_prints_it(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    images = "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"
    policy = copy.deepcopy(SEED_POLICY)
    policy["spec"]["rules"][0]["validate"] = {
        "message": "Images must come from approved registries.",
        "pattern": {"spec": {"containers": [{"image": images}], "=(initContainers)": [{"image": images}],
                             "=(ephemeralContainers)": [{"image": images}]}}}
    registry.create(plugin.CLUSTER_POLICY, None, policy)
    e = denied(registry.create, POD, "default", pod("bad-pod", "nginx:1.25"))
    assert messages.kubectl_error_text(e.message).rstrip("\n") == EX["lab_enforce_kubectl_run"]["stderr"]
    e = denied(registry.create, DEPLOY, "default", deployment("web", "nginx:1.25"))
    assert messages.kubectl_error_text(e.message, "deploy.yaml").rstrip("\n") == \
        EX["autogen_deployment"]["stderr_kubectl_apply_-f_deploy.yaml"]


def test_autogen_denies_controllers(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    policy = yaml.safe_load((CHAINSAW / "autogen/restrict-image-registries/policy.yaml").read_text())
    policy["metadata"]["name"] = "restrict-image-registries"
    registry.create(plugin.CLUSTER_POLICY, None, policy)
    e = denied(registry.create, POD, "default", pod("nginx-1", "nginx"))
    assert "rule validate-registries failed at path /spec/containers/0/image/" in e.message
    e = denied(registry.create, DEPLOY, "default", deployment("testing", "nginx"))
    assert "rule autogen-validate-registries failed at path /spec/template/spec/containers/0/image/" in e.message
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "my-job"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "my-job", "image": "busybox"}]}}}}}}
    e = denied(registry.create, CRONJOB, "default", cron)
    assert "rule autogen-cronjob-validate-registries failed" in e.message
    stored = registry.get(plugin.CLUSTER_POLICY, "", "restrict-image-registries")
    assert [r["name"] for r in stored["status"]["autogen"]["rules"]] == [
        "autogen-validate-registries", "autogen-cronjob-validate-registries"]


def test_kubectl_debug_ephemeral_container_is_checked(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    images = "eu.foo.io/* | bar.io/*"
    policy = copy.deepcopy(SEED_POLICY)
    policy["spec"]["rules"][0]["validate"] = {"message": "Unknown image registry.", "pattern": {"spec": {
        "containers": [{"image": images}], "=(ephemeralContainers)": [{"image": images}]}}}
    registry.create(plugin.CLUSTER_POLICY, None, policy)
    old = registry.create(POD, "default", pod("good-pod", "bar.io/nginx"))
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox:1.35", "targetContainerName": "good"}]
    # what the apiserver hands the webhooks for PUT pods/good-pod/ephemeralcontainers
    req = AdmissionRequest("UPDATE", POD, "default", "good-pod", new, old, False, "ephemeralcontainers")
    e = denied(kyverno.validate, req)
    assert "failed at path /spec/ephemeralContainers/0/image/" in e.message
    kyverno.validate(AdmissionRequest("UPDATE", POD, "default", "good-pod", old, old, False, "ephemeralcontainers"))


def test_existing_violations_may_still_be_updated(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    old = registry.create(POD, "default", pod("legacy", "nginx:1.25"))  # before the policy
    registry.create(plugin.CLUSTER_POLICY, None, copy.deepcopy(SEED_POLICY))
    old["metadata"]["labels"] = {"touched": "yes"}
    updated = registry.update(POD, "default", "legacy", old)
    assert updated["metadata"]["labels"] == {"touched": "yes"}
    # status updates (kubelet) never reach the Kyverno webhook
    updated["status"] = {"phase": "Running"}
    registry.update(POD, "default", "legacy", updated, subresource="status")


# --- policy validation -----------------------------------------------------------------------------------------


def test_bad_policies_are_refused(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    bad = copy.deepcopy(SEED_POLICY)
    bad["spec"]["validationFailureAction"] = "Deny"
    e = denied(registry.create, plugin.CLUSTER_POLICY, None, bad)
    assert (e.code, e.reason) == (422, "Invalid")
    assert e.message == ('ClusterPolicy.kyverno.io "restrict-registries" is invalid: spec.validationFailureAction: '
                         'Unsupported value: "Deny": supported values: "audit", "enforce", "Audit", "Enforce"')
    bad = copy.deepcopy(SEED_POLICY)
    bad["spec"]["rules"][0]["validate"]["pattern"]["spec"]["containers"][0] = {"+(image)": "x"}
    e = denied(registry.create, plugin.CLUSTER_POLICY, None, bad)
    assert (e.code, e.reason) == (400, None)
    assert e.message == ('admission webhook "validate-policy.kyverno.svc" denied the request: path: '
                         "spec.rules[0].validate.pattern.//spec/containers0//+(image).: unsupported anchor +(image)")
    assert registry.list(plugin.CLUSTER_POLICY) == []


def test_policy_status_and_printer_columns(registry: Registry, kyverno: plugin.KyvernoPlugin, clock: Clock) -> None:
    stored = registry.create(plugin.CLUSTER_POLICY, None, copy.deepcopy(SEED_POLICY))
    assert stored["spec"]["admission"] is True and stored["spec"]["rules"][0]["skipBackgroundRequests"] is True
    clock.t += 30
    table = tables.to_table(plugin.CLUSTER_POLICY, registry.list(plugin.CLUSTER_POLICY),
                            now=datetime.fromtimestamp(clock.t, UTC))
    cols = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert cols == ["Name", "ADMISSION", "BACKGROUND", "READY", "AGE", "MESSAGE"]
    row = table["rows"][0]["cells"]
    names = [c["name"] for c in table["columnDefinitions"]]
    cells = dict(zip(names, row, strict=True))
    assert (cells["Name"], cells["ADMISSION"], cells["BACKGROUND"], cells["READY"], cells["AGE"], cells["MESSAGE"]) \
        == ("restrict-registries", True, True, "True", "30s", "Ready")
    assert cells["VALIDATE"] == 1
    # re-applying the same policy (without the CRD defaults kubectl never sends) is not a spec change
    same = registry.update(plugin.CLUSTER_POLICY, "", "restrict-registries", copy.deepcopy(SEED_POLICY))
    assert same["metadata"]["generation"] == 1 and same["spec"] == stored["spec"]
    # kubectl apply sends no status: the controller's status is kept
    again = copy.deepcopy(SEED_POLICY)
    again["spec"]["background"] = False
    updated = registry.update(plugin.CLUSTER_POLICY, "", "restrict-registries", again)
    assert updated["status"]["conditions"][0]["status"] == "True"
    assert updated["metadata"]["generation"] == 2


# --- Audit and reports -----------------------------------------------------------------------------------------


def test_audit_admits_and_reports(registry: Registry, kyverno: plugin.KyvernoPlugin, clock: Clock) -> None:
    policy = copy.deepcopy(SEED_POLICY)
    policy["spec"]["validationFailureAction"] = "Audit"
    registry.create(plugin.CLUSTER_POLICY, None, policy)
    warnings: list[str] = []
    bad = registry.create(POD, "registry-lab", pod("disallowed-app", "docker.io/nginx:latest"), warnings=warnings)
    assert warnings == []
    registry.create(POD, "registry-lab", pod("allowed-app", "docker.io/youruser/app:v1.0"))
    kyverno.reports.process()
    reports = {r["scope"]["name"]: r for r in registry.list(POLICY_REPORT, "registry-lab")}
    assert set(reports) == {"disallowed-app", "allowed-app"}
    rep = reports["disallowed-app"]
    assert rep["metadata"]["name"] == bad["metadata"]["uid"]
    assert rep["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "disallowed-app",
                                                   "uid": bad["metadata"]["uid"]}]
    assert rep["summary"] == {"error": 0, "fail": 1, "pass": 0, "skip": 0, "warn": 0}
    assert rep["results"][0]["message"] == (
        "validation error: Images must come from approved registries: docker.io/youruser, gcr.io/yourproject, or "
        "myregistry.com. rule validate-registry failed at path /spec/containers/0/image/")
    table = tables.to_table(POLICY_REPORT, registry.list(POLICY_REPORT, "registry-lab"),
                            now=datetime.fromtimestamp(clock.t, UTC))
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Kind", "Name", "Pass", "Fail", "Warn", "Error",
                                                               "Skip", "Age"]
    rows = {r["cells"][2]: r["cells"] for r in table["rows"]}
    assert rows["disallowed-app"][1:8] == ["Pod", "disallowed-app", 0, 1, 0, 0, 0]
    # deleting the resource drops its report
    registry.delete(POD, "registry-lab", "disallowed-app")
    kyverno.reports.process()
    assert [r["scope"]["name"] for r in registry.list(POLICY_REPORT, "registry-lab")] == ["allowed-app"]


def test_report_follows_resource_updates(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    """The chainsaw ``reports/admission/update`` test: fail, then pass after the Deployment is fixed."""
    base = CHAINSAW / "reports/admission/update"
    registry.create(plugin.CLUSTER_POLICY, None, yaml.safe_load((base / "policy.yaml").read_text()))
    registry.create(DEPLOY, "default", yaml.safe_load((base / "deployment-fail.yaml").read_text()))
    kyverno.reports.process()
    (rep,) = [r for r in registry.list(POLICY_REPORT, "default") if r["scope"]["kind"] == "Deployment"]
    assert (rep["results"][0]["rule"], rep["results"][0]["result"]) == ("autogen-validate-image-tag-pod", "fail")
    current = registry.get(DEPLOY, "default", "test-dpl-1")
    fixed = yaml.safe_load((base / "deployment-pass.yaml").read_text())
    fixed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    registry.update(DEPLOY, "default", "test-dpl-1", fixed)
    kyverno.reports.process()
    (rep,) = [r for r in registry.list(POLICY_REPORT, "default") if r["scope"]["kind"] == "Deployment"]
    assert rep["summary"]["pass"] == 1 and rep["summary"]["fail"] == 0
    assert rep["results"][0]["message"] == "validation rule 'autogen-validate-image-tag-pod' passed."


def test_background_scan_covers_existing_resources(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    registry.create(POD, "default", pod("old-pod", "nginx:1.25"))
    registry.create(NS, None, {"metadata": {"name": "team"}})
    kyverno.reports.process()
    assert registry.list(POLICY_REPORT, "default") == []
    policy = copy.deepcopy(SEED_POLICY)
    policy["spec"]["validationFailureAction"] = "Audit"
    registry.create(plugin.CLUSTER_POLICY, None, policy)
    kyverno.reports.process()  # a policy change triggers a scan
    (rep,) = registry.list(POLICY_REPORT, "default")
    assert rep["scope"]["name"] == "old-pod" and rep["summary"]["fail"] == 1
    ns_policy = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "ns-label"},
                 "spec": {"rules": [{"name": "owner", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
                                     "validate": {"pattern": {"metadata": {"labels": {"owner": "?*"}}}}}]}}
    registry.create(plugin.CLUSTER_POLICY, None, ns_policy)
    kyverno.reports.process()
    scopes = {r["scope"]["name"] for r in registry.list(CLUSTER_POLICY_REPORT)}
    assert {"default", "team"} <= scopes


def test_emit_warning(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    base = CHAINSAW / "validate/clusterpolicy/standard/emit-warning"
    registry.create(plugin.CLUSTER_POLICY, None, yaml.safe_load((base / "policy.yaml").read_text()))
    warnings: list[str] = []
    registry.create(POD, "default", yaml.safe_load((base / "pod.yaml").read_text()), warnings=warnings)
    assert ["Warning: " + w for w in warnings] == [EX["audit_warning_emitWarning_true"]["stderr"]]


def test_dry_run_is_checked_but_not_reported(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    registry.create(plugin.CLUSTER_POLICY, None, copy.deepcopy(SEED_POLICY))
    e = denied(registry.create, POD, "registry-lab", pod("disallowed-app", "docker.io/nginx:latest"), dry_run=True)
    assert e.message == SEED_DENIAL


def test_namespaced_policy_applies_to_its_namespace_only(registry: Registry, kyverno: plugin.KyvernoPlugin) -> None:
    policy = copy.deepcopy(SEED_POLICY)
    policy["kind"] = "Policy"
    registry.create(plugin.POLICY, "registry-lab", policy)
    registry.create(POD, "default", pod("elsewhere", "docker.io/nginx:latest"))
    e = denied(registry.create, POD, "registry-lab", pod("disallowed-app", "docker.io/nginx:latest"))
    assert e.message == SEED_DENIAL


# --- the verifyImages hook -------------------------------------------------------------------------------------


VERIFY_POLICY = yaml.safe_load("""
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signatures
spec:
  validationFailureAction: Enforce
  background: false
  webhookTimeoutSeconds: 30
  rules:
  - name: verify-signature
    match:
      any:
      - resources:
          kinds:
          - Pod
    verifyImages:
    - imageReferences:
      - "docker.io/youruser/*"
      attestors:
      - count: 1
        entries:
        - keys:
            publicKeys: |-
              -----BEGIN PUBLIC KEY-----
              MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
              -----END PUBLIC KEY-----
""")


def test_verify_images_hook(registry: Registry, clock: Clock) -> None:
    calls = []

    def hook(req, targets):
        calls.append((req.operation, req.rt.kind, [(t.key, [r["name"] for r in t.rules], t.failure_policy)
                                                   for t in targets]))
        image = req.obj["spec"]["containers"][0]["image"]
        if "unsigned" in image:
            msg = f"failed to verify image docker.io/{image.removeprefix('docker.io/')}: " \
                  ".attestors[0].entries[0].keys: no signatures found"
            return [PolicyResponse(t.policy, [RuleResult("verify-signature", RuleStatus.FAIL, msg)]) for t in targets]
        req.obj["spec"]["containers"][0]["image"] = image + "@sha256:" + "a" * 64  # mutateDigest
        return [PolicyResponse(t.policy, [RuleResult("verify-signature", RuleStatus.PASS, "verified")]) for t in targets]

    kp = plugin.install(registry, verify_images=hook)
    registry.create(NS, None, {"metadata": {"name": "registry-lab"}})
    registry.create(plugin.CLUSTER_POLICY, None, copy.deepcopy(VERIFY_POLICY))
    ok = registry.create(POD, "registry-lab", pod("signed-app", "docker.io/youruser/signed-app:v1.0"))
    assert ok["spec"]["containers"][0]["image"].endswith("@sha256:" + "a" * 64)
    e = denied(registry.create, POD, "registry-lab", pod("unsigned-app", "docker.io/youruser/unsigned-app:v1.0"))
    assert e.message == (
        'admission webhook "mutate.kyverno.svc-fail" denied the request: \n\n'
        "resource Pod/registry-lab/unsigned-app was blocked due to the following policies \n\n"
        "verify-image-signatures:\n"
        "  verify-signature: 'failed to verify image docker.io/youruser/unsigned-app:v1.0:\n"
        "    .attestors[0].entries[0].keys: no signatures found'\n")
    assert calls[0] == ("CREATE", "Pod", [("verify-image-signatures", ["verify-signature"], "Fail")])
    # images outside imageReferences are not handed to the hook... but the rule still matches Pods
    registry.create(POD, "registry-lab", pod("other", "docker.io/nginx:1.25"))
    kp.reports.process()
    rep = [r for r in registry.list(POLICY_REPORT, "registry-lab") if r["scope"]["name"] == "signed-app"]
    assert rep and rep[0]["results"][0]["result"] == "pass"
