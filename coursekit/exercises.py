"""Exercise checks: one call per check cell, a friendly verdict, hints on demand.

In an exercise notebook:

    ex = coursekit.exercises("01")
    ...                                   # the learner writes `finish_time` in a cell
    await ex.check("finish-time")         # looks `finish_time` up in the notebook
    ex.hint("finish-time")                # hint 1; call again for hint 2, ...

A chapter's checks live in coursekit/checks/chNN.py:

    chapter = Chapter("01", "Sync Django, request by request")

    @chapter.exercise("finish-time", "When does the last client get its page?",
                      needs=["finish_time"], hints=["...", "..."])
    async def check_finish_time(ctx, finish_time):
        got = await ctx.call(finish_time, 12, 4, 0.2)
        ctx.expect(..., expected="...", got="...", nudge="...")
        return "well done message"

A check never raises into the notebook: whatever happens becomes a Verdict.
"""
import asyncio
import html
import importlib
import inspect
import textwrap
from dataclasses import dataclass, field

from . import progress
from .errors import describe
from .guard import run_guarded

VERDICT_MIME = "application/vnd.coursekit.verdict+json"


class Fail(Exception):
    """A check's verdict that the answer is not right yet."""

    def __init__(self, expected, got, nudge=None):
        super().__init__(expected)
        self.expected, self.got, self.nudge = expected, got, nudge


@dataclass
class Verdict:
    exercise: str
    passed: bool
    message: str = ""
    expected: str = ""
    got: str = ""
    nudge: str = ""
    hints_left: bool = True

    def text(self):
        if self.passed:
            return f"✅ {self.exercise}: passed. {self.message}".rstrip()
        lines = [f"❌ {self.exercise}: not yet."]
        for label, value in (("Expected", self.expected), ("Got", self.got), ("Nudge", self.nudge)):
            if value:
                body = textwrap.indent(textwrap.fill(value, 88), " " * 12).lstrip()
                lines.append(f"  {label + ':':<9} {body}")
        if self.hints_left:
            lines.append(f'  Stuck? ex.hint("{self.exercise.split(".", 1)[1]}") shows a hint; call it again for more.')
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        colour = "#e7f5e9" if self.passed else "#fdecea"
        body = html.escape(self.text()).replace("\n", "<br>")
        return {
            "text/plain": self.text(),
            "text/html": f"<div style='background:{colour};padding:8px 12px;border-radius:6px;"
                         f"font-family:var(--jp-code-font-family,monospace);white-space:pre-wrap'>{body}</div>",
            VERDICT_MIME: {"exercise": self.exercise, "passed": self.passed},
        }

    def __bool__(self):
        return self.passed


