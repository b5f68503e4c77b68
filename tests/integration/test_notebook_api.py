"""The notebook API against a real sandbox: secrets made three ways, pods that pull (or fail to) for real, and
the tables and diagnoses the learner sees. Registry users come from ``labctl sandbox info``."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from labhelpers import checks, pods, secrets
from labhelpers._display import LabError
from labhelpers.sandbox import Sandbox

pytestmark = [pytest.mark.integration]

EX7_IMAGES = {"app1": "docker.io/youruser/app1:v1.0", "app2": "ghcr.io/youruser/app2:v1.0",
              "app3": "myregistry.com/app3:v1.0"}


@pytest.fixture(scope="module")
def users(sandbox: Sandbox) -> dict[tuple[str, str], str]:
    """(registry host, username) -> password, from the sandbox's own description of its registries."""
    return {(r["host"], u["username"]): u["password"] for r in sandbox.info()["registries"] for u in r["users"]}


@pytest.fixture
def ns(api: client.ApiClient) -> Iterator[str]:
    name = f"nb-{uuid.uuid4().hex[:8]}"
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": name}})
    yield name
    v1.delete_namespace(name)


def _pod(api: client.ApiClient, ns: str, name: str, images: dict[str, str], pull_secrets: list[str] | None = None,
         sa: str | None = None) -> None:
    spec: dict = {"containers": [{"name": c, "image": i, "imagePullPolicy": "Always"} for c, i in images.items()]}
    if pull_secrets is not None:
        spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    if sa:
        spec["serviceAccountName"] = sa
    client.CoreV1Api(api).create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": spec})


def _renderings(table) -> str:
    return table.to_text() + table._repr_html_() + table.to_csv()


def _ex7_file(tmp_path: Path, users: dict) -> Path:
    def auth(host: str, user: str) -> str:
        return base64.b64encode(f"{user}:{users[(host, user)]}".encode()).decode()

    text = json.dumps({"auths": {"docker.io": {"auth": auth("docker.io", "user1")},
                                 "ghcr.io": {"auth": auth("ghcr.io", "user2")},
                                 "myregistry.com": {"auth": auth("myregistry.com", "user3")}}}, indent=2)
    path = tmp_path / "docker-config.json"
    path.write_text(text)
    return path


@pytest.mark.kubectl
def test_same_bytes_as_the_real_kubectl(kubectl):
    for server, user, password, email in (("https://index.docker.io/v1/", "your-username", "your-password",
                                           "your-email@example.com"), ("r.example.com", "bob", 'p<&>w"d', "")):
        built = secrets.docker_registry_secret("s", server, user, password, email or None, namespace="x")
        r = kubectl("create", "secret", "docker-registry", "s", "-n", "x", f"--docker-server={server}",
                    f"--docker-username={user}", f"--docker-password={password}", f"--docker-email={email}",
                    "--dry-run=client", "-o", "json")
        assert json.loads(r.out)["data"] == built["data"]


