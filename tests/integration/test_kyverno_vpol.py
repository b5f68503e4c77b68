"""Kyverno's ValidatingPolicy in a real sandbox process, driven by the real kubectl.

Its own sandbox (installing Kyverno cannot be undone) and one kubectl HOME for the module, as a learner's shell:
steps build on each other in file order. Not served before ``labctl install kyverno``; then apply, list,
describe, a refused policy, and pods denied (``Deny``), warned (``Warn``) and reported (``Audit``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.registries.distribution import registry_binary

from .conftest import Result, kubectl_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kubectl,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

LABCTL = [sys.executable, "-m", "labhelpers.cli"]
NS = "vpol-lab"

POLICY = """\
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
        c.image.startsWith('gcr.io/yourproject/') ||
        c.image.startsWith('myregistry.com/'))
    message: "Images must come from approved registries"
"""
DENIAL = ('admission webhook "vpol.validate.kyverno.svc-fail" denied the request: '
          "Policy restrict-registries failed: Images must come from approved registries")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox(tmp_path_factory.mktemp("vpol") / "state")
    sb.up()
    yield sb
    sb.down()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("vpol-work")
    (d / "home").mkdir()
    (d / "vpol.yaml").write_text(POLICY)
    return d


@pytest.fixture(scope="module")
def k(lab: Sandbox, workdir: Path):
    kc = workdir / "kubeconfig"
    shutil.copy(lab.kubeconfig, kc)
    env = {key: v for key, v in os.environ.items() if key != "KUBECONFIG"}
    env.update(KUBECONFIG=str(kc), HOME=str(workdir / "home"))
    binary = kubectl_binary()

    def run(*args: str, input: str | None = None, timeout: float = 60) -> Result:
        p = subprocess.run([binary, *args], input=input, capture_output=True, text=True, env=env, cwd=workdir,
                           timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def with_spec(**changes) -> str:
    doc = yaml.safe_load(POLICY)
    doc["spec"].update(changes)
    return yaml.safe_dump(doc, sort_keys=False)


def poll(fn, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_not_served_before_kyverno_is_installed(k) -> None:
    r = k("apply", "-f", "vpol.yaml")
    assert (r.rc, r.out) == (1, "")
    assert r.err == ('error: resource mapping not found for name: "restrict-registries" namespace: "" from '
                     '"vpol.yaml": no matches for kind "ValidatingPolicy" in version "policies.kyverno.io/v1alpha1"\n'
                     "ensure CRDs are installed first\n")
    r = k("get", "validatingpolicies")
    assert (r.rc, r.err) == (1, 'error: the server doesn\'t have a resource type "validatingpolicies"\n')


def test_apply_get_describe_after_install(lab: Sandbox, k) -> None:
    subprocess.run([*LABCTL, "install", "kyverno", "--dir", str(lab.dir)], check=True, capture_output=True,
                   timeout=120)
    assert k("create", "namespace", NS).rc == 0
    r = k("apply", "-f", "vpol.yaml")
    assert (r.rc, r.out, r.err) == (0, "validatingpolicy.policies.kyverno.io/restrict-registries created\n", "")
    r = k("apply", "-f", "vpol.yaml")
    assert r.out == "validatingpolicy.policies.kyverno.io/restrict-registries unchanged\n"
    r = k("get", "vpol")
    lines = r.out.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["NAME", "AGE", "READY"]
    name, age, ready = re.split(r"\s{2,}", lines[1].strip())
    assert (name, ready) == ("restrict-registries", "false") and re.fullmatch(r"\d+s", age)
    status = json.loads(k("get", "validatingpolicy", "restrict-registries", "-o", "json").out)["status"]
    conditions = {c["type"]: (c["status"], c["message"]) for c in status["conditionStatus"]["conditions"]}
    assert conditions["WebhookConfigured"] == ("True", "Webhook configured.")
    assert conditions["RBACPermissionsGranted"][0] == "False"
    r = k("describe", "vpol", "restrict-registries")
    assert r.rc == 0 and "Kind:         ValidatingPolicy" in r.out and "Webhook configured." in r.out


def test_deny_refuses_a_disallowed_pod_and_admits_an_allowed_one(k, workdir: Path) -> None:
    r = k("run", "bad-pod", "--image=nginx:1.25", "-n", NS)
    assert (r.rc, r.out, r.err) == (1, "", f"Error from server: {DENIAL}\n")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "init-sneak", "namespace": NS},
           "spec": {"initContainers": [{"name": "setup", "image": "docker.io/evil/miner:latest"}],
                    "containers": [{"name": "app", "image": "docker.io/youruser/app:v1.0"}]}}
    (workdir / "init-sneak.yaml").write_text(yaml.safe_dump(pod))
    r = k("apply", "-f", "init-sneak.yaml")
    assert r.err == f'Error from server: error when creating "init-sneak.yaml": {DENIAL}\n'
    r = k("run", "allowed-app", "--image=myregistry.com/app3:v1.0", "-n", NS)
    assert (r.rc, r.out, r.err) == (0, "pod/allowed-app created\n", "")


def test_a_policy_that_does_not_compile_is_refused(k) -> None:
    def broken(**changes) -> str:
        return with_spec(**changes).replace("name: restrict-registries", "name: broken")

    r = k("create", "-f", "-", input=broken(validations=[
        {"expression": "variables.allContainers.all(c, c.image.startsWith(1))", "message": "x"}]))
    assert (r.rc, r.out) == (1, "")
    # cel-go's multi-line error is no valid warning header, so only the denial shows.
    assert r.err == (
        'Error from server: error when creating "STDIN": admission webhook "validate-policy.kyverno.svc" denied the '
        'request: spec.validations[0].expression: Invalid value: "variables.allContainers.all(c, '
        'c.image.startsWith(1))": ERROR: <input>:1:50: found no matching overload for \'startsWith\' applied to '
        "'dyn.(int)'\n | variables.allContainers.all(c, c.image.startsWith(1))\n"
        " | " + "." * 49 + "^\n")
    r = k("create", "-f", "-", input=broken(validations=[{"expression": "object.spec"}]))
    message = 'spec.validations[0].expression: Invalid value: "object.spec": output is expected to be of type bool'
    assert r.err == (f"Warning: {message}\n"
                     f'Error from server: error when creating "STDIN": admission webhook '
                     f'"validate-policy.kyverno.svc" denied the request: {message}\n')
    r = k("create", "-f", "-", input=broken(validationActions=["Enforce"]))
    assert r.err == ('The ValidatingPolicy "broken" is invalid: spec.validationActions[0]: Unsupported value: '
                     '"Enforce": supported values: "Deny", "Audit", "Warn"\n')
    assert k("get", "vpol", "broken").rc == 1


def test_warn_prints_a_warning_and_admits(k) -> None:
    r = k("apply", "-f", "-", input=with_spec(validationActions=["Warn"]))
    assert r.out == "validatingpolicy.policies.kyverno.io/restrict-registries configured\n"
    r = k("run", "warned", "--image=nginx:1.25", "-n", NS)
    assert (r.rc, r.out) == (0, "pod/warned created\n")
    assert r.err == "Warning: Policy restrict-registries failed: Images must come from approved registries\n"


def test_audit_writes_policy_report_results(k) -> None:
    assert k("apply", "-f", "-", input=with_spec(validationActions=["Audit"])).rc == 0
    r = k("run", "audited", "--image=nginx:1.25", "-n", NS)
    assert (r.rc, r.out, r.err) == (0, "pod/audited created\n", "")

    def results(pod: str) -> list[dict]:
        items = json.loads(k("get", "policyreport", "-n", NS, "-o", "json").out or "{}").get("items", [])
        return [res for it in items if it["scope"]["name"] == pod for res in it.get("results", [])
                if res.get("source") == "KyvernoValidatingPolicy"]

    audited = poll(lambda: results("audited"))
    assert [(x["policy"], x["result"], x["message"], x["properties"]) for x in audited] == [
        ("restrict-registries", "fail", "Images must come from approved registries", {"process": "background scan"})]
    assert "rule" not in audited[0]
    allowed = poll(lambda: results("allowed-app"))
    assert [(x["result"], x["message"]) for x in allowed] == [("pass", "success")]
    table = k("get", "policyreport", "-n", NS).out
    assert re.search(r"Pod\s+audited\s+0\s+1\s+0\s+0\s+0", table)


NO_LATEST = """\
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: no-latest
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["pods"]
  matchConditions:
  - name: not-exempt
    expression: "!('exempt' in object.metadata.?labels.orValue({}))"
  validations:
  - expression: "object.spec.containers.all(c, image(c.image).identifier() != 'latest')"
    messageExpression: "'images need a tag other than latest: ' + object.spec.containers.map(c, c.image).join(', ')"
