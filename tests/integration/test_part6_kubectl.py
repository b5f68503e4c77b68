"""The seed's Part 6 (Exercises 12-14) end to end: a real sandbox process, the real kubectl, real registries.

The module runs its own sandbox because installing Kyverno cannot be undone (the shared sandbox of the other
integration tests must stay without it, as the verification script there expects). Steps build on each other
in file order, as a learner's shell would: one kubectl HOME (discovery cache) and one working directory.
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

from labhelpers.kyverno import KyvernoInstallError, install_kyverno
from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.admin import kyverno_info
from labhelpers.sandbox.admission.kyverno.plugin import KYVERNO_IMAGE, KYVERNO_VERSION
from labhelpers.sandbox.admission.kyverno.verify_adapter import (
    ANNOTATION,
    image_fields,
    kyverno_pull_secrets,
    validate_images_rule,
)
from labhelpers.sandbox.apiserver import resources as res
from labhelpers.sandbox.apiserver.objects import Registry
from labhelpers.sandbox.apiserver.store import Store
from labhelpers.sandbox.registries.distribution import registry_binary

from ..conftest import load_conformance
from .conftest import Result, kubectl_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kubectl,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

EX = load_conformance("kyverno-messages.json")["examples"]  # type: ignore[index]
LABCTL = [sys.executable, "-m", "labhelpers.cli"]

# The seed's Exercise 13 here-doc, verbatim.
EXERCISE_13 = """\
cat > allowed-registries-policy.yaml <<EOF
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
EOF
"""

# The seed's Exercise 14 here-doc, verbatim: only the first line of the key body is indented.
EXERCISE_14_SEED = """\
cat > require-signatures-policy.yaml <<EOF
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
              $(cat cosign.pub | tail -n +2 | head -n -1)
              -----END PUBLIC KEY-----
EOF
"""

# The corrected here-doc the notebook teaches: every line of the key indented under ``publicKeys: |-``.
EXERCISE_14_FIXED = EXERCISE_14_SEED.replace(
    """              -----BEGIN PUBLIC KEY-----
              $(cat cosign.pub | tail -n +2 | head -n -1)
              -----END PUBLIC KEY-----
