"""Generate the nbgrader course source (``grading/source/<assignment>/``) from ``notebooks/*.ipynb`` and the spec.

The lab notebooks are the only copy of the course: this build marks up a fresh copy of each graded notebook every
time, so the graded version cannot drift from what students use in the lab.

- exercise cells become nbgrader *solution* cells: the code goes between ``### BEGIN SOLUTION`` and ``### END
  SOLUTION`` (the release shows a stub), with the task as comment lines above it;
- graded self-checks become locked *autograder test* cells with points: the hidden checks are injected between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` before the checks run, and a last line turns the share of
  passing checks into the cell's score (nbgrader's partial credit);
- every other code cell is locked (*read-only*): autograding restores it from the source, so a submission is graded
  on its exercise cells only.

Usage::

    python -m grading.build                 # write grading/source/
    python -m grading.build --out /tmp/src  # somewhere else
"""

from __future__ import annotations

import argparse
import copy
import importlib
import re
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat

from .spec import ASSIGNMENTS, Assignment, Exercise, Graded, NotebookSpec, grade_id

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
COURSE = Path(__file__).resolve().parent
SCHEMA_VERSION = 3
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NBGRADER_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")  # as nbgrader matches
TASK_MARK = "# ✏️ "


class BuildError(RuntimeError):
    """The notebooks and the spec disagree (a renamed cell, a self-check of another shape...)."""


def slug_of(cell_id: str) -> str:
    """``01-07-ex1-kubectl`` -> ``ex1-kubectl`` (tools/build_notebooks.py names cells ``NN-II-slug``)."""
    parts = cell_id.split("-", 2)
    return parts[2] if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() else cell_id


