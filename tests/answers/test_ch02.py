"""Wrong and right answers for chapter 02's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "02"

REPORT = [
    Case("city-report", "ck.W005", """
def city_report(slug):
    return {}
""", "a plain def"),
    Case("city-report", "ch02.W005", """
async def city_report(slug):
    report = {}
    async with aiohttp.ClientSession() as session:
        for service in FIVE:
            report[service] = await fetch(session, service, slug)
    return report
""", "awaits in a loop, no deadline"),
    Case("city-report", "ch02.W005", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            weather = await fetch(session, "weather", slug)
            flights = await fetch(session, "flights", slug)
            hotels = await fetch(session, "hotels", slug)
            events = await fetch(session, "events", slug)
            trains = await fetch(session, "trains", slug)
    return {"weather": weather, "flights": flights, "hotels": hotels, "events": events, "trains": trains}
""", "five awaits in a row under the deadline"),
    Case("city-report", "ck.W003", """
from trips import upstream
async def city_report(slug):
    async with asyncio.timeout(1.0):
        return {service: upstream.fetch_sync(service, slug) for service in FIVE}
""", "the blocking client (urllib) inside async def"),
    Case("city-report", "ck.W001", """
async def city_report(slug):
    session = aiohttp.ClientSession()
    return {service: fetch(session, service, slug) for service in FIVE}
""", "coroutines left in the dict"),
    Case("city-report", "ck.W002", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            answers = asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
        return dict(zip(FIVE, answers))
""", "gather not awaited"),
    Case("city-report", "ch02.W002", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            answers = await asyncio.gather(*(fetch(session, s, "porto") for s in FIVE))
    return dict(zip(FIVE, answers))
""", "the example city, hard-coded"),
    Case("city-report", "ch02.W003", """
async def city_report(slug):
    answers = []
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            for next_one in asyncio.as_completed([fetch(session, s, slug) for s in FIVE]):
                answers.append(await next_one)
    return dict(zip(FIVE, answers))
""", "as_completed, paired in finishing order"),
    Case("city-report", "ch02.W007", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.ensure_future(fetch(session, s, slug)) for s in FIVE]
        await asyncio.sleep(1.0)          # they should all be back by now
        return {s: t.result() for s, t in zip(FIVE, tasks)}
""", "ensure_future, then a sleep instead of awaiting"),
    Case("city-report", "ch02.W001", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            return await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
""", "the list from gather, not a dict"),
    Case("city-report", "ch02.W004", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            answers = await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
            report = dict(zip(FIVE, answers))
            report["weather"] = await fetch(session, "weather", slug)   # the freshest weather
    return report
""", "weather fetched a second time"),
    Case("city-report", "ch02.W006", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.0):
            first = await asyncio.gather(fetch(session, "weather", slug), fetch(session, "flights", slug))
            rest = await asyncio.gather(*(fetch(session, s, slug) for s in FIVE[2:]))
    return dict(zip(FIVE, first + rest))
""", "two gathers, one after the other"),
    Case("city-report", "ch02.W008", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
    return dict(zip(FIVE, answers))
""", "concurrent, no deadline"),
    Case("city-report", "ch02.W009", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(1.0):
                answers = await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
        except TimeoutError:
            return {}
    return dict(zip(FIVE, answers))
""", "the TimeoutError caught"),
    Case("city-report", "ch02.W010", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(0.5):
            answers = await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
    return dict(zip(FIVE, answers))
""", "a deadline shorter than asked"),
    Case("city-report", "ch02.W014", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(1.5):        # some slack, to be safe
            answers = await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))
    return dict(zip(FIVE, answers))
""", "a deadline longer than asked"),
    Case("city-report", "ch02.W011", """
async def city_report(slug):
    async def one(session, service):
        async with asyncio.timeout(1.0):
            return await fetch(session, service, slug)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(one(session, s) for s in FIVE))
    return dict(zip(FIVE, answers))
""", "asyncio.timeout per call"),
    Case("city-report", "ch02.W011", """
async def city_report(slug):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as session:
        answers = await asyncio.gather(*(fetch(session, s, slug, timeout=1.0) for s in FIVE))
    return dict(zip(FIVE, answers))
""", "aiohttp ClientTimeout per request"),
    Case("city-report", "ch02.W012", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(fetch(session, s, slug)) for s in FIVE]
        done, pending = await asyncio.wait(tasks, timeout=1.0)
        if pending:
            raise TimeoutError("the report took too long")
        return {s: t.result() for s, t in zip(FIVE, tasks)}
