"""Wrong and right answers for chapter 03's exercises, with the nudge each must get.

The set-up namespace (from the solution notebook) has asyncio, json, aiohttp, JsonResponse,
StreamingHttpResponse, View, City, SERVICES, UpstreamError and fetch; an answer imports the rest.
"""
import string

import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "03"

SUMMARY = [
    # --- cheap rejections first: the wrong kind of object, blocking, missing awaits ---
    Case("trip-summary", "ch03.W012", """
class trip_summary(View):
    async def get(self, request, slug):
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
        return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "a class-based view where a function was shown"),
    Case("trip-summary", "ck.W005", """
from trips.upstream import fetch_sync
def trip_summary(request, slug):
    return JsonResponse({"city": slug, **{s: fetch_sync(s, slug) for s in SERVICES}})
""", "a sync view"),
    Case("trip-summary", "ck.W003", """
from trips.upstream import fetch_sync
async def trip_summary(request, slug):
    answers = {s: fetch_sync(s, slug) for s in SERVICES}
    return JsonResponse({"city": slug, **answers})
""", "fetch_sync inside an async view"),
    # Two true causes: it blocks the loop, and its TimeoutError escapes; under load either is found first.
    Case("trip-summary", "ck.W003|ch03.W021", """
import time
async def trip_summary(request, slug):
    time.sleep(0.1)   # be gentle with the upstream
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "time.sleep in an async view"),
    Case("trip-summary", "ck.E004", """
async def trip_summary(request, slug):
    known = City.objects.filter(slug=slug).exists()
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, "known": known, **dict(zip(SERVICES, answers))})
""", "a sync ORM call in an async view"),
    Case("trip-summary", "ck.W002", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "gather not awaited"),
    Case("trip-summary", "ck.W002", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        return JsonResponse({"city": slug, **{s: fetch(session, s, slug) for s in SERVICES}})
""", "the fetches not awaited, handed to JsonResponse"),
    Case("trip-summary", "ck.W001", """
async def summary(slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})

async def trip_summary(request, slug):
    return summary(slug)
""", "returns the inner coroutine"),
    Case("trip-summary", "ch03.W001", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return {"city": slug, **dict(zip(SERVICES, answers))}
""", "returns a dict"),
    Case("trip-summary", "ch03.W002", """
from django.http import HttpResponse
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return HttpResponse(str({"city": slug, **dict(zip(SERVICES, answers))}))
""", "the dict's repr in an HttpResponse"),
    # --- the data ---
    Case("trip-summary", "ch03.W004", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            answers = await asyncio.gather(*(fetch(session, s, "porto") for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "the example city, hard-coded"),
    Case("trip-summary", "ch03.W005", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            flights, weather, hotels = await asyncio.gather(
                fetch(session, "weather", slug), fetch(session, "flights", slug), fetch(session, "hotels", slug))
    return JsonResponse({"city": slug, "weather": weather, "flights": flights, "hotels": hotels})
""", "results unpacked in another order"),
    Case("trip-summary", "ch03.W003", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, "services": answers})
""", "a list instead of a key per service"),
    Case("trip-summary", "ch03.W006", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        weather, flights, hotels = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, "weather": weather["summary"], "flights": flights["cheapest_eur"],
                         "hotels": hotels["from_eur"]})
""", "one field of each answer instead of the answer"),
    Case("trip-summary", "ch03.W007", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
        if not answers[0]:
            answers[0] = await fetch(session, "weather", slug)
        check = await fetch(session, "weather", slug)   # make sure it is fresh
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "weather fetched twice"),
    Case("trip-summary", "ch03.W013", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))}, status=201)
""", "status 201"),
    # --- concurrency ---
    Case("trip-summary", "ch03.W008", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        weather = await fetch(session, "weather", slug)
        flights = await fetch(session, "flights", slug)
        hotels = await fetch(session, "hotels", slug)
    return JsonResponse({"city": slug, "weather": weather, "flights": flights, "hotels": hotels})
""", "three awaits in turn"),
    Case("trip-summary", "ch03.W009", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        weather, flights = await asyncio.gather(fetch(session, "weather", slug), fetch(session, "flights", slug))
        hotels = await fetch(session, "hotels", slug)
    return JsonResponse({"city": slug, "weather": weather, "flights": flights, "hotels": hotels})
""", "two gathered, the third after"),
    Case("trip-summary", "ch03.W011", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        tasks = {s: asyncio.ensure_future(fetch(session, s, slug)) for s in SERVICES}
        await asyncio.sleep(1.0)
        if not all(t.done() for t in tasks.values()):
            for t in tasks.values():
                t.cancel()
            return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **{s: t.result() for s, t in tasks.items()}})
