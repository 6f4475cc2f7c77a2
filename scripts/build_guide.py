#!/usr/bin/env python
"""Write the tables of the instructors' guide: `make guide`.

docs/instructors.md is written by hand, except the regions between
`<!-- make guide writes from here: NAME -->` and `<!-- make guide writes to here: NAME -->`, which this
script fills from:

- the lessons' introductions (objectives, prerequisites, stated times), via coursekit.course_data;
- course.toml (the workshop plans: which chapters, sections and exercises);
- course-times.json (Run All, measured by scripts/measure-times);
- the check modules (every nudge id, its title and text) and the wrong-answer tables in
  tests/answers/ (how many rows of wrong answers get each id).

docs/nudges.md (every nudge id) is written whole. `--check` writes nothing and exits 1 when a file
would change (tests/test_guide.py runs it).

    python scripts/build_guide.py [--check]
"""
import argparse
import collections
import functools
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from coursekit import course_data  # noqa: E402

GUIDE = ROOT / "docs" / "instructors.md"
NUDGES_PAGE = ROOT / "docs" / "nudges.md"
TOP_NUDGES = 20
ROUND_TO = 5  # block lengths in a schedule are rounded up to whole 5 minutes
_REGION = re.compile(r"(<!-- make guide writes from here: (\S+) -->\n).*?(<!-- make guide writes to here: \2 -->)", re.S)


# --- reading --------------------------------------------------------------------------------
def lesson_path(number):
    return next(p for p in course_data.lessons() if course_data.number_of(p) == number)


def solution_path(number):
    return next((p for p in course_data.solutions() if course_data.number_of(p) == number), None)


def relative(path):
    return Path(path).relative_to(ROOT).as_posix()


def figures(path, times):
    """The measured entry of a notebook, or an error that says how to measure it."""
    entry = times["notebooks"].get(relative(path))
    if entry is None:
        raise SystemExit(f"{relative(path)} has no measured times: run `scripts/measure-times {relative(path)}`")
    titles = course_data.sections(nbformat.read(path, as_version=4))
    if len(titles) != len(entry["sections"]):
        raise SystemExit(f"{relative(path)} has {len(titles)} sections, measured with {len(entry['sections'])}: "
                         f"run `scripts/measure-times {relative(path)}`")
    return entry


def exercises(number):
    """A chapter's exercises in order: slug, title, size (statement and model answer, characters)."""
    path = solution_path(number)
    if path is None:
        return []
    found = []
    for section in course_data.sections(nbformat.read(path, as_version=4)):
        for slug in section["checks"]:
            found.append({"slug": slug, "title": re.sub(r"^(Exercise\s+)?\d+\s*[.·]\s*", "", section["title"]),
                          "size": section["size"] / len(section["checks"]),
                          "in_notebook": section["answers"] > 0})
    return found


# --- estimates (labelled as such in the guide) -----------------------------------------------
def minutes_per_character(chapters):
    """The course's own rate for exercises: the minutes chapters state for their exercises, over
    the size of those exercises. Used for chapters that state no exercise time."""
    stated = [(c["exercise_minutes"], sum(e["size"] for e in exercises(c["number"]))) for c in chapters
              if c["exercise_minutes"] and exercises(c["number"])
              and all(e["in_notebook"] for e in exercises(c["number"]))]
    return sum(m for m, _ in stated) / sum(s for _, s in stated)


def exercise_estimates(chapter, rate):
    """Minutes per exercise: the chapter's stated exercise time shared by size, else the course's rate.
    An exercise answered in files, not in the notebook, has no estimate (None): its size says nothing."""
    found = exercises(chapter["number"])
    if not all(e["in_notebook"] for e in found):
        return {e["slug"]: None for e in found}
    total = sum(e["size"] for e in found)
    if chapter["exercise_minutes"] and total:
        return {e["slug"]: chapter["exercise_minutes"] * e["size"] / total for e in found}
    return {e["slug"]: rate * e["size"] for e in found}


def section_estimates(chapter):
    """Minutes per lesson section: the chapter's stated lesson time shared by size (the set-up too)."""
    nb = nbformat.read(lesson_path(chapter["number"]), as_version=4)
    found = course_data.sections(nb)
    total = sum(s["size"] for s in found)
    return [chapter["lesson_minutes"] * s["size"] / total for s in found]


