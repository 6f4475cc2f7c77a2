"""How long an event loop (or a thread) could not run: the blocked-loop detector.

    async with coursekit.LoopLag() as lag:       # a ticker task beside your code
        await code_under_test()
    lag.max, lag.worst                           # seconds, and (start, end) of the longest stall

A ticker wakes every 5 ms and notes how late it woke. `await asyncio.sleep(1)` in the code
under test shows no lag; `time.sleep(1)` (or a long loop with no await) shows about 1 s:
nothing else on that loop ran meanwhile.

Which line held the loop? Ask for stacks:

    async with coursekit.LoopLag(stacks=0.1) as lag:
        await code_under_test()
    for stall in lag.stalls:                     # every stall longer than 0.1 s, in order
        stall.seconds, stall.where               # where: the innermost frame of your own code
        stall.stack                              # every frame, outermost first (FrameSummary)

A sampler thread watches the ticker; once a stall has lasted `stacks` seconds it takes the
loop thread's current stack (sys._current_frames()), which is the code holding the loop.

A busy machine makes every thread wake late, not only a blocked loop. `ThreadLag` measures
the same thing on a plain thread of its own: a control. A stall that the control saw too
was the machine's (or another thread holding the GIL), not the code's.
"""
import asyncio
import os
import sys
import sysconfig
import threading
import time
import traceback
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


# Frames in these directories are the standard library's, installed packages' or this toolkit's
# (the threads and loops it runs your code on), not yours: a loop starved while it waits in
# select() shows only those frames, and none of them is the line to blame.
_NOT_YOURS = tuple(sorted({os.path.join(os.path.realpath(sysconfig.get_paths()[key]), "")
                           for key in ("stdlib", "platstdlib", "purelib", "platlib")}
                          | {os.path.join(os.path.dirname(os.path.realpath(__file__)), "")}))


def _is_yours(frame):
    name = frame.filename
    if name.startswith("<frozen") or not name:
        return False
    return not os.path.realpath(name).startswith(_NOT_YOURS) if os.path.isabs(name) else True


@dataclass
class Stall:
    """One stretch the loop could not run: when, how long, and what it was running meanwhile."""

    start: float
    end: float
    stack: list = field(default_factory=list)  # traceback.FrameSummary, outermost first; [] if unseen

    @property
    def seconds(self):
        return self.end - self.start

    @property
    def where(self):
        """The innermost frame of your own code (not the standard library's or a package's), or None."""
        return next((frame for frame in reversed(self.stack) if _is_yours(frame)), None)

    def __str__(self):
        where = self.where
        if where is None:
            return f"a {self.seconds:.2f} s stall (no stack of your code seen)"
        return f"a {self.seconds:.2f} s stall in {where.name}(), line {where.lineno}: {where.line}"


def _stack_of(frame):
    """The frames the loop is running, outermost first, starting at the coroutine or callback the
    loop called (the loop's own machinery and what started the thread are left out)."""
    summary = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
    frames = list(reversed(summary))
    handle = max((i for i, f in enumerate(frames)
                  if f.name == "_run" and f.filename.endswith(os.path.join("asyncio", "events.py"))), default=None)
    return frames[handle + 1:] if handle is not None else frames


class LoopLag:
    """Measure the lag of the running event loop while a block runs (async with).

    stacks: seconds. A stall longer than that is recorded in `stalls`, with the stack of the code
    that held the loop (taken by a sampler thread while the stall went on).
    """

    def __init__(self, tick=TICK, stacks=None):
        self.tick = tick
        self.stacks = stacks
        self.gaps = Gaps()
        self.stalls = []
        self._task = None
        self._sampler = None
        self._samples = {}  # the ticker's last wake-up -> the stack sampled during the stall after it
        self._lock = threading.Lock()

    def _woke(self, now):
        """The ticker woke (or the block ended) at `now`: note the stall since its last wake-up."""
        with self._lock:
            last, self._last = self._last, now
            stack = self._samples.pop(last, [])
        # The ticker meant to wake at last + tick; everything beyond that is a stall.
        start = last + self.tick
        self.gaps.add(start, now)
        if self.stacks is not None and now - start > self.stacks:
            self.stalls.append(Stall(start, now, stack))

    async def _run(self):
        self._last = time.perf_counter()
        while True:
            await asyncio.sleep(self.tick)
            self._woke(time.perf_counter())

    def _sample(self, loop_thread, stop):
        """On its own thread: once a stall passes `stacks` seconds, take the loop thread's stack."""
        every = min(self.tick, self.stacks / 2)
        while not stop.wait(every):
            last = getattr(self, "_last", None)
            if last is None or last in self._samples:
                continue
            if time.perf_counter() - (last + self.tick) <= self.stacks:
                continue
            frame = sys._current_frames().get(loop_thread)
            stack = _stack_of(frame) if frame is not None else []
            del frame
            if any(f.filename == __file__ for f in stack):
                continue  # the stall ended as the sample was taken: that is the ticker itself
            with self._lock:
                if self._last == last:  # still the same stall: this is the code that holds the loop
                    self._samples[last] = stack

    async def __aenter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run(), name="coursekit-loop-lag")
        await asyncio.sleep(0)  # let the ticker take its first reading
        if self.stacks is not None:
            stop = threading.Event()
            thread = threading.Thread(target=self._sample, args=(threading.get_ident(), stop),
                                      name="coursekit-lag-sampler", daemon=True)
            self._sampler = (thread, stop)
            thread.start()
        return self

    async def __aexit__(self, *exc):
        # A stall that lasts until the end (a blocking call just before returning) never let the
        # ticker wake up to note it: note it now.
        if getattr(self, "_last", None) is not None:
            self._woke(time.perf_counter())
        if self._sampler is not None:
            thread, stop = self._sampler
            stop.set()
            thread.join()
            self._sampler = None
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

    Returns ("ok", 0); ("blocked", seconds) when the code held its loop more than twice as long as
    allowed while the control thread ran on time; ("doubt", seconds) for a stall of one to two
    times the allowance with a quiet control (a thread of this process can win the GIL hand-off
    while the loop waits for it: run again, and only a stall that comes back is the code's); or
    ("unsure", seconds) when the control was stalled too, so a busy machine could explain it.
    """
    found = {"blocked": 0.0, "doubt": 0.0, "unsure": 0.0}
    for start, end in loop_gaps.above(allowed):
        stall = end - start
        machine = control_gaps.longest_within(start, end)
        # The control wakes every 5 ms. If it ran on time through most of this stall, the
        # machine was free and the code held its loop.
        if stall - machine > allowed and machine < stall / 2:
            kind = "blocked" if stall > 2 * allowed else "doubt"
        else:
            kind = "unsure"
        found[kind] = max(found[kind], stall)
    for kind in ("blocked", "doubt", "unsure"):
        if found[kind]:
            return kind, found[kind]
    return "ok", 0.0