""", "ensure_future, then a sleep for the budget"),
    # --- the budget ---
    Case("trip-summary", "ch03.W020", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "no budget at all"),
    Case("trip-summary", "ch03.W021", """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "the TimeoutError not caught"),
    Case("trip-summary", "ch03.W026", """
async def trip_summary(request, slug):
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(1.0):
                answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
        return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
    except Exception:
        return JsonResponse({"city": slug})
""", "except Exception: a 200 with nothing in it"),
    Case("trip-summary", "ch03.W023", """
async def trip_summary(request, slug):
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(0.6):
                answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    except TimeoutError:
        return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "a budget shorter than asked"),
    Case("trip-summary", "ch03.W024", """
async def trip_summary(request, slug):
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(2.0):
                answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    except TimeoutError:
        return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "a budget longer than asked"),
    Case("trip-summary", "ch03.W025", """
async def trip_summary(request, slug):
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(1.0):
                answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES))
    except TimeoutError:
        return JsonResponse({"error": "timeout"}, status=408)
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "another status and body for the timeout"),
    Case("trip-summary", "ch03.W010", """
async def trip_summary(request, slug):
    session = aiohttp.ClientSession()
    tasks = [asyncio.ensure_future(fetch(session, s, slug)) for s in SERVICES]
    done, pending = await asyncio.wait(tasks, timeout=1.0)
    if pending:
        return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    await session.close()
    return JsonResponse({"city": slug, **{s: t.result() for s, t in zip(SERVICES, tasks)}})
""", "asyncio.wait with a timeout, the pending call never cancelled"),
    Case("trip-summary", "ch03.W010", """
from trips.upstream import fetch_sync
async def trip_summary(request, slug):
    loop = asyncio.get_running_loop()
    calls = [loop.run_in_executor(None, fetch_sync, s, slug) for s in SERVICES]
    try:
        answers = await asyncio.wait_for(asyncio.gather(*calls), 1.0)
    except TimeoutError:
        return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "fetch_sync in threads: the hanging call runs on after the 504"),
    # --- right answers written other ways ---
    Case("trip-summary", PASS, """
async def trip_summary(request, slug):
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(1.0), asyncio.TaskGroup() as tg:
            tasks = {s: tg.create_task(fetch(session, s, slug)) for s in SERVICES}
    except TimeoutError:
        return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **{s: t.result() for s, t in tasks.items()}})
""", "a TaskGroup inside the timeout"),
    Case("trip-summary", PASS, """
async def trip_summary(request, slug):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(fetch(session, s, slug)) for s in SERVICES]
        done, pending = await asyncio.wait(tasks, timeout=1.0)
        for task in pending:
            task.cancel()
        if pending:
            return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **{s: t.result() for s, t in zip(SERVICES, tasks)}})
""", "asyncio.wait, cancelling what is pending"),
    Case("trip-summary", PASS, """
class TripSummary(View):
    async def get(self, request, slug):
        async with aiohttp.ClientSession() as session:
            try:
                weather, flights, hotels = await asyncio.wait_for(asyncio.gather(
                    fetch(session, "weather", slug), fetch(session, "flights", slug),
                    fetch(session, "hotels", slug)), timeout=1.0)
            except asyncio.TimeoutError:
                return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
        return JsonResponse({"weather": weather, "city": slug, "hotels": hotels, "flights": flights})

trip_summary = TripSummary.as_view()
""", "a class-based view's as_view(), wait_for around gather"),
    Case("trip-summary", PASS, """
async def trip_summary(request, slug):
    async def one(session, service):
        async with asyncio.timeout(1.0):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        try:
            answers = await asyncio.gather(*(one(session, s) for s in SERVICES))
        except TimeoutError:
            return JsonResponse({"city": slug, "error": "upstream timeout"}, status=504)
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers))})
""", "a 1 s timeout per call, all started together (the same 1 s)"),
]

