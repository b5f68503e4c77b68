"""What notebooks 01–07 leave in the lab namespace, built in one call.

``08-verification`` checks the state the earlier notebooks built. A learner who opens it on its own (or a
regression run, which gives every notebook a fresh cluster) has none of it, and every check fails for a reason that
has nothing to do with the verification itself. :func:`prepare_lab` creates the same objects, named and shaped as
the exercises make them, so the verification notebook has something to verify. It only does the exercises whose
result is missing (a fix included: a ``broken-pod`` still without the right secret is re-created as Exercise 15's
fix does); what a learner already did stays as it is. The credentials are the seed's placeholders, which the sandbox's demo
registries accept; on a real cluster the secrets are created but the pods cannot pull (use your own registry).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from . import secrets
from ._display import LabTable, lab_table

HUB = "https://index.docker.io/v1/"
HUB_USER, HUB_PASSWORD, HUB_EMAIL = "your-username", "your-password", "your-email@example.com"
PRIVATE_APP = "docker.io/yourusername/private-app:v1.0"
BROKEN_POD_IMAGE = "docker.io/private/image:v1.0"

# Exercise 7's three registries (the seed's placeholder logins) and Exercises 8-10's cloud secrets.
MULTI_REGISTRY = {"docker.io": ("user1", "pass1"), "ghcr.io": ("user2", "token2"),
                  "myregistry.com": ("user3", "pass3")}
CLOUD_SECRETS = (("ecr-secret", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "AWS", "prepared-ecr-token"),
                 ("gcr-secret", "gcr.io", "_json_key", '{"type": "service_account", "prepared": true}'),
                 ("gar-secret", "us-central1-docker.pkg.dev", "_json_key", '{"type": "service_account", "prepared": true}'),
                 ("acr-secret", "myregistry.azurecr.io", "myregistry", "prepared-admin-password"),
                 ("acr-sp-secret", "myregistry.azurecr.io", "00000000-0000-0000-0000-000000000000",
                  "prepared-sp-secret"))


@dataclass
class Step:
    """One object of the lab: which notebook makes it, and how to make it when it is missing."""

    notebook: str
    kind: str
    name: str
    exists: Callable[[], bool]
    create: Callable[[], Any]


def _found(call: Callable[[], Any]) -> bool:
    try:
        call()
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


def _has_pull_secret(v1: client.CoreV1Api, sa: str, ns: str, secret: str) -> bool:
    try:
        obj = v1.read_namespaced_service_account(sa, ns)
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return any(ref.name == secret for ref in obj.image_pull_secrets or [])


def _private_app_deployment(ns: str) -> dict[str, Any]:
    labels = {"app": "private-app"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "private-app", "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"imagePullSecrets": [{"name": "dockerhub-secret"}],
                                           "containers": [{"name": "app", "image": PRIVATE_APP}]}}}}


def _steps(api: client.ApiClient, ns: str) -> list[Step]:
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)

    def secret_step(notebook: str, name: str, make: Callable[[], dict[str, Any]]) -> Step:
        return Step(notebook, "secret", name, lambda: _found(lambda: v1.read_namespaced_secret(name, ns)),
                    lambda: secrets.create_secret(api, make(), quiet=True))

    def patch_default() -> None:
        if not _found(lambda: v1.read_namespaced_service_account("default", ns)):
            v1.create_namespaced_service_account(ns, {"metadata": {"name": "default"}})
        v1.patch_namespaced_service_account("default", ns,
                                            {"imagePullSecrets": [{"name": "dockerhub-secret"}]})

    def registry_sa() -> None:
        if _found(lambda: v1.read_namespaced_service_account("registry-sa", ns)):
            v1.patch_namespaced_service_account("registry-sa", ns,
                                                {"imagePullSecrets": [{"name": "dockerhub-secret"}]})
        else:
            v1.create_namespaced_service_account(ns, {"metadata": {"name": "registry-sa"},
                                                      "imagePullSecrets": [{"name": "dockerhub-secret"}]})

    def broken_pod_fixed() -> None:
        if _found(lambda: v1.read_namespaced_pod("broken-pod", ns)):
            v1.delete_namespaced_pod("broken-pod", ns, grace_period_seconds=0)
            _wait(lambda: not _found(lambda: v1.read_namespaced_pod("broken-pod", ns)), 60, "broken-pod deleted")
        v1.create_namespaced_pod(ns, {"metadata": {"name": "broken-pod"},
                                      "spec": {"imagePullSecrets": [{"name": "dockerhub-secret"}],
                                               "containers": [{"name": "app", "image": BROKEN_POD_IMAGE,
                                                               "imagePullPolicy": "Always"}]}})

    def broken_pod_ready() -> bool:
        try:
            pod = v1.read_namespaced_pod("broken-pod", ns)
        except client.ApiException as e:
            if e.status == 404:
                return False
            raise
        refs = [r.name for r in pod.spec.image_pull_secrets or []]
        return "dockerhub-secret" in refs

    hub = lambda name: lambda: secrets.docker_registry_secret(  # noqa: E731
        name, HUB, HUB_USER, HUB_PASSWORD, HUB_EMAIL, namespace=ns)
    steps = [
        secret_step("01, Exercise 1", "dockerhub-secret", hub("dockerhub-secret")),
        secret_step("01, Exercise 2", "docker-config-secret", lambda: secrets.secret_from_yaml(
            secrets.registry_secret_manifest("docker-config-secret", {"myregistry.com": ("username", "password")},
                                             namespace=ns))),
        secret_step("01, Exercise 3", "manual-registry-secret", lambda: secrets.secret_from_yaml(
            secrets.registry_secret_manifest("manual-registry-secret", {"myregistry.com": ("username", "password")},
                                             namespace=ns))),
        Step("02, Exercise 4", "deployment", "private-app",
             lambda: _found(lambda: apps.read_namespaced_deployment("private-app", ns)),
             lambda: apps.create_namespaced_deployment(ns, _private_app_deployment(ns))),
        Step("02, Exercise 5", "serviceaccount", "registry-sa",
             lambda: _has_pull_secret(v1, "registry-sa", ns, "dockerhub-secret"), registry_sa),
        Step("02, Exercise 6", "serviceaccount", "default",
             lambda: _has_pull_secret(v1, "default", ns, "dockerhub-secret"), patch_default),
        secret_step("03, Exercise 7", "multi-registry-secret", lambda: secrets.secret_from_yaml(
            secrets.registry_secret_manifest("multi-registry-secret", MULTI_REGISTRY, namespace=ns))),
        *(secret_step(f"04, Exercise {n}", name, lambda name=name, server=server, user=user, pw=pw:
                      secrets.docker_registry_secret(name, server, user, pw, namespace=ns))
          for n, (name, server, user, pw) in zip((8, 9, 9, 10, 10), CLOUD_SECRETS, strict=True)),
        Step("07, Exercise 15", "pod", "broken-pod", broken_pod_ready, broken_pod_fixed),
    ]
    return steps


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def prepare_lab(api: client.ApiClient, namespace: str = "registry-lab", *, wait: float = 90.0) -> LabTable:
    """Do the exercises of notebooks 01–07 whose result is missing in ``namespace``; keep the rest as it is.

    Returns a table (notebook, kind, name, action) saying what was created and what was kept. With ``wait``,
    waits for the pods it started to run (the sandbox pulls with the demo credentials).
    """
    v1 = client.CoreV1Api(api)
    if not _found(lambda: v1.read_namespace(namespace)):
        v1.create_namespace({"metadata": {"name": namespace}})
    rows = []
    started_pods = False
    for step in _steps(api, namespace):
        if step.exists():
            action = "kept (already there)"
        else:
            step.create()
            action = "created"
            started_pods |= step.kind in ("deployment", "pod")
        rows.append({"notebook": step.notebook, "kind": step.kind, "name": step.name, "action": action})
    if started_pods and wait:
        from . import pods

        pods.wait_for_pod(api, namespace=namespace, selector="app=private-app", timeout=wait, progress=False)
        pods.wait_for_pod(api, "broken-pod", namespace, timeout=wait, progress=False)
    return lab_table(rows, ["notebook", "kind", "name", "action"],
                     caption=f"what notebooks 01-07 leave in namespace {namespace}")