""", "asyncio.wait, pending call never cancelled"),
    Case("city-report", "ch02.W013", """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.ensure_future(fetch(session, s, slug)) for s in FIVE]
        await asyncio.sleep(0.1)
        return {s: t.result() for s, t in zip(FIVE, tasks)}
""", "a sleep too short before reading results"),
    Case("city-report", PASS, """
async def city_report(slug):
    async with asyncio.timeout(1.0):
        async with aiohttp.ClientSession() as session:
            async with asyncio.TaskGroup() as group:
                tasks = {service: group.create_task(fetch(session, service, slug)) for service in FIVE}
    return {service: task.result() for service, task in tasks.items()}
""", "TaskGroup inside asyncio.timeout"),
    Case("city-report", PASS, """
async def city_report(slug):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(fetch(session, s, slug)) for s in FIVE]
        done, pending = await asyncio.wait(tasks, timeout=1.0)
        if pending:
            for task in pending:
                task.cancel()
            raise TimeoutError(f"{len(pending)} services too slow")
        return {s: t.result() for s, t in zip(FIVE, tasks)}
""", "asyncio.wait, pending cancelled"),
    Case("city-report", PASS, """
async def city_report(slug):
    session = aiohttp.ClientSession()
    try:
        results = await asyncio.wait_for(asyncio.gather(*[fetch(session, name, slug) for name in FIVE]), 1.0)
    finally:
        await session.close()
    return {name: result for name, result in zip(FIVE, results)}
""", "wait_for around gather"),
]

BOUNDED = [
    Case("bounded", "ch02.W024", """
async def weather_for(slugs, limit):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(fetch(session, "weather", s) for s in slugs))
""", "no semaphore at all"),
    Case("bounded", "ch02.W024", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession() as session:
        async with sem:
            return await asyncio.gather(*(fetch(session, "weather", s) for s in slugs))
""", "the semaphore around the whole gather"),
    Case("bounded", "ch02.W025", """
async def weather_for(slugs, limit):
    answers = []
    async with aiohttp.ClientSession() as session:
        for slug in slugs:
            answers.append(await fetch(session, "weather", slug))
    return answers
""", "awaits in a loop"),
    Case("bounded", "ch02.W025", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(1)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in slugs))