GRACEFUL = [
    Case("graceful", "ch03.W030", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES))
    return JsonResponse({"city": slug, **dict(zip(SERVICES, answers)), "missing": [], "status": "ok"})
""", "gather without return_exceptions"),
    Case("graceful", "ch03.W030", """
async def city_panel(request, slug):
    async with aiohttp.ClientSession() as session:
        async def flights():
            try:
                async with asyncio.timeout(0.5):
                    return await fetch(session, "flights", slug)
            except (TimeoutError, UpstreamError):
                return None
        weather, flights, hotels = await asyncio.gather(
            fetch(session, "weather", slug), flights(), fetch(session, "hotels", slug))
    data = {"city": slug, "weather": weather, "hotels": hotels}
    if flights is None:
        return JsonResponse({**data, "missing": ["flights"], "status": "partial"})
    return JsonResponse({**data, "flights": flights, "missing": [], "status": "ok"})
""", "only the example's failing service (flights) guarded"),
    Case("graceful", "ch03.W035", """
async def city_panel(request, slug):
    try:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(fetch(session, s, slug, timeout=0.5) for s in SERVICES))
        return JsonResponse({"city": slug, **dict(zip(SERVICES, answers)), "missing": [], "status": "ok"})
    except Exception:
        return JsonResponse({"city": slug, "missing": [], "status": "ok"}, status=200)
""", "except Exception: every failure looks like success"),
    Case("graceful", "ch03.W037", """
async def city_panel(request, slug):
    data, missing = {"city": slug}, []
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(0.5):
                answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES), return_exceptions=True)
        except TimeoutError:
            answers = [TimeoutError()] * len(SERVICES)
    for service, answer in zip(SERVICES, answers):
        if isinstance(answer, Exception):
            missing.append(service)
        else:
            data[service] = answer
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": sorted(missing), "status": status},
                        status=503 if status == "failed" else 200)
""", "one 0.5 s budget for the whole gather"),
    Case("graceful", "ch03.W038", """
async def city_panel(request, slug):
    data, missing = {"city": slug}, []
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES), return_exceptions=True)
    for service, answer in zip(SERVICES, answers):
        if isinstance(answer, Exception):
            missing.append(service)
        else:
            data[service] = answer
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": sorted(missing), "status": status},
                        status=503 if status == "failed" else 200)
