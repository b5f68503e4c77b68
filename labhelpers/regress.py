"""``labctl regress``: run every lab notebook end to end, each against its own fresh cluster, and grade the run.

Each notebook runs in a worker subprocess (papermill with the venv's own kernel) so that a hung or crashed kernel
can be killed without taking the run down, and so the sandbox a notebook used can always be stopped by the
parent. A notebook passes when it runs to the end and its self-check cells (``# Self-check ...``) print no ❌ line
(the checks of :mod:`labhelpers.checks`). ``--student`` runs the nbgrader release instead: unfinished exercises raise
``NotImplementedError`` and their checks fail, which is expected; only a crash, a timeout or an error outside
the exercises counts against it.

    labctl regress --parallel 2 --notebooks 'notebooks/0*.ipynb'
    python -m labhelpers.regress --student
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._display import FAIL, OK

KERNEL_NAME = "labhelpers"
DEFAULT_NOTEBOOKS = "notebooks/*.ipynb"
DEFAULT_STUDENT_DIR = "grading/release"
# Regression runs use a fast sandbox clock (back-offs, token expiry), as the notebooks' parameters cell suggests.
DEFAULT_CLOCK_SPEED = 20.0

PASSED, RAN, FAILED, ERROR, CRASHED, TIMEOUT = "passed", "ran", "failed", "error", "crashed", "timeout"
# "ran": a student notebook that ran to the end with its exercises (expectedly) unfinished.
OK_STATUSES = {False: {PASSED}, True: {PASSED, RAN}}

# What a warm kernel imports while the cluster boots: the lab notebooks' setup cell needs these (about 1.5 s).
DEFAULT_PRELOAD = ("pandas", "kubernetes.client", "labhelpers", "labhelpers.checks", "labhelpers.pods",
                   "labhelpers.secrets", "labhelpers.shell")

# Errors a student notebook raises by design: the nbgrader stub, and what follows from it.
STUDENT_STUB_ERRORS = {"NotImplementedError"}
STUDENT_CASCADE_ERRORS = {"NameError"}


@dataclass
class RegressConfig:
    """What to run and how; ``notebooks`` are paths, already resolved."""

    notebooks: list[Path]
    output: Path
    backend: str = "sandbox"
    parallel: int = 2
    cell_timeout: float = 300.0
    timeout: float = 3600.0
    start_timeout: float = 60.0
    student: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    clock_speed: float | None = DEFAULT_CLOCK_SPEED
    kernel_name: str = KERNEL_NAME
    preload: tuple[str, ...] = DEFAULT_PRELOAD  # modules the kernel imports before the cluster is up


@dataclass
class NotebookResult:
    notebook: str
    status: str
    passed: int = 0
    failed: int = 0
    seconds: float = 0.0
    detail: str = ""
    output: str = ""

    def ok(self, student: bool = False) -> bool:
        return self.status in OK_STATUSES[student]


# --- reading an executed notebook -----------------------------------------------------------------------------


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


SELF_CHECK_PREFIX = "# Self-check"


def _verdict_cells(nb: Any) -> list[Any]:
    """The cells whose ✅/❌ lines are the notebook's verdict: its self-checks (cells starting ``# Self-check``).

    Other cells may print ❌ on purpose (a drill showing a check fail on an empty namespace). A notebook without
    self-check cells is judged on every cell.
    """
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    checks = [c for c in code_cells if _text(c.get("source", "")).lstrip().startswith(SELF_CHECK_PREFIX)]
    return checks or code_cells


def count_checks(nb: Any) -> tuple[int, int]:
    """(✅ lines, ❌ lines) in the stdout of the notebook's self-check cells: they print one line per check."""
    ok = failed = 0
    for cell in _verdict_cells(nb):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream" or out.get("name") != "stdout":
                continue
            for line in _text(out.get("text", "")).splitlines():
                line = line.lstrip()
                ok += line.startswith(OK)
                failed += line.startswith(FAIL)
    return ok, failed


