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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labhelpers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