""", "no time limit per service"),
    Case("graceful", "ch03.W032", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
    data = {"city": slug}
    missing = [s for s, a in zip(SERVICES, answers) if isinstance(a, Exception)]
    data.update({s: a for s, a in zip(SERVICES, answers) if not isinstance(a, Exception)})
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": missing, "status": status},
                        status=503 if status == "failed" else 200)
""", "missing in the order of SERVICES, not sorted"),
    Case("graceful", "ch03.W035", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
    data = {"city": slug}
    missing = sorted(s for s, a in zip(SERVICES, answers) if isinstance(a, Exception))
    data.update({s: a for s, a in zip(SERVICES, answers) if not isinstance(a, Exception)})
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": missing, "status": status})
""", "always HTTP 200, even when every service failed"),
    Case("graceful", "ch03.W033", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
    data = {"city": slug}
    missing = sorted(s for s, a in zip(SERVICES, answers) if isinstance(a, Exception))
    data.update({s: a for s, a in zip(SERVICES, answers) if not isinstance(a, Exception)})
    status = "partial" if missing else "ok"
    return JsonResponse({**data, "missing": missing, "status": status}, status=503 if len(missing) == 3 else 200)
""", "'partial' even when everything failed"),
    Case("graceful", "ch03.W031", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
    data = {"city": slug}
    data.update({s: a for s, a in zip(SERVICES, answers) if not isinstance(a, Exception)})
    missing = sorted(s for s in SERVICES if s in data)   # the services on the page
    status = "ok" if len(missing) == 3 else "failed" if not missing else "partial"
    return JsonResponse({**data, "missing": missing, "status": status},
                        status=503 if status == "failed" else 200)
""", "'missing' lists the services that answered"),
    Case("graceful", "ch03.W034", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
    data = {"city": slug}
    missing = sorted(s for s, a in zip(SERVICES, answers) if isinstance(a, Exception))
    data.update({s: a for s, a in zip(SERVICES, answers) if not isinstance(a, Exception)})
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": missing, "status": status}, status=206 if missing else 200)
""", "206 for a partial page"),
    Case("graceful", "ch03.W036", """
async def city_panel(request, slug):
    async def one(session, service):
        try:
            async with asyncio.timeout(0.5):
                return await fetch(session, service, slug)
        except (TimeoutError, UpstreamError):
            return None
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES))
    data = {"city": slug, **dict(zip(SERVICES, answers))}
    missing = sorted(s for s, a in zip(SERVICES, answers) if a is None)
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": missing, "status": status},
                        status=503 if status == "failed" else 200)
""", "None under a missing service's key"),
    Case("graceful", "ch03.W039", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.05):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
    data = {"city": slug}
    missing = sorted(s for s, a in zip(SERVICES, answers) if isinstance(a, Exception))
    data.update({s: a for s, a in zip(SERVICES, answers) if not isinstance(a, Exception)})
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": missing, "status": status},
                        status=503 if status == "failed" else 200)
""", "a budget far shorter than 0.5 s per service"),
    Case("graceful", "ch03.W008", """
async def city_panel(request, slug):
    data, missing = {"city": slug}, []
    async with aiohttp.ClientSession() as session:
        for service in SERVICES:
            try:
                async with asyncio.timeout(0.5):
                    data[service] = await fetch(session, service, slug)
            except (TimeoutError, UpstreamError):
                missing.append(service)
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": sorted(missing), "status": status},
                        status=503 if status == "failed" else 200)
""", "one service after another, each with its budget"),
    Case("graceful", "ch03.W010", """
async def city_panel(request, slug):
    session = aiohttp.ClientSession()
    tasks = {s: asyncio.create_task(fetch(session, s, slug)) for s in SERVICES}
    done, pending = await asyncio.wait(tasks.values(), timeout=0.5)
    data, missing = {"city": slug}, []
    for service, task in tasks.items():
        if task in done and task.exception() is None:
            data[service] = task.result()
        else:
            missing.append(service)
    if not pending:
        await session.close()
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": sorted(missing), "status": status},
                        status=503 if status == "failed" else 200)
""", "asyncio.wait with a timeout, the hanging call never cancelled"),
    Case("graceful", "ck.W003", """
import time
from trips.upstream import fetch_sync
async def city_panel(request, slug):
    data, missing = {"city": slug}, []
    for service in SERVICES:
        try:
            data[service] = fetch_sync(service, slug, timeout=0.5)
        except UpstreamError:
            missing.append(service)
    status = "ok" if not missing else "failed" if len(missing) == 3 else "partial"
    return JsonResponse({**data, "missing": sorted(missing), "status": status},
                        status=503 if status == "failed" else 200)
""", "fetch_sync with a timeout in an async view"),
    Case("graceful", "ck.W002", """
async def city_panel(request, slug):
    async def one(session, service):
        async with asyncio.timeout(0.5):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = asyncio.gather(*(one(session, s) for s in SERVICES), return_exceptions=True)
        missing = sorted(s for s, a in zip(SERVICES, answers) if isinstance(a, Exception))
    return JsonResponse({"city": slug, "missing": missing, "status": "ok"})
""", "gather not awaited"),
    # --- right answers written other ways ---
    Case("graceful", PASS, """
