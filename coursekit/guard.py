"""Run a learner's code so that no mistake can hang or crash the notebook.

`run_guarded(fn, *args, timeout=...)` runs `fn` on a fresh worker thread (an
`async def` gets its own event loop there) and waits for it from the kernel's loop.
It reports:
  - the result, or the exception the code raised;
  - `timed_out` if it was still running after `timeout` seconds (an endless loop,
    a call that never returns); the thread is then asked to stop;
  - `max_lag`: the longest stretch the code's event loop could not run anything
    else, measured by a ticker task beside it. A `time.sleep(1)` in an async
    function shows up as about 1 s of lag; awaiting `asyncio.sleep(1)` as none.
"""
import asyncio
import concurrent.futures
import ctypes
import inspect
import threading
import time
from dataclasses import dataclass

TICK = 0.005


class Abandoned(BaseException):
    """Raised inside learner code that outlived its time limit."""


@dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None
    timed_out: bool = False
    seconds: float = 0.0
    max_lag: float = 0.0


async def run_guarded(fn, *args, timeout=10.0, **kwargs):
    outcome = Outcome()
    done = concurrent.futures.Future()
    lag = {"max": 0.0}

    def target():
        started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(fn):
                outcome.value = asyncio.run(_with_ticker(fn, args, kwargs, lag))
            else:
                outcome.value = fn(*args, **kwargs)
        except Abandoned:
            pass
        except BaseException as exc:  # reported to the learner, never raised in the cell
            outcome.error = exc
        finally:
            outcome.seconds = time.perf_counter() - started
            _close_db_connections()
            if not done.done():
                done.set_result(None)

    thread = threading.Thread(target=target, name="coursekit-check", daemon=True)
    thread.start()
    # asyncio.wait, unlike wait_for, leaves the future alone when time runs out.
    await asyncio.wait([asyncio.wrap_future(done)], timeout=timeout)
    if not done.done():
        outcome.timed_out = True
        outcome.seconds = timeout
        _raise_in_thread(thread, Abandoned)
    outcome.max_lag = lag["max"]
    return outcome


async def _with_ticker(fn, args, kwargs, lag):
    stop = asyncio.Event()

    async def ticker():
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            lag["max"] = max(lag["max"], now - last - TICK)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # let the ticker take its first reading
    try:
        return await fn(*args, **kwargs)
    finally:
        stop.set()
        await task


def _raise_in_thread(thread, exc_type):
    """Ask a runaway thread to stop: the exception lands at its next Python bytecode.
    (A thread stuck inside one long C call, such as time.sleep(3600), stops when it returns.)"""
    if thread.is_alive() and thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def _close_db_connections():
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass
