"""The instructors' guide: its tables are written from the lessons, course.toml, the measured
times and the checks, and stay up to date with them (`make guide`, `make times`)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit import course_data

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "instructors.md"
sys.path.insert(0, str(ROOT / "scripts"))
import build_guide  # noqa: E402


def test_the_guide_and_the_nudges_page_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_guide.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_notebook_has_measured_times_and_every_figure_a_notebook():
    measured = set(course_data.times()["notebooks"])
    on_disk = {p.relative_to(ROOT).as_posix() for p in course_data.timed_notebooks()}
    assert on_disk - measured == set(), "not measured yet: run `make times NOTEBOOKS=\"...\"` for these"
    assert measured - on_disk == set(), "figures of notebooks that are gone: run `make times`"
    for key, entry in course_data.times()["notebooks"].items():
        sections = course_data.sections(nbformat.read(ROOT / key, as_version=4))
        assert len(entry["sections"]) == len(sections), f"{key} changed its sections: measure it again"
        assert entry["wall_s"] >= sum(s["wall_s"] for s in entry["sections"]) > 0
        assert entry["cpu_s"] > 0 and len(entry["load_before"]) == 3 and 0 <= entry["machine_busy"] <= 1


def test_every_lesson_states_objectives_prerequisites_and_its_time():
    chapters = course_data.chapters()
    numbers = [c["number"] for c in chapters]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) >= 10
    for c in chapters:
        if not c["has_lesson"]:
            assert c["title"], c["number"]  # an exercises-only chapter (a capstone): stated as its lesson would be
            continue
        assert c["title"] and c["lead"].startswith("You will") and len(c["objectives"]) >= 3, c["number"]
        assert c["prerequisites_text"], f"{c['number']}: no **Prerequisites:** line"
        assert all(n in numbers and n < c["number"] for n in c["prerequisites"]), (c["number"], c["prerequisites"])
        assert c["lesson_minutes"] and c["time"], f"{c['number']}: no **Estimated time:** in minutes"
    assert all(c["prerequisites"] for c in chapters[1:] if c["has_lesson"])  # only the welcome builds on nothing


@pytest.mark.parametrize("text, chapters", [
    ("[00 · Welcome](00-welcome.ipynb).", ["00"]),
    ("chapters 01 (the sandbox, WSGI) and 02 (`await`, `gather`).", ["01", "02"]),
    ("chapters 02 (tasks), 03 (views under Django 6.0 and 60 clients); chapter 06 for the consumer test.",
     ["02", "03", "06"]),
    ("chapter 01 (worker pools). Python `def`, `for`, `with`.", ["01"]),
    ("chapters 03, 05, 06, 07 and 09.", ["03", "05", "06", "07", "09"]),
    ("Django 6.0 or 5.2, 100 clients, ASGI 3.0", []),
    ("you know everyday (sync) Django: models, views, URLs, the ORM.", []),
])
def test_prerequisites_are_read_from_the_sentence(text, chapters):
    assert course_data.chapter_numbers(text) == chapters


def test_sections_split_at_second_level_headings_only():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 03 · A chapter\n\nIntro."),
        nbformat.v4.new_code_cell("import coursekit"),
        nbformat.v4.new_markdown_cell("## 1. First\n\ntext\n\n### 1b. Still the first"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("await ex.check('one')", metadata={"coursekit": {"check": "one"}}),
        nbformat.v4.new_markdown_cell("## 2. Second"),
    ])
    found = course_data.sections(nb)
    assert [s["title"] for s in found] == [course_data.SETUP, "1. First", "2. Second"]
    assert [s["code_cells"] for s in found] == [[1], [3, 4], []]
    assert found[1]["checks"] == {"one": 4}


@pytest.mark.parametrize("workshop", course_data.plan()["workshops"], ids=lambda w: str(w["minutes"]))
def test_each_plan_names_what_exists_and_builds_on_what_it_taught(workshop):
    by_number = {c["number"]: c for c in course_data.chapters()}
    taught = set()
    for block in workshop["blocks"]:
        if "break" in block:
            continue
        chapter = by_number[block["chapter"]]
        sections = block.get("sections", "all")
        assert sections == "all" or all(1 <= s < len(chapter["sections"]) for s in sections), block
        slugs = [e["slug"] for e in build_guide.exercises(chapter["number"])]
        assert set(block.get("exercises", [])) <= set(slugs), block
        missing = set(chapter["prerequisites"]) - taught - set(block.get("without", []))
        assert not missing, f"{workshop['title']}: chapter {chapter['number']} needs {sorted(missing)} first"
        taught.add(chapter["number"])


@pytest.mark.parametrize("workshop", course_data.plan()["workshops"], ids=lambda w: str(w["minutes"]))
def test_each_plan_fits_its_slot(workshop):
    chapters = course_data.chapters()
    rate = build_guide.minutes_per_character(chapters)
    rows = build_guide.schedule(workshop, chapters, course_data.times(), rate)
    total = sum(row["minutes"] for row in rows)
    assert workshop["minutes"] * 0.8 <= total <= workshop["minutes"], (workshop["title"], total)
    for row in rows:
        if "break" not in row:
            # a block is never shorter than the cells it runs, measured, plus its exercises' estimate
            assert row["minutes"] >= row["cells_s"] / 60 + row["work"], row


def course_nudge_ids():
    """The course's own nudge ids, from a fresh process: tests in this one may register their own."""
    code = "import json; from coursekit.exercises import NUDGES, all_chapters; all_chapters(); print(json.dumps(sorted(NUDGES)))"
    return json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                     check=True).stdout)


