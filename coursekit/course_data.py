"""What the course says about itself, read from one place per idea.

- A chapter's title, objectives, prerequisites and estimated time: its lesson's first markdown
  cell (`notebooks/NN-*.ipynb`), which learners read first. Nothing here repeats them, so a new
  chapter is picked up as soon as its lesson exists.
- Its sections: the lesson's `##` headings (`###` belong to the `##` above them).
- Workshop plans (which chapters, sections and exercises for 90 minutes, half a day, a day):
  course.toml, written by hand.
- Measured Run All times: course-times.json, written by scripts/measure-times (`make times`).

The static site (scripts/build_site.py) and the instructors' guide (scripts/build-guide) both
read chapters through this module.
"""
import json
import re
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PLAN_FILE = ROOT / "course.toml"
TIMES_FILE = ROOT / "course-times.json"
SETUP = "Set-up"  # the cells above a notebook's first `##` heading

_TITLE = re.compile(r"^#\s+(.*)$", re.M)
_OBJECTIVES = re.compile(r"^\*\*(You will [^*]+)\*\*\s*\n((?:[ \t]*[-*] .*\n?|[ \t]+\S.*\n?)+)", re.M)
_PREREQUISITES = re.compile(r"^\*\*Prerequisites:\*\*\s*(.+?)(?=\n[ \t]*\n|\n\*\*|\Z)", re.M | re.S)
_ESTIMATE = re.compile(r"^\*\*Estimated time:\*\*\s*(.+?)(?=\n[ \t]*\n|\n\*\*|\Z)", re.M | re.S)
_HEADING = re.compile(r"^##\s+(.*)$", re.M)  # `##` only: `###` is part of the section above
_CHECK = "check"
_ANSWER = "### BEGIN SOLUTION"  # an answer cell (coursekit/authoring.py)


def lessons():
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def solutions():
    return sorted((ROOT / "solutions").glob("*.ipynb"))


def timed_notebooks():
    """The notebooks whose Run All is measured: every lesson and every solution."""
    return lessons() + solutions()


def number_of(path):
    return Path(path).name.split("-")[0]


def _intro(nb):
    return next((c.source for c in nb.cells if c.cell_type == "markdown"), "")


def _bullets(markdown):
    """The items of a markdown list, continuation lines joined."""
    items = []
    for line in markdown.splitlines():
        if re.match(r"^[ \t]*[-*] ", line):
            items.append(re.sub(r"^[ \t]*[-*] ", "", line).strip())
        elif line.strip() and items:
            items[-1] += " " + line.strip()
    return items


def chapter_numbers(text):
    """The chapters a prerequisites sentence names: `chapters 02 (the loop), 03 and 05`,
    `[00 · Welcome](00-welcome.ipynb)`. Words in parentheses are what is needed from a chapter,
    never a chapter, so they are left out first."""
    text = re.sub(r"\([^()]*\)", " ", text)
    return sorted(set(re.findall(r"(?<![\d.])\d{2}(?!\d|\.\d)", text)))  # not 6.0, 2.10 or 100


def _minutes(text):
    """`45 minutes, plus 30 for the exercises.` -> (45, 30); `15 minutes.` -> (15, None)."""
    lesson = re.match(r"(\d+)\s*min", text)
    exercises = re.search(r"plus\s+(\d+)", text)
    return (int(lesson.group(1)) if lesson else None, int(exercises.group(1)) if exercises else None)


def sections(nb):
    """The notebook's sections in order: the set-up (cells above the first `##`), then one per `##`
    heading, each with the indices of its code cells, in a solution its check cells by slug and
    how many answer cells it has, and its size (characters of source: how much to read and type)."""
    found = [{"title": SETUP, "code_cells": [], "checks": {}, "answers": 0, "size": 0}]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for heading in _HEADING.findall(cell.source):
                found.append({"title": heading.strip(), "code_cells": [], "checks": {}, "answers": 0,
                              "size": 0})
        found[-1]["size"] += len(cell.source)
        if cell.cell_type == "code":
            found[-1]["code_cells"].append(index)
            slug = cell.get("metadata", {}).get("coursekit", {}).get(_CHECK)
            if slug:
                found[-1]["checks"][slug] = index
            if _ANSWER in cell.source:
                found[-1]["answers"] += 1
    return found


def chapter(lesson):
    """One chapter as its lesson's introduction states it (a chapter without a lesson, such as an
    exercises-only capstone: as its solution notebook's introduction states it)."""
    lesson = Path(lesson)
    nb = nbformat.read(lesson, as_version=4)
    intro = _intro(nb)
    heading = _TITLE.search(intro)
    full_title = heading.group(1).strip() if heading else lesson.stem
    number, _, title = full_title.partition(" · ")
    if not number.isdigit():
        number, title = number_of(lesson), full_title
    objectives = _OBJECTIVES.search(intro)
    prerequisites = _PREREQUISITES.search(intro)
    estimate = _ESTIMATE.search(intro)
    estimate_text = " ".join(estimate.group(1).split()) if estimate else ""
    first_sentence = estimate_text.split(". ")[0].rstrip(".")
    lesson_minutes, exercise_minutes = _minutes(estimate_text)
    prerequisite_text = " ".join(prerequisites.group(1).split()) if prerequisites else ""
    return {
        "number": number,
        "stem": lesson.stem,
        "notebook": lesson.relative_to(ROOT).as_posix() if lesson.is_relative_to(ROOT) else str(lesson),
        "has_lesson": lesson.parent.name == "notebooks",
        "title": title.strip(),
        "lead": objectives.group(1).strip() if objectives else "",
        "objectives_markdown": objectives.group(2) if objectives else "",
        "objectives": _bullets(objectives.group(2)) if objectives else [],
        "prerequisites_text": prerequisite_text,
        "prerequisites": [n for n in chapter_numbers(prerequisite_text) if n != number],
        "time": first_sentence,
        "lesson_minutes": lesson_minutes,
        "exercise_minutes": exercise_minutes,
        "sections": [s["title"] for s in sections(nb)],
    }


def chapters():
    """Every chapter in order: one per lesson, and one per solution notebook that has no lesson."""
    sources = {number_of(p): p for p in solutions()} | {number_of(p): p for p in lessons()}
    return [chapter(sources[number]) for number in sorted(sources)]


def plan():
    """The workshop plans (course.toml)."""
    with PLAN_FILE.open("rb") as f:
        return tomllib.load(f)


def times(path=None):
    """The measured figures (course-times.json): {"machine": ..., "notebooks": {"notebooks/00-...": ...}}."""
    path = Path(path or TIMES_FILE)
    return json.loads(path.read_text()) if path.exists() else {"notebooks": {}}
