"""LoopLag: stalls measured, and (with stacks=) the code that held the loop named.

On a busy machine a stall can only get longer and more stalls can appear: the tests assert lower bounds,
and pick the stalls of the helpers they call by name.
"""
import asyncio
import threading
import time

import pytest

from coursekit.lag import LoopLag, Stall, ThreadLag, blame

HELPERS = {"sleeps_on_the_loop", "waits_on_an_event", "spins"}


def sleeps_on_the_loop():
    time.sleep(0.2)


def waits_on_an_event():
    threading.Event().wait(0.15)


def spins():
    end = time.perf_counter() + 0.15
    while time.perf_counter() < end:
        pass


def _samplers():
    return [t for t in threading.enumerate() if t.name == "coursekit-lag-sampler"]


def _helper_stalls(lag):
    return [s for s in lag.stalls if s.where is not None and s.where.name in HELPERS]


def test_a_stall_is_measured_and_an_await_is_not():
    async def main():
        async with LoopLag() as blocked:
            time.sleep(0.2)
        with ThreadLag() as control:
            async with LoopLag() as free:
                await asyncio.sleep(0.2)
        return blocked, free, control

    blocked, free, control = asyncio.run(main())
    assert blocked.max >= 0.2 - blocked.tick and blocked.stalls == []   # no stacks asked for: none kept
    assert blame(free.gaps, control.gaps, 0.1)[0] != "blocked"


def test_stacks_name_the_line_that_held_the_loop_in_order():
    async def main():
        async with LoopLag(stacks=0.05) as lag:
            sleeps_on_the_loop()
            await asyncio.sleep(0.02)          # long enough for the ticker to wake between the stalls
            waits_on_an_event()
            await asyncio.sleep(0.02)
            spins()
            await asyncio.sleep(0.1)           # no stall at all
        return lag

    lag = asyncio.run(main())
    stalls = _helper_stalls(lag)
    assert [s.where.name for s in stalls] == ["sleeps_on_the_loop", "waits_on_an_event", "spins"]
    first = stalls[0]
    assert first.seconds >= 0.2 - lag.tick and first.where.line == "time.sleep(0.2)"
    # The stack starts at the coroutine the loop was running and goes in; the innermost frame
    # of the Event wait is the standard library's, and `where` skips it.
    assert [f.name for f in first.stack] == ["main", "sleeps_on_the_loop"]
    assert stalls[1].stack[-1].filename.endswith("threading.py")
    assert "stall in sleeps_on_the_loop(), line" in str(first)
    assert not _samplers()


def test_a_stall_at_the_very_end_is_recorded_with_its_stack():
    async def main():
        async with LoopLag(stacks=0.05) as lag:
            await asyncio.sleep(0.02)
            sleeps_on_the_loop()
        return lag

    lag = asyncio.run(main())
    assert [s.where.name for s in _helper_stalls(lag)] == ["sleeps_on_the_loop"]


def test_short_stalls_are_measured_and_only_long_ones_kept():
    lag = LoopLag(stacks=0.1)
    lag._last = 10.0                                  # the ticker's last wake-up, then two late ones
    lag._woke(10.0 + lag.tick + 0.05)                 # a 0.05 s stall: measured, not kept
    lag._woke(lag._last + lag.tick + 0.2)             # a 0.2 s stall: kept (no sample was taken: no stack)
    assert [round(s.seconds, 6) for s in lag.stalls] == [0.2] and lag.stalls[0].stack == []
    assert lag.gaps.max == pytest.approx(0.2) and len(lag.gaps.spans) == 2


def test_the_sampler_stops_when_the_block_raises():
    async def main():
        async with LoopLag(stacks=0.05):
            sleeps_on_the_loop()
            raise KeyError("boom")

    try:
        asyncio.run(main())
    except KeyError:
        pass
    assert not _samplers()


def test_where_is_none_without_code_of_yours():
    stall = Stall(0.0, 0.3, [])
    assert stall.where is None and "no stack" in str(stall)


def test_the_toolkits_own_frames_are_not_yours():
    # A loop starved while it waits in select(): its thread's stack holds the standard library's
    # frames and the toolkit's (the thread it runs on), none of them the line to blame.
    import traceback

    import coursekit.guard

    toolkit = traceback.FrameSummary(coursekit.guard.__file__, 40, "run_loop_thread")
    stdlib = traceback.FrameSummary(threading.__file__, 1000, "run")
    learner = traceback.FrameSummary("<ipython-input-3>", 2, "load_rates")
    assert Stall(0.0, 0.3, [stdlib, toolkit]).where is None
    assert Stall(0.0, 0.3, [stdlib, toolkit, learner]).where is learner
