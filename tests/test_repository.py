"""The repository's own consistency: executed notebooks, generated exercises, CI wiring."""
from pathlib import Path

import nbformat
import pytest

from coursekit import authoring

ROOT = Path(__file__).resolve().parent.parent
VALIDATED = authoring.lesson_and_solution_notebooks()


@pytest.mark.parametrize("path", VALIDATED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_code_cell_was_executed_and_stored(path):
    assert authoring.unexecuted_cells(path) == [], (
        f"{path.name}: code cells without a stored execution; run `make notebooks`")
    nb = nbformat.read(path, as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no outputs stored at all"


def test_there_is_something_to_validate():
    names = {p.name.split("-")[0] for p in VALIDATED if p.parent.name == "notebooks"}
    assert {"00", "01"} <= names


def test_exercises_are_generated_from_solutions_and_up_to_date():
    assert authoring.generate_exercises(write=False) == [], "exercises/ is stale: run `make exercises`"
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    exercises = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert solutions == exercises


@pytest.mark.parametrize("path", sorted((ROOT / "exercises").glob("*.ipynb")), ids=lambda p: p.name)
def test_exercises_ship_without_outputs_or_answers(path):
    nb = nbformat.read(path, as_version=4)
    text = path.read_text()
    assert authoring.BEGIN not in text and authoring.END not in text
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert "raise NotImplementedError()" in text


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_every_chapter_with_checks_has_a_solution_notebook():
    from coursekit.exercises import all_chapters

    for chapter in all_chapters():
        if chapter.number == "00":
            continue  # the welcome chapter's warm-up lives in the lesson itself
        assert list((ROOT / "solutions").glob(f"{chapter.number}-*.ipynb")), f"no solutions/{chapter.number}-*"


@pytest.mark.parametrize("path", VALIDATED + sorted((ROOT / "exercises").glob("*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_check_cells_carry_their_metadata(path):
    """Tools find check cells by metadata; the authoring step writes it (make notebooks / exercises)."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        calls = authoring.CHECK_CALL.findall(cell.source) if cell.cell_type == "code" else []
        assert authoring.check_slug(cell) == (calls[0] if calls else None), (
            f"cell {index}: run `make notebooks` (or `make exercises`) to mark check cells")
