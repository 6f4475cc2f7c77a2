"""Wrong and right answers for chapter 01's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "01"

COUNTER = [
    Case("request-counter", "ch01.W002", """
def request_counter(get_response):
    def middleware(request):
        return get_response(request)
    return middleware
""", "no header at all"),
    Case("request-counter", "ch01.W001", """
from django.http import HttpResponse
def request_counter(get_response):
    count = 0
    def middleware(request):
        nonlocal count
        count += 1
        get_response(request)
        response = HttpResponse("ok")
        response["X-Request-Count"] = str(count)
        return response
    return middleware
""", "builds a new response instead of the view's"),
    Case("request-counter", "ch01.W003", """
def request_counter(get_response):
    def middleware(request):
        count = 0
        count += 1
        response = get_response(request)
        response["X-Request-Count"] = str(count)
        return response
    return middleware
""", "the count reset on every request"),
    Case("request-counter", "ch01.W004", """
COUNT = 0
def request_counter(get_response):
    def middleware(request):
        global COUNT
        COUNT += 1
        number = COUNT
        response = get_response(request)
        response["X-Request-Count"] = str(number)
        return response
    return middleware
""", "a module-level global that outlives the stack"),
    Case("request-counter", "ch01.W005", """
def request_counter(get_response):
    count = 0
    def middleware(request):
        nonlocal count
        count += 1
        response = get_response(request)
        response["X-Request-Count"] = str(count)   # read after the view: another request moved it on
        return response
    return middleware
""", "the count read after the view ran"),
    Case("request-counter", "ch01.W001", """
def request_counter(get_response):
    count = 0
    def middleware(request):
        nonlocal count
        count += 1
        response = get_response(request)
        response["X-Request-Count"] = str(count)
    return middleware
""", "forgets to return the response"),
    Case("request-counter", PASS, """
import threading
class request_counter:
    def __init__(self, get_response):
        self.get_response = get_response
        self.count = 0
        self.lock = threading.Lock()
    def __call__(self, request):
        with self.lock:
            self.count += 1
            number = self.count
        response = self.get_response(request)
        response.headers["X-Request-Count"] = str(number)
        return response
""", "a class with a lock"),
    Case("request-counter", PASS, """
import itertools
def request_counter(get_response):
    numbers = itertools.count(1)
    def middleware(request):
        mine = next(numbers)
        response = get_response(request)
        response["X-Request-Count"] = f"{mine}"
        return response
    return middleware
""", "itertools.count"),
]

BRIEF = [
    Case("trip-brief", "ch01.W010", """
def trip_brief(request, slug):
    weather = upstream.fetch_sync("weather", slug)
    hotels = upstream.fetch_sync("hotels", slug)
    return {"city": slug, "summary": weather["summary"], "temp_c": weather["temp_c"],
            "hotel_from_eur": hotels["from_eur"]}
""", "returns a dict"),
    Case("trip-brief", "ch01.W013", """
def trip_brief(request, slug):
    weather = upstream.fetch_sync("weather", "oslo")
    hotels = upstream.fetch_sync("hotels", "oslo")
    return JsonResponse({"city": slug, "summary": weather["summary"], "temp_c": weather["temp_c"],
                         "hotel_from_eur": hotels["from_eur"]})
""", "the example city, hard-coded"),
    Case("trip-brief", "ch01.W012", """
def trip_brief(request, slug):
    weather = upstream.fetch_sync("weather", slug)
    return JsonResponse({"city": slug, "summary": weather["summary"], "temp_c": weather["temp_c"]})
""", "hotels left out"),
    Case("trip-brief", "ch01.W014", """
def trip_brief(request, slug):
    summary = upstream.fetch_sync("weather", slug)["summary"]
    temp = upstream.fetch_sync("weather", slug)["temp_c"]
    hotels = upstream.fetch_sync("hotels", slug)
    return JsonResponse({"city": slug, "summary": summary, "temp_c": temp, "hotel_from_eur": hotels["from_eur"]})
""", "weather fetched twice"),
    Case("trip-brief", "ch01.W013", """
