"""``labhelpers.course.prepare_lab`` on a real sandbox: what notebooks 01-07 leave behind, built so that
08-verification's checks have something to verify, without overwriting what a learner did."""

from __future__ import annotations

import base64
import json

import pytest
from kubernetes import client, config

from labhelpers import checks, course, pods
from labhelpers.sandbox import Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox of its own: preparing pulls the private images into the node's cache, which would change what
    other tests (that expect a cold cache, as the seed's drills do) see on the shared sandbox."""
    sb = Sandbox(tmp_path_factory.mktemp("prepare-sandbox"))
    sb.up()
    try:
        yield config.new_client_from_config(config_file=str(sb.kubeconfig))
    finally:
        sb.down()


def _actions(table) -> dict[str, str]:
    return dict(zip(table["name"], table["action"], strict=True))


def test_prepare_builds_what_the_checks_verify_and_the_pods_run(api: client.ApiClient) -> None:
    ns = "prepare-fresh"
    before = checks.lab03_checks(api, ns)
    before.run(quiet=True)
    assert not before.ok, "an empty namespace must fail the verification before preparing"

    table = course.prepare_lab(api, ns)
    assert set(_actions(table).values()) == {"created"}
    assert {"dockerhub-secret", "multi-registry-secret", "registry-sa", "default", "private-app",
            "broken-pod", "ecr-secret", "acr-sp-secret"} <= set(table["name"])

    after = checks.lab03_checks(api, ns)
    after.run(quiet=True)
    assert after.ok, [r.message for r in after.results if not r.ok]
    assert checks.serviceaccount_has_pull_secret(api, "default", "dockerhub-secret", ns)[0]
    assert checks.secret_registry_count(api, "multi-registry-secret", ns, 3)[0]
    # The demo credentials really pull: the Deployment's pod and the fixed broken-pod run.
    running = pods.pods_table(api, ns, selector="app=private-app")
    assert (running["STATUS"] == "Running").any(), running
    assert checks.pod_ready(api, "broken-pod", ns)[0]


def test_prepare_twice_keeps_everything_and_never_overwrites_a_learners_secret(api: client.ApiClient) -> None:
    ns = "prepare-learner"
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": ns}})
    own = {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"learner:own-password").decode()}}}
    v1.create_namespaced_secret(ns, {"metadata": {"name": "dockerhub-secret"}, "type": "kubernetes.io/dockerconfigjson",
                                     "data": {".dockerconfigjson": base64.b64encode(json.dumps(own).encode()).decode()}})

    first = _actions(course.prepare_lab(api, ns))
    assert first["dockerhub-secret"] == "kept (already there)"
    assert first["multi-registry-secret"] == "created"
    kept = v1.read_namespaced_secret("dockerhub-secret", ns)
    assert json.loads(base64.b64decode(kept.data[".dockerconfigjson"])) == own

    second = _actions(course.prepare_lab(api, ns))
    assert set(second.values()) == {"kept (already there)"}, second


def test_prepare_fixes_a_broken_pod_left_with_the_wrong_secret(api: client.ApiClient) -> None:
    """Exercise 15's result is a broken-pod that pulls with dockerhub-secret: the unfixed pod is re-created."""
    ns = "prepare-broken"
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": ns}})
    v1.create_namespaced_pod(ns, {"metadata": {"name": "broken-pod"},
                                  "spec": {"imagePullSecrets": [{"name": "wrong-secret"}],
                                           "containers": [{"name": "app", "image": course.BROKEN_POD_IMAGE}]}})
    assert _actions(course.prepare_lab(api, ns))["broken-pod"] == "created"
    pod = v1.read_namespaced_pod("broken-pod", ns)
    assert [r.name for r in pod.spec.image_pull_secrets] == ["dockerhub-secret"]
    assert checks.pod_ready(api, "broken-pod", ns)[0]
