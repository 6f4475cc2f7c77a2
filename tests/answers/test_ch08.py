"""Wrong and right answers for chapter 08's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "08"

FIND = [
    Case("find-blocker", "ck.W005", """
def find_blocker(report, library):
    return "geocode"
""", "a plain def"),
    Case("find-blocker", "ch08.W001", """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.05) as lag:
        await report()
    mine = [f for f in max(lag.stalls, key=lambda s: s.seconds).stack if f.filename == library.__file__]
    return mine[0].name
""", "the outermost frame of the library: the report itself"),
    Case("find-blocker", "ch08.W002", """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.05) as lag:
        await report()
    return lag.stalls[0].where.name
""", "the first stall, not the longest"),
    Case("find-blocker", "ch08.W003", """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.05) as lag:
        await report()
    return max(lag.stalls, key=lambda s: s.seconds).stack[-1].name
""", "the innermost frame of all: the standard library's"),
    Case("find-blocker", "ch08.W004", """
import inspect
import time

async def find_blocker(report, library):
    timings = {}
    for name, fn in vars(library).items():
        if inspect.isfunction(fn) and name != "trip_report" and not name.startswith("_"):
            started = time.perf_counter()
            result = fn("oslo")
            if inspect.isawaitable(result):
                await result
            timings[name] = time.perf_counter() - started
    return max(timings, key=timings.get)
""", "times every function: the slowest awaits"),
    Case("find-blocker", "ch08.W005", """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.05) as lag:
        await report()
    mine = [f for f in max(lag.stalls, key=lambda s: s.seconds).stack if f.filename == library.__file__]
    return mine[1].name
""", "the public helper, one level out"),
    Case("find-blocker", "ch08.W006", """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.5) as lag:
        await report()
    if not lag.stalls:
        return None
    return max(lag.stalls, key=lambda s: s.seconds).where.name
""", "a threshold above the stall"),
    Case("find-blocker", "ck.E003", """
async def find_blocker(report, library):
    async with coursekit.LoopLag() as lag:
        await report()
    return lag.stalls[0].where.name
""", "no stacks asked for: an empty list"),
    Case("find-blocker", "ch08.W007", """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.05) as lag:
        await report()
    return max(lag.stalls, key=lambda s: s.seconds).where
""", "the frame, not its name"),
    Case("find-blocker", "ch08.W008", """
async def find_blocker(report, library):
    await report()
    return "load_exchange_rates"
""", "the lesson's culprit, hard-coded"),
    Case("find-blocker", PASS, """
async def find_blocker(report, library):
    async with coursekit.LoopLag(stacks=0.05) as lag:
        await report()
    return max(lag.stalls, key=lambda s: s.seconds).where.name
""", "stall.where"),
    Case("find-blocker", PASS, """
from coursekit.lag import LoopLag

async def find_blocker(report, library):
    async with LoopLag(stacks=0.1) as lag:
        await report()
    worst = sorted(lag.stalls, key=lambda s: s.end - s.start)[-1]
    return [frame.name for frame in worst.stack if frame.name in vars(library)][-1]
""", "sorted, frames matched by the library's names"),
]

SEATS = [
    Case("seat-race", "ch08.W020", """
SEATS = {}

async def book_seat(request, slug):
    if SEATS[slug] == 0:
        return JsonResponse({"error": "sold out"}, status=409)
    try:
        await pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    SEATS[slug] -= 1
    return JsonResponse({"tour": slug, "booked": True})
""", "the starter: check, await, decrement"),
    Case("seat-race", "ch08.W020", """
SEATS = {}

async def book_seat(request, slug):
    left = SEATS[slug]
    if left == 0:
        return JsonResponse({"error": "sold out"}, status=409)
    try:
        await pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    SEATS[slug] = left - 1
    return JsonResponse({"tour": slug, "booked": True})
""", "the count read before the await, written after"),
    Case("seat-race", "ch08.W022", """
SEATS = {}

async def book_seat(request, slug):
    if SEATS[slug] <= 0:
        return JsonResponse({"error": "sold out"}, status=409)
    SEATS[slug] -= 1
    try:
        await pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    return JsonResponse({"tour": slug, "booked": True})
""", "the seat of a declined card never given back"),
    Case("seat-race", "ch08.W024", """
SEATS = {}
lock = asyncio.Lock()

async def book_seat(request, slug):
    async with lock:
        if SEATS[slug] <= 0:
            return JsonResponse({"error": "sold out"}, status=409)
        try:
            await pay(request.headers.get("X-Card", "ok"))
        except PaymentDeclined:
            return JsonResponse({"error": "payment declined"}, status=402)
        SEATS[slug] -= 1
        return JsonResponse({"tour": slug, "booked": True})
""", "an asyncio.Lock held across the payment"),
    Case("seat-race", "ch08.W026", """
