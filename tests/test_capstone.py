"""The capstone's app (chapter 11): the learner's copy in work/, found and read afresh; the stub and the
worked answer agree on everything the learner does not write."""
import shutil
import sys
from pathlib import Path

import pytest

from coursekit import capstone, workcopies

ROOT = Path(__file__).resolve().parent.parent
GIVEN = ("__init__.py", "views.py", "urls.py", "routing.py", "settings.py", "asgi.py")


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course of its own with chapter 11's exercises and the capstone's stub, for workcopies."""
    root = tmp_path / "course"
    (root / "exercises").mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / "11-capstone.ipynb", root / "exercises")
    shutil.copytree(capstone.STUB, root / "sandbox_project" / "capstone",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(workcopies, "ROOT", root)
    monkeypatch.setattr(workcopies, "FOLDERS", {"lesson": "notebooks", "exercises": "exercises",
                                                "solutions": "solutions"})
    for folder in ("notebooks", "solutions"):
        (root / folder).mkdir()
    return root


def test_chapter_11_run_in_work_copies_the_app_once_and_never_overwrites_it(course, monkeypatch):
    work = course / "work"
    monkeypatch.setenv("COURSEKIT_WORK_DIR", str(work))
    monkeypatch.setattr(capstone, "STUB", course / "sandbox_project" / "capstone")
    monkeypatch.delenv(capstone.ENV, raising=False)
    workcopies.ensure(work)
    assert not (work / "capstone").exists()  # a launch copies notebooks only
    assert capstone.app(work).folder == (work / "capstone").resolve()
    feeds = work / "capstone" / "dashboard" / "feeds.py"
    assert feeds.read_bytes() == (capstone.STUB / "dashboard" / "feeds.py").read_bytes()
    feeds.write_text(feeds.read_text().replace("raise NotImplementedError()", "return {}", 1))
    mine = feeds.read_bytes()
    assert capstone.app(work).folder == (work / "capstone").resolve()
    assert workcopies.ensure_capstone(work) is None
    assert feeds.read_bytes() == mine
    assert capstone.app(course / "exercises").is_stub  # elsewhere nothing is copied


def test_reset_of_chapter_11_keeps_the_changed_app_and_brings_a_fresh_one(course):
    work = course / "work"
    workcopies.ensure(work)
    workcopies.ensure_capstone(work)
    app = work / "capstone"
    assert dict(workcopies.reset(["11"], work))[app] is None  # untouched: nothing to keep
    (app / "dashboard" / "queries.py").write_text("# mine\n")
    (app / "dashboard" / "__pycache__").mkdir()
    done = dict(workcopies.reset(["11"], work))
    backup = done[app]
    assert backup.parent.parent == work / "backups" and (backup / "dashboard" / "queries.py").read_text() == "# mine\n"
    assert (app / "dashboard" / "queries.py").read_bytes() == (capstone.STUB / "dashboard" / "queries.py").read_bytes()
    # The notebooks of the same reset went to the same backup folder, when they changed.
    notebook = work / "11 exercises - capstone.ipynb"
    notebook.write_text(notebook.read_text().replace("raise NotImplementedError()", "pass", 1))
    (app / "dashboard" / "tasks.py").write_text("# mine\n")
    done = dict(workcopies.reset(["11"], work))
    assert done[notebook].parent == done[app].parent


def test_reset_of_another_chapter_or_of_the_lesson_only_leaves_the_app_alone(course):
    work = course / "work"
    workcopies.ensure_capstone(work)
    (work / "capstone" / "dashboard" / "feeds.py").write_text("# mine\n")
    workcopies.reset(["11"], work, kinds=["lesson"])
    assert (work / "capstone" / "dashboard" / "feeds.py").read_text() == "# mine\n"


def test_the_app_beside_the_notebook_wins_then_the_setting_then_the_stub(tmp_path, monkeypatch):
    monkeypatch.delenv(capstone.ENV, raising=False)
    assert capstone.app(tmp_path).is_stub and "stub" in capstone.app(tmp_path).describe()
    shutil.copytree(capstone.STUB, tmp_path / "capstone")
    assert capstone.app(tmp_path).folder == (tmp_path / "capstone").resolve()
    assert capstone.app(ROOT / "solutions").folder == capstone.REFERENCE.resolve()
    monkeypatch.setenv(capstone.ENV, str(capstone.REFERENCE))
    assert capstone.app(tmp_path).folder == capstone.REFERENCE.resolve()


def test_every_check_reads_the_files_again(tmp_path):
    shutil.copytree(capstone.STUB, tmp_path / "capstone")
    app = capstone.App(tmp_path / "capstone")
    queries = tmp_path / "capstone" / "dashboard" / "queries.py"
    queries.write_text("ANSWER = 1\n")
    assert app.module("queries", fresh=True).ANSWER == 1
    queries.write_text("ANSWER = 2\n")
    assert app.module("queries", fresh=True).ANSWER == 2
    # The worked answer loads beside it under a name of its own, and never replaces it.
    reference = capstone.reference()
    assert reference.module("feeds", fresh=True).__name__ == "_capstone_reference.feeds"
    assert sys.modules["dashboard.queries"].ANSWER == 2 and "_capstone_reference.queries" not in sys.modules
    app.forget()
    reference.forget()


@pytest.mark.parametrize("filename", GIVEN)
def test_the_stub_and_the_worked_answer_share_the_given_files(filename):
    assert (capstone.STUB / "dashboard" / filename).read_bytes() == (capstone.REFERENCE / "dashboard" / filename).read_bytes()


@pytest.mark.parametrize("filename", capstone.LEARNER_FILES)
def test_the_stub_leaves_each_file_to_write(filename):
    text = (capstone.STUB / "dashboard" / filename).read_text()
    assert "raise NotImplementedError()" in text
    assert "raise NotImplementedError()" not in (capstone.REFERENCE / "dashboard" / filename).read_text()
