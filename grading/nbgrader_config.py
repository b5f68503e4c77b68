"""nbgrader configuration of the lab's course. The course directory is where nbgrader runs (this folder for
``make grade-demo``); a course elsewhere loads this file with ``load_subconfig``.

The course source is generated (``python -m grading.build``); ``python -m grading.demo`` runs everything.
"""

import os
import sys
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: the grading package

from grading.execute import GradingExecute  # noqa: E402
from grading.restore import RestoreLockedCells  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "registry-security-lab"
# Students are graded in parallel, each in its own process: let SQLite writers wait for each other.
c.CourseDirectory.db_url = f"sqlite:///{Path(os.getcwd()).resolve() / 'gradebook.db'}?timeout=120"
# Files the notebooks write (lab-work/) stay out of the autograded and feedback folders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "lab-work"]

# Release: exercises become this stub; the hidden tests are removed from the released cells.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Autograding: nbgrader's pipeline, with GradingExecute in place of Execute (see grading/execute.py).
c.Autograde.autograde_preprocessors = [GradingExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.Execute.timeout = 120  # seconds per cell; a timeout ends the run and the remaining graded cells score zero
c.Execute.kernel_name = "labhelpers"  # the venv's own kernel (labhelpers.regress.ensure_kernelspec installs it)
# A deleted graded (or read-only) cell comes back and runs; nbgrader's add_missing_cells fails on read-only cells.
c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreLockedCells,
                                      OverwriteCells, CheckCellMetadata]

# Feedback: what nbgrader shows, minus the hidden tests' code (their ✅/❌ lines stay).
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