SEATS = {}
lock = threading.Lock()

async def book_seat(request, slug):
    with lock:
        if SEATS[slug] <= 0:
            return JsonResponse({"error": "sold out"}, status=409)
        try:
            await pay(request.headers.get("X-Card", "ok"))
        except PaymentDeclined:
            return JsonResponse({"error": "payment declined"}, status=402)
        SEATS[slug] -= 1
        return JsonResponse({"tour": slug, "booked": True})
""", "a threading.Lock held across an await: a deadlock"),
    Case("seat-race", "ch08.W021", """
SEATS = {}

async def book_seat(request, slug):
    try:
        await pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    if SEATS[slug] <= 0:
        return JsonResponse({"error": "sold out"}, status=409)
    SEATS[slug] -= 1
    return JsonResponse({"tour": slug, "booked": True})
""", "pays first, then looks for a seat"),
    Case("seat-race", "ch08.W023", """
SEATS = {}

async def book_seat(request, slug):
    if SEATS[slug] <= 0:
        return JsonResponse({"error": "sold out"}, status=409)
    SEATS[slug] -= 1
    await pay(request.headers.get("X-Card", "ok"))
    return JsonResponse({"tour": slug, "booked": True})
""", "a declined card not caught"),
    Case("seat-race", "ch08.W027", """
SEATS = {}

async def book_seat(request, slug):
    if SEATS[slug] <= 0:
        return JsonResponse({"error": "sold out"}, status=409)
    SEATS[slug] -= 1
    try:
        pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        SEATS[slug] += 1
        return JsonResponse({"error": "payment declined"}, status=402)
    return JsonResponse({"tour": slug, "booked": True})
""", "pay() not awaited"),
    Case("seat-race", "ch08.W025", """
SEATS = {}

async def book_seat(request, slug):
    if SEATS[slug] <= 0:
        return JsonResponse({"error": "no seats"}, status=409)
    SEATS[slug] -= 1
    try:
        await pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        SEATS[slug] += 1
        return JsonResponse({"error": "payment declined"}, status=402)
    return JsonResponse({"ok": True})
""", "other bodies than the task's"),
    Case("seat-race", PASS, """
SEATS = {}
locks = {}

async def book_seat(request, slug):
    lock = locks.setdefault(slug, asyncio.Lock())
    async with lock:                                   # only the check-and-take, no await inside
        if not SEATS.get(slug):
            return JsonResponse({"error": "sold out"}, status=409)
        SEATS[slug] -= 1
    try:
        await pay(request.headers.get("X-Card", "ok"))
    except PaymentDeclined:
        SEATS[slug] += 1
        return JsonResponse({"error": "payment declined"}, status=402)
    else:
        return JsonResponse({"tour": slug, "booked": True})
""", "a per-tour asyncio.Lock around the check-and-take only"),
    Case("seat-race", PASS, """
SEATS = {}

async def book_seat(request, slug):
    left = SEATS.get(slug, 0)
    if left == 0:
        return JsonResponse({"error": "sold out"}, status=409)
    SEATS[slug] = left - 1
    paid = False
    try:
        await pay(request.headers.get("X-Card", "ok"))
        paid = True
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    finally:
        if not paid:
            SEATS[slug] = SEATS[slug] + 1
    return JsonResponse({"booked": True, "tour": slug})
""", "read and write with no await between, give back in finally"),
]

CARD = [
    Case("card-test", "ck.W005", """
def test_city_card(client):
    assert True
""", "a plain def"),
    Case("card-test", "ch08.W031", """
async def test_city_card(client):
    response = await client.get("/pitfalls/cards/kyoto/")
    assert response.status_code == 200
    assert response.json()["city"] == "Kyoto" and response.json()["country"] == "Japan"
""", "the answer checked, the loop not"),
    Case("card-test", "ch08.W035", """
import time

async def test_city_card(client):
    started = time.perf_counter()
    response = await client.get("/pitfalls/cards/kyoto/")
    assert time.perf_counter() - started < 0.45, "too slow: something blocks"
    assert response.status_code == 200
    assert response.json()["city"] == "Kyoto" and response.json()["country"] == "Japan"
""", "wall time taken for blocking"),
    Case("card-test", "ch08.W033", """
async def test_city_card(client):
    async with coursekit.LoopLag() as lag:
        response = await client.get("/pitfalls/cards/kyoto/")
    assert response.status_code == 200
    assert "rates" in response.json()
    assert lag.max < 0.1
""", "the loop and the status checked, not the city"),
    Case("card-test", "ch08.W034", """
async def test_city_card(client):
    async with coursekit.LoopLag() as lag:
        response = await client.get("/pitfalls/cards/oslo/")
    card = response.json()
    assert card.get("city", "Oslo") == "Oslo"
    assert lag.max < 0.1
