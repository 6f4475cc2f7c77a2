"""Tripboard's async views (chapter 03): the same pages as views.py, done concurrently.

Served under ASGI (uvicorn, daphne, AsyncClient) each view runs on the server's event
loop. Under WSGI Django still runs them, in a one-off event loop per request: they work,
but an async streaming response is collected before anything is sent, and tasks the
view leaves behind are cancelled when that loop closes.
"""
import asyncio
import json
import threading
import time

import aiohttp
from django.http import JsonResponse, StreamingHttpResponse
from django.views import View
from django.views.decorators.http import require_GET

from . import slowdb, upstream
from .models import City

# The dashboard's budget for all upstream calls together, in seconds.
DASHBOARD_BUDGET = 1.0


async def ping(request):
    """The smallest async view: where did it run? (Under WSGI: a new loop on a new thread each time.)"""
    return JsonResponse({"status": "ok", "loop": id(asyncio.get_running_loop()),
                         "thread": threading.current_thread().name})


def ping_sync(request):
    """The same page as a sync view, for comparison. (Under ASGI: on a worker thread, no loop.)"""
    try:
        loop = id(asyncio.get_running_loop())
    except RuntimeError:
        loop = None
    return JsonResponse({"status": "ok", "loop": loop, "thread": threading.current_thread().name})


# One aiohttp ClientSession per event loop, reused by every request that runs on that loop
# (under ASGI: all of them). A session is bound to the loop it was created on.
_sessions = {}


def shared_session():
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = _sessions[loop] = aiohttp.ClientSession()
    return session


async def close_shared_session():
    """Close this loop's shared session (at server shutdown; in a notebook, before it ends)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


async def dashboard(request, slug):
    """Three upstream services at once: the page takes about the slowest call, not the sum."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(upstream.fetch(session, s, slug) for s in upstream.SERVICES))
    data = dict(zip(upstream.SERVICES, answers))
    data["city"] = slug
    data["elapsed"] = round(time.perf_counter() - started, 3)
    return JsonResponse(data)


async def shared_dashboard(request, slug):
    """The dashboard on the shared session: its connections to the services are kept and reused."""
    started = time.perf_counter()
    session = shared_session()
    answers = await asyncio.gather(*(upstream.fetch(session, s, slug) for s in upstream.SERVICES))
    data = dict(zip(upstream.SERVICES, answers))
    data["city"] = slug
    data["elapsed"] = round(time.perf_counter() - started, 3)
    return JsonResponse(data)


async def _within(budget, coro):
    async with asyncio.timeout(budget):
        return await coro


@require_GET
async def resilient_dashboard(request, slug):
    """Partial results instead of a 500: each service gets the time budget; failures are reported.

    status is "ok" when every service answered, "partial" when some did, and the
    response is 503 only when none did.
    """
    budget = float(request.GET.get("budget", DASHBOARD_BUDGET))
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(_within(budget, upstream.fetch(session, s, slug)) for s in upstream.SERVICES),
            return_exceptions=True,
        )
    data, errors = {"city": slug}, {}
    for service, answer in zip(upstream.SERVICES, answers):
        if isinstance(answer, TimeoutError):
            errors[service] = f"no answer within {budget:g} s"
        elif isinstance(answer, Exception):
            errors[service] = str(answer)
        else:
            data[service] = answer
    data["errors"] = errors
    data["status"] = "ok" if not errors else "partial" if len(errors) < len(upstream.SERVICES) else "failed"
    data["elapsed"] = round(time.perf_counter() - started, 3)
    return JsonResponse(data, status=503 if data["status"] == "failed" else 200)


async def city_overview(request, slug):
    """An upstream call and a database query in one gather(): the query runs on a worker thread
    (the ORM's a-methods are sync_to_async), the HTTP call on the loop, both at once.

    The query is slowdb's stand-in for a slow one (`?query=` seconds inside the database); it
    reports when it ran, so the overlap can be drawn. Needs slowdb.install() (chapters 03, 05).
    """
    seconds = min(float(request.GET.get("query", 0.2)), 2.0)
    async with aiohttp.ClientSession() as session:
        weather, query = await asyncio.gather(upstream.fetch(session, "weather", slug), slowdb.anap(seconds))
    return JsonResponse({"city": slug, "weather": weather, "query": query})


# What became of each background task started by weather_with_audit: done, cancelled or failed.
background_log = []
_background_tasks = set()  # the event loop keeps only weak references to tasks: keep strong ones


async def _audit(slug):
    try:
        async with aiohttp.ClientSession() as session:
            await upstream.fetch(session, "audit", slug)
        background_log.append(f"audit {slug}: done")
    except asyncio.CancelledError:
        background_log.append(f"audit {slug}: cancelled")
        raise
    except upstream.UpstreamError as exc:
        background_log.append(f"audit {slug}: failed ({exc})")


async def weather_with_audit(request, slug):
    """Fire and forget: asyncio.create_task reports the visit to the audit service; the page does
    not wait for it. Under ASGI the task runs on after the response; under WSGI the request's
    event loop closes when the view returns, and asyncio.run cancels the task."""
    task = asyncio.create_task(_audit(slug))
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)
    async with aiohttp.ClientSession() as session:
        weather = await upstream.fetch(session, "weather", slug)
    return JsonResponse(weather)


class CityWeatherView(View):
    """An async class-based view: every handler is `async def` (mixing raises ImproperlyConfigured)."""

    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": f"no city {slug!r}"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await upstream.fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "weather": weather})


async def _countdown(n, pause):
    for i in range(n, 0, -1):
        yield f"{i}\n"
        await asyncio.sleep(pause)
    yield "lift-off\n"


async def countdown(request):
    """StreamingHttpResponse over an async generator: each line is sent as soon as it exists."""
    n = min(int(request.GET.get("n", 3)), 20)
    pause = min(float(request.GET.get("pause", 0.1)), 2.0)
    return StreamingHttpResponse(_countdown(n, pause), content_type="text/plain")


def _countdown_sync(n, pause):
    for i in range(n, 0, -1):
        yield f"{i}\n"
        time.sleep(pause)
    yield "lift-off\n"


def countdown_sync(request):
    """The same countdown from a sync view and a plain generator: a WSGI server sends each line as
    it is yielded; under ASGI Django consumes the whole generator first (with a warning)."""
    n = min(int(request.GET.get("n", 3)), 20)
    pause = min(float(request.GET.get("pause", 0.1)), 2.0)
    return StreamingHttpResponse(_countdown_sync(n, pause), content_type="text/plain")


async def _weather_events(slug, count):
    async with aiohttp.ClientSession() as session:
        for n in range(1, count + 1):
            try:
                data = await upstream.fetch(session, "weather", slug)
                yield f"id: {n}\nevent: weather\ndata: {json.dumps(data)}\n\n"
            except upstream.UpstreamError as exc:
                yield f"id: {n}\nevent: error\ndata: {json.dumps({'error': str(exc)})}\n\n"


async def weather_stream(request, slug):
    """Server-sent events: `count` weather readings, one event per upstream answer."""
    count = min(int(request.GET.get("count", 3)), 50)
    response = StreamingHttpResponse(_weather_events(slug, count), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response


