"""The nbgrader course's pure parts: the build from notebooks + spec, nbgrader's release of it, restoring deleted
cells, the executor's helpers and the demo's submissions and score formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import pytest
from kubernetes import client
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from grading import build, demo, execute, restore
from grading.hidden import lab03
from grading.spec import LAB03, Exercise, Graded, NotebookSpec, grade_id

REPO = Path(__file__).resolve().parents[2]

SELF_CHECK = """# Self-check: the thing exists.
part9 = checks.Checks("Self-check: Part 9")
part9.add(lambda: (True, ""), "ok", "not ok", "do it")
_ = part9.run()"""

SPEC = NotebookSpec("09-demo.ipynb",
                    exercises=(Exercise("ex1", "Do exercise 1."),
                               Exercise("ex2", "Only the middle.", region=("start()", "end()"))),
                    graded=(Graded("self-check", 2, "lab03.add_nb01"),))


def toy_notebook() -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# Title", id="09-01-title"),
             new_code_cell("x = 1", id="09-02-parameters"),
             new_code_cell("import os", id="09-03-setup"),
             new_code_cell("# Exercise 1 as in the seed.\nsh('kubectl create secret ...')", id="09-04-ex1"),
             new_code_cell("before()\nstart()\nmiddle()\nend()\nafter()", id="09-05-ex2"),
             new_code_cell("print('a drill')", id="09-06-drill"),
             new_code_cell(SELF_CHECK, id="09-07-self-check")]
    return new_notebook(cells=cells)


def by_gid(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def test_slug_is_the_stable_part_of_the_cell_id():
    assert build.slug_of("01-07-ex1-kubectl") == "ex1-kubectl"
    assert build.slug_of("01-46-self-check") == "self-check"
    assert build.slug_of("custom-id") == "custom-id"


def test_whole_cell_exercise_keeps_its_first_comment_and_gets_the_task():
    source = build.solution_source("# Exercise 1 as in the seed.\nsh('a')\nsh('b')", Exercise("ex1", "Do it."))
    assert source.split("\n") == ["# Exercise 1 as in the seed.", "# ✏️ Do it.", build.BEGIN_SOLUTION, "sh('a')",
                                  "sh('b')", build.END_SOLUTION]


def test_region_exercise_marks_only_the_region():
    source = build.solution_source("before()\nstart()\nmiddle()\nend()\nafter()",
                                   Exercise("ex2", "Middle.", region=("start()", "end()")))
    assert source.split("\n") == ["before()", "# ✏️ Middle.", build.BEGIN_SOLUTION, "start()", "middle()", "end()",
                                  build.END_SOLUTION, "after()"]
    with pytest.raises(build.BuildError, match="no line contains 'nowhere'"):
        build.solution_source("a\nb", Exercise("ex2", "x", region=("nowhere", "b")))
    with pytest.raises(build.BuildError, match="top level"):
        build.solution_source("if x:\n    start()\n    end()", Exercise("ex2", "x", region=("start()", "end()")))


def test_long_tasks_wrap_as_comments_without_splitting_names():
    lines = build.solution_source("# c\nx()", Exercise("e", "create app-with-sa " * 12)).split("\n")[1:-3]
    assert all(ln.startswith("#") and len(ln) <= 110 for ln in lines) and len(lines) > 1
    assert not any(ln.endswith("app-") for ln in lines)


def test_graded_cell_gets_hidden_checks_before_it_runs_and_its_score_last():
    source = build.graded_source(SELF_CHECK, Graded("self-check", 2, "lab03.add_nb01"))
    lines = source.split("\n")
    begin, end, run = lines.index(build.BEGIN_HIDDEN), lines.index(build.END_HIDDEN), lines.index("_ = part9.run()")
    assert begin < end < run
    assert lines[end - 1] == "add_nb01(part9, api, ns)"
    assert "def expect_login(" in "\n".join(lines[begin:end])
    assert lines[-1] == "round(2 * sum(r.ok for r in part9.results) / len(part9.results), 2)"
    compile(source, "<graded>", "exec")  # the injected module is valid inside a cell


def test_graded_cell_needs_a_checks_collection():
    with pytest.raises(build.BuildError, match="checks.Checks"):
        build.graded_source("print('no checks here')", Graded("self-check", 1, "lab03.add_nb01"))
    with pytest.raises(build.BuildError, match="has no function"):
        build.hidden_source(Graded("self-check", 1, "lab03.add_nothing"))


def test_build_notebook_marks_every_code_cell_and_adds_the_note():
    nb = build.build_notebook(toy_notebook(), SPEC)
    cells = by_gid(nb)
    assert set(cells) == {"09-parameters", "09-setup", "09-ex1", "09-ex2", "09-drill", "09-self-check"}
    meta = {g: c.metadata["nbgrader"] for g, c in cells.items()}
    assert meta["09-ex1"]["solution"] and not meta["09-ex1"]["locked"] and not meta["09-ex1"]["grade"]
    assert meta["09-self-check"]["grade"] and meta["09-self-check"]["locked"] and meta["09-self-check"]["points"] == 2
    assert all(meta[g]["locked"] and not meta[g]["grade"] for g in ("09-parameters", "09-setup", "09-drill"))
    assert nb.cells[1].id == "09-00-grading-note" and "2 points" in nb.cells[1].source
    assert toy_notebook().cells[3].source == nbformat.from_dict(toy_notebook()).cells[3].source  # input untouched


def test_build_stops_when_a_spec_cell_is_gone():
    nb = toy_notebook()
    nb.cells = [c for c in nb.cells if c.id != "09-04-ex1"]
    with pytest.raises(build.BuildError, match="no code cell with slug ex1"):
        build.build_notebook(nb, SPEC)


def test_the_lab_notebooks_match_the_spec(tmp_path):
    written = build.build_assignment(LAB03, tmp_path)
    assert [p.name for p in written] == [s.filename for s in LAB03.notebooks]
    for spec, path in zip(LAB03.notebooks, written, strict=True):
        cells = by_gid(nbformat.read(path, as_version=4))
        for exercise in spec.exercises:
            assert cells[grade_id(spec, exercise.cell)].metadata["nbgrader"]["solution"]
        for slug in spec.context:
            assert cells[grade_id(spec, slug)].metadata["nbgrader"]["locked"]
    assert set(LAB03.demo_partial) <= {grade_id(s, e.cell) for s in LAB03.notebooks for e in s.exercises}


def test_nbgraders_release_of_the_build_has_stubs_and_no_hidden_checks():
    nb = build.build_notebook(toy_notebook(), SPEC)
    resources = {"language": "python"}
    nb, _ = ClearSolutions().preprocess(nb, resources)
    nb, _ = ClearHiddenTests().preprocess(nb, resources)
    cells = by_gid(nb)
    assert cells["09-ex1"].source.split("\n") == ["# Exercise 1 as in the seed.", "# ✏️ Do exercise 1.",
                                                  "# YOUR CODE HERE", "raise NotImplementedError()"]
    assert cells["09-ex2"].source.endswith("raise NotImplementedError()\nafter()")
    graded = cells["09-self-check"].source
    assert "expect_login" not in graded and "HIDDEN" not in graded and "_ = part9.run()" in graded


def test_restore_puts_deleted_locked_cells_back_in_place_but_not_answers():
    source = build.build_notebook(toy_notebook(), SPEC)
    submitted = nbformat.from_dict(source)
    submitted.cells = [c for c in submitted.cells
                       if by_gid(new_notebook(cells=[c])).keys().isdisjoint({"09-setup", "09-ex1", "09-self-check"})]
    restored = restore.restore_locked_cells(submitted, source)
    assert restored == ["09-setup", "09-self-check"]
    order = [c.metadata["nbgrader"]["grade_id"] for c in submitted.cells if "nbgrader" in c.metadata]
    assert order == ["09-parameters", "09-setup", "09-ex2", "09-drill", "09-self-check"]
    back = by_gid(submitted)["09-self-check"]
    assert back.source == by_gid(source)["09-self-check"].source and back.metadata["deletable"] is False
    assert restore.restore_locked_cells(submitted, source) == []


def test_kernel_score_reads_only_a_number():
    cell = new_code_cell("x")
    assert execute.kernel_score(cell) is None
    cell.outputs = [new_output("execute_result", data={"text/plain": "2.5"}, execution_count=1)]
    assert execute.kernel_score(cell) == 2.5
    cell.outputs = [new_output("execute_result", data={"text/plain": "'full marks'"}, execution_count=1)]
    assert execute.kernel_score(cell) is None


def test_last_expression_is_split_off_like_a_notebook_cell():
    body, last = execute.split_last_expression("a = 1\nb = a + 1\nround(b * 1.5, 2)")
    ns: dict = {}
    exec(compile(body, "<t>", "exec"), ns)
    assert eval(compile(last, "<t>", "eval"), ns) == 3.0
    assert execute.split_last_expression("a = 1")[1] is None


def test_error_outputs_show_one_line_and_no_code():
    out = execute.error_output("NotGraded", "the kernel died while running cell 01-ex1")
    assert out.traceback == ["NotGraded: the kernel died while running cell 01-ex1"]
    nbformat.validate(new_notebook(cells=[new_code_cell("x", outputs=[out])]))


def _secret(auths: dict | None, stype: str = "kubernetes.io/dockerconfigjson") -> client.V1Secret:
    data = {".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()} if auths else {}
    return client.V1Secret(type=stype, data=data)


def test_hidden_login_check_reads_auth_or_username_and_password():
    auth = base64.b64encode(b"user1:pass1").decode()
    assert lab03._entry_login({"auth": auth}) == "user1:pass1"
    assert lab03._entry_login({"username": "u", "password": "p"}) == "u:p"
    assert lab03._auths(_secret({"docker.io": {"auth": auth}})) == {"docker.io": {"auth": auth}}
    assert lab03._auths(_secret({"docker.io": {}}, stype="Opaque")) == {}


def test_hidden_login_check_never_shows_a_password(monkeypatch):
    stored = _secret({"myregistry.com": {"auth": base64.b64encode(b"username:wrong-secret-pw").decode()}})
    monkeypatch.setattr(lab03, "_secret", lambda api, ns, name: stored)
    ok, detail = lab03.expect_login(None, "ns", "s", ("myregistry.com",), "username", "password")
    assert not ok and "wrong-secret-pw" not in detail and "password" in detail
    ok, detail = lab03.expect_login(None, "ns", "s", ("docker.io",), "username", "password")
    assert not ok and detail == "secret s has no entry for docker.io (entries: myregistry.com)"


def test_solve_answers_chosen_exercises_without_markers():
    source = build.build_notebook(toy_notebook(), SPEC)
    released = nbformat.from_dict(source)
    ClearSolutions().preprocess(released, {"language": "python"})
    solved = demo.solve({"n.ipynb": released}, {"n.ipynb": source}, lambda gid: gid == "09-ex1")["n.ipynb"]
    cells = by_gid(solved)
    assert cells["09-ex1"].source.split("\n") == ["# Exercise 1 as in the seed.", "# ✏️ Do exercise 1.",
                                                  "sh('kubectl create secret ...')"]
    assert cells["09-ex2"].source.endswith("raise NotImplementedError()\nafter()")
    assert by_gid(released)["09-ex1"].source.endswith("raise NotImplementedError()")  # the release is untouched


def test_score_table_csv_and_the_demos_verdict():
    rows = [demo.ScoreRow("complete", {"a": 3.0, "b": 4.0}, {"a": 3.0, "b": 4.0}),
            demo.ScoreRow("partial", {"a": 2.0, "b": 1.33}, {"a": 3.0, "b": 4.0}),
            demo.ScoreRow("blank", {"a": 0.0, "b": 0.0}, {"a": 3.0, "b": 4.0}, "b: failed")]
    assignment = type("A", (), {"notebooks": [type("S", (), {"stem": "a"}), type("S", (), {"stem": "b"})]})
    assert demo.scores_csv(rows, assignment).splitlines() == [
        "student,a,b,total,max_score,notes", "complete,3.00,4.00,7.00,7.00,", "partial,2.00,1.33,3.33,7.00,",
        "blank,0.00,0.00,0.00,7.00,b: failed"]
    assert demo.scores_table(rows, assignment).splitlines()[1] == "complete  3.00 / 3  4.00 / 4  7.00 / 7"
    assert demo.demo_ok(rows) == []
    rows[2].scores["a"] = 1.0
    rows[1].scores.update(a=3.0, b=4.0)
    assert demo.demo_ok(rows) == ["blank scored 1.0", "partial scored 7.0 of 7.0"]