""", "Semaphore(1) serialises everything"),
    Case("bounded", "ch02.W026", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(3)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in slugs))
""", "a hard-coded limit"),
    Case("bounded", "ch02.W028", """
sem = asyncio.Semaphore(2)
async def weather_for(slugs, limit):
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in slugs))
""", "one semaphore at module level"),
    Case("bounded", "ch02.W023", """
sem = None
async def weather_for(slugs, limit):
    global sem
    sem = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in slugs))
""", "a global re-made by every call"),
    Case("bounded", "ch02.W027", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(max(1, limit - 1))     # stay safely under the limit
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in slugs))
""", "a semaphore of limit - 1"),
    Case("bounded", "ch02.W020", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return slug, await fetch(session, "weather", slug)
        return dict(await asyncio.gather(*(one(s) for s in slugs)))
""", "a dict by slug"),
    Case("bounded", "ch02.W022", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    answers = []
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                answers.append(await fetch(session, "weather", slug))
        await asyncio.gather(*(one(s) for s in slugs))
    return answers
""", "answers kept in the order they finish"),
    Case("bounded", "ch02.W021", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in ["oslo", "rome", "lima", "pune", "kobe", "bonn"]))
""", "the example's slugs, hard-coded"),
    Case("bounded", "ck.W003", """
import time
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                answer = await fetch(session, "weather", slug)
                time.sleep(0.06)        # stay polite with the partner API
                return answer
        return await asyncio.gather(*(one(s) for s in slugs))
""", "time.sleep as a rate limit"),
    Case("bounded", "ck.W003", """
import time
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with sem:
                started = time.perf_counter()
                while time.perf_counter() - started < 0.08:     # space the calls out a little
                    pass
                return await fetch(session, "weather", slug)
        return await asyncio.gather(*(one(s) for s in slugs))
""", "a busy-wait loop to space the calls out"),
    Case("bounded", "ck.W001", """
async def weather_for(slugs, limit):
    sem = asyncio.Semaphore(limit)
    session = aiohttp.ClientSession()
    async def one(slug):
        async with sem:
            return await fetch(session, "weather", slug)
    return [one(s) for s in slugs]
""", "a list of coroutines"),
    Case("bounded", PASS, """
async def weather_for(slugs, limit):
    gate = asyncio.BoundedSemaphore(limit)
    async with aiohttp.ClientSession() as session:
        async def one(slug):
            async with gate:
                return await fetch(session, "weather", slug)
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(s)) for s in slugs]
    return [t.result() for t in tasks]
""", "TaskGroup and a BoundedSemaphore"),
    Case("bounded", PASS, """
async def weather_for(slugs, limit):
    queue = asyncio.Queue()
    for index, slug in enumerate(slugs):
        queue.put_nowait((index, slug))
    answers = [None] * len(slugs)
    async with aiohttp.ClientSession() as session:
        async def worker():
            while not queue.empty():
                index, slug = queue.get_nowait()
                answers[index] = await fetch(session, "weather", slug)
        await asyncio.gather(*(worker() for _ in range(limit)))
    return answers
""", "a pool of `limit` workers"),
]

NEVER = [
    Case("never-awaited", "ch02.W040", """
async def warm_cache(slugs, refresh):
    for slug in slugs:
        refresh(slug)
    return len(slugs)
""", "the bug as shipped"),
    Case("never-awaited", "ch02.W044", """
async def warm_cache(slugs, refresh):
    for slug in slugs:
        await refresh(slug)
    return len(slugs)
""", "awaits in a loop"),
    Case("never-awaited", "ch02.W041", """
async def warm_cache(slugs, refresh):
    asyncio.gather(*(refresh(s) for s in slugs))
    return len(slugs)
""", "gather not awaited"),
    Case("never-awaited", "ch02.W041", """
async def warm_cache(slugs, refresh):
    for slug in slugs:
        asyncio.create_task(refresh(slug))
    return len(slugs)
""", "tasks created, never awaited"),
    Case("never-awaited", "ch02.W045", """
async def warm_cache(slugs, refresh):
    for slug in slugs:
        asyncio.ensure_future(refresh(slug))
    await asyncio.sleep(1)        # long enough for every refresh
    return len(slugs)
""", "ensure_future, then a sleep"),
    Case("never-awaited", "ch02.W041", """
async def warm_cache(slugs, refresh):
    for slug in slugs:
        asyncio.ensure_future(refresh(slug))
    await asyncio.sleep(0)
    return len(slugs)
""", "ensure_future, then sleep(0)"),
    Case("never-awaited", "ch02.W042", """
async def warm_cache(slugs, refresh):
    for slug in slugs:
        refresh(slug)
    await asyncio.gather(*(refresh(s) for s in slugs))
    return len(slugs)
""", "the old loop kept beside the fix"),
    Case("never-awaited", "ch02.W043", """
async def warm_cache(slugs, refresh):
    await asyncio.gather(*(refresh(s) for s in slugs))
    return 5
""", "the example's count, hard-coded"),
    Case("never-awaited", "ck.W003", """
import time
async def warm_cache(slugs, refresh):
    tasks = [asyncio.create_task(refresh(s)) for s in slugs]
    time.sleep(0.2)
    return len(tasks)
""", "time.sleep to let them run"),
    Case("never-awaited", "ck.W001", """
async def warm_cache(slugs, refresh):
    return asyncio.gather(*(refresh(s) for s in slugs))
""", "returns the gather itself"),
    Case("never-awaited", PASS, """
async def warm_cache(slugs, refresh):
    async with asyncio.TaskGroup() as group:
        for slug in slugs:
            group.create_task(refresh(slug))
    return len(slugs)
""", "a TaskGroup"),
    Case("never-awaited", PASS, """
async def warm_cache(slugs, refresh):
    tasks = [asyncio.create_task(refresh(slug)) for slug in slugs]
    for task in tasks:
        await task
    return len(tasks)
""", "tasks first, then awaited one by one"),
    Case("never-awaited", PASS, """
async def warm_cache(slugs, refresh):
    done = 0
    for finished in asyncio.as_completed([refresh(s) for s in slugs]):
        await finished
        done += 1
    return done
""", "as_completed, counting"),
]

