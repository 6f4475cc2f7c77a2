"""Wrong and right answers for chapter 06's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "06"

# The solution's consumer, with one method swapped: most wrong answers differ in one place.
CITY_HANDLERS = '''
    async def city_joined(self, event):
        await self.send_json({"event": "joined", "user": event["user"]})

    async def city_said(self, event):
        await self.send_json({"event": "said", "user": event["user"], "text": event["text"]})

    async def city_left(self, event):
        await self.send_json({"event": "left", "user": event["user"]})
'''
CITY_CONNECT = '''
    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.username, self.group = user.username, f"city-{slug}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.channel_layer.group_send(self.group, {"type": "city.joined", "user": self.username})
'''
CITY_RECEIVE = '''
    async def receive_json(self, content, **kwargs):
        await self.channel_layer.group_send(self.group, {"type": "city.said", "user": self.username,
                                                         "text": content["text"]})
'''
CITY_DISCONNECT = '''
    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_send(self.group, {"type": "city.left", "user": self.username})
'''


def city(connect=CITY_CONNECT, receive=CITY_RECEIVE, disconnect=CITY_DISCONNECT, handlers=CITY_HANDLERS,
         base="AsyncJsonWebsocketConsumer"):
    return f"class CityRoomConsumer({base}):\n    group = None\n{connect}{receive}{disconnect}{handlers}"


CITY = [
    Case("city-room", "ch06.W003", city(connect='''
    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.username, self.group = self.scope["user"].username or "guest", f"city-{slug}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.channel_layer.group_send(self.group, {"type": "city.joined", "user": self.username})
'''), "anonymous users let in"),
    Case("city-room", "ch06.W004", city(connect=CITY_CONNECT.replace(
        "await self.close(code=4401)", "await self.accept()\n            await self.close(code=4401)")),
        "accepts, then closes"),
    Case("city-room", "ch06.W008", city(receive='''
    async def receive_json(self, content, **kwargs):
        await self.send_json({"event": "said", "user": self.username, "text": content["text"]})
'''), "answers the sender only"),
    Case("city-room", "ch06.W009", city(connect=CITY_CONNECT.replace('f"city-{slug}"', '"city-chat"')),
         "one group for every city"),
    Case("city-room", "ch06.W010", city(disconnect='''
    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
'''), "leaves without a word"),
    Case("city-room", "ch06.W011", city(disconnect='''
    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_send(self.group, {"type": "city.left", "user": self.username})
'''), "never leaves the group"),
    Case("city-room", "ch06.W012", city(receive=CITY_RECEIVE.replace('"city.said"', '"said"')),
         "a type whose handler does not exist"),
    Case("city-room", "ch06.W013", city(connect=CITY_CONNECT.replace(
        'await self.channel_layer.group_send(self.group, {"type": "city.joined"',
        'self.channel_layer.group_send(self.group, {"type": "city.joined"')), "group_send not awaited"),
    Case("city-room", "ch06.W002", '''
from channels.generic.websocket import JsonWebsocketConsumer
class CityRoomConsumer(JsonWebsocketConsumer):
    def connect(self):
        self.accept()
''', "a sync consumer"),
    Case("city-room", "ck.E004", city(connect=CITY_CONNECT.replace(
        "if not await City.objects.filter(slug=slug).aexists():", "if not City.objects.filter(slug=slug).exists():")),
        "the sync ORM in connect()"),
    Case("city-room", PASS, '''
class CityRoomConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    @property
    def room(self):
        return "city-" + self.scope["url_route"]["kwargs"]["slug"]

    async def connect(self):
        me = self.scope["user"]
        code = None
        if me.is_anonymous:
            code = 4401
        elif not await City.objects.filter(slug=self.scope["url_route"]["kwargs"]["slug"]).aexists():
            code = 4404
        if code:
            return await self.close(code=code)
        self.me = me.get_username()
        await self.channel_layer.group_add(self.room, self.channel_name)
        self.joined = True
        await self.accept()
        await self.tell("city.joined")

    async def tell(self, kind, **extra):
        await self.channel_layer.group_send(self.room, {"type": kind, "user": self.me, **extra})

    async def receive_json(self, content, **kwargs):
        if content.get("text"):
            await self.tell("city.said", text=content["text"])

    async def disconnect(self, code):
        if self.joined:
            await self.channel_layer.group_discard(self.room, self.channel_name)
            await self.tell("city.left")

    async def city_joined(self, event):
        await self.send_json({"event": "joined", "user": event["user"]})

    async def city_said(self, event):
        await self.send_json({"event": "said", "user": event["user"], "text": event["text"]})

    async def city_left(self, event):
        await self.send_json({"event": "left", "user": event["user"]})
''', "a property for the group, one helper to tell the room"),
]

PUSH_OK = '''
async def add_booking(request, trip_id):
    trip = await Trip.objects.filter(pk=trip_id).afirst()
    if trip is None:
        return JsonResponse({"error": "no such trip"}, status=404)
    fields = {name: request.POST[name] for name in ("reference", "kind", "amount")}
    await Booking.objects.acreate(trip=trip, **fields)
    await get_channel_layer().group_send(group_name(trip_id), {"type": "booking.added", **fields})
    return JsonResponse({"reference": fields["reference"]}, status=201)
'''

PUSH = [
    Case("push-booking", "ck.E005", PUSH_OK.replace(
        "await get_channel_layer().group_send(group_name(trip_id),",
        "async_to_sync(get_channel_layer().group_send)(group_name(trip_id),"), "async_to_sync in an async view"),
    Case("push-booking", "ch06.W013", PUSH_OK.replace(
        "await get_channel_layer().group_send(", "get_channel_layer().group_send("), "group_send not awaited"),
    Case("push-booking", "ch06.W013", '''
from django.shortcuts import get_object_or_404
def add_booking(request, trip_id):
    trip = get_object_or_404(Trip, pk=trip_id)
    fields = {name: request.POST[name] for name in ("reference", "kind", "amount")}
    Booking.objects.create(trip=trip, **fields)
    get_channel_layer().group_send(group_name(trip_id), {"type": "booking.added", **fields})
    return JsonResponse({"reference": fields["reference"]}, status=201)
''', "a sync view calling group_send bare"),
    Case("push-booking", "ch06.W015", PUSH_OK.replace("group_name(trip_id)", 'f"trip_{trip_id}"'),
         "trip_<id> instead of trip-<id>"),
    Case("push-booking", "ch06.W015", PUSH_OK.replace("group_name(trip_id)", 'f"trip-{trip.title}"'.replace(
        "{trip.title}", "{trip.owner_id}")), "the owner's id in the group name"),
    Case("push-booking", "ch06.W016", PUSH_OK.replace('"booking.added"', '"booking-added"'), "a dashed type"),
    Case("push-booking", "ch06.W017", PUSH_OK.replace(
        '{"type": "booking.added", **fields}', '{"type": "booking.added", **fields, "amount": Decimal(fields["amount"])}')
        .replace("async def add_booking", "from decimal import Decimal\nasync def add_booking"), "a Decimal amount"),
    Case("push-booking", "ch06.W019", PUSH_OK.replace(
        "trip = await Trip.objects.filter(pk=trip_id).afirst()", "trip = await Trip.objects.aget(pk=trip_id)"),
        "aget() with no 404"),
    Case("push-booking", "ch06.W018", PUSH_OK.replace(
        "    await Booking.objects.acreate(trip=trip, **fields)\n", ""), "the booking never saved"),
    Case("push-booking", "ck.E004", PUSH_OK.replace(
        "trip = await Trip.objects.filter(pk=trip_id).afirst()", "trip = Trip.objects.filter(pk=trip_id).first()"),
        "the sync ORM in an async view"),
    Case("push-booking", PASS, '''
from django.shortcuts import get_object_or_404
def add_booking(request, trip_id):
    trip = get_object_or_404(Trip, pk=trip_id)
    booking = Booking.objects.create(trip=trip, reference=request.POST["reference"], kind=request.POST["kind"],
                                     amount=request.POST["amount"])
    async_to_sync(get_channel_layer().group_send)(f"trip-{trip.pk}", {
        "type": "booking_added", "reference": booking.reference, "kind": booking.kind,
        "amount": request.POST["amount"], "trip": trip.pk})
    return JsonResponse({"reference": booking.reference}, status=201)
''', "a sync view with async_to_sync, and an extra key"),
]

SNAPSHOT_OK = '''
class TripSnapshotConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        trip = await (Trip.objects.select_related("city", "owner")
                      .filter(pk=self.scope["url_route"]["kwargs"]["trip_id"], owner=user).afirst())
        if trip is None:
            await self.close(code=4404)
            return
        bookings = [{"reference": b.reference, "kind": b.kind, "status": b.status}
                    async for b in trip.bookings.order_by("reference")]
        await self.accept()
        await self.send_json({"trip": trip.title, "city": trip.city.name, "owner": trip.owner.username,
                              "bookings": bookings})
'''

SNAPSHOT = [
    Case("trip-snapshot", "ch06.W020", SNAPSHOT_OK.replace('Trip.objects.select_related("city", "owner")',
                                                           "Trip.objects"), "city and owner read lazily"),
    Case("trip-snapshot", "ch06.W021", SNAPSHOT_OK.replace(
        'async for b in trip.bookings.order_by("reference")]', 'for b in trip.bookings.order_by("reference")]'),
        "a plain for over the bookings"),
    Case("trip-snapshot", "ch06.W021", SNAPSHOT_OK.replace(
        '''        bookings = [{"reference": b.reference, "kind": b.kind, "status": b.status}
                    async for b in trip.bookings.order_by("reference")]''',
        '''        rows = await database_sync_to_async(trip.bookings.order_by)("reference")
        bookings = [{"reference": b.reference, "kind": b.kind, "status": b.status} for b in rows]'''),
        "a lazy QuerySet out of database_sync_to_async"),
    Case("trip-snapshot", "ch06.W022", SNAPSHOT_OK.replace(", owner=user).afirst()", ").afirst()"),
         "no owner check"),
    Case("trip-snapshot", "ch06.W023", SNAPSHOT_OK.replace(
        ".filter(pk=self.scope[\"url_route\"][\"kwargs\"][\"trip_id\"], owner=user).afirst())",
        ".aget(pk=self.scope[\"url_route\"][\"kwargs\"][\"trip_id\"], owner=user))"), "aget() and DoesNotExist"),
    Case("trip-snapshot", "ch06.W014", SNAPSHOT_OK.replace(
        'async for b in trip.bookings.order_by("reference")]', 'async for b in Booking.objects.all()]'),
        "every booking, not the trip's"),
    Case("trip-snapshot", "ch06.W004", SNAPSHOT_OK.replace("await self.close(code=4404)", "await self.close(code=4403)"),
         "4403 for someone else's trip"),
    Case("trip-snapshot", "ch06.W002", '''
from channels.generic.websocket import JsonWebsocketConsumer
class TripSnapshotConsumer(JsonWebsocketConsumer):
    def connect(self):
        trip = Trip.objects.select_related("city", "owner").get(pk=self.scope["url_route"]["kwargs"]["trip_id"])
        self.accept()
        self.send_json({"trip": trip.title, "city": trip.city.name, "owner": trip.owner.username, "bookings": []})
''', "a sync consumer"),
    Case("trip-snapshot", PASS, '''
class TripSnapshotConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        if self.scope["user"].is_anonymous:
            return await self.close(code=4401)
        snapshot = await self.read(self.scope["url_route"]["kwargs"]["trip_id"], self.scope["user"].pk)
        if snapshot is None:
            return await self.close(code=4404)
        await self.accept()
        await self.send_json(snapshot)

    @database_sync_to_async
    def read(self, trip_id, user_id):
        trip = Trip.objects.filter(pk=trip_id, owner_id=user_id).first()
        if trip is None:
            return None
        return {"trip": trip.title, "city": trip.city.name, "owner": trip.owner.username,
                "bookings": [{"reference": b.reference, "kind": b.kind, "status": b.status}
                             for b in trip.bookings.order_by("reference")]}
''', "one sync function under database_sync_to_async"),
]

TEST_ANON = '''
    anonymous = await room(lisbon.pk)
    assert await anonymous.connect() == (False, 4401)
'''
TEST_JOIN = '''
    alice, bob = await room(lisbon.pk, "alice"), await room(lisbon.pk, "bob")
    assert (await alice.connect())[0]
    assert await alice.receive_json_from() == {"event": "join", "user": "alice"}
    assert (await bob.connect())[0]
    assert await bob.receive_json_from() == {"event": "join", "user": "bob"}
    assert await alice.receive_json_from() == {"event": "join", "user": "bob"}
'''
TEST_FAR = '''
    far = await room(reykjavik.pk, "bob")
    assert (await far.connect())[0]
    assert await far.receive_json_from() == {"event": "join", "user": "bob"}
'''
TEST_NOTE = '''
    await bob.send_json_to({"text": "Tram 28 at 9?"})
    note = {"event": "message", "user": "bob", "text": "Tram 28 at 9?"}
    assert await alice.receive_json_from() == note
    assert await bob.receive_json_from() == note
'''
TEST_FAR_QUIET = '''
    assert await far.receive_nothing()
'''
TEST_LEAVE = '''
    await bob.disconnect()
    assert await alice.receive_json_from() == {"event": "leave", "user": "bob"}
'''


def learner_test(*parts):
    return "async def test_trip_room(room):" + "".join(parts)


TESTS = [
    Case("room-test", "ch06.W032", learner_test(TEST_ANON), "only the anonymous case"),
    Case("room-test", "ch06.W031", learner_test(TEST_JOIN, TEST_FAR, TEST_NOTE, TEST_FAR_QUIET, TEST_LEAVE),
         "everything but the anonymous case"),
    Case("room-test", "ch06.W033", learner_test(TEST_ANON, TEST_JOIN, TEST_FAR, TEST_NOTE, TEST_FAR_QUIET),
         "no leave"),
    Case("room-test", "ch06.W034", learner_test(TEST_ANON, TEST_JOIN, TEST_NOTE, TEST_LEAVE), "no other room"),
    Case("room-test", "ch06.W032", learner_test(TEST_ANON, TEST_JOIN, '''
    await bob.send_json_to({"text": "hi"})
    assert await bob.receive_json_from() == {"event": "message", "user": "bob", "text": "hi"}
'''), "only the sender's copy checked"),
    Case("room-test", "ch06.W030", learner_test(TEST_ANON, '''
    alice, bob = await room(lisbon.pk, "alice"), await room(lisbon.pk, "bob")
    await alice.connect()
    await bob.connect()
    await bob.send_json_to({"text": "hi"})
    assert await alice.receive_json_from() == {"event": "message", "user": "bob", "text": "hi"}
'''), "forgets that joins come first"),
    Case("room-test", "ch06.W030", learner_test('''
    anonymous = await room(lisbon.pk)
    assert await anonymous.connect() == (False, 4403)
'''), "the wrong close code expected"),
    Case("room-test", "ck.W002", learner_test('''
    alice = await room(lisbon.pk, "alice")
    connected, _ = alice.connect()
    assert connected
'''), "connect() not awaited"),
    Case("room-test", "ck.W005", "def test_trip_room(room):\n    pass\n", "a plain def"),
    Case("room-test", PASS, '''
async def test_trip_room(room):
    async def member(trip, user):
        c = await room(trip, user)
        ok, _ = await c.connect()
        assert ok, f"{user} refused"
        return c

    nobody = await room(reykjavik.pk)
    assert (await nobody.connect())[1] == 4401
    far = await member(reykjavik.pk, "alice")
    alice = await member(lisbon.pk, "alice")
    bob = await member(lisbon.pk, "bob")
    seen = [await far.receive_json_from(), await alice.receive_json_from(), await alice.receive_json_from(),
            await bob.receive_json_from()]
    assert [m["user"] for m in seen] == ["alice", "alice", "bob", "bob"]
    await alice.send_json_to({"text": "x"})
    got = await asyncio.gather(alice.receive_json_from(), bob.receive_json_from())
    assert all(m == {"event": "message", "user": "alice", "text": "x"} for m in got)
    assert await far.receive_nothing(timeout=0.3)
    await alice.disconnect()
    assert (await bob.receive_json_from())["event"] == "leave"
''', "a helper, gather, and a quieter wait"),
]

CASES = CITY + PUSH + SNAPSHOT + TESTS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
