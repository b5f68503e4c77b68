"""``labctl regress`` end to end: small generated notebooks that pass, fail a check, raise, crash and hang, each run
with papermill against its own fresh sandbox; the student-release mode; Binder's start script; one real lab
notebook when the notebooks exist."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labhelpers import regress
from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.manager import _pid_alive

REPO = Path(__file__).resolve().parents[2]

PARAMS = 'backend = "sandbox"\nsandbox_dir = None\nnamespace = "registry-lab"\nclock_speed = 1.0\nreveal = False'

CONNECT = ("import json, os, sys\nimport labhelpers\nfrom labhelpers.checks import check\n"
           "api = labhelpers.connect(backend=backend, sandbox_dir=sandbox_dir)")

PROBE = ("from labhelpers.sandbox import Sandbox\n"
         "print('PROBE ' + json.dumps({'python': sys.executable, 'sandbox_dir': sandbox_dir,\n"
         "      'pid': Sandbox(sandbox_dir).running()['pid'], 'kubeconfig': os.environ.get('KUBECONFIG')}))")

CHECK_DEFAULT_NS = ("from kubernetes import client\n"
                    "check(lambda: client.CoreV1Api(api).read_namespace('default').metadata.name == 'default',\n"
                    "      'the default namespace exists', 'no default namespace')")


def write_nb(path: Path, *cells: str | nbformat.NotebookNode) -> Path:
    nb = new_notebook()
    params = new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell(f"# {path.stem}"), params]
    nb.cells += [c if isinstance(c, nbformat.NotebookNode) else new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def solution_cell(source: str) -> nbformat.NotebookNode:
    """A cell as nbgrader's release leaves an exercise."""
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": "ex1",
                                 "schema_version": 3}
    return cell


def regress_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labhelpers.regress", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def summary_rows(out: Path) -> dict[str, dict]:
    with open(out / "summary.csv", newline="") as f:
        return {row["notebook"]: row for row in csv.DictReader(f)}


def probe(nb_path: Path) -> dict:
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in "".join(out.get("text", "")).splitlines():
                if line.startswith("PROBE "):
                    return json.loads(line[len("PROBE "):])
    raise AssertionError(f"no PROBE line in {nb_path}")


# --- classification on hand-made executed notebooks (no kernel) -------------------------------------------------


def executed(*cells: tuple[str, list]) -> nbformat.NotebookNode:
    nb = new_notebook()
    for source, outputs in cells:
        cell = source if isinstance(source, nbformat.NotebookNode) else new_code_cell(source)
        cell.outputs = outputs
        nb.cells.append(cell)
    return nb


def stdout(text: str) -> nbformat.NotebookNode:
    return new_output("stream", name="stdout", text=text)


def error(ename: str, evalue: str = "") -> nbformat.NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


def test_count_checks_reads_only_stdout_check_lines():
    nb = executed(("x", [stdout("✅ one\n❌ two\n   what is wrong: ✅ not a check\nsee ❌ above\n")]),
                  ("y", [new_output("stream", name="stderr", text="❌ stderr\n"), stdout("  ✅ three\n")]))
    assert regress.count_checks(nb) == (2, 1)


def test_self_check_cells_are_the_verdict_when_a_notebook_has_them():
    """A drill may print ❌ on purpose (08 runs the checks on an empty namespace); only self-checks count."""
    nb = executed(("# Observe: the checks on an empty namespace\nchecks()", [stdout("❌ ImagePullSecret missing\n")]),
                  ("# Self-check: Part 8\nverify()", [stdout("✅ exists\n✅ configured\n")]))
    assert regress.count_checks(nb) == (2, 0)
    assert regress.classify(nb, None, student=False)[0] == "passed"
    nb.cells[1].outputs = [stdout("✅ exists\n❌ not configured\n")]
    assert regress.classify(nb, None, student=False)[:2] == ("failed", "1 failed: ❌ not configured")


