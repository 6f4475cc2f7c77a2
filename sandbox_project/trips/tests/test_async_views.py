"""Tests for the async views (chapter 03), with AsyncClient and a real local upstream API.

Each test starts coursekit's upstream server on its own event loop, with short
latencies so the suite stays fast, and points UPSTREAM_BASE_URL at it.
"""
import contextlib
import json
import time

from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, TestCase, override_settings
from django.views import View

from coursekit.upstream import Upstream, payload
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


class AsyncViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        City.objects.create(name="Kyoto", slug="kyoto", country="Japan")

    async def test_dashboard_calls_the_services_concurrently(self):
        async with upstream_api() as api:
            started = time.perf_counter()
            response = await AsyncClient().get("/async/dashboard/kyoto/")
            wall = time.perf_counter() - started
        self.assertEqual(response.status_code, 200)
        data = response.json()
        for service in FAST:
            self.assertEqual(data[service], payload(service, "kyoto"))
        self.assertEqual(api.peak_in_flight, 3)
        self.assertLess(wall, 0.8 * sum(FAST.values()) + 0.1)

    async def test_resilient_dashboard_reports_partial_results(self):
        async with upstream_api(fail="flights") as api:
            api.configure(latency={"hotels": 2.0})
            response = await AsyncClient().get("/async/resilient/kyoto/?budget=0.3")
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["status"], "partial")
        self.assertEqual(data["weather"], payload("weather", "kyoto"))
        self.assertEqual(set(data["errors"]), {"flights", "hotels"})
        self.assertIn("HTTP 503", data["errors"]["flights"])
        self.assertIn("within 0.3 s", data["errors"]["hotels"])
        self.assertLess(data["elapsed"], 1.0)

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