""", """$(sed 's/^/              /' cosign.pub)
""")

UNSIGNED_DENIAL = (
    'Error from server: admission webhook "mutate.kyverno.svc-fail" denied the request: \n\n'
    "resource Pod/registry-lab/unsigned-app was blocked due to the following policies \n\n"
    "verify-image-signatures:\n"
    "  verify-signature: 'failed to verify image docker.io/youruser/unsigned-app:v1.0:\n"
    "    .attestors[0].entries[0].keys: no signatures found'\n")


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox(tmp_path_factory.mktemp("part6") / "state")
    sb.up()
    yield sb
    sb.down()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("part6-work")
    (d / "home").mkdir()
    return d


@pytest.fixture(scope="module")
def k(lab: Sandbox, workdir: Path):
    """kubectl with one HOME for the whole module (its discovery cache outlives the Kyverno install), run in
    the working directory so that file names print as the learner typed them."""
    kc = workdir / "kubeconfig"
    shutil.copy(lab.kubeconfig, kc)
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(KUBECONFIG=str(kc), HOME=str(workdir / "home"))
    binary = kubectl_binary()

    def run(*args: str, timeout: float = 60) -> Result:
        p = subprocess.run([binary, *args], capture_output=True, text=True, env=env, cwd=workdir, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def sh(workdir: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=workdir, capture_output=True, text=True, timeout=60)


def rows(r: Result) -> list[list[str]]:
    return [re.split(r"\s{2,}", ln.strip()) for ln in r.out.strip().splitlines()]


def poll(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def policy_report(k, namespace: str, pod: str) -> dict | None:
    r = k("get", "policyreport", "-n", namespace, "-o", "json")
    for item in json.loads(r.out or "{}").get("items", []):
        if item.get("scope", {}).get("name") == pod:
            return item
    return None


@pytest.fixture(scope="module")
def installed(lab: Sandbox) -> dict:
    return install_kyverno(sandbox_dir=lab.dir)


@pytest.fixture(scope="module")
def cosign(lab: Sandbox) -> dict:
    out = subprocess.run([*LABCTL, "sandbox", "info", "--dir", str(lab.dir), "-o", "json"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return json.loads(out)["cosign"]


# --- Exercise 12: before and after installing ------------------------------------------------------------


def test_clusterpolicy_before_install_fails_as_without_the_crd(lab, k, workdir):
    assert kyverno_info(lab.dir)["installed"] is False
    assert sh(workdir, EXERCISE_13).returncode == 0
    r = k("apply", "-f", "allowed-registries-policy.yaml")
    assert r.rc == 1
    assert r.err == ('error: resource mapping not found for name: "restrict-registries" namespace: "" from '
                     '"allowed-registries-policy.yaml": no matches for kind "ClusterPolicy" in version '
                     '"kyverno.io/v1"\nensure CRDs are installed first\n')
    r = k("get", "clusterpolicy")
    assert (r.rc, r.err) == (1, 'error: the server doesn\'t have a resource type "clusterpolicy"\n')
    r = k("get", "deployment", "-n", "kyverno", "kyverno")
    assert (r.rc, r.err) == (1, 'Error from server (NotFound): namespaces "kyverno" not found\n')


def test_labctl_install_kyverno(lab, k, workdir):
    p = subprocess.run([*LABCTL, "install", "kyverno", "--dir", str(lab.dir)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"kyverno {KYVERNO_VERSION} installed in the lab sandbox (namespace kyverno)\n"
    p = subprocess.run([*LABCTL, "install", "kyverno", "--dir", str(lab.dir)], capture_output=True, text=True,
                       timeout=120)
    assert p.stdout == f"kyverno {KYVERNO_VERSION} is already installed in the lab sandbox (namespace kyverno)\n"
    assert kyverno_info(lab.dir) == {"installed": True, "version": KYVERNO_VERSION, "namespace": "kyverno"}
    # The same kubectl HOME: the discovery cache from before the install must not hide the new kinds.
    r = k("apply", "-f", "allowed-registries-policy.yaml")
    assert (r.rc, r.out, r.err) == (0, "clusterpolicy.kyverno.io/restrict-registries created\n", "")


def test_install_kyverno_api_for_the_sandbox(lab, installed):
    from kubernetes import config

    assert installed == {"target": "sandbox", "installed": True, "version": KYVERNO_VERSION,
                         "namespace": "kyverno", "created": False}
    api = config.new_client_from_config(config_file=str(lab.kubeconfig))
    assert install_kyverno(api)["target"] == "sandbox"  # an ApiClient connected to a sandbox is recognised
    with pytest.raises(KyvernoInstallError, match=r"emulates Kyverno v1\.15\.2 only \(asked for v1\.11\.0\)"):
        install_kyverno(api, version="1.11.0")


def test_apply_manifest_server_side(lab, k):
    """The real-cluster path minus the download: server-side apply of a multi-document manifest."""
    from kubernetes import config

    from labhelpers.kyverno import apply_manifest

    api = config.new_client_from_config(config_file=str(lab.kubeconfig))
    manifest = ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ssa-demo\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ssa-demo\n"
                "data:\n  mode: audit\n")
    assert apply_manifest(api, manifest) == ["namespace/ssa-demo", "configmap/settings"]
    assert apply_manifest(api, manifest.replace("audit", "enforce"))[1] == "configmap/settings"
    r = k("get", "configmap", "settings", "-n", "ssa-demo", "-o", "jsonpath={.data.mode}")
    assert r.out == "enforce"


def test_kyverno_becomes_ready(k, installed):
    r = k("wait", "--for=condition=ready", "pod", "-l", "app.kubernetes.io/name=kyverno", "-n", "kyverno",
          "--timeout=300s", timeout=320)
    assert r.rc == 0, r.err
    assert re.fullmatch(r"pod/kyverno-[a-z0-9]+-[a-z0-9]{5} condition met\n", r.out)
    r = k("get", "deployment", "-n", "kyverno", "kyverno")
    assert r.rc == 0, r.err
    table = rows(r)
    assert table[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1][:4] == ["kyverno", "1/1", "1", "1"]
    pods = json.loads(k("get", "pods", "-n", "kyverno", "-o", "json").out)["items"]
    assert [p["spec"]["containers"][0]["image"] for p in pods] == [KYVERNO_IMAGE]
    assert pods[0]["status"]["phase"] == "Running"
    assert pods[0]["status"]["containerStatuses"][0]["imageID"].startswith("ghcr.io/kyverno/kyverno@sha256:")


def test_verification_script_test4(k, workdir, installed):
    """The seed's verification script, Test 4, with the same kubectl and kubeconfig."""
    script = ("kubectl get deployment -n kyverno kyverno &>/dev/null\n"
              "if [ $? -eq 0 ]; then echo installed; else echo missing; fi\n")
    bindir = workdir / "bin"
    bindir.mkdir(exist_ok=True)
    link = bindir / "kubectl"
    if not link.exists():
        link.symlink_to(kubectl_binary())
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env={
        "PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(workdir / "home"), "KUBECONFIG": str(workdir / "kubeconfig")})
    assert p.stdout == "installed\n"


# --- Exercise 13 ------------------------------------------------------------------------------------------


def test_exercise13_allowed_and_disallowed(k, workdir, installed):
    r = k("apply", "-f", "allowed-registries-policy.yaml")
    assert r.rc == 0, r.err
    r = k("create", "namespace", "registry-lab")
    assert r.rc == 0, r.err
    r = k("run", "allowed-app", "--image=docker.io/youruser/app:v1.0", "-n", "registry-lab")
    assert (r.rc, r.out, r.err) == (0, "pod/allowed-app created\n", "")
    r = k("run", "disallowed-app", "--image=docker.io/nginx:latest", "-n", "registry-lab")
    assert r.rc == 1
    assert r.out == ""
    assert r.err == (
        'Error from server: admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'
        "resource Pod/registry-lab/disallowed-app was blocked due to the following policies \n\n"
        "restrict-registries:\n"
        "  validate-registry: 'validation error: Images must come from approved registries:\n"
        "    docker.io/youruser, gcr.io/yourproject, or myregistry.com. rule validate-registry\n"
        "    failed at path /spec/containers/0/image/'\n")
    r = k("get", "pod", "disallowed-app", "-n", "registry-lab")
    assert r.err == 'Error from server (NotFound): pods "disallowed-app" not found\n'


def test_clusterpolicy_columns(k, installed):
    r = k("get", "clusterpolicy")
    table = rows(r)
    assert table[0] == ["NAME", "ADMISSION", "BACKGROUND", "READY", "AGE", "MESSAGE"]
    row = next(x for x in table if x[0] == "restrict-registries")
    assert row[1:4] == ["true", "true", "True"] and row[5] == "Ready"
    assert re.fullmatch(r"\d+s", row[4])
    r = k("get", "cpol", "-o", "wide")
    assert rows(r)[0] == ["NAME", "ADMISSION", "BACKGROUND", "READY", "AGE", "FAILURE POLICY", "VALIDATE",
                          "MUTATE", "GENERATE", "VERIFY IMAGES", "MESSAGE"]


def test_messages_json_examples_with_kubectl(k, workdir, installed):
    """The exact stderr of kyverno-messages.json, for its own policy (restrict-registries, short message)."""
    policy = yaml.safe_load((workdir / "allowed-registries-policy.yaml").read_text())
    policy["spec"]["rules"][0]["validate"] = {
        "message": "Images must come from approved registries.",
        "pattern": {"spec": {key: [{"image": "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"}]
                             for key in ("containers", "=(initContainers)", "=(ephemeralContainers)")}}}
    (workdir / "messages-policy.yaml").write_text(yaml.safe_dump(policy))
    assert k("apply", "-f", "messages-policy.yaml").rc == 0
    try:
        r = k("run", "bad-pod", "--image=nginx:1.25", "-n", "default")
        assert (r.rc, r.err) == (1, EX["lab_enforce_kubectl_run"]["stderr"] + "\n")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-pod", "namespace": "default"},
               "spec": {"containers": [{"name": "bad-pod", "image": "nginx:1.25"}]}}
        (workdir / "pod.yaml").write_text(yaml.safe_dump(pod))
        r = k("apply", "-f", "pod.yaml")
        assert (r.rc, r.err) == (1, EX["lab_enforce_kubectl_apply_file"]["stderr"] + "\n")
        del policy["spec"]["rules"][0]["validate"]["message"]
        (workdir / "messages-policy.yaml").write_text(yaml.safe_dump(policy))
        assert k("apply", "-f", "messages-policy.yaml").rc == 0
        r = k("run", "bad-pod", "--image=nginx:1.25", "-n", "default")
        assert (r.rc, r.err) == (1, EX["lab_enforce_no_message_field"]["stderr"] + "\n")
    finally:
        assert k("apply", "-f", "allowed-registries-policy.yaml").rc == 0