def test_notebook_parameters_come_from_its_metadata(tmp_path):
    path = write_nb(tmp_path / "08-x.ipynb")
    assert regress.notebook_parameters(path) == {}
    nb = nbformat.read(path, as_version=4)
    nb.metadata["labhelpers"] = {"regress": {"parameters": {"prepare": True}}}
    nbformat.write(nb, path)
    assert regress.notebook_parameters(path) == {"prepare": True}
    assert regress.notebook_parameters(REPO / "notebooks" / "08-verification.ipynb") == {"prepare": True}
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert regress.notebook_parameters(tmp_path / "broken.ipynb") == {}


def test_schedule_runs_the_longest_first(tmp_path):
    small, big, known = (write_nb(tmp_path / n) for n in ("a.ipynb", "b.ipynb", "c.ipynb"))
    big.write_text(big.read_text() + " " * 5000)
    names = {small: "a", big: "b", known: "c"}
    assert regress.schedule([small, big, known], names, {}) == [big, small, known]  # biggest file first
    # a previous run's seconds win; what it did not run goes first
    assert regress.schedule([small, big, known], names, {"a": 30.0, "b": 2.0}) == [known, small, big]
    regress.write_summary([regress.NotebookResult("a", "passed", seconds=30.0),
                           regress.NotebookResult("b", "passed", seconds=2.0)], tmp_path / "out")
    assert regress.expected_seconds(tmp_path / "out") == {"a": 30.0, "b": 2.0}
    assert regress.expected_seconds(tmp_path / "nowhere") == {}


def test_classify_instructor_and_student_outcomes():
    failing = executed(("c", [stdout("✅ a\n❌ b broken\n")]))
    assert regress.classify(failing, None, student=False)[:2] == ("failed", "1 failed: ❌ b broken")
    assert regress.classify(failing, None, student=True)[0] == "ran"

    tagged = new_code_cell("raise ValueError()")
    tagged.metadata["tags"] = ["raises-exception"]
    assert regress.classify(executed((tagged, [error("ValueError")])), {"kind": "cell-error"}, False)[0] == "passed"

    stub = executed((solution_cell("raise NotImplementedError()"), [error("NotImplementedError")]),
                    ("print(answer)", [error("NameError", "name 'answer' is not defined")]),
                    ("check()", [stdout("❌ secret missing\n")]))
    status, detail, passed, failed = regress.classify(stub, {"kind": "cell-error"}, student=True)
    assert (status, passed, failed) == ("ran", 0, 1) and "secret missing" in detail
    assert regress.classify(stub, {"kind": "cell-error"}, student=False)[0] == "error"

    broken = executed(("import nosuchmodule", [error("ModuleNotFoundError", "No module named 'nosuchmodule'")]))
    status, detail, *_ = regress.classify(broken, {"kind": "cell-error"}, student=True)
    assert status == "error" and "ModuleNotFoundError" in detail
    # a NameError with no unfinished exercise before it is a real bug
    assert regress.classify(executed(("x", [error("NameError")])), {"kind": "cell-error"}, True)[0] == "error"

    assert regress.classify(failing, {"kind": "timeout", "message": "slow"}, False)[:2] == ("timeout", "slow")
    assert regress.classify(failing, {"kind": "dead-kernel"}, True)[0] == "crashed"
    assert regress.classify(None, None, False)[0] == "crashed"
    assert regress.classify(executed(("x", [error("SystemExit", "0")])), None, False)[0] == "passed"


def test_summary_files(tmp_path):
    results = [regress.NotebookResult("00-a", "passed", 3, 0, 1.25, ""),
               regress.NotebookResult("01-b", "failed", 1, 2, 2.0, "2 failed: ❌ x | y")]
    md = regress.write_summary(results, tmp_path, wall=3.5)
    assert (tmp_path / "summary.md").read_text() == md
    assert "| 01-b | failed | 1 | 2 | 2.0 | 2 failed: ❌ x \\| y |" in md
    assert "1/2 notebooks ok (instructor version): 1 failed, 1 passed; wall time 3.5s" in md
    rows = summary_rows(tmp_path)
    assert rows["00-a"]["status"] == "passed" and rows["01-b"]["failed"] == "2"
    assert list(rows["00-a"]) == regress.COLUMNS


