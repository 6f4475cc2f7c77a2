"""Benchmark before switching: one endpoint at a few concurrency levels, and what the server spent.

    table = await bench("http://127.0.0.1:8000/lab/io/async/", clients=(10, 50, 200), seconds=1.5,
                        server=server)      # a ServerProcess (or a pid): its threads and memory too
    table                                   # clients, requests/s, p50, p99, errors, threads, memory
    table[50].throughput, table[50].p(99), table[50].threads
    table.plot()

Each level is a bounded closed loop (coursekit.load.closed_loop): `clients` clients for
`seconds`, then the requests still in flight finish. While it runs, a `TreeSampler` reads the
server's whole process tree (a gunicorn master and its workers) with psutil: threads, resident
memory, CPU time. The load generator's own CPU time (this process) is kept beside the server's,
so you can see that the measuring is not what limits the server.
"""
import asyncio
import math
import os
import time
from dataclasses import dataclass, field

from .load import closed_loop


# --- the server's process tree --------------------------------------------------------------
def _tree(pid):
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_snapshot(pid):
    """(threads, resident bytes, CPU seconds, processes) of `pid` and all its descendants, now."""
    import psutil

    threads = rss = 0
    cpu = 0.0
    processes = 0
    for process in _tree(pid):
        try:
            with process.oneshot():
                threads += process.num_threads()
                rss += process.memory_info().rss
                times = process.cpu_times()
                cpu += times.user + times.system
                processes += 1
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return threads, rss, cpu, processes


def own_cpu():
    """CPU seconds this process (the notebook's kernel: the load generator) has used so far."""
    times = os.times()
    return times.user + times.system


class TreeSampler:
    """Samples a process tree every `interval` seconds while a block runs (an asyncio task).

        async with TreeSampler(server.process.pid) as sampler:
            ...                       # load
        sampler.peak_threads, sampler.peak_memory, sampler.cpu, sampler.samples
    """

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval = pid, interval
        self.samples = []          # (seconds since start, threads, resident bytes)
        self.cpu = 0.0             # CPU seconds the tree used between start and stop
        self.processes = 0
        self._task = None

    def _sample(self):
        threads, rss, cpu, processes = tree_snapshot(self.pid)
        self.samples.append((time.perf_counter() - self._started, threads, rss))
        self.processes = max(self.processes, processes)
        return cpu

    async def _run(self):
        while True:
            await asyncio.sleep(self.interval)
            self._sample()

    async def __aenter__(self):
        self._started = time.perf_counter()
        self._cpu_start = self._sample()
        self._task = asyncio.create_task(self._run(), name="coursekit-tree-sampler")
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self.cpu = self._sample() - self._cpu_start
        return False

    @property
    def peak_threads(self):
        return max((threads for _, threads, _ in self.samples), default=0)

    @property
    def peak_memory(self):
        return max((rss for _, _, rss in self.samples), default=0)


# --- one level, and a sweep ---------------------------------------------------------------
@dataclass
class Point:
    """One concurrency level: what the clients saw, and what the server spent meanwhile."""

    clients: int
    throughput: float           # successful requests per second
    latencies: list = field(repr=False, default_factory=list)
    errors: dict = field(default_factory=dict)
    seconds: float = 0.0
    threads: int = 0            # the most threads the server's processes had at once
    memory: int = 0             # the most resident memory (bytes) they had at once
    processes: int = 0
    server_cpu: float = 0.0     # CPU seconds of the server's process tree during the run
    client_cpu: float = 0.0     # CPU seconds of this process (the load generator) during the run

    @property
    def completed(self):
        return len(self.latencies)

    def p(self, percentile):
        """Latency (seconds) below which `percentile` % of the requests finished."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(percentile / 100 * len(ordered))) - 1]

    def row(self, **first):
        """What a table shows of this point: ms, MB, and the server's CPU (when it was sampled)."""
        row = {**first, "clients": self.clients, "req/s": round(self.throughput, 1),
               "p50 ms": round(self.p(50) * 1000), "p99 ms": round(self.p(99) * 1000),
               "errors": sum(self.errors.values())}
        if self.processes:
            row.update({"threads": self.threads, "memory MB": round(self.memory / 2**20),
                        "CPU ms/req": round(self.cpu_per_request * 1000, 1),
                        "% of a core": round(100 * self.server_cpu / self.seconds) if self.seconds else 0})
        return row

    @property
    def cpu_per_request(self):
        """Server CPU seconds per successful request (nan without a server to watch)."""
        return self.server_cpu / self.completed if self.completed and self.server_cpu else float("nan")


