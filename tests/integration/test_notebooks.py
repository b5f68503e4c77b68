"""The courseware notebooks, run headless with papermill against a fresh sandbox, twice in a row.

Every notebook must run from top to bottom through its ``parameters`` cell alone, a second run must succeed as
well (cells are idempotent), and no demo password, token or key may appear in clear in any saved output.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.registries.distribution import registry_binary
from labhelpers.tools import kubectl as kubectl_tool

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = [
    "00-setup.ipynb",
    "01-imagepullsecrets.ipynb",
    "02-using-pull-secrets.ipynb",
    "03-multi-registry.ipynb",
    "04-cloud-registries.ipynb",
    "05-content-trust.ipynb",
    "06-admission-control.ipynb",
    "07-troubleshooting.ipynb",
    "08-verification.ipynb",
    "09-cleanup.ipynb",
]
RUNS = (1, 2)
# The policy tester as a table: an Output widget can stall nbclient (jupyter/nbclient#312). (04's ECR drill
# fast-forwards the sandbox clock itself; back-offs run 20x faster with the clock_speed below.)
EXTRA_PARAMETERS = {"06-admission-control.ipynb": {"interactive": False}}
# Secrets reach the kernels through the environment (papermill records parameters in the saved notebook);
# values of our own, so that the scan knows what must never show (05-content-trust's key passphrases).
NOTEBOOK_ENV = {"LAB_DCT_ROOT_PASSPHRASE": "t3st-dct-root-passphrase",
                "LAB_DCT_REPOSITORY_PASSPHRASE": "t3st-dct-repository-passphrase",
                "COSIGN_PASSWORD": "t3st-cosign-password"}
BASE_PARAMETERS = {"backend", "namespace", "sandbox_dir", "clock_speed", "reveal", "workdir"}


def _cell_texts(output: dict) -> list[str]:
    """Every piece of text an output shows: streams, each MIME rendering (HTML unescaped), errors."""
    texts: list[str] = []
    if "text" in output:
        texts.append("".join(output["text"]) if isinstance(output["text"], list) else output["text"])
    for mime, value in (output.get("data") or {}).items():
        text = "".join(value) if isinstance(value, list) else value
        if isinstance(text, str):
            texts.append(text)
            if mime == "text/html":
                texts.append(html.unescape(text))
        else:
            texts.append(json.dumps(text))
    texts += [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
    return [t for t in texts if t]


def leaked(nb: nbformat.NotebookNode, secrets: dict[str, str]) -> list[str]:
    """``cell N: <label>`` for every secret that appears in clear in an output (or the saved widget state)."""
    found = [f"metadata: {label}" for value, label in secrets.items() if value in json.dumps(nb.metadata)]
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for text in _cell_texts(output):
                found += [f"cell {index}: {label}" for value, label in secrets.items() if value in text]
    return sorted(set(found))


def demo_secrets(sandbox: Sandbox) -> dict[str, str]:
    """value -> label of every credential the sandbox hands out, with the base64 ``auth`` form of each login."""
    info = sandbox.info()
    out: dict[str, str] = {}
    generic = {"password"}  # the demo account username/password: the word itself is everywhere (column names)
    for reg in info.get("registries", []):
        for user in reg.get("users", []):
            password = user.get("password") or ""
            label = f"{reg['host']} password of {user['username']}"
            if len(password) >= 5 and password not in generic:
                out[password] = label
            if password:
                out[base64.b64encode(f"{user['username']}:{password}".encode()).decode()] = label + " (auth)"
            with contextlib.suppress(ValueError, TypeError, KeyError):  # a key file: its private key must not show
                out[json.loads(password)["private_key"].strip()] = label + " (private_key)"
    aws = info.get("aws") or {}
    if aws.get("secret_access_key"):
        out[aws["secret_access_key"]] = "AWS secret access key"
    token = (sandbox.dir / "token").read_text().strip()
    out[token] = "sandbox API token"
    if (info.get("cosign") or {}).get("password"):
        out[info["cosign"]["password"]] = "lab cosign key password"
    out.update({value: f"${key}" for key, value in NOTEBOOK_ENV.items()})
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A fresh sandbox directory, a work directory, and a python3 kernelspec that runs this venv's Python."""
    if registry_binary() is None:
        pytest.skip("docker-registry missing: apt-get install docker-registry")
    if not kubectl_tool.which():
        pytest.skip("kubectl is not installed: labctl tools install-kubectl")
    pytest.importorskip("papermill")
    root = tmp_path_factory.mktemp("notebooks")
    kernel_dir = root / "jupyter" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (lab venv)", "language": "python"}))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(root / "jupyter"))  # searched before the user and system kernel directories
    mp.delenv("KUBECONFIG", raising=False)
    mp.setenv("LAB_HEADLESS", "1")  # widgets fall back to tables: no ipywidgets Output in papermill runs
    for key, value in NOTEBOOK_ENV.items():
        mp.setenv(key, value)
    state = {"root": root, "sandbox": Sandbox(root / "sandbox"), "executed": {}}
    yield state
    state["sandbox"].down()
    mp.undo()


