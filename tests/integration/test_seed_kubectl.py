"""The seed's Parts 1, 2 and 7, its (corrected) verification script and its cleanup, run with the real kubectl.

Each step runs the seed's command unchanged (here-docs become files) and checks what a real cluster prints.
The steps share one kubeconfig, as a learner's shell would (set-context changes the namespace for later steps).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Result, kubectl_binary, make_runner

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]


@pytest.fixture(scope="module")
def k(sandbox, tmp_path_factory):
    d = tmp_path_factory.mktemp("seed")
    kc = d / "kubeconfig"
    shutil.copy(sandbox.kubeconfig, kc)
    (d / "home").mkdir()
    run = make_runner(kubectl_binary(), kc, d / "home")
    run.workdir = d  # type: ignore[attr-defined]
    run.kubeconfig = kc  # type: ignore[attr-defined]
    return run


def lines(r: Result) -> list[list[str]]:
    return [re.split(r"\s{2,}", ln.strip()) for ln in r.out.strip().splitlines()]


def write(k, name: str, text: str) -> str:
    p = Path(k.workdir) / name
    p.write_text(text)
    return str(p)


def test_part1_exercise1_create_namespace_and_secret(k):
    k("delete", "namespace", "registry-lab", "--ignore-not-found", "--wait=true")
    r = k("create", "namespace", "registry-lab")
    assert r.rc == 0, r.err
    assert r.out.strip() == "namespace/registry-lab created"
    r = k("create", "namespace", "registry-lab")
    assert r.rc == 1
    assert r.err.strip() == 'Error from server (AlreadyExists): namespaces "registry-lab" already exists'
    r = k("config", "set-context", "--current", "--namespace=registry-lab")
    assert r.out.strip() == 'Context "lab-sandbox" modified.'
    r = k("create", "secret", "docker-registry", "dockerhub-secret",
          "--docker-server=https://index.docker.io/v1/", "--docker-username=your-username",
          "--docker-password=your-password", "--docker-email=your-email@example.com")
    assert r.rc == 0, r.err
    assert r.out.strip() == "secret/dockerhub-secret created"
    r = k("create", "secret", "docker-registry", "dockerhub-secret", "--docker-username=a", "--docker-password=b")
    assert r.rc == 1
    assert r.err.strip() == 'error: failed to create secret secrets "dockerhub-secret" already exists'


def test_part1_exercise1_verify(k):
    r = k("get", "secret", "dockerhub-secret")
    rows = lines(r)
    assert rows[0] == ["NAME", "TYPE", "DATA", "AGE"]
    assert rows[1][:3] == ["dockerhub-secret", "kubernetes.io/dockerconfigjson", "1"]
    assert re.fullmatch(r"\d+s", rows[1][3])
    r = k("describe", "secret", "dockerhub-secret")
    assert r.rc == 0, r.err
    assert "Name:         dockerhub-secret" in r.out
    assert "Namespace:    registry-lab" in r.out
    assert "Type:  kubernetes.io/dockerconfigjson" in r.out
    assert re.search(r"^\.dockerconfigjson:\s+\d+ bytes$", r.out, re.M)
    r = k("get", "secret", "dockerhub-secret", "-o", "jsonpath={.data.\\.dockerconfigjson}")
    cfg = json.loads(base64.b64decode(r.out))
    entry = cfg["auths"]["https://index.docker.io/v1/"]
    assert entry["username"] == "your-username"
    assert base64.b64decode(entry["auth"]).decode() == "your-username:your-password"


def test_part1_exercise2_secret_from_docker_config(k):
    auth = base64.b64encode(b"your-username:your-password").decode()
    cfg = write(k, "config.json", json.dumps({"auths": {"myregistry.com": {"auth": auth}}}))
    r = k("create", "secret", "generic", "docker-config-secret", f"--from-file=.dockerconfigjson={cfg}",
          "--type=kubernetes.io/dockerconfigjson")
    assert r.rc == 0, r.err
    assert r.out.strip() == "secret/docker-config-secret created"
    bad = write(k, "bad.json", "not json")
    r = k("create", "secret", "generic", "bad-config", f"--from-file=.dockerconfigjson={bad}",
          "--type=kubernetes.io/dockerconfigjson")
    assert r.rc == 1
    assert r.err.strip() == (
        'error: failed to create secret Secret "bad-config" is invalid: data[.dockerconfigjson]: Invalid value: '
        '"<secret contents redacted>": invalid character \'o\' in literal null (expecting \'u\')')


def test_part1_exercise3_secret_from_yaml(k):
    auth = base64.b64encode(b"username:password").decode()
    cfg = base64.b64encode(json.dumps({"auths": {"myregistry.com": {"auth": auth}}}).encode()).decode()
    f = write(k, "registry-secret.yaml", f"""apiVersion: v1