async def city_panel(request, slug):
    async def one(session, service):
        try:
            async with asyncio.timeout(0.5):
                return service, await fetch(session, service, slug)
        except (TimeoutError, UpstreamError):
            return service, None
    async with aiohttp.ClientSession() as session:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(session, s)) for s in SERVICES]
    data = {"city": slug}
    data.update({s: a for s, a in (t.result() for t in tasks) if a is not None})
    missing = sorted(s for s in SERVICES if s not in data)
    status = {0: "ok", 3: "failed"}.get(len(missing), "partial")
    return JsonResponse({**data, "missing": missing, "status": status},
                        status=503 if status == "failed" else 200)
""", "a TaskGroup, each call catching its own failure"),
    Case("graceful", PASS, """
async def city_panel(request, slug):
    async with aiohttp.ClientSession() as session:
        tasks = {asyncio.create_task(fetch(session, s, slug)): s for s in SERVICES}
        done, pending = await asyncio.wait(tasks, timeout=0.5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    page = {"city": slug}
    missing = []
    for task, service in tasks.items():
        if task in done and task.exception() is None:
            page[service] = task.result()
        else:
            missing.append(service)
    missing.sort()
    status = "ok" if not missing else ("failed" if len(missing) == len(SERVICES) else "partial")
    return JsonResponse(page | {"missing": missing, "status": status}, status=503 if status == "failed" else 200)
""", "asyncio.wait with a timeout, cancelling the pending calls"),
    Case("graceful", PASS, """
async def city_panel(request, slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug, timeout=0.5) for s in SERVICES),
                                       return_exceptions=True)
    ok = {s: a for s, a in zip(SERVICES, answers) if not isinstance(a, BaseException)}
    missing = sorted(set(SERVICES) - set(ok))
    status = "failed" if not ok else "partial" if missing else "ok"
    return JsonResponse({"city": slug, **ok, "missing": missing, "status": status},
                        status=503 if status == "failed" else 200)
""", "fetch's own per-call timeout of 0.5 s"),
]

LAUNCH = [
    Case("launch-events", "ck.W005", """
