"""``make grade-demo``: the whole nbgrader pipeline on three made-up students, ending with a score table and a CSV.

1. build the course source from ``notebooks/`` (:mod:`grading.build`) and ``nbgrader generate_assignment``;
2. submit three copies of the release: *complete* (the instructor's solutions), *partial* (some exercises) and
   *blank* (the release as it is);
3. autograde each student against a fresh sandbox of their own, students in parallel, each notebook in its own
   ``nbgrader autograde`` process (a submission that kills the grader loses that notebook only);
4. ``nbgrader generate_feedback``, then the scores from the gradebook: a table on stdout and ``build/scores.csv``.

Every run starts from an empty course state (the generated folders and the gradebook are removed first), so two
runs give the same scores. The exit code is 0 when complete has full marks, blank zero and partial some of both.

    python -m grading.demo                     # course in grading/
    python -m grading.demo --course /tmp/course --parallel 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import build
from .execute import NOT_GRADED, NOT_RUN
from .spec import ASSIGNMENTS, Assignment

COURSE = Path(__file__).resolve().parent
GENERATED = ("source", "release", "submitted", "autograded", "feedback", "build", "gradebook.db",
             "gradebook.db-journal")
DEMO_STUDENTS = ("complete", "partial", "blank")
RUN_MARKER = "LAB_GRADING_RUN"  # in the environment of every process a grading run starts, to find leftovers

Notebooks = dict[str, nbformat.NotebookNode]  # file name -> notebook


# --- the course directory -------------------------------------------------------------------------------------


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # nbgrader runs alembic
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env["LAB_HEADLESS"] = "1"  # widgets fall back to their tables: no ipywidgets Output in graded runs
    env.update(extra)
    return env


def nbgrader(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course directory (where it finds nbgrader_config.py), output captured."""
    return subprocess.run([_bin("nbgrader"), *args], cwd=course, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, check=False)


def prepare_course(course: Path, assignment: Assignment) -> None:
    """An empty course state, the source built from notebooks/, and the student release."""
    course.mkdir(parents=True, exist_ok=True)
    for name in GENERATED:
        path = course / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    if course.resolve() != COURSE:
        (course / "nbgrader_config.py").write_text(f"load_subconfig({str(COURSE / 'nbgrader_config.py')!r})\n")
    build.build_assignment(assignment, course / "source")
    r = nbgrader(course, "generate_assignment", assignment.name, "--force")
    if r.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{r.stdout.decode(errors='replace')[-3000:]}")


def read_folder(folder: Path) -> Notebooks:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def release(course: Path, assignment: Assignment) -> Notebooks:
    return read_folder(course / "release" / assignment.name)


def source(course: Path, assignment: Assignment) -> Notebooks:
    return read_folder(course / "source" / assignment.name)


# --- submissions ----------------------------------------------------------------------------------------------


def _grade_id(cell: nbformat.NotebookNode) -> str:
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id", "")


def strip_markers(text: str) -> str:
    """A solution as a student would type it: the source cell without nbgrader's region markers."""
    return "\n".join(ln for ln in text.split("\n")
                     if ln.strip() not in (build.BEGIN_SOLUTION, build.END_SOLUTION))


def solve(released: Notebooks, sources: Notebooks, solved: Callable[[str], bool]) -> Notebooks:
    """The release with the exercises whose grade id ``solved`` accepts answered with the instructor's solution."""
    out = {}
    for name, nb in released.items():
        nb = nbformat.from_dict(nb)
        answers = {_grade_id(c): c.source for c in sources[name].cells if _grade_id(c)}
        for cell in nb.cells:
            gid = _grade_id(cell)
            if cell.metadata.get("nbgrader", {}).get("solution") and solved(gid):
                cell.source = strip_markers(answers[gid])
        out[name] = nb
    return out


