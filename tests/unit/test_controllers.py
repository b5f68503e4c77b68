"""The sandbox controllers against a real Registry on a temporary SQLite store, driven deterministically.

A fake clock drives both the registry's timestamps and the controllers' time-based work; the manager is
stepped with ``sync_until_idle`` (no event loop, no HTTP).
"""

from __future__ import annotations

import asyncio
import copy
import re
from datetime import UTC, datetime

import pytest

from labhelpers.sandbox.apiserver import admission
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.objects import AdmissionRequest, Registry
from labhelpers.sandbox.apiserver.store import Store
from labhelpers.sandbox.controllers import ControllerManager
from labhelpers.sandbox.controllers.common import (
    CONFIGMAP,
    CRONJOB,
    DEPLOYMENT,
    EVENT,
    JOB,
    NAMESPACE,
    POD,
    REPLICASET,
    SERVICEACCOUNT,
    rfc3339,
)
from labhelpers.sandbox.controllers.cronjob import most_recent_schedule_time, parse_schedule
from labhelpers.sandbox.controllers.deploymentutil import compute_hash, safe_encode
from labhelpers.sandbox.controllers.events import EventRecorder

START = datetime(2025, 3, 10, 12, 0, 30, tzinfo=UTC).timestamp()
HASH_RE = re.compile(r"[bcdfghjklmnpqrstvwxz2456789]{1,10}")


class FakeClock:
    def __init__(self, t: float = START):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(tmp_path, clock) -> Registry:
    store = Store(tmp_path / "state.db")
    reg = Registry(store, clock=clock)
    admission.install(reg)
    yield reg
    store.close()


@pytest.fixture
def mgr(registry, clock) -> ControllerManager:
    m = ControllerManager(registry, clock=clock)
    m.start()
    m.sync_until_idle()
    registry.create(NAMESPACE, None, {"metadata": {"name": "lab"}})
    m.sync_until_idle()
    yield m
    m.stop()


# --- helpers ---

def names(registry: Registry, rt, ns: str = "lab") -> list[str]:
    return [o["metadata"]["name"] for o in registry.list(rt, ns)]


def events(registry: Registry, ns: str = "lab") -> list[tuple[str, str, str, str]]:
    return [(e["involvedObject"]["kind"], e["type"], e["reason"], e["message"]) for e in registry.list(EVENT, ns)]


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.25", **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}, **spec}}


def set_pod_status(registry: Registry, pod: dict, clock: FakeClock, *, phase: str = "Running",
                   ready: bool = True) -> None:
    pod = copy.deepcopy(registry.get(POD, pod["metadata"]["namespace"], pod["metadata"]["name"]))
    now = rfc3339(clock())
    status = pod.setdefault("status", {})
    status["phase"] = phase
    status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                             "lastProbeTime": None, "lastTransitionTime": now}]
    registry.update(POD, pod["metadata"]["namespace"], pod["metadata"]["name"], pod, subresource="status")


def make_all_ready(registry: Registry, mgr: ControllerManager, clock: FakeClock, ns: str = "lab") -> None:
    for pod in registry.list(POD, ns):
        if not pod["metadata"].get("deletionTimestamp"):
            set_pod_status(registry, pod, clock)
    mgr.sync_until_idle()


def rs_of(registry: Registry, deploy: str, ns: str = "lab") -> list[dict]:
    return sorted((rs for rs in registry.list(REPLICASET, ns)
                   if rs["metadata"]["name"].startswith(deploy + "-")),
                  key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))


def condition(obj: dict, type_: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


# --- namespaces ---

def test_system_namespaces_service_accounts_and_root_ca(registry, mgr):
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "lab"):
        assert registry.find(NAMESPACE, "", ns) is not None
        assert names(registry, SERVICEACCOUNT, ns) == ["default"]
        cm = registry.get(CONFIGMAP, ns, "kube-root-ca.crt")
        assert "LAB SANDBOX PLACEHOLDER" in cm["data"]["ca.crt"]
        assert cm["metadata"]["annotations"]["kubernetes.io/description"].startswith(
            "Contains a CA bundle that can be used to verify the kube-apiserver")


