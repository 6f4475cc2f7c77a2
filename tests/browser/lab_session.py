"""A learner's session in the real JupyterLab, driven in Chromium: `make browser-test`.

`make lab` starts JupyterLab as a learner would; Playwright drives the system's Chromium (never a
downloaded one: `playwright install` needs the internet). The session opens the working copy of
chapter 00, runs all of it, sees a check's verdict, runs a question again, commits a prediction and
sees it held, follows the lesson's links to chapter 01's exercises, types an answer, runs its check,
saves, and stops the lab with Ctrl+C.
Then: the outputs are in the working copies, the course's notebooks are byte for byte unchanged,
and git sees nothing new.

It is not part of `make test` (its name does not start with test_): a learner's machine need not
have Chromium. CI installs it and runs this after `make test`. It uses its own work folder and
progress file, so running it never touches a learner's own copies or record.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NEEDS_CHROMIUM = (f"The browser test needs Chromium at {CHROMIUM}. On Debian or Ubuntu: "
                  "`sudo apt-get install chromium`; elsewhere, point CHROMIUM=/path/to/chromium at one. "
                  "(`make test` does not need it.)")
WORK = ROOT / "work" / "browser-test"
LESSON, EXERCISES = "notebooks/00-welcome.ipynb", "exercises/01-sync-django.ipynb"
EXERCISE = "last-response"  # the exercise whose answer is typed in (taken from its solution)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git_status():
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.splitlines()


def api(port, token, what):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{what}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def answers(port, token):
    try:
        return bool(api(port, token, "status"))
    except OSError:
        return False


def wait_for_kernel(lab, token, notebook):
    """Until the notebook's kernel runs and is idle (before that, Run All would ask for a kernel)."""
    path = notebook.relative_to(ROOT).as_posix()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(s["path"] == path and s["kernel"]["execution_state"] == "idle" for s in api(lab.port, token, "sessions")):
            return
        time.sleep(0.2)
    raise AssertionError(f"no idle kernel for {path}: {api(lab.port, token, 'sessions')}")


