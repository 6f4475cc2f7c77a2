"""Tests for the async views (chapter 03), with AsyncClient and a real local upstream API.

Each test starts coursekit's upstream server on its own event loop, with short
latencies so the suite stays fast, and points UPSTREAM_BASE_URL at it.
"""
import asyncio
import contextlib
import json
import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import AsyncClient, Client, TestCase, override_settings
from django.views import View

from coursekit.asgi import fresh_handler, stream
from coursekit.upstream import Upstream, payload
from coursekit.wsgi import call
from trips import async_views, slowdb
from trips.models import City

FAST = {"weather": 0.05, "flights": 0.1, "hotels": 0.08}


@contextlib.asynccontextmanager
async def upstream_api(**knobs):
    api = await Upstream(latency=FAST, **knobs).start()
    try:
        with override_settings(UPSTREAM_BASE_URL=api.url):
            yield api
    finally:
        await api.stop()


async def eventually(condition, timeout=5):
    """Wait until condition() holds: the upstream logs a call a moment after its client has gone."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def like_a_wsgi_worker(fn, *args):
    """fn(*args) on a new plain thread with no event loop, as a WSGI worker runs a request.

    Not asyncio.to_thread: a pool thread that has run sync_to_async code remembers this loop,
    and async_to_sync there would run the view on it instead of on a loop of its own.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def run():
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting test
            loop.call_soon_threadsafe(done.set_exception, exc)
        else:
            loop.call_soon_threadsafe(done.set_result, result)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        return await done
    finally:
        thread.join()


class AsyncViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        City.objects.create(name="Kyoto", slug="kyoto", country="Japan")

    async def test_dashboard_calls_the_services_concurrently(self):
        async with upstream_api() as api:
            response = await AsyncClient().get("/async/dashboard/kyoto/")
        self.assertEqual(response.status_code, 200)
        data = response.json()
        for service in FAST:
            self.assertEqual(data[service], payload(service, "kyoto"))
        self.assertEqual(api.peak_in_flight, 3)
        self.assertGreaterEqual(data["elapsed"], max(FAST.values()))

    async def test_resilient_dashboard_reports_partial_results(self):
        async with upstream_api(fail="flights") as api:
            api.configure(latency={"hotels": 2.0})
            response = await AsyncClient().get("/async/resilient/kyoto/?budget=0.3")
            await eventually(lambda: api.in_flight == 0)
            logged = {c.service: c.status for c in api.calls}
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["status"], "partial")
        self.assertEqual(data["weather"], payload("weather", "kyoto"))
        self.assertEqual(set(data["errors"]), {"flights", "hotels"})
        self.assertIn("HTTP 503", data["errors"]["flights"])
        self.assertIn("within 0.3 s", data["errors"]["hotels"])
        self.assertEqual(logged, {"weather": 200, "flights": 503, "hotels": 499})  # hotels cut off, not awaited
        self.assertGreaterEqual(data["elapsed"], 0.3)

    async def test_resilient_dashboard_fails_only_when_everything_fails(self):
        async with upstream_api(fail=["weather", "flights", "hotels"]):
            response = await AsyncClient().get("/async/resilient/kyoto/")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["status"], "failed")

    async def test_resilient_dashboard_is_get_only(self):
        response = await AsyncClient().post("/async/resilient/kyoto/")
        self.assertEqual(response.status_code, 405)

    async def test_async_class_based_view(self):
        async with upstream_api():
            response = await AsyncClient().get("/async/cities/kyoto/weather/")
            missing = await AsyncClient().get("/async/cities/atlantis/weather/")
        self.assertEqual(response.json(), {"city": "Kyoto", "weather": payload("weather", "kyoto")})
        self.assertEqual(missing.status_code, 404)

    def test_mixing_sync_and_async_handlers_is_refused(self):
        class Mixed(View):
            async def get(self, request):
                pass

            def post(self, request):
                pass

        with self.assertRaisesMessage(ImproperlyConfigured, "must either be all sync or all async"):
            Mixed.as_view()

    async def test_countdown_streams_from_an_async_generator(self):
        response = await AsyncClient().get("/async/countdown/?n=3&pause=0.01")
        self.assertTrue(response.streaming)
        chunks = [chunk async for chunk in response.streaming_content]
        self.assertEqual(b"".join(chunks), b"3\n2\n1\nlift-off\n")
        self.assertEqual(len(chunks), 4)

    async def test_server_sent_events(self):
        async with upstream_api() as api:
            response = await AsyncClient().get("/async/stream/kyoto/?count=2")
            self.assertEqual(response["Content-Type"], "text/event-stream")
            body = b"".join([chunk async for chunk in response.streaming_content]).decode()
        events = [block for block in body.split("\n\n") if block]
        self.assertEqual(len(events), 2)
        self.assertTrue(events[0].startswith("id: 1\nevent: weather\ndata: "))
        self.assertEqual(json.loads(events[1].split("data: ", 1)[1]), payload("weather", "kyoto"))
        self.assertEqual(len(api.calls), 2)

    async def test_ping_runs_on_the_loop_and_ping_sync_on_a_thread(self):
        async_page = (await AsyncClient().get("/async/ping/")).json()
        sync_page = (await AsyncClient().get("/async/ping-sync/")).json()
        self.assertIsNotNone(async_page["loop"])
        self.assertIsNone(sync_page["loop"])
        self.assertNotEqual(sync_page["thread"], async_page["thread"])

    async def test_shared_dashboard_reuses_one_session(self):
        from trips import async_views

        async with upstream_api():
            first = await AsyncClient().get("/async/shared/kyoto/")
            session = async_views.shared_session()
            second = await AsyncClient().get("/async/shared/oslo/")
            self.assertIs(async_views.shared_session(), session)
            await async_views.close_shared_session()
        self.assertTrue(session.closed)
        self.assertEqual(first.json()["hotels"], payload("hotels", "kyoto"))
        self.assertEqual(second.json()["weather"], payload("weather", "oslo"))

    async def test_coursekit_mounted_serves_notebook_views_beside_the_project(self):
        from django.http import JsonResponse
        from django.urls import path

        from coursekit.routes import mounted

        async def hello(request):
            return JsonResponse({"hello": "world"})

        with mounted(path("hello/", hello)):
            self.assertEqual((await AsyncClient().get("/hello/")).json(), {"hello": "world"})
            self.assertEqual((await AsyncClient().get("/health/")).status_code, 200)
        self.assertEqual((await AsyncClient().get("/hello/")).status_code, 404)


