"""Exercise checks: one call per check cell, a friendly verdict, hints on demand.

In an exercise notebook:

    ex = coursekit.exercises("01")
    ...                                   # the learner writes `finish_time` in a cell
    await ex.check("finish-time")         # looks `finish_time` up in the notebook
    ex.hint("finish-time")                # hint 1; call again for hint 2, ...

A lesson that demonstrates a check uses `coursekit.exercises("00", demo=True)`: its checks
and hints are not recorded in the learner's progress.

A chapter's checks live in coursekit/checks/chNN.py:

    chapter = Chapter("01", "Sync Django, request by request")
    ROUND_UP = chapter.nudge("W001", "waves not rounded up", "A partly full wave still takes ...")

    @chapter.exercise("finish-time", "When does the last client get its page?",
                      needs=["finish_time"], hints=["...", "..."])
    async def check_finish_time(ctx, finish_time):
        got = await ctx.call(finish_time, 12, 4, 0.2)
        ctx.expect(got == 0.6, expected="0.6", got=repr(got), nudge=ROUND_UP)
        return "well done message"

Every way to fail is a `Fail` with a kind (what happened: a wrong value, an error, a timeout,
a coroutine never awaited, a blocked loop) and a `Nudge` with a stable id such as
`ch01.W001`, shown small in the verdict: tests assert ids, instructors quote them. A check
never raises into the notebook, and never calls a right answer wrong because the machine is
busy: when a timing cannot be judged, the whole check runs once more, and if it still
cannot judge, the verdict says so and nothing is recorded.
"""
import asyncio
import contextlib
import enum
import gc
import html
import importlib
import inspect
import logging
import os
import textwrap
import time
import warnings
from dataclasses import dataclass, field

from . import progress
from .errors import describe
from .guard import run_guarded
from .lag import ThreadLag, blame

VERDICT_MIME = "application/vnd.coursekit.verdict+json"
LONG = 240  # longest expected/got text shown; longer values are cut with an ellipsis


class Kind(enum.Enum):
    WRONG = "wrong value"              # it ran, and gave or did the wrong thing
    ERROR = "error"                    # it raised
    TIMEOUT = "timeout"                # it did not finish in time
    UNAWAITED = "never awaited"        # a coroutine used or returned without await
    BLOCKED = "blocked loop"           # it held its event loop
    MISSING = "missing"                # not written yet, or no such name in the notebook
    BUSY = "machine too busy"          # not a verdict: the timing could not be judged


@dataclass(frozen=True)
class Nudge:
    """Advice with a stable id (`ch03.W004`), like Django's system-check messages."""

    id: str
    title: str
    text: str

    def format(self, **values):
        """The same nudge with its text's {placeholders} filled in."""
        return Nudge(self.id, self.title, self.text.format(**values))


NUDGES: dict[str, Nudge] = {}


def nudge(nudge_id, title, text):
    """Register a nudge under its id (ids are unique across the course)."""
    if nudge_id in NUDGES and NUDGES[nudge_id] != Nudge(nudge_id, title, text):
        raise ValueError(f"nudge id {nudge_id} is used twice")
    NUDGES[nudge_id] = Nudge(nudge_id, title, text)
    return NUDGES[nudge_id]


# --- the nudges every chapter shares (ck.*) -------------------------------------------
NOT_WRITTEN = nudge("ck.E001", "not written yet",
                    "Replace `raise NotImplementedError()` with your code, run that cell, then this one.")
NO_SUCH_NAME = nudge("ck.E002", "name not defined",
                     "Run the cell where you define `{name}` (and check its spelling), then this one.")
RAISED = nudge("ck.E003", "the code raised",
               "Your code raised the error shown under Got. Find the line that raises it, fix it, run that cell "
               "again, then this check.")
SYNC_IN_ASYNC = nudge("ck.E004", "sync Django called from async code",
                      "Sync Django (the ORM, the test Client) was called on a thread that runs an event loop. In "
                      "async code use the a-methods (`await ...acount()`) or wrap the sync part in `sync_to_async`.")
ASYNC_TO_SYNC_IN_LOOP = nudge("ck.E005", "async_to_sync inside a running loop",
                              "async_to_sync was called on a thread that already runs an event loop: just `await` "
                              "instead.")