def test_create_secrets_three_ways(api, ns, users, tmp_path, capsys):
    password = users[("docker.io", "your-username")]
    ex1 = secrets.docker_registry_secret("dockerhub-secret", "https://index.docker.io/v1/", "your-username",
                                         password, "your-email@example.com", namespace=ns)
    stored = secrets.create_secret(api, ex1)
    assert stored["data"] == ex1["data"] and stored["type"] == "kubernetes.io/dockerconfigjson"

    ex2 = secrets.secret_from_docker_config("multi-registry-secret", _ex7_file(tmp_path, users), namespace=ns)
    secrets.create_secret(api, ex2)
    manifest = secrets.registry_secret_manifest(
        "manual-registry-secret", {"myregistry.com": ("username", users[("myregistry.com", "username")])},
        namespace=ns)
    secrets.create_secret(api, secrets.secret_from_yaml(manifest))
    out = capsys.readouterr().out
    assert out.splitlines() == ["secret/dockerhub-secret created", "secret/multi-registry-secret created",
                                "secret/manual-registry-secret created"]

    # re-running a cell is harmless; different content needs replace=True
    secrets.create_secret(api, ex1)
    assert capsys.readouterr().out.strip() == "secret/dockerhub-secret unchanged"
    changed = secrets.docker_registry_secret("dockerhub-secret", "docker.io", "your-username", password, namespace=ns)
    with pytest.raises(LabError, match="already exists"):
        secrets.create_secret(api, changed)
    secrets.create_secret(api, changed, replace=True)
    assert capsys.readouterr().out.strip() == "secret/dockerhub-secret replaced"
    got = client.CoreV1Api(api).read_namespaced_secret("dockerhub-secret", ns)
    assert secrets.decode_dockerconfigjson(got)["auths"].keys() == {"docker.io"}

    # the API server's own validation comes back as kubectl words it
    bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "broken"},
           "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": base64.b64encode(b"bad").decode()}}
    with pytest.raises(LabError) as e:
        secrets.create_secret(api, bad, namespace=ns)
    assert e.value.message.startswith('failed to create secret Secret "broken" is invalid: data[.dockerconfigjson]')

    table = secrets.dockerconfig_table(client.CoreV1Api(api).read_namespaced_secret("multi-registry-secret", ns),
                                       images=list(EX7_IMAGES.values()))
    assert list(table["kubelet key"]) == ["docker.io", "ghcr.io", "myregistry.com"]
    assert list(table["matches"]) == list(EX7_IMAGES.values())


def test_right_secret_reaches_ready(api, ns, users):
    secrets.create_secret(api, secrets.docker_registry_secret(
        "good", "myregistry.com", "user3", users[("myregistry.com", "user3")], namespace=ns), quiet=True)
    _pod(api, ns, "good", {"app": EX7_IMAGES["app3"]}, ["good"])
    result = pods.wait_for_pod(api, "good", ns, until="Ready", timeout=60, progress=False)
    assert result.ok, result.message
    assert result.diagnosis is None
    table = pods.pods_table(api, ns)
    assert list(table.columns) == pods.POD_COLUMNS
    assert table.iloc[0][["NAME", "READY", "STATUS"]].tolist() == ["good", "1/1", "Running"]
    assert pods.diagnose(api, "good", ns).ok


def test_wrong_password_ends_in_backoff_and_is_diagnosed(api, ns, users, capsys):
    secrets.create_secret(api, secrets.docker_registry_secret(
        "wrong", "myregistry.com", "user3", "not-the-password", namespace=ns), quiet=True)
    _pod(api, ns, "broken", {"app": EX7_IMAGES["app3"]}, ["wrong"])
    result = pods.wait_for_pod(api, "broken", ns, until="ImagePullBackOff", timeout=60, progress=False)
    assert result.ok, result.message
    assert pods.pods_table(api, ns).iloc[0]["STATUS"] == "ImagePullBackOff"

    d = pods.diagnose(api, "broken", ns)
    assert not d.ok
    assert d.issues[0] == pods.WRONG_CREDENTIALS
    assert "myregistry.com rejected the credentials" in d.message and "wrong/myregistry.com (user user3)" in d.message
    assert "401 Unauthorized" in "\n".join(d.findings[0].evidence)
    assert "how to fix: recreate secret wrong" in d.message

    # waiting for Ready stops early with the diagnosis instead of a traceback
    start = time.monotonic()
    waited = pods.wait_for_pod(api, "broken", ns, timeout=30, progress=True)
    assert time.monotonic() - start < 10
    assert not waited and waited.diagnosis is not None and waited.diagnosis.issues[0] == pods.WRONG_CREDENTIALS
    out = capsys.readouterr()
    assert "did not become Ready" in out.out and "how to fix" in out.out and out.err == ""

    events = pods.pod_events_table(api, "broken", ns)
    assert list(events.columns) == pods.EVENT_COLUMNS
    assert {"Pulling", "Failed"} <= set(events["REASON"])
    assert events.iloc[0]["REASON"] == "Scheduled"
    for text in (d.table.to_text(), _renderings(events), _renderings(pods.pull_explain(api, "broken", ns))):
        assert "not-the-password" not in text