def test_root_ca_configmap_publishes_the_given_ca(registry, clock):
    pem = "-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n"
    m = ControllerManager(registry, clock=clock, root_ca_pem=pem)
    m.start()
    m.sync_until_idle()
    assert registry.get(CONFIGMAP, "kube-system", "kube-root-ca.crt")["data"] == {"ca.crt": pem}
    m.stop()


def test_default_service_account_and_root_ca_are_restored(registry, mgr):
    registry.delete(SERVICEACCOUNT, "lab", "default")
    cm = registry.get(CONFIGMAP, "lab", "kube-root-ca.crt")
    cm["data"]["ca.crt"] = "tampered"
    registry.update(CONFIGMAP, "lab", "kube-root-ca.crt", cm)
    mgr.sync_until_idle()
    assert names(registry, SERVICEACCOUNT) == ["default"]
    assert "LAB SANDBOX PLACEHOLDER" in registry.get(CONFIGMAP, "lab", "kube-root-ca.crt")["data"]["ca.crt"]


def test_namespace_deletion_removes_all_content(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment())
    registry.create(CONFIGMAP, "lab", {"metadata": {"name": "settings"}, "data": {"a": "b"}})
    mgr.sync_until_idle()
    assert len(names(registry, POD)) == 3
    registry.delete(NAMESPACE, "", "lab")
    mgr.sync_until_idle()
    for rt in (DEPLOYMENT, REPLICASET, POD, CONFIGMAP, SERVICEACCOUNT):
        assert names(registry, rt) == [], rt.kind
    assert registry.find(NAMESPACE, "", "lab") is None  # unscheduled pods go at once, so nothing is left
    assert names(registry, EVENT) == []