WRONG_ARGS = nudge("ck.E006", "wrong arguments",
                   "The function was called as the task describes, and the call itself failed: check its parameters "
                   "(names, how many) against the task.")
NAME_ERROR = nudge("ck.E007", "a name used before it exists",
                   "A name is used before it is defined: check its spelling, and run the cells above first.")
UNAWAITED_RESULT = nudge("ck.W001", "a coroutine returned instead of a value",
                         "Somewhere an `async def` function was called without `await` in front of it, so its "
                         "coroutine came back instead of its result.")
UNAWAITED_USED = nudge("ck.W002", "a coroutine used as if it were its result",
                       "A coroutine was used as if it were its result: an `await` is missing in front of an async "
                       "call (a fetch, gather, an ORM a-method, asyncio.sleep).")
BLOCKED = nudge("ck.W003", "the event loop was blocked",
                "A blocking call (time.sleep, urllib or requests, a sync ORM call wrapped to look async, a long "
                "loop with no await) froze the event loop, and every other task with it. Await an async "
                "equivalent instead (asyncio.sleep, aiohttp, the ORM's a-methods).")
TIMED_OUT = nudge("ck.W004", "did not finish in time",
                  "Look for an endless loop, or a call that waits forever (a lock, an event never set, a server "
                  "that never answers). The check stopped your code.")
NOT_ASYNC = nudge("ck.W005", "needs async def",
                  "Only an `async def` function can `await`: write `async def {name}(...):`.")
NOT_CALLABLE = nudge("ck.W006", "not a function",
                     "`{name}` should be the function (or class) the task describes; right now it is something "
                     "else. Run the cell that defines it.")
UNSAFE_FLAG = nudge("ck.W007", "DJANGO_ALLOW_ASYNC_UNSAFE is set",
                    "DJANGO_ALLOW_ASYNC_UNSAFE switches off Django's guard for the whole process and hides exactly "
                    "the errors these exercises are about. Remove it (`del os.environ['DJANGO_ALLOW_ASYNC_UNSAFE']`),"
                    " restart the kernel, and solve it with the async API.")
NESTED_LOOP = nudge("ck.W008", "nest_asyncio applied",
                    "nest_asyncio patches the event loop for the rest of the kernel's life, and blocks the loop "
                    "while the nested run goes on. In async code, `await` instead. Restart the kernel (Kernel > "
                    "Restart) to undo the patch.")
LEFT_RUNNING = nudge("ck.W009", "work left running or never awaited",
                     "Python reported work that was started and never finished or awaited (shown under Got). Await "
                     "every coroutine, and cancel (or await) every task you start before returning.")
BUSY = nudge("ck.B001", "too busy to judge",
             "This machine is too busy to judge the timing right now: nothing was recorded. Close what you can "
             "(another notebook, a video call) and re-run the check.")


def _short(value, limit=LONG):
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Fail(Exception):
    """A check's verdict that the answer is not right yet: what was expected, what happened, why."""

    def __init__(self, expected, got, nudge=None, *, kind=Kind.WRONG, cause=None):
        if nudge is not None and not isinstance(nudge, Nudge):
            raise TypeError("a Fail's nudge is a Nudge (with an id), not a string")
        super().__init__(expected)
        self.expected, self.got = _short(expected), _short(got)
        self.nudge, self.kind, self.cause = nudge, kind, cause

    @property
    def nudge_id(self):
        return self.nudge.id if self.nudge else ""

    def __repr__(self):
        return f"Fail({self.kind.name}, {self.nudge_id or 'no nudge'}: expected {self.expected!r}, got {self.got!r})"


class Busy(Fail):
    """The check could not judge a timing because the machine was busy: not a verdict."""

    def __init__(self, what):
        super().__init__(what, "the machine was busy at the same moment", BUSY, kind=Kind.BUSY)