""", "no status check, a default that hides a 404"),
    Case("card-test", "ch08.W032", """
from unittest import mock

from trips import pitfall_views

async def test_city_card(client):
    threads = []
    real = pitfall_views.load_exchange_rates

    def spy():
        threads.append(threading.current_thread())
        return real()

    with mock.patch.object(pitfall_views, "load_exchange_rates", spy):
        response = await client.get("/pitfalls/cards/kyoto/")
    assert response.status_code == 200
    assert (response.json()["city"], response.json()["country"]) == ("Kyoto", "Japan")
    assert threading.current_thread() not in threads, "the bank was called on the loop's thread"
""", "a spy on the helper: misses CPU work"),
    Case("card-test", "ch08.W030", """
async def test_city_card(client):
    async with coursekit.LoopLag() as lag:
        response = await client.get("/pitfalls/cards/kyoto")
    assert response.status_code == 200
    assert response.json()["city"] == "Kyoto"
    assert lag.max < 0.1
""", "the URL without its slash: a redirect"),
    Case("card-test", "ck.W002", """
async def test_city_card(client):
    async with coursekit.LoopLag() as lag:
        response = client.get("/pitfalls/cards/kyoto/")
    assert response.status_code == 200
    assert lag.max < 0.1
""", "client.get not awaited"),
    Case("card-test", PASS, """
async def test_city_card(client):
    for slug, name, country in [("oslo", "Oslo", "Norway"), ("cape-town", "Cape Town", "South Africa")]:
        async with coursekit.LoopLag() as lag:
            response = await client.get(f"/pitfalls/cards/{slug}/")
        assert response.status_code == 200, response.status_code
        card = response.json()
        assert card["city"] == name and card["country"] == country, card
        assert lag.max < 0.1, lag
    assert (await client.get("/pitfalls/cards/atlantis/")).status_code == 404
""", "two cities and a 404"),
    Case("card-test", PASS, """
from coursekit.lag import LoopLag

async def test_city_card(client):
    async with LoopLag() as lag:
        response = await client.get("/pitfalls/cards/hanoi/")
    assert (response.status_code, response.json()["city"], response.json()["country"]) == (200, "Hanoi", "Vietnam")
    assert lag.worst is None or lag.worst[1] - lag.worst[0] < 0.1
""", "lag.worst"),
]

AUDIT = [
    Case("audit-user", "ch08.W040", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await sync_to_async(legacy_audit.set_current_user, thread_sensitive=False)(user)
    await pay()
    await sync_to_async(legacy_audit.audit, thread_sensitive=False)(f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "the starter: thread_sensitive=False twice"),
    Case("audit-user", "ch08.W040", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await sync_to_async(legacy_audit.set_current_user)(user)
    await pay()
    await sync_to_async(legacy_audit.audit, thread_sensitive=False)(f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "only the first call fixed"),
    Case("audit-user", "ch08.W040", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await asyncio.to_thread(legacy_audit.set_current_user, user)
    await pay()
    await asyncio.to_thread(legacy_audit.audit, f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "asyncio.to_thread"),
    Case("audit-user", "ch08.W041", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    legacy_audit.set_current_user(user)
    await pay()
    legacy_audit.audit(f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "called directly, on the loop's thread"),
    Case("audit-user", "ch08.W043", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await sync_to_async(legacy_audit.set_current_user)(user)
    await pay()
    sync_to_async(legacy_audit.audit)(f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "the audit call not awaited"),
    Case("audit-user", "ch08.W042", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await pay()
    await sync_to_async(legacy_audit.audit)(f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "the user never set"),
    Case("audit-user", "ch08.W044", """
async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await sync_to_async(legacy_audit.set_current_user)(user)
    await pay()
    await sync_to_async(legacy_audit.audit)(f"booked {slug}")
    return JsonResponse({"booked": slug})
""", "another answer"),
    Case("audit-user", PASS, """
def set_and_audit(user, action):
    legacy_audit.set_current_user(user)
    legacy_audit.audit(action)

async def book_tour(request, slug):
    user = request.headers.get("X-User", "anonymous")
    await pay()
    await sync_to_async(set_and_audit, thread_sensitive=False)(user, f"booked {slug}")
    return JsonResponse({"tour": slug, "user": user})
""", "both in one sync function, after the payment"),
    Case("audit-user", PASS, """
async def book_tour(request, slug):
    user = request.headers["X-User"]
    await sync_to_async(legacy_audit.set_current_user, thread_sensitive=True)(user)
    await pay("ok")
    await sync_to_async(legacy_audit.audit, thread_sensitive=True)("booked " + slug)
    return JsonResponse(dict(tour=slug, user=user))
""", "thread_sensitive=True spelled out"),
]

CASES = FIND + SEATS + CARD + AUDIT


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
