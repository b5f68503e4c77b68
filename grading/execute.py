"""The autograder's executor: nbgrader's ``Execute``, made safe against kernels that die, hang or lie.

nbgrader scores an autograder cell from the outputs the student's kernel produced: no error means full marks. That
trusts the kernel, which runs the student's code, so :class:`GradingExecute` changes three things:

- **A dead kernel or a timed-out cell ends the run.** Every graded cell from there on gets a ``NotGraded`` error
  (zero points) instead of executing, or worse, of keeping no output at all (which nbgrader would count as a pass).
- **Graded cells are re-checked outside the kernel.** After the kernel runs a graded cell, the grader runs the
  gradebook's copy of it (hidden checks included) in its own process, after the notebook's trusted context cells
  (``parameters``, ``setup``), against the same cluster. The cell's outputs are replaced by that run's ✅/❌ lines
  and score: variables, monkey-patches, input transformers or printed text in the kernel cannot change a grade.
- **The score is always explicit.** The graded cell's last value is its partial credit; the grader writes it
  itself, so an odd value (a string, a negative number) can never turn into full marks.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import traceback
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute
from traitlets import Bool

from .spec import find_notebook, grade_id

NOT_GRADED = "NotGraded"
NOT_RUN = "; this check did not run"


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output whose traceback is a single line: no source code is ever shown."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _stdout(text: str) -> NotebookNode:
    return new_output("stream", name="stdout", text=text)


def kernel_score(cell: NotebookNode) -> float | None:
    """The score the kernel's own run of a graded cell reported (its numeric result), if any."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "execute_result":
            try:
                return float(str(out.get("data", {}).get("text/plain", "")).strip())
            except ValueError:
                return None
    return None


def split_last_expression(source: str) -> tuple[ast.Module, ast.Expression | None]:
    """(the statements, the final expression or None): the cell's value is what a notebook shows as Out[n]."""
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        return tree, last
    return tree, None


class Verifier:
    """Runs graded cells in the grader's process: the gradebook's sources, a fresh namespace, the cluster."""

    def __init__(self, db_url: str, assignment: str, notebook: str, workdir: str, log: Any) -> None:
        self.db_url, self.assignment, self.notebook, self.workdir, self.log = (db_url, assignment, notebook,
                                                                               workdir, log)
        self._context: dict[str, Any] | None = None
        self._context_error = ""

    def _source(self, gid: str) -> str:
        with Gradebook(self.db_url) as gb:
            return gb.find_source_cell(gid, self.notebook, self.assignment).source

    def _run(self, source: str, namespace: dict[str, Any], name: str) -> tuple[str, Any]:
        """Execute ``source`` in ``namespace`` from the notebook's folder; (its stdout and stderr, its value)."""
        body, last = split_last_expression(source)
        buf = io.StringIO()
        cwd = os.getcwd()
        try:
            os.chdir(self.workdir)
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                exec(compile(body, f"<{name}>", "exec"), namespace)
                value = eval(compile(last, f"<{name}>", "eval"), namespace) if last is not None else None
        finally:
            os.chdir(cwd)
        return buf.getvalue(), value

    def _context_namespace(self) -> dict[str, Any]:
        if self._context is None:
            spec = find_notebook(self.notebook)
            if spec is None:
                raise LookupError(f"notebook {self.notebook} is not in grading/spec.py")
            namespace: dict[str, Any] = {"__name__": "__graded__", "__builtins__": builtins,
                                         "display": lambda *objs, **_: print(*objs)}
            for slug in spec.context:
                self._run(self._source(grade_id(spec, slug)), namespace, grade_id(spec, slug))
            self._context = namespace
        return dict(self._context)

    def grade(self, cell: NotebookNode) -> tuple[float, str]:
        """(score, what the checks printed) of a graded cell, re-run here; 0 with the reason when it cannot run."""
        gid = cell.metadata["nbgrader"]["grade_id"]
        points = float(cell.metadata["nbgrader"]["points"])
        try:
            namespace = self._context_namespace()
            text, value = self._run(self._source(gid), namespace, gid)
        except MissingEntry:
            return 0.0, f"❌ the grader has no source for cell {gid}\n"
        except Exception as e:
            self.log.error("grading %s/%s: %s", self.notebook, gid, traceback.format_exc())
            return 0.0, f"❌ the grader could not run the checks: {type(e).__name__}: {e}\n"
        try:
            score = float(value)
        except (TypeError, ValueError):
            return 0.0, text + f"❌ the checks gave no score ({value!r})\n"
        if not 0.0 <= score <= points:
            return 0.0, text + f"❌ the checks gave a score out of range ({score} of {points})\n"
        return score, text


class GradingExecute(Execute):
    """nbgrader's executor with the rules of :mod:`grading.execute`; configured in grading/nbgrader_config.py."""

    # A timeout stops the run: interrupting a kernel that may ignore SIGINT would only add a second wait.
    interrupt_on_timeout = Bool(False, help="Interrupt the kernel on a timeout (the run stops anyway).").tag(
        config=True)
    verify = Bool(True, help="Re-run graded cells in the grader's process (the grade comes from that run).").tag(
        config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        self._stopped = ""
        self._verifier = Verifier(info["db_url"], info["assignment"], info["notebook"],
                                  resources.get("metadata", {}).get("path") or os.getcwd(), self.log)
        return super().preprocess(nb, resources)

    def _name(self, cell: NotebookNode, index: int) -> str:
        return (cell.metadata.get("nbgrader") or {}).get("grade_id") or f"#{index}"

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type != "code":
            return cell, resources
        graded = utils.is_grade(cell)
        if not self._stopped:
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self._stopped = f"the kernel died while running cell {self._name(cell, index)}"
                cell.outputs.append(error_output("DeadKernelError", self._stopped))
            except CellTimeoutError:
                self._stopped = f"cell {self._name(cell, index)} ran longer than {self.timeout} s"
                cell.outputs.append(error_output("CellTimeoutError", self._stopped))
            else:
                if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):  # nbgrader's interrupt path
                    self._stopped = f"cell {self._name(cell, index)} ran longer than {self.timeout} s"
            if self._stopped:
                self.log.warning("%s: %s; later graded cells score zero", resources["nbgrader"]["notebook"],
                                 self._stopped)
        if graded:
            cell.outputs = self._graded_outputs(cell)
        return cell, resources

    def _graded_outputs(self, cell: NotebookNode) -> list[NotebookNode]:
        if self._stopped:
            return [error_output(NOT_GRADED, self._stopped + NOT_RUN)]
        if not self.verify:
            return cell.outputs
        reported = kernel_score(cell)
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        score, text = self._verifier.grade(cell)
        outputs = [_stdout(text)] if text else []
        if errors:
            note = f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
            outputs.append(_stdout(f"note: in the notebook's own run this cell failed ({note}); the grade is the "
                                   "grader's run of it\n"))
        elif reported != score:
            outputs.append(_stdout(f"note: the notebook's own run of this cell reported {reported}; the grade is "
                                   f"the grader's run of it ({score})\n"))
        outputs.append(new_output("execute_result", data={"text/plain": repr(score)},
                                  execution_count=cell.get("execution_count")))
        return outputs
