"""LoopLag: stalls measured, and (with stacks=) the code that held the loop named."""
import asyncio
import threading
import time

from coursekit.lag import LoopLag, Stall


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


def test_a_stall_is_measured_and_an_await_is_not():
    async def main():
        async with LoopLag() as blocked:
            time.sleep(0.2)
        async with LoopLag() as free:
            await asyncio.sleep(0.2)
        return blocked, free

    blocked, free = asyncio.run(main())
    assert blocked.max >= 0.2 - blocked.tick and blocked.stalls == []   # no stacks asked for: none kept
    assert free.max < blocked.max


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
    assert [s.where.name for s in lag.stalls] == ["sleeps_on_the_loop", "waits_on_an_event", "spins"]
    first = lag.stalls[0]
    assert first.seconds >= 0.2 - lag.tick and first.where.line == "time.sleep(0.2)"
    # The stack starts at the coroutine the loop was running and goes in; the innermost frame
    # of the Event wait is the standard library's, and `where` skips it.
    assert [f.name for f in first.stack] == ["main", "sleeps_on_the_loop"]
    assert lag.stalls[1].stack[-1].filename.endswith("threading.py")
    assert "stall in sleeps_on_the_loop(), line" in str(first)
    assert not _samplers()


def test_a_stall_at_the_very_end_is_recorded_with_its_stack():
    async def main():
        async with LoopLag(stacks=0.05) as lag:
            await asyncio.sleep(0.02)
            sleeps_on_the_loop()
        return lag

    lag = asyncio.run(main())
    assert len(lag.stalls) == 1 and lag.stalls[0].where.name == "sleeps_on_the_loop"


def test_short_stalls_below_the_threshold_are_not_kept():
    async def main():
        async with LoopLag(stacks=0.1) as lag:
            time.sleep(0.03)
            await asyncio.sleep(0.02)
        return lag

    lag = asyncio.run(main())
    assert lag.stalls == [] and lag.max >= 0.02


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
