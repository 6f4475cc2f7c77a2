"""How long an event loop (or a thread) could not run: the blocked-loop detector.

    async with coursekit.LoopLag() as lag:       # a ticker task beside your code
        await code_under_test()
    lag.max, lag.worst                           # seconds, and (start, end) of the longest stall

A ticker wakes every 5 ms and notes how late it woke. `await asyncio.sleep(1)` in the code
under test shows no lag; `time.sleep(1)` (or a long loop with no await) shows about 1 s:
nothing else on that loop ran meanwhile.

A busy machine makes every thread wake late, not only a blocked loop. `ThreadLag` measures
the same thing on a plain thread of its own: a control. A stall that the control saw too
was the machine's (or another thread holding the GIL), not the code's.
"""
import asyncio
import threading
import time
from dataclasses import dataclass, field

TICK = 0.005
# Lateness below this is scheduling noise, not a stall worth recording.
NOISE = 0.003


@dataclass
class Gaps:
    """Stalls seen by a ticker: (start, end) on the time.perf_counter() clock."""

    spans: list = field(default_factory=list)

    def add(self, start, end):
        if end - start > NOISE:
            self.spans.append((start, end))

    @property
    def max(self):
        return max((end - start for start, end in self.spans), default=0.0)

    @property
    def worst(self):
        return max(self.spans, key=lambda s: s[1] - s[0], default=None)

    def within(self, start, end):
        """Total stall overlapping [start, end]."""
        return sum(max(0.0, min(e, end) - max(s, start)) for s, e in self.spans)

    def longest_within(self, start, end):
        return max((min(e, end) - max(s, start) for s, e in self.spans if s < end and e > start), default=0.0)

    def above(self, seconds):
        return [(s, e) for s, e in self.spans if e - s > seconds]


class LoopLag:
    """Measure the lag of the running event loop while a block runs (async with)."""

    def __init__(self, tick=TICK):
        self.tick = tick
        self.gaps = Gaps()
        self._task = None

    async def _run(self):
        self._last = time.perf_counter()
        while True:
            await asyncio.sleep(self.tick)
            now = time.perf_counter()
            # The ticker meant to wake at last + tick; everything beyond that is a stall.
            self.gaps.add(self._last + self.tick, now)
            self._last = now

    async def __aenter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run(), name="coursekit-loop-lag")
        await asyncio.sleep(0)  # let the ticker take its first reading
        return self

    async def __aexit__(self, *exc):
        # A stall that lasts until the end (a blocking call just before returning) never let the
        # ticker wake up to note it: note it now.
        if getattr(self, "_last", None) is not None:
            self.gaps.add(self._last + self.tick, time.perf_counter())
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        return False

    @property
    def max(self):
        return self.gaps.max

    @property
    def worst(self):
        return self.gaps.worst

    def __repr__(self):
        return f"<LoopLag: longest stall {self.max * 1000:.0f} ms, {len(self.gaps.spans)} stalls>"


class ThreadLag:
    """A control: a plain thread that notes how late it wakes (with / start() and stop())."""

    def __init__(self, tick=TICK):
        self.tick = tick
        self.gaps = Gaps()
        self._stop = threading.Event()
        self._thread = None

    def _run(self):
        last = time.perf_counter()
        while not self._stop.wait(self.tick):
            now = time.perf_counter()
            self.gaps.add(last + self.tick, now)
            last = now

    def start(self):
        self._thread = threading.Thread(target=self._run, name="coursekit-control-lag", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def blame(loop_gaps, control_gaps, allowed):
    """Who caused the loop's stalls longer than `allowed`?

    Returns ("ok", 0), ("blocked", seconds) when the code itself held the loop (the control
    thread ran on time meanwhile), or ("unsure", seconds) when the control was stalled too,
    so a busy machine could explain it.
    """
    worst_blocked, worst_unsure = 0.0, 0.0
    for start, end in loop_gaps.above(allowed):
        stall = end - start
        machine = control_gaps.longest_within(start, end)
        # The control wakes every 5 ms. If it ran on time through most of this stall, the
        # machine was free and the code held its loop: the code blocked it.
        if stall - machine > allowed and machine < stall / 2:
            worst_blocked = max(worst_blocked, stall)
        else:
            worst_unsure = max(worst_unsure, stall)
    if worst_blocked:
        return "blocked", worst_blocked
    if worst_unsure:
        return "unsure", worst_unsure
    return "ok", 0.0
