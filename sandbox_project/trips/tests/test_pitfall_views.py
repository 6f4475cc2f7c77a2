"""Chapter 08's views under /pitfalls/: a blocked loop measured and located, a timeout tested
without waiting, the city card, the payment stand-in and the thread-local audit trail."""
import asyncio
import threading
from unittest import mock

from asgiref.sync import sync_to_async
from django.test import AsyncClient, TestCase

from coursekit.lag import LoopLag, ThreadLag, blame
from trips import legacy_audit, pitfall_views
from trips.models import City
from trips.seed import seed


class PitfallViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    async def test_the_blocking_view_holds_the_loop_and_the_stall_points_at_the_helper(self):
        async with LoopLag(stacks=0.1) as lag:
            response = await AsyncClient().get("/pitfalls/costs/blocking/?currency=NOK")
        self.assertEqual(response.status_code, 200)
        self.assertGreaterEqual(lag.max, 0.3 - lag.tick)   # a 0.3 s time.sleep is never shorter (to a tick)
        # A busy machine may add stalls of its own: pick the helper's by its frame.
        stall = next(s for s in lag.stalls if s.where is not None and s.where.name == "load_exchange_rates")
        self.assertGreaterEqual(stall.seconds, 0.3 - lag.tick)
        self.assertTrue(stall.where.line.startswith("time.sleep(0.3)"))

    async def test_the_fixed_view_leaves_the_loop_free(self):
        with ThreadLag() as control:
            async with LoopLag() as lag:
                response = await AsyncClient().get("/pitfalls/costs/?currency=NOK")
        self.assertEqual(response.json(), {"currency": "NOK", "hotel": "4,189.66 EUR"})
        self.assertNotEqual(blame(lag.gaps, control.gaps, 0.1)[0], "blocked")

    async def test_city_card(self):
        card = (await AsyncClient().get("/pitfalls/cards/kyoto/")).json()
        self.assertEqual((card["city"], card["country"], card["rates"]["NOK"]), ("Kyoto", "Japan", 11.6))
        self.assertEqual((await AsyncClient().get("/pitfalls/cards/atlantis/")).status_code, 404)

    async def test_forecast_times_out_without_waiting_for_the_real_budget(self):
        cancelled = asyncio.Event()

        async def never_answers(slug):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

        with mock.patch.object(pitfall_views, "forecast_service", never_answers), \
                mock.patch.object(pitfall_views, "FORECAST_BUDGET", 0.01):
            response = await AsyncClient().get("/pitfalls/forecast/oslo/")
        self.assertEqual((response.status_code, response.json()["error"]), (504, "forecast timed out"))
        self.assertTrue(cancelled.is_set())
        self.assertEqual((await AsyncClient().get("/pitfalls/forecast/oslo/")).json(), {"city": "oslo", "sky": "clear"})

    async def test_payments_are_logged_and_declined_cards_raise(self):
        before = len(pitfall_views.PAYMENTS)
        self.assertEqual(await pitfall_views.pay("ok"), {"card": "ok", "charged": True})
        with self.assertRaises(pitfall_views.PaymentDeclined):
            await pitfall_views.pay("declined")
        cards = [card for card, start, end in pitfall_views.PAYMENTS[before:]]
        self.assertEqual(cards, ["ok", "declined"])
        self.assertTrue(all(end - start >= 0.15 for _, start, end in pitfall_views.PAYMENTS[before:]))

    async def test_audit_reads_the_user_of_its_own_thread(self):
        legacy_audit.clear()

        def on_one_thread(user):
            legacy_audit.set_current_user(user)
            legacy_audit.audit("looked")

        await sync_to_async(on_one_thread)("alice")
        other = threading.Thread(target=legacy_audit.audit, args=("elsewhere",))
        other.start()
        await asyncio.to_thread(other.join)
        self.assertEqual([(e["user"], e["action"]) for e in legacy_audit.ENTRIES],
                         [("alice", "looked"), (None, "elsewhere")])
        legacy_audit.clear()

    async def test_cities_are_there(self):
        self.assertEqual(await City.objects.acount(), 8)