def test_the_top_nudges_are_those_the_wrong_answer_tables_hit_most():
    NUDGES = course_nudge_ids()
    rows, _, total = build_guide.nudge_hits()
    assert total >= 5 * 20 and set(rows) <= set(NUDGES), sorted(set(rows) - set(NUDGES))  # no id mistyped
    region = re.search(r"<!-- make guide writes from here: top-nudges -->(.*?)<!-- make guide writes to", GUIDE.read_text(), re.S).group(1)
    shown = re.findall(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| (\d+) \|", region, re.M)
    assert len(shown) == build_guide.TOP_NUDGES
    counts = [int(count) for _, count in shown]
    assert counts == sorted(counts, reverse=True) and counts[0] == max(rows.values())
    assert all(rows[nudge_id] == int(count) for nudge_id, count in shown)
    every = (ROOT / "docs" / "nudges.md").read_text()
    assert all(f"`{nudge_id}`" in every for nudge_id in NUDGES)


def test_the_guide_links_the_hub_page_and_its_tables_are_filled():
    text = GUIDE.read_text()
    assert "](hub.md)" in text
    for name in ("chapters", "schedules", "exercise-estimates", "run-all", "top-nudges"):
        body = re.search(rf"<!-- make guide writes from here: {name} -->\n(.*?)<!-- make guide writes to here: {name} -->", text, re.S)
        assert body and body.group(1).strip(), name
    for c in course_data.chapters():
        assert f"### {c['number']} · {c['title']}" in text


def test_measuring_runs_a_copy_and_writes_only_its_figures(tmp_path):
    lesson = tmp_path / "00-welcome.ipynb"  # a copy: the course's own may be re-executed meanwhile
    lesson.write_bytes((ROOT / "notebooks" / "00-welcome.ipynb").read_bytes())
    before = lesson.read_bytes()
    out = tmp_path / "times.json"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "measure-times"), str(lesson), "--out", str(out)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert lesson.read_bytes() == before  # no outputs written back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00-welcome.ipynb", "times.json"]  # nor progress
    entry = json.loads(out.read_text())["notebooks"][str(lesson)]
    sections = course_data.sections(nbformat.read(lesson, as_version=4))
    assert [s["title"] for s in entry["sections"]] == [s["title"] for s in sections]
    assert entry["wall_s"] > entry["kernel_start_s"] > 0 and entry["cpu_s"] > 0
    assert "city-count" in next(s["checks"] for s in entry["sections"] if "checks" in s)