def demo_submissions(course: Path, assignment: Assignment) -> dict[str, Notebooks]:
    released, sources = release(course, assignment), source(course, assignment)
    return {"complete": solve(released, sources, lambda gid: True),
            "partial": solve(released, sources, lambda gid: gid in assignment.demo_partial),
            "blank": solve(released, sources, lambda gid: False)}


def submit(course: Path, assignment: Assignment, student: str, notebooks: Notebooks) -> Path:
    folder = course / "submitted" / student / assignment.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)
    return folder


# --- autograding ----------------------------------------------------------------------------------------------


@dataclass
class NotebookRun:
    notebook: str
    status: str  # graded | stopped (kernel death, timeout: later checks scored zero) | failed | missing
    seconds: float = 0.0
    detail: str = ""


@dataclass
class StudentRun:
    student: str
    notebooks: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0


def _processes_with_marker(token: str) -> list[int]:
    """Processes whose environment carries this run's marker: whatever the run started and left behind."""
    needle = f"{RUN_MARKER}={token}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
    return [pid for pid in found if pid != os.getpid()]


def _reap(proc: subprocess.Popen | None, token: str) -> None:
    """Stop the nbgrader process group, then any kernel or child it left (kernels run in their own session)."""
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    for pid in _processes_with_marker(token):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _stop_reason(nb_path: Path) -> str:
    """The NotGraded reason the executor wrote when a kernel died or a cell timed out, if any."""
    with contextlib.suppress(Exception):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") == NOT_GRADED:
                    return str(out.get("evalue", "")).removesuffix(NOT_RUN)
    return ""


def autograde_notebook(course: Path, assignment: str, student: str, name: str, sandbox_dir: Path,
                       cell_timeout: int, notebook_timeout: float, log: Path) -> NotebookRun:
    """One notebook of one student in its own ``nbgrader autograde`` process, against the student's sandbox."""
    t0 = time.monotonic()
    stem = name.removesuffix(".ipynb")
    token = secrets.token_hex(8)
    env = _env(LABHELPERS_SANDBOX_DIR=str(sandbox_dir), KUBECONFIG=str(sandbox_dir / "kubeconfig"),
               PYTHONUNBUFFERED="1", **{RUN_MARKER: token})
    cmd = [_bin("nbgrader"), "autograde", assignment, "--student", student, "--notebook", stem, "--force",
           f"--Execute.timeout={cell_timeout}"]
    proc = None
    detail = ""
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=course, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=notebook_timeout)
        except subprocess.TimeoutExpired:
            rc, detail = None, f"nbgrader did not finish in {notebook_timeout:.0f}s"
    finally:
        _reap(proc, token)
    graded = course / "autograded" / student / assignment / name
    seconds = round(time.monotonic() - t0, 1)
    if rc == 0 and graded.exists():
        reason = _stop_reason(graded)
        return NotebookRun(stem, "stopped" if reason else "graded", seconds, reason)
    if rc is not None:
        detail = f"nbgrader exited with {rc}" + (" (killed)" if rc < 0 else "") + f"; see {log}"
    return NotebookRun(stem, "failed", seconds, detail)


def autograde_student(course: Path, assignment: Assignment, student: str, *, cell_timeout: int = 120,
                      notebook_timeout: float = 900, clock_speed: float = 1.0) -> StudentRun:
    """Every notebook the student submitted, in order, against one fresh sandbox used by this student only."""
    from labhelpers.sandbox import Sandbox

    t0 = time.monotonic()
    run = StudentRun(student)
    submitted = course / "submitted" / student / assignment.name
    logs = course / "build" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"grade-{student[:20]}-"))
    sandbox = Sandbox(tmp / "sandbox")
    try:
        # The notebooks' parameters cell says clock_speed = 1: start the sandbox so, or the setup cell restarts it.
        sandbox.up(clock_speed=clock_speed)
        for spec in assignment.notebooks:
            if not (submitted / spec.filename).exists():
                run.notebooks.append(NotebookRun(spec.stem, "missing"))
                continue
            run.notebooks.append(autograde_notebook(course, assignment.name, student, spec.filename, sandbox.dir,
                                                    cell_timeout, notebook_timeout,
                                                    logs / f"{student}-{spec.stem}.log"))
    finally:
        with contextlib.suppress(Exception):
            sandbox.down()
        shutil.rmtree(tmp, ignore_errors=True)
    run.seconds = round(time.monotonic() - t0, 1)
    return run


