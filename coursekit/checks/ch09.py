"""Chapter 09: the performance lab."""
import asyncio
import inspect
import json
import math
import random
import sys
import time

from ..exercises import UNAWAITED_USED, Busy, Chapter, Fail, Kind
from .common import fresh_upstream, require_callable

chapter = Chapter("09", "Performance lab: when async helps and when it does not")

# --- nudges ---------------------------------------------------------------------------------
NOT_A_LIST = chapter.nudge("W001", "not a list of strings",
                           "Return the command as a list of strings, one per argument, as the lesson's DESIGNS "
                           "does: numbers too (`str(threads)`).")
NOT_GUNICORN = chapter.nudge("W002", "not {python} -m gunicorn",
                             "Start the command with [\"{python}\", \"-m\", \"gunicorn\", ...]: the fixed pool "
                             "here is gunicorn's, and `{python}` becomes this kernel's Python, the one with gunicorn "
                             "and Tripboard installed (a bare `python` may be another).")
BAD_OPTION = chapter.nudge("W003", "gunicorn refuses an option",
                           "gunicorn's own parser rejected the command (shown under Got): check the option names "
                           "(`--workers`, `--threads`, `--bind`) and that each has its value.")
NO_PORT = chapter.nudge("W004", "not bound to {port}",
                        "Bind to \"127.0.0.1:{port}\" (`--bind`): the check puts a free port in place of "
                        "`{port}`, and only 127.0.0.1 keeps the server off the network.")
NOT_WSGI_APP = chapter.nudge("W005", "not Tripboard's WSGI application",
                             "gunicorn's sync and threaded workers speak WSGI: serve "
                             "\"tripboard.wsgi:application\" (tripboard.asgi is the ASGI one, for uvicorn).")
NOT_A_POOL = chapter.nudge("W006", "not a fixed pool",
                           "Use gunicorn's sync or gthread workers (`--workers`, `--threads`): a pool whose size "
                           "you choose. Other worker classes have no such pool to size.")
ROUNDED_DOWN = chapter.nudge("W007", "rounded down",
                             "Little's law: requests in progress = rate × latency. A pool cannot hold part of a "
                             "request, so round up (math.ceil), never down: one thread short caps the rate below "
                             "the target.")
TOO_FEW = chapter.nudge("W008", "pool too small",
                        "Little's law: requests in progress = rate × latency. To serve {rate} requests per second "
                        "that each take {latency} s, {needed} must be in progress at once: workers × threads at "
                        "least that.")
TOO_MANY = chapter.nudge("W009", "pool larger than needed",
                         "{pool} in progress at once could serve {capacity:g} requests per second, far more than "
                         "{rate}. Every thread costs memory and every worker process a whole Django: give each "
                         "worker the fewest threads that reach rate × latency.")
LIVE_BROKEN = chapter.nudge("W010", "the server did not serve",
                            "The check started your command and it did not serve /lab/io/sync/ (what happened is "
                            "under Got). Run the same command from a terminal in sandbox_project/ to see why.")
LIVE_POOL = chapter.nudge("W011", "fewer requests in progress than the pool",
                          "The server never had as many requests in progress as your pool should allow. Check "
                          "that --threads and --workers say what you mean (and that nothing else limits them).")
SAT_RATE = chapter.nudge("W020", "requests per second, not clients",
                         "Return the number of clients at the saturation point (a level from the sweep), not its "
                         "throughput.")
SAT_ARGMAX = chapter.nudge("W021", "the highest point",
                           "Past saturation the curve is flat, and which level comes out highest is luck (noise). "
                           "Take the first level that reaches 90 % of the best throughput instead.")
SAT_GROWTH = chapter.nudge("W022", "stopped where growth paused",
                           "Throughput can pause (noise) and grow again before the real knee. Compare every level "
                           "with the best of the whole sweep: the first within 90 % of it.")
SAT_RULE = chapter.nudge("W023", "not the first level within 90 % of the best",
                         "Find the best throughput of the sweep, then return the clients of the first level whose "
                         "throughput is at least 0.9 times it.")
SAT_NOT_LEVEL = chapter.nudge("W024", "not a level of the sweep",
                              "Return one of the sweep's numbers of clients, as it is (an int).")
STILL_BLOCKS = chapter.nudge("W030", "the computation holds the event loop",
                             "burn() is pure Python: called in an async view it holds the event loop until it "
                             "ends, and every other request on that loop waits. Run it on a thread: "
                             "`await asyncio.to_thread(burn, n)` (or `sync_to_async(burn)(n)`), or make the view a "
                             "plain `def` (under ASGI Django runs it on a thread).")
