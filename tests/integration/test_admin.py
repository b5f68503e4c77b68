"""/lab/registries on the real sandbox API app (bearer-protected), and the add_registry client over HTTPS."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from labhelpers.sandbox import pki
from labhelpers.sandbox.admin import (
    ADDED_FILE,
    AdminError,
    add_registry,
    build_admin_app,
    list_registries,
    registry_endpoints,
    restore_registries,
)
from labhelpers.sandbox.apiserver.http import build_app
from labhelpers.sandbox.apiserver.objects import Registry
from labhelpers.sandbox.apiserver.store import Store
from labhelpers.sandbox.manager import USER, SandboxError
from labhelpers.sandbox.registries import AuthorizationError, RegistryFleet
from labhelpers.sandbox.registries._loop import LoopThread
from labhelpers.sandbox.registries.catalog import MYREGISTRY
from labhelpers.sandbox.registries.distribution import registry_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

TOKEN = "test-admin-token"
CHANGES: list[str] = []  # on_change calls of the mounted admin app


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFleet]:
    f = RegistryFleet(hosts=(MYREGISTRY,))  # one host keeps the test fast
    f.start(tmp_path_factory.mktemp("admin-registries"))
    yield f
    f.stop()


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory, fleet: RegistryFleet) -> Iterator[Path]:
    """A state dir that looks like a running sandbox: the API app (+ /lab) over TLS, server.json, kubeconfig."""
    state = tmp_path_factory.mktemp("sandbox-state")
    pki.ensure(state)
    (state / "token").write_text(TOKEN)
    loop = LoopThread("test-admin")

    async def start() -> tuple[web.AppRunner, int]:
        app = build_app(Registry(Store(state / "state.db")), TOKEN)
        app.add_subapp("/lab", build_admin_app(fleet, on_change=lambda: CHANGES.append("changed")))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock, ssl_context=pki.server_context(state)).start()
        return runner, sock.getsockname()[1]

    runner, port = loop.run(start())
    url = f"https://127.0.0.1:{port}"
    (state / "server.json").write_text(json.dumps({"pid": os.getpid(), "port": port, "api_url": url}))
    ca = base64.b64encode((state / pki.CA_CERT).read_bytes()).decode()
    (state / "kubeconfig").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": url, "certificate-authority-data": ca}}],
        "users": [{"name": USER, "user": {"token": TOKEN}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": USER}}]}))
    yield state
    loop.run(runner.cleanup())


def test_list_needs_the_bearer_token(sandbox_dir: Path) -> None:
    import ssl
    import urllib.error
    import urllib.request

    url = json.loads((sandbox_dir / "server.json").read_text())["api_url"] + "/lab/registries"
    ctx = ssl.create_default_context(cafile=str(sandbox_dir / pki.CA_CERT))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, context=ctx, timeout=10)
    assert info.value.code == 401
    assert json.loads(info.value.read())["reason"] == "Unauthorized"
    hosts = [e["host"] for e in list_registries(sandbox_dir)]
    assert hosts == ["myregistry.com"]


def test_add_user_to_existing_host_and_change_password(sandbox_dir: Path, fleet: RegistryFleet) -> None:
    out = add_registry(sandbox_dir, "myregistry.com", "alice", "first-password")
    assert (out["host"], out["username"], out["created"]) == ("myregistry.com", "alice", False)
    assert fleet.client("myregistry.com", "alice", "first-password").ping() == 200
    add_registry(sandbox_dir, "https://myregistry.com/v2/", "alice", "second-password")
    time.sleep(0.3)
    assert fleet.client("myregistry.com", "alice", "second-password").ping() == 200
    with pytest.raises(AuthorizationError):
        fleet.client("myregistry.com", "alice", "first-password").ping()
    users = [u["username"] for u in fleet.info()[0]["users"]]
    assert users.count("alice") == 1


def test_add_new_host_starts_a_real_registry(sandbox_dir: Path, fleet: RegistryFleet) -> None:
    calls = len(CHANGES)
    out = add_registry(sandbox_dir, "registry.course.example:5000", "bob", "hunter2")
    assert out["created"] is True and len(CHANGES) == calls + 1
    entry = out["registry"]
    assert entry["host"] == "registry.course.example:5000" and entry["auth"] == "htpasswd"
    assert fleet.client("registry.course.example:5000", "bob", "hunter2").ping() == 200
    with pytest.raises(AuthorizationError) as info:
        fleet.client("registry.course.example:5000").ping()
    assert info.value.challenge is not None and info.value.challenge.realm == "registry.course.example"
    assert "registry.course.example:5000" in [e["host"] for e in registry_endpoints(fleet)]
    assert all("users" not in e for e in registry_endpoints(fleet))
    saved = json.loads((fleet.state_dir / ADDED_FILE).read_text())
    assert {"host": "registry.course.example:5000", "username": "bob", "password": "hunter2"} in saved


def test_invalid_requests_are_status_errors(sandbox_dir: Path) -> None:
    with pytest.raises(AdminError) as info:
        add_registry(sandbox_dir, "not a host!", "u", "p")
    assert info.value.code == 422
    assert str(info.value) == ('Registry.lab.sandbox "not a host!" is invalid: host: Invalid value: "not a host!": '
                               "must be a registry host name with an optional port, e.g. registry.example.com:5000")
    with pytest.raises(AdminError) as info:
        add_registry(sandbox_dir, "myregistry.com", "a:b", "")
    assert info.value.code == 422
    assert "password: Required value" in str(info.value) and "username: Invalid value" in str(info.value)


def test_client_without_a_running_sandbox(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="is not running"):
        add_registry(tmp_path, "myregistry.com", "u", "p")


def test_restore_replays_added_logins_after_a_restart(sandbox_dir: Path, fleet: RegistryFleet) -> None:
    add_registry(sandbox_dir, "myregistry.com", "carol", "carol-pass")
    add_registry(sandbox_dir, "restore.example", "dave", "dave-pass")
    assert fleet.state_dir is not None
    again = RegistryFleet(hosts=(MYREGISTRY,))
    fleet_dir = fleet.state_dir
    fleet.stop()
    try:
        again.start(fleet_dir)
        restored = restore_registries(again)
        assert "restore.example" in restored
        assert again.client("myregistry.com", "carol", "carol-pass").ping() == 200
        assert again.client("restore.example", "dave", "dave-pass").ping() == 200
    finally:
        again.stop()