def _first_fail_line(nb: Any) -> str:
    for cell in _verdict_cells(nb):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                for line in _text(out.get("text", "")).splitlines():
                    if line.lstrip().startswith(FAIL):
                        return line.strip()
    return ""


@dataclass
class CellError:
    index: int
    execution_count: int | None
    ename: str
    evalue: str
    tags: list[str]
    graded: bool  # an nbgrader solution or autograder-test cell
    locked: bool = False  # an nbgrader read-only cell: it runs what the exercises should have created

    def describe(self) -> str:
        where = f"cell [{self.execution_count}]" if self.execution_count else f"cell #{self.index}"
        return _short(f"{where}: {self.ename}: {self.evalue}")


def cell_errors(nb: Any) -> list[CellError]:
    """Every error output, in order; ``SystemExit(0)`` is not an error (papermill's rule)."""
    errors = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {})
        grader = meta.get("nbgrader", {}) or {}
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0"):
                continue
            errors.append(CellError(i, cell.get("execution_count"), out.get("ename", ""), out.get("evalue", ""),
                                    list(meta.get("tags", [])),
                                    bool(grader.get("solution") or grader.get("grade")),
                                    bool(grader.get("locked"))))
    return errors


def unexpected_errors(errors: list[CellError], student: bool) -> list[CellError]:
    """The errors that mean the notebook is broken.

    A cell tagged ``raises-exception`` is allowed to raise (nbclient goes on after it). In the student release,
    a stub's ``NotImplementedError``, any error in an exercise or autograder cell, and a ``NameError`` after
    such an error (a later cell using what the exercise should have defined) are expected, and so are errors
    in later read-only cells, which use what the unsolved exercises should have created in the cluster.
    """
    bad = []
    stubbed = False
    for e in errors:
        if "raises-exception" in e.tags:
            continue
        if student and (e.ename in STUDENT_STUB_ERRORS or e.graded):
            stubbed = True
            continue
        if student and stubbed and (e.ename in STUDENT_CASCADE_ERRORS or e.locked):
            continue
        bad.append(e)
    return bad


