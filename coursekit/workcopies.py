"""Your own copies of the course's notebooks, in `work/` (git ignores it).

The course's `notebooks/`, `exercises/` and `solutions/` are its sources: a learner runs and
edits copies of them, so JupyterLab's autosave never touches a tracked file, `git pull` (or
nbgitpuller) never conflicts, and a course update never overwrites an answer.

    work/00 lesson - welcome.ipynb
    work/01 lesson - sync-django.ipynb
    work/01 exercises - sync-django.ipynb     (solutions only on request)

The chapter number comes first so the folder sorts by chapter, and the kind second so a
JupyterLab tab, which cuts long names at the end, still says which is which. A copy starts
without outputs (a prediction is not answered before it is asked) and its links point at the
other copies. Each launch copies what is missing and never overwrites; `reset` replaces
chosen chapters with fresh copies and keeps the replaced ones in `work/backups/`.
"""
import datetime
import hashlib
import json
import os
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"lesson": "notebooks", "exercises": "exercises", "solutions": "solutions"}  # kind -> source folder
COPIED_BY_DEFAULT = ("lesson", "exercises")
BACKUPS = "backups"


def work_dir():
    return Path(os.environ.get("COURSEKIT_WORK_DIR") or ROOT / "work")


@dataclass(frozen=True)
class Source:
    """One of the course's notebooks, and the name of its working copy."""
    kind: str
    path: Path

    @property
    def chapter(self):
        number, _, _ = self.path.stem.partition("-")
        return number if number.isdigit() else None

    @property
    def copy_name(self):
        return copy_name(self.course_path)

    @property
    def course_path(self):
        return self.path.relative_to(ROOT).as_posix()


def copy_name(course_path):
    """`notebooks/03-async-views.ipynb` -> `03 lesson - async-views.ipynb`."""
    kind, stem = _kind(PurePosixPath(course_path).parent.name), PurePosixPath(course_path).stem
    number, _, slug = stem.partition("-")
    return f"{number} {kind} - {slug}.ipynb" if number.isdigit() and slug else f"{kind} - {stem}.ipynb"


def sources(kinds=COPIED_BY_DEFAULT, chapters=None):
    """The course's notebooks of these kinds (and chapters), by chapter, lesson before exercises."""
    found = [Source(kind, path) for kind in kinds for path in sorted((ROOT / FOLDERS[kind]).glob("*.ipynb"))]
    if chapters is not None:
        found = [s for s in found if s.chapter in chapters]
    order = list(FOLDERS)
    return sorted(found, key=lambda s: (s.chapter or "", order.index(s.kind), s.path.name))


def chapters():
    return sorted({s.chapter for s in sources() if s.chapter})


def chapter_number(text):
    """"3", "03", "ch03" -> "03"; ValueError naming the chapters there are."""
    digits = re.sub(r"\D", "", str(text))
    number = f"{int(digits):02d}" if digits else None
    if number not in chapters():
        raise ValueError(f"There is no chapter {text!r}. Chapters: {', '.join(chapters())}.")
    return number


# --- notebooks as JSON ---------------------------------------------------------------------
# Plain json, not nbformat: importing nbformat (jsonschema and its grammars) took seconds, and
# `make lab` runs this before JupyterLab starts.
def read_notebook(path):
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell["source"] = _joined(cell.get("source", ""))
    return nb