@dataclass
class Verdict:
    exercise: str
    passed: bool | None  # None: could not judge (the machine was too busy)
    message: str = ""
    expected: str = ""
    got: str = ""
    nudge: str = ""
    nudge_id: str = ""
    kind: str = ""
    hints_left: bool = True
    reports: list = field(default_factory=list)

    @property
    def judged(self):
        return self.passed is not None

    # A word leads the verdict, not ✅ ❌ ⏳: those show as empty boxes where no emoji font is installed.
    WORDS = {True: "PASSED", False: "NOT YET", None: "NOT JUDGED"}

    def text(self):
        head = f"{self.WORDS[self.passed]} · {self.exercise}"
        if self.passed:
            return f"{head}: {self.message}" if self.message else head
        lines = [head]
        for label, value in (("Expected", self.expected), ("Got", self.got), ("Nudge", self.nudge)):
            if value:
                body = textwrap.indent(textwrap.fill(value, 88), " " * 12).lstrip()
                lines.append(f"  {label + ':':<9} {body}")
        if self.nudge_id:
            lines.append(f"  ({self.nudge_id})")
        if self.hints_left and self.passed is False:
            lines.append(f'  Stuck? ex.hint("{self.exercise.split(".", 1)[1]}") shows a hint; call it again for more.')
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        colour = {True: "#e7f5e9", False: "#fdecea", None: "#fff4d6"}[self.passed]
        word = self.WORDS[self.passed]
        body = html.escape(self.text())
        if self.nudge_id:  # the id small and grey, like a footnote
            plain = html.escape(f"  ({self.nudge_id})")
            body = body.replace(plain, f"  <small style='color:#777'>({html.escape(self.nudge_id)})</small>")
        # The mark as inline SVG: it needs no emoji font.
        kind, path, stroke = {True: ("pass", "M3 8.5l3.3 3.3L13 4.5", "#1a7f37"),
                              False: ("fail", "M4 4l8 8M12 4l-8 8", "#cf222e"),
                              None: ("busy", "M8 2.5a5.5 5.5 0 1 0 .01 0M8 5v3.2l2.2 1.4", "#9a6700")}[self.passed]
        mark = (f'<svg class="ck-verdict-mark ck-verdict-{kind}" width="1em" height="1em" viewBox="0 0 16 16" '
                f'aria-hidden="true" style="vertical-align:-0.15em"><path d="{path}" fill="none" stroke="{stroke}" '
                f'stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>')
        body = f"{mark} <b>{word}</b>{body[len(word):]}"
        return {
            "text/plain": self.text(),
            "text/html": f"<div style='background:{colour};padding:8px 12px;border-radius:6px;"
                         f"font-family:var(--jp-code-font-family,monospace);white-space:pre-wrap'>{body}</div>",
            VERDICT_MIME: {"exercise": self.exercise, "passed": self.passed, "nudge": self.nudge_id},
        }

    def __bool__(self):
        return bool(self.passed)


class Context:
    """What a check function gets to run and judge learner code."""

    def __init__(self, exercise, control, attempt=1):
        self.exercise = exercise
        self.control = control  # a ThreadLag running for the whole check: the machine's own stalls
        self.attempt = attempt  # 2 when the check runs again because the first run could not judge

    async def call(self, fn, *args, timeout=None, allow_block=None, what=None, **kwargs):
        """Run learner code under guard. Any failure becomes a Fail with a kind and a nudge.

        allow_block: seconds the code may hold its event loop in one go (async code only);
        None means the loop is not judged here.
        """
        what = what or f"`{getattr(fn, '__name__', 'your code')}`"
        limit = timeout or self.exercise.timeout
        outcome = await run_guarded(fn, *args, timeout=limit, **kwargs)
        if outcome.timed_out:
            raise Fail(f"{what} to finish within {limit:g} s", "it was still running, so the check stopped it",
                       TIMED_OUT, kind=Kind.TIMEOUT)
        _reject_escape_hatches()
        if outcome.error is not None:
            raise self.exercise.chapter.explain(outcome.error, what)
        if inspect.iscoroutine(outcome.value):
            outcome.value.close()
            raise Fail(f"{what} to return a value", "a coroutine object, never awaited", UNAWAITED_RESULT,
                       kind=Kind.UNAWAITED)
        if allow_block is not None:
            self.judge_loop(outcome.loop_gaps, allow_block, what)
        return outcome.value

    async def call_timed(self, fn, *args, **kwargs):
        """Like call(), and also return the wall time it took (and use ctx.exceeds() to judge it)."""
        started = time.perf_counter()
        value = await self.call(fn, *args, **kwargs)
        return value, time.perf_counter() - started

    def judge_loop(self, loop_gaps, allowed, what):
        """Fail when the code held its loop longer than `allowed`; Busy when the machine might have."""
        verdict, seconds = blame(loop_gaps, self.control.gaps, allowed)
        if verdict == "doubt" and self.attempt > 1:
            verdict = "blocked"  # a short stall that came back on the second run is the code's
        if verdict == "blocked":
            raise Fail(f"{what} to leave the event loop free while it waits",
                       f"the loop was blocked for {seconds:.2f} s in one go", BLOCKED, kind=Kind.BLOCKED)
        if verdict in ("unsure", "doubt"):
            raise Busy(f"{what} to leave the event loop free (a stall of {seconds:.2f} s that the machine's "
                       "own load could explain)")

    def exceeds(self, measured, limit, started, ended=None):
        """Is `measured` (seconds, between started and ended) over `limit` by the code's own doing?

        Load only ever adds time. If the control thread was stalled long enough in that window to
        explain the excess, the timing cannot be judged: Busy is raised (the check runs again).
        """
        if measured <= limit:
            return False
        ended = ended if ended is not None else started + measured
        machine = self.control.gaps.within(started, ended)
        if measured - machine > limit:
            return True
        raise Busy(f"{measured:.2f} s against a limit of {limit:g} s, with the machine stalled {machine:.2f} s")

    @staticmethod
    def expect(condition, *, expected, got, nudge=None, kind=Kind.WRONG):
        if not condition:
            raise Fail(expected, got, nudge, kind=kind)


