"""The performance lab's endpoints under /lab/ (chapter 09), and the bare ASGI app beside them.

Each kind of work answers the same from its sync and its async view. The I/O views call a real
local upstream API (coursekit's), started on the test's own event loop with a short latency.
"""
import asyncio
import contextlib

from django.test import AsyncClient, TestCase, override_settings

from coursekit.asgi import request
from coursekit.upstream import Upstream, payload
from trips import lab_asgi, lab_views
from trips.models import Booking
from trips.seed import seed


@contextlib.asynccontextmanager
async def upstream_api():
    api = await Upstream(latency=0.02).start()
    try:
        with override_settings(UPSTREAM_BASE_URL=api.url):
            yield api
    finally:
        await lab_views.close_sessions()
        await api.stop()


class LabViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    async def test_io_views_answer_the_upstream_weather(self):
        async with upstream_api() as api:
            for kind in ("sync", "async"):
                response = await AsyncClient().get(f"/lab/io/{kind}/?city=oslo")
                self.assertEqual(response.json(), payload("weather", "oslo"), kind)
        self.assertEqual([(c.service, c.city, c.status) for c in api.calls], [("weather", "oslo", 200)] * 2)

    async def test_async_io_view_shares_one_session_without_a_connection_cap(self):
        async with upstream_api():
            await AsyncClient().get("/lab/io/async/")
            session = lab_views._session()
            self.assertEqual(session.connector.limit, 0)
            await AsyncClient().get("/lab/io/async/")
            self.assertIs(lab_views._session(), session)

    async def test_cpu_views_report_the_cpu_time_of_their_work(self):
        for kind in ("sync", "async"):
            data = (await AsyncClient().get(f"/lab/cpu/{kind}/?n=20000")).json()
            self.assertGreater(data["cpu"], 0, kind)
        self.assertEqual(lab_views.CPU_ROUNDS, 300_000)

    async def test_db_views_spend_the_time_inside_sqlite(self):
        for kind in ("sync", "async"):
            data = (await AsyncClient().get(f"/lab/db/{kind}/?s=0.03")).json()["db"]
            self.assertGreaterEqual(data["end"] - data["start"], 0.03, kind)

    async def test_write_views_create_one_booking_each_and_forget_writes_removes_them(self):
        before = await Booking.objects.acount()
        for kind in ("sync", "async"):
            data = (await AsyncClient().get(f"/lab/write/{kind}/?hold=0.01")).json()
            self.assertGreaterEqual(data["held"], 0.01, kind)
            booking = await Booking.objects.aget(pk=data["booking"])
            self.assertTrue(booking.reference.startswith(lab_views.LAB_PREFIX))
        self.assertEqual(await Booking.objects.acount(), before + 2)
        from asgiref.sync import sync_to_async

        self.assertEqual(await sync_to_async(lab_views.forget_writes)(), 2)
        self.assertEqual(await Booking.objects.acount(), before)

    def test_query_values_are_capped(self):
        data = self.client.get("/lab/write/sync/?hold=99").json()
        self.assertLess(data["held"], 2)
        lab_views.forget_writes()


class BareAsgiAppTests(TestCase):
    async def test_bare_app_makes_the_same_call_on_its_one_thread(self):
        api = await Upstream(latency=0.02).start()
        saved = lab_asgi.UPSTREAM
        lab_asgi.UPSTREAM = api.url
        try:
            health = await request(lab_asgi.app, "/health/")
            answers = await asyncio.gather(*(request(lab_asgi.app, "/lab/io/async/") for _ in range(3)))
            missing = await request(lab_asgi.app, "/nowhere/")
        finally:
            lab_asgi.UPSTREAM = saved
            if lab_asgi._state["session"] is not None:
                await lab_asgi._state["session"].close()
                lab_asgi._state["session"] = None
            await api.stop()
        self.assertEqual(health.json(), {"status": "ok"})
        self.assertEqual([a.json() for a in answers], [payload("weather", "kyoto")] * 3)
        self.assertEqual(missing.status, 404)
        self.assertEqual(api.peak_in_flight, 3)