def test_audit_mode_warns_and_reports(k, workdir, installed):
    text = (workdir / "allowed-registries-policy.yaml").read_text()
    audit = text.replace("validationFailureAction: Enforce", "validationFailureAction: Audit\n  emitWarning: true")
    (workdir / "audit-policy.yaml").write_text(audit)
    r = k("apply", "-f", "audit-policy.yaml")
    assert (r.rc, r.out) == (0, "clusterpolicy.kyverno.io/restrict-registries configured\n"), r.err
    try:
        r = k("run", "audit-app", "--image=docker.io/nginx:latest", "-n", "registry-lab")
        assert (r.rc, r.out) == (0, "pod/audit-app created\n")
        assert r.err == ("Warning: policy restrict-registries.validate-registry: validation error: Images must "
                         "come from approved registries: docker.io/youruser, gcr.io/yourproject, or "
                         "myregistry.com. rule validate-registry failed at path /spec/containers/0/image/\n")
        report = poll(lambda: policy_report(k, "registry-lab", "audit-app"))
        assert report is not None
        assert report["summary"]["fail"] == 1
        assert [(x["policy"], x["rule"], x["result"]) for x in report["results"]] == [
            ("restrict-registries", "validate-registry", "fail")]
        table = rows(k("get", "policyreport", "-n", "registry-lab"))
        assert table[0] == ["NAME", "KIND", "NAME", "PASS", "FAIL", "WARN", "ERROR", "SKIP", "AGE"]
        assert [x[1:8] for x in table if x[2] == "audit-app"] == [["Pod", "audit-app", "0", "1", "0", "0", "0"]]
    finally:
        assert k("apply", "-f", "allowed-registries-policy.yaml").rc == 0
        k("delete", "pod", "audit-app", "-n", "registry-lab", "--wait=false")