def test_kernelspec_is_this_venv(lab: dict) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable


@pytest.mark.integration
@pytest.mark.kubectl
@pytest.mark.parametrize(("run", "name"), [(r, n) for r in RUNS for n in NOTEBOOKS],
                         ids=[f"run{r}-{n.removesuffix('.ipynb')}" for r in RUNS for n in NOTEBOOKS])
def test_notebook_runs_headless(lab: dict, run: int, name: str) -> None:
    import papermill

    out = lab["root"] / f"run{run}" / name
    out.parent.mkdir(exist_ok=True)
    parameters = {"backend": "sandbox", "namespace": "registry-lab", "sandbox_dir": str(lab["sandbox"].dir),
                  "clock_speed": 20, "reveal": False, "workdir": str(lab["root"] / "work"),
                  **EXTRA_PARAMETERS.get(name, {})}
    try:
        papermill.execute_notebook(str(NOTEBOOK_DIR / name), str(out), parameters=parameters, kernel_name="python3",
                                   cwd=str(lab["root"]), progress_bar=False, execution_timeout=300)
    finally:
        if out.exists():
            lab["executed"][(run, name)] = out
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    texts = [t for c in nb.cells for o in c.get("outputs", []) for t in _cell_texts(o)]
    stuck = [t for t in texts if "did not become" in t]
    assert not stuck, f"{name} run {run}: a wait timed out:\n{stuck[0]}"
    self_checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Self-check")]
    assert self_checks, f"{name} has no self-check cell"
    failed = [t for c in self_checks for o in c.outputs for t in _cell_texts(o) if "❌" in t]
    assert not failed, f"{name} run {run}: a self-check failed:\n{failed[0]}"


@pytest.mark.integration
def test_no_secret_in_any_output(lab: dict) -> None:
    executed = lab["executed"]
    assert len(executed) == len(RUNS) * len(NOTEBOOKS), "the notebook runs did not all produce an output"
    secrets = demo_secrets(lab["sandbox"])
    assert "your-password" in secrets and "pass1" in secrets
    # The scan itself can fail: a planted secret is found.
    planted = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="user1:pass1 leaked")])])
    assert leaked(planted, secrets) == ["cell 0: docker.io password of user1"]
    problems = {f"{name} (run {run})": found for (run, name), path in sorted(executed.items())
                if (found := leaked(nbformat.read(path, as_version=4), secrets))}
    assert not problems
    shown = "".join(t for path in executed.values() for c in nbformat.read(path, as_version=4).cells
                    for o in c.get("outputs", []) for t in _cell_texts(o))
    assert "****" in shown  # masking happened, rather than nothing being shown


def test_committed_notebooks_are_generated_and_output_free() -> None:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(REPO / "tools"))
    assert build_notebooks.main(["--check"]) == 0, "run python tools/build_notebooks.py"
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        nbformat.validate(nb)
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code_cells), name
        tagged = [c for c in code_cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one parameters cell"
        names = {line.split("=")[0].strip() for line in tagged[0].source.splitlines()
                 if "=" in line and not line.startswith("#")}
        assert names >= BASE_PARAMETERS, f"{name}: missing parameters {BASE_PARAMETERS - names}"
        assert nb.metadata.kernelspec.name == "python3"
