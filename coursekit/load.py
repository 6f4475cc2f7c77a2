"""Bounded load: a closed loop of clients for a fixed time, and what they saw.

    result = await closed_loop("http://127.0.0.1:8000/async/ping/", clients=50, seconds=2)
    result.throughput, result.p(50), result.p(99), result.errors

Each client sends a request, waits for the answer, and sends the next one, until the time is
up (a closed loop: the load adapts to the server's speed, it never piles up). Every run is
bounded by `seconds` plus one request's timeout, so a lesson cell never runs away.
"""
import asyncio
import math
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    clients: int
    seconds: float                                   # how long the clients sent requests
    latencies: list = field(default_factory=list)    # seconds, one per successful request
    errors: dict = field(default_factory=dict)       # what went wrong -> how often

    @property
    def completed(self):
        return len(self.latencies)

    @property
    def throughput(self):
        """Successful requests per second."""
        return self.completed / self.seconds if self.seconds else 0.0

    def p(self, percentile):
        """The latency below which `percentile` % of the requests finished (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(percentile / 100 * len(ordered)))
        return ordered[rank - 1]

    def __repr__(self):
        return (f"<LoadResult {self.clients} clients, {self.completed} requests in {self.seconds:.1f} s: "
                f"{self.throughput:.0f}/s, p50 {self.p(50) * 1000:.0f} ms, p99 {self.p(99) * 1000:.0f} ms, "
                f"{sum(self.errors.values())} errors>")


async def closed_loop(url, *, clients=10, seconds=2.0, timeout=10.0, session=None):
    """`clients` clients, each requesting `url` again and again for `seconds`; a LoadResult."""
    import aiohttp

    own_session = session is None
    if own_session:
        connector = aiohttp.TCPConnector(limit=clients, force_close=False)
        session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))
    result = LoadResult(clients, seconds)
    started = time.perf_counter()
    deadline = started + seconds

    async def client():
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status >= 400:
                        key = f"HTTP {response.status}"
                        result.errors[key] = result.errors.get(key, 0) + 1
                        continue
            except (aiohttp.ClientError, TimeoutError) as exc:
                key = type(exc).__name__
                result.errors[key] = result.errors.get(key, 0) + 1
                continue
            result.latencies.append(time.perf_counter() - sent)

    try:
        await asyncio.gather(*(client() for _ in range(clients)))
    finally:
        if own_session:
            await session.close()
    result.seconds = time.perf_counter() - started
    return result