def _reject_escape_hatches():
    if os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        raise Fail("Django's async-safety guard to stay on", "DJANGO_ALLOW_ASYNC_UNSAFE is set in this kernel",
                   UNSAFE_FLAG)
    if "nest_asyncio" in getattr(asyncio.run, "__module__", "") or hasattr(asyncio, "_nest_patched"):
        raise Fail("the kernel's event loop left unpatched", "nest_asyncio.apply() has patched it", NESTED_LOOP)


def explain_error(exc, what="your code"):
    """Turn an exception from learner code into a Fail with a specific nudge (the common cases)."""
    name = type(exc).__name__
    got = describe(exc, width=88)
    expected = f"{what} to run without an error"
    if isinstance(exc, NotImplementedError):
        return Fail(f"{what} to return an answer", "NotImplementedError: it has not been written yet", NOT_WRITTEN,
                    kind=Kind.MISSING, cause=exc)
    text = str(exc)
    if isinstance(exc, (TypeError, AttributeError)) and any(
            sign in text for sign in ("'coroutine' object", "_GatheringFuture", "await wasn't used with future",
                                      "'Task' object", "type coroutine is not", "type Task is not",
                                      "type _GatheringFuture is not")):  # the last three: json.dumps of an unawaited call
        return Fail(expected, got, UNAWAITED_USED, kind=Kind.UNAWAITED, cause=exc)
    if name == "SynchronousOnlyOperation":
        return Fail(expected, got, SYNC_IN_ASYNC, kind=Kind.ERROR, cause=exc)
    if "You cannot use AsyncToSync in the same thread as an async event loop" in text:
        return Fail(expected, got, ASYNC_TO_SYNC_IN_LOOP, kind=Kind.ERROR, cause=exc)
    if isinstance(exc, NameError):
        return Fail(expected, got, NAME_ERROR, kind=Kind.ERROR, cause=exc)
    if isinstance(exc, TypeError) and ("positional argument" in text or "keyword argument" in text):
        return Fail(expected, got, WRONG_ARGS, kind=Kind.ERROR, cause=exc)
    return Fail(expected, got, RAISED, kind=Kind.ERROR, cause=exc)


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


# Modules a check may import while it judges learner code: imported before any timing starts,
# so that a first import (which holds the GIL while it runs) never looks like a blocked loop.
WARM_IMPORTS = ("django.test", "django.test.client", "django.core.handlers.asgi", "django.core.handlers.wsgi",
                "django.contrib.auth", "django.contrib.sessions.backends.db", "django.core.paginator",
                "aiohttp", "trips.models", "trips.upstream", "trips.views", "trips.async_views",
                "trips.orm_views", "trips.middleware")


def _warm_imports():
    for name in WARM_IMPORTS:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


