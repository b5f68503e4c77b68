"""Server-side Tables: durations, kube-apiserver printer cells (cases from printers_test.go) and Table shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from labhelpers.sandbox.apiserver import resources as res
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.resources import PrinterColumn, ResourceType
from labhelpers.sandbox.apiserver.tables import (
    age,
    human_duration,
    parse_time,
    short_human_duration,
    to_table,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
Y = 365 * D


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rt(group: str, plural: str) -> ResourceType:
    found = res.lookup(group, "v1", plural)
    assert found is not None
    return found


def cells(resource: ResourceType, obj: dict) -> list:
    return to_table(resource, [obj], now=NOW)["rows"][0]["cells"]


# --- durations (apimachinery duration_test.go) ---

@pytest.mark.parametrize("d,want", [
    (timedelta(seconds=1), "1s"), (timedelta(seconds=70), "70s"), (timedelta(seconds=190), "3m10s"),
    (timedelta(minutes=70), "70m"), (47 * H, "47h"), (49 * H, "2d1h"), ((8 * 24 + 2) * H, "8d"),
    (367 * D, "367d"), ((365 * 2 * 24 + 25) * H, "2y1d"), ((365 * 8 * 24 + 2) * H, "8y"),
    (timedelta(seconds=-2), "<invalid>"), (timedelta(seconds=-2) + timedelta(microseconds=1), "0s"),
    (timedelta(0), "0s"), (timedelta(seconds=1) - MS, "0s"), (timedelta(minutes=2) - MS, "119s"),
    (timedelta(minutes=2), "2m"), (timedelta(minutes=2, seconds=1), "2m1s"), (timedelta(minutes=10) - MS, "9m59s"),
    (timedelta(minutes=10), "10m"), (timedelta(minutes=10, seconds=1), "10m"), (3 * H - MS, "179m"),
    (3 * H, "3h"), (3 * H + timedelta(minutes=1), "3h1m"), (8 * H - MS, "7h59m"), (8 * H, "8h"),
    (8 * H + timedelta(minutes=59), "8h"), (2 * D - MS, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"),
    (8 * D - MS, "7d23h"), (8 * D, "8d"), (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"), (2 * Y, "2y"),
    (2 * Y + 23 * H + timedelta(minutes=59), "2y"), (2 * Y + D - MS, "2y"), (2 * Y + D, "2y1d"), (3 * Y, "3y"),
    (7 * Y, "7y"), (8 * Y - MS, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"), (9 * Y, "9y"),
])
def test_human_duration(d, want):
    assert human_duration(d) == want


@pytest.mark.parametrize("d,want", [
    (timedelta(seconds=-2), "<invalid>"), (timedelta(seconds=-2) + timedelta(microseconds=1), "0s"),
    (timedelta(0), "0s"), (timedelta(seconds=1) - MS, "0s"), (timedelta(seconds=1), "1s"),
    (timedelta(seconds=2) - MS, "1s"), (timedelta(minutes=1) - MS, "59s"), (timedelta(minutes=1), "1m"),
    (timedelta(minutes=2) - MS, "1m"), (H - MS, "59m"), (H, "1h"), (2 * H - MS, "1h"), (D - MS, "23h"),
    (D, "1d"), (2 * D - MS, "1d"), (Y - MS, "364d"), (Y, "1y"), (2 * Y - MS, "1y"), (2 * Y, "2y"),
])
def test_short_human_duration(d, want):
    assert short_human_duration(d) == want


def test_age_and_time_parsing():
    assert age(ago(45), NOW) == "45s"
    assert age(ago(330), NOW) == "5m30s"
    assert age(None, NOW) == age("", NOW) == age("0001-01-01T00:00:00Z", NOW) == "<unknown>"
    assert parse_time("2025-03-01T13:00:00+01:00") == NOW
    assert parse_time("2025-03-01T12:00:00.123456Z") == NOW + timedelta(microseconds=123456)
    assert parse_time("2025-03-01 12:00:00") is None


# --- pods (TestPrintPod, TestPrintPodWithRestartableInitContainer, TestPrintPodwide) ---

PODS = rt("", "pods")


def mkpod(containers=1, init=0, phase="podPhase", statuses=(), init_statuses=(), conditions=(), reason="",
          init_specs=None, deleted=False, **spec) -> dict:
    pod = {"metadata": {"name": "test"},
           "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)],
                    "initContainers": init_specs if init_specs is not None else [{"name": f"i{i}"}
                                                                                 for i in range(init)],
                    **spec},
           "status": {"phase": phase, "containerStatuses": list(statuses),
                      "initContainerStatuses": list(init_statuses), "conditions": list(conditions)}}
    if reason:
        pod["status"]["reason"] = reason
    if deleted:
        pod["metadata"]["deletionTimestamp"] = ago(10)
    return pod


RUNNING = {"running": {}}


def cs(ready=False, restarts=0, state=None, finished_ago=None, started=None, name=None) -> dict:
    out: dict = {"ready": ready, "restartCount": restarts, "state": state or {}}
    if finished_ago is not None:
        out["lastState"] = {"terminated": {"finishedAt": ago(finished_ago), "exitCode": 0}}
    if started is not None:
        out["started"] = started
    if name is not None:
        out["name"] = name
    return out


def waiting(reason=""):
    return {"waiting": {"reason": reason} if reason else {}}


def terminated(reason="", code=0, signal=0):
    t: dict = {"exitCode": code}
    if reason:
        t["reason"] = reason
    if signal:
        t["signal"] = signal
    return {"terminated": t}


SIDECARS = [{"name": "restartable-init-1", "restartPolicy": "Always"},
            {"name": "restartable-init-2", "restartPolicy": "Always"}]

POD_CASES = [
    (mkpod(2, statuses=[cs(True, 3, RUNNING), cs(restarts=3)]), ["1/2", "podPhase", "6"]),
    (mkpod(2, statuses=[cs(True, 3, RUNNING), cs(restarts=3, state=waiting("ContainerWaitingReason"))]),
     ["1/2", "ContainerWaitingReason", "6"]),
    (mkpod(2, statuses=[cs(restarts=3, state=waiting("ContainerWaitingReason")),
                        cs(restarts=3, state=terminated("ContainerTerminatedReason"))]),
     ["0/2", "ContainerWaitingReason", "6"]),
    (mkpod(2, statuses=[cs(True, 3, RUNNING), cs(True, 3)]), ["1/2", "podPhase", "6"]),
    (mkpod(2, reason="podReason", statuses=[cs(True, 3, RUNNING), cs(True, 3)]), ["1/2", "podReason", "6"]),
    (mkpod(2, phase="Running", statuses=[cs(True, 3, terminated("Completed")), cs(True, 3, RUNNING)]),
     ["1/2", "NotReady", "6"]),
    (mkpod(2, phase="Running", statuses=[cs(True, 3, terminated("Completed")), cs(True, 3, RUNNING)],
           conditions=[{"type": "Ready", "status": "True"}]), ["1/2", "Running", "6"]),
    (mkpod(1, init=1, init_statuses=[cs(restarts=3, state=RUNNING, finished_ago=10)],
           statuses=[cs(state=waiting())]), ["0/1", "Init:0/1", "3 (10s ago)"]),
    (mkpod(1, init=2, init_statuses=[cs(restarts=3, state=RUNNING, finished_ago=10), cs(state=waiting())],
           statuses=[cs(state=waiting())]), ["0/1", "Init:0/2", "3 (10s ago)"]),
    (mkpod(1, init=2, init_statuses=[cs(state=terminated()), cs(restarts=3, state=RUNNING, finished_ago=10)],
           statuses=[cs(state=waiting())]), ["0/1", "Init:1/2", "3 (10s ago)"]),
    (mkpod(1, init=2, init_statuses=[cs(restarts=2, state=terminated(), finished_ago=120),
                                     cs(restarts=3, state=RUNNING, finished_ago=10)],
           statuses=[cs(state=waiting())]), ["0/1", "Init:1/2", "5 (10s ago)"]),
    (mkpod(1, init=1, phase="Running", init_statuses=[cs(restarts=2, state=terminated(), finished_ago=120)],
           statuses=[cs(restarts=4, state=RUNNING, finished_ago=20)]), ["0/1", "Running", "4 (20s ago)"]),
    (mkpod(1, phase="Running", statuses=[cs(True, 3, RUNNING, finished_ago=5 * 86400)]),
     ["1/1", "Running", "3 (5d ago)"]),
    (mkpod(2, phase="Running", statuses=[cs(True, 0, RUNNING), cs(True, 3, RUNNING, finished_ago=10 * 86400)]),
     ["2/2", "Running", "3 (10d ago)"]),
    (mkpod(2, phase="Running", statuses=[cs(True, 6, RUNNING, finished_ago=5 * 86400),
                                         cs(True, 3, RUNNING, finished_ago=20 * 86400)]),
     ["2/2", "Running", "9 (5d ago)"]),
    (mkpod(2, conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
     ["0/2", "SchedulingGated", "0"]),
    (mkpod(1, phase="Succeeded", statuses=[cs(state=terminated("Completed"))]), ["0/1", "Completed", "0"]),
    (mkpod(1, phase="Failed", statuses=[cs(state=terminated("Error", 1))]), ["0/1", "Error", "0"]),
    (mkpod(1, phase="Succeeded", deleted=True, statuses=[cs(state=terminated("Completed"))]),
     ["0/1", "Completed", "0"]),
    (mkpod(1, phase="Running", deleted=True, statuses=[cs(state=RUNNING)]), ["0/1", "Terminating", "0"]),
    (mkpod(1, phase="Pending", deleted=True), ["0/1", "Terminating", "0"]),
    # restartable init containers (sidecars)
    (mkpod(1, phase="Pending", init_specs=SIDECARS,
           init_statuses=[cs(restarts=3, state=RUNNING, started=False, finished_ago=10, name="restartable-init-1"),
                          cs(state=waiting(), started=False, name="restartable-init-2")],
           statuses=[cs(state=waiting())], conditions=[{"type": "Initialized", "status": "False"}]),
     ["0/3", "Init:0/2", "3 (10s ago)"]),
    (mkpod(1, phase="Pending", init_specs=SIDECARS,
           init_statuses=[cs(restarts=3, state=RUNNING, started=True, finished_ago=10, name="restartable-init-1"),
                          cs(state=RUNNING, started=False, name="restartable-init-2")],
           statuses=[cs(state=waiting())], conditions=[{"type": "Initialized", "status": "False"}]),
     ["0/3", "Init:1/2", "3 (10s ago)"]),
    (mkpod(1, phase="Running", init_specs=SIDECARS,
           init_statuses=[cs(restarts=3, state=RUNNING, started=True, finished_ago=10, name="restartable-init-1"),
                          cs(state=RUNNING, started=True, name="restartable-init-2")],
           statuses=[cs(True, 4, RUNNING, finished_ago=20)], conditions=[{"type": "Initialized", "status": "True"}]),
     ["1/3", "Running", "7 (10s ago)"]),
    (mkpod(1, phase="Succeeded", init_specs=SIDECARS,
           init_statuses=[cs(restarts=3, state=terminated("Error", 137), started=False, finished_ago=10,
                             name="restartable-init-1"),
                          cs(state=terminated("Error", 137), started=False, name="restartable-init-2")],
           statuses=[cs(restarts=4, state=terminated("Completed"), finished_ago=20)],
           conditions=[{"type": "Initialized", "status": "True"}]),
     ["0/3", "Completed", "7 (10s ago)"]),
    (mkpod(1, phase="Running",
           init_specs=[{"name": "init1", "image": "initimage"},
                       {"name": "sidecar1", "image": "sidecarimage", "restartPolicy": "Always"}],
           init_statuses=[{"name": "initinvalid"}, {"name": "init1"}, {"name": "sidecar1"}],
           statuses=[{"name": "containerinvalid"}, {"name": "container1"}]),
     ["0/2", "Init:0/2", "0"]),
]


@pytest.mark.parametrize("pod,want", POD_CASES)
def test_pod_ready_status_restarts(pod, want):
    assert cells(PODS, pod)[:5] == ["test", *want, "<unknown>"]


@pytest.mark.parametrize("state,want", [
    (waiting("ImagePullBackOff"), "ImagePullBackOff"),
    (waiting("ErrImagePull"), "ErrImagePull"),
    (waiting("ContainerCreating"), "ContainerCreating"),
    (terminated(signal=9, code=137), "Signal:9"),
    (terminated(code=2), "ExitCode:2"),
])
def test_container_states_become_status(state, want):
    assert cells(PODS, mkpod(1, phase="Pending", statuses=[cs(state=state)]))[2] == want


@pytest.mark.parametrize("init_state,want", [
    (waiting("ErrImagePull"), "Init:ErrImagePull"),
    (waiting("PodInitializing"), "Init:0/1"),
    (terminated("Error", 1), "Init:Error"),
    (terminated(code=3), "Init:ExitCode:3"),
    (terminated(signal=15, code=143), "Init:Signal:15"),
])
def test_init_container_states(init_state, want):
    pod = mkpod(1, init=1, phase="Pending", init_statuses=[cs(state=init_state)], statuses=[cs(state=waiting())])
    assert cells(PODS, pod)[2] == want


def test_node_lost_pod_is_unknown():
    assert cells(PODS, mkpod(1, phase="Running", reason="NodeLost", deleted=True))[2] == "Unknown"


def test_pod_wide_cells():
    pod = mkpod(2, nodeName="test1", readinessGates=[{"conditionType": "condition1"}, {"conditionType": "condition2"},
                                                      {"conditionType": "condition3"}],
                statuses=[cs(True, 3, RUNNING), cs(restarts=3)],
                conditions=[{"type": "condition1", "status": "False"}, {"type": "condition2", "status": "True"}])
    pod["status"].update(podIPs=[{"ip": "1.1.1.1"}, {"ip": "2001:db8::"}], nominatedNodeName="node1")
    assert cells(PODS, pod) == ["test", "1/2", "podPhase", "6", "<unknown>", "1.1.1.1", "test1", "node1", "1/3"]
    bare = mkpod(2, statuses=[cs(True, 3, RUNNING), cs(restarts=3, state=waiting("ContainerWaitingReason"))])
    assert cells(PODS, bare)[5:] == ["<none>", "<none>", "<none>", "<none>"]
    legacy = mkpod(1)
    legacy["status"]["podIP"] = "10.1.2.3"  # v1 objects may only carry the singular field
    assert cells(PODS, legacy)[5] == "10.1.2.3"


def test_pod_columns_and_row_conditions():
    table = to_table(PODS, [mkpod(1, phase="Succeeded"), mkpod(1, phase="Failed"), mkpod(1)], now=NOW)
    cols = [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]
    assert cols == [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
                    ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1),
                    ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["rows"][0]["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                               "message": "The pod has completed successfully."}]
    assert table["rows"][1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in table["rows"][2]


# --- events ---

EVENTS = rt("", "events")


def test_event_cells():
    ev = {"metadata": {"name": "p1.17f", "namespace": "lab"}, "type": "Warning", "reason": "Failed",
          "message": "  Failed to pull image  \n", "count": 3, "firstTimestamp": ago(600), "lastTimestamp": ago(30),
          "involvedObject": {"kind": "Pod", "name": "p1", "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "node1"}}
    assert cells(EVENTS, ev) == ["30s", "Warning", "Failed", "pod/p1", "spec.containers{app}", "kubelet, node1",
                                 "Failed to pull image", "10m", 3, "p1.17f"]


def test_event_fallbacks():
    ev = {"metadata": {"name": "e"}, "type": "Normal", "reason": "Scheduled", "eventTime": "2025-03-01T11:59:50.000000Z",
          "reportingComponent": "default-scheduler", "involvedObject": {"kind": "Node"}}
    assert cells(EVENTS, ev) == ["10s", "Normal", "Scheduled", "node", "", "default-scheduler", "", "10s", 1, "e"]
    series = {**ev, "series": {"count": 7, "lastObservedTime": "2025-03-01T11:59:58.000000Z"}}
    row = cells(EVENTS, series)
    assert row[0] == "2s" and row[8] == 7


def test_event_columns():
    cols = [(c["name"], c["priority"]) for c in to_table(EVENTS, [], now=NOW)["columnDefinitions"]]
    assert cols == [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
                    ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]


# --- simple kinds ---

def test_namespace_secret_serviceaccount_configmap():
    assert cells(rt("", "namespaces"), {"metadata": {"name": "lab", "creationTimestamp": ago(5)},
                                        "status": {"phase": "Active"}}) == ["lab", "Active", "5s"]
    secret = {"metadata": {"name": "s1", "creationTimestamp": ago(5)}, "type": "Opaque", "data": {"a": "", "b": ""}}
    assert cells(rt("", "secrets"), secret) == ["s1", "Opaque", 2, "5s"]
    assert cells(rt("", "serviceaccounts"), {"metadata": {"name": "default", "creationTimestamp": ago(90)}}) == \
        ["default", 0, "90s"]
    cm = {"metadata": {"name": "cm"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}}
    assert cells(rt("", "configmaps"), cm) == ["cm", 2, "<unknown>"]
    secret_cols = to_table(rt("", "secrets"), [], now=NOW)["columnDefinitions"]
    assert [(c["name"], c["type"]) for c in secret_cols] == [("Name", "string"), ("Type", "string"),
                                                              ("Data", "string"), ("Age", "string")]


# --- workloads ---

TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]}}


def test_deployment_and_replicaset():
    dep = {"metadata": {"name": "web", "creationTimestamp": ago(3600)},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
           "status": {"readyReplicas": 1, "updatedReplicas": 3, "availableReplicas": 1}}
    assert cells(rt("apps", "deployments"), dep) == ["web", "1/3", 3, 1, "60m", "app,side", "nginx:1,busybox",
                                                     "app=web"]
    assert cells(rt("apps", "deployments"), {"metadata": {"name": "d"}, "spec": {}})[1:4] == ["0/1", 0, 0]
    rs = {"metadata": {"name": "web-5d4", "creationTimestamp": ago(3600)},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4"}},
                   "template": TEMPLATE},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert cells(rt("apps", "replicasets"), rs) == ["web-5d4", 2, 2, 1, "60m", "app,side", "nginx:1,busybox",
                                                    "app=web,pod-template-hash=5d4"]
    cols = to_table(rt("apps", "replicasets"), [], now=NOW)["columnDefinitions"]
    assert [(c["name"], c["type"]) for c in cols][:4] == [("Name", "string"), ("Desired", "integer"),
                                                          ("Current", "integer"), ("Ready", "integer")]


JOBS = rt("batch", "jobs")


def job(conditions=(), deleted=False, **spec) -> dict:
    obj = {"metadata": {"name": "j", "creationTimestamp": ago(600)},
           "spec": {"template": TEMPLATE, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                    **spec},
           "status": {"succeeded": 1, "startTime": ago(300), "conditions": list(conditions)}}
    if deleted:
        obj["metadata"]["deletionTimestamp"] = ago(1)
    return obj


@pytest.mark.parametrize("obj,status", [
    (job([{"type": "Complete", "status": "True"}]), "Complete"),
    (job([{"type": "Failed", "status": "True"}]), "Failed"),
    (job(deleted=True), "Terminating"),
    (job([{"type": "Suspended", "status": "True"}]), "Suspended"),
    (job([{"type": "FailureTarget", "status": "True"}]), "FailureTarget"),
    (job([{"type": "Complete", "status": "False"}]), "Running"),
])
def test_job_status(obj, status):
    assert cells(JOBS, obj)[1] == status


def test_job_completions_and_duration():
    assert cells(JOBS, job(completions=3)) == ["j", "Running", "1/3", "5m", "10m", "app,side", "nginx:1,busybox",
                                               "batch.kubernetes.io/controller-uid=u"]
    assert cells(JOBS, job(parallelism=4))[2] == "1/1 of 4"
    assert cells(JOBS, job())[2] == "1/1"
    done = job(completions=1)
    done["status"]["completionTime"] = ago(240)
    assert cells(JOBS, done)[3] == "60s"
    del done["status"]["startTime"]
    assert cells(JOBS, done)[3] == ""
    cols = [c["name"] for c in to_table(JOBS, [], now=NOW)["columnDefinitions"]]
    assert cols == ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]


def test_cronjob():
    cj = {"metadata": {"name": "nightly", "creationTimestamp": ago(86400 * 3)},
          "spec": {"schedule": "0 3 * * *", "suspend": True,
                   "jobTemplate": {"spec": {"template": TEMPLATE}}},
          "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(3600)}}
    assert cells(rt("batch", "cronjobs"), cj) == ["nightly", "0 3 * * *", "<none>", "True", 1, "60m", "3d",
                                                  "app,side", "nginx:1,busybox", "<none>"]
    cj["spec"].update(timeZone="Etc/UTC")
    del cj["spec"]["suspend"]
    del cj["status"]["lastScheduleTime"]
    assert cells(rt("batch", "cronjobs"), cj)[2:6] == ["Etc/UTC", "False", 1, "<none>"]
    cols = to_table(rt("batch", "cronjobs"), [], now=NOW)["columnDefinitions"]
    assert [(c["name"], c["type"]) for c in cols][:7] == [
        ("Name", "string"), ("Schedule", "string"), ("Timezone", "string"), ("Suspend", "boolean"),
        ("Active", "integer"), ("Last Schedule", "string"), ("Age", "string")]


# --- RBAC ---

def test_role_binding_and_default_convertor():
    rb = {"metadata": {"name": "rb", "creationTimestamp": ago(5)},
          "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                       {"kind": "User", "name": "bob"}, {"kind": "ServiceAccount", "namespace": "lab",
                                                        "name": "default"}]}
    assert cells(rt("rbac.authorization.k8s.io", "rolebindings"), rb) == \
        ["rb", "ClusterRole/view", "5s", "alice, bob", "devs", "lab/default"]
    crb_cols = to_table(rt("rbac.authorization.k8s.io", "clusterrolebindings"), [], now=NOW)["columnDefinitions"]
    assert crb_cols[3]["description"] == "Users in the clusterRoleBinding" and crb_cols[3]["priority"] == 1
    for plural in ("roles", "clusterroles"):
        table = to_table(rt("rbac.authorization.k8s.io", plural),
                         [{"metadata": {"name": "r", "creationTimestamp": "2025-03-01T11:00:00Z"}}], now=NOW)
        assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"),
                                                                               ("Created At", "date")]
        assert table["rows"][0]["cells"] == ["r", "2025-03-01T11:00:00Z"]


# --- custom resources ---

POLICY = ResourceType("kyverno.io", "v1", "ClusterPolicy", "clusterpolicies", namespaced=False, custom=True,
                      printer_columns=(
                          PrinterColumn("ADMISSION", "boolean", ".spec.admission"),
                          PrinterColumn("READY", "string", '.status.conditions[?(@.type == "Ready")].status'),
                          PrinterColumn("AGE", "date", ".metadata.creationTimestamp"),
                          PrinterColumn("VALIDATE", "integer", ".status.rulecount.validate", priority=1),
                          PrinterColumn("RULES", "string", ".spec.rules[*].name", priority=1),
                          PrinterColumn("MESSAGE", "string", ".status.conditions[?(@.type=='Ready')].message",
                                        description="the ready message", priority=1),
                      ))


def policy(**status) -> dict:
    return {"metadata": {"name": "require-registry", "creationTimestamp": ago(7200)},
            "spec": {"admission": True, "rules": [{"name": "r1"}, {"name": "r2"}]},
            "status": {"conditions": [{"type": "Other", "status": "False"},
                                      {"type": "Ready", "status": "True", "message": "Ready"}], **status}}


def test_crd_columns_follow_additional_printer_columns():
    table = to_table(POLICY, [policy(rulecount={"validate": 2.0})], now=NOW)
    cols = table["columnDefinitions"]
    assert [c["name"] for c in cols] == ["Name", "ADMISSION", "READY", "AGE", "VALIDATE", "RULES", "MESSAGE"]
    assert cols[1]["description"] == "Custom resource definition column (in JSONPath format): .spec.admission"
    assert cols[6]["description"] == "the ready message"
    assert table["rows"][0]["cells"] == ["require-registry", True, "True", "120m", 2, "r1", "Ready"]


def test_crd_cells_of_missing_or_mistyped_values_are_null():
    obj = policy(rulecount={"validate": "two"})
    obj["spec"]["admission"] = "yes"
    del obj["status"]["conditions"]
    assert cells(POLICY, obj) == ["require-registry", None, None, "120m", None, "r1", None]


def test_crd_string_columns_print_like_jsonpath():
    crd = ResourceType("x.io", "v1", "Thing", "things", custom=True, printer_columns=(
        PrinterColumn("MAP", "string", ".spec.m"), PrinterColumn("NUM", "string", ".spec.n"),
        PrinterColumn("BIG", "string", ".spec.big"), PrinterColumn("NULL", "string", ".spec.z"),
        PrinterColumn("WHEN", "date", ".spec.when"), PrinterColumn("RATIO", "number", ".spec.r")))
    obj = {"metadata": {"name": "t"},
           "spec": {"m": {"b": [1.0, "<x>"], "a": True}, "n": 1.5, "big": 1234567.0, "z": None, "when": "soon",
                    "r": 2}}
    assert cells(crd, obj) == ["t", '{"a":true,"b":[1,"\\u003cx\\u003e"]}', "1.5", "1.234567e+06", "<no value>",
                               "<invalid>", 2]


def test_crd_without_columns_gets_age_only():
    crd = ResourceType("x.io", "v1", "Thing", "things", custom=True)
    table = to_table(crd, [{"metadata": {"name": "t", "creationTimestamp": ago(61)}}], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"), ("Age", "date")]
    assert table["columnDefinitions"][1]["description"].startswith("CreationTimestamp is a timestamp")
    assert table["rows"][0]["cells"] == ["t", "61s"]


# --- the Table envelope ---

def test_table_envelope_and_partial_object_metadata():
    meta = {"name": "s1", "namespace": "lab", "labels": {"app": "x"}, "creationTimestamp": ago(5)}
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": meta, "type": "Opaque", "data": {"a": "YQ=="}}
    table = to_table(rt("", "secrets"), [secret], now=NOW, resource_version="114", continue_token="tok")
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "114", "continue": "tok"}
    assert list(table["columnDefinitions"][0]) == ["name", "type", "format", "description", "priority"]
    row = table["rows"][0]
    assert row == {"cells": ["s1", "Opaque", 1, "5s"],
                   "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}}
    json.dumps(table)  # serialisable as-is


def test_include_object_variants():
    obj = {"metadata": {"name": "ns1"}, "status": {"phase": "Active"}}
    full = to_table(rt("", "namespaces"), [obj], now=NOW, include_object="Object")["rows"][0]["object"]
    assert full == {"kind": "Namespace", "apiVersion": "v1", **obj}
    assert to_table(rt("", "namespaces"), [obj], now=NOW, include_object="None")["rows"][0]["object"] is None
    headless = to_table(rt("", "namespaces"), [obj], now=NOW, no_headers=True)
    assert headless["columnDefinitions"] is None and headless["metadata"] == {}
    with pytest.raises(ApiError) as exc:
        to_table(rt("", "namespaces"), [obj], now=NOW, include_object="Everything")
    assert exc.value.code == 400 and exc.value.message == 'unrecognized includeObject value: "Everything"'
    assert to_table(rt("", "pods"), [], now=NOW)["rows"] == []
