"""The course's own build steps: execute notebooks and generate exercises.

`solutions/NN-*.ipynb` is the single source of each chapter's exercises. Code between
`### BEGIN SOLUTION` and `### END SOLUTION` (nbgrader's markers, so instructors can
use nbgrader too) is replaced in `exercises/NN-*.ipynb` by a stub that raises
NotImplementedError; markdown between the markers becomes "YOUR ANSWER HERE".
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
    def stub(match):
        indent = match.group(1)
        if cell_type == "markdown":
            return f"{indent}YOUR ANSWER HERE\n"
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n"

    out = _REGION.sub(stub, source)
    if BEGIN in out or END in out:
        raise ValueError(f"unbalanced solution markers in:\n{source}")
    return out


CHECK_CALL = re.compile(r"""await\s+ex\.check\(\s*["']([a-z0-9-]+)["']""")


def check_slug(cell):
    """The exercise a check cell checks (from its metadata), or None for any other cell."""
    return cell.get("metadata", {}).get("coursekit", {}).get("check")


def mark_check_cells(nb):
    """Write `metadata.coursekit.check = slug` on every cell that runs `await ex.check("slug")`.

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
    return nb


def exercise_from_solution(solution):
    """A clean exercise notebook (no outputs, no solutions) from a solution notebook."""
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
        cells.append(cell)
    nb.cells = cells
    return nb


def exercise_path(solution_path):
    return ROOT / "exercises" / Path(solution_path).name


def dumps(nb):
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def generate_exercises(write=True):
    """Regenerate exercises/ from solutions/. Returns the paths that were (or would be) changed."""
    changed = []
    for solution_path in sorted((ROOT / "solutions").glob("*.ipynb")):
        text = dumps(exercise_from_solution(nbformat.read(solution_path, as_version=4)))
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
