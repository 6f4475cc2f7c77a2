"""The course's own build steps: execute notebooks and generate exercises.

`solutions/NN-*.ipynb` is the single source of each chapter's exercises. Code between
`### BEGIN SOLUTION` and `### END SOLUTION` (nbgrader's markers, so instructors can
use nbgrader too) is replaced in `exercises/NN-*.ipynb` by a stub that raises
NotImplementedError; markdown between the markers becomes "YOUR ANSWER HERE".

The same step writes nbgrader's cell metadata into solutions/ (`mark_check_cells`), so that
`nbgrader generate_assignment` and `autograde` work on them as they are: answer cells are
solution cells, check cells are graded (one point each) and locked, the other code cells are
locked. docs/instructors.md shows the commands.
"""
import copy
import json
import re
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_REGION = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*(\n|$)",
                     re.MULTILINE | re.DOTALL)


def strip_solutions(source, cell_type="code"):
    def stub(match):  # as nbgrader's ClearSolutions writes it, to the last newline
        indent, end = match.group(1), match.group(2)
        if cell_type == "markdown":
            return f"{indent}YOUR ANSWER HERE{end}"
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(){end}"

    out = _REGION.sub(stub, source)
    if BEGIN in out or END in out:
        raise ValueError(f"unbalanced solution markers in:\n{source}")
    return out


CHECK_CALL = re.compile(r"""await\s+ex\.check\(\s*["']([a-z0-9-]+)["']""")


def check_slug(cell):
    """The exercise a check cell checks (from its metadata), or None for any other cell."""
    return cell.get("metadata", {}).get("coursekit", {}).get("check")


def mark_check_cells(nb):
    """Write `metadata.coursekit.check = slug` on every cell that runs `await ex.check("slug")`,
    and, in a notebook with answers, nbgrader's metadata on every cell (`mark_for_nbgrader`).

    Tests and tools find check cells by this metadata (as nbgrader does with grade_id), never by
    searching sources; this authoring step is the one place that reads the source to set it.
    """
    for cell in nb.cells:
        found = CHECK_CALL.findall(cell.source) if cell.cell_type == "code" else []
        meta = cell.metadata.setdefault("coursekit", {})
        if len(found) == 1:
            meta["check"] = found[0]
        else:
            if len(found) > 1:
                raise ValueError(f"one check per cell, please: {found}")
            meta.pop("check", None)
        if not meta:
            cell.metadata.pop("coursekit")
    return mark_for_nbgrader(nb)


NBGRADER_SCHEMA = 3
POINTS_PER_CHECK = 1


def is_answer_cell(cell):
    return cell.cell_type == "code" and BEGIN in cell.source


def _nbgrader(grade_id, *, solution=False, grade=False, locked=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": NBGRADER_SCHEMA,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = POINTS_PER_CHECK
    return meta


def mark_for_nbgrader(nb):
    """nbgrader's cell metadata, derived from the notebook (run after the check cells are marked).

    - an answer cell (a code cell with `### BEGIN SOLUTION`): `solution`, grade_id `answer-SLUG`
      (SLUG: the check that follows it; `answer-SLUG-2` for a second answer cell before that check);
    - a check cell (`metadata.coursekit.check`): `grade`, `locked`, one point, grade_id `check-SLUG`.
      In grading mode (COURSEKIT_GRADING=1) a check that does not pass raises, so it scores 0;
    - every other code cell: `locked` (nbgrader restores it when grading), grade_id `setup-N`.
    Markdown cells carry none. A notebook without answers (a lesson) carries none at all.
    """
    if not any(is_answer_cell(cell) for cell in nb.cells):
        for cell in nb.cells:
            cell.metadata.pop("nbgrader", None)
        return nb
    used, waiting, setups, loose = set(), [], 0, 0

    def unique(grade_id):
        candidate, n = grade_id, 1
        while candidate in used:
            n += 1
            candidate = f"{grade_id}-{n}"
        used.add(candidate)
        return candidate

    for cell in nb.cells:
        slug = check_slug(cell)
        if is_answer_cell(cell):
            waiting.append(cell)
        elif slug:
            cell.metadata["nbgrader"] = _nbgrader(unique(f"check-{slug}"), grade=True, locked=True)
            for answer in waiting:
                answer.metadata["nbgrader"] = _nbgrader(unique(f"answer-{slug}"), solution=True)
            waiting = []
        elif cell.cell_type == "code":
            setups += 1
            cell.metadata["nbgrader"] = _nbgrader(unique(f"setup-{setups}"), locked=True)
        else:
            cell.metadata.pop("nbgrader", None)
    for answer in waiting:  # answers with no check after them (a chapter still being written)
        loose += 1
        answer.metadata["nbgrader"] = _nbgrader(unique(f"answer-{loose}"), solution=True)
    return nb


def exercise_from_solution(solution):
    """A clean exercise notebook (no outputs, no solutions) from a solution notebook.

    It is what `nbgrader generate_assignment` makes of the solution (tests/test_grading.py
    compares them), less nbgrader's checksums: the same stubs, and the same cells locked
    (check and set-up cells cannot be edited or deleted, answer cells cannot be deleted).
    """
    nb = mark_check_cells(copy.deepcopy(solution))
    nb.metadata.pop("widgets", None)
    cells = []
    for cell in nb.cells:
        if "solution-only" in cell.get("metadata", {}).get("tags", []):
            continue
        cell.source = strip_solutions(cell.source, cell.cell_type)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        lock_like_nbgrader(cell)
        cells.append(cell)
    nb.cells = cells
    return nb


def lock_like_nbgrader(cell):
    """What nbgrader's LockCells does to a released cell (with its default settings)."""
    meta = cell.metadata.get("nbgrader")
    if not meta:
        return
    if meta.get("solution"):
        cell.metadata["deletable"] = False
    elif meta.get("grade") or meta.get("locked"):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def exercise_path(solution_path):
    return ROOT / "exercises" / Path(solution_path).name


def dumps(nb):
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def generate_exercises(write=True):
    """Regenerate exercises/ from solutions/, and the metadata the authoring step writes into
    solutions/ (check cells, nbgrader's; never their outputs). Returns the paths that were (or
    would be) changed."""
    changed = []
    for solution_path in sorted((ROOT / "solutions").glob("*.ipynb")):
        solution = nbformat.read(solution_path, as_version=4)
        before = [copy.deepcopy(cell.metadata) for cell in solution.cells]
        mark_check_cells(solution)
        if [cell.metadata for cell in solution.cells] != before:
            changed.append(solution_path)
            if write:
                solution_path.write_text(dumps(solution))
        text = dumps(exercise_from_solution(solution))
        target = exercise_path(solution_path)
        if not target.exists() or target.read_text() != text:
            changed.append(target)
            if write:
                target.parent.mkdir(exist_ok=True)
                target.write_text(text)
    return changed


def execute(path, timeout=180):
    """Run a notebook top to bottom in a fresh kernel and store its outputs in place."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = mark_check_cells(nbformat.read(path, as_version=4))
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    path.write_text(dumps(nb))
    return time.perf_counter() - started


def lesson_and_solution_notebooks():
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def unexecuted_cells(path):
    """Code cells with source but no execution count or no stored output slot (nbval would compare nothing)."""
    nb = json.loads(Path(path).read_text())
    missing = []
    for index, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        if "".join(cell["source"]).strip() and cell.get("execution_count") is None:
            missing.append(index)
    return missing