def db_url(course: Path) -> str:
    """The gradebook nbgrader_config.py sets for a course directory."""
    return f"sqlite:///{course.resolve() / 'gradebook.db'}?timeout=120"


def zero_ungraded(course: Path, assignment: Assignment, runs: Iterable[StudentRun]) -> None:
    """Notebooks that were not graded (missing, or nbgrader failed) score zero in the gradebook, explicitly."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course)) as gb:
        for run in runs:
            gb.update_or_create_student(run.student)
            gb.update_or_create_submission(assignment.name, run.student)
            for nb_run in run.notebooks:
                if nb_run.status in ("graded", "stopped"):
                    continue
                notebook = gb.find_submission_notebook(nb_run.notebook, assignment.name, run.student)
                for grade in notebook.grades:
                    grade.auto_score, grade.manual_score, grade.needs_manual_grade = 0.0, None, False
            gb.db.commit()


def autograde(course: Path, assignment: Assignment, students: Iterable[str], *, parallel: int = 3,
              progress: Callable[[StudentRun], None] | None = None, cell_timeouts: Mapping[str, int] | None = None,
              **options: float) -> list[StudentRun]:
    """Autograde the students, ``parallel`` at a time; results in the order given.

    ``options`` go to :func:`autograde_student`; ``cell_timeouts`` overrides its ``cell_timeout`` per student.
    """
    from labhelpers.regress import ensure_kernelspec

    ensure_kernelspec("labhelpers")  # nbgrader_config.py runs this kernel: the venv's own Python
    students = list(students)
    lock = threading.Lock()

    def one(student: str) -> StudentRun:
        extra = {"cell_timeout": cell_timeouts[student]} if cell_timeouts and student in cell_timeouts else {}
        run = autograde_student(course, assignment, student, **{**options, **extra})
        if progress:
            with lock:
                progress(run)
        return run

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="grade") as pool:
        runs = list(pool.map(one, students))
    zero_ungraded(course, assignment, runs)
    return runs


def feedback(course: Path, assignment: Assignment) -> None:
    r = nbgrader(course, "generate_feedback", assignment.name, "--force")
    if r.returncode != 0:
        raise RuntimeError(f"nbgrader generate_feedback failed:\n{r.stdout.decode(errors='replace')[-3000:]}")


# --- scores ---------------------------------------------------------------------------------------------------


@dataclass
class ScoreRow:
    student: str
    scores: dict[str, float]  # notebook stem -> score
    max_scores: dict[str, float]
    notes: str = ""

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 2)

    @property
    def max_score(self) -> float:
        return round(sum(self.max_scores.values()), 2)


def scores(course: Path, assignment: Assignment, runs: Iterable[StudentRun]) -> list[ScoreRow]:
    """Per student and notebook, the score in the gradebook (what nbgrader export and formgrader show)."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(db_url(course)) as gb:
        for run in runs:
            sub = gb.find_submission(assignment.name, run.student)
            by_name = {nb.name: nb for nb in sub.notebooks}
            notes = "; ".join(f"{r.notebook}: {r.status}" + (f" ({r.detail})" if r.detail else "")
                              for r in run.notebooks if r.status != "graded")
            rows.append(ScoreRow(run.student,
                                 {s.stem: round(float(by_name[s.stem].score), 2) for s in assignment.notebooks},
                                 {s.stem: round(float(by_name[s.stem].max_score), 2) for s in assignment.notebooks},
                                 notes))
    return rows