def test_missing_secret_and_secret_in_other_namespace(api, ns, users):
    other = f"{ns}-other"
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": other}})
    try:
        secrets.create_secret(api, secrets.docker_registry_secret(
            "elsewhere", "myregistry.com", "user3", users[("myregistry.com", "user3")], namespace=other), quiet=True)
        _pod(api, ns, "nosecret", {"app": EX7_IMAGES["app3"]}, ["wrong-secret"])
        _pod(api, ns, "othens", {"app": EX7_IMAGES["app3"]}, ["elsewhere"])
        for name in ("nosecret", "othens"):
            assert pods.wait_for_pod(api, name, ns, until="ImagePullBackOff", timeout=60, progress=False)
        missing = pods.diagnose(api, "nosecret", ns)
        assert missing.issues[0] == pods.SECRET_MISSING
        assert any("Unable to retrieve some image pull secrets (wrong-secret)" in e
                   for f in missing.findings for e in f.evidence)
        elsewhere = pods.diagnose(api, "othens", ns)
        assert elsewhere.issues[0] == pods.OTHER_NAMESPACE
        assert other in elsewhere.message
        explained = pods.pull_explain(api, "nosecret", ns)
        assert explained.iloc[0]["pull secrets"].startswith("❌ wrong-secret")
        assert "pull is anonymous" in explained.iloc[0]["why none matched"]
    finally:
        v1.delete_namespace(other)


def test_wrong_registry_url_is_explained(api, ns, users):
    secrets.create_secret(api, secrets.docker_registry_secret(
        "hub-endpoint", "registry-1.docker.io", "user1", users[("docker.io", "user1")], namespace=ns), quiet=True)
    _pod(api, ns, "hub", {"app": EX7_IMAGES["app1"]}, ["hub-endpoint"])
    assert pods.wait_for_pod(api, "hub", ns, until="ImagePullBackOff", timeout=60, progress=False)
    d = pods.diagnose(api, "hub", ns)
    assert d.issues[0] == pods.WRONG_REGISTRY
    assert "registry-1.docker.io is not how the kubelet names Docker Hub" in d.message
    row = pods.pull_explain(api, "hub", ns).iloc[0]
    assert row["credentials (kubelet order)"] == ""
    assert row["why none matched"].startswith("no entry matches docker.io")


def test_pull_explain_exercise7_picks_each_registry_entry(api, ns, users, tmp_path):
    secrets.create_secret(api, secrets.secret_from_docker_config(
        "multi-registry-secret", _ex7_file(tmp_path, users), namespace=ns), quiet=True)
    _pod(api, ns, "multi", EX7_IMAGES, ["multi-registry-secret"])
    assert pods.wait_for_pod(api, "multi", ns, timeout=60, progress=False)
    table = pods.pull_explain(api, "multi", ns)
    assert list(table.columns) == pods.EXPLAIN_COLUMNS
    creds = dict(zip(table["container"], table["credentials (kubelet order)"], strict=True))
    assert creds == {"app1": "1. multi-registry-secret -> docker.io (user user1)",
                     "app2": "1. multi-registry-secret -> ghcr.io (user user2)",
                     "app3": "1. multi-registry-secret -> myregistry.com (user user3)"}
    assert list(table["repository"]) == ["docker.io/youruser/app1", "ghcr.io/youruser/app2", "myregistry.com/app3"]
    assert set(table["state"]) == {"Running"}
    assert all(cell.startswith("Pulled") for cell in table["last pull event"])
    text = _renderings(table)
    for password in ("pass1", "token2", "pass3"):
        assert password not in text
    revealed = secrets.dockerconfig_table(client.CoreV1Api(api).read_namespaced_secret("multi-registry-secret", ns),
                                          reveal=True)
    assert list(revealed["password"]) == ["pass1", "token2", "pass3"]
    assert "pass1" not in _renderings(secrets.dockerconfig_table(
        client.CoreV1Api(api).read_namespaced_secret("multi-registry-secret", ns)))