def test_bad_pattern_rejected_at_creation(k, workdir, installed):
    policy = yaml.safe_load((workdir / "allowed-registries-policy.yaml").read_text())
    policy["metadata"]["name"] = "bad-pattern"
    policy["spec"]["rules"][0]["validate"]["pattern"] = {"spec": {"containers": [{"+(image)": "docker.io/x/*"}]}}
    (workdir / "bad-pattern-policy.yaml").write_text(yaml.safe_dump(policy))
    r = k("apply", "-f", "bad-pattern-policy.yaml")
    assert r.rc == 1
    assert r.err.startswith('Error from server: error when creating "bad-pattern-policy.yaml": admission webhook '
                            '"validate-policy.kyverno.svc" denied the request: path: spec.rules[0].validate.pattern')
    assert r.err.endswith(": unsupported anchor +(image)\n")
    assert k("get", "cpol", "bad-pattern").rc == 1


# --- Exercise 14 ------------------------------------------------------------------------------------------


def test_exercise14_seed_heredoc_is_broken_yaml(k, workdir, cosign, installed):
    shutil.copy(cosign["public_key_path"], workdir / "cosign.pub")
    assert sh(workdir, EXERCISE_14_SEED).returncode == 0
    text = (workdir / "require-signatures-policy.yaml").read_text()
    assert re.search(r"^[A-Za-z0-9+/=]{20,}$", text, re.M)  # a key line at column 0
    r = k("apply", "-f", "require-signatures-policy.yaml")
    assert r.rc == 1
    assert re.fullmatch(r"error: error parsing require-signatures-policy\.yaml: error converting YAML to JSON: "
                        r"yaml: line \d+: could not find expected ':'\n", r.err)


