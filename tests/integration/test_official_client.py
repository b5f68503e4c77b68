"""The official Python client against a real sandbox process: CRUD, patch flavours, watch, bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import urllib.request
import uuid

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from labhelpers.sandbox import pki

pytestmark = pytest.mark.integration


@pytest.fixture
def ns(api):
    name = "t-" + uuid.uuid4().hex[:8]
    v1 = client.CoreV1Api(api)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(ApiException):
        v1.delete_namespace(name)


def raw(sandbox, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"):
    token = (sandbox.dir / "token").read_text().strip()
    api_url = sandbox.info()["api_url"]
    req = urllib.request.Request(api_url + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, context=pki.client_context(sandbox.dir)) as r:
            return r.status, json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def test_secret_crud(api, ns):
    v1 = client.CoreV1Api(api)
    cfg = {"auths": {"docker.io": {"auth": base64.b64encode(b"u:p").decode()}}}
    s = client.V1Secret(metadata=client.V1ObjectMeta(name="regcred", labels={"team": "a"}),
                        type="kubernetes.io/dockerconfigjson",
                        data={".dockerconfigjson": base64.b64encode(json.dumps(cfg).encode()).decode()})
    created = v1.create_namespaced_secret(ns, s)
    assert created.metadata.uid and created.metadata.resource_version
    got = v1.read_namespaced_secret("regcred", ns)
    assert json.loads(base64.b64decode(got.data[".dockerconfigjson"])) == cfg
    assert [x.metadata.name for x in v1.list_namespaced_secret(ns, label_selector="team in (a,b)").items] == ["regcred"]
    assert v1.list_namespaced_secret(ns, label_selector="team!=a").items == []
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_secret(ns, s)
    assert e.value.status == 409
    assert json.loads(e.value.body)["message"] == 'secrets "regcred" already exists'
    v1.delete_namespaced_secret("regcred", ns)
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_secret("regcred", ns)
    assert e.value.status == 404
    assert json.loads(e.value.body)["reason"] == "NotFound"


def test_invalid_dockerconfigjson_is_422(api, ns):
    v1 = client.CoreV1Api(api)
    s = client.V1Secret(metadata=client.V1ObjectMeta(name="regcred"), type="kubernetes.io/dockerconfigjson",
                        data={"other": "eA=="})
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_secret(ns, s)
    body = json.loads(e.value.body)
    assert e.value.status == 422
    assert body["message"] == 'Secret "regcred" is invalid: data[.dockerconfigjson]: Required value'
    assert body["details"]["causes"][0]["field"] == "data[.dockerconfigjson]"


def test_patch_flavours(api, ns):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_service_account(ns, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="sa"), image_pull_secrets=[client.V1LocalObjectReference(name="a")]))
    # Strategic merge: ServiceAccount.imagePullSecrets is atomic, so the list is replaced.
    sa = v1.patch_namespaced_service_account("sa", ns, {"imagePullSecrets": [{"name": "b"}]})
    assert [r.name for r in sa.image_pull_secrets] == ["b"]
    # JSON patch appends.
    sa = v1.patch_namespaced_service_account("sa", ns, [{"op": "add", "path": "/imagePullSecrets/-",
                                                         "value": {"name": "c"}}])
    assert [r.name for r in sa.image_pull_secrets] == ["b", "c"]


def test_pod_spec_pull_secrets_merge_by_name(sandbox, api, ns):
    v1 = client.CoreV1Api(api)
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p"), spec=client.V1PodSpec(
        containers=[client.V1Container(name="app", image="nginx:1.25")],
        image_pull_secrets=[client.V1LocalObjectReference(name="a")]))
    v1.create_namespaced_pod(ns, pod)
    status, body, _ = raw(sandbox, "PATCH", f"/api/v1/namespaces/{ns}/pods/p",
                          json.dumps({"spec": {"imagePullSecrets": [{"name": "b"}]}}).encode(),
                          "application/strategic-merge-patch+json")
    # Pod spec is immutable apart from a few fields, so the apiserver refuses — with its message.
    assert status == 422
    assert body["reason"] == "Invalid"
    assert "Forbidden: pod updates may not change fields other than" in body["message"]


def test_watch_sees_changes_and_resumes(api, ns):
    v1 = client.CoreV1Api(api)
    lst = v1.list_namespaced_config_map(ns)
    rv = lst.metadata.resource_version
    seen: list[tuple[str, str]] = []

    def consume(since: str) -> None:
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=since, timeout_seconds=5):
            if ev["object"].metadata.name == "c1":
                seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) >= 3:
                w.stop()

    t = threading.Thread(target=consume, args=(rv,))
    t.start()
    time.sleep(0.3)
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"), data={"a": "1"}))
    v1.patch_namespaced_config_map("c1", ns, {"data": {"a": "2"}})
    v1.delete_namespaced_config_map("c1", ns)
    t.join(10)
    assert seen == [("ADDED", "c1"), ("MODIFIED", "c1"), ("DELETED", "c1")]
    # Reconnecting from the list's resourceVersion replays what happened since.
    replay = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1)
        if e["object"].metadata.name == "c1"]
    assert replay == [("ADDED", "c1"), ("MODIFIED", "c1"), ("DELETED", "c1")]


def test_update_conflict_and_concurrent_writers(api, ns):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="counter"),
                                                           data={"n": "0"}))
    stale = v1.read_namespaced_config_map("counter", ns)
    v1.patch_namespaced_config_map("counter", ns, {"metadata": {"labels": {"touched": "yes"}}})
    with pytest.raises(ApiException) as e:
        v1.replace_namespaced_config_map("counter", ns, stale)
    assert e.value.status == 409
    assert json.loads(e.value.body)["message"] == (
        'Operation cannot be fulfilled on configmaps "counter": the object has been modified; '
        "please apply your changes to the latest version and try again")

    def writer(n: int) -> None:
        for _ in range(n):
            while True:
                cm = v1.read_namespaced_config_map("counter", ns)
                cm.data["n"] = str(int(cm.data["n"]) + 1)
                try:
                    v1.replace_namespaced_config_map("counter", ns, cm)
                    break
                except ApiException as ex:
                    assert ex.status == 409
    threads = [threading.Thread(target=writer, args=(5,)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert v1.read_namespaced_config_map("counter", ns).data["n"] == "100"


@pytest.mark.parametrize("body,ctype,status,message", [
    (b"{not json", "application/json", 400, "couldn't get version/kind; json parse error: invalid character 'n' looking for beginning of object key string"),
    (b"kind: [", "application/yaml", 400, None),
    (b"k8s\x00\x0a\x02", "application/vnd.kubernetes.protobuf", 400, None),
    (json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}).encode(),
     "application/json", 422, None),
    (json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}, "data": "x"}).encode(),
     "application/json", 400, None),
    (b"<xml/>", "application/xml", 415, None),
])
def test_bad_input_gets_status_and_server_survives(sandbox, ns, body, ctype, status, message):
    code, resp, _ = raw(sandbox, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, ctype)
    assert code == status
    assert resp["kind"] == "Status" and resp["status"] == "Failure" and resp["code"] == status
    if message:
        assert resp["message"] == message
    code, _, _ = raw(sandbox, "GET", "/version")
    assert code == 200


def test_unknown_field_strict_and_warn(sandbox, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "typo"},
           "spec": {"containers": [{"name": "app", "image": "nginx", "imagePullPolicyy": "Always"}]}}
    code, resp, _ = raw(sandbox, "POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Strict",
                        json.dumps(pod).encode())
    assert code == 400
    assert resp["message"] == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                               'unknown field "spec.containers[0].imagePullPolicyy"')
    code, resp, headers = raw(sandbox, "POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Warn",
                              json.dumps(pod).encode())
    assert code == 201
    assert headers.get_all("Warning") == ['299 - "unknown field \\"spec.containers[0].imagePullPolicyy\\""']


def test_unauthenticated_request_is_401(sandbox):
    api_url = sandbox.info()["api_url"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(api_url + "/api/v1/namespaces", context=pki.client_context(sandbox.dir))
    assert e.value.code == 401


def test_missing_namespace_and_missing_serviceaccount(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map("no-such-ns", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c")))
    assert e.value.status == 404
    assert json.loads(e.value.body)["message"] == 'namespaces "no-such-ns" not found'


def test_limit_and_continue(api, ns):
    v1 = client.CoreV1Api(api)
    for i in range(5):
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"cm{i}")))
    names, token = [], None
    while True:
        page = v1.list_namespaced_config_map(ns, limit=2, _continue=token)
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert [n for n in names if n.startswith("cm")] == [f"cm{i}" for i in range(5)]
