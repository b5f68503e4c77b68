"""Registry Security Lab helpers: the notebooks' toolkit and the embedded sandbox cluster.

Names are imported lazily so that ``labctl`` and the sandbox process start fast (the official client takes
about a second to import).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "connect": "labhelpers.client",
    "normalize_image": "labhelpers.images",
    "pull_credentials": "labhelpers.images",
    "probe_registry": "labhelpers.probe",
    **dict.fromkeys(("docker_registry_secret", "secret_from_docker_config", "registry_secret_manifest",
                     "secret_from_yaml", "create_secret", "decode_dockerconfigjson", "dockerconfig_table"),
                    "labhelpers.secrets"),
    **dict.fromkeys(("pods_table", "pod_events_table", "pull_explain", "wait_for_pod", "diagnose"),
                    "labhelpers.pods"),
    **dict.fromkeys(("kubectl", "sh"), "labhelpers.shell"),
    **dict.fromkeys(("check", "Checks", "lab03_checks"), "labhelpers.checks"),
    **dict.fromkeys(("secret_builder", "pull_explorer", "policy_tester"), "labhelpers.widgets"),
    "install_kyverno": "labhelpers.kyverno",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labhelpers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