def test_service_account_secrets_are_shown(api, ns, users):
    secrets.create_secret(api, secrets.docker_registry_secret(
        "dockerhub-secret", "https://index.docker.io/v1/", "your-username", users[("docker.io", "your-username")],
        namespace=ns), quiet=True)
    client.CoreV1Api(api).create_namespaced_service_account(
        ns, {"metadata": {"name": "registry-sa"}, "imagePullSecrets": [{"name": "dockerhub-secret"}]})
    _pod(api, ns, "app-with-sa", {"app": "docker.io/yourusername/private-app:v1.0"}, sa="registry-sa")
    assert pods.wait_for_pod(api, "app-with-sa", ns, timeout=60, progress=False)
    row = pods.pull_explain(api, "app-with-sa", ns).iloc[0]
    assert row["pull secrets"] == "✅ dockerhub-secret\n(as on ServiceAccount registry-sa: copied in at admission)"
    assert row["credentials (kubelet order)"] == ("1. dockerhub-secret -> https://index.docker.io/v1/ "
                                                  "(user your-username)")


def test_serviceaccount_patched_after_the_pod_was_created(api, ns, users):
    """Exercise 6: patching the default ServiceAccount only helps pods created afterwards."""
    _pod(api, ns, "early", {"app": "docker.io/yourusername/private-app:v1.0"})
    assert pods.wait_for_pod(api, "early", ns, until="ImagePullBackOff", timeout=60, progress=False)
    secrets.create_secret(api, secrets.docker_registry_secret(
        "dockerhub-secret", "https://index.docker.io/v1/", "your-username", users[("docker.io", "your-username")],
        namespace=ns), quiet=True)
    client.CoreV1Api(api).patch_namespaced_service_account(
        "default", ns, {"imagePullSecrets": [{"name": "dockerhub-secret"}]})
    d = pods.diagnose(api, "early", ns)
    assert d.issues[0] == pods.NO_SECRET
    assert "created before that" in d.message and "recreate the pod" in d.message
    assert "copied in only when a pod is created" in pods.pull_explain(api, "early", ns).iloc[0]["why none matched"]
    _pod(api, ns, "late", {"app": "docker.io/yourusername/private-app:v1.0"})
    assert pods.wait_for_pod(api, "late", ns, timeout=60, progress=False)


def test_wait_for_missing_pod_times_out_with_diagnosis(api, ns):
    assert pods.pods_table(api, ns).notes == [f"No resources found in {ns} namespace."]
    result = pods.wait_for_pod(api, "ghost", ns, timeout=1, progress=False, interval=0.2)
    assert not result.ok and result.diagnosis is not None
    assert result.diagnosis.issues == [pods.POD_MISSING]


def test_checks_read_the_cluster(api, ns, users, capsys):
    lab = checks.lab03_checks(api, ns)
    lab.run()
    out = capsys.readouterr()
    assert out.err == ""
    assert "❌ ImagePullSecret missing" in out.out and "how to fix: kubectl create secret docker-registry" in out.out
    secrets.create_secret(api, secrets.docker_registry_secret(
        "dockerhub-secret", "https://index.docker.io/v1/", "your-username", users[("docker.io", "your-username")],
        namespace=ns), quiet=True)
    assert checks.check(lambda: checks.secret_exists(api, "dockerhub-secret", ns), "exists", "missing")
    assert "✅ exists" in capsys.readouterr().out


@pytest.mark.kubectl
def test_shell_kubectl_masks_what_it_shows(sandbox, ns, monkeypatch, capsys, kubectl):
    from labhelpers import shell

    monkeypatch.setenv("KUBECONFIG", str(sandbox.kubeconfig))
    r = shell.kubectl("create", "secret", "docker-registry", "s", "-n", ns, "--docker-server=myregistry.com",
                      "--docker-username=user3", "--docker-password=pass3", "--dry-run=client", "-o", "json")
    assert r.ok
    shown = capsys.readouterr().out
    assert "--docker-password=****" in shown and "pass3" not in shown
    assert base64.b64encode(b"user3:pass3").decode() not in shown
    config = json.loads(base64.b64decode(json.loads(r.stdout)["data"][".dockerconfigjson"]))
    assert config["auths"]["myregistry.com"]["password"] == "pass3"  # the Result keeps the real output
    s = shell.sh(f"kubectl get secret nope -n {ns}")
    assert not s.ok and 'secrets "nope" not found' in s.stderr
    assert capsys.readouterr().err == ""
