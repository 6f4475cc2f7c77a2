"""Measure wall time and draw request timelines.

    with timed() as t:             # or: async with timed() as t:
        ...
    t.seconds

    timeline = Timeline("Three calls, one after another")
    async with timeline.span("weather"):
        ...
    result = await timeline.track("flights", fetch(...))   # handy inside gather()
    timeline.plot()

A timeline is a list of spans (label, start, end) on the time.perf_counter() clock;
a horizontal bar per span makes overlap, and so concurrency, visible.

    result = await compare({"async": run_a, "sync": run_b}, until=lambda best: best["sync"] > 2 * best["async"])
    result.best["async"], result.ratio("sync", "async")

compare() is how every lesson and check compares timings on a machine that may be busy:
rounds alternate between the sides, each side keeps its best (other programs only ever add
time), and it stops as soon as the difference is clear.
"""
import inspect
import time
from dataclasses import dataclass, field

COLOURS = {"run": "#3b76c4", "wait": "#d0d4da", "failed": "#d9534f", "blocked": "#e8a33d"}
LABELS = {"run": "running", "wait": "waiting"}


class timed:
    """Wall-clock time of a block, sync or async. `.seconds` is set when the block ends."""

    def __init__(self):
        self.start = self.end = None

    @property
    def seconds(self):
        end = self.end if self.end is not None else time.perf_counter()
        return end - self.start

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.end = time.perf_counter()
        return False

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, *exc):
        return self.__exit__(*exc)

    def __repr__(self):
        return f"<timed {self.seconds:.3f} s>" if self.start is not None else "<timed, not started>"


@dataclass
class Comparison:
    """The result of compare(): each side's best (smallest) measurement, and every sample."""

    best: dict
    samples: dict = field(default_factory=dict)
    rounds: int = 0
    settled: bool = False  # `until` was met (always True when no `until` was given)

    def ratio(self, slow, fast):
        """best[slow] / best[fast]."""
        return self.best[slow] / self.best[fast]

    def __repr__(self):
        sides = ", ".join(f"{name} {value:.4g}" for name, value in self.best.items())
        return f"<Comparison after {self.rounds} rounds: {sides}{'' if self.settled else ' (not settled)'}>"


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


async def compare(sides, *, until=None, min_rounds=3, max_rounds=10, clock="wall"):
    """Measure `sides` ({name: fn}) in alternating rounds and keep each side's best.

    fn() may be sync or async. If it returns a number, that number is the round's measurement
    (a side that times itself, say seconds per request); otherwise compare() times the call with
    `clock`: "wall" (time.perf_counter) for waiting, "cpu" (this thread's CPU time) for work.
    `until(best)` is asked after each round from `min_rounds` on; compare() stops as soon as it
    is true, or after `max_rounds`. Never assert on one run: a busy machine can slow any single
    one down, but it cannot make the best of several faster than the truth.
    """
    read = CLOCKS[clock]
    best = {name: float("inf") for name in sides}
    samples = {name: [] for name in sides}
    settled = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        for name, fn in sides.items():
            started = read()
            value = fn()
            if inspect.isawaitable(value):
                value = await value
            elapsed = read() - started
            measured = value if isinstance(value, (int, float)) and not isinstance(value, bool) else elapsed
            samples[name].append(measured)
            best[name] = min(best[name], measured)
        if rounds >= min_rounds and (until is None or until(best)):
            settled = True
            break
    return Comparison(best, samples, rounds, settled)


@dataclass
class Span:
    label: str
    start: float
    end: float
    kind: str = "run"  # run, wait, failed or blocked: the bar's colour
    row: str = ""      # spans with the same row share a line (wait + run of one request)

    @property
    def seconds(self):
        return self.end - self.start


class _SpanRecorder:
    def __init__(self, timeline, label, kind):
        self.timeline, self.label, self.kind = timeline, label, kind

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        kind = self.kind if exc_type is None else "failed"
        self.timeline.add(self.label, self.start, time.perf_counter(), kind=kind)
        return False

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, *exc):
        return self.__exit__(*exc)


class Timeline:
    def __init__(self, title=""):
        self.title = title
        self.spans: list[Span] = []

    def add(self, label, start, end, *, kind="run", row=None):
        self.spans.append(Span(label, start, end, kind, row if row is not None else label))
        return self

    def span(self, label, kind="run"):
        """Context manager (with / async with) that records the block as one span."""
        return _SpanRecorder(self, label, kind)

    async def track(self, label, awaitable, kind="run"):
        """Await `awaitable`, recording it as a span; returns its result."""
        with self.span(label, kind):
            return await awaitable

    # --- reading it -------------------------------------------------------
    @property
    def start(self):
        return min(s.start for s in self.spans)

    @property
    def end(self):
        return max(s.end for s in self.spans)

    @property
    def wall(self):
        """Seconds from the first start to the last end."""
        return self.end - self.start if self.spans else 0.0

    def busy(self, kinds=("run",)):
        """Sum of the spans' own durations: what it would take one after another."""
        return sum(s.seconds for s in self.spans if s.kind in kinds)

    def peak_overlap(self, kinds=("run",)):
        """The most spans running at the same instant."""
        edges = []
        for s in self.spans:
            if s.kind in kinds:
                edges += [(s.start, 1), (s.end, -1)]
        peak = running = 0
        for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts at a tie
            running += step
            peak = max(peak, running)
        return peak

    def __len__(self):
        return len(self.spans)

    def __repr__(self):
        return f"<Timeline {self.title!r}: {len(self.spans)} spans, {self.wall:.2f} s wall>"

    # --- drawing -----------------------------------------------------------
    def plot(self, ax=None, *, show=True, note=None):
        """One horizontal bar per row, from start to end, in seconds from the first start."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        if not self.spans:
            raise ValueError("This timeline has no spans yet: run the demo that fills it first.")
        rows = list(dict.fromkeys(s.row for s in self.spans))
        own_figure = ax is None
        if own_figure:
            fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.3))
        t0 = self.start
        for s in self.spans:
            y = len(rows) - 1 - rows.index(s.row)
            ax.barh(y, s.seconds, left=s.start - t0, height=0.6,
                    color=COLOURS.get(s.kind, COLOURS["run"]), edgecolor="white")
        ax.set_yticks(range(len(rows)), list(reversed(rows)))
        ax.set_xlabel("seconds")
        ax.set_xlim(0, max(self.wall * 1.05, 0.01))
        ax.set_title(self.title + (f"\n{note}" if note else ""), fontsize=11)
        kinds = list(dict.fromkeys(s.kind for s in self.spans))
        if len(kinds) > 1:
            ax.legend(handles=[Patch(color=COLOURS.get(k, COLOURS["run"]), label=LABELS.get(k, k)) for k in kinds],
                      loc="lower right", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        if own_figure:
            fig.tight_layout()
            if show:
                plt.show()
                return None
            return fig
        return None

