"""Shared pytest fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_path() -> Path:
    """The read-only shared/ folder: beside the clone in CI and in developer sessions."""
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (REPO.parent / "shared").resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    p = shared_path()
    if not p.is_dir():
        pytest.fail(f"shared data not found at {p}; set LAB_SHARED")
    return p


def load_conformance(name: str) -> object:
    return json.loads((shared_path() / "conformance" / name).read_text())