class AsyncViewsUnderBothHandlersTests(TestCase):
    """The views chapter 03 uses to show what ASGI and WSGI do differently."""

    @classmethod
    def setUpTestData(cls):
        City.objects.create(name="Kyoto", slug="kyoto", country="Japan")

    def setUp(self):
        async_views.background_log.clear()
        # The a-methods' SQL runs on this (the test's) thread, on a connection that is already open:
        # register slowdb's SQL functions on it (slowdb.install() only reaches new connections).
        connection.ensure_connection()
        slowdb.add_to(connection)

    async def test_city_overview_overlaps_the_upstream_call_and_the_query(self):
        async with upstream_api() as api:
            response = await AsyncClient().get("/async/overview/kyoto/?query=0.1")
        data = response.json()
        self.assertEqual(data["weather"], payload("weather", "kyoto"))
        (weather,) = api.calls
        query = data["query"]
        self.assertLess(max(weather.start, query["start"]), min(weather.end, query["end"]))  # they overlap
        self.assertGreaterEqual(query["end"] - query["start"], 0.1)

    async def test_a_background_task_outlives_the_response_under_asgi(self):
        async with upstream_api() as api:
            response = await AsyncClient().get("/async/audited/kyoto/")
            self.assertEqual(response.json(), payload("weather", "kyoto"))
            await eventually(lambda: async_views.background_log and api.in_flight == 0)
            audit = [c.status for c in api.calls if c.service == "audit"]
        self.assertEqual(async_views.background_log, ["audit kyoto: done"])
        self.assertEqual(audit, [200])

    async def test_a_background_task_is_cancelled_with_the_request_loop_under_wsgi(self):
        async with upstream_api() as api:
            status, _, body = await like_a_wsgi_worker(call, WSGIHandler(), "/async/audited/kyoto/")
            self.assertEqual(async_views.background_log, ["audit kyoto: cancelled"])  # before the request returned
            await eventually(lambda: api.in_flight == 0)
            audit = [c.status for c in api.calls if c.service == "audit"]
        self.assertEqual((status, json.loads(body)), (200, payload("weather", "kyoto")))
        self.assertEqual(audit, [499])

    async def test_shared_session_makes_one_session_per_request_under_wsgi(self):
        async with upstream_api():
            before = set(async_views._sessions)
            for _ in range(2):
                status, _, _ = await like_a_wsgi_worker(call, WSGIHandler(), "/async/shared/kyoto/")
                self.assertEqual(status, 200)
            new = [loop for loop in async_views._sessions if loop not in before]
            self.assertEqual(len(new), 2)
            self.assertTrue(all(loop.is_closed() for loop in new))
            for loop in new:
                await async_views._sessions.pop(loop).close()

    def test_sync_generator_streams_under_wsgi(self):
        response = Client().get("/async/countdown-sync/?n=3&pause=0.01")
        self.assertTrue(response.streaming)
        self.assertFalse(response.is_async)
        self.assertEqual(list(response.streaming_content), [b"3\n", b"2\n", b"1\n", b"lift-off\n"])

    def test_async_generator_is_consumed_first_under_wsgi(self):
        response = Client().get("/async/countdown/?n=3&pause=0.01")
        with self.assertWarnsMessage(Warning, "must consume asynchronous iterators"):
            body = b"".join(response)
        self.assertEqual(body, b"3\n2\n1\nlift-off\n")

    async def test_sync_generator_is_consumed_first_under_asgi(self):
        with self.assertWarnsMessage(Warning, "must consume synchronous iterators"):
            chunks = await stream(fresh_handler(), "/async/countdown-sync/?n=3&pause=0.05")
        self.assertEqual(b"".join(body for _, body in chunks), b"3\n2\n1\nlift-off\n")
        self.assertGreaterEqual(chunks[0][0], 0.15)  # nothing before the generator's three pauses
