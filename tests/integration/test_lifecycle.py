"""labctl sandbox up/down/status/reset/env/info as a user runs them, and a restart that keeps every object."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

import labhelpers
from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.manager import _pid_alive

pytestmark = pytest.mark.integration


def labctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labhelpers.cli", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_lifecycle_and_restart(tmp_path):
    d = str(tmp_path / "sb")
    r = labctl("sandbox", "status", "--dir", d)
    assert r.returncode == 3 and "running: no" in r.stdout
    r = labctl("sandbox", "up", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"export KUBECONFIG={tmp_path / 'sb' / 'kubeconfig'}"
    pid = json.loads(labctl("sandbox", "info", "-o", "json", "--dir", d).stdout)["pid"]
    r = labctl("sandbox", "up", "--dir", d)  # idempotent
    assert "already running" in r.stderr
    info = json.loads(labctl("sandbox", "info", "-o", "json", "--dir", d).stdout)
    assert info["pid"] == pid
    assert info["kubeconfig"].endswith("kubeconfig") and info["api_url"].startswith("https://127.0.0.1:")
    assert labctl("sandbox", "env", "--dir", d).stdout.strip() == f"export KUBECONFIG={info['kubeconfig']}"

    api = config.new_client_from_config(config_file=info["kubeconfig"])
    v1 = client.CoreV1Api(api)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="keep")))
    v1.create_namespaced_secret("keep", client.V1Secret(metadata=client.V1ObjectMeta(name="s"),
                                                        string_data={"k": "v"}))
    rv_before = v1.read_namespaced_secret("s", "keep").metadata.resource_version

    assert labctl("sandbox", "down", "--dir", d).stdout.strip() == "sandbox stopped"
    assert not _pid_alive(pid)
    assert labctl("sandbox", "up", "--dir", d).returncode == 0
    info = json.loads(labctl("sandbox", "info", "-o", "json", "--dir", d).stdout)
    v1 = client.CoreV1Api(config.new_client_from_config(config_file=info["kubeconfig"]))
    s = v1.read_namespaced_secret("s", "keep")
    assert s.data == {"k": "dg=="} and s.metadata.resource_version == rv_before
    # The watch cache starts empty after a restart: resuming from before it is 410 Expired, as after compaction.
    with pytest.raises(ApiException) as e:
        for _ in watch.Watch().stream(v1.list_namespaced_secret, "keep", resource_version=str(int(rv_before) - 1),
                                      timeout_seconds=2):
            pass
    assert e.value.status == 410
    # New writes continue the resourceVersion sequence.
    s2 = v1.create_namespaced_config_map("keep", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c")))
    assert int(s2.metadata.resource_version) > int(rv_before)

    assert labctl("sandbox", "reset", "--dir", d).returncode == 0
    assert not (tmp_path / "sb").exists()


def test_connect_starts_sandbox(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    api = labhelpers.connect(backend="sandbox", sandbox_dir=tmp_path / "sb")
    try:
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert {"default", "kube-system"} <= set(names)
        assert os.environ["KUBECONFIG"] == str(tmp_path / "sb" / "kubeconfig")
    finally:
        Sandbox(tmp_path / "sb").down()
