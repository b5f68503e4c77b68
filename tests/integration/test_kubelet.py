"""The sandbox kubelet against real registries: scheduling, pulls, events, statuses, back-off and recovery.

Each test builds the API core in-process (store, registry, admission) with a LabNode on a sandbox clock running
100 times faster than real time (a 10 s back-off takes 0.1 s), sharing one registry fleet per module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labhelpers.sandbox.apiserver import admission, resources
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.objects import Registry
from labhelpers.sandbox.apiserver.store import Store
from labhelpers.sandbox.clock import SandboxClock
from labhelpers.sandbox.kubelet import NODE
from labhelpers.sandbox.kubelet.node import LEASE
from labhelpers.sandbox.node import LabNode
from labhelpers.sandbox.registries import RegistryFleet
from labhelpers.sandbox.registries.catalog import ACR_HOST, ACR_SP_APP_ID, ECR_HOST, GCP_KEY_JSON
from labhelpers.sandbox.registries.distribution import registry_binary
from tests.conftest import load_conformance

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

NAMESPACE = resources.lookup("", "v1", "namespaces")
SA = resources.lookup("", "v1", "serviceaccounts")
POD = resources.lookup("", "v1", "pods")
SECRET = resources.lookup("", "v1", "secrets")
EVENT = resources.lookup("", "v1", "events")
SPEED = 100.0
NS = "registry-lab"

SCENARIOS = {s["scenario"]: s for s in load_conformance("kubelet-image-events.json")["scenarios"]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    f = RegistryFleet()
    f.start(tmp_path_factory.mktemp("fleet"))
    yield f
    f.stop()


class Cluster:
    """An in-process API server core with the lab node attached."""

    def __init__(self, fleet: RegistryFleet, tmp: Path) -> None:
        self.fleet = fleet
        self.tmp = tmp
        self.store = Store(tmp / "state.db")
        self.registry = Registry(self.store)
        admission.install(self.registry)
        self.clock = SandboxClock(speed=SPEED)
        self.node = LabNode(fleet=fleet, worker_jitter=0.0)

    async def start(self) -> Cluster:
        for ns in ("default", "kube-node-lease", NS):
            self.registry.create(NAMESPACE, None, {"metadata": {"name": ns}})
            self.registry.create(SA, ns, {"metadata": {"name": "default"}})
        await self.node.start(self.registry, self.tmp / "node", self.clock)
        return self

    async def restart_node(self) -> None:
        await self.node.stop()
        self.node = LabNode(fleet=self.fleet, worker_jitter=0.0)
        await self.node.start(self.registry, self.tmp / "node", self.clock)

    async def close(self) -> None:
        await self.node.stop()
        self.store.close()

    # --- objects ---

    def pod(self, name: str, *images: str, ns: str = NS, secrets: tuple[str, ...] = (), pull_policy: str = "",
            **spec: Any) -> dict:
        containers = [{"name": f"c{i}" if len(images) > 1 else "app", "image": img,
                       **({"imagePullPolicy": pull_policy} if pull_policy else {})} for i, img in enumerate(images)]
        body: dict[str, Any] = {"metadata": {"name": name}, "spec": {"containers": containers, **spec}}
        if secrets:
            body["spec"]["imagePullSecrets"] = [{"name": s} for s in secrets]
        return self.registry.create(POD, ns, body)

    def docker_secret(self, name: str, auths: dict[str, tuple[str, str]], ns: str = NS) -> dict:
        cfg = {"auths": {server: {"username": u, "password": p,
                                  "auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
                         for server, (u, p) in auths.items()}}
        body = {"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(json.dumps(cfg).encode()).decode()}}
        if self.registry.find(SECRET, ns, name) is not None:
            current = self.registry.get(SECRET, ns, name)
            return self.registry.update(SECRET, ns, name, {**body, "metadata": current["metadata"]})
        return self.registry.create(SECRET, ns, body)

    def get(self, name: str, ns: str = NS) -> dict | None:
        return self.registry.find(POD, ns, name)

    def events(self, name: str, ns: str = NS) -> list[dict]:
        evs = [e for e in self.registry.list(EVENT, ns) if e["involvedObject"].get("name") == name]
        return sorted(evs, key=lambda e: e["metadata"]["name"])

    def event_list(self, name: str, ns: str = NS) -> list[tuple[str, str, str]]:
        return [(e["type"], e["reason"], e["message"]) for e in self.events(name, ns)]

    async def wait(self, what: str, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}")

    async def wait_phase(self, name: str, phase: str, ns: str = NS, timeout: float = 10.0) -> dict:
        return await self.wait(f"{name} {phase}", lambda: (p := self.get(name, ns)) and
                               (p.get("status") or {}).get("phase") == phase and p, timeout)

    async def wait_waiting(self, name: str, reason: str, ns: str = NS, index: int = 0) -> dict:
        def check() -> dict | None:
            p = self.get(name, ns)
            statuses = (p or {}).get("status", {}).get("containerStatuses") or []
            if len(statuses) > index and statuses[index]["state"].get("waiting", {}).get("reason") == reason:
                return statuses[index]["state"]["waiting"]
            return None

        return await self.wait(f"{name} waiting {reason}", check)


def run(fleet: RegistryFleet, tmp_path: Path, scenario: Callable[[Cluster], Any]) -> None:
    async def main() -> None:
        cluster = await Cluster(fleet, tmp_path).start()
        try:
            await scenario(cluster)
        finally:
            await cluster.close()

    asyncio.run(main())


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


# --- happy path ------------------------------------------------------------------------------------------------


def test_public_image_runs_with_real_status_and_events(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.pod("web", "nginx")
        pod = await c.wait_phase("web", "Running")
        await c.wait("ready", lambda: ready(c.get("web")))
        pod = c.get("web")
        st = pod["status"]
        assert pod["spec"]["nodeName"] == "lab-node"
        assert [x["type"] for x in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                        "ContainersReady", "PodScheduled"]
        assert st["hostIP"] == "127.0.0.1" and st["podIP"].startswith("10.244.0.") and st["startTime"]
        cs = st["containerStatuses"][0]
        digest = fleet.image("docker.io", "library/nginx", "latest").digest
        assert cs["image"] == "docker.io/library/nginx:latest"
        assert cs["imageID"] == f"docker.io/library/nginx@{digest}"
        assert cs["containerID"].startswith("containerd://") and len(cs["containerID"]) == 13 + 64
        assert (cs["ready"], cs["started"], cs["restartCount"]) == (True, True, 0)
        evs = c.events("web")
        assert [(e["reason"], e.get("source", {}).get("component") or e.get("reportingComponent"))
                for e in evs] == [("Scheduled", "default-scheduler"), ("Pulling", "kubelet"), ("Pulled", "kubelet"),
                                  ("Created", "kubelet"), ("Started", "kubelet")]
        assert evs[0]["message"] == f"Successfully assigned {NS}/web to lab-node"
        assert evs[1]["message"] == 'Pulling image "nginx"'
        assert evs[2]["message"].startswith('Successfully pulled image "nginx" in ')
        assert evs[2]["message"].endswith(
            f" including waiting). Image size: {fleet.image('docker.io', 'library/nginx', 'latest').size} bytes.")
        assert [e["message"] for e in evs[3:]] == ["Created container: app", "Started container app"]
        assert all(e["involvedObject"].get("fieldPath") == "spec.containers{app}" for e in evs[1:])
        assert evs[1]["source"] == {"component": "kubelet", "host": "lab-node"}

        # a second pod on the cached image with IfNotPresent does not pull
        c.pod("web2", "nginx", ns=NS)
        c.registry.create(POD, NS, {"metadata": {"name": "cached"}, "spec": {"containers": [
            {"name": "app", "image": "docker.io/library/nginx:latest", "imagePullPolicy": "IfNotPresent"}]}})
        await c.wait_phase("cached", "Running")
        assert ("Normal", "Pulled", 'Container image "docker.io/library/nginx:latest" already present on machine') \
            in c.event_list("cached")
        assert "Pulling" not in [r for _, r, _ in c.event_list("cached")]
        node = c.registry.get(NODE, "", "lab-node")
        assert any(f"docker.io/library/nginx@{digest}" in i["names"] for i in node["status"]["images"])
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.0-labsandbox"
        assert {x["type"]: x["status"] for x in node["status"]["conditions"]}["Ready"] == "True"
        assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
        lease = c.registry.get(LEASE, "kube-node-lease", "lab-node")
        assert lease["spec"]["holderIdentity"] == "lab-node" and lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]

    run(fleet, tmp_path, scenario)


# --- failures, exactly as the conformance data --------------------------------------------------------------------


def test_private_registry_without_secret_matches_conformance(fleet: RegistryFleet, tmp_path: Path) -> None:
    sc = SCENARIOS["private registry, no imagePullSecrets"]

    async def scenario(c: Cluster) -> None:
        c.pod("nosecret", sc["pod_image"], pull_policy="IfNotPresent")
        waiting = await c.wait_waiting("nosecret", "ErrImagePull")
        assert waiting == sc["status_after_failed_pull"]["waiting"]
        waiting = await c.wait_waiting("nosecret", "ImagePullBackOff")
        assert waiting == sc["status_during_backoff"]["waiting"]
        pod = c.get("nosecret")
        assert pod["status"]["phase"] == sc["pod_phase"]
        kubelet_events = [e for e in c.event_list("nosecret") if e[1] != "Scheduled"]
        assert kubelet_events[:5] == [(x["type"], x["reason"], x["message"]) for x in sc["events_in_order"]]

    run(fleet, tmp_path, scenario)


def test_missing_then_created_secret_takes_effect_on_retry(fleet: RegistryFleet, tmp_path: Path) -> None:
    sc = SCENARIOS["imagePullSecrets references a missing secret"]

    async def scenario(c: Cluster) -> None:
        c.pod("late", sc["pod_image"], secrets=("regcred",))
        await c.wait_waiting("late", "ErrImagePull")
        want = sc["extra_event_each_sync"]
        assert (want["type"], want["reason"], want["message"]) in c.event_list("late")
        c.docker_secret("regcred", {"registry.lab.local:5000": ("labuser", "labpass")})
        await c.wait_phase("late", "Running")
        reasons = [r for _, r, _ in c.event_list("late")]
        assert reasons[-3:] == ["Pulled", "Created", "Started"]
        assert next(e for e in c.events("late") if e["reason"] == "Pulling")["count"] >= 2  # one object, counted

    run(fleet, tmp_path, scenario)


def test_wrong_password_is_like_no_credentials(fleet: RegistryFleet, tmp_path: Path) -> None:
    sc = SCENARIOS["wrong password in secret"]

    async def scenario(c: Cluster) -> None:
        c.docker_secret("regcred", {"registry.lab.local:5000": ("labuser", "wrong")})
        c.pod("wrongpw", sc["pod_image"], secrets=("regcred",))
        await c.wait_waiting("wrongpw", "ErrImagePull")
        assert [e for e in c.event_list("wrongpw") if e[1] != "Scheduled"][:3] == \
            [(x["type"], x["reason"], x["message"]) for x in sc["events_in_order"]]

    run(fleet, tmp_path, scenario)


def test_invalid_name_never_pull_and_unknown_host(fleet: RegistryFleet, tmp_path: Path) -> None:
    invalid = SCENARIOS["invalid image name"]
    never = SCENARIOS["pullPolicy Never, image absent"]

    async def scenario(c: Cluster) -> None:
        c.pod("invalid", invalid["pod_image"])
        c.pod("never", never["pod_image"], pull_policy="Never")
        c.pod("nohost", "foo.example/app:v1")
        assert await c.wait_waiting("invalid", "InvalidImageName") == invalid["status"]["waiting"]
        assert await c.wait_waiting("never", "ErrImageNeverPull") == never["status"]["waiting"]
        for name, sc in (("invalid", invalid), ("never", never)):
            assert [e for e in c.event_list(name) if e[1] != "Scheduled"][:2] == \
                [(x["type"], x["reason"], x["message"]) for x in sc["events_in_order"]]
        msg = (await c.wait_waiting("nohost", "ErrImagePull"))["message"]
        assert msg == ('failed to pull and unpack image "foo.example/app:v1": failed to resolve reference '
                       '"foo.example/app:v1": failed to do request: Head "https://foo.example/v2/app/manifests/v1": '
                       'dial tcp: lookup foo.example: no such host')

    run(fleet, tmp_path, scenario)


def test_exercise_15_broken_pod(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.pod("broken-pod", "docker.io/private/image:v1.0", secrets=("wrong-secret",))
        msg = (await c.wait_waiting("broken-pod", "ErrImagePull"))["message"]
        assert msg == ('failed to pull and unpack image "docker.io/private/image:v1.0": failed to resolve reference '
                       '"docker.io/private/image:v1.0": pull access denied, repository does not exist or may require '
                       'authorization: server message: insufficient_scope: authorization failed')
        assert ("Warning", "FailedToRetrieveImagePullSecret",
                "Unable to retrieve some image pull secrets (wrong-secret); attempting to pull the image may not "
                "succeed.") in c.event_list("broken-pod")

    run(fleet, tmp_path, scenario)


# --- the seed's exercises -----------------------------------------------------------------------------------------


def test_seed_secrets_pull_private_images(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        # Exercise 1/4: kubectl's default --docker-server works through the index.docker.io fallback
        c.docker_secret("dockerhub-secret", {"https://index.docker.io/v1/": ("your-username", "your-password")})
        c.pod("private-app", "docker.io/yourusername/private-app:v1.0", secrets=("dockerhub-secret",))
        # Exercise 7: one secret, three registries, three containers
        c.docker_secret("multi-registry-secret", {"docker.io": ("user1", "pass1"), "ghcr.io": ("user2", "token2"),
                                                  "myregistry.com": ("user3", "pass3")})
        c.pod("multi", "docker.io/youruser/app1:v1.0", "ghcr.io/youruser/app2:v1.0", "myregistry.com/app3:v1.0",
              secrets=("multi-registry-secret",))
        # Exercises 8-10: ECR token, GCR service-account key, ACR service principal
        c.docker_secret("ecr-secret", {ECR_HOST: ("AWS", fleet.ecr_login_password())})
        c.pod("ecr", f"{ECR_HOST}/my-app:v1.0", secrets=("ecr-secret",))
        c.docker_secret("gcr-secret", {"gcr.io": ("_json_key", GCP_KEY_JSON.strip())})
        c.pod("gcr", "gcr.io/yourproject/app:v1.0", secrets=("gcr-secret",))
        c.docker_secret("acr-sp-secret", {ACR_HOST: (ACR_SP_APP_ID, "lab-sp-client-secret")})
        c.pod("acr", f"{ACR_HOST}/app:v1.0", secrets=("acr-sp-secret",))
        for name in ("private-app", "multi", "ecr", "gcr", "acr"):
            pod = await c.wait_phase(name, "Running")
            assert all(s["ready"] for s in pod["status"]["containerStatuses"]), name
        multi = c.get("multi")["status"]["containerStatuses"]
        assert [s["image"] for s in multi] == ["docker.io/youruser/app1:v1.0", "ghcr.io/youruser/app2:v1.0",
                                               "myregistry.com/app3:v1.0"]
        attempts = fleet_attempts(c)
        assert ("docker.io/yourusername/private-app:v1.0", "your-username") in attempts
        assert ("ghcr.io/youruser/app2:v1.0", "user2") in attempts

    run(fleet, tmp_path, scenario)


def fleet_attempts(c: Cluster) -> list[tuple[str, str | None]]:
    assert c.node.kubelet is not None
    return c.node.kubelet.image_service.attempts


def test_service_account_pull_secrets_reach_only_new_pods(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.docker_secret("regcred", {"registry.lab.local:5000": ("labuser", "labpass")})
        c.pod("before", "registry.lab.local:5000/team/app:v1")
        sa = c.registry.get(SA, NS, "default")
        sa["imagePullSecrets"] = [{"name": "regcred"}]
        c.registry.update(SA, NS, "default", sa)
        c.pod("after", "registry.lab.local:5000/team/app:v1")
        await c.wait_phase("after", "Running")
        assert c.get("after")["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
        assert "imagePullSecrets" not in c.get("before")["spec"]
        await c.wait_waiting("before", "ErrImagePull")

    run(fleet, tmp_path, scenario)


# --- recovery -----------------------------------------------------------------------------------------------------


def test_registry_outage_then_recovery(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        process = fleet.registry("myregistry.com")
        c.docker_secret("regcred", {"myregistry.com": ("user3", "pass3")})
        process.kill()
        try:
            c.pod("outage", "myregistry.com/app3:v1.0", secrets=("regcred",))
            msg = (await c.wait_waiting("outage", "ErrImagePull"))["message"]
            assert msg == ('failed to pull and unpack image "myregistry.com/app3:v1.0": failed to resolve reference '
                           '"myregistry.com/app3:v1.0": failed to do request: Head '
                           '"https://myregistry.com/v2/app3/manifests/v1.0": dial tcp '
                           f'127.0.0.1:{process.port}: connect: connection refused')
            await c.wait_waiting("outage", "ImagePullBackOff")
        finally:
            await asyncio.to_thread(process.start)
        pod = await c.wait_phase("outage", "Running", timeout=15)
        assert ready(pod) or await c.wait("ready", lambda: ready(c.get("outage")))

    run(fleet, tmp_path, scenario)


def test_refreshed_ecr_secret_works_on_next_retry(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.docker_secret("ecr-secret", {ECR_HOST: ("AWS", "expired-token")})
        c.pod("ecr", f"{ECR_HOST}/lab/backend:v1.0", secrets=("ecr-secret",))
        msg = (await c.wait_waiting("ecr", "ErrImagePull"))["message"]
        assert msg.endswith(f"pulling from host {ECR_HOST} failed with status code [manifests v1.0]: 401 Unauthorized")
        c.docker_secret("ecr-secret", {ECR_HOST: ("AWS", fleet.ecr_login_password())})  # the CronJob's refresh
        await c.wait_phase("ecr", "Running", timeout=15)

    run(fleet, tmp_path, scenario)


def test_backoff_doubles_on_the_sandbox_clock(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        pod = c.pod("doubling", "registry.lab.local:5000/team/app:v1")
        assert c.node.kubelet is not None
        key = f"{pod['metadata']['uid']}_registry.lab.local:5000/team/app:v1"
        backoff = c.node.kubelet.images.backoff
        await c.wait("third failure", lambda: backoff.get(key) >= 40, timeout=15)
        pulls = [e for e in c.events("doubling") if e["reason"] == "Pulling"]
        assert pulls[0]["count"] >= 3

    run(fleet, tmp_path, scenario)


# --- lifecycle ----------------------------------------------------------------------------------------------------


def test_job_pod_succeeds_and_graceful_delete(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": "refresher", "uid": "11111111-0000-0000-0000-0",
                 "controller": True, "blockOwnerDeletion": True}
        c.registry.create(POD, NS, {"metadata": {"name": "job-pod", "ownerReferences": [owner]}, "spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "refresher", "image": "amazon/aws-cli:latest",
                                                          "command": ["/bin/bash", "-c", "true"]}]}})
        pod = await c.wait_phase("job-pod", "Succeeded")
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (0, "Completed")
        conds = {x["type"]: x for x in pod["status"]["conditions"]}
        assert conds["Ready"]["reason"] == "PodCompleted" and conds["PodReadyToStartContainers"]["status"] == "False"

        c.pod("web", "nginx")
        await c.wait_phase("web", "Running")
        _, deleted = c.registry.delete(POD, NS, "web")
        assert not deleted and c.get("web")["metadata"]["deletionTimestamp"]
        await c.wait("web gone", lambda: c.get("web") is None)
        assert ("Normal", "Killing", "Stopping container app") in c.event_list("web")
        c.registry.delete(POD, NS, "job-pod")
        await c.wait("job pod gone", lambda: c.get("job-pod") is None)

    run(fleet, tmp_path, scenario)


def test_create_container_config_error(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.registry.create(POD, NS, {"metadata": {"name": "env"}, "spec": {"containers": [{
            "name": "app", "image": "nginx", "env": [{"name": "X", "valueFrom": {
                "secretKeyRef": {"name": "aws-creds", "key": "id"}}}]}]}})
        waiting = await c.wait_waiting("env", "CreateContainerConfigError")
        assert waiting["message"] == 'secret "aws-creds" not found'
        assert ("Warning", "Failed", 'Error: secret "aws-creds" not found') in c.event_list("env")

    run(fleet, tmp_path, scenario)


def test_kubelet_restart_keeps_running_containers(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.pod("keep", "nginx")
        await c.wait("ready", lambda: (p := c.get("keep")) and p.get("status", {}).get("phase") == "Running"
                     and ready(p))
        before = c.get("keep")["status"]
        await c.restart_node()
        await asyncio.sleep(0.3)
        after = c.get("keep")["status"]
        assert after["containerStatuses"][0]["containerID"] == before["containerStatuses"][0]["containerID"]
        assert after["podIP"] == before["podIP"]
        assert [r for _, r, _ in c.event_list("keep")].count("Started") == 1
        c.pod("next", "nginx")
        pod = await c.wait_phase("next", "Running")
        assert pod["status"]["podIP"] != before["podIP"]

    run(fleet, tmp_path, scenario)


def test_unschedulable_node_selector(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.pod("picky", "nginx", nodeSelector={"disktype": "ssd"})
        await c.wait("FailedScheduling", lambda: any(r == "FailedScheduling" for _, r, _ in c.event_list("picky")))
        pod = c.get("picky")
        assert not pod["spec"].get("nodeName")
        cond = pod["status"]["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")

    run(fleet, tmp_path, scenario)


def test_info(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        info = c.node.info()
        hosts = {r["host"]: r for r in info["registries"]}
        assert {"docker.io", "ghcr.io", "myregistry.com", ECR_HOST} <= set(hosts)
        hub = hosts["docker.io"]
        assert "index.docker.io" in hub["aliases"] and hub["url"].startswith("http://127.0.0.1:")
        assert {"username": "your-username", "password": "your-password"}.items() <= hub["users"][0].items()
        assert {i["reference"]: i["public"] for i in hub["images"]}["docker.io/library/nginx:latest"] is True
        assert info["node"]["name"] == "lab-node"
        with pytest.raises(ApiError):
            c.registry.create(POD, "missing-ns", {"metadata": {"name": "x"}, "spec": {"containers": [
                {"name": "a", "image": "nginx"}]}})

    run(fleet, tmp_path, scenario)


def test_init_containers_host_network_and_image_change(fleet: RegistryFleet, tmp_path: Path) -> None:
    async def scenario(c: Cluster) -> None:
        c.registry.create(POD, NS, {"metadata": {"name": "init"}, "spec": {
            "initContainers": [{"name": "setup", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx"}]}})
        c.pod("hostnet", "nginx", hostNetwork=True)
        pod = await c.wait_phase("init", "Running")
        init = pod["status"]["initContainerStatuses"][0]
        assert init["state"]["terminated"]["reason"] == "Completed" and init["ready"] is True
        setup_events = [e["reason"] for e in c.events("init")
                        if e["involvedObject"].get("fieldPath") == "spec.initContainers{setup}"]
        assert setup_events == ["Pulling", "Pulled", "Created", "Started"]
        assert (await c.wait_phase("hostnet", "Running"))["status"]["podIP"] == "127.0.0.1"

        # kubectl set image on a bare pod: the container is restarted with the new image
        pod = c.get("init")
        first_id = pod["status"]["containerStatuses"][0]["containerID"]
        pod["spec"]["containers"][0]["image"] = "docker.io/library/alpine:latest"
        c.registry.update(POD, NS, "init", pod)
        await c.wait("restart", lambda: (s := c.get("init")["status"]["containerStatuses"][0])["restartCount"] == 1
                     and "running" in s["state"])
        st = c.get("init")["status"]["containerStatuses"][0]
        assert st["image"] == "docker.io/library/alpine:latest" and st["containerID"] != first_id
        assert st["lastState"]["terminated"]["containerID"] == first_id
        assert ("Normal", "Killing", "Container app definition changed, will be restarted") in c.event_list("init")

    run(fleet, tmp_path, scenario)


def test_every_matching_credential_is_tried_in_order(fleet: RegistryFleet, tmp_path: Path) -> None:
    image = "docker.io/yourusername/private-app:v1.0"

    async def scenario(c: Cluster) -> None:
        c.docker_secret("specific", {"docker.io/yourusername": ("your-username", "wrong")})
        c.docker_secret("general", {"docker.io": ("user1", "pass1")})
        c.pod("agg", image, secrets=("general", "specific"))
        msg = (await c.wait_waiting("agg", "ErrImagePull"))["message"]
        prefix = f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": '
        assert msg == (
            f"[{prefix}failed to authorize: failed to fetch oauth token: unexpected status from GET request to "
            "https://auth.docker.io/token?scope=repository%3Ayourusername%2Fprivate-app%3Apull&service=registry"
            f".docker.io: 401 Unauthorized, {prefix}pull access denied, repository does not exist or may require "
            "authorization: server message: insufficient_scope: authorization failed]")
        # the more specific key comes first, whatever the secrets' order; no anonymous attempt follows
        assert [u for i, u in fleet_attempts(c) if i == image] == ["your-username", "user1"]
        c.docker_secret("general", {"docker.io": ("your-username", "your-password")})
        await c.wait_phase("agg", "Running", timeout=15)
        assert [u for i, u in fleet_attempts(c) if i == image][-2:] == ["your-username", "your-username"]

    run(fleet, tmp_path, scenario)