def launch_events(request):
    n = int(request.GET.get("n", 3))
    def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "a sync view"),
    Case("launch-events", "ck.W003", """
import time
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            time.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "time.sleep in the async generator"),
    Case("launch-events", "ch03.W042", """
import time
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            time.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "a sync generator with time.sleep"),
    Case("launch-events", "ch03.W042", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    events = [f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n" for k in range(n, 0, -1)]
    return StreamingHttpResponse(events + ["event: liftoff\\ndata: {}\\n\\n"], content_type="text/event-stream")
""", "StreamingHttpResponse over a list"),
    Case("launch-events", "ch03.W041", """
from django.http import HttpResponse
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    body = ""
    for k in range(n, 0, -1):
        body += f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
        await asyncio.sleep(0.1)
    body += "event: liftoff\\ndata: {}\\n\\n"
    return HttpResponse(body, content_type="text/event-stream")
""", "every event buffered in one HttpResponse"),
    Case("launch-events", "ch03.W050", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "asyncio.sleep not awaited"),
    Case("launch-events", "ch03.W051", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            await asyncio.sleep(0.1)
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "the pause before each tick, not after"),
    Case("launch-events", "ch03.W051", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            await asyncio.sleep(0.1)
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
        await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "a pause before every event, the first too"),
    Case("launch-events", "ch03.W052", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.5)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "pauses far longer than 0.1 s"),
    Case("launch-events", "ch03.W045", """
async def launch_events(request):
    async def ticks():
        for k in (3, 2, 1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "n fixed at the example's 3"),
    Case("launch-events", "ch03.W046", """
async def launch_events(request):
    n = int(request.GET["n"])
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "no default when ?n= is missing"),
    Case("launch-events", "ch03.W046", """
async def launch_events(request):
    n = int(request.GET.get("n", 10))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "another default than 3"),
    Case("launch-events", "ch03.W047", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n - 1, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "one tick too few"),
    Case("launch-events", "ch03.W047", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(1, n + 1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "counting up"),
    Case("launch-events", "ch03.W047", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, -1, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "down to 0 (one tick too many)"),
    Case("launch-events", "ch03.W043", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "no blank line after each event"),
    Case("launch-events", "ch03.W044", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "liftoff without a data line"),
    Case("launch-events", "ch03.W048", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "no liftoff"),
    Case("launch-events", "ch03.W054", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream", status=202)
""", "status 202"),
    Case("launch-events", "ch03.W049", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {k}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "the bare number as data"),
    Case("launch-events", "ch03.W053", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield f"event: liftoff\\ndata: {json.dumps({'done', True})}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "json.dumps of a set inside the generator"),
    Case("launch-events", "ch03.W053", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield b"event: tick\\n" + f"data: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield b"event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks(), content_type="text/event-stream")
""", "bytes + str inside the generator"),
    Case("launch-events", "ch03.W040", """
async def launch_events(request):
    n = int(request.GET.get("n", 3))
    async def ticks():
        for k in range(n, 0, -1):
            yield f"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n"
            await asyncio.sleep(0.1)
        yield "event: liftoff\\ndata: {}\\n\\n"
    return StreamingHttpResponse(ticks())
""", "no text/event-stream content type"),
    # --- right answers written other ways ---
    Case("launch-events", PASS, """
async def countdown(n):
    yield ": keep-alive\\n\\n"
    yield "retry: 1000\\n\\n"
    for k in range(n, 0, -1):
        lines = "".join(f"data:{line}\\r\\n" for line in json.dumps({"remaining": k}, indent=1).splitlines())
        yield f"id: {k}\\r\\nevent: tick\\r\\n{lines}\\r\\n".encode()
        await asyncio.sleep(0.1)
    yield b"event: liftoff\\r\\ndata: {}\\r\\n\\r\\n"

async def launch_events(request):
    n = int(request.GET.get("n") or 3)
    return StreamingHttpResponse(countdown(n), headers={"Content-Type": "text/event-stream; charset=utf-8"})
""", "comments, retry and id fields, CRLF, multi-line JSON, bytes"),
    Case("launch-events", PASS, """
class Launch(View):
    async def get(self, request):
        n = request.GET.get("n", "3")
        async def events():
            for k in reversed(range(1, int(n) + 1)):
                yield "event: tick\\n"
                yield "data: " + json.dumps({"remaining": k}) + "\\n\\n"
                await asyncio.sleep(0.1)
            yield "event: liftoff\\n" "data: {}\\n" "\\n"
        return StreamingHttpResponse(events(), content_type="text/event-stream")

launch_events = Launch.as_view()
""", "a class-based view's as_view(); each event in two pieces"),
]

CARD = [
    Case("city-card", "ch03.W060", """
async def CityCard(request, slug):
    city = await City.objects.filter(slug=slug).afirst()
    if city is None:
        return JsonResponse({"error": "no such city"}, status=404)
    async with aiohttp.ClientSession() as session:
        weather = await fetch(session, "weather", slug)
    return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "a function view where a class was asked"),
    Case("city-card", "ch03.W063", """
from trips.upstream import fetch_sync
class CityCard(View):
    def get(self, request, slug):
        city = City.objects.filter(slug=slug).first()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        return JsonResponse({"city": city.name, "country": city.country, "weather": fetch_sync("weather", slug)})
""", "a sync def get"),
    Case("city-card", "ch03.W062", """
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})

    def post(self, request, slug):
        return JsonResponse({"error": "read only"}, status=405)
""", "an async get beside a sync post"),
    Case("city-card", "ch03.W061", """
class CityCard:
    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "a plain class, not a View"),
    Case("city-card", "ch03.W064", """
class CityCard(View):
    async def city(self, request, slug):
        return JsonResponse({"city": slug})
""", "a handler not called get"),
    Case("city-card", "ch03.W071", """
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.filter(name=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "looked up by name instead of slug"),
    Case("city-card", "ck.E004", """
class CityCard(View):
    async def get(self, request, slug):
        try:
            city = City.objects.get(slug=slug)
        except City.DoesNotExist:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "the sync ORM inside async get"),
    Case("city-card", "ck.W003", """
from trips.upstream import fetch_sync
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        return JsonResponse({"city": city.name, "country": city.country, "weather": fetch_sync("weather", slug)})
""", "fetch_sync inside async get"),
    Case("city-card", "ck.W002", """
class CityCard(View):
    async def get(self, request, slug):
        city = City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "afirst() not awaited"),
    Case("city-card", "ch03.W066", """
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.aget(slug=slug)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "aget without handling an unknown slug"),
    Case("city-card", "ch03.W065", """
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"})
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "an error message with status 200"),
    Case("city-card", "ch03.W068", """
class CityCard(View):
    async def get(self, request, slug):
        if not await City.objects.filter(slug=slug).aexists():
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        countries = {"kyoto": "Japan", "lisbon": "Portugal", "oslo": "Norway", "porto": "Portugal"}
        return JsonResponse({"city": slug.title(), "country": countries.get(slug, ""), "weather": weather})
""", "name and country made up from the slug"),
    Case("city-card", "ch03.W069", """
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", "kyoto")
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})
""", "the example city's weather"),
    Case("city-card", "ch03.W070", """