WRONG_CPU = chapter.nudge("W031", "not what burn(n) returned",
                          "Call burn with n from the query string (`int(request.GET[\"n\"])`) and answer "
                          "`JsonResponse({\"cpu\": seconds})` with the CPU seconds burn returned.")
CALLED_FIRST = chapter.nudge("W032", "the result handed to the thread",
                             "`to_thread(burn(n))` calls burn right here, on the loop, and hands its result to the "
                             "thread. Pass the function and its argument: `asyncio.to_thread(burn, n)`.")
TEXT_N = chapter.nudge("W033", "n is text",
                       "Query-string values are strings: `n = int(request.GET[\"n\"])`.")
NOT_A_RESPONSE = chapter.nudge("W034", "not a response",
                               "A view returns an HttpResponse: `return JsonResponse({\"cpu\": cpu})`.")


@chapter.explainer
def _explain(exc, what):
    text = str(exc)
    if isinstance(exc, TypeError) and "not JSON serializable" in text and (
            "coroutine" in text or "Future" in text or "Task" in text):
        return Fail(f"{what} to run without an error", f"TypeError: {text}", UNAWAITED_USED, kind=Kind.UNAWAITED,
                    cause=exc)
    if isinstance(exc, TypeError) and "object is not callable" in text and ("float" in text or "int" in text):
        return Fail(f"{what} to run without an error", f"TypeError: {text}", CALLED_FIRST, kind=Kind.ERROR,
                    cause=exc)
    if isinstance(exc, TypeError) and "'str' object cannot be interpreted as an integer" in text:
        return Fail(f"{what} to run without an error", f"TypeError: {text}", TEXT_N, kind=Kind.ERROR, cause=exc)
    return None


# --- 1. size a gunicorn pool, then verify it ----------------------------------------------------
LIVE_CASE = (45, 0.1)   # 4.5 requests in progress: a pool of 5


def _cases():
    """Rates and latencies whose product is never close to a whole number (no float-rounding traps)."""
    rng = random.Random()
    cases = [(45, 0.1), (130, 0.25), (7, 0.5), (66, 0.2), (230, 0.05)]
    while len(cases) < 8:
        rate, latency = rng.randint(10, 300), rng.choice([0.05, 0.1, 0.2, 0.25, 0.4])
        fraction = rate * latency - math.floor(rate * latency)
        if 0.15 < fraction < 0.85 and rate * latency < 60:
            cases.append((rate, latency))
    return cases


def _gunicorn_args(command):
    """The arguments after `{python} -m gunicorn` (this kernel's Python), or None."""
    if len(command) >= 3 and command[0] in ("{python}", sys.executable) and command[1:3] == ["-m", "gunicorn"]:
        return command[3:]
    return None


def _pool(command, what):
    """(workers, threads) of a gunicorn command, read with gunicorn's own parser; Fail otherwise."""
    if not isinstance(command, (list, tuple)) or not command or not all(isinstance(p, str) for p in command):
        shown = command if not isinstance(command, (list, tuple)) else [type(p).__name__ for p in command]
        raise Fail(f"{what} to be a list of strings", f"{type(command).__name__}: {shown!r}", NOT_A_LIST)
    args = _gunicorn_args(list(command))
    if args is None:
        raise Fail(f"{what} to run gunicorn", " ".join(command), NOT_GUNICORN)
    import contextlib
    import io

    from gunicorn.config import Config

    config = Config()
    error = io.StringIO()
    try:
        with contextlib.redirect_stderr(error):
            parsed = config.parser().parse_args(args)
        for name, value in vars(parsed).items():
            if value is not None and name != "args":
                config.set(name.lower(), value)
    except (SystemExit, Exception) as exc:  # argparse exits; gunicorn's validators raise
        got = error.getvalue().strip().splitlines()[-1:] or [f"{type(exc).__name__}: {exc}"]
        raise Fail(f"{what}: options gunicorn accepts", got[0], BAD_OPTION) from None
    if list(config.bind) != ["127.0.0.1:{port}"]:
        raise Fail(f"{what} to bind 127.0.0.1:{{port}}", f"--bind {config.bind}", NO_PORT)
    apps = list(parsed.args or [])
    if apps not in (["tripboard.wsgi:application"], ["tripboard.wsgi"]):
        raise Fail(f"{what} to serve tripboard.wsgi:application", f"{apps}", NOT_WSGI_APP)
    if config.worker_class_str not in ("sync", "gthread"):
        raise Fail(f"{what}: sync or gthread workers", f"worker class {config.worker_class_str}", NOT_A_POOL)
    return config.workers, config.threads