@dataclass
class Chapter:
    number: str
    title: str
    exercises: dict = field(default_factory=dict)
    explainers: list = field(default_factory=list)

    # --- defining a chapter --------------------------------------------------------
    def exercise(self, slug, title, *, needs=(), hints=(), timeout=10.0):
        def register(check_fn):
            self.exercises[slug] = Exercise(self, slug, title, tuple(needs), tuple(hints), timeout, check_fn)
            return check_fn
        return register

    def nudge(self, code, title, text):
        """A nudge of this chapter: `chapter.nudge("W001", ...)` has the id `chNN.W001`."""
        return nudge(f"ch{self.number}.{code}", title, text)

    def explainer(self, fn):
        """Register fn(exc, what) -> Fail | None: this chapter's reading of learner errors."""
        self.explainers.append(fn)
        return fn

    def explain(self, exc, what="your code"):
        for fn in self.explainers:
            fail = fn(exc, what)
            if fail is not None:
                return fail
        return explain_error(exc, what)

    def _get(self, slug):
        try:
            return self.exercises[slug]
        except KeyError:
            known = ", ".join(self.exercises)
            raise KeyError(f"Chapter {self.number} has no exercise {slug!r}; it has: {known}") from None

    # --- running checks --------------------------------------------------------------
    async def judge(self, slug, namespace=None, **answers):
        """Run one check and return its Verdict (records nothing). Learner objects are looked up in
        `namespace` (default: the notebook's), unless passed in as keyword arguments."""
        exercise = self._get(slug)
        await asyncio.to_thread(_warm_imports)
        verdict = None
        for attempt in (1, 2):  # a check that could not judge a timing gets one more run
            verdict = await self._run_once(exercise, namespace, answers, attempt)
            if verdict.passed is not None:
                break
        return verdict

    async def _run_once(self, exercise, namespace, answers, attempt=1):
        # Always the same text for the same answer (nbval compares it), whatever hints were seen.
        verdict = Verdict(exercise.id, False, hints_left=bool(exercise.hints))
        # Leftovers of an earlier attempt (a coroutine a wrong answer never awaited) are collected now,
        # quietly, so they are never blamed on this attempt.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gc.collect()
        with ThreadLag() as control, _Reports() as reports:
            try:
                values = [answers[name] if name in answers else _lookup(name, namespace) for name in exercise.needs]
                async with asyncio.timeout(exercise.timeout + 10):
                    message = await exercise.check_fn(Context(exercise, control, attempt), *values)
                reports.settle()
                if reports.lines:
                    raise Fail("nothing left running or unawaited", "; ".join(reports.lines), LEFT_RUNNING,
                               kind=Kind.UNAWAITED)
                verdict.passed, verdict.message = True, message or ""
            except Fail as fail:
                verdict.passed = None if fail.kind is Kind.BUSY else False
                verdict.expected, verdict.got = fail.expected, fail.got
                verdict.nudge = fail.nudge.text if fail.nudge else ""
                verdict.nudge_id, verdict.kind = fail.nudge_id, fail.kind.name
            except TimeoutError:
                verdict.expected = f"the check to finish within {exercise.timeout:g} s"
                verdict.got = "it was still waiting"
                verdict.nudge, verdict.nudge_id, verdict.kind = TIMED_OUT.text, TIMED_OUT.id, Kind.TIMEOUT.name
            except Exception as exc:  # a learner's object broke the check itself
                fail = self.explain(exc)
                verdict.expected, verdict.got = fail.expected, fail.got
                verdict.nudge, verdict.nudge_id, verdict.kind = fail.nudge.text, fail.nudge_id, fail.kind.name
            verdict.reports = list(reports.lines)
        return verdict

    # --- what a notebook calls -------------------------------------------------------------
    def session(self, demo=False):
        return Session(self, demo)

    def __repr__(self):
        return f"<Chapter {self.number} {self.title!r}: {len(self.exercises)} exercises>"