def test_exercise14_signed_admitted_and_pinned(k, workdir, cosign, installed):
    shutil.copy(cosign["public_key_path"], workdir / "cosign.pub")
    assert sh(workdir, EXERCISE_14_FIXED).returncode == 0
    policy = yaml.safe_load((workdir / "require-signatures-policy.yaml").read_text())
    key = policy["spec"]["rules"][0]["verifyImages"][0]["attestors"][0]["entries"][0]["keys"]["publicKeys"]
    assert key == Path(cosign["public_key_path"]).read_text().strip()
    r = k("apply", "-f", "require-signatures-policy.yaml")
    assert (r.rc, r.out) == (0, "clusterpolicy.kyverno.io/verify-image-signatures created\n"), r.err
    r = k("run", "signed-app", "--image=docker.io/youruser/signed-app:v1.0", "-n", "registry-lab")
    assert (r.rc, r.out, r.err) == (0, "pod/signed-app created\n", "")
    digest = next(s["digest"] for s in cosign["signed_images"] if s["image"] == "docker.io/youruser/signed-app:v1.0")
    pod = json.loads(k("get", "pod", "signed-app", "-n", "registry-lab", "-o", "json").out)
    assert pod["spec"]["containers"][0]["image"] == f"docker.io/youruser/signed-app:v1.0@{digest}"
    assert json.loads(pod["metadata"]["annotations"][ANNOTATION]) == {
        f"docker.io/youruser/signed-app@{digest}": "pass"}
    r = k("wait", "--for=condition=ready", "pod/signed-app", "-n", "registry-lab", "--timeout=60s", timeout=90)
    assert r.rc == 0, r.err
    report = poll(lambda: (rep := policy_report(k, "registry-lab", "signed-app")) and len(rep["results"]) == 2
                  and rep)
    assert report, "no policy report with both policies' results for signed-app"
    results = {(x["policy"], x["rule"]): (x["result"], x["message"]) for x in report["results"]}
    assert results[("verify-image-signatures", "verify-signature")] == (
        "pass", "verified image signatures for docker.io/youruser/signed-app:v1.0")
    assert results[("restrict-registries", "validate-registry")][0] == "pass"


def test_exercise14_unsigned_denied(k, installed):
    r = k("run", "unsigned-app", "--image=docker.io/youruser/unsigned-app:v1.0", "-n", "registry-lab")
    assert (r.rc, r.out, r.err) == (1, "", UNSIGNED_DENIAL)


