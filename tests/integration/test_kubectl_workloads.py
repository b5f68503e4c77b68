"""Controllers, cascading deletion, Tables and selectors as kubectl shows them."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]


@pytest.fixture
def ns(kubectl):
    name = "w-" + uuid.uuid4().hex[:8]
    kubectl("create", "namespace", name, check=True)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def eventually(fn, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_deployment_replicaset_pods_and_cascade(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=docker.io/youruser/app:v1.0", "--replicas=2", "-n", ns,
            check=True)
    pods = eventually(lambda: [ln for ln in kubectl("get", "pods", "-n", ns, "--no-headers").out.splitlines()
                               if ln.startswith("web-")] if len(kubectl("get", "pods", "-n", ns, "--no-headers")
                                                               .out.splitlines()) == 2 else [])
    assert len(pods) == 2
    rs = kubectl("get", "rs", "-n", ns, "-o", "name").out.split()
    assert len(rs) == 1 and re.fullmatch(r"replicaset\.apps/web-[a-z0-9]{8,10}", rs[0])
    r = kubectl("get", "pods", "-n", ns, "-L", "app", "--show-labels")
    header = r.out.splitlines()[0].split()
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "APP", "LABELS"]
    assert "app=web,pod-template-hash=" in r.out
    r = kubectl("get", "pods", "-A", "-l", "app in (web),app notin (db),!missing")
    assert r.out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert sum(1 for ln in r.out.splitlines()[1:] if ln.startswith(ns)) == 2
    r = kubectl("get", "events", "-n", ns, "--field-selector", "reason=ScalingReplicaSet")
    assert "Scaled up replica set web-" in r.out and "from 0 to 2" in r.out
    # A template change rolls out a second ReplicaSet.
    kubectl("set", "image", "deployment/web", "app=docker.io/youruser/app:v2.0", "-n", ns, check=True)
    assert eventually(lambda: len(kubectl("get", "rs", "-n", ns, "-o", "name").out.split()) == 2)
    # Deleting the Deployment removes its ReplicaSets and their pods (background cascade).
    r = kubectl("delete", "deployment", "web", "-n", ns)
    assert r.out.strip() == 'deployment.apps "web" deleted'
    assert eventually(lambda: kubectl("get", "rs,pods", "-n", ns, "-o", "name").out.strip() == "")


def test_orphan_propagation_keeps_dependents(kubectl, ns):
    kubectl("create", "deployment", "keep", "--image=docker.io/youruser/app:v1.0", "-n", ns, check=True)
    assert eventually(lambda: kubectl("get", "rs", "-n", ns, "-o", "name").out.strip())
    kubectl("delete", "deployment", "keep", "-n", ns, "--cascade=orphan", check=True)
    time.sleep(0.5)
    rs = kubectl("get", "rs", "-n", ns, "-o", "jsonpath={.items[0].metadata.ownerReferences}")
    assert kubectl("get", "rs", "-n", ns, "-o", "name").out.strip()
    assert rs.out == ""


def test_cronjob_and_job_from_cronjob(kubectl, ns):
    r = kubectl("create", "cronjob", "tick", "--image=docker.io/youruser/app:v1.0", "--schedule=0 */8 * * *",
                "-n", ns)
    assert r.out.strip() == "cronjob.batch/tick created", r.err
    r = kubectl("get", "cronjob", "tick", "-n", ns)
    assert r.out.splitlines()[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                                            "LAST", "SCHEDULE", "AGE"]
    assert "0 */8 * * *" in r.out
    r = kubectl("create", "job", "tick-manual", "--from=cronjob/tick", "-n", ns)
    assert r.out.strip() == "job.batch/tick-manual created", r.err
    assert eventually(lambda: "tick-manual-" in kubectl("get", "pods", "-n", ns, "-l",
                                                        "job-name=tick-manual").out)
    r = kubectl("get", "job", "tick-manual", "-n", ns, "-o",
                "jsonpath={.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}")
    assert r.out == "manual"
    r = kubectl("create", "cronjob", "bad", "--image=x", "--schedule=not a schedule", "-n", ns)
    assert r.rc == 1 and "spec.schedule: Invalid value: \"not a schedule\"" in r.err


def test_get_watch_streams_changes(kubectl, sandbox, ns, tmp_path):
    import os

    env = dict(os.environ, KUBECONFIG=str(sandbox.kubeconfig), HOME=str(tmp_path))
    from .conftest import kubectl_binary

    proc = subprocess.Popen([kubectl_binary(), "get", "configmaps", "-n", ns, "-w", "--request-timeout=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.0)
        kubectl("create", "configmap", "watched", "--from-literal=a=1", "-n", ns, check=True)
        deadline = time.monotonic() + 10
        seen = ""
        os.set_blocking(proc.stdout.fileno(), False)
        while "watched" not in seen and time.monotonic() < deadline:
            chunk = proc.stdout.read() or ""
            seen += chunk
            time.sleep(0.1)
        assert "watched" in seen
        assert proc.poll() is None, "kubectl get -w exited: the watch stream must stay open"
    finally:
        proc.terminate()
        proc.wait(5)


def test_dry_run_and_field_validation(kubectl, ns, tmp_path):
    r = kubectl("create", "secret", "generic", "dry", "--from-literal=a=b", "-n", ns, "--dry-run=server")
    assert r.out.strip() == "secret/dry created (server dry run)"
    assert kubectl("get", "secret", "dry", "-n", ns).rc == 1
    f = tmp_path / "typo.yaml"
    f.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: typo
  namespace: {ns}
spec:
  containers:
  - name: app
    image: nginx
    imagePullPolicyy: Always
""")
    r = kubectl("apply", "-f", str(f))
    assert r.rc == 1
    assert r.err.strip() == (f'Error from server (BadRequest): error when creating "{f}": Pod in version "v1" '
                             'cannot be handled as a Pod: strict decoding error: unknown field '
                             '"spec.containers[0].imagePullPolicyy"')
    r = kubectl("apply", "-f", str(f), "--validate=warn")
    assert r.rc == 0 and 'Warning: unknown field "spec.containers[0].imagePullPolicyy"' in r.err
