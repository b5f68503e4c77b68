"""Put back the locked cells a submission deleted, before nbgrader's ``OverwriteCells`` checks the rest.

A deleted graded cell must not vanish from grading (nbgrader would keep whatever score the gradebook had, or none),
and a deleted read-only cell must not change what the notebook runs. nbgrader's own ``add_missing_cells`` fails on
notebooks with read-only cells (it looks up the previous source cell among graded and solution cells only), so
this preprocessor restores every missing locked cell itself, in the course source's order. Deleted exercise cells
stay deleted: they are the student's answer, and an absent answer scores what it earns.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor


def _grade_id(cell: NotebookNode) -> str:
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id", "")


def _locked(cell: NotebookNode) -> bool:
    return bool((cell.get("metadata", {}).get("nbgrader") or {}).get("locked"))


def restore_locked_cells(submitted: NotebookNode, source: NotebookNode) -> list[str]:
    """Insert into ``submitted`` (in place) the locked cells of ``source`` it lacks; returns their grade ids.

    Each goes right after the nearest cell before it in the source that the submission still has.
    """
    position = {_grade_id(c): i for i, c in enumerate(submitted.cells) if _grade_id(c)}
    restored = []
    after = -1  # index in ``submitted`` after which the next missing cell goes
    for cell in source.cells:
        gid = _grade_id(cell)
        if not gid:
            continue
        if gid in position:
            after = position[gid]
            continue
        if not _locked(cell):
            continue
        new = copy.deepcopy(cell)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        new.metadata["editable"] = new.metadata["deletable"] = False
        submitted.cells.insert(after + 1, new)
        position = {_grade_id(c): i for i, c in enumerate(submitted.cells) if _grade_id(c)}
        after = position[gid]
        restored.append(gid)
    return restored


class RestoreLockedCells(NbGraderPreprocessor):
    """nbgrader preprocessor for the autograder's sanitizing step (configured in grading/nbgrader_config.py)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"])) / \
            f"{info['notebook']}.ipynb"
        restored = restore_locked_cells(nb, nbformat.read(path, as_version=4))
        for gid in restored:
            self.log.warning("Cell %s was missing from the submission: restored from the source", gid)
        return nb, resources