def trip_brief(request, slug):
    weather = upstream.fetch_sync("weather", slug)
    hotels = upstream.fetch_sync("hotels", slug)
    return JsonResponse({"city": slug.title(), "summary": weather["summary"], "temp_c": weather["temp_c"],
                         "hotel_from_eur": hotels["from_eur"]})
""", "the slug turned into a title"),
    Case("trip-brief", "ch01.W013", """
def trip_brief(request, slug):
    weather = upstream.fetch_sync("weather", slug)
    hotels = upstream.fetch_sync("hotels", slug)
    return JsonResponse({"city": slug, "summary": weather["summary"], "temp_c": weather["temp_c"],
                         "hotel_from_eur": hotels["rooms_left"]})
""", "the wrong hotels field"),
    Case("trip-brief", "ck.E003", """
def trip_brief(request, slug):
    weather = upstream.fetch_sync("weather", slug)
    return JsonResponse({"city": slug, "summary": weather["weather"]})
""", "a KeyError"),
    Case("trip-brief", PASS, """
def trip_brief(request, slug):
    w, h = (upstream.fetch_sync(s, slug) for s in ("weather", "hotels"))
    return JsonResponse(dict(city=slug, summary=w["summary"], temp_c=w["temp_c"], hotel_from_eur=h["from_eur"],
                             country_hint=None))
""", "a generator, and an extra key"),
]

LAST = [
    Case("last-response", "ch01.W021", "def last_response_at(c, w, s):\n    return c / w * s\n", "not rounded"),
    Case("last-response", "ch01.W021", "def last_response_at(c, w, s):\n    return c // w * s\n", "rounded down"),
    Case("last-response", "ch01.W022", "def last_response_at(c, w, s):\n    return c * s\n", "one worker"),
    Case("last-response", "ch01.W023", "def last_response_at(c, w, s):\n    return s\n", "nobody queues"),
    Case("last-response", "ch01.W021", "def last_response_at(c, w, s):\n    return round(c / w) * s\n", "round()"),
    Case("last-response", "ch01.W020", "def last_response_at(c, w, s):\n    return f'{math.ceil(c / w) * s} s'\n",
         "a string with a unit"),
    Case("last-response", "ch01.W024", """
def last_response_at(clients, workers, service_time):
    return {(12, 4): 0.6000000000000001, (7, 3): 0.30000000000000004}.get((clients, workers), 0.2)
""", "the examples, hard-coded"),
    Case("last-response", PASS, "def last_response_at(c, w, s):\n    return -(-c // w) * s\n", "ceiling by floor"),
    Case("last-response", PASS, """
def last_response_at(clients, workers, service_time):
    waves = clients // workers + (1 if clients % workers else 0)
    return waves * service_time
""", "waves counted by hand"),
]

WORKERS = [
    Case("workers-needed", "ch01.W030", """
def workers_needed(clients, service_time, deadline):
    for workers in range(1, clients + 1):
        if math.ceil(clients / workers) * service_time <= deadline:
            return workers
    return clients
""", "never None"),
    Case("workers-needed", "ch01.W031", """
def workers_needed(clients, service_time, deadline):
    if service_time > deadline:
        return None
    return clients / (deadline // service_time)
""", "a float"),
    Case("workers-needed", "ch01.W032", """
def workers_needed(clients, service_time, deadline):
    return None if service_time > deadline else clients
""", "a worker per client"),
    Case("workers-needed", "ch01.W033", """
def workers_needed(clients, service_time, deadline):
    if service_time > deadline:
        return None
    return int(clients * service_time / deadline)
""", "rounded down"),
    Case("workers-needed", "ch01.W033", """
def workers_needed(clients, service_time, deadline):
    if service_time > deadline:
        return None
    return math.ceil(clients / (deadline / service_time))
""", "ignores that waves are whole"),
    Case("workers-needed", PASS, """
def workers_needed(clients, service_time, deadline):
    if service_time > deadline:
        return None
    return math.ceil(clients / int(deadline // service_time))
""", "the closed form"),
    Case("workers-needed", PASS, """
def workers_needed(clients, service_time, deadline):
    workers = 1
    while workers <= clients:
        if -(-clients // workers) * service_time <= deadline:
            return workers
        workers += 1
    return None
""", "a while loop that falls through to None"),
]

CASES = COUNTER + BRIEF + LAST + WORKERS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
