"""The static site (`make html`): an index, working links, no answers unless asked, offline."""
import html
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from coursekit import authoring, course_data

# The two builds are shared by this module's tests: keep them on one pytest-xdist worker (`make test`
# runs --dist loadgroup), so the site is built twice, not twice per worker.
pytestmark = pytest.mark.xdist_group("site")

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def build(out, *options):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), str(out), *options],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build(tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="module")
def site_with_solutions(tmp_path_factory):
    return build(tmp_path_factory.mktemp("site") / "site", "--solutions")


def pages(site):
    return sorted(site.rglob("*.html"))


def references(page):
    return re.findall(r'(?:href|src)="([^"]*)"', page.read_text(encoding="utf-8"))


def ids(page):
    """Anchors, percent-decoded as a browser matches them (nbconvert writes `id="01-%C2%B7-..."`)."""
    return {unquote(html.unescape(i)) for i in re.findall(r'\bid="([^"]*)"', page.read_text(encoding="utf-8"))}


def text_of(page):
    """What a reader sees: the page without tags (highlighted code is split into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def test_the_index_lists_every_chapter_in_order_with_its_objectives(site):
    """The index shows what the lessons state (coursekit/course_data.py, shared with the guide)."""
    index = (site / "index.html").read_text(encoding="utf-8")
    positions = []
    chapters = course_data.chapters()
    assert [c["stem"] for c in chapters if c["has_lesson"]] == [lesson.stem for lesson in LESSONS]
    for chapter in chapters:
        number = chapter["number"]
        section = re.search(rf'<section class="chapter" id="ch{number}">(.*?)</section>', index, re.S)
        assert section, f"chapter {number} is not on the index"
        assert html.escape(chapter["title"]) in section.group(1)
        assert section.group(1).count("<li>") == len(chapter["objectives"]) > (0 if chapter["has_lesson"] else -1)
        shown = re.findall(r'<p class="before">.*?</p>', section.group(1), re.S)
        assert re.findall(r'href="#ch(\d+)"', "".join(shown)) == chapter["prerequisites"]
        positions.append(index.index(section.group(0)))
    assert positions == sorted(positions) and len(positions) == len(chapters) >= len(LESSONS) >= 2
    assert sum(bool(c["prerequisites"]) for c in chapters if c["has_lesson"]) == len(LESSONS) - 1  # all but 00


@pytest.mark.parametrize("which", ["site", "site_with_solutions"])
def test_every_internal_link_leads_to_a_page_and_anchor_of_the_site(which, request):
    site = request.getfixturevalue(which)
    checked = 0
    for page in pages(site):
        for ref in references(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.I):
                continue  # a web address (links out; nothing the pages need to show)
            path, _, fragment = html.unescape(ref).partition("#")
            target = (page.parent / unquote(path)).resolve() if path else page
            assert target.is_file() and target.is_relative_to(site.resolve()), f"{page.relative_to(site)}: {ref}"
            if fragment:
                assert unquote(fragment) in ids(target), f"{page.relative_to(site)}: no anchor for {ref}"
            checked += 1
    assert checked > 3 * len(LESSONS)  # the index, the headers and the lessons' own links were checked


@pytest.mark.parametrize("which", ["site", "site_with_solutions"])
def test_the_pages_load_nothing_from_the_internet(which, request):
    site = request.getfixturevalue(which)
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        assert not re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="(?:https?:)?//', text), page.name
        assert ".ipynb\"" not in text, page.name  # every link between notebooks leads to a page


def texts(nb):
    for cell in nb.cells:
        yield cell.source
        for output in cell.get("outputs", []):
            yield output.get("text", "")
            yield from (value for value in output.get("data", {}).values() if isinstance(value, str))


def solution_lines():
    """Lines of worked answers that appear nowhere in the lessons or the exercises (nor in their
    outputs: a lesson may print the sandbox's own code)."""
    shipped = "".join(text for folder in ("notebooks", "exercises") for path in (ROOT / folder).glob("*.ipynb")
                      for text in texts(nbformat.read(path, as_version=4)))
    lines = set()
    for solution in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(solution, as_version=4).cells:
            for region in re.findall(rf"{re.escape(authoring.BEGIN)}.*?\n(.*?){re.escape(authoring.END)}",
                                     cell.source, re.S):
                lines |= {line.strip() for line in region.splitlines()
                          if len(line.strip()) > 20 and line.strip() not in shipped}
    return lines


def test_answers_are_published_only_when_asked(site, site_with_solutions):
    answers = solution_lines()
    assert len(answers) > 10
    assert not (site / "solutions").exists()
    assert not any("solutions/" in ref for page in pages(site) for ref in references(page))
    default_text = "".join(text_of(page) for page in pages(site))
    assert not [line for line in answers if line in default_text]
    with_solutions = "".join(text_of(page) for page in pages(site_with_solutions))
    assert all(line in with_solutions for line in answers)
    index = (site_with_solutions / "index.html").read_text(encoding="utf-8")
    for solution in (ROOT / "solutions").glob("*.ipynb"):
        assert f'href="solutions/{solution.stem}.html"' in index


def test_verdict_marks_are_drawn_without_an_emoji_font(site):
    welcome = (site / "notebooks" / "00-welcome.html").read_text(encoding="utf-8")
    # A verdict draws its own mark (inline SVG) beside its word; course.css draws any older glyph.
    assert 'class="ck-verdict-mark ck-verdict-pass"' in welcome and 'class="ck-verdict-mark ck-verdict-fail"' in welcome
    assert "<b>PASSED</b> · 00.city-count" in welcome and "<b>NOT YET</b> · 00.city-count" in welcome
    outside_marks = re.sub(r'<span class="ck-glyph">[^<]*</span>', "", welcome)
    assert not set("✅❌⏳✔✘") & set(outside_marks)
    assert ".ck-pass::before" in (site / "course.css").read_text()


def test_a_prediction_shows_its_question_as_text(site):
    welcome = text_of(site / "notebooks" / "00-welcome.html")
    assert "Predict:" in welcome and "Commit to an answer (write it down)" in welcome


def test_a_folder_it_did_not_build_is_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "not a site built here" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
