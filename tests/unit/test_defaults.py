"""Defaulting: objects must read back like a kube-apiserver v1.32 (kind) cluster's."""

from __future__ import annotations

import copy

import pytest

from labhelpers.sandbox.apiserver import defaults, resources
from labhelpers.sandbox.apiserver.defaults import apply_defaults, image_tag, pod_qos_class

POD = resources.lookup("", "v1", "pods")
SECRET = resources.lookup("", "v1", "secrets")
NAMESPACE = resources.lookup("", "v1", "namespaces")
DEPLOYMENT = resources.lookup("apps", "v1", "deployments")
REPLICASET = resources.lookup("apps", "v1", "replicasets")
JOB = resources.lookup("batch", "v1", "jobs")
CRONJOB = resources.lookup("batch", "v1", "cronjobs")
ROLE = resources.lookup("rbac.authorization.k8s.io", "v1", "roles")

NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}


def _pod(**spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}], **spec}}


def test_kubectl_run_pod_reads_back_like_a_real_cluster() -> None:
    pod = _pod()
    apply_defaults(POD, pod)
    assert pod["spec"] == {
        "containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
        "terminationGracePeriodSeconds": 30, "tolerations": [NOT_READY, UNREACHABLE],
    }
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_defaults_are_idempotent() -> None:
    for rt, obj in ((POD, _pod(volumes=[{"name": "v"}])), (DEPLOYMENT, _deployment()), (JOB, _job()),
                    (CRONJOB, _cronjob()), (NAMESPACE, {"metadata": {"name": "lab"}})):
        apply_defaults(rt, obj)
        again = copy.deepcopy(obj)
        apply_defaults(rt, again)
        assert again == obj, rt.kind


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.lab.local:5000/team/app", "Always"),
    ("registry.lab.local:5000/team/app:v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent"),
    ("Nginx", "IfNotPresent"),  # unparsable reference: no tag, so not "latest"
    ("", "IfNotPresent"),
])
def test_image_pull_policy_from_tag(image: str, policy: str) -> None:
    pod = _pod(containers=[{"name": "c", "image": image}])
    apply_defaults(POD, pod)
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag_parser() -> None:
    assert image_tag("localhost:5000/app") == "latest"
    assert image_tag("localhost:5000/app:v2") == "v2"
    assert image_tag("app@sha256:" + "0" * 64) == ""
    assert image_tag("Nginx") is None  # repository names must be lowercase
    assert image_tag("REGISTRY/app") == "latest"  # ...but an upper-case first component counts as a host


def test_explicit_values_are_kept() -> None:
    pod = _pod(restartPolicy="Never", dnsPolicy="Default", terminationGracePeriodSeconds=5,
               containers=[{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}],
               tolerations=[{"operator": "Exists"}], priority=7)
    apply_defaults(POD, pod)
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == ("Never", "Default", 5)
    assert spec["containers"][0]["imagePullPolicy"] == "Never"
    assert spec["tolerations"] == [{"operator": "Exists"}]  # tolerates everything: nothing added
    assert spec["priority"] == 7


def test_default_toleration_seconds_only_for_missing_no_execute() -> None:
    pod = _pod(tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists"}])
    apply_defaults(POD, pod)
    assert pod["spec"]["tolerations"][2:] == [NOT_READY]


def test_container_details_and_quantities() -> None:
    pod = _pod(containers=[{
        "name": "c", "image": "nginx:1",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
        "env": [{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "livenessProbe": {"httpGet": {"port": 80}},
    }])
    apply_defaults(POD, pod)
    c = pod["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.namespace", "apiVersion": "v1"}
    assert c["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert pod["status"]["qosClass"] == "Guaranteed"


@pytest.mark.parametrize(("resources_", "qos"), [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}, "Burstable"),
    ({"limits": {"cpu": "1"}}, "Burstable"),
])
def test_qos_class(resources_: dict, qos: str) -> None:
    assert pod_qos_class({"containers": [{"resources": resources_}]}) == qos


def test_volumes_defaults() -> None:
    pod = _pod(volumes=[{"name": "scratch"}, {"name": "s", "secret": {"secretName": "x"}},
                        {"name": "cm", "configMap": {"name": "c"}}, {"name": "hp", "hostPath": {"path": "/tmp"}},
                        {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}],
               serviceAccountName="builder")
    apply_defaults(POD, pod)
    v = {x["name"]: x for x in pod["spec"]["volumes"]}
    assert v["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert v["s"]["secret"]["defaultMode"] == 420
    assert v["cm"]["configMap"]["defaultMode"] == 420
    assert v["hp"]["hostPath"]["type"] == ""
    assert v["p"]["projected"] == {"sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}],
                                   "defaultMode": 420}
    assert pod["spec"]["serviceAccount"] == "builder"


def test_deprecated_service_account_alias() -> None:
    pod = _pod(serviceAccount="legacy")
    apply_defaults(POD, pod)
    assert pod["spec"]["serviceAccountName"] == pod["spec"]["serviceAccount"] == "legacy"


def test_host_network_ports() -> None:
    pod = _pod(hostNetwork=True, containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}])
    apply_defaults(POD, pod)
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP", "hostPort": 8080}]


def test_secret_and_namespace() -> None:
    secret = {"metadata": {"name": "s"}}
    apply_defaults(SECRET, secret)
    assert secret["type"] == "Opaque"
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "registry-lab"}}
    apply_defaults(NAMESPACE, ns)
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "registry-lab"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}


