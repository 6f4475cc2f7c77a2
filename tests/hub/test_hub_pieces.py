"""The hub's pieces on their own, quickly (`make test`): nbgitpuller links, the learners' branch,
and how the learners' kernel finds the course. tests/hub/two_learners.py runs them on a real hub."""
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from coursekit import hub, workcopies

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def course_hub(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "hub"))
    import course_hub.course

    return course_hub


def query(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_link_pulls_the_learners_branch_then_opens_the_copy_of_chapter_00(tmp_path):
    link = hub.link("https://hub.example.org/", "https://git.example.org/course.git")
    assert urlsplit(link)[:3] == ("https", "hub.example.org", "/hub/user-redirect/git-pull")
    params = query(link)
    assert params["repo"] == "https://git.example.org/course.git"
    assert params["branch"] == "learners" and params["targetpath"] == "async-django-course"
    # nbgitpuller sends the browser to urlpath once the pull is done: the course-work page.
    page = urlsplit(params["urlpath"])
    assert page.path == "course-work/async-django-course"
    opened = query(params["urlpath"])["open"]
    assert opened == "work/00 lesson - welcome.ipynb"
    # ... which is the name `python -m coursekit work` gives the copy.
    made = workcopies.ensure(tmp_path)
    assert tmp_path / opened.removeprefix("work/") in made


def test_link_can_open_another_chapter_and_refuses_one_that_does_not_exist():
    assert query(query(hub.link("http://h", "r", chapter="3"))["urlpath"])["open"] == "work/03 lesson - async-views.ipynb"
    with pytest.raises(ValueError, match="no chapter"):
        hub.link("http://h", "r", chapter="42")


def test_the_hub_clones_the_course_where_the_links_say():
    config = (ROOT / "hub" / "jupyterhub_config.py").read_text()
    assert re.search(r'^COURSE_FOLDER = "([^"]+)"', config, re.M).group(1) == hub.TARGETPATH


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def files(repo, commit):
    return set(git(repo, "ls-tree", "-r", "--name-only", commit).splitlines())


@pytest.fixture
def repo(tmp_path):
    for name in ("notebooks/01-x.ipynb", "exercises/01-x.ipynb", "solutions/01-x.ipynb",
                 "solutions/capstone/answer.py", "tests/answers/test_ch01.py", "tests/test_x.py", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "course")
    return tmp_path


def commit(repo, message):
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@localhost", "commit", "-q", "-m", message)


def test_learners_branch_is_the_course_without_answers_and_leaves_the_checkout_alone(repo):
    (repo / "notebooks/01-x.ipynb").write_text("an edit in progress")
    first, made = hub.learners_branch("main", repo=repo)
    assert made
    assert files(repo, first) == {"notebooks/01-x.ipynb", "exercises/01-x.ipynb", "tests/test_x.py", "README.md"}
    assert git(repo, "show", f"{first}:notebooks/01-x.ipynb") == "notebooks/01-x.ipynb"  # committed, not the edit
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(repo, "status", "--porcelain") == "M notebooks/01-x.ipynb"  # index and working tree as they were

    assert hub.learners_branch("main", repo=repo) == (first, False)  # nothing new: no new commit

    commit(repo, "chapter 02")  # the edit, committed on main
    second, made = hub.learners_branch("main", repo=repo)
    assert made and git(repo, "rev-parse", f"{second}^") == first  # one step forward: nbgitpuller merges it
    assert git(repo, "show", f"{second}:notebooks/01-x.ipynb") == "an edit in progress"
    for commit_id in git(repo, "rev-list", "learners").splitlines():  # no commit of it holds an answer
        assert not {f for f in files(repo, commit_id) if f.startswith(("solutions/", "tests/answers/"))}


def test_learners_branch_refuses_to_move_under_a_checkout(repo):
    hub.learners_branch("main", repo=repo)
    git(repo, "checkout", "-q", "learners")
    with pytest.raises(RuntimeError, match="checked out"):
        hub.learners_branch("main", repo=repo)


def make_course(folder):
    (folder / "coursekit").mkdir(parents=True)
    (folder / "coursekit" / "__init__.py").write_text("")
    (folder / "sandbox_project").mkdir()
    return folder


def test_the_kernel_finds_the_clone_above_its_notebook_else_the_hubs_folder(course_hub, tmp_path, monkeypatch):
    home = tmp_path / "home"
    clone, other = make_course(home / "async-django-course"), make_course(home / "course-v2")
    (clone / "work" / "backups").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(course_hub.course.COURSE_DIR_VARIABLE, raising=False)
    find = course_hub.course.find_course
    assert find(clone / "work" / "backups") == clone
    assert find(other) == other  # the notebook's own clone wins
    assert find(home) is None
    monkeypatch.setenv(course_hub.course.COURSE_DIR_VARIABLE, "async-django-course")
    assert find(home) == clone and find(tmp_path) == clone


def test_the_course_comes_first_on_the_kernels_path(course_hub, tmp_path):
    env = course_hub.course.course_env(tmp_path, {"PYTHONPATH": f"/elsewhere:{tmp_path}", "HOME": "/h"})
    assert env["PYTHONPATH"].split(":") == [str(tmp_path), str(tmp_path / "sandbox_project"), "/elsewhere"]
    assert env["HOME"] == "/h"


@pytest.mark.parametrize("opened, target", [
    ("work/00 lesson - welcome.ipynb", "async-django-course/work/00 lesson - welcome.ipynb"),
    ("../../etc/passwd", "async-django-course/etc/passwd"),
    ("/work", "async-django-course/work"),
    ("", "async-django-course"),
])
def test_the_course_work_page_opens_only_paths_inside_the_course(course_hub, opened, target):
    assert course_hub.path_in("async-django-course", opened) == target


def pins(path):
    found = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==")
            found[name.strip().lower()] = version.strip()
    return found


def test_the_hubs_pins_agree_with_the_courses():
    """hub/setup installs both files together: a package pinned in both must have one version
    (`make lock` re-pins both)."""
    course, hub_pins = pins(ROOT / "requirements.txt"), pins(ROOT / "hub" / "requirements.txt")
    assert {"jupyterhub", "nbgitpuller"} <= hub_pins.keys()
    assert {name: (version, course[name]) for name, version in hub_pins.items()
            if name in course and course[name] != version} == {}
