"""Tests for the trip room (chapter 06): routing, the consumer, and the views that push to it.

WebsocketCommunicator drives the project's whole ASGI application in-process (origin check,
session cookie, URL router), as a server would.
"""
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.test import AsyncClient, TestCase, override_settings
from django.urls import resolve

from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.routing import ProtocolTypeRouter
from channels.testing import WebsocketCommunicator
from tripboard.asgi import application
from trips import consumers
from trips.models import Booking, City, Trip
from trips.routing import websocket_urlpatterns

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def session_cookie(user):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
class TripRoomTests(TestCase):
    def setUp(self):
        channel_layers.backends.pop("default", None)  # a fresh in-memory layer for every test

    @classmethod
    def setUpTestData(cls):
        cls.alice = User.objects.create_user("alice", password="wonderland")
        cls.bob = User.objects.create_user("bob", password="builder")
        city = City.objects.create(name="Lisbon", slug="lisbon", country="Portugal")
        cls.trip = Trip.objects.create(owner=cls.alice, city=city, title="Trams", starts_on="2027-03-01",
                                       ends_on="2027-03-05")
        cls.other = Trip.objects.create(owner=cls.bob, city=city, title="Fado", starts_on="2027-04-01",
                                        ends_on="2027-04-05")
        cls.booking = Booking.objects.create(trip=cls.trip, kind="hotel", reference="HT9001", amount=300)

    def room(self, trip_id, user=None, origin=b"http://127.0.0.1"):
        headers = [(b"origin", origin)] if origin else []
        if user is not None:
            headers.append((b"cookie", session_cookie(user).encode()))
        return WebsocketCommunicator(application, f"/ws/trips/{trip_id}/", headers=headers)

    async def joined(self, user, trip=None):
        communicator = await database_sync_to_async(self.room)((trip or self.trip).pk, user)
        connected, _ = await communicator.connect()
        self.assertTrue(connected)
        self.assertEqual(await communicator.receive_json_from(), {"event": "join", "user": user.username})
        return communicator

    def test_routing(self):
        self.assertIsInstance(application, ProtocolTypeRouter)
        self.assertEqual(set(application.application_mapping), {"http", "websocket"})
        self.assertEqual(str(websocket_urlpatterns[0].pattern), "ws/trips/<int:trip_id>/")
        self.assertIs(websocket_urlpatterns[0].callback.consumer_class, consumers.TripRoomConsumer)
        self.assertEqual(resolve("/live/bookings/HT9001/cancel/").url_name, "live-cancel")

    async def test_members_hear_each_other_and_other_rooms_do_not(self):
        alice = await self.joined(self.alice)
        bob = await self.joined(self.bob)
        self.assertEqual(await alice.receive_json_from(), {"event": "join", "user": "bob"})
        elsewhere = await self.joined(self.bob, self.other)
        await bob.send_json_to({"text": "  see you at 9  "})
        expected = {"event": "message", "user": "bob", "text": "see you at 9"}
        self.assertEqual(await alice.receive_json_from(), expected)
        self.assertEqual(await bob.receive_json_from(), expected)
        self.assertTrue(await elsewhere.receive_nothing())
        await bob.send_json_to({"text": "   "})  # blank notes are not relayed
        self.assertTrue(await alice.receive_nothing())
        for communicator in (alice, bob, elsewhere):
            await communicator.disconnect()

    async def test_leaving_is_announced_and_the_group_forgets_the_channel(self):
        alice = await self.joined(self.alice)
        bob = await self.joined(self.bob)
        await alice.receive_json_from()
        await bob.disconnect()
        self.assertEqual(await alice.receive_json_from(), {"event": "leave", "user": "bob"})
        self.assertEqual(len(get_channel_layer().groups[f"trip-{self.trip.pk}"]), 1)
        await alice.disconnect()
        self.assertNotIn(f"trip-{self.trip.pk}", get_channel_layer().groups)

    async def test_refusals(self):
        cases = {
            "anonymous": (self.trip.pk, None, b"http://127.0.0.1", consumers.NOT_LOGGED_IN),
            "no such trip": (999_999, self.alice, b"http://127.0.0.1", consumers.NO_SUCH_TRIP),
            "foreign origin": (self.trip.pk, self.alice, b"https://evil.example", 1000),
            "no origin": (self.trip.pk, self.alice, None, 1000),
        }
        for name, (trip_id, user, origin, code) in cases.items():
            with self.subTest(name):
                communicator = await database_sync_to_async(self.room)(trip_id, user, origin)
                self.assertEqual(await communicator.connect(), (False, code))

    async def test_group_message_without_handler_ends_the_consumer(self):
        alice = await self.joined(self.alice)
        await get_channel_layer().group_send(f"trip-{self.trip.pk}", {"type": "trip.wave"})
        with self.assertRaisesMessage(ValueError, "No handler for message type trip.wave"):
            await alice.receive_json_from()

    async def test_cancel_views_push_to_the_trip_group(self):
        for suffix in ("cancel/", "cancel-sync/"):
            with self.subTest(suffix):
                await Booking.objects.filter(pk=self.booking.pk).aupdate(status="confirmed")
                alice = await self.joined(self.alice)
                client = AsyncClient()
                await client.aforce_login(self.alice)
                response = await client.post(f"/live/bookings/HT9001/{suffix}")
                self.assertEqual(response.status_code, 200)
                self.assertEqual(await alice.receive_json_from(),
                                 {"event": "booking", "reference": "HT9001", "status": "cancelled"})
                self.assertEqual((await Booking.objects.aget(pk=self.booking.pk)).status, "cancelled")
                await alice.disconnect()

    async def test_cancel_needs_the_trips_owner(self):
        client = AsyncClient()
        await client.aforce_login(self.bob)
        self.assertEqual((await client.post("/live/bookings/HT9001/cancel/")).status_code, 404)
        self.assertEqual((await client.post("/live/bookings/HT9001/cancel-sync/")).status_code, 404)
        self.assertEqual((await AsyncClient().post("/live/bookings/HT9001/cancel/")).status_code, 302)

    def test_room_page(self):
        self.assertEqual(self.client.get(f"/live/trips/{self.trip.pk}/").status_code, 302)
        self.client.force_login(self.alice)
        page = self.client.get(f"/live/trips/{self.trip.pk}/")
        self.assertContains(page, f"/ws/trips/{self.trip.pk}/")
        self.assertContains(self.client.get("/live/login/"), "Log in")

    def test_logging_in_without_next_lands_on_a_page_that_exists(self):
        response = self.client.post("/live/login/", {"username": "bob", "password": "builder"}, follow=True)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.redirect_chain[-1][0], "/")