"""


def test_fine_grained_webhook_and_autogen_for_deployments(k) -> None:
    assert k("apply", "-f", "-", input=NO_LATEST).rc == 0
    kinds = k("get", "vpol", "no-latest", "-o", "jsonpath={.status.autogen.configs.defaults.targets[*].kind}")
    assert kinds.out == "DaemonSet Deployment Job ReplicaSet StatefulSet"
    webhook = 'admission webhook "vpol.validate.kyverno.svc-fail-finegrained-no-latest" denied the request'
    r = k("create", "deployment", "web", "--image=nginx", "-n", NS)
    assert (r.rc, r.err) == (1, f"error: failed to create deployment: {webhook}: Policy no-latest failed: "
                                "images need a tag other than latest: nginx\n")
    r = k("run", "latest", "--image=busybox", "-n", NS)
    assert r.err == f"Error from server: {webhook}: Policy no-latest failed: images need a tag other than latest: " \
                    "busybox\n"
    r = k("run", "exempt", "--image=busybox", "--labels=exempt=yes", "-n", NS)
    assert (r.rc, r.out) == (0, "pod/exempt created\n")
    assert k("delete", "vpol", "no-latest").rc == 0


def test_deleting_the_policy_stops_enforcement(k) -> None:
    assert k("apply", "-f", "vpol.yaml").rc == 0
    assert k("run", "again", "--image=nginx:1.25", "-n", NS).rc == 1
    r = k("delete", "-f", "vpol.yaml")
    assert r.out == 'validatingpolicy.policies.kyverno.io "restrict-registries" deleted\n'
    r = k("run", "again", "--image=nginx:1.25", "-n", NS)
    assert (r.rc, r.out) == (0, "pod/again created\n")
    assert poll(lambda: not any(res.get("source") == "KyvernoValidatingPolicy" for it in json.loads(
        k("get", "policyreport", "-n", NS, "-o", "json").out or "{}").get("items", []) for res in it["results"]))
