"""Make Kernel > Interrupt stop a cell that is awaiting, within a moment.

ipykernel (7.4) runs a cell that uses `await` as a task, and on SIGINT schedules that task's
cancellation with tornado's add_callback. From the loop's own thread that is a plain
call_soon, which does not wake the loop: an interrupted `await asyncio.sleep(30)` ran on to
its end, and `await asyncio.Event().wait()` never ended. Around each cell we wrap ipykernel's
handler so that it also wakes the loop. And when the interrupt arrives while Python code is
running on the loop's thread (a long loop inside an awaiting cell), cancelling would wait for
that code to yield, which it never does: we raise KeyboardInterrupt there instead, as a plain
cell would get.

An interrupted cell ends with one short line instead of a traceback through asyncio.
"""
import asyncio
import signal
import sys
import time

_state = {"installed": False, "interrupted_at": 0.0}


def install():
    """Hook into the running IPython kernel (no-op anywhere else, and when already done)."""
    if _state["installed"]:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return
    shell.events.register("pre_run_cell", _wrap_sigint_handler)
    shell.set_custom_exc((asyncio.CancelledError, KeyboardInterrupt), _short_report)
    _state["installed"] = True


def _wrap_sigint_handler(info=None):
    inner = signal.getsignal(signal.SIGINT)
    # Only ipykernel's per-cell handler (a plain function) needs help; the default handler
    # already raises KeyboardInterrupt in a cell that does not await.
    if not callable(inner) or inner is signal.default_int_handler or getattr(inner, "_coursekit", False):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return

    def handler(signum, frame):
        _state["interrupted_at"] = time.monotonic()
        waiting = frame is not None and frame.f_code.co_filename.endswith("selectors.py")
        inner(signum, frame)                      # ipykernel: cancel the cell's task ...
        loop.call_soon_threadsafe(lambda: None)   # ... and wake the loop so that it happens now
        if not waiting:                           # Python code is running: stop it where it is
            raise KeyboardInterrupt

    handler._coursekit = True
    signal.signal(signal.SIGINT, handler)


def _short_report(shell, etype, value, tb, tb_offset=None):
    if time.monotonic() - _state["interrupted_at"] < 60:
        extra = _take_note()
        print("Interrupted (Kernel > Interrupt): the cell stopped here"
              + (f"; {extra}" if extra else "") + ". Later cells run as usual.", file=sys.stderr)
        return None
    # Not an interrupt of ours (a CancelledError from a bug, say): the usual traceback.
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    return None


def note(text):
    """Say one more thing in the short line an interrupted cell ends with."""
    _state["note"] = text


def _take_note():
    return _state.pop("note", "")