def _meta(gid: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def _task_lines(task: str) -> list[str]:
    return textwrap.wrap(task, width=110, initial_indent=TASK_MARK, subsequent_indent="#    ", break_on_hyphens=False)


def solution_source(source: str, exercise: Exercise) -> str:
    """The cell with its solution region marked and the task written above the region."""
    lines = source.split("\n")
    if exercise.region is None:
        start = 1 if lines and lines[0].startswith("#") else 0
        end = len(lines) - 1
    else:
        first, last = exercise.region
        start = next((i for i, ln in enumerate(lines) if first in ln), None)
        if start is None:
            raise BuildError(f"cell {exercise.cell}: no line contains {first!r}")
        end = next((i for i in range(start + 1, len(lines)) if last in lines[i]), None)
        if end is None:
            raise BuildError(f"cell {exercise.cell}: no line after {first!r} contains {last!r}")
        if lines[start] != lines[start].lstrip():
            raise BuildError(f"cell {exercise.cell}: the solution region must start at the top level")
    if start > end:
        raise BuildError(f"cell {exercise.cell}: nothing to turn into a solution")
    region = lines[start:end + 1]
    return "\n".join(lines[:start] + _task_lines(exercise.task) + [BEGIN_SOLUTION, *region, END_SOLUTION]
                     + lines[end + 1:])


def hidden_source(graded: Graded) -> tuple[str, str]:
    """(the hidden module's source, the name of its function for this cell)."""
    module_name, _, function = graded.hidden.rpartition(".")
    module = importlib.import_module(f"grading.hidden.{module_name}")
    if not callable(getattr(module, function, None)):
        raise BuildError(f"grading.hidden.{module_name} has no function {function}")
    source = Path(module.__file__).read_text()
    if re.search(r"^from __future__ import", source, re.M):
        raise BuildError(f"grading/hidden/{module_name}.py is pasted into a cell: it cannot use __future__ imports")
    if any(marker in source for marker in NBGRADER_MARKERS):
        raise BuildError(f"grading/hidden/{module_name}.py must not contain nbgrader's markers ({NBGRADER_MARKERS})")
    return source.strip("\n"), function


def graded_source(source: str, graded: Graded) -> str:
    """The self-check with the hidden checks added before it runs, and the score as the cell's last value."""
    found = re.search(r"^(\w+) = checks\.Checks\(", source, re.M)
    if not found:
        raise BuildError(f"cell {graded.cell}: no `NAME = checks.Checks(...)` line to add hidden checks to")
    var = found.group(1)
    lines = source.split("\n")
    run = next((i for i, ln in enumerate(lines) if re.match(rf"^(\w+ = )?{var}\.run\(", ln)), None)
    if run is None:
        raise BuildError(f"cell {graded.cell}: no top-level `{var}.run()` line")
    module, function = hidden_source(graded)
    hidden = [BEGIN_HIDDEN, module, f"{function}({var}, api, ns)", END_HIDDEN]
    trailer = [f"# Graded: {graded.points} points, shared equally by the checks above; this value is the score.",
               f"round({graded.points} * sum(r.ok for r in {var}.results) / len({var}.results), 2)"]
    return "\n".join(lines[:run] + hidden + lines[run:] + trailer)


def _intro(spec: NotebookSpec, points: int) -> nbformat.NotebookNode:
    text = (f"> **Graded version.** Write your code in the cells marked ✏️ (they say what to do, and start with "
            f"`raise NotImplementedError()`). The self-check at the end is worth **{points} points**, shared "
            "equally by its checks; when grading, more checks run that you cannot see, and the grader reads the "
            "cluster itself. The other code cells are read-only: grading runs the original version of them.")
    return nbformat.v4.new_markdown_cell(text, id=f"{spec.prefix}-00-grading-note")


def build_notebook(nb: nbformat.NotebookNode, spec: NotebookSpec) -> nbformat.NotebookNode:
    """The nbgrader source version of one lab notebook (a new object; ``nb`` is not modified)."""
    out = copy.deepcopy(nb)
    exercises = {e.cell: e for e in spec.exercises}
    graded = {g.cell: g for g in spec.graded}
    seen: dict[str, int] = {}
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        slug = slug_of(cell.get("id", ""))
        seen[slug] = seen.get(slug, 0) + 1
        gid = grade_id(spec, slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
        cell.outputs, cell.execution_count = [], None
        if slug in exercises:
            cell.source = solution_source(cell.source, exercises[slug])
            cell.metadata["nbgrader"] = _meta(gid, solution=True)
        elif slug in graded:
            cell.source = graded_source(cell.source, graded[slug])
            cell.metadata["nbgrader"] = _meta(gid, grade=True, locked=True, points=graded[slug].points)
        else:
            cell.metadata["nbgrader"] = _meta(gid, locked=True)
    missing = sorted((set(exercises) | set(graded) | set(spec.context)) - set(seen))
    if missing:
        raise BuildError(f"{spec.filename}: no code cell with slug {', '.join(missing)} (renamed? update "
                         "grading/spec.py)")
    out.cells.insert(1, _intro(spec, sum(g.points for g in spec.graded)))
    nbformat.validate(out)
    return out


def build_assignment(assignment: Assignment, out_dir: Path, notebooks_dir: Path = NOTEBOOKS) -> list[Path]:
    """Write ``out_dir/<assignment>/*.ipynb`` afresh; returns the files written."""
    target = out_dir / assignment.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for spec in assignment.notebooks:
        source = notebooks_dir / spec.filename
        if not source.exists():
            raise BuildError(f"{source} does not exist (run python tools/build_notebooks.py)")
        nb = build_notebook(nbformat.read(source, as_version=4), spec)
        path = target / spec.filename
        path.write_text(nbformat.writes(nb) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help=f"default: all ({', '.join(ASSIGNMENTS)})")
    parser.add_argument("--out", type=Path, default=COURSE / "source", help="default: grading/source")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="default: notebooks/")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    try:
        for name in args.assignments or list(ASSIGNMENTS):
            for path in build_assignment(ASSIGNMENTS[name], args.out, args.notebooks):
                print(f"wrote {path}")
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