def test_exercise14_deployments_autogen(k, cosign, installed):
    """The autogen rule checks the Pod template: signed is pinned in the Deployment, unsigned is denied."""
    r = k("create", "deployment", "signed-web", "--image=docker.io/youruser/signed-app:v1.0", "-n", "registry-lab")
    assert (r.rc, r.out) == (0, "deployment.apps/signed-web created\n"), r.err
    digest = next(s["digest"] for s in cosign["signed_images"] if s["image"] == "docker.io/youruser/signed-app:v1.0")
    r = k("get", "deployment", "signed-web", "-n", "registry-lab", "-o",
          "jsonpath={.spec.template.spec.containers[0].image}")
    assert r.out == f"docker.io/youruser/signed-app:v1.0@{digest}"
    r = k("create", "deployment", "web", "--image=docker.io/youruser/unsigned-app:v1.0", "-n", "registry-lab")
    assert r.rc == 1
    assert r.err == (
        'error: failed to create deployment: admission webhook "mutate.kyverno.svc-fail" denied the request: \n\n'
        "resource Deployment/registry-lab/web was blocked due to the following policies \n\n"
        "verify-image-signatures:\n"
        "  autogen-verify-signature: 'failed to verify image docker.io/youruser/unsigned-app:v1.0:\n"
        "    .attestors[0].entries[0].keys: no signatures found'\n")


def test_wrong_key_denies_signed_app(k, workdir, installed):
    from labhelpers.trust import generate_key_pair

    _, other = generate_key_pair("not-the-lab-key")
    policy = yaml.safe_load((workdir / "require-signatures-policy.yaml").read_text())
    policy["metadata"]["name"] = "wrong-key"
    policy["spec"]["rules"][0]["verifyImages"][0]["attestors"][0]["entries"][0]["keys"]["publicKeys"] = \
        other.decode().strip()
    (workdir / "wrong-key-policy.yaml").write_text(yaml.safe_dump(policy))
    assert k("apply", "-f", "wrong-key-policy.yaml").rc == 0
    try:
        r = k("run", "signed-app-2", "--image=docker.io/youruser/signed-app:v1.0", "-n", "registry-lab")
        assert r.rc == 1
        assert r.err == (
            'Error from server: admission webhook "mutate.kyverno.svc-fail" denied the request: \n\n'
            "resource Pod/registry-lab/signed-app-2 was blocked due to the following policies \n\n"
            "wrong-key:\n"
            "  verify-signature: 'failed to verify image docker.io/youruser/signed-app:v1.0: "
            ".attestors[0].entries[0].keys:\n"
            "    no matching signatures: invalid signature when validating ASN.1 encoded signature'\n")
    finally:
        k("delete", "cpol", "wrong-key")


def test_unknown_registry_is_a_rule_error(k, workdir, installed):
    """A registry the sandbox DNS does not know: a network error, so a rule *error* (failurePolicy Fail blocks)."""
    policy = yaml.safe_load((workdir / "require-signatures-policy.yaml").read_text())
    policy["metadata"]["name"] = "unknown-host"
    policy["spec"]["rules"][0]["verifyImages"][0]["imageReferences"] = ["unknown.example.com/*"]
    (workdir / "unknown-host-policy.yaml").write_text(yaml.safe_dump(policy))
    assert k("apply", "-f", "unknown-host-policy.yaml").rc == 0
    try:
        r = k("run", "unknown", "--image=unknown.example.com/app:1", "-n", "registry-lab")
        assert r.rc == 1
        assert r.err.endswith(
            "  verify-signature: 'failed to verify image unknown.example.com/app:1: .attestors[0].entries[0].keys:\n"
            "    Get \"https://unknown.example.com/v2/\": dial tcp: lookup unknown.example.com: no\n"
            "    such host'\n")
    finally:
        k("delete", "cpol", "unknown-host")