def notebook_text(nb):
    """The file as Jupyter writes it: sources as lists of lines, keys sorted, one-space indent."""
    cells = [{**cell, "source": cell["source"].splitlines(keepends=True)} for cell in nb["cells"]]
    return json.dumps({**nb, "cells": cells}, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _joined(source):
    return "".join(source) if isinstance(source, list) else source


# --- making copies -----------------------------------------------------------------------
def fingerprint(nb):
    """What a copy is made from: the cells' types and sources (not outputs, which change on re-runs)."""
    cells = [[c["cell_type"], c["source"]] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()[:16]


def working_copy(source, work):
    """The notebook a learner starts from: no outputs, links to the other copies."""
    nb = read_notebook(source.path)
    made_from = fingerprint(nb)
    linked = _linked_kinds(work, source)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "markdown":
            cell["source"] = retarget_links(cell["source"], source.course_path,
                                            lambda path: _place_in_work(path, work, linked))
    nb["metadata"].pop("widgets", None)
    nb["metadata"].setdefault("coursekit", {})["copied_from"] = {"path": source.course_path, "cells": made_from}
    return nb


def _linked_kinds(work, source):
    """The kinds whose copies links point at: those every learner has, and those this one has."""
    return set(COPIED_BY_DEFAULT) | {source.kind} | {s.kind for s in sources(FOLDERS) if (work / s.copy_name).exists()}


def _place_in_work(course_path, work, linked):
    folder = PurePosixPath(course_path).parent.as_posix()
    if folder in FOLDERS.values() and _kind(folder) in linked:
        # Also when that notebook does not exist yet: the launch that brings it makes its copy.
        name = copy_name(course_path)
        return quote(name), name
    # Not copied (a solution, say): point at the course's own file.
    return quote(Path(os.path.relpath(ROOT / course_path, work)).as_posix()), None


def _kind(folder):
    return next(k for k, f in FOLDERS.items() if f == folder)


def copy_text(source, work):
    return notebook_text(working_copy(source, work))


def make_copy(source, work, text=None):
    """Write the working copy of `source` unless it exists. Returns its path, or None if it existed."""
    target = work / source.copy_name
    work.mkdir(parents=True, exist_ok=True)
    text = text or copy_text(source, work)
    try:
        with open(target, "x", encoding="utf-8") as out:  # never overwrite a learner's work
            out.write(text)
    except FileExistsError:
        return None
    return target


def ensure(work=None):
    """Copy whatever is missing (a first launch: everything; after an update: new chapters).
    Returns the new copies."""
    work = work or work_dir()
    return [path for path in (make_copy(s, work) for s in sources()) if path]


def add_solutions(numbers, work=None):
    """Copy the solutions of these chapters too (never overwriting). Returns the new copies."""
    work = work or work_dir()
    return [path for path in (make_copy(s, work) for s in sources(["solutions"], numbers)) if path]


def outdated(work=None):
    """Copies whose course notebook has changed since they were made: [(copy path, source)]."""
    work = work or work_dir()
    stale = []
    for source in sources(FOLDERS):
        target = work / source.copy_name
        if not target.exists():
            continue
        try:
            made_from = read_notebook(target)["metadata"]["coursekit"]["copied_from"]["cells"]
        except (KeyError, ValueError, OSError):
            continue  # not one of ours, or unreadable: leave it be
        if made_from != fingerprint(read_notebook(source.path)):
            stale.append((target, source))
    return stale


def reset(numbers=None, work=None, kinds=None):
    """Fresh copies of these chapters (all when None), of these kinds (default: lesson, exercises,
    and solutions where the learner has a copy). A copy that differs from a fresh one moves to
    work/backups/<date-time>/ first. Returns [(fresh copy, backup or None)]."""
    work = work or work_dir()
    numbers = chapters() if numbers is None else numbers
    targets = [s for s in sources(kinds or FOLDERS, numbers)
               if kinds or s.kind in COPIED_BY_DEFAULT or (work / s.copy_name).exists()]
    backups, done = None, []
    if CAPSTONE_CHAPTER in numbers and (not kinds or "exercises" in kinds) and capstone_source().is_dir():
        backups = _reset_capstone(work, done)
    for source in targets:
        current, fresh, backup = work / source.copy_name, copy_text(source, work), None
        if current.exists():
            if current.read_text(encoding="utf-8") == fresh:
                done.append((current, None))  # untouched: nothing to keep
                continue
            backups = backups or _new_backup_folder(work)
            backup = backups / source.copy_name
            shutil.move(current, backup)
        done.append((make_copy(source, work, fresh), backup))
    return done


# --- the capstone's app: real files, not a notebook ---------------------------------------
# Chapter 11's learner writes a Django app: work/capstone/dashboard/, copied from the course's stub
# when chapter 11's notebook first asks for it (coursekit.capstone.app()), never overwritten, reset
# with chapter 11.
CAPSTONE_CHAPTER = "11"
CAPSTONE = "capstone"
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc")


def capstone_source():
    return ROOT / "sandbox_project" / CAPSTONE


def ensure_capstone(work=None):
    """Copy the capstone's app into work/capstone/ unless it is there. Returns it if it was made."""
    work, source = work or work_dir(), capstone_source()
    target = work / CAPSTONE
    if target.exists() or not source.is_dir():
        return None
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=_NOT_COPIED)
    return target


def _same_files(a, b):
    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    return files(a) == files(b)


def _reset_capstone(work, done):
    """A fresh work/capstone/; a changed one moves to a new backup folder first. Returns that folder."""
    target, backups, backup = work / CAPSTONE, None, None
    if target.exists():
        if _same_files(target, capstone_source()):
            done.append((target, None))
            return None
        backups = _new_backup_folder(work)
        backup = backups / CAPSTONE
        shutil.move(target, backup)
    done.append((ensure_capstone(work), backup))
    return backups


def _new_backup_folder(work):
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    folder, n = work / BACKUPS / stamp, 1
    while folder.exists():  # two resets in one second: never mix (or overwrite) backups
        n += 1
        folder = work / BACKUPS / f"{stamp}-{n}"
    folder.mkdir(parents=True)
    return folder


# --- links between notebooks ------------------------------------------------------------
_NOTEBOOK_PATH = r"(?:\.\./)?(?:notebooks|exercises|solutions)/[\w.-]+\.ipynb"   # exercises/03-x.ipynb
_MENTION = rf"`(?P<code>{_NOTEBOOK_PATH})`"                                        # in code style
_PATH_TEXT = rf"(?P<tick>`?)(?P<code>{_NOTEBOOK_PATH})(?P=tick)"                    # as a link's text
_REFERENCE = re.compile(
    r"\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?P<target>[^()\s]+)(?P<title>\s+\"[^\"]*\")?\)"  # [text](target)
    r"|href=\"(?P<href>[^\"]+)\""                                                         # <a href="target">
    r"|" + _MENTION)


def retarget_links(markdown, course_path, place):
    """Rewrite the references to course notebooks in one markdown cell.

    `course_path` is the notebook the cell belongs to (`notebooks/01-sync-django.ipynb`).
    References are links (`[text](../exercises/01-sync-django.ipynb#anchor)`, `href="..."`) and
    code spans naming a notebook from the course's root (`exercises/01-sync-django.ipynb`), which
    become links. `place(path)` gets the course path a reference resolves to and returns
    `(href, label)`: the new relative URL, and a name to show instead of the file's path (None
    keeps the text); or None to leave the reference alone. Used for working copies (links to the
    other copies) and for the static site (links to its pages).
    """
    here = posixpath.dirname(course_path)

    def resolve(target, relative_to=here):
        if re.match(r"^[a-z][a-z0-9+.-]*:|^/|^#", target, re.I):
            return None  # a web address, an absolute path, or an anchor in this notebook
        path, _, fragment = target.partition("#")
        path = posixpath.normpath(posixpath.join(relative_to, unquote(path)))
        if not path.endswith(".ipynb") or path.startswith(".."):
            return None
        placed = place(path)
        return (placed[0] + (f"#{fragment}" if fragment else ""), placed[1]) if placed else None

    def resolve_mention(code):
        return resolve(code, here if code.startswith("..") else "")

    def relabel(text):  # a path shown as a link's text (in code style or not) shows the new name
        def one(match):
            placed = resolve_mention(match.group("code"))
            return f"{match.group('tick')}{placed[1]}{match.group('tick')}" if placed and placed[1] else match.group(0)

        return re.sub(_PATH_TEXT, one, text)

    def rewrite(match):
        if match.group("code"):
            placed = resolve_mention(match.group("code"))
            return f"[`{placed[1] or match.group('code')}`]({placed[0]})" if placed else match.group(0)
        if match.group("href"):
            placed = resolve(match.group("href"))
            return f'href="{placed[0]}"' if placed else match.group(0)
        placed = resolve(match.group("target"))
        if not placed:
            return match.group(0)
        return f"[{relabel(match.group('text'))}]({placed[0]}{match.group('title') or ''})"

    return _REFERENCE.sub(rewrite, markdown)