CLASSIFY = [
    Case("io-or-cpu", "ch02.W060", """
async def classify(job):
    name = job.__name__
    if any(word in name for word in ("download", "call", "fetch", "api", "wait", "read")):
        return "io"
    return "cpu"
""", "by the function's name"),
    Case("io-or-cpu", "ch02.W061", """
import time
async def classify(job):
    started = time.perf_counter()
    await job()
    return "cpu" if time.perf_counter() - started < 0.05 else "io"
""", "one run against a fixed threshold"),
    Case("io-or-cpu", "ch02.W064", """
import time
async def classify(job):
    times = []
    for _ in range(2):
        started = time.perf_counter()
        await job()
        times.append(time.perf_counter() - started)
    return "cpu" if min(times) > 0.1 else "io"
""", "best of two against a fixed threshold"),
    Case("io-or-cpu", "ch02.W064", """
async def classify(job):
    async with coursekit.timed() as one:
        await job()
    async with coursekit.timed() as four:
        for _ in range(4):
            await job()
    return "cpu" if four.seconds > 2 * one.seconds else "io"
""", "the four copies awaited one after another"),
    Case("io-or-cpu", "ch02.W064", """
async def classify(job):
    async with coursekit.timed() as one:
        await job()
    async with coursekit.timed() as four:
        await asyncio.gather(job(), job(), job(), job())
    return "io" if four.seconds > 2 * one.seconds else "cpu"
""", "the comparison turned round"),
    Case("io-or-cpu", "ch02.W064", """
async def classify(job):
    async with coursekit.timed() as four:
        await asyncio.gather(job(), job(), job(), job())
    return "cpu" if four.seconds > 0.3 else "io"
""", "four copies against a fixed threshold"),
    Case("io-or-cpu", "ch02.W062", """
async def classify(job):
    async with coursekit.timed() as one:
        await job()
    async with coursekit.timed() as four:
        asyncio.gather(job(), job(), job(), job())
    return "cpu" if four.seconds > 2 * one.seconds else "io"
""", "gather not awaited"),
    Case("io-or-cpu", "ch02.W063", """
async def classify(job):
    async with coursekit.timed() as one:
        await job()
    async with coursekit.timed() as four:
        await asyncio.gather(job(), job(), job(), job())
    return "CPU-bound" if four.seconds > 2 * one.seconds else "I/O-bound"
""", "its own words for the answer"),
    Case("io-or-cpu", PASS, """
import time
async def classify(job):
    started = time.perf_counter()
    await job()
    one = time.perf_counter() - started
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(4):
            group.create_task(job())
    four = time.perf_counter() - started
    return "io" if four < 2.5 * one else "cpu"
""", "perf_counter and a TaskGroup"),
    Case("io-or-cpu", PASS, """
import time
async def _seconds(make):
    started = time.perf_counter()
    await make()
    return time.perf_counter() - started

async def classify(job):
    await job()                                   # warm-up run, not measured
    one = await _seconds(job)
    four = await _seconds(lambda: asyncio.gather(*(job() for _ in range(4))))
    return "cpu" if four / one > 2 else "io"
""", "a helper and a warm-up run (six runs)"),
]

CASES = REPORT + BOUNDED + NEVER + CLASSIFY


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
