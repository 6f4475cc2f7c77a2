"""The chapter 04 middleware: each kind runs in the mode it declares; Server-Timing in both."""
import threading

from django.test import AsyncClient, TestCase, override_settings

SYNC, ASYNC = "trips.middleware.SyncPassThrough", "trips.middleware.AsyncPassThrough"
HYBRID, TIMING = "trips.middleware.thread_name_header", "trips.middleware.ServerTimingMiddleware"


class ServerTimingTests(TestCase):
    @override_settings(MIDDLEWARE=[TIMING])
    def test_sync_stack_sets_header(self):
        response = self.client.get("/health/")
        self.assertEqual(response.status_code, 200)
        self.assertRegex(response["Server-Timing"], r"^app;dur=\d+\.\d$")

    @override_settings(MIDDLEWARE=[TIMING])
    async def test_async_stack_sets_header_around_async_view(self):
        response = await AsyncClient().get("/orm/nap/?s=0.02")
        self.assertEqual(response.status_code, 200)
        self.assertGreaterEqual(float(response["Server-Timing"].split("dur=")[1]), 15)

    @override_settings(MIDDLEWARE=[TIMING, TIMING])
    async def test_appends_to_existing_header(self):
        response = await AsyncClient().get("/orm/ping/")
        self.assertEqual(response["Server-Timing"].count("app;dur="), 2)


class MiddlewareModeTests(TestCase):
    @override_settings(MIDDLEWARE=[HYBRID, ASYNC])
    async def test_hybrid_over_async_stays_on_the_loop(self):
        response = await AsyncClient().get("/orm/ping/")
        self.assertEqual(response["X-Middleware-Thread"], threading.current_thread().name)

    @override_settings(MIDDLEWARE=[HYBRID, SYNC])
    async def test_hybrid_over_sync_moves_to_a_thread(self):
        response = await AsyncClient().get("/orm/ping/")
        self.assertNotEqual(response["X-Middleware-Thread"], threading.current_thread().name)

    @override_settings(MIDDLEWARE=[HYBRID, SYNC, ASYNC])
    def test_mixed_stack_in_sync_mode(self):
        response = self.client.get("/orm/ping/")
        self.assertEqual(response.status_code, 200)
        self.assertJSONEqual(response.content, {"ok": True})