def scores_csv(rows: list[ScoreRow], assignment: Assignment) -> str:
    stems = [s.stem for s in assignment.notebooks]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *stems, "total", "max_score", "notes"])
    for r in rows:
        w.writerow([r.student, *(f"{r.scores[s]:.2f}" for s in stems), f"{r.total:.2f}", f"{r.max_score:.2f}",
                    r.notes])
    return buf.getvalue()


def scores_table(rows: list[ScoreRow], assignment: Assignment) -> str:
    stems = [s.stem for s in assignment.notebooks]
    header = ["student", *stems, "total"]
    body = [[r.student, *(f"{r.scores[s]:.2f} / {r.max_scores[s]:g}" for s in stems),
             f"{r.total:.2f} / {r.max_score:g}"] for r in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *body]]
    return "\n".join(lines) + "\n"


# --- the demo -------------------------------------------------------------------------------------------------


@dataclass
class Report:
    runs: list[StudentRun]
    rows: list[ScoreRow]
    csv_path: Path
    seconds: dict[str, float]


def grade(course: Path, assignment: Assignment, submissions: Mapping[str, Notebooks], *, parallel: int = 3,
          log: Callable[[str], None] = lambda _m: None, cell_timeouts: Mapping[str, int] | None = None,
          **options: float) -> Report:
    """Submit, autograde, generate feedback and write build/scores.csv (the course must be prepared)."""
    seconds: dict[str, float] = {}
    for student, notebooks in submissions.items():
        submit(course, assignment, student, notebooks)
    t0 = time.monotonic()

    def progress(run: StudentRun) -> None:
        log(f"graded {run.student} in {run.seconds:.0f}s: " + ", ".join(
            f"{r.notebook} {r.status} {r.seconds:.0f}s" for r in run.notebooks))

    runs = autograde(course, assignment, submissions, parallel=parallel, progress=progress,
                     cell_timeouts=cell_timeouts, **options)
    seconds["autograde"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    feedback(course, assignment)
    seconds["feedback"] = round(time.monotonic() - t0, 1)
    rows = scores(course, assignment, runs)
    csv_path = course / "build" / "scores.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(scores_csv(rows, assignment))
    return Report(runs, rows, csv_path, seconds)


def demo_ok(rows: list[ScoreRow]) -> list[str]:
    """What is wrong with the demo's scores (empty when complete is full, blank zero and partial between)."""
    by = {r.student: r for r in rows}
    problems = []
    if by["complete"].total != by["complete"].max_score:
        problems.append(f"complete scored {by['complete'].total} of {by['complete'].max_score}")
    if by["blank"].total != 0:
        problems.append(f"blank scored {by['blank'].total}")
    if not 0 < by["partial"].total < by["partial"].max_score:
        problems.append(f"partial scored {by['partial'].total} of {by['partial'].max_score}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=COURSE, help="course directory (default: grading/)")
    parser.add_argument("--assignment", default="lab03", choices=sorted(ASSIGNMENTS))
    parser.add_argument("--parallel", type=int, default=3, help="students graded at once (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default: %(default)s)")
    args = parser.parse_args(argv)
    assignment = ASSIGNMENTS[args.assignment]
    course = args.course.resolve()

    def log(message: str) -> None:
        print(f"# {message}", file=sys.stderr, flush=True)

    t0 = time.monotonic()
    prepare_course(course, assignment)
    log(f"built the course source and the release in {time.monotonic() - t0:.0f}s: {course / 'release'}")
    report = grade(course, assignment, demo_submissions(course, assignment), parallel=args.parallel, log=log,
                   cell_timeout=args.cell_timeout)
    print(scores_table(report.rows, assignment))
    print(f"{report.csv_path}:")
    print(report.csv_path.read_text(), end="")
    log(f"autograde {report.seconds['autograde']:.0f}s, feedback {report.seconds['feedback']:.0f}s, total "
        f"{time.monotonic() - t0:.0f}s; scores in {report.csv_path}, feedback in {course / 'feedback'}")
    problems = demo_ok(report.rows)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
