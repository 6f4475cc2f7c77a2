"""Every chapter as a learner works through it, in the real JupyterLab: `make browser-test-all`.

`make lab` starts JupyterLab; Chromium opens each lesson's working copy and runs all of it, then
each exercise notebook: the worked answers are typed into its answer cells (chapter 11's are saved
as files in the learner's app, as a learner would), all of it runs, and every check must say
PASSED. Each notebook is saved from the browser, then read back: no error output, every code
cell executed. Afterwards the course's notebooks are unchanged and git sees nothing new.

A long run (every Run All of the course, about 12 minutes), so it is a target of its own; CI runs
it after lab_session.py, the short one. BROWSER_FROM=06 starts at chapter 06.
"""
import json
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

from tests.browser.lab_session import (  # noqa: F401 (chromium is a fixture)
    ROOT, Lab, chromium, current_panel, git_status, output_with, run_all_and_wait, wait_for_kernel,
    wait_for_tab)

WORK = ROOT / "work" / "browser-all"
SECONDS = 600  # one notebook's Run All at most, on a busy 2-core machine (chapter 09 takes 70-80 s quiet)


def chapters():
    return sorted(path.name[:2] for path in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def copy_name(kind, chapter):
    source = next((ROOT / ("notebooks" if kind == "lesson" else "exercises")).glob(f"{chapter}-*.ipynb"), None)
    return None if source is None else f"{chapter} {kind} - {source.stem[3:]}.ipynb"


def worked_answers(chapter):
    """{cell id: the worked answer's code} for the answer cells of a chapter's exercises."""
    solution = nbformat.read(next((ROOT / "solutions").glob(f"{chapter}-*.ipynb")), as_version=4)
    return {cell.id: "\n".join(line for line in cell.source.splitlines()
                               if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
            for cell in solution.cells if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def delete_kernels(lab, token):
    """Shut each notebook's kernel down once it is done, as a learner closing the tab would."""
    request = urllib.request.Request(f"http://127.0.0.1:{lab.port}/api/kernels",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        kernels = json.loads(response.read())
    for kernel in kernels:
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{lab.port}/api/kernels/{kernel['id']}", method="DELETE",
            headers={"Authorization": f"token {token}"}), timeout=30).close()


def open_copy(page, lab, token, name):
    page.goto(f"http://127.0.0.1:{lab.port}/lab/tree/work/browser-all/{quote(name)}?token={token}")
    wait_for_tab(page, name)
    wait_for_kernel(lab, token, WORK / name)


def saved(page, path, until=lambda nb: True):
    """Save from the browser (Ctrl+S), then the notebook as saved once `until` holds (or after 60 s).

    Ctrl+S again every 10 s: a key press can land while the focus is elsewhere (an output's widget)."""
    deadline = time.monotonic() + 60
    while True:
        current_panel(page).locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        pressed = time.monotonic()
        while time.monotonic() - pressed < 10:
            nb = nbformat.read(path, as_version=4)
            if (until(nb) and not problems_in(nb)) or time.monotonic() > deadline:
                return nb
            time.sleep(0.5)


def problems_in(nb):
    """What a learner would see go wrong in a saved notebook: errors, cells never run."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if not cell.execution_count:
            found.append(f"cell {index} did not run")
        found += [f"cell {index}: {out.ename}: {out.evalue}" for out in cell.outputs if out.output_type == "error"]
    return found


@pytest.mark.timeout(3600)  # every Run All of the course, one after another
def test_every_chapter_in_jupyterlab(chromium, tmp_path):
    started = time.monotonic()
    shutil.rmtree(WORK, ignore_errors=True)
    course = {p: p.read_bytes() for folder in ("notebooks", "exercises", "solutions") for p in (ROOT / folder).glob("*.ipynb")}
    status_before = git_status()
    token = "browser-all-token"
    env = {**os.environ, "COURSEKIT_WORK_DIR": str(WORK),
           "COURSEKIT_PROGRESS_FILE": str(tmp_path / "progress.json"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "JUPYTER_TOKEN": token}
    lab = Lab(env)
    timings = {}
    try:
        lab.url()
        page = chromium.new_page()
        for chapter in [c for c in chapters() if c >= os.environ.get("BROWSER_FROM", "00")]:
            # --- the lesson: Run All ---------------------------------------------------------------
            name = copy_name("lesson", chapter)
            begun = time.monotonic()
            open_copy(page, lab, token, name)
            run_all_and_wait(page, seconds=SECONDS)
            nb = saved(page, WORK / name)
            assert not problems_in(nb), f"{name}: {problems_in(nb)}"
            timings[name] = time.monotonic() - begun
            delete_kernels(lab, token)

            # --- the exercises: the worked answers typed in, Run All, every check passes -------------
            name = copy_name("exercises", chapter)
            if name is None:
                continue
            begun = time.monotonic()
            if chapter == "11":  # the capstone's answers are files of the learner's app, not cells
                app = WORK / "capstone" / "dashboard"
                app.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(ROOT / "solutions" / "capstone" / "dashboard", app, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__"))
            open_copy(page, lab, token, name)
            cells = nbformat.read(WORK / name, as_version=4).cells
            checks = [c.metadata["coursekit"]["check"] for c in cells if c.metadata.get("coursekit", {}).get("check")]
            answers = worked_answers(chapter)
            for index, cell in enumerate(cells):
                if cell.id in answers:
                    editor = current_panel(page).locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
                    editor.click()
                    page.keyboard.press("Control+a")
                    page.keyboard.insert_text(answers[cell.id])
                    page.keyboard.press("Escape")
            run_all_and_wait(page, seconds=SECONDS)
            panel = current_panel(page)
            for slug in checks:
                assert output_with(panel, re.compile(rf"PASSED · {chapter}\.{re.escape(slug)}\b")).count() >= 1, \
                    f"{name}: no PASSED for {slug}"
            nb = saved(page, WORK / name, until=lambda nb: all(
                nb.cells[i].source == answers[c.id] for i, c in enumerate(cells) if c.id in answers))
            assert not problems_in(nb), f"{name}: {problems_in(nb)}"
            timings[name] = time.monotonic() - begun
            delete_kernels(lab, token)
        lab.interrupt()
    finally:
        lab.kill()
        shutil.rmtree(WORK, ignore_errors=True)

    assert {p: p.read_bytes() for p in course} == course
    assert set(git_status()) - set(status_before) == set()
    print("\n" + "\n".join(f"  {seconds:6.1f} s  {name}" for name, seconds in timings.items()))
    print(f"every chapter in JupyterLab: {time.monotonic() - started:.0f} s")
