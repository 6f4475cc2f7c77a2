"""Kernel > Interrupt, for real: a kernel started like JupyterLab starts one, then SIGINT.

`import coursekit` makes an interrupted cell stop within a moment, whether it is awaiting
(`await asyncio.sleep(30)`, `await asyncio.Event().wait()`), running Python inside an awaiting
cell, or running a check on learner code that never ends; the cell ends with one short line,
the learner's thread is stopped, and later cells run as usual.
"""
import queue
import time

import pytest
from jupyter_client.manager import start_new_kernel

SETUP = "import asyncio, threading, time\nimport coursekit\n"


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        run(kc, km, SETUP)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc, km, code, interrupt_after=None, timeout=20):
    """Execute `code`; optionally interrupt it. Returns (seconds from interrupt (or start) to idle, outputs)."""
    msg_id = kc.execute(code)
    started = time.monotonic()
    interrupted_at = None
    outputs = []
    while True:
        if interrupt_after is not None and interrupted_at is None and time.monotonic() - started > interrupt_after:
            km.interrupt_kernel()
            interrupted_at = time.monotonic()
        try:
            msg = kc.get_iopub_msg(timeout=0.1)
        except queue.Empty:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no answer within {timeout} s: {outputs}") from None
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outputs.append(content["text"])
        elif kind == "error":
            outputs.append("\n".join(content["traceback"]))
        elif kind in ("execute_result", "display_data"):
            outputs.append(content["data"].get("text/plain", ""))
        elif kind == "status" and content["execution_state"] == "idle":
            return time.monotonic() - (interrupted_at or started), "".join(outputs)


@pytest.mark.parametrize("code", [
    "await asyncio.sleep(30)",
    "await asyncio.Event().wait()",
    "await asyncio.sleep(0)\nwhile True: pass",
])
def test_an_awaiting_cell_stops_at_once_with_one_short_line(kernel, code):
    km, kc = kernel
    seconds, output = run(kc, km, code, interrupt_after=1.0)
    assert seconds < 2.0, seconds
    assert "Interrupted" in output and len(output.strip().splitlines()) <= 2, output
    assert run(kc, km, "print(await asyncio.sleep(0.01, 'alive'))")[1].strip() == "alive"


def test_an_interrupted_check_stops_the_learners_thread(kernel):
    km, kc = kernel
    run(kc, km, "coursekit.setup(quiet=True)\nex = coursekit.exercises('00', demo=True)\n"
                "async def city_count():\n    while True:\n        pass\n")
    seconds, output = run(kc, km, "await ex.check('city-count')", interrupt_after=1.0)
    assert seconds < 2.0 and "Interrupted" in output and len(output.strip().splitlines()) <= 2, output
    # The learner's endless loop ran on a thread of its own: it must be gone within a few seconds.
    _, left = run(kc, km, "for _ in range(100):\n"
                          "    if not any(t.name == 'coursekit-check' for t in threading.enumerate()): break\n"
                          "    await asyncio.sleep(0.05)\n"
                          "print(sum(t.name == 'coursekit-check' for t in threading.enumerate()))")
    assert left.strip() == "0"
    assert run(kc, km, "print(await City.objects.acount() if False else 'alive')")[1].strip() == "alive"
