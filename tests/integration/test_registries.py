"""Real Distribution processes: the lab fleet's auth, seeding, pulls and failure modes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

import pytest

from labhelpers.sandbox.registries import (
    AuthorizationError,
    DigestMismatchError,
    NotFoundError,
    RegistryFleet,
    RegistryUnreachableError,
    TokenFetchError,
    UnknownHostError,
    oci,
)
from labhelpers.sandbox.registries.auth import Grant, decode_jwt_unverified
from labhelpers.sandbox.registries.catalog import (
    ACR_HOST,
    ACR_SP_APP_ID,
    DOCKER_HUB,
    ECR_HOST,
    GAR_HOST,
    GCP_KEY_JSON,
    HOSTS,
    MYREGISTRY,
)
from labhelpers.sandbox.registries.client import Challenge, parse_www_authenticate
from labhelpers.sandbox.registries.distribution import registry_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

HOUR = 3600.0


class SandboxClock:
    """Wall time plus an offset the tests can push forward (the sandbox clock running ahead)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def clock() -> SandboxClock:
    return SandboxClock()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, clock: SandboxClock):
    f = RegistryFleet()
    f.start(tmp_path_factory.mktemp("registries"), clock=clock)
    yield f
    f.stop()


def _account(fleet: RegistryFleet, host: str, username: str) -> dict:
    entry = next(e for e in fleet.info() if e["host"] == host)
    return next(u for u in entry["users"] if u["username"] == username)


# ----------------------------------------------------------------------------------------- fleet basics


def test_info_lists_every_host_with_users_and_seeded_images(fleet: RegistryFleet) -> None:
    info = {e["host"]: e for e in fleet.info()}
    assert set(info) == {h.host for h in HOSTS}
    hub = info["docker.io"]
    assert hub["aliases"] == ["index.docker.io", "registry-1.docker.io"]
    assert {"username": "your-username", "password": "your-password"}.items() <= hub["users"][0].items()
    assert all(u["username"] != "lab-seeder" for e in info.values() for u in e["users"])
    nginx = next(i for i in hub["images"] if i["name"] == "library/nginx")
    assert nginx == {"name": "library/nginx", "tag": "latest", "reference": "docker.io/library/nginx:latest",
                     "digest": oci.build_image("docker.io/library/nginx:latest").digest, "public": True}
    assert len(fleet.seeded) == sum(len(h.images) for h in HOSTS)
    assert fleet.timings["total"] < 10