def round_up(minutes):
    return ROUND_TO * math.ceil(minutes / ROUND_TO - 1e-9)


def chosen_sections(block, count):
    wanted = block.get("sections", "all")
    return list(range(1, count)) if wanted == "all" else list(wanted)


def schedule(workshop, chapters, times, rate):
    """The rows of one workshop: each block with what runs, measured, and its minutes."""
    by_number = {c["number"]: c for c in chapters}
    rows = []
    for block in workshop["blocks"]:
        if "break" in block:
            rows.append({"break": block.get("note", "break"), "minutes": block["break"]})
            continue
        chapter = by_number[block["chapter"]]
        lesson = figures(lesson_path(chapter["number"]), times)
        picked = chosen_sections(block, len(lesson["sections"]))
        # Cells run top to bottom: every section up to the last one taught runs, taught or not.
        ran = lesson["sections"][: max(picked) + 1] if picked else []
        cells = sum(s["wall_s"] for s in ran)
        teach = sum(section_estimates(chapter)[i] for i in [0, *picked])
        slugs = block.get("exercises", [])
        estimates = exercise_estimates(chapter, rate)
        if slugs:
            solution = figures(solution_path(chapter["number"]), times)
            # the solution's set-up, then each exercise's section: its answer cells and its check
            where = {slug: s["wall_s"] for s in solution["sections"] for slug in s.get("checks", {})}
            cells += solution["sections"][0]["wall_s"] + sum(where[slug] for slug in slugs)
        work = sum(estimates[slug] for slug in slugs)
        rows.append({"chapter": chapter, "sections": picked, "titles": [chapter["sections"][i] for i in picked],
                     "exercises": slugs, "cells_s": cells, "teach": teach, "work": work,
                     "minutes": round_up(max(teach, cells / 60) + work), "note": block.get("note", "")})
    return rows


# --- nudges ----------------------------------------------------------------------------------
# Reads every wrong-answer table in a process of its own, with a temporary folder of its own:
# importing a table may set things up (the capstone's makes a folder for its apps).
_READ_TABLES = """
import importlib, json, sys
rows = []
for stem in sys.argv[1:]:
    module = importlib.import_module("tests.answers." + stem)
    for case in module.CASES:
        rows.append([module.CHAPTER, case.slug, case.expect])
print(json.dumps(rows))
"""


