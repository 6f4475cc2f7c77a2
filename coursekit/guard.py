"""Run a learner's code so that no mistake can hang or crash the notebook.

`await run_guarded(fn, *args, timeout=...)` runs `fn` on a fresh worker thread (an
`async def` gets its own event loop there) and waits for it from the kernel's loop.
The Outcome holds:
  - the result, or the exception the code raised;
  - `timed_out` if it was still running after `timeout` seconds (an endless loop, a call
    that never returns);
  - `loop_gaps`: every stretch the code's event loop could not run anything else, measured
    by a ticker task beside it (coursekit.lag). A `time.sleep(1)` in an async function shows
    up as a 1 s gap; awaiting `asyncio.sleep(1)` as none.

Whenever the wait ends without the code having finished (time ran out, or the check itself
was cancelled by Kernel > Interrupt or an outer timeout), the code is stopped: async code
is cancelled through its own loop, and a thread still running Python after that gets an
exception injected, again and again until it ends. A thread stuck inside one long C call
(time.sleep(3600)) stops when that call returns.
"""
import asyncio
import concurrent.futures
import ctypes
import inspect
import threading
import time
from dataclasses import dataclass, field

from .lag import Gaps, LoopLag


class Abandoned(BaseException):
    """Raised inside learner code that outlived its time limit."""


@dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None
    timed_out: bool = False
    seconds: float = 0.0
    started: float = 0.0
    loop_gaps: Gaps = field(default_factory=Gaps)
    thread: threading.Thread | None = None

    @property
    def max_lag(self):
        return self.loop_gaps.max


async def run_guarded(fn, *args, timeout=10.0, **kwargs):
    outcome = Outcome()
    done = concurrent.futures.Future()
    running = {}  # the learner's loop and main task, once async code runs

    def target():
        outcome.started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(fn):
                with asyncio.Runner() as runner:
                    outcome.value = runner.run(_with_lag(fn, args, kwargs, outcome, running))
            else:
                outcome.value = fn(*args, **kwargs)
        except Abandoned:
            pass
        except BaseException as exc:  # reported to the learner, never raised in the cell
            outcome.error = exc
        finally:
            outcome.seconds = time.perf_counter() - outcome.started
            _close_db_connections()
            if not done.done():
                done.set_result(None)

    thread = threading.Thread(target=target, name="coursekit-check", daemon=True)
    outcome.thread = thread
    thread.start()
    try:
        # asyncio.wait, unlike wait_for, leaves the future alone when time runs out.
        await asyncio.wait([asyncio.wrap_future(done)], timeout=timeout)
    finally:
        if not done.done():  # out of time, or this wait was cancelled: stop the learner's code
            outcome.timed_out = True
            outcome.seconds = time.perf_counter() - outcome.started
            stop(thread, running)
    return outcome


async def _with_lag(fn, args, kwargs, outcome, running):
    running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
    lag = LoopLag()
    outcome.loop_gaps = lag.gaps
    async with lag:
        return await fn(*args, **kwargs)


def stop(thread, running, patience=5.0):
    """Stop a learner thread: cancel its loop's main task, then inject Abandoned until it ends.

    Runs the escalation on a short-lived thread of its own, so the caller (often the kernel's
    loop, in a `finally`) never waits for it.
    """
    loop, task = running.get("loop"), running.get("task")
    if loop is not None and task is not None:
        try:
            loop.call_soon_threadsafe(task.cancel)  # wakes the learner's loop even if it waits forever
        except RuntimeError:  # that loop has closed already
            pass

    def escalate():
        deadline = time.monotonic() + patience
        thread.join(0.3)  # a cancelled coroutine usually ends by itself
        while thread.is_alive() and time.monotonic() < deadline:
            _raise_in_thread(thread, Abandoned)
            if loop is not None:  # a loop asleep in select() runs no bytecode: wake it to take the exception
                try:
                    loop.call_soon_threadsafe(_nothing)
                except RuntimeError:
                    pass
            thread.join(0.05)

    threading.Thread(target=escalate, name="coursekit-stopper", daemon=True).start()


def _nothing():
    pass


def _raise_in_thread(thread, exc_type):
    """The exception lands in the thread at its next Python bytecode."""
    if thread.is_alive() and thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def _close_db_connections():
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass
