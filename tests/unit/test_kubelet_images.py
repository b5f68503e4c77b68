"""containerd's pull error texts, Go formatting helpers and the image manager's rules (no registries needed)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from labhelpers.images import parse_docker_ref, pull_credentials
from labhelpers.images.keyring import AuthConfig
from labhelpers.sandbox.kubelet.image_manager import ImageManager, default_pull_policy, eval_cri_pull_error
from labhelpers.sandbox.kubelet.images import (
    CriError,
    ImageRecord,
    PullResult,
    PullTarget,
    aggregate_errors,
    cri_error_for,
    go_duration,
)
from labhelpers.sandbox.registries import (
    AuthorizationError,
    DigestMismatchError,
    NotFoundError,
    RegistryError,
    RegistryUnreachableError,
    TokenFetchError,
    UnknownHostError,
)
from labhelpers.sandbox.registries.client import Challenge, ErrorDetail
from tests.conftest import load_conformance

EVENTS = load_conformance("kubelet-image-events.json")
SCENARIOS = {s["scenario"]: s for s in EVENTS["scenarios"]}
CRI = EVENTS["cri_error_strings"]


def target(image: str, endpoint: str | None = None) -> PullTarget:
    return PullTarget.of(parse_docker_ref(image), endpoint)


def strip_failed_prefix(event_message: str) -> str:
    """'Failed to pull image "x": <cri error>' -> '<cri error>'."""
    return event_message.split('": ', 1)[1]


# --- Go formatting ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.0004, "0s"), (0.512, "512ms"), (0.5129, "512ms"), (1.042, "1.042s"), (1.5, "1.5s"),
    (2.0, "2s"), (62.5, "1m2.5s"), (60, "1m0s"), (3600, "1h0m0s"), (3723.004, "1h2m3.004s"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_aggregate_errors_like_utilerrors() -> None:
    assert aggregate_errors(["a"]) == "a"
    assert aggregate_errors(["a", "a"]) == "a"
    assert aggregate_errors(["a", "b", "a"]) == "[a, b]"


# --- containerd messages ---------------------------------------------------------------------------------------

def test_basic_401_matches_the_scenario() -> None:
    sc = SCENARIOS["private registry, no imagePullSecrets"]
    image = sc["pod_image"]
    err = AuthorizationError("GET", "http://127.0.0.1:5/v2/team/app/manifests/v1", 401, "Unauthorized",
                             [ErrorDetail("UNAUTHORIZED", "authentication required")],
                             Challenge("Basic", {"realm": "registry.lab.local"}))
    msg = str(cri_error_for(err, target(image)))
    assert msg == sc["status_after_failed_pull"]["waiting"]["message"]
    assert f'Failed to pull image "{image}": {msg}' == sc["events_in_order"][1]["message"]


def test_docker_hub_insufficient_scope_matches_real_event() -> None:
    real = CRI["containerd_dockerhub_private_or_missing_repo"]["real_example_event"]
    err = AuthorizationError("GET", "http://127.0.0.1:5/v2/sumit198/customer-api/manifests/1.0.1", 401,
                             "Unauthorized", [], Challenge("Bearer", {"realm": "x", "error": "insufficient_scope"}))
    assert str(cri_error_for(err, target("sumit198/customer-api:1.0.1"))) == strip_failed_prefix(real)


def test_anonymous_token_forbidden_matches_real_event() -> None:
    real = CRI["containerd_anonymous_token_forbidden"]["real_example"]
    err = TokenFetchError("GET", "http://127.0.0.1:9/token?scope=repository%3Anloui%2Fpaperless-mcp%3Apull&service"
                          "=ghcr.io", 403, "Forbidden", [], anonymous=True)
    public = lambda u: u.replace("http://127.0.0.1:9", "https://ghcr.io")  # noqa: E731
    assert str(cri_error_for(err, target("ghcr.io/nloui/paperless-mcp:latest"), public)) == strip_failed_prefix(real)


def test_oauth_token_401_uses_the_public_realm() -> None:
    err = TokenFetchError("GET", "http://127.0.0.1:9/token?scope=repository%3Ayouruser%2Fapp%3Apull&service=registry"
                          ".docker.io", 401, "Unauthorized", [], anonymous=False)
    msg = str(cri_error_for(err, target("docker.io/youruser/app:v1"),
                            lambda u: u.replace("http://127.0.0.1:9", "https://auth.docker.io")))
    assert msg.endswith('failed to authorize: failed to fetch oauth token: unexpected status from GET request to '
                        'https://auth.docker.io/token?scope=repository%3Ayouruser%2Fapp%3Apull&service=registry'
                        '.docker.io: 401 Unauthorized')
    assert msg.startswith('failed to pull and unpack image "docker.io/youruser/app:v1": failed to resolve reference '
                          '"docker.io/youruser/app:v1": ')


def test_tag_not_found_keeps_the_grpc_prefix() -> None:
    real = CRI["containerd_tag_not_found"]["real_example"]
    image = "cvisionai/tator_online:b51d8990fc4c560c0a2c64d6ddd753aedb9bdeab"
    err = NotFoundError("GET", "http://127.0.0.1:5/v2/x/manifests/y", 404, "Not Found",
                        [ErrorDetail("MANIFEST_UNKNOWN", "manifest unknown")])
    assert str(cri_error_for(err, target(image))) == strip_failed_prefix(real)


def test_connection_refused_and_unknown_host() -> None:
    unreachable = RegistryUnreachableError("GET", "http://127.0.0.1:4321/v2/team/app/manifests/v1",
                                           ConnectionRefusedError(111, "Connect call failed"))
    msg = str(cri_error_for(unreachable, target("registry.lab.local:5000/team/app:v1")))
    assert msg == ('failed to pull and unpack image "registry.lab.local:5000/team/app:v1": failed to resolve '
                   'reference "registry.lab.local:5000/team/app:v1": failed to do request: Head '
                   '"https://registry.lab.local:5000/v2/team/app/manifests/v1": dial tcp 127.0.0.1:4321: connect: '
                   'connection refused')
    msg = str(cri_error_for(UnknownHostError("foo.example"), target("foo.example/app")))
    assert msg.endswith('failed to do request: Head "https://foo.example/v2/app/manifests/latest": dial tcp: lookup '
                        'foo.example: no such host')


def test_docker_hub_endpoint_and_digest_references() -> None:
    t = target("nginx@sha256:" + "a" * 64)
    assert t.endpoint == "registry-1.docker.io" and t.object == "sha256:" + "a" * 64
    assert t.reference == "docker.io/library/nginx@sha256:" + "a" * 64
    err = RegistryError("GET", "http://127.0.0.1:5/v2/library/nginx/manifests/x", 500, "Internal Server Error", [])
    assert str(cri_error_for(err, t)).endswith(
        f"pulling from host registry-1.docker.io failed with status code [manifests sha256:{'a' * 64}]: 500 Internal "
        "Server Error")


def test_digest_mismatch_is_a_failed_precondition() -> None:
    err = DigestMismatchError("sha256:" + "1" * 64, "sha256:" + "2" * 64, "blob")
    msg = str(cri_error_for(err, target("nginx")))
    assert msg.startswith("rpc error: code = FailedPrecondition desc = failed to pull and unpack image")
    assert msg.endswith(f"unexpected commit digest sha256:{'2' * 64}, expected sha256:{'1' * 64}: failed precondition")


def test_eval_cri_pull_error() -> None:
    assert eval_cri_pull_error("x", "boom") == ("boom", "ErrImagePull")
    assert eval_cri_pull_error("x", "RegistryUnavailable: down") == (
        "image pull failed for x because the registry is unavailable: down", "RegistryUnavailable")


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


# --- the image manager with a fake image service ---------------------------------------------------------------

class FakeImages:
    """Stands in for ImageService: a cache, and pull results scripted per call."""

    def __init__(self) -> None:
        self.cache: dict[str, ImageRecord] = {}
        self.results: list[Exception | ImageRecord] = []
        self.pulls: list[tuple[str, list[str]]] = []

    def image_ref(self, image: str) -> str:
        rec = self.cache.get(image)
        return rec.ref if rec else ""

    async def pull(self, image: str, creds: list[AuthConfig]) -> PullResult:
        self.pulls.append((image, [c.username for c in creds]))
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        self.cache[image] = result
        return PullResult(result, 1.0421, creds[0] if creds else None)


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def manager() -> tuple[ImageManager, FakeImages, list[tuple], Clock]:
    images, events, clock = FakeImages(), [], Clock()
    m = ImageManager(images, lambda pod, t, r, msg, fp: events.append((t, r, msg, fp)), clock)  # type: ignore[arg-type]
    return m, images, events, clock


POD = {"metadata": {"uid": "uid-1", "name": "p", "namespace": "ns"}}
FP = "spec.containers{app}"


def ensure(m: ImageManager, image: str, policy: str | None = None, secrets: list | None = None):
    c = {"name": "app", "image": image, **({"imagePullPolicy": policy} if policy else {})}
    return asyncio.run(m.ensure_image_exists(POD, c, FP, secrets or []))


def test_invalid_image_name(manager) -> None:
    m, images, events, _ = manager
    sc = SCENARIOS["invalid image name"]
    r = ensure(m, sc["pod_image"])
    assert (r.error, r.message) == ("InvalidImageName", sc["status"]["waiting"]["message"])
    assert [(t, rs, msg) for t, rs, msg, _ in events] == [(sc["events_in_order"][0]["type"],
                                                           sc["events_in_order"][0]["reason"],
                                                           sc["events_in_order"][0]["message"])]
    assert images.pulls == []


def test_never_pull_absent_and_present(manager) -> None:
    m, images, events, _ = manager
    sc = SCENARIOS["pullPolicy Never, image absent"]
    r = ensure(m, sc["pod_image"], "Never")
    assert (r.error, r.message) == ("ErrImageNeverPull", sc["status"]["waiting"]["message"])
    assert events[-1][:3] == ("Warning", "ErrImageNeverPull", sc["events_in_order"][0]["message"])
    images.cache[sc["pod_image"]] = ImageRecord("sha256:1", [], ["registry.lab.local:5000/team/app@sha256:2"], 5)
    r = ensure(m, sc["pod_image"], "Never")
    assert r.ok and r.image_ref == "registry.lab.local:5000/team/app@sha256:2"
    assert events[-1][:3] == ("Normal", "Pulled", SCENARIOS["image already present, IfNotPresent"]["events_in_order"]
                              [0]["message"])


def test_pull_success_event_and_always_pulls(manager) -> None:
    m, images, events, _ = manager
    images.results = [ImageRecord("sha256:c", ["docker.io/library/nginx:latest"],
                                  ["docker.io/library/nginx@sha256:d"], 1077)] * 2
    for _ in range(2):
        r = ensure(m, "nginx")
        assert r.ok
    assert images.pulls == [("nginx:latest", []), ("nginx:latest", [])]  # Always: the cache is not consulted
    pulled = [e for e in events if e[1] == "Pulled"]
    assert pulled[0][2].startswith('Successfully pulled image "nginx" in 1.042s (')
    assert pulled[0][2].endswith("including waiting). Image size: 1077 bytes.")
    assert [e[1] for e in events] == ["Pulling", "Pulled", "Pulling", "Pulled"]
    assert all(e[3] == FP for e in events)


def test_failure_then_backoff_then_retry(manager) -> None:
    m, images, events, clock = manager
    sc = SCENARIOS["private registry, no imagePullSecrets"]
    image = sc["pod_image"]
    cri = sc["status_after_failed_pull"]["waiting"]["message"]
    images.results = [CriError(cri), CriError(cri),
                      ImageRecord("sha256:c", [image], [image.rsplit(":", 1)[0] + "@sha256:d"], 9)]
    r = ensure(m, image)
    assert (r.error, r.message) == ("ErrImagePull", cri)
    assert [(e[0], e[1], e[2]) for e in events] == [(x["type"], x["reason"], x["message"])
                                                    for x in sc["events_in_order"][:2]]
    clock.t += 5
    events.clear()
    r = ensure(m, image)
    assert (r.error, r.message) == ("ImagePullBackOff", sc["status_during_backoff"]["waiting"]["message"])
    assert [(e[0], e[1], e[2]) for e in events] == [(x["type"], x["reason"], x["message"])
                                                    for x in sc["events_in_order"][3:4]]
    clock.t += 5  # 10 s after the failure: the window is over, pull again and fail: 20 s window
    r = ensure(m, image)
    assert r.error == "ErrImagePull" and m.backoff.get(f"uid-1_{image}") == 20
    clock.t += 19.9
    assert ensure(m, image).error == "ImagePullBackOff"
    clock.t += 0.1
    assert ensure(m, image).ok
    assert len(images.pulls) == 3


def test_credentials_follow_the_kubelet_keyring(manager) -> None:
    m, images, _, _ = manager
    images.results = [ImageRecord("sha256:c", [], [], 1)]

    def secret(name: str, auths: dict) -> dict:
        raw = json.dumps({"auths": auths}).encode()
        return {"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(raw).decode()}}

    def auth(u: str, p: str) -> dict:
        return {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}

    configs = [{"https://index.docker.io/v1/": auth("hub", "1")},
               {"docker.io": auth("d", "2"), "ghcr.io": auth("g", "3"), "docker.io/youruser": auth("y", "4")}]
    image = "youruser/app1:v1.0"
    ensure(m, image, "Always", [secret(f"s{i}", c) for i, c in enumerate(configs)])
    expected = [u for _, u, _ in pull_credentials(image, [{"auths": c} for c in configs])]
    assert images.pulls[0][1] == expected == ["y", "d"]


def test_undecodable_secret_is_the_error(manager) -> None:
    m, images, _, _ = manager
    bad = {"metadata": {"name": "bad"}, "type": "kubernetes.io/dockerconfigjson",
           "data": {".dockerconfigjson": base64.b64encode(b'{"auths":{"x.io":{"auth":"bm9jb2xvbg=="}}}').decode()}}
    r = ensure(m, "x.io/app:v1", "IfNotPresent", [bad])
    assert r.error == r.message == "unable to parse auth field, must be formatted as base64(username:password)"
    assert images.pulls == []
