"""The sandbox works with every kubectl from 1.32 to 1.37 (1.32+ send protobuf bodies for built-in types).

Each installed client (``labctl tools install-kubectl --version 1.3N``; ``make test`` installs 1.32, 1.33 and
1.37) runs the commands whose requests differ between versions: typed creates (protobuf), apply (OpenAPI v3 +
strategic merge patch), server-side apply, patch, get (Tables), describe, auth can-i, wait, delete.
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from labhelpers.tools import kubectl as kubectl_tool

from .conftest import make_runner

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]

MINORS = sorted(kubectl_tool.LAYERS)


@pytest.mark.parametrize("minor", MINORS)
def test_kubectl_version_round_trip(minor, sandbox, tmp_path):
    binary = kubectl_tool.bin_dir() / f"kubectl-{minor}"
    if not binary.exists():
        pytest.skip(f"kubectl {minor} not installed (labctl tools install-kubectl --version {minor})")
    kc = tmp_path / "kubeconfig"
    shutil.copy(sandbox.kubeconfig, kc)
    (tmp_path / "home").mkdir()
    k = make_runner(str(binary), kc, tmp_path / "home")
    assert k("version", "-o", "json", check=True).out
    ns = f"v{minor.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    assert k("create", "namespace", ns).out.strip() == f"namespace/{ns} created"
    r = k("create", "secret", "docker-registry", "regcred", "--docker-server=myregistry.com",
          "--docker-username=demo", "--docker-password=demo-password", "-n", ns)
    assert r.out.strip() == "secret/regcred created", r.err
    assert k("create", "configmap", "cm", "--from-literal=a=b", "-n", ns).out.strip() == "configmap/cm created"
    assert k("create", "serviceaccount", "sa", "-n", ns).out.strip() == "serviceaccount/sa created"
    r = k("create", "deployment", "web", "--image=docker.io/youruser/app:v1.0", "-n", ns)
    assert r.out.strip() == "deployment.apps/web created", r.err
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: {ns}
spec:
  containers:
  - name: app
    image: docker.io/youruser/app:v1.0
  imagePullSecrets:
  - name: regcred
""")
    assert k("apply", "-f", str(manifest)).out.strip() == "pod/p created"
    assert k("apply", "-f", str(manifest)).out.strip() == "pod/p unchanged"
    r = k("apply", "--server-side", "-f", str(manifest))
    assert r.rc == 0 and r.out.strip() == "pod/p serverside-applied", r.err
    r = k("patch", "serviceaccount", "sa", "-n", ns, "-p", '{"imagePullSecrets":[{"name":"regcred"}]}')
    assert r.out.strip() == "serviceaccount/sa patched"
    r = k("get", "secret", "regcred", "-n", ns)
    assert r.out.split()[:4] == ["NAME", "TYPE", "DATA", "AGE"]
    assert "kubernetes.io/dockerconfigjson" in r.out
    assert "Name:         regcred" in k("describe", "secret", "regcred", "-n", ns).out
    assert k("auth", "can-i", "create", "pods", "-n", ns).out.strip() == "yes"
    r = k("get", "secret", "nope", "-n", ns)
    assert r.err.strip() == 'Error from server (NotFound): secrets "nope" not found'
    r = k("delete", "namespace", ns, timeout=120)
    assert r.out.strip() == f'namespace "{ns}" deleted', r.err
