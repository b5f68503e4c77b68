"""Pod status generation: container states, phase (getPhase), conditions and their transition times."""

from __future__ import annotations

import pytest

from labhelpers.sandbox.kubelet.status import (
    ContainerRecord,
    PodRuntime,
    conditions_for,
    container_statuses,
    generate_pod_status,
    merge_conditions,
    pod_phase,
    qos_class,
)
from tests.conftest import load_conformance

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"
IMAGE = "registry.lab.local:5000/team/app:v1"


def pod(*containers: str, init: tuple[str, ...] = (), restart: str = "Always", status: dict | None = None) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"restartPolicy": restart,
                     "containers": [{"name": n, "image": IMAGE} for n in containers],
                     **({"initContainers": [{"name": n, "image": "busybox"} for n in init]} if init else {})},
            "status": status or {"phase": "Pending", "qosClass": "BestEffort"}}


def running(name: str, image: str = "docker.io/library/nginx:latest") -> ContainerRecord:
    rec = ContainerRecord(name, "containerd://" + "a" * 64, image, "docker.io/library/nginx@sha256:" + "b" * 64,
                          IMAGE, T0)
    rec.start(T0)
    return rec


def by_type(conditions: list[dict]) -> dict[str, dict]:
    return {c["type"]: c for c in conditions}


@pytest.fixture(scope="module")
def scenarios() -> dict[str, dict]:
    data = load_conformance("kubelet-image-events.json")
    return {s["scenario"]: s for s in data["scenarios"]}


def test_failed_pull_status_matches_conformance(scenarios: dict[str, dict]) -> None:
    sc = scenarios["private registry, no imagePullSecrets"]
    for key, reason in (("status_after_failed_pull", "ErrImagePull"), ("status_during_backoff", "ImagePullBackOff")):
        want = sc[key]["waiting"]
        rt = PodRuntime(sandbox_ready=True, pod_ip="10.244.0.7")
        status = generate_pod_status(pod("app"), rt, {"app": (want["reason"], want["message"])}, now=T0,
                                     host_ip="127.0.0.1")
        assert want["reason"] == reason
        cs = status["containerStatuses"][0]
        assert cs["state"] == {"waiting": want}
        assert (cs["ready"], cs["started"], cs["restartCount"], cs["image"], cs["imageID"]) == \
            (False, False, 0, IMAGE, "")
        assert status["phase"] == sc["pod_phase"] == "Pending"
        conds = by_type(status["conditions"])
        assert conds["Ready"]["status"] == "False"
        assert conds["Ready"]["reason"] == "ContainersNotReady"
        assert conds["Ready"]["message"] == "containers with unready status: [app]"
        assert conds["PodReadyToStartContainers"]["status"] == "True"
        assert status["podIP"] == "10.244.0.7" and status["hostIPs"] == [{"ip": "127.0.0.1"}]


def test_invalid_image_and_never_pull_statuses(scenarios: dict[str, dict]) -> None:
    for name in ("invalid image name", "pullPolicy Never, image absent"):
        want = scenarios[name]["status"]["waiting"]
        st = container_statuses(pod("app"), PodRuntime(True), {"app": (want["reason"], want["message"])}, None,
                                init=False)
        assert st[0]["state"] == {"waiting": want}


def test_first_status_before_the_sandbox_exists() -> None:
    status = generate_pod_status(pod("app"), PodRuntime(), {}, now=T0, host_ip="127.0.0.1")
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert "podIP" not in status and status["startTime"] == T0
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert by_type(status["conditions"])["PodReadyToStartContainers"]["status"] == "False"
    assert all(c["lastProbeTime"] is None and c["lastTransitionTime"] == T0 for c in status["conditions"])


def test_running_pod_is_ready_and_statuses_sorted_by_name() -> None:
    rt = PodRuntime(True, "10.244.0.2")
    for n in ("zeta", "alpha"):
        rt.add(running(n))
    p = pod("zeta", "alpha")
    status = generate_pod_status(p, rt, {}, now=T1, host_ip="127.0.0.1")
    assert [c["name"] for c in status["containerStatuses"]] == ["alpha", "zeta"]
    assert status["phase"] == "Running"
    assert all(c["status"] == "True" for c in status["conditions"])
    cs = status["containerStatuses"][0]
    assert list(cs) == ["name", "state", "lastState", "ready", "restartCount", "image", "imageID", "containerID",
                        "started"]
    assert cs["state"] == {"running": {"startedAt": T0}} and cs["ready"] and cs["started"]


def test_one_container_waiting_keeps_pod_pending() -> None:
    rt = PodRuntime(True, "10.244.0.2")
    rt.add(running("web"))
    status = generate_pod_status(pod("web", "sidecar"), rt, {"sidecar": ("ErrImagePull", "x")}, now=T0,
                                 host_ip="127.0.0.1")
    assert status["phase"] == "Pending"
    assert by_type(status["conditions"])["ContainersReady"]["message"] == "containers with unready status: [sidecar]"