@chapter.exercise(
    "pool-size", "Size a gunicorn pool for a target rate, then verify it",
    needs=["pool_command"],
    hints=[
        "Little's law: requests in progress = requests per second × seconds each. A pool of N threads can hold "
        "N requests in progress.",
        "So the pool needs math.ceil(rate * latency) threads. One worker process with that many threads is the "
        "cheapest way to get them.",
        "return lab.GUNICORN + [\"tripboard.wsgi:application\", \"--workers\", \"1\", \"--threads\", "
        "str(math.ceil(rate * latency))]",
    ],
    timeout=60,
)
async def check_pool_size(ctx, pool_command):
    require_callable(pool_command, "pool_command")
    for rate, latency in _cases():
        what = f"`pool_command({rate}, {latency})`"
        command = await ctx.call(pool_command, rate, latency, what=what)
        workers, threads = _pool(command, what)
        pool, needed = workers * threads, math.ceil(rate * latency)
        expected = f"{what}: workers × threads of at least {needed} ({rate} × {latency} = {rate * latency:g})"
        got = f"{workers} worker(s) × {threads} thread(s) = {pool}"
        if pool < needed:
            short = pool in (math.floor(rate * latency), round(rate * latency))
            raise Fail(expected, got, ROUNDED_DOWN if short else TOO_FEW.format(rate=rate, latency=latency,
                                                                                 needed=needed))
        if pool > needed + workers - 1:
            raise Fail(f"{what}: the smallest pool that reaches {needed}", got,
                       TOO_MANY.format(pool=pool, capacity=pool / latency, rate=rate))
    rate, latency = LIVE_CASE
    command = await ctx.call(pool_command, rate, latency, what=f"`pool_command({rate}, {latency})`")
    workers, threads = _pool(command, "the command")
    await _verify_live(command, workers * threads, math.ceil(rate * latency), latency)
    return ("Little's law sized the pool (rate × latency requests in progress), and the server really held "
            "that many at once.")


async def _verify_live(command, pool, needed, latency):
    """Start the learner's command against the upstream, load it, and read the upstream's log."""
    import aiohttp

    from .. import lab
    from ..load import closed_loop

    async with fresh_upstream(latency=latency) as api:
        server = lab.django_server([*command, "--no-control-socket"], upstream=api.url, name="pool-size")
        try:
            try:
                await server.start()
            except (RuntimeError, TimeoutError) as exc:
                lines = [line for line in str(exc).splitlines() if line.strip()]
                raise Fail("your command to start a server that answers", " | ".join(lines[-3:]),
                           LIVE_BROKEN) from None
            peak = 0
            for clients, seconds in ((2 * pool, 1.0), (3 * pool, 1.5)):  # a second try if the first was starved
                api.clear_log()
                # A new connection per request: kept-alive connections stick to the worker process that
                # accepted them, and would leave another worker's threads idle.
                async with aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=clients, force_close=True),
                        timeout=aiohttp.ClientTimeout(total=10)) as session:
                    result = await closed_loop(server.url + "/lab/io/sync/", clients=clients, seconds=seconds,
                                               session=session)
                if result.errors or not result.completed:
                    raise Fail("every request to /lab/io/sync/ answered 200", f"errors: {result.errors}",
                               LIVE_BROKEN)
                peak = max(peak, api.peak_in_flight)
                if peak >= needed:
                    break
            if peak < needed:
                raise Fail(f"{needed} requests in progress at once (the upstream's log)", f"at most {peak}",
                           LIVE_POOL)
        finally:
            await server.stop()


# --- 2. the saturation point of a sweep ----------------------------------------------------------
LEVELS = [1, 2, 4, 8, 16, 32, 64, 128]


def _first_within(points, share=0.9):
    best = max(rate for _, rate in points)
    return next(clients for clients, rate in points if rate >= share * best)