class Lab:
    """`make lab` in its own process group, its output collected line by line."""

    def __init__(self, env):
        self.port, self.lines, self.started = free_port(), [], time.monotonic()
        self.process = subprocess.Popen(["make", "lab", f"PORT={self.port}"], cwd=ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()

    def output(self):
        return "".join(self.lines)

    def url(self, timeout=180):
        while time.monotonic() - self.started < timeout:
            found = re.findall(r"http://127\.0\.0\.1:\d+/\S+", self.output())
            if found:
                return found, time.monotonic() - self.started
            assert self.process.poll() is None, f"make lab stopped:\n{self.output()}"
            time.sleep(0.05)
        raise AssertionError(f"make lab printed no URL in {timeout} s:\n{self.output()}")

    def interrupt(self):
        """Ctrl+C in the terminal: SIGINT to the whole foreground group (make and the course's command)."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def kill(self):
        """After a failure: Ctrl+C first (JupyterLab runs in its own session, out of reach of killpg)."""
        if self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.interrupt()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)


def solution_of(cell_id):
    """The worked answer of one exercise cell: its solution's code without the markers."""
    solution = nbformat.read(ROOT / "solutions" / Path(EXERCISES).name, as_version=4)
    source = next(c.source for c in solution.cells if c.get("id") == cell_id)
    return "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


@pytest.fixture
def chromium(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(NEEDS_CHROMIUM, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1400, "height": 1000})
        browser.set_default_timeout(60_000)
        yield browser
        browser.close()


def current_panel(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


CURRENT_TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel"


def wait_for_tab(page, name):
    """Wait until the current tab (the notebook in front) is `name`: what the learner reads."""
    page.wait_for_function(f"name => document.querySelector({CURRENT_TAB!r})?.textContent === name", arg=name,
                           timeout=120_000)


def run_all_and_wait(page, seconds):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    with contextlib.suppress(PlaywrightTimeout):  # as a learner would: take the kernel it offers
        page.locator(".jp-Dialog").get_by_role("button", name="Select").click(timeout=2000)
    page.wait_for_function(
        """() => {
             const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
             const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
             return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
           }""", timeout=seconds * 1000)


def output_with(where, text):
    """The cell outputs that show `text` (a verdict, a reveal: a word in bold, then the rest)."""
    return where.locator(".jp-OutputArea-output", has_text=text)


def save(page, path, until):
    current_panel(page).locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nb = nbformat.read(path, as_version=4)
        if until(nb):
            return nb
        time.sleep(0.2)
    raise AssertionError(f"{path.name} was not saved with what the session did")


def test_a_learner_session_in_jupyterlab(chromium, tmp_path):
    started = time.monotonic()
    shutil.rmtree(WORK, ignore_errors=True)
    sources = {name: (ROOT / name).read_bytes() for name in (LESSON, EXERCISES)}
    status_before = git_status()
    progress_file = tmp_path / "progress.json"
    token = "browser-test-token"
    # Its own work folder, progress file and JupyterLab workspace (the open tabs, which JupyterLab
    # would otherwise restore into the learner's next session).
    env = {**os.environ, "COURSEKIT_WORK_DIR": str(WORK), "COURSEKIT_PROGRESS_FILE": str(progress_file),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "JUPYTER_TOKEN": token}
    lab = Lab(env)
    try:
        # --- make lab: one URL, printed when the server already answers -------------------------
        urls, seconds_to_url = lab.url()
        assert len(urls) == 1 and "token=..." not in lab.output(), lab.output()
        url = urls[0]
        assert answers(lab.port, token), "the URL was printed before the server answered"
        assert url.endswith(f"/lab/tree/work/browser-test/{quote('00 lesson - welcome.ipynb')}?token={token}")
        assert "Your own copies of the lessons and exercises are in work/browser-test/" in lab.output()
        print(f"\nmake lab: URL after {seconds_to_url:.1f} s")

        # --- chapter 00, from the working copy: Run All, a prediction, a verdict ---------------------
        page = chromium.new_page()
        page.goto(url)
        wait_for_tab(page, "00 lesson - welcome.ipynb")
        wait_for_kernel(lab, token, WORK / "00 lesson - welcome.ipynb")
        run_all_and_wait(page, seconds=240)
        panel = current_panel(page)
        assert output_with(panel, "PASSED · 00.city-count").count() == 1
        assert output_with(panel, "NOT YET · 00.city-count").count() == 1
        # Run All showed the answer under the demo at once; a learner runs the question again, commits, then the demo.
        assert output_with(panel, "ANSWER · The demo showed (b) It raises an error").count() == 1
        question = panel.locator(".jp-CodeCell").filter(has_text="sync_call = coursekit.predict(")
        question.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        question.locator(".widget-radio-box label").nth(1).click()
        question.get_by_role("button", name="Commit").click()
        question.get_by_text("Locked in:").wait_for()
        demo = panel.locator(".jp-CodeCell").filter(has_text="sync_call.reveal(")
        demo.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        output_with(demo, "HELD · You predicted (b) It raises an error").wait_for()
        question.get_by_text("It held.").wait_for()
        held = json.loads(progress_file.read_text())["predictions"]
        assert [entry["held"] for entry in held.values()] == [True], held
        lesson_copy = save(page, WORK / "00 lesson - welcome.ipynb",
                           until=lambda nb: all(c.execution_count for c in nb.cells if c.cell_type == "code"))
        assert sum(bool(c.outputs) for c in lesson_copy.cells if c.cell_type == "code") >= 10

        # --- links between working copies: lesson 00 -> lesson 01 -> exercises 01 ----------------
        panel.get_by_role("link", name="01 · Sync Django").first.click()
        wait_for_tab(page, "01 lesson - sync-django.ipynb")
        current_panel(page).get_by_role("link", name="01 exercises - sync-django.ipynb").first.click()
        wait_for_tab(page, "01 exercises - sync-django.ipynb")

        # --- an exercise: type the answer, Run All, its check passes ----------------------------
        exercise_path = WORK / "01 exercises - sync-django.ipynb"
        cells = nbformat.read(exercise_path, as_version=4).cells
        check_index = next(i for i, c in enumerate(cells) if c.metadata.get("coursekit", {}).get("check") == EXERCISE)
        answer_index = check_index - 1
        answer = solution_of(cells[answer_index].id)
        wait_for_kernel(lab, token, exercise_path)
        editor = current_panel(page).locator(".jp-Notebook .jp-Cell").nth(answer_index).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(answer)
        page.keyboard.press("Escape")
        run_all_and_wait(page, seconds=240)
        assert output_with(current_panel(page), f"PASSED · 01.{EXERCISE}").count() == 1
        assert output_with(current_panel(page), "NOT YET · 01.request-counter").count() == 1
        exercise_copy = save(page, exercise_path, until=lambda nb: nb.cells[answer_index].source == answer
                             and nb.cells[check_index].outputs)
        assert "passed" in json.dumps(exercise_copy.cells[check_index].outputs)
        assert json.loads(progress_file.read_text())[f"01.{EXERCISE}"]["passed"]

        # --- Ctrl+C stops JupyterLab cleanly ------------------------------------------------------
        lab.interrupt()
        assert "Stopped." in lab.output() and not answers(lab.port, token), lab.output()
        saved = re.findall(r"Saving file at (.+)", (WORK / ".jupyterlab.log").read_text())
        assert len(saved) >= 2 and all(path.startswith("/work/browser-test/") for path in saved), saved
    finally:
        lab.kill()
        shutil.rmtree(WORK, ignore_errors=True)

    # --- the course itself is untouched ----------------------------------------------------------
    assert {name: (ROOT / name).read_bytes() for name in sources} == sources
    # Nothing new for git: no changed tracked file, no stray file (work/ is ignored). Compared as sets,
    # so that a commit made meanwhile does not count; an edit made meanwhile in this checkout would.
    assert set(git_status()) - set(status_before) == set()
    print(f"browser session: {time.monotonic() - started:.0f} s")
