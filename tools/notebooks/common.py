"""Building blocks shared by the notebook definitions: cells, the papermill parameters cell and the setup cells.

Every notebook starts the same way: title and objectives, the ``parameters`` cell (the only entry point for
headless runs), a setup cell that connects to the sandbox or to the cluster ``KUBECONFIG`` names, and a cell that
makes sure the lab namespace exists. The code in these cells is written once here.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field


@dataclass
class Cell:
    kind: str  # "markdown" | "code"
    source: str
    slug: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    hidden: bool = False  # source collapsed in JupyterLab (plumbing a learner need not read)


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:5]) or "cell"


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str, slug: str | None = None) -> Cell:
    """A markdown cell (dedented); the slug (for the cell id) defaults to the first words."""
    body = _clean(text)
    return Cell("markdown", body, slug or _slug(body.lstrip("#").split("\n")[0]))


def code(text: str, slug: str | None = None, tags: tuple[str, ...] = (), hidden: bool = False) -> Cell:
    """A code cell (dedented); the slug defaults to the first comment's words."""
    body = _clean(text)
    first = body.split("\n")[0].lstrip("# ")
    return Cell("code", body, slug or _slug(first), tags, hidden)


def predict(question: str, options: list[str] | None = None, slug: str = "predict") -> Cell:
    """The "predict" half of a predict-then-observe drill: a question (and choices) asked before running."""
    lines = ["> **🔮 Predict before you run the next cell.** " + _clean(question).replace("\n", "\n> ")]
    for i, option in enumerate(options or [], start=1):
        lines.append(f"> {i}. {option}")
    lines.append(">\n> Write your answer down, then run the cell and compare.")
    return Cell("markdown", "\n".join(lines), slug)


def explain(summary: str, text: str, slug: str = "why") -> Cell:
    """The explanation after an observation, folded so that it does not give the answer away."""
    return Cell("markdown", f"<details><summary><b>{summary}</b></summary>\n\n{_clean(text)}\n\n</details>", slug)


BASE_PARAMETERS: list[tuple[str, str, str]] = [
    ("backend", '"sandbox"', '"sandbox" (the embedded lab cluster) or "kubeconfig" (the cluster KUBECONFIG names)'),
    ("namespace", '"registry-lab"', "where the exercises run"),
    ("sandbox_dir", "None", "sandbox state directory (None: ~/.local/state/labhelpers/sandbox)"),
    ("clock_speed", "1", "sandbox clock rate: N > 1 makes back-offs and token expiry N times faster"),
    ("reveal", "False", "True shows passwords in clear: never save or share such outputs"),
    ("workdir", '"lab-work"', "where the seed's files (YAML, JSON, scripts) are written"),
]


def parameters(*extra: tuple[str, str, str]) -> Cell:
    """The papermill ``parameters`` cell: the common parameters plus ``extra`` (name, value, comment)."""
    rows = BASE_PARAMETERS + list(extra)
    width = max(len(f"{n} = {v}") for n, v, _ in rows)
    lines = ["# Parameters: papermill overrides these (papermill NB.ipynb OUT.ipynb -p clock_speed 20)."]
    lines += [f"{f'{n} = {v}':<{width}}  # {c}" for n, v, c in rows]
    return Cell("code", "\n".join(lines), "parameters", ("parameters",))


SETUP = '''
# Setup: connect to the cluster and load the lab helpers (safe to re-run).
import os
import time
from pathlib import Path

import pandas as pd
from kubernetes import client

import labhelpers
from labhelpers import checks, pods, secrets
from labhelpers.shell import kubectl, sh

pd.set_option("display.max_colwidth", None)
sandbox = None
if backend == "sandbox":
    from labhelpers.sandbox import Sandbox

    sandbox = Sandbox(sandbox_dir)
    if sandbox.running() and float(sandbox.info().get("clock_speed", 1)) != float(clock_speed):
        sandbox.down()  # restart at the requested clock speed: every object is kept
    sandbox.up(clock_speed=clock_speed)
api = labhelpers.connect(backend=backend, sandbox_dir=sandbox_dir)
v1 = client.CoreV1Api(api)
ns = namespace
work = Path(workdir).expanduser().resolve()
work.mkdir(parents=True, exist_ok=True)


def pull_failing(pod):
    """For pods.wait_for_pod(until=pull_failing): the kubelet reported a failed pull."""
    states = [(cs.get("state") or {}).get("waiting", {}).get("reason")
              for cs in (pod.get("status") or {}).get("containerStatuses") or []]
    return bool({"ErrImagePull", "ImagePullBackOff"} & set(states))


def ensure_namespace(name):
    """Create the namespace if needed; wait while a previous `kubectl delete namespace` finishes."""
    for _ in range(120):
        try:
            phase = v1.read_namespace(name).status.phase
        except client.ApiException as e:
            if e.status != 404:
                raise
            v1.create_namespace({"metadata": {"name": name}})
            print(f"namespace/{name} created")
            return
        if phase != "Terminating":
            return
        time.sleep(0.5)
    raise RuntimeError(f"namespace {name} is still terminating")


print(f"connected to {api.configuration.host} ({backend}); namespace {ns}; files in {work}")
'''


def setup() -> list[Cell]:
    """The setup cell and the cell that makes sure the lab namespace exists."""
    return [code(SETUP, "setup", hidden=True),
            code("""
                # Make sure the lab namespace exists (00-setup creates it; this keeps every notebook standalone).
                ensure_namespace(ns)
                """, "namespace")]


def header(title: str, part: str, objectives: list[str], minutes: int, seed_exercises: str) -> Cell:
    """Title, objectives and where the notebook sits in the seed lab."""
    goals = "\n".join(f"- {o}" for o in objectives)
    return md(f"""
        # {title}

        **Lab 03: Registry Security · {part}** · about {minutes} minutes · {seed_exercises}

        By the end of this notebook you will be able to:

        {textwrap.indent(goals, "        ").strip()}

        Run the cells from top to bottom (*Run → Run All Cells* works too): every cell can be re-run, and so can
        the whole notebook. Passwords are masked in every output (`****`); set `reveal = True` in the parameters
        cell only on your own machine, and never save or share a notebook run that way.
        """, "title")


SANDBOX_ONLY = ("This step uses the lab sandbox's demo accounts; with `backend=\"kubeconfig\"` (a real cluster) "
                "it is skipped: use your own registry and credentials instead.")