def test_terminating_namespace_reports_remaining_finalizers(registry, mgr, clock):
    registry.create(CONFIGMAP, "lab", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    registry.delete(NAMESPACE, "", "lab")
    mgr.sync_until_idle()
    ns = registry.find(NAMESPACE, "", "lab")
    assert ns is not None and ns["status"]["phase"] == "Terminating"
    remaining = condition(ns, "NamespaceContentRemaining")
    assert remaining["status"] == "True" and remaining["reason"] == "SomeResourcesRemain"
    assert remaining["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
    fin = condition(ns, "NamespaceFinalizersRemaining")
    assert fin["message"] == ("Some content in the namespace has finalizers remaining: example.com/hold in 1 "
                              "resource instances")
    assert condition(ns, "NamespaceDeletionDiscoveryFailure")["reason"] == "ResourcesDiscovered"
    cm = registry.get(CONFIGMAP, "lab", "held")
    cm["metadata"]["finalizers"] = []
    registry.update(CONFIGMAP, "lab", "held", cm)
    clock.advance(10)
    mgr.sync_until_idle()
    assert registry.find(NAMESPACE, "", "lab") is None


def test_namespace_waits_for_gracefully_terminating_pods(registry, mgr, clock):
    registry.pod_graceful_hook = lambda pod: None  # a kubelet that has not finished yet
    registry.create(POD, "lab", {"metadata": {"name": "bound"},
                                 "spec": {"nodeName": "lab-node", "containers": [{"name": "c", "image": "busybox"}]}})
    registry.delete(NAMESPACE, "", "lab")
    mgr.sync_until_idle()
    ns = registry.get(NAMESPACE, "", "lab")
    assert condition(ns, "NamespaceContentRemaining")["message"] == \
        "Some resources are remaining: pods. has 1 resource instances"
    assert mgr.next_due() == pytest.approx(clock() + 16)  # estimate 30 s: back after 30/2 + 1
    registry.delete(POD, "lab", "bound", grace_period=0)  # the kubelet reports the containers gone
    clock.advance(16)
    mgr.sync_until_idle()
    assert registry.find(NAMESPACE, "", "lab") is None


# --- deployments and replicasets ---

def test_deployment_creates_replicaset_and_pods(registry, mgr):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    mgr.resync()  # a full resync must find everything settled: same ReplicaSet, same pods
    mgr.sync_until_idle()
    d = registry.get(DEPLOYMENT, "lab", "web")
    (rs,) = registry.list(REPLICASET, "lab")
    pth = rs["metadata"]["labels"]["pod-template-hash"]
    assert HASH_RE.fullmatch(pth)
    assert rs["metadata"]["name"] == f"web-{pth}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pth}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pth}
    assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                             "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    assert rs["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                  "uid": d["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = registry.list(POD, "lab")
    assert len(pods) == 3
    for p in pods:
        assert re.fullmatch(rf"web-{pth}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", p["metadata"]["name"])
        assert p["metadata"]["labels"] == {"app": "web", "pod-template-hash": pth}
        assert p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert p["spec"]["serviceAccountName"] == "default"
    evs = events(registry)
    assert ("Deployment", "Normal", "ScalingReplicaSet", f"Scaled up replica set web-{pth} from 0 to 3") in evs
    created = sorted(m for k, _, r, m in evs if r == "SuccessfulCreate")
    assert created == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    status = d["status"]
    assert {k: status.get(k) for k in ("observedGeneration", "replicas", "updatedReplicas",
                                       "unavailableReplicas", "readyReplicas")} == {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "unavailableReplicas": 3,
        "readyReplicas": None}
    assert condition(d, "Available")["reason"] == "MinimumReplicasUnavailable"
    assert condition(d, "Available")["message"] == "Deployment does not have minimum availability."
    assert condition(d, "Progressing")["message"] == f'ReplicaSet "web-{pth}" is progressing.'


def test_ready_pods_make_deployment_available(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    make_all_ready(registry, mgr, clock)
    d = registry.get(DEPLOYMENT, "lab", "web")
    (rs,) = registry.list(REPLICASET, "lab")
    assert rs["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                            "availableReplicas": 3, "observedGeneration": 1}
    assert d["status"]["availableReplicas"] == 3 and "unavailableReplicas" not in d["status"]
    assert [c["type"] for c in d["status"]["conditions"]] == ["Available", "Progressing"]
    assert condition(d, "Available")["message"] == "Deployment has minimum availability."
    prog = condition(d, "Progressing")
    assert prog["reason"] == "NewReplicaSetAvailable"
    assert prog["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'


def test_template_change_rolls_out_a_new_replicaset(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    make_all_ready(registry, mgr, clock)
    d = registry.get(DEPLOYMENT, "lab", "web")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    registry.update(DEPLOYMENT, "lab", "web", d)
    mgr.sync_until_idle()
    old, new = rs_of(registry, "web")
    assert old["metadata"]["name"] != new["metadata"]["name"]
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    # maxSurge 25% of 3 rounds up to 1, maxUnavailable rounds down to 0: one new pod, no old pod removed yet.
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (3, 1)
    for _ in range(10):
        make_all_ready(registry, mgr, clock)
        old, new = rs_of(registry, "web")
        if old["spec"]["replicas"] == 0 and new["status"].get("availableReplicas") == 3:
            break
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    d = registry.get(DEPLOYMENT, "lab", "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert d["status"]["updatedReplicas"] == 3 and d["status"]["observedGeneration"] == 2
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    msgs = [m for _, _, r, m in events(registry) if r == "ScalingReplicaSet"]
    assert f"Scaled down replica set {old['metadata']['name']} from 3 to 2" in msgs
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in msgs
    assert all(p["metadata"]["labels"]["pod-template-hash"] == new["metadata"]["labels"]["pod-template-hash"]
               for p in registry.list(POD, "lab"))


def test_rollback_to_an_old_template_reuses_its_replicaset(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    for image in ("nginx:1.26", "nginx:1.25"):
        d = registry.get(DEPLOYMENT, "lab", "web")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        registry.update(DEPLOYMENT, "lab", "web", d)
        mgr.sync_until_idle()
    rss = rs_of(registry, "web")
    assert len(rss) == 2
    first = next(rs for rs in rss if rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25")
    assert first["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert first["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"


def test_recreate_scales_old_down_before_creating_new(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment(replicas=2, strategy={"type": "Recreate"}))
    mgr.sync_until_idle()
    make_all_ready(registry, mgr, clock)
    d = registry.get(DEPLOYMENT, "lab", "web")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    registry.update(DEPLOYMENT, "lab", "web", d)
    mgr.sync_until_idle()
    old, new = rs_of(registry, "web")
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 2
    images = {p["spec"]["containers"][0]["image"] for p in registry.list(POD, "lab")}
    assert images == {"nginx:1.26"}
    msgs = [m for _, _, r, m in events(registry) if r == "ScalingReplicaSet"]
    assert msgs.index(f"Scaled down replica set {old['metadata']['name']} from 2 to 0") < \
        msgs.index(f"Scaled up replica set {new['metadata']['name']} from 0 to 2")


def test_progress_deadline_exceeded(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment(progressDeadlineSeconds=60))
    mgr.sync_until_idle()
    clock.advance(mgr.next_due() - clock())
    mgr.sync_until_idle()
    d = registry.get(DEPLOYMENT, "lab", "web")
    (rs,) = registry.list(REPLICASET, "lab")
    prog = condition(d, "Progressing")
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert prog["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'


def test_scaling_a_deployment(registry, mgr):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    d = registry.get(DEPLOYMENT, "lab", "web")
    d["spec"]["replicas"] = 5
    registry.update(DEPLOYMENT, "lab", "web", d)
    mgr.sync_until_idle()
    (rs,) = registry.list(REPLICASET, "lab")
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    assert len(names(registry, POD)) == 5
    assert ("Deployment", "Normal", "ScalingReplicaSet",
            f"Scaled up replica set {rs['metadata']['name']} from 3 to 5") in events(registry)


def test_revision_history_limit_deletes_oldest_replicasets(registry, mgr, clock):
    registry.create(DEPLOYMENT, "lab", deployment(replicas=1, revisionHistoryLimit=1))
    mgr.sync_until_idle()
    for tag in ("1.26", "1.27", "1.28"):
        make_all_ready(registry, mgr, clock)
        d = registry.get(DEPLOYMENT, "lab", "web")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = f"nginx:{tag}"
        registry.update(DEPLOYMENT, "lab", "web", d)
        mgr.sync_until_idle()
    for _ in range(5):
        make_all_ready(registry, mgr, clock)
    revisions = [rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in rs_of(registry, "web")]
    assert revisions == ["3", "4"]


def test_deleting_a_deployment_cascades(registry, mgr):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    registry.delete(DEPLOYMENT, "lab", "web")
    mgr.sync_until_idle()
    assert names(registry, REPLICASET) == [] and names(registry, POD) == []


def test_foreground_deletion_waits_for_dependents(registry, mgr):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    obj, gone = registry.delete(DEPLOYMENT, "lab", "web", propagation="Foreground")
    assert not gone and obj["metadata"]["finalizers"] == ["foregroundDeletion"]
    mgr.sync_until_idle()
    assert registry.find(DEPLOYMENT, "lab", "web") is None
    assert names(registry, REPLICASET) == [] and names(registry, POD) == []


def test_orphan_deletion_keeps_dependents(registry, mgr):
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    registry.delete(DEPLOYMENT, "lab", "web", propagation="Orphan")
    mgr.sync_until_idle()
    (rs,) = registry.list(REPLICASET, "lab")
    assert "ownerReferences" not in rs["metadata"]
    assert len(names(registry, POD)) == 3


def test_garbage_collector_handles_dangling_and_partial_owners(registry, mgr):
    cm = registry.create(CONFIGMAP, "lab", {"metadata": {"name": "owner"}})
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "0000-gone"}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": cm["metadata"]["uid"]}
    registry.create(CONFIGMAP, "lab", {"metadata": {"name": "orphaned", "ownerReferences": [ghost]}})
    registry.create(CONFIGMAP, "lab", {"metadata": {"name": "shared", "ownerReferences": [ghost, live]}})
    mgr.sync_until_idle()
    assert registry.find(CONFIGMAP, "lab", "orphaned") is None
    assert registry.get(CONFIGMAP, "lab", "shared")["metadata"]["ownerReferences"] == [live]


def test_replicaset_scale_down_removes_unready_pods_first(registry, mgr, clock):
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rs"}},
                   "template": {"metadata": {"labels": {"app": "rs"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    registry.create(REPLICASET, "lab", rs)
    mgr.sync_until_idle()
    pods = registry.list(POD, "lab")
    set_pod_status(registry, pods[0], clock, ready=True)
    set_pod_status(registry, pods[1], clock, ready=False)
    set_pod_status(registry, pods[2], clock, ready=True)
    mgr.sync_until_idle()
    rs = registry.get(REPLICASET, "lab", "rs")
    rs["spec"]["replicas"] = 2
    registry.update(REPLICASET, "lab", "rs", rs)
    mgr.sync_until_idle()
    assert sorted(names(registry, POD)) == sorted([pods[0]["metadata"]["name"], pods[2]["metadata"]["name"]])
    assert ("ReplicaSet", "Normal", "SuccessfulDelete", f"Deleted pod: {pods[1]['metadata']['name']}") in \
        events(registry)


def test_replicaset_adopts_matching_orphan_pods(registry, mgr):
    registry.create(POD, "lab", {"metadata": {"name": "stray", "labels": {"app": "rs"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    rs = registry.create(REPLICASET, "lab", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rs"}},
                 "template": {"metadata": {"labels": {"app": "rs"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    mgr.sync_until_idle()
    assert len(names(registry, POD)) == 2
    stray = registry.get(POD, "lab", "stray")
    assert stray["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]


def test_rejected_pods_give_failedcreate_events_that_aggregate(registry, mgr, clock):
    def deny(req: AdmissionRequest) -> None:
        if req.rt.kind == "Pod" and req.operation == "CREATE":
            raise ApiError.admission_denied('admission webhook "validate.kyverno.svc-fail" denied the request: no')

    registry.validators.append(deny)
    registry.create(DEPLOYMENT, "lab", deployment())
    mgr.sync_until_idle()
    for _ in range(4):
        clock.advance(5)
        mgr.sync_until_idle()
    (rs,) = registry.list(REPLICASET, "lab")
    msg = 'admission webhook "validate.kyverno.svc-fail" denied the request: no'
    failure = condition(rs, "ReplicaFailure")
    assert (failure["reason"], failure["message"]) == ("FailedCreate", msg)
    (ev,) = [e for e in registry.list(EVENT, "lab") if e["reason"] == "FailedCreate"]
    assert ev["type"] == "Warning" and ev["message"] == f"Error creating: {msg}"
    assert ev["count"] >= 3 and ev["firstTimestamp"] < ev["lastTimestamp"]
    d = registry.get(DEPLOYMENT, "lab", "web")
    assert condition(d, "ReplicaFailure")["message"] == msg
    registry.validators.remove(deny)
    clock.advance(120)
    mgr.sync_until_idle()
    assert len(names(registry, POD)) == 3
    assert condition(registry.get(REPLICASET, "lab", rs["metadata"]["name"]), "ReplicaFailure") is None


def test_pod_template_hash_encoding():
    assert safe_encode("0123456789") == "456789bcdf"
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    h = compute_hash(t)
    assert HASH_RE.fullmatch(h) and h == compute_hash(copy.deepcopy(t))
    assert compute_hash(t, 1) != h


# --- jobs ---

def job(name: str = "pi", **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}, **spec}}


def test_job_runs_pods_to_completion(registry, mgr, clock):
    j = registry.create(JOB, "lab", job(completions=2))
    mgr.sync_until_idle()
    (pod,) = registry.list(POD, "lab")
    uid = j["metadata"]["uid"]
    assert re.fullmatch(r"pi-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
    labels = pod["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == uid and labels["job-name"] == "pi"
    assert pod["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    status = registry.get(JOB, "lab", "pi")["status"]
    assert status["active"] == 1 and status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {} and status["startTime"] == rfc3339(START)
    clock.advance(3)
    set_pod_status(registry, pod, clock, phase="Succeeded", ready=False)
    mgr.sync_until_idle()
    assert registry.get(POD, "lab", pod["metadata"]["name"])["metadata"].get("finalizers") is None
    second = [p for p in registry.list(POD, "lab") if p["metadata"]["name"] != pod["metadata"]["name"]]
    assert len(second) == 1
    assert registry.get(JOB, "lab", "pi")["status"]["succeeded"] == 1
    clock.advance(3)
    set_pod_status(registry, second[0], clock, phase="Succeeded", ready=False)
    mgr.sync_until_idle()
    status = registry.get(JOB, "lab", "pi")["status"]
    assert status["succeeded"] == 2 and "active" not in status
    assert [(c["type"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
        ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")]
    assert status["completionTime"] == rfc3339(clock())
    evs = events(registry)
    assert ("Job", "Normal", "Completed", "Job completed") in evs
    assert sum(1 for _, _, r, _ in evs if r == "SuccessfulCreate") == 2


def test_job_fails_after_backoff_limit(registry, mgr, clock):
    registry.create(JOB, "lab", job(backoffLimit=1))
    mgr.sync_until_idle()
    (pod,) = registry.list(POD, "lab")
    set_pod_status(registry, pod, clock, phase="Failed", ready=False)
    mgr.sync_until_idle()
    assert registry.get(JOB, "lab", "pi")["status"]["failed"] == 1
    assert len([p for p in registry.list(POD, "lab") if p["status"]["phase"] == "Pending"]) == 0  # back-off
    clock.advance(11)
    mgr.sync_until_idle()
    (replacement,) = [p for p in registry.list(POD, "lab") if p["status"]["phase"] == "Pending"]
    set_pod_status(registry, replacement, clock, phase="Failed", ready=False)
    mgr.sync_until_idle()
    status = registry.get(JOB, "lab", "pi")["status"]
    assert status["failed"] == 2
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert "completionTime" not in status
    assert ("Job", "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in \
        events(registry)


def test_indexed_job(registry, mgr, clock):
    registry.create(JOB, "lab", job(completions=3, parallelism=2, completionMode="Indexed"))
    mgr.sync_until_idle()
    pods = sorted(registry.list(POD, "lab"), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods] == ["0", "1"]
    assert re.fullmatch(r"pi-0-[a-z0-9]{5}", pods[0]["metadata"]["name"])
    assert pods[0]["spec"]["hostname"] == "pi-0"
    assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}} \
        in pods[0]["spec"]["containers"][0]["env"]
    set_pod_status(registry, pods[0], clock, phase="Succeeded", ready=False)
    mgr.sync_until_idle()
    status = registry.get(JOB, "lab", "pi")["status"]
    assert status["completedIndexes"] == "0" and status["succeeded"] == 1 and status["active"] == 2
    indexes = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
               for p in registry.list(POD, "lab") if p["status"]["phase"] == "Pending"}
    assert indexes == {"1", "2"}


def test_suspended_job_creates_no_pods(registry, mgr, clock):
    registry.create(JOB, "lab", job(suspend=True))
    mgr.sync_until_idle()
    assert names(registry, POD) == []
    status = registry.get(JOB, "lab", "pi")["status"]
    assert "startTime" not in status
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("Suspended", "True", "JobSuspended")]
    j = registry.get(JOB, "lab", "pi")
    j["spec"]["suspend"] = False
    registry.update(JOB, "lab", "pi", j)
    mgr.sync_until_idle()
    assert len(names(registry, POD)) == 1
    assert ("Job", "Normal", "Resumed", "Job resumed") in events(registry)


def test_job_ttl_after_finished_deletes_the_job(registry, mgr, clock):
    registry.create(JOB, "lab", job(ttlSecondsAfterFinished=60))
    mgr.sync_until_idle()
    (pod,) = registry.list(POD, "lab")
    set_pod_status(registry, pod, clock, phase="Succeeded", ready=False)
    mgr.sync_until_idle()
    assert registry.find(JOB, "lab", "pi") is not None
    clock.advance(61)
    mgr.sync_until_idle()
    assert registry.find(JOB, "lab", "pi") is None
    assert names(registry, POD) == []


# --- cronjobs ---

def cronjob(name: str = "tick", schedule: str = "*/5 * * * *", **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, **spec,
                     "jobTemplate": {"metadata": {"labels": {"team": "lab"}},
                                     "spec": {"template": {"spec": {
                                         "restartPolicy": "OnFailure",
                                         "containers": [{"name": "c", "image": "busybox"}]}}}}}}


def test_cronjob_creates_a_job_when_the_clock_passes_the_schedule(registry, mgr, clock):
    registry.create(CRONJOB, "lab", cronjob())
    mgr.sync_until_idle()
    assert names(registry, JOB) == []
    due = mgr.next_due()
    assert due is not None and due - clock() == pytest.approx(270.1)  # 12:00:30 -> 12:05:00 (+100 ms)
    clock.advance(270.1)
    mgr.sync_until_idle()
    scheduled = datetime(2025, 3, 10, 12, 5, tzinfo=UTC)
    name = f"tick-{int(scheduled.timestamp()) // 60}"
    (j,) = registry.list(JOB, "lab")
    assert j["metadata"]["name"] == name
    assert j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2025-03-10T12:05:00Z"
    assert j["metadata"]["labels"]["team"] == "lab"
    assert j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cj = registry.get(CRONJOB, "lab", "tick")
    assert cj["status"]["lastScheduleTime"] == "2025-03-10T12:05:00Z"
    assert [r["name"] for r in cj["status"]["active"]] == [name]
    assert ("CronJob", "Normal", "SuccessfulCreate", f"Created job {name}") in events(registry)
    (pod,) = registry.list(POD, "lab")
    set_pod_status(registry, pod, clock, phase="Succeeded", ready=False)
    mgr.sync_until_idle()
    cj = registry.get(CRONJOB, "lab", "tick")
    assert "active" not in cj["status"] and cj["status"]["lastSuccessfulTime"] == rfc3339(clock())
    assert ("CronJob", "Normal", "SawCompletedJob", f"Saw completed job: {name}, condition: Complete") in \
        events(registry)


def test_cronjob_in_a_time_zone(registry, mgr, clock):
    registry.create(CRONJOB, "lab", cronjob(schedule="0 14 * * *", timeZone="Europe/Berlin"))
    mgr.sync_until_idle()
    clock.advance(mgr.next_due() - clock())  # 13:00 UTC is 14:00 in Berlin (CET, before DST)
    mgr.sync_until_idle()
    (j,) = registry.list(JOB, "lab")
    assert j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2025-03-10T14:00:00+01:00"


def test_cronjob_starts_only_the_most_recent_missed_time(registry, mgr, clock):
    registry.create(CRONJOB, "lab", cronjob(schedule="* * * * *"))
    clock.advance(600)  # ten minutes with the controller not looking
    mgr.sync_until_idle()
    (j,) = registry.list(JOB, "lab")
    assert j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2025-03-10T12:10:00Z"


def test_cronjob_starting_deadline_misses_late_starts(registry, mgr, clock):
    registry.create(CRONJOB, "lab", cronjob(schedule="*/5 * * * *", startingDeadlineSeconds=10))
    clock.advance(270 + 30)  # 12:05:30, half a minute after the schedule
    mgr.sync_until_idle()
    assert names(registry, JOB) == []  # the deadline moves the earliest time considered past 12:05
    clock.advance(270.1)  # 12:10:00 plus the controller's 100 ms delta
    mgr.sync_until_idle()
    assert len(names(registry, JOB)) == 1


def test_cronjob_forbid_and_replace(registry, mgr, clock):
    registry.create(CRONJOB, "lab", cronjob(name="forbid", schedule="* * * * *", concurrencyPolicy="Forbid"))
    registry.create(CRONJOB, "lab", cronjob(name="replace", schedule="* * * * *", concurrencyPolicy="Replace"))
    for _ in range(2):
        clock.advance(60)
        mgr.sync_until_idle()
    jobs = names(registry, JOB)
    assert len([n for n in jobs if n.startswith("forbid-")]) == 1
    (replaced,) = [n for n in jobs if n.startswith("replace-")]
    assert replaced == f"replace-{int(datetime(2025, 3, 10, 12, 2, tzinfo=UTC).timestamp()) // 60}"
    evs = events(registry)
    assert ("CronJob", "Normal", "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid") in evs
    assert any(r == "SuccessfulDelete" and m.startswith("Deleted job replace-") for _, _, r, m in evs)


def test_cronjob_history_limit(registry, mgr, clock):
    registry.create(CRONJOB, "lab", cronjob(schedule="* * * * *", successfulJobsHistoryLimit=1))
    for _ in range(3):
        clock.advance(60)
        mgr.sync_until_idle()
        for pod in registry.list(POD, "lab"):
            if pod["status"]["phase"] == "Pending":
                set_pod_status(registry, pod, clock, phase="Succeeded", ready=False)
        mgr.sync_until_idle()
    assert len(names(registry, JOB)) == 1
    assert sum(1 for _, _, r, _ in events(registry) if r == "SuccessfulDelete") >= 2


def test_schedule_helpers():
    sched = parse_schedule("@every 90s")
    t = datetime(2025, 1, 1, tzinfo=UTC)
    assert sched(t) == datetime(2025, 1, 1, 0, 1, 30, tzinfo=UTC)
    hourly = parse_schedule("@hourly")
    cj = {"metadata": {"creationTimestamp": "2025-01-01T00:00:00Z"}, "spec": {}}
    _, recent, missed = most_recent_schedule_time(cj, datetime(2025, 1, 10, tzinfo=UTC), hourly, True)
    assert recent == datetime(2025, 1, 10, tzinfo=UTC) and missed > 100
    with pytest.raises(ValueError):
        parse_schedule("61 * * * *")


def test_manager_loop_runs_in_the_background(registry, clock):
    async def scenario() -> list[str]:
        m = ControllerManager(registry, clock=clock)
        task = asyncio.create_task(m.run())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if registry.find(NAMESPACE, "", "default") and registry.find(SERVICEACCOUNT, "default", "default"):
                break
        registry.create(DEPLOYMENT, "default", deployment(replicas=2))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(registry.list(POD, "default")) == 2:
                break
        m.stop()
        await asyncio.wait_for(task, 2)
        return names(registry, POD, "default")

    assert len(asyncio.run(scenario())) == 2


# --- events ---

def test_event_recorder_aggregates_identical_events(registry, mgr, clock):
    rec = EventRecorder(registry)
    cm = registry.create(CONFIGMAP, "lab", {"metadata": {"name": "target"}})
    first = rec.record(cm, "Warning", "BackOff", "Back-off pulling image", "kubelet", host="lab-node")
    clock.advance(45)
    rec.record(cm, "Warning", "BackOff", "Back-off pulling image", "kubelet", host="lab-node")
    clock.advance(50)
    last = rec.record(cm, "Warning", "BackOff", "Back-off pulling image", "kubelet", host="lab-node")
    (ev,) = [e for e in registry.list(EVENT, "lab") if e["involvedObject"]["name"] == "target"]
    assert ev["metadata"]["name"] == first["metadata"]["name"] == last["metadata"]["name"]
    assert re.fullmatch(r"target\.[0-9a-f]{16,}", ev["metadata"]["name"])
    assert ev["count"] == 3
    assert ev["firstTimestamp"] == rfc3339(START) and ev["lastTimestamp"] == rfc3339(START + 95)
    assert ev["source"] == {"component": "kubelet", "host": "lab-node"}
    assert (ev["reportingComponent"], ev["reportingInstance"]) == ("kubelet", "lab-node")
    assert ev["involvedObject"] == {"kind": "ConfigMap", "namespace": "lab", "name": "target",
                                    "uid": cm["metadata"]["uid"], "apiVersion": "v1",
                                    "resourceVersion": cm["metadata"]["resourceVersion"]}


def test_event_recorder_combines_similar_and_limits_spam(registry, mgr, clock):
    rec = EventRecorder(registry)
    cm = registry.create(CONFIGMAP, "lab", {"metadata": {"name": "noisy"}})
    for i in range(12):
        rec.record(cm, "Normal", "Tick", f"message {i}", "test")
    mine = [e for e in registry.list(EVENT, "lab") if e["involvedObject"]["name"] == "noisy"]
    combined = [e for e in mine if e["message"].startswith("(combined from similar events): ")]
    assert len(mine) == 10 and len(combined) == 1 and combined[0]["count"] == 3
    for _ in range(30):
        rec.record(cm, "Normal", "Other", "same", "test")
    other = [e for e in registry.list(EVENT, "lab") if e["reason"] == "Other"]
    assert other[0]["count"] == 25 - 12  # the source/object bucket allowed 25 events in all


def test_cluster_scoped_objects_get_events_in_default(registry, mgr):
    rec = EventRecorder(registry)
    ns = registry.get(NAMESPACE, "", "lab")
    ev = rec.record(ns, "Normal", "Test", "hello", "test")
    assert ev["metadata"]["namespace"] == "default"
    assert "namespace" not in ev["involvedObject"]
