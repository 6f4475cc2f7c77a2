"""Real nbgrader on the course, from a course directory to feedback (`make grade-test`; CI runs it).

A course directory from `python -m coursekit.grading init`, then nbgrader's own commands:
generate_assignment, autograde of three submissions (blank, one answer, every answer) and
generate_feedback. The blank one must score 0, the solved one full marks, while two processes
keep both cores of the machine busy (a classroom server grading a whole class).

Chapters: GRADE_TEST_CHAPTERS="01 03" (default 01, the fastest).
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from coursekit import authoring, grading

ROOT = authoring.ROOT
BIN = Path(sys.executable).parent
CHAPTERS = os.environ.get("GRADE_TEST_CHAPTERS", "01").split()


def nbgrader(course, *args, timeout=1800):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")  # nbgrader runs `alembic`
    env.pop(grading.ENV, None)  # nbgrader_config.py must switch the grading mode on by itself
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def without_checksums(nb):
    for cell in nb.cells:
        cell.metadata.get("nbgrader", {}).pop("checksum", None)
        cell.metadata.get("nbgrader", {}).pop("cell_type", None)
    return nb


def answered(release, solution, grade_ids):
    """The released notebook with the solution's code in the answer cells named by `grade_ids`."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in grade_ids:
            cell.source = answers[grade_id]
    return nb


class Load:
    """Two busy processes, one per core, for as long as the block runs."""

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_grades_blank_zero_and_solved_full_marks(chapter, tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    _config, (source,) = grading.init(course, [chapter])
    assignment = grading.assignment_name(source)
    solution = nbformat.read(source, as_version=4)
    answer_ids = [c.metadata["nbgrader"]["grade_id"] for c in solution.cells
                  if c.metadata.get("nbgrader", {}).get("solution")]
    checks = [c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert answer_ids and checks

    nbgrader(course, "generate_assignment", assignment)
    release = nbformat.read(course / "release" / assignment / source.name, as_version=4)
    # The release nbgrader makes is the course's exercise notebook, less its checksums.
    assert without_checksums(release) == nbformat.read(authoring.exercise_path(source), as_version=4)

    students = {"blank": [], "one-answer": answer_ids[:1], "solved": answer_ids}
    for student, ids in students.items():
        target = course / "submitted" / student / assignment / source.name
        target.parent.mkdir(parents=True)
        nbformat.write(answered(nbformat.read(course / "release" / assignment / source.name, 4), solution, ids),
                       target)

    started = time.perf_counter()
    with Load():
        log = nbgrader(course, "autograde", assignment)
    took = time.perf_counter() - started
    nbgrader(course, "generate_feedback", assignment)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission(assignment, s).score for s in students}
        max_score = gradebook.find_assignment(assignment).max_score
    print(f"chapter {chapter}: {scores} of {max_score}, autograde of {len(students)} submissions under load "
          f"in {took:.0f} s")
    assert max_score == len(checks)
    assert scores == {"blank": 0, "one-answer": 1, "solved": max_score}, log

    feedback = (course / "feedback" / "blank" / assignment / source.name.replace(".ipynb", ".html")).read_text()
    first = checks[0].metadata["coursekit"]["check"]
    assert f"NOT YET</b> · {chapter}.{first}" in feedback  # the verdict, shown to the student
    solved = (course / "feedback" / "solved" / assignment / source.name.replace(".ipynb", ".html")).read_text()
    assert f"PASSED</b> · {chapter}.{first}" in solved and "AssertionError" not in solved
    shutil.rmtree(course)
