"""Small, importable workloads for lessons that compare I/O-bound and CPU-bound work.

They live in a module (not in a notebook cell) so that a process pool can run them:
worker processes import functions by name, and a function defined in a cell has none.

    loops = calibrate(0.15)      # iterations of spin() that take about 0.15 s on this machine
    spin(loops)                  # pure-Python CPU work: holds the GIL the whole time
"""
import time


def spin(iterations):
    """Pure-Python arithmetic: CPU-bound, never waits, never releases the GIL for long."""
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def calibrate(seconds, probe=200_000, clock=time.thread_time):
    """How many spin() iterations take about `seconds` of CPU time here (best of three probes).

    CPU time, not wall time: a busy machine slows the wall clock of a probe, not the work it
    does, so the calibration holds while other programs use the cores."""
    best = float("inf")
    for _ in range(3):
        started = clock()
        spin(probe)
        best = min(best, clock() - started)
    return max(1, int(probe * seconds / max(best, 1e-6)))


def timed_spin(iterations):
    """spin(), reporting when it really ran: (start, end) on the time.perf_counter() clock.

    On Linux that clock is shared by all processes, so spans measured in a worker
    process line up with spans measured in the notebook.
    """
    start = time.perf_counter()
    spin(iterations)
    return start, time.perf_counter()


async def in_processes(iterations, jobs=4, workers=2):
    """Run `jobs` × timed_spin(iterations) in a pool of `workers` processes.

    The pool lives in a short-lived helper process, so no worker, fork server or
    resource tracker outlives the measurement (a pool made in the kernel would leave
    some of those running for the kernel's whole life). Returns (submitted_at, spans),
    all on the shared time.perf_counter() clock.
    """
    import asyncio
    import json
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coursekit.workloads", str(iterations), str(jobs), str(workers),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the process pool failed: {err.decode()[-500:]}")
    result = json.loads(out)
    return result["submitted"], [tuple(span) for span in result["spans"]]


def _pool_main(iterations, jobs, workers):
    import concurrent.futures
    import json
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(spin, [1] * workers))  # start every worker before the clock starts
        submitted = time.perf_counter()
        spans = list(pool.map(timed_spin, [iterations] * jobs))
    print(json.dumps({"submitted": submitted, "spans": spans}))


if __name__ == "__main__":
    import sys

    _pool_main(*(int(arg) for arg in sys.argv[1:4]))
