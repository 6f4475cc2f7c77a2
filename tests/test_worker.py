"""coursekit.servers.worker: a worker subprocess, ready on a log line, stopped and cleaned up."""
import asyncio
import os
import signal

import pytest

from coursekit import cleanup
from coursekit.servers.worker import WorkerProcess

SLEEPER = ["{python}", "-c", "import time; print('worker ready', flush=True); time.sleep(60)"]


def test_ready_on_its_log_line_then_stopped_and_forgotten():
    async def main():
        worker = await WorkerProcess(SLEEPER, ready="worker ready", name="sleeper").start()
        pending = cleanup.pending()
        log = worker._log_file.name
        line = await worker.wait_for("ready", timeout=5)
        code = await worker.stop()
        return worker, pending, log, line, code

    worker, pending, log, line, code = asyncio.run(main())
    assert pending == [f"sleeper (pid {worker.pid})"] and cleanup.pending() == []
    assert line == "worker ready" and "worker ready" in worker.log
    assert code == -signal.SIGTERM and not worker.running and worker.started_in > 0
    assert not os.path.exists(log)                       # the log is kept in memory, the file removed
    assert not os.path.exists(f"/proc/{worker.pid}") or open(f"/proc/{worker.pid}/stat").read().split()[2] == "Z"


def test_a_worker_that_exits_before_it_is_ready_says_why():
    async def main():
        worker = WorkerProcess(["{python}", "-c", "print('no settings'); raise SystemExit(3)"], ready="ready",
                               name="broken")
        with pytest.raises(RuntimeError, match="no settings") as caught:
            await worker.start()
        return worker, caught.value

    worker, error = asyncio.run(main())
    assert "exited (code 3)" in str(error) and worker.returncode == 3 and cleanup.pending() == []


def test_a_worker_that_never_gets_ready_is_stopped():
    async def main():
        worker = WorkerProcess(SLEEPER, ready="never printed", ready_timeout=0.5, name="silent")
        with pytest.raises(TimeoutError):
            await worker.start()
        return worker

    worker = asyncio.run(main())
    assert not worker.running and worker.returncode == -signal.SIGTERM and cleanup.pending() == []
