"""The nbgrader course end to end: release, autograding against real sandboxes, feedback, scores; and submissions
that try to fool the grader (variables, rewritten cells, printed "PASSED", a deleted graded cell, a killed kernel,
a timeout, a killed grader) without earning a single point."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grading import demo
from grading.build import BEGIN_HIDDEN, BEGIN_SOLUTION
from grading.spec import LAB03

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
NB01 = "01-imagepullsecrets.ipynb"
STEM01 = NB01.removesuffix(".ipynb")
HIDDEN_SENTINEL = "def expect_login("  # a line of grading/hidden/lab03.py, which only the grader may see
SLEEPER_TIMEOUT = 20

ALWAYS_PASSES = '''
import types

import labhelpers.checks


class _Passed:
    ok, level, message = True, "error", "passed"


class _AlwaysPasses:
    def __init__(self, *args, **kwargs):
        self.results = []

    def add(self, *args, **kwargs):
        self.results.append(_Passed())
        return self

    def run(self, *args, **kwargs):
        print("✅ PASSED")
        return self.results


labhelpers.checks.Checks = _AlwaysPasses
checks = types.SimpleNamespace(Checks=_AlwaysPasses)
part1 = _AlwaysPasses()
ns, api = "kube-system", None
'''

REWRITES_GRADED_CELLS = '''
def _full_marks(lines):
    return ["3.0\\n"] if any("part1.run()" in line for line in lines) else lines


get_ipython().input_transformers_post.append(_full_marks)
'''

PRINTS_PASSED = 'print("PASSED")\nprint("✅ dockerhub-secret covers Docker Hub")\nprint("3 passed, 0 failed")'


def gid(cell: nbformat.NotebookNode) -> str:
    return (cell.metadata.get("nbgrader") or {}).get("grade_id", "")


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if gid(c) == grade_id)


def only_nb01(notebooks: demo.Notebooks, edit=None) -> demo.Notebooks:
    """Just notebook 01 (the others are not submitted and score zero without running), edited in place."""
    nb = nbformat.from_dict(notebooks[NB01])
    if edit:
        edit(nb)
    return {NB01: nb}


def append(grade_id: str, code: str):
    def edit(nb):
        cell(nb, grade_id).source += "\n" + code
    return edit


def replace(grade_id: str, code: str):
    def edit(nb):
        cell(nb, grade_id).source = code
    return edit


def delete_graded(nb: nbformat.NotebookNode) -> None:
    nb.cells = [c for c in nb.cells if gid(c) != "01-self-check"]


def fooling_submissions(complete: demo.Notebooks, blank: demo.Notebooks) -> dict[str, demo.Notebooks]:
    def prints(nb):
        replace("01-ex1-kubectl", PRINTS_PASSED)(nb)
        replace("01-self-check", 'print("PASSED")\n3.0')(nb)  # a locked cell: the grader restores it

    return {
        "sets-variables": only_nb01(blank, replace("01-ex1-kubectl", ALWAYS_PASSES)),
        "rewrites-cells": only_nb01(blank, replace("01-ex1-kubectl", REWRITES_GRADED_CELLS)),
        "prints-passed": only_nb01(blank, prints),
        "deletes-graded-cell": only_nb01(blank, delete_graded),
        "complete-deletes-graded-cell": only_nb01(complete, delete_graded),
        "kills-kernel": only_nb01(complete, append("01-ex1-kubectl", "import os, signal\nos.kill(os.getpid(), "
                                                                      "signal.SIGKILL)")),
        # Every secret exists when the kernel exits: the check after it still must not count.
        "exits-kernel": only_nb01(complete, append("01-ex3-labhelpers", "import os\nos._exit(0)")),
        "sleeps": only_nb01(complete, append("01-ex3-labhelpers", "import signal, time\n"
                                                                   "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                                   "time.sleep(3600)")),
        "kills-grader": only_nb01(complete, append("01-ex3-labhelpers", "import os, signal\n"
                                                                         "os.kill(os.getppid(), signal.SIGKILL)")),
    }


@dataclass
class Batch:
    course: Path
    report: demo.Report

    def row(self, student: str) -> demo.ScoreRow:
        return next(r for r in self.report.rows if r.student == student)

    def run(self, student: str, stem: str = STEM01) -> demo.NotebookRun:
        student_run = next(r for r in self.report.runs if r.student == student)
        return next(n for n in student_run.notebooks if n.notebook == stem)

    def autograded(self, student: str, name: str = NB01) -> nbformat.NotebookNode:
        return nbformat.read(self.course / "autograded" / student / LAB03.name / name, as_version=4)

    def graded_text(self, student: str) -> str:
        outputs = cell(self.autograded(student), "01-self-check").outputs
        return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    course = tmp_path_factory.mktemp("course")
    demo.prepare_course(course, LAB03)
    submissions = demo.demo_submissions(course, LAB03)
    submissions.update(fooling_submissions(submissions["complete"], submissions["blank"]))
    report = demo.grade(course, LAB03, submissions, parallel=4, cell_timeout=90,
                        cell_timeouts={"sleeps": SLEEPER_TIMEOUT})
    return Batch(course, report)


def test_complete_gets_full_marks_blank_zero_partial_in_between(batch):
    assert demo.demo_ok(batch.report.rows) == []
    complete = batch.row("complete")
    assert complete.total == complete.max_score == 10
    assert 0 < batch.row("partial").scores[STEM01] < complete.scores[STEM01]
    assert all(r.status == "graded" for r in next(r for r in batch.report.runs if r.student == "complete").notebooks)


def test_scores_csv_has_one_row_per_student_with_per_notebook_scores(batch):
    lines = batch.report.csv_path.read_text().splitlines()
    assert lines[0] == ("student,01-imagepullsecrets,02-using-pull-secrets,03-multi-registry,total,max_score,"
                        "notes")
    assert lines[1] == "complete,3.00,4.00,3.00,10.00,10.00,"
    assert lines[3] == "blank,0.00,0.00,0.00,0.00,10.00,"
    assert len(lines) == 1 + len(batch.report.rows)


@pytest.mark.parametrize("student", ["sets-variables", "rewrites-cells"])
def test_a_kernel_that_reports_full_marks_earns_nothing(batch, student):
    # The student's kernel ran the graded cell and got 3.0; the grade is the grader's own run against the cluster.
    assert batch.row(student).scores[STEM01] == 0
    text = batch.graded_text(student)
    assert "the notebook's own run of this cell reported 3.0" in text
    assert "❌ dockerhub-secret is missing or does not cover docker.io" in text


def test_printing_passed_earns_nothing(batch):
    assert batch.row("prints-passed").scores[STEM01] == 0
    graded = cell(batch.autograded("prints-passed"), "01-self-check")
    assert "part1.run()" in graded.source, "the edited graded cell was not restored from the source"
    assert "PASSED" in "".join(o.get("text", "") for o in cell(batch.autograded("prints-passed"),
                                                                "01-ex1-kubectl").outputs)


def test_a_deleted_graded_cell_comes_back_and_runs(batch):
    assert batch.row("deletes-graded-cell").scores[STEM01] == 0
    assert batch.row("complete-deletes-graded-cell").scores[STEM01] == 3
    assert "0 passed, 6 failed" in batch.graded_text("deletes-graded-cell")


@pytest.mark.parametrize("student, culprit", [("kills-kernel", "01-ex1-kubectl"),
                                              ("exits-kernel", "01-ex3-labhelpers")])
def test_a_dead_kernel_scores_zero(batch, student, culprit):
    assert batch.row(student).scores[STEM01] == 0
    run = batch.run(student)
    assert run.status == "stopped"
    assert run.detail == f"the kernel died while running cell {culprit}"
    graded = cell(batch.autograded(student), "01-self-check")
    assert [o.get("ename") for o in graded.outputs] == ["NotGraded"]


def test_a_timeout_scores_zero(batch):
    assert batch.row("sleeps").scores[STEM01] == 0
    run = batch.run("sleeps")
    assert run.status == "stopped"
    assert run.detail == f"cell 01-ex3-labhelpers ran longer than {SLEEPER_TIMEOUT} s"
    assert run.seconds < SLEEPER_TIMEOUT + 60


def test_killing_the_grader_scores_zero_and_leaves_no_process_behind(batch):
    assert batch.row("kills-grader").scores[STEM01] == 0
    assert batch.run("kills-grader").status == "failed"
    assert "killed" in batch.run("kills-grader").detail
    marker = f"{demo.RUN_MARKER}=".encode()
    leftovers = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(v.startswith(marker) for v in (proc / "environ").read_bytes().split(b"\0")):
                leftovers.append(proc.name)
        except OSError:
            continue
    assert leftovers == []


def test_notebooks_not_submitted_score_zero(batch):
    row = batch.row("sets-variables")
    assert row.scores["02-using-pull-secrets"] == row.scores["03-multi-registry"] == 0
    assert batch.run("sets-variables", "02-using-pull-secrets").status == "missing"


def test_feedback_shows_the_checks_but_never_the_hidden_code(batch):
    autograded = (batch.course / "autograded" / "blank" / LAB03.name / NB01).read_text()
    assert HIDDEN_SENTINEL in autograded  # the grader had the hidden checks...
    pages = sorted((batch.course / "feedback").glob(f"*/{LAB03.name}/*.html"))
    assert len(pages) >= 3 * len(LAB03.notebooks)
    for page in pages:
        html = page.read_text()
        assert HIDDEN_SENTINEL not in html and "HIDDEN TESTS" not in html, page
    blank = (batch.course / "feedback" / "blank" / LAB03.name / "01-imagepullsecrets.html").read_text()
    # ...the student sees what is wrong and a hint, for the hidden checks too
    assert "dockerhub-secret does not carry the demo account" in blank and "how to fix" in blank


def test_graded_cells_write_nothing_to_stderr(batch):
    for student in ("complete", "partial", "blank"):
        for name in (s.filename for s in LAB03.notebooks):
            for c in batch.autograded(student, name).cells:
                if (c.metadata.get("nbgrader") or {}).get("grade"):
                    assert not [o for o in c.outputs if o.get("name") == "stderr"], (student, name)
                    assert [o.output_type for o in c.outputs][-1] == "execute_result"


def test_the_release_holds_neither_solutions_nor_hidden_checks(batch):
    for nb in demo.release(batch.course, LAB03).values():
        text = nbformat.writes(nb)
        assert HIDDEN_SENTINEL not in text and BEGIN_HIDDEN not in text and BEGIN_SOLUTION not in text
        for c in nb.cells:
            if (c.metadata.get("nbgrader") or {}).get("solution"):
                assert "# YOUR CODE HERE\nraise NotImplementedError()" in c.source
    # the exercise of 02 is one region inside a drill cell: the drill stays, the seed's patch is gone
    patch = cell(demo.release(batch.course, LAB03)["02-using-pull-secrets.ipynb"], "02-observe-sa-patch").source
    assert "before-patch" in patch and '"imagePullSecrets": [{{"name": "dockerhub-secret"}}]' not in patch


def test_grade_demo_command_passes_and_a_second_run_gives_the_same_scores(batch, tmp_path):
    """What ``make grade-demo`` runs, as a command on a course of its own: exit 0, the table and the same CSV rows
    (complete, partial, blank) as the batch above, which graded the same submissions in another run."""
    course = tmp_path / "again"
    r = subprocess.run([sys.executable, "-m", "grading.demo", "--course", str(course), "--cell-timeout", "90"],
                       capture_output=True, text=True, timeout=900, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["student", *(nb.stem for nb in LAB03.notebooks), "total"]
    assert lines[1].split()[0] == "complete" and lines[1].endswith("10.00 / 10")
    assert lines[3].split()[0] == "blank" and lines[3].endswith("0.00 / 10")
    first = batch.report.csv_path.read_text().splitlines()
    csv_rows = {line.split(",")[0]: line for line in lines if line.count(",") >= 5}
    for student in ("complete", "partial", "blank"):
        assert csv_rows[student] == next(line for line in first if line.startswith(student + ",")), student
    assert (course / "build" / "scores.csv").read_text().splitlines()[1:] == [
        csv_rows[s] for s in ("complete", "partial", "blank")]
