"""Exercise 12, "Install Kyverno", for the lab sandbox or a real cluster.

``install_kyverno()`` picks the target the way the notebooks do:

* **the lab sandbox** (``sandbox_dir`` given, the default sandbox running, or ``api`` connected to a sandbox):
  ``POST /lab/kyverno`` turns on the sandbox's Kyverno emulation (CRD kinds, admission webhooks with cosign
  verification, policy reports, the ``kyverno`` namespace and admission-controller Deployment). The sandbox
  emulates one release, :data:`KYVERNO_VERSION`.
* **a real cluster** (any other ``api``, or the kubeconfig): the official release manifest
  ``https://github.com/kyverno/kyverno/releases/download/<version>/install.yaml``, applied with server-side
  apply through the official client (Kyverno's CRDs are too large for client-side ``kubectl apply``; the
  upstream instructions use ``kubectl create`` or ``--server-side``).

Either way, wait for it afterwards as the lab does::

    kubectl wait --for=condition=ready pod -l app.kubernetes.io/name=kyverno -n kyverno --timeout=300s
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .sandbox.admission.kyverno.plugin import KYVERNO_VERSION

if TYPE_CHECKING:
    from kubernetes import client

__all__ = ["FIELD_MANAGER", "KYVERNO_VERSION", "RELEASE_URL", "KyvernoInstallError", "apply_manifest",
           "fetch_release_manifest", "install_kyverno"]

RELEASE_URL = "https://github.com/kyverno/kyverno/releases/download/{version}/install.yaml"
FIELD_MANAGER = "labhelpers"
SANDBOX_VERSION_SUFFIX = "-labsandbox"  # the sandbox's /version gitVersion ends with it


class KyvernoInstallError(RuntimeError):
    """Kyverno could not be installed; the message says why (the API server's or the download's error)."""


def _version(version: str) -> str:
    return version if version.startswith("v") else f"v{version}"


def install_kyverno(api: client.ApiClient | None = None, *, sandbox_dir: str | Path | None = None,
                    version: str = KYVERNO_VERSION) -> dict[str, Any]:
    """Install Kyverno ``version``; returns ``{"target": "sandbox"|"cluster", "version", ...}``.

    Sandbox: idempotent, and ``created`` says whether this call turned it on. Real cluster: ``applied`` lists
    ``kind/name`` of every object of the release manifest.
    """
    version = _version(version)
    if api is None:
        from .sandbox import Sandbox

        if sandbox_dir is not None or Sandbox(None).running():
            return _install_in_sandbox(sandbox_dir, version)
        from kubernetes import config

        try:
            api = config.new_client_from_config()
        except config.ConfigException as e:
            raise KyvernoInstallError(f"no cluster to install into: the lab sandbox is not running "
                                      f"(labctl sandbox up) and the kubeconfig is unusable ({e})") from None
    if _is_sandbox(api):
        return _install_through_api(api, version)
    applied = apply_manifest(api, fetch_release_manifest(version))
    return {"target": "cluster", "version": version, "namespace": "kyverno", "applied": applied}


# --- the lab sandbox ----------------------------------------------------------------------------------------


def _check_sandbox_version(version: str) -> None:
    if version != KYVERNO_VERSION:
        raise KyvernoInstallError(f"the lab sandbox emulates Kyverno {KYVERNO_VERSION} only (asked for {version})")


def _install_in_sandbox(sandbox_dir: str | Path | None, version: str) -> dict[str, Any]:
    from .sandbox.admin import AdminError
    from .sandbox.admin import install_kyverno as post_install

    _check_sandbox_version(version)
    try:
        result = post_install(sandbox_dir, version)
    except AdminError as e:
        raise KyvernoInstallError(str(e)) from None
    return {"target": "sandbox", **result}


def _request(api: client.ApiClient, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """A request to a path the generated API does not know, with the ApiClient's server, TLS and token."""
    from kubernetes.client.exceptions import ApiException

    headers = {**api.default_headers, "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    for auth in api.configuration.auth_settings().values():
        if auth.get("in") == "header" and auth.get("value"):
            headers[auth["key"]] = auth["value"]
    try:
        resp = api.rest_client.request(method, api.configuration.host + path, headers=headers, body=body)
    except ApiException as e:  # clients before v32 raise for every non-2xx answer
        return int(e.status or 0), (e.body or b"") if isinstance(e.body, bytes) else str(e.body or "").encode()
    data = resp.read() if getattr(resp, "data", None) is None and hasattr(resp, "read") else resp.data
    return int(resp.status), data or b""


def _is_sandbox(api: client.ApiClient) -> bool:
    status, data = _request(api, "GET", "/version")
    try:
        return status == 200 and json.loads(data).get("gitVersion", "").endswith(SANDBOX_VERSION_SUFFIX)
    except ValueError:
        return False


def _install_through_api(api: client.ApiClient, version: str) -> dict[str, Any]:
    """The sandbox's admin endpoint, reached with the ApiClient's own server, token and CA."""
    _check_sandbox_version(version)
    status, data = _request(api, "POST", "/lab/kyverno", {"version": version})
    try:
        answer = json.loads(data)
    except ValueError:
        answer = {"message": data.decode(errors="replace")}
    if not 200 <= status < 300:
        raise KyvernoInstallError(answer.get("message") or f"HTTP {status}")
    return {"target": "sandbox", **answer}


# --- a real cluster -----------------------------------------------------------------------------------------


def fetch_release_manifest(version: str = KYVERNO_VERSION, timeout: float = 60.0) -> str:
    """Download the release's ``install.yaml`` (needs internet access to github.com)."""
    url = RELEASE_URL.format(version=_version(version))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode()
    except OSError as e:
        raise KyvernoInstallError(f"could not download {url}: {e}") from None


def apply_manifest(api: client.ApiClient, manifest: str, *, field_manager: str = FIELD_MANAGER) -> list[str]:
    """Server-side apply every document of ``manifest`` in order (``kubectl apply --server-side
    --force-conflicts``); returns ``kind/name`` of each object applied."""
    from kubernetes import dynamic
    from kubernetes.client.exceptions import ApiException

    dyn = dynamic.DynamicClient(api)
    applied = []
    for doc in yaml.safe_load_all(manifest):
        if not doc:
            continue
        kind, name = doc.get("kind", ""), (doc.get("metadata") or {}).get("name", "")
        try:
            resource = dyn.resources.get(api_version=doc["apiVersion"], kind=kind)
            dyn.server_side_apply(resource, body=doc, namespace=(doc.get("metadata") or {}).get("namespace"),
                                  field_manager=field_manager, force_conflicts=True)
        except ApiException as e:
            try:
                message = json.loads(e.body or "{}").get("message") or str(e)
            except ValueError:
                message = str(e)
            raise KyvernoInstallError(f"applying {kind}/{name}: {message}") from None
        applied.append(f"{kind.lower()}/{name}")
    return applied
