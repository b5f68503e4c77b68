"""The same notebooks through the ``kubeconfig`` backend: the code path learners use on a real cluster.

``LAB_REAL_KUBECONFIG`` names a real cluster's kubeconfig (kind, minikube, a cloud cluster); the test then runs
the setup notebook against it and skips cleanly when that cluster does not answer. Without it, the sandbox is
reached through a plain kubeconfig (``backend="kubeconfig"``), which exercises exactly the same code path.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from kubernetes import client, config

from .test_notebooks import NOTEBOOK_DIR, lab  # noqa: F401  (fixture: fresh sandbox + venv kernelspec)

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]


def _reachable(kubeconfig: str) -> str | None:
    """The cluster's version, or None when it does not answer within a few seconds."""
    try:
        api = config.new_client_from_config(config_file=kubeconfig)
        api.configuration.retries = 0
        return client.VersionApi(api).get_code(_request_timeout=5).git_version
    except Exception:
        return None


def _run(notebook: str, out: Path, kubeconfig: str, root: Path) -> nbformat.NotebookNode:
    import papermill

    env = {"KUBECONFIG": kubeconfig}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(NOTEBOOK_DIR / notebook), str(out), kernel_name="python3",
                                   parameters={"backend": "kubeconfig", "namespace": "registry-lab-kc",
                                               "workdir": str(root / "work-kc")},
                                   cwd=str(root), progress_bar=False, execution_timeout=300)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nbformat.read(out, as_version=4)


def test_setup_notebook_on_a_real_cluster(lab, tmp_path):  # noqa: F811
    kubeconfig = os.environ.get("LAB_REAL_KUBECONFIG")
    if not kubeconfig:
        pytest.skip("no real cluster configured: set LAB_REAL_KUBECONFIG to a kubeconfig (kind, minikube, cloud)")
    version = _reachable(kubeconfig)
    if version is None:
        pytest.skip(f"the cluster of {kubeconfig} does not answer")
    nb = _run("00-setup.ipynb", tmp_path / "00-real.ipynb", kubeconfig, lab["root"])
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("notebook", ["00-setup.ipynb", "01-imagepullsecrets.ipynb"])
def test_kubeconfig_backend_code_path(lab, tmp_path, notebook):  # noqa: F811
    sandbox = lab["sandbox"]
    sandbox.up()
    assert _reachable(str(sandbox.kubeconfig)), "the sandbox should answer through its kubeconfig"
    nb = _run(notebook, tmp_path / notebook, str(sandbox.kubeconfig), lab["root"])
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert "❌" not in text