class CityCard(View):
    city = None
    async def get(self, request, slug):
        CityCard.city = await City.objects.filter(slug=slug).afirst()
        if CityCard.city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": CityCard.city.name, "country": CityCard.city.country, "weather": weather})
""", "the city kept on the class"),
    Case("city-card", "ch03.W067", """
class CityCard(View):
    async def get(self, request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": "no such city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": city.name, "country": city.country, "weather": weather})

    async def post(self, request, slug):
        return await self.get(request, slug)
""", "post answered like get"),
    # --- right answers written other ways ---
    Case("city-card", PASS, """
from django.shortcuts import aget_object_or_404
class CityCard(View):
    async def get(self, request, slug):
        city = await aget_object_or_404(City, slug=slug)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", city.slug)
        return JsonResponse({"weather": weather, "country": city.country, "city": city.name})
""", "aget_object_or_404 (an Http404)"),
    Case("city-card", PASS, """
from asgiref.sync import sync_to_async
class CityCard(View):
    http_method_names = ["get"]
    async def get(self, request, slug):
        try:
            city = await sync_to_async(City.objects.get)(slug=slug)
        except City.DoesNotExist:
            return JsonResponse({"error": "unknown city"}, status=404)
        async with aiohttp.ClientSession() as session:
            return JsonResponse({"city": city.name, "country": city.country,
                                 "weather": await fetch(session, "weather", slug)})
""", "the sync get through sync_to_async"),
    Case("city-card", PASS, """
class CityCard(View):
    async def get(self, request, slug):
        found = [c async for c in City.objects.filter(slug=slug)]
        if not found:
            return JsonResponse({"error": "unknown city"}, status=404)
        async with aiohttp.ClientSession() as session:
            weather = await fetch(session, "weather", slug)
        return JsonResponse({"city": found[0].name, "country": found[0].country, "weather": weather})
""", "async for over the queryset"),
]

CASES = SUMMARY + GRACEFUL + LAUNCH + CARD


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem


def test_nudge_texts_read_as_written():
    """A nudge's text is shown as it is, or after .format(): no doubled braces left either way."""
    from coursekit.checks import ch03  # noqa: F401  (registers the chapter's nudges)
    from coursekit.exercises import NUDGES

    for nudge in (n for key, n in NUDGES.items() if key.startswith("ch03.")):
        if "{{" not in nudge.text and "}}" not in nudge.text:
            continue  # shown as written (a literal brace is fine)
        fields = [name for _, name, _, _ in string.Formatter().parse(nudge.text) if name]
        assert fields, f"{nudge.id} has doubled braces but nothing to fill in"
        text = nudge.format(**{name: "X" for name in fields}).text
        assert "{{" not in text and "}}" not in text, nudge.id