class Session:
    """A chapter as a notebook sees it: `ex.check(slug)`, `ex.hint(slug)`, `ex.progress()`.

    demo=True (lessons that show how checks work): nothing is written to progress, and hints
    start again from the first in every session."""

    def __init__(self, chapter, demo=False):
        self.chapter, self.demo = chapter, demo
        self._hints_seen = {}

    @property
    def exercises(self):
        return self.chapter.exercises

    async def check(self, slug, **answers):
        """Check one exercise. Its answers are looked up by name in the notebook (or passed in).

        In nbgrader's grading mode (COURSEKIT_GRADING=1, see coursekit/grading.py) a check that
        does not pass shows its verdict and then raises AssertionError; nothing is recorded."""
        __tracebackhide__ = True  # noqa: F841 - a grading failure's traceback starts at the cell
        from . import grading

        extra_runs = 0
        try:
            verdict = await self.chapter.judge(slug, **answers)
            if grading.enabled():
                verdict, extra_runs = await grading.settle(lambda: self.chapter.judge(slug, **answers), verdict)
        except asyncio.CancelledError:
            from . import interrupt

            interrupt.note("the check stopped, and your code with it")
            raise
        if grading.enabled():
            if not verdict.passed:
                grading.conclude(verdict, extra_runs)
            return verdict
        if verdict.judged and not self.demo:
            progress.record(verdict.exercise, verdict.passed)
        return verdict

    def hint(self, slug):
        """Show the next hint for an exercise (each call reveals one more)."""
        exercise = self.chapter._get(slug)
        if not exercise.hints:
            print("This exercise has no hints.")
            return
        seen = self._hints_seen.get(slug, 0) if self.demo else progress.hints_seen(exercise.id)
        tier = min(seen + 1, len(exercise.hints))
        if self.demo:
            self._hints_seen[slug] = tier
        else:
            progress.record_hint(exercise.id, tier)
        more = "Call again for the next one." if tier < len(exercise.hints) else "That was the last one."
        print(textwrap.fill(f"Hint {tier} of {len(exercise.hints)} for {exercise.id}: {exercise.hints[tier - 1]}",
                            100) + "\n" + more)

    def progress(self):
        print(progress.report([self.chapter]))

    def __repr__(self):
        return repr(self.chapter) + (" (demo: nothing recorded)" if self.demo else "")


class _Reports:
    """Collect what Python and Django would print under the cell while a check runs: Django's
    request errors, asyncio's "never retrieved" / "destroyed but pending" reports, and "coroutine
    ... was never awaited" warnings. They become part of the verdict instead."""

    SIGNS = ("was never awaited", "exception was never retrieved", "was destroyed but it is pending")

    def __enter__(self):
        self.lines = []
        self._seen = []
        outer = self

        class Collect(logging.Handler):
            def emit(self, record):
                outer._seen.append(record.getMessage())

        self._handler = Collect(level=logging.ERROR)
        self._loggers = [logging.getLogger(name) for name in ("asyncio", "django.request")]
        self._saved = [(logger.handlers, logger.propagate) for logger in self._loggers]
        for logger in self._loggers:
            logger.handlers, logger.propagate = [self._handler], False
        self._warnings = warnings.catch_warnings(record=True)
        self._caught = self._warnings.__enter__()
        warnings.simplefilter("always")
        return self

    def settle(self):
        gc.collect()  # coroutines and tasks dropped by the learner's code report themselves now
        self._sort()

    def _sort(self):
        texts = self._seen + [str(w.message) for w in self._caught]
        self._seen, self._caught[:] = [], []
        for text in texts:
            first = text.splitlines()[0] if text else text
            if any(sign in first for sign in self.SIGNS) and first not in self.lines:
                self.lines.append(_short(first, 160))

    def __exit__(self, *exc):
        self._sort()
        self._warnings.__exit__(*exc)
        for logger, (handlers, propagate) in zip(self._loggers, self._saved):
            logger.handlers, logger.propagate = handlers, propagate
        return False


def _lookup(name, namespace=None):
    """Find a learner's answer by name in the notebook's namespace."""
    if namespace is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
        namespace = shell.user_ns if shell is not None else {}
    if name not in namespace:
        raise Fail(f"a name `{name}` defined in this notebook", "nothing by that name yet",
                   NO_SUCH_NAME.format(name=name), kind=Kind.MISSING)
    return namespace[name]


def load_chapter(number, demo=False):
    """The exercises of chapter `number` ("01", 1, ...), as a notebook session."""
    return chapter_module(number).chapter.session(demo=demo)


def chapter_module(number):
    return importlib.import_module(f"coursekit.checks.ch{int(number):02d}")


def all_chapters():
    import pkgutil

    from . import checks

    names = sorted(m.name for m in pkgutil.iter_modules(checks.__path__) if m.name[2:].isdigit())
    return [importlib.import_module(f"coursekit.checks.{name}").chapter for name in names]


def show_progress():
    print(progress.report(all_chapters()))