class Context:
    """What a check function gets to run and judge learner code."""

    def __init__(self, exercise):
        self.exercise = exercise

    async def call(self, fn, *args, timeout=None, allow_block=None, what=None, **kwargs):
        """Run learner code under guard. Any failure becomes a Fail with a nudge.

        allow_block: seconds the code may block its event loop (async code only);
        None means no limit is checked here.
        """
        what = what or f"`{getattr(fn, '__name__', 'your code')}`"
        outcome = await run_guarded(fn, *args, timeout=timeout or self.exercise.timeout, **kwargs)
        if outcome.timed_out:
            raise Fail(f"{what} to finish within {timeout or self.exercise.timeout:g} s",
                       "it was still running, so the check stopped waiting",
                       "Look for an endless loop, or a call that waits forever (a lock, an event never set, "
                       "a server that never answers).")
        if outcome.error is not None:
            raise learner_error(outcome.error, what)
        if inspect.iscoroutine(outcome.value):
            outcome.value.close()
            raise Fail(f"{what} to return a value", "a coroutine object, never awaited",
                       "Somewhere an `async def` function was called without `await` in front of it.")
        if allow_block is not None and outcome.max_lag > allow_block:
            raise Fail(f"{what} to leave the event loop free while it waits",
                       f"the loop was blocked for {outcome.max_lag:.2f} s in one go",
                       "A blocking call (time.sleep, urllib/requests, a sync ORM call) inside async code "
                       "freezes every other task. Await an async equivalent instead "
                       "(asyncio.sleep, aiohttp, the ORM's a-methods).")
        return outcome.value

    async def call_timed(self, fn, *args, **kwargs):
        """Like call(), and also return the wall time it took."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        value = await self.call(fn, *args, **kwargs)
        return value, loop.time() - start

    @staticmethod
    def expect(condition, *, expected, got, nudge=None):
        if not condition:
            raise Fail(expected, got, nudge)


def learner_error(exc, what="your code"):
    """Turn an exception from learner code into a Fail with a specific nudge."""
    name = type(exc).__name__
    if isinstance(exc, NotImplementedError):
        return Fail(f"{what} to return an answer", "NotImplementedError: it has not been written yet",
                    "Replace `raise NotImplementedError()` with your code, run that cell, then this one.")
    nudges = {
        "SynchronousOnlyOperation": "Sync Django (the ORM, the test Client) was called from a thread that runs an "
                                    "event loop. In async code use the a-methods (`await ...acount()`) or wrap the "
                                    "sync part in `sync_to_async`.",
        "NameError": "A name is used before it is defined: check spelling, and run the cells above first.",
        "TypeError": "Check the arguments, and whether something needs `await` (or must not be awaited).",
    }
    nudge = nudges.get(name, "Read the error above, fix that line, run the cell again, then this check.")
    if "You cannot use AsyncToSync in the same thread as an async event loop" in str(exc):
        nudge = "async_to_sync was called on a thread that already runs an event loop: just `await` instead."
    return Fail(f"{what} to run without an error", describe(exc, width=88), nudge)


@dataclass
class Exercise:
    chapter: "Chapter"
    slug: str
    title: str
    needs: tuple
    hints: tuple
    timeout: float
    check_fn: object

    @property
    def id(self):
        return f"{self.chapter.number}.{self.slug}"


@dataclass
class Chapter:
    number: str
    title: str
    exercises: dict = field(default_factory=dict)

    def exercise(self, slug, title, *, needs=(), hints=(), timeout=10.0):
        def register(check_fn):
            self.exercises[slug] = Exercise(self, slug, title, tuple(needs), tuple(hints), timeout, check_fn)
            return check_fn
        return register

    def _get(self, slug):
        try:
            return self.exercises[slug]
        except KeyError:
            known = ", ".join(self.exercises)
            raise KeyError(f"Chapter {self.number} has no exercise {slug!r}; it has: {known}") from None

    async def check(self, slug, **answers):
        """Check one exercise. Its answers are looked up by name in the notebook (or passed in)."""
        exercise = self._get(slug)
        # Always the same text for the same answer (nbval compares it), whatever hints were seen.
        verdict = Verdict(exercise.id, False, hints_left=bool(exercise.hints))
        try:
            values = [answers[name] if name in answers else _lookup(name) for name in exercise.needs]
            async with asyncio.timeout(exercise.timeout + 5):
                message = await exercise.check_fn(Context(exercise), *values)
            verdict.passed, verdict.message = True, message or ""
        except Fail as fail:
            verdict.expected, verdict.got, verdict.nudge = fail.expected, fail.got, fail.nudge or ""
        except TimeoutError:
            verdict.expected = f"the check to finish within {exercise.timeout:g} s"
            verdict.got = "it was still waiting"
            verdict.nudge = "Something your code awaits never finishes: look for a missing timeout or a lock."
        except Exception as exc:  # a learner's object broke the check itself
            fail = learner_error(exc)
            verdict.expected, verdict.got, verdict.nudge = fail.expected, fail.got, fail.nudge
        progress.record(exercise.id, verdict.passed)
        return verdict

    def hint(self, slug):
        """Show the next hint for an exercise (each call reveals one more)."""
        exercise = self._get(slug)
        if not exercise.hints:
            print("This exercise has no hints.")
            return
        tier = min(progress.hints_seen(exercise.id) + 1, len(exercise.hints))
        progress.record_hint(exercise.id, tier)
        more = " Call again for the next one." if tier < len(exercise.hints) else " That was the last one."
        print(textwrap.fill(f"Hint {tier} of {len(exercise.hints)} for {exercise.id}: {exercise.hints[tier - 1]}",
                            100) + "\n" + more.strip())

    def progress(self):
        print(progress.report([self]))

    def __repr__(self):
        return f"<Chapter {self.number} {self.title!r}: {len(self.exercises)} exercises>"


def _lookup(name):
    """Find a learner's answer by name in the notebook's namespace."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    namespace = shell.user_ns if shell is not None else inspect.stack()[3].frame.f_globals
    if name not in namespace:
        raise Fail(f"a name `{name}` defined in this notebook", "nothing by that name yet",
                      f"Run the cell where you define `{name}` (and check its spelling), then this one.")
    return namespace[name]


def load_chapter(number):
    """The exercises of chapter `number` ("01", 1, ...)."""
    module = importlib.import_module(f"coursekit.checks.ch{int(number):02d}")
    return module.chapter


def all_chapters():
    import pkgutil

    from . import checks

    names = sorted(m.name for m in pkgutil.iter_modules(checks.__path__) if m.name.startswith("ch"))
    return [importlib.import_module(f"coursekit.checks.{name}").chapter for name in names]


def show_progress():
    print(progress.report(all_chapters()))
