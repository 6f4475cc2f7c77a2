"""nbgrader's metadata in solutions/, exercises/ as nbgrader releases them, and the grading mode.

The slow part, real nbgrader from generate_assignment to autograde, is tests/grading/nbgrader_run.py
(`make grade-test`).
"""
import asyncio
import copy

import nbformat
import pytest

from coursekit import authoring, grading, progress
from coursekit.exercises import Busy, Chapter, Fail

SOLUTIONS = sorted((authoring.ROOT / "solutions").glob("*.ipynb"))


# --- the metadata in solutions/ -----------------------------------------------------------------
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_carries_nbgrader_metadata(path):
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if authoring.check_slug(c)]
    answers = [c for c in nb.cells if authoring.is_answer_cell(c)]
    assert answers, f"{path.name} has no answer cells"
    for cell in checks:
        meta = cell.metadata.get("nbgrader", {})
        assert meta.get("grade") is True and meta.get("locked") is True and meta.get("points") == 1, (
            f"{path.name}: the check cell for {authoring.check_slug(cell)!r} is not a graded, locked cell: "
            f"run `python -m coursekit execute {path.relative_to(authoring.ROOT)}`")
        assert meta["grade_id"] == f"check-{authoring.check_slug(cell)}"
    for cell in answers:
        meta = cell.metadata.get("nbgrader", {})
        assert meta.get("solution") is True and meta.get("grade_id", "").startswith("answer-"), (
            f"{path.name}: an answer cell is not an nbgrader solution cell: run `python -m coursekit execute`")
    # All of it exactly as the authoring step writes it (so nothing was edited by hand).
    assert authoring.mark_check_cells(copy.deepcopy(nb)) == nb, (
        f"{path.name}: nbgrader metadata differs from what the authoring step writes: run "
        f"`python -m coursekit execute {path.relative_to(authoring.ROOT)}`")


def _notebook(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def test_grade_ids_come_from_the_check_slugs():
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    nb = authoring.mark_check_cells(_notebook(
        code("import coursekit"),
        md("## Task"),
        code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"),
        code("def g():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\n"),
        code("f()"),
        code('await ex.check("two-parts")'),
        code("def h():\n    ### BEGIN SOLUTION\n    return 3\n    ### END SOLUTION\n"),
    ))
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert ids == ["setup-1", None, "answer-two-parts", "answer-two-parts-2", "setup-2", "check-two-parts",
                   "answer-1"]
    assert [c.metadata.get("nbgrader", {}).get("points") for c in nb.cells][5] == 1
    assert authoring.mark_check_cells(copy.deepcopy(nb)) == nb  # stable: a second run changes nothing


def test_a_lesson_without_answers_gets_no_nbgrader_metadata():
    nb = _notebook(nbformat.v4.new_code_cell('await ex.check("demo")'))
    nb.cells[0].metadata["nbgrader"] = {"grade": True}
    nb = authoring.mark_check_cells(nb)
    assert "nbgrader" not in nb.cells[0].metadata and authoring.check_slug(nb.cells[0]) == "demo"


def test_make_exercises_writes_the_metadata_into_solutions_and_keeps_outputs(tmp_path, monkeypatch):
    source = SOLUTIONS[0]
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata.pop("coursekit", None)
    (tmp_path / "solutions").mkdir()
    target = tmp_path / "solutions" / source.name
    target.write_text(authoring.dumps(nb))
    monkeypatch.setattr(authoring, "ROOT", tmp_path)
    assert authoring.generate_exercises(write=False) == [target, tmp_path / "exercises" / source.name]
    authoring.generate_exercises()
    assert target.read_text() == source.read_text()  # the metadata back, every output as it was
    assert authoring.generate_exercises(write=False) == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercises_are_what_nbgrader_releases(path):
    """nbgrader's own preprocessors (those of generate_assignment that change cells) on the solution
    give exercises/ exactly, but for nbgrader's checksums. tests/grading/ runs the real command."""
    from nbgrader.preprocessors import ClearOutput, ClearSolutions, LockCells

    nb = nbformat.read(path, as_version=4)
    resources = {"language": "python"}
    for step in (LockCells(), ClearSolutions(), ClearOutput()):
        nb, resources = step.preprocess(nb, resources)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    exercise = nbformat.read(authoring.exercise_path(path), as_version=4)
    assert [c.source for c in exercise.cells] == [c.source for c in nb.cells]
    assert exercise == nb


# --- the grading mode ---------------------------------------------------------------------------
def _chapter(number, outcomes):
    """A chapter whose one check returns (or raises) the next of `outcomes` on each run."""
    chapter = Chapter(number, "Demo")
    runs = []

    @chapter.exercise("task", "T")
    async def check(ctx):
        outcome = outcomes[min(len(runs), len(outcomes) - 1)]
        runs.append(outcome)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return chapter, runs


@pytest.fixture
def grading_on(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    monkeypatch.setenv(grading.ENV, "1")


def test_grading_mode_raises_with_the_verdict_after_showing_it(grading_on, capsys):
    chapter, _ = _chapter("91", [Fail("6", "5")])
    with pytest.raises(AssertionError) as caught:
        asyncio.run(chapter.session().check("task"))
    assert "NOT YET · 91.task" in str(caught.value) and "Expected: 6" in str(caught.value)
    assert "NOT YET · 91.task" in capsys.readouterr().out  # displayed before raising
    assert progress.load() == {}  # grading records nothing


def test_grading_mode_lets_a_pass_through(grading_on):
    chapter, _ = _chapter("92", ["well done"])
    verdict = asyncio.run(chapter.session().check("task"))
    assert verdict.passed and progress.load() == {}


def test_not_judged_is_run_twice_more_then_fails_and_says_why(grading_on, capsys):
    chapter, runs = _chapter("93", [Busy("a timing")])
    with pytest.raises(AssertionError, match="could not judge the answer in 3 tries") as caught:
        asyncio.run(chapter.session().check("task"))
    assert len(runs) == 6  # each judge() runs it twice; grading asks for two more judgements
    assert "machine was too busy" in str(caught.value)
    assert capsys.readouterr().out.count("grading runs the check again") == 2


def test_not_judged_then_judged_gets_its_points(grading_on):
    chapter, runs = _chapter("94", [Busy("a timing"), Busy("a timing"), "well done"])
    verdict = asyncio.run(chapter.session().check("task"))
    assert verdict.passed and len(runs) == 3


def test_without_grading_mode_a_check_never_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    monkeypatch.delenv(grading.ENV, raising=False)
    chapter, runs = _chapter("90", [Fail("6", "5")])
    verdict = asyncio.run(chapter.session().check("task"))
    assert verdict.passed is False and len(runs) == 1 and progress.load()["90.task"]["attempts"] == 1


@pytest.mark.parametrize("value,on", [("1", True), ("true", True), ("yes", True), ("0", False), ("", False)])
def test_grading_switch(monkeypatch, value, on):
    monkeypatch.setenv(grading.ENV, value)
    assert grading.enabled() is on


def test_init_writes_a_course_directory(tmp_path):
    config, made = grading.init(tmp_path / "course", ["1"])
    assert [p.relative_to(tmp_path / "course").as_posix() for p in made] == ["source/ch01/01-sync-django.ipynb"]
    text = config.read_text()
    assert 'os.environ["COURSEKIT_GRADING"] = "1"' in text and "c.Execute.timeout = 600" in text
    compile(text, str(config), "exec")
    with pytest.raises(SystemExit, match="No solutions for chapter"):
        grading.init(tmp_path / "other", ["77"])