class Bench:
    """The points of one sweep, in order of clients; `bench[50]` is the point with 50 clients."""

    def __init__(self, label, url, points):
        self.label, self.url, self.points = label, url, list(points)

    def __getitem__(self, clients):
        for point in self.points:
            if point.clients == clients:
                return point
        raise KeyError(f"no point with {clients} clients (have {[p.clients for p in self.points]})")

    def __iter__(self):
        return iter(self.points)

    @property
    def clients(self):
        return [p.clients for p in self.points]

    def rows(self):
        """One dict per point: what a table shows (ms, MB, and the server's CPU)."""
        return [p.row() for p in self.points]

    def table(self):
        return _text_table(self.label, self.rows())

    def __repr__(self):
        return self.table()

    def plot(self, theory=None, *, latency=None, title=None):
        """Throughput, latency, threads and memory against clients.

        theory: clients -> requests/s (a dashed line); latency: the service time (the latency floor)."""
        from .plots import sweep

        sweep({self.label: self}, theory={self.label: theory} if theory else None, latency=latency,
              title=title or self.label)


def table(points, title=""):
    """A text table of named points ({"design": Point, ...}), one row each."""
    return _text_table(title, [point.row(design=name) for name, point in points.items()])


def _text_table(title, rows):
    if not rows:
        return f"{title}: no points"
    heads = list(dict.fromkeys(h for row in rows for h in row))
    widths = [max(len(h), *(len(str(r.get(h, ""))) for r in rows)) for h in heads]
    align = {h: str.ljust if all(isinstance(r.get(h), str) for r in rows) else str.rjust for h in heads}
    lines = [title] if title else []
    lines.append("  ".join(align[h](h, w) for h, w in zip(heads, widths)))
    lines += ["  ".join(align[h](str(r.get(h, "")), w) for h, w in zip(heads, widths)) for r in rows]
    return "\n".join(lines)


async def measure(url, clients, *, seconds=1.5, server=None, timeout=15.0):
    """One closed-loop run of `clients` clients for `seconds`, sampling `server` meanwhile."""
    pid = _pid(server)
    cpu_before = own_cpu()
    if pid is None:
        result = await closed_loop(url, clients=clients, seconds=seconds, timeout=timeout)
        sampler = None
    else:
        async with TreeSampler(pid) as sampler:
            result = await closed_loop(url, clients=clients, seconds=seconds, timeout=timeout)
    client_cpu = own_cpu() - cpu_before
    return Point(clients, result.throughput, result.latencies, dict(result.errors), result.seconds,
                 threads=sampler.peak_threads if sampler else 0, memory=sampler.peak_memory if sampler else 0,
                 processes=sampler.processes if sampler else 0, server_cpu=sampler.cpu if sampler else 0.0,
                 client_cpu=client_cpu)


async def bench(url, clients=(10, 50, 200), *, seconds=1.5, server=None, label=None, warmup=0.2,
                timeout=15.0):
    """Measure `url` at each number of `clients` (a closed loop of `seconds` each); a Bench.

    server: the ServerProcess (or pid) that serves `url`, to sample its threads, memory and CPU.
    warmup: seconds of load before the first level (first requests import code, open files).
    """
    if warmup:
        await closed_loop(url, clients=min(clients), seconds=warmup, timeout=timeout)
    points = [await measure(url, n, seconds=seconds, server=server, timeout=timeout) for n in clients]
    return Bench(label or url, url, points)


def _pid(server):
    if server is None:
        return None
    if isinstance(server, int):
        return server
    process = getattr(server, "process", None)
    if process is None:
        raise RuntimeError(f"{server!r} is not running")
    return process.pid
