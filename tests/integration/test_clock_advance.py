"""Fast-forwarding a real sandbox's clock: ECR token expiry, CronJobs, the kubelet's back-off, wall-clock object timestamps,
``labctl sandbox clock`` and the persisted offset.

The module runs its own sandbox: every advance moves that sandbox's time for good.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes import client, config

from labhelpers import pods as lab_pods
from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.admin import AdminError, _call
from labhelpers.sandbox.registries.distribution import registry_binary

from .conftest import Result, kubectl_binary, make_runner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None, reason="docker-registry missing: apt-get install docker-registry"),
]

HOUR = 3600.0
NS = "default"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
IMAGE = f"{ECR}/my-app:v1.0"
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path_factory.mktemp("clock-sandbox"))
    sandbox.up()
    if sandbox.info().get("node_error"):
        sandbox.down()
        pytest.skip(f"the lab node did not start: {sandbox.info().get('node_error')}")
    yield sandbox
    sandbox.down()


@pytest.fixture(scope="module")
def api(sb: Sandbox) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sb.kubeconfig))


@pytest.fixture(scope="module")
def kubectl(sb: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Result]:
    home = tmp_path_factory.mktemp("kubectl-home")
    return make_runner(kubectl_binary(), sb.kubeconfig, home)


def labctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labhelpers.cli", *args], capture_output=True, text=True,
                          timeout=60)


# --- helpers ---

def ecr_token(sb: Sandbox) -> tuple[str, float]:
    aws = sb.info()["aws"]
    ecr = boto3.client("ecr", endpoint_url=aws["ecr_endpoint_url"], region_name=aws["region"],
                       aws_access_key_id=aws["access_key_id"], aws_secret_access_key=aws["secret_access_key"],
                       verify=aws["ca_bundle"])
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    return password, data["expiresAt"].timestamp()


def put_secret(v1: client.CoreV1Api, name: str, password: str) -> None:
    auth = base64.b64encode(f"AWS:{password}".encode()).decode()
    config_json = json.dumps({"auths": {ECR: {"username": "AWS", "password": password, "auth": auth}}})
    body = {"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config_json.encode()).decode()}}
    try:
        v1.create_namespaced_secret(NS, body)
    except client.ApiException as e:
        if e.status != 409:
            raise
        v1.replace_namespaced_secret(name, NS, body)


def make_pod(v1: client.CoreV1Api, name: str, secret: str, image: str = IMAGE) -> None:
    v1.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {
        "imagePullSecrets": [{"name": secret}],
        "containers": [{"name": "app", "image": image, "imagePullPolicy": "Always"}]}})


def waiting(pod: client.V1Pod) -> tuple[str, str]:
    for cs in pod.status.container_statuses or []:
        if cs.state and cs.state.waiting:
            return cs.state.waiting.reason or "", cs.state.waiting.message or ""
    return "", ""


def running(pod: client.V1Pod) -> bool:
    return any(cs.state and cs.state.running for cs in pod.status.container_statuses or [])


def pull_failing(pod: client.V1Pod) -> bool:
    return waiting(pod)[0] in ("ErrImagePull", "ImagePullBackOff")


def wait_pod(v1: client.CoreV1Api, name: str, until: Callable[[client.V1Pod], bool], timeout: float = 30) -> float:
    """Seconds until ``until(pod)`` held (AssertionError after ``timeout``)."""
    t0 = time.monotonic()
    pod = None
    while time.monotonic() - t0 < timeout:
        pod = v1.read_namespaced_pod(name, NS)
        if until(pod):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"pod {name} did not get there in {timeout}s: {pod.status if pod else None}")


def registry_url(sb: Sandbox, host: str) -> str:
    return next(r["url"] for r in sb.info()["registries"] if r["host"] == host)


def manifest_status(sb: Sandbox, password: str) -> tuple[int, bytes]:
    """A direct pull (the manifest GET) from the ECR registry with ``AWS:password``."""
    auth = base64.b64encode(f"AWS:{password}".encode()).decode()
    req = urllib.request.Request(registry_url(sb, ECR) + "/v2/my-app/manifests/v1.0", headers={
        "Authorization": f"Basic {auth}", "Accept": "application/vnd.oci.image.manifest.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context()) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def offset(sb: Sandbox) -> float:
    return float(sb.clock()["offsetSeconds"])


# --- tests ---

def test_clock_starts_at_the_wall_clock(sb: Sandbox) -> None:
    state = sb.clock()
    assert set(state) == {"now", "speed", "offsetSeconds"}
    assert state["speed"] == 1.0 and abs(state["offsetSeconds"]) < 1
    assert abs(datetime.fromisoformat(state["now"]).timestamp() - time.time()) < 2


def test_ecr_token_expires_when_the_clock_passes_12_hours(sb: Sandbox, api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    password, expires = ecr_token(sb)
    assert expires - (time.time() + offset(sb)) == pytest.approx(12 * HOUR, abs=5)
    assert manifest_status(sb, password)[0] == 200
    put_secret(v1, "ecr-secret", password)
    make_pod(v1, "ecr-before", "ecr-secret")
    wait_pod(v1, "ecr-before", running)

    state = sb.advance_clock("12h")
    assert state["offsetSeconds"] >= 12 * HOUR and state["advancedSeconds"] == 12 * HOUR

    status, body = manifest_status(sb, password)  # ECR's answer to an expired token
    assert status == 403
    assert json.loads(body)["errors"][0] == {"code": "DENIED", "message": EXPIRED}
    make_pod(v1, "ecr-after", "ecr-secret")
    wait_pod(v1, "ecr-after", pull_failing)
    reason, message = waiting(v1.read_namespaced_pod("ecr-after", NS))
    assert reason in ("ErrImagePull", "ImagePullBackOff")
    assert "403 Forbidden" in message, message
    assert running(v1.read_namespaced_pod("ecr-before", NS))  # a running container is never re-checked
    # diagnose() judges the token on the sandbox's clock, not this machine's (12 hours behind it)
    issues = [f.issue for f in lab_pods.diagnose(api, "ecr-after", NS).findings]
    assert lab_pods.EXPIRED in issues, issues

    fresh, _ = ecr_token(sb)  # issued on sandbox time: valid 12 hours from the new now
    assert manifest_status(sb, fresh)[0] == 200


def test_kubelet_retries_at_once_after_an_advance_past_its_back_off(sb: Sandbox, api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    make_pod(v1, "late-secret", "ecr-late")  # the secret does not exist yet: an anonymous pull, refused
    wait_pod(v1, "late-secret", pull_failing)
    password, _ = ecr_token(sb)
    put_secret(v1, "ecr-late", password)
    time.sleep(1.5)
    assert pull_failing(v1.read_namespaced_pod("late-secret", NS))  # still inside the 10 s back-off window
    sb.advance_clock("5m")  # past the longest image back-off (300 s)
    assert wait_pod(v1, "late-secret", running, timeout=10) < 2.5


def test_cronjob_fires_after_an_advance(sb: Sandbox, api: client.ApiClient, kubectl: Callable[..., Result]) -> None:
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "every5", "namespace": NS},
               "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": IMAGE}]}}}}}}
    kubectl("apply", "-f", "-", input=json.dumps(cronjob), check=True)
    batch = client.BatchV1Api(api)
    time.sleep(0.3)
    before = {j.metadata.name for j in batch.list_namespaced_job(NS).items}
    sb.advance_clock("12h")
    t0 = time.monotonic()
    new: list[Any] = []
    while not new and time.monotonic() - t0 < 5:
        new = [j for j in batch.list_namespaced_job(NS).items if j.metadata.name not in before]
        time.sleep(0.05)
    assert len(new) == 1 and time.monotonic() - t0 < 2
    scheduled = datetime.fromisoformat(
        new[0].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]).timestamp()
    now = time.time() + offset(sb)
    assert now - 300 < scheduled <= now  # the most recent missed time, not the first one
    out = kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=every5", check=True).out
    assert re.search(r"Warning\s+TooManyMissedTimes\s+cronjob/every5\s+too many missed start times. Set or "
                     r"decrease .spec.startingDeadlineSeconds or check clock skew", out), out
    assert f"Created job {new[0].metadata.name}" in out


def test_object_timestamps_stay_on_the_wall_clock_after_an_advance(sb: Sandbox, api: client.ApiClient,
                                                                     kubectl: Callable[..., Result]) -> None:
    """kubectl counts describe's ages on the user's clock: a sandbox clock ahead of it must not leak into object
    or event timestamps, or every age would read <invalid>."""
    v1 = client.CoreV1Api(api)
    make_pod(v1, "age-probe", "ecr-secret")
    sb.advance_clock("12h")
    assert offset(sb) >= 12 * HOUR
    make_pod(v1, "age-probe-2", "ecr-secret")
    created = v1.read_namespaced_pod("age-probe-2", NS).metadata.creation_timestamp.timestamp()
    assert created == pytest.approx(time.time(), abs=3)
    time.sleep(0.5)
    for name in ("age-probe", "age-probe-2"):
        age = kubectl("get", "pod", name, "-n", NS, "--no-headers", check=True).out.split()[-1]
        assert re.fullmatch(r"[0-9]+s", age), (name, age)
    described = kubectl("describe", "pod", "age-probe-2", "-n", NS, check=True).out
    assert "Scheduled" in described and "<invalid>" not in described, described
    events = kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=age-probe-2",
                     check=True).out.splitlines()
    scheduled = next(line for line in events if " Scheduled " in line)
    assert re.fullmatch(r"[0-9]+s", scheduled.split()[0]), events


def test_labctl_sandbox_clock(sb: Sandbox) -> None:
    d = str(sb.dir)
    shown = labctl("sandbox", "clock", "--dir", d)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^now:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", shown.stdout, re.M)
    assert re.search(r"^speed:\s+1$", shown.stdout, re.M)
    before = offset(sb)
    r = labctl("sandbox", "clock", "advance", "1h30m", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert "sandbox clock advanced by 1h30m" in r.stdout
    assert offset(sb) - before == pytest.approx(5400, abs=2)
    state = json.loads(labctl("sandbox", "clock", "-o", "json", "--dir", d).stdout)
    assert state["offsetSeconds"] == pytest.approx(before + 5400, abs=2)


def test_bad_durations_are_refused_and_the_sandbox_keeps_running(sb: Sandbox) -> None:
    before = offset(sb)
    r = labctl("sandbox", "clock", "advance", "12x", "--dir", str(sb.dir))
    assert r.returncode == 1
    assert 'time: unknown unit "x" in duration "12x"' in r.stderr
    with pytest.raises(AdminError) as e:
        sb.advance_clock("1d")
    assert e.value.code == 400 and 'time: unknown unit "d" in duration "1d"' in str(e.value)
    for body, text in (({"advance": "-1h"}, "only moves forward"), ({"advance": 0}, "only moves forward"),
                       ({"advance": "3"}, 'time: missing unit in duration "3"'), ({}, '{"advance": "12h"}')):
        with pytest.raises(AdminError) as e:
            _call(sb.dir, "POST", "/lab/clock", body)
        assert e.value.code == 400 and text in str(e.value), (body, str(e.value))
    assert sb.running()
    assert offset(sb) == pytest.approx(before, abs=1)


def test_the_metav1_status_of_a_bad_duration(sb: Sandbox, kubectl: Callable[..., Result]) -> None:
    r = kubectl("create", "--raw", "/lab/clock", "-f", "-", input='{"advance": "soon"}')
    assert r.rc == 1
    assert r.err.startswith('Error from server (BadRequest): invalid advance "soon": time: invalid duration "soon"')


def test_the_offset_survives_a_restart(sb: Sandbox, api: client.ApiClient) -> None:
    before = offset(sb)
    assert before > 36 * HOUR  # the advances above
    stamps = [p.metadata.creation_timestamp.timestamp() for p in client.CoreV1Api(api).list_namespaced_pod(NS).items]
    sb.down()
    state = json.loads((Path(sb.dir) / "clock.json").read_text())
    assert state["offsetSeconds"] == pytest.approx(before, abs=2)
    sb.up()
    assert offset(sb) == pytest.approx(before, abs=2)
    now = time.time() + offset(sb)
    assert all(ts <= now for ts in stamps)  # nothing was stamped in the sandbox's future
