"""Fixtures that start a real sandbox process and run the real kubectl against it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from labhelpers.sandbox import Sandbox
from labhelpers.tools import kubectl as kubectl_tool


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox(tmp_path_factory.mktemp("sandbox"))
    sb.up()
    yield sb
    sb.down()


@pytest.fixture(scope="session")
def api(sandbox: Sandbox) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sandbox.kubeconfig))


@dataclass
class Result:
    rc: int
    out: str
    err: str


def kubectl_binary() -> str:
    path = kubectl_tool.which()
    if not path:
        pytest.skip("kubectl is not installed: run `labctl tools install-kubectl`")
    return path


def make_runner(binary: str, kubeconfig: Path, home: Path) -> Callable[..., Result]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG",)}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(home))

    def run(*args: str, input: str | None = None, check: bool = False, timeout: float = 60) -> Result:
        p = subprocess.run([binary, *args], input=input, capture_output=True, text=True, env=env, timeout=timeout)
        r = Result(p.returncode, p.stdout, p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return r

    return run


@pytest.fixture
def kubectl(sandbox: Sandbox, tmp_path: Path) -> Callable[..., Result]:
    """The pinned kubectl with its own HOME (discovery cache) and a private copy of the kubeconfig."""
    kc = tmp_path / "kubeconfig"
    shutil.copy(sandbox.kubeconfig, kc)
    home = tmp_path / "home"
    home.mkdir()
    return make_runner(kubectl_binary(), kc, home)