def _deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}


def test_deployment_defaults() -> None:
    d = _deployment()
    apply_defaults(DEPLOYMENT, d)
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    assert spec["template"]["metadata"] == {"labels": {"app": "web"}, "creationTimestamp": None}
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["schedulerName"] == "default-scheduler"
    # Pod-only defaults and admission plug-ins do not touch templates.
    assert not {"enableServiceLinks", "tolerations", "priority"} & set(tspec)


def test_deployment_recreate_has_no_rolling_update() -> None:
    d = _deployment()
    d["spec"]["strategy"] = {"type": "Recreate"}
    apply_defaults(DEPLOYMENT, d)
    assert d["spec"]["strategy"] == {"type": "Recreate"}


def test_replicaset_defaults() -> None:
    rs = _deployment()
    apply_defaults(REPLICASET, rs)
    assert rs["spec"]["replicas"] == 1 and "strategy" not in rs["spec"]


def _job(**spec: object) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "pi", "image": "perl:5.34"}]}}, **spec}}


def test_job_defaults_and_generated_selector() -> None:
    job = _job()
    apply_defaults(JOB, job)
    uid = job["metadata"]["uid"]
    spec = job["spec"]
    assert {k: spec[k] for k in ("completions", "parallelism", "backoffLimit", "completionMode", "suspend",
                                 "podReplacementPolicy", "manualSelector")} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": False}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi",
              "controller-uid": uid, "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == labels
    assert job["metadata"]["labels"] == labels


def test_job_keeps_existing_uid_and_parallelism() -> None:
    job = _job(parallelism=3)
    job["metadata"]["uid"] = "1234"
    apply_defaults(JOB, job)
    assert job["spec"]["parallelism"] == 3 and "completions" not in job["spec"]
    assert job["spec"]["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": "1234"}


def test_job_manual_selector_is_left_alone() -> None:
    job = _job(manualSelector=True, selector={"matchLabels": {"app": "pi"}})
    job["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    apply_defaults(JOB, job)
    assert job["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert "uid" not in job["metadata"]
    assert job["metadata"]["labels"] == {"app": "pi"}


def test_job_with_pod_failure_policy_replaces_failed_pods_only() -> None:
    job = _job(podFailurePolicy={"rules": []})
    apply_defaults(JOB, job)
    assert job["spec"]["podReplacementPolicy"] == "Failed"


def _cronjob() -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
            "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}


def test_cronjob_defaults() -> None:
    cj = _cronjob()
    apply_defaults(CRONJOB, cj)
    spec = cj["spec"]
    assert {k: spec[k] for k in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit",
                                 "failedJobsHistoryLimit")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    jt = spec["jobTemplate"]
    assert jt["metadata"] == {"creationTimestamp": None}
    # The job template's JobSpec is not defaulted (SetDefaults_Job runs on Jobs only), its PodSpec is.
    assert "completions" not in jt["spec"] and "backoffLimit" not in jt["spec"]
    assert jt["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_other_groups_are_untouched() -> None:
    role = {"metadata": {"name": "r"}, "rules": []}
    before = copy.deepcopy(role)
    apply_defaults(ROLE, role)
    assert role == before


def test_system_priority_classes() -> None:
    pod = _pod(priorityClassName="system-node-critical")
    apply_defaults(POD, pod)
    assert pod["spec"]["priority"] == defaults.SYSTEM_PRIORITY_CLASSES["system-node-critical"]
