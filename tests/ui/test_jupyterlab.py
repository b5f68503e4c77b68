"""Notebook 01 rendered by JupyterLab in headless Chromium: the tables a learner sees are real HTML tables.

papermill and the unit tests only check the data; this test checks what a person sees: JupyterLab renders the
``dockerconfig_table`` and ``pod_events_table`` outputs as styled HTML tables, draws the progress widget, no cell
fails, and no demo password reaches the page. The notebook runs once (module fixture); each test checks one thing. Chromium is Debian's (``apt-get install chromium``) driven by Playwright's Python package through
``executable_path``: no browser download. Set ``LAB_SCREENSHOT_DIR=docs`` to refresh the committed screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.registries.catalog import HOSTS

pytestmark = [pytest.mark.integration, pytest.mark.ui, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "01-imagepullsecrets.ipynb"
SCREENSHOT = "jupyterlab-01-imagepullsecrets.png"
CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium dials Google's services and, on a closed network, stalls.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCROLLER = ".jp-NotebookPanel .jp-WindowedPanel-outer"  # the notebook's scrolling box inside the app shell
RUN_TIMEOUT_MS = 300_000  # the whole notebook (about 10 s on an idle 2-core machine; pulls run in real time)

# JupyterLab user settings for the run: no news/update checks (no network here) and every cell in the DOM
# (the default windowing modes may skip rendering off-screen cells, hiding them from the DOM and the screenshot).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# Every output table as {caption, headers, rows}: read in the page so the test sees what the browser rendered.
TABLES_JS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output table')).map(t => ({
    caption: (t.querySelector('caption') || {}).innerText || '',
    headers: Array.from(t.querySelectorAll('thead th')).map(th => th.innerText.trim()),
    rows: Array.from(t.querySelectorAll('tbody tr')).map(tr =>
        Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim())),
}))"""

