"""The local "slow upstream API": weather, flights and hotels, served by aiohttp.

In a notebook it runs on the kernel's own event loop, on 127.0.0.1 and a free port:

    api = await coursekit.start_upstream()           # Django's settings now point at it
    api.configure(latency={"flights": 1.0}, failure_rate=0.2)
    await api.stop()

Every call is logged (service, start, end, status) so lessons can draw what the
server saw. Standalone, for `manage.py runserver`: `python -m coursekit.upstream` (port 8011).
"""
import argparse
import asyncio
import hashlib
import random
import time
from dataclasses import dataclass

from aiohttp import web

from . import cleanup

DEFAULT_LATENCY = {"weather": 0.2, "flights": 0.3, "hotels": 0.25}
OTHER_LATENCY = 0.2  # any other service name (events, trains, ...) answers too


@dataclass
class Call:
    service: str
    city: str
    start: float  # time.perf_counter() values, comparable with coursekit.timing
    end: float
    status: int


def payload(service, city):
    """Deterministic fake data: the same city always gets the same answer."""
    n = int(hashlib.sha256(f"{service}:{city}".encode()).hexdigest()[:8], 16)
    if service == "weather":
        summary = ["sunny", "cloudy", "rain", "snow", "windy"][n % 5]
        return {"service": service, "city": city, "temp_c": n % 35 - 5, "summary": summary}
    if service == "flights":
        return {"service": service, "city": city, "cheapest_eur": 80 + n % 400, "direct": bool(n % 2)}
    if service == "hotels":
        return {"service": service, "city": city, "rooms_left": n % 20, "from_eur": 60 + n % 140}
    return {"service": service, "city": city, "items": n % 10}


class Upstream:
    """The server and its knobs. Use start_upstream() rather than building one yourself."""

    def __init__(self, *, latency=None, jitter=0.0, failure_rate=0.0, fail=(), seed=0):
        self.latency = dict(DEFAULT_LATENCY)
        self.jitter = 0.0
        self.failure_rate = 0.0
        self.fail = set()
        self.calls: list[Call] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.url = None
        self._random = random.Random(seed)
        self._runner = None
        self.configure(latency=latency, jitter=jitter, failure_rate=failure_rate, fail=fail)

    def configure(self, *, latency=None, jitter=None, failure_rate=None, fail=None, seed=None):
        """Change the knobs while running.

        latency: seconds, for every service (a number) or per service (a dict);
        jitter: up to this many seconds added at random; failure_rate: share of calls
        answered with 503; fail: services that always answer 503.
        """
        if isinstance(latency, (int, float)):
            self.latency = {service: float(latency) for service in self.latency}
            self._default = float(latency)
        elif latency:
            self.latency.update({k: float(v) for k, v in latency.items()})
        if jitter is not None:
            self.jitter = float(jitter)
        if failure_rate is not None:
            if not 0 <= failure_rate <= 1:
                raise ValueError("failure_rate is a share of calls, between 0 and 1")
            self.failure_rate = float(failure_rate)
        if fail is not None:
            self.fail = {fail} if isinstance(fail, str) else set(fail)
        if seed is not None:
            self._random.seed(seed)
        return self

    def reset(self):
        """Back to the default knobs, with an empty call log."""
        self.latency, self.jitter, self.failure_rate, self.fail = dict(DEFAULT_LATENCY), 0.0, 0.0, set()
        self._default = OTHER_LATENCY
        self.clear_log()
        return self

    def clear_log(self):
        self.calls.clear()
        self.peak_in_flight = self.in_flight

    _default = OTHER_LATENCY

    def delay_for(self, service, override=None):
        base = float(override) if override is not None else self.latency.get(service, self._default)
        return base + (self._random.uniform(0, self.jitter) if self.jitter else 0.0)

    async def _handle(self, request):
        service, city = request.match_info["service"], request.match_info["city"]
        start = time.perf_counter()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        status = 200
        try:
            await asyncio.sleep(self.delay_for(service, request.query.get("latency")))
            if service in self.fail or (self.failure_rate and self._random.random() < self.failure_rate):
                status = 503
                return web.json_response({"error": f"{service} is unavailable"}, status=503)
            return web.json_response(payload(service, city))
        except asyncio.CancelledError:
            status = 499  # the client went away before the answer was ready
            raise
        finally:
            self.in_flight -= 1
            self.calls.append(Call(service, city, start, time.perf_counter(), status))

    async def _index(self, request):
        return web.json_response({"services": sorted(self.latency)})

    def app(self):
        app = web.Application()
        app.router.add_get("/{service}/{city}", self._handle)
        app.router.add_get("/", self._index)
        return app

    async def start(self, host="127.0.0.1", port=0):
        # handler_cancellation: when a client gives up, its handler is cancelled (logged as 499)
        # instead of running on and inflating in_flight for whatever is measured next.
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self

    async def stop(self):
        if self._runner is not None:
            runner, self._runner = self._runner, None
            cleanup.unregister(getattr(self, "_token", None))
            await runner.cleanup()
        if _current.get("server") is self:
            _current["server"] = None
            _point_django_at(None)

    @property
    def running(self):
        return self._runner is not None

    def timeline(self, title="What the upstream server saw"):
        """The logged calls as a coursekit Timeline, one bar per call."""
        from .timing import Timeline

        timeline = Timeline(title)
        for call in self.calls:
            timeline.add(f"{call.service} {call.city}", call.start, call.end,
                         kind="run" if call.status == 200 else "failed")
        return timeline

    def __repr__(self):
        state = f"at {self.url}" if self.running else "stopped"
        return f"<Upstream {state}, {len(self.calls)} calls logged>"


_current = {"server": None, "previous_url": None}


async def start_upstream(**knobs):
    """Start (or restart) the notebook's upstream server and point Django's settings at it."""
    await stop_upstream()
    server = await Upstream(**knobs).start()
    server._token = cleanup.register("the upstream API", server.stop)
    _current["server"] = server
    _point_django_at(server.url)
    return server


async def stop_upstream():
    server = _current["server"]
    if server is not None:
        await server.stop()


def current():
    return _current["server"]


def _point_django_at(url):
    from django.conf import settings

    if not settings.configured:
        return
    if url is None:
        if _current["previous_url"] is not None:
            settings.UPSTREAM_BASE_URL = _current["previous_url"]
        return
    if _current["previous_url"] is None:
        _current["previous_url"] = settings.UPSTREAM_BASE_URL
    settings.UPSTREAM_BASE_URL = url


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve Tripboard's slow upstream API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, help="seconds for every service")
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = Upstream(latency=args.latency, jitter=args.jitter, failure_rate=args.failure_rate)
    print(f"Upstream API on http://{args.host}:{args.port} (Ctrl+C to stop)")
    web.run_app(server.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