def test_resolve_is_the_sandbox_dns(fleet: RegistryFleet) -> None:
    url = fleet.resolve("docker.io")
    assert url.startswith("http://127.0.0.1:")
    for alias in ("index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "DOCKER.IO"):
        assert fleet.resolve(alias) == url
    assert fleet.resolve("auth.docker.io") == fleet.token_server("docker.io").url.rsplit("/", 1)[0]
    with pytest.raises(UnknownHostError, match="lookup quay.io: no such host"):
        fleet.resolve("quay.io")
    assert fleet.public_url(url + "/v2/x/manifests/v1") == "https://registry-1.docker.io/v2/x/manifests/v1"
    token = fleet.token_server("docker.io").url + "?scope=repository%3Ax%3Apull&service=registry.docker.io"
    assert fleet.public_url(token) == "https://auth.docker.io/token?scope=repository%3Ax%3Apull&service=registry.docker.io"


# ---------------------------------------------------------------------------------------- good pulls


@pytest.mark.parametrize(("host", "repo", "tag", "username", "password"), [
    ("docker.io", "yourusername/private-app", "v1.0", "your-username", "your-password"),
    ("docker.io", "youruser/app1", "v1.0", "user1", "pass1"),
    ("ghcr.io", "youruser/app2", "v1.0", "user2", "token2"),
    ("myregistry.com", "app3", "v1.0", "user3", "pass3"),
    ("registry.lab.local:5000", "team/app", "v1", "labuser", "labpass"),
    ("gcr.io", "yourproject/app", "v1.0", "_json_key", GCP_KEY_JSON.strip()),
    (GAR_HOST, "yourproject/lab-repo/app", "v1.0", "_json_key", GCP_KEY_JSON),
    (ACR_HOST, "app", "v1.0", "myregistry", "lab-acr-admin-password-2"),
    (ACR_HOST, "samples/hello", "v1.0", ACR_SP_APP_ID, "lab-sp-client-secret"),
])
def test_pull_with_right_credentials(fleet: RegistryFleet, host, repo, tag, username, password) -> None:
    with fleet.client(host, username, password) as c:
        pulled = c.pull(repo, tag)
    expected = fleet.image(host, repo, tag)
    assert pulled.digest == expected.digest
    assert pulled.layers == tuple(b.data for b in expected.layers)
    assert pulled.config_json["rootfs"]["diff_ids"]


def test_temporary_logins_pull(fleet: RegistryFleet) -> None:
    aws = _account(fleet, ECR_HOST, "AWS")
    assert aws["expires_at"] > time.time() + 11 * HOUR
    with fleet.client(ECR_HOST, "AWS", aws["password"]) as c:
        assert c.pull("my-app", "v1.0").digest == fleet.image(ECR_HOST, "my-app", "v1.0").digest
    token = _account(fleet, "gcr.io", "oauth2accesstoken")["password"]
    assert token.startswith("ya29.")
    with fleet.client("gcr.io", "oauth2accesstoken", token) as c:
        c.pull("yourproject/app", "v1.0")


# ------------------------------------------------------------------------------------ auth failures


def test_wrong_password_on_basic_registry_is_401_with_body(fleet: RegistryFleet) -> None:
    with fleet.client("myregistry.com", "user3", "wrong") as c, pytest.raises(AuthorizationError) as e:
        c.get_manifest("app3", "v1.0")
    err = e.value
    assert err.status_text == "401 Unauthorized"
    assert err.challenge == Challenge("Basic", {"realm": "myregistry.com"})
    assert err.code == "UNAUTHORIZED" and err.message == "authentication required"
    assert err.detail == [{"Type": "repository", "Class": "", "Name": "app3", "Action": "pull"}]


def test_wrong_password_on_token_registry_fails_at_the_token_endpoint(fleet: RegistryFleet) -> None:
    with fleet.client("docker.io", "your-username", "wrong") as c, pytest.raises(TokenFetchError) as e:
        c.get_manifest("youruser/private-app", "v1.0")
    err = e.value
    assert err.status_text == "401 Unauthorized" and not err.anonymous
    assert fleet.public_url(err.url) == ("https://auth.docker.io/token?scope=repository%3Ayouruser%2F"
                                         "private-app%3Apull&service=registry.docker.io")
    assert err.message == "incorrect username or password"


def test_anonymous_public_pull_works(fleet: RegistryFleet) -> None:
    for host, repo, tag in (("docker.io", "library/nginx", "latest"), ("docker.io", "curlimages/curl", "latest"),
                            ("docker.io", "amazon/aws-cli", "latest"), ("gcr.io", "google-containers/pause", "3.9")):
        with fleet.client(host) as c:
            assert c.pull(repo, tag).digest == fleet.image(host, repo, tag).digest


def test_anonymous_private_pull_docker_hub_is_insufficient_scope(fleet: RegistryFleet) -> None:
    with fleet.client("docker.io") as c, pytest.raises(AuthorizationError) as e:
        c.get_manifest("private/image", "v1.0")
    err = e.value
    assert err.status == 401 and err.challenge_error == "insufficient_scope"
    assert err.challenge.scope == "repository:private/image:pull"
    assert err.code == "UNAUTHORIZED"


def test_anonymous_private_pull_ghcr_is_token_403(fleet: RegistryFleet) -> None:
    with fleet.client("ghcr.io") as c, pytest.raises(TokenFetchError) as e:
        c.get_manifest("youruser/app2", "v1.0")
    assert e.value.anonymous and e.value.status_text == "403 Forbidden"
    assert e.value.code == "DENIED"


def test_anonymous_basic_registry_is_401(fleet: RegistryFleet) -> None:
    with fleet.client("myregistry.com") as c, pytest.raises(AuthorizationError) as e:
        c.get_manifest("app3", "v1.0")
    assert e.value.status == 401 and e.value.challenge.scheme == "Basic"


def test_user_without_grant_gets_insufficient_scope(fleet: RegistryFleet) -> None:
    with fleet.client("docker.io", "user1", "pass1") as c, pytest.raises(AuthorizationError) as e:
        c.get_manifest("private/image", "v1.0")
    assert e.value.challenge_error == "insufficient_scope"


def test_pull_only_user_cannot_push(fleet: RegistryFleet) -> None:
    img = oci.build_image("push-denied")
    with fleet.client(ACR_HOST, ACR_SP_APP_ID, "lab-sp-client-secret") as c, \
            pytest.raises(AuthorizationError) as e:
        c.push_image("app", "evil", img)
    assert e.value.challenge_error == "insufficient_scope"
    kind, name, actions = e.value.challenge.scope.split(":")
    assert (kind, name, set(actions.split(","))) == ("repository", "app", {"pull", "push"})


def test_token_flow_step_by_step(fleet: RegistryFleet) -> None:
    """401 challenge -> token from the realm with Basic creds -> retry with Bearer."""
    import urllib.error
    import urllib.request
    from base64 import b64encode

    base = fleet.resolve("docker.io")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{base}/v2/youruser/private-app/manifests/v1.0")
    assert e.value.code == 401
    [ch] = parse_www_authenticate(e.value.headers["WWW-Authenticate"])
    assert ch.scheme == "Bearer" and ch.realm == fleet.token_server("docker.io").url
    assert ch.service == "registry.docker.io" and ch.scope == "repository:youruser/private-app:pull"
    body = json.loads(e.value.read())
    assert body["errors"][0]["code"] == "UNAUTHORIZED"

    req = urllib.request.Request(f"{ch.realm}?scope={ch.scope}&service={ch.service}", headers={
        "Authorization": "Basic " + b64encode(b"your-username:your-password").decode()})
    token = json.loads(urllib.request.urlopen(req).read())["token"]
    header, claims = decode_jwt_unverified(token)
    assert header["alg"] == "ES256" and "x5c" in header
    assert claims["access"] == [{"type": "repository", "name": "youruser/private-app", "actions": ["pull"]}]
    assert fleet.token_server("docker.io").requests[-1]["username"] == "your-username"

    req = urllib.request.Request(f"{base}/v2/youruser/private-app/manifests/v1.0", headers={
        "Authorization": f"Bearer {token}", "Accept": oci.OCI_MANIFEST})
    resp = urllib.request.urlopen(req)
    assert resp.headers["Docker-Content-Digest"] == fleet.image("docker.io", "youruser/private-app", "v1.0").digest

    # a token for one repository does not open another
    req = urllib.request.Request(f"{base}/v2/private/image/manifests/v1.0", headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as e2:
        urllib.request.urlopen(req)
    assert 'error="insufficient_scope"' in e2.value.headers["WWW-Authenticate"]


# --------------------------------------------------------------------------------- registry API bits


def test_manifest_head_tags_and_not_found(fleet: RegistryFleet) -> None:
    with fleet.client("docker.io", "your-username", "your-password") as c:
        d = c.head_manifest("youruser/private-app", "v1.0")
        img = fleet.image("docker.io", "youruser/private-app", "v1.0")
        assert (d.media_type, d.digest, d.size) == (oci.OCI_MANIFEST, img.digest, len(img.manifest))
        assert c.list_tags("youruser/private-app") == ["v1.0"]
        by_digest = c.get_manifest("youruser/private-app", img.digest)
        assert by_digest.data == img.manifest
        with pytest.raises(NotFoundError) as e:
            c.get_manifest("youruser/private-app", "nope")
        assert (e.value.code, e.value.detail) == ("MANIFEST_UNKNOWN", {"Tag": "nope"})
        with pytest.raises(NotFoundError) as e:
            c.get_manifest("youruser/private-app", "v1.0", accept=oci.DOCKER_MANIFEST)
        assert "OCI manifest found, but accept header does not support OCI manifests" in e.value.message


def test_add_user_with_per_repository_grant(fleet: RegistryFleet) -> None:
    fleet.add("docker.io", "scoped-user", "scoped-pass", grants=(Grant("youruser/app1", frozenset({"pull"})),))
    with fleet.client("docker.io", "scoped-user", "scoped-pass") as c:
        c.get_manifest("youruser/app1", "v1.0")
        with pytest.raises(AuthorizationError):
            c.get_manifest("youruser/private-app", "v1.0")
    assert fleet.remove("docker.io", "scoped-user") == 1
    with fleet.client("docker.io", "scoped-user", "scoped-pass") as c, pytest.raises(TokenFetchError):
        c.get_manifest("youruser/app1", "v1.0")


def test_corrupt_blob_is_detected_by_digest(fleet: RegistryFleet) -> None:
    fleet.add("myregistry.com", "tester", "tester-pass")
    img = oci.build_image("corrupt-me")
    with fleet.client("myregistry.com", "tester", "tester-pass") as c:
        c.push_image("test/corrupt", "v1", img)
        layer = img.layers[0]
        data_file = (fleet.registry("myregistry.com").data_dir / "docker/registry/v2/blobs/sha256"
                     / layer.digest[7:9] / layer.digest[7:] / "data")
        raw = bytearray(data_file.read_bytes())
        raw[-5] ^= 0xFF  # same length, different bytes
        data_file.write_bytes(bytes(raw))
        with pytest.raises(DigestMismatchError) as e:
            c.pull("test/corrupt", "v1")
    assert e.value.expected == layer.digest
    assert e.value.actual == oci.sha256_digest(bytes(raw))


def test_htpasswd_user_added_and_removed_live(fleet: RegistryFleet) -> None:
    fleet.add("myregistry.com", "temp", "temp-pass")
    with fleet.client("myregistry.com", "temp", "temp-pass") as c:
        c.get_manifest("app3", "v1.0")
    fleet.remove("myregistry.com", "temp")
    with fleet.client("myregistry.com", "temp", "temp-pass") as c, pytest.raises(AuthorizationError):
        c.get_manifest("app3", "v1.0")


def test_credentials_expire_on_the_sandbox_clock(fleet: RegistryFleet, clock: SandboxClock) -> None:
    aws = _account(fleet, ECR_HOST, "AWS")["password"]
    gcp = _account(fleet, "gcr.io", "oauth2accesstoken")["password"]
    try:
        clock.offset = 12 * HOUR + 1
        fleet.sync_credentials()
        with fleet.client(ECR_HOST, "AWS", aws) as c, pytest.raises(AuthorizationError) as e:
            c.get_manifest("my-app", "v1.0")
        assert e.value.status == 403 and e.value.code == "DENIED"  # ECR: the token has expired
        with fleet.client("gcr.io", "oauth2accesstoken", gcp) as c, pytest.raises(TokenFetchError) as e2:
            c.get_manifest("yourproject/app", "v1.0")
        assert "expired" in e2.value.message
        fresh = fleet.ecr_login_password()
        with fleet.client(ECR_HOST, "AWS", fresh) as c:
            c.get_manifest("my-app", "v1.0")
    finally:
        clock.offset = 0.0
        fleet.sync_credentials()


def test_ecr_tokens_push_and_pull_through_the_gateway(fleet: RegistryFleet) -> None:
    """Blob uploads (POST, Location, PUT), HEAD and tag lists pass the gateway intact; tokens stay independent."""
    first, second = fleet.ecr_login_password(), fleet.ecr_login_password()
    img = oci.build_image("gateway-push")
    with fleet.client(ECR_HOST, "AWS", first) as c:
        digest = c.push_image("lab/pushed", "v1", img)
    with fleet.client(ECR_HOST, "AWS", second) as c:
        d = c.head_manifest("lab/pushed", "v1")
        assert (d.digest, d.size) == (digest, len(img.manifest))
        assert c.list_tags("lab/pushed") == ["v1"]
        pulled = c.pull("lab/pushed", "v1")
    assert pulled.digest == digest and pulled.layers == tuple(b.data for b in img.layers)
    seen = list(fleet.gateway(ECR_HOST).requests)
    assert seen[-1]["username"] == "AWS"
    # the upload URL Distribution hands out (Location) leads back through the gateway
    assert any(r["method"] == "PUT" and r["path"].startswith("/v2/lab/pushed/blobs/uploads/") and r["status"] == 201
               for r in seen)
    assert fleet.gateway("myregistry.com") is None
    entry = next(e for e in fleet.info() if e["host"] == ECR_HOST)
    assert (entry["auth"], entry["service"]) == ("basic", "ecr.amazonaws.com")
    assert entry["url"] == fleet.resolve(ECR_HOST) == fleet.registry(ECR_HOST).url
    assert fleet.public_url(entry["url"] + "/v2/") == f"https://{ECR_HOST}/v2/"
    assert fleet.host_of(entry["url"]) == ECR_HOST


def test_killed_gateway_registry_refuses_connections_then_restarts(fleet: RegistryFleet) -> None:
    registry = fleet.registry(ECR_HOST)
    port = registry.port
    password = fleet.ecr_login_password()
    registry.kill()
    try:
        assert not registry.running
        with fleet.client(ECR_HOST, "AWS", password) as c, pytest.raises(RegistryUnreachableError) as e:
            c.get_manifest("my-app", "v1.0")
        assert e.value.describe() == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    finally:
        registry.start()
    assert registry.port == port and registry.running
    with fleet.client(ECR_HOST, "AWS", password) as c:
        c.get_manifest("my-app", "v1.0")


def test_add_host_while_running(fleet: RegistryFleet) -> None:
    from labhelpers.sandbox.registries.auth import Account
    from labhelpers.sandbox.registries.catalog import HostSpec, ImageSpec

    spec = HostSpec(host="late.example:5000", auth="htpasswd", basic_realm="late.example", aliases=("late-alias.example",),
                    accounts=(Account("late", "late-pass"),), images=(ImageSpec("team/late", "v1"),))
    fleet.add_host(spec)
    assert fleet.resolve("late-alias.example") == fleet.resolve("late.example:5000")
    assert "late.example:5000" in fleet.hosts
    with fleet.client("late.example:5000", "late", "late-pass") as c:
        assert c.pull("team/late", "v1").digest == fleet.image("late.example:5000", "team/late", "v1").digest
    with fleet.client("late.example:5000") as c, pytest.raises(AuthorizationError) as e:
        c.ping()
    assert e.value.challenge == Challenge("Basic", {"realm": "late.example"})
    with pytest.raises(ValueError, match="registry host late-alias.example already exists"):
        fleet.add_host(HostSpec(host="other.example", auth="htpasswd", aliases=("LATE-ALIAS.example",)))
    with pytest.raises(ValueError, match="already exists"):
        fleet.add_host(MYREGISTRY)
    fleet.add_host(HostSpec(host="late-ecr.example", auth="basic", basic_realm="https://late-ecr.example/",
                            service="ecr.amazonaws.com", accounts=(Account("AWS", "one"), Account("AWS", "two"))))
    for password in ("one", "two"):
        assert fleet.client("late-ecr.example", "AWS", password).ping() == 200


def test_add_host_needs_a_started_fleet() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        RegistryFleet((MYREGISTRY,)).add_host(DOCKER_HUB)


def test_killed_registry_refuses_connections_then_restarts(fleet: RegistryFleet) -> None:
    proc = fleet.registry("ghcr.io")
    port = proc.port
    proc.kill()
    try:
        with fleet.client("ghcr.io", "user2", "token2") as c, pytest.raises(RegistryUnreachableError) as e:
            c.get_manifest("youruser/app2", "v1.0")
        assert e.value.describe() == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
        assert isinstance(e.value, ConnectionError)
    finally:
        proc.start()
    assert proc.port == port
    with fleet.client("ghcr.io", "user2", "token2") as c:
        c.get_manifest("youruser/app2", "v1.0")


# ------------------------------------------------------------------------------------ lifecycle


def _pids_with(path: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if str(path).encode() in cmd:
                found.append(int(entry))
    return found


def test_warm_restart_skips_seeding_and_stop_leaves_nothing(tmp_path: Path) -> None:
    hosts = (DOCKER_HUB, MYREGISTRY)
    first = RegistryFleet(hosts).start(tmp_path)
    assert len(first.seeded) == len(DOCKER_HUB.images) + len(MYREGISTRY.images)
    first.stop()

    second = RegistryFleet(hosts).start(tmp_path)
    try:
        assert second.seeded == []
        assert second.timings["total"] < 3.0
        pids = [second.registry(h.host).pid for h in hosts]
        ports = [second.registry(h.host).port for h in hosts] + [second.token_server("docker.io").port]
        assert len(_pids_with(tmp_path)) == 2
        with second.client("docker.io") as c:
            assert c.pull("library/nginx", "latest").digest == \
                oci.build_image("docker.io/library/nginx:latest").digest
    finally:
        second.stop()
    assert _pids_with(tmp_path) == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
    second.stop()  # idempotent


def test_oauth2_password_grant_like_containerd(fleet: RegistryFleet) -> None:
    """containerd POSTs grant_type=password first and falls back to GET on 401/404/405/400."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = fleet.token_server("ghcr.io").url
    form = {"grant_type": "password", "client_id": "containerd-client", "username": "user2", "password": "token2",
            "service": "ghcr.io", "scope": "repository:youruser/app2:pull"}
    body = json.loads(urllib.request.urlopen(url, data=urllib.parse.urlencode(form).encode()).read())
    assert body["scope"] == "repository:youruser/app2:pull" and body["access_token"]
    _, claims = decode_jwt_unverified(body["access_token"])
    assert claims["access"][0]["actions"] == ["pull"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, data=urllib.parse.urlencode(form | {"password": "nope"}).encode())
    assert e.value.code == 401


def test_orphans_of_a_crashed_session_are_reaped(tmp_path: Path) -> None:
    """A notebook kernel killed with SIGKILL leaves its registries running; the next start stops them."""
    import ctypes
    import signal
    import subprocess
    import sys

    # Become the orphans' reaper (PR_SET_CHILD_SUBREAPER) so the killed registry does not stay a zombie
    # under a PID 1 that never reaps.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)
    code = ("import sys, time\n"
            "from labhelpers.sandbox.registries import RegistryFleet\n"
            "from labhelpers.sandbox.registries.catalog import MYREGISTRY\n"
            "RegistryFleet((MYREGISTRY,)).start(sys.argv[1])\n"
            "print('up', flush=True)\n"
            "time.sleep(60)\n")
    kernel = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert kernel.stdout.readline().strip() == b"up"
        pidfile = tmp_path / "registries" / "myregistry.com" / "registry.pid"
        orphan = int(pidfile.read_text())
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(5)
        os.kill(orphan, 0)  # still alive after its parent died
    finally:
        if kernel.poll() is None:
            kernel.kill()
    try:
        fresh = RegistryFleet((MYREGISTRY,)).start(tmp_path)
        try:
            assert fresh.registry("myregistry.com").pid != orphan
            assert _pids_with(tmp_path) == [fresh.registry("myregistry.com").pid]
        finally:
            fresh.stop()
        assert _pids_with(tmp_path) == []
        with contextlib.suppress(ChildProcessError):
            os.waitpid(orphan, 0)
    finally:
        libc.prctl(36, 0, 0, 0, 0)