# Done when no cell is queued or running, the kernel is idle, and every code cell ran (or one failed, which
# stops Run All: the assertions below then report the error instead of waiting for the timeout). A cell whose
# source is hidden (the setup cell) has no input prompt, so cells are counted apart from prompts.
DONE_JS = """(total) => {
    const cells = document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell');
    const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt'))
        .map(p => p.innerText.trim());
    if (cells.length !== total || prompts.length === 0 || prompts.some(p => p.includes('*'))) return false;
    const idle = document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]');
    const ran = prompts.every(p => /\\[\\d+\\]/.test(p));
    const failed = document.querySelector('.jp-OutputArea-output[data-mime-type*="error"]') !== null
        || document.body.innerText.includes('Traceback (most recent call last)');
    return idle !== null && (ran || failed);
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def demo_secrets() -> set[str]:
    """Strings that must never be rendered: the sandbox's demo passwords and their ``auth`` encodings.

    The bare word ``password`` (Exercise 3's placeholder) is a column header, so it is checked per cell instead.
    """
    found = {"x" * 80}  # the drill's long throwaway password
    for host in HOSTS:
        for account in host.accounts:
            if "\n" not in account.password and account.password != "password":
                found.add(account.password)
            found.add(_b64(f"{account.username}:{account.password}"))
    return found


def prepare_notebooks(src: Path, dest: Path, sandbox_dir: Path) -> int:
    """Copy the notebooks with ``sandbox_dir`` set in each parameters cell; return the code cells of NOTEBOOK."""
    dest.mkdir(parents=True)
    code_cells = 0
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cell.source, n = re.subn(r"(?m)^sandbox_dir = None", f"sandbox_dir = {str(sandbox_dir)!r}",
                                         cell.source)
                assert n == 1, f"{path.name}: no 'sandbox_dir = None' line in the parameters cell"
        nbformat.write(nb, dest / path.name)
        if path.name == NOTEBOOK:
            code_cells = sum(c.cell_type == "code" for c in nb.cells)
    assert code_cells, f"{NOTEBOOK} not found in {src}"
    return code_cells


def write_lab_settings(settings_dir: Path) -> None:
    for rel, values in LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def jupyter_lab(root: Path, state: Path, sandbox_dir: Path, log: Path) -> Iterator[str]:
    """Run the venv's ``jupyter lab`` on a free loopback port; yield its base URL (token in the query)."""
    port, token = _free_port(), secrets.token_hex(16)
    home = state / "home"
    home.mkdir(parents=True)
    write_lab_settings(state / "lab-settings")
    bindir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "KUBECONFIG"))}
    env.update(HOME=str(home), PATH=os.pathsep.join([str(bindir), env.get("PATH", "")]),
               KUBECONFIG=str(sandbox_dir / "kubeconfig"), LABHELPERS_SANDBOX_DIR=str(sandbox_dir),
               JUPYTER_CONFIG_DIR=str(state / "config"), JUPYTER_RUNTIME_DIR=str(state / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(state / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"), PYTHONUNBUFFERED="1")
    cmd = [str(bindir / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--allow-root", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"jupyter lab exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"jupyter lab did not answer in 90 s: {log.read_text()[-2000:]}") from None
                time.sleep(0.5)
        yield f"{base}/lab/tree/{NOTEBOOK}?reset&token={token}"
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL whatever of its session is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def run_all_cells(page: Any, code_cells: int) -> None:
    """Open the notebook, wait for the kernel, Run > Run All Cells, and wait until every cell has run."""
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function("() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))"
                           ".some(p => p.innerText.includes('*') || /\\[\\d+\\]/.test(p.innerText))",
                           timeout=60_000)
    page.wait_for_function(DONE_JS, arg=code_cells, timeout=RUN_TIMEOUT_MS, polling=1000)


def save_notebook(page: Any) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-current.jp-mod-dirty')", timeout=60_000)


def find_table(tables: list[dict[str, Any]], *headers: str) -> list[dict[str, Any]]:
    return [t for t in tables if all(h in t["headers"] for h in headers)]


def screenshot(page: Any, path: Path) -> None:
    """The whole notebook in one picture: grow the viewport to the notebook's height, then shoot the page.

    A 12,000-pixel page takes minutes to paint with software rendering on a loaded 2-core machine, so a plain
    test run keeps the viewport; the full picture is taken when it is asked for (LAB_SCREENSHOT_DIR).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("LAB_SCREENSHOT_DIR"):
        page.screenshot(path=str(path), timeout=120_000)
        return
    open_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if open_tab.count():
        open_tab.first.click()  # collapse the left panel: the notebook gets the full width
    height = page.evaluate(f"() => document.querySelector('{SCROLLER}').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 160, 30_000)})
    page.evaluate(f"() => document.querySelector('{SCROLLER}').scrollTo(0, 0)")
    page.wait_for_timeout(1500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


@dataclass
class Rendered:
    """What the browser showed after Run All: read once, checked by the tests below."""

    tables: list[dict[str, Any]]
    cell_outputs: list[str]  # each code cell's rendered output text, in notebook order
    errors: list[str]  # outputs JupyterLab rendered as errors
    math: int  # LaTeX typeset inside outputs (MathJax turns `$...$` in HTML outputs into formulas)
    widgets: int  # rendered ipywidgets views
    broken_widgets: int  # "Error displaying widget" placeholders
    saved: Path  # the notebook as JupyterLab saved it
    screenshot: Path

    @property
    def text(self) -> str:
        return "\n".join(self.cell_outputs)

    def output_of(self, needle: str) -> str:
        found = [o for o in self.cell_outputs if needle in o]
        assert found, f"no cell output contains {needle!r} (screenshot: {self.screenshot})"
        return found[0]


PAGE_JS = """() => ({
    cellOutputs: Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')).map(c =>
        (c.querySelector('.jp-OutputArea') || {}).innerText || ''),
    errors: Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type*="error"]'))
        .map(e => e.innerText),
    math: document.querySelectorAll('.jp-OutputArea-output mjx-container, .jp-OutputArea-output .MathJax').length,
    widgets: document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
    brokenWidgets: Array.from(document.querySelectorAll('.jp-OutputArea-output'))
        .filter(o => o.innerText.includes('Error displaying widget')).length,
})"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Run notebook 01 in JupyterLab on a fresh sandbox, screenshot it, and read the rendered page."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install playwright")

    tmp = tmp_path_factory.mktemp("jupyterlab")
    sandbox_dir, root, shot = tmp / "sandbox", tmp / "notebooks", tmp / SCREENSHOT
    code_cells = prepare_notebooks(REPO / "notebooks", root, sandbox_dir)
    sandbox = Sandbox(sandbox_dir)
    try:
        sandbox.up(timeout=120)
        with jupyter_lab(root, tmp / "jupyter", sandbox_dir, tmp / "jupyter.log") as url, \
                sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
                args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
            try:
                page = browser.new_page()
                page.set_default_timeout(60_000)
                page.goto(url, wait_until="domcontentloaded", timeout=120_000)
                try:
                    run_all_cells(page, code_cells)
                finally:
                    screenshot(page, shot)
                save_notebook(page)
                tables, facts = page.evaluate(TABLES_JS), page.evaluate(PAGE_JS)
            finally:
                browser.close()
    finally:
        sandbox.down()
    if target := os.environ.get("LAB_SCREENSHOT_DIR"):
        dest = Path(target) if Path(target).is_absolute() else REPO / target
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / SCREENSHOT)
    return Rendered(tables, facts["cellOutputs"], facts["errors"], facts["math"], facts["widgets"],
                    facts["brokenWidgets"], root / NOTEBOOK, shot)


def test_every_cell_runs_without_error(rendered: Rendered) -> None:
    assert len(rendered.cell_outputs) == sum(c.cell_type == "code" for c in
                                             nbformat.read(rendered.saved, as_version=4).cells)
    assert not rendered.errors, f"error outputs rendered (screenshot: {rendered.screenshot}): {rendered.errors}"
    assert "Traceback (most recent call last)" not in rendered.text
    failed = [o for c in nbformat.read(rendered.saved, as_version=4).cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not failed, f"the saved notebook holds errors: {[(o['ename'], o['evalue']) for o in failed]}"
    assert "3 passed, 0 failed" in rendered.output_of("Self-check: Part 1")


def test_dockerconfigjson_tables_render_masked(rendered: Rendered) -> None:
    """Exercise 1's table: one Docker Hub row, the user shown, the password masked, nginx matched."""
    config_tables = find_table(rendered.tables, "registry", "username", "password", "matches")
    assert len(config_tables) >= 4, f"expected the dockerconfig tables of Exercises 1-3, got {config_tables}"
    hub = next((t for t in config_tables if t["caption"] == "secret dockerhub-secret"), None)
    assert hub is not None, f"no table captioned 'secret dockerhub-secret': {[t['caption'] for t in config_tables]}"
    assert len(hub["rows"]) == 1, hub
    row = dict(zip(hub["headers"], hub["rows"][0], strict=True))
    assert row["registry"] == "https://index.docker.io/v1/", row
    assert row["username"] == "your-username", row
    assert row["password"] == "****", row
    assert "nginx" in row["matches"] and "myregistry.com/app3" not in row["matches"], row
    for table in config_tables:
        col = table["headers"].index("password")
        assert all(r[col] in ("", "****") for r in table["rows"]), f"an unmasked password: {table}"


def test_pod_events_table_renders(rendered: Rendered) -> None:
    """The credential-store drill's pod events: the pull goes out without credentials and gets 401."""
    events = find_table(rendered.tables, "TYPE", "REASON", "AGE", "FROM", "MESSAGE")
    assert [t["caption"] for t in events] == ["events of pod/credstore-pod"], events
    rows = [dict(zip(events[0]["headers"], r, strict=True)) for r in events[0]["rows"]]
    assert rows[0]["REASON"] == "Scheduled", rows
    failed = [r["MESSAGE"] for r in rows if r["REASON"] == "Failed"]
    assert any("401 Unauthorized" in m for m in failed), rows
    assert any(m == "Error: ErrImagePull" for m in failed), rows


def test_progress_widget_renders(rendered: Rendered) -> None:
    """wait_for_pod's ipywidgets progress bar is drawn by the widget manager, not left as a placeholder."""
    assert rendered.widgets >= 1, "no ipywidgets view rendered"
    assert rendered.broken_widgets == 0
    assert "pod/credstore-pod is pull_failing (ErrImagePull)" in rendered.text


def test_no_demo_password_in_outputs(rendered: Rendered) -> None:
    leaked = sorted(s for s in demo_secrets() if s in rendered.text)
    assert not leaked, f"demo credentials rendered in the outputs: {leaked} (screenshot: {rendered.screenshot})"


def test_shell_commands_render_verbatim(rendered: Rendered) -> None:
    """sh()'s echoed script reads as bash would: one command per line, `$(...)` left as text."""
    shown = rendered.output_of("registry-secret.yaml")
    problems = [] if re.search(r"(?m)^kubectl apply -f registry-secret\.yaml$", shown) else [
        f"the heredoc script is not shown line by line: {shown!r}"]
    if rendered.math:
        problems.append(f"{rendered.math} formulas typeset in outputs")
    assert not problems, problems
