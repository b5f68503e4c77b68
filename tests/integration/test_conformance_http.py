"""Conformance vectors run end to end: real kubectl and raw HTTP against a real sandbox process.

- kubectl-create-secret-docker-registry.json: every vector through the real kubectl binary.
- secret-validation.json: every create/update vector through the HTTP API, comparing the Status.
- serviceaccount-admission.json: pod creation vectors through the HTTP API.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
import uuid

import pytest

from labhelpers.sandbox import pki

from ..conftest import load_conformance

pytestmark = [pytest.mark.integration]

DOCKER = load_conformance("kubectl-create-secret-docker-registry.json")


class Http:
    def __init__(self, sandbox):
        self.url = sandbox.info()["api_url"]
        self.token = (sandbox.dir / "token").read_text().strip()
        self.ctx = pki.client_context(sandbox.dir)

    def __call__(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def http(sandbox):
    return Http(sandbox)


@pytest.fixture
def namespace(http):
    name = "cf-" + uuid.uuid4().hex[:8]
    code, _ = http("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name}})
    assert code == 201
    return name


def _argv(v: dict) -> list[str]:
    inp = v["input"]
    if "argv" in inp:
        return list(inp["argv"][1:])
    argv = ["create", "secret", "docker-registry", inp.get("name", "regcred")]
    for key, flag in (("docker_username", "--docker-username"), ("docker_password", "--docker-password"),
                      ("docker_email", "--docker-email"), ("docker_server", "--docker-server")):
        if key in inp:
            argv.append(f"{flag}={inp[key]}")
    if inp.get("append_hash"):
        argv.append("--append-hash")
    return argv


@pytest.mark.kubectl
@pytest.mark.parametrize("vector", DOCKER["vectors"], ids=[v["test"] for v in DOCKER["vectors"]])
def test_kubectl_create_secret_docker_registry(vector, kubectl, namespace, tmp_path, http):
    inp = vector["input"]
    argv = _argv(vector)
    if "file_contents" in inp:
        for name in ("dockerconfig.json", "notjson.txt", "config.json"):
            (tmp_path / name).write_text(inp["file_contents"])
    elif any("config.json" in a for a in argv):
        (tmp_path / "config.json").write_text('{"auths":{}}')
    argv = [a.replace("<tmp>", str(tmp_path)).replace("=./", f"={tmp_path}/") for a in argv]
    if "precondition" in inp:
        kubectl(*argv, "-n", namespace, check=True)
    r = kubectl(*argv, "-n", namespace)
    if "expect_exit_code" in vector:
        assert r.rc == vector["expect_exit_code"], r.err
    if "expect_cli_stderr" in vector:
        assert r.err.strip() == vector["expect_cli_stderr"]
    if "expect_stdout" in vector:
        assert r.out.strip() == vector["expect_stdout"]
    expect = vector.get("expect_secret")
    created = r.rc == 0 and not any(a.startswith("--dry-run") for a in argv)
    if created:
        name = r.out.strip().split()[0].split("/", 1)[1]
        code, stored = http("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        assert code == 200 and stored["type"] == "kubernetes.io/dockerconfigjson"
        if expect:
            assert stored["metadata"]["name"] == expect["metadata"]["name"]
            assert stored["data"] == expect["data"]
        if "expect_dockerconfigjson_bytes" in vector:
            assert base64.b64decode(stored["data"][".dockerconfigjson"]).decode() == \
                vector["expect_dockerconfigjson_bytes"]
    elif expect and r.rc == 0:
        out = json.loads(r.out)
        assert out["data"] == expect["data"] and out["metadata"]["name"] == expect["metadata"]["name"]


SECRETS = load_conformance("secret-validation.json")


def _expand(value: str) -> bytes:
    """Vectors abbreviate huge values as ``<placeholder: N zero bytes>``."""
    m = re.fullmatch(r"<placeholder: (\d+) zero bytes>", value)
    return b"\0" * int(m.group(1)) if m else value.encode()


def _obj(secret: dict) -> dict:
    out = json.loads(json.dumps(secret))
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Secret")
    out.setdefault("metadata", {}).pop("namespace", None)
    # Vectors carry decoded data (as Go's []byte); on the wire data values are base64.
    if isinstance(out.get("data"), dict):
        out["data"] = {k: base64.b64encode(_expand(v)).decode() for k, v in out["data"].items()}
    return out


@pytest.mark.parametrize("vector", SECRETS["vectors"], ids=[v["test"] for v in SECRETS["vectors"]])
def test_secret_validation_over_http(vector, http, namespace):
    path = f"/api/v1/namespaces/{namespace}/secrets"
    new = _obj(vector["secret"])
    if vector.get("old_secret"):
        code, created = http("POST", path, _obj(vector["old_secret"]))
        assert code == 201, created
        new["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
        code, body = http("PUT", f"{path}/{new['metadata']['name']}", new)
    else:
        code, body = http("POST", path, new)
    if vector["expect_valid"]:
        assert code in (200, 201), body
    else:
        assert body == vector["expect_status"]


SA = load_conformance("serviceaccount-admission.json")
# Over HTTP the pod must also pass validation, which runs after admission: keep the vectors whose pods are
# valid once given a container, or that admission rejects first. A missing *default* ServiceAccount cannot be
# staged against a live cluster (the serviceaccounts controller re-creates it at once, and admission waits for
# it), so those vectors run as unit tests only. (All vectors run as unit tests too.)
SA_VECTORS = [v for v in SA["vectors"] if isinstance(v.get("pod"), dict) and v.get("namespace")
              and not v.get("plugin_config") and "resource" not in v
              and not (v.get("informer_cache") == [] and not v.get("api_objects"))
              and (not v["expect_allowed"] or not v["pod"].get("spec", {}).get("volumes"))]


def _wait_default_sa(http, ns: str) -> None:
    import time

    for _ in range(100):
        if http("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0] == 200:
            return
        time.sleep(0.02)


@pytest.mark.parametrize("vector", SA_VECTORS, ids=[v["test"] for v in SA_VECTORS])
def test_serviceaccount_admission_over_http(vector, http):
    ns = "sa-" + uuid.uuid4().hex[:8]
    assert http("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": ns}})[0] == 201
    _wait_default_sa(http, ns)
    wanted = vector.get("service_accounts")
    if wanted is None:
        wanted = [{"name": o["name"]} for o in vector.get("api_objects") or [] if o["kind"] == "ServiceAccount"]
    if "default" not in [w["name"] for w in wanted]:
        assert http("DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0] == 200
    for short in wanted:
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": short["name"], "namespace": ns}}
        if short.get("imagePullSecrets") is not None:
            sa["imagePullSecrets"] = short["imagePullSecrets"]
        code, body = http("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", sa)
        if code == 409:  # the namespace controller already made "default": replace it with the vector's
            cur = http("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa['metadata']['name']}")[1]
            sa["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            code, body = http("PUT", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa['metadata']['name']}", sa)
        assert code in (200, 201), body
    pod = json.loads(json.dumps(vector["pod"]))
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    meta = pod.setdefault("metadata", {})
    meta["namespace"] = ns
    meta.setdefault("name", vector.get("pod_name") or "pod")
    spec = pod.setdefault("spec", {})
    containers = spec.get("containers") or [{}]
    for i, c in enumerate(containers):
        c.setdefault("name", f"c{i}")
        c.setdefault("image", "nginx:1.25")
    spec["containers"] = containers
    code, body = http("POST", f"/api/v1/namespaces/{ns}/pods", pod)
    if not vector["expect_allowed"]:
        expect = json.loads(json.dumps(vector["expect_status"]).replace(vector["namespace"], ns))
        assert body == expect
        return
    assert code == 201, body
    if "expect_pod_spec_imagePullSecrets" in vector:
        assert (body["spec"].get("imagePullSecrets") or []) == vector["expect_pod_spec_imagePullSecrets"]
    if "expect_pod_spec_serviceAccountName" in vector:
        assert body["spec"]["serviceAccountName"] == vector["expect_pod_spec_serviceAccountName"]