def _sweeps():
    """Sweeps as learners get them: theory with noise, and the shapes that fool the usual rules."""
    rng = random.Random()

    def curve(levels, cap, latency, noise=0.03):
        return [(n, round(min(n / latency, cap) * rng.uniform(1 - noise, 1 + noise), 1)) for n in levels]

    def clean(points):
        # No level within 1 % of the 90 % threshold: the rule must not hinge on rounding.
        best = max(rate for _, rate in points)
        return all(abs(rate - 0.9 * best) > 0.01 * best for _, rate in points)

    sweeps = []
    plateau = curve(LEVELS, cap=rng.choice([40, 60, 80]), latency=0.1)
    top = max(rate for _, rate in plateau)
    plateau[-1] = (plateau[-1][0], round(top * 1.02 + 0.5, 1))     # the highest point: the last, by luck
    sweeps.append(plateau)
    paused = [(1, 9.8), (2, 19.9), (4, 20.4), (8, 61.0), (16, 120.3), (32, 158.0), (64, 161.2), (128, 159.4)]
    sweeps.append(paused)                                                   # growth pauses at 4, then goes on
    collapse = [(1, 38.0), (2, 45.1), (4, 47.9), (8, 44.0), (16, 31.5), (32, 22.0), (64, 18.7), (128, 17.9)]
    sweeps.append(collapse)                                                 # writes: more clients, fewer writes
    sweeps.append(curve([10, 50, 200], cap=rng.choice([300, 400]), latency=0.1))    # the lesson's levels
    sweeps.append(curve(LEVELS, cap=10_000, latency=0.1))                   # never saturates: the last level
    sweeps.append(curve(LEVELS, cap=rng.choice([8, 9]), latency=0.1))       # saturated from the first level
    for _ in range(3):
        sweeps.append(curve(LEVELS, cap=rng.choice([25, 35, 45, 70, 150, 300]), latency=rng.choice([0.1, 0.2])))
    return [s for s in sweeps if clean(s)] or sweeps


def _growth_stop(points):
    """The common wrong rule: the last level before throughput first stops growing (by 10 %)."""
    for (n, rate), (_, following) in zip(points, points[1:]):
        if following < 1.1 * rate:
            return n
    return points[-1][0]


@chapter.exercise(
    "saturation", "Find a sweep's saturation point",
    needs=["saturation"],
    hints=[
        "First find the best throughput of the whole sweep: max(rate for clients, rate in points).",
        "Then walk the levels in order and stop at the first whose throughput is at least 0.9 × that best.",
        "best = max(r for _, r in points); return next(c for c, r in points if r >= 0.9 * best)",
    ],
)
async def check_saturation(ctx, saturation):
    require_callable(saturation, "saturation")
    for points in _sweeps():
        shown = ", ".join(f"{n}: {rate:g}" for n, rate in points)
        want = _first_within(points)
        got = await ctx.call(saturation, [tuple(p) for p in points], what="`saturation(points)`")
        expected = f"saturation([{shown}]) == {want}"
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise Fail(expected, f"{type(got).__name__}: {got!r}", SAT_NOT_LEVEL)
        if got == want:
            continue
        if got not in [n for n, _ in points]:
            raise Fail(expected, repr(got), SAT_RATE if got in [rate for _, rate in points] else SAT_NOT_LEVEL)
        if got == max(points, key=lambda p: p[1])[0]:
            raise Fail(expected, repr(got), SAT_ARGMAX)
        if got == _growth_stop(points):
            raise Fail(expected, repr(got), SAT_GROWTH)
        raise Fail(expected, repr(got), SAT_RULE)
    return "Past that point more clients only queue: latency grows, throughput does not."


# --- 3. a CPU-bound view that leaves the loop free -----------------------------------------------
def _rounds_for(seconds):
    """burn() rounds that take about `seconds` of CPU here (calibrated on CPU time, best of three)."""
    from trips.lab_views import burn

    probe = 100_000
    per_round = min(burn(probe) for _ in range(3)) / probe
    return max(probe, int(seconds / per_round))


def _probe(view, box):
    """The learner's view behind a thin wrapper of the same kind (a sync view stays sync, so Django
    still runs it on a thread): notes when it started and returned, keeps what it returned or raised
    (Django would turn either into a logged 500)."""
    from django.http import HttpResponse, HttpResponseBase

    def keep(response):
        box["returned"] = time.perf_counter()
        box["response"] = response
        if isinstance(response, HttpResponseBase):
            return response
        if inspect.iscoroutine(response):
            response.close()
        return HttpResponse(status=500)

    def failed(exc):
        box["returned"] = time.perf_counter()
        box.setdefault("error", exc)
        return HttpResponse(status=500)

    if inspect.iscoroutinefunction(view):
        async def probe(request):
            box["entered"]()
            try:
                return keep(await view(request))
            except Exception as exc:
                return failed(exc)
    else:
        def probe(request):
            box["entered"]()
            try:
                return keep(view(request))
            except Exception as exc:
                return failed(exc)
    return probe