def table_rows():
    """Every row of the wrong-answer tables: (chapter, exercise, expected nudge id or "pass")."""
    stems = [p.stem for p in sorted((ROOT / "tests" / "answers").glob("test_ch*.py"))]
    with tempfile.TemporaryDirectory(prefix="answer-tables-") as scratch:
        result = subprocess.run([sys.executable, "-c", _READ_TABLES, *stems], cwd=ROOT, capture_output=True,
                                text=True, timeout=300, env={**os.environ, "TMPDIR": scratch})
    if result.returncode:
        raise SystemExit(f"could not read the wrong-answer tables:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@functools.cache
def nudge_hits():
    """Per nudge id: how many wrong-answer rows get it, and which exercises they belong to."""
    rows, spread = collections.Counter(), collections.defaultdict(set)
    total = 0
    for chapter, slug, expect in table_rows():
        if expect == "pass":
            continue
        total += 1
        for nudge_id in expect.split("|"):  # "a|b": either names a true cause
            rows[nudge_id] += 1
            spread[nudge_id].add(f"{chapter}/{slug}")
    return rows, spread, total


def all_nudges():
    from coursekit.exercises import NUDGES, all_chapters

    all_chapters()  # importing every chapter's checks registers its nudges
    return dict(NUDGES)


def meaning(text):
    """A nudge's text for a table: its {placeholders} as ‹name›, {{ and }} as the braces they
    stand for (as str.format writes them), no table-breaking pipes."""
    text = re.sub(r"(?<!\{)\{(\w+)\}(?!\})", r"‹\1›", text).replace("{{", "{").replace("}}", "}")
    return text.replace("|", "\\|").replace("\n", " ")


def chapter_of(nudge_id):
    prefix = nudge_id.split(".")[0]
    return "all" if prefix == "ck" else prefix.removeprefix("ch")


# --- rendering -------------------------------------------------------------------------------
def link_chapter(number, chapters, here="docs"):
    chapter = next((c for c in chapters if c["number"] == number), None)
    if chapter is None:
        return number
    return f"[{number}](../{chapter['notebook']})" if here == "docs" else number


def seconds(value):
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def render_chapters(chapters, times):
    lines = []
    for c in chapters:
        before = ", ".join(link_chapter(n, chapters) for n in c["prerequisites"]) or "none"
        ran = []
        if c["has_lesson"]:
            ran.append(f"Run All {seconds(figures(lesson_path(c['number']), times)['wall_s'])}")
        solution = solution_path(c["number"])
        if solution:
            ran.append(f"solutions {seconds(figures(solution, times)['wall_s'])}")
        lines += [f"### {c['number']} · {c['title']}", "",
                  f"Before it: {before}. Stated time: {c['time'] or 'none'}. Measured: {', '.join(ran)}.", ""]
        if c["objectives"]:
            lines += [f"{c['lead']}:", *[f"- {objective}" for objective in c["objectives"]], ""]
        else:
            lines += [f"(No objectives stated in [its first cell](../{c['notebook']}).)", ""]
    return "\n".join(lines).rstrip() + "\n"


def span(shares):
    low, high = f"{min(shares):.0%}", f"{max(shares):.0%}"
    return low if low == high else f"{low} to {high}"


def render_times(times):
    lines = ["| notebook | Run All (wall) | CPU | kernel start | load 1-min before → after (peak) | cores busy | measured |",
             "|---|---|---|---|---|---|---|"]
    for path in course_data.timed_notebooks():
        t = figures(path, times)
        lines.append(f"| {relative(path)} | {seconds(t['wall_s'])} | {seconds(t['cpu_s'])} | "
                     f"{seconds(t['kernel_start_s'])} | {t['load_before'][0]:.1f} → {t['load_after'][0]:.1f} "
                     f"({t['load_peak_1min']:.1f}) | {t['machine_busy']:.0%} | {t['measured_at']} |")
    lessons = [figures(p, times) for p in course_data.lessons()]
    machine = times.get("machine", {})
    every = [figures(p, times) for p in course_data.timed_notebooks()]
    loads = [x for t in every for x in (t["load_before"][0], t["load_after"][0], t["load_peak_1min"])]
    busy = [t["machine_busy"] for t in every]
    lines += ["", f"Every lesson, one after another: {sum(t['wall_s'] for t in lessons) / 60:.1f} minutes of "
                  f"Run All, {sum(t['cpu_s'] for t in lessons) / 60:.1f} minutes of CPU. Measured on "
                  f"{machine.get('cpus', '?')} cores ({machine.get('system', '?')}, Python "
                  f"{machine.get('python', '?')}) with a 1-minute load average of {min(loads):.1f} to "
                  f"{max(loads):.1f} and the cores {span(busy)} busy while the notebooks ran (their own "
                  "work included)."]
    return "\n".join(lines) + "\n"


def render_schedule(workshop, chapters, times, rate):
    rows = schedule(workshop, chapters, times, rate)
    lines = ["| starts | chapter and sections | exercises | cells run (measured) | minutes |",
             "|---|---|---|---|---|"]
    clock = 0
    for row in rows:
        start = f"{clock // 60}:{clock % 60:02d}"
        clock += row["minutes"]
        if "break" in row:
            lines.append(f"| {start} | *{row['break']}* | | | {row['minutes']} |")
            continue
        c = row["chapter"]
        every = len(row["sections"]) == len(c["sections"]) - 1
        sections = "all sections" if every else "; ".join(row["titles"])
        work = ", ".join(f"`{slug}`" for slug in row["exercises"]) or "–"
        note = f" {row['note']}" if row["note"] else ""
        lines.append(f"| {start} | **{c['number']} · {c['title']}**: {sections}.{note} | {work} | "
                     f"{seconds(row['cells_s'])} | {row['minutes']} |")
    lines.append(f"| {clock // 60}:{clock % 60:02d} | *end* | | | **{clock}** of {workshop['minutes']} |")
    return "\n".join(lines) + "\n", clock


def render_schedules(chapters, times):
    rate = minutes_per_character(chapters)
    parts = []
    for workshop in course_data.plan()["workshops"]:
        table, _ = render_schedule(workshop, chapters, times, rate)
        parts += [f"### {workshop['title']}", "", workshop.get("about", "").strip(), "", table]
    return "\n".join(p for p in parts).rstrip() + "\n"


def render_exercise_estimates(chapters, times):
    rate = minutes_per_character(chapters)
    lines = ["| chapter | exercise | estimate (min) | its check (measured) |", "|---|---|---|---|"]
    for c in chapters:
        solution = solution_path(c["number"])
        if not solution:
            continue
        checks = {slug: fig for s in figures(solution, times)["sections"] for slug, fig in s.get("checks", {}).items()}
        estimates = exercise_estimates(c, rate)
        for e in exercises(c["number"]):
            estimate = estimates[e["slug"]]
            shown = f"{estimate:.0f}" if estimate is not None else "– (answered in files)"
            lines.append(f"| {c['number']} | {e['title']} (`{e['slug']}`) | {shown} | "
                         f"{seconds(checks[e['slug']]['wall_s'])} |")
    return "\n".join(lines) + "\n"


def top_nudges(nudges):
    rows, spread, _ = nudge_hits()
    ranked = sorted(rows, key=lambda i: (-rows[i], -len(spread[i]), i))
    return [(i, rows[i], len(spread[i])) for i in ranked if i in nudges][:TOP_NUDGES]


def render_top_nudges(nudges):
    _, _, total = nudge_hits()
    lines = [f"Ranked by how many of the {total} wrong answers in the course's wrong-answer tables "
             "(tests/answers/, answers learners really write) get each id; a row that names two ids counts "
             "for both. *Exercises*: how many different exercises those rows belong to.", "",
             "| id | chapter | title | rows | exercises | what it means |", "|---|---|---|---|---|---|"]
    for nudge_id, count, exercises_hit in top_nudges(nudges):
        n = nudges[nudge_id]
        lines.append(f"| `{nudge_id}` | {chapter_of(nudge_id)} | {n.title} | {count} | {exercises_hit} | "
                     f"{meaning(n.text)} |")
    return "\n".join(lines) + "\n"


def render_nudges_page(nudges):
    rows, _, total = nudge_hits()
    lines = ["# Every nudge id", "",
             "A check that does not pass shows a nudge with its id, such as `(ch03.W004)`. `ck.*` ids are shared",
             "by every chapter (the `E` ones: the answer raised, or could not run at all; `B001`: the machine was",
             "too busy to judge), `chNN.*` ids belong to chapter NN. \"Rows\" counts the wrong answers in the",
             f"wrong-answer tables (tests/answers/, {total} in all) that get the id. The most frequent are",
             "explained in [the instructors' guide](instructors.md#the-nudge-ids-learners-meet-most).", "",
             "Written by `make guide` from the check modules (coursekit/exercises.py, coursekit/checks/)."]
    groups = collections.defaultdict(list)
    for nudge_id in sorted(nudges):
        groups[chapter_of(nudge_id)].append(nudge_id)
    for group in sorted(groups, key=lambda g: (g != "all", g)):
        lines += ["", "## Every chapter (ck)" if group == "all" else f"## Chapter {group}", "",
                  "| id | title | rows | what it means |", "|---|---|---|---|"]
        for nudge_id in groups[group]:
            n = nudges[nudge_id]
            lines.append(f"| `{nudge_id}` | {n.title} | {rows.get(nudge_id, 0)} | {meaning(n.text)} |")
    return "\n".join(lines) + "\n"


def regions():
    chapters = course_data.chapters()
    times = course_data.times()
    nudges = all_nudges()
    return {
        "chapters": render_chapters(chapters, times),
        "schedules": render_schedules(chapters, times),
        "exercise-estimates": render_exercise_estimates(chapters, times),
        "run-all": render_times(times),
        "top-nudges": render_top_nudges(nudges),
    }, render_nudges_page(nudges)


def fill(text, parts):
    missing = set(parts) - set(m.group(2) for m in _REGION.finditer(text))
    if missing:
        raise SystemExit(f"{relative(GUIDE)} lacks the markers for {sorted(missing)}")
    return _REGION.sub(lambda m: m.group(1) + parts[m.group(2)] + m.group(3) if m.group(2) in parts
                       else m.group(0), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the tables of docs/instructors.md, and docs/nudges.md.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    parts, nudges_page = regions()
    wanted = {GUIDE: fill(GUIDE.read_text(encoding="utf-8"), parts), NUDGES_PAGE: nudges_page}
    stale = [path for path, text in wanted.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{relative(path)} is out of date: run `make guide`")
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {relative(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
