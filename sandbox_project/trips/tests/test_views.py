from unittest import mock

from django.core.management import CommandError, call_command
from django.test import TestCase

from trips import upstream
from trips.models import Booking, City, Trip
from trips.seed import seed


def fake_fetch(service, slug, timeout=None):
    return {"service": service, "city": slug}


class SeededTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.counts = seed()


class SyncViewTests(SeededTestCase):
    def test_seed_creates_the_demo_data(self):
        self.assertEqual(self.counts, {"cities": 8, "users": 2, "trips": 6, "bookings": 12})
        self.assertEqual(Trip.objects.filter(owner__username="alice").count(), 3)

    def test_home_lists_every_city(self):
        response = self.client.get("/")
        self.assertContains(response, "Reykjavik")
        self.assertContains(response, "/dashboard/lisbon/")

    def test_city_list_is_json(self):
        data = self.client.get("/cities/").json()
        self.assertEqual(len(data["cities"]), 8)
        self.assertEqual(data["cities"][0], {"name": "Buenos Aires", "slug": "buenos-aires", "country": "Argentina"})

    def test_unknown_city_is_404(self):
        self.assertEqual(self.client.get("/cities/atlantis/").status_code, 404)

    def test_dashboard_calls_each_service_once(self):
        with mock.patch.object(upstream, "fetch_sync", side_effect=fake_fetch) as fetch:
            data = self.client.get("/dashboard/oslo/").json()
        self.assertEqual([c.args for c in fetch.call_args_list],
                         [("weather", "oslo"), ("flights", "oslo"), ("hotels", "oslo")])
        self.assertEqual(data["flights"], {"service": "flights", "city": "oslo"})

    def test_seed_command_refuses_a_database_with_data(self):
        with self.assertRaises(CommandError):
            call_command("seed")

    def test_amount_cannot_go_negative(self):
        from django.db import IntegrityError

        booking = Booking.objects.first()
        booking.amount = -1
        with self.assertRaises(IntegrityError):
            booking.save()


class AsyncTests(SeededTestCase):
    async def test_async_orm_sees_the_seed(self):
        self.assertEqual(await City.objects.acount(), 8)
        names = [c.name async for c in City.objects.filter(country="Japan")]
        self.assertEqual(names, ["Kyoto"])

    async def test_sync_view_served_through_the_asgi_handler(self):
        response = await self.async_client.get("/cities/kyoto/")
        self.assertEqual(response.json()["trips"], 1)

    async def test_health(self):
        response = await self.async_client.get("/health/")
        self.assertEqual(response.json(), {"status": "ok"})


class UpstreamClientTests(TestCase):
    def test_http_errors_become_upstream_errors(self):
        import urllib.error

        error = urllib.error.HTTPError("http://x", 503, "unavailable", {}, None)
        with mock.patch("urllib.request.urlopen", side_effect=error):
            with self.assertRaisesMessage(upstream.UpstreamError, "hotels: HTTP 503"):
                upstream.fetch_sync("hotels", "oslo")

    def test_service_url_uses_the_setting(self):
        with self.settings(UPSTREAM_BASE_URL="http://127.0.0.1:9999/"):
            self.assertEqual(upstream.service_url("weather", "oslo"), "http://127.0.0.1:9999/weather/oslo")
