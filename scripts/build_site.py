#!/usr/bin/env python
"""Build the course as a static site to read offline: `make html` (or `make html SOLUTIONS=1`).

    site/index.html                chapters in order, each with its objectives and prerequisites
                                   (read from the lessons by coursekit/course_data.py)
    site/notebooks/NN-slug.html    the lessons, executed, with their outputs
    site/exercises/NN-slug.html    the exercises, without answers
    site/solutions/NN-slug.html    the worked answers, only with --solutions
    site/course.css                the index's look, the page header, the verdict marks

Links between notebooks lead to the pages; a link to a notebook that is not published (a solution,
by default) becomes plain text. Nothing is fetched from the internet when a page is read: no
MathJax, no require.js, no widget scripts (the course has no formulas, and a prediction shows its
question as text). Verdict marks are drawn with CSS, so they need no emoji font.

    python scripts/build_site.py [OUT] [--solutions]
"""
import argparse
import html
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from coursekit import course_data  # noqa: E402  (titles, objectives, prerequisites: read once, shared with the guide)
from coursekit.workcopies import retarget_links  # noqa: E402  (the course's one link rewriter)

HERE = Path(__file__).resolve().parent
FOLDERS = {"notebooks": "Lesson", "exercises": "Exercises", "solutions": "Solutions"}
MARKER = ".course-site"  # an output folder holding this file may be emptied and rebuilt
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The marks a verdict may carry (emoji or text), drawn by course.css instead of a font.
MARKS = {"✅": ("pass", "passed"), "✔": ("pass", "passed"), "✔️": ("pass", "passed"),
         "❌": ("fail", "not yet"), "✘": ("fail", "not yet")}


def notebooks(solutions):
    folders = ["notebooks", "exercises"] + (["solutions"] if solutions else [])
    return [path for folder in folders for path in sorted((ROOT / folder).glob("*.ipynb"))]


def page_of(course_path):
    """`exercises/03-async-views.ipynb` -> `exercises/03-async-views.html` (relative to the site)."""
    return str(Path(course_path).with_suffix(".html"))


def nav(course_path, published):
    """The header of a page: back to the index, and the chapter's other pages."""
    here = Path(course_path)
    links = ['<a href="../index.html">Course index</a>']
    for folder, label in FOLDERS.items():
        sibling = f"{folder}/{here.name}"
        if sibling in published:
            if sibling == course_path:
                links.append(f'<span class="here">{label}</span>')
            else:
                links.append(f'<a href="../{page_of(sibling)}">{label}</a>')
    return f'<nav class="course-nav">{" · ".join(links)}</nav>'


def prepare(nb, course_path, published):
    """Links to pages; predictions as their text (no widget state is stored)."""
    def place(target):
        if target not in published:
            return None  # left as a link to the .ipynb; unlinked after rendering
        return os.path.relpath(page_of(target), os.path.dirname(course_path)), None

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = retarget_links(cell.source, course_path, place)
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}) and len(output["data"]) > 1:
                del output["data"][WIDGET_VIEW]
    return nb


def draw_marks(page):
    for glyph, (kind, meaning) in MARKS.items():
        page = page.replace(glyph, f'<span class="ck-mark ck-{kind}" title="{meaning}">'
                                   f'<span class="ck-glyph">{glyph}</span></span>')
    return page


_ANCHOR = re.compile(r'<a\s[^>]*?href="([^"]+)"[^>]*>(.*?)</a>', re.S)


def unlink_unpublished(page, course_path, warnings):
    """A link to a notebook without a page here (a solution, by default) keeps its text only."""
    def one(match):
        href = html.unescape(match.group(1))
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", href, re.I) or ".ipynb" not in href.split("#")[0]:
            return match.group(0)
        warnings.append(f"{course_path}: {href} is not published here; shown as text")
        return f'<span class="unpublished" title="not part of this site">{match.group(2)}</span>'

    return _ANCHOR.sub(one, page)


def prerequisites_line(info, chapters):
    """`Before it: 01 · Sync Django, 02 · asyncio` with links to those chapters on the index."""
    titles = {c["number"]: c["title"] for c in chapters}
    links = [f'<a href="#ch{n}">{n} · {html.escape(titles[n])}</a>' if n in titles else n
             for n in info["prerequisites"]]
    return f'<p class="before">Before it: {", ".join(links)}.</p>' if links else ""


def render_index(chapters, published, solutions):
    rows = []
    for info in chapters:
        pages = [(label, f"{folder}/{info['stem']}.ipynb") for folder, label in FOLDERS.items()]
        pages = [(label, path) for label, path in pages if path in published]
        links = " · ".join(f'<a href="{page_of(path)}">{label}</a>' for label, path in pages)
        time_needed = f' <span class="time">{html.escape(info["time"])}</span>' if info["time"] else ""
        objectives = (f'<p class="lead">{html.escape(info["lead"])}</p>{markdown2html(info["objectives_markdown"])}'
                      if info["objectives"] else "")
        rows.append(f"""
<section class="chapter" id="ch{info["number"]}">
  <h2><span class="number">{info["number"]}</span> <a href="{page_of(pages[0][1])}">{html.escape(info["title"])}</a></h2>
  <p class="pages">{links}{time_needed}</p>
  {prerequisites_line(info, chapters)}
  {objectives}
</section>""")
    note = ("Worked answers are included: try each exercise before you read its solution."
            if solutions else "Exercises are shown without their answers.")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Async Django, hands-on</title>
<link rel="stylesheet" href="course.css">
</head>
<body class="course-index">
<main>
<h1>Async Django, hands-on</h1>
<p>A course in Jupyter notebooks on asynchronous Django: when async helps, how to use it, and how to prove it
with measurements. This is a read-only copy of the executed lessons. To run them, clone the course and
<code>make lab</code>. {note}</p>
{"".join(rows)}
</main>
</body>
</html>
"""


def build(out, solutions=False):
    out = Path(out)
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            sys.exit(f"{out} exists and is not a site built here; choose another folder.")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Built by scripts/build_site.py; rebuilt from scratch each time.\n")
    shutil.copy(HERE / "site" / "course.css", out / "course.css")

    paths = notebooks(solutions)
    published = {p.relative_to(ROOT).as_posix() for p in paths}
    # The pages are the course's own notebooks, as trusted as its code: skip the template's HTML
    # sanitiser (bleach), which took a third of the build.
    exporter = HTMLExporter(template_name="lab", extra_template_paths=[str(HERE / "site")],
                            template_file="page.html.j2", filters={"clean_html": lambda html: html})
    warnings = []
    for path in paths:
        course_path = path.relative_to(ROOT).as_posix()
        nb = prepare(nbformat.read(path, as_version=4), course_path, published)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem},
                                                              "course_nav": nav(course_path, published)})
        target = out / page_of(course_path)
        target.parent.mkdir(exist_ok=True)
        target.write_text(unlink_unpublished(draw_marks(body), course_path, warnings), encoding="utf-8")

    chapters = course_data.chapters()
    (out / "index.html").write_text(render_index(chapters, published, solutions), encoding="utf-8")
    return paths, warnings


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the course's static site.")
    parser.add_argument("out", nargs="?", default=str(ROOT / "site"))
    parser.add_argument("--solutions", action="store_true", help="publish the worked answers too")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths, warnings = build(args.out, args.solutions)
    for warning in warnings:
        print(f"note: {warning}")
    out = Path(args.out).resolve()
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"Built {len(paths)} pages in {time.perf_counter() - started:.1f} s"
          f"{' (solutions included)' if args.solutions else ''}. Open {shown}/index.html")


if __name__ == "__main__":
    main()