def classify(nb: Any | None, failure: dict | None, student: bool) -> tuple[str, str, int, int]:
    """(status, detail, ✅ count, ❌ count) from the executed notebook and the worker's failure report.

    ``failure`` is ``None`` when papermill finished, else ``{"kind": ..., "message": ...}`` with kind one of
    ``cell-error`` (a cell raised), ``timeout`` (a cell or the whole run took too long), ``dead-kernel`` or
    ``harness`` (anything else: the kernel never started, the worker died...).
    """
    passed, failed = count_checks(nb) if nb is not None else (0, 0)
    kind = (failure or {}).get("kind")
    message = _short((failure or {}).get("message", ""))
    if kind == "timeout":
        return TIMEOUT, message, passed, failed
    if kind in ("dead-kernel", "harness") or (kind and nb is None):
        return CRASHED, message or "the notebook did not run", passed, failed
    if nb is None:
        return CRASHED, "no executed notebook was written", passed, failed
    errors = cell_errors(nb)
    bad = unexpected_errors(errors, student)
    if bad:
        return ERROR, bad[0].describe(), passed, failed
    if kind == "cell-error" and not errors:
        return ERROR, message or "a cell failed without an error output", passed, failed
    if failed:
        detail = f"{failed} failed: {_first_fail_line(nb)}"
        if student:
            expected = len(errors)
            return RAN, _short(detail + (f"; {expected} unfinished exercise errors" if expected else "")), \
                passed, failed
        return FAILED, _short(detail), passed, failed
    if student and errors:
        return RAN, _short(f"{len(errors)} unfinished exercise errors (first: {errors[0].describe()})"), \
            passed, failed
    return PASSED, "", passed, failed


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notebook_parameters(path: Path) -> dict[str, Any]:
    """Parameters a notebook asks for when it runs on its own: ``metadata.labhelpers.regress.parameters``.

    ``08-verification`` checks what 01-07 built, so on a fresh cluster it asks for ``prepare=True``.
    ``-p NAME VALUE`` on the command line still wins.
    """
    try:
        meta = json.loads(path.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return {}
    found = ((meta.get("labhelpers") or {}).get("regress") or {}).get("parameters") or {}
    return dict(found) if isinstance(found, dict) else {}


def expected_seconds(output: Path) -> dict[str, float]:
    """Each notebook's duration in the last run written to ``output`` (its summary.csv), if any."""
    try:
        with (output / "summary.csv").open(newline="") as f:
            return {row["notebook"]: float(row["seconds"]) for row in csv.DictReader(f)}
    except (OSError, ValueError, KeyError):
        return {}


def schedule(notebooks: list[Path], names: dict[Path, str], previous: dict[str, float]) -> list[Path]:
    """Longest first, so N workers finish closer together: by the last run's seconds; notebooks it did not run go
    first, biggest file first (more cells, more to run)."""
    def size(nb: Path) -> int:
        with contextlib.suppress(OSError):
            return nb.stat().st_size
        return 0

    return sorted(notebooks, key=lambda nb: (-previous.get(names[nb], float("inf")), -size(nb)))


# --- kernel ---------------------------------------------------------------------------------------------------


def ensure_kernelspec(name: str = KERNEL_NAME) -> str:
    """Make sure kernelspec ``name`` runs this very Python (the venv's), installing it into sys.prefix if not.

    The notebooks' own metadata may name ``python3``, which can resolve to another interpreter without
    labhelpers; a kernel of our own avoids that. Returns the kernelspec's directory.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(name)
        if spec.argv and spec.argv[0] == sys.executable:
            return spec.resource_dir
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    path = install(kernel_name=name, display_name="Python (labhelpers)", prefix=sys.prefix)
    spec = KernelSpecManager().get_kernel_spec(name)
    if not spec.argv or spec.argv[0] != sys.executable:
        raise RuntimeError(f"kernelspec {name!r} resolves to {spec.resource_dir} (runs {spec.argv[:1]}), which "
                           f"shadows the one just installed in {path}; remove it or pass --kernel")
    return path


# --- finding notebooks ----------------------------------------------------------------------------------------


def find_notebooks(patterns: Iterable[str]) -> list[Path]:
    """Notebooks matching the globs (``**`` allowed), sorted, without checkpoints or duplicates."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = glob.glob(pattern, recursive=True) or ([pattern] if Path(pattern).is_file() else [])
        for m in sorted(matches):
            p = Path(m)
            if p.suffix == ".ipynb" and p.is_file() and ".ipynb_checkpoints" not in p.parts:
                found[p.resolve()] = None
    return sorted(found, key=lambda p: (p.name, str(p)))


def _output_names(notebooks: list[Path]) -> dict[Path, str]:
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for nb in notebooks:
        name = nb.stem if nb.stem not in taken else f"{nb.parent.name}-{nb.stem}"
        taken.add(name)
        names[nb] = name
    return names


def _namespace_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40].strip("-") or "nb"
    return f"regress-{slug}-{secrets.token_hex(3)}"


# --- running --------------------------------------------------------------------------------------------------


class _Active:
    """Workers and sandboxes in flight, so an interrupted run can still clean up after itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.sandboxes: set[Path] = set()

    def add(self, kind: str, item: Any) -> None:
        with self._lock:
            getattr(self, kind).add(item)

    def discard(self, kind: str, item: Any) -> None:
        with self._lock:
            getattr(self, kind).discard(item)

    def kill_all(self) -> None:
        with self._lock:
            procs, sandboxes = list(self.procs), list(self.sandboxes)
        for p in procs:
            _kill(p)
        for d in sandboxes:
            _stop_sandbox(d)


def _kill(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the worker's process group, then SIGKILL; the kernel (its own session) exits with its parent."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _stop_sandbox(d: Path) -> None:
    from .sandbox import Sandbox

    with contextlib.suppress(Exception):
        Sandbox(d).down()


def _delete_namespace(namespace: str) -> None:
    with contextlib.suppress(Exception):
        from kubernetes import client, config

        api = config.new_client_from_config()
        with api:
            client.CoreV1Api(api).delete_namespace(namespace)


def _copy_workdir(src: Path, dest: Path) -> None:
    """The notebook's folder without notebooks: a private working directory, so parallel runs cannot collide."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__",
                                                             ".git"), symlinks=True)