def test_verify_digest_without_mutate_digest(k, workdir, cosign, installed):
    """``mutateDigest: false`` leaves the tag, and the validating webhook's ``verifyDigest`` then denies it."""
    policy = yaml.safe_load((workdir / "require-signatures-policy.yaml").read_text())
    policy["metadata"]["name"] = "no-mutate"
    policy["spec"]["rules"][0]["verifyImages"][0]["mutateDigest"] = False
    (workdir / "no-mutate-policy.yaml").write_text(yaml.safe_dump(policy))
    # Exercise 14's policy would pin the digest first (mutateDigest defaults to true): set it aside.
    assert k("delete", "cpol", "verify-image-signatures").rc == 0
    assert k("apply", "-f", "no-mutate-policy.yaml").rc == 0
    try:
        r = k("run", "signed-app-3", "--image=docker.io/youruser/signed-app:v1.0", "-n", "registry-lab")
        assert r.rc == 1
        assert r.err == (
            'Error from server: admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'
            "resource Pod/registry-lab/signed-app-3 was blocked due to the following policies \n\n"
            "no-mutate:\n"
            "  verify-signature: missing digest for docker.io/youruser/signed-app:v1.0\n")
        digest = cosign["signed_images"][0]["digest"]
        r = k("run", "signed-app-3", f"--image=docker.io/youruser/signed-app:v1.0@{digest}", "-n", "registry-lab")
        assert (r.rc, r.out) == (0, "pod/signed-app-3 created\n"), r.err
    finally:
        k("delete", "cpol", "no-mutate")
        assert k("apply", "-f", "require-signatures-policy.yaml").rc == 0


def test_kyverno_reads_registries_with_its_own_credentials(k, workdir, installed):
    """A private image: the Pod's imagePullSecrets do not help Kyverno; a Secret in its namespace does."""
    secret = ["create", "secret", "docker-registry", "regcred", "--docker-server=https://index.docker.io/v1/",
              "--docker-username=your-username", "--docker-password=your-password"]
    assert k(*secret, "-n", "registry-lab").rc == 0
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "private-app", "namespace": "registry-lab"},
           "spec": {"imagePullSecrets": [{"name": "regcred"}],
                    "containers": [{"name": "app", "image": "docker.io/youruser/private-app:v1.0"}]}}
    (workdir / "private-pod.yaml").write_text(yaml.safe_dump(pod))
    r = k("apply", "-f", "private-pod.yaml")
    assert r.rc == 1
    assert ("failed to verify image docker.io/youruser/private-app:v1.0: .attestors[0].entries[0].keys:\n"
            "    GET https://index.docker.io/v2/youruser/private-app/manifests/v1.0: UNAUTHORIZED:\n"
            "    authentication required; [map[Action:pull Class: Name:youruser/private-app Type:repository]]'"
            in r.err)
    assert k(*secret, "-n", "kyverno").rc == 0
    policy = yaml.safe_load((workdir / "require-signatures-policy.yaml").read_text())
    policy["spec"]["rules"][0]["verifyImages"][0]["imageRegistryCredentials"] = {"secrets": ["regcred"]}
    (workdir / "creds-policy.yaml").write_text(yaml.safe_dump(policy))
    assert k("apply", "-f", "creds-policy.yaml").rc == 0
    try:
        r = k("apply", "-f", "private-pod.yaml")
        assert r.rc == 1
        assert r.err.endswith("'failed to verify image docker.io/youruser/private-app:v1.0: "
                              ".attestors[0].entries[0].keys:\n    no signatures found'\n")
    finally:
        assert k("apply", "-f", "require-signatures-policy.yaml").rc == 0


def test_restart_keeps_kyverno_and_policies(lab, k, workdir, installed):
    lab.down()
    lab.up()
    shutil.copy(lab.kubeconfig, workdir / "kubeconfig")  # the learner's KUBECONFIG is the sandbox's own file
    assert kyverno_info(lab.dir)["installed"] is True
    r = k("get", "cpol")
    assert r.rc == 0, r.err
    names = [x[0] for x in rows(r)[1:]]
    assert names == ["restrict-registries", "verify-image-signatures"]
    r = k("run", "unsigned-app", "--image=docker.io/youruser/unsigned-app:v1.0", "-n", "registry-lab")
    assert (r.rc, r.err) == (1, UNSIGNED_DENIAL)
    r = k("get", "deployment", "-n", "kyverno", "kyverno")
    assert r.rc == 0, r.err