async def _pong(request):
    from django.http import HttpResponse

    return HttpResponse("pong")


async def _cpu_and_another(app, cpu_url, box):
    """One CPU-bound request; once the view has started computing, another (light) request on the
    same loop. Returns (the CPU response, when the other was answered, the loop's stalls)."""
    from ..asgi import request
    from ..lag import LoopLag

    loop = asyncio.get_running_loop()
    entered = asyncio.Event()
    box["entered"] = lambda: loop.call_soon_threadsafe(entered.set)
    async with LoopLag() as lag:
        computing = asyncio.create_task(request(app, cpu_url))
        try:
            async with asyncio.timeout(20):
                await entered.wait()
            other = await request(app, "/ck09/pong/")
            answered = time.perf_counter() if other.status == 200 else None
        finally:
            response = await computing
    return response, answered, lag.gaps


@chapter.exercise(
    "cpu-offload", "Take a CPU-bound computation off the event loop",
    needs=["cpu_report"],
    hints=[
        "burn(n) never awaits anything: while it runs, the event loop cannot run anything else. It has to run "
        "somewhere else: on a thread.",
        "`await asyncio.to_thread(burn, n)` runs it on a worker thread and gives back its result; the loop serves "
        "other requests meanwhile.",
        "n = int(request.GET[\"n\"]); cpu = await asyncio.to_thread(burn, n); return JsonResponse({\"cpu\": cpu})",
    ],
    timeout=30,
)
async def check_cpu_offload(ctx, cpu_report):
    from django.http import HttpResponseBase
    from django.urls import path, resolve

    from ..asgi import fresh_handler
    from ..routes import mounted

    require_callable(cpu_report, "cpu_report")
    job = 0.3                                  # CPU seconds per request, whatever this machine's speed
    rounds = await asyncio.to_thread(_rounds_for, job)
    what = "`GET /ck09/report/?n=...` and another request beside it"
    app = fresh_handler()
    box = {}
    with mounted(path("ck09/report/", _probe(cpu_report, box)), path("ck09/pong/", _pong)):
        resolve("/ck09/report/")
        cpu_before = time.process_time()
        response, answered, gaps = await ctx.call(_cpu_and_another, app, f"/ck09/report/?n={rounds}", box,
                                                   what=what)
        cpu_spent = time.process_time() - cpu_before
    if "error" in box:
        raise chapter.explain(box["error"], "`cpu_report`")
    if not isinstance(box.get("response"), HttpResponseBase):
        got = box.get("response")
        raise Fail("`cpu_report` to return a JsonResponse", f"{type(got).__name__}: {got!r}", NOT_A_RESPONSE)
    ctx.expect(response.status == 200, expected="status 200", got=f"status {response.status}",
               nudge=NOT_A_RESPONSE)
    try:
        reported = json.loads(response.body)["cpu"]
    except (ValueError, KeyError, TypeError):
        raise Fail('JSON {"cpu": seconds}', response.body[:80].decode(errors="replace"), WRONG_CPU) from None
    # burn(n) reports its CPU time; the process must really have spent it (a made-up figure does not count).
    if isinstance(reported, bool) or not isinstance(reported, (int, float)) \
            or not 0.4 * job <= reported <= 5 * job or cpu_spent < 0.4 * job:
        raise Fail(f"about {job:g} s of CPU reported (burn with n from the query string)", f"cpu: {reported!r}",
                   WRONG_CPU)
    if answered is not None and answered < box["returned"]:
        return ("Another request was answered while the computation ran: it ran on a thread, and the event "
                "loop kept serving. (It still shares the GIL: for more CPU throughput, add processes.)")
    # The other request had to wait for the computation: the view held the loop, or the machine is busy.
    try:
        ctx.judge_loop(gaps, 0.5 * job, what)
    except Fail as fail:
        if fail.kind is Kind.BLOCKED:
            raise Fail("a request sent while the computation ran to be answered before it ended", fail.got,
                       STILL_BLOCKS, kind=Kind.BLOCKED) from None
        raise
    raise Busy("a request sent while the computation ran to be answered before it ended")
