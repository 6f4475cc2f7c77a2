"""A learner's working copies: made on launch, never overwritten, reset per chapter, safe under git pull."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from coursekit import workcopies

ROOT = Path(__file__).resolve().parent.parent


def read(path):
    return nbformat.read(path, as_version=4)


def links(nb):
    """Relative link targets in a notebook's markdown, without their #anchors."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found += [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", cell.source)
                      if not re.match(r"^[a-z]+:|^#", t)]
    return found


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A small course of its own (chapters 00-02 of the real one) that a test may change."""
    root = tmp_path / "course"
    for folder, names in {"notebooks": ["00-welcome", "01-sync-django"], "exercises": ["01-sync-django"],
                          "solutions": ["01-sync-django"]}.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(ROOT / folder / f"{name}.ipynb", root / folder)
    shutil.copy(ROOT / ".gitignore", root)
    monkeypatch.setattr(workcopies, "ROOT", root)
    return root


def add_chapter_02(root):
    for folder in ("notebooks", "exercises"):
        shutil.copy(ROOT / folder / "02-asyncio.ipynb", root / folder)


def test_copies_are_named_by_chapter_then_kind():
    assert workcopies.copy_name("notebooks/03-async-views.ipynb") == "03 lesson - async-views.ipynb"
    assert workcopies.copy_name("exercises/03-async-views.ipynb") == "03 exercises - async-views.ipynb"
    assert workcopies.copy_name("solutions/03-async-views.ipynb") == "03 solutions - async-views.ipynb"
    # A JupyterLab tab cuts a long name at its end: the chapter and the kind come first.
    for source in workcopies.sources(workcopies.FOLDERS):
        assert source.copy_name.startswith(f"{source.path.name[:2]} {source.kind} - ")


def test_a_first_launch_copies_every_lesson_and_exercise_without_outputs(tmp_path):
    work = tmp_path / "work"
    made = workcopies.ensure(work)
    expected = {workcopies.copy_name(p.relative_to(ROOT).as_posix())
                for folder in ("notebooks", "exercises") for p in (ROOT / folder).glob("*.ipynb")}
    assert {p.name for p in made} == expected == {p.name for p in work.iterdir()}
    assert not any("solutions" in p.name for p in made)
    for path in made:
        copy = read(path)
        source = read(ROOT / copy.metadata["coursekit"]["copied_from"]["path"])
        assert [c.cell_type for c in copy.cells] == [c.cell_type for c in source.cells]
        assert all(not c.outputs and c.execution_count is None for c in copy.cells if c.cell_type == "code")
        assert [c.source for c in copy.cells if c.cell_type == "code"] == \
               [c.source for c in source.cells if c.cell_type == "code"]


def test_links_in_the_copies_lead_to_the_other_copies(tmp_path):
    work = tmp_path / "work"
    workcopies.ensure(work)
    checked = 0
    for path in work.glob("*.ipynb"):
        copy = read(path)
        for target in links(copy):
            if not target.endswith(".ipynb"):
                continue
            assert "/" not in unquote(target), f"{path.name}: {target} leads out of the work folder"
            # A notebook the course does not have yet (a chapter in progress) has no copy yet either.
            source = next((s for s in workcopies.sources() if s.copy_name == unquote(target)), None)
            if source:
                assert (work / unquote(target)).exists(), f"{path.name}: {target}"
                checked += 1
        text = "".join(c.source for c in copy.cells if c.cell_type == "markdown")
        for mention in re.findall(r"`((?:\.\./)?(?:notebooks|exercises)/[\w.-]+\.ipynb)`", text):
            assert not (ROOT / mention.lstrip("./")).exists(), f"{path.name} still names the course's {mention}"
    assert checked >= 5


def test_a_link_is_rewritten_with_its_anchor_and_its_label():
    place = lambda target: ("NEW%20" + target.replace("/", "_"), "new " + target)  # noqa: E731
    markdown = ("[next](02-asyncio.ipynb#Tasks) and [`exercises/01-x.ipynb`](../exercises/01-x.ipynb), "
                "see `exercises/02-y.ipynb`; [docs](https://example.org/a.ipynb), [here](#top).")
    out = workcopies.retarget_links(markdown, "notebooks/01-x.ipynb", place)
    assert out == ("[next](NEW%20notebooks_02-asyncio.ipynb#Tasks) and "
                   "[`new exercises/01-x.ipynb`](NEW%20exercises_01-x.ipynb), "
                   "see [`new exercises/02-y.ipynb`](NEW%20exercises_02-y.ipynb); "
                   "[docs](https://example.org/a.ipynb), [here](#top).")


def test_a_launch_never_overwrites_and_brings_new_chapters(course):
    work = course / "work"
    assert len(workcopies.ensure(work)) == 3
    mine = work / "01 exercises - sync-django.ipynb"
    mine.write_text(mine.read_text().replace("raise NotImplementedError()", "return 42"))
    before = mine.read_bytes()
    assert workcopies.ensure(work) == []
    add_chapter_02(course)
    assert [p.name for p in workcopies.ensure(work)] == ["02 lesson - asyncio.ipynb", "02 exercises - asyncio.ipynb"]
    assert mine.read_bytes() == before


def test_reset_replaces_one_chapter_and_keeps_what_it_replaced(course):
    work = course / "work"
    workcopies.ensure(work)
    lesson_00, exercises_01 = work / "00 lesson - welcome.ipynb", work / "01 exercises - sync-django.ipynb"
    fresh_01 = exercises_01.read_bytes()
    for path in (lesson_00, exercises_01):
        path.write_text(path.read_text().replace("coursekit", "coursekit  # my note", 1))
    edited_00, edited_01 = lesson_00.read_bytes(), exercises_01.read_bytes()

    done = workcopies.reset(["01"], work)
    assert sorted(p.name for p, _ in done) == ["01 exercises - sync-django.ipynb", "01 lesson - sync-django.ipynb"]
    assert exercises_01.read_bytes() == fresh_01 and lesson_00.read_bytes() == edited_00
    backup = dict((p.name, b) for p, b in done)["01 exercises - sync-django.ipynb"]
    assert backup.parent.parent == work / "backups" and backup.read_bytes() == edited_01

    workcopies.reset(None, work)
    assert lesson_00.read_bytes() != edited_00 and "# my note" not in lesson_00.read_text()


def test_quick_resets_keep_every_backup_and_skip_untouched_copies(course):
    work = course / "work"
    workcopies.ensure(work)
    mine = work / "01 exercises - sync-django.ipynb"
    for attempt in ("first", "second"):  # within one second: the backups must not share a folder
        mine.write_text(mine.read_text().replace("raise NotImplementedError()", f"return '{attempt}'", 1))
        done = dict(workcopies.reset(["01"], work))
        assert done[work / "01 lesson - sync-django.ipynb"] is None  # untouched, nothing to keep
    kept = sorted(p.read_text() for p in (work / "backups").glob("*/01 exercises - sync-django.ipynb"))
    assert len(kept) == 2 and "'first'" in kept[0] + kept[1] and "'second'" in kept[0] + kept[1]


def test_solutions_are_copied_only_on_request_and_then_reset_too(course):
    work = course / "work"
    workcopies.ensure(work)
    assert not list(work.glob("*solutions*"))
    (made,) = workcopies.add_solutions(["01"], work)
    assert made.name == "01 solutions - sync-django.ipynb"
    assert "01%20lesson%20-%20sync-django.ipynb" in links(read(made))  # the solution links to the lesson copy
    assert [p.name for p, _ in workcopies.reset(["01"], work, kinds=["solutions"])] == [made.name]


def test_a_changed_lesson_is_reported_and_a_re_executed_one_is_not(course):
    work = course / "work"
    workcopies.ensure(work)
    lesson = course / "notebooks" / "01-sync-django.ipynb"
    nb = read(lesson)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = (cell.execution_count or 0) + 100  # what `make notebooks` changes
    nbformat.write(nb, lesson)
    assert workcopies.outdated(work) == []
    nb.cells[-1].source += "\n# a course update"
    nbformat.write(nb, lesson)
    assert [(copy.name, source.kind) for copy, source in workcopies.outdated(work)] == \
           [("01 lesson - sync-django.ipynb", "lesson")]


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=Course", "-c", "user.email=course@example.org", *args],
                          cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_git_pull_of_a_course_update_neither_conflicts_nor_loses_an_answer(course, tmp_path, monkeypatch):
    git(course, "init", "-q", "-b", "main")
    git(course, "add", ".")
    git(course, "commit", "-q", "-m", "the course")
    learner = tmp_path / "learner"
    git(tmp_path, "clone", "-q", str(course), str(learner))
    monkeypatch.setattr(workcopies, "ROOT", learner)

    work = workcopies.work_dir()
    assert work == learner / "work"
    workcopies.ensure()
    answer = work / "01 exercises - sync-django.ipynb"
    answer.write_text(answer.read_text().replace("raise NotImplementedError()", "return 42"))
    assert git(learner, "status", "--porcelain", "--untracked-files=all") == ""

    lesson = course / "notebooks" / "01-sync-django.ipynb"  # the course changes a lesson, adds a chapter
    nb = read(lesson)
    nb.cells[-1].source += "\n# a course update"
    nbformat.write(nb, lesson)
    add_chapter_02(course)
    git(course, "add", ".")
    git(course, "commit", "-q", "-m", "an update")

    git(learner, "pull", "-q", "--ff-only")
    assert git(learner, "status", "--porcelain", "--untracked-files=all") == ""
    assert {p.name for p in workcopies.ensure()} == {"02 lesson - asyncio.ipynb", "02 exercises - asyncio.ipynb"}
    assert "return 42" in answer.read_text()
    assert [copy.name for copy, _ in workcopies.outdated()] == ["01 lesson - sync-django.ipynb"]


def run_course_command(*args, work):
    env = {**os.environ, "COURSEKIT_WORK_DIR": str(work)}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_make_reset_of_one_chapter(tmp_path):
    work = tmp_path / "work"
    workcopies.ensure(work)
    mine = work / "03 exercises - async-views.ipynb"
    mine.write_text(mine.read_text().replace("raise NotImplementedError()", "return 42", 1))
    result = run_course_command("make", "-s", "reset", "CHAPTER=3", work=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Fresh copies of chapter 03:" in result.stdout and "03 exercises - async-views.ipynb" in result.stdout
    assert "return 42" not in mine.read_text()
    (backup,) = (work / "backups").glob("*/03 exercises - async-views.ipynb")
    assert "return 42" in backup.read_text() and str(backup.parent) in result.stdout


def test_resetting_a_chapter_that_does_not_exist_says_which_do(tmp_path):
    result = run_course_command(sys.executable, "-m", "coursekit", "reset", "42", work=tmp_path / "work")
    assert result.returncode != 0 and "There is no chapter '42'. Chapters: 00, 01" in result.stderr