# --- the adapter's pure parts ---------------------------------------------------------------------------


def _rule(**entry) -> dict:
    return {"name": "check", "verifyImages": [{"imageReferences": ["docker.io/youruser/*"],
                                               "attestors": [{"entries": [{"keys": {"publicKeys": "k"}}]}],
                                               **entry}]}


def _pod(image: str, annotations: dict | None = None) -> dict:
    meta: dict = {"name": "p", "namespace": "ns"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{"name": "c", "image": image}]}}


D = "sha256:" + "a" * 64


def test_validating_half_messages() -> None:
    signed = f"youruser/app:v1@{D}"
    key = f"docker.io/youruser/app@{D}"
    check = validate_images_rule
    assert check(_rule(), _pod("nginx"), "Pod") is None  # no matching image: no rule response
    r = check(_rule(), _pod("youruser/app:v1"), "Pod")
    assert (r.status, r.message) == ("fail", "missing digest for docker.io/youruser/app:v1")
    r = check(_rule(verifyDigest=False), _pod("youruser/app:v1"), "Pod")
    assert (r.status, r.message) == ("fail", "unverified image docker.io/youruser/app:v1")
    r = check(_rule(), _pod(signed, {"other": "x"}), "Pod")
    assert (r.status, r.message) == ("fail", "image is not verified")
    r = check(_rule(), _pod(signed, {ANNOTATION: json.dumps({key: "pass"})}), "Pod")
    assert (r.status, r.message) == ("pass", "image verified")
    r = check(_rule(), _pod(signed, {ANNOTATION: json.dumps({key: True})}), "Pod")  # Kyverno <= 1.11 format
    assert (r.status, r.message) == ("pass", "image verified")
    r = check(_rule(), _pod(signed, {ANNOTATION: json.dumps({key: "skip"})}), "Pod")
    assert (r.status, r.message) == ("skip", f"image skipped, skipped images: {key}")
    r = check(_rule(required=False), _pod(signed), "Pod")
    assert (r.status, r.message) == ("pass", "image verified")


def test_image_fields_follow_the_standard_extractors() -> None:
    deploy = {"kind": "Deployment", "spec": {"template": {"spec": {
        "initContainers": [{"name": "i", "image": "busybox"}], "containers": [{"name": "c", "image": "nginx"}]}}}}
    assert image_fields(deploy) == [(("spec", "template", "spec", "containers", 0, "image"), "nginx"),
                                    (("spec", "template", "spec", "initContainers", 0, "image"), "busybox")]
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "alpine"}]}}}}}}
    assert [img for _, img in image_fields(cron)] == ["alpine"]
    assert image_fields({"kind": "ConfigMap", "data": {}}) == []


def test_pull_secrets_are_kyvernos_own(tmp_path: Path) -> None:
    registry = Registry(Store(tmp_path / "db"))
    ns, secret, deploy = (res.lookup("", "v1", "namespaces"), res.lookup("", "v1", "secrets"),
                          res.lookup("apps", "v1", "deployments"))
    for name in ("kyverno", "app"):
        registry.create(ns, None, {"metadata": {"name": name}})
    for namespace, name in (("kyverno", "flag-secret"), ("kyverno", "rule-secret"), ("app", "flag-secret")):
        registry.create(secret, namespace, {"metadata": {"name": name}, "type": "Opaque", "data": {}})
    registry.create(deploy, "kyverno", {"metadata": {"name": "kyverno"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
            "containers": [{"name": "kyverno", "image": KYVERNO_IMAGE,
                            "args": ["--v=2", "--imagePullSecrets=flag-secret,missing"]}]}}}})
    found = kyverno_pull_secrets(registry, ["rule-secret"])
    assert [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in found] == [
        ("kyverno", "flag-secret"), ("kyverno", "rule-secret")]