kind: Secret
metadata:
  name: manual-registry-secret
  namespace: registry-lab
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: {cfg}
""")
    r = k("apply", "-f", f)
    assert r.rc == 0, r.err
    assert r.out.strip() == "secret/manual-registry-secret created"
    r = k("apply", "-f", f)
    assert r.out.strip() == "secret/manual-registry-secret unchanged"


PRIVATE_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: private-app
  namespace: registry-lab
spec:
  replicas: 1
  selector:
    matchLabels:
      app: private-app
  template:
    metadata:
      labels:
        app: private-app
    spec:
      containers:
      - name: app
        image: docker.io/yourusername/private-app:v1.0
        ports:
        - containerPort: 8080
      imagePullSecrets:
      - name: dockerhub-secret
"""


def test_part2_exercise4_deployment_with_pull_secret(k):
    f = write(k, "private-image-deployment.yaml", PRIVATE_DEPLOYMENT)
    r = k("apply", "-f", f)
    assert r.rc == 0, r.err
    assert r.out.strip() == "deployment.apps/private-app created"
    rows: list[list[str]] = []
    for _ in range(50):
        r = k("get", "pods", "-l", "app=private-app")
        rows = lines(r)
        if len(rows) == 2:
            break
        subprocess.run(["sleep", "0.1"])
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert re.fullmatch(r"private-app-[a-z0-9]+-[a-z0-9]{5}", rows[1][0])
    r = k("describe", "pod", "-l", "app=private-app")
    assert r.rc == 0, r.err
    assert re.search(r"^Controlled By:\s+ReplicaSet/private-app-[a-z0-9]+$", r.out, re.M)
    assert re.search(r"Port:\s+8080/TCP", r.out)
    # A changed apply goes through a strategic merge patch.
    r = k("apply", "-f", write(k, "v11.yaml", PRIVATE_DEPLOYMENT.replace("v1.0", "v1.1")))
    assert r.out.strip() == "deployment.apps/private-app configured"
    r = k("get", "deployment", "private-app", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert r.out == "docker.io/yourusername/private-app:v1.1"
    r = k("get", "deployment", "private-app", "-o", "jsonpath={.spec.template.spec.imagePullSecrets[0].name}")
    assert r.out == "dockerhub-secret"


def test_part2_exercise5_serviceaccount(k):
    f = write(k, "serviceaccount-with-secret.yaml", """apiVersion: v1
kind: ServiceAccount
metadata:
  name: registry-sa
  namespace: registry-lab
imagePullSecrets:
- name: dockerhub-secret
""")
    assert k("apply", "-f", f).out.strip() == "serviceaccount/registry-sa created"
    f = write(k, "pod-with-sa.yaml", """apiVersion: v1
kind: Pod
metadata:
  name: app-with-sa
  namespace: registry-lab
spec:
  serviceAccountName: registry-sa
  containers:
  - name: app
    image: docker.io/yourusername/private-app:v1.0
""")
    r = k("apply", "-f", f)
    assert r.out.strip() == "pod/app-with-sa created", r.err
    r = k("get", "pod", "app-with-sa", "-o", "jsonpath={.spec.imagePullSecrets[*].name}")
    assert r.out == "dockerhub-secret"  # copied in by ServiceAccount admission


def test_part2_exercise6_patch_default_serviceaccount(k):
    r = k("patch", "serviceaccount", "default", "-p", '{"imagePullSecrets": [{"name": "dockerhub-secret"}]}',
          "-n", "registry-lab")
    assert r.rc == 0, r.err
    assert r.out.strip() == "serviceaccount/default patched"
    r = k("get", "serviceaccount", "default", "-o", "yaml")
    out = r.out.splitlines()
    i = out.index("imagePullSecrets:")
    assert out[i + 1] == "- name: dockerhub-secret"


BROKEN_POD = """apiVersion: v1
kind: Pod
metadata:
  name: broken-pod
spec:
  containers:
  - name: app
    image: docker.io/private/image:v1.0
  imagePullSecrets:
  - name: wrong-secret
"""


def test_part7_exercise15_debug(k):
    r = k("apply", "-f", write(k, "broken-pod.yaml", BROKEN_POD))
    assert r.out.strip() == "pod/broken-pod created", r.err
    r = k("get", "pod", "broken-pod")
    assert lines(r)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines(r)[1][:2] == ["broken-pod", "0/1"]
    r = k("describe", "pod", "broken-pod")
    assert r.rc == 0 and "Name:             broken-pod" in r.out
    r = k("get", "secret", "wrong-secret")
    assert r.rc == 1
    assert r.err.strip() == 'Error from server (NotFound): secrets "wrong-secret" not found'
    r = k("get", "secret", "dockerhub-secret", "-o", "jsonpath={.data.\\.dockerconfigjson}")
    assert "auths" in base64.b64decode(r.out).decode()


MULTI = {"auths": {
    "docker.io": {"auth": base64.b64encode(b"user1:pass1").decode()},
    "ghcr.io": {"auth": base64.b64encode(b"user2:token2").decode()},
    "myregistry.com": {"auth": base64.b64encode(b"user3:pass3").decode()},
}}

# The seed's script with its Test 1 fixed: `echo $?  == 0 ]] && ...` is not a test at all (it echoes and the
# `]]` is a syntax error), so check the exit status with `if`.
VERIFY = r"""#!/bin/bash
echo "=== Registry Security Lab Verification ==="
echo "Test 1: Check ImagePullSecret"
if kubectl get secret dockerhub-secret -n registry-lab &>/dev/null; then
  echo "✅ ImagePullSecret exists"
else
  echo "❌ ImagePullSecret missing"
fi
echo ""
echo "Test 2: Check ServiceAccount"
kubectl get sa registry-sa -n registry-lab -o jsonpath='{.imagePullSecrets}' | grep -q "dockerhub-secret"
if [ $? -eq 0 ]; then
  echo "✅ ServiceAccount configured"
else
  echo "❌ ServiceAccount not configured"
fi
echo ""
echo "Test 3: Check multi-registry secret"
kubectl get secret multi-registry-secret -n registry-lab &>/dev/null
if [ $? -eq 0 ]; then
  NUM_REGISTRIES=$(kubectl get secret multi-registry-secret -n registry-lab -o jsonpath='{.data.\.dockerconfigjson}' | base64 -d | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["auths"]))')
  echo "✅ Multi-registry secret exists with $NUM_REGISTRIES registries"
else
  echo "❌ Multi-registry secret missing"
fi
echo ""
echo "Test 4: Check Kyverno"
kubectl get deployment -n kyverno kyverno &>/dev/null
if [ $? -eq 0 ]; then
  echo "✅ Kyverno installed"
else
  echo "⚠️  Kyverno not installed"
fi
echo ""
echo "=== Tests Complete ==="
"""


def test_verification_script(k):
    cfg = write(k, "docker-config.json", json.dumps(MULTI))
    r = k("create", "secret", "generic", "multi-registry-secret", f"--from-file=.dockerconfigjson={cfg}",
          "--type=kubernetes.io/dockerconfigjson", "-n", "registry-lab")
    assert r.out.strip() == "secret/multi-registry-secret created", r.err
    script = write(k, "test-registry-security.sh", VERIFY)
    bindir = Path(k.workdir) / "bin"  # the script calls `kubectl` by name: put ours first on PATH
    bindir.mkdir(exist_ok=True)
    if not (bindir / "kubectl").exists():
        (bindir / "kubectl").symlink_to(kubectl_binary())
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "KUBECONFIG": str(k.kubeconfig), "HOME": str(Path(k.workdir) / "home")}
    p = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=120)
    assert "✅ ImagePullSecret exists" in p.stdout
    assert "✅ ServiceAccount configured" in p.stdout
    assert "✅ Multi-registry secret exists with 3 registries" in p.stdout
    assert "⚠️  Kyverno not installed" in p.stdout


def test_cleanup(k):
    r = k("delete", "namespace", "registry-lab", timeout=120)
    assert r.rc == 0, r.err
    assert r.out.strip() == 'namespace "registry-lab" deleted'
    r = k("get", "namespace", "registry-lab")
    assert r.err.strip() == 'Error from server (NotFound): namespaces "registry-lab" not found'
    r = k("config", "set-context", "--current", "--namespace=default")
    assert r.out.strip() == 'Context "lab-sandbox" modified.'
