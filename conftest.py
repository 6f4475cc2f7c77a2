"""Extra test items on each notebook, collected beside nbval's own.

They share the notebook's file path, so pytest-xdist's `--dist loadfile` keeps all
of one notebook's work on one worker while different notebooks run in parallel.
"""
from pathlib import Path

import pytest


class NotebookCheck(pytest.Item):
    def __init__(self, *, check, **kwargs):
        super().__init__(**kwargs)
        self.check = check

    def runtest(self):
        problems = self.check()
        if problems:
            raise AssertionError("\n".join(problems))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, AssertionError):
            return f"{self.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, self.name


class NotebookChecks(pytest.File):
    def collect(self):
        from tests import notebook_checks as nc

        folder = self.path.parent.name
        if folder == "notebooks":
            yield NotebookCheck.from_parent(self, name="runs twice in one kernel and leaves nothing behind",
                                            check=lambda: nc.run_twice_and_inspect(self.path))
        elif folder == "solutions":
            exercise = self.path.parent.parent / "exercises" / self.path.name
            yield NotebookCheck.from_parent(self, name="solution passes every check",
                                            check=lambda: nc.solution_passes_every_check(self.path))
            yield NotebookCheck.from_parent(self, name="shipped exercise fails every check",
                                            check=lambda: nc.exercise_fails_every_check(exercise))


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".ipynb" and file_path.parent.name in ("notebooks", "solutions") \
            and ".ipynb_checkpoints" not in file_path.parts:
        return NotebookChecks.from_parent(parent, path=file_path)
    return None

