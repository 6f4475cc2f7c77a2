"""Run wrong and right answers through a chapter's checks, without a kernel.

A chapter's table (tests/answers/test_chNN.py) is a list of Case rows: the exercise, the
nudge id the answer must get (or PASS), and the answer's source as a learner would type it.

    CASES = [
        Case("city-count", "ck.E004", '''
    async def city_count():
        return City.objects.count()
    ''', "the sync ORM in async code"),
        Case("city-count", PASS, "...", "sync_to_async around the sync count"),
    ]

The chapter's set-up runs once per test module, the way the notebook's set-up cells do:
on a thread of its own that runs an event loop, like a kernel's main thread (so Django's
async-safety guard behaves exactly as in a notebook). Each case's source runs in a fresh
copy of the set-up's namespace, then `chapter.judge(slug, namespace=...)` gives the verdict.
"""
import ast
import asyncio
import textwrap
import threading
from pathlib import Path
from typing import NamedTuple

import nbformat

ROOT = Path(__file__).resolve().parent.parent.parent
PASS = "pass"


class Case(NamedTuple):
    slug: str
    expect: str  # a nudge id such as "ch03.W004", or PASS
    source: str
    note: str = ""

    @property
    def id(self):
        return f"{self.slug}: {self.note or self.expect}"


def setup_cells(number):
    """The code cells of solutions/NN-*.ipynb before its first exercise (imports, setup())."""
    path = next((ROOT / "solutions").glob(f"{number}-*.ipynb"))
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        if "### BEGIN SOLUTION" in cell.source or "ex.check(" in cell.source:
            break
        cells.append(cell.source)
    return cells


async def run_source(source, namespace):
    """exec() a cell's source, top-level await included, like IPython does."""
    code = compile(textwrap.dedent(source), "<answer>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if asyncio.iscoroutine(result):
        await result


class ChapterRunner:
    """A kernel-like loop on its own thread, with the chapter's set-up already run."""

    def __init__(self, number, prelude=None):
        self.number = number
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"answers-{number}", daemon=True)
        self.thread.start()
        self.namespace = {"__name__": "__main__"}
        for source in prelude if prelude is not None else setup_cells(number):
            self.run(run_source(source, self.namespace), timeout=120)

    def run(self, coro, timeout=90):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def judge(self, case, attempts=3):
        """The verdict on one answer. "Not judged" (the check itself found the machine too busy,
        twice) is no verdict at all: ask again, a few times, before reporting it."""
        from coursekit.exercises import chapter_module

        chapter = chapter_module(self.number).chapter

        async def go():
            namespace = dict(self.namespace)
            await run_source(case.source, namespace)
            return await chapter.judge(case.slug, namespace=namespace)

        for _ in range(attempts):
            verdict = self.run(go())
            if verdict.passed is not None:
                break
        return verdict

    def close(self):
        async def stop():
            import coursekit

            await coursekit.shutdown()

        try:
            self.run(stop(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def verdict_problem(case, verdict):
    """None if the verdict is what the table says; else what went wrong, readable."""
    if verdict.passed is None:
        return f"not judged (machine too busy?): {verdict.got}"
    if case.expect == PASS:
        if verdict.passed:
            return None
        return f"a right answer was rejected with {verdict.nudge_id}:\n{verdict.text()}"
    if verdict.passed:
        return f"a wrong answer passed (expected {case.expect})"
    if verdict.nudge_id not in case.expect.split("|"):  # "a|b": either nudge names a true cause
        return f"expected nudge {case.expect}, got {verdict.nudge_id}:\n{verdict.text()}"
    return None
