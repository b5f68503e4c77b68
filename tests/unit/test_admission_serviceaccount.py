"""The ServiceAccount admission plug-in against shared/conformance/serviceaccount-admission.json."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

from labhelpers.sandbox.apiserver import admission_serviceaccount as sa_admission
from labhelpers.sandbox.apiserver.errors import ApiError


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


DOC = json.loads((_shared() / "conformance" / "serviceaccount-admission.json").read_text())
VECTORS = DOC["vectors"]
RANDOM_NAME = re.compile(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}\Z")


def sa_vector_case(vector: dict) -> dict[str, Any]:
    """Map a serviceaccount-admission.json vector to the call's inputs.

    Returns ``operation``, ``resource``, ``namespace``, ``pod`` (with ``metadata.name`` set from ``pod_name``),
    ``service_accounts`` ({name: ServiceAccount dict}, informer cache and API objects merged: the plug-in
    falls back to a direct GET, so both count as existing) and ``limit_secret_references``.
    """
    pod: Any = copy.deepcopy(vector.get("pod", {}))
    if vector.get("object_kind") and vector["object_kind"] != "Pod":
        pod = {"apiVersion": "v1", "kind": vector["object_kind"], "metadata": {"name": "not-a-pod"}}
    elif vector.get("pod_name"):
        pod.setdefault("metadata", {})["name"] = vector["pod_name"]
    accounts: dict[str, dict] = {}
    for sa in vector.get("service_accounts", []) + vector.get("api_objects", []):
        sa = dict(sa)
        name = sa.pop("name")
        sa.pop("kind", None)
        meta: dict[str, Any] = {"name": name, "namespace": vector.get("namespace", "")}
        if "annotations" in sa:
            meta["annotations"] = sa.pop("annotations")
        accounts[name] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta, **sa}
    return {"operation": vector.get("operation", "CREATE"), "resource": vector.get("resource", "pods"),
            "namespace": vector.get("namespace", ""), "pod": pod, "service_accounts": accounts,
            "limit_secret_references": vector.get("plugin_config", {}).get("LimitSecretReferences", False)}


def _run(case: dict[str, Any]) -> None:
    accounts = case["service_accounts"]
    sa_admission.admit(case["operation"], case["resource"], case["pod"], case["namespace"],
                       lambda ns, name: accounts.get(name) if ns == case["namespace"] else None,
                       limit_secret_references=case["limit_secret_references"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["test"] for v in VECTORS])
def test_serviceaccount_vectors(vector: dict) -> None:
    case = sa_vector_case(vector)
    before = copy.deepcopy(case["pod"])
    if not vector["expect_allowed"]:
        with pytest.raises(ApiError) as exc:
            _run(case)
        assert exc.value.status() == vector["expect_status"]
        assert list(exc.value.status()) == list(vector["expect_status"])
        if "expect_kubectl_stderr" in vector:
            assert vector["expect_kubectl_stderr"].endswith(exc.value.message)
        return
    _run(case)
    pod = case["pod"]
    if vector.get("expect_pod_unchanged"):
        assert pod == before
    spec = pod.get("spec", {})
    if "expect_pod_spec_serviceAccountName" in vector:
        assert spec["serviceAccountName"] == vector["expect_pod_spec_serviceAccountName"]
        assert spec["serviceAccount"] == vector["expect_pod_spec_serviceAccountName"]
    if "expect_pod_spec_imagePullSecrets" in vector:
        assert spec.get("imagePullSecrets", []) == vector["expect_pod_spec_imagePullSecrets"]
    if "expect_volume" in vector:
        volumes = [v for v in spec.get("volumes", []) if v["name"].startswith("kube-api-access-")]
        assert len(volumes) == 1
        vol = volumes[0]
        assert RANDOM_NAME.match(vol["name"])
        assert {**vol, "name": vector["expect_volume"]["name"]} == vector["expect_volume"]
        for ctr in spec.get("containers", []):
            mounts = [m for m in ctr["volumeMounts"] if m["name"] == vol["name"]]
            assert mounts == [{**vector["expect_volume_mount"], "name": vol["name"]}]


def test_vector_count() -> None:
    assert len(VECTORS) == DOC["vector_count"]


def _sa(name: str = "default", **fields: Any) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "lab"}, **fields}


def _pod(**spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "lab"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}


def test_missing_named_service_account_message() -> None:
    pod = _pod(serviceAccountName="builder")
    with pytest.raises(ApiError) as exc:
        sa_admission.admit_pod_create(pod, "lab", lambda ns, n: None)
    assert exc.value.code == 403
    assert exc.value.message == ('pods "web" is forbidden: error looking up service account lab/builder: '
                                 'serviceaccount "builder" not found')


def test_generate_name_is_used_when_the_pod_has_no_name() -> None:
    pod = _pod()
    pod["metadata"] = {"generateName": "web-7d9f8-", "namespace": "lab"}
    with pytest.raises(ApiError) as exc:
        sa_admission.admit_pod_create(pod, "lab", lambda ns, n: None)
    assert exc.value.message.startswith('pods "web-7d9f8-" is forbidden: ')
    assert exc.value.details == {"name": "web-7d9f8-", "kind": "pods"}


def test_default_service_account_is_retried_while_it_is_being_created() -> None:
    calls: list[str] = []
    slept: list[float] = []

    def lookup(ns: str, name: str) -> dict | None:
        calls.append(name)
        return _sa() if len(calls) >= 3 else None

    pod = _pod()
    sa_admission.admit_pod_create(pod, "lab", lookup, default_sa_attempts=10, sleep=slept.append,
                                  rng=random.Random(1))
    assert calls == ["default"] * 3
    assert len(slept) == 2 and all(0.1 <= s < 0.2 for s in slept)


def test_named_service_account_is_not_retried() -> None:
    calls: list[str] = []

    def lookup(ns: str, name: str) -> dict | None:
        calls.append(name)
        return None

    with pytest.raises(ApiError):
        sa_admission.admit_pod_create(_pod(serviceAccountName="ci"), "lab", lookup, default_sa_attempts=10,
                                      sleep=lambda s: None)
    assert calls == ["ci"]


def test_async_variant_waits_for_the_default_account() -> None:
    state = {"n": 0}

    async def lookup(ns: str, name: str) -> dict | None:
        state["n"] += 1
        return _sa(imagePullSecrets=[{"name": "regcred"}]) if state["n"] == 2 else None

    pod = _pod()
    asyncio.run(sa_admission.admit_pod_create_async(pod, "lab", lookup, rng=random.Random(0)))
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


def test_automount_opt_out_by_pod_or_service_account() -> None:
    pod = _pod(automountServiceAccountToken=False)
    sa_admission.admit_pod_create(pod, "lab", lambda ns, n: _sa())
    assert "volumes" not in pod["spec"] and "volumeMounts" not in pod["spec"]["containers"][0]
    pod = _pod()
    sa_admission.admit_pod_create(pod, "lab", lambda ns, n: _sa(automountServiceAccountToken=False))
    assert "volumes" not in pod["spec"]
    pod = _pod(automountServiceAccountToken=True)
    sa_admission.admit_pod_create(pod, "lab", lambda ns, n: _sa(automountServiceAccountToken=False))
    assert pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


def test_existing_mount_path_and_init_containers() -> None:
    pod = _pod(initContainers=[{"name": "init", "image": "busybox"}],
               containers=[{"name": "app", "image": "nginx",
                            "volumeMounts": [{"name": "own", "mountPath": sa_admission.TOKEN_MOUNT_PATH}]}],
               volumes=[{"name": "own", "emptyDir": {}}])
    sa_admission.admit_pod_create(pod, "lab", lambda ns, n: _sa())
    token = pod["spec"]["volumes"][1]["name"]
    assert pod["spec"]["initContainers"][0]["volumeMounts"] == [
        {"name": token, "readOnly": True, "mountPath": sa_admission.TOKEN_MOUNT_PATH}]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [{"name": "own", "mountPath": sa_admission.TOKEN_MOUNT_PATH}]


def test_enforce_mountable_secrets_env_and_envfrom() -> None:
    sa = _sa(metadata={"name": "default", "namespace": "lab",
                       "annotations": {sa_admission.ENFORCE_MOUNTABLE_SECRETS_ANNOTATION: "true"}},
             secrets=[{"name": "ok"}])
    pod = _pod(containers=[{"name": "app", "image": "x",
                            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}])
    with pytest.raises(ApiError) as exc:
        sa_admission.admit_pod_create(pod, "lab", lambda ns, n: sa)
    assert exc.value.message == ('pods "web" is forbidden: container app with envVar PW referencing '
                                 'secret.secretName="db" is not allowed because service account default does not '
                                 "reference that secret")
    pod = _pod(containers=[{"name": "app", "image": "x", "envFrom": [{"secretRef": {"name": "db"}}]}])
    with pytest.raises(ApiError) as exc:
        sa_admission.admit_pod_create(pod, "lab", lambda ns, n: sa)
    assert "container app with envFrom referencing secret.secretName=\"db\"" in exc.value.message
    sa["metadata"]["annotations"][sa_admission.ENFORCE_MOUNTABLE_SECRETS_ANNOTATION] = "false"
    sa_admission.admit_pod_create(_pod(containers=[{"name": "app", "image": "x",
                                                    "envFrom": [{"secretRef": {"name": "db"}}]}]),
                                  "lab", lambda ns, n: sa)


def test_non_create_and_subresources_are_ignored() -> None:
    pod = _pod()
    before = copy.deepcopy(pod)
    sa_admission.admit("UPDATE", "pods", pod, "lab", lambda ns, n: None)
    sa_admission.admit("CREATE", "pods", pod, "lab", lambda ns, n: None, subresource="status")
    assert pod == before
