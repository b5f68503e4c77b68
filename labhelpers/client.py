"""One way in: an official-client ApiClient for the sandbox or for whatever cluster KUBECONFIG names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from kubernetes import client, config

Backend = Literal["auto", "sandbox", "kubeconfig"]


def connect(backend: Backend = "auto", *, sandbox_dir: str | Path | None = None,
            context: str | None = None) -> client.ApiClient:
    """Return an ApiClient.

    ``kubeconfig`` uses ``KUBECONFIG`` / ``~/.kube/config`` (a real cluster, or the sandbox once its
    ``export KUBECONFIG=...`` line is in effect). ``sandbox`` starts the embedded sandbox if needed and points
    ``KUBECONFIG`` at it, so kubectl run from the notebook talks to the same cluster. ``auto`` takes the
    kubeconfig when one exists and the sandbox otherwise.
    """
    if backend == "auto":
        has_kubeconfig = bool(os.environ.get("KUBECONFIG")) or (Path.home() / ".kube" / "config").exists()
        backend = "kubeconfig" if has_kubeconfig else "sandbox"
    if backend == "sandbox":
        from .sandbox import Sandbox

        sb = Sandbox(sandbox_dir)
        sb.up()
        os.environ["KUBECONFIG"] = str(sb.kubeconfig)
        return config.new_client_from_config(config_file=str(sb.kubeconfig), context=context)
    if backend != "kubeconfig":
        raise ValueError(f"unknown backend {backend!r}: use 'auto', 'sandbox' or 'kubeconfig'")
    return config.new_client_from_config(context=context)