def test_init_containers() -> None:
    p = pod("app", init=("init-a", "init-b"))
    rt = PodRuntime(True)
    status = generate_pod_status(p, rt, {}, now=T0, host_ip="127.0.0.1")
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = by_type(status["conditions"])["Initialized"]
    assert (init["status"], init["reason"], init["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [init-a init-b]")
    for n in ("init-a", "init-b"):
        rec = running(n)
        rec.exit(T1, 0)
        rt.add(rec)
    rt.add(running("app"))
    status = generate_pod_status(p, rt, {}, now=T1, host_ip="127.0.0.1")
    ic = status["initContainerStatuses"]
    assert [c["name"] for c in ic] == ["init-a", "init-b"]
    assert ic[0]["ready"] is True and ic[0]["started"] is False
    assert ic[0]["state"]["terminated"]["reason"] == "Completed"
    assert status["phase"] == "Running" and by_type(status["conditions"])["Initialized"]["status"] == "True"


@pytest.mark.parametrize(("restart", "exit_code", "terminal", "phase"), [
    ("Never", 0, False, "Succeeded"),
    ("Never", 1, False, "Failed"),
    ("OnFailure", 1, False, "Running"),
    ("OnFailure", 0, False, "Succeeded"),
    ("Always", 0, False, "Running"),
    ("Always", 0, True, "Succeeded"),
    ("Always", 2, True, "Failed"),
])
def test_phase_of_exited_containers(restart: str, exit_code: int, terminal: bool, phase: str) -> None:
    rt = PodRuntime(True)
    rec = running("app")
    rec.exit(T1, exit_code)
    rt.add(rec)
    p = pod("app", restart=restart)
    statuses = container_statuses(p, rt, {}, None, init=False)
    assert pod_phase(p, statuses, terminal) == phase


def test_succeeded_pod_conditions() -> None:
    rt = PodRuntime(True, "10.244.0.9")
    rec = running("job")
    rec.exit(T1, 0)
    rt.add(rec)
    status = generate_pod_status(pod("job", restart="Never"), rt, {}, now=T1, host_ip="127.0.0.1")
    conds = by_type(status["conditions"])
    assert status["phase"] == "Succeeded"
    assert conds["Ready"]["reason"] == conds["ContainersReady"]["reason"] == "PodCompleted"
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    assert status["podIP"] == "10.244.0.9"
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"], term["finishedAt"]) == (0, "Completed", T1)


def test_terminated_pod_with_waiting_container_fails() -> None:
    status = generate_pod_status(pod("app"), PodRuntime(True), {"app": ("ImagePullBackOff", "x")}, now=T1,
                                 host_ip="127.0.0.1", pod_is_terminal=True)
    assert status["phase"] == "Failed"
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "ContainerStatusUnknown")


def test_restart_keeps_last_state() -> None:
    rt = PodRuntime(True)
    first = running("app")
    first.exit(T1, 0)
    rt.add(first)
    rt.add(running("app"))
    st = container_statuses(pod("app"), rt, {}, None, init=False)[0]
    assert st["restartCount"] == 1
    assert st["lastState"]["terminated"]["finishedAt"] == T1 and "running" in st["state"]


def test_vanished_running_container_is_not_reported_as_creating() -> None:
    old = {"phase": "Running", "containerStatuses": [{"name": "app", "state": {"running": {"startedAt": T0}},
                                                      "restartCount": 0, "lastState": {}}]}
    st = container_statuses(pod("app", status=old), PodRuntime(), {}, old["containerStatuses"], init=False)[0]
    assert st["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert st["restartCount"] == 1


def test_transition_times_only_move_when_status_changes() -> None:
    old = merge_conditions(None, [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
                           T0)
    new = merge_conditions(old, [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                           T1)
    assert by_type(new)["Ready"]["lastTransitionTime"] == T1
    assert by_type(new)["PodScheduled"]["lastTransitionTime"] == T0
    assert list(new[0]) == ["type", "status", "lastProbeTime", "lastTransitionTime"]


def test_foreign_conditions_are_kept_first() -> None:
    p = pod("app", status={"conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "x"},
                                          {"type": "Ready", "status": "True"}]})
    types = [c["type"] for c in conditions_for(p, [], "Pending", False)]
    assert types == ["DisruptionTarget", "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                     "PodScheduled"]


def test_readiness_gates() -> None:
    rt = PodRuntime(True)
    rt.add(running("app"))
    p = pod("app")
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    ready = by_type(generate_pod_status(p, rt, {}, now=T0, host_ip="h")["conditions"])["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ReadinessGatesNotReady")
    assert ready["message"] == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'


@pytest.mark.parametrize(("resources", "qos"), [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}, "Burstable"),
])
def test_qos_class(resources: dict, qos: str) -> None:
    assert qos_class({"containers": [{"name": "a", "resources": resources}]}) == qos
