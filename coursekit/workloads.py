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


def calibrate(seconds, probe=200_000):
    """How many spin() iterations take about `seconds` here (best of three probes)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        spin(probe)
        best = min(best, time.perf_counter() - started)
    return max(1, int(probe * seconds / best))


def timed_spin(iterations):
    """spin(), reporting when it really ran: (start, end) on the time.perf_counter() clock.

    On Linux that clock is shared by all processes, so spans measured in a worker
    process line up with spans measured in the notebook.
    """
    start = time.perf_counter()
    spin(iterations)
    return start, time.perf_counter()