def test_find_notebooks_skips_checkpoints_and_dedups(tmp_path):
    a = write_nb(tmp_path / "b" / "01-x.ipynb")
    write_nb(tmp_path / "b" / ".ipynb_checkpoints" / "01-x-checkpoint.ipynb")
    (tmp_path / "b" / "notes.txt").write_text("")
    found = regress.find_notebooks([str(tmp_path / "**" / "*.ipynb"), str(a)])
    assert found == [a.resolve()]


# --- the command, for real -------------------------------------------------------------------------------------


@pytest.mark.integration
def test_instructor_run_statuses_fresh_sandboxes_and_summary(tmp_path):
    nbs = tmp_path / "nbs"
    write_nb(nbs / "01-pass.ipynb", CONNECT, PROBE, CHECK_DEFAULT_NS)
    write_nb(nbs / "02-pass-too.ipynb", CONNECT, PROBE,
             "open('scratch.txt', 'w').write('x')\ncheck(lambda: True, 'wrote a scratch file', 'no')")
    write_nb(nbs / "03-failing-check.ipynb", CONNECT,
             "check(lambda: (False, 'secret missing'), 'secret ok', 'secret is missing', 'create it')")
    write_nb(nbs / "04-crash.ipynb", "import os\nos._exit(3)", "print('never')")
    write_nb(nbs / "05-error.ipynb", CONNECT, "raise ValueError('boom')", "print('✅ never reached')")
    out = tmp_path / "out"

    r = regress_cli("--notebooks", str(nbs / "*.ipynb"), "--output", str(out), "--parallel", "2",
                    "--cell-timeout", "120", "--timeout", "500")
    assert r.returncode == 1, r.stderr
    rows = summary_rows(out)
    assert {k: v["status"] for k, v in rows.items()} == {
        "01-pass": "passed", "02-pass-too": "passed", "03-failing-check": "failed", "04-crash": "crashed",
        "05-error": "error"}
    assert (rows["01-pass"]["passed"], rows["01-pass"]["failed"]) == ("1", "0")
    assert (rows["03-failing-check"]["passed"], rows["03-failing-check"]["failed"]) == ("0", "1")
    assert "secret is missing" in rows["03-failing-check"]["detail"]
    assert "ValueError: boom" in rows["05-error"]["detail"]
    assert "died" in rows["04-crash"]["detail"]
    assert float(rows["01-pass"]["seconds"]) > 0
    md = (out / "summary.md").read_text()
    assert "2/5 notebooks ok" in md and md in r.stdout
    assert (out / "04-crash.worker.log").exists() and not (out / "01-pass.worker.log").exists()

    # each notebook had its own sandbox, started before and stopped after, and ran on this venv's kernel
    p1, p2 = probe(out / "01-pass.ipynb"), probe(out / "02-pass-too.ipynb")
    assert p1["sandbox_dir"] != p2["sandbox_dir"]
    assert p1["kubeconfig"] == str(Path(p1["sandbox_dir"]) / "kubeconfig")
    assert p1["python"] == sys.executable
    assert not _pid_alive(p1["pid"]) and not _pid_alive(p2["pid"])
    assert not Path(p1["sandbox_dir"]).exists()
    # the notebooks ran in private copies of their folder
    assert not (nbs / "scratch.txt").exists()

    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(regress.KERNEL_NAME)
    assert spec.argv[0] == sys.executable


