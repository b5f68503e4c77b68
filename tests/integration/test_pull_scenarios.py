"""The lab's image-pull scenarios through the real kubectl: real registries, real credentials, real pulls.

Each test builds what a learner builds (secrets, service accounts, deployments) and checks what kubectl shows:
pod STATUS, and the kubelet's events in `kubectl describe` / `kubectl get events`.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]


@pytest.fixture
def ns(kubectl):
    name = "pull-" + uuid.uuid4().hex[:8]
    kubectl("create", "namespace", name, check=True)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def pod_status(kubectl, ns: str, selector: str | None = None, name: str | None = None) -> str:
    args = ["get", "pods", "-n", ns, "--no-headers"]
    if selector:
        args += ["-l", selector]
    if name:
        args.append(name)
    out = kubectl(*args).out.split()
    return out[2] if len(out) >= 3 else ""


def wait_status(kubectl, ns: str, want: set[str], timeout: float = 30, **kw) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = pod_status(kubectl, ns, **kw)
        if status in want:
            return status
        time.sleep(0.2)
    return status


def secret(kubectl, ns: str, name: str, server: str, user: str, password: str) -> None:
    kubectl("create", "secret", "docker-registry", name, f"--docker-server={server}", f"--docker-username={user}",
            f"--docker-password={password}", "-n", ns, check=True)


def pod_yaml(tmp_path, ns: str, name: str, image: str, secrets: list[str], sa: str | None = None) -> str:
    # Always: the node caches images, and an IfNotPresent pod runs from the cache whatever its credentials
    # (a lesson of its own, see test_cached_image_runs_without_credentials).
    spec = {"containers": [{"name": "app", "image": image, "imagePullPolicy": "Always"}]}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    if sa:
        spec["serviceAccountName"] = sa
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(doc))
    return str(p)


PRIVATE = "docker.io/yourusername/private-app:v1.0"


def test_right_secret_runs_with_real_pull_events(kubectl, ns, tmp_path):
    secret(kubectl, ns, "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "your-password")
    kubectl("apply", "-f", pod_yaml(tmp_path, ns, "ok", PRIVATE, ["dockerhub-secret"]), check=True)
    assert wait_status(kubectl, ns, {"Running"}, name="ok") == "Running"
    r = kubectl("describe", "pod", "ok", "-n", ns)
    assert re.search(r"Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned " + ns + "/ok to lab-node",
                     r.out)
    assert f'Pulling image "{PRIVATE}"' in r.out
    assert re.search(rf'Successfully pulled image "{re.escape(PRIVATE)}" in [\d.]+m?s \([\d.]+m?s including '
                     r"waiting\)\. Image size: \d+ bytes\.", r.out)
    assert "Started container app" in r.out


@pytest.mark.parametrize("case", ["wrong-password", "wrong-server-key", "missing-secret", "no-secret"])
def test_pull_failures_end_in_image_pull_backoff(kubectl, ns, tmp_path, case):
    secrets = ["dockerhub-secret"]
    if case == "wrong-password":
        secret(kubectl, ns, "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "wrong")
    elif case == "wrong-server-key":  # credentials for another registry never match docker.io images
        secret(kubectl, ns, "dockerhub-secret", "myregistry.example", "your-username", "your-password")
    elif case == "no-secret":
        secrets = []
    kubectl("apply", "-f", pod_yaml(tmp_path, ns, "bad", PRIVATE, secrets), check=True)
    status = wait_status(kubectl, ns, {"ImagePullBackOff"}, timeout=40, name="bad")
    assert status == "ImagePullBackOff"
    r = kubectl("describe", "pod", "bad", "-n", ns)
    assert f'Failed to pull image "{PRIVATE}"' in r.out
    assert "Error: ErrImagePull" in r.out
    assert f'Back-off pulling image "{PRIVATE}"' in r.out
    assert "Error: ImagePullBackOff" in r.out
    if case == "wrong-password":
        assert "401 Unauthorized" in r.out
    if case == "missing-secret":
        assert re.search(r"Warning\s+FailedToRetrieveImagePullSecret\s+.*Unable to retrieve some image pull "
                         r"secrets \(dockerhub-secret\); attempting to pull the image may not succeed\.", r.out)


def test_secret_in_another_namespace_is_not_used(kubectl, ns, tmp_path):
    other = ns + "-other"
    kubectl("create", "namespace", other, check=True)
    try:
        secret(kubectl, other, "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "your-password")
        kubectl("apply", "-f", pod_yaml(tmp_path, ns, "p", PRIVATE, ["dockerhub-secret"]), check=True)
        assert wait_status(kubectl, ns, {"ImagePullBackOff"}, timeout=40, name="p") == "ImagePullBackOff"
        assert "FailedToRetrieveImagePullSecret" in kubectl("get", "events", "-n", ns).out
    finally:
        kubectl("delete", "namespace", other, "--wait=false")


def test_serviceaccount_pull_secrets_apply_to_new_pods_only(kubectl, ns, tmp_path):
    secret(kubectl, ns, "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "your-password")
    # A pod created before the default ServiceAccount is patched keeps its (empty) pull secrets.
    kubectl("apply", "-f", pod_yaml(tmp_path, ns, "before", PRIVATE, []), check=True)
    r = kubectl("patch", "serviceaccount", "default", "-n", ns, "-p",
                '{"imagePullSecrets": [{"name": "dockerhub-secret"}]}')
    assert r.out.strip() == "serviceaccount/default patched"
    kubectl("apply", "-f", pod_yaml(tmp_path, ns, "after", PRIVATE, []), check=True)
    assert wait_status(kubectl, ns, {"Running"}, name="after") == "Running"
    assert kubectl("get", "pod", "after", "-n", ns, "-o", "jsonpath={.spec.imagePullSecrets[0].name}").out == \
        "dockerhub-secret"
    assert wait_status(kubectl, ns, {"ImagePullBackOff"}, timeout=40, name="before") == "ImagePullBackOff"
    # A named ServiceAccount works the same way.
    sa = tmp_path / "sa.yaml"
    sa.write_text(f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: registry-sa\n  namespace: {ns}\n"
                  "imagePullSecrets:\n- name: dockerhub-secret\n")
    kubectl("apply", "-f", str(sa), check=True)
    kubectl("apply", "-f", pod_yaml(tmp_path, ns, "with-sa", PRIVATE, [], sa="registry-sa"), check=True)
    assert wait_status(kubectl, ns, {"Running"}, name="with-sa") == "Running"


def test_exercise7_three_registry_deployment_runs(kubectl, ns, tmp_path):
    auth = {h: base64.b64encode(c.encode()).decode() for h, c in
            (("docker.io", "user1:pass1"), ("ghcr.io", "user2:token2"), ("myregistry.com", "user3:pass3"))}
    cfg = tmp_path / "docker-config.json"
    cfg.write_text(json.dumps({"auths": {h: {"auth": a} for h, a in auth.items()}}))
    kubectl("create", "secret", "generic", "multi-registry-secret", f"--from-file=.dockerconfigjson={cfg}",
            "--type=kubernetes.io/dockerconfigjson", "-n", ns, check=True)
    dep = tmp_path / "multi.yaml"
    dep.write_text(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: multi-registry-app
  namespace: {ns}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: multi-app
  template:
    metadata:
      labels:
        app: multi-app
    spec:
      containers:
      - name: app1
        image: docker.io/youruser/app1:v1.0
      - name: app2
        image: ghcr.io/youruser/app2:v1.0
      - name: app3
        image: myregistry.com/app3:v1.0
      imagePullSecrets:
      - name: multi-registry-secret
""")
    kubectl("apply", "-f", str(dep), check=True)
    assert wait_status(kubectl, ns, {"Running"}, selector="app=multi-app") == "Running"
    r = kubectl("get", "pods", "-n", ns, "-l", "app=multi-app", "--no-headers")
    assert r.out.split()[1] == "3/3"


def test_cached_image_runs_without_credentials(kubectl, ns, tmp_path):
    """IfNotPresent + an image already on the node: no pull, so no credential check (kubelet's default)."""
    secret(kubectl, ns, "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "your-password")
    kubectl("apply", "-f", pod_yaml(tmp_path, ns, "first", PRIVATE, ["dockerhub-secret"]), check=True)
    assert wait_status(kubectl, ns, {"Running"}, name="first") == "Running"
    doc = json.loads(Path(pod_yaml(tmp_path, ns, "cached", PRIVATE, [])).read_text())
    doc["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    (tmp_path / "cached.json").write_text(json.dumps(doc))
    kubectl("apply", "-f", str(tmp_path / "cached.json"), check=True)
    assert wait_status(kubectl, ns, {"Running"}, name="cached") == "Running"
    assert f'Container image "{PRIVATE}" already present on machine' in kubectl("describe", "pod", "cached",
                                                                                   "-n", ns).out
