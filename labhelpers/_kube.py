"""Small official-client plumbing shared by the notebook helpers: raw JSON objects, errors, times, namespace.

Objects are read with ``_preload_content=False`` and kept as the API's JSON dicts (camelCase, base64 secret
data), which is the form the kubelet-rule ports in :mod:`labhelpers.images` take, and it behaves the same on
every supported ``kubernetes`` client release.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from .sandbox.apiserver.tables import human_duration, parse_time, pod_status

__all__ = ["ApiException", "age", "api_error", "core", "current_namespace", "human_duration", "now",
           "parse_time", "pod_status", "raw", "server_error_text"]

Obj = dict[str, Any]


def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def raw(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
    """Call a generated client method and return the JSON body as a dict (raises ApiException)."""
    resp = call(*args, _preload_content=False, **kwargs)
    data = resp.data
    return json.loads(data) if data else {}


def api_error(exc: ApiException) -> tuple[str, str]:
    """(reason, message) from the metav1 Status in an error response."""
    try:
        status = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        status = {}
    if not isinstance(status, dict):
        status = {}
    return str(status.get("reason") or exc.reason or ""), str(status.get("message") or exc.reason or exc)


def server_error_text(exc: ApiException) -> str:
    """What kubectl prints for an API error: ``Error from server (NotFound): secrets "x" not found``."""
    reason, message = api_error(exc)
    return f"Error from server ({reason}): {message}" if reason else f"Error from server: {message}"


def current_namespace(default: str = "default") -> str:
    """The namespace of the kubeconfig's current context (what kubectl uses without ``-n``)."""
    import os

    # The client's KUBE_CONFIG_DEFAULT_LOCATION is read once at import, before connect() may set KUBECONFIG.
    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
    try:
        _, active = config.list_kube_config_contexts(config_file=path)
    except Exception:
        return default
    return ((active or {}).get("context") or {}).get("namespace") or default


def now() -> datetime:
    return datetime.now(UTC)


def age(ts: Any, at: datetime | None = None) -> str:
    """kubectl's AGE cell: HumanDuration since ``ts`` or ``<unknown>``."""
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration((at or now()) - t)
