"""OpenAPI v3 documents: structure, hashing, caching, custom kinds, and what the real kubectl does with them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from labhelpers.sandbox.apiserver import openapi, schemas, smp
from labhelpers.sandbox.apiserver.resources import ResourceType, all_resources

RESOURCES = all_resources()
KYVERNO = ResourceType("kyverno.io", "v1", "ClusterPolicy", "clusterpolicies", namespaced=False,
                       short_names=("cpol",), custom=True)
KUBECTL = Path(os.environ.get("LAB_KUBECTL", "/tmp/kdl/kubectl/kubectl"))


def _refs(node) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _gvps(resources) -> list[str]:
    return sorted({rt.group_version_path for rt in resources})


@pytest.mark.parametrize("gvp", _gvps(RESOURCES + [KYVERNO]))
def test_documents_are_self_contained_and_advertise_patch_support(gvp: str) -> None:
    resources = RESOURCES + [KYVERNO]
    doc = openapi.document(gvp, resources)
    assert doc["openapi"] == "3.0.0"
    components = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in components, ref
    served = [rt for rt in resources if rt.group_version_path == gvp]
    for rt in served:
        gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
        in_components = [n for n, s in components.items() if gvk in s.get("x-kubernetes-group-version-kind", [])]
        assert in_components, f"no schema for {gvk}"
        patches = [op["patch"] for op in doc["paths"].values()
                   if "patch" in op and op["patch"]["x-kubernetes-group-version-kind"] == gvk]
        if "patch" not in rt.verbs:
            assert not patches
            continue
        assert patches
        for op in patches:  # kubectl checks whichever matching patch operation it meets first
            assert "fieldValidation" in [p["name"] for p in op["parameters"]]
            content = op["requestBody"]["content"]
            assert ("application/strategic-merge-patch+json" in content) is (not rt.custom)
            assert "application/merge-patch+json" in content


def test_core_paths_look_like_kube_apiservers() -> None:
    paths = openapi.document("api/v1", RESOURCES)["paths"]
    secret = paths["/api/v1/namespaces/{namespace}/secrets/{name}"]
    assert sorted(secret) == ["delete", "get", "parameters", "patch", "put"]
    assert secret["patch"]["operationId"] == "patchCoreV1NamespacedSecret"
    assert secret["patch"]["tags"] == ["core_v1"]
    assert paths["/api/v1/secrets"]["get"]["operationId"] == "listCoreV1SecretForAllNamespaces"
    assert paths["/api/v1/namespaces/{namespace}/pods"]["delete"]["x-kubernetes-action"] == "deletecollection"
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["get"]["operationId"] == \
        "readCoreV1NamespacedPodStatus"
    assert paths["/api/v1/namespaces"]["post"]["operationId"] == "createCoreV1Namespace"
    assert "/api/v1/namespaces/{name}" in paths
    rbac = openapi.document("apis/rbac.authorization.k8s.io/v1", RESOURCES)["paths"]
    assert rbac["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["operationId"] == \
        "listRbacAuthorizationV1ClusterRole"
    ssar = openapi.document("apis/authorization.k8s.io/v1", RESOURCES)["paths"]
    assert sorted(ssar["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]) == ["parameters", "post"]


def test_schemas_are_openapi3_and_limited_to_what_kinds_reach() -> None:
    components = openapi.document("api/v1", RESOURCES)["components"]["schemas"]
    pod = components["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["kind"] == {"description": pod["properties"]["kind"]["description"], "type": "string"}
    assert pod["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    ips = components["io.k8s.api.core.v1.PodSpec"]["properties"]["imagePullSecrets"]
    assert (ips["type"], ips["x-kubernetes-patch-strategy"], ips["x-kubernetes-patch-merge-key"]) == \
        ("array", "merge", "name")
    assert components["io.k8s.api.core.v1.ServiceAccount"]["properties"]["imagePullSecrets"][
        "x-kubernetes-list-type"] == "atomic"
    assert "io.k8s.api.core.v1.PersistentVolume" not in components
    assert "io.k8s.api.apps.v1.Deployment" not in components
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions" in components
    text = json.dumps(components)
    assert '"null"' not in text and "#/$defs/" not in text


def test_index_hashes_are_sha512_of_served_bytes() -> None:
    index = openapi.index(RESOURCES)
    assert sorted(index["paths"]) == _gvps(RESOURCES)
    for gvp, entry in index["paths"].items():
        raw = openapi.document_bytes(gvp, RESOURCES)
        digest = hashlib.sha512(raw).hexdigest().upper()
        assert entry["serverRelativeURL"] == f"/openapi/v3/{gvp}?hash={digest}"
        assert json.loads(raw) == openapi.document(gvp, RESOURCES)
    assert openapi.document("apis/nope/v1", RESOURCES) is None
    assert openapi.document_bytes("api/v2", RESOURCES) is None


def test_documents_are_built_once_per_resource_set() -> None:
    first = openapi.document_bytes("api/v1", RESOURCES)
    assert openapi.document_bytes("/api/v1", list(RESOURCES)) is first
    fewer = [rt for rt in RESOURCES if rt.kind != "ConfigMap"]
    assert openapi.document_hash("api/v1", fewer) != openapi.document_hash("api/v1", RESOURCES)


def test_custom_kinds_preserve_unknown_fields_until_a_schema_is_registered() -> None:
    kind = ResourceType("hash-test.example.com", "v1", "Thing", "things", custom=True)
    resources = [kind]
    before = openapi.document("apis/hash-test.example.com/v1", resources)
    thing = before["components"]["schemas"]["com.example.hash-test.v1.Thing"]
    assert thing["x-kubernetes-preserve-unknown-fields"] is True
    assert thing["x-kubernetes-group-version-kind"] == [
        {"group": "hash-test.example.com", "kind": "Thing", "version": "v1"}]
    old_hash = openapi.document_hash("apis/hash-test.example.com/v1", resources)
    openapi.register_custom_schema("hash-test.example.com", "v1", "Thing", {
        "type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}})
    after = openapi.document("apis/hash-test.example.com/v1", resources)
    thing = after["components"]["schemas"]["com.example.hash-test.v1.Thing"]
    assert "x-kubernetes-preserve-unknown-fields" not in thing
    assert thing["properties"]["spec"]["properties"]["size"] == {"type": "integer"}
    assert thing["properties"]["metadata"]["allOf"][0]["$ref"].endswith("meta.v1.ObjectMeta")
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in after["components"]["schemas"]
    assert openapi.document_hash("apis/hash-test.example.com/v1", resources) != old_hash
    assert schemas.definition_for_gvk("hash-test.example.com", "v1", "Thing") == "com.example.hash-test.v1.Thing"


def test_definition_lookup() -> None:
    assert schemas.definition_for_gvk("", "v1", "Secret") == "io.k8s.api.core.v1.Secret"
    assert schemas.definition_for_gvk("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert schemas.definition_for_gvk("", "v1", "Nope") is None
    assert schemas.source_version() >= "v1.32"


# --- the real kubectl against a throwaway server ------------------------------------------------------------


class _Stub:
    """Just enough API server for kubectl: /version, legacy discovery, OpenAPI v3, one stored Deployment."""

    def __init__(self, resources: list[ResourceType]):
        from aiohttp import web

        self.web, self.resources, self.requests = web, resources, []
        self.objects: dict[str, dict] = {}
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None

    def _discovery(self, gv: str) -> dict:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
            {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
             "verbs": list(rt.verbs), "shortNames": list(rt.short_names)}
            for rt in self.resources if rt.api_version == gv]}

    async def handle(self, request):
        web, path = self.web, request.path
        body = await request.text()
        self.requests.append((request.method, path, request.headers.get("Content-Type", ""), body))
        if path == "/version":
            return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.4"})
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            gvs = sorted({(rt.group, rt.version) for rt in self.resources if rt.group})
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in gvs]})
        if path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3):
            return web.json_response(self._discovery(path.removeprefix("/api/").removeprefix("/apis/")))
        if path == "/openapi/v3":
            return web.json_response(openapi.index(self.resources))
        if path.startswith("/openapi/v3/") and (raw := openapi.document_bytes(path[12:], self.resources)):
            return web.Response(body=raw, content_type="application/json")
        if path in self.objects and request.method == "GET":
            return web.json_response(self.objects[path])
        if path in self.objects and request.method == "PATCH":
            self.objects[path] = smp.apply_strategic_merge_patch(self.objects[path], json.loads(body),
                                                                 "io.k8s.api.apps.v1.Deployment")
            return web.json_response(self.objects[path])
        return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "the server could not find the requested resource",
                                  "reason": "NotFound", "code": 404}, status=404)

    def start(self) -> int:
        web = self.web
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        return site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory):
    if not KUBECTL.exists():
        pytest.skip(f"kubectl not found at {KUBECTL}")
    openapi.register_custom_schema("kyverno.io", "v1", "ClusterPolicy", {
        "type": "object", "description": "ClusterPolicy declares validation, mutation, and generation behaviors.",
        "properties": {"spec": {"type": "object", "description": "Policy rules.",
                                "properties": {"validationFailureAction": {"type": "string"}}}}})
    stub = _Stub(RESOURCES + [KYVERNO])
    port = stub.start()
    home = tmp_path_factory.mktemp("home")
    config = home / "config"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "s", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "s", "user": "u", "namespace": "default"}}]}))

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {"HOME": str(home), "PATH": os.environ.get("PATH", "")}
        return subprocess.run([str(KUBECTL), "--kubeconfig", str(config), *args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=60)

    yield run, stub
    stub.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.kubectl
def test_kubectl_explain(kubectl) -> None:
    run, _ = kubectl
    out = run("explain", "pod.spec.imagePullSecrets")
    assert out.returncode == 0, out.stderr
    assert "FIELD: imagePullSecrets <[]LocalObjectReference>" in out.stdout
    assert "name\t<string>" in out.stdout
    out = run("explain", "secret")
    assert out.returncode == 0, out.stderr
    assert "KIND:       Secret" in out.stdout and "data\t<map[string]string>" in out.stdout
    out = run("explain", "deployment.spec", "--recursive")
    assert out.returncode == 0, out.stderr
    assert "template\t<PodTemplateSpec> -required-" in out.stdout
    assert "imagePullSecrets\t<[]LocalObjectReference>" in out.stdout
    out = run("explain", "clusterpolicy.spec")
    assert out.returncode == 0, out.stderr
    assert "validationFailureAction\t<string>" in out.stdout


@pytest.mark.kubectl
def test_kubectl_apply_validates_strictly_and_builds_smp_from_v3(kubectl) -> None:
    run, stub = kubectl
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1"}, {"name": "side", "image": "bb"}]}}}}
    live = json.loads(json.dumps(manifest))
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(manifest, separators=(",", ":"))}
    stub.objects["/apis/apps/v1/namespaces/default/deployments/web"] = live
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    stub.requests.clear()
    out = run("apply", "-f", "-", stdin=json.dumps(manifest))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "deployment.apps/web configured"
    assert "warning" not in out.stderr.lower()
    patches = [r for r in stub.requests if r[0] == "PATCH"]
    assert len(patches) == 1 and patches[0][2] == "application/strategic-merge-patch+json"
    sent = json.loads(patches[0][3])
    assert sent["spec"]["template"]["spec"]["$setElementOrder/containers"] == [{"name": "app"}, {"name": "side"}]
    assert not [r for r in stub.requests if r[1] == "/openapi/v2"]
    stored = stub.objects["/apis/apps/v1/namespaces/default/deployments/web"]
    assert [c["image"] for c in stored["spec"]["template"]["spec"]["containers"]] == ["nginx:2", "bb"]