@pytest.mark.integration
def test_cell_timeout_and_overall_timeout(tmp_path):
    write_nb(tmp_path / "a" / "hang.ipynb", "import time\ntime.sleep(120)")
    r = regress_cli("--notebooks", str(tmp_path / "a" / "*.ipynb"), "--output", str(tmp_path / "o1"),
                    "--cell-timeout", "3", "--timeout", "300")
    assert r.returncode == 1
    row = summary_rows(tmp_path / "o1")["hang"]
    assert row["status"] == "timeout" and "longer than 3s" in row["detail"]

    r = regress_cli("--notebooks", str(tmp_path / "a" / "*.ipynb"), "--output", str(tmp_path / "o2"),
                    "--cell-timeout", "300", "--timeout", "12")
    assert r.returncode == 1
    row = summary_rows(tmp_path / "o2")["hang"]
    assert row["status"] == "timeout" and "overall timeout (12s)" in row["detail"]
    assert float(row["seconds"]) < 40


@pytest.mark.integration
def test_kubeconfig_backend_gives_each_notebook_a_fresh_namespace(tmp_path, sandbox):
    body = ("import labhelpers\nfrom kubernetes import client\nfrom labhelpers.checks import check\n"
            "api = labhelpers.connect(backend=backend)\nv1 = client.CoreV1Api(api)\n"
            "v1.create_namespace({'metadata': {'name': namespace}})\n"
            "check(lambda: v1.read_namespace(namespace).status.phase == 'Active', 'namespace ready', 'no ns')\n"
            "print('PROBE ' + json.dumps({'namespace': namespace}))")
    for name in ("10-one", "11-two"):
        write_nb(tmp_path / "n" / f"{name}.ipynb", "import json", body)
    env = dict(os.environ, KUBECONFIG=str(sandbox.kubeconfig))
    out = tmp_path / "out"
    r = regress_cli("--backend", "kubeconfig", "--notebooks", str(tmp_path / "n" / "*.ipynb"),
                    "--output", str(out), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    namespaces = [probe(out / f"{n}.ipynb")["namespace"] for n in ("10-one", "11-two")]
    assert namespaces[0] != namespaces[1] and all(n.startswith("regress-") for n in namespaces)
    v1 = client.CoreV1Api(config.new_client_from_config(config_file=str(sandbox.kubeconfig)))
    for ns in namespaces:  # deleted afterwards
        try:
            assert v1.read_namespace(ns).status.phase == "Terminating"
        except ApiException as e:
            assert e.status == 404


@pytest.mark.integration
def test_student_release_unfinished_exercises_are_expected_crashes_are_not(tmp_path):
    release = tmp_path / "grading" / "release" / "lab"
    write_nb(release / "03-secrets.ipynb", CONNECT,
             solution_cell("secret_name = None\n# YOUR CODE HERE\nraise NotImplementedError()"),
             "print(secret_name)",
             "check(lambda: secret_name is not None, 'secret created', 'secret not created')")
    write_nb(release / "04-broken-release.ipynb", "import labhelpers_does_not_exist")
    write_nb(release / "05-crash.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    out = tmp_path / "out"
    r = regress_cli("--student", "--student-dir", str(tmp_path / "grading" / "release"), "--output", str(out))
    assert r.returncode == 1, r.stderr
    rows = summary_rows(out)
    assert {k: v["status"] for k, v in rows.items()} == {
        "03-secrets": "ran", "04-broken-release": "error", "05-crash": "crashed"}
    assert rows["03-secrets"]["failed"] == "1"
    assert "1/3 notebooks ok (student release)" in (out / "summary.md").read_text()
    # allow_errors: the cells after the stub ran
    nb = nbformat.read(out / "03-secrets.ipynb", as_version=4)
    assert any("secret not created" in "".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))

    r = regress_cli("--student", "--student-dir", str(tmp_path / "grading" / "release"), "--output", str(out),
                    "--notebooks", str(release / "03-*.ipynb"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_student_release_missing_is_a_clear_error(tmp_path):
    r = regress_cli("--student", "--student-dir", str(tmp_path / "nowhere"), timeout=60)
    assert r.returncode == 2
    assert f"the student release is not at {tmp_path / 'nowhere'}" in r.stderr


def test_no_matching_notebooks_is_an_error(tmp_path):
    r = regress_cli("--notebooks", str(tmp_path / "*.ipynb"), timeout=60)
    assert r.returncode == 2 and "no notebooks match" in r.stderr


def test_labctl_has_regress_once_wired():
    from labhelpers import cli

    parser = cli.build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "cmd").choices
    if "regress" not in subcommands:
        pytest.skip("labhelpers/cli.py does not call regress.add_cli yet")
    args = parser.parse_args(["regress", "--parallel", "3", "--student"])
    assert args.func is regress.cmd_regress and args.parallel == 3 and args.student


@pytest.mark.integration
def test_binder_start_starts_the_sandbox_and_execs_the_command(tmp_path):
    sandbox_dir = tmp_path / "sb"
    env = dict(os.environ, HOME=str(tmp_path), LABHELPERS_SANDBOX_DIR=str(sandbox_dir),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("KUBECONFIG", None)
    try:
        r = subprocess.run([str(REPO / "binder" / "start"), sys.executable, "-c",
                            "import os; print('KUBECONFIG=' + os.environ['KUBECONFIG'])"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"KUBECONFIG={sandbox_dir / 'kubeconfig'}"
        assert Sandbox(sandbox_dir).running()
    finally:
        Sandbox(sandbox_dir).down()


@pytest.mark.integration
def test_the_warm_kernel_has_the_lab_imports_and_starts_counting_at_one(tmp_path):
    """The kernel starts and imports the lab's libraries while the sandbox boots; the notebook cannot tell,
    except that the imports are done (``--no-preload`` turns that off)."""
    nb = write_nb(tmp_path / "nbs" / "01-warm.ipynb",
                  "import sys\nprint('WARM', 'kubernetes.client' in sys.modules, 'labhelpers.checks' in sys.modules)")
    for flag, expected in (([], "WARM True True"), (["--no-preload"], "WARM False False")):
        out = tmp_path / ("out" + "".join(flag))
        r = regress_cli("--notebooks", str(nb), "--output", str(out), *flag)
        assert r.returncode == 0, r.stdout + r.stderr
        executed_nb = nbformat.read(out / "01-warm.ipynb", as_version=4)
        code = [c for c in executed_nb.cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
        text = "".join(o.get("text", "") for c in code for o in c.outputs)
        assert expected in text, text


@pytest.mark.integration
@pytest.mark.slow
def test_labctl_regress_passes_every_lab_notebook(tmp_path):
    """What CI runs: ``labctl regress`` on the lab's notebooks, each on its own fresh sandbox, all passing.

    ``08-verification`` runs alone too: its metadata asks for ``prepare=True``, which builds what 01-07 would have.
    """
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    if not notebooks:
        pytest.skip("no notebooks yet")
    labctl = Path(sys.executable).with_name("labctl")
    out = tmp_path / "out"
    r = subprocess.run([str(labctl), "regress", "--output", str(out), "--timeout", "1500"], capture_output=True,
                       text=True, timeout=1600, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    rows = summary_rows(out)
    assert sorted(rows) == [nb.stem for nb in notebooks]
    assert {row["status"] for row in rows.values()} == {"passed"}, rows
    assert all(int(row["passed"]) > 0 for row in rows.values()), "a notebook ran no self-check"
    assert f"{len(notebooks)}/{len(notebooks)} notebooks ok (instructor version)" in r.stdout
    executed_08 = nbformat.read(out / "08-verification.ipynb", as_version=4)
    assert executed_08.metadata["papermill"]["parameters"]["prepare"] is True
    assert all((out / f"{nb.stem}.ipynb").exists() for nb in notebooks)


def test_worker_waits_for_the_parents_word(tmp_path):
    go = tmp_path / "go"
    assert regress._wait_for_go(go, timeout=0.2) is False  # no word: gives up
    regress._signal_worker(tmp_path, "abort")
    assert regress._wait_for_go(go, timeout=1) is False
    regress._signal_worker(tmp_path, "go")
    assert regress._wait_for_go(go, timeout=1) is True