def _worker_env(sandbox_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env["LAB_HEADLESS"] = "1"  # widgets fall back to their tables in headless runs
    if sandbox_dir is not None:
        env["KUBECONFIG"] = str(sandbox_dir / "kubeconfig")
        env["LABHELPERS_SANDBOX_DIR"] = str(sandbox_dir)
    return env


def _tail(path: Path, n: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return ""


def run_one(nb_path: Path, name: str, cfg: RegressConfig, deadline: float, active: _Active) -> NotebookResult:
    """Run one notebook on a fresh sandbox (or namespace) in a worker process and classify the outcome.

    The worker starts first: it imports papermill and starts a warm kernel (``cfg.preload``) while the sandbox
    boots, and executes the notebook only once told the sandbox is up (the ``go`` file), so the start-up costs
    overlap.
    """
    import nbformat

    t0 = time.monotonic()
    out_nb = cfg.output / f"{name}.ipynb"
    with contextlib.suppress(FileNotFoundError):
        out_nb.unlink()  # never grade a stale copy from an earlier run
    if time.monotonic() >= deadline:
        return NotebookResult(name, TIMEOUT, detail=f"not started: the overall timeout ({cfg.timeout:.0f}s) "
                                                    "was reached", output=str(out_nb))
    tmp = Path(tempfile.mkdtemp(prefix=f"regress-{name[:30]}-"))
    sandbox_dir = tmp / "sandbox" if cfg.backend == "sandbox" else None
    namespace = None if sandbox_dir else _namespace_for(name)
    params: dict[str, Any] = {"backend": cfg.backend}
    params.update({"sandbox_dir": str(sandbox_dir)} if sandbox_dir else {"namespace": namespace})
    if cfg.clock_speed is not None:
        params["clock_speed"] = cfg.clock_speed
    params.update(notebook_parameters(nb_path))
    params.update(cfg.parameters)
    failure: dict | None = None
    proc = None
    try:
        proc = _start_worker(nb_path, out_nb, params, cfg, tmp, sandbox_dir)
        active.add("procs", proc)
        if sandbox_dir is not None:
            from .sandbox import Sandbox, SandboxError

            active.add("sandboxes", sandbox_dir)
            try:
                Sandbox(sandbox_dir).up(clock_speed=cfg.clock_speed or 1.0)
            except SandboxError as e:
                failure = {"kind": "harness", "message": f"sandbox did not start: {e}"}
        _signal_worker(tmp, "abort" if failure else "go")
        if failure is None:
            failure = _wait_worker(proc, tmp, cfg, deadline)
    finally:
        if proc is not None:
            if proc.poll() is None:
                _kill(proc)
            active.discard("procs", proc)
        if sandbox_dir is not None:
            _stop_sandbox(sandbox_dir)
            active.discard("sandboxes", sandbox_dir)
        if namespace:
            _delete_namespace(namespace)
    nb = None
    if out_nb.exists():
        with contextlib.suppress(Exception):
            nb = nbformat.read(out_nb, as_version=4)
    status, detail, passed, failed = classify(nb, failure, cfg.student)
    if status not in OK_STATUSES[cfg.student]:
        _keep_logs(tmp, sandbox_dir, cfg.output, name)
    shutil.rmtree(tmp, ignore_errors=True)
    return NotebookResult(name, status, passed, failed, round(time.monotonic() - t0, 1), detail,
                          str(out_nb) if out_nb.exists() else "")


def _keep_logs(tmp: Path, sandbox_dir: Path | None, output: Path, name: str) -> None:
    """Keep the worker's and the sandbox's logs of a failed notebook beside its executed copy."""
    logs = [(tmp / "worker.log", output / f"{name}.worker.log")]
    if sandbox_dir is not None:
        logs.append((sandbox_dir / "sandbox.log", output / f"{name}.sandbox.log"))
    for src, dest in logs:
        with contextlib.suppress(OSError):
            if src.exists() and src.stat().st_size:
                shutil.copyfile(src, dest)


def _start_worker(nb_path: Path, out_nb: Path, params: dict, cfg: RegressConfig, tmp: Path,
                  sandbox_dir: Path | None) -> subprocess.Popen:
    work = tmp / "work"
    _copy_workdir(nb_path.parent, work)
    spec = {"input": str(nb_path), "output": str(out_nb), "parameters": params, "kernel_name": cfg.kernel_name,
            "cell_timeout": cfg.cell_timeout, "start_timeout": cfg.start_timeout, "cwd": str(work),
            "allow_errors": cfg.student, "result": str(tmp / "result.json"), "go": str(tmp / "go"),
            "preload": list(cfg.preload)}
    (tmp / "spec.json").write_text(json.dumps(spec))
    with open(tmp / "worker.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "labhelpers.regress", "_worker", str(tmp / "spec.json")],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=_worker_env(sandbox_dir), start_new_session=True, cwd=work)


def _signal_worker(tmp: Path, word: str) -> None:
    (tmp / "go.tmp").write_text(word)
    os.replace(tmp / "go.tmp", tmp / "go")  # atomic: the worker never reads a half-written word


def _wait_worker(proc: subprocess.Popen, tmp: Path, cfg: RegressConfig, deadline: float) -> dict | None:
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(proc)
        return {"kind": "timeout", "message": f"the overall timeout ({cfg.timeout:.0f}s) was reached"}
    try:
        return json.loads((tmp / "result.json").read_text())["failure"]
    except (OSError, ValueError, KeyError):
        return {"kind": "harness", "message": f"the worker exited with code {proc.returncode}: "
                                              f"{_tail(tmp / 'worker.log')}"}


def _wait_for_go(path: Path, timeout: float = 180.0) -> bool:
    """In the worker: wait until the parent says the cluster is ready (True) or gives up (False)."""
    parent = os.getppid()
    end = time.monotonic() + timeout
    while time.monotonic() < end and os.getppid() == parent:
        with contextlib.suppress(FileNotFoundError):
            return path.read_text() == "go"
        time.sleep(0.02)
    return False


def _worker(spec_path: str) -> int:
    """Run in the worker process: execute one notebook with papermill and record how it ended."""
    import logging

    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("preload"):
        os.environ["IPYTHONDIR"] = str(_preload_profile(Path(spec["go"]).parent / "ipython", spec["preload"]))
    failure = None
    try:
        pm.execute_notebook(spec["input"], spec["output"], parameters=spec["parameters"],
                            kernel_name=spec["kernel_name"], progress_bar=False, cwd=spec["cwd"],
                            execution_timeout=spec["cell_timeout"], start_timeout=spec["start_timeout"],
                            allow_errors=spec["allow_errors"], on_cell_start=_GoGate(Path(spec["go"])))
    except _Aborted:
        Path(spec["result"]).write_text(json.dumps({"failure": {"kind": "harness", "message": "aborted"}}))
        return 1
    except pm.PapermillExecutionError as e:
        failure = {"kind": "cell-error", "message": f"{e.ename}: {e.evalue}"}
    except CellTimeoutError as e:
        failure = {"kind": "timeout", "message": f"a cell ran longer than {spec['cell_timeout']:.0f}s: "
                                                 f"{str(e).splitlines()[0] if str(e) else ''}"}
    except DeadKernelError as e:
        failure = {"kind": "dead-kernel", "message": f"the kernel died: {e}"}
    except Exception as e:
        failure = {"kind": "harness", "message": f"{type(e).__name__}: {e}"}
    Path(spec["result"]).write_text(json.dumps({"failure": failure}))
    return 0


class _Aborted(Exception):
    """The parent could not bring the cluster up: the notebook must not run."""


class _GoGate:
    """nbclient's ``on_cell_start`` hook: before the first cell, wait for the parent's word.

    papermill starts the kernel (and its preload) at once; the cells wait here until the cluster is up, so
    kernel start and cluster boot overlap instead of adding up.
    """

    def __init__(self, go: Path) -> None:
        self.go, self.open = go, False

    def __call__(self, **_: Any) -> None:
        if not self.open:
            if not _wait_for_go(self.go):
                raise _Aborted()
            self.open = True


def _preload_profile(ipython_dir: Path, modules: list[str]) -> Path:
    """An IPython directory whose startup file imports ``modules``: the kernel does it before it says it is
    ready, while the cluster boots. Startup files run outside the history (the first cell is still ``[1]``);
    a module that fails to import is left for the notebook to meet."""
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-labctl-regress-preload.py").write_text(
        "# labctl regress: import the lab's libraries while the cluster boots.\n"
        f"for _module in {modules!r}:\n"
        "    try:\n        __import__(_module)\n    except Exception:\n        pass\n"
        "del _module\n")
    return ipython_dir


def run(cfg: RegressConfig, progress: Callable[[NotebookResult, int, int], None] | None = None
        ) -> list[NotebookResult]:
    """Run every notebook of ``cfg`` (``cfg.parallel`` at a time) and return the results in notebook order."""
    cfg.output.mkdir(parents=True, exist_ok=True)
    ensure_kernelspec(cfg.kernel_name)
    names = _output_names(cfg.notebooks)
    order = schedule(cfg.notebooks, names, expected_seconds(cfg.output))
    deadline = time.monotonic() + cfg.timeout
    active = _Active()
    results: dict[Path, NotebookResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, cfg.parallel), thread_name_prefix="regress")
    try:
        futures = {pool.submit(run_one, nb, names[nb], cfg, deadline, active): nb for nb in order}
        for fut in as_completed(futures):
            nb = futures[fut]
            try:
                results[nb] = fut.result()
            except Exception as e:  # a bug in the harness: report it against the notebook, keep going
                results[nb] = NotebookResult(names[nb], CRASHED, detail=_short(f"{type(e).__name__}: {e}"))
            if progress:
                progress(results[nb], len(results), len(cfg.notebooks))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        active.kill_all()
        raise
    pool.shutdown(wait=True)
    return [results[nb] for nb in cfg.notebooks]


# --- reporting ------------------------------------------------------------------------------------------------

COLUMNS = ["notebook", "status", "passed", "failed", "seconds", "detail", "output"]


def summary_markdown(results: list[NotebookResult], student: bool = False, wall: float | None = None) -> str:
    lines = [f"| notebook | status | checks {OK} | checks {FAIL} | seconds | detail |",
             "|---|---|---:|---:|---:|---|"]
    for r in results:
        detail = r.detail.replace("|", "\\|")
        lines.append(f"| {r.notebook} | {r.status} | {r.passed} | {r.failed} | {r.seconds:.1f} | {detail} |")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    ok = sum(r.ok(student) for r in results)
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    mode = "student release" if student else "instructor version"
    lines += ["", f"{ok}/{len(results)} notebooks ok ({mode}): {tally}"
              + (f"; wall time {wall:.1f}s" if wall is not None else "")]
    return "\n".join(lines) + "\n"


def write_summary(results: list[NotebookResult], output: Path, student: bool = False,
                  wall: float | None = None) -> str:
    """Write summary.csv and summary.md into ``output``; return the markdown."""
    output.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in results:
        w.writerow(asdict(r))
    (output / "summary.csv").write_text(buf.getvalue())
    md = summary_markdown(results, student, wall)
    (output / "summary.md").write_text(md)
    return md


# --- command line ---------------------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def add_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``regress`` to ``labctl``'s subcommands."""
    p = subparsers.add_parser("regress", help="run every notebook against a fresh sandbox and check it",
                              description="Run the lab notebooks end to end with papermill, each against its own "
                                          "fresh sandbox (or namespace), and summarise their self-checks.")
    p.add_argument("--backend", choices=["sandbox", "kubeconfig"], default="sandbox",
                   help="sandbox: a fresh sandbox per notebook; kubeconfig: the KUBECONFIG cluster, a fresh "
                        "namespace per notebook")
    p.add_argument("--parallel", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="notebooks run at once (default: %(default)s)")
    p.add_argument("--notebooks", nargs="+", metavar="GLOB",
                   help=f"notebooks to run (default: {DEFAULT_NOTEBOOKS}, or the student release's)")
    p.add_argument("--output", type=Path, default=None,
                   help="where executed notebooks and summary.csv/summary.md go (default: build/regress, "
                        "build/regress-student with --student)")
    p.add_argument("--student", action="store_true",
                   help="run the student release: unfinished exercises are expected, crashes are not")
    p.add_argument("--student-dir", type=Path, default=Path(DEFAULT_STUDENT_DIR),
                   help="the nbgrader release folder (default: %(default)s)")
    p.add_argument("--cell-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="longest one cell may run (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                   help="longest the whole run may take (default: %(default)s)")
    p.add_argument("--clock-speed", type=float, default=DEFAULT_CLOCK_SPEED,
                   help="sandbox clock rate: each sandbox starts at it and the notebooks get it as clock_speed "
                        "(default: %(default)s; 1 is real time)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="extra notebook parameter (VALUE is read as YAML)")
    p.add_argument("--no-preload", action="store_true",
                   help="start each kernel only once its cluster is up, without importing the lab's libraries "
                        f"first (default: start it at once and import {', '.join(DEFAULT_PRELOAD)})")
    p.add_argument("--kernel", default=KERNEL_NAME, help="kernelspec to run (default: %(default)s, installed "
                                                         "into this Python's prefix if missing)")
    p.set_defaults(func=cmd_regress)
    return p


def cmd_regress(args: argparse.Namespace) -> int:
    student_dir: Path = args.student_dir
    if args.student and not student_dir.is_dir():
        print(f"error: the student release is not at {student_dir}: generate it first (nbgrader "
              "generate_assignment in grading/) or pass --student-dir", file=sys.stderr)
        return 2
    patterns = args.notebooks or ([str(student_dir / "**" / "*.ipynb")] if args.student else [DEFAULT_NOTEBOOKS])
    notebooks = find_notebooks(patterns)
    if not notebooks:
        print(f"error: no notebooks match {' '.join(patterns)}", file=sys.stderr)
        return 2
    output = args.output or Path("build/regress-student" if args.student else "build/regress")
    cfg = RegressConfig(notebooks=notebooks, output=output, backend=args.backend, parallel=args.parallel,
                        cell_timeout=args.cell_timeout, timeout=args.timeout, student=args.student,
                        parameters={k: _parse_value(v) for k, v in args.parameter},
                        clock_speed=args.clock_speed, kernel_name=args.kernel,
                        preload=() if args.no_preload else DEFAULT_PRELOAD)

    def progress(r: NotebookResult, done: int, total: int) -> None:
        print(f"[{done}/{total}] {r.notebook}: {r.status} ({r.passed} {OK} {r.failed} {FAIL}) {r.seconds:.1f}s"
              + (f" - {r.detail}" if r.detail and not r.ok(cfg.student) else ""), file=sys.stderr, flush=True)

    print(f"# running {len(notebooks)} notebooks, {cfg.parallel} at a time, backend {cfg.backend}"
          + (" (student release)" if cfg.student else ""), file=sys.stderr, flush=True)
    t0 = time.monotonic()
    results = run(cfg, progress)
    md = write_summary(results, output, cfg.student, time.monotonic() - t0)
    print(md, end="")
    print(f"# executed notebooks and summary.csv/summary.md in {output}", file=sys.stderr)
    return 0 if all(r.ok(cfg.student) for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return _worker(argv[1])
    parser = argparse.ArgumentParser(prog="labctl")
    add_cli(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["regress", *argv])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
